/* SPDX-License-Identifier: Apache-2.0 */
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

/* Child mode: print what cuMemGetInfo says is free on the GPU, in MiB. */
static int info(void)
{
    CUdevice dev;
    CUcontext ctx;
    size_t free_b = 0, total = 0;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuMemGetInfo(&free_b, &total))
        return 99;
    fprintf(stderr, "free %zu MiB of %zu MiB\n", free_b >> 20, total >> 20);
    return free_b == 0 && total > 0 ? 0 : 1;
}

/* Run the child in `mode` with `var`=`value`; its exit status and stderr. */
static int run_mode(const char *mode, const char *var, const char *value, char *err, size_t len)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        setenv(var, value, 1);
        execl("/proc/self/exe", "test_bad_config", mode, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < len && (k = read(p[0], err + n, len - 1 - n)) > 0)
        n += (size_t)k;
    err[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run(const char *var, const char *value, char *err, size_t len)
{
    return run_mode("try", var, value, err, len);
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
    /* A policy or priority that cannot be read: as a share that cannot be read. */
    CHECK(run("GPUVISOR_COMPUTE_POLICY", "greedy", err, sizeof(err)) == 0);
    CHECK(strstr(err, "GPUVISOR_COMPUTE_POLICY") != NULL &&
          strstr(err, "fixed, guaranteed or best-effort") != NULL);
    CHECK(run("GPUVISOR_PRIORITY", "urgent", err, sizeof(err)) == 0);
    CHECK(strstr(err, "GPUVISOR_PRIORITY") != NULL);
}

/* Refused device memory, the process is not shown the whole GPU free. */
static void t_nothing_free(void)
{
    char err[512];
    int rc = run_mode("info", "GPUVISOR_MEMORY", "2XB", err, sizeof(err));
    const char *said = strstr(err, "free ");
    printf("     unreadable limit: %s", said ? said : "nothing said\n");
    CHECK(rc == 0);
}

/* A compute share of 0 is no limit on that GPU, as the documentation says: memory and launches
 * both work, alone or keyed (where it overrides "*"). */
static void t_zero_share(void)
{
    char err[512];
    CHECK(run("GPUVISOR_COMPUTE", "0", err, sizeof(err)) == 11);
    CHECK(run("GPUVISOR_COMPUTE", "0=0,*=5000", err, sizeof(err)) == 11);
    CHECK(run("CUDA_DEVICE_SM_LIMIT", "0", err, sizeof(err)) == 11);
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
    if (argc == 2 && strcmp(argv[1], "info") == 0)
        return info();
    shim_setup("T4", "badconfig", NULL);
    RUN(t_bad_memory);
    RUN(t_bad_compute);
    RUN(t_nothing_free);
    RUN(t_zero_share);
    RUN(t_good);
    return st_summary();
}
