/* SPDX-License-Identifier: Apache-2.0 */
/* ledger.h: the memory ledger, one limit and one usage counter per device.
 *
 * A ledger is a plain block of atomic counters that the caller places wherever the counters must be
 * shared: inside an instance region mapped by many processes (region/), or inside the remote
 * server's session table. The functions hold no state of their own, take no locks and never
 * allocate, so the same code enforces a limit in the interposer and in the remote server.
 *
 * The one promise: a reservation never makes `used` pass `limit`. Reservers race with a
 * compare-and-swap on `used`, so two reservers that each fit alone cannot both succeed when
 * together they would not. Callers reserve before they ask the driver and release if the driver
 * fails. */
#ifndef GV_LEDGER_H
#define GV_LEDGER_H

#include <stdatomic.h>
#include <stdint.h>

#define GV_LEDGER_DEVICES 16 /* devices one ledger can count; more than any server holds today */

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
               "the ledger needs lock-free 64-bit atomics: it lives in "
               "memory shared between processes");

/* One device's account. Each sits on its own cache line, so that reservers on one device do not
 * slow reservers on another. Invariants:
 *   - limit == 0 means unlimited; otherwise a successful gv_ledger_reserve() leaves used <= limit.
 *     (Lowering the limit below used is allowed: reservations then fail until used falls under it.)
 *   - used changes only through reserve (up) and release (down) and never wraps: reserve refuses a
 *     sum past UINT64_MAX and release refuses to go below 0. */
struct gv_ledger_account {
    _Alignas(64) _Atomic uint64_t limit;
    _Atomic uint64_t used;
};

struct gv_ledger {
    struct gv_ledger_account dev[GV_LEDGER_DEVICES];
};

/* All devices unlimited, nothing used. Not atomic with respect to other users: call it before the
 * ledger is shared. A zero-filled ledger (a fresh shared mapping) is already in this state. */
void gv_ledger_init(struct gv_ledger *l);

/* Set a device's limit (0 = unlimited). Existing reservations are kept even above a lower limit.
 * Returns 0, or -EINVAL for a device out of range. */
int gv_ledger_set_limit(struct gv_ledger *l, unsigned dev, uint64_t limit);

/* Reserve bytes on dev. Returns 0; -ENOMEM when used + bytes would pass the limit; -EOVERFLOW when
 * used + bytes would not fit in 64 bits (possible only when unlimited); -EINVAL for a device out of
 * range. On failure nothing changes. Reserving 0 bytes always succeeds. */
int gv_ledger_reserve(struct gv_ledger *l, unsigned dev, uint64_t bytes);

/* Give back bytes reserved on dev. Returns 0; -ERANGE when bytes > used, which means the caller
 * releases what it never reserved: nothing changes then, because keeping `used` too high can only
 * refuse memory, while lowering it by a wrong amount could let a later reserve pass the limit.
 * -EINVAL for a device out of range. */
int gv_ledger_release(struct gv_ledger *l, unsigned dev, uint64_t bytes);

/* Readers. Each is one atomic load (two for available); a device out of range reads as 0. */
uint64_t gv_ledger_used(const struct gv_ledger *l, unsigned dev);
uint64_t gv_ledger_limit(const struct gv_ledger *l, unsigned dev);

/* Bytes a reserve could still get: limit - used (0 when used >= limit), or UINT64_MAX - used when
 * unlimited. What cuMemGetInfo reports as free, before the caller caps it by the device's real
 * free. */
uint64_t gv_ledger_available(const struct gv_ledger *l, unsigned dev);

#endif
