/* SPDX-License-Identifier: Apache-2.0 */
/* test_budget.c: the GPU-time token bucket with a fake clock: a new bucket is full, it refills at
 * the share and no further than one period, charges may leave a debt that waiting repays, refunds
 * stop at the cap, a holder charged by its holding time gets exactly its share over a long run,
 * the last second's use, and threads charging one budget lose nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/budget.h"
#include "core/size.h"

#define MS 1000000LL
#define T0 (1000LL * 1000 * MS) /* a fake clock that starts well after boot */

static void test_new_is_full(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    assert_int_equal(gv_budget_level(&b, 2500, T0), 25 * MS); /* 100 ms x 25% */
    assert_int_equal(gv_budget_level(&b, GV_SHARE_FULL, T0), 100 * MS);
    assert_int_equal(gv_budget_wait(&b, T0), 0);
    assert_int_equal(gv_budget_total(&b), 0);
    assert_int_equal(gv_budget_recent(&b, T0), 0);
}

static void test_debt_and_refill(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    /* 25 ms available; 35 ms used: 10 ms of debt, repaid by 40 ms of waiting at 25%. */
    gv_budget_charge(&b, 2500, T0, 35 * MS);
    assert_int_equal(gv_budget_level(&b, 2500, T0), -10 * MS);
    uint64_t w = gv_budget_wait(&b, T0);
    assert_true(w >= 40 * MS && w <= 40 * MS + 1);
    assert_int_equal(gv_budget_level(&b, 2500, T0 + 40 * MS), 0);
    assert_int_equal(gv_budget_wait(&b, T0 + 40 * MS + 1), 0);
    assert_int_equal(gv_budget_level(&b, 2500, T0 + 60 * MS), 5 * MS);
    /* Refill stops at one period's worth, however long the instance stays away. */
    assert_int_equal(gv_budget_level(&b, 2500, T0 + 10000 * MS), 25 * MS);
    assert_int_equal(gv_budget_total(&b), 35 * MS);
}

static void test_refund(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    /* A slice paid in advance and given back unused leaves the bucket as it was. */
    gv_budget_charge(&b, 5000, T0, 10 * MS);
    assert_int_equal(gv_budget_level(&b, 5000, T0), 40 * MS);
    gv_budget_charge(&b, 5000, T0 + 2 * MS, -8 * MS);
    assert_int_equal(gv_budget_level(&b, 5000, T0 + 2 * MS), 49 * MS);
    assert_int_equal(gv_budget_total(&b), 2 * MS);
    /* A refund never fills the bucket past the cap. */
    gv_budget_charge(&b, 5000, T0 + 3 * MS, -100 * MS);
    assert_int_equal(gv_budget_level(&b, 5000, T0 + 3 * MS), 50 * MS);
    assert_int_equal(gv_budget_total(&b), 0);
}

/* Shares outside (0, 100%] act as 100%, never as a division by zero. */
static void test_share_edges(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    gv_budget_charge(&b, 0, T0, 30 * MS);
    assert_int_equal(gv_budget_level(&b, 0, T0), 70 * MS);
    gv_budget_charge(&b, 20000, T0, 30 * MS);
    assert_int_equal(gv_budget_level(&b, GV_SHARE_FULL, T0), 40 * MS);
    /* A tiny share still refills, slowly. */
    gv_budget_init(&b);
    gv_budget_charge(&b, 1, T0, 1 * MS);
    assert_true(gv_budget_wait(&b, T0) > 9000 * MS);
}

/* The scheduler's way of using a budget: take the GPU only while the level is positive, pay a
 * slice in advance, settle at release (a refund, or the overrun of a long kernel). Whatever the
 * kernel length, the long-run share is exact. */
static void run_holder(uint32_t share, int64_t kernel, int64_t slice)
{
    struct gv_budget b;
    gv_budget_init(&b);
    int64_t now = T0, held = 0, end = T0 + 20000 * MS;
    /* Skip the first period's saved budget: measure from the first wait on. */
    int64_t from = -1, held_from = 0;
    while (now < end) {
        uint64_t w = gv_budget_wait(&b, (uint64_t)now);
        if (w) {
            if (from < 0) {
                from = now;
                held_from = held;
            }
            now += (int64_t)w;
            continue;
        }
        int64_t paid = now + slice;
        gv_budget_charge(&b, share, (uint64_t)now, slice);
        int64_t start = now;
        do /* kernels run whole: the last one may overrun the slice */
            now += kernel;
        while (now < paid);
        gv_budget_charge(&b, share, (uint64_t)now, now - paid);
        held += now - start;
    }
    double got = (double)(held - held_from) / (double)(now - from);
    double want = share / (double)GV_SHARE_FULL;
    assert_true(got > want - 0.005 && got < want + 0.005);
    /* Everything held was charged. */
    assert_int_equal(gv_budget_total(&b), held);
}

static void test_long_run_share(void **state)
{
    (void)state;
    uint32_t shares[] = {1000, 2500, 5000, 7500};
    int64_t kernels[] = {MS / 10, MS, 10 * MS, 37 * MS};
    for (unsigned i = 0; i < 4; i++)
        for (unsigned k = 0; k < 4; k++)
            run_holder(shares[i], kernels[k], 5 * MS);
}

static void test_recent(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    for (int64_t t = 0; t < 2000; t += 10) /* 1 ms every 10 ms for 2 s: 100 ms per second */
        gv_budget_charge(&b, 5000, (uint64_t)(T0 + t * MS), MS);
    int64_t now = T0 + 1999 * MS;
    uint64_t r = gv_budget_recent(&b, (uint64_t)now);
    assert_true(r >= 90 * MS && r <= 100 * MS);
    assert_int_equal(gv_budget_total(&b), 200 * MS);
    /* A second later nothing is recent. */
    assert_int_equal(gv_budget_recent(&b, (uint64_t)(now + 1100 * MS)), 0);
    /* A refund comes off the current step, never below zero. */
    gv_budget_charge(&b, 5000, (uint64_t)(now + 2000 * MS), 3 * MS);
    gv_budget_charge(&b, 5000, (uint64_t)(now + 2000 * MS), -5 * MS);
    assert_int_equal(gv_budget_recent(&b, (uint64_t)(now + 2000 * MS)), 0);
}

static struct gv_budget shared;

static void *charger(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++)
        gv_budget_charge(&shared, 5000, (uint64_t)T0, 1000);
    return NULL;
}

/* Counted time (guaranteed, best-effort) moves the virtual time and the usage, not the bucket;
 * charged time moves all three; virtual time is device time over the share, refunds move it back,
 * and a floor raises it. */
static void test_count_and_vtime(void **state)
{
    (void)state;
    struct gv_budget b;
    gv_budget_init(&b);
    gv_budget_count(&b, 2500, T0, 50 * MS);
    assert_int_equal(gv_budget_level(&b, 2500, T0), 25 * MS); /* still full */
    assert_int_equal(gv_budget_total(&b), 50 * MS);
    assert_int_equal(gv_budget_vtime(&b, 0), 200 * MS); /* 50 ms at 25% */
    gv_budget_charge(&b, 5000, T0, 10 * MS);
    assert_int_equal(gv_budget_level(&b, 5000, T0), 40 * MS);
    assert_int_equal(gv_budget_vtime(&b, 0), 220 * MS);
    gv_budget_count(&b, 2500, T0, -25 * MS);
    assert_int_equal(gv_budget_vtime(&b, 0), 120 * MS);
    assert_int_equal(gv_budget_total(&b), 35 * MS);
    assert_int_equal(gv_budget_vtime(&b, 500 * MS), 500 * MS); /* back from idling */
    assert_int_equal(gv_budget_vtime(&b, 100 * MS), 500 * MS); /* a floor never lowers it */
}

static void test_threads_lose_nothing(void **state)
{
    (void)state;
    gv_budget_init(&shared);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, charger, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* 400 ms charged at 50% is 800 ms of wall time past the full bucket's start. */
    assert_int_equal(gv_budget_total(&shared), 400 * MS);
    assert_int_equal(gv_budget_level(&shared, 5000, (uint64_t)T0), 50 * MS - 400 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_is_full),
        cmocka_unit_test(test_debt_and_refill),
        cmocka_unit_test(test_refund),
        cmocka_unit_test(test_share_edges),
        cmocka_unit_test(test_long_run_share),
        cmocka_unit_test(test_recent),
        cmocka_unit_test(test_count_and_vtime),
        cmocka_unit_test(test_threads_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
