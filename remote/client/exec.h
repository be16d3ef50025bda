/* SPDX-License-Identifier: Apache-2.0 */
/* exec.h (remote/client): what the client's device, context, stream and module files share.
 *
 * The client keeps a record of the handles the server gave it (streams, events, modules,
 * functions, libraries, kernels) and of what owns each, so that a call with a bad or stale handle
 * is refused at once, with the driver's answer, even when the call itself goes out without a
 * reply (launches, records, waits). The server checks every handle again: this record is for
 * answering at the call, not for safety. */
#ifndef GVRC_EXEC_H
#define GVRC_EXEC_H

#include "remote/client/cuda.h"

/* ---- cuda_objects.c: the handles the server gave this process ---- */

enum rco_kind { RCO_STREAM, RCO_EVENT, RCO_MODULE, RCO_FUNCTION, RCO_LIBRARY, RCO_KERNEL };

/* Record handle h of a kind, owned by `owner` (a context, module, library or kernel; 0: none).
 * False when out of memory. */
bool rco_add(enum rco_kind k, uint64_t h, uint64_t owner);
bool rco_has(enum rco_kind k, uint64_t h);
/* The owner of a recorded handle (0 when unknown). */
uint64_t rco_owner(enum rco_kind k, uint64_t h);
/* Forget a handle and everything it owns, transitively. False when it was not recorded. */
bool rco_del(enum rco_kind k, uint64_t h);
/* Forget everything `owner` owns, transitively (a context that died). */
void rco_drop_owner(uint64_t owner);
/* A function's (or kernel's) parameter layout as the server sent it: (u32 offset, u32 size) per
 * parameter. */
void rco_set_layout(enum rco_kind k, uint64_t h, const void *pairs, size_t n);
/* Where parameter i of function (or kernel) f lies: CUDA_ERROR_INVALID_HANDLE for a handle this
 * process does not hold, CUDA_ERROR_INVALID_VALUE past the last parameter. */
CUresult rco_param_info(uint64_t f, size_t i, size_t *off, size_t *size);
/* Whether f names a launchable function: a module's function or a library's kernel. */
bool rco_launchable(uint64_t f);

/* ---- cuda_ctx.c: the calling thread's context ---- */

/* Whether a context handle names a live context: one the server handed out, not destroyed, and
 * for a primary context, still retained. */
bool rcx_ctx_alive(uint64_t ctx);
/* The context a call that needs one runs in: the calling thread's current context.
 * CUDA_ERROR_NOT_INITIALIZED before cuInit, CUDA_ERROR_INVALID_CONTEXT when there is none,
 * CUDA_ERROR_CONTEXT_IS_DESTROYED when it died under the thread. */
CUresult rcx_current(uint64_t *ctx);
/* The context to send with a call that needs none: the current one while it lives, else 0 (so
 * that a stale current context does not fail a call that does not use it). */
uint64_t rcx_ctx_or_none(void);
/* A primary context was retained (refs+1) or released (to 0: dead) on device dev. */
void rcx_primary_retained(int dev, uint64_t ctx);
void rcx_primary_released(int dev, bool all);

/* ---- cuda_stream.c ---- */

/* Check a stream argument and say which context to send with it: a created stream must be one
 * this process holds (CUDA_ERROR_INVALID_HANDLE); a default stream needs a live current context.
 * *wire is the handle to send: the per-thread default stream's for 0 when per_thread (the _ptsz
 * and _ptds entry points). */
CUresult rcx_stream(CUstream st, bool per_thread, uint64_t *wire, uint64_t *ctx);

/* Wait until the host functions and stream callbacks queued so far have run (the synchronizing
 * calls' last step). */
void rcx_host_funcs_wait(void);

#endif
