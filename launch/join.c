/* SPDX-License-Identifier: Apache-2.0 */
/* join.c: joining an instance of gpuvisord, for a process about to start a tenant.
 *
 * The daemon checks the caller's Unix user (from the socket, not from anything the caller says)
 * against the instance's tenant, then hands over an open descriptor of the instance's region file,
 * which no tenant could open by path. The descriptor is made inheritable here, so that the command
 * and everything it starts find it under GPUVISOR_REGION_FD without asking the daemon again. The
 * reply also names the instance's id (the caller may have given a name) and its GPU, which become
 * GPUVISOR_INSTANCE and CUDA_VISIBLE_DEVICES. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "launch/launch.h"

#if __has_include("region/daemon.h")
#include "region/daemon.h"

int gvl_daemon_join(const char *socket, const char *key, struct gvl_member *m,
                    struct gv_error *err)
{
    *m = (struct gvl_member){.fd = -1};
    struct gvr_dreq q = {.op = GVR_DOP_JOIN};
    struct gvr_drep p;
    if (strlen(key) >= sizeof(q.key))
        return gv_error_set(err, -EINVAL, "instance \"%s\": too long for an id or a name", key);
    strcpy(q.key, key);
    int c = gvr_daemon_connect(socket, err);
    if (c < 0)
        return gv_error_prefix(err, -ECONNREFUSED, "cannot reach gpuvisord at %s", socket);
    int fd = -1;
    int rc = gvr_daemon_call(c, &q, &p, &fd, GVR_DAEMON_CALL_NS, err);
    close(c);
    if (rc < 0)
        return gv_error_prefix(err, -ECONNREFUSED, "gpuvisord at %s", socket);
    if (p.status < 0) {
        if (fd >= 0)
            close(fd);
        p.msg[sizeof(p.msg) - 1] = '\0';
        return gv_error_set(err, p.status, "%s", p.msg[0] ? p.msg : strerror(-p.status));
    }
    if (fd < 0)
        return gv_error_set(err, -EPROTO, "gpuvisord at %s let us join \"%s\" but sent no region",
                            socket, key);
    rc = gvl_fd_inherit(fd, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    m->fd = fd;
    m->share = p.share;
    p.id[sizeof(p.id) - 1] = '\0';
    snprintf(m->id, sizeof(m->id), "%s", p.id);
    gv_uuid_format(p.uuid, m->uuid);
    return 0;
}

#else

int gvl_daemon_join(const char *socket, const char *key, struct gvl_member *m,
                    struct gv_error *err)
{
    (void)key;
    *m = (struct gvl_member){.fd = -1};
    return gv_error_set(err, -ENOSYS,
                        "this gpuvisor was built without gpuvisord's local protocol; cannot join "
                        "through %s",
                        socket);
}

#endif
