/* SPDX-License-Identifier: Apache-2.0 */
/* bench_cuda.h: what the benchmarks that drive the CUDA driver API share. They run themselves
 * again as children, with and without the interposer, on a simulated machine of their own:
 *   - the parent's world (bench_world_*): its own path, to exec, and a private simulated machine of
 *     one T4 and region directory, so that a benchmark never meets another process's GPUs or
 *     instances, and no limit from the caller's environment leaks into a measurement (nor a
 *     policy or priority); the removal of a machine by name, for benchmarks that make more;
 *   - each child's start: a context on device 0 and the simulator's spin kernel, which runs for as
 *     many nanoseconds as its one parameter says;
 *   - a check that ends the program on a failed call: a benchmark has nothing sensible to measure
 *     after one;
 *   - the launch-cost child (zero-length launches timed one by one) and the reading of the one
 *     figure a child prints. */
#ifndef GV_BENCH_CUDA_H
#define GV_BENCH_CUDA_H

#include <cuda.h>
#include <errno.h> /* program_invocation_short_name (GNU) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "core/policy.h"

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

enum { BENCH_LAUNCHES = 20001 };

/* The child that measures a launch: BENCH_LAUNCHES zero-length launches timed one by one (a
 * synchronize every 1000, off the clock), the median printed in ns. The median leaves out the few
 * launches that wait for a turn on the GPU. */
static inline int bench_launch_cost_child(void)
{
    CUfunction spin = bench_spin_fn();
    uint64_t ns = 0;
    void *params[] = {&ns};
    static double t[BENCH_LAUNCHES];
    for (int i = 0; i < BENCH_LAUNCHES; i++) {
        uint64_t t0 = bench_now_ns();
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
        t[i] = (double)(bench_now_ns() - t0);
        if (i % 1000 == 999)
            CK(cuCtxSynchronize());
    }
    printf("%.1f\n", bench_median(t, BENCH_LAUNCHES));
    return 0;
}

/* The number child pid printed on fd (its stdout), once it has exited with 0; the program ends with
 * a message otherwise. Closes fd. */
static inline double bench_child_value(pid_t pid, int fd)
{
    char buf[64] = {0};
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    int st;
    waitpid(pid, &st, 0);
    double v;
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || sscanf(buf, "%lf", &v) != 1) {
        fprintf(stderr, "%s: a measuring run failed\n", program_invocation_short_name);
        exit(1);
    }
    return v;
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
    unsetenv(GV_POLICY_ENV);
    unsetenv(GV_PRIORITY_ENV);
    return 0;
}

/* Remove a simulated machine by its name (GPUVISOR_SIM_MACHINE): its shared-memory file. */
static inline void bench_machine_remove(const char *machine)
{
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm/gvsim.%s", machine);
    unlink(path);
}

/* Remove the simulated machine and the region directory. Returns 0 or -1. */
static inline int bench_world_end(const struct bench_world *w)
{
    bench_machine_remove(w->machine);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->region_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
