/* SPDX-License-Identifier: Apache-2.0 */
/* test_nvml.c: the simulated libnvidia-ml against the simulated driver it watches.
 *
 * NVML is how tools and gpuvisord see a GPU, and what they see must be what the driver side does:
 * memory a process allocates with cuMemAlloc shows in NVML's figures and process list (for this
 * process and for another one), a device has the same UUID and PCI bus id through both libraries,
 * and utilization rises while a kernel runs. The rest is the contract a caller relies on: the count
 * protocol of the list calls, versioned structures, every error path, reference-counted init, and
 * the older unversioned names that existing tools still resolve with dlsym.
 *
 * The other process is this program again (fork and exec, "--child-alloc"), so it starts with a
 * clean driver instead of a forked copy of this one's. */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cuda.h>

#include "core/nvml.h"
#include "simtest.h"

#define MiB (1024ull * 1024)

#define CHECK_NV(call, want)                                                                       \
    do {                                                                                           \
        nvmlReturn_t nv_r_ = (call);                                                               \
        if (nv_r_ != (want)) {                                                                     \
            st_fail(__FILE__, __LINE__, "%s returned %d (%s), want %d (%s)", #call, (int)nv_r_,    \
                    nvmlErrorString(nv_r_), (int)(want), nvmlErrorString(want));                   \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define NV_OK(call) CHECK_NV(call, NVML_SUCCESS)

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void uuid_string(const CUuuid *u, char out[48])
{
    const unsigned char *b = (const unsigned char *)u->bytes;
    snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* The NVML handle of CUDA device `ordinal`, found through its UUID as the shim must do (CUDA
 * ordinals and NVML indices need not agree). NULL on any failure. */
static nvmlDevice_t nvml_of_cuda(int ordinal)
{
    CUdevice d;
    CUuuid u;
    char s[48];
    nvmlDevice_t h;
    if (cuDeviceGet(&d, ordinal) != CUDA_SUCCESS || cuDeviceGetUuid(&u, d) != CUDA_SUCCESS)
        return NULL;
    uuid_string(&u, s);
    return nvmlDeviceGetHandleByUUID(s, &h) == NVML_SUCCESS ? h : NULL;
}

static uint64_t nvml_used(nvmlDevice_t h)
{
    nvmlMemory_t m;
    return nvmlDeviceGetMemoryInfo(h, &m) == NVML_SUCCESS ? m.used : UINT64_MAX;
}

/* The record of `pid` in the device's process list (_v3), or false. */
static bool find_process(nvmlDevice_t h, unsigned pid, nvmlProcessInfo_t *out)
{
    nvmlProcessInfo_t list[64];
    unsigned n = 64;
    if (nvmlDeviceGetComputeRunningProcesses_v3(h, &n, list) != NVML_SUCCESS)
        return false;
    for (unsigned i = 0; i < n; i++) {
        if (list[i].pid == pid) {
            *out = list[i];
            return true;
        }
    }
    return false;
}

static CUcontext ctx0;

/* This program, for running it again as the other process: argv[0] when it is a path (so that it
 * also works under valgrind, where /proc/self/exe is the tool), else /proc/self/exe. */
static const char *self_path = "/proc/self/exe";

/* The primary context of CUDA device 0, current on this thread. */
static CUresult use_device0(void)
{
    if (ctx0)
        return cuCtxSetCurrent(ctx0);
    CUresult r = cuInit(0);
    CUdevice d;
    if (r == CUDA_SUCCESS)
        r = cuDeviceGet(&d, 0);
    if (r == CUDA_SUCCESS)
        r = cuDevicePrimaryCtxRetain(&ctx0, d);
    if (r == CUDA_SUCCESS)
        r = cuCtxSetCurrent(ctx0);
    return r;
}

/* ---------------------------------------------------------------- the other process */

/* argv: --child-alloc UUID BYTES READY_FD HOLD_FD. Allocates on the device with that UUID, says
 * so on READY_FD, and exits without freeing once HOLD_FD reaches end of file: the machine must
 * reclaim what an exiting process held. */
static int child_alloc(char **argv)
{
    const char *want = argv[2];
    unsigned long long bytes = strtoull(argv[3], NULL, 10);
    int ready = atoi(argv[4]), hold = atoi(argv[5]);
    int count = 0;
    if (cuInit(0) != CUDA_SUCCESS || cuDeviceGetCount(&count) != CUDA_SUCCESS)
        return 2;
    for (int i = 0; i < count; i++) {
        CUdevice d;
        CUuuid u;
        char s[48];
        CUcontext c;
        CUdeviceptr p;
        if (cuDeviceGet(&d, i) != CUDA_SUCCESS || cuDeviceGetUuid(&u, d) != CUDA_SUCCESS)
            return 3;
        uuid_string(&u, s);
        if (strcasecmp(s, want) != 0)
            continue;
        if (cuDevicePrimaryCtxRetain(&c, d) != CUDA_SUCCESS || cuCtxSetCurrent(c) != CUDA_SUCCESS ||
            cuMemAlloc(&p, (size_t)bytes) != CUDA_SUCCESS)
            return 4;
        if (write(ready, "R", 1) != 1)
            return 5;
        char b;
        while (read(hold, &b, 1) > 0)
            ;
        return 0;
    }
    return 6;
}

/* ---------------------------------------------------------------- tests */

static void uninitialized(void)
{
    unsigned n;
    nvmlDevice_t h;
    char buf[96];
    int v;
    CHECK_NV(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlDeviceGetHandleByIndex_v2(0, &h), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlSystemGetDriverVersion(buf, sizeof(buf)), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlSystemGetCudaDriverVersion_v2(&v), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlDeviceGetHandleByUUID("GPU-0", &h), NVML_ERROR_UNINITIALIZED);
    /* Before init even a NULL handle is "uninitialized", not "invalid". */
    CHECK_NV(nvmlDeviceGetName(NULL, buf, sizeof(buf)), NVML_ERROR_UNINITIALIZED);
    /* nvmlErrorString works without init: it is how a failed init is reported. */
    CHECK(nvmlErrorString(NVML_ERROR_UNINITIALIZED) != NULL);
}

static void init_is_reference_counted(void)
{
    unsigned n;
    NV_OK(nvmlInit_v2());
    NV_OK(nvmlInitWithFlags(NVML_INIT_FLAG_NO_GPUS));
    NV_OK(nvmlShutdown());
    NV_OK(nvmlDeviceGetCount_v2(&n)); /* one reference left */
    NV_OK(nvmlShutdown());
    CHECK_NV(nvmlDeviceGetCount_v2(&n), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
    /* Init again after a full shutdown; the rest of the tests run on this reference. */
    NV_OK(nvmlInit_v2());
    NV_OK(nvmlDeviceGetCount_v2(&n));
    CHECK(n == 2);
}

static void versions_and_strings(void)
{
    char buf[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
    int nv = 0, cu = 0;
    NV_OK(nvmlSystemGetDriverVersion(buf, sizeof(buf)));
    CHECK(strlen(buf) > 0);
    CHECK_NV(nvmlSystemGetDriverVersion(buf, 2), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_NV(nvmlSystemGetDriverVersion(NULL, sizeof(buf)), NVML_ERROR_INVALID_ARGUMENT);
    NV_OK(nvmlSystemGetNVMLVersion(buf, sizeof(buf)));
    CHECK(strncmp(buf, "13.", 3) == 0);

    NV_OK(nvmlSystemGetCudaDriverVersion(&nv));
    OK(cuInit(0));
    OK(cuDriverGetVersion(&cu));
    CHECK(nv == 13000 && nv == cu);
    nv = 0;
    NV_OK(nvmlSystemGetCudaDriverVersion_v2(&nv));
    CHECK(nv == cu);
    CHECK_NV(nvmlSystemGetCudaDriverVersion_v2(NULL), NVML_ERROR_INVALID_ARGUMENT);

    /* Every code has its own message; unknown codes get the generic one. */
    const char *unknown = nvmlErrorString(NVML_ERROR_UNKNOWN);
    CHECK(unknown && *unknown);
    for (int c = 0; c <= NVML_ERROR_INVALID_STATE; c++) {
        const char *s = nvmlErrorString((nvmlReturn_t)c);
        CHECK(s && *s && strcmp(s, unknown) != 0);
        for (int d = 0; d < c; d++)
            CHECK(strcmp(s, nvmlErrorString((nvmlReturn_t)d)) != 0);
    }
    CHECK(strcmp(nvmlErrorString((nvmlReturn_t)12345), unknown) == 0);
}

/* NVML indices follow GPUVISOR_SIM_GPUS ("T4,H200"); every CUDA device is found through its UUID
 * and its PCI bus id, and both libraries agree on what it is. */
static void devices_agree_with_driver(void)
{
    unsigned n;
    int cu_count;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], cu_name[256];
    nvmlDevice_t h, h2;

    NV_OK(nvmlDeviceGetCount_v2(&n));
    OK(cuInit(0));
    OK(cuDeviceGetCount(&cu_count));
    CHECK(n == 2 && cu_count == 2);

    NV_OK(nvmlDeviceGetHandleByIndex_v2(0, &h));
    NV_OK(nvmlDeviceGetName(h, name, sizeof(name)));
    CHECK(strstr(name, "T4") != NULL);
    NV_OK(nvmlDeviceGetHandleByIndex_v2(1, &h));
    NV_OK(nvmlDeviceGetName(h, name, sizeof(name)));
    CHECK(strstr(name, "H200") != NULL);
    for (unsigned i = 0; i < n; i++) {
        unsigned idx = 99, minor = 99;
        NV_OK(nvmlDeviceGetHandleByIndex_v2(i, &h));
        NV_OK(nvmlDeviceGetIndex(h, &idx));
        NV_OK(nvmlDeviceGetMinorNumber(h, &minor));
        CHECK(idx == i && minor == i);
    }

    bool seen[2] = {false, false};
    for (int ord = 0; ord < cu_count; ord++) {
        CUdevice d;
        CUuuid u;
        char want[48], got[NVML_DEVICE_UUID_V2_BUFFER_SIZE], bus[64];
        OK(cuDeviceGet(&d, ord));
        OK(cuDeviceGetUuid(&u, d));
        uuid_string(&u, want);
        NV_OK(nvmlDeviceGetHandleByUUID(want, &h));
        NV_OK(nvmlDeviceGetUUID(h, got, sizeof(got)));
        CHECK(strcasecmp(got, want) == 0);

        /* The driver's bus id string finds the same device in NVML. */
        OK(cuDeviceGetPCIBusId(bus, sizeof(bus), d));
        NV_OK(nvmlDeviceGetHandleByPciBusId_v2(bus, &h2));
        CHECK(h2 == h);

        nvmlPciInfo_t pci;
        int dom, b, dv;
        NV_OK(nvmlDeviceGetPciInfo_v3(h, &pci));
        OK(cuDeviceGetAttribute(&dom, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, d));
        OK(cuDeviceGetAttribute(&b, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, d));
        OK(cuDeviceGetAttribute(&dv, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, d));
        CHECK(pci.domain == (unsigned)dom && pci.bus == (unsigned)b && pci.device == (unsigned)dv);
        char want_bus[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE], want_legacy[32];
        snprintf(want_bus, sizeof(want_bus), "%08X:%02X:%02X.0", (unsigned)dom, (unsigned)b,
                 (unsigned)dv);
        snprintf(want_legacy, sizeof(want_legacy), "%04X:%02X:%02X.0", (unsigned)dom, (unsigned)b,
                 (unsigned)dv);
        CHECK(strcmp(pci.busId, want_bus) == 0);
        CHECK(strcmp(pci.busIdLegacy, want_legacy) == 0);
        CHECK((pci.pciDeviceId & 0xffffu) == 0x10deu);
        NV_OK(nvmlDeviceGetHandleByPciBusId_v2(want_legacy, &h2));
        CHECK(h2 == h);

        OK(cuDeviceGetName(cu_name, sizeof(cu_name), d));
        NV_OK(nvmlDeviceGetName(h, name, sizeof(name)));
        CHECK(strcmp(cu_name, name) == 0);

        size_t total;
        nvmlMemory_t m;
        OK(cuDeviceTotalMem(&total, d));
        NV_OK(nvmlDeviceGetMemoryInfo(h, &m));
        CHECK(m.total == total);

        int major, minor, cmaj, cmin;
        OK(cuDeviceGetAttribute(&cmaj, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, d));
        OK(cuDeviceGetAttribute(&cmin, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, d));
        NV_OK(nvmlDeviceGetCudaComputeCapability(h, &major, &minor));
        CHECK(major == cmaj && minor == cmin);

        unsigned idx;
        NV_OK(nvmlDeviceGetIndex(h, &idx));
        CHECK(idx < 2 && !seen[idx]);
        seen[idx] = true;
    }
}

static void error_paths(void)
{
    nvmlDevice_t h, h2;
    char buf[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    unsigned n;
    NV_OK(nvmlDeviceGetHandleByIndex_v2(0, &h));

    /* NULL outputs and out-of-range indices. */
    CHECK_NV(nvmlDeviceGetCount_v2(NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByIndex_v2(2, &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByIndex_v2(0, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetName(h, NULL, 64), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetIndex(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetPciInfo_v3(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetMemoryInfo(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetMemoryInfo_v2(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetUtilizationRates(h, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetCudaComputeCapability(h, NULL, NULL), NVML_ERROR_INVALID_ARGUMENT);

    /* Bad handles: NULL, an address that is not a handle, a handle plus one byte. */
    nvmlMemory_t m;
    int not_a_device = 0;
    CHECK_NV(nvmlDeviceGetMemoryInfo(NULL, &m), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetMemoryInfo((nvmlDevice_t)(void *)&not_a_device, &m),
             NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetMemoryInfo((nvmlDevice_t)(void *)((char *)h + 1), &m),
             NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetName((nvmlDevice_t)(void *)&not_a_device, buf, sizeof(buf)),
             NVML_ERROR_INVALID_ARGUMENT);
    n = 0;
    CHECK_NV(nvmlDeviceGetComputeRunningProcesses_v3((nvmlDevice_t)(void *)&not_a_device, &n, NULL),
             NVML_ERROR_INVALID_ARGUMENT);

    /* Short buffers: the UUID needs 41 bytes. */
    CHECK_NV(nvmlDeviceGetUUID(h, buf, 40), NVML_ERROR_INSUFFICIENT_SIZE);
    NV_OK(nvmlDeviceGetUUID(h, buf, 41));
    CHECK(strlen(buf) == 40 && strncmp(buf, "GPU-", 4) == 0);
    CHECK_NV(nvmlDeviceGetName(h, buf, 3), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_NV(nvmlDeviceGetName(h, buf, 0), NVML_ERROR_INSUFFICIENT_SIZE);

    /* Versioned structure: anything but nvmlMemory_v2 is refused and left alone. */
    nvmlMemory_v2_t m2;
    memset(&m2, 0, sizeof(m2));
    CHECK_NV(nvmlDeviceGetMemoryInfo_v2(h, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    CHECK(m2.total == 0);
    m2.version = (unsigned)sizeof(m2) | (1u << 24);
    CHECK_NV(nvmlDeviceGetMemoryInfo_v2(h, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    m2.version = nvmlMemory_v2;
    NV_OK(nvmlDeviceGetMemoryInfo_v2(h, &m2));
    NV_OK(nvmlDeviceGetMemoryInfo(h, &m));
    CHECK(m2.total == m.total && m2.reserved + m2.free + m2.used == m2.total);

    /* Lookups: malformed is invalid, well formed but absent is not found. */
    CHECK_NV(nvmlDeviceGetHandleByUUID(NULL, &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", NULL),
             NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &h2),
             NVML_ERROR_NOT_FOUND);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2(NULL, &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2("not a bus id", &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2("0000:41", &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2("0000:41:00.0 ", &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2("0000:141:00.0", &h2), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetHandleByPciBusId_v2("0000:FF:1F.0", &h2), NVML_ERROR_NOT_FOUND);

    /* The list calls: NULL count; NULL buffer with a capacity. */
    nvmlProcessInfo_t p[2];
    CHECK_NV(nvmlDeviceGetComputeRunningProcesses_v3(h, NULL, p), NVML_ERROR_INVALID_ARGUMENT);
    n = 2;
    CHECK_NV(nvmlDeviceGetComputeRunningProcesses_v3(h, &n, NULL), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_NV(nvmlDeviceGetProcessUtilization(h, NULL, NULL, 0), NVML_ERROR_INVALID_ARGUMENT);

    nvmlClockType_t bad_clock = (nvmlClockType_t)77;
    unsigned mhz;
    CHECK_NV(nvmlDeviceGetMaxClockInfo(h, bad_clock, &mhz), NVML_ERROR_INVALID_ARGUMENT);
    NV_OK(nvmlDeviceGetMaxClockInfo(h, NVML_CLOCK_SM, &mhz));
    CHECK(mhz > 0);
}

/* This process allocates: NVML's used figure and process list move, and agree with cuMemGetInfo. */
static void memory_of_this_process(void)
{
    OK(use_device0());
    nvmlDevice_t h = nvml_of_cuda(0);
    CHECK(h != NULL);
    uint64_t before = nvml_used(h);
    CHECK(before != UINT64_MAX);

    CUdeviceptr p;
    const uint64_t size = 256 * MiB;
    OK(cuMemAlloc(&p, size));
    uint64_t after = nvml_used(h);
    CHECK(after >= before + size && after <= before + size + 2 * MiB);

    size_t cu_free, cu_total;
    nvmlMemory_t m;
    OK(cuMemGetInfo(&cu_free, &cu_total));
    NV_OK(nvmlDeviceGetMemoryInfo(h, &m));
    CHECK(m.total == cu_total && m.free == cu_free && m.free + m.used == m.total);

    /* The count protocol: ask, be told short, then read. */
    unsigned n = 0;
    CHECK_NV(nvmlDeviceGetComputeRunningProcesses_v3(h, &n, NULL), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n >= 1);
    nvmlProcessInfo_t list[8];
    unsigned short_cap = n - 1;
    unsigned got = short_cap;
    CHECK_NV(nvmlDeviceGetComputeRunningProcesses_v3(h, &got, list), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(got == n);
    nvmlProcessInfo_t me;
    CHECK(find_process(h, (unsigned)getpid(), &me));
    CHECK(me.usedGpuMemory >= size);
    CHECK(me.gpuInstanceId == NVML_NO_INSTANCE_ID && me.computeInstanceId == NVML_NO_INSTANCE_ID);
    got = 8;
    NV_OK(nvmlDeviceGetComputeRunningProcesses_v2(h, &got, list));
    CHECK(got == n);

    OK(cuMemFree(p));
    CHECK(nvml_used(h) == before);
    nvmlProcessInfo_t again;
    if (find_process(h, (unsigned)getpid(), &again)) /* listed for its context, if at all */
        CHECK(again.usedGpuMemory + size == me.usedGpuMemory);
}

/* Another process allocates on the same device: this process sees it in NVML and in cuMemGetInfo,
 * and sees it go when that process exits without freeing. */
static void memory_of_another_process(void)
{
    OK(use_device0());
    nvmlDevice_t h = nvml_of_cuda(0);
    CHECK(h != NULL);
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    NV_OK(nvmlDeviceGetUUID(h, uuid, sizeof(uuid)));
    uint64_t before = nvml_used(h);
    const uint64_t size = 512 * MiB;

    int ready[2], hold[2];
    CHECK(pipe(ready) == 0 && pipe(hold) == 0);
    char bytes[32], rfd[16], hfd[16];
    snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)size);
    snprintf(rfd, sizeof(rfd), "%d", ready[1]);
    snprintf(hfd, sizeof(hfd), "%d", hold[0]);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        execl(self_path, self_path, "--child-alloc", uuid, bytes, rfd, hfd, (char *)NULL);
        _exit(127);
    }
    close(ready[1]);
    close(hold[0]);

    struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
    char b = 0;
    bool up = poll(&pfd, 1, 10000) == 1 && read(ready[0], &b, 1) == 1 && b == 'R';
    close(ready[0]);
    uint64_t during = nvml_used(h);
    nvmlProcessInfo_t child;
    bool listed = find_process(h, (unsigned)pid, &child);
    size_t cu_free = 0, cu_total = 0;
    nvmlMemory_t m;
    CUresult cr = cuMemGetInfo(&cu_free, &cu_total);
    nvmlReturn_t nr = nvmlDeviceGetMemoryInfo(h, &m);

    close(hold[1]); /* lets the child exit, still holding its memory */
    int status = -1;
    waitpid(pid, &status, 0);

    CHECK(up);
    CHECK(during >= before + size);
    CHECK(listed && child.usedGpuMemory >= size);
    OK(cr);
    NV_OK(nr);
    CHECK(m.free == cu_free && m.total == cu_total);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* The machine reclaims a dead process's memory within a second. */
    uint64_t t0 = st_now_ns();
    while (nvml_used(h) != before && st_now_ns() - t0 < 2000000000ull)
        sleep_ms(20);
    CHECK(nvml_used(h) == before);
    CHECK(!find_process(h, (unsigned)pid, &child));
}

/* A kernel that spins for 800 ms: after 500 ms the device is busy for about half of the last
 * second, and this process has a utilization sample. */
static void utilization_while_spinning(void)
{
    OK(use_device0());
    nvmlDevice_t h = nvml_of_cuda(0);
    CHECK(h != NULL);
    nvmlUtilization_t u;
    NV_OK(nvmlDeviceGetUtilizationRates(h, &u));
    CHECK(u.gpu <= 100 && u.memory <= 100);

    static const char image[] = "gvsim-module\n";
    CUmodule mod;
    CUfunction spin;
    OK(cuModuleLoadData(&mod, image));
    OK(cuModuleGetFunction(&spin, mod, "spin_ns"));
    uint64_t ns = 800000000ull;
    void *params[] = {&ns};
    uint64_t t0 = st_now_ns();
    OK(cuLaunchKernel(spin, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL));
    sleep_ms(500);
    NV_OK(nvmlDeviceGetUtilizationRates(h, &u));
    unsigned busy = u.gpu;

    unsigned n = 0;
    nvmlReturn_t ask = nvmlDeviceGetProcessUtilization(h, NULL, &n, 0);
    nvmlProcessUtilizationSample_t s[16];
    unsigned got = 16;
    nvmlReturn_t read_r = nvmlDeviceGetProcessUtilization(h, s, &got, 0);
    unsigned short_n = 0;
    nvmlReturn_t short_r = nvmlDeviceGetProcessUtilization(h, s, &short_n, 0);
    unsigned late_n = 8;
    nvmlReturn_t late_r = nvmlDeviceGetProcessUtilization(h, s + 8, &late_n, ~0ull);
    OK(cuCtxSynchronize());
    uint64_t took = st_now_ns() - t0;
    OK(cuModuleUnload(mod));

    CHECK(took >= 790000000ull);
    CHECK(busy >= 30 && busy <= 100);
    CHECK_NV(ask, NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(n >= 1);
    NV_OK(read_r);
    CHECK_NV(short_r, NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK(short_n == got);
    CHECK_NV(late_r, NVML_ERROR_NOT_FOUND); /* nothing newer than the far future */
    bool mine = false;
    for (unsigned i = 0; i < got; i++)
        if (s[i].pid == (unsigned)getpid() && s[i].smUtil > 0 && s[i].smUtil <= 100 &&
            s[i].timeStamp > 0)
            mine = true;
    CHECK(mine);
}

typedef nvmlReturn_t (*init_fn)(void);
typedef nvmlReturn_t (*count_fn)(unsigned *);
typedef nvmlReturn_t (*handle_fn)(unsigned, nvmlDevice_t *);
typedef nvmlReturn_t (*procs_v1_fn)(nvmlDevice_t, unsigned *, nvmlProcessInfo_v1_t *);
typedef nvmlReturn_t (*pci_fn)(nvmlDevice_t, nvmlPciInfo_t *);
typedef nvmlReturn_t (*bus_fn)(const char *, nvmlDevice_t *);

/* Every name the header declares is exported, and the older ones work with their own layouts. */
static void older_names_through_dlsym(void)
{
    static const char *const names[] = {
        "nvmlInit_v2",
        "nvmlInit",
        "nvmlInitWithFlags",
        "nvmlShutdown",
        "nvmlErrorString",
        "nvmlSystemGetDriverVersion",
        "nvmlSystemGetNVMLVersion",
        "nvmlSystemGetCudaDriverVersion",
        "nvmlSystemGetCudaDriverVersion_v2",
        "nvmlDeviceGetCount_v2",
        "nvmlDeviceGetCount",
        "nvmlDeviceGetHandleByIndex_v2",
        "nvmlDeviceGetHandleByIndex",
        "nvmlDeviceGetHandleByUUID",
        "nvmlDeviceGetHandleByPciBusId_v2",
        "nvmlDeviceGetHandleByPciBusId",
        "nvmlDeviceGetName",
        "nvmlDeviceGetUUID",
        "nvmlDeviceGetIndex",
        "nvmlDeviceGetMinorNumber",
        "nvmlDeviceGetPciInfo_v3",
        "nvmlDeviceGetPciInfo_v2",
        "nvmlDeviceGetPciInfo",
        "nvmlDeviceGetCudaComputeCapability",
        "nvmlDeviceGetMaxClockInfo",
        "nvmlDeviceGetMemoryBusWidth",
        "nvmlDeviceGetMemoryInfo",
        "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetUtilizationRates",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses",
        "nvmlDeviceGetProcessUtilization",
    };
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    CHECK(lib != NULL);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!dlsym(lib, names[i])) {
            st_fail(__FILE__, __LINE__, "%s is not exported", names[i]);
            dlclose(lib);
            return;
        }
    }
    init_fn old_init = (init_fn)dlsym(lib, "nvmlInit");
    init_fn old_shutdown = (init_fn)dlsym(lib, "nvmlShutdown");
    count_fn count = (count_fn)dlsym(lib, "nvmlDeviceGetCount");
    handle_fn by_index = (handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex");
    procs_v1_fn procs_v1 = (procs_v1_fn)dlsym(lib, "nvmlDeviceGetComputeRunningProcesses");
    pci_fn pci_old = (pci_fn)dlsym(lib, "nvmlDeviceGetPciInfo");
    pci_fn pci_v2 = (pci_fn)dlsym(lib, "nvmlDeviceGetPciInfo_v2");
    bus_fn by_bus_old = (bus_fn)dlsym(lib, "nvmlDeviceGetHandleByPciBusId");
    dlclose(lib); /* the library stays loaded: the program links it */

    NV_OK(old_init()); /* a second reference, dropped below */
    unsigned n = 0;
    NV_OK(count(&n));
    CHECK(n == 2);
    nvmlDevice_t h_old, h;
    NV_OK(by_index(1, &h_old));
    NV_OK(nvmlDeviceGetHandleByIndex_v2(1, &h));
    CHECK(h_old == h);

    /* The older process record is 16 bytes: nothing may be written past the count. */
    OK(use_device0());
    nvmlDevice_t h0 = nvml_of_cuda(0);
    CHECK(h0 != NULL);
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 64 * MiB));
    nvmlProcessInfo_v1_t v1[9];
    memset(v1, 0xA5, sizeof(v1));
    unsigned cap = 0;
    nvmlReturn_t ask = procs_v1(h0, &cap, NULL);
    unsigned got = cap;
    nvmlReturn_t r = cap <= 8 ? procs_v1(h0, &got, v1) : NVML_ERROR_UNKNOWN;
    OK(cuMemFree(p));
    CHECK_NV(ask, NVML_ERROR_INSUFFICIENT_SIZE);
    NV_OK(r);
    CHECK(got == cap && got >= 1);
    bool mine = false;
    for (unsigned i = 0; i < got; i++)
        if (v1[i].pid == (unsigned)getpid() && v1[i].usedGpuMemory >= 64 * MiB)
            mine = true;
    CHECK(mine);
    const unsigned char *tail = (const unsigned char *)&v1[got];
    for (size_t i = 0; i < sizeof(v1[0]); i++)
        CHECK(tail[i] == 0xA5);

    /* The older PCI calls write the legacy prefix the same as _v3 and nothing after it. */
    nvmlPciInfo_t v3, old;
    NV_OK(nvmlDeviceGetPciInfo_v3(h, &v3));
    pci_fn olds[2] = {pci_old, pci_v2};
    for (int k = 0; k < 2; k++) {
        memset(&old, 0x5A, sizeof(old));
        NV_OK(olds[k](h, &old));
        CHECK(memcmp(&old, &v3, NVML_PCI_INFO_LEGACY_PREFIX_SIZE) == 0);
        for (size_t i = NVML_PCI_INFO_LEGACY_PREFIX_SIZE; i < sizeof(old); i++)
            CHECK(((const unsigned char *)&old)[i] == 0x5A);
    }
    nvmlDevice_t h_bus;
    NV_OK(by_bus_old(v3.busIdLegacy, &h_bus));
    CHECK(h_bus == h);

    NV_OK(old_shutdown());
    NV_OK(nvmlDeviceGetCount_v2(&n)); /* the reference of the earlier tests is still held */
}

/* After the last shutdown, handles obtained before are refused as uninitialized. */
static void shutdown_ends_access(void)
{
    nvmlDevice_t h;
    nvmlMemory_t m;
    NV_OK(nvmlDeviceGetHandleByIndex_v2(0, &h));
    NV_OK(nvmlShutdown());
    CHECK_NV(nvmlDeviceGetMemoryInfo(h, &m), NVML_ERROR_UNINITIALIZED);
    CHECK_NV(nvmlShutdown(), NVML_ERROR_UNINITIALIZED);
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--child-alloc") == 0)
        return child_alloc(argv);
    if (strchr(argv[0], '/'))
        self_path = argv[0];
    st_machine("T4,H200");
    RUN(uninitialized);
    RUN(init_is_reference_counted);
    RUN(versions_and_strings);
    RUN(devices_agree_with_driver);
    RUN(error_paths);
    RUN(memory_of_this_process);
    RUN(memory_of_another_process);
    RUN(utilization_while_spinning);
    RUN(older_names_through_dlsym);
    RUN(shutdown_ends_access);
    return st_summary();
}
