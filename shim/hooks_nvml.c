/* SPDX-License-Identifier: Apache-2.0 */
/* hooks_nvml.c: NVML as seen from inside a slice.
 *
 * Monitoring tools and frameworks (PyTorch reads NVML too) ask NVML for a GPU's memory and its
 * processes. For a GPU on which this process's instance has a memory limit, the memory figures are
 * the slice's (total = limit, used = the instance's use, free = the rest, never more than the GPU
 * really has free) and the process list is the instance's members. NVML handles are matched to the
 * instance's GPUs by UUID: NVML indices follow PCI order and ignore CUDA_VISIBLE_DEVICES. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "core/nvml.h"
#include "core/uuid.h"
#include "core/visible.h"
#include "shim/shim.h"

typedef nvmlReturn_t (*get_uuid_fn)(nvmlDevice_t, char *, unsigned int);
typedef nvmlReturn_t (*mem_v1_fn)(nvmlDevice_t, nvmlMemory_t *);
typedef nvmlReturn_t (*mem_v2_fn)(nvmlDevice_t, nvmlMemory_v2_t *);
typedef nvmlReturn_t (*procs_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
typedef nvmlReturn_t (*procs_v1_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_v1_t *);

GVS_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t, nvmlMemory_t *);
GVS_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t, nvmlMemory_v2_t *);
GVS_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t, unsigned int *,
                                                                nvmlProcessInfo_t *);
GVS_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t, unsigned int *,
                                                                nvmlProcessInfo_t *);
GVS_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t, unsigned int *,
                                                             nvmlProcessInfo_v1_t *);

static void *real(const char *name)
{
    void *h = gvs_nvml_handle();
    return h ? gvs_real_dlsym(h, name) : NULL;
}

typedef nvmlReturn_t (*count_fn)(unsigned int *);
typedef nvmlReturn_t (*by_index_fn)(unsigned int, nvmlDevice_t *);
typedef nvmlReturn_t (*index_fn)(nvmlDevice_t, unsigned int *);

static bool uuid_text(unsigned index, char *buf, size_t len, void *arg)
{
    (void)arg;
    get_uuid_fn get_uuid = (get_uuid_fn)real("nvmlDeviceGetUUID");
    by_index_fn by_index = (by_index_fn)real("nvmlDeviceGetHandleByIndex_v2");
    nvmlDevice_t d;
    return get_uuid && by_index && by_index(index, &d) == NVML_SUCCESS &&
           get_uuid(d, buf, (unsigned)len) == NVML_SUCCESS;
}

/* The CUDA ordinal this process's driver gives the GPU at NVML index `index`, or -1 when CUDA
 * would not see it. As the driver does: without CUDA_VISIBLE_DEVICES, ordinals follow NVML's
 * order (the PCI order, CUDA_DEVICE_ORDER=PCI_BUS_ID); with it, ordinal i is the list's i-th
 * entry, and the list ends at the first entry that names no GPU or repeats one. */
static int cuda_ordinal(unsigned index)
{
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    if (!v)
        return (int)index;
    count_fn count = (count_fn)real("nvmlDeviceGetCount_v2");
    unsigned n = 0;
    if (!count || count(&n) != NVML_SUCCESS)
        return -1;
    int seen[GV_MAX_GPUS];
    unsigned nseen = gv_visible_parse(v, n, uuid_text, NULL, seen, GV_MAX_GPUS);
    for (unsigned i = 0; i < nseen; i++)
        if ((unsigned)seen[i] == index)
            return (int)i;
    return -1;
}

/* The slice on this NVML device: as gvs_slice_by_uuid (1 sliced, 0 not, -1 refused). */
static int slice_of(nvmlDevice_t dev, uint8_t uuid[GV_UUID_LEN], uint64_t *limit, uint64_t *used)
{
    gvs_instance_init();
    get_uuid_fn get_uuid = (get_uuid_fn)real("nvmlDeviceGetUUID");
    index_fn get_index = (index_fn)real("nvmlDeviceGetIndex");
    char text[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    unsigned index;
    if (!get_uuid || get_uuid(dev, text, sizeof(text)) != NVML_SUCCESS)
        return 0;
    if (gv_uuid_parse(text, strlen(text), 0, uuid, NULL) < 0)
        return 0;
    int ordinal = get_index && get_index(dev, &index) == NVML_SUCCESS ? cuda_ordinal(index) : -1;
    return gvs_slice_by_uuid(uuid, ordinal, limit, used);
}

static void clamp(uint64_t limit, uint64_t used, unsigned long long *total,
                  unsigned long long *free_b, unsigned long long *used_b)
{
    uint64_t left = used < limit ? limit - used : 0;
    if (left < *free_b)
        *free_b = left;
    if (limit < *total)
        *total = limit;
    *used_b = *total - *free_b;
}

/* A process refused device memory altogether sees the GPU with nothing free. */
static void refused(unsigned long long *total, unsigned long long *free_b,
                    unsigned long long *used_b)
{
    *free_b = 0;
    *used_b = *total;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *mem)
{
    mem_v1_fn f = (mem_v1_fn)real("nvmlDeviceGetMemoryInfo");
    if (!f)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t r = f(dev, mem);
    uint8_t uuid[GV_UUID_LEN];
    uint64_t limit, used;
    int st = r == NVML_SUCCESS ? slice_of(dev, uuid, &limit, &used) : 0;
    if (st > 0)
        clamp(limit, used, &mem->total, &mem->free, &mem->used);
    else if (st < 0)
        refused(&mem->total, &mem->free, &mem->used);
    return r;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *mem)
{
    mem_v2_fn f = (mem_v2_fn)real("nvmlDeviceGetMemoryInfo_v2");
    if (!f)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    nvmlReturn_t r = f(dev, mem);
    uint8_t uuid[GV_UUID_LEN];
    uint64_t limit, used;
    int st = r == NVML_SUCCESS ? slice_of(dev, uuid, &limit, &used) : 0;
    if (st > 0) {
        clamp(limit, used, &mem->total, &mem->free, &mem->used);
        mem->reserved = 0;
    } else if (st < 0) {
        refused(&mem->total, &mem->free, &mem->used);
        mem->used -= mem->reserved < mem->used ? mem->reserved : mem->used;
    }
    return r;
}

/* The instance's members on a sliced GPU, in the caller's record layout. `put` writes record i. */
static nvmlReturn_t members(nvmlDevice_t dev, unsigned int *count, void *infos, bool *handled,
                            void (*put)(void *, unsigned, unsigned, uint64_t))
{
    uint8_t uuid[GV_UUID_LEN];
    uint64_t limit, used;
    *handled = false;
    if (!count || slice_of(dev, uuid, &limit, &used) <= 0)
        return NVML_SUCCESS;
    enum { CAP = 128 };
    unsigned pids[CAP];
    uint64_t bytes[CAP];
    int n = gvs_instance_members(uuid, pids, bytes, CAP);
    if (n < 0)
        return NVML_SUCCESS;
    *handled = true;
    if (n > CAP)
        n = CAP;
    if (*count < (unsigned)n || (!infos && n > 0)) {
        *count = (unsigned)n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < n; i++)
        put(infos, (unsigned)i, pids[i], bytes[i]);
    *count = (unsigned)n;
    return NVML_SUCCESS;
}

static void put_v2(void *infos, unsigned i, unsigned pid, uint64_t bytes)
{
    nvmlProcessInfo_t *p = (nvmlProcessInfo_t *)infos + i;
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->usedGpuMemory = bytes;
    p->gpuInstanceId = NVML_NO_INSTANCE_ID;
    p->computeInstanceId = NVML_NO_INSTANCE_ID;
}

static void put_v1(void *infos, unsigned i, unsigned pid, uint64_t bytes)
{
    nvmlProcessInfo_v1_t *p = (nvmlProcessInfo_v1_t *)infos + i;
    memset(p, 0, sizeof(*p));
    p->pid = pid;
    p->usedGpuMemory = bytes;
}

#define PROCS(fn_name, type, put)                                                                  \
    nvmlReturn_t fn_name(nvmlDevice_t dev, unsigned int *count, type *infos)                       \
    {                                                                                              \
        bool handled;                                                                              \
        nvmlReturn_t r = members(dev, count, infos, &handled, put);                                \
        if (handled)                                                                               \
            return r;                                                                              \
        nvmlReturn_t (*f)(nvmlDevice_t, unsigned int *, type *) =                                  \
            (nvmlReturn_t(*)(nvmlDevice_t, unsigned int *, type *))real(#fn_name);                 \
        return f ? f(dev, count, infos) : NVML_ERROR_FUNCTION_NOT_FOUND;                           \
    }

PROCS(nvmlDeviceGetComputeRunningProcesses_v3, nvmlProcessInfo_t, put_v2)
PROCS(nvmlDeviceGetComputeRunningProcesses_v2, nvmlProcessInfo_t, put_v2)
PROCS(nvmlDeviceGetComputeRunningProcesses, nvmlProcessInfo_v1_t, put_v1)

void *gvs_nvml_hook_for_symbol(const char *name)
{
    static const struct {
        const char *name;
        void *fn;
    } hooks[] = {
        {"nvmlDeviceGetMemoryInfo", (void *)nvmlDeviceGetMemoryInfo},
        {"nvmlDeviceGetMemoryInfo_v2", (void *)nvmlDeviceGetMemoryInfo_v2},
        {"nvmlDeviceGetComputeRunningProcesses_v3",
         (void *)nvmlDeviceGetComputeRunningProcesses_v3},
        {"nvmlDeviceGetComputeRunningProcesses_v2",
         (void *)nvmlDeviceGetComputeRunningProcesses_v2},
        {"nvmlDeviceGetComputeRunningProcesses", (void *)nvmlDeviceGetComputeRunningProcesses},
    };
    for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
        if (strcmp(hooks[i].name, name) == 0)
            return hooks[i].fn;
    return NULL;
}
