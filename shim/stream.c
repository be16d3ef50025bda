/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c: where a stream's work goes, its context and that context's device.
 *
 * Work is held to the turns of the GPU it runs on, and that is the GPU of the stream's context,
 * not of whatever context the calling thread has current: a thread may launch into a stream of a
 * context that is not current, of another GPU, or with no context current at all. The default
 * streams (NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD) mean the current context.
 *
 * This runs on every limited launch, so each thread keeps the last few answers: an explicit
 * stream found in the cache costs no driver call; a default stream costs cuCtxGetCurrent, the one
 * call that finding the current device cost before. The answers go stale when a stream or context
 * is destroyed (a new one may get the dead one's handle), so both bump one generation number,
 * and an entry of an older generation is never used. */
#include <stdatomic.h>

#include "shim/hooks.h"

#define CACHE 4

static _Atomic unsigned gen;

/* key: the stream, or for a default stream the current context. */
static __thread struct {
    uintptr_t key;
    CUcontext ctx;
    CUdevice dev;
    unsigned gen;
} cache[CACHE];
static __thread unsigned next_slot;

void gvs_contexts_changed(void)
{
    atomic_fetch_add_explicit(&gen, 1, memory_order_acq_rel);
}

static bool is_default(CUstream s)
{
    return s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD;
}

/* The device of context c, which need not be current. */
static CUdevice device_of(CUcontext c, bool current)
{
    CUdevice d = -1;
    if (current)
        return gvs_real.cuCtxGetDevice && gvs_real.cuCtxGetDevice(&d) == CUDA_SUCCESS ? d : -1;
    CUcontext popped = NULL;
    if (!gvs_real.cuCtxPushCurrent_v2 || !gvs_real.cuCtxPopCurrent_v2 || !gvs_real.cuCtxGetDevice ||
        gvs_real.cuCtxPushCurrent_v2(c) != CUDA_SUCCESS)
        return -1;
    if (gvs_real.cuCtxGetDevice(&d) != CUDA_SUCCESS)
        d = -1;
    gvs_real.cuCtxPopCurrent_v2(&popped);
    return d;
}

int gvs_stream_where(CUstream stream, CUcontext *ctx, CUdevice *dev)
{
    unsigned g = atomic_load_explicit(&gen, memory_order_acquire);
    bool def = is_default(stream);
    CUcontext c = NULL;
    uintptr_t key = (uintptr_t)stream;
    if (def) {
        if (!gvs_real.cuCtxGetCurrent || gvs_real.cuCtxGetCurrent(&c) != CUDA_SUCCESS || !c)
            return -1;
        key = (uintptr_t)c;
    }
    for (int i = 0; i < CACHE; i++)
        if (cache[i].key == key && cache[i].gen == g) {
            *ctx = cache[i].ctx;
            *dev = cache[i].dev;
            return 0;
        }
    if (!def &&
        (!gvs_real.cuStreamGetCtx || gvs_real.cuStreamGetCtx(stream, &c) != CUDA_SUCCESS || !c))
        return -1;
    CUcontext cur = NULL;
    bool current = def || (gvs_real.cuCtxGetCurrent &&
                           gvs_real.cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur == c);
    CUdevice d = device_of(c, current);
    if (d < 0)
        return -1;
    unsigned k = next_slot++ % CACHE;
    cache[k].key = key;
    cache[k].ctx = c;
    cache[k].dev = d;
    cache[k].gen = g;
    *ctx = c;
    *dev = d;
    return 0;
}

/* A destroyed stream's handle may come back for a stream of another context. */
CUresult gvs_cuStreamDestroy(CUstream s)
{
    if (__builtin_expect(!gvs_init() || !gvs_real.cuStreamDestroy, 0))
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = gvs_real.cuStreamDestroy(s);
    gvs_contexts_changed();
    return r;
}

CUresult gvs_cuStreamDestroy_v2(CUstream s)
{
    if (__builtin_expect(!gvs_init() || !gvs_real.cuStreamDestroy_v2, 0))
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = gvs_real.cuStreamDestroy_v2(s);
    gvs_contexts_changed();
    return r;
}
