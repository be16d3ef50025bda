/* SPDX-License-Identifier: Apache-2.0 */
/* bench.h: what the benchmarks share: a monotonic clock in nanoseconds, a sleep that finishes
 * despite signals, and the median of a set of timings (benchmarks report medians, which a machine
 * that pauses now and then moves far less than a mean).
 *
 * Header-only, each function static inline: every benchmark is one program of one file, and each
 * takes what it uses. */
#ifndef GV_BENCH_H
#define GV_BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"

static inline uint64_t bench_now_ns(void)
{
    return gv_now_ns();
}

static inline void bench_sleep_ns(uint64_t ns)
{
    struct timespec ts = gv_timespec(ns);
    while (nanosleep(&ts, &ts) < 0)
        ;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n): sorts v in place. */
static inline double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), bench_cmp_double);
    return v[n / 2];
}

#endif
