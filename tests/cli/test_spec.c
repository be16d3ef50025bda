/* SPDX-License-Identifier: Apache-2.0 */
/* test_spec.c: the per-GPU option values of `gpuvisor run` (--memory, --compute, --devices), from
 * what a user types to the environment the interposer reads, against a made-up machine of two GPUs
 * and against a machine without NVML. The last test feeds random text to the parsers, so that the
 * sanitizer build sees every path a malformed option can take. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/cli.h"

#define UUID0 "GPU-11111111-2222-3333-4444-555555555555"
#define UUID1 "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

static struct cli_gpus two, none;

static int setup(void **state)
{
    (void)state;
    memset(&two, 0, sizeof(two));
    two.available = true;
    two.count = 2;
    const char *u[2] = {UUID0, UUID1};
    for (unsigned i = 0; i < 2; i++) {
        two.gpu[i].index = i;
        strcpy(two.gpu[i].uuid, u[i]);
        two.gpu[i].raw_ok = cli_uuid_parse(u[i], two.gpu[i].raw);
    }
    memset(&none, 0, sizeof(none));
    strcpy(none.why, "NVML is not available (test)");
    return 0;
}

static void spec_init(struct cli_spec *s, bool memory)
{
    memset(s, 0, sizeof(*s));
    s->option = memory ? "--memory" : "--compute";
    s->parse = memory ? cli_parse_memory : cli_parse_share;
}

/* The environment value of --memory given as the texts (NULL-terminated), on machine g. */
static const char *env_ok(bool memory, const struct cli_gpus *g, ...)
{
    static char out[4096];
    struct cli_spec s;
    struct gv_error err = {0};
    spec_init(&s, memory);
    va_list ap;
    va_start(ap, g);
    for (const char *t; (t = va_arg(ap, const char *));)
        if (cli_spec_add(&s, t, &err) < 0)
            fail_msg("cli_spec_add(\"%s\"): %s", t, err.msg);
    va_end(ap);
    if (cli_spec_env(&s, g, out, sizeof(out), &err) < 0)
        fail_msg("cli_spec_env: %s", err.msg);
    return out;
}

/* The texts fail, in cli_spec_add or cli_spec_env, with a message that contains needle. */
static void env_bad(bool memory, const struct cli_gpus *g, const char *needle, ...)
{
    char out[4096];
    struct cli_spec s;
    struct gv_error err = {0};
    spec_init(&s, memory);
    va_list ap;
    va_start(ap, needle);
    int rc = 0;
    for (const char *t; !rc && (t = va_arg(ap, const char *));)
        rc = cli_spec_add(&s, t, &err);
    va_end(ap);
    if (!rc)
        rc = cli_spec_env(&s, g, out, sizeof(out), &err);
    if (rc >= 0)
        fail_msg("accepted, want an error with \"%s\"; got \"%s\"", needle, out);
    if (!strstr(err.msg, needle))
        fail_msg("message lacks \"%s\": %s", needle, err.msg);
    if (!strstr(err.msg, memory ? "--memory" : "--compute"))
        fail_msg("message does not name the option: %s", err.msg);
}

static void test_memory_forms(void **state)
{
    (void)state;
    assert_string_equal(env_ok(true, &none, "4GiB", NULL), "4294967296");
    assert_string_equal(env_ok(true, &two, "1", NULL), "1");
    assert_string_equal(env_ok(true, &two, "0=2GiB,1=1GiB", NULL),
                        UUID0 "=2147483648," UUID1 "=1073741824");
    assert_string_equal(env_ok(true, &two, "1=1GiB", "0=512MiB", NULL),
                        UUID1 "=1073741824," UUID0 "=536870912");
    assert_string_equal(
        env_ok(true, &two, "*=1GiB,GPU-AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE=2g", NULL),
        "*=1073741824," UUID1 "=2147483648");
    assert_string_equal(env_ok(true, &none, UUID1 "=1GiB", NULL), UUID1 "=1073741824");
    assert_string_equal(env_ok(false, &two, "25", NULL), "2500");
    assert_string_equal(env_ok(false, &two, "0=12.5%,*=50", NULL), UUID0 "=1250,*=5000");
}

static void test_memory_errors(void **state)
{
    (void)state;
    env_bad(true, &two, "unknown unit", "2XB", NULL);
    env_bad(true, &two, "\"0=2XB\"", "0=2XB", NULL);
    env_bad(true, &two, "more than 0", "0", NULL);
    env_bad(true, &two, "empty value", "", NULL);
    env_bad(true, &two, "already given", "1GiB", "2GiB", NULL);
    env_bad(true, &two, "not both", "1GiB", "0=2GiB", NULL);
    env_bad(true, &two, "not both", "0=2GiB", "1GiB", NULL);
    env_bad(true, &two, "not KEY=VALUE", "0=2GiB,1GiB", NULL);
    env_bad(true, &two, "given twice", "0=1GiB,0=2GiB", NULL);
    env_bad(true, &two, "given twice", "*=1GiB", "*=2GiB", NULL);
    env_bad(true, &two, "empty entry", "0=1GiB,", NULL);
    env_bad(true, &two, "empty entry", ",0=1GiB", NULL);
    env_bad(true, &two, "key \"-1\"", "-1=1GiB", NULL);
    env_bad(true, &two, "key \"GPU-1\"", "GPU-1=1GiB", NULL);
    env_bad(true, &two, "key \"\"", "=1GiB", NULL);
    env_bad(true, &two, "out of range", "2=1GiB", NULL);
    env_bad(true, &two, "out of range", "9999=1GiB", NULL);
    env_bad(true, &two, "not on this machine", "GPU-00000000-0000-0000-0000-000000000000=1GiB",
            NULL);
    env_bad(true, &two, "same GPU", "0=1GiB," UUID0 "=1GiB", NULL);
    env_bad(true, &none, "name GPUs by UUID", "0=1GiB", NULL);
    env_bad(true, &none, "NVML is not available (test)", "*=1GiB,1=1GiB", NULL);
    env_bad(false, &two, "at most 100", "101", NULL);
    env_bad(false, &two, "more than 0", "0=0", NULL);
}

/* The environment value is a limit string the interposer reads: never longer than it reads
 * (GV_LIMITS_TEXT_MAX), whatever buffer the caller has. 19 GPUs by UUID at 1 GiB fit (987
 * characters); 20 (1039) are refused here, with a message, rather than by every process later. */
static void test_env_length(void **state)
{
    (void)state;
    char out[8192];
    for (unsigned gpus = 19; gpus <= 20; gpus++) {
        struct cli_spec s;
        struct gv_error err = {0};
        spec_init(&s, true);
        for (unsigned i = 0; i < gpus; i++) {
            char text[64];
            snprintf(text, sizeof(text), "GPU-%08x-2222-3333-4444-555555555555=1GiB", i);
            assert_int_equal(cli_spec_add(&s, text, &err), 0);
        }
        int rc = cli_spec_env(&s, &none, out, sizeof(out), &err);
        if (gpus == 19) {
            assert_int_equal(rc, 0);
            assert_int_equal(strlen(out), 987);
            struct gv_limit rules[GV_MAX_GPUS];
            unsigned n = 0;
            assert_int_equal(gv_limits_parse(out, GV_LIMIT_SIZE, rules, GV_MAX_GPUS, &n, &err), 0);
            assert_int_equal(n, 19);
        } else {
            assert_int_equal(rc, -E2BIG);
            assert_string_equal(err.msg, "--memory: 20 GPUs' limits do not fit in 1023 characters");
            assert_string_equal(out, "");
        }
    }
}

static const char *devices_ok(const struct cli_gpus *g, const char *list)
{
    static char out[4096];
    struct gv_error err = {0};
    if (cli_devices_env(list, g, out, sizeof(out), &err) < 0)
        fail_msg("cli_devices_env(\"%s\"): %s", list, err.msg);
    return out;
}

static void devices_bad(const struct cli_gpus *g, const char *list, const char *needle)
{
    char out[4096];
    struct gv_error err = {0};
    if (cli_devices_env(list, g, out, sizeof(out), &err) >= 0)
        fail_msg("cli_devices_env(\"%s\") accepted: \"%s\"", list, out);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "--devices"))
        fail_msg("message for \"%s\" lacks \"%s\": %s", list, needle, err.msg);
}

static void test_devices(void **state)
{
    (void)state;
    assert_string_equal(devices_ok(&two, "1,0"), UUID1 "," UUID0);
    assert_string_equal(devices_ok(&two, "gpu-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"), UUID1);
    assert_string_equal(devices_ok(&none, "1,0," UUID1), "1,0," UUID1);
    devices_bad(&two, "", "empty list");
    devices_bad(&two, "0,", "empty entry");
    devices_bad(&two, "2", "out of range");
    devices_bad(&two, "x", "not a GPU index or UUID");
    devices_bad(&two, "0,0", "given twice");
    devices_bad(&two, "1," UUID1, "same GPU");
    devices_bad(&none, "1,1", "given twice");
    devices_bad(&two, "GPU-00000000-0000-0000-0000-000000000000", "not on this machine");
}

/* Random text from the characters that matter to the parsers: nothing may crash or overflow, an
 * accepted value resolves to a well-formed environment value, and a refusal has a message. */
static void test_random_text(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789=,*.%GPU-abcdefKMGTiB gk ";
    srand(1234);
    for (int round = 0; round < 20000; round++) {
        char text[96];
        size_t n = (size_t)(rand() % (int)(sizeof(text) - 1));
        for (size_t k = 0; k < n; k++)
            text[k] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
        text[n] = '\0';
        if (round % 3 == 0 && n > 8)
            memcpy(text, UUID0 "=1g", n < 44 ? n : 44);
        struct cli_spec s;
        struct gv_error err = {0};
        char out[8192];
        spec_init(&s, round % 2 == 0);
        const struct cli_gpus *g = round % 5 == 0 ? &none : &two;
        int rc = cli_spec_add(&s, text, &err);
        if (rc == 0)
            rc = cli_spec_env(&s, g, out, sizeof(out), &err);
        if (rc == 0) {
            assert_true(strlen(out) > 0);
            assert_null(strpbrk(out, " %"));
        } else {
            assert_true(rc < 0);
            assert_true(strlen(err.msg) > 0);
        }
        err = (struct gv_error){0};
        rc = cli_devices_env(text, g, out, sizeof(out), &err);
        assert_true(rc == 0 || strlen(err.msg) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_forms), cmocka_unit_test(test_memory_errors),
        cmocka_unit_test(test_env_length),   cmocka_unit_test(test_devices),
        cmocka_unit_test(test_random_text),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
