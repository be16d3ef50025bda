/* SPDX-License-Identifier: Apache-2.0 */
/* cuda_device.c: cuInit, the driver's version and the devices. */
#include "remote/client/cuda.h"

#include <string.h>

static bool init_done;

bool rc_initialized(void)
{
    return __atomic_load_n(&init_done, __ATOMIC_ACQUIRE);
}

CUresult rc_simple(unsigned op)
{
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    return rc_end(&c, rc_wait(&c));
}

CUresult RC_API cuInit(unsigned int Flags)
{
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_INIT);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, Flags);
    r = rc_end(&c, rc_wait(&c));
    if (r == CUDA_SUCCESS)
        __atomic_store_n(&init_done, true, __ATOMIC_RELEASE);
    return r;
}

#define NEED_INIT()                                                                                \
    do {                                                                                           \
        if (!rc_initialized())                                                                     \
            return CUDA_ERROR_NOT_INITIALIZED;                                                     \
    } while (0)

CUresult RC_API cuDriverGetVersion(int *driverVersion)
{
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DRIVER_VERSION);
    if (r != CUDA_SUCCESS)
        return r;
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *driverVersion = (int)c.r.v[1];
    return rc_end(&c, r);
}

/* A call taking one u32 and answering one u32. */
static CUresult u32_u32(unsigned op, uint32_t in, int *outv)
{
    struct rc_call c;
    CUresult r = rc_begin(&c, op);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, in);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS && outv)
        *outv = (int)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuDeviceGet(CUdevice *device, int ordinal)
{
    NEED_INIT();
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    return u32_u32(GVW_OP_DEVICE_GET, (uint32_t)ordinal, device);
}

CUresult RC_API cuDeviceGetCount(int *count)
{
    NEED_INIT();
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DEVICE_COUNT);
    if (r != CUDA_SUCCESS)
        return r;
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *count = (int)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuDeviceGetName(char *name, int len, CUdevice dev)
{
    NEED_INIT();
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DEVICE_NAME);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        gvw_arg_text(&c.r, 1, name, (size_t)len);
    return rc_end(&c, r);
}

static CUresult get_uuid(CUuuid *uuid, CUdevice dev)
{
    NEED_INIT();
    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DEVICE_UUID);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        if (c.r.n[1] == sizeof(uuid->bytes))
            memcpy(uuid->bytes, c.r.p[1], sizeof(uuid->bytes));
        else
            r = CUDA_ERROR_UNKNOWN;
    }
    return rc_end(&c, r);
}

CUresult RC_API cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}

CUresult RC_API cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    return get_uuid(uuid, dev);
}

CUresult RC_API cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    NEED_INIT();
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DEVICE_TOTAL_MEM);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *bytes = (size_t)c.r.v[1];
    return rc_end(&c, r);
}

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
    NEED_INIT();
    if (!pi)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_DEVICE_ATTRIBUTE);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)attrib);
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS)
        *pi = (int)c.r.v[1];
    return rc_end(&c, r);
}

CUresult RC_API cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    NEED_INIT();
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    struct rc_call c;
    CUresult r = rc_begin(&c, GVW_OP_PRIMARY_RETAIN);
    if (r != CUDA_SUCCESS)
        return r;
    gvw_put_u32(c.b, (uint32_t)dev);
    r = rc_wait(&c);
    if (r == CUDA_SUCCESS) {
        *pctx = (CUcontext)(uintptr_t)c.r.v[1];
        rc_ctx_known(c.r.v[1]);
    }
    return rc_end(&c, r);
}

CUresult RC_API cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    NEED_INIT();
    return u32_u32(GVW_OP_PRIMARY_RELEASE, (uint32_t)dev, NULL);
}

CUresult RC_API cuDevicePrimaryCtxRelease(CUdevice dev)
{
    return cuDevicePrimaryCtxRelease_v2(dev);
}
