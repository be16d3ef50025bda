/* SPDX-License-Identifier: Apache-2.0 */
/* hooks_context.c: a process's first context on a GPU takes device memory, counted as it is made.
 *
 * The calls that make a context (cuCtxCreate in every ABI version, cuDevicePrimaryCtxRetain) are
 * measured around the driver call (context.c); the calls that make a context current
 * (cuCtxSetCurrent, cuCtxPushCurrent) count one the interposer did not see made, the first time it
 * is used on its GPU. Each wrapper is the driver call between the two halves. */
#include "shim/hooks.h"

#define MAKE(abi, dev, ...)                                                                        \
    ENTER(abi);                                                                                    \
    struct gvs_ctx_watch w;                                                                        \
    gvs_context_before(dev, &w);                                                                   \
    CUresult r = gvs_real.abi(__VA_ARGS__);                                                        \
    gvs_context_after(&w, r == CUDA_SUCCESS);                                                      \
    return r

CUresult gvs_cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    MAKE(cuCtxCreate, dev, pctx, flags, dev);
}

CUresult gvs_cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    MAKE(cuCtxCreate_v2, dev, pctx, flags, dev);
}

CUresult gvs_cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *params, int n, unsigned int flags,
                            CUdevice dev)
{
    MAKE(cuCtxCreate_v3, dev, pctx, params, n, flags, dev);
}

CUresult gvs_cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags,
                            CUdevice dev)
{
    MAKE(cuCtxCreate_v4, dev, pctx, params, flags, dev);
}

CUresult gvs_cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    MAKE(cuDevicePrimaryCtxRetain, dev, pctx, dev);
}

/* A context now current: count its GPU's context memory if nothing counted it yet. */
#define USE(abi, ctx)                                                                              \
    ENTER(abi);                                                                                    \
    CUresult r = gvs_real.abi(ctx);                                                                \
    if (r == CUDA_SUCCESS && ctx)                                                                  \
        gvs_context_current();                                                                     \
    return r

CUresult gvs_cuCtxSetCurrent(CUcontext ctx)
{
    USE(cuCtxSetCurrent, ctx);
}

CUresult gvs_cuCtxPushCurrent(CUcontext ctx)
{
    USE(cuCtxPushCurrent, ctx);
}

CUresult gvs_cuCtxPushCurrent_v2(CUcontext ctx)
{
    USE(cuCtxPushCurrent_v2, ctx);
}
