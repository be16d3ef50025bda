/* SPDX-License-Identifier: Apache-2.0 */
/* tenant.c: the demo's tenant, a plain driver-API program that knows nothing of gpuvisor.
 *
 * It takes device memory one step at a time up to what it wants, uses it (on the simulator it
 * runs a kernel over it), reports what cuMemGetInfo shows, holds it for a while so that
 * `gpuvisor smi` can be watched, and frees it. When a step is refused it says so and goes on
 * with what it has: a clean out-of-memory error is the expected end of a greedy tenant. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/size.h"

#define MAX_STEPS 256

static const char *label = "tenant";

static char *size_text(uint64_t bytes, char buf[32])
{
    return gv_size_format(bytes, buf, 32);
}

static const char *err_name(CUresult r)
{
    const char *s = NULL;
    return cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "unknown error";
}

/* On the simulator, touch the memory with a kernel so the tenant does real work. */
static void use(CUdeviceptr p, uint64_t bytes)
{
    CUmodule mod;
    CUfunction fill;
    if (cuModuleLoadData(&mod, "gvsim-module fill_u32") != CUDA_SUCCESS)
        return; /* a real GPU: the memory is enough for the demo */
    if (cuModuleGetFunction(&fill, mod, "fill_u32") == CUDA_SUCCESS) {
        uint32_t value = 0x600d;
        uint64_t count = bytes / 4 < (1u << 20) ? bytes / 4 : (1u << 20);
        void *params[] = {&p, &value, &count};
        cuLaunchKernel(fill, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
        cuCtxSynchronize();
    }
    cuModuleUnload(mod);
}

int main(int argc, char **argv)
{
    uint64_t want = 0, step = 1ULL << 30;
    double hold = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        struct gv_error err = {0};
        if (strcmp(argv[i], "--label") == 0)
            label = argv[i + 1];
        else if (strcmp(argv[i], "--want") == 0 && gv_size_parse(argv[i + 1], &want, &err) == 0)
            ;
        else if (strcmp(argv[i], "--step") == 0 && gv_size_parse(argv[i + 1], &step, &err) == 0)
            ;
        else if (strcmp(argv[i], "--hold") == 0)
            hold = atof(argv[i + 1]);
        else {
            fprintf(stderr, "tenant: bad option %s %s %s\n", argv[i], argv[i + 1], err.msg);
            return 2;
        }
    }
    CUdevice dev;
    CUcontext ctx;
    CUresult r;
    if ((r = cuInit(0)) || (r = cuDeviceGet(&dev, 0)) ||
        (r = cuDevicePrimaryCtxRetain(&ctx, dev)) || (r = cuCtxSetCurrent(ctx))) {
        printf("[%s] no GPU: %s\n", label, err_name(r));
        return 1;
    }
    char name[128] = "";
    cuDeviceGetName(name, sizeof(name), dev);
    size_t free_b = 0, total = 0;
    cuMemGetInfo(&free_b, &total);
    char b1[32], b2[32];
    printf("[%s] on %s: cuMemGetInfo says total %s, free %s\n", label, name, size_text(total, b1),
           size_text(free_b, b2));
    fflush(stdout);

    CUdeviceptr held[MAX_STEPS];
    unsigned n = 0;
    uint64_t got = 0;
    while (got < want && n < MAX_STEPS) {
        uint64_t size = want - got < step ? want - got : step;
        r = cuMemAlloc(&held[n], size);
        if (r != CUDA_SUCCESS) {
            printf("[%s] the next %s is refused: %s; carrying on with %s\n", label,
                   size_text(size, b1), err_name(r), size_text(got, b2));
            break;
        }
        use(held[n], size);
        got += size;
        n++;
    }
    cuMemGetInfo(&free_b, &total);
    printf("[%s] holding %s%s; cuMemGetInfo: free %s\n", label,
           got >= want ? "all it wanted, " : "", size_text(got, b1), size_text(free_b, b2));
    fflush(stdout);
    if (hold > 0)
        usleep((useconds_t)(hold * 1e6));
    for (unsigned i = 0; i < n; i++)
        cuMemFree(held[i]);
    printf("[%s] done\n", label);
    return got >= want ? 0 : 3;
}
