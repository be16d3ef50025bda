/* SPDX-License-Identifier: Apache-2.0 */
/* test_ctx_reset.c: when the driver frees a context's allocations with the context
 * (cuCtxDestroy, cuDevicePrimaryCtxReset as cudaDeviceReset does, the last
 * cuDevicePrimaryCtxRelease), their charges are returned at once, device pointers and arrays
 * alike; VMM handles belong to the device and keep theirs until released. A primary context that
 * other references keep alive keeps its memory and its charges. */
#include <string.h>

#include "shimtest.h"

static CUdevice dev;

static void use_primary(void)
{
    CUcontext ctx;
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
}

static void t_reset(void)
{
    use_primary();
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 768 * MiB));
    CHECK(shim_used(0) == 768 * MiB);
    OK(cuDevicePrimaryCtxReset(dev));
    CHECK(shim_used(0) == 0);
    use_primary();
    OK(cuMemAlloc(&p, 768 * MiB)); /* the whole slice is there again */
    OK(cuMemFree(p));
    CHECK(shim_used(0) == 0);
    OK(cuDevicePrimaryCtxReset(dev));
}

static void t_destroy(void)
{
    CUcontext c;
    OK(cuCtxCreate(&c, NULL, 0, dev));
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 256 * MiB));
    CUarray a;
    CUDA_ARRAY_DESCRIPTOR d = {
        .Width = 1024, .Height = 1024, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    OK(cuArrayCreate(&a, &d));
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle h;
    OK(cuMemCreate(&h, 128 * MiB, &prop, 0));
    CHECK(shim_used(0) == 256 * MiB + 16 * MiB + 128 * MiB);
    OK(cuCtxDestroy(c));
    CHECK(shim_used(0) == 128 * MiB); /* the VMM handle outlives the context */
    use_primary();
    OK(cuMemRelease(h));
    CHECK(shim_used(0) == 0);
    /* The slice is whole again. */
    OK(cuMemAlloc(&p, GiB));
    OK(cuMemFree(p));
    OK(cuDevicePrimaryCtxRelease(dev));
}

/* The primary context dies with its last release only. */
static void t_release(void)
{
    CUcontext ctx;
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 512 * MiB));
    OK(cuDevicePrimaryCtxRelease(dev));
    CHECK(shim_used(0) == 512 * MiB);
    OK(cuMemFree(p));
    OK(cuMemAlloc(&p, 512 * MiB));
    OK(cuDevicePrimaryCtxRelease(dev));
    CHECK(shim_used(0) == 0);
    /* The stale entry of p must not meet the next allocation at that address. */
    use_primary();
    OK(cuMemAlloc(&p, 512 * MiB));
    CHECK(shim_used(0) == 512 * MiB);
    OK(cuMemFree(p));
    CHECK(shim_used(0) == 0);
    CHECK(cuCtxDestroy(NULL) != CUDA_SUCCESS);
    CHECK(shim_used(0) == 0);
}

static void setup(void)
{
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
}

int main(void)
{
    shim_setup("T4", "ctx-reset", "1GiB");
    setenv("GPUVISOR_CONTEXT_MEMORY", "0", 1);
    RUN(setup);
    RUN(t_reset);
    RUN(t_destroy);
    RUN(t_release);
    return st_summary();
}
