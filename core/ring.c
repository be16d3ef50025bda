/* SPDX-License-Identifier: Apache-2.0 */
/* ring.c: a fixed-size ring of timestamped records (see ring.h). */
#include "core/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int gv_ring_init(struct gv_ring *r, size_t cap, size_t elem)
{
    memset(r, 0, sizeof(*r));
    if (cap == 0 || elem == 0)
        return -EINVAL;
    r->data = calloc(cap, elem);
    r->t = calloc(cap, sizeof(*r->t));
    if (!r->data || !r->t) {
        gv_ring_free(r);
        return -ENOMEM;
    }
    r->elem = elem;
    r->cap = cap;
    return 0;
}

void gv_ring_free(struct gv_ring *r)
{
    free(r->data);
    free(r->t);
    memset(r, 0, sizeof(*r));
}

/* The slot of the i-th oldest record. */
static size_t slot(const struct gv_ring *r, size_t i)
{
    return (r->head + r->cap - r->n + i) % r->cap;
}

int gv_ring_push(struct gv_ring *r, int64_t t, const void *elem)
{
    if (!r->cap)
        return -EINVAL;
    if (r->n && t <= r->t[slot(r, r->n - 1)])
        return -EINVAL;
    memcpy(r->data + r->head * r->elem, elem, r->elem);
    r->t[r->head] = t;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap)
        r->n++;
    return 0;
}

const void *gv_ring_at(const struct gv_ring *r, size_t i, int64_t *t)
{
    size_t s = slot(r, i);
    if (t)
        *t = r->t[s];
    return r->data + s * r->elem;
}

size_t gv_ring_since(const struct gv_ring *r, int64_t since)
{
    size_t lo = 0, hi = r->n; /* the answer is in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->t[slot(r, mid)] > since)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}
