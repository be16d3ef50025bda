/* SPDX-License-Identifier: Apache-2.0 */
/* region.c: the instance region, a file in shared memory that many processes map at once.
 *
 * The idea: the ledger (core/) is the single counter that enforces the limit, and each member slot
 * counts what its process holds. A charge reserves in the ledger first and then adds to the slot;
 * an uncharge subtracts from the slot first and then releases in the ledger. So at every
 * instruction the ledger counts at least what the members hold (ledger >= sum of slots): a process
 * killed in between can only make the ledger count too much, which refuses memory but never lets
 * the instance pass its limit. Such excess is repaired by reconcile(), which waits for a moment
 * when no member is inside a charge and sets the ledger back to the sum of the slots. Each slot has
 * an `ops` word that says how many of its operations are in flight and how many have finished, so
 * that moment can be recognized without stopping anyone.
 *
 * Join and leave are lock-free (a compare-and-swap on a slot's owner word), so 64 processes
 * starting together do not queue. Reclaim and adding a GPU take the robust mutex; the holder's
 * death is seen by the next locker as EOWNERDEAD, which marks the ledger for reconciling and
 * carries on.
 *
 * Creation: the file is opened with O_CREAT; whoever takes the file's flock while the header's
 * magic is still 0 initializes it and publishes the magic last. Others read the magic first (no
 * lock at all in the common case) and wait on the flock only while the region is being made. flock
 * is released by the kernel when its holder dies, so a creator killed half-way is replaced by the
 * next opener. */
#include "region/region.h"
#include "region/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/clock.h"
#include "core/size.h"
#include "core/uuid.h"

#define MAGIC 0x4e4f494745525647ULL /* "GVREGION" in little-endian bytes */

/* The first 32 bytes, the same in every layout version, so that any gpuvisor can tell what a file
 * is. magic is 0 until the rest of the region is initialized, and is stored last. */
struct header {
    _Atomic uint64_t magic;
    uint32_t layout; /* GVR_LAYOUT of the code that made the file */
    uint32_t reserved0;
    uint64_t size; /* bytes of the whole layout */
    uint64_t reserved1;
};

/* A GPU of the instance. Entries [0, ndev) are complete; an entry is written fully before ndev
 * grows past it and is never removed, so an index stays valid for the region's life. Its memory
 * limit and usage live in the ledger at the same index. The GPU-time budget is shared by all
 * members (they take turns on the GPU, and their turns draw on it together); it is zero (a full
 * bucket) when the entry is made, and used only while share != 0. */
struct shared_device {
    uint8_t uuid[GVR_UUID_LEN];
    _Atomic uint32_t share; /* basis points; 0 = no compute limit */
    _Atomic uint32_t sched; /* enum gv_policy | enum gv_priority << 8 (0: guaranteed, normal) */
    struct gv_budget budget;
    _Atomic uint64_t waited_ns; /* time members' launches waited for the GPU, for tools */
};

/* owner word: bits 0-31 pid (0 = free), 32-47 hash of the pid namespace, 48-63 generation. The
 * generation grows each time the slot is freed, so a reader that sees the same word twice knows the
 * slot did not change hands in between. */
#define OWNER_PID(w)  ((pid_t)(uint32_t)(w))
#define OWNER_NS(w)   ((unsigned)(((w) >> 32) & 0xffff))
#define OWNER_GEN(w)  ((w) >> 48)
#define OWNER_FREE(w) ((OWNER_GEN(w) + 1) << 48)

/* ops word: bits 0-15 operations in flight (charges, uncharges, a leave), bits 16-63 operations
 * finished. It changes at the start and at the end of every operation on the slot and never returns
 * to an earlier value (short of 2^48 operations), so reading it twice equal, with no operation in
 * flight, proves the slot's counters and its share of the ledger did not move in between. */
#define OPS_INFLIGHT 0xffffULL
#define OPS_DONE     0x10000ULL

/* A member process. Free when OWNER_PID(owner) == 0; then bytes and context are all 0.
 * start is 0 while the member is joining (between the claim and the publication of its start time).
 * bytes[d] is what the member's allocations hold on device d, context[d] what its contexts hold
 * there; the ledger counts both (see the file comment), and only leave and reclaim take context[d]
 * back, so that an uncharge of allocations can never eat into it.
 */
struct shared_slot {
    _Alignas(64) _Atomic uint64_t owner;
    _Atomic uint64_t start; /* /proc/<pid>/stat field 22 */
    _Atomic uint64_t pidns; /* inode of the member's pid namespace, 0 if unknown */
    _Atomic uint64_t ops;
    _Atomic uint64_t bytes[GVR_MAX_DEVICES];
    _Atomic uint64_t context[GVR_MAX_DEVICES];
    /* Charges refused on device d: by the instance's limit, and by the driver out of memory
     * (the card is full). Counters for tools only; a free slot holds 0. */
    _Atomic uint64_t refused[GVR_MAX_DEVICES];
    _Atomic uint64_t driver_oom[GVR_MAX_DEVICES];
};

struct shared {
    struct header hdr;
    char name[GVR_NAME_MAX + 1];
    int64_t created_ns;
    _Atomic uint32_t ndev;
    _Atomic uint32_t removing; /* set only by gvr_remove, with the mutex held */
    _Atomic uint32_t retired;  /* set once by gvr_retire: every later charge is refused */
    _Atomic uint32_t dirty;    /* the ledger may count bytes no slot holds: reconcile when quiet */
    _Atomic uint64_t next_reclaim_ns; /* CLOCK_MONOTONIC time of the next due reclaim */
    _Alignas(64) pthread_mutex_t lock;
    struct shared_device dev[GVR_MAX_DEVICES];
    struct gv_ledger ledger;
    struct shared_slot slot[GVR_MAX_MEMBERS];
};

_Static_assert(sizeof(struct header) == 32, "the header is fixed across layout versions");
_Static_assert(offsetof(struct shared, hdr) == 0, "the header comes first");

#define INIT_WAIT_NS                                                                               \
    (5ULL * 1000000000ULL)            /* longest wait for another process's initialization         \
                                       */
#define RECONCILE_BUDGET_NS 200000ULL /* longest search for a quiet moment per reclaim */

static struct shared *SH(const struct gvr_region *r)
{
    return (struct shared *)r->map;
}

static uint32_t sched_word(const struct gvr_device_limit *lim)
{
    return (uint32_t)lim->policy | (uint32_t)lim->priority << 8;
}

/* The number of GPUs in the region. The file is shared and may be damaged, so the count read from
 * it is never trusted past the array it indexes: every reader goes through here. */
static unsigned ndev_of(const struct shared *sh)
{
    unsigned n = atomic_load_explicit(&sh->ndev, memory_order_acquire);
    return n < GVR_MAX_DEVICES ? n : GVR_MAX_DEVICES;
}

static void nap_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static unsigned ns_hash(uint64_t ns)
{
    return (unsigned)((ns ^ (ns >> 16) ^ (ns >> 32) ^ (ns >> 48)) & 0xffff);
}

/* ---- names and directories */

const char *gvr_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *env = getenv(GVR_DIR_ENV);
    if (env && *env)
        return env;
    /* Per user: in a directory shared by all users, another user could take an instance's name
     * first or write its files (a daemon is what may share a GPU among users). */
    static _Thread_local char def[sizeof(GVR_DEFAULT_DIR) + 16];
    snprintf(def, sizeof(def), GVR_DEFAULT_DIR "-%u", (unsigned)geteuid());
    return def;
}

#define ACROSS_USERS                                                                               \
    "without gpuvisord each Unix user keeps its instances in a directory of its own "              \
    "(default " GVR_DEFAULT_DIR "-<uid>); sharing a GPU among users' processes needs gpuvisord"

int gvr_dir_open(const char *d, bool create, bool write, struct gv_error *err)
{
    /* O_NOFOLLOW: a link planted where the directory should be could send this user's files
     * anywhere it can write, and owner checks on the target would not notice. */
    int fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(d, 0700) < 0 && errno != EEXIST)
            return gv_error_set(err, -errno, "create instance region directory %s: %s", d,
                                strerror(errno));
        fd = open(d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return gv_error_set(err, -ENOENT, "no instance region directory %s", d);
        if (e == ELOOP || e == ENOTDIR) {
            struct stat st;
            if (lstat(d, &st) == 0 && S_ISLNK(st.st_mode))
                return gv_error_set(err, -ELOOP,
                                    "instance region directory %s is a symbolic link: give the "
                                    "directory itself",
                                    d);
        }
        return gv_error_set(err, -e, "open instance region directory %s: %s", d, strerror(e));
    }
    if (!write)
        return fd;
    struct stat st;
    int rc = 0;
    uid_t me = geteuid();
    if (fstat(fd, &st) < 0)
        rc = gv_error_set(err, -errno, "instance region directory %s: %s", d, strerror(errno));
    else if (st.st_uid != me)
        rc = gv_error_set(err, -EPERM,
                          "instance region directory %s belongs to uid %u, not to this user (uid "
                          "%u): " ACROSS_USERS,
                          d, (unsigned)st.st_uid, (unsigned)me);
    else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        /* The default directory is ours to keep private; one the user named is left as it is,
         * and refused when every user may write in it. */
        char def[sizeof(GVR_DEFAULT_DIR) + 16];
        snprintf(def, sizeof(def), GVR_DEFAULT_DIR "-%u", (unsigned)me);
        if (strcmp(d, def) == 0) {
            if (fchmod(fd, 0700) < 0)
                rc = gv_error_set(err, -errno, "make %s private: %s", d, strerror(errno));
        } else if (st.st_mode & S_IWOTH) {
            rc = gv_error_set(err, -EPERM,
                              "instance region directory %s is writable by every user (mode "
                              "%04o): another user could take or change instances in it; use a "
                              "directory of your own (chmod 700 %s); " ACROSS_USERS,
                              d, (unsigned)(st.st_mode & 07777), d);
        }
    }
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

static int reserve(int fd, uint64_t size)
{
    /* fallocate, not posix_fallocate: where the file system cannot reserve, glibc's fallback
     * writes a zero byte into every block that reads as zero, which could overwrite a word
     * another process is changing in a live region. There the file is only extended, as it was
     * before (a full file system can then still cost a SIGBUS). */
    if (fallocate(fd, 0, 0, (off_t)size) == 0)
        return 0;
    int e = errno;
    if (e == EINTR)
        return reserve(fd, size);
    if (e != EOPNOTSUPP && e != ENOSYS)
        return -e;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((uint64_t)st.st_size < size && ftruncate(fd, (off_t)size) < 0)
        return -errno;
    return 0;
}

int gvr_file_reserve(int fd, uint64_t size, const char *what, const char *path,
                     struct gv_error *err)
{
    int rc = reserve(fd, size);
    if (rc == 0)
        return 0;
    if (rc == -ENOSPC || rc == -EDQUOT)
        return gv_error_set(err, rc,
                            "no room for %s %s: its file system is full (a container's /dev/shm "
                            "is often small and filled by data loaders: free space there, give "
                            "the container more, or set " GVR_DIR_ENV " to another directory)",
                            what, path);
    return gv_error_set(err, rc, "reserve space for %s %s: %s", what, path, strerror(-rc));
}

int gvr_file_owned(int fd, const char *what, const char *path, struct gv_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return gv_error_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
    if (st.st_uid != geteuid())
        return gv_error_set(err, -EPERM,
                            "%s %s belongs to uid %u, not to this user (uid %u): " ACROSS_USERS,
                            what, path, (unsigned)st.st_uid, (unsigned)geteuid());
    return 0;
}

static bool name_ok(const char *name)
{
    if (!name || !*name || !strcmp(name, ".") || !strcmp(name, ".."))
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok || n >= GVR_NAME_MAX)
            return false;
    }
    return true;
}

int gvr_name_check(const char *name, struct gv_error *err)
{
    if (name_ok(name))
        return 0;
    return gv_error_set(err, -EINVAL,
                        "instance name \"%.80s\" is not valid: use 1 to %d of A-Z a-z 0-9 _ . -",
                        name ? name : "(null)", GVR_NAME_MAX);
}

/* ---- processes */

/* Is the member (pid, start) alive, judged from this process? Dead only on proof: no such pid, a
 * zombie, or a pid whose start time is not the member's (reused). Anything unreadable counts as
 * alive, because wrongly reclaiming a live member's bytes could let the instance pass its limit. */
static enum gvr_liveness judge(const struct gvr_region *r, uint64_t owner, uint64_t start,
                               uint64_t pidns)
{
    pid_t pid = OWNER_PID(owner);
    if (r->pidns) {
        /* A joining member has not published its namespace yet; its owner word carries a hash. */
        bool same = pidns ? pidns == r->pidns : OWNER_NS(owner) == ns_hash(r->pidns);
        if (!same)
            return GVR_UNKNOWN;
    }
    if (pid == getpid())
        return GVR_ALIVE;
    return gvr_proc_gone(pid, start) ? GVR_DEAD : GVR_ALIVE;
}

/* ---- the mutex */

static bool unlinked(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_nlink == 0;
}

/* Critical sections are microseconds long, so a lock still held after LOCK_WAIT_S seconds is held
 * by a stopped process or a damaged file: give up with an error rather than hang a tenant. */
#define LOCK_WAIT_S 5

static int lock_region(const struct gvr_region *r, struct gv_error *err)
{
    struct shared *sh = SH(r);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += LOCK_WAIT_S;
    int rc = pthread_mutex_timedlock(&sh->lock, &until);
    if (rc == EOWNERDEAD) {
        /* The holder died inside a structural change. Every change is ordered so that what it can
         * leave behind is ledger bytes that no slot holds (fixed by reconcile) or a removal that
         * never finished: abandoned here if the file is still there; if it was unlinked, the flag
         * stays and keeps joiners off the dead file. */
        atomic_store(&sh->dirty, 1);
        if (!unlinked(r->fd))
            atomic_store(&sh->removing, 0);
        pthread_mutex_consistent(&sh->lock);
        rc = 0;
    }
    if (rc == ETIMEDOUT)
        return gv_error_set(err, -ETIMEDOUT,
                            "instance region %.64s: its lock has been held for %d s (a stopped "
                            "process, or a damaged file: remove it when no process uses it)",
                            sh->name, LOCK_WAIT_S);
    if (rc)
        return gv_error_set(err, -rc, "lock instance region %.64s: %s", sh->name, strerror(rc));
    return 0;
}

static void unlock_region(struct shared *sh)
{
    pthread_mutex_unlock(&sh->lock);
}

/* ---- creation and attachment */

static int init_region(int fd, const char *name, const struct gvr_device_limit *lim, unsigned n,
                       struct gv_error *err)
{
    /* Truncating to 0 first zeroes whatever a creator killed half-way had written. Nobody has the
     * file mapped yet: others map only after they see the magic. The space is reserved before the
     * mapping is touched: a page of a full tmpfs would otherwise be a SIGBUS. On failure the file
     * is left empty, to be made again by the next opener. */
    if (ftruncate(fd, 0) < 0)
        return gv_error_set(err, -errno, "size instance region %s: %s", name, strerror(errno));
    int rc = gvr_file_reserve(fd, sizeof(struct shared), "instance region", name, err);
    if (rc < 0) {
        if (ftruncate(fd, 0) < 0) { /* nothing more to undo: the message says why it failed */
        }
        return rc;
    }
    struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (sh == MAP_FAILED)
        return gv_error_set(err, -errno, "map instance region %s: %s", name, strerror(errno));
    sh->hdr.layout = GVR_LAYOUT;
    sh->hdr.size = sizeof(struct shared);
    snprintf(sh->name, sizeof(sh->name), "%s", name);
    sh->created_ns = (int64_t)gv_clock_ns(CLOCK_REALTIME);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    rc = pthread_mutex_init(&sh->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc) {
        munmap(sh, sizeof(*sh));
        return gv_error_set(err, -rc, "instance region %s: mutex: %s", name, strerror(rc));
    }
    gv_ledger_init(&sh->ledger);
    for (unsigned i = 0; i < n; i++) {
        memcpy(sh->dev[i].uuid, lim[i].uuid, GVR_UUID_LEN);
        atomic_init(&sh->dev[i].share, lim[i].share);
        atomic_init(&sh->dev[i].sched, sched_word(&lim[i]));
        gv_ledger_set_limit(&sh->ledger, i, lim[i].memory);
    }
    atomic_init(&sh->ndev, n);
    atomic_store_explicit(&sh->hdr.magic, MAGIC, memory_order_release);
    munmap(sh, sizeof(*sh));
    return 0;
}

/* Check a header read from a file; 1 = ready, 0 = not initialized yet, < 0 = not usable. */
static int check_header(const struct header *h, ssize_t got, off_t file_size, const char *path,
                        struct gv_error *err)
{
    if (got < (ssize_t)sizeof(*h) || h->magic == 0)
        return 0;
    if (h->magic != MAGIC)
        return gv_error_set(err, -EPROTO, "%s is not a gpuvisor instance region: remove it", path);
    if (h->layout != GVR_LAYOUT)
        return gv_error_set(
            err, -EPROTO,
            "%s has region layout version %u; this gpuvisor uses version %u: stop the "
            "instance's processes and remove the file, or use the gpuvisor that made it",
            path, h->layout, GVR_LAYOUT);
    if (h->size != sizeof(struct shared) || file_size < (off_t)h->size)
        return gv_error_set(
            err, -EPROTO,
            "%s: region size %llu (file %lld bytes), expected %zu: the file is damaged "
            "or from another build; remove it",
            path, (unsigned long long)h->size, (long long)file_size, sizeof(struct shared));
    return 1;
}

/* Wait until the file holds an initialized region, initializing it ourselves if nobody else is.
 * Returns 1 if this call initialized it, 0 if another did, < 0 on error. */
static int ready_region(int fd, bool rw, const char *path, const char *name,
                        const struct gvr_device_limit *lim, unsigned n, struct gv_error *err)
{
    uint64_t deadline = gv_now_ns() + INIT_WAIT_NS;
    for (;;) {
        struct header h;
        struct stat st;
        ssize_t got = pread(fd, &h, sizeof(h), 0);
        if (got < 0 || fstat(fd, &st) < 0)
            return gv_error_set(err, -errno, "read %s: %s", path, strerror(errno));
        int rc = check_header(&h, got, st.st_size, path, err);
        if (rc)
            return rc < 0 ? rc : 0;
        if (rw && flock(fd, LOCK_EX | LOCK_NB) == 0) {
            int made = 0;
            got = pread(fd, &h, sizeof(h), 0);
            if (got < (ssize_t)sizeof(h) || h.magic == 0) {
                rc = init_region(fd, name, lim, n, err);
                made = rc < 0 ? rc : 1;
            }
            flock(fd, LOCK_UN);
            if (made)
                return made;
            continue;
        }
        if (gv_now_ns() > deadline)
            return gv_error_set(err, -ETIMEDOUT,
                                "%s is still being initialized by another process after %llu s: if "
                                "that process is stopped, end it or remove the file",
                                path, INIT_WAIT_NS / 1000000000ULL);
        nap_us(100);
    }
}

static int limits_check(const struct gvr_device_limit *lim, unsigned n, struct gv_error *err)
{
    if (n && !lim)
        return gv_error_set(err, -EINVAL, "instance region: %u device limits but no array", n);
    if (n > GVR_MAX_DEVICES)
        return gv_error_set(err, -ENOSPC, "instance region: %u GPUs asked, at most %d", n,
                            GVR_MAX_DEVICES);
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < i; j++)
            if (!memcmp(lim[i].uuid, lim[j].uuid, GVR_UUID_LEN)) {
                char u[GV_UUID_TEXT];
                gv_uuid_format(lim[i].uuid, u);
                return gv_error_set(err, -EINVAL, "instance region: GPU %s is listed twice", u);
            }
    return 0;
}

static void unmap(struct gvr_region *r)
{
    if (r->map)
        munmap(r->map, r->size);
    if (r->fd >= 0)
        close(r->fd);
    r->map = NULL;
    r->fd = -1;
}

/* Wait for a removal in progress to end. The remover holds the mutex throughout. */
static void wait_removal(const struct gvr_region *r)
{
    if (lock_region(r, NULL) == 0)
        unlock_region(SH(r));
}

int gvr_open(struct gvr_region *r, const char *dir, const char *name, unsigned flags,
             const struct gvr_device_limit *limits, unsigned n, struct gv_error *err)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->slot = -1;
    int rc = gvr_name_check(name, err);
    if (rc)
        return rc;
    if ((flags & GVR_CREATE) && (flags & GVR_READONLY))
        return gv_error_set(err, -EINVAL, "instance region %s: cannot create read-only", name);
    if ((rc = limits_check(limits, n, err)))
        return rc;
    bool rw = !(flags & GVR_READONLY);
    const char *d = gvr_dir(dir);
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", d, name) >= sizeof(path))
        return gv_error_set(err, -ENAMETOOLONG, "instance region directory %.200s: path too long",
                            d);
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->readonly = !rw;
    r->pid = getpid();
    r->pidns = gvr_proc_own_pidns();
    char state;
    if (gvr_proc_stat(r->pid, &state, &r->start) < 0)
        r->start = 0; /* without /proc, reclaimers judge this member by its pid alone */

    uint64_t deadline = gv_now_ns() + INIT_WAIT_NS;
    int result = 0;
    for (;;) {
        int dfd = gvr_dir_open(d, flags & GVR_CREATE, rw, err);
        if (dfd == -ENOENT)
            return gv_error_set(err, -ENOENT, "no instance %s in %s", name, d);
        if (dfd < 0)
            return dfd;
        int oflags = (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW;
        if (flags & GVR_CREATE)
            oflags |= O_CREAT;
        r->fd = openat(dfd, name, oflags, 0600);
        int e = errno;
        close(dfd);
        if (r->fd < 0) {
            if (e == ENOENT)
                return gv_error_set(err, -ENOENT, "no instance %s in %s", name, d);
            return gv_error_set(err, -e, "open instance region %s: %s", path, strerror(e));
        }
        /* A file another user put there (squatting the name) is not joined. */
        if (rw && (rc = gvr_file_owned(r->fd, "instance region", path, err)) < 0) {
            unmap(r);
            return rc;
        }
        rc = ready_region(r->fd, rw, path, name, limits, n, err);
        if (rc < 0) {
            unmap(r);
            return rc;
        }
        result = rc ? GVR_CREATED : 0;
        r->size = sizeof(struct shared);
        /* Its maker reserved the file's space, but one that could not (an older gpuvisor's file,
         * on a file system that then filled up) would have holes that no page can fill: reserving
         * again costs nothing where all is there, and refuses the open where it is not. */
        if (rw && (rc = gvr_file_reserve(r->fd, r->size, "instance region", path, err)) < 0) {
            unmap(r);
            return rc;
        }
        r->map = mmap(NULL, r->size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, r->fd, 0);
        if (r->map == MAP_FAILED) {
            r->map = NULL;
            rc = gv_error_set(err, -errno, "map %s: %s", path, strerror(errno));
            unmap(r);
            return rc;
        }
        struct shared *sh = SH(r);
        if (atomic_load_explicit(&sh->hdr.magic, memory_order_acquire) != MAGIC) {
            unmap(r);
            return gv_error_set(err, -EPROTO, "%s changed while it was opened: try again", path);
        }
        /* A file being removed: wait for the remover, then open again (a fresh file if it went). */
        bool gone = unlinked(r->fd);
        if (!gone && rw && atomic_load(&sh->removing)) {
            wait_removal(r);
            gone = unlinked(r->fd);
        }
        if (!gone)
            break;
        unmap(r);
        if (gv_now_ns() > deadline)
            return gv_error_set(err, -ETIMEDOUT, "open %s: it is removed again and again", path);
        if (!(flags & GVR_CREATE))
            return gv_error_set(err, -ENOENT, "no instance %s in %s (just removed)", name, d);
    }

    if (!(result & GVR_CREATED) && n) {
        if (!rw) {
            gvr_close(r);
            return gv_error_set(err, -EROFS, "instance region %s: limits given to a read-only open",
                                name);
        }
        bool first = true;
        for (unsigned i = 0; i < n; i++) {
            bool differs = false;
            struct gv_error e2 = {0};
            rc = gvr_device_add(r, &limits[i], &differs, &e2);
            if (rc < 0) {
                gvr_close(r);
                if (err)
                    *err = e2;
                return rc;
            }
            if (differs && first) {
                struct gvr_device_limit have;
                gvr_device_get(r, (unsigned)rc, &have);
                char u[GV_UUID_TEXT], a[32], b[32];
                gv_uuid_format(have.uuid, u);
                gv_error_set(
                    err, 0,
                    "instance %s already has GPU %s with memory %s and share %u.%02u%%; "
                    "asked memory %s and share %u.%02u%%: the instance's limits are kept",
                    name, u, have.memory ? gv_size_format(have.memory, a, sizeof(a)) : "unlimited",
                    have.share / 100, have.share % 100,
                    limits[i].memory ? gv_size_format(limits[i].memory, b, sizeof(b)) : "unlimited",
                    limits[i].share / 100, limits[i].share % 100);
                first = false;
            }
            if (differs)
                result |= GVR_LIMITS_DIFFER;
        }
    }
    return result;
}

int gvr_open_fd(struct gvr_region *r, int fd, unsigned flags, struct gv_error *err)
{
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    r->slot = -1;
    if (flags & GVR_CREATE)
        return gv_error_set(err, -EINVAL, "instance region: a descriptor cannot create one");
    bool rw = !(flags & GVR_READONLY);
    char what[48];
    snprintf(what, sizeof(what), "descriptor %d", fd);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return gv_error_set(err, -EBADF, "instance region %s: not an open file", what);
    if (!S_ISREG(st.st_mode))
        return gv_error_set(err, -EPROTO, "%s is not a gpuvisor instance region (not a file)",
                            what);
    int mode = fcntl(fd, F_GETFL);
    if (rw && (mode < 0 || (mode & O_ACCMODE) == O_RDONLY))
        return gv_error_set(err, -EROFS, "instance region %s is open read-only", what);
    struct header h;
    ssize_t got = pread(fd, &h, sizeof(h), 0);
    if (got < 0)
        return gv_error_set(err, -errno, "read %s: %s", what, strerror(errno));
    int rc = check_header(&h, got, st.st_size, what, err);
    if (rc == 0)
        return gv_error_set(err, -EPROTO, "%s is not a gpuvisor instance region (no header)", what);
    if (rc < 0)
        return rc;
    r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (r->fd < 0)
        return gv_error_set(err, -errno, "instance region %s: %s", what, strerror(errno));
    r->size = sizeof(struct shared);
    r->map = mmap(NULL, r->size, rw ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, r->fd, 0);
    if (r->map == MAP_FAILED) {
        r->map = NULL;
        rc = gv_error_set(err, -errno, "map %s: %s", what, strerror(errno));
        unmap(r);
        return rc;
    }
    const struct shared *sh = SH(r);
    char name[GVR_NAME_MAX + 1];
    memcpy(name, sh->name, sizeof(name));
    name[GVR_NAME_MAX] = 0;
    if (!name_ok(name)) {
        unmap(r);
        return gv_error_set(err, -EPROTO, "%s: the region's instance name is damaged", what);
    }
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->readonly = !rw;
    r->pid = getpid();
    r->pidns = gvr_proc_own_pidns();
    char state;
    if (gvr_proc_stat(r->pid, &state, &r->start) < 0)
        r->start = 0;
    return 0;
}

void gvr_close(struct gvr_region *r)
{
    if (!r)
        return;
    if (r->map && r->slot >= 0 && r->pid == getpid())
        gvr_leave(r);
    r->slot = -1;
    unmap(r);
}

/* ---- devices */

int gvr_device_find(const struct gvr_region *r, const uint8_t uuid[GVR_UUID_LEN])
{
    const struct shared *sh = SH(r);
    unsigned n = ndev_of(sh);
    for (unsigned i = 0; i < n; i++)
        if (!memcmp(sh->dev[i].uuid, uuid, GVR_UUID_LEN))
            return (int)i;
    return -ENOENT;
}

unsigned gvr_device_count(const struct gvr_region *r)
{
    return ndev_of(SH(r));
}

int gvr_device_get(const struct gvr_region *r, unsigned dev, struct gvr_device_limit *out)
{
    const struct shared *sh = SH(r);
    if (dev >= gvr_device_count(r))
        return -EINVAL;
    memcpy(out->uuid, sh->dev[dev].uuid, GVR_UUID_LEN);
    out->memory = gv_ledger_limit(&sh->ledger, dev);
    out->share = atomic_load(&sh->dev[dev].share);
    uint32_t w = atomic_load(&sh->dev[dev].sched);
    out->policy = (uint8_t)(w & 0xff);
    out->priority = (uint8_t)(w >> 8 & 0xff);
    return 0;
}

int gvr_device_add(struct gvr_region *r, const struct gvr_device_limit *lim, bool *differs,
                   struct gv_error *err)
{
    struct shared *sh = SH(r);
    if (differs)
        *differs = false;
    if (r->readonly)
        return gv_error_set(err, -EROFS, "instance region %s is open read-only", r->name);
    int i = gvr_device_find(r, lim->uuid);
    if (i < 0) {
        int rc = lock_region(r, err);
        if (rc)
            return rc;
        i = gvr_device_find(r, lim->uuid);
        if (i < 0) {
            unsigned n = ndev_of(sh);
            if (n >= GVR_MAX_DEVICES) {
                unlock_region(sh);
                return gv_error_set(err, -ENOSPC,
                                    "instance %s already has %d GPUs, the most it can", r->name,
                                    GVR_MAX_DEVICES);
            }
            /* Entry n is invisible until ndev grows; a holder killed before that leaves it to be
             * written again by the next add. */
            memcpy(sh->dev[n].uuid, lim->uuid, GVR_UUID_LEN);
            atomic_store(&sh->dev[n].share, lim->share);
            atomic_store(&sh->dev[n].sched, sched_word(lim));
            gv_ledger_set_limit(&sh->ledger, n, lim->memory);
            atomic_store_explicit(&sh->ndev, n + 1, memory_order_release);
            unlock_region(sh);
            return (int)n;
        }
        unlock_region(sh);
    }
    if (differs)
        *differs = gv_ledger_limit(&sh->ledger, (unsigned)i) != lim->memory ||
                   atomic_load(&sh->dev[i].share) != lim->share ||
                   atomic_load(&sh->dev[i].sched) != sched_word(lim);
    return i;
}

int gvr_device_set(struct gvr_region *r, unsigned dev, uint64_t memory, uint32_t share)
{
    if (r->readonly)
        return -EROFS;
    if (dev >= gvr_device_count(r))
        return -EINVAL;
    gv_ledger_set_limit(&SH(r)->ledger, dev, memory);
    atomic_store(&SH(r)->dev[dev].share, share);
    return 0;
}

int gvr_policy_set(struct gvr_region *r, unsigned dev, enum gv_policy policy,
                   enum gv_priority priority)
{
    if (r->readonly)
        return -EROFS;
    if (dev >= gvr_device_count(r) || (unsigned)policy > GV_POLICY_BEST_EFFORT ||
        (unsigned)priority > GV_PRIORITY_LOW)
        return -EINVAL;
    atomic_store(&SH(r)->dev[dev].sched, (uint32_t)policy | (uint32_t)priority << 8);
    return 0;
}

void gvr_policy(const struct gvr_region *r, unsigned dev, enum gv_policy *policy,
                enum gv_priority *priority)
{
    uint32_t w = dev < gvr_device_count(r) ? atomic_load(&SH(r)->dev[dev].sched) : 0;
    /* The file is shared: a value this code does not know reads as the default. */
    *policy = (w & 0xff) <= GV_POLICY_BEST_EFFORT ? (enum gv_policy)(w & 0xff)
                                                  : GV_POLICY_GUARANTEED;
    *priority = (w >> 8 & 0xff) <= GV_PRIORITY_LOW ? (enum gv_priority)(w >> 8 & 0xff)
                                                   : GV_PRIORITY_NORMAL;
}

uint64_t gvr_used(const struct gvr_region *r, unsigned dev)
{
    return dev < gvr_device_count(r) ? gv_ledger_used(&SH(r)->ledger, dev) : 0;
}

uint64_t gvr_limit(const struct gvr_region *r, unsigned dev)
{
    return dev < gvr_device_count(r) ? gv_ledger_limit(&SH(r)->ledger, dev) : 0;
}

uint64_t gvr_available(const struct gvr_region *r, unsigned dev)
{
    return dev < gvr_device_count(r) ? gv_ledger_available(&SH(r)->ledger, dev) : 0;
}

struct gv_budget *gvr_budget(const struct gvr_region *r, unsigned dev)
{
    if (r->readonly || dev >= gvr_device_count(r))
        return NULL;
    return &SH(r)->dev[dev].budget;
}

uint32_t gvr_share(const struct gvr_region *r, unsigned dev)
{
    return dev < gvr_device_count(r) ? atomic_load(&SH(r)->dev[dev].share) : 0;
}

/* ---- membership */

/* Give a slot's bytes back and free it. The caller is the slot's own process (leave) or a reclaimer
 * holding the mutex whose member is dead. Bytes leave the slot before the ledger, so dying in
 * between leaves the ledger too high (repaired by reconcile), never too low; the owner word is
 * freed last, so a joiner never sees a free slot with bytes in it. */
static void free_slot(struct shared *sh, struct shared_slot *s, uint64_t owner)
{
    for (unsigned d = 0; d < GVR_MAX_DEVICES; d++) {
        uint64_t b = atomic_exchange(&s->bytes[d], 0) + atomic_exchange(&s->context[d], 0);
        if (b && gv_ledger_release(&sh->ledger, d, b) < 0)
            atomic_store(&sh->dirty, 1);
        atomic_store(&s->refused[d], 0);
        atomic_store(&s->driver_oom[d], 0);
    }
    atomic_store(&s->start, 0);
    atomic_store(&s->pidns, 0);
    /* Clear operations left in flight by a dead member and count one more finished, so the word
     * still never returns to an earlier value. */
    uint64_t ops = atomic_load(&s->ops);
    atomic_store(&s->ops, (ops & ~OPS_INFLIGHT) + OPS_DONE);
    atomic_store_explicit(&s->owner, OWNER_FREE(owner), memory_order_release);
}

static int claim_slot(struct shared *sh, pid_t pid, unsigned nshash)
{
    /* Start at a place that depends on the pid, so that processes starting together spread over the
     * slots instead of all fighting for the first free one. */
    unsigned first = (unsigned)pid % GVR_MAX_MEMBERS;
    for (unsigned k = 0; k < GVR_MAX_MEMBERS; k++) {
        unsigned i = (first + k) % GVR_MAX_MEMBERS;
        struct shared_slot *s = &sh->slot[i];
        uint64_t w = atomic_load(&s->owner);
        if (OWNER_PID(w))
            continue;
        uint64_t mine = (OWNER_GEN(w) << 48) | ((uint64_t)nshash << 32) | (uint32_t)pid;
        if (atomic_compare_exchange_strong(&s->owner, &w, mine))
            return (int)i;
    }
    return -ENOSPC;
}

/* Free the slots held by this very process (same pid, start time and namespace) through another
 * handle or from before an exec(). Nobody else changes them: reclaimers see them alive. */
static void replace_own(struct shared *sh, const struct gvr_region *r, pid_t pid)
{
    for (unsigned i = 0; i < GVR_MAX_MEMBERS; i++) {
        struct shared_slot *s = &sh->slot[i];
        uint64_t w = atomic_load(&s->owner);
        if (OWNER_PID(w) != pid || atomic_load(&s->start) != r->start ||
            atomic_load(&s->pidns) != r->pidns)
            continue;
        atomic_fetch_add(&s->ops, 1);
        free_slot(sh, s, w);
    }
}

int gvr_join_flags(struct gvr_region *r, unsigned flags, struct gv_error *err)
{
    struct shared *sh = SH(r);
    if (!r->map)
        return gv_error_set(err, -EINVAL, "instance region: join on a closed handle");
    if (r->readonly)
        return gv_error_set(err, -EROFS, "instance region %s is open read-only", r->name);
    if (r->slot >= 0)
        return gv_error_set(err, -EALREADY, "already a member of instance %s", r->name);
    pid_t pid = getpid();
    if (pid != r->pid) { /* forked since the open: this is another process */
        char state;
        r->pid = pid;
        if (gvr_proc_stat(pid, &state, &r->start) < 0)
            r->start = 0;
    }
    uint64_t start = r->start;
    unsigned nshash = ns_hash(r->pidns);
    if ((flags & GVR_JOIN_REPLACE) && start)
        replace_own(sh, r, pid);
    bool reclaimed = false;
    for (int tries = 0; tries < 100; tries++) {
        int i = claim_slot(sh, pid, nshash);
        if (i < 0) {
            if (!reclaimed && gvr_reclaim(r, NULL) > 0) {
                reclaimed = true;
                continue;
            }
            return gv_error_set(err, -ENOSPC,
                                "instance %s has %d live member processes, the most it can hold",
                                r->name, GVR_MAX_MEMBERS);
        }
        struct shared_slot *s = &sh->slot[i];
        atomic_store(&s->pidns, r->pidns);
        atomic_store(&s->start, start);
        /* Pairs with gvr_remove, which sets `removing` and then looks for members: either it sees
         * this slot taken, or this load sees its flag (both sequentially consistent). */
        if (!atomic_load(&sh->removing)) {
            r->slot = i;
            return 0;
        }
        free_slot(sh, s, atomic_load(&s->owner));
        wait_removal(r);
        if (unlinked(r->fd))
            break;
    }
    return gv_error_set(err, -ESTALE, "instance %s was removed while joining: open it again",
                        r->name);
}

int gvr_join(struct gvr_region *r, struct gv_error *err)
{
    return gvr_join_flags(r, 0, err);
}

int gvr_join_after_fork(struct gvr_region *r, struct gv_error *err)
{
    r->slot = -1; /* the parent's; gvr_join sees the new pid and reads its start time */
    return gvr_join(r, err);
}

int gvr_leave(struct gvr_region *r)
{
    if (!r->map || r->slot < 0 || r->pid != getpid())
        return -EINVAL; /* a forked child must not free its parent's slot */
    struct shared *sh = SH(r);
    struct shared_slot *s = &sh->slot[r->slot];
    /* Marked in flight, so that a death half-way through is seen by reclaim as a reason to
     * reconcile the ledger. */
    atomic_fetch_add(&s->ops, 1);
    free_slot(sh, s, atomic_load(&s->owner));
    r->slot = -1;
    return 0;
}

/* ---- the hot path */

/* Reserve in the ledger, then add to the slot's allocations or context counter, inside one counted
 * operation: allocations and context memory follow the same protocol, so reconcile and a death
 * half-way treat them alike. */
static inline int charge_to(struct gvr_region *r, unsigned dev, uint64_t bytes, bool context)
{
    if (r->slot < 0)
        return -EPERM;
    struct shared *sh = SH(r);
    if (dev >= ndev_of(sh))
        return -EINVAL;
    if (atomic_load_explicit(&sh->retired, memory_order_relaxed))
        return -ESHUTDOWN;
    struct shared_slot *s = &sh->slot[r->slot];
    atomic_fetch_add(&s->ops, 1);
    int rc = gv_ledger_reserve(&sh->ledger, dev, bytes);
    if (rc == 0)
        atomic_fetch_add(context ? &s->context[dev] : &s->bytes[dev], bytes);
    atomic_fetch_add(&s->ops, OPS_DONE - 1);
    return rc;
}

int gvr_charge(struct gvr_region *r, unsigned dev, uint64_t bytes)
{
    return charge_to(r, dev, bytes, false);
}

int gvr_uncharge(struct gvr_region *r, unsigned dev, uint64_t bytes)
{
    if (r->slot < 0)
        return -EPERM;
    struct shared *sh = SH(r);
    if (dev >= ndev_of(sh))
        return -EINVAL;
    struct shared_slot *s = &sh->slot[r->slot];
    int rc = 0;
    atomic_fetch_add(&s->ops, 1);
    uint64_t held = atomic_load(&s->bytes[dev]);
    do {
        if (bytes > held) {
            rc = -ERANGE;
            goto out;
        }
    } while (!atomic_compare_exchange_weak(&s->bytes[dev], &held, held - bytes));
    /* Cannot fail while ledger >= sum of slots holds; if it ever did, reconcile repairs it. */
    if (gv_ledger_release(&sh->ledger, dev, bytes) < 0)
        atomic_store(&sh->dirty, 1);
out:
    atomic_fetch_add(&s->ops, OPS_DONE - 1);
    return rc;
}

uint64_t gvr_member_used(const struct gvr_region *r, unsigned dev)
{
    if (r->slot < 0 || dev >= GVR_MAX_DEVICES)
        return 0;
    return atomic_load(&SH(r)->slot[r->slot].bytes[dev]);
}

int gvr_charge_context(struct gvr_region *r, unsigned dev, uint64_t bytes)
{
    return charge_to(r, dev, bytes, true);
}

uint64_t gvr_member_context(const struct gvr_region *r, unsigned dev)
{
    if (r->slot < 0 || dev >= GVR_MAX_DEVICES)
        return 0;
    return atomic_load(&SH(r)->slot[r->slot].context[dev]);
}

int gvr_count_refusal(struct gvr_region *r, unsigned dev, enum gvr_refusal why)
{
    if (r->slot < 0 || r->readonly)
        return -EPERM;
    if (dev >= GVR_MAX_DEVICES)
        return -EINVAL;
    struct shared_slot *s = &SH(r)->slot[r->slot];
    atomic_fetch_add(why == GVR_REFUSED_DRIVER ? &s->driver_oom[dev] : &s->refused[dev], 1);
    return 0;
}

uint64_t gvr_member_refusals(const struct gvr_region *r, unsigned dev, enum gvr_refusal why)
{
    if (r->slot < 0 || dev >= GVR_MAX_DEVICES)
        return 0;
    const struct shared_slot *s = &SH(r)->slot[r->slot];
    return atomic_load(why == GVR_REFUSED_DRIVER ? &s->driver_oom[dev] : &s->refused[dev]);
}

/* ---- reclaim */

/* Set each device's ledger back to the sum of the slots' counters, at a moment when no member is
 * inside an operation: the `ops` words read before and after the sums are equal and show nothing in
 * flight. Only bytes the ledger counts beyond the slots are released; the ledger can never count
 * less (see the file comment). Free slots hold no bytes, so only taken slots are summed; a slot
 * taken or freed meanwhile changes its ops word or holds nothing. The search for such a moment is
 * bounded by RECONCILE_BUDGET_NS, because the mutex is held and a failed charge may be waiting:
 * when members charge without pause it may fail, and the next reclaim tries again; meanwhile the
 * excess only refuses memory. Returns true when done. Mutex held. */
static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static bool reconcile(struct shared *sh)
{
    unsigned ndev = ndev_of(sh);
    uint64_t ops[GVR_MAX_MEMBERS];
    uint64_t deadline = gv_now_ns() + RECONCILE_BUDGET_NS;
    for (unsigned attempt = 0;; attempt++) {
        if (attempt) {
            if ((attempt & 15) == 0 && gv_now_ns() > deadline)
                return false;
            for (int k = 0; k < 32; k++)
                relax();
        }
        bool quiet = true;
        for (unsigned i = 0; i < GVR_MAX_MEMBERS && quiet; i++) {
            ops[i] = atomic_load(&sh->slot[i].ops);
            quiet = !(ops[i] & OPS_INFLIGHT);
        }
        if (!quiet)
            continue;
        uint64_t used[GVR_MAX_DEVICES], held[GVR_MAX_DEVICES] = {0};
        for (unsigned d = 0; d < ndev; d++)
            used[d] = gv_ledger_used(&sh->ledger, d);
        for (unsigned i = 0; i < GVR_MAX_MEMBERS; i++) {
            const struct shared_slot *s = &sh->slot[i];
            if (!OWNER_PID(atomic_load(&s->owner)))
                continue;
            for (unsigned d = 0; d < ndev; d++)
                held[d] += atomic_load(&s->bytes[d]) + atomic_load(&s->context[d]);
        }
        for (unsigned i = 0; i < GVR_MAX_MEMBERS && quiet; i++)
            quiet = atomic_load(&sh->slot[i].ops) == ops[i];
        if (!quiet)
            continue;
        for (unsigned d = 0; d < ndev; d++)
            if (used[d] > held[d])
                gv_ledger_release(&sh->ledger, d, used[d] - held[d]);
        atomic_store(&sh->dirty, 0);
        return true;
    }
}

/* Free the slots of dead members. Mutex held. */
static int reclaim_locked(struct gvr_region *r)
{
    struct shared *sh = SH(r);
    int count = 0;
    for (unsigned i = 0; i < GVR_MAX_MEMBERS; i++) {
        struct shared_slot *s = &sh->slot[i];
        uint64_t w = atomic_load(&s->owner);
        if (!OWNER_PID(w))
            continue;
        uint64_t start = atomic_load(&s->start), pidns = atomic_load(&s->pidns);
        /* Only the member itself and reclaimers (who hold the mutex) change a taken slot; if the
         * owner word is unchanged, start and pidns belong to it. */
        if (atomic_load(&s->owner) != w)
            continue;
        if (judge(r, w, start, pidns) != GVR_DEAD)
            continue;
        /* Dead in the middle of an operation: the ledger may count bytes the slot does not. */
        if (atomic_load(&s->ops) & OPS_INFLIGHT)
            atomic_store(&sh->dirty, 1);
        free_slot(sh, s, w);
        count++;
    }
    return count;
}

int gvr_reclaim(struct gvr_region *r, struct gv_error *err)
{
    if (!r->map)
        return gv_error_set(err, -EINVAL, "instance region: reclaim on a closed handle");
    if (r->readonly)
        return gv_error_set(err, -EROFS, "instance region %s is open read-only", r->name);
    struct shared *sh = SH(r);
    int rc = lock_region(r, err);
    if (rc)
        return rc;
    int count = reclaim_locked(r);
    if (atomic_load(&sh->dirty))
        reconcile(sh);
    unlock_region(sh);
    return count;
}

int gvr_reclaim_if_due(struct gvr_region *r, uint64_t period_ns, struct gv_error *err)
{
    if (!r->map || r->readonly)
        return gvr_reclaim(r, err);
    struct shared *sh = SH(r);
    uint64_t now = gv_now_ns();
    uint64_t due = atomic_load_explicit(&sh->next_reclaim_ns, memory_order_relaxed);
    if (now < due)
        return 0;
    if (!atomic_compare_exchange_strong(&sh->next_reclaim_ns, &due, now + period_ns))
        return 0; /* another process won this period */
    return gvr_reclaim(r, err);
}

/* ---- tools */

int gvr_snapshot(const struct gvr_region *r, struct gvr_snapshot *s)
{
    const struct shared *sh = SH(r);
    memset(s, 0, sizeof(*s));
    memcpy(s->name, sh->name, sizeof(s->name));
    s->name[GVR_NAME_MAX] = 0;
    s->created_ns = sh->created_ns;
    s->ndev = gvr_device_count(r);
    uint64_t mono = gv_now_ns();
    for (unsigned d = 0; d < s->ndev; d++) {
        memcpy(s->dev[d].uuid, sh->dev[d].uuid, GVR_UUID_LEN);
        s->dev[d].limit = gv_ledger_limit(&sh->ledger, d);
        s->dev[d].used = gv_ledger_used(&sh->ledger, d);
        s->dev[d].share = atomic_load(&sh->dev[d].share);
        enum gv_policy pol;
        enum gv_priority pri;
        gvr_policy(r, d, &pol, &pri);
        s->dev[d].policy = pol;
        s->dev[d].priority = pri;
        s->dev[d].busy_recent_ns = gv_budget_recent(&sh->dev[d].budget, mono);
        s->dev[d].busy_total_ns = gv_budget_total(&sh->dev[d].budget);
        s->dev[d].waited_total_ns = atomic_load(&sh->dev[d].waited_ns);
    }
    s->retired = atomic_load(&sh->retired) != 0;
    for (unsigned i = 0; i < GVR_MAX_MEMBERS; i++) {
        const struct shared_slot *slot = &sh->slot[i];
        uint64_t w = atomic_load(&slot->owner);
        if (!OWNER_PID(w))
            continue;
        unsigned m = s->nmember++;
        s->member[m].pid = OWNER_PID(w);
        s->member[m].start = atomic_load(&slot->start);
        for (unsigned d = 0; d < s->ndev; d++) {
            s->member[m].bytes[d] = atomic_load(&slot->bytes[d]);
            s->member[m].context[d] = atomic_load(&slot->context[d]);
            s->member[m].refused[d] = atomic_load(&slot->refused[d]);
            s->member[m].driver_oom[d] = atomic_load(&slot->driver_oom[d]);
        }
        s->member[m].alive = judge(r, w, s->member[m].start, atomic_load(&slot->pidns));
    }
    return 0;
}

int gvr_list(const char *dir, int (*fn)(const char *name, void *arg), void *arg,
             struct gv_error *err)
{
    const char *d = gvr_dir(dir);
    DIR *dp = opendir(d);
    if (!dp) {
        if (errno == ENOENT)
            return 0;
        return gv_error_set(err, -errno, "list instance regions in %s: %s", d, strerror(errno));
    }
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(dp))) {
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
            continue;
        if (!name_ok(e->d_name) || e->d_name[0] == '.')
            continue;
        rc = fn(e->d_name, arg);
    }
    closedir(dp);
    return rc;
}

int gvr_remove(const char *dir, const char *name, struct gv_error *err)
{
    struct gvr_region r;
    int rc = gvr_open(&r, dir, name, 0, NULL, 0, err);
    if (rc < 0)
        return rc;
    struct shared *sh = SH(&r);
    if ((rc = lock_region(&r, err))) {
        gvr_close(&r);
        return rc;
    }
    atomic_store(&sh->removing, 1);
    reclaim_locked(&r);
    unsigned live = 0;
    pid_t one = 0;
    for (unsigned i = 0; i < GVR_MAX_MEMBERS; i++) {
        uint64_t w = atomic_load(&sh->slot[i].owner);
        if (OWNER_PID(w)) {
            live++;
            one = OWNER_PID(w);
        }
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", gvr_dir(dir), name);
    if (live) {
        rc = gv_error_set(err, -EBUSY,
                          "instance %s has %u live member process%s (pid %d): stop them first",
                          name, live, live > 1 ? "es" : "", (int)one);
    } else if (unlink(path) < 0) {
        rc = gv_error_set(err, -errno, "remove %s: %s", path, strerror(errno));
    }
    /* After an unlink the flag stays: the file is gone for new openers, and handles still mapping
     * it see it unlinked. */
    if (rc)
        atomic_store(&sh->removing, 0);
    unlock_region(sh);
    gvr_close(&r);
    return rc;
}

int gvr_retire(const char *dir, const char *name, struct gv_error *err)
{
    struct gvr_region r;
    int rc = gvr_open(&r, dir, name, 0, NULL, 0, err);
    if (rc < 0)
        return rc;
    struct shared *sh = SH(&r);
    atomic_store(&sh->retired, 1);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", gvr_dir(dir), name);
    rc = 0;
    if (unlink(path) < 0)
        rc = gv_error_set(err, -errno, "remove %s: %s", path, strerror(errno));
    gvr_close(&r);
    return rc;
}

bool gvr_retired(const struct gvr_region *r)
{
    return r->map && atomic_load(&SH(r)->retired) != 0;
}

void gvr_count_wait(struct gvr_region *r, unsigned dev, uint64_t ns)
{
    struct shared *sh = SH(r);
    if (r->readonly || dev >= ndev_of(sh))
        return;
    atomic_fetch_add(&sh->dev[dev].waited_ns, ns);
}

int gvr_testhook_lock(struct gvr_region *r)
{
    if (r->readonly)
        return -EROFS;
    return lock_region(r, NULL);
}
