/* SPDX-License-Identifier: Apache-2.0 */
/* test_remote_liveness.c: a client that dies or goes silent gives its GPU memory back.
 *
 * A session's memory lives in the session's process, which ends with the connection: when the
 * client is killed (its kernel closes the socket) at once, and when the network between them is
 * cut (nothing arrives, nothing closes) after the keepalive. The claims measured here:
 *   - a client killed with SIGKILL: its memory is free on the GPU within 1 s of the kill;
 *   - a silent client: its session ends, and its memory is free, within keepalive + 1 s of its last
 *     frame;
 * and in both cases the other sessions on the server keep their memory and their data.
 *
 * What is free on the simulated GPU is read from another session (MEM_GET_INFO on a server
 * without a memory limit answers the device's free memory, which counts every process on the
 * machine). Times are wall-clock from the kill or the last frame to the first reading that shows
 * the memory back; the test is labelled `timing` and runs alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "remotetest.h"

#define MIB (1024ull * 1024)
/* What the dying client holds: far above anything else that moves on the machine meanwhile. */
#define HELD (200 * MIB)
/* What the good session holds throughout, with a pattern it checks at the end. */
#define KEPT (8 * MIB)
/* The claims. */
#define KILL_FREE_MS   1000
#define KEEPALIVE      "1"
#define KEEPALIVE_MS   1000
#define SILENT_FREE_MS (KEEPALIVE_MS + 1000)
/* How long the test waits at most, to measure even a miss. */
#define WAIT_MS 20000
/* The good session pings this often, well within the keepalive. */
#define PING_MS 100

static struct rt_server srv;
static struct rt_client good;
static uint64_t kept;
static uint8_t *pattern;

/* The killed client's server keeps the default keepalive, so that only the kill can end its
 * session; the silent client's has a short one, on TCP, as across a network. */
static int start(bool tcp)
{
    struct rt_opts o = {.keepalive = tcp ? KEEPALIVE : NULL, .tcp = tcp};
    char err[256];
    if (rt_start(&srv, &o) != 0)
        return -1;
    pattern = malloc(KEPT);
    if (!pattern || rt_connect(&good, &srv, srv.token, err, sizeof(err)) != 0 ||
        rt_setup(&good) != 0 || rt_call(&good, GVW_OP_MEM_ALLOC, "q", (uint64_t)KEPT) != 0) {
        fprintf(stderr, "the well-behaved session cannot start: %s\n", err);
        goto fail;
    }
    kept = good.reply.v[1];
    for (size_t i = 0; i < KEPT; i++)
        pattern[i] = (uint8_t)(i * 13 + 1);
    if (rt_htod(&good, kept, pattern, KEPT) != 0)
        goto fail;
    return 0;
fail:
    rt_log_dump(&srv);
    rt_close(&good);
    rt_stop(&srv);
    free(pattern);
    return -1;
}

static int start_unix(void **state)
{
    (void)state;
    return start(false);
}

static int start_tcp(void **state)
{
    (void)state;
    return start(true);
}

static int stop(void **state)
{
    (void)state;
    rt_close(&good);
    if (getenv("RT_DUMP_LOG"))
        rt_log_dump(&srv);
    rt_stop(&srv);
    free(pattern);
    pattern = NULL;
    return 0;
}

/* The device's free memory, as the good session reads it (which also keeps it alive). */
static uint64_t device_free(void)
{
    long r = rt_call(&good, GVW_OP_MEM_GET_INFO, "");
    if (r != 0)
        fail_msg("MEM_GET_INFO on the good session: %ld", r);
    return good.reply.v[1];
}

/* Milliseconds from t0 until the device has at least `want` free, polling; WAIT_MS at most. */
static uint64_t until_free(uint64_t t0, uint64_t want)
{
    for (;;) {
        uint64_t f = device_free(), now = rt_now_ms();
        if (f >= want)
            return now - t0;
        if (now - t0 > WAIT_MS)
            fail_msg("%llu MiB free after %d ms, want %llu MiB", (unsigned long long)(f / MIB),
                     WAIT_MS, (unsigned long long)(want / MIB));
        struct timespec ts = {0, 2 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The good session still has its memory and its data, and works. */
static void good_untouched(void)
{
    uint8_t *back = malloc(KEPT);
    assert_non_null(back);
    assert_int_equal(rt_dtoh(&good, kept, back, KEPT), 0);
    assert_memory_equal(pattern, back, KEPT);
    free(back);
    assert_true(rt_round(&good, 1 * MIB));
    assert_true(rt_alive(&srv));
    assert_int_equal(rt_log_count(&srv, "ended by signal", NULL), 0);
}

/* What the child tells the test once it holds its memory. */
struct held {
    uint64_t ptr;
    char name[GVA_MAX_WHO];
};

/* The child: a client that takes HELD bytes, says so, and waits to be killed. */
static void child(int fd)
{
    struct rt_client c;
    struct held h = {0};
    char err[256];
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (rt_connect(&c, &srv, srv.token, err, sizeof(err)) != 0 || rt_setup(&c) != 0 ||
        rt_call(&c, GVW_OP_MEM_ALLOC, "q", (uint64_t)HELD) != 0)
        _exit(1);
    h.ptr = c.reply.v[1];
    memcpy(h.name, c.name, sizeof(h.name));
    if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
        _exit(1);
    for (;;)
        pause();
}

static void killed_client(void **state)
{
    (void)state;
    uint64_t before = device_free();
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child(fds[1]);
    }
    close(fds[1]);
    struct held h;
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    bool ready = poll(&p, 1, WAIT_MS) == 1 && read(fds[0], &h, sizeof(h)) == (ssize_t)sizeof(h);
    close(fds[0]);
    if (!ready) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("the child did not allocate its memory");
    }
    uint64_t during = device_free();
    assert_true(during + HELD <= before);

    kill(pid, SIGKILL);
    uint64_t t0 = rt_now_ms();
    waitpid(pid, NULL, 0);
    uint64_t ms = until_free(t0, during + HELD);
    fprintf(stderr, "killed client: its %llu MiB free %llu ms after SIGKILL (claim: %d ms)\n",
            (unsigned long long)(HELD / MIB), (unsigned long long)ms, KILL_FREE_MS);
    assert_true(ms <= KILL_FREE_MS);
    char who[GVA_MAX_WHO + 16];
    snprintf(who, sizeof(who), "session %s: closed", h.name);
    assert_true(rt_log_wait(&srv, who, NULL, 1, WAIT_MS));
    /* Killed, not timed out: the keepalive had no part in it. */
    assert_int_equal(rt_log_count(&srv, who, "silent"), 0);
    good_untouched();
}

static void silent_client(void **state)
{
    (void)state;
    uint64_t before = device_free();
    struct rt_client c;
    char err[256];
    if (rt_connect(&c, &srv, srv.token, err, sizeof(err)) != 0)
        fail_msg("connect: %s", err);
    device_free(); /* the good session keeps talking while the new one starts */
    assert_int_equal(rt_setup(&c), 0);
    device_free();
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", (uint64_t)HELD), 0);
    /* Its last frame was answered now; from here it sends nothing and does not close. */
    uint64_t t0 = rt_now_ms();
    uint64_t during = device_free();
    assert_true(during + HELD <= before);
    uint64_t ms = until_free(t0, during + HELD);
    fprintf(stderr,
            "silent client: its %llu MiB free %llu ms after its last frame (claim: "
            "keepalive %d ms + 1000 ms)\n",
            (unsigned long long)(HELD / MIB), (unsigned long long)ms, KEEPALIVE_MS);
    assert_true(ms <= SILENT_FREE_MS);
    /* And not before the keepalive: it was the silence that ended it. */
    assert_true(ms + 50 >= KEEPALIVE_MS);
    char who[GVA_MAX_WHO + 16];
    snprintf(who, sizeof(who), "session %s: ", c.name);
    assert_true(rt_log_wait(&srv, who, "closed: the client was silent for 1000 ms", 1, WAIT_MS));
    /* The silent client's end of the connection learns it at its next read. */
    assert_true(rt_ended(&c, WAIT_MS));
    rt_close(&c);
    good_untouched();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_client, start_unix, stop),
        cmocka_unit_test_setup_teardown(silent_client, start_tcp, stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
