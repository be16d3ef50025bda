/* SPDX-License-Identifier: Apache-2.0 */
/* wire.c: frames and fields of the remoting protocol (wire.h). */
#include "remote/wire.h"

#include <stdlib.h>
#include <string.h>

const char *gvw_op_name(unsigned op)
{
    switch (op & ~GVW_REPLY) {
#define OP(name, id, req, rep, desc)                                                               \
    case id:                                                                                       \
        return #name;
#include "remote/ops.def"
#undef OP
    default:
        return NULL;
    }
}

const char *gvw_op_request(unsigned op)
{
    switch (op & ~GVW_REPLY) {
#define OP(name, id, req, rep, desc)                                                               \
    case id:                                                                                       \
        return req;
#include "remote/ops.def"
#undef OP
    default:
        return NULL;
    }
}

const char *gvw_op_reply(unsigned op)
{
    switch (op & ~GVW_REPLY) {
#define OP(name, id, req, rep, desc)                                                               \
    case id:                                                                                       \
        return "i" rep;
#include "remote/ops.def"
#undef OP
    default:
        return NULL;
    }
}

static void le32(uint8_t *o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *o, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        o[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

void gvw_hdr_put(uint8_t out[GVW_HDR], const struct gvw_hdr *h)
{
    le32(out, h->len);
    out[4] = (uint8_t)h->op;
    out[5] = (uint8_t)(h->op >> 8);
    out[6] = (uint8_t)h->flags;
    out[7] = (uint8_t)(h->flags >> 8);
    le64(out + 8, h->ctx);
}

void gvw_hdr_get(const uint8_t in[GVW_HDR], struct gvw_hdr *h)
{
    h->len = rd32(in);
    h->op = (uint16_t)(in[4] | in[5] << 8);
    h->flags = (uint16_t)(in[6] | in[7] << 8);
    h->ctx = rd64(in + 8);
}

void gvw_buf_free(struct gvw_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void gvw_buf_reset(struct gvw_buf *b)
{
    b->len = 0;
    b->oom = false;
}

static uint8_t *room(struct gvw_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (n > SIZE_MAX / 2 - b->len) {
        b->oom = true;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return NULL;
        }
        b->p = p;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void gvw_put_u32(struct gvw_buf *b, uint32_t v)
{
    uint8_t *p = room(b, 4);
    if (p)
        le32(p, v);
}

void gvw_put_u64(struct gvw_buf *b, uint64_t v)
{
    uint8_t *p = room(b, 8);
    if (p)
        le64(p, v);
}

void gvw_put_raw(struct gvw_buf *b, const void *src, size_t n)
{
    uint8_t *p = room(b, n);
    if (p && n)
        memcpy(p, src, n);
}

void gvw_put_bytes(struct gvw_buf *b, const void *src, size_t n)
{
    if (n > UINT32_MAX) {
        b->oom = true;
        return;
    }
    gvw_put_u32(b, (uint32_t)n);
    gvw_put_raw(b, src, n);
}

void gvw_begin(struct gvw_buf *b, unsigned op, unsigned flags, uint64_t ctx)
{
    gvw_buf_reset(b);
    uint8_t *p = room(b, GVW_HDR);
    if (p) {
        struct gvw_hdr h = {0, (uint16_t)op, (uint16_t)flags, ctx};
        gvw_hdr_put(p, &h);
    }
}

bool gvw_end(struct gvw_buf *b, size_t max)
{
    if (b->oom || b->len < GVW_HDR || b->len - GVW_HDR > max)
        return false;
    le32(b->p, (uint32_t)(b->len - GVW_HDR));
    return true;
}

void gvw_rd_init(struct gvw_rd *r, const void *p, size_t n)
{
    r->p = p;
    r->left = n;
    r->bad = false;
}

static const uint8_t *take(struct gvw_rd *r, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint32_t gvw_u32(struct gvw_rd *r)
{
    const uint8_t *p = take(r, 4);
    return p ? rd32(p) : 0;
}

uint64_t gvw_u64(struct gvw_rd *r)
{
    const uint8_t *p = take(r, 8);
    return p ? rd64(p) : 0;
}

const void *gvw_bytes(struct gvw_rd *r, size_t *n)
{
    uint32_t len = gvw_u32(r);
    *n = 0;
    if (r->bad || len > GVW_MAX_FIELD || len > r->left) {
        r->bad = true;
        return NULL;
    }
    *n = len;
    return take(r, len);
}

bool gvw_text(struct gvw_rd *r, char *out, size_t max)
{
    size_t n;
    const char *p = gvw_bytes(r, &n);
    if (max)
        out[0] = '\0';
    if (!p || n >= max || memchr(p, '\0', n)) {
        r->bad = true;
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

bool gvw_raw(struct gvw_rd *r, void *out, size_t n)
{
    const uint8_t *p = take(r, n);
    if (!p) {
        memset(out, 0, n);
        return false;
    }
    memcpy(out, p, n);
    return true;
}

bool gvw_done(const struct gvw_rd *r)
{
    return !r->bad && r->left == 0;
}

bool gvw_decode(const char *fields, const void *body, size_t len, struct gvw_args *a)
{
    struct gvw_rd r;
    gvw_rd_init(&r, body, len);
    a->count = 0;
    if (!fields)
        return false;
    for (const char *f = fields; *f; f++) {
        int i = a->count;
        if (i >= GVW_MAX_ARGS)
            return false;
        a->v[i] = 0;
        a->p[i] = NULL;
        a->n[i] = 0;
        switch (*f) {
        case 'i':
            a->v[i] = gvw_u32(&r);
            break;
        case 'q':
            a->v[i] = gvw_u64(&r);
            break;
        case 'b':
        case 's':
            a->p[i] = gvw_bytes(&r, &a->n[i]);
            if (*f == 's' && a->p[i] && (a->n[i] > GVW_MAX_TEXT || memchr(a->p[i], '\0', a->n[i])))
                return false;
            break;
        default:
            return false;
        }
        if (r.bad)
            return false;
        a->count++;
    }
    return gvw_done(&r);
}

void gvw_arg_text(const struct gvw_args *a, int i, char *out, size_t max)
{
    if (!max)
        return;
    size_t n = a->n[i] < max - 1 ? a->n[i] : max - 1;
    if (n)
        memcpy(out, a->p[i], n);
    out[n] = '\0';
}
