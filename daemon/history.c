/* SPDX-License-Identifier: Apache-2.0 */
/* history.c: the last hour of each GPU's and instance's figures, one sample a second, in memory.
 *
 * GET /metrics tells what is true now; a dashboard without Prometheus, or a tenant asking "what
 * did my job do ten minutes ago", needs what was. The sampler thread (daemon.c) calls
 * gvd_history_sample once a second, on the wall clock's second: it reads every instance's region
 * through gvd_instance_live (the same reading as /metrics and GET /v1/instances/{id}) and keeps
 * one record per instance and per GPU in a ring of GVD_HISTORY_LEN (core/ring.h), overwriting the
 * oldest. Counters the region keeps since the instance was made (GPU time used, time waited) are
 * kept as rates: their growth since the previous sample over the monotonic time between the two.
 *
 * Memory is bounded and paid once: each GPU's ring is allocated at start, each instance's at its
 * first sample, at full size, and an instance's is freed with the instance (a new one starts
 * empty). Nothing is written to disk: a restart starts every history afresh.
 *
 * Locking: the rings have a mutex of their own, because both the sampler and the GET handlers
 * run under the model's read lock. The set of instances cannot change while either holds that
 * read lock, and an instance's ring is freed only under the write lock (gvd_instance_remove). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/ring.h"
#include "daemon/api.h"

/* An instance's figures at one time. */
struct inst_sample {
    uint64_t used;    /* bytes */
    uint64_t limit;   /* bytes */
    uint64_t refused; /* charges refused at the limit, so far */
    double gpu_time;  /* seconds of GPU time per second; NaN: not known (no earlier sample) */
    double wait;      /* seconds waited for the GPU per second, all members; NaN as above */
    uint32_t members;
    bool live; /* the region was read: used, refused and members are known */
};

/* A GPU's figures at one time: its instances' added up. */
struct gpu_sample {
    uint64_t used;   /* bytes its instances' processes hold */
    double gpu_time; /* seconds of GPU time its instances used per second */
    uint32_t instances;
};

struct gvd_inst_history {
    struct gv_ring ring;
    bool has_prev; /* the figures below are of the previous sample */
    uint64_t busy_prev, waited_prev, mono_prev;
};

struct gvd_history {
    pthread_mutex_t lock;
    struct gv_ring gpu[GV_MAX_GPUS];
};

size_t gvd_history_bytes(void)
{
    return GVD_HISTORY_LEN * (sizeof(struct inst_sample) + sizeof(int64_t)) +
           sizeof(struct gvd_inst_history);
}

int gvd_history_init(struct gvd *d, struct gv_error *err)
{
    struct gvd_history *h = calloc(1, sizeof(*h));
    if (!h)
        return gv_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&h->lock, NULL);
    d->history = h;
    for (unsigned i = 0; i < d->ngpus; i++)
        if (gv_ring_init(&h->gpu[i], GVD_HISTORY_LEN, sizeof(struct gpu_sample)) != 0)
            return gv_error_set(err, -ENOMEM, "out of memory (the GPUs' history)");
    return 0;
}

void gvd_history_free(struct gvd *d)
{
    struct gvd_history *h = d->history;
    if (!h)
        return;
    for (unsigned i = 0; i < GV_MAX_GPUS; i++)
        gv_ring_free(&h->gpu[i]);
    pthread_mutex_destroy(&h->lock);
    free(h);
    d->history = NULL;
}

void gvd_history_instance_free(struct gvd_instance *in)
{
    if (!in->history)
        return;
    gv_ring_free(&in->history->ring);
    free(in->history);
    in->history = NULL;
}

/* The growth of a counter per second of mono time since the previous sample; NaN without one. */
static double rate(const struct gvd_inst_history *ih, uint64_t prev, uint64_t now, uint64_t mono)
{
    if (!ih->has_prev || mono <= ih->mono_prev || now < prev)
        return NAN;
    return (double)(now - prev) / (double)(mono - ih->mono_prev);
}

/* One instance's sample; its ring made at its first. History lock held. */
static void sample_instance(struct gvd_instance *in, struct gvr_snapshot *s, int64_t t,
                            uint64_t mono, struct gpu_sample *g)
{
    if (!in->history) {
        struct gvd_inst_history *ih = calloc(1, sizeof(*ih));
        if (!ih || gv_ring_init(&ih->ring, GVD_HISTORY_LEN, sizeof(struct inst_sample)) != 0) {
            free(ih);
            return; /* tried again at the next sample */
        }
        in->history = ih;
    }
    struct gvd_inst_history *ih = in->history;
    struct gvd_live live;
    gvd_instance_live(in, s, &live);
    struct inst_sample x = {.limit = in->memory, .gpu_time = NAN, .wait = NAN};
    if (live.known) {
        x.live = true;
        x.used = live.used;
        x.refused = live.refused;
        x.members = live.members;
        x.gpu_time = rate(ih, ih->busy_prev, live.busy_total_ns, mono);
        x.wait = rate(ih, ih->waited_prev, live.waited_total_ns, mono);
        ih->busy_prev = live.busy_total_ns;
        ih->waited_prev = live.waited_total_ns;
        ih->mono_prev = mono;
    }
    ih->has_prev = live.known;
    gv_ring_push(&ih->ring, t, &x); /* refused when the wall clock went back: a gap */
    if (g) {
        g->used += x.used;
        if (!isnan(x.gpu_time))
            g->gpu_time += x.gpu_time;
        g->instances++;
    }
}

int64_t gvd_history_sample(struct gvd *d)
{
    struct gvd_history *h = d->history;
    struct gvr_snapshot *s = malloc(sizeof(*s));
    if (!h || !s) {
        free(s);
        return gvd_now();
    }
    struct gpu_sample g[GV_MAX_GPUS];
    memset(g, 0, sizeof(g));
    pthread_rwlock_rdlock(&d->lock);
    int64_t t = gvd_now();
    uint64_t mono = gv_now_ns();
    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < d->ninstances; i++) {
        struct gvd_instance *in = d->instances[i];
        sample_instance(in, s, t, mono, in->gpu >= 0 ? &g[in->gpu] : NULL);
    }
    for (unsigned i = 0; i < d->ngpus; i++)
        gv_ring_push(&h->gpu[i], t, &g[i]);
    pthread_mutex_unlock(&h->lock);
    pthread_rwlock_unlock(&d->lock);
    free(s);
    return t;
}

/* --- The latest sample, for the live stream. */

bool gvd_history_last_gpu(struct gvd *d, unsigned i, uint64_t *used, double *gpu_time)
{
    struct gvd_history *h = d->history;
    bool ok = false;
    if (!h || i >= d->ngpus)
        return false;
    pthread_mutex_lock(&h->lock);
    if (h->gpu[i].n) {
        int64_t t;
        const struct gpu_sample *x = gv_ring_at(&h->gpu[i], h->gpu[i].n - 1, &t);
        *used = x->used;
        *gpu_time = x->gpu_time;
        ok = true;
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

bool gvd_history_last_instance(struct gvd *d, const struct gvd_instance *in, double *gpu_time,
                               double *wait)
{
    struct gvd_history *h = d->history;
    bool ok = false;
    if (!h)
        return false;
    pthread_mutex_lock(&h->lock);
    if (in->history && in->history->ring.n) {
        int64_t t;
        const struct inst_sample *x = gv_ring_at(&in->history->ring, in->history->ring.n - 1, &t);
        *gpu_time = x->gpu_time;
        *wait = x->wait;
        ok = true;
    }
    pthread_mutex_unlock(&h->lock);
    return ok;
}

/* --- The API. */

static json_t *number_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

static json_t *count_or_null(bool known, uint64_t v)
{
    return known ? json_integer((json_int_t)v) : json_null();
}

/* {"interval_s": 1, "samples": [...]} from ring r, after q's since; fn renders one record. */
static void reply_ring(struct gvd_req *q, struct gvd_resp *r, const struct gv_ring *ring,
                       json_t *(*fn)(const void *rec, int64_t t))
{
    json_t *a = json_array();
    if (!a)
        return gvd_reply_error(r, 500, "out of memory");
    size_t from = ring && q->query.has_since ? gv_ring_since(ring, q->query.since) : 0;
    for (size_t i = from; ring && i < ring->n; i++) {
        int64_t t;
        const void *rec = gv_ring_at(ring, i, &t);
        if (json_array_append_new(a, fn(rec, t)) != 0) {
            json_decref(a);
            return gvd_reply_error(r, 500, "out of memory");
        }
    }
    gvd_reply_json(r, 200, json_pack("{sI so}", "interval_s", (json_int_t)1, "samples", a));
}

static json_t *gpu_record(const void *rec, int64_t t)
{
    const struct gpu_sample *x = rec;
    return json_pack("{sI sI s:o si}", "t", (json_int_t)t, "memory_used", (json_int_t)x->used,
                     "gpu_time", json_real(x->gpu_time), "instances", (int)x->instances);
}

static json_t *instance_record(const void *rec, int64_t t)
{
    const struct inst_sample *x = rec;
    return json_pack("{sI s:o sI s:o s:o s:o s:o}", "t", (json_int_t)t, "memory_used",
                     count_or_null(x->live, x->used), "memory_limit", (json_int_t)x->limit,
                     "gpu_time", number_or_null(x->gpu_time), "wait", number_or_null(x->wait),
                     "members", count_or_null(x->live, x->members), "refused",
                     count_or_null(x->live, x->refused));
}

void gvd_api_gpu_history(struct gvd_req *q, struct gvd_resp *r)
{
    int i = gvd_api_gpu_lookup(q, r);
    if (i < 0)
        return;
    struct gvd_history *h = q->d->history;
    if (!h)
        return gvd_reply_error(r, 503, "the history is not kept yet");
    pthread_mutex_lock(&h->lock);
    reply_ring(q, r, &h->gpu[i], gpu_record);
    pthread_mutex_unlock(&h->lock);
}

void gvd_api_instance_history(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd_instance *in = gvd_api_instance_lookup(q, r);
    if (!in)
        return;
    struct gvd_history *h = q->d->history;
    if (!h)
        return gvd_reply_error(r, 503, "the history is not kept yet");
    pthread_mutex_lock(&h->lock);
    reply_ring(q, r, in->history ? &in->history->ring : NULL, instance_record);
    pthread_mutex_unlock(&h->lock);
}
