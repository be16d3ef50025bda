/* SPDX-License-Identifier: Apache-2.0 */
/* array.c: CUDA array sizes (array.h), one table of what each CUarray_format's element holds. */
#include "core/array.h"

#include <cuda.h>
#include <stdbool.h>

enum shape {
    PLAIN,   /* one component per channel: bytes x channels */
    WHOLE,   /* the format is the whole element: bytes per element */
    PACKED2, /* `bytes` hold two pixels of one row (4:2:2 packed) */
    BLOCK,   /* `bytes` per 4x4 block */
    PLANAR,  /* luma of `bytes` per sample and two chroma planes subsampled by sx, sy */
};

struct format {
    unsigned format;
    enum shape shape;
    unsigned bytes;
    unsigned sx, sy; /* PLANAR: chroma subsampling */
};

static const struct format formats[] = {
    {CU_AD_FORMAT_UNSIGNED_INT8, PLAIN, 1, 0, 0},
    {CU_AD_FORMAT_UNSIGNED_INT16, PLAIN, 2, 0, 0},
    {CU_AD_FORMAT_UNSIGNED_INT32, PLAIN, 4, 0, 0},
    {CU_AD_FORMAT_SIGNED_INT8, PLAIN, 1, 0, 0},
    {CU_AD_FORMAT_SIGNED_INT16, PLAIN, 2, 0, 0},
    {CU_AD_FORMAT_SIGNED_INT32, PLAIN, 4, 0, 0},
    {CU_AD_FORMAT_HALF, PLAIN, 2, 0, 0},
    {CU_AD_FORMAT_FLOAT, PLAIN, 4, 0, 0},
    {CU_AD_FORMAT_UNORM_INT8X1, WHOLE, 1, 0, 0},
    {CU_AD_FORMAT_UNORM_INT8X2, WHOLE, 2, 0, 0},
    {CU_AD_FORMAT_UNORM_INT8X4, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_UNORM_INT16X1, WHOLE, 2, 0, 0},
    {CU_AD_FORMAT_UNORM_INT16X2, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_UNORM_INT16X4, WHOLE, 8, 0, 0},
    {CU_AD_FORMAT_SNORM_INT8X1, WHOLE, 1, 0, 0},
    {CU_AD_FORMAT_SNORM_INT8X2, WHOLE, 2, 0, 0},
    {CU_AD_FORMAT_SNORM_INT8X4, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_SNORM_INT16X1, WHOLE, 2, 0, 0},
    {CU_AD_FORMAT_SNORM_INT16X2, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_SNORM_INT16X4, WHOLE, 8, 0, 0},
    {CU_AD_FORMAT_UNORM_INT_101010_2, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_BC1_UNORM, BLOCK, 8, 0, 0},
    {CU_AD_FORMAT_BC1_UNORM_SRGB, BLOCK, 8, 0, 0},
    {CU_AD_FORMAT_BC2_UNORM, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC2_UNORM_SRGB, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC3_UNORM, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC3_UNORM_SRGB, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC4_UNORM, BLOCK, 8, 0, 0},
    {CU_AD_FORMAT_BC4_SNORM, BLOCK, 8, 0, 0},
    {CU_AD_FORMAT_BC5_UNORM, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC5_SNORM, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC6H_UF16, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC6H_SF16, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC7_UNORM, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_BC7_UNORM_SRGB, BLOCK, 16, 0, 0},
    {CU_AD_FORMAT_NV12, PLANAR, 1, 2, 2},
    {CU_AD_FORMAT_P010, PLANAR, 2, 2, 2},
    {CU_AD_FORMAT_P016, PLANAR, 2, 2, 2},
    {CU_AD_FORMAT_NV16, PLANAR, 1, 2, 1},
    {CU_AD_FORMAT_P210, PLANAR, 2, 2, 1},
    {CU_AD_FORMAT_P216, PLANAR, 2, 2, 1},
    {CU_AD_FORMAT_Y444_PLANAR8, PLANAR, 1, 1, 1},
    {CU_AD_FORMAT_Y444_PLANAR10, PLANAR, 2, 1, 1},
    {CU_AD_FORMAT_YUV444_8bit_SemiPlanar, PLANAR, 1, 1, 1},
    {CU_AD_FORMAT_YUV444_16bit_SemiPlanar, PLANAR, 2, 1, 1},
    {CU_AD_FORMAT_YUY2, PACKED2, 4, 0, 0},
    {CU_AD_FORMAT_Y210, PACKED2, 8, 0, 0},
    {CU_AD_FORMAT_Y216, PACKED2, 8, 0, 0},
    {CU_AD_FORMAT_AYUV, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_Y410, WHOLE, 4, 0, 0},
    {CU_AD_FORMAT_Y416, WHOLE, 8, 0, 0},
};

static uint64_t up(uint64_t n, uint64_t by)
{
    return n / by + (n % by != 0);
}

/* a * b into *out; false on overflow. */
static bool mul(uint64_t a, uint64_t b, uint64_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Bytes of one width x height plane (one layer or slice). */
static bool plane(const struct format *f, unsigned channels, uint64_t w, uint64_t h, uint64_t *out)
{
    uint64_t a, b;
    switch (f->shape) {
    case PLAIN:
        return mul(w, h, &a) && mul(a, (uint64_t)f->bytes * channels, out);
    case WHOLE:
        return mul(w, h, &a) && mul(a, f->bytes, out);
    case PACKED2:
        return mul(up(w, 2), h, &a) && mul(a, f->bytes, out);
    case BLOCK:
        return mul(up(w, 4), up(h, 4), &a) && mul(a, f->bytes, out);
    case PLANAR:
        if (!mul(w, h, &a) || !mul(up(w, f->sx), up(h, f->sy), &b) || !mul(b, 2, &b))
            return false;
        return !__builtin_add_overflow(a, b, &a) && mul(a, f->bytes, out);
    }
    return false;
}

uint64_t gv_array_bytes(unsigned format, unsigned channels, uint64_t width, uint64_t height,
                        uint64_t depth)
{
    if (channels == 0 || channels > 4)
        return 0;
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (formats[i].format != format)
            continue;
        uint64_t p, all;
        if (!plane(&formats[i], channels, width, height ? height : 1, &p) ||
            !mul(p, depth ? depth : 1, &all))
            return UINT64_MAX;
        return all;
    }
    return 0;
}
