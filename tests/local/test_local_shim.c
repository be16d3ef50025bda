/* SPDX-License-Identifier: Apache-2.0 */
/* test_local_shim.c: the interposer in a process of a gpuvisord instance (GPUVISOR_DAEMON and
 * GPUVISOR_INSTANCE), against the stand-in daemon of testd.h and the simulated driver.
 *
 * The limits are the region's whatever the environment says; the region comes from an inherited
 * descriptor when it holds one (then no daemon is needed to start), else from the daemon; with
 * neither, memory and launches are refused and the process is told why. A GPU that is not the
 * instance's is refused, not added without limits. A resize of the memory limit holds at the next
 * charge; a deletion refuses the next charge and says so once, and the daemon then refuses the
 * launches too.
 *
 * Each case runs a worker: this program again, under the interposer, taking one command a line on
 * its stdin (allocate, launch, ask) and answering one line on its stdout; its stderr goes to a
 * file that the test reads for the interposer's messages. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "region/daemon.h"
#include "shimtest.h"
#include "testd.h"

#define ID_MEM   "d1d1d1d1d1d1"
#define ID_SHARE "d2d2d2d2d2d2"
#define ID_GONE  "d3d3d3d3d3d3"

static struct td t;
static uint8_t uuid0[16], uuid1[16];

/* ---- the worker */

static int worker(void)
{
    CUdevice dev[2];
    CUcontext ctx[2];
    CUmodule mod;
    CUfunction spin[2];
    int n = 0;
    if (cuInit(0) != CUDA_SUCCESS || cuDeviceGetCount(&n) != CUDA_SUCCESS || n < 2)
        return 99;
    for (int i = 0; i < 2; i++)
        if (cuDeviceGet(&dev[i], i) || cuDevicePrimaryCtxRetain(&ctx[i], dev[i]) ||
            cuCtxSetCurrent(ctx[i]) || cuModuleLoadData(&mod, "gvsim-module spin_ns") ||
            cuModuleGetFunction(&spin[i], mod, "spin_ns"))
            return 98;
    printf("ready\n");
    fflush(stdout);
    char line[128];
    while (fgets(line, sizeof(line), stdin)) {
        int d = 0;
        unsigned long long arg = 0;
        char op = 0;
        if (sscanf(line, "%c %d %llu", &op, &d, &arg) < 1 || op == 'q')
            break;
        if (d < 0 || d > 1)
            d = 0;
        cuCtxSetCurrent(ctx[d]);
        if (op == 'a') {
            CUdeviceptr p;
            printf("%d\n", (int)cuMemAlloc(&p, (size_t)arg));
        } else if (op == 'l') {
            uint64_t ns = arg;
            void *params[] = {&ns};
            CUresult r = cuLaunchKernel(spin[d], 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL);
            printf("%d\n", (int)(r ? r : cuCtxSynchronize()));
        } else if (op == 'i') {
            size_t free_b = 0, total = 0;
            CUresult r = cuMemGetInfo(&free_b, &total);
            printf("%d %zu\n", r ? -1 : 0, total);
        }
        fflush(stdout);
    }
    return 0;
}

/* ---- the test's side */

struct w {
    pid_t pid;
    FILE *in, *out;
    char err[160];
};

/* Start a worker of instance `inst` (daemon = the socket, or NULL) with GPUVISOR_MEMORY set to
 * something the daemon's mode must ignore. Returns 0 once it is ready. */
static int w_start(struct w *w, const char *inst, const char *daemon)
{
    int to[2], from[2];
    static int serial;
    snprintf(w->err, sizeof(w->err), "%s/worker-%d.err", t.dir, serial++);
    if (pipe(to) || pipe(from))
        return -1;
    w->pid = fork();
    if (w->pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        int e = open(w->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(e, 2);
        setenv("GPUVISOR_INSTANCE", inst, 1);
        setenv("GPUVISOR_MEMORY", "8GiB", 1);
        setenv("GPUVISOR_COMPUTE", "0", 1);
        if (daemon)
            setenv("GPUVISOR_DAEMON", daemon, 1);
        else
            unsetenv("GPUVISOR_DAEMON");
        execl("/proc/self/exe", "worker", "worker", (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    w->in = fdopen(to[1], "w");
    w->out = fdopen(from[0], "r");
    char line[64] = {0};
    if (w->pid < 0 || !fgets(line, sizeof(line), w->out) || strcmp(line, "ready\n") != 0)
        return -1;
    return 0;
}

/* One command; the first number of the answer (-1000 when there is none). */
static long w_do(struct w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long w_do(struct w *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(w->in, fmt, ap);
    va_end(ap);
    fputc('\n', w->in);
    fflush(w->in);
    char line[128];
    if (!fgets(line, sizeof(line), w->out))
        return -1000;
    return strtol(line, NULL, 10);
}

static void w_stop(struct w *w)
{
    if (w->in) {
        fputs("q\n", w->in);
        fclose(w->in);
    }
    if (w->out)
        fclose(w->out);
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
    }
    memset(w, 0, sizeof(*w));
}

/* How many times `needle` is in the worker's stderr. */
static int said(const struct w *w, const char *needle)
{
    char buf[8192];
    int fd = open(w->err, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    int count = 0;
    for (char *p = buf; (p = strstr(p, needle)); p += strlen(needle))
        count++;
    return count;
}

#define OOM  CUDA_ERROR_OUT_OF_MEMORY
#define DENY CUDA_ERROR_NOT_PERMITTED

/* The region's limits, whatever GPUVISOR_MEMORY says; cuMemGetInfo shows the slice. */
static void t_limits_are_the_daemons(void)
{
    struct w w;
    CHECK(w_start(&w, ID_MEM, t.sock) == 0);
    long a = w_do(&w, "a 0 %llu", 768 * MiB), b = w_do(&w, "a 0 %llu", 512 * MiB);
    long total = 0;
    fputs("i 0\n", w.in);
    fflush(w.in);
    char line[64];
    if (fgets(line, sizeof(line), w.out))
        sscanf(line, "%*d %ld", &total);
    long l = w_do(&w, "l 0 1000");
    w_stop(&w);
    CHECK(a == CUDA_SUCCESS);
    CHECK(b == OOM);
    CHECK((uint64_t)total == GiB);
    CHECK(l == CUDA_SUCCESS); /* no compute limit: no token */
}

/* An inherited region descriptor is used as it is: no daemon needed to start. A descriptor that
 * holds no region of the instance is passed over for the daemon. */
static void t_inherited_region(void)
{
    int fd;
    struct gv_error err = {0};
    CHECK(gvr_daemon_join(t.sock, ID_MEM, &fd, &err) == 0);
    CHECK(fcntl(fd, F_SETFD, 0) == 0); /* inherited across exec */
    char v[16];
    snprintf(v, sizeof(v), "%d", fd);
    setenv("GPUVISOR_REGION_FD", v, 1);
    td_kill(&t);
    struct w w;
    int started = w_start(&w, ID_MEM, t.sock);
    long a = started ? -1 : w_do(&w, "a 0 %llu", 512 * MiB);
    long b = started ? -1 : w_do(&w, "a 0 %llu", 768 * MiB);
    w_stop(&w);
    unsetenv("GPUVISOR_REGION_FD");
    close(fd);
    CHECK(td_start(&t) == 0);
    CHECK(started == 0);
    CHECK(a == CUDA_SUCCESS);
    CHECK(b == OOM);

    setenv("GPUVISOR_REGION_FD", "0", 1); /* stdin: not a region */
    started = w_start(&w, ID_MEM, t.sock);
    a = started ? -1 : w_do(&w, "a 0 %llu", 512 * MiB);
    w_stop(&w);
    unsetenv("GPUVISOR_REGION_FD");
    CHECK(started == 0);
    CHECK(a == CUDA_SUCCESS);
}

/* No daemon and no descriptor: nothing runs unlimited, and the process is told. */
static void t_no_daemon(void)
{
    td_kill(&t);
    struct w w;
    int started = w_start(&w, ID_SHARE, t.sock);
    long a = started ? -1 : w_do(&w, "a 0 %llu", MiB);
    long l = started ? -1 : w_do(&w, "l 0 1000");
    int told = said(&w, "no gpuvisord");
    w_stop(&w);
    CHECK(td_start(&t) == 0);
    CHECK(started == 0);
    CHECK(a == OOM);
    CHECK(l == DENY);
    CHECK(told == 1);
}

/* Device 1 is not the instance's GPU: its memory and its launches are refused. */
static void t_other_gpu(void)
{
    struct w w;
    CHECK(w_start(&w, ID_SHARE, t.sock) == 0);
    long a0 = w_do(&w, "a 0 %llu", MiB), a1 = w_do(&w, "a 1 %llu", MiB);
    long l0 = w_do(&w, "l 0 1000"), l1 = w_do(&w, "l 1 1000");
    int told = said(&w, "is not a GPU of instance " ID_SHARE);
    w_stop(&w);
    CHECK(a0 == CUDA_SUCCESS);
    CHECK(a1 == OOM);
    CHECK(l0 == CUDA_SUCCESS);
    CHECK(l1 == DENY);
    CHECK(told >= 1);
}

/* A resize of the memory limit holds at the next charge, down and up. */
static void t_resize_memory(void)
{
    struct w w;
    CHECK(w_start(&w, ID_MEM, t.sock) == 0);
    long a = w_do(&w, "a 0 %llu", 768 * MiB);
    CHECK(td_resize(&t, 0, 512 * MiB, 0) == 0);
    long b = w_do(&w, "a 0 %llu", MiB);
    CHECK(td_resize(&t, 0, 2 * GiB, 0) == 0);
    long c = w_do(&w, "a 0 %llu", GiB);
    w_stop(&w);
    CHECK(td_resize(&t, 0, GiB, 0) == 0);
    CHECK(a == CUDA_SUCCESS);
    CHECK(b == OOM);
    CHECK(c == CUDA_SUCCESS);
}

/* A deletion: the next charges are refused, the process is told once; its launches are refused
 * once the daemon knows (it asks for the share every quarter second). */
static void t_deleted(void)
{
    struct w w;
    CHECK(w_start(&w, ID_GONE, t.sock) == 0);
    long a = w_do(&w, "a 0 %llu", MiB), l = w_do(&w, "l 0 1000");
    CHECK(td_delete(&t, 2) == 0);
    long b = w_do(&w, "a 0 %llu", MiB), c = w_do(&w, "a 0 %llu", MiB);
    uint64_t t0 = st_now_ns();
    long r = CUDA_SUCCESS;
    while (r == CUDA_SUCCESS && st_now_ns() - t0 < 3000000000ULL)
        r = w_do(&w, "l 0 20000000"); /* 20 ms: past a turn, so each launch takes one */
    int told = said(&w, "instance " ID_GONE " was deleted by gpuvisord; device memory is refused");
    int told_launch = said(&w, "launches are refused");
    w_stop(&w);
    CHECK(a == CUDA_SUCCESS);
    CHECK(l == CUDA_SUCCESS);
    CHECK(b == OOM);
    CHECK(c == OOM);
    CHECK(told == 1);
    CHECK(r == DENY);
    CHECK(told_launch == 1);
}

static int uuid_of(int ordinal, uint8_t out[16])
{
    CUuuid u;
    CUdevice d;
    if (cuDeviceGet(&d, ordinal) != CUDA_SUCCESS || cuDeviceGetUuid_v2(&u, d) != CUDA_SUCCESS)
        return -1;
    memcpy(out, u.bytes, 16);
    return 0;
}

static void cleanup(void)
{
    td_fini(&t);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "worker") == 0)
        return worker();
    shim_setup("T4,T4", "local-shim", NULL);
    signal(SIGPIPE, SIG_IGN);
    if (cuInit(0) != CUDA_SUCCESS || uuid_of(0, uuid0) < 0 || uuid_of(1, uuid1) < 0) {
        fprintf(stderr, "no simulated GPUs\n");
        return 1;
    }
    /* This process's interposer has read its configuration: what follows is the workers'. */
    if (td_init(&t) < 0 || td_add(&t, ID_MEM, "mem", getuid(), uuid0, GiB, 0) < 0 ||
        td_add(&t, ID_SHARE, "share", getuid(), uuid0, GiB, 5000) < 0 ||
        td_add(&t, ID_GONE, "gone", getuid(), uuid0, GiB, 5000) < 0 || td_start(&t) < 0) {
        fprintf(stderr, "cannot start the stand-in daemon\n");
        td_fini(&t);
        return 1;
    }
    atexit(cleanup);
    RUN(t_limits_are_the_daemons);
    RUN(t_inherited_region);
    RUN(t_no_daemon);
    RUN(t_other_gpu);
    RUN(t_resize_memory);
    RUN(t_deleted);
    return st_summary();
}
