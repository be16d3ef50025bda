/* SPDX-License-Identifier: Apache-2.0 */
/* context.c: how much device memory this process's CUDA context takes on a GPU.
 *
 * A context holds device memory that no allocation call asks for (hundreds of MiB on a real GPU:
 * the driver's own state, local memory for the kernels, the printf and heap buffers), and it
 * differs by GPU, driver version and context flags. So it is measured, not guessed, with NVML's
 * list of compute processes, which gives this process's memory on the GPU. instance.c measures
 * once per GPU, when the process gets its first context there:
 *
 *   - Around the call that makes it (cuCtxCreate in every version, cuDevicePrimaryCtxRetain):
 * NVML's figure before and after the driver call; the difference is the context's. While one thread
 *     measures, the process's other charges and context calls on that GPU wait for it (at most a
 *     few seconds, never holding a lock), so their allocations cannot land in the difference.
 *   - A context made where the interposer did not see it is counted when it is first made current
 *     (cuCtxSetCurrent, cuCtxPushCurrent) or first used for an allocation: NVML's figure less what
 *     the process holds in allocations there.
 *
 * Either way the measurement also subtracts every byte the process charged on the GPU while it
 * ran (a per-GPU count of bytes ever charged, which only grows), so that a charge that outwaited
 * it can never be taken for context memory: an allocation the driver had made by the time NVML
 * answered was charged before it. The measurement can only read low (a free racing it), never
 * high. A user may give the figure instead (GPUVISOR_CONTEXT_MEMORY), which instance.c reads.
 *
 * NVML is loaded here with dlopen and called through the real dlsym: the shim does not link it,
 * and its own NVML wrappers report the slice's members, not what the driver sees. When NVML is
 * missing, does not know the GPU or does not list this pid (a container with its own pid namespace
 * sees other pids than NVML reports), the answer is 0, silently: not counting is the state of
 * things before this measurement, and a tenant's stderr is not the place to say so. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/nvml.h"
#include "core/uuid.h"
#include "region/region.h"
#include "shim/shim.h"

/* NVML's usedGpuMemory when it cannot tell (Windows WDDM, some virtualized GPUs). */
#define VALUE_NOT_AVAILABLE (~0ULL)
#define FIRST_CAPACITY      64u
#define MAX_CAPACITY        4096u

typedef nvmlReturn_t (*init_fn)(void);
typedef nvmlReturn_t (*handle_fn)(const char *, nvmlDevice_t *);
typedef nvmlReturn_t (*procs_fn)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);

/* The real libnvidia-ml: the one the program loaded, else loaded now and kept (unloading a vendor
 * library that may have registered handlers is a risk taken for a few pages of mappings). */
static void *nvml_library(void)
{
    void *h = gvs_nvml_handle();
    if (!h)
        h = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    return h;
}

/* This pid's usedGpuMemory on the device, or 0. */
static uint64_t pid_memory(procs_fn procs, nvmlDevice_t dev)
{
    unsigned int pid = (unsigned int)getpid();
    unsigned cap = FIRST_CAPACITY;
    uint64_t found = 0;
    for (;;) {
        nvmlProcessInfo_t *info = calloc(cap, sizeof(*info));
        if (!info)
            return 0;
        unsigned int count = cap;
        nvmlReturn_t r = procs(dev, &count, info);
        if (r == NVML_SUCCESS) {
            for (unsigned i = 0; i < count && i < cap; i++)
                if (info[i].pid == pid && info[i].usedGpuMemory != VALUE_NOT_AVAILABLE)
                    found += info[i].usedGpuMemory;
        }
        free(info);
        /* The list may grow between the two calls: ask again with room to spare. */
        if (r == NVML_ERROR_INSUFFICIENT_SIZE && count > cap && cap < MAX_CAPACITY) {
            cap = count + 16 < MAX_CAPACITY ? count + 16 : MAX_CAPACITY;
            continue;
        }
        return found;
    }
}

bool gvs_context_nvml(const uint8_t uuid[GV_UUID_LEN], uint64_t *bytes)
{
    *bytes = 0;
    void *h = nvml_library();
    if (!h)
        return false;
    init_fn init = (init_fn)gvs_real_dlsym(h, "nvmlInit_v2");
    init_fn shutdown = (init_fn)gvs_real_dlsym(h, "nvmlShutdown");
    handle_fn by_uuid = (handle_fn)gvs_real_dlsym(h, "nvmlDeviceGetHandleByUUID");
    procs_fn procs = (procs_fn)gvs_real_dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!init || !shutdown || !by_uuid || !procs || init() != NVML_SUCCESS)
        return false;
    char text[GV_UUID_TEXT];
    nvmlDevice_t dev;
    bool ok = by_uuid(gv_uuid_format(uuid, text), &dev) == NVML_SUCCESS;
    if (ok)
        *bytes = pid_memory(procs, dev);
    shutdown();
    return ok;
}
