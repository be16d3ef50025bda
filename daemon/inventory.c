/* SPDX-License-Identifier: Apache-2.0 */
/* inventory.c: the GPUs of this server, read from NVML once at start.
 *
 * gpuvisord must build and install where no driver is present, so it never links libnvidia-ml: it
 * opens libnvidia-ml.so.1 with dlopen and binds the few functions it needs (launch/nvml.h). Each
 * GPU is known by its UUID (NVML indices can change across reboots; instances remember the UUID)
 * and its PCI address is kept to match it with the host's PCI tree; it is mapped to a model of the
 * catalogue by the name the driver gives it, which is what profiles and placement plan with. With
 * --sim the daemon asks for the simulator: it sets GPUVISOR_SIM_GPUS to the models given and loads
 * the simulated NVML, from the build tree next to its own binary when it is there, else from the
 * library path. Without a driver and without --sim it refuses to start, and says how to try it
 * without a GPU. */
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/nvml.h"
#include "daemon/gvd.h"
#include "launch/nvml.h"

#define NVML_LIB "libnvidia-ml.so.1"

/* The simulated NVML of the build tree this binary belongs to: <bin>/../lib/sim. */
static void *open_sim(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/../lib/sim/" NVML_LIB, dirname(exe));
    return access(path, R_OK) == 0 ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
}

static int check_sim(const char *models, struct gv_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", models);
    char *save = NULL;
    unsigned n = 0;
    for (char *m = strtok_r(buf, ",", &save); m; m = strtok_r(NULL, ",", &save), n++) {
        struct gv_error e = {0};
        if (!gv_model_find(m, &e))
            return gv_error_set(err, -EINVAL, "--sim %s: %s", models, e.msg);
    }
    if (n == 0 || n > GV_MAX_GPUS)
        return gv_error_set(err, -EINVAL, "--sim \"%s\": give 1 to %d models, e.g. --sim T4,T4",
                            models, GV_MAX_GPUS);
    return 0;
}

static void *open_nvml(const char *sim, struct gv_error *err)
{
    const char *path = getenv("GPUVISOR_NVML");
    void *lib = NULL;
    if (path && *path)
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    else if (sim[0] && (lib = open_sim()) != NULL)
        return lib;
    else
        lib = dlopen(path = NVML_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        if (sim[0])
            gv_error_set(err, -ENOENT,
                         "--sim: the simulated NVML (%s) cannot be loaded: %s (put "
                         "build/lib/sim first on LD_LIBRARY_PATH)",
                         path, why ? why : "not found");
        else
            gv_error_set(err, -ENOENT,
                         "no NVIDIA driver: %s cannot be loaded (%s); to try gpuvisord without a "
                         "GPU, start it with --sim T4,T4 (the simulator)",
                         path, why ? why : "not found");
    }
    return lib;
}

int gvd_inventory_load(struct gvd *d, struct gv_error *err)
{
    const char *sim = d->cfg.sim;
    if (sim[0]) {
        int rc = check_sim(sim, err);
        if (rc)
            return rc;
        setenv("GPUVISOR_SIM_GPUS", sim, 1);
    }
    void *lib = open_nvml(sim, err);
    if (!lib)
        return -ENOENT;
    struct gvl_nvml f;
    if (!gvl_nvml_bind(lib, &f, true))
        return gv_error_set(err, -ENOSYS,
                            "NVML lacks a function gpuvisord needs (update the driver)");
    /* The library stays loaded: unloading a driver's library is not worth the risk. */
    nvmlReturn_t rc = f.init();
    if (rc != NVML_SUCCESS)
        return gv_error_set(err, -ENODEV, "NVML: nvmlInit: %s%s", gvl_nvml_error(&f, rc),
                            sim[0] ? "" : " (to try gpuvisord without a GPU: --sim T4,T4)");
    unsigned count = 0;
    rc = f.count(&count);
    if (rc != NVML_SUCCESS) {
        f.shutdown();
        return gv_error_set(err, -ENODEV, "NVML: nvmlDeviceGetCount: %s", gvl_nvml_error(&f, rc));
    }
    if (count > GV_MAX_GPUS)
        count = GV_MAX_GPUS;
    int out = 0;
    for (unsigned i = 0; i < count && !out; i++) {
        struct gvd_gpu *g = &d->gpus[i];
        memset(g, 0, sizeof(*g));
        g->index = i;
        g->mode = GVD_MODE_SLICED;
        nvmlDevice_t dev;
        char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
        nvmlMemory_t mem;
        if ((rc = f.by_index(i, &dev)) != NVML_SUCCESS ||
            (rc = f.name(dev, g->product, sizeof(g->product))) != NVML_SUCCESS ||
            (rc = f.uuid(dev, uuid, sizeof(uuid))) != NVML_SUCCESS ||
            (rc = f.memory(dev, &mem)) != NVML_SUCCESS) {
            out = gv_error_set(err, -ENODEV, "NVML: GPU %u: %s", i, gvl_nvml_error(&f, rc));
            break;
        }
        struct gv_error e = {0};
        if (gv_uuid_parse(uuid, strlen(uuid), 0, g->uuid, &e) != 0) {
            out = gv_error_set(err, -ENODEV, "NVML: GPU %u: %s", i, e.msg);
            break;
        }
        gv_uuid_format(g->uuid, g->uuid_text);
        g->memory_total = mem.total;
        /* The PCI address ties the GPU to the host's view of it (passthrough, vGPUs). NVML gives
         * device numbers, not functions: a GPU is function 0 of its slot. */
        nvmlPciInfo_t pci;
        if (f.pci_info && f.pci_info(dev, &pci) == NVML_SUCCESS)
            snprintf(g->pci, sizeof(g->pci), "%04x:%02x:%02x.0", pci.domain, pci.bus & 0xffu,
                     pci.device & 0x1fu);
        g->model = gv_model_find(g->product, NULL);
        if (!g->model)
            fprintf(stderr,
                    "gpuvisord: GPU %u (%s) is not in the catalogue: it takes instances by memory "
                    "and compute, not by profile\n",
                    i, g->product);
    }
    f.shutdown();
    if (out)
        return out;
    d->ngpus = count;
    if (count == 0)
        fprintf(stderr, "gpuvisord: NVML reports no GPUs: no instance can be made\n");
    return 0;
}
