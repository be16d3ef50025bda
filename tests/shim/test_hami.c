/* test_hami.c: HAMi-core's variables are honoured, so a HAMi deployment can swap its library for
 * this one: CUDA_DEVICE_MEMORY_LIMIT (all GPUs), CUDA_DEVICE_MEMORY_LIMIT_<i> (ordinal i) and
 * CUDA_DEVICE_MEMORY_SHARED_CACHE (processes naming the same file share one slice). */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimtest.h"

static void t_limit(void)
{
    CUdevice dev;
    CUcontext ctx;
    OK(cuInit(0));
    OK(cuDeviceGet(&dev, 0));
    OK(cuDevicePrimaryCtxRetain(&ctx, dev));
    OK(cuCtxSetCurrent(ctx));
    size_t free_b, total;
    OK(cuMemGetInfo(&free_b, &total));
    CHECK(total == 1536 * MiB); /* _0 wins over the limit for all */
    CUdeviceptr a, b;
    OK(cuMemAlloc(&a, GiB));
    CHECK_CU(cuMemAlloc(&b, 600 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemAlloc(&b, 500 * MiB));
    OK(cuMemFree(a));
    OK(cuMemFree(b));
}

int main(void)
{
    shim_setup("T4", "unused", NULL);
    unsetenv("GPUVISOR_INSTANCE");
    char cache[300];
    snprintf(cache, sizeof(cache), "%s/cudevshr.cache", shim_dir());
    setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", cache, 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT", "4g", 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT_0", "1536m", 1);
    RUN(t_limit);
    return st_summary();
}
