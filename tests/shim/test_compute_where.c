/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_where.c: a launch is held to the share of its stream's GPU, whatever context is
 * current. A worker at 25% launches 1 ms kernels into a stream of its context on GPU 0 with (a) no
 * context current, (b) another context of GPU 0 current, (c) GPU 1's context current, through
 * each launch form that takes a stream; each must get 25% of GPU 0. Two workers run at a time, so
 * a worker that is not held gets about half the GPU. The forms the simulator lacks
 * (cuLaunchGridAsync, cuGraphLaunch and its per-thread variant) must wait for a spent budget of
 * their stream's GPU in the same three cases before they are answered CUDA_ERROR_NOT_SUPPORTED.
 * cuLaunch and cuLaunchGrid take no stream: they launch into the current context by definition. */
#include <dlfcn.h>

#include "computetest.h"

enum mode { M_NONE, M_SAME, M_OTHER, M_NMODES };
static const char *const mode_names[M_NMODES] = {"no context current", "other context, same GPU",
                                                 "other GPU's context"};

/* A context and a stream on GPU 0, then the current context set as `mode` says. */
static int where_setup(struct launcher *l, CUstream *s, enum mode mode)
{
    CUdevice d0, d1;
    CUcontext other;
    if (ct_context(l) || cuStreamCreate(s, CU_STREAM_NON_BLOCKING) || cuDeviceGet(&d0, 0))
        return -1;
    switch (mode) {
    case M_NONE:
        return cuCtxSetCurrent(NULL) == CUDA_SUCCESS ? 0 : -1;
    case M_SAME:
        return cuCtxCreate(&other, NULL, 0, d0) == CUDA_SUCCESS ? 0 : -1; /* now current */
    case M_OTHER:
        return cuDeviceGet(&d1, 1) || cuDevicePrimaryCtxRetain(&other, d1) || cuCtxSetCurrent(other)
                   ? -1
                   : 0;
    default:
        return -1;
    }
}

/* Worker "where MODE KIND FD": 1 ms kernels of KIND into the stream, back to back. */
static int worker_where(char **argv)
{
    enum mode mode = (enum mode)atoi(argv[0]);
    enum kind k = (enum kind)atoi(argv[1]);
    int fd = atoi(argv[2]);
    struct launcher l;
    CUstream s;
    char c =
        where_setup(&l, &s, mode) == 0 && ct_launch_on(&l, k, MS_NS, s) == CUDA_SUCCESS ? 'y' : 'n';
    if (write(fd, &c, 1) != 1 || c != 'y')
        return 1;
    for (;;)
        if (ct_launch_on(&l, k, MS_NS, s) != CUDA_SUCCESS)
            return 1;
}

static pid_t where_spawn(enum mode mode, enum kind k)
{
    char inst[32], m[8], kk[8];
    snprintf(inst, sizeof(inst), "where-%d-%d", (int)mode, (int)k);
    snprintf(m, sizeof(m), "%d", (int)mode);
    snprintf(kk, sizeof(kk), "%d", (int)k);
    const char *args[] = {"where", m, kk, NULL};
    return ct_spawn(inst, "2500", args);
}

static void t_share_by_stream(void)
{
    CHECK(ct_parent_init() == 0);
    enum { N = M_NMODES * K_NKINDS };
    double got[N];
    bool ok[N];
    for (int i = 0; i < N; i += 2) {
        pid_t pids[2][8];
        int counts[2] = {1, 1};
        double pct[2] = {0, 0};
        pids[0][0] = where_spawn((enum mode)(i / K_NKINDS), (enum kind)(i % K_NKINDS));
        pids[1][0] = where_spawn((enum mode)((i + 1) / K_NKINDS), (enum kind)((i + 1) % K_NKINDS));
        bool started = pids[0][0] > 0 && pids[1][0] > 0;
        bool near = false;
        if (started) {
            ct_sleep_ns(300 * MS_NS);
            const double want[2] = {25, 25};
            near = ct_measure_near(pids, counts, 2, 1500 * MS_NS, want, 3.0, pct);
        }
        ct_stop(pids[0], 1);
        ct_stop(pids[1], 1);
        CHECK(started);
        for (int j = 0; j < 2; j++) {
            got[i + j] = pct[j];
            ok[i + j] = near || (pct[j] >= 22.0 && pct[j] <= 28.0);
        }
    }
    printf("  share of GPU 0 at 25%%, launching into a stream of GPU 0's context:\n");
    printf("  %-31s %20s %24s %20s\n", "", mode_names[0], mode_names[1], mode_names[2]);
    for (int k = 0; k < K_NKINDS; k++)
        printf("  %-31s %19.2f%% %23.2f%% %19.2f%%\n", kind_names[k], got[k], got[K_NKINDS + k],
               got[2 * K_NKINDS + k]);
    for (int i = 0; i < N; i++) {
        if (!ok[i])
            printf("  %s, %s: %.2f%%\n", kind_names[i % K_NKINDS], mode_names[i / K_NKINDS],
                   got[i]);
        CHECK(ok[i]);
    }
}

/* Forms the simulator lacks: gated on their stream's GPU before the driver refuses them. */
#define GATED(X)                                                                                   \
    X(cuGraphLaunch, PFN_cuGraphLaunch_v10000, (CUgraphExec)NULL, s)                               \
    X(cuGraphLaunch_ptsz, PFN_cuGraphLaunch_v10000_ptsz, (CUgraphExec)NULL, s)                     \
    X(cuLaunchGridAsync, PFN_cuLaunchGridAsync_v2000, (CUfunction)NULL, 1, 1, s)

#define CALL_ONE(name, pfn, ...)                                                                   \
    static CUresult call_##name(CUstream s)                                                        \
    {                                                                                              \
        pfn fn = (pfn)dlsym(RTLD_DEFAULT, #name);                                                  \
        return fn ? fn(__VA_ARGS__) : CUDA_ERROR_NOT_FOUND;                                        \
    }
GATED(CALL_ONE)
#undef CALL_ONE

static const struct {
    const char *name;
    CUresult (*call)(CUstream);
} gated[] = {
#define ENTRY(name, ...) {#name, call_##name},
    GATED(ENTRY)
#undef ENTRY
};
#define NGATED (sizeof(gated) / sizeof(gated[0]))

/* Worker "nosup MODE FD": at 10%, spend the budget with one 60 ms kernel on the stream, then time
 * one of the calls above on it, from the launch on; once per call. Writes the times in ms to FD,
 * or "fail". */
static int worker_nosup(char **argv)
{
    enum mode mode = (enum mode)atoi(argv[0]);
    int fd = atoi(argv[1]);
    struct launcher l;
    CUstream s;
    double ms[NGATED] = {0};
    bool ok = where_setup(&l, &s, mode) == 0;
    for (unsigned i = 0; ok && i < NGATED; i++) {
        uint64_t t0 = st_now_ns();
        ok = ct_launch_on(&l, K_LAUNCH, 60 * MS_NS, s) == CUDA_SUCCESS &&
             cuStreamSynchronize(s) == CUDA_SUCCESS;
        ok = ok && gated[i].call(s) == CUDA_ERROR_NOT_SUPPORTED;
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

static void t_unsupported_forms(void)
{
    for (int mode = 0; mode < M_NMODES; mode++) {
        int p[2];
        CHECK(pipe(p) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            char fd[16], m[8], inst[32];
            snprintf(fd, sizeof(fd), "%d", p[1]);
            snprintf(m, sizeof(m), "%d", mode);
            snprintf(inst, sizeof(inst), "nosup-%d", mode);
            setenv("GPUVISOR_INSTANCE", inst, 1);
            setenv("GPUVISOR_COMPUTE", "1000", 1);
            setenv("GPUVISOR_COMPUTE_POLICY", "fixed", 1);
            execl("/proc/self/exe", "worker", "nosup", m, fd, (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        char buf[256] = {0};
        ssize_t got = read(p[0], buf, sizeof(buf) - 1);
        close(p[0]);
        waitpid(pid, NULL, 0);
        CHECK(got > 0 && strncmp(buf, "fail", 4) != 0);
        /* 60 ms used with 10 ms saved, at 10%: the kernel, then about 500 ms of refill before
         * the next turn. Timed from the launch, so that a worker kept off a CPU between its
         * synchronize and the call (the budget refilling meanwhile) can only make it longer. */
        char *at = buf;
        for (unsigned i = 0; i < NGATED; i++) {
            double ms = strtod(at, &at);
            printf("  %-20s %-26s %4.0f ms from the launch\n", gated[i].name, mode_names[mode], ms);
            CHECK(ms > 360 && ms < 3000);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "where") == 0)
        return worker_where(argv + 2);
    if (argc > 2 && strcmp(argv[1], "nosup") == 0)
        return worker_nosup(argv + 2);
    shim_setup("T4,T4", "compute-where", NULL);
    RUN(t_share_by_stream);
    RUN(t_unsupported_forms);
    return st_summary();
}
