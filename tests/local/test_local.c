/* SPDX-License-Identifier: Apache-2.0 */
/* test_local.c: the local socket (daemon/local.c) and its clients (region/daemon.c, the token in
 * gpuvisord's mode in region/sched.c), against the stand-in daemon of testd.h.
 *
 * Joining over the socket hands over a region that charges as one opened by path; a descriptor
 * that is not a region is refused. A connection that does not start with the magic goes to HTTP
 * whole, even when its first byte could begin the magic. Every malformed request closes its
 * connection after saying why; a connection that says nothing is closed after the first-request
 * deadline, and a user's connections are capped: one over the cap is told so. The token: taken,
 * renewed and released through the daemon, which keeps the instance's GPU time itself and refuses
 * a take or a renewal while it is spent, and a renewal while another instance waits; a deleted
 * instance's turns are refused for good. A daemon killed while a process holds the token: the
 * process finds it lost, and takes it from the next daemon, which reset the record in place. A take
 * or a renewal is granted at most the GPU's time slice, as the daemon core last set it; a holder
 * keeps what it was granted. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/timeslice.h"
#include "daemon/local.h"
#include "region/daemon.h"
#include "region/region.h"
#include "region/sched.h"
#include "testd.h"

#define MiB     (1024ULL * 1024)
#define GiB     (1024 * MiB)
#define USER_A  64101
#define ID_A    "a1a1a1a1a1a1"
#define ID_B    "b2b2b2b2b2b2"
#define ID_GONE "c3c3c3c3c3c3"

static struct td t;
static const uint8_t gpu0[16] = {0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static const uint8_t gpu1[16] = {0x61, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static int setup(void **state)
{
    (void)state;
    if (td_init(&t) < 0 || td_add(&t, ID_A, "alpha", USER_A, gpu0, GiB, 5000) < 0 ||
        td_add(&t, ID_B, "beta", USER_A, gpu0, GiB, 1000) < 0 ||
        td_add(&t, ID_GONE, "", USER_A, gpu1, GiB, 2500) < 0 || td_start(&t) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    td_fini(&t);
    return 0;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* A plain connection to the socket, nothing sent. */
static int raw_connect(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", t.sock);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c >= 0);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    return c;
}

/* Wait (bounded) until the daemon closes c: true when it did within ms. */
static bool closed_within(int c, unsigned ms)
{
    uint64_t end = gv_now_ns() + (uint64_t)ms * 1000000ULL;
    char buf[512];
    while (gv_now_ns() < end) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 50) > 0) {
            ssize_t n = recv(c, buf, sizeof(buf), MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno == ECONNRESET))
                return true;
        }
    }
    return false;
}

static void test_join_and_charge(void **state)
{
    (void)state;
    int fd;
    struct gv_error err = {0};
    assert_int_equal(gvr_daemon_join(t.sock, ID_A, &fd, &err), 0);
    struct gvr_region r, check;
    assert_int_equal(gvr_open_fd(&r, fd, 0, &err), 0);
    close(fd); /* the handle keeps its own */
    assert_string_equal(r.name, ID_A);
    assert_int_equal(gvr_join(&r, &err), 0);
    assert_int_equal(gvr_charge(&r, 0, 100 * MiB), 0);
    assert_int_equal(gvr_charge(&r, 0, GiB), -ENOMEM);
    assert_int_equal(gvr_open(&check, t.instances, ID_A, GVR_READONLY, NULL, 0, NULL), 0);
    assert_int_equal(gvr_used(&check, 0), 100 * MiB);
    gvr_close(&r);
    assert_int_equal(gvr_used(&check, 0), 0);
    gvr_close(&check);

    /* By name, as the caller's tenant's. */
    assert_int_equal(gvr_daemon_join(t.sock, "alpha", &fd, &err), 0);
    assert_int_equal(gvr_open_fd(&r, fd, GVR_READONLY, &err), 0);
    assert_string_equal(r.name, ID_A);
    gvr_close(&r);
    close(fd);

    assert_int_equal(gvr_daemon_join(t.sock, "nosuch", &fd, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "nosuch"));
    assert_int_equal(gvr_daemon_join(t.sock, "../etc", &fd, &err), -EINVAL);
    char nowhere[160];
    snprintf(nowhere, sizeof(nowhere), "%s/none.sock", t.run);
    assert_int_equal(gvr_daemon_join(nowhere, ID_A, &fd, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "no gpuvisord"));
}

static void test_open_fd_checks(void **state)
{
    (void)state;
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open_fd(&r, -1, 0, &err), -EBADF);
    int null = open("/dev/null", O_RDWR);
    assert_int_equal(gvr_open_fd(&r, null, 0, &err), -EPROTO);
    close(null);
    char path[160];
    snprintf(path, sizeof(path), "%s/junk", t.dir);
    int junk = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(write(junk, "not a region at all, not at all, not at all", 44) == 44);
    assert_int_equal(gvr_open_fd(&r, junk, 0, &err), -EPROTO);
    close(junk);
    /* A read-only descriptor maps read-only only. */
    snprintf(path, sizeof(path), "%s/%s", t.instances, ID_A);
    int ro = open(path, O_RDONLY);
    assert_int_equal(gvr_open_fd(&r, ro, 0, &err), -EROFS);
    assert_int_equal(gvr_open_fd(&r, ro, GVR_READONLY, &err), 0);
    assert_int_equal(gvr_limit(&r, 0), GiB);
    gvr_close(&r);
    close(ro);
    assert_int_equal(gvr_open_fd(&r, 0, GVR_CREATE, &err), -EINVAL);
}

static void expect_http(int c)
{
    char buf[128] = {0};
    size_t got = 0;
    uint64_t end = gv_now_ns() + 5 * GV_NS_PER_S;
    while (got < 12 && gv_now_ns() < end) {
        struct pollfd p = {.fd = c, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(c, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    assert_true(got >= 12);
    assert_memory_equal(buf, "HTTP/1.0 200", 12);
}

static void test_http_handoff(void **state)
{
    (void)state;
    unsigned before = atomic_load(&t.sh->http);
    int c = raw_connect();
    static const char get[] = "GET /healthz HTTP/1.0\r\n\r\n";
    assert_int_equal(send(c, get, sizeof(get) - 1, 0), (ssize_t)sizeof(get) - 1);
    expect_http(c);
    close(c);
    /* "G" could begin the magic: the daemon waits for the next byte, and hands over all of it. */
    c = raw_connect();
    assert_int_equal(send(c, "G", 1, 0), 1);
    nap_ms(100);
    assert_int_equal(send(c, get + 1, sizeof(get) - 2, 0), (ssize_t)sizeof(get) - 2);
    expect_http(c);
    close(c);
    assert_int_equal(atomic_load(&t.sh->http), before + 2);
}

/* Send q raw after the magic: the daemon answers -EPROTO and closes. */
static void expect_refused(const struct gvr_dreq *q, bool hello_first)
{
    struct gv_error err = {0};
    int c = gvr_daemon_connect(t.sock, &err);
    assert_true(c >= 0);
    struct gvr_drep p;
    int fd;
    if (hello_first) {
        struct gvr_dreq h = {.op = GVR_DOP_HELLO};
        memcpy(h.uuid, gpu0, 16);
        strcpy(h.key, ID_A);
        assert_int_equal(gvr_daemon_call(c, &h, &p, &fd, GV_NS_PER_S, &err), 0);
        assert_int_equal(p.status, 0);
        assert_true(fd >= 0);
        close(fd);
    }
    assert_int_equal(gvr_daemon_call(c, q, &p, NULL, GV_NS_PER_S, &err), 0);
    assert_int_equal(p.status, -EPROTO);
    assert_true(p.msg[0] != 0);
    assert_true(closed_within(c, 2000));
    close(c);
}

static void test_bad_requests(void **state)
{
    (void)state;
    struct gvr_dreq q;
    memset(&q, 0, sizeof(q));
    q.op = 99;
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_JOIN;
    memset(q.key, 'a', sizeof(q.key)); /* not terminated */
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_JOIN;
    strcpy(q.key, ID_A);
    q.key[20] = 'x'; /* after the terminator */
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_JOIN;
    strcpy(q.key, "a/b");
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_JOIN;
    strcpy(q.key, ID_A);
    q.until = 1; /* a field JOIN does not use */
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_TAKE;
    q.flags = 0x80;
    expect_refused(&q, true);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_TAKE; /* before HELLO */
    expect_refused(&q, false);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_HELLO; /* a second HELLO */
    strcpy(q.key, ID_A);
    expect_refused(&q, true);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_RELEASE;
    q.uuid[3] = 1;
    expect_refused(&q, true);

    /* A request in pieces is one request. */
    struct gv_error err = {0};
    int c = gvr_daemon_connect(t.sock, &err);
    memset(&q, 0, sizeof(q));
    q.op = GVR_DOP_JOIN;
    strcpy(q.key, ID_A);
    assert_int_equal(send(c, &q, 10, 0), 10);
    nap_ms(50);
    assert_int_equal(send(c, (char *)&q + 10, sizeof(q) - 10, 0), (ssize_t)sizeof(q) - 10);
    struct gvr_drep p;
    size_t got = 0;
    while (got < sizeof(p)) {
        struct pollfd pf = {.fd = c, .events = POLLIN};
        assert_true(poll(&pf, 1, 5000) > 0);
        ssize_t n = recv(c, (char *)&p + got, sizeof(p) - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_int_equal(p.status, 0);
    assert_string_equal(p.id, ID_A);
    close(c);
    /* The daemon is still there. */
    int fd;
    assert_int_equal(gvr_daemon_join(t.sock, ID_A, &fd, &err), 0);
    close(fd);
}

static void test_silent_closed(void **state)
{
    (void)state;
    int quiet = raw_connect();
    int magic_only = raw_connect();
    assert_int_equal(send(magic_only, GVR_DAEMON_MAGIC, GVR_DAEMON_MAGIC_LEN, 0),
                     GVR_DAEMON_MAGIC_LEN);
    /* Others are served meanwhile. */
    int fd;
    struct gv_error err = {0};
    uint64_t t0 = gv_now_ns();
    assert_int_equal(gvr_daemon_join(t.sock, ID_A, &fd, &err), 0);
    close(fd);
    assert_true(gv_now_ns() - t0 < 2 * GV_NS_PER_S);
    unsigned limit_ms = (unsigned)(GVD_LOCAL_FIRST_NS / 1000000) + 3000;
    assert_true(closed_within(quiet, limit_ms));
    assert_true(closed_within(magic_only, 2000));
    close(quiet);
    close(magic_only);
}

/* Read the daemon's refusal of connection c, which it sends before any request: 0 when one came
 * within 5 s and says -EUSERS and why. */
static int read_refusal(int c)
{
    struct gvr_drep p;
    size_t got = 0;
    uint64_t end = gv_now_ns() + 5 * GV_NS_PER_S;
    while (got < sizeof(p) && gv_now_ns() < end) {
        struct pollfd pf = {.fd = c, .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0)
            continue;
        ssize_t n = recv(c, (char *)&p + got, sizeof(p) - got, MSG_DONTWAIT);
        if (n <= 0)
            return 1;
        got += (size_t)n;
    }
    return got == sizeof(p) && p.op == GVR_DOP_NONE && p.status == -EUSERS &&
                   strstr(p.msg, "connections")
               ? 0
               : 1;
}

/* As another user: GVD_LOCAL_MAX_PER_UID connections stay (each past its HELLO, so that neither
 * the first-request deadline nor the order of accepts plays a part), the next ones are refused
 * with -EUSERS and a message, however far the client got before the daemon closed them: a join
 * fails with the refusal, and a connection that says nothing reads it. */
static int many_connections(void)
{
    static int c[GVD_LOCAL_MAX_PER_UID];
    struct gv_error err = {0};
    for (int i = 0; i < GVD_LOCAL_MAX_PER_UID; i++) {
        if ((c[i] = gvr_daemon_connect(t.sock, &err)) < 0)
            return 1;
        struct gvr_dreq h = {.op = GVR_DOP_HELLO};
        memcpy(h.uuid, gpu0, 16);
        strcpy(h.key, ID_A);
        struct gvr_drep p;
        int fd;
        if (gvr_daemon_call(c[i], &h, &p, &fd, 5 * GV_NS_PER_S, &err) < 0 || p.status != 0)
            return 1;
        close(fd);
    }
    for (int k = 0; k < 5; k++) {
        int fd;
        memset(&err, 0, sizeof(err));
        if (gvr_daemon_join(t.sock, ID_A, &fd, &err) != -EUSERS ||
            !strstr(err.msg, "connections"))
            return 2;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", t.sock);
    int quiet = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (quiet < 0 || connect(quiet, (struct sockaddr *)&a, sizeof(a)) < 0 || read_refusal(quiet))
        return 3;
    close(quiet);
    return closed_within(c[0], 100) ? 4 : 0;
}

static void test_capped_per_user(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "skip: needs root, to connect as another user\n");
        skip();
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(USER_A) < 0 || setuid(USER_A) < 0)
            _exit(90);
        _exit(many_connections());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    int fd;
    assert_int_equal(gvr_daemon_join(t.sock, ID_A, &fd, NULL), 0);
    close(fd);
}

static bool take_now(struct gvr_sched *s)
{
    uint64_t now = gv_now_ns();
    return gvr_sched_take(s, now, now + GVR_SCHED_SLICE_NS, true, 0);
}

static void test_token(void **state)
{
    (void)state;
    struct gvr_sched s;
    struct gv_error err = {0};
    assert_int_equal(gvr_sched_open_daemon(&s, t.sock, ID_A, gpu0, &err), 0);
    assert_true(take_now(&s));
    assert_int_equal(gvr_sched_holder(&s), getpid());
    assert_true(gvr_sched_held(&s));
    assert_true(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    /* The record is the daemon's, readable by all and writable by nobody else. */
    char name[GV_UUID_TEXT + 8], path[256];
    gvr_sched_file(gpu0, name);
    snprintf(path, sizeof(path), "%s/%s", t.sched, name);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_uid, geteuid());

    /* Another process (of another instance) waits its turn, and gets it on release. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct gvr_sched o;
        if (gvr_sched_open_daemon(&o, t.sock, ID_B, gpu0, NULL) < 0)
            _exit(1);
        if (take_now(&o))
            _exit(2);
        if (write(p[1], "w", 1) != 1)
            _exit(3);
        uint64_t end = gv_now_ns() + 5 * GV_NS_PER_S;
        bool check = false;
        while (!gvr_sched_take(&o, gv_now_ns(), gv_now_ns() + GVR_SCHED_SLICE_NS, check, 0))
            if (gv_now_ns() > end)
                _exit(4);
            else
                check = !gvr_sched_wait(&o, gv_now_ns(), 2000000, 0);
        gvr_sched_release(&o);
        gvr_sched_close(&o);
        _exit(0);
    }
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    /* Another instance stands in line: no renewal (the waiter renews its place every few ms). */
    uint64_t end = gv_now_ns() + 2 * GV_NS_PER_S;
    while (gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS)) {
        assert_true(gv_now_ns() < end);
        nap_ms(1);
        gvr_sched_report(&s, 1000000); /* its work used the GPU all along */
    }
    gvr_sched_release(&s);
    assert_false(gvr_sched_held(&s));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(p[0]);
    close(p[1]);

    /* A process of the same instance in line does not stop a renewal (the holder's choice). */
    assert_true(take_now(&s));
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        gvr_sched_forked(&s);
        if (take_now(&s))
            _exit(2);
        if (write(p[1], "w", 1) != 1)
            _exit(3);
        /* In line until it gets the token, which the parent gives up once it has seen the
         * child there (bounded only in case the parent failed). */
        uint64_t stop = gv_now_ns() + 10 * GV_NS_PER_S;
        while (gv_now_ns() < stop && !take_now(&s))
            gvr_sched_wait(&s, gv_now_ns(), 2000000, 0);
        _exit(0);
    }
    assert_int_equal(read(p[0], &c, 1), 1);
    end = gv_now_ns() + 2 * GV_NS_PER_S;
    while (!gvr_sched_wanted(&s, gv_now_ns(), UINT64_MAX)) {
        assert_true(gv_now_ns() < end);
        nap_ms(1);
    }
    assert_true(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    assert_true(gvr_sched_held(&s));
    gvr_sched_release(&s);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(p[0]);
    close(p[1]);
    gvr_sched_close(&s);

    /* The instance is not on that GPU. */
    assert_int_equal(gvr_sched_open_daemon(&s, t.sock, ID_A, gpu1, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "not on GPU"));
}

/* The daemon's own books: 10% is 10 ms of GPU time per 100 ms; after holding 60 ms, the instance
 * waits about half a second whatever its region says, and a renewal past the budget is refused
 * (learned at the next renewal: the answer to one is read at the next call). */
static void test_budget(void **state)
{
    (void)state;
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open_daemon(&s, t.sock, ID_B, gpu0, NULL), 0);
    assert_true(take_now(&s));
    nap_ms(60);
    gvr_sched_report(&s, 60000000); /* its work used the GPU all along */
    /* A renewal's answer is read at the next call: the refusal shows there. */
    assert_true(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    assert_false(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    gvr_sched_release(&s);
    uint64_t t0 = gv_now_ns();
    assert_false(take_now(&s));
    while (!take_now(&s)) {
        assert_true(gv_now_ns() - t0 < 3 * GV_NS_PER_S);
        gvr_sched_wait(&s, gv_now_ns(), 2000000, 0);
    }
    uint64_t waited = gv_now_ns() - t0;
    printf("  waited %.0f ms for the budget (about 500 expected)\n", (double)waited / 1e6);
    assert_true(waited > 300 * 1000000ULL);
    gvr_sched_close(&s);
}

static void test_deleted(void **state)
{
    (void)state;
    struct gvr_sched s;
    int fd;
    assert_int_equal(gvr_daemon_join(t.sock, ID_GONE, &fd, NULL), 0);
    struct gvr_region r;
    assert_int_equal(gvr_open_fd(&r, fd, 0, NULL), 0);
    close(fd);
    assert_int_equal(gvr_join(&r, NULL), 0);
    assert_int_equal(gvr_charge(&r, 0, MiB), 0);
    assert_int_equal(gvr_sched_open_daemon(&s, t.sock, ID_GONE, gpu1, NULL), 0);
    assert_true(take_now(&s));
    gvr_sched_release(&s);
    assert_int_equal(td_delete(&t, 2), 0);
    assert_int_equal(gvr_charge(&r, 0, MiB), -ESHUTDOWN);
    /* The daemon asks for the share at most every GVD_LOCAL_SHARE_NS. */
    uint64_t t0 = gv_now_ns();
    while (take_now(&s)) {
        gvr_sched_release(&s);
        assert_true(gv_now_ns() - t0 < 2 * GV_NS_PER_S);
        nap_ms(20);
    }
    const char *why;
    assert_true(gvr_sched_refused(&s, &why));
    assert_non_null(strstr(why, "deleted"));
    gvr_sched_close(&s);
    gvr_close(&r);
    assert_int_equal(gvr_daemon_join(t.sock, ID_GONE, &fd, NULL), -ENOENT);
}

/* kill -9 of the daemon while this process holds the token: the token is lost with the connection;
 * the next daemon resets the record in place (the mapping stays valid) and grants it again. */
static void test_restart(void **state)
{
    (void)state;
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open_daemon(&s, t.sock, ID_A, gpu0, NULL), 0);
    assert_true(take_now(&s));
    td_kill(&t);
    assert_false(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    assert_false(gvr_sched_held(&s));
    gvr_sched_release(&s);
    assert_false(take_now(&s));
    assert_int_equal(td_start(&t), 0);
    assert_int_equal(gvr_sched_holder_word(&s), 0); /* reset in place, seen through the old map */
    uint64_t t0 = gv_now_ns();
    bool check = false;
    while (!gvr_sched_take(&s, gv_now_ns(), gv_now_ns() + GVR_SCHED_SLICE_NS, check, 0)) {
        assert_true(gv_now_ns() - t0 < 2 * GV_NS_PER_S); /* within 1 s: test_local_compute */
        check = !gvr_sched_wait(&s, gv_now_ns(), 2000000, 0);
    }
    printf("  token again %.0f ms after the restart\n", (double)(gv_now_ns() - t0) / 1e6);
    assert_int_equal(gvr_sched_holder(&s), getpid());
    gvr_sched_close(&s);
}

/* The daemon core's side: a start refuses a token directory others can write or that is missing;
 * a stop closes every connection and gives the token up. */
static void test_start_stop(void **state)
{
    (void)state;
    struct td here;
    struct gvd_local *l;
    int fd;
    assert_int_equal(td_init(&here), 0);
    assert_true(td_add(&here, ID_A, "alpha", USER_A, gpu0, GiB, 5000) >= 0);
    assert_int_equal(chmod(here.sched, 0777), 0);
    assert_int_equal(td_serve_here(&here, &l, &fd), -1);
    assert_int_equal(chmod(here.sched, 0755), 0);
    assert_int_equal(td_serve_here(&here, &l, &fd), 0);
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open_daemon(&s, here.sock, ID_A, gpu0, NULL), 0);
    assert_true(take_now(&s));
    assert_int_equal(gvr_sched_holder(&s), getpid());
    gvd_local_stop(l);
    close(fd);
    assert_int_equal(gvr_sched_holder_word(&s), 0);
    assert_false(gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS));
    gvr_sched_close(&s);
    char name[GV_UUID_TEXT + 8], path[256];
    gvr_sched_file(gpu0, name);
    snprintf(path, sizeof(path), "%s/%s", here.sched, name);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(here.sched), 0);
    assert_int_equal(td_serve_here(&here, &l, &fd), -1);
    td_fini(&here);
}

/* Ask for a slice ending at `until` (a TAKE or an EXTEND) on connection c: the grant's end, with
 * the times just before the request and just after the answer in *before and *after. */
static uint64_t grant(int c, uint32_t op, uint64_t until, uint64_t *before, uint64_t *after)
{
    struct gvr_dreq q = {.op = op, .until = until};
    struct gvr_drep p;
    struct gv_error err = {0};
    *before = gv_now_ns();
    assert_int_equal(gvr_daemon_call(c, &q, &p, NULL, GV_NS_PER_S, &err), 0);
    *after = gv_now_ns();
    if (p.status != 0)
        fail_msg("op %u refused: %s", op, p.msg);
    return p.until;
}

/* A grant clamped to the time slice: it ends one slice after the daemon served the request, which
 * was between before and after. */
static void clamped(uint64_t end, uint64_t before, uint64_t after, uint64_t slice)
{
    printf("  granted %.3f ms of a slice of %.3f ms (request served within %.3f ms)\n",
           (double)(end - before) / 1e6, (double)slice / 1e6, (double)(after - before) / 1e6);
    assert_true(end >= before + slice);
    assert_true(end <= after + slice);
}

static int hello(const char *sock, const char *key, const uint8_t uuid[16])
{
    struct gv_error err = {0};
    int c = gvr_daemon_connect(sock, &err);
    assert_true(c >= 0);
    struct gvr_dreq h = {.op = GVR_DOP_HELLO};
    memcpy(h.uuid, uuid, 16);
    snprintf(h.key, sizeof(h.key), "%s", key);
    struct gvr_drep p;
    int fd = -1;
    assert_int_equal(gvr_daemon_call(c, &h, &p, &fd, GV_NS_PER_S, &err), 0);
    assert_int_equal(p.status, 0);
    if (fd >= 0)
        close(fd);
    return c;
}

/* The daemon core sets each GPU's time slice (gvd_local_set_timeslice): takes and renewals are
 * granted at most that much, whatever they ask; a holder keeps its grant when the slice changes,
 * and the new one counts from its next renewal. A GPU never set has the default; a length out of
 * range is brought into it. Instances without a compute limit, so that no budget refuses. */
static void test_timeslice(void **state)
{
    (void)state;
    struct td here;
    struct gvd_local *l;
    int fd;
    const uint64_t ms = 1000000;
    assert_int_equal(td_init(&here), 0);
    assert_true(td_add(&here, ID_A, "alpha", USER_A, gpu0, GiB, 0) >= 0);
    assert_true(td_add(&here, ID_B, "beta", USER_A, gpu1, GiB, 0) >= 0);
    assert_int_equal(td_serve_here(&here, &l, &fd), 0);
    gvd_local_set_timeslice(l, gpu0, 2 * ms);
    int c = hello(here.sock, ID_A, gpu0);
    uint64_t before, after, end;

    end = grant(c, GVR_DOP_TAKE, gv_now_ns() + 10 * ms, &before, &after);
    clamped(end, before, after, 2 * ms);
    end = grant(c, GVR_DOP_EXTEND, gv_now_ns() + 10 * ms, &before, &after);
    clamped(end, before, after, 2 * ms);
    /* What is asked within the slice is granted as asked. */
    uint64_t want = gv_now_ns() + ms;
    assert_int_equal(grant(c, GVR_DOP_EXTEND, want, &before, &after), want);

    /* Longer now: the holder keeps its grant (a take while holding answers it)... */
    gvd_local_set_timeslice(l, gpu0, 30 * ms);
    assert_int_equal(grant(c, GVR_DOP_TAKE, gv_now_ns() + 30 * ms, &before, &after), want);
    /* ... and its next renewal gets the new length in full. */
    want = gv_now_ns() + 30 * ms;
    assert_int_equal(grant(c, GVR_DOP_EXTEND, want, &before, &after), want);
    struct gvr_dreq rel = {.op = GVR_DOP_RELEASE};
    struct gvr_drep p;
    assert_int_equal(gvr_daemon_call(c, &rel, &p, NULL, GV_NS_PER_S, NULL), 0);
    want = gv_now_ns() + 30 * ms;
    assert_int_equal(grant(c, GVR_DOP_TAKE, want, &before, &after), want);
    end = grant(c, GVR_DOP_EXTEND, gv_now_ns() + 60 * ms, &before, &after);
    clamped(end, before, after, 30 * ms);
    /* Shorter again: the next renewal is cut to it. */
    gvd_local_set_timeslice(l, gpu0, 2500000);
    end = grant(c, GVR_DOP_EXTEND, gv_now_ns() + 30 * ms, &before, &after);
    clamped(end, before, after, 2500000);
    close(c);

    /* Another GPU, never set: the default; set out of range: the range's end. */
    c = hello(here.sock, ID_B, gpu1);
    end = grant(c, GVR_DOP_TAKE, gv_now_ns() + 60 * ms, &before, &after);
    clamped(end, before, after, GV_TIMESLICE_DEFAULT_NS);
    gvd_local_set_timeslice(l, gpu1, 100 * ms);
    end = grant(c, GVR_DOP_EXTEND, gv_now_ns() + 100 * ms, &before, &after);
    clamped(end, before, after, GV_TIMESLICE_MAX_NS);
    gvd_local_set_timeslice(l, gpu1, 0);
    end = grant(c, GVR_DOP_EXTEND, gv_now_ns() + 100 * ms, &before, &after);
    clamped(end, before, after, GV_TIMESLICE_MIN_NS);
    close(c);

    gvd_local_set_timeslice(NULL, gpu0, ms); /* no local socket: nothing to do */
    gvd_local_stop(l);
    close(fd);
    td_fini(&here);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_and_charge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_fd_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_handoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_capped_per_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
        cmocka_unit_test(test_start_stop),
        cmocka_unit_test(test_timeslice),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
