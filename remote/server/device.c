/* SPDX-License-Identifier: Apache-2.0 */
/* device.c: the driver, its devices and their primary contexts. */
#include "remote/server/srv.h"

#include <string.h>

static PFN_cuInit_v2000 p_init;
static PFN_cuDriverGetVersion_v2020 p_version;
static PFN_cuDeviceGet_v2000 p_get;
static PFN_cuDeviceGetCount_v2000 p_count;
static PFN_cuDeviceGetName_v2000 p_name;
static PFN_cuDeviceGetUuid_v11040 p_uuid;
static PFN_cuDeviceTotalMem_v3020 p_total;
static PFN_cuDeviceGetAttribute_v2000 p_attr;
static PFN_cuDevicePrimaryCtxRetain_v7000 p_retain;
static PFN_cuDevicePrimaryCtxRelease_v11000 p_release;

#define DEV_OK(s, d)                                                                               \
    do {                                                                                           \
        if (!srv_device_ok(s, d))                                                                  \
            return CUDA_ERROR_INVALID_DEVICE;                                                      \
    } while (0)

static int h_init(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)h, (void)out;
    CUresult r = p_init((unsigned)a->v[0]);
    if (r == CUDA_SUCCESS) {
        int n = 0;
        if (p_count(&n) == CUDA_SUCCESS)
            s->device_count = n;
    }
    return r;
}

static int h_version(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                     struct gvw_buf *out)
{
    (void)s, (void)h, (void)a;
    int v = 0;
    CUresult r = p_version(&v);
    gvw_put_u32(out, (uint32_t)v);
    return r;
}

static int h_get(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                 struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[0]);
    CUdevice d = 0;
    CUresult r = p_get(&d, (int)a->v[0]);
    gvw_put_u32(out, (uint32_t)d);
    return r;
}

static int h_count(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                   struct gvw_buf *out)
{
    (void)h, (void)a;
    int n = 0;
    CUresult r = p_count(&n);
    if (r == CUDA_SUCCESS)
        s->device_count = n;
    gvw_put_u32(out, (uint32_t)n);
    return r;
}

static int h_name(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[0]);
    char name[256] = "";
    CUresult r = p_name(name, sizeof(name), (CUdevice)a->v[0]);
    gvw_put_bytes(out, name, strnlen(name, sizeof(name) - 1));
    return r;
}

static int h_uuid(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[0]);
    CUuuid u;
    memset(&u, 0, sizeof(u));
    CUresult r = p_uuid(&u, (CUdevice)a->v[0]);
    gvw_put_bytes(out, u.bytes, sizeof(u.bytes));
    return r;
}

static int h_total(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                   struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[0]);
    size_t bytes = 0;
    CUresult r = p_total(&bytes, (CUdevice)a->v[0]);
    gvw_put_u64(out, bytes);
    return r;
}

static int h_attr(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[1]);
    int v = 0;
    CUresult r = p_attr(&v, (CUdevice_attribute)a->v[0], (CUdevice)a->v[1]);
    gvw_put_u32(out, (uint32_t)v);
    return r;
}

static int h_retain(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                    struct gvw_buf *out)
{
    (void)h;
    DEV_OK(s, a->v[0]);
    CUcontext c = NULL;
    CUresult r = p_retain(&c, (CUdevice)a->v[0]);
    if (r == CUDA_SUCCESS && !srv_add(s, SRV_CTX, (uint64_t)(uintptr_t)c))
        r = CUDA_ERROR_OUT_OF_MEMORY;
    gvw_put_u64(out, (uint64_t)(uintptr_t)c);
    return r;
}

static int h_release(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                     struct gvw_buf *out)
{
    (void)h, (void)out;
    DEV_OK(s, a->v[0]);
    return p_release((CUdevice)a->v[0]);
}

static bool init(struct srv *s)
{
    (void)s;
    p_init = srv_sym("cuInit", 2000);
    p_version = srv_sym("cuDriverGetVersion", 2020);
    p_get = srv_sym("cuDeviceGet", 2000);
    p_count = srv_sym("cuDeviceGetCount", 2000);
    p_name = srv_sym("cuDeviceGetName", 2000);
    p_uuid = srv_sym("cuDeviceGetUuid", 11040);
    p_total = srv_sym("cuDeviceTotalMem", 3020);
    p_attr = srv_sym("cuDeviceGetAttribute", 2000);
    p_retain = srv_sym("cuDevicePrimaryCtxRetain", 7000);
    p_release = srv_sym("cuDevicePrimaryCtxRelease", 11000);
    if (!p_init || !p_count) {
        srv_log(s, "the driver lacks cuInit or cuDeviceGetCount");
        return false;
    }
    return true;
}

static const struct srv_entry entries[] = {
    {GVW_OP_INIT, h_init},
    {GVW_OP_DRIVER_VERSION, h_version},
    {GVW_OP_DEVICE_GET, h_get},
    {GVW_OP_DEVICE_COUNT, h_count},
    {GVW_OP_DEVICE_NAME, h_name},
    {GVW_OP_DEVICE_UUID, h_uuid},
    {GVW_OP_DEVICE_TOTAL_MEM, h_total},
    {GVW_OP_DEVICE_ATTRIBUTE, h_attr},
    {GVW_OP_PRIMARY_RETAIN, h_retain},
    {GVW_OP_PRIMARY_RELEASE, h_release},
    {0, NULL},
};

const struct srv_group srv_group_device = {entries, init};
