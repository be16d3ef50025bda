/* SPDX-License-Identifier: Apache-2.0 */
/* test_device.c: cuInit, versions, and the devices as the driver API describes them, on a
 * simulated machine with a T4 and an H200: every figure must be the catalogue model's. */
/* cuDeviceGetProperties and cuDeviceComputeCapability are deprecated, and still exported. */
#define CUDA_ENABLE_DEPRECATED 1
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalogue.h"
#include "simtest.h"

static const struct gv_model *t4, *h200;

static void before_init(void)
{
    int n = -1, v = 0;
    CUdevice d;
    char name[64];
    CHECK_CU(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuDeviceGet(&d, 0), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_CU(cuDeviceGetName(name, sizeof(name), 0), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuDriverGetVersion(&v)); /* answered before cuInit, as the runtime needs */
    CHECK(v == 13000);
    CHECK_CU(cuDriverGetVersion(NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuInit(1), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
}

static void init(void)
{
    OK(cuInit(0));
    OK(cuInit(0)); /* idempotent */
}

static void devices(void)
{
    int n = 0;
    CUdevice d = -1;
    OK(cuDeviceGetCount(&n));
    CHECK(n == 2);
    CHECK_CU(cuDeviceGetCount(NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuDeviceGet(&d, 1));
    CHECK(d == 1);
    CHECK_CU(cuDeviceGet(&d, 2), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuDeviceGet(&d, -1), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuDeviceGet(NULL, 0), CUDA_ERROR_INVALID_VALUE);
}

static void names(void)
{
    char name[128], small[5];
    OK(cuDeviceGetName(name, sizeof(name), 0));
    CHECK(strcmp(name, t4->product) == 0);
    OK(cuDeviceGetName(name, sizeof(name), 1));
    CHECK(strcmp(name, h200->product) == 0);
    OK(cuDeviceGetName(small, sizeof(small), 0)); /* truncated, terminated */
    CHECK(strlen(small) == 4 && strncmp(small, t4->product, 4) == 0);
    CHECK_CU(cuDeviceGetName(NULL, 10, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetName(name, 0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetName(name, sizeof(name), 7), CUDA_ERROR_INVALID_DEVICE);
}

static void uuids(void)
{
    CUuuid a, b, c;
    static const CUuuid zero;
    OK(cuDeviceGetUuid(&a, 0)); /* the _v2 ABI, as cuda.h maps it */
    CUresult (*v1)(CUuuid *, CUdevice) =
        (CUresult(*)(CUuuid *, CUdevice))dlsym(RTLD_DEFAULT, "cuDeviceGetUuid");
    CHECK(v1 != NULL);
    OK(v1(&b, 0));
    OK(cuDeviceGetUuid(&c, 1));
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);
    CHECK(memcmp(&a, &c, sizeof(a)) != 0);
    CHECK(memcmp(&a, &zero, sizeof(a)) != 0);
    CHECK_CU(cuDeviceGetUuid(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetUuid(&a, 5), CUDA_ERROR_INVALID_DEVICE);
}

static void total_memory(void)
{
    size_t bytes = 0;
    unsigned int small = 0;
    OK(cuDeviceTotalMem(&bytes, 0));
    CHECK(bytes == t4->memory);
    OK(cuDeviceTotalMem(&bytes, 1));
    CHECK(bytes == h200->memory);
    CHECK_CU(cuDeviceTotalMem(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceTotalMem(&bytes, 2), CUDA_ERROR_INVALID_DEVICE);
    /* The 32-bit ABI saturates. */
    CUresult (*v1)(unsigned int *, CUdevice) =
        (CUresult(*)(unsigned int *, CUdevice))dlsym(RTLD_DEFAULT, "cuDeviceTotalMem");
    CHECK(v1 != NULL);
    OK(v1(&small, 1));
    CHECK(small == UINT_MAX);
}

static int attr(CUdevice_attribute a, CUdevice d)
{
    int v = -12345;
    if (cuDeviceGetAttribute(&v, a, d) != CUDA_SUCCESS)
        return -12345;
    return v;
}

static void attributes(void)
{
    const struct gv_model *m[2] = {t4, h200};
    for (int d = 0; d < 2; d++) {
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d) == (int)m[d]->sms);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d) == (int)m[d]->cc_major);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d) == (int)m[d]->cc_minor);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_CLOCK_RATE, d) == (int)m[d]->clock_khz);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, d) == (int)m[d]->mem_clock_khz);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, d) == (int)m[d]->mem_bus_width);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, d) == (int)m[d]->l2_bytes);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, d) ==
              (int)m[d]->max_threads_per_sm);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_WARP_SIZE, d) == 32);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, d) == 1024);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, d) == 1024);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, d) == INT_MAX);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, d) == 49152);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, d) >= 49152);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, d) == 65536);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, d) == 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_COMPUTE_MODE, d) == CU_COMPUTEMODE_DEFAULT);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_INTEGRATED, d) == 0);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, d) >= 1);
        CHECK(attr(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, d) == 1);
    }
    /* In range but not a capability of these boards: 0, successfully. */
    CHECK(attr(CU_DEVICE_ATTRIBUTE_D3D12_CIG_SUPPORTED, 0) == 0);
    int v;
    CHECK_CU(cuDeviceGetAttribute(&v, (CUdevice_attribute)0, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetAttribute(&v, (CUdevice_attribute)100000, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetAttribute(NULL, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0),
             CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 3), CUDA_ERROR_INVALID_DEVICE);
}

static void pci(void)
{
    char id[32];
    CUdevice d = -1;
    for (int i = 0; i < 2; i++) {
        unsigned dom, bus, dev, fn;
        OK(cuDeviceGetPCIBusId(id, sizeof(id), i));
        CHECK(sscanf(id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4);
        CHECK((int)dom == attr(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, i));
        CHECK((int)bus == attr(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, i));
        CHECK((int)dev == attr(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, i));
        OK(cuDeviceGetByPCIBusId(&d, id));
        CHECK(d == i);
        char longer[40];
        snprintf(longer, sizeof(longer), "0000%s", id); /* NVML's 8-digit domain */
        OK(cuDeviceGetByPCIBusId(&d, longer));
        CHECK(d == i);
    }
    OK(cuDeviceGetPCIBusId(id, sizeof(id), 0));
    char *colon = strchr(id, ':');
    OK(cuDeviceGetByPCIBusId(&d, colon + 1)); /* "bus:device.function" */
    CHECK(d == 0);
    CHECK_CU(cuDeviceGetByPCIBusId(&d, "not a bus id"), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetByPCIBusId(&d, "0000:ff:1f.0"), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuDeviceGetByPCIBusId(NULL, id), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetPCIBusId(NULL, 32, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuDeviceGetPCIBusId(id, sizeof(id), 9), CUDA_ERROR_INVALID_DEVICE);
}

static void properties(void)
{
    CUdevprop p;
    int major = 0, minor = 0, can = -1;
    OK(cuDeviceGetProperties(&p, 1));
    CHECK(p.maxThreadsPerBlock == 1024 && p.SIMDWidth == 32 && p.clockRate == (int)h200->clock_khz);
    CHECK_CU(cuDeviceGetProperties(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cuDeviceComputeCapability(&major, &minor, 0));
    CHECK(major == (int)t4->cc_major && minor == (int)t4->cc_minor);
    CHECK_CU(cuDeviceComputeCapability(NULL, &minor, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cuDeviceCanAccessPeer(&can, 0, 1));
    CHECK(can == 1);
    OK(cuDeviceCanAccessPeer(&can, 1, 1));
    CHECK(can == 0);
    CHECK_CU(cuDeviceCanAccessPeer(&can, 0, 4), CUDA_ERROR_INVALID_DEVICE);
    CHECK_CU(cuDeviceCanAccessPeer(NULL, 0, 1), CUDA_ERROR_INVALID_VALUE);
    int v = -1;
    OK(cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 1));
    CHECK(v == 1);
    CHECK_CU(cuDeviceGetP2PAttribute(&v, CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED, 0, 0),
             CUDA_ERROR_INVALID_DEVICE);
}

int main(void)
{
    struct gv_error err;
    t4 = gv_model_find("T4", &err);
    h200 = gv_model_find("H200", &err);
    if (!t4 || !h200) {
        fprintf(stderr, "catalogue lacks T4 or H200\n");
        return 1;
    }
    st_machine("T4,H200");
    RUN(before_init);
    RUN(init);
    RUN(devices);
    RUN(names);
    RUN(uuids);
    RUN(total_memory);
    RUN(attributes);
    RUN(pci);
    RUN(properties);
    return st_summary();
}
