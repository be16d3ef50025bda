/* SPDX-License-Identifier: Apache-2.0 */
/* mem.c: device memory. Every range the driver hands out is recorded (objects.c) so that later
 * calls can name only the session's own memory. */
#include "remote/server/srv.h"

static PFN_cuMemAlloc_v3020 p_alloc;
static PFN_cuMemFree_v3020 p_free;
static PFN_cuMemGetInfo_v3020 p_info;

static int h_alloc(SRV_ARGS)
{
    SRV_UNUSED;
    CUdeviceptr p = 0;
    CUresult r = p_alloc(&p, (size_t)a->v[0]);
    if (r != CUDA_SUCCESS)
        return r;
    if (!srv_mem_add(s, p, a->v[0], SRV_MEM_ALLOC)) {
        p_free(p);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    gvw_put_u64(out, p);
    return CUDA_SUCCESS;
}

static int h_free(SRV_ARGS)
{
    SRV_UNUSED;
    const struct srv_range *m = srv_mem_find(s, a->v[0]);
    if (a->v[0] == 0)
        return CUDA_SUCCESS;
    if (!m || m->base != a->v[0] || m->kind != SRV_MEM_ALLOC)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = p_free(a->v[0]);
    if (r == CUDA_SUCCESS)
        srv_mem_del(s, a->v[0], NULL, NULL);
    return r;
}

static int h_info(SRV_ARGS)
{
    SRV_UNUSED;
    size_t fr = 0, total = 0;
    CUresult r = p_info(&fr, &total);
    gvw_put_u64(out, fr);
    gvw_put_u64(out, total);
    return r;
}

static bool init(struct srv *s)
{
    p_alloc = srv_sym("cuMemAlloc", 3020);
    p_free = srv_sym("cuMemFree", 3020);
    p_info = srv_sym("cuMemGetInfo", 3020);
    if (!p_alloc || !p_free || !p_info) {
        srv_log(s, "the driver lacks cuMemAlloc, cuMemFree or cuMemGetInfo");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_MEM_ALLOC, h_alloc},
    {GVW_OP_MEM_FREE, h_free},
    {GVW_OP_MEM_GET_INFO, h_info},
    {0, NULL},
};

const struct srv_group srv_group_mem = {entries, init};
