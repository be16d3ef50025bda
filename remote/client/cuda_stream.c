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
 * Host functions and stream callbacks must run in the client, where their code and data are. Each
 * is queued behind an event recorded on its stream, and a thread of the client runs them in the
 * order they were queued, each once its event has completed: the caller does not wait. The
 * stream's later work on the GPU does not wait for the function as it would on a local GPU; no
 * program can tell, since the GPU reaches this process's memory only at its calls (a copy's bytes
 * travel at the call). Synchronizing calls wait for the functions queued before them. */
#include "remote/client/exec.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
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

/* A synchronize also waits for the host functions queued before it. */
static CUresult stream_sync(CUstream st, bool pt)
{
    CUresult r = on_stream(GVW_OP_STREAM_SYNCHRONIZE, st, pt, NULL);
    rcx_host_funcs_wait();
    return r;
}

CUresult RC_API cuStreamSynchronize(CUstream hStream)
{
    return stream_sync(hStream, false);
}

CUresult RC_API cuStreamSynchronize_ptsz(CUstream hStream)
{
    return stream_sync(hStream, true);
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

/* ---- host functions: run here, once the stream's work before them is done ---- */

/* A host function or stream callback waiting for the work queued before it: an event recorded on
 * its stream when it was queued marks that point, and the connection's host-function thread runs
 * the entries in the order they were queued, each once its event has completed. */
struct hostfn {
    uint64_t seq;
    uint64_t ctx, event;
    CUstream stream; /* as the caller named it, for a callback */
    CUhostFn fn;
    CUstreamCallback cb;
    void *user;
    struct hostfn *next;
};

static pthread_mutex_t hf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hf_cond = PTHREAD_COND_INITIALIZER;
static struct hostfn *hf_head, *hf_tail;
static uint64_t hf_queued, hf_done; /* sequence numbers: queued so far, run (or dropped) so far */
static bool hf_running;

#define HOSTFN_POLL_NS 100000L

static void *hostfn_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&hf_mu);
    for (;;) {
        while (!hf_head)
            pthread_cond_wait(&hf_cond, &hf_mu);
        struct hostfn *h = hf_head;
        pthread_mutex_unlock(&hf_mu);
        /* Until the work before it is done; a broken stream or connection ends the wait. */
        CUresult r;
        uint64_t e = h->event;
        while ((r = call(GVW_OP_EVENT_QUERY, h->ctx, "q", &e, true, NULL)) ==
               CUDA_ERROR_NOT_READY) {
            struct timespec ts = {0, HOSTFN_POLL_NS};
            nanosleep(&ts, NULL);
        }
        /* A callback hears the stream's error, as the driver tells it; a host function does not
         * run behind one. */
        if (h->cb)
            h->cb(h->stream, r, h->user);
        else if (r == CUDA_SUCCESS)
            h->fn(h->user);
        call(GVW_OP_EVENT_DESTROY, h->ctx, "q", &e, false, NULL);
        pthread_mutex_lock(&hf_mu);
        hf_head = h->next;
        if (!hf_head)
            hf_tail = NULL;
        hf_done = h->seq;
        free(h);
        pthread_cond_broadcast(&hf_cond);
    }
    return NULL;
}

/* A child of fork() has none of its parent's host functions, nor its thread (client.c). */
static void hostfn_fork_child(void)
{
    pthread_mutex_init(&hf_mu, NULL);
    pthread_cond_init(&hf_cond, NULL);
    hf_head = hf_tail = NULL;
    hf_queued = hf_done = 0;
    hf_running = false;
}

__attribute__((constructor)) static void hostfn_fork_safe(void)
{
    pthread_atfork(NULL, NULL, hostfn_fork_child);
}

void rcx_host_funcs_wait(void)
{
    pthread_mutex_lock(&hf_mu);
    uint64_t until = hf_queued;
    while (hf_done < until && hf_running)
        pthread_cond_wait(&hf_cond, &hf_mu);
    pthread_mutex_unlock(&hf_mu);
}

/* Queue fn (or cb) behind the work queued on st so far. */
static CUresult queue_hostfn(CUstream st, bool pt, CUhostFn fn, CUstreamCallback cb, void *user)
{
    uint64_t wire, ctx, e = 0;
    CUresult r = rcx_stream(st, pt, &wire, &ctx);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t flags = CU_EVENT_DISABLE_TIMING;
    if ((r = call(GVW_OP_EVENT_CREATE, ctx, "i", &flags, true, &e)) != CUDA_SUCCESS)
        return r;
    struct hostfn *h = calloc(1, sizeof(*h));
    uint64_t args[3] = {e, wire, 0};
    if (!h || (r = call(GVW_OP_EVENT_RECORD, ctx, "qqi", args, false, NULL)) != CUDA_SUCCESS) {
        free(h);
        call(GVW_OP_EVENT_DESTROY, ctx, "q", &e, false, NULL);
        return h ? r : CUDA_ERROR_OUT_OF_MEMORY;
    }
    *h = (struct hostfn){.ctx = ctx, .event = e, .stream = st, .fn = fn, .cb = cb, .user = user};
    pthread_mutex_lock(&hf_mu);
    if (!hf_running) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        hf_running = pthread_create(&t, &at, hostfn_thread, NULL) == 0;
        pthread_attr_destroy(&at);
        if (!hf_running) {
            pthread_mutex_unlock(&hf_mu);
            call(GVW_OP_EVENT_DESTROY, ctx, "q", &e, false, NULL);
            free(h);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
    }
    h->seq = ++hf_queued;
    if (hf_tail)
        hf_tail->next = h;
    else
        hf_head = h;
    hf_tail = h;
    pthread_cond_broadcast(&hf_cond);
    pthread_mutex_unlock(&hf_mu);
    return CUDA_SUCCESS;
}

static CUresult add_callback(CUstream st, CUstreamCallback cb, void *user, unsigned flags, bool pt)
{
    if (!cb || flags)
        return CUDA_ERROR_INVALID_VALUE;
    return queue_hostfn(st, pt, NULL, cb, user);
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
    return queue_hostfn(st, pt, fn, NULL, user);
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
    CUresult r = on_event(GVW_OP_EVENT_SYNCHRONIZE, hEvent);
    rcx_host_funcs_wait();
    return r;
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
