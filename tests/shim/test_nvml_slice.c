/* SPDX-License-Identifier: Apache-2.0 */
/* test_nvml_slice.c: NVML as seen from inside a slice: memory figures are the slice's and the
 * process list is the instance's members with what each holds. */
#include <string.h>
#include <unistd.h>

#include "core/nvml.h"
#include "shimtest.h"

static void t_memory(void)
{
    nvmlDevice_t d;
    OK(nvmlInit_v2() == NVML_SUCCESS ? CUDA_SUCCESS : CUDA_ERROR_UNKNOWN);
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &d) == NVML_SUCCESS);
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 700 * MiB));
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(d, &m) == NVML_SUCCESS);
    CHECK(m.total == 2 * GiB);
    CHECK(m.used == 700 * MiB);
    CHECK(m.free == 2 * GiB - 700 * MiB);
    nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
    CHECK(nvmlDeviceGetMemoryInfo_v2(d, &m2) == NVML_SUCCESS);
    CHECK(m2.total == 2 * GiB);
    CHECK(m2.free + m2.used <= m2.total);
    CHECK(m2.free == 2 * GiB - 700 * MiB);
    CHECK(nvmlDeviceGetMemoryInfo(d, NULL) == NVML_ERROR_INVALID_ARGUMENT);

    unsigned count = 0;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(d, &count, NULL) == NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(count == 1);
    nvmlProcessInfo_t info[4];
    count = 4;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(d, &count, info) == NVML_SUCCESS);
    CHECK(count == 1);
    CHECK(info[0].pid == (unsigned)getpid());
    CHECK(info[0].usedGpuMemory == 700 * MiB);
    nvmlProcessInfo_v1_t old[4];
    count = 4;
    CHECK(nvmlDeviceGetComputeRunningProcesses(d, &count, old) == NVML_SUCCESS);
    CHECK(count == 1 && old[0].usedGpuMemory == 700 * MiB);
    OK(cuMemFree(p));
    CHECK(nvmlDeviceGetMemoryInfo(d, &m) == NVML_SUCCESS);
    CHECK(m.used == 0 && m.total == 2 * GiB);
    nvmlShutdown();
}

int main(void)
{
    shim_setup("T4", "nvmlslice", "2GiB");
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_memory);
    return st_summary();
}
