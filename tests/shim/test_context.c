/* SPDX-License-Identifier: Apache-2.0 */
/* test_context.c: each member's CUDA context memory counts against the slice.
 *
 * The simulated driver is told that a context takes 300 MiB (GPUVISOR_SIM_CONTEXT_MEMORY), as a
 * real one takes a few hundred MiB; the slice is 1 GiB. The interposer measures each member's
 * context through NVML the first time the member uses the GPU, so a slice shows 724 MiB free right
 * after the context is made, two members leave 424 MiB, a member that dies gives its context's
 * memory back, GPUVISOR_CONTEXT_MEMORY replaces the measurement, and a slice smaller than the
 * context refuses allocations cleanly.
 *
 * Children are this program again in a child mode (fork + exec), as CUDA wants fresh processes:
 *   hold   make a context, print cuMemGetInfo's free and total on stdout, wait for stdin to close
 *   try    make a context, try two 1 MiB allocations, print both results and cuMemGetInfo's free
 *          and total, exit */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/nvml.h"
#include "shimtest.h"

#define CTX (300 * MiB)

static int context(void)
{
    CUdevice dev;
    CUcontext ctx;
    return cuInit(0) || cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) ||
           cuCtxSetCurrent(ctx);
}

static int run_hold(void)
{
    size_t free_b, total;
    if (context() || cuMemGetInfo(&free_b, &total))
        return 1;
    printf("%zu %zu\n", free_b, total);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}

static int run_try(void)
{
    size_t free_b = 0, total = 0;
    if (context())
        return 1;
    CUdeviceptr a = 0, b = 0;
    CUresult ra = cuMemAlloc(&a, MiB), rb = cuMemAlloc(&b, MiB);
    if (cuMemGetInfo(&free_b, &total))
        return 2;
    printf("%d %d %zu %zu\n", (int)ra, (int)rb, free_b, total);
    return 0;
}

/* race: eight threads make their first context and allocation on the GPU at once. */
#define RACERS 8
static pthread_barrier_t gate;

static void *racer(void *arg)
{
    CUdevice dev;
    CUcontext ctx;
    CUdeviceptr p;
    (void)arg;
    pthread_barrier_wait(&gate);
    if (cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev) || cuCtxSetCurrent(ctx) ||
        cuMemAlloc(&p, 100 * MiB))
        return (void *)1;
    return NULL;
}

/* Child modes that wait for stdin to close once done: race (above); vmm, a context retained and
 * not made current, then a cuMemCreate with no context current; idle, a context and no
 * allocation at all. */
static int run_then_hold(const char *mode)
{
    if (cuInit(0))
        return 1;
    if (strcmp(mode, "race") == 0) {
        pthread_t t[RACERS];
        pthread_barrier_init(&gate, NULL, RACERS);
        for (int i = 0; i < RACERS; i++)
            pthread_create(&t[i], NULL, racer, NULL);
        int bad = 0;
        for (int i = 0; i < RACERS; i++) {
            void *r;
            pthread_join(t[i], &r);
            bad += r != NULL;
        }
        if (bad)
            return 2;
    } else {
        CUdevice dev;
        CUcontext ctx;
        if (cuDeviceGet(&dev, 0) || cuDevicePrimaryCtxRetain(&ctx, dev))
            return 1;
        if (strcmp(mode, "vmm") == 0) {
            CUmemAllocationProp prop = {.type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                        .location = {CU_MEM_LOCATION_TYPE_DEVICE, 0}};
            CUmemGenericAllocationHandle h;
            CUcontext cur = NULL;
            if (cuCtxGetCurrent(&cur) || cur || cuMemCreate(&h, 64 * MiB, &prop, 0))
                return 3;
        } else if (cuCtxSetCurrent(ctx)) {
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    return 0;
}

struct child {
    pid_t pid;
    int in, out, err; /* its stdin (we write), stdout and stderr (we read) */
};

/* Start a child in `mode` with the changes `env` makes to our environment ("NAME=VALUE" sets,
 * "NAME" unsets). */
static struct child spawn(const char *mode, const char *const *env)
{
    struct child ch = {-1, -1, -1, -1};
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err))
        return ch;
    ch.pid = fork();
    if (ch.pid == 0) {
        for (const char *const *e = env; e && *e; e++) {
            char name[128];
            const char *eq = strchr(*e, '=');
            snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - *e) : (int)strlen(*e), *e);
            if (eq)
                setenv(name, eq + 1, 1);
            else
                unsetenv(name);
        }
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(in[1]);
        close(out[0]);
        close(err[0]);
        execl("/proc/self/exe", "test_context", mode, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    ch.in = in[1];
    ch.out = out[0];
    ch.err = err[0];
    return ch;
}

/* One line of the child's stdout (blocking), without the newline; "" at end of file. */
static void read_line(int fd, char *buf, size_t len)
{
    size_t n = 0;
    char c;
    while (n + 1 < len && read(fd, &c, 1) == 1 && c != '\n')
        buf[n++] = c;
    buf[n] = '\0';
}

/* Everything the child wrote on stderr (after it has exited). */
static void read_all(int fd, char *buf, size_t len)
{
    size_t n = 0;
    ssize_t k;
    while (n + 1 < len && (k = read(fd, buf + n, len - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = '\0';
}

static int finish(struct child *ch)
{
    int st = -1;
    close(ch->in);
    waitpid(ch->pid, &st, 0);
    close(ch->out);
    close(ch->err);
    return st;
}

/* Context memory the region of instance `name` counts for member `pid`, on every GPU together. */
static uint64_t member_context_in(const char *name, pid_t pid)
{
    struct gvr_region r = {0};
    struct gvr_snapshot *s = malloc(sizeof(*s));
    uint64_t sum = UINT64_MAX;
    if (s && gvr_open(&r, shim_dir(), name, GVR_READONLY, NULL, 0, NULL) >= 0) {
        gvr_snapshot(&r, s);
        for (unsigned m = 0; m < s->nmember; m++) {
            if (s->member[m].pid != pid)
                continue;
            sum = 0;
            for (unsigned d = 0; d < s->ndev; d++)
                sum += s->member[m].context[d];
        }
        gvr_close(&r);
    }
    free(s);
    return sum;
}

static uint64_t member_context(pid_t pid)
{
    return member_context_in(shim_name(), pid);
}

/* A child of `mode` in an instance of its own with a 4 GiB slice: the context memory counted
 * for it once it is ready. */
static uint64_t context_of(const char *mode)
{
    char name[64];
    snprintf(name, sizeof(name), "GPUVISOR_INSTANCE=%s-%d", mode, (int)getpid());
    const char *env[] = {name, "GPUVISOR_MEMORY=4GiB", NULL};
    struct child ch = spawn(mode, env);
    if (ch.pid <= 0)
        return UINT64_MAX;
    char line[128];
    read_line(ch.out, line, sizeof(line));
    uint64_t got = strcmp(line, "ready") == 0 ? member_context_in(name + 18, ch.pid) : UINT64_MAX;
    finish(&ch);
    return got;
}

/* Eight threads making their first context and allocation together: what is counted as context
 * memory is the context's size, not their allocations. */
static void t_race(void)
{
    uint64_t got = context_of("race");
    printf("     context memory counted with %d racing threads: %llu MiB\n", RACERS,
           (unsigned long long)(got / MiB));
    CHECK(got == CTX);
}

/* A context made and never current, then cuMemCreate with no context current: counted. */
static void t_vmm_no_context(void)
{
    uint64_t got = context_of("vmm");
    printf("     context memory counted with cuMemCreate and no context current: %llu MiB\n",
           (unsigned long long)(got / MiB));
    CHECK(got == CTX);
}

/* A context made current and no allocation made: counted all the same. */
static void t_idle(void)
{
    uint64_t got = context_of("idle");
    printf("     context memory counted with no allocation: %llu MiB\n",
           (unsigned long long)(got / MiB));
    CHECK(got == CTX);
}

static size_t free_now(void)
{
    size_t f = 0, t = 0;
    cuMemGetInfo(&f, &t);
    return f;
}

/* Right after the context is made, the slice has the context's memory less. */
static void t_meminfo(void)
{
    size_t free_b = 0, total = 0;
    OK(cuMemGetInfo(&free_b, &total));
    printf("     free %llu MiB of %llu MiB after the context\n", (unsigned long long)(free_b / MiB),
           (unsigned long long)(total / MiB));
    CHECK(total == GiB);
    CHECK(free_b == GiB - CTX);
    CHECK(shim_used(0) == CTX);
    CHECK(member_context(getpid()) == CTX);
    size_t dt = 0;
    OK(cuDeviceTotalMem(&dt, 0));
    CHECK(dt == GiB);
}

/* NVML inside the slice shows the context too: in the instance's used memory and in this
 * process's record. */
static void t_nvml(void)
{
    nvmlDevice_t d;
    CHECK(nvmlInit_v2() == NVML_SUCCESS);
    CHECK(nvmlDeviceGetHandleByIndex_v2(0, &d) == NVML_SUCCESS);
    nvmlMemory_t m;
    CHECK(nvmlDeviceGetMemoryInfo(d, &m) == NVML_SUCCESS);
    CHECK(m.total == GiB && m.used == CTX && m.free == GiB - CTX);
    CUdeviceptr p;
    OK(cuMemAlloc(&p, 100 * MiB));
    nvmlProcessInfo_t info[4];
    unsigned count = 4;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(d, &count, info) == NVML_SUCCESS);
    CHECK(count == 1 && info[0].pid == (unsigned)getpid());
    CHECK(info[0].usedGpuMemory == CTX + 100 * MiB);
    OK(cuMemFree(p));
    nvmlShutdown();
}

/* The context leaves 724 MiB: 800 MiB does not fit, 700 MiB does; a free never returns the
 * context's part. */
static void t_limit(void)
{
    CUdeviceptr p = 0;
    CHECK_CU(cuMemAlloc(&p, 800 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(shim_used(0) == CTX);
    OK(cuMemAlloc(&p, 700 * MiB));
    CHECK(shim_used(0) == CTX + 700 * MiB);
    CHECK(free_now() == GiB - CTX - 700 * MiB);
    OK(cuMemFree(p));
    CHECK(shim_used(0) == CTX);
    CHECK(member_context(getpid()) == CTX);
}

/* Wait (up to 2 s) for the slice's free memory to be `want`; the time it took, or UINT64_MAX. */
static uint64_t wait_free(size_t want)
{
    uint64_t t0 = st_now_ns();
    while (st_now_ns() - t0 < 2000000000ULL) {
        if (free_now() == want)
            return st_now_ns() - t0;
        usleep(5000);
    }
    return UINT64_MAX;
}

/* A second member counts its own context; killed, it gives it back within a second. */
static void t_two_members(void)
{
    struct child ch = spawn("hold", NULL);
    CHECK(ch.pid > 0);
    char line[128];
    read_line(ch.out, line, sizeof(line));
    unsigned long long f = 0, t = 0;
    CHECK(sscanf(line, "%llu %llu", &f, &t) == 2);
    CHECK(t == GiB && f == GiB - 2 * CTX);
    CHECK(shim_used(0) == 2 * CTX);
    CHECK(member_context(ch.pid) == CTX);
    CUdeviceptr p;
    CHECK_CU(cuMemAlloc(&p, 500 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    OK(cuMemAlloc(&p, 400 * MiB));
    OK(cuMemFree(p));
    kill(ch.pid, SIGKILL);
    /* Not reaped yet: a zombie already counts as dead. */
    uint64_t ns = wait_free(GiB - CTX);
    printf("     context memory back %.0f ms after SIGKILL\n", (double)ns / 1e6);
    CHECK(ns < 1000000000ULL);
    CHECK(shim_used(0) == CTX);
    finish(&ch);
}

/* GPUVISOR_CONTEXT_MEMORY replaces the measurement: for every GPU, or per GPU UUID. */
static void t_override(void)
{
    CUuuid u;
    OK(cuDeviceGetUuid_v2(&u, 0));
    char spec[128];
    int n = snprintf(spec, sizeof(spec), "GPUVISOR_CONTEXT_MEMORY=GPU-");
    for (int i = 0; i < 16; i++)
        n += snprintf(spec + n, sizeof(spec) - (size_t)n, "%s%02x",
                      i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", (unsigned char)u.bytes[i]);
    snprintf(spec + n, sizeof(spec) - (size_t)n, "=120MiB,*=1MiB");
    const struct {
        const char *env;
        uint64_t want;
    } cases[] = {{"GPUVISOR_CONTEXT_MEMORY=100MiB", 100 * MiB}, {spec, 120 * MiB}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i].env, NULL};
        struct child ch = spawn("hold", env);
        CHECK(ch.pid > 0);
        char line[128];
        read_line(ch.out, line, sizeof(line));
        unsigned long long f = 0, t = 0;
        CHECK(sscanf(line, "%llu %llu", &f, &t) == 2);
        CHECK(f == GiB - CTX - cases[i].want);
        CHECK(member_context(ch.pid) == cases[i].want);
        int st = finish(&ch);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        CHECK(wait_free(GiB - CTX) < 1000000000ULL);
    }
}

/* Occurrences of `what` in `text`. */
static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* Run a "try" child with `env`: both its allocations are refused, stderr says `expect` exactly
 * once (not again at the second refusal), and the child ends normally. */
static void refused_child(const char *const *env, const char *expect)
{
    struct child ch = spawn("try", env);
    CHECK(ch.pid > 0);
    char line[128], err[4096];
    read_line(ch.out, line, sizeof(line));
    close(ch.in);
    int st = -1;
    waitpid(ch.pid, &st, 0);
    read_all(ch.err, err, sizeof(err));
    close(ch.out);
    close(ch.err);
    printf("     child said: %s", err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int ra = -1, rb = -1;
    unsigned long long f = 1, t = 0;
    CHECK(sscanf(line, "%d %d %llu %llu", &ra, &rb, &f, &t) == 4);
    CHECK(ra == CUDA_ERROR_OUT_OF_MEMORY && rb == CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(count_of(err, expect) == 1);
    CHECK(count_of(err, "gpuvisor:") == 1);
}

/* A slice smaller than the context: every allocation is refused, the slice shows nothing free,
 * one line on stderr says why, and nothing crashes. */
static void t_too_small(void)
{
    char name[64];
    snprintf(name, sizeof(name), "GPUVISOR_INSTANCE=small-%d", (int)getpid());
    const char *env[] = {name, "GPUVISOR_MEMORY=256MiB", NULL};
    refused_child(env, "CUDA context takes 300 MiB");
    /* Its figures, through a hold child of the same instance. */
    struct child ch = spawn("hold", env);
    CHECK(ch.pid > 0);
    char line[128];
    read_line(ch.out, line, sizeof(line));
    unsigned long long f = 1, t = 0;
    CHECK(sscanf(line, "%llu %llu", &f, &t) == 2);
    CHECK(t == 256 * MiB && f == 0);
    finish(&ch);
}

/* A value that cannot be read refuses device memory, as a bad limit does. */
static void t_bad_value(void)
{
    const char *env[] = {"GPUVISOR_CONTEXT_MEMORY=12XB", NULL};
    refused_child(env, "GPUVISOR_CONTEXT_MEMORY");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "hold") == 0)
        return run_hold();
    if (argc == 2 && strcmp(argv[1], "try") == 0)
        return run_try();
    if (argc == 2 && (strcmp(argv[1], "race") == 0 || strcmp(argv[1], "vmm") == 0 ||
                      strcmp(argv[1], "idle") == 0))
        return run_then_hold(argv[1]);
    signal(SIGPIPE, SIG_IGN);
    setenv("GPUVISOR_SIM_CONTEXT_MEMORY", "300MiB", 1);
    shim_setup("T4", "ctxtest", "1GiB");
    if (context()) {
        fprintf(stderr, "no simulated device\n");
        return 1;
    }
    RUN(t_meminfo);
    RUN(t_nvml);
    RUN(t_limit);
    RUN(t_two_members);
    RUN(t_override);
    RUN(t_too_small);
    RUN(t_bad_value);
    RUN(t_race);
    RUN(t_vmm_no_context);
    RUN(t_idle);
    return st_summary();
}
