/* SPDX-License-Identifier: Apache-2.0 */
/* sched.c: the GPU token of sched.h, a small shared record in its own file per GPU.
 *
 * The holder word names the holding process and the take that made it the holder, so a word seen
 * twice means the same tenure (no ABA), and the holder's start time and pid namespace sit next to
 * it for judging whether it is alive. The record's zero state is a free token, so opening is
 * O_CREAT and a reservation of the record's space, which many processes may do at once.
 *
 * Tokens are per user (in the user's private region directory), so without gpuvisord the limited
 * processes of two users could not take turns on one GPU: each user's would run as if alone, and
 * neither share would hold. Instead each user claims the GPU's time: a file
 * GVR_CLAIM_DIR/gpuvisor-gpu-<uuid>.<uid>, owned by the user, on which every process with a handle
 * holds a shared lock. The lock goes with the process, however it ends, so a claim is live exactly
 * while the user has limited processes on the GPU. A handle is refused while another user's claim
 * is live (its file cannot be locked exclusively); a file whose owner is not the uid in its name is
 * someone else's squat and counts for nothing. */
#include "region/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/futex.h"
#include "core/uuid.h"
#include "region/proc.h"
#include "region/region.h"

#define MAGIC   0x4448435352564731ULL /* "1GVRSCHD" */
#define NWANT   16
#define WANT_NS 1000000ULL /* a want stamp outlives its wait by this much */

/* The shared record. Invariants:
 *   - holder == 0: free. Otherwise bits 0-31 are the holder's pid and bits 32-63 the low bits of
 *     a number drawn from `takes` for its take (unique among recent takes); holder_start /
 * holder_ns / slice_end describe that holder and are written by it (or by a taker, right after its
 * compare-and-swap), so a reader that finds them inconsistent for a moment only delays a
 * takeover.
 *   - seq changes on every release and takeover (the futex word waiters sleep on).
 *   - takes grows by one for every attempt to take the token (successful or not).
 *   - want_pid[i] / want_until[i]: a process that waits for the token, and until when; stale
 *     entries (until in the past) mean nothing. */
struct record {
    _Atomic uint64_t magic; /* 0 in a new file, MAGIC once used; anything else: not ours */
    _Atomic uint64_t holder;
    _Atomic uint64_t holder_start;
    _Atomic uint64_t holder_ns;
    _Atomic uint64_t slice_end;
    _Atomic uint32_t spare; /* was a drain flag that shielded the holder; no longer read */
    _Atomic uint32_t seq;
    _Atomic uint64_t takes;
    _Atomic uint32_t want_pid[NWANT];
    _Atomic uint64_t want_until[NWANT];
};

static struct record *REC(const struct gvr_sched *s)
{
    return (struct record *)s->map;
}

static void identify(struct gvr_sched *s)
{
    char state;
    s->pid = getpid();
    if (gvr_proc_stat(s->pid, &state, &s->start) < 0)
        s->start = 0;
    s->pidns = gvr_proc_own_pidns();
    s->mine = 0;
}

#define CLAIM_PREFIX "gpuvisor-gpu-"

/* Whether another user's claim on GPU `u` (its UUID text) is live; its uid in *who. */
static bool claimed_by_other(const char *u, uid_t me, uid_t *who)
{
    char prefix[GV_UUID_TEXT + 32];
    size_t plen = (size_t)snprintf(prefix, sizeof(prefix), CLAIM_PREFIX "%s.", u);
    DIR *d = opendir(GVR_CLAIM_DIR);
    if (!d)
        return false;
    bool busy = false;
    struct dirent *e;
    while (!busy && (e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        char *end;
        unsigned long uid = strtoul(e->d_name + plen, &end, 10);
        if (*end || end == e->d_name + plen || uid == me)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == uid &&
            flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
            busy = true;
            *who = (uid_t)uid;
        }
        close(fd); /* also lets go of a stale claim locked just now */
    }
    closedir(d);
    return busy;
}

/* This user's claim on GPU `u`: an open file holding a shared lock, or -1 when the claim file
 * cannot be had (no GVR_CLAIM_DIR, or another user squats its name): then the handle goes on
 * without one, as a user alone on the machine would. -EBUSY while another user's claim is live. */
static int claim_gpu(const char *u, char path[96], struct gv_error *err)
{
    uid_t me = geteuid(), who = 0;
    snprintf(path, 96, GVR_CLAIM_DIR "/" CLAIM_PREFIX "%s.%u", u, (unsigned)me);
    int fd = -1;
    /* The lock must be on the file the name stands for: a last holder removes it on its way out
     * (gvr_sched_close), perhaps between our open and our lock. */
    for (int tries = 0; tries < 3 && fd < 0; tries++) {
        fd = open(path, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        struct stat st, named;
        if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != me || flock(fd, LOCK_SH) < 0)) {
            close(fd);
            fd = -1;
            break; /* squatted, or no locks here: go on without a claim */
        }
        if (fd >= 0 &&
            (stat(path, &named) < 0 || named.st_ino != st.st_ino || named.st_dev != st.st_dev)) {
            close(fd);
            fd = -1;
        }
    }
    /* Claimed first, looked second: of two users starting at once, at least one sees the other
     * (and both may refuse), never neither. */
    if (claimed_by_other(u, me, &who)) {
        if (fd >= 0)
            close(fd);
        return gv_error_set(err, -EBUSY,
                            "GPU %s: processes of user %u have compute shares on it; without "
                            "gpuvisord a GPU's time is shared by one user's processes at a time "
                            "(start gpuvisord to share it across users)",
                            u, (unsigned)who);
    }
    return fd;
}

int gvr_sched_open(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                   struct gv_error *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->claim = -1;
    const char *d = gvr_dir(dir);
    char path[PATH_MAX], u[GV_UUID_TEXT];
    gv_uuid_format(uuid, u);
    if ((size_t)snprintf(path, sizeof(path), "%s/.%s.sched", d, u) >= sizeof(path))
        return gv_error_set(err, -ENAMETOOLONG, "GPU token in %.200s: path too long", d);
    /* The token is the user's, in the user's directory, as the instances are: processes of
     * other users take turns on the GPU only through gpuvisord. */
    int dfd = gvr_dir_open(d, true, true, err);
    if (dfd < 0)
        return dfd;
    int fd = openat(dfd, path + strlen(d) + 1, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int open_errno = errno;
    close(dfd);
    if (fd < 0)
        return gv_error_set(err, -open_errno, "open GPU token %s: %s", path, strerror(open_errno));
    /* Every opener reserves the record's space (creators race harmlessly: the zero record is a
     * free token), so that one that made the file and could not fill it leaves no hole behind
     * that would be a SIGBUS in the next. */
    int rc = gvr_file_owned(fd, "GPU token", path, err);
    if (rc == 0)
        rc = gvr_file_reserve(fd, sizeof(struct record), "GPU token", path, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    void *map = mmap(NULL, sizeof(struct record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        int e = errno;
        close(fd);
        return gv_error_set(err, -e, "map GPU token %s: %s", path, strerror(e));
    }
    struct record *r = map;
    uint64_t m = 0;
    if (!atomic_compare_exchange_strong(&r->magic, &m, MAGIC) && m != MAGIC) {
        munmap(map, sizeof(struct record));
        close(fd);
        return gv_error_set(err, -EPROTO,
                            "%s is not a gpuvisor GPU token of this version: stop the GPU's "
                            "limited processes and remove it",
                            path);
    }
    int claim = claim_gpu(u, s->claim_path, err);
    if (claim < -1) {
        munmap(map, sizeof(struct record));
        close(fd);
        return claim;
    }
    s->map = map;
    s->fd = fd;
    s->claim = claim;
    identify(s);
    return 0;
}

void gvr_sched_close(struct gvr_sched *s)
{
    if (!s || !s->map)
        return;
    if (s->mine && s->pid == getpid())
        gvr_sched_release(s);
    munmap(s->map, sizeof(struct record));
    close(s->fd);
    gvr_sched_unclaim(s);
    s->map = NULL;
    s->fd = -1;
}

void gvr_sched_forked(struct gvr_sched *s)
{
    identify(s);
    /* The inherited descriptor shares its lock with the parent's: the child takes one of its own,
     * so that whichever of the two ends first cannot take the other's claim away. */
    if (s->claim >= 0) {
        int fd = open(s->claim_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0 && flock(fd, LOCK_SH) == 0) {
            close(s->claim);
            s->claim = fd;
        } else if (fd >= 0) {
            close(fd);
        }
    }
}

void gvr_sched_unclaim(struct gvr_sched *s)
{
    if (!s || s->claim < 0)
        return;
    /* Shared locks of the user's other processes keep an exclusive one from being had. */
    if (flock(s->claim, LOCK_EX | LOCK_NB) == 0)
        unlink(s->claim_path);
    close(s->claim);
    s->claim = -1;
}

/* Is the holder (word h) gone, judged from this process? Dead only on proof, as for members. */
static bool holder_dead(const struct gvr_sched *s, uint64_t h)
{
    struct record *r = REC(s);
    pid_t pid = (pid_t)(uint32_t)h;
    uint64_t start = atomic_load(&r->holder_start), ns = atomic_load(&r->holder_ns);
    if (atomic_load(&r->holder) != h)
        return false; /* changed hands meanwhile: judge again later */
    if (ns && s->pidns && ns != s->pidns)
        return false;
    return gvr_proc_gone(pid, start);
}

/* May the token be taken from holder h at `now`? */
static bool takeable(const struct gvr_sched *s, uint64_t h, uint64_t now, bool check_alive)
{
    struct record *r = REC(s);
    /* Live or dead, draining or not, in this pid namespace or another: a holder whose synchronize
     * does not finish must not keep the others waiting; it pays for its wait (shim/timeshare.c). */
    if (now > atomic_load(&r->slice_end) + GVR_SCHED_GRACE_NS)
        return true;
    return check_alive && holder_dead(s, h);
}

static void clear_want(struct record *r, pid_t pid)
{
    unsigned i = (unsigned)pid % NWANT;
    if (atomic_load(&r->want_pid[i]) == (uint32_t)pid)
        atomic_store(&r->want_until[i], 0);
}

bool gvr_sched_take(struct gvr_sched *s, uint64_t now, uint64_t slice_end, bool check_alive)
{
    struct record *r = REC(s);
    if (s->mine) {
        if (atomic_load(&r->holder) == s->mine)
            return true;
        s->mine = 0; /* taken over while this process was silent: it must wait its turn again */
    }
    for (int tries = 0; tries < 4; tries++) {
        uint64_t h = atomic_load(&r->holder);
        /* A taker writes its slice end and start time just after its compare-and-swap, so a
         * holder word seen for the first time may still carry its predecessor's: a takeover
         * needs the same word seen on an earlier call too (before this waiter's last wait). */
        bool seen = h && h == s->seen;
        s->seen = h;
        if (h && !(seen && takeable(s, h, now, check_alive)))
            return false;
        uint64_t t = atomic_fetch_add(&r->takes, 1) + 1;
        uint64_t mine = (t & 0xffffffffULL) << 32 | (uint32_t)s->pid;
        if (!atomic_compare_exchange_strong(&r->holder, &h, mine))
            continue;
        atomic_store(&r->slice_end, slice_end);
        atomic_store(&r->holder_start, s->start);
        atomic_store(&r->holder_ns, s->pidns);
        s->mine = mine;
        s->seen = 0;
        clear_want(r, s->pid);
        if (h) { /* taken over: the waiters judge afresh */
            atomic_fetch_add(&r->seq, 1);
            gv_futex_wake(&r->seq);
        }
        return true;
    }
    return false;
}

bool gvr_sched_held(const struct gvr_sched *s)
{
    return s->mine && atomic_load(&REC(s)->holder) == s->mine;
}

void gvr_sched_extend(struct gvr_sched *s, uint64_t slice_end)
{
    if (gvr_sched_held(s))
        atomic_store(&REC(s)->slice_end, slice_end);
}

uint64_t gvr_sched_tenure(const struct gvr_sched *s, uint64_t *start)
{
    *start = s->start;
    return s->mine;
}

uint64_t gvr_sched_holder_word(const struct gvr_sched *s)
{
    return atomic_load(&REC(s)->holder);
}

void gvr_sched_release(struct gvr_sched *s)
{
    struct record *r = REC(s);
    uint64_t h = s->mine;
    s->mine = 0;
    if (!h || !atomic_compare_exchange_strong(&r->holder, &h, 0))
        return;
    atomic_fetch_add(&r->seq, 1);
    gv_futex_wake(&r->seq);
}

bool gvr_sched_wait(struct gvr_sched *s, uint64_t now, uint64_t timeout_ns)
{
    struct record *r = REC(s);
    unsigned i = (unsigned)s->pid % NWANT;
    atomic_store(&r->want_pid[i], (uint32_t)s->pid);
    atomic_store(&r->want_until[i], now + timeout_ns + WANT_NS);
    uint32_t seq = atomic_load(&r->seq);
    if (!atomic_load(&r->holder))
        return true;
    gv_futex_wait(&r->seq, seq, timeout_ns);
    return atomic_load(&r->seq) != seq || gv_now_ns() < now + timeout_ns;
}

bool gvr_sched_wanted(const struct gvr_sched *s, uint64_t now)
{
    const struct record *r = REC(s);
    for (unsigned i = 0; i < NWANT; i++)
        if (atomic_load(&r->want_until[i]) > now &&
            atomic_load(&r->want_pid[i]) != (uint32_t)s->pid)
            return true;
    return false;
}

pid_t gvr_sched_holder(const struct gvr_sched *s)
{
    return (pid_t)(uint32_t)atomic_load(&REC(s)->holder);
}
