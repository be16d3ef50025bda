/* SPDX-License-Identifier: Apache-2.0 */
/* test_remote_hostile.c: gpuvisor-remoted against a client that does not play by the rules.
 *
 * The claims (docs/remote.md, DESIGN.md "Who is trusted with what"): a client cannot take more of
 * a GPU than the server's slice however it lies; bad bytes, before or after the handshake, close
 * only the session that sent them, with the reason in the server's log; a session can name only
 * its own memory and objects; a wrong token or a replayed handshake is refused; and through all
 * of it the server keeps running and other sessions keep working.
 *
 * Every test runs next to one well-behaved session (`good`) on the same server, which allocates,
 * copies in, reads back and frees after each bad thing. The hostile sessions are raw clients
 * (remotetest.h): they build frames by hand, as a modified client library would. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "remotetest.h"

#define MIB (1024ull * 1024)
#define GIB (1024 * MIB)
/* The server's slice and frame limit, as its options say. */
#define SLICE       "256MiB"
#define SLICE_BYTES (256 * MIB)
#define MAX_FRAME   65536
/* The keepalive: long enough that the good session never needs to ping between its rounds. */
#define KEEPALIVE    "3"
#define KEEPALIVE_MS 3000
/* How long a session may take to end and log why, on a loaded machine. */
#define END_MS 10000

static struct rt_server srv;
static struct rt_client good;

/* The good session pings while the test waits for something, so that no wait, however long,
 * ends it for silence. */
static void keep_good(void)
{
    static uint64_t last;
    uint64_t now = rt_now_ms();
    if (good.c && now - last >= KEEPALIVE_MS / 4) {
        rt_send(&good, GVW_OP_PING, GVW_F_NOREPLY, "");
        last = now;
    }
}

static int setup(void **state)
{
    (void)state;
    struct rt_opts o = {.memory = SLICE, .max_frame = "65536", .keepalive = KEEPALIVE};
    char err[256];
    if (rt_start(&srv, &o) != 0)
        return -1;
    if (rt_connect(&good, &srv, srv.token, err, sizeof(err)) != 0 || rt_setup(&good) != 0) {
        fprintf(stderr, "the well-behaved session cannot start: %s\n", err);
        rt_log_dump(&srv);
        rt_close(&good);
        rt_stop(&srv);
        return -1;
    }
    rt_idle = keep_good;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rt_idle = NULL;
    rt_close(&good);
    if (rt_log_count(&srv, "session", NULL) == 0 || getenv("RT_DUMP_LOG"))
        rt_log_dump(&srv);
    rt_stop(&srv);
    return 0;
}

/* After every bad thing: the server runs, the good session works, and a new one can start. */
static void still_fine(void)
{
    assert_true(rt_alive(&srv));
    if (rt_log_count(&srv, "ended by signal", NULL)) {
        rt_log_dump(&srv);
        fail_msg("a session process crashed");
    }
    /* Under the sanitizers (make asan-check), a session's report lands in the server's log. */
    if (rt_log_count(&srv, "Sanitizer", NULL) || rt_log_count(&srv, "runtime error", NULL)) {
        rt_log_dump(&srv);
        fail_msg("a sanitizer reported an error in the server");
    }
    assert_true(rt_round(&good, 1 * MIB));
    struct rt_client c;
    char err[256];
    assert_int_equal(rt_connect(&c, &srv, srv.token, err, sizeof(err)), 0);
    assert_int_equal(rt_setup(&c), 0);
    assert_true(rt_round(&c, 64 * 1024));
    rt_close(&c);
}

static void hostile(struct rt_client *c)
{
    char err[256];
    if (rt_connect(c, &srv, srv.token, err, sizeof(err)) != 0)
        fail_msg("connect: %s", err);
    assert_int_equal(rt_setup(c), 0);
}

/* The session named by c ended, with `why` on its line of the log. */
static void ended_with(struct rt_client *c, const char *why)
{
    char who[GVA_MAX_WHO + 16];
    snprintf(who, sizeof(who), "session %s: ", c->name);
    assert_true(rt_ended(c, END_MS));
    if (!rt_log_wait(&srv, who, why, 1, END_MS)) {
        rt_log_dump(&srv);
        fail_msg("no line '%s...%s' in the server's log", who, why);
    }
    rt_close(c);
}

/* (a) A client that asks for more than its slice is refused by the server, whatever the client
 * library would have said. */
static void lies_about_memory(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", 1 * GIB), CUDA_ERROR_OUT_OF_MEMORY);
    uint64_t p[8];
    int n = 0;
    long r;
    while (n < 8 && (r = rt_call(&c, GVW_OP_MEM_ALLOC, "q", 100 * MIB)) == 0)
        p[n++] = c.reply.v[1];
    assert_int_equal(r, CUDA_ERROR_OUT_OF_MEMORY);
    assert_int_equal(n, (int)(SLICE_BYTES / (100 * MIB)));
    /* What is left of the slice, and no more. */
    assert_int_equal(rt_call(&c, GVW_OP_MEM_GET_INFO, ""), 0);
    assert_true(c.reply.v[2] <= SLICE_BYTES);
    assert_true(c.reply.v[1] < 100 * MIB);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", c.reply.v[1] + 1),
                     CUDA_ERROR_OUT_OF_MEMORY);
    /* The other sessions have slices of their own. */
    still_fine();
    for (int i = 0; i < n; i++)
        assert_int_equal(rt_call(&c, GVW_OP_MEM_FREE, "q", p[i]), 0);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", 200 * MIB), 0);
    rt_close(&c);
    still_fine();
}

/* (b) Bytes that are not frames. */
static void garbage_before_handshake(void **state)
{
    (void)state;
    int before = rt_log_count(&srv, "refused: not a gpuvisor remote client (bad greeting)", NULL);
    struct rt_client c = {0};
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    static const char http[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    assert_int_equal(rt_send_raw(&c, http, sizeof(http) - 1), 0);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: not a gpuvisor remote client (bad greeting)", NULL,
                            before + 1, END_MS));
    still_fine();
}

static void garbage_after_handshake(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    uint8_t junk[64];
    memset(junk, 0xa5, sizeof(junk));
    assert_int_equal(rt_send_raw(&c, junk, sizeof(junk)), 0);
    ended_with(&c, "closed: a frame of 2779096485 bytes is over the limit of 65536");
    still_fine();
}

static void frame_over_limit(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    uint8_t h[GVW_HDR];
    struct gvw_hdr hdr = {MAX_FRAME + 1, GVW_OP_MEM_ALLOC, 0, c.ctx};
    gvw_hdr_put(h, &hdr);
    assert_int_equal(rt_send_raw(&c, h, sizeof(h)), 0);
    ended_with(&c, "closed: a frame of 65537 bytes is over the limit of 65536");
    still_fine();
}

/* A frame cut short by the client's end of the connection. */
static void truncated_frame(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    uint8_t f[GVW_HDR + 4] = {0};
    struct gvw_hdr hdr = {8, GVW_OP_MEM_ALLOC, 0, c.ctx};
    gvw_hdr_put(f, &hdr);
    assert_int_equal(rt_send_raw(&c, f, sizeof(f)), 0);
    shutdown(c.c->fd, SHUT_WR);
    ended_with(&c, "closed by the client");
    still_fine();
}

/* A frame cut short by a client that then goes silent: the session must not wait for the rest
 * for ever. */
static void truncated_frame_then_silence(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    uint8_t f[GVW_HDR + 4] = {0};
    struct gvw_hdr hdr = {8, GVW_OP_MEM_ALLOC, 0, c.ctx};
    gvw_hdr_put(f, &hdr);
    uint64_t t0 = rt_now_ms();
    assert_int_equal(rt_send_raw(&c, f, sizeof(f)), 0);
    ended_with(&c, "closed");
    fprintf(stderr, "a half-sent frame held its session %llu ms (keepalive %d ms)\n",
            (unsigned long long)(rt_now_ms() - t0), KEEPALIVE_MS);
    still_fine();
}

static void unknown_ops(void **state)
{
    (void)state;
    static const struct {
        unsigned op;
        const char *why;
    } bad[] = {
        {0x3ff, "closed: unknown op 0x3ff"},
        {GVW_OP_MEM_ALLOC | GVW_REPLY,
         "closed: unknown op 0x8080"},              /* a reply, sent to the server */
        {GVW_OP_HELLO, "closed: unknown op 0x3f0"}, /* the handshake is over */
        {0xffff, "closed: unknown op 0xffff"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rt_client c;
        hostile(&c);
        assert_int_equal(rt_send(&c, bad[i].op, 0, "q", (uint64_t)1), 0);
        ended_with(&c, bad[i].why);
        still_fine();
    }
}

/* Bodies that do not match their op's fields. */
static void malformed_bodies(void **state)
{
    (void)state;
    struct rt_client c;

    hostile(&c); /* too short */
    assert_int_equal(rt_send(&c, GVW_OP_MEM_ALLOC, 0, "i", 5u), 0);
    ended_with(&c, "closed: malformed MEM_ALLOC frame (4 bytes)");
    still_fine();

    hostile(&c); /* a byte left over */
    assert_int_equal(rt_send(&c, GVW_OP_MEM_ALLOC, 0, "qb", (uint64_t)4096, "", (size_t)0), 0);
    ended_with(&c, "closed: malformed MEM_ALLOC frame (12 bytes)");
    still_fine();

    hostile(&c); /* a byte string longer than the frame */
    assert_int_equal(rt_send(&c, GVW_OP_MODULE_GET_FUNCTION, 0, "qi", (uint64_t)1, 1000u), 0);
    ended_with(&c, "closed: malformed MODULE_GET_FUNCTION frame (12 bytes)");
    still_fine();

    hostile(&c); /* a text with a NUL in it */
    static const char nul[] = "fill\0u32";
    assert_int_equal(
        rt_send(&c, GVW_OP_MODULE_GET_FUNCTION, 0, "qb", (uint64_t)1, nul, sizeof(nul) - 1), 0);
    ended_with(&c, "closed: malformed MODULE_GET_FUNCTION frame");
    still_fine();

    hostile(&c); /* a module image the server will not take */
    assert_int_equal(rt_send(&c, GVW_OP_MODULE_LOAD, 0, "q", (uint64_t)0), 0);
    ended_with(&c, "closed: an image of 0 bytes");
    still_fine();
}

/* A bulk copy to memory the session does not own is refused, and its bytes are read and dropped,
 * so the session goes on. */
static void copy_to_unowned(void **state)
{
    (void)state;
    struct rt_client c;
    hostile(&c);
    size_t n = 5 * MIB; /* more than the server's staging chunk */
    uint8_t *buf = calloc(1, n);
    assert_non_null(buf);
    assert_int_equal(rt_htod(&c, 0x10000, buf, n), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_dtoh(&c, 0x10000, buf, n), CUDA_ERROR_INVALID_VALUE);
    /* Past the end of its own allocation. */
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", 1 * MIB), 0);
    uint64_t p = c.reply.v[1];
    assert_int_equal(rt_htod(&c, p + 4096, buf, 1 * MIB), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_dtoh(&c, p, buf, 1 * MIB + 1), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_htod(&c, UINT64_MAX - 16, buf, 4096), CUDA_ERROR_INVALID_VALUE);
    free(buf);
    /* The connection is still in step: the session answers. */
    assert_true(rt_round(&c, 2 * MIB));
    assert_int_equal(rt_call(&c, GVW_OP_MEM_FREE, "q", p), 0);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_FREE, "q", p), CUDA_ERROR_INVALID_VALUE);
    rt_close(&c);
    still_fine();
}

static const char image[] = "gvsim-module\n";

/* One session names another's memory, context and stream: every call is refused, and the owner's
 * data is untouched. */
static void another_sessions_objects(void **state)
{
    (void)state;
    size_t n = 1 * MIB;
    uint8_t *pattern = malloc(n), *back = malloc(n);
    assert_non_null(pattern);
    assert_non_null(back);
    for (size_t i = 0; i < n; i++)
        pattern[i] = (uint8_t)(i ^ 0x5a);
    /* The victim: the good session's memory and stream. */
    assert_int_equal(rt_call(&good, GVW_OP_MEM_ALLOC, "q", (uint64_t)n), 0);
    uint64_t mine = good.reply.v[1];
    assert_int_equal(rt_htod(&good, mine, pattern, n), 0);
    assert_int_equal(rt_call(&good, GVW_OP_STREAM_CREATE, "ii", 0u, 0u), 0);
    uint64_t stream = good.reply.v[1];

    struct rt_client c;
    hostile(&c);
    assert_int_equal(rt_dtoh(&c, mine, back, n), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_htod(&c, mine, back, n), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_FREE, "q", mine), CUDA_ERROR_INVALID_VALUE);
    assert_int_equal(rt_call(&c, GVW_OP_STREAM_SYNCHRONIZE, "q", stream),
                     CUDA_ERROR_INVALID_HANDLE);
    assert_int_equal(rt_call(&c, GVW_OP_STREAM_DESTROY, "q", stream), CUDA_ERROR_INVALID_HANDLE);
    /* Sessions are processes forked from one, so their first contexts are likely the same number
     * in each. The victim's second context is one the attacker cannot hold. */
    assert_int_equal(rt_call(&good, GVW_OP_CTX_CREATE, "iib", 0u, 0u, "", (size_t)0), 0);
    uint64_t second = good.reply.v[1];
    assert_true(second != c.ctx);
    uint64_t own = c.ctx;
    c.ctx = second;
    assert_int_equal(rt_call(&c, GVW_OP_MEM_GET_INFO, ""), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(rt_call(&c, GVW_OP_MEM_ALLOC, "q", (uint64_t)4096),
                     CUDA_ERROR_INVALID_CONTEXT);
    c.ctx = own;
    assert_int_equal(rt_call(&c, GVW_OP_CTX_DESTROY, "q", second), CUDA_ERROR_INVALID_CONTEXT);
    assert_int_equal(rt_call(&good, GVW_OP_CTX_DESTROY, "q", second), 0);
    /* A kernel of its own told to write the victim's memory (the image follows the frame). */
    assert_int_equal(rt_send(&c, GVW_OP_MODULE_LOAD, 0, "q", (uint64_t)sizeof(image)), 0);
    assert_int_equal(rt_send_raw(&c, image, sizeof(image)), 0);
    assert_int_equal(rt_reply(&c, GVW_OP_MODULE_LOAD), 0);
    uint64_t mod = c.reply.v[1];
    assert_int_equal(rt_call(&c, GVW_OP_MODULE_GET_FUNCTION, "qs", mod, "fill_u32"), 0);
    uint64_t fn = c.reply.v[1];
    struct {
        uint64_t dst;
        uint32_t value, pad;
        uint64_t count;
    } args = {mine, 0xdeadbeefu, 0, n / 4};
    long r = rt_call(&c, GVW_OP_LAUNCH, "qiiiiiiiqibb", fn, 1u, 1u, 1u, 1u, 1u, 1u, 0u, (uint64_t)0,
                     0u, &args, sizeof(args), "", (size_t)0);
    long sync = rt_call(&c, GVW_OP_CTX_SYNCHRONIZE, "");
    fprintf(stderr, "a launch on another session's memory: %ld, then synchronize: %ld\n", r, sync);
    assert_true(r > 0 || sync > 0);
    rt_close(&c);

    assert_int_equal(rt_call(&good, GVW_OP_CTX_SYNCHRONIZE, ""), 0);
    assert_int_equal(rt_dtoh(&good, mine, back, n), 0);
    assert_memory_equal(pattern, back, n);
    assert_int_equal(rt_call(&good, GVW_OP_STREAM_DESTROY, "q", stream), 0);
    assert_int_equal(rt_call(&good, GVW_OP_MEM_FREE, "q", mine), 0);
    free(pattern);
    free(back);
    still_fine();
}

/* (c) The handshake. */
static void wrong_token(void **state)
{
    (void)state;
    int before = rt_log_count(&srv, "refused: wrong token", NULL);
    struct rt_client c;
    char err[256];
    assert_int_equal(rt_connect(&c, &srv, "not-the-token", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_true(rt_log_wait(&srv, "refused: wrong token", NULL, before + 1, END_MS));
    /* A token that is a prefix of the right one is as wrong. */
    char prefix[sizeof(srv.token)];
    snprintf(prefix, sizeof(prefix), "%.*s", (int)strlen(srv.token) - 1, srv.token);
    assert_int_equal(rt_connect(&c, &srv, prefix, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "authentication failed"));
    assert_true(rt_log_wait(&srv, "refused: wrong token", NULL, before + 2, END_MS));
    still_fine();
}

/* Send the greeting and a HELLO with the given nonce and versions. */
static void hello(struct rt_client *c, const uint8_t nonce[GVA_NONCE], unsigned vmin, unsigned vmax)
{
    assert_int_equal(rt_send_raw(c, GVA_MAGIC, 8), 0);
    assert_int_equal(rt_send(c, GVW_OP_HELLO, 0, "iibs", vmin, vmax, nonce, (size_t)GVA_NONCE, ""),
                     0);
}

/* Read a handshake frame of op `op`; its fields in c->reply. */
static void expect_frame(struct rt_client *c, unsigned op)
{
    struct gvw_hdr h;
    assert_true(gvc_wait(c->c, END_MS) > 0);
    assert_int_equal(gvc_read_frame(c->c, &h, &c->in, GVA_MAX_FRAME), 0);
    assert_int_equal(h.op, op);
    assert_true(gvw_decode(gvw_op_request(op), c->in.p, c->in.len, &c->reply));
}

/* A PROOF recorded from a session that succeeded is worthless in a new connection, even with the
 * same client nonce: the server's nonce is new. */
static void replayed_handshake(void **state)
{
    (void)state;
    uint8_t cnonce[GVA_NONCE], mac[GVA_MAC];
    memset(cnonce, 0x42, sizeof(cnonce));
    struct rt_client c = {0};

    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    hello(&c, cnonce, GVW_VERSION, GVW_VERSION);
    expect_frame(&c, GVW_OP_CHALLENGE);
    char key[GVA_KEY];
    uint8_t msg[GVA_MSG];
    gva_key(srv.token, strlen(srv.token), key);
    gva_mac(key, msg, gva_client_message(c.reply.p[1], cnonce, "", msg), mac);
    assert_int_equal(rt_send(&c, GVW_OP_PROOF, 0, "b", mac, (size_t)GVA_MAC), 0);
    uint8_t recorded[GVW_HDR + 4 + GVA_MAC];
    assert_int_equal(c.out.len, sizeof(recorded));
    memcpy(recorded, c.out.p, sizeof(recorded));
    expect_frame(&c, GVW_OP_WELCOME);
    snprintf(c.name, sizeof(c.name), "%.*s", (int)c.reply.n[2], (const char *)c.reply.p[2]);
    assert_int_equal(rt_setup(&c), 0);
    assert_true(rt_round(&c, 4096));
    rt_close(&c);

    int before = rt_log_count(&srv, "refused: wrong token", NULL);
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    hello(&c, cnonce, GVW_VERSION, GVW_VERSION);
    expect_frame(&c, GVW_OP_CHALLENGE);
    assert_int_equal(rt_send_raw(&c, recorded, sizeof(recorded)), 0);
    expect_frame(&c, GVW_OP_REFUSED);
    assert_int_equal(c.reply.n[0], strlen("authentication failed"));
    assert_memory_equal(c.reply.p[0], "authentication failed", c.reply.n[0]);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: wrong token", NULL, before + 1, END_MS));
    still_fine();
}

static void wrong_greeting(void **state)
{
    (void)state;
    uint8_t cnonce[GVA_NONCE] = {1};
    int before = rt_log_count(&srv, "refused: not a gpuvisor remote client (bad greeting)", NULL);
    struct rt_client c = {0};
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    assert_int_equal(rt_send_raw(&c, "GVREMOTX", 8), 0);
    assert_int_equal(rt_send(&c, GVW_OP_HELLO, 0, "iibs", 1u, 1u, cnonce, (size_t)GVA_NONCE, ""),
                     0);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: not a gpuvisor remote client (bad greeting)", NULL,
                            before + 1, END_MS));

    /* A version the server does not speak. */
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    hello(&c, cnonce, GVW_VERSION + 1, GVW_VERSION + 5);
    expect_frame(&c, GVW_OP_REFUSED);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: the client speaks versions", NULL, 1, END_MS));

    /* A handshake frame over the handshake's limit. */
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    uint8_t h[GVW_HDR];
    struct gvw_hdr hdr = {GVA_MAX_FRAME + 1, GVW_OP_HELLO, 0, 0};
    gvw_hdr_put(h, &hdr);
    assert_int_equal(rt_send_raw(&c, GVA_MAGIC, 8), 0);
    assert_int_equal(rt_send_raw(&c, h, sizeof(h)), 0);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: handshake frame of 1025 bytes is over the limit", NULL,
                            1, END_MS));

    /* A call before any handshake. */
    c.c = rt_dial(&srv);
    assert_non_null(c.c);
    assert_int_equal(rt_send_raw(&c, GVA_MAGIC, 8), 0);
    assert_int_equal(rt_send(&c, GVW_OP_MEM_ALLOC, 0, "q", (uint64_t)4096), 0);
    expect_frame(&c, GVW_OP_REFUSED);
    assert_true(rt_ended(&c, END_MS));
    rt_close(&c);
    assert_true(rt_log_wait(&srv, "refused: malformed HELLO", NULL, 1, END_MS));
    still_fine();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lies_about_memory),
        cmocka_unit_test(garbage_before_handshake),
        cmocka_unit_test(garbage_after_handshake),
        cmocka_unit_test(frame_over_limit),
        cmocka_unit_test(truncated_frame),
        cmocka_unit_test(truncated_frame_then_silence),
        cmocka_unit_test(unknown_ops),
        cmocka_unit_test(malformed_bodies),
        cmocka_unit_test(copy_to_unowned),
        cmocka_unit_test(another_sessions_objects),
        cmocka_unit_test(wrong_token),
        cmocka_unit_test(replayed_handshake),
        cmocka_unit_test(wrong_greeting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
