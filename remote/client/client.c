/* SPDX-License-Identifier: Apache-2.0 */
/* client.c: the connection of a remoting client (rc.h). */
#include "remote/client/rc.h"

#include "remote/auth.h"
#include "remote/conn.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Queued frames go out once they reach this many bytes, or once the first of them waited this
 * long; a call queued after the connection was idle that long goes out at once, so that the GPU
 * starts on it without waiting for the program's next call. */
#define QUEUE_FLUSH   (256u * 1024)
#define QUEUE_WAIT_NS (100u * 1000u)

static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;
static bool tried; /* connect_once ran (its answer is in state) */
static CUresult state = CUDA_ERROR_NO_DEVICE;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct gvc *conn;
static uint32_t max_frame;
static struct gvw_buf queue, frame, rbody;
static bool broken;
static uint64_t last_send_ns, queued_at_ns;
static pthread_cond_t wake;
static int ping_ms = 1000;

void rc_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "gpuvisor remote: %s\n", line);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The token: GPUVISOR_REMOTE_TOKEN, or the first line of GPUVISOR_REMOTE_TOKEN_FILE. */
static bool read_token(char *out, size_t max, char *err, size_t errlen)
{
    const char *t = getenv("GPUVISOR_REMOTE_TOKEN");
    if (t && *t) {
        if (strlen(t) >= max) {
            snprintf(err, errlen, "GPUVISOR_REMOTE_TOKEN is longer than %zu bytes", max - 1);
            return false;
        }
        strcpy(out, t);
        return true;
    }
    const char *path = getenv("GPUVISOR_REMOTE_TOKEN_FILE");
    if (!path || !*path) {
        snprintf(err, errlen, "no token: set GPUVISOR_REMOTE_TOKEN or GPUVISOR_REMOTE_TOKEN_FILE");
        return false;
    }
    return gva_token_read(path, out, max, err, errlen) == 0;
}

/* Write out what is queued (under mu). */
static void flush_queue(void)
{
    if (!queue.len || broken)
        return;
    if (gvc_write(conn, queue.p, queue.len) == 0) {
        queue.len = 0;
        last_send_ns = now_ns();
    } else {
        broken = true;
    }
}

static void wait_until(uint64_t due_ns)
{
    struct timespec ts = {(time_t)(due_ns / 1000000000ull), (long)(due_ns % 1000000000ull)};
    pthread_cond_timedwait(&wake, &mu, &ts);
}

/* The connection's own thread: it sends what was queued once it has waited QUEUE_WAIT_NS, and a
 * keepalive when nothing was sent for ping_ms. */
static void *worker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    while (!broken) {
        uint64_t now = now_ns();
        if (queue.len) {
            uint64_t due = queued_at_ns + QUEUE_WAIT_NS;
            if (now >= due)
                flush_queue();
            else
                wait_until(due);
            continue;
        }
        uint64_t due = last_send_ns + (uint64_t)ping_ms * 1000000ull;
        if (now < due) {
            wait_until(due);
            continue;
        }
        struct gvw_buf b = {0};
        gvw_begin(&b, GVW_OP_PING, GVW_F_NOREPLY, 0);
        if (gvw_end(&b, max_frame) && gvc_write(conn, b.p, b.len) == 0)
            last_send_ns = now_ns();
        else
            broken = true;
        gvw_buf_free(&b);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* At exit: push out what is queued and say goodbye, so the server ends the session at once. */
static void goodbye(void)
{
    if (pthread_mutex_trylock(&mu) != 0)
        return;
    if (conn && !broken) {
        struct gvw_buf b = {0};
        gvw_begin(&b, GVW_OP_GOODBYE, GVW_F_NOREPLY, 0);
        struct iovec iov[2] = {{queue.p, queue.len}, {b.p, b.len}};
        if (gvw_end(&b, max_frame))
            gvc_writev(conn, iov, 2);
        queue.len = 0;
        gvw_buf_free(&b);
    }
    pthread_mutex_unlock(&mu);
}

static void connect_once(void)
{
    char err[512], token[GVA_MAX_TOKEN + 1];
    const char *where = getenv("GPUVISOR_REMOTE");
    struct gvc_addr addr;
    if (!where || !*where) {
        rc_log("GPUVISOR_REMOTE is not set: no server to send CUDA calls to");
        return;
    }
    if (gvc_parse(where, &addr, err, sizeof(err)) != 0) {
        rc_log("GPUVISOR_REMOTE: %s", err);
        return;
    }
    if (!read_token(token, sizeof(token), err, sizeof(err))) {
        rc_log("%s", err);
        return;
    }
    const char *ping = getenv("GPUVISOR_REMOTE_PING");
    if (ping && *ping) {
        char *end;
        double d = strtod(ping, &end);
        if (*end || !(d >= 0.01) || d > 3600)
            rc_log("GPUVISOR_REMOTE_PING '%s' is not seconds from 0.01 to 3600: 1 second", ping);
        else
            ping_ms = (int)(d * 1000);
    }
    struct gvc_tls *tls = NULL;
    if (addr.kind == GVC_TLS) {
        const char *insecure = getenv("GPUVISOR_REMOTE_INSECURE");
        struct gvc_tls_opts o = {.ca = getenv("GPUVISOR_REMOTE_CA"),
                                 .insecure = insecure && strcmp(insecure, "1") == 0};
        tls = gvc_tls_new(false, &o, err, sizeof(err));
        if (!tls) {
            rc_log("%s: %s", where, err);
            explicit_bzero(token, sizeof(token));
            return;
        }
    }
    struct gvc *c = gvc_connect(&addr, tls, err, sizeof(err));
    gvc_tls_free(tls); /* the connection keeps its own reference */
    if (!c) {
        rc_log("cannot reach the server: %s", err);
        explicit_bzero(token, sizeof(token));
        return;
    }
    char name[64];
    const char *who = getenv("GPUVISOR_REMOTE_INSTANCE");
    int rc = gva_client(c, token, strlen(token), who ? who : "", 10000, &max_frame, name,
                        sizeof(name), err, sizeof(err));
    explicit_bzero(token, sizeof(token));
    if (rc != 0) {
        rc_log("%s: %s", where, err);
        gvc_close(c);
        return;
    }
    conn = c;
    last_send_ns = now_ns();
    state = CUDA_SUCCESS;
    static bool at_exit;
    if (!at_exit) {
        atexit(goodbye);
        at_exit = true;
    }
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t, &at, worker, NULL) != 0)
        rc_log("cannot start the connection's thread: the server may end an idle session, and "
               "calls without a reply wait for the next call with one");
    pthread_attr_destroy(&at);
}

CUresult rc_connect(void)
{
    if (!__atomic_load_n(&tried, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&conn_mu);
        if (!tried) {
            connect_once();
            __atomic_store_n(&tried, true, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&conn_mu);
    }
    return state;
}

CUresult rc_begin_ctx(struct rc_call *c, unsigned op, uint64_t ctx)
{
    CUresult r = rc_connect();
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&mu);
    if (broken) {
        pthread_mutex_unlock(&mu);
        return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    c->op = op;
    c->b = &frame;
    c->r.count = 0;
    gvw_begin(&frame, op, 0, ctx);
    return CUDA_SUCCESS;
}

CUresult rc_begin(struct rc_call *c, unsigned op)
{
    return rc_begin_ctx(c, op, rc_ctx_current());
}

static CUresult fail(const char *what)
{
    if (!broken)
        rc_log("the connection to the server broke (%s): %s", what,
               errno ? strerror(errno) : "closed");
    broken = true;
    return CUDA_ERROR_DEVICE_UNAVAILABLE;
}

/* Send the queue, the frame and optional bulk in one go. */
static CUresult send_all(struct rc_call *c, const void *bulk, uint64_t n)
{
    if (!gvw_end(c->b, max_frame)) {
        /* A call too big for one frame is the caller's error, not the connection's. */
        return CUDA_ERROR_INVALID_VALUE;
    }
    struct iovec iov[3] = {{queue.p, queue.len}, {c->b->p, c->b->len}, {(void *)bulk, (size_t)n}};
    if (gvc_writev(conn, iov, bulk && n ? 3 : 2) != 0)
        return fail("send");
    queue.len = 0;
    last_send_ns = now_ns();
    return CUDA_SUCCESS;
}

static CUresult read_reply(struct rc_call *c)
{
    struct gvw_hdr h;
    errno = 0;
    /* Most answers come within microseconds: look for one for a while before sleeping, since a
     * sleep's wake-up costs more than the call. */
    gvc_wait_spin(conn, GVC_SPIN_NS, -1);
    int r = gvc_read_frame(conn, &h, &rbody, max_frame > (1u << 20) ? max_frame : (1u << 20));
    if (r != 0)
        return fail("receive");
    if (h.op != (c->op | GVW_REPLY)) {
        errno = EPROTO;
        return fail("a reply to another call");
    }
    struct gvw_args a;
    if (!gvw_decode("i", rbody.p, rbody.len < 4 ? rbody.len : 4, &a)) {
        errno = EPROTO;
        return fail("a reply without a result");
    }
    CUresult res = (CUresult)a.v[0];
    if (!gvw_decode(res == CUDA_SUCCESS ? gvw_op_reply(c->op) : "i", rbody.p, rbody.len, &c->r)) {
        errno = EPROTO;
        return fail("a malformed reply");
    }
    return res;
}

CUresult rc_wait(struct rc_call *c)
{
    CUresult r = send_all(c, NULL, 0);
    if (r != CUDA_SUCCESS)
        return r;
    return read_reply(c);
}

CUresult rc_post(struct rc_call *c)
{
    c->b->p[6] |= (uint8_t)GVW_F_NOREPLY;
    if (!gvw_end(c->b, max_frame))
        return CUDA_ERROR_INVALID_VALUE;
    bool was_empty = queue.len == 0;
    gvw_put_raw(&queue, c->b->p, c->b->len);
    if (queue.oom) {
        gvw_buf_reset(&queue);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    uint64_t now = now_ns();
    if (queue.len >= QUEUE_FLUSH || (was_empty && now - last_send_ns >= QUEUE_WAIT_NS)) {
        if (gvc_write(conn, queue.p, queue.len) != 0)
            return fail("send");
        queue.len = 0;
        last_send_ns = now_ns();
    } else if (was_empty) {
        queued_at_ns = now;
        pthread_cond_signal(&wake);
    }
    return CUDA_SUCCESS;
}

CUresult rc_send_bulk(struct rc_call *c, const void *p, uint64_t n, bool wait)
{
    if (!wait)
        c->b->p[6] |= (uint8_t)GVW_F_NOREPLY;
    CUresult r = send_all(c, p, n);
    if (r != CUDA_SUCCESS || !wait)
        return r;
    return read_reply(c);
}

CUresult rc_wait_bulk(struct rc_call *c, void *p, uint64_t n)
{
    CUresult r = rc_wait(c);
    if (r != CUDA_SUCCESS || n == 0)
        return r;
    if (gvc_read(conn, p, (size_t)n) != 0)
        return fail("receive");
    return CUDA_SUCCESS;
}

CUresult rc_end(struct rc_call *c, CUresult r)
{
    (void)c;
    pthread_mutex_unlock(&mu);
    return r;
}

/* ---- contexts ---- */

#define STACK_MAX 64
static __thread uint64_t stack[STACK_MAX];
static __thread int depth;

static pthread_mutex_t known_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *known;
static size_t nknown, capknown;

uint64_t rc_ctx_current(void)
{
    return depth ? stack[depth - 1] : 0;
}

void rc_ctx_set(uint64_t ctx)
{
    if (depth == 0) {
        if (ctx)
            stack[depth++] = ctx;
    } else if (ctx) {
        stack[depth - 1] = ctx;
    } else {
        depth--;
    }
}

bool rc_ctx_push(uint64_t ctx)
{
    if (depth == STACK_MAX)
        return false;
    stack[depth++] = ctx;
    return true;
}

uint64_t rc_ctx_pop(void)
{
    return depth ? stack[--depth] : 0;
}

void rc_ctx_known(uint64_t ctx)
{
    pthread_mutex_lock(&known_mu);
    for (size_t i = 0; i < nknown; i++)
        if (known[i] == ctx) {
            pthread_mutex_unlock(&known_mu);
            return;
        }
    if (nknown == capknown) {
        size_t cap = capknown ? capknown * 2 : 16;
        uint64_t *k = realloc(known, cap * sizeof(*k));
        if (!k) {
            pthread_mutex_unlock(&known_mu);
            return;
        }
        known = k;
        capknown = cap;
    }
    known[nknown++] = ctx;
    pthread_mutex_unlock(&known_mu);
}

bool rc_ctx_is_known(uint64_t ctx)
{
    bool found = false;
    pthread_mutex_lock(&known_mu);
    for (size_t i = 0; i < nknown && !found; i++)
        found = known[i] == ctx;
    pthread_mutex_unlock(&known_mu);
    return found;
}

void rc_ctx_forget(uint64_t ctx)
{
    pthread_mutex_lock(&known_mu);
    for (size_t i = 0; i < nknown; i++)
        if (known[i] == ctx) {
            known[i] = known[--nknown];
            break;
        }
    pthread_mutex_unlock(&known_mu);
    if (depth && stack[depth - 1] == ctx)
        depth--;
}

/* A child of fork() must not speak on its parent's session: it forgets the connection (without
 * a word on it: the socket is its parent's too) and makes its own on its next call, as a new
 * session. What the parent's session held is not the child's: the client's libraries forget it
 * as well (their own fork handlers), so the child starts from cuInit like a new process. */
static void after_fork_child(void)
{
    pthread_mutex_init(&mu, NULL);
    pthread_mutex_init(&conn_mu, NULL);
    if (conn) {
        close(conn->fd); /* the TLS state is left as it is: ending it would write to the socket */
        conn->fd = -1;
        conn = NULL;
    }
    broken = false;
    queue.len = 0;
    state = CUDA_ERROR_NO_DEVICE;
    __atomic_store_n(&tried, false, __ATOMIC_RELEASE);
    pthread_mutex_init(&known_mu, NULL);
    nknown = 0;
    depth = 0;
}

__attribute__((constructor)) static void fork_safe(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}
