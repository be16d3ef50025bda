/* SPDX-License-Identifier: Apache-2.0 */
/* engine.c: execution on the simulated devices: streams, events, and device time.
 *
 * Every operation a program queues (a copy, a kernel, an event record, a host callback) goes on a
 * stream, a FIFO. One worker thread per device in each process runs the process's streams for that
 * device: it takes the ready operation that was queued first, so streams of one process share the
 * device one operation at a time, as kernels from one context mostly do on a GPU.
 *
 * Device time is shared across processes through a scheduler record per device in the machine
 * file. A worker with work must own the device to run it. The owner runs its work in chunks that
 * end no later than its time slice; when the slice is over it hands the device to the next process
 * that wants it, in slot order (round robin), or keeps it when nobody else does. A worker with
 * nothing ready gives the device up at once. Chunks are laid end to end on a virtual device clock
 * (`busy_until`): a chunk starts where the last one ended when the device has been continuously
 * wanted, and the worker sleeps until the chunk's end with an absolute deadline, so sleep overshoot
 * never accumulates into lost device time. Waiters sleep on a futex in the record with a timeout,
 * and check whether the owner is still alive when they wake: a process killed while owning the
 * device loses it within a few milliseconds.
 *
 * Events carry device timestamps: a record completes at the end of the work ahead of it on its
 * stream or, if the stream had caught up when it was queued, when the device reaches it: as a GPU's
 * front end takes a record and the launch behind it together and stamps the record just before the
 * work starts, however late the host thread that queued it is. A record on a caught-up stream with
 * work queued behind it is stamped when that work starts; with nothing behind it yet, the worker
 * waits up to RECORD_WAIT_NS for the work the host is about to queue (the launch that follows a
 * record), and stamps it then, or at once. */
#define __CUDA_API_VERSION_INTERNAL 1
#include "sim/sim.h"

#include "core/futex.h"

#include <cudaTypedefs.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SLICE_DEFAULT_NS 2000000ull
#define MS               1000000ull
/* An owner this far past the end of its slice without handing over is taken to be stopped
 * (SIGSTOP, a debugger): the device moves on rather than wedge. */
#define STUCK_NS (200 * MS)
/* While the device stays wanted, the next chunk starts where the last one ended if that is at
 * most this far in the past: a worker woken late by a busy host catches up instead of losing the
 * time, so device time does not stretch with the host's load. */
#define CONTINUE_NS (20 * MS)
/* How long a record on a caught-up stream waits for the work queued behind it (see above). */
#define RECORD_WAIT_NS 30000ull

/* The scheduler record, in the machine file (GVSIM_SCHED_BYTES, zero at creation). Changed only
 * under gvsim_sched_lock; atomics so that waiters may peek without it. */
struct sched {
    _Atomic uint32_t seq;        /* futex word: bumped whenever the device changes hands */
    _Atomic uint32_t owner;      /* slot + 1 of the process running on the device; 0: nobody */
    _Atomic uint64_t slice_end;  /* when the owner's time slice ends, ns */
    _Atomic uint64_t busy_until; /* the device clock: end of the last chunk of work granted */
    _Atomic uint32_t idle;       /* nobody wanted the device since busy_until */
};
_Static_assert(sizeof(struct sched) <= GVSIM_SCHED_BYTES, "scheduler record too large");

enum op_kind { OP_WORK, OP_HOST, OP_RECORD, OP_WAIT, OP_CALLBACK };

struct op {
    struct op *next;
    enum op_kind kind;
    uint64_t ticket; /* process-wide queue order */
    uint64_t enq_ns;
    /* OP_WORK */
    uint64_t remaining_ns;
    bool started;
    void (*fn)(void *);
    void *arg;
    /* OP_RECORD, OP_WAIT */
    struct gvsim_event *ev;
    uint64_t ev_seq;
    bool held; /* OP_RECORD: already waited for the work that follows it */
    /* OP_WORK: an event recorded just before it on its caught-up stream, stamped when it starts */
    struct gvsim_event *stamp_ev;
    uint64_t stamp_seq;
    /* OP_CALLBACK */
    CUstreamCallback cb;
    CUstream cb_stream;
};

enum stream_kind { ST_CREATED, ST_LEGACY, ST_PER_THREAD };

/* A stream. Invariants (under eng): ops head..tail are queued and not complete, the head is the
 * only one that may have started; done <= queued; a stream is on the `streams` list until freed,
 * and freed only when its handle is gone, it is drained, and nobody waits on it. */
struct gvsim_stream {
    struct gvsim_stream *next;
    struct gvsim_ctx *ctx;
    int dev;
    enum stream_kind kind;
    unsigned flags;
    int priority;
    pid_t tid; /* ST_PER_THREAD: the thread it belongs to */
    struct op *head, *tail;
    uint64_t queued, done;
    uint64_t last_end_ns; /* device time at which the last completed op ended */
    bool handle_dead;
    int waiters;
};

/* An event. recorded counts records queued, completed those done; ts_ns is the timestamp of the
 * latest completed record. refs: the handle, each queued op naming it, each waiter. */
struct gvsim_event {
    struct gvsim_event *next;
    struct gvsim_ctx *ctx;
    unsigned flags;
    bool handle_dead;
    int refs;
    uint64_t recorded, completed;
    uint64_t ts_ns;
};

struct gvsim_engine_ctx {
    struct gvsim_stream *legacy;
};

struct worker {
    bool started;
    pthread_cond_t cv;
    /* Touched only by the worker thread itself. */
    bool owning, wanting;
};

static pthread_mutex_t eng = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static struct gvsim_stream *streams;
static struct gvsim_event *events;
static struct worker workers[GVSIM_MAX_DEVICES];
static uint64_t next_ticket = 1;
static uint64_t slice_ns = SLICE_DEFAULT_NS;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------------ set-up and fork */

static void fork_prepare(void)
{
    pthread_mutex_lock(&eng);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&eng);
}

/* The child has none of the parent's worker threads: its copies of the parent's queues can never
 * run, so they are dropped as if complete, and workers start afresh on the child's first work. */
static void fork_child(void)
{
    pthread_mutex_init(&eng, NULL);
    pthread_cond_init(&done_cv, NULL);
    for (int d = 0; d < GVSIM_MAX_DEVICES; d++) {
        workers[d].started = false;
        workers[d].owning = workers[d].wanting = false;
        pthread_cond_init(&workers[d].cv, NULL);
    }
    for (struct gvsim_stream *s = streams; s; s = s->next) {
        s->head = s->tail = NULL; /* leaked on purpose: freeing could run arbitrary destructors */
        s->done = s->queued;
        s->waiters = 0;
    }
    for (struct gvsim_event *e = events; e; e = e->next)
        e->completed = e->recorded;
}

static void engine_init(void)
{
    for (int d = 0; d < GVSIM_MAX_DEVICES; d++)
        pthread_cond_init(&workers[d].cv, NULL);
    const char *env = getenv("GPUVISOR_SIM_TIMESLICE_US");
    if (env) {
        char *end;
        errno = 0;
        unsigned long long us = strtoull(env, &end, 10);
        if (errno || end == env || *end || us < 100 || us > 10000000)
            fprintf(stderr,
                    "gpuvisor-sim: GPUVISOR_SIM_TIMESLICE_US=\"%s\": not a number of microseconds "
                    "from 100 to 10000000; using 2000\n",
                    env);
        else
            slice_ns = us * 1000;
    }
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void engine_once_init(void)
{
    pthread_once(&engine_once, engine_init);
}

/* ------------------------------------------------------------------ the device scheduler */

static void sleep_until(uint64_t t_ns)
{
    struct timespec ts = gv_timespec(t_ns);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* Caller holds the scheduler lock. */
static void grant(struct sched *sc, int slot, uint64_t now)
{
    atomic_store(&sc->owner, (uint32_t)slot + 1);
    uint64_t bu = atomic_load(&sc->busy_until);
    atomic_store(&sc->slice_end, (bu > now ? bu : now) + slice_ns);
    atomic_fetch_add(&sc->seq, 1);
}

/* Block until this process owns device `dev` with slice time left, then reserve the next chunk of
 * up to `want` ns on the device clock: [*start, *start + *chunk). */
static void sched_acquire(struct worker *w, int dev, uint64_t want, uint64_t *start,
                          uint64_t *chunk)
{
    struct sched *sc = gvsim_sched_record(dev);
    int me = gvsim_self_slot();
    if (!sc || me < 0) {
        /* No slot (the machine is full): run unshared rather than not at all. */
        *start = gv_now_ns();
        *chunk = want;
        return;
    }
    if (!w->wanting) {
        gvsim_slot_want(dev, true);
        w->wanting = true;
    }
    for (;;) {
        gvsim_sched_lock(dev);
        uint64_t now = gv_now_ns();
        uint32_t owner = atomic_load(&sc->owner);
        bool mine = false;
        if (owner == (uint32_t)me + 1) {
            if (now < atomic_load(&sc->slice_end)) {
                mine = true;
            } else {
                int next = gvsim_next_wanting(dev, me);
                if (next >= 0) {
                    grant(sc, next, now);
                    gv_futex_wake(&sc->seq);
                } else {
                    atomic_store(&sc->slice_end, now + slice_ns);
                    mine = true;
                }
            }
        } else if (owner == 0 || !gvsim_slot_alive((int)owner - 1) ||
                   now > atomic_load(&sc->slice_end) + STUCK_NS) {
            grant(sc, me, now);
            mine = true;
        }
        if (mine) {
            w->owning = true;
            uint64_t bu = atomic_load(&sc->busy_until);
            uint64_t st = (atomic_load(&sc->idle) || bu + CONTINUE_NS < now) ? now : bu;
            uint64_t se = atomic_load(&sc->slice_end);
            uint64_t c = se > st ? se - st : slice_ns;
            if (c > want)
                c = want;
            atomic_store(&sc->busy_until, st + c);
            atomic_store(&sc->idle, 0);
            gvsim_sched_unlock(dev);
            *start = st;
            *chunk = c;
            return;
        }
        w->owning = false;
        uint32_t seq = atomic_load(&sc->seq);
        uint64_t se = atomic_load(&sc->slice_end);
        gvsim_sched_unlock(dev);
        /* Wake at the owner's slice end (or soon after) to check it is still there. */
        uint64_t wait = se > now ? se - now + MS : 2 * MS;
        if (wait > 20 * MS)
            wait = 20 * MS;
        gv_futex_wait(&sc->seq, seq, wait);
    }
}

/* This process has no ready work for the device: stop wanting it and let it go at once. */
static void sched_release(struct worker *w, int dev)
{
    struct sched *sc = gvsim_sched_record(dev);
    int me = gvsim_self_slot();
    if (!sc || me < 0)
        return;
    gvsim_sched_lock(dev);
    gvsim_slot_want(dev, false);
    w->wanting = false;
    if (atomic_load(&sc->owner) == (uint32_t)me + 1) {
        /* Pass the device on rather than drop it: a process whose kernels come in short bursts
         * would otherwise take it back before a waiter has even woken, every time. */
        int next = gvsim_next_wanting(dev, me);
        if (next >= 0) {
            grant(sc, next, gv_now_ns());
        } else {
            atomic_store(&sc->owner, 0);
            atomic_store(&sc->idle, 1);
            atomic_fetch_add(&sc->seq, 1);
        }
        gv_futex_wake(&sc->seq);
    }
    w->owning = false;
    gvsim_sched_unlock(dev);
}

/* ------------------------------------------------------------------ streams and the worker */

static struct gvsim_stream *find_stream(const void *h)
{
    for (struct gvsim_stream *s = streams; s; s = s->next)
        if ((const void *)s == h && !s->handle_dead)
            return s;
    return NULL;
}

static struct gvsim_event *find_event(const void *h)
{
    for (struct gvsim_event *e = events; e; e = e->next)
        if ((const void *)e == h && !e->handle_dead)
            return e;
    return NULL;
}

static void event_unref(struct gvsim_event *e)
{
    if (--e->refs > 0)
        return;
    for (struct gvsim_event **p = &events; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    free(e);
}

static void stream_free(struct gvsim_stream *s)
{
    for (struct gvsim_stream **p = &streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    if (s->ctx && s->ctx->engine && s->ctx->engine->legacy == s)
        s->ctx->engine->legacy = NULL;
    free(s);
}

static void stream_maybe_free(struct gvsim_stream *s)
{
    if (s->handle_dead && !s->head && s->waiters == 0)
        stream_free(s);
}

static void wake_all_locked(void)
{
    pthread_cond_broadcast(&done_cv);
    for (int d = 0; d < GVSIM_MAX_DEVICES; d++)
        if (workers[d].started)
            pthread_cond_signal(&workers[d].cv);
}

/* Caller holds eng; op is s's head. */
static void complete(struct gvsim_stream *s, struct op *op, uint64_t end_ns)
{
    s->head = op->next;
    if (!s->head)
        s->tail = NULL;
    s->done++;
    if (end_ns > s->last_end_ns)
        s->last_end_ns = end_ns;
    if (op->ev)
        event_unref(op->ev);
    free(op->arg);
    free(op);
    wake_all_locked();
    stream_maybe_free(s);
}

static struct gvsim_stream *legacy_of(struct gvsim_ctx *ctx)
{
    return ctx && ctx->engine ? ctx->engine->legacy : NULL;
}

/* Whether the head op of s may run now. The legacy default stream waits for all earlier work of
 * the context's blocking streams, and they wait for its earlier work (CUDA's implicit
 * synchronization); every such dependency points at an op queued earlier, so there are no cycles.
 */
static bool ready(const struct gvsim_stream *s, const struct op *op)
{
    if (op->kind == OP_WAIT && op->ev->completed < op->ev_seq)
        return false;
    if (s->kind == ST_LEGACY) {
        for (struct gvsim_stream *t = streams; t; t = t->next)
            if (t != s && t->ctx == s->ctx && !(t->flags & CU_STREAM_NON_BLOCKING) && t->head &&
                t->head->ticket < op->ticket)
                return false;
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
        const struct gvsim_stream *l = legacy_of(s->ctx);
        if (l && l->head && l->head->ticket < op->ticket)
            return false;
    }
    return true;
}

/* The ready head op queued earliest among the process's streams on `dev`. */
/* Stamp the event recorded just before work op, which starts at `start` (eng not held). */
static void stamp_at(struct op *op, uint64_t start)
{
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = op->stamp_ev;
    if (op->stamp_seq > e->completed) {
        e->completed = op->stamp_seq;
        e->ts_ns = start;
    }
    op->stamp_ev = NULL;
    event_unref(e);
    wake_all_locked();
    pthread_mutex_unlock(&eng);
}

static struct op *pick(int dev, struct gvsim_stream **from)
{
    struct op *best = NULL;
    for (struct gvsim_stream *s = streams; s; s = s->next) {
        if (s->dev != dev || !s->head)
            continue;
        if ((!best || s->head->ticket < best->ticket) && ready(s, s->head)) {
            best = s->head;
            *from = s;
        }
    }
    return best;
}

static void *worker_main(void *arg)
{
    int dev = (int)(intptr_t)arg;
    struct worker *w = &workers[dev];
    /* Chunk ends are absolute deadlines a few hundred microseconds apart: the default 50 us
     * timer slack would be a visible error on every one. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    pthread_mutex_lock(&eng);
    for (;;) {
        struct gvsim_stream *s = NULL;
        struct op *op = pick(dev, &s);
        if (!op) {
            if (w->owning || w->wanting) {
                pthread_mutex_unlock(&eng);
                sched_release(w, dev);
                pthread_mutex_lock(&eng);
                continue; /* work may have arrived meanwhile */
            }
            pthread_cond_wait(&w->cv, &eng);
            continue;
        }
        uint64_t now = gv_now_ns();
        switch (op->kind) {
        case OP_RECORD: {
            struct gvsim_event *e = op->ev;
            bool caught_up = s->last_end_ns <= op->enq_ns;
            if (caught_up && !op->next && !op->held && op->ev_seq > e->completed) {
                /* The launch that follows a record may be on its way: wait for it a moment. */
                op->held = true;
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t t = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec +
                             RECORD_WAIT_NS;
                ts.tv_sec = (time_t)(t / 1000000000ull);
                ts.tv_nsec = (long)(t % 1000000000ull);
                pthread_cond_timedwait(&w->cv, &eng, &ts);
                continue;
            }
            if (op->ev_seq > e->completed) {
                struct op *next = op->next;
                if (caught_up && next && next->kind == OP_WORK && !next->started &&
                    !next->stamp_ev) {
                    next->stamp_ev = e; /* stamped when the work starts */
                    next->stamp_seq = op->ev_seq;
                    e->refs++;
                } else {
                    e->completed = op->ev_seq;
                    e->ts_ns = caught_up ? now : s->last_end_ns;
                }
            }
            complete(s, op, 0);
            break;
        }
        case OP_WAIT:
            complete(s, op, 0);
            break;
        case OP_HOST:
        case OP_CALLBACK:
            /* User code may take its time: not while holding the device. */
            pthread_mutex_unlock(&eng);
            if (w->owning || w->wanting)
                sched_release(w, dev);
            if (op->kind == OP_HOST)
                op->fn(op->arg);
            else
                op->cb(op->cb_stream, CUDA_SUCCESS, op->arg);
            op->arg = NULL; /* the caller's, not ours to free */
            pthread_mutex_lock(&eng);
            complete(s, op, gv_now_ns());
            break;
        case OP_WORK: {
            bool first = !op->started;
            op->started = true;
            uint64_t want = op->remaining_ns;
            pthread_mutex_unlock(&eng);
            if (want == 0) {
                if (first && op->stamp_ev)
                    stamp_at(op, now);
                if (first && op->fn)
                    op->fn(op->arg);
                pthread_mutex_lock(&eng);
                complete(s, op, now);
                break;
            }
            uint64_t start, chunk;
            sched_acquire(w, dev, want, &start, &chunk);
            if (first && op->stamp_ev)
                stamp_at(op, start);
            if (first && op->fn)
                op->fn(op->arg);
            sleep_until(start + chunk);
            gvsim_busy_add(dev, chunk);
            pthread_mutex_lock(&eng);
            op->remaining_ns -= chunk;
            if (op->remaining_ns == 0)
                complete(s, op, start + chunk);
            break;
        }
        }
    }
    return NULL;
}

/* Caller holds eng. */
static void start_worker(int dev)
{
    struct worker *w = &workers[dev];
    if (w->started)
        return;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    /* Signals are for the program's own threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t th;
    if (pthread_create(&th, &a, worker_main, (void *)(intptr_t)dev) == 0)
        w->started = true;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
}

/* Caller holds eng. Takes ownership of op. */
static void enqueue_locked(struct gvsim_stream *s, struct op *op)
{
    op->ticket = next_ticket++;
    op->enq_ns = gv_now_ns();
    op->next = NULL;
    if (s->tail)
        s->tail->next = op;
    else
        s->head = op;
    s->tail = op;
    s->queued++;
    start_worker(s->dev);
    pthread_cond_signal(&workers[s->dev].cv);
}

static struct gvsim_stream *stream_new(struct gvsim_ctx *ctx, enum stream_kind kind, unsigned flags,
                                       int priority)
{
    struct gvsim_stream *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->ctx = ctx;
    s->dev = ctx->dev;
    s->kind = kind;
    s->flags = flags;
    s->priority = priority;
    s->next = streams;
    streams = s;
    return s;
}

/* Caller holds eng. */
static struct gvsim_stream *legacy_stream(struct gvsim_ctx *ctx)
{
    if (!ctx->engine) {
        ctx->engine = calloc(1, sizeof(*ctx->engine));
        if (!ctx->engine)
            return NULL;
    }
    if (!ctx->engine->legacy)
        ctx->engine->legacy = stream_new(ctx, ST_LEGACY, 0, 0);
    return ctx->engine->legacy;
}

/* Caller holds eng. */
static struct gvsim_stream *per_thread_stream(struct gvsim_ctx *ctx)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    for (struct gvsim_stream *s = streams; s; s = s->next)
        if (s->kind == ST_PER_THREAD && s->ctx == ctx && s->tid == tid && !s->handle_dead)
            return s;
    struct gvsim_stream *s = stream_new(ctx, ST_PER_THREAD, 0, 0);
    if (s)
        s->tid = tid;
    return s;
}

static bool special_stream(CUstream h)
{
    return h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD;
}

struct gvsim_stream *gvsim_stream_resolve(struct gvsim_ctx *ctx, CUstream h, bool per_thread)
{
    engine_once_init();
    struct gvsim_stream *s = NULL;
    /* Asked before taking eng: cuda_ctx.c may hold its own lock when it calls into the engine. */
    bool ctx_ok = special_stream(h) && ctx && gvsim_ctx_valid(ctx);
    pthread_mutex_lock(&eng);
    if (!special_stream(h))
        s = find_stream(h);
    else if (ctx_ok)
        s = (h == CU_STREAM_PER_THREAD || (h == NULL && per_thread)) ? per_thread_stream(ctx)
                                                                     : legacy_stream(ctx);
    pthread_mutex_unlock(&eng);
    return s;
}

int gvsim_stream_dev(const struct gvsim_stream *s)
{
    return s->dev;
}

static CUresult enqueue(struct gvsim_stream *s, struct op *op)
{
    pthread_mutex_lock(&eng);
    if (!find_stream(s)) {
        pthread_mutex_unlock(&eng);
        free(op);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    enqueue_locked(s, op);
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

CUresult gvsim_stream_work(struct gvsim_stream *s, uint64_t cost_ns, void (*fn)(void *), void *arg)
{
    struct op *op = calloc(1, sizeof(*op));
    if (!op) {
        free(arg);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    op->kind = OP_WORK;
    op->remaining_ns = cost_ns;
    op->fn = fn;
    op->arg = arg;
    CUresult r = enqueue(s, op);
    if (r != CUDA_SUCCESS)
        free(arg);
    return r;
}

CUresult gvsim_stream_host_op(struct gvsim_stream *s, void (*fn)(void *), void *arg)
{
    if (!s || !fn)
        return CUDA_ERROR_INVALID_VALUE;
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    op->kind = OP_HOST;
    op->fn = fn;
    op->arg = arg;
    return enqueue(s, op);
}

/* Caller holds eng; s is live. Waits for what is queued on s now. */
static void stream_wait_locked(struct gvsim_stream *s)
{
    uint64_t target = s->queued;
    s->waiters++;
    while (s->done < target)
        pthread_cond_wait(&done_cv, &eng);
    s->waiters--;
    stream_maybe_free(s);
}

CUresult gvsim_stream_sync(struct gvsim_stream *s)
{
    pthread_mutex_lock(&eng);
    if (!find_stream(s)) {
        pthread_mutex_unlock(&eng);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    stream_wait_locked(s);
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

CUresult gvsim_ctx_sync(struct gvsim_ctx *ctx)
{
    engine_once_init();
    pthread_mutex_lock(&eng);
    for (;;) {
        struct gvsim_stream *busy = NULL;
        for (struct gvsim_stream *s = streams; s && !busy; s = s->next)
            if (s->ctx == ctx && s->done < s->queued)
                busy = s;
        if (!busy)
            break;
        pthread_cond_wait(&done_cv, &eng);
    }
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

void gvsim_ctx_drop_streams(struct gvsim_ctx *ctx)
{
    gvsim_ctx_sync(ctx);
    pthread_mutex_lock(&eng);
    struct gvsim_stream **p = &streams;
    while (*p) {
        struct gvsim_stream *s = *p;
        if (s->ctx == ctx && s->done >= s->queued && s->waiters == 0) {
            *p = s->next;
            free(s);
        } else {
            if (s->ctx == ctx)
                s->handle_dead = true; /* work queued since the sync: freed once drained */
            p = &s->next;
        }
    }
    for (struct gvsim_stream *s = streams; s; s = s->next)
        if (s->ctx == ctx)
            s->ctx = NULL;
    free(ctx->engine);
    ctx->engine = NULL;
    for (struct gvsim_event *e = events, *next; e; e = next) {
        next = e->next;
        if (e->ctx == ctx && !e->handle_dead) {
            e->handle_dead = true;
            event_unref(e);
        }
    }
    pthread_mutex_unlock(&eng);
}

/* ------------------------------------------------------------------ the driver API: streams */

/* The stream a handle names: created streams need no current context, the default streams are
 * the current context's. */
static CUresult get_stream(CUstream h, bool per_thread, struct gvsim_stream **out)
{
    struct gvsim_ctx *ctx = NULL;
    CUresult r = special_stream(h) ? gvsim_current(&ctx) : gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    *out = gvsim_stream_resolve(ctx, h, per_thread);
    return *out ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult stream_create(CUstream *ph, unsigned flags, int priority)
{
    if (!ph)
        return CUDA_ERROR_INVALID_VALUE;
    if (flags & ~(unsigned)CU_STREAM_NON_BLOCKING)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_ctx *ctx;
    CUresult r = gvsim_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    /* As the driver does, clamp to the range cuCtxGetStreamPriorityRange reports: [-5, 0]. */
    if (priority < -5)
        priority = -5;
    if (priority > 0)
        priority = 0;
    pthread_mutex_lock(&eng);
    struct gvsim_stream *s = stream_new(ctx, ST_CREATED, flags, priority);
    pthread_mutex_unlock(&eng);
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    *ph = (CUstream)s;
    return CUDA_SUCCESS;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    return stream_create(phStream, Flags, 0);
}
GVSIM_ABI(cuStreamCreate, PFN_cuStreamCreate_v2000);

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority)
{
    return stream_create(phStream, flags, priority);
}
GVSIM_ABI(cuStreamCreateWithPriority, PFN_cuStreamCreateWithPriority_v5050);

CUresult cuStreamDestroy_v2(CUstream hStream)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    if (special_stream(hStream))
        return CUDA_ERROR_INVALID_HANDLE;
    engine_once_init();
    pthread_mutex_lock(&eng);
    struct gvsim_stream *s = find_stream(hStream);
    if (s) {
        /* Work already queued still runs, as on a GPU; the handle is gone at once. */
        s->handle_dead = true;
        stream_maybe_free(s);
    }
    pthread_mutex_unlock(&eng);
    return s ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
GVSIM_ABI(cuStreamDestroy_v2, PFN_cuStreamDestroy_v4000);

CUresult cuStreamDestroy(CUstream hStream)
{
    return cuStreamDestroy_v2(hStream);
}
GVSIM_ABI(cuStreamDestroy, PFN_cuStreamDestroy_v2000);

static CUresult stream_sync(CUstream h, bool pt)
{
    struct gvsim_stream *s;
    CUresult r = get_stream(h, pt, &s);
    return r == CUDA_SUCCESS ? gvsim_stream_sync(s) : r;
}

CUresult cuStreamSynchronize(CUstream hStream)
{
    return stream_sync(hStream, false);
}
GVSIM_ABI(cuStreamSynchronize, PFN_cuStreamSynchronize_v2000);

CUresult cuStreamSynchronize_ptsz(CUstream hStream)
{
    return stream_sync(hStream, true);
}
GVSIM_ABI(cuStreamSynchronize_ptsz, PFN_cuStreamSynchronize_v7000_ptsz);

static CUresult stream_query(CUstream h, bool pt)
{
    struct gvsim_stream *s;
    CUresult r = get_stream(h, pt, &s);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&eng);
    r = !find_stream(s)       ? CUDA_ERROR_INVALID_HANDLE
        : s->done < s->queued ? CUDA_ERROR_NOT_READY
                              : CUDA_SUCCESS;
    pthread_mutex_unlock(&eng);
    return r;
}

CUresult cuStreamQuery(CUstream hStream)
{
    return stream_query(hStream, false);
}
GVSIM_ABI(cuStreamQuery, PFN_cuStreamQuery_v2000);

CUresult cuStreamQuery_ptsz(CUstream hStream)
{
    return stream_query(hStream, true);
}
GVSIM_ABI(cuStreamQuery_ptsz, PFN_cuStreamQuery_v7000_ptsz);

static CUresult stream_wait_event(CUstream h, CUevent hEvent, unsigned flags, bool pt)
{
    if (flags & ~(unsigned)CU_EVENT_WAIT_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_stream *s;
    CUresult r = get_stream(h, pt, &s);
    if (r != CUDA_SUCCESS)
        return r;
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = find_event(hEvent);
    if (!e || !find_stream(s)) {
        pthread_mutex_unlock(&eng);
        free(op);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (e->recorded == 0) {
        /* Waiting on an event never recorded waits for nothing. */
        pthread_mutex_unlock(&eng);
        free(op);
        return CUDA_SUCCESS;
    }
    op->kind = OP_WAIT;
    op->ev = e;
    op->ev_seq = e->recorded;
    e->refs++;
    enqueue_locked(s, op);
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, false);
}
GVSIM_ABI(cuStreamWaitEvent, PFN_cuStreamWaitEvent_v3020);

CUresult cuStreamWaitEvent_ptsz(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
    return stream_wait_event(hStream, hEvent, Flags, true);
}
GVSIM_ABI(cuStreamWaitEvent_ptsz, PFN_cuStreamWaitEvent_v7000_ptsz);

static CUresult stream_get(CUstream h, bool pt, int *priority, unsigned *flags, CUcontext *pctx)
{
    struct gvsim_stream *s;
    CUresult r = get_stream(h, pt, &s);
    if (r != CUDA_SUCCESS)
        return r;
    pthread_mutex_lock(&eng);
    if (!find_stream(s)) {
        pthread_mutex_unlock(&eng);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    if (priority)
        *priority = s->priority;
    if (flags)
        *flags = s->flags;
    if (pctx)
        *pctx = (CUcontext)s->ctx;
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

CUresult cuStreamGetPriority(CUstream hStream, int *priority)
{
    return priority ? stream_get(hStream, false, priority, NULL, NULL) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetPriority, PFN_cuStreamGetPriority_v5050);

CUresult cuStreamGetPriority_ptsz(CUstream hStream, int *priority)
{
    return priority ? stream_get(hStream, true, priority, NULL, NULL) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetPriority_ptsz, PFN_cuStreamGetPriority_v7000_ptsz);

CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags)
{
    return flags ? stream_get(hStream, false, NULL, flags, NULL) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetFlags, PFN_cuStreamGetFlags_v5050);

CUresult cuStreamGetFlags_ptsz(CUstream hStream, unsigned int *flags)
{
    return flags ? stream_get(hStream, true, NULL, flags, NULL) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetFlags_ptsz, PFN_cuStreamGetFlags_v7000_ptsz);

CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx)
{
    return pctx ? stream_get(hStream, false, NULL, NULL, pctx) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetCtx, PFN_cuStreamGetCtx_v9020);

CUresult cuStreamGetCtx_ptsz(CUstream hStream, CUcontext *pctx)
{
    return pctx ? stream_get(hStream, true, NULL, NULL, pctx) : CUDA_ERROR_INVALID_VALUE;
}
GVSIM_ABI(cuStreamGetCtx_ptsz, PFN_cuStreamGetCtx_v9020_ptsz);

static CUresult stream_callback(CUstream h, bool pt, CUstreamCallback cb, CUhostFn fn, void *user)
{
    struct gvsim_stream *s;
    CUresult r = get_stream(h, pt, &s);
    if (r != CUDA_SUCCESS)
        return r;
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    if (cb) {
        op->kind = OP_CALLBACK;
        op->cb = cb;
        op->cb_stream = h;
    } else {
        op->kind = OP_HOST;
        op->fn = fn;
    }
    op->arg = user;
    return enqueue(s, op);
}

CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData,
                             unsigned int flags)
{
    if (!callback || flags)
        return CUDA_ERROR_INVALID_VALUE;
    return stream_callback(hStream, false, callback, NULL, userData);
}
GVSIM_ABI(cuStreamAddCallback, PFN_cuStreamAddCallback_v5000);

CUresult cuStreamAddCallback_ptsz(CUstream hStream, CUstreamCallback callback, void *userData,
                                  unsigned int flags)
{
    if (!callback || flags)
        return CUDA_ERROR_INVALID_VALUE;
    return stream_callback(hStream, true, callback, NULL, userData);
}
GVSIM_ABI(cuStreamAddCallback_ptsz, PFN_cuStreamAddCallback_v7000_ptsz);

CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData)
{
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    return stream_callback(hStream, false, NULL, fn, userData);
}
GVSIM_ABI(cuLaunchHostFunc, PFN_cuLaunchHostFunc_v10000);

CUresult cuLaunchHostFunc_ptsz(CUstream hStream, CUhostFn fn, void *userData)
{
    if (!fn)
        return CUDA_ERROR_INVALID_VALUE;
    return stream_callback(hStream, true, NULL, fn, userData);
}
GVSIM_ABI(cuLaunchHostFunc_ptsz, PFN_cuLaunchHostFunc_v10000_ptsz);

/* ------------------------------------------------------------------ the driver API: events */

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    if (!phEvent)
        return CUDA_ERROR_INVALID_VALUE;
    unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
    if (Flags & ~known)
        return CUDA_ERROR_INVALID_VALUE;
    if ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_VALUE;
    struct gvsim_ctx *ctx;
    CUresult r = gvsim_current(&ctx);
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    struct gvsim_event *e = calloc(1, sizeof(*e));
    if (!e)
        return CUDA_ERROR_OUT_OF_MEMORY;
    e->ctx = ctx;
    e->flags = Flags;
    e->refs = 1;
    pthread_mutex_lock(&eng);
    e->next = events;
    events = e;
    pthread_mutex_unlock(&eng);
    *phEvent = (CUevent)e;
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuEventCreate, PFN_cuEventCreate_v2000);

static CUresult event_record(CUevent hEvent, CUstream h, bool pt)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    pthread_mutex_lock(&eng);
    bool known = find_event(hEvent) != NULL;
    pthread_mutex_unlock(&eng);
    if (!known)
        return CUDA_ERROR_INVALID_HANDLE;
    struct gvsim_stream *s;
    r = get_stream(h, pt, &s);
    if (r != CUDA_SUCCESS)
        return r;
    struct op *op = calloc(1, sizeof(*op));
    if (!op)
        return CUDA_ERROR_OUT_OF_MEMORY;
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = find_event(hEvent);
    if (!e || !find_stream(s)) {
        pthread_mutex_unlock(&eng);
        free(op);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    op->kind = OP_RECORD;
    op->ev = e;
    op->ev_seq = ++e->recorded;
    e->refs++;
    enqueue_locked(s, op);
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, false);
}
GVSIM_ABI(cuEventRecord, PFN_cuEventRecord_v2000);

CUresult cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    return event_record(hEvent, hStream, true);
}
GVSIM_ABI(cuEventRecord_ptsz, PFN_cuEventRecord_v7000_ptsz);

CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    return event_record(hEvent, hStream, false);
}
GVSIM_ABI(cuEventRecordWithFlags, PFN_cuEventRecordWithFlags_v11010);

CUresult cuEventRecordWithFlags_ptsz(CUevent hEvent, CUstream hStream, unsigned int flags)
{
    if (flags & ~(unsigned)CU_EVENT_RECORD_EXTERNAL)
        return CUDA_ERROR_INVALID_VALUE;
    return event_record(hEvent, hStream, true);
}
GVSIM_ABI(cuEventRecordWithFlags_ptsz, PFN_cuEventRecordWithFlags_v11010_ptsz);

CUresult cuEventQuery(CUevent hEvent)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = find_event(hEvent);
    r = !e                           ? CUDA_ERROR_INVALID_HANDLE
        : e->completed < e->recorded ? CUDA_ERROR_NOT_READY
                                     : CUDA_SUCCESS;
    pthread_mutex_unlock(&eng);
    return r;
}
GVSIM_ABI(cuEventQuery, PFN_cuEventQuery_v2000);

CUresult cuEventSynchronize(CUevent hEvent)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = find_event(hEvent);
    if (!e) {
        pthread_mutex_unlock(&eng);
        return CUDA_ERROR_INVALID_HANDLE;
    }
    uint64_t target = e->recorded;
    e->refs++;
    while (e->completed < target)
        pthread_cond_wait(&done_cv, &eng);
    event_unref(e);
    pthread_mutex_unlock(&eng);
    return CUDA_SUCCESS;
}
GVSIM_ABI(cuEventSynchronize, PFN_cuEventSynchronize_v2000);

CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    if (!pMilliseconds)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    pthread_mutex_lock(&eng);
    struct gvsim_event *a = find_event(hStart), *b = find_event(hEnd);
    if (!a || !b || (a->flags & CU_EVENT_DISABLE_TIMING) || (b->flags & CU_EVENT_DISABLE_TIMING) ||
        !a->recorded || !b->recorded)
        r = CUDA_ERROR_INVALID_HANDLE;
    else if (a->completed < a->recorded || b->completed < b->recorded)
        r = CUDA_ERROR_NOT_READY;
    else
        *pMilliseconds = (float)((double)((int64_t)(b->ts_ns - a->ts_ns)) / 1e6);
    pthread_mutex_unlock(&eng);
    return r;
}
GVSIM_ABI(cuEventElapsedTime_v2, PFN_cuEventElapsedTime_v12080);

CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
{
    return cuEventElapsedTime_v2(pMilliseconds, hStart, hEnd);
}
GVSIM_ABI(cuEventElapsedTime, PFN_cuEventElapsedTime_v2000);

CUresult cuEventDestroy_v2(CUevent hEvent)
{
    CUresult r = gvsim_init_check();
    if (r != CUDA_SUCCESS)
        return r;
    engine_once_init();
    pthread_mutex_lock(&eng);
    struct gvsim_event *e = find_event(hEvent);
    if (e) {
        /* Records still queued keep it until they complete, as on a GPU. */
        e->handle_dead = true;
        event_unref(e);
    }
    pthread_mutex_unlock(&eng);
    return e ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
GVSIM_ABI(cuEventDestroy_v2, PFN_cuEventDestroy_v4000);

CUresult cuEventDestroy(CUevent hEvent)
{
    return cuEventDestroy_v2(hEvent);
}
GVSIM_ABI(cuEventDestroy, PFN_cuEventDestroy_v2000);
