/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c: streams and events.
 *
 * Streams and events belong to the context current when they were made (exec.h). A stream
 * argument is one of the session's streams or a default stream: 0, CU_STREAM_LEGACY, or
 * CU_STREAM_PER_THREAD, which the client sends for 0 from its per-thread entry points (the
 * session has one thread, so it is one stream for all the client's threads). Records, waits and
 * event destruction come without a reply; their errors wait for the next synchronizing call. */
#include "remote/server/exec.h"

#include <string.h>

static PFN_cuStreamCreateWithPriority_v5050 p_create;
static PFN_cuStreamDestroy_v4000 p_destroy;
static PFN_cuStreamSynchronize_v2000 p_sync;
static PFN_cuStreamQuery_v2000 p_query;
static PFN_cuStreamWaitEvent_v3020 p_wait_event;
static PFN_cuStreamGetFlags_v5050 p_get_flags;
static PFN_cuStreamGetPriority_v5050 p_get_priority;
static PFN_cuStreamGetCtx_v9020 p_get_ctx;
static PFN_cuEventCreate_v2000 p_event_create;
static PFN_cuEventDestroy_v4000 p_event_destroy;
static PFN_cuEventRecordWithFlags_v11010 p_record_flags;
static PFN_cuEventRecord_v2000 p_record;
static PFN_cuEventQuery_v2000 p_event_query;
static PFN_cuEventSynchronize_v2000 p_event_sync;
static PFN_cuEventElapsedTime_v2000 p_elapsed;

#define STREAM_OK(s, st)                                                                           \
    do {                                                                                           \
        if (!srv_stream_ok(s, st))                                                                 \
            return CUDA_ERROR_INVALID_HANDLE;                                                      \
    } while (0)

#define EVENT_OK(s, e)                                                                             \
    do {                                                                                           \
        if (!srv_has(s, SRV_EVENT, e))                                                             \
            return CUDA_ERROR_INVALID_HANDLE;                                                      \
    } while (0)

static CUstream stream(uint64_t h)
{
    return (CUstream)(uintptr_t)h;
}

static CUevent event(uint64_t h)
{
    return (CUevent)(uintptr_t)h;
}

/* STREAM_CREATE {flags, priority} */
static int h_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_create);
    CUstream st = NULL;
    CUresult r = p_create(&st, (unsigned)a->v[0], (int)(int32_t)a->v[1]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_own(s, SRV_STREAM, (uint64_t)(uintptr_t)st, s->cur_ctx)) {
        p_destroy(st);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)st);
    return CUDA_SUCCESS;
}

static int h_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_has(s, SRV_STREAM, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = p_destroy(stream(a->v[0]));
    if (r == CUDA_SUCCESS)
        srv_disown(s, SRV_STREAM, a->v[0]);
    return r;
}

static int h_sync(SRV_ARGS)
{
    SRV_UNUSED;
    STREAM_OK(s, a->v[0]);
    CUresult r = srv_take_pending(s);
    if (r != CUDA_SUCCESS)
        return r;
    return p_sync(stream(a->v[0]));
}

static int h_query(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_query);
    STREAM_OK(s, a->v[0]);
    return p_query(stream(a->v[0]));
}

/* STREAM_WAIT_EVENT {stream, event, flags} */
static int h_wait_event(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_wait_event);
    STREAM_OK(s, a->v[0]);
    EVENT_OK(s, a->v[1]);
    return p_wait_event(stream(a->v[0]), event(a->v[1]), (unsigned)a->v[2]);
}

static int h_get_flags(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_flags);
    STREAM_OK(s, a->v[0]);
    unsigned f = 0;
    CUresult r = p_get_flags(stream(a->v[0]), &f);
    gvw_put_u32(out, f);
    return r;
}

static int h_get_priority(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_priority);
    STREAM_OK(s, a->v[0]);
    int v = 0;
    CUresult r = p_get_priority(stream(a->v[0]), &v);
    gvw_put_u32(out, (uint32_t)v);
    return r;
}

static int h_get_ctx(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_ctx);
    STREAM_OK(s, a->v[0]);
    CUcontext c = NULL;
    CUresult r = p_get_ctx(stream(a->v[0]), &c);
    gvw_put_u64(out, (uint64_t)(uintptr_t)c);
    return r;
}

static int h_event_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_event_create);
    CUevent e = NULL;
    CUresult r = p_event_create(&e, (unsigned)a->v[0]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_own(s, SRV_EVENT, (uint64_t)(uintptr_t)e, s->cur_ctx)) {
        p_event_destroy(e);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)e);
    return CUDA_SUCCESS;
}

static int h_event_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    EVENT_OK(s, a->v[0]);
    CUresult r = p_event_destroy(event(a->v[0]));
    if (r == CUDA_SUCCESS)
        srv_disown(s, SRV_EVENT, a->v[0]);
    return r;
}

/* EVENT_RECORD {event, stream, flags}: without flags, the oldest ABI, which every driver has. */
static int h_record(SRV_ARGS)
{
    SRV_UNUSED;
    EVENT_OK(s, a->v[0]);
    STREAM_OK(s, a->v[1]);
    if (a->v[2] == 0)
        return p_record(event(a->v[0]), stream(a->v[1]));
    SRV_NEED(p_record_flags);
    return p_record_flags(event(a->v[0]), stream(a->v[1]), (unsigned)a->v[2]);
}

static int h_event_query(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_event_query);
    EVENT_OK(s, a->v[0]);
    return p_event_query(event(a->v[0]));
}

static int h_event_sync(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_event_sync);
    EVENT_OK(s, a->v[0]);
    CUresult r = srv_take_pending(s);
    if (r != CUDA_SUCCESS)
        return r;
    return p_event_sync(event(a->v[0]));
}

/* The milliseconds go back as the float's bits. */
static int h_elapsed(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_elapsed);
    EVENT_OK(s, a->v[0]);
    EVENT_OK(s, a->v[1]);
    float ms = 0;
    CUresult r = p_elapsed(&ms, event(a->v[0]), event(a->v[1]));
    uint32_t bits;
    memcpy(&bits, &ms, sizeof(bits));
    gvw_put_u32(out, bits);
    return r;
}

static bool init(struct srv *s)
{
    p_create = srv_sym("cuStreamCreateWithPriority", 5050);
    p_destroy = srv_sym("cuStreamDestroy", 4000);
    p_sync = srv_sym("cuStreamSynchronize", 2000);
    p_query = srv_sym("cuStreamQuery", 2000);
    p_wait_event = srv_sym("cuStreamWaitEvent", 3020);
    p_get_flags = srv_sym("cuStreamGetFlags", 5050);
    p_get_priority = srv_sym("cuStreamGetPriority", 5050);
    p_get_ctx = srv_sym("cuStreamGetCtx", 9020);
    p_event_create = srv_sym("cuEventCreate", 2000);
    p_event_destroy = srv_sym("cuEventDestroy", 4000);
    p_record = srv_sym("cuEventRecord", 2000);
    p_record_flags = srv_sym("cuEventRecordWithFlags", 11010);
    p_event_query = srv_sym("cuEventQuery", 2000);
    p_event_sync = srv_sym("cuEventSynchronize", 2000);
    p_elapsed = srv_sym("cuEventElapsedTime", 2000);
    if (!p_destroy || !p_sync || !p_event_destroy || !p_record) {
        srv_log(s, "the driver lacks cuStreamDestroy, cuStreamSynchronize, cuEventDestroy or "
                   "cuEventRecord");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_STREAM_CREATE, h_create},
    {GVW_OP_STREAM_DESTROY, h_destroy},
    {GVW_OP_STREAM_SYNCHRONIZE, h_sync},
    {GVW_OP_STREAM_QUERY, h_query},
    {GVW_OP_STREAM_WAIT_EVENT, h_wait_event},
    {GVW_OP_STREAM_GET_FLAGS, h_get_flags},
    {GVW_OP_STREAM_GET_PRIORITY, h_get_priority},
    {GVW_OP_STREAM_GET_CTX, h_get_ctx},
    {GVW_OP_EVENT_CREATE, h_event_create},
    {GVW_OP_EVENT_DESTROY, h_event_destroy},
    {GVW_OP_EVENT_RECORD, h_record},
    {GVW_OP_EVENT_QUERY, h_event_query},
    {GVW_OP_EVENT_SYNCHRONIZE, h_event_sync},
    {GVW_OP_EVENT_ELAPSED, h_elapsed},
    {0, NULL},
};

const struct srv_group srv_group_stream = {entries, init};
