/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_mem.c: device memory, pinned host memory, stream-ordered pools, virtual memory management,
 * arrays, and the table that says which addresses are live.
 *
 * Simulated device memory is host memory of the calling process: mmap(MAP_NORESERVE), so a
 * 100 GB allocation on a simulated H200 costs page tables only until it is written, and a copy
 * is a memcpy. What makes it "device" memory is the charge: every byte handed out is charged on
 * its device in the shared machine (gvsim_mem_charge) before the call succeeds and uncharged when
 * it is freed, so every process of the machine, and NVML, sees the same figures.
 *
 * Every addressable range (device, managed, pinned host, pool blocks in use, mapped VMM ranges)
 * is one `struct alloc` in a table sorted by base address; gvsim_ptr_check answers "is
 * [ptr, ptr+len) inside one live allocation" with a binary search under a read lock, which is
 * what copies and kernels call on every pointer. Arrays are not addressable and live in a list.
 *
 * Locks: `mem` serializes all structural changes (pools, VMM objects, arrays, frees); `tab` (a
 * rwlock) guards only the sorted table, and is taken inside `mem` when both are needed. A record
 * is freed only after it has left the table, so a reader holding `tab` never sees freed memory.
 *
 * Pools follow the real driver's model: freed blocks stay reserved (and charged) in the pool
 * while the pool holds more than its release threshold (default 0: release at once), and are
 * handed out again to later allocations; cuMemPoolTrimTo releases them. An allocation that would
 * not fit first releases the pool's idle blocks, as the driver does before failing. A pool grows
 * in whole granules (2 MiB): a request of 1 MiB + 1 byte reserves 2 MiB on the device, and
 * CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT says so. A cuMemFreeAsync gives its block back to the pool
 * when the stream reaches it, not when it is called. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "sim/sim.h"

#include "core/array.h"

#include <cudaTypedefs.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GRANULARITY (2ull << 20) /* VMM granularity, as on every current NVIDIA GPU */
#define PITCH_ALIGN 512
#define POOL_MAGIC  0x67767070u /* "gvpp" */
#define VMM_MAGIC   0x6776766du /* "gvvm" */
#define ARRAY_MAGIC 0x67766172u /* "gvar" */

enum kind { K_DEVICE, K_MANAGED, K_HOST, K_REGISTERED, K_POOL, K_VMM };

struct pool;
struct vmm;

/* One addressable range. Invariant: while in the table, [base, base+size) is mapped and, unless
 * the kind is host memory, `charged` bytes are charged on `dev`. */
struct alloc {
    uintptr_t base;
    size_t size;
    enum kind kind;
    int dev;               /* -1 for host memory */
    struct gvsim_ctx *ctx; /* the context it was made in; NULL for VMM mappings */
    size_t charged;
    size_t maplen;  /* bytes to munmap at free (0: not ours to unmap) */
    unsigned flags; /* cuMemHostAlloc / cuMemAllocManaged flags */
    unsigned long long id;
    bool freeing;      /* a cuMemFreeAsync is queued for it */
    bool accessible;   /* VMM: cuMemSetAccess has granted access */
    struct pool *pool; /* K_POOL */
    struct vmm *vmm;   /* K_VMM: the physical allocation mapped here */
    size_t vmm_offset;
};

struct pool {
    uint32_t magic;
    int dev;
    bool is_default;
    bool destroyed; /* cuMemPoolDestroy'd while blocks were still in use */
    uint64_t threshold;
    uint64_t reserved, reserved_high, used, used_high;
    int reuse[3]; /* the three CU_MEMPOOL_ATTR_REUSE_* flags */
    size_t max_size;
    struct alloc **idle; /* reserved, not in use, not in the table */
    size_t nidle, capidle;
    struct pool *next; /* registry of created pools */
};

/* A physical allocation made by cuMemCreate: a memfd, so that several mappings alias it. */
struct vmm {
    uint32_t magic;
    int dev;
    int fd;
    size_t size;
    CUmemAllocationProp prop;
    int refs; /* the handle (until cuMemRelease) plus one per mapping */
    bool released;
    struct vmm *next;
};

/* A range from cuMemAddressReserve. */
struct reservation {
    uintptr_t base;
    size_t size;
    struct reservation *next;
};

struct CUarray_st {
    uint32_t magic;
    CUDA_ARRAY3D_DESCRIPTOR desc;
    size_t bytes;
    void *data;
    int dev;
    struct gvsim_ctx *ctx;
    struct CUarray_st *next;
};

static pthread_mutex_t mem = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t tab = PTHREAD_RWLOCK_INITIALIZER;
static struct alloc **table; /* sorted by base; ranges never overlap */
static size_t ntable, captable;
static atomic_ullong next_id = 1;

static struct pool default_pool[GVSIM_MAX_DEVICES];
static struct pool *current_pool[GVSIM_MAX_DEVICES];
static struct pool *pools; /* created pools */
static struct vmm *vmms;
static struct reservation *reservations;
static struct CUarray_st *arrays;

/* ------------------------------------------------------------------ the table */

/* Index of the last record whose base is <= addr, or -1. Under `tab`. */
static long find_le(uintptr_t addr)
{
    long lo = 0, hi = (long)ntable - 1, best = -1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (table[mid]->base <= addr) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return best;
}

/* The record containing addr, or NULL. Under `tab`. */
static struct alloc *lookup_locked(uintptr_t addr)
{
    long i = find_le(addr);
    if (i < 0)
        return NULL;
    struct alloc *a = table[i];
    return addr - a->base < a->size ? a : NULL;
}

static int table_insert(struct alloc *a)
{
    pthread_rwlock_wrlock(&tab);
    if (ntable == captable) {
        size_t cap = captable ? captable * 2 : 256;
        struct alloc **n = realloc(table, cap * sizeof(*n));
        if (!n) {
            pthread_rwlock_unlock(&tab);
            return -ENOMEM;
        }
        table = n;
        captable = cap;
    }
    size_t at = (size_t)(find_le(a->base) + 1);
    memmove(&table[at + 1], &table[at], (ntable - at) * sizeof(*table));
    table[at] = a;
    ntable++;
    pthread_rwlock_unlock(&tab);
    return 0;
}

static void table_remove(struct alloc *a)
{
    pthread_rwlock_wrlock(&tab);
    long i = find_le(a->base);
    if (i >= 0 && table[i] == a) {
        memmove(&table[i], &table[i + 1], (ntable - (size_t)i - 1) * sizeof(*table));
        ntable--;
    }
    pthread_rwlock_unlock(&tab);
}

CUresult gvsim_ptr_check(CUdeviceptr ptr, size_t len, int *dev)
{
    CUresult r = CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&tab);
    struct alloc *a = lookup_locked((uintptr_t)ptr);
    if (a && (a->kind != K_VMM || a->accessible) && len <= a->size - ((uintptr_t)ptr - a->base)) {
        if (dev)
            *dev = a->dev;
        r = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&tab);
    return r;
}

/* ------------------------------------------------------------------ raw memory */

static void *map_lazy(size_t len, bool low)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    if (low) {
#ifdef MAP_32BIT
        flags |= MAP_32BIT; /* the 32-bit ABI's CUdeviceptr_v1 must hold the address */
#else
        return NULL;
#endif
    }
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static size_t round_up(size_t v, size_t to)
{
    return (v + to - 1) / to * to;
}

static size_t page_round(size_t v)
{
    return round_up(v, (size_t)sysconf(_SC_PAGESIZE));
}

/* Map, charge and record `size` bytes of the given kind. Returns the record or NULL with *err. */
static struct alloc *make(enum kind kind, int dev, struct gvsim_ctx *ctx, size_t size, bool low,
                          CUresult *err)
{
    struct alloc *a = calloc(1, sizeof(*a));
    if (!a) {
        *err = CUDA_ERROR_OUT_OF_MEMORY;
        return NULL;
    }
    bool charge = kind != K_HOST;
    if (charge && gvsim_mem_charge(dev, size) != 0) {
        free(a);
        *err = CUDA_ERROR_OUT_OF_MEMORY;
        return NULL;
    }
    size_t len = page_round(size);
    void *p = map_lazy(len, low);
    if (!p) {
        if (charge)
            gvsim_mem_uncharge(dev, size);
        free(a);
        *err = CUDA_ERROR_OUT_OF_MEMORY;
        return NULL;
    }
    a->base = (uintptr_t)p;
    a->size = size;
    a->kind = kind;
    a->dev = charge ? dev : -1;
    a->ctx = ctx;
    a->charged = charge ? size : 0;
    a->maplen = len;
    a->id = atomic_fetch_add(&next_id, 1);
    return a;
}

/* Unmap and uncharge a record that is no longer in the table. */
static void unmake(struct alloc *a)
{
    if (a->maplen)
        munmap((void *)a->base, a->maplen);
    if (a->charged)
        gvsim_mem_uncharge(a->dev, a->charged);
    free(a);
}

static CUresult publish(struct alloc *a, CUdeviceptr *dptr)
{
    if (table_insert(a) != 0) {
        unmake(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *dptr = (CUdeviceptr)a->base;
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ device memory */

static CUresult alloc_device(CUdeviceptr *dptr, size_t bytesize, bool low)
{
    struct gvsim_ctx *c;
    CUresult r;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    if (bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct alloc *a = make(K_DEVICE, c->dev, c, bytesize, low, &r);
    if (a)
        r = publish(a, dptr);
    pthread_mutex_unlock(&mem);
    return r;
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    return alloc_device(dptr, bytesize, false);
}
GVSIM_ABI(cuMemAlloc_v2, PFN_cuMemAlloc_v3020);

CUresult cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    CUdeviceptr p;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = alloc_device(&p, bytesize, true);
    if (r == CUDA_SUCCESS)
        *dptr = (CUdeviceptr_v1)p;
    return r;
}
GVSIM_ABI(cuMemAlloc, PFN_cuMemAlloc_v2000);

static CUresult alloc_pitch(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                            unsigned elem, bool low)
{
    if (!dptr || !pitch || width == 0 || height == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (elem != 4 && elem != 8 && elem != 16)
        return CUDA_ERROR_INVALID_VALUE;
    size_t p = round_up(width, PITCH_ALIGN);
    if (p < width || height > SIZE_MAX / p)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = alloc_device(dptr, p * height, low);
    if (r == CUDA_SUCCESS)
        *pitch = p;
    return r;
}

CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes, size_t Height,
                            unsigned int ElementSizeBytes)
{
    return alloc_pitch(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes, false);
}
GVSIM_ABI(cuMemAllocPitch_v2, PFN_cuMemAllocPitch_v3020);

CUresult cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pPitch, unsigned int WidthInBytes,
                         unsigned int Height, unsigned int ElementSizeBytes)
{
    CUdeviceptr p;
    size_t pitch;
    if (!dptr || !pPitch)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = alloc_pitch(&p, &pitch, WidthInBytes, Height, ElementSizeBytes, true);
    if (r == CUDA_SUCCESS) {
        *dptr = (CUdeviceptr_v1)p;
        *pPitch = (unsigned int)pitch;
    }
    return r;
}
GVSIM_ABI(cuMemAllocPitch, PFN_cuMemAllocPitch_v2000);

static void pool_give_back(struct alloc *a);

/* Free the record that starts exactly at ptr and is of one of the kinds in `kinds` (a bit mask).
 * Under `mem`. */
static CUresult free_exact(uintptr_t ptr, unsigned kinds)
{
    pthread_rwlock_rdlock(&tab);
    long i = find_le(ptr);
    struct alloc *a = i >= 0 && table[i]->base == ptr ? table[i] : NULL;
    pthread_rwlock_unlock(&tab);
    if (!a || !(kinds & (1u << a->kind)) || a->freeing)
        return CUDA_ERROR_INVALID_VALUE;
    table_remove(a);
    if (a->kind == K_POOL)
        pool_give_back(a);
    else
        unmake(a);
    return CUDA_SUCCESS;
}

static CUresult mem_free(CUdeviceptr dptr)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (dptr == 0)
        return CUDA_SUCCESS; /* as free(NULL) */
    pthread_mutex_lock(&mem);
    r = free_exact((uintptr_t)dptr, 1u << K_DEVICE | 1u << K_MANAGED | 1u << K_POOL);
    pthread_mutex_unlock(&mem);
    return r;
}

CUresult cuMemFree_v2(CUdeviceptr dptr)
{
    return mem_free(dptr);
}
GVSIM_ABI(cuMemFree_v2, PFN_cuMemFree_v3020);

CUresult cuMemFree(CUdeviceptr_v1 dptr)
{
    return mem_free(dptr);
}
GVSIM_ABI(cuMemFree, PFN_cuMemFree_v2000);

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
    struct gvsim_ctx *c;
    uint64_t f, used, t;
    if (!free_bytes || !total)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    gvsim_mem_info(c->dev, &f, &used, &t);
    *free_bytes = (size_t)f;
    *total = (size_t)t;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemGetInfo_v2, PFN_cuMemGetInfo_v3020);

CUresult cuMemGetInfo(unsigned int *free_bytes, unsigned int *total)
{
    size_t f, t;
    if (!free_bytes || !total)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuMemGetInfo_v2(&f, &t);
    if (r == CUDA_SUCCESS) {
        *free_bytes = f > UINT_MAX ? UINT_MAX : (unsigned int)f;
        *total = t > UINT_MAX ? UINT_MAX : (unsigned int)t;
    }
    return r;
}
GVSIM_ABI(cuMemGetInfo, PFN_cuMemGetInfo_v2000);

static CUresult address_range(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    r = CUDA_ERROR_NOT_FOUND;
    pthread_rwlock_rdlock(&tab);
    struct alloc *a = lookup_locked((uintptr_t)dptr);
    if (a && a->kind != K_HOST && a->kind != K_REGISTERED) {
        if (pbase)
            *pbase = (CUdeviceptr)a->base;
        if (psize)
            *psize = a->size;
        r = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&tab);
    return r;
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    return address_range(pbase, psize, dptr);
}
GVSIM_ABI(cuMemGetAddressRange_v2, PFN_cuMemGetAddressRange_v3020);

CUresult cuMemGetAddressRange(CUdeviceptr_v1 *pbase, unsigned int *psize, CUdeviceptr_v1 dptr)
{
    CUdeviceptr b;
    size_t s;
    CUresult r = address_range(&b, &s, dptr);
    if (r != CUDA_SUCCESS)
        return r;
    if (b > UINT_MAX || s > UINT_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    if (pbase)
        *pbase = (CUdeviceptr_v1)b;
    if (psize)
        *psize = (unsigned int)s;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemGetAddressRange, PFN_cuMemGetAddressRange_v2000);

/* Managed memory is charged on the device of the context that made it: the simulator keeps no
 * page residency, so it counts it where a program that touches it from kernels would find it. */
CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    struct gvsim_ctx *c;
    CUresult r;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    if (bytesize == 0 || (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct alloc *a = make(K_MANAGED, c->dev, c, bytesize, false, &r);
    if (a) {
        a->flags = flags;
        r = publish(a, dptr);
    }
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemAllocManaged, PFN_cuMemAllocManaged_v6000);

/* ------------------------------------------------------------------ pinned host memory */

static CUresult host_alloc(void **pp, size_t bytesize, unsigned flags)
{
    struct gvsim_ctx *c;
    CUresult r;
    CUdeviceptr p;
    if (!pp)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    const unsigned known =
        CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (bytesize == 0 || (flags & ~known))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct alloc *a = make(K_HOST, c->dev, c, bytesize, false, &r);
    if (a) {
        a->flags = flags;
        r = publish(a, &p);
        if (r == CUDA_SUCCESS)
            *pp = (void *)p;
    }
    pthread_mutex_unlock(&mem);
    return r;
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return host_alloc(pp, bytesize, 0);
}
GVSIM_ABI(cuMemAllocHost_v2, PFN_cuMemAllocHost_v3020);

CUresult cuMemAllocHost(void **pp, unsigned int bytesize)
{
    return host_alloc(pp, bytesize, 0);
}
GVSIM_ABI(cuMemAllocHost, PFN_cuMemAllocHost_v2000);

CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    return host_alloc(pp, bytesize, Flags);
}
GVSIM_ABI(cuMemHostAlloc, PFN_cuMemHostAlloc_v2020);

CUresult cuMemFreeHost(void *p)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    r = free_exact((uintptr_t)p, 1u << K_HOST);
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemFreeHost, PFN_cuMemFreeHost_v2000);

/* With unified addressing the device sees pinned memory at its host address. */
static CUresult host_device_ptr(CUdeviceptr *pdptr, void *p, unsigned flags)
{
    if (!pdptr || !p || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    r = CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&tab);
    struct alloc *a = lookup_locked((uintptr_t)p);
    if (a && (a->kind == K_HOST || a->kind == K_REGISTERED)) {
        *pdptr = (CUdeviceptr)(uintptr_t)p;
        r = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&tab);
    return r;
}

CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    return host_device_ptr(pdptr, p, Flags);
}
GVSIM_ABI(cuMemHostGetDevicePointer_v2, PFN_cuMemHostGetDevicePointer_v3020);

CUresult cuMemHostGetDevicePointer(CUdeviceptr_v1 *pdptr, void *p, unsigned int Flags)
{
    CUdeviceptr d;
    if (!pdptr)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = host_device_ptr(&d, p, Flags);
    if (r == CUDA_SUCCESS && d > UINT_MAX)
        return CUDA_ERROR_INVALID_VALUE; /* not reachable through the 32-bit ABI */
    if (r == CUDA_SUCCESS)
        *pdptr = (CUdeviceptr_v1)d;
    return r;
}
GVSIM_ABI(cuMemHostGetDevicePointer, PFN_cuMemHostGetDevicePointer_v2020);

CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    if (!pFlags || !p)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    r = CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&tab);
    struct alloc *a = lookup_locked((uintptr_t)p);
    if (a && (a->kind == K_HOST || a->kind == K_REGISTERED)) {
        *pFlags = a->flags;
        r = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&tab);
    return r;
}
GVSIM_ABI(cuMemHostGetFlags, PFN_cuMemHostGetFlags_v2030);

/* Registering makes the caller's own memory a valid copy source and target; it is not ours to
 * unmap, so maplen stays 0. */
static CUresult host_register(void *p, size_t bytesize, unsigned flags)
{
    struct gvsim_ctx *c;
    CUresult r;
    if (!p || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    struct alloc *a = calloc(1, sizeof(*a));
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    a->base = (uintptr_t)p;
    a->size = bytesize;
    a->kind = K_REGISTERED;
    a->dev = -1;
    a->ctx = c;
    a->flags = flags;
    a->id = atomic_fetch_add(&next_id, 1);
    pthread_mutex_lock(&mem);
    pthread_rwlock_rdlock(&tab);
    long i = find_le(a->base + bytesize - 1);
    bool overlap = i >= 0 && table[i]->base + table[i]->size > a->base;
    pthread_rwlock_unlock(&tab);
    if (overlap)
        r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    else if (table_insert(a) != 0)
        r = CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_unlock(&mem);
    if (r != CUDA_SUCCESS)
        free(a);
    return r;
}

CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    return host_register(p, bytesize, Flags);
}
GVSIM_ABI(cuMemHostRegister_v2, PFN_cuMemHostRegister_v6050);

CUresult cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
    return host_register(p, bytesize, Flags);
}
GVSIM_ABI(cuMemHostRegister, PFN_cuMemHostRegister_v4000);

CUresult cuMemHostUnregister(void *p)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    r = free_exact((uintptr_t)p, 1u << K_REGISTERED);
    pthread_mutex_unlock(&mem);
    return r == CUDA_SUCCESS ? r : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}
GVSIM_ABI(cuMemHostUnregister, PFN_cuMemHostUnregister_v4000);

/* ------------------------------------------------------------------ pools */

static void pool_init(struct pool *p, int dev, bool is_default)
{
    memset(p, 0, sizeof(*p));
    p->magic = POOL_MAGIC;
    p->dev = dev;
    p->is_default = is_default;
    p->reuse[0] = p->reuse[1] = p->reuse[2] = 1;
}

/* The default pool of a device, made on first use. Under `mem`. */
static struct pool *default_of(int dev)
{
    struct pool *p = &default_pool[dev];
    if (p->magic != POOL_MAGIC)
        pool_init(p, dev, true);
    if (!current_pool[dev])
        current_pool[dev] = p;
    return p;
}

/* Is h a live pool? Under `mem`. */
static struct pool *pool_of(CUmemoryPool h)
{
    struct pool *p = (struct pool *)h;
    if (!p)
        return NULL;
    for (int d = 0; d < GVSIM_MAX_DEVICES; d++)
        if (p == &default_pool[d])
            return p->magic == POOL_MAGIC ? p : NULL;
    for (struct pool *q = pools; q; q = q->next)
        if (q == p)
            return p;
    return NULL;
}

static void pool_release_idle(struct pool *p, uint64_t keep)
{
    while (p->nidle > 0 && p->reserved > keep) {
        struct alloc *a = p->idle[--p->nidle];
        p->reserved -= a->size;
        unmake(a);
    }
}

static void pool_free_struct(struct pool *p)
{
    free(p->idle);
    free(p);
}

/* A block leaves use: back to the idle list, then down to the release threshold. Under `mem`. */
static void pool_give_back(struct alloc *a)
{
    struct pool *p = a->pool;
    p->used -= a->size;
    a->freeing = false;
    if (p->destroyed) {
        p->reserved -= a->size;
        unmake(a);
        if (p->used == 0)
            pool_free_struct(p);
        return;
    }
    if (p->nidle == p->capidle) {
        size_t cap = p->capidle ? p->capidle * 2 : 16;
        struct alloc **n = realloc(p->idle, cap * sizeof(*n));
        if (!n) {
            p->reserved -= a->size;
            unmake(a);
            return;
        }
        p->idle = n;
        p->capidle = cap;
    }
    p->idle[p->nidle++] = a;
    pool_release_idle(p, p->threshold);
}

static void set_high(uint64_t *high, uint64_t now)
{
    if (now > *high)
        *high = now;
}

/* Under `mem`. */
static CUresult pool_alloc(struct pool *p, struct gvsim_ctx *c, size_t size, CUdeviceptr *dptr)
{
    CUresult r;
    if (size > SIZE_MAX - GRANULARITY)
        return CUDA_ERROR_OUT_OF_MEMORY;
    size = round_up(size, GRANULARITY); /* a pool maps whole granules, as the driver's do */
    if (p->max_size && p->reserved + size > p->max_size)
        pool_release_idle(p, 0);
    if (p->max_size && p->reserved + size > p->max_size)
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* Best fit among the idle blocks. */
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < p->nidle; i++)
        if (p->idle[i]->size >= size &&
            (best == SIZE_MAX || p->idle[i]->size < p->idle[best]->size))
            best = i;
    struct alloc *a;
    if (best != SIZE_MAX) {
        a = p->idle[best];
        p->idle[best] = p->idle[--p->nidle];
        a->ctx = c;
        a->id = atomic_fetch_add(&next_id, 1);
    } else {
        a = make(K_POOL, p->dev, c, size, false, &r);
        if (!a && p->nidle > 0) { /* what the pool holds idle may be what is missing */
            pool_release_idle(p, 0);
            a = make(K_POOL, p->dev, c, size, false, &r);
        }
        if (!a)
            return r;
        a->pool = p;
        p->reserved += a->size;
        set_high(&p->reserved_high, p->reserved);
    }
    p->used += a->size;
    set_high(&p->used_high, p->used);
    if (table_insert(a) != 0) {
        p->used -= a->size;
        p->reserved -= a->size;
        unmake(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *dptr = (CUdeviceptr)a->base;
    return CUDA_SUCCESS;
}

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool hpool, CUstream h,
                            bool per_thread)
{
    struct gvsim_ctx *c;
    CUresult r;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    if (bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (!gvsim_stream_resolve(c, h, per_thread))
        return CUDA_ERROR_INVALID_HANDLE;
    /* cuMemAllocAsync takes from the current pool of the stream's device, which for a created
     * stream of another context is not the current context's. */
    int dev = c->dev;
    CUcontext sc = NULL;
    if (h && h != CU_STREAM_LEGACY && h != CU_STREAM_PER_THREAD &&
        cuStreamGetCtx(h, &sc) == CUDA_SUCCESS && sc)
        dev = ((struct gvsim_ctx *)sc)->dev;
    pthread_mutex_lock(&mem);
    struct pool *p;
    if (hpool) {
        p = pool_of(hpool);
        r = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    } else {
        default_of(dev);
        p = current_pool[dev];
    }
    if (p)
        r = pool_alloc(p, c, bytesize, dptr);
    pthread_mutex_unlock(&mem);
    return r;
}

CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, false);
}
GVSIM_ABI(cuMemAllocAsync, PFN_cuMemAllocAsync_v11020);

CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, true);
}
GVSIM_ABI(cuMemAllocAsync_ptsz, PFN_cuMemAllocAsync_v11020_ptsz);

CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                 CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, pool, hStream, false);
}
GVSIM_ABI(cuMemAllocFromPoolAsync, PFN_cuMemAllocFromPoolAsync_v11020);

CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                      CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, pool, hStream, true);
}
GVSIM_ABI(cuMemAllocFromPoolAsync_ptsz, PFN_cuMemAllocFromPoolAsync_v11020_ptsz);

/* Runs on the stream's timeline, after the work queued ahead of the free. */
static void free_on_timeline(void *arg)
{
    struct alloc *a = arg;
    pthread_mutex_lock(&mem);
    table_remove(a);
    if (a->kind == K_POOL)
        pool_give_back(a);
    else
        unmake(a);
    pthread_mutex_unlock(&mem);
}

static CUresult free_async(CUdeviceptr dptr, CUstream h, bool per_thread)
{
    struct gvsim_ctx *c;
    CUresult r;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    struct gvsim_stream *s = gvsim_stream_resolve(c, h, per_thread);
    if (!s)
        return CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&mem);
    pthread_rwlock_rdlock(&tab);
    long i = find_le((uintptr_t)dptr);
    struct alloc *a = i >= 0 && table[i]->base == (uintptr_t)dptr ? table[i] : NULL;
    pthread_rwlock_unlock(&tab);
    if (!a || a->freeing || (a->kind != K_POOL && a->kind != K_DEVICE)) {
        pthread_mutex_unlock(&mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    a->freeing = true; /* a second free of the same pointer is refused from now on */
    pthread_mutex_unlock(&mem);
    r = gvsim_stream_host_op(s, free_on_timeline, a);
    if (r != CUDA_SUCCESS) {
        pthread_mutex_lock(&mem);
        a->freeing = false;
        pthread_mutex_unlock(&mem);
    }
    return r;
}

CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, false);
}
GVSIM_ABI(cuMemFreeAsync, PFN_cuMemFreeAsync_v11020);

CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, true);
}
GVSIM_ABI(cuMemFreeAsync_ptsz, PFN_cuMemFreeAsync_v11020_ptsz);

static bool device_location(const CUmemLocation *loc)
{
    return loc && loc->type == CU_MEM_LOCATION_TYPE_DEVICE && gvsim_dev(loc->id);
}

CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!pool || !poolProps || poolProps->allocType != CU_MEM_ALLOCATION_TYPE_PINNED ||
        !device_location(&poolProps->location))
        return CUDA_ERROR_INVALID_VALUE;
    if (poolProps->handleTypes != CU_MEM_HANDLE_TYPE_NONE)
        return CUDA_ERROR_NOT_SUPPORTED; /* no inter-process sharing in the simulator */
    struct pool *p = malloc(sizeof(*p));
    if (!p)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pool_init(p, poolProps->location.id, false);
    p->max_size = poolProps->maxSize;
    pthread_mutex_lock(&mem);
    p->next = pools;
    pools = p;
    pthread_mutex_unlock(&mem);
    *pool = (CUmemoryPool)p;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemPoolCreate, PFN_cuMemPoolCreate_v11020);

/* Blocks still in use keep the pool's record alive until they come back. */
CUresult cuMemPoolDestroy(CUmemoryPool pool)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct pool *p = pool_of(pool);
    if (!p || p->is_default) {
        pthread_mutex_unlock(&mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (struct pool **pp = &pools; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (current_pool[p->dev] == p)
        current_pool[p->dev] = &default_pool[p->dev];
    pool_release_idle(p, 0);
    p->magic = 0;
    p->destroyed = true;
    if (p->used == 0)
        pool_free_struct(p);
    pthread_mutex_unlock(&mem);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemPoolDestroy, PFN_cuMemPoolDestroy_v11020);

CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct pool *p = pool_of(pool);
    if (p)
        pool_release_idle(p, minBytesToKeep);
    pthread_mutex_unlock(&mem);
    return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuMemPoolTrimTo, PFN_cuMemPoolTrimTo_v11020);

CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct pool *p = pool_of(pool);
    r = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (p) {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
            *(int *)value = p->reuse[0];
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
            *(int *)value = p->reuse[1];
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            *(int *)value = p->reuse[2];
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            *(cuuint64_t *)value = p->threshold;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
            *(cuuint64_t *)value = p->reserved;
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
            *(cuuint64_t *)value = p->reserved_high;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
            *(cuuint64_t *)value = p->used;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            *(cuuint64_t *)value = p->used_high;
            break;
        default:
            r = CUDA_ERROR_INVALID_VALUE;
        }
    }
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemPoolGetAttribute, PFN_cuMemPoolGetAttribute_v11020);

/* The high-water marks can only be reset, to the current figure, by setting them to 0. */
CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct pool *p = pool_of(pool);
    r = p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    if (p) {
        switch (attr) {
        case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
            p->reuse[0] = *(int *)value != 0;
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
            p->reuse[1] = *(int *)value != 0;
            break;
        case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
            p->reuse[2] = *(int *)value != 0;
            break;
        case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
            p->threshold = *(cuuint64_t *)value;
            pool_release_idle(p, p->threshold);
            break;
        case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
            if (*(cuuint64_t *)value != 0)
                r = CUDA_ERROR_INVALID_VALUE;
            else
                p->reserved_high = p->reserved;
            break;
        case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
            if (*(cuuint64_t *)value != 0)
                r = CUDA_ERROR_INVALID_VALUE;
            else
                p->used_high = p->used;
            break;
        default:
            r = CUDA_ERROR_INVALID_VALUE; /* the current figures are read-only */
        }
    }
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemPoolSetAttribute, PFN_cuMemPoolSetAttribute_v11020);

/* Every device reaches every pool (peer access is always possible here), read-write. */
CUresult cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (count > 0 && !map)
        return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < count; i++)
        if (!device_location(&map[i].location))
            return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    r = pool_of(pool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemPoolSetAccess, PFN_cuMemPoolSetAccess_v11020);

CUresult cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool, CUmemLocation *location)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!flags || !device_location(location))
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    r = pool_of(memPool) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_unlock(&mem);
    if (r == CUDA_SUCCESS)
        *flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    return r;
}
GVSIM_ABI(cuMemPoolGetAccess, PFN_cuMemPoolGetAccess_v11020);

CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    if (!pool_out)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    *pool_out = (CUmemoryPool)default_of(dev);
    pthread_mutex_unlock(&mem);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetDefaultMemPool, PFN_cuDeviceGetDefaultMemPool_v11020);

CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    default_of(dev);
    *pool = (CUmemoryPool)current_pool[dev];
    pthread_mutex_unlock(&mem);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetMemPool, PFN_cuDeviceGetMemPool_v11020);

CUresult cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct pool *p = pool_of(pool);
    if (p && p->dev == dev) {
        default_of(dev);
        current_pool[dev] = p;
    } else {
        r = CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuDeviceSetMemPool, PFN_cuDeviceSetMemPool_v11020);

/* CUDA 13's location-based forms; only device pools exist in the simulator. */
static CUresult location_dev(const CUmemLocation *location, CUmemAllocationType type, int *dev)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!location)
        return CUDA_ERROR_INVALID_VALUE;
    if (type != CU_MEM_ALLOCATION_TYPE_PINNED || location->type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_NOT_SUPPORTED;
    if (!gvsim_dev(location->id))
        return CUDA_ERROR_INVALID_DEVICE;
    *dev = location->id;
    return CUDA_SUCCESS;
}

CUresult cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location,
                                CUmemAllocationType type)
{
    int dev;
    CUresult r = location_dev(location, type, &dev);
    return r == CUDA_SUCCESS ? cuDeviceGetDefaultMemPool(pool_out, dev) : r;
}
GVSIM_ABI(cuMemGetDefaultMemPool, PFN_cuMemGetDefaultMemPool_v13000);

CUresult cuMemGetMemPool(CUmemoryPool *pool_out, CUmemLocation *location, CUmemAllocationType type)
{
    int dev;
    CUresult r = location_dev(location, type, &dev);
    return r == CUDA_SUCCESS ? cuDeviceGetMemPool(pool_out, dev) : r;
}
GVSIM_ABI(cuMemGetMemPool, PFN_cuMemGetMemPool_v13000);

CUresult cuMemSetMemPool(CUmemLocation *location, CUmemAllocationType type, CUmemoryPool pool)
{
    int dev;
    CUresult r = location_dev(location, type, &dev);
    return r == CUDA_SUCCESS ? cuDeviceSetMemPool(dev, pool) : r;
}
GVSIM_ABI(cuMemSetMemPool, PFN_cuMemSetMemPool_v13000);

/* ------------------------------------------------------------------ virtual memory management */

static bool prop_ok(const CUmemAllocationProp *prop)
{
    return prop && prop->type == CU_MEM_ALLOCATION_TYPE_PINNED && device_location(&prop->location);
}

CUresult cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                       CUmemAllocationGranularity_flags option)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!granularity || !prop_ok(prop) ||
        (option != CU_MEM_ALLOC_GRANULARITY_MINIMUM &&
         option != CU_MEM_ALLOC_GRANULARITY_RECOMMENDED))
        return CUDA_ERROR_INVALID_VALUE;
    *granularity = GRANULARITY;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemGetAllocationGranularity, PFN_cuMemGetAllocationGranularity_v10020);

/* Under `mem`. */
static struct vmm *vmm_of(CUmemGenericAllocationHandle h)
{
    for (struct vmm *v = vmms; v; v = v->next)
        if ((CUmemGenericAllocationHandle)(uintptr_t)v == h && !v->released)
            return v;
    return NULL;
}

static void vmm_unref(struct vmm *v)
{
    if (--v->refs > 0)
        return;
    for (struct vmm **pp = &vmms; *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    close(v->fd);
    gvsim_mem_uncharge(v->dev, v->size);
    free(v);
}

CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                     const CUmemAllocationProp *prop, unsigned long long flags)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!handle || !prop_ok(prop) || flags != 0 || size == 0 || size % GRANULARITY)
        return CUDA_ERROR_INVALID_VALUE;
    if (prop->requestedHandleTypes != CU_MEM_HANDLE_TYPE_NONE)
        return CUDA_ERROR_NOT_SUPPORTED;
    struct vmm *v = calloc(1, sizeof(*v));
    if (!v)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int dev = prop->location.id;
    if (gvsim_mem_charge(dev, size) != 0) {
        free(v);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    v->fd = memfd_create("gvsim-vmm", MFD_CLOEXEC);
    if (v->fd < 0 || ftruncate(v->fd, (off_t)size) != 0) {
        if (v->fd >= 0)
            close(v->fd);
        gvsim_mem_uncharge(dev, size);
        free(v);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    v->magic = VMM_MAGIC;
    v->dev = dev;
    v->size = size;
    v->prop = *prop;
    v->refs = 1;
    pthread_mutex_lock(&mem);
    v->next = vmms;
    vmms = v;
    pthread_mutex_unlock(&mem);
    *handle = (CUmemGenericAllocationHandle)(uintptr_t)v;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemCreate, PFN_cuMemCreate_v10020);

/* The memory stays (and stays charged) while a mapping still uses it. */
CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct vmm *v = vmm_of(handle);
    if (v) {
        v->released = true;
        vmm_unref(v);
    }
    pthread_mutex_unlock(&mem);
    return v ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuMemRelease, PFN_cuMemRelease_v10020);

CUresult cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                CUmemGenericAllocationHandle handle)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct vmm *v = vmm_of(handle);
    if (v)
        *prop = v->prop;
    pthread_mutex_unlock(&mem);
    return v ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuMemGetAllocationPropertiesFromHandle,
          PFN_cuMemGetAllocationPropertiesFromHandle_v10020);

CUresult cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    r = CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    pthread_rwlock_rdlock(&tab);
    struct alloc *a = lookup_locked((uintptr_t)addr);
    if (a && a->kind == K_VMM && a->base == (uintptr_t)addr) {
        a->vmm->refs++;
        a->vmm->released = false;
        *handle = (CUmemGenericAllocationHandle)(uintptr_t)a->vmm;
        r = CUDA_SUCCESS;
    }
    pthread_rwlock_unlock(&tab);
    pthread_mutex_unlock(&mem);
    return r;
}
GVSIM_ABI(cuMemRetainAllocationHandle, PFN_cuMemRetainAllocationHandle_v11000);

CUresult cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
                             unsigned long long flags)
{
    (void)addr; /* a hint; the kernel picks the address */
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!ptr || size == 0 || size % GRANULARITY || flags != 0 || (alignment & (alignment - 1)))
        return CUDA_ERROR_INVALID_VALUE;
    if (alignment < GRANULARITY)
        alignment = GRANULARITY;
    struct reservation *res = malloc(sizeof(*res));
    if (!res)
        return CUDA_ERROR_OUT_OF_MEMORY;
    /* Over-reserve, then trim to the alignment asked. */
    size_t len = size + alignment;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(res);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    uintptr_t base = round_up((uintptr_t)p, alignment);
    if (base > (uintptr_t)p)
        munmap(p, base - (uintptr_t)p);
    uintptr_t end = (uintptr_t)p + len;
    if (end > base + size)
        munmap((void *)(base + size), end - (base + size));
    res->base = base;
    res->size = size;
    pthread_mutex_lock(&mem);
    res->next = reservations;
    reservations = res;
    pthread_mutex_unlock(&mem);
    *ptr = (CUdeviceptr)base;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemAddressReserve, PFN_cuMemAddressReserve_v10020);

/* Under `mem`: the reservation containing [ptr, ptr+size), or NULL. */
static struct reservation *reservation_of(uintptr_t ptr, size_t size)
{
    for (struct reservation *res = reservations; res; res = res->next)
        if (ptr >= res->base && size <= res->size && ptr - res->base <= res->size - size)
            return res;
    return NULL;
}

/* Under `mem`: is any mapping inside [ptr, ptr+size)? */
static bool mapped_within(uintptr_t ptr, size_t size)
{
    pthread_rwlock_rdlock(&tab);
    long i = find_le(ptr + size - 1);
    bool hit = i >= 0 && table[i]->base + table[i]->size > ptr;
    pthread_rwlock_unlock(&tab);
    return hit;
}

CUresult cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct reservation **pp = &reservations;
    while (*pp && !((*pp)->base == (uintptr_t)ptr && (*pp)->size == size))
        pp = &(*pp)->next;
    struct reservation *res = *pp;
    if (!res || mapped_within(res->base, res->size)) {
        pthread_mutex_unlock(&mem);
        return CUDA_ERROR_INVALID_VALUE; /* unknown, or still mapped: unmap first */
    }
    *pp = res->next;
    pthread_mutex_unlock(&mem);
    munmap((void *)res->base, res->size);
    free(res);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemAddressFree, PFN_cuMemAddressFree_v10020);

CUresult cuMemMap(CUdeviceptr ptr, size_t size, size_t offset, CUmemGenericAllocationHandle handle,
                  unsigned long long flags)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (size == 0 || size % GRANULARITY || offset % GRANULARITY || ptr % GRANULARITY || flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct alloc *a = calloc(1, sizeof(*a));
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&mem);
    struct vmm *v = vmm_of(handle);
    if (!v || offset > v->size || size > v->size - offset ||
        !reservation_of((uintptr_t)ptr, size) || mapped_within((uintptr_t)ptr, size)) {
        r = v ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_INVALID_HANDLE;
        goto fail;
    }
    /* Inaccessible until cuMemSetAccess, as on the GPU. */
    if (mmap((void *)(uintptr_t)ptr, size, PROT_NONE, MAP_SHARED | MAP_FIXED, v->fd,
             (off_t)offset) == MAP_FAILED) {
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    a->base = (uintptr_t)ptr;
    a->size = size;
    a->kind = K_VMM;
    a->dev = v->dev;
    a->vmm = v;
    a->vmm_offset = offset;
    a->id = atomic_fetch_add(&next_id, 1);
    if (table_insert(a) != 0) {
        mmap((void *)(uintptr_t)ptr, size, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        r = CUDA_ERROR_OUT_OF_MEMORY;
        goto fail;
    }
    v->refs++;
    pthread_mutex_unlock(&mem);
    return CUDA_SUCCESS;
fail:
    pthread_mutex_unlock(&mem);
    free(a);
    return r;
}
GVSIM_ABI(cuMemMap, PFN_cuMemMap_v10020);

/* Under `mem`: the mappings that exactly tile [ptr, ptr+size), in address order; false when the
 * range is not fully covered by whole mappings. */
static bool mappings_tile(uintptr_t ptr, size_t size, struct alloc ***out, size_t *n)
{
    struct alloc **list = NULL;
    size_t count = 0;
    uintptr_t at = ptr, end = ptr + size;
    bool ok = true;
    pthread_rwlock_rdlock(&tab);
    while (at < end) {
        long i = find_le(at);
        struct alloc *a = i >= 0 ? table[i] : NULL;
        if (!a || a->kind != K_VMM || a->base != at || a->size > end - at) {
            ok = false;
            break;
        }
        struct alloc **grown = realloc(list, (count + 1) * sizeof(*list));
        if (!grown) {
            ok = false;
            break;
        }
        list = grown;
        list[count++] = a;
        at += a->size;
    }
    pthread_rwlock_unlock(&tab);
    if (!ok) {
        free(list);
        return false;
    }
    *out = list;
    *n = count;
    return true;
}

CUresult cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    struct alloc **list;
    size_t n;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    if (!mappings_tile((uintptr_t)ptr, size, &list, &n)) {
        pthread_mutex_unlock(&mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (size_t i = 0; i < n; i++) {
        struct alloc *a = list[i];
        table_remove(a);
        /* Back to a bare reservation: the range stays ours until cuMemAddressFree. */
        mmap((void *)a->base, a->size, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        vmm_unref(a->vmm);
        free(a);
    }
    pthread_mutex_unlock(&mem);
    free(list);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemUnmap, PFN_cuMemUnmap_v10020);

CUresult cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count)
{
    struct alloc **list;
    size_t n;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!desc || count == 0 || size == 0)
        return CUDA_ERROR_INVALID_VALUE;
    /* One protection for the process: the widest any listed device is given. */
    int prot = PROT_NONE;
    for (size_t i = 0; i < count; i++) {
        if (!device_location(&desc[i].location))
            return CUDA_ERROR_INVALID_DEVICE;
        if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READWRITE)
            prot = PROT_READ | PROT_WRITE;
        else if (desc[i].flags == CU_MEM_ACCESS_FLAGS_PROT_READ && prot == PROT_NONE)
            prot = PROT_READ;
        else if (desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_NONE &&
                 desc[i].flags != CU_MEM_ACCESS_FLAGS_PROT_READ)
            return CUDA_ERROR_INVALID_VALUE;
    }
    pthread_mutex_lock(&mem);
    if (!mappings_tile((uintptr_t)ptr, size, &list, &n)) {
        pthread_mutex_unlock(&mem);
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (size_t i = 0; i < n; i++) {
        mprotect((void *)list[i]->base, list[i]->size, prot);
        pthread_rwlock_wrlock(&tab);
        list[i]->accessible = prot != PROT_NONE;
        pthread_rwlock_unlock(&tab);
    }
    pthread_mutex_unlock(&mem);
    free(list);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuMemSetAccess, PFN_cuMemSetAccess_v10020);

/* ------------------------------------------------------------------ arrays */

static CUresult array_create(CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    struct gvsim_ctx *c;
    CUresult r;
    if (!out || !d)
        return CUDA_ERROR_INVALID_VALUE;
    if ((r = gvsim_current(&c)) != CUDA_SUCCESS)
        return r;
    if (d->Width == 0 || (d->NumChannels != 1 && d->NumChannels != 2 && d->NumChannels != 4))
        return CUDA_ERROR_INVALID_VALUE;
    if (d->Depth && !d->Height && !(d->Flags & CUDA_ARRAY3D_LAYERED))
        return CUDA_ERROR_INVALID_VALUE;
    /* Every format of the toolkit, as the real driver sizes it (core/array.h). */
    uint64_t size = gv_array_bytes(d->Format, d->NumChannels, d->Width, d->Height, d->Depth);
    if (size == 0 || size == UINT64_MAX || size > SIZE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    size_t bytes = (size_t)size;
    struct CUarray_st *a = calloc(1, sizeof(*a));
    if (!a)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (gvsim_mem_charge(c->dev, bytes) != 0) {
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    a->data = map_lazy(page_round(bytes), false);
    if (!a->data) {
        gvsim_mem_uncharge(c->dev, bytes);
        free(a);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    a->magic = ARRAY_MAGIC;
    a->desc = *d;
    a->bytes = bytes;
    a->dev = c->dev;
    a->ctx = c;
    pthread_mutex_lock(&mem);
    a->next = arrays;
    arrays = a;
    pthread_mutex_unlock(&mem);
    *out = a;
    return CUDA_SUCCESS;
}

static void array_free(struct CUarray_st *a)
{
    munmap(a->data, page_round(a->bytes));
    gvsim_mem_uncharge(a->dev, a->bytes);
    a->magic = 0;
    free(a);
}

/* Under `mem`. */
static struct CUarray_st *array_of(CUarray h)
{
    for (struct CUarray_st *a = arrays; a; a = a->next)
        if (a == h)
            return a;
    return NULL;
}

void *gvsim_array_data(CUarray array, size_t *bytes)
{
    pthread_mutex_lock(&mem);
    struct CUarray_st *a = array_of(array);
    if (a && bytes)
        *bytes = a->bytes;
    pthread_mutex_unlock(&mem);
    return a ? a->data : NULL;
}

CUresult cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    return array_create(pHandle, pAllocateArray);
}
GVSIM_ABI(cuArray3DCreate_v2, PFN_cuArray3DCreate_v3020);

CUresult cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = {.Width = pAllocateArray->Width,
                                 .Height = pAllocateArray->Height,
                                 .Depth = pAllocateArray->Depth,
                                 .Format = pAllocateArray->Format,
                                 .NumChannels = pAllocateArray->NumChannels,
                                 .Flags = pAllocateArray->Flags};
    return array_create(pHandle, &d);
}
GVSIM_ABI(cuArray3DCreate, PFN_cuArray3DCreate_v2000);

CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = {.Width = pAllocateArray->Width,
                                 .Height = pAllocateArray->Height,
                                 .Format = pAllocateArray->Format,
                                 .NumChannels = pAllocateArray->NumChannels};
    return array_create(pHandle, &d);
}
GVSIM_ABI(cuArrayCreate_v2, PFN_cuArrayCreate_v3020);

CUresult cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = {.Width = pAllocateArray->Width,
                                 .Height = pAllocateArray->Height,
                                 .Format = pAllocateArray->Format,
                                 .NumChannels = pAllocateArray->NumChannels};
    return array_create(pHandle, &d);
}
GVSIM_ABI(cuArrayCreate, PFN_cuArrayCreate_v2000);

static CUresult array_desc(CUDA_ARRAY3D_DESCRIPTOR *out, CUarray h)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mem);
    struct CUarray_st *a = array_of(h);
    if (a)
        *out = a->desc;
    pthread_mutex_unlock(&mem);
    return a ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    return array_desc(pArrayDescriptor, hArray);
}
GVSIM_ABI(cuArray3DGetDescriptor_v2, PFN_cuArray3DGetDescriptor_v3020);

CUresult cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = array_desc(&d, hArray);
    if (r == CUDA_SUCCESS)
        *pArrayDescriptor =
            (CUDA_ARRAY3D_DESCRIPTOR_v1){(unsigned)d.Width, (unsigned)d.Height, (unsigned)d.Depth,
                                         d.Format,          d.NumChannels,      d.Flags};
    return r;
}
GVSIM_ABI(cuArray3DGetDescriptor, PFN_cuArray3DGetDescriptor_v2000);

/* The 2D query refuses a 3D array, as the driver does. */
CUresult cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = array_desc(&d, hArray);
    if (r != CUDA_SUCCESS)
        return r;
    if (d.Depth)
        return CUDA_ERROR_INVALID_HANDLE;
    *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR){d.Width, d.Height, d.Format, d.NumChannels};
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuArrayGetDescriptor_v2, PFN_cuArrayGetDescriptor_v3020);

CUresult cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuArrayGetDescriptor_v2(&d, hArray);
    if (r == CUDA_SUCCESS)
        *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR_v1){(unsigned)d.Width, (unsigned)d.Height,
                                                       d.Format, d.NumChannels};
    return r;
}
GVSIM_ABI(cuArrayGetDescriptor, PFN_cuArrayGetDescriptor_v2000);

CUresult cuArrayDestroy(CUarray hArray)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mem);
    struct CUarray_st **pp = &arrays;
    while (*pp && *pp != hArray)
        pp = &(*pp)->next;
    struct CUarray_st *a = *pp;
    if (a)
        *pp = a->next;
    pthread_mutex_unlock(&mem);
    if (!a)
        return CUDA_ERROR_INVALID_HANDLE;
    array_free(a);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuArrayDestroy, PFN_cuArrayDestroy_v2000);

/* ------------------------------------------------------------------ pointer attributes */

/* Write one attribute of `a` (NULL: not a CUDA pointer, answered with the "unknown" values
 * cuPointerGetAttributes uses). Under `tab`. */
static CUresult attribute(void *data, CUpointer_attribute attr, const struct alloc *a, uintptr_t p)
{
    bool host = a && (a->kind == K_HOST || a->kind == K_REGISTERED);
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        *(CUcontext *)data = a ? (CUcontext)a->ctx : NULL;
        break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        *(unsigned *)data = !a ? 0 : host ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        *(CUdeviceptr *)data = a ? (CUdeviceptr)p : 0;
        break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        if (a && !host && a->kind != K_MANAGED)
            return CUDA_ERROR_INVALID_VALUE; /* device memory has no host address */
        *(void **)data = a ? (void *)p : NULL;
        break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
        *(bool *)data = false;
        break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
        *(unsigned long long *)data = a ? a->id : 0;
        break;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
        *(bool *)data = a && a->kind == K_MANAGED;
        break;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
        *(int *)data = !a ? -2 : a->dev >= 0 ? a->dev : a->ctx ? a->ctx->dev : -1;
        break;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
        *(bool *)data = a && a->kind == K_DEVICE;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
        *(CUdeviceptr *)data = a ? (CUdeviceptr)a->base : 0;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
        *(size_t *)data = a ? a->size : 0;
        break;
    case CU_POINTER_ATTRIBUTE_MAPPED:
        *(bool *)data = a != NULL;
        break;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
        *(unsigned long long *)data = 0;
        break;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
        *(bool *)data = false;
        break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        *(unsigned *)data = a && (a->kind != K_VMM || a->accessible)
                                ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE
                                : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_NONE;
        break;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        *(CUmemoryPool *)data = a && a->kind == K_POOL ? (CUmemoryPool)a->pool : NULL;
        break;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        *(size_t *)data = a ? a->size : 0;
        break;
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        *(void **)data = a ? (void *)a->base : NULL;
        break;
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        *(unsigned long long *)data = a ? a->id : 0;
        break;
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
        *(bool *)data = false;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute_, CUdeviceptr ptr)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!data)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&tab);
    const struct alloc *a = lookup_locked((uintptr_t)ptr);
    r = a ? attribute(data, attribute_, a, (uintptr_t)ptr) : CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_unlock(&tab);
    return r;
}
GVSIM_ABI(cuPointerGetAttribute, PFN_cuPointerGetAttribute_v4000);

/* Unlike the single query, an unknown pointer is not an error: it gets the "unknown" values. */
CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes,
                                void **data, CUdeviceptr ptr)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (numAttributes == 0 || !attributes || !data)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_rwlock_rdlock(&tab);
    const struct alloc *a = lookup_locked((uintptr_t)ptr);
    for (unsigned i = 0; i < numAttributes && r == CUDA_SUCCESS; i++) {
        if (!data[i]) {
            r = CUDA_ERROR_INVALID_VALUE;
            break;
        }
        r = attribute(data[i], attributes[i], a, (uintptr_t)ptr);
        if (r != CUDA_SUCCESS && a && attributes[i] == CU_POINTER_ATTRIBUTE_HOST_POINTER) {
            *(void **)data[i] = NULL;
            r = CUDA_SUCCESS;
        }
    }
    pthread_rwlock_unlock(&tab);
    return r;
}
GVSIM_ABI(cuPointerGetAttributes, PFN_cuPointerGetAttributes_v7000);

/* ------------------------------------------------------------------ context teardown */

void gvsim_mem_ctx_release(struct gvsim_ctx *ctx)
{
    pthread_mutex_lock(&mem);
    /* Collect first: freeing while walking the sorted table would shift it under us. */
    struct alloc **doomed = NULL;
    size_t n = 0;
    pthread_rwlock_wrlock(&tab);
    for (size_t i = 0; i < ntable; i++) {
        struct alloc *a = table[i];
        if (a->ctx != ctx || a->kind == K_VMM)
            continue;
        struct alloc **grown = realloc(doomed, (n + 1) * sizeof(*doomed));
        if (!grown)
            break;
        doomed = grown;
        doomed[n++] = a;
    }
    pthread_rwlock_unlock(&tab);
    for (size_t i = 0; i < n; i++) {
        struct alloc *a = doomed[i];
        table_remove(a);
        if (a->kind == K_REGISTERED)
            free(a);
        else if (a->kind == K_POOL)
            pool_give_back(a);
        else
            unmake(a);
    }
    free(doomed);
    /* A reset device gets its pools' idle memory back, as cudaDeviceReset does. */
    if (default_pool[ctx->dev].magic == POOL_MAGIC)
        pool_release_idle(&default_pool[ctx->dev], 0);
    for (struct pool *p = pools; p; p = p->next)
        if (p->dev == ctx->dev)
            pool_release_idle(p, 0);
    struct CUarray_st **pp = &arrays;
    while (*pp) {
        struct CUarray_st *a = *pp;
        if (a->ctx == ctx) {
            *pp = a->next;
            array_free(a);
        } else {
            pp = &a->next;
        }
    }
    pthread_mutex_unlock(&mem);
    ctx->mem = NULL;
}
