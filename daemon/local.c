/* SPDX-License-Identifier: Apache-2.0 */
/* local.c: the local socket's thread (local.h): one epoll loop over the listening socket, its
 * connections and a wake-up descriptor.
 *
 * A connection goes through three states. FIRST: accepted, nothing known; its first bytes are
 * peeked at (never consumed, so that HTTP gets them whole) with edge-triggered readiness, so a
 * client that sent "G" and waits does not spin the loop. OPEN: it said the magic, and its first
 * request (JOIN or HELLO) is due before the same deadline. TOKEN: its HELLO was accepted; it speaks
 * for the connecting process's turns on one GPU of one instance, read with level-triggered
 * readiness, one request per wake-up, so that a peer that floods requests waits its turn behind
 * the others. A JOIN is answered and the connection closed.
 *
 * Tokens: per GPU the record of region/sched.h, served (written) only here, and the connection
 * that holds it. The holder's instance is charged the device time its process reports with each
 * renewal, release and idling, at most the time it held the token (a process that reports more
 * than it held is not believed), in a budget per instance and GPU kept here (struct account); a
 * holder that goes without a report (its process died, or it was taken over) is charged the time
 * it held. Keys (core/policy.h) are this thread's to judge: each waiter is stood in line with its
 * instance's key (priority, class, virtual time from the account's budget), a take is left to a
 * waiter with a lower key, and a renewal is refused while one waits. A fixed instance's take or
 * renewal is also refused while its budget is spent. A token given up while a process of another
 * instance stands in line is kept for the waiter that goes first, for a few milliseconds, so
 * that a daemon slower to serve its wake-up than the releaser is to come back does not cost the
 * waiter its turn. A turn lasts at most the GPU's time slice, which the daemon core sets from
 * another thread (gvd_local_set_timeslice): a table of its own, apart from the GPUs' records
 * (which exist only once a process asks for a GPU), with one atomic length per GPU, so that a
 * grant reads it without a lock. An account outlives its connections (a process
 * that connects anew must not find its instance's time refilled) and is dropped when nobody uses
 * it and its bucket is full again, which is what a new one would be. */
#include "daemon/local.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/size.h"
#include "core/timeslice.h"
#include "region/daemon.h"
#include "region/proc.h"
#include "region/sched.h"

#define KEY_LISTEN      UINT64_MAX
#define KEY_WAKE        (UINT64_MAX - 1)
#define ACCEPT_PAUSE_NS (100ULL * 1000000ULL) /* out of descriptors: accept again after this */
#define WATCH_NS        (100ULL * 1000000ULL) /* holders' processes are looked at this often */
#define WANT_MAX_NS     (100ULL * 1000000ULL) /* the longest a request stands a peer in line */
#define RESERVE_NS      (3ULL * 1000000ULL)   /* a token given up is kept this long for a waiter */
#define BATCH           64

enum state { FREE = 0, FIRST, OPEN, TOKEN };

/* An instance's GPU time on one GPU, as this daemon books it. */
struct account {
    bool used;
    bool gone; /* the instance was deleted */
    char id[GVR_DAEMON_ID_LEN];
    uint8_t uuid[GV_UUID_LEN];
    uint32_t share;    /* basis points, 0 = no compute limit */
    enum gv_policy policy;
    enum gv_priority priority;
    uint64_t share_at; /* when ops->share was last asked */
    unsigned refs;     /* connections booked to it */
    struct gv_budget budget;
};

struct gpu {
    uint8_t uuid[GV_UUID_LEN];
    struct gvr_sched rec;
    int holder;              /* the connection holding the token, or -1 */
    int reserved;            /* the connection a free token is kept for, or -1 */
    uint64_t reserved_until; /* ... until then */
};

/* Invariants: state FREE <=> fd == -1. In TOKEN, gpu and account are valid indices and the
 * account counts this connection in refs; gpus[gpu].holder == this index exactly while the
 * record's holder word is peer.mine; paid_until is how far its holding time is charged (ahead of
 * now: a slice paid in advance). */
struct conn {
    enum state state;
    int fd;
    struct ucred cred;
    uint64_t deadline; /* FIRST and OPEN: closed at this time */
    size_t have;       /* bytes of the request in buf */
    unsigned char buf[sizeof(struct gvr_dreq)];
    int gpu, account;
    struct gvr_sched_peer peer;
    uint64_t paid_until;
    uint64_t took_at; /* the token was granted (taken, or taken back from idle) then */
    int64_t charged;  /* charged for this tenure so far, the advance included */
    uint64_t used;    /* device time reported for this tenure, at most its holding time */
    bool idle;        /* holds the token idle (GVR_DOP_IDLE): settled, nothing more to charge */
    uint64_t want_until;
    uint64_t want_since; /* in line since then (while want_until is ahead) */
};

/* A GPU's time slice. Entries are added under slices_lock and never removed: the uuid is written
 * before nslices counts the entry (a release store), so a reader that loads nslices (acquire) sees
 * the uuids of the entries it counts. */
struct slice {
    uint8_t uuid[GV_UUID_LEN];
    _Atomic uint64_t ns;
};

struct gvd_local {
    int listen_fd, ep, wake, sched_dir;
    struct slice slices[GV_MAX_GPUS];
    _Atomic unsigned nslices;
    pthread_mutex_t slices_lock; /* writers of slices */
    struct gvd_local_ops ops;
    pthread_t thread;
    struct conn conns[GVD_LOCAL_MAX_CONNS];
    unsigned live;
    struct gpu gpus[GV_MAX_GPUS];
    unsigned ngpu;
    struct account *acct;
    unsigned nacct;
    uint64_t accept_again; /* 0: accepting */
    uint64_t next_watch;
    uint64_t pidns;
};

/* ---- accounts and GPUs */

/* Ask the daemon core how account a's instance keeps its share, and its priority. */
static void read_policy(struct gvd_local *l, struct account *a)
{
    enum gv_policy pol = GV_POLICY_GUARANTEED;
    enum gv_priority pri = GV_PRIORITY_NORMAL;
    if (!l->ops.policy || l->ops.policy(l->ops.ctx, a->id, a->uuid, &pol, &pri) == 0) {
        a->policy = pol;
        a->priority = pri;
    }
}

static void refresh_share(struct gvd_local *l, struct account *a, uint64_t now)
{
    if (a->gone || now < a->share_at + GVD_LOCAL_SHARE_NS)
        return;
    uint32_t share = 0;
    int rc = l->ops.share(l->ops.ctx, a->id, a->uuid, &share);
    a->share_at = now;
    if (rc == -ENOENT)
        a->gone = true;
    else if (rc == 0)
        a->share = share;
    if (rc == 0)
        read_policy(l, a);
}

/* Must account a wait for its budget before it takes the GPU (a fixed share that is spent)? */
static uint64_t budget_wait(const struct account *a, uint64_t now)
{
    return a->share && a->policy == GV_POLICY_FIXED ? gv_budget_wait(&a->budget, now) : 0;
}

/* Book ns of device time to account a (negative: a refund) as its policy says. */
static void book(struct account *a, uint64_t now, int64_t ns)
{
    if (a->policy == GV_POLICY_FIXED && a->share)
        gv_budget_charge(&a->budget, a->share, now, ns);
    else
        gv_budget_count(&a->budget, a->share, now, ns);
}

/* The account of instance id on GPU uuid, made when missing. Returns its index or -ENOMEM. */
static int account_for(struct gvd_local *l, const char *id, const uint8_t uuid[GV_UUID_LEN])
{
    int free_one = -1;
    for (unsigned i = 0; i < l->nacct; i++) {
        struct account *a = &l->acct[i];
        if (!a->used) {
            if (free_one < 0)
                free_one = (int)i;
            continue;
        }
        if (!strcmp(a->id, id) && !memcmp(a->uuid, uuid, GV_UUID_LEN))
            return (int)i;
    }
    if (free_one < 0) {
        unsigned n = l->nacct ? 2 * l->nacct : 16;
        struct account *grown = realloc(l->acct, n * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        memset(grown + l->nacct, 0, (n - l->nacct) * sizeof(*grown));
        l->acct = grown;
        free_one = (int)l->nacct;
        l->nacct = n;
    }
    struct account *a = &l->acct[free_one];
    memset(a, 0, sizeof(*a));
    a->used = true;
    snprintf(a->id, sizeof(a->id), "%s", id);
    memcpy(a->uuid, uuid, GV_UUID_LEN);
    gv_budget_init(&a->budget);
    return free_one;
}

/* Drop accounts nobody uses whose instance is gone or whose bucket is full again. */
static void prune_accounts(struct gvd_local *l, uint64_t now)
{
    for (unsigned i = 0; i < l->nacct; i++) {
        struct account *a = &l->acct[i];
        if (a->used && !a->refs &&
            (a->gone ||
             gv_budget_level(&a->budget, GV_SHARE_FULL, now) >= (int64_t)GV_BUDGET_PERIOD_NS))
            a->used = false;
    }
}

/* The GPU with this UUID, its record served (made or reset) when first met. Returns its index or a
 * negative errno value with a message. */
static int gpu_for(struct gvd_local *l, const uint8_t uuid[GV_UUID_LEN], struct gv_error *err)
{
    for (unsigned i = 0; i < l->ngpu; i++)
        if (!memcmp(l->gpus[i].uuid, uuid, GV_UUID_LEN))
            return (int)i;
    if (l->ngpu >= GV_MAX_GPUS)
        return gv_error_set(err, -ENOSPC, "gpuvisord serves at most %d GPUs", GV_MAX_GPUS);
    struct gpu *g = &l->gpus[l->ngpu];
    int rc = gvr_sched_serve(&g->rec, l->sched_dir, uuid, err);
    if (rc < 0)
        return rc;
    memcpy(g->uuid, uuid, GV_UUID_LEN);
    g->holder = g->reserved = -1;
    return (int)l->ngpu++;
}

/* Bring connection c's charge for its tenure to its use (what it reported, or with `held` the time
 * it held the token when it reports nothing) plus the slice paid in advance up to `until`: a slice
 * is paid when granted and settled when it ends, as the interposer books it in the region
 * (shim/timeshare.c). Paid in advance, a turn taken with a full bucket is charged before the
 * bucket's cap holds back the refill during the turn; charged only afterwards it would be charged
 * more than the interposer charges, and the two books would part. */
static void pay(struct gvd_local *l, struct conn *c, uint64_t now, uint64_t until, bool held)
{
    struct account *a = &l->acct[c->account];
    uint64_t use = held && !c->idle ? now - c->took_at : c->used;
    int64_t target = (int64_t)(use + (until > now ? until - now : 0));
    book(a, now, target - c->charged);
    c->charged = target;
    c->paid_until = until;
}

/* Add device time a process reported for its tenure: at most the time it held the token. */
static void reported(struct conn *c, uint64_t now, uint64_t used)
{
    uint64_t held = now - c->took_at;
    c->used = used > held || c->used + used > held ? held : c->used + used;
}

/* Settle connection c's tenure up to now at the time it held the token (no report to go by). */
static void charge(struct gvd_local *l, struct conn *c, uint64_t now)
{
    pay(l, c, now, now, true);
}

/* The key of connection c's instance on its GPU: its virtual time raised to the GPU's clock less
 * one time slice of its own (core/policy.h). */
static uint64_t timeslice(const struct gvd_local *l, const uint8_t uuid[GV_UUID_LEN]);
static uint64_t key_of(struct gvd_local *l, const struct conn *c)
{
    struct account *a = &l->acct[c->account];
    const struct gpu *g = &l->gpus[c->gpu];
    uint64_t clock = gvr_sched_vclock(
        &g->rec, gv_sched_key(a->priority, a->share ? a->policy : GV_POLICY_BEST_EFFORT, 0));
    uint64_t lag = gv_vtime_of(timeslice(l, g->uuid), a->share);
    /* An instance without a share here takes turns as best-effort, at a whole GPU's weight. */
    enum gv_policy policy = a->share ? a->policy : GV_POLICY_BEST_EFFORT;
    return gv_sched_key(a->priority, policy,
                        gv_budget_vtime(&a->budget, clock > lag ? clock - lag : 0));
}

/* Keep the token of GPU gi, just given up by a process of account `from`, for the process of
 * another instance that goes first (the lowest key; of equal keys, the one in line longest): it is woken now and comes to take it, and
 * meanwhile the process that gave it up, which runs already, must not take it back first. The
 * interposer's holder waits a moment for that too (shim/timeshare.c), but a daemon's wake-up can
 * take longer than a waiter's own compare-and-swap. A waiter that does not come loses the place
 * after RESERVE_NS. */
static void reserve(struct gvd_local *l, int gi, int from, uint64_t now)
{
    struct gpu *g = &l->gpus[gi];
    int best = -1;
    uint64_t best_key = 0;
    for (int k = 0; k < GVD_LOCAL_MAX_CONNS; k++) {
        const struct conn *o = &l->conns[k];
        if (o->state != TOKEN || o->gpu != gi || o->account == from || o->want_until <= now)
            continue;
        uint64_t key = key_of(l, o);
        if (best < 0 || key < best_key ||
            (key == best_key && o->want_since < l->conns[best].want_since)) {
            best = k;
            best_key = key;
        }
    }
    g->reserved = best;
    g->reserved_until = best >= 0 ? now + RESERVE_NS : 0;
}

/* Connection c (index i) gives the token up, if it holds it: charged, released, waiters woken. */
static void let_go(struct gvd_local *l, int i, uint64_t now)
{
    struct conn *c = &l->conns[i];
    struct gpu *g = &l->gpus[c->gpu];
    if (g->holder != i)
        return;
    charge(l, c, now);
    c->idle = false;
    gvr_sched_release_for(&g->rec, &c->peer);
    g->holder = -1;
    reserve(l, c->gpu, c->account, now);
}

/* ---- connections */

static void drop(struct gvd_local *l, int i)
{
    struct conn *c = &l->conns[i];
    if (c->state == FREE)
        return;
    if (c->state == TOKEN) {
        let_go(l, i, gv_now_ns());
        if (c->want_until)
            gvr_sched_want_for(&l->gpus[c->gpu].rec, &c->peer, 0, 0);
        if (l->gpus[c->gpu].reserved == i)
            l->gpus[c->gpu].reserved = -1;
        l->acct[c->account].refs--;
    }
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    l->live--;
}

/* Send reply p (with descriptor fd when >= 0) without waiting: a peer that does not read its
 * replies has no room left for one, and is dropped. Returns whether it went. */
static bool reply(struct gvd_local *l, int i, const struct gvr_drep *p, int fd)
{
    struct conn *c = &l->conns[i];
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec v = {.iov_base = (void *)p, .iov_len = sizeof(*p)};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        m.msg_control = ctl.buf;
        m.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &fd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(c->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(*p))
        return true;
    drop(l, i);
    return false;
}

/* A request out of place: say why (if the peer reads) and close. */
static void refuse(struct gvd_local *l, int i, uint32_t op, const char *why)
{
    struct gvr_drep p = {.status = -EPROTO, .op = op};
    snprintf(p.msg, sizeof(p.msg), "%s", why);
    if (reply(l, i, &p, -1))
        drop(l, i);
}

static unsigned count_uid(const struct gvd_local *l, uid_t uid)
{
    unsigned n = 0;
    for (unsigned i = 0; i < GVD_LOCAL_MAX_CONNS; i++)
        if (l->conns[i].state != FREE && l->conns[i].cred.uid == uid)
            n++;
    return n;
}

/* A connection that is not served: its peer is told why, before any request (region/daemon.h),
 * so that a client sees "too many connections" whether or not it has written yet, rather than a
 * connection that broke. An HTTP client gets the same bytes, which it cannot read: either way it
 * is refused. A new connection has room for one reply, which is sent without waiting. */
static void turn_away(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void turn_away(int fd, const char *fmt, ...)
{
    struct gvr_drep p = {.status = -EUSERS, .op = GVR_DOP_NONE};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p.msg, sizeof(p.msg), fmt, ap);
    va_end(ap);
    if (send(fd, &p, sizeof(p), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(p)) {
        /* a peer gone already, or out of room: it is closed all the same */
    }
    close(fd);
}

static void accept_some(struct gvd_local *l, uint64_t now)
{
    for (int k = 0; k < BATCH; k++) {
        int fd = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The queue stays readable: stop looking at it for a while rather than spin. */
                epoll_ctl(l->ep, EPOLL_CTL_DEL, l->listen_fd, NULL);
                l->accept_again = now + ACCEPT_PAUSE_NS;
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN: all taken */
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof(cred)) {
            close(fd);
            continue;
        }
        if (l->live >= GVD_LOCAL_MAX_CONNS) {
            turn_away(fd, "gpuvisord has %d connections, the most it serves: try again later",
                      GVD_LOCAL_MAX_CONNS);
            continue;
        }
        if (count_uid(l, cred.uid) >= GVD_LOCAL_MAX_PER_UID) {
            turn_away(fd,
                      "user %u has %d connections to gpuvisord, the most one user may have: "
                      "close some",
                      (unsigned)cred.uid, GVD_LOCAL_MAX_PER_UID);
            continue;
        }
        int i = 0;
        while (l->conns[i].state != FREE)
            i++;
        struct conn *c = &l->conns[i];
        memset(c, 0, sizeof(*c));
        c->fd = fd;
        c->cred = cred;
        c->state = FIRST;
        c->deadline = now + GVD_LOCAL_FIRST_NS;
        c->gpu = c->account = -1;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET | EPOLLRDHUP, .data.u64 = (uint64_t)i};
        if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            memset(c, 0, sizeof(*c));
            c->fd = -1;
            continue;
        }
        l->live++;
    }
}

/* FIRST: the magic, or HTTP. Peeked only: what is not the magic goes to HTTP whole. */
static void classify(struct gvd_local *l, int i)
{
    struct conn *c = &l->conns[i];
    char b[GVR_DAEMON_MAGIC_LEN];
    ssize_t n = recv(c->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop(l, i);
        return;
    }
    if (memcmp(b, GVR_DAEMON_MAGIC, (size_t)n) != 0) {
        int fd = c->fd;
        epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
        memset(c, 0, sizeof(*c));
        c->fd = -1;
        l->live--;
        if (l->ops.http)
            l->ops.http(l->ops.ctx, fd); /* the HTTP server's from now on, whatever it says */
        else
            close(fd);
        return;
    }
    if (n < (ssize_t)sizeof(b))
        return; /* a prefix of the magic: the next bytes decide (edge-triggered) */
    if (recv(c->fd, b, sizeof(b), MSG_DONTWAIT) != (ssize_t)sizeof(b)) {
        drop(l, i);
        return;
    }
    c->state = OPEN;
    /* Level-triggered from now on: a request already here is seen at the next wait. */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i};
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        drop(l, i);
}

static void fail(struct gvr_drep *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fill p as a refusal with status and a message. */
static void fail(struct gvr_drep *p, int status, const char *fmt, ...)
{
    p->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
    va_end(ap);
}

/* Ask the core whether the peer may join q->key. Returns its answer; on success the region's
 * descriptor in *fd and the instance in id, uuid, share. */
static int ask_join(struct gvd_local *l, struct conn *c, const struct gvr_dreq *q, int *fd,
                    char id[GVR_DAEMON_ID_LEN], uint8_t uuid[GV_UUID_LEN], uint32_t *share,
                    struct gvr_drep *p)
{
    struct gv_error e = {0};
    *fd = -1;
    memset(id, 0, GVR_DAEMON_ID_LEN);
    int rc = l->ops.join(l->ops.ctx, q->key, &c->cred, fd, id, uuid, share, &e);
    id[GVR_DAEMON_ID_LEN - 1] = 0;
    if (rc < 0) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        fail(p, rc, "%s", e.msg[0] ? e.msg : "no such instance");
    }
    return rc;
}

static void do_join(struct gvd_local *l, int i, const struct gvr_dreq *q)
{
    struct gvr_drep p = {.op = q->op};
    int fd;
    if (ask_join(l, &l->conns[i], q, &fd, p.id, p.uuid, &p.share, &p) == 0 && fd < 0)
        fail(&p, -EIO, "instance %s has no region", q->key);
    bool sent = reply(l, i, &p, fd);
    if (fd >= 0)
        close(fd);
    if (sent)
        drop(l, i);
}

static void do_hello(struct gvd_local *l, int i, const struct gvr_dreq *q, uint64_t now)
{
    struct conn *c = &l->conns[i];
    struct gvr_drep p = {.op = q->op};
    int fd, gi = -1, ai = -1;
    char state;
    struct gv_error e = {0};
    if (ask_join(l, c, q, &fd, p.id, p.uuid, &p.share, &p) < 0)
        goto refused;
    if (fd >= 0)
        close(fd);
    if (memcmp(p.uuid, q->uuid, GV_UUID_LEN) != 0) {
        char u[GV_UUID_TEXT];
        fail(&p, -ENOENT, "instance %s is not on GPU %s", q->key, gv_uuid_format(q->uuid, u));
        goto refused;
    }
    if ((gi = gpu_for(l, q->uuid, &e)) < 0) {
        fail(&p, gi, "%s", e.msg);
        goto refused;
    }
    c->peer.pid = c->cred.pid;
    c->peer.pidns = l->pidns;
    if (c->cred.pid <= 0 || gvr_proc_stat(c->cred.pid, &state, &c->peer.start) < 0) {
        fail(&p, -ESRCH, "process %d cannot be seen by gpuvisord", (int)c->cred.pid);
        goto refused;
    }
    if ((ai = account_for(l, p.id, q->uuid)) < 0) {
        fail(&p, -ENOMEM, "gpuvisord is out of memory");
        goto refused;
    }
    struct account *a = &l->acct[ai];
    a->share = p.share;
    a->share_at = now;
    a->gone = false;
    read_policy(l, a);
    a->refs++;
    c->state = TOKEN;
    c->gpu = gi;
    c->account = ai;
    c->deadline = 0;
    p.word = (uint64_t)c->cred.pid;
    reply(l, i, &p, gvr_sched_reader(&l->gpus[gi].rec));
    return;
refused:
    if (reply(l, i, &p, -1))
        drop(l, i);
}

/* Does a process of another instance than c's, with a lower key, stand in line for c's GPU? */
static bool other_waits(struct gvd_local *l, const struct conn *c, uint64_t now)
{
    uint64_t key = key_of(l, c);
    for (unsigned i = 0; i < GVD_LOCAL_MAX_CONNS; i++) {
        const struct conn *o = &l->conns[i];
        if (o->state == TOKEN && o->gpu == c->gpu && o->account != c->account &&
            o->want_until > now && key_of(l, o) < key)
            return true;
    }
    return false;
}

/* The time slice of GPU uuid now. */
static uint64_t timeslice(const struct gvd_local *l, const uint8_t uuid[GV_UUID_LEN])
{
    unsigned n = atomic_load_explicit(&l->nslices, memory_order_acquire);
    for (unsigned i = 0; i < n; i++)
        if (!memcmp(l->slices[i].uuid, uuid, GV_UUID_LEN))
            return atomic_load_explicit(&l->slices[i].ns, memory_order_relaxed);
    return GV_TIMESLICE_DEFAULT_NS;
}

/* The end of the slice granted to c for request q: what it asked, at most one time slice of its
 * GPU from now. */
static uint64_t slice_end(const struct gvd_local *l, const struct conn *c, const struct gvr_dreq *q,
                          uint64_t now)
{
    uint64_t end = q->until, most = now + timeslice(l, l->gpus[c->gpu].uuid);
    if (end > most)
        end = most;
    return end < now ? now : end;
}

/* A process of a limited instance wants or holds c's GPU: processes without a limit take turns. */
static void demand(struct gvd_local *l, const struct conn *c, uint64_t now)
{
    if (l->acct[c->account].share)
        gvr_sched_demand(&l->gpus[c->gpu].rec,
                         now + 2 * timeslice(l, l->gpus[c->gpu].uuid) + WANT_MAX_NS / 50);
}

static void stand_in_line(struct gvd_local *l, struct conn *c, uint64_t want, uint64_t now)
{
    if (c->want_until <= now)
        c->want_since = now;
    c->want_until = want > now + WANT_MAX_NS ? now + WANT_MAX_NS : want;
    gvr_sched_want_for(&l->gpus[c->gpu].rec, &c->peer, c->want_until, key_of(l, c));
    demand(l, c, now);
}

static void do_token(struct gvd_local *l, int i, const struct gvr_dreq *q, uint64_t now)
{
    struct conn *c = &l->conns[i];
    struct gpu *g = &l->gpus[c->gpu];
    struct account *a = &l->acct[c->account];
    struct gvr_drep p = {.op = q->op};
    bool holds = g->holder == i && gvr_sched_holds(&g->rec, &c->peer);
    uint64_t wait;
    if (q->op == GVR_DOP_RELEASE) {
        if (holds) { /* settled at what it used: let_go then charges nothing more */
            reported(c, now, q->used);
            pay(l, c, now, now, false);
            c->idle = true;
        }
        let_go(l, i, now);
        c->peer.mine = 0;
    } else if (q->op == GVR_DOP_IDLE) {
        if (!holds) {
            fail(&p, -EPERM, "this process does not hold the GPU's token (taken over)");
        } else {
            reported(c, now, q->used);
            pay(l, c, now, now, false);
            c->idle = true;
            bool wake = !(q->flags & GVR_DFLAG_QUIET);
            gvr_sched_idle_for(&g->rec, &c->peer, wake);
            if (wake)
                reserve(l, c->gpu, c->account, now);
        }
    } else if (q->op == GVR_DOP_WANT) {
        /* An instance whose time is spent waits for its budget, not in line: its place there
         * would only make the holder give the GPU up for nothing. */
        refresh_share(l, a, now);
        if (q->want && (wait = budget_wait(a, now))) {
            fail(&p, -EAGAIN, "instance %s has used its share of the GPU's time", a->id);
            p.until = wait;
        } else {
            stand_in_line(l, c, q->want, now);
        }
    } else if (q->op == GVR_DOP_EXTEND && !holds) {
        fail(&p, -EPERM, "this process does not hold the GPU's token (taken over)");
    } else if (q->op == GVR_DOP_TAKE && holds) {
        p.word = c->peer.mine;
        p.until = gvr_sched_slice_end(&g->rec);
    } else {
        if (holds) {
            reported(c, now, q->used);
            pay(l, c, now, now, false);
        }
        refresh_share(l, a, now);
        if (a->gone) {
            let_go(l, i, now);
            fail(&p, -ESHUTDOWN, "instance %s was deleted by gpuvisord", a->id);
        } else if ((wait = budget_wait(a, now))) {
            fail(&p, -EAGAIN, "instance %s has used its share of the GPU's time", a->id);
            p.until = wait;
            if (g->reserved == i)
                g->reserved = -1; /* it cannot take the place kept for it */
        } else if (q->op == GVR_DOP_EXTEND) {
            if (other_waits(l, c, now)) {
                fail(&p, -EBUSY, "an instance that goes first waits for the GPU");
            } else {
                p.until = slice_end(l, c, q, now);
                gvr_sched_extend_for(&g->rec, &c->peer, p.until);
                pay(l, c, now, p.until, false);
                gvr_sched_clock_to(&g->rec, key_of(l, c));
                demand(l, c, now);
            }
        } else {
            uint64_t from;
            bool kept = g->reserved >= 0 && g->reserved != i && now < g->reserved_until;
            p.until = slice_end(l, c, q, now);
            uint64_t key = key_of(l, c);
            if (!kept && gvr_sched_take_for(&g->rec, &c->peer, now, p.until,
                                            q->flags & GVR_DFLAG_CHECK, key, &from)) {
                if (g->holder >= 0 && g->holder != i)
                    charge(l, &l->conns[g->holder], now); /* taken over: paid up to now */
                g->holder = i;
                g->reserved = -1;
                c->took_at = now;
                c->charged = 0;
                c->used = 0;
                c->idle = false;
                pay(l, c, now, p.until, false);
                gvr_sched_clock_to(&g->rec, key);
                demand(l, c, now);
                c->want_until = 0;
                p.word = c->peer.mine;
            } else {
                p.until = 0;
                if (q->want)
                    stand_in_line(l, c, q->want, now);
                fail(&p, -EBUSY, "the GPU's token is held by another process");
            }
        }
    }
    reply(l, i, &p, -1);
}

/* OPEN or TOKEN: read what there is of a request; serve it once it is whole. */
static void on_request(struct gvd_local *l, int i)
{
    struct conn *c = &l->conns[i];
    ssize_t n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        drop(l, i);
        return;
    }
    c->have += (size_t)n;
    if (c->have < sizeof(c->buf))
        return;
    c->have = 0;
    struct gvr_dreq q;
    memcpy(&q, c->buf, sizeof(q));
    struct gv_error e = {0};
    uint64_t now = gv_now_ns();
    bool token_op = q.op != GVR_DOP_JOIN && q.op != GVR_DOP_HELLO;
    if (gvr_dreq_check(&q, &e) < 0)
        refuse(l, i, q.op, e.msg);
    else if (c->state == OPEN && token_op)
        refuse(l, i, q.op, "request: HELLO first");
    else if (c->state == TOKEN && !token_op)
        refuse(l, i, q.op, "request: this connection already speaks for an instance");
    else if (q.op == GVR_DOP_JOIN)
        do_join(l, i, &q);
    else if (q.op == GVR_DOP_HELLO)
        do_hello(l, i, &q, now);
    else
        do_token(l, i, &q, now);
}

/* ---- the loop */

/* Deadlines, the paused queue, and the holders whose processes are gone (a process that died
 * while its connection lives on in another that inherited it). */
static void housekeeping(struct gvd_local *l, uint64_t now)
{
    for (int i = 0; i < GVD_LOCAL_MAX_CONNS; i++) {
        struct conn *c = &l->conns[i];
        if ((c->state == FIRST || c->state == OPEN) && now >= c->deadline)
            drop(l, i);
    }
    if (l->accept_again && now >= l->accept_again) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = KEY_LISTEN};
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->listen_fd, &ev);
        l->accept_again = 0;
    }
    if (now < l->next_watch)
        return;
    l->next_watch = now + WATCH_NS;
    for (unsigned k = 0; k < l->ngpu; k++) {
        int h = l->gpus[k].holder;
        if (h >= 0 && gvr_proc_gone(l->conns[h].peer.pid, l->conns[h].peer.start))
            let_go(l, h, now);
    }
    prune_accounts(l, now);
}

static int timeout_ms(const struct gvd_local *l, uint64_t now)
{
    uint64_t next = l->next_watch;
    if (l->accept_again && l->accept_again < next)
        next = l->accept_again;
    for (int i = 0; i < GVD_LOCAL_MAX_CONNS; i++) {
        const struct conn *c = &l->conns[i];
        if ((c->state == FIRST || c->state == OPEN) && c->deadline < next)
            next = c->deadline;
    }
    return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

static void *run(void *arg)
{
    struct gvd_local *l = arg;
    struct epoll_event ev[BATCH];
    for (;;) {
        int n = epoll_wait(l->ep, ev, BATCH, timeout_ms(l, gv_now_ns()));
        if (n < 0 && errno != EINTR)
            break;
        uint64_t now = gv_now_ns();
        for (int k = 0; k < n; k++) {
            uint64_t key = ev[k].data.u64;
            if (key == KEY_WAKE)
                return NULL;
            if (key == KEY_LISTEN) {
                accept_some(l, now);
                continue;
            }
            int i = (int)key;
            if (l->conns[i].state == FIRST)
                classify(l, i);
            else if (l->conns[i].state != FREE)
                on_request(l, i);
        }
        housekeeping(l, gv_now_ns());
    }
    return NULL;
}

/* ---- start and stop */

/* Records an earlier daemon left: reset now, so that their waiters come back to ask. */
static void reset_records(struct gvd_local *l)
{
    int fd = dup(l->sched_dir);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    const char *suffix = ".sched";
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), s = strlen(suffix);
        uint8_t uuid[GV_UUID_LEN];
        char want[GV_UUID_TEXT + 8];
        if (n <= s || strcmp(e->d_name + n - s, suffix) != 0 ||
            gv_uuid_parse(e->d_name, n - s, GV_UUID_PREFIXED, uuid, NULL) < 0)
            continue;
        gvr_sched_file(uuid, want);
        if (strcmp(want, e->d_name) == 0)
            gpu_for(l, uuid, NULL);
    }
    closedir(d);
}

static void raise_nofile(void)
{
    struct rlimit r;
    rlim_t want = 2 * GVD_LOCAL_MAX_CONNS + 256;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < want) {
        r.rlim_cur = r.rlim_max < want ? r.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static void release_all(struct gvd_local *l)
{
    for (int i = 0; i < GVD_LOCAL_MAX_CONNS; i++)
        drop(l, i);
    for (unsigned k = 0; k < l->ngpu; k++)
        gvr_sched_close(&l->gpus[k].rec);
    if (l->ep >= 0)
        close(l->ep);
    if (l->wake >= 0)
        close(l->wake);
    if (l->sched_dir >= 0)
        close(l->sched_dir);
    free(l->acct);
    pthread_mutex_destroy(&l->slices_lock);
    free(l);
}

int gvd_local_start(struct gvd_local **out, int listen_fd, const char *run_dir,
                    const struct gvd_local_ops *ops, struct gv_error *err)
{
    *out = NULL;
    if (!ops || !ops->join || !ops->share)
        return gv_error_set(err, -EINVAL, "gpuvisord local socket: join and share are needed");
    struct gvd_local *l = calloc(1, sizeof(*l));
    if (!l)
        return gv_error_set(err, -ENOMEM, "gpuvisord local socket: out of memory");
    l->ops = *ops;
    l->listen_fd = listen_fd;
    pthread_mutex_init(&l->slices_lock, NULL);
    l->ep = l->wake = -1;
    for (int i = 0; i < GVD_LOCAL_MAX_CONNS; i++)
        l->conns[i].fd = -1;
    l->pidns = gvr_proc_own_pidns();
    char path[4096];
    int rc = 0;
    struct stat st;
    snprintf(path, sizeof(path), "%s/sched", run_dir);
    l->sched_dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (l->sched_dir < 0)
        rc = gv_error_set(err, -errno, "GPU token directory %s: %s", path, strerror(errno));
    else if (fstat(l->sched_dir, &st) < 0 || st.st_uid != geteuid() ||
             (st.st_mode & (S_IWGRP | S_IWOTH)))
        rc = gv_error_set(err, -EPERM,
                          "GPU token directory %s must belong to gpuvisord's user and be "
                          "writable by nobody else",
                          path);
    int fl = fcntl(listen_fd, F_GETFL);
    if (rc == 0 && (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0))
        rc = gv_error_set(err, -errno, "local socket: %s", strerror(errno));
    if (rc == 0) {
        l->ep = epoll_create1(EPOLL_CLOEXEC);
        l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event a = {.events = EPOLLIN, .data.u64 = KEY_LISTEN};
        struct epoll_event b = {.events = EPOLLIN, .data.u64 = KEY_WAKE};
        if (l->ep < 0 || l->wake < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, listen_fd, &a) < 0 ||
            epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &b) < 0)
            rc = gv_error_set(err, -errno, "local socket: epoll: %s", strerror(errno));
    }
    if (rc == 0) {
        reset_records(l);
        raise_nofile();
        /* The thread takes no process-directed signals: they are the daemon's main thread's. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int e = pthread_create(&l->thread, NULL, run, l);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (e)
            rc = gv_error_set(err, -e, "local socket: thread: %s", strerror(e));
    }
    if (rc < 0) {
        if (l->ep >= 0)
            epoll_ctl(l->ep, EPOLL_CTL_DEL, listen_fd, NULL);
        release_all(l);
        return rc;
    }
    *out = l;
    return 0;
}

void gvd_local_set_timeslice(struct gvd_local *l, const uint8_t uuid[16], uint64_t ns)
{
    if (!l)
        return;
    ns = ns < GV_TIMESLICE_MIN_NS   ? GV_TIMESLICE_MIN_NS
         : ns > GV_TIMESLICE_MAX_NS ? GV_TIMESLICE_MAX_NS
                                    : ns;
    pthread_mutex_lock(&l->slices_lock);
    unsigned n = atomic_load_explicit(&l->nslices, memory_order_relaxed), i = 0;
    while (i < n && memcmp(l->slices[i].uuid, uuid, GV_UUID_LEN) != 0)
        i++;
    if (i < n) {
        atomic_store_explicit(&l->slices[i].ns, ns, memory_order_relaxed);
    } else if (n < GV_MAX_GPUS) {
        memcpy(l->slices[n].uuid, uuid, GV_UUID_LEN);
        atomic_store_explicit(&l->slices[n].ns, ns, memory_order_relaxed);
        atomic_store_explicit(&l->nslices, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&l->slices_lock);
}

void gvd_local_stop(struct gvd_local *l)
{
    if (!l)
        return;
    uint64_t one = 1;
    if (write(l->wake, &one, sizeof(one)) != sizeof(one)) {
        /* an eventfd takes a write until its counter is near 2^64: cannot fail here */
    }
    pthread_join(l->thread, NULL);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, l->listen_fd, NULL);
    release_all(l);
}
