/* SPDX-License-Identifier: Apache-2.0 */
/* bench_remote.c: what remoting costs, against raw sockets of the same kind in the same run.
 *
 *   bench_remote BUILD_DIR
 *
 * The bench starts gpuvisor-remoted itself (a temporary directory, a token, the simulator's driver
 * first on the server's LD_LIBRARY_PATH, a simulated machine of its own) once per transport: a unix
 * socket, TCP over 127.0.0.1, and TLS over 127.0.0.1 when this build has TLS and the openssl
 * command can make a self-signed certificate (otherwise it says why TLS is skipped). For each, a
 * child of the bench loads the client's libcuda.so.1 from BUILD_DIR/lib/remote by its absolute path
 * (the bench is linked to no libcuda; the client makes one connection per process, hence a child
 * per transport) and measures, alternating runs of the remote call and its raw counterpart so that
 * a machine that slows down meanwhile weighs on both alike:
 *
 *   (a) the round trip of a synchronous call that does nothing (cuDriverGetVersion: a 16-byte
 *       frame out, a 24-byte reply back, the server's dispatch and the interposer's entry point),
 *       the median call; against a raw ping-pong of the same sizes with a process of the child's
 *       that only echoes, over a socket of the same kind (remote/conn.c, as the server uses it),
 *       one call of each in turn; the quickest tenth of each is printed too (p10), the floor that a
 *       loaded machine's slow wake-ups leave visible;
 *   (b) cuMemcpyHtoD and cuMemcpyDtoH of 256 MiB, GB/s (10^9 bytes a second), against 256 MiB
 *       streamed raw to and from that process in the server's chunk size. The remote copy also
 *       costs the simulator's own copy into its device memory (a memcpy, whose rate is printed for
 *       comparison), which the raw stream does not;
 *   (c) launches of the simulator's shortest kernel (spin_ns for 0 ns): pipelined (N launches,
 *       then one cuCtxSynchronize) and each followed by cuCtxSynchronize, launches a second.
 *
 * Each figure is the median of REPS runs. Then one summary line per figure and its target, PASS or
 * MISS. The data path is checked once too (a pattern copied there and back arrives intact), so the
 * copies are known to move real bytes. */
#include "remote/server/srv.h" /* SRV_CHUNK, the size of the server's copy chunks */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "core/policy.h"
#include "remote/auth.h"
#include "remote/conn.h"
#include "remote/wire.h"

#define MIB           (1024ull * 1024)
#define COPY_BYTES    (256 * MIB)
#define REPS          5
#define RTT_CALLS     4000
#define RTT_BLOCK     100
#define PIPE_LAUNCHES 20000
#define SYNC_LAUNCHES 2000
#define DEADLINE_NS   (10ull * 1000000000ull)

/* The targets. */
#define TARGET_RTT_US       15.0 /* a no-op call on a unix socket */
#define TARGET_RTT_RATIO    3.0  /* a no-op call against the raw ping-pong */
#define TARGET_COPY_RATIO   0.60 /* a copy against the raw stream */
#define TARGET_LAUNCH_RATIO 10.0 /* pipelined launches against synchronized ones */

/* The raw peer's requests: a header as the protocol's (its ctx field carrying a byte count), and
 * replies the size of DRIVER_VERSION's: the header, the result and the version. */
enum { RAW_PING = 1, RAW_SINK = 2, RAW_SOURCE = 3 };
#define RAW_REPLY (GVW_HDR + 8)

#define NKINDS 3
static const char *const kind_names[NKINDS] = {"unix", "tcp", "tls"};

/* The figures of one transport, as the child prints them ("name value" lines). */
enum fig {
    F_RTT,
    F_RTT_RAW,
    F_RTT_P10,
    F_RTT_RAW_P10,
    F_HTOD,
    F_HTOD_RAW,
    F_DTOH,
    F_DTOH_RAW,
    F_MEMCPY,
    F_PIPE,
    F_SYNC,
    NFIGS
};
static const char *const fig_names[NFIGS] = {
    "rtt",      "rtt_raw", "rtt_p10",          "rtt_raw_p10",        "htod", "htod_raw", "dtoh",
    "dtoh_raw", "memcpy",  "launch_pipelined", "launch_synchronized"};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_remote: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------------------ the raw peer */

/* Serve one connection on lfd: echo pings, swallow and emit streams, until it closes. */
static void raw_serve(int lfd, struct gvc_tls *tls)
{
    char err[256];
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        _exit(1);
    struct gvc *c = gvc_accept(fd, tls, 10000, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "bench_remote: raw peer: %s\n", err);
        _exit(1);
    }
    gvc_tune(c, 10000);
    uint8_t *buf = malloc(SRV_CHUNK);
    if (!buf)
        _exit(1);
    memset(buf, 0x5a, SRV_CHUNK);
    uint8_t hdr[GVW_HDR], reply[RAW_REPLY] = {0};
    struct gvw_hdr h;
    /* It looks for the next request before sleeping, as the server's sessions do, so that the
     * baseline has the same wake-ups saved as the path it is compared with. */
    while (gvc_wait_spin(c, GVC_SPIN_NS, -1) > 0 && gvc_read(c, hdr, sizeof(hdr)) == 0) {
        gvw_hdr_get(hdr, &h);
        uint64_t n = h.ctx, off = 0;
        if (h.op == RAW_SINK)
            for (; off < n; off += SRV_CHUNK)
                if (gvc_read(c, buf, n - off > SRV_CHUNK ? SRV_CHUNK : (size_t)(n - off)) != 0)
                    _exit(1);
        if (gvc_write(c, reply, sizeof(reply)) != 0)
            _exit(1);
        if (h.op == RAW_SOURCE)
            for (; off < n; off += SRV_CHUNK)
                if (gvc_write(c, buf, n - off > SRV_CHUNK ? SRV_CHUNK : (size_t)(n - off)) != 0)
                    _exit(1);
    }
    gvc_close(c);
    _exit(0);
}

/* Start the raw peer on a socket of `kind` and connect to it. */
static struct gvc *raw_start(int kind, const char *dir, const char *cert, const char *key)
{
    char text[256], err[256];
    if (kind == GVC_UNIX)
        snprintf(text, sizeof(text), "unix:%s/raw-%d.sock", dir, (int)getpid());
    else
        snprintf(text, sizeof(text), "%s:127.0.0.1:0", kind == GVC_TLS ? "tls" : "tcp");
    struct gvc_addr a;
    if (gvc_parse(text, &a, err, sizeof(err)) != 0)
        die("raw peer: %s", err);
    int lfd = gvc_listen(&a, err, sizeof(err));
    if (lfd < 0)
        die("raw peer: cannot listen on %s", err);
    if (kind != GVC_UNIX) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        if (getsockname(lfd, (struct sockaddr *)&sin, &sl) != 0)
            die("raw peer: getsockname: %s", strerror(errno));
        snprintf(a.port, sizeof(a.port), "%u", (unsigned)ntohs(sin.sin_port));
    }
    struct gvc_tls *stls = NULL, *ctls = NULL;
    if (kind == GVC_TLS) {
        struct gvc_tls_opts so = {.cert = cert, .key = key}, co = {.ca = cert};
        stls = gvc_tls_new(true, &so, err, sizeof(err));
        if (stls)
            ctls = gvc_tls_new(false, &co, err, sizeof(err));
        if (!ctls)
            die("raw peer: %s", err);
    }
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        raw_serve(lfd, stls);
    }
    close(lfd);
    gvc_tls_free(stls);
    struct gvc *c = gvc_connect(&a, ctls, err, sizeof(err));
    if (!c)
        die("raw peer: %s", err);
    gvc_tune(c, 10000);
    if (kind == GVC_UNIX)
        unlink(a.path);
    return c;
}

static void raw_request(struct gvc *c, unsigned op, uint64_t n, const void *bulk)
{
    uint8_t hdr[GVW_HDR];
    struct gvw_hdr h = {.op = (uint16_t)op, .ctx = n};
    gvw_hdr_put(hdr, &h);
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)bulk, bulk ? (size_t)n : 0}};
    uint8_t reply[RAW_REPLY];
    if (gvc_writev(c, iov, bulk ? 2 : 1) != 0 || gvc_wait_spin(c, GVC_SPIN_NS, -1) <= 0 ||
        gvc_read(c, reply, sizeof(reply)) != 0)
        die("raw peer: the connection broke");
}

/* ------------------------------------------------------------------ the client child */

/* The client driver's entry points, looked up in its libcuda.so.1. */
static struct {
    CUresult (*init)(unsigned);
    CUresult (*device_get)(CUdevice *, int);
    CUresult (*retain)(CUcontext *, CUdevice);
    CUresult (*set_current)(CUcontext);
    CUresult (*alloc)(CUdeviceptr *, size_t);
    CUresult (*free)(CUdeviceptr);
    CUresult (*htod)(CUdeviceptr, const void *, size_t);
    CUresult (*dtoh)(void *, CUdeviceptr, size_t);
    CUresult (*load)(CUmodule *, const void *);
    CUresult (*get_function)(CUfunction *, CUmodule, const char *);
    CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                       unsigned, CUstream, void **, void **);
    CUresult (*sync)(void);
    CUresult (*version)(int *);
} d;

#define CK(call)                                                                                   \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_ != CUDA_SUCCESS)                                                                    \
            die("%s failed: %d", #call, (int)r_);                                                  \
    } while (0)

static void sym(void *lib, const char *name, void *fn)
{
    void *p = dlsym(lib, name);
    if (!p)
        die("the client driver has no %s", name);
    memcpy(fn, &p, sizeof(p));
}

static void load_client(const char *path)
{
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        die("cannot load the client driver: %s", dlerror());
    sym(lib, "cuInit", &d.init);
    sym(lib, "cuDeviceGet", &d.device_get);
    sym(lib, "cuDevicePrimaryCtxRetain", &d.retain);
    sym(lib, "cuCtxSetCurrent", &d.set_current);
    sym(lib, "cuMemAlloc_v2", &d.alloc);
    sym(lib, "cuMemFree_v2", &d.free);
    sym(lib, "cuMemcpyHtoD_v2", &d.htod);
    sym(lib, "cuMemcpyDtoH_v2", &d.dtoh);
    sym(lib, "cuModuleLoadData", &d.load);
    sym(lib, "cuModuleGetFunction", &d.get_function);
    sym(lib, "cuLaunchKernel", &d.launch);
    sym(lib, "cuCtxSynchronize", &d.sync);
    sym(lib, "cuDriverGetVersion", &d.version);
}

static double ns_since(uint64_t t0)
{
    return (double)(bench_now_ns() - t0);
}

/* Round trips, in microseconds, of RTT_CALLS no-op calls through the client and as many raw
 * ping-pongs on c, in alternating blocks of RTT_BLOCK so that both meet the same load: the median
 * of each, and the quickest tenth's bound (p10), which shows the floor where a loaded machine's
 * wake-ups spread the rest. Blocks, not single calls in turn: each peer looks for its next request
 * for a while before it sleeps, and on two cores a peer left looking while the other one works
 * would slow both. The first call of each block is not counted. */
static void rtt(struct gvc *c, double *remote, double *raw, double *remote10, double *raw10)
{
    static double tr[RTT_CALLS], tw[RTT_CALLS];
    int nr = 0, nw = 0;
    for (int b = 0; nr < RTT_CALLS || nw < RTT_CALLS; b++) {
        bool is_remote = b & 1;
        for (int i = 0; i <= RTT_BLOCK; i++) {
            uint64_t t0 = bench_now_ns();
            if (is_remote) {
                int v = 0;
                CK(d.version(&v));
                if (v <= 0)
                    die("cuDriverGetVersion gave %d", v);
                if (i && nr < RTT_CALLS)
                    tr[nr++] = ns_since(t0) / 1e3;
            } else {
                raw_request(c, RAW_PING, 0, NULL);
                if (i && nw < RTT_CALLS)
                    tw[nw++] = ns_since(t0) / 1e3;
            }
        }
    }
    *remote = bench_median(tr, RTT_CALLS);
    *raw = bench_median(tw, RTT_CALLS);
    /* bench_median sorted them. */
    *remote10 = tr[RTT_CALLS / 10];
    *raw10 = tw[RTT_CALLS / 10];
}

static double gbps(uint64_t bytes, double ns)
{
    return (double)bytes / ns;
}

/* Launches a second: n launches, then one synchronize (pipelined), or a synchronize after each. */
static double launches(CUfunction f, int n, bool each)
{
    uint64_t zero = 0;
    void *params[] = {&zero};
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < n; i++) {
        CK(d.launch(f, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
        if (each)
            CK(d.sync());
    }
    if (!each)
        CK(d.sync());
    return (double)n / (ns_since(t0) / 1e9);
}

static int client(int kind, const char *libcuda, const char *dir, const char *cert, const char *key)
{
    struct gvc *raw = raw_start(kind, dir, cert, key);
    uint8_t *host = malloc(COPY_BYTES), *back = malloc(COPY_BYTES);
    if (!host || !back)
        die("out of memory");
    for (uint64_t i = 0; i < COPY_BYTES; i++)
        host[i] = (uint8_t)(i * 131 + (i >> 20));
    memset(back, 0, COPY_BYTES);

    load_client(libcuda);
    CUdevice dev;
    CUcontext ctx;
    CUmodule mod;
    CUfunction spin;
    CUdeviceptr dptr;
    CK(d.init(0));
    CK(d.device_get(&dev, 0));
    CK(d.retain(&ctx, dev));
    CK(d.set_current(ctx));
    CK(d.alloc(&dptr, COPY_BYTES));
    CK(d.load(&mod, "gvsim-module\nspin_ns\n"));
    CK(d.get_function(&spin, mod, "spin_ns"));

    /* The data path, once: there and back intact. */
    CK(d.htod(dptr, host, COPY_BYTES));
    CK(d.dtoh(back, dptr, COPY_BYTES));
    if (memcmp(host, back, COPY_BYTES) != 0)
        die("256 MiB copied to the device and back differ");
    /* Warm both paths up. */
    for (int i = 0; i < 100; i++) {
        int v;
        CK(d.version(&v));
        raw_request(raw, RAW_PING, 0, NULL);
    }
    launches(spin, 1000, false);

    double f[NFIGS][REPS];
    for (int r = 0; r < REPS; r++)
        rtt(raw, &f[F_RTT][r], &f[F_RTT_RAW][r], &f[F_RTT_P10][r], &f[F_RTT_RAW_P10][r]);
    for (int r = 0; r < REPS; r++) {
        uint64_t t0 = bench_now_ns();
        CK(d.htod(dptr, host, COPY_BYTES));
        f[F_HTOD][r] = gbps(COPY_BYTES, ns_since(t0));
        t0 = bench_now_ns();
        raw_request(raw, RAW_SINK, COPY_BYTES, host);
        f[F_HTOD_RAW][r] = gbps(COPY_BYTES, ns_since(t0));
        t0 = bench_now_ns();
        CK(d.dtoh(back, dptr, COPY_BYTES));
        f[F_DTOH][r] = gbps(COPY_BYTES, ns_since(t0));
        t0 = bench_now_ns();
        raw_request(raw, RAW_SOURCE, COPY_BYTES, NULL);
        if (gvc_read(raw, back, COPY_BYTES) != 0)
            die("raw peer: the stream broke");
        f[F_DTOH_RAW][r] = gbps(COPY_BYTES, ns_since(t0));
        t0 = bench_now_ns();
        memcpy(back, host, COPY_BYTES);
        f[F_MEMCPY][r] = gbps(COPY_BYTES, ns_since(t0));
    }
    for (int r = 0; r < REPS; r++) {
        f[F_PIPE][r] = launches(spin, PIPE_LAUNCHES, false);
        f[F_SYNC][r] = launches(spin, SYNC_LAUNCHES, true);
    }
    CK(d.free(dptr));
    for (int i = 0; i < NFIGS; i++)
        printf("%s %.6g\n", fig_names[i], bench_median(f[i], REPS));
    fflush(stdout);
    gvc_close(raw);
    free(host);
    free(back);
    return 0;
}

/* ------------------------------------------------------------------ the parent */

struct world {
    char self[4096];
    char build[4096];
    char remoted[4200], libcuda[4200], simdir[4200];
    char dir[32];
    char token[64], cert[64], key[64];
    char machine[64];
    const char *tls_skip; /* why TLS is not measured, or NULL */
};

/* A free TCP port on 127.0.0.1 (bound and released: the server binds it a moment later). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(sin.sin_port);
}

static bool file_has(const char *path, const char *text)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

static void print_file(const char *path)
{
    char line[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        fprintf(stderr, "  | %s", line);
    fclose(f);
}

static void stop_process(pid_t pid)
{
    kill(pid, SIGTERM);
    uint64_t t0 = bench_now_ns();
    while (waitpid(pid, NULL, WNOHANG) == 0) {
        if (bench_now_ns() - t0 > DEADLINE_NS) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        bench_sleep_ns(10000000);
    }
}

/* Start gpuvisor-remoted on a transport; its address in addr and its log in log. Returns its pid,
 * or -1 (the log says why). */
static pid_t start_server(const struct world *w, int kind, char *addr, size_t len, char *log,
                          size_t loglen)
{
    snprintf(log, loglen, "%s/remoted-%s.log", w->dir, kind_names[kind]);
    for (int attempt = 0; attempt < 3; attempt++) {
        if (kind == GVC_UNIX)
            snprintf(addr, len, "unix:%s/remoted.sock", w->dir);
        else
            snprintf(addr, len, "%s:127.0.0.1:%u", kind_names[kind], free_port());
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || dup2(fd, 2) < 0)
                _exit(127);
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (kind == GVC_TLS)
                execl(w->remoted, w->remoted, "--listen", addr, "--token-file", w->token,
                      "--memory", "1GiB", "--cert", w->cert, "--key", w->key, (char *)NULL);
            else
                execl(w->remoted, w->remoted, "--listen", addr, "--token-file", w->token,
                      "--memory", "1GiB", (char *)NULL);
            _exit(127);
        }
        uint64_t t0 = bench_now_ns();
        for (;;) {
            if (file_has(log, "listening on"))
                return pid;
            if (waitpid(pid, NULL, WNOHANG) == pid)
                break; /* a port taken meanwhile: try another */
            if (bench_now_ns() - t0 > DEADLINE_NS) {
                stop_process(pid);
                break;
            }
            bench_sleep_ns(5000000);
        }
    }
    return -1;
}

/* Run the client child for one transport; its figures in fig. Returns 0 or -1. */
static int run_kind(const struct world *w, int kind, double fig[NFIGS])
{
    char addr[256], log[256];
    pid_t srv = start_server(w, kind, addr, sizeof(addr), log, sizeof(log));
    if (srv < 0) {
        fprintf(stderr, "bench_remote: %s: gpuvisor-remoted did not start:\n", kind_names[kind]);
        print_file(log);
        return -1;
    }
    int p[2];
    if (pipe(p) != 0)
        die("pipe: %s", strerror(errno));
    char k[8];
    snprintf(k, sizeof(k), "%d", kind);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        setenv("GPUVISOR_REMOTE", addr, 1);
        setenv("GPUVISOR_REMOTE_TOKEN_FILE", w->token, 1);
        if (kind == GVC_TLS)
            setenv("GPUVISOR_REMOTE_CA", w->cert, 1);
        execl(w->self, w->self, "client", k, w->libcuda, w->dir, w->cert, w->key, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    FILE *f = fdopen(p[0], "r");
    char name[64];
    double v;
    int got = 0;
    for (int i = 0; i < NFIGS; i++)
        fig[i] = 0;
    while (f && fscanf(f, "%63s %lf", name, &v) == 2)
        for (int i = 0; i < NFIGS; i++)
            if (strcmp(name, fig_names[i]) == 0) {
                fig[i] = v;
                got++;
            }
    if (f)
        fclose(f);
    int st;
    waitpid(pid, &st, 0);
    stop_process(srv);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || got != NFIGS) {
        fprintf(stderr, "bench_remote: %s: the measuring client failed; the server's log:\n",
                kind_names[kind]);
        print_file(log);
        return -1;
    }
    return 0;
}

/* A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command. */
static const char *make_cert(struct world *w)
{
    if (!gvc_tls_available())
        return "this build has no TLS (OpenSSL was not found at build time)";
    if (system("command -v openssl >/dev/null 2>&1") != 0)
        return "no openssl command to make a certificate with";
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             "-keyout '%s' -out '%s' >'%s/openssl.log' 2>&1",
             w->key, w->cert, w->dir);
    if (system(cmd) != 0)
        return "the openssl command could not make a self-signed certificate";
    return NULL;
}

static void world_start(struct world *w, const char *build)
{
    ssize_t n = readlink("/proc/self/exe", w->self, sizeof(w->self) - 1);
    if (n <= 0 || !realpath(build, w->build))
        die("cannot find this program or the build directory %s", build);
    w->self[n] = '\0';
    snprintf(w->remoted, sizeof(w->remoted), "%s/bin/gpuvisor-remoted", w->build);
    snprintf(w->libcuda, sizeof(w->libcuda), "%s/lib/remote/libcuda.so.1", w->build);
    snprintf(w->simdir, sizeof(w->simdir), "%s/lib/sim", w->build);
    if (access(w->remoted, X_OK) != 0 || access(w->libcuda, R_OK) != 0)
        die("%s or %s is not built", w->remoted, w->libcuda);
    snprintf(w->dir, sizeof(w->dir), "/tmp/gvbremote.XXXXXX");
    if (!mkdtemp(w->dir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(w->token, sizeof(w->token), "%s/token", w->dir);
    snprintf(w->cert, sizeof(w->cert), "%s/cert.pem", w->dir);
    snprintf(w->key, sizeof(w->key), "%s/key.pem", w->dir);
    uint8_t raw[24];
    char hex[2 * sizeof(raw) + 1];
    if (!gva_random(raw, sizeof(raw)))
        die("no random bytes for a token");
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    FILE *f = fopen(w->token, "w");
    if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0)
        die("cannot write %s", w->token);
    char regions[64];
    snprintf(regions, sizeof(regions), "%s/regions", w->dir);
    mkdir(regions, 0700);
    snprintf(w->machine, sizeof(w->machine), "bench_remote-%d", (int)getpid());
    /* A machine and region directory of the bench's own; no limit, policy or remote setting of the
     * caller's leaks into a measurement. */
    setenv("GPUVISOR_SIM_MACHINE", w->machine, 1);
    setenv("GPUVISOR_SIM_GPUS", "T4", 1);
    setenv("GPUVISOR_REGION_DIR", regions, 1);
    const char *drop[] = {"GPUVISOR_INSTANCE",
                          "GPUVISOR_MEMORY",
                          "GPUVISOR_COMPUTE",
                          GV_POLICY_ENV,
                          GV_PRIORITY_ENV,
                          "GPUVISOR_REMOTE_TOKEN",
                          "GPUVISOR_REMOTE_INSTANCE",
                          "GPUVISOR_REMOTE_INSECURE",
                          "GPUVISOR_REMOTE_PING",
                          "GPUVISOR_REMOTE_CA",
                          "GPUVISOR_SIM_CONTEXT_MEMORY",
                          "LD_PRELOAD",
                          "GPUVISOR_DAEMON",
                          "GPUVISOR_REGION_FD"};
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        unsetenv(drop[i]);
    /* The server finds the simulated driver; the client loads its own by path. */
    const char *old = getenv("LD_LIBRARY_PATH");
    char *ld;
    if (asprintf(&ld, "%s%s%s", w->simdir, old && *old ? ":" : "", old ? old : "") < 0)
        die("out of memory");
    setenv("LD_LIBRARY_PATH", ld, 1);
    free(ld);
    w->tls_skip = make_cert(w);
}

static void world_end(const struct world *w)
{
    char path[128], cmd[128];
    snprintf(path, sizeof(path), "/dev/shm/gvsim.%s", w->machine);
    unlink(path);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_remote: cannot remove %s\n", w->dir);
}

/* A row of the table: one figure per transport, with `prec` decimals. */
static void row(const char *label, const double v[NKINDS], const bool ok[NKINDS], int prec)
{
    printf("  %-40s", label);
    for (int k = 0; k < NKINDS; k++) {
        if (ok[k])
            printf("%12.*f", prec, v[k]);
        else
            printf("%12s", "-");
    }
    printf("\n");
}

static void fig_row(const char *label, double fig[NKINDS][NFIGS], const bool ok[NKINDS], int i,
                    int prec)
{
    double v[NKINDS];
    for (int k = 0; k < NKINDS; k++)
        v[k] = fig[k][i];
    row(label, v, ok, prec);
}

static void ratio_row(const char *label, double fig[NKINDS][NFIGS], const bool ok[NKINDS], int a,
                      int b)
{
    double v[NKINDS];
    for (int k = 0; k < NKINDS; k++)
        v[k] = fig[k][b] > 0 ? fig[k][a] / fig[k][b] : 0;
    row(label, v, ok, 2);
}

static const char *verdict(bool pass)
{
    return pass ? "PASS" : "MISS";
}

int main(int argc, char **argv)
{
    if (argc == 7 && strcmp(argv[1], "client") == 0)
        return client(atoi(argv[2]), argv[3], argv[4], argv[5], argv[6]);
    if (argc != 2) {
        fprintf(stderr, "usage: bench_remote BUILD_DIR\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct world w;
    world_start(&w, argv[1]);

    double fig[NKINDS][NFIGS] = {{0}};
    bool ok[NKINDS] = {false};
    int failed = 0;
    for (int k = 0; k < NKINDS; k++) {
        if (k == GVC_TLS && w.tls_skip)
            continue;
        ok[k] = run_kind(&w, k, fig[k]) == 0;
        failed += !ok[k];
    }

    printf("Remoting through gpuvisor-remoted against raw sockets of the same kind, one host\n"
           "(simulated T4; medians of %d runs; GB/s are 10^9 bytes a second)\n",
           REPS);
    printf("  %-40s", "");
    for (int k = 0; k < NKINDS; k++)
        printf("%12s", kind_names[k]);
    printf("\n");
    fig_row("no-op call (cuDriverGetVersion), us", fig, ok, F_RTT, 1);
    fig_row("raw ping-pong 16/24 bytes, us", fig, ok, F_RTT_RAW, 1);
    ratio_row("  ratio", fig, ok, F_RTT, F_RTT_RAW);
    fig_row("no-op call, quickest tenth (p10), us", fig, ok, F_RTT_P10, 1);
    fig_row("raw ping-pong, quickest tenth (p10), us", fig, ok, F_RTT_RAW_P10, 1);
    ratio_row("  ratio", fig, ok, F_RTT_P10, F_RTT_RAW_P10);
    fig_row("cuMemcpyHtoD 256 MiB, GB/s", fig, ok, F_HTOD, 2);
    fig_row("raw stream 256 MiB to the peer, GB/s", fig, ok, F_HTOD_RAW, 2);
    ratio_row("  ratio", fig, ok, F_HTOD, F_HTOD_RAW);
    fig_row("cuMemcpyDtoH 256 MiB, GB/s", fig, ok, F_DTOH, 2);
    fig_row("raw stream 256 MiB from the peer, GB/s", fig, ok, F_DTOH_RAW, 2);
    ratio_row("  ratio", fig, ok, F_DTOH, F_DTOH_RAW);
    fig_row("memcpy 256 MiB in one process, GB/s", fig, ok, F_MEMCPY, 2);
    fig_row("launches pipelined, /s", fig, ok, F_PIPE, 0);
    fig_row("launches each synchronized, /s", fig, ok, F_SYNC, 0);
    ratio_row("  ratio", fig, ok, F_PIPE, F_SYNC);
    if (w.tls_skip)
        printf("  tls: skipped: %s\n", w.tls_skip);

    printf("Summary\n");
    for (int k = 0; k < NKINDS; k++) {
        if (!ok[k])
            continue;
        const double *f = fig[k];
        const char *n = kind_names[k];
        if (k == GVC_UNIX)
            printf("  %-4s no-op call %.1f us (target <= %.0f us): %s\n", n, f[F_RTT],
                   TARGET_RTT_US, verdict(f[F_RTT] <= TARGET_RTT_US));
        double r = f[F_RTT] / f[F_RTT_RAW];
        printf("  %-4s no-op call %.2fx the raw ping-pong (target <= %.0fx): %s\n", n, r,
               TARGET_RTT_RATIO, verdict(r <= TARGET_RTT_RATIO));
        r = f[F_HTOD] / f[F_HTOD_RAW];
        printf("  %-4s cuMemcpyHtoD at %.0f%% of the raw stream (target >= %.0f%%): %s\n", n,
               100 * r, 100 * TARGET_COPY_RATIO, verdict(r >= TARGET_COPY_RATIO));
        r = f[F_DTOH] / f[F_DTOH_RAW];
        printf("  %-4s cuMemcpyDtoH at %.0f%% of the raw stream (target >= %.0f%%): %s\n", n,
               100 * r, 100 * TARGET_COPY_RATIO, verdict(r >= TARGET_COPY_RATIO));
        r = f[F_PIPE] / f[F_SYNC];
        printf("  %-4s pipelined launches %.1fx synchronized ones (target >= %.0fx): %s\n", n, r,
               TARGET_LAUNCH_RATIO, verdict(r >= TARGET_LAUNCH_RATIO));
    }
    for (int k = 0; k < NKINDS; k++)
        if (!ok[k] && !(k == GVC_TLS && w.tls_skip))
            printf("  %-4s failed (see above)\n", kind_names[k]);
    fflush(stdout);
    world_end(&w);
    return failed ? 1 : 0;
}
