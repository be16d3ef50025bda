/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_kinds.c: every kind of launch waits for the GPU. Six instances at 15% each, each
 * launching only through one entry point (cuLaunchKernel, cuLaunchKernelEx and
 * cuLaunchCooperativeKernel, and their per-thread-stream variants reached through
 * cuGetProcAddress), all get 15%. Graph launches and the deprecated cuLaunch, cuLaunchGrid and
 * cuLaunchGridAsync, which the simulator lacks, are gated before the driver is asked: with the
 * instance's budget spent, each waits for
 * the refill before they answer CUDA_ERROR_NOT_SUPPORTED. */
#include <dlfcn.h>

#include "computetest.h"

#include <cudaTypedefs.h>

static void t_every_kind_gated(void)
{
    CHECK(ct_parent_init() == 0);
    pid_t pids[K_NKINDS][8];
    int counts[K_NKINDS];
    double pct[K_NKINDS];
    bool started = true;
    for (int k = 0; k < K_NKINDS; k++) {
        char inst[32];
        snprintf(inst, sizeof(inst), "kind-%d", k);
        pids[k][0] = ct_spinner(inst, "1500", MS_NS, (enum kind)k, 0);
        counts[k] = 1;
        started = started && pids[k][0] > 0;
    }
    if (started) {
        ct_sleep_ns(300 * MS_NS);
        const double want[K_NKINDS] = {15, 15, 15, 15, 15, 15};
        ct_measure_near(pids, counts, K_NKINDS, 2000 * MS_NS, want, 3.0, pct);
    }
    for (int k = 0; k < K_NKINDS; k++)
        ct_stop(pids[k], 1);
    CHECK(started);
    for (int k = 0; k < K_NKINDS; k++) {
        printf("  %-31s", kind_names[k]);
        CHECK_NEAR(pct[k], 15.0, 3.0);
    }
}

/* Entry points the simulator lacks: the interposer must make them wait their turn all the same,
 * before the driver answers that it does not support them. */
#define GATED(X)                                                                                   \
    X(cuGraphLaunch, PFN_cuGraphLaunch_v10000, (CUgraphExec)NULL, NULL)                            \
    X(cuGraphLaunch_ptsz, PFN_cuGraphLaunch_v10000_ptsz, (CUgraphExec)NULL, NULL)                  \
    X(cuLaunch, PFN_cuLaunch_v2000, (CUfunction)NULL)                                              \
    X(cuLaunchGrid, PFN_cuLaunchGrid_v2000, (CUfunction)NULL, 1, 1)                                \
    X(cuLaunchGridAsync, PFN_cuLaunchGridAsync_v2000, (CUfunction)NULL, 1, 1, NULL)

#define CALL_ONE(name, pfn, ...)                                                                   \
    static CUresult call_##name(void)                                                              \
    {                                                                                              \
        pfn fn = (pfn)dlsym(RTLD_DEFAULT, #name);                                                  \
        return fn ? fn(__VA_ARGS__) : CUDA_ERROR_NOT_FOUND;                                        \
    }
GATED(CALL_ONE)
#undef CALL_ONE

static const struct {
    const char *name;
    CUresult (*call)(void);
} gated[] = {
#define ENTRY(name, ...) {#name, call_##name},
    GATED(ENTRY)
#undef ENTRY
};
#define NGATED (sizeof(gated) / sizeof(gated[0]))

/* Worker "gated FD": at 10%, spend the budget with one 60 ms kernel, then time one of the calls
 * above, from the launch on; once per call. Writes the times in ms to FD, or "fail". */
static int worker_gated(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    double ms[NGATED] = {0};
    bool ok = ct_context(&l) == 0;
    for (unsigned i = 0; ok && i < NGATED; i++) {
        uint64_t t0 = st_now_ns();
        ok = ct_launch(&l, K_LAUNCH, 60 * MS_NS) == CUDA_SUCCESS &&
             cuCtxSynchronize() == CUDA_SUCCESS;
        ok = ok && gated[i].call() == CUDA_ERROR_NOT_SUPPORTED;
        ms[i] = (double)(st_now_ns() - t0) / 1e6;
    }
    char out[256] = "fail\n";
    size_t len = 0;
    if (ok) {
        for (unsigned i = 0; i < NGATED; i++)
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%.1f ", ms[i]);
        len += (size_t)snprintf(out + len, sizeof(out) - len, "\n");
    } else {
        len = strlen(out);
    }
    return write(fd, out, len) == (ssize_t)len ? 0 : 1;
}

static void t_gated_without_driver_support(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", "graph", 1);
        setenv("GPUVISOR_COMPUTE", "1000", 1);
        setenv("GPUVISOR_COMPUTE_POLICY", "fixed", 1);
        execl("/proc/self/exe", "worker", "gated", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[256] = {0};
    ssize_t got = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    CHECK(got > 0 && strncmp(buf, "fail", 4) != 0);
    /* 60 ms used with 10 ms saved, at 10%: the kernel, then about 500 ms of refill before the next
     * turn. Timed from the launch, so that a worker kept off a CPU between its synchronize and the
     * call (the budget refilling meanwhile) can only make it longer. */
    char *at = buf;
    for (unsigned i = 0; i < NGATED; i++) {
        double ms = strtod(at, &at);
        printf("  %s: %.0f ms from the launch\n", gated[i].name, ms);
        CHECK(ms > 360 && ms < 3000);
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    if (argc > 2 && strcmp(argv[1], "gated") == 0)
        return worker_gated(argv + 2);
    shim_setup("T4", "compute-kinds", NULL);
    RUN(t_every_kind_gated);
    RUN(t_gated_without_driver_support);
    return st_summary();
}
