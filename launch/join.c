/* SPDX-License-Identifier: Apache-2.0 */
/* join.c: joining an instance of gpuvisord, for a process about to start a tenant.
 *
 * The daemon checks the caller's Unix user (from the socket, not from anything the caller says)
 * against the instance's tenant, then hands over an open descriptor of the instance's region file,
 * which no tenant could open by path (region/daemon.h). The descriptor is made inheritable here, so
 * that the command and everything it starts find it under GPUVISOR_REGION_FD without asking the
 * daemon again. The region itself says the rest: its name is the instance's id (the caller may have
 * given a name) and its one GPU's UUID becomes CUDA_VISIBLE_DEVICES. Mapping it here also checks,
 * before anything is started, that what came is a region this build can read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "launch/launch.h"
#include "region/daemon.h"
#include "region/region.h"

int gvl_daemon_join(const char *socket, const char *key, struct gvl_member *m,
                    struct gv_error *err)
{
    *m = (struct gvl_member){.fd = -1};
    int fd = -1;
    int rc = gvr_daemon_join(socket, key, &fd, err);
    if (rc < 0)
        return rc;
    struct gvr_region r = {0};
    struct gvr_device_limit lim;
    rc = gvr_open_fd(&r, fd, GVR_READONLY, err);
    if (rc < 0) {
        close(fd);
        return gv_error_prefix(err, rc, "the region gpuvisord sent for instance \"%s\"", key);
    }
    if (gvr_device_count(&r) < 1 || gvr_device_get(&r, 0, &lim) < 0) {
        gvr_close(&r);
        close(fd);
        return gv_error_set(err, -EPROTO, "instance \"%s\": gpuvisord's region names no GPU", key);
    }
    snprintf(m->id, sizeof(m->id), "%s", r.name);
    gv_uuid_format(lim.uuid, m->uuid);
    m->share = lim.share;
    gvr_close(&r);
    rc = gvl_fd_inherit(fd, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    m->fd = fd;
    return 0;
}
