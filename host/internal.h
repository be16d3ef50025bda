/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h: what the files of host/ share and nobody else uses: paths under the roots, reading
 * sysfs attributes, the one function every write goes through, and waiting for the kernel. */
#ifndef GV_HOST_INTERNAL_H
#define GV_HOST_INTERNAL_H

#include <stdarg.h>

#include "host/host.h"

#define GVH_VFIO_DRIVER "vfio-pci"

/* root + the formatted path ("/sys/..."). Returns 0 or -ENAMETOOLONG. */
int gvh_path(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same under config_root. */
int gvh_cpath(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Read a small file under the root, trailing whitespace removed. 0 or -errno. */
int gvh_read(const struct gvh_ctx *c, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Read a number written in hex ("0x10de") or decimal. 0 or -errno / -EINVAL. */
int gvh_read_u64(const struct gvh_ctx *c, uint64_t *v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The last component of the link's target, "" when there is no link. 0, or -errno other than
 * ENOENT. */
int gvh_link_name(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether the path exists under the root (following links). */
bool gvh_exists(const struct gvh_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The driver a PCI function is bound to ("" when none), the mode's basis. */
int gvh_driver_of(const struct gvh_ctx *c, const char *bdf, char out[GVH_NAME_LEN]);
/* The IOMMU group number, or -1. */
int gvh_group_of(const struct gvh_ctx *c, const char *bdf);

/* The one place a write is made (or, in a dry run, printed). path is the full path. Returns 0, or
 * -EIO with err naming the path, the value and the system's reason. */
int gvh_write(const struct gvh_ctx *c, const char *path, const char *value, struct gv_error *err);
/* A note in a dry run's plan ("# ..."); nothing otherwise. */
void gvh_note(const struct gvh_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Wait until the function is bound to driver ("" for: bound to anything). 0, or -ETIMEDOUT. */
int gvh_wait_driver(const struct gvh_ctx *c, const char *bdf, const char *driver);
/* Wait until the path exists (want true) or is gone (false). 0, or -ETIMEDOUT. */
int gvh_wait_path(const struct gvh_ctx *c, const char *path, bool want);

/* pci.c: the processes holding node ("/dev/vfio/12", under the root) open, as gvh_gpu_users. */
int gvh_node_users(const struct gvh_ctx *c, const char *node, struct gvh_user *users, size_t max,
                   size_t *n);

/* vfio.c: the moves of one function, used by passthrough, release, apply and rollback. */
int gvh_fn_to_vfio(const struct gvh_ctx *c, const char *bdf, struct gv_error *err);
int gvh_fn_to_driver(const struct gvh_ctx *c, const char *bdf, const char *driver,
                     struct gv_error *err);

/* pci.c: the GPU's functions given together (itself, then the other functions of its slot that
 * are in its group), from a fresh read. */
int gvh_gpu_functions(const struct gvh_gpu *g, char fns[GVH_MAX_FUNCS][GVH_BDF_LEN], size_t *n);

/* vgpu.c: write n to the PF's sriov_numvfs and, unless n is 0 or this is a dry run, wait for every
 * VF and its vGPU files to appear. */
int gvh_vfs_enable(const struct gvh_ctx *c, const char *pf, unsigned n, struct gv_error *err);

/* vgpu.c: random UUID (version 4) in canonical form. */
int gvh_uuid_random(char out[GVH_ID_LEN]);

/* Match a type given by the user against an offered id and name. */
bool gvh_type_matches(const char *given, const char *id, const char *name);

#endif
