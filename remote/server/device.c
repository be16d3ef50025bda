/* SPDX-License-Identifier: Apache-2.0 */
/* device.c: the driver, its devices and their primary contexts.
 *
 * Every ordinal is checked against the device count cuInit found. A primary context is one of the
 * session's contexts while the client holds a reference to it; when the last one goes (release or
 * reset), the session forgets it and what it owned, as the driver frees them. */
#define CUDA_ENABLE_DEPRECATED 1
#include "remote/server/exec.h"

#include <stdlib.h>
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
static PFN_cuDevicePrimaryCtxReset_v11000 p_reset;
static PFN_cuDevicePrimaryCtxSetFlags_v11000 p_set_flags;
static PFN_cuDevicePrimaryCtxSetFlags_v7000 p_set_flags_v1;
static PFN_cuDevicePrimaryCtxGetState_v7000 p_state;
static PFN_cuDeviceComputeCapability_v2000 p_capability;
static PFN_cuDeviceGetProperties_v2000 p_properties;
static PFN_cuDeviceGetPCIBusId_v4010 p_bus_id;
static PFN_cuDeviceGetByPCIBusId_v4010 p_by_bus_id;
static PFN_cuDeviceCanAccessPeer_v4000 p_can_peer;
static PFN_cuDeviceGetP2PAttribute_v8000 p_p2p;

/* Each device's primary context, as retain answered (0: never retained). */
#define MAX_DEVICES 64
static uint64_t primary[MAX_DEVICES];

#define DEV_OK(s, d)                                                                               \
    do {                                                                                           \
        if (!srv_device_ok(s, d))                                                                  \
            return CUDA_ERROR_INVALID_DEVICE;                                                      \
    } while (0)

static int h_init(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)h, (void)out;
    /* The client's CUDA_VISIBLE_DEVICES (when it has one) chooses among the session's GPUs as it
     * would among a local machine's: the driver reads it at the first cuInit. */
    if (!s->initialized && !s->gpus_fixed && a->v[1]) {
        char visible[GVW_MAX_TEXT + 1];
        gvw_arg_text(a, 2, visible, sizeof(visible));
        setenv("CUDA_VISIBLE_DEVICES", visible, 1);
    }
    CUresult r = p_init((unsigned)a->v[0]);
    if (r == CUDA_SUCCESS) {
        s->initialized = true;
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
    SRV_NEED(p_uuid);
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

static int h_retain(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_retain);
    CUcontext c = NULL;
    CUresult r = p_retain(&c, (CUdevice)a->v[0]);
    if (r != CUDA_SUCCESS)
        return r;
    uint64_t ctx = (uint64_t)(uintptr_t)c;
    if (!srv_add(s, SRV_CTX, ctx)) {
        p_release((CUdevice)a->v[0]);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (a->v[0] < MAX_DEVICES)
        primary[a->v[0]] = ctx;
    gvw_put_u64(out, ctx);
    return CUDA_SUCCESS;
}

/* After a release or reset: a primary context no longer active is gone, with what it owned. */
static void forget_if_inactive(struct srv *s, CUdevice dev)
{
    unsigned flags = 0;
    int active = 1;
    if (dev >= MAX_DEVICES || !primary[dev] || !p_state || p_state(dev, &flags, &active) != 0 ||
        active)
        return;
    srv_drop_owner(s, primary[dev]);
    srv_del(s, SRV_CTX, primary[dev]);
}

static int h_release(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_release);
    CUresult r = p_release((CUdevice)a->v[0]);
    if (r == CUDA_SUCCESS)
        forget_if_inactive(s, (CUdevice)a->v[0]);
    return r;
}

static int h_reset(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_reset);
    CUresult r = p_reset((CUdevice)a->v[0]);
    if (r == CUDA_SUCCESS)
        forget_if_inactive(s, (CUdevice)a->v[0]);
    return r;
}

/* PRIMARY_SET_FLAGS {device, flags, abi}: abi 1 is the pre-11 one, which refuses an active
 * context. */
static int h_set_flags(SRV_ARGS)
{
    SRV_UNUSED;
    if (a->v[2] == 1) {
        SRV_NEED(p_set_flags_v1);
        if (a->v[1] & ~(uint64_t)CU_CTX_FLAGS_MASK)
            return CUDA_ERROR_INVALID_VALUE;
        DEV_OK(s, a->v[0]);
        return p_set_flags_v1((CUdevice)a->v[0], (unsigned)a->v[1]);
    }
    SRV_NEED(p_set_flags);
    if (a->v[1] & ~(uint64_t)CU_CTX_FLAGS_MASK)
        return CUDA_ERROR_INVALID_VALUE;
    DEV_OK(s, a->v[0]);
    return p_set_flags((CUdevice)a->v[0], (unsigned)a->v[1]);
}

static int h_state(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_state);
    unsigned flags = 0;
    int active = 0;
    CUresult r = p_state((CUdevice)a->v[0], &flags, &active);
    gvw_put_u32(out, flags);
    gvw_put_u32(out, (uint32_t)active);
    return r;
}

static int h_capability(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_capability);
    int major = 0, minor = 0;
    CUresult r = p_capability(&major, &minor, (CUdevice)a->v[0]);
    gvw_put_u32(out, (uint32_t)major);
    gvw_put_u32(out, (uint32_t)minor);
    return r;
}

/* CUdevprop is a struct of ints: it travels raw, both ends little-endian. */
static int h_properties(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_properties);
    CUdevprop p;
    memset(&p, 0, sizeof(p));
    CUresult r = p_properties(&p, (CUdevice)a->v[0]);
    gvw_put_bytes(out, &p, sizeof(p));
    return r;
}

static int h_bus_id(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    SRV_NEED(p_bus_id);
    char id[64] = "";
    CUresult r = p_bus_id(id, sizeof(id), (CUdevice)a->v[0]);
    gvw_put_bytes(out, id, strnlen(id, sizeof(id) - 1));
    return r;
}

static int h_by_bus_id(SRV_ARGS)
{
    SRV_UNUSED;
    SRV_NEED(p_by_bus_id);
    char id[GVW_MAX_TEXT + 1];
    gvw_arg_text(a, 0, id, sizeof(id));
    CUdevice d = 0;
    CUresult r = p_by_bus_id(&d, id);
    gvw_put_u32(out, (uint32_t)d);
    return r;
}

static int h_can_peer(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[0]);
    DEV_OK(s, a->v[1]);
    SRV_NEED(p_can_peer);
    int can = 0;
    CUresult r = p_can_peer(&can, (CUdevice)a->v[0], (CUdevice)a->v[1]);
    gvw_put_u32(out, (uint32_t)can);
    return r;
}

/* P2P_ATTRIBUTE {attribute, source, destination} */
static int h_p2p(SRV_ARGS)
{
    SRV_UNUSED;
    DEV_OK(s, a->v[1]);
    DEV_OK(s, a->v[2]);
    SRV_NEED(p_p2p);
    int v = 0;
    CUresult r = p_p2p(&v, (CUdevice_P2PAttribute)a->v[0], (CUdevice)a->v[1], (CUdevice)a->v[2]);
    gvw_put_u32(out, (uint32_t)v);
    return r;
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
    p_reset = srv_sym("cuDevicePrimaryCtxReset", 11000);
    p_set_flags = srv_sym("cuDevicePrimaryCtxSetFlags", 11000);
    p_set_flags_v1 = srv_sym("cuDevicePrimaryCtxSetFlags", 7000);
    p_state = srv_sym("cuDevicePrimaryCtxGetState", 7000);
    p_capability = srv_sym("cuDeviceComputeCapability", 2000);
    p_properties = srv_sym("cuDeviceGetProperties", 2000);
    p_bus_id = srv_sym("cuDeviceGetPCIBusId", 4010);
    p_by_bus_id = srv_sym("cuDeviceGetByPCIBusId", 4010);
    p_can_peer = srv_sym("cuDeviceCanAccessPeer", 4000);
    p_p2p = srv_sym("cuDeviceGetP2PAttribute", 8000);
    if (!p_init || !p_count || !p_version || !p_get || !p_name || !p_total || !p_attr) {
        srv_log(s, "the driver lacks cuInit or a device query");
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
    {GVW_OP_PRIMARY_RESET, h_reset},
    {GVW_OP_PRIMARY_SET_FLAGS, h_set_flags},
    {GVW_OP_PRIMARY_GET_STATE, h_state},
    {GVW_OP_DEVICE_CAPABILITY, h_capability},
    {GVW_OP_DEVICE_PROPERTIES, h_properties},
    {GVW_OP_DEVICE_PCI_BUS_ID, h_bus_id},
    {GVW_OP_DEVICE_BY_PCI_BUS_ID, h_by_bus_id},
    {GVW_OP_DEVICE_CAN_ACCESS_PEER, h_can_peer},
    {GVW_OP_DEVICE_P2P_ATTRIBUTE, h_p2p},
    {0, NULL},
};

const struct srv_group srv_group_device = {entries, init};
