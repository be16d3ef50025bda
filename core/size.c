/* SPDX-License-Identifier: Apache-2.0 */
/* size.c: parsing and printing of byte sizes and compute shares.
 *
 * A number is an integer part and an optional fraction of up to nine digits; the value in bytes is
 * computed exactly in 128-bit arithmetic, so "1.5GiB" is 1610612736 and "1.1B" is refused rather
 * than rounded. Shares are basis points, so "12.5%" is 1250 exactly. */
#include "core/size.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SIZE_UNITS "B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB, or k, m, g, t"

struct unit {
    const char *name;
    uint64_t mult;
};

static const struct unit units[] = {
    {"", 1},
    {"b", 1},
    {"k", GV_KiB},
    {"m", GV_MiB},
    {"g", GV_GiB},
    {"t", GV_TiB},
    {"kib", GV_KiB},
    {"mib", GV_MiB},
    {"gib", GV_GiB},
    {"tib", GV_TiB},
    {"kb", 1000ULL},
    {"mb", 1000ULL * 1000},
    {"gb", 1000ULL * 1000 * 1000},
    {"tb", 1000ULL * 1000 * 1000 * 1000},
};

/* A decimal number "123" or "123.456" at *p: integer part, fraction numerator and its scale
 * (a power of ten). Advances *p. Returns 0, -EINVAL (no digits, too many decimals) or -ERANGE. */
static int parse_decimal(const char **p, unsigned max_decimals, uint64_t *ipart, uint64_t *frac,
                         uint64_t *scale)
{
    const char *s = *p;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;
    while (isdigit((unsigned char)*s)) {
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return -ERANGE;
        s++;
    }
    uint64_t f = 0, sc = 1;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        unsigned n = 0;
        while (isdigit((unsigned char)*s)) {
            if (++n > max_decimals)
                return -EDOM;
            f = f * 10 + (uint64_t)(*s - '0');
            sc *= 10;
            s++;
        }
    }
    *p = s;
    *ipart = v;
    *frac = f;
    *scale = sc;
    return 0;
}

int gv_size_parse(const char *text, uint64_t *bytes, struct gv_error *err)
{
    if (!text || !*text)
        return gv_error_set(err, -EINVAL,
                            "empty size (write a number of bytes or a number with a "
                            "unit: " SIZE_UNITS ")");
    const char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-')
        return gv_error_set(err, -EINVAL, "size \"%s\": negative sizes are not allowed", text);
    if (*s == '+')
        s++;
    uint64_t ipart, frac, scale;
    int rc = parse_decimal(&s, 9, &ipart, &frac, &scale);
    if (rc == -ERANGE)
        return gv_error_set(err, -ERANGE, "size \"%s\": too large (at most 16 EiB)", text);
    if (rc == -EDOM)
        return gv_error_set(err, -EINVAL, "size \"%s\": too many decimals (at most 9)", text);
    if (rc)
        return gv_error_set(err, -EINVAL,
                            "size \"%s\": not a number (write e.g. 2GiB, 512MiB, 1.5GiB, 16GB, 4g)",
                            text);
    if (*s == ' ')
        s++;
    const char *u = s;
    size_t ulen = 0;
    while (isalpha((unsigned char)u[ulen]))
        ulen++;
    const char *rest = u + ulen;
    while (isspace((unsigned char)*rest))
        rest++;
    if (*rest)
        return gv_error_set(err, -EINVAL, "size \"%s\": unexpected \"%s\" (use " SIZE_UNITS ")",
                            text, u);
    const struct unit *unit = NULL;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strlen(units[i].name) == ulen && strncasecmp(units[i].name, u, ulen) == 0) {
            unit = &units[i];
            break;
        }
    }
    if (!unit)
        return gv_error_set(err, -EINVAL, "size \"%s\": unknown unit \"%.*s\" (use " SIZE_UNITS ")",
                            text, (int)ulen, u);
    unsigned __int128 whole = (unsigned __int128)ipart * unit->mult;
    unsigned __int128 part = (unsigned __int128)frac * unit->mult;
    if (part % scale)
        return gv_error_set(err, -EINVAL, "size \"%s\": not a whole number of bytes", text);
    whole += part / scale;
    if (whole > UINT64_MAX)
        return gv_error_set(err, -ERANGE, "size \"%s\": too large (at most 16 EiB)", text);
    *bytes = (uint64_t)whole;
    return 0;
}

char *gv_size_format(uint64_t bytes, char *buf, size_t len)
{
    /* No PiB or EiB: gv_size_parse does not take them (no GPU is near that size, and "16EiB" is
     * past what 64 bits hold), and what is printed must parse back. Larger sizes print in TiB. */
    static const char *const names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    /* The largest unit in which the size is exact to two decimals. */
    for (int i = 4; i > 0; i--) {
        uint64_t mult = 1ULL << (10 * i);
        if (bytes < mult)
            continue;
        unsigned __int128 hundredths = (unsigned __int128)bytes * 100;
        if (hundredths % mult)
            continue;
        uint64_t h = (uint64_t)(hundredths / mult);
        if (h % 100 == 0)
            snprintf(buf, len, "%" PRIu64 " %s", h / 100, names[i]);
        else if (h % 10 == 0)
            snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", h / 100, (h / 10) % 10, names[i]);
        else
            snprintf(buf, len, "%" PRIu64 ".%02" PRIu64 " %s", h / 100, h % 100, names[i]);
        return buf;
    }
    snprintf(buf, len, "%" PRIu64 " B", bytes);
    return buf;
}

int gv_share_parse(const char *text, uint32_t *share, struct gv_error *err)
{
    if (!text || !*text)
        return gv_error_set(err, -EINVAL,
                            "empty compute share (write a percentage such as 25 or "
                            "12.5%%)");
    const char *s = text;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-')
        return gv_error_set(err, -EINVAL, "compute share \"%s\": must be more than 0%%", text);
    uint64_t ipart, frac, scale;
    int rc = parse_decimal(&s, 2, &ipart, &frac, &scale);
    if (rc == -EDOM)
        return gv_error_set(
            err, -EINVAL, "compute share \"%s\": at most two decimals (e.g. 12.5 or 33.33)", text);
    if (rc == -ERANGE)
        return gv_error_set(err, -ERANGE, "compute share \"%s\": must be at most 100%%", text);
    if (rc)
        return gv_error_set(
            err, -EINVAL, "compute share \"%s\": not a percentage (write e.g. 25, 25%% or 12.5%%)",
            text);
    if (*s == ' ')
        s++;
    if (*s == '%')
        s++;
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return gv_error_set(
            err, -EINVAL, "compute share \"%s\": unexpected \"%s\" (write e.g. 25, 25%% or 12.5%%)",
            text, s);
    if (ipart > 100)
        return gv_error_set(err, -ERANGE, "compute share \"%s\": must be at most 100%%", text);
    uint64_t bp = ipart * 100 + frac * (100 / scale);
    if (bp == 0)
        return gv_error_set(err, -ERANGE, "compute share \"%s\": must be more than 0%%", text);
    if (bp > GV_SHARE_FULL)
        return gv_error_set(err, -ERANGE, "compute share \"%s\": must be at most 100%%", text);
    *share = (uint32_t)bp;
    return 0;
}

char *gv_share_format(uint32_t share, char *buf, size_t len)
{
    uint32_t i = share / 100, f = share % 100;
    if (f == 0)
        snprintf(buf, len, "%u%%", i);
    else if (f % 10 == 0)
        snprintf(buf, len, "%u.%u%%", i, f / 10);
    else
        snprintf(buf, len, "%u.%02u%%", i, f);
    return buf;
}
