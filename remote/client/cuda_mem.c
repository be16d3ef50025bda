/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_mem.c: device memory, stream-ordered pools, virtual memory management, arrays, pointer
 * attributes, and host memory.
 *
 * Device memory lives in the server's session; the client keeps the ranges it was handed
 * (cuda_mem.h) so that cuMemcpy can tell device pointers from host ones, and so that a free of a
 * pointer it never had, or had already freed, is refused at the call without a round trip: frees
 * then go out without waiting for a reply, and what the server still refuses comes back at the
 * next synchronizing call.
 *
 * Host memory stays here. cuMemAllocHost, cuMemHostAlloc and cuMemHostRegister give or take
 * plain memory of this process (the server's GPU cannot reach it, and copies stream it over the
 * connection anyway), so there is no device pointer for it: cuMemHostGetDevicePointer answers
 * CUDA_ERROR_NOT_SUPPORTED, as cuMemAllocManaged does (no memory can be on both sides). Pointer
 * attributes of such memory are answered here, and those that would name a device address
 * (device pointer, ordinal, P2P tokens) with CUDA_ERROR_NOT_SUPPORTED.
 *
 * The CUDA 2.x entry points with 32-bit pointers and sizes go through the same calls as the
 * newest ones; an allocation the server placed above 4 GiB cannot be named in 32 bits, so it is
 * freed again and the call fails with CUDA_ERROR_OUT_OF_MEMORY. */
#include "remote/client/cuda_mem.h"
#include "remote/client/exec.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "remote/memwire.h"

/* ------------------------------------------------------------------ range sets */

/* What a device range is. */
enum { DEV_ALLOC = 1, DEV_POOL = 2, DEV_MAPPED = 4 };

struct range {
    uint64_t base, size;
    unsigned kind; /* device: DEV_*; host: the flags of the call */
    bool owned;    /* host: memory we mapped (not the caller's, registered); device: our own
                      address space held for it (hold_va) */
    uint64_t ctx;  /* host: the context current at the call */
    uint64_t id;   /* host: its buffer id */
};

/* Sorted by base; ranges never overlap. */
struct rset {
    pthread_mutex_t mu;
    struct range *r;
    size_t n, cap;
};

static struct rset devmem = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};
static struct rset vaspace = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0}; /* VMM reservations */
static struct rset hostmem = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

/* Device addresses are the server's, host addresses ours, and nothing but the address tells a
 * cuMemcpy which is which: so while a device range is live, the same addresses of our own address
 * space are held (inaccessible, and costing no memory), and no host buffer of ours can come to
 * have a device pointer's address. A device pointer dereferenced here faults, as it does on a
 * GPU's host without unified memory. A range whose addresses we already use for something else
 * is not held (the caller's own memory there stays what it is). */
static size_t page_round(size_t n);

static bool hold_va(uint64_t p, uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    if (n == 0 || p % page || n > SIZE_MAX - page || p > UINTPTR_MAX - n)
        return false;
    size_t len = page_round((size_t)n);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_FIXED_NOREPLACE
    flags |= MAP_FIXED_NOREPLACE;
#endif
    void *at = mmap((void *)(uintptr_t)p, len, PROT_NONE, flags, -1, 0);
    if (at == MAP_FAILED)
        return false;
    if (at != (void *)(uintptr_t)p) { /* a kernel that took the address as a hint */
        munmap(at, len);
        return false;
    }
    return true;
}

static void let_va_go(const struct range *r)
{
    if (r->owned)
        munmap((void *)(uintptr_t)r->base, page_round((size_t)r->size));
}

/* Move n ranges from index `from` to index `to` (the array may still be NULL when n is 0). */
static void shift(struct rset *s, size_t to, size_t from, size_t n)
{
    if (n)
        memmove(&s->r[to], &s->r[from], n * sizeof(*s->r));
}

/* Index of the first range whose base is > p. Under mu. */
static size_t upper(const struct rset *s, uint64_t p)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->r[mid].base <= p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The range holding p, or NULL. Under mu. */
static struct range *holding(struct rset *s, uint64_t p)
{
    size_t i = upper(s, p);
    return i > 0 && p - s->r[i - 1].base < s->r[i - 1].size ? &s->r[i - 1] : NULL;
}

/* Add r. Ranges it overlaps are dropped when `replace` (device memory: the server handed the
 * addresses out again, so what we knew there was freed behind our back, with its context), else
 * they make the call fail. A device range (`replace`) gets its addresses held once what it
 * replaces has let them go. Returns 0, 1 (overlap) or -1 (out of memory). */
static int rs_add(struct rset *s, const struct range *r, bool replace)
{
    int res = 0;
    pthread_mutex_lock(&s->mu);
    size_t i = upper(s, r->base);
    size_t lo = i > 0 && s->r[i - 1].base + s->r[i - 1].size > r->base ? i - 1 : i, hi = i;
    while (hi < s->n && s->r[hi].base - r->base < r->size)
        hi++;
    if (hi > lo && !replace) {
        res = 1;
        goto out;
    }
    /* Only device sets replace: what they drop may hold address space. */
    for (size_t k = lo; k < hi; k++)
        let_va_go(&s->r[k]);
    shift(s, lo, hi, s->n - hi);
    s->n -= hi - lo;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct range *n = realloc(s->r, cap * sizeof(*n));
        if (!n) {
            res = -1;
            goto out;
        }
        s->r = n;
        s->cap = cap;
    }
    shift(s, lo + 1, lo, s->n - lo);
    s->r[lo] = *r;
    if (replace)
        s->r[lo].owned = hold_va(r->base, r->size);
    s->n++;
out:
    pthread_mutex_unlock(&s->mu);
    return res;
}

/* Remove the range that starts at base when `ok` accepts it; a copy in *out. */
static bool rs_take(struct rset *s, uint64_t base, bool (*ok)(const struct range *),
                    struct range *out)
{
    pthread_mutex_lock(&s->mu);
    struct range *r = holding(s, base);
    bool found = r && r->base == base && (!ok || ok(r));
    if (found) {
        if (out)
            *out = *r;
        size_t i = (size_t)(r - s->r);
        shift(s, i, i + 1, s->n - i - 1);
        s->n--;
    }
    pthread_mutex_unlock(&s->mu);
    return found;
}

/* A copy of the range holding p. */
static bool rs_find(struct rset *s, uint64_t p, struct range *out)
{
    pthread_mutex_lock(&s->mu);
    struct range *r = holding(s, p);
    if (r && out)
        *out = *r;
    pthread_mutex_unlock(&s->mu);
    return r != NULL;
}

/* Drop every range that starts inside [p, p+n). */
static void rs_drop_within(struct rset *s, uint64_t p, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    size_t lo = upper(s, p - 1), hi = lo;
    if (p == 0)
        lo = hi = 0;
    while (hi < s->n && s->r[hi].base - p < n)
        let_va_go(&s->r[hi++]);
    shift(s, lo, hi, s->n - hi);
    s->n -= hi - lo;
    pthread_mutex_unlock(&s->mu);
}

bool rc_devmem_has(uint64_t p)
{
    return rs_find(&devmem, p, NULL) || rs_find(&vaspace, p, NULL);
}

bool rc_devmem_holds(uint64_t p, uint64_t n)
{
    struct range r;
    return rs_find(&devmem, p, &r) && n <= r.size - (p - r.base);
}

/* ------------------------------------------------------------------ calls */

/* Begin a call once cuInit has run. */
static CUresult start(struct rc_call *c, unsigned op)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    return rc_begin(c, op);
}

/* A call whose fields are one or two u64 and whose reply has none. */
static CUresult call_q(unsigned op, int count, uint64_t a, uint64_t b)
{
    struct rc_call c;
    CUresult r = start(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, a);
    if (count > 1)
        gvw_put_u64(c.b, b);
    return rc_end(&c, rc_wait(&c));
}

/* Give a device range back to the server without waiting (the range was never the caller's). */
static void post_free(uint64_t p)
{
    struct rc_call c;
    if (rc_begin(&c, GVW_OP_MEM_FREE) != CUDA_SUCCESS)
        return;
    gvw_put_u64(c.b, p);
    rc_end(&c, rc_post(&c));
}

/* Record device memory the server handed out; when we cannot, give it back. An allocation belongs
 * to the context current at the call, and goes with it (rc_devmem_drop_ctx). */
static CUresult got_device(uint64_t p, uint64_t size, unsigned kind)
{
    struct range r = {.base = p, .size = size, .kind = kind, .ctx = rc_ctx_current()};
    if (rs_add(&devmem, &r, true) == 0)
        return CUDA_SUCCESS;
    post_free(p);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

/* The child of fork() holds no device memory: it was the parent's session's (client.c). Its host
 * memory is its own copy, and stays. */
static void devmem_fork_child(void)
{
    pthread_mutex_init(&devmem.mu, NULL);
    pthread_mutex_init(&hostmem.mu, NULL);
    devmem.n = 0;
}

__attribute__((constructor)) static void devmem_fork_safe(void)
{
    pthread_atfork(NULL, NULL, devmem_fork_child);
}

void rc_devmem_drop_ctx(uint64_t ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&devmem.mu);
    size_t k = 0;
    for (size_t i = 0; i < devmem.n; i++) {
        if (devmem.r[i].ctx == ctx && devmem.r[i].kind != DEV_MAPPED) {
            let_va_go(&devmem.r[i]);
            continue;
        }
        devmem.r[k++] = devmem.r[i];
    }
    devmem.n = k;
    pthread_mutex_unlock(&devmem.mu);
}

/* Forget the device range starting at p that `ok` accepts. */
static bool forget_device(uint64_t p, bool (*ok)(const struct range *))
{
    struct range r;
    if (!rs_take(&devmem, p, ok, &r))
        return false;
    let_va_go(&r);
    return true;
}

/* ---- device memory ---- */

static CUresult alloc(CUdeviceptr *dptr, size_t bytesize)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_ALLOC);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, bytesize);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        r = got_device(c.r.v[1], bytesize, DEV_ALLOC);
    if (r == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)c.r.v[1];
    return r;
}

CUresult RC_API cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    return alloc(dptr, bytesize);
}

/* A device range a 32-bit entry point can name, or freed again. */
static CUresult fits_32(CUresult r, CUdeviceptr p, uint64_t size)
{
    if (r != CUDA_SUCCESS || (p <= UINT_MAX && size <= UINT_MAX - p))
        return r;
    if (forget_device(p, NULL))
        post_free(p);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult RC_API cuMemAlloc(CUdeviceptr_v1 *dptr, unsigned int bytesize)
{
    CUdeviceptr p = 0;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = alloc(&p, bytesize);
    r = fits_32(r, p, bytesize);
    if (r == CUDA_SUCCESS)
        *dptr = (CUdeviceptr_v1)p;
    return r;
}

CUresult RC_API cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
                                   size_t Height, unsigned int ElementSizeBytes)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr || !pPitch)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_ALLOC_PITCH);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, WidthInBytes);
    gvw_put_u64(c.b, Height);
    gvw_put_u32(c.b, ElementSizeBytes);
    r = rc_end(&c, rc_wait(&c));
    uint64_t p = c.r.v[1], pitch = c.r.v[2];
    if (r == CUDA_SUCCESS && Height && pitch > UINT64_MAX / Height) {
        post_free(p);
        return CUDA_ERROR_INVALID_VALUE; /* a server that answers nonsense */
    }
    if (r == CUDA_SUCCESS)
        r = got_device(p, pitch * Height, DEV_ALLOC);
    if (r == CUDA_SUCCESS) {
        *dptr = (CUdeviceptr)p;
        *pPitch = (size_t)pitch;
    }
    return r;
}

CUresult RC_API cuMemAllocPitch(CUdeviceptr_v1 *dptr, unsigned int *pPitch,
                                unsigned int WidthInBytes, unsigned int Height,
                                unsigned int ElementSizeBytes)
{
    CUdeviceptr p = 0;
    size_t pitch = 0;
    if (!dptr || !pPitch)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuMemAllocPitch_v2(&p, &pitch, WidthInBytes, Height, ElementSizeBytes);
    if (r == CUDA_SUCCESS && pitch > UINT_MAX)
        r = fits_32(r, p, UINT64_MAX); /* frees it */
    r = fits_32(r, p, (uint64_t)pitch * Height);
    if (r == CUDA_SUCCESS) {
        *dptr = (CUdeviceptr_v1)p;
        *pPitch = (unsigned int)pitch;
    }
    return r;
}

/* Memory cuMemFree and cuMemFreeAsync take: allocations and pool blocks, not mappings. */
static bool freeable(const struct range *r)
{
    return r->kind & (DEV_ALLOC | DEV_POOL);
}

CUresult RC_API cuMemFree_v2(CUdeviceptr dptr)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (dptr == 0)
        return CUDA_SUCCESS; /* as free(NULL) */
    if (!forget_device(dptr, freeable))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_FREE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dptr);
    return rc_end(&c, rc_post(&c));
}

CUresult RC_API cuMemFree(CUdeviceptr_v1 dptr)
{
    return cuMemFree_v2(dptr);
}

CUresult RC_API cuMemGetInfo_v2(size_t *fr, size_t *total)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!fr || !total)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_GET_INFO);
    if (r != CUDA_SUCCESS)
        return r;
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS) {
        *fr = (size_t)c.r.v[1];
        *total = (size_t)c.r.v[2];
    }
    return r;
}

static unsigned int clamp_32(size_t v)
{
    return v > UINT_MAX ? UINT_MAX : (unsigned int)v;
}

CUresult RC_API cuMemGetInfo(unsigned int *fr, unsigned int *total)
{
    size_t f = 0, t = 0;
    if (!fr || !total)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuMemGetInfo_v2(&f, &t);
    if (r == CUDA_SUCCESS) {
        *fr = clamp_32(f);
        *total = clamp_32(t);
    }
    return r;
}

CUresult RC_API cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr)
{
    struct rc_call c;
    CUresult r = start(&c, GVW_OP_MEM_ADDRESS_RANGE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dptr);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS && pbase)
        *pbase = (CUdeviceptr)c.r.v[1];
    if (r == CUDA_SUCCESS && psize)
        *psize = (size_t)c.r.v[2];
    return r;
}

CUresult RC_API cuMemGetAddressRange(CUdeviceptr_v1 *pbase, unsigned int *psize,
                                     CUdeviceptr_v1 dptr)
{
    CUdeviceptr b = 0;
    size_t s = 0;
    CUresult r = cuMemGetAddressRange_v2(&b, &s, dptr);
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

/* Managed memory is reachable from the host and the device at one address: not across a
 * network. */
CUresult RC_API cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    (void)bytesize, (void)flags;
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* ---- host memory, kept here ---- */

static uint64_t next_host_id = 1;

static size_t page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) / page * page;
}

static CUresult need_ctx(void)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    return rc_ctx_current() ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

static CUresult host_alloc(void **pp, size_t bytesize, unsigned flags)
{
    if (!pp)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    const unsigned known =
        CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (bytesize == 0 || (flags & ~known) || bytesize > SIZE_MAX / 2)
        return CUDA_ERROR_INVALID_VALUE;
    void *p = mmap(NULL, page_round(bytesize), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct range h = {.base = (uint64_t)(uintptr_t)p,
                      .size = bytesize,
                      .kind = flags,
                      .owned = true,
                      .ctx = rc_ctx_current(),
                      .id = __atomic_fetch_add(&next_host_id, 1, __ATOMIC_RELAXED)};
    if (rs_add(&hostmem, &h, false) != 0) {
        munmap(p, page_round(bytesize));
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *pp = p;
    return CUDA_SUCCESS;
}

CUresult RC_API cuMemAllocHost_v2(void **pp, size_t bytesize)
{
    return host_alloc(pp, bytesize, 0);
}

CUresult RC_API cuMemAllocHost(void **pp, unsigned int bytesize)
{
    return host_alloc(pp, bytesize, 0);
}

CUresult RC_API cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags)
{
    return host_alloc(pp, bytesize, Flags);
}

static bool owned(const struct range *r)
{
    return r->owned;
}

static bool registered(const struct range *r)
{
    return !r->owned;
}

CUresult RC_API cuMemFreeHost(void *p)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    struct range h;
    if (!p || !rs_take(&hostmem, (uint64_t)(uintptr_t)p, owned, &h))
        return CUDA_ERROR_INVALID_VALUE;
    munmap(p, page_round((size_t)h.size));
    return CUDA_SUCCESS;
}

static CUresult host_register(void *p, size_t bytesize, unsigned flags)
{
    if (!p || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = need_ctx();
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t base = (uint64_t)(uintptr_t)p;
    if (bytesize > UINT64_MAX - base)
        return CUDA_ERROR_INVALID_VALUE;
    struct range h = {.base = base,
                      .size = bytesize,
                      .kind = flags,
                      .ctx = rc_ctx_current(),
                      .id = __atomic_fetch_add(&next_host_id, 1, __ATOMIC_RELAXED)};
    int res = rs_add(&hostmem, &h, false);
    return res == 0   ? CUDA_SUCCESS
           : res == 1 ? CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED
                      : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult RC_API cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags)
{
    return host_register(p, bytesize, Flags);
}

CUresult RC_API cuMemHostRegister(void *p, size_t bytesize, unsigned int Flags)
{
    return host_register(p, bytesize, Flags);
}

CUresult RC_API cuMemHostUnregister(void *p)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    return rs_take(&hostmem, (uint64_t)(uintptr_t)p, registered, NULL)
               ? CUDA_SUCCESS
               : CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

CUresult RC_API cuMemHostGetFlags(unsigned int *pFlags, void *p)
{
    if (!pFlags || !p)
        return CUDA_ERROR_INVALID_VALUE;
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    struct range h;
    if (!rs_find(&hostmem, (uint64_t)(uintptr_t)p, &h))
        return CUDA_ERROR_INVALID_VALUE;
    *pFlags = h.kind;
    return CUDA_SUCCESS;
}

/* The server's GPU cannot reach this process's memory. */
CUresult RC_API cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags)
{
    if (!pdptr || !p || Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    return CUDA_ERROR_NOT_SUPPORTED;
}

CUresult RC_API cuMemHostGetDevicePointer(CUdeviceptr_v1 *pdptr, void *p, unsigned int Flags)
{
    CUdeviceptr d = 0;
    if (!pdptr)
        return CUDA_ERROR_INVALID_VALUE;
    return cuMemHostGetDevicePointer_v2(&d, p, Flags);
}

/* ---- stream-ordered allocation and pools ---- */

static CUresult alloc_async(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool, CUstream st,
                            bool per_thread)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t wire, ctx;
    CUresult r = rcx_stream(st, per_thread, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    struct rc_call c;
    r = rc_begin(&c, pool ? GVW_OP_MEM_ALLOC_FROM_POOL_ASYNC : GVW_OP_MEM_ALLOC_ASYNC);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, bytesize);
    if (pool)
        gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    gvw_put_u64(c.b, wire);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        r = got_device(c.r.v[1], bytesize, DEV_POOL);
    if (r == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)c.r.v[1];
    return r;
}

CUresult RC_API cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, false);
}

CUresult RC_API cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    return alloc_async(dptr, bytesize, NULL, hStream, true);
}

CUresult RC_API cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                        CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, pool, hStream, false);
}

CUresult RC_API cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                             CUstream hStream)
{
    if (!pool)
        return CUDA_ERROR_INVALID_VALUE;
    return alloc_async(dptr, bytesize, pool, hStream, true);
}

/* The pointer is forgotten at the call: the caller may not use it after, even though the block
 * stays in use on the device until the stream reaches the free. */
static CUresult free_async(CUdeviceptr dptr, CUstream st, bool per_thread)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    uint64_t wire, ctx;
    CUresult r = rcx_stream(st, per_thread, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if (!forget_device(dptr, freeable))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    r = rc_begin(&c, GVW_OP_MEM_FREE_ASYNC);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dptr);
    gvw_put_u64(c.b, wire);
    return rc_end(&c, rc_post(&c));
}

CUresult RC_API cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, false);
}

CUresult RC_API cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    return free_async(dptr, hStream, true);
}

/* A call whose reply is one u64 that becomes a pool handle. */
static CUresult pool_reply(struct rc_call *c, CUmemoryPool *out)
{
    CUresult r = rc_end(c, rc_wait(c));
    if (r == CUDA_SUCCESS)
        *out = (CUmemoryPool)(uintptr_t)c->r.v[1];
    return r;
}

CUresult RC_API cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *poolProps)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!pool || !poolProps)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POOL_CREATE);
    if (r != CUDA_SUCCESS)
        return r;
    struct gvw_buf b = {0};
    gvm_put_pool_props(&b, poolProps);
    gvw_put_bytes(c.b, b.p, b.len);
    gvw_buf_free(&b);
    return pool_reply(&c, pool);
}

CUresult RC_API cuMemPoolDestroy(CUmemoryPool pool)
{
    return call_q(GVW_OP_POOL_DESTROY, 1, (uint64_t)(uintptr_t)pool, 0);
}

CUresult RC_API cuMemPoolTrimTo(CUmemoryPool pool, size_t minBytesToKeep)
{
    return call_q(GVW_OP_POOL_TRIM, 2, (uint64_t)(uintptr_t)pool, minBytesToKeep);
}

/* The bytes a pool attribute's value takes, 0 for an attribute this client does not know. */
static size_t pool_attr_bytes(CUmemPool_attribute attr)
{
    switch (attr) {
    case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
    case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
        return sizeof(int);
    case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH:
    case CU_MEMPOOL_ATTR_USED_MEM_CURRENT:
    case CU_MEMPOOL_ATTR_USED_MEM_HIGH:
        return sizeof(cuuint64_t);
    }
    return 0;
}

CUresult RC_API cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    size_t n = pool_attr_bytes(attr);
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!value || n == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POOL_SET_ATTRIBUTE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    gvw_put_u32(c.b, (uint32_t)attr);
    gvw_put_bytes(c.b, value, n);
    return rc_end(&c, rc_wait(&c));
}

CUresult RC_API cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
    size_t n = pool_attr_bytes(attr);
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!value || n == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POOL_GET_ATTRIBUTE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    gvw_put_u32(c.b, (uint32_t)attr);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && c.r.n[1] < n)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        memcpy(value, c.r.p[1], n);
    return rc_end(&c, r);
}

/* An access list as one field; false when it is too long to be one. */
static bool put_access(struct gvw_buf *frame, const CUmemAccessDesc *d, size_t count)
{
    if (count > GVM_ACCESS_MAX)
        return false;
    struct gvw_buf b = {0};
    gvm_put_access(&b, d, count);
    gvw_put_bytes(frame, b.p, b.len);
    gvw_buf_free(&b);
    return true;
}

CUresult RC_API cuMemPoolSetAccess(CUmemoryPool pool, const CUmemAccessDesc *map, size_t count)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if ((count > 0 && !map) || count > GVM_ACCESS_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POOL_SET_ACCESS);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    put_access(c.b, map, count);
    return rc_end(&c, rc_wait(&c));
}

static void put_location(struct gvw_buf *frame, const CUmemLocation *loc)
{
    struct gvw_buf b = {0};
    gvm_put_location(&b, loc);
    gvw_put_bytes(frame, b.p, b.len);
    gvw_buf_free(&b);
}

CUresult RC_API cuMemPoolGetAccess(CUmemAccess_flags *flags, CUmemoryPool memPool,
                                   CUmemLocation *location)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!flags || !location)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POOL_GET_ACCESS);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)memPool);
    put_location(c.b, location);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        *flags = (CUmemAccess_flags)c.r.v[1];
    return r;
}

/* DEVICE_DEFAULT_MEM_POOL, DEVICE_GET_MEM_POOL: {device} -> {pool} */
static CUresult device_pool(unsigned op, CUmemoryPool *out, CUdevice dev)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    return pool_reply(&c, out);
}

CUresult RC_API cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    return device_pool(GVW_OP_DEVICE_DEFAULT_MEM_POOL, pool_out, dev);
}

CUresult RC_API cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev)
{
    return device_pool(GVW_OP_DEVICE_GET_MEM_POOL, pool, dev);
}

CUresult RC_API cuDeviceSetMemPool(CUdevice dev, CUmemoryPool pool)
{
    struct rc_call c;
    CUresult r = start(&c, GVW_OP_DEVICE_SET_MEM_POOL);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    return rc_end(&c, rc_wait(&c));
}

/* MEM_GET_DEFAULT_POOL, MEM_GET_POOL: {location, type} -> {pool} */
static CUresult location_pool(unsigned op, CUmemoryPool *out, const CUmemLocation *location,
                              CUmemAllocationType type)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!out || !location)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    put_location(c.b, location);
    gvw_put_u32(c.b, (uint32_t)type);
    return pool_reply(&c, out);
}

CUresult RC_API cuMemGetDefaultMemPool(CUmemoryPool *pool_out, CUmemLocation *location,
                                       CUmemAllocationType type)
{
    return location_pool(GVW_OP_MEM_GET_DEFAULT_POOL, pool_out, location, type);
}

CUresult RC_API cuMemGetMemPool(CUmemoryPool *pool, CUmemLocation *location,
                                CUmemAllocationType type)
{
    return location_pool(GVW_OP_MEM_GET_POOL, pool, location, type);
}

CUresult RC_API cuMemSetMemPool(CUmemLocation *location, CUmemAllocationType type,
                                CUmemoryPool pool)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!location)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_SET_POOL);
    if (r != CUDA_SUCCESS)
        return r;
    put_location(c.b, location);
    gvw_put_u32(c.b, (uint32_t)type);
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)pool);
    return rc_end(&c, rc_wait(&c));
}

/* ---- virtual memory management ---- */

static void put_prop(struct gvw_buf *frame, const CUmemAllocationProp *prop)
{
    struct gvw_buf b = {0};
    gvm_put_prop(&b, prop);
    gvw_put_bytes(frame, b.p, b.len);
    gvw_buf_free(&b);
}

CUresult RC_API cuMemGetAllocationGranularity(size_t *granularity, const CUmemAllocationProp *prop,
                                              CUmemAllocationGranularity_flags option)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!granularity || !prop)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_GRANULARITY);
    if (r != CUDA_SUCCESS)
        return r;
    put_prop(c.b, prop);
    gvw_put_u32(c.b, (uint32_t)option);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        *granularity = (size_t)c.r.v[1];
    return r;
}

CUresult RC_API cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                            const CUmemAllocationProp *prop, unsigned long long flags)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!handle || !prop)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_CREATE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, size);
    put_prop(c.b, prop);
    gvw_put_u64(c.b, flags);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        *handle = c.r.v[1];
    return r;
}

CUresult RC_API cuMemRelease(CUmemGenericAllocationHandle handle)
{
    return call_q(GVW_OP_MEM_RELEASE, 1, handle, 0);
}

CUresult RC_API cuMemGetAllocationPropertiesFromHandle(CUmemAllocationProp *prop,
                                                       CUmemGenericAllocationHandle handle)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_PROPERTIES_FROM_HANDLE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, handle);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        struct gvw_rd rd;
        CUmemAllocationProp back;
        gvw_rd_init(&rd, c.r.p[1], c.r.n[1]);
        gvm_get_prop(&rd, &back);
        if (gvw_done(&rd))
            *prop = back;
        else
            r = CUDA_ERROR_INVALID_VALUE;
    }
    return rc_end(&c, r);
}

CUresult RC_API cuMemRetainAllocationHandle(CUmemGenericAllocationHandle *handle, void *addr)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!handle)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_RETAIN_HANDLE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)addr);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        *handle = c.r.v[1];
    return r;
}

CUresult RC_API cuMemAddressReserve(CUdeviceptr *ptr, size_t size, size_t alignment,
                                    CUdeviceptr addr, unsigned long long flags)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!ptr)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_ADDRESS_RESERVE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, size);
    gvw_put_u64(c.b, alignment);
    gvw_put_u64(c.b, addr);
    gvw_put_u64(c.b, flags);
    r = rc_end(&c, rc_wait(&c));
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t p = c.r.v[1];
    struct range v = {.base = p, .size = size};
    if (rs_add(&vaspace, &v, true) != 0) {
        call_q(GVW_OP_ADDRESS_FREE, 2, p, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *ptr = (CUdeviceptr)p;
    return CUDA_SUCCESS;
}

CUresult RC_API cuMemAddressFree(CUdeviceptr ptr, size_t size)
{
    CUresult r = call_q(GVW_OP_ADDRESS_FREE, 2, ptr, size);
    struct range v;
    if (r == CUDA_SUCCESS && rs_take(&vaspace, ptr, NULL, &v))
        let_va_go(&v);
    return r;
}

CUresult RC_API cuMemMap(CUdeviceptr ptr, size_t size, size_t offset,
                         CUmemGenericAllocationHandle handle, unsigned long long flags)
{
    struct rc_call c;
    CUresult r = start(&c, GVW_OP_MEM_MAP);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, ptr);
    gvw_put_u64(c.b, size);
    gvw_put_u64(c.b, offset);
    gvw_put_u64(c.b, handle);
    gvw_put_u64(c.b, flags);
    r = rc_end(&c, rc_wait(&c));
    if (r != CUDA_SUCCESS)
        return r;
    struct range m = {.base = ptr, .size = size, .kind = DEV_MAPPED};
    if (rs_add(&devmem, &m, true) != 0) {
        call_q(GVW_OP_MEM_UNMAP, 2, ptr, size);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

CUresult RC_API cuMemUnmap(CUdeviceptr ptr, size_t size)
{
    CUresult r = call_q(GVW_OP_MEM_UNMAP, 2, ptr, size);
    if (r == CUDA_SUCCESS)
        rs_drop_within(&devmem, ptr, size);
    return r;
}

CUresult RC_API cuMemSetAccess(CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc,
                               size_t count)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!desc || count == 0 || count > GVM_ACCESS_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_SET_ACCESS);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, ptr);
    gvw_put_u64(c.b, size);
    put_access(c.b, desc, count);
    return rc_end(&c, rc_wait(&c));
}

/* ---- arrays ---- */

static CUresult array_create(unsigned op, CUarray *out, const CUDA_ARRAY3D_DESCRIPTOR *d)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    struct gvw_buf b = {0};
    gvm_put_array(&b, d);
    gvw_put_bytes(c.b, b.p, b.len);
    gvw_buf_free(&b);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        *out = (CUarray)(uintptr_t)c.r.v[1];
    return r;
}

CUresult RC_API cuArray3DCreate_v2(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    return array_create(GVW_OP_ARRAY3D_CREATE, pHandle, pAllocateArray);
}

CUresult RC_API cuArray3DCreate(CUarray *pHandle, const CUDA_ARRAY3D_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = {.Width = pAllocateArray->Width,
                                 .Height = pAllocateArray->Height,
                                 .Depth = pAllocateArray->Depth,
                                 .Format = pAllocateArray->Format,
                                 .NumChannels = pAllocateArray->NumChannels,
                                 .Flags = pAllocateArray->Flags};
    return array_create(GVW_OP_ARRAY3D_CREATE, pHandle, &d);
}

/* A 2D array, as both ABIs of cuArrayCreate describe it. */
#define ARRAY_2D(src)                                                                              \
    ((CUDA_ARRAY3D_DESCRIPTOR){.Width = (src)->Width,                                              \
                               .Height = (src)->Height,                                            \
                               .Format = (src)->Format,                                            \
                               .NumChannels = (src)->NumChannels})

CUresult RC_API cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = ARRAY_2D(pAllocateArray);
    return array_create(GVW_OP_ARRAY_CREATE, pHandle, &d);
}

CUresult RC_API cuArrayCreate(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR_v1 *pAllocateArray)
{
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    CUDA_ARRAY3D_DESCRIPTOR d = ARRAY_2D(pAllocateArray);
    return array_create(GVW_OP_ARRAY_CREATE, pHandle, &d);
}

/* ARRAY_DESCRIPTOR, ARRAY3D_DESCRIPTOR: {array} -> {descriptor} */
static CUresult array_desc(unsigned op, CUDA_ARRAY3D_DESCRIPTOR *out, CUarray a)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)a);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        struct gvw_rd rd;
        gvw_rd_init(&rd, c.r.p[1], c.r.n[1]);
        gvm_get_array(&rd, out);
        if (!gvw_done(&rd))
            r = CUDA_ERROR_INVALID_VALUE;
    }
    return rc_end(&c, r);
}

CUresult RC_API cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    return array_desc(GVW_OP_ARRAY3D_DESCRIPTOR, pArrayDescriptor, hArray);
}

CUresult RC_API cuArray3DGetDescriptor(CUDA_ARRAY3D_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = array_desc(GVW_OP_ARRAY3D_DESCRIPTOR, &d, hArray);
    if (r == CUDA_SUCCESS)
        *pArrayDescriptor =
            (CUDA_ARRAY3D_DESCRIPTOR_v1){(unsigned)d.Width, (unsigned)d.Height, (unsigned)d.Depth,
                                         d.Format,          d.NumChannels,      d.Flags};
    return r;
}

CUresult RC_API cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR *pArrayDescriptor, CUarray hArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d;
    if (!pArrayDescriptor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = array_desc(GVW_OP_ARRAY_DESCRIPTOR, &d, hArray);
    if (r == CUDA_SUCCESS)
        *pArrayDescriptor = (CUDA_ARRAY_DESCRIPTOR){d.Width, d.Height, d.Format, d.NumChannels};
    return r;
}

CUresult RC_API cuArrayGetDescriptor(CUDA_ARRAY_DESCRIPTOR_v1 *pArrayDescriptor, CUarray hArray)
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

CUresult RC_API cuArrayDestroy(CUarray hArray)
{
    return call_q(GVW_OP_ARRAY_DESTROY, 1, (uint64_t)(uintptr_t)hArray, 0);
}

/* ---- pointer attributes ---- */

/* The bytes the caller's buffer for an attribute holds (the types cuda.h gives each; booleans
 * are one byte); 0 for an attribute this client does not know. */
static size_t attr_bytes(CUpointer_attribute attr)
{
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        return 8;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL:
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        return 4;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_MAPPED:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
        return 1;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS:
        return sizeof(CUDA_POINTER_ATTRIBUTE_P2P_TOKENS);
    }
    return 0;
}

/* An attribute of host memory of ours, answered here. */
static CUresult host_attr(void *data, CUpointer_attribute attr, const struct range *h, uint64_t p)
{
    uint64_t v;
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
        v = h->ctx;
        break;
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
        v = CU_MEMORYTYPE_HOST;
        break;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        v = p;
        break;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        v = h->id;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
        v = h->base;
        break;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
        v = h->size;
        break;
    case CU_POINTER_ATTRIBUTE_MAPPED:
        v = 1;
        break;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
        v = CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE;
        break;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS:
    case CU_POINTER_ATTRIBUTE_IS_MANAGED:
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE:
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
        v = 0;
        break;
    default:
        /* No device pointer, ordinal or tokens: the server's GPU cannot reach it. */
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    size_t n = attr_bytes(attr);
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i)); /* little-endian, as the attribute's type in memory */
    memcpy(data, b, n);
    return CUDA_SUCCESS;
}

CUresult RC_API cuPointerGetAttribute(void *data, CUpointer_attribute attribute, CUdeviceptr ptr)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    size_t n = attr_bytes(attribute);
    if (!data || n == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct range h;
    if (rs_find(&hostmem, ptr, &h))
        return host_attr(data, attribute, &h, ptr);
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POINTER_ATTRIBUTE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)attribute);
    gvw_put_u64(c.b, ptr);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && c.r.n[1] < n)
        r = CUDA_ERROR_INVALID_VALUE;
    if (r == CUDA_SUCCESS)
        memcpy(data, c.r.p[1], n);
    return rc_end(&c, r);
}

/* The most attributes one call asks for (the driver has about twenty). */
#define MAX_ATTRS 64

CUresult RC_API cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes,
                                       void **data, CUdeviceptr ptr)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (numAttributes == 0 || numAttributes > MAX_ATTRS || !attributes || !data)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < numAttributes; i++)
        if (!data[i] || attr_bytes(attributes[i]) == 0)
            return CUDA_ERROR_INVALID_VALUE;
    struct range h;
    if (rs_find(&hostmem, ptr, &h)) {
        for (unsigned i = 0; i < numAttributes; i++) {
            CUresult r = host_attr(data[i], attributes[i], &h, ptr);
            if (r != CUDA_SUCCESS)
                return r;
        }
        return CUDA_SUCCESS;
    }
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_POINTER_ATTRIBUTES);
    if (r != CUDA_SUCCESS)
        return r;
    struct gvw_buf b = {0};
    for (unsigned i = 0; i < numAttributes; i++)
        gvw_put_u32(&b, (uint32_t)attributes[i]);
    gvw_put_bytes(c.b, b.p, b.len);
    gvw_buf_free(&b);
    gvw_put_u64(c.b, ptr);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && c.r.n[1] < (size_t)numAttributes * GVM_ATTR_BYTES)
        r = CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; r == CUDA_SUCCESS && i < numAttributes; i++)
        memcpy(data[i], (const uint8_t *)c.r.p[1] + (size_t)i * GVM_ATTR_BYTES,
               attr_bytes(attributes[i]));
    return rc_end(&c, r);
}
