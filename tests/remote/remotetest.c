/* SPDX-License-Identifier: Apache-2.0 */
/* remotetest.c: the server and the raw client behind remotetest.h. */
#include "remotetest.h"

#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RT_REMOTED
#error "RT_REMOTED must name the gpuvisor-remoted program"
#endif
#ifndef RT_SIM_LIB
#error "RT_SIM_LIB must name the simulated driver's directory"
#endif

/* How long a server may take to start listening on a loaded machine. */
#define START_MS 20000
/* How long it may take to stop after SIGTERM before it is killed. */
#define STOP_MS 5000
/* How long a reply may take (the test fails rather than hangs). */
#define REPLY_MS 30000
/* Polling period of the waits. */
#define POLL_MS 10

uint64_t rt_now_ms(void)
{
    return gv_now_ns() / 1000000u;
}

void (*rt_idle)(void);

static void nap(void)
{
    if (rt_idle)
        rt_idle();
    struct timespec ts = {0, POLL_MS * 1000000L};
    nanosleep(&ts, NULL);
}

/* A free TCP port on 127.0.0.1 (bound, read, released: the server binds it right after). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_all(struct rt_server *s)
{
    if (s->dir[0])
        nftw(s->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (s->machine[0]) {
        char shm[128];
        snprintf(shm, sizeof(shm), "/dev/shm/gvsim.%s", s->machine);
        unlink(shm);
    }
    s->dir[0] = s->machine[0] = '\0';
}

static bool reap(struct rt_server *s, int timeout_ms)
{
    uint64_t end = rt_now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        pid_t r = waitpid(s->pid, NULL, WNOHANG);
        if (r == s->pid || (r < 0 && errno == ECHILD))
            return true;
        if (rt_now_ms() >= end)
            return false;
        nap();
    }
}

/* The server's process: its stderr to the log, its environment, exec. */
static void exec_server(const struct rt_server *s, const struct rt_opts *o, const char *tokfile,
                        const char *region)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0 || nul < 0 || dup2(fd, 2) < 0 || dup2(nul, 1) < 0 || dup2(nul, 0) < 0)
        _exit(127);
    setenv("GPUVISOR_SIM_MACHINE", s->machine, 1);
    setenv("GPUVISOR_SIM_GPUS", o->gpus ? o->gpus : "T4", 1);
    setenv("GPUVISOR_REGION_DIR", region, 1);
    setenv("LD_LIBRARY_PATH", RT_SIM_LIB, 1);
    unsetenv("LD_PRELOAD");
    const char *argv[24];
    int n = 0;
    argv[n++] = RT_REMOTED;
    argv[n++] = "--listen";
    argv[n++] = s->addr;
    argv[n++] = "--token-file";
    argv[n++] = tokfile;
    if (o->memory) {
        argv[n++] = "--memory";
        argv[n++] = o->memory;
    }
    if (o->compute) {
        argv[n++] = "--compute";
        argv[n++] = o->compute;
    }
    if (o->policy) {
        argv[n++] = "--compute-policy";
        argv[n++] = o->policy;
    }
    if (o->keepalive) {
        argv[n++] = "--keepalive";
        argv[n++] = o->keepalive;
    }
    if (o->max_frame) {
        argv[n++] = "--max-frame";
        argv[n++] = o->max_frame;
    }
    argv[n] = NULL;
    execv(RT_REMOTED, (char *const *)argv);
    fprintf(stderr, "remotetest: exec %s: %s\n", RT_REMOTED, strerror(errno));
    _exit(127);
}

int rt_start(struct rt_server *s, const struct rt_opts *o)
{
    static unsigned seq;
    static const struct rt_opts none;
    if (!o)
        o = &none;
    memset(s, 0, sizeof(*s));
    s->pid = -1;
    snprintf(s->dir, sizeof(s->dir), "/tmp/gvrt.XXXXXX");
    if (!mkdtemp(s->dir)) {
        fprintf(stderr, "remotetest: mkdtemp: %s\n", strerror(errno));
        s->dir[0] = '\0';
        return -1;
    }
    snprintf(s->machine, sizeof(s->machine), "rt-%d-%u", (int)getpid(), ++seq);
    snprintf(s->log, sizeof(s->log), "%s/server.log", s->dir);
    char tokfile[96], region[96];
    snprintf(tokfile, sizeof(tokfile), "%s/token", s->dir);
    snprintf(region, sizeof(region), "%s/region", s->dir);
    uint8_t rnd[16];
    if (!gva_random(rnd, sizeof(rnd)))
        goto fail;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(s->token + 2 * i, 3, "%02x", rnd[i]);
    FILE *f = fopen(tokfile, "we");
    bool written = f && fprintf(f, "# tokens of a test server\n%s\n", s->token) > 0;
    if (!f || fclose(f) != 0 || !written) {
        fprintf(stderr, "remotetest: cannot write %s\n", tokfile);
        goto fail;
    }
    if (mkdir(region, 0700) != 0)
        goto fail;
    if (o->tcp) {
        int port = free_port();
        if (port < 0)
            goto fail;
        snprintf(s->addr, sizeof(s->addr), "tcp:127.0.0.1:%d", port);
    } else {
        snprintf(s->addr, sizeof(s->addr), "unix:%s/sock", s->dir);
    }
    s->pid = fork();
    if (s->pid < 0)
        goto fail;
    if (s->pid == 0)
        exec_server(s, o, tokfile, region);
    uint64_t end = rt_now_ms() + START_MS;
    while (rt_log_count(s, "gpuvisor-remoted: listening on", NULL) == 0) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = -1;
            fprintf(stderr, "remotetest: the server exited before it listened\n");
            goto fail;
        }
        if (rt_now_ms() >= end) {
            fprintf(stderr, "remotetest: the server did not listen within %d ms\n", START_MS);
            goto fail;
        }
        nap();
    }
    return 0;
fail:
    rt_log_dump(s);
    rt_stop(s);
    return -1;
}

void rt_stop(struct rt_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        if (!reap(s, STOP_MS)) {
            fprintf(stderr, "remotetest: the server did not stop within %d ms: killed\n", STOP_MS);
            kill(s->pid, SIGKILL);
            reap(s, STOP_MS);
        }
    }
    s->pid = -1;
    remove_all(s);
}

bool rt_alive(const struct rt_server *s)
{
    return s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

int rt_log_count(const struct rt_server *s, const char *a, const char *b)
{
    FILE *f = fopen(s->log, "re");
    if (!f)
        return 0;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, a) && (!b || strstr(line, b)))
            n++;
    fclose(f);
    return n;
}

bool rt_log_wait(const struct rt_server *s, const char *a, const char *b, int count, int timeout_ms)
{
    uint64_t end = rt_now_ms() + (uint64_t)timeout_ms;
    while (rt_log_count(s, a, b) < count) {
        if (rt_now_ms() >= end)
            return false;
        nap();
    }
    return true;
}

void rt_log_dump(const struct rt_server *s)
{
    FILE *f = s->log[0] ? fopen(s->log, "re") : NULL;
    if (!f)
        return;
    char line[1024];
    fprintf(stderr, "---- %s\n", s->log);
    while (fgets(line, sizeof(line), f))
        fputs(line, stderr);
    fprintf(stderr, "----\n");
    fclose(f);
}

struct gvc *rt_dial(const struct rt_server *s)
{
    struct gvc_addr a;
    char err[256];
    if (gvc_parse(s->addr, &a, err, sizeof(err)) != 0) {
        fprintf(stderr, "remotetest: %s\n", err);
        return NULL;
    }
    struct gvc *c = gvc_connect(&a, NULL, err, sizeof(err));
    if (!c)
        fprintf(stderr, "remotetest: connect: %s\n", err);
    return c;
}

int rt_connect(struct rt_client *c, const struct rt_server *s, const char *token, char *err,
               size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->c = rt_dial(s);
    if (!c->c) {
        snprintf(err, errlen, "cannot connect to %s", s->addr);
        return -1;
    }
    if (gva_client(c->c, token, strlen(token), "", REPLY_MS, &c->max_frame, c->name,
                   sizeof(c->name), err, errlen) != 0) {
        rt_close(c);
        return -1;
    }
    return 0;
}

void rt_close(struct rt_client *c)
{
    gvc_close(c->c);
    c->c = NULL;
    gvw_buf_free(&c->out);
    gvw_buf_free(&c->in);
}

static void build(struct rt_client *c, unsigned op, unsigned flags, const char *fields, va_list ap)
{
    gvw_begin(&c->out, op, flags, c->ctx);
    for (const char *f = fields; *f; f++) {
        switch (*f) {
        case 'i':
            gvw_put_u32(&c->out, va_arg(ap, unsigned));
            break;
        case 'q':
            gvw_put_u64(&c->out, va_arg(ap, uint64_t));
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            gvw_put_bytes(&c->out, p, n);
            break;
        }
        case 's': {
            const char *t = va_arg(ap, const char *);
            gvw_put_bytes(&c->out, t, strlen(t));
            break;
        }
        default:
            abort();
        }
    }
}

static int send_built(struct rt_client *c)
{
    /* No limit here: frames over the server's limit are what some tests send. */
    if (!c->c || !gvw_end(&c->out, UINT32_MAX))
        return -1;
    return gvc_write(c->c, c->out.p, c->out.len);
}

int rt_send(struct rt_client *c, unsigned op, unsigned flags, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    build(c, op, flags, fields, ap);
    va_end(ap);
    return send_built(c);
}

int rt_send_raw(struct rt_client *c, const void *p, size_t n)
{
    return c->c ? gvc_write(c->c, p, n) : -1;
}

long rt_reply(struct rt_client *c, unsigned op)
{
    struct gvw_hdr h;
    if (!c->c || gvc_wait(c->c, REPLY_MS) <= 0 ||
        gvc_read_frame(c->c, &h, &c->in, GVW_MAX_FRAME_DEFAULT) != 0)
        return -1;
    if (h.op != (op | GVW_REPLY) || c->in.len < 4)
        return -1;
    uint32_t result = (uint32_t)c->in.p[0] | (uint32_t)c->in.p[1] << 8 |
                      (uint32_t)c->in.p[2] << 16 | (uint32_t)c->in.p[3] << 24;
    const char *fields = result == 0 ? gvw_op_reply(op) : "i";
    if (!gvw_decode(fields, c->in.p, c->in.len, &c->reply))
        return -1;
    return (long)result;
}

long rt_call(struct rt_client *c, unsigned op, const char *fields, ...)
{
    va_list ap;
    va_start(ap, fields);
    build(c, op, 0, fields, ap);
    va_end(ap);
    if (send_built(c) != 0)
        return -1;
    return rt_reply(c, op);
}

bool rt_ended(struct rt_client *c, int timeout_ms)
{
    uint64_t end = rt_now_ms() + (uint64_t)timeout_ms;
    uint8_t sink[4096];
    if (!c->c)
        return true;
    /* What the client's buffer still holds is not the end. */
    c->c->rpos = c->c->rlen = 0;
    for (;;) {
        uint64_t now = rt_now_ms();
        if (now >= end)
            return false;
        int w = gvc_wait(c->c, POLL_MS);
        if (w < 0)
            return false;
        if (w == 0) {
            if (rt_idle)
                rt_idle();
            continue;
        }
        ssize_t r = recv(c->c->fd, sink, sizeof(sink), 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
            return true;
    }
}

long rt_setup(struct rt_client *c)
{
    long r = rt_call(c, GVW_OP_INIT, "iis", 0u, 0u, "");
    if (r != 0)
        return r;
    r = rt_call(c, GVW_OP_CTX_CREATE, "iib", 0u, 0u, "", (size_t)0);
    if (r != 0)
        return r;
    c->ctx = c->reply.v[1];
    return 0;
}

long rt_htod(struct rt_client *c, uint64_t dst, const void *p, size_t n)
{
    if (rt_send(c, GVW_OP_COPY_HTOD, 0, "qqiq", dst, (uint64_t)n, 0u, (uint64_t)0) != 0 ||
        rt_send_raw(c, p, n) != 0)
        return -1;
    return rt_reply(c, GVW_OP_COPY_HTOD);
}

long rt_dtoh(struct rt_client *c, uint64_t src, void *p, size_t n)
{
    if (rt_send(c, GVW_OP_COPY_DTOH, 0, "qqiq", src, (uint64_t)n, 0u, (uint64_t)0) != 0)
        return -1;
    long r = rt_reply(c, GVW_OP_COPY_DTOH);
    if (r == 0 && n && gvc_read(c->c, p, n) != 0)
        return -1;
    return r;
}

bool rt_round(struct rt_client *c, size_t n)
{
    uint8_t *in = malloc(n), *back = malloc(n);
    bool ok = false;
    uint64_t p = 0;
    if (!in || !back)
        goto out;
    for (size_t i = 0; i < n; i++)
        in[i] = (uint8_t)(i * 7 + n);
    if (rt_call(c, GVW_OP_MEM_ALLOC, "q", (uint64_t)n) != 0)
        goto out;
    p = c->reply.v[1];
    ok = rt_htod(c, p, in, n) == 0 && rt_dtoh(c, p, back, n) == 0 && memcmp(in, back, n) == 0;
    if (rt_call(c, GVW_OP_MEM_FREE, "q", p) != 0)
        ok = false;
out:
    if (!ok)
        fprintf(stderr, "remotetest: a well-behaved round of %zu bytes failed on session %s\n", n,
                c->name);
    free(in);
    free(back);
    return ok;
}
