/* context.c: how much device memory this process's CUDA context takes on a GPU.
 *
 * A context holds device memory that no allocation call asks for (hundreds of MiB on a real GPU:
 * the driver's own state, local memory for the kernels, the printf and heap buffers), and it
 * differs by GPU, driver version and context flags. So it is measured, not guessed: NVML's list of
 * compute processes gives this process's memory on the GPU, and whatever of it the process has not
 * charged to its slice is its context's. instance.c asks once per GPU, the first time the process
 * uses the GPU with a context current, outside any lock; a user may give the figure instead
 * (GPUVISOR_CONTEXT_MEMORY), which instance.c reads.
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

uint64_t gvs_context_measure(const uint8_t uuid[GV_UUID_LEN], uint64_t charged)
{
    void *h = nvml_library();
    if (!h)
        return 0;
    init_fn init = (init_fn)gvs_real_dlsym(h, "nvmlInit_v2");
    init_fn shutdown = (init_fn)gvs_real_dlsym(h, "nvmlShutdown");
    handle_fn by_uuid = (handle_fn)gvs_real_dlsym(h, "nvmlDeviceGetHandleByUUID");
    procs_fn procs = (procs_fn)gvs_real_dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!init || !shutdown || !by_uuid || !procs || init() != NVML_SUCCESS)
        return 0;
    char text[GV_UUID_TEXT];
    nvmlDevice_t dev;
    uint64_t used = 0;
    if (by_uuid(gv_uuid_format(uuid, text), &dev) == NVML_SUCCESS)
        used = pid_memory(procs, dev);
    shutdown();
    /* Allocations are charged before the driver makes them, so what was charged is at least what
     * NVML can see of them: the rest is the context's. */
    return used > charged ? used - charged : 0;
}
