/* SPDX-License-Identifier: Apache-2.0 */
/* host.h: whole GPUs for VMs (VFIO passthrough) and vendor vGPUs (mdev, NVIDIA SR-IOV), through sysfs.
 *
 * This is the host side of the first and second ways in docs/architecture.md. It reads the PCI
 * tree the kernel shows in sysfs, changes drivers and creates vGPUs by writing the files the kernel
 * documents, and keeps a record of what it did so that `apply` can do it again after a reboot
 * (bindings, SR-IOV virtual functions and vGPUs do not survive one). The `gpuvisor host` commands
 * and gpuvisord both use it; it holds no state of its own between calls.
 *
 * Roots. Every path is read under ctx->root (the sysfs root: "/" on a real host, a fake tree in
 * tests) and every definition under ctx->config_root (etc/mdevctl.d, var/lib/gpuvisor/host.json).
 * Device nodes (dev/) and /proc/driver/nvidia are read under ctx->root too; processes are always
 * the real /proc's, since the processes that hold a device open are real ones.
 *
 * Writes. Every change is a plan: a list of (path, value) writes made in order, each with the
 * check that it took. With ctx->dry_run the plan is printed and nothing is written. When a write
 * fails or does not take, the writes already made are undone in reverse, so no function is left
 * without the driver it had, and the error says which write failed and why.
 *
 * Errors are values (struct gv_error): a negative errno and one sentence naming the device, the
 * value and what to do. Bad input (a malformed address, an unknown type, a UUID that is not one, a
 * device that is not a GPU) is refused before anything is written. The codes, for callers that
 * map them (HTTP statuses, exit codes):
 *   -EINVAL   bad input                     -ENODEV  no such PCI device
 *   -ENOENT   no such vGPU or record        -EEXIST  that UUID exists already
 *   -EBUSY    refused: a foreign member of the IOMMU group, processes or a VM holding the device
 *   -ENOSPC   no instance of that type left -ENOTSUP no IOMMU group, no vGPU capability, no VFs
 *   -ENOPKG   vfio-pci is not loaded        -EIO     a write failed or did not take (rolled back)
 * A dry run prints each planned write as one line, `write <path> <value>` (`""` for an empty
 * value), and anything it cannot know in advance as a line starting with "# ". */
#ifndef GV_HOST_H
#define GV_HOST_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"

#define GVH_BDF_LEN   16  /* "0000:41:00.0" and its NUL, with room to spare */
#define GVH_NAME_LEN  128 /* a driver, a type id, a type name */
#define GVH_ID_LEN    40  /* a vGPU's id: an mdev UUID (36) or a VF's address */
#define GVH_MAX_FUNCS 8   /* functions of one GPU given to a VM together (one PCI slot) */

/* Environment variables that name the roots when no option does. */
#define GVH_ENV_SYSFS_ROOT  "GPUVISOR_SYSFS_ROOT"
#define GVH_ENV_CONFIG_ROOT "GPUVISOR_CONFIG_ROOT"

/* --- Context */

/* How writes reach the files. The default is open(2)+write(2)+close(2); tests put a function
 * here that calls gvh_write_file and then plays the kernel's part, or fails a chosen write. */
struct gvh_io {
    /* Write value (len bytes) to path. Returns 0 or a negative errno. */
    int (*write)(void *arg, const char *path, const char *value, size_t len);
    void *arg;
};

struct gvh_ctx {
    char root[PATH_MAX];        /* the sysfs root; "" or "/" for the real one */
    char config_root[PATH_MAX]; /* where definitions are kept; "" or "/" for the real one */
    bool dry_run;               /* print the writes to out instead of making them */
    FILE *out;                  /* where a dry run prints its plan; NULL: stdout */
    const struct gvh_io *io;    /* NULL: the real files */
    unsigned bind_timeout_ms;   /* how long a bind may take to show; 0: GVH_BIND_TIMEOUT_MS */
    /* Optional: called with each write as it is made (not in a dry run), for the daemon's log. */
    void (*on_write)(void *arg, const char *path, const char *value);
    void *on_write_arg;
};
#define GVH_BIND_TIMEOUT_MS 3000

/* Fill c from the arguments, else the environment (GVH_ENV_*), else "/". Either may be NULL. */
void gvh_ctx_init(struct gvh_ctx *c, const char *sysfs_root, const char *config_root);

/* The default write: open path for writing (no O_CREAT), write value, close. 0 or -errno. */
int gvh_write_file(const char *path, const char *value, size_t len);

/* --- Addresses, UUIDs */

/* Parse a PCI address: "0000:41:00.0" or the short "41:00.0" (domain 0), hex digits of either case.
 * out gets the canonical lowercase form with the domain. Returns 0 or -EINVAL with a message. */
int gvh_bdf_parse(const char *text, char out[GVH_BDF_LEN], struct gv_error *err);

/* True when text is a UUID as mdev wants it (8-4-4-4-12 hex digits). out gets it lowercased. */
int gvh_uuid_parse(const char *text, char out[GVH_ID_LEN], struct gv_error *err);

/* --- What is there */

enum gvh_mode {
    GVH_MODE_HOST,        /* on a host driver: the host (and gpuvisor's slices) may use it */
    GVH_MODE_PASSTHROUGH, /* on vfio-pci: for a VM, whole */
    GVH_MODE_VGPU_PARENT, /* vGPUs exist on it (mdevs or SR-IOV VFs with a vGPU type) */
    GVH_MODE_NONE,        /* bound to no driver */
};
const char *gvh_mode_name(enum gvh_mode m); /* "host", "passthrough", "vgpu-parent", "none" */

/* Another member of a GPU's IOMMU group. */
enum gvh_role {
    GVH_ROLE_FUNCTION, /* another function of the GPU's own slot (audio, USB-C, serial bus) */
    GVH_ROLE_BRIDGE,   /* a PCI bridge (class 0x0604): stays with its driver, never a VM's */
    GVH_ROLE_FOREIGN,  /* anything else (a NIC, a disk controller): the group cannot be given */
};
const char *gvh_role_name(enum gvh_role r); /* "function", "bridge", "foreign" */

struct gvh_member {
    char bdf[GVH_BDF_LEN];
    uint16_t vendor, device;
    uint32_t class_code; /* 24 bits, e.g. 0x040300 */
    char driver[GVH_NAME_LEN]; /* "" when none */
    enum gvh_role role;
};

struct gvh_gpu {
    char bdf[GVH_BDF_LEN];
    uint16_t vendor, device, subsystem_vendor, subsystem_device;
    uint32_t class_code;
    char model[GVH_NAME_LEN];  /* the catalogue's name for the device id; "" when unknown */
    char driver[GVH_NAME_LEN]; /* "" when none */
    int iommu_group;           /* -1: none (the IOMMU is off) */
    struct gvh_member *members; /* the group's other members */
    size_t nmembers;
    enum gvh_mode mode;
    unsigned mdev_types;   /* types under mdev_supported_types */
    unsigned mdevs;        /* mdev instances on it */
    unsigned sriov_total;  /* sriov_totalvfs (0: no SR-IOV) */
    unsigned sriov_vfs;    /* sriov_numvfs */
    unsigned sriov_vgpus;  /* VFs with a vGPU type set */
};

/* Every GPU (PCI class 0x03xxxx, any vendor) that is a physical function, in address order.
 * SR-IOV virtual functions are counted under their GPU, not listed. Free with gvh_gpus_free. */
int gvh_list(const struct gvh_ctx *c, struct gvh_gpu **out, size_t *n, struct gv_error *err);
void gvh_gpus_free(struct gvh_gpu *g, size_t n);

/* One GPU by address. -ENODEV when no such device, -EINVAL when it is not a GPU (the message says
 * what it is). Free with gvh_gpu_clear. */
int gvh_gpu_get(const struct gvh_ctx *c, const char *bdf, struct gvh_gpu *out, struct gv_error *err);
void gvh_gpu_clear(struct gvh_gpu *g);

/* A process that holds one of a GPU's device nodes open (dev/nvidiaN, dev/dri/card0, dev/vfio/N). */
struct gvh_user {
    int pid;
    char comm[32];
    char node[256]; /* the node, as "/dev/nvidia0" (under the root) */
};
/* The processes that hold bdf's device nodes open, at most max of them in users. *n gets the
 * number found (which may exceed max). Returns 0 or -errno. */
int gvh_gpu_users(const struct gvh_ctx *c, const char *bdf, struct gvh_user *users, size_t max,
                  size_t *n, struct gv_error *err);

/* --- Passthrough */

struct gvh_function {
    char bdf[GVH_BDF_LEN];
    char driver[GVH_NAME_LEN]; /* the driver it had before ("" when none) */
};

/* A GPU given to VMs: its functions and the drivers they had. */
struct gvh_passthrough {
    char gpu[GVH_BDF_LEN];
    int iommu_group;
    struct gvh_function fn[GVH_MAX_FUNCS]; /* fn[0] is the GPU */
    size_t nfn;
};

/* Bind bdf and every other function of its IOMMU group to vfio-pci (driver_override, unbind,
 * drivers_probe, then check), and fill rec with what they had. Refuses, writing nothing: no
 * IOMMU group, a foreign member of the group, vfio-pci not loaded, a process holding the GPU's
 * nodes open. Already on vfio-pci: 0, nothing written, rec->fn drivers "vfio-pci" unless known.
 * The caller checks its own instances first. In a dry run, rec is filled and the plan printed. */
int gvh_passthrough(const struct gvh_ctx *c, const char *bdf, struct gvh_passthrough *rec,
                    struct gv_error *err);

/* Give rec's functions back to the drivers they had (or the kernel's choice when "" is recorded).
 * Refuses while a process holds the group's dev/vfio/N open (a VM running). Rolls back on failure. */
int gvh_release(const struct gvh_ctx *c, const struct gvh_passthrough *rec, struct gv_error *err);

/* --- vGPUs */

struct gvh_type {
    char id[GVH_NAME_LEN];   /* mdev: the type folder ("nvidia-222"); SR-IOV: the number ("1414") */
    char name[GVH_NAME_LEN]; /* "GRID T4-1Q", "NVIDIA H200X-1-18C" */
    char description[256];
    uint64_t framebuffer;    /* bytes; 0 when unknown */
    unsigned available;      /* instances that can still be made */
    bool sriov;
};

/* The vGPU types bdf offers: its mdev types, or the union of its VFs' creatable_vgpu_types (with
 * available = the free VFs that offer the type). -ENOTSUP when it offers neither. Free with free(). */
int gvh_types(const struct gvh_ctx *c, const char *bdf, struct gvh_type **out, size_t *n,
              struct gv_error *err);

struct gvh_vgpu {
    char id[GVH_ID_LEN];       /* mdev UUID, or the VF's address */
    char parent[GVH_BDF_LEN];  /* the physical GPU */
    char type[GVH_NAME_LEN];   /* type id */
    char type_name[GVH_NAME_LEN];
    bool sriov;
    unsigned numvfs;           /* SR-IOV: the PF's sriov_numvfs when it was made (for apply) */
    bool start_auto;           /* mdev: re-created at boot ("start": "auto"); SR-IOV: always */
};

/* Create one vGPU of type (an id, or a name, with or without a "GRID "/"NVIDIA " prefix, any
 * case) on bdf. uuid: the mdev UUID to use (NULL: a random one); refused for SR-IOV. SR-IOV with
 * no VFs enabled: enables sriov_totalvfs first. mdev: also writes the mdevctl definition. Unknown
 * type, none available: refused, nothing written, the message names what there is. */
int gvh_vgpu_create(const struct gvh_ctx *c, const char *bdf, const char *type, const char *uuid,
                    struct gvh_vgpu *out, struct gv_error *err);

/* Find a vGPU that exists now by its id (a UUID or a VF's address). -ENOENT when none. */
int gvh_vgpu_find(const struct gvh_ctx *c, const char *id, struct gvh_vgpu *out,
                  struct gv_error *err);

/* Remove it (mdev: write 1 to remove, delete the mdevctl definition; SR-IOV: write 0 to the VF's
 * current_vgpu_type). Refuses while a VM holds it (its dev/vfio/N open). */
int gvh_vgpu_remove(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err);

/* --- libvirt */

/* The <hostdev> element(s) for id: a GPU's address (every function of its slot that is in its
 * group, one element each), a VF's address, or an mdev UUID. Written to buf (NUL-terminated).
 * Returns the length, or -ENOENT / -EINVAL / -ENOSPC with a message. */
int gvh_xml(const struct gvh_ctx *c, const char *id, char *buf, size_t len, struct gv_error *err);

/* --- Dry runs */

/* A dry run's plan as printed (see the top of this file), as JSON: {"dry_run": true, "writes":
 * [{"path", "value"}], "notes": [...]}; the one reader of that text (the CLI and gpuvisord answer
 * with it). A path may hold spaces; a value does not. NULL when out of memory. */
json_t *gvh_plan_json(const char *text);

/* --- Definitions, and applying them after a reboot */

struct gvh_state {
    struct gvh_passthrough *pt;
    size_t npt;
    struct gvh_vgpu *vgpus;
    size_t nvgpus;
};
void gvh_state_free(struct gvh_state *s);

/* Add or replace (by GPU / by id) and remove records. 0 or -ENOMEM; remove returns -ENOENT. */
int gvh_state_put_passthrough(struct gvh_state *s, const struct gvh_passthrough *p);
int gvh_state_put_vgpu(struct gvh_state *s, const struct gvh_vgpu *v);
int gvh_state_remove(struct gvh_state *s, const char *id); /* a GPU's address or a vGPU's id */

/* JSON forms: one format for the state file, the daemon's database and the API. */
json_t *gvh_passthrough_json(const struct gvh_passthrough *p);
int gvh_passthrough_from_json(const json_t *j, struct gvh_passthrough *p, struct gv_error *err);
json_t *gvh_vgpu_json(const struct gvh_vgpu *v);
int gvh_vgpu_from_json(const json_t *j, struct gvh_vgpu *v, struct gv_error *err);
json_t *gvh_gpu_json(const struct gvh_gpu *g);
json_t *gvh_type_json(const struct gvh_type *t);
json_t *gvh_state_json(const struct gvh_state *s); /* {"version":1,"passthrough":[],"vgpus":[]} */
int gvh_state_from_json(const json_t *j, struct gvh_state *s, struct gv_error *err);

/* The standalone state: <config_root>/var/lib/gpuvisor/host.json, plus every mdevctl definition
 * under <config_root>/etc/mdevctl.d/<parent>/<uuid> not already in it. A missing file is an empty
 * state. Save writes the file atomically (rename) and never touches mdevctl's files. */
int gvh_state_load(const struct gvh_ctx *c, struct gvh_state *s, struct gv_error *err);
int gvh_state_save(const struct gvh_ctx *c, const struct gvh_state *s, struct gv_error *err);

/* mdevctl's own files, written and removed with each mdev (gvh_vgpu_create/remove do it). */
int gvh_mdevctl_write(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err);
int gvh_mdevctl_remove(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err);

/* What apply did: one line per record ("0000:41:00.0: bound to vfio-pci", "...: already").
 * Lines and failures are counted; the text is in report (NUL-terminated, truncated to fit). */
struct gvh_report {
    unsigned done, already, failed;
    char text[8192];
};

/* Make the host match s: bind every recorded passthrough, enable recorded VFs, create every
 * recorded vGPU with start_auto. Idempotent: what is already there is left alone. One record's
 * failure does not stop the others; returns 0 when all hold, else -EIO (details in r). */
int gvh_apply(const struct gvh_ctx *c, const struct gvh_state *s, struct gvh_report *r,
              struct gv_error *err);

/* The mode of the GPU at bdf given the records in s too (a recorded passthrough counts even
 * while a reboot has not re-applied it), for gpuvisord's placement. */
enum gvh_mode gvh_mode_of(const struct gvh_ctx *c, const struct gvh_state *s, const char *bdf);

#endif
