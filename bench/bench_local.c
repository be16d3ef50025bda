/* SPDX-License-Identifier: Apache-2.0 */
/* bench_local.c: what taking turns on the GPU through gpuvisord costs, against the token one user's
 * processes share without a daemon.
 *
 * Loss: one process alone under a 100% share, launching 10 ms (and 1 ms) kernels back to back: the
 * GPU time it gets (the simulator's device time over wall time) with the standalone token and with
 * the daemon's (a stand-in daemon on daemon/local.c, tests/local/testd.c), at the default slice.
 * Alone it renews its turn every slice, a round trip to the daemon each time. Runs alternate
 * between the two kinds so that a machine that slows down meanwhile weighs on both alike; each run
 * is the median of three 1 s windows, and the table shows the median of the runs and the ratio
 * daemon / standalone (target: a loss of at most 2%).
 *
 * Shares: one instance alone at 30%, and two instances at 30% and 60% at once, 1 ms kernels,
 * through the daemon and standalone: the median of five 1 s windows each.
 *
 * Cost: per-launch time of cuLaunchKernel (zero-length kernels, one at a time; the median launch,
 * which leaves out the launches that wait for a turn), in a process of a daemon instance without a
 * share (its launches look for one that a resize may give) and of one with a 100% share, against
 * the same launches without the interposer; median of COST_ROUNDS runs, alternating.
 * BENCH_LOCAL_COST_ONLY=1 runs this last table alone. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"
#include "region/sched.h"
#include "sim/sim.h"
#include "testd.h"

#define MS      1000000ULL
#define ROUNDS  5
#define COST_ROUNDS 9
#define WINDOWS 3

static struct td t;
static const char *self, *shim;

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

/* The median launch of a "cost" child: of daemon instance inst, or without the interposer (NULL). */
static double cost(const char *inst)
{
    int p[2];
    if (pipe(p))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        if (inst) {
            setenv("LD_PRELOAD", shim, 1);
            setenv("GPUVISOR_INSTANCE", inst, 1);
            setenv("GPUVISOR_DAEMON", t.sock, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        execl(self, self, "cost", "", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    return bench_child_value(pid, p[0]);
}

/* A spinner of instance `inst`: the daemon's when daemon is set, else a standalone instance with
 * `share` basis points. Returns once it runs. */
static pid_t spinner(const char *inst, bool daemon, unsigned share, uint64_t kernel)
{
    int p[2];
    if (pipe(p))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        char k[24], c[16];
        snprintf(k, sizeof(k), "%llu", (unsigned long long)kernel);
        snprintf(c, sizeof(c), "%u", share);
        dup2(p[1], 1);
        close(p[0]);
        setenv("LD_PRELOAD", shim, 1);
        setenv("GPUVISOR_INSTANCE", inst, 1);
        if (daemon) {
            setenv("GPUVISOR_DAEMON", t.sock, 1);
        } else {
            setenv("GPUVISOR_COMPUTE", c, 1);
        }
        execl(self, self, "spin", k, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char y = 0;
    if (pid < 0 || read(p[0], &y, 1) != 1 || y != 'y') {
        fprintf(stderr, "bench_local: a spinning child did not start\n");
        exit(1);
    }
    close(p[0]);
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

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* The share (percent) each of n processes got, per window of 1 s, median of `windows`. */
static void measure(const pid_t *pids, int n, int windows, double *out)
{
    double pct[8][9];
    bench_sleep_ns(300 * MS); /* past the saved budget of the first period */
    for (int w = 0; w < windows; w++) {
        uint64_t b0[8], t0 = bench_now_ns();
        for (int i = 0; i < n; i++)
            b0[i] = busy_of(pids[i]);
        bench_sleep_ns(1000 * MS);
        uint64_t dt = bench_now_ns() - t0;
        for (int i = 0; i < n; i++)
            pct[i][w] = 100.0 * (double)(busy_of(pids[i]) - b0[i]) / (double)dt;
    }
    for (int i = 0; i < n; i++)
        out[i] = bench_median(pct[i], windows);
}

static double alone(bool daemon, uint64_t kernel)
{
    static int serial;
    char inst[32];
    snprintf(inst, sizeof(inst), "bench-alone-%d", serial++);
    pid_t pid = spinner(daemon ? "f0f0f0f0f0f0" : inst, daemon, 10000, kernel);
    double got;
    measure(&pid, 1, WINDOWS, &got);
    stop(pid);
    return got;
}

static void loss(uint64_t kernel)
{
    double standalone[ROUNDS], through[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        standalone[r] = alone(false, kernel);
        through[r] = alone(true, kernel);
    }
    double s = bench_median(standalone, ROUNDS), d = bench_median(through, ROUNDS);
    printf("  %7.1f ms %13.2f%% %13.2f%% %9.4f %+8.2f%%\n", (double)kernel / 1e6, s, d, d / s,
           100.0 * (d / s - 1.0));
    fflush(stdout);
}

/* One instance alone at 30% (a fixed share holds alone too), 1 ms kernels. */
static void fixed(bool daemon)
{
    static int serial;
    char inst[32];
    snprintf(inst, sizeof(inst), "bench-fixed-%d", serial++);
    pid_t p = spinner(daemon ? "f1f1f1f1f1f1" : inst, daemon, 3000, MS);
    double got;
    measure(&p, 1, 5, &got);
    stop(p);
    printf("  %-22s %9.2f%% %+6.2f\n", daemon ? "through the daemon" : "standalone", got,
           got - 30.0);
    fflush(stdout);
}

static void pair(bool daemon)
{
    pid_t p[2] = {spinner(daemon ? "f3f3f3f3f3f3" : "bench-pair-30", daemon, 3000, MS),
                  spinner(daemon ? "f6f6f6f6f6f6" : "bench-pair-60", daemon, 6000, MS)};
    double got[2];
    measure(p, 2, 5, got);
    stop(p[0]);
    stop(p[1]);
    printf("  %-22s %9.2f%% %+6.2f %9.2f%% %+6.2f\n", daemon ? "through the daemon" : "standalone",
           got[0], got[0] - 30.0, got[1], got[1] - 60.0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "spin") == 0)
        return child_spin(strtoull(argv[2], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "cost") == 0)
        return bench_launch_cost_child();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_local PATH/libgpuvisor.so\n");
        return 2;
    }
    shim = argv[1];
    struct bench_world w;
    if (bench_world_start(&w) < 0)
        return 1;
    self = w.self;
    CUdevice dev;
    CUuuid u;
    if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&dev, 0) || cuDeviceGetUuid_v2(&u, dev))
        return 1;
    const uint8_t *uuid = (const uint8_t *)u.bytes;
    uint64_t mem = 1ULL << 30;
    if (td_init(&t) < 0 || td_add(&t, "f0f0f0f0f0f0", "", getuid(), uuid, mem, 10000) < 0 ||
        td_add(&t, "f1f1f1f1f1f1", "", getuid(), uuid, mem, 3000) < 0 ||
        td_add(&t, "f3f3f3f3f3f3", "", getuid(), uuid, mem, 3000) < 0 ||
        td_add(&t, "f6f6f6f6f6f6", "", getuid(), uuid, mem, 6000) < 0 ||
        td_add(&t, "f7f7f7f7f7f7", "", getuid(), uuid, mem, 0) < 0 || td_start(&t) < 0) {
        fprintf(stderr, "bench_local: cannot start the stand-in daemon\n");
        td_fini(&t);
        return 1;
    }

    if (getenv("BENCH_LOCAL_COST_ONLY"))
        goto cost_only;
    printf("GPU time of one process alone at a 100%% share, kernels back to back, slice %llu ms\n"
           "(device time / wall time; median of %d runs, each the median of %d windows of 1 s)\n",
           (unsigned long long)(GVR_SCHED_SLICE_NS / MS), ROUNDS, WINDOWS);
    printf("  %10s %14s %14s %9s %9s\n", "kernel", "standalone", "daemon", "ratio", "loss");
    loss(10 * MS);
    loss(MS);
    printf("  target: loss through the daemon <= 2%% (10 ms kernels)\n");

    printf("\nOne instance alone at 30%%, 1 ms kernels (median of 5 windows of 1 s)\n");
    printf("  %-22s %10s %6s\n", "", "30%", "error");
    fixed(false);
    fixed(true);

    printf("\nTwo instances at 30%% and 60%% at once, 1 ms kernels (median of 5 windows of 1 s)\n");
    printf("  %-22s %10s %6s %10s %6s\n", "", "30%", "error", "60%", "error");
    pair(false);
    pair(true);
    printf("  target: each within 3 points\n");

cost_only:;
    double direct[COST_ROUNDS], none[COST_ROUNDS], full[COST_ROUNDS];
    for (int r = 0; r < COST_ROUNDS; r++) {
        direct[r] = cost(NULL);
        none[r] = cost("f7f7f7f7f7f7");
        full[r] = cost("f0f0f0f0f0f0");
    }
    double d = bench_median(direct, COST_ROUNDS), z = bench_median(none, COST_ROUNDS),
           f = bench_median(full, COST_ROUNDS);
    printf("\ncuLaunchKernel in a process of a daemon instance, per launch (median launch, median "
           "of %d runs)\n",
           COST_ROUNDS);
    printf("  %-36s %10s %10s %8s\n", "", "time", "added", "ratio");
    printf("  %-36s %7.1f ns\n", "direct (no interposer)", d);
    printf("  %-36s %7.1f ns %7.1f ns %8.3f\n", "instance without a share", z, z - d, z / d);
    printf("  %-36s %7.1f ns %7.1f ns %8.3f\n", "instance with a 100% share", f, f - d, f / d);

    td_fini(&t);
    return bench_world_end(&w) == 0 ? 0 : 1;
}
