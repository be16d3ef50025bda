/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_mem.c: device memory. */
#include "remote/client/cuda.h"

CUresult RC_API cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_ALLOC);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, bytesize);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuMemFree_v2(CUdeviceptr dptr)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEM_FREE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dptr);
    return rc_end(&c, rc_wait(&c));
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
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        *fr = (size_t)c.r.v[1];
        *total = (size_t)c.r.v[2];
    }
    return rc_end(&c, r);
}
