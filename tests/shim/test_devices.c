/* SPDX-License-Identifier: Apache-2.0 */
/* test_devices.c: GPUs reordered or hidden with CUDA_VISIBLE_DEVICES (by index or by UUID) are
 * charged to the right GPU: limits and usage follow the UUID, never the ordinal.
 *
 * Two simulated T4s. The limits are 1 GiB on GPU A and 3 GiB on GPU B, given by UUID. Children
 * see the GPUs in different orders and each allocates on its ordinal 0; the instance's books must
 * show each allocation on the GPU it really went to. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/nvml.h"
#include "shimtest.h"

static char uuid_a[64], uuid_b[64];

static int context(void)
{
    CUdevice dev;
    CUcontext ctx;
    return cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
           cuCtxSetCurrent(ctx);
}

/* Child mode: allocate `mib` on ordinal 0, report the ordinal-0 UUID, cuMemGetInfo's total and
 * whether a 3 GiB allocation fits; then exit, freeing nothing (exit returns it all). */
static int run_child(const char *mib_text, int fd)
{
    if (context())
        return 1;
    CUuuid u;
    size_t free_b, total;
    CUdeviceptr d, big;
    if (cuDeviceGetUuid_v2(&u, 0) || cuMemGetInfo(&free_b, &total))
        return 2;
    if (cuMemAlloc(&d, strtoull(mib_text, NULL, 10) * MiB))
        return 3;
    int big_ok = cuMemAlloc(&big, 3 * GiB) == CUDA_SUCCESS;
    if (big_ok)
        cuMemFree(big);
    char line[128];
    int n = snprintf(line, sizeof(line), "%02x%02x %llu %d\n", (unsigned char)u.bytes[0],
                     (unsigned char)u.bytes[1], (unsigned long long)total, big_ok);
    if (write(fd, line, (size_t)n) != n)
        return 4;
    /* Hold the memory until the parent has looked. */
    char c;
    if (read(0, &c, 1) < 0)
        return 5;
    cuMemFree(d);
    return 0;
}

struct seen {
    unsigned uuid_head;
    unsigned long long total;
    int big_ok;
};

/* Run a child with CUDA_VISIBLE_DEVICES=visible that allocates `mib`; check the books while it
 * holds the memory; then let it go. */
static int child_with(const char *visible, unsigned mib, struct seen *out, uint64_t *used_a,
                      uint64_t *used_b)
{
    int res[2], hold[2];
    if (pipe(res) || pipe(hold))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(hold[0], 0);
        close(hold[1]);
        setenv("CUDA_VISIBLE_DEVICES", visible, 1);
        char mib_text[16], fd_text[16];
        snprintf(mib_text, sizeof(mib_text), "%u", mib);
        snprintf(fd_text, sizeof(fd_text), "%d", res[1]);
        execl("/proc/self/exe", "test_devices", "child", mib_text, fd_text, (char *)NULL);
        _exit(127);
    }
    close(res[1]);
    close(hold[0]);
    char line[128] = {0};
    ssize_t n = read(res[0], line, sizeof(line) - 1);
    int rc = -1;
    if (n > 0 && sscanf(line, "%x %llu %d", &out->uuid_head, &out->total, &out->big_ok) == 3) {
        struct gvr_region r = {0};
        uint8_t a[16], b[16];
        if (gvr_open(&r, shim_dir(), shim_name(), GVR_READONLY, NULL, 0, NULL) >= 0) {
            int ia = -1, ib = -1;
            if (shim_parse_uuid(uuid_a, a) == 0)
                ia = gvr_device_find(&r, a);
            if (shim_parse_uuid(uuid_b, b) == 0)
                ib = gvr_device_find(&r, b);
            *used_a = ia >= 0 ? gvr_used(&r, (unsigned)ia) : 0;
            *used_b = ib >= 0 ? gvr_used(&r, (unsigned)ib) : 0;
            gvr_close(&r);
            rc = 0;
        }
    }
    close(hold[1]);
    int st;
    waitpid(pid, &st, 0);
    close(res[0]);
    return rc == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static unsigned head_of(const char *uuid)
{
    unsigned v = 0;
    sscanf(uuid + 4, "%4x", &v);
    return v;
}

static void t_reordered_by_index(void)
{
    struct seen s;
    uint64_t ua = 0, ub = 0;
    /* Ordinal 0 is GPU B. */
    CHECK(child_with("1,0", 100, &s, &ua, &ub) == 0);
    CHECK(s.uuid_head == head_of(uuid_b));
    CHECK(s.total == 3 * GiB);
    CHECK(ua == 0);
    CHECK(ub == 100 * MiB);
    /* 100 MiB + 3 GiB does not fit B's 3 GiB. */
    CHECK(s.big_ok == 0);
    /* Ordinal 0 is GPU A. */
    CHECK(child_with("0,1", 200, &s, &ua, &ub) == 0);
    CHECK(s.uuid_head == head_of(uuid_a));
    CHECK(s.total == GiB);
    CHECK(ua == 200 * MiB);
    CHECK(ub == 0);
}

static void t_by_uuid_and_hidden(void)
{
    struct seen s;
    uint64_t ua = 0, ub = 0;
    char list[160];
    snprintf(list, sizeof(list), "%s,%s", uuid_b, uuid_a);
    CHECK(child_with(list, 300, &s, &ua, &ub) == 0);
    CHECK(s.uuid_head == head_of(uuid_b));
    CHECK(ub == 300 * MiB);
    CHECK(ua == 0);
    /* Only B visible: it is ordinal 0. */
    CHECK(child_with("1", 50, &s, &ua, &ub) == 0);
    CHECK(s.uuid_head == head_of(uuid_b));
    CHECK(ub == 50 * MiB);
    CHECK(s.big_ok == 0);
    /* Only A visible, by UUID. */
    CHECK(child_with(uuid_a, 60, &s, &ua, &ub) == 0);
    CHECK(s.uuid_head == head_of(uuid_a));
    CHECK(ua == 60 * MiB);
}

/* The simulator's UUIDs, asked through NVML before any limit is set. */
static int read_uuids(void)
{
    nvmlDevice_t d;
    if (nvmlInit_v2() != NVML_SUCCESS)
        return -1;
    if (nvmlDeviceGetHandleByIndex_v2(0, &d) || nvmlDeviceGetUUID(d, uuid_a, sizeof(uuid_a)))
        return -1;
    if (nvmlDeviceGetHandleByIndex_v2(1, &d) || nvmlDeviceGetUUID(d, uuid_b, sizeof(uuid_b)))
        return -1;
    nvmlShutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return run_child(argv[2], atoi(argv[3]));
    shim_setup("T4,T4", "devices", NULL);
    if (read_uuids()) {
        fprintf(stderr, "cannot read the simulated GPUs' UUIDs\n");
        return 1;
    }
    char mem[256];
    snprintf(mem, sizeof(mem), "%s=1GiB,%s=3GiB", uuid_a, uuid_b);
    setenv("GPUVISOR_MEMORY", mem, 1);
    RUN(t_reordered_by_index);
    RUN(t_by_uuid_and_hidden);
    return st_summary();
}
