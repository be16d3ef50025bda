/* SPDX-License-Identifier: Apache-2.0 */
/* auth.c: the remoting handshake (auth.h). */
#include "remote/auth.h"

#include "core/sha256.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char CLIENT_LABEL[] = "gpuvisor-remote client";
static const char SERVER_LABEL[] = "gpuvisor-remote server";

void gva_key(const void *token, size_t tlen, char key[GVA_KEY])
{
    uint8_t d[GV_SHA256_LEN];
    gv_sha256(token, tlen, d);
    gv_hex(d, sizeof(d), key);
    explicit_bzero(d, sizeof(d));
}

size_t gva_client_message(const uint8_t snonce[GVA_NONCE], const uint8_t cnonce[GVA_NONCE],
                          const char *who, uint8_t out[GVA_MSG])
{
    size_t n = 0, wl = strnlen(who, GVA_MAX_WHO - 1);
    memcpy(out, CLIENT_LABEL, sizeof(CLIENT_LABEL));
    n += sizeof(CLIENT_LABEL);
    memcpy(out + n, snonce, GVA_NONCE);
    n += GVA_NONCE;
    memcpy(out + n, cnonce, GVA_NONCE);
    n += GVA_NONCE;
    memcpy(out + n, who, wl);
    return n + wl;
}

size_t gva_server_message(const uint8_t cnonce[GVA_NONCE], const uint8_t snonce[GVA_NONCE],
                          uint8_t out[GVA_MSG])
{
    memcpy(out, SERVER_LABEL, sizeof(SERVER_LABEL));
    memcpy(out + sizeof(SERVER_LABEL), cnonce, GVA_NONCE);
    memcpy(out + sizeof(SERVER_LABEL) + GVA_NONCE, snonce, GVA_NONCE);
    return sizeof(SERVER_LABEL) + 2 * GVA_NONCE;
}

void gva_mac(const char key[GVA_KEY], const uint8_t *msg, size_t n, uint8_t out[GVA_MAC])
{
    gv_hmac_sha256(key, GVA_KEY - 1, msg, n, out);
}

int gva_verify_tokens(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                      const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                      uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen)
{
    const struct gva_tokens *t = arg;
    uint8_t want[GVA_MAC];
    bool found = false;
    /* Every key is tried, whatever matched, so the time taken says nothing about which. */
    for (size_t i = 0; i < t->count; i++) {
        gva_mac(t->tok[i], cmsg, cn, want);
        if (gv_equal_ct(want, proof, GVA_MAC) && !found) {
            found = true;
            *token = i;
        }
    }
    if (!found) {
        snprintf(err, errlen, "wrong token");
        return -1;
    }
    if (who[0]) {
        snprintf(err, errlen, "asked to join instance '%s', which needs gpuvisord", who);
        return -1;
    }
    gva_mac(t->tok[*token], smsg, sn, sproof);
    return 0;
}

bool gva_random(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        n -= (size_t)r;
    }
    return true;
}

/* The tokens of a file: their keys, or (keys false) the tokens themselves. */
static int load(const char *path, struct gva_tokens *t, bool keys, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[GVA_MAX_TOKEN + 8];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            snprintf(err, errlen, "token file %s: line %d is longer than %d bytes", path, lineno,
                     GVA_MAX_TOKEN);
            goto fail;
        }
        char *s = line, *e = line + len;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        *e = '\0';
        if (!*s || *s == '#')
            continue;
        char **grown = realloc(t->tok, (t->count + 1) * sizeof(*grown));
        char key[GVA_KEY];
        if (keys)
            gva_key(s, strlen(s), key);
        char *copy = strdup(keys ? key : s);
        explicit_bzero(line, sizeof(line));
        explicit_bzero(key, sizeof(key));
        if (!grown || !copy) {
            free(copy);
            if (grown)
                t->tok = grown;
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        t->tok = grown;
        t->tok[t->count++] = copy;
    }
    fclose(f);
    if (!t->count) {
        snprintf(err, errlen, "token file %s holds no token", path);
        gva_tokens_free(t);
        return -1;
    }
    return 0;
fail:
    fclose(f);
    gva_tokens_free(t);
    return -1;
}

int gva_tokens_load(const char *path, struct gva_tokens *t, char *err, size_t errlen)
{
    return load(path, t, true, err, errlen);
}

int gva_token_read(const char *path, char *out, size_t max, char *err, size_t errlen)
{
    struct gva_tokens t;
    if (load(path, &t, false, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (strlen(t.tok[0]) < max) {
        strcpy(out, t.tok[0]);
    } else {
        snprintf(err, errlen, "the token in %s is too long", path);
        rc = -1;
    }
    gva_tokens_free(&t);
    return rc;
}

void gva_tokens_free(struct gva_tokens *t)
{
    for (size_t i = 0; i < t->count; i++) {
        explicit_bzero(t->tok[i], strlen(t->tok[i]));
        free(t->tok[i]);
    }
    free(t->tok);
    memset(t, 0, sizeof(*t));
}

bool gva_hello_decode(const struct gvw_hdr *h, const void *body, struct gva_hello *out, char *err,
                      size_t errlen)
{
    struct gvw_args a;
    memset(out, 0, sizeof(*out));
    if (h->op != GVW_OP_HELLO || h->len > GVA_MAX_FRAME ||
        !gvw_decode(gvw_op_request(GVW_OP_HELLO), body, h->len, &a)) {
        snprintf(err, errlen, "malformed HELLO");
        return false;
    }
    if (a.n[2] != GVA_NONCE || a.n[3] >= GVA_MAX_WHO) {
        snprintf(err, errlen, "malformed HELLO (nonce of %zu bytes, instance of %zu)", a.n[2],
                 a.n[3]);
        return false;
    }
    out->vmin = (uint32_t)a.v[0];
    out->vmax = (uint32_t)a.v[1];
    memcpy(out->cnonce, a.p[2], GVA_NONCE);
    gvw_arg_text(&a, 3, out->who, sizeof(out->who));
    for (const char *w = out->who; *w; w++)
        if (!isalnum((unsigned char)*w) && *w != '-' && *w != '_' && *w != '.') {
            snprintf(err, errlen, "malformed HELLO (the instance name has a byte 0x%02x)",
                     (unsigned char)*w);
            return false;
        }
    return true;
}

bool gva_proof_decode(const struct gvw_hdr *h, const void *body, uint8_t mac[GVA_MAC], char *err,
                      size_t errlen)
{
    struct gvw_args a;
    if (h->op != GVW_OP_PROOF || h->len > GVA_MAX_FRAME ||
        !gvw_decode(gvw_op_request(GVW_OP_PROOF), body, h->len, &a) || a.n[0] != GVA_MAC) {
        snprintf(err, errlen, "malformed PROOF");
        return false;
    }
    memcpy(mac, a.p[0], GVA_MAC);
    return true;
}

static int send_frame(struct gvc *c, struct gvw_buf *b)
{
    if (!gvw_end(b, GVA_MAX_FRAME))
        return -1;
    return gvc_write(c, b->p, b->len);
}

static void refuse(struct gvc *c, const char *why)
{
    struct gvw_buf b = {0};
    gvw_begin(&b, GVW_OP_REFUSED, 0, 0);
    gvw_put_bytes(&b, why, strlen(why));
    send_frame(c, &b);
    gvw_buf_free(&b);
}

/* Read one handshake frame, waiting at most timeout_ms for it to start. */
static int read_small(struct gvc *c, int timeout_ms, struct gvw_hdr *h, struct gvw_buf *body,
                      char *err, size_t errlen)
{
    int w = gvc_wait(c, timeout_ms);
    if (w <= 0) {
        snprintf(err, errlen, w == 0 ? "handshake timed out" : "handshake: %s", strerror(errno));
        return -1;
    }
    int r = gvc_read_frame(c, h, body, GVA_MAX_FRAME);
    if (r == -2) {
        snprintf(err, errlen, "handshake frame of %u bytes is over the limit of %d", h->len,
                 GVA_MAX_FRAME);
        return -1;
    }
    if (r != 0) {
        snprintf(err, errlen, "handshake: connection closed");
        return -1;
    }
    return 0;
}

int gva_server(struct gvc *c, gva_verify_fn verify, void *arg, int timeout_ms, const char *name,
               uint32_t max_frame, struct gva_session *out, char *err, size_t errlen)
{
    struct gvw_buf body = {0}, b = {0};
    struct gvw_hdr h;
    struct gva_hello hello;
    uint8_t magic[8], snonce[GVA_NONCE], mac[GVA_MAC], want[GVA_MAC];
    int rc = -1;
    memset(out, 0, sizeof(*out));

    if (gvc_wait(c, timeout_ms) <= 0 || gvc_read(c, magic, sizeof(magic)) != 0) {
        snprintf(err, errlen, "no greeting");
        goto done;
    }
    if (memcmp(magic, GVA_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a gpuvisor remote client (bad greeting)");
        goto done;
    }
    if (read_small(c, timeout_ms, &h, &body, err, errlen) != 0)
        goto done;
    if (!gva_hello_decode(&h, body.p, &hello, err, errlen)) {
        refuse(c, err);
        goto done;
    }
    if (hello.vmin > GVW_VERSION || hello.vmax < GVW_VERSION) {
        snprintf(err, errlen, "the client speaks versions %u to %u, this server %d", hello.vmin,
                 hello.vmax, GVW_VERSION);
        refuse(c, err);
        goto done;
    }
    if (!gva_random(snonce, sizeof(snonce))) {
        snprintf(err, errlen, "no random bytes for a nonce");
        refuse(c, "server error");
        goto done;
    }
    gvw_begin(&b, GVW_OP_CHALLENGE, 0, 0);
    gvw_put_u32(&b, GVW_VERSION);
    gvw_put_bytes(&b, snonce, sizeof(snonce));
    if (send_frame(c, &b) != 0) {
        snprintf(err, errlen, "handshake: connection closed");
        goto done;
    }
    if (read_small(c, timeout_ms, &h, &body, err, errlen) != 0)
        goto done;
    if (!gva_proof_decode(&h, body.p, mac, err, errlen)) {
        refuse(c, err);
        goto done;
    }
    uint8_t cmsg[GVA_MSG], smsg[GVA_MSG];
    size_t cn = gva_client_message(snonce, hello.cnonce, hello.who, cmsg);
    size_t sn = gva_server_message(hello.cnonce, snonce, smsg);
    if (verify(arg, hello.who, cmsg, cn, mac, smsg, sn, want, &out->token, err, errlen) != 0) {
        refuse(c, "authentication failed");
        goto done;
    }
    memcpy(mac, want, sizeof(mac));
    gvw_begin(&b, GVW_OP_WELCOME, 0, 0);
    gvw_put_bytes(&b, mac, sizeof(mac));
    gvw_put_u32(&b, max_frame);
    gvw_put_bytes(&b, name, strlen(name));
    if (send_frame(c, &b) != 0) {
        snprintf(err, errlen, "handshake: connection closed");
        goto done;
    }
    memcpy(out->who, hello.who, sizeof(out->who));
    rc = 0;
done:
    gvw_buf_free(&body);
    gvw_buf_free(&b);
    return rc;
}

int gva_client(struct gvc *c, const void *token, size_t tlen, const char *who, int timeout_ms,
               uint32_t *max_frame, char *name, size_t namelen, char *err, size_t errlen)
{
    struct gvw_buf body = {0}, b = {0};
    struct gvw_hdr h;
    struct gvw_args a;
    uint8_t cnonce[GVA_NONCE], snonce[GVA_NONCE], mac[GVA_MAC], msg[GVA_MSG];
    char key[GVA_KEY] = "";
    int rc = -1;
    if (!who)
        who = "";
    if (strlen(who) >= GVA_MAX_WHO) {
        snprintf(err, errlen, "instance name longer than %d bytes", GVA_MAX_WHO - 1);
        return -1;
    }
    if (!gva_random(cnonce, sizeof(cnonce))) {
        snprintf(err, errlen, "no random bytes for a nonce");
        return -1;
    }
    gvw_begin(&b, GVW_OP_HELLO, 0, 0);
    gvw_put_u32(&b, GVW_VERSION);
    gvw_put_u32(&b, GVW_VERSION);
    gvw_put_bytes(&b, cnonce, sizeof(cnonce));
    gvw_put_bytes(&b, who, strlen(who));
    if (!gvw_end(&b, GVA_MAX_FRAME) || gvc_write(c, GVA_MAGIC, 8) != 0 ||
        gvc_write(c, b.p, b.len) != 0) {
        snprintf(err, errlen, "cannot send the greeting: %s", strerror(errno));
        goto done;
    }
    if (read_small(c, timeout_ms, &h, &body, err, errlen) != 0)
        goto done;
    if (h.op == GVW_OP_REFUSED && gvw_decode("s", body.p, h.len, &a)) {
        char why[256];
        gvw_arg_text(&a, 0, why, sizeof(why));
        snprintf(err, errlen, "refused by the server: %s", why);
        goto done;
    }
    if (h.op != GVW_OP_CHALLENGE || !gvw_decode(gvw_op_request(h.op), body.p, h.len, &a) ||
        a.n[1] != GVA_NONCE || a.v[0] != GVW_VERSION) {
        snprintf(err, errlen, "the server answered something else than a challenge");
        goto done;
    }
    memcpy(snonce, a.p[1], GVA_NONCE);
    gva_key(token, tlen, key);
    gva_mac(key, msg, gva_client_message(snonce, cnonce, who, msg), mac);
    gvw_begin(&b, GVW_OP_PROOF, 0, 0);
    gvw_put_bytes(&b, mac, sizeof(mac));
    if (send_frame(c, &b) != 0) {
        snprintf(err, errlen, "cannot send the proof: %s", strerror(errno));
        goto done;
    }
    if (read_small(c, timeout_ms, &h, &body, err, errlen) != 0)
        goto done;
    if (h.op == GVW_OP_REFUSED && gvw_decode("s", body.p, h.len, &a)) {
        char why[256];
        gvw_arg_text(&a, 0, why, sizeof(why));
        snprintf(err, errlen, "refused by the server: %s", why);
        goto done;
    }
    if (h.op != GVW_OP_WELCOME || !gvw_decode(gvw_op_request(h.op), body.p, h.len, &a) ||
        a.n[0] != GVA_MAC) {
        snprintf(err, errlen, "the server answered something else than a welcome");
        goto done;
    }
    gva_mac(key, msg, gva_server_message(cnonce, snonce, msg), mac);
    explicit_bzero(key, sizeof(key));
    if (!gv_equal_ct(mac, a.p[0], GVA_MAC)) {
        snprintf(err, errlen, "the server could not prove it knows the token");
        goto done;
    }
    *max_frame = (uint32_t)a.v[1];
    gvw_arg_text(&a, 2, name, namelen);
    rc = 0;
done:
    explicit_bzero(key, sizeof(key));
    explicit_bzero(mac, sizeof(mac));
    gvw_buf_free(&body);
    gvw_buf_free(&b);
    return rc;
}
