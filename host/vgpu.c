/* SPDX-License-Identifier: Apache-2.0 */
/* vgpu.c: vendor vGPUs, made by the GPU's own driver on the host and given to VMs whole.
 *
 * Two kernel interfaces make them. Mediated devices (mdev): the parent lists types under
 * mdev_supported_types, a UUID written to a type's `create` makes one, and `remove` deletes it.
 * NVIDIA on SR-IOV (Ada, Hopper, Blackwell): the GPU's virtual functions each list the types they
 * can take in nvidia/creatable_vgpu_types, writing a type's number to nvidia/current_vgpu_type
 * makes the vGPU, and the VF goes to the VM as a plain PCI device. Types are named by id or by
 * name ("nvidia-222", "GRID T4-1Q", "T4-1Q"; "1414", "NVIDIA H200X-1-18C"). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include "host/internal.h"

int gvh_uuid_random(char out[GVH_ID_LEN])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        return -EIO;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, GVH_ID_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return 0;
}

/* A name without the vendor's prefix: "GRID T4-1Q" and "NVIDIA H200X-1-18C" are also asked for as
 * "T4-1Q" and "H200X-1-18C". */
static const char *bare(const char *name)
{
    static const char *prefixes[] = {"GRID ", "NVIDIA "};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncasecmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return name + strlen(prefixes[i]);
    return name;
}

bool gvh_type_matches(const char *given, const char *id, const char *name)
{
    return strcmp(given, id) == 0 ||
           (name[0] && (strcasecmp(given, name) == 0 || strcasecmp(bare(given), bare(name)) == 0));
}

/* NVIDIA names a vGPU type after its frame buffer: the number before the series letter of the last
 * part ("T4-1Q": 1 GiB, "H200X-1-18C": 18 GiB). */
static uint64_t framebuffer_from_name(const char *name)
{
    const char *dash = strrchr(name, '-');
    if (!dash || !isdigit((unsigned char)dash[1]))
        return 0;
    char *end;
    unsigned long gib = strtoul(dash + 1, &end, 10);
    return isalpha((unsigned char)*end) && end[1] == 0 ? (uint64_t)gib << 30 : 0;
}

/* mdev descriptions carry "framebuffer=1024M". */
static uint64_t framebuffer_from_description(const char *d)
{
    const char *f = strstr(d, "framebuffer=");
    if (!f)
        return 0;
    char *end;
    unsigned long long v = strtoull(f + strlen("framebuffer="), &end, 10);
    switch (toupper((unsigned char)*end)) {
    case 'K': return v << 10;
    case 'M': return v << 20;
    case 'G': return v << 30;
    default: return v;
    }
}

/* --- mdev */

static int cmp_type(const void *a, const void *b)
{
    const struct gvh_type *x = a, *y = b;
    /* By frame buffer, then id: the order the vendor lists them in, smallest first. */
    if (x->framebuffer != y->framebuffer)
        return x->framebuffer < y->framebuffer ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int mdev_types(const struct gvh_ctx *c, const char *bdf, struct gvh_type **out, size_t *n)
{
    char dir[PATH_MAX];
    int rc = gvh_path(c, dir, sizeof(dir), "/sys/bus/pci/devices/%s/mdev_supported_types", bdf);
    if (rc)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return -ENOENT;
    struct gvh_type *list = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= GVH_NAME_LEN)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct gvh_type *l = realloc(list, ncap * sizeof(*l));
            if (!l) {
                free(list);
                closedir(d);
                return -ENOMEM;
            }
            list = l;
            cap = ncap;
        }
        struct gvh_type *t = &list[count++];
        memset(t, 0, sizeof(*t));
        snprintf(t->id, sizeof(t->id), "%.*s", (int)sizeof(t->id) - 1, e->d_name);
#define TYPE_ATTR "/sys/bus/pci/devices/%s/mdev_supported_types/%s/%s"
        gvh_read(c, t->name, sizeof(t->name), TYPE_ATTR, bdf, t->id, "name");
        gvh_read(c, t->description, sizeof(t->description), TYPE_ATTR, bdf, t->id, "description");
        uint64_t v = 0;
        if (gvh_read_u64(c, &v, TYPE_ATTR, bdf, t->id, "available_instances") == 0)
            t->available = (unsigned)v;
        t->framebuffer = framebuffer_from_description(t->description);
        if (!t->framebuffer)
            t->framebuffer = framebuffer_from_name(t->name);
    }
    closedir(d);
    if (count > 1)
        qsort(list, count, sizeof(*list), cmp_type);
    *out = list;
    *n = count;
    return 0;
}

/* --- SR-IOV */

/* The PF's VFs, in order. */
static size_t vfs_of(const struct gvh_ctx *c, const char *pf, char (*vfs)[GVH_BDF_LEN], size_t max)
{
    uint64_t num = 0;
    if (gvh_read_u64(c, &num, "/sys/bus/pci/devices/%s/sriov_numvfs", pf) != 0)
        return 0;
    size_t n = 0;
    for (uint64_t k = 0; k < num && n < max; k++) {
        char name[GVH_NAME_LEN];
        if (gvh_link_name(c, name, sizeof(name), "/sys/bus/pci/devices/%s/virtfn%llu", pf,
                          (unsigned long long)k) == 0 &&
            gvh_bdf_parse(name, vfs[n], NULL) == 0)
            n++;
    }
    return n;
}

static unsigned vf_current(const struct gvh_ctx *c, const char *vf)
{
    uint64_t v = 0;
    return gvh_read_u64(c, &v, "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", vf) == 0
               ? (unsigned)v
               : 0;
}

/* Parse a VF's creatable_vgpu_types: a header, then "ID : NAME" lines. Adds to *list (merging by
 * id, counting the VF in available when free). */
static int add_creatable(const struct gvh_ctx *c, const char *vf, bool free_vf,
                         struct gvh_type **list, size_t *count, size_t *cap)
{
    char text[8192];
    if (gvh_read(c, text, sizeof(text), "/sys/bus/pci/devices/%s/nvidia/creatable_vgpu_types",
                 vf) != 0)
        return 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *p = line;
        while (isspace((unsigned char)*p))
            p++;
        char *end;
        unsigned long id = strtoul(p, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (end == p || end != colon || id == 0)
            continue; /* the header line, or not a type */
        char *name = colon + 1;
        while (isspace((unsigned char)*name))
            name++;
        size_t nl = strlen(name);
        while (nl > 0 && isspace((unsigned char)name[nl - 1]))
            name[--nl] = 0;
        char ids[GVH_NAME_LEN];
        snprintf(ids, sizeof(ids), "%lu", id);
        size_t i = 0;
        while (i < *count && strcmp((*list)[i].id, ids) != 0)
            i++;
        if (i == *count) {
            if (*count == *cap) {
                size_t ncap = *cap ? *cap * 2 : 8;
                struct gvh_type *l = realloc(*list, ncap * sizeof(*l));
                if (!l)
                    return -ENOMEM;
                *list = l;
                *cap = ncap;
            }
            struct gvh_type *t = &(*list)[(*count)++];
            memset(t, 0, sizeof(*t));
            snprintf(t->id, sizeof(t->id), "%s", ids);
            snprintf(t->name, sizeof(t->name), "%s", name);
            t->framebuffer = framebuffer_from_name(name);
            t->sriov = true;
        }
        if (free_vf)
            (*list)[i].available++;
    }
    return 0;
}

#define GVH_MAX_VFS 256

static int sriov_types(const struct gvh_ctx *c, const char *pf, struct gvh_type **out, size_t *n,
                       struct gv_error *err)
{
    char vfs[GVH_MAX_VFS][GVH_BDF_LEN];
    size_t nv = vfs_of(c, pf, vfs, GVH_MAX_VFS);
    if (nv == 0)
        return gv_error_set(err, -ENOTSUP,
                            "%s has no virtual functions enabled: NVIDIA vGPU types are offered "
                            "per VF (gpuvisor host create enables them, or: echo N > "
                            "/sys/bus/pci/devices/%s/sriov_numvfs)",
                            pf, pf);
    struct gvh_type *list = NULL;
    size_t count = 0, cap = 0;
    for (size_t k = 0; k < nv; k++)
        if (add_creatable(c, vfs[k], vf_current(c, vfs[k]) == 0, &list, &count, &cap) != 0) {
            free(list);
            return gv_error_set(err, -ENOMEM, "out of memory reading vGPU types");
        }
    *out = list;
    *n = count;
    return 0;
}

int gvh_types(const struct gvh_ctx *c, const char *bdf, struct gvh_type **out, size_t *n,
              struct gv_error *err)
{
    *out = NULL;
    *n = 0;
    struct gvh_gpu g;
    int rc = gvh_gpu_get(c, bdf, &g, err);
    if (rc)
        return rc;
    gvh_gpu_clear(&g);
    if (g.mdev_types > 0) {
        rc = mdev_types(c, g.bdf, out, n);
        return rc ? gv_error_set(err, rc, "%s: mdev types cannot be read (%s)", g.bdf,
                                 strerror(-rc))
                  : 0;
    }
    if (g.sriov_total > 0)
        return sriov_types(c, g.bdf, out, n, err);
    return gv_error_set(err, -ENOTSUP,
                        "%s offers no vGPU types: no mdev types and no SR-IOV (is the vendor's "
                        "vGPU host driver installed?)",
                        g.bdf);
}

/* The names of what is offered, for a message. */
static void offered(const struct gvh_type *t, size_t n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && at + 1 < len; i++) {
        int k = snprintf(buf + at, len - at, "%s%s (%s)", i ? ", " : "", t[i].id, t[i].name);
        if (k < 0)
            break;
        at += (size_t)k;
    }
    if (n == 0)
        snprintf(buf, len, "none");
}

static int create_mdev(const struct gvh_ctx *c, const char *bdf, const struct gvh_type *t,
                       const char *uuid, struct gvh_vgpu *out, struct gv_error *err)
{
    if (t->available == 0)
        return gv_error_set(err, -ENOSPC,
                            "%s: no %s (%s) left to create (available_instances is 0): remove one, "
                            "or choose a smaller type",
                            bdf, t->id, t->name);
    char id[GVH_ID_LEN];
    int rc = uuid ? gvh_uuid_parse(uuid, id, err) : gvh_uuid_random(id);
    if (rc)
        return uuid ? rc : gv_error_set(err, rc, "no random UUID could be made");
    if (gvh_exists(c, "/sys/bus/mdev/devices/%s", id))
        return gv_error_set(err, -EEXIST, "an mdev %s exists already", id);
    char path[PATH_MAX], made[PATH_MAX];
    if (gvh_path(c, path, sizeof(path), "/sys/bus/pci/devices/%s/mdev_supported_types/%s/create",
                 bdf, t->id) != 0 ||
        gvh_path(c, made, sizeof(made), "/sys/bus/mdev/devices/%s", id) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", bdf);
    if ((rc = gvh_write(c, path, id, err)) != 0)
        return rc;
    if (!c->dry_run && gvh_wait_path(c, made, true) != 0)
        return gv_error_set(err, -EIO, "%s: the mdev %s of type %s did not appear after %s", bdf, id,
                            t->id, path);
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", id);
    snprintf(out->parent, sizeof(out->parent), "%s", bdf);
    snprintf(out->type, sizeof(out->type), "%s", t->id);
    snprintf(out->type_name, sizeof(out->type_name), "%s", t->name);
    out->start_auto = true;
    if (c->dry_run) {
        char def[PATH_MAX];
        if (gvh_cpath(c, def, sizeof(def), "/etc/mdevctl.d/%s/%s", bdf, id) == 0)
            gvh_note(c, "and the definition %s", def);
        return 0;
    }
    if ((rc = gvh_mdevctl_write(c, out, err)) != 0) {
        /* The definition is what keeps it across a reboot: without it, undo. */
        struct gv_error e;
        gvh_vgpu_remove(c, out, &e);
        return rc;
    }
    return 0;
}

int gvh_vfs_enable(const struct gvh_ctx *c, const char *pf, unsigned n, struct gv_error *err)
{
    char path[PATH_MAX], num[24];
    if (gvh_path(c, path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs", pf) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", pf);
    snprintf(num, sizeof(num), "%u", n);
    int rc = gvh_write(c, path, num, err);
    if (rc || c->dry_run || n == 0)
        return rc;
    /* Each VF's link, then the files its driver makes a moment after. */
    char vfs[GVH_MAX_VFS][GVH_BDF_LEN];
    for (unsigned k = 0; k < n; k++) {
        char link[PATH_MAX];
        if (gvh_path(c, link, sizeof(link), "/sys/bus/pci/devices/%s/virtfn%u", pf, k) != 0 ||
            gvh_wait_path(c, link, true) != 0)
            return gv_error_set(err, -EIO, "%s: VF %u did not appear after writing %s to %s", pf,
                                k, num, path);
    }
    size_t nv = vfs_of(c, pf, vfs, GVH_MAX_VFS);
    for (size_t k = 0; k < nv; k++) {
        char f[PATH_MAX];
        if (gvh_path(c, f, sizeof(f), "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type",
                     vfs[k]) != 0 ||
            gvh_wait_path(c, f, true) != 0)
            return gv_error_set(err, -EIO, "%s: VF %s came up without nvidia/current_vgpu_type", pf,
                                vfs[k]);
    }
    return 0;
}

/* Pick a free VF of pf that offers type and set it; out gets the vGPU. */
static int set_vf(const struct gvh_ctx *c, const char *pf, const char *type, struct gvh_vgpu *out,
                  struct gv_error *err)
{
    char vfs[GVH_MAX_VFS][GVH_BDF_LEN];
    size_t nv = vfs_of(c, pf, vfs, GVH_MAX_VFS);
    uint64_t numvfs = 0;
    int rc;
    gvh_read_u64(c, &numvfs, "/sys/bus/pci/devices/%s/sriov_numvfs", pf);
    struct gvh_type *types = NULL, *all = NULL;
    size_t nt = 0, na = 0, cap = 0, cap_all = 0;
    const char *vf = NULL;
    struct gvh_type chosen;
    memset(&chosen, 0, sizeof(chosen));
    bool any_used = false;
    for (size_t k = 0; k < nv; k++) {
        bool free_vf = vf_current(c, vfs[k]) == 0;
        any_used = any_used || !free_vf;
        add_creatable(c, vfs[k], free_vf, &all, &na, &cap_all);
        if (!free_vf || vf)
            continue;
        size_t before = nt;
        add_creatable(c, vfs[k], true, &types, &nt, &cap);
        for (size_t i = before; i < nt; i++)
            if (gvh_type_matches(type, types[i].id, types[i].name)) {
                vf = vfs[k];
                chosen = types[i];
            }
    }
    if (!vf) {
        bool known = false;
        for (size_t i = 0; i < na; i++)
            known = known || gvh_type_matches(type, all[i].id, all[i].name);
        char list[160];
        offered(all, na, list, sizeof(list));
        free(types);
        free(all);
        if (known || (any_used && na == 0))
            return gv_error_set(err, -ENOSPC,
                                "%s: no free VF can take vGPU type %.40s (the GPU is full or every "
                                "VF is in use): remove a vGPU, or choose a smaller type",
                                pf, type);
        return gv_error_set(err, -EINVAL, "%s does not offer vGPU type \"%.40s\"; it offers: %s",
                            pf, type, list);
    }
    free(types);
    free(all);
    char path[PATH_MAX];
    if (gvh_path(c, path, sizeof(path), "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", vf) !=
        0)
        return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", vf);
    if ((rc = gvh_write(c, path, chosen.id, err)) != 0)
        return rc;
    if (!c->dry_run) {
        unsigned now = vf_current(c, vf);
        if (now != (unsigned)strtoul(chosen.id, NULL, 10))
            return gv_error_set(err, -EIO, "%s: current_vgpu_type reads %u after writing %s", vf,
                                now, chosen.id);
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->id, sizeof(out->id), "%s", vf);
    snprintf(out->parent, sizeof(out->parent), "%s", pf);
    snprintf(out->type, sizeof(out->type), "%s", chosen.id);
    snprintf(out->type_name, sizeof(out->type_name), "%s", chosen.name);
    out->sriov = out->start_auto = true;
    out->numvfs = (unsigned)numvfs;
    return 0;
}

static int create_vf(const struct gvh_ctx *c, const char *pf, const char *type,
                     struct gvh_vgpu *out, struct gv_error *err)
{
    char vfs[1][GVH_BDF_LEN];
    if (vfs_of(c, pf, vfs, 1) > 0)
        return set_vf(c, pf, type, out, err);
    /* No VFs: their types can be read only once they exist. Enable them, and disable them again
     * if the vGPU cannot be made, so that a refusal leaves the GPU as it was. */
    uint64_t total = 0;
    if (gvh_read_u64(c, &total, "/sys/bus/pci/devices/%s/sriov_totalvfs", pf) != 0 || !total ||
        total > GVH_MAX_VFS)
        return gv_error_set(err, -ENOTSUP, "%s has no SR-IOV virtual functions", pf);
    int rc = gvh_vfs_enable(c, pf, (unsigned)total, err);
    if (rc == 0 && c->dry_run) {
        gvh_note(c, "the VFs do not exist yet: type %s is checked, and its VF chosen, once they do",
                 type);
        memset(out, 0, sizeof(*out));
        snprintf(out->parent, sizeof(out->parent), "%s", pf);
        snprintf(out->type, sizeof(out->type), "%s", type);
        out->sriov = out->start_auto = true;
        out->numvfs = (unsigned)total;
        return 0;
    }
    if (rc == 0 && (rc = set_vf(c, pf, type, out, err)) == 0)
        return 0;
    struct gv_error undo = {0};
    char was[sizeof(err->msg)];
    snprintf(was, sizeof(was), "%s", err ? err->msg : "");
    if (gvh_vfs_enable(c, pf, 0, &undo) == 0)
        gv_error_set(err, rc, "%s (the VFs enabled to read the types are disabled again)", was);
    else
        gv_error_set(err, rc, "%s; disabling the VFs again failed: %s", was, undo.msg);
    return rc;
}

int gvh_vgpu_create(const struct gvh_ctx *c, const char *bdf, const char *type, const char *uuid,
                    struct gvh_vgpu *out, struct gv_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!type || !*type || strlen(type) >= GVH_NAME_LEN)
        return gv_error_set(err, -EINVAL, "vGPU type \"%.40s\": give a type id or name "
                                          "(gpuvisor host types BDF lists them)",
                            type ? type : "");
    char id[GVH_ID_LEN];
    int rc;
    if (uuid && (rc = gvh_uuid_parse(uuid, id, err)) != 0)
        return rc;
    struct gvh_gpu g;
    if ((rc = gvh_gpu_get(c, bdf, &g, err)) != 0)
        return rc;
    gvh_gpu_clear(&g);
    if (g.mdev_types > 0) {
        struct gvh_type *t;
        size_t n;
        if ((rc = mdev_types(c, g.bdf, &t, &n)) != 0)
            return gv_error_set(err, rc, "%s: mdev types cannot be read", g.bdf);
        const struct gvh_type *hit = NULL;
        for (size_t i = 0; i < n && !hit; i++)
            if (gvh_type_matches(type, t[i].id, t[i].name))
                hit = &t[i];
        if (!hit) {
            char list[160];
            offered(t, n, list, sizeof(list));
            gv_error_set(err, -EINVAL, "%s does not offer vGPU type \"%.40s\"; it offers: %s",
                         g.bdf, type, list);
            free(t);
            return -EINVAL;
        }
        rc = create_mdev(c, g.bdf, hit, uuid ? id : NULL, out, err);
        free(t);
        return rc;
    }
    if (g.sriov_total > 0) {
        if (uuid)
            return gv_error_set(err, -EINVAL,
                                "%s: --uuid is for mdev vGPUs; an SR-IOV vGPU is named by its VF",
                                g.bdf);
        return create_vf(c, g.bdf, type, out, err);
    }
    return gv_error_set(err, -ENOTSUP,
                        "%s offers no vGPU types: no mdev types and no SR-IOV (is the vendor's "
                        "vGPU host driver installed?)",
                        g.bdf);
}

int gvh_vgpu_find(const struct gvh_ctx *c, const char *id, struct gvh_vgpu *out,
                  struct gv_error *err)
{
    memset(out, 0, sizeof(*out));
    char canon[GVH_ID_LEN];
    if (gvh_uuid_parse(id, canon, NULL) == 0) {
        char path[PATH_MAX], target[PATH_MAX];
        if (gvh_path(c, path, sizeof(path), "/sys/bus/mdev/devices/%s", canon) != 0)
            return gv_error_set(err, -ENAMETOOLONG, "path too long");
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        if (k < 0)
            return gv_error_set(err, -ENOENT, "no mdev %s on this host", canon);
        target[k] = 0;
        /* .../<parent>/<uuid>: the parent is the folder above. */
        char *slash = strrchr(target, '/');
        if (slash)
            *slash = 0;
        const char *parent = strrchr(target, '/');
        parent = parent ? parent + 1 : target;
        snprintf(out->id, sizeof(out->id), "%s", canon);
        if (gvh_bdf_parse(parent, out->parent, NULL) != 0)
            return gv_error_set(err, -ENOENT, "mdev %s: its parent \"%.40s\" is not a PCI device",
                                canon, parent);
        gvh_link_name(c, out->type, sizeof(out->type), "/sys/bus/mdev/devices/%s/mdev_type",
                      canon);
        gvh_read(c, out->type_name, sizeof(out->type_name),
                 "/sys/bus/pci/devices/%s/mdev_supported_types/%s/name", out->parent, out->type);
        out->start_auto = true;
        return 0;
    }
    char bdf[GVH_BDF_LEN];
    if (gvh_bdf_parse(id, bdf, NULL) != 0)
        return gv_error_set(err, -EINVAL,
                            "vGPU \"%.40s\": not an id (an mdev UUID, or a VF's PCI address)", id);
    char pf[GVH_NAME_LEN];
    gvh_link_name(c, pf, sizeof(pf), "/sys/bus/pci/devices/%s/physfn", bdf);
    unsigned cur = pf[0] ? vf_current(c, bdf) : 0;
    if (!pf[0] || cur == 0)
        return gv_error_set(err, -ENOENT, "no vGPU at %s (%s)", bdf,
                            pf[0] ? "its current_vgpu_type is 0" : "not an SR-IOV VF");
    snprintf(out->id, sizeof(out->id), "%s", bdf);
    gvh_bdf_parse(pf, out->parent, NULL);
    snprintf(out->type, sizeof(out->type), "%u", cur);
    uint64_t numvfs = 0;
    gvh_read_u64(c, &numvfs, "/sys/bus/pci/devices/%s/sriov_numvfs", out->parent);
    out->numvfs = (unsigned)numvfs;
    out->sriov = out->start_auto = true;
    return 0;
}

int gvh_vgpu_remove(const struct gvh_ctx *c, const struct gvh_vgpu *v, struct gv_error *err)
{
    char path[PATH_MAX], node[32];
    int rc;
    /* A VM holds a vGPU through its IOMMU group's node. */
    int group = v->sriov ? gvh_group_of(c, v->id) : -1;
    if (!v->sriov) {
        char name[32];
        if (gvh_link_name(c, name, sizeof(name), "/sys/bus/mdev/devices/%s/iommu_group", v->id) ==
                0 &&
            name[0])
            group = atoi(name);
    }
    if (group >= 0) {
        struct gvh_user u[1];
        size_t nu = 0;
        snprintf(node, sizeof(node), "/dev/vfio/%d", group);
        if (gvh_node_users(c, node, u, 1, &nu) == 0 && nu > 0)
            return gv_error_set(err, -EBUSY,
                                "vGPU %s is held by a VM: process %d (%s) has %s open; shut the "
                                "guest down first",
                                v->id, u[0].pid, u[0].comm, u[0].node);
    }
    if (v->sriov) {
        if ((rc = gvh_path(c, path, sizeof(path),
                           "/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", v->id)) != 0)
            return gv_error_set(err, rc, "%s: path too long", v->id);
        if ((rc = gvh_write(c, path, "0", err)) != 0)
            return rc;
        if (!c->dry_run && vf_current(c, v->id) != 0)
            return gv_error_set(err, -EIO, "%s: current_vgpu_type is not 0 after writing 0",
                                v->id);
        return 0;
    }
    char dev[PATH_MAX];
    if (gvh_path(c, path, sizeof(path), "/sys/bus/mdev/devices/%s/remove", v->id) != 0 ||
        gvh_path(c, dev, sizeof(dev), "/sys/bus/mdev/devices/%s", v->id) != 0)
        return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", v->id);
    if ((rc = gvh_write(c, path, "1", err)) != 0)
        return rc;
    if (c->dry_run) {
        char def[PATH_MAX];
        if (gvh_cpath(c, def, sizeof(def), "/etc/mdevctl.d/%s/%s", v->parent, v->id) == 0)
            gvh_note(c, "and the definition %s is removed", def);
        return 0;
    }
    if (gvh_wait_path(c, dev, false) != 0)
        return gv_error_set(err, -EIO, "mdev %s is still there after writing 1 to remove", v->id);
    return gvh_mdevctl_remove(c, v, err);
}
