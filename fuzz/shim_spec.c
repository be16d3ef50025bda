/* shim_spec.c (fuzz): the interposer's limit variables, gvs_spec_parse and gvs_spec_add
 * (shim/spec.c), and the UUIDs they and the NVML wrappers read, gvs_parse_uuid.
 *
 * The text comes from a tenant's environment, inside the tenant's process: any bytes must give
 * rules or a message, never a crash or a write past the caller's array. The input's first byte
 * chooses the unit (size, share, percentage), the form (a whole variable, or one of HAMi-core's
 * per-GPU values) and how many of the 32 rules are taken already; the rest is the value.
 * Properties:
 *   - a refusal has a message and adds nothing; the rules already there are left alone;
 *   - what is accepted fits the array and keeps spec.h's invariants: ordinals 0 to 63, shares and
 *     within [0, GV_SHARE_FULL] (0: no limit on that GPU) and percentages within
 *     (0, GV_SHARE_FULL], and each value is exactly what gv_size_parse or
 *     strtoull makes of its item when the text is read another way, with strtok_r on a copy;
 *   - a UUID that parses prints back as the same 16 bytes. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/size.h"
#include "fuzz/fuzz.h"
#include "shim/spec.h"

#define CAP 32u

/* A VALUE read with the C library: *none where a percentage means no limit. */
static bool expect_value(const char *s, enum gvs_unit unit, uint64_t *v, bool *none)
{
    *none = false;
    if (unit == GVS_SIZE)
        return gv_size_parse(s, v, NULL) == 0;
    if (!isdigit((unsigned char)s[0]))
        return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (*end || errno)
        return false;
    if (unit == GVS_SHARE) {
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
static bool expect_add(const char *value, enum gvs_unit unit, struct gvs_rule key,
                       struct gvs_rule *out, unsigned *n)
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
static int expect_parse(const char *text, enum gvs_unit unit, struct gvs_rule *out, unsigned n)
{
    const struct gvs_rule all = {.key = GVS_KEY_ALL, .ordinal = -1};
    if (!strchr(text, '='))
        return expect_add(text, unit, all, out, &n) ? (int)n : -1;
    if (strlen(text) >= GVS_SPEC_MAX_TEXT)
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
        struct gvs_rule key = all;
        char *end;
        if (strcmp(item, "*") == 0) {
            /* every GPU */
        } else if (isdigit((unsigned char)item[0]) && (strtoul(item, &end, 10), *end == '\0')) {
            errno = 0;
            unsigned long ord = strtoul(item, NULL, 10);
            if (errno || ord >= GVS_SPEC_ORDINALS) {
                ok = false;
                break;
            }
            key.key = GVS_KEY_ORDINAL;
            key.ordinal = (int)ord;
        } else if (gvs_parse_uuid(item, strlen(item), key.uuid)) {
            key.key = GVS_KEY_UUID;
        } else {
            ok = false;
            break;
        }
        ok = expect_add(eq + 1, unit, key, out, &n);
    }
    free(copy);
    return ok ? (int)n : -1;
}

static void check_rule(const struct gvs_rule *got, const struct gvs_rule *want, enum gvs_unit unit)
{
    static const uint8_t zero[16];
    fuzz_check(got->key == want->key);
    fuzz_check(got->ordinal == want->ordinal);
    fuzz_check(got->value == want->value);
    if (got->key == GVS_KEY_ORDINAL)
        fuzz_check(got->ordinal >= 0 && got->ordinal < GVS_SPEC_ORDINALS);
    else
        fuzz_check(got->ordinal == -1);
    if (got->key == GVS_KEY_UUID)
        fuzz_check(memcmp(got->uuid, want->uuid, 16) == 0);
    else
        fuzz_check(memcmp(got->uuid, zero, 16) == 0);
    if (unit == GVS_SHARE)
        fuzz_check(got->value <= GV_SHARE_FULL);
    if (unit == GVS_PERCENT)
        fuzz_check(got->value > 0 && got->value <= GV_SHARE_FULL);
    if (unit == GVS_PERCENT)
        fuzz_check(got->value % 100 == 0);
}

static void uuid_round_trip(const uint8_t *data, size_t size)
{
    uint8_t raw[16], again[16];
    if (!gvs_parse_uuid((const char *)data, size, raw))
        return;
    char text[64] = "GPU-";
    for (int i = 0; i < 16; i++)
        snprintf(text + 4 + 2 * i, 3, "%02x", raw[i]);
    fuzz_check(gvs_parse_uuid(text, strlen(text), again));
    fuzz_check(memcmp(raw, again, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t how = data[0];
    enum gvs_unit unit = (enum gvs_unit)(how % 3);
    bool hami = (how / 3) % 2;
    unsigned taken = (unsigned)(how / 6) % (CAP + 1);
    char *text = fuzz_string(data + 1, size - 1);

    /* Exactly CAP rules on the heap, so that a write past them is AddressSanitizer's to see. */
    struct gvs_rule *rules = malloc(CAP * sizeof(*rules));
    struct gvs_rule want[CAP];
    if (!rules)
        abort();
    memset(rules, 0x5a, CAP * sizeof(*rules));
    memset(want, 0x5a, sizeof(want));
    struct gvs_rule before[CAP];
    memcpy(before, rules, sizeof(before));

    struct gv_error err = {0};
    unsigned n = taken;
    int rc, expected;
    if (hami) {
        /* HAMi-core's CUDA_DEVICE_..._5: the key's uuid is not the rule's. */
        struct gvs_rule key = {.key = GVS_KEY_ORDINAL, .ordinal = 5};
        memset(key.uuid, 0xff, sizeof(key.uuid));
        rc = gvs_spec_add(text, unit, &key, rules, CAP, &n, &err);
        unsigned m = taken;
        memset(key.uuid, 0, sizeof(key.uuid));
        expected = expect_add(text, unit, key, want, &m) ? (int)m : -1;
    } else {
        rc = gvs_spec_parse(text, unit, rules, CAP, &n, &err);
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
    free(rules);
    free(text);

    uuid_round_trip(data + 1, size - 1);
    return 0;
}
