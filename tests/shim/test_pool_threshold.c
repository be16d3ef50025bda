/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_threshold.c: memory a pool keeps after cuMemFreeAsync is still on the device, and is
 * charged. The common cudaMallocAsync idiom sets the default pool's release threshold to the
 * maximum, so that the pool never gives freed memory back; requests of growing sizes then each
 * grow the pool (a freed smaller block cannot serve a larger request). What the pool holds on the
 * device must stay within the slice: a request that would pass it first trims the pool's idle
 * memory, and succeeds. */
#include "pooltest.h"

static void t_threshold_max(void)
{
    CUmemoryPool pool = pt_default_pool();
    CHECK(pool != NULL);
    OK(pt_threshold(pool, UINT64_MAX));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    uint64_t most = 0;
    int refused = 0;
    for (uint64_t size = 64 * MiB; size < PT_SLICE; size += 64 * MiB) {
        CUdeviceptr p;
        CUresult r = cuMemAllocAsync(&p, size, s);
        pt_most(&most, pt_reserved(pool));
        if (r != CUDA_SUCCESS) {
            refused++;
            continue;
        }
        OK(cuMemFreeAsync(p, s));
        OK(cuStreamSynchronize(s));
        pt_most(&most, pt_reserved(pool));
    }
    pt_report("threshold UINT64_MAX, growing requests", most);
    CHECK(most <= PT_SLICE);
    CHECK(refused == 0); /* each request fits the slice once the pool's idle memory is trimmed */
    /* Idle memory stays charged while the pool keeps it, and comes back when it is trimmed. */
    CHECK(shim_used(0) >= pt_reserved(pool));
    OK(cuMemPoolTrimTo(pool, 0));
    CHECK(pt_reserved(pool) == 0);
    CHECK(shim_used(0) == 0);
    OK(pt_threshold(pool, 0));
    OK(cuStreamDestroy(s));
}

/* Lowering the threshold gives the idle memory back to the device, and its charge with it. */
static void t_threshold_lowered(void)
{
    CUmemoryPool pool = pt_default_pool();
    OK(pt_threshold(pool, UINT64_MAX));
    CUdeviceptr p;
    OK(cuMemAllocAsync(&p, 256 * MiB, NULL));
    OK(cuMemFreeAsync(p, NULL));
    OK(cuCtxSynchronize());
    CHECK(pt_reserved(pool) == 256 * MiB);
    CHECK(shim_used(0) == 256 * MiB);
    OK(pt_threshold(pool, 0));
    CHECK(pt_reserved(pool) == 0);
    CHECK(shim_used(0) == 0);
}

int main(void)
{
    if (pt_setup("pool-threshold"))
        return 1;
    RUN(t_threshold_max);
    RUN(t_threshold_lowered);
    return st_summary();
}
