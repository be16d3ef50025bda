/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_ctx.c: contexts. Each thread's stack of current contexts is kept here (rc.h) and sent with
 * every call, so that making a context current costs no round trip; the server makes it current
 * on its side before each call.
 *
 * Since the stack is the client's, so is knowing when its top died: a created context destroyed
 * (by any thread) is forgotten, and a primary context whose last reference this process released
 * is dead until it is retained again. A call that needs the current context then answers
 * CUDA_ERROR_CONTEXT_IS_DESTROYED, as the driver does for a thread whose context died under it,
 * without asking the server (which no longer knows the handle). */
#include "remote/client/exec.h"

#include <string.h>

#include <pthread.h>

#define NEED_INIT()                                                                                \
    do {                                                                                           \
        if (!rc_initialized())                                                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
    } while (0)

/* Primary contexts by device ordinal: the handle and this process's references to it. */
#define MAX_PRIMARY 64
static pthread_mutex_t prim_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t h;
    int refs;
} prim[MAX_PRIMARY];

/* As cuda_objects.c: a child of fork() must not find the lock held by a thread it lacks. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&prim_mu);
}

static void fork_done(void)
{
    pthread_mutex_unlock(&prim_mu);
}

/* The child's primary contexts are none: the parent's session held them (client.c). */
static void fork_child(void)
{
    memset(prim, 0, sizeof(prim));
    pthread_mutex_unlock(&prim_mu);
}

__attribute__((constructor)) static void fork_safe(void)
{
    pthread_atfork(fork_prepare, fork_done, fork_child);
}

void rcx_primary_retained(int dev, uint64_t ctx)
{
    if (dev < 0 || dev >= MAX_PRIMARY)
        return;
    pthread_mutex_lock(&prim_mu);
    if (prim[dev].h != ctx)
        prim[dev].refs = 0;
    prim[dev].h = ctx;
    prim[dev].refs++;
    pthread_mutex_unlock(&prim_mu);
}

void rcx_primary_released(int dev, bool all)
{
    if (dev < 0 || dev >= MAX_PRIMARY)
        return;
    pthread_mutex_lock(&prim_mu);
    uint64_t h = prim[dev].h;
    if (all || prim[dev].refs <= 1)
        prim[dev].refs = 0;
    else
        prim[dev].refs--;
    bool dead = prim[dev].refs == 0;
    pthread_mutex_unlock(&prim_mu);
    /* The context's streams and events went with it. */
    if (dead && h)
        rco_drop_owner(h);
}

bool rcx_ctx_alive(uint64_t ctx)
{
    if (!ctx || !rc_ctx_is_known(ctx))
        return false;
    bool alive = true;
    pthread_mutex_lock(&prim_mu);
    for (int i = 0; i < MAX_PRIMARY; i++)
        if (prim[i].h == ctx)
            alive = prim[i].refs > 0;
    pthread_mutex_unlock(&prim_mu);
    return alive;
}

CUresult rcx_current(uint64_t *ctx)
{
    NEED_INIT();
    uint64_t c = rc_ctx_current();
    if (!c)
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!rcx_ctx_alive(c))
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *ctx = c;
    return CUDA_SUCCESS;
}

uint64_t rcx_ctx_or_none(void)
{
    uint64_t c = rc_ctx_current();
    return c && rcx_ctx_alive(c) ? c : 0;
}

/* The context a call names: the handle itself, or the current one for NULL. */
static CUresult resolve(CUcontext h, uint64_t *ctx)
{
    NEED_INIT();
    if (!h)
        return rcx_current(ctx);
    if (!rcx_ctx_alive((uint64_t)(uintptr_t)h))
        return CUDA_ERROR_INVALID_CONTEXT;
    *ctx = (uint64_t)(uintptr_t)h;
    return CUDA_SUCCESS;
}

/* A call in context ctx with up to two arguments (u32 or u64 by `fields`) and one answer. */
static CUresult call(unsigned op, uint64_t ctx, const char *fields, uint64_t a, uint64_t b,
                     uint64_t *out1, uint64_t *out2)
{
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, op, ctx);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t args[2] = {a, b};
    for (int i = 0; fields[i] && i < 2; i++) {
        if (fields[i] == 'q')
            gvw_put_u64(c.b, args[i]);
        else
            gvw_put_u32(c.b, (uint32_t)args[i]);
    }
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && out1)
        *out1 = c.r.v[1];
    if (r == CUDA_SUCCESS && out2)
        *out2 = c.r.v[2];
    return rc_end(&c, r);
}

/* A call in the current context. */
static CUresult call_current(unsigned op, const char *fields, uint64_t a, uint64_t b,
                             uint64_t *out1, uint64_t *out2)
{
    uint64_t ctx;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    return call(op, ctx, fields, a, b, out1, out2);
}

/* ---- the current context ---- */

CUresult RC_API cuCtxSetCurrent(CUcontext ctx)
{
    NEED_INIT();
    if (ctx && !rcx_ctx_alive((uint64_t)(uintptr_t)ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    rc_ctx_set((uint64_t)(uintptr_t)ctx);
    return CUDA_SUCCESS;
}

/* No current context is not an error here: the answer is NULL. */
CUresult RC_API cuCtxGetCurrent(CUcontext *pctx)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    *pctx = (CUcontext)(uintptr_t)rc_ctx_current();
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxPushCurrent_v2(CUcontext ctx)
{
    NEED_INIT();
    if (!ctx || !rcx_ctx_alive((uint64_t)(uintptr_t)ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    return rc_ctx_push((uint64_t)(uintptr_t)ctx) ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult RC_API cuCtxPushCurrent(CUcontext ctx)
{
    return cuCtxPushCurrent_v2(ctx);
}

/* Pops even a context that died: the driver does too. */
CUresult RC_API cuCtxPopCurrent_v2(CUcontext *pctx)
{
    NEED_INIT();
    uint64_t top = rc_ctx_current();
    if (!top)
        return CUDA_ERROR_INVALID_CONTEXT;
    rc_ctx_pop();
    if (pctx)
        *pctx = (CUcontext)(uintptr_t)top;
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxPopCurrent(CUcontext *pctx)
{
    return cuCtxPopCurrent_v2(pctx);
}

/* ---- created contexts ---- */

/* The server makes the context and leaves its own thread's stack as it was; the client pushes
 * the new context on the calling thread's stack, as cuCtxCreate does. */
static CUresult create(CUcontext *pctx, unsigned flags, CUdevice dev)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    uint64_t h = 0;
    CUresult r;
    struct rc_call c;
    r = rc_begin_ctx(&c, GVW_OP_CTX_CREATE, rcx_ctx_or_none());
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, flags);
    gvw_put_u32(c.b, (uint32_t)dev);
    gvw_put_bytes(c.b, NULL, 0);
    r = rc_wait(&c);
    h = c.r.v[1];
    rc_end(&c, r);
    if (r != CUDA_SUCCESS)
        return r;
    rc_ctx_known(h);
    if (!rc_ctx_push(h))
        rc_ctx_set(h);
    *pctx = (CUcontext)(uintptr_t)h;
    return CUDA_SUCCESS;
}

CUresult RC_API cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return create(pctx, flags, dev);
}

CUresult RC_API cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return create(pctx, flags, dev);
}

/* Execution affinity and CIG parameters are not served remotely: a context with any is
 * CUDA_ERROR_NOT_SUPPORTED (after the checks of shape the driver makes). */
CUresult RC_API cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                               unsigned int flags, CUdevice dev)
{
    if (numParams < 0 || (numParams > 0 && !paramsArray))
        return CUDA_ERROR_INVALID_VALUE;
    if (numParams > 0)
        return CUDA_ERROR_NOT_SUPPORTED;
    return create(pctx, flags, dev);
}

CUresult RC_API cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                               unsigned int flags, CUdevice dev)
{
    if (ctxCreateParams) {
        if (ctxCreateParams->numExecAffinityParams < 0 ||
            (ctxCreateParams->numExecAffinityParams > 0 && !ctxCreateParams->execAffinityParams))
            return CUDA_ERROR_INVALID_VALUE;
        if (ctxCreateParams->numExecAffinityParams > 0 || ctxCreateParams->cigParams)
            return CUDA_ERROR_NOT_SUPPORTED;
    }
    return create(pctx, flags, dev);
}

/* Take every occurrence of ctx off the calling thread's stack, as destroying it does (other
 * threads find out at their next call). */
static void unstack(uint64_t ctx)
{
    uint64_t kept[64];
    int n = 0;
    while (rc_ctx_current() && n < (int)(sizeof(kept) / sizeof(kept[0]))) {
        uint64_t top = rc_ctx_pop();
        if (top != ctx)
            kept[n++] = top;
    }
    while (n > 0)
        rc_ctx_push(kept[--n]);
}

CUresult RC_API cuCtxDestroy_v2(CUcontext ctx)
{
    NEED_INIT();
    uint64_t h = (uint64_t)(uintptr_t)ctx;
    if (!ctx || !rc_ctx_is_known(h))
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = call(GVW_OP_CTX_DESTROY, rcx_ctx_or_none(), "q", h, 0, NULL, NULL);
    if (r == CUDA_SUCCESS) {
        /* Threads that still have it current find it dead at their next call (rcx_current). */
        unstack(h);
        rc_ctx_forget(h);
        rco_drop_owner(h);
    }
    return r;
}

CUresult RC_API cuCtxDestroy(CUcontext ctx)
{
    return cuCtxDestroy_v2(ctx);
}

/* ---- queries and settings ---- */

CUresult RC_API cuCtxGetDevice(CUdevice *device)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = call_current(GVW_OP_CTX_GET_DEVICE, "", 0, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *device = (CUdevice)v;
    return r;
}

CUresult RC_API cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t h, v = 0;
    CUresult r = resolve(ctx, &h);
    if (r == CUDA_SUCCESS)
        r = call(GVW_OP_CTX_GET_DEVICE, h, "", 0, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *device = (CUdevice)v;
    return r;
}

/* Pushes out every queued call, and returns the first error one of them met. */
/* A synchronize also waits for the host functions queued before it (cuda_stream.c). */
CUresult RC_API cuCtxSynchronize(void)
{
    CUresult r = call_current(GVW_OP_CTX_SYNCHRONIZE, "", 0, 0, NULL, NULL);
    rcx_host_funcs_wait();
    return r;
}

CUresult RC_API cuCtxSynchronize_v2(CUcontext ctx)
{
    uint64_t h;
    CUresult r = resolve(ctx, &h);
    if (r == CUDA_SUCCESS)
        r = call(GVW_OP_CTX_SYNCHRONIZE, h, "", 0, 0, NULL, NULL);
    rcx_host_funcs_wait();
    return r;
}

CUresult RC_API cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t h, v = 0;
    CUresult r = resolve(ctx, &h);
    if (r == CUDA_SUCCESS)
        r = call(GVW_OP_CTX_API_VERSION, h, "q", h, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *version = (unsigned)v;
    return r;
}

CUresult RC_API cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    if (!ctxId)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t h, v = 0;
    CUresult r = resolve(ctx, &h);
    if (r == CUDA_SUCCESS)
        r = call(GVW_OP_CTX_GET_ID, h, "q", h, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *ctxId = v;
    return r;
}

CUresult RC_API cuCtxGetFlags(unsigned int *flags)
{
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = call_current(GVW_OP_CTX_GET_FLAGS, "", 0, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *flags = (unsigned)v;
    return r;
}

CUresult RC_API cuCtxSetFlags(unsigned int flags)
{
    return call_current(GVW_OP_CTX_SET_FLAGS, "i", flags, 0, NULL, NULL);
}

CUresult RC_API cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    if (!pvalue)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = call_current(GVW_OP_CTX_GET_LIMIT, "i", (uint32_t)limit, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *pvalue = (size_t)v;
    return r;
}

CUresult RC_API cuCtxSetLimit(CUlimit limit, size_t value)
{
    return call_current(GVW_OP_CTX_SET_LIMIT, "iq", (uint32_t)limit, value, NULL, NULL);
}

CUresult RC_API cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    if (!pconfig)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = call_current(GVW_OP_CTX_GET_CACHE_CONFIG, "", 0, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *pconfig = (CUfunc_cache)v;
    return r;
}

CUresult RC_API cuCtxSetCacheConfig(CUfunc_cache config)
{
    return call_current(GVW_OP_CTX_SET_CACHE_CONFIG, "i", (uint32_t)config, 0, NULL, NULL);
}

CUresult RC_API cuCtxGetSharedMemConfig(CUsharedconfig *pConfig)
{
    if (!pConfig)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t v = 0;
    CUresult r = call_current(GVW_OP_CTX_GET_SHMEM_CONFIG, "", 0, 0, &v, NULL);
    if (r == CUDA_SUCCESS)
        *pConfig = (CUsharedconfig)v;
    return r;
}

CUresult RC_API cuCtxSetSharedMemConfig(CUsharedconfig config)
{
    return call_current(GVW_OP_CTX_SET_SHMEM_CONFIG, "i", (uint32_t)config, 0, NULL, NULL);
}

CUresult RC_API cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    uint64_t least = 0, greatest = 0;
    CUresult r = call_current(GVW_OP_CTX_STREAM_PRIORITY_RANGE, "", 0, 0, &least, &greatest);
    if (r == CUDA_SUCCESS && leastPriority)
        *leastPriority = (int)(uint32_t)least;
    if (r == CUDA_SUCCESS && greatestPriority)
        *greatestPriority = (int)(uint32_t)greatest;
    return r;
}

CUresult RC_API cuCtxResetPersistingL2Cache(void)
{
    return call_current(GVW_OP_CTX_RESET_L2, "", 0, 0, NULL, NULL);
}

/* The server checks the peer against the session's contexts; a dead one is refused here. */
static CUresult peer(unsigned op, CUcontext peerContext, unsigned flags, bool with_flags)
{
    uint64_t ctx;
    CUresult r = rcx_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    if (with_flags && flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t p = (uint64_t)(uintptr_t)peerContext;
    if (!rcx_ctx_alive(p))
        return CUDA_ERROR_INVALID_CONTEXT;
    return call(op, ctx, with_flags ? "qi" : "q", p, flags, NULL, NULL);
}

CUresult RC_API cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags)
{
    return peer(GVW_OP_CTX_ENABLE_PEER, peerContext, Flags, true);
}

CUresult RC_API cuCtxDisablePeerAccess(CUcontext peerContext)
{
    return peer(GVW_OP_CTX_DISABLE_PEER, peerContext, 0, false);
}
