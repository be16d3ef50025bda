/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_test.c CASE: gpuvisord driven from the outside, as clients meet it: over HTTP on TCP and
 * on its local socket, and through processes that join its instances and charge memory in them.
 * Each case starts its own daemon (daemontest.h); CTest runs each case as a test of its own.
 *
 *   api        healthz, tokens, GPUs, profiles, tenants and their quotas, events, metrics
 *   isolation  a tenant never sees, changes or deletes another's instances, nor admin routes
 *   instances  create by profile and by size, binpack, refusals with reasons, live usage, resize,
 *              shrink below use, delete (the members are told)
 *   spread     --placement spread
 *   errors     malformed and hostile requests: 400, 404, 405, 413, 415; 200 connections at once;
 *              clients that stall half-way do not hold the others up
 *   restart    kill -9 and SIGTERM: everything comes back; a member keeps its limit meanwhile
 *   local      identities on the local socket (SO_PEERCRED), joins by Unix user
 *   startup    refusals at start: no driver, a bad model, a state directory in use, bad options
 *   timeslice  each GPU's time slice: --timeslice for all, PATCH for one, refusals that name the
 *              value, kept across restarts, and the token grants on the local socket hold to it
 *   shim       a driver-API program under the interposer, started with an instance's "join"
 *              environment, gets the instance's memory limit through the daemon
 *   policy     instances' and profiles' compute policy and priority: defaults, a profile's as
 *              an instance's default, PATCH, refusals that name the field (nothing changes), the
 *              region's copy, the audit log, kept across restarts (and a region made again)
 *   history    the last hour of an instance's and a GPU's figures: a member's charge shows in
 *              them, oldest first, ?since, refusals, another tenant's is not found, and a
 *              deleted instance's goes with it */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/size.h"
#include "daemontest.h"
#include "region/daemon.h"
#include "region/region.h"

#define GiB (1024LL * 1024 * 1024)

static const char *str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static long long num(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(j, key));
}

static double real(json_t *j, const char *key)
{
    return json_number_value(json_object_get(j, key));
}

static bool has(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle);
}

/* POST a tenant; its token into tok (64 bytes). */
static void tenant(struct dt *t, const char *body, char *tok)
{
    json_t *j = dt_call(t, 201, NULL, "POST", "/v1/tenants", body);
    CHECK(strncmp(str(j, "token"), "gvt_", 4) == 0 && strlen(str(j, "token")) == 47, "token %s",
          str(j, "token"));
    snprintf(tok, 64, "%s", str(j, "token"));
    json_decref(j);
}

/* POST an instance; its id into id (16 bytes); returns its GPU. */
static int instance(struct dt *t, const char *token, const char *body, char *id)
{
    json_t *j = dt_call(t, 201, token, "POST", "/v1/instances", body);
    snprintf(id, 16, "%s", str(j, "id"));
    CHECK(strlen(id) == 12, "id %s", id);
    int gpu = (int)num(j, "gpu");
    json_decref(j);
    return gpu;
}

/* The refusal's message must contain needle. */
static void refused(struct dt *t, long status, const char *token, const char *method,
                    const char *path, const char *body, const char *needle)
{
    json_t *j = dt_call(t, status, token, method, path, body);
    CHECK(has(dt_error(j), needle), "%s %s %s: error \"%s\" lacks \"%s\"", method, path,
          body ? body : "", dt_error(j), needle);
    json_decref(j);
}

static char *text(struct dt *t, const char *token, const char *path, long *status)
{
    char *out = NULL;
    struct dt_req r = {.method = "GET", .path = path, .token = token, .text = &out};
    *status = dt_request(t, &r, NULL);
    return out;
}

static bool file_exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void start(struct dt *t, const char *name, const char *const *extra)
{
    dt_init(t, name);
    CHECK(dt_start(t, extra) == 0, "gpuvisord did not start: %s", dt_log(t));
}

/* ---------------------------------------------------------------- api */

static void case_api(void)
{
    static struct dt t;
    start(&t, "api", NULL);
    json_t *j;

    struct dt_req r = {.method = "GET", .path = "/healthz"};
    CHECK(dt_request(&t, &r, &j) == 200 && !strcmp(str(j, "status"), "ok"), "healthz");
    json_decref(j);

    /* Tokens: none, malformed, well-formed but unknown. */
    r = (struct dt_req){.method = "GET", .path = "/v1/gpus"};
    CHECK(dt_request(&t, &r, &j) == 401 && has(dt_error(j), "token"), "no token: %s", dt_error(j));
    json_decref(j);
    refused(&t, 401, "nonsense", "GET", "/v1/gpus", NULL, "invalid token");
    refused(&t, 401, "gvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "GET", "/v1/instances",
            NULL, "invalid token");

    j = dt_call(&t, 200, NULL, "GET", "/v1/gpus", NULL);
    json_t *gpus = json_object_get(j, "gpus");
    CHECK(json_array_size(gpus) == 2, "two GPUs");
    json_t *g0 = json_array_get(gpus, 0);
    CHECK(!strcmp(str(g0, "model"), "T4") && !strcmp(str(g0, "name"), "Tesla T4") &&
              num(g0, "memory_total") == 16 * GiB && !strcmp(str(g0, "mode"), "sliced") &&
              !strncmp(str(g0, "uuid"), "GPU-", 4) && num(g0, "index") == 0,
          "GPU 0 as NVML says");
    json_decref(j);

    /* Profiles: the T4's built-ins (16 x 1 GiB among them), then custom ones. */
    j = dt_call(&t, 200, NULL, "GET", "/v1/profiles", NULL);
    bool one_gb = false, four_c = false;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(j, "profiles"), i, p)
    {
        if (!strcmp(str(p, "name"), "T4-1Q"))
            one_gb = num(p, "memory") == GiB && num(p, "max_instances") == 16 &&
                     json_is_true(json_object_get(p, "builtin"));
        if (!strcmp(str(p, "name"), "T4-4C"))
            four_c = real(p, "compute") == 25.0 && !strcmp(str(p, "kind"), "timesliced");
    }
    CHECK(one_gb && four_c, "built-in T4 profiles");
    json_decref(j);
    json_decref(dt_call(&t, 201, NULL, "POST", "/v1/profiles",
                        "{\"name\":\"small\",\"memory\":\"2GiB\",\"compute\":12.5}"));
    refused(&t, 409, NULL, "POST", "/v1/profiles", "{\"name\":\"small\",\"memory\":1}", "exists");
    refused(&t, 409, NULL, "POST", "/v1/profiles", "{\"name\":\"T4-4C\",\"memory\":1}", "built-in");
    j = dt_call(&t, 200, NULL, "GET", "/v1/profiles/small", NULL);
    CHECK(num(j, "memory") == 2 * GiB && real(j, "compute") == 12.5 &&
              json_is_false(json_object_get(j, "builtin")),
          "custom profile");
    json_decref(j);
    refused(&t, 409, NULL, "DELETE", "/v1/profiles/T4-4C", NULL, "built in");
    json_decref(dt_call(&t, 204, NULL, "DELETE", "/v1/profiles/small", NULL));
    refused(&t, 404, NULL, "DELETE", "/v1/profiles/small", NULL, "no such profile");

    /* Tenants and quotas. */
    char ta[64], tb[64], id[16];
    tenant(&t,
           "{\"name\":\"lab-a\",\"users\":[\"alice\"],\"quota\":{\"memory\":\"8GiB\","
           "\"compute\":60,\"instances\":3}}",
           ta);
    refused(&t, 409, NULL, "POST", "/v1/tenants", "{\"name\":\"lab-a\"}", "exists");
    j = dt_call(&t, 200, NULL, "GET", "/v1/tenants/lab-a", NULL);
    json_t *q = json_object_get(j, "quota");
    CHECK(num(q, "memory") == 8 * GiB && real(q, "compute") == 60 && num(q, "instances") == 3,
          "quota as given");
    CHECK(!json_object_get(j, "token"), "the token is shown only once");
    json_decref(j);
    refused(&t, 404, NULL, "GET", "/v1/tenants/nobody", NULL, "no such tenant");

    instance(&t, ta, "{\"memory\":\"4GiB\",\"compute\":25}", id);
    instance(&t, ta, "{\"memory\":\"4GiB\",\"compute\":25}", id);
    refused(&t, 403, ta, "POST", "/v1/instances", "{\"memory\":\"1GiB\"}",
            "memory quota is 8 GiB, 8 GiB in use, 1 GiB asked: 1 GiB over");
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/tenants/lab-a",
                        "{\"quota\":{\"memory\":null},\"users\":[\"alice\",\"1001\"]}"));
    refused(&t, 403, ta, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"compute\":20}",
            "compute quota is 60.00%, 50.00% in use, 20.00% asked: 10.00% over");
    instance(&t, ta, "{\"memory\":\"1GiB\",\"compute\":10}", id);
    refused(&t, 403, ta, "POST", "/v1/instances", "{\"memory\":\"1GiB\"}",
            "instance quota is 3, 3 in use");
    j = dt_call(&t, 200, NULL, "GET", "/v1/tenants/lab-a", NULL);
    json_t *u = json_object_get(j, "usage");
    CHECK(num(u, "memory") == 9 * GiB && real(u, "compute") == 60 && num(u, "instances") == 3,
          "usage adds up");
    CHECK(json_is_null(json_object_get(json_object_get(j, "quota"), "memory")), "quota cleared");
    CHECK(json_array_size(json_object_get(j, "users")) == 2, "users replaced");
    json_decref(j);

    /* A new token replaces the old one. */
    j = dt_call(&t, 200, NULL, "POST", "/v1/tenants/lab-a/token", NULL);
    snprintf(tb, sizeof(tb), "%s", str(j, "token"));
    json_decref(j);
    refused(&t, 401, ta, "GET", "/v1/instances", NULL, "invalid token");
    json_decref(dt_call(&t, 200, tb, "GET", "/v1/instances", NULL));

    /* Delete: refused with instances, unless forced; then its regions are gone too. */
    refused(&t, 409, NULL, "DELETE", "/v1/tenants/lab-a", NULL, "3 instances");
    char instdir[200];
    snprintf(instdir, sizeof(instdir), "%s/instances", t.run);
    CHECK(file_exists(instdir, id), "region file of %s", id);
    json_decref(dt_call(&t, 204, NULL, "DELETE", "/v1/tenants/lab-a?force=1", NULL));
    CHECK(!file_exists(instdir, id), "region file of %s removed", id);
    refused(&t, 404, NULL, "GET", "/v1/tenants/lab-a", NULL, "no such tenant");
    refused(&t, 401, tb, "GET", "/v1/instances", NULL, "invalid token");
    j = dt_call(&t, 200, NULL, "GET", "/v1/gpus", NULL);
    json_array_foreach(json_object_get(j, "gpus"), i, p)
        CHECK(num(p, "memory_allocated") == 0 && num(p, "instances") == 0, "GPUs free again");
    json_decref(j);

    /* Events, paged: every change above, in order, without gaps or repeats. */
    long long last = 0, seen = 0;
    bool tenant_delete = false;
    for (;;) {
        char path[64];
        snprintf(path, sizeof(path), "/v1/events?after=%lld&limit=2", last);
        j = dt_call(&t, 200, NULL, "GET", path, NULL);
        json_t *ev = json_object_get(j, "events");
        json_array_foreach(ev, i, p)
        {
            CHECK(num(p, "seq") == last + 1 + (long long)i, "seq %lld after %lld", num(p, "seq"),
                  last);
            CHECK(str(p, "time")[4] == '-' && str(p, "time")[19] == 'Z', "RFC3339 time %s",
                  str(p, "time"));
            tenant_delete |= !strcmp(str(p, "action"), "tenant.delete");
            seen++;
        }
        CHECK(json_array_size(ev) <= 2, "a page of at most 2");
        long long next = num(j, "next");
        size_t n = json_array_size(ev);
        json_decref(j);
        if (n == 0) {
            CHECK(next == last, "next stays at the end");
            break;
        }
        last = next;
    }
    CHECK(seen >= 12 && tenant_delete, "%lld events, tenant.delete among them", seen);

    /* Metrics. */
    tenant(&t, "{\"name\":\"lab-m\",\"quota\":{\"instances\":2}}", ta);
    instance(&t, ta, "{\"profile\":\"T4-4C\",\"name\":\"m1\"}", id);
    long status;
    char *m = text(&t, t.admin, "/metrics", &status);
    CHECK(status == 200, "metrics");
    char want[256];
    snprintf(want, sizeof(want),
             "gpuvisor_instance_memory_limit_bytes{instance=\"%s\",name=\"m1\","
             "tenant=\"lab-m\",gpu=\"0\",UUID=\"GPU-",
             id);
    CHECK(has(m, "gpuvisor_gpu_memory_total_bytes{gpu=\"0\",UUID=\"GPU-") &&
              has(m, "modelName=\"Tesla T4\"} 17179869184") && has(m, want) &&
              has(m, "gpuvisor_instance_memory_used_bytes{") &&
              has(m, "gpuvisor_instance_compute_share_ratio{") &&
              has(m, "gpuvisor_instance_gpu_time_seconds_total{") &&
              has(m, "gpuvisor_instance_wait_seconds_total{") &&
              has(m, "gpuvisor_instance_refused_total{") &&
              has(m, "gpuvisor_tenant_quota_instances{tenant=\"lab-m\"} 2") &&
              has(m, "gpuvisor_tenant_memory_bytes{tenant=\"lab-m\"} 4294967296") &&
              has(m, "gpuvisor_gpu_instances{") &&
              has(m, "gpuvisor_api_requests_total{route=\"/v1/"
                     "instances\",method=\"POST\",code=\"201\"}") &&
              has(m, "# TYPE gpuvisor_instance_gpu_time_seconds_total counter"),
          "metrics series:\n%s", m);
    free(m);
    m = text(&t, ta, "/metrics", &status);
    CHECK(status == 200 && !has(m, "gpuvisor_api_requests_total{") && has(m, id),
          "a tenant's metrics");
    free(m);
    m = text(&t, NULL, "/metrics", &status);
    CHECK(status == 401, "metrics need a token");
    free(m);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- isolation */

static void case_isolation(void)
{
    static struct dt t;
    start(&t, "isolation", NULL);
    char ta[64], tb[64], ia[16], ib[16], path[128];
    tenant(&t, "{\"name\":\"a\"}", ta);
    tenant(&t, "{\"name\":\"b\"}", tb);
    instance(&t, ta, "{\"memory\":\"1GiB\",\"name\":\"x\"}", ia);
    instance(&t, tb, "{\"memory\":\"1GiB\",\"name\":\"x\"}", ib);
    refused(&t, 409, ta, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"name\":\"x\"}",
            "already has an instance named x");

    json_t *j = dt_call(&t, 200, ta, "GET", "/v1/instances", NULL);
    json_t *list = json_object_get(j, "instances");
    CHECK(json_array_size(list) == 1 && !strcmp(str(json_array_get(list, 0), "id"), ia),
          "a lists only its own");
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/instances/%s", ia);
    refused(&t, 404, tb, "GET", path, NULL, "no such instance");
    refused(&t, 404, tb, "PATCH", path, "{\"memory\":\"2GiB\"}", "no such instance");
    refused(&t, 404, tb, "DELETE", path, NULL, "no such instance");
    j = dt_call(&t, 200, ta, "GET", path, NULL);
    CHECK(num(j, "memory") == GiB, "a's instance unchanged");
    json_decref(j);
    j = dt_call(&t, 200, tb, "GET", "/v1/instances/x", NULL);
    CHECK(!strcmp(str(j, "id"), ib), "a name means the caller's own instance");
    json_decref(j);

    j = dt_call(&t, 200, NULL, "GET", "/v1/instances", NULL);
    CHECK(json_array_size(json_object_get(j, "instances")) == 2, "the admin sees all");
    json_decref(j);
    j = dt_call(&t, 200, NULL, "GET", "/v1/instances?tenant=b", NULL);
    list = json_object_get(j, "instances");
    CHECK(json_array_size(list) == 1 && !strcmp(str(json_array_get(list, 0), "id"), ib),
          "filtered by tenant");
    json_decref(j);
    refused(&t, 404, NULL, "GET", "/v1/instances?tenant=zz", NULL, "no such tenant");
    refused(&t, 404, ta, "GET", "/v1/instances?tenant=b", NULL, "no such tenant");
    snprintf(path, sizeof(path), "/v1/instances/%s", ib);
    json_decref(dt_call(&t, 200, NULL, "GET", path, NULL));

    j = dt_call(&t, 200, ta, "GET", "/v1/tenants", NULL);
    CHECK(json_array_size(json_object_get(j, "tenants")) == 1, "a sees only itself");
    json_decref(j);
    refused(&t, 404, ta, "GET", "/v1/tenants/b", NULL, "no such tenant");
    refused(&t, 403, ta, "POST", "/v1/tenants", "{\"name\":\"c\"}", "only the admin");
    refused(&t, 403, ta, "DELETE", "/v1/tenants/b", NULL, "only the admin");
    refused(&t, 403, ta, "POST", "/v1/tenants/a/token", NULL, "only the admin");
    refused(&t, 403, ta, "PATCH", "/v1/gpus/0", "{\"mode\":\"whole\"}", "only the admin");
    refused(&t, 403, ta, "POST", "/v1/profiles", "{\"name\":\"p\",\"memory\":1}", "only the admin");
    refused(&t, 403, ta, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"tenant\":\"b\"}",
            "only for itself");
    refused(&t, 400, NULL, "POST", "/v1/instances", "{\"memory\":\"1GiB\"}", "tenant: missing");
    refused(&t, 404, NULL, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"tenant\":\"zz\"}",
            "no such tenant");

    j = dt_call(&t, 200, ta, "GET", "/v1/events", NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "events"), i, e)
        CHECK(!strcmp(str(e, "tenant"), "a") && strcmp(str(e, "target"), ib) != 0,
              "a reads only its events");
    CHECK(json_array_size(json_object_get(j, "events")) >= 2, "a's events");
    json_decref(j);

    long status;
    char *m = text(&t, ta, "/metrics", &status);
    CHECK(status == 200 && has(m, ia) && !has(m, ib) && !has(m, "tenant=\"b\""),
          "a's metrics show only a");
    free(m);

    /* b deletes its own; a's is untouched. */
    json_decref(dt_call(&t, 204, tb, "DELETE", path, NULL));
    snprintf(path, sizeof(path), "/v1/instances/%s", ia);
    json_decref(dt_call(&t, 200, ta, "GET", path, NULL));
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- instances */

static void case_instances(void)
{
    static struct dt t;
    start(&t, "instances", NULL);
    char tk[64], id[16], ids[8][16], path[128];
    tenant(&t, "{\"name\":\"t\"}", tk);

    /* Binpack: four T4-4C fill GPU 0 (four to a GPU, 4 GiB each); the fifth goes to GPU 1. */
    for (int i = 0; i < 4; i++)
        CHECK(instance(&t, tk, "{\"profile\":\"T4-4C\"}", ids[i]) == 0, "binpack on GPU 0");
    json_t *j = dt_call(&t, 201, tk, "POST", "/v1/instances", "{\"profile\":\"T4-4C\"}");
    CHECK(num(j, "gpu") == 1 && !strcmp(str(j, "profile"), "T4-4C") &&
              num(j, "memory") == 4 * GiB && real(j, "compute") == 25,
          "the fifth on GPU 1");
    json_t *join = json_object_get(j, "join");
    CHECK(has(str(join, "command"), "gpuvisor run --instance ") &&
              !strcmp(str(join, "socket"), t.sock) &&
              !strcmp(str(json_object_get(join, "env"), "GPUVISOR_DAEMON"), t.sock) &&
              !strcmp(str(json_object_get(join, "env"), "CUDA_VISIBLE_DEVICES"), str(j, "uuid")),
          "how to join");
    char uuid1[64];
    snprintf(uuid1, sizeof(uuid1), "%s", str(j, "uuid"));
    json_decref(j);

    refused(&t, 409, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"gpu\":0}", "GPU 0");
    char body[256];
    snprintf(body, sizeof(body), "{\"memory\":\"1GiB\",\"gpu\":\"%s\"}", uuid1);
    CHECK(instance(&t, tk, body, id) == 1, "explicit GPU by UUID");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"gpu\":5}", "no such GPU");
    refused(&t, 409, tk, "POST", "/v1/instances", "{\"memory\":\"15GiB\"}", "GiB");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"profile\":\"T4-3C\"}", "profile");
    refused(&t, 409, tk, "POST", "/v1/instances", "{\"profile\":\"H100-10C\"}", "eligible");

    j = dt_call(&t, 200, tk, "GET", "/v1/gpus", NULL);
    json_t *g0 = json_array_get(json_object_get(j, "gpus"), 0);
    CHECK(num(g0, "memory_allocated") == 16 * GiB && real(g0, "compute_allocated") == 100 &&
              num(g0, "instances") == 4,
          "GPU 0 full");
    json_decref(j);

    /* A GPU with instances stays sliced; an empty one may change mode, and is then skipped. */
    refused(&t, 409, NULL, "PATCH", "/v1/gpus/0", "{\"mode\":\"passthrough\"}", "4 instances");

    /* Live usage, resize, and a shrink below what is used. */
    instance(&t, tk, "{\"memory\":\"2GiB\",\"compute\":10,\"name\":\"work\"}", id);
    static struct dt_member m;
    CHECK(dt_member_start(&m, t.sock, "work", -1, -1) == 0, "join by name");
    CHECK(dt_member_charge(&m, 3 * GiB / 2) == 0, "charge 1.5 GiB");
    CHECK(dt_member_charge(&m, GiB) == -ENOMEM, "over the limit");
    snprintf(path, sizeof(path), "/v1/instances/%s", id);
    j = dt_call(&t, 200, tk, "GET", path, NULL);
    json_t *u = json_object_get(j, "usage");
    json_t *mem0 = json_array_get(json_object_get(u, "members"), 0);
    CHECK(num(u, "memory_used") == 3 * GiB / 2 && num(mem0, "pid") == m.pid &&
              json_is_true(json_object_get(mem0, "alive")) && num(mem0, "memory") == 3 * GiB / 2 &&
              num(mem0, "uid") == (long long)geteuid() && num(u, "refused") == 0 &&
              json_is_number(json_object_get(u, "gpu_time_recent")),
          "live usage");
    json_decref(j);
    refused(&t, 409, tk, "PATCH", path, "{\"memory\":\"1GiB\"}",
            "uses 1.5 GiB; cannot shrink to 1 GiB");
    j = dt_call(&t, 200, tk, "PATCH", "/v1/instances/work", "{\"memory\":\"3GiB\",\"compute\":20}");
    CHECK(num(j, "memory") == 3 * GiB && real(j, "compute") == 20 &&
              json_is_null(json_object_get(j, "profile")),
          "resized");
    json_decref(j);
    CHECK(dt_member_charge(&m, GiB) == 0, "the member sees the new limit at once");
    CHECK(dt_member_charge(&m, GiB) == -ENOMEM, "and is held to it");
    refused(&t, 409, tk, "PATCH", path, "{\"memory\":\"100GiB\"}", "GPU 1");

    /* Delete: the member's next charge is refused, the file is gone, the room is free. */
    char instdir[200];
    snprintf(instdir, sizeof(instdir), "%s/instances", t.run);
    json_decref(dt_call(&t, 204, tk, "DELETE", "/v1/instances/work", NULL));
    CHECK(dt_member_charge(&m, 1) == -ESHUTDOWN, "a deleted instance refuses charges");
    CHECK(!file_exists(instdir, id), "region removed");
    refused(&t, 404, tk, "GET", path, NULL, "no such instance");
    dt_member_stop(&m);
    snprintf(path, sizeof(path), "/v1/instances/%s", ids[0]);
    json_decref(dt_call(&t, 204, tk, "DELETE", path, NULL));
    CHECK(instance(&t, tk, "{\"memory\":\"4GiB\",\"gpu\":0}", id) == 0, "room again on GPU 0");

    /* A member of an instance whose daemon reclaims a dead member. */
    CHECK(dt_member_start(&m, t.sock, id, -1, -1) == 0, "join by id");
    CHECK(dt_member_charge(&m, GiB) == 0, "charge");
    dt_member_stop(&m);
    snprintf(path, sizeof(path), "/v1/instances/%s", id);
    long long used = -1;
    for (int k = 0; k < 300 && used != 0; k++) {
        j = dt_call(&t, 200, tk, "GET", path, NULL);
        used = num(json_object_get(j, "usage"), "memory_used");
        json_decref(j);
        if (used)
            usleep(10000);
    }
    CHECK(used == 0, "a dead member's memory is reclaimed by the daemon");
    dt_kill(&t, SIGTERM);
}

static void case_spread(void)
{
    static struct dt t;
    const char *extra[] = {"--placement", "spread", NULL};
    start(&t, "spread", extra);
    char tk[64], id[16];
    tenant(&t, "{\"name\":\"t\"}", tk);
    int a = instance(&t, tk, "{\"memory\":\"1GiB\"}", id);
    int b = instance(&t, tk, "{\"memory\":\"1GiB\"}", id);
    int c = instance(&t, tk, "{\"memory\":\"1GiB\"}", id);
    CHECK(a != b && c == a, "spread alternates: %d %d %d", a, b, c);
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"mode\":\"sliced\"}"));
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- errors */

static int connect_tcp(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s",
          strerror(errno));
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        CHECK(k > 0, "send: %s", strerror(errno));
        s += k;
        n -= (size_t)k;
    }
}

/* Read a whole response (until the peer closes, or the deadline); returns its status. */
static int read_status(int fd, int ms)
{
    char buf[4096];
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n < sizeof(buf) - 1 && poll(&p, 1, ms) == 1) {
        ssize_t k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

static void case_errors(void)
{
    static struct dt t;
    start(&t, "errors", NULL);
    char tk[64], id[16];
    tenant(&t, "{\"name\":\"t\"}", tk);
    instance(&t, tk, "{\"memory\":\"1GiB\",\"name\":\"keep\"}", id);

    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":", "malformed JSON");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",}", "malformed JSON");
    refused(&t, 400, tk, "POST", "/v1/instances", "\"memory\"", "JSON object");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":[1]}", "memory");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"compute\":\"x\"}",
            "compute");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":1e400}", "malformed JSON");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":18446744073709551616}",
            "malformed JSON");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"20000000TiB\"}", "memory");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"compute\":101}",
            "compute");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"size\":1}",
            "unknown field \"size\"");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"memory\":\"2GiB\"}",
            "duplicate");
    refused(&t, 400, tk, "POST", "/v1/instances", "", "empty body");
    refused(&t, 400, NULL, "POST", "/v1/tenants", "{\"name\":\"x\",\"quota\":{\"memory\":true}}",
            "quota.memory");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/0", "{\"mode\":\"fast\"}", "mode");
    refused(&t, 400, tk, "PATCH", "/v1/instances/keep", "{}", "nothing to change");

    /* 413: announced, and chunked. */
    size_t big = 70 * 1024;
    char *huge = malloc(big + 32);
    CHECK(huge, "malloc");
    snprintf(huge, 32, "{\"name\":\"");
    memset(huge + strlen(huge), 'a', big);
    strcpy(huge + 9 + big, "\"}");
    refused(&t, 413, tk, "POST", "/v1/instances", huge, "too large");
    int fd = connect_tcp(t.port);
    char head[256];
    snprintf(
        head, sizeof(head),
        "POST /v1/instances HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        tk);
    send_all(fd, head, strlen(head));
    for (int i = 0; i < 9; i++) {
        char chunk[16];
        snprintf(chunk, sizeof(chunk), "%x\r\n", 8192);
        send_all(fd, chunk, strlen(chunk));
        send_all(fd, huge + 9, 8192);
        send_all(fd, "\r\n", 2);
    }
    send_all(fd, "0\r\n\r\n", 5);
    CHECK(read_status(fd, 10000) == 413, "chunked oversized body");
    close(fd);
    free(huge);

    /* 415. */
    struct dt_req r = {.method = "POST",
                       .path = "/v1/instances",
                       .token = tk,
                       .body = "{\"memory\":\"1GiB\"}",
                       .content_type = "text/plain"};
    json_t *j;
    CHECK(dt_request(&t, &r, &j) == 415 && has(dt_error(j), "application/json"), "415");
    json_decref(j);
    r.content_type = "application/json; charset=utf-8";
    CHECK(dt_request(&t, &r, &j) == 201, "JSON with a charset");
    json_decref(j);

    /* Paths, ids and methods. */
    refused(&t, 404, tk, "GET", "/v1/nothing", NULL, "no such path");
    refused(&t, 404, tk, "GET", "/v1/instances/", NULL, "no such path");
    refused(&t, 404, tk, "GET", "/v1/instances/0123456789ab", NULL, "no such instance");
    refused(&t, 404, tk, "GET", "/v1/instances/nosuchname", NULL, "no such instance");
    refused(&t, 400, tk, "GET", "/v1/instances/a%20b", NULL, "instance id or name");
    refused(&t, 400, tk, "GET", "/v1/instances/%2e%2e", NULL, "instance id or name");
    refused(&t, 400, tk, "GET", "/v1/gpus/99", NULL, "GPU");
    refused(&t, 404, tk, "GET", "/v1/gpus/1/x", NULL, "no such path");
    refused(&t, 400, tk, "GET", "/v1/events?limit=0", NULL, "limit");
    refused(&t, 400, tk, "GET", "/v1/events?colour=red", NULL, "colour");
    char allow[64];
    r = (struct dt_req){.method = "PUT", .path = "/v1/instances", .token = tk, .allow = allow};
    CHECK(dt_request(&t, &r, &j) == 405 && !strcmp(allow, "GET, POST"), "405 with Allow: %s",
          allow);
    json_decref(j);

    /* 200 connections at once, all answered. */
    enum { N = 200 };
    int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = connect_tcp(t.port);
    static const char get[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    for (int i = 0; i < N; i++)
        send_all(fds[i], get, sizeof(get) - 1);
    for (int i = 0; i < N; i++) {
        int st = read_status(fds[i], 30000);
        CHECK(st == 200, "connection %d of %d: status %d", i, N, st);
        close(fds[i]);
    }

    /* Clients that stall half-way through their headers or body hold nobody else up. */
    int slow[4];
    for (int i = 0; i < 4; i++) {
        slow[i] = connect_tcp(t.port);
        const char *half = i % 2 ? "POST /v1/instances HTTP/1.1\r\nHost: x\r\nContent-Le"
                                 : "POST /v1/instances HTTP/1.1\r\nHost: x\r\n"
                                   "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                                   "{\"mem";
        send_all(slow[i], half, strlen(half));
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 50; i++)
        json_decref(dt_call(&t, 200, tk, "GET", "/v1/instances/keep", NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    CHECK(s < 10, "50 requests beside stalled clients took %.1f s", s);
    for (int i = 0; i < 4; i++)
        close(slow[i]);

    /* Still up, state intact. */
    j = dt_call(&t, 200, tk, "GET", "/v1/instances", NULL);
    CHECK(json_array_size(json_object_get(j, "instances")) == 2, "state intact");
    json_decref(j);
    CHECK(kill(t.pid, 0) == 0, "daemon alive");
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- restart */

static void case_restart(void)
{
    static struct dt t;
    start(&t, "restart", NULL);
    char tk[64], keep[16], held[16], path[128], instdir[200];
    snprintf(instdir, sizeof(instdir), "%s/instances", t.run);
    tenant(&t, "{\"name\":\"lab\",\"users\":[\"alice\"],\"quota\":{\"instances\":5}}", tk);
    instance(&t, tk, "{\"profile\":\"T4-4C\",\"name\":\"keep\"}", keep);
    instance(&t, tk, "{\"memory\":\"2GiB\",\"compute\":30}", held);
    json_decref(
        dt_call(&t, 201, NULL, "POST", "/v1/profiles", "{\"name\":\"small\",\"memory\":\"1GiB\"}"));
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"mode\":\"whole\"}"));
    static struct dt_member m;
    CHECK(dt_member_start(&m, t.sock, held, -1, -1) == 0, "join");
    CHECK(dt_member_charge(&m, GiB) == 0, "charge 1 GiB");

    /* kill -9: the member's limit holds without the daemon. */
    dt_kill(&t, SIGKILL);
    CHECK(dt_member_charge(&m, 3 * GiB / 2) == -ENOMEM, "limit holds while the daemon is down");
    CHECK(dt_member_charge(&m, GiB / 2) == 0, "within the limit still works");

    /* A reboot would have emptied the run directory: the region is made again at start. */
    char file[256];
    snprintf(file, sizeof(file), "%s/%s", instdir, keep);
    CHECK(unlink(file) == 0, "remove %s", file);
    /* A region with no instance behind it is retired at start. */
    struct gvr_region orphan;
    struct gvr_device_limit lim = {.memory = GiB};
    CHECK(gvr_open(&orphan, instdir, "abcdefabcdef", GVR_CREATE, &lim, 1, NULL) >= 0, "orphan");
    gvr_close(&orphan);

    CHECK(dt_start(&t, NULL) == 0, "restart: %s", dt_log(&t));
    json_t *j = dt_call(&t, 200, tk, "GET", "/v1/instances", NULL);
    CHECK(json_array_size(json_object_get(j, "instances")) == 2, "both instances back");
    json_decref(j);
    snprintf(path, sizeof(path), "/v1/instances/%s", keep);
    j = dt_call(&t, 200, tk, "GET", path, NULL);
    CHECK(num(j, "memory") == 4 * GiB && !strcmp(str(j, "name"), "keep") &&
              !strcmp(str(j, "profile"), "T4-4C"),
          "limits back");
    json_decref(j);
    CHECK(file_exists(instdir, keep), "region made again");
    CHECK(!file_exists(instdir, "abcdefabcdef"), "orphan region retired");
    snprintf(path, sizeof(path), "/v1/instances/%s", held);
    j = dt_call(&t, 200, tk, "GET", path, NULL);
    json_t *u = json_object_get(j, "usage");
    CHECK(num(u, "memory_used") == 3 * GiB / 2 &&
              num(json_array_get(json_object_get(u, "members"), 0), "pid") == m.pid,
          "the running member is still there");
    json_decref(j);
    j = dt_call(&t, 200, NULL, "GET", "/v1/tenants/lab", NULL);
    CHECK(num(json_object_get(j, "quota"), "instances") == 5, "tenant back with its quota");
    json_decref(j);
    json_decref(dt_call(&t, 200, NULL, "GET", "/v1/profiles/small", NULL));
    j = dt_call(&t, 200, NULL, "GET", "/v1/gpus/1", NULL);
    CHECK(!strcmp(str(j, "mode"), "whole"), "GPU mode back");
    json_decref(j);

    /* The member follows a resize made after the restart. */
    json_decref(dt_call(&t, 200, tk, "PATCH", path, "{\"memory\":\"4GiB\"}"));
    CHECK(dt_member_charge(&m, 2 * GiB) == 0, "resize after restart reaches the member");

    /* SIGTERM: a clean stop, the socket removed, the same admin token on the next start. */
    char admin[64];
    snprintf(admin, sizeof(admin), "%s", t.admin);
    pid_t pid = t.pid;
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    t.pid = 0;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit 0 on SIGTERM");
    CHECK(access(t.sock, F_OK) != 0, "socket removed");
    CHECK(dt_start(&t, NULL) == 0, "second restart: %s", dt_log(&t));
    CHECK(!strcmp(admin, t.admin), "admin token kept");
    json_decref(dt_call(&t, 200, tk, "GET", path, NULL));
    dt_member_stop(&m);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- local */

struct as_user {
    struct dt *t;
    const char *method, *path, *body;
    long want;
    const char *needle; /* in the body */
};

static int unix_request(void *arg)
{
    struct as_user *a = arg;
    char *out = NULL;
    struct dt_req r = {
        .method = a->method, .path = a->path, .body = a->body, .unix_socket = true, .text = &out};
    long st = dt_request(a->t, &r, NULL);
    bool ok = st == a->want && (!a->needle || has(out, a->needle));
    if (!ok)
        fprintf(stderr, "as uid %u: %s %s -> %ld (want %ld): %s\n", (unsigned)getuid(), a->method,
                a->path, st, a->want, out ? out : "");
    free(out);
    return ok ? 0 : 1;
}

static void as(struct dt *t, int uid, int gid, const char *method, const char *path,
               const char *body, long want, const char *needle)
{
    struct as_user a = {t, method, path, body, want, needle};
    CHECK(dt_as_user(uid, gid, unix_request, &a) == 0, "as uid %d: %s %s", uid, method, path);
}

static void case_local(void)
{
    static struct dt t;
    start(&t, "local", NULL);
    json_t *j;
    struct dt_req r = {.method = "GET", .path = "/v1/tenants", .unix_socket = true};
    bool root = geteuid() == 0;
    CHECK(dt_request(&t, &r, &j) == 200, "the daemon's own user is the admin on the socket");
    json_decref(j);
    r = (struct dt_req){.method = "POST",
                        .path = "/v1/tenants",
                        .unix_socket = true,
                        .body = "{\"name\":\"viasocket\"}"};
    CHECK(dt_request(&t, &r, &j) == 201, "admin by peer credentials");
    char tok[64];
    snprintf(tok, sizeof(tok), "%s", str(j, "token"));
    json_decref(j);
    r = (struct dt_req){.method = "GET", .path = "/v1/tenants", .unix_socket = true, .token = tok};
    CHECK(dt_request(&t, &r, &j) == 200 && json_array_size(json_object_get(j, "tenants")) == 1,
          "a token on the socket is that tenant");
    json_decref(j);
    r = (struct dt_req){.method = "GET", .path = "/v1/tenants"};
    CHECK(dt_request(&t, &r, &j) == 401, "no peer identity over TCP");
    json_decref(j);

    if (!root) {
        fprintf(stderr, "local: not root: the cases with other Unix users are skipped\n");
        dt_kill(&t, SIGTERM);
        return;
    }
    /* Unix users without names: numeric uids and gids. */
    int u1 = 61000 + (int)(getpid() % 1000), u2 = u1 + 1000, u3 = u1 + 2000, u9 = u1 + 3000;
    int g3 = u3;
    char body[256], ta[64], tb[64], ia[16], ib[16], path[128];
    snprintf(body, sizeof(body), "{\"name\":\"ua\",\"users\":[\"%d\"]}", u1);
    tenant(&t, body, ta);
    snprintf(body, sizeof(body), "{\"name\":\"ub\",\"users\":[\"%d\"]}", u2);
    tenant(&t, body, tb);
    snprintf(body, sizeof(body), "{\"name\":\"ub2\",\"users\":[\"%d\"]}", u2);
    tenant(&t, body, tb);
    snprintf(body, sizeof(body), "{\"name\":\"ug\",\"groups\":[\"%d\"]}", g3);
    tenant(&t, body, tb);
    instance(&t, NULL, "{\"memory\":\"1GiB\",\"name\":\"same\",\"tenant\":\"ua\"}", ia);
    instance(&t, NULL, "{\"memory\":\"1GiB\",\"name\":\"same\",\"tenant\":\"ub\"}", ib);

    as(&t, u1, u1, "GET", "/v1/tenants", NULL, 200, "\"ua\"");
    as(&t, u1, u1, "GET", "/v1/instances", NULL, 200, ia);
    snprintf(path, sizeof(path), "/v1/instances/%s", ib);
    as(&t, u1, u1, "GET", path, NULL, 404, "no such instance");
    as(&t, u1, u1, "POST", "/v1/instances", "{\"memory\":\"1GiB\"}", 201, "\"tenant\":\"ua\"");
    as(&t, u1, u1, "POST", "/v1/tenants", "{\"name\":\"x\"}", 403, "only the admin");
    as(&t, u9, u9, "GET", "/v1/instances", NULL, 401, "belongs to no tenant");
    as(&t, u2, u2, "GET", "/v1/instances", NULL, 401, "belongs to tenants ub, ub2");
    as(&t, u3, g3, "GET", "/v1/tenants", NULL, 200, "\"ug\"");

    /* Joins: by the tenant's users only; a name means the joiner's tenant's instance. */
    static struct dt_member m;
    CHECK(dt_member_start(&m, t.sock, "same", u1, u1) == 0, "u1 joins its \"same\"");
    CHECK(dt_member_charge(&m, GiB / 4) == 0, "charge");
    snprintf(path, sizeof(path), "/v1/instances/%s", ia);
    j = dt_call(&t, 200, NULL, "GET", path, NULL);
    json_t *mem0 = json_array_get(json_object_get(json_object_get(j, "usage"), "members"), 0);
    CHECK(num(mem0, "uid") == u1 && num(json_object_get(j, "usage"), "memory_used") == GiB / 4,
          "the join went to ua's instance, as uid %d", u1);
    json_decref(j);
    dt_member_stop(&m);
    CHECK(dt_member_start(&m, t.sock, ib, u1, u1) == -ENOENT, "u1 cannot join ub's by id");
    CHECK(dt_member_start(&m, t.sock, ia, u9, u9) == -ENOENT, "an outsider cannot join");
    CHECK(dt_member_start(&m, t.sock, "nosuch", u1, u1) == -ENOENT, "unknown: the same answer");
    CHECK(dt_member_start(&m, t.sock, ia, u1, u1) == 0, "u1 joins by id");
    dt_member_stop(&m);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- startup */

static void case_startup(void)
{
    static struct dt t;
    dt_init(&t, "startup");
    t.sim = "";
    setenv("GPUVISOR_NVML", "/nonexistent/libnvidia-ml.so.1", 1);
    CHECK(dt_start(&t, NULL) < 0 && has(dt_log(&t), "--sim T4,T4"),
          "no driver, no --sim: refused, saying how: %s", dt_log(&t));
    unsetenv("GPUVISOR_NVML");
    t.sim = "T5";
    CHECK(dt_start(&t, NULL) < 0 && has(dt_log(&t), "unknown GPU model"), "bad --sim: %s",
          dt_log(&t));
    t.sim = NULL;
    const char *bad[] = {"--placement", "random", NULL};
    CHECK(dt_start(&t, bad) < 0 && has(dt_log(&t), "binpack or spread"), "bad option: %s",
          dt_log(&t));
    CHECK(dt_start(&t, NULL) == 0, "start: %s", dt_log(&t));
    /* A second daemon on the same state directory is refused; the first keeps serving. */
    static struct dt t2;
    t2 = t;
    t2.pid = 0;
    t2.curl = NULL;
    pid_t first = t.pid;
    CHECK(dt_start(&t2, NULL) < 0, "second daemon");
    CHECK(has(dt_log(&t), "another gpuvisord"), "says why: %s", dt_log(&t));
    t.pid = first;
    json_decref(dt_call(&t, 200, NULL, "GET", "/v1/gpus", NULL));
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- timeslice */

/* The time slice GET shows for GPU i. */
static void slice_is(struct dt *t, int i, const char *want)
{
    char path[32];
    snprintf(path, sizeof(path), "/v1/gpus/%d", i);
    json_t *j = dt_call(t, 200, NULL, "GET", path, NULL);
    CHECK(!strcmp(str(j, "timeslice"), want), "GPU %d: timeslice \"%s\", want \"%s\"", i,
          str(j, "timeslice"), want);
    json_decref(j);
    j = dt_call(t, 200, NULL, "GET", "/v1/gpus", NULL);
    CHECK(!strcmp(str(json_array_get(json_object_get(j, "gpus"), (size_t)i), "timeslice"), want),
          "GPU %d in the list: timeslice %s", i, want);
    json_decref(j);
}

/* A connection to the local socket speaking for this process in instance id on GPU uuid. */
static int token_conn(struct dt *t, const char *id, const char *uuid)
{
    struct gv_error err = {0};
    struct gvr_dreq h = {.op = GVR_DOP_HELLO};
    CHECK(gv_uuid_parse(uuid, strlen(uuid), GV_UUID_PREFIXED, h.uuid, &err) == 0, "uuid %s: %s",
          uuid, err.msg);
    snprintf(h.key, sizeof(h.key), "%s", id);
    int c = gvr_daemon_connect(t->sock, &err);
    CHECK(c >= 0, "connect: %s", err.msg);
    struct gvr_drep p;
    int fd = -1;
    CHECK(gvr_daemon_call(c, &h, &p, &fd, GV_NS_PER_S, &err) == 0 && p.status == 0, "hello: %s %s",
          err.msg, p.msg);
    if (fd >= 0)
        close(fd);
    return c;
}

/* Ask for 30 ms (a take, or a renewal): granted no more than `slice` ns after the daemon served
 * it, which was before the answer came. */
static void granted_at_most(int c, uint32_t op, uint64_t slice)
{
    struct gvr_dreq q = {.op = op};
    struct gvr_drep p;
    struct gv_error err = {0};
    uint64_t before = gv_now_ns();
    q.until = before + 30 * 1000000ULL;
    CHECK(gvr_daemon_call(c, &q, &p, NULL, GV_NS_PER_S, &err) == 0 && p.status == 0, "op %u: %s %s",
          op, err.msg, p.msg);
    uint64_t after = gv_now_ns();
    CHECK(p.until >= before + slice && p.until <= after + slice,
          "op %u: granted %.3f ms, the slice is %.3f ms", op, (double)(p.until - before) / 1e6,
          (double)slice / 1e6);
}

static void case_timeslice(void)
{
    static struct dt t;
    dt_init(&t, "timeslice");
    const char *const bad[] = {"--timeslice", "31ms", NULL};
    CHECK(dt_start(&t, bad) < 0 && has(dt_log(&t), "--timeslice: time slice \"31ms\""),
          "bad --timeslice: %s", dt_log(&t));
    const char *const four[] = {"--timeslice", "4ms", NULL};
    CHECK(dt_start(&t, four) == 0, "start: %s", dt_log(&t));
    slice_is(&t, 0, "4ms");
    slice_is(&t, 1, "4ms");

    json_t *j = dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"2.5ms\"}");
    CHECK(!strcmp(str(j, "timeslice"), "2.5ms") && !strcmp(str(j, "mode"), "sliced"),
          "PATCH answers the GPU");
    char uuid1[64];
    snprintf(uuid1, sizeof(uuid1), "%s", str(j, "uuid"));
    json_decref(j);
    slice_is(&t, 1, "2.5ms");
    slice_is(&t, 0, "4ms");
    /* Mode and time slice together, and by UUID. */
    char path[128];
    snprintf(path, sizeof(path), "/v1/gpus/%s", uuid1);
    json_decref(
        dt_call(&t, 200, NULL, "PATCH", path, "{\"mode\":\"sliced\",\"timeslice\":\"5ms\"}"));
    slice_is(&t, 1, "5ms");

    /* Refusals name the value; nothing changes. */
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"0.5ms\"}", "\"0.5ms\"");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"31ms\"}", "\"31ms\"");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"fast\"}", "\"fast\"");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":5}", "timeslice: 5 ");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{\"mode\":\"whole\",\"timeslice\":\"40ms\"}",
            "\"40ms\"");
    refused(&t, 400, NULL, "PATCH", "/v1/gpus/1", "{}", "nothing to change");
    refused(&t, 404, NULL, "PATCH", "/v1/gpus/7", "{\"timeslice\":\"5ms\"}", "no such GPU");
    char tk[64], id[16];
    tenant(&t, "{\"name\":\"lab\"}", tk);
    refused(&t, 403, tk, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"5ms\"}", "only the admin");
    slice_is(&t, 1, "5ms");
    j = dt_call(&t, 200, tk, "GET", "/v1/gpus/1", NULL);
    CHECK(!strcmp(str(j, "timeslice"), "5ms"), "a tenant sees the time slice");
    json_decref(j);
    /* Not the mode: a GPU with instances may have its time slice changed. */
    CHECK(instance(&t, tk, "{\"memory\":\"1GiB\",\"gpu\":1}", id) == 1, "on GPU 1");
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"5ms\"}"));

    /* The audit log: who changed which GPU's time slice, from what to what. */
    j = dt_call(&t, 200, NULL, "GET", "/v1/events", NULL);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(json_object_get(j, "events"), i, e)
    {
        if (strcmp(str(e, "action"), "gpu.timeslice") != 0)
            continue;
        json_t *d = json_object_get(e, "detail");
        if (seen == 0)
            CHECK(json_is_null(json_object_get(d, "from")) && !strcmp(str(d, "to"), "2.5ms") &&
                      num(d, "gpu") == 1 && !strcmp(str(e, "target"), uuid1) &&
                      !strcmp(str(e, "actor"), "admin"),
                  "first event");
        if (seen == 1)
            CHECK(!strcmp(str(d, "from"), "2.5ms") && !strcmp(str(d, "to"), "5ms"), "second");
        seen++;
    }
    CHECK(seen == 3, "%d gpu.timeslice events", seen);
    json_decref(j);

    /* The token grants on the local socket hold to it, from the next take or renewal. */
    int c = token_conn(&t, id, uuid1);
    granted_at_most(c, GVR_DOP_TAKE, 5000000);
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"2ms\"}"));
    granted_at_most(c, GVR_DOP_EXTEND, 2000000);
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"30ms\"}"));
    granted_at_most(c, GVR_DOP_EXTEND, 30000000);
    close(c);

    /* Kept across a restart (kill -9 too); the default follows the new --timeslice. */
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":\"7ms\"}"));
    dt_kill(&t, SIGKILL);
    CHECK(dt_start(&t, NULL) == 0, "restart: %s", dt_log(&t));
    slice_is(&t, 1, "7ms");
    slice_is(&t, 0, "10ms");
    c = token_conn(&t, id, uuid1);
    granted_at_most(c, GVR_DOP_TAKE, 7000000);
    close(c);
    /* null: back to the daemon's. */
    j = dt_call(&t, 200, NULL, "PATCH", "/v1/gpus/1", "{\"timeslice\":null}");
    CHECK(!strcmp(str(j, "timeslice"), "10ms"), "null: the default");
    json_decref(j);
    dt_kill(&t, SIGTERM);
    const char *const twenty[] = {"--timeslice", "20ms", NULL};
    CHECK(dt_start(&t, twenty) == 0, "restart: %s", dt_log(&t));
    slice_is(&t, 1, "20ms");
    c = token_conn(&t, id, uuid1);
    granted_at_most(c, GVR_DOP_TAKE, 20000000);
    close(c);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- shim */

/* Run GV_HOLD (tests/cli/cli_hold.c) allocating mib MiB on its device 0, preloaded with the
 * interposer and given the instance's join environment (env, from the create's answer). Returns
 * its exit status: 0 allocated, 3 refused for lack of memory. */
static int hold(struct dt *t, json_t *env, int mib)
{
    const char *holder = getenv("GV_HOLD"), *shim = getenv("GV_SHIM");
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        const char *key;
        json_t *v;
        json_object_foreach(env, key, v) setenv(key, json_string_value(v), 1);
        setenv("LD_PRELOAD", shim, 1);
        setenv("GPUVISOR_SIM_MACHINE", t->machine, 1);
        setenv("GPUVISOR_SIM_GPUS", "T4,T4", 1);
        char arg[16];
        snprintf(arg, sizeof(arg), "%d", mib);
        execl(holder, holder, arg, (char *)NULL);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void case_shim(void)
{
    if (!getenv("GV_HOLD") || !getenv("GV_SHIM")) {
        fprintf(stderr, "shim: the interposer or its test program is not built: skipped\n");
        return;
    }
    static struct dt t;
    start(&t, "shim", NULL);
    char tk[64];
    tenant(&t, "{\"name\":\"t\"}", tk);
    json_t *j = dt_call(&t, 201, tk, "POST", "/v1/instances",
                        "{\"memory\":\"2GiB\",\"gpu\":1,\"name\":\"slice\"}");
    json_t *env = json_object_get(json_object_get(j, "join"), "env");
    CHECK(json_object_size(env) == 3, "join environment");
    CHECK(hold(&t, env, 1024) == 0, "1 GiB fits in a 2 GiB instance");
    CHECK(hold(&t, env, 3072) == 3, "3 GiB is refused by the instance's limit");
    json_decref(dt_call(&t, 200, tk, "PATCH", "/v1/instances/slice", "{\"memory\":\"4GiB\"}"));
    CHECK(hold(&t, env, 3072) == 0, "after a resize to 4 GiB, 3 GiB fits");
    json_object_set_new(env, "GPUVISOR_INSTANCE", json_string("slice"));
    CHECK(hold(&t, env, 3072) == 0, "the instance joined by name");
    json_decref(j);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- remote */

struct remoted {
    pid_t pid;
    char sock[200], log[200];
};

/* Whether the admin's /metrics has a line starting with `start` and ending with `end`. */
static bool metric_ends(struct dt *t, const char *start, const char *end)
{
    long status;
    char *m = text(t, t->admin, "/metrics", &status);
    bool found = false;
    for (char *line = m ? strstr(m, start) : NULL; line && !found; line = strstr(line + 1, start)) {
        size_t n = strcspn(line, "\n");
        found = n >= strlen(end) && !strncmp(line + n - strlen(end), end, strlen(end));
    }
    free(m);
    return status == 200 && found;
}

/* Start gpuvisor-remoted (GV_REMOTED) beside daemon t, admitting clients into its instances. */
static void remoted_start(struct dt *t, struct remoted *r)
{
    snprintf(r->sock, sizeof(r->sock), "%s/remote.sock", t->dir);
    snprintf(r->log, sizeof(r->log), "%s/remoted.log", t->dir);
    pid_t parent = getpid();
    r->pid = fork();
    CHECK(r->pid >= 0, "fork");
    if (r->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0)
            dup2(fd, 2);
        setenv("GPUVISOR_SIM_MACHINE", t->machine, 1);
        setenv("GPUVISOR_SIM_GPUS", "T4,T4", 1);
        char listen[220];
        snprintf(listen, sizeof(listen), "unix:%s", r->sock);
        const char *bin = getenv("GV_REMOTED");
        execl(bin, bin, "--listen", listen, "--daemon", t->sock, "--shim", getenv("GV_SHIM"),
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && access(r->sock, F_OK) != 0; i++)
        usleep(10000);
    CHECK(access(r->sock, F_OK) == 0, "gpuvisor-remoted listens");
}

/* Whether the log at path says `what` within 5 s (a session logs after its client is answered). */
static bool log_has(const char *path, const char *what)
{
    static char buf[65536];
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            buf[n] = '\0';
            if (strstr(buf, what))
                return true;
        }
        usleep(10000);
    }
    return false;
}

/* Run GV_HOLD through the remote client (GV_REMOTE_LIB first on the library path) as the holder
 * of token tk joining instance key, allocating mib MiB on its device 0. With wait, return at once
 * with its pid in *pid (it stays until killed); else its exit status: 0 allocated, 3 refused for
 * lack of memory, 1 anything else (such as a refused session). */
static int remote_hold(struct remoted *r, const char *tk, const char *key, int mib, bool wait,
                       pid_t *pid_out)
{
    const char *holder = getenv("GV_HOLD");
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        char where[220], arg[16], lib[4096];
        snprintf(where, sizeof(where), "unix:%s", r->sock);
        snprintf(lib, sizeof(lib), "%s:%s", getenv("GV_REMOTE_LIB"), getenv("LD_LIBRARY_PATH"));
        setenv("LD_LIBRARY_PATH", lib, 1);
        setenv("GPUVISOR_REMOTE", where, 1);
        setenv("GPUVISOR_REMOTE_TOKEN", tk, 1);
        setenv("GPUVISOR_REMOTE_INSTANCE", key, 1);
        unsetenv("GPUVISOR_SIM_MACHINE"); /* the client never reaches the simulator itself */
        snprintf(arg, sizeof(arg), "%d", mib);
        if (wait)
            execl(holder, holder, "--wait", arg, (char *)NULL);
        else
            execl(holder, holder, arg, (char *)NULL);
        _exit(127);
    }
    if (wait) {
        *pid_out = pid;
        return 0;
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The bytes instance `path` says its members use, and how many members it has. */
static long long instance_used(struct dt *t, const char *path, size_t *members)
{
    json_t *j = dt_call(t, 200, NULL, "GET", path, NULL);
    json_t *u = json_object_get(j, "usage");
    long long used = json_integer_value(json_object_get(u, "memory_used"));
    *members = json_array_size(json_object_get(u, "members"));
    json_decref(j);
    return used;
}

static void case_remote(void)
{
    if (!getenv("GV_HOLD") || !getenv("GV_SHIM") || !getenv("GV_REMOTED") ||
        !getenv("GV_REMOTE_LIB")) {
        fprintf(stderr, "remote: the interposer, the remote parts or cli_hold are not built: "
                        "skipped\n");
        return;
    }
    static struct dt t;
    start(&t, "remote", NULL);
    char ta[64], tb[64];
    tenant(&t, "{\"name\":\"a\"}", ta);
    tenant(&t, "{\"name\":\"b\"}", tb);
    json_t *j = dt_call(&t, 201, ta, "POST", "/v1/instances",
                        "{\"memory\":\"2GiB\",\"gpu\":1,\"name\":\"slice\"}");
    char path[64];
    snprintf(path, sizeof(path), "/v1/instances/%s", str(j, "id"));
    json_decref(j);
    json_decref(
        dt_call(&t, 201, tb, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"name\":\"x\"}"));
    struct remoted r;
    remoted_start(&t, &r);

    CHECK(remote_hold(&r, ta, "slice", 1024, false, NULL) == 0, "1 GiB fits in a 2 GiB instance");
    CHECK(remote_hold(&r, ta, "slice", 3072, false, NULL) == 3,
          "3 GiB is refused by the instance's limit");
    CHECK(log_has(r.log, "started in instance"), "the session joined the instance");
    CHECK(remote_hold(&r, tb, "slice", 1024, false, NULL) == 1, "b's token cannot join a's slice");
    CHECK(log_has(r.log, "gpuvisord refused: 403"), "the refusal is logged");
    CHECK(remote_hold(&r, "gvt_notatoken", "slice", 1024, false, NULL) == 1, "a wrong token");
    CHECK(remote_hold(&r, ta, "", 1024, false, NULL) == 1,
          "no instance named, and the server has no token file");
    CHECK(remote_hold(&r, t.admin, "slice", 1024, false, NULL) == 0, "the admin's token");

    /* A held session shows in the instance's usage, and its memory comes back when it dies. */
    pid_t pid;
    remote_hold(&r, ta, "slice", 1536, true, &pid);
    size_t members = 0;
    long long used = 0;
    for (int i = 0; i < 500 && used < 1536LL << 20; i++) {
        used = instance_used(&t, path, &members);
        if (used < 1536LL << 20)
            usleep(10000);
    }
    CHECK(used >= 1536LL << 20 && members == 1,
          "the session's 1.5 GiB in the instance (%lld, %zu members)", used, members);
    /* And in the metrics, as a member of the instance. */
    char want[128];
    snprintf(want, sizeof(want), "gpuvisor_instance_members{instance=\"%s\",name=\"slice\"",
             path + strlen("/v1/instances/"));
    CHECK(metric_ends(&t, want, " 1"),
          "the remote session counted among the instance's members in /metrics");
    CHECK(remote_hold(&r, ta, "slice", 1024, false, NULL) == 3,
          "a second session shares the instance's limit");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    for (int i = 0; i < 500 && used != 0; i++) {
        used = instance_used(&t, path, &members);
        if (used)
            usleep(10000);
    }
    CHECK(used == 0, "the killed client's memory is back (%lld used)", used);
    kill(r.pid, SIGTERM);
    waitpid(r.pid, NULL, 0);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- policy */

/* GET instance id: its policy and priority must be these, in the listing too, and in its region
 * file (which running members read). */
static void policy_is(struct dt *t, const char *id, const char *policy, const char *priority)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/instances/%s", id);
    json_t *j = dt_call(t, 200, NULL, "GET", path, NULL);
    CHECK(!strcmp(str(j, "policy"), policy) && !strcmp(str(j, "priority"), priority),
          "%s: %s/%s, want %s/%s", id, str(j, "policy"), str(j, "priority"), policy, priority);
    json_decref(j);
    j = dt_call(t, 200, NULL, "GET", "/v1/instances", NULL);
    size_t i;
    json_t *e;
    int seen = 0;
    json_array_foreach(json_object_get(j, "instances"), i, e)
    {
        if (strcmp(str(e, "id"), id) != 0)
            continue;
        CHECK(!strcmp(str(e, "policy"), policy) && !strcmp(str(e, "priority"), priority),
              "%s in the listing: %s/%s", id, str(e, "policy"), str(e, "priority"));
        seen++;
    }
    CHECK(seen == 1, "%s listed %d times", id, seen);
    json_decref(j);

    char dir[200];
    snprintf(dir, sizeof(dir), "%s/instances", t->run);
    struct gvr_region r;
    struct gv_error err = {0};
    CHECK(gvr_open(&r, dir, id, GVR_READONLY, NULL, 0, &err) >= 0, "region %s: %s", id, err.msg);
    enum gv_policy rp;
    enum gv_priority rq;
    gvr_policy(&r, 0, &rp, &rq);
    gvr_close(&r);
    CHECK(!strcmp(gv_policy_name(rp), policy) && !strcmp(gv_priority_name(rq), priority),
          "%s: region says %s/%s, want %s/%s", id, gv_policy_name(rp), gv_priority_name(rq), policy,
          priority);
}

static void case_policy(void)
{
    static struct dt t;
    start(&t, "policy", NULL);
    char tk[64], plain[16], fixed[16], fromprof[16], override[16], builtin[16], path[64];
    tenant(&t, "{\"name\":\"lab\"}", tk);

    /* Defaults: guaranteed, normal. */
    instance(&t, tk, "{\"memory\":\"1GiB\",\"compute\":10}", plain);
    policy_is(&t, plain, "guaranteed", "normal");
    /* High priority is the admin's to give. */
    refused(&t, 403, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"priority\":\"high\"}",
            "priority: high is given by the admin");
    json_t *j = dt_call(&t, 201, NULL, "POST", "/v1/instances",
                        "{\"memory\":\"1GiB\",\"compute\":10,\"policy\":\"fixed\","
                        "\"priority\":\"high\",\"name\":\"fx\",\"tenant\":\"lab\"}");
    CHECK(!strcmp(str(j, "policy"), "fixed") && !strcmp(str(j, "priority"), "high"),
          "the create's answer: %s/%s", str(j, "policy"), str(j, "priority"));
    snprintf(fixed, sizeof(fixed), "%s", str(j, "id"));
    json_decref(j);
    policy_is(&t, fixed, "fixed", "high");

    /* A custom profile's are the defaults of its instances; a built-in's are the defaults. */
    j = dt_call(&t, 201, NULL, "POST", "/v1/profiles",
                "{\"name\":\"batch\",\"memory\":\"1GiB\",\"compute\":5,"
                "\"policy\":\"best-effort\",\"priority\":\"low\"}");
    CHECK(!strcmp(str(j, "policy"), "best-effort") && !strcmp(str(j, "priority"), "low"),
          "profile answer");
    json_decref(j);
    j = dt_call(&t, 201, NULL, "POST", "/v1/profiles", "{\"name\":\"plain\",\"memory\":\"1GiB\"}");
    CHECK(!strcmp(str(j, "policy"), "guaranteed") && !strcmp(str(j, "priority"), "normal"),
          "a profile's defaults");
    json_decref(j);
    j = dt_call(&t, 200, NULL, "GET", "/v1/profiles/T4-4C", NULL);
    CHECK(!strcmp(str(j, "policy"), "guaranteed") && !strcmp(str(j, "priority"), "normal"),
          "a built-in profile's");
    json_decref(j);
    instance(&t, tk, "{\"profile\":\"batch\"}", fromprof);
    policy_is(&t, fromprof, "best-effort", "low");
    instance(&t, NULL, "{\"profile\":\"batch\",\"priority\":\"high\",\"tenant\":\"lab\"}",
             override);
    policy_is(&t, override, "best-effort", "high");
    instance(&t, tk, "{\"profile\":\"T4-4C\",\"policy\":\"fixed\"}", builtin);
    policy_is(&t, builtin, "fixed", "normal");

    /* PATCH: either, both, with limits; a tenant may change its own; the profile stays. */
    snprintf(path, sizeof(path), "/v1/instances/%s", fromprof);
    j = dt_call(&t, 200, tk, "PATCH", path, "{\"policy\":\"guaranteed\"}");
    CHECK(!strcmp(str(j, "policy"), "guaranteed") && !strcmp(str(j, "priority"), "low") &&
              !strcmp(str(j, "profile"), "batch"),
          "PATCH policy: %s/%s profile %s", str(j, "policy"), str(j, "priority"),
          str(j, "profile"));
    json_decref(j);
    policy_is(&t, fromprof, "guaranteed", "low");
    refused(&t, 403, tk, "PATCH", path, "{\"priority\":\"high\"}",
            "priority: high is given by the admin");
    policy_is(&t, fromprof, "guaranteed", "low");
    json_decref(dt_call(&t, 200, NULL, "PATCH", path, "{\"priority\":\"HIGH\"}"));
    policy_is(&t, fromprof, "guaranteed", "high");
    json_decref(
        dt_call(&t, 200, tk, "PATCH", "/v1/instances/fx",
                "{\"memory\":\"2GiB\",\"policy\":\"best-effort\",\"priority\":\"normal\"}"));
    policy_is(&t, fixed, "best-effort", "normal");

    /* Refusals name the field and the names it takes; nothing changes. */
    refused(&t, 400, tk, "PATCH", path, "{\"policy\":\"greedy\"}",
            "policy: compute policy \"greedy\": not one of fixed, guaranteed or best-effort");
    refused(&t, 400, tk, "PATCH", path, "{\"priority\":\"urgent\"}",
            "priority: priority \"urgent\": not one of high, normal or low");
    refused(&t, 400, tk, "PATCH", path, "{\"priority\":1}", "priority: expected a string");
    refused(&t, 400, tk, "PATCH", path, "{\"policy\":null}", "policy: expected a string");
    refused(&t, 400, tk, "PATCH", path, "{\"memory\":\"2GiB\",\"policy\":\"fast\"}", "\"fast\"");
    policy_is(&t, fromprof, "guaranteed", "high");
    j = dt_call(&t, 200, tk, "GET", path, NULL);
    CHECK(num(j, "memory") == GiB, "a refused PATCH changes nothing");
    json_decref(j);
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"policy\":\"\"}",
            "policy: compute policy \"\"");
    refused(&t, 400, tk, "POST", "/v1/instances", "{\"memory\":\"1GiB\",\"priority\":\"top\"}",
            "priority: priority \"top\"");
    refused(&t, 400, NULL, "POST", "/v1/profiles",
            "{\"name\":\"bad\",\"memory\":\"1GiB\",\"policy\":\"shared\"}",
            "policy: compute policy \"shared\"");
    refused(&t, 404, NULL, "GET", "/v1/profiles/bad", NULL, "no such profile");
    j = dt_call(&t, 200, tk, "GET", "/v1/instances", NULL);
    CHECK(json_array_size(json_object_get(j, "instances")) == 5, "no instance made by a refusal");
    json_decref(j);

    /* The audit log: the create says the policy, a resize says from what to what. */
    j = dt_call(&t, 200, NULL, "GET", "/v1/events", NULL);
    size_t i;
    json_t *e;
    int creates = 0, resizes = 0;
    json_array_foreach(json_object_get(j, "events"), i, e)
    {
        json_t *d = json_object_get(e, "detail");
        if (!strcmp(str(e, "action"), "instance.create") && !strcmp(str(e, "target"), fixed))
            creates += !strcmp(str(d, "policy"), "fixed") && !strcmp(str(d, "priority"), "high");
        if (!strcmp(str(e, "action"), "instance.resize") && !strcmp(str(e, "target"), fixed)) {
            json_t *pol = json_object_get(d, "policy");
            resizes += !strcmp(str(pol, "from"), "fixed") && !strcmp(str(pol, "to"), "best-effort");
        }
    }
    CHECK(creates == 1 && resizes == 1, "events: %d creates, %d resizes", creates, resizes);
    json_decref(j);

    /* Kept across a restart (kill -9), and written again into a region made again. */
    json_decref(dt_call(&t, 200, NULL, "PATCH", "/v1/instances/fx", "{\"policy\":\"fixed\"}"));
    dt_kill(&t, SIGKILL);
    char file[256];
    snprintf(file, sizeof(file), "%s/instances/%s", t.run, override);
    CHECK(unlink(file) == 0, "remove %s", file);
    CHECK(dt_start(&t, NULL) == 0, "restart: %s", dt_log(&t));
    policy_is(&t, plain, "guaranteed", "normal");
    policy_is(&t, fixed, "fixed", "normal");
    policy_is(&t, fromprof, "guaranteed", "high");
    policy_is(&t, override, "best-effort", "high");
    policy_is(&t, builtin, "fixed", "normal");
    j = dt_call(&t, 200, NULL, "GET", "/v1/profiles/batch", NULL);
    CHECK(!strcmp(str(j, "policy"), "best-effort") && !strcmp(str(j, "priority"), "low"),
          "the profile's back");
    json_decref(j);
    dt_kill(&t, SIGTERM);
}

/* ---------------------------------------------------------------- history */

/* What a history poll looks for: a sample of path whose field is want (and the body seen). */
struct history_poll {
    struct dt *t;
    const char *token, *path, *field;
    long long want;
    json_t *body; /* the last body read, to json_decref */
};

static bool history_shows(void *arg)
{
    struct history_poll *p = arg;
    json_decref(p->body);
    p->body = dt_call(p->t, 200, p->token, "GET", p->path, NULL);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(p->body, "samples"), i,
                       x) if (json_is_integer(json_object_get(x, p->field)) &&
                              num(x, p->field) == p->want) return true;
    return false;
}

/* The samples of a history body: interval 1 s, times growing; their count. */
static size_t history_check(json_t *j, long long after)
{
    CHECK(num(j, "interval_s") == 1, "interval_s %lld", num(j, "interval_s"));
    json_t *a = json_object_get(j, "samples");
    CHECK(json_is_array(a), "samples is an array");
    long long prev = after;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        CHECK(json_is_integer(json_object_get(x, "t")) && num(x, "t") > prev,
              "sample %zu: t %lld after %lld (oldest first, one per second, after since)", i,
              num(x, "t"), prev);
        prev = num(x, "t");
    }
    return json_array_size(a);
}

static void case_history(void)
{
    static struct dt t;
    start(&t, "history", NULL);
    char ta[64], tb[64], id[16], path[128], gpath[128], q[192];
    tenant(&t, "{\"name\":\"a\"}", ta);
    tenant(&t, "{\"name\":\"b\"}", tb);
    int gpu = instance(&t, ta, "{\"memory\":\"2GiB\",\"name\":\"h\"}", id);
    snprintf(path, sizeof(path), "/v1/instances/%s/history", id);
    snprintf(gpath, sizeof(gpath), "/v1/gpus/%d/history", gpu);

    static struct dt_member m;
    CHECK(dt_member_start(&m, t.sock, id, -1, -1) == 0, "join");
    CHECK(dt_member_charge(&m, GiB / 2) == 0, "charge 512 MiB");

    /* The instance's samples come to show the memory, the member and the limit. */
    struct history_poll p = {&t, ta, path, "memory_used", GiB / 2, NULL};
    CHECK(dt_wait_for(history_shows, &p, 15000), "no sample shows 512 MiB used");
    size_t n = history_check(p.body, LLONG_MIN);
    json_t *last = json_array_get(json_object_get(p.body, "samples"), n - 1);
    CHECK(num(last, "memory_used") == GiB / 2 && num(last, "memory_limit") == 2 * GiB &&
              num(last, "members") == 1 && num(last, "refused") == 0 &&
              (json_is_null(json_object_get(last, "gpu_time")) ||
               json_is_number(json_object_get(last, "gpu_time"))) &&
              json_object_get(last, "wait") && json_object_size(last) == 7,
          "the newest sample");
    json_decref(p.body);

    /* The GPU's samples add up its instances. */
    p = (struct history_poll){&t, NULL, gpath, "memory_used", GiB / 2, NULL};
    CHECK(dt_wait_for(history_shows, &p, 15000), "no sample of GPU %d shows 512 MiB", gpu);
    history_check(p.body, LLONG_MIN);
    json_t *samples = json_object_get(p.body, "samples");
    last = json_array_get(samples, json_array_size(samples) - 1);
    CHECK(num(last, "instances") == 1 && json_is_number(json_object_get(last, "gpu_time")),
          "the GPU's newest sample");
    json_decref(p.body);
    json_decref(dt_call(&t, 200, tb, "GET", gpath, NULL)); /* any tenant sees the GPUs */

    /* since: only what is newer. Wait for two samples, so that one is older than the other. */
    json_t *j = NULL;
    for (int k = 0; k < 1500; k++) {
        json_decref(j);
        j = dt_call(&t, 200, ta, "GET", path, NULL);
        if (json_array_size(json_object_get(j, "samples")) >= 2)
            break;
        usleep(10000);
    }
    samples = json_object_get(j, "samples");
    n = history_check(j, LLONG_MIN);
    CHECK(n >= 2, "two samples in 15 s");
    long long t0 = num(json_array_get(samples, 0), "t"), t1 = num(json_array_get(samples, 1), "t");
    json_decref(j);
    snprintf(q, sizeof(q), "%s?since=%lld", path, t0);
    j = dt_call(&t, 200, ta, "GET", q, NULL);
    CHECK(history_check(j, t0) >= n - 1 &&
              num(json_array_get(json_object_get(j, "samples"), 0), "t") == t1,
          "since the oldest: all but it");
    json_decref(j);
    j = dt_call(&t, 200, ta, "GET", "/v1/instances/h/history?since=0", NULL);
    CHECK(history_check(j, 0) >= n, "since 0: all of them, by name too");
    json_decref(j);
    snprintf(q, sizeof(q), "%s?since=99999999999", path);
    j = dt_call(&t, 200, ta, "GET", q, NULL);
    CHECK(history_check(j, 0) == 0, "since the future: none");
    json_decref(j);

    /* Visibility and refusals. */
    refused(&t, 404, tb, "GET", path, NULL, "no such instance");
    refused(&t, 404, tb, "GET", "/v1/instances/h/history", NULL, "no such instance");
    snprintf(q, sizeof(q), "%s?since=yesterday", path);
    refused(&t, 400, ta, "GET", q, NULL, "since=\"yesterday\"");
    snprintf(q, sizeof(q), "%s?since=-1", path);
    refused(&t, 400, ta, "GET", q, NULL, "since=\"-1\"");
    snprintf(q, sizeof(q), "%s?since=", path);
    refused(&t, 400, NULL, "GET", q, NULL, "since");
    snprintf(q, sizeof(q), "%s?from=1", path);
    refused(&t, 400, ta, "GET", q, NULL, "unknown query parameter \"from\"");
    refused(&t, 405, ta, "DELETE", path, NULL, "allowed: GET");
    refused(&t, 404, NULL, "GET", "/v1/gpus/7/history", NULL, "no such GPU");
    refused(&t, 400, NULL, "GET", "/v1/gpus/x/history", NULL, "not a GPU index");

    /* Deleted: its history goes with it; a new instance starts with none of it. The member still
     * holds its memory, so that any sample of the old instance would show it. */
    long long before = (long long)time(NULL);
    snprintf(q, sizeof(q), "/v1/instances/%s", id);
    json_decref(dt_call(&t, 204, ta, "DELETE", q, NULL));
    dt_member_stop(&m);
    refused(&t, 404, ta, "GET", path, NULL, "no such instance");
    instance(&t, ta, "{\"memory\":\"2GiB\",\"name\":\"h\"}", id);
    j = dt_call(&t, 200, ta, "GET", "/v1/instances/h/history", NULL);
    history_check(j, before - 1);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "samples"), i, x)
        CHECK(num(x, "memory_used") == 0 && num(x, "members") == 0 && num(x, "refused") == 0,
              "a new instance's history has none of the old one's");
    json_decref(j);
    dt_kill(&t, SIGTERM);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } cases[] = {
        {"api", case_api},
        {"isolation", case_isolation},
        {"instances", case_instances},
        {"spread", case_spread},
        {"errors", case_errors},
        {"restart", case_restart},
        {"local", case_local},
        {"startup", case_startup},
        {"shim", case_shim},
        {"timeslice", case_timeslice},
        {"policy", case_policy},
        {"remote", case_remote},
        {"history", case_history},
    };
    for (size_t i = 0; argc == 2 && i < sizeof(cases) / sizeof(cases[0]); i++)
        if (!strcmp(argv[1], cases[i].name)) {
            cases[i].fn();
            printf("%s: ok\n", argv[1]);
            return 0;
        }
    fprintf(stderr, "usage: daemon_test CASE\n");
    return 2;
}
