/* SPDX-License-Identifier: Apache-2.0 */
/* ctx.c: contexts. The client keeps each thread's current context and sends it with every call;
 * session.c makes it current here before the handler runs. */
#include "remote/server/srv.h"

static PFN_cuCtxCreate_v3020 p_create;
static PFN_cuCtxDestroy_v4000 p_destroy;
static PFN_cuCtxGetDevice_v2000 p_device;
static PFN_cuCtxSynchronize_v2000 p_sync;
static PFN_cuCtxGetCurrent_v4000 p_current;

static int h_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_create);
    if (!srv_device_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_DEVICE;
    if (a->n[2])
        return CUDA_ERROR_NOT_SUPPORTED; /* execution affinity and CIG parameters */
    CUcontext c = NULL;
    CUresult r = p_create(&c, (unsigned)a->v[0], (CUdevice)a->v[1]);
    if (r != CUDA_SUCCESS)
        return r;
    /* cuCtxCreate makes the new context current on this thread. */
    s->cur_ctx = (uint64_t)(uintptr_t)c;
    if (!srv_add(s, SRV_CTX, (uint64_t)(uintptr_t)c)) {
        p_destroy(c);
        s->cur_ctx = 0;
        if (p_current(&c) == CUDA_SUCCESS)
            s->cur_ctx = (uint64_t)(uintptr_t)c;
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)c);
    return CUDA_SUCCESS;
}

static int h_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_destroy);
    if (!srv_has(s, SRV_CTX, a->v[0]))
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = p_destroy((CUcontext)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS) {
        srv_del(s, SRV_CTX, a->v[0]);
        CUcontext c = NULL;
        s->cur_ctx = p_current(&c) == CUDA_SUCCESS ? (uint64_t)(uintptr_t)c : 0;
    }
    return r;
}

static int h_device(SRV_ARGS)
{
    SRV_UNUSED;
    CUdevice d = 0;
    CUresult r = p_device(&d);
    gvw_put_u32(out, (uint32_t)d);
    return r;
}

static int h_sync(SRV_ARGS)
{
    SRV_UNUSED;
    CUresult r = srv_take_pending(s);
    if (r != CUDA_SUCCESS)
        return r;
    return p_sync();
}

static bool init(struct srv *s)
{
    p_create = srv_sym("cuCtxCreate", 3020);
    p_destroy = srv_sym("cuCtxDestroy", 4000);
    p_device = srv_sym("cuCtxGetDevice", 2000);
    p_sync = srv_sym("cuCtxSynchronize", 2000);
    p_current = srv_sym("cuCtxGetCurrent", 4000);
    if (!p_device || !p_sync || !p_current) {
        srv_log(s, "the driver lacks cuCtxGetDevice, cuCtxSynchronize or cuCtxGetCurrent");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_CTX_CREATE, h_create},
    {GVW_OP_CTX_DESTROY, h_destroy},
    {GVW_OP_CTX_GET_DEVICE, h_device},
    {GVW_OP_CTX_SYNCHRONIZE, h_sync},
    {0, NULL},
};

const struct srv_group srv_group_ctx = {entries, init};
