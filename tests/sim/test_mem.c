/* SPDX-License-Identifier: Apache-2.0 */
/* test_mem.c: device, managed and pinned memory, pointer attributes, stream-ordered pools, VMM
 * and arrays, each with its failure paths, and the machine's accounting behind all of them. */
#include <dlfcn.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "sim/sim.h"
#include "simtest.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static CUcontext t4, h200;

static size_t free_now(void)
{
    size_t f = 0, t = 0;
    cuMemGetInfo(&f, &t);
    return f;
}

static void before_init(void)
{
    CUdeviceptr p;
    size_t f, t;
    CHECK_CU(cuMemAlloc(&p, 1024), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuMemGetInfo(&f, &t), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuInit(0));
    CHECK_CU(cuMemAlloc(&p, 1024), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuDevicePrimaryCtxRetain(&t4, 0));
    OK(cuDevicePrimaryCtxRetain(&h200, 1));
    OK(cuCtxSetCurrent(t4));
}

static void alloc_free(void)
{
    CUdeviceptr p, base;
    size_t f0, total, size;
    int dev = -9;
    OK(cuMemGetInfo(&f0, &total));
    CHECK(f0 <= total && total > 0);
    OK(cuMemAlloc(&p, 3 * MiB + 5));
    CHECK(p != 0);
    CHECK(free_now() == f0 - (3 * MiB + 5));
    memset((void *)(uintptr_t)p, 0xab, 3 * MiB + 5); /* it is memory */
    OK(gvsim_ptr_check(p, 3 * MiB + 5, &dev));
    CHECK(dev == 0);
    OK(gvsim_ptr_check(p + MiB, 2 * MiB + 5, NULL));
    CHECK_CU(gvsim_ptr_check(p + MiB, 2 * MiB + 6, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(gvsim_ptr_check(p - 1, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemGetAddressRange(&base, &size, p + 100));
    CHECK(base == p && size == 3 * MiB + 5);
    CHECK_CU(cuMemFree(p + 1), CUDA_ERROR_INVALID_VALUE); /* interior */
    OK(cuMemFree(p));
    CHECK(free_now() == f0);
    CHECK_CU(cuMemFree(p), CUDA_ERROR_INVALID_VALUE); /* twice */
    CHECK_CU(gvsim_ptr_check(p, 1, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemGetAddressRange(&base, &size, p), CUDA_ERROR_NOT_FOUND);
    CHECK_CU(cuMemFree((CUdeviceptr)0x1234), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree(0));
    CHECK_CU(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAlloc(NULL, 16), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemGetInfo(NULL, &total), CUDA_ERROR_INVALID_VALUE);
}

static void out_of_memory(void)
{
    CUdeviceptr p, q;
    size_t f0 = free_now(), total, f;
    OK(cuMemGetInfo(&f, &total));
    CHECK_CU(cuMemAlloc(&p, f0 + 1), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(free_now() == f0); /* nothing changed */
    OK(cuMemAlloc(&p, f0 - MiB));
    CHECK_CU(cuMemAlloc(&q, 2 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAllocManaged(&q, 2 * MiB, CU_MEM_ATTACH_GLOBAL), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemAlloc(&q, MiB / 2));
    OK(cuMemFree(q));
    OK(cuMemFree(p));
    CHECK(free_now() == f0);
}

static void legacy_abi(void)
{
    CUresult (*alloc)(unsigned *, unsigned) =
        (CUresult(*)(unsigned *, unsigned))dlsym(RTLD_DEFAULT, "cuMemAlloc");
    CUresult (*release)(unsigned) = (CUresult(*)(unsigned))dlsym(RTLD_DEFAULT, "cuMemFree");
    CUresult (*info)(unsigned *, unsigned *) =
        (CUresult(*)(unsigned *, unsigned *))dlsym(RTLD_DEFAULT, "cuMemGetInfo");
    CHECK(alloc && release && info);
    unsigned p = 0, f, t;
    size_t f0 = free_now();
    OK(alloc(&p, 4096));
    CHECK(p != 0);
    OK(gvsim_ptr_check(p, 4096, NULL));
    ((volatile char *)(uintptr_t)p)[4095] = 1;
    CHECK(free_now() == f0 - 4096);
    OK(release(p));
    CHECK(free_now() == f0);
    OK(info(&f, &t));
    CHECK(t > 0 && f <= t);
}

static void pitch(void)
{
    CUdeviceptr p;
    size_t pitch = 0, f0 = free_now();
    OK(cuMemAllocPitch(&p, &pitch, 1000, 30, 4));
    CHECK(pitch >= 1000 && pitch % 256 == 0);
    CHECK(free_now() == f0 - pitch * 30);
    OK(cuMemFree(p));
    CHECK_CU(cuMemAllocPitch(&p, &pitch, 1000, 30, 3), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocPitch(&p, &pitch, 0, 30, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocPitch(&p, NULL, 10, 30, 4), CUDA_ERROR_INVALID_VALUE);
}

static void managed_and_host(void)
{
    CUdeviceptr m, dp;
    void *h, *h2;
    unsigned flags = 0, type = 0;
    bool managed = false;
    size_t f0 = free_now();
    OK(cuMemAllocManaged(&m, MiB, CU_MEM_ATTACH_GLOBAL));
    CHECK(free_now() == f0 - MiB);
    OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, m));
    CHECK(managed);
    CHECK_CU(cuMemAllocManaged(&m, MiB, 77), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree(m));
    OK(cuMemAllocHost(&h, 8192));
    CHECK(free_now() == f0); /* pinned host memory is not device memory */
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr)(uintptr_t)h));
    CHECK(type == CU_MEMORYTYPE_HOST);
    OK(cuMemHostAlloc(&h2, 4096, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
    OK(cuMemHostGetFlags(&flags, h2));
    CHECK(flags == (CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
    OK(cuMemHostGetDevicePointer(&dp, h2, 0));
    CHECK(dp == (CUdeviceptr)(uintptr_t)h2);
    int dev = 5;
    OK(gvsim_ptr_check(dp, 4096, &dev));
    CHECK(dev == -1);
    CHECK_CU(cuMemHostGetDevicePointer(&dp, h2, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemHostAlloc(&h2, 4096, 0x100), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemFreeHost((char *)h + 1), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFreeHost(h));
    OK(cuMemFreeHost(h2));
    CHECK_CU(cuMemFreeHost(h), CUDA_ERROR_INVALID_VALUE);
    /* Registered memory is the caller's: usable by copies, never freed by the driver. */
    static char buf[8192];
    OK(cuMemHostRegister(buf, sizeof(buf), 0));
    OK(gvsim_ptr_check((CUdeviceptr)(uintptr_t)buf, sizeof(buf), NULL));
    CHECK_CU(cuMemHostRegister(buf + 100, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    OK(cuMemHostUnregister(buf));
    CHECK_CU(cuMemHostUnregister(buf), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    buf[0] = 1;
}

static void pointer_attributes(void)
{
    CUdeviceptr p, start = 0;
    unsigned type = 0;
    int ordinal = -1;
    CUcontext ctx = NULL;
    size_t size = 0;
    unsigned long long id1 = 0, id2 = 0;
    OK(cuMemAlloc(&p, 4096));
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p + 10));
    CHECK(type == CU_MEMORYTYPE_DEVICE);
    OK(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p));
    CHECK(ordinal == 0);
    OK(cuPointerGetAttribute(&ctx, CU_POINTER_ATTRIBUTE_CONTEXT, p));
    CHECK(ctx == t4);
    OK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, p + 10));
    OK(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, p + 10));
    CHECK(start == p && size == 4096);
    OK(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, p));
    void *hp;
    CHECK_CU(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, p),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, 0x10),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuPointerGetAttribute(NULL, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, p),
             CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree(p));
    OK(cuMemAlloc(&p, 4096));
    OK(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, p));
    CHECK(id1 != id2); /* ids are never reused, even at the same address */
    CUpointer_attribute attrs[2] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE,
                                    CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL};
    void *data[2] = {&type, &ordinal};
    OK(cuPointerGetAttributes(2, attrs, data, p));
    CHECK(type == CU_MEMORYTYPE_DEVICE && ordinal == 0);
    OK(cuPointerGetAttributes(2, attrs, data, 0x10)); /* unknown: no error, empty answers */
    CHECK(type == 0);
    OK(cuMemFree(p));
}

static void huge_on_h200(void)
{
    CUdeviceptr p;
    long rss0 = 0, rss1 = 0, pages;
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f && fscanf(f, "%ld %ld", &pages, &rss0) == 2);
    fclose(f);
    OK(cuCtxPushCurrent(h200));
    size_t f0 = free_now();
    OK(cuMemAlloc(&p, 100 * GiB));
    CHECK(free_now() == f0 - 100 * GiB);
    ((volatile char *)(uintptr_t)p)[50 * GiB] = 7; /* one page is touched, one page is paid */
    f = fopen("/proc/self/statm", "r");
    CHECK(f && fscanf(f, "%ld %ld", &pages, &rss1) == 2);
    fclose(f);
    CHECK((rss1 - rss0) * sysconf(_SC_PAGESIZE) < 64 * (long)MiB);
    OK(cuMemFree(p));
    CHECK(free_now() == f0);
    OK(cuCtxPopCurrent(NULL));
}

static CUmemoryPool default_pool(void)
{
    CUmemoryPool pool = NULL;
    cuDeviceGetDefaultMemPool(&pool, 0);
    return pool;
}

static cuuint64_t pool_attr(CUmemoryPool pool, CUmemPool_attribute a)
{
    cuuint64_t v = 0;
    cuMemPoolGetAttribute(pool, a, &v);
    return v;
}

static void stream_ordered(void)
{
    CUdeviceptr p, q;
    CUmemoryPool pool = default_pool(), cur = NULL;
    CHECK(pool != NULL);
    OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(cur == pool);
    size_t f0 = free_now();
    OK(cuMemAllocAsync(&p, 64 * MiB, NULL));
    OK(gvsim_ptr_check(p, 64 * MiB, NULL));
    CHECK(free_now() == f0 - 64 * MiB);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 64 * MiB);
    OK(cuMemFreeAsync(p, NULL));
    CHECK_CU(cuMemFreeAsync(p, NULL), CUDA_ERROR_INVALID_VALUE); /* already being freed */
    OK(cuCtxSynchronize());
    /* Release threshold 0: the memory went back to the device at once. */
    CHECK(free_now() == f0);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 64 * MiB);

    /* A threshold keeps freed memory reserved, still charged on the device, for reuse. */
    cuuint64_t keep = GiB, zero = 0;
    OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep));
    OK(cuMemAllocAsync(&p, 64 * MiB, NULL));
    OK(cuMemFreeAsync(p, NULL));
    OK(cuCtxSynchronize());
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 64 * MiB);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0);
    CHECK(free_now() == f0 - 64 * MiB);
    CHECK_CU(gvsim_ptr_check(p, 1, NULL), CUDA_ERROR_INVALID_VALUE); /* reserved is not live */
    OK(cuMemAllocAsync(&q, 32 * MiB, NULL));                         /* served from the reserve */
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 64 * MiB);
    OK(cuMemFreeAsync(q, NULL));
    OK(cuCtxSynchronize());
    OK(cuMemPoolTrimTo(pool, 0));
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0);
    CHECK(free_now() == f0);
    OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &zero));
    OK(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &zero));
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH) == 0);
    CHECK_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_HIGH, &keep),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &zero),
             CUDA_ERROR_INVALID_VALUE);

    CHECK_CU(cuMemAllocAsync(&p, 0, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocAsync(&p, f0 + 1, NULL), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAllocAsync(&p, 16, (CUstream)(uintptr_t)0x5150), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuMemFreeAsync((CUdeviceptr)0x1000, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemPoolGetAttribute((CUmemoryPool)(uintptr_t)0x99, CU_MEMPOOL_ATTR_USED_MEM_CURRENT,
                                   &keep),
             CUDA_ERROR_INVALID_VALUE);
}

static void created_pools(void)
{
    CUmemoryPool pool, cur;
    CUdeviceptr p;
    CUmemPoolProps props;
    memset(&props, 0, sizeof(props));
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    size_t f0 = free_now();
    OK(cuMemPoolCreate(&pool, &props));
    OK(cuMemAllocFromPoolAsync(&p, 8 * MiB, pool, NULL));
    CHECK(free_now() == f0 - 8 * MiB);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 8 * MiB);
    CUmemoryPool from = NULL;
    OK(cuPointerGetAttribute(&from, CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE, p));
    CHECK(from == pool);
    OK(cuMemFreeAsync(p, NULL));
    OK(cuCtxSynchronize());
    CHECK(free_now() == f0);
    OK(cuDeviceSetMemPool(0, pool));
    OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(cur == pool);
    CHECK_CU(cuDeviceSetMemPool(1, pool), CUDA_ERROR_INVALID_VALUE); /* a device-0 pool */
    OK(cuMemAllocAsync(&p, MiB, NULL));
    /* A pool takes whole 2 MiB granules of the device. */
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 2 * MiB);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 2 * MiB);
    CHECK(free_now() == f0 - 2 * MiB);
    OK(cuMemFree(p)); /* a synchronous free of pool memory works too */
    OK(cuMemPoolDestroy(pool));
    OK(cuDeviceGetMemPool(&cur, 0));
    CHECK(cur == default_pool());
    CHECK_CU(cuMemPoolDestroy(pool), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemPoolDestroy(default_pool()), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemAllocFromPoolAsync(&p, MiB, pool, NULL), CUDA_ERROR_INVALID_VALUE);
    props.location.id = 9;
    CHECK_CU(cuMemPoolCreate(&pool, &props), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemPoolCreate(NULL, &props), CUDA_ERROR_INVALID_VALUE);
    CHECK(free_now() == f0);
}

/* A cuMemFreeAsync gives the block back to its pool when the stream reaches it: behind a long
 * kernel, the block is still in use, and still on the device, until the kernel is done. */
static void queued_free(void)
{
    CUmodule mod;
    CUfunction spin;
    OK(cuModuleLoadData(&mod, "gvsim-module\nspin_ns\n"));
    OK(cuModuleGetFunction(&spin, mod, "spin_ns"));
    CUmemoryPool pool = default_pool();
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    size_t f0 = free_now();
    CUdeviceptr p;
    OK(cuMemAllocAsync(&p, 64 * MiB, s));
    uint64_t ns = 300 * 1000 * 1000ull;
    void *args[] = {&ns};
    OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL));
    OK(cuMemFreeAsync(p, s));
    CHECK_CU(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 64 * MiB);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 64 * MiB);
    CHECK(free_now() == f0 - 64 * MiB);
    OK(cuStreamSynchronize(s));
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0);
    CHECK(pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) == 0);
    CHECK(free_now() == f0);
    OK(cuStreamDestroy(s));
    OK(cuModuleUnload(mod));
}

/* cuMemAllocAsync takes from the current pool of the stream's device, whatever the current
 * context. */
static void stream_device_pool(void)
{
    CUstream s;
    CUmemoryPool h200_pool;
    OK(cuCtxPushCurrent(h200));
    OK(cuStreamCreate(&s, 0));
    OK(cuDeviceGetMemPool(&h200_pool, 1));
    OK(cuCtxPopCurrent(NULL));
    CUdeviceptr p;
    OK(cuMemAllocAsync(&p, 64 * MiB, s));
    int dev = -1;
    OK(gvsim_ptr_check(p, 64 * MiB, &dev));
    CHECK(dev == 1);
    CHECK(pool_attr(h200_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 64 * MiB);
    CHECK(pool_attr(default_pool(), CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0);
    OK(cuMemFreeAsync(p, s));
    OK(cuStreamSynchronize(s));
    CHECK(pool_attr(h200_pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT) == 0);
    OK(cuStreamDestroy(s));
}

static void vmm(void)
{
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    size_t gran = 0, f0 = free_now();
    OK(cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
    CHECK(gran == 2 * MiB);
    CUmemGenericAllocationHandle h;
    CHECK_CU(cuMemCreate(&h, gran + 1, &prop, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemCreate(&h, 2 * gran, &prop, 0));
    CHECK(free_now() == f0 - 2 * gran);
    CUmemAllocationProp back;
    OK(cuMemGetAllocationPropertiesFromHandle(&back, h));
    CHECK(back.location.id == 0);
    CUdeviceptr va;
    OK(cuMemAddressReserve(&va, 4 * gran, 0, 0, 0));
    CHECK(va % gran == 0);
    OK(cuMemMap(va, 2 * gran, 0, h, 0));
    OK(cuMemMap(va + 2 * gran, 2 * gran, 0, h, 0)); /* the same memory, twice */
    CHECK_CU(cuMemMap(va, 2 * gran, 0, h, 0), CUDA_ERROR_INVALID_VALUE); /* already mapped */
    CHECK_CU(gvsim_ptr_check(va, 16, NULL), CUDA_ERROR_INVALID_VALUE);   /* no access yet */
    CUmemAccessDesc access = {.location = prop.location,
                              .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, 4 * gran, &access, 1));
    OK(gvsim_ptr_check(va, 2 * gran, NULL));
    CHECK_CU(gvsim_ptr_check(va, 2 * gran + 1, NULL), CUDA_ERROR_INVALID_VALUE); /* two mappings */
    ((volatile uint32_t *)(uintptr_t)va)[10] = 0xfeedu;
    CHECK(((volatile uint32_t *)(uintptr_t)(va + 2 * gran))[10] == 0xfeedu);
    OK(cuMemRelease(h)); /* still mapped: still charged */
    CHECK(free_now() == f0 - 2 * gran);
    CHECK_CU(cuMemAddressFree(va, 4 * gran), CUDA_ERROR_INVALID_VALUE); /* unmap first */
    CHECK_CU(cuMemUnmap(va, gran), CUDA_ERROR_INVALID_VALUE);           /* part of a mapping */
    OK(cuMemUnmap(va, 4 * gran));
    CHECK(free_now() == f0);
    CHECK_CU(gvsim_ptr_check(va, 16, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemAddressFree(va, 4 * gran));
    CHECK_CU(cuMemRelease(h), CUDA_ERROR_INVALID_VALUE);
    prop.location.id = 0;
    CHECK_CU(cuMemCreate(&h, (f0 / gran + 1) * gran, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(free_now() == f0);
}

static void arrays(void)
{
    CUarray a, b;
    size_t f0 = free_now(), bytes = 0;
    CUDA_ARRAY_DESCRIPTOR d = {
        .Width = 64, .Height = 32, .Format = CU_AD_FORMAT_FLOAT, .NumChannels = 4};
    OK(cuArrayCreate(&a, &d));
    CHECK(free_now() == f0 - 64 * 32 * 16);
    CHECK(gvsim_array_data(a, &bytes) != NULL && bytes == 64 * 32 * 16);
    CUDA_ARRAY_DESCRIPTOR back;
    OK(cuArrayGetDescriptor(&back, a));
    CHECK(back.Width == 64 && back.Height == 32 && back.NumChannels == 4 &&
          back.Format == CU_AD_FORMAT_FLOAT);
    CUDA_ARRAY3D_DESCRIPTOR d3 = {.Width = 10,
                                  .Height = 10,
                                  .Depth = 10,
                                  .Format = CU_AD_FORMAT_UNSIGNED_INT16,
                                  .NumChannels = 2};
    OK(cuArray3DCreate(&b, &d3));
    CHECK(free_now() == f0 - 64 * 32 * 16 - 10 * 10 * 10 * 4);
    CUDA_ARRAY3D_DESCRIPTOR back3;
    OK(cuArray3DGetDescriptor(&back3, b));
    CHECK(back3.Depth == 10 && back3.NumChannels == 2);
    CHECK_CU(cuArrayGetDescriptor(&back, b), CUDA_ERROR_INVALID_HANDLE); /* 3D */
    OK(cuArrayDestroy(a));
    OK(cuArrayDestroy(b));
    CHECK(free_now() == f0);
    CHECK_CU(cuArrayDestroy(a), CUDA_ERROR_INVALID_HANDLE);
    CHECK(gvsim_array_data(a, &bytes) == NULL);
    d.NumChannels = 3;
    CHECK_CU(cuArrayCreate(&a, &d), CUDA_ERROR_INVALID_VALUE);
    d.NumChannels = 1;
    d.Format = (CUarray_format)0x77;
    CHECK_CU(cuArrayCreate(&a, &d), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuArrayCreate(&a, NULL), CUDA_ERROR_INVALID_VALUE);
}

int main(void)
{
    st_machine("T4,H200");
    RUN(before_init);
    RUN(alloc_free);
    RUN(out_of_memory);
    RUN(legacy_abi);
    RUN(pitch);
    RUN(managed_and_host);
    RUN(pointer_attributes);
    RUN(huge_on_h200);
    RUN(stream_ordered);
    RUN(created_pools);
    RUN(queued_free);
    RUN(stream_device_pool);
    RUN(vmm);
    RUN(arrays);
    return st_summary();
}
