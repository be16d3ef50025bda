/* SPDX-License-Identifier: Apache-2.0 */
/* bench_compute.c: how exact the compute policies' shares of GPU time are, how soon a
 * higher-priority instance gets the GPU, and what the gate costs a launch.
 *
 * Every figure is the simulator's device time per process (gvsim_dev_processes) over a window of
 * wall time: the median of three consecutive 1 s windows, each a whole number of turns give or
 * take one (at 10% a turn and its wait take about 100 ms, so shorter windows would measure where
 * in its cycle a window falls rather than the share). The workers are this program run again as
 * children, each in an instance of its own (GPUVISOR_INSTANCE) with its share, policy and
 * priority in the interposer's variables; they launch spin kernels of 0.1, 1 or 10 ms back to
 * back, or synchronize after each one (a program that waits for each result).
 *
 * Each scenario (one cell of a table, or one set of processes that run together) runs in a process
 * of its own on a simulated machine of its own, so that nothing one scenario leaves behind (a
 * budget, a token, virtual time) moves the next one's figures: the simulator maps one machine per
 * process, and that process is the one that reads the books. It sends its figures back through a
 * pipe; the parent prints them. The scenario's workers share its process group, which the parent
 * ends after it, so that a scenario that fails half-way leaves no worker spinning.
 *
 * The tables (BENCH_COMPUTE_ONLY=A,C runs only those; all by default):
 *   A  one fixed instance alone at 10/25/50/75%, beside the same work with no limit: the error is
 *      achieved minus what it can get (the share, or what no limit achieves when that is less);
 *   B  two fixed instances at 30 and 60 at once: each one's share of the GPU's time;
 *   C  two guaranteed instances at 30 and 60, both busy: each one's part of the busy GPU (1:2);
 *      and the 30 one with the other not started, or started and asleep: its share of the GPU;
 *   D  a guaranteed 50% instance beside an unlimited process and a best-effort instance at 50;
 *   E  priority: a high fixed 30% instance arriving beside two normal guaranteed ones at 30 and
 *      60: the time from its first launch to its first kernel, against a turn plus the longest
 *      kernel running; then the three shares;
 *   F  per-launch time of cuLaunchKernel (zero-length kernels, timed one by one) under each
 *      policy at 50% and with no limit, against the direct call in the same run. The median
 *      launch leaves out the launches that wait for the GPU (turns, drains).
 * Each table ends with a line that says whether its targets held. The exit status is 0 whatever
 * the figures (a benchmark reports them, the tests judge), and 1 when a scenario failed or stuck
 * (it has SCENARIO_S seconds): its figures then print as nan, and the other tables go on. */
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_cuda.h"
#include "core/policy.h"
#include "core/timeslice.h"
#include "sim/sim.h"

#define MS       1000000ULL
#define US       1000ULL
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum {
    ROUNDS = 7,       /* launch-cost runs per configuration */
    WINDOWS = 3,      /* consecutive windows per share */
    WINDOW_MS = 1000, /* each window */
    SETTLE_MS = 300,  /* from the last worker going to the first window: past the first turns */
    SCENARIO_S = 60,  /* a scenario that takes longer is stuck (a worker that never got the GPU) */
    ARRIVALS = 5,     /* high-priority arrivals, one after another */
    MAX_WORKERS = 4,
};

/* Targets, in points of the GPU's time unless named otherwise. */
#define SHARE_POINTS   3.0  /* A, B, C busy, E shares: each within this of its target */
#define ALONE_MIN      95.0 /* C: a guaranteed instance with the GPU to itself */
#define BESIDE_MIN     47.0 /* D: a guaranteed 50% instance beside unlimited and best-effort work */
#define ADDED_MAX_NS   300.0      /* F: what the interposer adds to a launch */
#define ARRIVAL_KERNEL (100 * US) /* E: the arriving instance's first kernel */

static const uint64_t kernels[] = {100 * US, MS, 10 * MS};
static const unsigned half = 5000; /* D and F: instances at 50% (basis points) */

/* ---- the workers (children) */

/* Launch ns-long kernels for ever, each waited for when sync; 'y' on stdout once set up, before
 * the first launch: a best-effort worker beside busy guaranteed ones may rightly never get the
 * GPU, and its first launch never return. */
static int child_spin(uint64_t ns, bool sync)
{
    CUfunction spin = bench_spin_fn();
    void *params[] = {&ns};
    if (write(1, "y", 1) != 1)
        return 1;
    for (;;) {
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
        if (sync)
            CK(cuCtxSynchronize());
    }
}

/* An instance that used the GPU once and then sleeps (a program between two bursts of work). */
static int child_idle(void)
{
    CUfunction spin = bench_spin_fn();
    uint64_t ns = ARRIVAL_KERNEL;
    void *params[] = {&ns};
    CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    CK(cuCtxSynchronize());
    if (write(1, "y", 1) != 1)
        return 1;
    for (;;)
        pause();
}

/* An arrival: the host time from its first launch to the end of its first kernel, less the
 * kernel's own length (the wait for the GPU), printed in ns. Set-up (context, module) is before. */
static int child_arrive(void)
{
    CUfunction spin = bench_spin_fn();
    uint64_t ns = ARRIVAL_KERNEL;
    void *params[] = {&ns};
    uint64_t t0 = bench_now_ns();
    CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    CK(cuCtxSynchronize());
    uint64_t t = bench_now_ns() - t0;
    printf("%.1f\n", (double)(t > ns ? t - ns : 0));
    return 0;
}

/* ---- starting workers (in a scenario's process) */

/* What a worker runs under. */
struct who {
    bool shim;      /* under the interposer, in an instance of its own */
    unsigned share; /* GPUVISOR_COMPUTE, basis points; 0: no limit */
    int policy;     /* enum gv_policy in GPUVISOR_COMPUTE_POLICY; -1: unset */
    int priority;   /* enum gv_priority in GPUVISOR_PRIORITY; -1: unset */
};

static const struct who direct = {false, 0, -1, -1};
static const struct who unlimited = {true, 0, -1, -1};

static struct who limited(unsigned share, enum gv_policy policy, int priority)
{
    return (struct who){true, share, (int)policy, priority};
}

static const char *shim_path; /* libgpuvisor.so */
static char self[4096];       /* this program */

/* Start this program as a worker `mode arg`; its stdout comes back through *out. */
static pid_t start(const struct who *w, const char *mode, uint64_t arg, int *out)
{
    static int serial;
    int p[2];
    if (pipe2(p, O_CLOEXEC)) /* only this worker gets its end */
        return -1;
    char inst[64], share[16], a[24];
    snprintf(inst, sizeof(inst), "bench-compute-%d-%d", (int)getpid(), serial++);
    snprintf(share, sizeof(share), "%u", w->share);
    snprintf(a, sizeof(a), "%llu", (unsigned long long)arg);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        if (w->shim) {
            setenv("LD_PRELOAD", shim_path, 1);
            setenv("GPUVISOR_INSTANCE", inst, 1);
        } else {
            unsetenv("LD_PRELOAD");
        }
        if (w->share)
            setenv("GPUVISOR_COMPUTE", share, 1);
        if (w->policy >= 0)
            setenv(GV_POLICY_ENV, gv_policy_name((enum gv_policy)w->policy), 1);
        if (w->priority >= 0)
            setenv(GV_PRIORITY_ENV, gv_priority_name((enum gv_priority)w->priority), 1);
        execl(self, self, mode, a, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    *out = p[0];
    return pid;
}

/* Start a worker and wait until it says it is going. Ends the scenario on failure. */
static pid_t going(const struct who *w, const char *mode, uint64_t arg)
{
    int fd;
    pid_t pid = start(w, mode, arg, &fd);
    char y = 0;
    if (pid < 0 || read(fd, &y, 1) != 1 || y != 'y') {
        fprintf(stderr, "bench_compute: a %s worker did not start\n", mode);
        exit(1);
    }
    close(fd);
    return pid;
}

static pid_t spinner(const struct who *w, uint64_t kernel, bool sync)
{
    return going(w, sync ? "spinsync" : "spin", kernel);
}

/* Run a worker that prints one figure and ends; its figure. */
static double figure(const struct who *w, const char *mode)
{
    int fd;
    pid_t pid = start(w, mode, 0, &fd);
    if (pid < 0) {
        fprintf(stderr, "bench_compute: cannot start a %s worker\n", mode);
        exit(1);
    }
    return bench_child_value(pid, fd);
}

static void stop(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* ---- measuring (in a scenario's process) */

/* Device time each of pids[0..n) has used on the GPU so far. */
static void busy_now(const pid_t *pids, int n, uint64_t *busy)
{
    struct gvsim_proc_usage u[64];
    int m = gvsim_dev_processes(0, u, 64);
    for (int i = 0; i < n; i++) {
        busy[i] = 0;
        for (int j = 0; j < m && j < 64; j++)
            if (u[j].pid == pids[i])
                busy[i] = u[j].busy_ns;
    }
}

/* What pids[0..n) get of the GPU, after the settling time: in wall[i] each one's device time over
 * wall time, in part[i] its part of the device time they all used, in *gpu theirs together over
 * wall time (percent; the median window of each figure; part and gpu may be NULL). */
static void measure(const pid_t *pids, int n, double *wall, double *part, double *gpu)
{
    double w[MAX_WORKERS][WINDOWS], p[MAX_WORKERS][WINDOWS], g[WINDOWS];
    uint64_t b0[MAX_WORKERS], b1[MAX_WORKERS];
    bench_sleep_ns(SETTLE_MS * MS);
    for (int k = 0; k < WINDOWS; k++) {
        busy_now(pids, n, b0);
        uint64_t t0 = bench_now_ns();
        bench_sleep_ns(WINDOW_MS * MS);
        busy_now(pids, n, b1);
        double dt = (double)(bench_now_ns() - t0), all = 0;
        for (int i = 0; i < n; i++)
            all += (double)(b1[i] - b0[i]);
        for (int i = 0; i < n; i++) {
            w[i][k] = 100.0 * (double)(b1[i] - b0[i]) / dt;
            p[i][k] = all > 0 ? 100.0 * (double)(b1[i] - b0[i]) / all : 0;
        }
        g[k] = 100.0 * all / dt;
    }
    for (int i = 0; i < n; i++) {
        wall[i] = bench_median(w[i], WINDOWS);
        if (part)
            part[i] = bench_median(p[i], WINDOWS);
    }
    if (gpu)
        *gpu = bench_median(g, WINDOWS);
}

/* ---- scenarios: each runs in a process of its own and fills out[] */

typedef void scenario_fn(const void *arg, double *out);

static struct bench_world world;

static bool read_full(int fd, void *buf, size_t len)
{
    for (size_t got = 0; got < len;) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static int failed; /* scenarios that failed */

/* Run fn(arg, out) with n figures in a process of its own, on a fresh simulated machine. When the
 * scenario fails, says so and fills out[] with NaN, which misses every target (the tables compare
 * so that NaN fails) and prints as "nan". */
static void scenario(scenario_fn *fn, const void *arg, double *out, size_t n)
{
    static int serial;
    char machine[sizeof(world.machine) + 16];
    snprintf(machine, sizeof(machine), "%s-%d", world.machine, serial++);
    int p[2];
    fflush(stdout);
    if (pipe2(p, O_CLOEXEC)) { /* not in its workers: a stuck scenario's pipe ends with it */
        perror("bench_compute: pipe");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        close(p[0]);
        setenv("GPUVISOR_SIM_MACHINE", machine, 1);
        alarm(SCENARIO_S); /* SIGALRM ends it; the parent reports it and ends its workers */
        if (cuInit(0) != CUDA_SUCCESS) /* maps the machine, to read its books */
            _exit(1);
        fn(arg, out);
        _exit(write(p[1], out, n * sizeof(*out)) == (ssize_t)(n * sizeof(*out)) ? 0 : 1);
    }
    close(p[1]);
    bool ok = pid > 0 && read_full(p[0], out, n * sizeof(*out));
    close(p[0]);
    int st = 0;
    if (pid > 0) {
        waitpid(pid, &st, 0);
        kill(-pid, SIGKILL); /* workers a failed scenario left */
    }
    bench_machine_remove(machine);
    if (!ok || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_compute: a scenario failed (%s); its figures are nan\n",
                WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM ? "stuck, ended after its time"
                                                           : "see above");
        for (size_t i = 0; i < n; i++)
            out[i] = NAN;
        failed++;
    }
}

struct alone {
    struct who who;
    uint64_t kernel;
    bool sync;
};

/* out[0]: the share of one worker alone. */
static void sc_alone(const void *arg, double *out)
{
    const struct alone *a = arg;
    pid_t pid = spinner(&a->who, a->kernel, a->sync);
    measure(&pid, 1, out, NULL, NULL);
    stop(pid);
}

struct pair {
    enum gv_policy policy;
    uint64_t kernel;
    bool sync;
};

static const unsigned pair_shares[] = {3000, 6000};

/* Instances at 30 and 60 under one policy, at once. out[0..1]: their shares of the GPU's time;
 * out[2..3]: their parts of the device time both used; out[4]: the GPU's busy time. */
static void sc_pair(const void *arg, double *out)
{
    const struct pair *a = arg;
    pid_t pids[COUNT(pair_shares)];
    for (unsigned i = 0; i < COUNT(pair_shares); i++) {
        struct who w = limited(pair_shares[i], a->policy, -1);
        pids[i] = spinner(&w, a->kernel, a->sync);
    }
    measure(pids, (int)COUNT(pids), out, out + 2, out + 4);
    for (unsigned i = 0; i < COUNT(pids); i++)
        stop(pids[i]);
}

/* A guaranteed 30% instance with 1 ms kernels, the 60 one not started (*arg false) or asleep
 * (true). out[0]: the 30 one's share of the GPU. */
static void sc_guaranteed_alone(const void *arg, double *out)
{
    const bool *asleep = arg;
    pid_t other = 0;
    if (*asleep) {
        struct who w = limited(pair_shares[1], GV_POLICY_GUARANTEED, -1);
        other = going(&w, "idle", 0);
    }
    struct who w = limited(pair_shares[0], GV_POLICY_GUARANTEED, -1);
    pid_t pid = spinner(&w, MS, false);
    measure(&pid, 1, out, NULL, NULL);
    stop(pid);
    if (other)
        stop(other);
}

/* Guaranteed 50%, unlimited and best-effort 50 at once, kernels of *arg ns back to back.
 * out[0..2]: their shares. */
static void sc_beside(const void *arg, double *out)
{
    const uint64_t *kernel = arg;
    struct who who[] = {limited(half, GV_POLICY_GUARANTEED, -1), unlimited,
                        limited(half, GV_POLICY_BEST_EFFORT, -1)};
    pid_t pids[COUNT(who)];
    for (unsigned i = 0; i < COUNT(who); i++)
        pids[i] = spinner(&who[i], *kernel, false);
    measure(pids, (int)COUNT(pids), out, NULL, NULL);
    for (unsigned i = 0; i < COUNT(pids); i++)
        stop(pids[i]);
}

/* Normal guaranteed instances at 30 and 60 with kernels of *arg ns back to back; a high fixed 30%
 * instance arrives ARRIVALS times. out[0], out[1]: the median and the longest wait of its first
 * kernel (ns); out[2..4]: the shares of the high one and the two normal ones while all run. */
static void sc_priority(const void *arg, double *out)
{
    const uint64_t *kernel = arg;
    pid_t pids[3];
    for (unsigned i = 0; i < COUNT(pair_shares); i++) {
        struct who w = limited(pair_shares[i], GV_POLICY_GUARANTEED, GV_PRIORITY_NORMAL);
        pids[1 + i] = spinner(&w, *kernel, false);
    }
    struct who high = limited(pair_shares[0], GV_POLICY_FIXED, GV_PRIORITY_HIGH);
    bench_sleep_ns(SETTLE_MS * MS);
    double wait[ARRIVALS];
    for (int i = 0; i < ARRIVALS; i++)
        wait[i] = figure(&high, "arrive");
    out[0] = bench_median(wait, ARRIVALS); /* sorts: the longest is last */
    out[1] = wait[ARRIVALS - 1];
    pids[0] = spinner(&high, *kernel, false);
    measure(pids, 3, out + 2, NULL, NULL);
    for (unsigned i = 0; i < COUNT(pids); i++)
        stop(pids[i]);
}

/* The launch-cost configurations of table F, the direct call first. */
static const char *const cost_names[] = {"direct (no interposer)", "interposer, no limit",
                                         "fixed 50%", "guaranteed 50%", "best-effort 50%"};

static struct who cost_who(unsigned i)
{
    static const enum gv_policy policies[] = {GV_POLICY_FIXED, GV_POLICY_GUARANTEED,
                                              GV_POLICY_BEST_EFFORT};
    return i == 0 ? direct : i == 1 ? unlimited : limited(half, policies[i - 2], -1);
}

/* out[i]: the median over ROUNDS of each configuration's median launch (ns), rounds interleaved. */
static void sc_cost(const void *arg, double *out)
{
    (void)arg;
    double t[COUNT(cost_names)][ROUNDS];
    for (int r = 0; r < ROUNDS; r++)
        for (unsigned i = 0; i < COUNT(cost_names); i++) {
            struct who w = cost_who(i);
            t[i][r] = figure(&w, "cost");
        }
    for (unsigned i = 0; i < COUNT(cost_names); i++)
        out[i] = bench_median(t[i], ROUNDS);
}

/* ---- the tables (in the parent) */

static const char *verdict(int missed)
{
    return missed ? "NOT held" : "held";
}

static bool within(double err, double points)
{
    return err >= -points && err <= points;
}

static void table_a(void)
{
    static const unsigned shares[] = {1000, 2500, 5000, 7500};
    printf(
        "A. Accuracy: one fixed instance alone (%s=%s), beside the same work\n"
        "   with no limit (share = device time / wall time, median of %d windows of %d ms;\n"
        "   expected: the share, or what no limit achieves when that is less; error = achieved -\n"
        "   expected, points; target: each error within %.0f points)\n",
        GV_POLICY_ENV, gv_policy_name(GV_POLICY_FIXED), WINDOWS, WINDOW_MS, SHARE_POINTS);
    printf("  %8s %8s | %-28s | %-28s\n", "", "", "kernels back to back",
           "a sync after each kernel");
    printf("  %8s %8s | %9s %9s %8s | %9s %9s %8s\n", "target", "kernel", "achieved", "expected",
           "error", "achieved", "expected", "error");
    double free_run[2][COUNT(kernels)];
    for (unsigned k = 0; k < COUNT(kernels); k++) {
        for (int sync = 0; sync < 2; sync++) {
            struct alone a = {unlimited, kernels[k], sync};
            scenario(sc_alone, &a, &free_run[sync][k], 1);
        }
        printf("  %8s %5.1f ms | %8.2f%% %9s %8s | %8.2f%% %9s %8s\n", "no limit",
               (double)kernels[k] / 1e6, free_run[0][k], "", "", free_run[1][k], "", "");
    }
    int missed = 0, cells = 0;
    for (unsigned i = 0; i < COUNT(shares); i++)
        for (unsigned k = 0; k < COUNT(kernels); k++) {
            double want = shares[i] / 100.0, got[2], exp[2];
            for (int sync = 0; sync < 2; sync++) {
                struct alone a = {limited(shares[i], GV_POLICY_FIXED, -1), kernels[k], sync};
                scenario(sc_alone, &a, &got[sync], 1);
                exp[sync] = want < free_run[sync][k] ? want : free_run[sync][k];
                missed += !within(got[sync] - exp[sync], SHARE_POINTS);
                cells++;
            }
            printf("  %7.0f%% %5.1f ms | %8.2f%% %8.2f%% %+8.2f | %8.2f%% %8.2f%% %+8.2f\n", want,
                   (double)kernels[k] / 1e6, got[0], exp[0], got[0] - exp[0], got[1], exp[1],
                   got[1] - exp[1]);
        }
    printf("  table A: targets %s: %d of %d errors within %.0f points\n\n", verdict(missed),
           cells - missed, cells, SHARE_POINTS);
}

static void table_b(void)
{
    printf("B. Two fixed instances at 30%% and 60%% at once: each one's share of the GPU's time\n"
           "   (error = share - target, points; target: each within %.0f points)\n",
           SHARE_POINTS);
    printf("  %8s %-5s | %8s %8s | %8s %8s | %8s\n", "kernel", "sync", "30%", "error", "60%",
           "error", "GPU busy");
    int missed = 0;
    for (unsigned k = 0; k < COUNT(kernels); k++)
        for (int sync = 0; sync < 2; sync++) {
            struct pair a = {GV_POLICY_FIXED, kernels[k], sync};
            double o[5];
            scenario(sc_pair, &a, o, COUNT(o));
            double e0 = o[0] - pair_shares[0] / 100.0, e1 = o[1] - pair_shares[1] / 100.0;
            missed += !within(e0, SHARE_POINTS) + !within(e1, SHARE_POINTS);
            printf("  %5.1f ms %-5s | %7.2f%% %+8.2f | %7.2f%% %+8.2f | %7.2f%%\n",
                   (double)kernels[k] / 1e6, sync ? "yes" : "no", o[0], e0, o[1], e1, o[4]);
        }
    printf("  table B: targets %s: %d of %d shares off by more than %.0f points\n\n",
           verdict(missed), missed, (int)(2 * 2 * COUNT(kernels)), SHARE_POINTS);
}

static void table_c(void)
{
    double t0 = 100.0 * pair_shares[0] / (pair_shares[0] + pair_shares[1]), t1 = 100.0 - t0;
    printf("C. Two guaranteed instances at 30%% and 60%%, both busy (kernels back to back): each\n"
           "   one's part of the device time both used (target %.1f / %.1f within %.0f points;\n"
           "   error in points)\n",
           t0, t1, SHARE_POINTS);
    printf("  %8s | %8s %8s | %8s %8s | %8s\n", "kernel", "30%", "error", "60%", "error",
           "GPU busy");
    int missed = 0;
    for (unsigned k = 0; k < COUNT(kernels); k++) {
        struct pair a = {GV_POLICY_GUARANTEED, kernels[k], false};
        double o[5];
        scenario(sc_pair, &a, o, COUNT(o));
        missed += !within(o[2] - t0, SHARE_POINTS) + !within(o[3] - t1, SHARE_POINTS);
        printf("  %5.1f ms | %7.2f%% %+8.2f | %7.2f%% %+8.2f | %7.2f%%\n", (double)kernels[k] / 1e6,
               o[2], o[2] - t0, o[3], o[3] - t1, o[4]);
    }
    printf("  the 30%% one alone, 1 ms kernels back to back: its share of the GPU (target >= "
           "%.0f%%)\n",
           ALONE_MIN);
    for (int asleep = 0; asleep < 2; asleep++) {
        bool a = asleep;
        double o;
        scenario(sc_guaranteed_alone, &a, &o, 1);
        missed += !(o >= ALONE_MIN);
        printf("  %-32s %7.2f%% %+8.2f\n",
               asleep ? "the 60% one started and asleep" : "the 60% one not started", o,
               o - ALONE_MIN);
    }
    printf("  table C: targets %s: %d of %d figures out\n\n", verdict(missed), missed,
           (int)(2 * COUNT(kernels) + 2));
}

static void table_d(void)
{
    printf(
        "D. A guaranteed 50%% instance beside an unlimited process (interposer, no limit) and a\n"
        "   best-effort instance at 50: each one's share of the GPU (target: the guaranteed one\n"
        "   >= %.0f%%; error = its share - target, points)\n",
        BESIDE_MIN);
    printf("  %8s | %10s %8s | %10s | %11s\n", "kernel", "guaranteed", "error", "unlimited",
           "best-effort");
    int missed = 0;
    for (unsigned k = 0; k < COUNT(kernels); k++) {
        double o[3];
        scenario(sc_beside, &kernels[k], o, COUNT(o));
        missed += !(o[0] >= BESIDE_MIN);
        printf("  %5.1f ms | %9.2f%% %+8.2f | %9.2f%% | %10.2f%%\n", (double)kernels[k] / 1e6, o[0],
               o[0] - BESIDE_MIN, o[1], o[2]);
    }
    printf("  table D: targets %s: %d of %d figures out\n\n", verdict(missed), missed,
           (int)COUNT(kernels));
}

static void table_e(void)
{
    static const uint64_t running[] = {MS, 10 * MS};
    double slice = (double)GV_TIMESLICE_DEFAULT_NS;
    double t[3] = {pair_shares[0] / 100.0, 0, 0};
    t[1] = (100.0 - t[0]) * pair_shares[0] / (pair_shares[0] + pair_shares[1]);
    t[2] = 100.0 - t[0] - t[1];
    printf(
        "E. Priority: normal guaranteed instances at 30%% and 60%% run; a high fixed 30%% one\n"
        "   arrives: the wait of its first %.1f ms kernel (host time from its first launch to the\n"
        "   end of that kernel, less its length; median and longest of %d arrivals) against a\n"
        "   turn (%.0f ms) plus the kernel running; then each one's share while all three run\n"
        "   (target %.1f / %.1f / %.1f, within %.0f points)\n",
        (double)ARRIVAL_KERNEL / 1e6, ARRIVALS, slice / 1e6, t[0], t[1], t[2], SHARE_POINTS);
    printf("  %8s | %8s %8s %8s %8s | %8s %8s %8s %8s %8s %8s\n", "running", "wait", "longest",
           "bound", "error", "high", "error", "30%", "error", "60%", "error");
    int missed = 0;
    for (unsigned k = 0; k < COUNT(running); k++) {
        double o[5], bound = slice + (double)running[k];
        scenario(sc_priority, &running[k], o, COUNT(o));
        missed += !(o[0] <= bound);
        for (int i = 0; i < 3; i++)
            missed += !within(o[2 + i] - t[i], SHARE_POINTS);
        printf("  %5.1f ms | %5.2f ms %5.2f ms %5.2f ms %+8.2f | %7.2f%% %+8.2f %7.2f%% %+8.2f "
               "%7.2f%% %+8.2f\n",
               (double)running[k] / 1e6, o[0] / 1e6, o[1] / 1e6, bound / 1e6, (o[0] - bound) / 1e6,
               o[2], o[2] - t[0], o[3], o[3] - t[1], o[4], o[4] - t[2]);
    }
    printf("  table E: targets %s: %d of %d figures out (wait error in ms)\n\n", verdict(missed),
           missed, (int)(4 * COUNT(running)));
}

static void table_f(void)
{
    double o[COUNT(cost_names)];
    scenario(sc_cost, NULL, o, COUNT(o));
    printf("F. cuLaunchKernel, per launch (median launch, median of %d rounds; target: added <= "
           "%.0f ns)\n",
           ROUNDS, ADDED_MAX_NS);
    printf("  %-26s %10s %10s %8s %10s\n", "", "time", "added", "ratio", "error");
    printf("  %-26s %7.1f ns\n", cost_names[0], o[0]);
    int missed = 0;
    for (unsigned i = 1; i < COUNT(cost_names); i++) {
        double added = o[i] - o[0];
        missed += !(added <= ADDED_MAX_NS);
        printf("  %-26s %7.1f ns %7.1f ns %8.3f %+7.1f ns\n", cost_names[i], o[i], added,
               o[i] / o[0], added - ADDED_MAX_NS);
    }
    printf("  table F: targets %s: %d of %d configurations add more than %.0f ns\n\n",
           verdict(missed), missed, (int)COUNT(cost_names) - 1, ADDED_MAX_NS);
}

static const struct {
    char name;
    void (*run)(void);
} tables[] = {{'A', table_a}, {'B', table_b}, {'C', table_c},
              {'D', table_d}, {'E', table_e}, {'F', table_f}};

/* The tables BENCH_COMPUTE_ONLY names ("A,C"; all when unset or empty): a mask, or -1 with a
 * message for a name that is no table. */
static int chosen(void)
{
    const char *v = getenv("BENCH_COMPUTE_ONLY");
    if (!v || !*v)
        return (1 << COUNT(tables)) - 1;
    int mask = 0;
    for (const char *c = v; *c; c++) {
        if (*c == ',' || *c == ' ')
            continue;
        unsigned i = 0;
        while (i < COUNT(tables) && tables[i].name != toupper((unsigned char)*c))
            i++;
        if (i == COUNT(tables)) {
            fprintf(stderr,
                    "bench_compute: BENCH_COMPUTE_ONLY=\"%s\": no table '%c' (use letters A to "
                    "%c, comma-separated)\n",
                    v, *c, tables[COUNT(tables) - 1].name);
            return -1;
        }
        mask |= 1 << i;
    }
    return mask;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "spin") == 0)
        return child_spin(strtoull(argv[2], NULL, 10), false);
    if (argc == 3 && strcmp(argv[1], "spinsync") == 0)
        return child_spin(strtoull(argv[2], NULL, 10), true);
    if (argc == 3 && strcmp(argv[1], "idle") == 0)
        return child_idle();
    if (argc == 3 && strcmp(argv[1], "arrive") == 0)
        return child_arrive();
    if (argc == 3 && strcmp(argv[1], "cost") == 0)
        return bench_launch_cost_child();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_compute PATH/libgpuvisor.so (BENCH_COMPUTE_ONLY=A,C: only "
                        "those tables)\n");
        return 2;
    }
    int mask = chosen();
    if (mask < 0)
        return 2;
    shim_path = argv[1];
    if (bench_world_start(&world) < 0)
        return 1;
    snprintf(self, sizeof(self), "%s", world.self);
    unsetenv(GV_TIMESLICE_ENV); /* turns of the default length: table E's bound */
    printf(
        "GPU-time shares and policies on the simulator (one T4 per scenario; device time as the\n"
        "simulator counts it per process)\n\n");
    for (unsigned i = 0; i < COUNT(tables); i++)
        if (mask & (1 << i))
            tables[i].run();
    if (failed)
        fprintf(stderr, "bench_compute: %d scenarios failed\n", failed);
    return bench_world_end(&world) == 0 && !failed ? 0 : 1;
}
