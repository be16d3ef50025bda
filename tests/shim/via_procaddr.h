/* SPDX-License-Identifier: Apache-2.0 */
/* via_procaddr.h: make a driver-API test program reach the driver as the CUDA runtime does.
 *
 * Included before a test's source, it turns each driver call of the test into a call through a
 * pointer obtained with dlopen("libcuda.so.1") + dlsym("cuGetProcAddress_v2") + a versioned
 * request, with the versions and flags the CUDA 13 runtime uses (allocation calls that take a
 * stream are asked for in their per-thread default-stream form). The test's code is unchanged:
 * the same assertions run both ways. */
#ifndef VIA_PROCADDR_H
#define VIA_PROCADDR_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <cuda.h>
#include <cudaTypedefs.h>

/* X(abi name as cuda.h spells the call, request name, version, flags, PFN type) */
#define VIA_CALLS(X)                                                                               \
    X(cuInit, "cuInit", 2000, 0, PFN_cuInit_v2000)                                                 \
    X(cuDeviceGet, "cuDeviceGet", 2000, 0, PFN_cuDeviceGet_v2000)                                  \
    X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000, 0,                               \
      PFN_cuDevicePrimaryCtxRetain_v7000)                                                          \
    X(cuCtxSetCurrent, "cuCtxSetCurrent", 4000, 0, PFN_cuCtxSetCurrent_v4000)                      \
    X(cuCtxPopCurrent_v2, "cuCtxPopCurrent", 4000, 0, PFN_cuCtxPopCurrent_v4000)                   \
    X(cuCtxPushCurrent_v2, "cuCtxPushCurrent", 4000, 0, PFN_cuCtxPushCurrent_v4000)                \
    X(cuMemAlloc_v2, "cuMemAlloc", 3020, 0, PFN_cuMemAlloc_v3020)                                  \
    X(cuMemFree_v2, "cuMemFree", 3020, 0, PFN_cuMemFree_v3020)                                     \
    X(cuMemGetInfo_v2, "cuMemGetInfo", 3020, 0, PFN_cuMemGetInfo_v3020)                            \
    X(cuDeviceTotalMem_v2, "cuDeviceTotalMem", 3020, 0, PFN_cuDeviceTotalMem_v3020)                \
    X(cuMemAllocPitch_v2, "cuMemAllocPitch", 3020, 0, PFN_cuMemAllocPitch_v3020)                   \
    X(cuMemAllocManaged, "cuMemAllocManaged", 6000, 0, PFN_cuMemAllocManaged_v6000)                \
    X(cuStreamCreate, "cuStreamCreate", 2000, 0, PFN_cuStreamCreate_v2000)                         \
    X(cuStreamDestroy_v2, "cuStreamDestroy", 4000, 0, PFN_cuStreamDestroy_v4000)                   \
    X(cuStreamSynchronize, "cuStreamSynchronize", 7000, 2, PFN_cuStreamSynchronize_v7000_ptsz)     \
    X(cuMemAllocAsync, "cuMemAllocAsync", 11020, 2, PFN_cuMemAllocAsync_v11020_ptsz)               \
    X(cuMemFreeAsync, "cuMemFreeAsync", 11020, 2, PFN_cuMemFreeAsync_v11020_ptsz)                  \
    X(cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 2,                                \
      PFN_cuMemAllocFromPoolAsync_v11020_ptsz)                                                     \
    X(cuMemPoolCreate, "cuMemPoolCreate", 11020, 0, PFN_cuMemPoolCreate_v11020)                    \
    X(cuMemPoolDestroy, "cuMemPoolDestroy", 11020, 0, PFN_cuMemPoolDestroy_v11020)                 \
    X(cuMemGetAllocationGranularity, "cuMemGetAllocationGranularity", 10020, 0,                    \
      PFN_cuMemGetAllocationGranularity_v10020)                                                    \
    X(cuMemCreate, "cuMemCreate", 10020, 0, PFN_cuMemCreate_v10020)                                \
    X(cuMemRelease, "cuMemRelease", 10020, 0, PFN_cuMemRelease_v10020)                             \
    X(cuMemAddressReserve, "cuMemAddressReserve", 10020, 0, PFN_cuMemAddressReserve_v10020)        \
    X(cuMemAddressFree, "cuMemAddressFree", 10020, 0, PFN_cuMemAddressFree_v10020)                 \
    X(cuMemMap, "cuMemMap", 10020, 0, PFN_cuMemMap_v10020)                                         \
    X(cuMemUnmap, "cuMemUnmap", 10020, 0, PFN_cuMemUnmap_v10020)                                   \
    X(cuMemSetAccess, "cuMemSetAccess", 10020, 0, PFN_cuMemSetAccess_v10020)                       \
    X(cuArrayCreate_v2, "cuArrayCreate", 3020, 0, PFN_cuArrayCreate_v3020)                         \
    X(cuArray3DCreate_v2, "cuArray3DCreate", 3020, 0, PFN_cuArray3DCreate_v3020)                   \
    X(cuArrayDestroy, "cuArrayDestroy", 2000, 0, PFN_cuArrayDestroy_v2000)

#define VIA_DECLARE(abi, req, ver, flags, pfn) static pfn via_##abi;
VIA_CALLS(VIA_DECLARE)
#undef VIA_DECLARE

/* Resolve every call; exits the program when one is missing, since nothing could be tested. */
static void via_procaddr_load(void)
{
    void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    PFN_cuGetProcAddress_v12000 gpa =
        lib ? (PFN_cuGetProcAddress_v12000)dlsym(lib, "cuGetProcAddress_v2") : NULL;
    if (!gpa) {
        fprintf(stderr, "via_procaddr: no cuGetProcAddress_v2 in libcuda.so.1\n");
        exit(1);
    }
#define VIA_LOAD(abi, req, ver, flags, pfn)                                                        \
    {                                                                                              \
        void *fn = NULL;                                                                           \
        CUdriverProcAddressQueryResult found;                                                      \
        if (gpa(req, &fn, ver, flags, &found) != CUDA_SUCCESS || !fn) {                            \
            fprintf(stderr, "via_procaddr: %s %d %d does not resolve\n", req, ver, flags);         \
            exit(1);                                                                               \
        }                                                                                          \
        via_##abi = (pfn)fn;                                                                       \
    }
    VIA_CALLS(VIA_LOAD)
#undef VIA_LOAD
}

/* From here on, the test's calls go through the pointers. */
#define cuInit                        (*via_cuInit)
#define cuDeviceGet                   (*via_cuDeviceGet)
#define cuDevicePrimaryCtxRetain      (*via_cuDevicePrimaryCtxRetain)
#define cuCtxSetCurrent               (*via_cuCtxSetCurrent)
#define cuCtxPopCurrent_v2            (*via_cuCtxPopCurrent_v2)
#define cuCtxPushCurrent_v2           (*via_cuCtxPushCurrent_v2)
#define cuMemAlloc_v2                 (*via_cuMemAlloc_v2)
#define cuMemFree_v2                  (*via_cuMemFree_v2)
#define cuMemGetInfo_v2               (*via_cuMemGetInfo_v2)
#define cuDeviceTotalMem_v2           (*via_cuDeviceTotalMem_v2)
#define cuMemAllocPitch_v2            (*via_cuMemAllocPitch_v2)
#define cuMemAllocManaged             (*via_cuMemAllocManaged)
#define cuStreamCreate                (*via_cuStreamCreate)
#define cuStreamDestroy_v2            (*via_cuStreamDestroy_v2)
#define cuStreamSynchronize           (*via_cuStreamSynchronize)
#define cuMemAllocAsync               (*via_cuMemAllocAsync)
#define cuMemFreeAsync                (*via_cuMemFreeAsync)
#define cuMemAllocFromPoolAsync       (*via_cuMemAllocFromPoolAsync)
#define cuMemPoolCreate               (*via_cuMemPoolCreate)
#define cuMemPoolDestroy              (*via_cuMemPoolDestroy)
#define cuMemGetAllocationGranularity (*via_cuMemGetAllocationGranularity)
#define cuMemCreate                   (*via_cuMemCreate)
#define cuMemRelease                  (*via_cuMemRelease)
#define cuMemAddressReserve           (*via_cuMemAddressReserve)
#define cuMemAddressFree              (*via_cuMemAddressFree)
#define cuMemMap                      (*via_cuMemMap)
#define cuMemUnmap                    (*via_cuMemUnmap)
#define cuMemSetAccess                (*via_cuMemSetAccess)
#define cuArrayCreate_v2              (*via_cuArrayCreate_v2)
#define cuArray3DCreate_v2            (*via_cuArray3DCreate_v2)
#define cuArrayDestroy                (*via_cuArrayDestroy)

#define VIA_PROCADDR 1

#endif
