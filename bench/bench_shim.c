/* bench_shim.c: what the interposer adds to the driver calls that matter, measured on the
 * simulator as a difference and a ratio against the direct call in the same run.
 *
 * The parent runs this program again as children, alternating: without the interposer, with it
 * and no limit, with it and a memory limit. Each child times batches of calls and reports the
 * median per call; the parent takes the median over rounds. Figures: cuLaunchKernel (no compute
 * limit) and a cuMemAlloc + cuMemFree pair (with a memory limit, so the charge path runs).
 * Launches are timed while the device is busy with a long kernel queued ahead of them, so each
 * launch only queues work, as on a loaded GPU; an idle simulated device would add the cost of
 * waking its worker to some launches and not others, which is noise, not interposer cost. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"

enum { ROUNDS = 9, BATCHES = 25, LAUNCHES = 2000, PAIRS = 500 };

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

/* Run one child with or without the interposer; read its two figures. */
static int measure(const char *self, const char *shim, const char *memory, double *launch,
                   double *pair)
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
        execl(self, self, "child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return sscanf(buf, "%lf %lf", launch, pair) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_shim PATH/libgpuvisor.so\n");
        return 2;
    }
    struct bench_world w;
    if (bench_world_start(&w) < 0)
        return 1;
    const char *self = w.self;

    double l_direct[ROUNDS], l_shim[ROUNDS], p_direct[ROUNDS], p_shim[ROUNDS], unused;
    for (int r = 0; r < ROUNDS; r++) {
        if (measure(self, NULL, NULL, &l_direct[r], &p_direct[r]) ||
            measure(self, argv[1], NULL, &l_shim[r], &unused) ||
            measure(self, argv[1], "8GiB", &unused, &p_shim[r])) {
            fprintf(stderr, "bench_shim: a measuring run failed\n");
            return 1;
        }
    }
    double ld = bench_median(l_direct, ROUNDS), ls = bench_median(l_shim, ROUNDS);
    double pd = bench_median(p_direct, ROUNDS), ps = bench_median(p_shim, ROUNDS);
    printf("interposer cost on the simulator (median of %d rounds x %d batches)\n", ROUNDS,
           BATCHES);
    printf("  %-34s %10s %10s %10s %8s\n", "call", "direct", "shim", "added", "ratio");
    printf("  %-34s %8.1f ns %8.1f ns %8.1f ns %8.3f\n", "cuLaunchKernel (no compute limit)", ld,
           ls, ls - ld, ls / ld);
    printf("  %-34s %8.1f ns %8.1f ns %8.1f ns %8.3f\n", "cuMemAlloc+cuMemFree (8 GiB slice)", pd,
           ps, ps - pd, ps / pd);
    printf("  targets: launch added <= 50 ns, alloc+free added <= 300 ns\n");
    return bench_world_end(&w) == 0 ? 0 : 1;
}
