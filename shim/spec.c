/* spec.c: reading one limit variable's value into rules (spec.h says what the values are).
 *
 * The text comes from a tenant's environment, so any bytes must give rules or a message, and the
 * message is what a user sees on the tenant's stderr when a limit cannot be read (the process is
 * then refused device memory, not left unlimited): it quotes the item or the key at fault. A keyed
 * value is read item by item, each copied into a buffer on the stack so that its key and its value
 * become strings of their own without writing to the caller's text or allocating. Keys are tried
 * in a fixed order, "*", then an ordinal (digits only), then a UUID: a key of 32 decimal digits is
 * an ordinal out of range, never a UUID. */
#include "shim/spec.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/size.h"

/* How a message names a VALUE of each unit. */
static const char *const unit_word[] = {
    [GVS_SIZE] = "SIZE",
    [GVS_SHARE] = "SHARE",
    [GVS_PERCENT] = "PERCENT",
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool gvs_parse_uuid(const char *s, size_t len, uint8_t out[16])
{
    if (len >= 4 && strncasecmp(s, "GPU-", 4) == 0) {
        s += 4;
        len -= 4;
    }
    unsigned n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            continue;
        int v = hex_value(s[i]);
        if (v < 0 || n >= 32)
            return false;
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    return n == 32;
}

/* A number in plain decimal digits and nothing else: no sign, no space, no unit, as the CLI writes
 * shares and HAMi-core's deployments write percentages. Saturates at UINT64_MAX, which every
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

static bool known_unit(enum gvs_unit unit)
{
    return unit == GVS_SIZE || unit == GVS_SHARE || unit == GVS_PERCENT;
}

/* One VALUE of a unit known_unit() has let through. A percentage comes back in basis points, 0
 * where HAMi-core means no limit. */
static int parse_value(const char *text, enum gvs_unit unit, uint64_t *value, struct gv_error *err)
{
    uint64_t v = 0;
    if (unit == GVS_SIZE)
        return gv_size_parse(text, value, err);
    if (unit == GVS_SHARE) {
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

int gvs_spec_add(const char *text, enum gvs_unit unit, const struct gvs_rule *key,
                 struct gvs_rule *rules, unsigned cap, unsigned *n, struct gv_error *err)
{
    if (!known_unit(unit))
        return gv_error_set(err, -EINVAL, "unknown kind of value %d", (int)unit);
    uint64_t value;
    int rc = parse_value(text, unit, &value, err);
    if (rc < 0)
        return rc;
    if (unit == GVS_PERCENT && value == 0)
        return 0;
    /* The value is read before the room is checked: a bad value is the more useful message. */
    if (*n >= cap)
        return gv_error_set(err, -ENOSPC, "too many entries (at most %u)", cap);
    struct gvs_rule *r = &rules[(*n)++];
    memset(r, 0, sizeof(*r));
    r->key = key->key;
    r->ordinal = key->key == GVS_KEY_ORDINAL ? key->ordinal : -1;
    if (key->key == GVS_KEY_UUID)
        memcpy(r->uuid, key->uuid, sizeof(r->uuid));
    r->value = value;
    return 0;
}

/* One "KEY=VALUE" item, in a buffer of its own that it may cut in two. */
static int add_item(char *item, enum gvs_unit unit, struct gvs_rule *rules, unsigned cap,
                    unsigned *n, struct gv_error *err)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return gv_error_set(err, -EINVAL, "\"%s\": expected KEY=%s", item, unit_word[unit]);
    *eq = '\0';
    const char *key = item, *value = eq + 1;
    struct gvs_rule k = {.key = GVS_KEY_ALL, .ordinal = -1};
    uint64_t ordinal;
    if (strcmp(key, "*") == 0) {
        /* every GPU: k as it is */
    } else if (digits(key, &ordinal)) {
        if (ordinal >= GVS_SPEC_ORDINALS)
            return gv_error_set(err, -ERANGE, "device \"%s\" out of range", key);
        k.key = GVS_KEY_ORDINAL;
        k.ordinal = (int)ordinal;
    } else if (gvs_parse_uuid(key, strlen(key), k.uuid)) {
        k.key = GVS_KEY_UUID;
    } else {
        return gv_error_set(err, -EINVAL, "\"%s\": not a device index or GPU UUID", key);
    }
    return gvs_spec_add(value, unit, &k, rules, cap, n, err);
}

int gvs_spec_parse(const char *text, enum gvs_unit unit, struct gvs_rule *rules, unsigned cap,
                   unsigned *n, struct gv_error *err)
{
    if (!known_unit(unit))
        return gv_error_set(err, -EINVAL, "unknown kind of value %d", (int)unit);
    if (!strchr(text, '=')) {
        const struct gvs_rule all = {.key = GVS_KEY_ALL, .ordinal = -1};
        return gvs_spec_add(text, unit, &all, rules, cap, n, err);
    }
    size_t len = strlen(text);
    if (len >= GVS_SPEC_MAX_TEXT)
        return gv_error_set(err, -E2BIG, "too long");
    /* Rules are counted apart and *n moved at the end, so that a value refused half-way adds
     * nothing. */
    unsigned count = *n;
    for (const char *p = text; *p;) {
        size_t ilen = strcspn(p, ",");
        if (ilen == 0) {
            p++; /* an empty item, as in "0=1GiB,,1=2GiB" or a trailing comma */
            continue;
        }
        char item[GVS_SPEC_MAX_TEXT];
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
