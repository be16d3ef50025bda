/* SPDX-License-Identifier: Apache-2.0 */
/* bench_compute.c: how exact the GPU-time shares are, and what the gate costs a launch.
 *
 * Shares: for each target share (10, 25, 50, 75%) and kernel length (0.1, 1, 10 ms), one process
 * under that compute limit, alone on a simulated GPU, launches spin kernels back to back, or
 * synchronizes after each one; beside it, the same work with no limit (what the program can use at
 * all). Its share is the device time the simulator counted for it over a window of wall time, the median of
 * three consecutive 1 s windows (each a whole number of turns give or take one: at 10% a turn and
 * its wait take about 100 ms, so shorter windows would measure where in its cycle a window falls
 * rather than the share).
 *
 * Cost: per-launch time of cuLaunchKernel (zero-length kernels), timed one launch at a time, in
 * three runs: without the interposer, with it and no limit, with it and a 50% compute limit. The
 * median launch excludes the launches that wait for the GPU (the intended waits: turns and
 * drains), which are rare among zero-length launches. Medians over rounds, differences and ratios
 * against the direct call measured in the same run. */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"
#include "sim/sim.h"

enum { ROUNDS = 7 };
#define MS 1000000ULL

/* Child "spin NS": launch NS-long kernels back to back until killed; 'y' on stdout once going. */
static int child_spin(uint64_t ns)
{
    CUfunction spin = bench_spin_fn();
    void *params[] = {&ns};
    CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    if (write(1, "y", 1) != 1)
        return 1;
    for (;;)
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
}

/* Child "spinsync NS": the same, with a cuCtxSynchronize after each kernel (a program that waits
 * for each result before the next step). */
static int child_spinsync(uint64_t ns)
{
    CUfunction spin = bench_spin_fn();
    void *params[] = {&ns};
    CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    CK(cuCtxSynchronize());
    if (write(1, "y", 1) != 1)
        return 1;
    for (;;) {
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
        CK(cuCtxSynchronize());
    }
}

/* Start this program as a child with the interposer (shim != NULL) and a compute share in basis
 * points ("" for none); its stdout comes back through *out. */
static pid_t start(const char *self, const char *shim, const char *compute, const char *mode,
                   const char *arg, int *out)
{
    static int serial;
    int p[2];
    if (pipe(p))
        return -1;
    char inst[64];
    snprintf(inst, sizeof(inst), "bench-compute-%d-%d", (int)getpid(), serial++);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        if (shim)
            setenv("LD_PRELOAD", shim, 1);
        else
            unsetenv("LD_PRELOAD");
        if (*compute) {
            setenv("GPUVISOR_COMPUTE", compute, 1);
            setenv("GPUVISOR_INSTANCE", inst, 1);
        }
        execl(self, self, mode, arg, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
    return pid;
}

static uint64_t busy_of(pid_t pid)
{
    struct gvsim_proc_usage u[64];
    int n = gvsim_dev_processes(0, u, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (u[i].pid == pid)
            return u[i].busy_ns;
    return 0;
}

enum { WINDOWS = 3, WINDOW_MS = 1000 };

/* Achieved share (percent) of one process alone at `share` basis points (0: no limit) with kernels
 * of `kernel` ns, back to back or each waited for. */
static double achieved(const char *self, const char *shim, unsigned share, uint64_t kernel,
                       bool sync)
{
    char c[16], k[24];
    snprintf(c, sizeof(c), "%u", share);
    snprintf(k, sizeof(k), "%llu", (unsigned long long)kernel);
    int fd;
    pid_t pid = start(self, shim, share ? c : "", sync ? "spinsync" : "spin", k, &fd);
    char y = 0;
    if (pid < 0 || read(fd, &y, 1) != 1 || y != 'y') {
        fprintf(stderr, "bench_compute: a spinning child did not start\n");
        exit(1);
    }
    close(fd);
    bench_sleep_ns(200 * MS); /* past the saved budget of the first period */
    /* Consecutive windows of one run; the median is robust to a window the machine disturbed. */
    double pct[WINDOWS];
    for (int w = 0; w < WINDOWS; w++) {
        uint64_t b0 = busy_of(pid), t0 = bench_now_ns();
        bench_sleep_ns(WINDOW_MS * MS);
        pct[w] = 100.0 * (double)(busy_of(pid) - b0) / (double)(bench_now_ns() - t0);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return bench_median(pct, WINDOWS);
}

static double cost(const char *self, const char *shim, const char *compute)
{
    int fd;
    pid_t pid = start(self, shim, compute, "cost", "", &fd);
    return bench_child_value(pid, fd);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "spin") == 0)
        return child_spin(strtoull(argv[2], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "spinsync") == 0)
        return child_spinsync(strtoull(argv[2], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "cost") == 0)
        return bench_launch_cost_child();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_compute PATH/libgpuvisor.so\n");
        return 2;
    }
    struct bench_world w;
    if (bench_world_start(&w) < 0)
        return 1;
    const char *self = w.self;
    if (cuInit(0) != CUDA_SUCCESS) /* maps the machine, to read its books */
        return 1;

    static const unsigned shares[] = {1000, 2500, 5000, 7500};
    static const uint64_t kernels[] = {100000, MS, 10 * MS};
    printf("GPU-time shares on the simulator: one process alone under --compute (fixed share)\n"
           "(achieved = device time / wall time; median of 3 windows of 1 s; \"no limit\": the same "
           "work\nwithout a share, what the program can use at all)\n");
    printf("  %8s %8s | %-24s | %-24s\n", "", "", "kernels back to back", "a sync after each kernel");
    printf("  %8s %8s | %10s %13s | %10s %13s\n", "target", "kernel", "achieved", "error", "achieved",
           "error");
    double free_run[2][sizeof(kernels) / sizeof(kernels[0])];
    for (unsigned k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++)
        for (int sync = 0; sync < 2; sync++)
            free_run[sync][k] = achieved(self, argv[1], 0, kernels[k], sync);
    for (unsigned k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++)
        printf("  %8s %5.1f ms | %9.2f%% %13s | %9.2f%% %13s\n", "no limit",
               (double)kernels[k] / 1e6, free_run[0][k], "", free_run[1][k], "");
    for (unsigned i = 0; i < sizeof(shares) / sizeof(shares[0]); i++)
        for (unsigned k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
            double want = shares[i] / 100.0, a[2];
            for (int sync = 0; sync < 2; sync++)
                a[sync] = achieved(self, argv[1], shares[i], kernels[k], sync);
            printf("  %7.0f%% %5.1f ms | %9.2f%% %+13.2f | %9.2f%% %+13.2f\n", want,
                   (double)kernels[k] / 1e6, a[0], a[0] - want, a[1], a[1] - want);
            fflush(stdout);
        }

    double direct[ROUNDS], plain[ROUNDS], limited[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        direct[r] = cost(self, NULL, "");
        plain[r] = cost(self, argv[1], "");
        limited[r] = cost(self, argv[1], "5000");
    }
    double d = bench_median(direct, ROUNDS), p = bench_median(plain, ROUNDS),
           l = bench_median(limited, ROUNDS);
    printf("\ncuLaunchKernel, per launch (median launch, median of %d rounds)\n", ROUNDS);
    printf("  %-36s %10s %10s %8s\n", "", "time", "added", "ratio");
    printf("  %-36s %7.1f ns\n", "direct (no interposer)", d);
    printf("  %-36s %7.1f ns %7.1f ns %8.3f\n", "interposer, no compute limit", p, p - d, p / d);
    printf("  %-36s %7.1f ns %7.1f ns %8.3f\n", "interposer, --compute 50", l, l - d, l / d);
    printf("  target: added cost with a compute limit <= 300 ns (intended waits excluded)\n");

    return bench_world_end(&w) == 0 ? 0 : 1;
}
