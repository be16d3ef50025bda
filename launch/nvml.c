/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: binding the NVML functions gpuvisor's tools call (nvml.h). */
#include <dlfcn.h>
#include <string.h>

#include "launch/nvml.h"

/* dlsym gives an object pointer; POSIX lets it convert to a function pointer, and memcpy says so
 * without a cast the compiler would question. */
static bool find(void *lib, const char *sym, void *slot, size_t size)
{
    void *p = dlsym(lib, sym);
    if (!p)
        return false;
    memcpy(slot, &p, size);
    return true;
}

bool gvl_nvml_bind(void *lib, struct gvl_nvml *f, bool need_memory)
{
    memset(f, 0, sizeof(*f));
    find(lib, "nvmlErrorString", &f->error_string, sizeof(f->error_string));
    bool memory = find(lib, "nvmlDeviceGetMemoryInfo", &f->memory, sizeof(f->memory));
    find(lib, "nvmlDeviceGetPciInfo_v3", &f->pci_info, sizeof(f->pci_info));
    return (memory || !need_memory) && find(lib, "nvmlInit_v2", &f->init, sizeof(f->init)) &&
           find(lib, "nvmlShutdown", &f->shutdown, sizeof(f->shutdown)) &&
           find(lib, "nvmlDeviceGetCount_v2", &f->count, sizeof(f->count)) &&
           find(lib, "nvmlDeviceGetHandleByIndex_v2", &f->by_index, sizeof(f->by_index)) &&
           find(lib, "nvmlDeviceGetName", &f->name, sizeof(f->name)) &&
           find(lib, "nvmlDeviceGetUUID", &f->uuid, sizeof(f->uuid));
}

const char *gvl_nvml_error(const struct gvl_nvml *f, nvmlReturn_t rc)
{
    const char *s = f->error_string ? f->error_string(rc) : NULL;
    return s ? s : "unknown error";
}
