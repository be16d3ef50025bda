/* SPDX-License-Identifier: Apache-2.0 */
/* apply.c: making the host match its definitions again after a reboot, and the mode the pool
 * gives each GPU.
 *
 * Nothing of this survives a reboot: drivers come back to their defaults, SR-IOV VFs are gone
 * (NVIDIA's current_vgpu_type reads 0 again) and mdevs vanish. apply re-creates each recorded
 * binding and vGPU, leaving alone what is already there, so running it twice changes nothing the
 * second time. Records are applied one by one: a GPU that is missing or refuses does not keep the
 * others from their guests. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "host/internal.h"

static void line(struct gvh_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct gvh_report *r, const char *fmt, ...)
{
    size_t at = strlen(r->text);
    if (at + 2 >= sizeof(r->text))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text + at, sizeof(r->text) - at - 1, fmt, ap);
    va_end(ap);
    at = strlen(r->text);
    r->text[at] = '\n';
    r->text[at + 1] = 0;
}

static void apply_passthrough(const struct gvh_ctx *c, const struct gvh_passthrough *p,
                              struct gvh_report *r)
{
    bool all = true;
    for (size_t i = 0; i < p->nfn; i++) {
        char cur[GVH_NAME_LEN];
        gvh_driver_of(c, p->fn[i].bdf, cur);
        all = all && strcmp(cur, GVH_VFIO_DRIVER) == 0;
    }
    if (all) {
        r->already++;
        line(r, "%s: on vfio-pci already", p->gpu);
        return;
    }
    /* The recorded functions, not a fresh reading of the group: the record says what the guest
     * was given. gvh_passthrough's checks (group, module, users) run first. */
    struct gvh_passthrough now;
    struct gv_error e = {0};
    int rc = gvh_passthrough(c, p->gpu, &now, &e);
    if (rc) {
        r->failed++;
        line(r, "%s: %s", p->gpu, e.msg);
        return;
    }
    r->done++;
    line(r, "%s: bound to vfio-pci with %zu function%s", p->gpu, now.nfn, now.nfn == 1 ? "" : "s");
}

static void apply_vgpu(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gvh_report *r)
{
    if (!v->start_auto) {
        line(r, "%s: start manual: left to be started by hand", v->id);
        return;
    }
    struct gvh_vgpu now;
    struct gv_error e = {0};
    if (gvh_vgpu_find(c, v->id, &now, NULL) == 0) {
        if (v->sriov && strcmp(now.type, v->type) != 0) {
            r->failed++;
            line(r, "%s: the VF holds vGPU type %s, not the recorded %s: remove it first", v->id,
                 now.type, v->type);
        } else {
            r->already++;
            line(r, "%s: there already", v->id);
        }
        return;
    }
    int rc;
    if (!v->sriov) {
        rc = gvh_vgpu_create(c, v->parent, v->type, v->id, &now, &e);
    } else {
        /* The VF must exist (its address depends on the PF's VF count), and take the type. */
        uint64_t num = 0;
        char path[PATH_MAX];
        gvh_read_u64(c, &num, "/sys/bus/pci/devices/%s/sriov_numvfs", v->parent);
        rc = 0;
        if (num == 0 && v->numvfs > 0)
            rc = gvh_vfs_enable(c, v->parent, v->numvfs, &e);
        if (!rc && !c->dry_run && !gvh_exists(c, "/sys/bus/pci/devices/%s/physfn", v->id))
            rc = gv_error_set(&e, -ENODEV, "no VF at %s (the GPU has %llu VFs)", v->id,
                              (unsigned long long)num);
        if (!rc && (rc = gvh_path(c, path, sizeof(path),
                                  "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", v->id)) != 0)
            gv_error_set(&e, rc, "path too long");
        if (!rc)
            rc = gvh_write(c, path, v->type, &e);
        if (!rc && !c->dry_run) {
            uint64_t cur = 0;
            gvh_read_u64(c, &cur, "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", v->id);
            if (cur != strtoull(v->type, NULL, 10))
                rc = gv_error_set(&e, -EIO, "%s: current_vgpu_type reads %llu after writing %s",
                                  v->id, (unsigned long long)cur, v->type);
        }
    }
    if (rc) {
        r->failed++;
        line(r, "%s: %s", v->id, e.msg);
        return;
    }
    r->done++;
    line(r, "%s: vGPU %s created on %s", v->id, v->type_name[0] ? v->type_name : v->type,
         v->parent);
}

int gvh_apply(const struct gvh_ctx *c, const struct gvh_state *s, struct gvh_report *r,
              struct gv_error *err)
{
    memset(r, 0, sizeof(*r));
    /* vGPUs first: an SR-IOV VF must exist before anything that names it. */
    for (size_t i = 0; i < s->nvgpus; i++)
        apply_vgpu(c, &s->vgpus[i], r);
    for (size_t i = 0; i < s->npt; i++)
        apply_passthrough(c, &s->pt[i], r);
    if (r->failed)
        return gv_error_set(err, -EIO, "%u of %zu definitions could not be applied", r->failed,
                            s->npt + s->nvgpus);
    return 0;
}

enum gvh_mode gvh_mode_of(const struct gvh_ctx *c, const struct gvh_state *s, const char *bdf)
{
    char canon[GVH_BDF_LEN];
    if (gvh_bdf_parse(bdf, canon, NULL) != 0)
        return GVH_MODE_HOST;
    for (size_t i = 0; s && i < s->npt; i++)
        if (strcmp(s->pt[i].gpu, canon) == 0)
            return GVH_MODE_PASSTHROUGH;
    for (size_t i = 0; s && i < s->nvgpus; i++)
        if (strcmp(s->vgpus[i].parent, canon) == 0)
            return GVH_MODE_VGPU_PARENT;
    struct gvh_gpu g;
    if (gvh_gpu_get(c, canon, &g, NULL) != 0)
        return GVH_MODE_HOST;
    gvh_gpu_clear(&g);
    return g.mode;
}
