/* SPDX-License-Identifier: Apache-2.0 */
/* error.c: filling gv_error. Messages are truncated, never overflowed. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int gv_error_set(struct gv_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int gv_error_prefix(struct gv_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    char head[128], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncation is intended: a long message loses its tail, never the context. */
    size_t n = strnlen(head, sizeof(head) - 1);
    memcpy(err->msg, head, n);
    size_t at = n;
    if (at + 2 < sizeof(err->msg)) {
        err->msg[at++] = ':';
        err->msg[at++] = ' ';
    }
    size_t rest = strnlen(old, sizeof(old) - 1);
    if (rest > sizeof(err->msg) - 1 - at)
        rest = sizeof(err->msg) - 1 - at;
    memcpy(err->msg + at, old, rest);
    err->msg[at + rest] = '\0';
    if (!err->code)
        err->code = code;
    return err->code;
}
