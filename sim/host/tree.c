/* SPDX-License-Identifier: Apache-2.0 */
/* tree.c: building the fake sysfs tree from a spec, and the built-in scenarios.
 *
 * The spec language is described in hostsim.h. Lines are applied in order (a device before its
 * mdev types or SR-IOV line); VFs asked for with numvfs= and the dev/vfio nodes are made at the
 * end, when every device and module is there, by the same code the kernel runs after a write. */
#include "sim/host/hostsim.h"
#include "sim/host/simfs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 16
#define MAX_LINE  1024

/* GPUs line up with the simulated NVML, which puts GPU i at bus 0x41+i. A NIC (0000:60:00.0) is
 * the device that is not a GPU. Bridges are class 0604, audio functions 0403. */
#define SC_VFIO   "module vfio_pci\n"
#define SC_NIC    "fn 0000:60:00.0 vendor=8086 device=1572 class=020000 driver=i40e group=30\n"
#define SC_BRIDGE "fn 0000:40:01.1 vendor=1022 device=1483 class=060400 driver=pcieport group=12\n"
#define SC_T4(bus, grp, minor, card, render)                                                       \
    "gpu 0000:" bus ":00.0 device=1eb8 subsystem_vendor=10de subsystem_device=12a2 driver=nvidia " \
    "group=" grp " minor=" minor " drm=card" card ",renderD" render "\n"                           \
    "fn 0000:" bus ":00.1 vendor=10de device=10fa class=040300 driver=snd_hda_intel group=" grp    \
    "\n"
#define SC_MDEV(bus)                                                                               \
    "mdev-type 0000:" bus ":00.0 nvidia-222 name=\"GRID T4-1Q\" available=16 description=\""       \
    "num_heads=4, frl_config=60, framebuffer=1024M, max_resolution=5120x2880, max_instance=16\"\n" \
    "mdev-type 0000:" bus ":00.0 nvidia-230 name=\"GRID T4-16Q\" available=0 description=\""       \
    "num_heads=4, frl_config=60, framebuffer=16384M, max_resolution=7680x4320, max_instance=1\"\n"
#define SC_H200(bus, grp, minor)                                                                   \
    "gpu 0000:" bus ":00.0 device=2335 subsystem_vendor=10de subsystem_device=18be driver=nvidia " \
    "group=" grp " minor=" minor "\n"                                                              \
    "sriov 0000:" bus ":00.0 totalvfs=8 types=\"1414:NVIDIA H200X-1-18C:7,"                        \
    "1415:NVIDIA H200X-2-35C:3,1416:NVIDIA H200X-4-71C:1\"\n"

/* clang-format off: one scenario's lines read best one under the other */
static const struct {
    const char *name, *spec;
} scenarios[] = {
    {"t4-audio",
     "# A T4, its audio function and a bridge in group 12; vfio-pci loaded.\n" SC_VFIO SC_BRIDGE
         SC_T4("41", "12", "0", "0", "128") SC_NIC},
    {"shared-nic",
     "# The GPU's group 14 also holds a NIC at another slot: it cannot be given.\n" SC_VFIO SC_T4(
         "41", "14", "0", "0",
         "128") "fn 0000:45:00.0 vendor=8086 device=1572 class=020000 driver=i40e group=14\n"},
    {"on-vfio", "# A T4 and its audio function already on vfio-pci (group 12).\n" SC_VFIO
                "gpu 0000:41:00.0 device=1eb8 driver=vfio-pci native=nvidia override=vfio-pci "
                "group=12 minor=0 drm=card0,renderD128\n"
                "fn 0000:41:00.1 vendor=10de device=10fa class=040300 driver=vfio-pci "
                "native=snd_hda_intel override=vfio-pci group=12\n"},
    {"novfio", "# t4-audio without the vfio_pci module.\n" SC_BRIDGE SC_T4("41", "12", "0", "0",
                                                                           "128") SC_NIC},
    {"mdev",
     "# A T4 with mdev types: GRID T4-1Q (16 left) and GRID T4-16Q (none left).\n" SC_VFIO SC_T4(
         "41", "12", "0", "0", "128") SC_MDEV("41")},
    {"sriov",
     "# An H200 PF with 8 SR-IOV VFs to enable, vGPU types 1414 (7), 1415 (3), 1416 (1).\n" SC_VFIO
         SC_H200("43", "40", "0")},
    {"nogroup",
     "# The IOMMU is off: no iommu_group links.\n" SC_VFIO
     "gpu 0000:41:00.0 device=1eb8 driver=nvidia nogroup minor=0 drm=card0,renderD128\n"
     "fn 0000:41:00.1 vendor=10de device=10fa class=040300 driver=snd_hda_intel nogroup\n"},
    {"all",
     "# 41: T4 for passthrough (group 12 with audio and a bridge); 42: T4 with mdev types\n"
     "# (group 13); 43: H200 SR-IOV PF (group 40); 44: T4 on vfio-pci (group 15); a NIC.\n" SC_VFIO
         SC_BRIDGE SC_T4("41", "12", "0", "0", "128") SC_T4("42", "13", "1", "1", "129")
             SC_MDEV("42") SC_H200("43", "40", "2") "gpu 0000:44:00.0 device=1eb8 driver=vfio-pci "
                                                    "native=nvidia override=vfio-pci "
                                                    "group=15 minor=3\n" SC_NIC},
};
/* clang-format on */
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

const char *const gvsim_host_scenarios[] = {"t4-audio", "shared-nic", "on-vfio", "novfio", "mdev",
                                            "sriov",    "nogroup",    "all",     NULL};

const char *gvsim_host_scenario(const char *name)
{
    for (size_t i = 0; i < NSCENARIOS; i++)
        if (name && strcmp(scenarios[i].name, name) == 0)
            return scenarios[i].spec;
    return NULL;
}

/* --- Parsing */

struct word {
    char *key, *value; /* value NULL for a bare word */
};

/* Split line in place into words: bare, key=value, key="value with spaces". */
static int split(char *line, struct word *w, size_t *n)
{
    *n = 0;
    char *s = line;
    while (*s) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            break;
        if (*n == MAX_WORDS)
            return -E2BIG;
        struct word *cur = &w[(*n)++];
        cur->key = s;
        cur->value = NULL;
        while (*s && !isspace((unsigned char)*s) && *s != '=')
            s++;
        if (*s == '=') {
            *s++ = '\0';
            if (*s == '"') {
                cur->value = ++s;
                while (*s && *s != '"')
                    s++;
                if (*s != '"')
                    return -EINVAL;
                *s++ = '\0';
            } else {
                cur->value = s;
                while (*s && !isspace((unsigned char)*s))
                    s++;
            }
        }
        if (*s)
            *s++ = '\0';
    }
    return 0;
}

static bool hex(const char *v, unsigned max, unsigned *out)
{
    char *end;
    unsigned long x = strtoul(v, &end, 16);
    if (!*v || *end || x > max)
        return false;
    *out = (unsigned)x;
    return true;
}

static bool dec(const char *v, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < 0 || x > 1000000)
        return false;
    *out = (int)x;
    return true;
}

static bool name_ok(const char *v)
{
    size_t n = strlen(v);
    return n < SIM_NAME_LEN && !strchr(v, '/') && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
}

struct build {
    const char *root;
    int line;
    int next_minor;
    struct gv_error *err;
};

static int bad(struct build *b, const char *what, const char *value)
{
    return gv_error_set(b->err, -EINVAL, "host spec line %d: %s \"%s\"", b->line, what,
                        value ? value : "");
}

static int fs_fail(struct build *b, int rc, const char *what)
{
    return gv_error_set(b->err, rc, "host spec line %d: %s under %s: %s", b->line, what, b->root,
                        strerror(-rc));
}

static int device_line(struct build *b, bool gpu, struct word *w, size_t n)
{
    struct sim_dev d = {
        .vendor = 0x10de, .class_code = gpu ? 0x030200 : 0x040300, .group = -1, .minor = -1};
    bool native_set = false;
    if (n < 2 || !sim_bdf_ok(w[1].key, d.bdf) || w[1].value)
        return bad(b, "expected a PCI address (0000:41:00.0) after", w[0].key);
    for (size_t i = 2; i < n; i++) {
        const char *k = w[i].key, *v = w[i].value;
        bool ok = true;
        if (!v)
            ok = strcmp(k, "nogroup") == 0;
        else if (strcmp(k, "vendor") == 0)
            ok = hex(v, 0xffff, &d.vendor);
        else if (strcmp(k, "device") == 0)
            ok = hex(v, 0xffff, &d.device);
        else if (strcmp(k, "class") == 0)
            ok = hex(v, 0xffffff, &d.class_code);
        else if (strcmp(k, "subsystem_vendor") == 0)
            ok = hex(v, 0xffff, &d.sub_vendor);
        else if (strcmp(k, "subsystem_device") == 0)
            ok = hex(v, 0xffff, &d.sub_device);
        else if (strcmp(k, "driver") == 0)
            ok = name_ok(v) && sim_fmt(d.driver, sizeof(d.driver), "%s", v) > -1;
        else if (strcmp(k, "native") == 0)
            ok = name_ok(v) && sim_fmt(d.native, sizeof(d.native), "%s", v) > -1 &&
                 (native_set = true);
        else if (strcmp(k, "override") == 0)
            ok = name_ok(v) && sim_fmt(d.override, sizeof(d.override), "%s", v) > -1;
        else if (strcmp(k, "group") == 0)
            ok = dec(v, &d.group);
        else if (strcmp(k, "minor") == 0)
            ok = dec(v, &d.minor);
        else if (strcmp(k, "drm") == 0)
            ok = strlen(v) < sizeof(d.drm) && !strchr(v, '/') &&
                 sim_fmt(d.drm, sizeof(d.drm), "%s", v) > -1;
        else
            return bad(b, "unknown key", k);
        if (!ok)
            return bad(b, "bad value for", k);
    }
    if (!native_set)
        sim_fmt(d.native, sizeof(d.native), "%s", d.driver);
    if (gpu && d.minor < 0 && d.vendor == 0x10de)
        d.minor = b->next_minor;
    if (d.minor >= b->next_minor)
        b->next_minor = d.minor + 1;
    int rc = sim_make_dev(b->root, &d);
    return rc < 0 ? fs_fail(b, rc, d.bdf) : 0;
}

static const char *find(struct word *w, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i].key, key) == 0)
            return w[i].value;
    return NULL;
}

static int need_device(struct build *b, struct word *w, size_t n, char bdf[SIM_BDF_LEN])
{
    char rel[PATH_MAX];
    if (n < 2 || !sim_bdf_ok(w[1].key, bdf))
        return bad(b, "expected a PCI address after", w[0].key);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/vendor", bdf);
    if (!sim_exists(b->root, rel))
        return bad(b, "no device (declare it on an earlier line)", bdf);
    return 0;
}

static int mdev_type_line(struct build *b, struct word *w, size_t n)
{
    char bdf[SIM_BDF_LEN], rel[PATH_MAX], text[600], dir[PATH_MAX], target[PATH_MAX];
    int rc = need_device(b, w, n, bdf), avail = 0;
    if (rc < 0)
        return rc;
    const char *name = find(w, n, "name"), *av = find(w, n, "available"),
               *desc = find(w, n, "description");
    if (n < 3 || w[2].value || !name_ok(w[2].key))
        return bad(b, "expected a type id (nvidia-222) after", bdf);
    if (!name || !av || !dec(av, &avail))
        return bad(b, "mdev-type needs name=\"..\" and available=N for", w[2].key);
    sim_fmt(dir, sizeof(dir), SIM_DEVS "/%s/mdev_supported_types/%s", bdf, w[2].key);
    struct {
        const char *file, *value;
        mode_t mode;
    } files[] = {{"name", name, SIM_READONLY},
                 {"description", desc ? desc : "", SIM_READONLY},
                 {"available_instances", av, SIM_READONLY},
                 {"device_api", "vfio-pci", SIM_READONLY},
                 {"create", NULL, SIM_WRITABLE}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && rc == 0; i++) {
        sim_fmt(rel, sizeof(rel), "%s/%s", dir, files[i].file);
        sim_fmt(text, sizeof(text), files[i].value ? "%s\n" : "%s",
                files[i].value ? files[i].value : "");
        rc = sim_put(b->root, rel, text, files[i].mode);
    }
    char path[PATH_MAX];
    if (rc == 0 && (rc = sim_path(path, sizeof(path), b->root, "%s/devices", dir)) == 0)
        rc = sim_mkdirs(path);
    if (rc == 0 && (rc = sim_path(path, sizeof(path), b->root, "sys/bus/mdev/devices")) == 0)
        rc = sim_mkdirs(path);
    sim_fmt(rel, sizeof(rel), "sys/class/mdev_bus/%s", bdf);
    sim_fmt(target, sizeof(target), "../../devices/pci0000:40/%s", bdf);
    rc = rc ? rc : sim_link(b->root, rel, target);
    return rc < 0 ? fs_fail(b, rc, dir) : 0;
}

static int sriov_line(struct build *b, struct word *w, size_t n, char *pending, size_t plen)
{
    char bdf[SIM_BDF_LEN], rel[PATH_MAX], text[32];
    int rc = need_device(b, w, n, bdf), total = 0, num = 0;
    if (rc < 0)
        return rc;
    const char *tv = find(w, n, "totalvfs"), *types = find(w, n, "types"),
               *nv = find(w, n, "numvfs");
    if (!tv || !dec(tv, &total) || total > 64)
        return bad(b, "sriov needs totalvfs=N (at most 64) for", bdf);
    if (nv && (!dec(nv, &num) || num > total))
        return bad(b, "numvfs must be at most totalvfs for", bdf);
    if (!types || strlen(types) >= 1000)
        return bad(b, "sriov needs types=\"ID:NAME:CAPACITY,...\" for", bdf);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/sriov_totalvfs", bdf);
    sim_fmt(text, sizeof(text), "%d\n", total);
    rc = sim_put(b->root, rel, text, SIM_READONLY);
    sim_fmt(rel, sizeof(rel), SIM_DEVS "/%s/sriov_numvfs", bdf);
    rc = rc ? rc : sim_put(b->root, rel, "0\n", SIM_WRITABLE);
    sim_fmt(rel, sizeof(rel), ".sim/sriov/%s", bdf);
    rc = rc ? rc : sim_put(b->root, rel, types, SIM_WRITABLE);
    if (rc < 0)
        return fs_fail(b, rc, bdf);
    if (num > 0) {
        size_t at = strlen(pending);
        sim_fmt(pending + at, plen - at, "%s %d\n", bdf, num);
    }
    return 0;
}

static int fault_line(struct build *b, struct word *w, size_t n)
{
    char bdf[SIM_BDF_LEN], line[PATH_MAX + 16], path[PATH_MAX];
    if (n != 3 || w[1].value || w[2].value)
        return bad(b, "expected `fault busy RELPATH` or `fault nobind BDF`, got", w[0].key);
    if (strcmp(w[1].key, "busy") == 0) {
        if (w[2].key[0] == '/' || strstr(w[2].key, ".."))
            return bad(b, "busy needs a path relative to the root, not", w[2].key);
        sim_fmt(line, sizeof(line), "busy %s\n", w[2].key);
    } else if (strcmp(w[1].key, "nobind") == 0) {
        if (!sim_bdf_ok(w[2].key, bdf))
            return bad(b, "nobind needs a PCI address, not", w[2].key);
        sim_fmt(line, sizeof(line), "nobind %s\n", bdf);
    } else {
        return bad(b, "unknown fault (busy, nobind)", w[1].key);
    }
    int rc = sim_path(path, sizeof(path), b->root, ".sim/faults");
    FILE *f = rc == 0 ? fopen(path, "a") : NULL;
    if (!f)
        return fs_fail(b, rc ? rc : -errno, ".sim/faults");
    fputs(line, f);
    return fclose(f) == 0 ? 0 : fs_fail(b, -EIO, ".sim/faults");
}

static int module_line(struct build *b, struct word *w, size_t n)
{
    char path[PATH_MAX];
    if (n != 2 || w[1].value || !name_ok(w[1].key))
        return bad(b, "expected one name after", w[0].key);
    int rc = sim_path(path, sizeof(path), b->root, "sys/module/%s", w[1].key);
    rc = rc ? rc : sim_mkdirs(path);
    if (rc == 0 && strcmp(w[0].key, "driver") == 0)
        rc = sim_make_driver(b->root, w[1].key);
    if (rc == 0 && strcmp(w[0].key, "module") == 0 && strcmp(w[1].key, "vfio_pci") == 0) {
        rc = sim_make_driver(b->root, SIM_VFIO);
        rc = rc ? rc : sim_put(b->root, "dev/vfio/vfio", "", SIM_WRITABLE);
    }
    return rc < 0 ? fs_fail(b, rc, w[1].key) : 0;
}

/* Groups are refreshed once at the end: dev/vfio/N depends on every member. */
static int refresh_groups(const char *root)
{
    char path[PATH_MAX];
    int rc = sim_path(path, sizeof(path), root, SIM_GROUPS);
    if (rc < 0)
        return rc;
    for (int g = 0, top = sim_next_group(root); g < top && rc == 0; g++)
        rc = sim_refresh_vfio(root, g);
    return rc;
}

int gvsim_host_build(const char *root, const char *spec, struct gv_error *err)
{
    struct build b = {.root = root, .err = err};
    char path[PATH_MAX], pending[2048] = "";
    static const char *const dirs[] = {SIM_DEVS,     SIM_DRIVERS, "sys/bus/pci/devices", SIM_GROUPS,
                                       "sys/module", "dev",       ".sim/native"};
    if (!root || !root[0] || !spec)
        return gv_error_set(err, -EINVAL, "host spec: a root folder and a spec are needed");
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        int rc = sim_path(path, sizeof(path), root, "%s", dirs[i]);
        rc = rc ? rc : sim_mkdirs(path);
        if (rc < 0)
            return gv_error_set(err, rc, "host spec: cannot make %s under %s: %s", dirs[i], root,
                                strerror(-rc));
    }
    int rc = sim_put(root, "sys/bus/pci/drivers_probe", "", SIM_WRITABLE);
    rc = rc ? rc : sim_put(root, ".sim/faults", "", 0644);
    rc = rc ? rc : sim_put(root, ".sim/writes.log", "", 0644);
    if (rc < 0)
        return gv_error_set(err, rc, "host spec: cannot write under %s: %s", root, strerror(-rc));

    for (const char *s = spec; *s && rc == 0;) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        char line[MAX_LINE];
        struct word w[MAX_WORDS];
        size_t n;
        b.line++;
        if (len >= sizeof(line))
            return bad(&b, "line too long, starting", "");
        memcpy(line, s, len);
        line[len] = '\0';
        s += len + (nl ? 1 : 0);
        if ((rc = split(line, w, &n)) < 0)
            return bad(&b, rc == -E2BIG ? "too many words" : "unterminated quote", line);
        if (n == 0)
            continue;
        if (w[0].value)
            return bad(&b, "a line starts with a word (gpu, fn, module ...), not", w[0].key);
        if (strcmp(w[0].key, "gpu") == 0 || strcmp(w[0].key, "fn") == 0)
            rc = device_line(&b, strcmp(w[0].key, "gpu") == 0, w, n);
        else if (strcmp(w[0].key, "module") == 0 || strcmp(w[0].key, "driver") == 0)
            rc = module_line(&b, w, n);
        else if (strcmp(w[0].key, "mdev-type") == 0)
            rc = mdev_type_line(&b, w, n);
        else if (strcmp(w[0].key, "sriov") == 0)
            rc = sriov_line(&b, w, n, pending, sizeof(pending));
        else if (strcmp(w[0].key, "fault") == 0)
            rc = fault_line(&b, w, n);
        else
            return bad(&b, "unknown line kind (gpu, fn, module, driver, mdev-type, sriov, fault)",
                       w[0].key);
    }
    if (rc < 0)
        return rc;
    char *save = NULL;
    for (char *l = strtok_r(pending, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char bdf[SIM_BDF_LEN];
        unsigned num;
        if (sscanf(l, "%15s %u", bdf, &num) == 2 && (rc = sim_set_numvfs(root, bdf, num)) < 0)
            return gv_error_set(err, rc, "host spec: enabling %u VFs on %s: %s", num, bdf,
                                strerror(-rc));
    }
    if ((rc = refresh_groups(root)) < 0)
        return gv_error_set(err, rc, "host spec: dev/vfio under %s: %s", root, strerror(-rc));
    return 0;
}
