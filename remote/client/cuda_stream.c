/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_stream.c: streams and events. */
#include "remote/client/cuda.h"

CUresult RC_API cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!phStream)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_STREAM_CREATE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, flags);
    gvw_put_u32(c.b, (uint32_t)priority);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *phStream = (CUstream)(uintptr_t)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return cuStreamCreateWithPriority(phStream, Flags, 0);
}

static CUresult one_handle(unsigned op, uint64_t h)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, h);
    return rc_end(&c, rc_wait(&c));
}

CUresult RC_API cuStreamDestroy_v2(CUstream hStream)
{
    return one_handle(GVW_OP_STREAM_DESTROY, (uint64_t)(uintptr_t)hStream);
}

CUresult RC_API cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}

CUresult RC_API cuStreamSynchronize(CUstream hStream)
{
    return one_handle(GVW_OP_STREAM_SYNCHRONIZE, (uint64_t)(uintptr_t)hStream);
}
