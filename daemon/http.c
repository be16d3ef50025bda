/* SPDX-License-Identifier: Apache-2.0 */
/* http.c: the REST API's HTTP servers, on TCP and on the local socket, and the routing table.
 *
 * Two libmicrohttpd daemons share one request handler: one listens on --listen with a pool of
 * worker threads; the other has no listening socket and takes the connections the local socket's
 * thread hands over (local.c sees HTTP by the first bytes and calls gvd_http_add). Their requests
 * differ in one thing: on the local socket, a request without a token is the peer's Unix user
 * (SO_PEERCRED on the connection's descriptor).
 *
 * Everything a client controls is bounded here before any handler runs: a body is accumulated up
 * to GVD_BODY_MAX (413 beyond, at once when Content-Length says so), a body must be JSON (415),
 * the path and query go through request.c's parsers, and the connection count and the idle time
 * of a connection are capped, so that slow or many clients cannot exhaust the server. Both servers
 * poll with epoll in their own threads: a client that stalls half-way holds one connection and
 * nothing else. Every answer is counted by route, method and status for /metrics. */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/api.h"
#include "daemon/http.h"

#define CONNECTIONS_MAX 1000 /* per server */
#define IDLE_SECONDS    15   /* a connection idle this long is closed */

struct gvd_http {
    struct gvd *d;
    struct MHD_Daemon *tcp, *local;
};

/* What one request has sent so far (MHD's per-request pointer). */
struct pending {
    char *body;
    size_t len, cap;
    bool too_large;
    bool answered; /* a response was queued before the body came */
};

/* --- Counters, for /metrics. */

static const int statuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 500, 503};
#define NSTATUS ((int)(sizeof(statuses) / sizeof(statuses[0])))
static atomic_ulong counts[GVD_R_COUNT + 1][GVD_METHOD_OTHER + 1][NSTATUS + 1];

static void count(enum gvd_route route, enum gvd_method m, int status)
{
    int s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    atomic_fetch_add_explicit(&counts[route][m][s], 1, memory_order_relaxed);
}

void gvd_http_counts(void (*fn)(const char *route, const char *method, int status,
                                unsigned long long n, void *arg),
                     void *arg)
{
    for (int r = 0; r <= GVD_R_COUNT; r++)
        for (int m = 0; m <= GVD_METHOD_OTHER; m++)
            for (int s = 0; s <= NSTATUS; s++) {
                unsigned long long n = atomic_load_explicit(&counts[r][m][s], memory_order_relaxed);
                if (n)
                    fn(gvd_route_pattern((enum gvd_route)r), gvd_method_name((enum gvd_method)m),
                       s < NSTATUS ? statuses[s] : 0, n, arg);
            }
}

/* --- The routing table: which handler, whether only the admin may call it, and whether the handler
 * takes the model's lock itself (the host's changes, which wait for the kernel: host.c). */

static const struct {
    enum gvd_route route;
    enum gvd_method method;
    gvd_handler *fn;
    bool admin;
    bool locks_itself;
} table[] = {
    {GVD_R_HEALTHZ, GVD_GET, gvd_api_healthz, false, false},
    {GVD_R_METRICS, GVD_GET, gvd_api_metrics, false, false},
    {GVD_R_GPUS, GVD_GET, gvd_api_gpus_list, false, false},
    {GVD_R_GPU, GVD_GET, gvd_api_gpu_get, false, false},
    {GVD_R_GPU, GVD_PATCH, gvd_api_gpu_patch, true, false},
    {GVD_R_GPU_HISTORY, GVD_GET, gvd_api_gpu_history, false, false},
    {GVD_R_PROFILES, GVD_GET, gvd_api_profiles_list, false, false},
    {GVD_R_PROFILES, GVD_POST, gvd_api_profile_create, true, false},
    {GVD_R_PROFILE, GVD_GET, gvd_api_profile_get, false, false},
    {GVD_R_PROFILE, GVD_DELETE, gvd_api_profile_delete, true, false},
    {GVD_R_TENANTS, GVD_GET, gvd_api_tenants_list, false, false},
    {GVD_R_TENANTS, GVD_POST, gvd_api_tenant_create, true, false},
    {GVD_R_TENANT, GVD_GET, gvd_api_tenant_get, false, false},
    {GVD_R_TENANT, GVD_PATCH, gvd_api_tenant_patch, true, false},
    {GVD_R_TENANT, GVD_DELETE, gvd_api_tenant_delete, true, false},
    {GVD_R_TENANT_TOKEN, GVD_POST, gvd_api_tenant_token, true, false},
    {GVD_R_INSTANCES, GVD_GET, gvd_api_instances_list, false, false},
    {GVD_R_INSTANCES, GVD_POST, gvd_api_instance_create, false, false},
    {GVD_R_INSTANCE, GVD_GET, gvd_api_instance_get, false, false},
    {GVD_R_INSTANCE, GVD_PATCH, gvd_api_instance_patch, false, false},
    {GVD_R_INSTANCE, GVD_DELETE, gvd_api_instance_delete, false, false},
    {GVD_R_INSTANCE_HISTORY, GVD_GET, gvd_api_instance_history, false, false},
    {GVD_R_EVENTS, GVD_GET, gvd_api_events, false, false},
    {GVD_R_HOST_GPUS, GVD_GET, gvd_api_host_gpus, true, false},
    {GVD_R_HOST_TYPES, GVD_GET, gvd_api_host_types, true, false},
    {GVD_R_HOST_PASSTHROUGHS, GVD_GET, gvd_api_host_passthrough_list, true, false},
    {GVD_R_HOST_PASSTHROUGHS, GVD_POST, gvd_api_host_passthrough, true, true},
    {GVD_R_HOST_PASSTHROUGH, GVD_DELETE, gvd_api_host_release, true, true},
    {GVD_R_HOST_VGPUS, GVD_GET, gvd_api_host_vgpus_list, true, false},
    {GVD_R_HOST_VGPUS, GVD_POST, gvd_api_host_vgpu_create, true, true},
    {GVD_R_HOST_VGPU, GVD_DELETE, gvd_api_host_vgpu_remove, true, true},
    {GVD_R_HOST_XML, GVD_GET, gvd_api_host_xml, true, false},
    {GVD_R_HOST_APPLY, GVD_POST, gvd_api_host_apply, true, true},
    {GVD_R_REMOTE_VERIFY, GVD_POST, gvd_api_remote_verify, true, false},
    {GVD_R_STREAM, GVD_GET, NULL, false, false}, /* gvd_stream_open, in answer() */
};

/* --- Answers. */

static void free_listing(void *cls)
{
    gvd_listing_unref(cls);
}

/* Headers on every answer: none is to be sniffed as another type, cached by a shared cache, or
 * framed; the page's files also carry its content policy. */
static void common_headers(struct MHD_Response *resp, bool page)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    if (page) {
        MHD_add_response_header(resp, "Content-Security-Policy", GVD_PAGE_CSP);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    } else {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    }
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct gvd_resp *r, const char *allow)
{
    struct MHD_Response *resp;
    const struct gvd_page_file *page = r->page;
    if (page) {
        resp =
            MHD_create_response_from_buffer(page->len, (void *)page->data, MHD_RESPMEM_PERSISTENT);
        r->content_type = page->type;
    } else if (r->listing) {
        size_t len;
        const char *body = gvd_listing_body(r->listing, &len);
        resp = MHD_create_response_from_buffer_with_free_callback_cls(len, (void *)body,
                                                                      free_listing, r->listing);
        if (!resp)
            gvd_listing_unref(r->listing);
    } else if (r->body) {
        resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(r->body);
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    r->listing = NULL;
    r->body = NULL;
    if (!resp)
        return MHD_NO;
    if (r->status != 204)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                r->content_type ? r->content_type : "application/json");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (r->status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    common_headers(resp, page != NULL);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* --- Requests. */

struct query_walk {
    struct gvd_query *q;
    struct gv_error *err;
    int rc;
};

static enum MHD_Result query_pair(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct query_walk *w = cls;
    w->rc = gvd_query_add(w->q, key ? key : "", value, w->err);
    return w->rc ? MHD_NO : MHD_YES;
}

static bool is_json(const char *type)
{
    static const char json[] = "application/json";
    if (!type || strncasecmp(type, json, sizeof(json) - 1) != 0)
        return false;
    char next = type[sizeof(json) - 1];
    return next == '\0' || next == ';' || next == ' ';
}

/* The token of an "Authorization: Bearer" header; NULL without one (or in another form). */
static const char *bearer(struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

/* Who is calling: a bearer token, or on the local socket the peer's Unix user. Lock held. */
static int authenticate(struct gvd *d, struct MHD_Connection *c, bool local, struct gvd_caller *who,
                        struct gv_error *err)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h) {
        if (!(h = bearer(c)))
            return gv_error_set(err, -EACCES, "Authorization: use \"Bearer <token>\"");
        if (gvd_auth_token(d, h, who) != 0)
            return gv_error_set(err, -EACCES, "invalid token");
        return 0;
    }
    if (!local)
        return gv_error_set(err, -EACCES,
                            "missing token: send \"Authorization: Bearer <token>\" (the admin's "
                            "is in the state directory's admin.token)");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (!info || getsockopt(info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return gv_error_set(err, -EACCES, "cannot tell who is calling: pass a token");
    return gvd_auth_peer(d, &cred, who, err);
}

static enum MHD_Result answer(struct gvd *d, struct MHD_Connection *c, bool local, const char *url,
                              const char *method_text, struct pending *p)
{
    struct gvd_req q = {.d = d, .body = p->body, .body_len = p->len};
    struct gvd_resp r = {0};
    struct gv_error err = {0};
    const char *allow = NULL;
    q.method = gvd_method_parse(method_text);
    enum gvd_route route = GVD_R_COUNT;
    int rc = gvd_path_parse(url, q.method, &q.path, &err);
    if (rc != -ENOENT)
        route = q.path.route;
    if (rc == -ENOENT) {
        gvd_reply_error(&r, 404, "no such path: %.200s", url);
        goto out;
    }
    if (rc == -EOPNOTSUPP) {
        allow = gvd_route_allow(route);
        gvd_reply_error(&r, 405, "%s", err.msg);
        goto out;
    }
    if (rc) {
        gvd_reply_err(&r, rc, &err);
        goto out;
    }
    gvd_query_init(&q.query);
    struct query_walk w = {&q.query, &err, 0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, query_pair, &w);
    if (w.rc) {
        gvd_reply_err(&r, w.rc, &err);
        goto out;
    }
    if (q.query.dry_run && !gvd_route_dry_run(route, q.method)) {
        /* Refused rather than ignored: a client that asked for a dry run must not get a change. */
        gvd_reply_error(&r, 400, "dry_run: %s %s makes no dry run (only the host's changes do)",
                        gvd_method_name(q.method), gvd_route_pattern(route));
        goto out;
    }
    if (p->too_large) {
        gvd_reply_error(&r, 413, "request body too large (at most %d bytes)", GVD_BODY_MAX);
        goto out;
    }
    if (p->len > 0 &&
        !is_json(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
        gvd_reply_error(&r, 415, "a request body must be JSON (Content-Type: application/json)");
        goto out;
    }
    if (route == GVD_R_PAGE) {
        gvd_api_page(&q, &r); /* the page's files are anyone's: what it shows needs a token */
        goto out;
    }
    size_t k = 0;
    while (table[k].route != route || table[k].method != q.method)
        k++; /* gvd_path_parse accepted the pair, so it is in the table */
    if (route == GVD_R_HEALTHZ) {
        table[k].fn(&q, &r);
        goto out;
    }
    bool self = table[k].locks_itself;
    if (q.method == GVD_GET || self)
        pthread_rwlock_rdlock(&d->lock);
    else
        pthread_rwlock_wrlock(&d->lock);
    struct gvd_caller who;
    bool go = false;
    if ((rc = authenticate(d, c, local, &who, &err)) != 0)
        gvd_reply_err(&r, rc, &err);
    else if (table[k].admin && who.role != GVD_ROLE_ADMIN)
        gvd_reply_error(&r, 403, "%s %s: only the admin may do this", gvd_method_name(q.method),
                        gvd_route_pattern(route));
    else
        go = true;
    struct MHD_Response *stream = NULL;
    if (go && route == GVD_R_STREAM) {
        char hash[GV_SHA256_HEX];
        const char *token = bearer(c);
        if (token)
            gvd_token_hash(token, hash);
        stream = gvd_stream_open(d, c, &who, token ? hash : NULL, &r);
    } else if (go && !self) {
        q.who = &who;
        table[k].fn(&q, &r);
    }
    pthread_rwlock_unlock(&d->lock);
    if (stream) {
        common_headers(stream, false);
        count(route, q.method, r.status);
        enum MHD_Result res = MHD_queue_response(c, (unsigned)r.status, stream);
        MHD_destroy_response(stream);
        return res;
    }
    if (go && self) {
        /* Admin only, so who names no tenant that could go while the lock is not held. */
        q.who = &who;
        table[k].fn(&q, &r);
    }
out:
    count(route, q.method, r.status);
    return send_resp(c, &r, allow);
}

static bool grow(struct pending *p, size_t need)
{
    if (need <= p->cap)
        return true;
    size_t cap = p->cap ? p->cap : 1024;
    while (cap < need)
        cap *= 2;
    if (cap > GVD_BODY_MAX)
        cap = GVD_BODY_MAX;
    char *b = realloc(p->body, cap + 1);
    if (!b)
        return false;
    p->body = b;
    p->cap = cap;
    return true;
}

struct server {
    struct gvd_http *h;
    bool local;
};

static struct server tcp_server, local_server;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    const struct server *s = cls;
    struct pending *p = *con_cls;
    if (!p) {
        /* The headers are in: refuse an announced oversized body before reading any of it. */
        if (!(p = calloc(1, sizeof(*p))))
            return MHD_NO;
        *con_cls = p;
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > GVD_BODY_MAX) {
            p->too_large = p->answered = true;
            struct gvd_resp r = {0};
            gvd_reply_error(&r, 413, "request body too large (at most %d bytes)", GVD_BODY_MAX);
            struct gvd_path path;
            enum gvd_method m = gvd_method_parse(method);
            int rc = gvd_path_parse(url, m, &path, NULL);
            count(rc == 0 || rc == -EOPNOTSUPP ? path.route : GVD_R_COUNT, m, 413);
            return send_resp(c, &r, NULL);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (p->too_large)
            return MHD_YES; /* read and dropped; 413 when it ends */
        if (p->len + n > GVD_BODY_MAX || !grow(p, p->len + n)) {
            p->too_large = true;
            free(p->body);
            p->body = NULL;
            p->len = p->cap = 0;
            return MHD_YES;
        }
        memcpy(p->body + p->len, upload_data, n);
        p->len += n;
        p->body[p->len] = '\0';
        return MHD_YES;
    }
    if (p->answered)
        return MHD_YES;
    p->answered = true;
    return answer(s->h->d, c, s->local, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    struct pending *p = *con_cls;
    if (p) {
        free(p->body);
        free(p);
        *con_cls = NULL;
    }
}

/* --- Starting and stopping. */

/* A listening TCP socket on host:port (port "0": any free one). Returns the fd or -errno. */
static int listen_on(const char *host, const char *port, int *bound, struct gv_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
    if (rc)
        return gv_error_set(err, -EINVAL, "--listen %s:%s: %s", host, port, gai_strerror(rc));
    int fd = -1, e = 0;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
            e = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return gv_error_set(err, -e, "--listen %s:%s: %s", host, port, strerror(e));
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *bound = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                      : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

int gvd_http_start(struct gvd_http **out, struct gvd *d, int *port, struct gv_error *err)
{
    struct gvd_http *h = calloc(1, sizeof(*h));
    if (!h)
        return gv_error_set(err, -ENOMEM, "out of memory");
    h->d = d;
    tcp_server = (struct server){h, false};
    local_server = (struct server){h, true};
    int fd = listen_on(d->cfg.listen_host, d->cfg.listen_port, port, err);
    if (fd < 0) {
        free(h);
        return fd;
    }
    /* Suspending: a live stream waits for its next snapshot without a thread or a poll. */
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
    h->tcp = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, &tcp_server, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, d->cfg.threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_SECONDS,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    h->local = MHD_start_daemon(
        flags | MHD_USE_NO_LISTEN_SOCKET, 0, NULL, NULL, on_request, &local_server,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)IDLE_SECONDS, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!h->tcp || !h->local) {
        if (!h->tcp)
            close(fd);
        gvd_http_stop(h);
        return gv_error_set(err, -EIO, "cannot start the HTTP server (libmicrohttpd)");
    }
    *out = h;
    return 0;
}

int gvd_http_add(struct gvd_http *h, int fd)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    /* MHD owns (and closes) fd from here, whatever it answers. */
    return MHD_add_connection(h->local, fd, (const struct sockaddr *)&addr, sizeof(addr)) == MHD_YES
               ? 0
               : -EIO;
}

void gvd_http_stop(struct gvd_http *h)
{
    if (!h)
        return;
    gvd_streams_end(h->d); /* resumes every stream: no connection may stay suspended */
    if (h->tcp)
        MHD_stop_daemon(h->tcp);
    if (h->local)
        MHD_stop_daemon(h->local);
    free(h);
}
