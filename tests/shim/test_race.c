/* SPDX-License-Identifier: Apache-2.0 */
/* test_race.c: eight processes of one instance race allocations and frees while a watcher samples
 * the instance's usage: it never passes the limit, at any moment, and ends at exactly 0.
 * GVS_RACE_SECONDS sets the length (default 10 s). */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shimtest.h"

#define PROCS 8
#define LIMIT (256 * MiB)

static int child(unsigned seed, double seconds)
{
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx))
        return 10;
    CUdeviceptr held[32] = {0};
    uint64_t end = st_now_ns() + (uint64_t)(seconds * 1e9);
    unsigned long ok = 0, refused = 0;
    while (st_now_ns() < end) {
        unsigned i = (unsigned)rand_r(&seed) % 32;
        if (held[i]) {
            if (cuMemFree(held[i]) != CUDA_SUCCESS)
                return 11;
            held[i] = 0;
        } else {
            size_t size = ((size_t)rand_r(&seed) % (48 * MiB)) + 1;
            CUresult r = cuMemAlloc(&held[i], size);
            if (r == CUDA_SUCCESS)
                ok++;
            else if (r == CUDA_ERROR_OUT_OF_MEMORY)
                refused++, held[i] = 0;
            else
                return 12;
        }
    }
    for (unsigned i = 0; i < 32; i++)
        if (held[i] && cuMemFree(held[i]) != CUDA_SUCCESS)
            return 13;
    /* Both outcomes must have happened, or the race did not test the limit. */
    return ok > 100 && refused > 10 ? 0 : 14;
}

static void t_race(void)
{
    const char *env = getenv("GVS_RACE_SECONDS");
    double seconds = env ? atof(env) : 10.0;
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(child((unsigned)(i * 7919 + 1), seconds));
    }
    uint64_t max_seen = 0, samples = 0, end = st_now_ns() + (uint64_t)(seconds * 1e9);
    struct gvr_region r = {0};
    /* The children create the region on their first allocation. */
    while (gvr_open(&r, shim_dir(), shim_name(), GVR_READONLY, NULL, 0, NULL) < 0 &&
           st_now_ns() < end)
        usleep(1000);
    while (st_now_ns() < end) {
        for (unsigned d = 0; d < gvr_device_count(&r); d++) {
            uint64_t u = gvr_used(&r, d);
            if (u > max_seen)
                max_seen = u;
        }
        samples++;
    }
    int failures = 0;
    for (int i = 0; i < PROCS; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d: status %d\n", i, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            failures++;
        }
    }
    printf("race: %.1f s, %llu samples, peak %llu MiB of %llu MiB\n", seconds,
           (unsigned long long)samples, (unsigned long long)(max_seen / MiB),
           (unsigned long long)(LIMIT / MiB));
    CHECK(failures == 0);
    CHECK(samples > 1000);
    CHECK(max_seen <= LIMIT);
    CHECK(max_seen > LIMIT / 2);
    CHECK(gvr_device_count(&r) == 1);
    CHECK(gvr_used(&r, 0) == 0);
    gvr_close(&r);
}

int main(void)
{
    shim_setup("T4", "race", "256MiB");
    RUN(t_race);
    return st_summary();
}
