/* SPDX-License-Identifier: Apache-2.0 */
/* nvml_load.c: the GPUs of this machine, from NVML loaded at run time.
 *
 * The CLI must build where only a C toolchain exists and still run (with less to show) where no
 * driver is installed, so it never links libnvidia-ml: it opens libnvidia-ml.so.1 with dlopen and
 * binds the few functions it needs by name (launch/nvml.h). With
 * the simulator's directory first on LD_LIBRARY_PATH the same code reads the simulated GPUs;
 * GPUVISOR_NVML names another library file (an unusual install, or a test that needs NVML absent
 * on a machine that has it). All
 * figures are read in one NVML session and copied out, so callers never hold NVML handles. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "launch/nvml.h"

static void read_gpu(const struct gvl_nvml *f, unsigned index, bool memory, struct cli_gpu *out)
{
    memset(out, 0, sizeof(*out));
    out->index = index;
    nvmlDevice_t dev;
    if (f->by_index(index, &dev) != NVML_SUCCESS) {
        snprintf(out->name, sizeof(out->name), "(unreadable)");
        return;
    }
    if (f->name(dev, out->name, sizeof(out->name)) != NVML_SUCCESS)
        snprintf(out->name, sizeof(out->name), "(unknown)");
    if (f->uuid(dev, out->uuid, sizeof(out->uuid)) == NVML_SUCCESS)
        out->raw_ok = gv_uuid_parse(out->uuid, strlen(out->uuid), 0, out->raw, NULL) == 0;
    nvmlMemory_t mem;
    if (memory && f->memory && f->memory(dev, &mem) == NVML_SUCCESS) {
        out->memory_ok = true;
        out->total = mem.total;
        out->used = mem.used;
    }
}

void cli_gpus_load(struct cli_gpus *g, bool memory)
{
    memset(g, 0, sizeof(*g));
    const char *path = getenv("GPUVISOR_NVML");
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(g->why, sizeof(g->why), "NVML is not available (%s)",
                 why ? why : "libnvidia-ml.so.1 not found");
        return;
    }
    struct gvl_nvml f;
    if (!gvl_nvml_bind(lib, &f, false)) {
        snprintf(g->why, sizeof(g->why),
                 "NVML is not usable (libnvidia-ml.so.1 lacks a function gpuvisor needs; "
                 "update the driver)");
        return; /* the library stays loaded: unloading a driver library is not worth the risk */
    }
    nvmlReturn_t rc = f.init();
    if (rc != NVML_SUCCESS) {
        snprintf(g->why, sizeof(g->why), "NVML is not available (nvmlInit: %s)",
                 gvl_nvml_error(&f, rc));
        return;
    }
    unsigned count = 0;
    rc = f.count(&count);
    if (rc != NVML_SUCCESS) {
        snprintf(g->why, sizeof(g->why), "NVML is not available (nvmlDeviceGetCount: %s)",
                 gvl_nvml_error(&f, rc));
        f.shutdown();
        return;
    }
    if (count > CLI_MAX_GPUS)
        count = CLI_MAX_GPUS;
    for (unsigned i = 0; i < count; i++)
        read_gpu(&f, i, memory, &g->gpu[i]);
    g->count = count;
    g->available = true;
    f.shutdown();
}

const struct cli_gpu *cli_gpu_by_uuid(const struct cli_gpus *g, const uint8_t raw[GV_UUID_LEN])
{
    for (unsigned i = 0; i < g->count; i++)
        if (g->gpu[i].raw_ok && memcmp(g->gpu[i].raw, raw, GV_UUID_LEN) == 0)
            return &g->gpu[i];
    return NULL;
}
