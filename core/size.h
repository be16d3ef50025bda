/* SPDX-License-Identifier: Apache-2.0 */
/* size.h: byte sizes and compute shares as users write them.
 *
 * Inside gpuvisor a size is a uint64_t count of bytes and a compute share is an integer count of
 * basis points (1/100 of a percent, GV_SHARE_FULL = 100%). Units exist only here, at the edges. */
#ifndef GV_SIZE_H
#define GV_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GV_KiB (1024ULL)
#define GV_MiB (1024ULL * GV_KiB)
#define GV_GiB (1024ULL * GV_MiB)
#define GV_TiB (1024ULL * GV_GiB)

/* Parse "2GiB", "512MiB", "1.5GiB", "16GB" (decimal), "4g" (single letters k/m/g/t, any case, are
 * binary, as CUDA_DEVICE_MEMORY_LIMIT=4g), "1048576" (bare numbers are bytes). One space may
 * separate the number from its unit. The result must be a whole number of bytes that fits in 64
 * bits. Returns 0, or -EINVAL / -ERANGE with a message naming the input and the accepted units. */
int gv_size_parse(const char *text, uint64_t *bytes, struct gv_error *err);

/* Print a size the way a person reads it: "4 GiB", "1.5 GiB", "512 MiB", "100 B", in units up to
 * TiB. Exact to two decimals when possible, else in bytes, so the text always parses back to the
 * same size. Returns buf. */
char *gv_size_format(uint64_t bytes, char *buf, size_t len);

#define GV_SHARE_FULL 10000u /* 100.00% */

/* Parse a compute share: "25", "25%", "12.5%", "33.33". Returns it in basis points through *share.
 * Rejects 0, more than 100, more than two decimals, and junk: -EINVAL / -ERANGE with a message. */
int gv_share_parse(const char *text, uint32_t *share, struct gv_error *err);

/* Print a share: "25%", "12.5%", "33.33%". Returns buf. */
char *gv_share_format(uint32_t share, char *buf, size_t len);

#endif
