/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_init.c: driver start-up and the devices as the driver API describes them.
 *
 * cuInit attaches this process to the simulated machine (machine.c); everything else here only
 * reads the machine's device list and the catalogue model behind each device. The figures a real
 * driver reports but the catalogue does not carry (block and grid limits, shared memory, texture
 * limits) follow from the compute capability, as they do on real boards, so a program that sizes
 * its launches from cuDeviceGetAttribute sees the numbers it would see on that GPU. Every entry
 * point is exported under each ABI name cuda.h has had for it and checked against the toolkit's
 * PFN typedef, so cuGetProcAddress and dlsym hand out exactly the signature the caller expects.
 *
 * cuInit also reads GPUVISOR_SIM_CONTEXT_MEMORY, the device memory each process's contexts take on
 * a device (cuda_ctx.c charges it), so that the memory a real driver keeps for a context, outside
 * any allocation, can be reproduced in tests. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "sim/sim.h"

#include <cudaTypedefs.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/size.h"

static atomic_bool initialized;
static _Atomic uint64_t context_memory;

uint64_t gvsim_context_memory(void)
{
    return atomic_load(&context_memory);
}

/* GPUVISOR_SIM_CONTEXT_MEMORY: a size ("300MiB"); unset or empty means 0. A value that cannot be
 * read fails cuInit as the machine's own variables do, rather than running a test with the wrong
 * figure. */
static CUresult parse_context_memory(uint64_t *bytes)
{
    const char *v = getenv("GPUVISOR_SIM_CONTEXT_MEMORY");
    *bytes = 0;
    if (!v || !*v)
        return CUDA_SUCCESS;
    struct gv_error err = {0};
    if (gv_size_parse(v, bytes, &err) < 0) {
        fprintf(stderr, "gpuvisor-sim: GPUVISOR_SIM_CONTEXT_MEMORY: %s\n", err.msg);
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

CUresult gvsim_init_check(void)
{
    return atomic_load(&initialized) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

CUresult gvsim_dev_check(CUdevice dev, const struct gvsim_dev_info **info)
{
    if (!atomic_load(&initialized))
        return CUDA_ERROR_NOT_INITIALIZED;
    const struct gvsim_dev_info *d = gvsim_dev(dev);
    if (!d)
        return CUDA_ERROR_INVALID_DEVICE;
    if (info)
        *info = d;
    return CUDA_SUCCESS;
}

CUresult cuInit(unsigned int Flags)
{
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    uint64_t ctx_bytes;
    CUresult r = parse_context_memory(&ctx_bytes);
    if (r == CUDA_SUCCESS)
        r = gvsim_attach();
    if (r == CUDA_SUCCESS) {
        atomic_store(&context_memory, ctx_bytes);
        atomic_store(&initialized, true);
    }
    return r;
}
GVSIM_ABI(cuInit, PFN_cuInit_v2000);

/* The version needs no cuInit, as with the real driver: the runtime asks before it initializes. */
CUresult cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = GVSIM_DRIVER_VERSION;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDriverGetVersion, PFN_cuDriverGetVersion_v2020);

CUresult cuDeviceGetCount(int *count)
{
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    *count = gvsim_device_count();
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetCount, PFN_cuDeviceGetCount_v2000);

CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(ordinal, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    *device = ordinal;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGet, PFN_cuDeviceGet_v2000);

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    snprintf(name, (size_t)len, "%s", d->model->product);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetName, PFN_cuDeviceGetName_v2000);

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    memcpy(uuid->bytes, d->uuid, sizeof(uuid->bytes));
    return CUDA_SUCCESS;
}

/* The two ABI versions differ on MIG instances only (v2 reports the instance's UUID); the
 * simulator has no MIG, so both report the board's. */
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}
GVSIM_ABI(cuDeviceGetUuid, PFN_cuDeviceGetUuid_v9020);

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}
GVSIM_ABI(cuDeviceGetUuid_v2, PFN_cuDeviceGetUuid_v11040);

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    *bytes = (size_t)d->total;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceTotalMem_v2, PFN_cuDeviceTotalMem_v3020);

/* The 32-bit ABI cannot say more than 4 GiB; it saturates rather than wrapping to a small lie. */
CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    size_t total;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuDeviceTotalMem_v2(&total, dev);
    if (r != CUDA_SUCCESS)
        return r;
    *bytes = total > UINT_MAX ? UINT_MAX : (unsigned int)total;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceTotalMem, PFN_cuDeviceTotalMem_v2000);

/* Per-architecture figures that the catalogue leaves to the compute capability. */
struct arch {
    int smem_per_sm; /* bytes of shared memory per SM */
    int smem_optin;  /* bytes a block may opt in to */
    int blocks_per_sm;
    int regs_per_block;
};

static struct arch arch_of(const struct gv_model *m)
{
    unsigned cc = m->cc_major * 10 + m->cc_minor;
    if (cc >= 90)
        return (struct arch){233472, 232448, 32, 65536};
    if (cc == 80)
        return (struct arch){167936, 166912, 32, 65536};
    if (cc >= 86)
        return (struct arch){102400, 101376, 16, 65536};
    if (cc >= 75)
        return (struct arch){65536, 65536, 16, 65536};
    return (struct arch){98304, 49152, 32, 65536};
}

static int clamp_int(uint64_t v)
{
    return v > INT_MAX ? INT_MAX : (int)v;
}

static int attribute(const struct gvsim_dev_info *d, CUdevice_attribute a)
{
    const struct gv_model *m = d->model;
    struct arch ar = arch_of(m);
    switch (a) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
        return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
        return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y:
        return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z:
        return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X:
        return INT_MAX;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
        return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z:
        return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK:
        return 49152;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY:
        return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE:
        return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH:
        return INT_MAX;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK:
        return ar.regs_per_block;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE:
        return clamp_int(m->clock_khz);
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT:
        return 512;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
        return clamp_int(m->sms);
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT:
        return 0;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED:
        return 0;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY:
        return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:
        return CU_COMPUTEMODE_DEFAULT;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH:
        return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH:
        return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT:
        return 65536;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH:
        return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT:
        return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH:
        return 16384;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT:
        return 512;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS:
        return 1;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
        return (int)d->pci_bus;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
        return (int)d->pci_device;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
        return (int)d->pci_domain;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER:
        return 0;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE:
        return clamp_int(m->mem_clock_khz);
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH:
        return clamp_int(m->mem_bus_width);
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE:
        return clamp_int(m->l2_bytes);
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR:
        return clamp_int(m->max_threads_per_sm);
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT:
        return 2;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
        return 1;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT:
        return 32;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
        return (int)m->cc_major;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
        return (int)m->cc_minor;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR:
        return ar.smem_per_sm;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR:
        return 65536;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD:
        return 0;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID:
        return d->index;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO:
        return m->cc_major >= 8 && m->cc_minor == 0 ? 2 : 32;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
        return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1:
        return 1;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
        return ar.smem_optin;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED:
        return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR:
        return ar.blocks_per_sm;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE:
        return m->cc_major >= 8 ? clamp_int(m->l2_bytes * 3ULL / 4) : 0;
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE:
        return m->cc_major >= 8 ? 134213632 : 0;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK:
        return m->cc_major >= 8 ? 1024 : 0;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED:
        return 1;
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES:
        return 0;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH:
        return m->cc_major >= 9;
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG:
        return CU_DEVICE_NUMA_CONFIG_NONE;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID:
        return -1;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID:
        return -1;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID:
        return (int)((m->pci_device_id << 16) | 0x10deu);
    default:
        return 0; /* a capability the simulated board does not have */
    }
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    if ((int)attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    *pi = attribute(d, attrib);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetAttribute, PFN_cuDeviceGetAttribute_v2000);

CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    *major = (int)d->model->cc_major;
    *minor = (int)d->model->cc_minor;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceComputeCapability, PFN_cuDeviceComputeCapability_v2000);

CUresult cuDeviceGetProperties(CUdevprop *prop, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    memset(prop, 0, sizeof(*prop));
    prop->maxThreadsPerBlock = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
    prop->maxThreadsDim[0] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X);
    prop->maxThreadsDim[1] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y);
    prop->maxThreadsDim[2] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z);
    prop->maxGridSize[0] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X);
    prop->maxGridSize[1] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y);
    prop->maxGridSize[2] = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z);
    prop->sharedMemPerBlock = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK);
    prop->totalConstantMemory = attribute(d, CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY);
    prop->SIMDWidth = attribute(d, CU_DEVICE_ATTRIBUTE_WARP_SIZE);
    prop->memPitch = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_PITCH);
    prop->regsPerBlock = attribute(d, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
    prop->clockRate = attribute(d, CU_DEVICE_ATTRIBUTE_CLOCK_RATE);
    prop->textureAlign = attribute(d, CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetProperties, PFN_cuDeviceGetProperties_v2000);

/* The driver's form has a 4-digit domain ("0000:41:00.0"); NVML's has 8 (sim.h keeps that one). */
CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    const struct gvsim_dev_info *d;
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, &d);
    if (r != CUDA_SUCCESS)
        return r;
    snprintf(pciBusId, (size_t)len, "%04x:%02x:%02x.0", d->pci_domain, d->pci_bus, d->pci_device);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetPCIBusId, PFN_cuDeviceGetPCIBusId_v4010);

/* Accepts "domain:bus:device.function", "domain:bus:device" and "bus:device.function", hex,
 * with a domain of any width, as the real driver does. */
static bool parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *device)
{
    unsigned a, b, c, fn;
    int n = 0;
    if (sscanf(s, "%x:%x:%x.%x%n", &a, &b, &c, &fn, &n) == 4 && s[n] == '\0') {
        *domain = a, *bus = b, *device = c;
        return true;
    }
    n = 0;
    if (sscanf(s, "%x:%x:%x%n", &a, &b, &c, &n) == 3 && s[n] == '\0') {
        *domain = a, *bus = b, *device = c;
        return true;
    }
    n = 0;
    if (sscanf(s, "%x:%x.%x%n", &b, &c, &fn, &n) == 3 && s[n] == '\0') {
        *domain = 0, *bus = b, *device = c;
        return true;
    }
    return false;
}

CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    unsigned domain, bus, device;
    if (!dev || !pciBusId)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (!parse_bus_id(pciBusId, &domain, &bus, &device))
        return CUDA_ERROR_INVALID_VALUE;
    for (int i = 0; i < gvsim_device_count(); i++) {
        const struct gvsim_dev_info *d = gvsim_dev(i);
        if (d && d->pci_domain == domain && d->pci_bus == bus && d->pci_device == device) {
            *dev = i;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_DEVICE;
}
GVSIM_ABI(cuDeviceGetByPCIBusId, PFN_cuDeviceGetByPCIBusId_v4010);

/* Simulated device memory is host memory of one process, so any device can reach any other's. */
CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
    if (!canAccessPeer)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(dev, NULL);
    if (r == CUDA_SUCCESS)
        r = gvsim_dev_check(peerDev, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    *canAccessPeer = dev != peerDev;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceCanAccessPeer, PFN_cuDeviceCanAccessPeer_v4000);

CUresult cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib, CUdevice srcDevice,
                                 CUdevice dstDevice)
{
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_dev_check(srcDevice, NULL);
    if (r == CUDA_SUCCESS)
        r = gvsim_dev_check(dstDevice, NULL);
    if (r != CUDA_SUCCESS)
        return r;
    if (srcDevice == dstDevice)
        return CUDA_ERROR_INVALID_DEVICE;
    switch (attrib) {
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK:
        *value = 0;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
        *value = 1;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
        *value = 0;
        break;
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED:
        *value = 0;
        break;
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuDeviceGetP2PAttribute, PFN_cuDeviceGetP2PAttribute_v8000);
