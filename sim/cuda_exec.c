/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_exec.c: the driver API's copies, memsets, modules and launches, on engine.c's streams.
 *
 * Each call checks its handles and every device pointer (gvsim_ptr_check) before anything is
 * queued, so a bad argument is an error at the call rather than a fault later; then it queues one
 * piece of device work whose effect (the memcpy, the fill) runs when the work reaches the device
 * and whose cost in device time is its bytes at the model's memory bandwidth. Synchronous calls
 * queue on the default stream and wait. Host pointers cannot be checked and are trusted.
 *
 * Modules are text: an image is a NUL-terminated string starting "gvsim-module", and every image
 * holds the built-in kernels spin_ns, fill_u32 and saxpy_f32. Function and kernel handles point
 * into the module that holds them and are checked against the live modules before use.
 *
 * Exported names (cuda_procaddr.c hands these out; the ABI version each matches is checked below
 * against its PFN_ typedef), from this file:
 *   cuMemcpy cuMemcpy_ptds cuMemcpyAsync cuMemcpyAsync_ptsz
 *   cuMemcpyHtoD cuMemcpyHtoD_v2 cuMemcpyHtoD_v2_ptds
 *   cuMemcpyDtoH cuMemcpyDtoH_v2 cuMemcpyDtoH_v2_ptds
 *   cuMemcpyDtoD cuMemcpyDtoD_v2 cuMemcpyDtoD_v2_ptds
 *   cuMemcpyHtoDAsync cuMemcpyHtoDAsync_v2 cuMemcpyHtoDAsync_v2_ptsz
 *   cuMemcpyDtoHAsync cuMemcpyDtoHAsync_v2 cuMemcpyDtoHAsync_v2_ptsz
 *   cuMemcpyDtoDAsync cuMemcpyDtoDAsync_v2 cuMemcpyDtoDAsync_v2_ptsz
 *   cuMemsetD8 cuMemsetD8_v2 cuMemsetD8_v2_ptds
 *   cuMemsetD16 cuMemsetD16_v2 cuMemsetD16_v2_ptds
 *   cuMemsetD32 cuMemsetD32_v2 cuMemsetD32_v2_ptds
 *   cuMemsetD8Async cuMemsetD8Async_ptsz cuMemsetD16Async cuMemsetD16Async_ptsz
 *   cuMemsetD32Async cuMemsetD32Async_ptsz
 *   cuModuleLoadData cuModuleLoadDataEx cuModuleGetFunction cuModuleUnload cuFuncGetParamInfo
 *   cuLibraryLoadData cuLibraryGetKernel cuLibraryUnload cuKernelGetFunction
 *   cuLaunchKernel cuLaunchKernel_ptsz cuLaunchKernelEx cuLaunchKernelEx_ptsz
 *   cuLaunchCooperativeKernel cuLaunchCooperativeKernel_ptsz
 * and from engine.c:
 *   cuStreamCreate cuStreamCreateWithPriority cuStreamDestroy cuStreamDestroy_v2
 *   cuStreamSynchronize cuStreamSynchronize_ptsz cuStreamQuery cuStreamQuery_ptsz
 *   cuStreamWaitEvent cuStreamWaitEvent_ptsz cuStreamGetPriority cuStreamGetPriority_ptsz
 *   cuStreamGetFlags cuStreamGetFlags_ptsz cuStreamGetCtx cuStreamGetCtx_ptsz
 *   cuStreamAddCallback cuStreamAddCallback_ptsz cuLaunchHostFunc cuLaunchHostFunc_ptsz
 *   cuEventCreate cuEventRecord cuEventRecord_ptsz cuEventRecordWithFlags
 *   cuEventRecordWithFlags_ptsz cuEventQuery cuEventSynchronize
 *   cuEventElapsedTime cuEventElapsedTime_v2 cuEventDestroy cuEventDestroy_v2
 * The unsuffixed cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD, their Async forms and cuMemsetD8/16/32
 * are the CUDA 2.x ABI with 32-bit device pointers and sizes; cuStreamDestroy, cuEventDestroy and
 * cuEventElapsedTime are the pre-_v2 names with the same signature. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "sim/sim.h"

#include <cudaTypedefs.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Until cuda_mem.c provides the real check, accept any non-null pointer as host memory. */
__attribute__((weak)) CUresult gvsim_ptr_check(CUdeviceptr ptr, size_t len, int *dev)
{
    (void)len;
    if (dev)
        *dev = -1;
    return ptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

#define IMAGE_MAGIC "gvsim-module"

/* Device time for moving `bytes` on the stream's device. */
static uint64_t bytes_ns(const struct gvsim_stream *s, uint64_t bytes)
{
    const struct gvsim_dev_info *d = gvsim_dev(gvsim_stream_dev(s));
    uint64_t bw =
        d && d->model && d->model->mem_bandwidth ? d->model->mem_bandwidth : 300000000000ull;
    return (uint64_t)((double)bytes * 1e9 / (double)bw);
}

/* The stream for a call: a created stream by handle, or the current context's default stream
 * (the per-thread one for the _ptsz/_ptds entry points). */
static CUresult stream_for(CUstream h, bool per_thread, struct gvsim_stream **out)
{
    struct gvsim_ctx *ctx = NULL;
    bool special = h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD;
    CUresult r = special ? gvsim_current(&ctx) : gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    *out = gvsim_stream_resolve(ctx, h, per_thread);
    return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult submit(struct gvsim_stream *s, bool sync, uint64_t cost, void (*fn)(void *),
                       void *arg)
{
    CUresult r = gvsim_stream_work(s, cost, fn, arg);
    if (r == CUDA_SUCCESS && sync)
        r = gvsim_stream_sync(s);
    return r;
}

/* ------------------------------------------------------------------ copies */

struct copy {
    void *dst;
    const void *src;
    size_t n;
    unsigned char staged[]; /* pageable host source copied at the call, as the driver stages it */
};

static void run_copy(void *p)
{
    struct copy *c = p;
    memmove(c->dst, c->src, c->n);
}

/* Small host-to-device copies are staged at the call, so that the caller may reuse its buffer at
 * once, as with the driver's pageable-memory copies. */
#define STAGE_MAX (1u << 20)

enum side { HOST, DEVICE, ANY };

static CUresult check_side(CUdeviceptr p, size_t n, enum side side)
{
    if (!p)
        return CUDA_ERROR_INVALID_VALUE;
    if (side == HOST)
        return CUDA_SUCCESS;
    int dev;
    CUresult r = gvsim_ptr_check(p, n, &dev);
    /* Unified addressing: a pointer no allocation knows is the program's own host memory. */
    return side == ANY ? CUDA_SUCCESS : r;
}

static CUresult copy(CUdeviceptr dst, enum side dside, CUdeviceptr src, enum side sside, size_t n,
                     CUstream h, bool per_thread, bool sync)
{
    struct gvsim_stream *s;
    CUresult r = stream_for(h, per_thread, &s);
    if (r != CUDA_SUCCESS)
        return r;
    if (!dst || !src)
        return CUDA_ERROR_INVALID_VALUE;
    if (n == 0)
        return CUDA_SUCCESS;
    if ((r = check_side(dst, n, dside)) != CUDA_SUCCESS ||
        (r = check_side(src, n, sside)) != CUDA_SUCCESS)
        return r;
    bool stage = !sync && sside == HOST && n <= STAGE_MAX;
    struct copy *c = malloc(sizeof(*c) + (stage ? n : 0));
    if (!c)
        return CUDA_ERROR_OUT_OF_MEMORY;
    c->dst = (void *)(uintptr_t)dst;
    c->src = (const void *)(uintptr_t)src;
    c->n = n;
    if (stage) {
        memcpy(c->staged, c->src, n);
        c->src = c->staged;
    }
    return submit(s, sync, bytes_ns(s, n), run_copy, c);
}

#define H(p) ((CUdeviceptr)(uintptr_t)(p))

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return copy(dst, ANY, src, ANY, ByteCount, NULL, false, true);
}
GVSIM_ABI(cuMemcpy, PFN_cuMemcpy_v4000);

CUresult cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return copy(dst, ANY, src, ANY, ByteCount, NULL, true, true);
}
GVSIM_ABI(cuMemcpy_ptds, PFN_cuMemcpy_v7000_ptds);

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return copy(dst, ANY, src, ANY, ByteCount, hStream, false, false);
}
GVSIM_ABI(cuMemcpyAsync, PFN_cuMemcpyAsync_v4000);

CUresult cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return copy(dst, ANY, src, ANY, ByteCount, hStream, true, false);
}
GVSIM_ABI(cuMemcpyAsync_ptsz, PFN_cuMemcpyAsync_v7000_ptsz);

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return copy(dstDevice, DEVICE, H(srcHost), HOST, ByteCount, NULL, false, true);
}
GVSIM_ABI(cuMemcpyHtoD_v2, PFN_cuMemcpyHtoD_v3020);

CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return copy(dstDevice, DEVICE, H(srcHost), HOST, ByteCount, NULL, true, true);
}
GVSIM_ABI(cuMemcpyHtoD_v2_ptds, PFN_cuMemcpyHtoD_v7000_ptds);

CUresult cuMemcpyHtoD(CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount)
{
    return cuMemcpyHtoD_v2(dstDevice, srcHost, ByteCount);
}
GVSIM_ABI(cuMemcpyHtoD, PFN_cuMemcpyHtoD_v2000);

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy(H(dstHost), HOST, srcDevice, DEVICE, ByteCount, NULL, false, true);
}
GVSIM_ABI(cuMemcpyDtoH_v2, PFN_cuMemcpyDtoH_v3020);

CUresult cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy(H(dstHost), HOST, srcDevice, DEVICE, ByteCount, NULL, true, true);
}
GVSIM_ABI(cuMemcpyDtoH_v2_ptds, PFN_cuMemcpyDtoH_v7000_ptds);

CUresult cuMemcpyDtoH(void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount)
{
    return cuMemcpyDtoH_v2(dstHost, srcDevice, ByteCount);
}
GVSIM_ABI(cuMemcpyDtoH, PFN_cuMemcpyDtoH_v2000);

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy(dstDevice, DEVICE, srcDevice, DEVICE, ByteCount, NULL, false, true);
}
GVSIM_ABI(cuMemcpyDtoD_v2, PFN_cuMemcpyDtoD_v3020);

CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return copy(dstDevice, DEVICE, srcDevice, DEVICE, ByteCount, NULL, true, true);
}
GVSIM_ABI(cuMemcpyDtoD_v2_ptds, PFN_cuMemcpyDtoD_v7000_ptds);

CUresult cuMemcpyDtoD(CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice, unsigned int ByteCount)
{
    return cuMemcpyDtoD_v2(dstDevice, srcDevice, ByteCount);
}
GVSIM_ABI(cuMemcpyDtoD, PFN_cuMemcpyDtoD_v2000);

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                              CUstream hStream)
{
    return copy(dstDevice, DEVICE, H(srcHost), HOST, ByteCount, hStream, false, false);
}
GVSIM_ABI(cuMemcpyHtoDAsync_v2, PFN_cuMemcpyHtoDAsync_v3020);

CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                   CUstream hStream)
{
    return copy(dstDevice, DEVICE, H(srcHost), HOST, ByteCount, hStream, true, false);
}
GVSIM_ABI(cuMemcpyHtoDAsync_v2_ptsz, PFN_cuMemcpyHtoDAsync_v7000_ptsz);

CUresult cuMemcpyHtoDAsync(CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount,
                           CUstream hStream)
{
    return cuMemcpyHtoDAsync_v2(dstDevice, srcHost, ByteCount, hStream);
}
GVSIM_ABI(cuMemcpyHtoDAsync, PFN_cuMemcpyHtoDAsync_v2000);

CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                              CUstream hStream)
{
    return copy(H(dstHost), HOST, srcDevice, DEVICE, ByteCount, hStream, false, false);
}
GVSIM_ABI(cuMemcpyDtoHAsync_v2, PFN_cuMemcpyDtoHAsync_v3020);

CUresult cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                   CUstream hStream)
{
    return copy(H(dstHost), HOST, srcDevice, DEVICE, ByteCount, hStream, true, false);
}
GVSIM_ABI(cuMemcpyDtoHAsync_v2_ptsz, PFN_cuMemcpyDtoHAsync_v7000_ptsz);

CUresult cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount,
                           CUstream hStream)
{
    return cuMemcpyDtoHAsync_v2(dstHost, srcDevice, ByteCount, hStream);
}
GVSIM_ABI(cuMemcpyDtoHAsync, PFN_cuMemcpyDtoHAsync_v2000);

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                              CUstream hStream)
{
    return copy(dstDevice, DEVICE, srcDevice, DEVICE, ByteCount, hStream, false, false);
}
GVSIM_ABI(cuMemcpyDtoDAsync_v2, PFN_cuMemcpyDtoDAsync_v3020);

CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                   CUstream hStream)
{
    return copy(dstDevice, DEVICE, srcDevice, DEVICE, ByteCount, hStream, true, false);
}
GVSIM_ABI(cuMemcpyDtoDAsync_v2_ptsz, PFN_cuMemcpyDtoDAsync_v7000_ptsz);

CUresult cuMemcpyDtoDAsync(CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice,
                           unsigned int ByteCount, CUstream hStream)
{
    return cuMemcpyDtoDAsync_v2(dstDevice, srcDevice, ByteCount, hStream);
}
GVSIM_ABI(cuMemcpyDtoDAsync, PFN_cuMemcpyDtoDAsync_v3000);

/* ------------------------------------------------------------------ memsets */

struct fill {
    void *dst;
    uint32_t value;
    unsigned elem; /* 1, 2 or 4 bytes */
    size_t count;
};

static void run_fill(void *p)
{
    struct fill *f = p;
    if (f->elem == 1) {
        memset(f->dst, (int)(f->value & 0xff), f->count);
    } else if (f->elem == 2) {
        uint16_t *d = f->dst;
        for (size_t i = 0; i < f->count; i++)
            d[i] = (uint16_t)f->value;
    } else {
        uint32_t *d = f->dst;
        for (size_t i = 0; i < f->count; i++)
            d[i] = f->value;
    }
}

static CUresult memset_any(CUdeviceptr dst, uint32_t value, unsigned elem, size_t count, CUstream h,
                           bool per_thread, bool sync)
{
    struct gvsim_stream *s;
    CUresult r = stream_for(h, per_thread, &s);
    if (r != CUDA_SUCCESS)
        return r;
    if (!dst || dst % elem)
        return CUDA_ERROR_INVALID_VALUE;
    if (count == 0)
        return CUDA_SUCCESS;
    if (count > SIZE_MAX / elem)
        return CUDA_ERROR_INVALID_VALUE;
    int dev;
    r = gvsim_ptr_check(dst, count * elem, &dev);
    if (r != CUDA_SUCCESS)
        return r;
    struct fill *f = malloc(sizeof(*f));
    if (!f)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *f = (struct fill){(void *)(uintptr_t)dst, value, elem, count};
    return submit(s, sync, bytes_ns(s, (uint64_t)count * elem), run_fill, f);
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_any(dstDevice, uc, 1, N, NULL, false, true);
}
GVSIM_ABI(cuMemsetD8_v2, PFN_cuMemsetD8_v3020);

CUresult cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return memset_any(dstDevice, uc, 1, N, NULL, true, true);
}
GVSIM_ABI(cuMemsetD8_v2_ptds, PFN_cuMemsetD8_v7000_ptds);

CUresult cuMemsetD8(CUdeviceptr_v1 dstDevice, unsigned char uc, unsigned int N)
{
    return cuMemsetD8_v2(dstDevice, uc, N);
}
GVSIM_ABI(cuMemsetD8, PFN_cuMemsetD8_v2000);

CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_any(dstDevice, us, 2, N, NULL, false, true);
}
GVSIM_ABI(cuMemsetD16_v2, PFN_cuMemsetD16_v3020);

CUresult cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return memset_any(dstDevice, us, 2, N, NULL, true, true);
}
GVSIM_ABI(cuMemsetD16_v2_ptds, PFN_cuMemsetD16_v7000_ptds);

CUresult cuMemsetD16(CUdeviceptr_v1 dstDevice, unsigned short us, unsigned int N)
{
    return cuMemsetD16_v2(dstDevice, us, N);
}
GVSIM_ABI(cuMemsetD16, PFN_cuMemsetD16_v2000);

CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_any(dstDevice, ui, 4, N, NULL, false, true);
}
GVSIM_ABI(cuMemsetD32_v2, PFN_cuMemsetD32_v3020);

CUresult cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return memset_any(dstDevice, ui, 4, N, NULL, true, true);
}
GVSIM_ABI(cuMemsetD32_v2_ptds, PFN_cuMemsetD32_v7000_ptds);

CUresult cuMemsetD32(CUdeviceptr_v1 dstDevice, unsigned int ui, unsigned int N)
{
    return cuMemsetD32_v2(dstDevice, ui, N);
}
GVSIM_ABI(cuMemsetD32, PFN_cuMemsetD32_v2000);

CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, uc, 1, N, hStream, false, false);
}
GVSIM_ABI(cuMemsetD8Async, PFN_cuMemsetD8Async_v3020);

CUresult cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, uc, 1, N, hStream, true, false);
}
GVSIM_ABI(cuMemsetD8Async_ptsz, PFN_cuMemsetD8Async_v7000_ptsz);

CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, us, 2, N, hStream, false, false);
}
GVSIM_ABI(cuMemsetD16Async, PFN_cuMemsetD16Async_v3020);

CUresult cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, us, 2, N, hStream, true, false);
}
GVSIM_ABI(cuMemsetD16Async_ptsz, PFN_cuMemsetD16Async_v7000_ptsz);

CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, ui, 4, N, hStream, false, false);
}
GVSIM_ABI(cuMemsetD32Async, PFN_cuMemsetD32Async_v3020);

CUresult cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return memset_any(dstDevice, ui, 4, N, hStream, true, false);
}
GVSIM_ABI(cuMemsetD32Async_ptsz, PFN_cuMemsetD32Async_v7000_ptsz);

/* ------------------------------------------------------------------ modules and libraries */

enum kernel_id { K_SPIN, K_FILL, K_SAXPY, K_COUNT };

static const char *const kernel_names[K_COUNT] = {"spin_ns", "fill_u32", "saxpy_f32"};

/* A function (or, for a library, a kernel) handle points at one of these inside its module. */
struct func {
    struct module *mod;
    enum kernel_id id;
};

/* A loaded module or library. Modules and libraries share the shape: a library's kernels are
 * context-independent, which costs nothing here because kernels carry no per-context state. */
struct module {
    struct module *next;
    bool library;
    struct func fn[K_COUNT];
};

static pthread_mutex_t mod_mu = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules;

static CUresult image_check(const void *image)
{
    if (!image)
        return CUDA_ERROR_INVALID_VALUE;
    /* strncmp stops at the first difference, so a short image is never read past its NUL. */
    return strncmp(image, IMAGE_MAGIC, strlen(IMAGE_MAGIC)) == 0 ? CUDA_SUCCESS
                                                                 : CUDA_ERROR_INVALID_IMAGE;
}

static CUresult module_new(bool library, struct module **out)
{
    struct module *m = calloc(1, sizeof(*m));
    if (!m)
        return CUDA_ERROR_OUT_OF_MEMORY;
    m->library = library;
    for (int i = 0; i < K_COUNT; i++)
        m->fn[i] = (struct func){m, (enum kernel_id)i};
    pthread_mutex_lock(&mod_mu);
    m->next = modules;
    modules = m;
    pthread_mutex_unlock(&mod_mu);
    *out = m;
    return CUDA_SUCCESS;
}

/* Caller holds mod_mu. */
static struct module *find_module(const void *h, bool library)
{
    for (struct module *m = modules; m; m = m->next)
        if ((const void *)m == h && m->library == library)
            return m;
    return NULL;
}

/* Caller holds mod_mu. Accepts a module's function or a library's kernel, as cuLaunchKernel does.
 */
static const struct func *find_func(const void *h)
{
    for (struct module *m = modules; m; m = m->next)
        for (int i = 0; i < K_COUNT; i++)
            if ((const void *)&m->fn[i] == h)
                return &m->fn[i];
    return NULL;
}

static CUresult module_unload(const void *h, bool library)
{
    pthread_mutex_lock(&mod_mu);
    struct module *m = find_module(h, library);
    if (m)
        for (struct module **p = &modules; *p; p = &(*p)->next)
            if (*p == m) {
                *p = m->next;
                break;
            }
    pthread_mutex_unlock(&mod_mu);
    free(m);
    return m ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult get_func(const void *h, const char *name, bool library, void **out)
{
    if (!out || !name)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = CUDA_ERROR_INVALID_HANDLE;
    pthread_mutex_lock(&mod_mu);
    struct module *m = find_module(h, library);
    if (m) {
        r = CUDA_ERROR_NOT_FOUND;
        for (int i = 0; i < K_COUNT; i++)
            if (strcmp(name, kernel_names[i]) == 0) {
                *out = &m->fn[i];
                r = CUDA_SUCCESS;
            }
    }
    pthread_mutex_unlock(&mod_mu);
    return r;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
    if (!module)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_ctx *ctx;
    CUresult r = gvsim_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if ((r = image_check(image)) != CUDA_SUCCESS)
        return r;
    struct module *m;
    if ((r = module_new(false, &m)) == CUDA_SUCCESS)
        *module = (CUmodule)m;
    return r;
}
GVSIM_ABI(cuModuleLoadData, PFN_cuModuleLoadData_v2000);

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                            CUjit_option *options, void **optionValues)
{
    if (numOptions && (!options || !optionValues))
        return CUDA_ERROR_INVALID_VALUE;
    return cuModuleLoadData(module, image);
}
GVSIM_ABI(cuModuleLoadDataEx, PFN_cuModuleLoadDataEx_v2010);

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    CUresult r = gvsim_init_check();
    return r == CUDA_SUCCESS ? get_func(hmod, name, false, (void **)hfunc) : r;
}
GVSIM_ABI(cuModuleGetFunction, PFN_cuModuleGetFunction_v2000);

CUresult cuModuleUnload(CUmodule hmod)
{
    CUresult r = gvsim_init_check();
    return r == CUDA_SUCCESS ? module_unload(hmod, false) : r;
}
GVSIM_ABI(cuModuleUnload, PFN_cuModuleUnload_v2000);

CUresult cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                           void **jitOptionsValues, unsigned int numJitOptions,
                           CUlibraryOption *libraryOptions, void **libraryOptionValues,
                           unsigned int numLibraryOptions)
{
    if (!library)
        return CUDA_ERROR_INVALID_VALUE;
    if ((numJitOptions && (!jitOptions || !jitOptionsValues)) ||
        (numLibraryOptions && (!libraryOptions || !libraryOptionValues)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if ((r = image_check(code)) != CUDA_SUCCESS)
        return r;
    struct module *m;
    if ((r = module_new(true, &m)) == CUDA_SUCCESS)
        *library = (CUlibrary)m;
    return r;
}
GVSIM_ABI(cuLibraryLoadData, PFN_cuLibraryLoadData_v12000);

CUresult cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    CUresult r = gvsim_init_check();
    return r == CUDA_SUCCESS ? get_func(library, name, true, (void **)pKernel) : r;
}
GVSIM_ABI(cuLibraryGetKernel, PFN_cuLibraryGetKernel_v12000);

CUresult cuLibraryUnload(CUlibrary library)
{
    CUresult r = gvsim_init_check();
    return r == CUDA_SUCCESS ? module_unload(library, true) : r;
}
GVSIM_ABI(cuLibraryUnload, PFN_cuLibraryUnload_v12000);

CUresult cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    if (!pFunc)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_ctx *ctx;
    CUresult r = gvsim_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mod_mu);
    const struct func *f = find_func(kernel);
    bool ok = f && f->mod->library;
    pthread_mutex_unlock(&mod_mu);
    if (!ok)
        return CUDA_ERROR_INVALID_HANDLE;
    *pFunc = (CUfunction)kernel;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuKernelGetFunction, PFN_cuKernelGetFunction_v12000);

/* ------------------------------------------------------------------ launches */

/* Kernel parameters, in the order and at the offsets a compiler would lay them out in the `extra`
 * buffer (each at its natural alignment). */
enum ptype { P_U64, P_U32, P_F32, P_PTR };
struct param {
    enum ptype type;
    size_t offset;
};
static const struct param kernel_params[K_COUNT][4] = {
    [K_SPIN] = {{P_U64, 0}},
    [K_FILL] = {{P_PTR, 0}, {P_U32, 8}, {P_U64, 16}},
    [K_SAXPY] = {{P_F32, 0}, {P_PTR, 8}, {P_PTR, 16}, {P_U64, 24}},
};
static const int kernel_nparams[K_COUNT] = {1, 3, 4};
static const size_t kernel_argbytes[K_COUNT] = {8, 24, 32};

union pval {
    uint64_t u64;
    uint32_t u32;
    float f32;
    CUdeviceptr ptr;
};

static size_t psize(enum ptype t)
{
    return t == P_U32 || t == P_F32 ? 4 : 8;
}

static CUresult read_params(enum kernel_id id, void **kernelParams, void **extra, union pval *v)
{
    if (kernelParams && extra)
        return CUDA_ERROR_INVALID_VALUE;
    const unsigned char *buf = NULL;
    size_t size = 0;
    bool have_size = false;
    if (extra) {
        for (int i = 0; i < 64; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_END)
                break;
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                buf = extra[i + 1];
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                if (!extra[i + 1])
                    return CUDA_ERROR_INVALID_VALUE;
                size = *(const size_t *)extra[i + 1];
                have_size = true;
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (!buf || !have_size || size < kernel_argbytes[id])
            return CUDA_ERROR_INVALID_VALUE;
    } else if (!kernelParams) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 0; i < kernel_nparams[id]; i++) {
        const struct param *p = &kernel_params[id][i];
        const void *src = buf ? buf + p->offset : kernelParams[i];
        if (!src)
            return CUDA_ERROR_INVALID_VALUE;
        memset(&v[i], 0, sizeof(v[i]));
        memcpy(&v[i], src, psize(p->type));
    }
    return CUDA_SUCCESS;
}

struct fill_kernel {
    uint32_t *dst;
    uint32_t value;
    uint64_t count;
};

static void run_fill_kernel(void *p)
{
    struct fill_kernel *k = p;
    for (uint64_t i = 0; i < k->count; i++)
        k->dst[i] = k->value;
}

struct saxpy {
    float a;
    const float *x;
    float *y;
    uint64_t n;
};

static void run_saxpy(void *p)
{
    struct saxpy *k = p;
    for (uint64_t i = 0; i < k->n; i++)
        k->y[i] = k->a * k->x[i] + k->y[i];
}

/* Where parameter paramIndex of a function lies in the packed buffer, and its size. */
CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                            size_t *paramSize)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!paramOffset || !paramSize)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mod_mu);
    const struct func *fn = find_func(func);
    enum kernel_id id = fn ? fn->id : K_COUNT;
    pthread_mutex_unlock(&mod_mu);
    if (id == K_COUNT)
        return CUDA_ERROR_INVALID_HANDLE;
    if (paramIndex >= (size_t)kernel_nparams[id])
        return CUDA_ERROR_INVALID_VALUE;
    *paramOffset = kernel_params[id][paramIndex].offset;
    *paramSize = psize(kernel_params[id][paramIndex].type);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuFuncGetParamInfo, PFN_cuFuncGetParamInfo_v12040);

static CUresult launch(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                       unsigned by, unsigned bz, CUstream h, void **kernelParams, void **extra,
                       bool per_thread)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mod_mu);
    const struct func *fn = find_func(f);
    enum kernel_id id = fn ? fn->id : K_COUNT;
    pthread_mutex_unlock(&mod_mu);
    if (id == K_COUNT)
        return CUDA_ERROR_INVALID_HANDLE;
    if (!gx || !gy || !gz || !bx || !by || !bz || bx > 1024 || by > 1024 || bz > 64 ||
        (uint64_t)bx * by * bz > 1024 || gy > 65535 || gz > 65535)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_stream *s;
    if ((r = stream_for(h, per_thread, &s)) != CUDA_SUCCESS)
        return r;
    union pval v[4];
    if ((r = read_params(id, kernelParams, extra, v)) != CUDA_SUCCESS)
        return r;
    int dev;
    switch (id) {
    case K_SPIN:
        return submit(s, false, v[0].u64, NULL, NULL);
    case K_FILL: {
        if (v[2].u64 > SIZE_MAX / 4)
            return CUDA_ERROR_INVALID_VALUE;
        if (v[2].u64 && (r = gvsim_ptr_check(v[0].ptr, v[2].u64 * 4, &dev)) != CUDA_SUCCESS)
            return r;
        struct fill_kernel *k = malloc(sizeof(*k));
        if (!k)
            return CUDA_ERROR_OUT_OF_MEMORY;
        *k = (struct fill_kernel){(uint32_t *)(uintptr_t)v[0].ptr, v[1].u32, v[2].u64};
        return submit(s, false, bytes_ns(s, v[2].u64 * 4), run_fill_kernel, k);
    }
    case K_SAXPY: {
        uint64_t n = v[3].u64;
        if (n > SIZE_MAX / 12)
            return CUDA_ERROR_INVALID_VALUE;
        if (n && ((r = gvsim_ptr_check(v[1].ptr, n * 4, &dev)) != CUDA_SUCCESS ||
                  (r = gvsim_ptr_check(v[2].ptr, n * 4, &dev)) != CUDA_SUCCESS))
            return r;
        struct saxpy *k = malloc(sizeof(*k));
        if (!k)
            return CUDA_ERROR_OUT_OF_MEMORY;
        *k = (struct saxpy){v[0].f32, (const float *)(uintptr_t)v[1].ptr,
                            (float *)(uintptr_t)v[2].ptr, n};
        /* Reads x and y, writes y. */
        return submit(s, false, bytes_ns(s, n * 12), run_saxpy, k);
    }
    case K_COUNT:
        break;
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                        unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                        unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                        void **kernelParams, void **extra)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, extra, false);
}
GVSIM_ABI(cuLaunchKernel, PFN_cuLaunchKernel_v4000);

CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                             unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                             unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                             void **kernelParams, void **extra)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, extra, true);
}
GVSIM_ABI(cuLaunchKernel_ptsz, PFN_cuLaunchKernel_v7000_ptsz);

static CUresult launch_ex(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                          void **extra, bool per_thread)
{
    if (!config || (config->numAttrs && !config->attrs))
        return CUDA_ERROR_INVALID_VALUE;
    return launch(f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                  config->blockDimY, config->blockDimZ, config->hStream, kernelParams, extra,
                  per_thread);
}

CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                          void **extra)
{
    return launch_ex(config, f, kernelParams, extra, false);
}
GVSIM_ABI(cuLaunchKernelEx, PFN_cuLaunchKernelEx_v11060);

CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                               void **extra)
{
    return launch_ex(config, f, kernelParams, extra, true);
}
GVSIM_ABI(cuLaunchKernelEx_ptsz, PFN_cuLaunchKernelEx_v11060_ptsz);

CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                   unsigned int gridDimZ, unsigned int blockDimX,
                                   unsigned int blockDimY, unsigned int blockDimZ,
                                   unsigned int sharedMemBytes, CUstream hStream,
                                   void **kernelParams)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, NULL, false);
}
GVSIM_ABI(cuLaunchCooperativeKernel, PFN_cuLaunchCooperativeKernel_v9000);

CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX,
                                        unsigned int blockDimY, unsigned int blockDimZ,
                                        unsigned int sharedMemBytes, CUstream hStream,
                                        void **kernelParams)
{
    (void)sharedMemBytes;
    return launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, hStream,
                  kernelParams, NULL, true);
}
GVSIM_ABI(cuLaunchCooperativeKernel_ptsz, PFN_cuLaunchCooperativeKernel_v9000_ptsz);
