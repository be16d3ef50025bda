/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_info.c: memory a pool holds counts as used in cuMemGetInfo and in NVML
 * (nvmlDeviceGetMemoryInfo through the interposer), so that a program sizing its work by what is
 * free does not pass the slice. */
#include "core/nvml.h"
#include "pooltest.h"

static void t_info_counts_pool(void)
{
    CUmemoryPool pool = pt_default_pool();
    OK(pt_threshold(pool, UINT64_MAX));
    CUdeviceptr p;
    OK(cuMemAllocAsync(&p, 300 * MiB, NULL));
    OK(cuMemFreeAsync(p, NULL));
    OK(cuCtxSynchronize());
    uint64_t kept = pt_reserved(pool);
    CHECK(kept == 300 * MiB);

    size_t free_b = 0, total = 0;
    OK(cuMemGetInfo(&free_b, &total));
    nvmlDevice_t d;
    nvmlMemory_t m = {0};
    CHECK(nvmlInit_v2() == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &d) == NVML_SUCCESS);
    CHECK(nvmlDeviceGetMemoryInfo(d, &m) == NVML_SUCCESS);
    nvmlShutdown();
    printf("pool holds %llu MiB; cuMemGetInfo: %llu MiB used of %llu; NVML: %llu MiB used\n",
           (unsigned long long)(kept / MiB), (unsigned long long)((total - free_b) / MiB),
           (unsigned long long)(total / MiB), (unsigned long long)(m.used / MiB));
    /* A program that takes all that is said to be free. */
    CUdeviceptr q;
    CUresult r = free_b ? cuMemAlloc(&q, free_b) : CUDA_ERROR_OUT_OF_MEMORY;
    uint64_t held = pt_reserved(pool) + (r == CUDA_SUCCESS ? free_b : 0);
    pt_report("cuMemAlloc of what cuMemGetInfo says is free", held);
    if (r == CUDA_SUCCESS)
        OK(cuMemFree(q));
    CHECK(total == PT_SLICE);
    CHECK(total - free_b >= kept);
    CHECK(m.total == PT_SLICE && m.used >= kept);
    CHECK(held <= PT_SLICE);
    OK(cuMemPoolTrimTo(pool, 0));
    OK(pt_threshold(pool, 0));
    OK(cuMemGetInfo(&free_b, &total));
    CHECK(free_b == total);
}

int main(void)
{
    if (pt_setup("pool-info"))
        return 1;
    RUN(t_info_counts_pool);
    return st_summary();
}
