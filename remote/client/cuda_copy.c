/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_copy.c: copies and fills. Host memory streams from and to the socket without a copy.
 *
 * Every ABI of a call goes out as one op: the CUDA 2.x entry points widen their 32-bit pointers
 * and sizes, and the per-thread default-stream ones (_ptds, _ptsz) name CU_STREAM_PER_THREAD.
 * Synchronous copies and fills wait for their reply; asynchronous ones do not (a host-to-device
 * copy's bytes are on the socket when the call returns, so the caller may reuse its buffer, as
 * with pageable memory on a local GPU), and their errors come back at the next synchronizing
 * call. A device-to-host copy always waits: its bytes come back in the reply.
 *
 * A copy or fill whose device side is not inside one range of device memory this process was
 * handed (cuda_mem.h) fails at the call, before its bytes travel and even when it is asynchronous,
 * as on a local GPU; the server checks again.
 *
 * cuMemcpy and cuMemcpyAsync take pointers of either side; the memory calls' record of device
 * ranges (cuda_mem.h) says which side each is on. Host to host is a memcpy here, done at the
 * call even by cuMemcpyAsync (no stream orders host memory on this side). */
#include "remote/client/cuda_mem.h"
#include "remote/client/exec.h"

#include <string.h>

/* A stream argument (already in its wire form) must be one of this process's streams, or a default
 * stream with a live current context: refused at the call, as the driver refuses it, even for a
 * call that gets no reply. */
static CUresult stream_ok(uint64_t st)
{
    uint64_t wire, ctx;
    return rcx_stream((CUstream)(uintptr_t)st, false, &wire, &ctx);
}

static CUresult htod(CUdeviceptr dst, const void *src, size_t n, bool async, uint64_t st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult sr = stream_ok(st);
    if (sr != CUDA_SUCCESS)
        return sr;
    if (!src || !dst || (n && !rc_devmem_holds(dst, n)))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_COPY_HTOD);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dst);
    gvw_put_u64(c.b, n);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, st);
    return rc_end(&c, rc_send_bulk(&c, src, n, !async));
}

static CUresult dtoh(void *dst, CUdeviceptr src, size_t n, bool async, uint64_t st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult sr = stream_ok(st);
    if (sr != CUDA_SUCCESS)
        return sr;
    if (!dst || !src || (n && !rc_devmem_holds(src, n)))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_COPY_DTOH);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, src);
    gvw_put_u64(c.b, n);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, st);
    return rc_end(&c, rc_wait_bulk(&c, dst, n));
}

static CUresult dtod(CUdeviceptr dst, CUdeviceptr src, size_t n, bool async, uint64_t st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult sr = stream_ok(st);
    if (sr != CUDA_SUCCESS)
        return sr;
    if (!dst || !src || (n && (!rc_devmem_holds(dst, n) || !rc_devmem_holds(src, n))))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_COPY_DTOD);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dst);
    gvw_put_u64(c.b, src);
    gvw_put_u64(c.b, n);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, st);
    return rc_end(&c, async ? rc_post(&c) : rc_wait(&c));
}

/* cuMemcpy[Async]: each side by the device ranges this process was handed. */
static CUresult any(CUdeviceptr dst, CUdeviceptr src, size_t n, bool async, uint64_t st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    if (!dst || !src)
        return CUDA_ERROR_INVALID_VALUE;
    bool ddev = rc_devmem_has(dst), sdev = rc_devmem_has(src);
    if (ddev && sdev)
        return dtod(dst, src, n, async, st);
    if (ddev)
        return htod(dst, (const void *)(uintptr_t)src, n, async, st);
    if (sdev)
        return dtoh((void *)(uintptr_t)dst, src, n, async, st);
    memmove((void *)(uintptr_t)dst, (const void *)(uintptr_t)src, n);
    return CUDA_SUCCESS;
}

#define H(p)   ((CUdeviceptr)(uintptr_t)(p))
#define PT(st) rc_stream_arg(st, true)
#define ST(st) rc_stream_arg(st, false)

CUresult RC_API cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return any(dst, src, ByteCount, false, 0);
}

CUresult RC_API cuMemcpy_ptds(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount)
{
    return any(dst, src, ByteCount, false, PT(NULL));
}

CUresult RC_API cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream)
{
    return any(dst, src, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyAsync_ptsz(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount,
                                   CUstream hStream)
{
    return any(dst, src, ByteCount, true, PT(hStream));
}

CUresult RC_API cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyHtoD_v2_ptds(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, false, PT(NULL));
}

CUresult RC_API cuMemcpyHtoD(CUdeviceptr_v1 dstDevice, const void *srcHost, unsigned int ByteCount)
{
    return htod(dstDevice, srcHost, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyDtoH_v2_ptds(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, false, PT(NULL));
}

CUresult RC_API cuMemcpyDtoH(void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount)
{
    return dtoh(dstHost, srcDevice, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtod(dstDevice, srcDevice, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyDtoD_v2_ptds(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
    return dtod(dstDevice, srcDevice, ByteCount, false, PT(NULL));
}

CUresult RC_API cuMemcpyDtoD(CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice,
                             unsigned int ByteCount)
{
    return dtod(dstDevice, srcDevice, ByteCount, false, 0);
}

CUresult RC_API cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount,
                                     CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr dstDevice, const void *srcHost,
                                          size_t ByteCount, CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, true, PT(hStream));
}

CUresult RC_API cuMemcpyHtoDAsync(CUdeviceptr_v1 dstDevice, const void *srcHost,
                                  unsigned int ByteCount, CUstream hStream)
{
    return htod(dstDevice, srcHost, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyDtoHAsync_v2_ptsz(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount,
                                          CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, true, PT(hStream));
}

CUresult RC_API cuMemcpyDtoHAsync(void *dstHost, CUdeviceptr_v1 srcDevice, unsigned int ByteCount,
                                  CUstream hStream)
{
    return dtoh(dstHost, srcDevice, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                     CUstream hStream)
{
    return dtod(dstDevice, srcDevice, ByteCount, true, ST(hStream));
}

CUresult RC_API cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr dstDevice, CUdeviceptr srcDevice,
                                          size_t ByteCount, CUstream hStream)
{
    return dtod(dstDevice, srcDevice, ByteCount, true, PT(hStream));
}

CUresult RC_API cuMemcpyDtoDAsync(CUdeviceptr_v1 dstDevice, CUdeviceptr_v1 srcDevice,
                                  unsigned int ByteCount, CUstream hStream)
{
    return dtod(dstDevice, srcDevice, ByteCount, true, ST(hStream));
}

/* ------------------------------------------------------------------ fills */

/* MEMSET {dst, value, element bytes, count, async, stream} */
static CUresult fill(CUdeviceptr dst, uint32_t value, unsigned elem, size_t count, bool async,
                     uint64_t st)
{
    if (!rc_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult sr = stream_ok(st);
    if (sr != CUDA_SUCCESS)
        return sr;
    if (!dst || dst % elem ||
        (count && (count > UINT64_MAX / elem || !rc_devmem_holds(dst, (uint64_t)count * elem))))
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_MEMSET);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u64(c.b, dst);
    gvw_put_u32(c.b, value);
    gvw_put_u32(c.b, elem);
    gvw_put_u64(c.b, count);
    gvw_put_u32(c.b, async);
    gvw_put_u64(c.b, st);
    return rc_end(&c, async ? rc_post(&c) : rc_wait(&c));
}

CUresult RC_API cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return fill(dstDevice, uc, 1, N, false, 0);
}

CUresult RC_API cuMemsetD8_v2_ptds(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
    return fill(dstDevice, uc, 1, N, false, PT(NULL));
}

CUresult RC_API cuMemsetD8(CUdeviceptr_v1 dstDevice, unsigned char uc, unsigned int N)
{
    return fill(dstDevice, uc, 1, N, false, 0);
}

CUresult RC_API cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return fill(dstDevice, us, 2, N, false, 0);
}

CUresult RC_API cuMemsetD16_v2_ptds(CUdeviceptr dstDevice, unsigned short us, size_t N)
{
    return fill(dstDevice, us, 2, N, false, PT(NULL));
}

CUresult RC_API cuMemsetD16(CUdeviceptr_v1 dstDevice, unsigned short us, unsigned int N)
{
    return fill(dstDevice, us, 2, N, false, 0);
}

CUresult RC_API cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return fill(dstDevice, ui, 4, N, false, 0);
}

CUresult RC_API cuMemsetD32_v2_ptds(CUdeviceptr dstDevice, unsigned int ui, size_t N)
{
    return fill(dstDevice, ui, 4, N, false, PT(NULL));
}

CUresult RC_API cuMemsetD32(CUdeviceptr_v1 dstDevice, unsigned int ui, unsigned int N)
{
    return fill(dstDevice, ui, 4, N, false, 0);
}

CUresult RC_API cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
    return fill(dstDevice, uc, 1, N, true, ST(hStream));
}

CUresult RC_API cuMemsetD8Async_ptsz(CUdeviceptr dstDevice, unsigned char uc, size_t N,
                                     CUstream hStream)
{
    return fill(dstDevice, uc, 1, N, true, PT(hStream));
}

CUresult RC_API cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                 CUstream hStream)
{
    return fill(dstDevice, us, 2, N, true, ST(hStream));
}

CUresult RC_API cuMemsetD16Async_ptsz(CUdeviceptr dstDevice, unsigned short us, size_t N,
                                      CUstream hStream)
{
    return fill(dstDevice, us, 2, N, true, PT(hStream));
}

CUresult RC_API cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
{
    return fill(dstDevice, ui, 4, N, true, ST(hStream));
}

CUresult RC_API cuMemsetD32Async_ptsz(CUdeviceptr dstDevice, unsigned int ui, size_t N,
                                      CUstream hStream)
{
    return fill(dstDevice, ui, 4, N, true, PT(hStream));
}
