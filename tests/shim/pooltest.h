/* SPDX-License-Identifier: Apache-2.0 */
/* pooltest.h: what the stream-ordered memory tests (test_pool_*.c) share, header-only.
 *
 * Each test runs in a 1 GiB slice of a simulated T4 (16 GiB), with the context counted as 0 so
 * that the figures are the allocations' alone. What a pool holds on the device is asked of the
 * driver itself (CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, which the interposer does not change), and
 * each test prints the most the slice was seen to hold, which must never pass 1 GiB. */
#ifndef POOLTEST_H
#define POOLTEST_H

#include <stdlib.h>
#include <string.h>

#include "shimtest.h"

#define PT_SLICE GiB

static inline int pt_setup(const char *name)
{
    shim_setup("T4", name, "1GiB");
    setenv("GPUVISOR_CONTEXT_MEMORY", "0", 1);
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "no simulated device\n");
        return -1;
    }
    return 0;
}

static inline CUmemoryPool pt_default_pool(void)
{
    CUmemoryPool pool = NULL;
    cuDeviceGetDefaultMemPool(&pool, 0);
    return pool;
}

/* A pool of device 0 made with cuMemPoolCreate, or NULL. */
static inline CUmemoryPool pt_created_pool(void)
{
    CUmemPoolProps props;
    memset(&props, 0, sizeof(props));
    props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    props.location.id = 0;
    CUmemoryPool pool = NULL;
    return cuMemPoolCreate(&pool, &props) == CUDA_SUCCESS ? pool : NULL;
}

/* What `pool` holds on the device, as the driver says. */
static inline uint64_t pt_reserved(CUmemoryPool pool)
{
    cuuint64_t v = 0;
    cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &v);
    return v;
}

static inline CUresult pt_threshold(CUmemoryPool pool, uint64_t bytes)
{
    cuuint64_t v = bytes;
    return cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &v);
}

static inline void pt_most(uint64_t *most, uint64_t now)
{
    if (now > *most)
        *most = now;
}

static inline void pt_report(const char *what, uint64_t most)
{
    printf("%s: the most a 1 GiB slice held on the device: %llu MiB\n", what,
           (unsigned long long)(most / MiB));
    fflush(stdout);
}

#endif
