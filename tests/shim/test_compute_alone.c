/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_alone.c: an instance alone on a GPU is held to its share all the same (a fixed
 * share, not a share of the contention): one process spinning 1 ms kernels back to back under a
 * 25% compute limit gets 25% of the device time, within 2 points, over 5 s. */
#include "computetest.h"

static void t_alone_25(void)
{
    CHECK(ct_parent_init() == 0);
    pid_t pids[1][8] = {{ct_spinner("alone", "2500", MS_NS, K_LAUNCH, 0)}};
    int counts[1] = {1};
    double pct[1];
    CHECK(pids[0][0] > 0);
    ct_sleep_ns(200 * MS_NS); /* past the first period's saved budget */
    const double want[1] = {25.0};
    ct_measure_near(pids, counts, 1, 5000 * MS_NS, want, 2.0, pct);
    ct_stop(pids[0], 1);
    CHECK_NEAR(pct[0], 25.0, 2.0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    shim_setup("T4", "compute-alone", NULL);
    RUN(t_alone_25);
    return st_summary();
}
