/* SPDX-License-Identifier: Apache-2.0 */
/* array.h: the device memory a CUDA array takes, from its format, channels and extent.
 *
 * One owner for this figure: the simulated driver takes it from the device when an array is made,
 * and the interposer charges it to the slice, so the two always agree. */
#ifndef GV_ARRAY_H
#define GV_ARRAY_H

#include <stdint.h>

/* Bytes of one array (one mipmap level, every layer) of CUarray_format `format` with `channels`
 * (NumChannels), `width` x `height` x `depth` elements; a zero height or depth counts as 1. How
 * the format and the channels combine:
 *   - the eight plain formats (UNSIGNED/SIGNED_INT8/16/32, HALF, FLOAT) are one component each:
 *     an element is `channels` components (1, 2 or 4, as the CUDA documentation allows);
 *   - every other format names its element whole (UNORM_INT16X4 is four 16-bit components,
 *     UNORM_INT_101010_2 one 32-bit word, YUY2 two pixels in 4 bytes), and `channels` does not
 *     multiply it;
 *   - block-compressed formats take 8 (BC1, BC4) or 16 bytes per 4x4 block of texels, width and
 *     height rounded up to whole blocks;
 *   - planar and semi-planar video formats (NV12, P010, P016, NV16, P210, P216, Y444_PLANAR8/10,
 *     YUV444_8bit/16bit_SemiPlanar) are a luma plane of width x height samples and two chroma
 *     planes subsampled as the format says (4:2:0 halves both ways, 4:2:2 the width, 4:4:4
 *     nothing), with the luma's sample size (1 byte, or 2 for the 10- and 16-bit formats).
 * Returns 0 for a format this code does not know or a `channels` of 0 or more than 4 (the caller
 * lets the driver say what is wrong), and UINT64_MAX when the figure overflows. */
uint64_t gv_array_bytes(unsigned format, unsigned channels, uint64_t width, uint64_t height,
                        uint64_t depth);

#endif
