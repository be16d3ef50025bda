/* SPDX-License-Identifier: Apache-2.0 */
/* localops.c: what the local socket (local.c) asks the daemon core: may this Unix user join that
 * instance, what are an instance's share, compute policy and priority now, and serve this HTTP
 * connection.
 *
 * The answer to "may it join" never tells an outsider more than "no such instance": an instance
 * of a tenant the user does not belong to gets the same -ENOENT and the same message as a name
 * that exists nowhere. A name is looked up only among the tenants the user belongs to, so another
 * tenant's instance of the same name can neither be joined nor detected. uid 0 and the daemon's
 * own user may join any instance (they can read its file anyway). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/gvd.h"
#include "daemon/http.h"
#include "daemon/localops.h"

static bool admin_uid(const struct gvd *d, uid_t uid)
{
    return uid == 0 || uid == d->uid;
}

/* The instance `key` names for this peer, or NULL. Read lock held. */
static struct gvd_instance *find_for(struct gvd *d, const char *key, const struct ucred *cred)
{
    bool admin = admin_uid(d, cred->uid);
    if (gvd_is_id(key)) {
        struct gvd_instance *in = gvd_instance_find(d, key, NULL);
        if (in && strcmp(in->id, key) == 0) {
            struct gvd_tenant *t = gvd_tenant_find(d, in->tenant);
            return admin || (t && gvd_tenant_has(t, cred->uid, cred->gid)) ? in : NULL;
        }
    }
    /* A name: among the tenants this user belongs to (each asked once), unique there. */
    struct gvd_instance *found = NULL;
    for (size_t i = 0; i < d->ntenants; i++) {
        const struct gvd_tenant *t = d->tenants[i];
        if (!admin && !gvd_tenant_has(t, cred->uid, cred->gid))
            continue;
        struct gvd_instance *in = gvd_instance_find(d, key, t->name);
        if (in && in->name[0] && strcmp(in->name, key) == 0) {
            if (found)
                return NULL;
            found = in;
        }
    }
    return found;
}

static int op_join(void *ctx, const char *key, const struct ucred *cred, int *fd, char id_out[16],
                   uint8_t uuid[16], uint32_t *share, struct gv_error *err)
{
    struct gvd *d = ctx;
    int rc = 0;
    pthread_rwlock_rdlock(&d->lock);
    struct gvd_instance *in = find_for(d, key, cred);
    if (!in) {
        rc = gv_error_set(err, -ENOENT, "no instance \"%.64s\" for uid %u", key,
                          (unsigned)cred->uid);
        goto out;
    }
    *fd = openat(d->instances_fd, in->id, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0) {
        rc = gv_error_set(err, -errno, "instance %s: its region file: %s", in->id, strerror(errno));
        goto out;
    }
    snprintf(id_out, 16, "%s", in->id);
    memcpy(uuid, in->uuid, GV_UUID_LEN);
    *share = in->share;
out:
    pthread_rwlock_unlock(&d->lock);
    return rc;
}

/* Instance id on GPU uuid, its share, policy and priority now; -ENOENT once it is gone. */
static int instance_now(struct gvd *d, const char *id, const uint8_t uuid[16], uint32_t *share,
                        enum gv_policy *policy, enum gv_priority *priority)
{
    int rc = -ENOENT;
    pthread_rwlock_rdlock(&d->lock);
    struct gvd_instance *in = gvd_is_id(id) ? gvd_instance_find(d, id, NULL) : NULL;
    if (in && strcmp(in->id, id) == 0 && memcmp(in->uuid, uuid, GV_UUID_LEN) == 0) {
        *share = in->share;
        *policy = in->policy;
        *priority = in->priority;
        rc = 0;
    }
    pthread_rwlock_unlock(&d->lock);
    return rc;
}

static int op_share(void *ctx, const char *id, const uint8_t uuid[16], uint32_t *share)
{
    enum gv_policy policy;
    enum gv_priority priority;
    return instance_now(ctx, id, uuid, share, &policy, &priority);
}

static int op_policy(void *ctx, const char *id, const uint8_t uuid[16], enum gv_policy *policy,
                     enum gv_priority *priority)
{
    uint32_t share;
    return instance_now(ctx, id, uuid, &share, policy, priority);
}

static int op_http(void *ctx, int fd)
{
    struct gvd *d = ctx;
    return gvd_http_add(d->http, fd);
}

void gvd_local_ops_fill(struct gvd *d, struct gvd_local_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->ctx = d;
    ops->join = op_join;
    ops->share = op_share;
    ops->policy = op_policy;
    ops->http = op_http;
}
