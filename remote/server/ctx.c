/* SPDX-License-Identifier: Apache-2.0 */
/* ctx.c: contexts. The client keeps each thread's current context and sends it with every call;
 * session.c makes it current here before the handler runs, so the calls on "the current context"
 * act on the client thread's one.
 *
 * The session's own thread keeps a stack of at most one context (what session.c set): a context
 * created here is popped at once (the client pushes it on its own thread's stack), and one
 * destroyed here leaves whatever the driver left current. A context's handle, and those of the
 * objects it owns (exec.h), are forgotten when it is destroyed, so that a stale one is refused
 * before the driver sees it. */
#include "remote/server/exec.h"

static PFN_cuCtxCreate_v3020 p_create;
static PFN_cuCtxDestroy_v4000 p_destroy;
static PFN_cuCtxGetDevice_v2000 p_device;
static PFN_cuCtxSynchronize_v2000 p_sync;
static PFN_cuCtxGetCurrent_v4000 p_current;
static PFN_cuCtxPopCurrent_v4000 p_pop;
static PFN_cuCtxGetApiVersion_v3020 p_api;
static PFN_cuCtxGetFlags_v7000 p_get_flags;
static PFN_cuCtxSetFlags_v12010 p_set_flags;
static PFN_cuCtxGetId_v12000 p_id;
static PFN_cuCtxGetLimit_v3010 p_get_limit;
static PFN_cuCtxSetLimit_v3010 p_set_limit;
static PFN_cuCtxGetCacheConfig_v3020 p_get_cache;
static PFN_cuCtxSetCacheConfig_v3020 p_set_cache;
static PFN_cuCtxGetSharedMemConfig_v4020 p_get_shmem;
static PFN_cuCtxSetSharedMemConfig_v4020 p_set_shmem;
static PFN_cuCtxGetStreamPriorityRange_v5050 p_priorities;
static PFN_cuCtxResetPersistingL2Cache_v11000 p_reset_l2;
static PFN_cuCtxEnablePeerAccess_v4000 p_enable_peer;
static PFN_cuCtxDisablePeerAccess_v4000 p_disable_peer;

/* The context the driver has current on the session's thread now. */
static uint64_t driver_current(void)
{
    CUcontext c = NULL;
    return p_current(&c) == CUDA_SUCCESS ? (uint64_t)(uintptr_t)c : 0;
}

/* CTX_CREATE {flags, device, parameters}: parameters (execution affinity, CIG) are not served. */
static int h_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_create);
    if (!srv_device_ok(s, a->v[1]))
        return CUDA_ERROR_INVALID_DEVICE;
    if (a->n[2])
        return CUDA_ERROR_NOT_SUPPORTED;
    CUcontext c = NULL;
    CUresult r = p_create(&c, (unsigned)a->v[0], (CUdevice)a->v[1]);
    if (r != CUDA_SUCCESS)
        return r;
    /* cuCtxCreate pushed it on this thread: back to the context session.c set. */
    CUcontext popped;
    if (p_pop && p_pop(&popped) == CUDA_SUCCESS)
        s->cur_ctx = driver_current();
    else
        s->cur_ctx = (uint64_t)(uintptr_t)c;
    if (!srv_add(s, SRV_CTX, (uint64_t)(uintptr_t)c)) {
        p_destroy(c);
        s->cur_ctx = driver_current();
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)c);
    return CUDA_SUCCESS;
}

static int h_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_destroy);
    if (!srv_has(s, SRV_CTX, a->v[0]))
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = p_destroy((CUcontext)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS) {
        srv_drop_owner(s, a->v[0]);
        srv_del(s, SRV_CTX, a->v[0]);
        s->cur_ctx = driver_current();
    }
    return r;
}

static int h_device(SRV_ARGS)
{
    SRV_UNUSED;
    CUdevice d = 0;
    CUresult r = p_device(&d);
    gvw_put_u32(out, (uint32_t)d);
    return r;
}

/* The client's queued calls came before this one: their first error is the answer. */
static int h_sync(SRV_ARGS)
{
    SRV_UNUSED;
    CUresult r = srv_take_pending(s);
    if (r != CUDA_SUCCESS)
        return r;
    return p_sync();
}

/* A context argument: 0 (the current one) or one of the session's. */
#define CTX_OK(s, c)                                                                               \
    do {                                                                                           \
        if ((c) && !srv_has(s, SRV_CTX, c))                                                        \
            return CUDA_ERROR_INVALID_CONTEXT;                                                     \
    } while (0)

static int h_api_version(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_api);
    CTX_OK(s, a->v[0]);
    unsigned v = 0;
    CUresult r = p_api((CUcontext)(uintptr_t)a->v[0], &v);
    gvw_put_u32(out, v);
    return r;
}

static int h_id(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_id);
    CTX_OK(s, a->v[0]);
    unsigned long long id = 0;
    CUresult r = p_id((CUcontext)(uintptr_t)a->v[0], &id);
    gvw_put_u64(out, id);
    return r;
}

static int h_get_flags(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_flags);
    unsigned f = 0;
    CUresult r = p_get_flags(&f);
    gvw_put_u32(out, f);
    return r;
}

static int h_set_flags(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_flags);
    return p_set_flags((unsigned)a->v[0]);
}

static int h_get_limit(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_limit);
    size_t v = 0;
    CUresult r = p_get_limit(&v, (CUlimit)a->v[0]);
    gvw_put_u64(out, v);
    return r;
}

static int h_set_limit(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_limit);
    return p_set_limit((CUlimit)a->v[0], (size_t)a->v[1]);
}

static int h_get_cache(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_cache);
    CUfunc_cache c = CU_FUNC_CACHE_PREFER_NONE;
    CUresult r = p_get_cache(&c);
    gvw_put_u32(out, (uint32_t)c);
    return r;
}

static int h_set_cache(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_cache);
    return p_set_cache((CUfunc_cache)a->v[0]);
}

static int h_get_shmem(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_get_shmem);
    CUsharedconfig c = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
    CUresult r = p_get_shmem(&c);
    gvw_put_u32(out, (uint32_t)c);
    return r;
}

static int h_set_shmem(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_set_shmem);
    return p_set_shmem((CUsharedconfig)a->v[0]);
}

static int h_priorities(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_priorities);
    int least = 0, greatest = 0;
    CUresult r = p_priorities(&least, &greatest);
    gvw_put_u32(out, (uint32_t)least);
    gvw_put_u32(out, (uint32_t)greatest);
    return r;
}

static int h_reset_l2(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_reset_l2);
    return p_reset_l2();
}

/* The peer must be one of the session's contexts; NULL is the driver's to refuse. */
static int h_enable_peer(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_enable_peer);
    CTX_OK(s, a->v[0]);
    return p_enable_peer((CUcontext)(uintptr_t)a->v[0], (unsigned)a->v[1]);
}

static int h_disable_peer(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_disable_peer);
    CTX_OK(s, a->v[0]);
    return p_disable_peer((CUcontext)(uintptr_t)a->v[0]);
}

static bool init(struct srv *s)
{
    p_create = srv_sym("cuCtxCreate", 3020);
    p_destroy = srv_sym("cuCtxDestroy", 4000);
    p_device = srv_sym("cuCtxGetDevice", 2000);
    p_sync = srv_sym("cuCtxSynchronize", 2000);
    p_current = srv_sym("cuCtxGetCurrent", 4000);
    p_pop = srv_sym("cuCtxPopCurrent", 4000);
    p_api = srv_sym("cuCtxGetApiVersion", 3020);
    p_get_flags = srv_sym("cuCtxGetFlags", 7000);
    p_set_flags = srv_sym("cuCtxSetFlags", 12010);
    p_id = srv_sym("cuCtxGetId", 12000);
    p_get_limit = srv_sym("cuCtxGetLimit", 3010);
    p_set_limit = srv_sym("cuCtxSetLimit", 3010);
    p_get_cache = srv_sym("cuCtxGetCacheConfig", 3020);
    p_set_cache = srv_sym("cuCtxSetCacheConfig", 3020);
    p_get_shmem = srv_sym("cuCtxGetSharedMemConfig", 4020);
    p_set_shmem = srv_sym("cuCtxSetSharedMemConfig", 4020);
    p_priorities = srv_sym("cuCtxGetStreamPriorityRange", 5050);
    p_reset_l2 = srv_sym("cuCtxResetPersistingL2Cache", 11000);
    p_enable_peer = srv_sym("cuCtxEnablePeerAccess", 4000);
    p_disable_peer = srv_sym("cuCtxDisablePeerAccess", 4000);
    if (!p_device || !p_sync || !p_current) {
        srv_log(s, "the driver lacks cuCtxGetDevice, cuCtxSynchronize or cuCtxGetCurrent");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_CTX_CREATE, h_create},
    {GVW_OP_CTX_DESTROY, h_destroy},
    {GVW_OP_CTX_GET_DEVICE, h_device},
    {GVW_OP_CTX_SYNCHRONIZE, h_sync},
    {GVW_OP_CTX_API_VERSION, h_api_version},
    {GVW_OP_CTX_GET_FLAGS, h_get_flags},
    {GVW_OP_CTX_SET_FLAGS, h_set_flags},
    {GVW_OP_CTX_GET_ID, h_id},
    {GVW_OP_CTX_GET_LIMIT, h_get_limit},
    {GVW_OP_CTX_SET_LIMIT, h_set_limit},
    {GVW_OP_CTX_GET_CACHE_CONFIG, h_get_cache},
    {GVW_OP_CTX_SET_CACHE_CONFIG, h_set_cache},
    {GVW_OP_CTX_GET_SHMEM_CONFIG, h_get_shmem},
    {GVW_OP_CTX_SET_SHMEM_CONFIG, h_set_shmem},
    {GVW_OP_CTX_STREAM_PRIORITY_RANGE, h_priorities},
    {GVW_OP_CTX_RESET_L2, h_reset_l2},
    {GVW_OP_CTX_ENABLE_PEER, h_enable_peer},
    {GVW_OP_CTX_DISABLE_PEER, h_disable_peer},
    {0, NULL},
};

const struct srv_group srv_group_ctx = {entries, init};
