/* SPDX-License-Identifier: Apache-2.0 */
/* session.c: serving one client's calls (srv.h). */
#include "remote/server/srv.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PFN_cuGetProcAddress_v12000 procaddr;
static PFN_cuCtxSetCurrent_v4000 set_current;
static void *shim_handle;

void srv_log(struct srv *s, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "gpuvisor-remoted: session %s: %s\n", s ? s->name : "-", line);
}

void *srv_sym(const char *name, int version)
{
    void *fn = NULL;
    CUdriverProcAddressQueryResult q;
    if (!procaddr || procaddr(name, &fn, version, CU_GET_PROC_ADDRESS_DEFAULT, &q) != CUDA_SUCCESS)
        return NULL;
    return fn;
}

void *srv_shim_handle(void)
{
    return shim_handle;
}

void srv_reply_begin(struct srv *s, const struct gvw_hdr *h)
{
    gvw_begin(&s->reply, h->op | GVW_REPLY, 0, 0);
    gvw_put_u32(&s->reply, 0);
}

int srv_reply_send(struct srv *s, uint32_t result)
{
    if (!gvw_end(&s->reply, s->max_frame))
        return -1;
    for (int i = 0; i < 4; i++)
        s->reply.p[GVW_HDR + i] = (uint8_t)(result >> (8 * i));
    return gvc_write(s->conn, s->reply.p, s->reply.len);
}

CUresult srv_take_pending(struct srv *s)
{
    CUresult r = s->pending;
    s->pending = CUDA_SUCCESS;
    return r;
}

int srv_bulk_in(struct srv *s, uint64_t n,
                CUresult (*chunk)(struct srv *, uint64_t, size_t, void *), void *arg)
{
    CUresult first = CUDA_SUCCESS;
    uint64_t off = 0;
    while (off < n) {
        size_t k = n - off > SRV_CHUNK ? SRV_CHUNK : (size_t)(n - off);
        if (gvc_read(s->conn, s->staging, k) != 0)
            return SRV_BROKEN;
        if (first == CUDA_SUCCESS && chunk)
            first = chunk(s, off, k, arg);
        off += k;
    }
    return first;
}

static const struct srv_group *const groups[] = {
    &srv_group_control, &srv_group_device, &srv_group_ctx,    &srv_group_mem,
    &srv_group_copy,    &srv_group_stream, &srv_group_module, &srv_group_nvml,
};

/* Ops are at most 0x3ff: a direct table. */
#define MAX_OP 0x400
static srv_handler table[MAX_OP];

/* Load the interposer and the handlers' driver functions. */
static bool setup(struct srv *s, const char *shim)
{
    void *h = dlopen(shim, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        srv_log(s, "cannot load the interposer %s: %s", shim, dlerror());
        return false;
    }
    shim_handle = h;
    procaddr = (PFN_cuGetProcAddress_v12000)dlsym(h, "cuGetProcAddress_v2");
    if (!procaddr) {
        srv_log(s, "the interposer %s has no cuGetProcAddress_v2", shim);
        return false;
    }
    set_current = (PFN_cuCtxSetCurrent_v4000)srv_sym("cuCtxSetCurrent", 4000);
    if (!set_current) {
        srv_log(s, "the driver has no cuCtxSetCurrent");
        return false;
    }
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (const struct srv_entry *e = groups[g]->entries; e && e->fn; e++)
            if (e->op < MAX_OP)
                table[e->op] = e->fn;
        if (groups[g]->init && !groups[g]->init(s))
            return false;
    }
    s->staging = malloc(SRV_CHUNK);
    if (!s->staging) {
        srv_log(s, "out of memory");
        return false;
    }
    return true;
}

/* Make the client thread's context current on ours. */
static CUresult use_ctx(struct srv *s, uint64_t ctx)
{
    if (ctx == s->cur_ctx)
        return CUDA_SUCCESS;
    if (ctx && !srv_has(s, SRV_CTX, ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    CUresult r = set_current((CUcontext)(uintptr_t)ctx);
    if (r == CUDA_SUCCESS)
        s->cur_ctx = ctx;
    return r;
}

int srv_serve(struct srv *s, const char *shim);

int srv_serve(struct srv *s, const char *shim)
{
    if (!setup(s, shim))
        return 1;
    struct gvw_buf body = {0};
    struct gvw_hdr h;
    struct gvw_args a;
    int status = 0;
    for (;;) {
        /* The next call of a busy client comes within microseconds: look for it for a while before
         * sleeping, since a sleep's wake-up costs more than the call. */
        int w = gvc_wait_spin(s->conn, GVC_SPIN_NS, s->keepalive_ms);
        if (w == 0) {
            srv_log(s, "closed: the client was silent for %d ms", s->keepalive_ms);
            status = 2;
            break;
        }
        if (w < 0) {
            srv_log(s, "closed: %s", strerror(errno));
            status = 2;
            break;
        }
        int r = gvc_read_frame(s->conn, &h, &body, s->max_frame);
        if (r == -2) {
            srv_log(s, "closed: a frame of %u bytes is over the limit of %u", h.len, s->max_frame);
            status = 2;
            break;
        }
        if (r != 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                srv_log(s, "closed: the client stopped in the middle of a frame for %d ms",
                        s->keepalive_ms);
            else if (errno)
                srv_log(s, "closed: %s", strerror(errno));
            else
                srv_log(s, "closed by the client");
            break;
        }
        srv_handler fn = h.op < MAX_OP ? table[h.op] : NULL;
        const char *name = gvw_op_name(h.op);
        if (!fn || (h.op & GVW_REPLY)) {
            srv_log(s, "closed: unknown op 0x%x", h.op);
            status = 2;
            break;
        }
        if (!gvw_decode(gvw_op_request(h.op), body.p, body.len, &a)) {
            srv_log(s, "closed: malformed %s frame (%u bytes)", name, h.len);
            status = 2;
            break;
        }
        if (h.op == GVW_OP_GOODBYE) {
            srv_log(s, "closed: the client said goodbye");
            break;
        }
        bool noreply = h.flags & GVW_F_NOREPLY;
        srv_reply_begin(s, &h);
        int res = use_ctx(s, h.ctx);
        if (res == CUDA_SUCCESS)
            res = fn(s, &h, &a, &s->reply);
        if (res == SRV_BROKEN) {
            srv_log(s, "closed: the connection broke during %s", name);
            status = 2;
            break;
        }
        if (res == SRV_REPLIED)
            continue;
        if (res != CUDA_SUCCESS)
            s->reply.len = GVW_HDR + 4; /* a failed call's reply is its result alone */
        if (noreply) {
            if (res != CUDA_SUCCESS && s->pending == CUDA_SUCCESS)
                s->pending = (CUresult)res;
            continue;
        }
        if (srv_reply_send(s, (uint32_t)res) != 0) {
            srv_log(s, "closed: cannot answer %s: %s", name, strerror(errno));
            status = 2;
            break;
        }
    }
    gvw_buf_free(&body);
    return status;
}
