/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_module.c: modules, libraries, functions and launches.
 *
 * A module's image is sent whole; its size is read from the image itself (an ELF cubin's headers,
 * a fat binary's header, or a text image's terminator). A function's parameter layout comes back
 * with the function (or the library's kernel), so that a launch packs its kernelParams into one
 * buffer; launches are queued without a reply. So that a bad launch is still refused at the call,
 * the client checks what it can know: the function and stream are ones this process holds, the
 * grid and block are within the limits every CUDA device has, and the parameters are all there.
 * What only the device can judge (the parameters' values) fails the next synchronizing call.
 *
 * JIT and library options are not sent: the server loads the image as it is. */
#include "remote/client/exec.h"

#include <elf.h>
#include <stdlib.h>
#include <string.h>

/* The largest image the client sends. */
#define MAX_IMAGE    (1ull << 30)
#define FATBIN_MAGIC 0xba55ed50u

/* The bytes of an image, or 0 when its kind is unknown. */
static size_t image_size(const void *image)
{
    const unsigned char *p = image;
    if (memcmp(p, ELFMAG, SELFMAG) == 0 && p[EI_CLASS] == ELFCLASS64) {
        Elf64_Ehdr eh;
        memcpy(&eh, p, sizeof(eh));
        uint64_t end = eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize;
        uint64_t ph = eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize;
        if (ph > end)
            end = ph;
        for (unsigned i = 0; i < eh.e_shnum && eh.e_shentsize >= sizeof(Elf64_Shdr); i++) {
            Elf64_Shdr sh;
            memcpy(&sh, p + eh.e_shoff + (uint64_t)i * eh.e_shentsize, sizeof(sh));
            if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > end)
                end = sh.sh_offset + sh.sh_size;
        }
        return end <= MAX_IMAGE ? (size_t)end : 0;
    }
    uint32_t magic;
    memcpy(&magic, p, sizeof(magic));
    if (magic == FATBIN_MAGIC) {
        uint16_t hsize;
        uint64_t fsize;
        memcpy(&hsize, p + 6, sizeof(hsize));
        memcpy(&fsize, p + 8, sizeof(fsize));
        uint64_t end = hsize + fsize;
        return end <= MAX_IMAGE ? (size_t)end : 0;
    }
    /* Text (PTX, or the simulator's images): up to and with its terminator. */
    size_t n = strnlen(image, MAX_IMAGE);
    return n < MAX_IMAGE ? n + 1 : 0;
}

#define NEED_INIT()                                                                                \
    do {                                                                                           \
        if (!rc_initialized())                                                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
    } while (0)

/* Send an image (MODULE_LOAD or LIBRARY_LOAD) in context ctx; the new handle in *h. */
static CUresult load(unsigned op, uint64_t ctx, const void *image, uint64_t *h)
{
    size_t n = image_size(image);
    if (!n)
        return CUDA_ERROR_INVALID_IMAGE;
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, op, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, n);
    r = rc_send_bulk(&c, image, n, true);
    if (r == CUDA_SUCCESS)
        *h = c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuModuleLoadData(CUmodule *module, const void *image)
{
    if (!module)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t ctx, h = 0;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if (!image)
        return CUDA_ERROR_INVALID_VALUE;
    r = load(GVW_OP_MODULE_LOAD, ctx, image, &h);
    if (r != CUDA_SUCCESS)
        return r;
    /* A module belongs to its context, and goes with it. */
    if (!rco_add(RCO_MODULE, h, ctx))
        return CUDA_ERROR_OUT_OF_MEMORY;
    *module = (CUmodule)(uintptr_t)h;
    return CUDA_SUCCESS;
}

CUresult RC_API cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
                                   CUjit_option *options, void **optionValues)
{
    if (numOptions && (!options || !optionValues))
        return CUDA_ERROR_INVALID_VALUE;
    return cuModuleLoadData(module, image);
}

/* A call on one handle, with an optional name, answering a handle and a layout (NULL: none). */
static CUresult get(unsigned op, uint64_t ctx, uint64_t h, const char *name, uint64_t *out,
                    enum rco_kind kind, uint64_t owner)
{
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, op, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, h);
    if (name)
        gvw_put_bytes(c.b, name, strlen(name));
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        *out = c.r.v[1];
        if (!rco_add(kind, *out, owner))
            r = CUDA_ERROR_OUT_OF_MEMORY;
        else
            rco_set_layout(kind, *out, c.r.p[2], c.r.n[2]);
    }
    return rc_end(&c, r);
}

CUresult RC_API cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
    NEED_INIT();
    if (!hfunc || !name)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t m = (uint64_t)(uintptr_t)hmod, f = 0;
    if (!rco_has(RCO_MODULE, m))
        return CUDA_ERROR_INVALID_HANDLE;
    if (strnlen(name, GVW_MAX_TEXT + 1) > GVW_MAX_TEXT)
        return CUDA_ERROR_NOT_FOUND;
    CUresult r = get(GVW_OP_MODULE_GET_FUNCTION, rcx_ctx_or_none(), m, name, &f, RCO_FUNCTION, m);
    if (r == CUDA_SUCCESS)
        *hfunc = (CUfunction)(uintptr_t)f;
    return r;
}

/* Unload a module or library: it forgets its functions or kernels too. */
static CUresult unload(unsigned op, enum rco_kind kind, uint64_t h)
{
    NEED_INIT();
    if (!rco_has(kind, h))
        return CUDA_ERROR_INVALID_HANDLE;
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, op, rcx_ctx_or_none());
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, h);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        rco_del(kind, h);
    return r;
}

CUresult RC_API cuModuleUnload(CUmodule hmod)
{
    return unload(GVW_OP_MODULE_UNLOAD, RCO_MODULE, (uint64_t)(uintptr_t)hmod);
}

/* ---- libraries: context-independent modules ---- */

CUresult RC_API cuLibraryLoadData(CUlibrary *library, const void *code, CUjit_option *jitOptions,
                                  void **jitOptionsValues, unsigned int numJitOptions,
                                  CUlibraryOption *libraryOptions, void **libraryOptionValues,
                                  unsigned int numLibraryOptions)
{
    if (!library)
        return CUDA_ERROR_INVALID_VALUE;
    if ((numJitOptions && (!jitOptions || !jitOptionsValues)) ||
        (numLibraryOptions && (!libraryOptions || !libraryOptionValues)))
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    if (!code)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t h = 0;
    CUresult r = load(GVW_OP_LIBRARY_LOAD, rcx_ctx_or_none(), code, &h);
    if (r != CUDA_SUCCESS)
        return r;
    if (!rco_add(RCO_LIBRARY, h, 0))
        return CUDA_ERROR_OUT_OF_MEMORY;
    *library = (CUlibrary)(uintptr_t)h;
    return CUDA_SUCCESS;
}

CUresult RC_API cuLibraryGetKernel(CUkernel *pKernel, CUlibrary library, const char *name)
{
    NEED_INIT();
    if (!pKernel || !name)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t l = (uint64_t)(uintptr_t)library, k = 0;
    if (!rco_has(RCO_LIBRARY, l))
        return CUDA_ERROR_INVALID_HANDLE;
    if (strnlen(name, GVW_MAX_TEXT + 1) > GVW_MAX_TEXT)
        return CUDA_ERROR_NOT_FOUND;
    CUresult r = get(GVW_OP_LIBRARY_GET_KERNEL, rcx_ctx_or_none(), l, name, &k, RCO_KERNEL, l);
    if (r == CUDA_SUCCESS)
        *pKernel = (CUkernel)(uintptr_t)k;
    return r;
}

/* The kernel's function in the current context. */
CUresult RC_API cuKernelGetFunction(CUfunction *pFunc, CUkernel kernel)
{
    if (!pFunc)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t ctx, k = (uint64_t)(uintptr_t)kernel, f = 0;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if (!rco_has(RCO_KERNEL, k))
        return CUDA_ERROR_INVALID_HANDLE;
    r = get(GVW_OP_KERNEL_GET_FUNCTION, ctx, k, NULL, &f, RCO_FUNCTION, k);
    if (r == CUDA_SUCCESS)
        *pFunc = (CUfunction)(uintptr_t)f;
    return r;
}

CUresult RC_API cuLibraryUnload(CUlibrary library)
{
    return unload(GVW_OP_LIBRARY_UNLOAD, RCO_LIBRARY, (uint64_t)(uintptr_t)library);
}

/* Answered from the layout the server sent with the function. */
CUresult RC_API cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
                                   size_t *paramSize)
{
    NEED_INIT();
    if (!paramOffset || !paramSize)
        return CUDA_ERROR_INVALID_VALUE;
    return rco_param_info((uint64_t)(uintptr_t)func, paramIndex, paramOffset, paramSize);
}

/* ---- launches ---- */

/* The most launch attributes one launch sends. */
#define MAX_ATTRS 64

/* What every CUDA device refuses: empty dimensions, more than 1024 threads a block, block z over
 * 64, grid y or z over 65535. */
static bool dims_ok(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz)
{
    return gx && gy && gz && bx && by && bz && bx <= 1024 && by <= 1024 && bz <= 64 &&
           (uint64_t)bx * by * bz <= 1024 && gy <= 65535 && gz <= 65535;
}

struct launch {
    CUfunction f;
    unsigned g[3], b[3], shmem;
    CUstream st;
    bool per_thread;
    unsigned kind; /* 0 a launch, 1 a cooperative launch */
    void **params, **extra;
    const CUlaunchAttribute *attrs;
    unsigned nattrs;
};

static CUresult launch(const struct launch *l)
{
    NEED_INIT();
    uint64_t f = (uint64_t)(uintptr_t)l->f;
    if (!rco_launchable(f))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!dims_ok(l->g[0], l->g[1], l->g[2], l->b[0], l->b[1], l->b[2]))
        return CUDA_ERROR_INVALID_VALUE;
    if (l->nattrs > MAX_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < l->nattrs; i++) {
        const CUlaunchAttribute *at = &l->attrs[i];
        if ((at->id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT &&
             !rco_has(RCO_EVENT, (uint64_t)(uintptr_t)at->value.programmaticEvent.event)) ||
            (at->id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT &&
             !rco_has(RCO_EVENT, (uint64_t)(uintptr_t)at->value.launchCompletionEvent.event)))
            return CUDA_ERROR_INVALID_HANDLE;
        /* Graphs are not served remotely. */
        if (at->id == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE)
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    uint64_t wire, ctx;
    CUresult r = rcx_stream(l->st, l->per_thread, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    const void *buf;
    size_t len;
    bool owned;
    r = rc_pack_params(f, l->params, l->extra, &buf, &len, &owned);
    if (r != CUDA_SUCCESS)
        return r;
    struct rc_call c;
    r = rc_begin_ctx(&c, GVW_OP_LAUNCH, ctx);
    if (r == CUDA_SUCCESS) {
        gvw_put_u64(c.b, f);
        for (int i = 0; i < 3; i++)
            gvw_put_u32(c.b, l->g[i]);
        for (int i = 0; i < 3; i++)
            gvw_put_u32(c.b, l->b[i]);
        gvw_put_u32(c.b, l->shmem);
        gvw_put_u64(c.b, wire);
        gvw_put_u32(c.b, l->kind);
        gvw_put_bytes(c.b, buf, len);
        gvw_put_bytes(c.b, l->attrs, (size_t)l->nattrs * sizeof(CUlaunchAttribute));
        r = rc_end(&c, rc_post(&c));
    }
    if (owned)
        free((void *)buf);
    return r;
}

CUresult RC_API cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX,
                               unsigned int blockDimY, unsigned int blockDimZ,
                               unsigned int sharedMemBytes, CUstream hStream, void **kernelParams,
                               void **extra)
{
    struct launch l = {.f = f,
                       .g = {gridDimX, gridDimY, gridDimZ},
                       .b = {blockDimX, blockDimY, blockDimZ},
                       .shmem = sharedMemBytes,
                       .st = hStream,
                       .params = kernelParams,
                       .extra = extra};
    return launch(&l);
}

CUresult RC_API cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                    unsigned int gridDimZ, unsigned int blockDimX,
                                    unsigned int blockDimY, unsigned int blockDimZ,
                                    unsigned int sharedMemBytes, CUstream hStream,
                                    void **kernelParams, void **extra)
{
    struct launch l = {.f = f,
                       .g = {gridDimX, gridDimY, gridDimZ},
                       .b = {blockDimX, blockDimY, blockDimZ},
                       .shmem = sharedMemBytes,
                       .st = hStream,
                       .per_thread = true,
                       .params = kernelParams,
                       .extra = extra};
    return launch(&l);
}

static CUresult launch_ex(const CUlaunchConfig *cfg, CUfunction f, void **kernelParams,
                          void **extra, bool pt)
{
    if (!cfg || (cfg->numAttrs && !cfg->attrs))
        return CUDA_ERROR_INVALID_VALUE;
    struct launch l = {.f = f,
                       .g = {cfg->gridDimX, cfg->gridDimY, cfg->gridDimZ},
                       .b = {cfg->blockDimX, cfg->blockDimY, cfg->blockDimZ},
                       .shmem = cfg->sharedMemBytes,
                       .st = cfg->hStream,
                       .per_thread = pt,
                       .params = kernelParams,
                       .extra = extra,
                       .attrs = cfg->attrs,
                       .nattrs = cfg->numAttrs};
    return launch(&l);
}

CUresult RC_API cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams,
                                 void **extra)
{
    return launch_ex(config, f, kernelParams, extra, false);
}

CUresult RC_API cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                      void **kernelParams, void **extra)
{
    return launch_ex(config, f, kernelParams, extra, true);
}

CUresult RC_API cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                          unsigned int gridDimY, unsigned int gridDimZ,
                                          unsigned int blockDimX, unsigned int blockDimY,
                                          unsigned int blockDimZ, unsigned int sharedMemBytes,
                                          CUstream hStream, void **kernelParams)
{
    struct launch l = {.f = f,
                       .g = {gridDimX, gridDimY, gridDimZ},
                       .b = {blockDimX, blockDimY, blockDimZ},
                       .shmem = sharedMemBytes,
                       .st = hStream,
                       .kind = 1,
                       .params = kernelParams};
    return launch(&l);
}

CUresult RC_API cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                               unsigned int gridDimY, unsigned int gridDimZ,
                                               unsigned int blockDimX, unsigned int blockDimY,
                                               unsigned int blockDimZ, unsigned int sharedMemBytes,
                                               CUstream hStream, void **kernelParams)
{
    struct launch l = {.f = f,
                       .g = {gridDimX, gridDimY, gridDimZ},
                       .b = {blockDimX, blockDimY, blockDimZ},
                       .shmem = sharedMemBytes,
                       .st = hStream,
                       .per_thread = true,
                       .kind = 1,
                       .params = kernelParams};
    return launch(&l);
}
