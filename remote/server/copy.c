/* SPDX-License-Identifier: Apache-2.0 */
/* copy.c: copies and fills.
 *
 * Host data streams between the socket and the device through two staging halves, so that the
 * socket and the device work at the same time: a chunk read from the socket is copied to the
 * device while the next is read into the other half, and a chunk copied from the device is
 * written to the socket while the next is copied into the other half. At most one copy is in
 * flight, so waiting for the stream before reusing a half waits for nothing else of ours.
 *
 * The driver may read a pageable source when the copy runs rather than when it is queued (the
 * simulator does for copies over 1 MiB), so a half is reused only once its copy is done.
 *
 * An asynchronous host-to-device copy must not make the session wait for work queued ahead of it
 * on its stream (a long kernel): when the stream is busy, the bytes are read into a buffer of
 * their own that a host function on the stream frees once the copy has run, and nothing waits.
 * When the stream is idle, the halves serve it as a synchronous copy (the wait is for the copy
 * itself only), and so they do when the buffers of waiting copies would pass ASYNC_STAGED_MAX.
 * Device-to-host copies are synchronous for the client, asynchronous or not: the bytes go back in
 * the reply. */
#include "remote/server/srv.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* One staging half. */
#define CHUNK (4u << 20)
/* Bytes of asynchronous copies that may wait in buffers of their own for their streams; beyond
 * it a copy waits for its stream, as a synchronous one. */
#define ASYNC_STAGED_MAX (256ull << 20)

static PFN_cuMemcpyHtoDAsync_v3020 p_htod;
static PFN_cuMemcpyDtoHAsync_v3020 p_dtoh;
static PFN_cuMemcpyDtoDAsync_v3020 p_dtod;
static PFN_cuMemsetD8Async_v3020 p_set8;
static PFN_cuMemsetD16Async_v3020 p_set16;
static PFN_cuMemsetD32Async_v3020 p_set32;
static PFN_cuStreamSynchronize_v2000 p_sync;
static PFN_cuStreamQuery_v2000 p_query;
static PFN_cuLaunchHostFunc_v10000 p_host_func;

static uint8_t *half[2];
static atomic_ullong async_staged;

static size_t chunk_at(uint64_t n, uint64_t off)
{
    return n - off > CHUNK ? CHUNK : (size_t)(n - off);
}

/* Read and drop n bytes of bulk. 0, or SRV_BROKEN. */
static int drop(struct srv *s, uint64_t n)
{
    for (uint64_t off = 0; off < n; off += CHUNK)
        if (gvc_read(s->conn, half[0], chunk_at(n, off)) != 0)
            return SRV_BROKEN;
    return 0;
}

/* Host to device through the halves; waits for the copy. Returns the first failure, or
 * SRV_BROKEN. */
static int htod_halves(struct srv *s, uint64_t dst, uint64_t n, CUstream st)
{
    CUresult first = CUDA_SUCCESS;
    bool in_flight = false;
    for (uint64_t off = 0, k = 0; off < n; k++) {
        size_t len = chunk_at(n, off);
        uint8_t *buf = half[k & 1];
        /* The other half's copy runs while this one fills. */
        if (gvc_read(s->conn, buf, len) != 0)
            return SRV_BROKEN;
        if (in_flight) {
            CUresult r = p_sync(st);
            in_flight = false;
            if (first == CUDA_SUCCESS)
                first = r;
        }
        if (first == CUDA_SUCCESS) {
            first = p_htod(dst + off, buf, len, st);
            in_flight = first == CUDA_SUCCESS;
        }
        off += len;
    }
    if (in_flight) {
        CUresult r = p_sync(st);
        if (first == CUDA_SUCCESS)
            first = r;
    }
    return first;
}

struct staged {
    void *p;
    uint64_t n;
};

static void staged_done(void *arg)
{
    struct staged *b = arg;
    atomic_fetch_sub(&async_staged, b->n);
    free(b->p);
    free(b);
}

/* Host to device into a buffer of the copy's own, released by the stream once the copy has run:
 * the first failure, or SRV_BROKEN, in *res. False when it could take no buffer (nothing was
 * read: the caller goes on another way). */
static bool htod_staged(struct srv *s, uint64_t dst, uint64_t n, CUstream st, int *res)
{
    if (!p_host_func || n > ASYNC_STAGED_MAX)
        return false;
    if (atomic_fetch_add(&async_staged, n) + n > ASYNC_STAGED_MAX) {
        atomic_fetch_sub(&async_staged, n);
        return false;
    }
    struct staged *b = malloc(sizeof(*b));
    void *p = b ? malloc((size_t)n) : NULL;
    if (!p) {
        free(b);
        atomic_fetch_sub(&async_staged, n);
        return false;
    }
    *b = (struct staged){p, n};
    int first = CUDA_SUCCESS;
    uint64_t queued = 0; /* bytes whose copies are on the stream */
    for (uint64_t off = 0; off < n;) {
        size_t len = chunk_at(n, off);
        if (gvc_read(s->conn, (uint8_t *)p + off, len) != 0) {
            first = SRV_BROKEN;
            break;
        }
        if (first == CUDA_SUCCESS) {
            first = p_htod(dst + off, (uint8_t *)p + off, len, st);
            if (first == CUDA_SUCCESS)
                queued += len;
        }
        off += len;
    }
    *res = first;
    if (queued && p_host_func(st, staged_done, b) == CUDA_SUCCESS)
        return true;
    if (queued)
        p_sync(st); /* no host function: the copies must be done before the buffer goes */
    staged_done(b);
    return true;
}

/* Whether work queued on st now could wait: the stream has work, or the legacy default stream
 * does (a blocking stream, and the per-thread default stream, wait for it). */
static bool busy(CUstream st)
{
    return p_query && (p_query(st) == CUDA_ERROR_NOT_READY ||
                       p_query(CU_STREAM_LEGACY) == CUDA_ERROR_NOT_READY);
}

/* COPY_HTOD {dst, bytes, async, stream} and the bytes. Nothing to copy reaches no driver, so its
 * pointers need not be checked (the driver answers success for it too). */
static int h_htod(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t dst = a->v[0], n = a->v[1];
    bool async = a->v[2] != 0;
    CUstream st = (CUstream)(uintptr_t)a->v[3];
    CUresult bad = CUDA_SUCCESS;
    if (!srv_stream_ok(s, a->v[3]))
        bad = CUDA_ERROR_INVALID_HANDLE;
    else if (n && !srv_mem_ok(s, dst, n, 0))
        bad = CUDA_ERROR_INVALID_VALUE;
    else if (!async)
        bad = srv_take_pending(s);
    if (bad != CUDA_SUCCESS || n == 0) {
        int r = drop(s, n);
        return r ? r : (int)bad;
    }
    int r;
    if (async && busy(st) && htod_staged(s, dst, n, st, &r))
        return r;
    return htod_halves(s, dst, n, st);
}

/* COPY_DTOH {src, bytes, async, stream}: the reply, then the bytes when it is a success. */
static int h_dtoh(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t src = a->v[0], n = a->v[1];
    CUstream st = (CUstream)(uintptr_t)a->v[3];
    if (!srv_stream_ok(s, a->v[3]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (n && !srv_mem_ok(s, src, n, 0))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = srv_take_pending(s);
    size_t len = chunk_at(n, 0);
    if (r == CUDA_SUCCESS && len) {
        r = p_dtoh(half[0], src, len, st);
        if (r == CUDA_SUCCESS)
            r = p_sync(st);
    }
    if (r != CUDA_SUCCESS)
        return r;
    if (srv_reply_send(s, CUDA_SUCCESS) != 0)
        return SRV_BROKEN;
    for (uint64_t off = 0, k = 0; off < n; k++) {
        uint64_t next = off + len;
        size_t nlen = next < n ? chunk_at(n, next) : 0;
        if (nlen && r == CUDA_SUCCESS)
            r = p_dtoh(half[(k + 1) & 1], src + next, nlen, st);
        /* The next chunk comes off the device while this one goes out. */
        if (gvc_write(s->conn, half[k & 1], len) != 0)
            return SRV_BROKEN;
        if (nlen && r == CUDA_SUCCESS)
            r = p_sync(st);
        if (nlen && r != CUDA_SUCCESS) {
            /* The reply is out: the bytes must follow. Zeros, and the error at the next
             * synchronization. */
            memset(half[(k + 1) & 1], 0, nlen);
            if (s->pending == CUDA_SUCCESS)
                s->pending = r;
        }
        off = next;
        len = nlen;
    }
    return SRV_REPLIED;
}

/* COPY_DTOD {dst, src, bytes, async, stream}. */
static int h_dtod(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t dst = a->v[0], src = a->v[1], n = a->v[2];
    bool async = a->v[3] != 0;
    CUstream st = (CUstream)(uintptr_t)a->v[4];
    if (!srv_stream_ok(s, a->v[4]))
        return CUDA_ERROR_INVALID_HANDLE;
    if (n && (!srv_mem_ok(s, dst, n, 0) || !srv_mem_ok(s, src, n, 0)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = async ? CUDA_SUCCESS : srv_take_pending(s);
    if (r == CUDA_SUCCESS && n)
        r = p_dtod(dst, src, (size_t)n, st);
    if (r == CUDA_SUCCESS && !async)
        r = p_sync(st);
    return r;
}

/* MEMSET {dst, value, element bytes (1, 2, 4), count, async, stream}. */
static int h_memset(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t dst = a->v[0], count = a->v[3];
    uint32_t value = (uint32_t)a->v[1];
    unsigned elem = (unsigned)a->v[2];
    bool async = a->v[4] != 0;
    CUstream st = (CUstream)(uintptr_t)a->v[5];
    if (!srv_stream_ok(s, a->v[5]))
        return CUDA_ERROR_INVALID_HANDLE;
    if ((elem != 1 && elem != 2 && elem != 4) || count > UINT64_MAX / elem ||
        (count && !srv_mem_ok(s, dst, count * elem, 0)))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = async ? CUDA_SUCCESS : srv_take_pending(s);
    if (r != CUDA_SUCCESS || count == 0)
        return r;
    if (elem == 1)
        r = p_set8(dst, (unsigned char)value, (size_t)count, st);
    else if (elem == 2)
        r = p_set16(dst, (unsigned short)value, (size_t)count, st);
    else
        r = p_set32(dst, value, (size_t)count, st);
    if (r == CUDA_SUCCESS && !async)
        r = p_sync(st);
    return r;
}

static bool init(struct srv *s)
{
    p_htod = srv_sym("cuMemcpyHtoDAsync", 3020);
    p_dtoh = srv_sym("cuMemcpyDtoHAsync", 3020);
    p_dtod = srv_sym("cuMemcpyDtoDAsync", 3020);
    p_set8 = srv_sym("cuMemsetD8Async", 3020);
    p_set16 = srv_sym("cuMemsetD16Async", 3020);
    p_set32 = srv_sym("cuMemsetD32Async", 3020);
    p_sync = srv_sym("cuStreamSynchronize", 2000);
    p_query = srv_sym("cuStreamQuery", 2000);
    p_host_func = srv_sym("cuLaunchHostFunc", 10000);
    if (!p_htod || !p_dtoh || !p_dtod || !p_set8 || !p_set16 || !p_set32 || !p_sync) {
        srv_log(s, "the driver lacks asynchronous copies, fills or cuStreamSynchronize");
        return false;
    }
    half[0] = malloc(2 * (size_t)CHUNK);
    if (!half[0]) {
        srv_log(s, "out of memory");
        return false;
    }
    half[1] = half[0] + CHUNK;
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_COPY_HTOD, h_htod},
    {GVW_OP_COPY_DTOH, h_dtoh},
    {GVW_OP_COPY_DTOD, h_dtod},
    {GVW_OP_MEMSET, h_memset},
    {0, NULL},
};

const struct srv_group srv_group_copy = {entries, init};
