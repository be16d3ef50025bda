/* SPDX-License-Identifier: Apache-2.0 */
/* futex.h: sleeping on a 32-bit word in shared memory until another process changes it.
 *
 * The GPU token (region/sched.c) and the simulator's device scheduler (sim/engine.c) both keep a
 * sequence word in a file that several processes map, bump it when the GPU changes hands, and let
 * waiters sleep on it. The futexes are process-shared (no FUTEX_PRIVATE_FLAG): the word is in a
 * MAP_SHARED mapping and the waker is usually another process. Inline, as clock.h is, because the
 * simulator may use nothing but core and core's library makes no system call.
 *
 * A wait may end early (a wake, a signal, a value already changed): callers re-read the word and
 * the clock, and never take an early return for the timeout. */
#ifndef GV_FUTEX_H
#define GV_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/clock.h"

/* Sleep while *word == val, for at most timeout_ns. */
static inline void gv_futex_wait(_Atomic uint32_t *word, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts = gv_timespec(timeout_ns);
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, val, &ts, NULL, 0);
}

/* Wake every process and thread sleeping on word. */
static inline void gv_futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

#endif
