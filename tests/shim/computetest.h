/* SPDX-License-Identifier: Apache-2.0 */
/* computetest.h: the harness of the GPU-time share tests (test_compute_*.c), header-only.
 *
 * A test program is its own worker: the parent starts workers by running itself again (fork +
 * exec, as CUDA wants fresh processes), each with its instance name and GPUVISOR_COMPUTE in the
 * environment, on the parent's simulated machine and region directory. A worker makes a context,
 * says it is ready on a pipe, and launches spin kernels until it is killed. The parent measures
 * what each worker got from the simulator's own books: the device time each process used
 * (gvsim_dev_processes), over a window of wall time. Device time, unlike throughput, does not
 * depend on how busy the test machine's CPUs are. */
#ifndef COMPUTETEST_H
#define COMPUTETEST_H

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cudaTypedefs.h>

#include "shimtest.h"
#include "sim/sim.h"

#define MS_NS 1000000ULL

/* Launch kinds a worker can use; the per-thread-stream ones come from cuGetProcAddress. */
enum kind { K_LAUNCH, K_LAUNCH_PTSZ, K_EX, K_EX_PTSZ, K_COOP, K_COOP_PTSZ, K_NKINDS };
static const char *const kind_names[K_NKINDS] = {
    "cuLaunchKernel",        "cuLaunchKernel_ptsz",       "cuLaunchKernelEx",
    "cuLaunchKernelEx_ptsz", "cuLaunchCooperativeKernel", "cuLaunchCooperativeKernel_ptsz",
};

struct launcher {
    CUfunction spin;
    PFN_cuLaunchKernel_v4000 launch;
    PFN_cuLaunchKernel_v7000_ptsz launch_ptsz;
    PFN_cuLaunchKernelEx_v11060 ex;
    PFN_cuLaunchKernelEx_v11060_ptsz ex_ptsz;
    PFN_cuLaunchCooperativeKernel_v9000 coop;
    PFN_cuLaunchCooperativeKernel_v9000_ptsz coop_ptsz;
};

static inline void *ct_proc(const char *name, int version, bool ptsz)
{
    void *fn = NULL;
    CUdriverProcAddressQueryResult found;
    if (cuGetProcAddress_v2(name, &fn, version,
                            ptsz ? CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
                                 : CU_GET_PROC_ADDRESS_DEFAULT,
                            &found) != CUDA_SUCCESS)
        return NULL;
    return fn;
}

/* A context on device 0 and the spin kernel; 0 on success. */
static inline int ct_context(struct launcher *l)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuModuleLoadData(&mod, "gvsim-module\n") ||
        cuModuleGetFunction(&l->spin, mod, "spin_ns"))
        return -1;
    l->launch = (PFN_cuLaunchKernel_v4000)ct_proc("cuLaunchKernel", 4000, false);
    l->launch_ptsz = (PFN_cuLaunchKernel_v7000_ptsz)ct_proc("cuLaunchKernel", 7000, true);
    l->ex = (PFN_cuLaunchKernelEx_v11060)ct_proc("cuLaunchKernelEx", 11060, false);
    l->ex_ptsz = (PFN_cuLaunchKernelEx_v11060_ptsz)ct_proc("cuLaunchKernelEx", 11060, true);
    l->coop =
        (PFN_cuLaunchCooperativeKernel_v9000)ct_proc("cuLaunchCooperativeKernel", 9000, false);
    l->coop_ptsz =
        (PFN_cuLaunchCooperativeKernel_v9000_ptsz)ct_proc("cuLaunchCooperativeKernel", 9000, true);
    return l->launch && l->launch_ptsz && l->ex && l->ex_ptsz && l->coop && l->coop_ptsz ? 0 : -1;
}

/* Launch one ns-long spin kernel of kind k into `stream` (NULL: the default stream). */
static inline CUresult ct_launch_on(const struct launcher *l, enum kind k, uint64_t ns,
                                    CUstream stream)
{
    void *params[] = {&ns};
    CUlaunchConfig cfg = {.gridDimX = 1,
                          .gridDimY = 1,
                          .gridDimZ = 1,
                          .blockDimX = 1,
                          .blockDimY = 1,
                          .blockDimZ = 1,
                          .hStream = stream};
    switch (k) {
    case K_LAUNCH:
        return l->launch(l->spin, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL);
    case K_LAUNCH_PTSZ:
        return l->launch_ptsz(l->spin, 1, 1, 1, 1, 1, 1, 0, stream, params, NULL);
    case K_EX:
        return l->ex(&cfg, l->spin, params, NULL);
    case K_EX_PTSZ:
        return l->ex_ptsz(&cfg, l->spin, params, NULL);
    case K_COOP:
        return l->coop(l->spin, 1, 1, 1, 1, 1, 1, 0, stream, params);
    case K_COOP_PTSZ:
        return l->coop_ptsz(l->spin, 1, 1, 1, 1, 1, 1, 0, stream, params);
    default:
        return CUDA_ERROR_INVALID_VALUE;
    }
}

static inline CUresult ct_launch(const struct launcher *l, enum kind k, uint64_t ns)
{
    return ct_launch_on(l, k, ns, NULL);
}

/* Worker "spin NS KIND SYNC FD": launch NS-long kernels of KIND back to back, with a
 * cuCtxSynchronize after every SYNC launches (0: never; the interposer bounds the queue), until
 * killed. Says 'y' on FD once running. */
static inline int ct_worker_spin(char **argv)
{
    uint64_t ns = strtoull(argv[0], NULL, 10);
    enum kind k = (enum kind)atoi(argv[1]);
    long sync_every = atol(argv[2]);
    int fd = atoi(argv[3]);
    struct launcher l;
    char c = ct_context(&l) == 0 && ct_launch(&l, k, ns) == CUDA_SUCCESS ? 'y' : 'n';
    if (write(fd, &c, 1) != 1 || c != 'y')
        return 1;
    for (long i = 1;; i++) {
        if (ct_launch(&l, k, ns) != CUDA_SUCCESS)
            return 1;
        if (sync_every && i % sync_every == 0 && cuCtxSynchronize() != CUDA_SUCCESS)
            return 1;
    }
}

/* The compute policy and priority of the workers started next (GPUVISOR_COMPUTE_POLICY and
 * GPUVISOR_PRIORITY; NULL: unset). The tests of exact shares use fixed ones. */
static const char *ct_policy = "fixed";
static const char *ct_priority;

/* Start this program again as a worker of instance `inst` with GPUVISOR_COMPUTE=`compute`
 * ("" for none): argv is "MODE ARG..." and the worker's ready pipe is appended. Returns the pid
 * once the worker said it runs, or -1. */
static inline pid_t ct_spawn(const char *inst, const char *compute, const char *const *args)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", inst, 1);
        if (*compute)
            setenv("GPUVISOR_COMPUTE", compute, 1);
        else
            unsetenv("GPUVISOR_COMPUTE");
        if (ct_policy)
            setenv("GPUVISOR_COMPUTE_POLICY", ct_policy, 1);
        else
            unsetenv("GPUVISOR_COMPUTE_POLICY");
        if (ct_priority)
            setenv("GPUVISOR_PRIORITY", ct_priority, 1);
        else
            unsetenv("GPUVISOR_PRIORITY");
        char *argv[16];
        int n = 0;
        argv[n++] = (char *)"worker";
        while (*args && n < 14)
            argv[n++] = (char *)*args++;
        argv[n++] = fd;
        argv[n] = NULL;
        execv("/proc/self/exe", argv);
        _exit(127);
    }
    close(p[1]);
    char c = 0;
    if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        pid = -1;
    }
    close(p[0]);
    return pid;
}

/* A spinning worker: kernels of ns, launch kind k, a sync every sync_every launches. */
static inline pid_t ct_spinner(const char *inst, const char *compute, uint64_t ns, enum kind k,
                               long sync_every)
{
    char a[24], b[8], c[24];
    snprintf(a, sizeof(a), "%llu", (unsigned long long)ns);
    snprintf(b, sizeof(b), "%d", (int)k);
    snprintf(c, sizeof(c), "%ld", sync_every);
    const char *args[] = {"spin", a, b, c, NULL};
    return ct_spawn(inst, compute, args);
}

static inline void ct_stop(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
}

/* Device time process pid has used on device 0 (0 when it has none). */
static inline uint64_t ct_busy(pid_t pid)
{
    struct gvsim_proc_usage u[64];
    int n = gvsim_dev_processes(0, u, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (u[i].pid == pid)
            return u[i].busy_ns;
    return 0;
}

static inline void ct_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* How long the threads of process `pid` have waited, runnable, for a CPU (ns): the second field
 * of each thread's /proc/<pid>/task/<tid>/schedstat. 0 when it cannot be read. */
static inline uint64_t ct_run_delay(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char file[128];
        snprintf(file, sizeof(file), "/proc/%d/task/%.20s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(file, "r");
        unsigned long long run = 0, delay = 0;
        if (f && fscanf(f, "%llu %llu", &run, &delay) == 2)
            sum += delay;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

/* The share of the last window (percent) during which the workers measured were kept off a CPU
 * while runnable, summed over all their threads. A worker that cannot run cannot launch, and the
 * token it holds meanwhile keeps the others waiting too: on a loaded test machine every share can
 * fall short by up to this much, which no scheduling above the CPUs can make up. The shares are
 * judged short only beyond it (CHECK_NEAR, ct_measure_near); a share too high never is excused. */
static double ct_starved_pct;

/* Each group's share of device time (percent) over `window` of wall time: a group is the pids
 * given as one row (members of one instance add up). Also sets ct_starved_pct. */
static inline void ct_measure(pid_t pids[][8], const int *counts, int groups, uint64_t window,
                              double *pct)
{
    uint64_t before[16][8], delay0 = 0, delay1 = 0;
    for (int g = 0; g < groups; g++)
        for (int i = 0; i < counts[g]; i++) {
            before[g][i] = ct_busy(pids[g][i]);
            delay0 += ct_run_delay(pids[g][i]);
        }
    uint64_t t0 = st_now_ns();
    ct_sleep_ns(window);
    uint64_t t1 = st_now_ns();
    for (int g = 0; g < groups; g++) {
        uint64_t sum = 0;
        for (int i = 0; i < counts[g]; i++) {
            sum += ct_busy(pids[g][i]) - before[g][i];
            delay1 += ct_run_delay(pids[g][i]);
        }
        pct[g] = 100.0 * (double)sum / (double)(t1 - t0);
    }
    ct_starved_pct = delay1 > delay0 ? 100.0 * (double)(delay1 - delay0) / (double)(t1 - t0) : 0;
}

/* ct_measure, judged against targets (percent) with a tolerance: true when every group is within
 * it. A window that misses is measured once more and the second decides: on a test machine whose
 * CPUs are overloaded, the simulator's device clock can lose time while its worker thread waits
 * for a CPU, which no scheduling above it can make up; a real fault misses in both windows. */
static inline bool ct_measure_near(pid_t pids[][8], const int *counts, int groups, uint64_t window,
                                   const double *want, double tol, double *pct)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        ct_measure(pids, counts, groups, window, pct);
        bool ok = true;
        for (int g = 0; g < groups; g++)
            ok = ok && pct[g] >= want[g] - tol - ct_starved_pct && pct[g] <= want[g] + tol;
        if (ok)
            return true;
        printf("  (window %d missed:", attempt + 1);
        for (int g = 0; g < groups; g++)
            printf(" %.2f%%", pct[g]);
        printf("; workers kept off a CPU %.2f%% of it)\n", ct_starved_pct);
    }
    return false;
}

/* The parent's side of the simulator: it must map the machine to read the books. */
static inline int ct_parent_init(void)
{
    return cuInit(0) == CUDA_SUCCESS ? 0 : -1;
}

/* A share measured by the last ct_measure, against its target: within tol above, and within tol
 * plus the time the workers were kept off a CPU below (see ct_starved_pct). */
#define CHECK_NEAR(got, want, tol)                                                                 \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        printf("  %-40s %6.2f%% (target %.0f%%, error %+.2f; starved %.2f)\n", #got, g_, w_,       \
               g_ - w_, ct_starved_pct);                                                           \
        fflush(stdout);                                                                            \
        CHECK(g_ >= w_ - (tol)-ct_starved_pct && g_ <= w_ + (tol));                                \
    } while (0)

#endif
