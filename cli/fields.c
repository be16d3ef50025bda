/* SPDX-License-Identifier: Apache-2.0 */
/* fields.c: the daemon's JSON values as table cells.
 *
 * The daemon speaks in bytes and in percent (numbers); people read "4 GiB" and "25%". The text
 * forms are core's (gv_size_format, gv_share_format), the same that `gpuvisor run` accepts, so a
 * figure copied from a table can be typed back as an option. A value that is missing, null or of
 * an unexpected type shows as "-": a table is for reading, and --json shows what came. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rest.h"
#include "core/size.h"

const char *cli_field_str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : "-";
}

static const char *size_text(const json_t *v, char *buf, size_t len)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return snprintf(buf, len, "-"), buf;
    return gv_size_format((uint64_t)json_integer_value(v), buf, len);
}

/* A percentage as core prints a share; 0 means no limit. Above 100 only in sums over several GPUs
 * (a tenant's use and quota). */
static const char *share_text(const json_t *v, char *buf, size_t len)
{
    double pct = json_is_number(v) ? json_number_value(v) : -1;
    if (!(pct > 0))
        return snprintf(buf, len, "-"), buf;
    return cli_percent_text(pct, buf, len);
}

const char *cli_percent_text(double pct, char *buf, size_t len)
{
    if (!(pct >= 0) || pct > 1e6)
        return snprintf(buf, len, "-"), buf;
    return gv_share_format((uint32_t)lround(pct * 100.0), buf, len);
}

/* A percentage used: 0 is "0%". */
static const char *percent_text(const json_t *v, char *buf, size_t len)
{
    return json_is_number(v) ? cli_percent_text(json_number_value(v), buf, len)
                             : (snprintf(buf, len, "-"), buf);
}

const char *cli_field_percent(const json_t *obj, const char *key, char *buf, size_t len)
{
    return percent_text(json_object_get(obj, key), buf, len);
}

const char *cli_field_size(const json_t *obj, const char *key, char *buf, size_t len)
{
    return size_text(json_object_get(obj, key), buf, len);
}

const char *cli_field_share(const json_t *obj, const char *key, char *buf, size_t len)
{
    return share_text(json_object_get(obj, key), buf, len);
}

static const char *count_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else
        snprintf(buf, len, "-");
    return buf;
}

const char *cli_field_int(const json_t *obj, const char *key, char *buf, size_t len)
{
    return count_text(json_object_get(obj, key), buf, len);
}

const char *cli_field_list(const json_t *obj, const char *key, char *buf, size_t len)
{
    const json_t *a = json_object_get(obj, key);
    size_t at = 0, i;
    const json_t *e;
    buf[0] = '\0';
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            continue;
        int n = snprintf(buf + at, len - at, "%s%s", at ? "," : "", json_string_value(e));
        if (n < 0 || (size_t)n >= len - at) {
            /* Cut at the last whole entry, and say there was more. */
            buf[at] = '\0';
            if (at + 4 < len)
                strcat(buf, at ? ",..." : "...");
            break;
        }
        at += (size_t)n;
    }
    if (!buf[0])
        snprintf(buf, len, "-");
    return buf;
}

const char *cli_field_pair(const json_t *used, const json_t *limit, char kind, char *buf,
                           size_t len)
{
    char u[32], l[32];
    switch (kind) {
    case 's': /* sizes */
        size_text(used, u, sizeof(u));
        size_text(limit, l, sizeof(l));
        break;
    case '%': /* shares: used may be 0 */
        percent_text(used, u, sizeof(u));
        share_text(limit, l, sizeof(l));
        break;
    default: /* counts */
        count_text(used, u, sizeof(u));
        count_text(limit, l, sizeof(l));
    }
    snprintf(buf, len, "%s / %s", u, l);
    return buf;
}

const char *cli_field_json(const json_t *v, char *buf, size_t len)
{
    snprintf(buf, len, "-");
    if (!v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) || len < 8)
        return buf;
    char *text = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!text)
        return buf;
    if (strlen(text) < len)
        strcpy(buf, text);
    else /* too long for a cell: cut, and say so */
        snprintf(buf, len, "%.*s...", (int)(len - 4), text);
    free(text);
    return buf;
}
