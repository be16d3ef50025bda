/* test_spec.c: the interposer's limit variables as text (shim/spec.c), without a process to
 * interpose: every form GPUVISOR_MEMORY, GPUVISOR_COMPUTE, GPUVISOR_CONTEXT_MEMORY and HAMi-core's
 * CUDA_DEVICE_MEMORY_LIMIT[_i] and CUDA_DEVICE_SM_LIMIT[_i] take, and every one they refuse with
 * the exact message a tenant then reads after "gpuvisor: VARIABLE: ". The messages are checked
 * whole because users and scripts match on them. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/size.h"
#include "shim/spec.h"

#define CAP        32
#define UNITS      "(use B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB, or k, m, g, t)"
#define SHARE_HELP ": expected a share in basis points, 0 to 10000 (2500 = 25%, 0 = no limit)"
#define PCT_HELP   ": expected a percentage, 0 to 100"
#define UUID0      "GPU-11111111-2222-3333-4444-555555555555"

static const uint8_t uuid0[16] = {0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x33, 0x33,
                                  0x44, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};

static struct gvs_rule rules[CAP];

/* Parse text as a variable of `unit` into an empty rules[]; fails the test on an error. */
static unsigned parse_ok(const char *text, enum gvs_unit unit)
{
    struct gv_error err = {0};
    unsigned n = 0;
    memset(rules, 0xa5, sizeof(rules));
    if (gvs_spec_parse(text, unit, rules, CAP, &n, &err) != 0)
        fail_msg("\"%s\" refused: %s", text, err.msg);
    return n;
}

/* Parse text, which must be refused with code and exactly msg, adding nothing. */
static void parse_bad(const char *text, enum gvs_unit unit, int code, const char *msg)
{
    struct gv_error err = {0};
    unsigned n = 0;
    int rc = gvs_spec_parse(text, unit, rules, CAP, &n, &err);
    if (rc == 0)
        fail_msg("\"%s\" accepted, want \"%s\"", text, msg);
    assert_int_equal(rc, code);
    assert_int_equal(err.code, code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(n, 0);
}

static void assert_rule(unsigned i, enum gvs_key key, int ordinal, uint64_t value)
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
        assert_int_equal(parse_ok(cases[i].text, GVS_SIZE), 1);
        assert_rule(0, GVS_KEY_ALL, -1, cases[i].bytes);
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
        assert_int_equal(parse_ok(cases[i].text, GVS_SHARE), 1);
        assert_rule(0, GVS_KEY_ALL, -1, cases[i].points);
    }
}

static void test_keys(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("*=1GiB", GVS_SIZE), 1);
    assert_rule(0, GVS_KEY_ALL, -1, GV_GiB);

    /* Rules keep the order written, repeated keys included: instance.c decides which applies. */
    assert_int_equal(parse_ok("0=1GiB,1=2g,63=1,00=5,0=7", GVS_SIZE), 5);
    assert_rule(0, GVS_KEY_ORDINAL, 0, GV_GiB);
    assert_rule(1, GVS_KEY_ORDINAL, 1, 2 * GV_GiB);
    assert_rule(2, GVS_KEY_ORDINAL, 63, 1);
    assert_rule(3, GVS_KEY_ORDINAL, 0, 5);
    assert_rule(4, GVS_KEY_ORDINAL, 0, 7);

    /* A UUID as NVML writes it, without "GPU-", in capitals, dashes anywhere. */
    const char *uuids[] = {
        UUID0 "=3GiB",
        "11111111-2222-3333-4444-555555555555=3GiB",
        "gpu-11111111222233334444555555555555=3GiB",
        "GPU-1111-1111-2222-3333-4444-5555-5555-5555=3GiB",
        "-11111111-2222-3333-4444-555555555555-=3GiB",
    };
    for (size_t i = 0; i < sizeof(uuids) / sizeof(uuids[0]); i++) {
        assert_int_equal(parse_ok(uuids[i], GVS_SIZE), 1);
        assert_rule(0, GVS_KEY_UUID, -1, 3 * GV_GiB);
        assert_memory_equal(rules[0].uuid, uuid0, 16);
    }
    assert_int_equal(parse_ok("GPU-AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE=1,*=2", GVS_SHARE), 2);
    assert_int_equal(rules[0].key, GVS_KEY_UUID);
    assert_int_equal(rules[0].uuid[0], 0xaa);
    assert_int_equal(rules[0].uuid[15], 0xee);
    assert_rule(1, GVS_KEY_ALL, -1, 2);

    /* A rule that is not for a UUID carries none. */
    assert_int_equal(parse_ok("5=1,*=1", GVS_SIZE), 2);
    static const uint8_t zero[16];
    assert_memory_equal(rules[0].uuid, zero, 16);
    assert_memory_equal(rules[1].uuid, zero, 16);
}

static void test_empty_items(void **state)
{
    (void)state;
    assert_int_equal(parse_ok(",0=1GiB,,1=2GiB,", GVS_SIZE), 2);
    assert_rule(0, GVS_KEY_ORDINAL, 0, GV_GiB);
    assert_rule(1, GVS_KEY_ORDINAL, 1, 2 * GV_GiB);
    assert_int_equal(parse_ok(",,,*=5000,,,", GVS_SHARE), 1);
    assert_rule(0, GVS_KEY_ALL, -1, 5000);
}

static void test_size_errors(void **state)
{
    (void)state;
    parse_bad("12XB", GVS_SIZE, -EINVAL, "size \"12XB\": unknown unit \"XB\" " UNITS);
    parse_bad("", GVS_SIZE, -EINVAL,
              "empty size (write a number of bytes or a number with a unit: B, KiB, MiB, GiB, "
              "TiB, or KB, MB, GB, TB, or k, m, g, t)");
    parse_bad("-1GiB", GVS_SIZE, -EINVAL, "size \"-1GiB\": negative sizes are not allowed");
    parse_bad("1.1B", GVS_SIZE, -EINVAL, "size \"1.1B\": not a whole number of bytes");
    parse_bad("18446744073709551616", GVS_SIZE, -ERANGE,
              "size \"18446744073709551616\": too large (at most 16 EiB)");
    /* Without '=' the whole text is one size: a comma does not make two. */
    parse_bad("1GiB,2GiB", GVS_SIZE, -EINVAL, "size \"1GiB,2GiB\": unexpected \"GiB,2GiB\" " UNITS);
    parse_bad("0=12XB", GVS_SIZE, -EINVAL, "size \"12XB\": unknown unit \"XB\" " UNITS);
    parse_bad("0=", GVS_SIZE, -EINVAL,
              "empty size (write a number of bytes or a number with a unit: B, KiB, MiB, GiB, "
              "TiB, or KB, MB, GB, TB, or k, m, g, t)");
    parse_bad("0=1GiB=2", GVS_SIZE, -EINVAL, "size \"1GiB=2\": unexpected \"GiB=2\" " UNITS);
    parse_bad("0=x", GVS_SIZE, -EINVAL,
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
        parse_bad(bad[i], GVS_SHARE, -EINVAL, msg);
    }
    parse_bad("*=2500,1=x", GVS_SHARE, -EINVAL, "\"x\"" SHARE_HELP);
    parse_bad("1=", GVS_SHARE, -EINVAL, "\"\"" SHARE_HELP);
}

static void test_key_errors(void **state)
{
    (void)state;
    parse_bad("0=1GiB,junk", GVS_SIZE, -EINVAL, "\"junk\": expected KEY=SIZE");
    parse_bad("*=2500,50", GVS_SHARE, -EINVAL, "\"50\": expected KEY=SHARE");
    parse_bad("0=50,x", GVS_PERCENT, -EINVAL, "\"x\": expected KEY=PERCENT");
    parse_bad("64=1GiB", GVS_SIZE, -ERANGE, "device \"64\" out of range");
    parse_bad("99999999999999999999999=1", GVS_SIZE, -ERANGE,
              "device \"99999999999999999999999\" out of range");
    /* Digits only make an ordinal, even 32 of them that would spell a UUID. */
    parse_bad("11111111222233334444555555555555=1", GVS_SIZE, -ERANGE,
              "device \"11111111222233334444555555555555\" out of range");
    const char *keys[] = {
        "-1", "", "+1", "1 ", " 1", "0x1", "**", "GPU-", "GPU-1234",
        /* 31 and 33 hex digits, and a non-hex letter */
        "GPU-11111111-2222-3333-4444-55555555555", "GPU-11111111-2222-3333-4444-5555555555555",
        "GPU-11111111-2222-3333-4444-55555555555g", "GPU 11111111222233334444555555555555"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char text[128], msg[256];
        snprintf(text, sizeof(text), "%s=1GiB", keys[i]);
        snprintf(msg, sizeof(msg), "\"%s\": not a device index or GPU UUID", keys[i]);
        parse_bad(text, GVS_SIZE, -EINVAL, msg);
    }
    /* The first item at fault is the one named, keys before values. */
    parse_bad("0=1GiB,1=2XB,x=3XB", GVS_SIZE, -EINVAL, "size \"2XB\": unknown unit \"XB\" " UNITS);
    parse_bad("x=2XB", GVS_SIZE, -EINVAL, "\"x\": not a device index or GPU UUID");
}

/* A keyed value shorter than GVS_SPEC_MAX_TEXT is read whole; one character more is too long. A
 * value without '=' has no limit. */
static void test_length(void **state)
{
    (void)state;
    char text[GVS_SPEC_MAX_TEXT + 1];
    size_t commas = GVS_SPEC_MAX_TEXT - 1 - strlen("0=1");
    memset(text, ',', commas);
    strcpy(text + commas, "0=1");
    assert_int_equal(strlen(text), GVS_SPEC_MAX_TEXT - 1);
    assert_int_equal(parse_ok(text, GVS_SIZE), 1);
    assert_rule(0, GVS_KEY_ORDINAL, 0, 1);

    memset(text, ',', commas + 1);
    strcpy(text + commas + 1, "0=1");
    parse_bad(text, GVS_SIZE, -E2BIG, "too long");

    char plain[3000];
    memset(plain, ' ', sizeof(plain));
    strcpy(plain + sizeof(plain) - 5, "1GiB");
    assert_int_equal(parse_ok(plain, GVS_SIZE), 1);
    assert_rule(0, GVS_KEY_ALL, -1, GV_GiB);

    /* A message quoting a long value is cut at the end of gv_error's buffer, never overrun. */
    char digits[600];
    memset(digits, '7', sizeof(digits) - 1);
    digits[sizeof(digits) - 1] = '\0';
    struct gv_error err = {0};
    unsigned n = 0;
    assert_int_equal(gvs_spec_parse(digits, GVS_SHARE, rules, CAP, &n, &err), -EINVAL);
    assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
    assert_int_equal(strncmp(err.msg, "\"7777", 5), 0);
}

/* Room for cap rules in all, counting those already there; a refused value adds none. */
static void test_room(void **state)
{
    (void)state;
    char text[GVS_SPEC_MAX_TEXT];
    size_t at = 0;
    for (int i = 0; i < CAP; i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%d=%d,", i, i + 1);
    assert_int_equal(parse_ok(text, GVS_SIZE), CAP);
    assert_rule(CAP - 1, GVS_KEY_ORDINAL, CAP - 1, CAP);

    snprintf(text + at, sizeof(text) - at, "*=1");
    parse_bad(text, GVS_SIZE, -ENOSPC, "too many entries (at most 32)");

    /* Appending: *n rules are there already, and stay as they were on a refusal. */
    struct gv_error err = {0};
    unsigned n = 30;
    rules[29].value = 4242;
    assert_int_equal(gvs_spec_parse("0=1,1=2", GVS_SIZE, rules, CAP, &n, &err), 0);
    assert_int_equal(n, 32);
    assert_true(rules[29].value == 4242);
    assert_rule(30, GVS_KEY_ORDINAL, 0, 1);
    assert_rule(31, GVS_KEY_ORDINAL, 1, 2);
    n = 31;
    assert_int_equal(gvs_spec_parse("0=1,1=2", GVS_SIZE, rules, CAP, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 32)");
    assert_int_equal(n, 31);
    n = 32;
    assert_int_equal(gvs_spec_parse("1GiB", GVS_SIZE, rules, CAP, &n, &err), -ENOSPC);
    assert_int_equal(n, 32);
    /* The value is read first: a bad one is what the message is about, room or not. */
    assert_int_equal(gvs_spec_parse("7=0", GVS_SHARE, rules, CAP, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "\"0\"" SHARE_HELP);

    /* The cap is the caller's array: nothing is written past it. */
    struct gvs_rule two[3];
    memset(two, 0x5a, sizeof(two));
    n = 0;
    assert_int_equal(gvs_spec_parse("0=1,1=2,2=3", GVS_SIZE, two, 2, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 2)");
    assert_int_equal(n, 0);
    assert_int_equal(((const uint8_t *)&two[2])[0], 0x5a);
    assert_int_equal(gvs_spec_parse("1", GVS_SIZE, two, 0, &n, &err), -ENOSPC);
}

/* HAMi-core's variables: one value whose key is in the variable's name. */
static void test_hami(void **state)
{
    (void)state;
    struct gv_error err = {0};
    unsigned n = 0;
    const struct gvs_rule all = {.key = GVS_KEY_ALL, .ordinal = -1};
    const struct gvs_rule third = {.key = GVS_KEY_ORDINAL, .ordinal = 3};

    assert_int_equal(gvs_spec_add("4g", GVS_SIZE, &all, rules, CAP, &n, &err), 0);
    assert_int_equal(gvs_spec_add("1536m", GVS_SIZE, &third, rules, CAP, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_rule(0, GVS_KEY_ALL, -1, 4 * GV_GiB);
    assert_rule(1, GVS_KEY_ORDINAL, 3, 1536 * GV_MiB);
    /* The whole text is the size: "0=1g" is not a key here. */
    assert_int_equal(gvs_spec_add("0=1g", GVS_SIZE, &all, rules, CAP, &n, &err), -EINVAL);
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
        assert_int_equal(gvs_spec_add(pct[i].text, GVS_PERCENT, &third, rules, CAP, &n, &err), 0);
        assert_int_equal(n, pct[i].points ? 1 : 0);
        if (pct[i].points)
            assert_rule(0, GVS_KEY_ORDINAL, 3, pct[i].points);
    }
    /* No limit needs no room. */
    n = CAP;
    assert_int_equal(gvs_spec_add("100", GVS_PERCENT, &all, rules, CAP, &n, &err), 0);
    assert_int_equal(gvs_spec_add("50", GVS_PERCENT, &all, rules, CAP, &n, &err), -ENOSPC);
    assert_string_equal(err.msg, "too many entries (at most 32)");

    const char *bad[] = {"101", "-1", "50%", "", "1e2", " 5", "5.5", "18446744073709551666"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[256];
        snprintf(msg, sizeof(msg), "\"%s\"%s", bad[i], PCT_HELP);
        n = 0;
        assert_int_equal(gvs_spec_add(bad[i], GVS_PERCENT, &all, rules, CAP, &n, &err), -EINVAL);
        assert_string_equal(err.msg, msg);
        assert_int_equal(n, 0);
    }

    /* A key for a UUID takes its bytes; other keys' uuid and value fields are not copied. */
    struct gvs_rule byuuid = {.key = GVS_KEY_UUID, .ordinal = 9, .value = 77};
    memcpy(byuuid.uuid, uuid0, 16);
    n = 0;
    assert_int_equal(gvs_spec_add("2", GVS_SIZE, &byuuid, rules, CAP, &n, &err), 0);
    assert_rule(0, GVS_KEY_UUID, -1, 2);
    assert_memory_equal(rules[0].uuid, uuid0, 16);
    struct gvs_rule stray = {.key = GVS_KEY_ALL, .ordinal = 9};
    memcpy(stray.uuid, uuid0, 16);
    assert_int_equal(gvs_spec_add("3", GVS_SIZE, &stray, rules, CAP, &n, &err), 0);
    assert_rule(1, GVS_KEY_ALL, -1, 3);
    static const uint8_t zero[16];
    assert_memory_equal(rules[1].uuid, zero, 16);
}

static void test_unknown_unit(void **state)
{
    (void)state;
    struct gv_error err = {0};
    unsigned n = 0;
    const struct gvs_rule all = {.key = GVS_KEY_ALL, .ordinal = -1};
    assert_int_equal(gvs_spec_parse("0=1", (enum gvs_unit)7, rules, CAP, &n, &err), -EINVAL);
    assert_string_equal(err.msg, "unknown kind of value 7");
    assert_int_equal(gvs_spec_add("1", (enum gvs_unit) - 1, &all, rules, CAP, &n, &err), -EINVAL);
    assert_int_equal(n, 0);
}

/* gvs_parse_uuid reads len bytes and no more: NVML's text and a key cut out of a list. */
static void test_uuid(void **state)
{
    (void)state;
    uint8_t out[16];
    const char *text = UUID0 "=1GiB";
    assert_true(gvs_parse_uuid(text, strlen(UUID0), out));
    assert_memory_equal(out, uuid0, 16);
    assert_false(gvs_parse_uuid(text, strlen(UUID0) - 1, out));
    assert_false(gvs_parse_uuid(text, strlen(UUID0) + 1, out));
    assert_false(gvs_parse_uuid("GPU-", 4, out));
    assert_false(gvs_parse_uuid("", 0, out));
    assert_true(gvs_parse_uuid("gPu-AAAAAAAA-bbbb-CCCC-dddd-EEEEEEEEEEEE", 40, out));
    assert_int_equal(out[0], 0xaa);
    assert_int_equal(out[6], 0xcc);
    /* "GPU-" is taken off once: a second one is not hex. */
    assert_false(gvs_parse_uuid("GPU-GPU-11111111222233334444555555555555", 40, out));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_size),   cmocka_unit_test(test_plain_share),
        cmocka_unit_test(test_keys),         cmocka_unit_test(test_empty_items),
        cmocka_unit_test(test_size_errors),  cmocka_unit_test(test_share_errors),
        cmocka_unit_test(test_key_errors),   cmocka_unit_test(test_length),
        cmocka_unit_test(test_room),         cmocka_unit_test(test_hami),
        cmocka_unit_test(test_unknown_unit), cmocka_unit_test(test_uuid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
