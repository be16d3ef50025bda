/* SPDX-License-Identifier: Apache-2.0 */
/* instances.c: vGPU instances: create, list, show with live usage, resize, delete.
 *
 * An instance is a row in the database and a region file in <run>/instances, named by its id and
 * owned by the daemon; tenants' processes get at the file only through the local socket. Each
 * change runs in the order that keeps the two consistent across a crash at any point:
 *   create: the region file first, then the row (a crash in between leaves a file without a row,
 *           which the next start retires);
 *   resize: the row first, then the region's limits (the next start applies the row's limits);
 *   delete: the row first, then the region is retired (a crash in between: the next start retires
 *           the orphan file).
 * All of it under the write lock, so placement and quotas see every earlier change. The listing
 * (GET /v1/instances) is served from each instance's JSON rendered at its last change, joined
 * into one body that is cached until the next change: a listing of a thousand instances costs a
 * lookup, not a thousand serializations. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "core/size.h"
#include "daemon/api.h"
#include "daemon/store.h"
#include "launch/launch.h"

/* --- Rendering. */

/* How a process joins the instance: the environment is the one `gpuvisor run --instance` sets
 * (launch/launch.h), built by the same function, so that what the daemon tells a client and what
 * the CLI does cannot drift apart. The interposer's LD_PRELOAD is left out: where the library
 * lives is the client's machine's business, not the daemon's. NULL when out of memory. */
static json_t *join_json(struct gvd *d, const struct gvd_instance *in, const char *uuid)
{
    struct gvl_env e;
    struct gvl_join j = {
        .socket = d->cfg.socket, .instance = in->id, .region_fd = -1, .devices = uuid};
    if (gvl_env_init(&e, NULL, NULL) < 0)
        return NULL;
    json_t *env = json_object();
    bool ok = env && gvl_env_join(&e, NULL, &j, NULL) == 0;
    for (size_t i = 0; ok && i < e.n; i++) {
        const char *eq = strchr(e.var[i], '=');
        char name[64];
        ok = eq && (size_t)(eq - e.var[i]) < sizeof(name);
        if (ok) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - e.var[i]), e.var[i]);
            ok = json_object_set_new(env, name, json_string(eq + 1)) == 0;
        }
    }
    gvl_env_free(&e);
    char command[128];
    snprintf(command, sizeof(command), "gpuvisor run --instance %s -- CMD", in->id);
    json_t *out =
        ok ? json_pack("{ss ss s:o}", "command", command, "socket", d->cfg.socket, "env", env)
           : NULL;
    if (!out)
        json_decref(env);
    return out;
}

json_t *gvd_instance_json(struct gvd *d, const struct gvd_instance *in, bool join_too)
{
    char uuid[GV_UUID_TEXT], created[32];
    gv_uuid_format(in->uuid, uuid);
    gvd_time_format(in->created_ns / 1000000000LL, created);
    json_t *join = join_too ? join_json(d, in, uuid) : NULL;
    if (join_too && !join)
        return NULL;
    return json_pack("{ss s:o ss s:o ss s:o sI s:o ss ss ss s:o*}", "id", in->id, "name",
                     gvd_json_str_or_null(in->name), "tenant", in->tenant, "gpu",
                     in->gpu >= 0 ? json_integer(in->gpu) : json_null(), "uuid", uuid, "profile",
                     gvd_json_str_or_null(in->profile), "memory", (json_int_t)in->memory, "compute",
                     gvd_json_share(in->share), "policy", gv_policy_name(in->policy), "priority",
                     gv_priority_name(in->priority), "created", created, "join", join);
}

int gvd_instance_render(struct gvd *d, struct gvd_instance *in)
{
    json_t *j = gvd_instance_json(d, in, true);
    char *text = j ? json_dumps(j, GVD_JSON_FLAGS) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    free(in->json);
    in->json = text;
    in->json_len = strlen(text);
    d->generation++;
    return 0;
}

/* --- Listings: one cached body per filter (all, or one tenant), valid for one generation. */

struct gvd_listing {
    atomic_uint refs;
    uint64_t generation;
    char tenant[GVD_NAME_MAX + 1]; /* "" = every instance */
    struct gvd_listing *next;
    size_t len;
    char body[];
};

void gvd_listing_unref(struct gvd_listing *l)
{
    if (l && atomic_fetch_sub(&l->refs, 1) == 1)
        free(l);
}

struct gvd_listing *gvd_listing_next(const struct gvd_listing *l)
{
    return l->next;
}

const char *gvd_listing_body(const struct gvd_listing *l, size_t *len)
{
    *len = l->len;
    return l->body;
}

static struct gvd_listing *listing_build(struct gvd *d, const char *tenant)
{
    static const char head[] = "{\"instances\":[", tail[] = "]}";
    size_t len = sizeof(head) - 1 + sizeof(tail) - 1;
    for (size_t i = 0; i < d->ninstances; i++)
        if (!tenant[0] || strcmp(d->instances[i]->tenant, tenant) == 0)
            len += d->instances[i]->json_len + 1;
    struct gvd_listing *l = malloc(sizeof(*l) + len + 1);
    if (!l)
        return NULL;
    atomic_init(&l->refs, 1);
    l->generation = d->generation;
    snprintf(l->tenant, sizeof(l->tenant), "%s", tenant);
    l->next = NULL;
    char *o = l->body;
    memcpy(o, head, sizeof(head) - 1);
    o += sizeof(head) - 1;
    bool first = true;
    for (size_t i = 0; i < d->ninstances; i++) {
        const struct gvd_instance *in = d->instances[i];
        if (tenant[0] && strcmp(in->tenant, tenant) != 0)
            continue;
        if (!first)
            *o++ = ',';
        first = false;
        memcpy(o, in->json, in->json_len);
        o += in->json_len;
    }
    memcpy(o, tail, sizeof(tail) - 1);
    o += sizeof(tail) - 1;
    *o = '\0';
    l->len = (size_t)(o - l->body);
    return l;
}

/* The listing for a filter, from the cache when it is current. Read lock held: the generation
 * cannot move meanwhile. Returns one reference. */
static struct gvd_listing *listing_get(struct gvd *d, const char *tenant)
{
    pthread_mutex_lock(&d->listing_lock);
    struct gvd_listing **pp = &d->listings, *l, *found = NULL;
    while ((l = *pp) != NULL) {
        if (l->generation != d->generation) { /* stale: out of the cache (responses keep theirs) */
            *pp = l->next;
            gvd_listing_unref(l);
            continue;
        }
        if (strcmp(l->tenant, tenant) == 0)
            found = l;
        pp = &l->next;
    }
    if (!found && (found = listing_build(d, tenant)) != NULL) {
        found->next = d->listings;
        d->listings = found;
    }
    if (found)
        atomic_fetch_add(&found->refs, 1); /* one for the cache, one for the caller */
    pthread_mutex_unlock(&d->listing_lock);
    return found;
}

void gvd_api_instances_list(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    const char *tenant = q->query.tenant;
    if (q->who->role == GVD_ROLE_TENANT) {
        if (tenant[0] && strcmp(tenant, q->who->tenant->name) != 0)
            return gvd_reply_error(r, 404, "tenant \"%s\": no such tenant", tenant);
        tenant = q->who->tenant->name;
    } else if (tenant[0] && !gvd_tenant_find(d, tenant)) {
        return gvd_reply_error(r, 404, "tenant \"%s\": no such tenant", tenant);
    }
    struct gvd_listing *l = listing_get(d, tenant);
    if (!l)
        return gvd_reply_error(r, 500, "out of memory");
    r->status = 200;
    r->listing = l;
}

/* --- Live usage, from the region. */

static uid_t pid_uid(pid_t pid, bool *ok)
{
    char path[32];
    struct stat st;
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    *ok = stat(path, &st) == 0;
    return *ok ? st.st_uid : 0;
}

void gvd_instance_live(const struct gvd_instance *in, struct gvr_snapshot *s, struct gvd_live *out)
{
    memset(out, 0, sizeof(*out));
    if (!in->mapped || gvr_snapshot(&in->region, s) != 0)
        return;
    unsigned dev = 0;
    while (dev < s->ndev && memcmp(s->dev[dev].uuid, in->uuid, GV_UUID_LEN) != 0)
        dev++;
    if (dev == s->ndev)
        return;
    out->known = true;
    out->dev = dev;
    out->used = s->dev[dev].used;
    out->busy_total_ns = s->dev[dev].busy_total_ns;
    out->waited_total_ns = s->dev[dev].waited_total_ns;
    for (unsigned m = 0; m < s->nmember; m++) {
        out->refused += s->member[m].refused[dev];
        out->driver_oom += s->member[m].driver_oom[dev];
    }
    out->members = s->nmember;
}

json_t *gvd_instance_usage_json(struct gvd_instance *in)
{
    json_t *u = json_object();
    struct gvr_snapshot *s = malloc(sizeof(*s));
    struct gvd_live live = {0};
    if (s)
        gvd_instance_live(in, s, &live);
    if (!live.known) {
        free(s);
        json_object_set_new(u, "memory_used", json_null());
        return u;
    }
    unsigned dev = live.dev;
    json_t *members = json_array();
    for (unsigned m = 0; m < s->nmember; m++) {
        bool known;
        uid_t uid = pid_uid(s->member[m].pid, &known);
        char buf[1024];
        struct passwd pw, *res = NULL;
        const char *user = NULL;
        if (known && getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res)
            user = pw.pw_name;
        json_array_append_new(
            members, json_pack("{sI s:o s:o sI sb}", "pid", (json_int_t)s->member[m].pid, "uid",
                               known ? json_integer(uid) : json_null(), "user",
                               user ? json_string(user) : json_null(), "memory",
                               (json_int_t)(s->member[m].bytes[dev] + s->member[m].context[dev]),
                               "alive", s->member[m].alive == GVR_ALIVE));
    }
    json_object_set_new(u, "memory_used", json_integer((json_int_t)live.used));
    json_object_set_new(u, "gpu_time_recent", json_real((double)s->dev[dev].busy_recent_ns / 1e9));
    json_object_set_new(u, "gpu_time_total_ns", json_integer((json_int_t)live.busy_total_ns));
    json_object_set_new(u, "wait_total_ns", json_integer((json_int_t)live.waited_total_ns));
    json_object_set_new(u, "refused", json_integer((json_int_t)live.refused));
    json_object_set_new(u, "driver_oom", json_integer((json_int_t)live.driver_oom));
    json_object_set_new(u, "members", members);
    free(s);
    return u;
}

struct gvd_instance *gvd_api_instance_lookup(struct gvd_req *q, struct gvd_resp *r)
{
    const char *tenant = q->who->role == GVD_ROLE_TENANT ? q->who->tenant->name : NULL;
    struct gvd_instance *in = gvd_instance_find(q->d, q->path.param, tenant);
    if (!in || !gvd_visible(q->who, in)) {
        gvd_reply_error(r, 404, "instance \"%s\": no such instance", q->path.param);
        return NULL;
    }
    return in;
}

void gvd_api_instance_get(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_instance *in = gvd_api_instance_lookup(q, r);
    if (!in)
        return;
    json_t *j = gvd_instance_json(q->d, in, true);
    if (j)
        json_object_set_new(j, "usage", gvd_instance_usage_json(in));
    gvd_reply_json(r, j ? 200 : 500, j);
}

/* --- Admission: quotas and placement. */

static int quota_check(const struct gvd_tenant *t, const struct gvd_usage *u, uint64_t memory,
                       uint32_t share, bool adds, struct gv_error *err)
{
    char a[32], b[32], c[32], x[32];
    const struct gvd_quota *qt = &t->quota;
    if (qt->has_memory && u->memory + memory > qt->memory)
        return gv_error_set(
            err, -EDQUOT, "tenant %s: memory quota is %s, %s in use, %s asked: %s over", t->name,
            gv_size_format(qt->memory, a, sizeof(a)), gv_size_format(u->memory, b, sizeof(b)),
            gv_size_format(memory, c, sizeof(c)),
            gv_size_format(u->memory + memory - qt->memory, x, sizeof(x)));
    if (qt->has_compute && u->share + share > qt->compute)
        return gv_error_set(err, -EDQUOT,
                            "tenant %s: compute quota is %.2f%%, %.2f%% in use, %.2f%% asked: "
                            "%.2f%% over",
                            t->name, qt->compute / 100.0, (double)u->share / 100.0, share / 100.0,
                            (double)(u->share + share - qt->compute) / 100.0);
    if (adds && qt->has_instances && u->instances + 1 > qt->instances)
        return gv_error_set(err, -EDQUOT, "tenant %s: instance quota is %u, %u in use: 1 over",
                            t->name, qt->instances, u->instances);
    return 0;
}

/* A GPU as placement sees it, for a request of profile `profile` (NULL: by memory and compute)
 * of model `model` (NULL: any), without instance `except`. */
static void place_gpu(struct gvd *d, unsigned g, const char *profile, const struct gv_model *model,
                      uint32_t profile_max, const struct gvd_instance *except,
                      struct gv_place_gpu *out)
{
    memset(out, 0, sizeof(*out));
    out->memory_total = d->gpus[g].memory_total;
    out->profile_max = profile_max;
    out->eligible =
        gvd_gpu_mode(&d->gpus[g]) == GVD_MODE_SLICED && (!model || d->gpus[g].model == model);
    for (size_t i = 0; i < d->ninstances; i++) {
        const struct gvd_instance *in = d->instances[i];
        if (in->gpu != (int)g || in == except)
            continue;
        out->memory_used += in->memory;
        out->share_used += in->share;
        out->instances++;
        if (profile && strcmp(in->profile, profile) == 0)
            out->profile_instances++;
    }
}

/* Why an explicitly named GPU is not eligible. */
static int ineligible(struct gvd *d, unsigned g, const struct gv_model *model, const char *profile,
                      struct gv_error *err)
{
    const struct gvd_gpu *gpu = &d->gpus[g];
    if (gvd_gpu_mode(gpu) != GVD_MODE_SLICED)
        return gv_error_set(err, -ENOSPC, "GPU %u is in mode %s: it takes no instances", g,
                            gvd_mode_name(gvd_gpu_mode(gpu)));
    return gv_error_set(err, -ENOSPC, "GPU %u is a %s; profile %s needs a %s", g,
                        gpu->model ? gpu->model->name : gpu->product, profile, model->name);
}

/* --- Create. */

static void new_id(char id[GVD_ID_LEN + 1])
{
    uint8_t raw[GVD_ID_LEN / 2];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n > 0)
            got += (size_t)n;
    }
    gv_hex(raw, sizeof(raw), id);
}

/* Resolve a profile name: a custom profile, or a built-in of the catalogue (whose instances get
 * the default policy and priority: *policy and *priority are left as they are). */
static int profile_resolve(struct gvd *d, const char *name, uint64_t *memory, uint32_t *share,
                           enum gv_policy *policy, enum gv_priority *priority,
                           const struct gv_model **model, uint32_t *max, struct gv_error *err)
{
    const struct gvd_profile *p = gvd_profile_find(d, name);
    if (p) {
        *memory = p->memory;
        *share = p->share;
        *policy = p->policy;
        *priority = p->priority;
        *model = NULL;
        *max = 0;
        return 0;
    }
    const struct gv_profile *bp;
    struct gv_error e = {0};
    if (gv_profile_find(name, NULL, &bp, model, &e) != 0)
        return gv_error_set(err, -EINVAL, "profile: %s", e.msg);
    *memory = bp->memory;
    *share = bp->share;
    *max = bp->max_instances;
    return 0;
}

void gvd_api_instance_create(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_instance_create c;
    struct gv_error err = {0};
    int rc = gvd_parse_instance_create(q->body, q->body_len, &c, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);

    struct gvd_tenant *t;
    if (q->who->role == GVD_ROLE_TENANT) {
        if (c.tenant[0] && strcmp(c.tenant, q->who->tenant->name) != 0)
            return gvd_reply_error(r, 403, "tenant: a tenant makes instances only for itself");
        t = (struct gvd_tenant *)q->who->tenant;
    } else {
        if (!c.tenant[0])
            return gvd_reply_error(r, 400, "tenant: missing (the admin names the tenant)");
        if (!(t = gvd_tenant_find(d, c.tenant)))
            return gvd_reply_error(r, 404, "tenant \"%s\": no such tenant", c.tenant);
    }
    if (c.name[0] && gvd_instance_find(d, c.name, t->name))
        return gvd_reply_error(r, 409, "tenant %s already has an instance named %s", t->name,
                               c.name);

    uint64_t memory = c.memory;
    uint32_t share = c.has_compute ? c.share : 0, max = 0;
    enum gv_policy policy = GV_POLICY_GUARANTEED;
    enum gv_priority priority = GV_PRIORITY_NORMAL;
    const struct gv_model *model = NULL;
    if (c.profile[0] && (rc = profile_resolve(d, c.profile, &memory, &share, &policy, &priority,
                                              &model, &max, &err)) != 0)
        return gvd_reply_err(r, rc, &err);
    if (c.has_policy)
        policy = c.policy;
    if (c.has_priority)
        priority = c.priority;
    if (c.has_priority && priority == GV_PRIORITY_HIGH && q->who->role == GVD_ROLE_TENANT)
        return gvd_reply_error(r, 403,
                               "priority: high is given by the admin (a tenant may ask "
                               "for normal or low, or use a profile that says high)");

    struct gvd_usage u;
    gvd_tenant_usage(d, t->name, &u);
    if ((rc = quota_check(t, &u, memory, share, true, &err)) != 0)
        return gvd_reply_err(r, rc, &err);

    const char *profile = c.profile[0] ? c.profile : NULL;
    struct gv_place_gpu gpus[GV_MAX_GPUS];
    for (unsigned g = 0; g < d->ngpus; g++)
        place_gpu(d, g, profile, model, max, NULL, &gpus[g]);
    int g;
    if (c.has_gpu) {
        g = -1;
        for (unsigned i = 0; i < d->ngpus; i++)
            if (c.gpu_by_uuid ? !memcmp(d->gpus[i].uuid, c.gpu_uuid, GV_UUID_LEN)
                              : c.gpu_index == i)
                g = (int)i;
        if (g < 0)
            return gvd_reply_error(r, 400, "gpu: no such GPU (there are %u: see GET /v1/gpus)",
                                   d->ngpus);
        if (!gpus[g].eligible)
            rc = ineligible(d, (unsigned)g, model, c.profile, &err);
        else if ((rc = gv_place_check(&gpus[g], memory, share, &err)) != 0)
            gv_error_prefix(&err, rc, "GPU %d", g);
    } else {
        g = gv_place(gpus, d->ngpus, memory, share, d->cfg.placement, &err);
        rc = g < 0 ? g : 0;
        if (rc == -ENOSPC && d->ngpus == 0)
            gv_error_set(&err, rc, "this server has no GPU");
    }
    if (rc)
        return gvd_reply_err(r, rc == -ENOSPC ? -ENOSPC : -EINVAL, &err);

    struct gvd_instance *in = calloc(1, sizeof(*in));
    if (!in)
        return gvd_reply_error(r, 500, "out of memory");
    snprintf(in->name, sizeof(in->name), "%s", c.name);
    snprintf(in->tenant, sizeof(in->tenant), "%s", t->name);
    snprintf(in->profile, sizeof(in->profile), "%s", c.profile);
    memcpy(in->uuid, d->gpus[g].uuid, GV_UUID_LEN);
    in->memory = memory;
    in->share = share;
    in->policy = policy;
    in->priority = priority;
    in->created_ns = gvd_now_ns();

    /* An id never issued before: claimed in the same transaction as the row. */
    for (int tries = 0;; tries++) {
        do
            new_id(in->id);
        while (gvd_instance_find(d, in->id, NULL));
        if ((rc = gvd_store_begin(d->store, &err)) != 0)
            goto fail;
        rc = gvd_store_id_claim(d->store, in->id, &err);
        if (rc != -EEXIST || tries == 8)
            break;
        gvd_store_rollback(d->store);
    }
    if (rc)
        goto rollback;
    struct gvr_device_limit lim = {
        .memory = memory, .share = share, .policy = (uint8_t)policy, .priority = (uint8_t)priority};
    memcpy(lim.uuid, in->uuid, GV_UUID_LEN);
    rc = gvr_open(&in->region, d->instances_dir, in->id, GVR_CREATE, &lim, 1, &err);
    if (rc < 0)
        goto rollback;
    in->mapped = true;
    json_t *detail = json_pack("{s:o si s:o sI s:o ss ss}", "name", gvd_json_str_or_null(in->name),
                               "gpu", g, "profile", gvd_json_str_or_null(in->profile), "memory",
                               (json_int_t)memory, "compute", gvd_json_share(share), "policy",
                               gv_policy_name(policy), "priority", gv_priority_name(priority));
    if ((rc = gvd_store_instance_put(d->store, in, true, &err)) != 0 ||
        (rc = gvd_event(d, q->who, t->name, "instance.create", in->id, detail, &err)) != 0)
        goto rollback;
    if ((rc = gvd_store_commit(d->store, &err)) != 0)
        goto unregion;
    if (gvd_instance_add(d, in) != 0 || gvd_instance_render(d, in) != 0) {
        /* The row is committed: the instance exists, and the next start will list it. */
        fprintf(stderr, "gpuvisord: instance %s: out of memory after commit\n", in->id);
        return gvd_reply_error(r, 500, "out of memory");
    }
    json_t *j = gvd_instance_json(d, in, true);
    return gvd_reply_json(r, j ? 201 : 500, j);

rollback:
    gvd_store_rollback(d->store);
unregion:
    if (in->mapped) {
        gvr_close(&in->region);
        gvr_retire(d->instances_dir, in->id, NULL);
    }
fail:
    free(in);
    if (rc == -EEXIST) /* a unique constraint: should have been caught above */
        return gvd_reply_error(r, 409, "instance: conflict: %s", err.msg);
    gvd_reply_error(r, 500, "%s", err.msg);
}

/* --- Resize. */

void gvd_api_instance_patch(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_instance_patch p;
    struct gv_error err = {0};
    int rc = gvd_parse_instance_patch(q->body, q->body_len, &p, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    struct gvd_instance *in = gvd_api_instance_lookup(q, r);
    if (!in)
        return;
    uint64_t memory = p.has_memory ? p.memory : in->memory;
    uint32_t share = p.has_compute ? p.share : in->share;
    enum gv_policy policy = p.has_policy ? p.policy : in->policy;
    enum gv_priority priority = p.has_priority ? p.priority : in->priority;
    char a[32], b[32];
    if (p.has_priority && priority == GV_PRIORITY_HIGH && priority != in->priority &&
        q->who->role == GVD_ROLE_TENANT)
        return gvd_reply_error(r, 403,
                               "priority: high is given by the admin (a tenant may ask "
                               "for normal or low)");

    struct gvd_tenant *t = gvd_tenant_find(d, in->tenant);
    struct gvd_usage u;
    gvd_tenant_usage(d, in->tenant, &u);
    u.memory -= in->memory;
    u.share -= in->share;
    if (t && (rc = quota_check(t, &u, memory, share, false, &err)) != 0)
        return gvd_reply_err(r, rc, &err);

    if (in->gpu >= 0) {
        struct gv_place_gpu g;
        place_gpu(d, (unsigned)in->gpu, NULL, NULL, 0, in, &g);
        g.eligible = true; /* it is there already, whatever its GPU's mode became */
        if ((rc = gv_place_check(&g, memory, share, &err)) != 0) {
            gv_error_prefix(&err, rc, "GPU %d", in->gpu);
            return gvd_reply_err(r, -ENOSPC, &err);
        }
    }
    int dev = in->mapped ? gvr_device_find(&in->region, in->uuid) : -1;
    uint64_t used = dev >= 0 ? gvr_used(&in->region, (unsigned)dev) : 0;
    if (memory < used)
        return gvd_reply_error(r, 409, "instance %s uses %s; cannot shrink to %s", in->id,
                               gv_size_format(used, a, sizeof(a)),
                               gv_size_format(memory, b, sizeof(b)));

    struct gvd_instance next = *in;
    next.memory = memory;
    next.share = share;
    next.policy = policy;
    next.priority = priority;
    /* Limits of its own: it is no longer an instance of its profile (nor counts against the
     * profile's cap per GPU). A policy or priority of its own keeps the profile: the profile's are
     * only the defaults of a new instance. */
    if (memory != in->memory || share != in->share)
        next.profile[0] = '\0';
    json_t *detail =
        json_pack("{s{sIsI}s{soso}s{ssss}s{ssss}}", "memory", "from", (json_int_t)in->memory, "to",
                  (json_int_t)memory, "compute", "from", gvd_json_share(in->share), "to",
                  gvd_json_share(share), "policy", "from", gv_policy_name(in->policy), "to",
                  gv_policy_name(policy), "priority", "from", gv_priority_name(in->priority), "to",
                  gv_priority_name(priority));
    if ((rc = gvd_store_begin(d->store, &err)) != 0) {
        json_decref(detail);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_instance_put(d->store, &next, false, &err)) != 0 ||
        (rc = gvd_event(d, q->who, in->tenant, "instance.resize", in->id, detail, &err)) != 0) {
        gvd_store_rollback(d->store);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_commit(d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    in->memory = memory;
    in->share = share;
    in->policy = policy;
    in->priority = priority;
    memcpy(in->profile, next.profile, sizeof(in->profile));
    /* Members read the policy from the region at their next turn; the local socket asks the daemon
     * (its policy op), since a tenant can write its own region file. */
    if (dev >= 0) {
        gvr_device_set(&in->region, (unsigned)dev, memory, share);
        gvr_policy_set(&in->region, (unsigned)dev, policy, priority);
    }
    gvd_instance_render(d, in);
    gvd_reply_json(r, 200, gvd_instance_json(d, in, true));
}

/* --- Delete. */

int gvd_instance_delete_db(struct gvd *d, const struct gvd_caller *who, struct gvd_instance *inst,
                           struct gv_error *err)
{
    int rc = gvd_store_instance_delete(d->store, inst->id, err);
    if (!rc)
        rc = gvd_event(d, who, inst->tenant, "instance.delete", inst->id,
                       json_pack("{s:o}", "name", gvd_json_str_or_null(inst->name)), err);
    return rc;
}

void gvd_instance_drop(struct gvd *d, struct gvd_instance *inst)
{
    struct gv_error err = {0};
    if (gvr_retire(d->instances_dir, inst->id, &err) < 0 && err.code != -ENOENT)
        fprintf(stderr, "gpuvisord: instance %s: %s\n", inst->id, err.msg);
    gvd_instance_remove(d, inst);
}

void gvd_api_instance_delete(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_instance *in = gvd_api_instance_lookup(q, r);
    if (!in)
        return;
    struct gv_error err = {0};
    int rc = gvd_store_begin(d->store, &err);
    if (rc)
        return gvd_reply_err(r, -EIO, &err);
    if ((rc = gvd_instance_delete_db(d, q->who, in, &err)) != 0) {
        gvd_store_rollback(d->store);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_commit(d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    gvd_instance_drop(d, in);
    r->status = 204;
}

/* --- Regions at start, and the reaper. */

int gvd_region_attach(struct gvd *d, struct gvd_instance *in, struct gv_error *err)
{
    struct gvr_device_limit lim = {.memory = in->memory,
                                   .share = in->share,
                                   .policy = (uint8_t)in->policy,
                                   .priority = (uint8_t)in->priority};
    memcpy(lim.uuid, in->uuid, GV_UUID_LEN);
    int rc = gvr_open(&in->region, d->instances_dir, in->id, 0, &lim, 1, err);
    if (rc == -ENOENT) {
        fprintf(stderr, "gpuvisord: instance %s: region file gone (a reboot?): made again\n",
                in->id);
        rc = gvr_open(&in->region, d->instances_dir, in->id, GVR_CREATE, &lim, 1, err);
    }
    if (rc < 0)
        return rc;
    in->mapped = true;
    /* The database's limits are the truth (a resize commits there first). */
    int dev = gvr_device_find(&in->region, in->uuid);
    if (dev < 0)
        dev = gvr_device_add(&in->region, &lim, NULL, err);
    if (dev < 0)
        return dev;
    if (gvr_limit(&in->region, (unsigned)dev) != in->memory ||
        gvr_share(&in->region, (unsigned)dev) != in->share)
        gvr_device_set(&in->region, (unsigned)dev, in->memory, in->share);
    enum gv_policy policy;
    enum gv_priority priority;
    gvr_policy(&in->region, (unsigned)dev, &policy, &priority);
    if (policy != in->policy || priority != in->priority)
        gvr_policy_set(&in->region, (unsigned)dev, in->policy, in->priority);
    return 0;
}

void gvd_reap(struct gvd *d)
{
    pthread_rwlock_rdlock(&d->lock);
    for (size_t i = 0; i < d->ninstances; i++)
        if (d->instances[i]->mapped)
            gvr_reclaim(&d->instances[i]->region, NULL);
    pthread_rwlock_unlock(&d->lock);
}
