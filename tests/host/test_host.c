/* SPDX-License-Identifier: Apache-2.0 */
/* test_host.c: the host library (host/) against fake sysfs trees with a stand-in kernel.
 *
 * Each test builds a tree (sim/host: real folders, relative links for driver, iommu_group,
 * mdev_type, and writable attribute files), and passes the library a write function that makes the
 * write and then plays the kernel's part synchronously (gvsim_host_write), or fails the write a
 * test chose. The writes the library made are read back from the tree's log, so a test asserts
 * both the end state and the exact sequence, and that a refusal wrote nothing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/host.h"
#include "sim/host/hostsim.h"

#define GPU   "0000:41:00.0"
#define AUDIO "0000:41:00.1"
#define GPU2  "0000:42:00.0"

struct fixture {
    char root[64];
    char conf[80];
    char sys[96];
    struct gvh_io io;
    struct gvh_ctx c;
};

static int sim_write(void *arg, const char *path, const char *value, size_t len)
{
    return gvsim_host_write((const char *)arg, path, value, len);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Build scenario into a new tree and point a context at it. */
static struct fixture *setup_tree(const char *scenario)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->root, sizeof(f->root), "/tmp/gvhost.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->conf, sizeof(f->conf), "%s/conf", f->root);
    char *sys = f->sys;
    snprintf(sys, sizeof(f->sys), "%s/tree", f->root);
    assert_int_equal(mkdir(sys, 0755), 0);
    assert_int_equal(mkdir(f->conf, 0755), 0);
    struct gv_error err = {0};
    const char *spec = gvsim_host_scenario(scenario);
    assert_non_null(spec);
    int rc = gvsim_host_build(sys, spec, &err);
    if (rc)
        fail_msg("build %s: %s", scenario, err.msg);
    gvh_ctx_init(&f->c, sys, f->conf);
    f->io.write = sim_write;
    f->io.arg = f->sys;
    f->c.io = &f->io;
    f->c.bind_timeout_ms = 200;
    return f;
}

static void teardown_tree(struct fixture *f)
{
    rm_tree(f->root);
    free(f);
}

static void driver_is(struct fixture *f, const char *bdf, const char *want)
{
    char path[512], target[512];
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver", f->sys, bdf);
    ssize_t k = readlink(path, target, sizeof(target) - 1);
    if (!want[0]) {
        assert_true(k < 0);
        return;
    }
    assert_true(k > 0);
    target[k] = 0;
    const char *base = strrchr(target, '/');
    assert_string_equal(base ? base + 1 : target, want);
}

static void override_cleared(struct fixture *f, const char *bdf)
{
    char path[512], v[64] = "";
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver_override", f->sys, bdf);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(v, 1, sizeof(v) - 1, fp);
    fclose(fp);
    v[n] = 0;
    assert_true(strcmp(v, "(null)\n") == 0 || strcmp(v, "\n") == 0 || v[0] == 0);
}

static char *writes(struct fixture *f)
{
    static char buf[16384];
    assert_true(gvsim_host_writes(f->sys, buf, sizeof(buf)) >= 0);
    return buf;
}

static void add_fault(struct fixture *f, const char *line)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/.sim/faults", f->sys);
    FILE *fp = fopen(path, "a");
    assert_non_null(fp);
    fprintf(fp, "%s\n", line);
    fclose(fp);
}

/* --- Addresses and UUIDs */

static void test_bdf_parse(void **state)
{
    (void)state;
    char out[GVH_BDF_LEN];
    struct gv_error err = {0};
    assert_int_equal(gvh_bdf_parse("0000:41:00.0", out, &err), 0);
    assert_string_equal(out, "0000:41:00.0");
    assert_int_equal(gvh_bdf_parse("41:00.1", out, &err), 0);
    assert_string_equal(out, "0000:41:00.1");
    assert_int_equal(gvh_bdf_parse("000A:C1:1F.7", out, &err), 0);
    assert_string_equal(out, "000a:c1:1f.7");
    static const char *bad[] = {"", "41:00", "0000:41:00.8", "0000:41:20.0", "0000:4g:00.0",
                                "00000:41:00.0", "0000:41:00.0 ", "41.00.0", "0000-41-00.0",
                                "0000:41:00.0.1", "GPU-0"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(gvh_bdf_parse(bad[i], out, &err), -EINVAL);
        assert_non_null(strstr(err.msg, "PCI address"));
    }
    assert_int_equal(gvh_bdf_parse(NULL, out, &err), -EINVAL);

    char id[GVH_ID_LEN];
    assert_int_equal(gvh_uuid_parse("C2177883-F1BB-47F0-914D-32A22E3A8804", id, &err), 0);
    assert_string_equal(id, "c2177883-f1bb-47f0-914d-32a22e3a8804");
    static const char *badu[] = {"c2177883f1bb47f0914d32a22e3a8804", "c2177883-f1bb-47f0-914d",
                                 "c2177883-f1bb-47f0-914d-32a22e3a880g",
                                 "c2177883-f1bb-47f0-914d-32a22e3a88044", "../../etc/passwd"};
    for (size_t i = 0; i < sizeof(badu) / sizeof(badu[0]); i++)
        assert_int_equal(gvh_uuid_parse(badu[i], id, &err), -EINVAL);
}

/* --- Listing */

static void test_list(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("all");
    struct gvh_gpu *g;
    size_t n;
    struct gv_error err = {0};
    assert_int_equal(gvh_list(&f->c, &g, &n, &err), 0);
    assert_true(n >= 3);
    const struct gvh_gpu *t4 = NULL;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g[i].class_code >> 16, 0x03); /* GPUs only: no NIC, no audio */
        if (i > 0)
            assert_true(strcmp(g[i - 1].bdf, g[i].bdf) < 0);
        if (strcmp(g[i].bdf, GPU) == 0)
            t4 = &g[i];
    }
    assert_non_null(t4);
    assert_int_equal(t4->vendor, 0x10de);
    assert_string_equal(t4->model, "Tesla T4");
    assert_string_equal(t4->driver, "nvidia");
    assert_int_equal(t4->mode, GVH_MODE_HOST);
    assert_true(t4->iommu_group >= 0);
    bool audio = false;
    for (size_t i = 0; i < t4->nmembers; i++)
        if (strcmp(t4->members[i].bdf, AUDIO) == 0) {
            audio = true;
            assert_int_equal(t4->members[i].role, GVH_ROLE_FUNCTION);
            assert_string_equal(t4->members[i].driver, "snd_hda_intel");
        }
    assert_true(audio);
    json_t *j = gvh_gpu_json(t4);
    assert_string_equal(json_string_value(json_object_get(j, "mode")), "host");
    assert_string_equal(json_string_value(json_object_get(j, "pci")), GPU);
    json_decref(j);
    gvh_gpus_free(g, n);

    /* Not a GPU, not there, malformed. */
    struct gvh_gpu one;
    memset(&err, 0, sizeof(err));
    assert_int_equal(gvh_gpu_get(&f->c, "0000:99:00.0", &one, &err), -ENODEV);
    assert_non_null(strstr(err.msg, "0000:99:00.0"));
    assert_int_equal(gvh_gpu_get(&f->c, "41:00.1", &one, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "not a GPU"));
    assert_int_equal(gvh_gpu_get(&f->c, "41:00", &one, &err), -EINVAL);
    teardown_tree(f);
}

/* --- Passthrough */

static void test_passthrough_and_release(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("t4-audio");
    struct gvh_passthrough rec;
    struct gv_error err = {0};
    int rc = gvh_passthrough(&f->c, GPU, &rec, &err);
    if (rc)
        fail_msg("%s", err.msg);
    driver_is(f, GPU, "vfio-pci");
    driver_is(f, AUDIO, "vfio-pci");
    assert_int_equal(rec.nfn, 2);
    assert_string_equal(rec.fn[0].bdf, GPU);
    assert_string_equal(rec.fn[0].driver, "nvidia");
    assert_string_equal(rec.fn[1].bdf, AUDIO);
    assert_string_equal(rec.fn[1].driver, "snd_hda_intel");
    /* The kernel's sequence, function by function, the GPU first. */
    const char *want = "sys/bus/pci/devices/" GPU "/driver_override vfio-pci\n"
                       "sys/bus/pci/devices/" GPU "/driver/unbind " GPU "\n"
                       "sys/bus/pci/drivers_probe " GPU "\n"
                       "sys/bus/pci/devices/" AUDIO "/driver_override vfio-pci\n"
                       "sys/bus/pci/devices/" AUDIO "/driver/unbind " AUDIO "\n"
                       "sys/bus/pci/drivers_probe " AUDIO "\n";
    assert_string_equal(writes(f), want);
    assert_int_equal(gvh_mode_of(&f->c, NULL, GPU), GVH_MODE_PASSTHROUGH);

    /* Again: nothing to do, nothing written. */
    struct gvh_passthrough again;
    assert_int_equal(gvh_passthrough(&f->c, GPU, &again, &err), 0);
    assert_string_equal(writes(f), want);

    rc = gvh_release(&f->c, &rec, &err);
    if (rc)
        fail_msg("%s", err.msg);
    driver_is(f, GPU, "nvidia");
    driver_is(f, AUDIO, "snd_hda_intel");
    override_cleared(f, GPU);
    override_cleared(f, AUDIO);
    assert_int_equal(gvh_mode_of(&f->c, NULL, GPU), GVH_MODE_HOST);
    teardown_tree(f);
}

static void test_passthrough_on_vfio(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("on-vfio");
    struct gvh_passthrough rec;
    struct gv_error err = {0};
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), 0);
    assert_string_equal(writes(f), "");
    assert_int_equal(rec.nfn, 2);
    assert_string_equal(rec.fn[0].driver, ""); /* not known: release lets the kernel choose */
    teardown_tree(f);
}

static void test_passthrough_refused(void **state)
{
    (void)state;
    struct gvh_passthrough rec;
    struct gv_error err = {0};

    struct fixture *f = setup_tree("shared-nic");
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "not part of the GPU"));
    assert_non_null(strstr(err.msg, "class 0x02")); /* the NIC, named by its class */
    assert_string_equal(writes(f), "");
    driver_is(f, GPU, "nvidia");
    teardown_tree(f);

    f = setup_tree("novfio");
    memset(&err, 0, sizeof(err));
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -ENOPKG);
    assert_non_null(strstr(err.msg, "modprobe vfio-pci"));
    assert_string_equal(writes(f), "");
    teardown_tree(f);

    f = setup_tree("nogroup");
    memset(&err, 0, sizeof(err));
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -ENOTSUP);
    assert_non_null(strstr(err.msg, "IOMMU"));
    assert_string_equal(writes(f), "");
    teardown_tree(f);

    /* A process holding the GPU's device node: this one. */
    f = setup_tree("t4-audio");
    char node[512];
    snprintf(node, sizeof(node), "%s/dev/nvidia0", f->sys);
    int fd = open(node, O_RDONLY);
    assert_true(fd >= 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -EBUSY);
    char pid[32];
    snprintf(pid, sizeof(pid), "process %d", (int)getpid());
    assert_non_null(strstr(err.msg, pid));
    assert_string_equal(writes(f), "");
    struct gvh_user u[4];
    size_t nu = 0;
    assert_int_equal(gvh_gpu_users(&f->c, GPU, u, 4, &nu, &err), 0);
    assert_int_equal(nu, 1);
    assert_int_equal(u[0].pid, getpid());
    assert_string_equal(u[0].node, node);
    close(fd);
    /* Not a GPU: refused before anything. */
    assert_int_equal(gvh_passthrough(&f->c, AUDIO, &rec, &err), -EINVAL);
    assert_string_equal(writes(f), "");
    teardown_tree(f);
}

static void test_passthrough_dry_run(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("t4-audio");
    char *plan = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&plan, &len);
    f->c.dry_run = true;
    f->c.out = out;
    struct gvh_passthrough rec;
    struct gv_error err = {0};
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), 0);
    fclose(out);
    char want[4096];
    const char *r = f->sys;
    snprintf(want, sizeof(want),
             "write %s/sys/bus/pci/devices/" GPU "/driver_override vfio-pci\n"
             "write %s/sys/bus/pci/devices/" GPU "/driver/unbind " GPU "\n"
             "write %s/sys/bus/pci/drivers_probe " GPU "\n"
             "write %s/sys/bus/pci/devices/" AUDIO "/driver_override vfio-pci\n"
             "write %s/sys/bus/pci/devices/" AUDIO "/driver/unbind " AUDIO "\n"
             "write %s/sys/bus/pci/drivers_probe " AUDIO "\n",
             r, r, r, r, r, r);
    assert_string_equal(plan, want);
    /* The one reader of that text: six writes, in order. */
    json_t *doc = gvh_plan_json(plan);
    json_t *w = json_object_get(doc, "writes");
    assert_int_equal(json_array_size(w), 6);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 2), "value")), GPU);
    json_decref(doc);
    free(plan);
    /* A root with a space in it, an empty value, a note. */
    doc = gvh_plan_json("write /tmp/a b/sys/x vfio-pci\nwrite /tmp/a b/sys/y \"\"\n# and one note\n");
    w = json_object_get(doc, "writes");
    assert_int_equal(json_array_size(w), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 0), "path")),
                        "/tmp/a b/sys/x");
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 0), "value")),
                        "vfio-pci");
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 1), "value")), "");
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "notes"), 0)),
                        "and one note");
    json_decref(doc);
    assert_string_equal(writes(f), "");
    driver_is(f, GPU, "nvidia");
    driver_is(f, AUDIO, "snd_hda_intel");
    teardown_tree(f);
}

static void test_passthrough_rollback(void **state)
{
    (void)state;
    /* The second function's unbind fails with EBUSY: the GPU goes back to nvidia. */
    struct fixture *f = setup_tree("t4-audio");
    add_fault(f, "busy sys/bus/pci/devices/" AUDIO "/driver/unbind");
    struct gvh_passthrough rec;
    struct gv_error err = {0};
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -EIO);
    assert_non_null(strstr(err.msg, AUDIO "/driver/unbind"));
    assert_non_null(strstr(err.msg, "busy"));
    assert_non_null(strstr(err.msg, "rolled back"));
    driver_is(f, GPU, "nvidia");
    driver_is(f, AUDIO, "snd_hda_intel");
    override_cleared(f, GPU);
    override_cleared(f, AUDIO);
    teardown_tree(f);

    /* The second function does not bind to vfio-pci (no error from the write). */
    f = setup_tree("t4-audio");
    add_fault(f, "nobind " AUDIO);
    memset(&err, 0, sizeof(err));
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -EIO);
    assert_non_null(strstr(err.msg, AUDIO " did not bind to vfio-pci"));
    driver_is(f, GPU, "nvidia");
    teardown_tree(f);

    /* The first write fails: nothing to undo, nothing left changed. */
    f = setup_tree("t4-audio");
    add_fault(f, "busy sys/bus/pci/devices/" GPU "/driver_override");
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), -EIO);
    driver_is(f, GPU, "nvidia");
    driver_is(f, AUDIO, "snd_hda_intel");
    teardown_tree(f);
}

static void test_release_refused_while_vm(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("t4-audio");
    struct gvh_passthrough rec;
    struct gv_error err = {0};
    assert_int_equal(gvh_passthrough(&f->c, GPU, &rec, &err), 0);
    char node[512];
    snprintf(node, sizeof(node), "%s/dev/vfio/%d", f->sys, rec.iommu_group);
    int fd = open(node, O_RDONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(gvh_release(&f->c, &rec, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "shut the guest down"));
    driver_is(f, GPU, "vfio-pci");
    close(fd);
    assert_int_equal(gvh_release(&f->c, &rec, &err), 0);
    driver_is(f, GPU, "nvidia");
    teardown_tree(f);
}

/* --- mdev */

static void test_mdev(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("mdev");
    struct gvh_type *t;
    size_t n;
    struct gv_error err = {0};
    int rc = gvh_types(&f->c, GPU, &t, &n, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_true(n >= 2);
    const struct gvh_type *free_type = NULL, *full = NULL;
    for (size_t i = 0; i < n; i++) {
        assert_false(t[i].sriov);
        if (t[i].available > 0 && !free_type)
            free_type = &t[i];
        if (t[i].available == 0)
            full = &t[i];
    }
    assert_non_null(free_type);
    assert_non_null(full);
    assert_true(free_type->framebuffer > 0);

    /* Refusals first: each writes nothing. */
    struct gvh_vgpu v;
    assert_int_equal(gvh_vgpu_create(&f->c, GPU, "no-such-type", NULL, &v, &err), -EINVAL);
    assert_non_null(strstr(err.msg, free_type->id)); /* says what there is */
    assert_int_equal(gvh_vgpu_create(&f->c, GPU, full->id, NULL, &v, &err), -ENOSPC);
    assert_int_equal(gvh_vgpu_create(&f->c, GPU, free_type->id, "not-a-uuid", &v, &err), -EINVAL);
    assert_int_equal(gvh_vgpu_create(&f->c, "41:00", free_type->id, NULL, &v, &err), -EINVAL);
    assert_string_equal(writes(f), "");

    /* By name, with a UUID. */
    const char *uuid = "c2177883-f1bb-47f0-914d-32a22e3a8804";
    rc = gvh_vgpu_create(&f->c, GPU, free_type->name, uuid, &v, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_string_equal(v.id, uuid);
    assert_string_equal(v.type, free_type->id);
    assert_false(v.sriov);
    char path[512];
    snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s", f->sys, uuid);
    assert_int_equal(access(path, F_OK), 0);
    /* mdevctl's definition. */
    snprintf(path, sizeof(path), "%s/etc/mdevctl.d/" GPU "/%s", f->conf, uuid);
    json_error_t je;
    json_t *def = json_load_file(path, 0, &je);
    assert_non_null(def);
    assert_string_equal(json_string_value(json_object_get(def, "mdev_type")), free_type->id);
    assert_string_equal(json_string_value(json_object_get(def, "start")), "auto");
    assert_true(json_is_array(json_object_get(def, "attrs")));
    json_decref(def);
    assert_int_equal(gvh_vgpu_create(&f->c, GPU, free_type->id, uuid, &v, &err), -EEXIST);
    assert_int_equal(gvh_mode_of(&f->c, NULL, GPU), GVH_MODE_VGPU_PARENT);

    char xml[1024];
    assert_true(gvh_xml(&f->c, uuid, xml, sizeof(xml), &err) > 0);
    assert_non_null(strstr(xml, "type='mdev'"));
    assert_non_null(strstr(xml, uuid));

    struct gvh_vgpu found;
    assert_int_equal(gvh_vgpu_find(&f->c, uuid, &found, &err), 0);
    assert_string_equal(found.parent, GPU);
    assert_string_equal(found.type, free_type->id);
    rc = gvh_vgpu_remove(&f->c, &found, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(access(path, F_OK), -1); /* the definition too */
    assert_int_equal(gvh_vgpu_find(&f->c, uuid, &found, &err), -ENOENT);

    /* Without a UUID: a random one. */
    assert_int_equal(gvh_vgpu_create(&f->c, GPU, free_type->id, NULL, &v, &err), 0);
    char canon[GVH_ID_LEN];
    assert_int_equal(gvh_uuid_parse(v.id, canon, NULL), 0);
    free(t);
    teardown_tree(f);
}

/* --- SR-IOV */

static void test_sriov(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("sriov");
    struct gvh_gpu *g;
    size_t n;
    struct gv_error err = {0};
    assert_int_equal(gvh_list(&f->c, &g, &n, &err), 0);
    const char *pf = NULL;
    for (size_t i = 0; i < n && !pf; i++)
        if (g[i].sriov_total > 0)
            pf = g[i].bdf;
    assert_non_null(pf);
    char pfb[GVH_BDF_LEN];
    snprintf(pfb, sizeof(pfb), "%s", pf);
    gvh_gpus_free(g, n);

    struct gvh_vgpu v;
    assert_int_equal(gvh_vgpu_create(&f->c, pfb, "NO-SUCH-1Q", NULL, &v, &err) < 0, 1);
    assert_int_equal(gvh_vgpu_create(&f->c, pfb, "1414", "c2177883-f1bb-47f0-914d-32a22e3a8804",
                                     &v, &err),
                     -EINVAL);
    int rc = gvh_vgpu_create(&f->c, pfb, "H200X-1-18C", NULL, &v, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_true(v.sriov);
    assert_string_equal(v.parent, pfb);
    assert_string_equal(v.type, "1414");
    assert_true(v.numvfs > 0);
    char cur[64], path[512];
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", f->sys,
             v.id);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    assert_non_null(fgets(cur, sizeof(cur), fp));
    fclose(fp);
    assert_int_equal(atoi(cur), 1414);

    struct gvh_type *t;
    assert_int_equal(gvh_types(&f->c, pfb, &t, &n, &err), 0);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].sriov);
        if (strcmp(t[i].id, "1414") == 0)
            assert_int_equal(t[i].framebuffer, 18ull << 30);
    }
    free(t);

    char xml[1024];
    assert_true(gvh_xml(&f->c, v.id, xml, sizeof(xml), &err) > 0);
    assert_non_null(strstr(xml, "type='pci'"));
    struct gvh_vgpu found;
    assert_int_equal(gvh_vgpu_find(&f->c, v.id, &found, &err), 0);
    assert_true(found.sriov);
    assert_int_equal(gvh_vgpu_remove(&f->c, &found, &err), 0);
    assert_int_equal(gvh_vgpu_find(&f->c, v.id, &found, &err), -ENOENT);
    teardown_tree(f);
}

/* --- XML for a whole GPU: every function of its slot. */

static void test_xml_gpu(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("t4-audio");
    char xml[2048];
    struct gv_error err = {0};
    assert_true(gvh_xml(&f->c, GPU, xml, sizeof(xml), &err) > 0);
    assert_non_null(strstr(xml, "bus='0x41' slot='0x00' function='0x0'"));
    assert_non_null(strstr(xml, "bus='0x41' slot='0x00' function='0x1'"));
    assert_non_null(strstr(xml, "managed='yes'"));
    assert_int_equal(gvh_xml(&f->c, GPU, xml, 16, &err), -ENOSPC);
    assert_int_equal(gvh_xml(&f->c, "nonsense", xml, sizeof(xml), &err), -EINVAL);
    assert_int_equal(gvh_xml(&f->c, "c2177883-f1bb-47f0-914d-32a22e3a8804", xml, sizeof(xml), &err),
                     -ENOENT);
    teardown_tree(f);
}

/* --- Definitions, reboot, apply */

static void test_reboot_apply(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("all");
    struct gvh_state s = {0};
    struct gv_error err = {0};
    struct gvh_passthrough rec;
    int rc = gvh_passthrough(&f->c, GPU, &rec, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(gvh_state_put_passthrough(&s, &rec), 0);
    /* An mdev on the second GPU; its definition also in mdevctl's folder. */
    struct gvh_type *t;
    size_t n;
    rc = gvh_types(&f->c, GPU2, &t, &n, &err);
    if (rc)
        fail_msg("%s", err.msg);
    const char *type = NULL;
    for (size_t i = 0; i < n && !type; i++)
        if (t[i].available > 0)
            type = t[i].id;
    assert_non_null(type);
    struct gvh_vgpu v;
    assert_int_equal(gvh_vgpu_create(&f->c, GPU2, type, NULL, &v, &err), 0);
    free(t);
    assert_int_equal(gvh_state_put_vgpu(&s, &v), 0);
    assert_int_equal(gvh_state_save(&f->c, &s, &err), 0);

    /* A definition mdevctl made by itself: picked up by load. */
    struct gvh_vgpu other = v;
    snprintf(other.id, sizeof(other.id), "5b2cbd0b-0b31-4ffa-9a5b-7a0bd0c0a1e2");
    assert_int_equal(gvh_mdevctl_write(&f->c, &other, &err), 0);

    struct gvh_state loaded;
    assert_int_equal(gvh_state_load(&f->c, &loaded, &err), 0);
    assert_int_equal(loaded.npt, 1);
    assert_int_equal(loaded.nvgpus, 2);
    assert_string_equal(loaded.pt[0].fn[0].driver, "nvidia");

    /* Reboot: the tree comes back bare, as the kernel starts. */
    char sys[128];
    snprintf(sys, sizeof(sys), "%s", f->sys);
    rm_tree(sys);
    assert_int_equal(mkdir(sys, 0755), 0);
    assert_int_equal(gvsim_host_build(sys, gvsim_host_scenario("all"), &err), 0);
    driver_is(f, GPU, "nvidia");
    assert_int_equal(gvh_mode_of(&f->c, &loaded, GPU), GVH_MODE_PASSTHROUGH);

    struct gvh_report r;
    rc = gvh_apply(&f->c, &loaded, &r, &err);
    if (rc)
        fail_msg("%s\n%s", err.msg, r.text);
    assert_int_equal(r.done, 3);
    assert_int_equal(r.failed, 0);
    driver_is(f, GPU, "vfio-pci");
    driver_is(f, AUDIO, "vfio-pci");
    char path[512];
    snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s", sys, v.id);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/sys/bus/mdev/devices/%s", sys, other.id);
    assert_int_equal(access(path, F_OK), 0);

    /* Twice: nothing more is written. */
    char before[16384];
    snprintf(before, sizeof(before), "%s", writes(f));
    assert_int_equal(gvh_apply(&f->c, &loaded, &r, &err), 0);
    assert_int_equal(r.already, 3);
    assert_int_equal(r.done, 0);
    assert_string_equal(writes(f), before);

    /* A record that cannot be applied does not stop the others. */
    struct gvh_vgpu bogus = v;
    snprintf(bogus.id, sizeof(bogus.id), "0b7e1d1c-2a43-4b8e-9d2f-6f1e1c0a9b8d");
    snprintf(bogus.type, sizeof(bogus.type), "nvidia-none");
    assert_int_equal(gvh_state_put_vgpu(&loaded, &bogus), 0);
    assert_int_equal(gvh_apply(&f->c, &loaded, &r, &err), -EIO);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.already, 3);
    assert_non_null(strstr(r.text, bogus.id));

    gvh_state_free(&s);
    gvh_state_free(&loaded);
    teardown_tree(f);
}

static void test_sriov_reboot(void **state)
{
    (void)state;
    struct fixture *f = setup_tree("sriov");
    struct gvh_gpu *g;
    size_t n;
    struct gv_error err = {0};
    assert_int_equal(gvh_list(&f->c, &g, &n, &err), 0);
    char pf[GVH_BDF_LEN] = "";
    for (size_t i = 0; i < n; i++)
        if (g[i].sriov_total > 0)
            snprintf(pf, sizeof(pf), "%s", g[i].bdf);
    gvh_gpus_free(g, n);
    struct gvh_vgpu v;
    assert_int_equal(gvh_vgpu_create(&f->c, pf, "1414", NULL, &v, &err), 0);
    struct gvh_state s = {0};
    assert_int_equal(gvh_state_put_vgpu(&s, &v), 0);
    char sys[128];
    snprintf(sys, sizeof(sys), "%s", f->sys);
    rm_tree(sys);
    assert_int_equal(mkdir(sys, 0755), 0);
    assert_int_equal(gvsim_host_build(sys, gvsim_host_scenario("sriov"), &err), 0);
    struct gvh_report r;
    int rc = gvh_apply(&f->c, &s, &r, &err);
    if (rc)
        fail_msg("%s\n%s", err.msg, r.text);
    struct gvh_vgpu found;
    assert_int_equal(gvh_vgpu_find(&f->c, v.id, &found, &err), 0);
    assert_string_equal(found.type, "1414");
    gvh_state_free(&s);
    teardown_tree(f);
}

static void test_state_json(void **state)
{
    (void)state;
    struct gv_error err = {0};
    struct gvh_state s;
    static const char *bad[] = {
        "[]",
        "{\"version\":2}",
        "{\"version\":1,\"passthrough\":{}}",
        "{\"version\":1,\"passthrough\":[{\"pci\":\"41:00\"}]}",
        "{\"version\":1,\"passthrough\":[{\"pci\":\"0000:41:00.0\",\"functions\":[]}]}",
        "{\"version\":1,\"passthrough\":[{\"pci\":\"0000:41:00.0\",\"functions\":[{\"pci\":"
        "\"0000:41:00.1\"}]}]}",
        "{\"version\":1,\"vgpus\":[{\"kind\":\"mdev\",\"id\":\"x\",\"parent\":\"0000:41:00.0\","
        "\"type\":\"t\"}]}",
        "{\"version\":1,\"vgpus\":[{\"kind\":\"other\"}]}",
        "{\"version\":1,\"vgpus\":[{\"kind\":\"sriov\",\"id\":\"0000:43:00.4\",\"parent\":"
        "\"0000:43:00.0\",\"type\":\"\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        memset(&err, 0, sizeof(err));
        assert_int_equal(gvh_state_from_json(j, &s, &err), -EINVAL);
        assert_true(err.msg[0] != 0);
        json_decref(j);
    }
    /* Round trip. */
    struct gvh_state a = {0};
    struct gvh_passthrough p = {.gpu = GPU, .iommu_group = 12, .nfn = 2};
    snprintf(p.fn[0].bdf, sizeof(p.fn[0].bdf), GPU);
    snprintf(p.fn[0].driver, sizeof(p.fn[0].driver), "nvidia");
    snprintf(p.fn[1].bdf, sizeof(p.fn[1].bdf), AUDIO);
    struct gvh_vgpu v = {.id = "0000:43:00.4", .parent = "0000:43:00.0", .type = "1414",
                         .type_name = "NVIDIA H200X-1-18C", .sriov = true, .numvfs = 4,
                         .start_auto = true};
    assert_int_equal(gvh_state_put_passthrough(&a, &p), 0);
    assert_int_equal(gvh_state_put_vgpu(&a, &v), 0);
    json_t *j = gvh_state_json(&a);
    struct gvh_state b;
    assert_int_equal(gvh_state_from_json(j, &b, &err), 0);
    json_decref(j);
    assert_int_equal(b.npt, 1);
    assert_int_equal(b.nvgpus, 1);
    assert_memory_equal(&b.pt[0], &p, sizeof(p));
    assert_memory_equal(&b.vgpus[0], &v, sizeof(v));
    assert_int_equal(gvh_state_remove(&b, GPU), 0);
    assert_int_equal(gvh_state_remove(&b, GPU), -ENOENT);
    assert_int_equal(gvh_state_remove(&b, "0000:43:00.4"), 0);
    assert_int_equal(b.npt + b.nvgpus, 0);
    gvh_state_free(&a);
    gvh_state_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bdf_parse),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_passthrough_and_release),
        cmocka_unit_test(test_passthrough_on_vfio),
        cmocka_unit_test(test_passthrough_refused),
        cmocka_unit_test(test_passthrough_dry_run),
        cmocka_unit_test(test_passthrough_rollback),
        cmocka_unit_test(test_release_refused_while_vm),
        cmocka_unit_test(test_mdev),
        cmocka_unit_test(test_sriov),
        cmocka_unit_test(test_xml_gpu),
        cmocka_unit_test(test_reboot_apply),
        cmocka_unit_test(test_sriov_reboot),
        cmocka_unit_test(test_state_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
