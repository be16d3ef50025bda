/* SPDX-License-Identifier: Apache-2.0 */
/* test_compute_takeover.c: a process that loses the GPU's token to a takeover (it went silent for
 * longer than its slice and the grace after it, as a program does between bursts of kernels) waits
 * for the token again before its next launches: not one of them reaches the driver while another
 * process holds the token. */
#include "computetest.h"
#include "region/sched.h"

static int worker_gappy(char **argv)
{
    int fd = atoi(argv[0]);
    struct launcher l;
    char c = ct_context(&l) == 0 && ct_launch(&l, K_LAUNCH, MS_NS) == CUDA_SUCCESS ? 'y' : 'n';
    cuCtxSynchronize();
    CUdevice dev;
    CUuuid u;
    cuDeviceGet(&dev, 0);
    cuDeviceGetUuid_v2(&u, dev);
    struct gvr_sched s;
    struct gv_error err = {0};
    if (gvr_sched_open(&s, NULL, (const uint8_t *)u.bytes, &err) < 0)
        c = 'n';
    if (write(fd, &c, 1) != 1 || c != 'y')
        return 1;
    int bad = 0, total = 0;
    for (int round = 0; round < 20; round++) {
        ct_sleep_ns(40 * MS_NS); /* silent past slice + grace: the waiter takes the token over */
        for (int i = 0; i < 5; i++) {
            if (ct_launch(&l, K_LAUNCH, MS_NS) != CUDA_SUCCESS)
                return 1;
            pid_t h = gvr_sched_holder(&s);
            total++;
            if (h != getpid())
                bad++;
        }
        cuCtxSynchronize();
    }
    printf("  gappy worker: %d of %d launches let through while another process held the token\n",
           bad, total);
    return bad ? 3 : 0;
}

static void t_takeover(void)
{
    CHECK(ct_parent_init() == 0);
    pid_t b = ct_spinner("tk-b", "5000", MS_NS, K_LAUNCH, 0);
    CHECK(b > 0);
    const char *args[] = {"gappy", NULL};
    pid_t a = ct_spawn("tk-a", "5000", args);
    CHECK(a > 0);
    int st = 0;
    waitpid(a, &st, 0);
    ct_stop(&b, 1);
    printf("  gappy exit status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return ct_worker_spin(argv + 2);
    if (argc > 2 && strcmp(argv[1], "gappy") == 0)
        return worker_gappy(argv + 2);
    shim_setup("T4", "takeover", NULL);
    RUN(t_takeover);
    return st_summary();
}
