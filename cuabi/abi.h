/* SPDX-License-Identifier: Apache-2.0 */
/* abi.h: the driver API's entry points by ABI, and its error codes' names and strings, as lists.
 *
 * The CUDA runtime does not link against libcuda: it dlopens it, dlsyms cuGetProcAddress_v2 and
 * asks for each function by its base name ("cuMemAlloc"), the CUDA version whose ABI it was
 * compiled against, and whether it wants the per-thread default-stream flavour. One base name can
 * have several ABIs (cuMemAlloc took a 32-bit pointer before 3.2; cuCtxCreate grew parameters in
 * 11.4 and 12.5), so the answer is the newest ABI not newer than the version asked.
 *
 * Two libraries answer those requests: the simulated driver (sim/) and the remoting client's
 * libcuda.so.1 (remote/client/), which must offer exactly the same ABIs, so the lists live here
 * once, and cuabi/procaddr.c (compiled into both) turns them into the table, the look-up and the
 * error strings.
 *
 * X(name, version, function): an ABI of `name` since `version`, exported as `function`.
 * T(name, version, suffix, function): its per-thread default-stream flavour (suffix ptds for
 * synchronous calls, ptsz for stream-taking ones, as cuda.h names them).
 * Every row expands twice: into the table, and into a compile-time check that the function has
 * exactly the signature of the toolkit's PFN_<name>_v<version> typedef, so that no row can hand
 * out a function under an ABI it does not have. */
#ifndef GV_CUABI_ABI_H
#define GV_CUABI_ABI_H

/* The entry points cuabi/procaddr.c itself defines. */
#define CUABI_SELF_ENTRIES(X, T)                                                                   \
    X(cuGetProcAddress, 11030, cuGetProcAddress)                                                   \
    X(cuGetProcAddress, 12000, cuGetProcAddress_v2)                                                \
    X(cuGetErrorString, 6000, cuGetErrorString)                                                    \
    X(cuGetErrorName, 6000, cuGetErrorName)                                                        \
    X(cuGetExportTable, 3000, cuGetExportTable)

/* Initialization, devices, contexts and memory. */
#define CUABI_RESOURCE_ENTRIES(X, T)                                                               \
    X(cuInit, 2000, cuInit)                                                                        \
    X(cuDriverGetVersion, 2020, cuDriverGetVersion)                                                \
    X(cuDeviceGet, 2000, cuDeviceGet)                                                              \
    X(cuDeviceGetCount, 2000, cuDeviceGetCount)                                                    \
    X(cuDeviceGetName, 2000, cuDeviceGetName)                                                      \
    X(cuDeviceGetUuid, 9020, cuDeviceGetUuid)                                                      \
    X(cuDeviceGetUuid, 11040, cuDeviceGetUuid_v2)                                                  \
    X(cuDeviceTotalMem, 2000, cuDeviceTotalMem)                                                    \
    X(cuDeviceTotalMem, 3020, cuDeviceTotalMem_v2)                                                 \
    X(cuDeviceGetAttribute, 2000, cuDeviceGetAttribute)                                            \
    X(cuDeviceComputeCapability, 2000, cuDeviceComputeCapability)                                  \
    X(cuDeviceGetProperties, 2000, cuDeviceGetProperties)                                          \
    X(cuDeviceGetPCIBusId, 4010, cuDeviceGetPCIBusId)                                              \
    X(cuDeviceGetByPCIBusId, 4010, cuDeviceGetByPCIBusId)                                          \
    X(cuDeviceCanAccessPeer, 4000, cuDeviceCanAccessPeer)                                          \
    X(cuDeviceGetP2PAttribute, 8000, cuDeviceGetP2PAttribute)                                      \
    X(cuDevicePrimaryCtxRetain, 7000, cuDevicePrimaryCtxRetain)                                    \
    X(cuDevicePrimaryCtxRelease, 7000, cuDevicePrimaryCtxRelease)                                  \
    X(cuDevicePrimaryCtxRelease, 11000, cuDevicePrimaryCtxRelease_v2)                              \
    X(cuDevicePrimaryCtxReset, 7000, cuDevicePrimaryCtxReset)                                      \
    X(cuDevicePrimaryCtxReset, 11000, cuDevicePrimaryCtxReset_v2)                                  \
    X(cuDevicePrimaryCtxSetFlags, 7000, cuDevicePrimaryCtxSetFlags)                                \
    X(cuDevicePrimaryCtxSetFlags, 11000, cuDevicePrimaryCtxSetFlags_v2)                            \
    X(cuDevicePrimaryCtxGetState, 7000, cuDevicePrimaryCtxGetState)                                \
    X(cuCtxCreate, 2000, cuCtxCreate)                                                              \
    X(cuCtxCreate, 3020, cuCtxCreate_v2)                                                           \
    X(cuCtxCreate, 11040, cuCtxCreate_v3)                                                          \
    X(cuCtxCreate, 12050, cuCtxCreate_v4)                                                          \
    X(cuCtxDestroy, 2000, cuCtxDestroy)                                                            \
    X(cuCtxDestroy, 4000, cuCtxDestroy_v2)                                                         \
    X(cuCtxPushCurrent, 2000, cuCtxPushCurrent)                                                    \
    X(cuCtxPushCurrent, 4000, cuCtxPushCurrent_v2)                                                 \
    X(cuCtxPopCurrent, 2000, cuCtxPopCurrent)                                                      \
    X(cuCtxPopCurrent, 4000, cuCtxPopCurrent_v2)                                                   \
    X(cuCtxSetCurrent, 4000, cuCtxSetCurrent)                                                      \
    X(cuCtxGetCurrent, 4000, cuCtxGetCurrent)                                                      \
    X(cuCtxGetDevice, 2000, cuCtxGetDevice)                                                        \
    X(cuCtxGetDevice, 13000, cuCtxGetDevice_v2)                                                    \
    X(cuCtxSynchronize, 2000, cuCtxSynchronize)                                                    \
    X(cuCtxSynchronize, 13000, cuCtxSynchronize_v2)                                                \
    X(cuCtxGetApiVersion, 3020, cuCtxGetApiVersion)                                                \
    X(cuCtxGetFlags, 7000, cuCtxGetFlags)                                                          \
    X(cuCtxSetFlags, 12010, cuCtxSetFlags)                                                         \
    X(cuCtxGetId, 12000, cuCtxGetId)                                                               \
    X(cuCtxGetLimit, 3010, cuCtxGetLimit)                                                          \
    X(cuCtxSetLimit, 3010, cuCtxSetLimit)                                                          \
    X(cuCtxGetCacheConfig, 3020, cuCtxGetCacheConfig)                                              \
    X(cuCtxSetCacheConfig, 3020, cuCtxSetCacheConfig)                                              \
    X(cuCtxGetSharedMemConfig, 4020, cuCtxGetSharedMemConfig)                                      \
    X(cuCtxSetSharedMemConfig, 4020, cuCtxSetSharedMemConfig)                                      \
    X(cuCtxGetStreamPriorityRange, 5050, cuCtxGetStreamPriorityRange)                              \
    X(cuCtxResetPersistingL2Cache, 11000, cuCtxResetPersistingL2Cache)                             \
    X(cuCtxEnablePeerAccess, 4000, cuCtxEnablePeerAccess)                                          \
    X(cuCtxDisablePeerAccess, 4000, cuCtxDisablePeerAccess)                                        \
    X(cuMemAlloc, 2000, cuMemAlloc)                                                                \
    X(cuMemAlloc, 3020, cuMemAlloc_v2)                                                             \
    X(cuMemAllocPitch, 2000, cuMemAllocPitch)                                                      \
    X(cuMemAllocPitch, 3020, cuMemAllocPitch_v2)                                                   \
    X(cuMemFree, 2000, cuMemFree)                                                                  \
    X(cuMemFree, 3020, cuMemFree_v2)                                                               \
    X(cuMemGetInfo, 2000, cuMemGetInfo)                                                            \
    X(cuMemGetInfo, 3020, cuMemGetInfo_v2)                                                         \
    X(cuMemGetAddressRange, 2000, cuMemGetAddressRange)                                            \
    X(cuMemGetAddressRange, 3020, cuMemGetAddressRange_v2)                                         \
    X(cuMemAllocManaged, 6000, cuMemAllocManaged)                                                  \
    X(cuMemAllocHost, 2000, cuMemAllocHost)                                                        \
    X(cuMemAllocHost, 3020, cuMemAllocHost_v2)                                                     \
    X(cuMemHostAlloc, 2020, cuMemHostAlloc)                                                        \
    X(cuMemFreeHost, 2000, cuMemFreeHost)                                                          \
    X(cuMemHostGetDevicePointer, 2020, cuMemHostGetDevicePointer)                                  \
    X(cuMemHostGetDevicePointer, 3020, cuMemHostGetDevicePointer_v2)                               \
    X(cuMemHostGetFlags, 2030, cuMemHostGetFlags)                                                  \
    X(cuMemHostRegister, 4000, cuMemHostRegister)                                                  \
    X(cuMemHostRegister, 6050, cuMemHostRegister_v2)                                               \
    X(cuMemHostUnregister, 4000, cuMemHostUnregister)                                              \
    X(cuMemAllocAsync, 11020, cuMemAllocAsync)                                                     \
    T(cuMemAllocAsync, 11020, ptsz, cuMemAllocAsync_ptsz)                                          \
    X(cuMemAllocFromPoolAsync, 11020, cuMemAllocFromPoolAsync)                                     \
    T(cuMemAllocFromPoolAsync, 11020, ptsz, cuMemAllocFromPoolAsync_ptsz)                          \
    X(cuMemFreeAsync, 11020, cuMemFreeAsync)                                                       \
    T(cuMemFreeAsync, 11020, ptsz, cuMemFreeAsync_ptsz)                                            \
    X(cuMemPoolCreate, 11020, cuMemPoolCreate)                                                     \
    X(cuMemPoolDestroy, 11020, cuMemPoolDestroy)                                                   \
    X(cuMemPoolTrimTo, 11020, cuMemPoolTrimTo)                                                     \
    X(cuMemPoolGetAttribute, 11020, cuMemPoolGetAttribute)                                         \
    X(cuMemPoolSetAttribute, 11020, cuMemPoolSetAttribute)                                         \
    X(cuMemPoolSetAccess, 11020, cuMemPoolSetAccess)                                               \
    X(cuMemPoolGetAccess, 11020, cuMemPoolGetAccess)                                               \
    X(cuDeviceGetDefaultMemPool, 11020, cuDeviceGetDefaultMemPool)                                 \
    X(cuDeviceGetMemPool, 11020, cuDeviceGetMemPool)                                               \
    X(cuDeviceSetMemPool, 11020, cuDeviceSetMemPool)                                               \
    X(cuMemGetDefaultMemPool, 13000, cuMemGetDefaultMemPool)                                       \
    X(cuMemGetMemPool, 13000, cuMemGetMemPool)                                                     \
    X(cuMemSetMemPool, 13000, cuMemSetMemPool)                                                     \
    X(cuMemGetAllocationGranularity, 10020, cuMemGetAllocationGranularity)                         \
    X(cuMemCreate, 10020, cuMemCreate)                                                             \
    X(cuMemRelease, 10020, cuMemRelease)                                                           \
    X(cuMemGetAllocationPropertiesFromHandle, 10020, cuMemGetAllocationPropertiesFromHandle)       \
    X(cuMemRetainAllocationHandle, 11000, cuMemRetainAllocationHandle)                             \
    X(cuMemAddressReserve, 10020, cuMemAddressReserve)                                             \
    X(cuMemAddressFree, 10020, cuMemAddressFree)                                                   \
    X(cuMemMap, 10020, cuMemMap)                                                                   \
    X(cuMemUnmap, 10020, cuMemUnmap)                                                               \
    X(cuMemSetAccess, 10020, cuMemSetAccess)                                                       \
    X(cuArrayCreate, 2000, cuArrayCreate)                                                          \
    X(cuArrayCreate, 3020, cuArrayCreate_v2)                                                       \
    X(cuArray3DCreate, 2000, cuArray3DCreate)                                                      \
    X(cuArray3DCreate, 3020, cuArray3DCreate_v2)                                                   \
    X(cuArrayGetDescriptor, 2000, cuArrayGetDescriptor)                                            \
    X(cuArrayGetDescriptor, 3020, cuArrayGetDescriptor_v2)                                         \
    X(cuArray3DGetDescriptor, 2000, cuArray3DGetDescriptor)                                        \
    X(cuArray3DGetDescriptor, 3020, cuArray3DGetDescriptor_v2)                                     \
    X(cuArrayDestroy, 2000, cuArrayDestroy)                                                        \
    X(cuPointerGetAttribute, 4000, cuPointerGetAttribute)                                          \
    X(cuPointerGetAttributes, 7000, cuPointerGetAttributes)

/* Streams, events, copies and fills, modules and launches. */
#define CUABI_EXEC_ENTRIES(X, T)                                                                   \
    X(cuStreamCreate, 2000, cuStreamCreate)                                                        \
    X(cuStreamCreateWithPriority, 5050, cuStreamCreateWithPriority)                                \
    X(cuStreamDestroy, 2000, cuStreamDestroy)                                                      \
    X(cuStreamDestroy, 4000, cuStreamDestroy_v2)                                                   \
    X(cuStreamSynchronize, 2000, cuStreamSynchronize)                                              \
    T(cuStreamSynchronize, 7000, ptsz, cuStreamSynchronize_ptsz)                                   \
    X(cuStreamQuery, 2000, cuStreamQuery)                                                          \
    T(cuStreamQuery, 7000, ptsz, cuStreamQuery_ptsz)                                               \
    X(cuStreamWaitEvent, 3020, cuStreamWaitEvent)                                                  \
    T(cuStreamWaitEvent, 7000, ptsz, cuStreamWaitEvent_ptsz)                                       \
    X(cuStreamGetPriority, 5050, cuStreamGetPriority)                                              \
    T(cuStreamGetPriority, 7000, ptsz, cuStreamGetPriority_ptsz)                                   \
    X(cuStreamGetFlags, 5050, cuStreamGetFlags)                                                    \
    T(cuStreamGetFlags, 7000, ptsz, cuStreamGetFlags_ptsz)                                         \
    X(cuStreamGetCtx, 9020, cuStreamGetCtx)                                                        \
    T(cuStreamGetCtx, 9020, ptsz, cuStreamGetCtx_ptsz)                                             \
    X(cuStreamAddCallback, 5000, cuStreamAddCallback)                                              \
    T(cuStreamAddCallback, 7000, ptsz, cuStreamAddCallback_ptsz)                                   \
    X(cuLaunchHostFunc, 10000, cuLaunchHostFunc)                                                   \
    T(cuLaunchHostFunc, 10000, ptsz, cuLaunchHostFunc_ptsz)                                        \
    X(cuEventCreate, 2000, cuEventCreate)                                                          \
    X(cuEventRecord, 2000, cuEventRecord)                                                          \
    T(cuEventRecord, 7000, ptsz, cuEventRecord_ptsz)                                               \
    X(cuEventRecordWithFlags, 11010, cuEventRecordWithFlags)                                       \
    T(cuEventRecordWithFlags, 11010, ptsz, cuEventRecordWithFlags_ptsz)                            \
    X(cuEventQuery, 2000, cuEventQuery)                                                            \
    X(cuEventSynchronize, 2000, cuEventSynchronize)                                                \
    X(cuEventElapsedTime, 2000, cuEventElapsedTime)                                                \
    X(cuEventElapsedTime, 12080, cuEventElapsedTime_v2)                                            \
    X(cuEventDestroy, 2000, cuEventDestroy)                                                        \
    X(cuEventDestroy, 4000, cuEventDestroy_v2)                                                     \
    X(cuMemcpy, 4000, cuMemcpy)                                                                    \
    T(cuMemcpy, 7000, ptds, cuMemcpy_ptds)                                                         \
    X(cuMemcpyAsync, 4000, cuMemcpyAsync)                                                          \
    T(cuMemcpyAsync, 7000, ptsz, cuMemcpyAsync_ptsz)                                               \
    X(cuMemcpyHtoD, 2000, cuMemcpyHtoD)                                                            \
    X(cuMemcpyHtoD, 3020, cuMemcpyHtoD_v2)                                                         \
    T(cuMemcpyHtoD, 7000, ptds, cuMemcpyHtoD_v2_ptds)                                              \
    X(cuMemcpyDtoH, 2000, cuMemcpyDtoH)                                                            \
    X(cuMemcpyDtoH, 3020, cuMemcpyDtoH_v2)                                                         \
    T(cuMemcpyDtoH, 7000, ptds, cuMemcpyDtoH_v2_ptds)                                              \
    X(cuMemcpyDtoD, 2000, cuMemcpyDtoD)                                                            \
    X(cuMemcpyDtoD, 3020, cuMemcpyDtoD_v2)                                                         \
    T(cuMemcpyDtoD, 7000, ptds, cuMemcpyDtoD_v2_ptds)                                              \
    X(cuMemcpyHtoDAsync, 2000, cuMemcpyHtoDAsync)                                                  \
    X(cuMemcpyHtoDAsync, 3020, cuMemcpyHtoDAsync_v2)                                               \
    T(cuMemcpyHtoDAsync, 7000, ptsz, cuMemcpyHtoDAsync_v2_ptsz)                                    \
    X(cuMemcpyDtoHAsync, 2000, cuMemcpyDtoHAsync)                                                  \
    X(cuMemcpyDtoHAsync, 3020, cuMemcpyDtoHAsync_v2)                                               \
    T(cuMemcpyDtoHAsync, 7000, ptsz, cuMemcpyDtoHAsync_v2_ptsz)                                    \
    X(cuMemcpyDtoDAsync, 3000, cuMemcpyDtoDAsync)                                                  \
    X(cuMemcpyDtoDAsync, 3020, cuMemcpyDtoDAsync_v2)                                               \
    T(cuMemcpyDtoDAsync, 7000, ptsz, cuMemcpyDtoDAsync_v2_ptsz)                                    \
    X(cuMemsetD8, 2000, cuMemsetD8)                                                                \
    X(cuMemsetD8, 3020, cuMemsetD8_v2)                                                             \
    T(cuMemsetD8, 7000, ptds, cuMemsetD8_v2_ptds)                                                  \
    X(cuMemsetD8Async, 3020, cuMemsetD8Async)                                                      \
    T(cuMemsetD8Async, 7000, ptsz, cuMemsetD8Async_ptsz)                                           \
    X(cuMemsetD16, 2000, cuMemsetD16)                                                              \
    X(cuMemsetD16, 3020, cuMemsetD16_v2)                                                           \
    T(cuMemsetD16, 7000, ptds, cuMemsetD16_v2_ptds)                                                \
    X(cuMemsetD16Async, 3020, cuMemsetD16Async)                                                    \
    T(cuMemsetD16Async, 7000, ptsz, cuMemsetD16Async_ptsz)                                         \
    X(cuMemsetD32, 2000, cuMemsetD32)                                                              \
    X(cuMemsetD32, 3020, cuMemsetD32_v2)                                                           \
    T(cuMemsetD32, 7000, ptds, cuMemsetD32_v2_ptds)                                                \
    X(cuMemsetD32Async, 3020, cuMemsetD32Async)                                                    \
    T(cuMemsetD32Async, 7000, ptsz, cuMemsetD32Async_ptsz)                                         \
    X(cuModuleLoadData, 2000, cuModuleLoadData)                                                    \
    X(cuModuleLoadDataEx, 2010, cuModuleLoadDataEx)                                                \
    X(cuModuleGetFunction, 2000, cuModuleGetFunction)                                              \
    X(cuModuleUnload, 2000, cuModuleUnload)                                                        \
    X(cuLibraryLoadData, 12000, cuLibraryLoadData)                                                 \
    X(cuLibraryGetKernel, 12000, cuLibraryGetKernel)                                               \
    X(cuLibraryUnload, 12000, cuLibraryUnload)                                                     \
    X(cuKernelGetFunction, 12000, cuKernelGetFunction)                                             \
    X(cuFuncGetParamInfo, 12040, cuFuncGetParamInfo)                                               \
    X(cuLaunchKernel, 4000, cuLaunchKernel)                                                        \
    T(cuLaunchKernel, 7000, ptsz, cuLaunchKernel_ptsz)                                             \
    X(cuLaunchKernelEx, 11060, cuLaunchKernelEx)                                                   \
    T(cuLaunchKernelEx, 11060, ptsz, cuLaunchKernelEx_ptsz)                                        \
    X(cuLaunchCooperativeKernel, 9000, cuLaunchCooperativeKernel)                                  \
    T(cuLaunchCooperativeKernel, 9000, ptsz, cuLaunchCooperativeKernel_ptsz)

#define CUABI_ENTRIES(X, T)                                                                        \
    CUABI_SELF_ENTRIES(X, T) CUABI_RESOURCE_ENTRIES(X, T) CUABI_EXEC_ENTRIES(X, T)

/* E(code, text): every CUresult the driver names, with the text cuGetErrorString gives. */
#define CUABI_ERRORS(E)                                                                            \
    E(CUDA_SUCCESS, "no error")                                                                    \
    E(CUDA_ERROR_INVALID_VALUE, "invalid argument")                                                \
    E(CUDA_ERROR_OUT_OF_MEMORY, "out of memory")                                                   \
    E(CUDA_ERROR_NOT_INITIALIZED, "initialization error")                                          \
    E(CUDA_ERROR_DEINITIALIZED, "driver shutting down")                                            \
    E(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled while using external profiling tool")       \
    E(CUDA_ERROR_PROFILER_NOT_INITIALIZED,                                                         \
      "profiler not initialized: call cudaProfilerInitialize()")                                   \
    E(CUDA_ERROR_PROFILER_ALREADY_STARTED, "profiler already started")                             \
    E(CUDA_ERROR_PROFILER_ALREADY_STOPPED, "profiler already stopped")                             \
    E(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library")                                    \
    E(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, "call requires a newer driver")                       \
    E(CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA-capable device(s) is/are busy or unavailable")          \
    E(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected")                                  \
    E(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal")                                         \
    E(CUDA_ERROR_DEVICE_NOT_LICENSED, "device doesn't have valid grid license")                    \
    E(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid")                                  \
    E(CUDA_ERROR_INVALID_CONTEXT, "invalid device context")                                        \
    E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current")                               \
    E(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed")                                    \
    E(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed")                                \
    E(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped")                                               \
    E(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped")                                        \
    E(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device")    \
    E(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired")                                    \
    E(CUDA_ERROR_NOT_MAPPED, "resource not mapped")                                                \
    E(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, "resource not mapped as array")                              \
    E(CUDA_ERROR_NOT_MAPPED_AS_POINTER, "resource not mapped as pointer")                          \
    E(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error encountered")                         \
    E(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit is not supported on this architecture")                 \
    E(CUDA_ERROR_CONTEXT_ALREADY_IN_USE,                                                           \
      "exclusive-thread device already in use by a different thread")                              \
    E(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED,                                                          \
      "peer access is not supported between these two devices")                                    \
    E(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed")                                      \
    E(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid OpenGL or DirectX context")                    \
    E(CUDA_ERROR_NVLINK_UNCORRECTABLE, "uncorrectable NVLink error detected during the execution") \
    E(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler library not found")                     \
    E(CUDA_ERROR_UNSUPPORTED_PTX_VERSION,                                                          \
      "the provided PTX was compiled with an unsupported toolchain")                               \
    E(CUDA_ERROR_JIT_COMPILATION_DISABLED, "PTX JIT compilation was disabled")                     \
    E(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, "the provided execution affinity is not supported")    \
    E(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC,                                                         \
      "the provided PTX contains unsupported call to cudaDeviceSynchronize")                       \
    E(CUDA_ERROR_CONTAINED, "an exception occurred on the device, contained to the faulting work") \
    E(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid")                                 \
    E(CUDA_ERROR_FILE_NOT_FOUND, "file not found")                                                 \
    E(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, "shared object symbol not found")                 \
    E(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, "shared object initialization failed")                 \
    E(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS")         \
    E(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle")                                        \
    E(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state")          \
    E(CUDA_ERROR_LOSSY_QUERY, "attempted introspection would be semantically lossy")               \
    E(CUDA_ERROR_NOT_FOUND, "named symbol not found")                                              \
    E(CUDA_ERROR_NOT_READY, "device not ready")                                                    \
    E(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered")                      \
    E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch")               \
    E(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated")                        \
    E(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, "launch uses incompatible texturing mode")         \
    E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled")                    \
    E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled")                      \
    E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "cannot set while device is active in this process")      \
    E(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed")                                     \
    E(CUDA_ERROR_ASSERT, "device-side assert triggered")                                           \
    E(CUDA_ERROR_TOO_MANY_PEERS, "peer mapping resources exhausted")                               \
    E(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,                                                   \
      "part or all of the requested memory range is already mapped")                               \
    E(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED,                                                       \
      "pointer does not correspond to a registered memory region")                                 \
    E(CUDA_ERROR_HARDWARE_STACK_ERROR, "hardware stack error")                                     \
    E(CUDA_ERROR_ILLEGAL_INSTRUCTION, "an illegal instruction was encountered")                    \
    E(CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address")                                         \
    E(CUDA_ERROR_INVALID_ADDRESS_SPACE, "operation not supported on global/shared address space")  \
    E(CUDA_ERROR_INVALID_PC, "invalid program counter")                                            \
    E(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure")                                      \
    E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch")            \
    E(CUDA_ERROR_TENSOR_MEMORY_LEAK, "tensor memory not completely freed")                         \
    E(CUDA_ERROR_NOT_PERMITTED, "operation not permitted")                                         \
    E(CUDA_ERROR_NOT_SUPPORTED, "operation not supported")                                         \
    E(CUDA_ERROR_SYSTEM_NOT_READY, "system not yet initialized")                                   \
    E(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH,                                                           \
      "system has unsupported display driver / cuda driver combination")                           \
    E(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE,                                                   \
      "forward compatibility was attempted on non supported HW")                                   \
    E(CUDA_ERROR_MPS_CONNECTION_FAILED,                                                            \
      "MPS client failed to connect to the MPS control daemon or the MPS server")                  \
    E(CUDA_ERROR_MPS_RPC_FAILURE,                                                                  \
      "the remote procedural call between the MPS server and the MPS client failed")               \
    E(CUDA_ERROR_MPS_SERVER_NOT_READY,                                                             \
      "MPS server is not ready to accept new MPS client requests")                                 \
    E(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED,                                                          \
      "the hardware resources required to create MPS client have been exhausted")                  \
    E(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED,                                                      \
      "the hardware resources required to support device connections have been exhausted")         \
    E(CUDA_ERROR_MPS_CLIENT_TERMINATED, "the MPS client has been terminated by the server")        \
    E(CUDA_ERROR_CDP_NOT_SUPPORTED,                                                                \
      "the module is using CUDA Dynamic Parallelism, which is not supported")                      \
    E(CUDA_ERROR_CDP_VERSION_MISMATCH,                                                             \
      "the module uses CUDA Dynamic Parallelism of a mismatched version")                          \
    E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing")   \
    E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED,                                                       \
      "operation failed due to a previous error during capture")                                   \
    E(CUDA_ERROR_STREAM_CAPTURE_MERGE,                                                             \
      "operation would result in a merge of separate capture sequences")                           \
    E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "capture was not ended in the same stream as it began") \
    E(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "capturing stream has unjoined work")                    \
    E(CUDA_ERROR_STREAM_CAPTURE_ISOLATION,                                                         \
      "dependency created on uncaptured work in another stream")                                   \
    E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,                                                          \
      "operation would make the legacy stream depend on a capturing blocking stream")              \
    E(CUDA_ERROR_CAPTURED_EVENT,                                                                   \
      "operation not permitted on an event last recorded in a capturing stream")                   \
    E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD,                                                      \
      "attempt to terminate a thread-local capture sequence from another thread")                  \
    E(CUDA_ERROR_TIMEOUT, "wait operation timed out")                                              \
    E(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE,                                                        \
      "the graph update was not performed because it included changes which violated constraints " \
      "specific to instantiated graph update")                                                     \
    E(CUDA_ERROR_EXTERNAL_DEVICE,                                                                  \
      "an async error has occurred in an external entity outside of CUDA")                         \
    E(CUDA_ERROR_INVALID_CLUSTER_SIZE,                                                             \
      "a kernel launch error has occurred due to cluster misconfiguration")                        \
    E(CUDA_ERROR_FUNCTION_NOT_LOADED,                                                              \
      "the function handle is not loaded when calling an API that requires a loaded function")     \
    E(CUDA_ERROR_INVALID_RESOURCE_TYPE,                                                            \
      "one or more resources passed in are not valid resource types for the operation")            \
    E(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION,                                                   \
      "one or more resources are insufficient or non-applicable for the operation")                \
    E(CUDA_ERROR_KEY_ROTATION, "an error happened during the key rotation sequence")               \
    E(CUDA_ERROR_UNKNOWN, "unknown error")

#endif
