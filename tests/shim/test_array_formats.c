/* SPDX-License-Identifier: Apache-2.0 */
/* test_array_formats.c: every CUarray_format that the toolkit's cuda.h lists is charged at least
 * what the array takes on the device, and the charge is returned when the array is destroyed.
 *
 * The list of formats is read from the very cuda.h the project is built with (its path comes from
 * the build), so a format that a new toolkit adds is walked too and cannot be missed. What an
 * array takes is what the simulated driver takes from the device for it (cuMemGetInfo's free
 * before and after; the instance has no memory limit, so the figures are the device's own), and
 * what is charged is what the instance's region counts. Each format is tried with 1, 2 and 4
 * channels, on an extent that is no multiple of the block sizes (250 x 130). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "shimtest.h"

#define MAX_FORMATS 128

struct format {
    char name[64];
    unsigned value;
};

static struct format formats[MAX_FORMATS];
static unsigned nformats;

/* The members of `typedef enum CUarray_format_enum { ... }` in cuda.h, but the _MAX marker. */
static int read_header(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[512];
    bool in = false;
    while (fgets(line, sizeof(line), f)) {
        if (!in) {
            in = strstr(line, "enum CUarray_format_enum") != NULL;
            continue;
        }
        if (strstr(line, "} CUarray_format;"))
            break;
        char *p = strstr(line, "CU_AD_FORMAT_");
        if (!p)
            continue;
        char name[64];
        unsigned long v;
        int n = 0;
        if (sscanf(p, "%63[A-Za-z0-9_] = %li%n", name, (long *)&v, &n) < 2)
            continue;
        if (strcmp(name, "CU_AD_FORMAT_MAX") == 0 || nformats == MAX_FORMATS)
            continue;
        snprintf(formats[nformats].name, sizeof(formats[nformats].name), "%s", name);
        formats[nformats].value = (unsigned)v;
        nformats++;
    }
    fclose(f);
    return in ? 0 : -1;
}

static size_t free_now(void)
{
    size_t f = 0, t = 0;
    cuMemGetInfo(&f, &t);
    return f;
}

static void t_every_format(void)
{
    CHECK(read_header(GV_CUDA_H) == 0);
    printf("     %u formats in %s\n", nformats, GV_CUDA_H);
    CHECK(nformats >= 50);
    uint64_t worst = 0, over = 0;
    const char *worst_name = "-";
    unsigned worst_ch = 0, made = 0;
    static const unsigned channels[] = {1, 2, 4};
    for (unsigned i = 0; i < nformats; i++) {
        for (unsigned c = 0; c < 3; c++) {
            CUDA_ARRAY3D_DESCRIPTOR d = {.Width = 250,
                                         .Height = 130,
                                         .Format = (CUarray_format)formats[i].value,
                                         .NumChannels = channels[c]};
            size_t free0 = free_now();
            uint64_t used0 = shim_used(0);
            CUarray a;
            CUresult r = cuArray3DCreate(&a, &d);
            if (r != CUDA_SUCCESS) {
                printf("     %s x%u: %s\n", formats[i].name, channels[c], st_cu_name(r));
                CHECK(r == CUDA_SUCCESS);
            }
            made++;
            uint64_t takes = free0 - free_now(), charged = shim_used(0) - used0;
            if (takes > charged && takes - charged > worst) {
                worst = takes - charged;
                worst_name = formats[i].name;
                worst_ch = channels[c];
            }
            if (charged > takes && charged - takes > over)
                over = charged - takes;
            OK(cuArrayDestroy(a));
            CHECK(shim_used(0) == used0);
            CHECK(free_now() == free0);
        }
    }
    printf("     %u arrays; worst under-charge %llu bytes (%s x%u), worst over-charge %llu bytes\n",
           made, (unsigned long long)worst, worst_name, worst_ch, (unsigned long long)over);
    CHECK(worst == 0);
}

/* The old 2D entry point and a layered 3D array of an 8-byte format. */
static void t_entry_points(void)
{
    uint64_t used0 = shim_used(0);
    size_t free0 = free_now();
    CUDA_ARRAY_DESCRIPTOR d2 = {
        .Width = 64, .Height = 64, .Format = CU_AD_FORMAT_UNORM_INT16X4, .NumChannels = 4};
    CUarray a;
    OK(cuArrayCreate(&a, &d2));
    CHECK(shim_used(0) - used0 >= free0 - free_now());
    CHECK(shim_used(0) - used0 == 64 * 64 * 8);
    OK(cuArrayDestroy(a));
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = 32,
                                  .Height = 32,
                                  .Depth = 3,
                                  .Format = CU_AD_FORMAT_SNORM_INT16X4,
                                  .NumChannels = 4,
                                  .Flags = CUDA_ARRAY3D_LAYERED};
    OK(cuArray3DCreate(&a, &d3));
    CHECK(shim_used(0) - used0 == 32 * 32 * 3 * 8);
    OK(cuArrayDestroy(a));
    CHECK(shim_used(0) == used0);
}

int main(void)
{
    shim_setup("T4", "arrayformats", NULL);
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_every_format);
    RUN(t_entry_points);
    return st_summary();
}
