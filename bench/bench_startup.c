/* SPDX-License-Identifier: Apache-2.0 */
/* bench_startup.c: what `gpuvisor run` adds to a command's start-up, against preloading the
 * interposer directly, measured as a difference and a ratio in one run.
 *
 * Both sides start the same tiny driver-API program (this one, in mode "child": cuInit, a context
 * on device 0, one 1 MiB allocation and its free, on the simulator) in a 1 GiB memory slice:
 *   run:      gpuvisor run --memory 1GiB -- SELF child
 *   preload:  env LD_PRELOAD=libgpuvisor.so GPUVISOR_MEMORY=1GiB SELF child
 * Each side is two programs started one after the other (gpuvisor or env, then the child), so the
 * difference is what gpuvisor itself does: reading its options, finding the interposer, preparing
 * the instance, forking instead of exec'ing, and removing the private instance at the end. The
 * sides alternate, pair after pair, and the figures are medians over many pairs: the difference is
 * the median of the pairs' differences, so that a busy moment of the machine touches both sides. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"

enum { PAIRS = 301, WARMUP = 10 };

static int child(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr p;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuMemAlloc(&p, 1 << 20));
    CK(cuMemFree(p));
    return 0;
}

/* Start argv, wait for it; the wall time from fork to its end in ms, or -1 if it failed. */
static double timed(char *const argv[])
{
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return (double)(bench_now_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    if (argc != 3) {
        fprintf(stderr, "usage: bench_startup PATH/gpuvisor PATH/libgpuvisor.so\n");
        return 2;
    }
    struct bench_world w;
    if (bench_world_start(&w) < 0)
        return 1;
    unsetenv("LD_PRELOAD");
    /* Instances live in /dev/shm by default: a region file's creation and removal cost what they
     * cost there, not on the disk file system under /tmp. */
    char shm_dir[] = "/dev/shm/gvbench.XXXXXX";
    if (!mkdtemp(shm_dir)) {
        perror("bench_startup: mkdtemp /dev/shm/gvbench.XXXXXX");
        bench_world_end(&w);
        return 1;
    }
    setenv("GPUVISOR_REGION_DIR", shm_dir, 1);
    char preload[4200];
    snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", argv[2]);
    char *run[] = {argv[1], "run", "--memory", "1GiB", "--", w.self, "child", NULL};
    char *direct[] = {"/usr/bin/env", preload, "GPUVISOR_MEMORY=1GiB", w.self, "child", NULL};

    static double a[PAIRS], b[PAIRS], d[PAIRS];
    int rc = 0;
    for (int i = -WARMUP; i < PAIRS && rc == 0; i++) {
        double t[2];
        for (int k = 0; k < 2; k++) {
            bool via_run = (k == 0) == (i % 2 == 0); /* alternate which side goes first */
            t[via_run] = timed(via_run ? run : direct);
            if (t[via_run] < 0) {
                fprintf(stderr, "bench_startup: %s failed\n",
                        via_run ? "gpuvisor run" : "env LD_PRELOAD=...");
                rc = 1;
            }
        }
        if (i >= 0 && rc == 0)
            a[i] = t[1], b[i] = t[0], d[i] = t[1] - t[0];
    }
    if (rc == 0) {
        double ma = bench_median(a, PAIRS), mb = bench_median(b, PAIRS);
        double md = bench_median(d, PAIRS);
        printf("start-up of a driver-API program (cuInit, a context, one allocation) in a 1 GiB\n"
               "slice on the simulator, medians of %d alternating pairs\n",
               PAIRS);
        printf("  %-44s %8.3f ms\n", "env LD_PRELOAD=libgpuvisor.so GPUVISOR_MEMORY=...", mb);
        printf("  %-44s %8.3f ms\n", "gpuvisor run --memory 1GiB --", ma);
        printf("  %-44s %8.3f ms   ratio %.3f\n", "added by gpuvisor run (paired)", md, ma / mb);
        printf("  target: added <= 0.5 ms\n");
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", shm_dir);
    if (system(cmd) != 0)
        rc = 1;
    return bench_world_end(&w) == 0 ? rc : 1;
}
