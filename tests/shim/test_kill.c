/* SPDX-License-Identifier: Apache-2.0 */
/* test_kill.c: a member killed with SIGKILL at any point, holding memory: its memory is back
 * within a second and nobody waits on anything it held. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shimtest.h"

static int context(void)
{
    CUdevice dev;
    CUcontext ctx;
    return cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
           cuCtxSetCurrent(ctx);
}

/* Children are fresh processes (this program again, in a child mode), as CUDA wants: a driver
 * initialized before fork() is not for the child to use. */
static pid_t spawn(const char *mode, int fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        char fdtext[16];
        snprintf(fdtext, sizeof(fdtext), "%d", fd);
        execl("/proc/self/exe", "test_kill", mode, fdtext, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Child mode "hold": take 800 MiB, say so on fd, wait to be killed. */
static int run_holder(int fd)
{
    CUdeviceptr d;
    char c = (context() == 0 && cuMemAlloc(&d, 800 * MiB) == CUDA_SUCCESS) ? 'y' : 'n';
    if (write(fd, &c, 1) != 1)
        return 1;
    for (;;)
        pause();
}

/* Child mode "churn": allocate and free until killed. */
static int run_churn(void)
{
    if (context())
        return 1;
    for (;;) {
        CUdeviceptr a, b;
        if (cuMemAlloc(&a, 64 * MiB) == CUDA_SUCCESS) {
            if (cuMemAlloc(&b, 1 * MiB) == CUDA_SUCCESS)
                cuMemFree(b);
            cuMemFree(a);
        }
    }
}

/* A child that takes 800 MiB, says so, and waits to be killed. */
static pid_t holder(void)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = spawn("hold", p[1]);
    char c = 0;
    if (read(p[0], &c, 1) != 1 || c != 'y') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        pid = -1;
    }
    close(p[0]);
    close(p[1]);
    return pid;
}

/* Kill a member that holds most of the slice: the parent's allocation, which needs that memory,
 * succeeds at once (a refused charge reclaims dead members), without the child being reaped. */
static void t_kill_holder(void)
{
    pid_t pid = holder();
    CHECK(pid > 0);
    CUdeviceptr d;
    CHECK_CU(cuMemAlloc(&d, 512 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    kill(pid, SIGKILL);
    uint64_t t0 = st_now_ns();
    CUresult r;
    /* The child is a zombie until reaped, which already counts as dead. */
    while ((r = cuMemAlloc(&d, 512 * MiB)) == CUDA_ERROR_OUT_OF_MEMORY &&
           st_now_ns() - t0 < 2000000000ULL)
        usleep(1000);
    uint64_t ms = (st_now_ns() - t0) / 1000000;
    printf("memory back after %llu ms\n", (unsigned long long)ms);
    OK(r);
    CHECK(ms < 1000);
    waitpid(pid, NULL, 0);
    OK(cuMemFree(d));
    CHECK(shim_used(0) == 0);
}

/* Kill members at random moments of an allocate/free loop, many times: the books always come
 * back to what the living hold, within a second, and the parent keeps allocating meanwhile. */
static void t_kill_anywhere(void)
{
    for (int round = 0; round < 20; round++) {
        pid_t pid = spawn("churn", -1);
        CHECK(pid > 0);
        usleep(50000 + (useconds_t)(rand() % 100000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        uint64_t t0 = st_now_ns();
        size_t free_b, total;
        /* cuMemGetInfo reclaims on a timer; the figure must be exact within a second. */
        while (st_now_ns() - t0 < 1500000000ULL) {
            OK(cuMemGetInfo(&free_b, &total));
            if (shim_used(0) == 0)
                break;
            usleep(10000);
        }
        CHECK(shim_used(0) == 0);
        CHECK(st_now_ns() - t0 < 1000000000ULL);
        CUdeviceptr d;
        OK(cuMemAlloc(&d, GiB));
        OK(cuMemFree(d));
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hold") == 0)
        return run_holder(atoi(argv[2]));
    if (argc == 3 && strcmp(argv[1], "churn") == 0)
        return run_churn();
    shim_setup("T4", "killtest", "1GiB");
    if (context()) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_kill_holder);
    RUN(t_kill_anywhere);
    return st_summary();
}
