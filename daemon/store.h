/* SPDX-License-Identifier: Apache-2.0 */
/* store.h: gpuvisord's state in SQLite.
 *
 * One database file, <state>/gpuvisord.db, in WAL mode with synchronous=NORMAL (a commit is durable
 * against a crash of the daemon, and against power loss up to the last checkpoint) and a busy
 * timeout, so that a `sqlite3` shell reading it never makes the daemon fail. The schema carries
 * its version in schema_version and is brought up to date at open by ordered migrations, each in
 * its own transaction. Every change the API makes is one transaction: the caller brackets its
 * writes with gvd_store_begin and gvd_store_commit (or rollback). Statements are prepared once.
 * The store serializes its users with its own mutex; it knows the model's structs but nothing of
 * HTTP. */
#ifndef GVD_STORE_H
#define GVD_STORE_H

#include <stdint.h>

#include "core/error.h"
#include "daemon/gvd.h"

struct gvd_store;

/* The settings key of the admin token's hash. */
#define GVD_SETTING_ADMIN "admin_token_hash"

/* Open (creating) the database at path and migrate it. Returns 0 or -EIO with SQLite's message. */
int gvd_store_open(struct gvd_store **out, const char *path, struct gv_error *err);
void gvd_store_close(struct gvd_store *s);

/* The schema version this code writes. */
int gvd_store_version(void);

/* A transaction: begin takes the store's mutex, commit and rollback release it. */
int gvd_store_begin(struct gvd_store *s, struct gv_error *err);
int gvd_store_commit(struct gvd_store *s, struct gv_error *err);
void gvd_store_rollback(struct gvd_store *s);

/* Everything in the database, into the model (at start; the caller holds d->lock). */
int gvd_store_load(struct gvd_store *s, struct gvd *d, struct gv_error *err);

/* Within a transaction. */
int gvd_store_setting_put(struct gvd_store *s, const char *key, const char *value,
                          struct gv_error *err);
int gvd_store_tenant_put(struct gvd_store *s, const struct gvd_tenant *t, bool create,
                         struct gv_error *err);
int gvd_store_tenant_delete(struct gvd_store *s, const char *name, struct gv_error *err);
/* Record that an id was issued (ids are never reused); -EEXIST if it was before. */
int gvd_store_id_claim(struct gvd_store *s, const char *id, struct gv_error *err);
int gvd_store_instance_put(struct gvd_store *s, const struct gvd_instance *inst, bool create,
                           struct gv_error *err);
int gvd_store_instance_delete(struct gvd_store *s, const char *id, struct gv_error *err);
int gvd_store_profile_put(struct gvd_store *s, const struct gvd_profile *p, struct gv_error *err);
int gvd_store_profile_delete(struct gvd_store *s, const char *name, struct gv_error *err);
/* A GPU's settings: its mode and its time slice (ns; 0 for none of its own). */
int gvd_store_gpu_put(struct gvd_store *s, const char *uuid, const char *mode, uint64_t timeslice,
                      struct gv_error *err);
/* A host definition (host.c): put adds or replaces by id (the GPU's address, the vGPU's id). */
int gvd_store_host_passthrough(struct gvd_store *s, const struct gvh_passthrough *p,
                               struct gv_error *err);
int gvd_store_host_vgpu(struct gvd_store *s, const struct gvh_vgpu *v, struct gv_error *err);
int gvd_store_host_delete(struct gvd_store *s, const char *id, struct gv_error *err);
/* Every host definition into out (at start; outside a transaction). A row the library cannot read
 * is logged and skipped. */
int gvd_store_host_load(struct gvd_store *s, struct gvh_state *out, struct gv_error *err);

/* An event; detail is JSON text (or NULL). *seq gets its sequence number. */
int gvd_store_event(struct gvd_store *s, int64_t time, const char *actor, const char *tenant,
                    const char *action, const char *target, const char *detail, int64_t *seq,
                    struct gv_error *err);

/* Outside a transaction (takes the mutex itself): events after `after`, at most limit of them, of
 * one tenant or (tenant NULL) all; fn is called for each in order. */
struct gvd_event {
    int64_t seq, time;
    const char *actor, *tenant, *action, *target, *detail;
};
int gvd_store_events(struct gvd_store *s, const char *tenant, int64_t after, unsigned limit,
                     void (*fn)(const struct gvd_event *e, void *arg), void *arg,
                     struct gv_error *err);
/* The number of the last event written (0: none yet). */
int gvd_store_events_last(struct gvd_store *s, int64_t *seq, struct gv_error *err);

#endif
