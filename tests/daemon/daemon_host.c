/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_host.c CASE: gpuvisord's host routes (passthrough and vendor vGPUs) against a fake sysfs
 * tree, with gpuvisor-sim-host playing the kernel in it (inotify), as an admin meets them over
 * HTTP. Each case builds its own tree (the simulated GPUs 0 and 1 are the tree's 0000:41:00.0 and
 * 0000:42:00.0), starts its own kernel and daemon, and removes everything at exit.
 *
 *   passthrough  list; a GPU with an instance is refused; a dry run writes nothing and answers the
 *                writes; passthrough of 41:00.0 takes its audio function; the GPU shows mode
 *                passthrough and takes no instance; libvirt XML; events; a group shared with a
 *                NIC is refused naming it; release gives the drivers back
 *   vgpus        mdev create, list, XML, mdevctl's file, the parent's mode; SR-IOV create; remove
 *   reboot       the tree rebuilt bare and the daemon restarted: bindings and vGPUs come back
 *   import       a host managed before the daemon (the state file, mdevctl's definitions) moves
 *                into its database and is applied; a definition that cannot be applied is
 *                logged and the daemon starts all the same
 *   errors       bad JSON, addresses, UUIDs and types give 400 and write nothing; a tenant gets
 *                403 on every host route
 *   slow         while a passthrough waits for the kernel (a function that does not bind: the
 *                library waits its bind timeout, then rolls back), the API answers, the GPU shows
 *                passthrough and takes no instance; afterwards it is sliced again and takes one */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemontest.h"

#define UUID1 "c2177883-f1bb-47f0-914d-32a22e3a8804"

/* 41: a T4 with its audio function and a bridge in group 12; 42: a T4 with mdev types (group 13);
 * 43: an H200 SR-IOV PF (group 40); 46: a T4 whose group 14 holds a NIC (47:00.0) too. */
static const char spec[] =
    "module vfio_pci\n"
    "fn 0000:40:01.1 vendor=1022 device=1483 class=060400 driver=pcieport group=12\n"
    "gpu 0000:41:00.0 device=1eb8 subsystem_vendor=10de subsystem_device=12a2 driver=nvidia "
    "group=12 minor=0 drm=card0,renderD128\n"
    "fn 0000:41:00.1 vendor=10de device=10fa class=040300 driver=snd_hda_intel group=12\n"
    "gpu 0000:42:00.0 device=1eb8 subsystem_vendor=10de subsystem_device=12a2 driver=nvidia "
    "group=13 minor=1\n"
    "fn 0000:42:00.1 vendor=10de device=10fa class=040300 driver=snd_hda_intel group=13\n"
    "mdev-type 0000:42:00.0 nvidia-222 name=\"GRID T4-1Q\" available=16 "
    "description=\"num_heads=4, framebuffer=1024M, max_instance=16\"\n"
    "gpu 0000:43:00.0 device=2335 subsystem_vendor=10de subsystem_device=18be driver=nvidia "
    "group=40 minor=2\n"
    "sriov 0000:43:00.0 totalvfs=8 types=\"1414:NVIDIA H200X-1-18C:7,1415:NVIDIA H200X-2-35C:3\"\n"
    "gpu 0000:46:00.0 device=1eb8 driver=nvidia group=14 minor=3\n"
    "fn 0000:47:00.0 vendor=8086 device=1572 class=020000 driver=i40e group=14\n";

struct host {
    struct dt t;
    char tree[128], config[128], specfile[160];
    pid_t kernel;
    const char *args[8];
};

static struct host *hosts[4];

static void stop_kernel(struct host *h)
{
    if (h->kernel > 0) {
        kill(h->kernel, SIGTERM);
        waitpid(h->kernel, NULL, 0);
        h->kernel = 0;
    }
}

/* Before daemontest's own cleanup (atexit runs the last registered first): no kernel survives. */
static void cleanup(void)
{
    for (int i = 0; i < 4; i++)
        if (hosts[i])
            stop_kernel(hosts[i]);
}

static const char *simhost(void)
{
    const char *bin = getenv("GV_SIM_HOST");
    CHECK(bin && *bin, "GV_SIM_HOST is not set");
    return bin;
}

static void build_tree(struct host *h)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && '%s' build '%s' --spec '%s'", h->tree, simhost(),
             h->tree, h->specfile);
    CHECK(system(cmd) == 0, "%s failed", cmd);
}

/* Start the kernel and wait for its "ready". */
static void start_kernel(struct host *h)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(simhost(), simhost(), "kernel", h->tree, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    h->kernel = pid;
    char buf[64] = {0};
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    CHECK(n > 0 && strncmp(buf, "ready", 5) == 0, "the kernel did not start: \"%s\"", buf);
}

/* Build the tree, start its kernel, then the daemon; before() runs in between (files to put in
 * place before the daemon's first start). */
static void start_with(struct host *h, const char *name, void (*before)(struct host *h))
{
    dt_init(&h->t, name);
    for (int i = 0; i < 4; i++)
        if (!hosts[i]) {
            hosts[i] = h;
            break;
        }
    static bool once;
    if (!once) {
        once = true;
        atexit(cleanup);
    }
    snprintf(h->tree, sizeof(h->tree), "%s/tree", h->t.dir);
    snprintf(h->config, sizeof(h->config), "%s/config", h->t.dir);
    snprintf(h->specfile, sizeof(h->specfile), "%s/spec", h->t.dir);
    CHECK(mkdir(h->config, 0755) == 0, "mkdir %s", h->config);
    FILE *f = fopen(h->specfile, "w");
    CHECK(f && fputs(spec, f) >= 0 && fclose(f) == 0, "write %s", h->specfile);
    build_tree(h);
    start_kernel(h);
    if (before)
        before(h);
    const char *args[] = {"--sysfs-root", h->tree, "--config-root", h->config, NULL};
    memcpy(h->args, args, sizeof(args));
    CHECK(dt_start(&h->t, h->args) == 0, "gpuvisord did not start: %s", dt_log(&h->t));
}

static void start(struct host *h, const char *name)
{
    start_with(h, name, NULL);
}

/* --- Looking at the tree and the answers. */

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static bool has(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle);
}

/* The driver a function of the tree is bound to, "" when none. */
static const char *driver_of(struct host *h, const char *bdf)
{
    static char out[64];
    char path[256], target[256];
    snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s/driver", h->tree, bdf);
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    out[0] = '\0';
    if (n > 0) {
        target[n] = '\0';
        snprintf(out, sizeof(out), "%s", basename(target));
    }
    return out;
}

static bool exists(struct host *h, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", h->tree, rel);
    return access(path, F_OK) == 0;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strdup("");
    char *text = NULL;
    size_t cap = 0;
    if (getdelim(&text, &cap, '\0', f) < 0) {
        free(text);
        text = strdup("");
    }
    fclose(f);
    return text;
}

static char *writes_log(struct host *h)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/.sim/writes.log", h->tree);
    return read_all(path);
}

static void refused(struct host *h, long status, const char *token, const char *method,
                    const char *path, const char *body, const char *needle)
{
    json_t *j = dt_call(&h->t, status, token, method, path, body);
    CHECK(has(dt_error(j), needle), "%s %s %s: error \"%s\" lacks \"%s\"", method, path,
          body ? body : "", dt_error(j), needle);
    json_decref(j);
}

/* The GPU of GET /v1/gpus whose pci is bdf. */
static json_t *gpu_by_pci(json_t *list, const char *bdf)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(list, "gpus"), i,
                       g) if (!strcmp(str(g, "pci"), bdf)) return g;
    return NULL;
}

static const char *mode_of(struct host *h, const char *bdf)
{
    static char out[32];
    json_t *j = dt_call(&h->t, 200, NULL, "GET", "/v1/gpus", NULL);
    json_t *g = gpu_by_pci(j, bdf);
    CHECK(g, "GET /v1/gpus lacks %s", bdf);
    snprintf(out, sizeof(out), "%s", str(g, "mode"));
    json_decref(j);
    return out;
}

static bool has_event(struct host *h, const char *action, const char *target)
{
    json_t *j = dt_call(&h->t, 200, NULL, "GET", "/v1/events?limit=1000", NULL);
    size_t i;
    json_t *e;
    bool found = false;
    json_array_foreach(json_object_get(j, "events"), i, e) found =
        found || (!strcmp(str(e, "action"), action) && !strcmp(str(e, "target"), target));
    json_decref(j);
    return found;
}

static void tenant(struct host *h, char *tok)
{
    json_t *j = dt_call(&h->t, 201, NULL, "POST", "/v1/tenants", "{\"name\":\"lab\"}");
    snprintf(tok, 64, "%s", str(j, "token"));
    json_decref(j);
}

/* ---------------------------------------------------------------- passthrough */

static void case_passthrough(void)
{
    static struct host h;
    start(&h, "hpt");
    json_t *j;

    /* What the host has: every GPU of the tree, with its group. */
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/gpus", NULL);
    CHECK(json_array_size(json_object_get(j, "gpus")) == 4, "host GPUs: %zu",
          json_array_size(json_object_get(j, "gpus")));
    json_decref(j);

    /* GET /v1/gpus: the two simulated GPUs with their addresses, then the host's others. */
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/gpus", NULL);
    json_t *g0 = gpu_by_pci(j, "0000:41:00.0"), *g43 = gpu_by_pci(j, "0000:43:00.0");
    CHECK(g0 && json_integer_value(json_object_get(g0, "index")) == 0 &&
              !strcmp(str(g0, "mode"), "sliced"),
          "GPU 0 at 0000:41:00.0, sliced");
    CHECK(g43 && json_is_null(json_object_get(g43, "index")) &&
              json_is_null(json_object_get(g43, "uuid")),
          "0000:43:00.0 listed without index or UUID");
    CHECK(json_array_size(json_object_get(j, "gpus")) == 4, "4 GPUs in /v1/gpus");
    json_decref(j);

    /* An instance on GPU 0 keeps it from VMs. */
    char tok[64];
    tenant(&h, tok);
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/instances",
                "{\"tenant\":\"lab\",\"memory\":\"1GiB\",\"gpu\":0}");
    char id[32];
    snprintf(id, sizeof(id), "%s", str(j, "id"));
    json_decref(j);
    char *before = writes_log(&h);
    refused(&h, 409, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"0000:41:00.0\"}",
            "instance");
    char path[128];
    snprintf(path, sizeof(path), "/v1/instances/%s", id);
    json_decref(dt_call(&h.t, 204, NULL, "DELETE", path, NULL));

    /* A dry run: the writes, and none made. */
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/passthrough?dry_run=1", "{\"pci\":\"41:00.0\"}");
    CHECK(json_is_true(json_object_get(j, "dry_run")), "dry_run: true");
    json_t *writes = json_object_get(j, "writes");
    bool override = false;
    size_t i;
    json_t *w;
    json_array_foreach(writes, i, w) override =
        override || (has(str(w, "path"), "0000:41:00.1/driver_override") &&
                     !strcmp(str(w, "value"), "vfio-pci"));
    CHECK(override, "the plan sets the audio function's driver_override: %zu writes",
          json_array_size(writes));
    json_decref(j);
    char *after = writes_log(&h);
    CHECK(!strcmp(before, after), "a dry run wrote: %s", after + strlen(before));
    free(after);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "nvidia"), "still on nvidia");
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/passthrough", NULL);
    CHECK(json_array_size(json_object_get(j, "passthrough")) == 0, "nothing recorded");
    json_decref(j);

    /* The real one: the GPU and its audio function on vfio-pci, the drivers they had recorded. */
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"0000:41:00.0\"}");
    CHECK(!strcmp(str(j, "pci"), "0000:41:00.0"), "pci");
    json_t *fns = json_object_get(j, "functions");
    CHECK(json_array_size(fns) == 2 &&
              !strcmp(str(json_array_get(fns, 1), "pci"), "0000:41:00.1") &&
              !strcmp(str(json_array_get(fns, 0), "driver"), "nvidia"),
          "functions: the GPU (was on nvidia) and its audio function");
    json_decref(j);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "vfio-pci"), "GPU on %s",
          driver_of(&h, "0000:41:00.0"));
    CHECK(!strcmp(driver_of(&h, "0000:41:00.1"), "vfio-pci"), "audio on %s",
          driver_of(&h, "0000:41:00.1"));
    CHECK(!strcmp(driver_of(&h, "0000:40:01.1"), "pcieport"), "the bridge stays");
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/passthrough", NULL);
    CHECK(json_array_size(json_object_get(j, "passthrough")) == 1, "one recorded");
    json_decref(j);
    CHECK(has_event(&h, "host.passthrough", "0000:41:00.0"), "event host.passthrough");

    /* The GPU is for VMs now: its mode, and no instance on it. */
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "passthrough"), "mode %s",
          mode_of(&h, "0000:41:00.0"));
    refused(&h, 409, NULL, "POST", "/v1/host/vgpus",
            "{\"parent\":\"41:00.0\",\"type\":\"nvidia-222\"}", "given to VMs");
    refused(&h, 409, NULL, "POST", "/v1/instances",
            "{\"tenant\":\"lab\",\"memory\":\"1GiB\",\"gpu\":0}", "passthrough");
    /* Placement without a GPU named goes to the other one. */
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/instances",
                "{\"tenant\":\"lab\",\"memory\":\"1GiB\"}");
    CHECK(json_integer_value(json_object_get(j, "gpu")) == 1, "placed on GPU 1");
    snprintf(path, sizeof(path), "/v1/instances/%s", str(j, "id"));
    json_decref(j);
    json_decref(dt_call(&h.t, 204, NULL, "DELETE", path, NULL));
    /* Again: nothing to do, the record (with the drivers from before) stays. */
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"0000:41:00.0\"}");
    CHECK(!strcmp(str(json_array_get(json_object_get(j, "functions"), 0), "driver"), "nvidia"),
          "the record keeps nvidia");
    json_decref(j);

    /* libvirt's XML for it. */
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/xml/0000:41:00.0", NULL);
    CHECK(has(str(j, "xml"), "<hostdev") && has(str(j, "xml"), "bus='0x41'"), "xml: %s",
          str(j, "xml"));
    json_decref(j);

    /* A group shared with a NIC cannot be given; the refusal names it, nothing is written. */
    free(before);
    before = writes_log(&h);
    refused(&h, 409, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"0000:46:00.0\"}",
            "0000:47:00.0");
    after = writes_log(&h);
    CHECK(!strcmp(before, after), "a refusal wrote: %s", after + strlen(before));
    free(after);
    free(before);
    refused(&h, 404, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"0000:99:00.0\"}", "99");

    /* Release: back to the drivers they had. A dry run first. */
    j = dt_call(&h.t, 200, NULL, "DELETE", "/v1/host/passthrough/41:00.0?dry_run=1", NULL);
    CHECK(json_array_size(json_object_get(j, "writes")) > 0, "release plan");
    json_decref(j);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "vfio-pci"), "a dry run released it");
    j = dt_call(&h.t, 200, NULL, "DELETE", "/v1/host/passthrough/0000:41:00.0", NULL);
    CHECK(!strcmp(str(j, "released"), "0000:41:00.0"), "released");
    json_decref(j);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "nvidia"), "GPU back on %s",
          driver_of(&h, "0000:41:00.0"));
    CHECK(!strcmp(driver_of(&h, "0000:41:00.1"), "snd_hda_intel"), "audio back on %s",
          driver_of(&h, "0000:41:00.1"));
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "sliced"), "sliced again");
    CHECK(has_event(&h, "host.release", "0000:41:00.0"), "event host.release");
    refused(&h, 404, NULL, "DELETE", "/v1/host/passthrough/0000:41:00.0", NULL, "not given");
    /* The state file follows the database. */
    char file[256];
    snprintf(file, sizeof(file), "%s/var/lib/gpuvisor/host.json", h.config);
    char *state = read_all(file);
    CHECK(!has(state, "0000:41:00.0"), "the state file still has the GPU: %s", state);
    free(state);
}

/* ---------------------------------------------------------------- vgpus */

static void case_vgpus(void)
{
    static struct host h;
    start(&h, "hvgpu");
    json_t *j;

    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/gpus/0000:42:00.0/types", NULL);
    json_t *t0 = json_array_get(json_object_get(j, "types"), 0);
    CHECK(t0 && !strcmp(str(t0, "id"), "nvidia-222"), "types of 42:00.0");
    json_decref(j);
    refused(&h, 409, NULL, "GET", "/v1/host/gpus/0000:46:00.0/types", NULL, "");

    /* An mdev, by the type's name, with a UUID of our choosing (upper case is read as lower). */
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/vgpus?dry_run=1",
                "{\"parent\":\"42:00.0\",\"type\":\"GRID T4-1Q\",\"uuid\":\"" UUID1 "\"}");
    CHECK(json_array_size(json_object_get(j, "writes")) >= 1, "mdev plan");
    json_decref(j);
    CHECK(!exists(&h, "sys/bus/mdev/devices/" UUID1), "a dry run made the mdev");
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/host/vgpus",
                "{\"parent\":\"42:00.0\",\"type\":\"GRID T4-1Q\","
                "\"uuid\":\"C2177883-F1BB-47F0-914D-32A22E3A8804\"}");
    CHECK(!strcmp(str(j, "id"), UUID1) && !strcmp(str(j, "kind"), "mdev") &&
              !strcmp(str(j, "parent"), "0000:42:00.0"),
          "mdev vGPU %s", str(j, "id"));
    json_decref(j);
    CHECK(exists(&h, "sys/bus/mdev/devices/" UUID1), "the mdev exists");
    char def[256];
    snprintf(def, sizeof(def), "%s/etc/mdevctl.d/0000:42:00.0/" UUID1, h.config);
    CHECK(access(def, F_OK) == 0, "mdevctl's definition %s", def);
    refused(&h, 409, NULL, "POST", "/v1/host/vgpus",
            "{\"parent\":\"42:00.0\",\"type\":\"nvidia-222\",\"uuid\":\"" UUID1 "\"}", UUID1);
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/vgpus", NULL);
    CHECK(json_array_size(json_object_get(j, "vgpus")) == 1, "one vGPU");
    json_decref(j);
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/xml/" UUID1, NULL);
    CHECK(has(str(j, "xml"), "type='mdev'") && has(str(j, "xml"), UUID1), "mdev xml: %s",
          str(j, "xml"));
    json_decref(j);
    CHECK(!strcmp(mode_of(&h, "0000:42:00.0"), "vgpu-parent"), "GPU 1 is a vGPU parent");
    char tok[64];
    tenant(&h, tok);
    refused(&h, 409, NULL, "POST", "/v1/instances",
            "{\"tenant\":\"lab\",\"memory\":\"1GiB\",\"gpu\":1}", "vgpu-parent");
    CHECK(has_event(&h, "host.vgpu.create", UUID1), "event host.vgpu.create");
    refused(&h, 409, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"42:00.0\"}", "vGPUs");

    /* SR-IOV: the VFs are enabled, a vGPU set on the first; its id is the VF's address. */
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/host/vgpus",
                "{\"parent\":\"0000:43:00.0\",\"type\":\"1414\"}");
    char vf[32];
    snprintf(vf, sizeof(vf), "%s", str(j, "id"));
    CHECK(!strcmp(str(j, "kind"), "sriov") && !strncmp(vf, "0000:43:", 8), "SR-IOV vGPU %s", vf);
    json_decref(j);
    char rel[320];
    snprintf(rel, sizeof(rel), "%s/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", h.tree, vf);
    char *cur = read_all(rel);
    CHECK(atoi(cur) == 1414, "current_vgpu_type %s", cur);
    free(cur);
    refused(&h, 400, NULL, "POST", "/v1/host/vgpus",
            "{\"parent\":\"0000:43:00.0\",\"type\":\"no-such-type\"}", "");

    /* Remove both. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/host/vgpus/%s", vf);
    j = dt_call(&h.t, 200, NULL, "DELETE", path, NULL);
    CHECK(!strcmp(str(j, "removed"), vf), "removed %s", vf);
    json_decref(j);
    j = dt_call(&h.t, 200, NULL, "DELETE", "/v1/host/vgpus/" UUID1, NULL);
    json_decref(j);
    CHECK(!exists(&h, "sys/bus/mdev/devices/" UUID1), "the mdev is gone");
    CHECK(access(def, F_OK) != 0, "mdevctl's definition is gone");
    CHECK(!strcmp(mode_of(&h, "0000:42:00.0"), "sliced"), "GPU 1 sliced again");
    CHECK(has_event(&h, "host.vgpu.remove", UUID1), "event host.vgpu.remove");
    refused(&h, 404, NULL, "DELETE", "/v1/host/vgpus/" UUID1, NULL, "");
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/vgpus", NULL);
    CHECK(json_array_size(json_object_get(j, "vgpus")) == 0, "no vGPU left");
    json_decref(j);
}

/* ---------------------------------------------------------------- reboot */

static void case_reboot(void)
{
    static struct host h;
    start(&h, "hboot");
    json_decref(dt_call(&h.t, 201, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"41:00.0\"}"));
    json_decref(dt_call(&h.t, 201, NULL, "POST", "/v1/host/vgpus",
                        "{\"parent\":\"42:00.0\",\"type\":\"nvidia-222\",\"uuid\":\"" UUID1 "\"}"));
    json_t *j = dt_call(&h.t, 201, NULL, "POST", "/v1/host/vgpus",
                        "{\"parent\":\"43:00.0\",\"type\":\"NVIDIA H200X-2-35C\"}");
    char vf[32];
    snprintf(vf, sizeof(vf), "%s", str(j, "id"));
    json_decref(j);

    /* The machine reboots: every binding, VF and vGPU is gone. */
    dt_kill(&h.t, SIGTERM);
    stop_kernel(&h);
    build_tree(&h);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "nvidia"), "a bare tree");
    start_kernel(&h);
    CHECK(dt_start(&h.t, h.args) == 0, "gpuvisord did not start again: %s", dt_log(&h.t));
    CHECK(has(dt_log(&h.t), "host: applied"), "the log tells of the apply: %s", dt_log(&h.t));

    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "vfio-pci"), "GPU on %s after the reboot",
          driver_of(&h, "0000:41:00.0"));
    CHECK(!strcmp(driver_of(&h, "0000:41:00.1"), "vfio-pci"), "audio on %s after the reboot",
          driver_of(&h, "0000:41:00.1"));
    CHECK(exists(&h, "sys/bus/mdev/devices/" UUID1), "the mdev is back");
    char rel[320];
    snprintf(rel, sizeof(rel), "%s/sys/bus/pci/devices/%s/nvidia/current_vgpu_type", h.tree, vf);
    char *cur = read_all(rel);
    CHECK(atoi(cur) == 1415, "the SR-IOV vGPU is back: current_vgpu_type \"%s\"", cur);
    free(cur);
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "passthrough"), "GPU 0 passthrough");
    CHECK(!strcmp(mode_of(&h, "0000:42:00.0"), "vgpu-parent"), "GPU 1 vgpu-parent");

    /* Apply on demand: all there already. */
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/apply", NULL);
    CHECK(json_integer_value(json_object_get(j, "failed")) == 0 &&
              json_integer_value(json_object_get(j, "already")) >= 3,
          "apply: %s", str(j, "report"));
    json_decref(j);
    CHECK(has_event(&h, "host.apply", "host"), "event host.apply");
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/apply?dry_run=1", "{}");
    CHECK(json_array_size(json_object_get(j, "writes")) == 0, "nothing to write");
    json_decref(j);
}

/* ---------------------------------------------------------------- import */

static void put_file(const char *dir, const char *name, const char *text)
{
    char cmd[512], path[512];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* What `gpuvisor host --local` left: a passthrough in the state file (and one of a device this
 * host does not have), and an mdev that only mdevctl knows. */
static void managed_before(struct host *h)
{
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/var/lib/gpuvisor", h->config);
    put_file(dir, "host.json",
             "{\"version\":1,\"passthrough\":["
             "{\"pci\":\"0000:41:00.0\",\"iommu_group\":12,\"functions\":["
             "{\"pci\":\"0000:41:00.0\",\"driver\":\"nvidia\"},"
             "{\"pci\":\"0000:41:00.1\",\"driver\":\"snd_hda_intel\"}]},"
             "{\"pci\":\"0000:99:00.0\",\"iommu_group\":50,\"functions\":["
             "{\"pci\":\"0000:99:00.0\",\"driver\":\"nvidia\"}]}],"
             "\"vgpus\":[]}\n");
    snprintf(dir, sizeof(dir), "%s/etc/mdevctl.d/0000:42:00.0", h->config);
    put_file(dir, UUID1, "{\"mdev_type\":\"nvidia-222\",\"start\":\"auto\",\"attrs\":[]}\n");
}

static void case_import(void)
{
    static struct host h;
    start_with(&h, "himport", managed_before);
    const char *log = dt_log(&h.t);
    CHECK(has(log, "imported 2 passthrough and 1 vGPU"), "the log tells of the import: %s", log);
    CHECK(has(log, "1 failed") && has(log, "0000:99:00.0"), "the log names what failed: %s", log);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "vfio-pci"), "GPU on %s",
          driver_of(&h, "0000:41:00.0"));
    CHECK(exists(&h, "sys/bus/mdev/devices/" UUID1), "the mdev exists");
    json_t *j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/passthrough", NULL);
    CHECK(json_array_size(json_object_get(j, "passthrough")) == 2, "both recorded");
    json_decref(j);
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/vgpus", NULL);
    CHECK(json_array_size(json_object_get(j, "vgpus")) == 1, "the mdev recorded");
    json_decref(j);
    CHECK(has_event(&h, "host.import", "host"), "event host.import");
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "passthrough"), "GPU 0 passthrough");

    /* The record of the missing device can go; the apply then has nothing left to fail. */
    json_decref(dt_call(&h.t, 200, NULL, "DELETE", "/v1/host/passthrough/0000:99:00.0", NULL));
    j = dt_call(&h.t, 200, NULL, "POST", "/v1/host/apply", NULL);
    CHECK(json_integer_value(json_object_get(j, "failed")) == 0, "apply: %s", str(j, "report"));
    json_decref(j);

    /* A second start imports nothing: the database has it all, the file follows the database. */
    dt_kill(&h.t, SIGTERM);
    CHECK(dt_start(&h.t, h.args) == 0, "gpuvisord did not start again: %s", dt_log(&h.t));
    j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/passthrough", NULL);
    CHECK(json_array_size(json_object_get(j, "passthrough")) == 1, "the released one stays gone");
    json_decref(j);
}

/* ---------------------------------------------------------------- errors */

static void case_errors(void)
{
    static struct host h;
    start(&h, "herr");
    char *before = writes_log(&h);
    refused(&h, 400, NULL, "POST", "/v1/host/passthrough", "{\"pci\":", "malformed JSON");
    refused(&h, 400, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"41:0.0.0\"}", "pci");
    refused(&h, 400, NULL, "POST", "/v1/host/passthrough", "{\"pci\":\"41:00.0\",\"all\":1}",
            "\"all\"");
    refused(&h, 400, NULL, "POST", "/v1/host/passthrough", "{}", "pci: missing");
    refused(&h, 400, NULL, "POST", "/v1/host/vgpus",
            "{\"parent\":\"42:00.0\",\"type\":\"nvidia-222\",\"uuid\":\"1234\"}", "uuid");
    refused(&h, 400, NULL, "POST", "/v1/host/vgpus",
            "{\"parent\":\"42:00.0\",\"type\":\"../../../etc\"}", "type");
    refused(&h, 400, NULL, "DELETE", "/v1/host/vgpus/not-a-uuid", NULL, "UUID");
    refused(&h, 400, NULL, "DELETE", "/v1/host/passthrough/0000:41:00", NULL, "");
    refused(&h, 400, NULL, "GET", "/v1/host/xml/zz", NULL, "");
    refused(&h, 400, NULL, "POST", "/v1/host/apply", "{\"now\":true}", "now");
    refused(&h, 400, NULL, "POST", "/v1/host/passthrough?dry_run=perhaps", "{\"pci\":\"41:00.0\"}",
            "dry_run");
    refused(&h, 404, NULL, "GET", "/v1/host/xml/" UUID1, NULL, "");
    refused(&h, 405, NULL, "GET", "/v1/host/apply", NULL, "POST");
    refused(&h, 400, NULL, "POST", "/v1/tenants?dry_run=1", "{\"name\":\"x\"}", "dry_run");
    char *after = writes_log(&h);
    CHECK(!strcmp(before, after), "refused requests wrote: %s", after + strlen(before));
    free(after);
    free(before);
    json_t *j = dt_call(&h.t, 200, NULL, "GET", "/v1/host/passthrough", NULL);
    CHECK(json_array_size(json_object_get(j, "passthrough")) == 0, "nothing recorded");
    json_decref(j);

    /* A tenant: 403 on every host route, reads included. */
    char tok[64];
    tenant(&h, tok);
    static const char *const routes[][3] = {
        {"GET", "/v1/host/gpus", NULL},
        {"GET", "/v1/host/gpus/0000:42:00.0/types", NULL},
        {"GET", "/v1/host/passthrough", NULL},
        {"POST", "/v1/host/passthrough", "{\"pci\":\"41:00.0\"}"},
        {"DELETE", "/v1/host/passthrough/0000:41:00.0", NULL},
        {"GET", "/v1/host/vgpus", NULL},
        {"POST", "/v1/host/vgpus", "{\"parent\":\"42:00.0\",\"type\":\"nvidia-222\"}"},
        {"DELETE", "/v1/host/vgpus/" UUID1, NULL},
        {"GET", "/v1/host/xml/0000:41:00.0", NULL},
        {"POST", "/v1/host/apply", NULL},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        refused(&h, 403, tok, routes[i][0], routes[i][1], routes[i][2], "only the admin");
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "nvidia"), "a tenant changed a driver");
}

/* ---------------------------------------------------------------- slow */

static atomic_bool slow_done;
static long slow_status;

static void *slow_passthrough(void *arg)
{
    struct host *h = arg;
    json_t *j = NULL;
    /* Over the local socket (as root: the admin), which takes a connection of its own: the
     * test's TCP connection is the main thread's. */
    struct dt_req rq = {.method = "POST", .path = "/v1/host/passthrough",
                        .body = "{\"pci\":\"0000:41:00.0\"}", .unix_socket = true};
    slow_status = dt_request(&h->t, &rq, &j);
    json_decref(j);
    atomic_store(&slow_done, true);
    return NULL;
}

static bool shows_passthrough(void *arg)
{
    return !strcmp(mode_of(arg, "0000:41:00.0"), "passthrough");
}

static void no_bind(struct host *h)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/.sim/faults", h->tree);
    FILE *f = fopen(path, "a");
    CHECK(f && fputs("nobind 0000:41:00.1\n", f) >= 0 && fclose(f) == 0, "write %s", path);
}

static void case_slow(void)
{
    static struct host h;
    start_with(&h, "hslow", no_bind);
    char tok[64];
    tenant(&h, tok);
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "sliced"), "41:00.0 starts sliced");
    pthread_t th;
    CHECK(pthread_create(&th, NULL, slow_passthrough, &h) == 0, "pthread_create");
    /* The kernel never binds the audio function: the change waits the library's bind timeout (3 s)
     * with the GPU marked, and the API answers meanwhile. */
    CHECK(dt_wait_for(shows_passthrough, &h, 3000), "41:00.0 never showed passthrough while changing");
    refused(&h, 409, NULL, "POST", "/v1/instances",
            "{\"tenant\":\"lab\",\"gpu\":0,\"memory\":\"1GiB\"}", "passthrough");
    json_t *j = dt_call(&h.t, 200, NULL, "GET", "/v1/instances", NULL);
    json_decref(j);
    CHECK(!atomic_load(&slow_done),
          "the API answered only after the change ended: the change held the model's lock");
    pthread_join(th, NULL);
    CHECK(slow_status == 500, "the passthrough that could not bind answered %ld, want 500",
          slow_status);
    CHECK(!strcmp(driver_of(&h, "0000:41:00.0"), "nvidia"), "41:00.0 rolled back to nvidia");
    CHECK(!strcmp(mode_of(&h, "0000:41:00.0"), "sliced"), "41:00.0 sliced again");
    j = dt_call(&h.t, 201, NULL, "POST", "/v1/instances",
                "{\"tenant\":\"lab\",\"gpu\":0,\"memory\":\"1GiB\"}");
    json_decref(j);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"passthrough", case_passthrough},
                 {"vgpus", case_vgpus},
                 {"reboot", case_reboot},
                 {"import", case_import},
                 {"errors", case_errors},
                 {"slow", case_slow}};
    for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].fn();
            printf("ok %s\n", argv[1]);
            return 0;
        }
    fprintf(stderr, "usage: %s passthrough|vgpus|reboot|import|errors|slow\n", argv[0]);
    return 2;
}
