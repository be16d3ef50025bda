/* SPDX-License-Identifier: Apache-2.0 */
/* tenants.c: the groups that share the server: their quotas, their Unix users and groups, and
 * their tokens.
 *
 * Only the admin makes, changes and deletes tenants; a tenant sees itself. A tenant's token is
 * shown once, when it is made or replaced, and kept only as its hash. A quota is optional per
 * resource (total memory, total compute and the number of instances, across the tenant's
 * instances); lowering one below what is in use is allowed (it refuses the next growth, it does
 * not take anything away). Deleting a tenant that still has instances is refused unless forced,
 * and then its instances go in the same transaction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/store.h"

static json_t *names_json(const struct gvd_members_req *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n; i++)
        json_array_append_new(a, json_string(m->name[i]));
    return a;
}

json_t *gvd_tenant_json(struct gvd *d, const struct gvd_tenant *t)
{
    struct gvd_usage u;
    gvd_tenant_usage(d, t->name, &u);
    const struct gvd_quota *q = &t->quota;
    return json_pack(
        "{ss s:o s:o s:{s:o s:o s:o} s:{sI s:o si}}", "name", t->name, "users",
        names_json(&t->users), "groups", names_json(&t->groups), "quota", "memory",
        q->has_memory ? json_integer((json_int_t)q->memory) : json_null(), "compute",
        q->has_compute ? gvd_json_share(q->compute) : json_null(), "instances",
        q->has_instances ? json_integer(q->instances) : json_null(), "usage", "memory",
        (json_int_t)u.memory, "compute", json_real((double)u.share / 100.0), "instances",
        (int)u.instances);
}

/* The tenant the path names, as the caller may see it: a tenant sees only itself. */
static struct gvd_tenant *lookup(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_tenant *t = gvd_tenant_find(q->d, q->path.param);
    if (!t || (q->who->role == GVD_ROLE_TENANT && t != q->who->tenant)) {
        gvd_reply_error(r, 404, "tenant \"%s\": no such tenant", q->path.param);
        return NULL;
    }
    return t;
}

void gvd_api_tenants_list(struct gvd_req *q, struct gvd_resp *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < q->d->ntenants; i++)
        if (q->who->role == GVD_ROLE_ADMIN || q->d->tenants[i] == q->who->tenant)
            json_array_append_new(a, gvd_tenant_json(q->d, q->d->tenants[i]));
    gvd_reply_json(r, 200, json_pack("{so}", "tenants", a));
}

void gvd_api_tenant_get(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_tenant *t = lookup(q, r);
    if (t)
        gvd_reply_json(r, 200, gvd_tenant_json(q->d, t));
}

static void quota_apply(struct gvd_quota *q, const struct gvd_quota_req *in)
{
    if (in->memory.set) {
        q->has_memory = !in->memory.null;
        q->memory = in->memory.value;
    }
    if (in->compute.set) {
        q->has_compute = !in->compute.null;
        q->compute = (uint32_t)in->compute.value;
    }
    if (in->instances.set) {
        q->has_instances = !in->instances.null;
        q->instances = (uint32_t)in->instances.value;
    }
}

/* Commit the tenant t (new or changed) with an event; on success the caller applies it. */
static int commit_tenant(struct gvd_req *q, const struct gvd_tenant *t, bool create,
                         const char *action, json_t *detail, struct gv_error *err)
{
    int rc = gvd_store_begin(q->d->store, err);
    if (rc) {
        json_decref(detail);
        return rc;
    }
    if ((rc = gvd_store_tenant_put(q->d->store, t, create, err)) != 0 ||
        (rc = gvd_event(q->d, q->who, t->name, action, t->name, detail, err)) != 0) {
        gvd_store_rollback(q->d->store);
        return rc;
    }
    return gvd_store_commit(q->d->store, err);
}

void gvd_api_tenant_create(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_tenant_create *c = malloc(sizeof(*c));
    struct gvd_tenant *t = calloc(1, sizeof(*t));
    struct gv_error err = {0};
    char token[GVD_TOKEN_LEN + 1];
    int rc;
    if (!c || !t) {
        gvd_reply_error(r, 500, "out of memory");
        goto out;
    }
    if ((rc = gvd_parse_tenant_create(q->body, q->body_len, c, &err)) != 0) {
        gvd_reply_err(r, rc, &err);
        goto out;
    }
    if (gvd_tenant_find(q->d, c->name)) {
        gvd_reply_error(r, 409, "tenant \"%s\" exists already", c->name);
        goto out;
    }
    snprintf(t->name, sizeof(t->name), "%s", c->name);
    t->users = c->users;
    t->groups = c->groups;
    quota_apply(&t->quota, &c->quota);
    t->created = gvd_now();
    if ((rc = gvd_token_new(token, t->token_hash, &err)) != 0 ||
        (rc = commit_tenant(q, t, true, "tenant.create", gvd_tenant_json(q->d, t), &err)) != 0) {
        gvd_reply_err(r, rc == -EEXIST ? -EEXIST : -EIO, &err);
        goto out;
    }
    if (gvd_tenant_add(q->d, t) != 0) {
        gvd_reply_error(r, 500, "out of memory");
        goto out;
    }
    json_t *j = gvd_tenant_json(q->d, t);
    json_object_set_new(j, "token", json_string(token));
    gvd_reply_json(r, 201, j);
    t = NULL;
out:
    explicit_bzero(token, sizeof(token));
    free(c);
    free(t);
}

void gvd_api_tenant_patch(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_tenant_patch *p = malloc(sizeof(*p));
    struct gvd_tenant *next = malloc(sizeof(*next));
    struct gv_error err = {0};
    int rc;
    if (!p || !next) {
        gvd_reply_error(r, 500, "out of memory");
        goto out;
    }
    if ((rc = gvd_parse_tenant_patch(q->body, q->body_len, p, &err)) != 0) {
        gvd_reply_err(r, rc, &err);
        goto out;
    }
    struct gvd_tenant *t = lookup(q, r);
    if (!t)
        goto out;
    *next = *t;
    if (p->users.set)
        next->users = p->users;
    if (p->groups.set)
        next->groups = p->groups;
    quota_apply(&next->quota, &p->quota);
    if ((rc = commit_tenant(q, next, false, "tenant.update", gvd_tenant_json(q->d, next),
                            &err)) != 0) {
        gvd_reply_err(r, -EIO, &err);
        goto out;
    }
    *t = *next;
    gvd_reply_json(r, 200, gvd_tenant_json(q->d, t));
out:
    free(p);
    free(next);
}

void gvd_api_tenant_token(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_tenant *t = lookup(q, r);
    if (!t)
        return;
    struct gv_error err = {0};
    char token[GVD_TOKEN_LEN + 1];
    struct gvd_tenant *next = malloc(sizeof(*next));
    if (!next)
        return gvd_reply_error(r, 500, "out of memory");
    *next = *t;
    int rc = gvd_token_new(token, next->token_hash, &err);
    if (!rc)
        rc = commit_tenant(q, next, false, "tenant.token", NULL, &err);
    if (rc) {
        free(next);
        return gvd_reply_err(r, -EIO, &err);
    }
    memcpy(t->token_hash, next->token_hash, sizeof(t->token_hash));
    free(next);
    gvd_reply_json(r, 200, json_pack("{ssss}", "name", t->name, "token", token));
    explicit_bzero(token, sizeof(token));
}

void gvd_api_tenant_delete(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gvd_tenant *t = lookup(q, r);
    if (!t)
        return;
    struct gvd_usage u;
    gvd_tenant_usage(d, t->name, &u);
    if (u.instances && !q->query.force)
        return gvd_reply_error(r, 409,
                               "tenant %s has %u instance%s: delete them first, or add ?force=1 "
                               "to delete them with it",
                               t->name, u.instances, u.instances == 1 ? "" : "s");
    struct gv_error err = {0};
    int rc = gvd_store_begin(d->store, &err);
    if (rc)
        return gvd_reply_err(r, -EIO, &err);
    for (size_t i = 0; i < d->ninstances && !rc; i++)
        if (strcmp(d->instances[i]->tenant, t->name) == 0)
            rc = gvd_instance_delete_db(d, q->who, d->instances[i], &err);
    if (!rc)
        rc = gvd_store_tenant_delete(d->store, t->name, &err);
    if (!rc)
        rc = gvd_event(d, q->who, t->name, "tenant.delete", t->name,
                       json_pack("{sbsi}", "force", q->query.force, "instances", (int)u.instances),
                       &err);
    if (rc) {
        gvd_store_rollback(d->store);
        return gvd_reply_err(r, -EIO, &err);
    }
    if ((rc = gvd_store_commit(d->store, &err)) != 0)
        return gvd_reply_err(r, -EIO, &err);
    for (size_t i = d->ninstances; i-- > 0;)
        if (strcmp(d->instances[i]->tenant, t->name) == 0)
            gvd_instance_drop(d, d->instances[i]);
    gvd_tenant_remove(d, t);
    r->status = 204;
}
