/* SPDX-License-Identifier: Apache-2.0 */
/* budget.h: the GPU-time budget of one instance on one GPU.
 *
 * An instance with a compute share may use that share of a GPU's time. The budget is a token
 * bucket of device time: it refills at `share` of wall time, holds at most one period's worth
 * (GV_BUDGET_PERIOD_NS x share), and is drawn down by the time the instance's work held the GPU.
 * A charge may take it below zero (work that overran what was left), so that over any long run
 * the instance gets exactly its share: the debt is paid back by waiting.
 *
 * The whole bucket is one number, `empty_at`: the time at which the bucket, refilling without a
 * cap, was (or will be) empty. Its level at time t is share x (t - empty_at), capped at one
 * period's worth by keeping empty_at >= t - period. Charging x ns of device time moves empty_at
 * forward by x / share; the level is positive exactly when t > empty_at, and the time until it is
 * positive again is empty_at - t. One number means one compare-and-swap per charge, so every
 * process of an instance can share the bucket in the instance region without a lock.
 *
 * Next to it, for `gpuvisor smi`, the device time charged: cumulative, and in ten 100 ms buckets
 * from which the last second's use is summed.
 *
 * Like the ledger, a budget is a block of atomics that the caller places where it must be shared;
 * the functions keep no state, take no locks, do no I/O and take the time as an argument, so they
 * are tested with a fake clock. Times are CLOCK_MONOTONIC nanoseconds; shares are basis points
 * (GV_SHARE_FULL = 100%). A share of 0 means "no compute limit": such a budget is never used. */
#ifndef GV_BUDGET_H
#define GV_BUDGET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The period a share is measured over: an instance at 25% may use 25 ms of every 100 ms, and can
 * save at most that much while it does not use the GPU. */
#define GV_BUDGET_PERIOD_NS 100000000ULL

#define GV_BUDGET_STEP_NS 100000000ULL /* width of one usage bucket */
#define GV_BUDGET_STEPS   10           /* buckets: one second of history */

/* Invariants:
 *   - empty_at only moves forward, except by a refund (a negative charge), and never falls
 *     behind (now - period) as seen by the last writer: that is the cap.
 *   - charged_ns is the sum of all charges (refunds subtract, never below 0).
 *   - step[i] holds (epoch << 40 | ns): the device time charged during 100 ms epoch `epoch`
 *     (now / GV_BUDGET_STEP_NS, modulo 2^24) in its low 40 bits (up to 18 minutes). An entry whose
 *     epoch is not one of the last GV_BUDGET_STEPS is stale and counts as 0.
 * A zero-filled budget is a full bucket with nothing charged. */
struct gv_budget {
    _Alignas(64) _Atomic uint64_t empty_at;
    _Atomic uint64_t charged_ns;
    _Atomic uint64_t step[GV_BUDGET_STEPS];
    /* The open turn: while a process of the instance holds a GPU's token, which tenure it is (a
     * token holder word, 0: none), that process's start time and how far the turn is paid. A turn
     * whose process ends before settling it is found here by the instance's next process, which
     * charges what it ran past its payment. Written by the holder; closed by whoever swaps tag to
     * 0 first, which charges it. Fits the alignment's padding: the record's size is unchanged. */
    _Atomic uint64_t turn_tag;
    _Atomic uint64_t turn_start;
    _Atomic uint64_t turn_paid;
    /* The instance's virtual time on the GPU (core/policy.h): the device time charged over its
     * share, raised to the GPU's virtual clock when it comes back from idling. */
    _Atomic uint64_t vtime;
};
_Static_assert(sizeof(struct gv_budget) == 128, "the budget's size is part of the region's layout");

/* Zero everything: a full bucket. Not atomic; a zero-filled shared mapping is already in this
 * state.
 */
void gv_budget_init(struct gv_budget *b);

/* Device time left at `now`, in ns: positive, zero, or negative (debt). At most period x share. */
int64_t gv_budget_level(const struct gv_budget *b, uint32_t share, uint64_t now);

/* How long from `now` until the level is positive again: 0 when it already is. */
uint64_t gv_budget_wait(const struct gv_budget *b, uint64_t now);

/* Charge ns of device time at `now` (a negative ns refunds time charged before and not used). A
 * share of 0 or more than GV_SHARE_FULL is treated as GV_SHARE_FULL. */
void gv_budget_charge(struct gv_budget *b, uint32_t share, uint64_t now, int64_t ns);

/* The same without the bucket: device time counted (usage, virtual time) for an instance whose
 * policy does not hold it to its share (guaranteed, best-effort), whose bucket is left full. */
void gv_budget_count(struct gv_budget *b, uint32_t share, uint64_t now, int64_t ns);

/* The instance's virtual time, raised first to at least `floor` (0: as it is). */
uint64_t gv_budget_vtime(struct gv_budget *b, uint64_t floor);

/* Device time charged over the last second (the current 100 ms step and the nine before it). */
uint64_t gv_budget_recent(const struct gv_budget *b, uint64_t now);

/* Device time charged since the budget was made. */
uint64_t gv_budget_total(const struct gv_budget *b);

/* The open turn (see struct gv_budget): open one for tenure `tag`, move its payment on, read it,
 * and close it (true for the one caller that closed it: that caller settles it). */
void gv_budget_turn_open(struct gv_budget *b, uint64_t tag, uint64_t start, uint64_t paid_until);
void gv_budget_turn_paid(struct gv_budget *b, uint64_t tag, uint64_t paid_until);
void gv_budget_turn(const struct gv_budget *b, uint64_t *tag, uint64_t *start, uint64_t *paid);
bool gv_budget_turn_close(struct gv_budget *b, uint64_t tag);

#endif
