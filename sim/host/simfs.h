/* SPDX-License-Identifier: Apache-2.0 */
/* simfs.h: the fake tree's building blocks, shared by the builder (tree.c) and the kernel
 * (kernel.c): paths under ROOT, files the kernel writes, relative links, and one PCI function.
 *
 * The kernel's own writes go through a temporary file in ROOT/.sim and a rename, never an
 * open-for-write in the tree: the inotify kernel watches IN_CLOSE_WRITE, and a file it rewrote
 * itself must not look like a new write to it. */
#ifndef GVSIM_SIMFS_H
#define GVSIM_SIMFS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SIM_DEVS     "sys/devices/pci0000:40"
#define SIM_DRIVERS  "sys/bus/pci/drivers"
#define SIM_GROUPS   "sys/kernel/iommu_groups"
#define SIM_VFIO     "vfio-pci"
#define SIM_BDF_LEN  16
#define SIM_NAME_LEN 64
#define SIM_WRITABLE 0644
#define SIM_READONLY 0444

/* snprintf, for paths and values whose truncation the caller accepts (a name too long for its
 * buffer is refused or never found later). */
int sim_fmt(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* root + "/" + the formatted relative path. -ENAMETOOLONG when it does not fit. */
int sim_path(char *out, size_t n, const char *root, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sim_mkdirs(const char *path); /* mkdir -p */
/* Replace ROOT/rel with content (parents made), atomically. */
int sim_put(const char *root, const char *rel, const char *content, mode_t mode);
/* ROOT/rel becomes a symlink to target (replacing what was there). */
int sim_link(const char *root, const char *rel, const char *target);
int sim_unlink(const char *root, const char *rel);
int sim_rm_rf(const char *root, const char *rel);
bool sim_exists(const char *root, const char *rel);
/* Read ROOT/rel into buf (NUL-terminated). Length or -errno. */
int sim_read(const char *root, const char *rel, char *buf, size_t n);
void sim_trim(char *s); /* drop trailing whitespace */
/* Canonical lowercase form of a full PCI address; false when text is not one. */
bool sim_bdf_ok(const char *text, char out[SIM_BDF_LEN]);
bool sim_uuid_ok(const char *text);

/* One PCI function, as the builder and the SR-IOV kernel make them. */
struct sim_dev {
    char bdf[SIM_BDF_LEN];
    unsigned vendor, device, class_code, sub_vendor, sub_device;
    char driver[SIM_NAME_LEN]; /* bound now; "" unbound */
    char native[SIM_NAME_LEN]; /* what a probe without override binds */
    char override[SIM_NAME_LEN];
    int group;              /* -1: no IOMMU */
    int minor;              /* -1: none */
    char drm[SIM_NAME_LEN]; /* "card0,renderD128" */
};
int sim_make_driver(const char *root, const char *name);
int sim_make_dev(const char *root, const struct sim_dev *d);

/* Kernel actions the builder also uses. */
int sim_bind(const char *root, const char *bdf, const char *driver);
int sim_refresh_vfio(const char *root, int group);
int sim_next_group(const char *root);
int sim_set_numvfs(const char *root, const char *pf, unsigned n);
int sim_refresh_sriov(const char *root, const char *pf);

#endif
