/* SPDX-License-Identifier: Apache-2.0 */
/* test_limits.c: the limit strings (core/limits.c), read and written: every form GPUVISOR_MEMORY,
 * GPUVISOR_COMPUTE, GPUVISOR_CONTEXT_MEMORY and HAMi-core's CUDA_DEVICE_MEMORY_LIMIT[_i] and
 * CUDA_DEVICE_SM_LIMIT[_i] take, and every one they refuse with the exact message a tenant then
 * reads after "gpuvisor: VARIABLE: ". The messages are checked whole because users and scripts
 * match on them. Then the writer: what it writes reads back into the same rules, it refuses what
 * the reader would, and it never writes a text the reader finds too long. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ledger.h"
#include "core/size.h"
#include "core/limits.h"

#define CAP        32
#define UNITS      "(use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB, or k, m, g, t)"
#define SHARE_HELP ": expected a share in basis points, 0 to 10000 (2500 = 25%, 0 = no limit)"
#define PCT_HELP   ": expected a percentage, 0 to 100"
#define UUID0      "GPU-11111111-2222-3333-4444-555555555555"
#define UUID_HELP  "(write as nvidia-smi -L prints it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"

static const uint8_t uuid0[16] = {0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
                                  0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};

static struct gv_limit rules[CAP];

/* Parse text as a variable of `unit` into an empty rules[]; fails the test on an error. */
static unsigned parse_ok(const char *text, enum gv_limit_unit unit)
{
    struct gv_error err = {0};
    unsigned n = 0;
    memset(rules, 0xa5, sizeof(rules));
    if (gv_limits_parse(text, unit, rules, CAP, &n, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    return n;
}

/* Parse text, which must be refused with code and exactly msg, adding nothing. */
static void parse_bad(const char *text, enum gv_limit_unit unit, int code, const char *msg)
{
    struct gv_error err = {0};
    unsigned n = 0;
    int rc = gv_limits_parse(text, unit, rules, CAP, &n, &err);
    if (rc == 0)
        fail_msg("\"%s\" accepted, want \"%s\"", text, msg);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(n, 0);
}

static void assert_rule(unsigned i, enum gv_limit_key key, int ordinal, uint64_t value)
{
    assert_int_equal(rules[i].key, key);
    assert_int_equal(rules[i].ordinal, ordinal);
    assert_true(rules[i].value == value);
}

static void test_plain_size(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } cases[] = {
        {"4GiB", 4 * GV_GiB},
        {"1536m", 1536 * GV_MiB},
        {"1048576", GV_MiB},
        {"16GB", 16000000000},
        {" 2 GiB ", 2 * GV_GiB},
        {"+1k", GV_KiB},
        {"1.5GiB", 1536 * GV_MiB},
        {"0", 0},
        {"18446744073709551615", UINT64_MAX},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_ok(cases[i].text, GV_LIMIT_SIZE), 1);
        assert_rule(0, GV_LIMIT_ALL, -1, cases[i].bytes);
    }
}

static void test_plain_share(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t points;
    } cases[] = {{"2500", 2500}, {"1", 1}, {"10000", 10000}, {"007", 7}, {"0", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(parse_ok(cases[i].text, GV_LIMIT_SHARE), 1);
        assert_rule(0, GV_LIMIT_ALL, -1, cases[i].points);
    }
}

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("*=1GiB", GV_LIMIT_SIZE), 1);
    assert_rule(0, GV_LIMIT_ALL, -1, GV_GiB);

    /* Rules keep the order written, repeated keys included: instance.c decides which applies. */
    assert_int_equal(parse_ok("0=1GiB,1=2g,63=1,00=5,0=7", GV_LIMIT_SIZE), 5);
    assert_rule(0, GV_LIMIT_ORDINAL, 0, GV_GiB);
    assert_rule(1, GV_LIMIT_ORDINAL, 1, 2 * GV_GiB);
    assert_rule(2, GV_LIMIT_ORDINAL, 63, 1);
    assert_rule(3, GV_LIMIT_ORDINAL, 0, 5);
    assert_rule(4, GV_LIMIT_ORDINAL, 0, 7);

    /* A UUID as NVML writes it, without "GPU-", in capitals, dashes anywhere, as a MIG
     * instance's. */
    const char *uuids[] = {
        UUID0 "=3GiB",
        "11111111-2222-3333-4444-555555555555=3GiB",
        "gpu-11111111222233334444555555555555=3GiB",
        "GPU-1111-1111-2222-3333-4444-5555-5555-5555=3GiB",
        "-11111111-2222-3333-4444-555555555555-=3GiB",
        "MIG-11111111-2222-3333-4444-555555555555=3GiB",
        "11111111222233334444a55555555555=3GiB",
    };
    for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
        assert_int_equal(parse_ok(uuids[i], GV_LIMIT_SIZE), 1);
        assert_rule(0, GV_LIMIT_UUID, -1, 3 * GV_GiB);
        if (i < 6)
            assert_memory_equal(rules[0].uuid, uuid0, 16);
    }
    assert_int_equal(rules[0].uuid[10], 0xa5);
    assert_int_equal(parse_ok("GPU-AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE=1,*=2", GV_LIMIT_SHARE), 2);
    assert_int_equal(rules[0].key, GV_LIMIT_UUID);
    assert_int_equal(rules[0].uuid[0], 0xaa);
    assert_int_equal(rules[0].uuid[15], 0xee);
    assert_rule(1, GV_LIMIT_ALL, -1, 2);

    /* A rule that is not for a UUID carries none. */
    assert_int_equal(parse_ok("5=1,*=1", GV_LIMIT_SIZE), 2);
    static const uint8_t zero[16];
    assert_memory_equal(rules[0].uuid, zero, 16);
    assert_memory_equal(rules[1].uuid, zero, 16);
}

static void test_empty_items(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(",0=1GiB,,1=2GiB,", GV_LIMIT_SIZE), 2);
    assert_rule(0, GV_LIMIT_ORDINAL, 0, GV_GiB);
    assert_rule(1, GV_LIMIT_ORDINAL, 1, 2 * GV_GiB);
    assert_int_equal(parse_ok(",,,*=5000,,,", GV_LIMIT_SHARE), 1);
    assert_rule(0, GV_LIMIT_ALL, -1, 5000);
}

static void test_size_errors(void **state)
{
    (void)state;
    parse_bad("12XB", GV_LIMIT_SIZE, -EINVAL, "size \"12XB\": unknown unit \"XB\" " UNITS);
    parse_bad("", GV_LIMIT_SIZE, -EINVAL,
              "empty size (write a number of bytes or a number with a unit: B, KiB, MiB, GiB, "
              "TiB, or KB, MB, GB, TB, or k, m, g, t)");
    parse_bad("-1GiB", GV_LIMIT_SIZE, -EINVAL, "size \"-1GiB\": negative sizes are not allowed");
    parse_bad("1.1B", GV_LIMIT_SIZE, -EINVAL, "size \"1.1B\": not a whole number of bytes");
    parse_bad("18446744073709551616", GV_LIMIT_SIZE, -ERANGE,
              "size \"18446744073709551616\": too large (at most 16 EiB)");
    /* Without '=' the whole text is one size: a comma does not make two. */
    parse_bad("1GiB,2GiB", GV_LIMIT_SIZE, -EINVAL,
              "size \"1GiB,2GiB\": unexpected \"GiB,2GiB\" " UNITS);
    parse_bad("0=12XB", GV_LIMIT_SIZE, -EINVAL, "size \"12XB\": unknown unit \"XB\" " UNITS);
    parse_bad("0=", GV_LIMIT_SIZE, -EINVAL,
              "empty size (write a number of bytes or a number with a unit: B, KiB, MiB, GiB, "
              "TiB, or KB, MB, GB, TB, or k, m, g, t)");
    parse_bad("0=1GiB=2", GV_LIMIT_SIZE, -EINVAL, "size \"1GiB=2\": unexpected \"GiB=2\" " UNITS);
    parse_bad("0=x", GV_LIMIT_SIZE, -EINVAL,
              "size \"x\": not a number (write e.g. 2GiB, 512MiB, 1.5GiB, 16GB, 4g)");
}

static void test_share_errors(void **state)
{
    (void)state;
    const char *bad[] = {"10001", "25%",  "+5",   " 5", "5 ",
                         "",      "12.5", "0x10", "-1", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "\"%s\"%s", bad[i], SHARE_HELP);
        parse_bad(bad[i], GV_LIMIT_SHARE, -EINVAL, msg);
    }
    parse_bad("*=2500,1=x", GV_LIMIT_SHARE, -EINVAL, "\"x\"" SHARE_HELP);
    parse_bad("1=", GV_LIMIT_SHARE, -EINVAL, "\"\"" SHARE_HELP);
}

static void test_key_errors(void **state)
{
    (void)state;
    parse_bad("0=1GiB,junk", GV_LIMIT_SIZE, -EINVAL, "\"junk\": expected KEY=SIZE");
    parse_bad("*=2500,50", GV_LIMIT_SHARE, -EINVAL, "\"50\": expected KEY=SHARE");
    parse_bad("0=50,x", GV_LIMIT_PERCENT, -EINVAL, "\"x\": expected KEY=PERCENT");
    parse_bad("64=1GiB", GV_LIMIT_SIZE, -ERANGE, "device \"64\" out of range (0 to 63)");
    parse_bad("99999999999999999999999=1", GV_LIMIT_SIZE, -ERANGE,
              "device \"99999999999999999999999\" out of range (0 to 63)");
    /* Digits only make an ordinal, even 32 of them that would spell a UUID. */
    parse_bad("11111111222233334444555555555555=1", GV_LIMIT_SIZE, -ERANGE,
              "device \"11111111222233334444555555555555\" out of range (0 to 63)");
    const char *keys[] = {"-1", "",          "+1",
                          "1 ", " 1",        "0x1",
                          "**", "1111-2222", "GPU 11111111222233334444555555555555"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char text[128], msg[256];
        snprintf(text, sizeof(text), "%s=1GiB", keys[i]);
        snprintf(msg, sizeof(msg), "\"%s\": not a device index or GPU UUID", keys[i]);
        parse_bad(text, GV_LIMIT_SIZE, -EINVAL, msg);
    }
    /* A key written as a UUID gets the UUID reader's reason (test_uuid.c has them all). */
    static const struct {
        const char *key, *why;
    } uuid_keys[] = {
        {"GPU-", "too few hex digits (a UUID has 32)"},
        {"GPU-1234", "too few hex digits (a UUID has 32)"},
        {"GPU-11111111-2222-3333-4444-55555555555", "too few hex digits (a UUID has 32)"},
        {"GPU-11111111-2222-3333-4444-5555555555555", "too many hex digits (a UUID has 32)"},
        {"GPU-11111111-2222-3333-4444-55555555555g", "'g' is not a hex digit"},
        {"mig-GPU-11111111-2222-3333-4444-555555555555", "'G' is not a hex digit"},
    };
    for (size_t i = 0; i < sizeof(uuid_keys) / sizeof(uuid_keys[0]); i++) {
        char text[128], msg[256];
        snprintf(text, sizeof(text), "%s=1GiB", uuid_keys[i].key);
        snprintf(msg, sizeof(msg), "GPU UUID \"%s\": %s " UUID_HELP, uuid_keys[i].key,
                 uuid_keys[i].why);
        parse_bad(text, GV_LIMIT_SIZE, -EINVAL, msg);
    }
    /* The first item at fault is the one named, keys before values. */
    parse_bad("0=1GiB,1=2XB,x=3XB", GV_LIMIT_SIZE, -EINVAL,
              "size \"2XB\": unknown unit \"XB\" " UNITS);
    parse_bad("x=2XB", GV_LIMIT_SIZE, -EINVAL, "\"x\": not a device index or GPU UUID");
}

/* A keyed value shorter than GV_LIMITS_TEXT_MAX is read whole; one character more is too long. A
 * value without '=' has no limit. */
static void test_length(void **state)
{
    (void)state;
    char text[GV_LIMITS_TEXT_MAX + 1];
    size_t commas = GV_LIMITS_TEXT_MAX - 1 - strlen("0=1");
    memset(text, ',', commas);
    strcpy(text + commas, "0=1");
    assert_int_equal(strlen(text), GV_LIMITS_TEXT_MAX - 1);
    assert_int_equal(parse_ok(text, GV_LIMIT_SIZE), 1);
    assert_rule(0, GV_LIMIT_ORDINAL, 0, 1);

    memset(text, ',', commas + 1);
    strcpy(text + commas + 1, "0=1");
    parse_bad(text, GV_LIMIT_SIZE, -E2BIG, "too long (1024 characters, at most 1023 with keys)");

    char plain[3000];
    memset(plain, ' ', sizeof(plain));
    strcpy(plain + sizeof(plain) - 5, "1GiB");
    assert_int_equal(parse_ok(plain, GV_LIMIT_SIZE), 1);
    assert_rule(0, GV_LIMIT_ALL, -1, GV_GiB);

    /* A message quoting a long value is cut at the end of gv_error's buffer, never overrun. */
    char digits[600];
    memset(digits, '7', sizeof(digits) - 1);
    digits[sizeof(digits) - 1] = '\0';
    struct gv_error err = {0};
    unsigned n = 0;
    assert_int_equal(gv_limits_parse(digits, GV_LIMIT_SHARE, rules, CAP, &n, &err), -EINVAL);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_int_equal(strncmp(err.msg, "\"7777", 5), 0);
}

/* Room for cap rules in all, counting those already there; a refused value adds none. */
static void test_room(void **state)
{
    (void)state;
    char text[GV_LIMITS_TEXT_MAX];
    size_t at = 0;
    for (int i = 0; i < CAP; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%d=%d,", i, i + 1);
    assert_int_equal(parse_ok(text, GV_LIMIT_SIZE), CAP);
    assert_rule(CAP - 1, GV_LIMIT_ORDINAL, CAP - 1, CAP);

    snprintf(text + at, sizeof(text) - at, "*=1");
    parse_bad(text, GV_LIMIT_SIZE, -ENOSPC, "too many entries (at most 32)");

    /* Appending: *n rules are there already, and stay as they were on a refusal. */
    struct gv_error err = {0};
    unsigned n = 30;
    rules[29].value = 4242;
    assert_int_equal(gv_limits_parse("0=1,1=2", GV_LIMIT_SIZE, rules, CAP, &n, &err), 0);
    assert_int_equal(n, 32);
    assert_true(rules[29].value == 4242);
    assert_rule(30, GV_LIMIT_ORDINAL, 0, 1);
    assert_rule(31, GV_LIMIT_ORDINAL, 1, 2);
    n = 31;
    assert_int_equal(gv_limits_parse("0=1,1=2", GV_LIMIT_SIZE, rules, CAP, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 32)");
    assert_int_equal(n, 31);
    n = 32;
    assert_int_equal(gv_limits_parse("1GiB", GV_LIMIT_SIZE, rules, CAP, &n, &err), -ENOSPC);
    assert_int_equal(n, 32);
    /* The value is read first: a bad one is what the message is about, room or not. */
    assert_int_equal(gv_limits_parse("7=x", GV_LIMIT_SHARE, rules, CAP, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "\"x\"" SHARE_HELP);

    /* The cap is the caller's array: nothing is written past it. */
    struct gv_limit two[3];
    memset(two, 0x5a, sizeof(two));
    n = 0;
    assert_int_equal(gv_limits_parse("0=1,1=2,2=3", GV_LIMIT_SIZE, two, 2, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 2)");
    assert_int_equal(n, 0);
    assert_int_equal(((const uint8_t *)&two[2])[0], 0x5a);
    assert_int_equal(gv_limits_parse("1", GV_LIMIT_SIZE, two, 0, &n, &err), -ENOSPC);
}

/* HAMi-core's variables: one value whose key is in the variable's name. */
static void test_hami(void **state)
{
    (void)state;
    struct gv_error err = {0};
    unsigned n = 0;
    const struct gv_limit all = {.key = GV_LIMIT_ALL, .ordinal = -1};
    const struct gv_limit third = {.key = GV_LIMIT_ORDINAL, .ordinal = 3};

    assert_int_equal(gv_limits_add("4g", GV_LIMIT_SIZE, &all, rules, CAP, &n, &err), 0);
    assert_int_equal(gv_limits_add("1536m", GV_LIMIT_SIZE, &third, rules, CAP, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_rule(0, GV_LIMIT_ALL, -1, 4 * GV_GiB);
    assert_rule(1, GV_LIMIT_ORDINAL, 3, 1536 * GV_MiB);
    /* The whole text is the size: "0=1g" is not a key here. */
    assert_int_equal(gv_limits_add("0=1g", GV_LIMIT_SIZE, &all, rules, CAP, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "size \"0=1g\": unexpected \"=1g\" " UNITS);
    assert_int_equal(n, 2);

    /* Percent, in basis points; 0 and 100 are no limit and add nothing. */
    static const struct {
        const char *text;
        uint64_t points; /* 0: no rule */
    } pct[] = {{"50", 5000}, {"1", 100}, {"99", 9900}, {"007", 700},
               {"0", 0},     {"100", 0}, {"000", 0}};
    for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
        n = 0;
        assert_int_equal(gv_limits_add(pct[i].text, GV_LIMIT_PERCENT, &third, rules, CAP, &n, &err),
                         0);
        assert_int_equal(n, pct[i].points ? 1 : 0);
        if (pct[i].points)
            assert_rule(0, GV_LIMIT_ORDINAL, 3, pct[i].points);
    }
    /* No limit needs no room. */
    n = CAP;
    assert_int_equal(gv_limits_add("100", GV_LIMIT_PERCENT, &all, rules, CAP, &n, &err), 0);
    assert_int_equal(gv_limits_add("50", GV_LIMIT_PERCENT, &all, rules, CAP, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 32)");

    const char *bad[] = {"101", "-1", "50%", "", "1e2", " 5", "5.5", "18446744073709551666"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "\"%s\"%s", bad[i], PCT_HELP);
        n = 0;
        assert_int_equal(gv_limits_add(bad[i], GV_LIMIT_PERCENT, &all, rules, CAP, &n, &err),
                         -EINVAL);
        assert_string_equal(err.msg, msg);
        assert_int_equal(n, 0);
    }

    /* A key for a UUID takes its bytes; other keys' uuid and value fields are not copied. */
    struct gv_limit byuuid = {.key = GV_LIMIT_UUID, .ordinal = 9, .value = 77};
    memcpy(byuuid.uuid, uuid0, 16);
    n = 0;
    assert_int_equal(gv_limits_add("2", GV_LIMIT_SIZE, &byuuid, rules, CAP, &n, &err), 0);
    assert_rule(0, GV_LIMIT_UUID, -1, 2);
    assert_memory_equal(rules[0].uuid, uuid0, 16);
    struct gv_limit stray = {.key = GV_LIMIT_ALL, .ordinal = 9};
    memcpy(stray.uuid, uuid0, 16);
    assert_int_equal(gv_limits_add("3", GV_LIMIT_SIZE, &stray, rules, CAP, &n, &err), 0);
    assert_rule(1, GV_LIMIT_ALL, -1, 3);
    static const uint8_t zero[16];
    assert_memory_equal(rules[1].uuid, zero, 16);
}

static void test_unknown_unit(void **state)
{
    (void)state;
    struct gv_error err = {0};
    unsigned n = 0;
    const struct gv_limit all = {.key = GV_LIMIT_ALL, .ordinal = -1};
    assert_int_equal(gv_limits_parse("0=1", (enum gv_limit_unit)7, rules, CAP, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown kind of value 7");
    assert_int_equal(gv_limits_add("1", (enum gv_limit_unit) - 1, &all, rules, CAP, &n, &err),
                     -EINVAL);
    assert_int_equal(n, 0);
}

/* Rules for n GPUs by UUID, each with value v, GPU i's UUID all bytes i + 1. */
static void uuid_rules(struct gv_limit *r, unsigned n, uint64_t v)
{
    for (unsigned i = 0; i < n; i++) {
        r[i] = (struct gv_limit){.key = GV_LIMIT_UUID, .ordinal = -1, .value = v};
        memset(r[i].uuid, (int)i + 1, GV_UUID_LEN);
    }
}

/* Write rules, read the text back, and find the same rules. */
static void round_trip(const struct gv_limit *in, unsigned n, enum gv_limit_unit unit,
                       const char *want)
{
    char text[GV_LIMITS_TEXT_MAX];
    struct gv_error err = {0};
    if (gv_limits_format(in, n, unit, text, sizeof(text), &err) != 0)
        fail_msg("format: %s", err.msg);
    if (want)
        assert_string_equal(text, want);
    assert_true(strlen(text) < GV_LIMITS_TEXT_MAX);
    assert_int_equal(parse_ok(text, unit), n);
    for (unsigned i = 0; i < n; i++) {
        assert_rule(i, in[i].key, in[i].key == GV_LIMIT_ORDINAL ? in[i].ordinal : -1, in[i].value);
        if (in[i].key == GV_LIMIT_UUID)
            assert_memory_equal(rules[i].uuid, in[i].uuid, GV_UUID_LEN);
    }
}

static void test_write(void **state)
{
    (void)state;
    /* One rule for every GPU is the plain form. */
    const struct gv_limit all = {.key = GV_LIMIT_ALL, .ordinal = -1, .value = 4 * GV_GiB};
    round_trip(&all, 1, GV_LIMIT_SIZE, "4294967296");
    const struct gv_limit max = {.key = GV_LIMIT_ALL, .ordinal = -1, .value = UINT64_MAX};
    round_trip(&max, 1, GV_LIMIT_SIZE, "18446744073709551615");
    const struct gv_limit zero = {.key = GV_LIMIT_ALL, .ordinal = -1, .value = 0};
    round_trip(&zero, 1, GV_LIMIT_SIZE, "0");

    struct gv_limit mixed[4] = {
        {.key = GV_LIMIT_UUID, .ordinal = -1, .value = 2500},
        {.key = GV_LIMIT_ORDINAL, .ordinal = 63, .value = 1},
        {.key = GV_LIMIT_ALL, .ordinal = -1, .value = GV_SHARE_FULL},
        {.key = GV_LIMIT_ORDINAL, .ordinal = 0, .value = 7},
    };
    memcpy(mixed[0].uuid, uuid0, GV_UUID_LEN);
    round_trip(mixed, 4, GV_LIMIT_SHARE, UUID0 "=2500,63=1,*=10000,0=7");
    round_trip(mixed, 1, GV_LIMIT_SIZE, UUID0 "=2500");

    /* The most one region can hold, by UUID, at the largest size, fits with room to spare. */
    struct gv_limit many[GV_LEDGER_DEVICES + 1];
    uuid_rules(many, GV_LEDGER_DEVICES, UINT64_MAX);
    many[GV_LEDGER_DEVICES] = max;
    round_trip(many, GV_LEDGER_DEVICES + 1, GV_LIMIT_SIZE, NULL);
}

/* The writer refuses what the reader would refuse, with a message, and leaves out "". */
static void test_write_refused(void **state)
{
    (void)state;
    char out[GV_LIMITS_TEXT_MAX];
    struct gv_error err = {0};
    struct gv_limit r = {.key = GV_LIMIT_ALL, .ordinal = -1, .value = GV_SHARE_FULL + 1};
    strcpy(out, "junk");
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_SHARE, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "rule 0: a share of 10001 basis points (0 to 10000 allowed)");
    assert_string_equal(out, "");
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_SHARE, out, sizeof(out), &err), -EINVAL);
    r = (struct gv_limit){.key = GV_LIMIT_ORDINAL, .ordinal = GV_MAX_GPUS, .value = 1};
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_SIZE, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "rule 0: device 64 out of range (0 to 63)");
    r.ordinal = -1;
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_SIZE, out, sizeof(out), &err), -EINVAL);
    r.key = (enum gv_limit_key)9;
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_SIZE, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "rule 0: unknown kind of key 9");
    assert_int_equal(gv_limits_format(&r, 0, GV_LIMIT_SIZE, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "no limits to write");
    r = (struct gv_limit){.key = GV_LIMIT_ALL, .ordinal = -1, .value = 5000};
    assert_int_equal(gv_limits_format(&r, 1, GV_LIMIT_PERCENT, out, sizeof(out), &err), -EINVAL);
    assert_string_equal(err.msg, "cannot write values of kind 2 (only sizes and shares)");
}

/* The one length limit: the writer never writes a keyed text the reader finds too long, and a
 * buffer smaller than the limit is a limit too. */
static void test_write_length(void **state)
{
    (void)state;
    struct gv_error err = {0};
    char out[4 * GV_LIMITS_TEXT_MAX];
    struct gv_limit many[GV_MAX_GPUS];
    /* "GPU-<36>=1073741824": 51 characters, and a comma between: 20 of them are 1039. */
    uuid_rules(many, 20, GV_GiB);
    memset(out, 'x', sizeof(out));
    assert_int_equal(gv_limits_format(many, 20, GV_LIMIT_SIZE, out, sizeof(out), &err), -E2BIG);
    assert_string_equal(err.msg, "20 GPUs' limits do not fit in 1023 characters");
    assert_string_equal(out, "");
    /* 19 are 987 characters: written, and read back. */
    assert_int_equal(gv_limits_format(many, 19, GV_LIMIT_SIZE, out, sizeof(out), &err), 0);
    assert_int_equal(strlen(out), 19 * 51 + 18);
    assert_int_equal(parse_ok(out, GV_LIMIT_SIZE), 19);

    /* The caller's buffer: one byte short of the text and its terminator is refused. */
    char small[19 * 51 + 18];
    assert_int_equal(gv_limits_format(many, 19, GV_LIMIT_SIZE, small, sizeof(small), &err), -E2BIG);
    assert_string_equal(small, "");
    char fits[19 * 51 + 19];
    assert_int_equal(gv_limits_format(many, 19, GV_LIMIT_SIZE, fits, sizeof(fits), &err), 0);
    assert_string_equal(fits, out);
}

/* What a limit string means for one GPU: its UUID's rule, else its ordinal's, else "*". */
static void test_find(void **state)
{
    (void)state;
    uint8_t other[GV_UUID_LEN];
    memset(other, 0x77, sizeof(other));
    unsigned n = parse_ok("*=1,2=2,*=3," UUID0 "=4,2=5," UUID0 "=6", GV_LIMIT_SIZE);
    assert_int_equal(n, 6);
    assert_true(gv_limits_find(rules, n, 2, uuid0)->value == 4); /* the first UUID rule */
    assert_true(gv_limits_find(rules, n, 2, other)->value == 5); /* the last ordinal rule */
    assert_true(gv_limits_find(rules, n, 0, other)->value == 3); /* the last "*" */
    assert_true(gv_limits_find(rules, n, -1, NULL)->value == 3);
    assert_true(gv_limits_find(rules, n, -1, uuid0)->value == 4);
    n = parse_ok("1=1", GV_LIMIT_SIZE);
    assert_null(gv_limits_find(rules, n, 0, uuid0));
    assert_null(gv_limits_find(rules, 0, 0, uuid0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_size),    cmocka_unit_test(test_plain_share),
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_empty_items),
        cmocka_unit_test(test_size_errors),   cmocka_unit_test(test_share_errors),
        cmocka_unit_test(test_key_errors),    cmocka_unit_test(test_length),
        cmocka_unit_test(test_room),          cmocka_unit_test(test_hami),
        cmocka_unit_test(test_unknown_unit),  cmocka_unit_test(test_write),
        cmocka_unit_test(test_write_refused), cmocka_unit_test(test_write_length),
        cmocka_unit_test(test_find),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
