/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c: GET /v1/stream, the live figures as server-sent events.
 *
 * The web page and `gpuvisor top` show what GET /v1/gpus, the instances with their usage, the
 * tenants and the audit log say, once a second. Polling those routes would cost a request per
 * client per second each; instead each client holds one response open, and the daemon sends a
 * snapshot of everything the client's token may see just after each history sample (so a
 * snapshot's rates are the history's latest).
 *
 * Cost is paid per viewer, not per client: at each tick the sampler thread builds the snapshot
 * text once for each distinct viewer (the admin, or a tenant) among the open streams, under the
 * model's read lock, and every stream of that viewer shares it (reference-counted). The audit
 * log's new events are the only part that differs per stream, since each stream sends the events
 * it has not sent yet; they are read from the database only when the log has grown.
 *
 * Each stream is a libmicrohttpd response whose content comes from stream_read: it copies out the
 * text it has, and with nothing left it suspends the connection, which then costs no CPU until the
 * next tick resumes it. The stream lock orders the two: a stream is marked suspended and suspended
 * under the lock, and the tick sets its snapshot and resumes it under the same lock, so no tick
 * is lost between the check and the suspension. A client that stops reading keeps only the newest
 * snapshot (older ones are dropped, not queued) until the server's idle timeout closes it.
 *
 * A stream keeps the hash of the token it was opened with and is checked again at every tick: a
 * token replaced or a tenant deleted ends its streams, as it would refuse its next request. */
#include <errno.h>
#include <microhttpd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/api.h"
#include "daemon/store.h"

#define STREAMS_MAX  256 /* open streams, all clients together */
#define EVENTS_FIRST 20  /* events in a stream's first snapshot: the latest its token may see */
#define EVENTS_LOOK  200 /* how far back in the log the first snapshot looks for them */
#define EVENTS_PER   100 /* new events sent in one snapshot at most; the rest in the next */
#define BLOCK        (32 * 1024)

/* One viewer's snapshot of one tick, shared by its streams. text is the JSON object without its
 * closing brace: each stream adds its own "events" and closes it. */
struct snap {
    unsigned refs; /* under the stream lock */
    int64_t t;
    size_t len;
    char text[];
};

struct stream {
    struct gvd_streams *all;
    struct MHD_Connection *c;
    bool admin;
    bool by_token;                 /* opened with a token: hash is its hash */
    char tenant[GVD_NAME_MAX + 1]; /* a tenant's stream: whose */
    char hash[GV_SHA256_HEX];
    struct snap *next_snap; /* the newest snapshot not sent yet */
    char *out;              /* the event being sent, and how far */
    size_t out_len, out_off;
    int64_t events_sent; /* the last event sent; -1: none yet (the first snapshot) */
    bool suspended, ended;
    struct stream *prev, *next;
};

struct gvd_streams {
    struct gvd *d;
    pthread_mutex_t lock;
    struct stream *head;
    unsigned count;
    bool stopping;
    int64_t events_last; /* the log's last event, as of the latest tick */
};

static void snap_unref(struct snap *s)
{
    if (s && --s->refs == 0)
        free(s);
}

int gvd_streams_init(struct gvd *d, struct gv_error *err)
{
    struct gvd_streams *st = calloc(1, sizeof(*st));
    if (!st)
        return gv_error_set(err, -ENOMEM, "out of memory");
    st->d = d;
    pthread_mutex_init(&st->lock, NULL);
    d->streams = st;
    return 0;
}

void gvd_streams_free(struct gvd *d)
{
    struct gvd_streams *st = d->streams;
    if (!st)
        return;
    /* The HTTP servers are stopped: every response, and so every stream, is freed. */
    pthread_mutex_destroy(&st->lock);
    free(st);
    d->streams = NULL;
}

/* --- Snapshots. */

static json_t *rate_json(bool known, double v)
{
    return known && !isnan(v) ? json_real(v) : json_null();
}

/* What viewer who may see now, as text (see struct snap). Model lock held. */
static struct snap *snapshot(struct gvd *d, const struct gvd_caller *who, int64_t t)
{
    json_t *gpus = gvd_gpus_json(d), *instances = json_array(), *tenants = json_array();
    for (unsigned i = 0; gpus && i < d->ngpus; i++) {
        uint64_t used = 0;
        double gpu_time = NAN;
        bool known = gvd_history_last_gpu(d, i, &used, &gpu_time);
        json_t *g = json_array_get(gpus, i);
        json_object_set_new(g, "memory_used", known ? json_integer((json_int_t)used) : json_null());
        json_object_set_new(g, "gpu_time", rate_json(known, gpu_time));
    }
    for (size_t i = 0; instances && i < d->ninstances; i++) {
        struct gvd_instance *in = d->instances[i];
        if (!gvd_visible(who, in))
            continue;
        json_t *j = gvd_instance_json(d, in, false);
        json_t *u = gvd_instance_usage_json(in);
        double gpu_time = NAN, wait = NAN;
        bool known = gvd_history_last_instance(d, in, &gpu_time, &wait);
        if (u) {
            json_object_set_new(u, "gpu_time", rate_json(known, gpu_time));
            json_object_set_new(u, "wait", rate_json(known, wait));
        }
        if (j)
            json_object_set_new(j, "usage", u ? u : json_null());
        else
            json_decref(u);
        json_array_append_new(instances, j);
    }
    for (size_t i = 0; tenants && i < d->ntenants; i++)
        if (who->role == GVD_ROLE_ADMIN || who->tenant == d->tenants[i])
            json_array_append_new(tenants, gvd_tenant_json(d, d->tenants[i]));
    json_t *o =
        json_pack("{sI ss s:o s:o s:o s:o}", "t", (json_int_t)t, "role",
                  who->role == GVD_ROLE_ADMIN ? "admin" : "tenant", "tenant",
                  who->role == GVD_ROLE_TENANT ? json_string(who->tenant->name) : json_null(),
                  "gpus", gpus, "instances", instances, "tenants", tenants);
    char *text = o ? json_dumps(o, GVD_JSON_FLAGS) : NULL;
    json_decref(o);
    size_t len = text ? strlen(text) : 0;
    struct snap *s = len >= 2 ? malloc(sizeof(*s) + len) : NULL;
    if (s) {
        s->refs = 1;
        s->t = t;
        s->len = len - 1; /* without the closing brace */
        memcpy(s->text, text, len - 1);
    }
    free(text);
    return s;
}

/* Is the stream's viewer still who it was, and who is it now? Model lock held. */
static bool viewer(struct gvd *d, const struct stream *s, struct gvd_caller *who)
{
    memset(who, 0, sizeof(*who));
    if (s->admin) {
        who->role = GVD_ROLE_ADMIN;
        return !s->by_token || gv_equal_ct(s->hash, d->admin_hash, GV_SHA256_HEX - 1);
    }
    const struct gvd_tenant *t = gvd_tenant_find(d, s->tenant);
    if (!t || (s->by_token && !gv_equal_ct(s->hash, t->token_hash, GV_SHA256_HEX - 1)))
        return false;
    who->role = GVD_ROLE_TENANT;
    who->tenant = t;
    return true;
}

static bool same_viewer(const struct stream *a, const struct stream *b)
{
    return a->admin == b->admin && a->by_token == b->by_token &&
           (a->admin || strcmp(a->tenant, b->tenant) == 0) &&
           (!a->by_token || strcmp(a->hash, b->hash) == 0);
}

/* Wake a suspended stream: it has something to send, or it is to end. Stream lock held. */
static void wake(struct stream *s)
{
    if (s->suspended) {
        s->suspended = false;
        MHD_resume_connection(s->c);
    }
}

void gvd_streams_tick(struct gvd *d, int64_t t)
{
    struct gvd_streams *st = d->streams;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    bool none = st->count == 0;
    pthread_mutex_unlock(&st->lock);
    if (none)
        return;
    int64_t last = 0;
    struct gv_error err = {0};
    bool events_known = gvd_store_events_last(d->store, &last, &err) == 0;
    pthread_rwlock_rdlock(&d->lock);
    pthread_mutex_lock(&st->lock);
    if (events_known)
        st->events_last = last;
    for (struct stream *s = st->head; s; s = s->next) {
        if (s->ended)
            continue;
        struct gvd_caller who;
        if (!viewer(d, s, &who)) {
            s->ended = true; /* its token no longer admits it */
            wake(s);
            continue;
        }
        struct snap *snap = NULL;
        for (struct stream *o = st->head; o != s && !snap; o = o->next)
            if (!o->ended && o->next_snap && o->next_snap->t == t && same_viewer(o, s))
                snap = o->next_snap;
        if (snap)
            snap->refs++;
        else if (!(snap = snapshot(d, &who, t)))
            continue; /* out of memory: this tick is skipped */
        snap_unref(s->next_snap);
        s->next_snap = snap;
        wake(s);
    }
    pthread_mutex_unlock(&st->lock);
    pthread_rwlock_unlock(&d->lock);
}

void gvd_streams_end(struct gvd *d)
{
    struct gvd_streams *st = d->streams;
    if (!st)
        return;
    pthread_mutex_lock(&st->lock);
    st->stopping = true;
    for (struct stream *s = st->head; s; s = s->next) {
        s->ended = true;
        wake(s);
    }
    pthread_mutex_unlock(&st->lock);
}

/* --- Sending. */

struct events_text {
    char *buf;
    size_t len, cap;
    int64_t last;
    bool failed;
    /* For the first snapshot: keep only the latest EVENTS_FIRST. */
    char *ring[EVENTS_FIRST];
    unsigned n;
    bool first;
};

static void append(struct events_text *e, const char *text, size_t len)
{
    if (e->failed)
        return;
    if (e->len + len + 2 > e->cap) {
        size_t cap = e->cap ? e->cap : 1024;
        while (cap < e->len + len + 2)
            cap *= 2;
        char *b = realloc(e->buf, cap);
        if (!b) {
            e->failed = true;
            return;
        }
        e->buf = b;
        e->cap = cap;
    }
    memcpy(e->buf + e->len, text, len);
    e->len += len;
}

static void one_event(const struct gvd_event *ev, void *arg)
{
    struct events_text *e = arg;
    json_t *j = gvd_event_json(ev);
    char *text = j ? json_dumps(j, GVD_JSON_FLAGS) : NULL;
    json_decref(j);
    e->last = ev->seq;
    if (!text) {
        e->failed = true;
        return;
    }
    if (e->first) {
        free(e->ring[e->n % EVENTS_FIRST]);
        e->ring[e->n++ % EVENTS_FIRST] = text;
        return;
    }
    if (e->len > 1)
        append(e, ",", 1);
    append(e, text, strlen(text));
    free(text);
}

/* The stream's next event: the snapshot with the events it has not sent, as one SSE event. */
static char *render(struct gvd_streams *st, struct stream *s, struct snap *snap, int64_t last,
                    size_t *len)
{
    struct events_text e = {.last = s->events_sent, .first = s->events_sent < 0};
    append(&e, "[", 1);
    if (e.first || s->events_sent < last) {
        int64_t after = e.first ? (last > EVENTS_LOOK ? last - EVENTS_LOOK : 0) : s->events_sent;
        struct gv_error err = {0};
        if (gvd_store_events(st->d->store, s->admin ? NULL : s->tenant, after,
                             e.first ? EVENTS_LOOK : EVENTS_PER, one_event, &e, &err) != 0)
            e.last = s->events_sent; /* tried again at the next tick */
        if (e.first) {
            unsigned from = e.n > EVENTS_FIRST ? e.n - EVENTS_FIRST : 0;
            for (unsigned i = from; i < e.n; i++) {
                char *text = e.ring[i % EVENTS_FIRST];
                if (i > from)
                    append(&e, ",", 1);
                append(&e, text, strlen(text));
                free(text);
            }
            if (e.last < 0)
                e.last = after;
        }
    }
    append(&e, "]", 1);
    char head[64];
    int h = snprintf(head, sizeof(head), "event: snapshot\nid: %lld\ndata: ", (long long)snap->t);
    static const char mid[] = ",\"events\":", tail[] = "}\n\n";
    size_t n = (size_t)h + snap->len + sizeof(mid) - 1 + e.len + sizeof(tail) - 1;
    char *out = e.failed ? NULL : malloc(n);
    if (out) {
        char *p = out;
        memcpy(p, head, (size_t)h);
        p += h;
        memcpy(p, snap->text, snap->len);
        p += snap->len;
        memcpy(p, mid, sizeof(mid) - 1);
        p += sizeof(mid) - 1;
        memcpy(p, e.buf, e.len);
        p += e.len;
        memcpy(p, tail, sizeof(tail) - 1);
        *len = n;
        s->events_sent = e.last;
    }
    free(e.buf);
    return out;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    struct gvd_streams *st = s->all;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        if (s->out_off < s->out_len) {
            size_t n = s->out_len - s->out_off;
            if (n > max)
                n = max;
            memcpy(buf, s->out + s->out_off, n);
            s->out_off += n;
            pthread_mutex_unlock(&st->lock);
            return (ssize_t)n;
        }
        free(s->out);
        s->out = NULL;
        s->out_len = s->out_off = 0;
        if (s->ended) {
            pthread_mutex_unlock(&st->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        struct snap *snap = s->next_snap;
        if (!snap) {
            s->suspended = true;
            MHD_suspend_connection(s->c);
            pthread_mutex_unlock(&st->lock);
            return 0;
        }
        s->next_snap = NULL;
        int64_t last = st->events_last;
        pthread_mutex_unlock(&st->lock);
        /* The database is read without the stream lock: the tick goes on meanwhile. */
        size_t len = 0;
        char *out = render(st, s, snap, last, &len);
        pthread_mutex_lock(&st->lock);
        snap_unref(snap);
        if (!out) {
            s->ended = true; /* out of memory: the client reconnects */
            continue;
        }
        s->out = out;
        s->out_len = len;
    }
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    struct gvd_streams *st = s->all;
    pthread_mutex_lock(&st->lock);
    if (s->prev)
        s->prev->next = s->next;
    else
        st->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    st->count--;
    snap_unref(s->next_snap);
    pthread_mutex_unlock(&st->lock);
    free(s->out);
    free(s);
}

struct MHD_Response *gvd_stream_open(struct gvd *d, struct MHD_Connection *c,
                                     const struct gvd_caller *who, const char *token_hash,
                                     struct gvd_resp *r)
{
    struct gvd_streams *st = d->streams;
    struct stream *s = calloc(1, sizeof(*s));
    if (!s) {
        gvd_reply_error(r, 500, "out of memory");
        return NULL;
    }
    s->all = st;
    s->c = c;
    s->admin = who->role == GVD_ROLE_ADMIN;
    if (!s->admin)
        snprintf(s->tenant, sizeof(s->tenant), "%s", who->tenant->name);
    if (token_hash) {
        s->by_token = true;
        snprintf(s->hash, sizeof(s->hash), "%s", token_hash);
    }
    s->events_sent = -1;
    static const char retry[] = "retry: 2000\n\n";
    s->out = malloc(sizeof(retry));
    /* The first snapshot at once, of the latest sample. */
    struct snap *first = s->out ? snapshot(d, who, gvd_now()) : NULL;
    if (!first) {
        free(s->out);
        free(s);
        gvd_reply_error(r, 500, "out of memory");
        return NULL;
    }
    memcpy(s->out, retry, sizeof(retry) - 1);
    s->out_len = sizeof(retry) - 1;
    s->next_snap = first;
    pthread_mutex_lock(&st->lock);
    bool full = st->count >= STREAMS_MAX, stopping = st->stopping;
    if (!full && !stopping) {
        s->next = st->head;
        if (st->head)
            st->head->prev = s;
        st->head = s;
        st->count++;
    }
    pthread_mutex_unlock(&st->lock);
    if (full || stopping) {
        snap_unref(first);
        free(s->out);
        free(s);
        if (full)
            gvd_reply_error(r, 503, "too many streams open (at most %d): close one, or poll",
                            STREAMS_MAX);
        else
            gvd_reply_error(r, 503, "gpuvisord is stopping");
        return NULL;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, BLOCK, stream_read, s, stream_free);
    if (!resp) {
        stream_free(s);
        gvd_reply_error(r, 500, "out of memory");
        return NULL;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    r->status = 200;
    return resp;
}
