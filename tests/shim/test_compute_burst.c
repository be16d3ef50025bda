/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_burst.c: a program that queues 1,000 kernels at once and only then synchronizes
 * is held to its share over the run: the interposer bounds the work queued ahead of the GPU, so a
 * burst cannot run at full speed and be charged only afterwards. */
#include "computetest.h"

/* Worker "burst N NS FD": queue N kernels of NS, synchronize, and write to FD the share of device
 * time this process got from its first launch to the end of the synchronize, in percent, the
 * device time in seconds, and the share of that time its threads were kept off a CPU. */
static int worker_burst(char **argv)
{
    long n = atol(argv[0]);
    uint64_t ns = strtoull(argv[1], NULL, 10);
    int fd = atoi(argv[2]);
    struct launcher l;
    if (ct_context(&l) != 0)
        return 1;
    uint64_t b0 = ct_busy(getpid()), d0 = ct_run_delay(getpid()), t0 = st_now_ns();
    for (long i = 0; i < n; i++)
        if (ct_launch(&l, K_LAUNCH, ns) != CUDA_SUCCESS)
            return 1;
    if (cuCtxSynchronize() != CUDA_SUCCESS)
        return 1;
    uint64_t b1 = ct_busy(getpid()), d1 = ct_run_delay(getpid()), t1 = st_now_ns();
    char out[96];
    int len = snprintf(out, sizeof(out), "%.3f %.3f %.3f\n",
                       100.0 * (double)(b1 - b0) / (double)(t1 - t0), (double)(b1 - b0) / 1e9,
                       100.0 * (double)(d1 - d0) / (double)(t1 - t0));
    return write(fd, out, (size_t)len) == len ? 0 : 1;
}

static void t_burst_30(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", "burst", 1);
        setenv("GPUVISOR_COMPUTE", "3000", 1);
        setenv("GPUVISOR_COMPUTE_POLICY", "fixed", 1);
        execl("/proc/self/exe", "worker", "burst", "1000", "1000000", fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t got = read(p[0], buf, sizeof(buf) - 1);
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    double pct = 0, busy = 0;
    CHECK(got > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(sscanf(buf, "%lf %lf %lf", &pct, &busy, &ct_starved_pct) == 3);
    CHECK(busy > 0.99 && busy < 1.01); /* all 1,000 ms of work ran */
    CHECK_NEAR(pct, 30.0, 3.0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "burst") == 0)
        return worker_burst(argv + 2);
    shim_setup("T4", "compute-burst", NULL);
    RUN(t_burst_30);
    return st_summary();
}
