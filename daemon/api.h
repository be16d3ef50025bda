/* SPDX-License-Identifier: Apache-2.0 */
/* api.h: the REST API's handlers and what they are given and give back.
 *
 * The HTTP layer (http.c) does everything a handler should not have to think about: it reads and
 * bounds the body, parses the path and the query (request.h), checks the token or the peer's
 * identity, takes d->lock (read for GET, write for the rest) and counts the answer for metrics.
 * A handler then parses its body, acts, and fills a gvd_resp: a status and a JSON body (or, for a
 * listing, a shared cached body). Handlers live with their resource: tenants.c, instances.c,
 * profiles.c, gpus.c, host.c, events.c, metrics.c. */
#ifndef GVD_API_H
#define GVD_API_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

#include "daemon/gvd.h"
#include "daemon/page.h"
#include "daemon/request.h"

struct gvd_req {
    struct gvd *d;
    enum gvd_method method;
    struct gvd_path path;
    struct gvd_query query;
    const struct gvd_caller *who;
    const char *body;
    size_t body_len;
};

struct gvd_resp {
    int status;
    char *body; /* malloc'd, sent and freed by the HTTP layer */
    size_t len;
    const char *content_type;         /* NULL: application/json */
    struct gvd_listing *listing;      /* instead of body: a cached listing, one reference */
    const struct gvd_page_file *page; /* instead of body: a file of the web page (page.h) */
};

typedef void gvd_handler(struct gvd_req *q, struct gvd_resp *r);

/* The JSON output flags: compact, shares printed as people write them (33.33, not 33.3299...). */
#define GVD_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

/* Set r to status and the JSON j (stolen). */
void gvd_reply_json(struct gvd_resp *r, int status, json_t *j);
/* Set r to status and {"error": message}. */
void gvd_reply_error(struct gvd_resp *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Status code for a negative errno value of a failed action: -EINVAL/-ERANGE 400, -EACCES 401,
 * -EPERM/-EDQUOT 403, -ENOENT 404, -EOPNOTSUPP 405, -EEXIST/-ENOSPC/-EBUSY 409, else 500. */
int gvd_status_of(int rc);
/* gvd_reply_error with the status of rc and err's message. */
void gvd_reply_err(struct gvd_resp *r, int rc, const struct gv_error *err);

/* Output helpers shared by handlers. */
json_t *gvd_json_share(uint32_t bp);         /* a share as a number of percent */
json_t *gvd_json_str_or_null(const char *s); /* "" -> null */

/* An event of the current transaction: detail is stolen (may be NULL). */
int gvd_event(struct gvd *d, const struct gvd_caller *who, const char *tenant, const char *action,
              const char *target, json_t *detail, struct gv_error *err);

/* A listing's body and length. */
const char *gvd_listing_body(const struct gvd_listing *l, size_t *len);

/* Handlers. */
gvd_handler gvd_api_healthz;
gvd_handler gvd_api_remote_verify;
gvd_handler gvd_api_metrics;
gvd_handler gvd_api_gpus_list, gvd_api_gpu_get, gvd_api_gpu_patch;
gvd_handler gvd_api_profiles_list, gvd_api_profile_get, gvd_api_profile_create,
    gvd_api_profile_delete;
gvd_handler gvd_api_tenants_list, gvd_api_tenant_get, gvd_api_tenant_create, gvd_api_tenant_patch,
    gvd_api_tenant_delete, gvd_api_tenant_token;
gvd_handler gvd_api_instances_list, gvd_api_instance_get, gvd_api_instance_create,
    gvd_api_instance_patch, gvd_api_instance_delete;
gvd_handler gvd_api_events;
gvd_handler gvd_api_page;
gvd_handler gvd_api_gpu_history, gvd_api_instance_history;
gvd_handler gvd_api_host_gpus, gvd_api_host_types, gvd_api_host_passthrough_list,
    gvd_api_host_passthrough, gvd_api_host_release, gvd_api_host_vgpus_list,
    gvd_api_host_vgpu_create, gvd_api_host_vgpu_remove, gvd_api_host_xml, gvd_api_host_apply;

/* For tenants.c's forced delete: delete one instance (database in the caller's transaction; the
 * region is retired and the model updated by gvd_instance_drop after the commit). */
int gvd_instance_delete_db(struct gvd *d, const struct gvd_caller *who, struct gvd_instance *inst,
                           struct gv_error *err);
void gvd_instance_drop(struct gvd *d, struct gvd_instance *inst);

/* The instance the path names, as the caller may see it; NULL after a 404 (another tenant's
 * looks like an unknown one). */
struct gvd_instance *gvd_api_instance_lookup(struct gvd_req *q, struct gvd_resp *r);

/* The GPU the path names (its index or its UUID): its index in d->gpus, or -1 after a 404. */
int gvd_api_gpu_lookup(struct gvd_req *q, struct gvd_resp *r);

/* The JSON the API gives for things, shared by their routes and the live stream (stream.c). */
json_t *gvd_gpus_json(struct gvd *d); /* GET /v1/gpus's array */
/* An instance as GET /v1/instances/{id} gives it, with "join" when join_too; NULL: no memory. */
json_t *gvd_instance_json(struct gvd *d, const struct gvd_instance *in, bool join_too);
json_t *gvd_instance_usage_json(struct gvd_instance *in); /* its "usage" (reads its region) */
struct gvd_event;
json_t *gvd_event_json(const struct gvd_event *e); /* one entry of GET /v1/events */

/* A tenant as JSON (with usage). */
json_t *gvd_tenant_json(struct gvd *d, const struct gvd_tenant *t);

/* --- The live stream (stream.c). */

struct MHD_Connection;
struct MHD_Response;
/* Open a stream for who (authenticated with the token of hash token_hash; NULL: the local
 * socket's peer) on c: the response to queue, or NULL with r set to the refusal. Lock held. */
struct MHD_Response *gvd_stream_open(struct gvd *d, struct MHD_Connection *c,
                                     const struct gvd_caller *who, const char *token_hash,
                                     struct gvd_resp *r);

/* Request counts for metrics (http.c): calls fn for each route, method and status seen. */
void gvd_http_counts(void (*fn)(const char *route, const char *method, int status,
                                unsigned long long n, void *arg),
                     void *arg);

#endif
