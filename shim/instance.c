/* SPDX-License-Identifier: Apache-2.0 */
/* instance.c: the vGPU instance this process belongs to, and the map from its CUDA devices to
 * the instance's GPUs.
 *
 * Configuration comes from the environment, set by `gpuvisor run` or by a HAMi-core deployment:
 *   GPUVISOR_INSTANCE   the instance name; every process with the same name shares one slice
 *   GPUVISOR_MEMORY     "SIZE" for every GPU, or "KEY=SIZE,..." with KEY a GPU UUID ("GPU-..."), a
 *                       CUDA ordinal of this process, or "*"
 *   GPUVISOR_COMPUTE    the share of each GPU's time, in basis points (2500 = 25%): "BP" for every
 *                       GPU, or "KEY=BP,..." as for GPUVISOR_MEMORY
 *   CUDA_DEVICE_MEMORY_LIMIT, CUDA_DEVICE_MEMORY_LIMIT_<ordinal>, CUDA_DEVICE_MEMORY_SHARED_CACHE
 *                       HAMi-core's names for the same; the cache path names the instance
 *   CUDA_DEVICE_SM_LIMIT, CUDA_DEVICE_SM_LIMIT_<ordinal>
 *                       HAMi-core's compute share, in percent (0 and 100 mean no limit)
 *   GPUVISOR_COMPUTE_POLICY, GPUVISOR_PRIORITY
 *                       how the compute share is kept (fixed, guaranteed, best-effort) and the
 *                       instance's priority (high, normal, low), core/policy.h
 *   GPUVISOR_CONTEXT_MEMORY
 *                       the device memory this process's context takes, as for GPUVISOR_MEMORY;
 *                       where unset, it is measured (context.c)
 * A process with none of the limits runs unlimited and untouched. spec.c reads each value into
 * rules; this file reads the environment and keeps the rules of all the variables together.
 *
 * With gpuvisord (GPUVISOR_DAEMON=<its socket>, GPUVISOR_INSTANCE=<id or name>) the instance is
 * the daemon's and so are its limits: the limit variables are ignored, the region comes from the
 * daemon (an inherited GPUVISOR_REGION_FD that holds a region of the instance, else a descriptor
 * asked of the daemon, which checks this process's user first), a GPU that is not the instance's
 * is refused rather than added without limits, and turns on the GPU go through the daemon
 * (timeshare.c). Limits stay live: a resize by the daemon changes the region, which every charge
 * and every turn reads. When the daemon deletes the instance, its next charge says so, once.
 *
 * GPUs are matched by UUID, never by position: CUDA_VISIBLE_DEVICES may reorder or hide them, so
 * the same GPU can be ordinal 0 in one member and ordinal 1 in another. The first member that meets
 * a GPU adds it to the region with its limit; later members find it by UUID.
 *
 * Context memory: when the process gets a context on a GPU (context.c says how it is measured and
 * why other threads' allocations never count in it), its memory is counted against the slice as
 * the member's context memory (gvr_charge_context), once, so that slices that fit on paper fit on
 * the card. A slice too small for the context refuses every allocation on that GPU, as the card
 * itself would soon. The state of this lives in the same word as the ordinal's region index, so
 * that the allocation path still reads one word.
 *
 * A GPU's limit is found from the rules by UUID, then by CUDA ordinal, then "*". A process that
 * only uses NVML (a monitor inside a slice) has no CUDA ordinals: hooks_nvml.c maps the GPU to the
 * ordinal CUDA_VISIBLE_DEVICES gives it, as the driver would, and such a process joins the
 * instance like any member, holding nothing. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/size.h"
#include "core/uuid.h"
#include "region/daemon.h"
#include "region/region.h"
#include "shim/shim.h"

#define MAX_ORDINALS      GV_MAX_GPUS
#define MAX_RULES         (GV_MAX_GPUS + 1) /* per variable kind: "*" and one per GPU */
#define RECLAIM_PERIOD_NS 250000000ULL

enum limit_kind { LIMIT_MEMORY, LIMIT_COMPUTE, LIMIT_CONTEXT, LIMIT_KINDS };

/* inst.map[ordinal]: 0 = not looked up yet; -1 = the look-up failed; otherwise the region device
 * index + 1 (MAP_INDEX bits) and the state of the ordinal's context memory: MAP_PENDING until it is
 * counted, with MAP_MEASURING while one thread counts it, and MAP_REFUSED for good when the slice
 * could not hold it. A word in (0, MAP_PENDING) is a device whose context is counted: the hot path
 * checks exactly that. */
#define MAP_INDEX     0xffff
#define MAP_PENDING   0x10000
#define MAP_MEASURING 0x20000
#define MAP_REFUSED   0x40000

bool gvs_compute_on;
/* A compute limit was asked for (or the instance has one): a process that could not join its
 * instance must then not launch at all. Launches pass the gate in every process (gvs_compute_on),
 * limited or not: the unlimited ones take turns as best-effort when limited ones want the GPU. */
static bool compute_asked;

static struct {
    bool configured; /* a limit or an instance was asked for */
    bool member;     /* joined the region */
    bool daemon;     /* the instance is gpuvisord's (GPUVISOR_DAEMON) */
    char socket[108];
    struct gvr_region region;
    struct gv_limit rules[LIMIT_KINDS][MAX_RULES]; /* per kind of limit, in the order read */
    unsigned nrules[LIMIT_KINDS];
    int map[MAX_ORDINALS]; /* CUDA ordinal -> region device and context state (MAP_*) */
    pthread_mutex_t map_lock;
    /* Bytes this process ever charged per region device: never decreases, so that a context
     * measurement can subtract whatever was charged while it ran (context.c). */
    uint64_t charged_ever[GVR_MAX_DEVICES];
    /* GPUVISOR_COMPUTE_POLICY and GPUVISOR_PRIORITY, for the GPUs this process adds (standalone) */
    enum gv_policy policy;
    enum gv_priority priority;
} inst = {.map_lock = PTHREAD_MUTEX_INITIALIZER};

/* Longest wait of a charge for another thread's context measurement on the same GPU; past it the
 * charge goes on, and the measurement still subtracts it. */
#define MEASURE_WAIT_NS 5000000000ULL

static const char *var_of(enum limit_kind what)
{
    return what == LIMIT_COMPUTE   ? "GPUVISOR_COMPUTE"
           : what == LIMIT_CONTEXT ? "GPUVISOR_CONTEXT_MEMORY"
                                   : "GPUVISOR_MEMORY";
}

/* Whether any compute rule asks for a share: a share of 0 is no limit on that GPU (as in
 * HAMi-core), and makes no launch wait. */
static bool any_share(void)
{
    for (unsigned i = 0; i < inst.nrules[LIMIT_COMPUTE]; i++)
        if (inst.rules[LIMIT_COMPUTE][i].value)
            return true;
    return false;
}

/* After core read variable `var` into inst.rules[what] (returning rc): say on stderr why the
 * variable cannot be read. */
static bool took(enum limit_kind what, const char *var, int rc, const struct gv_error *err)
{
    if (rc < 0) {
        fprintf(stderr, "gpuvisor: %s: %s\n", var, err->msg);
        return false;
    }
    if (what == LIMIT_COMPUTE && any_share())
        compute_asked = gvs_compute_on = true;
    return true;
}

/* GPUVISOR_MEMORY and GPUVISOR_CONTEXT_MEMORY: "SIZE" or "KEY=SIZE,KEY=SIZE"; GPUVISOR_COMPUTE the
 * same with shares. */
static bool parse_spec(enum limit_kind what, const char *spec)
{
    struct gv_error err = {0};
    int rc = gv_limits_parse(spec, what == LIMIT_COMPUTE ? GV_LIMIT_SHARE : GV_LIMIT_SIZE,
                             inst.rules[what], MAX_RULES, &inst.nrules[what], &err);
    return took(what, var_of(what), rc, &err);
}

/* One of HAMi-core's variables, whose key is in its name: ordinal < 0 is every GPU. */
static bool parse_hami_var(enum limit_kind what, const char *var, int ordinal, const char *text)
{
    struct gv_error err = {0};
    struct gv_limit key = {.key = ordinal < 0 ? GV_LIMIT_ALL : GV_LIMIT_ORDINAL,
                           .ordinal = ordinal};
    int rc = gv_limits_add(text, what == LIMIT_COMPUTE ? GV_LIMIT_PERCENT : GV_LIMIT_SIZE, &key,
                           inst.rules[what], MAX_RULES, &inst.nrules[what], &err);
    return took(what, var, rc, &err);
}

/* HAMi-core's variables: a limit for all devices and per ordinal. */
static bool parse_hami(bool *any)
{
    const char *all = getenv("CUDA_DEVICE_MEMORY_LIMIT");
    if (all && *all) {
        if (!parse_hami_var(LIMIT_MEMORY, "CUDA_DEVICE_MEMORY_LIMIT", -1, all))
            return false;
        *any = true;
    }
    for (int i = 0; i < MAX_ORDINALS; i++) {
        char var[48];
        snprintf(var, sizeof(var), "CUDA_DEVICE_MEMORY_LIMIT_%d", i);
        const char *v = getenv(var);
        if (v && *v) {
            if (!parse_hami_var(LIMIT_MEMORY, var, i, v))
                return false;
            *any = true;
        }
    }
    return true;
}

/* HAMi-core's compute share, in whole percent; 0 and 100 are HAMi-core's "no limit". */
static bool parse_hami_sm(bool *any)
{
    const char *all = getenv("CUDA_DEVICE_SM_LIMIT");
    if (all && *all) {
        if (!parse_hami_var(LIMIT_COMPUTE, "CUDA_DEVICE_SM_LIMIT", -1, all))
            return false;
        *any = true;
    }
    for (int i = 0; i < MAX_ORDINALS; i++) {
        char var[48];
        snprintf(var, sizeof(var), "CUDA_DEVICE_SM_LIMIT_%d", i);
        const char *v = getenv(var);
        if (v && *v) {
            if (!parse_hami_var(LIMIT_COMPUTE, var, i, v))
                return false;
            *any = true;
        }
    }
    return true;
}

/* An instance name for a HAMi-core shared cache path: stable, valid, and the same for every
 * process that names the same file. */
static void hami_name(const char *path, char *out, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = path; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    snprintf(out, len, "hami-%016llx", (unsigned long long)h);
}

/* Whether a memory or compute limit was given (GPUVISOR_CONTEXT_MEMORY alone limits nothing). */
static bool any_limit(void)
{
    return inst.nrules[LIMIT_MEMORY] || inst.nrules[LIMIT_COMPUTE];
}

/* The child is a new member with a slot of its own: its context memory is its own to count. */
static void rejoin_after_fork(void)
{
    if (inst.member) {
        struct gv_error err = {0};
        if (gvr_join_after_fork(&inst.region, &err) < 0) {
            inst.member = false;
            /* Only write(2) here: the child of a threaded process may find stdio's locks taken. */
            char line[400];
            int n = snprintf(line, sizeof(line),
                             "gpuvisor: forked process %d cannot join its instance: %s; device "
                             "memory is refused\n",
                             (int)getpid(), err.msg);
            if (n > 0 &&
                write(2, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1)) < 0)
                err.code = 0;
        }
    }
    for (int i = 0; i < MAX_ORDINALS; i++)
        if (inst.map[i] > 0)
            inst.map[i] = (inst.map[i] & MAP_INDEX) | MAP_PENDING;
    pthread_mutex_init(&inst.map_lock, NULL);
}

/* gpuvisord names each region by the instance's id: 12 lowercase hex digits. */
static bool is_id(const char *key)
{
    size_t n = 0;
    for (; key[n]; n++)
        if (!((key[n] >= '0' && key[n] <= '9') || (key[n] >= 'a' && key[n] <= 'f')))
            return false;
    return n == 12;
}

/* The region descriptor `gpuvisor run --instance` left to this process (GPUVISOR_REGION_FD), if it
 * holds a region of instance `key`: 0 with inst.region mapped, else -1 (ask the daemon). */
static int open_inherited(const char *key)
{
    const char *v = getenv("GPUVISOR_REGION_FD");
    if (!v || !*v)
        return -1;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    if (*end || errno || fd < 0 || fd > 1 << 20)
        return -1;
    if (gvr_open_fd(&inst.region, (int)fd, 0, NULL) < 0)
        return -1;
    if (is_id(key) && strcmp(inst.region.name, key) != 0) {
        gvr_close(&inst.region);
        return -1;
    }
    return 0;
}

/* gpuvisord's mode: the limits are the region's alone. */
static void daemon_init(const char *socket, const char *key)
{
    inst.configured = true;
    inst.daemon = true;
    snprintf(inst.socket, sizeof(inst.socket), "%s", socket);
    const char *context = getenv("GPUVISOR_CONTEXT_MEMORY");
    if (context && *context && !parse_spec(LIMIT_CONTEXT, context))
        inst.nrules[LIMIT_CONTEXT] = 0; /* measured instead */
    struct gv_error err = {0};
    int rc = -EINVAL;
    if (!key || !*key) {
        gv_error_set(&err, -EINVAL, "GPUVISOR_INSTANCE is not set");
        key = "";
    } else if ((rc = open_inherited(key)) < 0) {
        int fd;
        rc = gvr_daemon_join(socket, key, &fd, &err);
        if (rc == 0) {
            rc = gvr_open_fd(&inst.region, fd, 0, &err);
            close(fd);
        }
    }
    if (rc == 0 && (rc = gvr_join_flags(&inst.region, GVR_JOIN_REPLACE, &err)) < 0)
        gvr_close(&inst.region);
    if (rc < 0) {
        /* Without its instance a process of gpuvisord's would run without limits. */
        compute_asked = gvs_compute_on = true;
        fprintf(stderr,
                "gpuvisor: instance \"%s\" of gpuvisord (%s): %s; device memory is refused, and "
                "so are launches\n",
                key, socket, err.msg);
        return;
    }
    inst.member = true;
    /* The daemon may give the instance a share later (a resize): launches go through the gate, which
     * looks for one now and then while there is none (timeshare.c). */
    compute_asked = gvs_compute_on = true;
    pthread_atfork(NULL, NULL, rejoin_after_fork);
}

static void instance_init(void)
{
    const char *daemon = getenv("GPUVISOR_DAEMON");
    if (daemon && *daemon) {
        daemon_init(daemon, getenv("GPUVISOR_INSTANCE"));
        return;
    }
    /* Every launch passes the gate: a process without a compute limit takes turns as best-effort
     * while limited processes of its user want the GPU (timeshare.c). */
    gvs_compute_on = true;
    const char *name = getenv("GPUVISOR_INSTANCE");
    const char *mem = getenv("GPUVISOR_MEMORY");
    const char *compute = getenv("GPUVISOR_COMPUTE");
    const char *context = getenv("GPUVISOR_CONTEXT_MEMORY");
    char hname[GVR_NAME_MAX + 1];
    bool mem_ok, compute_ok, context_ok = true, hami = false, hami_sm = false;
    if (mem && *mem)
        mem_ok = parse_spec(LIMIT_MEMORY, mem);
    else
        mem_ok = parse_hami(&hami);
    if (compute && *compute)
        compute_ok = parse_spec(LIMIT_COMPUTE, compute);
    else
        compute_ok = parse_hami_sm(&hami_sm);
    if (context && *context)
        context_ok = parse_spec(LIMIT_CONTEXT, context);
    const char *policy = getenv(GV_POLICY_ENV), *priority = getenv(GV_PRIORITY_ENV);
    struct gv_error perr = {0};
    const char *bad = NULL;
    if (policy && *policy && gv_policy_parse(policy, &inst.policy, &perr) < 0)
        bad = GV_POLICY_ENV;
    else if (priority && *priority && gv_priority_parse(priority, &inst.priority, &perr) < 0)
        bad = GV_PRIORITY_ENV;
    if (bad) { /* as a share that cannot be read: launches are refused */
        fprintf(stderr, "gpuvisor: %s: %s\n", bad, perr.msg);
        compute_ok = false;
    }
    hami = hami || hami_sm;
    if (!name || !*name) {
        const char *cache = getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE");
        if (hami || (cache && *cache)) {
            hami_name(cache && *cache ? cache : "/tmp/cudevshr.cache", hname, sizeof(hname));
            name = hname;
        }
    }
    if (!mem_ok || !compute_ok || !context_ok) {
        /* A limit that cannot be read must not become no limit: device memory is refused, and so
         * are launches where a compute limit was asked for (it cannot be kept without the
         * instance this process then does not join). */
        inst.configured = true;
        if (!compute_ok || (compute && *compute) || hami_sm)
            compute_asked = gvs_compute_on = true;
        return;
    }
    if (!name) {
        if (any_limit()) {
            snprintf(hname, sizeof(hname), "pid-%d", (int)getpid());
            name = hname;
        } else {
            return; /* nothing asked: run untouched */
        }
    }
    inst.configured = true;
    struct gv_error err = {0};
    if (gvr_open(&inst.region, NULL, name, GVR_CREATE, NULL, 0, &err) < 0 ||
        gvr_join_flags(&inst.region, GVR_JOIN_REPLACE, &err) < 0) {
        /* Outside its instance a process with a compute share would run unlimited: its launches
         * are refused too (timeshare.c says so per device). */
        if (any_share())
            compute_asked = gvs_compute_on = true;
        fprintf(stderr, "gpuvisor: instance \"%s\": %s; device memory is refused%s\n", name,
                err.msg, compute_asked ? ", and so are launches" : "");
        return;
    }
    inst.member = true;
    /* Another member may have made the instance with a compute share this process was not told
     * of: the instance's share binds every member. */
    for (unsigned d = 0; d < gvr_device_count(&inst.region); d++)
        if (gvr_share(&inst.region, d))
            compute_asked = gvs_compute_on = true;
    pthread_atfork(NULL, NULL, rejoin_after_fork);
}

static pthread_once_t instance_once = PTHREAD_ONCE_INIT;

void gvs_instance_init(void)
{
    pthread_once(&instance_once, instance_init);
}

/* The rule the configuration has for the GPU at `ordinal` with `uuid` (core's precedence: its
 * UUID, then its ordinal, then "*"); NULL when none applies. */
static const struct gv_limit *rule_for(enum limit_kind what, int ordinal,
                                       const uint8_t uuid[GV_UUID_LEN])
{
    return gv_limits_find(inst.rules[what], inst.nrules[what], ordinal, uuid);
}

static uint64_t limit_for(enum limit_kind what, int ordinal, const uint8_t uuid[GV_UUID_LEN])
{
    const struct gv_limit *r = rule_for(what, ordinal, uuid);
    return r ? r->value : 0;
}

/* First look-up of CUDA ordinal `dev`: ask the driver for the UUID (outside any lock) and add the
 * GPU to the region. Returns the new map word (MAP_PENDING set), or -1. */
static int add_device(CUdevice dev)
{
    CUuuid uuid;
    if (!gvs_real.cuDeviceGetUuid_v2 || gvs_real.cuDeviceGetUuid_v2(&uuid, dev) != CUDA_SUCCESS)
        return -1;
    struct gvr_device_limit lim = {
        .memory = limit_for(LIMIT_MEMORY, dev, (const uint8_t *)uuid.bytes),
        .share = (uint32_t)limit_for(LIMIT_COMPUTE, dev, (const uint8_t *)uuid.bytes),
        .policy = (uint8_t)inst.policy,
        .priority = (uint8_t)inst.priority,
    };
    memcpy(lim.uuid, uuid.bytes, GV_UUID_LEN);
    struct gv_error err = {0};
    pthread_mutex_lock(&inst.map_lock);
    /* Another thread may have added it meanwhile and gone on to count the context: keep that. */
    int m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    int idx = 0;
    if (m == 0 && inst.daemon) {
        /* The daemon's instance has the GPUs it was given: another is refused, never added. */
        char u[GV_UUID_TEXT];
        idx = gvr_device_find(&inst.region, lim.uuid);
        if (idx < 0)
            gv_error_set(&err, idx,
                         "%s is not a GPU of instance %s; device memory and launches on it "
                         "are refused",
                         gv_uuid_format(lim.uuid, u), inst.region.name);
        m = idx >= 0 ? (idx + 1) | MAP_PENDING : -1;
        __atomic_store_n(&inst.map[dev], m, __ATOMIC_RELEASE);
    } else if (m == 0) {
        idx = gvr_device_add(&inst.region, &lim, NULL, &err);
        m = idx >= 0 ? (idx + 1) | MAP_PENDING : -1;
        __atomic_store_n(&inst.map[dev], m, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&inst.map_lock);
    if (idx < 0)
        fprintf(stderr, "gpuvisor: device %d: %s\n", (int)dev, err.msg);
    return m;
}

static uint64_t charged_ever(unsigned idx)
{
    return idx < GVR_MAX_DEVICES ? __atomic_load_n(&inst.charged_ever[idx], __ATOMIC_ACQUIRE) : 0;
}

/* The configured context memory of the GPU behind map word m (GPUVISOR_CONTEXT_MEMORY), with its
 * limits in *lim. Returns false when none is configured (it is then measured). */
static bool configured_context(CUdevice dev, int m, struct gvr_device_limit *lim, uint64_t *bytes)
{
    unsigned idx = (unsigned)(m & MAP_INDEX) - 1;
    if (gvr_device_get(&inst.region, idx, lim) < 0) {
        *bytes = 0;
        return true;
    }
    const struct gv_limit *given = rule_for(LIMIT_CONTEXT, dev, lim->uuid);
    *bytes = given ? given->value : 0;
    return given != NULL;
}

/* The daemon deleted the instance (gvr_retire): every charge is refused from now on. Said once. */
static void say_deleted(void)
{
    static _Atomic bool said;
    if (!atomic_exchange(&said, true))
        fprintf(stderr,
                "gpuvisor: instance %s was deleted by gpuvisord; device memory is refused\n",
                inst.region.name);
}

/* Charge `bytes` of context memory on the GPU behind map word m, which this thread has marked
 * MAP_MEASURING, and publish the final word (waking the charges that wait for it). */
static int settle_context(CUdevice dev, int m, uint64_t bytes, const struct gvr_device_limit *lim)
{
    unsigned idx = (unsigned)(m & MAP_INDEX) - 1;
    int rc = 0;
    if (bytes) {
        rc = gvr_charge_context(&inst.region, idx, bytes);
        if (rc == -ENOMEM && gvr_reclaim(&inst.region, NULL) > 0)
            rc = gvr_charge_context(&inst.region, idx, bytes);
    }
    int done = (m & MAP_INDEX) | (rc ? MAP_REFUSED : 0);
    __atomic_store_n(&inst.map[dev], done, __ATOMIC_RELEASE);
    if (rc == -ESHUTDOWN) {
        say_deleted();
    } else if (rc) {
        gvr_count_refusal(&inst.region, idx, GVR_REFUSED_SLICE);
        char uuid[GV_UUID_TEXT], need[32], limit[32], used[32];
        gv_uuid_format(lim->uuid, uuid);
        gv_size_format(bytes, need, sizeof(need));
        gv_size_format(gvr_limit(&inst.region, idx), limit, sizeof(limit));
        gv_size_format(gvr_used(&inst.region, idx), used, sizeof(used));
        fprintf(stderr,
                "gpuvisor: device %d (%s): this process's CUDA context takes %s of device memory, "
                "more than is left of instance \"%s\"'s slice (%s of %s used); device memory "
                "on this GPU is refused (give the instance more memory)\n",
                (int)dev, uuid, need, inst.region.name, used, limit);
    }
    return done;
}

/* Count the context memory of a context that exists already (made where the interposer did not
 * see it), on the GPU behind map word m, which this thread has marked MAP_MEASURING: what NVML
 * shows of this process there, less what it holds in allocations and less whatever it charged
 * while NVML was asked. No lock is held: measuring loads and asks NVML. */
static int count_context(CUdevice dev, int m)
{
    unsigned idx = (unsigned)(m & MAP_INDEX) - 1;
    struct gvr_device_limit lim;
    uint64_t bytes = 0;
    if (!configured_context(dev, m, &lim, &bytes)) {
        uint64_t gen = charged_ever(idx), held = gvr_member_used(&inst.region, idx);
        uint64_t seen = 0;
        if (gvs_context_nvml(lim.uuid, &seen)) {
            uint64_t mine = held + (charged_ever(idx) - gen);
            bytes = seen > mine ? seen - mine : 0;
        }
    }
    return settle_context(dev, m, bytes, &lim);
}

/* Wait (bounded) while another thread measures the context memory of ordinal dev: its charges
 * would otherwise land in the measurement. Sleeps in small steps: no lock, no allocation. */
static int wait_measured(CUdevice dev, int m)
{
    struct timespec step = {0, 200000};
    uint64_t t0 = gv_now_ns();
    while ((m & MAP_MEASURING)) {
        if (gv_now_ns() - t0 > MEASURE_WAIT_NS)
            break;
        nanosleep(&step, NULL);
        m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    }
    return m;
}

/* map_word's slow path: look the device up, and count its context memory where that is still to
 * do. */
static int map_word_slow(CUdevice dev, int m)
{
    if (m == 0)
        m = add_device(dev);
    if (m < 0)
        return -1;
    if (m & MAP_MEASURING)
        m = wait_measured(dev, m);
    /* A context the interposer did not see made (it counts those it sees as they are made): the
     * first use of the GPU with it current counts it. Before that (cuDeviceTotalMem is asked
     * before any context exists) there is nothing to measure, and the look-up stays pending. */
    if ((m & MAP_PENDING) && !(m & MAP_MEASURING) && gvs_current_device() == dev &&
        __atomic_compare_exchange_n(&inst.map[dev], &m, m | MAP_MEASURING, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        m = count_context(dev, m | MAP_MEASURING);
    return m;
}

/* The map word of CUDA ordinal `dev`; -1 when the device cannot be used. Inline so that the common
 * case (a device looked up and its context counted) stays one load on the allocation path. */
static inline int map_word(CUdevice dev)
{
    if (dev < 0 || dev >= MAX_ORDINALS || !inst.member)
        return -1;
    int m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    if (m > 0 && m < MAP_PENDING)
        return m;
    return map_word_slow(dev, m);
}

void gvs_context_before(CUdevice dev, struct gvs_ctx_watch *w)
{
    memset(w, 0, sizeof(*w));
    w->dev = dev;
    if (dev < 0 || dev >= MAX_ORDINALS || !inst.member)
        return;
    int m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    if (m == 0)
        m = add_device(dev);
    if (m < 0 || !(m & MAP_PENDING))
        return;
    if (m & MAP_MEASURING) {
        /* Another thread is making (or measuring) this process's first context here: the call
         * this one makes adds no context memory the driver would count anew. */
        wait_measured(dev, m);
        return;
    }
    if (!__atomic_compare_exchange_n(&inst.map[dev], &m, m | MAP_MEASURING, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        wait_measured(dev, m);
        return;
    }
    w->word = m | MAP_MEASURING;
    unsigned idx = (unsigned)(m & MAP_INDEX) - 1;
    struct gvr_device_limit lim;
    uint64_t given;
    w->configured = configured_context(dev, w->word, &lim, &given);
    if (!w->configured) {
        w->gen = charged_ever(idx);
        w->measured = gvs_context_nvml(lim.uuid, &w->before);
    }
}

void gvs_context_after(struct gvs_ctx_watch *w, bool made)
{
    if (!w->word)
        return;
    CUdevice dev = w->dev;
    if (!made) {
        /* No context was made: the next call that makes one counts it. */
        __atomic_store_n(&inst.map[dev], w->word & ~MAP_MEASURING, __ATOMIC_RELEASE);
        return;
    }
    unsigned idx = (unsigned)(w->word & MAP_INDEX) - 1;
    struct gvr_device_limit lim;
    uint64_t bytes = 0, after = 0;
    if (!configured_context(dev, w->word, &lim, &bytes) && w->measured &&
        gvs_context_nvml(lim.uuid, &after)) {
        /* What the process gained on the GPU across the call, less what it charged meanwhile (a
         * charge that outwaited the measurement), is the context's. */
        uint64_t meanwhile = charged_ever(idx) - w->gen;
        uint64_t gained = after > w->before ? after - w->before : 0;
        bytes = gained > meanwhile ? gained - meanwhile : 0;
    }
    settle_context(dev, w->word, bytes, &lim);
}

void gvs_context_current(void)
{
    if (inst.member)
        (void)map_word(gvs_current_device());
}

/* Region device index of CUDA ordinal `dev`, or -1. */
static int region_dev(CUdevice dev)
{
    int m = map_word(dev);
    return m > 0 ? (m & MAP_INDEX) - 1 : -1;
}

CUdevice gvs_current_device(void)
{
    CUdevice d;
    if (!gvs_real.cuCtxGetDevice || gvs_real.cuCtxGetDevice(&d) != CUDA_SUCCESS)
        return -1;
    return d;
}

CUresult gvs_charge(CUdevice dev, uint64_t bytes)
{
    if (!inst.configured)
        return CUDA_SUCCESS;
    int m = map_word(dev);
    if (m < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    int idx = (m & MAP_INDEX) - 1;
    if (m & MAP_REFUSED) {
        gvr_count_refusal(&inst.region, (unsigned)idx, GVR_REFUSED_SLICE);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    int rc = gvr_charge(&inst.region, (unsigned)idx, bytes);
    if (rc == -ENOMEM && gvr_reclaim(&inst.region, NULL) > 0)
        rc = gvr_charge(&inst.region, (unsigned)idx, bytes);
    /* Memory the process's own pools keep idle is given back before a charge is refused. */
    if (rc == -ENOMEM && gvs_pools_trim(dev))
        rc = gvr_charge(&inst.region, (unsigned)idx, bytes);
    if (rc == -ESHUTDOWN)
        say_deleted();
    if (rc) {
        gvr_count_refusal(&inst.region, (unsigned)idx, GVR_REFUSED_SLICE);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (idx < GVR_MAX_DEVICES)
        __atomic_add_fetch(&inst.charged_ever[idx], bytes, __ATOMIC_ACQ_REL);
    return CUDA_SUCCESS;
}

void gvs_driver_oom(CUdevice dev)
{
    if (!inst.member || dev < 0 || dev >= MAX_ORDINALS)
        return;
    int m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    if (m > 0)
        gvr_count_refusal(&inst.region, (unsigned)(m & MAP_INDEX) - 1, GVR_REFUSED_DRIVER);
}

int gvs_compute_slot(CUdevice dev, struct gv_budget **budget, uint32_t *share,
                     uint8_t uuid[GV_UUID_LEN])
{
    /* A process asked to be limited that could not join its instance (or whose configuration
     * could not be read) must not run unlimited. */
    if (!inst.member)
        return inst.configured && compute_asked ? -1 : 0;
    int idx = region_dev(dev);
    if (idx < 0) /* not a GPU of the daemon's instance; or not one the driver knows: it says so */
        return inst.daemon ? -1 : 0;
    struct gvr_device_limit lim;
    *share = gvr_share(&inst.region, (unsigned)idx);
    *budget = gvr_budget(&inst.region, (unsigned)idx);
    if (!*share || !*budget || gvr_device_get(&inst.region, (unsigned)idx, &lim) < 0)
        return 0;
    memcpy(uuid, lim.uuid, GV_UUID_LEN);
    return 1;
}

void gvs_uncharge(CUdevice dev, uint64_t bytes)
{
    int idx = region_dev(dev);
    if (idx >= 0)
        gvr_uncharge(&inst.region, (unsigned)idx, bytes);
}

/* Whether this process's context could not be counted on region device idx: then nothing of the
 * slice is left for it, whatever the instance's figures say. */
static bool refused_on(int idx)
{
    for (int i = 0; i < MAX_ORDINALS; i++) {
        int m = __atomic_load_n(&inst.map[i], __ATOMIC_ACQUIRE);
        if (m > 0 && (m & MAP_INDEX) == idx + 1)
            return (m & MAP_REFUSED) != 0;
    }
    return false;
}

static void slice_of(int idx, uint64_t *limit, uint64_t *used)
{
    *limit = gvr_limit(&inst.region, (unsigned)idx);
    *used = gvr_used(&inst.region, (unsigned)idx);
    if (*used < *limit && refused_on(idx))
        *used = *limit;
}

int gvs_slice(CUdevice dev, uint64_t *limit, uint64_t *used)
{
    *limit = *used = 0;
    if (!inst.configured)
        return 0;
    if (!inst.member)
        return -1; /* asked to be limited, and not in the instance: no memory at all */
    int idx = region_dev(dev);
    if (idx < 0)
        return dev >= 0 && dev < MAX_ORDINALS ? -1 : 0;
    gvr_reclaim_if_due(&inst.region, RECLAIM_PERIOD_NS, NULL);
    slice_of(idx, limit, used);
    return *limit != 0;
}

int gvs_slice_by_uuid(const unsigned char uuid[GV_UUID_LEN], int ordinal, uint64_t *limit,
                      uint64_t *used)
{
    *limit = *used = 0;
    if (!inst.configured)
        return 0;
    if (!inst.member)
        return -1;
    int idx = gvr_device_find(&inst.region, uuid);
    if (idx < 0 && inst.daemon)
        return -1; /* not a GPU of the daemon's instance */
    if (idx < 0) {
        /* No member has used this GPU with CUDA yet: its limit is the configuration's. */
        struct gvr_device_limit lim = {
            .memory = limit_for(LIMIT_MEMORY, ordinal, uuid),
            .share = (uint32_t)limit_for(LIMIT_COMPUTE, ordinal, uuid),
        };
        if (!lim.memory)
            return 0;
        memcpy(lim.uuid, uuid, GV_UUID_LEN);
        idx = gvr_device_add(&inst.region, &lim, NULL, NULL);
        if (idx < 0)
            return -1;
    }
    gvr_reclaim_if_due(&inst.region, RECLAIM_PERIOD_NS, NULL);
    slice_of(idx, limit, used);
    return *limit != 0;
}

int gvs_instance_members(const unsigned char uuid[GV_UUID_LEN], unsigned *pids, uint64_t *bytes,
                         int cap)
{
    if (!inst.member)
        return -1;
    int idx = gvr_device_find(&inst.region, uuid);
    if (idx < 0)
        return -1;
    struct gvr_snapshot *s = malloc(sizeof(*s));
    if (!s)
        return -1;
    gvr_snapshot(&inst.region, s);
    int n = 0;
    for (unsigned i = 0; i < s->nmember; i++) {
        if (s->member[i].alive != GVR_ALIVE)
            continue;
        if (n < cap) {
            pids[n] = (unsigned)s->member[i].pid;
            bytes[n] = s->member[i].bytes[idx] + s->member[i].context[idx];
        }
        n++;
    }
    free(s);
    return n;
}

const char *gvs_daemon(const char **instance)
{
    if (!inst.daemon || !inst.member)
        return NULL;
    *instance = inst.region.name;
    return inst.socket;
}

bool gvs_compute_watch(CUdevice dev)
{
    return inst.member && inst.daemon && region_dev(dev) >= 0;
}

void gvs_compute_policy(CUdevice dev, enum gv_policy *policy, enum gv_priority *priority)
{
    int idx = inst.member ? region_dev(dev) : -1;
    *policy = GV_POLICY_BEST_EFFORT; /* no instance: no share to keep */
    *priority = GV_PRIORITY_NORMAL;
    if (idx >= 0)
        gvr_policy(&inst.region, (unsigned)idx, policy, priority);
}

uint32_t gvs_compute_share(CUdevice dev)
{
    int idx = inst.member ? region_dev(dev) : -1;
    return idx >= 0 ? gvr_share(&inst.region, (unsigned)idx) : 0;
}

void gvs_count_wait(CUdevice dev, uint64_t ns)
{
    int idx = inst.member ? region_dev(dev) : -1;
    if (idx >= 0)
        gvr_count_wait(&inst.region, (unsigned)idx, ns);
}
