/* SPDX-License-Identifier: Apache-2.0 */
/* test_ctx.c: primary and created contexts, the per-thread current-context stack, context
 * settings, and that tearing a context down gives its memory back to the machine. */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "simtest.h"

static size_t free_on(CUdevice d)
{
    CUcontext c;
    size_t f = 0, t = 0;
    if (cuDevicePrimaryCtxRetain(&c, d) != CUDA_SUCCESS || cuCtxPushCurrent(c) != CUDA_SUCCESS)
        return 0;
    cuMemGetInfo(&f, &t);
    cuCtxPopCurrent(NULL);
    cuDevicePrimaryCtxRelease(d);
    return f;
}

static void before_init(void)
{
    CUcontext c;
    CHECK_CU(cuCtxGetCurrent(&c), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuCtxCreate(&c, NULL, 0, 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuDevicePrimaryCtxRetain(&c, 0), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuInit(0));
}

static void primary(void)
{
    CUcontext a, b, cur;
    unsigned flags = 99;
    int active = -1;
    CUdevice d = -1;
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 0 && flags == 0);
    OK(cuDevicePrimaryCtxRetain(&a, 0));
    OK(cuDevicePrimaryCtxRetain(&b, 0));
    CHECK(a == b);
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 1);
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL); /* retaining does not make it current */
    CHECK_CU(cuCtxGetDevice(&d), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxSetCurrent(a));
    OK(cuCtxGetDevice(&d));
    CHECK(d == 0);
    CHECK_CU(cuCtxDestroy(a), CUDA_ERROR_INVALID_CONTEXT); /* not a created context */
    /* The pre-11 ABI cannot change an active primary context's flags; the current one can. */
    CUresult (*set_flags_v1)(CUdevice, unsigned) =
        (CUresult(*)(CUdevice, unsigned))dlsym(RTLD_DEFAULT, "cuDevicePrimaryCtxSetFlags");
    CHECK(set_flags_v1 != NULL);
    CHECK_CU(set_flags_v1(0, CU_CTX_SCHED_BLOCKING_SYNC), CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE);
    OK(cuDevicePrimaryCtxSetFlags(0, CU_CTX_SCHED_BLOCKING_SYNC));
    CHECK_CU(cuDevicePrimaryCtxSetFlags(0, 0x1000), CUDA_ERROR_INVALID_VALUE);
    OK(cuCtxGetFlags(&flags));
    CHECK(flags == CU_CTX_SCHED_BLOCKING_SYNC);
    OK(cuDevicePrimaryCtxRelease(0));
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 1);
    OK(cuDevicePrimaryCtxRelease(0));
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 0);
    CHECK_CU(cuDevicePrimaryCtxRelease(0), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxGetDevice(&d), CUDA_ERROR_CONTEXT_IS_DESTROYED); /* still current, now dead */
    OK(cuCtxSetCurrent(NULL));
    CHECK_CU(cuDevicePrimaryCtxRetain(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDevicePrimaryCtxRetain(&a, 5), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuDevicePrimaryCtxGetState(0, NULL, &active), CUDA_ERROR_INVALID_VALUE);
}

static void primary_reset_frees_memory(void)
{
    CUcontext c;
    CUdeviceptr p;
    size_t before = free_on(0);
    OK(cuDevicePrimaryCtxRetain(&c, 0));
    OK(cuCtxPushCurrent(c));
    OK(cuMemAlloc(&p, 256 << 20));
    size_t f, t;
    OK(cuMemGetInfo(&f, &t));
    CHECK(f == before - (256 << 20));
    OK(cuCtxPopCurrent(NULL));
    OK(cuDevicePrimaryCtxReset(0));
    int active = 1;
    unsigned flags;
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 0);
    CHECK(free_on(0) == before);
    CHECK_CU(cuMemFree(p), CUDA_ERROR_INVALID_VALUE); /* gone with the context */
}

static void create_destroy(void)
{
    CUcontext c, cur;
    CUdeviceptr p;
    size_t before = free_on(1);
    OK(cuCtxCreate(&c, NULL, 0, 1));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == c); /* a created context is pushed */
    OK(cuMemAlloc(&p, 64 << 20));
    CHECK(free_on(1) == before - (64 << 20));
    OK(cuCtxDestroy(c));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL);
    CHECK(free_on(1) == before); /* destroy freed the context's memory */
    CHECK_CU(cuCtxDestroy(c), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxDestroy(NULL), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxCreate(NULL, NULL, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuCtxCreate(&c, NULL, 0, 7), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuCtxCreate(&c, NULL, 0x10000, 0), CUDA_ERROR_INVALID_VALUE);
    /* The older ABIs, by their exported names. */
    CUresult (*v2)(CUcontext *, unsigned, CUdevice) =
        (CUresult(*)(CUcontext *, unsigned, CUdevice))dlsym(RTLD_DEFAULT, "cuCtxCreate_v2");
    CUresult (*v3)(CUcontext *, CUexecAffinityParam *, int, unsigned, CUdevice) =
        (CUresult(*)(CUcontext *, CUexecAffinityParam *, int, unsigned, CUdevice))dlsym(
            RTLD_DEFAULT, "cuCtxCreate_v3");
    CUresult (*legacy_destroy)(CUcontext) =
        (CUresult(*)(CUcontext))dlsym(RTLD_DEFAULT, "cuCtxDestroy");
    CHECK(v2 && v3 && legacy_destroy);
    OK(v2(&c, CU_CTX_MAP_HOST, 0));
    unsigned flags = 0;
    OK(cuCtxGetFlags(&flags));
    CHECK(flags == CU_CTX_MAP_HOST);
    OK(legacy_destroy(c));
    OK(v3(&c, NULL, 0, 0, 0));
    CHECK_CU(v3(&cur, NULL, 2, 0, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cuCtxDestroy(c));
}

static void stack(void)
{
    CUcontext a, b, cur, popped;
    OK(cuCtxCreate(&a, NULL, 0, 0));
    OK(cuCtxCreate(&b, NULL, 0, 1));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == b);
    OK(cuCtxPopCurrent(&popped));
    CHECK(popped == b);
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == a);
    OK(cuCtxPushCurrent(b));
    OK(cuCtxSetCurrent(a)); /* replaces the top */
    OK(cuCtxPopCurrent(&popped));
    CHECK(popped == a);
    OK(cuCtxPopCurrent(&popped));
    CHECK(popped == a);
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL);
    CHECK_CU(cuCtxPopCurrent(&popped), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxPushCurrent(NULL), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxGetCurrent(NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuCtxDestroy(a));
    CHECK_CU(cuCtxPushCurrent(a), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(cuCtxSetCurrent(a), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxDestroy(b));
}

static CUcontext other_saw;
static CUresult other_result;

static void *other_thread(void *arg)
{
    cuCtxGetCurrent(&other_saw);
    other_result = cuCtxSetCurrent((CUcontext)arg);
    return NULL;
}

static void per_thread(void)
{
    CUcontext c, cur;
    pthread_t t;
    OK(cuCtxCreate(&c, NULL, 0, 0));
    other_saw = (CUcontext)1;
    pthread_create(&t, NULL, other_thread, c);
    pthread_join(t, NULL);
    CHECK(other_saw == NULL); /* a new thread starts with no current context */
    OK(other_result);
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == c);
    OK(cuCtxDestroy(c));
}

static void settings(void)
{
    CUcontext c, c2;
    size_t v = 0;
    unsigned version = 0;
    int least = 1, greatest = 1;
    unsigned long long id1 = 0, id2 = 0;
    CUfunc_cache cache;
    CUdevice d = -1;
    OK(cuCtxCreate(&c, NULL, 0, 1));
    OK(cuCtxGetLimit(&v, CU_LIMIT_STACK_SIZE));
    CHECK(v == 1024);
    OK(cuCtxSetLimit(CU_LIMIT_MALLOC_HEAP_SIZE, 64 << 20));
    OK(cuCtxGetLimit(&v, CU_LIMIT_MALLOC_HEAP_SIZE));
    CHECK(v == 64 << 20);
    CHECK_CU(cuCtxGetLimit(&v, (CUlimit)999), CUDA_ERROR_UNSUPPORTED_LIMIT);
    CHECK_CU(cuCtxGetLimit(NULL, CU_LIMIT_STACK_SIZE), CUDA_ERROR_INVALID_VALUE);
    OK(cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED));
    OK(cuCtxGetCacheConfig(&cache));
    CHECK(cache == CU_FUNC_CACHE_PREFER_SHARED);
    CHECK_CU(cuCtxSetCacheConfig((CUfunc_cache)42), CUDA_ERROR_INVALID_VALUE);
    OK(cuCtxGetStreamPriorityRange(&least, &greatest));
    CHECK(least == 0 && greatest < 0);
    OK(cuCtxGetApiVersion(c, &version));
    CHECK(version >= 3020);
    OK(cuCtxGetApiVersion(NULL, &version));
    OK(cuCtxGetId(c, &id1));
    OK(cuCtxCreate(&c2, NULL, 0, 1));
    OK(cuCtxGetId(NULL, &id2));
    CHECK(id1 != id2);
    OK(cuCtxGetDevice_v2(&d, c));
    CHECK(d == 1);
    OK(cuCtxSynchronize());
    OK(cuCtxSynchronize_v2(c));
    CHECK_CU(cuCtxSynchronize_v2((CUcontext)&d), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxDestroy(c2));
    CHECK_CU(cuCtxGetId(c2, &id2), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxDestroy(c));
    CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
}

static void peers(void)
{
    CUcontext a, b;
    OK(cuCtxCreate(&b, NULL, 0, 1));
    OK(cuCtxCreate(&a, NULL, 0, 0));
    OK(cuCtxEnablePeerAccess(b, 0));
    CHECK_CU(cuCtxEnablePeerAccess(b, 0), CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED);
    OK(cuCtxDisablePeerAccess(b));
    CHECK_CU(cuCtxDisablePeerAccess(b), CUDA_ERROR_PEER_ACCESS_NOT_ENABLED);
    CHECK_CU(cuCtxEnablePeerAccess(NULL, 0), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxDestroy(a));
    OK(cuCtxDestroy(b));
}

int main(void)
{
    st_machine("T4,H200");
    RUN(before_init);
    RUN(primary);
    RUN(primary_reset_frees_memory);
    RUN(create_destroy);
    RUN(stack);
    RUN(per_thread);
    RUN(settings);
    RUN(peers);
    return st_summary();
}
