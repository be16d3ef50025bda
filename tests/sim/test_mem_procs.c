/* SPDX-License-Identifier: Apache-2.0 */
/* test_mem_procs.c: several processes on one simulated machine see each other's device memory,
 * and a process's memory comes back when it exits or is killed with SIGKILL (within a second).
 *
 * Children are this program again (fork + exec, argv[1] = "child"), so each one is a fresh
 * driver client that inherits only the machine's name: a child allocates what it is told on
 * device 0, writes one byte to its stdout when it holds it, and exits when its stdin closes. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simtest.h"

#define MiB (1ull << 20)

struct child {
    pid_t pid;
    int to, from; /* its stdin (we write), its stdout (we read) */
};

static int child_main(size_t bytes)
{
    CUcontext c;
    CUdeviceptr p;
    char ok = 'y';
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&c, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(c) != CUDA_SUCCESS)
        return 2;
    if (cuMemAlloc(&p, bytes) != CUDA_SUCCESS)
        ok = 'n';
    if (write(1, &ok, 1) != 1)
        return 3;
    char b;
    while (read(0, &b, 1) > 0) {
    }
    return 0; /* exits holding the memory: the machine must reclaim it */
}

static struct child spawn(size_t bytes, char *answer)
{
    struct child ch = {-1, -1, -1};
    int in[2], out[2];
    if (pipe(in) || pipe(out))
        return ch;
    ch.pid = fork();
    if (ch.pid == 0) {
        char arg[32];
        snprintf(arg, sizeof(arg), "%zu", bytes);
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl("/proc/self/exe", "test_mem_procs", "child", arg, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    ch.to = in[1];
    ch.from = out[0];
    if (read(ch.from, answer, 1) != 1)
        *answer = '?';
    return ch;
}

static size_t free_now(void)
{
    size_t f = 0, t = 0;
    cuMemGetInfo(&f, &t);
    return f;
}

/* Poll until free memory is back to `want`, for up to `ms` milliseconds. */
static bool comes_back(size_t want, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        if (free_now() == want)
            return true;
        usleep(10000);
    }
    return free_now() == want;
}

static void setup(void)
{
    CUcontext c;
    OK(cuInit(0));
    OK(cuDevicePrimaryCtxRetain(&c, 0));
    OK(cuCtxSetCurrent(c));
}

static void shared_accounting_and_exit(void)
{
    char a;
    size_t f0 = free_now();
    struct child ch = spawn(512 * MiB, &a);
    CHECK(ch.pid > 0 && a == 'y');
    CHECK(free_now() == f0 - 512 * MiB); /* we see the child's memory */
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 256 * MiB));
    CHECK(free_now() == f0 - 768 * MiB);
    close(ch.to); /* the child exits normally, without freeing */
    int st;
    waitpid(ch.pid, &st, 0);
    close(ch.from);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(comes_back(f0 - 256 * MiB, 1000));
    OK(cuMemFree(p));
    CHECK(free_now() == f0);
}

static void child_sees_parent_memory(void)
{
    char a;
    size_t f0 = free_now();
    CUdeviceptr p;
    OK(cuMemAlloc(&p, f0 - 64 * MiB)); /* leave 64 MiB */
    struct child ch = spawn(128 * MiB, &a);
    CHECK(ch.pid > 0);
    CHECK(a == 'n'); /* out of memory: the parent's use counts */
    close(ch.to);
    waitpid(ch.pid, NULL, 0);
    close(ch.from);
    OK(cuMemFree(p));
    CHECK(free_now() == f0);
}

static void kill_9_reclaims(void)
{
    char a;
    size_t f0 = free_now();
    struct child ch = spawn(1024 * MiB, &a);
    CHECK(ch.pid > 0 && a == 'y');
    CHECK(free_now() == f0 - 1024 * MiB);
    uint64_t t0 = st_now_ns();
    kill(ch.pid, SIGKILL);
    waitpid(ch.pid, NULL, 0);
    close(ch.to);
    close(ch.from);
    CHECK(comes_back(f0, 1000));
    printf("     reclaimed %.0f ms after SIGKILL\n", (double)(st_now_ns() - t0) / 1e6);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0)
        return child_main((size_t)strtoull(argv[2], NULL, 10));
    signal(SIGPIPE, SIG_IGN);
    st_machine("T4");
    RUN(setup);
    RUN(shared_accounting_and_exit);
    RUN(child_sees_parent_memory);
    RUN(kill_9_reclaims);
    return st_summary();
}
