/* SPDX-License-Identifier: Apache-2.0 */
/* test_context_mem.c: a context's own device memory (GPUVISOR_SIM_CONTEXT_MEMORY).
 *
 * A process's first context on a device takes 300 MiB of the device, counted as the process's
 * memory: NVML's per-process usedGpuMemory and the device's used memory include it, as on a real
 * GPU. It is taken once per process and device, given back when the last context there goes
 * (destroy, release, reset) or when the process dies, and a context that cannot get it is not made.
 *
 * Children are this program again (fork + exec, argv[1] names the mode):
 *   hold   retain device 0's primary context, write 'y' on stdout, wait to be killed
 *   big    with more context memory than the device has: try a primary and a created context and
 *          exit with 0 only if both fail with CUDA_ERROR_OUT_OF_MEMORY */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/nvml.h"
#include "simtest.h"

#define MiB (1ull << 20)
#define CTX (300 * MiB)

static nvmlDevice_t nv0;

static int run_hold(void)
{
    CUcontext c;
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&c, 0) != CUDA_SUCCESS)
        return 2;
    if (write(1, "y", 1) != 1)
        return 3;
    for (;;)
        pause();
}

static int run_big(void)
{
    CUcontext c;
    if (cuInit(0) != CUDA_SUCCESS)
        return 2;
    if (cuDevicePrimaryCtxRetain(&c, 0) != CUDA_ERROR_OUT_OF_MEMORY)
        return 3;
    if (cuCtxCreate(&c, NULL, 0, 0) != CUDA_ERROR_OUT_OF_MEMORY)
        return 4;
    unsigned flags;
    int active = 1;
    if (cuDevicePrimaryCtxGetState(0, &flags, &active) != CUDA_SUCCESS || active)
        return 5;
    return 0;
}

static pid_t spawn(const char *mode, const char *ctx_mem, int *out)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        if (ctx_mem)
            setenv("GPUVISOR_SIM_CONTEXT_MEMORY", ctx_mem, 1);
        dup2(p[1], 1);
        close(p[0]);
        execl("/proc/self/exe", "test_context_mem", mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *out = p[0];
    return pid;
}

/* Device 0's used memory, as NVML sees it (all processes). */
static unsigned long long nvml_used(void)
{
    nvmlMemory_t m = {0};
    if (nvmlDeviceGetMemoryInfo(nv0, &m) != NVML_SUCCESS)
        return ~0ULL;
    return m.used;
}

/* The memory NVML lists for `pid` on device 0; -1 when it does not list the pid at all. */
static long long nvml_pid(unsigned pid)
{
    nvmlProcessInfo_t info[32];
    unsigned count = 32;
    if (nvmlDeviceGetComputeRunningProcesses_v3(nv0, &count, info) != NVML_SUCCESS)
        return -2;
    for (unsigned i = 0; i < count; i++)
        if (info[i].pid == pid)
            return (long long)info[i].usedGpuMemory;
    return -1;
}

static long long mine(void)
{
    return nvml_pid((unsigned)getpid());
}

static void t_bad_value(void)
{
    setenv("GPUVISOR_SIM_CONTEXT_MEMORY", "3 parsecs", 1);
    CHECK_CU(cuInit(0), CUDA_ERROR_INVALID_VALUE);
    setenv("GPUVISOR_SIM_CONTEXT_MEMORY", "300MiB", 1);
    OK(cuInit(0));
    CHECK(nvmlInit_v2() == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &nv0) == NVML_SUCCESS);
}

/* A primary context: retained, it takes the memory; an allocation adds to the same process
 * figure; released, everything is back. */
static void t_primary(void)
{
    unsigned long long base = nvml_used();
    CHECK(mine() == -1);
    CUcontext c;
    OK(cuDevicePrimaryCtxRetain(&c, 0));
    OK(cuCtxSetCurrent(c));
    CHECK(nvml_used() == base + CTX);
    CHECK(mine() == (long long)CTX);
    size_t f = 0, t = 0;
    OK(cuMemGetInfo(&f, &t));
    CHECK(f == t - base - CTX);
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 100 * MiB));
    CHECK(mine() == (long long)(CTX + 100 * MiB));
    OK(cuMemFree(p));
    /* A second retain of the same context takes nothing more. */
    CUcontext again;
    OK(cuDevicePrimaryCtxRetain(&again, 0));
    CHECK(mine() == (long long)CTX);
    OK(cuDevicePrimaryCtxRelease(0));
    CHECK(mine() == (long long)CTX);
    OK(cuDevicePrimaryCtxRelease(0));
    CHECK(mine() == -1);
    CHECK(nvml_used() == base);
    OK(cuCtxSetCurrent(NULL));
}

/* Several contexts of one process on one device take the memory once; it goes with the last. */
static void t_created(void)
{
    unsigned long long base = nvml_used();
    CUcontext a, b, p;
    OK(cuCtxCreate(&a, NULL, 0, 0));
    OK(cuCtxCreate(&b, NULL, 0, 0));
    OK(cuDevicePrimaryCtxRetain(&p, 0));
    CHECK(mine() == (long long)CTX);
    CHECK(nvml_used() == base + CTX);
    OK(cuCtxDestroy(a));
    OK(cuDevicePrimaryCtxRelease(0));
    CHECK(mine() == (long long)CTX);
    OK(cuCtxDestroy(b));
    CHECK(mine() == -1);
    CHECK(nvml_used() == base);
}

/* A primary-context reset ends the context however many retains it had. */
static void t_reset(void)
{
    unsigned long long base = nvml_used();
    CUcontext c;
    OK(cuDevicePrimaryCtxRetain(&c, 0));
    OK(cuDevicePrimaryCtxRetain(&c, 0));
    CHECK(nvml_used() == base + CTX);
    OK(cuDevicePrimaryCtxReset(0));
    CHECK(mine() == -1);
    CHECK(nvml_used() == base);
}

/* A context that cannot get its memory is not made, and leaves nothing behind. */
static void t_no_room(void)
{
    unsigned long long base = nvml_used();
    int out;
    pid_t pid = spawn("big", "20GiB", &out); /* more than a T4 has */
    CHECK(pid > 0);
    int st = -1;
    waitpid(pid, &st, 0);
    close(out);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(nvml_pid((unsigned)pid) == -1);
    CHECK(nvml_used() == base);
}

/* Another process's context counts on the device; killed, its context memory is back within a
 * second. */
static void t_death(void)
{
    unsigned long long base = nvml_used();
    int out;
    pid_t pid = spawn("hold", NULL, &out);
    CHECK(pid > 0);
    char c = 0;
    CHECK(read(out, &c, 1) == 1 && c == 'y');
    CHECK(nvml_used() == base + CTX);
    CHECK(nvml_pid((unsigned)pid) == (long long)CTX);
    uint64_t t0 = st_now_ns();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out);
    while (nvml_used() != base && st_now_ns() - t0 < 2000000000ULL)
        usleep(5000);
    uint64_t ms = (st_now_ns() - t0) / 1000000;
    printf("     context memory back %llu ms after SIGKILL\n", (unsigned long long)ms);
    CHECK(nvml_used() == base);
    CHECK(ms < 1000);
    CHECK(nvml_pid((unsigned)pid) == -1);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "hold") == 0)
        return run_hold();
    if (argc == 2 && strcmp(argv[1], "big") == 0)
        return run_big();
    st_machine("T4");
    RUN(t_bad_value);
    RUN(t_primary);
    RUN(t_created);
    RUN(t_reset);
    RUN(t_no_room);
    RUN(t_death);
    nvmlShutdown();
    return st_summary();
}
