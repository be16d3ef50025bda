/* SPDX-License-Identifier: Apache-2.0 */
/* limits.c (fuzz): the limit strings (core/limits.c): gv_limits_parse and gv_limits_add, which the
 * interposer runs on its limit variables, and gv_limits_format, which `gpuvisor run` writes them
 * with.
 *
 * The text comes from a tenant's environment, inside the tenant's process: any bytes must give
 * rules or a message, never a crash or a write past the caller's array. The input's first byte
 * chooses the unit (size, share, percentage), the form (a whole variable, or one of HAMi-core's
 * per-GPU values) and how many of the 32 rules are taken already; the rest is the value.
 * Properties:
 *   - a refusal has a message and adds nothing; the rules already there are left alone;
 *   - what is accepted fits the array and keeps limits.h's invariants: ordinals 0 to 63, shares
 *     within [0, GV_SHARE_FULL] (0: no limit on that GPU) and percentages within (0,
 * GV_SHARE_FULL], and each value is exactly what gv_size_parse or strtoull makes of its item when
 * the text is read another way, with strtok_r on a copy (UUID keys are read by gv_uuid_parse, which
 *     fuzz/uuid.c checks on its own);
 *   - rules of sizes or shares that were read are written back by gv_limits_format into a text
 *     shorter than GV_LIMITS_TEXT_MAX, or refused as too long, and the text reads back into the
 *     same rules. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/size.h"
#include "fuzz/fuzz.h"
#include "core/limits.h"

#define CAP 32u

/* A VALUE read with the C library: *none where a percentage means no limit. */
static bool expect_value(const char *s, enum gv_limit_unit unit, uint64_t *v, bool *none)
{
    *none = false;
    if (unit == GV_LIMIT_SIZE)
        return gv_size_parse(s, v, NULL) == 0;
    if (!isdigit((unsigned char)s[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno)
        return false;
    if (unit == GV_LIMIT_SHARE) {
        *v = x;
        return x <= GV_SHARE_FULL;
    }
    if (x > 100)
        return false;
    *none = x == 0 || x == 100;
    *v = x * 100;
    return true;
}

/* Append the rule for one value, as the parser must. Returns false where it must refuse. */
static bool expect_add(const char *value, enum gv_limit_unit unit, struct gv_limit key,
                       struct gv_limit *out, unsigned *n)
{
    bool none;
    if (!expect_value(value, unit, &key.value, &none))
        return false;
    if (none)
        return true;
    if (*n >= CAP)
        return false;
    out[(*n)++] = key;
    return true;
}

/* The rules a whole variable's text must give after the `n` already there: the new count, or -1
 * where the text must be refused. */
static int expect_parse(const char *text, enum gv_limit_unit unit, struct gv_limit *out, unsigned n)
{
    const struct gv_limit all = {.key = GV_LIMIT_ALL, .ordinal = -1};
    if (!strchr(text, '='))
        return expect_add(text, unit, all, out, &n) ? (int)n : -1;
    if (strlen(text) >= GV_LIMITS_TEXT_MAX)
        return -1;
    char *copy = strdup(text);
    if (!copy)
        abort();
    char *save = NULL;
    bool ok = true;
    for (char *item = strtok_r(copy, ",", &save); ok && item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            ok = false;
            break;
        }
        *eq = '\0';
        struct gv_limit key = all;
        char *end;
        if (strcmp(item, "*") == 0) {
            /* every GPU */
        } else if (isdigit((unsigned char)item[0]) && (strtoul(item, &end, 10), *end == '\0')) {
            errno = 0;
            unsigned long ord = strtoul(item, NULL, 10);
            if (errno || ord >= GV_MAX_GPUS) {
                ok = false;
                break;
            }
            key.key = GV_LIMIT_ORDINAL;
            key.ordinal = (int)ord;
        } else if (gv_uuid_parse(item, strlen(item), 0, key.uuid, NULL) == 0) {
            key.key = GV_LIMIT_UUID;
        } else {
            ok = false;
            break;
        }
        ok = expect_add(eq + 1, unit, key, out, &n);
    }
    free(copy);
    return ok ? (int)n : -1;
}

static void check_rule(const struct gv_limit *got, const struct gv_limit *want,
                       enum gv_limit_unit unit)
{
    static const uint8_t zero[GV_UUID_LEN];
    fuzz_check(got->key == want->key);
    fuzz_check(got->ordinal == want->ordinal);
    fuzz_check(got->value == want->value);
    if (got->key == GV_LIMIT_ORDINAL)
        fuzz_check(got->ordinal >= 0 && got->ordinal < GV_MAX_GPUS);
    else
        fuzz_check(got->ordinal == -1);
    if (got->key == GV_LIMIT_UUID)
        fuzz_check(memcmp(got->uuid, want->uuid, GV_UUID_LEN) == 0);
    else
        fuzz_check(memcmp(got->uuid, zero, GV_UUID_LEN) == 0);
    if (unit == GV_LIMIT_SHARE)
        fuzz_check(got->value <= GV_SHARE_FULL);
    if (unit == GV_LIMIT_PERCENT)
        fuzz_check(got->value > 0 && got->value <= GV_SHARE_FULL);
    if (unit == GV_LIMIT_PERCENT)
        fuzz_check(got->value % 100 == 0);
}

/* Write rules[from, n) back and read the text again: the same rules, or a text too long. */
static void write_back(const struct gv_limit *rules, unsigned n, enum gv_limit_unit unit)
{
    if (n == 0 || unit == GV_LIMIT_PERCENT)
        return;
    char text[GV_LIMITS_TEXT_MAX];
    struct gv_error err = {0};
    int rc = gv_limits_format(rules, n, unit, text, sizeof(text), &err);
    fuzz_check(fuzz_msg_ok(err));
    if (rc < 0) {
        fuzz_check(rc == -E2BIG && err.code == rc && text[0] == '\0');
        return;
    }
    fuzz_check(rc == 0 && strlen(text) < GV_LIMITS_TEXT_MAX);
    struct gv_limit back[CAP];
    unsigned m = 0;
    fuzz_check(gv_limits_parse(text, unit, back, CAP, &m, &err) == 0);
    fuzz_check(m == n);
    for (unsigned i = 0; i < n; i++)
        check_rule(&back[i], &rules[i], unit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t how = data[0];
    enum gv_limit_unit unit = (enum gv_limit_unit)(how % 3);
    bool hami = (how / 3) % 2;
    unsigned taken = (unsigned)(how / 6) % (CAP + 1);
    char *text = fuzz_string(data + 1, size - 1);

    /* Exactly CAP rules on the heap, so that a write past them is AddressSanitizer's to see. */
    struct gv_limit *rules = malloc(CAP * sizeof(*rules));
    struct gv_limit want[CAP];
    if (!rules)
        abort();
    memset(rules, 0x5a, CAP * sizeof(*rules));
    memset(want, 0x5a, sizeof(want));
    struct gv_limit before[CAP];
    memcpy(before, rules, sizeof(before));

    struct gv_error err = {0};
    unsigned n = taken;
    int rc, expected;
    if (hami) {
        /* HAMi-core's CUDA_DEVICE_..._5: the key's uuid is not the rule's. */
        struct gv_limit key = {.key = GV_LIMIT_ORDINAL, .ordinal = 5};
        memset(key.uuid, 0xff, sizeof(key.uuid));
        rc = gv_limits_add(text, unit, &key, rules, CAP, &n, &err);
        unsigned m = taken;
        memset(key.uuid, 0, sizeof(key.uuid));
        expected = expect_add(text, unit, key, want, &m) ? (int)m : -1;
    } else {
        rc = gv_limits_parse(text, unit, rules, CAP, &n, &err);
        expected = expect_parse(text, unit, want, taken);
    }

    fuzz_check(rc <= 0);
    fuzz_check((rc == 0) == (expected >= 0));
    fuzz_check(memcmp(rules, before, taken * sizeof(*rules)) == 0);
    if (rc == 0) {
        fuzz_check(n >= taken && n <= CAP);
        fuzz_check(n == (unsigned)expected);
        for (unsigned i = taken; i < n; i++)
            check_rule(&rules[i], &want[i], unit);
    } else {
        fuzz_check(n == taken);
        fuzz_check(err.code == rc && fuzz_msg_ok(err) && err.msg[0] != '\0');
    }

    if (rc == 0)
        write_back(rules + taken, n - taken, unit);
    free(rules);
    free(text);
    return 0;
}
