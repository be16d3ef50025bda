/* SPDX-License-Identifier: Apache-2.0 */
/* timeshare.c: shares of GPU time, by taking turns on the GPU.
 *
 * On a GPU the contexts of different processes are time-sliced by the hardware, so the time
 * between two of a tenant's events includes the other tenants' turns, and a tenant cannot be
 * charged by what it sees. Instead, the processes on a GPU take turns themselves: one at a time
 * holds the GPU's token (region/sched.h) and only the holder's kernels reach the driver. Since no
 * other work of the turn-takers runs meanwhile, the holder's instance is charged the device time
 * of its own work: each burst of work (from the first launch after the GPU was idle for this
 * process to the synchronize or drain that finds it done) is timed with a pair of events on its
 * stream, as the GPU stamps them. A burst that spans several streams, or whose end was not
 * stamped, is charged its host time instead, which is more, never less.
 *
 * Who takes the token next is decided by keys (core/policy.h): priority, then class (fixed and
 * guaranteed before best-effort), then virtual time, the device time charged over the share. A
 * waiter leaves its key in the record; a take is left to a waiter with a lower key, and a holder at
 * the end of its slice keeps the token only while no waiter has a lower key than its own, so busy
 * instances get the GPU in proportion to their shares. A waiter of a higher priority or a better
 * class cuts the holder's slice short: the holder gives up at its next launch (a kernel already
 * running is not interrupted). An instance back from idling is raised to the GPU's virtual clock
 * less one slice of its own, so that it cannot bank idle time. The policy says what the budget
 * (core/budget.h, a token bucket refilled at the share) does: `fixed` may take the GPU only while
 * it is positive, so the share holds alone or not; `guaranteed` and `best-effort` only count
 * their device time there, and take whatever the keys give them.
 *
 * A turn (slice) lasts GPUVISOR_TIMESLICE (core/timeslice.h; 10 ms when unset), or less when
 * gpuvisord grants less (its setting for the GPU): the turn is what the token record says after
 * the take. It is paid for in advance when the token is taken and settled when it ends, to the
 * device time used. The holder keeps the token into a new slice while its policy allows and no
 * waiter goes first; otherwise it drains its queued work (cuCtxSynchronize) and gives the token
 * up. A holder whose synchronize finds its work done is idle: it gives the token up at once when
 * anyone waits, and otherwise marks it idle, so that the first process to want it takes it without
 * waiting, while the holder takes it back at its next launch if nobody did.
 *
 * Work queued ahead is bounded, or a program could queue a second of kernels in a millisecond and
 * be charged only afterwards: the holder drains after about a slice's worth of launches, counted
 * with an estimate of the device time per launch that each drain measures (drain end minus the
 * last drain, over the launches in between). The first slice assumes long kernels.
 *
 * A process without a compute limit takes turns too, as best-effort with the weight of a whole
 * GPU, while a limited process of its user wants the GPU (the token's demand mark): the share of
 * a limited instance then holds beside it. Otherwise its launches pass untouched.
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
 * it, which judges keys itself and may refuse (a renewal while an instance that goes first waits,
 * or past a fixed instance's budget as the daemon books it: the holder then gives the GPU up as at
 * the end of its budget); the device time used goes with each renewal, release and idling, and the
 * daemon charges it, at most the time the token was held. A daemon that refuses this process's
 * turns for good (its instance was deleted) makes the launches fail. The share and policy are read
 * from the region at every turn, so that a resize holds within a turn; the time launches wait for
 * the GPU is counted in the region (gvr_count_wait). A process of a daemon instance without a
 * share on a GPU runs unlimited there, and looks for one every RECHECK_NS (a resize may give it
 * one): then it takes turns from its next launch on.
 *
 * The holder's launch costs a cached look-up of its stream, three atomic loads, a clock read and an
 * atomic add: its slice end is kept in process memory, and the shared record is read only for the
 * cut word and when the slice ends. The slow path runs in one thread per device at a time
 * (`busy`); no lock is held across a driver call or a wait. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/budget.h"
#include "core/clock.h"
#include "core/policy.h"
#include "core/timeslice.h"
#include "region/proc.h"
#include "region/sched.h"
#include "shim/shim.h"

#define MAX_ORDINALS GV_MAX_GPUS
#define WAIT_NS      2000000ULL /* a waiter looks at a silent holder this often (is it alive?) */
#define MIN_HOLD_NS                                                                                \
    1000000ULL        /* a sync gives the GPU up to a waiter only after this long a turn           \
                       */
#define FIRST_BOUND 4 /* launches in a first turn, before any drain has measured them */
#define MAX_BOUND   1000000
#define MAX_CTXS    8 /* contexts per device that drains wait for */
/* A process with no share on a GPU looks this often for one (a resize by gpuvisord), or for the
 * token of its user's limited processes. */
#define RECHECK_NS 100000000ULL
/* A process without any compute limit looks at its devices this often (a coarse clock's reading),
 * and its launches cost a clock read in between. */
#define LOOK_NS 10000000ULL
/* A turn whose process ended before settling it is charged up to its end, which nobody saw: up to
 * when the instance's next process finds it, at most this far past what was paid. */
#define UNSETTLED_MAX_NS (10 * GV_BUDGET_PERIOD_NS)

enum { UNKNOWN = 0, LIMITED, UNLIMITED, REFUSED };

/* One CUDA device of this process. Invariants:
 *   - slice_end != 0 only while this process holds the token, a burst is open and no thread is in
 *     the slow path; then it equals paid_until. The fast path lets a launch through while
 *     now < slice_end, the cut word does not name this tenure, and fewer than `bound` launches
 *     were made since the last drain.
 *   - busy: one thread is in the slow path (taking, renewing, draining, giving up); the others
 *     wait on cv. The fields below `cv` change only in the slow path.
 *   - While held, the instance has been charged `charged` for the turn: the device time used so
 *     far (used, plus the host time of the open burst) and the rest of the slice in advance.
 *   - spare: a process without a compute limit on this device (state UNLIMITED) that opened its
 *     user's token: it takes turns, as best-effort, on its own budget `own`, while there is demand. */
struct tdev {
    _Atomic int state;
    _Atomic bool watch;          /* UNLIMITED for now: a resize may give a share (set by setup) */
    _Atomic bool spare;          /* UNLIMITED, taking turns while limited processes want the GPU */
    _Atomic bool lookout;        /* UNLIMITED, looking for its user's token every RECHECK_NS */
    _Atomic uint64_t recheck_at; /* watch, lookout: when to look again */
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
    _Atomic uintptr_t bstream;              /* the stream the open burst began on */
    _Atomic bool multi;                     /* the open burst launched into another stream too */
    const _Atomic uint64_t *_Atomic cut;    /* the record's cut word (never NULL once set up) */
    _Atomic uint64_t tenure;                /* the holder word while held, else 0 */
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool busy, held;
    struct gvr_sched sched;
    struct gv_budget *budget;
    struct gv_budget own;
    uint32_t share;
    enum gv_policy policy;
    enum gv_priority priority;
    uint8_t uuid[GV_UUID_LEN];
    uint64_t paid_until, since, took_at;
    /* The tenure (holder word) taken last, when, and with what key: taken back from idle while the
     * tenure is young (young()), the token is taken with that key, so that a holder whose work
     * comes in short bursts keeps the GPU for a while rather than handing it over at every burst. */
    uint64_t tenure_tag, tenure_at, tenure_key;
    bool via_daemon; /* the token is gpuvisord's */
    int64_t charged; /* this turn's charge so far */
    uint64_t used;   /* device time of this turn's closed bursts */
    uint64_t told;   /* of this turn's use, what was reported to gpuvisord */
    /* The open burst: begun at burst_at (host time) on stream bstream of context bctx, timed by
     * events evb and, once its end is marked, eve (made in context evctx). */
    bool burst, marked, timed;
    uintptr_t bctx, evctx;
    uint64_t burst_at;
    CUevent evb, eve;
};

static struct tdev devs[MAX_ORDINALS];
/* A process without any compute limit: whether one of its devices takes turns now (a token of its
 * user was found), and when its launches next look at their device. */
static _Atomic bool spare_any;
static _Atomic uint64_t look_at;
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;
static const _Atomic uint64_t no_cut; /* the cut word of a device without a record */

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

static bool takes_turns(const struct tdev *d)
{
    int st = atomic_load(&d->state);
    return st == LIMITED || (st == UNLIMITED && atomic_load(&d->spare));
}

/* ---- set-up, once per device */

static void forked_child(void)
{
    for (int i = 0; i < MAX_ORDINALS; i++) {
        struct tdev *d = &devs[i];
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->cv, NULL);
        d->busy = d->held = false;
        d->burst = d->marked = false;
        d->evb = d->eve = NULL; /* events do not live on in a child */
        d->evctx = 0;
        atomic_store(&d->slice_end, 0);
        atomic_store(&d->tenure, 0);
        for (int c = 0; c < MAX_CTXS; c++) /* contexts do not live on in a child */
            atomic_store(&d->ctxs[c], 0);
        atomic_store(&d->ctx_last, 0);
        if (takes_turns(d))
            gvr_sched_forked(&d->sched);
    }
}

static void settle(struct tdev *d, uint64_t now, uint64_t ahead);
static void close_turn(struct tdev *d);

/* A process that ends while holding a token gives it up; waiters would otherwise find it dead
 * only on their next look. Its work queued since the last drain may have run up to now (a kernel
 * longer than the turn): the turn is paid up to now then, within UNSETTLED_MAX_NS, and else only
 * up to what it used. No driver call: the driver may be gone by now. */
__attribute__((destructor)) static void give_back_at_exit(void)
{
    uint64_t now = gv_now_ns();
    for (int i = 0; i < MAX_ORDINALS; i++) {
        struct tdev *d = &devs[i];
        if (!takes_turns(d))
            continue;
        gvr_sched_unclaim(&d->sched);
        uint64_t start;
        if (!gvr_sched_tenure(&d->sched, &start))
            continue;
        if (d->held && gvr_sched_held(&d->sched)) {
            uint64_t end = now;
            if (end > d->paid_until + UNSETTLED_MAX_NS)
                end = d->paid_until + UNSETTLED_MAX_NS;
            if (!atomic_load(&d->launches))
                d->burst = false; /* nothing queued since the last drain */
            settle(d, end, 0);
            close_turn(d);
        } else if (d->held) {
            close_turn(d); /* taken over while silent: paid up to its slice end */
        }
        gvr_sched_release(&d->sched);
    }
}

/* Take turns as best-effort on the GPU's token, if there is one now: without gpuvisord the token of
 * the user's limited processes (once one of them made it); with it, the daemon's, as a member of an
 * instance that has no share on this GPU. */
static bool look_for_token(struct tdev *d)
{
    struct gvr_sched s;
    const char *instance = NULL, *daemon = gvs_daemon(&instance);
    if ((daemon ? gvr_sched_open_daemon(&s, daemon, instance, d->uuid, NULL)
                : gvr_sched_open_existing(&s, NULL, d->uuid, NULL)) < 0)
        return false;
    pthread_mutex_lock(&setup_lock);
    bool first = !atomic_load(&d->spare);
    if (first) {
        pthread_mutex_init(&d->lock, NULL);
        pthread_cond_init(&d->cv, NULL);
        d->sched = s;
        d->via_daemon = daemon != NULL;
        gv_budget_init(&d->own);
        d->budget = &d->own;
        d->share = 0;
        d->policy = GV_POLICY_BEST_EFFORT;
        d->priority = GV_PRIORITY_NORMAL;
        atomic_store(&d->bound, FIRST_BOUND);
        atomic_store(&d->cut, gvr_sched_cut_word(&d->sched));
        atomic_store(&d->spare, true);
        atomic_store(&d->lookout, false);
        atomic_store(&spare_any, true);
    }
    pthread_mutex_unlock(&setup_lock);
    if (!first)
        gvr_sched_close(&s);
    return true;
}

static int setup(struct tdev *d, CUdevice dev)
{
    struct gv_budget *budget = NULL;
    uint32_t share = 0;
    uint8_t uuid[GV_UUID_LEN];
    int rc = gvs_compute_slot(dev, &budget, &share, uuid);
    int state = rc > 0 ? LIMITED : rc == 0 ? UNLIMITED : REFUSED;
    bool watch = state == UNLIMITED && gvs_compute_watch(dev);
    const char *instance = NULL, *daemon = gvs_daemon(&instance);
    /* A process without a limit here takes turns with the limited ones: without gpuvisord its
     * user's, when they have a token for the GPU; with it, as a member of an instance with no
     * share on this GPU (a process in none of the daemon's instances has no turns there). */
    CUuuid u;
    bool lookout = state == UNLIMITED && (daemon ? watch : true) && gvs_real.cuDeviceGetUuid_v2 &&
                   gvs_real.cuDeviceGetUuid_v2(&u, dev) == CUDA_SUCCESS;
    struct gvr_sched s;
    if (state == LIMITED) {
        struct gv_error err = {0};
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
        atomic_store(&d->cut, &no_cut);
        if (state == LIMITED) {
            pthread_mutex_init(&d->lock, NULL);
            pthread_cond_init(&d->cv, NULL);
            d->sched = s;
            d->via_daemon = daemon != NULL;
            d->budget = budget;
            d->share = share;
            memcpy(d->uuid, uuid, GV_UUID_LEN);
            gvs_compute_policy(dev, &d->policy, &d->priority);
            atomic_store(&d->bound, FIRST_BOUND);
            const _Atomic uint64_t *cut = gvr_sched_cut_word(&d->sched);
            if (cut)
                atomic_store(&d->cut, cut);
        } else if (lookout) {
            memcpy(d->uuid, u.bytes, GV_UUID_LEN);
        }
        atomic_store(&d->watch, watch);
        atomic_store(&d->lookout, lookout);
        atomic_store(&d->recheck_at, 0);
        atomic_store(&d->state, state);
    } else if (state == LIMITED) {
        gvr_sched_close(&s); /* another thread was first */
    }
    pthread_mutex_unlock(&setup_lock);
    return atomic_load(&d->state);
}

/* ---- the slow path: one thread per device, d->busy set, no lock held */

/* The key this device contends with now: its virtual time raised to the GPU's clock less one slice
 * of its own, so that time spent idle is not banked. */
static uint64_t key_of(struct tdev *d)
{
    uint64_t clock = gvr_sched_vclock(&d->sched, gv_sched_key(d->priority, d->policy, 0));
    uint64_t lag = gv_vtime_of(slice_ns, d->share);
    uint64_t vt = gv_budget_vtime(d->budget, clock > lag ? clock - lag : 0);
    return gv_sched_key(d->priority, d->policy, vt);
}

/* Read the instance's share and policy again (a resize) for this device. */
static void refresh(struct tdev *d)
{
    if (atomic_load(&d->spare))
        return;
    CUdevice dev = (CUdevice)(d - devs);
    d->share = gvs_compute_share(dev);
    gvs_compute_policy(dev, &d->policy, &d->priority);
}

/* Is the tenure taken last young still? MIN_HOLD_NS; with gpuvisord, whose hand-overs cost two
 * requests each, half a turn. */
static bool young(const struct tdev *d, uint64_t now)
{
    return now < d->tenure_at + (d->via_daemon ? slice_ns / 2 : MIN_HOLD_NS);
}

/* Must this device wait for its budget before it takes the GPU? (fixed shares only) */
static uint64_t budget_wait(const struct tdev *d, uint64_t now)
{
    return d->policy == GV_POLICY_FIXED ? gv_budget_wait(d->budget, now) : 0;
}

/* Book ns of device time (negative: a refund) as the policy says. */
static void book(struct tdev *d, uint64_t now, int64_t ns)
{
    if (d->policy == GV_POLICY_FIXED)
        gv_budget_charge(d->budget, d->share, now, ns);
    else
        gv_budget_count(d->budget, d->share, now, ns);
}

/* The device time this turn used up to now: the closed bursts', and the open one's host time. */
static uint64_t used_to(const struct tdev *d, uint64_t now)
{
    return d->used + (d->burst && now > d->burst_at ? now - d->burst_at : 0);
}

/* Bring the turn's charge to its use up to now plus `ahead` paid in advance, and tell gpuvisord
 * what it used since the last time. */
static void settle(struct tdev *d, uint64_t now, uint64_t ahead)
{
    uint64_t used = used_to(d, now);
    int64_t target = (int64_t)(used + ahead);
    book(d, now, target - d->charged);
    d->charged = target;
    if (used > d->told) {
        gvr_sched_report(&d->sched, used - d->told);
        d->told = used;
    }
    d->paid_until = now + ahead;
    uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
    gv_budget_turn_paid(d->budget, tag, d->paid_until);
}

/* The turn is settled (or was lost and paid for): nobody need charge it after this process. */
static void close_turn(struct tdev *d)
{
    uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
    gv_budget_turn_close(d->budget, tag);
    atomic_store(&d->tenure, 0);
}

/* A turn of another process of the instance that ended with its process before it was settled
 * (killed while its kernels ran): charge what it ran past its payment, from when it was paid to
 * now, at most UNSETTLED_MAX_NS. Only the process that closes it charges it. */
static void settle_ended_turn(struct tdev *d, uint64_t now)
{
    uint64_t tag, start, paid;
    gv_budget_turn(d->budget, &tag, &start, &paid);
    pid_t pid = (pid_t)(uint32_t)tag;
    if (!tag || pid == getpid() || (gvr_sched_holder_word(&d->sched) & ~(1ULL << 63)) == tag ||
        !gvr_proc_gone(pid, start) || !gv_budget_turn_close(d->budget, tag))
        return;
    uint64_t end = now < paid + UNSETTLED_MAX_NS ? now : paid + UNSETTLED_MAX_NS;
    if (end > paid)
        book(d, now, (int64_t)(end - paid));
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

/* ---- bursts, timed by events */

/* The burst's events, made in context ctx (the events of another context are destroyed first).
 * Returns false when none can be had: the burst is then charged its host time. */
static bool events_in(struct tdev *d, uintptr_t ctx)
{
    if (d->evctx == ctx && d->evb && d->eve)
        return true;
    if (!gvs_real.cuEventCreate || !gvs_real.cuEventRecord || !gvs_real.cuEventQuery ||
        !gvs_real.cuCtxPushCurrent_v2 || !gvs_real.cuCtxPopCurrent_v2 ||
        (!gvs_real.cuEventElapsedTime_v2 && !gvs_real.cuEventElapsedTime))
        return false;
    CUcontext popped;
    if (gvs_real.cuCtxPushCurrent_v2((CUcontext)ctx) != CUDA_SUCCESS)
        return false;
    if (d->evb && gvs_real.cuEventDestroy_v2)
        gvs_real.cuEventDestroy_v2(d->evb); /* fails harmlessly when its context is gone */
    if (d->eve && gvs_real.cuEventDestroy_v2)
        gvs_real.cuEventDestroy_v2(d->eve);
    d->evb = d->eve = NULL;
    d->evctx = 0;
    if (gvs_real.cuEventCreate(&d->evb, CU_EVENT_DEFAULT) != CUDA_SUCCESS ||
        gvs_real.cuEventCreate(&d->eve, CU_EVENT_DEFAULT) != CUDA_SUCCESS) {
        if (d->evb && gvs_real.cuEventDestroy_v2)
            gvs_real.cuEventDestroy_v2(d->evb);
        d->evb = d->eve = NULL;
    } else {
        d->evctx = ctx;
    }
    gvs_real.cuCtxPopCurrent_v2(&popped);
    return d->evctx == ctx;
}

/* A launch into `stream` of context ctx begins a burst: stamp its start on the stream. */
static void burst_begin(struct tdev *d, CUstream stream, uintptr_t ctx, uint64_t now)
{
    d->burst = true;
    d->marked = false;
    d->burst_at = now;
    d->bctx = ctx;
    atomic_store(&d->bstream, (uintptr_t)stream);
    atomic_store(&d->multi, false);
    d->timed = events_in(d, ctx) && gvs_real.cuEventRecord(d->evb, stream) == CUDA_SUCCESS;
}

/* Mark the burst's end: stamp it on its stream behind its work. */
static void burst_mark(struct tdev *d)
{
    if (d->burst && d->timed)
        d->marked = gvs_real.cuEventRecord(d->eve, (CUstream)atomic_load(&d->bstream)) ==
                    CUDA_SUCCESS;
}

/* The burst's work is done (its end stamped, or a drain waited for everything): count its device
 * time, from its events when they tell it, else its host time. */
static void burst_close(struct tdev *d, uint64_t now)
{
    if (!d->burst)
        return;
    uint64_t host = now > d->burst_at ? now - d->burst_at : 0, dev = host;
    float ms = -1;
    if (d->timed && d->marked && !atomic_load(&d->multi) &&
        gvs_real.cuEventQuery(d->eve) == CUDA_SUCCESS) {
        CUresult r = gvs_real.cuEventElapsedTime_v2
                         ? gvs_real.cuEventElapsedTime_v2(&ms, d->evb, d->eve)
                         : gvs_real.cuEventElapsedTime(&ms, d->evb, d->eve);
        if (r == CUDA_SUCCESS && ms >= 0 && (uint64_t)((double)ms * 1e6) < host)
            dev = (uint64_t)((double)ms * 1e6);
    }
    d->used += dev;
    d->burst = d->marked = false;
}

/* n launches since the last drain (d->since) were done at `end`: how many make a slice's worth.
 * At least one: a kernel longer than the slice is waited for before the next is queued, so that a
 * waiter of a higher priority waits for the kernel running and no other. */
static void learn(struct tdev *d, uint64_t n, uint64_t end)
{
    if (n) {
        uint64_t per = (end - d->since) / n + 1;
        uint64_t bound = slice_ns / per;
        atomic_store(&d->bound, bound < 1 ? 1 : bound > MAX_BOUND ? MAX_BOUND : bound);
    }
    d->since = end;
}

/* Wait for everything this process queued on the device, and learn from it how long a launch
 * takes. A drain that outlasts the slice and the grace loses the token (region/sched.h) and is
 * paid for all the same, by the settle that follows it. */
static void drain(struct tdev *d)
{
    uint64_t n = atomic_exchange(&d->launches, 0);
    atomic_fetch_add(&d->drains, 1);
    burst_mark(d);
    sync_contexts(d);
    uint64_t end = gv_now_ns();
    burst_close(d, end);
    learn(d, n, end);
}

static void give_up(struct tdev *d, bool drained)
{
    if (!drained)
        drain(d);
    uint64_t now = gv_now_ns();
    settle(d, now, 0);
    close_turn(d);
    gvr_sched_release(&d->sched);
    d->held = false;
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

/* Does this device take turns now? A limited one always; a spare one while limited processes want
 * the GPU (and it marks no demand of its own). */
static bool contending(struct tdev *d, uint64_t now)
{
    if (!atomic_load(&d->spare)) {
        gvr_sched_demand(&d->sched, now + 2 * slice_ns + WAIT_NS);
        return true;
    }
    return gvr_sched_demanded(&d->sched, now);
}

enum took { TOOK, PASS, DENIED };

/* Take the token: wait for the budget (fixed shares), then for the holder (who is looked at for
 * signs of death after each timed-out wait) and the waiters that go first. PASS: a spare device
 * found nobody limited wanting the GPU; DENIED: the daemon refuses this process's turns. */
static enum took take(struct tdev *d)
{
    bool check = false;
    uint64_t began = gv_now_ns();
    for (;;) {
        uint64_t now = gv_now_ns();
        if (refused(d))
            return DENIED;
        refresh(d);
        if (!contending(d, now))
            return PASS;
        settle_ended_turn(d, now);
        uint64_t w = budget_wait(d, now);
        if (w) { /* spent: wait for the refill, without standing in line, nor keeping it idle */
            gvr_sched_release(&d->sched);
            nap(w < GV_BUDGET_PERIOD_NS ? w : GV_BUDGET_PERIOD_NS);
            check = false;
            continue;
        }
        uint64_t key = key_of(d);
        uint64_t start0, mine = gvr_sched_tenure(&d->sched, &start0);
        if (mine && mine == d->tenure_tag && young(d, now) &&
            gvr_sched_holder_word(&d->sched) == (mine | 1ULL << 63))
            key = d->tenure_key; /* taking back its idle turn, young still */
        if (gvr_sched_take(&d->sched, now, now + slice_ns, check, key)) {
            /* The holder taken over may have been of this instance, and its turn unsettled. */
            settle_ended_turn(d, now);
            if (budget_wait(d, now)) {
                gvr_sched_release(&d->sched);
                continue;
            }
            uint64_t start, tag = gvr_sched_tenure(&d->sched, &start);
            uint64_t end = granted(d, now, now + slice_ns);
            if (tag != d->tenure_tag) {
                d->tenure_tag = tag;
                d->tenure_at = now;
                d->tenure_key = key;
            }
            gv_budget_turn_open(d->budget, tag, start, end);
            d->held = true;
            d->took_at = d->since = now;
            d->charged = 0;
            d->used = d->told = 0;
            d->burst = false;
            settle(d, now, end - now);
            gvr_sched_clock_to(&d->sched, key);
            atomic_store(&d->launches, 0);
            atomic_store(&d->tenure, tag);
            const _Atomic uint64_t *cut = gvr_sched_cut_word(&d->sched);
            if (cut)
                atomic_store(&d->cut, cut);
            if (!atomic_load(&d->spare))
                gvs_count_wait(ordinal(d), now - began);
            return TOOK;
        }
        check = !gvr_sched_wait(&d->sched, now, WAIT_NS, key);
    }
}

/* Was this tenure's slice cut short by a waiter of a higher priority or a better class? */
static bool cut_short(const struct tdev *d)
{
    uint64_t t = atomic_load(&d->tenure);
    return t && atomic_load(atomic_load(&d->cut)) == t;
}

/* Bring the device to "held, within a paid slice, room in the queue" (TOOK), or to "launch without
 * a turn" (PASS: a spare device nobody limited contends with). */
static enum took advance(struct tdev *d)
{
    if (d->held && !gvr_sched_held(&d->sched)) {
        /* Taken over while silent: paid up to its slice end, nothing more; and no longer ours. */
        d->held = false;
        d->burst = false;
        close_turn(d);
        gvr_sched_release(&d->sched); /* only clears ours: the holder word is not ours */
    }
    if (d->held) {
        bool drained = false;
        uint64_t now = gv_now_ns();
        bool cut = cut_short(d);
        if (cut || atomic_load(&d->launches) >= atomic_load(&d->bound)) {
            drain(d);
            drained = true;
            now = gv_now_ns();
            if (!gvr_sched_held(&d->sched)) {
                /* The drain outlasted the slice and the grace: taken over; it pays for the
                 * drain all the same, and waits for its turn again. */
                settle(d, now, 0);
                close_turn(d);
                d->held = false;
                gvr_sched_release(&d->sched);
                return take(d);
            }
            if (!cut && now < d->paid_until)
                return TOOK; /* the queue is empty and the slice goes on */
        }
        /* The slice is over: another one if the policy allows, no waiter goes first and the token
         * is still this process's to renew (the daemon may refuse), else give up. */
        settle(d, now, 0);
        refresh(d);
        if (!cut && contending(d, now) && budget_wait(d, now) == 0) {
            uint64_t key = key_of(d);
            if (!gvr_sched_wanted(&d->sched, now, key) &&
                gvr_sched_extend(&d->sched, now + slice_ns)) {
                uint64_t end = granted(d, now, now + slice_ns);
                settle(d, now, end - now);
                gvr_sched_clock_to(&d->sched, key);
                return TOOK;
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
    atomic_store(&d->slice_end, d->held && d->burst ? d->paid_until : 0);
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->lock);
}

static CUresult slow(struct tdev *d, CUstream stream, uintptr_t ctx)
{
    enter_slow(d);
    /* Another thread's slow path may have done the work meanwhile. */
    uint64_t now = gv_now_ns();
    enum took t = takes_turns(d) ? TOOK : DENIED;
    if (t == TOOK && !d->held && atomic_load(&d->spare) && !gvr_sched_demanded(&d->sched, now)) {
        t = PASS; /* nobody limited wants the GPU: bound the queue, and go on */
        if (atomic_load(&d->launches) >= atomic_load(&d->bound))
            drain(d);
    } else if (t == TOOK && !(d->held && d->burst && now < d->paid_until &&
                       atomic_load(&d->launches) < atomic_load(&d->bound) && !cut_short(d)))
        t = advance(d);
    if (t == PASS)
        atomic_fetch_add(&d->launches, 1);
    if (t == TOOK) {
        if (!d->burst)
            burst_begin(d, stream, ctx, gv_now_ns());
        else if ((uintptr_t)stream != atomic_load(&d->bstream))
            atomic_store(&d->multi, true);
        atomic_fetch_add(&d->launches, 1);
    }
    leave_slow(d);
    return t == DENIED ? CUDA_ERROR_NOT_PERMITTED : CUDA_SUCCESS;
}

/* A watched device found a share: set it up again, as limited now. */
static int relimit(struct tdev *d, CUdevice dev)
{
    pthread_mutex_lock(&setup_lock);
    int expect = UNLIMITED;
    if (atomic_compare_exchange_strong(&d->state, &expect, UNKNOWN) && atomic_load(&d->spare)) {
        /* Its turns as best-effort end: the instance's own begin. */
        atomic_store(&d->cut, &no_cut);
        atomic_store(&d->spare, false);
        gvr_sched_close(&d->sched);
    }
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

/* A device without a compute limit: pass, unless it takes turns now. Returns true to pass. */
static bool unlimited_pass(struct tdev *d, CUdevice dev, int *state)
{
    bool spare = atomic_load_explicit(&d->spare, memory_order_acquire);
    bool watch = atomic_load_explicit(&d->watch, memory_order_relaxed);
    bool lookout = !spare && atomic_load_explicit(&d->lookout, memory_order_relaxed);
    if (__builtin_expect(watch || lookout, 0)) {
        uint64_t now = gv_now_ns();
        if (now >= atomic_load_explicit(&d->recheck_at, memory_order_relaxed)) {
            atomic_store_explicit(&d->recheck_at, now + RECHECK_NS, memory_order_relaxed);
            /* A share given by a resize: limited from now on (not in the middle of a turn). */
            if (watch && !d->held && atomic_load(&d->slice_end) == 0 && gvs_compute_share(dev) &&
                (*state = relimit(d, dev)) != UNLIMITED)
                return false;
            if (lookout)
                spare = look_for_token(d);
        }
    }
    if (!spare)
        return true;
    /* Turns only while a limited process wants the GPU, or while it holds the token; and
     * meanwhile no more than about a slice of work queued ahead, or a backlog queued while
     * nobody wanted the GPU would run in the limited processes' turns. */
    if (atomic_load_explicit(&d->slice_end, memory_order_relaxed) != 0 || d->held ||
        gvr_sched_demanded(&d->sched, gv_now_ns()))
        return false;
    if (atomic_fetch_add_explicit(&d->launches, 1, memory_order_relaxed) <
        atomic_load_explicit(&d->bound, memory_order_relaxed))
        return true;
    atomic_fetch_sub_explicit(&d->launches, 1, memory_order_relaxed); /* slow() drains */
    return false;
}

CUresult gvs_gate(CUstream stream)
{
    if (!gvs_compute_asked && !atomic_load_explicit(&spare_any, memory_order_relaxed)) {
        uint64_t t = gv_clock_ns(CLOCK_MONOTONIC_COARSE);
        if (t < atomic_load_explicit(&look_at, memory_order_relaxed))
            return CUDA_SUCCESS;
        atomic_store_explicit(&look_at, t + LOOK_NS, memory_order_relaxed);
    }
    CUdevice dev;
    uintptr_t ctx;
    struct tdev *d = device(stream, &dev, &ctx);
    if (!d)
        return CUDA_SUCCESS;
    int state = atomic_load_explicit(&d->state, memory_order_acquire);
    if (__builtin_expect(state == UNKNOWN, 0))
        state = setup(d, dev);
    if (state == UNLIMITED && unlimited_pass(d, dev, &state))
        return CUDA_SUCCESS;
    if (state == REFUSED)
        return CUDA_ERROR_NOT_PERMITTED;
    if (__builtin_expect(atomic_load_explicit(&d->ctx_last, memory_order_relaxed) != ctx, 0))
        note_ctx(d, ctx);
    uint64_t now = gv_now_ns();
    if (now < atomic_load_explicit(&d->slice_end, memory_order_acquire) &&
        atomic_load_explicit(atomic_load_explicit(&d->cut, memory_order_relaxed),
                             memory_order_relaxed) !=
            atomic_load_explicit(&d->tenure, memory_order_relaxed)) {
        if (__builtin_expect(
                (uintptr_t)stream != atomic_load_explicit(&d->bstream, memory_order_relaxed), 0))
            atomic_store_explicit(&d->multi, true, memory_order_relaxed);
        if (atomic_fetch_add_explicit(&d->launches, 1, memory_order_relaxed) <
            atomic_load_explicit(&d->bound, memory_order_relaxed))
            return CUDA_SUCCESS;
        atomic_fetch_sub_explicit(&d->launches, 1, memory_order_relaxed); /* slow() counts it */
    }
    return slow(d, stream, ctx);
}

static struct tdev *turn_device(CUstream stream, uintptr_t *ctx)
{
    CUdevice dev;
    struct tdev *d = device(stream, &dev, ctx);
    return d && takes_turns(d) ? d : NULL;
}

/* What this thread saw when it began its synchronizing call. */
static __thread struct tdev *sync_dev;
static __thread uintptr_t sync_ctx;
static __thread uint64_t sync_drains, sync_launches;
static __thread bool sync_held, sync_marked;

void gvs_sync_begin(CUstream stream, bool whole_context)
{
    struct tdev *d = sync_dev = turn_device(stream, &sync_ctx);
    if (!d)
        return;
    sync_held = atomic_load(&d->slice_end) != 0;
    sync_marked = false;
    if (!sync_held)
        return;
    /* Stamp the end of the burst this call waits for: its stream's, or any, for the context. */
    enter_slow(d);
    sync_drains = atomic_load(&d->drains);
    sync_launches = atomic_load(&d->launches);
    if (d->held && d->burst &&
        ((whole_context && sync_ctx == d->bctx) ||
         (uintptr_t)stream == atomic_load(&d->bstream))) {
        burst_mark(d);
        sync_marked = d->marked;
    }
    leave_slow(d);
}

void gvs_sync_end(CUstream stream, bool whole_context)
{
    (void)stream; /* the device was found when the call began */
    struct tdev *d = sync_dev;
    if (!d)
        return;
    sync_dev = NULL;
    uint64_t now = gv_now_ns();
    if (!atomic_load(&d->slice_end) && !sync_held)
        return;
    enter_slow(d);
    /* The call emptied the queue only if no other thread launched since it began (no launch
     * passes the gate from here on: the slow path is ours), and only if it waited for all of this
     * process's work on the device: the whole (only) context, or the burst's only stream. */
    uint64_t launched = atomic_load(&d->launches);
    bool quiet = atomic_load(&d->drains) == sync_drains && launched == sync_launches;
    bool empty = quiet && sync_held &&
                 ((whole_context && only_ctx(d, sync_ctx)) ||
                  (sync_marked && !atomic_load(&d->multi) && only_ctx(d, d->bctx) &&
                   gvs_real.cuEventQuery(d->eve) == CUDA_SUCCESS));
    if (d->held && !gvr_sched_held(&d->sched)) {
        /* The turn was taken over while this thread waited past its slice and the grace: the
         * wait is paid for (its work may have run all along), and the next launch waits for the
         * token again. */
        if (sync_held && launched)
            settle(d, now, 0);
        d->held = false;
        d->burst = false;
        close_turn(d);
        gvr_sched_release(&d->sched);
    } else if (d->held && empty) {
        /* Idle: the turn is settled to what it used; the GPU goes to whoever waits, else stays
         * this process's to take back at its next launch, if nobody takes it first. */
        if (sync_marked)
            d->marked = true;
        burst_close(d, now);
        if (launched) {
            uint64_t n = atomic_exchange(&d->launches, 0);
            atomic_fetch_add(&d->drains, 1);
            learn(d, n, now);
        }
        settle(d, now, 0);
        close_turn(d);
        /* At once to a waiter of a higher priority or a better class; to whoever waits once the
         * tenure is no longer young; else idle, without waking anyone: a waiter that looks takes
         * it, and the holder's next launch takes it back if nobody did (hand-overs at every short
         * burst would cost more than the bursts). */
        bool urgent = gvr_sched_wanted(&d->sched, now, gv_sched_key(d->priority, d->policy, 0));
        bool waited = gvr_sched_wanted(&d->sched, now, UINT64_MAX);
        if (urgent || (waited && !young(d, now)) || !gvr_sched_idle(&d->sched, false))
            gvr_sched_release(&d->sched);
        d->held = false;
    } else if (d->held && (now >= d->paid_until ||
                           (now >= d->took_at + MIN_HOLD_NS &&
                            gvr_sched_wanted(&d->sched, now, key_of(d))))) {
        give_up(d, false);
    }
    leave_slow(d);
}
