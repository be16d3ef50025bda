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
 * A turn (slice) lasts SLICE_NS. It is paid for in advance when the token is taken and settled when
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
 * The holder's launch costs an atomic load, a clock read and an atomic add: its slice end is kept
 * in process memory, and the shared record is read only when the slice ends. The slow path runs in
 * one thread per device at a time (`busy`); no lock is held across a driver call or a wait. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/budget.h"
#include "region/sched.h"
#include "shim/shim.h"

#define MAX_ORDINALS GV_MAX_GPUS
#define SLICE_NS     10000000ULL /* a turn on the GPU */
#define WAIT_NS      2000000ULL  /* a waiter looks at a silent holder this often (is it alive?) */
#define YIELD_NS     1000000ULL /* after giving the GPU up to a waiter, leave it to them this long */
#define MIN_HOLD_NS                                                                                \
    1000000ULL        /* a sync gives the GPU up to a waiter only after this long a turn           \
                       */
#define FIRST_BOUND 4 /* launches in a first turn, before any drain has measured them */
#define MAX_BOUND   1000000

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
    _Atomic uint64_t slice_end;
    _Atomic uint64_t launches;
    _Atomic uint64_t bound;
    _Atomic int in_sync;     /* threads inside a synchronizing call on this device */
    _Atomic uint64_t drains; /* times `launches` was reset by a drain: with it, a thread can tell
                              * whether anything was launched since it began a synchronize */
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

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void nap(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
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
        atomic_store(&d->in_sync, 0);
        if (atomic_load(&d->state) == LIMITED)
            gvr_sched_forked(&d->sched);
    }
}

/* A process that ends while holding a token gives it up; waiters would otherwise find it dead
 * only on their next look. */
__attribute__((destructor)) static void give_back_at_exit(void)
{
    for (int i = 0; i < MAX_ORDINALS; i++)
        if (atomic_load(&devs[i].state) == LIMITED && devs[i].sched.mine)
            gvr_sched_release(&devs[i].sched);
}

static int setup(struct tdev *d, CUdevice dev)
{
    struct gv_budget *budget = NULL;
    uint32_t share = 0;
    uint8_t uuid[16];
    int rc = gvs_compute_slot(dev, &budget, &share, uuid);
    int state = rc > 0 ? LIMITED : rc == 0 ? UNLIMITED : REFUSED;
    struct gvr_sched s;
    if (state == LIMITED) {
        struct gv_error err = {0};
        if (gvr_sched_open(&s, NULL, uuid, &err) < 0) {
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
}

/* Wait for everything this process queued, and learn from it how long a launch takes. The token
 * is not taken from a live holder while it drains, however long its last kernels run. */
static void drain(struct tdev *d)
{
    gvr_sched_draining(&d->sched, true);
    uint64_t n = atomic_exchange(&d->launches, 0);
    atomic_fetch_add(&d->drains, 1);
    if (gvs_real.cuCtxSynchronize)
        gvs_real.cuCtxSynchronize();
    uint64_t end = now_ns();
    gvr_sched_draining(&d->sched, false);
    if (n) {
        uint64_t per = (end - d->since) / n + 1;
        uint64_t bound = SLICE_NS / per;
        atomic_store(&d->bound, bound < 2 ? 2 : bound > MAX_BOUND ? MAX_BOUND : bound);
    }
    d->since = end;
}

static void give_up(struct tdev *d, bool drained)
{
    if (!drained)
        drain(d);
    uint64_t now = now_ns();
    settle(d, now);
    gvr_sched_release(&d->sched);
    d->held = false;
    d->released_at = now;
}

/* Take the token: wait for the budget, then for the holder (who is looked at for signs of death
 * after each timed-out wait). */
static void take(struct tdev *d)
{
    bool check = false;
    for (;;) {
        uint64_t now = now_ns();
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
        if (gvr_sched_take(&d->sched, now, now + SLICE_NS, check)) {
            d->held = true;
            d->took_at = d->since = now;
            d->paid_until = now + SLICE_NS;
            gv_budget_charge(d->budget, d->share, now, (int64_t)SLICE_NS);
            atomic_store(&d->launches, 0);
            return;
        }
        check = !gvr_sched_wait(&d->sched, now, WAIT_NS);
    }
}

/* Bring the device to "held, within a paid slice, room in the queue". */
static void advance(struct tdev *d)
{
    if (d->held && !gvr_sched_held(&d->sched)) {
        /* Taken over while silent: paid up to its slice end, nothing more; and no longer ours. */
        d->held = false;
        gvr_sched_release(&d->sched); /* only clears ours: the holder word is not ours */
    }
    if (d->held) {
        bool drained = false;
        uint64_t now = now_ns();
        if (atomic_load(&d->launches) >= atomic_load(&d->bound)) {
            drain(d);
            drained = true;
            now = now_ns();
            if (now < d->paid_until)
                return; /* the queue is empty and the slice goes on */
        }
        /* The slice is over: another one if the budget lasts and nobody waits, else give up. */
        if (!gvr_sched_wanted(&d->sched, now)) {
            settle(d, now);
            if (gv_budget_wait(d->budget, now) == 0) {
                gv_budget_charge(d->budget, d->share, now, (int64_t)SLICE_NS);
                d->paid_until = now + SLICE_NS;
                gvr_sched_extend(&d->sched, d->paid_until);
                return;
            }
        }
        give_up(d, drained);
    }
    take(d);
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
    uint64_t now = now_ns();
    if (!(d->held && now < d->paid_until && atomic_load(&d->launches) < atomic_load(&d->bound)))
        advance(d);
    atomic_fetch_add(&d->launches, 1);
    leave_slow(d);
    return CUDA_SUCCESS;
}

/* ---- the seams */

static struct tdev *device(CUdevice *out)
{
    CUdevice dev;
    if (!gvs_real.cuCtxGetDevice || gvs_real.cuCtxGetDevice(&dev) != CUDA_SUCCESS || dev < 0 ||
        dev >= MAX_ORDINALS)
        return NULL; /* no context: the driver will say so */
    *out = dev;
    return &devs[dev];
}

CUresult gvs_gate(void)
{
    CUdevice dev;
    struct tdev *d = device(&dev);
    if (!d)
        return CUDA_SUCCESS;
    int state = atomic_load_explicit(&d->state, memory_order_acquire);
    if (__builtin_expect(state == UNKNOWN, 0))
        state = setup(d, dev);
    if (state == UNLIMITED)
        return CUDA_SUCCESS;
    if (state == REFUSED)
        return CUDA_ERROR_NOT_PERMITTED;
    uint64_t now = now_ns();
    if (now < atomic_load_explicit(&d->slice_end, memory_order_acquire)) {
        if (atomic_fetch_add_explicit(&d->launches, 1, memory_order_relaxed) <
            atomic_load_explicit(&d->bound, memory_order_relaxed))
            return CUDA_SUCCESS;
        atomic_fetch_sub_explicit(&d->launches, 1, memory_order_relaxed); /* slow() counts it */
    }
    return slow(d);
}

static struct tdev *limited_device(void)
{
    CUdevice dev;
    struct tdev *d = device(&dev);
    return d && atomic_load(&d->state) == LIMITED ? d : NULL;
}

/* What this thread saw when it began its synchronizing call. */
static __thread uint64_t sync_drains, sync_launches;

void gvs_sync_begin(void)
{
    struct tdev *d = limited_device();
    if (!d)
        return;
    sync_drains = atomic_load(&d->drains);
    sync_launches = atomic_load(&d->launches);
    if (atomic_fetch_add(&d->in_sync, 1) == 0)
        gvr_sched_draining(&d->sched, true);
}

void gvs_sync_end(bool whole_context)
{
    struct tdev *d = limited_device();
    if (!d)
        return;
    if (atomic_fetch_sub(&d->in_sync, 1) == 1)
        gvr_sched_draining(&d->sched, false);
    /* With its work done, the holder gives the GPU up when its turn is over, or to a waiter once
     * it has had a fair part of one; holding an idle GPU would be charged and keep others off. */
    uint64_t now = now_ns();
    if (!atomic_load(&d->slice_end))
        return;
    enter_slow(d);
    /* The caller's cuCtxSynchronize emptied the queue only if no other thread launched since it
     * began (no launch passes the gate from here on: the slow path is ours). */
    uint64_t launched = atomic_load(&d->launches);
    if (atomic_load(&d->drains) == sync_drains ? launched != sync_launches : launched != 0)
        whole_context = false;
    if (d->held && gvr_sched_held(&d->sched) &&
        (now >= d->paid_until ||
         (now >= d->took_at + MIN_HOLD_NS && gvr_sched_wanted(&d->sched, now)))) {
        if (whole_context && atomic_load(&d->launches)) {
            /* The caller's cuCtxSynchronize was a drain: learn from it as from ours. */
            uint64_t n = atomic_exchange(&d->launches, 0);
            atomic_fetch_add(&d->drains, 1);
            uint64_t per = (now - d->since) / n + 1, bound = SLICE_NS / per;
            atomic_store(&d->bound, bound < 2 ? 2 : bound > MAX_BOUND ? MAX_BOUND : bound);
        }
        give_up(d, whole_context);
    }
    leave_slow(d);
}
