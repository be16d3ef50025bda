/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_growth.c: a pool is charged what it really takes on the device, which can be more
 * than was asked: it grows in whole granules (2 MiB), so many requests of 1 MiB and a little take
 * twice what they ask; and a pool made with cuMemPoolCreate that keeps freed memory grows with
 * every larger request. Neither may hold more than the slice. */
#include "pooltest.h"

#define NPTRS 2048

static CUdeviceptr ptrs[NPTRS];

static void t_granules(void)
{
    CUmemoryPool pool = pt_created_pool();
    CHECK(pool != NULL);
    uint64_t most = 0;
    int n = 0;
    while (n < NPTRS && cuMemAllocFromPoolAsync(&ptrs[n], MiB + 4096, pool, NULL) == CUDA_SUCCESS) {
        n++;
        pt_most(&most, pt_reserved(pool));
    }
    pt_most(&most, pt_reserved(pool));
    printf("%d requests of 1 MiB + 4 KiB granted\n", n);
    pt_report("requests of 1 MiB + 4 KiB", most);
    for (int i = 0; i < n; i++)
        cuMemFreeAsync(ptrs[i], NULL);
    OK(cuCtxSynchronize());
    CHECK(most <= PT_SLICE);
    CHECK(n >= 500); /* the slice is used: 512 granules fit */
    CHECK(shim_used(0) == 0);
    OK(cuMemPoolDestroy(pool));
}

static void t_larger_requests(void)
{
    CUmemoryPool pool = pt_created_pool();
    CHECK(pool != NULL);
    OK(pt_threshold(pool, UINT64_MAX));
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    uint64_t most = 0;
    int refused = 0;
    for (uint64_t size = 100 * MiB; size < PT_SLICE; size += 100 * MiB) {
        CUdeviceptr p;
        if (cuMemAllocFromPoolAsync(&p, size, pool, s) != CUDA_SUCCESS) {
            refused++;
            continue;
        }
        pt_most(&most, pt_reserved(pool));
        OK(cuMemFreeAsync(p, s));
        OK(cuStreamSynchronize(s));
    }
    pt_report("created pool, threshold UINT64_MAX, growing requests", most);
    CHECK(most <= PT_SLICE);
    CHECK(refused == 0);
    /* Destroying the pool gives its memory back, and the charge with it. */
    OK(cuMemPoolDestroy(pool));
    CHECK(shim_used(0) == 0);
    OK(cuStreamDestroy(s));
}

int main(void)
{
    if (pt_setup("pool-growth"))
        return 1;
    RUN(t_granules);
    RUN(t_larger_requests);
    return st_summary();
}
