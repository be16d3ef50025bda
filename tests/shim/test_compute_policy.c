/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_policy.c: the compute policies and priorities, on one simulated GPU, measured in the
 * device time the simulator counts for each process.
 *   - fixed, alone, kernels of 100 us with a synchronize after each: the share within 2 points (the
 *     instance is charged its own device time, not the gaps between its kernels);
 *   - guaranteed 30 and 60, both busy: 1/3 and 2/3 of the busy GPU within 3 points; the 30 alone:
 *     at least 95% of the GPU;
 *   - guaranteed 50 beside a process without a limit and a best-effort instance: at least 47%;
 *   - a high-priority instance arriving while two normal ones run gets the GPU within one time
 *     slice plus the longest running kernel, and then its share; the normal ones share the rest in
 *     proportion to their shares. */
#include <math.h>

#include "computetest.h"

static void t_fixed_sync_100us(void)
{
    CHECK(ct_parent_init() == 0);
    ct_policy = "fixed";
    pid_t pids[1][8] = {{ct_spinner("fixed-sync", "2500", 100 * 1000, K_LAUNCH, 1)}};
    int counts[1] = {1};
    double pct[1];
    CHECK(pids[0][0] > 0);
    ct_sleep_ns(300 * MS_NS);
    const double want[1] = {25.0};
    ct_measure_near(pids, counts, 1, 3000 * MS_NS, want, 2.0, pct);
    ct_stop(pids[0], 1);
    CHECK_NEAR(pct[0], 25.0, 2.0);
}

static void t_guaranteed_pair(void)
{
    CHECK(ct_parent_init() == 0);
    ct_policy = "guaranteed";
    pid_t pids[2][8] = {{ct_spinner("g-30", "3000", MS_NS, K_LAUNCH, 0)},
                        {ct_spinner("g-60", "6000", MS_NS, K_LAUNCH, 0)}};
    int counts[2] = {1, 1};
    double pct[2], alone[1] = {0};
    if (pids[0][0] <= 0 || pids[1][0] <= 0) {
        ct_stop(pids[0], 1);
        ct_stop(pids[1], 1);
        FAIL("a worker did not start");
    }
    ct_sleep_ns(300 * MS_NS);
    double busy = 0, frac[2] = {0, 0};
    for (int attempt = 0; attempt < 2; attempt++) {
        ct_measure(pids, counts, 2, 3000 * MS_NS, pct);
        busy = pct[0] + pct[1];
        frac[0] = 100.0 * pct[0] / busy;
        frac[1] = 100.0 * pct[1] / busy;
        if (fabs(frac[0] - 100.0 / 3) <= 3.0 && busy >= 90.0 - ct_starved_pct)
            break;
        printf("  (window %d missed: %.2f%% and %.2f%% of a GPU busy %.2f%%)\n", attempt + 1,
               frac[0], frac[1], busy);
    }
    double starved = ct_starved_pct;
    /* The 60 stops: the 30 takes what it leaves. */
    ct_stop(pids[1], 1);
    ct_sleep_ns(200 * MS_NS);
    const double want[1] = {100.0};
    ct_measure_near(pids, counts, 1, 2000 * MS_NS, want, 5.0, alone);
    ct_stop(pids[0], 1);
    printf("  30 and 60 both busy: %.2f%% and %.2f%% of the GPU's busy time (%.2f%% busy)\n",
           frac[0], frac[1], busy);
    printf("  the 30 alone: %.2f%% of the GPU\n", alone[0]);
    CHECK(fabs(frac[0] - 100.0 / 3) <= 3.0);
    CHECK(fabs(frac[1] - 200.0 / 3) <= 3.0);
    CHECK(busy >= 90.0 - starved); /* work-conserving: the GPU does not idle */
    CHECK(alone[0] >= 95.0 - ct_starved_pct);
}

static void t_guaranteed_beside_others(void)
{
    CHECK(ct_parent_init() == 0);
    /* The guaranteed one last: beside it the others may rightly never get the GPU, and a worker
     * says it runs only after its first kernel. */
    ct_policy = "best-effort";
    pid_t b = ct_spinner("be-50", "5000", MS_NS, K_LAUNCH, 0);
    ct_policy = NULL;
    pid_t u = ct_spinner("unlimited", "", MS_NS, K_LAUNCH, 0);
    ct_policy = "guaranteed";
    pid_t g = ct_spinner("g-50", "5000", MS_NS, K_LAUNCH, 0);
    pid_t pids[3][8] = {{g}, {u}, {b}};
    int counts[3] = {1, 1, 1};
    double pct[3];
    if (g <= 0 || u <= 0 || b <= 0) {
        ct_stop(pids[0], 1);
        ct_stop(pids[1], 1);
        ct_stop(pids[2], 1);
        FAIL("a worker did not start");
    }
    ct_sleep_ns(300 * MS_NS);
    for (int attempt = 0; attempt < 2; attempt++) {
        ct_measure(pids, counts, 3, 3000 * MS_NS, pct);
        if (pct[0] >= 47.0 - ct_starved_pct)
            break;
    }
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    ct_stop(pids[2], 1);
    printf("  guaranteed 50: %.2f%%, no limit: %.2f%%, best-effort 50: %.2f%%\n", pct[0], pct[1],
           pct[2]);
    CHECK(pct[0] >= 47.0 - ct_starved_pct);
}

/* Worker "arrive FD": a high-priority instance's first kernel: how long (ms) from its launch to the
 * end of its synchronize, less the kernel, on FD; then it spins 1 ms kernels until killed. */
static int worker_arrive(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    if (ct_context(&l))
        return 1;
    uint64_t t0 = st_now_ns();
    if (ct_launch(&l, K_LAUNCH, 100 * 1000) != CUDA_SUCCESS || cuCtxSynchronize() != CUDA_SUCCESS)
        return 1;
    char out[32];
    int n = snprintf(out, sizeof(out), "%.2f\n", (double)(st_now_ns() - t0 - 100 * 1000) / 1e6);
    if (write(fd, out, (size_t)n) != n)
        return 1;
    for (;;)
        if (ct_launch(&l, K_LAUNCH, MS_NS) != CUDA_SUCCESS)
            return 1;
}

static void t_priority_arrives(void)
{
    CHECK(ct_parent_init() == 0);
    ct_policy = "guaranteed";
    ct_priority = "normal";
    /* Kernels of 5 ms: the longest running kernel the newcomer may wait behind. */
    pid_t a = ct_spinner("n-30", "3000", 5 * MS_NS, K_LAUNCH, 0);
    pid_t b = ct_spinner("n-60", "6000", 5 * MS_NS, K_LAUNCH, 0);
    int p[2];
    if (a <= 0 || b <= 0 || pipe(p) != 0) {
        pid_t both[2] = {a, b};
        ct_stop(both, 2);
        FAIL("a worker did not start");
    }
    ct_sleep_ns(300 * MS_NS);
    pid_t h = fork();
    if (h == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", "high-30", 1);
        setenv("GPUVISOR_COMPUTE", "3000", 1);
        setenv("GPUVISOR_COMPUTE_POLICY", "fixed", 1);
        setenv("GPUVISOR_PRIORITY", "high", 1);
        execl("/proc/self/exe", "worker", "arrive", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[32] = {0};
    ssize_t got = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    double waited = got > 0 ? atof(buf) : 1e9;
    printf("  the high-priority instance's first kernel waited %.2f ms (a slice of 10 ms plus a "
           "kernel of 5 ms: 15 ms)\n",
           waited);
    ct_sleep_ns(300 * MS_NS);
    pid_t pids[3][8] = {{h}, {a}, {b}};
    int counts[3] = {1, 1, 1};
    double pct[3];
    const double want[3] = {30.0, 70.0 / 3, 140.0 / 3};
    ct_measure_near(pids, counts, 3, 3000 * MS_NS, want, 3.0, pct);
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    ct_stop(pids[2], 1);
    ct_priority = NULL;
    /* A slice and a kernel (the holder drains what it queued, at most a slice of work, before it
     * hands over), and 10 ms for a loaded test machine. */
    CHECK(waited < 15.0 + 10.0);
    CHECK_NEAR(pct[0], 30.0, 3.0);
    CHECK_NEAR(pct[1], 70.0 / 3, 3.0);
    CHECK_NEAR(pct[2], 140.0 / 3, 3.0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    if (argc > 2 && strcmp(argv[1], "arrive") == 0)
        return worker_arrive(argv + 2);
    shim_setup("T4", "compute-policy", NULL);
    RUN(t_fixed_sync_100us);
    RUN(t_guaranteed_pair);
    RUN(t_guaranteed_beside_others);
    RUN(t_priority_arrives);
    return st_summary();
}
