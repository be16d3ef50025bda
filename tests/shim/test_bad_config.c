/* test_bad_config.c: a configuration the interposer cannot read never becomes "no limit". An
 * unreadable memory limit refuses device memory (launches go on: no compute limit was asked for);
 * an unreadable compute limit refuses launches and device memory, since the process then does not
 * join its instance. Each case is a fresh process, and the reason is on its stderr. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimtest.h"

/* Child mode: try one allocation and one launch; exit with 10 * alloc_ok + launch_ok where ok
 * means CUDA_SUCCESS, or 99 when the set-up failed. */
static int try_both(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuModuleLoadData(&mod, "gvsim-module spin_ns") ||
        cuModuleGetFunction(&spin, mod, "spin_ns"))
        return 99;
    CUdeviceptr p;
    uint64_t ns = 1000;
    void *params[] = {&ns};
    int alloc_ok = cuMemAlloc(&p, 1 << 20) == CUDA_SUCCESS;
    CUresult l = cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
    if (l != CUDA_SUCCESS && l != CUDA_ERROR_NOT_PERMITTED)
        return 98;
    cuCtxSynchronize();
    return 10 * alloc_ok + (l == CUDA_SUCCESS);
}

/* Run the child with `var`=`value`; its exit status and stderr. */
static int run(const char *var, const char *value, char *err, size_t len)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        setenv(var, value, 1);
        execl("/proc/self/exe", "test_bad_config", "try", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    ssize_t n = read(p[0], err, len - 1);
    err[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void t_bad_memory(void)
{
    char err[512];
    /* No memory, but launches. */
    CHECK(run("GPUVISOR_MEMORY", "2XB", err, sizeof(err)) == 1);
    CHECK(strstr(err, "GPUVISOR_MEMORY") != NULL);
    CHECK(run("GPUVISOR_MEMORY", "0=1GiB,x=2GiB", err, sizeof(err)) == 1);
    CHECK(run("GPUVISOR_CONTEXT_MEMORY", "lots", err, sizeof(err)) == 1);
}

static void t_bad_compute(void)
{
    char err[512];
    /* Neither memory nor launches. */
    CHECK(run("GPUVISOR_COMPUTE", "150%", err, sizeof(err)) == 0);
    CHECK(strstr(err, "GPUVISOR_COMPUTE") != NULL);
    CHECK(run("CUDA_DEVICE_SM_LIMIT", "abc", err, sizeof(err)) == 0);
    CHECK(strstr(err, "CUDA_DEVICE_SM_LIMIT") != NULL);
}

/* The same variables, readable: both work (the cases above fail for the reason they name). */
static void t_good(void)
{
    char err[512];
    CHECK(run("GPUVISOR_MEMORY", "2GiB", err, sizeof(err)) == 11);
    CHECK(run("GPUVISOR_COMPUTE", "5000", err, sizeof(err)) == 11);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "try") == 0)
        return try_both();
    shim_setup("T4", "badconfig", NULL);
    RUN(t_bad_memory);
    RUN(t_bad_compute);
    RUN(t_good);
    return st_summary();
}
