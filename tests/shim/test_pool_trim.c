/* SPDX-License-Identifier: Apache-2.0 */
/* test_pool_trim.c: a charge that would pass the slice first gives back what the process's own
 * pools hold unused (their idle memory, trimmed), and then succeeds; memory in use stays. */
#include "pooltest.h"

static void idle_default_pool(CUmemoryPool pool, uint64_t bytes)
{
    CUdeviceptr p;
    if (pt_threshold(pool, UINT64_MAX) || cuMemAllocAsync(&p, bytes, NULL) ||
        cuMemFreeAsync(p, NULL) || cuCtxSynchronize())
        fprintf(stderr, "cannot fill the pool\n");
}

/* A plain allocation trims the default pool's idle memory. */
static void t_plain_trims_pool(void)
{
    CUmemoryPool pool = pt_default_pool();
    idle_default_pool(pool, 600 * MiB);
    CHECK(pt_reserved(pool) == 600 * MiB);
    CUdeviceptr q;
    CUresult r = cuMemAlloc(&q, 600 * MiB);
    uint64_t held = pt_reserved(pool) + (r == CUDA_SUCCESS ? 600 * MiB : 0);
    pt_report("cuMemAlloc next to an idle pool", held);
    if (r == CUDA_SUCCESS)
        OK(cuMemFree(q));
    CHECK(held <= PT_SLICE);
    OK(r);
    CHECK(pt_reserved(pool) == 0);
    OK(pt_threshold(pool, 0));
    CHECK(shim_used(0) == 0);
}

/* A request from another pool trims the default pool; blocks in use are kept. */
static void t_other_pool_trims(void)
{
    CUmemoryPool pool = pt_default_pool(), mine = pt_created_pool();
    CHECK(mine != NULL);
    CUdeviceptr live, q;
    idle_default_pool(pool, 300 * MiB);
    OK(cuMemAllocAsync(&live, 200 * MiB, NULL)); /* served from the idle 300 MiB block */
    OK(cuMemAllocAsync(&q, 200 * MiB, NULL));    /* a new 200 MiB block */
    OK(cuMemFreeAsync(q, NULL));
    OK(cuCtxSynchronize());
    CHECK(pt_reserved(pool) == 500 * MiB);
    CUresult r = cuMemAllocFromPoolAsync(&q, 700 * MiB, mine, NULL);
    uint64_t held = pt_reserved(pool) + pt_reserved(mine);
    pt_report("a created pool next to an idle default pool", held);
    CHECK(held <= PT_SLICE);
    OK(r);
    CHECK(pt_reserved(pool) == 300 * MiB); /* the block in use stays */
    OK(cuMemFreeAsync(q, NULL));
    OK(cuMemFreeAsync(live, NULL));
    OK(cuCtxSynchronize());
    OK(cuMemPoolDestroy(mine));
    OK(cuMemPoolTrimTo(pool, 0));
    OK(pt_threshold(pool, 0));
    CHECK(shim_used(0) == 0);
}

/* What does not fit even after trimming is refused, and nothing is lost. */
static void t_refused_after_trim(void)
{
    CUmemoryPool pool = pt_default_pool();
    CUdeviceptr live, q;
    OK(cuMemAllocAsync(&live, 600 * MiB, NULL));
    CHECK_CU(cuMemAlloc(&q, 600 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAllocAsync(&q, 600 * MiB, NULL), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(pt_reserved(pool) == 600 * MiB);
    OK(cuMemFreeAsync(live, NULL));
    OK(cuCtxSynchronize());
    CHECK(shim_used(0) == 0);
}

int main(void)
{
    if (pt_setup("pool-trim"))
        return 1;
    RUN(t_plain_trims_pool);
    RUN(t_other_pool_trims);
    RUN(t_refused_after_trim);
    return st_summary();
}
