/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_ctx.c: contexts, primary and created, and each thread's stack of current contexts.
 *
 * A context is a struct gvsim_ctx (sim.h) inside a larger record that carries what only this file
 * needs (limits, cache preferences, id, peers). Primary contexts live in a static array, one per
 * device, and are reference counted by retain/release; created contexts are heap records kept in
 * a registry. A handle is valid only while it is in the registry (or, for a primary, while it is
 * active), so a stale CUcontext is detected by lookup instead of by reading freed memory.
 *
 * Two locks, for two different waits: `reg` guards the registry and is only ever held for a few
 * instructions, because every entry point validates handles through it, including the engine's
 * workers; `life` serializes creation and teardown and is held while a dying context's queued
 * work drains, so that a retain racing a release cannot revive a context whose memory is being
 * freed. Nothing that the workers run takes `life`.
 *
 * The machine counts a process as using a device while it holds at least one context there; the
 * first context on a device registers the process (gvsim_ctx_attach_dev), the last one leaving
 * unregisters it. The first context also takes the device memory a real driver keeps for a
 * process's context (GPUVISOR_SIM_CONTEXT_MEMORY, 0 by default) as the process's own memory, so
 * it shows in NVML's per-process figure and in the device's used memory; a context that cannot get
 * it is not made (CUDA_ERROR_OUT_OF_MEMORY), and the last one leaving gives it back (a process
 * that dies gives it back with the rest of its memory). One charge per process and device, not
 * one per context: a simplification that fits the programs tests run, which use one context per
 * device, as the CUDA runtime does (the primary one). */
#define __CUDA_API_VERSION_INTERNAL 1
#include "sim/sim.h"

#include <cudaTypedefs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define STACK_DEPTH 64
#define API_VERSION 3020 /* what the driver reports for contexts made with the v2+ ABI */

struct ctx {
    struct gvsim_ctx c; /* first, so that a gvsim_ctx * converts to a struct ctx * */
    unsigned long long id;
    size_t limits[CU_LIMIT_MAX];
    CUfunc_cache cache;
    CUsharedconfig shmem;
    uint32_t peers; /* bit d: peer access to device d enabled */
};

static pthread_mutex_t reg = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t life = PTHREAD_MUTEX_INITIALIZER;
static struct ctx primary[GVSIM_MAX_DEVICES];
static struct ctx **created; /* registry of live created contexts */
static size_t ncreated, capcreated;
static int dev_users[GVSIM_MAX_DEVICES]; /* live contexts per device; under `life` */
/* Context memory charged per device (what user_drop gives back); under `life`. */
static uint64_t dev_ctx_mem[GVSIM_MAX_DEVICES];
static atomic_ullong next_id = 1;

static __thread struct gvsim_ctx *stack[STACK_DEPTH];
static __thread int depth;

static struct ctx *full(struct gvsim_ctx *c)
{
    return (struct ctx *)c;
}

static bool valid_locked(const struct gvsim_ctx *c)
{
    if (!c)
        return false;
    const struct ctx *x = (const struct ctx *)c;
    if (x >= primary && x < primary + GVSIM_MAX_DEVICES)
        return c->magic == GVSIM_CTX_MAGIC && c->active;
    for (size_t i = 0; i < ncreated; i++)
        if (&created[i]->c == c)
            return c->magic == GVSIM_CTX_MAGIC;
    return false;
}

bool gvsim_ctx_valid(const struct gvsim_ctx *ctx)
{
    pthread_mutex_lock(&reg);
    bool ok = valid_locked(ctx);
    pthread_mutex_unlock(&reg);
    return ok;
}

CUresult gvsim_current(struct gvsim_ctx **ctx)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (depth == 0 || !stack[depth - 1])
        return CUDA_ERROR_INVALID_CONTEXT;
    if (!gvsim_ctx_valid(stack[depth - 1]))
        return CUDA_ERROR_CONTEXT_IS_DESTROYED;
    *ctx = stack[depth - 1];
    return CUDA_SUCCESS;
}

/* The context a call names: the handle itself, or the current one for NULL. */
static CUresult resolve(CUcontext h, struct gvsim_ctx **out)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!h)
        return gvsim_current(out);
    struct gvsim_ctx *c = (struct gvsim_ctx *)h;
    if (!gvsim_ctx_valid(c))
        return CUDA_ERROR_INVALID_CONTEXT;
    *out = c;
    return CUDA_SUCCESS;
}

static void defaults(struct ctx *x, int dev, unsigned flags, bool is_primary)
{
    memset(x, 0, sizeof(*x));
    x->c.dev = dev;
    x->c.flags = flags;
    x->c.primary = is_primary;
    x->id = atomic_fetch_add(&next_id, 1);
    x->limits[CU_LIMIT_STACK_SIZE] = 1024;
    x->limits[CU_LIMIT_PRINTF_FIFO_SIZE] = 1 << 20;
    x->limits[CU_LIMIT_MALLOC_HEAP_SIZE] = 8 << 20;
    x->limits[CU_LIMIT_DEV_RUNTIME_SYNC_DEPTH] = 2;
    x->limits[CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT] = 2048;
    x->limits[CU_LIMIT_MAX_L2_FETCH_GRANULARITY] = 64;
    x->cache = CU_FUNC_CACHE_PREFER_NONE;
    x->shmem = CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE;
}

/* Under `life`. A new context on dev: the first one charges the context memory, and fails with
 * CUDA_ERROR_OUT_OF_MEMORY (changing nothing) when the device has not that much free. */
static CUresult user_add(int dev)
{
    if (dev_users[dev] == 0) {
        uint64_t bytes = gvsim_context_memory();
        if (bytes && gvsim_mem_charge(dev, bytes) < 0)
            return CUDA_ERROR_OUT_OF_MEMORY;
        dev_ctx_mem[dev] = bytes;
        gvsim_ctx_attach_dev(dev);
    }
    dev_users[dev]++;
    return CUDA_SUCCESS;
}

static void user_drop(int dev)
{
    if (--dev_users[dev] == 0) {
        gvsim_ctx_detach_dev(dev);
        if (dev_ctx_mem[dev])
            gvsim_mem_uncharge(dev, dev_ctx_mem[dev]);
        dev_ctx_mem[dev] = 0;
    }
}

/* Wait for the context's work, then free everything it owns. Under `life`, with the context
 * already invalid to new callers. */
static void teardown(struct gvsim_ctx *c)
{
    gvsim_ctx_sync(c);
    gvsim_ctx_drop_streams(c);
    gvsim_mem_ctx_release(c);
}

/* ------------------------------------------------------------------ primary contexts */

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    struct ctx *p = &primary[dev];
    pthread_mutex_lock(&life);
    /* Activation needs the context's memory first; `life` keeps the state from changing between
     * this look and the activation below. */
    pthread_mutex_lock(&reg);
    bool activate = p->c.magic != GVSIM_CTX_MAGIC || !p->c.active;
    pthread_mutex_unlock(&reg);
    if (activate && (r = user_add(dev)) != CUDA_SUCCESS) {
        pthread_mutex_unlock(&life);
        return r;
    }
    pthread_mutex_lock(&reg);
    if (p->c.magic != GVSIM_CTX_MAGIC) { /* first use in this process: flags default to 0 */
        defaults(p, dev, 0, true);
        p->c.magic = GVSIM_CTX_MAGIC;
    }
    if (activate) {
        /* Flags set while inactive survive activation; the engine's and cuda_mem.c's state
         * records (emptied by the last teardown) belong to those files and are kept. */
        struct gvsim_ctx keep = p->c;
        defaults(p, dev, keep.flags, true);
        p->c.magic = GVSIM_CTX_MAGIC;
        p->c.engine = keep.engine;
        p->c.mem = keep.mem;
        p->c.active = true;
    }
    p->c.refs++;
    pthread_mutex_unlock(&reg);
    pthread_mutex_unlock(&life);
    *pctx = (CUcontext)&p->c;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDevicePrimaryCtxRetain, PFN_cuDevicePrimaryCtxRetain_v7000);

/* Deactivate the primary context of `dev` when `all` or when the last reference goes. */
static CUresult primary_drop(CUdevice dev, bool all)
{
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    struct ctx *p = &primary[dev];
    pthread_mutex_lock(&life);
    pthread_mutex_lock(&reg);
    bool was_active = p->c.magic == GVSIM_CTX_MAGIC && p->c.active;
    if (!was_active && !all) {
        pthread_mutex_unlock(&reg);
        pthread_mutex_unlock(&life);
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    bool dying = was_active && (all || p->c.refs <= 1);
    if (all)
        p->c.refs = 0;
    else
        p->c.refs--;
    if (dying)
        p->c.active = false;
    pthread_mutex_unlock(&reg);
    if (dying) {
        teardown(&p->c);
        user_drop(dev);
    }
    pthread_mutex_unlock(&life);
    return CUDA_SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    return primary_drop(dev, false);
}
GVSIM_ABI(cuDevicePrimaryCtxRelease_v2, PFN_cuDevicePrimaryCtxRelease_v11000);

CUresult cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return primary_drop(dev, false);
}
GVSIM_ABI(cuDevicePrimaryCtxRelease, PFN_cuDevicePrimaryCtxRelease_v7000);

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    return primary_drop(dev, true);
}
GVSIM_ABI(cuDevicePrimaryCtxReset_v2, PFN_cuDevicePrimaryCtxReset_v11000);

CUresult cuDevicePrimaryCtxReset(CUdevice dev)
{
    return primary_drop(dev, true);
}
GVSIM_ABI(cuDevicePrimaryCtxReset, PFN_cuDevicePrimaryCtxReset_v7000);

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&reg);
    const struct ctx *p = &primary[dev];
    bool live = p->c.magic == GVSIM_CTX_MAGIC;
    *flags = live ? p->c.flags : 0;
    *active = live && p->c.active;
    pthread_mutex_unlock(&reg);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDevicePrimaryCtxGetState, PFN_cuDevicePrimaryCtxGetState_v7000);

static CUresult primary_set_flags(CUdevice dev, unsigned flags, bool refuse_active)
{
    if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    struct ctx *p = &primary[dev];
    pthread_mutex_lock(&reg);
    if (p->c.magic != GVSIM_CTX_MAGIC) {
        defaults(p, dev, flags, true);
        p->c.magic = GVSIM_CTX_MAGIC;
    } else if (refuse_active && p->c.active) {
        r = CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE;
    } else {
        p->c.flags = flags;
    }
    pthread_mutex_unlock(&reg);
    return r;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    return primary_set_flags(dev, flags, false);
}
GVSIM_ABI(cuDevicePrimaryCtxSetFlags_v2, PFN_cuDevicePrimaryCtxSetFlags_v11000);

/* Before CUDA 11 the flags of an active primary context could not change. */
CUresult cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    return primary_set_flags(dev, flags, true);
}
GVSIM_ABI(cuDevicePrimaryCtxSetFlags, PFN_cuDevicePrimaryCtxSetFlags_v7000);

/* ------------------------------------------------------------------ created contexts */

static CUresult push(struct gvsim_ctx *c)
{
    if (depth == STACK_DEPTH)
        return CUDA_ERROR_OUT_OF_MEMORY;
    stack[depth++] = c;
    return CUDA_SUCCESS;
}

static CUresult create(CUcontext *pctx, unsigned flags, CUdevice dev)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    if (depth == STACK_DEPTH)
        return CUDA_ERROR_OUT_OF_MEMORY;
    struct ctx *x = malloc(sizeof(*x));
    if (!x)
        return CUDA_ERROR_OUT_OF_MEMORY;
    defaults(x, dev, flags, false);
    x->c.magic = GVSIM_CTX_MAGIC;
    pthread_mutex_lock(&life);
    if ((r = user_add(dev)) != CUDA_SUCCESS) {
        pthread_mutex_unlock(&life);
        free(x);
        return r;
    }
    pthread_mutex_lock(&reg);
    if (ncreated == capcreated) {
        size_t cap = capcreated ? capcreated * 2 : 16;
        struct ctx **n = realloc(created, cap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&reg);
            user_drop(dev);
            pthread_mutex_unlock(&life);
            free(x);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        created = n;
        capcreated = cap;
    }
    created[ncreated++] = x;
    pthread_mutex_unlock(&reg);
    pthread_mutex_unlock(&life);
    push(&x->c);
    *pctx = (CUcontext)&x->c;
    return CUDA_SUCCESS;
}

CUresult cuCtxCreate(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return create(pctx, flags, dev);
}
GVSIM_ABI(cuCtxCreate, PFN_cuCtxCreate_v2000);

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev)
{
    return create(pctx, flags, dev);
}
GVSIM_ABI(cuCtxCreate_v2, PFN_cuCtxCreate_v3020);

/* Execution affinity (an SM count) has nothing to partition on a simulated device; it is
 * checked for shape and otherwise ignored. */
CUresult cuCtxCreate_v3(CUcontext *pctx, CUexecAffinityParam *paramsArray, int numParams,
                        unsigned int flags, CUdevice dev)
{
    if (numParams < 0 || (numParams > 0 && !paramsArray))
        return CUDA_ERROR_INVALID_VALUE;
    return create(pctx, flags, dev);
}
GVSIM_ABI(cuCtxCreate_v3, PFN_cuCtxCreate_v11040);

CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int flags,
                        CUdevice dev)
{
    if (ctxCreateParams && ctxCreateParams->numExecAffinityParams < 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (ctxCreateParams && ctxCreateParams->numExecAffinityParams > 0 &&
        !ctxCreateParams->execAffinityParams)
        return CUDA_ERROR_INVALID_VALUE;
    return create(pctx, flags, dev);
}
GVSIM_ABI(cuCtxCreate_v4, PFN_cuCtxCreate_v12050);

static CUresult destroy(CUcontext h)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    struct gvsim_ctx *c = (struct gvsim_ctx *)h;
    pthread_mutex_lock(&life);
    pthread_mutex_lock(&reg);
    size_t i = 0;
    while (i < ncreated && &created[i]->c != c)
        i++;
    if (i == ncreated) {
        pthread_mutex_unlock(&reg);
        pthread_mutex_unlock(&life);
        return CUDA_ERROR_INVALID_CONTEXT; /* unknown, already destroyed, or a primary context */
    }
    created[i] = created[--ncreated];
    pthread_mutex_unlock(&reg);
    teardown(c);
    user_drop(c->dev);
    c->magic = 0;
    pthread_mutex_unlock(&life);
    /* The caller's own stack forgets it; other threads find out through validation. */
    for (int k = depth - 1; k >= 0; k--) {
        if (stack[k] == c) {
            memmove(&stack[k], &stack[k + 1], (size_t)(depth - k - 1) * sizeof(stack[0]));
            depth--;
        }
    }
    free(full(c));
    return CUDA_SUCCESS;
}

CUresult cuCtxDestroy_v2(CUcontext ctx)
{
    return destroy(ctx);
}
GVSIM_ABI(cuCtxDestroy_v2, PFN_cuCtxDestroy_v4000);

CUresult cuCtxDestroy(CUcontext ctx)
{
    return destroy(ctx);
}
GVSIM_ABI(cuCtxDestroy, PFN_cuCtxDestroy_v2000);

/* ------------------------------------------------------------------ the current context */

static CUresult push_current(CUcontext h)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    struct gvsim_ctx *c = (struct gvsim_ctx *)h;
    if (!c || !gvsim_ctx_valid(c))
        return CUDA_ERROR_INVALID_CONTEXT;
    return push(c);
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
    return push_current(ctx);
}
GVSIM_ABI(cuCtxPushCurrent_v2, PFN_cuCtxPushCurrent_v4000);

CUresult cuCtxPushCurrent(CUcontext ctx)
{
    return push_current(ctx);
}
GVSIM_ABI(cuCtxPushCurrent, PFN_cuCtxPushCurrent_v2000);

static CUresult pop_current(CUcontext *pctx)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    struct gvsim_ctx *c = stack[--depth];
    if (pctx)
        *pctx = (CUcontext)c;
    return CUDA_SUCCESS;
}

CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
    return pop_current(pctx);
}
GVSIM_ABI(cuCtxPopCurrent_v2, PFN_cuCtxPopCurrent_v4000);

CUresult cuCtxPopCurrent(CUcontext *pctx)
{
    return pop_current(pctx);
}
GVSIM_ABI(cuCtxPopCurrent, PFN_cuCtxPopCurrent_v2000);

/* Replaces the top of the stack; NULL unbinds it. */
CUresult cuCtxSetCurrent(CUcontext ctx)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    struct gvsim_ctx *c = (struct gvsim_ctx *)ctx;
    if (!c) {
        if (depth > 0)
            depth--;
        return CUDA_SUCCESS;
    }
    if (!gvsim_ctx_valid(c))
        return CUDA_ERROR_INVALID_CONTEXT;
    if (depth == 0)
        return push(c);
    stack[depth - 1] = c;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxSetCurrent, PFN_cuCtxSetCurrent_v4000);

/* No current context is not an error here: the answer is NULL. */
CUresult cuCtxGetCurrent(CUcontext *pctx)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    *pctx = depth > 0 ? (CUcontext)stack[depth - 1] : NULL;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetCurrent, PFN_cuCtxGetCurrent_v4000);

/* ------------------------------------------------------------------ queries and settings */

CUresult cuCtxGetDevice(CUdevice *device)
{
    struct gvsim_ctx *c;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    *device = c->dev;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetDevice, PFN_cuCtxGetDevice_v2000);

CUresult cuCtxGetDevice_v2(CUdevice *device, CUcontext ctx)
{
    struct gvsim_ctx *c;
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = resolve(ctx, &c);
    if (r != CUDA_SUCCESS)
        return r;
    *device = c->dev;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetDevice_v2, PFN_cuCtxGetDevice_v13000);

CUresult cuCtxSynchronize(void)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    return gvsim_ctx_sync(c);
}
GVSIM_ABI(cuCtxSynchronize, PFN_cuCtxSynchronize_v2000);

CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
    struct gvsim_ctx *c;
    CUresult r = resolve(ctx, &c);
    if (r != CUDA_SUCCESS)
        return r;
    return gvsim_ctx_sync(c);
}
GVSIM_ABI(cuCtxSynchronize_v2, PFN_cuCtxSynchronize_v13000);

CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version)
{
    struct gvsim_ctx *c;
    if (!version)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = resolve(ctx, &c);
    if (r != CUDA_SUCCESS)
        return r;
    *version = API_VERSION;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetApiVersion, PFN_cuCtxGetApiVersion_v3020);

CUresult cuCtxGetFlags(unsigned int *flags)
{
    struct gvsim_ctx *c;
    if (!flags)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    *flags = c->flags;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetFlags, PFN_cuCtxGetFlags_v7000);

CUresult cuCtxSetFlags(unsigned int flags)
{
    struct gvsim_ctx *c;
    if (flags & ~(unsigned)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    c->flags = flags;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxSetFlags, PFN_cuCtxSetFlags_v12010);

CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId)
{
    struct gvsim_ctx *c;
    if (!ctxId)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = resolve(ctx, &c);
    if (r != CUDA_SUCCESS)
        return r;
    *ctxId = full(c)->id;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetId, PFN_cuCtxGetId_v12000);

CUresult cuCtxGetLimit(size_t *pvalue, CUlimit limit)
{
    struct gvsim_ctx *c;
    if (!pvalue)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if ((unsigned)limit >= CU_LIMIT_MAX)
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    *pvalue = full(c)->limits[limit];
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetLimit, PFN_cuCtxGetLimit_v3010);

CUresult cuCtxSetLimit(CUlimit limit, size_t value)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if ((unsigned)limit >= CU_LIMIT_MAX)
        return CUDA_ERROR_UNSUPPORTED_LIMIT;
    if (limit == CU_LIMIT_MAX_L2_FETCH_GRANULARITY && value > 128)
        return CUDA_ERROR_INVALID_VALUE;
    full(c)->limits[limit] = value;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxSetLimit, PFN_cuCtxSetLimit_v3010);

CUresult cuCtxGetCacheConfig(CUfunc_cache *pconfig)
{
    struct gvsim_ctx *c;
    if (!pconfig)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    *pconfig = full(c)->cache;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetCacheConfig, PFN_cuCtxGetCacheConfig_v3020);

CUresult cuCtxSetCacheConfig(CUfunc_cache config)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if ((unsigned)config > CU_FUNC_CACHE_PREFER_EQUAL)
        return CUDA_ERROR_INVALID_VALUE;
    full(c)->cache = config;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxSetCacheConfig, PFN_cuCtxSetCacheConfig_v3020);

CUresult cuCtxGetSharedMemConfig(CUsharedconfig *pConfig)
{
    struct gvsim_ctx *c;
    if (!pConfig)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    *pConfig = full(c)->shmem;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetSharedMemConfig, PFN_cuCtxGetSharedMemConfig_v4020);

CUresult cuCtxSetSharedMemConfig(CUsharedconfig config)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if ((unsigned)config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE)
        return CUDA_ERROR_INVALID_VALUE;
    full(c)->shmem = config;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxSetSharedMemConfig, PFN_cuCtxSetSharedMemConfig_v4020);

/* Numerically lower is higher priority: 0 is the default, -5 the highest, as on current GPUs. */
CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if (leastPriority)
        *leastPriority = 0;
    if (greatestPriority)
        *greatestPriority = -5;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxGetStreamPriorityRange, PFN_cuCtxGetStreamPriorityRange_v5050);

CUresult cuCtxResetPersistingL2Cache(void)
{
    struct gvsim_ctx *c;
    return gvsim_current(&c);
}
GVSIM_ABI(cuCtxResetPersistingL2Cache, PFN_cuCtxResetPersistingL2Cache_v11000);

CUresult cuCtxEnablePeerAccess(CUcontext peerContext, unsigned int Flags)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_ctx *peer = (struct gvsim_ctx *)peerContext;
    if (!peer || !gvsim_ctx_valid(peer))
        return CUDA_ERROR_INVALID_CONTEXT;
    if (peer->dev == c->dev)
        return CUDA_ERROR_INVALID_DEVICE;
    uint32_t bit = 1u << peer->dev;
    if (full(c)->peers & bit)
        return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
    full(c)->peers |= bit;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxEnablePeerAccess, PFN_cuCtxEnablePeerAccess_v4000);

CUresult cuCtxDisablePeerAccess(CUcontext peerContext)
{
    struct gvsim_ctx *c;
    CUresult r = gvsim_current(&c);
    if (r != CUDA_SUCCESS)
        return r;
    struct gvsim_ctx *peer = (struct gvsim_ctx *)peerContext;
    if (!peer || !gvsim_ctx_valid(peer))
        return CUDA_ERROR_INVALID_CONTEXT;
    uint32_t bit = 1u << peer->dev;
    if (!(full(c)->peers & bit))
        return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
    full(c)->peers &= ~bit;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuCtxDisablePeerAccess, PFN_cuCtxDisablePeerAccess_v4000);
