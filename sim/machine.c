/* SPDX-License-Identifier: Apache-2.0 */
/* machine.c: the simulated machine that every process naming it shares.
 *
 * A machine is one shared-memory file, /dev/shm/gvsim.<name>: its devices (catalogue models), the
 * memory each process holds on each device, the device time each process has used, and the
 * scheduler records engine.c uses to time-slice the devices. The first process creates the file
 * with O_EXCL, fills it in and publishes a magic number last; everyone else waits for the magic.
 *
 * Processes are slots: a pid plus the process's start time, so a recycled pid never passes for the
 * process that died. Taking and clearing slots happens under one robust process-shared mutex; the
 * hot paths (charging memory, adding busy time) are lock-free atomics. A device's `used` counter
 * only moves by compare-and-swap against its total, so no interleaving of processes can push it
 * past the device's capacity. Slots of dead processes are reclaimed (their memory given back)
 * before any figure is computed, so a process killed with SIGKILL costs the others nothing for
 * longer than it takes someone to look.
 *
 * This file is linked into both libcuda.so.1 and libnvidia-ml.so.1, each with its own copy of the
 * process-local state below; libnvidia-ml only observes and never takes a slot. */
#include "sim/sim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/visible.h"

#define MACHINE_MAGIC   0x31686361736d7667ull /* "gvsmach1" */
#define MACHINE_VERSION 1u
#define MODEL_NAME_MAX  64
#define NAME_MAX_LEN    64

/* Utilization: a ring of (time, cumulative busy ns) samples per device, one pushed at most every
 * UTIL_PERIOD_NS by whoever adds busy time; the figure is the busy share since one window ago. */
#define UTIL_SAMPLES   16
#define UTIL_PERIOD_NS 100000000ull
#define UTIL_WINDOW_NS 1000000000ull

#define PUBLISH_WAIT_NS 2000000000ull

enum { SLOT_FREE = 0, SLOT_LIVE = 1 };

/* One process. Invariant: mem[d] is counted in dev[d].used while the slot is live; clearing the
 * slot (exit or reclaim) takes it out of dev[d].used in the same critical section. A process killed
 * between the two adds of a charge (device counter, then slot) leaks that one charge: the window is
 * two adjacent instructions, and the alternative (a lock per charge) costs every allocation. */
struct slot {
    _Atomic uint32_t state;
    int32_t pid;
    uint64_t start_time;        /* /proc/<pid>/stat field 22, clock ticks since boot */
    _Atomic uint32_t ctx_mask;  /* devices this process has a context on */
    _Atomic uint32_t want_mask; /* devices this process has work queued for */
    _Atomic uint64_t mem[GVSIM_MAX_DEVICES];
    _Atomic uint64_t busy[GVSIM_MAX_DEVICES];
};

struct util_sample {
    uint64_t t_ns;
    uint64_t busy_ns;
};

struct mdev {
    char model[MODEL_NAME_MAX]; /* canonical catalogue name */
    uint64_t total;
    _Atomic uint64_t used; /* never above total */
    _Atomic uint64_t busy; /* device time used by anyone, ns, since the machine was made */
    _Atomic uint64_t last_sample_ns;
    _Atomic uint64_t last_add_ns; /* when busy last grew: the device has been idle since */
    uint32_t ring_pos;            /* samples pushed so far; ring and ring_pos under machine.lock */
    struct util_sample ring[UTIL_SAMPLES];
    pthread_mutex_t sched_lock;
    _Alignas(64) unsigned char sched[GVSIM_SCHED_BYTES];
};

struct machine {
    _Atomic uint64_t
        magic; /* written last by the creator: everything else is valid once it is set */
    uint32_t version;
    uint32_t size;
    pthread_mutex_t lock; /* slot table and utilization rings */
    char name[NAME_MAX_LEN + 8];
    uint32_t ndev;
    struct mdev dev[GVSIM_MAX_DEVICES];
    struct slot slot[GVSIM_MAX_PROCS];
};

static pthread_mutex_t attach_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static struct machine *M;
static int ndev;
static struct gvsim_dev_info devs[GVSIM_MAX_DEVICES];
static atomic_bool is_user; /* attached with gvsim_attach: this process uses the devices */

/* CUDA_VISIBLE_DEVICES, as the driver applies it: the driver's ordinals are positions in the list,
 * whose entries are machine indices or (prefixes of) GPU UUIDs. The list ends at the first entry
 * that names no device or repeats one, as with the vendor's driver. NVML ignores the variable: only
 * a user attach (libcuda) applies it, and every device argument of this file's functions is an
 * ordinal in that view. vis[i] is the machine index of ordinal i; nvis < 0 means no list. */
static int vis[GVSIM_MAX_DEVICES];
static int nvis = -1;

static bool uuid_text(unsigned index, char *buf, size_t len, void *arg)
{
    (void)arg;
    return snprintf(buf, len, "%s", devs[index].uuid_str) < (int)len;
}

static void parse_visible(void)
{
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    nvis = -1;
    if (!v)
        return;
    nvis = (int)gv_visible_parse(v, (unsigned)ndev, uuid_text, NULL, vis, (unsigned)ndev);
}

/* Machine index of the caller's device `dev`: an ordinal under CUDA_VISIBLE_DEVICES in the
 * driver, the index itself in NVML. -1 when out of range. */
static int phys(int dev)
{
    if (!atomic_load(&is_user) || nvis < 0)
        return dev;
    return dev >= 0 && dev < nvis ? vis[dev] : -1;
}

static atomic_bool attached;
static _Atomic int my_slot = -1;
static pid_t my_pid; /* the process my_slot was taken for; differs after fork */

static void robust_lock(pthread_mutex_t *m)
{
    /* A holder killed inside its critical section leaves at worst a half-written slot or sample;
     * every reader tolerates that, so the state is declared consistent and work goes on. */
    if (pthread_mutex_lock(m) == EOWNERDEAD)
        pthread_mutex_consistent(m);
}

static void robust_init(pthread_mutex_t *m)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
}

/* ------------------------------------------------------------------ processes */

/* State letter and start time of a process, from /proc/<pid>/stat. The command name may hold
 * spaces and parentheses, so fields are counted from the last ')'. */
static bool proc_stat(pid_t pid, char *state, uint64_t *start_time)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    p++;
    while (*p == ' ')
        p++;
    *state = *p;
    /* p is at field 3; field 22 is 19 separators further on. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return false;
        p++;
    }
    *start_time = strtoull(p, NULL, 10);
    return true;
}

static bool slot_alive(const struct slot *s)
{
    if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE)
        return false;
    pid_t pid = s->pid;
    uint64_t want_start = s->start_time;
    if (pid <= 0)
        return false;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    char state;
    uint64_t start;
    if (!proc_stat(pid, &state, &start))
        return false;
    return start == want_start && state != 'Z' && state != 'X' && state != 'x';
}

/* Caller holds M->lock. */
static void slot_clear_locked(struct slot *s)
{
    atomic_store_explicit(&s->state, SLOT_FREE, memory_order_release);
    for (int d = 0; d < GVSIM_MAX_DEVICES; d++) {
        uint64_t m = atomic_exchange(&s->mem[d], 0);
        if (m)
            atomic_fetch_sub(&M->dev[d].used, m);
        atomic_store(&s->busy[d], 0);
    }
    atomic_store(&s->ctx_mask, 0);
    atomic_store(&s->want_mask, 0);
    s->pid = 0;
}

static bool own_slot(int i)
{
    return i == atomic_load(&my_slot) && my_pid == getpid();
}

/* Give back what dead processes held. A lock-free scan first, so that the common case (everyone
 * alive) costs a few system calls and no lock. */
static void reclaim_dead(void)
{
    if (!M)
        return;
    bool any = false;
    for (int i = 0; i < GVSIM_MAX_PROCS && !any; i++)
        if (atomic_load(&M->slot[i].state) == SLOT_LIVE && !own_slot(i) && !slot_alive(&M->slot[i]))
            any = true;
    if (!any)
        return;
    robust_lock(&M->lock);
    for (int i = 0; i < GVSIM_MAX_PROCS; i++)
        if (atomic_load(&M->slot[i].state) == SLOT_LIVE && !own_slot(i) && !slot_alive(&M->slot[i]))
            slot_clear_locked(&M->slot[i]);
    pthread_mutex_unlock(&M->lock);
}

static int find_free_locked(void)
{
    for (int i = 0; i < GVSIM_MAX_PROCS; i++)
        if (atomic_load(&M->slot[i].state) == SLOT_FREE)
            return i;
    return -1;
}

/* This process's slot, taken on first use: at attach, and again in a forked child, which must
 * not share (and on exit release) its parent's. */
static int take_slot(void)
{
    if (!M || !atomic_load(&is_user))
        return -1;
    int s = atomic_load(&my_slot);
    if (s >= 0 && my_pid == getpid())
        return s;
    pthread_mutex_lock(&slot_mu);
    s = atomic_load(&my_slot);
    if (s < 0 || my_pid != getpid()) {
        char state;
        uint64_t start = 0;
        pid_t pid = getpid();
        proc_stat(pid, &state, &start);
        robust_lock(&M->lock);
        s = find_free_locked();
        if (s < 0) {
            pthread_mutex_unlock(&M->lock);
            reclaim_dead();
            robust_lock(&M->lock);
            s = find_free_locked();
        }
        if (s >= 0) {
            struct slot *sl = &M->slot[s];
            sl->pid = pid;
            sl->start_time = start;
            for (int d = 0; d < GVSIM_MAX_DEVICES; d++) {
                atomic_store(&sl->mem[d], 0);
                atomic_store(&sl->busy[d], 0);
            }
            atomic_store(&sl->ctx_mask, 0);
            atomic_store(&sl->want_mask, 0);
            atomic_store_explicit(&sl->state, SLOT_LIVE, memory_order_release);
        }
        pthread_mutex_unlock(&M->lock);
        if (s < 0)
            fprintf(stderr, "gpuvisor-sim: machine \"%s\": all %d process slots are in use\n",
                    M->name, GVSIM_MAX_PROCS);
        my_pid = pid;
        atomic_store(&my_slot, s);
    }
    pthread_mutex_unlock(&slot_mu);
    return s;
}

static void release_own_slot(void)
{
    int s = atomic_load(&my_slot);
    if (!M || s < 0 || my_pid != getpid())
        return;
    robust_lock(&M->lock);
    if (M->slot[s].pid == my_pid)
        slot_clear_locked(&M->slot[s]);
    pthread_mutex_unlock(&M->lock);
    atomic_store(&my_slot, -1);
}

/* At normal exit the slot goes back at once, rather than when someone notices the pid is gone. */
__attribute__((destructor)) static void machine_exit(void)
{
    release_own_slot();
}

static void atfork_child(void)
{
    pthread_mutex_init(&attach_mu, NULL);
    pthread_mutex_init(&slot_mu, NULL);
    atomic_store(&my_slot, -1);
}

/* ------------------------------------------------------------------ configuration */

static CUresult config_error(const char *var, const char *value, const char *why)
{
    fprintf(stderr, "gpuvisor-sim: %s=\"%s\": %s\n", var, value, why);
    return CUDA_ERROR_INVALID_VALUE;
}

static CUresult parse_name(char *name, size_t cap)
{
    const char *env = getenv("GPUVISOR_SIM_MACHINE");
    if (!env) {
        snprintf(name, cap, "user-%u", (unsigned)getuid());
        return CUDA_SUCCESS;
    }
    size_t n = strlen(env);
    if (n == 0 || n > NAME_MAX_LEN)
        return config_error("GPUVISOR_SIM_MACHINE", env, "the name must be 1 to 64 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)env[i];
        if (!isalnum(c) && c != '_' && c != '.' && c != '-')
            return config_error("GPUVISOR_SIM_MACHINE", env,
                                "the name may hold only letters, digits, '_', '.' and '-'");
    }
    if (strcmp(env, ".") == 0 || strcmp(env, "..") == 0)
        return config_error("GPUVISOR_SIM_MACHINE", env, "not a usable name");
    snprintf(name, cap, "%s", env);
    return CUDA_SUCCESS;
}

static CUresult parse_gpus(const char *value, const struct gv_model **models, int *count)
{
    char buf[1024];
    if (strlen(value) >= sizeof(buf))
        return config_error("GPUVISOR_SIM_GPUS", value, "too long (at most 16 model names)");
    snprintf(buf, sizeof(buf), "%s", value);
    int n = 0;
    char *p = buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (isspace((unsigned char)*p))
            p++;
        char *end = p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*p)
            return config_error("GPUVISOR_SIM_GPUS", value,
                                "empty model name (use comma-separated names, e.g. T4,T4)");
        if (n == GVSIM_MAX_DEVICES)
            return config_error("GPUVISOR_SIM_GPUS", value, "too many devices (at most 16)");
        struct gv_error err = {0};
        const struct gv_model *m = gv_model_find(p, &err);
        if (!m)
            return config_error("GPUVISOR_SIM_GPUS", value, err.msg[0] ? err.msg : "unknown model");
        models[n++] = m;
        if (!comma)
            break;
        p = comma + 1;
    }
    *count = n;
    return CUDA_SUCCESS;
}

/* ------------------------------------------------------------------ the machine file */

static uint64_t fnv1a(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void fill_dev_info(const char *machine, int i, const struct gv_model *m, uint64_t total)
{
    struct gvsim_dev_info *d = &devs[i];
    memset(d, 0, sizeof(*d));
    d->model = m;
    d->index = i;
    d->total = total;
    char key[NAME_MAX_LEN + 16];
    int klen = snprintf(key, sizeof(key), "%s#%d", machine, i);
    uint64_t h1 = fnv1a(key, (size_t)klen, 0xcbf29ce484222325ull);
    uint64_t h2 = fnv1a(key, (size_t)klen, h1 ^ 0x9e3779b97f4a7c15ull);
    for (int b = 0; b < 8; b++) {
        d->uuid[b] = (unsigned char)(h1 >> (8 * b));
        d->uuid[8 + b] = (unsigned char)(h2 >> (8 * b));
    }
    gv_uuid_format(d->uuid, d->uuid_str);
    d->pci_domain = 0;
    d->pci_bus = 0x41u + (unsigned)i;
    d->pci_device = 0;
    snprintf(d->bus_id, sizeof(d->bus_id), "%08X:%02X:%02X.0", d->pci_domain, d->pci_bus,
             d->pci_device);
}

static void init_machine(struct machine *m, const char *name, const struct gv_model **models, int n)
{
    m->version = MACHINE_VERSION;
    m->size = (uint32_t)sizeof(*m);
    robust_init(&m->lock);
    snprintf(m->name, sizeof(m->name), "%s", name);
    m->ndev = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        snprintf(m->dev[i].model, sizeof(m->dev[i].model), "%s", models[i]->name);
        m->dev[i].total = models[i]->memory;
        robust_init(&m->dev[i].sched_lock);
    }
    atomic_store_explicit(&m->magic, MACHINE_MAGIC, memory_order_release);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static CUresult os_error(const char *what, const char *shm_name)
{
    fprintf(stderr, "gpuvisor-sim: %s /dev/shm%s: %s\n", what, shm_name, strerror(errno));
    return CUDA_ERROR_OPERATING_SYSTEM;
}

/* Open (or create) the machine file and check it against the configuration. Caller holds attach_mu.
 */
static CUresult map_machine(void)
{
    char name[NAME_MAX_LEN + 8];
    CUresult r = parse_name(name, sizeof(name));
    if (r != CUDA_SUCCESS)
        return r;
    const char *gpus_env = getenv("GPUVISOR_SIM_GPUS");
    const struct gv_model *models[GVSIM_MAX_DEVICES];
    int n = 0;
    r = parse_gpus(gpus_env ? gpus_env : "T4", models, &n);
    if (r != CUDA_SUCCESS)
        return r;

    char shm_name[NAME_MAX_LEN + 16];
    snprintf(shm_name, sizeof(shm_name), "/gvsim.%s", name);
    struct machine *m = NULL;
    for (int attempt = 0; attempt < 4 && !m; attempt++) {
        int fd = shm_open(shm_name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (ftruncate(fd, (off_t)sizeof(struct machine)) < 0) {
                r = os_error("cannot size", shm_name);
                close(fd);
                shm_unlink(shm_name);
                return r;
            }
            void *p = mmap(NULL, sizeof(struct machine), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            close(fd);
            if (p == MAP_FAILED) {
                r = os_error("cannot map", shm_name);
                shm_unlink(shm_name);
                return r;
            }
            m = p;
            init_machine(m, name, models, n);
            break;
        }
        if (errno != EEXIST)
            return os_error("cannot create", shm_name);
        fd = shm_open(shm_name, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0) {
            if (errno == ENOENT)
                continue; /* removed between our two opens: try creating again */
            return os_error("cannot open", shm_name);
        }
        /* The creator sizes the file right after creating it, and publishes the magic last. */
        uint64_t deadline = gv_now_ns() + PUBLISH_WAIT_NS;
        struct stat st;
        bool sized = false;
        while (fstat(fd, &st) == 0 && gv_now_ns() < deadline) {
            if (st.st_size != 0) {
                sized = true;
                break;
            }
            sleep_ms(1);
        }
        if (sized && st.st_size != (off_t)sizeof(struct machine)) {
            close(fd);
            fprintf(stderr,
                    "gpuvisor-sim: /dev/shm%s was made by another version of the simulator "
                    "(remove it, or choose another GPUVISOR_SIM_MACHINE)\n",
                    shm_name);
            return CUDA_ERROR_INVALID_VALUE;
        }
        void *p =
            sized ? mmap(NULL, sizeof(struct machine), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
        close(fd);
        if (p != MAP_FAILED) {
            struct machine *cand = p;
            while (atomic_load_explicit(&cand->magic, memory_order_acquire) != MACHINE_MAGIC &&
                   gv_now_ns() < deadline)
                sleep_ms(1);
            if (atomic_load_explicit(&cand->magic, memory_order_acquire) == MACHINE_MAGIC) {
                m = cand;
                break;
            }
            munmap(p, sizeof(struct machine));
        }
        /* Its creator died before publishing it: nobody can be using it, so start over. */
        shm_unlink(shm_name);
    }
    if (!m) {
        fprintf(stderr,
                "gpuvisor-sim: cannot set up /dev/shm%s (it keeps vanishing or never "
                "becomes ready)\n",
                shm_name);
        return CUDA_ERROR_OPERATING_SYSTEM;
    }
    if (m->version != MACHINE_VERSION || m->size != sizeof(struct machine) || m->ndev == 0 ||
        m->ndev > GVSIM_MAX_DEVICES) {
        munmap(m, sizeof(*m));
        fprintf(stderr,
                "gpuvisor-sim: /dev/shm%s was made by another version of the simulator (remove "
                "it, or choose another GPUVISOR_SIM_MACHINE)\n",
                shm_name);
        return CUDA_ERROR_INVALID_VALUE;
    }

    /* The machine's devices are fixed at creation; a process that names other devices would see a
     * machine that is not the one it asked for. */
    bool same = (int)m->ndev == n;
    for (int i = 0; same && i < n; i++)
        same = strcmp(m->dev[i].model, models[i]->name) == 0;
    char have[GVSIM_MAX_DEVICES * (MODEL_NAME_MAX + 1)] = "";
    for (uint32_t i = 0; i < m->ndev; i++) {
        if (i)
            strcat(have, ",");
        strncat(have, m->dev[i].model, MODEL_NAME_MAX - 1);
    }
    if (gpus_env && !same) {
        char why[sizeof(have) + 256];
        snprintf(why, sizeof(why),
                 "machine \"%s\" already exists with GPUs %s (unset the variable to use them, or "
                 "choose another GPUVISOR_SIM_MACHINE)",
                 name, have);
        munmap(m, sizeof(*m));
        return config_error("GPUVISOR_SIM_GPUS", gpus_env, why);
    }
    for (uint32_t i = 0; i < m->ndev; i++) {
        struct gv_error err = {0};
        const struct gv_model *model = gv_model_find(m->dev[i].model, &err);
        if (!model) {
            fprintf(stderr,
                    "gpuvisor-sim: machine \"%s\" has GPU model \"%s\", unknown to this "
                    "simulator (remove /dev/shm%s)\n",
                    name, m->dev[i].model, shm_name);
            munmap(m, sizeof(*m));
            return CUDA_ERROR_INVALID_VALUE;
        }
        fill_dev_info(name, (int)i, model, m->dev[i].total);
    }
    ndev = (int)m->ndev;
    M = m;
    return CUDA_SUCCESS;
}

static CUresult attach(bool user)
{
    pthread_mutex_lock(&attach_mu);
    CUresult r = CUDA_SUCCESS;
    if (!M) {
        r = map_machine();
        if (r == CUDA_SUCCESS) {
            static bool registered;
            if (!registered) {
                pthread_atfork(NULL, NULL, atfork_child);
                registered = true;
            }
            atomic_store(&attached, true);
        }
    }
    if (r == CUDA_SUCCESS && user && !atomic_load(&is_user)) {
        parse_visible();
        atomic_store(&is_user, true);
    }
    pthread_mutex_unlock(&attach_mu);
    if (r == CUDA_SUCCESS && user && take_slot() < 0)
        r = CUDA_ERROR_OUT_OF_MEMORY;
    return r;
}

CUresult gvsim_attach(void)
{
    return attach(true);
}

CUresult gvsim_attach_observer(void)
{
    return attach(false);
}

bool gvsim_attached(void)
{
    return atomic_load(&attached);
}

int gvsim_device_count(void)
{
    if (!M)
        return 0;
    return atomic_load(&is_user) && nvis >= 0 ? nvis : ndev;
}

const struct gvsim_dev_info *gvsim_dev(int index)
{
    index = phys(index);
    if (!M || index < 0 || index >= ndev)
        return NULL;
    return &devs[index];
}

static bool dev_ok(int dev)
{
    return M && dev >= 0 && dev < ndev;
}

/* ------------------------------------------------------------------ memory */

int gvsim_mem_charge(int dev, uint64_t bytes)
{
    dev = phys(dev);
    if (!dev_ok(dev))
        return -EINVAL;
    int s = take_slot();
    if (s < 0)
        return -ENOMEM;
    struct mdev *d = &M->dev[dev];
    for (int attempt = 0; attempt < 2; attempt++) {
        uint64_t used = atomic_load(&d->used);
        while (used <= d->total && bytes <= d->total - used)
            if (atomic_compare_exchange_weak(&d->used, &used, used + bytes)) {
                atomic_fetch_add(&M->slot[s].mem[dev], bytes);
                return 0;
            }
        /* Full: perhaps because a dead process still holds memory. */
        reclaim_dead();
    }
    return -ENOMEM;
}

void gvsim_mem_uncharge(int dev, uint64_t bytes)
{
    dev = phys(dev);
    int s = atomic_load(&my_slot);
    if (!dev_ok(dev) || s < 0 || my_pid != getpid())
        return;
    /* Never give back more than this process holds: a forked child freeing memory its parent
     * charged must not drain the parent's share of the device counter. */
    _Atomic uint64_t *held = &M->slot[s].mem[dev];
    uint64_t h = atomic_load(held), take;
    do
        take = h < bytes ? h : bytes;
    while (!atomic_compare_exchange_weak(held, &h, h - take));
    if (take)
        atomic_fetch_sub(&M->dev[dev].used, take);
}

void gvsim_mem_info(int dev, uint64_t *free_bytes, uint64_t *used_bytes, uint64_t *total)
{
    dev = phys(dev);
    uint64_t t = 0, u = 0;
    if (dev_ok(dev)) {
        reclaim_dead();
        t = M->dev[dev].total;
        u = atomic_load(&M->dev[dev].used);
        if (u > t)
            u = t;
    }
    if (free_bytes)
        *free_bytes = t - u;
    if (used_bytes)
        *used_bytes = u;
    if (total)
        *total = t;
}

int gvsim_dev_processes(int dev, struct gvsim_proc_usage *out, int cap)
{
    dev = phys(dev);
    if (!dev_ok(dev))
        return 0;
    reclaim_dead();
    int n = 0;
    for (int i = 0; i < GVSIM_MAX_PROCS; i++) {
        struct slot *s = &M->slot[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE)
            continue;
        uint64_t mem = atomic_load(&s->mem[dev]);
        bool ctx = atomic_load(&s->ctx_mask) & (1u << dev);
        if (!mem && !ctx)
            continue;
        if (out && n < cap) {
            out[n].pid = s->pid;
            out[n].mem = mem;
            out[n].busy_ns = atomic_load(&s->busy[dev]);
        }
        n++;
    }
    return n;
}

void gvsim_ctx_attach_dev(int dev)
{
    dev = phys(dev);
    int s = take_slot();
    if (dev_ok(dev) && s >= 0)
        atomic_fetch_or(&M->slot[s].ctx_mask, 1u << dev);
}

void gvsim_ctx_detach_dev(int dev)
{
    dev = phys(dev);
    int s = atomic_load(&my_slot);
    if (dev_ok(dev) && s >= 0 && my_pid == getpid())
        atomic_fetch_and(&M->slot[s].ctx_mask, ~(1u << dev));
}

/* ------------------------------------------------------------------ device time */

static void sample_push_locked(struct mdev *d, uint64_t t, uint64_t busy)
{
    d->ring[d->ring_pos % UTIL_SAMPLES] = (struct util_sample){t, busy};
    d->ring_pos++;
}

void gvsim_busy_add(int dev, uint64_t ns)
{
    dev = phys(dev);
    if (!dev_ok(dev) || !ns)
        return;
    int s = atomic_load(&my_slot);
    if (s >= 0 && my_pid == getpid())
        atomic_fetch_add(&M->slot[s].busy[dev], ns);
    struct mdev *d = &M->dev[dev];
    uint64_t before = atomic_fetch_add(&d->busy, ns);
    uint64_t now = gv_now_ns();
    atomic_store(&d->last_add_ns, now);
    uint64_t last = atomic_load(&d->last_sample_ns);
    /* One sample per period, pushed by whichever process wins the swap. */
    if (now - last >= UTIL_PERIOD_NS &&
        atomic_compare_exchange_strong(&d->last_sample_ns, &last, now)) {
        robust_lock(&M->lock);
        /* After a quiet spell, mark where the device went busy again, so that the window does not
         * average this burst over the idle time before it. */
        if (now - last > 2 * UTIL_PERIOD_NS && now > ns)
            sample_push_locked(d, now - ns, before);
        sample_push_locked(d, now, before + ns);
        pthread_mutex_unlock(&M->lock);
    }
}

unsigned gvsim_dev_utilization(int dev)
{
    dev = phys(dev);
    if (!dev_ok(dev))
        return 0;
    struct mdev *d = &M->dev[dev];
    uint64_t now = gv_now_ns();
    uint64_t busy_now = atomic_load(&d->busy);
    uint64_t from = now > UTIL_WINDOW_NS ? now - UTIL_WINDOW_NS : 0;
    struct util_sample before = {0, 0}, after = {0, 0};
    bool have_before = false, have_after = false;
    robust_lock(&M->lock);
    uint32_t n = d->ring_pos < UTIL_SAMPLES ? d->ring_pos : UTIL_SAMPLES;
    for (uint32_t k = 0; k < n; k++) {
        struct util_sample s = d->ring[(d->ring_pos - 1 - k) % UTIL_SAMPLES];
        if (s.t_ns > now)
            continue;
        if (s.t_ns <= from) {
            if (!have_before || s.t_ns > before.t_ns) {
                before = s;
                have_before = true;
            }
        } else if (!have_after || s.t_ns < after.t_ns) {
            after = s;
            have_after = true;
        }
    }
    pthread_mutex_unlock(&M->lock);
    /* The counter reached busy_now when it last grew and has stood still since: one more sample,
     * without which the end of a burst would be smeared over the quiet time after it. */
    uint64_t last_add = atomic_load(&d->last_add_ns);
    if (last_add && last_add <= now) {
        struct util_sample s = {last_add, busy_now};
        if (s.t_ns <= from) {
            if (!have_before || s.t_ns >= before.t_ns) {
                before = s;
                have_before = true;
            }
        } else if (!have_after || s.t_ns < after.t_ns) {
            after = s;
            have_after = true;
        }
    }
    uint64_t t0, b0;
    if (have_before && have_after) {
        /* Interpolate the busy counter at exactly one window ago. */
        double f = (double)(from - before.t_ns) / (double)(after.t_ns - before.t_ns);
        t0 = from;
        b0 = before.busy_ns + (uint64_t)(f * (double)(after.busy_ns - before.busy_ns));
    } else if (have_before) {
        t0 = before.t_ns;
        b0 = before.busy_ns;
    } else if (have_after) {
        t0 = after.t_ns;
        b0 = after.busy_ns;
    } else {
        return 0;
    }
    if (now <= t0 || busy_now <= b0)
        return 0;
    uint64_t pct = (busy_now - b0) * 100 / (now - t0);
    return pct > 100 ? 100u : (unsigned)pct;
}

/* ------------------------------------------------------------------ for the scheduler */

int gvsim_self_slot(void)
{
    return take_slot();
}

bool gvsim_slot_alive(int slot)
{
    if (!M || slot < 0 || slot >= GVSIM_MAX_PROCS)
        return false;
    if (own_slot(slot))
        return true;
    return slot_alive(&M->slot[slot]);
}

void gvsim_slot_want(int dev, bool want)
{
    dev = phys(dev);
    int s = take_slot();
    if (!dev_ok(dev) || s < 0)
        return;
    if (want)
        atomic_fetch_or(&M->slot[s].want_mask, 1u << dev);
    else
        atomic_fetch_and(&M->slot[s].want_mask, ~(1u << dev));
}

int gvsim_next_wanting(int dev, int after)
{
    dev = phys(dev);
    if (!dev_ok(dev))
        return -1;
    int start = after < 0 ? GVSIM_MAX_PROCS - 1 : after;
    for (int k = 1; k <= GVSIM_MAX_PROCS; k++) {
        int i = (start + k) % GVSIM_MAX_PROCS;
        if (i == after)
            continue;
        struct slot *s = &M->slot[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) == SLOT_LIVE &&
            (atomic_load(&s->want_mask) & (1u << dev)) && gvsim_slot_alive(i))
            return i;
    }
    return -1;
}

void *gvsim_sched_record(int dev)
{
    dev = phys(dev);
    return dev_ok(dev) ? M->dev[dev].sched : NULL;
}

void gvsim_sched_lock(int dev)
{
    dev = phys(dev);
    if (dev_ok(dev))
        robust_lock(&M->dev[dev].sched_lock);
}

void gvsim_sched_unlock(int dev)
{
    dev = phys(dev);
    if (dev_ok(dev))
        pthread_mutex_unlock(&M->dev[dev].sched_lock);
}
