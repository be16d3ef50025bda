/* SPDX-License-Identifier: Apache-2.0 */
/* mem.c: device memory, stream-ordered pools, virtual memory management, arrays and pointer
 * attributes.
 *
 * Every range the driver hands out is recorded (objects.c) with its kind, and every pointer a
 * client names is checked against them before the driver sees it: allocations and pitched
 * allocations (SRV_MEM_ALLOC), pool blocks (SRV_MEM_POOL, the size asked: the pool may round it
 * up, but the client was promised only what it asked), reservations (SRV_MEM_VMM_RESERVED) and
 * the mappings inside them (SRV_MEM_VMM_MAPPED). A mapping must lie inside one of the session's
 * reservations and map one of its own allocation handles. Pools and handles are the session's
 * when the driver handed them to it (a device's default and current pools too).
 *
 * Frees come without a reply (the client checks what it can first): their errors are the
 * session's pending error, which the next synchronizing call returns. */
#include "remote/server/srv.h"

#include <stdlib.h>
#include <string.h>

#include "remote/memwire.h"

/* The most attributes one cuPointerGetAttributes asks for (the driver has about twenty). */
#define MAX_ATTRS 64

static PFN_cuMemAlloc_v3020 p_alloc;
static PFN_cuMemAllocPitch_v3020 p_alloc_pitch;
static PFN_cuMemFree_v3020 p_free;
static PFN_cuMemGetInfo_v3020 p_info;
static PFN_cuMemGetAddressRange_v3020 p_range;
static PFN_cuMemAllocAsync_v11020 p_alloc_async;
static PFN_cuMemAllocFromPoolAsync_v11020 p_alloc_pool;
static PFN_cuMemFreeAsync_v11020 p_free_async;
static PFN_cuMemPoolCreate_v11020 p_pool_create;
static PFN_cuMemPoolDestroy_v11020 p_pool_destroy;
static PFN_cuMemPoolTrimTo_v11020 p_pool_trim;
static PFN_cuMemPoolSetAttribute_v11020 p_pool_set;
static PFN_cuMemPoolGetAttribute_v11020 p_pool_get;
static PFN_cuMemPoolSetAccess_v11020 p_pool_set_access;
static PFN_cuMemPoolGetAccess_v11020 p_pool_get_access;
static PFN_cuDeviceGetDefaultMemPool_v11020 p_dev_default_pool;
static PFN_cuDeviceGetMemPool_v11020 p_dev_get_pool;
static PFN_cuDeviceSetMemPool_v11020 p_dev_set_pool;
static PFN_cuMemGetDefaultMemPool_v13000 p_default_pool;
static PFN_cuMemGetMemPool_v13000 p_get_pool;
static PFN_cuMemSetMemPool_v13000 p_set_pool;
static PFN_cuMemAddressReserve_v10020 p_reserve;
static PFN_cuMemAddressFree_v10020 p_unreserve;
static PFN_cuMemCreate_v10020 p_create;
static PFN_cuMemRelease_v10020 p_release;
static PFN_cuMemMap_v10020 p_map;
static PFN_cuMemUnmap_v10020 p_unmap;
static PFN_cuMemSetAccess_v10020 p_set_access;
static PFN_cuMemGetAllocationGranularity_v10020 p_granularity;
static PFN_cuMemGetAllocationPropertiesFromHandle_v10020 p_props;
static PFN_cuMemRetainAllocationHandle_v11000 p_retain;
static PFN_cuArrayCreate_v3020 p_array;
static PFN_cuArray3DCreate_v3020 p_array3d;
static PFN_cuArrayDestroy_v2000 p_array_destroy;
static PFN_cuArrayGetDescriptor_v3020 p_array_desc;
static PFN_cuArray3DGetDescriptor_v3020 p_array3d_desc;
static PFN_cuPointerGetAttribute_v4000 p_attr;
static PFN_cuPointerGetAttributes_v7000 p_attrs;

#define KIND(k) (1u << (k))

/* ---- device memory ---- */

/* Record a range the driver just handed out; when we cannot, give it back. */
static CUresult keep(struct srv *s, uint64_t p, uint64_t n, int kind, struct gvw_buf *out)
{
    if (!srv_mem_add(s, p, n, kind)) {
        p_free(p);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, p);
    return CUDA_SUCCESS;
}

/* MEM_ALLOC {bytes} -> {pointer} */
static int h_alloc(SRV_ARGS)
{
    SRV_UNUSED;
    CUdeviceptr p = 0;
    CUresult r = p_alloc(&p, (size_t)a->v[0]);
    return r != CUDA_SUCCESS ? r : keep(s, p, a->v[0], SRV_MEM_ALLOC, out);
}

/* MEM_ALLOC_PITCH {width, height, element bytes} -> {pointer, pitch} */
static int h_alloc_pitch(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_alloc_pitch);
    CUdeviceptr p = 0;
    size_t pitch = 0, height = (size_t)a->v[1];
    CUresult r = p_alloc_pitch(&p, &pitch, (size_t)a->v[0], height, (unsigned)a->v[2]);
    if (r != CUDA_SUCCESS)
        return r;
    r = keep(s, p, (uint64_t)pitch * height, SRV_MEM_ALLOC, out);
    gvw_put_u64(out, pitch);
    return r;
}

/* The range that starts at p and is of one of `kinds`, or NULL. */
static const struct srv_range *starting(struct srv *s, uint64_t p, unsigned kinds)
{
    const struct srv_range *m = srv_mem_find(s, p);
    return m && m->base == p && (kinds & KIND(m->kind)) ? m : NULL;
}

/* MEM_FREE {pointer}; no reply. Pool blocks may be freed this way too, as the driver allows. */
static int h_free(SRV_ARGS)
{
    SRV_UNUSED;
    if (a->v[0] == 0)
        return CUDA_SUCCESS;
    if (!starting(s, a->v[0], KIND(SRV_MEM_ALLOC) | KIND(SRV_MEM_POOL)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_free(a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_mem_del(s, a->v[0], NULL, NULL);
    return r;
}

/* MEM_GET_INFO {} -> {free, total} */
static int h_info(SRV_ARGS)
{
    SRV_UNUSED;
    size_t fr = 0, total = 0;
    CUresult r = p_info(&fr, &total);
    gvw_put_u64(out, fr);
    gvw_put_u64(out, total);
    return r;
}

/* MEM_ADDRESS_RANGE {pointer} -> {base, size} */
static int h_range(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_range);
    const struct srv_range *m = srv_mem_find(s, a->v[0]);
    if (!m || m->kind == SRV_MEM_VMM_RESERVED)
        return CUDA_ERROR_NOT_FOUND;
    CUdeviceptr base = 0;
    size_t size = 0;
    CUresult r = p_range(&base, &size, a->v[0]);
    gvw_put_u64(out, base);
    gvw_put_u64(out, size);
    return r;
}

/* ---- stream-ordered allocation and pools ---- */

static bool pool_ok(struct srv *s, uint64_t pool)
{
    return srv_has(s, SRV_POOL, pool);
}

/* A pool the driver named to the client becomes the session's. */
static CUresult give_pool(struct srv *s, CUresult r, CUmemoryPool pool, struct gvw_buf *out)
{
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_add(s, SRV_POOL, (uint64_t)(uintptr_t)pool))
        return CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, (uint64_t)(uintptr_t)pool);
    return CUDA_SUCCESS;
}

/* MEM_ALLOC_ASYNC {bytes, stream} -> {pointer} */
static int h_alloc_async(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_alloc_async);
    if (!srv_stream_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUdeviceptr p = 0;
    CUresult r = p_alloc_async(&p, (size_t)a->v[0], (CUstream)(uintptr_t)a->v[1]);
    return r != CUDA_SUCCESS ? r : keep(s, p, a->v[0], SRV_MEM_POOL, out);
}

/* MEM_ALLOC_FROM_POOL_ASYNC {bytes, pool, stream} -> {pointer} */
static int h_alloc_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_alloc_pool);
    if (!pool_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_VALUE;
    if (!srv_stream_ok(s, a->v[2]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUdeviceptr p = 0;
    CUresult r = p_alloc_pool(&p, (size_t)a->v[0], (CUmemoryPool)(uintptr_t)a->v[1],
                              (CUstream)(uintptr_t)a->v[2]);
    return r != CUDA_SUCCESS ? r : keep(s, p, a->v[0], SRV_MEM_POOL, out);
}

/* MEM_FREE_ASYNC {pointer, stream}; no reply. */
static int h_free_async(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_free_async);
    if (!srv_stream_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!starting(s, a->v[0], KIND(SRV_MEM_ALLOC) | KIND(SRV_MEM_POOL)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_free_async(a->v[0], (CUstream)(uintptr_t)a->v[1]);
    if (r == CUDA_SUCCESS)
        srv_mem_del(s, a->v[0], NULL, NULL);
    return r;
}

/* A byte-string field that must be exactly one location. */
static bool location_of(const struct gvw_args *a, int i, CUmemLocation *loc)
{
    struct gvw_rd r;
    gvw_rd_init(&r, a->p[i], a->n[i]);
    gvm_get_location(&r, loc);
    return gvw_done(&r);
}

/* POOL_CREATE {properties} -> {pool} */
static int h_pool_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_create);
    CUmemPoolProps props;
    struct gvw_rd rd;
    gvw_rd_init(&rd, a->p[0], a->n[0]);
    gvm_get_pool_props(&rd, &props);
    if (!gvw_done(&rd))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemoryPool pool = NULL;
    CUresult r = p_pool_create(&pool, &props);
    if (r == CUDA_SUCCESS && !srv_add(s, SRV_POOL, (uint64_t)(uintptr_t)pool)) {
        p_pool_destroy(pool);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)pool);
    return r;
}

/* POOL_DESTROY {pool}. Blocks still in use stay addressable until freed, as on the driver. */
static int h_pool_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_destroy);
    if (!pool_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_pool_destroy((CUmemoryPool)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_del(s, SRV_POOL, a->v[0]);
    return r;
}

/* POOL_TRIM {pool, bytes to keep} */
static int h_pool_trim(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_trim);
    if (!pool_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    return p_pool_trim((CUmemoryPool)(uintptr_t)a->v[0], (size_t)a->v[1]);
}

/* POOL_SET_ATTRIBUTE {pool, attribute, value}: the value is an int or a u64 by attribute; the
 * client sends as many bytes as the attribute takes, and the rest of ours stays zero. */
static int h_pool_set(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_set);
    if (!pool_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    if (a->n[2] > sizeof(uint64_t))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    memcpy(&v, a->p[2], a->n[2]);
    return p_pool_set((CUmemoryPool)(uintptr_t)a->v[0], (CUmemPool_attribute)a->v[1], &v);
}

/* POOL_GET_ATTRIBUTE {pool, attribute} -> {value: 8 bytes, of which the attribute's own} */
static int h_pool_get(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_get);
    if (!pool_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = p_pool_get((CUmemoryPool)(uintptr_t)a->v[0], (CUmemPool_attribute)a->v[1], &v);
    gvw_put_bytes(out, &v, sizeof(v));
    return r;
}

/* POOL_SET_ACCESS {pool, access list} */
static int h_pool_set_access(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_set_access);
    if (!pool_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    static CUmemAccessDesc list[GVM_ACCESS_MAX];
    long n = gvm_get_access(a->p[1], a->n[1], list);
    if (n < 0)
        return CUDA_ERROR_INVALID_VALUE;
    return p_pool_set_access((CUmemoryPool)(uintptr_t)a->v[0], n ? list : NULL, (size_t)n);
}

/* POOL_GET_ACCESS {pool, location} -> {flags} */
static int h_pool_get_access(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_pool_get_access);
    CUmemLocation loc;
    if (!pool_ok(s, a->v[0]) || !location_of(a, 1, &loc))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
    CUresult r = p_pool_get_access(&flags, (CUmemoryPool)(uintptr_t)a->v[0], &loc);
    gvw_put_u32(out, (uint32_t)flags);
    return r;
}

/* DEVICE_DEFAULT_MEM_POOL {device} -> {pool} */
static int h_dev_default_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_dev_default_pool);
    if (!srv_device_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_DEVICE;
    CUmemoryPool pool = NULL;
    CUresult r = p_dev_default_pool(&pool, (CUdevice)a->v[0]);
    return give_pool(s, r, pool, out);
}

/* DEVICE_GET_MEM_POOL {device} -> {pool} */
static int h_dev_get_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_dev_get_pool);
    if (!srv_device_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_DEVICE;
    CUmemoryPool pool = NULL;
    CUresult r = p_dev_get_pool(&pool, (CUdevice)a->v[0]);
    return give_pool(s, r, pool, out);
}

/* DEVICE_SET_MEM_POOL {device, pool} */
static int h_dev_set_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_dev_set_pool);
    if (!srv_device_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_DEVICE;
    if (!pool_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_VALUE;
    return p_dev_set_pool((CUdevice)a->v[0], (CUmemoryPool)(uintptr_t)a->v[1]);
}

/* MEM_GET_DEFAULT_POOL {location, type} -> {pool} */
static int h_default_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_default_pool);
    CUmemLocation loc;
    if (!location_of(a, 0, &loc))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemoryPool pool = NULL;
    CUresult r = p_default_pool(&pool, &loc, (CUmemAllocationType)a->v[1]);
    return give_pool(s, r, pool, out);
}

/* MEM_GET_POOL {location, type} -> {pool} */
static int h_get_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_pool);
    CUmemLocation loc;
    if (!location_of(a, 0, &loc))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemoryPool pool = NULL;
    CUresult r = p_get_pool(&pool, &loc, (CUmemAllocationType)a->v[1]);
    return give_pool(s, r, pool, out);
}

/* MEM_SET_POOL {location, type, pool} */
static int h_set_pool(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_pool);
    CUmemLocation loc;
    if (!location_of(a, 0, &loc) || !pool_ok(s, a->v[2]))
        return CUDA_ERROR_INVALID_VALUE;
    return p_set_pool(&loc, (CUmemAllocationType)a->v[1], (CUmemoryPool)(uintptr_t)a->v[2]);
}

/* ---- virtual memory management ---- */

/* Allocation handles with the number of releases each still owes: cuMemRetainAllocationHandle
 * hands out the same handle again, to be released once more. */
struct held {
    uint64_t h;
    unsigned refs;
};
static struct held *held;
static size_t nheld, capheld;

static struct held *held_find(uint64_t h)
{
    for (size_t i = 0; i < nheld; i++)
        if (held[i].h == h)
            return &held[i];
    return NULL;
}

static bool held_add(struct srv *s, uint64_t h)
{
    struct held *e = held_find(h);
    if (e) {
        e->refs++;
        return true;
    }
    if (nheld == capheld) {
        size_t cap = capheld ? capheld * 2 : 16;
        struct held *n = realloc(held, cap * sizeof(*n));
        if (!n)
            return false;
        held = n;
        capheld = cap;
    }
    if (!srv_add(s, SRV_MEMHANDLE, h))
        return false;
    held[nheld++] = (struct held){h, 1};
    return true;
}

static void held_drop(struct srv *s, uint64_t h)
{
    struct held *e = held_find(h);
    if (!e || --e->refs > 0)
        return;
    *e = held[--nheld];
    srv_del(s, SRV_MEMHANDLE, h);
}

/* ADDRESS_RESERVE {bytes, alignment, address wanted, flags} -> {pointer}. The address wanted is
 * a hint the driver may ignore and never memory the client reaches, so it is passed as given. */
static int h_reserve(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_reserve);
    CUdeviceptr p = 0;
    CUresult r = p_reserve(&p, (size_t)a->v[0], (size_t)a->v[1], a->v[2], a->v[3]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_mem_add(s, p, a->v[0], SRV_MEM_VMM_RESERVED)) {
        p_unreserve(p, (size_t)a->v[0]);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, p);
    return CUDA_SUCCESS;
}

/* The session's reservation that is exactly [p, p+n), or NULL. */
static const struct srv_range *reservation(struct srv *s, uint64_t p, uint64_t n)
{
    for (size_t i = 0; i < s->nmem; i++)
        if (s->mem[i].base == p && s->mem[i].size == n && s->mem[i].kind == SRV_MEM_VMM_RESERVED)
            return &s->mem[i];
    return NULL;
}

/* ADDRESS_FREE {pointer, bytes} */
static int h_unreserve(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_unreserve);
    if (!reservation(s, a->v[0], a->v[1]))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_unreserve(a->v[0], (size_t)a->v[1]);
    if (r == CUDA_SUCCESS) {
        /* The driver refuses while anything is mapped: the reservation is the last range
         * starting there. */
        srv_mem_del(s, a->v[0], NULL, NULL);
    }
    return r;
}

/* MEM_CREATE {bytes, properties, flags} -> {handle} */
static int h_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_create);
    CUmemAllocationProp prop;
    struct gvw_rd rd;
    gvw_rd_init(&rd, a->p[1], a->n[1]);
    gvm_get_prop(&rd, &prop);
    if (!gvw_done(&rd))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemGenericAllocationHandle mh = 0;
    CUresult r = p_create(&mh, (size_t)a->v[0], &prop, a->v[2]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!held_add(s, mh)) {
        p_release(mh);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, mh);
    return CUDA_SUCCESS;
}

/* MEM_RELEASE {handle} */
static int h_release(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_release);
    if (!srv_has(s, SRV_MEMHANDLE, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_release(a->v[0]);
    if (r == CUDA_SUCCESS)
        held_drop(s, a->v[0]);
    return r;
}

/* MEM_MAP {pointer, bytes, offset, handle, flags}: the session's handle, inside one of its
 * reservations. */
static int h_map(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_map);
    uint64_t p = a->v[0], n = a->v[1];
    if (!srv_has(s, SRV_MEMHANDLE, a->v[3]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (n == 0 || !srv_mem_ok(s, p, n, KIND(SRV_MEM_VMM_RESERVED)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_map(p, (size_t)n, (size_t)a->v[2], a->v[3], a->v[4]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_mem_add(s, p, n, SRV_MEM_VMM_MAPPED)) {
        p_unmap(p, (size_t)n);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

/* MEM_UNMAP {pointer, bytes}: every mapping inside goes. */
static int h_unmap(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_unmap);
    uint64_t p = a->v[0], n = a->v[1];
    if (n == 0 || !srv_mem_ok(s, p, n, KIND(SRV_MEM_VMM_RESERVED)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_unmap(p, (size_t)n);
    if (r != CUDA_SUCCESS)
        return r;
    for (size_t i = 0; i < s->nmem;) {
        const struct srv_range *m = &s->mem[i];
        /* A mapping is the last range starting at its base (its reservation came first). */
        if (m->kind == SRV_MEM_VMM_MAPPED && m->base - p < n)
            srv_mem_del(s, m->base, NULL, NULL);
        else
            i++;
    }
    return CUDA_SUCCESS;
}

/* MEM_SET_ACCESS {pointer, bytes, access list} */
static int h_set_access(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_access);
    static CUmemAccessDesc list[GVM_ACCESS_MAX];
    long count = gvm_get_access(a->p[2], a->n[2], list);
    if (count <= 0 || a->v[1] == 0 || !srv_mem_ok(s, a->v[0], a->v[1], KIND(SRV_MEM_VMM_RESERVED)))
        return CUDA_ERROR_INVALID_VALUE;
    return p_set_access(a->v[0], (size_t)a->v[1], list, (size_t)count);
}

/* MEM_GRANULARITY {properties, option} -> {bytes} */
static int h_granularity(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_granularity);
    CUmemAllocationProp prop;
    struct gvw_rd rd;
    gvw_rd_init(&rd, a->p[0], a->n[0]);
    gvm_get_prop(&rd, &prop);
    if (!gvw_done(&rd))
        return CUDA_ERROR_INVALID_VALUE;
    size_t g = 0;
    CUresult r = p_granularity(&g, &prop, (CUmemAllocationGranularity_flags)a->v[1]);
    gvw_put_u64(out, g);
    return r;
}

/* MEM_PROPERTIES_FROM_HANDLE {handle} -> {properties} */
static int h_props(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_props);
    if (!srv_has(s, SRV_MEMHANDLE, a->v[0]))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    CUresult r = p_props(&prop, a->v[0]);
    struct gvw_buf b = {0};
    gvm_put_prop(&b, &prop);
    gvw_put_bytes(out, b.p, b.len);
    gvw_buf_free(&b);
    return r;
}

/* MEM_RETAIN_HANDLE {mapped address} -> {handle}: one more release owed. */
static int h_retain(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_retain);
    if (!starting(s, a->v[0], KIND(SRV_MEM_VMM_MAPPED)))
        return CUDA_ERROR_INVALID_VALUE;
    CUmemGenericAllocationHandle mh = 0;
    CUresult r = p_retain(&mh, (void *)(uintptr_t)a->v[0]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!held_add(s, mh)) {
        p_release(mh);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, mh);
    return CUDA_SUCCESS;
}

/* ---- arrays ---- */

static bool array_of(const struct gvw_args *a, CUDA_ARRAY3D_DESCRIPTOR *d)
{
    struct gvw_rd rd;
    gvw_rd_init(&rd, a->p[0], a->n[0]);
    gvm_get_array(&rd, d);
    return gvw_done(&rd);
}

static CUresult keep_array(struct srv *s, CUresult r, CUarray arr, struct gvw_buf *out)
{
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_add(s, SRV_ARRAY, (uint64_t)(uintptr_t)arr)) {
        p_array_destroy(arr);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)arr);
    return CUDA_SUCCESS;
}

/* ARRAY_CREATE {descriptor, 3D layout with depth and flags 0} -> {array} */
static int h_array(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_array);
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!array_of(a, &d) || d.Depth || d.Flags)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY_DESCRIPTOR d2 = {d.Width, d.Height, d.Format, d.NumChannels};
    CUarray arr = NULL;
    CUresult r = p_array(&arr, &d2);
    return keep_array(s, r, arr, out);
}

/* ARRAY3D_CREATE {descriptor} -> {array} */
static int h_array3d(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_array3d);
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!array_of(a, &d))
        return CUDA_ERROR_INVALID_VALUE;
    CUarray arr = NULL;
    CUresult r = p_array3d(&arr, &d);
    return keep_array(s, r, arr, out);
}

/* ARRAY_DESTROY {array} */
static int h_array_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_array_destroy);
    if (!srv_has(s, SRV_ARRAY, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = p_array_destroy((CUarray)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_del(s, SRV_ARRAY, a->v[0]);
    return r;
}

static void put_array(struct gvw_buf *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    struct gvw_buf b = {0};
    gvm_put_array(&b, d);
    gvw_put_bytes(out, b.p, b.len);
    gvw_buf_free(&b);
}

/* ARRAY_DESCRIPTOR {array} -> {descriptor, 3D layout with depth 0} */
static int h_array_desc(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_array_desc);
    if (!srv_has(s, SRV_ARRAY, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUDA_ARRAY_DESCRIPTOR d2;
    memset(&d2, 0, sizeof(d2));
    CUresult r = p_array_desc(&d2, (CUarray)(uintptr_t)a->v[0]);
    CUDA_ARRAY3D_DESCRIPTOR d = {
        .Width = d2.Width, .Height = d2.Height, .Format = d2.Format, .NumChannels = d2.NumChannels};
    put_array(out, &d);
    return r;
}

/* ARRAY3D_DESCRIPTOR {array} -> {descriptor} */
static int h_array3d_desc(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_array3d_desc);
    if (!srv_has(s, SRV_ARRAY, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUDA_ARRAY3D_DESCRIPTOR d;
    memset(&d, 0, sizeof(d));
    CUresult r = p_array3d_desc(&d, (CUarray)(uintptr_t)a->v[0]);
    put_array(out, &d);
    return r;
}

/* ---- pointer attributes ---- */

/* An attribute the driver may be asked for: every one the toolkit knows takes at most
 * GVM_ATTR_BYTES; one it does not know could take more. */
static bool attr_known(uint64_t attr)
{
    return attr >= CU_POINTER_ATTRIBUTE_CONTEXT &&
           attr <= CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE;
}

/* POINTER_ATTRIBUTE {attribute, pointer} -> {value: GVM_ATTR_BYTES, of which the attribute's} */
static int h_attr(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_attr);
    if (!attr_known(a->v[0]) || !srv_mem_find(s, a->v[1]))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v[GVM_ATTR_BYTES / 8] = {0};
    CUresult r = p_attr(v, (CUpointer_attribute)a->v[0], a->v[1]);
    gvw_put_bytes(out, v, sizeof(v));
    return r;
}

/* POINTER_ATTRIBUTES {u32 attributes, pointer} -> {GVM_ATTR_BYTES per attribute}. A pointer that
 * is not the session's is answered as the driver answers one it does not know: pointer 0. */
static int h_attrs(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_attrs);
    size_t n = a->n[0] / 4;
    if (a->n[0] % 4 || n == 0 || n > MAX_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    CUpointer_attribute which[MAX_ATTRS];
    uint64_t v[MAX_ATTRS][GVM_ATTR_BYTES / 8];
    void *data[MAX_ATTRS];
    struct gvw_rd rd;
    gvw_rd_init(&rd, a->p[0], a->n[0]);
    for (size_t i = 0; i < n; i++) {
        uint32_t at = gvw_u32(&rd);
        if (!attr_known(at))
            return CUDA_ERROR_INVALID_VALUE;
        which[i] = (CUpointer_attribute)at;
        data[i] = v[i];
    }
    memset(v, 0, sizeof(v));
    uint64_t p = srv_mem_find(s, a->v[1]) ? a->v[1] : 0;
    CUresult r = p_attrs((unsigned)n, which, data, p);
    gvw_put_bytes(out, v, n * sizeof(v[0]));
    return r;
}

static bool init(struct srv *s)
{
    p_alloc = srv_sym("cuMemAlloc", 3020);
    p_alloc_pitch = srv_sym("cuMemAllocPitch", 3020);
    p_free = srv_sym("cuMemFree", 3020);
    p_info = srv_sym("cuMemGetInfo", 3020);
    p_range = srv_sym("cuMemGetAddressRange", 3020);
    p_alloc_async = srv_sym("cuMemAllocAsync", 11020);
    p_alloc_pool = srv_sym("cuMemAllocFromPoolAsync", 11020);
    p_free_async = srv_sym("cuMemFreeAsync", 11020);
    p_pool_create = srv_sym("cuMemPoolCreate", 11020);
    p_pool_destroy = srv_sym("cuMemPoolDestroy", 11020);
    p_pool_trim = srv_sym("cuMemPoolTrimTo", 11020);
    p_pool_set = srv_sym("cuMemPoolSetAttribute", 11020);
    p_pool_get = srv_sym("cuMemPoolGetAttribute", 11020);
    p_pool_set_access = srv_sym("cuMemPoolSetAccess", 11020);
    p_pool_get_access = srv_sym("cuMemPoolGetAccess", 11020);
    p_dev_default_pool = srv_sym("cuDeviceGetDefaultMemPool", 11020);
    p_dev_get_pool = srv_sym("cuDeviceGetMemPool", 11020);
    p_dev_set_pool = srv_sym("cuDeviceSetMemPool", 11020);
    p_default_pool = srv_sym("cuMemGetDefaultMemPool", 13000);
    p_get_pool = srv_sym("cuMemGetMemPool", 13000);
    p_set_pool = srv_sym("cuMemSetMemPool", 13000);
    p_reserve = srv_sym("cuMemAddressReserve", 10020);
    p_unreserve = srv_sym("cuMemAddressFree", 10020);
    p_create = srv_sym("cuMemCreate", 10020);
    p_release = srv_sym("cuMemRelease", 10020);
    p_map = srv_sym("cuMemMap", 10020);
    p_unmap = srv_sym("cuMemUnmap", 10020);
    p_set_access = srv_sym("cuMemSetAccess", 10020);
    p_granularity = srv_sym("cuMemGetAllocationGranularity", 10020);
    p_props = srv_sym("cuMemGetAllocationPropertiesFromHandle", 10020);
    p_retain = srv_sym("cuMemRetainAllocationHandle", 11000);
    p_array = srv_sym("cuArrayCreate", 3020);
    p_array3d = srv_sym("cuArray3DCreate", 3020);
    p_array_destroy = srv_sym("cuArrayDestroy", 2000);
    p_array_desc = srv_sym("cuArrayGetDescriptor", 3020);
    p_array3d_desc = srv_sym("cuArray3DGetDescriptor", 3020);
    p_attr = srv_sym("cuPointerGetAttribute", 4000);
    p_attrs = srv_sym("cuPointerGetAttributes", 7000);
    if (!p_alloc || !p_free || !p_info) {
        srv_log(s, "the driver lacks cuMemAlloc, cuMemFree or cuMemGetInfo");
        return false;
    }
    /* What undoes a call must be there whenever the call is. */
    if ((p_pool_create && !p_pool_destroy) || (p_reserve && !p_unreserve) ||
        (p_create && !p_release) || (p_map && !p_unmap) ||
        ((p_array || p_array3d) && !p_array_destroy)) {
        srv_log(s, "the driver has calls that allocate without those that free");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_MEM_ALLOC, h_alloc},
    {GVW_OP_MEM_ALLOC_PITCH, h_alloc_pitch},
    {GVW_OP_MEM_FREE, h_free},
    {GVW_OP_MEM_GET_INFO, h_info},
    {GVW_OP_MEM_ADDRESS_RANGE, h_range},
    {GVW_OP_MEM_ALLOC_ASYNC, h_alloc_async},
    {GVW_OP_MEM_ALLOC_FROM_POOL_ASYNC, h_alloc_pool},
    {GVW_OP_MEM_FREE_ASYNC, h_free_async},
    {GVW_OP_POOL_CREATE, h_pool_create},
    {GVW_OP_POOL_DESTROY, h_pool_destroy},
    {GVW_OP_POOL_TRIM, h_pool_trim},
    {GVW_OP_POOL_SET_ATTRIBUTE, h_pool_set},
    {GVW_OP_POOL_GET_ATTRIBUTE, h_pool_get},
    {GVW_OP_POOL_SET_ACCESS, h_pool_set_access},
    {GVW_OP_POOL_GET_ACCESS, h_pool_get_access},
    {GVW_OP_DEVICE_DEFAULT_MEM_POOL, h_dev_default_pool},
    {GVW_OP_DEVICE_GET_MEM_POOL, h_dev_get_pool},
    {GVW_OP_DEVICE_SET_MEM_POOL, h_dev_set_pool},
    {GVW_OP_MEM_GET_DEFAULT_POOL, h_default_pool},
    {GVW_OP_MEM_GET_POOL, h_get_pool},
    {GVW_OP_MEM_SET_POOL, h_set_pool},
    {GVW_OP_ADDRESS_RESERVE, h_reserve},
    {GVW_OP_ADDRESS_FREE, h_unreserve},
    {GVW_OP_MEM_CREATE, h_create},
    {GVW_OP_MEM_RELEASE, h_release},
    {GVW_OP_MEM_MAP, h_map},
    {GVW_OP_MEM_UNMAP, h_unmap},
    {GVW_OP_MEM_SET_ACCESS, h_set_access},
    {GVW_OP_MEM_GRANULARITY, h_granularity},
    {GVW_OP_MEM_PROPERTIES_FROM_HANDLE, h_props},
    {GVW_OP_MEM_RETAIN_HANDLE, h_retain},
    {GVW_OP_ARRAY_CREATE, h_array},
    {GVW_OP_ARRAY3D_CREATE, h_array3d},
    {GVW_OP_ARRAY_DESTROY, h_array_destroy},
    {GVW_OP_ARRAY_DESCRIPTOR, h_array_desc},
    {GVW_OP_ARRAY3D_DESCRIPTOR, h_array3d_desc},
    {GVW_OP_POINTER_ATTRIBUTE, h_attr},
    {GVW_OP_POINTER_ATTRIBUTES, h_attrs},
    {0, NULL},
};

const struct srv_group srv_group_mem = {entries, init};
