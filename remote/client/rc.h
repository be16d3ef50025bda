/* SPDX-License-Identifier: Apache-2.0 */
/* rc.h: the client side of remoting, shared by the client's libcuda.so.1 and libnvidia-ml.so.1
 * (both link libgpuvisor-remote.so, so a process has one connection and one session).
 *
 * The connection is made on the first call that needs it, from GPUVISOR_REMOTE (the address),
 * GPUVISOR_REMOTE_TOKEN or GPUVISOR_REMOTE_TOKEN_FILE (the token), GPUVISOR_REMOTE_INSTANCE (an
 * instance of the server's gpuvisord to join), and for tls: GPUVISOR_REMOTE_CA (a CA file) and
 * GPUVISOR_REMOTE_INSECURE=1 (no verification). One connection serves every thread; a call holds
 * it from its first byte sent to its reply's last byte read.
 *
 * Calls that need no answer are queued in a send buffer: that is what makes launches cheap. The
 * first one after the connection was idle for 100 us goes out at once, so that the GPU starts on
 * it while the program goes on; those that follow it go out together, with the next call that
 * waits for an answer, when the buffer fills, or when the first of them has waited 100 us (the
 * connection's own thread sends them). That thread also sends a keepalive every
 * GPUVISOR_REMOTE_PING seconds (1 by default) while nothing else is sent, so that the server can
 * tell a silent client from a dead one. */
#ifndef GVRC_RC_H
#define GVRC_RC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include "remote/wire.h"

#define RC_EXPORT __attribute__((visibility("default")))

/* Connect once (every later call returns the first answer). CUDA_SUCCESS, or
 * CUDA_ERROR_NO_DEVICE when the server cannot be reached or refuses us (the reason is printed to
 * stderr once). */
RC_EXPORT CUresult rc_connect(void);

/* What a call builds and reads. */
struct rc_call {
    unsigned op;
    struct gvw_buf *b; /* the frame being built (points into the connection) */
    struct gvw_args r; /* the reply's fields after the result (r.v[0] is the result) */
};

/* Start a call: connect if needed, take the connection, and begin a frame of `op` carrying the
 * calling thread's current context. Returns CUDA_SUCCESS (the connection is then held until
 * rc_end) or the reason no call can be made. */
RC_EXPORT CUresult rc_begin(struct rc_call *c, unsigned op);
/* As rc_begin, naming the context to send (0: none). */
RC_EXPORT CUresult rc_begin_ctx(struct rc_call *c, unsigned op, uint64_t ctx);

/* Send the frame and wait for its reply; returns the call's result, with its fields in c->r
 * (r.v[1]... on success). A reply that does not match the op's fields breaks the connection. */
RC_EXPORT CUresult rc_wait(struct rc_call *c);

/* Queue the frame with no reply wanted. Returns CUDA_SUCCESS or the connection's failure. */
RC_EXPORT CUresult rc_post(struct rc_call *c);

/* Send the frame followed by n bytes of bulk data from p (no copy), then wait for the reply
 * (wait) or not. */
RC_EXPORT CUresult rc_send_bulk(struct rc_call *c, const void *p, uint64_t n, bool wait);

/* Send the frame, wait for its reply, and when it is a success read n bytes of bulk data into p. */
RC_EXPORT CUresult rc_wait_bulk(struct rc_call *c, void *p, uint64_t n);

/* Give the connection back (after rc_wait/rc_post/rc_send_bulk, rc_wait_bulk, or instead of them).
 * Returns r. */
RC_EXPORT CUresult rc_end(struct rc_call *c, CUresult r);

/* ---- contexts: the current one is the client's to keep, per thread ---- */

/* The calling thread's current context (0: none). */
RC_EXPORT uint64_t rc_ctx_current(void);
/* Replace the top of the calling thread's stack (cuCtxSetCurrent). */
RC_EXPORT void rc_ctx_set(uint64_t ctx);
/* Push / pop (cuCtxPushCurrent / cuCtxPopCurrent). Pop returns the context popped, 0 if none. */
RC_EXPORT bool rc_ctx_push(uint64_t ctx);
RC_EXPORT uint64_t rc_ctx_pop(void);
/* Contexts the server handed out, so that a bad handle is refused here. */
RC_EXPORT void rc_ctx_known(uint64_t ctx);
RC_EXPORT bool rc_ctx_is_known(uint64_t ctx);
/* A context was destroyed: forget it, and pop it from the calling thread's stack if on top. */
RC_EXPORT void rc_ctx_forget(uint64_t ctx);

/* Print a line to stderr: "gpuvisor remote: ...". */
RC_EXPORT void rc_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
