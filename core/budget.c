/* SPDX-License-Identifier: Apache-2.0 */
/* budget.c: the GPU-time token bucket of budget.h, kept as the one time `empty_at`.
 *
 * Every change is a compare-and-swap loop on one word, so processes that share a budget never
 * lock, and a process killed between two instructions leaves either the old or the new value. */
#include "core/budget.h"

#include <string.h>

#include "core/policy.h"
#include "core/size.h"

#define STEP_NS_BITS 40
#define STEP_NS_MASK ((1ULL << STEP_NS_BITS) - 1)
#define EPOCH_MASK   ((1ULL << 24) - 1)
#define MAX_CHARGE   (1ULL << 46) /* 19 hours: larger charges are clipped, never wrapped */

void gv_budget_init(struct gv_budget *b)
{
    memset(b, 0, sizeof(*b));
}

static uint32_t effective(uint32_t share)
{
    return share == 0 || share > GV_SHARE_FULL ? GV_SHARE_FULL : share;
}

/* The earliest empty_at the cap allows: the bucket never holds more than one period's refill. */
static uint64_t floor_at(uint64_t now)
{
    return now > GV_BUDGET_PERIOD_NS ? now - GV_BUDGET_PERIOD_NS : 0;
}

int64_t gv_budget_level(const struct gv_budget *b, uint32_t share, uint64_t now)
{
    uint64_t e = atomic_load_explicit(&b->empty_at, memory_order_acquire);
    uint64_t f = floor_at(now);
    if (e < f)
        e = f;
    int64_t span = now >= e ? (int64_t)(now - e) : -(int64_t)(e - now);
    return span * (int64_t)effective(share) / (int64_t)GV_SHARE_FULL;
}

uint64_t gv_budget_wait(const struct gv_budget *b, uint64_t now)
{
    uint64_t e = atomic_load_explicit(&b->empty_at, memory_order_acquire);
    return e >= now ? e - now + 1 : 0;
}

static void account(struct gv_budget *b, uint64_t now, int64_t ns)
{
    uint64_t epoch = (now / GV_BUDGET_STEP_NS) & EPOCH_MASK;
    _Atomic uint64_t *slot = &b->step[(now / GV_BUDGET_STEP_NS) % GV_BUDGET_STEPS];
    uint64_t old = atomic_load(slot), next;
    do {
        uint64_t have = (old >> STEP_NS_BITS) == epoch ? old & STEP_NS_MASK : 0;
        if (ns >= 0)
            have = have + (uint64_t)ns > STEP_NS_MASK ? STEP_NS_MASK : have + (uint64_t)ns;
        else
            have = have > (uint64_t)-ns ? have - (uint64_t)-ns : 0;
        next = epoch << STEP_NS_BITS | have;
    } while (!atomic_compare_exchange_weak(slot, &old, next));

    uint64_t total = atomic_load(&b->charged_ns);
    do {
        next = ns >= 0 ? total + (uint64_t)ns : total > (uint64_t)-ns ? total - (uint64_t)-ns : 0;
    } while (!atomic_compare_exchange_weak(&b->charged_ns, &total, next));
}

/* Move the virtual time by ns of device time at `share` (back, for a refund; never below 0). */
static void advance(struct gv_budget *b, uint32_t share, int64_t ns)
{
    uint64_t v = gv_vtime_of(ns > 0 ? (uint64_t)ns : (uint64_t)-ns, share);
    uint64_t t = atomic_load(&b->vtime), next;
    do {
        next = ns > 0 ? (t + v > GV_KEY_VTIME_MAX ? GV_KEY_VTIME_MAX : t + v) : t > v ? t - v : 0;
    } while (!atomic_compare_exchange_weak(&b->vtime, &t, next));
}

/* ns, at most MAX_CHARGE either way. */
static int64_t clamped(int64_t ns)
{
    uint64_t mag = ns > 0 ? (uint64_t)ns : (uint64_t)-ns;
    if (mag > MAX_CHARGE)
        mag = MAX_CHARGE;
    return ns > 0 ? (int64_t)mag : -(int64_t)mag;
}

void gv_budget_count(struct gv_budget *b, uint32_t share, uint64_t now, int64_t ns)
{
    if (ns == 0)
        return;
    ns = clamped(ns);
    advance(b, share, ns);
    account(b, now, ns);
}

uint64_t gv_budget_vtime(struct gv_budget *b, uint64_t floor)
{
    uint64_t t = atomic_load(&b->vtime);
    while (t < floor && !atomic_compare_exchange_weak(&b->vtime, &t, floor))
        ;
    return t < floor ? floor : t;
}

void gv_budget_charge(struct gv_budget *b, uint32_t share, uint64_t now, int64_t ns)
{
    if (ns == 0)
        return;
    ns = clamped(ns);
    /* Device time x at share s moves the empty time by x / s of wall time. */
    uint64_t mag = ns > 0 ? (uint64_t)ns : (uint64_t)-ns;
    uint64_t shift = mag * GV_SHARE_FULL / effective(share);
    uint64_t f = floor_at(now);
    uint64_t e = atomic_load(&b->empty_at), next;
    do {
        uint64_t base = e < f ? f : e;
        if (ns > 0)
            next = base + shift;
        else
            next = base - (shift < base - f ? shift : base - f); /* a refund stops at the cap */
    } while (!atomic_compare_exchange_weak(&b->empty_at, &e, next));
    gv_budget_count(b, share, now, ns);
}

uint64_t gv_budget_recent(const struct gv_budget *b, uint64_t now)
{
    uint64_t cur = now / GV_BUDGET_STEP_NS, sum = 0;
    for (unsigned i = 0; i < GV_BUDGET_STEPS; i++) {
        uint64_t v = atomic_load(&b->step[i]);
        uint64_t epoch = v >> STEP_NS_BITS;
        /* Fresh when its epoch is one of the last GV_BUDGET_STEPS (modulo the epoch's width). */
        if (((cur - epoch) & EPOCH_MASK) < GV_BUDGET_STEPS)
            sum += v & STEP_NS_MASK;
    }
    return sum;
}

uint64_t gv_budget_total(const struct gv_budget *b)
{
    return atomic_load(&b->charged_ns);
}

void gv_budget_turn_open(struct gv_budget *b, uint64_t tag, uint64_t start, uint64_t paid_until)
{
    /* The tag last, so that a reader that sees it sees the rest of this turn. */
    atomic_store(&b->turn_tag, 0);
    atomic_store(&b->turn_start, start);
    atomic_store(&b->turn_paid, paid_until);
    atomic_store(&b->turn_tag, tag);
}

void gv_budget_turn_paid(struct gv_budget *b, uint64_t tag, uint64_t paid_until)
{
    if (atomic_load(&b->turn_tag) == tag)
        atomic_store(&b->turn_paid, paid_until);
}

void gv_budget_turn(const struct gv_budget *b, uint64_t *tag, uint64_t *start, uint64_t *paid)
{
    *tag = atomic_load(&b->turn_tag);
    *start = atomic_load(&b->turn_start);
    *paid = atomic_load(&b->turn_paid);
}

bool gv_budget_turn_close(struct gv_budget *b, uint64_t tag)
{
    uint64_t t = tag;
    return tag && atomic_compare_exchange_strong(&b->turn_tag, &t, 0);
}
