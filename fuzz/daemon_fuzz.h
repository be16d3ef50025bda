/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_fuzz.h: the properties every gpuvisord request parser's fuzz target checks.
 *
 * A body parser gets the input's bytes as a client would send them (not terminated, any bytes);
 * it must return 0 or a negative errno value with a terminated message, never crash, and what it
 * accepts must hold to the rules the daemon relies on after it: names valid, shares within
 * (0, 100%] or 0, sizes over zero. Each fuzz/daemon_*.c target is one parser and these checks. */
#ifndef GV_DAEMON_FUZZ_H
#define GV_DAEMON_FUZZ_H

#include "daemon/request.h"
#include "fuzz/fuzz.h"

/* The body on the heap, exactly as long as it is, so that a read past its end is caught. */
static inline char *fuzz_body(const uint8_t *data, size_t size)
{
    char *b = malloc(size ? size : 1);
    if (!b)
        abort();
    memcpy(b, data, size);
    return b;
}

static inline void fuzz_refusal(int rc, const struct gv_error *err)
{
    fuzz_check(rc < 0 && err->code == rc && fuzz_msg_ok(*err) && err->msg[0]);
}

static inline void fuzz_name_ok(const char *name, bool may_be_empty)
{
    fuzz_check(memchr(name, 0, GVD_NAME_MAX + 1) != NULL);
    if (!name[0])
        fuzz_check(may_be_empty);
    else
        fuzz_check(gvd_name_check(name, "name", NULL) == 0);
}

static inline void fuzz_members_ok(const struct gvd_members_req *m)
{
    fuzz_check(m->n <= GVD_MEMBERS_MAX);
    for (size_t i = 0; i < m->n; i++)
        fuzz_check(gvd_principal_check(m->name[i], "member", NULL) == 0);
}

static inline void fuzz_quota_ok(const struct gvd_quota_req *q)
{
    fuzz_check(!q->compute.set || q->compute.null || q->compute.value <= GVD_QUOTA_SHARE_MAX);
    fuzz_check(!q->instances.set || q->instances.null || q->instances.value <= 1000000);
}

#endif
