/* SPDX-License-Identifier: Apache-2.0 */
/* test_ring.c: the ring of timestamped records (core/ring.c): order oldest first, the oldest
 * overwritten once full (several times round), times that do not grow refused, and the
 * position of "after time T" at every T around and inside what the ring holds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ring.h"

struct rec {
    uint64_t v;
    uint32_t w;
};

static void test_empty(void **state)
{
    (void)state;
    struct gv_ring r;
    assert_int_equal(gv_ring_init(&r, 0, sizeof(struct rec)), -EINVAL);
    assert_int_equal(gv_ring_init(&r, 4, 0), -EINVAL);
    assert_int_equal(gv_ring_init(&r, 4, sizeof(struct rec)), 0);
    assert_int_equal(r.n, 0);
    assert_int_equal(gv_ring_since(&r, 0), 0);
    assert_int_equal(gv_ring_since(&r, INT64_MIN), 0);
    gv_ring_free(&r);
    gv_ring_free(&r); /* twice is harmless */
    struct rec x = {1, 1};
    assert_int_equal(gv_ring_push(&r, 1, &x), -EINVAL); /* freed: keeps nothing */
}

/* Push times 10, 20, ... (n of them) into a ring of cap; check what it holds. */
static void fill_and_check(size_t cap, size_t n)
{
    struct gv_ring r;
    assert_int_equal(gv_ring_init(&r, cap, sizeof(struct rec)), 0);
    for (size_t i = 1; i <= n; i++) {
        struct rec x = {i * 100, (uint32_t)i};
        assert_int_equal(gv_ring_push(&r, (int64_t)i * 10, &x), 0);
    }
    size_t held = n < cap ? n : cap, first = n - held + 1; /* the oldest one kept */
    assert_int_equal(r.n, held);
    for (size_t i = 0; i < held; i++) {
        int64_t t;
        const struct rec *x = gv_ring_at(&r, i, &t);
        assert_int_equal(t, (int64_t)(first + i) * 10);
        assert_int_equal(x->v, (first + i) * 100);
        assert_int_equal(x->w, first + i);
    }
    /* since: every time from before the oldest to after the newest. */
    for (int64_t s = (int64_t)first * 10 - 15; s <= (int64_t)n * 10 + 15; s++) {
        /* the records at or before s: those from first to s / 10 */
        size_t want = s < (int64_t)first * 10 ? 0 : (size_t)(s / 10) - first + 1;
        if (want > held)
            want = held;
        assert_int_equal(gv_ring_since(&r, s), want);
    }
    /* A time that does not grow is refused and changes nothing. */
    if (n) {
        struct rec x = {7, 7};
        assert_int_equal(gv_ring_push(&r, (int64_t)n * 10, &x), -EINVAL);
        assert_int_equal(gv_ring_push(&r, 0, &x), -EINVAL);
        assert_int_equal(r.n, held);
        int64_t t;
        const struct rec *y = gv_ring_at(&r, held - 1, &t);
        assert_int_equal(t, (int64_t)n * 10);
        assert_int_equal(y->v, n * 100);
    }
    gv_ring_free(&r);
}

static void test_wraparound(void **state)
{
    (void)state;
    for (size_t cap = 1; cap <= 9; cap++)
        for (size_t n = 0; n <= 4 * cap + 3; n++)
            fill_and_check(cap, n);
}

/* An hour at one a second, as the daemon keeps it, and a quarter of an hour more. */
static void test_hour(void **state)
{
    (void)state;
    fill_and_check(3600, 3600);
    fill_and_check(3600, 3600 + 900);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_wraparound),
        cmocka_unit_test(test_hour),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
