/* SPDX-License-Identifier: Apache-2.0 */
/* ring.h: a fixed-size ring of timestamped records, oldest overwritten first.
 *
 * The daemon keeps the last hour of samples of each GPU and instance in one of these: allocated
 * once at its full capacity, so that keeping a sample costs a copy and never an allocation, and
 * memory per ring is known in advance (cap * (elem + 8) bytes). Times only grow within a ring
 * (a push at or before the newest time is refused), which lets a reader find "everything after
 * time T" by bisection. Pure logic, no locks: the owner serializes access. */
#ifndef GV_CORE_RING_H
#define GV_CORE_RING_H

#include <stddef.h>
#include <stdint.h>

struct gv_ring {
    unsigned char *data; /* cap records of elem bytes */
    int64_t *t;          /* each record's time */
    size_t elem, cap;
    size_t head; /* where the next record goes */
    size_t n;    /* records held, at most cap */
};

/* Allocate a ring of cap records of elem bytes (both > 0), empty. 0 or -ENOMEM (-EINVAL for a
 * zero size). */
int gv_ring_init(struct gv_ring *r, size_t cap, size_t elem);

/* Free its memory; the ring is empty and may be freed again. */
void gv_ring_free(struct gv_ring *r);

/* Keep a copy of elem at time t, over the oldest record when full. 0, or -EINVAL when t is not
 * after the newest record's time (nothing is kept). */
int gv_ring_push(struct gv_ring *r, int64_t t, const void *elem);

/* The i-th oldest record (i < r->n) and its time in *t (when t is not NULL). */
const void *gv_ring_at(const struct gv_ring *r, size_t i, int64_t *t);

/* The position (as gv_ring_at counts) of the oldest record whose time is after since; r->n when
 * there is none. */
size_t gv_ring_since(const struct gv_ring *r, int64_t since);

#endif
