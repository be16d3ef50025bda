/* SPDX-License-Identifier: Apache-2.0 */
/* module.c: modules, libraries, functions and launches. An image travels whole (the driver needs
 * it in one piece); a function's (or a library kernel's) parameter layout goes back to the
 * client, which packs each launch's parameters into one buffer by it, and the launch passes that
 * buffer to the driver as `extra`.
 *
 * Modules belong to the context current at their load, functions to their module, kernels to
 * their library, a kernel's function to its kernel (exec.h): unloading or destroying an owner
 * forgets what it owned. A launch names a function or a library's kernel (the driver takes
 * either) and a stream of the session's; its launch attributes arrive as an array of
 * CUlaunchAttribute, checked for size and count. A cooperative launch is cuLaunchKernelEx with the
 * cooperative attribute, since cuLaunchCooperativeKernel takes no `extra`. JIT and library
 * options are not served: images load as they are. */
#include "remote/server/exec.h"

#include <stdlib.h>
#include <string.h>

/* The largest image a client may send. */
#define MAX_IMAGE (1ull << 30)
/* The most parameters a layout lists. */
#define MAX_PARAMS 1024
/* The most launch attributes one launch carries (the client sends at most as many). */
#define MAX_ATTRS 64

static PFN_cuModuleLoadData_v2000 p_load;
static PFN_cuModuleUnload_v2000 p_unload;
static PFN_cuModuleGetFunction_v2000 p_get_function;
static PFN_cuFuncGetParamInfo_v12040 p_param_info;
static PFN_cuKernelGetParamInfo_v12040 p_kernel_param_info;
static PFN_cuLibraryLoadData_v12000 p_lib_load;
static PFN_cuLibraryUnload_v12000 p_lib_unload;
static PFN_cuLibraryGetKernel_v12000 p_get_kernel;
static PFN_cuKernelGetFunction_v12000 p_kernel_function;
static PFN_cuLaunchKernel_v4000 p_launch;
static PFN_cuLaunchKernelEx_v11060 p_launch_ex;

struct image {
    uint8_t *p;
};

static CUresult image_chunk(struct srv *s, uint64_t off, size_t k, void *arg)
{
    struct image *im = arg;
    memcpy(im->p + off, s->staging, k);
    return CUDA_SUCCESS;
}

/* With no memory for the image, its bytes are still read (and dropped), so that the next frame
 * is found where it starts. */
static CUresult drop_chunk(struct srv *s, uint64_t off, size_t k, void *arg)
{
    (void)s, (void)off, (void)k, (void)arg;
    return CUDA_ERROR_OUT_OF_MEMORY;
}

/* Read the image of n bytes (the frame's first field) that follows the frame. Returns
 * CUDA_SUCCESS with *out malloc'd, or the failure (SRV_BROKEN: the session must end). Every
 * handler that takes an image reads it before anything may fail. */
static int load_image(struct srv *s, uint64_t n, uint8_t **out)
{
    if (n == 0 || n > MAX_IMAGE) {
        srv_log(s, "closed: an image of %llu bytes (at most %llu)", (unsigned long long)n,
                MAX_IMAGE);
        return SRV_BROKEN;
    }
    struct image im = {malloc((size_t)n + 1)};
    int r = srv_bulk_in(s, n, im.p ? image_chunk : drop_chunk, &im);
    if (r != CUDA_SUCCESS) {
        free(im.p);
        return r;
    }
    im.p[n] = 0; /* a text image (PTX) the client sent without its terminator stays terminated */
    *out = im.p;
    return CUDA_SUCCESS;
}

/* MODULE_LOAD {bytes} and the image. */
static int h_load(SRV_ARGS)
{
    SRV_UNUSED;
    uint8_t *image = NULL;
    int r = load_image(s, a->v[0], &image);
    if (r != CUDA_SUCCESS)
        return r;
    CUmodule m = NULL;
    r = p_load(&m, image);
    free(image);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_own(s, SRV_MODULE, (uint64_t)(uintptr_t)m, s->cur_ctx)) {
        p_unload(m);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)m);
    return CUDA_SUCCESS;
}

static int h_unload(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_has(s, SRV_MODULE, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = p_unload((CUmodule)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_disown(s, SRV_MODULE, a->v[0]);
    return r;
}

/* Write a layout: (u32 offset, u32 size) per parameter, or the unknown mark (wire.h) when the
 * driver cannot say. */
static void put_layout(uint64_t fn, bool kernel, struct gvw_buf *out)
{
    struct gvw_buf tmp = {0};
    bool unknown = !(kernel && p_kernel_param_info) && !p_param_info;
    if (unknown) {
        gvw_put_u32(&tmp, GVW_LAYOUT_UNKNOWN);
        gvw_put_u32(&tmp, GVW_LAYOUT_UNKNOWN);
    }
    for (size_t i = 0; !unknown && i < MAX_PARAMS; i++) {
        size_t off = 0, size = 0;
        CUresult r;
        if (kernel && p_kernel_param_info)
            r = p_kernel_param_info((CUkernel)(uintptr_t)fn, i, &off, &size);
        else /* a kernel is a function to drivers without the kernel query */
            r = p_param_info((CUfunction)(uintptr_t)fn, i, &off, &size);
        if (r != CUDA_SUCCESS || off > UINT32_MAX || size > UINT32_MAX)
            break;
        gvw_put_u32(&tmp, (uint32_t)off);
        gvw_put_u32(&tmp, (uint32_t)size);
    }
    gvw_put_bytes(out, tmp.oom ? NULL : tmp.p, tmp.oom ? 0 : tmp.len);
    gvw_buf_free(&tmp);
}

/* MODULE_GET_FUNCTION {module, name} */
static int h_get_function(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_has(s, SRV_MODULE, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    char name[GVW_MAX_TEXT + 1];
    gvw_arg_text(a, 1, name, sizeof(name));
    CUfunction f = NULL;
    CUresult r = p_get_function(&f, (CUmodule)(uintptr_t)a->v[0], name);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t fh = (uint64_t)(uintptr_t)f;
    if (!srv_has(s, SRV_FUNCTION, fh) && !srv_own(s, SRV_FUNCTION, fh, a->v[0]))
        return CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, fh);
    put_layout(fh, false, out);
    return CUDA_SUCCESS;
}

/* LIBRARY_LOAD {bytes} and the image. */
static int h_lib_load(SRV_ARGS)
{
    SRV_UNUSED;
    uint8_t *image = NULL;
    int r = load_image(s, a->v[0], &image);
    if (r != CUDA_SUCCESS)
        return r;
    if (!p_lib_load) {
        free(image);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    CUlibrary l = NULL;
    r = p_lib_load(&l, image, NULL, NULL, 0, NULL, NULL, 0);
    free(image);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_own(s, SRV_LIBRARY, (uint64_t)(uintptr_t)l, 0)) {
        p_lib_unload(l);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)l);
    return CUDA_SUCCESS;
}

static int h_lib_unload(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_lib_unload);
    if (!srv_has(s, SRV_LIBRARY, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = p_lib_unload((CUlibrary)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_disown(s, SRV_LIBRARY, a->v[0]);
    return r;
}

/* LIBRARY_GET_KERNEL {library, name} */
static int h_get_kernel(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_kernel);
    if (!srv_has(s, SRV_LIBRARY, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    char name[GVW_MAX_TEXT + 1];
    gvw_arg_text(a, 1, name, sizeof(name));
    CUkernel k = NULL;
    CUresult r = p_get_kernel(&k, (CUlibrary)(uintptr_t)a->v[0], name);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t kh = (uint64_t)(uintptr_t)k;
    if (!srv_has(s, SRV_KERNEL, kh) && !srv_own(s, SRV_KERNEL, kh, a->v[0]))
        return CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, kh);
    put_layout(kh, true, out);
    return CUDA_SUCCESS;
}

/* KERNEL_GET_FUNCTION {kernel}: the kernel's function in the current context. */
static int h_kernel_function(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_kernel_function);
    if (!srv_has(s, SRV_KERNEL, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUfunction f = NULL;
    CUresult r = p_kernel_function(&f, (CUkernel)(uintptr_t)a->v[0]);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t fh = (uint64_t)(uintptr_t)f;
    if (!srv_has(s, SRV_FUNCTION, fh) && !srv_own(s, SRV_FUNCTION, fh, a->v[0]))
        return CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, fh);
    put_layout(fh, false, out);
    return CUDA_SUCCESS;
}

/* LAUNCH {function, grid x y z, block x y z, shared bytes, stream, kind, parameters, attributes}:
 * kind 0 a launch, 1 a cooperative one. */
static int h_launch(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t f = a->v[0];
    if ((!srv_has(s, SRV_FUNCTION, f) && !srv_has(s, SRV_KERNEL, f)) || !srv_stream_ok(s, a->v[8]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (a->v[9] > 1 || a->n[11] % sizeof(CUlaunchAttribute) != 0 ||
        a->n[11] / sizeof(CUlaunchAttribute) > MAX_ATTRS)
        return CUDA_ERROR_INVALID_VALUE;
    /* The body need not be aligned for the attributes' unions: copy them out. */
    CUlaunchAttribute attrs[MAX_ATTRS + 1];
    unsigned nattrs = (unsigned)(a->n[11] / sizeof(CUlaunchAttribute));
    if (nattrs)
        memcpy(attrs, a->p[11], a->n[11]);
    for (unsigned i = 0; i < nattrs; i++) {
        /* Attributes that name an event name one of the session's; a device-updatable graph node
         * has no place outside graphs, which are not served. The rest are values. */
        if ((attrs[i].id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT &&
             !srv_has(s, SRV_EVENT, (uint64_t)(uintptr_t)attrs[i].value.programmaticEvent.event)) ||
            (attrs[i].id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT &&
             !srv_has(s, SRV_EVENT,
                      (uint64_t)(uintptr_t)attrs[i].value.launchCompletionEvent.event)))
            return CUDA_ERROR_INVALID_HANDLE;
        if (attrs[i].id == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE)
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (a->v[9] == 1) {
        memset(&attrs[nattrs], 0, sizeof(attrs[nattrs]));
        attrs[nattrs].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
        attrs[nattrs].value.cooperative = 1;
        nattrs++;
    }
    /* The parameters are copied too: `extra` wants a pointer the kernel's alignment suits. */
    static const uint8_t none[8];
    size_t size = a->n[10];
    void *params = size ? malloc(size) : NULL;
    if (size && !params)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (size)
        memcpy(params, a->p[10], size);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, params ? params : (void *)none,
                     CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
    CUresult r;
    if (nattrs == 0) {
        r = p_launch((CUfunction)(uintptr_t)f, (unsigned)a->v[1], (unsigned)a->v[2],
                     (unsigned)a->v[3], (unsigned)a->v[4], (unsigned)a->v[5], (unsigned)a->v[6],
                     (unsigned)a->v[7], (CUstream)(uintptr_t)a->v[8], NULL, extra);
    } else if (!p_launch_ex) {
        r = CUDA_ERROR_NOT_SUPPORTED;
    } else {
        CUlaunchConfig cfg = {
            .gridDimX = (unsigned)a->v[1],
            .gridDimY = (unsigned)a->v[2],
            .gridDimZ = (unsigned)a->v[3],
            .blockDimX = (unsigned)a->v[4],
            .blockDimY = (unsigned)a->v[5],
            .blockDimZ = (unsigned)a->v[6],
            .sharedMemBytes = (unsigned)a->v[7],
            .hStream = (CUstream)(uintptr_t)a->v[8],
            .attrs = attrs,
            .numAttrs = nattrs,
        };
        r = p_launch_ex(&cfg, (CUfunction)(uintptr_t)f, NULL, extra);
    }
    free(params);
    return r;
}

static bool init(struct srv *s)
{
    p_load = srv_sym("cuModuleLoadData", 2000);
    p_unload = srv_sym("cuModuleUnload", 2000);
    p_get_function = srv_sym("cuModuleGetFunction", 2000);
    p_param_info = srv_sym("cuFuncGetParamInfo", 12040);
    p_kernel_param_info = srv_sym("cuKernelGetParamInfo", 12040);
    p_lib_load = srv_sym("cuLibraryLoadData", 12000);
    p_lib_unload = srv_sym("cuLibraryUnload", 12000);
    p_get_kernel = srv_sym("cuLibraryGetKernel", 12000);
    p_kernel_function = srv_sym("cuKernelGetFunction", 12000);
    p_launch = srv_sym("cuLaunchKernel", 4000);
    p_launch_ex = srv_sym("cuLaunchKernelEx", 11060);
    if (!p_load || !p_unload || !p_get_function || !p_launch) {
        srv_log(s, "the driver lacks module loading or cuLaunchKernel");
        return false;
    }
    if (p_lib_load && !p_lib_unload)
        p_lib_load = NULL;
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_MODULE_LOAD, h_load},
    {GVW_OP_MODULE_UNLOAD, h_unload},
    {GVW_OP_MODULE_GET_FUNCTION, h_get_function},
    {GVW_OP_LIBRARY_LOAD, h_lib_load},
    {GVW_OP_LIBRARY_UNLOAD, h_lib_unload},
    {GVW_OP_LIBRARY_GET_KERNEL, h_get_kernel},
    {GVW_OP_KERNEL_GET_FUNCTION, h_kernel_function},
    {GVW_OP_LAUNCH, h_launch},
    {0, NULL},
};

const struct srv_group srv_group_module = {entries, init};
