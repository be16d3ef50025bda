/* SPDX-License-Identifier: Apache-2.0 */
/* test_region_context.c: context memory in the instance region (gvr_charge_context).
 *
 * Context memory counts against the instance's limit like an allocation, but apart from the
 * member's allocations: an uncharge can never take it, and only leaving or dying gives it back.
 * A death with the region's mutex held makes the next reclaim reconcile the ledger with the
 * members' counters; the context memory of the living must survive that. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/size.h"
#include "region/region.h"
#include "tests/region/regiontest.h"

/* A member of a fresh instance `name` with one GPU limited to `limit` bytes. */
static void member(struct gvr_region *r, const char *name, uint64_t limit)
{
    struct gvr_device_limit lim = rt_gpu(1, limit, 0);
    struct gv_error err = {0};
    int rc = gvr_open(r, rt_dir, name, GVR_CREATE, &lim, 1, &err);
    if (rc < 0)
        fail_msg("gvr_open(%s): %s", name, err.msg);
    assert_int_equal(gvr_join(r, &err), 0);
}

static void test_counts_against_limit(void **state)
{
    (void)state;
    struct gvr_region r;
    member(&r, "ctx", GV_GiB);
    assert_int_equal(gvr_charge_context(&r, 0, 300 * GV_MiB), 0);
    assert_int_equal(gvr_used(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_available(&r, 0), GV_GiB - 300 * GV_MiB);
    assert_int_equal(gvr_member_context(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_member_used(&r, 0), 0); /* allocations only */
    /* What is left is what allocations get. */
    assert_int_equal(gvr_charge(&r, 0, 800 * GV_MiB), -ENOMEM);
    assert_int_equal(gvr_charge(&r, 0, 700 * GV_MiB), 0);
    assert_int_equal(gvr_used(&r, 0), GV_GiB - 24 * GV_MiB);
    /* A further context charge past the limit is refused and changes nothing. */
    assert_int_equal(gvr_charge_context(&r, 0, 100 * GV_MiB), -ENOMEM);
    assert_int_equal(gvr_member_context(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_used(&r, 0), GV_GiB - 24 * GV_MiB);
    /* Frees take only allocations: the context's part cannot be uncharged. */
    assert_int_equal(gvr_uncharge(&r, 0, 800 * GV_MiB), -ERANGE);
    assert_int_equal(gvr_uncharge(&r, 0, 700 * GV_MiB), 0);
    assert_int_equal(gvr_used(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_member_context(&r, 0), 300 * GV_MiB);

    struct gvr_snapshot *s = malloc(sizeof(*s));
    assert_non_null(s);
    gvr_snapshot(&r, s);
    assert_int_equal(s->nmember, 1);
    assert_int_equal(s->member[0].context[0], 300 * GV_MiB);
    assert_int_equal(s->member[0].bytes[0], 0);
    assert_int_equal(s->dev[0].used, 300 * GV_MiB);
    free(s);

    /* Leaving gives it back. */
    assert_int_equal(gvr_leave(&r), 0);
    assert_int_equal(gvr_used(&r, 0), 0);
    assert_int_equal(gvr_member_context(&r, 0), 0);
    gvr_close(&r);
}

static void test_errors(void **state)
{
    (void)state;
    struct gvr_region r;
    member(&r, "errs", 0);
    assert_int_equal(gvr_charge_context(&r, 1, 1), -EINVAL); /* the instance has one GPU */
    assert_int_equal(gvr_charge_context(&r, 0, 0), 0);
    assert_int_equal(gvr_charge_context(&r, 0, UINT64_MAX), 0); /* unlimited */
    assert_int_equal(gvr_charge_context(&r, 0, 1), -EOVERFLOW);
    assert_int_equal(gvr_leave(&r), 0);
    assert_int_equal(gvr_charge_context(&r, 0, 1), -EPERM);
    assert_int_equal(gvr_member_context(&r, 0), 0);
    assert_int_equal(gvr_used(&r, 0), 0);
    gvr_close(&r);
}

/* A dead member's context memory is reclaimed with its allocations. */
static void test_dead_member(void **state)
{
    (void)state;
    struct gvr_region r;
    member(&r, "dead", GV_GiB);
    assert_int_equal(gvr_charge_context(&r, 0, 300 * GV_MiB), 0);
    pid_t pid = rt_member_child("dead", 300 * GV_MiB, 100 * GV_MiB, false);
    assert_true(pid > 0);
    assert_int_equal(gvr_used(&r, 0), 700 * GV_MiB);
    /* Two contexts and the child's allocation leave 324 MiB. */
    assert_int_equal(gvr_charge(&r, 0, 400 * GV_MiB), -ENOMEM);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(gvr_reclaim(&r, NULL), 1);
    assert_int_equal(gvr_used(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_charge(&r, 0, 400 * GV_MiB), 0);
    assert_int_equal(gvr_member_context(&r, 0), 300 * GV_MiB);
    gvr_close(&r);
}

/* A member dies holding the region's mutex: the next reclaim reconciles the ledger with what the
 * members hold, and the survivor's context memory is part of that. */
static void test_reconcile_keeps_context(void **state)
{
    (void)state;
    struct gvr_region r;
    member(&r, "recon", GV_GiB);
    assert_int_equal(gvr_charge_context(&r, 0, 300 * GV_MiB), 0);
    assert_int_equal(gvr_charge(&r, 0, 100 * GV_MiB), 0);
    pid_t pid = rt_member_child("recon", 50 * GV_MiB, 10 * GV_MiB, true);
    assert_true(pid > 0);
    assert_int_equal(gvr_used(&r, 0), 460 * GV_MiB);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    assert_int_equal(gvr_reclaim(&r, NULL), 1);
    assert_int_equal(gvr_used(&r, 0), 400 * GV_MiB);
    assert_int_equal(gvr_member_context(&r, 0), 300 * GV_MiB);
    assert_int_equal(gvr_member_used(&r, 0), 100 * GV_MiB);
    assert_int_equal(gvr_uncharge(&r, 0, 100 * GV_MiB), 0);
    assert_int_equal(gvr_used(&r, 0), 300 * GV_MiB);
    gvr_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_against_limit, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_errors, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_dead_member, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_keeps_context, rt_setup, rt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
