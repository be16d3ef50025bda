/* SPDX-License-Identifier: Apache-2.0 */
/* module.c: modules, functions and launches. A module's image travels whole (the driver needs it
 * in one piece); a function's parameter layout goes back to the client, which packs each launch's
 * parameters into one buffer by it, and the launch passes that buffer to the driver as `extra`. */
#include "remote/server/srv.h"

#include <stdlib.h>
#include <string.h>

/* The largest image a client may send. */
#define MAX_IMAGE (1ull << 30)
/* The most parameters a layout lists. */
#define MAX_PARAMS 1024

static PFN_cuModuleLoadData_v2000 p_load;
static PFN_cuModuleUnload_v2000 p_unload;
static PFN_cuModuleGetFunction_v2000 p_get_function;
static PFN_cuFuncGetParamInfo_v12040 p_param_info;
static PFN_cuLaunchKernel_v4000 p_launch;

struct image {
    uint8_t *p;
};

static CUresult image_chunk(struct srv *s, uint64_t off, size_t k, void *arg)
{
    struct image *im = arg;
    memcpy(im->p + off, s->staging, k);
    return CUDA_SUCCESS;
}

/* MODULE_LOAD {bytes} and the image. */
static int h_load(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t n = a->v[0];
    if (n == 0 || n > MAX_IMAGE) {
        srv_log(s, "closed: a module image of %llu bytes (at most %llu)", (unsigned long long)n,
                MAX_IMAGE);
        return SRV_BROKEN;
    }
    struct image im = {malloc((size_t)n + 1)};
    int r = srv_bulk_in(s, n, im.p ? image_chunk : NULL, &im);
    if (r == SRV_BROKEN || !im.p) {
        free(im.p);
        return im.p ? r : CUDA_ERROR_OUT_OF_MEMORY;
    }
    im.p[n] = 0; /* a text image (PTX) the client sent without its terminator stays terminated */
    CUmodule m = NULL;
    r = p_load(&m, im.p);
    free(im.p);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_add(s, SRV_MODULE, (uint64_t)(uintptr_t)m)) {
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
        srv_del(s, SRV_MODULE, a->v[0]);
    return r;
}

/* Write the function's parameter layout: (u32 offset, u32 size) per parameter; empty when the
 * driver cannot say (the client can then launch only with a packed `extra` buffer). */
static void put_layout(CUfunction f, struct gvw_buf *out)
{
    uint32_t pairs[2 * 64];
    struct gvw_buf tmp = {0};
    size_t i = 0;
    if (p_param_info) {
        for (; i < MAX_PARAMS; i++) {
            size_t off = 0, size = 0;
            if (p_param_info(f, i, &off, &size) != CUDA_SUCCESS)
                break;
            gvw_put_u32(&tmp, (uint32_t)off);
            gvw_put_u32(&tmp, (uint32_t)size);
        }
    }
    (void)pairs;
    gvw_put_bytes(out, tmp.p, tmp.len);
    gvw_buf_free(&tmp);
}

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
    if (!srv_add(s, SRV_FUNCTION, (uint64_t)(uintptr_t)f))
        return CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, (uint64_t)(uintptr_t)f);
    put_layout(f, out);
    return CUDA_SUCCESS;
}

/* LAUNCH {function, grid x y z, block x y z, shared bytes, stream, kind, parameters, attributes} */
static int h_launch(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_has(s, SRV_FUNCTION, a->v[0]) || !srv_stream_ok(s, a->v[8]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (a->v[9] != 0 || a->n[11])
        return CUDA_ERROR_NOT_SUPPORTED;
    size_t size = a->n[10];
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, (void *)a->p[10], CU_LAUNCH_PARAM_BUFFER_SIZE,
                     &size, CU_LAUNCH_PARAM_END};
    return p_launch((CUfunction)(uintptr_t)a->v[0], (unsigned)a->v[1], (unsigned)a->v[2],
                    (unsigned)a->v[3], (unsigned)a->v[4], (unsigned)a->v[5], (unsigned)a->v[6],
                    (unsigned)a->v[7], (CUstream)(uintptr_t)a->v[8], NULL, size ? extra : NULL);
}

static bool init(struct srv *s)
{
    p_load = srv_sym("cuModuleLoadData", 2000);
    p_unload = srv_sym("cuModuleUnload", 2000);
    p_get_function = srv_sym("cuModuleGetFunction", 2000);
    p_param_info = srv_sym("cuFuncGetParamInfo", 12040);
    p_launch = srv_sym("cuLaunchKernel", 4000);
    if (!p_load || !p_unload || !p_get_function || !p_launch) {
        srv_log(s, "the driver lacks module loading or cuLaunchKernel");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_MODULE_LOAD, h_load},
    {GVW_OP_MODULE_UNLOAD, h_unload},
    {GVW_OP_MODULE_GET_FUNCTION, h_get_function},
    {GVW_OP_LAUNCH, h_launch},
    {0, NULL},
};

const struct srv_group srv_group_module = {entries, init};
