/* SPDX-License-Identifier: Apache-2.0 */
/* vfio.c: giving a whole GPU to VMs (vfio-pci) and back, one IOMMU group at a time.
 *
 * Each function moves with the kernel's deterministic sequence: driver_override names the driver,
 * the current one lets go (unbind), drivers_probe binds it again, and the `driver` link shows
 * whether it took. Functions move in address order, the GPU first. A failure part way undoes the
 * moves already made in reverse, so a group is never left half given: every function ends on the
 * driver it had, and the error says which write failed and what the rollback did. */
#include <errno.h>
#include <string.h>

#include "host/internal.h"

static int override_path(const struct gvh_ctx *c, const char *bdf, char *out, size_t len)
{
    return gvh_path(c, out, len, "/sys/bus/pci/devices/%s/driver_override", bdf);
}

static bool override_set(const struct gvh_ctx *c, const char *bdf)
{
    char v[GVH_NAME_LEN];
    return gvh_read(c, v, sizeof(v), "/sys/bus/pci/devices/%s/driver_override", bdf) == 0 &&
           v[0] && strcmp(v, "(null)") != 0;
}

/* Unbind, and see the driver let go before the next write: the kernel has by the time the write
 * returns; a stand-in kernel may take a moment, and a probe written before it has would find the
 * function still bound. */
static int unbind(const struct gvh_ctx *c, const char *bdf, struct gv_error *err)
{
    char path[PATH_MAX], link[PATH_MAX];
    int rc = gvh_path(c, path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
    if (!rc)
        rc = gvh_path(c, link, sizeof(link), "/sys/bus/pci/devices/%s/driver", bdf);
    if (rc)
        return gv_error_set(err, rc, "%s: path too long", bdf);
    if ((rc = gvh_write(c, path, bdf, err)) != 0 || c->dry_run)
        return rc;
    if (gvh_wait_path(c, link, false) != 0)
        return gv_error_set(err, -EIO, "%s is still bound to its driver after writing to %s", bdf,
                            path);
    return 0;
}

static int probe(const struct gvh_ctx *c, const char *bdf, struct gv_error *err)
{
    char path[PATH_MAX];
    int rc = gvh_path(c, path, sizeof(path), "/sys/bus/pci/drivers_probe");
    return rc ? gv_error_set(err, rc, "%s: path too long", bdf) : gvh_write(c, path, bdf, err);
}

int gvh_fn_to_vfio(const struct gvh_ctx *c, const char *bdf, struct gv_error *err)
{
    char cur[GVH_NAME_LEN], path[PATH_MAX];
    gvh_driver_of(c, bdf, cur);
    if (strcmp(cur, GVH_VFIO_DRIVER) == 0)
        return 0;
    int rc;
    if ((rc = override_path(c, bdf, path, sizeof(path))) != 0)
        return gv_error_set(err, rc, "%s: path too long", bdf);
    if ((rc = gvh_write(c, path, GVH_VFIO_DRIVER, err)) != 0 ||
        (cur[0] && (rc = unbind(c, bdf, err)) != 0) || (rc = probe(c, bdf, err)) != 0)
        return rc;
    if (c->dry_run)
        return 0;
    if (gvh_wait_driver(c, bdf, GVH_VFIO_DRIVER) != 0) {
        gvh_driver_of(c, bdf, cur);
        return gv_error_set(err, -EIO, "%s did not bind to vfio-pci (it is on %s)", bdf,
                            cur[0] ? cur : "no driver");
    }
    return 0;
}

int gvh_fn_to_driver(const struct gvh_ctx *c, const char *bdf, const char *driver,
                     struct gv_error *err)
{
    char cur[GVH_NAME_LEN], path[PATH_MAX];
    gvh_driver_of(c, bdf, cur);
    int rc;
    if ((rc = override_path(c, bdf, path, sizeof(path))) != 0)
        return gv_error_set(err, rc, "%s: path too long", bdf);
    bool settled = driver[0] ? strcmp(cur, driver) == 0
                             : cur[0] && strcmp(cur, GVH_VFIO_DRIVER) != 0;
    if (settled) {
        /* Already there: only the override may be left over from a move that stopped early. */
        return override_set(c, bdf) ? gvh_write(c, path, "\n", err) : 0;
    }
    if ((rc = gvh_write(c, path, "\n", err)) != 0 || (cur[0] && (rc = unbind(c, bdf, err)) != 0) ||
        (rc = probe(c, bdf, err)) != 0)
        return rc;
    if (c->dry_run)
        return 0;
    if (!driver[0]) {
        /* The kernel's choice: whatever binds, or nothing when no driver claims it. */
        gvh_wait_driver(c, bdf, "");
        return 0;
    }
    if (gvh_wait_driver(c, bdf, driver) == 0)
        return 0;
    /* drivers_probe chose another driver, or none: bind the recorded one by name. */
    gvh_driver_of(c, bdf, cur);
    if (cur[0] && (rc = unbind(c, bdf, err)) != 0)
        return rc;
    if ((rc = gvh_path(c, path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver)) != 0)
        return gv_error_set(err, rc, "%s: path too long", bdf);
    if ((rc = gvh_write(c, path, bdf, err)) != 0)
        return rc;
    if (gvh_wait_driver(c, bdf, driver) != 0) {
        gvh_driver_of(c, bdf, cur);
        return gv_error_set(err, -EIO, "%s did not go back to %s (it is on %s)", bdf, driver,
                            cur[0] ? cur : "no driver");
    }
    return 0;
}

/* Undo the moves of rec->fn[0..upto] (in reverse): back to their recorded drivers, or (a release
 * that failed) back to vfio-pci. Adds to why's message what the rollback did. */
static void roll_back(const struct gvh_ctx *c, const struct gvh_passthrough *rec, size_t upto,
                      bool to_vfio, struct gv_error *why)
{
    struct gv_error none;
    if (!why)
        why = &none;
    char first[sizeof(why->msg)] = "";
    for (size_t k = upto + 1; k-- > 0;) {
        struct gv_error e = {0};
        int rc = to_vfio ? gvh_fn_to_vfio(c, rec->fn[k].bdf, &e)
                         : gvh_fn_to_driver(c, rec->fn[k].bdf, rec->fn[k].driver, &e);
        if (rc && !first[0])
            snprintf(first, sizeof(first), "%s", e.msg);
    }
    char was[sizeof(why->msg)];
    snprintf(was, sizeof(was), "%s", why->msg);
    if (first[0])
        gv_error_set(why, why->code, "%s; rolling back failed too: %s", was, first);
    else
        gv_error_set(why, why->code, "%s; rolled back: %s", was,
                     to_vfio ? "the group is on vfio-pci again"
                             : "every function is on the driver it had");
}

int gvh_passthrough(const struct gvh_ctx *c, const char *bdf, struct gvh_passthrough *rec,
                    struct gv_error *err)
{
    memset(rec, 0, sizeof(*rec));
    struct gvh_gpu g;
    int rc = gvh_gpu_get(c, bdf, &g, err);
    if (rc)
        return rc;
    char fns[GVH_MAX_FUNCS][GVH_BDF_LEN];
    size_t n;
    if (gvh_gpu_functions(&g, fns, &n) != 0) {
        rc = gv_error_set(err, -EINVAL, "%s has more than %d functions in its slot", g.bdf,
                          GVH_MAX_FUNCS);
        goto out;
    }
    memcpy(rec->gpu, g.bdf, sizeof(rec->gpu));
    rec->iommu_group = g.iommu_group;
    rec->nfn = n;
    bool all_vfio = true;
    for (size_t i = 0; i < n; i++) {
        memcpy(rec->fn[i].bdf, fns[i], GVH_BDF_LEN);
        gvh_driver_of(c, fns[i], rec->fn[i].driver);
        all_vfio = all_vfio && strcmp(rec->fn[i].driver, GVH_VFIO_DRIVER) == 0;
    }
    if (all_vfio) {
        /* Nothing to do. What they had before is not known: release lets the kernel choose. */
        for (size_t i = 0; i < n; i++)
            rec->fn[i].driver[0] = 0;
        gvh_note(c, "%s and its group are on vfio-pci already: nothing to write", g.bdf);
        goto out;
    }
    if (g.iommu_group < 0) {
        rc = gv_error_set(err, -ENOTSUP,
                          "%s has no IOMMU group: turn the IOMMU on (firmware: VT-d or AMD-Vi; "
                          "kernel: intel_iommu=on or amd_iommu=on) and reboot",
                          g.bdf);
        goto out;
    }
    for (size_t i = 0; i < g.nmembers; i++)
        if (g.members[i].role == GVH_ROLE_FOREIGN) {
            const struct gvh_member *m = &g.members[i];
            rc = gv_error_set(err, -EBUSY,
                              "%s cannot be given to a VM: IOMMU group %d also holds %s (class "
                              "0x%06x, driver %s), which is not part of the GPU; move the GPU to "
                              "another slot or give the whole group",
                              g.bdf, g.iommu_group, m->bdf, m->class_code,
                              m->driver[0] ? m->driver : "none");
            goto out;
        }
    if (!gvh_exists(c, "/sys/module/vfio_pci") &&
        !gvh_exists(c, "/sys/bus/pci/drivers/" GVH_VFIO_DRIVER)) {
        rc = gv_error_set(err, -ENOPKG,
                          "vfio-pci is not loaded: modprobe vfio-pci (and list it in "
                          "/etc/modules-load.d/ so that it loads at boot)");
        goto out;
    }
    struct gvh_user u[1];
    size_t nu = 0;
    if ((rc = gvh_gpu_users(c, g.bdf, u, 1, &nu, err)) != 0)
        goto out;
    if (nu > 0) {
        rc = gv_error_set(err, -EBUSY,
                          "%s is in use: process %d (%s) has %s open%s; stop it first", g.bdf,
                          u[0].pid, u[0].comm, u[0].node, nu > 1 ? ", and others" : "");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = gvh_fn_to_vfio(c, rec->fn[i].bdf, err)) != 0) {
            gv_error_prefix(err, rc, "passthrough of %s", g.bdf);
            roll_back(c, rec, i, false, err);
            goto out;
        }
    }
out:
    gvh_gpu_clear(&g);
    return rc;
}

int gvh_release(const struct gvh_ctx *c, const struct gvh_passthrough *rec, struct gv_error *err)
{
    if (rec->nfn == 0 || rec->nfn > GVH_MAX_FUNCS)
        return gv_error_set(err, -EINVAL, "release: the record of %s names no functions", rec->gpu);
    for (size_t i = 0; i < rec->nfn; i++)
        if (!gvh_exists(c, "/sys/bus/pci/devices/%s", rec->fn[i].bdf))
            return gv_error_set(err, -ENODEV, "release of %s: no PCI device at %s", rec->gpu,
                                rec->fn[i].bdf);
    int group = gvh_group_of(c, rec->gpu);
    if (group >= 0) {
        char node[32];
        snprintf(node, sizeof(node), "/dev/vfio/%d", group);
        struct gvh_user u[1];
        size_t nu = 0;
        int rc = gvh_node_users(c, node, u, 1, &nu);
        if (rc)
            return gv_error_set(err, rc, "/proc cannot be read: %s", strerror(-rc));
        if (nu > 0)
            return gv_error_set(err, -EBUSY,
                                "%s is held by a VM: process %d (%s) has %s open; shut the guest "
                                "down first",
                                rec->gpu, u[0].pid, u[0].comm, u[0].node);
    }
    for (size_t i = 0; i < rec->nfn; i++) {
        int rc = gvh_fn_to_driver(c, rec->fn[i].bdf, rec->fn[i].driver, err);
        if (rc) {
            gv_error_prefix(err, rc, "release of %s", rec->gpu);
            roll_back(c, rec, i, true, err);
            return rc;
        }
    }
    return 0;
}
