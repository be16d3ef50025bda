/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c: streams and events. */
#include "remote/server/srv.h"

static PFN_cuStreamCreateWithPriority_v5050 p_create;
static PFN_cuStreamDestroy_v4000 p_destroy;
static PFN_cuStreamSynchronize_v2000 p_sync;

static int h_create(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_create);
    CUstream st = NULL;
    CUresult r = p_create(&st, (unsigned)a->v[0], (int)(int32_t)a->v[1]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_add(s, SRV_STREAM, (uint64_t)(uintptr_t)st)) {
        p_destroy(st);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, (uint64_t)(uintptr_t)st);
    return CUDA_SUCCESS;
}

static int h_destroy(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_has(s, SRV_STREAM, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = p_destroy((CUstream)(uintptr_t)a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_del(s, SRV_STREAM, a->v[0]);
    return r;
}

static int h_sync(SRV_ARGS)
{
    SRV_UNUSED;
    if (!srv_stream_ok(s, a->v[0]))
        return CUDA_ERROR_INVALID_HANDLE;
    CUresult r = srv_take_pending(s);
    if (r != CUDA_SUCCESS)
        return r;
    return p_sync((CUstream)(uintptr_t)a->v[0]);
}

static bool init(struct srv *s)
{
    p_create = srv_sym("cuStreamCreateWithPriority", 5050);
    p_destroy = srv_sym("cuStreamDestroy", 4000);
    p_sync = srv_sym("cuStreamSynchronize", 2000);
    if (!p_destroy || !p_sync) {
        srv_log(s, "the driver lacks cuStreamDestroy or cuStreamSynchronize");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_STREAM_CREATE, h_create},
    {GVW_OP_STREAM_DESTROY, h_destroy},
    {GVW_OP_STREAM_SYNCHRONIZE, h_sync},
    {0, NULL},
};

const struct srv_group srv_group_stream = {entries, init};
