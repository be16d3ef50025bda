/* SPDX-License-Identifier: Apache-2.0 */
/* test_policy.c: the compute policies' and priorities' names (core/policy.c), and the turn key:
 * priority ranks before class, class before virtual time, and virtual time grows as device time
 * over the share. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/size.h"
#include "core/policy.h"

static void test_names(void **state)
{
    (void)state;
    enum gv_policy p;
    enum gv_priority q;
    struct gv_error err = {0};
    assert_int_equal(gv_policy_parse("fixed", &p, &err), 0);
    assert_int_equal(p, GV_POLICY_FIXED);
    assert_int_equal(gv_policy_parse("Guaranteed", &p, &err), 0);
    assert_int_equal(p, GV_POLICY_GUARANTEED);
    assert_int_equal(gv_policy_parse("best-effort", &p, &err), 0);
    assert_int_equal(p, GV_POLICY_BEST_EFFORT);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(gv_policy_parse(gv_policy_name((enum gv_policy)i), &p, &err), 0);
        assert_int_equal(p, i);
        assert_int_equal(gv_priority_parse(gv_priority_name((enum gv_priority)i), &q, &err), 0);
        assert_int_equal(q, i);
    }
    assert_int_equal(gv_priority_parse("HIGH", &q, &err), 0);
    assert_int_equal(q, GV_PRIORITY_HIGH);
    assert_int_equal(gv_policy_parse("besteffort", &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "\"besteffort\""));
    assert_non_null(strstr(err.msg, "fixed, guaranteed or best-effort"));
    assert_int_equal(gv_policy_parse("", &p, &err), -EINVAL);
    assert_int_equal(gv_policy_parse(NULL, &p, &err), -EINVAL);
    assert_int_equal(gv_priority_parse("urgent", &q, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "high, normal or low"));
    assert_string_equal(gv_policy_name((enum gv_policy)7), "?");
}

static void test_vtime(void **state)
{
    (void)state;
    assert_int_equal(gv_vtime_of(1000, GV_SHARE_FULL), 1000);
    assert_int_equal(gv_vtime_of(1000, 0), 1000);
    assert_int_equal(gv_vtime_of(3000, GV_SHARE_FULL * 3 / 10), 10000);
    assert_int_equal(gv_vtime_of(6000, GV_SHARE_FULL * 6 / 10), 10000);
    assert_int_equal(gv_vtime_of(1000, 1), 100000); /* floored at 1% */
    assert_int_equal(gv_vtime_of(UINT64_MAX, 100), GV_KEY_VTIME_MAX);
}

static void test_key(void **state)
{
    (void)state;
    uint64_t hi = gv_sched_key(GV_PRIORITY_HIGH, GV_POLICY_BEST_EFFORT, GV_KEY_VTIME_MAX);
    uint64_t norm = gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_GUARANTEED, 0);
    uint64_t norm_be = gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_BEST_EFFORT, 0);
    uint64_t low = gv_sched_key(GV_PRIORITY_LOW, GV_POLICY_FIXED, 0);
    assert_true(hi < norm);
    assert_true(norm < norm_be);
    assert_true(norm_be < low);
    assert_true(gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_FIXED, 5) <
                gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_GUARANTEED, 6));
    assert_int_equal(gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_FIXED, 5),
                     gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_GUARANTEED, 5));
    assert_int_equal(gv_key_priority(hi), GV_PRIORITY_HIGH);
    assert_int_equal(gv_key_priority(norm_be), GV_PRIORITY_NORMAL);
    assert_int_equal(gv_key_priority(low), GV_PRIORITY_LOW);
    assert_true(gv_sched_key(GV_PRIORITY_NORMAL, GV_POLICY_GUARANTEED, UINT64_MAX) < norm_be);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_vtime),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
