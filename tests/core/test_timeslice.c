/* SPDX-License-Identifier: Apache-2.0 */
/* test_timeslice.c: time slices as text (core/timeslice.c): the forms read, each with its exact
 * value; the forms refused, with the message a user reads; the range; and the writer's text
 * reading back to the same value for every microsecond of the range. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeslice.h"

static void test_forms(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t ns;
    } ok[] = {
        {"10ms", 10000000}, {"10", 10000000},   {"1ms", 1000000},    {"30ms", 30000000},
        {"2.5ms", 2500000}, {"2.5", 2500000},   {"1500us", 1500000}, {"0.005s", 5000000},
        {"5MS", 5000000},   {"1.001ms", 1001000}, {"30000us", 30000000}, {"0.0015s", 1500000},
        {"029ms", 29000000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint64_t ns = 0;
        struct gv_error err = {0};
        int rc = gv_timeslice_parse(ok[i].text, &ns, &err);
        if (rc)
            fail_msg("%s: %s", ok[i].text, err.msg);
        assert_int_equal(ns, ok[i].ns);
    }
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *says;
    } bad[] = {
        {"", -EINVAL, "not a time"},
        {"ms", -EINVAL, "not a time"},
        {"5 ms", -EINVAL, "unit"},
        {"5min", -EINVAL, "unit"},
        {"5m", -EINVAL, "unit"},
        {"-5ms", -EINVAL, "not a time"},
        {"5.ms", -EINVAL, "not a number"},
        {"1.0001ms", -EINVAL, "microseconds"},
        {"1500.5us", -EINVAL, "microseconds"},
        {"0.5ms", -ERANGE, "1ms to 30ms"},
        {"999us", -ERANGE, "1ms to 30ms"},
        {"30.001ms", -ERANGE, "1ms to 30ms"},
        {"1s", -ERANGE, "1ms to 30ms"},
        {"99999999999999999999ms", -ERANGE, "1ms to 30ms"},
        {"0", -ERANGE, "1ms to 30ms"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t ns = 77;
        struct gv_error err = {0};
        assert_int_equal(gv_timeslice_parse(bad[i].text, &ns, &err), bad[i].rc);
        if (!strstr(err.msg, bad[i].says))
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].text, err.msg, bad[i].says);
        assert_int_equal(ns, 77); /* untouched */
    }
    uint64_t ns;
    assert_int_equal(gv_timeslice_parse(NULL, &ns, NULL), -EINVAL);
}

static void test_round_trip(void **state)
{
    (void)state;
    char buf[GV_TIMESLICE_TEXT];
    assert_string_equal(gv_timeslice_format(10000000, buf, sizeof(buf)), "10ms");
    assert_string_equal(gv_timeslice_format(2500000, buf, sizeof(buf)), "2.5ms");
    assert_string_equal(gv_timeslice_format(1001000, buf, sizeof(buf)), "1.001ms");
    for (uint64_t us = GV_TIMESLICE_MIN_NS / 1000; us <= GV_TIMESLICE_MAX_NS / 1000; us++) {
        uint64_t back = 0;
        gv_timeslice_format(us * 1000, buf, sizeof(buf));
        assert_int_equal(gv_timeslice_parse(buf, &back, NULL), 0);
        assert_int_equal(back, us * 1000);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
