/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_copy.c: copies and fills. Host memory streams from and to the socket without a copy. */
#include "remote/client/cuda.h"

static CUresult htod(CUdeviceptr dst, const void *src, size_t n, bool async, CUstream st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!src && n)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_COPY_HTOD);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dst);
    gvw_put_u64(c.b, n);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)st);
    return rc_end(&c, rc_send_bulk(&c, src, n, !async));
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t n, bool async, CUstream st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dst && n)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_COPY_DTOH);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, src);
    gvw_put_u64(c.b, n);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, (uint64_t)(uintptr_t)st);
    return rc_end(&c, rc_wait_bulk(&c, dst, n));
}

CUresult RC_API cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, false, NULL);
}

CUresult RC_API cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, false, NULL);
}

CUresult RC_API cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                     CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, true, hStream);
}

CUresult RC_API cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, true, hStream);
}
