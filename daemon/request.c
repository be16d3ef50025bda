/* SPDX-License-Identifier: Apache-2.0 */
/* request.c: the parsers of everything a client sends gpuvisord (see request.h).
 *
 * JSON is read by jansson with duplicate keys refused; each body parser then walks the object's
 * keys once, dispatching each to a reader for its field, so that an unknown key is found in the
 * same walk and named in the error. Readers check the JSON type first and the range second, and
 * only write the output struct once the whole body is good: a refused request leaves nothing
 * half-set behind. */
#include "daemon/request.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/limits.h"
#include "core/size.h"
#include "core/timeslice.h"

/* --- Methods and routes. */

enum gvd_method gvd_method_parse(const char *method)
{
    static const char *names[] = {"GET", "POST", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (method && strcmp(method, names[i]) == 0)
            return (enum gvd_method)i;
    return GVD_METHOD_OTHER;
}

const char *gvd_method_name(enum gvd_method m)
{
    switch (m) {
    case GVD_GET:
        return "GET";
    case GVD_POST:
        return "POST";
    case GVD_PATCH:
        return "PATCH";
    case GVD_DELETE:
        return "DELETE";
    default:
        return "OTHER";
    }
}

enum param_kind { P_NONE, P_INSTANCE, P_TENANT, P_PROFILE, P_GPU, P_PCI, P_HOST_ID, P_FILE };

#define SEGS 5 /* the most segments of a path: /v1/host/gpus/{bdf}/types */

#define M(x) (1u << (x))

/* The routing table: a pattern is up to four fixed segments around at most one {param}. */
static const struct {
    enum gvd_route route;
    const char *pattern;
    const char *seg[SEGS]; /* NULL ends; "" is the parameter */
    enum param_kind param;
    unsigned methods;
    const char *allow;
} routes[GVD_R_COUNT] = {
    {GVD_R_HEALTHZ, "/healthz", {"healthz"}, P_NONE, M(GVD_GET), "GET"},
    {GVD_R_METRICS, "/metrics", {"metrics"}, P_NONE, M(GVD_GET), "GET"},
    {GVD_R_GPUS, "/v1/gpus", {"v1", "gpus"}, P_NONE, M(GVD_GET), "GET"},
    {GVD_R_GPU,
     "/v1/gpus/{index}",
     {"v1", "gpus", ""},
     P_GPU,
     M(GVD_GET) | M(GVD_PATCH),
     "GET, PATCH"},
    {GVD_R_GPU_HISTORY,
     "/v1/gpus/{index}/history",
     {"v1", "gpus", "", "history"},
     P_GPU,
     M(GVD_GET),
     "GET"},
    {GVD_R_PROFILES,
     "/v1/profiles",
     {"v1", "profiles"},
     P_NONE,
     M(GVD_GET) | M(GVD_POST),
     "GET, POST"},
    {GVD_R_PROFILE,
     "/v1/profiles/{name}",
     {"v1", "profiles", ""},
     P_PROFILE,
     M(GVD_GET) | M(GVD_DELETE),
     "GET, DELETE"},
    {GVD_R_TENANTS,
     "/v1/tenants",
     {"v1", "tenants"},
     P_NONE,
     M(GVD_GET) | M(GVD_POST),
     "GET, POST"},
    {GVD_R_TENANT,
     "/v1/tenants/{name}",
     {"v1", "tenants", ""},
     P_TENANT,
     M(GVD_GET) | M(GVD_PATCH) | M(GVD_DELETE),
     "GET, PATCH, DELETE"},
    {GVD_R_TENANT_TOKEN,
     "/v1/tenants/{name}/token",
     {"v1", "tenants", "", "token"},
     P_TENANT,
     M(GVD_POST),
     "POST"},
    {GVD_R_INSTANCES,
     "/v1/instances",
     {"v1", "instances"},
     P_NONE,
     M(GVD_GET) | M(GVD_POST),
     "GET, POST"},
    {GVD_R_INSTANCE,
     "/v1/instances/{id}",
     {"v1", "instances", ""},
     P_INSTANCE,
     M(GVD_GET) | M(GVD_PATCH) | M(GVD_DELETE),
     "GET, PATCH, DELETE"},
    {GVD_R_INSTANCE_HISTORY,
     "/v1/instances/{id}/history",
     {"v1", "instances", "", "history"},
     P_INSTANCE,
     M(GVD_GET),
     "GET"},
    {GVD_R_EVENTS, "/v1/events", {"v1", "events"}, P_NONE, M(GVD_GET), "GET"},
    {GVD_R_HOST_GPUS, "/v1/host/gpus", {"v1", "host", "gpus"}, P_NONE, M(GVD_GET), "GET"},
    {GVD_R_HOST_TYPES,
     "/v1/host/gpus/{bdf}/types",
     {"v1", "host", "gpus", "", "types"},
     P_PCI,
     M(GVD_GET),
     "GET"},
    {GVD_R_HOST_PASSTHROUGHS,
     "/v1/host/passthrough",
     {"v1", "host", "passthrough"},
     P_NONE,
     M(GVD_GET) | M(GVD_POST),
     "GET, POST"},
    {GVD_R_HOST_PASSTHROUGH,
     "/v1/host/passthrough/{bdf}",
     {"v1", "host", "passthrough", ""},
     P_PCI,
     M(GVD_DELETE),
     "DELETE"},
    {GVD_R_HOST_VGPUS,
     "/v1/host/vgpus",
     {"v1", "host", "vgpus"},
     P_NONE,
     M(GVD_GET) | M(GVD_POST),
     "GET, POST"},
    {GVD_R_HOST_VGPU,
     "/v1/host/vgpus/{id}",
     {"v1", "host", "vgpus", ""},
     P_HOST_ID,
     M(GVD_DELETE),
     "DELETE"},
    {GVD_R_HOST_XML, "/v1/host/xml/{id}", {"v1", "host", "xml", ""}, P_HOST_ID, M(GVD_GET), "GET"},
    {GVD_R_HOST_APPLY, "/v1/host/apply", {"v1", "host", "apply"}, P_NONE, M(GVD_POST), "POST"},
    {GVD_R_REMOTE_VERIFY,
     "/v1/remote/verify",
     {"v1", "remote", "verify"},
     P_NONE,
     M(GVD_POST),
     "POST"},
    {GVD_R_STREAM, "/v1/stream", {"v1", "stream"}, P_NONE, M(GVD_GET), "GET"},
    /* Last: any one segment that no route above took is a file of the page, or nothing. */
    /* Every method: the file's handler says 404 for a file the page does not have, whatever the
     * method, and 405 for one it has. */
    {GVD_R_PAGE,
     "/{file}",
     {""},
     P_FILE,
     M(GVD_GET) | M(GVD_POST) | M(GVD_PATCH) | M(GVD_DELETE) | M(GVD_METHOD_OTHER),
     "GET"},
};

const char *gvd_route_pattern(enum gvd_route r)
{
    return (unsigned)r < GVD_R_COUNT ? routes[r].pattern : "other";
}

bool gvd_route_dry_run(enum gvd_route r, enum gvd_method m)
{
    return r >= GVD_R_HOST_GPUS && r < GVD_R_COUNT && (m == GVD_POST || m == GVD_DELETE);
}

const char *gvd_route_allow(enum gvd_route r)
{
    return (unsigned)r < GVD_R_COUNT ? routes[r].allow : "";
}

/* A host route's parameter: a PCI address, or (P_HOST_ID) also an mdev UUID; canonical into out. */
static int host_param(enum param_kind kind, const char *s, char out[GVD_NAME_MAX + 1],
                      struct gv_error *err)
{
    char bdf[GVH_BDF_LEN], uuid[GVH_ID_LEN];
    struct gv_error e = {0};
    if (gvh_bdf_parse(s, bdf, &e) == 0) {
        snprintf(out, GVD_NAME_MAX + 1, "%s", bdf);
        return 0;
    }
    if (kind == P_PCI)
        return gv_error_set(err, -EINVAL, "%s", e.msg);
    if (gvh_uuid_parse(s, uuid, NULL) == 0) {
        snprintf(out, GVD_NAME_MAX + 1, "%s", uuid);
        return 0;
    }
    return gv_error_set(err, -EINVAL,
                        "\"%.64s\": not a PCI address (0000:41:00.0) nor an mdev UUID "
                        "(8-4-4-4-12 hex digits)",
                        s);
}

static int param_check(enum param_kind kind, const char *s, struct gv_error *err)
{
    switch (kind) {
    case P_INSTANCE:
        return gvd_name_check(s, "instance id or name", err);
    case P_TENANT:
        return gvd_name_check(s, "tenant name", err);
    case P_PROFILE:
        return gvd_name_check(s, "profile name", err);
    case P_GPU: {
        uint8_t uuid[GV_UUID_LEN];
        if (gv_uuid_parse(s, strlen(s), GV_UUID_PREFIXED, uuid, NULL) == 0)
            return 0;
        bool digits = *s && strlen(s) <= 2;
        for (const char *c = s; *c; c++)
            digits = digits && isdigit((unsigned char)*c);
        if (digits && !(s[0] == '0' && s[1]) && atoi(s) < GV_MAX_GPUS)
            return 0;
        return gv_error_set(err, -EINVAL, "GPU \"%s\": not a GPU index (0 to %d) or UUID (GPU-...)",
                            s, GV_MAX_GPUS - 1);
    }
    case P_FILE:
        /* The page's files are named as [a-z0-9.-] without a leading dot; any other one segment
         * is a path the server does not have. */
        for (const char *c = s; *c; c++)
            if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '.' ||
                  *c == '-'))
                return gv_error_set(err, -ENOENT, "no such path");
        return s[0] == '.' ? gv_error_set(err, -ENOENT, "no such path") : 0;
    default:
        return 0;
    }
}

int gvd_path_parse(const char *path, enum gvd_method m, struct gvd_path *p, struct gv_error *err)
{
    memset(p, 0, sizeof(*p));
    if (!path || path[0] != '/')
        return gv_error_set(err, -ENOENT, "no such path");
    if (path[1] == '\0') {
        /* "/" is the page itself (any method: see GVD_R_PAGE). */
        p->route = GVD_R_PAGE;
        snprintf(p->param, sizeof(p->param), "index.html");
        return 0;
    }
    /* Split into at most SEGS segments; one more, an empty one or an overlong one matches
     * nothing. */
    char segs[SEGS][GVD_NAME_MAX + 1];
    size_t n = 0;
    const char *s = path + 1;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (n == SEGS || len == 0 || len > GVD_NAME_MAX)
            return gv_error_set(err, -ENOENT, "no such path");
        memcpy(segs[n], s, len);
        segs[n++][len] = '\0';
        if (!slash)
            break;
        s = slash + 1;
    }
    for (size_t r = 0; r < GVD_R_COUNT; r++) {
        size_t k = 0;
        int param = -1;
        while (k < SEGS && routes[r].seg[k]) {
            if (k >= n)
                break;
            if (routes[r].seg[k][0] == '\0')
                param = (int)k;
            else if (strcmp(routes[r].seg[k], segs[k]) != 0)
                break;
            k++;
        }
        if (k != n || (k < SEGS && routes[r].seg[k]))
            continue;
        p->route = routes[r].route;
        if (param >= 0 && (routes[r].param == P_PCI || routes[r].param == P_HOST_ID)) {
            int rc = host_param(routes[r].param, segs[param], p->param, err);
            if (rc)
                return rc;
        } else if (param >= 0) {
            int rc = param_check(routes[r].param, segs[param], err);
            if (rc)
                return rc;
            snprintf(p->param, sizeof(p->param), "%s", segs[param]);
        }
        if (!(routes[r].methods & M(m)))
            return gv_error_set(err, -EOPNOTSUPP, "%s is not allowed on %s (allowed: %s)",
                                m == GVD_METHOD_OTHER ? "this method" : gvd_method_name(m),
                                routes[r].pattern, routes[r].allow);
        return 0;
    }
    return gv_error_set(err, -ENOENT, "no such path");
}

/* --- Names. */

int gvd_name_check(const char *s, const char *what, struct gv_error *err)
{
    size_t n = strlen(s);
    bool ok = n >= 1 && n <= GVD_NAME_MAX && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-';
    if (ok)
        return 0;
    return gv_error_set(err, -EINVAL,
                        "%s \"%.64s%s\": use 1 to %d letters, digits, '_', '.' or '-' (not \".\" "
                        "or \"..\")",
                        what, s, n > 64 ? "..." : "", GVD_NAME_MAX);
}

bool gvd_is_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isdigit((unsigned char)s[n]) && !(s[n] >= 'a' && s[n] <= 'f'))
            return false;
    return n == GVD_ID_LEN;
}

int gvd_principal_check(const char *s, const char *what, struct gv_error *err)
{
    size_t n = strlen(s);
    bool digits = n > 0 && n <= 10;
    for (size_t i = 0; digits && i < n; i++)
        digits = isdigit((unsigned char)s[i]);
    if (digits) {
        unsigned long long v = strtoull(s, NULL, 10);
        if (v < 0xffffffffULL)
            return 0;
        return gv_error_set(err, -ERANGE, "%s \"%s\": a numeric id must be below 4294967295", what,
                            s);
    }
    bool ok = n >= 1 && n <= 32 && s[0] != '-';
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-' ||
             (s[i] == '$' && i == n - 1);
    if (ok)
        return 0;
    return gv_error_set(err, -EINVAL,
                        "%s \"%.64s%s\": not a user or group name (1 to 32 letters, digits, '_', "
                        "'.', '-') nor a numeric id",
                        what, s, n > 64 ? "..." : "");
}

/* --- Query strings. */

void gvd_query_init(struct gvd_query *q)
{
    memset(q, 0, sizeof(*q));
    q->limit = GVD_PAGE_DEFAULT;
}

/* A decimal number of at most 19 digits, nothing else. */
static bool decimal(const char *s, uint64_t *v)
{
    size_t n = strlen(s);
    if (n == 0 || n > 19)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *v = x;
    return true;
}

int gvd_query_add(struct gvd_query *q, const char *key, const char *value, struct gv_error *err)
{
    const char *v = value ? value : "";
    uint64_t x;
    if (strcmp(key, "after") == 0) {
        if (!decimal(v, &x) || x > INT64_MAX)
            return gv_error_set(err, -EINVAL, "after=\"%.64s\": not an event sequence number", v);
        q->has_after = true;
        q->after = x;
    } else if (strcmp(key, "limit") == 0) {
        if (!decimal(v, &x) || x < 1 || x > GVD_PAGE_MAX)
            return gv_error_set(err, -EINVAL, "limit=\"%.64s\": must be 1 to %d", v, GVD_PAGE_MAX);
        q->limit = (uint32_t)x;
    } else if (strcmp(key, "tenant") == 0) {
        int rc = gvd_name_check(v, "tenant", err);
        if (rc)
            return rc;
        snprintf(q->tenant, sizeof(q->tenant), "%s", v);
    } else if (strcmp(key, "since") == 0) {
        if (!decimal(v, &x) || x > INT64_MAX)
            return gv_error_set(err, -EINVAL, "since=\"%.64s\": not a time in unix seconds", v);
        q->has_since = true;
        q->since = (int64_t)x;
    } else if (strcmp(key, "force") == 0 || strcmp(key, "dry_run") == 0) {
        bool *flag = key[0] == 'f' ? &q->force : &q->dry_run;
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || !value)
            *flag = true;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
            *flag = false;
        else
            return gv_error_set(err, -EINVAL, "%s=\"%.64s\": use 1 or 0", key, v);
    } else {
        return gv_error_set(err, -EINVAL,
                            "unknown query parameter \"%.64s\" (known: after, limit, tenant, "
                            "force, dry_run, since)",
                            key);
    }
    return 0;
}

/* --- JSON values. */

static int load(const char *body, size_t len, json_t **out, struct gv_error *err)
{
    if (len == 0)
        return gv_error_set(err, -EINVAL, "empty body: send a JSON object");
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!j)
        return gv_error_set(err, -EINVAL, "malformed JSON at line %d, column %d: %s", jerr.line,
                            jerr.column, jerr.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return gv_error_set(err, -EINVAL, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* A size: an integer of bytes, or a string core/size.h reads. At least min bytes. */
static int read_size(const char *field, const json_t *v, uint64_t min, uint64_t *out,
                     struct gv_error *err)
{
    uint64_t bytes;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0)
            return gv_error_set(err, -ERANGE, "%s: %lld is negative", field, (long long)i);
        bytes = (uint64_t)i;
    } else if (json_is_string(v)) {
        struct gv_error e = {0};
        if (gv_size_parse(json_string_value(v), &bytes, &e) != 0)
            return gv_error_set(err, e.code, "%s: %s", field, e.msg);
    } else {
        return gv_error_set(err, -EINVAL,
                            "%s: expected bytes (an integer) or a size (\"4GiB\"), got %s", field,
                            type_name(v));
    }
    if (bytes < min)
        return gv_error_set(err, -ERANGE, "%s: must be at least %llu bytes", field,
                            (unsigned long long)min);
    *out = bytes;
    return 0;
}

/* A share in percent: a number with at most two decimals, 0 < x <= max_bp/100, or 0 when
 * zero_ok; or a string gv_share_parse reads ("25%"), or "0" when zero_ok. */
static int read_share(const char *field, const json_t *v, uint32_t max_bp, bool zero_ok,
                      uint32_t *out, struct gv_error *err)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (zero_ok && (strcmp(s, "0") == 0 || strcmp(s, "0%") == 0)) {
            *out = 0;
            return 0;
        }
        struct gv_error e = {0};
        uint32_t bp;
        if (gv_share_parse(s, &bp, &e) != 0)
            return gv_error_set(err, e.code, "%s: %s", field, e.msg);
        *out = bp;
        return 0;
    }
    if (!json_is_number(v))
        return gv_error_set(err, -EINVAL,
                            "%s: expected a percentage (a number such as 25, or \"25%%\"), got %s",
                            field, type_name(v));
    double x = json_number_value(v);
    double max = max_bp / 100.0;
    if (!(x >= 0) || x > max)
        return gv_error_set(err, -ERANGE, "%s: %g is out of range (0 < compute <= %g)", field, x,
                            max);
    double bp = round(x * 100.0);
    if (fabs(bp - x * 100.0) > 1e-6)
        return gv_error_set(err, -EINVAL, "%s: %g has more than two decimals", field, x);
    if (bp == 0 && !zero_ok)
        return gv_error_set(err, -ERANGE, "%s: must be more than 0", field);
    *out = (uint32_t)bp;
    return 0;
}

static int read_name(const char *field, const json_t *v, char out[GVD_NAME_MAX + 1],
                     struct gv_error *err)
{
    if (!json_is_string(v))
        return gv_error_set(err, -EINVAL, "%s: expected a string, got %s", field, type_name(v));
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return gv_error_set(err, -EINVAL, "%s: contains a NUL character", field);
    int rc = gvd_name_check(s, field, err);
    if (rc)
        return rc;
    snprintf(out, GVD_NAME_MAX + 1, "%s", s);
    return 0;
}

static int read_members(const char *field, const json_t *v, struct gvd_members_req *out,
                        struct gv_error *err)
{
    if (!json_is_array(v))
        return gv_error_set(err, -EINVAL, "%s: expected an array of names, got %s", field,
                            type_name(v));
    if (json_array_size(v) > GVD_MEMBERS_MAX)
        return gv_error_set(err, -ERANGE, "%s: at most %d entries", field, GVD_MEMBERS_MAX);
    out->set = true;
    out->n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return gv_error_set(err, -EINVAL, "%s[%zu]: expected a string, got %s", field, i,
                                type_name(e));
        const char *s = json_string_value(e);
        char what[32];
        snprintf(what, sizeof(what), "%s[%zu]", field, i);
        int rc = gvd_principal_check(s, what, err);
        if (rc)
            return rc;
        for (size_t k = 0; k < out->n; k++)
            if (strcmp(out->name[k], s) == 0)
                return gv_error_set(err, -EINVAL, "%s: \"%s\" appears twice", field, s);
        snprintf(out->name[out->n++], GVD_NAME_MAX + 1, "%s", s);
    }
    return 0;
}

/* A quota object's fields, each a value or null. */
static int read_quota(const json_t *v, struct gvd_quota_req *q, struct gv_error *err)
{
    if (!json_is_object(v))
        return gv_error_set(err, -EINVAL, "quota: expected an object, got %s", type_name(v));
    const char *key;
    json_t *f;
    json_object_foreach((json_t *)v, key, f)
    {
        struct gvd_opt *o;
        int rc = 0;
        if (strcmp(key, "memory") == 0)
            o = &q->memory;
        else if (strcmp(key, "compute") == 0)
            o = &q->compute;
        else if (strcmp(key, "instances") == 0)
            o = &q->instances;
        else
            return gv_error_set(err, -EINVAL,
                                "quota: unknown field \"%.64s\" (known: memory, compute, "
                                "instances)",
                                key);
        o->set = true;
        if (json_is_null(f)) {
            o->null = true;
            continue;
        }
        if (o == &q->memory) {
            rc = read_size("quota.memory", f, 0, &o->value, err);
        } else if (o == &q->compute) {
            uint32_t bp = 0;
            rc = read_share("quota.compute", f, GVD_QUOTA_SHARE_MAX, true, &bp, err);
            o->value = bp;
        } else {
            if (!json_is_integer(f))
                return gv_error_set(err, -EINVAL, "quota.instances: expected an integer, got %s",
                                    type_name(f));
            json_int_t i = json_integer_value(f);
            if (i < 0 || i > 1000000)
                return gv_error_set(err, -ERANGE,
                                    "quota.instances: %lld is out of range (0 to 1000000)",
                                    (long long)i);
            o->value = (uint64_t)i;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int unknown(const char *key, const char *known, struct gv_error *err)
{
    return gv_error_set(err, -EINVAL, "unknown field \"%.64s\" (known: %s)", key, known);
}

/* A compute policy or a priority: a string core/policy.c reads ("best-effort", "high"). */
static int read_policy(const char *field, const json_t *v, enum gv_policy *out,
                       struct gv_error *err)
{
    if (!json_is_string(v))
        return gv_error_set(err, -EINVAL, "%s: expected a string (%s), got %s", field,
                            GV_POLICY_NAMES, type_name(v));
    struct gv_error e = {0};
    if (gv_policy_parse(json_string_value(v), out, &e) != 0)
        return gv_error_set(err, -EINVAL, "%s: %s", field, e.msg);
    return 0;
}

static int read_priority(const char *field, const json_t *v, enum gv_priority *out,
                         struct gv_error *err)
{
    if (!json_is_string(v))
        return gv_error_set(err, -EINVAL, "%s: expected a string (%s), got %s", field,
                            GV_PRIORITY_NAMES, type_name(v));
    struct gv_error e = {0};
    if (gv_priority_parse(json_string_value(v), out, &e) != 0)
        return gv_error_set(err, -EINVAL, "%s: %s", field, e.msg);
    return 0;
}

/* --- Bodies. Each: load, walk the keys into a local struct, check what needs all of them, copy
 * out. */

int gvd_parse_instance_create(const char *body, size_t len, struct gvd_instance_create *out,
                              struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_instance_create c = {0};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "profile") == 0) {
            rc = read_name("profile", v, c.profile, err);
        } else if (strcmp(key, "memory") == 0) {
            rc = read_size("memory", v, 1, &c.memory, err);
            c.has_memory = true;
        } else if (strcmp(key, "compute") == 0) {
            rc = read_share("compute", v, 10000, true, &c.share, err);
            c.has_compute = true;
        } else if (strcmp(key, "gpu") == 0) {
            c.has_gpu = true;
            if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);
                if (i < 0 || i >= GV_MAX_GPUS)
                    rc = gv_error_set(err, -ERANGE, "gpu: %lld is not a GPU index (0 to %d)",
                                      (long long)i, GV_MAX_GPUS - 1);
                c.gpu_index = (uint32_t)i;
            } else if (json_is_string(v)) {
                const char *s = json_string_value(v);
                struct gv_error e = {0};
                c.gpu_by_uuid = true;
                if (gv_uuid_parse(s, json_string_length(v), GV_UUID_PREFIXED, c.gpu_uuid, &e))
                    rc = gv_error_set(err, -EINVAL, "gpu: %s", e.msg);
            } else {
                rc = gv_error_set(err, -EINVAL,
                                  "gpu: expected an index (integer) or a UUID (string), got %s",
                                  type_name(v));
            }
        } else if (strcmp(key, "name") == 0) {
            rc = read_name("name", v, c.name, err);
            if (!rc && gvd_is_id(c.name))
                rc = gv_error_set(err, -EINVAL,
                                  "name \"%s\": 12 hex digits would read as an instance id; "
                                  "choose another name",
                                  c.name);
        } else if (strcmp(key, "tenant") == 0) {
            rc = read_name("tenant", v, c.tenant, err);
        } else if (strcmp(key, "policy") == 0) {
            rc = read_policy("policy", v, &c.policy, err);
            c.has_policy = true;
        } else if (strcmp(key, "priority") == 0) {
            rc = read_priority("priority", v, &c.priority, err);
            c.has_priority = true;
        } else {
            rc = unknown(key, "profile, memory, compute, gpu, name, tenant, policy, priority", err);
        }
        if (rc)
            goto out;
    }
    if (c.profile[0] && (c.has_memory || c.has_compute))
        rc = gv_error_set(err, -EINVAL,
                          "give either a profile or memory and compute, not both (the profile "
                          "sets both)");
    else if (!c.profile[0] && !c.has_memory)
        rc = gv_error_set(err, -EINVAL,
                          "memory: missing (give a profile, or memory and optionally compute)");
    if (!rc)
        *out = c;
out:
    json_decref(j);
    return rc;
}

int gvd_parse_instance_patch(const char *body, size_t len, struct gvd_instance_patch *out,
                             struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_instance_patch p = {0};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "memory") == 0) {
            rc = read_size("memory", v, 1, &p.memory, err);
            p.has_memory = true;
        } else if (strcmp(key, "compute") == 0) {
            rc = read_share("compute", v, 10000, true, &p.share, err);
            p.has_compute = true;
        } else if (strcmp(key, "policy") == 0) {
            rc = read_policy("policy", v, &p.policy, err);
            p.has_policy = true;
        } else if (strcmp(key, "priority") == 0) {
            rc = read_priority("priority", v, &p.priority, err);
            p.has_priority = true;
        } else {
            rc = unknown(key, "memory, compute, policy, priority", err);
        }
        if (rc)
            goto out;
    }
    if (!p.has_memory && !p.has_compute && !p.has_policy && !p.has_priority)
        rc = gv_error_set(err, -EINVAL,
                          "nothing to change: give memory, compute, policy or priority");
    if (!rc)
        *out = p;
out:
    json_decref(j);
    return rc;
}

int gvd_parse_tenant_create(const char *body, size_t len, struct gvd_tenant_create *out,
                            struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_tenant_create *t = calloc(1, sizeof(*t));
    if (!t) {
        json_decref(j);
        return gv_error_set(err, -ENOMEM, "out of memory");
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "name") == 0)
            rc = read_name("name", v, t->name, err);
        else if (strcmp(key, "users") == 0)
            rc = read_members("users", v, &t->users, err);
        else if (strcmp(key, "groups") == 0)
            rc = read_members("groups", v, &t->groups, err);
        else if (strcmp(key, "quota") == 0)
            rc = json_is_null(v) ? 0 : read_quota(v, &t->quota, err);
        else
            rc = unknown(key, "name, users, groups, quota", err);
        if (rc)
            goto out;
    }
    if (!t->name[0])
        rc = gv_error_set(err, -EINVAL, "name: missing (the tenant's name)");
    if (!rc)
        *out = *t;
out:
    free(t);
    json_decref(j);
    return rc;
}

int gvd_parse_tenant_patch(const char *body, size_t len, struct gvd_tenant_patch *out,
                           struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_tenant_patch *t = calloc(1, sizeof(*t));
    if (!t) {
        json_decref(j);
        return gv_error_set(err, -ENOMEM, "out of memory");
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "users") == 0)
            rc = read_members("users", v, &t->users, err);
        else if (strcmp(key, "groups") == 0)
            rc = read_members("groups", v, &t->groups, err);
        else if (strcmp(key, "quota") == 0)
            rc = read_quota(v, &t->quota, err);
        else
            rc = unknown(key, "users, groups, quota", err);
        if (rc)
            goto out;
    }
    if (!t->users.set && !t->groups.set && !t->quota.memory.set && !t->quota.compute.set &&
        !t->quota.instances.set)
        rc = gv_error_set(err, -EINVAL, "nothing to change: give users, groups or quota");
    if (!rc)
        *out = *t;
out:
    free(t);
    json_decref(j);
    return rc;
}

int gvd_parse_profile_create(const char *body, size_t len, struct gvd_profile_create *out,
                             struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_profile_create p = {0};
    bool has_memory = false;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "name") == 0) {
            rc = read_name("name", v, p.name, err);
        } else if (strcmp(key, "memory") == 0) {
            rc = read_size("memory", v, 1, &p.memory, err);
            has_memory = true;
        } else if (strcmp(key, "compute") == 0) {
            rc = read_share("compute", v, 10000, true, &p.share, err);
        } else if (strcmp(key, "policy") == 0) {
            rc = read_policy("policy", v, &p.policy, err);
        } else if (strcmp(key, "priority") == 0) {
            rc = read_priority("priority", v, &p.priority, err);
        } else {
            rc = unknown(key, "name, memory, compute, policy, priority", err);
        }
        if (rc)
            goto out;
    }
    if (!p.name[0])
        rc = gv_error_set(err, -EINVAL, "name: missing (the profile's name)");
    else if (!has_memory)
        rc = gv_error_set(err, -EINVAL, "memory: missing (the profile's memory, e.g. \"2GiB\")");
    if (!rc)
        *out = p;
out:
    json_decref(j);
    return rc;
}

static const char *mode_names[] = {"sliced", "whole", "passthrough", "vgpu-parent"};

const char *gvd_mode_name(enum gvd_gpu_mode m)
{
    return (unsigned)m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "unknown";
}

int gvd_mode_parse(const char *s, enum gvd_gpu_mode *m, struct gv_error *err)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++)
        if (strcmp(s, mode_names[i]) == 0) {
            *m = (enum gvd_gpu_mode)i;
            return 0;
        }
    return gv_error_set(
        err, -EINVAL, "mode \"%.64s\": unknown (use sliced, whole, passthrough or vgpu-parent)", s);
}

/* "1ms to 30ms", as core writes the ends of the range. */
static const char *timeslice_range(char *buf, size_t len)
{
    char lo[GV_TIMESLICE_TEXT], hi[GV_TIMESLICE_TEXT];
    snprintf(buf, len, "%s to %s", gv_timeslice_format(GV_TIMESLICE_MIN_NS, lo, sizeof(lo)),
             gv_timeslice_format(GV_TIMESLICE_MAX_NS, hi, sizeof(hi)));
    return buf;
}

/* A time slice, as text (core/timeslice.h), or null. The message quotes what was sent, whatever
 * its type, so that a client sees which value was refused. */
static int read_timeslice(const json_t *v, struct gvd_opt *out, struct gv_error *err)
{
    out->set = true;
    if (json_is_null(v)) {
        out->null = true;
        return 0;
    }
    if (!json_is_string(v)) {
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), range[2 * GV_TIMESLICE_TEXT];
        int rc = gv_error_set(err, -EINVAL,
                              "timeslice: %.32s%s is %s: give a time as a string, such as "
                              "\"5ms\" (%s), or null for the daemon's default",
                              text ? text : "?", text && strlen(text) > 32 ? "..." : "",
                              type_name(v), timeslice_range(range, sizeof(range)));
        free(text);
        return rc;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return gv_error_set(err, -EINVAL, "timeslice: contains a NUL character");
    int rc = gv_timeslice_parse(s, &out->value, err);
    return rc ? gv_error_prefix(err, rc, "timeslice") : 0;
}

int gvd_parse_gpu_patch(const char *body, size_t len, struct gvd_gpu_patch *out,
                        struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_gpu_patch p = {0};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "mode") == 0) {
            if (!json_is_string(v))
                rc = gv_error_set(err, -EINVAL, "mode: expected a string, got %s", type_name(v));
            else
                rc = gvd_mode_parse(json_string_value(v), &p.mode, err);
            p.has_mode = true;
        } else if (strcmp(key, "timeslice") == 0) {
            rc = read_timeslice(v, &p.timeslice, err);
        } else {
            rc = unknown(key, "mode, timeslice", err);
        }
        if (rc)
            goto out;
    }
    char range[2 * GV_TIMESLICE_TEXT];
    if (!p.has_mode && !p.timeslice.set)
        rc = gv_error_set(err, -EINVAL,
                          "nothing to change: give mode (sliced, whole, passthrough, "
                          "vgpu-parent), timeslice (%s), or both",
                          timeslice_range(range, sizeof(range)));
    if (!rc)
        *out = p;
out:
    json_decref(j);
    return rc;
}

/* --- The host's bodies. */

/* A string field without NUL characters, of at most max - 1 bytes. */
static int read_text(const char *field, const json_t *v, size_t max, const char **out,
                     struct gv_error *err)
{
    if (!json_is_string(v))
        return gv_error_set(err, -EINVAL, "%s: expected a string, got %s", field, type_name(v));
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return gv_error_set(err, -EINVAL, "%s: contains a NUL character", field);
    if (!*s || strlen(s) >= max)
        return gv_error_set(err, -EINVAL, "%s: give 1 to %zu characters", field, max - 1);
    *out = s;
    return 0;
}

static int read_pci(const char *field, const json_t *v, char out[GVH_BDF_LEN], struct gv_error *err)
{
    const char *s;
    int rc = read_text(field, v, 64, &s, err);
    struct gv_error e = {0};
    if (!rc && (rc = gvh_bdf_parse(s, out, &e)) != 0)
        gv_error_set(err, -EINVAL, "%s: %s", field, e.msg);
    return rc;
}

int gvd_parse_host_passthrough(const char *body, size_t len, struct gvd_host_passthrough_req *out,
                               struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_host_passthrough_req p = {{0}};
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "pci") == 0)
            rc = read_pci("pci", v, p.pci, err);
        else
            rc = unknown(key, "pci", err);
        if (rc)
            goto out;
    }
    if (!p.pci[0])
        rc = gv_error_set(err, -EINVAL, "pci: missing (the GPU's PCI address, e.g. 0000:41:00.0)");
    if (!rc)
        *out = p;
out:
    json_decref(j);
    return rc;
}

int gvd_parse_host_vgpu(const char *body, size_t len, struct gvd_host_vgpu_req *out,
                        struct gv_error *err)
{
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    struct gvd_host_vgpu_req c = {{0}, {0}, {0}};
    const char *key, *s;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "parent") == 0) {
            rc = read_pci("parent", v, c.parent, err);
        } else if (strcmp(key, "type") == 0) {
            /* A type's id or name ("nvidia-222", "GRID T4-1Q", "1414"): printable, and never a
             * path, since the library looks the id up as a folder name. */
            if (!(rc = read_text("type", v, sizeof(c.type), &s, err))) {
                for (const char *p = s; !rc && *p; p++)
                    if (*p < 0x20 || *p == 0x7f || *p == '/')
                        rc = gv_error_set(err, -EINVAL,
                                          "type: \"%.64s\": a vGPU type's id or name has no "
                                          "'/' or control characters",
                                          s);
                if (!rc && (strcmp(s, ".") == 0 || strcmp(s, "..") == 0))
                    rc = gv_error_set(err, -EINVAL, "type: \"%s\" is not a vGPU type", s);
                if (!rc)
                    snprintf(c.type, sizeof(c.type), "%s", s);
            }
        } else if (strcmp(key, "uuid") == 0) {
            struct gv_error e = {0};
            if (!json_is_null(v) && !(rc = read_text("uuid", v, 64, &s, err)) &&
                (rc = gvh_uuid_parse(s, c.uuid, &e)) != 0)
                gv_error_set(err, -EINVAL, "uuid: %s", e.msg);
        } else {
            rc = unknown(key, "parent, type, uuid", err);
        }
        if (rc)
            goto out;
    }
    if (!c.parent[0])
        rc = gv_error_set(err, -EINVAL,
                          "parent: missing (the GPU's PCI address, e.g. 0000:41:00.0)");
    else if (!c.type[0])
        rc = gv_error_set(err, -EINVAL,
                          "type: missing (a vGPU type's id or name: GET "
                          "/v1/host/gpus/{bdf}/types lists them)");
    if (!rc)
        *out = c;
out:
    json_decref(j);
    return rc;
}

int gvd_parse_host_apply(const char *body, size_t len, struct gv_error *err)
{
    if (len == 0)
        return 0;
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        (void)v;
        rc = gv_error_set(err, -EINVAL, "unknown field \"%.64s\" (apply takes none)", key);
        break;
    }
    json_decref(j);
    return rc;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A hex string of at most max bytes into out; its length in *n. */
static int read_hex(const char *field, const json_t *v, uint8_t *out, size_t max, size_t *n,
                    struct gv_error *err)
{
    if (!json_is_string(v))
        return gv_error_set(err, -EINVAL, "\"%s\" must be a string of hex digits, not %s", field,
                            type_name(v));
    const char *t = json_string_value(v);
    size_t len = json_string_length(v);
    if (len % 2 || len / 2 > max)
        return gv_error_set(err, -EINVAL, "\"%s\": an even number of hex digits, at most %zu",
                            field, 2 * max);
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(t[i]), lo = hexval(t[i + 1]);
        if (hi < 0 || lo < 0)
            return gv_error_set(err, -EINVAL, "\"%s\": not a hex digit at %zu", field,
                                hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *n = len / 2;
    return 0;
}

int gvd_parse_remote_verify(const char *body, size_t len, struct gvd_remote_verify *out,
                            struct gv_error *err)
{
    memset(out, 0, sizeof(*out));
    json_t *j;
    int rc = load(body, len, &j, err);
    if (rc)
        return rc;
    const char *key;
    json_t *v;
    bool have[4] = {false};
    size_t n;
    json_object_foreach(j, key, v)
    {
        if (!strcmp(key, "instance")) {
            const char *t = json_is_string(v) ? json_string_value(v) : NULL;
            if (!t || !*t || json_string_length(v) >= sizeof(out->instance) ||
                strlen(t) != json_string_length(v)) {
                rc = gv_error_set(err, -EINVAL, "\"instance\": an instance id or name");
                break;
            }
            snprintf(out->instance, sizeof(out->instance), "%s", t);
            have[0] = true;
        } else if (!strcmp(key, "client_message")) {
            rc = read_hex(key, v, out->client_message, sizeof(out->client_message),
                          &out->client_len, err);
            have[1] = true;
        } else if (!strcmp(key, "server_message")) {
            rc = read_hex(key, v, out->server_message, sizeof(out->server_message),
                          &out->server_len, err);
            have[2] = true;
        } else if (!strcmp(key, "proof")) {
            rc = read_hex(key, v, out->proof, sizeof(out->proof), &n, err);
            if (!rc && n != sizeof(out->proof))
                rc = gv_error_set(err, -EINVAL, "\"proof\": 64 hex digits");
            have[3] = true;
        } else {
            rc = gv_error_set(err, -EINVAL,
                              "unknown field \"%.64s\" (known: instance, client_message, "
                              "server_message, proof)",
                              key);
        }
        if (rc)
            break;
    }
    json_decref(j);
    if (!rc && !(have[0] && have[1] && have[2] && have[3]))
        rc = gv_error_set(err, -EINVAL,
                          "instance, client_message, server_message and proof are all needed");
    return rc;
}
