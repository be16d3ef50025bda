/* SPDX-License-Identifier: Apache-2.0 */
/* test_procaddr.c: cuGetProcAddress as the CUDA runtime uses it, and the error strings.
 *
 * The probe reaches the driver exactly as cudart 13 does: dlopen("libcuda.so.1"), dlsym of
 * cuGetProcAddress_v2, then every request the runtime makes (cudart13-requests.txt: name, the
 * cudaVersion it passes, its flags). Whatever resolves must be the ABI the runtime asked for: the
 * test works out the exported name independently (the ABI versions of each name, as
 * cudaTypedefs.h lists them: the oldest is the plain name, then _v2, _v3 ...; per-thread requests
 * add _ptds or _ptsz) and compares with dlsym of that name. And whatever the library exports
 * under that name must resolve: a function that dlsym finds but cuGetProcAddress does not would
 * be invisible to the runtime. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <cudaTypedefs.h>

#include "simtest.h"

/* Names with more than one ABI, and the CUDA versions that introduced each (cudaTypedefs.h). */
static const struct {
    const char *name;
    int versions[4];
} abis[] = {
    {"cuArray3DCreate", {2000, 3020}},
    {"cuArray3DGetDescriptor", {2000, 3020}},
    {"cuArrayCreate", {2000, 3020}},
    {"cuArrayGetDescriptor", {2000, 3020}},
    {"cuCtxCreate", {2000, 3020, 11040, 12050}},
    {"cuCtxDestroy", {2000, 4000}},
    {"cuCtxGetDevice", {2000, 13000}},
    {"cuCtxPopCurrent", {2000, 4000}},
    {"cuCtxPushCurrent", {2000, 4000}},
    {"cuCtxSynchronize", {2000, 13000}},
    {"cuDeviceGetUuid", {9020, 11040}},
    {"cuDevicePrimaryCtxRelease", {7000, 11000}},
    {"cuDevicePrimaryCtxReset", {7000, 11000}},
    {"cuDevicePrimaryCtxSetFlags", {7000, 11000}},
    {"cuDeviceTotalMem", {2000, 3020}},
    {"cuEventDestroy", {2000, 4000}},
    {"cuEventElapsedTime", {2000, 12080}},
    {"cuGetProcAddress", {11030, 12000}},
    {"cuGraphAddDependencies", {10000, 12030}},
    {"cuGraphAddKernelNode", {10000, 12000}},
    {"cuGraphAddNode", {12020, 12030}},
    {"cuGraphExecKernelNodeSetParams", {10010, 12000}},
    {"cuGraphExecUpdate", {10020, 12000}},
    {"cuGraphGetEdges", {10000, 12030}},
    {"cuGraphInstantiate", {10000, 11000}},
    {"cuGraphKernelNodeGetParams", {10000, 12000}},
    {"cuGraphKernelNodeSetParams", {10000, 12000}},
    {"cuGraphNodeGetDependencies", {10000, 12030}},
    {"cuGraphNodeGetDependentNodes", {10000, 12030}},
    {"cuGraphRemoveDependencies", {10000, 12030}},
    {"cuGraphicsResourceGetMappedPointer", {3000, 3020}},
    {"cuGraphicsResourceSetMapFlags", {3000, 6050}},
    {"cuIpcOpenMemHandle", {4010, 11000}},
    {"cuLinkAddData", {5050, 6050}},
    {"cuLinkAddFile", {5050, 6050}},
    {"cuLinkCreate", {5050, 6050}},
    {"cuMemAdvise", {8000, 12020}},
    {"cuMemAlloc", {2000, 3020}},
    {"cuMemAllocHost", {2000, 3020}},
    {"cuMemAllocPitch", {2000, 3020}},
    {"cuMemFree", {2000, 3020}},
    {"cuMemGetAddressRange", {2000, 3020}},
    {"cuMemGetInfo", {2000, 3020}},
    {"cuMemHostGetDevicePointer", {2020, 3020}},
    {"cuMemHostRegister", {4000, 6050}},
    {"cuMemPrefetchAsync", {8000, 12020}},
    {"cuMemcpy2D", {2000, 3020}},
    {"cuMemcpy2DAsync", {2000, 3020}},
    {"cuMemcpy2DUnaligned", {2000, 3020}},
    {"cuMemcpy3D", {2000, 3020}},
    {"cuMemcpy3DAsync", {2000, 3020}},
    {"cuMemcpy3DBatchAsync", {12080, 13000}},
    {"cuMemcpyAtoA", {2000, 3020}},
    {"cuMemcpyAtoD", {2000, 3020}},
    {"cuMemcpyAtoH", {2000, 3020}},
    {"cuMemcpyAtoHAsync", {2000, 3020}},
    {"cuMemcpyBatchAsync", {12080, 13000}},
    {"cuMemcpyDtoA", {2000, 3020}},
    {"cuMemcpyDtoD", {2000, 3020}},
    {"cuMemcpyDtoDAsync", {3000, 3020}},
    {"cuMemcpyDtoH", {2000, 3020}},
    {"cuMemcpyDtoHAsync", {2000, 3020}},
    {"cuMemcpyHtoA", {2000, 3020}},
    {"cuMemcpyHtoAAsync", {2000, 3020}},
    {"cuMemcpyHtoD", {2000, 3020}},
    {"cuMemcpyHtoDAsync", {2000, 3020}},
    {"cuMemsetD16", {2000, 3020}},
    {"cuMemsetD2D16", {2000, 3020}},
    {"cuMemsetD2D32", {2000, 3020}},
    {"cuMemsetD2D8", {2000, 3020}},
    {"cuMemsetD32", {2000, 3020}},
    {"cuMemsetD8", {2000, 3020}},
    {"cuModuleGetGlobal", {2000, 3020}},
    {"cuStreamBatchMemOp", {8000, 11070}},
    {"cuStreamBeginCapture", {10000, 10010}},
    {"cuStreamDestroy", {2000, 4000}},
    {"cuStreamGetCaptureInfo", {10010, 11030, 12030}},
    {"cuStreamGetCtx", {9020, 12050}},
    {"cuStreamUpdateCaptureDependencies", {11030, 12030}},
    {"cuStreamWaitValue32", {8000, 11070}},
    {"cuStreamWaitValue64", {9000, 11070}},
    {"cuStreamWriteValue32", {8000, 11070}},
    {"cuStreamWriteValue64", {9000, 11070}},
    {"cuTexRefGetAddress", {2000, 3020}},
    {"cuTexRefSetAddress", {2000, 3020}},
    {"cuTexRefSetAddress2D", {2020, 3020, 4010}},
};

/* The exported name of the ABI that a request for (name, version) must get, without the
 * per-thread suffix; NULL when the name has no ABI that old. */
static const char *versioned(const char *name, int version, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(abis) / sizeof(abis[0]); i++) {
        if (strcmp(abis[i].name, name) != 0)
            continue;
        int rank = -1;
        for (int k = 0; k < 4 && abis[i].versions[k]; k++)
            if (abis[i].versions[k] <= version)
                rank = k;
        if (rank < 0)
            return NULL;
        if (rank == 0)
            snprintf(buf, len, "%s", name);
        else
            snprintf(buf, len, "%s_v%d", name, rank + 1);
        return buf;
    }
    snprintf(buf, len, "%s", name);
    return buf;
}

static void *lib;
static PFN_cuGetProcAddress_v12000 gpa;

static void open_driver(void)
{
    lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    CHECK(lib != NULL);
    gpa = (PFN_cuGetProcAddress_v12000)dlsym(lib, "cuGetProcAddress_v2");
    CHECK(gpa != NULL);
}

static void *sym(const char *name)
{
    return dlsym(lib, name);
}

static void versions_resolve_to_their_abi(void)
{
    void *p;
    CUdriverProcAddressQueryResult found;
    static const struct {
        const char *name;
        int version;
        cuuint64_t flags;
        const char *want;
    } cases[] = {
        {"cuMemAlloc", 3020, 0, "cuMemAlloc_v2"},
        {"cuMemAlloc", 2000, 0, "cuMemAlloc"},
        {"cuMemAlloc", 13000, 0, "cuMemAlloc_v2"},
        {"cuCtxCreate", 3020, 0, "cuCtxCreate_v2"},
        {"cuCtxCreate", 11040, 0, "cuCtxCreate_v3"},
        {"cuCtxCreate", 12050, 0, "cuCtxCreate_v4"},
        {"cuCtxCreate", 13000, 0, "cuCtxCreate_v4"},
        {"cuCtxGetDevice", 2000, 0, "cuCtxGetDevice"},
        {"cuCtxGetDevice", 13000, 0, "cuCtxGetDevice_v2"},
        {"cuDeviceGetUuid", 9020, 0, "cuDeviceGetUuid"},
        {"cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2"},
        {"cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM,
         "cuMemAllocAsync_ptsz"},
        {"cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuMemAllocAsync"},
        {"cuMemAllocAsync", 11020, 0, "cuMemAllocAsync"},
        {"cuMemAlloc", 3020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, "cuMemAlloc_v2"},
        {"cuGetProcAddress", 11030, 0, "cuGetProcAddress"},
        {"cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = NULL;
        found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        OK(gpa(cases[i].name, &p, cases[i].version, cases[i].flags, &found));
        CHECK(found == CU_GET_PROC_ADDRESS_SUCCESS);
        if (p != sym(cases[i].want)) {
            st_fail(__FILE__, __LINE__, "%s %d %llu: not %s", cases[i].name, cases[i].version,
                    (unsigned long long)cases[i].flags, cases[i].want);
            return;
        }
    }
    /* The legacy entry point answers the same way. */
    PFN_cuGetProcAddress_v11030 gpa1 = (PFN_cuGetProcAddress_v11030)sym("cuGetProcAddress");
    CHECK(gpa1 != NULL);
    OK(gpa1("cuMemFree", &p, 3020, 0));
    CHECK(p == sym("cuMemFree_v2"));
}

static void failures(void)
{
    void *p = (void *)1;
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SUCCESS;
    CHECK_CU(gpa("cuNoSuchFunction", &p, 13000, 0, &found), CUDA_ERROR_NOT_FOUND);
    CHECK(found == CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND);
    CHECK(p == NULL);
    CHECK_CU(gpa("cuMemAllocAsync", &p, 11010, 0, &found), CUDA_ERROR_NOT_FOUND);
    CHECK(found == CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT);
    CHECK_CU(gpa(NULL, &p, 13000, 0, &found), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(gpa("cuInit", NULL, 13000, 0, &found), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(gpa("cuInit", &p, 13000, 8, &found), CUDA_ERROR_INVALID_VALUE);
    OK(gpa("cuInit", &p, 13000, 0, NULL)); /* symbolFound is optional */
    const void *table = (const void *)1;
    CUuuid id = {{0}};
    PFN_cuGetExportTable_v3000 get_export = (PFN_cuGetExportTable_v3000)sym("cuGetExportTable");
    CHECK(get_export != NULL);
    CHECK_CU(get_export(&table, &id), CUDA_ERROR_NOT_SUPPORTED);
}

static void error_strings(void)
{
    const char *s = NULL;
    OK(cuGetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &s));
    CHECK(strcmp(s, "CUDA_ERROR_OUT_OF_MEMORY") == 0);
    OK(cuGetErrorString(CUDA_ERROR_OUT_OF_MEMORY, &s));
    CHECK(strcmp(s, "out of memory") == 0);
    OK(cuGetErrorName(CUDA_SUCCESS, &s));
    CHECK(strcmp(s, "CUDA_SUCCESS") == 0);
    OK(cuGetErrorName(CUDA_ERROR_UNKNOWN, &s));
    CHECK(strcmp(s, "CUDA_ERROR_UNKNOWN") == 0);
    CHECK_CU(cuGetErrorName((CUresult)9999, &s), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuGetErrorString((CUresult)9999, &s), CUDA_ERROR_INVALID_VALUE);
    CHECK_CU(cuGetErrorString(CUDA_SUCCESS, NULL), CUDA_ERROR_INVALID_VALUE);
    /* Every code with a name has a string, and the name is the code's own. */
    int named = 0;
    for (int code = 0; code < 1000; code++) {
        const char *name = NULL, *text = NULL;
        CUresult rn = cuGetErrorName((CUresult)code, &name);
        CUresult rs = cuGetErrorString((CUresult)code, &text);
        CHECK(rn == rs);
        if (rn == CUDA_SUCCESS) {
            CHECK(strncmp(name, "CUDA_", 5) == 0 && text && *text);
            named++;
        }
    }
    CHECK(named >= 100);
}

/* One line of the request list: does it resolve, and to the ABI asked for? */
static int probe_one(const char *name, int version, unsigned long long flags, int *resolved)
{
    char buf[160], pt[192];
    void *p = NULL;
    CUdriverProcAddressQueryResult found;
    CUresult r = gpa(name, &p, version, flags, &found);
    const char *want = versioned(name, version, buf, sizeof(buf));
    void *expect = NULL;
    if (want && (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)) {
        snprintf(pt, sizeof(pt), "%s_ptds", want);
        expect = sym(pt);
        if (!expect) {
            snprintf(pt, sizeof(pt), "%s_ptsz", want);
            expect = sym(pt);
        }
        if (expect)
            want = pt;
    }
    if (want && !expect)
        expect = sym(want);
    if (r == CUDA_SUCCESS) {
        (*resolved)++;
        if (found != CU_GET_PROC_ADDRESS_SUCCESS || !p || p != expect) {
            fprintf(stderr, "  %s %d %llu: resolves, but not to %s\n", name, version, flags,
                    want ? want : "(no ABI that old)");
            return 1;
        }
        return 0;
    }
    if (expect) {
        fprintf(stderr, "  %s %d %llu: %s is exported but does not resolve\n", name, version, flags,
                want);
        return 1;
    }
    return 0;
}

static void runtime_requests_resolve(void)
{
    const char *dir = getenv("GVSIM_TEST_DATA");
    char path[512];
    snprintf(path, sizeof(path), "%s/cudart13-requests.txt", dir ? dir : "tests/sim");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char line[256], name[128];
    int version, total = 0, resolved = 0, wrong = 0;
    unsigned long long flags;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || sscanf(line, "%127s %d %llu", name, &version, &flags) != 3)
            continue;
        total++;
        wrong += probe_one(name, version, flags, &resolved);
    }
    fclose(f);
    printf("     runtime requests: %d of %d resolve (%d wrong)\n", resolved, total, wrong);
    CHECK(total > 400);
    CHECK(wrong == 0);
    /* What the runtime needs to start and allocate must be there. */
    const char *core[] = {"cuInit",           "cuDriverGetVersion",   "cuDeviceGetCount",
                          "cuDeviceGet",      "cuDeviceGetAttribute", "cuDevicePrimaryCtxRetain",
                          "cuCtxGetCurrent",  "cuCtxSetCurrent",      "cuMemAlloc",
                          "cuMemFree",        "cuMemGetInfo",         "cuGetProcAddress",
                          "cuGetErrorString", "cuMemAllocAsync"};
    for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
        void *p = NULL;
        if (gpa(core[i], &p, 13000, 0, NULL) != CUDA_SUCCESS) {
            st_fail(__FILE__, __LINE__, "%s does not resolve", core[i]);
            return;
        }
    }
}

int main(void)
{
    st_machine("T4");
    RUN(open_driver);
    if (!gpa)
        return st_summary();
    RUN(versions_resolve_to_their_abi);
    RUN(failures);
    RUN(error_strings);
    RUN(runtime_requests_resolve);
    return st_summary();
}
