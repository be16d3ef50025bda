/* SPDX-License-Identifier: Apache-2.0 */
/* shimtest.c: the set-up behind shimtest.h. */
#include "shimtest.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "region/sched.h"

static char dir[256], inst[80];

static void cleanup(void)
{
    char cmd[300];
    if (dir[0] && strncmp(dir, "/tmp/gvshim.", 12) == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir);
    }
}

static pid_t owner;

/* The test's children, some killed on purpose, may leave claims on the simulated GPUs' time
 * behind (region/sched.h): removed here rather than left to the next open. */
static void cleanup_owner(void)
{
    if (getpid() != owner)
        return;
    cleanup();
    gvr_sched_tidy();
}

void shim_setup(const char *gpus, const char *name, const char *memory)
{
    st_machine(gpus);
    snprintf(dir, sizeof(dir), "/tmp/gvshim.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    owner = getpid();
    atexit(cleanup_owner);
    snprintf(inst, sizeof(inst), "%s", name);
    setenv("GPUVISOR_REGION_DIR", dir, 1);
    setenv("GPUVISOR_INSTANCE", name, 1);
    if (memory)
        setenv("GPUVISOR_MEMORY", memory, 1);
    else
        unsetenv("GPUVISOR_MEMORY");
    unsetenv("GPUVISOR_CONTEXT_MEMORY"); /* measured, unless a test sets it for a child */
}

const char *shim_dir(void)
{
    return dir;
}

const char *shim_name(void)
{
    return inst;
}

typedef CUresult (*uuid_fn)(CUuuid *, CUdevice);
typedef CUresult (*init_fn)(unsigned);

/* The UUID of an ordinal, asked of whatever driver this process uses (initializing it: a parent
 * that only forked workers may not have). */
static int uuid_of(int ordinal, uint8_t out[16])
{
    void *h = dlopen("libcuda.so.1", RTLD_NOW);
    uuid_fn f = h ? (uuid_fn)dlsym(h, "cuDeviceGetUuid_v2") : NULL;
    init_fn init = h ? (init_fn)dlsym(h, "cuInit") : NULL;
    CUuuid u;
    if (!f || !init || init(0) != CUDA_SUCCESS || f(&u, ordinal) != CUDA_SUCCESS)
        return -1;
    memcpy(out, u.bytes, 16);
    return 0;
}

static uint64_t region_read(int ordinal, int want_limit)
{
    uint8_t uuid[16];
    if (uuid_of(ordinal, uuid))
        return UINT64_MAX;
    struct gvr_region r = {0};
    if (gvr_open(&r, dir, inst, GVR_READONLY, NULL, 0, NULL) < 0)
        return UINT64_MAX;
    int idx = gvr_device_find(&r, uuid);
    uint64_t v = UINT64_MAX;
    if (idx >= 0)
        v = want_limit ? gvr_limit(&r, (unsigned)idx) : gvr_used(&r, (unsigned)idx);
    gvr_close(&r);
    return v;
}

uint64_t shim_used(int ordinal)
{
    return region_read(ordinal, 0);
}

uint64_t shim_limit(int ordinal)
{
    return region_read(ordinal, 1);
}

int shim_parse_uuid(const char *text, uint8_t out[16])
{
    if (strncmp(text, "GPU-", 4) == 0)
        text += 4;
    unsigned n = 0;
    for (; *text && n < 32; text++) {
        if (*text == '-')
            continue;
        unsigned v;
        if (sscanf((char[2]){*text, 0}, "%1x", &v) != 1)
            return -1;
        out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
        n++;
    }
    return n == 32 && *text == '\0' ? 0 : -1;
}
