/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_device.c: cuInit, the driver's version, the devices and their primary contexts.
 *
 * Device calls need no context: they carry the calling thread's current context only while it
 * lives (exec.h), so that a context destroyed under a thread does not fail a device query. The
 * server checks every ordinal against its device count. */
#define CUDA_ENABLE_DEPRECATED 1
#include "remote/client/exec.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static bool init_done;

/* A child of fork() starts from cuInit, on a session of its own (client.c). */
static void forget_init(void)
{
    init_done = false;
}

__attribute__((constructor)) static void init_fork_safe(void)
{
    pthread_atfork(NULL, NULL, forget_init);
}

bool rc_initialized(void)
{
    return __atomic_load_n(&init_done, __ATOMIC_ACQUIRE);
}

#define NEED_INIT()                                                                                \
    do {                                                                                           \
        if (!rc_initialized())                                                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
    } while (0)

static CUresult begin(struct rc_call *c, unsigned op)
{
    return rc_begin_ctx(c, op, rcx_ctx_or_none());
}

CUresult RC_API cuInit(unsigned int Flags)
{
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, GVW_OP_INIT, 0);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, Flags);
    /* This process's choice of GPUs applies to the session's, as to a local machine's. */
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    size_t vl = visible ? strnlen(visible, GVW_MAX_TEXT + 1) : 0;
    if (vl > GVW_MAX_TEXT)
        return rc_end(&c, CUDA_ERROR_INVALID_VALUE);
    gvw_put_u32(c.b, visible != NULL);
    gvw_put_bytes(c.b, visible, vl);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        __atomic_store_n(&init_done, true, __ATOMIC_RELEASE);
    return r;
}

/* Answered before cuInit, as the runtime needs: it asks before it initializes. */
CUresult RC_API cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin_ctx(&c, GVW_OP_DRIVER_VERSION, 0);
    if (r != CUDA_SUCCESS)
        return r;
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *driverVersion = (int)c.r.v[1];
    return rc_end(&c, r);
}

/* A call taking up to three u32 and answering up to two u32 (NULL: not wanted). */
static CUresult u32_call(unsigned op, int nin, uint32_t a, uint32_t b, uint32_t c3, int *out1,
                         int *out2)
{
    struct rc_call c;
    CUresult r = begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    if (nin > 0)
        gvw_put_u32(c.b, a);
    if (nin > 1)
        gvw_put_u32(c.b, b);
    if (nin > 2)
        gvw_put_u32(c.b, c3);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && out1)
        *out1 = (int)(uint32_t)c.r.v[1];
    if (r == CUDA_SUCCESS && out2)
        *out2 = (int)(uint32_t)c.r.v[2];
    return rc_end(&c, r);
}

CUresult RC_API cuDeviceGet(CUdevice *device, int ordinal)
{
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_GET, 1, (uint32_t)ordinal, 0, 0, device, NULL);
}

CUresult RC_API cuDeviceGetCount(int *count)
{
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_COUNT, 0, 0, 0, 0, count, NULL);
}

/* A call on one device answering a text, copied into out[len] (truncated, terminated). */
static CUresult dev_text(unsigned op, CUdevice dev, char *out, int len)
{
    struct rc_call c;
    CUresult r = begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        gvw_arg_text(&c.r, 1, out, (size_t)len);
    return rc_end(&c, r);
}

CUresult RC_API cuDeviceGetName(char *name, int len, CUdevice dev)
{
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return dev_text(GVW_OP_DEVICE_NAME, dev, name, len);
}

CUresult RC_API cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
    if (!pciBusId || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return dev_text(GVW_OP_DEVICE_PCI_BUS_ID, dev, pciBusId, len);
}

CUresult RC_API cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId)
{
    if (!dev || !pciBusId)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    size_t n = strnlen(pciBusId, GVW_MAX_TEXT + 1);
    if (n > GVW_MAX_TEXT)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = begin(&c, GVW_OP_DEVICE_BY_PCI_BUS_ID);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_bytes(c.b, pciBusId, n);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *dev = (CUdevice)c.r.v[1];
    return rc_end(&c, r);
}

/* A call on one device answering a fixed-size byte string, copied into out[n]. */
static CUresult dev_bytes(unsigned op, CUdevice dev, void *out, size_t n)
{
    struct rc_call c;
    CUresult r = begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        if (c.r.n[1] == n)
            memcpy(out, c.r.p[1], n);
        else
            r = CUDA_ERROR_UNKNOWN; /* a server built against another layout */
    }
    return rc_end(&c, r);
}

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return dev_bytes(GVW_OP_DEVICE_UUID, dev, uuid->bytes, sizeof(uuid->bytes));
}

CUresult RC_API cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}

CUresult RC_API cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}

CUresult RC_API cuDeviceGetProperties(CUdevprop *prop, CUdevice dev)
{
    if (!prop)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return dev_bytes(GVW_OP_DEVICE_PROPERTIES, dev, prop, sizeof(*prop));
}

CUresult RC_API cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    struct rc_call c;
    CUresult r = begin(&c, GVW_OP_DEVICE_TOTAL_MEM);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *bytes = (size_t)c.r.v[1];
    return rc_end(&c, r);
}

/* The CUDA 2.0 ABI: a 32-bit count, saturated. */
CUresult RC_API cuDeviceTotalMem(unsigned int *bytes, CUdevice dev)
{
    size_t b = 0;
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = cuDeviceTotalMem_v2(&b, dev);
    if (r == CUDA_SUCCESS)
        *bytes = b > UINT32_MAX ? UINT32_MAX : (unsigned)b;
    return r;
}

CUresult RC_API cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_ATTRIBUTE, 2, (uint32_t)attrib, (uint32_t)dev, 0, pi, NULL);
}

CUresult RC_API cuDeviceComputeCapability(int *major, int *minor, CUdevice dev)
{
    if (!major || !minor)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_CAPABILITY, 1, (uint32_t)dev, 0, 0, major, minor);
}

CUresult RC_API cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev)
{
    if (!canAccessPeer)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_CAN_ACCESS_PEER, 2, (uint32_t)dev, (uint32_t)peerDev, 0,
                    canAccessPeer, NULL);
}

CUresult RC_API cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib,
                                        CUdevice srcDevice, CUdevice dstDevice)
{
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    return u32_call(GVW_OP_DEVICE_P2P_ATTRIBUTE, 3, (uint32_t)attrib, (uint32_t)srcDevice,
                    (uint32_t)dstDevice, value, NULL);
}

/* ---- primary contexts: the client counts its own references (exec.h) ---- */

CUresult RC_API cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    struct rc_call c;
    CUresult r = begin(&c, GVW_OP_PRIMARY_RETAIN);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    uint64_t h = c.r.v[1];
    rc_end(&c, r);
    if (r == CUDA_SUCCESS) {
        rc_ctx_known(h);
        rcx_primary_retained(dev, h);
        *pctx = (CUcontext)(uintptr_t)h;
    }
    return r;
}

static CUresult primary_drop(unsigned op, CUdevice dev)
{
    NEED_INIT();
    CUresult r = u32_call(op, 1, (uint32_t)dev, 0, 0, NULL, NULL);
    if (r == CUDA_SUCCESS)
        rcx_primary_released(dev, op == GVW_OP_PRIMARY_RESET);
    return r;
}

CUresult RC_API cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    return primary_drop(GVW_OP_PRIMARY_RELEASE, dev);
}

CUresult RC_API cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return primary_drop(GVW_OP_PRIMARY_RELEASE, dev);
}

CUresult RC_API cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    return primary_drop(GVW_OP_PRIMARY_RESET, dev);
}

CUresult RC_API cuDevicePrimaryCtxReset(CUdevice dev)
{
    return primary_drop(GVW_OP_PRIMARY_RESET, dev);
}

/* The third field says which ABI: before CUDA 11 an active primary context's flags could not
 * change. */
CUresult RC_API cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags)
{
    NEED_INIT();
    return u32_call(GVW_OP_PRIMARY_SET_FLAGS, 3, (uint32_t)dev, flags, 0, NULL, NULL);
}

CUresult RC_API cuDevicePrimaryCtxSetFlags(CUdevice dev, unsigned int flags)
{
    NEED_INIT();
    return u32_call(GVW_OP_PRIMARY_SET_FLAGS, 3, (uint32_t)dev, flags, 1, NULL, NULL);
}

CUresult RC_API cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active)
{
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    NEED_INIT();
    int f = 0;
    CUresult r = u32_call(GVW_OP_PRIMARY_GET_STATE, 1, (uint32_t)dev, 0, 0, &f, active);
    if (r == CUDA_SUCCESS)
        *flags = (unsigned)f;
    return r;
}
