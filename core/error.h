/* SPDX-License-Identifier: Apache-2.0 */
/* error.h: errors as values.
 *
 * A function that can fail returns a negative status and, when the caller passes a gv_error, fills
 * it with one sentence that names the thing, the value and what to do. Callers add context on the
 * way up instead of printing in the middle. The buffer is fixed-size so that the core never
 * allocates. */
#ifndef GV_ERROR_H
#define GV_ERROR_H

#include <stddef.h>

struct gv_error {
    int code; /* a negative errno value, or 0 */
    char msg[256];
};

/* Fill err (if not NULL) and return code (a negative errno value). */
int gv_error_set(struct gv_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepend "context: " to the message already in err. Returns err->code (or code if err is NULL). */
int gv_error_prefix(struct gv_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
