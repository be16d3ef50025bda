/* SPDX-License-Identifier: Apache-2.0 */
/* remote_probe.c: one driver-API program that runs the same on the simulated driver, on a real
 * GPU, and through remoting to either: what scripts/gpu-check.sh compares on a GPU machine, and
 * what remote_probe_sim runs in make check.
 *
 *   remote_probe [IMAGE]     IMAGE: a module with fill_u32(unsigned *p, unsigned v,
 *                            unsigned long long n) (a cubin or PTX file); without it, the
 *                            simulator's built-in module
 *
 * It prints key=value lines: the memory the device shows (total, free); 256 MiB host-to-device and
 * device-to-host copies, checked byte for byte, and their rates; a fill kernel's result, checked;
 * launches pipelined and each synchronized, a second; and, when PROBE_FILL_MIB is set, how many
 * MiB it could allocate in 256 MiB pieces before the first refusal (a slice's limit). Exit status 0
 * when every check held. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COPY_BYTES (256ull << 20)
#define PIECE      (256ull << 20)

static int failed;

#define TRY(call)                                                                                  \
    do {                                                                                           \
        CUresult r_ = (call);                                                                      \
        if (r_ != CUDA_SUCCESS) {                                                                  \
            const char *n_ = NULL;                                                                 \
            cuGetErrorName(r_, &n_);                                                               \
            printf("error=%s at %s\n", n_ ? n_ : "?", #call);                                      \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void check(int ok, const char *what)
{
    printf("check %s=%s\n", what, ok ? "ok" : "FAILED");
    if (!ok)
        failed = 1;
}

/* The image: a file's bytes (a NUL added after them, for PTX), or the simulator's module. */
static char *image_of(const char *path)
{
    static char sim[] = "gvsim-module\n";
    if (!path)
        return sim;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    if (p)
        p[n] = 0;
    fclose(f);
    return p;
}

static CUresult fill(CUfunction f, CUdeviceptr p, unsigned v, unsigned long long n)
{
    void *args[] = {&p, &v, &n};
    return cuLaunchKernel(f, 256, 1, 1, 256, 1, 1, 0, NULL, args, NULL);
}

int main(int argc, char **argv)
{
    CUdevice dev;
    CUcontext ctx;
    TRY(cuInit(0));
    TRY(cuDeviceGet(&dev, 0));
    TRY(cuDevicePrimaryCtxRetain(&ctx, dev));
    TRY(cuCtxSetCurrent(ctx));
    char name[128];
    TRY(cuDeviceGetName(name, sizeof(name), dev));
    size_t fr, total;
    TRY(cuMemGetInfo(&fr, &total));
    printf("device=%s\nmemory_total=%zu\nmemory_free=%zu\n", name, total, fr);

    char *image = image_of(argc > 1 ? argv[1] : NULL);
    if (!image) {
        printf("error=cannot read %s\n", argv[1]);
        return 1;
    }
    CUmodule mod;
    CUfunction f;
    TRY(cuModuleLoadData(&mod, image));
    TRY(cuModuleGetFunction(&f, mod, "fill_u32"));

    /* Copies, both ways, checked. */
    uint8_t *host = malloc(COPY_BYTES), *back = malloc(COPY_BYTES);
    if (!host || !back)
        return 1;
    for (uint64_t i = 0; i < COPY_BYTES; i++)
        host[i] = (uint8_t)(i * 131 + (i >> 20));
    memset(back, 0, COPY_BYTES);
    CUdeviceptr d;
    TRY(cuMemAlloc(&d, COPY_BYTES));
    double t0 = now_s();
    TRY(cuMemcpyHtoD(d, host, COPY_BYTES));
    double t1 = now_s();
    TRY(cuMemcpyDtoH(back, d, COPY_BYTES));
    double t2 = now_s();
    printf("htod_gbps=%.2f\ndtoh_gbps=%.2f\n", COPY_BYTES / (t1 - t0) / 1e9,
           COPY_BYTES / (t2 - t1) / 1e9);
    check(memcmp(host, back, COPY_BYTES) == 0, "copies");

    /* A kernel's work, checked. */
    unsigned long long n = COPY_BYTES / 4;
    TRY(fill(f, d, 0xc0ffeeu, n));
    TRY(cuCtxSynchronize());
    TRY(cuMemcpyDtoH(back, d, COPY_BYTES));
    int filled = 1;
    for (uint64_t i = 0; i < n; i += 4099)
        filled &= ((uint32_t *)back)[i] == 0xc0ffeeu;
    filled &= ((uint32_t *)back)[n - 1] == 0xc0ffeeu;
    check(filled, "kernel");

    /* Launches: pipelined, then each synchronized. */
    int k = 20000;
    t0 = now_s();
    for (int i = 0; i < k; i++)
        TRY(fill(f, d, (unsigned)i, 1));
    TRY(cuCtxSynchronize());
    t1 = now_s();
    for (int i = 0; i < k / 10; i++) {
        TRY(fill(f, d, (unsigned)i, 1));
        TRY(cuCtxSynchronize());
    }
    t2 = now_s();
    printf("launches_pipelined_per_s=%.0f\nlaunches_synced_per_s=%.0f\n", k / (t1 - t0),
           k / 10 / (t2 - t1));
    TRY(cuMemFree(d));

    /* The slice: allocate until refused. */
    if (getenv("PROBE_FILL_MIB")) {
        uint64_t got = 0;
        CUdeviceptr p;
        CUresult r;
        while ((r = cuMemAlloc(&p, PIECE)) == CUDA_SUCCESS && got < (1ull << 40))
            got += PIECE;
        printf("allocated_mib=%llu\n", (unsigned long long)(got >> 20));
        check(r == CUDA_ERROR_OUT_OF_MEMORY, "refused_out_of_memory");
    }
    TRY(cuModuleUnload(mod));
    printf("probe=%s\n", failed ? "FAILED" : "ok");
    return failed;
}
