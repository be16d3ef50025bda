/* SPDX-License-Identifier: Apache-2.0 */
/* test_local_users.c: with gpuvisord, a process of user B, using what gpuvisor gives every user
 * (the socket, the token records, its own instance), cannot hurt user A's instances.
 *
 * B cannot join A's instance, by id or by A's name for it (the same name in B's tenant is B's own
 * instance), nor open A's region file or any token record for writing, nor make its own read-only
 * token mapping writable. B cannot take, renew or give up A's turn. B cannot make A wait longer
 * than a turn and its grace: not by holding connections silent, not by flooding the daemon with
 * requests, not by taking the token and stopping, not by dying with it.
 *
 * The users are made-up uids (no account is needed to run as one), switched to in forked children,
 * which needs root: without it the tests are skipped, saying so. Times are asserted with wide
 * margins; the figures are printed. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "region/daemon.h"
#include "region/region.h"
#include "region/sched.h"
#include "testd.h"

#define GiB    (1024ULL * 1024 * 1024)
#define MS     1000000ULL
#define UID_A  64201
#define UID_B  64202
#define ID_A   "a0a0a0a0a0a0"
#define ID_B   "b0b0b0b0b0b0"
#define ID_B2  "b1b1b1b1b1b1"
#define MARGIN (300 * MS) /* a loaded 2-core machine */

static struct td t;
static const uint8_t gpu[16] = {0x70, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
static int to_parent[2], to_child[2];

static int setup(void **state)
{
    (void)state;
    if (geteuid() != 0) {
        fprintf(stderr, "skip: needs root, to run processes as two other users\n");
        return 0;
    }
    if (td_init(&t) < 0 || td_add(&t, ID_A, "alpha", UID_A, gpu, GiB, 5000) < 0 ||
        td_add(&t, ID_B, "beta", UID_B, gpu, GiB, 5000) < 0 ||
        td_add(&t, ID_B2, "alpha", UID_B, gpu, GiB, 5000) < 0 || td_start(&t) < 0 ||
        pipe(to_parent) < 0 || pipe(to_child) < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (geteuid() != 0)
        return 0;
    td_fini(&t);
    close(to_parent[0]);
    close(to_parent[1]);
    close(to_child[0]);
    close(to_child[1]);
    return 0;
}

static void need_root(void)
{
    if (geteuid() != 0)
        skip();
}

static void nap_ns(uint64_t ns)
{
    struct timespec ts = gv_timespec(ns);
    while (nanosleep(&ts, &ts) < 0)
        ;
}

/* Run fn as user uid in a child; returns its pid. */
static pid_t as_user(uid_t uid, int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        if (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0)
            _exit(90);
        int rc = fn();
        fflush(stdout);
        _exit(rc);
    }
    return pid;
}

/* The child's exit status, or 100 + the signal that ended it. */
static int reap(pid_t pid)
{
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void tell(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        _exit(80);
}

static char hear(int fd)
{
    char c = 0;
    return read(fd, &c, 1) == 1 ? c : 0;
}

static bool take_now(struct gvr_sched *s, bool check)
{
    uint64_t now = gv_now_ns();
    return gvr_sched_take(s, now, now + GVR_SCHED_SLICE_NS, check, 0);
}

/* Wait for the token as the interposer does; the time it took, or UINT64_MAX after 5 s. */
static uint64_t time_to_take(struct gvr_sched *s)
{
    uint64_t t0 = gv_now_ns();
    bool check = false;
    while (!take_now(s, check)) {
        if (gv_now_ns() - t0 > 5 * GV_NS_PER_S)
            return UINT64_MAX;
        check = !gvr_sched_wait(s, gv_now_ns(), 2 * MS, 0);
    }
    return gv_now_ns() - t0;
}

/* ---- joining and files */

static int b_joins(void)
{
    int fd;
    struct gv_error err = {0};
    struct gvr_sched s;
    if (gvr_daemon_join(t.sock, ID_A, &fd, &err) != -ENOENT)
        return 1;
    /* "alpha" is also a name in B's tenant: B gets its own instance, never A's. */
    if (gvr_daemon_join(t.sock, "alpha", &fd, &err) < 0)
        return 2;
    struct gvr_region r;
    int rc = gvr_open_fd(&r, fd, 0, &err);
    close(fd);
    if (rc < 0 || strcmp(r.name, ID_B2) != 0)
        return 3;
    gvr_close(&r);
    if (gvr_sched_open_daemon(&s, t.sock, ID_A, gpu, &err) != -ENOENT)
        return 4;
    return 0;
}

static int a_joins(void)
{
    int fd;
    if (gvr_daemon_join(t.sock, "alpha", &fd, NULL) < 0)
        return 1;
    struct gvr_region r;
    int rc = gvr_open_fd(&r, fd, 0, NULL);
    close(fd);
    return rc < 0 || strcmp(r.name, ID_A) != 0 ? 2 : 0;
}

static void test_join_other_tenant(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(reap(as_user(UID_B, b_joins)), 0);
    assert_int_equal(reap(as_user(UID_A, a_joins)), 0);
}

static int b_files(void)
{
    char path[256], name[GV_UUID_TEXT + 8];
    snprintf(path, sizeof(path), "%s/%s", t.instances, ID_A);
    if (open(path, O_RDWR) >= 0 || errno != EACCES || open(path, O_RDONLY) >= 0)
        return 1;
    struct gvr_region r;
    if (gvr_open(&r, t.instances, ID_A, 0, NULL, 0, NULL) >= 0 ||
        gvr_open(&r, t.instances, ID_A, GVR_READONLY, NULL, 0, NULL) >= 0 ||
        gvr_open(&r, t.instances, "mine", GVR_CREATE, NULL, 0, NULL) >= 0)
        return 2;
    /* B's own token mapping (the record exists once someone said HELLO) is read-only and stays
     * so; nothing else of the directory is B's to write. */
    struct gv_error err = {0};
    int c = gvr_daemon_connect(t.sock, &err);
    struct gvr_dreq q = {.op = GVR_DOP_HELLO};
    memcpy(q.uuid, gpu, 16);
    strcpy(q.key, ID_B);
    struct gvr_drep p;
    int fd;
    if (c < 0 || gvr_daemon_call(c, &q, &p, &fd, GV_NS_PER_S, &err) < 0 || p.status || fd < 0)
        return 6;
    gvr_sched_file(gpu, name);
    snprintf(path, sizeof(path), "%s/%s", t.sched, name);
    if (open(path, O_RDWR) >= 0 || errno != EACCES)
        return 3;
    snprintf(path, sizeof(path), "%s/squat.sched", t.sched);
    if (open(path, O_RDWR | O_CREAT, 0666) >= 0)
        return 4;
    struct gvr_sched s;
    if (gvr_sched_open(&s, t.sched, gpu, NULL) >= 0)
        return 5;
    if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED)
        return 7;
    void *m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED || mprotect(m, 4096, PROT_READ | PROT_WRITE) == 0)
        return 8;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (open(path, O_RDWR) >= 0)
        return 9;
    return 0;
}

static void test_files_shut(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(reap(as_user(UID_B, b_files)), 0);
}

/* ---- turns */

/* A: take the token, say so, renew it every millisecond until told to stop; 0 when every renewal
 * went through and A still holds it. */
static int a_holds(void)
{
    struct gvr_sched s;
    if (gvr_sched_open_daemon(&s, t.sock, ID_A, gpu, NULL) < 0 || !take_now(&s, false))
        return 1;
    tell(to_parent[1], 'h');
    fcntl(to_child[0], F_SETFL, O_NONBLOCK);
    char c;
    while (read(to_child[0], &c, 1) != 1) {
        if (!gvr_sched_extend(&s, gv_now_ns() + GVR_SCHED_SLICE_NS))
            return 2;
        nap_ns(MS);
    }
    return gvr_sched_held(&s) ? 0 : 3;
}

/* B, over its own connection (not standing in line, so that A's renewals go on): cannot take A's
 * turn, cannot give it up for A, cannot renew it. */
static int b_meddles(void)
{
    struct gv_error err = {0};
    int c = gvr_daemon_connect(t.sock, &err);
    struct gvr_dreq q = {.op = GVR_DOP_HELLO};
    memcpy(q.uuid, gpu, 16);
    strcpy(q.key, ID_B);
    struct gvr_drep p;
    int fd;
    if (c < 0 || gvr_daemon_call(c, &q, &p, &fd, GV_NS_PER_S, &err) < 0 || p.status || fd < 0)
        return 1;
    const _Atomic uint64_t *rec = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if ((void *)rec == MAP_FAILED)
        return 2;
    uint64_t holder = gvr_sched_holder_word(&(struct gvr_sched){.map = (void *)rec});
    if (!holder)
        return 3;
    for (int i = 0; i < 20; i++) {
        uint64_t now = gv_now_ns();
        struct gvr_dreq take = {.op = GVR_DOP_TAKE, .until = now + GVR_SCHED_SLICE_NS};
        struct gvr_dreq rel = {.op = GVR_DOP_RELEASE};
        struct gvr_dreq ext = {.op = GVR_DOP_EXTEND, .until = now + GVR_SCHED_SLICE_NS};
        if (gvr_daemon_call(c, &take, &p, NULL, GV_NS_PER_S, &err) < 0 || p.status != -EBUSY)
            return 4;
        if (gvr_daemon_call(c, &rel, &p, NULL, GV_NS_PER_S, &err) < 0 || p.status != 0)
            return 5;
        if (gvr_daemon_call(c, &ext, &p, NULL, GV_NS_PER_S, &err) < 0 || p.status != -EPERM)
            return 6;
        if (gvr_sched_holder_word(&(struct gvr_sched){.map = (void *)rec}) != holder)
            return 7;
    }
    return 0;
}

static void test_turns_own_only(void **state)
{
    (void)state;
    need_root();
    pid_t a = as_user(UID_A, a_holds);
    assert_int_equal(hear(to_parent[0]), 'h');
    int b = reap(as_user(UID_B, b_meddles));
    tell(to_child[1], 's');
    assert_int_equal(b, 0);
    assert_int_equal(reap(a), 0);
}

/* B: 200 connections that never say anything, and 50 that say only the magic; held 2 s. */
static int b_silent(void)
{
    static int c[250];
    struct gv_error err = {0};
    for (int i = 0; i < 250; i++) {
        for (int tries = 0; tries < 200; tries++) {
            struct sockaddr_un a = {.sun_family = AF_UNIX};
            snprintf(a.sun_path, sizeof(a.sun_path), "%s", t.sock);
            c[i] = i < 200 ? socket(AF_UNIX, SOCK_STREAM, 0) : gvr_daemon_connect(t.sock, &err);
            if (i < 200 && c[i] >= 0 && connect(c[i], (struct sockaddr *)&a, sizeof(a)) < 0) {
                close(c[i]);
                c[i] = -1;
            }
            if (c[i] >= 0)
                break;
            nap_ns(5 * MS);
        }
    }
    tell(to_parent[1], 'q');
    nap_ns(2 * GV_NS_PER_S);
    return 0;
}

/* B: a connection that sends TAKE after TAKE and never reads a reply; 0 once the daemon has closed
 * it (its replies had nowhere to go). */
static int b_floods(void)
{
    struct gv_error err = {0};
    int c = gvr_daemon_connect(t.sock, &err);
    struct gvr_dreq q = {.op = GVR_DOP_HELLO};
    memcpy(q.uuid, gpu, 16);
    strcpy(q.key, ID_B);
    struct gvr_drep p;
    int fd;
    if (c < 0 || gvr_daemon_call(c, &q, &p, &fd, GV_NS_PER_S, &err) < 0 || p.status)
        return 1;
    tell(to_parent[1], 'f');
    uint64_t end = gv_now_ns() + 5 * GV_NS_PER_S;
    unsigned long sent = 0;
    while (gv_now_ns() < end) {
        struct gvr_dreq take = {.op = GVR_DOP_TAKE, .until = gv_now_ns() + GVR_SCHED_SLICE_NS};
        ssize_t n = send(c, &take, sizeof(take), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
            printf("  B's flood closed by the daemon after %lu requests\n", sent);
            return 0;
        }
        if (n < 0)
            nap_ns(MS);
        else
            sent++;
    }
    return 2;
}

/* A: take and give up the token 200 times; 0 when none took longer than the margin. */
static int a_cycles(void)
{
    struct gvr_sched s;
    if (gvr_sched_open_daemon(&s, t.sock, ID_A, gpu, NULL) < 0)
        return 1;
    uint64_t worst = 0;
    for (int i = 0; i < 200; i++) {
        uint64_t t0 = gv_now_ns();
        uint64_t took = time_to_take(&s);
        gvr_sched_release(&s);
        uint64_t cycle = gv_now_ns() - t0;
        if (took == UINT64_MAX)
            return 2;
        if (cycle > worst)
            worst = cycle;
    }
    printf("  A's slowest take and release of 200: %.2f ms\n", (double)worst / 1e6);
    return worst < MARGIN ? 0 : 3;
}

static void test_silent_and_flood(void **state)
{
    (void)state;
    need_root();
    pid_t quiet = as_user(UID_B, b_silent);
    assert_int_equal(hear(to_parent[0]), 'q');
    pid_t flood = as_user(UID_B, b_floods);
    assert_int_equal(hear(to_parent[0]), 'f');
    int a = reap(as_user(UID_A, a_cycles));
    int f = reap(flood);
    reap(quiet);
    assert_int_equal(a, 0);
    assert_int_equal(f, 0);
    assert_int_equal(kill(t.pid, 0), 0); /* the daemon is up */
}

/* B: take the token, say so, and wait for the end (the parent stops or kills it). */
static int b_holds(void)
{
    struct gvr_sched s;
    if (gvr_sched_open_daemon(&s, t.sock, ID_B, gpu, NULL) < 0 || !take_now(&s, false))
        return 1;
    tell(to_parent[1], 'h');
    for (;;)
        pause();
}

/* A: wait for the token (told when to start); reports the wait in ms on the pipe. */
static int a_waits(void)
{
    struct gvr_sched s;
    if (gvr_sched_open_daemon(&s, t.sock, ID_A, gpu, NULL) < 0)
        return 1;
    tell(to_parent[1], 'r');
    if (hear(to_child[0]) != 'g')
        return 2;
    uint64_t took = time_to_take(&s);
    if (write(to_parent[1], &took, sizeof(took)) != sizeof(took))
        return 3;
    return took == UINT64_MAX ? 4 : 0;
}

static uint64_t a_against(int sig)
{
    pid_t b = as_user(UID_B, b_holds);
    assert_int_equal(hear(to_parent[0]), 'h');
    pid_t a = as_user(UID_A, a_waits);
    assert_int_equal(hear(to_parent[0]), 'r');
    kill(b, sig);
    tell(to_child[1], 'g');
    uint64_t took = UINT64_MAX;
    assert_int_equal(read(to_parent[0], &took, sizeof(took)), (ssize_t)sizeof(took));
    kill(b, SIGKILL);
    reap(b);
    assert_int_equal(reap(a), 0);
    return took;
}

static void test_stopped_holder(void **state)
{
    (void)state;
    need_root();
    uint64_t took = a_against(SIGSTOP);
    printf("  A got the GPU %.1f ms after B stopped holding it (a turn and the grace: %llu ms)\n",
           (double)took / 1e6,
           (unsigned long long)((GVR_SCHED_SLICE_NS + GVR_SCHED_GRACE_NS) / MS));
    assert_true(took <= GVR_SCHED_SLICE_NS + GVR_SCHED_GRACE_NS + MARGIN);
}

static void test_dead_holder(void **state)
{
    (void)state;
    need_root();
    uint64_t took = a_against(SIGKILL);
    printf("  A got the GPU %.1f ms after B died holding it\n", (double)took / 1e6);
    assert_true(took <= MARGIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_other_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_shut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_turns_own_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_and_flood, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stopped_holder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_holder, setup, teardown),
    };
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
