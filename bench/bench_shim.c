/* bench_shim.c: what the interposer adds to the driver calls that matter, measured on the
 * simulator as a difference and a ratio against the direct call in the same run.
 *
 * The parent runs this program again as children, alternating: without the interposer, with it
 * and no limit, with it and a memory limit. Each child times batches of calls and reports the
 * median per call; the parent takes the median over rounds. Figures: cuLaunchKernel (no compute
 * limit) and a cuMemAlloc + cuMemFree pair (with a memory limit, so the charge path runs).
 * Launches are timed while the device is busy with a long kernel queued ahead of them, so each
 * launch only queues work, as on a loaded GPU; an idle simulated device would add the cost of
 * waking its worker to some launches and not others, which is noise, not interposer cost. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { ROUNDS = 9, BATCHES = 25, LAUNCHES = 2000, PAIRS = 500 };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(v[0]), cmp);
    return v[n / 2];
}

#define CK(call)                                                                                   \
    do {                                                                                           \
        if ((call) != CUDA_SUCCESS) {                                                              \
            fprintf(stderr, "bench_shim: %s failed\n", #call);                                     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* Child: time the calls, print "launch_ns pair_ns". */
static int child(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CUstream s;
    CK(cuInit(0));
    CK(cuDeviceGet(&dev, 0));
    CK(cuDevicePrimaryCtxRetain(&ctx, dev));
    CK(cuCtxSetCurrent(ctx));
    CK(cuModuleLoadData(&mod, "gvsim-module spin_ns"));
    CK(cuModuleGetFunction(&spin, mod, "spin_ns"));
    CK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t ns = 0;
    void *params[] = {&ns};
    double launch[BATCHES], pair[BATCHES];
    uint64_t busy = 20000000; /* 20 ms: far longer than a batch of launches takes to queue */
    void *busy_params[] = {&busy};
    for (int b = 0; b < BATCHES; b++) {
        CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, busy_params, NULL));
        uint64_t t0 = now_ns();
        for (int i = 0; i < LAUNCHES; i++)
            CK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, s, params, NULL));
        launch[b] = (double)(now_ns() - t0) / LAUNCHES;
        CK(cuStreamSynchronize(s));
    }
    for (int b = 0; b < BATCHES; b++) {
        CUdeviceptr p;
        uint64_t t0 = now_ns();
        for (int i = 0; i < PAIRS; i++) {
            CK(cuMemAlloc(&p, 1 << 20));
            CK(cuMemFree(p));
        }
        pair[b] = (double)(now_ns() - t0) / PAIRS;
    }
    printf("%.1f %.1f\n", median(launch, BATCHES), median(pair, BATCHES));
    return 0;
}

/* Run one child with or without the interposer; read its two figures. */
static int measure(const char *self, const char *shim, const char *memory, double *launch,
                   double *pair)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        if (shim)
            setenv("LD_PRELOAD", shim, 1);
        else
            unsetenv("LD_PRELOAD");
        if (memory) {
            setenv("GPUVISOR_MEMORY", memory, 1);
            char name[64];
            snprintf(name, sizeof(name), "bench-%d", (int)getpid());
            setenv("GPUVISOR_INSTANCE", name, 1);
        }
        execl(self, self, "child", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[128] = {0};
    ssize_t n = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return sscanf(buf, "%lf %lf", launch, pair) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "child") == 0)
        return child();
    if (argc != 2) {
        fprintf(stderr, "usage: bench_shim PATH/libgpuvisor.so\n");
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    char machine[64], region_dir[] = "/tmp/gvbench.XXXXXX";
    snprintf(machine, sizeof(machine), "bench-shim-%d", (int)getpid());
    setenv("GPUVISOR_SIM_MACHINE", machine, 1);
    setenv("GPUVISOR_SIM_GPUS", "T4", 1);
    if (!mkdtemp(region_dir))
        return 1;
    setenv("GPUVISOR_REGION_DIR", region_dir, 1);
    unsetenv("GPUVISOR_INSTANCE");
    unsetenv("GPUVISOR_MEMORY");

    double l_direct[ROUNDS], l_shim[ROUNDS], p_direct[ROUNDS], p_shim[ROUNDS], unused;
    for (int r = 0; r < ROUNDS; r++) {
        if (measure(self, NULL, NULL, &l_direct[r], &p_direct[r]) ||
            measure(self, argv[1], NULL, &l_shim[r], &unused) ||
            measure(self, argv[1], "8GiB", &unused, &p_shim[r])) {
            fprintf(stderr, "bench_shim: a measuring run failed\n");
            return 1;
        }
    }
    double ld = median(l_direct, ROUNDS), ls = median(l_shim, ROUNDS);
    double pd = median(p_direct, ROUNDS), ps = median(p_shim, ROUNDS);
    printf("interposer cost on the simulator (median of %d rounds x %d batches)\n", ROUNDS,
           BATCHES);
    printf("  %-34s %10s %10s %10s %8s\n", "call", "direct", "shim", "added", "ratio");
    printf("  %-34s %8.1f ns %8.1f ns %8.1f ns %8.3f\n", "cuLaunchKernel (no compute limit)", ld,
           ls, ls - ld, ls / ld);
    printf("  %-34s %8.1f ns %8.1f ns %8.1f ns %8.3f\n", "cuMemAlloc+cuMemFree (8 GiB slice)", pd,
           ps, ps - pd, ps / pd);
    printf("  targets: launch added <= 50 ns, alloc+free added <= 300 ns\n");
    char path[256];
    snprintf(path, sizeof(path), "/dev/shm/gvsim.%s", machine);
    unlink(path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", region_dir);
    return system(cmd) == 0 ? 0 : 1;
}
