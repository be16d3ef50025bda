/* SPDX-License-Identifier: Apache-2.0 */
/* test_sched.c: device time shared between processes of one simulated machine.
 *
 * Processes are forked children of the test, each running spin_ns kernels on device 0. The checks
 * are the scheduler's promises: work of several processes is interleaved round robin rather than
 * run whole one after the other, a waiting process gets the device within about one time slice,
 * and a process killed in the middle of a kernel (holding memory) neither wedges the device nor
 * keeps its memory beyond a second. Bounds are loose enough for a busy two-core machine and tight
 * enough that a scheduler without preemption or without reclaim fails them. */
#include "simtest.h"

#include "sim/sim.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MS 1000000ull

static CUcontext ctx;
static CUfunction f_spin;

static CUresult spin(CUstream s, uint64_t ns)
{
    void *args[] = {&ns};
    return cuLaunchKernel(f_spin, 1, 1, 1, 1, 1, 1, 0, s, args, NULL);
}

struct times {
    uint64_t start, end;
};

/* Fork a child that waits for a byte on `go`, spins `ns` on the default stream, and reports its
 * start and end times on `out`. */
static pid_t spinner(int go, int out, uint64_t ns)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    char c;
    if (read(go, &c, 1) != 1)
        _exit(2);
    struct times t = {st_now_ns(), 0};
    if (spin(NULL, ns) != CUDA_SUCCESS || cuCtxSynchronize() != CUDA_SUCCESS)
        _exit(3);
    t.end = st_now_ns();
    if (write(out, &t, sizeof(t)) != (ssize_t)sizeof(t))
        _exit(4);
    exit(0); /* the normal exit path: the slot is released by the library */
}

static bool reap(pid_t pid)
{
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Two processes each spinning 100 ms finish together after about 200 ms: neither runs its whole
 * kernel first. */
static void test_two_processes_interleave(void)
{
    int go[2], out[2];
    CHECK(pipe(go) == 0 && pipe(out) == 0);
    pid_t a = spinner(go[0], out[1], 100 * MS);
    pid_t b = spinner(go[0], out[1], 100 * MS);
    CHECK(a > 0 && b > 0);
    usleep(20000); /* let both reach read() */
    CHECK(write(go[1], "ab", 2) == 2);
    struct times t[2];
    CHECK(read(out[0], &t[0], sizeof(t[0])) == sizeof(t[0]));
    CHECK(read(out[0], &t[1], sizeof(t[1])) == sizeof(t[1]));
    CHECK(reap(a) && reap(b));
    uint64_t first = t[0].start < t[1].start ? t[0].start : t[1].start;
    uint64_t last = t[0].end > t[1].end ? t[0].end : t[1].end;
    double e0 = (double)(t[0].end - t[0].start) / 1e6, e1 = (double)(t[1].end - t[1].start) / 1e6;
    double total = (double)(last - first) / 1e6;
    printf("     two 100 ms spinners: %.1f ms and %.1f ms each, %.1f ms together\n", e0, e1, total);
    CHECK(total >= 195.0 && total < 320.0);
    CHECK(e0 >= 160.0 && e1 >= 160.0); /* each waited for the other's slices along the way */
    close(go[0]);
    close(go[1]);
    close(out[0]);
    close(out[1]);
}

/* While another process runs one long kernel, short kernels of this process still get the device
 * within a time slice or so: the long kernel is preempted at every slice end. */
static void test_slice_preempts_long_kernel(void)
{
    int go[2], out[2];
    CHECK(pipe(go) == 0 && pipe(out) == 0);
    pid_t a = spinner(go[0], out[1], 150 * MS);
    CHECK(a > 0);
    CHECK(write(go[1], "a", 1) == 1);
    /* Ours run until the long one is done: on a loaded machine the other process may start its
     * kernel late, so only those of ours that ran beside it are judged. */
    enum { MAX_OURS = 400 };
    uint64_t lat[MAX_OURS], ends[MAX_OURS];
    int n = 0;
    struct pollfd done = {.fd = out[0], .events = POLLIN};
    while (n < MAX_OURS) {
        uint64_t t0 = st_now_ns();
        OK(spin(NULL, 1 * MS));
        OK(cuStreamSynchronize(NULL));
        ends[n] = st_now_ns();
        lat[n] = ends[n] - t0;
        n++;
        if (poll(&done, 1, 0) == 1)
            break;
    }
    struct times t;
    CHECK(read(out[0], &t, sizeof(t)) == sizeof(t));
    CHECK(reap(a));
    uint64_t worst = 0, sum = 0;
    int inside = 0;
    for (int i = 0; i < n; i++) {
        if (ends[i] <= t.start + 1 * MS || ends[i] >= t.end)
            continue;
        inside++;
        sum += lat[i];
        if (lat[i] > worst)
            worst = lat[i];
    }
    printf("     1 ms kernels beside a 150 ms kernel: %d ran meanwhile, mean %.2f ms, worst %.2f "
           "ms; the long one took %.1f ms\n",
           inside, inside ? (double)sum / inside / 1e6 : 0.0, (double)worst / 1e6,
           (double)(t.end - t.start) / 1e6);
    CHECK(inside >= 10);    /* without preemption: one, after 150 ms */
    CHECK(worst < 60 * MS); /* without preemption: up to 150 ms */
    CHECK(inside && sum / (uint64_t)inside < 15 * MS);
    /* It gave up the device for each of ours that ran meanwhile. */
    CHECK(t.end - t.start >= 150 * MS + (uint64_t)inside * MS * 3 / 4);
    close(go[0]);
    close(go[1]);
    close(out[0]);
    close(out[1]);
}

/* A process killed with SIGKILL in the middle of a kernel, holding 2 GiB: the device is usable
 * again within a second, before and after the zombie is reaped, and the memory comes back. */
static void test_kill_mid_kernel(void)
{
    size_t before_free, total;
    OK(cuMemGetInfo(&before_free, &total));
    int ready[2];
    CHECK(pipe(ready) == 0);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CUdeviceptr p;
        if (cuMemAlloc(&p, 2ull << 30) != CUDA_SUCCESS || spin(NULL, 10000 * MS) != CUDA_SUCCESS)
            _exit(2);
        usleep(20000); /* the kernel is on the device now */
        if (write(ready[1], "r", 1) != 1)
            _exit(3);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    size_t mid_free;
    OK(cuMemGetInfo(&mid_free, &total));
    CHECK(before_free - mid_free >= (2ull << 30));
    CHECK(kill(pid, SIGKILL) == 0);
    usleep(1000);

    /* Not reaped yet: a zombie is dead. */
    uint64_t t0 = st_now_ns();
    OK(spin(NULL, 1 * MS));
    OK(cuStreamSynchronize(NULL));
    uint64_t took = st_now_ns() - t0;
    size_t now_free = 0;
    uint64_t back = 0;
    while (st_now_ns() - t0 < 2000 * MS) {
        OK(cuMemGetInfo(&now_free, &total));
        if (now_free >= before_free) {
            back = st_now_ns() - t0;
            break;
        }
        usleep(1000);
    }
    printf("     after SIGKILL mid-kernel: device back in %.1f ms, 2 GiB back in %.1f ms\n",
           (double)took / 1e6, (double)back / 1e6);
    CHECK(took < 1000 * MS);
    CHECK(back > 0 && back < 1000 * MS);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    t0 = st_now_ns();
    OK(spin(NULL, 1 * MS));
    OK(cuStreamSynchronize(NULL));
    CHECK(st_now_ns() - t0 < 1000 * MS);
    close(ready[0]);
    close(ready[1]);
}

/* Utilization: the busy share of the last second, and per-process device time. */
static void test_utilization(void)
{
    uint64_t busy0 = 0;
    struct gvsim_proc_usage u[8];
    int n = gvsim_dev_processes(0, u, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (u[i].pid == getpid())
            busy0 = u[i].busy_ns;
    OK(spin(NULL, 700 * MS));
    OK(cuCtxSynchronize());
    unsigned busy_pct = gvsim_dev_utilization(0);
    uint64_t busy1 = 0;
    n = gvsim_dev_processes(0, u, 8);
    for (int i = 0; i < n && i < 8; i++)
        if (u[i].pid == getpid())
            busy1 = u[i].busy_ns;
    usleep(1200000);
    unsigned idle_pct = gvsim_dev_utilization(0);
    printf("     utilization: %u%% right after 700 ms of spinning, %u%% 1.2 s later; this "
           "process used %.1f ms\n",
           busy_pct, idle_pct, (double)(busy1 - busy0) / 1e6);
    CHECK(busy_pct >= 55 && busy_pct <= 100);
    CHECK(idle_pct <= 5);
    CHECK(busy1 - busy0 >= 700 * MS && busy1 - busy0 < 720 * MS);
}

int main(void)
{
    st_machine("T4");
    CUmodule mod;
    if (cuInit(0) != CUDA_SUCCESS || cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cuCtxSetCurrent(ctx) != CUDA_SUCCESS ||
        cuModuleLoadData(&mod, "gvsim-module\n") != CUDA_SUCCESS ||
        cuModuleGetFunction(&f_spin, mod, "spin_ns") != CUDA_SUCCESS) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    RUN(test_two_processes_interleave);
    RUN(test_slice_preempts_long_kernel);
    RUN(test_kill_mid_kernel);
    RUN(test_utilization);
    return st_summary();
}
