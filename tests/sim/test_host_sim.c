/* SPDX-License-Identifier: Apache-2.0 */
/* test_host_sim.c: the fake sysfs tree and its kernel (sim/host), which the host library's tests,
 * `gpuvisor host` and gpuvisord run against: every scenario builds with links that resolve and the
 * files sysfs would show; the documented write sequences move drivers, make and remove mdevs and
 * SR-IOV vGPUs; faults hold; and gpuvisor-sim-host's inotify kernel reacts to plain writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim/host/hostsim.h"

#define DEV(bdf)    "sys/devices/pci0000:40/" bdf
#define BUS(bdf)    "sys/bus/pci/devices/" bdf
#define GPU         "0000:41:00.0"
#define AUDIO       "0000:41:00.1"
#define UUID1       "c2177883-f1bb-47f0-914d-32a22e3a8804"
#define DEADLINE_MS 10000

struct tree {
    char root[64];
};

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int setup(void **state)
{
    struct tree *t = calloc(1, sizeof(*t));
    snprintf(t->root, sizeof(t->root), "/tmp/gvhostsim.XXXXXX");
    if (!t || !mkdtemp(t->root))
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tree *t = *state;
    nftw(t->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(t);
    return 0;
}

static void build(struct tree *t, const char *spec)
{
    struct gv_error err = {0};
    int rc = gvsim_host_build(t->root, spec, &err);
    if (rc != 0)
        fail_msg("build: %s", err.msg);
}

static void path(const struct tree *t, const char *rel, char out[PATH_MAX])
{
    if (snprintf(out, PATH_MAX, "%s/%s", t->root, rel) >= PATH_MAX)
        fail_msg("path too long: %s", rel);
}

static bool exists(const struct tree *t, const char *rel)
{
    char p[PATH_MAX];
    struct stat st;
    path(t, rel, p);
    return stat(p, &st) == 0;
}

static void expect_file(const struct tree *t, const char *rel, const char *want)
{
    char p[PATH_MAX], buf[4096] = "";
    path(t, rel, p);
    FILE *f = fopen(p, "r");
    if (!f)
        fail_msg("%s: %s", rel, strerror(errno));
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, want);
}

static bool file_has(const struct tree *t, const char *rel, const char *needle)
{
    char p[PATH_MAX], buf[8192] = "";
    path(t, rel, p);
    FILE *f = fopen(p, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* The basename of the link at rel ("" when none). */
static const char *link_of(const struct tree *t, const char *rel)
{
    static char name[PATH_MAX];
    char p[PATH_MAX], target[PATH_MAX];
    path(t, rel, p);
    ssize_t n = readlink(p, target, sizeof(target) - 1);
    if (n < 0)
        return "";
    target[n] = '\0';
    const char *slash = strrchr(target, '/');
    snprintf(name, sizeof(name), "%s", slash ? slash + 1 : target);
    return name;
}

static int w(const struct tree *t, const char *rel, const char *value)
{
    char p[PATH_MAX];
    path(t, rel, p);
    return gvsim_host_write(t->root, p, value, strlen(value));
}

static int dangling;
static int check_link(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    struct stat target;
    if (flag == FTW_SL && stat(p, &target) != 0) {
        print_error("dangling link %s\n", p);
        dangling++;
    }
    return 0;
}

static void test_scenarios_build(void **state)
{
    struct tree *t = *state;
    for (size_t i = 0; gvsim_host_scenarios[i]; i++) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof(sub), "%s/%s", t->root, gvsim_host_scenarios[i]);
        assert_int_equal(mkdir(sub, 0755), 0);
        struct gv_error err = {0};
        const char *spec = gvsim_host_scenario(gvsim_host_scenarios[i]);
        assert_non_null(spec);
        if (gvsim_host_build(sub, spec, &err) != 0)
            fail_msg("%s: %s", gvsim_host_scenarios[i], err.msg);
        dangling = 0;
        nftw(sub, check_link, 16, FTW_PHYS);
        assert_int_equal(dangling, 0);
    }
    assert_null(gvsim_host_scenario("no-such"));
}

static void test_layout(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("all"));
    expect_file(t, BUS(GPU) "/vendor", "0x10de\n");
    expect_file(t, BUS(GPU) "/device", "0x1eb8\n");
    expect_file(t, BUS(GPU) "/class", "0x030200\n");
    expect_file(t, BUS(AUDIO) "/class", "0x040300\n");
    expect_file(t, BUS("0000:40:01.1") "/class", "0x060400\n");
    expect_file(t, BUS("0000:60:00.0") "/class", "0x020000\n");
    expect_file(t, BUS(GPU) "/driver_override", "(null)\n");
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), "nvidia");
    assert_string_equal(link_of(t, BUS(AUDIO) "/driver"), "snd_hda_intel");
    assert_string_equal(link_of(t, BUS(GPU) "/iommu_group"), "12");
    assert_true(exists(t, "sys/kernel/iommu_groups/12/devices/" AUDIO "/vendor"));
    assert_true(exists(t, "sys/kernel/iommu_groups/12/devices/0000:40:01.1/vendor"));
    assert_true(exists(t, "sys/bus/pci/drivers/nvidia/" GPU "/vendor"));
    assert_true(exists(t, BUS(GPU) "/drm/card0"));
    assert_true(exists(t, "dev/dri/renderD128"));
    assert_true(exists(t, "dev/nvidia0") && exists(t, "dev/nvidia1"));
    assert_true(file_has(t, "proc/driver/nvidia/gpus/" GPU "/information", "Device Minor: \t 0\n"));
    assert_true(
        file_has(t, "proc/driver/nvidia/gpus/0000:42:00.0/information", "Device Minor: \t 1\n"));
    assert_true(exists(t, "sys/module/vfio_pci") && exists(t, "sys/bus/pci/drivers/vfio-pci/bind"));
    assert_true(exists(t, "dev/vfio/vfio"));
    /* 44: already on vfio-pci, its group's node there; no nvidia proc entry off the nvidia driver
     */
    assert_string_equal(link_of(t, BUS("0000:44:00.0") "/driver"), "vfio-pci");
    expect_file(t, BUS("0000:44:00.0") "/driver_override", "vfio-pci\n");
    assert_true(exists(t, "dev/vfio/15"));
    assert_false(exists(t, "dev/vfio/12"));
    assert_false(exists(t, "proc/driver/nvidia/gpus/0000:44:00.0"));
    /* mdev parent */
    expect_file(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-222/name", "GRID T4-1Q\n");
    expect_file(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-222/available_instances",
                "16\n");
    expect_file(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-230/available_instances",
                "0\n");
    expect_file(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-222/device_api", "vfio-pci\n");
    assert_true(file_has(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-222/description",
                         "framebuffer=1024M"));
    assert_true(exists(t, "sys/class/mdev_bus/0000:42:00.0/vendor"));
    /* SR-IOV PF, no VFs yet */
    expect_file(t, BUS("0000:43:00.0") "/sriov_totalvfs", "8\n");
    expect_file(t, BUS("0000:43:00.0") "/sriov_numvfs", "0\n");
    assert_false(exists(t, BUS("0000:43:00.0") "/virtfn0"));
}

static void test_scenario_variants(void **state)
{
    struct tree *t = *state;
    char sub[PATH_MAX];
    static const char *const names[] = {"novfio", "nogroup", "on-vfio", "shared-nic"};
    struct tree s[4];
    for (size_t i = 0; i < 4; i++) {
        if (snprintf(s[i].root, sizeof(s[i].root), "%s/%zu", t->root, i) >= (int)sizeof(s[i].root))
            fail_msg("root too long");
        snprintf(sub, sizeof(sub), "%s", s[i].root);
        assert_int_equal(mkdir(sub, 0755), 0);
        build(&s[i], gvsim_host_scenario(names[i]));
    }
    assert_false(exists(&s[0], "sys/module/vfio_pci"));
    assert_false(exists(&s[0], "sys/bus/pci/drivers/vfio-pci"));
    assert_false(exists(&s[1], BUS(GPU) "/iommu_group"));
    assert_string_equal(link_of(&s[1], BUS(GPU) "/driver"), "nvidia");
    assert_string_equal(link_of(&s[2], BUS(GPU) "/driver"), "vfio-pci");
    assert_string_equal(link_of(&s[2], BUS(AUDIO) "/driver"), "vfio-pci");
    assert_true(exists(&s[2], "dev/vfio/12"));
    assert_true(exists(&s[3], "sys/kernel/iommu_groups/14/devices/0000:45:00.0/class"));
    expect_file(&s[3], BUS("0000:45:00.0") "/class", "0x020000\n");
}

/* host-sysfs.md: driver_override, unbind, drivers_probe, check; and back. */
static void test_passthrough_sequence(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("t4-audio"));
    static const char *const fns[] = {GPU, AUDIO};
    for (size_t i = 0; i < 2; i++) {
        char rel[PATH_MAX], unbind[PATH_MAX];
        snprintf(rel, sizeof(rel), BUS("%s") "/driver_override", fns[i]);
        assert_int_equal(w(t, rel, "vfio-pci\n"), 0);
        snprintf(unbind, sizeof(unbind), BUS("%s") "/driver/unbind", fns[i]);
        char value[32];
        snprintf(value, sizeof(value), "%s\n", fns[i]);
        assert_int_equal(w(t, unbind, value), 0);
        snprintf(rel, sizeof(rel), BUS("%s") "/driver", fns[i]);
        assert_string_equal(link_of(t, rel), "");
        assert_int_equal(w(t, "sys/bus/pci/drivers_probe", value), 0);
        assert_string_equal(link_of(t, rel), "vfio-pci");
        /* the group's node only once every member but the bridge is on vfio-pci */
        assert_int_equal(exists(t, "dev/vfio/12"), i == 1);
    }
    expect_file(t, BUS(GPU) "/driver_override", "vfio-pci\n");
    assert_true(exists(t, "sys/bus/pci/drivers/vfio-pci/" GPU "/vendor"));
    assert_false(exists(t, "sys/bus/pci/drivers/nvidia/" GPU));
    assert_false(exists(t, "proc/driver/nvidia/gpus/" GPU));
    assert_false(exists(t, BUS(GPU) "/drm"));
    assert_string_equal(link_of(t, BUS("0000:40:01.1") "/driver"), "pcieport");

    /* undo */
    for (size_t i = 0; i < 2; i++) {
        char rel[PATH_MAX], value[32];
        snprintf(value, sizeof(value), "%s\n", fns[i]);
        snprintf(rel, sizeof(rel), BUS("%s") "/driver_override", fns[i]);
        assert_int_equal(w(t, rel, "\n"), 0);
        expect_file(t, rel, "(null)\n");
        assert_int_equal(w(t, "sys/bus/pci/drivers/vfio-pci/unbind", value), 0);
        assert_int_equal(w(t, "sys/bus/pci/drivers_probe", value), 0);
    }
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), "nvidia");
    assert_string_equal(link_of(t, BUS(AUDIO) "/driver"), "snd_hda_intel");
    assert_false(exists(t, "dev/vfio/12"));
    assert_true(file_has(t, "proc/driver/nvidia/gpus/" GPU "/information", "Device Minor: \t 0\n"));
    assert_true(exists(t, BUS(GPU) "/drm/card0"));

    /* the log, in order, paths as written */
    char log[8192];
    assert_true(gvsim_host_writes(t->root, log, sizeof(log)) > 0);
    assert_non_null(
        strstr(log, BUS(GPU) "/driver_override vfio-pci\n" BUS(
                        GPU) "/driver/unbind " GPU "\nsys/bus/pci/drivers_probe " GPU "\n"));
    assert_non_null(strstr(log, BUS(AUDIO) "/driver_override \n"));

    /* refusals */
    assert_int_equal(w(t, "sys/bus/pci/drivers_probe", "0000:99:00.0\n"), -ENODEV);
    assert_int_equal(w(t, "sys/bus/pci/drivers/nvidia/bind", GPU "\n"), -EBUSY);
    assert_int_equal(w(t, "sys/bus/pci/drivers/snd_hda_intel/unbind", GPU "\n"), -ENODEV);
    assert_int_equal(w(t, "sys/bus/pci/drivers/nvidia/unbind", GPU "\n"), 0);
    assert_int_equal(w(t, "sys/bus/pci/drivers/nvidia/bind", GPU "\n"), 0);
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), "nvidia");
    assert_int_equal(w(t, "sys/bus/pci/no-such-file", "x"), -ENOENT);
}

static void test_novfio(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("novfio"));
    assert_int_equal(w(t, BUS(GPU) "/driver_override", "vfio-pci\n"), 0);
    assert_int_equal(w(t, BUS(GPU) "/driver/unbind", GPU), 0);
    assert_int_equal(w(t, "sys/bus/pci/drivers_probe", GPU), 0);
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), ""); /* binds to nothing */
}

static void test_mdev(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("mdev"));
    const char *type = BUS(GPU) "/mdev_supported_types/nvidia-222";
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/create", type);
    assert_int_equal(w(t, rel, "not-a-uuid\n"), -EINVAL);
    assert_int_equal(w(t, rel, UUID1 "\n"), 0);
    assert_int_equal(w(t, rel, UUID1 "\n"), -EEXIST);
    snprintf(rel, sizeof(rel), "%s/available_instances", type);
    expect_file(t, rel, "15\n");
    assert_string_equal(link_of(t, "sys/bus/mdev/devices/" UUID1 "/mdev_type"), "nvidia-222");
    assert_true(exists(t, "sys/bus/mdev/devices/" UUID1 "/remove"));
    assert_true(exists(t, BUS(GPU) "/mdev_supported_types/nvidia-222/devices/" UUID1 "/mdev_type"));
    const char *group = link_of(t, "sys/bus/mdev/devices/" UUID1 "/iommu_group");
    char node[64];
    snprintf(node, sizeof(node), "dev/vfio/%s", group);
    assert_true(atoi(group) >= 100);
    assert_true(exists(t, node));
    assert_int_equal(w(t, BUS(GPU) "/mdev_supported_types/nvidia-230/create",
                       "5a2f9c3e-0000-4000-8000-000000000001\n"),
                     -ENOSPC);

    assert_int_equal(w(t, "sys/bus/mdev/devices/" UUID1 "/remove", "0\n"), -EINVAL);
    assert_int_equal(w(t, "sys/bus/mdev/devices/" UUID1 "/remove", "1\n"), 0);
    assert_false(exists(t, "sys/bus/mdev/devices/" UUID1));
    assert_false(exists(t, DEV(GPU) "/" UUID1));
    assert_false(exists(t, node));
    snprintf(rel, sizeof(rel), "%s/available_instances", type);
    expect_file(t, rel, "16\n");
}

static void test_sriov(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("sriov"));
    const char *pf = BUS("0000:43:00.0");
    char rel[PATH_MAX];
    snprintf(rel, sizeof(rel), "%s/sriov_numvfs", pf);
    assert_int_equal(w(t, rel, "9\n"), -ERANGE);
    expect_file(t, rel, "0\n");
    assert_int_equal(w(t, rel, "2\n"), 0);
    expect_file(t, rel, "2\n");
    assert_int_equal(w(t, rel, "3\n"), -EBUSY);
    expect_file(t, rel, "2\n");
    assert_int_equal(w(t, rel, "2\n"), 0);
    assert_string_equal(link_of(t, BUS("0000:43:00.0") "/virtfn0"), "0000:43:00.4");
    assert_string_equal(link_of(t, BUS("0000:43:00.0") "/virtfn1"), "0000:43:00.5");
    assert_string_equal(link_of(t, BUS("0000:43:00.5") "/physfn"), "0000:43:00.0");
    assert_string_equal(link_of(t, BUS("0000:43:00.4") "/driver"), "nvidia");
    assert_string_equal(link_of(t, BUS("0000:43:00.4") "/iommu_group"), "100");
    assert_string_equal(link_of(t, BUS("0000:43:00.5") "/iommu_group"), "101");
    expect_file(t, BUS("0000:43:00.4") "/nvidia/current_vgpu_type", "0\n");
    expect_file(t, BUS("0000:43:00.4") "/nvidia/creatable_vgpu_types",
                "ID    : vGPU Name\n1414  : NVIDIA H200X-1-18C\n1415  : NVIDIA H200X-2-35C\n"
                "1416  : NVIDIA H200X-4-71C\n");

    const char *vf0 = BUS("0000:43:00.4") "/nvidia/current_vgpu_type";
    const char *vf1 = BUS("0000:43:00.5") "/nvidia/current_vgpu_type";
    assert_int_equal(w(t, vf0, "9999\n"), -EINVAL);
    expect_file(t, vf0, "0\n");
    assert_int_equal(w(t, vf0, "1416\n"), 0);
    expect_file(t, vf0, "1416\n");
    assert_int_equal(w(t, vf0, "1414\n"), -EBUSY);
    /* 1416 holds one VF: the other's list no longer offers it */
    assert_false(file_has(t, BUS("0000:43:00.5") "/nvidia/creatable_vgpu_types", "1416"));
    assert_true(file_has(t, BUS("0000:43:00.5") "/nvidia/creatable_vgpu_types", "1414  : "));
    expect_file(t, BUS("0000:43:00.4") "/nvidia/creatable_vgpu_types", "ID    : vGPU Name\n");
    assert_int_equal(w(t, vf1, "1416\n"), -EINVAL);
    assert_int_equal(w(t, vf0, "0\n"), 0);
    expect_file(t, vf0, "0\n");
    assert_true(file_has(t, BUS("0000:43:00.5") "/nvidia/creatable_vgpu_types", "1416  : "));

    assert_int_equal(w(t, rel, "0\n"), 0);
    expect_file(t, rel, "0\n");
    assert_false(exists(t, BUS("0000:43:00.4")));
    assert_false(exists(t, BUS("0000:43:00.0") "/virtfn0"));
    assert_false(exists(t, "sys/kernel/iommu_groups/100"));
}

static void test_sriov_numvfs_at_build(void **state)
{
    struct tree *t = *state;
    build(t, "gpu 0000:43:00.0 device=2335 driver=nvidia group=40\n"
             "sriov 0000:43:00.0 totalvfs=4 types=\"1414:NVIDIA H200X-1-18C:7\" numvfs=4\n");
    expect_file(t, BUS("0000:43:00.0") "/sriov_numvfs", "4\n");
    assert_string_equal(link_of(t, BUS("0000:43:00.0") "/virtfn3"), "0000:43:00.7");
}

static void test_faults(void **state)
{
    struct tree *t = *state;
    char spec[4096];
    snprintf(spec, sizeof(spec),
             "%sfault busy sys/bus/pci/drivers/snd_hda_intel/unbind\n"
             "fault nobind " GPU "\n",
             gvsim_host_scenario("t4-audio"));
    build(t, spec);
    assert_int_equal(w(t, BUS(AUDIO) "/driver/unbind", AUDIO "\n"), -EBUSY);
    assert_string_equal(link_of(t, BUS(AUDIO) "/driver"), "snd_hda_intel");
    char log[4096];
    assert_int_equal(gvsim_host_writes(t->root, log, sizeof(log)), 0);

    assert_int_equal(w(t, BUS(GPU) "/driver_override", "vfio-pci\n"), 0);
    assert_int_equal(w(t, BUS(GPU) "/driver/unbind", GPU "\n"), 0);
    assert_int_equal(w(t, "sys/bus/pci/drivers_probe", GPU "\n"), 0);
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), "");
    assert_int_equal(w(t, "sys/bus/pci/drivers/vfio-pci/bind", GPU "\n"), 0);
    assert_string_equal(link_of(t, BUS(GPU) "/driver"), "");
}

static void test_bad_spec(void **state)
{
    struct tree *t = *state;
    static const char *const bad[] = {
        "gpu 41:00\n",
        "gpu 0000:41:00.0 colour=blue\n",
        "gpu 0000:41:00.0 vendor=xyz\n",
        "mdev-type 0000:41:00.0 nvidia-1 name=\"x\" available=1\n", /* no device */
        "gpu 0000:41:00.0\nmdev-type 0000:41:00.0 nvidia-1 name=\"x\n",
        "gpu 0000:41:00.0\nsriov 0000:41:00.0 totalvfs=2 numvfs=3 types=\"1:a:1\"\n",
        "fault sometimes x\n",
        "frobnicate\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct gv_error err = {0};
        assert_int_equal(gvsim_host_build(t->root, bad[i], &err), -EINVAL);
        assert_non_null(strstr(err.msg, "line"));
    }
}

/* --- The inotify kernel, as scripts run it */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Never asserts: the kernel test must stop its process before it fails. */
static bool plain_write(const struct tree *t, const char *rel, const char *value)
{
    char p[PATH_MAX];
    path(t, rel, p);
    int fd = open(p, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return false;
    bool ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
    return close(fd) == 0 && ok;
}

static bool wait_link(const struct tree *t, const char *rel, const char *want)
{
    for (int64_t end = now_ms() + DEADLINE_MS; now_ms() < end;) {
        if (strcmp(link_of(t, rel), want) == 0)
            return true;
        usleep(2000);
    }
    return false;
}

static bool wait_exists(const struct tree *t, const char *rel, bool want)
{
    for (int64_t end = now_ms() + DEADLINE_MS; now_ms() < end;) {
        if (exists(t, rel) == want)
            return true;
        usleep(2000);
    }
    return false;
}

static bool wait_content(const struct tree *t, const char *rel, const char *want)
{
    char p[PATH_MAX], buf[4096];
    path(t, rel, p);
    for (int64_t end = now_ms() + DEADLINE_MS; now_ms() < end;) {
        FILE *f = fopen(p, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strcmp(buf, want) == 0)
                return true;
        }
        usleep(2000);
    }
    return false;
}

static pid_t start_kernel(const struct tree *t)
{
    const char *bin = getenv("GVSIM_HOST_BIN");
    int fds[2];
    if (!bin)
        fail_msg("GVSIM_HOST_BIN is not set (run through ctest)");
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(bin, bin, "kernel", t->root, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[16] = "";
    size_t got = 0;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    for (int64_t end = now_ms() + DEADLINE_MS; got < 6 && now_ms() < end;) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    if (strncmp(buf, "ready\n", 6) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("gpuvisor-sim-host kernel did not say ready");
    }
    return pid;
}

static void stop_kernel(pid_t pid)
{
    int status = 0;
    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A step that fails is named, and the kernel is still stopped before the test fails. */
#define STEP(cond)                                                                                 \
    do {                                                                                           \
        if (ok && !(cond)) {                                                                       \
            print_error("line %d: %s did not happen in time\n", __LINE__, #cond);                  \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)

static void test_kernel_process(void **state)
{
    struct tree *t = *state;
    build(t, gvsim_host_scenario("all"));
    pid_t pid = start_kernel(t);
    bool ok = true;

    STEP(plain_write(t, BUS(GPU) "/driver_override", "vfio-pci\n"));
    STEP(plain_write(t, BUS(GPU) "/driver/unbind", GPU "\n"));
    STEP(wait_link(t, BUS(GPU) "/driver", ""));
    STEP(plain_write(t, "sys/bus/pci/drivers_probe", GPU "\n"));
    STEP(wait_link(t, BUS(GPU) "/driver", "vfio-pci"));

    /* a new mdev's folder is watched too: its remove file works */
    STEP(plain_write(t, BUS("0000:42:00.0") "/mdev_supported_types/nvidia-222/create", UUID1 "\n"));
    STEP(wait_exists(t, "sys/bus/mdev/devices/" UUID1 "/remove", true));
    /* written at once: the kernel watched the new folder before its files showed */
    STEP(plain_write(t, "sys/bus/mdev/devices/" UUID1 "/remove", "1\n"));
    STEP(wait_exists(t, "sys/bus/mdev/devices/" UUID1, false));

    /* the same value twice still gives two reactions */
    STEP(plain_write(t, BUS("0000:43:00.0") "/sriov_numvfs", "1\n"));
    STEP(wait_exists(t, BUS("0000:43:00.4") "/nvidia/current_vgpu_type", true));
    STEP(plain_write(t, BUS("0000:43:00.0") "/sriov_numvfs", "0\n"));
    STEP(wait_exists(t, BUS("0000:43:00.4"), false));
    STEP(plain_write(t, BUS("0000:43:00.0") "/sriov_numvfs", "1\n"));
    STEP(wait_exists(t, BUS("0000:43:00.4") "/nvidia/current_vgpu_type", true));
    /* as the library does: a vGPU type on the VF as soon as it shows */
    STEP(plain_write(t, BUS("0000:43:00.4") "/nvidia/current_vgpu_type", "1414\n"));
    STEP(
        wait_content(t, BUS("0000:43:00.4") "/nvidia/creatable_vgpu_types", "ID    : vGPU Name\n"));
    /* a write just before SIGTERM still takes */
    STEP(plain_write(t, BUS("0000:43:00.4") "/nvidia/current_vgpu_type", "0\n"));

    stop_kernel(pid);
    assert_true(ok);
    assert_true(file_has(t, BUS("0000:43:00.4") "/nvidia/creatable_vgpu_types", "1414  : "));
    assert_true(file_has(t, ".sim/writes.log", DEV(GPU) "/driver_override vfio-pci\n"));
    assert_true(file_has(t, ".sim/writes.log", "sys/bus/pci/drivers_probe " GPU "\n"));
    assert_true(
        file_has(t, ".sim/writes.log", DEV("0000:43:00.4") "/nvidia/current_vgpu_type 1414\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scenarios_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_layout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scenario_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passthrough_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_novfio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_numvfs_at_build, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_spec, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kernel_process, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
