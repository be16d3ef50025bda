/* SPDX-License-Identifier: Apache-2.0 */
/* clock.h: time in nanoseconds, read the one way every part reads it.
 *
 * Times inside gpuvisor are uint64_t nanoseconds; periods, slices, deadlines and the GPU-time
 * budget are measured on CLOCK_MONOTONIC, which no one can set. A header of inline functions rather
 * than a file of core's: core's library does no I/O and makes no system call, while every part (the
 * simulator included, which may use nothing but core) needs the same clock; a clock read through
 * the vDSO is not I/O and reaches nothing outside the process. */
#ifndef GV_CLOCK_H
#define GV_CLOCK_H

#include <stdint.h>
#include <time.h>

#define GV_NS_PER_S 1000000000ULL

/* The time of `clock` in nanoseconds (0 where the clock cannot be read, which no Linux clock used
 * here does). */
static inline uint64_t gv_clock_ns(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * GV_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds: the clock of every period, deadline and measured duration. */
static inline uint64_t gv_now_ns(void)
{
    return gv_clock_ns(CLOCK_MONOTONIC);
}

/* A duration in nanoseconds as a timespec, for nanosleep and futex timeouts. */
static inline struct timespec gv_timespec(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / GV_NS_PER_S), (long)(ns % GV_NS_PER_S)};
    return ts;
}

#endif
