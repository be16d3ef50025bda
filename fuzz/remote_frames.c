/* SPDX-License-Identifier: Apache-2.0 */
/* remote_frames.c (fuzz): the frames of the remoting protocol (remote/wire.h, remote/auth.h), which
 * gpuvisor-remoted reads from anyone who can reach its socket, before and after the handshake.
 *
 * The input is a frame as it crosses the wire: a 16-byte header (shorter inputs are padded with
 * zeros) and the body that follows. It goes through every decoder the server and the client run on
 * such bytes:
 *   - gvw_hdr_get, and gvw_hdr_put of what it read gives the same 16 bytes back;
 *   - gvw_decode of the body against every op's request and reply fields: what it accepts has
 *     exactly one value per field, byte strings inside the body, texts without NUL and at most
 *     GVW_MAX_TEXT bytes, and written again with gvw_put_* gives the body back byte for byte (so
 *     nothing is skipped or left over);
 *   - gva_hello_decode and gva_proof_decode, under the header's op and under the op they expect:
 *     a refusal has a terminated, non-empty reason; an accepted HELLO names an instance of the
 *     characters instance names allow;
 *   - gvc_read_frame over a socketpair holding the whole input, frame after frame until it fails:
 *     a frame read has a body of exactly its length and within the limit, a frame over the limit
 *     is refused (-2) without reading its body. */
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "remote/auth.h"
#include "remote/conn.h"
#include "remote/wire.h"

/* Every op of the protocol, from the one list of them. */
static const unsigned ops[] = {
#define OP(name, id, req, rep, desc) id,
#include "remote/ops.def"
#undef OP
};

/* The largest frame the socketpair pass accepts: small, so that the limit is met often. */
#define READ_MAX 4096
/* What the socketpair pass writes: well within a socket's buffer, so the write never blocks. */
#define PAIR_MAX (64 * 1024)

static void decode_one(const char *fields, const uint8_t *body, size_t len)
{
    struct gvw_args a;
    if (!gvw_decode(fields, body, len, &a))
        return;
    fuzz_check(a.count == (int)strlen(fields));
    struct gvw_buf again = {0};
    for (int i = 0; i < a.count; i++) {
        switch (fields[i]) {
        case 'i':
            fuzz_check(a.v[i] <= UINT32_MAX);
            gvw_put_u32(&again, (uint32_t)a.v[i]);
            break;
        case 'q':
            gvw_put_u64(&again, a.v[i]);
            break;
        default: {
            const uint8_t *p = a.p[i];
            fuzz_check(p != NULL || a.n[i] == 0);
            if (p)
                fuzz_check(p >= body && a.n[i] <= len && (size_t)(p - body) <= len - a.n[i]);
            if (fields[i] == 's') {
                fuzz_check(a.n[i] <= GVW_MAX_TEXT);
                fuzz_check(!a.n[i] || !memchr(p, '\0', a.n[i]));
                char text[GVW_MAX_TEXT + 1];
                gvw_arg_text(&a, i, text, sizeof(text));
                fuzz_check(strlen(text) == a.n[i]);
            }
            gvw_put_bytes(&again, p, a.n[i]);
            break;
        }
        }
    }
    fuzz_check(!again.oom && again.len == len);
    fuzz_check(len == 0 || memcmp(again.p, body, len) == 0);
    gvw_buf_free(&again);
}

static void handshake(struct gvw_hdr h, const uint8_t *body, size_t len)
{
    char err[256];
    struct gva_hello hello;
    uint8_t mac[GVA_MAC];
    /* The server reads h.len bytes of body: give the decoders what the input holds. */
    h.len = (uint32_t)len;
    memset(err, 'x', sizeof(err));
    if (gva_hello_decode(&h, body, &hello, err, sizeof(err))) {
        fuzz_check(h.op == GVW_OP_HELLO);
        for (const char *w = hello.who; *w; w++)
            fuzz_check((*w >= 'a' && *w <= 'z') || (*w >= 'A' && *w <= 'Z') ||
                       (*w >= '0' && *w <= '9') || *w == '-' || *w == '_' || *w == '.');
        fuzz_check(strlen(hello.who) < GVA_MAX_WHO);
    } else {
        fuzz_check(memchr(err, '\0', sizeof(err)) && err[0]);
    }
    memset(err, 'x', sizeof(err));
    if (gva_proof_decode(&h, body, mac, err, sizeof(err)))
        fuzz_check(h.op == GVW_OP_PROOF && len == 4 + GVA_MAC);
    else
        fuzz_check(memchr(err, '\0', sizeof(err)) && err[0]);
}

static void read_frames(const uint8_t *data, size_t size)
{
    int sv[2];
    char err[128];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        abort();
    size_t n = size < PAIR_MAX ? size : PAIR_MAX;
    if (n && write(sv[1], data, n) != (ssize_t)n)
        abort();
    close(sv[1]);
    struct gvc *c = gvc_accept(sv[0], NULL, 0, err, sizeof(err));
    fuzz_check(c != NULL);
    struct gvw_buf body = {0};
    struct gvw_hdr h;
    size_t consumed = 0;
    for (;;) {
        int r = gvc_read_frame(c, &h, &body, READ_MAX);
        if (r == -2) {
            fuzz_check(h.len > READ_MAX);
            break;
        }
        if (r != 0)
            break;
        fuzz_check(body.len == h.len && h.len <= READ_MAX);
        consumed += GVW_HDR + h.len;
        fuzz_check(consumed <= n);
        fuzz_check(h.len == 0 || memcmp(body.p, data + consumed - h.len, h.len) == 0);
    }
    gvw_buf_free(&body);
    gvc_close(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t raw[GVW_HDR] = {0}, again[GVW_HDR];
    memcpy(raw, data, size < GVW_HDR ? size : GVW_HDR);
    struct gvw_hdr h;
    gvw_hdr_get(raw, &h);
    gvw_hdr_put(again, &h);
    fuzz_check(memcmp(raw, again, GVW_HDR) == 0);

    const uint8_t *body = size > GVW_HDR ? data + GVW_HDR : data + size;
    size_t len = size > GVW_HDR ? size - GVW_HDR : 0;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        fuzz_check(gvw_op_name(ops[i]) && gvw_op_name(ops[i] | GVW_REPLY));
        decode_one(gvw_op_request(ops[i]), body, len);
        decode_one(gvw_op_reply(ops[i]), body, len);
    }
    /* The header's own op, whatever it is (an unknown one has no fields and decodes nothing). */
    struct gvw_args a;
    if (!gvw_op_request(h.op))
        fuzz_check(!gvw_decode(gvw_op_request(h.op), body, len, &a));

    handshake(h, body, len);
    struct gvw_hdr as = h;
    as.op = GVW_OP_HELLO;
    handshake(as, body, len);
    as.op = GVW_OP_PROOF;
    handshake(as, body, len);

    read_frames(data, size);
    return 0;
}
