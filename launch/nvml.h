/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.h: the NVML functions gpuvisor's tools call, found in a library opened at run time.
 *
 * The CLI and gpuvisord must build where no driver is installed, so neither links libnvidia-ml:
 * each opens a library with dlopen (which one is its own choice: the driver's, GPUVISOR_NVML, the
 * simulator's) and binds the few functions they use here, typed from core/nvml.h. */
#ifndef GVL_NVML_H
#define GVL_NVML_H

#include <stdbool.h>

#include "core/nvml.h"

struct gvl_nvml {
    __typeof__(nvmlInit_v2) *init;
    __typeof__(nvmlShutdown) *shutdown;
    __typeof__(nvmlErrorString) *error_string; /* may be NULL */
    __typeof__(nvmlDeviceGetCount_v2) *count;
    __typeof__(nvmlDeviceGetHandleByIndex_v2) *by_index;
    __typeof__(nvmlDeviceGetName) *name;
    __typeof__(nvmlDeviceGetUUID) *uuid;
    __typeof__(nvmlDeviceGetMemoryInfo) *memory;   /* may be NULL unless need_memory */
    __typeof__(nvmlDeviceGetPciInfo_v3) *pci_info; /* may be NULL (an old driver) */
};

/* Bind f's functions from the library handle lib. Returns false when one it needs is missing
 * (nvmlDeviceGetMemoryInfo is needed only with need_memory). */
bool gvl_nvml_bind(void *lib, struct gvl_nvml *f, bool need_memory);

/* NVML's text for rc, or "unknown error". */
const char *gvl_nvml_error(const struct gvl_nvml *f, nvmlReturn_t rc);

#endif
