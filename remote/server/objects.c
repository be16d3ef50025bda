/* SPDX-License-Identifier: Apache-2.0 */
/* objects.c: what a session owns (srv.h): handle sets and device memory ranges. */
#include "remote/server/srv.h"

#include <stdlib.h>
#include <string.h>

/* Slots hold handle+1 so that 0 marks an empty slot and handle 0 is never stored (no driver
 * object has handle 0); ~0 marks a deleted slot. */
#define EMPTY 0
#define GONE  UINT64_MAX

static size_t hash(uint64_t h, size_t cap)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h & (cap - 1);
}

static uint64_t *find(struct srv_set *set, uint64_t key)
{
    if (!set->cap)
        return NULL;
    for (size_t i = hash(key, set->cap), n = 0; n < set->cap; i = (i + 1) & (set->cap - 1), n++) {
        if (set->slot[i] == EMPTY)
            return NULL;
        if (set->slot[i] == key)
            return &set->slot[i];
    }
    return NULL;
}

static bool grow(struct srv_set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 64;
    uint64_t *slot = calloc(cap, sizeof(*slot));
    if (!slot)
        return false;
    for (size_t i = 0; i < set->cap; i++) {
        uint64_t k = set->slot[i];
        if (k == EMPTY || k == GONE)
            continue;
        size_t j = hash(k, cap);
        while (slot[j] != EMPTY)
            j = (j + 1) & (cap - 1);
        slot[j] = k;
    }
    free(set->slot);
    set->slot = slot;
    set->cap = cap;
    return true;
}

bool srv_has(struct srv *s, enum srv_kind k, uint64_t h)
{
    if (h == 0 || h == UINT64_MAX - 1 || (unsigned)k >= SRV_NKINDS)
        return false;
    return find(&s->obj[k], h + 1) != NULL;
}

bool srv_add(struct srv *s, enum srv_kind k, uint64_t h)
{
    struct srv_set *set = &s->obj[k];
    if (h == 0 || h >= UINT64_MAX - 1)
        return false;
    if (find(set, h + 1))
        return true;
    /* Keep at most half the slots used (deleted ones count until the next growth). */
    if ((set->count + 1) * 2 > set->cap && !grow(set))
        return false;
    size_t i = hash(h + 1, set->cap);
    while (set->slot[i] != EMPTY && set->slot[i] != GONE)
        i = (i + 1) & (set->cap - 1);
    set->slot[i] = h + 1;
    set->count++;
    return true;
}

bool srv_del(struct srv *s, enum srv_kind k, uint64_t h)
{
    if (h == 0 || h >= UINT64_MAX - 1)
        return false;
    uint64_t *p = find(&s->obj[k], h + 1);
    if (!p)
        return false;
    *p = GONE;
    return true;
}

bool srv_stream_ok(struct srv *s, uint64_t stream)
{
    return stream == 0 || stream == (uint64_t)(uintptr_t)CU_STREAM_LEGACY ||
           stream == (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD || srv_has(s, SRV_STREAM, stream);
}

bool srv_device_ok(struct srv *s, uint64_t dev)
{
    return dev < (uint64_t)(s->device_count > 0 ? s->device_count : 0);
}

/* Index of the first range whose base is > p. */
static size_t upper(struct srv *s, uint64_t p)
{
    size_t lo = 0, hi = s->nmem;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->mem[mid].base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool srv_mem_add(struct srv *s, uint64_t base, uint64_t size, int kind)
{
    if (size == 0 || base + size < base)
        return false;
    size_t i = upper(s, base);
    /* The driver never hands out overlapping ranges of one kind; a VMM mapping lies inside its
     * reservation, so mapped ranges are kept apart from reserved ones by kind in srv_mem_ok. A
     * stale range that overlaps the new one (freed behind our back) is dropped. */
    if (kind != SRV_MEM_VMM_MAPPED) {
        while (i > 0 && s->mem[i - 1].base + s->mem[i - 1].size > base &&
               s->mem[i - 1].kind != SRV_MEM_VMM_RESERVED) {
            memmove(&s->mem[i - 1], &s->mem[i], (s->nmem - i) * sizeof(*s->mem));
            s->nmem--;
            i--;
        }
    }
    if (s->nmem == s->capmem) {
        size_t cap = s->capmem ? s->capmem * 2 : 64;
        struct srv_range *m = realloc(s->mem, cap * sizeof(*m));
        if (!m)
            return false;
        s->mem = m;
        s->capmem = cap;
    }
    memmove(&s->mem[i + 1], &s->mem[i], (s->nmem - i) * sizeof(*s->mem));
    uint64_t ctx = kind == SRV_MEM_ALLOC || kind == SRV_MEM_POOL ? s->cur_ctx : 0;
    s->mem[i] = (struct srv_range){base, size, kind, ctx};
    s->nmem++;
    return true;
}

bool srv_mem_del(struct srv *s, uint64_t base, uint64_t *size, int *kind)
{
    /* Several ranges may start at base (a reservation and its first mapping): take the last one
     * of them, which is the one added last. */
    size_t i = upper(s, base);
    if (i == 0 || s->mem[i - 1].base != base)
        return false;
    i--;
    if (size)
        *size = s->mem[i].size;
    if (kind)
        *kind = s->mem[i].kind;
    memmove(&s->mem[i], &s->mem[i + 1], (s->nmem - i - 1) * sizeof(*s->mem));
    s->nmem--;
    return true;
}

const struct srv_range *srv_mem_find(struct srv *s, uint64_t p)
{
    for (size_t i = upper(s, p); i > 0; i--) {
        const struct srv_range *r = &s->mem[i - 1];
        if (p - r->base < r->size)
            return r;
        /* Ranges do not overlap but for mappings inside reservations: look a little further
         * back only while a reservation could still hold p. */
        if (r->kind != SRV_MEM_VMM_MAPPED && r->kind != SRV_MEM_VMM_RESERVED)
            break;
    }
    return NULL;
}

bool srv_mem_ok(struct srv *s, uint64_t p, uint64_t n, unsigned kinds)
{
    if (!kinds)
        kinds = 1u << SRV_MEM_ALLOC | 1u << SRV_MEM_POOL | 1u << SRV_MEM_VMM_MAPPED;
    if (p + n < p)
        return false;
    for (size_t i = upper(s, p); i > 0; i--) {
        const struct srv_range *r = &s->mem[i - 1];
        if ((kinds & (1u << r->kind)) && p - r->base < r->size && n <= r->size - (p - r->base))
            return true;
        if (r->kind != SRV_MEM_VMM_MAPPED && r->kind != SRV_MEM_VMM_RESERVED &&
            r->base + r->size <= p)
            break;
    }
    return false;
}

void srv_mem_drop_ctx(struct srv *s, uint64_t ctx)
{
    if (!ctx)
        return;
    size_t k = 0;
    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].ctx != ctx)
            s->mem[k++] = s->mem[i];
    s->nmem = k;
}
