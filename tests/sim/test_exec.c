/* SPDX-License-Identifier: Apache-2.0 */
/* test_exec.c: streams, events, copies, memsets, modules and launches in one process.
 *
 * Success paths check the data (copies really copy, kernels really compute) and the ordering
 * (work completes later, in order per stream); error paths check each bad handle, NULL pointer
 * and out-of-range device pointer is refused at the call. Timing checks use spin_ns, whose device
 * time the simulator controls, with tolerances that a loaded two-core machine still meets. */
#include "simtest.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The per-thread default-stream entry points, which cuda.h declares only to programs built with
 * CUDA_API_PER_THREAD_DEFAULT_STREAM. */
extern __typeof__(cuStreamGetCtx) cuStreamGetCtx_ptsz;
extern __typeof__(cuStreamQuery) cuStreamQuery_ptsz;
extern __typeof__(cuStreamSynchronize) cuStreamSynchronize_ptsz;
extern __typeof__(cuEventRecord) cuEventRecord_ptsz;
extern __typeof__(cuLaunchKernel) cuLaunchKernel_ptsz;
extern __typeof__(cuMemsetD32Async) cuMemsetD32Async_ptsz;
extern __typeof__(cuMemcpyHtoD_v2) cuMemcpyHtoD_v2_ptds;
extern __typeof__(cuMemcpyDtoH_v2) cuMemcpyDtoH_v2_ptds;

static CUcontext ctx;
static CUmodule mod;
static CUfunction f_spin, f_fill, f_saxpy;

static const char image[] = "gvsim-module\nspin_ns\nfill_u32\nsaxpy_f32\n";

static CUresult spin(CUstream s, uint64_t ns)
{
    void *args[] = {&ns};
    return cuLaunchKernel(f_spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL);
}

static void test_streams(void)
{
    CUstream s, nb, pr;
    OK(cuStreamCreate(&s, CU_STREAM_DEFAULT));
    OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreateWithPriority(&pr, 0, -100));
    unsigned flags = 99;
    int prio = 99;
    OK(cuStreamGetFlags(nb, &flags));
    CHECK(flags == CU_STREAM_NON_BLOCKING);
    OK(cuStreamGetFlags(NULL, &flags));
    CHECK(flags == 0);
    OK(cuStreamGetPriority(pr, &prio));
    CHECK(prio == -5);
    OK(cuStreamGetPriority(s, &prio));
    CHECK(prio == 0);
    CUcontext c = NULL;
    OK(cuStreamGetCtx(s, &c));
    CHECK(c == ctx);
    OK(cuStreamGetCtx(CU_STREAM_LEGACY, &c));
    CHECK(c == ctx);
    OK(cuStreamGetCtx_ptsz(NULL, &c));
    CHECK(c == ctx);

    /* Work is asynchronous: the stream is busy until it is done. */
    OK(spin(s, 20000000));
    CHECK_CU(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    OK(cuStreamQuery(nb));
    OK(cuStreamSynchronize(s));
    OK(cuStreamQuery(s));

    /* Destroying a stream with work queued: the work still completes; the handle is gone. */
    OK(spin(s, 5000000));
    OK(cuStreamDestroy(s));
    CHECK_CU(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
    OK(cuCtxSynchronize());
    OK(cuStreamDestroy_v2(nb));
    OK(cuStreamDestroy_v2(pr));

    /* Errors. */
    CHECK_CU(cuStreamCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuStreamCreate(&s, 0x10), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuStreamDestroy(nb), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamDestroy(NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamQuery((CUstream)(uintptr_t)0x1234), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamGetFlags(nb, &flags), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamGetFlags(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuStreamGetPriority(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuStreamGetCtx(NULL, NULL), CUDA_ERROR_INVALID_VALUE);
}

static int order[8];
static atomic_int norder;

static void note(void *p)
{
    order[atomic_fetch_add(&norder, 1)] = (int)(intptr_t)p;
}

static void note_cb(CUstream s, CUresult status, void *p)
{
    (void)s;
    if (status == CUDA_SUCCESS)
        note(p);
}

static void test_host_ops_in_order(void)
{
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    atomic_store(&norder, 0);
    OK(spin(s, 10000000));
    OK(cuLaunchHostFunc(s, note, (void *)1));
    OK(cuStreamAddCallback(s, note_cb, (void *)2, 0));
    OK(spin(s, 1000000));
    OK(cuLaunchHostFunc(s, note, (void *)3));
    CHECK(atomic_load(&norder) == 0); /* nothing ran yet: the spin is ahead of them */
    OK(cuStreamSynchronize(s));
    CHECK(atomic_load(&norder) == 3);
    CHECK(order[0] == 1 && order[1] == 2 && order[2] == 3);
    /* A host function runs once the work before it is done, with no synchronize to wait for it. */
    atomic_store(&norder, 0);
    OK(spin(s, 2000000));
    OK(cuLaunchHostFunc(s, note, (void *)4));
    for (int i = 0; i < 2000 && atomic_load(&norder) == 0; i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    CHECK(atomic_load(&norder) == 1 && order[0] == 4);
    CHECK_CU(cuLaunchHostFunc(s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuStreamAddCallback(s, note_cb, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    OK(cuStreamDestroy(s));
    CHECK_CU(cuLaunchHostFunc(s, note, NULL), CUDA_ERROR_INVALID_HANDLE);
}

static void test_events(void)
{
    CUevent a, b, nt;
    OK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    OK(cuEventCreate(&b, CU_EVENT_BLOCKING_SYNC));
    OK(cuEventCreate(&nt, CU_EVENT_DISABLE_TIMING));
    float ms = -1;
    /* Never recorded: complete, but without a time. */
    OK(cuEventQuery(a));
    OK(cuEventSynchronize(a));
    CHECK_CU(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_INVALID_HANDLE);

    OK(cuEventRecord(a, NULL));
    OK(spin(NULL, 30000000));
    OK(cuEventRecord(b, NULL));
    OK(cuEventRecord(nt, NULL));
    CHECK_CU(cuEventQuery(b), CUDA_ERROR_NOT_READY);
    CHECK_CU(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_NOT_READY);
    OK(cuEventSynchronize(b));
    OK(cuEventQuery(b));
    OK(cuEventElapsedTime(&ms, a, b));
    CHECK(ms > 29.0f && ms < 45.0f);
    OK(cuEventElapsedTime_v2(&ms, b, a));
    CHECK(ms < -29.0f);
    OK(cuEventSynchronize(nt));
    CHECK_CU(cuEventElapsedTime(&ms, a, nt), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuEventElapsedTime(NULL, a, b), CUDA_ERROR_INVALID_VALUE);

    OK(cuEventRecordWithFlags(a, NULL, CU_EVENT_RECORD_DEFAULT));
    CHECK_CU(cuEventRecordWithFlags(a, NULL, 0x40), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuEventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuEventCreate(&a, 0x80), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuEventCreate(&a, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuEventRecord(a, (CUstream)(uintptr_t)0x5678), CUDA_ERROR_INVALID_HANDLE);

    /* Destroy with a record still queued: fine, and the handle is gone at once. */
    OK(spin(NULL, 5000000));
    OK(cuEventRecord(b, NULL));
    OK(cuEventDestroy(b));
    CHECK_CU(cuEventQuery(b), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuEventRecord(b, NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuEventSynchronize(b), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuEventDestroy_v2(b), CUDA_ERROR_INVALID_HANDLE);
    OK(cuCtxSynchronize());
    OK(cuEventDestroy_v2(a));
    OK(cuEventDestroy(nt));
}

/* spin_ns(5 ms) between two events measures 5 ms within 10%, several times over. */
static void test_event_timing(void)
{
    CUevent a, b;
    OK(cuEventCreate(&a, 0));
    OK(cuEventCreate(&b, 0));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    float worst = 0;
    for (int i = 0; i < 5; i++) {
        OK(cuEventRecord(a, s));
        OK(spin(s, 5000000));
        OK(cuEventRecord(b, s));
        OK(cuEventSynchronize(b));
        float ms;
        OK(cuEventElapsedTime(&ms, a, b));
        float err = ms > 5.0f ? ms - 5.0f : 5.0f - ms;
        if (err > worst)
            worst = err;
    }
    printf("     spin_ns(5 ms) between events: worst error %.3f ms\n", worst);
    CHECK(worst <= 0.5f);
    /* Back to back: two records around two spins measure their sum. */
    OK(cuEventRecord(a, s));
    OK(spin(s, 3000000));
    OK(spin(s, 4000000));
    OK(cuEventRecord(b, s));
    OK(cuStreamSynchronize(s));
    float ms;
    OK(cuEventElapsedTime(&ms, a, b));
    CHECK(ms > 6.9f && ms < 7.7f);
    OK(cuStreamDestroy(s));
    OK(cuEventDestroy(a));
    OK(cuEventDestroy(b));
}

static void test_wait_event(void)
{
    CUstream s1, s2;
    CUevent e;
    OK(cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    atomic_store(&norder, 0);
    OK(spin(s1, 20000000));
    OK(cuLaunchHostFunc(s1, note, (void *)1));
    OK(cuEventRecord(e, s1));
    OK(cuStreamWaitEvent(s2, e, 0));
    OK(cuLaunchHostFunc(s2, note, (void *)2));
    OK(cuStreamSynchronize(s2));
    CHECK(atomic_load(&norder) == 2 && order[0] == 1 && order[1] == 2);
    CHECK_CU(cuStreamWaitEvent(s2, (CUevent)(uintptr_t)0x99, 0), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuStreamWaitEvent(s2, e, 0x10), CUDA_ERROR_INVALID_VALUE);
    OK(cuStreamDestroy(s1));
    OK(cuStreamDestroy(s2));
    OK(cuEventDestroy(e));
}

/* The legacy default stream waits for blocking streams' earlier work, not for non-blocking ones'.
 * Streams of one process share its device one operation at a time, so the work ahead is held back
 * by an event from the second device rather than by a spin on the same device. */
static void test_legacy_stream(void)
{
    CUcontext ctx1;
    CUstream other, blk, nb;
    CUevent e;
    OK(cuDevicePrimaryCtxRetain(&ctx1, 1));
    OK(cuCtxPushCurrent(ctx1));
    OK(cuStreamCreate(&other, 0));
    CUcontext popped;
    OK(cuCtxPopCurrent(&popped));
    OK(cuStreamCreate(&blk, 0));
    OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));

    /* A non-blocking stream held back for 40 ms does not hold back the legacy stream. */
    OK(spin(other, 40000000));
    OK(cuEventRecord(e, other));
    OK(cuStreamWaitEvent(nb, e, 0));
    OK(spin(nb, 1000));
    uint64_t t0 = st_now_ns();
    OK(spin(NULL, 1000));
    OK(cuStreamSynchronize(NULL));
    CHECK(st_now_ns() - t0 < 30000000);
    CHECK_CU(cuStreamQuery(nb), CUDA_ERROR_NOT_READY);
    OK(cuStreamSynchronize(nb));

    /* A blocking one does. */
    OK(spin(other, 40000000));
    OK(cuEventRecord(e, other));
    OK(cuStreamWaitEvent(blk, e, 0));
    OK(spin(blk, 1000));
    t0 = st_now_ns();
    OK(spin(CU_STREAM_LEGACY, 1000));
    OK(cuStreamSynchronize(CU_STREAM_LEGACY));
    CHECK(st_now_ns() - t0 >= 30000000);
    OK(cuStreamQuery(blk));

    OK(cuStreamDestroy(blk));
    OK(cuStreamDestroy(nb));
    OK(cuStreamDestroy(other));
    OK(cuEventDestroy(e));
    OK(cuDevicePrimaryCtxRelease(1));
}

static void test_per_thread_stream(void)
{
    uint64_t ns = 20000000;
    void *args[] = {&ns};
    OK(cuLaunchKernel_ptsz(f_spin, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    CHECK_CU(cuStreamQuery_ptsz(NULL), CUDA_ERROR_NOT_READY);
    CHECK_CU(cuStreamQuery_ptsz(CU_STREAM_PER_THREAD), CUDA_ERROR_NOT_READY);
    OK(cuStreamQuery(CU_STREAM_LEGACY));
    OK(cuStreamSynchronize_ptsz(NULL));
    OK(cuStreamQuery(CU_STREAM_PER_THREAD));
    CUevent e;
    OK(cuEventCreate(&e, 0));
    OK(cuEventRecord_ptsz(e, NULL));
    OK(cuEventSynchronize(e));
    OK(cuEventDestroy(e));
}

static void test_copies(void)
{
    enum { N = 1 << 16 };
    CUdeviceptr d1, d2;
    OK(cuMemAlloc(&d1, N));
    OK(cuMemAlloc(&d2, N));
    unsigned char *h = malloc(N), *back = malloc(N);
    CHECK(h && back);
    for (int i = 0; i < N; i++)
        h[i] = (unsigned char)(i * 7 + 3);
    OK(cuMemcpyHtoD(d1, h, N));
    OK(cuMemcpyDtoD(d2, d1, N));
    memset(back, 0, N);
    OK(cuMemcpyDtoH(back, d2, N));
    CHECK(memcmp(h, back, N) == 0);

    /* Async: the source is staged at the call, the result arrives with the stream. */
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    unsigned char small[256];
    memset(small, 0xab, sizeof(small));
    OK(cuMemcpyHtoDAsync(d1, small, sizeof(small), s));
    memset(small, 0, sizeof(small));
    OK(cuMemcpyDtoDAsync(d2, d1, sizeof(small), s));
    OK(cuMemcpyDtoHAsync(back, d2, sizeof(small), s));
    OK(cuStreamSynchronize(s));
    CHECK(back[0] == 0xab && back[255] == 0xab && back[256] == h[256]);
    OK(cuMemcpyAsync(d1, (CUdeviceptr)(uintptr_t)h, N, s));
    OK(cuMemcpy((CUdeviceptr)(uintptr_t)back, d1, N));
    CHECK(memcmp(h, back, N) == 0);
    OK(cuMemcpyHtoD_v2_ptds(d1, h, 16));
    OK(cuMemcpyDtoH_v2_ptds(back, d1, 16));

    /* Errors: out of range, NULL, bad stream. */
    CHECK_CU(cuMemcpyHtoD(d1, h, N + 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyHtoD(d1 + N - 4, h, 8), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyDtoH(back, d1 + 1, N), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyDtoD(d2, d1 - 16, 32), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyHtoD(d1, NULL, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyDtoH(NULL, d1, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyHtoD(0, h, 4), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemcpyHtoDAsync(d1, h, 4, (CUstream)(uintptr_t)0x4321), CUDA_ERROR_INVALID_HANDLE);
    OK(cuMemcpyHtoD(d1, h, 0));
    OK(cuStreamDestroy(s));
    OK(cuMemFree(d1));
    OK(cuMemFree(d2));
    CHECK_CU(cuMemcpyHtoD(d1, h, 4), CUDA_ERROR_INVALID_VALUE); /* freed */
    free(h);
    free(back);
}

/* Copies take device time in proportion to their bytes: 64 MiB at a T4's 320 GB/s is ~0.2 ms. */
static void test_copy_time(void)
{
    size_t n = 64u << 20;
    CUdeviceptr a, b;
    OK(cuMemAlloc(&a, n));
    OK(cuMemAlloc(&b, n));
    CUevent e0, e1;
    OK(cuEventCreate(&e0, 0));
    OK(cuEventCreate(&e1, 0));
    OK(cuEventRecord(e0, NULL));
    OK(cuMemcpyDtoDAsync(b, a, n, NULL));
    OK(cuEventRecord(e1, NULL));
    OK(cuEventSynchronize(e1));
    float ms;
    OK(cuEventElapsedTime(&ms, e0, e1));
    CHECK(ms >= 0.15f); /* at least the bandwidth figure; the host's memcpy may add to it */
    OK(cuEventDestroy(e0));
    OK(cuEventDestroy(e1));
    OK(cuMemFree(a));
    OK(cuMemFree(b));
}

static void test_memsets(void)
{
    enum { N = 4096 };
    CUdeviceptr d;
    OK(cuMemAlloc(&d, N));
    unsigned char back[N];
    OK(cuMemsetD8(d, 0x5a, N));
    OK(cuMemcpyDtoH(back, d, N));
    CHECK(back[0] == 0x5a && back[N - 1] == 0x5a);
    OK(cuMemsetD16(d, 0x1234, N / 2));
    uint16_t h16;
    OK(cuMemcpyDtoH(&h16, d + N - 2, 2));
    CHECK(h16 == 0x1234);
    OK(cuMemsetD32(d, 0xdeadbeef, N / 4));
    uint32_t h32;
    OK(cuMemcpyDtoH(&h32, d + 8, 4));
    CHECK(h32 == 0xdeadbeef);
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    OK(cuMemsetD8Async(d, 1, 16, s));
    OK(cuMemsetD16Async(d + 16, 2, 8, s));
    OK(cuMemsetD32Async(d + 32, 3, 4, s));
    OK(cuMemsetD32Async_ptsz(d + 48, 4, 4, NULL));
    OK(cuStreamSynchronize(s));
    OK(cuStreamSynchronize_ptsz(NULL));
    OK(cuMemcpyDtoH(back, d, 64));
    CHECK(back[15] == 1 && back[16] == 2 && back[17] == 0 && back[32] == 3 && back[48] == 4);

    CHECK_CU(cuMemsetD8(d, 0, N + 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemsetD32(d, 0, N / 4 + 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemsetD32(d + 2, 0, 1), CUDA_ERROR_INVALID_VALUE); /* misaligned */
    CHECK_CU(cuMemsetD16(d + 1, 0, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemsetD8(0, 0, 1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuMemsetD8Async(d, 0, 1, (CUstream)(uintptr_t)0x777), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamDestroy(s));
    OK(cuMemFree(d));
}

static void test_modules(void)
{
    CUmodule m;
    CUfunction f;
    CHECK_CU(cuModuleLoadData(&m, "not a module"), CUDA_ERROR_INVALID_IMAGE);
    CHECK_CU(cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuModuleLoadData(NULL, image), CUDA_ERROR_INVALID_VALUE);
    OK(cuModuleLoadDataEx(&m, image, 0, NULL, NULL));
    CHECK_CU(cuModuleGetFunction(&f, m, "no_such_kernel"), CUDA_ERROR_NOT_FOUND);
    CHECK_CU(cuModuleGetFunction(&f, m, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuModuleGetFunction(&f, (CUmodule)(uintptr_t)0x42, "spin_ns"),
             CUDA_ERROR_INVALID_HANDLE);
    OK(cuModuleGetFunction(&f, m, "spin_ns"));
    uint64_t ns = 1000;
    void *args[] = {&ns};
    OK(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, args, NULL));
    OK(cuModuleUnload(m));
    CHECK_CU(cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL), CUDA_ERROR_INVALID_HANDLE);

    CUlibrary lib;
    CUkernel k;
    CHECK_CU(cuLibraryLoadData(&lib, "garbage", NULL, NULL, 0, NULL, NULL, 0),
             CUDA_ERROR_INVALID_IMAGE);
    OK(cuLibraryLoadData(&lib, image, NULL, NULL, 0, NULL, NULL, 0));
    CHECK_CU(cuLibraryGetKernel(&k, lib, "nope"), CUDA_ERROR_NOT_FOUND);
    OK(cuLibraryGetKernel(&k, lib, "spin_ns"));
    OK(cuKernelGetFunction(&f, k));
    OK(cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    OK(cuLaunchKernel((CUfunction)k, 1, 1, 1, 1, 1, 1, 0, NULL, args, NULL));
    OK(cuCtxSynchronize());
    OK(cuLibraryUnload(lib));
    CHECK_CU(cuKernelGetFunction(&f, k), CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuLibraryUnload(lib), CUDA_ERROR_INVALID_HANDLE);
}

static void test_kernels(void)
{
    enum { N = 1000 };
    CUdeviceptr x, y;
    OK(cuMemAlloc(&x, N * 4));
    OK(cuMemAlloc(&y, N * 4));
    uint32_t v = 0x3f800000; /* 1.0f */
    uint64_t n = N;
    void *fargs[] = {&x, &v, &n};
    OK(cuLaunchKernel(f_fill, 4, 1, 1, 256, 1, 1, 0, NULL, fargs, NULL));
    /* fill_u32 through the `extra` buffer form: y = 2.0f */
    struct {
        CUdeviceptr dst;
        uint32_t value;
        uint32_t pad;
        uint64_t count;
    } fb = {y, 0x40000000, 0, N};
    size_t fbsize = sizeof(fb);
    void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &fb, CU_LAUNCH_PARAM_BUFFER_SIZE, &fbsize,
                     CU_LAUNCH_PARAM_END};
    OK(cuLaunchKernel(f_fill, 4, 1, 1, 256, 1, 1, 0, NULL, NULL, extra));
    float a = 3.0f;
    void *sargs[] = {&a, &x, &y, &n};
    CUlaunchConfig cfg = {.gridDimX = 4,
                          .gridDimY = 1,
                          .gridDimZ = 1,
                          .blockDimX = 256,
                          .blockDimY = 1,
                          .blockDimZ = 1,
                          .hStream = NULL};
    OK(cuLaunchKernelEx(&cfg, f_saxpy, sargs, NULL));
    OK(cuLaunchCooperativeKernel(f_saxpy, 4, 1, 1, 256, 1, 1, 0, NULL, sargs));
    float back[N];
    OK(cuMemcpyDtoH(back, y, sizeof(back)));
    CHECK(back[0] == 8.0f && back[N - 1] == 8.0f); /* 2 + 3*1 + 3*1 */

    /* Errors. */
    uint64_t big = N + 1;
    void *bad[] = {&x, &v, &big};
    CUdeviceptr wild = x + 8 * N;
    void *bad2[] = {&wild, &v, &n};
    if (st_remote()) {
        /* The arguments' values are the device's to find: a launch gets no answer, and the error
         * comes at the next synchronization. */
        OK(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, bad, NULL));
        CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
        OK(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, bad2, NULL));
        CHECK_CU(cuCtxSynchronize(), CUDA_ERROR_INVALID_VALUE);
        OK(cuCtxSynchronize());
    } else {
        CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, bad, NULL),
                 CUDA_ERROR_INVALID_VALUE);
        CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, bad2, NULL),
                 CUDA_ERROR_INVALID_VALUE);
    }
    CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, fargs, extra),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuLaunchKernel(f_fill, 0, 1, 1, 1, 1, 1, 0, NULL, fargs, NULL),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 2048, 1, 1, 0, NULL, fargs, NULL),
             CUDA_ERROR_INVALID_VALUE);
    size_t small = 8;
    void *extra_small[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &fb, CU_LAUNCH_PARAM_BUFFER_SIZE, &small,
                           CU_LAUNCH_PARAM_END};
    CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, extra_small),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuLaunchKernel((CUfunction)(uintptr_t)0x10, 1, 1, 1, 1, 1, 1, 0, NULL, fargs, NULL),
             CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuLaunchKernel(f_fill, 1, 1, 1, 1, 1, 1, 0, (CUstream)(uintptr_t)0x20, fargs, NULL),
             CUDA_ERROR_INVALID_HANDLE);
    CHECK_CU(cuLaunchKernelEx(NULL, f_fill, fargs, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree(x));
    OK(cuMemFree(y));
}

/* Without a current context, default-stream calls fail; created streams need none. */
static void test_no_context(void)
{
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    CUcontext popped;
    OK(cuCtxPopCurrent(&popped));
    CHECK_CU(cuStreamSynchronize(NULL), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_CU(spin(NULL, 1000), CUDA_ERROR_INVALID_CONTEXT);
    OK(spin(s, 1000));
    OK(cuStreamSynchronize(s));
    OK(cuCtxPushCurrent(popped));
    OK(cuStreamDestroy(s));
}

int main(void)
{
    st_machine("T4,T4");
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS || cuModuleLoadData(&mod, image) != CUDA_SUCCESS ||
        cuModuleGetFunction(&f_spin, mod, "spin_ns") != CUDA_SUCCESS ||
        cuModuleGetFunction(&f_fill, mod, "fill_u32") != CUDA_SUCCESS ||
        cuModuleGetFunction(&f_saxpy, mod, "saxpy_f32") != CUDA_SUCCESS) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    RUN(test_streams);
    RUN(test_host_ops_in_order);
    RUN(test_events);
    RUN(test_event_timing);
    RUN(test_wait_event);
    RUN(test_legacy_stream);
    RUN(test_per_thread_stream);
    RUN(test_copies);
    RUN(test_copy_time);
    RUN(test_memsets);
    RUN(test_modules);
    RUN(test_kernels);
    RUN(test_no_context);
    return st_summary();
}
