/* SPDX-License-Identifier: Apache-2.0 */
/* timeslice.c: reading and writing a time slice (timeslice.h). Exact: the value is a whole number
 * of microseconds, so "2.5ms" is 2500 us and "1.0001ms" is refused rather than rounded. */
#include "core/timeslice.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define UNITS "ms, us or s"

int gv_timeslice_parse(const char *text, uint64_t *ns, struct gv_error *err)
{
    const char *s = text ? text : "";
    const char *p = s;
    /* Integer and fraction digits, kept as a count of 10^-9 of the unit, in 128 bits. */
    unsigned __int128 nano = 0;
    bool digits = false;
    while (isdigit((unsigned char)*p)) {
        nano = nano * 10 + (unsigned)(*p++ - '0');
        digits = true;
        if (nano > 1000000000ULL)
            return gv_error_set(err, -ERANGE, "time slice \"%.32s\": too long (1ms to 30ms)", s);
    }
    nano *= 1000000000ULL;
    if (*p == '.') {
        p++;
        unsigned __int128 place = 100000000ULL;
        if (!isdigit((unsigned char)*p))
            return gv_error_set(err, -EINVAL, "time slice \"%.32s\": not a number (e.g. 5ms)", s);
        while (isdigit((unsigned char)*p)) {
            if (place == 0)
                return gv_error_set(err, -EINVAL, "time slice \"%.32s\": too many decimals", s);
            nano += place * (unsigned)(*p++ - '0');
            place /= 10;
            digits = true;
        }
    }
    if (!digits)
        return gv_error_set(err, -EINVAL,
                            "time slice \"%.32s\": not a time (a number and " UNITS ", e.g. 5ms)",
                            s);
    /* nano counts 1e-9 of the unit: the unit in nanoseconds scales it. */
    unsigned __int128 v;
    if (*p == 0 || strcasecmp(p, "ms") == 0)
        v = nano * 1000000ULL;
    else if (strcasecmp(p, "us") == 0)
        v = nano * 1000ULL;
    else if (strcasecmp(p, "s") == 0)
        v = nano * 1000000000ULL;
    else
        return gv_error_set(err, -EINVAL, "time slice \"%.32s\": unit \"%.8s\" is not " UNITS, s,
                            p);
    if (v % 1000000000ULL)
        return gv_error_set(err, -EINVAL,
                            "time slice \"%.32s\": not a whole number of nanoseconds", s);
    v /= 1000000000ULL;
    if (v % 1000ULL)
        return gv_error_set(err, -EINVAL,
                            "time slice \"%.32s\": not a whole number of microseconds", s);
    if (v < GV_TIMESLICE_MIN_NS || v > GV_TIMESLICE_MAX_NS)
        return gv_error_set(err, -ERANGE, "time slice \"%.32s\": out of range (1ms to 30ms)", s);
    *ns = (uint64_t)v;
    return 0;
}

char *gv_timeslice_format(uint64_t ns, char *buf, size_t len)
{
    uint64_t us = ns / 1000, ms = us / 1000, frac = us % 1000;
    if (frac == 0) {
        snprintf(buf, len, "%llums", (unsigned long long)ms);
    } else {
        char f[4];
        snprintf(f, sizeof(f), "%03llu", (unsigned long long)frac);
        for (int i = 2; i > 0 && f[i] == '0'; i--)
            f[i] = 0;
        snprintf(buf, len, "%llu.%sms", (unsigned long long)ms, f);
    }
    return buf;
}
