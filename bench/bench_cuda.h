/* SPDX-License-Identifier: Apache-2.0 */
/* bench_cuda.h: what the benchmarks that drive the CUDA driver API share. They run themselves
 * again as children, with and without the interposer, on a simulated machine of their own:
 *   - the parent's world (bench_world_*): its own path, to exec, and a private simulated machine of
 *     one T4 and region directory, so that a benchmark never meets another process's GPUs or
 *     instances, and no limit from the caller's environment leaks into a measurement;
 *   - each child's start: a context on device 0 and the simulator's spin kernel, which runs for as
 *     many nanoseconds as its one parameter says;
 *   - a check that ends the program on a failed call: a benchmark has nothing sensible to measure
 *     after one. */
#ifndef GV_BENCH_CUDA_H
#define GV_BENCH_CUDA_H

#include <cuda.h>
#include <errno.h> /* program_invocation_short_name (GNU) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

#define CK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != CUDA_SUCCESS) {                                                              \
            fprintf(stderr, "%s: %s failed\n", program_invocation_short_name, #call);              \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Initialize the driver, make device 0's primary context current, and load the spin kernel. */
static inline CUfunction bench_spin_fn(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuModuleLoadData(&mod, "gvsim-module spin_ns"));
    CK(cuModuleGetFunction(&spin, mod, "spin_ns"));
    return spin;
}

struct bench_world {
    char self[4096];     /* this program, to run as children */
    char machine[64];    /* GPUVISOR_SIM_MACHINE */
    char region_dir[32]; /* GPUVISOR_REGION_DIR, made here */
};

/* Set up the world in the environment the children inherit. Returns 0 or -1. */
static inline int bench_world_start(struct bench_world *w)
{
    ssize_t n = readlink("/proc/self/exe", w->self, sizeof(w->self) - 1);
    if (n <= 0)
        return -1;
    w->self[n] = '\0';
    snprintf(w->machine, sizeof(w->machine), "%s-%d", program_invocation_short_name, (int)getpid());
    snprintf(w->region_dir, sizeof(w->region_dir), "/tmp/gvbench.XXXXXX");
    if (!mkdtemp(w->region_dir))
        return -1;
    setenv("GPUVISOR_SIM_MACHINE", w->machine, 1);
    setenv("GPUVISOR_SIM_GPUS", "T4", 1);
    setenv("GPUVISOR_REGION_DIR", w->region_dir, 1);
    unsetenv("GPUVISOR_INSTANCE");
    unsetenv("GPUVISOR_MEMORY");
    unsetenv("GPUVISOR_COMPUTE");
    return 0;
}

/* Remove the simulated machine and the region directory. Returns 0 or -1. */
static inline int bench_world_end(const struct bench_world *w)
{
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm/gvsim.%s", w->machine);
    unlink(path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->region_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
