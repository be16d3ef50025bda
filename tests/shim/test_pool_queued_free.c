/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_queued_free.c: a cuMemFreeAsync queued behind long work gives its memory back when
 * the stream reaches it, not when it is called; until then the memory is on the device and stays
 * charged. Another request that would pass the slice meanwhile is refused (a plain cuMemAlloc or
 * a stream-ordered one on another stream), and succeeds once the stream has reached the free.
 * The long work is a kernel of the simulator's that takes 500 ms of device time. */
#include "pooltest.h"

#define KERNEL_NS (500ull * 1000 * 1000)

static CUfunction spin;

static CUresult long_kernel(CUstream s)
{
    uint64_t ns = KERNEL_NS;
    void *args[] = {&ns};
    return cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL);
}

/* Allocates 600 MiB, frees it behind the kernel, then asks for 600 MiB more with `plain` (a
 * cuMemAlloc) or from the pool on another stream, while the kernel runs. */
static void queued(bool plain)
{
    CUmemoryPool pool = pt_default_pool();
    CUstream s, other;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&other, CU_STREAM_NON_BLOCKING));
    CUdeviceptr a, b;
    OK(cuMemAllocAsync(&a, 600 * MiB, s));
    OK(long_kernel(s));
    OK(cuMemFreeAsync(a, s));
    CUresult r = plain ? cuMemAlloc(&b, 600 * MiB) : cuMemAllocAsync(&b, 600 * MiB, other);
    uint64_t held = pt_reserved(pool) + (plain && r == CUDA_SUCCESS ? 600 * MiB : 0);
    bool running = cuStreamQuery(s) == CUDA_ERROR_NOT_READY;
    pt_report(plain ? "cuMemAlloc behind a queued cuMemFreeAsync"
                    : "cuMemAllocAsync behind a queued cuMemFreeAsync",
              held);
    if (r == CUDA_SUCCESS) {
        if (plain)
            OK(cuMemFree(b));
        else
            OK(cuMemFreeAsync(b, other));
    }
    OK(cuCtxSynchronize());
    CHECK(held <= PT_SLICE);
    if (!running)
        printf("(the kernel was done before the request: nothing was queued to judge)\n");
    else
        CHECK_CU(r, CUDA_ERROR_OUT_OF_MEMORY);
    /* The stream reached the free: the memory left the device, and the charge with it. */
    CHECK(shim_used(0) == 0);
    OK(plain ? cuMemAlloc(&b, 600 * MiB) : cuMemAllocAsync(&b, 600 * MiB, other));
    OK(plain ? cuMemFree(b) : cuMemFreeAsync(b, other));
    OK(cuCtxSynchronize());
    CHECK(shim_used(0) == 0);
    OK(cuStreamDestroy(s));
    OK(cuStreamDestroy(other));
}

static void t_plain_behind_free(void)
{
    queued(true);
}

static void t_async_behind_free(void)
{
    queued(false);
}

int main(void)
{
    if (pt_setup("pool-queued"))
        return 1;
    CUmodule mod;
    if (cuModuleLoadData(&mod, "gvsim-module\nspin_ns\n") ||
        cuModuleGetFunction(&spin, mod, "spin_ns")) {
        fprintf(stderr, "no spin kernel\n");
        return 1;
    }
    RUN(t_plain_behind_free);
    RUN(t_async_behind_free);
    return st_summary();
}
