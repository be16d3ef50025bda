/* SPDX-License-Identifier: Apache-2.0 */
/* bench_daemon.c GPUVISORD: gpuvisord's REST API under load, against its targets.
 *
 *   (a) create + delete: POST /v1/instances and DELETE it again, one pair after another over one
 *       keep-alive connection, as an orchestrator creating and dropping slices would: pairs per
 *       second, the median of five runs (target: 1,000 per second);
 *   (b) listing: GET /v1/instances with 1,000 instances, from wrk (the Debian package) for a few
 *       seconds over 16 connections: requests per second (target: 2,000 on 2 cores).
 *
 * Each figure is printed with its ratio to the target. The daemon runs on the simulator
 * (--sim T4,T4) with a state directory of its own and its run directory in /dev/shm (a tmpfs, as
 * /run is), both removed at the end (daemontest.h). */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "daemontest.h"

#define RUNS          5
#define PAIRS         1000
#define LIST_SIZE     1000
#define PAIRS_TARGET  1000.0
#define LIST_TARGET   2000.0
#define WRK_SECONDS   "5"

struct sink {
    char buf[4096];
    size_t len;
};

static size_t keep(char *ptr, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t add = size * n;
    size_t room = sizeof(s->buf) - 1 - s->len;
    size_t k = add < room ? add : room;
    memcpy(s->buf + s->len, ptr, k);
    s->len += k;
    s->buf[s->len] = '\0';
    return add;
}

/* One request on the shared connection; returns the status, the body's start in s. */
static long request(CURL *c, const char *url, const char *method, const char *body,
                    struct curl_slist *headers, struct sink *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* The id in a created instance's body. */
static void id_of(const struct sink *s, char id[16])
{
    const char *p = strstr(s->buf, "\"id\":\"");
    CHECK(p, "no id in %s", s->buf);
    snprintf(id, 16, "%.12s", p + 6);
}

static double pairs_per_second(struct dt *t, CURL *c, struct curl_slist *h)
{
    char url[128], del[160], id[16];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/instances", t->port);
    struct sink s;
    uint64_t start = bench_now_ns();
    for (int i = 0; i < PAIRS; i++) {
        long st = request(c, url, "POST", "{\"memory\":\"1GiB\",\"compute\":10,\"tenant\":\"bench\"}",
                          h, &s);
        CHECK(st == 201, "create: %ld %s", st, s.buf);
        id_of(&s, id);
        snprintf(del, sizeof(del), "%s/%s", url, id);
        st = request(c, del, "DELETE", NULL, h, &s);
        CHECK(st == 204, "delete: %ld %s", st, s.buf);
    }
    return PAIRS / ((double)(bench_now_ns() - start) / 1e9);
}

static double wrk_listing(struct dt *t)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "wrk -t2 -c16 -d" WRK_SECONDS "s -H 'Authorization: Bearer %s' "
             "http://127.0.0.1:%d/v1/instances 2>&1",
             t->admin, t->port);
    FILE *p = popen(cmd, "r");
    CHECK(p, "wrk");
    char line[256];
    double rps = -1;
    bool errors = false;
    while (fgets(line, sizeof(line), p)) {
        if (sscanf(line, " Requests/sec: %lf", &rps) == 1)
            continue;
        if (strstr(line, "Non-2xx") || strstr(line, "Socket errors"))
            errors = true, fprintf(stderr, "wrk: %s", line);
    }
    int rc = pclose(p);
    CHECK(rc == 0 && rps > 0, "wrk failed (is the Debian package wrk installed?)");
    CHECK(!errors, "wrk saw errors");
    return rps;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_daemon PATH-TO-GPUVISORD\n");
        return 2;
    }
    setenv("GV_DAEMON", argv[1], 1);
    static struct dt t;
    dt_init(&t, "bench");
    /* Regions in a tmpfs, as /run is: on a disk file system each delete would wait for the
     * disk's discard, which measures the disk, not gpuvisord. */
    dt_run_in(&t, "/dev/shm");
    CHECK(dt_start(&t, NULL) == 0, "gpuvisord did not start: %s", dt_log(&t));
    json_decref(dt_call(&t, 201, NULL, "POST", "/v1/tenants", "{\"name\":\"bench\"}"));

    CURL *c = curl_easy_init();
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t.admin);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    double runs[RUNS];
    pairs_per_second(&t, c, h); /* warm up: the database's pages, the allocator */
    for (int i = 0; i < RUNS; i++)
        runs[i] = pairs_per_second(&t, c, h);
    double pairs = bench_median(runs, RUNS);
    printf("%-44s %10.0f /s  (target %.0f: x%.2f; runs %.0f..%.0f)\n",
           "create + delete an instance, one connection", pairs, PAIRS_TARGET,
           pairs / PAIRS_TARGET, runs[0], runs[RUNS - 1]);

    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/instances", t.port);
    struct sink s;
    for (int i = 0; i < LIST_SIZE; i++) {
        long st = request(c, url, "POST", "{\"memory\":\"16MiB\",\"tenant\":\"bench\"}", h, &s);
        CHECK(st == 201, "create %d: %ld %s", i, st, s.buf);
    }
    double rps = wrk_listing(&t);
    printf("%-44s %10.0f /s  (target %.0f: x%.2f; wrk, 16 connections, " WRK_SECONDS " s)\n",
           "GET /v1/instances, 1,000 instances", rps, LIST_TARGET, rps / LIST_TARGET);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    dt_kill(&t, SIGTERM);
    return 0;
}
