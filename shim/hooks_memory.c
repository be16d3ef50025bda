/* SPDX-License-Identifier: Apache-2.0 */
/* hooks_memory.c: every device allocation path is charged to the instance, and every free path
 * returns exactly what was charged.
 *
 * The order is always: charge, then ask the driver, then settle. A charge that would pass the
 * slice fails with CUDA_ERROR_OUT_OF_MEMORY before the driver is asked; a driver failure returns
 * the charge. Frees take the entry out of the table before the driver frees, so that an address
 * the driver hands out again at once can never meet a stale entry. Arguments the shim cannot
 * understand (NULL pointers, size 0, no context) go to the driver untouched, so the caller gets the
 * driver's own error. */
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "shim/hooks.h"

/* Which context is current and its device, or -1 (no usable context): the current context is
 * what the default stream means, and stream.c keeps each thread's last answers. */
static CUdevice where(uint64_t *ctxp)
{
    CUcontext c = NULL;
    CUdevice d = -1;
    *ctxp = 0;
    if (gvs_stream_where(NULL, &c, &d) < 0)
        return -1;
    *ctxp = (uint64_t)(uintptr_t)c;
    return d;
}

/* After the driver answered an allocation that was charged `bytes` on `dev` in context `ctx`. */
static CUresult settle(CUresult r, enum gvs_kind kind, uint64_t key, CUdevice dev, uint64_t bytes,
                       uint64_t ctx)
{
    if (r != CUDA_SUCCESS) {
        gvs_uncharge(dev, bytes);
        if (r == CUDA_ERROR_OUT_OF_MEMORY)
            gvs_driver_oom(dev);
        return r;
    }
    struct gvs_entry e = {bytes, ctx, dev};
    if (!gvs_track(kind, key, &e)) {
        /* Without an entry the free could not return the charge; keep the books right by
         * keeping the charge: the instance then under-uses rather than over-uses. */
        return r;
    }
    return r;
}

/* Take `key` out of the table before the driver frees it; put it back if the free fails. */
static CUresult release(enum gvs_kind kind, uint64_t key, CUresult (*do_free)(uint64_t, void *),
                        void *arg)
{
    struct gvs_entry e;
    bool tracked = gvs_untrack(kind, key, &e);
    CUresult r = do_free(key, arg);
    if (tracked) {
        if (r == CUDA_SUCCESS)
            gvs_uncharge(e.dev, e.bytes);
        else
            gvs_track(kind, key, &e);
    }
    return r;
}

static bool managed_charged(void)
{
    static int charged = -1;
    if (charged < 0) {
        const char *v = getenv("GPUVISOR_MANAGED_MEMORY");
        charged = !(v && strcmp(v, "ignore") == 0);
    }
    return charged;
}

/* ---- cuMemAlloc, cuMemAllocManaged, cuMemFree ---- */

CUresult gvs_cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    ENTER(cuMemAlloc_v2);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    if (!dptr || bytesize == 0 || dev < 0)
        return gvs_real.cuMemAlloc_v2(dptr, bytesize);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAlloc_v2(dptr, bytesize);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize, ctx);
}

CUresult gvs_cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    ENTER(cuMemAlloc);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    if (!dptr || bytesize == 0 || dev < 0)
        return gvs_real.cuMemAlloc(dptr, bytesize);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAlloc(dptr, bytesize);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize, ctx);
}

CUresult gvs_cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    ENTER(cuMemAllocManaged);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    if (!dptr || bytesize == 0 || dev < 0 || !managed_charged())
        return gvs_real.cuMemAllocManaged(dptr, bytesize, flags);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocManaged(dptr, bytesize, flags);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize, ctx);
}

static CUresult free_v2(uint64_t key, void *arg)
{
    (void)arg;
    return gvs_real.cuMemFree_v2((CUdeviceptr)key);
}

static CUresult free_v1(uint64_t key, void *arg)
{
    (void)arg;
    return gvs_real.cuMemFree((CUdeviceptr_v1)key);
}

CUresult gvs_cuMemFree_v2(CUdeviceptr dptr)
{
    ENTER(cuMemFree_v2);
    return release(GVS_DEVPTR, dptr, free_v2, NULL);
}

CUresult gvs_cuMemFree(CUdeviceptr_v1 dptr)
{
    ENTER(cuMemFree);
    return release(GVS_DEVPTR, dptr, free_v1, NULL);
}

/* ---- cuMemAllocPitch: the pitch is known only after the call ---- */

#define PITCH_ALIGN 512u

/* Charge an estimate, then settle on pitch * height once the driver chose the pitch. */
static CUresult pitch_settle(CUresult r, CUdeviceptr ptr, CUdevice dev, uint64_t ctx,
                             uint64_t estimate, uint64_t actual,
                             CUresult (*do_free)(uint64_t, void *))
{
    if (r != CUDA_SUCCESS) {
        gvs_uncharge(dev, estimate);
        if (r == CUDA_ERROR_OUT_OF_MEMORY)
            gvs_driver_oom(dev);
        return r;
    }
    if (actual > estimate && gvs_charge(dev, actual - estimate) != CUDA_SUCCESS) {
        do_free(ptr, NULL);
        gvs_uncharge(dev, estimate);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (actual < estimate)
        gvs_uncharge(dev, estimate - actual);
    return settle(r, GVS_DEVPTR, ptr, dev, actual, ctx);
}

static uint64_t pitch_estimate(uint64_t width, uint64_t height)
{
    return (width + PITCH_ALIGN - 1) / PITCH_ALIGN * PITCH_ALIGN * height;
}

CUresult gvs_cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                unsigned int elem)
{
    ENTER(cuMemAllocPitch_v2);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    uint64_t est = pitch_estimate(width, height);
    if (!dptr || !pitch || est == 0 || dev < 0)
        return gvs_real.cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    CUresult r = gvs_charge(dev, est);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    uint64_t actual = r == CUDA_SUCCESS ? (uint64_t)*pitch * height : 0;
    return pitch_settle(r, r == CUDA_SUCCESS ? *dptr : 0, dev, ctx, est, actual, free_v2);
}

CUresult gvs_cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pitch, unsigned int width,
                             unsigned int height, unsigned int elem)
{
    ENTER(cuMemAllocPitch);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    uint64_t est = pitch_estimate(width, height);
    if (!dptr || !pitch || est == 0 || dev < 0)
        return gvs_real.cuMemAllocPitch(dptr, pitch, width, height, elem);
    CUresult r = gvs_charge(dev, est);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocPitch(dptr, pitch, width, height, elem);
    uint64_t actual = r == CUDA_SUCCESS ? (uint64_t)*pitch * height : 0;
    return pitch_settle(r, r == CUDA_SUCCESS ? *dptr : 0, dev, ctx, est, actual, free_v1);
}

/* ---- stream-ordered allocation: charged what the pools hold, where their memory is ---- */

/* The device of the stream's context: the memory of cuMemAllocAsync comes from that device's
 * current pool. The default streams (NULL, legacy, per-thread) are the current context's. */
static CUdevice stream_device(CUstream stream, CUdevice dev)
{
    CUcontext sc = NULL;
    CUdevice d = -1;
    return gvs_stream_where(stream, &sc, &d) < 0 ? dev : d;
}

/* Where the memory of `pool` lives: 1 on device *dev, 0 off any device (nothing to charge). A pool
 * never seen (made before the interposer was loaded) is taken to be on the current device. */
static int pool_device(CUmemoryPool pool, CUdevice *dev)
{
    CUmemLocation loc;
    if (!gvs_pool_location((uint64_t)(uintptr_t)pool, &loc))
        return 1;
    switch (loc.type) {
    case CU_MEM_LOCATION_TYPE_DEVICE:
        *dev = loc.id;
        return 1;
    case CU_MEM_LOCATION_TYPE_HOST:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA:
    case CU_MEM_LOCATION_TYPE_HOST_NUMA_CURRENT:
        return 0;
    default:
        return 1;
    }
}

/* The current pool of `dev`, which cuMemAllocAsync takes from; NULL when the driver cannot say. */
static CUmemoryPool current_pool(CUdevice dev)
{
    CUmemoryPool pool = NULL;
    if (!gvs_real.cuDeviceGetMemPool || gvs_real.cuDeviceGetMemPool(&pool, dev) != CUDA_SUCCESS)
        return NULL;
    CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};
    CUmemLocation old;
    if (pool && !gvs_pool_location((uint64_t)(uintptr_t)pool, &old))
        gvs_pool_remember((uint64_t)(uintptr_t)pool, &loc);
    return pool;
}

typedef CUresult (*async_fn)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);

/* One stream-ordered request of `bytes` from `pool` (NULL: unknown) on `dev`: the pool is charged
 * before the driver is asked and settled afterwards (pools.c). */
static CUresult pool_alloc(async_fn call, CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool,
                           CUstream stream, CUdevice dev, uint64_t ctx)
{
    uint64_t key = (uint64_t)(uintptr_t)pool;
    enum gvs_pool_charge st = pool ? gvs_pool_charge(key, dev, bytes) : GVS_POOL_UNTRACKED;
    CUresult r;
    switch (st) {
    case GVS_POOL_REFUSED:
        return CUDA_ERROR_OUT_OF_MEMORY;
    case GVS_POOL_FREE:
        return call(dptr, bytes, pool, stream);
    case GVS_POOL_UNTRACKED:
        /* Without the pool in the books, the request is charged its size until it is freed. */
        if ((r = gvs_charge(dev, bytes)) != CUDA_SUCCESS)
            return r;
        r = call(dptr, bytes, pool, stream);
        return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytes, ctx);
    case GVS_POOL_CHARGED:
        break;
    }
    r = call(dptr, bytes, pool, stream);
    if (gvs_pool_settle(key, bytes, r == CUDA_SUCCESS) == CUDA_SUCCESS || r != CUDA_SUCCESS)
        return r;
    /* The pool grew past what the slice has room for: give the memory back to the device. */
    if (gvs_real.cuMemFree_v2)
        gvs_real.cuMemFree_v2(*dptr);
    if (gvs_real.cuMemPoolTrimTo)
        gvs_real.cuMemPoolTrimTo(pool, 0);
    gvs_pools_reread(dev, key);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

static CUresult call_async(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
    (void)pool;
    return gvs_real.cuMemAllocAsync(dptr, bytes, stream);
}

static CUresult call_async_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
    (void)pool;
    return gvs_real.cuMemAllocAsync_ptsz(dptr, bytes, stream);
}

static CUresult call_from_pool(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream)
{
    return gvs_real.cuMemAllocFromPoolAsync(dptr, bytes, pool, stream);
}

static CUresult call_from_pool_ptsz(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool,
                                    CUstream stream)
{
    return gvs_real.cuMemAllocFromPoolAsync_ptsz(dptr, bytes, pool, stream);
}

/* cuMemAllocAsync: from the current pool of the stream's device. */
#define ALLOC_ASYNC(abi, call)                                                                     \
    ENTER(abi);                                                                                    \
    uint64_t ctx;                                                                                  \
    CUdevice dev = where(&ctx);                                                                    \
    if (!dptr || bytesize == 0 || dev < 0 || (dev = stream_device(stream, dev)) < 0)               \
        return gvs_real.abi(dptr, bytesize, stream);                                               \
    return pool_alloc(call, dptr, bytesize, current_pool(dev), stream, dev, ctx)

/* cuMemAllocFromPoolAsync: from the pool named, on its device; a pool in host memory is not
 * charged. */
#define ALLOC_FROM_POOL(abi, call)                                                                 \
    ENTER(abi);                                                                                    \
    uint64_t ctx;                                                                                  \
    CUdevice dev = where(&ctx);                                                                    \
    if (!dptr || bytesize == 0 || dev < 0 || !pool || !pool_device(pool, &dev))                    \
        return gvs_real.abi(dptr, bytesize, pool, stream);                                         \
    return pool_alloc(call, dptr, bytesize, pool, stream, dev, ctx)

CUresult gvs_cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream stream)
{
    ALLOC_ASYNC(cuMemAllocAsync, call_async);
}

CUresult gvs_cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream stream)
{
    ALLOC_ASYNC(cuMemAllocAsync_ptsz, call_async_ptsz);
}

CUresult gvs_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                     CUstream stream)
{
    ALLOC_FROM_POOL(cuMemAllocFromPoolAsync, call_from_pool);
}

CUresult gvs_cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                          CUstream stream)
{
    ALLOC_FROM_POOL(cuMemAllocFromPoolAsync_ptsz, call_from_pool_ptsz);
}

/* Where pool memory can leave the device, the pool's charge is read again. */

CUresult gvs_cuMemPoolTrimTo(CUmemoryPool pool, size_t keep)
{
    ENTER(cuMemPoolTrimTo);
    CUresult r = gvs_real.cuMemPoolTrimTo(pool, keep);
    if (r == CUDA_SUCCESS)
        gvs_pools_reread(-1, (uint64_t)(uintptr_t)pool);
    return r;
}

CUresult gvs_cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    ENTER(cuMemPoolSetAttribute);
    CUresult r = gvs_real.cuMemPoolSetAttribute(pool, attr, value);
    if (r == CUDA_SUCCESS && attr == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD)
        gvs_pools_reread(-1, (uint64_t)(uintptr_t)pool);
    return r;
}

/* A destroyed pool gives its idle memory back at once; blocks still in use stay on the device
 * until they are freed. The pool is trimmed first (the destruction would release the same), so
 * that what it reserves then is what stays. */
CUresult gvs_cuMemPoolDestroy(CUmemoryPool pool)
{
    ENTER(cuMemPoolDestroy);
    cuuint64_t kept = UINT64_MAX;
    if (pool && gvs_real.cuMemPoolTrimTo && gvs_real.cuMemPoolGetAttribute &&
        (gvs_real.cuMemPoolTrimTo(pool, 0) != CUDA_SUCCESS ||
         gvs_real.cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &kept) !=
             CUDA_SUCCESS))
        kept = UINT64_MAX;
    CUresult r = gvs_real.cuMemPoolDestroy(pool);
    if (r == CUDA_SUCCESS && pool)
        gvs_pool_destroyed((uint64_t)(uintptr_t)pool, kept);
    return r;
}

/* Another process's pool: that process is charged for it. Pointers imported from it
 * (cuMemPoolImportPointer) are not charged either. */
CUresult gvs_cuMemPoolImportFromShareableHandle(CUmemoryPool *pool, void *handle,
                                                CUmemAllocationHandleType type,
                                                unsigned long long flags)
{
    ENTER(cuMemPoolImportFromShareableHandle);
    CUresult r = gvs_real.cuMemPoolImportFromShareableHandle(pool, handle, type, flags);
    if (r == CUDA_SUCCESS && pool && *pool) {
        CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = -1};
        gvs_pool_imported((uint64_t)(uintptr_t)*pool, &loc);
    }
    return r;
}

/* The pools' locations, as they are made or handed out. */

CUresult gvs_cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props)
{
    ENTER(cuMemPoolCreate);
    CUresult r = gvs_real.cuMemPoolCreate(pool, props);
    if (r == CUDA_SUCCESS && pool && props)
        gvs_pool_remember((uint64_t)(uintptr_t)*pool, &props->location);
    return r;
}

/* A device's pool: its location is the device, unless the pool is one we know already (a pool
 * made with cuMemPoolCreate and set as the device's current one). */
static void device_pool_seen(CUmemoryPool pool, const CUmemLocation *loc, bool known_wins)
{
    CUmemLocation old;
    if (known_wins && gvs_pool_location((uint64_t)(uintptr_t)pool, &old))
        return;
    gvs_pool_remember((uint64_t)(uintptr_t)pool, loc);
}

CUresult gvs_cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev)
{
    ENTER(cuDeviceGetDefaultMemPool);
    CUresult r = gvs_real.cuDeviceGetDefaultMemPool(pool, dev);
    if (r == CUDA_SUCCESS && pool) {
        CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};
        device_pool_seen(*pool, &loc, false);
    }
    return r;
}

CUresult gvs_cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    ENTER(cuDeviceGetMemPool);
    CUresult r = gvs_real.cuDeviceGetMemPool(pool, dev);
    if (r == CUDA_SUCCESS && pool) {
        CUmemLocation loc = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};
        device_pool_seen(*pool, &loc, true);
    }
    return r;
}

CUresult gvs_cuMemGetDefaultMemPool(CUmemoryPool *pool, CUmemLocation *loc,
                                    CUmemAllocationType type)
{
    ENTER(cuMemGetDefaultMemPool);
    CUresult r = gvs_real.cuMemGetDefaultMemPool(pool, loc, type);
    if (r == CUDA_SUCCESS && pool && loc)
        device_pool_seen(*pool, loc, false);
    return r;
}

CUresult gvs_cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *loc, CUmemAllocationType type)
{
    ENTER(cuMemGetMemPool);
    CUresult r = gvs_real.cuMemGetMemPool(pool, loc, type);
    if (r == CUDA_SUCCESS && pool && loc)
        device_pool_seen(*pool, loc, true);
    return r;
}

static CUresult free_async(uint64_t key, void *stream)
{
    return gvs_real.cuMemFreeAsync((CUdeviceptr)key, (CUstream)stream);
}

static CUresult free_async_ptsz(uint64_t key, void *stream)
{
    return gvs_real.cuMemFreeAsync_ptsz((CUdeviceptr)key, (CUstream)stream);
}

CUresult gvs_cuMemFreeAsync(CUdeviceptr dptr, CUstream stream)
{
    ENTER(cuMemFreeAsync);
    return release(GVS_DEVPTR, dptr, free_async, stream);
}

CUresult gvs_cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream stream)
{
    ENTER(cuMemFreeAsync_ptsz);
    return release(GVS_DEVPTR, dptr, free_async_ptsz, stream);
}

/* ---- virtual memory management ----
 *
 * Physical memory is charged at cuMemCreate, and returned when the driver frees it: when the handle
 * has been released (once per cuMemCreate and per cuMemRetainAllocationHandle) and its last mapping
 * is unmapped, in whatever order. Create, map, release at once is the documented pattern; NCCL
 * retains and releases handles while they stay mapped. So each handle's entry counts references:
 * +1 at create, per retain and per map, -1 per release and per unmap; the charge is returned when
 * they reach 0. A handle belongs to its device, not to a context. */

CUresult gvs_cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                         const CUmemAllocationProp *prop, unsigned long long flags)
{
    ENTER(cuMemCreate);
    if (!handle || !prop || size == 0 || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return gvs_real.cuMemCreate(handle, size, prop, flags);
    CUdevice dev = prop->location.id;
    CUresult r = gvs_charge(dev, size);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemCreate(handle, size, prop, flags);
    return settle(r, GVS_VMM, r == CUDA_SUCCESS ? *handle : 0, dev, size, 0);
}

/* Drop one reference before the driver may free the memory (so a handle value it hands out again
 * cannot meet our entry); *st says what happened, for undo() or done(). */
static void drop(uint64_t handle, int *st, struct gvs_entry *e)
{
    *st = gvs_ref(GVS_VMM, handle, -1, e);
}

/* The driver refused: the reference is back. */
static void undo(uint64_t handle, int st, const struct gvs_entry *e)
{
    struct gvs_entry unused;
    if (st == 1)
        gvs_track(GVS_VMM, handle, e);
    else if (st == 0)
        gvs_ref(GVS_VMM, handle, +1, &unused);
}

/* The driver agreed: the last reference takes the charge with it. */
static void done(int st, const struct gvs_entry *e)
{
    if (st == 1)
        gvs_uncharge(e->dev, e->bytes);
}

CUresult gvs_cuMemRelease(CUmemGenericAllocationHandle handle)
{
    ENTER(cuMemRelease);
    int st;
    struct gvs_entry e;
    drop(handle, &st, &e);
    CUresult r = gvs_real.cuMemRelease(handle);
    if (r == CUDA_SUCCESS)
        done(st, &e);
    else
        undo(handle, st, &e);
    return r;
}

CUresult gvs_cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    ENTER(cuMemRetainAllocationHandle);
    CUresult r = gvs_real.cuMemRetainAllocationHandle(handle, addr);
    struct gvs_entry unused;
    /* The same handle value again, which the caller must release once more. */
    if (r == CUDA_SUCCESS && handle)
        gvs_ref(GVS_VMM, *handle, +1, &unused);
    return r;
}

CUresult gvs_cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                      CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    ENTER(cuMemMap);
    struct gvs_entry e;
    /* Referenced before the driver maps, so a release racing in another thread cannot return the
     * charge of memory the mapping is about to hold. */
    int st = gvs_ref(GVS_VMM, handle, +1, &e);
    CUresult r = gvs_real.cuMemMap(ptr, size, offset, handle, flags);
    if (st < 0)
        return r; /* a handle that charged nothing */
    if (r != CUDA_SUCCESS) {
        if (gvs_ref(GVS_VMM, handle, -1, &e) == 1)
            gvs_uncharge(e.dev, e.bytes);
        return r;
    }
    /* Without a record the unmap cannot find the handle: the reference, and the charge, stay
     * (the instance under-uses rather than over-uses). */
    gvs_map_add(ptr, size, handle);
    return r;
}

CUresult gvs_cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    ENTER(cuMemUnmap);
    struct gvs_mapping *m = NULL;
    size_t n = gvs_map_take(ptr, size, &m);
    struct undo {
        int st;
        struct gvs_entry e;
    } *u = n ? calloc(n, sizeof(*u)) : NULL;
    if (n && !u) {
        /* Nothing to undo with: leave the references, and so the charges, as they were. */
        for (size_t i = 0; i < n; i++)
            gvs_map_add(m[i].va, m[i].size, m[i].handle);
        free(m);
        return gvs_real.cuMemUnmap(ptr, size);
    }
    for (size_t i = 0; i < n; i++)
        drop(m[i].handle, &u[i].st, &u[i].e);
    CUresult r = gvs_real.cuMemUnmap(ptr, size);
    /* Undone in reverse, so that a handle mapped twice in the range gets its entry back first. */
    for (size_t i = n; i-- > 0;) {
        if (r == CUDA_SUCCESS) {
            done(u[i].st, &u[i].e);
        } else {
            undo(m[i].handle, u[i].st, &u[i].e);
            gvs_map_add(m[i].va, m[i].size, m[i].handle);
        }
    }
    free(u);
    free(m);
    return r;
}

/* ---- contexts: the driver frees a context's allocations with it ---- */

/* A context is gone and its memory with it: forget its entries and return their charges. */
static void context_gone(CUcontext ctx)
{
    gvs_forget_ctx((uint64_t)(uintptr_t)ctx); /* which also empties the threads' context caches */
    gvs_pools_reread(-1, 0);                  /* the pool blocks it held went back to their pools */
}

CUresult gvs_cuCtxDestroy_v2(CUcontext ctx)
{
    ENTER(cuCtxDestroy_v2);
    CUresult r = gvs_real.cuCtxDestroy_v2(ctx);
    if (r == CUDA_SUCCESS && ctx)
        context_gone(ctx);
    return r;
}

CUresult gvs_cuCtxDestroy(CUcontext ctx)
{
    ENTER(cuCtxDestroy);
    CUresult r = gvs_real.cuCtxDestroy(ctx);
    if (r == CUDA_SUCCESS && ctx)
        context_gone(ctx);
    return r;
}

static bool primary_active(CUdevice dev)
{
    unsigned flags = 0;
    int active = 0;
    return gvs_real.cuDevicePrimaryCtxGetState &&
           gvs_real.cuDevicePrimaryCtxGetState(dev, &flags, &active) == CUDA_SUCCESS && active;
}

/* The primary context of `dev` while it is active, else NULL. No call returns it without a
 * reference: a retain and a release leave its count as it was and, the context being active,
 * neither makes nor destroys it. */
static CUcontext primary_of(CUdevice dev)
{
    CUcontext c = NULL;
    if (!primary_active(dev) || !gvs_real.cuDevicePrimaryCtxRetain ||
        gvs_real.cuDevicePrimaryCtxRetain(&c, dev) != CUDA_SUCCESS)
        return NULL;
    if (gvs_real.cuDevicePrimaryCtxRelease_v2)
        gvs_real.cuDevicePrimaryCtxRelease_v2(dev);
    else if (gvs_real.cuDevicePrimaryCtxRelease)
        gvs_real.cuDevicePrimaryCtxRelease(dev);
    return c;
}

#define PRIMARY_RESET(abi)                                                                         \
    ENTER(abi);                                                                                    \
    CUcontext c = primary_of(dev);                                                                 \
    CUresult r = gvs_real.abi(dev);                                                                \
    if (r == CUDA_SUCCESS && c)                                                                    \
        context_gone(c);                                                                           \
    return r

/* A release destroys the primary context only with its last reference. */
#define PRIMARY_RELEASE(abi)                                                                       \
    ENTER(abi);                                                                                    \
    CUcontext c = primary_of(dev);                                                                 \
    CUresult r = gvs_real.abi(dev);                                                                \
    if (r == CUDA_SUCCESS && c && !primary_active(dev))                                            \
        context_gone(c);                                                                           \
    return r

CUresult gvs_cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    PRIMARY_RESET(cuDevicePrimaryCtxReset_v2);
}

CUresult gvs_cuDevicePrimaryCtxReset(CUdevice dev)
{
    PRIMARY_RESET(cuDevicePrimaryCtxReset);
}

CUresult gvs_cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    PRIMARY_RELEASE(cuDevicePrimaryCtxRelease_v2);
}

CUresult gvs_cuDevicePrimaryCtxRelease(CUdevice dev)
{
    PRIMARY_RELEASE(cuDevicePrimaryCtxRelease);
}

/* ---- arrays: their size follows from format, channels and extent ---- */

/* What an array takes (core/array.h, which the simulated driver uses too). A format newer than
 * this build is charged as the widest element there is, four 32-bit channels, so that it is never
 * under-charged. */
static uint64_t extent_bytes(uint64_t w, uint64_t h, uint64_t d, CUarray_format f, unsigned ch)
{
    uint64_t b = gv_array_bytes(f, ch, w, h, d);
    return b ? b : gv_array_bytes(CU_AD_FORMAT_FLOAT, 4, w, h, d);
}

static uint64_t mip_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
    uint64_t total = 0;
    for (unsigned l = 0; l < (levels ? levels : 1) && l < 32; l++) {
        uint64_t w = d->Width >> l, h = d->Height >> l, dd = d->Depth >> l;
        /* Layers (and a cubemap's six faces) are not halved with the levels. */
        if (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP))
            dd = d->Depth;
        uint64_t b = extent_bytes(w ? w : 1, d->Height ? (h ? h : 1) : 0,
                                  d->Depth ? (dd ? dd : 1) : 0, d->Format, d->NumChannels);
        total = __builtin_add_overflow(total, b, &total) ? UINT64_MAX : total;
    }
    return total;
}

#define ARRAY_CREATE(abi, bytes_expr, kind, ...)                                                   \
    ENTER(abi);                                                                                    \
    uint64_t ctx;                                                                                  \
    CUdevice dev = where(&ctx);                                                                    \
    if (!out || !desc || dev < 0)                                                                  \
        return gvs_real.abi(out, __VA_ARGS__);                                                     \
    uint64_t bytes = (bytes_expr);                                                                 \
    CUresult r = gvs_charge(dev, bytes);                                                           \
    if (r != CUDA_SUCCESS)                                                                         \
        return r;                                                                                  \
    r = gvs_real.abi(out, __VA_ARGS__);                                                            \
    return settle(r, kind, r == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*out : 0, dev, bytes, ctx)

CUresult gvs_cuArrayCreate_v2(CUarray *out, const CUDA_ARRAY_DESCRIPTOR *desc)
{
    ARRAY_CREATE(cuArrayCreate_v2,
                 extent_bytes(desc->Width, desc->Height, 0, desc->Format, desc->NumChannels),
                 GVS_ARRAY, desc);
}

CUresult gvs_cuArrayCreate(CUarray *out, const CUDA_ARRAY_DESCRIPTOR_v1 *desc)
{
    ARRAY_CREATE(cuArrayCreate,
                 extent_bytes(desc->Width, desc->Height, 0, desc->Format, desc->NumChannels),
                 GVS_ARRAY, desc);
}

CUresult gvs_cuArray3DCreate_v2(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *desc)
{
    ARRAY_CREATE(
        cuArray3DCreate_v2,
        extent_bytes(desc->Width, desc->Height, desc->Depth, desc->Format, desc->NumChannels),
        GVS_ARRAY, desc);
}

CUresult gvs_cuArray3DCreate(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR_v1 *desc)
{
    ARRAY_CREATE(
        cuArray3DCreate,
        extent_bytes(desc->Width, desc->Height, desc->Depth, desc->Format, desc->NumChannels),
        GVS_ARRAY, desc);
}

CUresult gvs_cuMipmappedArrayCreate(CUmipmappedArray *out, const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                    unsigned int levels)
{
    ARRAY_CREATE(cuMipmappedArrayCreate, mip_bytes(desc, levels), GVS_MIPMAP, desc, levels);
}

static CUresult array_destroy(uint64_t key, void *arg)
{
    (void)arg;
    return gvs_real.cuArrayDestroy((CUarray)(uintptr_t)key);
}

static CUresult mipmap_destroy(uint64_t key, void *arg)
{
    (void)arg;
    return gvs_real.cuMipmappedArrayDestroy((CUmipmappedArray)(uintptr_t)key);
}

CUresult gvs_cuArrayDestroy(CUarray a)
{
    ENTER(cuArrayDestroy);
    return release(GVS_ARRAY, (uint64_t)(uintptr_t)a, array_destroy, NULL);
}

CUresult gvs_cuMipmappedArrayDestroy(CUmipmappedArray a)
{
    ENTER(cuMipmappedArrayDestroy);
    return release(GVS_MIPMAP, (uint64_t)(uintptr_t)a, mipmap_destroy, NULL);
}

/* ---- what the slice looks like from inside ---- */

/* free/total as the instance sees them: total is the slice, free what is left of it but never
 * more than the device really has free, so free + used <= total always. A process refused device
 * memory altogether (its limits could not be read) sees nothing free. */
static void clamp_info(CUdevice dev, uint64_t *free_b, uint64_t *total_b)
{
    uint64_t limit = 0, used = 0;
    gvs_pools_reread(dev, 0); /* what the pools hold now, not at their last reading */
    int st = gvs_slice(dev, &limit, &used);
    if (st < 0)
        *free_b = 0;
    if (st <= 0)
        return;
    uint64_t left = used < limit ? limit - used : 0;
    *free_b = left < *free_b ? left : *free_b;
    *total_b = limit < *total_b ? limit : *total_b;
}

CUresult gvs_cuMemGetInfo_v2(size_t *free_b, size_t *total_b)
{
    ENTER(cuMemGetInfo_v2);
    CUresult r = gvs_real.cuMemGetInfo_v2(free_b, total_b);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    if (r != CUDA_SUCCESS || dev < 0)
        return r;
    uint64_t f = *free_b, t = *total_b;
    clamp_info(dev, &f, &t);
    *free_b = (size_t)f;
    *total_b = (size_t)t;
    return r;
}

CUresult gvs_cuMemGetInfo(unsigned int *free_b, unsigned int *total_b)
{
    ENTER(cuMemGetInfo);
    CUresult r = gvs_real.cuMemGetInfo(free_b, total_b);
    uint64_t ctx;
    CUdevice dev = where(&ctx);
    if (r != CUDA_SUCCESS || dev < 0)
        return r;
    uint64_t f = *free_b, t = *total_b;
    clamp_info(dev, &f, &t);
    *free_b = (unsigned int)(f > UINT32_MAX ? UINT32_MAX : f);
    *total_b = (unsigned int)(t > UINT32_MAX ? UINT32_MAX : t);
    return r;
}

CUresult gvs_cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    ENTER(cuDeviceTotalMem_v2);
    CUresult r = gvs_real.cuDeviceTotalMem_v2(bytes, dev);
    uint64_t limit = 0, used = 0;
    if (r == CUDA_SUCCESS) {
        gvs_slice(dev, &limit, &used);
        if (limit && limit < *bytes)
            *bytes = (size_t)limit;
    }
    return r;
}

CUresult gvs_cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    ENTER(cuDeviceTotalMem);
    CUresult r = gvs_real.cuDeviceTotalMem(bytes, dev);
    uint64_t limit = 0, used = 0;
    if (r == CUDA_SUCCESS) {
        gvs_slice(dev, &limit, &used);
        if (limit && limit < *bytes)
            *bytes = (unsigned int)limit;
    }
    return r;
}
