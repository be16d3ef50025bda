/* SPDX-License-Identifier: Apache-2.0 */
/* test_nvml_only.c: a process inside a slice that only uses NVML (nvidia-smi, a monitoring agent)
 * sees the slice wherever the limit names the GPU: a size for every GPU, a GPU UUID, or a CUDA
 * ordinal, which it maps to its GPU through CUDA_VISIBLE_DEVICES as the driver would.
 *
 * The machine has two T4s; every child runs with CUDA_VISIBLE_DEVICES=1, so CUDA ordinal 0 is
 * NVML index 1. A CUDA member of the instance holds 300 MiB there; the NVML-only child must report
 * the slice's total and that 300 MiB as used. Children are this program again:
 *   hold   allocate 300 MiB on CUDA ordinal 0, print "ready", wait for stdin to close
 *   nvml   print "INDEX TOTAL_MIB USED_MIB" for every NVML device (v1 and v2 agree, or "bad") */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/nvml.h"
#include "shimtest.h"

static int run_hold(void)
{
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr p;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx) || cuMemAlloc(&p, 300 * MiB))
        return 1;
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}

static int run_nvml(void)
{
    unsigned n = 0;
    if (nvmlInit_v2() != NVML_SUCCESS || nvmlDeviceGetCount_v2(&n) != NVML_SUCCESS)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        nvmlDevice_t d;
        nvmlMemory_t m;
        nvmlMemory_v2_t m2 = {.version = nvmlMemory_v2};
        if (nvmlDeviceGetHandleByIndex_v2(i, &d) != NVML_SUCCESS ||
            nvmlDeviceGetMemoryInfo(d, &m) != NVML_SUCCESS ||
            nvmlDeviceGetMemoryInfo_v2(d, &m2) != NVML_SUCCESS)
            return 1;
        if (m.total != m2.total || m.free != m2.free)
            printf("bad\n");
        printf("%u %llu %llu\n", i, m.total / MiB, m.used / MiB);
    }
    nvmlShutdown();
    return 0;
}

/* Start this program in `mode` with `env` set; its stdin and stdout. */
static pid_t spawn(const char *mode, const char *const *env, int *in, int *out)
{
    int pi[2], po[2];
    if (pipe(pi) || pipe(po))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (const char *const *e = env; *e; e++)
            putenv((char *)*e);
        dup2(pi[0], 0);
        dup2(po[1], 1);
        close(pi[1]);
        close(po[0]);
        execl("/proc/self/exe", "test_nvml_only", mode, (char *)NULL);
        _exit(127);
    }
    close(pi[0]);
    close(po[1]);
    *in = pi[1];
    *out = po[0];
    return pid;
}

static void read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t k;
    while (n + 1 < len && (k = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
}

/* Whether a CUDA member holding 300 MiB runs beside the NVML-only child; without one, the GPU is
 * in no member's use yet and the child finds its limit in the configuration alone. */
static bool with_holder;

/* With limit spec `memory` in instance `name`: what the NVML-only child reports for NVML index
 * `index` (total and used, MiB). */
static int nvml_view(const char *name, const char *memory, unsigned index,
                     unsigned long long *total, unsigned long long *used)
{
    char inst[96], mem[160];
    snprintf(inst, sizeof(inst), "GPUVISOR_INSTANCE=%s-%d", name, (int)getpid());
    snprintf(mem, sizeof(mem), "GPUVISOR_MEMORY=%s", memory);
    const char *env[] = {inst, mem, "CUDA_VISIBLE_DEVICES=1", NULL};
    int hin = -1, hout = -1, nin, nout, st = -1, rc = 0;
    pid_t holder = with_holder ? spawn("hold", env, &hin, &hout) : -1;
    char line[4096];
    if (with_holder) {
        read_all(hout, line, 7);
        rc = strcmp(line, "ready\n") == 0 ? 0 : -1;
    }
    pid_t mon = spawn("nvml", env, &nin, &nout);
    read_all(nout, line, sizeof(line));
    close(nin);
    waitpid(mon, &st, 0);
    close(nout);
    if (with_holder) {
        close(hin);
        waitpid(holder, NULL, 0);
        close(hout);
    }
    if (strstr(line, "bad") || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        rc = -1;
    *total = *used = 0;
    for (char *l = line; rc == 0 && l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        unsigned i;
        unsigned long long t, u;
        if (sscanf(l, "%u %llu %llu", &i, &t, &u) == 3 && i == index) {
            *total = t;
            *used = u;
        }
    }
    return rc;
}

static void check_case(const char *name, const char *memory)
{
    unsigned long long total, used;
    char alone[64];
    snprintf(alone, sizeof(alone), "%s-alone", name);
    with_holder = false;
    CHECK(nvml_view(alone, memory, 1, &total, &used) == 0);
    printf("     %-48s alone:       total %llu MiB, used %llu MiB\n", memory, total, used);
    CHECK(total == 1024 && used == 0);
    with_holder = true;
    CHECK(nvml_view(name, memory, 1, &total, &used) == 0);
    printf("     %-48s with member: total %llu MiB, used %llu MiB\n", memory, total, used);
    CHECK(total == 1024 && used == 300);
}

static void t_every_gpu(void)
{
    check_case("all", "1GiB");
}

static void t_uuid(void)
{
    /* NVML index 1's UUID, asked of NVML itself. */
    nvmlDevice_t d;
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE], spec[128];
    CHECK(nvmlInit_v2() == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(1, &d) == NVML_SUCCESS);
    CHECK(nvmlDeviceGetUUID(d, uuid, sizeof(uuid)) == NVML_SUCCESS);
    nvmlShutdown();
    snprintf(spec, sizeof(spec), "%s=1GiB", uuid);
    check_case("uuid", spec);
}

/* Ordinal 0 is NVML index 1 under CUDA_VISIBLE_DEVICES=1; NVML index 0 has no limit. */
static void t_ordinal(void)
{
    check_case("ordinal", "0=1GiB");
    unsigned long long total, used;
    CHECK(nvml_view("ordinal0", "0=1GiB", 0, &total, &used) == 0);
    CHECK(total > 1024);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "hold") == 0)
        return run_hold();
    if (argc == 2 && strcmp(argv[1], "nvml") == 0)
        return run_nvml();
    shim_setup("T4,T4", "nvmlonly", NULL);
    RUN(t_every_gpu);
    RUN(t_uuid);
    RUN(t_ordinal);
    return st_summary();
}
