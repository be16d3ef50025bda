/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_stream.c: gpuvisord's web page files and its live stream (GET /v1/stream), against a
 * real daemon on a loopback port.
 *
 *   page     the page's files: served without a token, with their types and the content policy;
 *            other paths and methods refused
 *   stream   what each token's stream shows (the admin everything, a tenant only its own, in the
 *            raw bytes too), a member's memory and a new event reaching open streams, one snapshot
 *            a second, refusals (no token, a wrong one), a replaced token ending its streams, the
 *            cap on open streams, and the daemon stopping under open streams
 *
 * Streams are read over plain sockets with HTTP/1.0, so that the body is the event stream itself
 * (no chunks) and the daemon's end of it is the socket's end. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "daemontest.h"

#define MiB (1024LL * 1024)

static long long num(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(j, key));
}

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static void start(struct dt *t, const char *name)
{
    dt_init(t, name);
    CHECK(dt_start(t, NULL) == 0, "gpuvisord did not start: %s", dt_log(t));
}

static void tenant(struct dt *t, const char *name, char *tok)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    json_t *j = dt_call(t, 201, NULL, "POST", "/v1/tenants", body);
    snprintf(tok, 64, "%s", str(j, "token"));
    json_decref(j);
}

static void instance(struct dt *t, const char *token, const char *body, char *id)
{
    json_t *j = dt_call(t, 201, token, "POST", "/v1/instances", body);
    snprintf(id, 16, "%s", str(j, "id"));
    CHECK(strlen(id) == 12, "id %s", id);
    json_decref(j);
}

/* --- A raw HTTP/1.0 connection. */

struct conn {
    int fd;
    char *buf; /* everything received, NUL-terminated */
    size_t len, cap;
    size_t body; /* where the body starts; 0 until the headers are in */
    size_t used; /* how much of the body the SSE reader has taken */
    int status;
    bool eof;
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
          strerror(errno));
    return fd;
}

/* Read what is there within ms; false at the deadline with nothing new. */
static bool conn_read(struct conn *c, int ms)
{
    if (c->eof)
        return false;
    struct pollfd p = {c->fd, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
        return false;
    if (c->len + 65536 + 1 > c->cap) {
        c->cap = (c->len + 65536 + 1) * 2;
        c->buf = realloc(c->buf, c->cap);
        CHECK(c->buf, "out of memory");
    }
    ssize_t n = recv(c->fd, c->buf + c->len, 65536, 0);
    if (n <= 0) {
        c->eof = true;
        c->buf[c->len] = '\0';
        return true;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (!c->body) {
        char *end = strstr(c->buf, "\r\n\r\n");
        if (end) {
            c->body = (size_t)(end + 4 - c->buf);
            CHECK(sscanf(c->buf, "HTTP/1.%*d %d", &c->status) == 1, "status line: %.80s", c->buf);
        }
    }
    return true;
}

/* Send a request and read until the headers are in. */
static void conn_open(struct conn *c, int port, const char *method, const char *path,
                      const char *token)
{
    memset(c, 0, sizeof(*c));
    c->fd = connect_to(port);
    char req[512];
    int n =
        snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s%s%s\r\n", method, path,
                 token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    CHECK(send(c->fd, req, (size_t)n, MSG_NOSIGNAL) == n, "send");
    uint64_t end = gv_now_ns() + 10 * GV_NS_PER_S;
    while (!c->body && !c->eof && gv_now_ns() < end)
        conn_read(c, 100);
    CHECK(c->body, "%s %s: no answer in 10 s (%zu bytes)", method, path, c->len);
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* A whole answer (the daemon closes an HTTP/1.0 connection after it). */
static void conn_all(struct conn *c)
{
    uint64_t end = gv_now_ns() + 10 * GV_NS_PER_S;
    while (!c->eof && gv_now_ns() < end)
        conn_read(c, 100);
    CHECK(c->eof, "the answer did not end");
}

/* The value of header name (case as the daemon writes it), or "". */
static const char *header(struct conn *c, const char *name, char *out, size_t size)
{
    char key[80];
    snprintf(key, sizeof(key), "\r\n%s: ", name);
    const char *h = strstr(c->buf, key);
    out[0] = '\0';
    if (h && (size_t)(h - c->buf) < c->body) {
        h += strlen(key);
        size_t n = strcspn(h, "\r");
        snprintf(out, size, "%.*s", (int)n, h);
    }
    return out;
}

/* The next snapshot of a stream within ms, parsed; NULL at the deadline or the stream's end. Checks
 * the form of each event on the way. */
static json_t *next_snapshot(struct conn *c, int ms)
{
    uint64_t end = gv_now_ns() + (uint64_t)ms * 1000000ULL;
    for (;;) {
        char *body = c->buf + c->body + c->used;
        char *stop = strstr(body, "\n\n");
        if (stop) {
            c->used += (size_t)(stop + 2 - body);
            if (strncmp(body, "retry: ", 7) == 0)
                continue;
            long long id;
            int off = 0;
            CHECK(sscanf(body, "event: snapshot\nid: %lld\ndata: %n", &id, &off) == 1 && off > 0,
                  "an event of another form: %.120s", body);
            *stop = '\0';
            json_error_t e;
            json_t *j = json_loads(body + off, 0, &e);
            CHECK(j, "snapshot data is not JSON (%s): %.200s", e.text, body + off);
            CHECK(num(j, "t") == id, "the id is the snapshot's t");
            *stop = '\n';
            return j;
        }
        uint64_t now = gv_now_ns();
        if (now >= end || c->eof)
            return NULL;
        conn_read(c, (int)((end - now) / 1000000ULL) + 1);
    }
}

/* A stream opened with token: 200, as an event stream. */
static void stream_open(struct conn *c, struct dt *t, const char *token)
{
    conn_open(c, t->port, "GET", "/v1/stream", token);
    CHECK(c->status == 200, "GET /v1/stream: %d %s", c->status, c->buf + c->body);
    char v[128];
    CHECK(strcmp(header(c, "Content-Type", v, sizeof(v)), "text/event-stream") == 0,
          "Content-Type %s", v);
}

static json_t *find_instance(json_t *snap, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(snap, "instances"), i,
                       x) if (strcmp(str(x, "id"), id) == 0) return x;
    return NULL;
}

/* ---------------------------------------------------------------- page */

static void case_page(void)
{
    static struct dt t;
    start(&t, "page");
    struct conn c;
    char v[512];
    static const struct {
        const char *path, *type, *needle;
    } files[] = {{"/", "text/html; charset=utf-8", "<html"},
                 {"/index.html", "text/html; charset=utf-8", "app.js"},
                 {"/app.js", "text/javascript; charset=utf-8", "SPDX"},
                 {"/style.css", "text/css; charset=utf-8", "SPDX"}};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        conn_open(&c, t.port, "GET", files[i].path, NULL); /* no token */
        conn_all(&c);
        CHECK(c.status == 200, "GET %s: %d", files[i].path, c.status);
        CHECK(strcmp(header(&c, "Content-Type", v, sizeof(v)), files[i].type) == 0,
              "GET %s: Content-Type %s", files[i].path, v);
        CHECK(strstr(header(&c, "Content-Security-Policy", v, sizeof(v)), "default-src 'self'") &&
                  strstr(v, "script-src 'self'") && !strstr(v, "unsafe"),
              "GET %s: policy \"%s\"", files[i].path, v);
        CHECK(strcmp(header(&c, "X-Content-Type-Options", v, sizeof(v)), "nosniff") == 0,
              "nosniff");
        CHECK(strstr(c.buf + c.body, files[i].needle), "GET %s: the file lacks %s", files[i].path,
              files[i].needle);
        conn_close(&c);
    }
    static const struct {
        const char *method, *path;
        int status;
    } refused[] = {{"POST", "/", 405},          {"DELETE", "/app.js", 405},
                   {"GET", "/nothing.js", 404}, {"POST", "/nothing.js", 404},
                   {"GET", "/.hidden", 404},    {"GET", "/App.js", 404},
                   {"GET", "/app.js/x", 404},   {"GET", "/../etc/passwd", 404}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        conn_open(&c, t.port, refused[i].method, refused[i].path, NULL);
        conn_all(&c);
        CHECK(c.status == refused[i].status && strstr(c.buf + c.body, "\"error\""), "%s %s: %d %s",
              refused[i].method, refused[i].path, c.status, c.buf + c.body);
        conn_close(&c);
    }
    /* The API's answers are not to be kept by caches either. */
    conn_open(&c, t.port, "GET", "/v1/gpus", t.admin);
    conn_all(&c);
    CHECK(c.status == 200 && strcmp(header(&c, "Cache-Control", v, sizeof(v)), "no-store") == 0,
          "GET /v1/gpus: %d, Cache-Control %s", c.status, v);
    conn_close(&c);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- stream */

/* Every instance and tenant of a tenant's snapshot is its own, and so is every event. */
static void own_only(json_t *snap, const char *tenant)
{
    CHECK(strcmp(str(snap, "role"), "tenant") == 0 && strcmp(str(snap, "tenant"), tenant) == 0,
          "role %s tenant %s", str(snap, "role"), str(snap, "tenant"));
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(snap, "instances"), i, x)
        CHECK(strcmp(str(x, "tenant"), tenant) == 0, "%s's stream shows an instance of %s", tenant,
              str(x, "tenant"));
    json_array_foreach(json_object_get(snap, "tenants"), i, x) CHECK(
        strcmp(str(x, "name"), tenant) == 0, "%s's stream shows tenant %s", tenant, str(x, "name"));
    json_array_foreach(json_object_get(snap, "events"), i, x)
        CHECK(strcmp(str(x, "tenant"), tenant) == 0, "%s's stream shows an event of %s", tenant,
              str(x, "tenant"));
}

static void case_stream(void)
{
    static struct dt t;
    start(&t, "stream");
    char ta[64], tb[64], a1[16], b1[16], a2[16];
    tenant(&t, "lab-a", ta);
    tenant(&t, "lab-b", tb);
    instance(&t, ta, "{\"memory\":\"2GiB\",\"name\":\"a-one\"}", a1);
    instance(&t, tb, "{\"memory\":\"1GiB\",\"name\":\"b-one\"}", b1);

    /* The admin's stream: everything, at once. */
    static struct conn adm, sa, sb;
    uint64_t t0 = gv_now_ns();
    stream_open(&adm, &t, t.admin);
    json_t *s = next_snapshot(&adm, 5000);
    CHECK(s, "no first snapshot in 5 s");
    CHECK(gv_now_ns() - t0 < 5 * GV_NS_PER_S, "the first snapshot comes at once");
    CHECK(strcmp(str(s, "role"), "admin") == 0 && json_is_null(json_object_get(s, "tenant")),
          "the admin's role");
    CHECK(find_instance(s, a1) && find_instance(s, b1), "the admin sees both instances");
    CHECK(json_array_size(json_object_get(s, "tenants")) == 2, "the admin sees both tenants");
    json_t *g = json_array_get(json_object_get(s, "gpus"), 0);
    CHECK(json_array_size(json_object_get(s, "gpus")) == 2 && num(g, "memory_total") > 0 &&
              json_object_get(g, "memory_used") && json_object_get(g, "gpu_time") &&
              strcmp(str(g, "mode"), "sliced") == 0,
          "the GPUs");
    CHECK(json_array_size(json_object_get(s, "events")) == 4, "the first snapshot: the log so far");
    CHECK(!json_object_get(find_instance(s, a1), "join"), "no join in the stream");
    json_decref(s);

    /* A tenant's: its own only, in the bytes themselves too. */
    stream_open(&sa, &t, ta);
    stream_open(&sb, &t, tb);
    s = next_snapshot(&sa, 5000);
    CHECK(s && find_instance(s, a1) && !find_instance(s, b1), "lab-a sees a-one only");
    own_only(s, "lab-a");
    CHECK(json_array_size(json_object_get(s, "events")) == 2, "lab-a's events: its tenant and "
                                                              "instance");
    json_decref(s);
    s = next_snapshot(&sb, 5000);
    CHECK(s && find_instance(s, b1) && !find_instance(s, a1), "lab-b sees b-one only");
    own_only(s, "lab-b");
    json_decref(s);

    /* A member's memory reaches the open streams, as its instance's and its GPU's. */
    static struct dt_member m;
    CHECK(dt_member_start(&m, t.sock, a1, -1, -1) == 0, "join");
    CHECK(dt_member_charge(&m, 512 * MiB) == 0, "charge 512 MiB");
    bool seen = false;
    long long prev_t = 0;
    int snaps = 0;
    uint64_t first_ns = 0, last_ns = 0;
    for (uint64_t end = gv_now_ns() + 15 * GV_NS_PER_S; !seen && gv_now_ns() < end;) {
        s = next_snapshot(&sa, 3000);
        CHECK(s, "lab-a's stream stopped");
        CHECK(num(s, "t") > prev_t, "snapshots' times grow: %lld after %lld", num(s, "t"), prev_t);
        prev_t = num(s, "t");
        own_only(s, "lab-a");
        json_t *u = json_object_get(find_instance(s, a1), "usage");
        seen = num(u, "memory_used") == 512 * MiB &&
               json_array_size(json_object_get(u, "members")) == 1;
        if (seen)
            CHECK(json_object_get(u, "gpu_time") && json_object_get(u, "wait"),
                  "usage has the rates");
        json_decref(s);
    }
    CHECK(seen, "no snapshot in 15 s shows a-one's member and its 512 MiB");

    /* One a second: four more in 1.5 to 10 s (the first of them may come at once). */
    for (snaps = 0; snaps < 5; snaps++) {
        s = next_snapshot(&sa, 5000);
        CHECK(s, "snapshot %d did not come in 5 s", snaps);
        json_decref(s);
        last_ns = gv_now_ns();
        if (snaps == 0)
            first_ns = last_ns;
    }
    double secs = (double)(last_ns - first_ns) / 1e9;
    CHECK(secs > 1.5 && secs < 10, "4 snapshots took %.2f s", secs);

    /* A new event reaches the streams that may see it, once. */
    instance(&t, ta, "{\"memory\":\"1GiB\",\"name\":\"a-two\"}", a2);
    int got = 0;
    for (uint64_t end = gv_now_ns() + 10 * GV_NS_PER_S; got == 0 && gv_now_ns() < end;) {
        s = next_snapshot(&sa, 3000);
        CHECK(s, "lab-a's stream stopped");
        own_only(s, "lab-a");
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(s, "events"), i, x)
        {
            CHECK(strcmp(str(x, "action"), "instance.create") == 0 &&
                      strcmp(str(x, "target"), a2) == 0,
                  "lab-a's new event: %s %s", str(x, "action"), str(x, "target"));
            got++;
        }
        CHECK(got == 0 || find_instance(s, a2), "the new instance with its event");
        json_decref(s);
    }
    CHECK(got == 1, "lab-a's stream got the new event %d times", got);
    for (int k = 0; k < 3; k++) {
        s = next_snapshot(&sb, 3000);
        CHECK(s, "lab-b's stream stopped");
        own_only(s, "lab-b");
        json_decref(s);
    }
    /* Nowhere in lab-b's bytes is anything of lab-a. */
    CHECK(!strstr(sb.buf, a1) && !strstr(sb.buf, a2) && !strstr(sb.buf, "lab-a") &&
              !strstr(sb.buf, "a-one"),
          "lab-b's stream carries lab-a's names");

    /* Refusals. */
    struct conn c;
    conn_open(&c, t.port, "GET", "/v1/stream", NULL);
    conn_all(&c);
    CHECK(c.status == 401 && strstr(c.buf + c.body, "missing token"), "no token: %d %s", c.status,
          c.buf + c.body);
    conn_close(&c);
    conn_open(&c, t.port, "GET", "/v1/stream", "gvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    conn_all(&c);
    CHECK(c.status == 401 && strstr(c.buf + c.body, "invalid token"), "a wrong token: %d %s",
          c.status, c.buf + c.body);
    conn_close(&c);
    conn_open(&c, t.port, "POST", "/v1/stream", t.admin);
    conn_all(&c);
    CHECK(c.status == 405, "POST /v1/stream: %d", c.status);
    conn_close(&c);

    /* A new token for lab-a ends the streams of its old one. */
    json_decref(dt_call(&t, 200, NULL, "POST", "/v1/tenants/lab-a/token", NULL));
    uint64_t end = gv_now_ns() + 10 * GV_NS_PER_S;
    while (!sa.eof && gv_now_ns() < end)
        json_decref(next_snapshot(&sa, 500));
    CHECK(sa.eof, "lab-a's stream goes on under a replaced token");
    conn_close(&sa);

    /* At most 256 streams: the next is refused with a message, and a closed one's place is free
     * again. Two are open (the admin's and lab-b's). */
    enum { MORE = 258 };
    static struct conn many[MORE];
    int ok = 0, full = 0;
    for (int k = 0; k < MORE; k++) {
        conn_open(&many[k], t.port, "GET", "/v1/stream", tb);
        if (many[k].status == 200)
            ok++;
        else if (many[k].status == 503 && strstr(many[k].buf + many[k].body, "too many streams"))
            full++;
    }
    CHECK(ok == 254 && full == 4, "%d streams opened, %d refused as too many", ok, full);
    for (int k = 0; k < MORE; k++)
        conn_close(&many[k]);
    bool reopened = false;
    for (end = gv_now_ns() + 10 * GV_NS_PER_S; !reopened && gv_now_ns() < end;) {
        conn_open(&c, t.port, "GET", "/v1/stream", tb);
        reopened = c.status == 200;
        conn_close(&c);
        if (!reopened)
            usleep(100000);
    }
    CHECK(reopened, "closed streams' places are not free again in 10 s");

    /* The daemon stops under open streams: they end, and it exits. */
    s = next_snapshot(&adm, 3000);
    CHECK(s, "the admin's stream stopped");
    json_decref(s);
    dt_kill(&t, SIGTERM);
    end = gv_now_ns() + 10 * GV_NS_PER_S;
    while (!(adm.eof && sb.eof) && gv_now_ns() < end) {
        conn_read(&adm, 100);
        conn_read(&sb, 100);
    }
    CHECK(adm.eof && sb.eof, "streams stay open after the daemon stopped");
    CHECK(!strstr(dt_log(&t), "ERROR") && !strstr(dt_log(&t), "Sanitizer"), "the daemon's log: %s",
          dt_log(&t));
    dt_member_stop(&m);
    conn_close(&adm);
    conn_close(&sb);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {{"page", case_page}, {"stream", case_stream}};
    for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]); i++)
        if (strcmp(argv[1], cases[i].name) == 0) {
            signal(SIGPIPE, SIG_IGN);
            cases[i].fn();
            printf("ok %s\n", argv[1]);
            return 0;
        }
    fprintf(stderr, "usage: daemon_stream page|stream\n");
    return 2;
}
