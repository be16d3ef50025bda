/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_objects.c: the handles the server gave this process, and what owns each (exec.h).
 *
 * A short array under one mutex: a process holds tens of streams, events and functions, not
 * thousands, and each lookup is a few cache lines. Owners make teardown exact: unloading a module
 * forgets its functions, destroying a context forgets its streams and events, so that a stale
 * handle is refused here just as the driver refuses it. A function's parameter layout is kept
 * with it, so that a launch packs its kernelParams into one buffer without a round trip. */
#include "remote/client/exec.h"
#include "remote/client/cuda_mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct obj {
    uint64_t h, owner;
    enum rco_kind kind;
    uint32_t nparams;
    uint32_t *layout; /* offset, size per parameter */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct obj *objs;
static size_t nobjs, capobjs;

/* A child of fork() cannot use its parent's session, but it must not hang on a lock another
 * thread held at the fork either: the record is kept consistent across it. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&mu);
}

static void fork_done(void)
{
    pthread_mutex_unlock(&mu);
}

/* Under mu. */
static void drop_all(void)
{
    for (size_t i = 0; i < nobjs; i++)
        free(objs[i].layout);
    nobjs = 0;
}

/* The child's objects are none: they were the parent's session's (client.c). */
static void fork_child(void)
{
    drop_all();
    pthread_mutex_unlock(&mu);
}

__attribute__((constructor)) static void fork_safe(void)
{
    pthread_atfork(fork_prepare, fork_done, fork_child);
}

/* Under mu. */
static struct obj *find(enum rco_kind k, uint64_t h)
{
    for (size_t i = 0; i < nobjs; i++)
        if (objs[i].h == h && objs[i].kind == k)
            return &objs[i];
    return NULL;
}

bool rco_add(enum rco_kind k, uint64_t h, uint64_t owner)
{
    pthread_mutex_lock(&mu);
    struct obj *o = find(k, h);
    if (!o) {
        if (nobjs == capobjs) {
            size_t cap = capobjs ? capobjs * 2 : 64;
            struct obj *n = realloc(objs, cap * sizeof(*n));
            if (!n) {
                pthread_mutex_unlock(&mu);
                return false;
            }
            objs = n;
            capobjs = cap;
        }
        o = &objs[nobjs++];
        memset(o, 0, sizeof(*o));
    }
    o->h = h;
    o->kind = k;
    o->owner = owner;
    pthread_mutex_unlock(&mu);
    return true;
}

bool rco_has(enum rco_kind k, uint64_t h)
{
    pthread_mutex_lock(&mu);
    bool found = h && find(k, h);
    pthread_mutex_unlock(&mu);
    return found;
}

uint64_t rco_owner(enum rco_kind k, uint64_t h)
{
    pthread_mutex_lock(&mu);
    struct obj *o = find(k, h);
    uint64_t owner = o ? o->owner : 0;
    pthread_mutex_unlock(&mu);
    return owner;
}

/* Under mu: remove entry i (the last one moves into its place). */
static void remove_at(size_t i)
{
    free(objs[i].layout);
    objs[i] = objs[--nobjs];
}

/* Under mu: forget everything `owner` owns, and what those own, and so on. Handles of different
 * kinds may share a value (a library's kernel is its own function on some drivers), so the walk
 * goes by value and ends when a pass removes nothing. */
static void drop_owned(uint64_t owner)
{
    uint64_t stack[64];
    int depth = 0;
    stack[depth++] = owner;
    while (depth > 0) {
        uint64_t o = stack[--depth];
        if (!o)
            continue;
        for (size_t i = 0; i < nobjs;) {
            if (objs[i].owner == o) {
                uint64_t h = objs[i].h;
                remove_at(i);
                if (depth < (int)(sizeof(stack) / sizeof(stack[0])) && h != o)
                    stack[depth++] = h;
            } else {
                i++;
            }
        }
    }
}

bool rco_del(enum rco_kind k, uint64_t h)
{
    pthread_mutex_lock(&mu);
    struct obj *o = find(k, h);
    if (o) {
        remove_at((size_t)(o - objs));
        drop_owned(h);
    }
    pthread_mutex_unlock(&mu);
    return o != NULL;
}

void rco_drop_owner(uint64_t owner)
{
    pthread_mutex_lock(&mu);
    drop_owned(owner);
    pthread_mutex_unlock(&mu);
    rc_devmem_drop_ctx(owner); /* a context's memory goes with it too */
}

void rco_set_layout(enum rco_kind k, uint64_t h, const void *pairs, size_t n)
{
    uint32_t count = (uint32_t)(n / 8);
    uint32_t *v = NULL;
    if (count) {
        v = malloc(count * 2 * sizeof(*v));
        if (!v)
            return;
        struct gvw_rd rd;
        gvw_rd_init(&rd, pairs, n);
        for (uint32_t i = 0; i < 2 * count; i++)
            v[i] = gvw_u32(&rd);
    }
    pthread_mutex_lock(&mu);
    struct obj *o = find(k, h);
    if (o) {
        free(o->layout);
        o->layout = v;
        o->nparams = count;
        v = NULL;
    }
    pthread_mutex_unlock(&mu);
    free(v);
}

/* The server's driver could not say the parameters (wire.h). Under mu. */
static bool layout_unknown(const struct obj *o)
{
    return o->nparams == 1 && o->layout[0] == GVW_LAYOUT_UNKNOWN &&
           o->layout[1] == GVW_LAYOUT_UNKNOWN;
}

bool rco_launchable(uint64_t f)
{
    pthread_mutex_lock(&mu);
    bool ok = f && (find(RCO_FUNCTION, f) || find(RCO_KERNEL, f));
    pthread_mutex_unlock(&mu);
    return ok;
}

CUresult rco_param_info(uint64_t f, size_t i, size_t *off, size_t *size)
{
    pthread_mutex_lock(&mu);
    struct obj *o = find(RCO_FUNCTION, f), *k = find(RCO_KERNEL, f);
    if (k && (!o || !o->layout))
        o = k;
    CUresult r = !o                  ? CUDA_ERROR_INVALID_HANDLE
                 : layout_unknown(o) ? CUDA_ERROR_NOT_SUPPORTED
                 : i >= o->nparams   ? CUDA_ERROR_INVALID_VALUE
                                     : CUDA_SUCCESS;
    if (r == CUDA_SUCCESS) {
        *off = o->layout[2 * i];
        *size = o->layout[2 * i + 1];
    }
    pthread_mutex_unlock(&mu);
    return r;
}

/* The `extra` array's buffer: CU_LAUNCH_PARAM_BUFFER_POINTER and _SIZE, both required. */
static CUresult extra_buffer(void **extra, const void **buf, size_t *len)
{
    const void *p = NULL;
    bool have_size = false;
    /* The array ends with CU_LAUNCH_PARAM_END; a bound keeps a missing end from running away. */
    for (int i = 0; i < 64; i += 2) {
        if (extra[i] == CU_LAUNCH_PARAM_END)
            break;
        if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
            p = extra[i + 1];
        } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
            if (!extra[i + 1])
                return CUDA_ERROR_INVALID_VALUE;
            *len = *(const size_t *)extra[i + 1];
            have_size = true;
        } else {
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    if (!p || !have_size)
        return CUDA_ERROR_INVALID_VALUE;
    *buf = p;
    return CUDA_SUCCESS;
}

CUresult rc_pack_params(uint64_t f, void **kernelParams, void **extra, const void **buf,
                        size_t *len, bool *owned)
{
    *buf = NULL;
    *len = 0;
    *owned = false;
    if (kernelParams && extra)
        return CUDA_ERROR_INVALID_VALUE;
    if (!kernelParams && !extra)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&mu);
    /* A library's kernel may be launched as a function: its own layout then serves. */
    struct obj *o = find(RCO_FUNCTION, f), *k = find(RCO_KERNEL, f);
    if (k && (!o || !o->layout))
        o = k;
    if (!o) {
        pthread_mutex_unlock(&mu);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (layout_unknown(o)) {
        pthread_mutex_unlock(&mu);
        /* kernelParams cannot be packed without the layout; `extra` is the caller's packing. */
        return kernelParams ? CUDA_ERROR_NOT_SUPPORTED : extra_buffer(extra, buf, len);
    }
    size_t total = 0;
    for (uint32_t i = 0; i < o->nparams; i++)
        if ((size_t)o->layout[2 * i] + o->layout[2 * i + 1] > total)
            total = (size_t)o->layout[2 * i] + o->layout[2 * i + 1];
    if (extra) {
        pthread_mutex_unlock(&mu);
        CUresult r = extra_buffer(extra, buf, len);
        /* A buffer shorter than the parameters is refused here as the driver refuses it. */
        if (r == CUDA_SUCCESS && *len < total)
            r = CUDA_ERROR_INVALID_VALUE;
        return r;
    }
    if (o->nparams == 0 && total == 0) {
        pthread_mutex_unlock(&mu);
        return CUDA_SUCCESS; /* no parameters */
    }
    uint8_t *p = calloc(1, total);
    if (!p) {
        pthread_mutex_unlock(&mu);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    for (uint32_t i = 0; i < o->nparams; i++) {
        if (!kernelParams[i]) {
            pthread_mutex_unlock(&mu);
            free(p);
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(p + o->layout[2 * i], kernelParams[i], o->layout[2 * i + 1]);
    }
    pthread_mutex_unlock(&mu);
    *buf = p;
    *len = total;
    *owned = true;
    return CUDA_SUCCESS;
}
