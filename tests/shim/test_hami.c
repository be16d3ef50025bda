/* SPDX-License-Identifier: Apache-2.0 */
/* test_hami.c: HAMi-core's variables are honoured, so a HAMi deployment can swap its library for
 * this one: CUDA_DEVICE_MEMORY_LIMIT (all GPUs), CUDA_DEVICE_MEMORY_LIMIT_<i> (ordinal i) and
 * CUDA_DEVICE_MEMORY_SHARED_CACHE (processes naming the same file share one slice). */
#include <stdlib.h>
#include <string.h>
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

/* Child mode: the limit variable cannot be read. It must not become "no limit": device memory is
 * refused, and the reason is on stderr. Exit 0 when that holds. */
static int run_bad_limit(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr p;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx))
        return 1;
    return cuMemAlloc(&p, 1 << 20) == CUDA_ERROR_OUT_OF_MEMORY ? 0 : 2;
}

static void t_bad_limit_refuses(void)
{
    static const char *const cases[][2] = {
        {"CUDA_DEVICE_MEMORY_LIMIT", "12XB"},
        {"CUDA_DEVICE_MEMORY_LIMIT_0", "-1"},
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int err[2];
        CHECK(pipe(err) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(err[1], 2);
            setenv(cases[i][0], cases[i][1], 1);
            execl("/proc/self/exe", "test_hami", "bad-limit", (char *)NULL);
            _exit(127);
        }
        close(err[1]);
        char text[512] = {0};
        ssize_t n = read(err[0], text, sizeof(text) - 1);
        close(err[0]);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(n > 0 && strstr(text, cases[i][0]) != NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "bad-limit") == 0)
        return run_bad_limit();
    shim_setup("T4", "unused", NULL);
    unsetenv("GPUVISOR_INSTANCE");
    char cache[300];
    snprintf(cache, sizeof(cache), "%s/cudevshr.cache", shim_dir());
    setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", cache, 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT", "4g", 1);
    setenv("CUDA_DEVICE_MEMORY_LIMIT_0", "1536m", 1);
    RUN(t_limit);
    RUN(t_bad_limit_refuses);
    return st_summary();
}
