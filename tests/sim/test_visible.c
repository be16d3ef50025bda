/* SPDX-License-Identifier: Apache-2.0 */
/* test_visible.c: the simulator applies CUDA_VISIBLE_DEVICES as the driver does (ordinals are
 * positions in the list; entries are indices or UUID prefixes; the list ends at the first bad or
 * repeated entry) and NVML ignores it. Each case runs in a fresh child, since the driver reads the
 * variable once. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/nvml.h"
#include "simtest.h"

static char uuid[3][64];

/* In a child: with CUDA_VISIBLE_DEVICES=visible, the ordinals map to machine devices `want`
 * (n of them, given as indices into uuid[]). Exit status 0 when they do. */
static int child(const char *visible, const int *want, int n)
{
    if (visible)
        setenv("CUDA_VISIBLE_DEVICES", visible, 1);
    else
        unsetenv("CUDA_VISIBLE_DEVICES");
    int count = -1;
    if (cuInit(0) || cuDeviceGetCount(&count) || count != n)
        return 1;
    for (int i = 0; i < n; i++) {
        CUuuid u;
        CUdevice d;
        if (cuDeviceGet(&d, i) || cuDeviceGetUuid_v2(&u, d))
            return 2;
        char text[64];
        snprintf(text, sizeof(text), "GPU-%02x", (unsigned char)u.bytes[0]);
        if (strncmp(text, uuid[want[i]], 6) != 0)
            return 3;
        /* Memory charged through ordinal i lands on machine device want[i] (NVML's view). */
        CUcontext ctx;
        CUdeviceptr p;
        if (cuDevicePrimaryCtxRetain(&ctx, d) || cuCtxSetCurrent(ctx) ||
            cuMemAlloc(&p, (size_t)(i + 1) << 20))
            return 4;
    }
    CUdevice d;
    if (cuDeviceGet(&d, n) != CUDA_ERROR_INVALID_DEVICE)
        return 5;
    nvmlDevice_t h;
    unsigned nv = 0;
    if (nvmlInit_v2() || nvmlDeviceGetCount_v2(&nv) || nv != 3)
        return 6;
    for (int i = 0; i < n; i++) {
        nvmlMemory_t m;
        if (nvmlDeviceGetHandleByIndex_v2((unsigned)want[i], &h) ||
            nvmlDeviceGetMemoryInfo(h, &m) || m.used != (unsigned long long)(i + 1) << 20)
            return 7;
    }
    return 0;
}

static int run(const char *visible, const int *want, int n)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(child(visible, want, n));
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "CUDA_VISIBLE_DEVICES=%s: child status %d\n", visible ? visible : "(unset)",
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return -1;
    }
    return 0;
}

static void t_visible(void)
{
    CHECK(run(NULL, (int[]){0, 1, 2}, 3) == 0);
    CHECK(run("2,0", (int[]){2, 0}, 2) == 0);
    CHECK(run("1", (int[]){1}, 1) == 0);
    CHECK(run("", NULL, 0) == 0);
    CHECK(run("1,7,0", (int[]){1}, 1) == 0); /* the list ends at a bad entry */
    CHECK(run("0,0,1", (int[]){0}, 1) == 0); /* ... and at a repeated one */
    char list[200];
    snprintf(list, sizeof(list), "%s,%.12s", uuid[2], uuid[1]);
    CHECK(run(list, (int[]){2, 1}, 2) == 0); /* full UUID, then a prefix */
}

int main(void)
{
    st_machine("T4,T4,H200");
    /* The UUIDs, as NVML (which ignores the variable) reports them. */
    nvmlDevice_t h;
    if (nvmlInit_v2())
        return 1;
    for (unsigned i = 0; i < 3; i++)
        if (nvmlDeviceGetHandleByIndex_v2(i, &h) || nvmlDeviceGetUUID(h, uuid[i], sizeof(uuid[i])))
            return 1;
    nvmlShutdown();
    RUN(t_visible);
    return st_summary();
}
