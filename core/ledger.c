/* SPDX-License-Identifier: Apache-2.0 */
/* ledger.c: reserve and release against a per-device limit with one compare-and-swap loop.
 *
 * The limit is read inside the loop, so a limit changed while reservers race takes effect at once.
 * All operations are sequentially consistent: on x86-64 a read-modify-write costs the same whatever
 * the order, and region/ relies on the total order when it checks that the ledger agrees with its
 * members' own counters. */
#include "core/ledger.h"

#include <errno.h>

void gv_ledger_init(struct gv_ledger *l)
{
    for (unsigned d = 0; d < GV_LEDGER_DEVICES; d++) {
        atomic_init(&l->dev[d].limit, 0);
        atomic_init(&l->dev[d].used, 0);
    }
}

int gv_ledger_set_limit(struct gv_ledger *l, unsigned dev, uint64_t limit)
{
    if (dev >= GV_LEDGER_DEVICES)
        return -EINVAL;
    atomic_store(&l->dev[dev].limit, limit);
    return 0;
}

int gv_ledger_reserve(struct gv_ledger *l, unsigned dev, uint64_t bytes)
{
    if (dev >= GV_LEDGER_DEVICES)
        return -EINVAL;
    if (bytes == 0)
        return 0;
    struct gv_ledger_account *a = &l->dev[dev];
    uint64_t used = atomic_load(&a->used);
    for (;;) {
        if (bytes > UINT64_MAX - used)
            return -EOVERFLOW;
        uint64_t limit = atomic_load(&a->limit);
        if (limit && used + bytes > limit)
            return -ENOMEM;
        /* On failure `used` is refreshed with the current value and the checks run again. */
        if (atomic_compare_exchange_weak(&a->used, &used, used + bytes))
            return 0;
    }
}

int gv_ledger_release(struct gv_ledger *l, unsigned dev, uint64_t bytes)
{
    if (dev >= GV_LEDGER_DEVICES)
        return -EINVAL;
    if (bytes == 0)
        return 0;
    struct gv_ledger_account *a = &l->dev[dev];
    uint64_t used = atomic_load(&a->used);
    do {
        if (bytes > used)
            return -ERANGE;
    } while (!atomic_compare_exchange_weak(&a->used, &used, used - bytes));
    return 0;
}

uint64_t gv_ledger_used(const struct gv_ledger *l, unsigned dev)
{
    return dev < GV_LEDGER_DEVICES ? atomic_load(&l->dev[dev].used) : 0;
}

uint64_t gv_ledger_limit(const struct gv_ledger *l, unsigned dev)
{
    return dev < GV_LEDGER_DEVICES ? atomic_load(&l->dev[dev].limit) : 0;
}

uint64_t gv_ledger_available(const struct gv_ledger *l, unsigned dev)
{
    if (dev >= GV_LEDGER_DEVICES)
        return 0;
    uint64_t limit = atomic_load(&l->dev[dev].limit);
    uint64_t used = atomic_load(&l->dev[dev].used);
    if (!limit)
        return UINT64_MAX - used;
    return used >= limit ? 0 : limit - used;
}
