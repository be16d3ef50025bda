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
 *   GPUVISOR_CONTEXT_MEMORY
 *                       the device memory this process's context takes, as for GPUVISOR_MEMORY;
 *                       where unset, it is measured (context.c)
 * A process with none of the limits runs unlimited and untouched.
 *
 * GPUs are matched by UUID, never by position: CUDA_VISIBLE_DEVICES may reorder or hide them, so
 * the same GPU can be ordinal 0 in one member and ordinal 1 in another. The first member that meets
 * a GPU adds it to the region with its limit; later members find it by UUID.
 *
 * Context memory: the first time the process uses a GPU with a context there current, its context's
 * memory is counted against the slice as the member's context memory (gvr_charge_context), once, so
 * that slices that fit on paper fit on the card. A slice too small for the context refuses every
 * allocation on that GPU, as the card itself would soon. The state of this lives in the same word
 * as the ordinal's region index, so that the allocation path still reads one word. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/size.h"
#include "region/region.h"
#include "shim/shim.h"

#define MAX_ORDINALS      64
#define MAX_RULES         32
#define RECLAIM_PERIOD_NS 250000000ULL

enum key_kind { KEY_ALL, KEY_ORDINAL, KEY_UUID };
enum limit_kind { LIMIT_MEMORY, LIMIT_COMPUTE, LIMIT_CONTEXT };

struct rule {
    enum limit_kind what;
    enum key_kind kind;
    int ordinal;
    uint8_t uuid[16];
    uint64_t value; /* bytes, or basis points of the GPU's time */
};

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

static struct {
    bool configured; /* a limit or an instance was asked for */
    bool member;     /* joined the region */
    struct gvr_region region;
    struct rule rules[MAX_RULES];
    unsigned nrules;
    int map[MAX_ORDINALS]; /* CUDA ordinal -> region device and context state (MAP_*) */
    pthread_mutex_t map_lock;
} inst = {.map_lock = PTHREAD_MUTEX_INITIALIZER};

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "gpuvisor: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> 16 bytes. */
bool gvs_parse_uuid(const char *s, size_t len, uint8_t out[16])
{
    if (len >= 4 && strncasecmp(s, "GPU-", 4) == 0) {
        s += 4;
        len -= 4;
    }
    unsigned n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '-')
            continue;
        if (!isxdigit((unsigned char)s[i]) || n >= 32)
            return false;
        unsigned v =
            (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0'
                                                    : tolower((unsigned char)s[i]) - 'a' + 10);
        if (n % 2 == 0)
            out[n / 2] = (uint8_t)(v << 4);
        else
            out[n / 2] |= (uint8_t)v;
        n++;
    }
    return n == 32;
}

/* A compute share as the CLI passes it: whole basis points, 1 to 10000. */
static bool parse_points(const char *text, uint64_t *out, const char *var)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!isdigit((unsigned char)*text) || *end || errno || v == 0 || v > GV_SHARE_FULL) {
        complain("%s: \"%s\": expected a share in basis points, 1 to %u (2500 = 25%%)", var, text,
                 GV_SHARE_FULL);
        return false;
    }
    *out = v;
    return true;
}

static const char *var_of(enum limit_kind what)
{
    return what == LIMIT_COMPUTE   ? "GPUVISOR_COMPUTE"
           : what == LIMIT_CONTEXT ? "GPUVISOR_CONTEXT_MEMORY"
                                   : "GPUVISOR_MEMORY";
}

static bool add_rule_of(enum limit_kind what, enum key_kind kind, int ordinal, const uint8_t *uuid,
                        const char *text, const char *var)
{
    struct gv_error err = {0};
    uint64_t bytes;
    if (what == LIMIT_COMPUTE) {
        if (!parse_points(text, &bytes, var))
            return false;
    } else if (gv_size_parse(text, &bytes, &err)) {
        complain("%s: %s", var, err.msg);
        return false;
    }
    if (inst.nrules >= MAX_RULES) {
        complain("%s: too many entries (at most 32)", var);
        return false;
    }
    struct rule *r = &inst.rules[inst.nrules++];
    r->what = what;
    r->kind = kind;
    r->ordinal = ordinal;
    if (uuid)
        memcpy(r->uuid, uuid, 16);
    r->value = bytes;
    if (what == LIMIT_COMPUTE)
        gvs_compute_on = true;
    return true;
}

static bool add_rule(enum key_kind kind, int ordinal, const uint8_t *uuid, const char *size,
                     const char *var)
{
    return add_rule_of(LIMIT_MEMORY, kind, ordinal, uuid, size, var);
}

/* GPUVISOR_MEMORY and GPUVISOR_CONTEXT_MEMORY: "SIZE" or "KEY=SIZE,KEY=SIZE"; GPUVISOR_COMPUTE the
 * same with shares. */
static bool parse_spec(enum limit_kind what, const char *spec)
{
    const char *var = var_of(what);
    if (!strchr(spec, '='))
        return add_rule_of(what, KEY_ALL, -1, NULL, spec, var);
    char buf[1024];
    if (strlen(spec) >= sizeof(buf)) {
        complain("%s: too long", var);
        return false;
    }
    strcpy(buf, spec);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            complain("%s: \"%s\": expected KEY=%s", var, item,
                     what == LIMIT_COMPUTE ? "SHARE" : "SIZE");
            return false;
        }
        *eq = '\0';
        const char *key = item, *size = eq + 1;
        uint8_t uuid[16];
        char *end;
        if (strcmp(key, "*") == 0) {
            if (!add_rule_of(what, KEY_ALL, -1, NULL, size, var))
                return false;
        } else if (isdigit((unsigned char)key[0]) && (strtol(key, &end, 10), *end == '\0')) {
            long ord = strtol(key, NULL, 10);
            if (ord < 0 || ord >= MAX_ORDINALS) {
                complain("%s: device \"%s\" out of range", var, key);
                return false;
            }
            if (!add_rule_of(what, KEY_ORDINAL, (int)ord, NULL, size, var))
                return false;
        } else if (gvs_parse_uuid(key, strlen(key), uuid)) {
            if (!add_rule_of(what, KEY_UUID, -1, uuid, size, var))
                return false;
        } else {
            complain("%s: \"%s\": not a device index or GPU UUID", var, key);
            return false;
        }
    }
    return true;
}

/* HAMi-core's variables: a limit for all devices and per ordinal. */
static bool parse_hami(void)
{
    bool any = false;
    const char *all = getenv("CUDA_DEVICE_MEMORY_LIMIT");
    if (all && *all) {
        if (!add_rule(KEY_ALL, -1, NULL, all, "CUDA_DEVICE_MEMORY_LIMIT"))
            return false;
        any = true;
    }
    for (int i = 0; i < MAX_ORDINALS; i++) {
        char var[48];
        snprintf(var, sizeof(var), "CUDA_DEVICE_MEMORY_LIMIT_%d", i);
        const char *v = getenv(var);
        if (v && *v) {
            if (!add_rule(KEY_ORDINAL, i, NULL, v, var))
                return false;
            any = true;
        }
    }
    return any;
}

/* HAMi-core's compute share, in whole percent; 0 and 100 are HAMi-core's "no limit". */
static bool add_sm_limit(enum key_kind kind, int ordinal, const char *text, const char *var)
{
    char *end;
    errno = 0;
    long pct = strtol(text, &end, 10);
    if (!isdigit((unsigned char)*text) || *end || errno || pct < 0 || pct > 100) {
        complain("%s: \"%s\": expected a percentage, 0 to 100", var, text);
        return false;
    }
    if (pct == 0 || pct == 100)
        return true;
    char bp[16];
    snprintf(bp, sizeof(bp), "%ld", pct * 100);
    return add_rule_of(LIMIT_COMPUTE, kind, ordinal, NULL, bp, var);
}

static bool parse_hami_sm(bool *any)
{
    const char *all = getenv("CUDA_DEVICE_SM_LIMIT");
    if (all && *all) {
        if (!add_sm_limit(KEY_ALL, -1, all, "CUDA_DEVICE_SM_LIMIT"))
            return false;
        *any = true;
    }
    for (int i = 0; i < MAX_ORDINALS; i++) {
        char var[48];
        snprintf(var, sizeof(var), "CUDA_DEVICE_SM_LIMIT_%d", i);
        const char *v = getenv(var);
        if (v && *v) {
            if (!add_sm_limit(KEY_ORDINAL, i, v, var))
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
    for (unsigned i = 0; i < inst.nrules; i++)
        if (inst.rules[i].what != LIMIT_CONTEXT)
            return true;
    return false;
}

/* The child is a new member with a slot of its own: its context memory is its own to count. */
static void rejoin_after_fork(void)
{
    if (inst.member) {
        struct gv_error err = {0};
        if (gvr_join_after_fork(&inst.region, &err) < 0)
            inst.member = false;
    }
    for (int i = 0; i < MAX_ORDINALS; i++)
        if (inst.map[i] > 0)
            inst.map[i] = (inst.map[i] & MAP_INDEX) | MAP_PENDING;
    pthread_mutex_init(&inst.map_lock, NULL);
}

static void instance_init(void)
{
    const char *name = getenv("GPUVISOR_INSTANCE");
    const char *mem = getenv("GPUVISOR_MEMORY");
    const char *compute = getenv("GPUVISOR_COMPUTE");
    const char *context = getenv("GPUVISOR_CONTEXT_MEMORY");
    char hname[64];
    bool ok = true, hami = false;
    if (mem && *mem)
        ok = parse_spec(LIMIT_MEMORY, mem);
    else
        hami = parse_hami();
    if (ok && compute && *compute)
        ok = parse_spec(LIMIT_COMPUTE, compute);
    else if (ok)
        ok = parse_hami_sm(&hami);
    if (ok && context && *context)
        ok = parse_spec(LIMIT_CONTEXT, context);
    if (!name || !*name) {
        const char *cache = getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE");
        if (hami || (cache && *cache)) {
            hami_name(cache && *cache ? cache : "/tmp/cudevshr.cache", hname, sizeof(hname));
            name = hname;
        }
    }
    if (!ok) {
        /* A limit that cannot be read must not become no limit: refuse device memory (and, through
         * the compute gate, launches). */
        inst.configured = true;
        gvs_compute_on = true;
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
        fprintf(stderr, "gpuvisor: instance \"%s\": %s; device memory is refused\n", name, err.msg);
        return;
    }
    inst.member = true;
    /* Another member may have made the instance with a compute share this process was not told
     * of: the instance's share binds every member. */
    for (unsigned d = 0; d < gvr_device_count(&inst.region); d++)
        if (gvr_share(&inst.region, d))
            gvs_compute_on = true;
    pthread_atfork(NULL, NULL, rejoin_after_fork);
}

static pthread_once_t instance_once = PTHREAD_ONCE_INIT;

void gvs_instance_init(void)
{
    pthread_once(&instance_once, instance_init);
}

/* The rule the configuration has for the GPU at `ordinal` with `uuid`: a UUID rule first, then an
 * ordinal rule, then "*"; NULL when none applies. */
static const struct rule *rule_for(enum limit_kind what, int ordinal, const uint8_t uuid[16])
{
    const struct rule *by_ord = NULL, *by_all = NULL;
    for (unsigned i = 0; i < inst.nrules; i++) {
        const struct rule *r = &inst.rules[i];
        if (r->what != what)
            continue;
        if (r->kind == KEY_UUID && memcmp(r->uuid, uuid, 16) == 0)
            return r;
        if (r->kind == KEY_ORDINAL && r->ordinal == ordinal)
            by_ord = r;
        if (r->kind == KEY_ALL)
            by_all = r;
    }
    return by_ord ? by_ord : by_all;
}

static uint64_t limit_for(enum limit_kind what, int ordinal, const uint8_t uuid[16])
{
    const struct rule *r = rule_for(what, ordinal, uuid);
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
    };
    memcpy(lim.uuid, uuid.bytes, 16);
    struct gv_error err = {0};
    pthread_mutex_lock(&inst.map_lock);
    /* Another thread may have added it meanwhile and gone on to count the context: keep that. */
    int m = __atomic_load_n(&inst.map[dev], __ATOMIC_ACQUIRE);
    int idx = 0;
    if (m == 0) {
        idx = gvr_device_add(&inst.region, &lim, NULL, &err);
        m = idx >= 0 ? (idx + 1) | MAP_PENDING : -1;
        __atomic_store_n(&inst.map[dev], m, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&inst.map_lock);
    if (idx < 0)
        fprintf(stderr, "gpuvisor: device %d: %s\n", (int)dev, err.msg);
    return m;
}

/* Count this process's context memory on the GPU behind map word m, which this thread has marked
 * MAP_MEASURING: the configured figure, else the measured one. No lock is held: measuring loads and
 * asks NVML. Returns the final word. */
static int count_context(CUdevice dev, int m)
{
    unsigned idx = (unsigned)(m & MAP_INDEX) - 1;
    struct gvr_device_limit lim;
    uint64_t bytes = 0;
    if (gvr_device_get(&inst.region, idx, &lim) == 0) {
        const struct rule *given = rule_for(LIMIT_CONTEXT, dev, lim.uuid);
        bytes = given ? given->value
                      : gvs_context_measure(lim.uuid, gvr_member_used(&inst.region, idx));
    }
    int rc = 0;
    if (bytes) {
        rc = gvr_charge_context(&inst.region, idx, bytes);
        if (rc == -ENOMEM && gvr_reclaim(&inst.region, NULL) > 0)
            rc = gvr_charge_context(&inst.region, idx, bytes);
    }
    int done = (m & MAP_INDEX) | (rc ? MAP_REFUSED : 0);
    __atomic_store_n(&inst.map[dev], done, __ATOMIC_RELEASE);
    if (rc) {
        char uuid[GVR_UUID_TEXT], need[32], limit[32], used[32];
        gvr_uuid_format(lim.uuid, uuid);
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

/* map_word's slow path: look the device up, and count its context memory where that is still to
 * do. */
static int map_word_slow(CUdevice dev, int m)
{
    if (m == 0)
        m = add_device(dev);
    if (m < 0)
        return -1;
    /* The context memory is counted by one thread, and only with a context on this very device
     * current: before that (cuDeviceTotalMem is asked before any context exists) the process has
     * no context there to measure, and the look-up stays pending. Other threads go on meanwhile;
     * their charges are not refused. */
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
    if (m < 0 || (m & MAP_REFUSED))
        return CUDA_ERROR_OUT_OF_MEMORY;
    int idx = (m & MAP_INDEX) - 1;
    int rc = gvr_charge(&inst.region, (unsigned)idx, bytes);
    if (rc == -ENOMEM && gvr_reclaim(&inst.region, NULL) > 0)
        rc = gvr_charge(&inst.region, (unsigned)idx, bytes);
    return rc == 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

int gvs_compute_slot(CUdevice dev, struct gv_budget **budget, uint32_t *share, uint8_t uuid[16])
{
    /* A process asked to be limited that could not join its instance (or whose configuration
     * could not be read) must not run unlimited. */
    if (!inst.member)
        return inst.configured ? -1 : 0;
    int idx = region_dev(dev);
    if (idx < 0)
        return 0; /* not a device the driver knows: let the driver say so */
    struct gvr_device_limit lim;
    *share = gvr_share(&inst.region, (unsigned)idx);
    *budget = gvr_budget(&inst.region, (unsigned)idx);
    if (!*share || !*budget || gvr_device_get(&inst.region, (unsigned)idx, &lim) < 0)
        return 0;
    memcpy(uuid, lim.uuid, 16);
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

void gvs_slice(CUdevice dev, uint64_t *limit, uint64_t *used)
{
    *limit = *used = 0;
    int idx = region_dev(dev);
    if (idx < 0)
        return;
    gvr_reclaim_if_due(&inst.region, RECLAIM_PERIOD_NS, NULL);
    slice_of(idx, limit, used);
}

bool gvs_slice_by_uuid(const unsigned char uuid[16], uint64_t *limit, uint64_t *used)
{
    *limit = *used = 0;
    if (!inst.member)
        return false;
    int idx = gvr_device_find(&inst.region, uuid);
    if (idx < 0)
        return false;
    slice_of(idx, limit, used);
    return *limit != 0;
}

int gvs_instance_members(const unsigned char uuid[16], unsigned *pids, uint64_t *bytes, int cap)
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
