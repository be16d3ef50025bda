/* SPDX-License-Identifier: Apache-2.0 */
/* simtest.c: the harness behind simtest.h. */
#include "simtest.h"

#include "core/clock.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int st_failed_now;
static int passed, failed;
static char machine_file[256];

void st_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    st_failed_now = 1;
}

/* Looked up at run time, so that programs that reach the driver only through dlopen can use the
 * harness too. */
const char *st_cu_name(CUresult r)
{
    typedef CUresult (*name_fn)(CUresult, const char **);
    static name_fn fn;
    if (!fn) {
        fn = (name_fn)dlsym(RTLD_DEFAULT, "cuGetErrorName");
        if (!fn) {
            void *h = dlopen("libcuda.so.1", RTLD_NOW);
            fn = h ? (name_fn)dlsym(h, "cuGetErrorName") : NULL;
        }
    }
    const char *s = NULL;
    if (!fn || fn(r, &s) != CUDA_SUCCESS || !s)
        return "(unknown CUresult)";
    return s;
}

void st_run(const char *name, void (*fn)(void))
{
    st_failed_now = 0;
    fn();
    if (st_failed_now) {
        failed++;
        printf("FAIL %s\n", name);
    } else {
        passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

static pid_t machine_owner;

static void remove_machine(void)
{
    if (machine_file[0] && getpid() == machine_owner)
        unlink(machine_file);
}

void st_machine(const char *gpus)
{
    const char *base = getenv("GPUVISOR_SIM_MACHINE");
    char name[128];
    snprintf(name, sizeof(name), "%s-%d", base ? base : "simtest", (int)getpid());
    setenv("GPUVISOR_SIM_MACHINE", name, 1);
    setenv("GPUVISOR_SIM_GPUS", gpus, 1);
    snprintf(machine_file, sizeof(machine_file), "/dev/shm/gvsim.%s", name);
    machine_owner = getpid();
    atexit(remove_machine);
}

bool st_remote(void)
{
    const char *v = getenv("GVSIM_TEST_REMOTE");
    return v && strcmp(v, "1") == 0;
}

int st_summary(void)
{
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

uint64_t st_now_ns(void)
{
    return gv_now_ns();
}
