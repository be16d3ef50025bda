/* SPDX-License-Identifier: Apache-2.0 */
/* wire.h: gpuvisor's remoting protocol, as bytes.
 *
 * After the handshake (auth.h) both sides exchange frames. A frame is a 16-byte header and a body:
 *
 *   u32 len    bytes of the body that follow (at most the session's maximum frame)
 *   u16 op     the call (ops.def); a reply carries the op it answers with GVW_REPLY set
 *   u16 flags  GVW_F_*
 *   u64 ctx    the caller's current context on the calling thread (0: none); in a reply, 0
 *
 * Every integer is little-endian. A body is a sequence of fields read in a fixed order per op:
 * u32, u64 and byte strings (a u32 length and the bytes). A reply's body starts with the u32
 * CUresult (or nvmlReturn_t) of the call, then the call's outputs.
 *
 * Bulk data (a copy's bytes, a module's image) is not part of a frame: it follows the frame that
 * announces it, as exactly the number of raw bytes the frame names, so that it streams between
 * the socket and memory in chunks and never counts against the frame limit.
 *
 * Calls whose result nobody waits for carry GVW_F_NOREPLY: the server answers nothing and keeps
 * the first error it met, which the next synchronizing call returns. */
#ifndef GVW_WIRE_H
#define GVW_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GVW_VERSION   1
#define GVW_HDR       16
#define GVW_REPLY     0x8000u
#define GVW_F_NOREPLY 0x0001u

/* A function's parameter layout is (u32 offset, u32 size) per parameter. A driver that cannot say
 * a function's parameters (one without cuFuncGetParamInfo) is answered with the single pair
 * (GVW_LAYOUT_UNKNOWN, GVW_LAYOUT_UNKNOWN): the client then refuses launches that pass
 * kernelParams, which it could not pack, and takes those with a packed `extra` buffer. */
#define GVW_LAYOUT_UNKNOWN 0xffffffffu

/* The largest frame body either side accepts by default; a bigger one closes the session. */
#define GVW_MAX_FRAME_DEFAULT (1u << 20)
/* The largest byte string inside a frame body that a reader accepts (names, descriptors). */
#define GVW_MAX_FIELD (1u << 20)

enum gvw_op {
#define OP(name, id, req, rep, desc) GVW_OP_##name = id,
#include "remote/ops.def"
#undef OP
};

/* The op's name ("MEM_ALLOC"), or NULL for an op this build does not know. */
const char *gvw_op_name(unsigned op);

/* The fields of the op's request and reply bodies (ops.def), or NULL for an unknown op. */
const char *gvw_op_request(unsigned op);
const char *gvw_op_reply(unsigned op);

/* The longest text field. */
#define GVW_MAX_TEXT 4096
/* The most fields a body has. */
#define GVW_MAX_ARGS 16

/* A body decoded against its fields: numbers in v[], byte strings and texts in p[]/n[] (pointing
 * into the body; a text is not terminated). */
struct gvw_args {
    uint64_t v[GVW_MAX_ARGS];
    const void *p[GVW_MAX_ARGS];
    size_t n[GVW_MAX_ARGS];
    int count;
};

/* Decode body[0..len) against `fields`: every field present and well-formed, a text without NUL
 * and at most GVW_MAX_TEXT bytes, and nothing left over. Returns false otherwise. */
bool gvw_decode(const char *fields, const void *body, size_t len, struct gvw_args *a);

/* Copy text field i of a into out[max] with a terminator (the field was checked by gvw_decode). */
void gvw_arg_text(const struct gvw_args *a, int i, char *out, size_t max);

struct gvw_hdr {
    uint32_t len;
    uint16_t op;
    uint16_t flags;
    uint64_t ctx;
};

void gvw_hdr_put(uint8_t out[GVW_HDR], const struct gvw_hdr *h);
void gvw_hdr_get(const uint8_t in[GVW_HDR], struct gvw_hdr *h);

/* A growing buffer that frames are written into. On allocation failure `oom` is set and later
 * writes do nothing. */
struct gvw_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
    bool oom;
};

void gvw_buf_free(struct gvw_buf *b);
void gvw_buf_reset(struct gvw_buf *b);
void gvw_put_u32(struct gvw_buf *b, uint32_t v);
void gvw_put_u64(struct gvw_buf *b, uint64_t v);
/* A byte string: u32 length, then the bytes. */
void gvw_put_bytes(struct gvw_buf *b, const void *p, size_t n);
/* Raw bytes with no length (fixed-size structures whose size both sides know). */
void gvw_put_raw(struct gvw_buf *b, const void *p, size_t n);

/* Start a frame in `b` (resets it): the header is filled in by gvw_end. */
void gvw_begin(struct gvw_buf *b, unsigned op, unsigned flags, uint64_t ctx);
/* Write the body's length into the header. Returns false when the buffer ran out of memory or the
 * body is larger than `max`. */
bool gvw_end(struct gvw_buf *b, size_t max);

/* A reader over one frame body. Every read checks what is left: reading past the end, or a byte
 * string longer than what is left or than GVW_MAX_FIELD, sets `bad` and yields zeros/NULL. */
struct gvw_rd {
    const uint8_t *p;
    size_t left;
    bool bad;
};

void gvw_rd_init(struct gvw_rd *r, const void *p, size_t n);
uint32_t gvw_u32(struct gvw_rd *r);
uint64_t gvw_u64(struct gvw_rd *r);
/* A byte string: its bytes (pointing into the body) and *n; NULL and bad when malformed. */
const void *gvw_bytes(struct gvw_rd *r, size_t *n);
/* A byte string that must be a NUL-free text of at most max-1 bytes: copied with its terminator
 * into out[max]. Returns false (and sets bad) otherwise. */
bool gvw_text(struct gvw_rd *r, char *out, size_t max);
/* Exactly n raw bytes, copied into out. */
bool gvw_raw(struct gvw_rd *r, void *out, size_t n);
/* True when the body was read to its end without a fault. */
bool gvw_done(const struct gvw_rd *r);

#endif
