/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_long.c: a kernel longer than a whole period is paid for by its instance even when
 * its process ends before any drain settled the turn. A process at 25% launches a 400 ms kernel,
 * lets it run, and exits (or is killed); the instance's next process must then wait for the debt
 * (about 400 ms / 25% = 1.6 s, less what refilled meanwhile) before its first kernel, where a
 * turn paid only for its slice would let it in at once. */
#include "computetest.h"

#define LONG_NS (400 * MS_NS)

/* Worker "long FD": take the token, launch the long kernel, say 'y' on FD, let it run 450 ms, say
 * 'k' and exit (the parent may kill it first). */
static int worker_long(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    char c = ct_context(&l) == 0 && ct_launch(&l, K_LAUNCH, MS_NS) == CUDA_SUCCESS &&
                     cuCtxSynchronize() == CUDA_SUCCESS &&
                     ct_launch(&l, K_LAUNCH, LONG_NS) == CUDA_SUCCESS
                 ? 'y'
                 : 'n';
    if (write(fd, &c, 1) != 1 || c != 'y')
        return 1;
    ct_sleep_ns(LONG_NS + 50 * MS_NS);
    c = 'k';
    if (write(fd, &c, 1) != 1)
        return 1;
    ct_sleep_ns(20 * MS_NS); /* the parent kills it here, or it exits without a synchronize */
    return 0;
}

/* Worker "first FD": how long the first launch of this process waits; "%.1f" ms on FD. */
static int worker_first(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    if (ct_context(&l))
        return 1;
    uint64_t t0 = st_now_ns();
    if (ct_launch(&l, K_LAUNCH, MS_NS) != CUDA_SUCCESS)
        return 1;
    char out[32];
    int n = snprintf(out, sizeof(out), "%.1f", (double)(st_now_ns() - t0) / 1e6);
    return write(fd, out, (size_t)n) == n ? 0 : 1;
}

/* Run this program as worker `mode` of instance `inst` at 25%; its pid, and its pipe in *rfd. */
static pid_t start(const char *inst, const char *mode, int *rfd)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char fd[16];
        snprintf(fd, sizeof(fd), "%d", p[1]);
        setenv("GPUVISOR_INSTANCE", inst, 1);
        setenv("GPUVISOR_COMPUTE", "2500", 1);
        setenv("GPUVISOR_COMPUTE_POLICY", "fixed", 1);
        execl("/proc/self/exe", "worker", mode, fd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    *rfd = p[0];
    return pid;
}

/* The long kernel's process ends (killed or not); the next one's first launch waits (ms). */
static double after_long_kernel(const char *inst, bool killed)
{
    int fd;
    pid_t a = start(inst, "long", &fd);
    char c = 0;
    bool ok = a > 0 && read(fd, &c, 1) == 1 && c == 'y' && read(fd, &c, 1) == 1 && c == 'k';
    if (a > 0) {
        if (killed || !ok)
            kill(a, SIGKILL);
        waitpid(a, NULL, 0);
    }
    close(fd);
    if (!ok)
        return -1;
    pid_t b = start(inst, "first", &fd);
    char buf[32] = {0};
    ssize_t n = b > 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (b > 0)
        waitpid(b, NULL, 0);
    close(fd);
    return n > 0 ? strtod(buf, NULL) : -1;
}

static void t_long_kernel_then_exit(void)
{
    CHECK(ct_parent_init() == 0);
    double ms = after_long_kernel("long-exit", false);
    printf("  after a 400 ms kernel and an exit, the instance's next launch waited %.0f ms\n", ms);
    CHECK(ms > 800 && ms < 3000);
}

static void t_long_kernel_then_kill(void)
{
    CHECK(ct_parent_init() == 0);
    double ms = after_long_kernel("long-kill", true);
    printf("  after a 400 ms kernel and a kill, the instance's next launch waited %.0f ms\n", ms);
    CHECK(ms > 800 && ms < 3000);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "long") == 0)
        return worker_long(argv + 2);
    if (argc > 2 && strcmp(argv[1], "first") == 0)
        return worker_first(argv + 2);
    shim_setup("T4", "compute-long", NULL);
    RUN(t_long_kernel_then_exit);
    RUN(t_long_kernel_then_kill);
    return st_summary();
}
