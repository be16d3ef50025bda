/* SPDX-License-Identifier: Apache-2.0 */
/* srv.h: one session of gpuvisor-remoted, in its own process.
 *
 * The listening process never touches the GPU: for each connection it forks a session process,
 * which runs the handshake, loads the interposer (libgpuvisor.so) with the session's limits in
 * its environment, and serves the client's calls through it. So the session is charged memory
 * and GPU time by exactly the code that charges a local process of an instance, a session's
 * contexts and memory live in its own process (the driver frees them all when it ends), and no
 * session can touch another's address space.
 *
 * Each call is a frame (wire.h); its body is checked against the op's fields by gvw_decode before
 * its handler runs. Handlers check every handle and device pointer against the session's own
 * objects (objects.c) before the driver sees it. */
#ifndef GVS_SRV_H
#define GVS_SRV_H

#include <stdbool.h>
#include <stdint.h>

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cudaTypedefs.h>

#include "remote/conn.h"
#include "remote/wire.h"

/* Kinds of objects a session owns. */
enum srv_kind {
    SRV_CTX,
    SRV_STREAM,
    SRV_EVENT,
    SRV_MODULE,
    SRV_FUNCTION,
    SRV_LIBRARY,
    SRV_KERNEL,
    SRV_POOL,
    SRV_MEMHANDLE, /* a VMM allocation handle */
    SRV_ARRAY,
    SRV_NKINDS
};

/* A set of 64-bit handles (open addressing). */
struct srv_set {
    uint64_t *slot;
    size_t cap, count;
};

/* Device memory the session may address: sorted, non-overlapping ranges. */
struct srv_range {
    uint64_t base, size;
    int kind;     /* SRV_MEM_* */
    uint64_t ctx; /* allocations and pool blocks: the context current when made; VMM: 0 */
};
enum { SRV_MEM_ALLOC = 1, SRV_MEM_POOL = 2, SRV_MEM_VMM_RESERVED = 3, SRV_MEM_VMM_MAPPED = 4 };

struct srv {
    struct gvc *conn;
    uint32_t max_frame;
    int keepalive_ms;
    char name[64];
    uint64_t cur_ctx; /* the context current on the session's thread */
    CUresult pending; /* the first error of a call sent without a reply */
    struct srv_set obj[SRV_NKINDS];
    struct srv_range *mem;
    size_t nmem, capmem;
    struct gvw_buf reply;
    void *staging; /* bulk copies' staging memory (SRV_CHUNK bytes) */
    int device_count;
    bool gpus_fixed;  /* the server chose the session's GPUs (an instance's): the client's
                         CUDA_VISIBLE_DEVICES is not applied */
    bool initialized; /* cuInit succeeded once */
};

#define SRV_CHUNK (4u << 20)

/* A handler's driver function that the driver lacks: the call is not supported. */
#define SRV_NEED(fn)                                                                               \
    do {                                                                                           \
        if (!(fn))                                                                                 \
            return CUDA_ERROR_NOT_SUPPORTED;                                                       \
    } while (0)

/* The arguments every handler takes. */
#define SRV_ARGS                                                                                   \
    struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a, struct gvw_buf *out
#define SRV_UNUSED (void)s, (void)h, (void)a, (void)out

/* ---- objects.c ---- */
bool srv_has(struct srv *s, enum srv_kind k, uint64_t h);
bool srv_add(struct srv *s, enum srv_kind k, uint64_t h); /* false: out of memory */
bool srv_del(struct srv *s, enum srv_kind k, uint64_t h); /* false: not there */
/* A stream handle the session may name: its own, or 0, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD. */
bool srv_stream_ok(struct srv *s, uint64_t stream);
/* A device ordinal that exists. */
bool srv_device_ok(struct srv *s, uint64_t dev);

bool srv_mem_add(struct srv *s, uint64_t base, uint64_t size, int kind);
/* Remove the range starting at base; its size and kind in size and kind. False when none starts
 * there. */
bool srv_mem_del(struct srv *s, uint64_t base, uint64_t *size, int *kind);
/* Whether [p, p+n) lies inside one range of one of the kinds in `kinds` (a bit mask of
 * 1 << SRV_MEM_*; 0 means any addressable kind: allocations, pool blocks and mapped VMM). n may be
 * 0 (then p must lie in a range). */
bool srv_mem_ok(struct srv *s, uint64_t p, uint64_t n, unsigned kinds);
/* A context is gone: forget the allocations and pool blocks made in it (the driver freed them). */
void srv_mem_drop_ctx(struct srv *s, uint64_t ctx);
/* The range holding p, or NULL. */
const struct srv_range *srv_mem_find(struct srv *s, uint64_t p);

/* ---- session.c ---- */

/* A driver function of the session (through the interposer), by the name cuGetProcAddress knows
 * and the CUDA version whose ABI the caller was written for. NULL when the driver lacks it. */
void *srv_sym(const char *name, int version);

/* The interposer's dlopen handle (NULL before the session is set up): dlsym on it finds the
 * interposer's own exports, such as its NVML wrappers that show the session's slice. */
void *srv_shim_handle(void);

/* A handler: decoded arguments in `a`, the reply's fields written into `out` after the result
 * (the caller writes the result; a failed call's reply is cut back to the result alone). Returns
 * the call's result. A handler that must send its reply itself (bulk to the client after it)
 * returns SRV_REPLIED after doing so; one whose connection broke returns SRV_BROKEN. */
typedef int (*srv_handler)(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                           struct gvw_buf *out);
#define SRV_REPLIED (-1)
#define SRV_BROKEN  (-2)

struct srv_entry {
    unsigned op;
    srv_handler fn;
};

/* A group of handlers: its entries (ending with {0, NULL}) and what it resolves once, before the
 * first call (false: the session cannot run). */
struct srv_group {
    const struct srv_entry *entries;
    bool (*init)(struct srv *s);
};

/* The groups, one per file. */
extern const struct srv_group srv_group_control, srv_group_device, srv_group_ctx, srv_group_mem,
    srv_group_copy, srv_group_stream, srv_group_module, srv_group_nvml;

/* Send the reply frame in s->reply with `result` patched in (for SRV_REPLIED handlers): the
 * handler built it with srv_reply_begin. Returns 0 or -1 (connection broken). */
void srv_reply_begin(struct srv *s, const struct gvw_hdr *h);
int srv_reply_send(struct srv *s, uint32_t result);

/* Bulk from the client: read n bytes in chunks of at most SRV_CHUNK into s->staging, calling
 * chunk(s, offset, bytes, arg) on each; after the first failed chunk the rest is read and
 * dropped. Returns the first failure (CUresult), or SRV_BROKEN when the connection broke. */
int srv_bulk_in(struct srv *s, uint64_t n,
                CUresult (*chunk)(struct srv *, uint64_t, size_t, void *), void *arg);

/* The error a call sent without a reply left (and forget it): synchronizing calls return it
 * before anything else, as a real GPU reports an asynchronous error at the next synchronization. */
CUresult srv_take_pending(struct srv *s);

/* Log a line about this session to stderr ("gpuvisor-remoted: session NAME: ..."). */
void srv_log(struct srv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
