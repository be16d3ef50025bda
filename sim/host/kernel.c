/* SPDX-License-Identifier: Apache-2.0 */
/* kernel.c: what the kernel does after a write to the fake sysfs tree.
 *
 * The state is the tree itself (driver links, group links, instance folders) plus ROOT/.sim: the
 * native driver of each function, its NVIDIA minor and drm names, each SR-IOV PF's vGPU types with
 * their capacities, and each VF's vGPU type. Files whose content is state the kernel owns
 * (sriov_numvfs, current_vgpu_type, creatable_vgpu_types, available_instances) are rewritten from
 * that state after every reaction, so a refused value never stays in them. */
#include "sim/host/hostsim.h"
#include "sim/host/simfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TYPES 16
#define MAX_VFS   64

static int canonical(const char *root, const char *relpath, char *out, size_t n);

/* --- Reading the tree */

/* The basename of ROOT/rel's link target into out ("" when there is no link). */
static void link_name(const char *root, const char *rel, char *out, size_t n)
{
    char path[PATH_MAX], target[PATH_MAX];
    out[0] = '\0';
    if (sim_path(path, sizeof(path), root, "%s", rel) < 0)
        return;
    ssize_t k = readlink(path, target, sizeof(target) - 1);
    if (k <= 0)
        return;
    target[k] = '\0';
    const char *slash = strrchr(target, '/');
    sim_fmt(out, n, "%s", slash ? slash + 1 : target);
}

static void dev_driver(const char *root, const char *bdf, char out[SIM_NAME_LEN])
{
    char rel[PATH_MAX];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/driver", bdf);
    link_name(root, rel, out, SIM_NAME_LEN);
}

static int dev_group(const char *root, const char *bdf)
{
    char rel[PATH_MAX], name[SIM_NAME_LEN];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/iommu_group", bdf);
    link_name(root, rel, name, sizeof(name));
    return name[0] ? atoi(name) : -1;
}

static bool dev_exists(const char *root, const char *bdf)
{
    char rel[PATH_MAX];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/vendor", bdf);
    return sim_exists(root, rel);
}

static void sim_file(const char *root, const char *dir, const char *bdf, char *out, size_t n)
{
    char rel[PATH_MAX];
    sim_fmt(rel, sizeof(rel), ".sim/%s/%s", dir, bdf);
    if (sim_read(root, rel, out, n) < 0)
        out[0] = '\0';
    sim_trim(out);
}

static bool has_fault(const char *root, const char *kind, const char *what)
{
    char buf[8192];
    if (sim_read(root, ".sim/faults", buf, sizeof(buf)) <= 0)
        return false;
    size_t kl = strlen(kind), wl = strlen(what);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        sim_trim(line);
        if (strncmp(line, kind, kl) == 0 && line[kl] == ' ' &&
            strncmp(line + kl + 1, what, wl) == 0 && line[kl + 1 + wl] == '\0')
            return true;
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* A "busy" fault names a path as the test wrote it; it holds for every path to the same file. */
static bool is_busy(const char *root, const char *rel)
{
    char buf[8192], mine[PATH_MAX], theirs[PATH_MAX];
    if (has_fault(root, "busy", rel))
        return true;
    if (sim_read(root, ".sim/faults", buf, sizeof(buf)) <= 0 ||
        canonical(root, rel, mine, sizeof(mine)) < 0)
        return false;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        sim_trim(line);
        if (strncmp(line, "busy ", 5) == 0 &&
            canonical(root, line + 5, theirs, sizeof(theirs)) == 0 && strcmp(mine, theirs) == 0)
            return true;
    }
    return false;
}

/* Rewrite a writable file only when it does not hold content already: a writer may be writing it
 * again while the kernel reacts to its last write, and a rewrite of the same value would lose that
 * new write (the rename puts a new file in its place). */
static int put_if_changed(const char *root, const char *rel, const char *content)
{
    char now[512];
    if (sim_read(root, rel, now, sizeof(now)) >= 0 && strcmp(now, content) == 0)
        return 0;
    return sim_put(root, rel, content, SIM_WRITABLE);
}

/* --- Drivers */

/* What a function has while on its native driver: the NVIDIA proc entry and drm folders. */
static int attach(const char *root, const char *bdf, bool on)
{
    char rel[PATH_MAX], minor[32], drm[SIM_NAME_LEN], native[SIM_NAME_LEN];
    sim_file(root, "native", bdf, native, sizeof(native));
    sim_file(root, "minor", bdf, minor, sizeof(minor));
    sim_file(root, "drm", bdf, drm, sizeof(drm));
    int rc = 0;
    if (minor[0] && strcmp(native, "nvidia") == 0) {
        sim_fmt(rel, sizeof(rel), "proc/driver/nvidia/gpus/%s", bdf);
        if (on) {
            char text[256];
            sim_fmt(text, sizeof(text),
                    "Model: \t\t NVIDIA (simulated)\nIRQ:   \t\t 0\nBus Location: \t %s\n"
                    "Device Minor: \t %s\n",
                    bdf, minor);
            strncat(rel, "/information", sizeof(rel) - strlen(rel) - 1);
            rc = sim_put(root, rel, text, SIM_READONLY);
        } else {
            rc = sim_rm_rf(root, rel);
        }
    }
    if (rc == 0 && drm[0]) {
        char *save = NULL;
        for (char *n = strtok_r(drm, ",", &save); n && rc == 0; n = strtok_r(NULL, ",", &save)) {
            sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/drm/%s", bdf, n);
            if (on) {
                char path[PATH_MAX];
                rc = sim_path(path, sizeof(path), root, "%s", rel);
                rc = rc ? rc : sim_mkdirs(path);
            } else {
                rc = sim_rm_rf(root, rel);
            }
        }
        if (!on && rc == 0) {
            sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/drm", bdf);
            rc = sim_rm_rf(root, rel);
        }
    }
    return rc;
}

int sim_bind(const char *root, const char *bdf, const char *driver)
{
    char rel[PATH_MAX], target[PATH_MAX], native[SIM_NAME_LEN];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/driver", bdf);
    sim_fmt(target, sizeof(target), "../../../bus/pci/drivers/%s", driver);
    int rc = sim_link(root, rel, target);
    if (rc < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_DRIVERS "/%s/%s", driver, bdf);
    sim_fmt(target, sizeof(target), "../../../../devices/pci0000:40/%s", bdf);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    sim_file(root, "native", bdf, native, sizeof(native));
    if (strcmp(native, driver) == 0 && (rc = attach(root, bdf, true)) < 0)
        return rc;
    return sim_refresh_vfio(root, dev_group(root, bdf));
}

static int unbind(const char *root, const char *bdf)
{
    char drv[SIM_NAME_LEN], rel[PATH_MAX];
    dev_driver(root, bdf, drv);
    if (!drv[0])
        return 0;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/driver", bdf);
    int rc = sim_unlink(root, rel);
    sim_fmt(rel, sizeof(rel), SIM_DRIVERS "/%s/%s", drv, bdf);
    rc = rc ? rc : sim_unlink(root, rel);
    rc = rc ? rc : attach(root, bdf, false);
    return rc ? rc : sim_refresh_vfio(root, dev_group(root, bdf));
}

static bool driver_exists(const char *root, const char *driver)
{
    char rel[PATH_MAX];
    sim_fmt(rel, sizeof(rel), SIM_DRIVERS "/%s/bind", driver);
    return driver[0] && strchr(driver, '/') == NULL && sim_exists(root, rel);
}

static void override_of(const char *root, const char *bdf, char out[SIM_NAME_LEN])
{
    char rel[PATH_MAX];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/driver_override", bdf);
    if (sim_read(root, rel, out, SIM_NAME_LEN) < 0)
        out[0] = '\0';
    sim_trim(out);
    if (strcmp(out, "(null)") == 0)
        out[0] = '\0';
}

static int probe(const char *root, const char *value)
{
    char bdf[SIM_BDF_LEN], drv[SIM_NAME_LEN], want[SIM_NAME_LEN];
    if (!sim_bdf_ok(value, bdf) || !dev_exists(root, bdf))
        return -ENODEV;
    dev_driver(root, bdf, drv);
    if (drv[0] || has_fault(root, "nobind", bdf))
        return 0;
    override_of(root, bdf, want);
    if (!want[0])
        sim_file(root, "native", bdf, want, sizeof(want));
    if (!driver_exists(root, want))
        return 0; /* nothing matches: the device stays unbound, as on a real host */
    return sim_bind(root, bdf, want);
}

static int bind_to(const char *root, const char *driver, const char *value)
{
    char bdf[SIM_BDF_LEN], drv[SIM_NAME_LEN], want[SIM_NAME_LEN];
    if (!sim_bdf_ok(value, bdf) || !dev_exists(root, bdf) || !driver_exists(root, driver))
        return -ENODEV;
    dev_driver(root, bdf, drv);
    if (drv[0])
        return -EBUSY;
    override_of(root, bdf, want);
    if (want[0] && strcmp(want, driver) != 0)
        return -ENODEV; /* driver_override keeps every other driver off */
    if (has_fault(root, "nobind", bdf))
        return 0;
    return sim_bind(root, bdf, driver);
}

static int unbind_from(const char *root, const char *driver, const char *value)
{
    char bdf[SIM_BDF_LEN], drv[SIM_NAME_LEN];
    if (!sim_bdf_ok(value, bdf) || !dev_exists(root, bdf))
        return -ENODEV;
    dev_driver(root, bdf, drv);
    if (strcmp(drv, driver) != 0)
        return -ENODEV;
    return unbind(root, bdf);
}

/* --- IOMMU groups */

int sim_next_group(const char *root)
{
    char path[PATH_MAX];
    int top = 0;
    if (sim_path(path, sizeof(path), root, SIM_GROUPS) < 0)
        return -ENAMETOOLONG;
    DIR *d = opendir(path);
    if (!d)
        return 100;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.' && atoi(e->d_name) >= top)
            top = atoi(e->d_name) + 1;
    closedir(d);
    return top < 100 ? 100 : top;
}

/* dev/vfio/N exists while every member of group N but its bridges is on vfio-pci (an mdev member
 * counts as one: its vendor driver gives it to VFIO). */
int sim_refresh_vfio(const char *root, int group)
{
    if (group < 0)
        return 0;
    char path[PATH_MAX], rel[PATH_MAX];
    if (sim_path(path, sizeof(path), root, SIM_GROUPS "/%d/devices", group) < 0)
        return -ENAMETOOLONG;
    DIR *d = opendir(path);
    if (!d)
        return 0;
    bool ready = true, any = false;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char bdf[SIM_BDF_LEN], cls[32] = "", drv[SIM_NAME_LEN];
        if (!sim_bdf_ok(e->d_name, bdf)) {
            any = true; /* an mdev */
            continue;
        }
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/class", bdf);
        if (sim_read(root, rel, cls, sizeof(cls)) > 0 && (strtoul(cls, NULL, 16) >> 8) == 0x0604)
            continue;
        any = true;
        dev_driver(root, bdf, drv);
        if (strcmp(drv, SIM_VFIO) != 0)
            ready = false;
    }
    closedir(d);
    sim_fmt(rel, sizeof(rel), "dev/vfio/%d", group);
    if (ready && any)
        return sim_exists(root, rel) ? 0 : sim_put(root, rel, "", SIM_WRITABLE);
    return sim_unlink(root, rel);
}

/* --- mdev */

static int mdev_available(const char *root, const char *typedir)
{
    char rel[PATH_MAX], text[32];
    sim_fmt(rel, sizeof(rel), "%s/available_instances", typedir);
    return sim_read(root, rel, text, sizeof(text)) > 0 ? atoi(text) : 0;
}

static int mdev_set_available(const char *root, const char *typedir, int n)
{
    char rel[PATH_MAX], text[32];
    sim_fmt(rel, sizeof(rel), "%s/available_instances", typedir);
    sim_fmt(text, sizeof(text), "%d\n", n);
    return sim_put(root, rel, text, SIM_READONLY);
}

static int mdev_create(const char *root, const char *parent, const char *type, const char *value)
{
    char uuid[40], rel[PATH_MAX], target[PATH_MAX], typedir[PATH_MAX];
    if (!sim_uuid_ok(value))
        return -EINVAL;
    sim_fmt(uuid, sizeof(uuid), "%s", value);
    for (char *s = uuid; *s; s++)
        *s = (char)((*s >= 'A' && *s <= 'F') ? *s - 'A' + 'a' : *s);
    sim_fmt(typedir, sizeof(typedir), SIM_DEVS "/%s/mdev_supported_types/%s", parent, type);
    sim_fmt(rel, sizeof(rel), "sys/bus/mdev/devices/%s", uuid);
    if (sim_exists(root, rel))
        return -EEXIST;
    int avail = mdev_available(root, typedir);
    if (avail <= 0)
        return -ENOSPC;
    int group = sim_next_group(root), rc;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s/remove", parent, uuid);
    if ((rc = sim_put(root, rel, "", SIM_WRITABLE)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s/mdev_type", parent, uuid);
    sim_fmt(target, sizeof(target), "../mdev_supported_types/%s", type);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s/iommu_group", parent, uuid);
    sim_fmt(target, sizeof(target), "../../../../kernel/iommu_groups/%d", group);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), SIM_GROUPS "/%d/devices/%s", group, uuid);
    sim_fmt(target, sizeof(target), "../../../../devices/pci0000:40/%s/%s", parent, uuid);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), "sys/bus/mdev/devices/%s", uuid);
    sim_fmt(target, sizeof(target), "../../../devices/pci0000:40/%s/%s", parent, uuid);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    sim_fmt(rel, sizeof(rel), "%s/devices/%s", typedir, uuid);
    sim_fmt(target, sizeof(target), "../../../%s", uuid);
    if ((rc = sim_link(root, rel, target)) < 0)
        return rc;
    if ((rc = mdev_set_available(root, typedir, avail - 1)) < 0)
        return rc;
    return sim_refresh_vfio(root, group);
}

static int mdev_remove(const char *root, const char *parent, const char *uuid, const char *value)
{
    char rel[PATH_MAX], type[SIM_NAME_LEN], typedir[PATH_MAX];
    if (strcmp(value, "1") != 0)
        return -EINVAL;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s/mdev_type", parent, uuid);
    link_name(root, rel, type, sizeof(type));
    if (!type[0])
        return -ENODEV;
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s", parent, uuid);
    int group = dev_group(root, rel + strlen(SIM_DEVS "/"));
    sim_fmt(typedir, sizeof(typedir), SIM_DEVS "/%s/mdev_supported_types/%s", parent, type);
    int rc = sim_rm_rf(root, rel);
    sim_fmt(rel, sizeof(rel), "sys/bus/mdev/devices/%s", uuid);
    rc = rc ? rc : sim_unlink(root, rel);
    sim_fmt(rel, sizeof(rel), "%s/devices/%s", typedir, uuid);
    rc = rc ? rc : sim_unlink(root, rel);
    if (group >= 0) {
        sim_fmt(rel, sizeof(rel), SIM_GROUPS "/%d", group);
        rc = rc ? rc : sim_rm_rf(root, rel);
        sim_fmt(rel, sizeof(rel), "dev/vfio/%d", group);
        rc = rc ? rc : sim_unlink(root, rel);
    }
    return rc ? rc : mdev_set_available(root, typedir, mdev_available(root, typedir) + 1);
}

/* --- NVIDIA SR-IOV vGPUs */

struct vtype {
    unsigned id, cap, used;
    char name[SIM_NAME_LEN];
};

/* .sim/sriov/PF holds the spec's "ID:NAME:CAPACITY,..." */
static size_t vtypes(const char *root, const char *pf, struct vtype *t)
{
    char text[1024], *save = NULL;
    sim_file(root, "sriov", pf, text, sizeof(text));
    size_t n = 0;
    for (char *item = strtok_r(text, ",", &save); item && n < MAX_TYPES;
         item = strtok_r(NULL, ",", &save)) {
        char *c1 = strchr(item, ':'), *c2 = c1 ? strrchr(item, ':') : NULL;
        if (!c1 || c2 == c1)
            continue;
        *c1 = *c2 = '\0';
        t[n].id = (unsigned)strtoul(item, NULL, 10);
        t[n].cap = (unsigned)strtoul(c2 + 1, NULL, 10);
        t[n].used = 0;
        sim_fmt(t[n].name, sizeof(t[n].name), "%s", c1 + 1);
        n++;
    }
    return n;
}

/* The PF's VFs in order (virtfn0, virtfn1 ...). */
static size_t vfs_of(const char *root, const char *pf, char vf[][SIM_BDF_LEN], size_t max)
{
    char rel[PATH_MAX], name[SIM_NAME_LEN];
    size_t n = 0;
    for (; n < max; n++) {
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/virtfn%zu", pf, n);
        link_name(root, rel, name, sizeof(name));
        if (!sim_bdf_ok(name, vf[n]))
            break;
    }
    return n;
}

static unsigned vf_type(const char *root, const char *vf)
{
    char text[32];
    sim_file(root, "vgpu", vf, text, sizeof(text));
    return (unsigned)strtoul(text, NULL, 10);
}

/* The PF's types, each with the number of its VFs that hold it. */
static size_t types_used(const char *root, const char *pf, struct vtype *t)
{
    char vf[MAX_VFS][SIM_BDF_LEN];
    size_t nt = vtypes(root, pf, t), nv = vfs_of(root, pf, vf, MAX_VFS);
    for (size_t i = 0; i < nv; i++) {
        unsigned id = vf_type(root, vf[i]);
        for (size_t k = 0; k < nt; k++)
            if (t[k].id == id)
                t[k].used++;
    }
    return nt;
}

/* A VF's nvidia/ files. current_vgpu_type is written only for a new VF (first, so that a reader
 * who waits for the creatable list finds both) or after a refused write to it: any other time, a
 * write to it may be waiting in the queue, and a rewrite would lose it. A VF with a vGPU offers
 * nothing more. */
static int vf_files(const char *root, const char *vf, const struct vtype *t, size_t nt,
                    bool current)
{
    char rel[PATH_MAX], text[2048];
    unsigned id = vf_type(root, vf);
    int rc = 0;
    if (current) {
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/nvidia/current_vgpu_type", vf);
        sim_fmt(text, sizeof(text), "%u\n", id);
        rc = put_if_changed(root, rel, text);
    }
    size_t at = (size_t)sim_fmt(text, sizeof(text), "ID    : vGPU Name\n");
    for (size_t k = 0; k < nt && id == 0; k++)
        if (t[k].used < t[k].cap && at < sizeof(text))
            at += (size_t)sim_fmt(text + at, sizeof(text) - at, "%u  : %s\n", t[k].id, t[k].name);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/nvidia/creatable_vgpu_types", vf);
    return rc ? rc : sim_put(root, rel, text, SIM_READONLY);
}

int sim_refresh_sriov(const char *root, const char *pf)
{
    struct vtype t[MAX_TYPES];
    char vf[MAX_VFS][SIM_BDF_LEN];
    size_t nt = types_used(root, pf, t), nv = vfs_of(root, pf, vf, MAX_VFS);
    int rc = 0;
    for (size_t i = 0; i < nv && rc == 0; i++)
        rc = vf_files(root, vf[i], t, nt, false);
    return rc;
}

static int put_numvfs(const char *root, const char *pf, size_t n)
{
    char rel[PATH_MAX], text[32];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/sriov_numvfs", pf);
    sim_fmt(text, sizeof(text), "%zu\n", n);
    return put_if_changed(root, rel, text);
}

static int remove_vf(const char *root, const char *pf, size_t k, const char *vf)
{
    char rel[PATH_MAX];
    int group = dev_group(root, vf);
    int rc = unbind(root, vf);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s", vf);
    rc = rc ? rc : sim_rm_rf(root, rel);
    sim_fmt(rel, sizeof(rel), "sys/bus/pci/devices/%s", vf);
    rc = rc ? rc : sim_unlink(root, rel);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/virtfn%zu", pf, k);
    rc = rc ? rc : sim_unlink(root, rel);
    if (group >= 0) {
        sim_fmt(rel, sizeof(rel), SIM_GROUPS "/%d", group);
        rc = rc ? rc : sim_rm_rf(root, rel);
        sim_fmt(rel, sizeof(rel), "dev/vfio/%d", group);
        rc = rc ? rc : sim_unlink(root, rel);
    }
    static const char *const meta[] = {"native", "vgpu"};
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        sim_fmt(rel, sizeof(rel), ".sim/%s/%s", meta[i], vf);
        rc = sim_unlink(root, rel);
    }
    return rc;
}

static int add_vf(const char *root, const char *pf, size_t k, int group)
{
    struct sim_dev d = {.group = group, .minor = -1};
    char rel[PATH_MAX], text[32], target[PATH_MAX];
    unsigned dom, bus, dev, fn;
    if (sscanf(pf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
        return -EINVAL;
    unsigned devfn = (dev << 3 | fn) + 4 + (unsigned)k;
    if (devfn > 0xff)
        return -ERANGE;
    sim_fmt(d.bdf, sizeof(d.bdf), "%04x:%02x:%02x.%x", dom, bus, devfn >> 3, devfn & 7);
    static const char *const ids[] = {"vendor", "device", "class", "subsystem_vendor",
                                      "subsystem_device"};
    unsigned *field[] = {&d.vendor, &d.device, &d.class_code, &d.sub_vendor, &d.sub_device};
    for (size_t i = 0; i < 5; i++) {
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/%s", pf, ids[i]);
        *field[i] =
            sim_read(root, rel, text, sizeof(text)) > 0 ? (unsigned)strtoul(text, NULL, 16) : 0;
    }
    sim_fmt(d.driver, sizeof(d.driver), "nvidia");
    sim_fmt(d.native, sizeof(d.native), "nvidia");
    /* The VF is whole (driver, nvidia/ files, physfn) before the PF's virtfn link shows it. */
    struct vtype t[MAX_TYPES];
    size_t nt = types_used(root, pf, t);
    sim_fmt(rel, sizeof(rel), ".sim/vgpu/%s", d.bdf);
    int rc = sim_put(root, rel, "0", SIM_WRITABLE);
    rc = rc ? rc : sim_make_dev(root, &d);
    rc = rc ? rc : vf_files(root, d.bdf, t, nt, true);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/physfn", d.bdf);
    sim_fmt(target, sizeof(target), "../%s", pf);
    rc = rc ? rc : sim_link(root, rel, target);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/virtfn%zu", pf, k);
    sim_fmt(target, sizeof(target), "../%s", d.bdf);
    return rc ? rc : sim_link(root, rel, target);
}

int sim_set_numvfs(const char *root, const char *pf, unsigned n)
{
    char rel[PATH_MAX], text[32], vf[MAX_VFS][SIM_BDF_LEN];
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/sriov_totalvfs", pf);
    if (sim_read(root, rel, text, sizeof(text)) <= 0)
        return -ENODEV;
    unsigned total = (unsigned)strtoul(text, NULL, 10);
    size_t cur = vfs_of(root, pf, vf, MAX_VFS);
    int rc = 0;
    if (n > total || n > MAX_VFS)
        rc = -ERANGE;
    else if (n > 0 && cur > 0 && n != cur)
        rc = -EBUSY;
    /* The file says the new count before the VFs appear: whoever waits for them may write again. */
    int rc2 = put_numvfs(root, pf, rc < 0 ? cur : n);
    if (rc == 0 && rc2 == 0 && n != cur) {
        if (n == 0)
            for (size_t k = cur; k-- > 0 && rc == 0;)
                rc = remove_vf(root, pf, k, vf[k]);
        else { /* last to first: when virtfn0 shows, every VF is there, as after a real write */
            int base = sim_next_group(root);
            for (size_t k = n; k-- > 0 && rc == 0;)
                rc = add_vf(root, pf, k, base + (int)k);
        }
    }
    int rc3 = sim_refresh_sriov(root, pf);
    return rc ? rc : rc2 ? rc2 : rc3;
}

static int set_vgpu_type(const char *root, const char *vf, const char *value)
{
    char rel[PATH_MAX], pf[SIM_NAME_LEN], text[32];
    char *end;
    unsigned long id = strtoul(value, &end, 10);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/physfn", vf);
    link_name(root, rel, pf, sizeof(pf));
    int rc = 0;
    if (!pf[0])
        return -ENODEV;
    if (!value[0] || *end || id > 0xffffffffUL) {
        rc = -EINVAL;
    } else if (id == 0) {
        sim_fmt(rel, sizeof(rel), ".sim/vgpu/%s", vf);
        rc = sim_put(root, rel, "0", SIM_WRITABLE);
    } else if (vf_type(root, vf) != 0) {
        rc = -EBUSY;
    } else {
        /* The VF's creatable list (before this write) says what it may take. */
        char list[2048], want[40];
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/nvidia/creatable_vgpu_types", vf);
        if (sim_read(root, rel, list, sizeof(list)) < 0)
            list[0] = '\0';
        sim_fmt(want, sizeof(want), "\n%lu ", id);
        if (!strstr(list, want)) {
            rc = -EINVAL;
        } else {
            sim_fmt(rel, sizeof(rel), ".sim/vgpu/%s", vf);
            sim_fmt(text, sizeof(text), "%lu", id);
            rc = sim_put(root, rel, text, SIM_WRITABLE);
        }
    }
    int rc2 = sim_refresh_sriov(root, pf);
    if (rc < 0) { /* the refused value must not stay in the file */
        sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/nvidia/current_vgpu_type", vf);
        sim_fmt(text, sizeof(text), "%u\n", vf_type(root, vf));
        put_if_changed(root, rel, text);
    }
    return rc ? rc : rc2;
}

/* --- Dispatch */

/* relpath with its directory resolved (symlinks followed) and made relative to the real root. */
static int canonical(const char *root, const char *relpath, char *out, size_t n)
{
    char r[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    if (!realpath(root, r))
        return -errno;
    const char *slash = strrchr(relpath, '/');
    const char *base = slash ? slash + 1 : relpath;
    int rc = slash ? sim_path(dir, sizeof(dir), root, "%.*s", (int)(slash - relpath), relpath)
                   : sim_path(dir, sizeof(dir), root, ".");
    if (rc < 0)
        return rc;
    if (!realpath(dir, real))
        return -errno;
    size_t rl = strlen(r);
    if (strcmp(real, r) == 0)
        return sim_fmt(out, n, "%s", base) >= (int)n ? -ENAMETOOLONG : 0;
    if (strncmp(real, r, rl) != 0 || real[rl] != '/')
        return -EINVAL;
    return sim_fmt(out, n, "%s/%s", real + rl + 1, base) >= (int)n ? -ENAMETOOLONG : 0;
}

int gvsim_host_react(const char *root, const char *relpath, const char *value)
{
    char rel[PATH_MAX], v[512];
    int rc = canonical(root, relpath, rel, sizeof(rel));
    if (rc < 0)
        return rc;
    sim_fmt(v, sizeof(v), "%s", value);
    sim_trim(v);

    char *part[8];
    size_t np = 0;
    for (char *save = NULL, *s = strtok_r(rel, "/", &save); s && np < 8;
         s = strtok_r(NULL, "/", &save))
        part[np++] = s;
    if (np == 4 && strcmp(part[0], "sys") == 0 && strcmp(part[1], "bus") == 0 &&
        strcmp(part[2], "pci") == 0 && strcmp(part[3], "drivers_probe") == 0)
        return probe(root, v);
    if (np == 6 && strcmp(part[0], "sys") == 0 && strcmp(part[3], "drivers") == 0) {
        if (strcmp(part[5], "bind") == 0)
            return bind_to(root, part[4], v);
        if (strcmp(part[5], "unbind") == 0)
            return unbind_from(root, part[4], v);
        return 0; /* new_id, remove_id: vfio-pci matches by driver_override here */
    }
    if (np < 4 || strcmp(part[0], "sys") != 0 || strcmp(part[1], "devices") != 0 ||
        strcmp(part[2], "pci0000:40") != 0)
        return 0;
    const char *bdf = part[3];
    if (np == 5 && strcmp(part[4], "driver_override") == 0) {
        char path[PATH_MAX], text[SIM_NAME_LEN + 2];
        sim_fmt(path, sizeof(path), SIM_DEVS "/%s/driver_override", bdf);
        sim_fmt(text, sizeof(text), "%s\n", v[0] ? v : "(null)");
        return put_if_changed(root, path, text);
    }
    if (np == 5 && strcmp(part[4], "sriov_numvfs") == 0) {
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (!v[0] || *end) {
            char vf[MAX_VFS][SIM_BDF_LEN];
            put_numvfs(root, bdf, vfs_of(root, bdf, vf, MAX_VFS));
            return -EINVAL;
        }
        return sim_set_numvfs(root, bdf, n > MAX_VFS ? MAX_VFS + 1 : (unsigned)n);
    }
    if (np == 6 && strcmp(part[4], "nvidia") == 0 && strcmp(part[5], "current_vgpu_type") == 0)
        return set_vgpu_type(root, bdf, v);
    if (np == 7 && strcmp(part[4], "mdev_supported_types") == 0 && strcmp(part[6], "create") == 0)
        return mdev_create(root, bdf, part[5], v);
    if (np == 6 && strcmp(part[5], "remove") == 0 && sim_uuid_ok(part[4]))
        return mdev_remove(root, bdf, part[4], v);
    return 0; /* remove, reset of a function: no effect here */
}

/* --- Writes */

static int log_write(const char *root, const char *rel, const char *value, size_t len)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, ".sim/writes.log");
    if (rc < 0)
        return rc;
    while (len > 0 && value[len - 1] == '\n')
        len--;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    /* One write(2) per line so that lines from two writers never interleave. */
    char line[PATH_MAX + 600];
    int n = sim_fmt(line, sizeof(line), "%s %.*s\n", rel, (int)(len > 512 ? 512 : len), value);
    if (n >= (int)sizeof(line))
        n = (int)sizeof(line) - 1;
    rc = write(fd, line, (size_t)n) == n ? 0 : -EIO;
    close(fd);
    return rc;
}

static const char *rel_of(const char *root, const char *path)
{
    size_t rl = strlen(root);
    while (rl > 1 && root[rl - 1] == '/')
        rl--;
    if (strncmp(path, root, rl) != 0 || path[rl] != '/')
        return NULL;
    return path + rl + 1;
}

int gvsim_host_write(const char *root, const char *path, const char *value, size_t len)
{
    const char *rel = rel_of(root, path);
    if (!rel)
        return -EINVAL;
    if (is_busy(root, rel))
        return -EBUSY;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t w = write(fd, value, len);
    int rc = w < 0 ? -errno : 0;
    close(fd);
    if (rc < 0)
        return rc;
    if ((rc = log_write(root, rel, value, len)) < 0)
        return rc;
    char v[512];
    sim_fmt(v, sizeof(v), "%.*s", (int)(len < sizeof(v) ? len : sizeof(v) - 1), value);
    return gvsim_host_react(root, rel, v);
}

int gvsim_host_event(const char *root, const char *relpath)
{
    char v[512];
    int n = sim_read(root, relpath, v, sizeof(v));
    if (n < 0)
        return n;
    if (is_busy(root, relpath))
        return 0;
    int rc = log_write(root, relpath, v, (size_t)n);
    return rc ? rc : gvsim_host_react(root, relpath, v);
}

int gvsim_host_writes(const char *root, char *buf, size_t len)
{
    int n = sim_read(root, ".sim/writes.log", buf, len);
    if (n == -ENOENT && len > 0) {
        buf[0] = '\0';
        return 0;
    }
    return n;
}
