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
 * someone else's squat and counts for nothing. A claim file left behind by processes that did not
 * end normally is removed by the next open that finds nobody holding it.
 *
 * The mechanism (take, release, the line) is written once, for a peer: the calling process itself
 * without a daemon, or a process on whose behalf gpuvisord acts. In gpuvisord's mode the calling
 * process keeps the record mapped read-only and turns each change into a request on its
 * connection; a lost connection is a lost token, and the handle connects again when next asked to
 * take it, so a restarted daemon is found within GVR_SCHED_RECONNECT_NS. */
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
#include "core/policy.h"
#include "core/uuid.h"
#include "region/daemon.h"
#include "region/proc.h"
#include "region/region.h"

#define MAGIC   0x4448435352564731ULL /* "1GVRSCHD" */
#define NWANT   16
#define WANT_NS 1000000ULL /* a want stamp outlives its wait by this much */

/* The shared record. Invariants:
 *   - holder == 0: free. Otherwise bits 0-31 are the holder's pid, bits 32-62 the low bits of a
 *     number drawn from `takes` for its take (unique among recent takes), and bit 63 (IDLE) is set
 *     while the holder has no work on the GPU: then anyone may take the token at once, and the
 *     holder gets it back only by a compare-and-swap of the same word without the bit. holder_start
 * / holder_ns / slice_end describe that holder and are written by it (or by a taker, right after
 *     its compare-and-swap), so a reader that finds them inconsistent for a moment only delays a
 *     takeover.
 *   - seq changes on every release, takeover and idling (the futex word waiters sleep on).
 *   - takes grows by one for every attempt to take the token (successful or not).
 *   - want_pid[i] / want_key[i] / want_until[i]: a process that waits for the token, its key
 *     (core/policy.h: lower goes first), and until when; stale entries (until in the past) mean
 *     nothing.
 *   - vclock[c]: per class of keys (priority and policy class, CLASS(key)), the virtual time of the
 *     latest take or renewal of that class, never going back: an instance that comes back from
 *     idling starts no further behind it than one turn (core/policy.h). Per class, since virtual
 *     times of different classes do not compare: a higher priority's would drag the lower ones'.
 *   - demand_until: until when a process with a compute limit wants or holds the token; processes
 *     without one take turns only while it is ahead.
 *   - holder_key: the holder's key (written at its take); cut: when it equals the holder word, a
 *     waiter of a higher priority or a better class stands in line, and the holder gives the token
 *     up at its next launch rather than at the end of its slice.
 * The fields after `want_until` came later: a record of the earlier layout, which ends there, is
 * grown by the next opener and reads as zero (no key, no clock, no demand). */
struct record {
    _Atomic uint64_t magic; /* 0 in a new file, MAGIC once used; anything else: not ours */
    _Atomic uint64_t holder;
    _Atomic uint64_t holder_start;
    _Atomic uint64_t holder_ns;
    _Atomic uint64_t slice_end;
    /* The holder's slice length in microseconds, written with slice_end (0, as in a record of an
     * earlier version: GVR_SCHED_SLICE_NS). A holder past its slice end by twice it is taken over. */
    _Atomic uint32_t slice_us;
    _Atomic uint32_t seq;
    _Atomic uint64_t takes;
    _Atomic uint32_t want_pid[NWANT];
    _Atomic uint64_t want_until[NWANT];
    _Atomic uint64_t want_key[NWANT];
    _Atomic uint64_t vclock[8];
    _Atomic uint64_t demand_until;
    _Atomic uint64_t holder_key; /* the holder's key at its take */
    _Atomic uint64_t cut;        /* a holder word: that holder ends its turn at its next launch */
};

/* Keys whose priority and class (bits 61-63) differ: a waiter of a better class need not wait for
 * the holder's slice to end. */
#define CLASS(key) ((key) >> 61)

#define IDLE      (1ULL << 63)
#define TAKE_MASK 0x7fffffffULL

static struct record *REC(const struct gvr_sched *s)
{
    return (struct record *)s->map;
}

static void nap(uint64_t ns)
{
    struct timespec ts = gv_timespec(ns);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The calling process as a peer. */
static void identify(struct gvr_sched_peer *p)
{
    char state;
    p->pid = getpid();
    if (gvr_proc_stat(p->pid, &state, &p->start) < 0)
        p->start = 0;
    p->pidns = gvr_proc_own_pidns();
    p->mine = 0;
    p->seen = 0;
}

static void handle_init(struct gvr_sched *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->claim = -1;
    s->conn = -1;
    s->reader = -1;
}

#define CLAIM_PREFIX "gpuvisor-gpu-"

/* Look at every claim file in GVR_CLAIM_DIR: whether another user's claim on GPU `u` (its UUID
 * text; NULL: none) is live, its uid in *who; and on the way, remove each claim file that no process holds.
 * Its last holder removes it at a normal end (gvr_sched_unclaim), but a process killed, or one that
 * ends with _exit, leaves it behind; with simulated GPUs, whose UUIDs differ per machine, such files
 * would pile up. Nobody holds a file whose exclusive lock can be had; a process that opened it and
 * is about to lock it finds the name gone after its lock and makes a new file (claim_gpu). The
 * directory is sticky: only the file's owner or root may remove it, and a removal refused is
 * ignored. */
static bool look_at_claims(const char *u, uid_t me, uid_t *who)
{
    char prefix[GV_UUID_TEXT + 32];
    size_t plen = (size_t)snprintf(prefix, sizeof(prefix), CLAIM_PREFIX "%s.", u ? u : "");
    DIR *d = opendir(GVR_CLAIM_DIR);
    if (!d)
        return false;
    bool busy = false;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, CLAIM_PREFIX, strlen(CLAIM_PREFIX)) != 0)
            continue;
        int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            close(fd);
            continue;
        }
        bool held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
        if (!held)
            unlinkat(dirfd(d), e->d_name, 0);
        close(fd); /* also lets go of the lock taken just now */
        if (!held || busy || !u || strncmp(e->d_name, prefix, plen) != 0)
            continue;
        char *end;
        unsigned long uid = strtoul(e->d_name + plen, &end, 10);
        if (!*end && end != e->d_name + plen && uid != me && st.st_uid == uid) {
            busy = true;
            *who = (uid_t)uid;
        }
    }
    closedir(d);
    return busy;
}

void gvr_sched_tidy(void)
{
    uid_t who;
    look_at_claims(NULL, geteuid(), &who);
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
    if (look_at_claims(u, me, &who)) {
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

/* Map a record file opened for writing and check its magic, claiming a new file (magic 0) for
 * the token. Returns 0 with the mapping in *out, or a negative errno with a message. */
static int map_record(int fd, const char *what, void **out, struct gv_error *err)
{
    void *map = mmap(NULL, sizeof(struct record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return gv_error_set(err, -errno, "map GPU token %s: %s", what, strerror(errno));
    struct record *r = map;
    uint64_t m = 0;
    if (!atomic_compare_exchange_strong(&r->magic, &m, MAGIC) && m != MAGIC) {
        munmap(map, sizeof(struct record));
        return gv_error_set(err, -EPROTO,
                            "%s is not a gpuvisor GPU token of this version: stop the GPU's "
                            "limited processes and remove it",
                            what);
    }
    *out = map;
    return 0;
}

/* Open the token file of GPU uuid in gvr_dir(dir): made when `create`, and claimed (the user's
 * claim on the GPU's time) when `claim`. */
static int open_token(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                      bool create, bool claim, struct gv_error *err)
{
    handle_init(s);
    const char *d = gvr_dir(dir);
    char path[PATH_MAX], u[GV_UUID_TEXT];
    gv_uuid_format(uuid, u);
    if ((size_t)snprintf(path, sizeof(path), "%s/.%s.sched", d, u) >= sizeof(path))
        return gv_error_set(err, -ENAMETOOLONG, "GPU token in %.200s: path too long", d);
    /* The token is the user's, in the user's directory, as the instances are: processes of
     * other users take turns on the GPU only through gpuvisord. */
    int dfd = gvr_dir_open(d, create, true, err);
    if (dfd < 0)
        return dfd;
    int fd = openat(dfd, path + strlen(d) + 1,
                    O_RDWR | (create ? O_CREAT : 0) | O_CLOEXEC | O_NOFOLLOW, 0600);
    int open_errno = errno;
    close(dfd);
    if (fd < 0)
        return gv_error_set(err, -open_errno, "open GPU token %s: %s", path, strerror(open_errno));
    /* Every opener reserves the record's space (creators race harmlessly: the zero record is a
     * free token), so that one that made the file and could not fill it leaves no hole behind
     * that would be a SIGBUS in the next; a record of an earlier, shorter layout grows. */
    int rc = gvr_file_owned(fd, "GPU token", path, err);
    if (rc == 0)
        rc = gvr_file_reserve(fd, sizeof(struct record), "GPU token", path, err);
    void *map = NULL;
    if (rc == 0)
        rc = map_record(fd, path, &map, err);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    int c = claim ? claim_gpu(u, s->claim_path, err) : -1;
    if (c < -1) {
        munmap(map, sizeof(struct record));
        close(fd);
        return c;
    }
    s->map = map;
    s->fd = fd;
    s->claim = c;
    identify(&s->self);
    return 0;
}

int gvr_sched_open(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                   struct gv_error *err)
{
    return open_token(s, dir, uuid, true, true, err);
}

int gvr_sched_open_existing(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                            struct gv_error *err)
{
    return open_token(s, dir, uuid, false, false, err);
}

void gvr_sched_close(struct gvr_sched *s)
{
    if (!s || (!s->map && s->conn < 0))
        return;
    if (s->self.mine && s->self.pid == getpid())
        gvr_sched_release(s);
    if (s->map)
        munmap(s->map, sizeof(struct record));
    if (s->fd >= 0)
        close(s->fd);
    if (s->conn >= 0)
        close(s->conn);
    if (s->reader >= 0)
        close(s->reader);
    gvr_sched_unclaim(s);
    s->map = NULL;
    s->fd = s->conn = s->reader = -1;
    s->daemon = false;
}

void gvr_sched_forked(struct gvr_sched *s)
{
    identify(&s->self);
    if (s->daemon) {
        /* The connection speaks for the parent (the daemon knows its peer by the process that
         * connected): the child makes its own when it first wants the token. Closing the child's
         * copy leaves the parent's connection open. */
        atomic_store(&s->io, 0); /* whatever a parent's thread was doing is not this process's */
        if (s->conn >= 0)
            close(s->conn);
        s->conn = -1;
        s->next_connect = 0;
        s->hold_off = s->want_until = 0;
        s->pending = 0;
        s->renewal_refused = false;
        s->wire_pid = 0;
        return;
    }
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

/* ---- the mechanism, for a peer: the process itself (standalone) or the daemon's peer */

/* Is the holder (word h) gone, judged from this process? Dead only on proof, as for members. */
static bool holder_dead(const struct record *r, const struct gvr_sched_peer *p, uint64_t h)
{
    pid_t pid = (pid_t)(uint32_t)h;
    uint64_t start = atomic_load(&r->holder_start), ns = atomic_load(&r->holder_ns);
    if (atomic_load(&r->holder) != h)
        return false; /* changed hands meanwhile: judge again later */
    if (ns && p->pidns && ns != p->pidns)
        return false;
    return gvr_proc_gone(pid, start);
}

/* Write the holder's slice end, the slice being from now to slice_end. */
static void set_slice(struct record *r, uint64_t now, uint64_t slice_end)
{
    uint64_t us = slice_end > now ? (slice_end - now) / 1000 : 0;
    atomic_store(&r->slice_us, (uint32_t)(us > UINT32_MAX ? UINT32_MAX : us));
    atomic_store(&r->slice_end, slice_end);
}

uint64_t gvr_sched_grace(const struct gvr_sched *s)
{
    uint64_t us = s && s->map ? atomic_load(&REC(s)->slice_us) : 0;
    return us ? 2 * us * 1000 : GVR_SCHED_GRACE_NS;
}

/* May the token be taken from holder h at `now` by a contender with `key`? `sole`: gpuvisord
 * judges. */
static bool takeable(const struct record *r, const struct gvr_sched_peer *p, uint64_t h,
                     uint64_t now, bool check_alive, uint64_t key, bool sole)
{
    /* The holder has no work on the GPU: its turn is anyone's. Through gpuvisord, whose holders
     * keep an idle turn for half a turn (shim/timeshare.c), only for a contender whose key goes
     * before the one the holder took it with, or once the turn is over: a turn taken in another's
     * pause is kept as long, and going to whoever looks first would part the shares. */
    if ((h & IDLE) &&
        (!sole || key <= atomic_load(&r->holder_key) || now > atomic_load(&r->slice_end)))
        return true;
    /* Live or dead, draining or not, in this pid namespace or another: a holder whose synchronize
     * does not finish must not keep the others waiting; it pays for its wait (shim/timeshare.c). */
    uint64_t us = atomic_load(&r->slice_us);
    if (now > atomic_load(&r->slice_end) + (us ? 2 * us * 1000 : GVR_SCHED_GRACE_NS))
        return true;
    return check_alive && holder_dead(r, p, h);
}

static void clear_want(struct record *r, pid_t pid)
{
    unsigned i = (unsigned)pid % NWANT;
    if (atomic_load(&r->want_pid[i]) == (uint32_t)pid)
        atomic_store(&r->want_until[i], 0);
}

/* Does a fresh want stamp of another process than pid carry a key below `key`? */
static bool better_waits(const struct record *r, uint32_t pid, uint64_t key, uint64_t now)
{
    for (unsigned i = 0; i < NWANT; i++)
        if (atomic_load(&r->want_until[i]) > now && atomic_load(&r->want_pid[i]) != pid &&
            atomic_load(&r->want_key[i]) < key)
            return true;
    return false;
}

static void bump(struct record *r)
{
    atomic_fetch_add(&r->seq, 1);
    gv_futex_wake(&r->seq);
}

/* The take of gvr_sched_take, for p. `sole`: the caller is the record's only writer (the daemon),
 * so what it reads is consistent and a holder word need not be seen twice before a takeover. A
 * take, free token or not, is left to a waiter whose key is lower: it comes for the token. */
static bool take_as(struct record *r, struct gvr_sched_peer *p, uint64_t now, uint64_t slice_end,
                    bool check_alive, bool sole, uint64_t key, uint64_t *taken_from)
{
    *taken_from = 0;
    if (p->mine) {
        uint64_t h = atomic_load(&r->holder);
        if (h == p->mine)
            return true;
        /* Idle: take it back, unless a waiter that goes first has it or is about to (woken
         * now: the idling may not have woken it). */
        if (h == (p->mine | IDLE)) {
            if (better_waits(r, (uint32_t)p->pid, key, now)) {
                bump(r);
            } else if (atomic_compare_exchange_strong(&r->holder, &h, p->mine)) {
                set_slice(r, now, slice_end);
                atomic_store(&r->holder_key, key);
                return true;
            }
        }
        p->mine = 0; /* taken over, or left to a waiter: it waits its turn again */
    }
    for (int tries = 0; tries < 4; tries++) {
        uint64_t h = atomic_load(&r->holder);
        /* A taker writes its slice end and start time just after its compare-and-swap, so a
         * holder word seen for the first time may still carry its predecessor's: a takeover
         * needs the same word seen on an earlier call too (before this waiter's last wait). An
         * idle holder wrote its bit itself, after its fields. */
        bool seen = h && (sole || h == p->seen || (h & IDLE));
        p->seen = h;
        if (h && !(seen && takeable(r, p, h, now, check_alive, key, sole)))
            return false;
        if (better_waits(r, (uint32_t)p->pid, key, now))
            return false;
        uint64_t t = atomic_fetch_add(&r->takes, 1) + 1;
        uint64_t mine = (t & TAKE_MASK) << 32 | (uint32_t)p->pid;
        if (!atomic_compare_exchange_strong(&r->holder, &h, mine))
            continue;
        set_slice(r, now, slice_end);
        atomic_store(&r->holder_key, key);
        atomic_store(&r->holder_start, p->start);
        atomic_store(&r->holder_ns, p->pidns);
        p->mine = mine;
        p->seen = 0;
        clear_want(r, p->pid);
        if (h) { /* taken over: the waiters judge afresh */
            *taken_from = h & ~IDLE;
            bump(r);
        }
        return true;
    }
    return false;
}

/* p holds the token and has no work on the GPU: anyone may take it now; with `wake`, the waiters
 * are woken to, else they find it at their next look. */
static bool idle_as(struct record *r, const struct gvr_sched_peer *p, bool wake)
{
    uint64_t h = p->mine;
    if (!h || !atomic_compare_exchange_strong(&r->holder, &h, p->mine | IDLE))
        return false;
    if (wake)
        bump(r);
    return true;
}

static void raise_to(_Atomic uint64_t *w, uint64_t v)
{
    uint64_t have = atomic_load(w);
    while (have < v && !atomic_compare_exchange_weak(w, &have, v))
        ;
}

static bool held_by(const struct record *r, const struct gvr_sched_peer *p)
{
    return r && p->mine && atomic_load(&r->holder) == p->mine;
}

static bool release_as(struct record *r, struct gvr_sched_peer *p)
{
    uint64_t mine = p->mine, h = mine;
    p->mine = 0;
    if (!mine)
        return false;
    if (!atomic_compare_exchange_strong(&r->holder, &h, 0)) {
        h = mine | IDLE; /* given up while idle */
        if (!atomic_compare_exchange_strong(&r->holder, &h, 0))
            return false;
    }
    bump(r);
    return true;
}

static void stamp(struct record *r, pid_t pid, uint64_t until, uint64_t key)
{
    unsigned i = (unsigned)pid % NWANT;
    atomic_store(&r->want_until[i], 0);
    atomic_store(&r->want_pid[i], (uint32_t)pid);
    atomic_store(&r->want_key[i], key);
    atomic_store(&r->want_until[i], until);
    uint64_t h = atomic_load(&r->holder);
    if (h && !(h & IDLE) && CLASS(key) < CLASS(atomic_load(&r->holder_key)))
        atomic_store(&r->cut, h);
}

/* Sleep on the sequence word while the token is held, at most timeout_ns from now. Returns false
 * on timeout. */
static bool sleep_on(const struct record *r, uint64_t now, uint64_t timeout_ns)
{
    uint32_t seq = atomic_load(&r->seq);
    if (!atomic_load(&r->holder))
        return true;
    gv_futex_wait((_Atomic uint32_t *)&r->seq, seq, timeout_ns);
    return atomic_load(&r->seq) != seq || gv_now_ns() < now + timeout_ns;
}

/* ---- gpuvisord's mode, the process's side: the record read-only, changes by request */

/* One request at a time on a handle's connection: the interposer's threads of one device take
 * turns in its slow path already, so this is taken without contention but at a process's exit. */
static void lock_io(struct gvr_sched *s)
{
    while (atomic_exchange(&s->io, 1))
        nap(20000);
}

static void unlock_io(struct gvr_sched *s)
{
    atomic_store(&s->io, 0);
}

/* Map a record the daemon sent over the old one in place (MAP_FIXED replaces it at once, so a
 * reader never meets an unmapped page), or anew. Returns 0 or -errno. */
static int map_sent(struct gvr_sched *s, int fd, struct gv_error *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < sizeof(struct record))
        return gv_error_set(err, -EPROTO, "gpuvisord sent something that is not a GPU token");
    void *map = mmap(s->map, sizeof(struct record), PROT_READ,
                     MAP_SHARED | (s->map ? MAP_FIXED : 0), fd, 0);
    if (map == MAP_FAILED)
        return gv_error_set(err, -errno, "map GPU token from gpuvisord: %s", strerror(errno));
    s->map = map;
    if (atomic_load(&REC(s)->magic) != MAGIC)
        return gv_error_set(err, -EPROTO, "gpuvisord sent a GPU token of another version");
    return 0;
}

/* Drop the connection (the daemon is gone, or answered out of turn): whatever this process held
 * is lost with it, as the daemon sees it too. */
static void disconnect(struct gvr_sched *s, uint64_t now)
{
    if (s->conn >= 0)
        close(s->conn);
    s->conn = -1;
    s->self.mine = 0;
    s->hold_off = s->want_until = 0;
    s->pending = 0;
    s->renewal_refused = false;
    s->next_connect = now + GVR_SCHED_RECONNECT_NS;
}

static void spent_for(struct gvr_sched *s, uint64_t ns)
{
    s->hold_off = gv_now_ns() + (ns < GV_NS_PER_S ? ns : GV_NS_PER_S);
}

/* Read the answer to the renewal or idling sent last, if not read yet; io held. Returns 0, or a
 * negative errno when the connection failed (it is dropped). */
static int renewal_answer(struct gvr_sched *s)
{
    uint32_t op = s->pending;
    if (!op)
        return 0;
    s->pending = 0;
    struct gvr_drep p;
    int rc = gvr_daemon_recv(s->conn, &p, NULL, GVR_DAEMON_CALL_NS, NULL);
    if (rc == 0 && p.op != op)
        rc = -EPROTO;
    if (rc < 0) {
        disconnect(s, gv_now_ns());
        return rc;
    }
    if (op == GVR_DOP_IDLE) /* refused only when no longer the holder, which the record says */
        return 0;
    s->renewal_refused = p.status != 0;
    if (p.status == -EAGAIN) /* spent: the next take would be refused */
        spent_for(s, p.until);
    return 0;
}

/* One request and its reply; io held. Returns 0 with the reply in *p, or a negative errno when the
 * connection failed (it is dropped). */
static int request(struct gvr_sched *s, const struct gvr_dreq *q, struct gvr_drep *p, int *fd)
{
    if (s->conn < 0 || renewal_answer(s) < 0)
        return -ENOTCONN;
    int rc = gvr_daemon_call(s->conn, q, p, fd, GVR_DAEMON_CALL_NS, NULL);
    if (rc == 0 && p->op != q->op)
        rc = -EPROTO;
    if (rc < 0)
        disconnect(s, gv_now_ns());
    return rc;
}

/* Does the daemon's answer `status` refuse this process's turns for good (an instance it does not
 * know, or no longer, for this user), rather than for now? */
static bool for_good(int status)
{
    return status == -ENOENT || status == -EPERM || status == -ESHUTDOWN || status == -ESRCH;
}

/* Connect and say which instance's turns on which GPU this connection is for; io held. Returns 0,
 * a transport error (try again later), or the daemon's refusal (s->refused is set when it is for
 * good). */
static int connect_daemon(struct gvr_sched *s, struct gv_error *err)
{
    uint64_t now = gv_now_ns();
    s->next_connect = now + GVR_SCHED_RECONNECT_NS;
    int c = gvr_daemon_connect(s->socket, err);
    if (c < 0)
        return c;
    s->conn = c;
    struct gvr_dreq q = {.op = GVR_DOP_HELLO};
    memcpy(q.uuid, s->uuid, sizeof(q.uuid));
    memcpy(q.key, s->key, sizeof(q.key));
    struct gvr_drep p;
    int fd = -1;
    int rc = request(s, &q, &p, &fd);
    if (rc < 0)
        return gv_error_set(err, rc, "gpuvisord at %s did not answer", s->socket);
    if (p.status < 0) {
        if (fd >= 0)
            close(fd);
        disconnect(s, now);
        s->refused = for_good(p.status);
        snprintf(s->why, sizeof(s->why), "%s", p.msg[0] ? p.msg : strerror(-p.status));
        return gv_error_set(err, p.status, "%s", s->why);
    }
    rc = fd < 0 ? gv_error_set(err, -EPROTO, "gpuvisord sent no GPU token") : map_sent(s, fd, err);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        disconnect(s, now);
        return rc;
    }
    s->wire_pid = (pid_t)p.word;
    s->self.mine = 0;
    return 0;
}

int gvr_sched_open_daemon(struct gvr_sched *s, const char *socket, const char *instance,
                          const uint8_t uuid[GV_UUID_LEN], struct gv_error *err)
{
    handle_init(s);
    if (!socket || strlen(socket) >= sizeof(s->socket))
        return gv_error_set(err, -EINVAL, "gpuvisord socket \"%.120s\": path too long",
                            socket ? socket : "");
    if (!instance || strlen(instance) >= sizeof(s->key) || gvr_name_check(instance, err) < 0)
        return -EINVAL;
    memcpy(s->socket, socket, strlen(socket) + 1);
    memcpy(s->key, instance, strlen(instance));
    memcpy(s->uuid, uuid, GV_UUID_LEN);
    s->daemon = true;
    identify(&s->self);
    struct gv_error e2 = {0};
    lock_io(s);
    int rc = connect_daemon(s, &e2);
    unlock_io(s);
    if (rc < 0 && s->refused) {
        if (err)
            *err = e2;
        if (s->map)
            munmap(s->map, sizeof(struct record));
        handle_init(s);
        return rc;
    }
    return 0; /* connected, or not now: the next take tries again */
}

static bool daemon_take(struct gvr_sched *s, uint64_t now, uint64_t slice_end, bool check_alive)
{
    if (s->refused || now < s->hold_off)
        return false;
    lock_io(s);
    bool got = false;
    if (s->conn < 0 && (now < s->next_connect || connect_daemon(s, NULL) < 0))
        goto out;
    if (held_by(REC(s), &s->self)) {
        got = true;
        goto out;
    }
    struct gvr_dreq q = {.op = GVR_DOP_TAKE,
                         .flags = check_alive ? GVR_DFLAG_CHECK : 0,
                         .until = slice_end,
                         .want = now + GVR_SCHED_WANT_LEASE_NS};
    struct gvr_drep p;
    if (request(s, &q, &p, NULL) < 0)
        goto out;
    if (p.status == 0) {
        s->self.mine = p.word;
        s->want_until = 0;
        s->renewal_refused = false;
        got = true;
    } else if (p.status == -EBUSY) {
        s->want_until = q.want;
    } else if (p.status == -EAGAIN) {
        spent_for(s, p.until);
    } else {
        s->refused = for_good(p.status);
        snprintf(s->why, sizeof(s->why), "%s", p.msg[0] ? p.msg : strerror(-p.status));
        disconnect(s, now);
    }
out:
    unlock_io(s);
    return got;
}

static bool daemon_extend(struct gvr_sched *s, uint64_t slice_end)
{
    lock_io(s);
    bool ok = false;
    struct gvr_dreq q = {.op = GVR_DOP_EXTEND, .until = slice_end, .used = s->report};
    if (s->conn < 0 || renewal_answer(s) < 0)
        goto out;
    if (s->renewal_refused) { /* the last one: this process had a slice more than granted */
        s->renewal_refused = false;
        goto out;
    }
    if (!held_by(REC(s), &s->self))
        goto out;
    if (gvr_daemon_send(s->conn, &q, GVR_DAEMON_CALL_NS, NULL) < 0) {
        disconnect(s, gv_now_ns());
        goto out;
    }
    s->report = 0;
    s->pending = GVR_DOP_EXTEND;
    ok = true;
out:
    unlock_io(s);
    return ok;
}

static void daemon_release(struct gvr_sched *s)
{
    lock_io(s);
    if (s->self.mine && s->conn >= 0) {
        struct gvr_dreq q = {.op = GVR_DOP_RELEASE, .used = s->report};
        struct gvr_drep p;
        request(s, &q, &p, NULL);
    }
    s->report = 0;
    s->self.mine = 0;
    s->renewal_refused = false;
    unlock_io(s);
}

/* Sent without waiting for the answer, which is read at the next request, as a renewal's: the
 * holder's next launch, often near, takes the token back with a request of its own anyway. */
static bool daemon_idle(struct gvr_sched *s, bool wake)
{
    lock_io(s);
    bool ok = false;
    if (s->self.mine && s->conn >= 0 && renewal_answer(s) == 0 && held_by(REC(s), &s->self)) {
        struct gvr_dreq q = {.op = GVR_DOP_IDLE,
                             .flags = wake ? 0 : GVR_DFLAG_QUIET,
                             .used = s->report};
        if (gvr_daemon_send(s->conn, &q, GVR_DAEMON_CALL_NS, NULL) < 0) {
            disconnect(s, gv_now_ns());
        } else {
            s->report = 0;
            s->pending = GVR_DOP_IDLE;
            ok = true;
        }
    }
    unlock_io(s);
    return ok;
}

static bool daemon_wait(struct gvr_sched *s, uint64_t now, uint64_t timeout_ns)
{
    uint64_t until = now + timeout_ns;
    if (s->refused || s->conn < 0 || !s->map) {
        /* Nothing to wait on but the time of the next attempt to connect. */
        uint64_t t = s->refused || s->next_connect > until ? until
                     : s->next_connect > now               ? s->next_connect
                                                           : now;
        nap(t - now);
        return false;
    }
    if (s->hold_off > now) { /* the instance's time is spent: wait without standing in line */
        nap((s->hold_off < until ? s->hold_off : until) - now);
        return false;
    }
    if (s->want_until < until + WANT_NS) {
        lock_io(s);
        struct gvr_dreq q = {.op = GVR_DOP_WANT, .want = until + GVR_SCHED_WANT_LEASE_NS};
        struct gvr_drep p;
        if (request(s, &q, &p, NULL) == 0 && p.status == 0)
            s->want_until = q.want;
        else if (s->conn >= 0 && p.status == -EAGAIN)
            spent_for(s, p.until);
        unlock_io(s);
        if (s->conn < 0)
            return false;
    }
    return sleep_on(REC(s), now, timeout_ns);
}

/* ---- the functions of both modes */

bool gvr_sched_take(struct gvr_sched *s, uint64_t now, uint64_t slice_end, bool check_alive,
                    uint64_t key)
{
    if (s->daemon)
        return daemon_take(s, now, slice_end, check_alive);
    uint64_t was;
    return take_as(REC(s), &s->self, now, slice_end, check_alive, false, key, &was);
}

bool gvr_sched_idle(struct gvr_sched *s, bool wake)
{
    if (s->daemon)
        return daemon_idle(s, wake);
    return idle_as(REC(s), &s->self, wake);
}

void gvr_sched_report(struct gvr_sched *s, uint64_t used)
{
    s->report += used;
}

const _Atomic uint64_t *gvr_sched_cut_word(const struct gvr_sched *s)
{
    return s->map ? &REC(s)->cut : NULL;
}

uint64_t gvr_sched_vclock(const struct gvr_sched *s, uint64_t key)
{
    return s->map ? atomic_load(&REC(s)->vclock[CLASS(key)]) : 0;
}

void gvr_sched_clock_to(struct gvr_sched *s, uint64_t key)
{
    if (s->map && (!s->daemon || s->reader >= 0))
        raise_to(&REC(s)->vclock[CLASS(key)], key & GV_KEY_VTIME_MAX);
}

void gvr_sched_demand(struct gvr_sched *s, uint64_t until)
{
    if (s->map && (!s->daemon || s->reader >= 0))
        raise_to(&REC(s)->demand_until, until);
}

bool gvr_sched_demanded(const struct gvr_sched *s, uint64_t now)
{
    return s->map && atomic_load(&REC(s)->demand_until) > now;
}

bool gvr_sched_held(const struct gvr_sched *s)
{
    if (s->daemon && s->conn < 0)
        return false;
    return held_by(REC(s), &s->self);
}

bool gvr_sched_extend(struct gvr_sched *s, uint64_t slice_end)
{
    if (s->daemon)
        return daemon_extend(s, slice_end);
    if (!gvr_sched_held(s))
        return false;
    set_slice(REC(s), gv_now_ns(), slice_end);
    return true;
}

uint64_t gvr_sched_tenure(const struct gvr_sched *s, uint64_t *start)
{
    *start = s->self.start;
    return s->self.mine;
}

uint64_t gvr_sched_holder_word(const struct gvr_sched *s)
{
    return s->map ? atomic_load(&REC(s)->holder) : 0;
}

void gvr_sched_release(struct gvr_sched *s)
{
    if (s->daemon)
        daemon_release(s);
    else
        release_as(REC(s), &s->self);
}

bool gvr_sched_wait(struct gvr_sched *s, uint64_t now, uint64_t timeout_ns, uint64_t key)
{
    if (s->daemon)
        return daemon_wait(s, now, timeout_ns);
    stamp(REC(s), s->self.pid, now + timeout_ns + WANT_NS, key);
    return sleep_on(REC(s), now, timeout_ns);
}

bool gvr_sched_wanted(const struct gvr_sched *s, uint64_t now, uint64_t key)
{
    const struct record *r = REC(s);
    if (!r)
        return false;
    uint32_t me = (uint32_t)(s->daemon ? s->wire_pid : s->self.pid);
    return better_waits(r, me, key, now);
}

pid_t gvr_sched_holder(const struct gvr_sched *s)
{
    return (pid_t)(uint32_t)gvr_sched_holder_word(s);
}

bool gvr_sched_refused(const struct gvr_sched *s, const char **why)
{
    if (why)
        *why = s->why;
    return s->daemon && s->refused;
}

/* ---- gpuvisord's side */

void gvr_sched_file(const uint8_t uuid[GV_UUID_LEN], char out[GV_UUID_TEXT + 8])
{
    char u[GV_UUID_TEXT];
    gv_uuid_format(uuid, u);
    snprintf(out, GV_UUID_TEXT + 8, "%s.sched", u);
}

int gvr_sched_serve(struct gvr_sched *s, int dirfd, const uint8_t uuid[GV_UUID_LEN],
                    struct gv_error *err)
{
    handle_init(s);
    char name[GV_UUID_TEXT + 8];
    gvr_sched_file(uuid, name);
    int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return gv_error_set(err, -errno, "open GPU token %s: %s", name, strerror(errno));
    struct stat st;
    int rc = 0;
    /* Tenants map it read-only: it must be the daemon's and writable by nobody else. */
    if (fstat(fd, &st) < 0)
        rc = gv_error_set(err, -errno, "GPU token %s: %s", name, strerror(errno));
    else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        rc = gv_error_set(err, -EPERM, "GPU token %s is not a file of this daemon's user", name);
    else if ((st.st_mode & 07777) != 0644 && fchmod(fd, 0644) < 0)
        rc = gv_error_set(err, -errno, "GPU token %s: chmod: %s", name, strerror(errno));
    if (rc == 0)
        rc = gvr_file_reserve(fd, sizeof(struct record), "GPU token", name, err);
    void *map = NULL;
    if (rc == 0) {
        map = mmap(NULL, sizeof(struct record), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED) {
            map = NULL;
            rc = gv_error_set(err, -errno, "map GPU token %s: %s", name, strerror(errno));
        }
    }
    int reader = rc == 0 ? openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (rc == 0 && reader < 0)
        rc = gv_error_set(err, -errno, "open GPU token %s: %s", name, strerror(errno));
    if (rc < 0) {
        if (map)
            munmap(map, sizeof(struct record));
        close(fd);
        return rc;
    }
    /* Whatever a previous daemon (or damage) left is reset in place, never truncated: processes
     * that still map the file would fault on a page that went away. The magic goes in last. */
    struct record *r = map;
    atomic_store(&r->holder, 0);
    atomic_store(&r->holder_start, 0);
    atomic_store(&r->holder_ns, 0);
    atomic_store(&r->slice_end, 0);
    for (unsigned i = 0; i < NWANT; i++) {
        atomic_store(&r->want_until[i], 0);
        atomic_store(&r->want_pid[i], 0);
        atomic_store(&r->want_key[i], 0);
    }
    for (unsigned i = 0; i < 8; i++)
        atomic_store(&r->vclock[i], 0);
    atomic_store(&r->demand_until, 0);
    atomic_store(&r->holder_key, 0);
    atomic_store(&r->cut, 0);
    atomic_store(&r->magic, MAGIC);
    atomic_fetch_add(&r->seq, 1);
    gv_futex_wake(&r->seq);
    s->map = map;
    s->fd = fd;
    s->reader = reader;
    identify(&s->self);
    return 0;
}

int gvr_sched_reader(const struct gvr_sched *s)
{
    return s->reader;
}

bool gvr_sched_take_for(struct gvr_sched *s, struct gvr_sched_peer *p, uint64_t now,
                        uint64_t slice_end, bool check_alive, uint64_t key, uint64_t *taken_from)
{
    return take_as(REC(s), p, now, slice_end, check_alive, true, key, taken_from);
}

bool gvr_sched_idle_for(struct gvr_sched *s, struct gvr_sched_peer *p, bool wake)
{
    return idle_as(REC(s), p, wake);
}

bool gvr_sched_holds(const struct gvr_sched *s, const struct gvr_sched_peer *p)
{
    return held_by(REC(s), p);
}

bool gvr_sched_extend_for(struct gvr_sched *s, struct gvr_sched_peer *p, uint64_t slice_end)
{
    if (!held_by(REC(s), p))
        return false;
    set_slice(REC(s), gv_now_ns(), slice_end);
    return true;
}

uint64_t gvr_sched_slice_end(const struct gvr_sched *s)
{
    return atomic_load(&REC(s)->slice_end);
}

bool gvr_sched_release_for(struct gvr_sched *s, struct gvr_sched_peer *p)
{
    return release_as(REC(s), p);
}

void gvr_sched_want_for(struct gvr_sched *s, const struct gvr_sched_peer *p, uint64_t until,
                        uint64_t key)
{
    if (until)
        stamp(REC(s), p->pid, until, key);
    else
        clear_want(REC(s), p->pid);
}
