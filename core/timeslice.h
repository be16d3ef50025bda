/* SPDX-License-Identifier: Apache-2.0 */
/* timeslice.h: the length of a turn on a GPU, as text.
 *
 * Instances with a share of GPU time take turns on it (region/sched.h); a turn lasts one time slice.
 * Short slices hand the GPU round often (interactive work waits less), long ones lose less to the
 * hand-overs. The interposer reads GPUVISOR_TIMESLICE, `gpuvisor run --timeslice` writes it, and
 * gpuvisord keeps one per GPU: this is their one reader and writer. A time slice is a number and a
 * unit: "5ms", "2.5ms", "500us", "0.01s"; a bare number is milliseconds. It is kept in whole
 * microseconds, from GV_TIMESLICE_MIN_NS to GV_TIMESLICE_MAX_NS. */
#ifndef GV_TIMESLICE_H
#define GV_TIMESLICE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GV_TIMESLICE_MIN_NS     1000000ULL  /* 1 ms: below, the hand-overs take a large part */
#define GV_TIMESLICE_MAX_NS     30000000ULL /* 30 ms: above, waiting for a turn is felt */
#define GV_TIMESLICE_DEFAULT_NS 10000000ULL
#define GV_TIMESLICE_TEXT       16 /* "29.999ms" and its NUL, with room */
#define GV_TIMESLICE_ENV        "GPUVISOR_TIMESLICE" /* what the interposer reads */

/* Parse text into *ns. Returns 0, or -EINVAL (not a time, a unit that is not ms, us or s, a part of
 * a microsecond) or -ERANGE (outside 1 ms to 30 ms) with a message quoting the text. */
int gv_timeslice_parse(const char *text, uint64_t *ns, struct gv_error *err);

/* Write ns as gv_timeslice_parse reads it ("10ms", "2.5ms", "1.001ms"). Returns buf. */
char *gv_timeslice_format(uint64_t ns, char *buf, size_t len);

#endif
