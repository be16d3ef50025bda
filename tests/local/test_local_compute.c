/* SPDX-License-Identifier: Apache-2.0 */
/* test_local_compute.c: GPU-time shares when the token is gpuvisord's (the stand-in of testd.h).
 *
 * Two instances at 30% and 60% on one GPU get 30% and 60% of its time, each within 3 points, as
 * with the token of one user (tests/shim/test_compute_pair.c, whose harness this is), with short,
 * middling and long kernels; the time their launches waited is counted in their regions. A resize
 * of an instance's share holds within a second in its running process. The daemon killed with
 * SIGKILL while an instance computes: its launches stop (nobody grants turns), and resume within a
 * second of a new daemon's start. An instance made without a share runs unlimited until a resize
 * gives it one, which then holds in its running process. The daemon's time slice for the GPU bounds
 * the turns of a process that asks for longer ones. Guaranteed instances at 30% and 60% get a third
 * and two thirds of the busy GPU, with or without a synchronize after each kernel; a member of an
 * instance without a share takes turns as best-effort. Device time is the simulator's own count, as
 * in tests/shim. */
#include <math.h>

#include "computetest.h"
#include "testd.h"
#include "region/sched.h"

#define ID_30 "e3e3e3e3e3e3"
#define ID_60 "e6e6e6e6e6e6"
#define ID_RS "e5e5e5e5e5e5"
#define ID_RE "e1e1e1e1e1e1"
#define ID_ZE "e0e0e0e0e0e0"
#define I_RS  2 /* td index of ID_RS */
#define I_ZE  4 /* td index of ID_ZE */

static struct td t;

static uint64_t waited(const char *id)
{
    struct gvr_region r;
    static struct gvr_snapshot s;
    if (gvr_open(&r, t.instances, id, GVR_READONLY, NULL, 0, NULL) < 0)
        return 0;
    gvr_snapshot(&r, &s);
    gvr_close(&r);
    return s.ndev ? s.dev[0].waited_total_ns : 0;
}

static void pair(uint64_t kernel_ns, long sync_every)
{
    uint64_t w30 = waited(ID_30), w60 = waited(ID_60);
    pid_t pids[2][8] = {{ct_spinner(ID_30, "", kernel_ns, K_LAUNCH, sync_every)},
                        {ct_spinner(ID_60, "", kernel_ns, K_LAUNCH, sync_every)}};
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
    printf("  through the daemon, kernels of %llu us, a sync every %ld launches:\n",
           (unsigned long long)(kernel_ns / 1000), sync_every);
    CHECK_NEAR(pct[0], 30.0, 3.0);
    CHECK_NEAR(pct[1], 60.0, 3.0);
    CHECK(waited(ID_30) > w30);
    CHECK(waited(ID_60) > w60);
}

static void t_pair_100us(void)
{
    pair(100 * 1000, 0);
}

static void t_pair_1ms(void)
{
    pair(MS_NS, 0);
}

static void t_pair_10ms(void)
{
    pair(10 * MS_NS, 0);
}

static void t_pair_1ms_sync(void)
{
    pair(MS_NS, 10);
}

/* The same two as guaranteed instances through the daemon: a third and two thirds of the busy GPU,
 * which is busy; with a synchronize after each kernel too (the daemon's idle turns). With a
 * synchronize after each 1 ms kernel the split drifts with the machine (the 30% instance got
 * 32.9-42.3% of the busy GPU over eight runs on the 2-core machine): there the margin is what
 * holds, and the 60% instance must still get clearly more. */
#define GUARANTEED_MARGIN      3.0
#define GUARANTEED_MARGIN_SYNC 10.0
static void guaranteed_pair(long sync_every)
{
    CHECK(td_set_policy(&t, 0, GV_POLICY_GUARANTEED, GV_PRIORITY_NORMAL) == 0);
    CHECK(td_set_policy(&t, 1, GV_POLICY_GUARANTEED, GV_PRIORITY_NORMAL) == 0);
    pid_t pids[2][8] = {{ct_spinner(ID_30, "", MS_NS, K_LAUNCH, sync_every)},
                        {ct_spinner(ID_60, "", MS_NS, K_LAUNCH, sync_every)}};
    int counts[2] = {1, 1};
    double pct[2], frac = 0, busy = 0;
    double margin = sync_every ? GUARANTEED_MARGIN_SYNC : GUARANTEED_MARGIN;
    if (pids[0][0] > 0 && pids[1][0] > 0) {
        ct_sleep_ns(300 * MS_NS);
        for (int attempt = 0; attempt < 2; attempt++) {
            ct_measure(pids, counts, 2, 3000 * MS_NS, pct);
            busy = pct[0] + pct[1];
            frac = 100.0 * pct[0] / busy;
            if (fabs(frac - 100.0 / 3) <= margin)
                break;
        }
    }
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    td_set_policy(&t, 0, GV_POLICY_FIXED, GV_PRIORITY_NORMAL);
    td_set_policy(&t, 1, GV_POLICY_FIXED, GV_PRIORITY_NORMAL);
    printf("  guaranteed 30 and 60 through the daemon, a sync every %ld launches: %.2f%% and "
           "%.2f%% of the busy GPU (%.2f%% busy)\n",
           sync_every, frac, 100.0 - frac, busy);
    CHECK(pids[0][0] > 0 && pids[1][0] > 0);
    CHECK(fabs(frac - 100.0 / 3) <= margin);
    CHECK(busy >= (sync_every ? 25.0 : 90.0) - ct_starved_pct);
}

static void t_guaranteed_pair(void)
{
    guaranteed_pair(0);
}

static void t_guaranteed_pair_sync(void)
{
    guaranteed_pair(1);
}

/* A member of an instance without a share takes turns as best-effort through the daemon: beside a
 * busy guaranteed instance it gets next to nothing, and the guaranteed one nearly all. */
static void t_member_without_share(void)
{
    CHECK(td_set_policy(&t, 0, GV_POLICY_GUARANTEED, GV_PRIORITY_NORMAL) == 0);
    /* The member first: beside the busy guaranteed one it may rightly never get the GPU, and a
     * worker says it runs only after its first kernel. */
    pid_t ze = ct_spinner(ID_ZE, "", MS_NS, K_LAUNCH, 0);
    pid_t pids[2][8] = {{ct_spinner(ID_30, "", MS_NS, K_LAUNCH, 0)}, {ze}};
    int counts[2] = {1, 1};
    double pct[2] = {0, 0};
    const double want[2] = {97.0, 3.0};
    if (pids[0][0] > 0 && pids[1][0] > 0) {
        ct_sleep_ns(500 * MS_NS); /* the member looks for the token within 100 ms */
        ct_measure_near(pids, counts, 2, 2000 * MS_NS, want, 7.0, pct);
    }
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    td_set_policy(&t, 0, GV_POLICY_FIXED, GV_PRIORITY_NORMAL);
    printf("  guaranteed 30 beside a member without a share: %.2f%% and %.2f%%\n", pct[0], pct[1]);
    CHECK(pids[0][0] > 0 && pids[1][0] > 0);
    CHECK(pct[0] >= 90.0 - ct_starved_pct);
    CHECK(pct[1] <= 10.0);
}

/* One instance alone at 30%, then resized to 60%: its process follows within a second. */
static void t_resize_share(void)
{
    pid_t pids[1][8] = {{ct_spinner(ID_RS, "", MS_NS, K_LAUNCH, 0)}};
    int counts[1] = {1};
    double before, after;
    if (pids[0][0] <= 0)
        FAIL("the worker did not start");
    ct_sleep_ns(300 * MS_NS);
    const double w30[1] = {30.0}, w60[1] = {60.0};
    ct_measure_near(pids, counts, 1, 2000 * MS_NS, w30, 3.0, &before);
    CHECK(td_resize(&t, I_RS, GiB, 6000) == 0);
    ct_sleep_ns(1000 * MS_NS);
    ct_measure_near(pids, counts, 1, 2000 * MS_NS, w60, 3.0, &after);
    ct_stop(pids[0], 1);
    td_resize(&t, I_RS, GiB, 3000);
    CHECK_NEAR(before, 30.0, 3.0);
    CHECK_NEAR(after, 60.0, 3.0);
}

/* No share, then one: the running process is held to it from then on. It synchronizes every 10
 * kernels: unlimited, a program that never waits can queue seconds of work ahead of the GPU, which
 * runs (and is paid for, as debt) after the resize, and would hide it from a short window. */
static void t_share_later(void)
{
    pid_t pids[1][8] = {{ct_spinner(ID_ZE, "", MS_NS, K_LAUNCH, 10)}};
    int counts[1] = {1};
    double before, after;
    if (pids[0][0] <= 0)
        FAIL("the worker did not start");
    ct_sleep_ns(300 * MS_NS);
    const double w100[1] = {100.0}, w30[1] = {30.0};
    ct_measure_near(pids, counts, 1, 1000 * MS_NS, w100, 5.0, &before);
    CHECK(td_resize(&t, I_ZE, GiB, 3000) == 0);
    ct_sleep_ns(1000 * MS_NS);
    ct_measure_near(pids, counts, 1, 2000 * MS_NS, w30, 3.0, &after);
    ct_stop(pids[0], 1);
    td_resize(&t, I_ZE, GiB, 0);
    printf("  made without a share: %.1f%% of the GPU; after a resize to 30%%: %.1f%%\n", before,
           after);
    CHECK(before > 80.0);
    CHECK_NEAR(after, 30.0, 3.0);
}

/* kill -9 of the daemon under load, then a new one: launches wait while none runs (at most the
 * turn in flight finishes), and run again within a second of the restart. */
static void t_restart(void)
{
    pid_t pid = ct_spinner(ID_RE, "", MS_NS, K_LAUNCH, 0);
    if (pid <= 0)
        FAIL("the worker did not start");
    ct_sleep_ns(300 * MS_NS);
    uint64_t b0 = ct_busy(pid);
    ct_sleep_ns(200 * MS_NS);
    uint64_t ran = ct_busy(pid) - b0;
    td_kill(&t);
    ct_sleep_ns(100 * MS_NS); /* the turn in flight ends */
    uint64_t b1 = ct_busy(pid);
    ct_sleep_ns(300 * MS_NS);
    uint64_t idle = ct_busy(pid) - b1;
    int started = td_start(&t);
    uint64_t t0 = st_now_ns(), b2 = ct_busy(pid), back = UINT64_MAX;
    while (started == 0 && st_now_ns() - t0 < 3000000000ULL) {
        if (ct_busy(pid) > b2 + 5 * MS_NS) {
            back = st_now_ns() - t0;
            break;
        }
        ct_sleep_ns(MS_NS);
    }
    ct_stop(&pid, 1);
    printf("  before the kill: %.0f ms of device time in 200 ms; with no daemon: %.1f ms in 300 "
           "ms;\n  after the restart, 5 ms of device time within %.0f ms\n",
           (double)ran / 1e6, (double)idle / 1e6, back == UINT64_MAX ? -1.0 : (double)back / 1e6);
    CHECK(started == 0);
    CHECK(ran > 50 * MS_NS);
    CHECK(idle < 20 * MS_NS);
    CHECK(back <= 1000 * MS_NS);
}

/* The daemon sets the GPU's slice to 2 ms; a worker asking for the default 10 ms holds turns of
 * 2 ms: the record it was granted says so (its grace is twice it), and it still computes. */
static uint8_t gpu_uuid[16];

static void t_daemon_slice(void)
{
    memcpy(t.sh->timeslice_uuid, gpu_uuid, sizeof(gpu_uuid));
    atomic_store(&t.sh->timeslice_ns, 2 * MS_NS);
    ct_sleep_ns(20 * MS_NS); /* the server applies it within 2 ms */
    pid_t pid = ct_spinner(ID_RE, "", MS_NS, K_LAUNCH, 0);
    if (pid <= 0)
        FAIL("the worker did not start");
    struct gvr_sched s;
    struct gv_error err = {0};
    int rc = gvr_sched_open_daemon(&s, t.sock, ID_RE, gpu_uuid, &err);
    uint64_t grace = 0;
    for (int i = 0; rc == 0 && i < 2000 && grace != 4 * MS_NS; i++) {
        if (gvr_sched_holder(&s) == pid)
            grace = gvr_sched_grace(&s);
        ct_sleep_ns(MS_NS);
    }
    uint64_t b0 = ct_busy(pid);
    ct_sleep_ns(300 * MS_NS);
    uint64_t ran = ct_busy(pid) - b0;
    ct_stop(&pid, 1);
    if (rc == 0)
        gvr_sched_close(&s);
    atomic_store(&t.sh->timeslice_ns, 10 * MS_NS);
    printf("  the GPU's slice set to 2 ms: the worker's turns have a grace of %.1f ms; it ran %.0f "
           "ms of device time in 300 ms\n",
           (double)grace / 1e6, (double)ran / 1e6);
    CHECK(rc == 0);
    CHECK(grace == 4 * MS_NS);
    CHECK(ran > 50 * MS_NS);
}

static void cleanup(void)
{
    td_fini(&t);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    shim_setup("T4", "local-compute", NULL);
    CUuuid u;
    CUdevice d;
    if (ct_parent_init() < 0 || cuDeviceGet(&d, 0) || cuDeviceGetUuid_v2(&u, d)) {
        fprintf(stderr, "no simulated GPU\n");
        return 1;
    }
    const uint8_t *uuid = (const uint8_t *)u.bytes;
    memcpy(gpu_uuid, uuid, sizeof(gpu_uuid));
    if (td_init(&t) < 0 || td_add(&t, ID_30, "", getuid(), uuid, GiB, 3000) < 0 ||
        td_add(&t, ID_60, "", getuid(), uuid, GiB, 6000) < 0 ||
        td_add(&t, ID_RS, "", getuid(), uuid, GiB, 3000) != I_RS ||
        td_add(&t, ID_RE, "", getuid(), uuid, GiB, 5000) < 0 ||
        td_add(&t, ID_ZE, "", getuid(), uuid, GiB, 0) != I_ZE || td_start(&t) < 0) {
        fprintf(stderr, "cannot start the stand-in daemon\n");
        td_fini(&t);
        return 1;
    }
    atexit(cleanup);
    /* This process's interposer has read its configuration: the workers are the daemon's. */
    setenv("GPUVISOR_DAEMON", t.sock, 1);
    RUN(t_pair_100us);
    RUN(t_pair_1ms);
    RUN(t_pair_10ms);
    RUN(t_pair_1ms_sync);
    RUN(t_guaranteed_pair);
    RUN(t_guaranteed_pair_sync);
    RUN(t_member_without_share);
    RUN(t_resize_share);
    RUN(t_share_later);
    RUN(t_restart);
    RUN(t_daemon_slice);
    return st_summary();
}
