/* SPDX-License-Identifier: Apache-2.0 */
/* uuid.c: reading and writing GPU UUIDs (uuid.h says which forms).
 *
 * The reader works on a length, not on a terminator, so that the interposer can read a key in the
 * middle of a limit string without copying it, and it never writes the caller's buffer unless the
 * whole text is good. A message quotes at most the first 64 characters of the text: the text may
 * come from a tenant's environment and be of any length. */
#include "core/uuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HEX_DIGITS (2 * GV_UUID_LEN)
#define QUOTE      64 /* characters of the text a message quotes */
#define FORMS      "as nvidia-smi -L prints it: GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int refuse(struct gv_error *err, const char *text, size_t len, const char *why)
{
    int n = len > QUOTE ? QUOTE : (int)len;
    return gv_error_set(err, -EINVAL, "GPU UUID \"%.*s%s\": %s (write " FORMS ")", n, text,
                        len > QUOTE ? "..." : "", why);
}

int gv_uuid_parse(const char *text, size_t len, unsigned flags, uint8_t uuid[GV_UUID_LEN],
                  struct gv_error *err)
{
    if (!text)
        return gv_error_set(err, -EINVAL, "no GPU UUID (write " FORMS ")");
    const char *body = text;
    size_t blen = len;
    if (len >= 4 && (strncasecmp(text, "GPU-", 4) == 0 || strncasecmp(text, "MIG-", 4) == 0)) {
        body += 4;
        blen -= 4;
    } else if (flags & GV_UUID_PREFIXED) {
        return refuse(err, text, len, "does not start with GPU- or MIG-");
    }
    /* First what the body is made of, so that the message says what is wrong; then the digits. */
    size_t digits = 0;
    for (size_t i = 0; i < blen; i++) {
        if (body[i] == '-')
            continue;
        if (hex_value(body[i]) >= 0) {
            digits++;
            continue;
        }
        unsigned char c = (unsigned char)body[i];
        char why[48];
        if (c >= ' ' && c < 0x7f)
            snprintf(why, sizeof(why), "'%c' is not a hex digit", c);
        else
            snprintf(why, sizeof(why), "character 0x%02x is not a hex digit", c);
        return refuse(err, text, len, why);
    }
    if (digits != HEX_DIGITS)
        return refuse(err, text, len,
                      digits < HEX_DIGITS ? "too few hex digits (a UUID has 32)"
                                          : "too many hex digits (a UUID has 32)");
    uint8_t u[GV_UUID_LEN];
    size_t digit = 0;
    for (size_t i = 0; i < blen; i++) {
        int v = hex_value(body[i]);
        if (v < 0)
            continue; /* a dash */
        if (digit % 2 == 0)
            u[digit / 2] = (uint8_t)(v << 4);
        else
            u[digit / 2] |= (uint8_t)v;
        digit++;
    }
    memcpy(uuid, u, GV_UUID_LEN);
    return 0;
}

char *gv_uuid_format(const uint8_t uuid[GV_UUID_LEN], char out[GV_UUID_TEXT])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    memcpy(p, "GPU-", 4);
    p += 4;
    for (int i = 0; i < GV_UUID_LEN; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[uuid[i] >> 4];
        *p++ = hex[uuid[i] & 15];
    }
    *p = '\0';
    return out;
}
