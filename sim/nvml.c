/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: the simulated libnvidia-ml.so.1.
 *
 * A monitoring library reads the simulated machine (machine.c) that the simulated libcuda.so.1 of
 * every process drives, so that the figures a tool sees through NVML are the figures the driver
 * side works with: memory used is the sum over all processes of the machine, the process list is
 * the machine's, and utilization is the device's busy fraction over the machine's sample window.
 * The library maps the machine as an observer and never takes a process slot: watching a GPU is not
 * using it, and a monitoring daemon must not appear in its own process lists.
 *
 * A device handle is a pointer into a static array of per-device records, so a handle can be
 * validated by address alone, stays valid for the life of the process and costs no allocation.
 * Every entry point is exported under each name the vendor library exports (the older unversioned
 * names included), because existing tools still resolve those with dlsym. */
#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/nvml.h"
#include "core/nvml_text.h"
#include "sim/sim.h"

/* One record per simulated device; the handle is its address. */
struct nvmlDevice_st {
    int index; /* its position in devices[], for a reader in a debugger: handles are checked by
                * address, never by reading this */
};

static struct nvmlDevice_st devices[GVSIM_MAX_DEVICES];

/* init_count is written under init_lock and read without it by every call (acquire), after the
 * fields it publishes (ndev, devices, the utilization baselines) were set (release). */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;
static int ndev;

static bool initialized(void)
{
    return __atomic_load_n(&init_count, __ATOMIC_ACQUIRE) > 0;
}

/* ---------------------------------------------------------------- per-process utilization
 *
 * The machine keeps, per process and device, the device time the process has used since it
 * started. A process's share over a period is the growth of that figure divided by the length of
 * the period, so this library keeps two snapshots per device and rolls them forward at most every
 * ROLL_NS: the period of a sample runs from the older one to now. Asked often, the period is
 * between one and two ROLL_NS, near the machine's own window; asked seldom, it covers the time
 * since the last question; just after init it is as long as the library has been up. A process
 * missing from the baseline started after it, so all of its time belongs to the period. */

#define ROLL_NS 500000000ull /* half the machine's utilization window (about one second) */

struct snapshot {
    uint64_t t_ns; /* gv_now_ns() when taken */
    int n;
    struct {
        pid_t pid;
        uint64_t busy_ns;
    } p[GVSIM_MAX_PROCS];
};

struct util_history {
    bool have_old;
    struct snapshot old, cur;
};

static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;
static struct util_history history[GVSIM_MAX_DEVICES];

static void take_snapshot(int dev, struct snapshot *s)
{
    struct gvsim_proc_usage procs[GVSIM_MAX_PROCS];
    int n = gvsim_dev_processes(dev, procs, GVSIM_MAX_PROCS);
    if (n > GVSIM_MAX_PROCS)
        n = GVSIM_MAX_PROCS;
    if (n < 0)
        n = 0;
    s->t_ns = gv_now_ns();
    s->n = n;
    for (int i = 0; i < n; i++) {
        s->p[i].pid = procs[i].pid;
        s->p[i].busy_ns = procs[i].busy_ns;
    }
}

static uint64_t baseline_busy(const struct snapshot *s, pid_t pid)
{
    for (int i = 0; i < s->n; i++)
        if (s->p[i].pid == pid)
            return s->p[i].busy_ns;
    return 0;
}

/* ---------------------------------------------------------------- helpers */

static nvmlReturn_t from_cu(CUresult r)
{
    switch (r) {
    case CUDA_SUCCESS:
        return NVML_SUCCESS;
    case CUDA_ERROR_INVALID_VALUE:
        /* A bad GPUVISOR_SIM_* variable (machine.c said why on stderr): the simulated driver could
         * not come up, which is what a tool expects to hear when there is no usable driver. */
        return NVML_ERROR_DRIVER_NOT_LOADED;
    case CUDA_ERROR_OUT_OF_MEMORY:
        return NVML_ERROR_MEMORY;
    case CUDA_ERROR_OPERATING_SYSTEM:
        return NVML_ERROR_OPERATING_SYSTEM;
    default:
        return NVML_ERROR_UNKNOWN;
    }
}

/* The device index a handle names. Handles are checked by address: a pointer that is not exactly
 * one of our records, or names a record past the machine's devices, is rejected without being
 * read, so a stale or made-up handle cannot crash the library. */
static nvmlReturn_t device_index(nvmlDevice_t h, int *index)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!h)
        return NVML_ERROR_INVALID_ARGUMENT;
    uintptr_t p = (uintptr_t)h, base = (uintptr_t)devices;
    if (p < base || p >= base + sizeof(devices) || (p - base) % sizeof(devices[0]) != 0)
        return NVML_ERROR_INVALID_ARGUMENT;
    int i = (int)((p - base) / sizeof(devices[0]));
    if (i >= ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = i;
    return NVML_SUCCESS;
}

/* device_index plus the machine's record of the device. */
static nvmlReturn_t device_info(nvmlDevice_t h, int *index, const struct gvsim_dev_info **info)
{
    nvmlReturn_t r = device_index(h, index);
    if (r != NVML_SUCCESS)
        return r;
    *info = gvsim_dev(*index);
    return *info ? NVML_SUCCESS : NVML_ERROR_GPU_IS_LOST;
}

static nvmlReturn_t put_string(char *dst, unsigned int length, const char *src)
{
    if (!dst)
        return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(src);
    if (length < n + 1)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

/* One hexadecimal field of a bus id, at most 8 digits; advances *p past it. */
static bool hex_field(const char **p, unsigned long *value)
{
    unsigned long v = 0;
    int digits = 0;
    for (const char *q = *p; isxdigit((unsigned char)*q); q++, digits++) {
        char c = (char)tolower((unsigned char)*q);
        v = v * 16 + (unsigned long)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (digits == 0 || digits > 8)
        return false;
    *value = v;
    *p += digits;
    return true;
}

/* PCI bus ids as tools and the driver write them: "domain:bus:device.function",
 * "domain:bus:device" or "bus:device.function", hexadecimal in either case, with a domain of any
 * width (so NVML's 8-digit form, the legacy 4-digit form and cuDeviceGetPCIBusId's all work). */
static bool parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *device,
                         unsigned *function)
{
    unsigned long field[3], fn = 0;
    int n = 0;
    const char *p = s;
    for (;;) {
        if (!hex_field(&p, &field[n++]))
            return false;
        if (*p != ':' || n == 3)
            break;
        p++;
    }
    bool has_function = *p == '.';
    if (has_function) {
        p++;
        if (!hex_field(&p, &fn))
            return false;
    }
    if (*p != '\0')
        return false;
    if (n == 3) {
        *domain = (unsigned)field[0];
        *bus = (unsigned)field[1];
        *device = (unsigned)field[2];
    } else if (n == 2 && has_function) {
        *domain = 0;
        *bus = (unsigned)field[0];
        *device = (unsigned)field[1];
    } else {
        return false;
    }
    *function = (unsigned)fn;
    return field[n - 2] <= 0xff && field[n - 1] <= 0x1f && fn <= 7;
}

/* ---------------------------------------------------------------- init and shutdown */

nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    /* NO_GPUS and NO_ATTACH only relax what a real driver must do to reach its GPUs; the simulated
     * machine always has devices and attaching to them is a mapping, so they change nothing. */
    (void)flags;
    pthread_mutex_lock(&init_lock);
    if (init_count == 0) {
        CUresult cr = gvsim_attach_observer();
        if (cr != CUDA_SUCCESS) {
            pthread_mutex_unlock(&init_lock);
            return from_cu(cr);
        }
        int n = gvsim_device_count();
        if (n < 0)
            n = 0;
        if (n > GVSIM_MAX_DEVICES)
            n = GVSIM_MAX_DEVICES;
        ndev = n;
        for (int i = 0; i < n; i++)
            devices[i].index = i;
        pthread_mutex_lock(&history_lock);
        for (int i = 0; i < n; i++) {
            history[i].have_old = false;
            take_snapshot(i, &history[i].cur);
        }
        pthread_mutex_unlock(&history_lock);
    }
    __atomic_store_n(&init_count, init_count + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&init_lock);
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlInit_v2(void)
{
    return nvmlInitWithFlags(0);
}

nvmlReturn_t nvmlInit(void)
{
    return nvmlInitWithFlags(0);
}

/* The machine stays mapped after the last shutdown: other libraries of the process (libcuda) may
 * share the mapping, and a later init finds it again at no cost. */
nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t r = NVML_SUCCESS;
    pthread_mutex_lock(&init_lock);
    if (init_count == 0)
        r = NVML_ERROR_UNINITIALIZED;
    else
        __atomic_store_n(&init_count, init_count - 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&init_lock);
    return r;
}

const char *nvmlErrorString(nvmlReturn_t result)
{
    return gv_nvml_error_text(result);
}

/* ---------------------------------------------------------------- system */

nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    return put_string(version, length, GVSIM_DRIVER_VERSION_STRING);
}

/* "13.580.65.06": the CUDA major version the driver supports, then the driver version. */
nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    char v[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    snprintf(v, sizeof(v), "%d.%s", GVSIM_DRIVER_VERSION / 1000, GVSIM_DRIVER_VERSION_STRING);
    return put_string(version, length, v);
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!cudaDriverVersion)
        return NVML_ERROR_INVALID_ARGUMENT;
    *cudaDriverVersion = GVSIM_DRIVER_VERSION;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion)
{
    return nvmlSystemGetCudaDriverVersion_v2(cudaDriverVersion);
}

/* ---------------------------------------------------------------- finding devices */

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!deviceCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    *deviceCount = (unsigned)ndev;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    return nvmlDeviceGetCount_v2(deviceCount);
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= (unsigned)ndev)
        return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    if (!uuid || !device)
        return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < ndev; i++) {
        const struct gvsim_dev_info *d = gvsim_dev(i);
        if (d && strcasecmp(d->uuid_str, uuid) == 0) {
            *device = &devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device)
{
    if (!initialized())
        return NVML_ERROR_UNINITIALIZED;
    unsigned domain, bus, dev, function;
    if (!pciBusId || !device || !parse_bus_id(pciBusId, &domain, &bus, &dev, &function))
        return NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < ndev && function == 0; i++) {
        const struct gvsim_dev_info *d = gvsim_dev(i);
        if (d && d->pci_domain == domain && d->pci_bus == bus && d->pci_device == dev) {
            *device = &devices[i];
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

/* The older name took the legacy 4-digit-domain form; the parser accepts both forms anyway. */
nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByPciBusId_v2(pciBusId, device);
}

/* ---------------------------------------------------------------- identity */

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    return put_string(name, length, d->model->product);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    return put_string(uuid, length, d->uuid_str);
}

nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned)i;
    return NVML_SUCCESS;
}

/* The N of /dev/nvidiaN: the simulator numbers its device nodes in index order. */
nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber)
{
    return nvmlDeviceGetIndex(device, minorNumber);
}

/* Writes the legacy prefix always and the 32-byte bus id only when `full`: the older calls may be
 * handed a structure that ends after the prefix. */
static nvmlReturn_t pci_info(nvmlDevice_t device, nvmlPciInfo_t *pci, bool full)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    if (!pci)
        return NVML_ERROR_INVALID_ARGUMENT;
    /* Whole fields are written, padding after the terminator included, so that two calls give
     * byte-identical records. */
    memset(pci->busIdLegacy, 0, sizeof(pci->busIdLegacy));
    snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.0",
             d->pci_domain & 0xffffu, d->pci_bus & 0xffu, d->pci_device & 0x1fu);
    pci->domain = d->pci_domain;
    pci->bus = d->pci_bus;
    pci->device = d->pci_device;
    pci->pciDeviceId = (d->model->pci_device_id << 16) | 0x10deu;
    /* The simulator models no board vendor; the subsystem repeats the chip's ids. */
    pci->pciSubSystemId = pci->pciDeviceId;
    if (full) {
        memset(pci->busId, 0, sizeof(pci->busId));
        snprintf(pci->busId, sizeof(pci->busId), "%08X:%02X:%02X.0", d->pci_domain,
                 d->pci_bus & 0xffu, d->pci_device & 0x1fu);
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, true);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, false);
}

nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    return pci_info(device, pci, false);
}

nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    if (!major || !minor)
        return NVML_ERROR_INVALID_ARGUMENT;
    *major = (int)d->model->cc_major;
    *minor = (int)d->model->cc_minor;
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                       unsigned int *clockMHz)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    if (!clockMHz)
        return NVML_ERROR_INVALID_ARGUMENT;
    switch (type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM:
        *clockMHz = d->model->clock_khz / 1000;
        return NVML_SUCCESS;
    case NVML_CLOCK_MEM:
        *clockMHz = d->model->mem_clock_khz / 1000;
        return NVML_SUCCESS;
    case NVML_CLOCK_VIDEO:
        return NVML_ERROR_NOT_SUPPORTED; /* the catalogue has no video clock */
    }
    return NVML_ERROR_INVALID_ARGUMENT;
}

nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth)
{
    int i;
    const struct gvsim_dev_info *d;
    nvmlReturn_t r = device_info(device, &i, &d);
    if (r != NVML_SUCCESS)
        return r;
    if (!busWidth)
        return NVML_ERROR_INVALID_ARGUMENT;
    *busWidth = d->model->mem_bus_width;
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- memory and utilization */

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    uint64_t free_bytes, used, total;
    gvsim_mem_info(i, &free_bytes, &used, &total);
    memory->total = total;
    memory->free = free_bytes;
    memory->used = used;
    return NVML_SUCCESS;
}

/* The simulated driver reserves nothing for itself, so reserved is 0 and free + used = total. */
nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    uint64_t free_bytes, used, total;
    gvsim_mem_info(i, &free_bytes, &used, &total);
    memory->total = total;
    memory->reserved = 0;
    memory->free = free_bytes;
    memory->used = used;
    return NVML_SUCCESS;
}

/* gpu: the machine's busy fraction of the device. memory: the simulator does not tell memory
 * traffic apart from other device time, so it reports none rather than a made-up figure. */
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!utilization)
        return NVML_ERROR_INVALID_ARGUMENT;
    unsigned gpu = gvsim_dev_utilization(i);
    utilization->gpu = gpu > 100 ? 100 : gpu;
    utilization->memory = 0;
    return NVML_SUCCESS;
}

/* ---------------------------------------------------------------- processes */

static nvmlReturn_t running_processes(nvmlDevice_t device, unsigned int *count, void *infos,
                                      bool v1)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!count || (!infos && *count != 0))
        return NVML_ERROR_INVALID_ARGUMENT;
    struct gvsim_proc_usage procs[GVSIM_MAX_PROCS];
    int n = gvsim_dev_processes(i, procs, GVSIM_MAX_PROCS);
    if (n < 0)
        n = 0;
    if (n > GVSIM_MAX_PROCS)
        n = GVSIM_MAX_PROCS;
    unsigned cap = *count;
    *count = (unsigned)n;
    if ((unsigned)n > cap)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (int k = 0; k < n; k++) {
        if (v1) {
            nvmlProcessInfo_v1_t *o = (nvmlProcessInfo_v1_t *)infos + k;
            o->pid = (unsigned)procs[k].pid;
            o->usedGpuMemory = procs[k].mem;
        } else {
            nvmlProcessInfo_t *o = (nvmlProcessInfo_t *)infos + k;
            o->pid = (unsigned)procs[k].pid;
            o->usedGpuMemory = procs[k].mem;
            o->gpuInstanceId = NVML_NO_INSTANCE_ID;
            o->computeInstanceId = NVML_NO_INSTANCE_ID;
        }
    }
    return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, false);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                     nvmlProcessInfo_t *infos)
{
    return running_processes(device, infoCount, infos, false);
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                  nvmlProcessInfo_v1_t *infos)
{
    return running_processes(device, infoCount, infos, true);
}

static uint64_t realtime_us(void)
{
    return gv_clock_ns(CLOCK_REALTIME) / 1000u;
}

/* A NULL buffer asks for the number of samples whatever *count says, as the vendor documents for
 * this call (unlike the process lists). */
nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t device,
                                             nvmlProcessUtilizationSample_t *utilization,
                                             unsigned int *processSamplesCount,
                                             unsigned long long lastSeenTimeStamp)
{
    int i;
    nvmlReturn_t r = device_index(device, &i);
    if (r != NVML_SUCCESS)
        return r;
    if (!processSamplesCount)
        return NVML_ERROR_INVALID_ARGUMENT;

    struct snapshot now;
    struct {
        unsigned pid, sm;
    } found[GVSIM_MAX_PROCS];
    unsigned n = 0;
    uint64_t stamp = realtime_us();

    pthread_mutex_lock(&history_lock);
    struct util_history *h = &history[i];
    take_snapshot(i, &now);
    const struct snapshot *base = h->have_old ? &h->old : &h->cur;
    uint64_t period = now.t_ns > base->t_ns ? now.t_ns - base->t_ns : 0;
    for (int k = 0; k < now.n && period > 0; k++) {
        uint64_t before = baseline_busy(base, now.p[k].pid);
        /* A smaller figure than the baseline is a new process that reused the pid. */
        uint64_t used = now.p[k].busy_ns >= before ? now.p[k].busy_ns - before : now.p[k].busy_ns;
        if (used == 0)
            continue;
        uint64_t pct = (used * 100 + period / 2) / period;
        found[n].pid = (unsigned)now.p[k].pid;
        found[n].sm = pct > 100 ? 100 : pct == 0 ? 1 : (unsigned)pct;
        n++;
    }
    if (now.t_ns - h->cur.t_ns >= ROLL_NS) {
        h->old = h->cur;
        h->cur = now;
        h->have_old = true;
    }
    pthread_mutex_unlock(&history_lock);

    if (stamp <= lastSeenTimeStamp)
        n = 0;
    if (n == 0) {
        *processSamplesCount = 0;
        return NVML_ERROR_NOT_FOUND;
    }
    unsigned cap = utilization ? *processSamplesCount : 0;
    *processSamplesCount = n;
    if (n > cap)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    for (unsigned k = 0; k < n; k++) {
        utilization[k].pid = found[k].pid;
        utilization[k].timeStamp = stamp;
        utilization[k].smUtil = found[k].sm;
        utilization[k].memUtil = 0;
        utilization[k].encUtil = 0;
        utilization[k].decUtil = 0;
    }
    return NVML_SUCCESS;
}
