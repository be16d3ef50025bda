/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: the NVML queries a client's libnvidia-ml.so.1 forwards.
 *
 * Each NVML function is looked up first in the interposer (srv_shim_handle): where the interposer
 * wraps one (memory and the process lists), the client sees the session's slice exactly as a
 * local process of an instance would, through the same code. Any other function comes from the
 * machine's libnvidia-ml.so.1, which the session loads on the client's first nvmlInit (a session
 * that only does CUDA never loads it); it is the library the interposer's wrappers call too, so
 * device handles are the same on both paths.
 *
 * Handlers return NVML's own codes. A device is named by its NVML index and turned into the
 * library's handle here, so no handle of this process ever reaches a client. Process utilization
 * is cut to the processes the session's process list shows (on a sliced GPU, the instance's
 * members), so a client does not learn about other tenants' processes that way either. */
#include "remote/server/srv.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/nvml.h"
#include "remote/nvml_wire.h"

typedef nvmlReturn_t (*init_fn)(unsigned int);
typedef nvmlReturn_t (*void_fn)(void);
typedef nvmlReturn_t (*text_fn)(char *, unsigned int);
typedef nvmlReturn_t (*int_fn)(int *);
typedef nvmlReturn_t (*count_fn)(unsigned int *);
typedef nvmlReturn_t (*by_index_fn)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*by_text_fn)(const char *, nvmlDevice_t *);
typedef nvmlReturn_t (*dev_text_fn)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*dev_uint_fn)(nvmlDevice_t, unsigned int *);
typedef nvmlReturn_t (*dev_cc_fn)(nvmlDevice_t, int *, int *);
typedef nvmlReturn_t (*dev_clock_fn)(nvmlDevice_t, nvmlClockType_t, unsigned int *);
typedef nvmlReturn_t (*dev_pci_fn)(nvmlDevice_t, nvmlPciInfo_t *);
typedef nvmlReturn_t (*dev_mem_fn)(nvmlDevice_t, nvmlMemory_t *);
typedef nvmlReturn_t (*dev_mem2_fn)(nvmlDevice_t, nvmlMemory_v2_t *);
typedef nvmlReturn_t (*dev_util_fn)(nvmlDevice_t, nvmlUtilization_t *);
typedef nvmlReturn_t (*dev_procs_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
typedef nvmlReturn_t (*dev_samples_fn)(nvmlDevice_t, nvmlProcessUtilizationSample_t *,
                                       unsigned int *, unsigned long long);

/* The machine's NVML; `inits` counts the client's references (0 or 1: the client keeps its own
 * count and sends only its first init and last shutdown). */
static void *lib;
static int inits;

/* An NVML function: the interposer's wrapper if it has one, else the library's. */
static void *fn(const char *name)
{
    void *shim = srv_shim_handle();
    void *f = shim ? dlsym(shim, name) : NULL;
    if (!f && lib)
        f = dlsym(lib, name);
    return f;
}

/* The first of two names that exists (a newer version, then an older one with the same form). */
static void *fn2(const char *name, const char *older)
{
    void *f = fn(name);
    return f ? f : fn(older);
}

static void put_text(struct gvw_buf *b, const char *text)
{
    gvw_put_bytes(b, text, strlen(text));
}

#define NEED(f)                                                                                    \
    do {                                                                                           \
        if (!(f))                                                                                  \
            return NVML_ERROR_FUNCTION_NOT_FOUND;                                                  \
    } while (0)

/* The library's handle of the device at NVML index i. */
static nvmlReturn_t device(uint64_t i, nvmlDevice_t *d)
{
    if (inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    by_index_fn by_index =
        (by_index_fn)fn2("nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    NEED(by_index);
    if (i > UINT32_MAX)
        return NVML_ERROR_INVALID_ARGUMENT;
    return by_index((unsigned)i, d);
}

#define DEVICE(i, d)                                                                               \
    nvmlDevice_t d;                                                                                \
    do {                                                                                           \
        nvmlReturn_t dr_ = device(i, &d);                                                          \
        if (dr_ != NVML_SUCCESS)                                                                   \
            return dr_;                                                                            \
    } while (0)

/* The pid to show for process pid: a session process of this server names its client in its
 * command name ("gvr:PID", set by main.c for clients on a unix socket, whose pid the kernel
 * tells); others are shown as they are. */
static unsigned shown_pid(unsigned pid)
{
    char path[64], comm[32];
    snprintf(path, sizeof(path), "/proc/%u/comm", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return pid;
    size_t n = fread(comm, 1, sizeof(comm) - 1, f);
    fclose(f);
    comm[n] = '\0';
    unsigned client;
    char end;
    if (strncmp(comm, "gvr:", 4) == 0 && sscanf(comm + 4, "%u%c", &client, &end) == 2 &&
        end == '\n' && client > 0)
        return client;
    return pid;
}

static int h_init(SRV_ARGS)
{
    (void)h;
    if (inits > 0)
        return NVML_ERROR_ALREADY_INITIALIZED; /* the client's count says otherwise: a bad client */
    if (!lib) {
        lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!lib) {
            srv_log(s, "cannot load libnvidia-ml.so.1: %s", dlerror());
            return NVML_ERROR_LIBRARY_NOT_FOUND;
        }
    }
    init_fn with_flags = (init_fn)fn("nvmlInitWithFlags");
    void_fn plain = (void_fn)fn2("nvmlInit_v2", "nvmlInit");
    nvmlReturn_t r = with_flags ? with_flags((unsigned)a->v[0])
                     : plain    ? plain()
                                : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r != NVML_SUCCESS)
        return r;
    count_fn count = (count_fn)fn2("nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    unsigned n = 0;
    r = count ? count(&n) : NVML_ERROR_FUNCTION_NOT_FOUND;
    if (r != NVML_SUCCESS) {
        void_fn down = (void_fn)fn("nvmlShutdown");
        if (down)
            down();
        return r;
    }
    inits = 1;
    gvw_put_u32(out, n);
    gvw_put_u32(out, (uint32_t)getpid()); /* the client shows itself in place of its session */
    return NVML_SUCCESS;
}

static int h_shutdown(SRV_ARGS)
{
    SRV_UNUSED;
    if (inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    void_fn down = (void_fn)fn("nvmlShutdown");
    NEED(down);
    nvmlReturn_t r = down();
    if (r == NVML_SUCCESS)
        inits = 0;
    return r;
}

static int h_system(SRV_ARGS)
{
    (void)s, (void)h, (void)a;
    if (inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    text_fn driver = (text_fn)fn("nvmlSystemGetDriverVersion");
    text_fn nvml = (text_fn)fn("nvmlSystemGetNVMLVersion");
    int_fn cuda =
        (int_fn)fn2("nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion");
    NEED(driver && nvml && cuda);
    char dv[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE], nv[NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE];
    int cv = 0;
    nvmlReturn_t r = driver(dv, sizeof(dv));
    if (r == NVML_SUCCESS)
        r = nvml(nv, sizeof(nv));
    if (r == NVML_SUCCESS)
        r = cuda(&cv);
    if (r != NVML_SUCCESS)
        return r;
    put_text(out, dv);
    put_text(out, nv);
    gvw_put_u32(out, (uint32_t)cv);
    return NVML_SUCCESS;
}

static int h_find(SRV_ARGS)
{
    (void)s, (void)h;
    if (inits == 0)
        return NVML_ERROR_UNINITIALIZED;
    char key[GVW_MAX_TEXT + 1];
    gvw_arg_text(a, 1, key, sizeof(key));
    by_text_fn find;
    if (a->v[0] == GVN_FIND_UUID)
        find = (by_text_fn)fn("nvmlDeviceGetHandleByUUID");
    else if (a->v[0] == GVN_FIND_PCI_BUS_ID)
        find = (by_text_fn)fn2("nvmlDeviceGetHandleByPciBusId_v2", "nvmlDeviceGetHandleByPciBusId");
    else
        return NVML_ERROR_INVALID_ARGUMENT;
    dev_uint_fn index = (dev_uint_fn)fn("nvmlDeviceGetIndex");
    NEED(find && index);
    nvmlDevice_t d;
    unsigned i = 0;
    nvmlReturn_t r = find(key, &d);
    if (r == NVML_SUCCESS)
        r = index(d, &i);
    if (r == NVML_SUCCESS)
        gvw_put_u32(out, i);
    return r;
}

static int h_text(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    dev_text_fn get;
    if (a->v[1] == GVN_TEXT_NAME)
        get = (dev_text_fn)fn("nvmlDeviceGetName");
    else if (a->v[1] == GVN_TEXT_UUID)
        get = (dev_text_fn)fn("nvmlDeviceGetUUID");
    else
        return NVML_ERROR_INVALID_ARGUMENT;
    NEED(get);
    char text[256];
    nvmlReturn_t r = get(d, text, sizeof(text));
    if (r == NVML_SUCCESS) {
        text[sizeof(text) - 1] = '\0';
        put_text(out, text);
    }
    return r;
}

static int h_value(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    unsigned v = 0;
    int major = 0, minor = 0;
    nvmlReturn_t r;
    switch (a->v[1]) {
    case GVN_VALUE_INDEX:
    case GVN_VALUE_MINOR:
    case GVN_VALUE_BUS_WIDTH: {
        dev_uint_fn get =
            (dev_uint_fn)fn(a->v[1] == GVN_VALUE_INDEX   ? "nvmlDeviceGetIndex"
                            : a->v[1] == GVN_VALUE_MINOR ? "nvmlDeviceGetMinorNumber"
                                                         : "nvmlDeviceGetMemoryBusWidth");
        NEED(get);
        r = get(d, &v);
        break;
    }
    case GVN_VALUE_CAPABILITY: {
        dev_cc_fn get = (dev_cc_fn)fn("nvmlDeviceGetCudaComputeCapability");
        NEED(get);
        r = get(d, &major, &minor);
        v = (unsigned)major;
        break;
    }
    case GVN_VALUE_MAX_CLOCK: {
        dev_clock_fn get = (dev_clock_fn)fn("nvmlDeviceGetMaxClockInfo");
        NEED(get);
        if (a->v[2] > UINT32_MAX)
            return NVML_ERROR_INVALID_ARGUMENT;
        r = get(d, (nvmlClockType_t)a->v[2], &v);
        break;
    }
    default:
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    gvw_put_u32(out, v);
    gvw_put_u32(out, (uint32_t)minor);
    return r;
}

static int h_pci(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    dev_pci_fn get = (dev_pci_fn)fn("nvmlDeviceGetPciInfo_v3");
    NEED(get);
    nvmlPciInfo_t p;
    memset(&p, 0, sizeof(p));
    nvmlReturn_t r = get(d, &p);
    if (r != NVML_SUCCESS)
        return r;
    p.busIdLegacy[sizeof(p.busIdLegacy) - 1] = '\0';
    p.busId[sizeof(p.busId) - 1] = '\0';
    put_text(out, p.busIdLegacy);
    gvw_put_u32(out, p.domain);
    gvw_put_u32(out, p.bus);
    gvw_put_u32(out, p.device);
    gvw_put_u32(out, p.pciDeviceId);
    gvw_put_u32(out, p.pciSubSystemId);
    put_text(out, p.busId);
    return NVML_SUCCESS;
}

static int h_memory(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    nvmlReturn_t r;
    uint64_t total, reserved = 0, free_b, used;
    if (a->v[1] == GVN_MEMORY_V1) {
        dev_mem_fn get = (dev_mem_fn)fn("nvmlDeviceGetMemoryInfo");
        NEED(get);
        nvmlMemory_t m;
        r = get(d, &m);
        total = m.total, free_b = m.free, used = m.used;
    } else if (a->v[1] == GVN_MEMORY_V2) {
        dev_mem2_fn get = (dev_mem2_fn)fn("nvmlDeviceGetMemoryInfo_v2");
        NEED(get);
        nvmlMemory_v2_t m;
        memset(&m, 0, sizeof(m));
        m.version = nvmlMemory_v2;
        r = get(d, &m);
        total = m.total, reserved = m.reserved, free_b = m.free, used = m.used;
    } else {
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    if (r != NVML_SUCCESS)
        return r;
    gvw_put_u64(out, total);
    gvw_put_u64(out, reserved);
    gvw_put_u64(out, free_b);
    gvw_put_u64(out, used);
    return NVML_SUCCESS;
}

static int h_utilization(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    dev_util_fn get = (dev_util_fn)fn("nvmlDeviceGetUtilizationRates");
    NEED(get);
    nvmlUtilization_t u;
    nvmlReturn_t r = get(d, &u);
    if (r == NVML_SUCCESS) {
        gvw_put_u32(out, u.gpu);
        gvw_put_u32(out, u.memory);
    }
    return r;
}

/* The device's process list (as the interposer shows it) in a malloc'd array. The list may grow
 * between asking its length and reading it: ask again a few times. */
static nvmlReturn_t processes(nvmlDevice_t d, nvmlProcessInfo_t **list, unsigned *count)
{
    dev_procs_fn get = (dev_procs_fn)fn2("nvmlDeviceGetComputeRunningProcesses_v3",
                                         "nvmlDeviceGetComputeRunningProcesses_v2");
    NEED(get);
    *list = NULL;
    *count = 0;
    unsigned cap = 0;
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned n = cap;
        nvmlReturn_t r = get(d, &n, *list);
        if (r == NVML_SUCCESS) {
            *count = n;
            return NVML_SUCCESS;
        }
        if (r != NVML_ERROR_INSUFFICIENT_SIZE)
            return r;
        cap = n + 8 > GVN_MAX_RECORDS ? GVN_MAX_RECORDS : n + 8;
        nvmlProcessInfo_t *grown = realloc(*list, cap * sizeof(**list));
        if (!grown)
            return NVML_ERROR_MEMORY;
        *list = grown;
        memset(*list, 0, cap * sizeof(**list));
    }
    return NVML_ERROR_INSUFFICIENT_SIZE;
}

static int h_processes(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    nvmlProcessInfo_t *list;
    unsigned n;
    nvmlReturn_t r = processes(d, &list, &n);
    if (r == NVML_SUCCESS) {
        struct gvw_buf recs = {0};
        for (unsigned i = 0; i < n; i++) {
            gvw_put_u32(&recs, shown_pid(list[i].pid));
            gvw_put_u64(&recs, list[i].usedGpuMemory);
            gvw_put_u32(&recs, list[i].gpuInstanceId);
            gvw_put_u32(&recs, list[i].computeInstanceId);
        }
        if (recs.oom) {
            r = NVML_ERROR_MEMORY;
        } else {
            gvw_put_u32(out, n);
            gvw_put_bytes(out, recs.p, recs.len);
        }
        gvw_buf_free(&recs);
    }
    free(list);
    return r;
}

static int h_process_utilization(SRV_ARGS)
{
    (void)s, (void)h;
    DEVICE(a->v[0], d);
    dev_samples_fn get = (dev_samples_fn)fn("nvmlDeviceGetProcessUtilization");
    NEED(get);
    unsigned long long since = a->v[1];
    nvmlProcessUtilizationSample_t *samples = NULL;
    unsigned n = 0, cap = 0;
    nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
    /* Ask with no buffer for the number, then read; the number may grow in between. */
    for (int attempt = 0; attempt < 4 && r == NVML_ERROR_INSUFFICIENT_SIZE; attempt++) {
        n = cap;
        r = get(d, samples, &n, since);
        if (r == NVML_SUCCESS && !samples && n > 0)
            r = NVML_ERROR_INSUFFICIENT_SIZE; /* a count alone, reported as a success */
        if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
            cap = n + 8 > GVN_MAX_RECORDS ? GVN_MAX_RECORDS : n + 8;
            nvmlProcessUtilizationSample_t *grown = realloc(samples, cap * sizeof(*samples));
            if (!grown) {
                free(samples);
                return NVML_ERROR_MEMORY;
            }
            samples = grown;
            memset(samples, 0, cap * sizeof(*samples));
        }
    }
    if (r != NVML_SUCCESS) {
        free(samples);
        return r;
    }
    /* Only the processes this session's process list shows. */
    nvmlProcessInfo_t *list;
    unsigned nlist;
    r = processes(d, &list, &nlist);
    if (r != NVML_SUCCESS) {
        free(samples);
        return r;
    }
    struct gvw_buf recs = {0};
    unsigned kept = 0;
    for (unsigned i = 0; i < n; i++) {
        bool listed = false;
        for (unsigned k = 0; k < nlist && !listed; k++)
            listed = list[k].pid == samples[i].pid;
        if (!listed)
            continue;
        gvw_put_u32(&recs, shown_pid(samples[i].pid));
        gvw_put_u64(&recs, samples[i].timeStamp);
        gvw_put_u32(&recs, samples[i].smUtil);
        gvw_put_u32(&recs, samples[i].memUtil);
        gvw_put_u32(&recs, samples[i].encUtil);
        gvw_put_u32(&recs, samples[i].decUtil);
        kept++;
    }
    free(list);
    free(samples);
    if (recs.oom) {
        r = NVML_ERROR_MEMORY;
    } else if (kept == 0) {
        r = NVML_ERROR_NOT_FOUND;
    } else {
        gvw_put_u32(out, kept);
        gvw_put_bytes(out, recs.p, recs.len);
    }
    gvw_buf_free(&recs);
    return r;
}

static const struct srv_entry entries[] = {
    {GVW_OP_NVML_INIT, h_init},
    {GVW_OP_NVML_SHUTDOWN, h_shutdown},
    {GVW_OP_NVML_SYSTEM, h_system},
    {GVW_OP_NVML_DEVICE_FIND, h_find},
    {GVW_OP_NVML_DEVICE_TEXT, h_text},
    {GVW_OP_NVML_DEVICE_VALUE, h_value},
    {GVW_OP_NVML_DEVICE_PCI, h_pci},
    {GVW_OP_NVML_DEVICE_MEMORY, h_memory},
    {GVW_OP_NVML_DEVICE_UTILIZATION, h_utilization},
    {GVW_OP_NVML_DEVICE_PROCESSES, h_processes},
    {GVW_OP_NVML_PROCESS_UTILIZATION, h_process_utilization},
    {0, NULL},
};

const struct srv_group srv_group_nvml = {entries, NULL};
