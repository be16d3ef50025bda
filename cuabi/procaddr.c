/* SPDX-License-Identifier: Apache-2.0 */
/* procaddr.c: cuGetProcAddress, cuGetExportTable and the error strings, from the lists in
 * cuabi/abi.h.
 *
 * Both drivers that gpuvisor builds (the simulator and the remoting client) answer the CUDA
 * runtime's requests from one table, so this file is compiled into each of them: each library's
 * cuda_procaddr.c includes it, and the table's rows then name that library's own functions: a
 * library that lacks one of them does not link. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#include <cudaTypedefs.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cuabi/abi.h"

/* Compile-time check that an entry point has exactly the signature of the toolkit's PFN typedef
 * for its ABI version. */
#define CUABI_CHECK(fn, pfn)                                                                       \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&fn), pfn), #fn " does not "            \
                                                                           "match " #pfn)

#define CHECK_X(name, ver, fn)         CUABI_CHECK(fn, PFN_##name##_v##ver);
#define CHECK_T(name, ver, suffix, fn) CUABI_CHECK(fn, PFN_##name##_v##ver##_##suffix);
CUABI_ENTRIES(CHECK_X, CHECK_T)

struct entry {
    const char *name;
    int version; /* the CUDA version that introduced this ABI */
    bool per_thread;
    void *fn;
};

#define ROW_X(name, ver, fn)         {#name, ver, false, (void *)(fn)},
#define ROW_T(name, ver, suffix, fn) {#name, ver, true, (void *)(fn)},
static struct entry table[] = {CUABI_ENTRIES(ROW_X, ROW_T)};
#define NENTRIES (sizeof(table) / sizeof(table[0]))

static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Sorting by name lets a lookup find all ABIs of one name as one run. */
static void sort_table(void)
{
    qsort(table, NENTRIES, sizeof(table[0]), by_name);
}

static CUresult lookup(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                       CUdriverProcAddressQueryResult *found)
{
    if (found)
        *found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    if (!symbol || !pfn)
        return CUDA_ERROR_INVALID_VALUE;
    *pfn = NULL;
    const cuuint64_t known =
        CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    if (flags & ~known)
        return CUDA_ERROR_INVALID_VALUE;
    pthread_once(&sorted_once, sort_table);

    struct entry key = {.name = symbol};
    const struct entry *hit = bsearch(&key, table, NENTRIES, sizeof(table[0]), by_name);
    if (!hit)
        return CUDA_ERROR_NOT_FOUND;
    const struct entry *first = hit, *end = hit + 1;
    while (first > table && strcmp(first[-1].name, symbol) == 0)
        first--;
    while (end < table + NENTRIES && strcmp(end->name, symbol) == 0)
        end++;

    /* The newest ABI the caller knows, in the flavour asked for; the legacy flavour when there
     * is no per-thread one (most functions take no stream and have none). */
    bool want_pt = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) &&
                   !(flags & CU_GET_PROC_ADDRESS_LEGACY_STREAM);
    const struct entry *best = NULL, *best_pt = NULL;
    for (const struct entry *e = first; e < end; e++) {
        if (e->version > cudaVersion)
            continue;
        const struct entry **slot = e->per_thread ? &best_pt : &best;
        if (!*slot || e->version > (*slot)->version)
            *slot = e;
    }
    if (want_pt && best_pt)
        best = best_pt;
    if (!best) {
        if (found)
            *found = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
        return CUDA_ERROR_NOT_FOUND;
    }
    *pfn = best->fn;
    if (found)
        *found = CU_GET_PROC_ADDRESS_SUCCESS;
    return CUDA_SUCCESS;
}

/* Works before cuInit: the runtime looks up cuInit itself this way. */
CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags,
                             CUdriverProcAddressQueryResult *symbolStatus)
{
    return lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion, cuuint64_t flags)
{
    return lookup(symbol, pfn, cudaVersion, flags, NULL);
}

/* The runtime's private tables are the vendor's undocumented, integrity-checked interface;
 * neither driver imitates them (docs/simulator.md). */
CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId)
{
    if (ppExportTable)
        *ppExportTable = NULL;
    (void)pExportTableId;
    return CUDA_ERROR_NOT_SUPPORTED;
}

/* Neither needs cuInit: a program must be able to explain why cuInit failed. */
CUresult cuGetErrorString(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
#define STRING_CASE(code, text)                                                                    \
    case code:                                                                                     \
        *pStr = text;                                                                              \
        return CUDA_SUCCESS;
        CUABI_ERRORS(STRING_CASE)
#undef STRING_CASE
    default:
        *pStr = NULL;
        return CUDA_ERROR_INVALID_VALUE;
    }
}

CUresult cuGetErrorName(CUresult error, const char **pStr)
{
    if (!pStr)
        return CUDA_ERROR_INVALID_VALUE;
    switch (error) {
#define NAME_CASE(code, text)                                                                      \
    case code:                                                                                     \
        *pStr = #code;                                                                             \
        return CUDA_SUCCESS;
        CUABI_ERRORS(NAME_CASE)
#undef NAME_CASE
    default:
        *pStr = NULL;
        return CUDA_ERROR_INVALID_VALUE;
    }
}
