/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_members.c: the processes of one instance share one budget. Four processes of an
 * instance at 40% together get 40%, not 4 x 40%; and when the one holding the GPU is killed
 * (SIGKILL), the others take the GPU over at once and keep the instance's 40%. */
#include "computetest.h"

#include "region/sched.h"

static uint64_t total(const pid_t *pids, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += ct_busy(pids[i]);
    return sum;
}

static void t_four_members_then_kill(void)
{
    CHECK(ct_parent_init() == 0);
    pid_t pids[1][8];
    int counts[1] = {4};
    double pct[1];
    for (int i = 0; i < 4; i++)
        pids[0][i] = ct_spinner("team", "4000", MS_NS, K_LAUNCH, 0);
    for (int i = 0; i < 4; i++)
        if (pids[0][i] <= 0) {
            ct_stop(pids[0], 4);
            FAIL("a worker did not start");
        }
    ct_sleep_ns(300 * MS_NS);
    const double want[1] = {40.0};
    ct_measure_near(pids, counts, 1, 3000 * MS_NS, want, 3.0, pct);
    CHECK_NEAR(pct[0], 40.0, 3.0);

    /* Kill whichever member holds the GPU's token. */
    CUdevice dev;
    CUuuid uuid;
    struct gvr_sched s;
    CHECK(cuDeviceGet(&dev, 0) == CUDA_SUCCESS && cuDeviceGetUuid_v2(&uuid, dev) == CUDA_SUCCESS);
    CHECK(gvr_sched_open(&s, shim_dir(), (const uint8_t *)uuid.bytes, NULL) == 0);
    int victim = -1;
    uint64_t deadline = st_now_ns() + 2000 * MS_NS;
    while (victim < 0 && st_now_ns() < deadline) {
        pid_t h = gvr_sched_holder(&s);
        for (int i = 0; i < 4; i++)
            if (pids[0][i] == h)
                victim = i;
        if (victim < 0)
            ct_sleep_ns(100000);
    }
    if (victim < 0) {
        gvr_sched_close(&s);
        ct_stop(pids[0], 4);
        FAIL("no member was seen holding the token");
    }
    pid_t dead = pids[0][victim];
    kill(dead, SIGKILL);
    waitpid(dead, NULL, 0);
    uint64_t killed = st_now_ns();
    pids[0][victim] = pids[0][3];
    pids[0][3] = -1;
    /* The others go on: device time grows again, and another process holds the token. */
    uint64_t before = total(pids[0], 3);
    while (total(pids[0], 3) == before && st_now_ns() < killed + 2000 * MS_NS)
        ct_sleep_ns(1000000);
    uint64_t resumed = st_now_ns() - killed;
    pid_t holder = gvr_sched_holder(&s);
    gvr_sched_close(&s);
    printf("  the others ran again %.1f ms after the holder was killed\n", (double)resumed / 1e6);
    if (resumed > 300 * MS_NS) {
        ct_stop(pids[0], 3);
        FAIL("the others did not go on within 300 ms");
    }
    CHECK(holder != dead);
    counts[0] = 3;
    ct_measure_near(pids, counts, 1, 3000 * MS_NS, want, 3.0, pct);
    ct_stop(pids[0], 3);
    CHECK_NEAR(pct[0], 40.0, 3.0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    shim_setup("T4", "compute-members", NULL);
    RUN(t_four_members_then_kill);
    return st_summary();
}
