/* SPDX-License-Identifier: Apache-2.0 */
/* test_ledger.c: the memory ledger's arithmetic, its edges (overflow, release of more than
 * reserved, devices out of range, a limit lowered under use), and a race of threads that must never
 * together pass the limit while a watcher samples `used`. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "core/ledger.h"

static void test_reserve_release(void **state)
{
    (void)state;
    struct gv_ledger l;
    gv_ledger_init(&l);
    assert_int_equal(gv_ledger_set_limit(&l, 0, 1000), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 600), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 400), 0); /* exactly at the limit is allowed */
    assert_int_equal(gv_ledger_used(&l, 0), 1000);
    assert_int_equal(gv_ledger_available(&l, 0), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 1), -ENOMEM);
    assert_int_equal(gv_ledger_used(&l, 0), 1000); /* a refused reserve changes nothing */
    assert_int_equal(gv_ledger_release(&l, 0, 600), 0);
    assert_int_equal(gv_ledger_available(&l, 0), 600);
    assert_int_equal(gv_ledger_reserve(&l, 0, 0), 0);
    assert_int_equal(gv_ledger_release(&l, 0, 0), 0);
    assert_int_equal(gv_ledger_release(&l, 0, 400), 0);
    assert_int_equal(gv_ledger_used(&l, 0), 0);
    /* Devices are independent. */
    assert_int_equal(gv_ledger_reserve(&l, 1, 5000), 0); /* device 1 is unlimited */
    assert_int_equal(gv_ledger_used(&l, 1), 5000);
    assert_int_equal(gv_ledger_used(&l, 0), 0);
}

static void test_unlimited_and_overflow(void **state)
{
    (void)state;
    struct gv_ledger l;
    gv_ledger_init(&l);
    assert_int_equal(gv_ledger_limit(&l, 3), 0);
    assert_int_equal(gv_ledger_reserve(&l, 3, UINT64_MAX - 10), 0);
    assert_int_equal(gv_ledger_available(&l, 3), 10);
    assert_int_equal(gv_ledger_reserve(&l, 3, 11), -EOVERFLOW);
    assert_int_equal(gv_ledger_reserve(&l, 3, 10), 0);
    assert_int_equal(gv_ledger_used(&l, 3), UINT64_MAX);
    assert_int_equal(gv_ledger_reserve(&l, 3, 1), -EOVERFLOW);
    /* With a limit, a sum that would wrap is refused as overflow, not wrapped under the limit. */
    assert_int_equal(gv_ledger_set_limit(&l, 4, UINT64_MAX), 0);
    assert_int_equal(gv_ledger_reserve(&l, 4, 2), 0);
    assert_int_equal(gv_ledger_reserve(&l, 4, UINT64_MAX), -EOVERFLOW);
    assert_int_equal(gv_ledger_used(&l, 4), 2);
}

static void test_release_more_than_used(void **state)
{
    (void)state;
    struct gv_ledger l;
    gv_ledger_init(&l);
    assert_int_equal(gv_ledger_reserve(&l, 0, 100), 0);
    assert_int_equal(gv_ledger_release(&l, 0, 101), -ERANGE);
    assert_int_equal(gv_ledger_used(&l, 0), 100);
    assert_int_equal(gv_ledger_release(&l, 0, 100), 0);
    assert_int_equal(gv_ledger_release(&l, 0, 1), -ERANGE);
    assert_int_equal(gv_ledger_used(&l, 0), 0);
}

static void test_bad_device(void **state)
{
    (void)state;
    struct gv_ledger l;
    gv_ledger_init(&l);
    assert_int_equal(gv_ledger_set_limit(&l, GV_LEDGER_DEVICES, 1), -EINVAL);
    assert_int_equal(gv_ledger_reserve(&l, GV_LEDGER_DEVICES, 1), -EINVAL);
    assert_int_equal(gv_ledger_release(&l, GV_LEDGER_DEVICES, 1), -EINVAL);
    assert_int_equal(gv_ledger_used(&l, GV_LEDGER_DEVICES), 0);
    assert_int_equal(gv_ledger_limit(&l, GV_LEDGER_DEVICES), 0);
    assert_int_equal(gv_ledger_available(&l, GV_LEDGER_DEVICES), 0);
    assert_int_equal(gv_ledger_reserve(&l, GV_LEDGER_DEVICES - 1, 1), 0);
}

static void test_limit_lowered_under_use(void **state)
{
    (void)state;
    struct gv_ledger l;
    gv_ledger_init(&l);
    assert_int_equal(gv_ledger_set_limit(&l, 0, 1000), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 800), 0);
    assert_int_equal(gv_ledger_set_limit(&l, 0, 500), 0);
    assert_int_equal(gv_ledger_used(&l, 0), 800); /* kept */
    assert_int_equal(gv_ledger_available(&l, 0), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 1), -ENOMEM);
    assert_int_equal(gv_ledger_release(&l, 0, 400), 0);
    assert_int_equal(gv_ledger_reserve(&l, 0, 100), 0); /* 500: at the new limit */
    assert_int_equal(gv_ledger_reserve(&l, 0, 1), -ENOMEM);
    assert_int_equal(gv_ledger_set_limit(&l, 0, 0), 0); /* unlimited again */
    assert_int_equal(gv_ledger_reserve(&l, 0, 1000000), 0);
}

/* The race: THREADS reservers each hold up to HOLD reservations of random sizes and release them in
 * turn; a watcher samples `used` as fast as it can. The limit is small against the demand, so most
 * reserves fail and the CAS loop is contended. */
#define THREADS 8
#define HOLD    16
#define LIMIT   10000u
#define ROUNDS  200000

struct race {
    struct gv_ledger l;
    atomic_int stop;
    atomic_uint_fast64_t granted, refused, samples, worst;
};

static void *reserver(void *arg)
{
    struct race *r = arg;
    uint64_t held[HOLD] = {0};
    unsigned seed = (unsigned)(uintptr_t)&held;
    for (int i = 0; i < ROUNDS; i++) {
        unsigned k = (unsigned)i % HOLD;
        if (held[k]) {
            assert_int_equal(gv_ledger_release(&r->l, 0, held[k]), 0);
            held[k] = 0;
        }
        seed = seed * 1103515245u + 12345u;
        uint64_t want = 1 + (seed >> 16) % 900;
        int rc = gv_ledger_reserve(&r->l, 0, want);
        if (rc == 0) {
            held[k] = want;
            atomic_fetch_add(&r->granted, 1);
        } else {
            assert_int_equal(rc, -ENOMEM);
            atomic_fetch_add(&r->refused, 1);
        }
    }
    for (unsigned k = 0; k < HOLD; k++)
        if (held[k])
            assert_int_equal(gv_ledger_release(&r->l, 0, held[k]), 0);
    return NULL;
}

static void *watcher(void *arg)
{
    struct race *r = arg;
    while (!atomic_load(&r->stop)) {
        uint64_t u = gv_ledger_used(&r->l, 0);
        if (u > atomic_load(&r->worst))
            atomic_store(&r->worst, u);
        atomic_fetch_add(&r->samples, 1);
    }
    return NULL;
}

static void test_race_never_passes_limit(void **state)
{
    (void)state;
    static struct race r;
    gv_ledger_init(&r.l);
    gv_ledger_set_limit(&r.l, 0, LIMIT);
    pthread_t w, t[THREADS];
    assert_int_equal(pthread_create(&w, NULL, watcher, &r), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reserver, &r), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&r.stop, 1);
    pthread_join(w, NULL);
    print_message("ledger race: %d threads, %llu granted, %llu refused, %llu samples, "
                  "highest used %llu of limit %u\n",
                  THREADS, (unsigned long long)r.granted, (unsigned long long)r.refused,
                  (unsigned long long)r.samples, (unsigned long long)r.worst, LIMIT);
    assert_true(r.worst <= LIMIT);
    assert_true(r.refused > 0); /* the limit was really contended */
    assert_int_equal(gv_ledger_used(&r.l, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_release),
        cmocka_unit_test(test_unlimited_and_overflow),
        cmocka_unit_test(test_release_more_than_used),
        cmocka_unit_test(test_bad_device),
        cmocka_unit_test(test_limit_lowered_under_use),
        cmocka_unit_test(test_race_never_passes_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
