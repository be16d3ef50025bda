/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_device.c: a stream-ordered allocation is charged to the device whose memory it takes:
 * cuMemAllocFromPoolAsync to the pool's device (a pool made with cuMemPoolCreate, or a device's
 * default pool), whatever the current context's device; cuMemAllocAsync to the device of the
 * stream's context (the current one for the default streams); and its free returns the charge
 * to that same device. */
#include <string.h>

#include "shimtest.h"

static CUcontext ctx0, ctx1;

static void t_created_pool(void)
{
    OK(cuCtxSetCurrent(ctx0));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    CUmemPoolProps props;
    memset(&props, 0, sizeof(props));
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 1;
    CUmemoryPool pool;
    OK(cuMemPoolCreate(&pool, &props));
    CUdeviceptr p, q;
    OK(cuMemAllocFromPoolAsync(&p, 512 * MiB, pool, s));
    CHECK(shim_used(0) == 0);
    CHECK(shim_used(1) == 512 * MiB);
    /* GPU 1's slice is what limits it. */
    CHECK_CU(cuMemAllocFromPoolAsync(&q, 768 * MiB, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemAllocAsync(&q, 768 * MiB, s)); /* the current device's pool */
    CHECK(shim_used(0) == 768 * MiB);
    OK(cuMemFreeAsync(p, s));
    OK(cuMemFreeAsync(q, s));
    OK(cuStreamSynchronize(s));
    CHECK(shim_used(0) == 0);
    CHECK(shim_used(1) == 0);
    OK(cuMemPoolDestroy(pool));
    OK(cuStreamDestroy(s));
}

static void t_default_pool(void)
{
    OK(cuCtxSetCurrent(ctx0));
    CUmemoryPool pool;
    OK(cuDeviceGetDefaultMemPool(&pool, 1));
    CUdeviceptr p;
    OK(cuMemAllocFromPoolAsync(&p, 256 * MiB, pool, NULL));
    CHECK(shim_used(0) == 0);
    CHECK(shim_used(1) == 256 * MiB);
    OK(cuMemFreeAsync(p, NULL));
    OK(cuCtxSynchronize());
    CHECK(shim_used(1) == 0);
}

/* The default streams are the current context's; a created stream is its own context's. */
static void t_stream_device(void)
{
    OK(cuCtxSetCurrent(ctx1));
    CUstream s1;
    OK(cuStreamCreate(&s1, 0));
    CUdeviceptr p;
    OK(cuMemAllocAsync(&p, 128 * MiB, CU_STREAM_PER_THREAD));
    CHECK(shim_used(1) == 128 * MiB);
    CHECK(shim_used(0) == 0);
    OK(cuMemFreeAsync(p, CU_STREAM_PER_THREAD));
    OK(cuCtxSynchronize());
    CHECK(shim_used(1) == 0);

    OK(cuCtxSetCurrent(ctx0));
    CUresult r = cuMemAllocAsync(&p, 128 * MiB, s1);
    if (r == CUDA_SUCCESS) {
        CHECK(shim_used(1) == 128 * MiB);
        CHECK(shim_used(0) == 0);
        OK(cuMemFreeAsync(p, s1));
        OK(cuStreamSynchronize(s1));
    }
    CHECK(shim_used(0) == 0);
    CHECK(shim_used(1) == 0);
    OK(cuCtxSetCurrent(ctx1));
    OK(cuStreamDestroy(s1));
}

static void setup(void)
{
    CUdevice d0, d1;
    OK(cuInit(0));
    OK(cuDeviceGet(&d0, 0));
    OK(cuDeviceGet(&d1, 1));
    OK(cuDevicePrimaryCtxRetain(&ctx0, d0));
    OK(cuDevicePrimaryCtxRetain(&ctx1, d1));
    /* Each GPU joins the instance's books at its first use with a context there. */
    size_t fr, tot;
    OK(cuCtxSetCurrent(ctx1));
    OK(cuMemGetInfo(&fr, &tot));
    OK(cuCtxSetCurrent(ctx0));
    OK(cuMemGetInfo(&fr, &tot));
    CHECK(shim_used(0) == 0 && shim_used(1) == 0);
}

int main(void)
{
    shim_setup("T4,T4", "pool-device", "1GiB");
    setenv("GPUVISOR_CONTEXT_MEMORY", "0", 1);
    RUN(setup);
    RUN(t_created_pool);
    RUN(t_default_pool);
    RUN(t_stream_device);
    return st_summary();
}
