/* SPDX-License-Identifier: Apache-2.0 */
/* limits.c: reading and writing limit strings (limits.h says what they are).
 *
 * The reader's text comes from a tenant's environment, so any bytes must give rules or a message,
 * and the message is what a user sees on the tenant's stderr when a limit cannot be read (the
 * process is then refused device memory, not left unlimited): it quotes the item or the key at
 * fault. A keyed value is read item by item, each copied into a buffer on the stack so that its key
 * and its value become strings of their own without writing to the caller's text or allocating.
 * Keys are tried in a fixed order, "*", then an ordinal (digits only), then a UUID: a key of 32
 * decimal digits is an ordinal out of range, never a UUID.
 *
 * The writer checks each rule against what the reader accepts and the whole against
 * GV_LIMITS_TEXT_MAX, so that a string gpuvisor writes is never one the interposer refuses. */
#include "core/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/size.h"

/* How a message names a VALUE of each unit. */
static const char *const unit_word[] = {
    [GV_LIMIT_SIZE] = "SIZE",
    [GV_LIMIT_SHARE] = "SHARE",
    [GV_LIMIT_PERCENT] = "PERCENT",
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number in plain decimal digits and nothing else: no sign, no space, no unit, as gpuvisor
 * writes shares and HAMi-core's deployments write percentages. Saturates at UINT64_MAX, which every
 * caller's bound is far below, so that a long run of digits is out of range rather than wrapped. */
static bool digits(const char *s, uint64_t *out)
{
    if (!is_digit(*s))
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (!is_digit(*s))
            return false;
        unsigned d = (unsigned)(*s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

static bool known_unit(enum gv_limit_unit unit)
{
    return unit == GV_LIMIT_SIZE || unit == GV_LIMIT_SHARE || unit == GV_LIMIT_PERCENT;
}

/* One VALUE of a unit known_unit() has let through. A percentage comes back in basis points, 0
 * where HAMi-core means no limit. */
static int parse_value(const char *text, enum gv_limit_unit unit, uint64_t *value,
                       struct gv_error *err)
{
    uint64_t v = 0;
    if (unit == GV_LIMIT_SIZE)
        return gv_size_parse(text, value, err);
    if (unit == GV_LIMIT_SHARE) {
        /* 0 is no limit on that GPU, as in HAMi-core: kept as a rule, so that it overrides "*". */
        if (!digits(text, &v) || v > GV_SHARE_FULL)
            return gv_error_set(err, -EINVAL,
                                "\"%s\": expected a share in basis points, 0 to %u (2500 = 25%%, "
                                "0 = no limit)",
                                text, GV_SHARE_FULL);
        *value = v;
        return 0;
    }
    if (!digits(text, &v) || v > 100)
        return gv_error_set(err, -EINVAL, "\"%s\": expected a percentage, 0 to 100", text);
    *value = v == 100 ? 0 : v * 100;
    return 0;
}

int gv_limits_add(const char *text, enum gv_limit_unit unit, const struct gv_limit *key,
                  struct gv_limit *rules, unsigned cap, unsigned *n, struct gv_error *err)
{
    if (!known_unit(unit))
        return gv_error_set(err, -EINVAL, "unknown kind of value %d", (int)unit);
    uint64_t value;
    int rc = parse_value(text, unit, &value, err);
    if (rc < 0)
        return rc;
    if (unit == GV_LIMIT_PERCENT && value == 0)
        return 0;
    /* The value is read before the room is checked: a bad value is the more useful message. */
    if (*n >= cap)
        return gv_error_set(err, -ENOSPC, "too many entries (at most %u)", cap);
    struct gv_limit *r = &rules[(*n)++];
    memset(r, 0, sizeof(*r));
    r->key = key->key;
    r->ordinal = key->key == GV_LIMIT_ORDINAL ? key->ordinal : -1;
    if (key->key == GV_LIMIT_UUID)
        memcpy(r->uuid, key->uuid, sizeof(r->uuid));
    r->value = value;
    return 0;
}

/* One "KEY=VALUE" item, in a buffer of its own that it may cut in two. */
static int add_item(char *item, enum gv_limit_unit unit, struct gv_limit *rules, unsigned cap,
                    unsigned *n, struct gv_error *err)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return gv_error_set(err, -EINVAL, "\"%s\": expected KEY=%s", item, unit_word[unit]);
    *eq = '\0';
    const char *key = item, *value = eq + 1;
    struct gv_limit k = {.key = GV_LIMIT_ALL, .ordinal = -1};
    uint64_t ordinal;
    if (strcmp(key, "*") == 0) {
        /* every GPU: k as it is */
    } else if (digits(key, &ordinal)) {
        if (ordinal >= GV_MAX_GPUS)
            return gv_error_set(err, -ERANGE, "device \"%s\" out of range (0 to %d)", key,
                                GV_MAX_GPUS - 1);
        k.key = GV_LIMIT_ORDINAL;
        k.ordinal = (int)ordinal;
    } else if (gv_uuid_parse(key, strlen(key), 0, k.uuid, NULL) == 0) {
        k.key = GV_LIMIT_UUID;
    } else if (strncasecmp(key, "GPU-", 4) == 0 || strncasecmp(key, "MIG-", 4) == 0) {
        /* Meant as a UUID: the UUID reader says what is wrong with it. */
        return gv_uuid_parse(key, strlen(key), 0, k.uuid, err);
    } else {
        return gv_error_set(err, -EINVAL, "\"%s\": not a device index or GPU UUID", key);
    }
    return gv_limits_add(value, unit, &k, rules, cap, n, err);
}

int gv_limits_parse(const char *text, enum gv_limit_unit unit, struct gv_limit *rules, unsigned cap,
                    unsigned *n, struct gv_error *err)
{
    if (!known_unit(unit))
        return gv_error_set(err, -EINVAL, "unknown kind of value %d", (int)unit);
    if (!strchr(text, '=')) {
        const struct gv_limit all = {.key = GV_LIMIT_ALL, .ordinal = -1};
        return gv_limits_add(text, unit, &all, rules, cap, n, err);
    }
    size_t len = strlen(text);
    if (len >= GV_LIMITS_TEXT_MAX)
        return gv_error_set(err, -E2BIG, "too long (%zu characters, at most %d with keys)", len,
                            GV_LIMITS_TEXT_MAX - 1);
    /* Rules are counted apart and *n moved at the end, so that a value refused half-way adds
     * nothing. */
    unsigned count = *n;
    for (const char *p = text; *p;) {
        size_t ilen = strcspn(p, ",");
        if (ilen == 0) {
            p++; /* an empty item, as in "0=1GiB,,1=2GiB" or a trailing comma */
            continue;
        }
        char item[GV_LIMITS_TEXT_MAX];
        memcpy(item, p, ilen);
        item[ilen] = '\0';
        p += ilen;
        int rc = add_item(item, unit, rules, cap, &count, err);
        if (rc < 0)
            return rc;
    }
    *n = count;
    return 0;
}

/* snprintf onto the end of out, within limit bytes; false when it does not fit. */
__attribute__((format(printf, 4, 5))) static bool append(char *out, size_t limit, size_t *at,
                                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + *at, limit - *at, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= limit - *at)
        return false;
    *at += (size_t)k;
    return true;
}

/* Would the reader take this rule back as it is? */
static int check_rule(const struct gv_limit *r, unsigned i, enum gv_limit_unit unit,
                      struct gv_error *err)
{
    switch (r->key) {
    case GV_LIMIT_ALL:
    case GV_LIMIT_UUID:
        break;
    case GV_LIMIT_ORDINAL:
        if (r->ordinal < 0 || r->ordinal >= GV_MAX_GPUS)
            return gv_error_set(err, -EINVAL, "rule %u: device %d out of range (0 to %d)", i,
                                r->ordinal, GV_MAX_GPUS - 1);
        break;
    default:
        return gv_error_set(err, -EINVAL, "rule %u: unknown kind of key %d", i, (int)r->key);
    }
    if (unit == GV_LIMIT_SHARE && r->value > GV_SHARE_FULL)
        return gv_error_set(err, -EINVAL,
                            "rule %u: a share of %" PRIu64 " basis points (0 to %u allowed)", i,
                            r->value, GV_SHARE_FULL);
    return 0;
}

int gv_limits_format(const struct gv_limit *rules, unsigned n, enum gv_limit_unit unit, char *out,
                     size_t len, struct gv_error *err)
{
    if (len)
        out[0] = '\0';
    if (unit != GV_LIMIT_SIZE && unit != GV_LIMIT_SHARE)
        return gv_error_set(err, -EINVAL, "cannot write values of kind %d (only sizes and shares)",
                            (int)unit);
    if (n == 0)
        return gv_error_set(err, -EINVAL, "no limits to write");
    for (unsigned i = 0; i < n; i++) {
        int rc = check_rule(&rules[i], i, unit, err);
        if (rc < 0)
            return rc;
    }
    /* What the reader takes: a keyed text shorter than GV_LIMITS_TEXT_MAX, which is also the
     * longest a plain number can be. */
    size_t limit = len < GV_LIMITS_TEXT_MAX ? len : GV_LIMITS_TEXT_MAX;
    size_t at = 0;
    bool ok = true;
    if (n == 1 && rules[0].key == GV_LIMIT_ALL) {
        ok = append(out, limit, &at, "%" PRIu64, rules[0].value);
    } else {
        for (unsigned i = 0; ok && i < n; i++) {
            char key[GV_UUID_TEXT];
            if (rules[i].key == GV_LIMIT_ALL)
                snprintf(key, sizeof(key), "*");
            else if (rules[i].key == GV_LIMIT_ORDINAL)
                snprintf(key, sizeof(key), "%d", rules[i].ordinal);
            else
                gv_uuid_format(rules[i].uuid, key);
            ok = append(out, limit, &at, "%s%s=%" PRIu64, i ? "," : "", key, rules[i].value);
        }
    }
    if (!ok) {
        if (len)
            out[0] = '\0';
        return gv_error_set(err, -E2BIG, "%u GPUs' limits do not fit in %zu characters", n,
                            limit ? limit - 1 : 0);
    }
    return 0;
}

const struct gv_limit *gv_limits_find(const struct gv_limit *rules, unsigned n, int ordinal,
                                      const uint8_t uuid[GV_UUID_LEN])
{
    const struct gv_limit *by_ordinal = NULL, *by_all = NULL;
    for (unsigned i = 0; i < n; i++) {
        const struct gv_limit *r = &rules[i];
        if (r->key == GV_LIMIT_UUID && uuid && memcmp(r->uuid, uuid, GV_UUID_LEN) == 0)
            return r;
        if (r->key == GV_LIMIT_ORDINAL && ordinal >= 0 && r->ordinal == ordinal)
            by_ordinal = r;
        if (r->key == GV_LIMIT_ALL)
            by_all = r;
    }
    return by_ordinal ? by_ordinal : by_all;
}
