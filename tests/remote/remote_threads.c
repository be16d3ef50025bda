/* SPDX-License-Identifier: Apache-2.0 */
/* remote_threads.c: several threads of one process share its remote connection, each with a
 * stream of its own: allocations, copies both ways, a kernel and frees, over and over, each
 * thread's data checked. Run through remoting (remote_threads_sim), it shows that calls of
 * different threads, with and without replies, do not mix on the wire, and that each thread's
 * current context travels with its calls. Exit status 0 when every check held. */
#include <cuda.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS  40
#define WORDS   (64u * 1024)

static CUcontext ctx;
static CUfunction fill;
static atomic_int failures;

static void fail(int t, int round, const char *what, CUresult r)
{
    fprintf(stderr, "thread %d, round %d: %s (%d)\n", t, round, what, (int)r);
    atomic_fetch_add(&failures, 1);
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    CUresult r;
    if ((r = cuCtxSetCurrent(ctx)) != CUDA_SUCCESS) {
        fail(t, -1, "cuCtxSetCurrent", r);
        return NULL;
    }
    CUstream s;
    if ((r = cuStreamCreate(&s, CU_STREAM_NON_BLOCKING)) != CUDA_SUCCESS) {
        fail(t, -1, "cuStreamCreate", r);
        return NULL;
    }
    uint32_t *host = malloc(WORDS * 4), *back = malloc(WORDS * 4);
    for (int round = 0; round < ROUNDS && host && back; round++) {
        CUdeviceptr a, b;
        uint32_t seed = (uint32_t)(t * 1000003 + round);
        for (unsigned i = 0; i < WORDS; i++)
            host[i] = seed + i;
        if ((r = cuMemAlloc(&a, WORDS * 4)) || (r = cuMemAlloc(&b, WORDS * 4))) {
            fail(t, round, "cuMemAlloc", r);
            break;
        }
        /* a: the host's words, through an asynchronous copy; b: filled by the kernel. */
        uint32_t value = 0xa5000000u | seed;
        unsigned long long n = WORDS;
        void *args[] = {&b, &value, &n};
        if ((r = cuMemcpyHtoDAsync(a, host, WORDS * 4, s)) ||
            (r = cuLaunchKernel(fill, 64, 1, 1, 256, 1, 1, 0, s, args, NULL)) ||
            (r = cuStreamSynchronize(s))) {
            fail(t, round, "copy, launch and synchronize", r);
            break;
        }
        if ((r = cuMemcpyDtoH(back, a, WORDS * 4)) || memcmp(back, host, WORDS * 4) != 0)
            fail(t, round, "the copied words", r);
        if ((r = cuMemcpyDtoH(back, b, WORDS * 4)) || back[0] != value || back[WORDS - 1] != value)
            fail(t, round, "the filled words", r);
        if ((r = cuMemFree(a)) || (r = cuMemFree(b)))
            fail(t, round, "cuMemFree", r);
    }
    cuStreamDestroy(s);
    free(host);
    free(back);
    return NULL;
}

int main(void)
{
    CUdevice dev;
    CUmodule mod;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuModuleLoadData(&mod, "gvsim-module\n") ||
        cuModuleGetFunction(&fill, mod, "fill_u32")) {
        fprintf(stderr, "remote_threads: cannot set up\n");
        return 1;
    }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    size_t fr, total;
    if (cuCtxSynchronize() || cuMemGetInfo(&fr, &total))
        atomic_fetch_add(&failures, 1);
    printf("%d threads x %d rounds: %d failures\n", THREADS, ROUNDS, atomic_load(&failures));
    return atomic_load(&failures) != 0;
}
