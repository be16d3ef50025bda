/* SPDX-License-Identifier: Apache-2.0 */
/* pools.c: stream-ordered memory is charged what its pools hold on the device.
 *
 * A pool keeps memory on the device after cuMemFreeAsync: it keeps freed blocks up to its release
 * threshold (raised to the maximum by a common cudaMallocAsync idiom), it grows by whole granules
 * and with every request larger than its free blocks, and a free queued behind long work gives its
 * block back only when the stream reaches it. Charging each allocation its size, and returning it
 * at the free call, would let a slice hold many times its size. So the charge belongs to the pool,
 * not to its allocations: each pool that hands out device memory is charged its reserved memory
 * (CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) as last read, plus a pending charge for every request
 * the driver is still answering.
 *
 * - A request is charged before the driver is asked: its size rounded up to the granule, the most
 *   one request can grow a pool by (the pending charge). Afterwards the pool is read and settled:
 *   the pending charge goes, and the pool is charged what it reserves.
 * - Memory leaves the device only at points where the driver may release it: synchronizing calls
 *   (where it gives freed memory above the threshold back), cuMemPoolTrimTo, a lower threshold,
 *   cuMemPoolDestroy, a context's destruction, and a trim made here when a charge would pass the
 *   slice. There the pools are read again and their charges lowered; cuMemGetInfo reads them too.
 *   Between those points a pool may be charged more than it holds (the instance under-uses), never
 *   less.
 * - Readings race with requests in other threads; a request's growth is covered by its pending
 *   charge until its own settle, which reads after the driver answered. `gen` counts settles: a
 *   reading taken before a settle that has since been written may never lower the charge.
 * - Pools imported from another process are not charged here: their owner is charged for them.
 *
 * There are few pools: a fixed array, searched linearly, under one lock held only for the table
 * operation, never across a driver call. A pool that does not fit is left to the caller, which
 * charges its allocations one by one. A fork()ed child starts empty. */
#include "shim/shim.h"

#include <pthread.h>
#include <string.h>

#define MAX_POOLS    256
#define POOL_GRANULE (2ull << 20) /* a pool maps device memory in these units */

struct pool {
    uint64_t pool; /* the handle */
    CUmemLocation loc;
    CUdevice dev;     /* where it is charged; -1 before its first request */
    uint64_t held;    /* charged for its reserved memory, as last read */
    uint64_t pending; /* charged for requests the driver is still answering */
    uint64_t gen;     /* settles written so far */
    bool imported;    /* another process's pool: charged there */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pool pools[MAX_POOLS];
static size_t npools;
static uint64_t held_total; /* sum of `held`, read without the lock to skip idle re-reads */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static __thread bool trimming;

static void child_reset(void)
{
    pthread_mutex_init(&lock, NULL);
    npools = 0;
    held_total = 0;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_reset);
}

static uint64_t estimate(uint64_t bytes)
{
    return bytes > UINT64_MAX - POOL_GRANULE
               ? UINT64_MAX
               : (bytes + POOL_GRANULE - 1) / POOL_GRANULE * POOL_GRANULE;
}

/* Under the lock. */
static struct pool *find(uint64_t pool)
{
    for (size_t i = 0; i < npools; i++)
        if (pools[i].pool == pool)
            return &pools[i];
    return NULL;
}

/* Under the lock: the entry of `pool`, made when new; NULL when the table is full. */
static struct pool *entry(uint64_t pool, const CUmemLocation *loc)
{
    struct pool *p = find(pool);
    if (p || npools == MAX_POOLS)
        return p;
    p = &pools[npools++];
    *p = (struct pool){.pool = pool, .loc = *loc, .dev = -1};
    return p;
}

/* Under the lock: set a pool's charge, keeping the total. */
static void set_held(struct pool *p, uint64_t held)
{
    __atomic_store_n(&held_total, held_total - p->held + held, __ATOMIC_RELEASE);
    p->held = held;
}

static bool reserved_of(uint64_t pool, uint64_t *bytes)
{
    cuuint64_t v = 0;
    if (!gvs_real.cuMemPoolGetAttribute ||
        gvs_real.cuMemPoolGetAttribute((CUmemoryPool)(uintptr_t)pool,
                                       CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v) != CUDA_SUCCESS)
        return false;
    *bytes = v;
    return true;
}

void gvs_pool_remember(uint64_t pool, const CUmemLocation *loc)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&lock);
    struct pool *p = entry(pool, loc);
    /* A pool handle reused after cuMemPoolDestroy gets the new pool's location here. Unknown
     * pools are charged to the current device: right for most programs. */
    if (p)
        p->loc = *loc;
    pthread_mutex_unlock(&lock);
}

bool gvs_pool_location(uint64_t pool, CUmemLocation *loc)
{
    pthread_mutex_lock(&lock);
    struct pool *p = find(pool);
    if (p)
        *loc = p->loc;
    pthread_mutex_unlock(&lock);
    return p != NULL;
}

void gvs_pool_imported(uint64_t pool, const CUmemLocation *loc)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&lock);
    struct pool *p = entry(pool, loc);
    if (p)
        p->imported = true;
    pthread_mutex_unlock(&lock);
}

enum gvs_pool_charge gvs_pool_charge(uint64_t pool, CUdevice dev, uint64_t bytes)
{
    uint64_t est = estimate(bytes);
    CUmemLocation here = {.type = CU_MEM_LOCATION_TYPE_DEVICE, .id = dev};
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&lock);
    struct pool *p = entry(pool, &here);
    enum gvs_pool_charge st = !p                             ? GVS_POOL_UNTRACKED
                              : p->imported                  ? GVS_POOL_FREE
                              : p->dev >= 0 && p->dev != dev ? GVS_POOL_UNTRACKED
                                                             : GVS_POOL_CHARGED;
    if (st == GVS_POOL_CHARGED)
        p->dev = dev;
    pthread_mutex_unlock(&lock);
    if (st != GVS_POOL_CHARGED)
        return st;
    if (gvs_charge(dev, est) != CUDA_SUCCESS)
        return GVS_POOL_REFUSED;
    pthread_mutex_lock(&lock);
    p = find(pool);
    if (p)
        p->pending += est;
    pthread_mutex_unlock(&lock);
    if (!p) { /* destroyed meanwhile: the caller charges the request by itself */
        gvs_uncharge(dev, est);
        return GVS_POOL_UNTRACKED;
    }
    return GVS_POOL_CHARGED;
}

CUresult gvs_pool_settle(uint64_t pool, uint64_t bytes, bool allocated)
{
    uint64_t est = estimate(bytes), gen = 0, now = 0;
    pthread_mutex_lock(&lock);
    struct pool *p = find(pool);
    if (p)
        gen = p->gen;
    pthread_mutex_unlock(&lock);
    bool read = reserved_of(pool, &now);
    pthread_mutex_lock(&lock);
    p = find(pool);
    if (!p) {
        pthread_mutex_unlock(&lock);
        return CUDA_SUCCESS; /* destroyed meanwhile, with what it held */
    }
    CUdevice dev = p->dev;
    uint64_t old = p->held, want;
    if (!read)
        want = allocated ? old + est : old; /* unknown: keep what the request was charged */
    else if (p->gen == gen)
        want = now;
    else
        want = now > old ? now : old; /* a newer reading was written: only raise */
    p->pending -= est;
    p->gen++;
    set_held(p, want);
    pthread_mutex_unlock(&lock);
    /* The pool was charged old + est for this, and is now to be charged want. */
    if (want <= old + est) {
        if (want < old + est)
            gvs_uncharge(dev, old + est - want);
        return CUDA_SUCCESS;
    }
    uint64_t more = want - old - est;
    if (gvs_charge(dev, more) == CUDA_SUCCESS)
        return CUDA_SUCCESS;
    /* The pool grew by more than a request can and the slice has no room for it: the books keep
     * what was charged, and the caller gives the request back. */
    pthread_mutex_lock(&lock);
    p = find(pool);
    if (p)
        set_held(p, p->held > more ? p->held - more : 0);
    pthread_mutex_unlock(&lock);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

uint64_t gvs_pools_reread(CUdevice dev, uint64_t only)
{
    if (!__atomic_load_n(&held_total, __ATOMIC_ACQUIRE))
        return 0;
    struct {
        uint64_t pool, gen;
    } todo[MAX_POOLS];
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < npools; i++) {
        const struct pool *p = &pools[i];
        if (p->held && (dev < 0 || p->dev == dev) && (!only || p->pool == only)) {
            todo[n].pool = p->pool;
            todo[n].gen = p->gen;
            n++;
        }
    }
    pthread_mutex_unlock(&lock);
    uint64_t lowered = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t now, less = 0;
        if (!reserved_of(todo[i].pool, &now))
            continue;
        pthread_mutex_lock(&lock);
        struct pool *p = find(todo[i].pool);
        CUdevice where = p ? p->dev : -1;
        if (p && p->gen == todo[i].gen && now < p->held) {
            less = p->held - now;
            set_held(p, now);
        }
        pthread_mutex_unlock(&lock);
        if (less) {
            gvs_uncharge(where, less);
            lowered += less;
        }
    }
    return lowered;
}

bool gvs_pools_trim(CUdevice dev)
{
    /* Trimming lowers charges only; a charge made while trimming does not trim again. */
    if (trimming || !gvs_real.cuMemPoolTrimTo || !__atomic_load_n(&held_total, __ATOMIC_ACQUIRE))
        return false;
    uint64_t todo[MAX_POOLS];
    size_t n = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < npools; i++)
        if (pools[i].held && pools[i].dev == dev)
            todo[n++] = pools[i].pool;
    pthread_mutex_unlock(&lock);
    trimming = true;
    /* Trimming to 0 releases the idle memory only: blocks in use, and blocks whose free the
     * stream has not reached, stay. */
    for (size_t i = 0; i < n; i++)
        gvs_real.cuMemPoolTrimTo((CUmemoryPool)(uintptr_t)todo[i], 0);
    uint64_t lowered = gvs_pools_reread(dev, 0);
    trimming = false;
    return lowered > 0;
}

void gvs_pool_destroyed(uint64_t pool, uint64_t kept)
{
    pthread_mutex_lock(&lock);
    struct pool *p = find(pool);
    CUdevice dev = -1;
    uint64_t give = 0;
    if (p) {
        dev = p->dev;
        give = p->held > kept ? p->held - kept : 0;
        set_held(p, 0);
        *p = pools[--npools];
    }
    pthread_mutex_unlock(&lock);
    /* What the pool's live blocks keep on the device stays charged (it is returned when the
     * process ends). */
    if (give)
        gvs_uncharge(dev, give);
}
