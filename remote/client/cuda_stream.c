/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_stream.c: streams and events.
 *
 * Records, waits and event destruction go out without a reply (queued until the next call that
 * waits), so their handles are checked here against what this process holds (exec.h): a bad one
 * is refused at the call, as the driver refuses it. The per-thread default-stream entry points
 * (_ptsz) send the per-thread default stream's handle for stream 0; the server has one thread, so
 * every client thread's per-thread stream is the same stream there (ordered more strongly than
 * the driver orders them, never less).
 *
 * Host functions and stream callbacks must run in the client, where their code and data are. The
 * call waits until the stream's work so far is done (remotely), then runs the function on the
 * calling thread before it returns. That orders more strongly than CUDA does (the caller waits,
 * and work queued later cannot overtake the function), which every correct program tolerates;
 * a program that expects the function to run later, on another thread, sees it run earlier. */
#include "remote/client/exec.h"

#include <string.h>

#define NEED_INIT()                                                                                \
    do {                                                                                           \
        if (!rc_initialized())                                                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
    } while (0)

static bool special(uint64_t h)
{
    return h == 0 || h == (uint64_t)(uintptr_t)CU_STREAM_LEGACY ||
           h == (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD;
}

CUresult rcx_stream(CUstream st, bool per_thread, uint64_t *wire, uint64_t *ctx)
{
    NEED_INIT();
    uint64_t h = (uint64_t)(uintptr_t)st;
    if (special(h)) {
        /* The default streams are the current context's. */
        CUresult r = rcx_current(ctx);
        if (r != CUDA_SUCCESS)
            return r;
        *wire = h == 0 && per_thread ? (uint64_t)(uintptr_t)CU_STREAM_PER_THREAD : h;
        return CUDA_SUCCESS;
    }
    if (!rco_has(RCO_STREAM, h))
        return CUDA_ERROR_INVALID_HANDLE;
    *ctx = rcx_ctx_or_none();
    *wire = h;
    return CUDA_SUCCESS;
}

/* One call in context ctx: fields are u64 (q) or u32 (i), from args; the first answer (a u64 or
 * u32) in *out. wait=false queues it without a reply. */
static CUresult call(unsigned op, uint64_t ctx, const char *fields, const uint64_t *args, bool wait,
                     uint64_t *out)
{
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, op, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    for (int i = 0; fields[i]; i++) {
        if (fields[i] == 'q')
            gvw_put_u64(c.b, args[i]);
        else
            gvw_put_u32(c.b, (uint32_t)args[i]);
    }
    if (!wait)
        return rc_end(&c, rc_post(&c));
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && out)
        *out = c.r.v[1];
    return rc_end(&c, r);
}

/* A call on one stream. */
static CUresult on_stream(unsigned op, CUstream st, bool pt, uint64_t *out)
{
    uint64_t wire, ctx;
    CUresult r = rcx_stream(st, pt, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    return call(op, ctx, "q", &wire, true, out);
}

/* ---- streams ---- */

CUresult RC_API cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    if (!phStream)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)CU_STREAM_NON_BLOCKING)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t ctx, h = 0;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t args[2] = {flags, (uint32_t)priority};
    r = call(GVW_OP_STREAM_CREATE, ctx, "ii", args, true, &h);
    if (r != CUDA_SUCCESS)
        return r;
    if (!rco_add(RCO_STREAM, h, ctx)) {
        call(GVW_OP_STREAM_DESTROY, ctx, "q", &h, true, NULL);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phStream = (CUstream)(uintptr_t)h;
    return CUDA_SUCCESS;
}

CUresult RC_API cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return cuStreamCreateWithPriority(phStream, Flags, 0);
}

/* Work already queued on the stream still runs; the handle is gone at once. */
CUresult RC_API cuStreamDestroy_v2(CUstream hStream)
{
    NEED_INIT();
    uint64_t h = (uint64_t)(uintptr_t)hStream;
    if (special(h) || !rco_has(RCO_STREAM, h))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = call(GVW_OP_STREAM_DESTROY, rcx_ctx_or_none(), "q", &h, true, NULL);
    if (r == CUDA_SUCCESS)
        rco_del(RCO_STREAM, h);
    return r;
}

CUresult RC_API cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}

CUresult RC_API cuStreamSynchronize(CUstream hStream)
{
    return on_stream(GVW_OP_STREAM_SYNCHRONIZE, hStream, false, NULL);
}

CUresult RC_API cuStreamSynchronize_ptsz(CUstream hStream)
{
    return on_stream(GVW_OP_STREAM_SYNCHRONIZE, hStream, true, NULL);
}

CUresult RC_API cuStreamQuery(CUstream hStream)
{
    return on_stream(GVW_OP_STREAM_QUERY, hStream, false, NULL);
}

CUresult RC_API cuStreamQuery_ptsz(CUstream hStream)
{
    return on_stream(GVW_OP_STREAM_QUERY, hStream, true, NULL);
}

static CUresult wait_event(CUstream st, CUevent ev, unsigned flags, bool pt)
{
    if (flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t wire, ctx;
    CUresult r = rcx_stream(st, pt, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t e = (uint64_t)(uintptr_t)ev;
    if (!rco_has(RCO_EVENT, e))
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t args[3] = {wire, e, flags};
    return call(GVW_OP_STREAM_WAIT_EVENT, ctx, "qqi", args, false, NULL);
}

CUresult RC_API cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return wait_event(hStream, hEvent, Flags, false);
}

CUresult RC_API cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return wait_event(hStream, hEvent, Flags, true);
}

static CUresult stream_u32(unsigned op, CUstream st, bool pt, void *out)
{
    if (!out)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = on_stream(op, st, pt, &v);
    if (r == CUDA_SUCCESS) {
        uint32_t u = (uint32_t)v;
        memcpy(out, &u, sizeof(u));
    }
    return r;
}

CUresult RC_API cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return stream_u32(GVW_OP_STREAM_GET_FLAGS, hStream, false, flags);
}

CUresult RC_API cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return stream_u32(GVW_OP_STREAM_GET_FLAGS, hStream, true, flags);
}

CUresult RC_API cuStreamGetPriority(CUstream hStream, int *priority)
{
    return stream_u32(GVW_OP_STREAM_GET_PRIORITY, hStream, false, priority);
}

CUresult RC_API cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return stream_u32(GVW_OP_STREAM_GET_PRIORITY, hStream, true, priority);
}

static CUresult get_ctx(CUstream st, bool pt, CUcontext *pctx)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = on_stream(GVW_OP_STREAM_GET_CTX, st, pt, &v);
    if (r == CUDA_SUCCESS)
        *pctx = (CUcontext)(uintptr_t)v;
    return r;
}

CUresult RC_API cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return get_ctx(hStream, false, pctx);
}

CUresult RC_API cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return get_ctx(hStream, true, pctx);
}

/* ---- host functions: run here, once the stream's work so far is done ---- */

/* Wait for the stream; returns the stream's status for the function, or, in *fatal, an error
 * that means the function must not run at all (a bad handle, no context, a lost server). */
static CUresult drain(CUstream st, bool pt, bool *fatal)
{
    CUresult r = on_stream(GVW_OP_STREAM_SYNCHRONIZE, st, pt, NULL);
    *fatal = r == CUDA_ERROR_INVALID_HANDLE || r == CUDA_ERROR_INVALID_CONTEXT ||
             r == CUDA_ERROR_CONTEXT_IS_DESTROYED || r == CUDA_ERROR_NOT_INITIALIZED ||
             r == CUDA_ERROR_DEVICE_UNAVAILABLE || r == CUDA_ERROR_NO_DEVICE;
    return r;
}

static CUresult add_callback(CUstream st, CUstreamCallback cb, void *user, unsigned flags, bool pt)
{
    if (!cb || flags)
        return CUDA_ERROR_INVALID_VALUE;
    bool fatal;
    CUresult status = drain(st, pt, &fatal);
    if (fatal)
        return status;
    /* A callback hears the stream's error, as the driver tells it. */
    cb(st, status, user);
    return CUDA_SUCCESS;
}

CUresult RC_API cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
                                    unsigned int flags)
{
    return add_callback(hStream, callback, userData, flags, false);
}

CUresult RC_API cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback,
                                         void *userData, unsigned int flags)
{
    return add_callback(hStream, callback, userData, flags, true);
}

static CUresult host_func(CUstream st, CUhostFn fn, void *user, bool pt)
{
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    bool fatal;
    CUresult status = drain(st, pt, &fatal);
    /* A host function does not run behind an error: the stream is broken. */
    if (status != CUDA_SUCCESS)
        return status;
    fn(user);
    return CUDA_SUCCESS;
}

CUresult RC_API cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_func(hStream, fn, userData, false);
}

CUresult RC_API cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
    return host_func(hStream, fn, userData, true);
}

/* ---- events ---- */

CUresult RC_API cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    if (!phEvent)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if ((Flags & ~known) || ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING)))
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t ctx, h = 0, flags = Flags;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    r = call(GVW_OP_EVENT_CREATE, ctx, "i", &flags, true, &h);
    if (r != CUDA_SUCCESS)
        return r;
    if (!rco_add(RCO_EVENT, h, ctx)) {
        call(GVW_OP_EVENT_DESTROY, ctx, "q", &h, false, NULL);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *phEvent = (CUevent)(uintptr_t)h;
    return CUDA_SUCCESS;
}

/* Records still queued keep the event until they complete; the handle is gone at once. */
CUresult RC_API cuEventDestroy_v2(CUevent hEvent)
{
    NEED_INIT();
    uint64_t h = (uint64_t)(uintptr_t)hEvent;
    if (!rco_del(RCO_EVENT, h))
        return CUDA_ERROR_INVALID_HANDLE;
    return call(GVW_OP_EVENT_DESTROY, rcx_ctx_or_none(), "q", &h, false, NULL);
}

CUresult RC_API cuEventDestroy(CUevent hEvent)
{
    return cuEventDestroy_v2(hEvent);
}

static CUresult record(CUevent ev, CUstream st, unsigned flags, bool pt)
{
    if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    uint64_t e = (uint64_t)(uintptr_t)ev;
    if (!rco_has(RCO_EVENT, e))
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t wire, ctx;
    CUresult r = rcx_stream(st, pt, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t args[3] = {e, wire, flags};
    return call(GVW_OP_EVENT_RECORD, ctx, "qqi", args, false, NULL);
}

CUresult RC_API cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return record(hEvent, hStream, 0, false);
}

CUresult RC_API cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return record(hEvent, hStream, 0, true);
}

CUresult RC_API cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return record(hEvent, hStream, flags, false);
}

CUresult RC_API cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    return record(hEvent, hStream, flags, true);
}

static CUresult on_event(unsigned op, CUevent ev)
{
    NEED_INIT();
    uint64_t e = (uint64_t)(uintptr_t)ev;
    if (!rco_has(RCO_EVENT, e))
        return CUDA_ERROR_INVALID_HANDLE;
    return call(op, rcx_ctx_or_none(), "q", &e, true, NULL);
}

CUresult RC_API cuEventQuery(CUevent hEvent)
{
    return on_event(GVW_OP_EVENT_QUERY, hEvent);
}

CUresult RC_API cuEventSynchronize(CUevent hEvent)
{
    return on_event(GVW_OP_EVENT_SYNCHRONIZE, hEvent);
}

/* The milliseconds travel as the float's bits. */
CUresult RC_API cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    uint64_t a = (uint64_t)(uintptr_t)hStart, b = (uint64_t)(uintptr_t)hEnd;
    if (!rco_has(RCO_EVENT, a) || !rco_has(RCO_EVENT, b))
        return CUDA_ERROR_INVALID_HANDLE;
    uint64_t args[2] = {a, b}, v = 0;
    CUresult r = call(GVW_OP_EVENT_ELAPSED, rcx_ctx_or_none(), "qq", args, true, &v);
    if (r == CUDA_SUCCESS) {
        uint32_t bits = (uint32_t)v;
        memcpy(pMilliseconds, &bits, sizeof(bits));
    }
    return r;
}

CUresult RC_API cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}
