/* SPDX-License-Identifier: Apache-2.0 */
/* test_memory.c: every allocation path is charged to the slice, every free returns exactly its
 * charge, a charge past the slice fails before the driver sees it, and the slice is what the
 * program sees (cuMemGetInfo, cuDeviceTotalMem). Linked with -lcuda, as most programs are. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "shimtest.h"

static CUcontext ctx;

/* Device memory in use on the simulated GPU, all processes: what the driver really holds (read
 * from the simulator's own seam, which no interposer touches). */
static uint64_t driver_used(void)
{
    typedef void (*info_fn)(int, uint64_t *, uint64_t *, uint64_t *);
    static info_fn info;
    if (!info) {
        void *h = dlopen("libcuda.so.1", RTLD_NOW);
        info = h ? (info_fn)dlsym(h, "gvsim_mem_info") : NULL;
    }
    uint64_t f = 0, u = UINT64_MAX, t = 0;
    if (info)
        info(0, &f, &u, &t);
    return u;
}

static void t_limit(void)
{
    CUdeviceptr a = 0, b = 0, c = 0;
    uint64_t before = driver_used();
    OK(cuMemAlloc(&a, 512 * MiB));
    OK(cuMemAlloc(&b, 512 * MiB));
    CHECK(shim_used(0) == GiB);
    uint64_t at_limit = driver_used();
    CHECK_CU(cuMemAlloc(&c, 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(c == 0);
    CHECK(driver_used() == at_limit); /* the driver never saw it */
    CHECK(shim_used(0) == GiB);
    OK(cuMemFree(a));
    CHECK(shim_used(0) == 512 * MiB);
    OK(cuMemAlloc(&c, 256 * MiB));
    CHECK(shim_used(0) == 768 * MiB);
    OK(cuMemFree(b));
    OK(cuMemFree(c));
    CHECK(shim_used(0) == 0);
    CHECK(driver_used() == before);
}

static void t_meminfo(void)
{
    size_t free_b = 0, total = 0, dt = 0;
    OK(cuMemGetInfo(&free_b, &total));
    CHECK(total == GiB);
    CHECK(free_b == GiB);
    CUdeviceptr a;
    OK(cuMemAlloc(&a, 300 * MiB));
    OK(cuMemGetInfo(&free_b, &total));
    CHECK(total == GiB);
    CHECK(free_b == GiB - 300 * MiB);
    CHECK(free_b + 300 * MiB <= total);
    OK(cuDeviceTotalMem(&dt, 0));
    CHECK(dt == GiB);
    OK(cuMemFree(a));
    CHECK_CU(cuMemGetInfo(NULL, &total), CUDA_ERROR_INVALID_VALUE);
}

static void t_pitch(void)
{
    CUdeviceptr p;
    size_t pitch = 0;
    OK(cuMemAllocPitch(&p, &pitch, 1000, 100, 4));
    CHECK(pitch >= 1000);
    CHECK(shim_used(0) == (uint64_t)pitch * 100);
    OK(cuMemFree(p));
    CHECK(shim_used(0) == 0);
    CHECK_CU(cuMemAllocPitch(&p, &pitch, 1 << 20, 2048, 4), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(shim_used(0) == 0);
}

static void t_managed(void)
{
    CUdeviceptr p;
    OK(cuMemAllocManaged(&p, 100 * MiB, CU_MEM_ATTACH_GLOBAL));
    CHECK(shim_used(0) == 100 * MiB);
    CHECK_CU(cuMemAllocManaged(&p, GiB, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemFree(p));
    CHECK(shim_used(0) == 0);
}

static void t_async(void)
{
    CUstream s;
    CUdeviceptr p, q;
    OK(cuStreamCreate(&s, 0));
    OK(cuMemAllocAsync(&p, 200 * MiB, s));
    CHECK(shim_used(0) == 200 * MiB);
    CHECK_CU(cuMemAllocAsync(&q, 900 * MiB, s), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemFreeAsync(p, s));
    OK(cuStreamSynchronize(s));
    CHECK(shim_used(0) == 0);

    CUmemoryPool pool;
    CUmemPoolProps props;
    memset(&props, 0, sizeof(props));
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    OK(cuMemPoolCreate(&pool, &props));
    OK(cuMemAllocFromPoolAsync(&p, 64 * MiB, pool, s));
    CHECK(shim_used(0) == 64 * MiB);
    CHECK_CU(cuMemAllocFromPoolAsync(&q, GiB, pool, s), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemFreeAsync(p, s));
    OK(cuStreamSynchronize(s));
    CHECK(shim_used(0) == 0);
    OK(cuMemPoolDestroy(pool));
    OK(cuStreamDestroy(s));
}

static void t_vmm(void)
{
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    size_t gran = 0;
    OK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK(gran > 0);
    size_t size = 64 * gran;
    CUmemGenericAllocationHandle h;
    OK(cuMemCreate(&h, size, &prop, 0));
    CHECK(shim_used(0) == size);
    CUdeviceptr va;
    OK(cuMemAddressReserve(&va, size, 0, 0, 0));
    OK(cuMemMap(va, size, 0, h, 0));
    CUmemAccessDesc acc = {.location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, size, &acc, 1));
    /* Mapping and reserving take no memory of the slice: only cuMemCreate does. */
    CHECK(shim_used(0) == size);
    CUmemGenericAllocationHandle big;
    CHECK_CU(cuMemCreate(&big, (GiB / gran + 1) * gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemUnmap(va, size));
    OK(cuMemAddressFree(va, size));
    OK(cuMemRelease(h));
    CHECK(shim_used(0) == 0);
}

static void t_arrays(void)
{
    CUDA_ARRAY_DESCRIPTOR d = {
        .Width = 1024, .Height = 512, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    CUarray a, b;
    OK(cuArrayCreate(&a, &d));
    CHECK(shim_used(0) == 1024ULL * 512 * 16);
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = 256,
                                  .Height = 256,
                                  .Depth = 64,
                                  .Format = CU_AD_FORMAT_UNSIGNED_INT8,
                                  .NumChannels = 2};
    OK(cuArray3DCreate(&b, &d3));
    CHECK(shim_used(0) == 1024ULL * 512 * 16 + 256ULL * 256 * 64 * 2);
    CUDA_ARRAY3D_DESCRIPTOR huge = {.Width = 32768,
                                    .Height = 32768,
                                    .Depth = 1,
                                    .Format = CU_AD_FORMAT_FLOAT,
                                    .NumChannels = 1};
    CUarray c;
    CHECK_CU(cuArray3DCreate(&c, &huge), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuArrayDestroy(a));
    OK(cuArrayDestroy(b));
    CHECK(shim_used(0) == 0);
}

static void t_bad_arguments(void)
{
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc(NULL, 100), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemFree((CUdeviceptr)0x1234), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocPitch(NULL, NULL, 10, 10, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocAsync(NULL, 10, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuArrayCreate(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemCreate(NULL, 0, NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemGetInfo(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceTotalMem(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK(shim_used(0) == 0);
}

/* Without a current context the driver answers, not the interposer. */
static void t_no_context(void)
{
    CUcontext cur;
    OK(cuCtxPopCurrent(&cur));
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc(&p, 100), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxPushCurrent(cur));
    CHECK(shim_used(0) == 0);
}

int main(void)
{
    shim_setup("T4", "memtest", "1GiB");
#ifdef VIA_PROCADDR
    via_procaddr_load();
#endif
    CUdevice dev;
    if (cuInit(0) != CUDA_SUCCESS || cuDeviceGet(&dev, 0) != CUDA_SUCCESS ||
        cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_limit);
    RUN(t_meminfo);
    RUN(t_pitch);
    RUN(t_managed);
    RUN(t_async);
    RUN(t_vmm);
    RUN(t_arrays);
    RUN(t_bad_arguments);
    RUN(t_no_context);
    return st_summary();
}
