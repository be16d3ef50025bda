/* SPDX-License-Identifier: Apache-2.0 */
/* cli_hold.c: a tenant for the CLI tests, run under `gpuvisor run` against the simulated driver.
 *
 *   cli_hold uuids              print each GPU's NVML UUID, one per line, in NVML index order: the
 *                               tests' own view of the machine, independent of the CLI's
 *   cli_hold [--wait] MIB...    allocate MIB MiB on CUDA device 0, 1, ... (0 skips a device), print
 *                               "ready", then exit (or with --wait, stay until killed)
 *
 * Exit status 3 means an allocation was refused with CUDA_ERROR_OUT_OF_MEMORY, which is how the
 * tests see that the limits `gpuvisor run` passed reached the interposer. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cuda.h>

#include "core/nvml.h"

static int uuids(void)
{
    unsigned n = 0;
    if (nvmlInit_v2() != NVML_SUCCESS || nvmlDeviceGetCount_v2(&n) != NVML_SUCCESS)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t d;
        char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        if (nvmlDeviceGetHandleByIndex_v2(i, &d) != NVML_SUCCESS ||
            nvmlDeviceGetUUID(d, uuid, sizeof(uuid)) != NVML_SUCCESS)
            return 1;
        printf("%s\n", uuid);
    }
    nvmlShutdown();
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "uuids") == 0)
        return uuids();
    int first = 1;
    bool wait = false;
    if (argc > 1 && strcmp(argv[1], "--wait") == 0) {
        wait = true;
        first = 2;
    }
    if (cuInit(0) != CUDA_SUCCESS) {
        fprintf(stderr, "cli_hold: cuInit failed\n");
        return 1;
    }
    for (int i = first; i < argc; i++) {
        unsigned long long mib = strtoull(argv[i], NULL, 10);
        if (!mib)
            continue;
        CUdevice dev;
        CUcontext ctx;
        CUdeviceptr p;
        if (cuDeviceGet(&dev, i - first) != CUDA_SUCCESS ||
            cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS ||
            cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
            fprintf(stderr, "cli_hold: device %d: cannot make a context\n", i - first);
            return 1;
        }
        CUresult r = cuMemAlloc(&p, (size_t)(mib << 20));
        if (r == CUDA_ERROR_OUT_OF_MEMORY) {
            printf("oom\n");
            return 3;
        }
        if (r != CUDA_SUCCESS) {
            fprintf(stderr, "cli_hold: cuMemAlloc(%llu MiB): error %d\n", mib, (int)r);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    while (wait)
        pause();
    return 0;
}
