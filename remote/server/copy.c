/* SPDX-License-Identifier: Apache-2.0 */
/* copy.c: copies and fills. Host data streams through the session's staging buffer in chunks: a
 * chunk read from the socket is copied to the device while the next is read, and a chunk copied
 * from the device is written to the socket while the next is copied. */
#include "remote/server/srv.h"

#include <string.h>

static PFN_cuMemcpyHtoDAsync_v3020 p_htod_async;
static PFN_cuMemcpyDtoHAsync_v3020 p_dtoh_async;
static PFN_cuStreamSynchronize_v2000 p_stream_sync;

struct htod {
    uint64_t dst;
    CUstream stream;
};

static CUresult htod_chunk(struct srv *s, uint64_t off, size_t k, void *arg)
{
    struct htod *c = arg;
    CUresult r = p_htod_async(c->dst + off, s->staging, k, c->stream);
    if (r == CUDA_SUCCESS)
        r = p_stream_sync(c->stream);
    return r;
}

/* COPY_HTOD {dst, bytes, async, stream} and the bytes. */
static int h_htod(SRV_ARGS)
{
    SRV_UNUSED;
    struct htod c = {a->v[0], (CUstream)(uintptr_t)a->v[3]};
    uint64_t n = a->v[1];
    bool ok = srv_stream_ok(s, a->v[3]) && srv_mem_ok(s, c.dst, n, 0);
    int r = srv_bulk_in(s, n, ok ? htod_chunk : NULL, &c);
    if (r == SRV_BROKEN)
        return r;
    return ok ? r : CUDA_ERROR_INVALID_VALUE;
}

/* COPY_DTOH {src, bytes, async, stream}: the reply, then the bytes when it is a success. */
static int h_dtoh(SRV_ARGS)
{
    SRV_UNUSED;
    uint64_t src = a->v[0], n = a->v[1];
    CUstream st = (CUstream)(uintptr_t)a->v[3];
    if (!srv_stream_ok(s, a->v[3]) || !srv_mem_ok(s, src, n, 0))
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = srv_take_pending(s);
    size_t k = n > SRV_CHUNK ? SRV_CHUNK : (size_t)n;
    if (r == CUDA_SUCCESS && k) {
        r = p_dtoh_async(s->staging, src, k, st);
        if (r == CUDA_SUCCESS)
            r = p_stream_sync(st);
    }
    if (r != CUDA_SUCCESS)
        return r;
    if (srv_reply_send(s, CUDA_SUCCESS) != 0)
        return SRV_BROKEN;
    uint64_t off = 0;
    while (off < n) {
        if (gvc_write(s->conn, s->staging, k) != 0)
            return SRV_BROKEN;
        off += k;
        if (off >= n)
            break;
        k = n - off > SRV_CHUNK ? SRV_CHUNK : (size_t)(n - off);
        r = p_dtoh_async(s->staging, src + off, k, st);
        if (r == CUDA_SUCCESS)
            r = p_stream_sync(st);
        if (r != CUDA_SUCCESS) {
            /* The reply is out: the bytes must follow. Zeros, and the error at the next
             * synchronization. */
            memset(s->staging, 0, k);
            if (s->pending == CUDA_SUCCESS)
                s->pending = r;
        }
    }
    return SRV_REPLIED;
}

static bool init(struct srv *s)
{
    p_htod_async = srv_sym("cuMemcpyHtoDAsync", 3020);
    p_dtoh_async = srv_sym("cuMemcpyDtoHAsync", 3020);
    p_stream_sync = srv_sym("cuStreamSynchronize", 2000);
    if (!p_htod_async || !p_dtoh_async || !p_stream_sync) {
        srv_log(s, "the driver lacks cuMemcpyHtoDAsync, cuMemcpyDtoHAsync or cuStreamSynchronize");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_COPY_HTOD, h_htod},
    {GVW_OP_COPY_DTOH, h_dtoh},
    {0, NULL},
};

const struct srv_group srv_group_copy = {entries, init};
