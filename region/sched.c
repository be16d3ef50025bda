/* SPDX-License-Identifier: Apache-2.0 */
/* sched.c: the GPU token of sched.h, a small shared record in its own file per GPU.
 *
 * The holder word names the holding process and the take that made it the holder, so a word seen
 * twice means the same tenure (no ABA), and the holder's start time and pid namespace sit next to
 * it for judging whether it is alive. The record's zero state is a free token, so opening is
 * O_CREAT and a reservation of the record's space, which many processes may do at once. */
#include "region/sched.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int gvr_sched_open(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                   struct gv_error *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
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
    s->map = map;
    s->fd = fd;
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
    s->map = NULL;
    s->fd = -1;
}

void gvr_sched_forked(struct gvr_sched *s)
{
    identify(s);
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
