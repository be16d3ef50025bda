/* SPDX-License-Identifier: Apache-2.0 */
/* pci.c: reading the PCI tree: addresses, attributes, GPUs, their IOMMU groups, their modes, and
 * the processes that hold them.
 *
 * Everything here only reads. A GPU is a function of PCI class 0x03 (VGA, 3D, display) of any
 * vendor; the catalogue names NVIDIA models by device id. A GPU's IOMMU group decides what goes to
 * a VM with it: the kernel hands groups to VFIO whole, so each other member is classified as a
 * function of the GPU's own slot (it goes along), a bridge (it stays) or something foreign (the
 * group cannot be given away without it). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/catalogue.h"
#include "host/internal.h"

/* --- Paths and attributes */

static int vpath(const char *root, char *out, size_t len, const char *fmt, va_list ap)
{
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--; /* "/" and "" are the real root; "/tmp/x/" is "/tmp/x" */
    if (rl >= len)
        return -ENAMETOOLONG;
    memcpy(out, root, rl);
    int k = vsnprintf(out + rl, len - rl, fmt, ap);
    if (k < 0 || (size_t)k >= len - rl)
        return -ENAMETOOLONG;
    return 0;
}

int gvh_path(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->root, out, len, fmt, ap);
    va_end(ap);
    return rc;
}

int gvh_cpath(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->config_root, out, len, fmt, ap);
    va_end(ap);
    return rc;
}

static int read_file(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, len - 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad)
        return -EIO;
    buf[n] = 0;
    while (n > 0 && isspace((unsigned char)buf[n - 1]))
        buf[--n] = 0;
    return 0;
}

int gvh_read(const struct gvh_ctx *c, char *buf, size_t len, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->root, path, sizeof(path), fmt, ap);
    va_end(ap);
    buf[0] = 0;
    return rc ? rc : read_file(path, buf, len);
}

int gvh_read_u64(const struct gvh_ctx *c, uint64_t *v, const char *fmt, ...)
{
    char path[PATH_MAX], buf[64];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->root, path, sizeof(path), fmt, ap);
    va_end(ap);
    if (rc || (rc = read_file(path, buf, sizeof(buf))) != 0)
        return rc;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 0);
    if (errno || end == buf || *end)
        return -EINVAL;
    *v = x;
    return 0;
}

int gvh_link_name(const struct gvh_ctx *c, char *out, size_t len, const char *fmt, ...)
{
    char path[PATH_MAX], target[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->root, path, sizeof(path), fmt, ap);
    va_end(ap);
    out[0] = 0;
    if (rc)
        return rc;
    ssize_t k = readlink(path, target, sizeof(target) - 1);
    if (k < 0)
        return errno == ENOENT || errno == EINVAL ? 0 : -errno;
    target[k] = 0;
    const char *base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (strlen(base) >= len)
        return -ENAMETOOLONG;
    strcpy(out, base);
    return 0;
}

bool gvh_exists(const struct gvh_ctx *c, const char *fmt, ...)
{
    char path[PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    int rc = vpath(c->root, path, sizeof(path), fmt, ap);
    va_end(ap);
    struct stat st;
    return rc == 0 && stat(path, &st) == 0;
}

int gvh_driver_of(const struct gvh_ctx *c, const char *bdf, char out[GVH_NAME_LEN])
{
    return gvh_link_name(c, out, GVH_NAME_LEN, "/sys/bus/pci/devices/%s/driver", bdf);
}

int gvh_group_of(const struct gvh_ctx *c, const char *bdf)
{
    char name[32];
    if (gvh_link_name(c, name, sizeof(name), "/sys/bus/pci/devices/%s/iommu_group", bdf) != 0 ||
        !name[0])
        return -1;
    char *end;
    long g = strtol(name, &end, 10);
    return *end || g < 0 || g > INT_MAX ? -1 : (int)g;
}

/* --- Waiting for the kernel. A real bind is done when the write returns; a driver that probes
 * asynchronously, or a stand-in kernel, takes a moment: poll with a deadline. */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static unsigned timeout_of(const struct gvh_ctx *c)
{
    return c->bind_timeout_ms ? c->bind_timeout_ms : GVH_BIND_TIMEOUT_MS;
}

int gvh_wait_driver(const struct gvh_ctx *c, const char *bdf, const char *driver)
{
    uint64_t end = now_ms() + timeout_of(c);
    for (unsigned wait = 1;; wait = wait < 20 ? wait * 2 : 20) {
        char cur[GVH_NAME_LEN];
        if (gvh_driver_of(c, bdf, cur) == 0 && (driver[0] ? strcmp(cur, driver) == 0 : cur[0]))
            return 0;
        if (now_ms() >= end)
            return -ETIMEDOUT;
        pause_ms(wait);
    }
}

int gvh_wait_path(const struct gvh_ctx *c, const char *path, bool want)
{
    uint64_t end = now_ms() + timeout_of(c);
    for (unsigned wait = 1;; wait = wait < 20 ? wait * 2 : 20) {
        struct stat st;
        if ((lstat(path, &st) == 0) == want)
            return 0;
        if (now_ms() >= end)
            return -ETIMEDOUT;
        pause_ms(wait);
    }
}

/* --- Addresses */

static bool hex_run(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

int gvh_bdf_parse(const char *text, char out[GVH_BDF_LEN], struct gv_error *err)
{
    /* dddd:bb:ss.f or bb:ss.f: fixed widths, as lspci and sysfs write them. */
    size_t n = text ? strlen(text) : 0;
    const char *s = text;
    char domain[5] = "0000";
    if (n == 12 && hex_run(s, 4) && s[4] == ':') {
        memcpy(domain, s, 4);
        s += 5;
        n -= 5;
    }
    if (n != 7 || !hex_run(s, 2) || s[2] != ':' || !hex_run(s + 3, 2) || s[5] != '.' ||
        s[6] < '0' || s[6] > '7')
        return gv_error_set(err, -EINVAL,
                            "PCI address \"%.40s\": not one (write it as 0000:41:00.0 or 41:00.0, "
                            "as lspci and gpuvisor host list show it)",
                            text ? text : "");
    unsigned slot = (unsigned)strtoul((char[3]){s[3], s[4], 0}, NULL, 16);
    if (slot > 0x1f)
        return gv_error_set(err, -EINVAL, "PCI address \"%.40s\": slot %02x is over 1f", text,
                            slot);
    snprintf(out, GVH_BDF_LEN, "%s:%.2s:%.2s.%c", domain, s, s + 3, s[6]);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

int gvh_uuid_parse(const char *text, char out[GVH_ID_LEN], struct gv_error *err)
{
    static const int groups[] = {8, 4, 4, 4, 12};
    const char *s = text ? text : "";
    bool ok = strlen(s) == 36;
    for (int g = 0, at = 0; ok && g < 5; g++) {
        ok = hex_run(s + at, (size_t)groups[g]) && (g == 4 || s[at + groups[g]] == '-');
        at += groups[g] + 1;
    }
    if (!ok)
        return gv_error_set(err, -EINVAL,
                            "UUID \"%.40s\": not one (32 hex digits as 8-4-4-4-12, e.g. "
                            "c2177883-f1bb-47f0-914d-32a22e3a8804)",
                            s);
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = 0;
    return 0;
}

/* --- Classes, for messages */

static const char *class_name(uint32_t class_code)
{
    switch (class_code >> 8) {
    case 0x0300: return "VGA controller";
    case 0x0302: return "3D controller";
    case 0x0380: return "display controller";
    case 0x0403: return "audio device";
    case 0x0604: return "PCI bridge";
    case 0x0c03: return "USB controller";
    case 0x0c80: return "serial bus controller";
    default: break;
    }
    switch (class_code >> 16) {
    case 0x01: return "storage controller";
    case 0x02: return "network controller";
    case 0x03: return "display controller";
    case 0x04: return "multimedia controller";
    case 0x06: return "bridge";
    case 0x0c: return "serial bus controller";
    default: return "device";
    }
}

const char *gvh_mode_name(enum gvh_mode m)
{
    static const char *names[] = {"host", "passthrough", "vgpu-parent", "none"};
    return (unsigned)m < sizeof(names) / sizeof(names[0]) ? names[m] : "unknown";
}

const char *gvh_role_name(enum gvh_role r)
{
    static const char *names[] = {"function", "bridge", "foreign"};
    return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

/* --- Devices */

static bool same_slot(const char *a, const char *b)
{
    return strncmp(a, b, 10) == 0; /* "dddd:bb:ss" */
}

static int read_ids(const struct gvh_ctx *c, const char *bdf, uint16_t *vendor, uint16_t *device,
                    uint32_t *class_code)
{
    uint64_t v = 0, d = 0, k = 0;
    int rc;
    if ((rc = gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/vendor", bdf)) != 0 ||
        (rc = gvh_read_u64(c, &d, "/sys/bus/pci/devices/%s/device", bdf)) != 0 ||
        (rc = gvh_read_u64(c, &k, "/sys/bus/pci/devices/%s/class", bdf)) != 0)
        return rc;
    *vendor = (uint16_t)v;
    *device = (uint16_t)d;
    *class_code = (uint32_t)(k & 0xffffff);
    return 0;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(((const struct gvh_member *)a)->bdf, ((const struct gvh_member *)b)->bdf);
}

static int read_members(const struct gvh_ctx *c, struct gvh_gpu *g)
{
    char dir[PATH_MAX];
    if (g->iommu_group < 0)
        return 0;
    int rc = gvh_path(c, dir, sizeof(dir), "/sys/kernel/iommu_groups/%d/devices", g->iommu_group);
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    size_t cap = 0;
    while ((e = readdir(d)) != NULL) {
        char bdf[GVH_BDF_LEN];
        if (e->d_name[0] == '.' || gvh_bdf_parse(e->d_name, bdf, NULL) != 0 ||
            strcmp(bdf, g->bdf) == 0)
            continue;
        if (g->nmembers == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct gvh_member *m = realloc(g->members, ncap * sizeof(*m));
            if (!m) {
                closedir(d);
                return -ENOMEM;
            }
            g->members = m;
            cap = ncap;
        }
        struct gvh_member *m = &g->members[g->nmembers];
        memset(m, 0, sizeof(*m));
        memcpy(m->bdf, bdf, sizeof(bdf));
        if (read_ids(c, bdf, &m->vendor, &m->device, &m->class_code) != 0)
            continue; /* gone while listing */
        gvh_driver_of(c, bdf, m->driver);
        m->role = (m->class_code >> 8) == 0x0604 ? GVH_ROLE_BRIDGE
                  : same_slot(bdf, g->bdf)       ? GVH_ROLE_FUNCTION
                                                 : GVH_ROLE_FOREIGN;
        g->nmembers++;
    }
    closedir(d);
    if (g->nmembers > 1)
        qsort(g->members, g->nmembers, sizeof(*g->members), cmp_member);
    return 0;
}

static unsigned count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void read_vgpu_caps(const struct gvh_ctx *c, struct gvh_gpu *g)
{
    char dir[PATH_MAX];
    if (gvh_path(c, dir, sizeof(dir), "/sys/bus/pci/devices/%s/mdev_supported_types", g->bdf) ==
        0) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            g->mdev_types++;
            char sub[PATH_MAX];
            if (snprintf(sub, sizeof(sub), "%s/%s/devices", dir, e->d_name) < (int)sizeof(sub))
                g->mdevs += count_entries(sub);
        }
        if (d)
            closedir(d);
    }
    uint64_t v;
    if (gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/sriov_totalvfs", g->bdf) == 0)
        g->sriov_total = (unsigned)v;
    if (gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/sriov_numvfs", g->bdf) == 0)
        g->sriov_vfs = (unsigned)v;
    for (unsigned k = 0; k < g->sriov_vfs && k < 4096; k++) {
        char vf[GVH_NAME_LEN];
        if (gvh_link_name(c, vf, sizeof(vf), "/sys/bus/pci/devices/%s/virtfn%u", g->bdf, k) != 0 ||
            !vf[0])
            continue;
        if (gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", vf) == 0 &&
            v != 0)
            g->sriov_vgpus++;
    }
}

static void model_name(struct gvh_gpu *g)
{
    if (g->vendor != 0x10de)
        return;
    for (size_t i = 0; i < gv_model_count(); i++) {
        const struct gv_model *m = gv_model_at(i);
        if (m->pci_device_id == g->device) {
            snprintf(g->model, sizeof(g->model), "%s", m->product);
            return;
        }
    }
}

void gvh_gpu_clear(struct gvh_gpu *g)
{
    free(g->members);
    g->members = NULL;
    g->nmembers = 0;
}

/* Read bdf (canonical) as a GPU; -ENODEV / -EINVAL as gvh_gpu_get says. */
static int read_gpu(const struct gvh_ctx *c, const char *bdf, struct gvh_gpu *g,
                    struct gv_error *err)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->bdf, sizeof(g->bdf), "%s", bdf);
    if (!gvh_exists(c, "/sys/bus/pci/devices/%s", bdf))
        return gv_error_set(err, -ENODEV, "no PCI device at %s (gpuvisor host list shows the GPUs)",
                            bdf);
    int rc = read_ids(c, bdf, &g->vendor, &g->device, &g->class_code);
    if (rc)
        return gv_error_set(err, -ENODEV, "%s: its vendor, device and class cannot be read (%s)",
                            bdf, strerror(-rc));
    if ((g->class_code >> 16) != 0x03)
        return gv_error_set(err, -EINVAL, "%s is not a GPU: class 0x%06x (%s)", bdf,
                            g->class_code, class_name(g->class_code));
    uint64_t v;
    if (gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/subsystem_vendor", bdf) == 0)
        g->subsystem_vendor = (uint16_t)v;
    if (gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/subsystem_device", bdf) == 0)
        g->subsystem_device = (uint16_t)v;
    model_name(g);
    gvh_driver_of(c, bdf, g->driver);
    g->iommu_group = gvh_group_of(c, bdf);
    if ((rc = read_members(c, g)) != 0) {
        gvh_gpu_clear(g);
        return gv_error_set(err, rc, "%s: IOMMU group %d cannot be read (%s)", bdf,
                            g->iommu_group, strerror(-rc));
    }
    read_vgpu_caps(c, g);
    if (strcmp(g->driver, GVH_VFIO_DRIVER) == 0)
        g->mode = GVH_MODE_PASSTHROUGH;
    else if (g->mdevs > 0 || g->sriov_vfs > 0)
        g->mode = GVH_MODE_VGPU_PARENT;
    else if (!g->driver[0])
        g->mode = GVH_MODE_NONE;
    else
        g->mode = GVH_MODE_HOST;
    return 0;
}

int gvh_gpu_get(const struct gvh_ctx *c, const char *bdf, struct gvh_gpu *out, struct gv_error *err)
{
    char canon[GVH_BDF_LEN];
    int rc = gvh_bdf_parse(bdf, canon, err);
    if (rc) {
        memset(out, 0, sizeof(*out));
        return rc;
    }
    return read_gpu(c, canon, out, err);
}

int gvh_gpu_functions(const struct gvh_gpu *g, char fns[GVH_MAX_FUNCS][GVH_BDF_LEN], size_t *n)
{
    *n = 0;
    memcpy(fns[(*n)++], g->bdf, GVH_BDF_LEN);
    for (size_t i = 0; i < g->nmembers; i++) {
        if (g->members[i].role != GVH_ROLE_FUNCTION)
            continue;
        if (*n == GVH_MAX_FUNCS)
            return -E2BIG;
        memcpy(fns[(*n)++], g->members[i].bdf, GVH_BDF_LEN);
    }
    return 0;
}

static int cmp_gpu(const void *a, const void *b)
{
    return strcmp(((const struct gvh_gpu *)a)->bdf, ((const struct gvh_gpu *)b)->bdf);
}

void gvh_gpus_free(struct gvh_gpu *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++)
        gvh_gpu_clear(&g[i]);
    free(g);
}

int gvh_list(const struct gvh_ctx *c, struct gvh_gpu **out, size_t *n, struct gv_error *err)
{
    *out = NULL;
    *n = 0;
    char dir[PATH_MAX];
    int rc = gvh_path(c, dir, sizeof(dir), "/sys/bus/pci/devices");
    if (rc)
        return gv_error_set(err, rc, "the sysfs root \"%.100s\" is too long", c->root);
    DIR *d = opendir(dir);
    if (!d)
        return gv_error_set(err, -errno,
                            "%s cannot be read (%s): is sysfs mounted, is the sysfs root right?",
                            dir, strerror(errno));
    struct gvh_gpu *list = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    rc = 0;
    while ((e = readdir(d)) != NULL) {
        char bdf[GVH_BDF_LEN];
        uint16_t vendor, device;
        uint32_t class_code;
        if (e->d_name[0] == '.' || gvh_bdf_parse(e->d_name, bdf, NULL) != 0 ||
            read_ids(c, bdf, &vendor, &device, &class_code) != 0 || (class_code >> 16) != 0x03 ||
            gvh_exists(c, "/sys/bus/pci/devices/%s/physfn", bdf))
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct gvh_gpu *l = realloc(list, ncap * sizeof(*l));
            if (!l) {
                rc = gv_error_set(err, -ENOMEM, "out of memory listing GPUs");
                break;
            }
            list = l;
            cap = ncap;
        }
        if (read_gpu(c, bdf, &list[count], NULL) == 0)
            count++;
    }
    closedir(d);
    if (rc) {
        gvh_gpus_free(list, count);
        return rc;
    }
    if (count > 1)
        qsort(list, count, sizeof(*list), cmp_gpu);
    *out = list;
    *n = count;
    return 0;
}

/* --- Who holds a GPU: the device nodes it has, and the processes with one of them open. */

struct nodes {
    char path[16][256];
    size_t n;
};

static void add_node(const struct gvh_ctx *c, struct nodes *ns, const char *dir, const char *name)
{
    if (ns->n < sizeof(ns->path) / sizeof(ns->path[0]) &&
        gvh_path(c, ns->path[ns->n], sizeof(ns->path[0]), "%s%s", dir, name) == 0)
        ns->n++;
}

static void gpu_nodes(const struct gvh_ctx *c, const char *bdf, struct nodes *ns)
{
    /* NVIDIA: /dev/nvidiaN, N from the driver's own page for the GPU. */
    char info[4096];
    if (gvh_read(c, info, sizeof(info), "/proc/driver/nvidia/gpus/%s/information", bdf) == 0) {
        const char *m = strstr(info, "Device Minor:");
        if (m) {
            char minor[16];
            snprintf(minor, sizeof(minor), "%ld", strtol(m + strlen("Device Minor:"), NULL, 10));
            add_node(c, ns, "/dev/nvidia", minor);
        }
    }
    /* Any DRM driver: the card and render nodes sysfs lists under the device. */
    char dir[PATH_MAX];
    if (gvh_path(c, dir, sizeof(dir), "/sys/bus/pci/devices/%s/drm", bdf) == 0) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL)
            if (strncmp(e->d_name, "card", 4) == 0 || strncmp(e->d_name, "renderD", 7) == 0)
                add_node(c, ns, "/dev/dri/", e->d_name);
        if (d)
            closedir(d);
    }
    /* On vfio-pci: the group's node, which a VM holds. */
    int group = gvh_group_of(c, bdf);
    if (group >= 0) {
        char g[16];
        snprintf(g, sizeof(g), "%d", group);
        add_node(c, ns, "/dev/vfio/", g);
    }
}

/* The processes holding any of ns open. */
static int scan_users(const struct nodes *ns, struct gvh_user *users, size_t max, size_t *n)
{
    *n = 0;
    if (ns->n == 0)
        return 0;
    DIR *proc = opendir("/proc");
    if (!proc)
        return -errno;
    struct dirent *p;
    while ((p = readdir(proc)) != NULL) {
        char *end;
        long pid = strtol(p->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char fddir[64];
        snprintf(fddir, sizeof(fddir), "/proc/%ld/fd", pid);
        DIR *fds = opendir(fddir);
        if (!fds)
            continue; /* gone, or not ours to read */
        struct dirent *f;
        const char *hit = NULL;
        while (!hit && (f = readdir(fds)) != NULL) {
            char link[PATH_MAX], target[PATH_MAX];
            if (f->d_name[0] == '.' ||
                snprintf(link, sizeof(link), "%s/%s", fddir, f->d_name) >= (int)sizeof(link))
                continue;
            ssize_t k = readlink(link, target, sizeof(target) - 1);
            if (k <= 0)
                continue;
            target[k] = 0;
            for (size_t i = 0; i < ns->n && !hit; i++)
                if (strcmp(target, ns->path[i]) == 0)
                    hit = ns->path[i];
        }
        closedir(fds);
        if (!hit)
            continue;
        if (*n < max) {
            struct gvh_user *u = &users[*n];
            memset(u, 0, sizeof(*u));
            u->pid = (int)pid;
            snprintf(u->node, sizeof(u->node), "%s", hit);
            char path[64], comm[64];
            snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
            if (read_file(path, comm, sizeof(comm)) == 0)
                snprintf(u->comm, sizeof(u->comm), "%.31s", comm);
        }
        (*n)++;
    }
    closedir(proc);
    return 0;
}

int gvh_gpu_users(const struct gvh_ctx *c, const char *bdf, struct gvh_user *users, size_t max,
                  size_t *n, struct gv_error *err)
{
    char canon[GVH_BDF_LEN];
    int rc = gvh_bdf_parse(bdf, canon, err);
    if (rc)
        return rc;
    struct nodes ns = {.n = 0};
    gpu_nodes(c, canon, &ns);
    rc = scan_users(&ns, users, max, n);
    return rc ? gv_error_set(err, rc, "/proc cannot be read: %s", strerror(-rc)) : 0;
}

int gvh_node_users(const struct gvh_ctx *c, const char *node, struct gvh_user *users, size_t max,
                   size_t *n)
{
    struct nodes ns = {.n = 0};
    add_node(c, &ns, node, "");
    return scan_users(&ns, users, max, n);
}
