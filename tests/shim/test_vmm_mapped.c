/* SPDX-License-Identifier: Apache-2.0 */
/* test_vmm_mapped.c: a VMM allocation stays charged for as long as the driver keeps its memory,
 * which is until its handle has been released (once per cuMemCreate and per
 * cuMemRetainAllocationHandle) AND its last mapping is unmapped, in either order. Releasing a
 * handle right after mapping it (the documented pattern, and what NCCL does) therefore returns
 * nothing, so a 1 GiB slice never holds more than 1 GiB of mapped memory; an unmap that covers
 * several mappings at once returns all of them; a refused unmap or release returns nothing. */
#include <string.h>

#include "shimtest.h"

static CUmemAllocationProp prop;

static void create(CUmemGenericAllocationHandle *h, size_t size)
{
    *h = 0;
    OK(cuMemCreate(h, size, &prop, 0));
}

static void map(CUdeviceptr va, size_t size, CUmemGenericAllocationHandle h)
{
    OK(cuMemMap(va, size, 0, h, 0));
    CUmemAccessDesc acc = {.location = prop.location, .flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE};
    OK(cuMemSetAccess(va, size, &acc, 1));
}

/* Create, map, release at once: the mapping holds the memory and its charge. */
static void t_release_while_mapped(void)
{
    size_t size = 512 * MiB;
    CUdeviceptr va[2];
    for (int i = 0; i < 2; i++) {
        CUmemGenericAllocationHandle h;
        create(&h, size);
        OK(cuMemAddressReserve(&va[i], size, 0, 0, 0));
        map(va[i], size, h);
        OK(cuMemRelease(h));
        CHECK(shim_used(0) == (uint64_t)(i + 1) * size);
    }
    CUmemGenericAllocationHandle h = 0;
    CHECK_CU(cuMemCreate(&h, size, &prop, 0), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemUnmap(va[0], size));
    CHECK(shim_used(0) == size);
    OK(cuMemUnmap(va[1], size));
    CHECK(shim_used(0) == 0);
    for (int i = 0; i < 2; i++)
        OK(cuMemAddressFree(va[i], size));
}

/* One unmap over several mappings (PyTorch's expandable segments): each returns its charge. */
static void t_range_unmap(void)
{
    size_t chunk = 128 * MiB;
    CUdeviceptr va;
    OK(cuMemAddressReserve(&va, 4 * chunk, 0, 0, 0));
    for (int i = 0; i < 4; i++) {
        CUmemGenericAllocationHandle h;
        create(&h, chunk);
        map(va + (size_t)i * chunk, chunk, h);
        OK(cuMemRelease(h));
    }
    CHECK(shim_used(0) == 4 * chunk);
    /* The middle two, then the rest. */
    OK(cuMemUnmap(va + chunk, 2 * chunk));
    CHECK(shim_used(0) == 2 * chunk);
    OK(cuMemUnmap(va, chunk));
    OK(cuMemUnmap(va + 3 * chunk, chunk));
    CHECK(shim_used(0) == 0);
    OK(cuMemAddressFree(va, 4 * chunk));
}

/* NCCL's pattern: the handle of a mapped address retained, then released, while it stays mapped. */
static void t_retain(void)
{
    size_t size = 256 * MiB;
    CUdeviceptr va;
    CUmemGenericAllocationHandle h, again = 0;
    create(&h, size);
    OK(cuMemAddressReserve(&va, size, 0, 0, 0));
    map(va, size, h);
    OK(cuMemRelease(h));
    OK(cuMemRetainAllocationHandle(&again, (void *)va));
    CHECK(again == h);
    CHECK(shim_used(0) == size);
    OK(cuMemRelease(again));
    CHECK(shim_used(0) == size); /* the mapping still holds it */
    OK(cuMemUnmap(va, size));
    CHECK(shim_used(0) == 0);
    OK(cuMemAddressFree(va, size));

    /* Unmapped first, released last: the charge goes with the release. */
    create(&h, size);
    OK(cuMemAddressReserve(&va, size, 0, 0, 0));
    map(va, size, h);
    OK(cuMemUnmap(va, size));
    CHECK(shim_used(0) == size);
    OK(cuMemRelease(h));
    CHECK(shim_used(0) == 0);
    OK(cuMemAddressFree(va, size));
}

/* What the driver refuses changes nothing. */
static void t_refused(void)
{
    size_t size = 256 * MiB;
    CUdeviceptr va;
    CUmemGenericAllocationHandle h;
    create(&h, size);
    OK(cuMemAddressReserve(&va, size, 0, 0, 0));
    map(va, size, h);
    OK(cuMemRelease(h));
    /* Half a mapping, and a range with no mapping. */
    CHECK(cuMemUnmap(va, size / 2) != CUDA_SUCCESS);
    CHECK(shim_used(0) == size);
    CHECK(cuMemUnmap(va + size, size) != CUDA_SUCCESS);
    CHECK(shim_used(0) == size);
    /* A second release of a handle already released. */
    CHECK(cuMemRelease(h) == CUDA_SUCCESS || shim_used(0) == size);
    OK(cuMemUnmap(va, size));
    CHECK(shim_used(0) == 0);
    OK(cuMemAddressFree(va, size));
    CHECK(cuMemMap(va, size, 0, 0, 0) != CUDA_SUCCESS);
    CHECK(shim_used(0) == 0);
}

static void setup(void)
{
    CUdevice dev;
    CUcontext ctx;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
}

int main(void)
{
    shim_setup("T4", "vmm-mapped", "1GiB");
    setenv("GPUVISOR_CONTEXT_MEMORY", "0", 1);
    RUN(setup);
    RUN(t_release_while_mapped);
    RUN(t_range_unmap);
    RUN(t_retain);
    RUN(t_refused);
    return st_summary();
}
