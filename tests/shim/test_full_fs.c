/* SPDX-License-Identifier: Apache-2.0 */
/* test_full_fs.c: a process in a slice whose region directory is on a full file system (a
 * container's small /dev/shm filled by data loaders) is told so on stderr and refused what the
 * slice would have decided (device memory; launches, with a compute share), and never killed by
 * SIGBUS. The directory is a small tmpfs mounted here (root only: skipped otherwise, saying so)
 * and filled; each case is a fresh process running this program again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimtest.h"

static char mnt[300];
static bool mounted;

/* Child mode: one allocation and one launch; exits with 10 * (allocation refused with
 * CUDA_ERROR_OUT_OF_MEMORY) + (launch refused with CUDA_ERROR_NOT_PERMITTED), 99 when the set-up
 * failed, 98 on another result. */
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
    CUresult a = cuMemAlloc(&p, 1 << 20);
    CUresult l = cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
    if ((a != CUDA_SUCCESS && a != CUDA_ERROR_OUT_OF_MEMORY) ||
        (l != CUDA_SUCCESS && l != CUDA_ERROR_NOT_PERMITTED))
        return 98;
    cuCtxSynchronize();
    return 10 * (a == CUDA_ERROR_OUT_OF_MEMORY) + (l == CUDA_ERROR_NOT_PERMITTED);
}

/* Run the child in instance `name` with `var`=`value`; its exit status (128 + N when killed by
 * signal N) and stderr. */
static int run(const char *name, const char *var, const char *value, char *err, size_t len)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        setenv("GPUVISOR_INSTANCE", name, 1);
        setenv(var, value, 1);
        execl("/proc/self/exe", "test_full_fs", "try", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (got < len - 1 && (n = read(p[0], err + got, len - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void fill(void)
{
    char path[320], block[4096];
    memset(block, 0x5a, sizeof(block));
    snprintf(path, sizeof(path), "%s/fill", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd < 0)
        return;
    while (write(fd, block, sizeof(block)) > 0)
        ;
    close(fd);
}

/* (a) A memory limit: the allocation is refused, launches go on. */
static void t_memory(void)
{
    char err[2048];
    int st = run("full-a", "GPUVISOR_MEMORY", "1GiB", err, sizeof(err));
    if (st >= 128)
        fprintf(stderr, "  killed by signal %d\n", st - 128);
    CHECK(st == 10);
    CHECK(strstr(err, "file system is full") != NULL);
}

/* (b) A compute share, the instance made before the file system filled up: the GPU token cannot
 * be made, launches are refused. */
static void t_compute_token(void)
{
    struct gvr_region r;
    struct gv_error e = {0};
    if (gvr_open(&r, mnt, "full-b", GVR_CREATE, NULL, 0, &e) < 0)
        FAIL(e.msg);
    gvr_close(&r);
    fill();
    char err[2048];
    int st = run("full-b", "GPUVISOR_COMPUTE", "5000", err, sizeof(err));
    if (st >= 128)
        fprintf(stderr, "  killed by signal %d\n", st - 128);
    CHECK(st == 1);
    CHECK(strstr(err, "file system is full") != NULL);
    CHECK(strstr(err, "launches are refused") != NULL);
}

/* (b') A compute share and no instance yet: neither memory nor launches. */
static void t_compute_instance(void)
{
    char err[2048];
    int st = run("full-c", "GPUVISOR_COMPUTE", "5000", err, sizeof(err));
    if (st >= 128)
        fprintf(stderr, "  killed by signal %d\n", st - 128);
    CHECK(st == 11);
    CHECK(strstr(err, "file system is full") != NULL);
}

static void unmount(void)
{
    if (mounted && umount2(mnt, MNT_DETACH) < 0)
        fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
    mounted = false;
    rmdir(mnt);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "try") == 0)
        return try_both();
    shim_setup("T4", "full", NULL);
    snprintf(mnt, sizeof(mnt), "%s/tmpfs", shim_dir());
    if (mkdir(mnt, 0700) < 0) {
        perror("mkdir");
        return 1;
    }
    /* mode=0700: a region directory must not be writable by other users. */
    if (mount("gvs-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=512k,mode=0700") < 0) {
        printf("skip: cannot mount a tmpfs at %s (%s): run as root to test a full file system\n",
               mnt, strerror(errno));
        rmdir(mnt);
        return 0;
    }
    mounted = true;
    setenv("GPUVISOR_REGION_DIR", mnt, 1);
    RUN(t_compute_token); /* fills the file system after making its instance */
    RUN(t_memory);
    RUN(t_compute_instance);
    unmount();
    return st_summary();
}
