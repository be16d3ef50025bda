/* SPDX-License-Identifier: Apache-2.0 */
/* bench_shim.c: what the interposer adds to the driver calls that matter, measured on the
 * simulator as a difference and a ratio against the direct call in the same run.
 *
 * Paired, in one process (the figures the targets are judged by): a process preloaded with the
 * interposer and in a memory slice calls cuLaunchKernel and cuMemAlloc + cuMemFree through the
 * interposer and, batch after batch in alternating order, straight into the driver (its own
 * definitions, found in its symbol table: real_sym.h). The added cost is the median over batches of
 * each pair of batches' difference, so that what the machine or the simulator does meanwhile
 * (page-table work for each simulated allocation, a worker thread waking) touches both sides.
 *
 * Across processes (a check that merely loading the interposer slows nothing down): this program
 * again as children, alternately without the interposer and with it loaded and no limit, each
 * reporting its median cuLaunchKernel; the figure is the median of the rounds' differences.
 *
 * Launches are timed while the device is busy with a long kernel queued ahead of them, so each
 * launch only queues work, as on a loaded GPU; an idle simulated device would add the cost of
 * waking its worker to some launches and not others, which is noise, not interposer cost. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"
#include "real_sym.h"

#include <cudaTypedefs.h>

enum { ROUNDS = 9, BATCHES = 15, LAUNCHES = 2000, PAIRS = 500 };

/* Child: time the calls, print "launch_ns pair_ns". */
static int child(void)
{
    CUfunction spin = bench_spin_fn();
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t ns = 0;
    void *params[] = {&ns};
    double launch[BATCHES], pair[BATCHES];
    uint64_t busy = 20000000; /* 20 ms: far longer than a batch of launches takes to queue */
    void *busy_params[] = {&busy};
    for (int b = 0; b < BATCHES; b++) {
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, busy_params, NULL));
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < LAUNCHES; i++)
            CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL));
        launch[b] = (double)(bench_now_ns() - t0) / LAUNCHES;
        CK(cuStreamSynchronize(s));
    }
    for (int b = 0; b < BATCHES; b++) {
        CUdeviceptr p;
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < PAIRS; i++) {
            CK(cuMemAlloc(&p, 1 << 20));
            CK(cuMemFree(p));
        }
        pair[b] = (double)(bench_now_ns() - t0) / PAIRS;
    }
    printf("%.1f %.1f\n", bench_median(launch, BATCHES), bench_median(pair, BATCHES));
    return 0;
}

/* Child "paired": preloaded and in a slice. Prints "launch_direct launch_added pair_direct
 * pair_added" (ns per call; added = median of the batches' paired differences). */
static int child_paired(void)
{
    CUfunction spin = bench_spin_fn();
    CUstream s;
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    PFN_cuLaunchKernel_v4000 real_launch =
        (PFN_cuLaunchKernel_v4000)bench_real_sym("libcuda.so.1", "cuLaunchKernel");
    PFN_cuMemAlloc_v3020 real_alloc =
        (PFN_cuMemAlloc_v3020)bench_real_sym("libcuda.so.1", "cuMemAlloc_v2");
    PFN_cuMemFree_v3020 real_free =
        (PFN_cuMemFree_v3020)bench_real_sym("libcuda.so.1", "cuMemFree_v2");
    if (!real_launch || !real_alloc || !real_free || (void *)real_alloc == (void *)cuMemAlloc) {
        fprintf(stderr, "bench_shim: cannot find the driver's own functions\n");
        return 1;
    }
    uint64_t ns = 0, busy = 20000000;
    void *params[] = {&ns}, *busy_params[] = {&busy};
    double l_direct[2 * BATCHES], l_added[2 * BATCHES], p_direct[2 * BATCHES], p_added[2 * BATCHES];
    for (int b = 0; b < 2 * BATCHES; b++) {
        double t[2];
        for (int k = 0; k < 2; k++) {
            bool direct = (k == 0) == (b % 2 == 0); /* alternate which side goes first */
            CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, busy_params, NULL));
            uint64_t t0 = bench_now_ns();
            for (int i = 0; i < LAUNCHES; i++)
                CK(direct ? real_launch(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL)
                          : cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL));
            t[direct] = (double)(bench_now_ns() - t0) / LAUNCHES;
            CK(cuStreamSynchronize(s));
        }
        l_direct[b] = t[1];
        l_added[b] = t[0] - t[1];
        for (int k = 0; k < 2; k++) {
            bool direct = (k == 0) == (b % 2 == 0);
            CUdeviceptr p;
            uint64_t t0 = bench_now_ns();
            for (int i = 0; i < PAIRS; i++) {
                if (direct) {
                    CK(real_alloc(&p, 1 << 20));
                    CK(real_free(p));
                } else {
                    CK(cuMemAlloc(&p, 1 << 20));
                    CK(cuMemFree(p));
                }
            }
            t[direct] = (double)(bench_now_ns() - t0) / PAIRS;
        }
        p_direct[b] = t[1];
        p_added[b] = t[0] - t[1];
    }
    printf("%.1f %.1f %.1f %.1f\n", bench_median(l_direct, 2 * BATCHES),
           bench_median(l_added, 2 * BATCHES), bench_median(p_direct, 2 * BATCHES),
           bench_median(p_added, 2 * BATCHES));
    return 0;
}

/* Run one child (mode "child" or "paired") with or without the interposer, and in a memory slice
 * or not; read its `nv` figures. */
static int measure(const char *self, const char *shim, const char *memory, const char *mode,
                   double *v, int nv)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        if (shim)
            setenv("LD_PRELOAD", shim, 1);
        else
            unsetenv("LD_PRELOAD");
        if (memory) {
            setenv("GPUVISOR_MEMORY", memory, 1);
            char name[64];
            snprintf(name, sizeof(name), "bench-%d", (int)getpid());
            setenv("GPUVISOR_INSTANCE", name, 1);
        }
        execl(self, self, mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[256] = {0};
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return sscanf(buf, "%lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3]) >= nv ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    if (argc == 2 && strcmp(argv[1], "paired") == 0)
        return child_paired();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_shim PATH/libgpuvisor.so\n");
        return 2;
    }
    struct bench_world w;
    if (bench_world_start(&w) < 0)
        return 1;
    const char *self = w.self;

    /* Paired, in one process: the figures the targets are judged by. */
    double ld[ROUNDS], la[ROUNDS], pd[ROUNDS], pa[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double v[4];
        if (measure(self, argv[1], "8GiB", "paired", v, 4)) {
            fprintf(stderr, "bench_shim: a measuring run failed\n");
            return 1;
        }
        ld[r] = v[0], la[r] = v[1], pd[r] = v[2], pa[r] = v[3];
    }
    double mld = bench_median(ld, ROUNDS), mla = bench_median(la, ROUNDS);
    double mpd = bench_median(pd, ROUNDS), mpa = bench_median(pa, ROUNDS);
    printf("interposer cost on the simulator, through it against straight into the driver in the\n"
           "same process (medians of %d runs x %d paired batches)\n",
           ROUNDS, 2 * BATCHES);
    printf("  %-34s %10s %10s %8s\n", "call", "direct", "added", "ratio");
    printf("  %-34s %8.1f ns %8.1f ns %8.3f\n", "cuLaunchKernel (no compute limit)", mld, mla,
           (mld + mla) / mld);
    printf("  %-34s %8.1f ns %8.1f ns %8.3f\n", "cuMemAlloc+cuMemFree (8 GiB slice)", mpd, mpa,
           (mpd + mpa) / mpd);
    printf("  targets: launch added <= 50 ns, alloc+free added <= 300 ns\n");

    /* Across processes: a launch in a process without the interposer, and in one that has it
     * loaded but no limit. */
    double lx[ROUNDS], ly[ROUNDS], diff[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double a[2], b[2];
        if (measure(self, NULL, NULL, "child", a, 2) ||
            measure(self, argv[1], NULL, "child", b, 2)) {
            fprintf(stderr, "bench_shim: a measuring run failed\n");
            return 1;
        }
        lx[r] = a[0], ly[r] = b[0], diff[r] = b[0] - a[0];
    }
    printf("  cuLaunchKernel, process without / with the interposer loaded (no limit): %.1f / "
           "%.1f ns, paired difference %.1f ns\n",
           bench_median(lx, ROUNDS), bench_median(ly, ROUNDS), bench_median(diff, ROUNDS));
    return bench_world_end(&w) == 0 ? 0 : 1;
}
