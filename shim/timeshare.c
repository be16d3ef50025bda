/* SPDX-License-Identifier: Apache-2.0 */
/* timeshare.c: exact shares of GPU time, by taking turns on the GPU.
 *
 * On a GPU the contexts of different processes are time-sliced by the hardware, so the time
 * between two of a tenant's events includes the other tenants' turns, and a tenant cannot be
 * charged by what it sees. Instead, the limited processes on a GPU take turns themselves: one at a
 * time holds the GPU's token (region/sched.h), only the holder's kernels reach the driver, and the
 * holder's instance is charged the time it holds the token against its budget (core/budget.h), a
 * token bucket refilled at the instance's share. Since no other limited work runs meanwhile, the
 * holding time is the device time of the holder's own work (plus the short gaps of a hand-over).
 *
 * A turn (slice) lasts GPUVISOR_TIMESLICE (core/timeslice.h; 10 ms when unset), or less when gpuvisord
 * grants less (its setting for the GPU): the turn is what the token record says after the take. It
 * is paid for in advance when the token is taken and settled when
 * it ends: the unused part is refunded when the holder gives the GPU up early, the overrun of a
 * drain is charged on top. The holder keeps the token into a new slice while its budget lasts and
 * nobody else waits; otherwise it drains its queued work (cuCtxSynchronize) and gives the token
 * up, so that the next holder's time is its own. A process may take the token only while its
 * instance's budget is positive: an instance alone on the GPU is held to its share all the same.
 *
 * Work queued ahead is bounded, or a program could queue a second of kernels in a millisecond and
 * be charged only afterwards: the holder drains after about a slice's worth of launches, counted
 * with an estimate of the device time per launch that each drain measures (drain end minus the
 * last drain, over the launches in between). The first slice assumes long kernels.
 *
 * A launch is held to the turns of its stream's GPU (shim/stream.c), whatever context is current,
 * and a drain waits for every context the process launched into on that GPU, not the current one.
 *
 * A holder whose drain, or whose own synchronize, does not finish (work queued behind a host
 * function that blocks) loses the token once its slice and the grace after it are over
 * (region/sched.h): the others go on. It is charged for the whole wait, since nothing tells a
 * kernel that runs long from a stream that is blocked, and waits for the token again at its next
 * launch. A turn is paid for until its work is known to be done, also when the process ends
 * first: at a normal exit the turn is settled up to the exit; a killed holder's turn stays open in
 * its instance's budget (gv_budget_turn_*) and the instance's next process to take the token
 * charges it, up to UNSETTLED_MAX_NS past what was paid.
 *
 * With gpuvisord the token is the daemon's (region/sched.h): the same calls become requests to
 * it, which it may refuse (a renewal while another instance waits, or past the instance's
 * budget as the daemon books it: the holder then gives the GPU up as at the end of its budget),
 * and a daemon that refuses this process's turns for good (its instance was deleted) makes the
 * launches fail. The share is read from the region at every turn, so that a resize holds within a
 * turn; the time launches wait for the GPU is counted in the region (gvr_count_wait). A process of a
 * daemon instance without a share on a GPU runs unlimited there, and looks for one every RECHECK_NS
 * (a resize may give it one): then it takes turns from its next launch on.
 *
 * The holder's launch costs a cached look-up of its stream, an atomic load, a clock read and an
 * atomic add: its slice end is kept in process memory, and the shared record is read only when
 * the slice ends. The slow path runs in one thread per device at a time (`busy`); no lock is held
 * across a driver call or a wait. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/clock.h"
#include "core/timeslice.h"
#include "region/proc.h"
#include "region/sched.h"
#include "shim/shim.h"

#define MAX_ORDINALS GV_MAX_GPUS
#define WAIT_NS      2000000ULL /* a waiter looks at a silent holder this often (is it alive?) */
#define YIELD_NS     1000000ULL /* after giving the GPU up to a waiter, leave it to them this long */
#define MIN_HOLD_NS                                                                                \
    1000000ULL        /* a sync gives the GPU up to a waiter only after this long a turn           \
                       */
#define FIRST_BOUND 4 /* launches in a first turn, before any drain has measured them */
#define MAX_BOUND   1000000
#define MAX_CTXS    8 /* contexts per device that drains wait for */
/* A process of a gpuvisord instance with no share on a GPU looks this often for one (a resize). */
#define RECHECK_NS  100000000ULL
/* A turn whose process ended before settling it is charged up to its end, which nobody saw: up to
 * when the instance's next process finds it, at most this far past what was paid. */
#define UNSETTLED_MAX_NS (10 * GV_BUDGET_PERIOD_NS)

enum { UNKNOWN = 0, LIMITED, UNLIMITED, REFUSED };

/* One CUDA device of this process. Invariants:
 *   - slice_end != 0 only while this process holds the token and no thread is in the slow path;
 *     then it equals paid_until. The fast path lets a launch through while now < slice_end and
 *     fewer than `bound` launches were made since the last drain.
 *   - busy: one thread is in the slow path (taking, renewing, draining, giving up); the others
 *     wait on cv. held, paid_until, since, released_at and took_at change only in the slow path.
 *   - While held, the instance has been charged for holding the token up to paid_until. */
struct tdev {
    _Atomic int state;
    _Atomic bool watch;          /* UNLIMITED for now: a resize may give a share (set by setup) */
    _Atomic uint64_t recheck_at; /* watch: when to look for a share again */
    _Atomic uint64_t slice_end;
    _Atomic uint64_t launches;
    _Atomic uint64_t bound;
    _Atomic uint64_t drains; /* times `launches` was reset by a drain: with it, a thread can tell
                              * whether anything was launched since it began a synchronize */
    /* The contexts launched into on this device (0: a free slot), which drains wait for; a slot
     * is emptied when its context is found destroyed. ctx_last: the one noted last, so that a
     * launch into it costs one load. */
    _Atomic uintptr_t ctxs[MAX_CTXS];
    _Atomic uintptr_t ctx_last;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool busy, held;
    struct gvr_sched sched;
    struct gv_budget *budget;
    uint32_t share;
    uint64_t paid_until, since, took_at, released_at;
};

static struct tdev devs[MAX_ORDINALS];
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;

/* The turn this process asks for (GPUVISOR_TIMESLICE), read at the first set-up. */
static uint64_t slice_ns = GV_TIMESLICE_DEFAULT_NS;

static void read_timeslice(void)
{
    const char *v = getenv(GV_TIMESLICE_ENV);
    uint64_t ns;
    struct gv_error err = {0};
    if (!v || !*v)
        return;
    if (gv_timeslice_parse(v, &ns, &err) == 0) {
        slice_ns = ns;
    } else {
        char def[GV_TIMESLICE_TEXT];
        fprintf(stderr, "gpuvisor: GPUVISOR_TIMESLICE: %s; turns of %s are taken\n", err.msg,
                gv_timeslice_format(GV_TIMESLICE_DEFAULT_NS, def, sizeof(def)));
    }
}

/* The end of the turn just taken or renewed, asking for one to `asked`: what the record says, which
 * is less when gpuvisord grants a shorter turn. */
static uint64_t granted(const struct tdev *d, uint64_t now, uint64_t asked)
{
    uint64_t end = gvr_sched_slice_end(&d->sched);
    return end > now && end < asked ? end : asked;
}

static void nap(uint64_t ns)
{
    struct timespec ts = gv_timespec(ns);
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- set-up, once per device */

static void forked_child(void)
{
    for (int i = 0; i < MAX_ORDINALS; i++) {
        struct tdev *d = &devs[i];
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->cv, NULL);
        d->busy = d->held = false;
        atomic_store(&d->slice_end, 0);
        for (int c = 0; c < MAX_CTXS; c++) /* contexts do not live on in a child */
            atomic_store(&d->ctxs[c], 0);
        atomic_store(&d->ctx_last, 0);
        if (atomic_load(&d->state) == LIMITED)
            gvr_sched_forked(&d->sched);
    }
}

static void settle(struct tdev *d, uint64_t now);
static void close_turn(struct tdev *d);

/* A process that ends while holding a token gives it up; waiters would otherwise find it dead
 * only on their next look. Its work queued since the last drain may have run up to now (a kernel
 * longer than the turn): the turn is paid up to now then, within UNSETTLED_MAX_NS, and else only
 * up to now. No driver call: the driver may be gone by now. */
__attribute__((destructor)) static void give_back_at_exit(void)
{
    uint64_t now = gv_now_ns();
    for (int i = 0; i < MAX_ORDINALS; i++) {
        struct tdev *d = &devs[i];
        if (atomic_load(&d->state) != LIMITED)
            continue;
        gvr_sched_unclaim(&d->sched);
        uint64_t start;
        if (!gvr_sched_tenure(&d->sched, &start))
            continue;
        if (d->held && gvr_sched_held(&d->sched)) {
            uint64_t end = now;
            if (!atomic_load(&d->launches) && end > d->paid_until)
                end = d->paid_until;
            if (end > d->paid_until + UNSETTLED_MAX_NS)
                end = d->paid_until + UNSETTLED_MAX_NS;
            settle(d, end);
            close_turn(d);
        } else if (d->held) {
            close_turn(d); /* taken over while silent: paid up to its slice end */
        }
        gvr_sched_release(&d->sched);
    }
}

static int setup(struct tdev *d, CUdevice dev)
{
    struct gv_budget *budget = NULL;
    uint32_t share = 0;
    uint8_t uuid[GV_UUID_LEN];
    int rc = gvs_compute_slot(dev, &budget, &share, uuid);
    int state = rc > 0 ? LIMITED : rc == 0 ? UNLIMITED : REFUSED;
    bool watch = state == UNLIMITED && gvs_compute_watch(dev);
    struct gvr_sched s;
    if (state == LIMITED) {
        struct gv_error err = {0};
        const char *instance = NULL, *daemon = gvs_daemon(&instance);
        int rc2 = daemon ? gvr_sched_open_daemon(&s, daemon, instance, uuid, &err)
                         : gvr_sched_open(&s, NULL, uuid, &err);
        if (rc2 < 0) {
            fprintf(stderr, "gpuvisor: device %d: %s; launches are refused\n", (int)dev, err.msg);
            state = REFUSED;
        }
    } else if (state == REFUSED) {
        fprintf(stderr,
                "gpuvisor: device %d: this process has a compute limit but is not in its "
                "instance; launches are refused\n",
                (int)dev);
    }
    pthread_mutex_lock(&setup_lock);
    static bool atfork_set;
    if (!atfork_set) {
        pthread_atfork(NULL, NULL, forked_child);
        read_timeslice();
        atfork_set = true;
    }
    if (atomic_load(&d->state) == UNKNOWN) {
        if (state == LIMITED) {
            pthread_mutex_init(&d->lock, NULL);
            pthread_cond_init(&d->cv, NULL);
            d->sched = s;
            d->budget = budget;
            d->share = share;
            atomic_store(&d->bound, FIRST_BOUND);
        }
        atomic_store(&d->watch, watch);
        atomic_store(&d->recheck_at, gv_now_ns() + RECHECK_NS);
        atomic_store(&d->state, state);
    } else if (state == LIMITED) {
        gvr_sched_close(&s); /* another thread was first */
    }
    pthread_mutex_unlock(&setup_lock);
    return atomic_load(&d->state);
}

/* ---- the slow path: one thread per device, d->busy set, no lock held */

/* Charge the holding time from paid_until to now (a refund when now is earlier). */
static void settle(struct tdev *d, uint64_t now)
{
    gv_budget_charge(d->budget, d->share, now, (int64_t)(now - d->paid_until));
    d->paid_until = now;
    uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
    gv_budget_turn_paid(d->budget, tag, now);
}

/* The turn is settled (or was lost and paid for): nobody need charge it after this process. */
static void close_turn(struct tdev *d)
{
    uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
    gv_budget_turn_close(d->budget, tag);
}

/* A turn of another process of the instance that ended with its process before it was settled
 * (killed while its kernels ran): charge what it ran past its payment, from when it was paid to
 * now, at most UNSETTLED_MAX_NS. Only the process that closes it charges it. */
static void settle_ended_turn(struct tdev *d, uint64_t now)
{
    uint64_t tag, start, paid;
    gv_budget_turn(d->budget, &tag, &start, &paid);
    pid_t pid = (pid_t)(uint32_t)tag;
    if (!tag || pid == getpid() || gvr_sched_holder_word(&d->sched) == tag ||
        !gvr_proc_gone(pid, start) || !gv_budget_turn_close(d->budget, tag))
        return;
    uint64_t end = now < paid + UNSETTLED_MAX_NS ? now : paid + UNSETTLED_MAX_NS;
    if (end > paid)
        gv_budget_charge(d->budget, d->share, now, (int64_t)(end - paid));
}

/* Note that this process launches into context c on this device, for the drains. */
static void note_ctx(struct tdev *d, uintptr_t c)
{
    int free_slot = -1;
    for (int i = 0; i < MAX_CTXS; i++) {
        uintptr_t have = atomic_load(&d->ctxs[i]);
        if (have == c) {
            atomic_store(&d->ctx_last, c);
            return;
        }
        if (!have && free_slot < 0)
            free_slot = i;
    }
    uintptr_t zero = 0;
    if (free_slot >= 0 && atomic_compare_exchange_strong(&d->ctxs[free_slot], &zero, c))
        atomic_store(&d->ctx_last, c);
    /* Full, or another thread took the slot: the next launch tries again. */
}

/* Wait for the work of every context noted on this device; forget the ones that are gone. */
static void sync_contexts(struct tdev *d)
{
    for (int i = 0; i < MAX_CTXS; i++) {
        uintptr_t c = atomic_load(&d->ctxs[i]);
        if (!c)
            continue;
        CUresult r = CUDA_ERROR_NOT_SUPPORTED;
        CUcontext popped = NULL;
        if (gvs_real.cuCtxSynchronize_v2) {
            r = gvs_real.cuCtxSynchronize_v2((CUcontext)c);
        } else if (gvs_real.cuCtxPushCurrent_v2 && gvs_real.cuCtxPopCurrent_v2 &&
                   gvs_real.cuCtxSynchronize &&
                   (r = gvs_real.cuCtxPushCurrent_v2((CUcontext)c)) == CUDA_SUCCESS) {
            r = gvs_real.cuCtxSynchronize();
            gvs_real.cuCtxPopCurrent_v2(&popped);
        }
        if (r == CUDA_ERROR_INVALID_CONTEXT || r == CUDA_ERROR_CONTEXT_IS_DESTROYED) {
            atomic_compare_exchange_strong(&d->ctxs[i], &c, 0);
            atomic_store(&d->ctx_last, 0);
        }
    }
}

/* Is c the only context this process launched into on this device? */
static bool only_ctx(struct tdev *d, uintptr_t c)
{
    for (int i = 0; i < MAX_CTXS; i++) {
        uintptr_t have = atomic_load(&d->ctxs[i]);
        if (have && have != c)
            return false;
    }
    return true;
}

/* Wait for everything this process queued on the device, and learn from it how long a launch
 * takes. A drain that outlasts the slice and the grace loses the token (region/sched.h) and is
 * paid for all the same, by the settle that follows it. */
static void drain(struct tdev *d)
{
    uint64_t n = atomic_exchange(&d->launches, 0);
    atomic_fetch_add(&d->drains, 1);
    sync_contexts(d);
    uint64_t end = gv_now_ns();
    if (n) {
        uint64_t per = (end - d->since) / n + 1;
        uint64_t bound = slice_ns / per;
        atomic_store(&d->bound, bound < 2 ? 2 : bound > MAX_BOUND ? MAX_BOUND : bound);
    }
    d->since = end;
}

static void give_up(struct tdev *d, bool drained)
{
    if (!drained)
        drain(d);
    uint64_t now = gv_now_ns();
    settle(d, now);
    close_turn(d);
    gvr_sched_release(&d->sched);
    d->held = false;
    d->released_at = now;
}

static CUdevice ordinal(const struct tdev *d)
{
    return (CUdevice)(d - devs);
}

/* gpuvisord refused this process's turns for good: say why, once; its launches fail from now on. */
static bool refused(struct tdev *d)
{
    const char *why;
    if (!gvr_sched_refused(&d->sched, &why))
        return false;
    if (atomic_exchange(&d->state, REFUSED) == LIMITED)
        fprintf(stderr, "gpuvisor: device %d: %s; launches are refused\n", (int)ordinal(d), why);
    return true;
}

/* Take the token: wait for the budget, then for the holder (who is looked at for signs of death
 * after each timed-out wait). Returns false when the daemon refuses this process's turns. */
static bool take(struct tdev *d)
{
    bool check = false;
    uint64_t began = gv_now_ns();
    for (;;) {
        uint64_t now = gv_now_ns();
        if (refused(d))
            return false;
        d->share = gvs_compute_share(ordinal(d));
        settle_ended_turn(d, now);
        uint64_t w = gv_budget_wait(d->budget, now);
        if (w) { /* spent: wait for the refill, without standing in line */
            nap(w < GV_BUDGET_PERIOD_NS ? w : GV_BUDGET_PERIOD_NS);
            check = false;
            continue;
        }
        /* Just gave the GPU up to someone who waits: let them have it first. */
        if (now < d->released_at + YIELD_NS && !gvr_sched_holder(&d->sched) &&
            gvr_sched_wanted(&d->sched, now)) {
            nap(50000);
            continue;
        }
        if (gvr_sched_take(&d->sched, now, now + slice_ns, check)) {
            /* The holder taken over may have been of this instance, and its turn unsettled. */
            settle_ended_turn(d, now);
            if (gv_budget_wait(d->budget, now)) {
                gvr_sched_release(&d->sched);
                continue;
            }
            uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
            uint64_t end = granted(d, now, now + slice_ns);
            gv_budget_turn_open(d->budget, tag, start, end);
            d->held = true;
            d->took_at = d->since = now;
            d->paid_until = end;
            gv_budget_charge(d->budget, d->share, now, (int64_t)(end - now));
            atomic_store(&d->launches, 0);
            gvs_count_wait(ordinal(d), now - began);
            return true;
        }
        check = !gvr_sched_wait(&d->sched, now, WAIT_NS);
    }
}

/* Bring the device to "held, within a paid slice, room in the queue". Returns false when the
 * daemon refuses this process's turns. */
static bool advance(struct tdev *d)
{
    if (d->held && !gvr_sched_held(&d->sched)) {
        /* Taken over while silent: paid up to its slice end, nothing more; and no longer ours. */
        d->held = false;
        close_turn(d);
        gvr_sched_release(&d->sched); /* only clears ours: the holder word is not ours */
    }
    if (d->held) {
        bool drained = false;
        uint64_t now = gv_now_ns();
        if (atomic_load(&d->launches) >= atomic_load(&d->bound)) {
            drain(d);
            drained = true;
            now = gv_now_ns();
            if (!gvr_sched_held(&d->sched)) {
                /* The drain outlasted the slice and the grace: taken over; it pays for the
                 * drain all the same, and waits for its turn again. */
                settle(d, now);
                close_turn(d);
                d->held = false;
                gvr_sched_release(&d->sched);
                return take(d);
            }
            if (now < d->paid_until)
                return true; /* the queue is empty and the slice goes on */
        }
        /* The slice is over: another one if the budget lasts, nobody waits and the token is still
         * this process's to renew (the daemon may refuse), else give up. */
        if (!gvr_sched_wanted(&d->sched, now)) {
            settle(d, now);
            d->share = gvs_compute_share(ordinal(d));
            if (gv_budget_wait(d->budget, now) == 0 &&
                gvr_sched_extend(&d->sched, now + slice_ns)) {
                uint64_t end = granted(d, now, now + slice_ns);
                gv_budget_charge(d->budget, d->share, now, (int64_t)(end - now));
                d->paid_until = end;
                uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
                gv_budget_turn_paid(d->budget, tag, d->paid_until);
                return true;
            }
        }
        give_up(d, drained);
    }
    return take(d);
}

static void enter_slow(struct tdev *d)
{
    pthread_mutex_lock(&d->lock);
    while (d->busy)
        pthread_cond_wait(&d->cv, &d->lock);
    d->busy = true;
    atomic_store(&d->slice_end, 0);
    pthread_mutex_unlock(&d->lock);
}

static void leave_slow(struct tdev *d)
{
    pthread_mutex_lock(&d->lock);
    d->busy = false;
    atomic_store(&d->slice_end, d->held ? d->paid_until : 0);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->lock);
}

static CUresult slow(struct tdev *d)
{
    enter_slow(d);
    /* Another thread's slow path may have done the work meanwhile. */
    uint64_t now = gv_now_ns();
    bool ok = atomic_load(&d->state) == LIMITED;
    if (ok &&
        !(d->held && now < d->paid_until && atomic_load(&d->launches) < atomic_load(&d->bound)))
        ok = advance(d);
    if (ok)
        atomic_fetch_add(&d->launches, 1);
    leave_slow(d);
    return ok ? CUDA_SUCCESS : CUDA_ERROR_NOT_PERMITTED;
}

/* A watched device found a share: set it up again, as limited now. */
static int relimit(struct tdev *d, CUdevice dev)
{
    pthread_mutex_lock(&setup_lock);
    int expect = UNLIMITED;
    atomic_compare_exchange_strong(&d->state, &expect, UNKNOWN);
    pthread_mutex_unlock(&setup_lock);
    return setup(d, dev);
}

/* ---- the seams */

/* The device that `stream` runs on, set up; NULL when it has no context (the driver will say so)
 * or its device is out of range. *ctx: the stream's context. */
static struct tdev *device(CUstream stream, CUdevice *out, uintptr_t *ctx)
{
    CUcontext c;
    CUdevice dev;
    if (gvs_stream_where(stream, &c, &dev) < 0 || dev < 0 || dev >= MAX_ORDINALS)
        return NULL;
    *out = dev;
    *ctx = (uintptr_t)c;
    return &devs[dev];
}

CUresult gvs_gate(CUstream stream)
{
    CUdevice dev;
    uintptr_t ctx;
    struct tdev *d = device(stream, &dev, &ctx);
    if (!d)
        return CUDA_SUCCESS;
    int state = atomic_load_explicit(&d->state, memory_order_acquire);
    if (__builtin_expect(state == UNKNOWN, 0))
        state = setup(d, dev);
    if (state == UNLIMITED) {
        if (__builtin_expect(!atomic_load_explicit(&d->watch, memory_order_relaxed), 1))
            return CUDA_SUCCESS;
        uint64_t now = gv_now_ns();
        if (now < atomic_load_explicit(&d->recheck_at, memory_order_relaxed))
            return CUDA_SUCCESS;
        atomic_store_explicit(&d->recheck_at, now + RECHECK_NS, memory_order_relaxed);
        if (!gvs_compute_share(dev) || (state = relimit(d, dev)) == UNLIMITED)
            return CUDA_SUCCESS;
    }
    if (state == REFUSED)
        return CUDA_ERROR_NOT_PERMITTED;
    if (__builtin_expect(atomic_load_explicit(&d->ctx_last, memory_order_relaxed) != ctx, 0))
        note_ctx(d, ctx);
    uint64_t now = gv_now_ns();
    if (now < atomic_load_explicit(&d->slice_end, memory_order_acquire)) {
        if (atomic_fetch_add_explicit(&d->launches, 1, memory_order_relaxed) <
            atomic_load_explicit(&d->bound, memory_order_relaxed))
            return CUDA_SUCCESS;
        atomic_fetch_sub_explicit(&d->launches, 1, memory_order_relaxed); /* slow() counts it */
    }
    return slow(d);
}

static struct tdev *limited_device(CUstream stream, uintptr_t *ctx)
{
    CUdevice dev;
    struct tdev *d = device(stream, &dev, ctx);
    return d && atomic_load(&d->state) == LIMITED ? d : NULL;
}

/* What this thread saw when it began its synchronizing call. */
static __thread struct tdev *sync_dev;
static __thread uintptr_t sync_ctx;
static __thread uint64_t sync_drains, sync_launches;
static __thread bool sync_held;

void gvs_sync_begin(CUstream stream)
{
    struct tdev *d = sync_dev = limited_device(stream, &sync_ctx);
    if (!d)
        return;
    sync_drains = atomic_load(&d->drains);
    sync_launches = atomic_load(&d->launches);
    sync_held = atomic_load(&d->slice_end) != 0;
}

void gvs_sync_end(CUstream stream, bool whole_context)
{
    (void)stream; /* the device was found when the call began */
    struct tdev *d = sync_dev;
    if (!d)
        return;
    sync_dev = NULL;
    /* With its work done, the holder gives the GPU up when its turn is over, or to a waiter once
     * it has had a fair part of one; holding an idle GPU would be charged and keep others off. */
    uint64_t now = gv_now_ns();
    if (!atomic_load(&d->slice_end) && !sync_held)
        return;
    enter_slow(d);
    /* The caller's cuCtxSynchronize emptied the queue only if no other thread launched since it
     * began (no launch passes the gate from here on: the slow path is ours), and only if the
     * current context is the one this process launches into on the device. */
    uint64_t launched = atomic_load(&d->launches);
    if (atomic_load(&d->drains) == sync_drains ? launched != sync_launches : launched != 0)
        whole_context = false;
    if (whole_context && !only_ctx(d, sync_ctx))
        whole_context = false;
    if (d->held && !gvr_sched_held(&d->sched)) {
        /* The turn was taken over while this thread waited past its slice and the grace: the
         * wait is paid for (its work may have run all along), and the next launch waits for the
         * token again. */
        if (sync_held && launched)
            settle(d, now);
        d->held = false;
        close_turn(d);
        gvr_sched_release(&d->sched);
    } else if (d->held && (now >= d->paid_until ||
                           (now >= d->took_at + MIN_HOLD_NS && gvr_sched_wanted(&d->sched, now)))) {
        if (whole_context && atomic_load(&d->launches)) {
            /* The caller's cuCtxSynchronize was a drain: learn from it as from ours. */
            uint64_t n = atomic_exchange(&d->launches, 0);
            atomic_fetch_add(&d->drains, 1);
            uint64_t per = (now - d->since) / n + 1, bound = slice_ns / per;
            atomic_store(&d->bound, bound < 2 ? 2 : bound > MAX_BOUND ? MAX_BOUND : bound);
        }
        give_up(d, whole_context);
    }
    leave_slow(d);
}
