/* SPDX-License-Identifier: Apache-2.0 */
/* test_size.c: every accepted and every rejected form of sizes and compute shares. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/size.h"

static uint64_t size_ok(const char *text)
{
    uint64_t v = 0;
    struct gv_error err = {0};
    int rc = gv_size_parse(text, &v, &err);
    if (rc)
        fail_msg("gv_size_parse(\"%s\") failed: %s", text, err.msg);
    return v;
}

/* Parsing fails with `code`, leaves the output alone, and the message names the input. */
static void size_bad(const char *text, int code, const char *needle)
{
    uint64_t v = 12345;
    struct gv_error err = {0};
    int rc = gv_size_parse(text, &v, &err);
    if (rc != code)
        fail_msg("gv_size_parse(\"%s\") = %d, want %d", text ? text : "(null)", rc, code);
    assert_int_equal(v, 12345);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message for \"%s\" lacks \"%s\": %s", text, needle, err.msg);
}

static void test_size_bytes(void **state)
{
    (void)state;
    assert_int_equal(size_ok("0"), 0);
    assert_int_equal(size_ok("1048576"), 1048576);
    assert_int_equal(size_ok("100B"), 100);
    assert_int_equal(size_ok("100 b"), 100);
    assert_int_equal(size_ok("18446744073709551615"), UINT64_MAX);
}

static void test_size_binary(void **state)
{
    (void)state;
    assert_int_equal(size_ok("2GiB"), 2 * GV_GiB);
    assert_int_equal(size_ok("512MiB"), 512 * GV_MiB);
    assert_int_equal(size_ok("1.5GiB"), 3 * GV_GiB / 2);
    assert_int_equal(size_ok("1 TiB"), GV_TiB);
    assert_int_equal(size_ok("4kib"), 4096);
    assert_int_equal(size_ok("0.5KiB"), 512);
    assert_int_equal(size_ok("1.25GIB"), 5 * GV_GiB / 4);
}

static void test_size_single_letters(void **state)
{
    (void)state;
    assert_int_equal(size_ok("4g"), 4 * GV_GiB);
    assert_int_equal(size_ok("4G"), 4 * GV_GiB);
    assert_int_equal(size_ok("512m"), 512 * GV_MiB);
    assert_int_equal(size_ok("512M"), 512 * GV_MiB);
    assert_int_equal(size_ok("64k"), 64 * GV_KiB);
    assert_int_equal(size_ok("2t"), 2 * GV_TiB);
}

static void test_size_decimal(void **state)
{
    (void)state;
    assert_int_equal(size_ok("16GB"), 16000000000ULL);
    assert_int_equal(size_ok("16gb"), 16000000000ULL);
    assert_int_equal(size_ok("1.5GB"), 1500000000ULL);
    assert_int_equal(size_ok("2KB"), 2000);
    assert_int_equal(size_ok("3MB"), 3000000);
    assert_int_equal(size_ok("1TB"), 1000000000000ULL);
}

static void test_size_rejects(void **state)
{
    (void)state;
    size_bad(NULL, -EINVAL, "empty");
    size_bad("", -EINVAL, "empty");
    size_bad("-1", -EINVAL, "negative");
    size_bad("-2GiB", -EINVAL, "negative");
    size_bad("GiB", -EINVAL, "not a number");
    size_bad(".5GiB", -EINVAL, "not a number");
    size_bad("2XB", -EINVAL, "unknown unit");
    size_bad("2XB", -EINVAL, "GiB");
    size_bad("2GiBs", -EINVAL, "unknown unit");
    size_bad("2GiB junk", -EINVAL, "unexpected");
    size_bad("2 GiB 3", -EINVAL, "unexpected");
    size_bad("2..5GiB", -EINVAL, "not a number");
    size_bad("2.GiB", -EINVAL, "not a number");
    size_bad("1.5", -EINVAL, "whole number of bytes");
    size_bad("0.1KiB", -EINVAL, "whole number of bytes");
    size_bad("1.0000000001GiB", -EINVAL, "decimals");
    size_bad("18446744073709551616", -ERANGE, "too large");
    size_bad("16EiB", -EINVAL, "unknown unit");
    size_bad("17179869184GiB", -ERANGE, "too large");
    size_bad("99999999999999999999999GiB", -ERANGE, "too large");
    size_bad("2  GiB", -EINVAL, NULL);
    size_bad("0x10", -EINVAL, NULL);
}

static void test_size_format(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(gv_size_format(0, buf, sizeof(buf)), "0 B");
    assert_string_equal(gv_size_format(100, buf, sizeof(buf)), "100 B");
    assert_string_equal(gv_size_format(4 * GV_GiB, buf, sizeof(buf)), "4 GiB");
    assert_string_equal(gv_size_format(3 * GV_GiB / 2, buf, sizeof(buf)), "1.5 GiB");
    assert_string_equal(gv_size_format(5 * GV_GiB / 4, buf, sizeof(buf)), "1.25 GiB");
    assert_string_equal(gv_size_format(512 * GV_MiB, buf, sizeof(buf)), "512 MiB");
    assert_string_equal(gv_size_format(1000000, buf, sizeof(buf)), "1000000 B");
    /* What is printed parses back to the same size. */
    uint64_t sizes[] = {1, 1023, 4096, 3 * GV_GiB / 2, 141 * GV_GiB, GV_TiB + GV_GiB};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(size_ok(gv_size_format(sizes[i], buf, sizeof(buf))), sizes[i]);
}

/* Found by fuzz/size.c: sizes of a PiB and more were printed in PiB or EiB, which the parser
 * refuses, so they did not parse back. They print in TiB. */
static void test_size_format_huge(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(gv_size_format(1024 * GV_TiB, buf, sizeof(buf)), "1024 TiB");
    assert_string_equal(gv_size_format(1024 * GV_TiB + 3 * GV_TiB / 4, buf, sizeof(buf)),
                        "1024.75 TiB");
    assert_string_equal(gv_size_format(0xffff000000000000ULL, buf, sizeof(buf)), "16776960 TiB");
    assert_string_equal(gv_size_format(UINT64_MAX, buf, sizeof(buf)), "18446744073709551615 B");
    uint64_t sizes[] = {1024 * GV_TiB, 1ULL << 60, 1ULL << 63, 0xffff000000000000ULL, UINT64_MAX};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        assert_int_equal(size_ok(gv_size_format(sizes[i], buf, sizeof(buf))), sizes[i]);
}

static uint32_t share_ok(const char *text)
{
    uint32_t v = 0;
    struct gv_error err = {0};
    if (gv_share_parse(text, &v, &err))
        fail_msg("gv_share_parse(\"%s\") failed: %s", text, err.msg);
    return v;
}

static void share_bad(const char *text, int code, const char *needle)
{
    uint32_t v = 777;
    struct gv_error err = {0};
    int rc = gv_share_parse(text, &v, &err);
    if (rc != code)
        fail_msg("gv_share_parse(\"%s\") = %d, want %d", text ? text : "(null)", rc, code);
    assert_int_equal(v, 777);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message for \"%s\" lacks \"%s\": %s", text, needle, err.msg);
}

static void test_share_parse(void **state)
{
    (void)state;
    assert_int_equal(share_ok("25"), 2500);
    assert_int_equal(share_ok("25%"), 2500);
    assert_int_equal(share_ok("25 %"), 2500);
    assert_int_equal(share_ok("12.5%"), 1250);
    assert_int_equal(share_ok("12.5"), 1250);
    assert_int_equal(share_ok("33.33"), 3333);
    assert_int_equal(share_ok("0.01"), 1);
    assert_int_equal(share_ok("100"), GV_SHARE_FULL);
    assert_int_equal(share_ok("100.0%"), GV_SHARE_FULL);
}

static void test_share_rejects(void **state)
{
    (void)state;
    share_bad(NULL, -EINVAL, "empty");
    share_bad("", -EINVAL, "empty");
    share_bad("0", -ERANGE, "more than 0");
    share_bad("0%", -ERANGE, "more than 0");
    share_bad("0.00", -ERANGE, "more than 0");
    share_bad("-5", -EINVAL, "more than 0");
    share_bad("100.01", -ERANGE, "at most 100");
    share_bad("101", -ERANGE, "at most 100");
    share_bad("99999999999999999999999", -ERANGE, "at most 100");
    share_bad("12.345", -EINVAL, "two decimals");
    share_bad("abc", -EINVAL, "not a percentage");
    share_bad("25%%", -EINVAL, "unexpected");
    share_bad("25x", -EINVAL, "unexpected");
    share_bad("%", -EINVAL, "not a percentage");
}

static void test_share_format(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(gv_share_format(2500, buf, sizeof(buf)), "25%");
    assert_string_equal(gv_share_format(1250, buf, sizeof(buf)), "12.5%");
    assert_string_equal(gv_share_format(3333, buf, sizeof(buf)), "33.33%");
    assert_string_equal(gv_share_format(1, buf, sizeof(buf)), "0.01%");
    assert_int_equal(share_ok(gv_share_format(1428, buf, sizeof(buf))), 1428);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_bytes),          cmocka_unit_test(test_size_binary),
        cmocka_unit_test(test_size_single_letters), cmocka_unit_test(test_size_decimal),
        cmocka_unit_test(test_size_rejects),        cmocka_unit_test(test_size_format),
        cmocka_unit_test(test_size_format_huge),    cmocka_unit_test(test_share_parse),
        cmocka_unit_test(test_share_rejects),       cmocka_unit_test(test_share_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
