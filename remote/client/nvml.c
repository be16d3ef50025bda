/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: the client's libnvidia-ml.so.1: NVML's queries answered by the server's GPUs.
 *
 * It shares the process's one connection with the client's libcuda.so.1 (rc.h). The server
 * answers through the interposer of the session, so memory figures and process lists are the
 * session's slice (total = the server's --memory), as NVML shows a slice to a local process.
 *
 * What stays here: the reference count of nvmlInit/nvmlShutdown (the server hears only the first
 * init and the last shutdown), the device count (read once at init, as NVML fixes its devices at
 * init), argument checks, and the count protocol of the list calls, so that every NVML version of
 * a call is one op. A device handle is the address of an entry of a static array, one per NVML
 * index: it is checked by address alone and stays valid for the life of the process.
 *
 * Results are NVML's codes. A server that cannot be reached (or refuses us) is a driver that is
 * not loaded; a connection that breaks later makes every call fail with NVML_ERROR_UNKNOWN. */
#include "remote/client/rc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/nvml.h"
#include "core/nvml_text.h"
#include "remote/nvml_wire.h"

#define NV_API RC_EXPORT

/* The most devices a client sees: more than any machine has. */
#define MAX_DEVICES 64

struct nvmlDevice_st {
    unsigned index; /* for a reader in a debugger: handles are checked by address */
};

static struct nvmlDevice_st devices[MAX_DEVICES];

/* refs is written under init_lock and read without it (acquire), after ndev (release). */
/* The session process serving this one: in process lists it is this process. */
static unsigned session_pid;

static unsigned shown(unsigned pid)
{
    return pid && pid == session_pid ? (unsigned)getpid() : pid;
}

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static int refs;

/* A child of fork() has a session of its own (client.c): its NVML starts uninitialized. */
static void nvml_fork_child(void)
{
    pthread_mutex_init(&init_lock, NULL);
    refs = 0;
}

__attribute__((constructor)) static void nvml_fork_safe(void)
{
    pthread_atfork(NULL, NULL, nvml_fork_child);
}
static unsigned ndev;

static bool initialized(void)
{
    return __atomic_load_n(&refs, __ATOMIC_ACQUIRE) > 0;
}

/* A result from the connection or the server: NVML's code, or the connection's CUresult. */
static nvmlReturn_t to_nvml(CUresult r)
{
    unsigned v = (unsigned)r;
    if (v <= NVML_ERROR_INVALID_STATE || v == NVML_ERROR_UNKNOWN)
        return (nvmlReturn_t)v;
    return NVML_ERROR_UNKNOWN;
}

/* Start a call (no CUDA context: NVML has none). */
static nvmlReturn_t begin(struct rc_call *c, unsigned op)
{
    CUresult r = rc_begin_ctx(c, op, 0);
    if (r == CUDA_SUCCESS)
        return NVML_SUCCESS;
    return r == CUDA_ERROR_NO_DEVICE ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_ERROR_UNKNOWN;
}

/* Send, wait, and hold the connection for reading c->r; finish with end(). */
static nvmlReturn_t call(struct rc_call *c)
{
    return to_nvml(rc_wait(c));
}

static nvmlReturn_t end(struct rc_call *c, nvmlReturn_t r)
{
    rc_end(c, CUDA_SUCCESS);
    return r;
}

/* ---------------------------------------------------------------- init and shutdown */

NV_API nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    nvmlReturn_t r = NVML_SUCCESS;
    pthread_mutex_lock(&init_lock);
    if (refs == 0) {
        struct rc_call c;
        r = begin(&c, GVW_OP_NVML_INIT);
        if (r == NVML_SUCCESS) {
            gvw_put_u32(c.b, flags);
            r = call(&c);
            if (r == NVML_SUCCESS) {
                uint64_t n = c.r.v[1];
                session_pid = (unsigned)c.r.v[2];
                ndev = n > MAX_DEVICES ? MAX_DEVICES : (unsigned)n;
                for (unsigned i = 0; i < ndev; i++)
                    devices[i].index = i;
                if (n > MAX_DEVICES)
                    rc_log("the server has %llu GPUs; NVML shows the first %d",
                           (unsigned long long)n, MAX_DEVICES);
            }
            end(&c, r);
        }
    }
    if (r == NVML_SUCCESS)
        __atomic_store_n(&refs, refs + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&init_lock);
    return r;
}

NV_API nvmlReturn_t nvmlInit_v2(void)
{
    return nvmlInitWithFlags(0);
}

NV_API nvmlReturn_t nvmlInit(void)
{
    return nvmlInitWithFlags(0);
}

NV_API nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t r = NVML_SUCCESS;
    pthread_mutex_lock(&init_lock);
    if (refs == 0) {
        r = NVML_ERROR_UNINITIALIZED;
    } else {
        /* The last reference goes whatever the server says: the caller is done with NVML. */
        if (refs == 1) {
            struct rc_call c;
            r = begin(&c, GVW_OP_NVML_SHUTDOWN);
            if (r == NVML_SUCCESS)
                r = end(&c, call(&c));
        }
        __atomic_store_n(&refs, refs - 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&init_lock);
    return r;
}

NV_API const char *nvmlErrorString(nvmlReturn_t result)
{
    if (result == NVML_ERROR_DRIVER_NOT_LOADED)
        return "Driver not loaded (the gpuvisor server cannot be reached)";
    return gv_nvml_error_text(result);
}

/* ---------------------------------------------------------------- helpers */

/* The NVML index a handle names. */
static nvmlReturn_t device_index(nvmlDevice_t h, unsigned *index)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!h)
        return NVML_ERROR_INVALID_ARGUMENT;
    uintptr_t p = (uintptr_t)h, base = (uintptr_t)devices;
    if (p < base || p >= base + sizeof(devices) || (p - base) % sizeof(devices[0]) != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned i = (unsigned)((p - base) / sizeof(devices[0]));
    if (i >= ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = i;
    return NVML_SUCCESS;
}

/* Copy text field i of the reply to dst[length], as NVML does: NULL is invalid, too short is
 * NVML_ERROR_INSUFFICIENT_SIZE. */
static nvmlReturn_t put_text(const struct gvw_args *a, int i, char *dst, unsigned length)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (length < a->n[i] + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, a->p[i], a->n[i]);
    dst[a->n[i]] = '\0';
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- system */

/* which: 1 driver version, 2 NVML version (texts of the reply); 3 the CUDA version. */
static nvmlReturn_t system_query(int which, char *text, unsigned length, int *version)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (which < 3 ? !text : !version)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    nvmlReturn_t r = begin(&c, GVW_OP_NVML_SYSTEM);
    if (r != NVML_SUCCESS)
        return r;
    r = call(&c);
    if (r == NVML_SUCCESS) {
        if (which < 3)
            r = put_text(&c.r, which, text, length);
        else
            *version = (int)c.r.v[3];
    }
    return end(&c, r);
}

NV_API nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    return system_query(1, version, length, NULL);
}

NV_API nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    return system_query(2, version, length, NULL);
}

NV_API nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    return system_query(3, NULL, 0, cudaDriverVersion);
}

NV_API nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    return system_query(3, NULL, 0, cudaDriverVersion);
}

/* ---------------------------------------------------------------- finding devices */

NV_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!deviceCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = ndev;
    return NVML_SUCCESS;
}

NV_API nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    return nvmlDeviceGetCount_v2(deviceCount);
}

NV_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return NVML_SUCCESS;
}

NV_API nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

static nvmlReturn_t find(enum gvn_find kind, const char *key, nvmlDevice_t *device)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!key || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(key) > GVW_MAX_TEXT)
        return kind == GVN_FIND_UUID ? NVML_ERROR_NOT_FOUND : NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    nvmlReturn_t r = begin(&c, GVW_OP_NVML_DEVICE_FIND);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, kind);
    gvw_put_bytes(c.b, key, strlen(key));
    r = call(&c);
    if (r == NVML_SUCCESS) {
        if (c.r.v[1] < ndev)
            *device = &devices[c.r.v[1]];
        else
            r = NVML_ERROR_NOT_FOUND; /* past the devices this client shows */
    }
    return end(&c, r);
}

NV_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    return find(GVN_FIND_UUID, uuid, device);
}

NV_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
    return find(GVN_FIND_PCI_BUS_ID, pciBusId, device);
}

NV_API nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
    return find(GVN_FIND_PCI_BUS_ID, pciBusId, device);
}

/* ---------------------------------------------------------------- identity */

static nvmlReturn_t device_text(nvmlDevice_t device, enum gvn_text what, char *dst, unsigned length)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_TEXT);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    gvw_put_u32(c.b, what);
    r = call(&c);
    if (r == NVML_SUCCESS)
        r = put_text(&c.r, 1, dst, length);
    return end(&c, r);
}

NV_API nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    return device_text(device, GVN_TEXT_NAME, name, length);
}

NV_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    return device_text(device, GVN_TEXT_UUID, uuid, length);
}

/* NVML_DEVICE_VALUE: the reply's two numbers into v0 and v1 (either may be NULL). */
static nvmlReturn_t device_value(nvmlDevice_t device, enum gvn_value what, uint32_t arg,
                                 unsigned *v0, unsigned *v1)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_VALUE);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    gvw_put_u32(c.b, what);
    gvw_put_u32(c.b, arg);
    r = call(&c);
    if (r == NVML_SUCCESS) {
        if (v0)
            *v0 = (unsigned)c.r.v[1];
        if (v1)
            *v1 = (unsigned)c.r.v[2];
    }
    return end(&c, r);
}

/* The index is the handle's own: no call needed. */
NV_API nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = i;
    return NVML_SUCCESS;
}

NV_API nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!minorNumber)
        return NVML_ERROR_INVALID_ARGUMENT;
    return device_value(device, GVN_VALUE_MINOR, 0, minorNumber, NULL);
}

/* Writes the legacy prefix always and the 32-byte bus id only when `full`: the older calls may be
 * handed a structure that ends after the prefix. */
static nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci, bool full)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!pci)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_PCI);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    r = call(&c);
    if (r == NVML_SUCCESS) {
        /* Whole fields, padding after the terminator included, as the library writes them. */
        memset(pci->busIdLegacy, 0, sizeof(pci->busIdLegacy));
        gvw_arg_text(&c.r, 1, pci->busIdLegacy, sizeof(pci->busIdLegacy));
        pci->domain = (unsigned)c.r.v[2];
        pci->bus = (unsigned)c.r.v[3];
        pci->device = (unsigned)c.r.v[4];
        pci->pciDeviceId = (unsigned)c.r.v[5];
        pci->pciSubSystemId = (unsigned)c.r.v[6];
        if (full) {
            memset(pci->busId, 0, sizeof(pci->busId));
            gvw_arg_text(&c.r, 7, pci->busId, sizeof(pci->busId));
        }
    }
    return end(&c, r);
}

NV_API nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, true);
}

NV_API nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, false);
}

NV_API nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, false);
}

NV_API nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!major || !minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned ma, mi;
    r = device_value(device, GVN_VALUE_CAPABILITY, 0, &ma, &mi);
    if (r == NVML_SUCCESS) {
        *major = (int)ma;
        *minor = (int)mi;
    }
    return r;
}

NV_API nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                              unsigned int *clockMHz)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!clockMHz)
        return NVML_ERROR_INVALID_ARGUMENT;
    return device_value(device, GVN_VALUE_MAX_CLOCK, (uint32_t)type, clockMHz, NULL);
}

NV_API nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!busWidth)
        return NVML_ERROR_INVALID_ARGUMENT;
    return device_value(device, GVN_VALUE_BUS_WIDTH, 0, busWidth, NULL);
}

/* ---------------------------------------------------------------- memory and utilization */

/* out: total, reserved, free, used. */
static nvmlReturn_t memory(nvmlDevice_t device, enum gvn_memory version, uint64_t out[4])
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_MEMORY);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    gvw_put_u32(c.b, version);
    r = call(&c);
    if (r == NVML_SUCCESS)
        for (int k = 0; k < 4; k++)
            out[k] = c.r.v[1 + k];
    return end(&c, r);
}

NV_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *mem)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!mem)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t m[4];
    r = memory(device, GVN_MEMORY_V1, m);
    if (r == NVML_SUCCESS) {
        mem->total = m[0];
        mem->free = m[2];
        mem->used = m[3];
    }
    return r;
}

NV_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *mem)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!mem)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (mem->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    uint64_t m[4];
    r = memory(device, GVN_MEMORY_V2, m);
    if (r == NVML_SUCCESS) {
        mem->total = m[0];
        mem->reserved = m[1];
        mem->free = m[2];
        mem->used = m[3];
    }
    return r;
}

NV_API nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                  nvmlUtilization_t *utilization)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!utilization)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_UTILIZATION);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    r = call(&c);
    if (r == NVML_SUCCESS) {
        utilization->gpu = (unsigned)c.r.v[1];
        utilization->memory = (unsigned)c.r.v[2];
    }
    return end(&c, r);
}

/* ---------------------------------------------------------------- processes */

/* Whether a reply's records (field 2) are `count` records of `size` bytes. */
static bool records_ok(const struct gvw_args *a, uint64_t count, size_t size)
{
    return count <= GVN_MAX_RECORDS && a->n[2] == count * size;
}

static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *count, void *infos,
                                      bool v1)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!count || (!infos && *count != 0))
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_DEVICE_PROCESSES);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    r = call(&c);
    if (r != NVML_SUCCESS)
        return end(&c, r);
    uint64_t n = c.r.v[1];
    if (!records_ok(&c.r, n, GVN_PROCESS_BYTES))
        return end(&c, NVML_ERROR_UNKNOWN);
    unsigned cap = *count;
    *count = (unsigned)n;
    if (n > cap)
        return end(&c, NVML_ERROR_INSUFFICIENT_SIZE);
    struct gvw_rd rd;
    gvw_rd_init(&rd, c.r.p[2], c.r.n[2]);
    for (unsigned k = 0; k < n; k++) {
        unsigned pid = shown(gvw_u32(&rd));
        uint64_t used = gvw_u64(&rd);
        unsigned gi = gvw_u32(&rd), ci = gvw_u32(&rd);
        if (v1) {
            nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)infos + k;
            memset(o, 0, sizeof(*o));
            o->pid = pid;
            o->usedGpuMemory = used;
        } else {
            nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)infos + k;
            memset(o, 0, sizeof(*o));
            o->pid = pid;
            o->usedGpuMemory = used;
            o->gpuInstanceId = gi;
            o->computeInstanceId = ci;
        }
    }
    return end(&c, NVML_SUCCESS);
}

NV_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                            unsigned int *infoCount,
                                                            nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, false);
}

NV_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
                                                            unsigned int *infoCount,
                                                            nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, false);
}

NV_API nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device,
                                                         unsigned int *infoCount,
                                                         nvmlProcessInfo_v1_t *infos)
{
    return running_processes(device, infoCount, infos, true);
}

/* A NULL buffer asks for the number of samples whatever *count says. The pids are the server's:
 * the processes of the session on the server's machine. */
NV_API nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                                    nvmlProcessUtilizationSample_t *utilization,
                                                    unsigned int *processSamplesCount,
                                                    unsigned long long lastSeenTimeStamp)
{
    unsigned i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!processSamplesCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    struct rc_call c;
    r = begin(&c, GVW_OP_NVML_PROCESS_UTILIZATION);
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u32(c.b, i);
    gvw_put_u64(c.b, lastSeenTimeStamp);
    r = call(&c);
    if (r == NVML_ERROR_NOT_FOUND)
        *processSamplesCount = 0;
    if (r != NVML_SUCCESS)
        return end(&c, r);
    uint64_t n = c.r.v[1];
    if (!records_ok(&c.r, n, GVN_SAMPLE_BYTES))
        return end(&c, NVML_ERROR_UNKNOWN);
    unsigned cap = utilization ? *processSamplesCount : 0;
    *processSamplesCount = (unsigned)n;
    if (n > cap)
        return end(&c, NVML_ERROR_INSUFFICIENT_SIZE);
    struct gvw_rd rd;
    gvw_rd_init(&rd, c.r.p[2], c.r.n[2]);
    for (unsigned k = 0; k < n; k++) {
        nvmlProcessUtilizationSample_t *o = &utilization[k];
        memset(o, 0, sizeof(*o));
        o->pid = shown(gvw_u32(&rd));
        o->timeStamp = gvw_u64(&rd);
        o->smUtil = gvw_u32(&rd);
        o->memUtil = gvw_u32(&rd);
        o->encUtil = gvw_u32(&rd);
        o->decUtil = gvw_u32(&rd);
    }
    return end(&c, NVML_SUCCESS);
}
