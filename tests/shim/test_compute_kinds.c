/* test_compute_kinds.c: every kind of launch waits for the GPU. Six instances at 15% each, each
 * launching only through one entry point (cuLaunchKernel, cuLaunchKernelEx and
 * cuLaunchCooperativeKernel, and their per-thread-stream variants reached through
 * cuGetProcAddress), all get 15%. Graph launches, which the simulator lacks, are gated before the
 * driver is asked: with the instance's budget spent, cuGraphLaunch and cuGraphLaunch_ptsz wait for
 * the refill before they answer CUDA_ERROR_NOT_SUPPORTED. */
#include <dlfcn.h>

#include "computetest.h"

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

/* Worker "graph FD": at 10%, spend the budget with one 60 ms kernel, then time a graph launch;
 * twice, once per entry point. Writes "MS_PLAIN MS_PTSZ" to FD, or "fail". */
static int worker_graph(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    typedef CUresult (*graph_fn)(CUgraphExec, CUstream);
    graph_fn fns[2] = {(graph_fn)dlsym(RTLD_DEFAULT, "cuGraphLaunch"),
                       (graph_fn)dlsym(RTLD_DEFAULT, "cuGraphLaunch_ptsz")};
    double ms[2] = {0, 0};
    bool ok = ct_context(&l) == 0 && fns[0] && fns[1];
    for (int i = 0; ok && i < 2; i++) {
        ok = ct_launch(&l, K_LAUNCH, 60 * MS_NS) == CUDA_SUCCESS &&
             cuCtxSynchronize() == CUDA_SUCCESS;
        uint64_t t0 = st_now_ns();
        ok = ok && fns[i]((CUgraphExec)NULL, NULL) == CUDA_ERROR_NOT_SUPPORTED;
        ms[i] = (double)(st_now_ns() - t0) / 1e6;
    }
    char out[64];
    int len = ok ? snprintf(out, sizeof(out), "%.1f %.1f\n", ms[0], ms[1])
                 : snprintf(out, sizeof(out), "fail\n");
    return write(fd, out, (size_t)len) == len ? 0 : 1;
}

static void t_graph_launch_gated(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", "graph", 1);
        setenv("GPUVISOR_COMPUTE", "1000", 1);
        execl("/proc/self/exe", "worker", "graph", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t got = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    waitpid(pid, NULL, 0);
    double plain = 0, ptsz = 0;
    CHECK(got > 0 && sscanf(buf, "%lf %lf", &plain, &ptsz) == 2);
    /* 60 ms used with 10 ms saved, at 10%: about 500 ms of refill before the next turn. */
    printf("  cuGraphLaunch waited %.0f ms, cuGraphLaunch_ptsz %.0f ms\n", plain, ptsz);
    CHECK(plain > 300 && plain < 1500);
    CHECK(ptsz > 300 && ptsz < 1500);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    if (argc > 2 && strcmp(argv[1], "graph") == 0)
        return worker_graph(argv + 2);
    shim_setup("T4", "compute-kinds", NULL);
    RUN(t_every_kind_gated);
    RUN(t_graph_launch_gated);
    return st_summary();
}
