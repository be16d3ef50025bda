/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_load.c: kill -9 of gpuvisord under load, then a restart on the same state and socket.
 *
 * Two tenants, each with one instance on one simulated T4: "mem" (a 2 GiB memory limit, no
 * compute limit) and "share" (1 GiB and 30% of the GPU). A process of each runs under the
 * interposer, started with the "join" environment the daemon's create answered, holds device
 * memory and launches kernels without pause. The daemon is killed with SIGKILL; while it is down
 * the memory limit must still refuse an allocation over it (and allow one within it), and the
 * compute tenant gets no GPU time (nobody grants turns). The daemon is started again: every tenant,
 * instance, limit and running member must be back, and the compute tenant must get device time
 * again within 1 s of the moment the new daemon's socket accepts a connection.
 *
 * The program is its own worker ("work ..."), as the share tests are (tests/shim/computetest.h):
 * CUDA wants a fresh process, and device time is read from the simulator's own books (per process,
 * gvsim_dev_processes), which do not depend on how busy the test machine's CPUs are. Labelled
 * `timing`: it measures time, with wide margins, and runs alone. */
#include <cuda.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemontest.h"
#include "sim/sim.h"

#define MiB       (1024LL * 1024)
#define GiB       (1024 * MiB)
#define MS_NS     1000000ULL
#define KERNEL_NS (1 * MS_NS)

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* --- The worker: "work MIB CMD REPLY". A context on device 0, MIB MiB allocated and held, then
 * kernels launched back to back (a sync every 8, so that the queue stays short with no compute
 * limit too). Between launches it reads commands from CMD: an int64 of MiB to allocate (and free
 * again at once); it answers the CUresult on REPLY. It says 'y' on REPLY once it runs. */

static int worker(char **argv)
{
    size_t hold = (size_t)strtoull(argv[0], NULL, 10) * (size_t)MiB;
    int cmd = atoi(argv[1]), reply = atoi(argv[2]);
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CUdeviceptr held;
    uint64_t ns = KERNEL_NS;
    void *params[] = {&ns};
    char c = 'y';
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuModuleLoadData(&mod, "gvsim-module\n") ||
        cuModuleGetFunction(&spin, mod, "spin_ns") || cuMemAlloc(&held, hold) ||
        cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL))
        c = 'n';
    if (write(reply, &c, 1) != 1 || c != 'y')
        return 1;
    for (long i = 1;; i++) {
        if (cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL) != CUDA_SUCCESS)
            return 1;
        if (i % 8 == 0 && cuCtxSynchronize() != CUDA_SUCCESS)
            return 1;
        struct pollfd p = {.fd = cmd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0)
            continue;
        int64_t mib;
        if (read(cmd, &mib, sizeof(mib)) != sizeof(mib))
            return 0; /* the parent is gone */
        CUdeviceptr ptr;
        int rc = cuMemAlloc(&ptr, (size_t)mib * (size_t)MiB);
        if (rc == CUDA_SUCCESS)
            cuMemFree(ptr);
        if (write(reply, &rc, sizeof(rc)) != sizeof(rc))
            return 1;
    }
}

/* --- The parent's side of a worker. */

struct work {
    pid_t pid;
    int cmd, reply;
};

static struct work workers[2];

static void stop_workers(void)
{
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) {
            kill(workers[i].pid, SIGKILL);
            waitpid(workers[i].pid, NULL, 0);
            workers[i].pid = 0;
        }
}

/* Start a worker holding mib MiB with the interposer and the join environment env. */
static void spawn(struct dt *t, struct work *w, json_t *env, int mib)
{
    const char *shim = getenv("GV_SHIM");
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe: %s", strerror(errno));
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        close(a[1]);
        close(b[0]);
        const char *key;
        json_t *v;
        json_object_foreach(env, key, v) setenv(key, json_string_value(v), 1);
        setenv("LD_PRELOAD", shim, 1);
        setenv("GPUVISOR_SIM_MACHINE", t->machine, 1);
        setenv("GPUVISOR_SIM_GPUS", "T4", 1);
        char n[16], c[16], r[16];
        snprintf(n, sizeof(n), "%d", mib);
        snprintf(c, sizeof(c), "%d", a[0]);
        snprintf(r, sizeof(r), "%d", b[1]);
        execl("/proc/self/exe", "worker", "work", n, c, r, (char *)NULL);
        _exit(127);
    }
    close(a[0]);
    close(b[1]);
    *w = (struct work){.pid = pid, .cmd = a[1], .reply = b[0]};
    char c = 0;
    CHECK(read(w->reply, &c, 1) == 1 && c == 'y', "a worker under the interposer did not start");
}

/* Ask the worker to allocate mib MiB (and free it): the CUresult. */
static int alloc(struct work *w, int64_t mib)
{
    int rc = -1;
    CHECK(write(w->cmd, &mib, sizeof(mib)) == sizeof(mib), "worker: write");
    struct pollfd p = {.fd = w->reply, .events = POLLIN};
    CHECK(poll(&p, 1, 30000) == 1, "the worker did not answer an allocation within 30 s");
    CHECK(read(w->reply, &rc, sizeof(rc)) == sizeof(rc), "worker: read");
    return rc;
}

/* Device time process pid has used on device 0, from the simulator's books. */
static uint64_t busy(pid_t pid)
{
    struct gvsim_proc_usage u[64];
    int n = gvsim_dev_processes(0, u, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (u[i].pid == pid)
            return u[i].busy_ns;
    return 0;
}

/* --- The restart, watched from a thread: the first moment the socket accepts, then the first
 * moment the compute worker has used 5 ms more of the GPU than it had then. */

struct watch {
    const char *sock;
    pid_t pid;
    uint64_t deadline, accepted, back; /* ns, CLOCK_MONOTONIC; 0: not seen */
    uint64_t busy_at_accept;
};

static bool accepts(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void *watch_main(void *arg)
{
    struct watch *w = arg;
    while (now_ns() < w->deadline) {
        if (!w->accepted) {
            if (accepts(w->sock)) {
                w->busy_at_accept = busy(w->pid);
                w->accepted = now_ns();
            }
        } else if (busy(w->pid) >= w->busy_at_accept + 5 * MS_NS) {
            w->back = now_ns();
            break;
        }
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* --- The case. */

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static long long num(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(j, key));
}

/* The member pid in an instance's live usage: true when it is listed and alive. */
static bool member_listed(json_t *inst, pid_t pid)
{
    json_t *ms = json_object_get(json_object_get(inst, "usage"), "members"), *m;
    size_t i;
    json_array_foreach(ms, i, m) if (num(m, "pid") == pid &&
                                     json_is_true(json_object_get(m, "alive"))) return true;
    return false;
}

static json_t *get_instance(struct dt *t, const char *id)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/instances/%s", id);
    return dt_call(t, 200, NULL, "GET", path, NULL);
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "work"))
        return worker(argv + 2);
    if (!getenv("GV_SHIM")) {
        fprintf(stderr, "load: the interposer is not built: skipped\n");
        return 0;
    }
    static struct dt t;
    dt_init(&t, "load");
    t.sim = "T4";
    atexit(stop_workers);
    CHECK(dt_start(&t, NULL) == 0, "gpuvisord did not start: %s", dt_log(&t));
    /* This process reads the simulator's books of the daemon's machine. */
    setenv("GPUVISOR_SIM_MACHINE", t.machine, 1);
    setenv("GPUVISOR_SIM_GPUS", "T4", 1);
    CHECK(cuInit(0) == CUDA_SUCCESS, "no simulated GPU");

    json_decref(dt_call(&t, 201, NULL, "POST", "/v1/tenants",
                        "{\"name\":\"lab-a\",\"quota\":{\"memory\":\"4GiB\"}}"));
    json_decref(dt_call(&t, 201, NULL, "POST", "/v1/tenants",
                        "{\"name\":\"lab-b\",\"quota\":{\"compute\":50}}"));
    json_t *a = dt_call(&t, 201, NULL, "POST", "/v1/instances",
                        "{\"tenant\":\"lab-a\",\"name\":\"mem\",\"memory\":\"2GiB\"}");
    json_t *b = dt_call(&t, 201, NULL, "POST", "/v1/instances",
                        "{\"tenant\":\"lab-b\",\"name\":\"share\",\"memory\":\"1GiB\","
                        "\"compute\":30,\"policy\":\"fixed\"}");
    char ida[16], idb[16];
    snprintf(ida, sizeof(ida), "%s", str(a, "id"));
    snprintf(idb, sizeof(idb), "%s", str(b, "id"));
    struct work *wm = &workers[0], *wc = &workers[1];
    spawn(&t, wm, json_object_get(json_object_get(a, "join"), "env"), 1024);
    spawn(&t, wc, json_object_get(json_object_get(b, "join"), "env"), 256);
    json_decref(a);
    json_decref(b);

    /* Under load: the memory limit holds, the compute tenant runs near its share. */
    CHECK(alloc(wm, 1536) == CUDA_ERROR_OUT_OF_MEMORY, "1 GiB held + 1.5 GiB > 2 GiB: refused");
    CHECK(alloc(wm, 512) == CUDA_SUCCESS, "1 GiB held + 512 MiB fits in 2 GiB");
    sleep_ms(300);
    uint64_t b0 = busy(wc->pid), t0 = now_ns();
    sleep_ms(1000);
    double before = 100.0 * (double)(busy(wc->pid) - b0) / (double)(now_ns() - t0);
    CHECK(before > 5.0 && before < 36.0, "the 30%% tenant got %.1f%% before the kill", before);
    json_t *ia = get_instance(&t, ida);
    long long used_a = num(json_object_get(ia, "usage"), "memory_used");
    CHECK(used_a >= GiB && member_listed(ia, wm->pid), "the memory tenant's member is listed");
    json_decref(ia);

    /* kill -9 under load. */
    dt_kill(&t, SIGKILL);
    int refusals = 0, allowed = 0;
    for (int i = 0; i < 3; i++) {
        refusals += alloc(wm, 1536) == CUDA_ERROR_OUT_OF_MEMORY;
        allowed += alloc(wm, 512) == CUDA_SUCCESS;
    }
    CHECK(refusals == 3 && allowed == 3,
          "with the daemon down, over-limit allocations refused %d/3, within-limit ones "
          "allowed %d/3",
          refusals, allowed);
    sleep_ms(100); /* the turn in flight ends */
    uint64_t b1 = busy(wc->pid), t1 = now_ns();
    sleep_ms(500);
    uint64_t idle = busy(wc->pid) - b1;
    double idle_ms = (double)idle / 1e6, idle_window = (double)(now_ns() - t1) / 1e6;
    CHECK(idle < 30 * MS_NS, "the compute tenant ran %.1f ms in %.0f ms with no daemon", idle_ms,
          idle_window);

    /* Restart on the same state and socket, watched from the moment the socket accepts. */
    static struct watch w;
    w = (struct watch){.sock = t.sock, .pid = wc->pid, .deadline = now_ns() + 40000 * MS_NS};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, watch_main, &w) == 0, "pthread_create");
    int started = dt_start(&t, NULL);
    pthread_join(th, NULL);
    CHECK(started == 0, "restart: %s", dt_log(&t));
    CHECK(w.accepted, "the new daemon's socket never accepted");
    double back_ms = w.back ? (double)(w.back - w.accepted) / 1e6 : -1.0;
    printf("  before the kill: the 30%% tenant got %.1f%% of the GPU\n"
           "  daemon down: over-limit allocations refused %d/3, within-limit allowed %d/3; "
           "compute %.1f ms in %.0f ms\n"
           "  after the restart: 5 ms of device time %.0f ms after the socket accepted\n",
           before, refusals, allowed, idle_ms, idle_window, back_ms);
    CHECK(w.back && w.back - w.accepted <= 1000 * MS_NS,
          "the compute tenant got the GPU again %.0f ms after the restart (at most 1000)", back_ms);

    /* Everything is back. */
    json_t *j = dt_call(&t, 200, NULL, "GET", "/v1/tenants", NULL);
    json_t *ts = json_object_get(j, "tenants");
    CHECK(json_array_size(ts) == 2, "both tenants back");
    for (size_t i = 0; i < 2; i++) {
        json_t *q = json_object_get(json_array_get(ts, i), "quota");
        const char *name = str(json_array_get(ts, i), "name");
        CHECK(!strcmp(name, "lab-a") ? num(q, "memory") == 4 * GiB
                                     : !strcmp(name, "lab-b") &&
                                           json_number_value(json_object_get(q, "compute")) == 50.0,
              "tenant %s back with its quota", name);
    }
    json_decref(j);
    j = dt_call(&t, 200, NULL, "GET", "/v1/instances", NULL);
    CHECK(json_array_size(json_object_get(j, "instances")) == 2, "both instances back");
    json_decref(j);
    ia = get_instance(&t, ida);
    CHECK(num(ia, "memory") == 2 * GiB && !strcmp(str(ia, "tenant"), "lab-a") &&
              !strcmp(str(ia, "name"), "mem"),
          "the memory instance's limit is back");
    CHECK(member_listed(ia, wm->pid) &&
              num(json_object_get(ia, "usage"), "memory_used") == used_a,
          "its running member is back, with its memory");
    json_decref(ia);
    json_t *ib = get_instance(&t, idb);
    CHECK(num(ib, "memory") == GiB && json_number_value(json_object_get(ib, "compute")) == 30.0 &&
              !strcmp(str(ib, "tenant"), "lab-b"),
          "the compute instance's limits are back");
    CHECK(member_listed(ib, wc->pid), "its running member is back");
    json_decref(ib);

    /* The limits hold after the restart as before: memory refused over it, the share kept. */
    CHECK(alloc(wm, 1536) == CUDA_ERROR_OUT_OF_MEMORY, "over the limit after the restart");
    CHECK(alloc(wm, 512) == CUDA_SUCCESS, "within the limit after the restart");
    uint64_t b2 = busy(wc->pid), t2 = now_ns();
    sleep_ms(1000);
    double after = 100.0 * (double)(busy(wc->pid) - b2) / (double)(now_ns() - t2);
    printf("  after the restart: the 30%% tenant got %.1f%% of the GPU\n", after);
    CHECK(after > 5.0 && after < 36.0, "the 30%% tenant got %.1f%% after the restart", after);

    stop_workers();
    dt_kill(&t, SIGTERM);
    printf("load: ok\n");
    return 0;
}
