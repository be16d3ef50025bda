/* SPDX-License-Identifier: Apache-2.0 */
/* test_uuid.c: GPU UUIDs as text (core/uuid.c): every form the reader takes, each with the same 16
 * bytes; every form it refuses, with the message a user then reads; the length it is given being
 * all it reads; and the writer's text reading back. The forms are those the CLI, the interposer and
 * the region each took before they shared this reader. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/uuid.h"

#define HELP "(write as nvidia-smi -L prints it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"

static const uint8_t want[GV_UUID_LEN] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                          0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0};

static int parse(const char *text, unsigned flags, uint8_t out[GV_UUID_LEN], struct gv_error *err)
{
    return gv_uuid_parse(text, strlen(text), flags, out, err);
}

static void test_forms(void **state)
{
    (void)state;
    static const char *const forms[] = {
        "GPU-12345678-9abc-def0-1234-56789abcdef0", /* NVML, nvidia-smi */
        "GPU-12345678-9ABC-DEF0-1234-56789ABCDEF0", /* digits in capitals */
        "gpu-12345678-9abc-def0-1234-56789abcdef0", /* the prefix in any case */
        "gPu-12345678-9abc-DEF0-1234-56789abcdef0",
        "MIG-12345678-9abc-def0-1234-56789abcdef0", /* a MIG instance (R470 and later) */
        "mig-12345678-9abc-def0-1234-56789abcdef0",
        "12345678-9abc-def0-1234-56789abcdef0",        /* no prefix */
        "GPU-123456789abcdef0123456789abcdef0",        /* no dashes */
        "123456789abcdef0123456789abcdef0",            /* neither */
        "GPU-123456789abc-def0-1234-56789abcdef0",     /* a dash left out */
        "GPU-1234-5678-9abc-def0-1234-5678-9abc-def0", /* dashes anywhere */
        "-12345678-9abc-def0-1234-56789abcdef0-",
        "GPU--12345678-9abc-def0-1234-56789abcdef0",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        uint8_t u[GV_UUID_LEN];
        struct gv_error err = {0};
        if (parse(forms[i], 0, u, &err) != 0)
            fail_msg("\"%s\" refused: %s", forms[i], err.msg);
        assert_memory_equal(u, want, GV_UUID_LEN);
    }
}

/* GV_UUID_PREFIXED: the CLI's options, where a UUID is told from a GPU index by its prefix. */
static void test_prefixed(void **state)
{
    (void)state;
    uint8_t u[GV_UUID_LEN];
    struct gv_error err = {0};
    assert_int_equal(parse("GPU-12345678-9abc-def0-1234-56789abcdef0", GV_UUID_PREFIXED, u, &err),
                     0);
    assert_int_equal(parse("mig-123456789abcdef0123456789abcdef0", GV_UUID_PREFIXED, u, &err), 0);
    assert_memory_equal(u, want, GV_UUID_LEN);
    assert_int_equal(parse("12345678-9abc-def0-1234-56789abcdef0", GV_UUID_PREFIXED, u, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "GPU UUID \"12345678-9abc-def0-1234-56789abcdef0\": does not "
                                 "start with GPU- or MIG- " HELP);
    assert_int_equal(parse("GPU", GV_UUID_PREFIXED, u, &err), -EINVAL);
    assert_int_equal(parse("", GV_UUID_PREFIXED, u, &err), -EINVAL);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "too few hex digits (a UUID has 32)"},
        {"GPU-", "too few hex digits (a UUID has 32)"},
        {"GPU-12345678-9abc-def0-1234-56789abcdef", "too few hex digits (a UUID has 32)"},
        {"GPU-12345678-9abc-def0-1234-56789abcdef00", "too many hex digits (a UUID has 32)"},
        {"GPU-1234567g-9abc-def0-1234-56789abcdef0", "'g' is not a hex digit"},
        {"GPU-GPU-123456789abcdef0123456789abcdef0", "'G' is not a hex digit"},
        {"MIG-GPU-12345678-9abc-def0-1234-56789abcdef0/1/0", "'G' is not a hex digit"},
        {"GPU 12345678-9abc-def0-1234-56789abcdef0", "'G' is not a hex digit"},
        {"GPU-12345678-9abc-def0-1234-56789abcdef0 ", "' ' is not a hex digit"},
        {"GPU-12345678-9abc-def0-1234-56789abcdef0\n", "character 0x0a is not a hex digit"},
        {"{12345678-9abc-def0-1234-56789abcdef0}", "'{' is not a hex digit"},
        {"0x123456789abcdef0123456789abcdef0", "'x' is not a hex digit"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t u[GV_UUID_LEN];
        memset(u, 0xa5, sizeof(u));
        struct gv_error err = {0};
        char msg[256];
        snprintf(msg, sizeof(msg), "GPU UUID \"%s\": %s " HELP, bad[i].text, bad[i].why);
        assert_int_equal(parse(bad[i].text, 0, u, &err), -EINVAL);
        assert_int_equal(err.code, -EINVAL);
        assert_string_equal(err.msg, msg);
        /* Nothing is written on a refusal. */
        for (size_t b = 0; b < sizeof(u); b++)
            assert_int_equal(u[b], 0xa5);
    }
    struct gv_error err = {0};
    uint8_t u[GV_UUID_LEN];
    assert_int_equal(gv_uuid_parse(NULL, 0, 0, u, &err), -EINVAL);
    assert_string_equal(err.msg, "no GPU UUID " HELP);
    /* A message quotes at most 64 characters of a long text, and says it cut it. */
    char lng[300];
    memset(lng, '1', sizeof(lng) - 1);
    lng[sizeof(lng) - 1] = '\0';
    assert_int_equal(parse(lng, 0, u, &err), -EINVAL);
    assert_string_equal(err.msg, "GPU UUID \"1111111111111111111111111111111111111111111111111111"
                                 "111111111111...\": too many hex digits (a UUID has 32) " HELP);
    /* No error wanted: just the status. */
    assert_int_equal(parse("GPU-", 0, u, NULL), -EINVAL);
}

/* The reader reads len bytes and no more: NVML's text, or a key cut out of a list. */
static void test_length(void **state)
{
    (void)state;
    uint8_t u[GV_UUID_LEN];
    const char *text = "GPU-12345678-9abc-def0-1234-56789abcdef0=1GiB";
    size_t len = strlen("GPU-12345678-9abc-def0-1234-56789abcdef0");
    assert_int_equal(gv_uuid_parse(text, len, 0, u, NULL), 0);
    assert_memory_equal(u, want, GV_UUID_LEN);
    assert_int_equal(gv_uuid_parse(text, len - 1, 0, u, NULL), -EINVAL);
    assert_int_equal(gv_uuid_parse(text, len + 1, 0, u, NULL), -EINVAL);
    assert_int_equal(gv_uuid_parse("GPU-", 3, GV_UUID_PREFIXED, u, NULL), -EINVAL);
    assert_int_equal(gv_uuid_parse("", 0, 0, u, NULL), -EINVAL);
}

/* What the writer writes is NVML's form, and reads back to the same bytes. */
static void test_format(void **state)
{
    (void)state;
    char text[GV_UUID_TEXT];
    assert_string_equal(gv_uuid_format(want, text), "GPU-12345678-9abc-def0-1234-56789abcdef0");
    assert_int_equal(strlen(text), GV_UUID_TEXT - 1);
    for (unsigned seed = 0; seed < 256; seed++) {
        uint8_t u[GV_UUID_LEN], back[GV_UUID_LEN];
        for (unsigned b = 0; b < GV_UUID_LEN; b++)
            u[b] = (uint8_t)(seed * 131 + b * 17 + (seed >> 3) * b);
        gv_uuid_format(u, text);
        assert_int_equal(strlen(text), GV_UUID_TEXT - 1);
        assert_int_equal(parse(text, GV_UUID_PREFIXED, back, NULL), 0);
        assert_memory_equal(u, back, GV_UUID_LEN);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),   cmocka_unit_test(test_prefixed),
        cmocka_unit_test(test_refused), cmocka_unit_test(test_length),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
