/* SPDX-License-Identifier: Apache-2.0 */
/* gvd.h: gpuvisord's model of the pool and the daemon that holds it.
 *
 * The database (store.c) is the truth; these structs are its copy in memory, written through: a
 * change is committed to the database first and applied here only once the commit succeeded, so
 * that a crash at any point loses nothing and memory never holds what the database lacks. Reads
 * (every GET, the local socket's joins) are served from here under a read lock; changes take the
 * write lock for the whole check-commit-apply sequence, which makes each one atomic with respect
 * to every other request.
 *
 * Invariants: instance ids are unique and never reused; an instance's (tenant, name) is unique when
 * the name is not empty; every instance's tenant exists; d->instances is in creation order; each
 * live instance has its region mapped (inst->mapped) unless re-attaching it failed at start. */
#ifndef GVD_GVD_H
#define GVD_GVD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/catalogue.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/placement.h"
#include "core/sha256.h"
#include "core/uuid.h"
#include "daemon/request.h"
#include "host/host.h"
#include "region/region.h"

struct gvd;
struct gvd_store;
struct gvd_http;
struct gvd_local;
struct gvd_history;
struct gvd_inst_history;
struct gvd_streams;

/* --- Options (config.c). */

struct gvd_config {
    char listen_host[256];
    char listen_port[16];
    char socket[4096];
    char state[4096];
    char sim[1024]; /* --sim MODELS, "" when not simulating */
    enum gv_place_policy placement;
    unsigned threads;           /* HTTP worker threads */
    char sysfs_root[PATH_MAX];  /* --sysfs-root; "": GPUVISOR_SYSFS_ROOT, else / */
    char config_root[PATH_MAX]; /* --config-root; "": GPUVISOR_CONFIG_ROOT, else / */
    uint64_t timeslice;         /* --timeslice, ns: the turn on a GPU that has none of its own */
};

/* Fill *cfg from the command line (defaults first: see docs/daemon.md). Returns 0, 1 when --help
 * or --version printed what was asked (exit 0), or -EINVAL with a message. */
int gvd_config_parse(int argc, char **argv, struct gvd_config *cfg, struct gv_error *err);

/* --- The model. */

struct gvd_quota {
    bool has_memory, has_compute, has_instances;
    uint64_t memory;
    uint32_t compute; /* basis points */
    uint32_t instances;
};

struct gvd_tenant {
    char name[GVD_NAME_MAX + 1];
    char token_hash[GV_SHA256_HEX];
    struct gvd_members_req users, groups;
    struct gvd_quota quota;
    int64_t created; /* unix seconds */
};

struct gvd_gpu {
    unsigned index; /* NVML index */
    uint8_t uuid[GV_UUID_LEN];
    char uuid_text[GV_UUID_TEXT];
    char product[96];             /* as the driver names it */
    const struct gv_model *model; /* NULL when the catalogue does not know it */
    uint64_t memory_total;
    char pci[GVH_BDF_LEN];  /* its PCI address ("0000:41:00.0"); "" when NVML does not say */
    enum gvd_gpu_mode mode; /* as the admin set it (PATCH /v1/gpus/{index}) */
    enum gvd_gpu_mode host; /* passthrough or vgpu-parent when the host says so, else sliced */
    /* Passthrough or vgpu-parent while a change that makes it so is under way (host.c), so that no
     * instance is placed on the GPU between the check and the change; else sliced. */
    enum gvd_gpu_mode host_pending;
    /* The length of a turn on it (ns), as the admin set it (PATCH); 0: the daemon's, --timeslice */
    uint64_t timeslice;
};

/* The mode that counts: the host's (a GPU given to VMs or carrying vGPUs) over the admin's. */
enum gvd_gpu_mode gvd_gpu_mode(const struct gvd_gpu *g);

/* The time slice that counts on GPU g (ns): its own, else the daemon's default. */
uint64_t gvd_gpu_timeslice(const struct gvd *d, const struct gvd_gpu *g);

/* Tell the local socket's token grants GPU g's time slice (at start, after a change). */
void gvd_gpu_timeslice_apply(const struct gvd *d, const struct gvd_gpu *g);

/* A GPU the host shows on its PCI bus that NVML does not (it is on vfio-pci, given to VMs). */
struct gvd_host_gpu {
    char pci[GVH_BDF_LEN];
    char model[GVH_NAME_LEN];
    enum gvh_mode mode;
};

struct gvd_profile {
    char name[GVD_NAME_MAX + 1];
    uint64_t memory;
    uint32_t share;
    enum gv_policy policy; /* what instances made from it get unless they say otherwise */
    enum gv_priority priority;
    int64_t created;
};

struct gvd_instance {
    char id[GVD_ID_LEN + 1];
    char name[GVD_NAME_MAX + 1]; /* "" when none */
    char tenant[GVD_NAME_MAX + 1];
    uint8_t uuid[GV_UUID_LEN];      /* its GPU */
    int gpu;                        /* index into d->gpus, -1 when that GPU is not present now */
    char profile[GVD_NAME_MAX + 1]; /* "" when made from memory and compute */
    uint64_t memory;
    uint32_t share; /* basis points; 0 = no compute limit */
    enum gv_policy policy;
    enum gv_priority priority;
    int64_t created_ns; /* CLOCK_REALTIME */
    struct gvr_region region;
    bool mapped;
    char *json; /* the instance as GET /v1/instances lists it; rebuilt on every change */
    size_t json_len;
    struct gvd_inst_history *history; /* its last hour (history.c); NULL until its first sample */
};

/* One cached body of GET /v1/instances, shared by the responses that send it (instances.c). */
struct gvd_listing;
struct gvd_listing *gvd_listing_next(const struct gvd_listing *l);
void gvd_listing_unref(struct gvd_listing *l); /* drop one reference */

struct gvd {
    struct gvd_config cfg;
    char run_dir[4096];
    char instances_dir[4096];
    int instances_fd; /* <run>/instances, for openat */
    int state_fd;     /* the state directory, flocked while the daemon runs */
    uid_t uid;        /* the daemon's own user: admin on the local socket */
    struct gvd_store *store;

    pthread_rwlock_t lock; /* the model below */
    struct gvd_gpu gpus[GV_MAX_GPUS];
    unsigned ngpus;
    struct gvd_tenant **tenants;
    size_t ntenants, cap_tenants;
    struct gvd_instance **instances;
    size_t ninstances, cap_instances;
    struct gvd_profile **profiles;
    size_t nprofiles, cap_profiles;
    char admin_hash[GV_SHA256_HEX];
    struct gvh_ctx host;         /* the roots the host library works under */
    struct gvh_state host_state; /* passthrough and vGPU definitions: the database's copy */
    /* Held across each change of the host (a driver's unbind can take a second), without the
     * model's lock, so that token grants and the API go on meanwhile. host_state changes only under
     * both: holding this one alone, it can be read. */
    pthread_mutex_t host_lock;
    struct gvd_host_gpu *host_gpus; /* GPUs only the host lists, as of the last refresh */
    size_t nhost_gpus;
    uint64_t generation; /* grows with every change of an instance: invalidates listings */

    pthread_mutex_t listing_lock; /* the cache of listings */
    struct gvd_listing *listings;

    struct gvd_http *http;
    struct gvd_local *local;
    int unix_fd;
    pthread_t reaper;
    bool reaper_started;
    struct gvd_history *history; /* the GPUs' last hour, and the lock of every history */
    struct gvd_streams *streams; /* the open live streams (stream.c) */
    pthread_t sampler;
    bool sampler_started;
    atomic_bool stopping;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
};

/* --- The GPUs (inventory.c). */

/* Read the GPUs from NVML (the simulator's with cfg.sim) into d->gpus. Refuses (-ENOENT, with a
 * message that says to use --sim) when there is no driver. */
int gvd_inventory_load(struct gvd *d, struct gv_error *err);

/* --- The host: passthrough and vendor vGPUs (host.c). */

/* At start, before the GPUs are read: load the definitions from the database, import those of the
 * standalone state file and mdevctl that it lacks, and apply them all (logged; a failure does not
 * stop the daemon). */
int gvd_host_start(struct gvd *d, struct gv_error *err);

/* Read again which GPUs the host gives to VMs or vGPUs (each GPU's host mode, and the GPUs only the
 * host lists). Write lock held, or at start. */
void gvd_host_refresh(struct gvd *d);

void gvd_host_stop(struct gvd *d);

/* --- Who is asking (auth.c). */

enum gvd_role { GVD_ROLE_ADMIN, GVD_ROLE_TENANT };

struct gvd_caller {
    enum gvd_role role;
    const struct gvd_tenant *tenant; /* GVD_ROLE_TENANT; valid while the lock is held */
    char actor[GVD_NAME_MAX + 16];   /* for events: "admin", "tenant:NAME", "uid:N" */
};

#define GVD_TOKEN_PREFIX "gvt_"
#define GVD_TOKEN_LEN    47 /* "gvt_" and 43 characters of base64url */

/* A new token (GVD_TOKEN_LEN characters and a terminator) and its hash. */
int gvd_token_new(char token[GVD_TOKEN_LEN + 1], char hash[GV_SHA256_HEX], struct gv_error *err);

/* The hash of a token as it is stored. */
void gvd_token_hash(const char *token, char hash[GV_SHA256_HEX]);

/* Who holds this bearer token (the text after "Bearer "): 0 and *who, or -EACCES. Lock held. */
int gvd_auth_token(struct gvd *d, const char *token, struct gvd_caller *who);

/* Who a local-socket peer is, without a token: uid 0 and the daemon's uid are admin, else the one
 * tenant the user belongs to. -EACCES with a message otherwise. Lock held. */
int gvd_auth_peer(struct gvd *d, const struct ucred *cred, struct gvd_caller *who,
                  struct gv_error *err);

/* May this Unix identity act for tenant t (join its instances)? Lock held. */
bool gvd_tenant_has(const struct gvd_tenant *t, uid_t uid, gid_t gid);

/* Create <state>/admin.token on first start (or when it is gone) and load the admin's hash. */
int gvd_admin_token(struct gvd *d, struct gv_error *err);

/* --- Lookups (model.c). Lock held. */

struct gvd_tenant *gvd_tenant_find(struct gvd *d, const char *name);
struct gvd_profile *gvd_profile_find(struct gvd *d, const char *name);
/* By id, else by name within tenant (NULL: any tenant, when the name is unique). */
struct gvd_instance *gvd_instance_find(struct gvd *d, const char *key, const char *tenant);
struct gvd_gpu *gvd_gpu_by_uuid(struct gvd *d, const uint8_t uuid[GV_UUID_LEN]);
/* The caller may see this instance. */
bool gvd_visible(const struct gvd_caller *who, const struct gvd_instance *inst);

int gvd_tenant_add(struct gvd *d, struct gvd_tenant *t);
void gvd_tenant_remove(struct gvd *d, struct gvd_tenant *t);
int gvd_instance_add(struct gvd *d, struct gvd_instance *inst);
void gvd_instance_remove(struct gvd *d, struct gvd_instance *inst); /* frees it */
int gvd_profile_add(struct gvd *d, struct gvd_profile *p);
void gvd_profile_remove(struct gvd *d, struct gvd_profile *p);

/* What a tenant's instances hold now. */
struct gvd_usage {
    uint64_t memory;
    uint64_t share; /* basis points */
    uint32_t instances;
};
void gvd_tenant_usage(struct gvd *d, const char *tenant, struct gvd_usage *u);

/* What a GPU has promised to instances. */
void gvd_gpu_usage(struct gvd *d, int gpu, uint64_t *memory, uint32_t *share, uint32_t *count);

/* --- Time. */
int64_t gvd_now(void);    /* seconds */
int64_t gvd_now_ns(void); /* nanoseconds, CLOCK_REALTIME */
/* "2024-05-01T12:00:00Z". */
void gvd_time_format(int64_t t, char out[32]);

/* --- Regions (instances.c). */

/* Map instance inst's region, creating the file with its limits when missing; make its limits the
 * database's. */
int gvd_region_attach(struct gvd *d, struct gvd_instance *inst, struct gv_error *err);

/* What an instance's region says now about its GPU: one reading shared by GET /metrics, GET
 * /v1/instances/{id} and the history, so that they never disagree. */
struct gvd_live {
    bool known;               /* the region was read and holds the instance's GPU; else all 0 */
    unsigned dev;             /* the GPU's index in the region, and in the snapshot */
    uint64_t used;            /* bytes */
    uint64_t busy_total_ns;   /* GPU time used since the instance was made */
    uint64_t waited_total_ns; /* time its launches waited for the GPU */
    uint64_t refused;         /* charges refused at the limit, by members still listed */
    uint64_t driver_oom;      /* charges the driver refused */
    uint32_t members;
};

/* Read inst's region into *s (a caller's buffer: it is large) and sum it up in *out. */
void gvd_instance_live(const struct gvd_instance *inst, struct gvr_snapshot *s,
                       struct gvd_live *out);

/* Rebuild inst->json. */
int gvd_instance_render(struct gvd *d, struct gvd_instance *inst);

/* Reclaim dead members of every instance (the reaper thread). */
void gvd_reap(struct gvd *d);

/* --- The last hour, one sample a second (history.c). */

#define GVD_HISTORY_LEN 3600 /* samples kept per GPU and per instance */

/* Allocate the GPUs' history (d->gpus read). -ENOMEM. */
int gvd_history_init(struct gvd *d, struct gv_error *err);
/* Free it (the sampler stopped, the instances removed). */
void gvd_history_free(struct gvd *d);
/* Free an instance's history (write lock held, or the sampler stopped). */
void gvd_history_instance_free(struct gvd_instance *inst);
/* Take one sample of every GPU and instance now (the sampler thread; takes the read lock).
 * Returns the second it is stamped with. */
int64_t gvd_history_sample(struct gvd *d);
/* The figures of the latest sample of GPU i (false: none yet); gpu_time may be NaN. */
bool gvd_history_last_gpu(struct gvd *d, unsigned i, uint64_t *used, double *gpu_time);
/* The rates of an instance's latest sample (false: none yet); either may be NaN. Lock held. */
bool gvd_history_last_instance(struct gvd *d, const struct gvd_instance *inst, double *gpu_time,
                               double *wait);
/* The memory an instance's history takes, in bytes, once it has its first sample. */
size_t gvd_history_bytes(void);

/* --- The live streams of GET /v1/stream (stream.c). */

int gvd_streams_init(struct gvd *d, struct gv_error *err);
void gvd_streams_free(struct gvd *d); /* once the HTTP servers are stopped */
/* After the history's sample of second t: give every open stream its snapshot (the sampler). */
void gvd_streams_tick(struct gvd *d, int64_t t);
/* End every stream and resume their connections (before the HTTP servers stop). */
void gvd_streams_end(struct gvd *d);

/* --- The daemon's life (daemon.c). */

/* Start everything (see daemon.c). On failure, gvd_stop cleans up what was started. */
int gvd_start(struct gvd *d, const struct gvd_config *cfg, struct gv_error *err);
/* Stop serving and free everything; region files and the database stay. */
void gvd_stop(struct gvd *d);

#endif
