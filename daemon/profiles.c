/* SPDX-License-Identifier: Apache-2.0 */
/* profiles.c: the ways a GPU can be cut: the catalogue's built-in profiles of the models this
 * server has (core/catalogue.c: "T4-4C" is 4 GiB and a quarter of a T4's time, four to a GPU),
 * and custom ones the admin names ("small": 2 GiB, 25%).
 *
 * Built-ins are listed from the catalogue each time, never copied into the database: they belong
 * to the code, and a newer gpuvisord's catalogue shows at once. A custom profile may not take a
 * built-in's name (any model's, present or not), so that a name means one thing everywhere. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/store.h"

static const char *kind_name(enum gv_profile_kind k)
{
    switch (k) {
    case GV_PROFILE_TIMESLICED:
        return "timesliced";
    case GV_PROFILE_MIG:
        return "mig";
    default:
        return "custom";
    }
}

static json_t *builtin_json(const struct gv_model *m, const struct gv_profile *p)
{
    char name[GVD_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s-%s", m->name, p->name);
    /* A built-in profile gives its instances the defaults. */
    return json_pack("{ss ss ss sI s:o ss ss si sb}", "name", name, "model", m->name, "kind",
                     kind_name(p->kind), "memory", (json_int_t)p->memory, "compute",
                     gvd_json_share(p->share), "policy", gv_policy_name(GV_POLICY_GUARANTEED),
                     "priority", gv_priority_name(GV_PRIORITY_NORMAL), "max_instances",
                     (int)p->max_instances, "builtin", 1);
}

static json_t *custom_json(const struct gvd_profile *p)
{
    return json_pack("{ss s:o ss sI s:o ss ss s:o sb}", "name", p->name, "model", json_null(),
                     "kind", "custom", "memory", (json_int_t)p->memory, "compute",
                     gvd_json_share(p->share), "policy", gv_policy_name(p->policy), "priority",
                     gv_priority_name(p->priority), "max_instances", json_null(), "builtin", 0);
}

/* Each catalogue model present in the inventory, once, in inventory order. */
static void each_model(struct gvd *d, void (*fn)(const struct gv_model *m, void *arg), void *arg)
{
    for (unsigned i = 0; i < d->ngpus; i++) {
        const struct gv_model *m = d->gpus[i].model;
        bool seen = false;
        for (unsigned k = 0; k < i && !seen; k++)
            seen = d->gpus[k].model == m;
        if (m && !seen)
            fn(m, arg);
    }
}

static void list_model(const struct gv_model *m, void *arg)
{
    for (size_t i = 0; i < m->nprofiles; i++)
        json_array_append_new(arg, builtin_json(m, &m->profiles[i]));
}

void gvd_api_profiles_list(struct gvd_req *q, struct gvd_resp *r)
{
    json_t *a = json_array();
    each_model(q->d, list_model, a);
    for (size_t i = 0; i < q->d->nprofiles; i++)
        json_array_append_new(a, custom_json(q->d->profiles[i]));
    gvd_reply_json(r, 200, json_pack("{so}", "profiles", a));
}

void gvd_api_profile_get(struct gvd_req *q, struct gvd_resp *r)
{
    const struct gvd_profile *p = gvd_profile_find(q->d, q->path.param);
    if (p)
        return gvd_reply_json(r, 200, custom_json(p));
    const struct gv_profile *bp;
    const struct gv_model *m;
    struct gv_error err = {0};
    if (gv_profile_find(q->path.param, NULL, &bp, &m, &err) == 0)
        return gvd_reply_json(r, 200, builtin_json(m, bp));
    gvd_reply_error(r, 404, "profile \"%s\": no such profile", q->path.param);
}

void gvd_api_profile_create(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_profile_create c;
    struct gv_error err = {0};
    int rc = gvd_parse_profile_create(q->body, q->body_len, &c, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    const struct gv_profile *bp;
    if (gv_profile_find(c.name, NULL, &bp, NULL, NULL) == 0)
        return gvd_reply_error(r, 409, "profile \"%s\" is a built-in profile: choose another name",
                               c.name);
    if (gvd_profile_find(q->d, c.name))
        return gvd_reply_error(r, 409, "profile \"%s\" exists already", c.name);
    struct gvd_profile *p = calloc(1, sizeof(*p));
    if (!p)
        return gvd_reply_error(r, 500, "out of memory");
    snprintf(p->name, sizeof(p->name), "%s", c.name);
    p->memory = c.memory;
    p->share = c.share;
    p->policy = c.policy;
    p->priority = c.priority;
    p->created = gvd_now();
    if ((rc = gvd_store_begin(q->d->store, &err)) != 0)
        goto fail;
    if ((rc = gvd_store_profile_put(q->d->store, p, &err)) != 0 ||
        (rc = gvd_event(q->d, q->who, NULL, "profile.create", p->name, custom_json(p), &err))) {
        gvd_store_rollback(q->d->store);
        goto fail;
    }
    if ((rc = gvd_store_commit(q->d->store, &err)) != 0)
        goto fail;
    if (gvd_profile_add(q->d, p) != 0) {
        free(p);
        return gvd_reply_error(r, 500, "out of memory");
    }
    return gvd_reply_json(r, 201, custom_json(p));
fail:
    free(p);
    gvd_reply_err(r, -EIO, &err);
}

void gvd_api_profile_delete(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_profile *p = gvd_profile_find(q->d, q->path.param);
    if (!p) {
        if (gv_profile_find(q->path.param, NULL, &(const struct gv_profile *){NULL}, NULL, NULL) ==
            0)
            return gvd_reply_error(r, 409, "profile \"%s\" is built in: it cannot be deleted",
                                   q->path.param);
        return gvd_reply_error(r, 404, "profile \"%s\": no such profile", q->path.param);
    }
    struct gv_error err = {0};
    int rc = gvd_store_begin(q->d->store, &err);
    if (rc)
        return gvd_reply_err(r, -EIO, &err);
    if ((rc = gvd_store_profile_delete(q->d->store, p->name, &err)) != 0 ||
        (rc = gvd_event(q->d, q->who, NULL, "profile.delete", p->name, NULL, &err)) != 0) {
        gvd_store_rollback(q->d->store);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_commit(q->d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    gvd_profile_remove(q->d, p);
    r->status = 204;
}
