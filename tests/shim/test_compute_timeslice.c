/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_timeslice.c: the length of a turn on the GPU (GPUVISOR_TIMESLICE).
 *
 *   - a holder's turn is what it asked for: the token record carries its slice, and the grace a
 *     silent holder gets (twice its slice) follows, for 2 ms and for 30 ms; an unreadable value
 *     leaves the default 10 ms;
 *   - with 2 ms turns the GPU changes hands about five times as often as with the default 10 ms,
 *     and two instances at 30% and 60% still get their shares, within 3 points. */
#include "computetest.h"
#include "core/clock.h"
#include "core/timeslice.h"
#include "region/sched.h"

static int open_token(struct gvr_sched *s)
{
    CUdevice dev;
    CUuuid u;
    if (cuDeviceGet(&dev, 0) != CUDA_SUCCESS || cuDeviceGetUuid_v2(&u, dev) != CUDA_SUCCESS)
        return -1;
    return gvr_sched_open(s, NULL, (const uint8_t *)u.bytes, NULL);
}

/* The grace the token record gives its holder, once a worker holds it (0: none held in 2 s). */
static uint64_t holder_grace(struct gvr_sched *s)
{
    for (int i = 0; i < 2000; i++) {
        if (gvr_sched_holder(s) > 0)
            return gvr_sched_grace(s);
        ct_sleep_ns(MS_NS);
    }
    return 0;
}

static void turn_of(const char *value, uint64_t want_ns)
{
    setenv(GV_TIMESLICE_ENV, value, 1);
    pid_t p = ct_spinner("ts-one", "5000", MS_NS, K_LAUNCH, 0);
    unsetenv(GV_TIMESLICE_ENV);
    CHECK(p > 0);
    struct gvr_sched s;
    CHECK(open_token(&s) == 0);
    uint64_t grace = holder_grace(&s);
    ct_stop(&p, 1);
    gvr_sched_close(&s);
    printf("  GPUVISOR_TIMESLICE=%s: the holder's grace is %.1f ms (want %.1f)\n", value,
           (double)grace / 1e6, (double)(2 * want_ns) / 1e6);
    CHECK(grace == 2 * want_ns);
}

static void t_record(void)
{
    CHECK(ct_parent_init() == 0);
    turn_of("2ms", 2 * MS_NS);
    turn_of("30ms", 30 * MS_NS);
    turn_of("0.5ms", GV_TIMESLICE_DEFAULT_NS); /* out of range: said on stderr, default kept */
}

/* Hand-overs in a window: each take of the token draws a number from the record's counter, and a
 * holder word names it; count the distinct holder words seen, sampling every 200 us. */
static unsigned handovers(struct gvr_sched *s, uint64_t window)
{
    uint64_t last = 0, end = gv_now_ns() + window;
    unsigned n = 0;
    while (gv_now_ns() < end) {
        uint64_t h = gvr_sched_holder_word(s);
        if (h && h != last) {
            n++;
            last = h;
        }
        ct_sleep_ns(200 * 1000);
    }
    return n;
}

static void pair(const char *slice, double pct[2], unsigned *turns)
{
    if (slice)
        setenv(GV_TIMESLICE_ENV, slice, 1);
    pid_t pids[2][8] = {{ct_spinner("ts-30", "3000", MS_NS, K_LAUNCH, 0)},
                        {ct_spinner("ts-60", "6000", MS_NS, K_LAUNCH, 0)}};
    unsetenv(GV_TIMESLICE_ENV);
    int counts[2] = {1, 1};
    if (pids[0][0] <= 0 || pids[1][0] <= 0) {
        ct_stop(pids[0], 1);
        ct_stop(pids[1], 1);
        FAIL("a worker did not start");
    }
    struct gvr_sched s;
    CHECK(open_token(&s) == 0);
    ct_sleep_ns(300 * MS_NS);
    unsigned n = *turns = handovers(&s, 1000 * MS_NS);
    const double want[2] = {30.0, 60.0};
    ct_measure_near(pids, counts, 2, 4000 * MS_NS, want, 3.0, pct);
    ct_stop(pids[0], 1);
    ct_stop(pids[1], 1);
    gvr_sched_close(&s);
    printf("  turns of %s: %u hand-overs in 1 s; 30%% got %.2f%%, 60%% got %.2f%%\n",
           slice ? slice : "10ms (default)", n, pct[0], pct[1]);
}

static void t_short_turns(void)
{
    CHECK(ct_parent_init() == 0);
    double def[2], fast[2];
    unsigned n_def = 0, n_fast = 0;
    pair(NULL, def, &n_def);
    pair("2ms", fast, &n_fast);
    /* Five times as many turns; at least three times, for a loaded machine. */
    CHECK(n_fast >= 3 * n_def);
    CHECK_NEAR(fast[0], 30.0, 3.0);
    CHECK_NEAR(fast[1], 60.0, 3.0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    shim_setup("T4", "compute-timeslice", NULL);
    RUN(t_record);
    RUN(t_short_turns);
    return st_summary();
}
