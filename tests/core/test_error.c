/* SPDX-License-Identifier: Apache-2.0 */
/* test_error.c: error values: codes, formatting, context prefixes, truncation without overflow. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"

static void test_set(void **state)
{
    (void)state;
    struct gv_error err = {0};
    assert_int_equal(gv_error_set(&err, -EINVAL, "bad %s %d", "thing", 7), -EINVAL);
    assert_int_equal(err.code, -EINVAL);
    assert_string_equal(err.msg, "bad thing 7");
    assert_int_equal(gv_error_set(NULL, -ENOENT, "nobody listens"), -ENOENT);
}

static void test_prefix(void **state)
{
    (void)state;
    struct gv_error err = {0};
    gv_error_set(&err, -ERANGE, "too large");
    assert_int_equal(gv_error_prefix(&err, -EINVAL, "--memory \"%s\"", "99EiB"), -ERANGE);
    assert_string_equal(err.msg, "--memory \"99EiB\": too large");
    assert_int_equal(gv_error_prefix(NULL, -EINVAL, "x"), -EINVAL);
}

static void test_truncation(void **state)
{
    (void)state;
    struct gv_error err = {0};
    char long_text[600];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    gv_error_set(&err, -EINVAL, "%s", long_text);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    gv_error_prefix(&err, -EINVAL, "%s", long_text);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    gv_error_set(&err, -EINVAL, "tail");
    gv_error_prefix(&err, -EINVAL, "ctx");
    assert_string_equal(err.msg, "ctx: tail");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
