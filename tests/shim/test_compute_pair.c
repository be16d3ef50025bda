/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_pair.c: two instances at 30% and 60% on one GPU at once get 30% and 60% of its
 * time, each within 3 points, whether their kernels are short (100 us), middling (1 ms) or long
 * (10 ms, longer than a turn on the GPU), and whether or not they synchronize as they go. The
 * device time is the simulator's own count, so neither instance is charged for waiting behind the
 * other. Windows are 4 s: an instance may enter a window with up to one period of saved budget
 * (100 ms x its share) and leave it with none, which is 60 ms, 1.5 points, of a 4 s window. */
#include "computetest.h"

static void pair(uint64_t kernel_ns, long sync_every)
{
    pid_t pids[2][8] = {{ct_spinner("pair-30", "3000", kernel_ns, K_LAUNCH, sync_every)},
                        {ct_spinner("pair-60", "6000", kernel_ns, K_LAUNCH, sync_every)}};
    int counts[2] = {1, 1};
    double pct[2];
    if (pids[0][0] <= 0 || pids[1][0] <= 0) {
        ct_stop(pids[0], 1);
        ct_stop(pids[1], 1);
        FAIL("a worker did not start");
    }
    ct_sleep_ns(300 * MS_NS);
    const double want[2] = {30.0, 60.0};
    ct_measure_near(pids, counts, 2, 4000 * MS_NS, want, 3.0, pct);
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    printf("  kernels of %llu us, a sync every %ld launches:\n",
           (unsigned long long)(kernel_ns / 1000), sync_every);
    CHECK_NEAR(pct[0], 30.0, 3.0);
    CHECK_NEAR(pct[1], 60.0, 3.0);
}

static void t_pair_100us(void)
{
    CHECK(ct_parent_init() == 0);
    pair(100 * 1000, 0);
}

static void t_pair_1ms(void)
{
    CHECK(ct_parent_init() == 0);
    pair(MS_NS, 0);
}

static void t_pair_10ms(void)
{
    CHECK(ct_parent_init() == 0);
    pair(10 * MS_NS, 0);
}

/* A program that waits for each kernel gives the GPU up at its syncs; the shares hold. */
static void t_pair_1ms_sync(void)
{
    CHECK(ct_parent_init() == 0);
    pair(MS_NS, 10);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    shim_setup("T4", "compute-pair", NULL);
    RUN(t_pair_100us);
    RUN(t_pair_1ms);
    RUN(t_pair_10ms);
    RUN(t_pair_1ms_sync);
    return st_summary();
}
