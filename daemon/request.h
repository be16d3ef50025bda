/* SPDX-License-Identifier: Apache-2.0 */
/* request.h: what a client sends gpuvisord, read into plain structs.
 *
 * Every byte a client controls goes through one of these functions before the daemon acts on it:
 * the request path (which route, which id or name), the query string, and each JSON body. They are
 * pure: text in, a struct and 0 out, or a negative errno value and one sentence in a gv_error that
 * names the field and what is wrong with it. No I/O, no locks, no knowledge of the database, so
 * each has a fuzz target (fuzz/daemon_*.c) and the HTTP layer only maps their errors to statuses.
 *
 * The rules are strict on purpose: an unknown field, a duplicate key, a wrong type or a number out
 * of range is refused with 400 rather than ignored, so that a typo in a quota never passes
 * silently. Sizes are an integer count of bytes or a string core/size.h reads ("4GiB"); compute is
 * a number of percent (25, 12.5) or a string ("25%"), 0 meaning no compute limit. */
#ifndef GVD_REQUEST_H
#define GVD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/policy.h"
#include "core/uuid.h"
#include "host/host.h"

#define GVD_BODY_MAX     (64 * 1024) /* bytes of a request body; more is 413 */
#define GVD_NAME_MAX     64          /* instance, tenant and profile names */
#define GVD_ID_LEN       12          /* instance ids: lowercase hex */
#define GVD_MEMBERS_MAX  64          /* users, and groups, of one tenant */
#define GVD_PAGE_MAX     1000        /* events per page */
#define GVD_PAGE_DEFAULT 100
/* Quotas on compute add the shares of all of a tenant's instances, on all GPUs, in basis points. */
#define GVD_QUOTA_SHARE_MAX (10000u * 64u)

/* --- Routes. */

enum gvd_method { GVD_GET, GVD_POST, GVD_PATCH, GVD_DELETE, GVD_METHOD_OTHER };

enum gvd_route {
    GVD_R_HEALTHZ,
    GVD_R_METRICS,
    GVD_R_GPUS,
    GVD_R_GPU,
    GVD_R_GPU_HISTORY,
    GVD_R_PROFILES,
    GVD_R_PROFILE,
    GVD_R_TENANTS,
    GVD_R_TENANT,
    GVD_R_TENANT_TOKEN,
    GVD_R_INSTANCES,
    GVD_R_INSTANCE,
    GVD_R_INSTANCE_HISTORY,
    GVD_R_EVENTS,
    GVD_R_HOST_GPUS,
    GVD_R_HOST_TYPES,
    GVD_R_HOST_PASSTHROUGHS,
    GVD_R_HOST_PASSTHROUGH,
    GVD_R_HOST_VGPUS,
    GVD_R_HOST_VGPU,
    GVD_R_HOST_XML,
    GVD_R_HOST_APPLY,
    GVD_R_REMOTE_VERIFY,
    GVD_R_STREAM,
    GVD_R_PAGE, /* the web page's files: / and /{file} */
    GVD_R_COUNT
};

struct gvd_path {
    enum gvd_route route;
    /* The {param} of the route, checked: an instance id or name, a tenant or profile name, a
     * GPU index in decimal, or for the host's routes a PCI address or an mdev UUID, in their
     * canonical form (lowercase, the PCI domain written out). Empty for routes without one. */
    char param[GVD_NAME_MAX + 1];
};

/* The method as an enum (GVD_METHOD_OTHER for anything else). */
enum gvd_method gvd_method_parse(const char *method);

/* "GET", "POST" ... for a method. */
const char *gvd_method_name(enum gvd_method m);

/* The route pattern, as metrics label it: "/v1/instances/{id}". */
const char *gvd_route_pattern(enum gvd_route r);

/* The methods a route takes, as an Allow header lists them: "GET, POST". */
const char *gvd_route_allow(enum gvd_route r);

/* Whether a route and method take ?dry_run: the host's changes (POST and DELETE). */
bool gvd_route_dry_run(enum gvd_route r, enum gvd_method m);

/* Which route a path names, and whether it takes method m. Returns 0, -ENOENT (no such path: 404),
 * -EOPNOTSUPP (the path exists, not with this method: 405; p->route is set), -EINVAL (the path's
 * {param} is not a valid id or name: 400). A trailing slash is not accepted. */
int gvd_path_parse(const char *path, enum gvd_method m, struct gvd_path *p, struct gv_error *err);

/* --- Names. */

/* 0 if s is a valid name of an instance, tenant or profile ([A-Za-z0-9_.-], 1 to 64 characters,
 * not "." or ".."), else -EINVAL with a message that calls it `what`. */
int gvd_name_check(const char *s, const char *what, struct gv_error *err);

/* True if s has the form of an instance id (12 lowercase hex digits). */
bool gvd_is_id(const char *s);

/* 0 if s may name a Unix user or group in a tenant: a name of letters, digits, '_', '.', '-' (and
 * a final '$', as Samba machine accounts have), 1 to 32 characters, not starting with '-'; or a
 * decimal uid or gid below 2^32 - 1. */
int gvd_principal_check(const char *s, const char *what, struct gv_error *err);

/* --- Query strings. One pair at a time, as the HTTP server hands them; an unknown key is 400. */

struct gvd_query {
    bool has_after;
    uint64_t after;
    uint32_t limit;                /* 1..GVD_PAGE_MAX; GVD_PAGE_DEFAULT when absent */
    char tenant[GVD_NAME_MAX + 1]; /* "" when absent */
    bool force;
    bool dry_run; /* the host's changes: say what would be written, write nothing */
    bool has_since;
    int64_t since; /* history: only samples after this time (unix seconds) */
};

void gvd_query_init(struct gvd_query *q);

/* Add key=value (value NULL when the key came without '='). Keys: after (events: a sequence
 * number), limit (events: 1..1000), tenant (instances: a tenant name), force (tenant delete: 1,
 * true, 0 or false), dry_run (the host's changes: the same values), since (history: unix
 * seconds). */
int gvd_query_add(struct gvd_query *q, const char *key, const char *value, struct gv_error *err);

/* --- Bodies. */

/* A value a PATCH may set, clear (JSON null) or leave alone. */
struct gvd_opt {
    bool set;  /* present in the body */
    bool null; /* present as null: clear it */
    uint64_t value;
};

struct gvd_quota_req {
    struct gvd_opt memory;    /* bytes */
    struct gvd_opt compute;   /* basis points, up to GVD_QUOTA_SHARE_MAX */
    struct gvd_opt instances; /* a count */
};

struct gvd_members_req {
    bool set;
    size_t n;
    char name[GVD_MEMBERS_MAX][GVD_NAME_MAX + 1];
};

/* POST /v1/instances: {"profile"} or {"memory", "compute"}; "gpu", "name", "tenant", "policy",
 * "priority" optional. */
struct gvd_instance_create {
    char profile[GVD_NAME_MAX + 1]; /* "" when none */
    bool has_memory;
    uint64_t memory;
    bool has_compute;
    uint32_t share;  /* basis points; 0 = no compute limit */
    bool has_policy; /* absent: the profile's, else guaranteed */
    enum gv_policy policy;
    bool has_priority; /* absent: the profile's, else normal */
    enum gv_priority priority;
    bool has_gpu;
    bool gpu_by_uuid;
    uint32_t gpu_index;
    uint8_t gpu_uuid[GV_UUID_LEN];
    char name[GVD_NAME_MAX + 1];   /* "" when none */
    char tenant[GVD_NAME_MAX + 1]; /* "" when none */
};

/* PATCH /v1/instances/{id}: {"memory", "compute", "policy", "priority"}, at least one. */
struct gvd_instance_patch {
    bool has_memory;
    uint64_t memory;
    bool has_compute;
    uint32_t share;
    bool has_policy;
    enum gv_policy policy;
    bool has_priority;
    enum gv_priority priority;
};

/* POST /v1/tenants: {"name", "users", "groups", "quota"}. */
struct gvd_tenant_create {
    char name[GVD_NAME_MAX + 1];
    struct gvd_members_req users, groups;
    struct gvd_quota_req quota; /* null and absent both mean no quota */
};

/* PATCH /v1/tenants/{name}: any of "users", "groups", "quota" (a quota's fields one by one; null
 * clears one). */
struct gvd_tenant_patch {
    struct gvd_members_req users, groups;
    struct gvd_quota_req quota;
};

/* POST /v1/profiles: {"name", "memory", "compute", "policy", "priority"}. */
struct gvd_profile_create {
    char name[GVD_NAME_MAX + 1];
    uint64_t memory;
    uint32_t share;            /* 0 = no compute limit */
    enum gv_policy policy;     /* absent: guaranteed */
    enum gv_priority priority; /* absent: normal */
};

enum gvd_gpu_mode { GVD_MODE_SLICED, GVD_MODE_WHOLE, GVD_MODE_PASSTHROUGH, GVD_MODE_VGPU_PARENT };

/* "sliced", "whole", "passthrough", "vgpu-parent". */
const char *gvd_mode_name(enum gvd_gpu_mode m);
int gvd_mode_parse(const char *s, enum gvd_gpu_mode *m, struct gv_error *err);

/* PATCH /v1/gpus/{index}: {"mode", "timeslice"}, at least one. */
struct gvd_gpu_patch {
    bool has_mode;
    enum gvd_gpu_mode mode;
    struct gvd_opt timeslice; /* nanoseconds (core/timeslice.h); null: back to the daemon's */
};

/* POST /v1/host/passthrough: {"pci"}. */
struct gvd_host_passthrough_req {
    char pci[GVH_BDF_LEN]; /* canonical */
};

/* POST /v1/host/vgpus: {"parent", "type", "uuid"?}. */
struct gvd_host_vgpu_req {
    char parent[GVH_BDF_LEN]; /* canonical */
    char type[GVH_NAME_LEN];  /* an id or a name, checked against the GPU's types by the library */
    char uuid[GVH_ID_LEN];    /* canonical; "" when none (the library picks one) */
};

/* Each parser reads body[0..len) (not necessarily terminated) into *out. -EINVAL with a message
 * naming the field, or -ERANGE for a number out of range; the HTTP layer answers 400 for both. */
int gvd_parse_instance_create(const char *body, size_t len, struct gvd_instance_create *out,
                              struct gv_error *err);
int gvd_parse_instance_patch(const char *body, size_t len, struct gvd_instance_patch *out,
                             struct gv_error *err);
int gvd_parse_tenant_create(const char *body, size_t len, struct gvd_tenant_create *out,
                            struct gv_error *err);
int gvd_parse_tenant_patch(const char *body, size_t len, struct gvd_tenant_patch *out,
                           struct gv_error *err);
int gvd_parse_profile_create(const char *body, size_t len, struct gvd_profile_create *out,
                             struct gv_error *err);
int gvd_parse_gpu_patch(const char *body, size_t len, struct gvd_gpu_patch *out,
                        struct gv_error *err);
int gvd_parse_host_passthrough(const char *body, size_t len, struct gvd_host_passthrough_req *out,
                               struct gv_error *err);
int gvd_parse_host_vgpu(const char *body, size_t len, struct gvd_host_vgpu_req *out,
                        struct gv_error *err);
/* POST /v1/host/apply takes no fields: no body, or {}. */
int gvd_parse_host_apply(const char *body, size_t len, struct gv_error *err);

/* POST /v1/remote/verify: gpuvisor-remoted asks whether a client's handshake proof was made with
 * the token of the tenant that owns `instance` (or the admin's). The messages are the bytes the
 * proofs cover, in hex. */
#define GVD_REMOTE_MSG_MAX 256
#define GVD_REMOTE_KEY_MAX 128
struct gvd_remote_verify {
    char instance[GVD_REMOTE_KEY_MAX];
    uint8_t client_message[GVD_REMOTE_MSG_MAX];
    size_t client_len;
    uint8_t server_message[GVD_REMOTE_MSG_MAX];
    size_t server_len;
    uint8_t proof[32];
};
int gvd_parse_remote_verify(const char *body, size_t len, struct gvd_remote_verify *out,
                            struct gv_error *err);

#endif
