/* SPDX-License-Identifier: Apache-2.0 */
/* procaddr.c: answering cuGetProcAddress and dlsym with the shim's wrappers.
 *
 * The CUDA runtime asks for every driver function by name, cudaVersion and flags. The real driver
 * answers first (so an unknown name or a too-old version gets the driver's own error); when the
 * shim wraps that name, the answer is replaced by the wrapper of the same ABI version: the newest
 * line of hooks.def whose version is not newer than the one asked, and its per-thread
 * default-stream variant when the flags ask for it. */
#include "shim/shim.h"

#include <string.h>

#include "shim/hooks.h"

struct entry {
    const char *name;
    int version;
    int ptsz;
    const char *abi;
    void *hook;
};

static const struct entry entries[] = {
#define HOOK(name, version, ptsz, abi, pfn) {#name, version, ptsz, #abi, (void *)gvs_##abi},
#include "shim/hooks.def"
#undef HOOK
};

#define NENTRIES (sizeof(entries) / sizeof(entries[0]))

void *gvs_hook_for_symbol(const char *abi)
{
    for (size_t i = 0; i < NENTRIES; i++)
        if (strcmp(entries[i].abi, abi) == 0)
            return entries[i].hook;
    return NULL;
}

void *gvs_hook_for_request(const char *name, int version, cuuint64_t flags)
{
    const struct entry *best = NULL, *best_ptsz = NULL;
    for (size_t i = 0; i < NENTRIES; i++) {
        const struct entry *e = &entries[i];
        if (e->version > version || strcmp(e->name, name) != 0)
            continue;
        if (e->ptsz)
            best_ptsz = e;
        else
            best = e;
    }
    if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) && best_ptsz)
        return best_ptsz->hook;
    return best ? best->hook : NULL;
}

CUresult gvs_cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags)
{
    if (!gvs_init() || !gvs_real.cuGetProcAddress)
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = gvs_real.cuGetProcAddress(symbol, pfn, version, flags);
    if (r == CUDA_SUCCESS && symbol && pfn && *pfn) {
        void *hook = gvs_hook_for_request(symbol, version, flags);
        if (hook)
            *pfn = hook;
    }
    return r;
}

CUresult gvs_cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                 CUdriverProcAddressQueryResult *found)
{
    if (!gvs_init() || !gvs_real.cuGetProcAddress_v2)
        return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = gvs_real.cuGetProcAddress_v2(symbol, pfn, version, flags, found);
    if (r == CUDA_SUCCESS && symbol && pfn && *pfn) {
        void *hook = gvs_hook_for_request(symbol, version, flags);
        if (hook)
            *pfn = hook;
    }
    return r;
}
