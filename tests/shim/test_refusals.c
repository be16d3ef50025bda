/* SPDX-License-Identifier: Apache-2.0 */
/* test_refusals.c: a member's refused charges are counted in its slot, per GPU, apart by who
 * refused: its slice (the instance's limit) or the driver (the card itself is full). */
#include <stdlib.h>
#include <unistd.h>

#include "shimtest.h"

/* This process's refusal counters on ordinal 0's GPU. */
static void refusals(uint64_t *slice, uint64_t *driver)
{
    *slice = *driver = UINT64_MAX;
    CUuuid u;
    if (cuDeviceGetUuid_v2(&u, 0) != CUDA_SUCCESS)
        return;
    struct gvr_region r = {0};
    struct gvr_snapshot *s = malloc(sizeof(*s));
    if (s && gvr_open(&r, shim_dir(), shim_name(), GVR_READONLY, NULL, 0, NULL) >= 0) {
        gvr_snapshot(&r, s);
        int d = gvr_device_find(&r, (const uint8_t *)u.bytes);
        for (unsigned m = 0; d >= 0 && m < s->nmember; m++) {
            if (s->member[m].pid == getpid()) {
                *slice = s->member[m].refused[d];
                *driver = s->member[m].driver_oom[d];
            }
        }
        gvr_close(&r);
    }
    free(s);
}

static void t_counted(void)
{
    uint64_t slice, driver;
    refusals(&slice, &driver);
    CHECK(slice == 0 && driver == 0);
    CUdeviceptr p;
    /* Past the slice (20 GiB of 24 GiB is fine for the slice, not for a 15 GiB T4). */
    CHECK_CU(cuMemAlloc(&p, 30 * GiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK_CU(cuMemAlloc(&p, 20 * GiB), CUDA_ERROR_OUT_OF_MEMORY);
    refusals(&slice, &driver);
    printf("     refused by the slice %llu, by the driver %llu\n", (unsigned long long)slice,
           (unsigned long long)driver);
    CHECK(slice == 1);
    CHECK(driver == 1);
    CHECK(shim_used(0) == 0);
    OK(cuMemAlloc(&p, 100 * MiB));
    OK(cuMemFree(p));
    refusals(&slice, &driver);
    CHECK(slice == 1 && driver == 1);
}

int main(void)
{
    shim_setup("T4", "refusals", "24GiB");
    CUdevice dev;
    CUcontext ctx;
    if (cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
        cuCtxSetCurrent(ctx)) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_counted);
    return st_summary();
}
