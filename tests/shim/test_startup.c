/* SPDX-License-Identifier: Apache-2.0 */
/* test_startup.c: 64 processes joining one instance at once are not serialized.
 *
 * Each child waits at a barrier, then makes its first driver calls (which load the interposer's
 * state and join the instance) and reports how long they took. If joining were serialized on a
 * lock the slowest child would wait for all the others; it must not wait longer than 64 processes
 * take to start one after another, and the median must stay near a lone start. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimtest.h"

#define N 64

static int cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* First calls of a fresh process: the interposer's set-up and the join are in here. */
static uint64_t first_calls(void)
{
    uint64_t t0 = st_now_ns();
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr p;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuMemAlloc(&p, MiB) || cuMemFree(p))
        return 0;
    return st_now_ns() - t0;
}

static void run(int n, uint64_t *times, uint64_t *wall)
{
    int go[2], res[2];
    if (pipe(go) || pipe(res))
        return;
    for (int i = 0; i < n; i++) {
        if (fork() == 0) {
            close(go[1]);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(1);
            uint64_t t = first_calls();
            if (write(res[1], &t, sizeof(t)) != sizeof(t))
                _exit(1);
            _exit(0);
        }
    }
    close(go[0]);
    close(res[1]);
    usleep(100000); /* everybody at the barrier */
    uint64_t t0 = st_now_ns();
    close(go[1]);
    for (int i = 0; i < n; i++)
        if (read(res[0], &times[i], sizeof(times[i])) != sizeof(times[i]))
            times[i] = 0;
    *wall = st_now_ns() - t0;
    close(res[0]);
    while (wait(NULL) > 0)
        ;
    qsort(times, (size_t)n, sizeof(times[0]), cmp);
}

static void t_concurrent_start(void)
{
    uint64_t alone[5], w;
    for (int i = 0; i < 5; i++)
        run(1, &alone[i], &w);
    qsort(alone, 5, sizeof(alone[0]), cmp);
    uint64_t times[N], wall;
    run(N, times, &wall);
    CHECK(times[0] > 0);
    printf("lone start %llu us; %d at once: median %llu us, slowest %llu us, all done in %llu us\n",
           (unsigned long long)alone[2] / 1000, N, (unsigned long long)times[N / 2] / 1000,
           (unsigned long long)times[N - 1] / 1000, (unsigned long long)wall / 1000);
    /* Two cores run 64 processes: the slowest may wait for the CPU, not for a lock. */
    CHECK(times[N - 1] < (uint64_t)N * alone[2]);
    CHECK(shim_used(0) == 0);
}

int main(void)
{
    shim_setup("T4", "startup", "4GiB");
    RUN(t_concurrent_start);
    return st_summary();
}
