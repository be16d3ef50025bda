/* SPDX-License-Identifier: Apache-2.0 */
/* test_runtime_dl.c: the interposer reached exactly as the CUDA runtime reaches the driver:
 * dlopen("libcuda.so.1"), dlsym(handle, "cuGetProcAddress_v2"), then versioned requests with and
 * without the per-thread default-stream flag. This program is not linked with the driver at all. */
#include <dlfcn.h>
#include <string.h>

#include <cudaTypedefs.h>

#include "shimtest.h"

static void *lib;
static PFN_cuGetProcAddress_v12000 gpa;

static int from_shim(void *fn)
{
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "libgpuvisor");
}

static void *get(const char *name, int version, cuuint64_t flags)
{
    void *fn = NULL;
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (gpa(name, &fn, version, flags, &found) != CUDA_SUCCESS)
        return NULL;
    return found == CU_GET_PROC_ADDRESS_SUCCESS ? fn : NULL;
}

static void t_dlsym_wrapped(void)
{
    CHECK(from_shim((void *)gpa));
    CHECK(from_shim(dlsym(lib, "cuMemAlloc_v2")));
    CHECK(from_shim(dlsym(lib, "cuMemAllocAsync_ptsz")));
    CHECK(from_shim(dlsym(lib, "cuLaunchKernel")));
    /* What the shim does not wrap comes from the driver itself. */
    void *init = dlsym(lib, "cuInit");
    CHECK(init && !from_shim(init));
    CHECK(dlsym(lib, "cuNoSuchFunction") == NULL);
}

static void t_versions(void)
{
    /* Each request gets the wrapper of the ABI version asked for. */
    CHECK(get("cuMemAlloc", 3020, 0) == dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"));
    CHECK(get("cuMemAlloc", 2000, 0) == dlsym(RTLD_DEFAULT, "cuMemAlloc"));
    CHECK(get("cuMemAlloc", 12000, 0) == dlsym(RTLD_DEFAULT, "cuMemAlloc_v2"));
    CHECK(get("cuMemGetInfo", 3020, 0) == dlsym(RTLD_DEFAULT, "cuMemGetInfo_v2"));
    CHECK(get("cuMemAllocAsync", 11020, 0) == dlsym(RTLD_DEFAULT, "cuMemAllocAsync"));
    CHECK(get("cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) ==
          dlsym(RTLD_DEFAULT, "cuMemAllocAsync_ptsz"));
    CHECK(get("cuLaunchKernel", 7000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) ==
          dlsym(RTLD_DEFAULT, "cuLaunchKernel_ptsz"));
    CHECK(get("cuLaunchKernel", 4000, 0) == dlsym(RTLD_DEFAULT, "cuLaunchKernel"));
    CHECK(get("cuGetProcAddress", 12000, 0) == (void *)gpa);
    CHECK(get("cuGetProcAddress", 11030, 0) == dlsym(RTLD_DEFAULT, "cuGetProcAddress"));
    /* Unknown names and versions too old keep the driver's answer. */
    void *fn = (void *)1;
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
    CHECK_CU(gpa("cuNoSuchFunction", &fn, 13000, 0, &found), CUDA_ERROR_NOT_FOUND);
    CHECK(found == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    CHECK(get("cuMemAllocAsync", 11000, 0) == NULL);
    /* Functions the shim does not wrap resolve to the driver's own. */
    void *query = get("cuStreamQuery", 2000, 0);
    CHECK(query && !from_shim(query));
    /* Synchronizing calls are wrapped (the GPU-time token is given up after them). */
    CHECK(get("cuCtxSynchronize", 2000, 0) == dlsym(RTLD_DEFAULT, "cuCtxSynchronize"));
    CHECK(get("cuStreamSynchronize", 7000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) ==
          dlsym(RTLD_DEFAULT, "cuStreamSynchronize_ptsz"));
}

static void t_limits_through_runtime_path(void)
{
    PFN_cuInit_v2000 init = (PFN_cuInit_v2000)get("cuInit", 2000, 0);
    PFN_cuDeviceGet_v2000 dev_get = (PFN_cuDeviceGet_v2000)get("cuDeviceGet", 2000, 0);
    PFN_cuDevicePrimaryCtxRetain_v7000 retain =
        (PFN_cuDevicePrimaryCtxRetain_v7000)get("cuDevicePrimaryCtxRetain", 7000, 0);
    PFN_cuCtxSetCurrent_v4000 set_cur = (PFN_cuCtxSetCurrent_v4000)get("cuCtxSetCurrent", 4000, 0);
    PFN_cuMemAlloc_v3020 alloc = (PFN_cuMemAlloc_v3020)get("cuMemAlloc", 3020, 0);
    PFN_cuMemFree_v3020 mfree = (PFN_cuMemFree_v3020)get("cuMemFree", 3020, 0);
    PFN_cuMemGetInfo_v3020 info = (PFN_cuMemGetInfo_v3020)get("cuMemGetInfo", 3020, 0);
    PFN_cuMemAllocAsync_v11020_ptsz alloc_async = (PFN_cuMemAllocAsync_v11020_ptsz)get(
        "cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
    PFN_cuMemFreeAsync_v11020_ptsz free_async = (PFN_cuMemFreeAsync_v11020_ptsz)get(
        "cuMemFreeAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
    PFN_cuStreamSynchronize_v7000_ptsz sync = (PFN_cuStreamSynchronize_v7000_ptsz)get(
        "cuStreamSynchronize", 7000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
    CHECK(init && dev_get && retain && set_cur && alloc && mfree && info && alloc_async &&
          free_async && sync);
    CUdevice dev;
    CUcontext ctx;
    OK(init(0));
    OK(dev_get(&dev, 0));
    OK(retain(&ctx, dev));
    OK(set_cur(ctx));
    size_t free_b, total;
    OK(info(&free_b, &total));
    CHECK(total == 2 * GiB);
    CUdeviceptr a, b;
    OK(alloc(&a, GiB + 512 * MiB));
    CHECK(shim_used(0) == GiB + 512 * MiB);
    CHECK_CU(alloc_async(&b, GiB, CU_STREAM_PER_THREAD), CUDA_ERROR_OUT_OF_MEMORY);
    OK(alloc_async(&b, 256 * MiB, CU_STREAM_PER_THREAD));
    CHECK(shim_used(0) == GiB + 768 * MiB);
    OK(free_async(b, CU_STREAM_PER_THREAD));
    OK(sync(CU_STREAM_PER_THREAD));
    OK(mfree(a));
    CHECK(shim_used(0) == 0);
}

int main(void)
{
    shim_setup("T4", "runtime-path", "2GiB");
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen libcuda.so.1: %s\n", dlerror());
        return 1;
    }
    gpa = (PFN_cuGetProcAddress_v12000)dlsym(lib, "cuGetProcAddress_v2");
    if (!gpa) {
        fprintf(stderr, "no cuGetProcAddress_v2\n");
        return 1;
    }
    RUN(t_dlsym_wrapped);
    RUN(t_versions);
    RUN(t_limits_through_runtime_path);
    return st_summary();
}
