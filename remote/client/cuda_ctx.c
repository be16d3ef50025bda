/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_ctx.c: contexts. Each thread's stack of current contexts is kept here (rc.h) and sent with
 * every call, so that making a context current costs no round trip. */
#include "remote/client/cuda.h"

CUresult RC_API cuCtxSetCurrent(CUcontext ctx)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (ctx && !rc_ctx_is_known((uint64_t)(uintptr_t)ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    rc_ctx_set((uint64_t)(uintptr_t)ctx);
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxGetCurrent(CUcontext *pctx)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    *pctx = (CUcontext)(uintptr_t)rc_ctx_current();
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxPushCurrent_v2(CUcontext ctx)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!ctx || !rc_ctx_is_known((uint64_t)(uintptr_t)ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    return rc_ctx_push((uint64_t)(uintptr_t)ctx) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult RC_API cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

CUresult RC_API cuCtxPopCurrent_v2(CUcontext *pctx)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    uint64_t top = rc_ctx_current();
    if (!top)
        return CUDA_ERROR_INVALID_CONTEXT;
    rc_ctx_pop();
    if (pctx)
        *pctx = (CUcontext)(uintptr_t)top;
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

CUresult RC_API cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_CTX_CREATE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, flags);
    gvw_put_u32(c.b, (uint32_t)dev);
    gvw_put_bytes(c.b, NULL, 0);
    r = rc_wait(&c);
    rc_end(&c, r);
    if (r == CUDA_SUCCESS) {
        uint64_t h = c.r.v[1];
        rc_ctx_known(h);
        if (!rc_ctx_push(h))
            rc_ctx_set(h);
        *pctx = (CUcontext)(uintptr_t)h;
    }
    return r;
}

CUresult RC_API cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult RC_API cuCtxDestroy_v2(CUcontext ctx)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    uint64_t h = (uint64_t)(uintptr_t)ctx;
    if (!ctx || !rc_ctx_is_known(h))
        return CUDA_ERROR_INVALID_CONTEXT;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_CTX_DESTROY);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, h);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        rc_ctx_forget(h);
    return r;
}

CUresult RC_API cuCtxDestroy(CUcontext ctx)
{
    return cuCtxDestroy_v2(ctx);
}

CUresult RC_API cuCtxGetDevice(CUdevice *device)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (!rc_ctx_current())
        return CUDA_ERROR_INVALID_CONTEXT;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_CTX_GET_DEVICE);
    if (r != CUDA_SUCCESS)
        return r;
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *device = (CUdevice)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuCtxSynchronize(void)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    return rc_simple(GVW_OP_CTX_SYNCHRONIZE);
}
