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

#include "shim/hooks.h"

#define ENTER(fn)                                                                                  \
    do {                                                                                           \
        if (!gvs_init())                                                                           \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
        if (!gvs_real.fn)                                                                          \
            return CUDA_ERROR_NOT_FOUND;                                                           \
    } while (0)

/* After the driver answered an allocation that was charged `bytes` on `dev`. */
static CUresult settle(CUresult r, enum gvs_kind kind, uint64_t key, CUdevice dev, uint64_t bytes)
{
    if (r != CUDA_SUCCESS) {
        gvs_uncharge(dev, bytes);
        return r;
    }
    if (!gvs_track(kind, key, dev, bytes)) {
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
    CUdevice dev = -1;
    uint64_t bytes = 0;
    bool tracked = gvs_untrack(kind, key, &dev, &bytes);
    CUresult r = do_free(key, arg);
    if (tracked) {
        if (r == CUDA_SUCCESS)
            gvs_uncharge(dev, bytes);
        else
            gvs_track(kind, key, dev, bytes);
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
    CUdevice dev = gvs_current_device();
    if (!dptr || bytesize == 0 || dev < 0)
        return gvs_real.cuMemAlloc_v2(dptr, bytesize);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAlloc_v2(dptr, bytesize);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize);
}

CUresult gvs_cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    ENTER(cuMemAlloc);
    CUdevice dev = gvs_current_device();
    if (!dptr || bytesize == 0 || dev < 0)
        return gvs_real.cuMemAlloc(dptr, bytesize);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAlloc(dptr, bytesize);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize);
}

CUresult gvs_cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    ENTER(cuMemAllocManaged);
    CUdevice dev = gvs_current_device();
    if (!dptr || bytesize == 0 || dev < 0 || !managed_charged())
        return gvs_real.cuMemAllocManaged(dptr, bytesize, flags);
    CUresult r = gvs_charge(dev, bytesize);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocManaged(dptr, bytesize, flags);
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize);
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
static CUresult pitch_settle(CUresult r, CUdeviceptr ptr, CUdevice dev, uint64_t estimate,
                             uint64_t actual, CUresult (*do_free)(uint64_t, void *))
{
    if (r != CUDA_SUCCESS) {
        gvs_uncharge(dev, estimate);
        return r;
    }
    if (actual > estimate && gvs_charge(dev, actual - estimate) != CUDA_SUCCESS) {
        do_free(ptr, NULL);
        gvs_uncharge(dev, estimate);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (actual < estimate)
        gvs_uncharge(dev, estimate - actual);
    return settle(r, GVS_DEVPTR, ptr, dev, actual);
}

static uint64_t pitch_estimate(uint64_t width, uint64_t height)
{
    return (width + PITCH_ALIGN - 1) / PITCH_ALIGN * PITCH_ALIGN * height;
}

CUresult gvs_cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                unsigned int elem)
{
    ENTER(cuMemAllocPitch_v2);
    CUdevice dev = gvs_current_device();
    uint64_t est = pitch_estimate(width, height);
    if (!dptr || !pitch || est == 0 || dev < 0)
        return gvs_real.cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    CUresult r = gvs_charge(dev, est);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    uint64_t actual = r == CUDA_SUCCESS ? (uint64_t)*pitch * height : 0;
    return pitch_settle(r, r == CUDA_SUCCESS ? *dptr : 0, dev, est, actual, free_v2);
}

CUresult gvs_cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pitch, unsigned int width,
                             unsigned int height, unsigned int elem)
{
    ENTER(cuMemAllocPitch);
    CUdevice dev = gvs_current_device();
    uint64_t est = pitch_estimate(width, height);
    if (!dptr || !pitch || est == 0 || dev < 0)
        return gvs_real.cuMemAllocPitch(dptr, pitch, width, height, elem);
    CUresult r = gvs_charge(dev, est);
    if (r != CUDA_SUCCESS)
        return r;
    r = gvs_real.cuMemAllocPitch(dptr, pitch, width, height, elem);
    uint64_t actual = r == CUDA_SUCCESS ? (uint64_t)*pitch * height : 0;
    return pitch_settle(r, r == CUDA_SUCCESS ? *dptr : 0, dev, est, actual, free_v1);
}

/* ---- stream-ordered allocation ---- */

#define ASYNC_ALLOC(abi, ...)                                                                      \
    ENTER(abi);                                                                                    \
    CUdevice dev = gvs_current_device();                                                           \
    if (!dptr || bytesize == 0 || dev < 0)                                                         \
        return gvs_real.abi(dptr, bytesize, __VA_ARGS__);                                          \
    CUresult r = gvs_charge(dev, bytesize);                                                        \
    if (r != CUDA_SUCCESS)                                                                         \
        return r;                                                                                  \
    r = gvs_real.abi(dptr, bytesize, __VA_ARGS__);                                                 \
    return settle(r, GVS_DEVPTR, r == CUDA_SUCCESS ? *dptr : 0, dev, bytesize)

CUresult gvs_cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream stream)
{
    ASYNC_ALLOC(cuMemAllocAsync, stream);
}

CUresult gvs_cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream stream)
{
    ASYNC_ALLOC(cuMemAllocAsync_ptsz, stream);
}

CUresult gvs_cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                     CUstream stream)
{
    ASYNC_ALLOC(cuMemAllocFromPoolAsync, pool, stream);
}

CUresult gvs_cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                          CUstream stream)
{
    ASYNC_ALLOC(cuMemAllocFromPoolAsync_ptsz, pool, stream);
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

/* ---- virtual memory management: physical memory is charged at cuMemCreate ---- */

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
    return settle(r, GVS_VMM, r == CUDA_SUCCESS ? *handle : 0, dev, size);
}

static CUresult mem_release(uint64_t key, void *arg)
{
    (void)arg;
    return gvs_real.cuMemRelease((CUmemGenericAllocationHandle)key);
}

CUresult gvs_cuMemRelease(CUmemGenericAllocationHandle handle)
{
    ENTER(cuMemRelease);
    return release(GVS_VMM, handle, mem_release, NULL);
}

/* ---- arrays: their size follows from format, channels and extent ---- */

static uint64_t format_bytes(CUarray_format f)
{
    switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8:
    case CU_AD_FORMAT_SIGNED_INT8:
        return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16:
    case CU_AD_FORMAT_SIGNED_INT16:
    case CU_AD_FORMAT_HALF:
        return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32:
    case CU_AD_FORMAT_SIGNED_INT32:
    case CU_AD_FORMAT_FLOAT:
        return 4;
    default:
        return 4; /* block-compressed and packed formats: never less than this per element */
    }
}

static uint64_t extent_bytes(uint64_t w, uint64_t h, uint64_t d, CUarray_format f, unsigned ch)
{
    uint64_t n = w * (h ? h : 1) * (d ? d : 1) * (ch ? ch : 1);
    return n * format_bytes(f);
}

static uint64_t mip_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels)
{
    uint64_t total = 0;
    for (unsigned l = 0; l < (levels ? levels : 1) && l < 32; l++) {
        uint64_t w = d->Width >> l, h = d->Height >> l, dd = d->Depth >> l;
        total += extent_bytes(w ? w : 1, d->Height ? (h ? h : 1) : 0, d->Depth ? (dd ? dd : 1) : 0,
                              d->Format, d->NumChannels);
    }
    return total;
}

#define ARRAY_CREATE(abi, bytes_expr, kind, ...)                                                   \
    ENTER(abi);                                                                                    \
    CUdevice dev = gvs_current_device();                                                           \
    if (!out || !desc || dev < 0)                                                                  \
        return gvs_real.abi(out, __VA_ARGS__);                                                     \
    uint64_t bytes = (bytes_expr);                                                                 \
    CUresult r = gvs_charge(dev, bytes);                                                           \
    if (r != CUDA_SUCCESS)                                                                         \
        return r;                                                                                  \
    r = gvs_real.abi(out, __VA_ARGS__);                                                            \
    return settle(r, kind, r == CUDA_SUCCESS ? (uint64_t)(uintptr_t)*out : 0, dev, bytes)

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
 * more than the device really has free, so free + used <= total always. */
static void clamp_info(CUdevice dev, uint64_t *free_b, uint64_t *total_b)
{
    uint64_t limit = 0, used = 0;
    gvs_slice(dev, &limit, &used);
    if (!limit)
        return;
    uint64_t left = used < limit ? limit - used : 0;
    *free_b = left < *free_b ? left : *free_b;
    *total_b = limit < *total_b ? limit : *total_b;
}

CUresult gvs_cuMemGetInfo_v2(size_t *free_b, size_t *total_b)
{
    ENTER(cuMemGetInfo_v2);
    CUresult r = gvs_real.cuMemGetInfo_v2(free_b, total_b);
    CUdevice dev = gvs_current_device();
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
    CUdevice dev = gvs_current_device();
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
