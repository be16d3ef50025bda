/* SPDX-License-Identifier: Apache-2.0 */
/* test_rest.c: the CLI's commands for gpuvisord without a daemon: what each one's arguments turn
 * into (method, path, JSON body) and the messages for bad ones, how the daemon's answers (the
 * JSON fixtures in tests/cli/fixtures, shaped as the REST API documents them) print as tables,
 * the cells' text forms, where the daemon is looked for and which token is sent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/rest.h"

/* ------------------------------------------------------------------ helpers */

static json_t *fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", GV_FIXTURES, name);
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc)
        fail_msg("%s: %s (line %d)", path, je.text, je.line);
    return doc;
}

/* What v prints for the fixture, as one string (static). */
static const char *render(const struct cli_verb *v, const char *name, const char *subject)
{
    static char out[16384];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    json_t *doc = name ? fixture(name) : NULL;
    struct cli_request rq = {.subject = subject};
    v->render(doc, &rq, f);
    fclose(f);
    json_decref(doc);
    snprintf(out, sizeof(out), "%s", text);
    free(text);
    return out;
}

static struct cli_conn conn;
static struct cli_request rq;
static char body[4096];

/* Parse the words (NULL-terminated) with v; returns the status, with the body in `body`. */
static int parse(struct gv_error *err, const struct cli_verb *v, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, v);
    argv[argc++] = (char *)v->name;
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    body[0] = '\0';
    *err = (struct gv_error){0};
    int rc = cli_verb_parse(v, argc, argv, &conn, &rq, err);
    if (rc == 0 && rq.body) {
        char *s = json_dumps(rq.body, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(body, sizeof(body), "%s", s);
        free(s);
    }
    json_decref(rq.body);
    rq.body = NULL;
    return rc;
}

#define PARSE_OK(...)                                                                              \
    do {                                                                                           \
        struct gv_error e_;                                                                        \
        if (parse(&e_, __VA_ARGS__, NULL) != 0)                                                    \
            fail_msg("%s", e_.msg);                                                                \
    } while (0)

/* Parsing fails, with want_ in the message. */
#define PARSE_BAD(want_, ...)                                                                      \
    do {                                                                                           \
        struct gv_error e_;                                                                        \
        assert_true(parse(&e_, __VA_ARGS__, NULL) < 0);                                            \
        if (!strstr(e_.msg, want_))                                                                \
            fail_msg("message \"%s\" lacks \"%s\"", e_.msg, want_);                                \
    } while (0)

static void contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("no \"%s\" in:\n%s", want, text);
}

/* ------------------------------------------------------------------ parsing */

static void test_parse_simple(void **state)
{
    (void)state;
    PARSE_OK(&cli_verb_gpus, "--json");
    assert_string_equal(rq.method, "GET");
    assert_string_equal(rq.path, "/v1/gpus");
    assert_true(conn.json);
    PARSE_OK(&cli_verb_profiles, "--socket", "/tmp/s.sock", "--token=gvt_x");
    assert_string_equal(rq.path, "/v1/profiles");
    assert_string_equal(conn.socket, "/tmp/s.sock");
    assert_string_equal(conn.token, "gvt_x");
    assert_false(conn.json);
    PARSE_OK(&cli_verb_list, "--tenant", "lab a");
    assert_string_equal(rq.path, "/v1/instances?tenant=lab%20a");
    PARSE_OK(&cli_verb_list, "--url", "http://h:1");
    assert_string_equal(rq.path, "/v1/instances");
    assert_string_equal(conn.url, "http://h:1");
    PARSE_OK(&cli_verb_show, "train");
    assert_string_equal(rq.path, "/v1/instances/train");
    assert_string_equal(rq.subject, "train");
    PARSE_OK(&cli_verb_delete, "--json", "0123456789ab");
    assert_string_equal(rq.method, "DELETE");
    assert_string_equal(rq.path, "/v1/instances/0123456789ab");
    /* Whatever is typed stays one path segment. */
    PARSE_OK(&cli_verb_show, "../gpus?x=1");
    assert_string_equal(rq.path, "/v1/instances/..%2Fgpus%3Fx%3D1");
    PARSE_OK(&cli_verb_events);
    assert_string_equal(rq.path, "/v1/events");
    PARSE_OK(&cli_verb_events, "--after", "8", "--limit=50");
    assert_string_equal(rq.path, "/v1/events?after=8&limit=50");
    PARSE_OK(&cli_verb_events, "--limit", "5");
    assert_string_equal(rq.path, "/v1/events?limit=5");

    PARSE_BAD("gpus: unexpected argument \"x\" (see gpuvisor gpus --help)", &cli_verb_gpus, "x");
    PARSE_BAD("list: unknown option \"--bogus\"", &cli_verb_list, "--bogus");
    PARSE_BAD("--tenant: missing value (see gpuvisor list --help)", &cli_verb_list, "--tenant");
    PARSE_BAD("show: missing instance ID", &cli_verb_show, "--json");
    PARSE_BAD("unexpected argument \"b\"", &cli_verb_show, "a", "b");
    PARSE_BAD("delete: missing instance ID", &cli_verb_delete, "--json");
    PARSE_BAD("--socket: empty value", &cli_verb_gpus, "--socket=");
    PARSE_BAD("--token: missing value", &cli_verb_gpus, "--token");
    PARSE_BAD("--after \"x\": not a whole number", &cli_verb_events, "--after", "x");
    PARSE_BAD("--limit \"-1\": not a whole number", &cli_verb_events, "--limit", "-1");
}

static void test_parse_create(void **state)
{
    (void)state;
    PARSE_OK(&cli_verb_create, "--profile", "T4-4C");
    assert_string_equal(rq.method, "POST");
    assert_string_equal(rq.path, "/v1/instances");
    assert_string_equal(body, "{\"profile\":\"T4-4C\"}");
    PARSE_OK(&cli_verb_create, "--memory", "1.5GiB", "--compute=12.5", "--gpu", "1", "--name",
             "train", "--tenant", "lab-a");
    assert_string_equal(body, "{\"compute\":\"12.5%\",\"gpu\":1,\"memory\":1610612736,"
                              "\"name\":\"train\",\"tenant\":\"lab-a\"}");
    PARSE_OK(&cli_verb_create, "--memory", "4GiB", "--gpu",
             "gpu-AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee");
    assert_string_equal(body, "{\"gpu\":\"GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\","
                              "\"memory\":4294967296}");
    PARSE_BAD("give --profile NAME", &cli_verb_create, "--gpu", "0");
    PARSE_BAD("give --profile NAME", &cli_verb_create, "--compute", "25");
    PARSE_BAD("not both", &cli_verb_create, "--profile", "T4-4C", "--memory", "1GiB");
    PARSE_BAD("--memory: size \"2XB\": unknown unit", &cli_verb_create, "--memory", "2XB");
    PARSE_BAD("more than 0 bytes", &cli_verb_create, "--memory", "0");
    PARSE_BAD("--compute: ", &cli_verb_create, "--memory", "1GiB", "--compute", "150");
    PARSE_BAD("--compute: ", &cli_verb_create, "--memory", "1GiB", "--compute", "0");
    PARSE_BAD("--gpu \"x\": not a GPU index or UUID", &cli_verb_create, "--memory", "1GiB",
              "--gpu", "x");
    PARSE_BAD("--gpu \"-1\"", &cli_verb_create, "--memory", "1GiB", "--gpu", "-1");
    PARSE_BAD("--name \"b\": already given as \"a\"", &cli_verb_create, "--profile", "p",
              "--name", "a", "--name", "b");
    PARSE_BAD("create: unexpected argument \"x\"", &cli_verb_create, "--profile", "p", "x");
    /* A policy and a priority, by core's names whatever the case they were written in. */
    PARSE_OK(&cli_verb_create, "--profile", "T4-4C", "--compute-policy", "Best-Effort",
             "--priority=HIGH");
    assert_string_equal(body,
                        "{\"policy\":\"best-effort\",\"priority\":\"high\",\"profile\":\"T4-4C\"}");
    PARSE_BAD("--compute-policy: compute policy \"greedy\": not one of fixed, guaranteed or "
              "best-effort",
              &cli_verb_create, "--memory", "1GiB", "--compute-policy", "greedy");
    PARSE_BAD("--priority: priority \"top\": not one of high, normal or low", &cli_verb_create,
              "--memory", "1GiB", "--priority", "top");
    PARSE_BAD("--priority \"low\": already given as \"high\"", &cli_verb_create, "--memory", "1GiB",
              "--priority", "high", "--priority", "low");
}

static void test_parse_resize(void **state)
{
    (void)state;
    PARSE_OK(&cli_verb_resize, "train", "--memory", "2GiB");
    assert_string_equal(rq.method, "PATCH");
    assert_string_equal(rq.path, "/v1/instances/train");
    assert_string_equal(body, "{\"memory\":2147483648}");
    PARSE_OK(&cli_verb_resize, "--compute", "none", "train");
    assert_string_equal(body, "{\"compute\":0}");
    PARSE_OK(&cli_verb_resize, "train", "--compute", "50%", "--memory=1g");
    assert_string_equal(body, "{\"compute\":\"50%\",\"memory\":1073741824}");
    PARSE_OK(&cli_verb_resize, "train", "--compute-policy", "fixed");
    assert_string_equal(body, "{\"policy\":\"fixed\"}");
    PARSE_OK(&cli_verb_resize, "train", "--priority", "low", "--memory", "1GiB");
    assert_string_equal(body, "{\"memory\":1073741824,\"priority\":\"low\"}");
    PARSE_BAD("--compute-policy: compute policy \"x\"", &cli_verb_resize, "train",
              "--compute-policy", "x");
    PARSE_BAD("--priority: priority \"\"", &cli_verb_resize, "train", "--priority", "");
    PARSE_BAD("give --memory SIZE, --compute PCT, --compute-policy POLICY or --priority PRIORITY",
              &cli_verb_resize, "train");
    PARSE_BAD("missing instance ID", &cli_verb_resize, "--memory", "1GiB");
    PARSE_BAD("unexpected argument \"b\"", &cli_verb_resize, "a", "b", "--memory", "1GiB");
    PARSE_BAD("--memory", &cli_verb_resize, "a", "--memory", "none");
}

static void test_parse_tenant(void **state)
{
    (void)state;
    PARSE_OK(&cli_verb_tenant_add, "lab-a", "--user", "alice", "--user=1001", "--group", "lab",
             "--quota-memory", "8GiB", "--quota-compute", "100", "--quota-instances", "4");
    assert_string_equal(rq.method, "POST");
    assert_string_equal(rq.path, "/v1/tenants");
    assert_string_equal(body, "{\"groups\":[\"lab\"],\"name\":\"lab-a\",\"quota\":{\"compute\":"
                              "\"100%\",\"instances\":4,\"memory\":8589934592},\"users\":["
                              "\"alice\",\"1001\"]}");
    PARSE_OK(&cli_verb_tenant_add, "lab-b");
    assert_string_equal(body, "{\"name\":\"lab-b\"}");
    PARSE_BAD("tenant add: missing tenant NAME", &cli_verb_tenant_add, "--user", "a");
    PARSE_BAD("unexpected argument \"c\"", &cli_verb_tenant_add, "b", "c");
    PARSE_BAD("--quota-memory: ", &cli_verb_tenant_add, "b", "--quota-memory", "none");
    PARSE_BAD("--quota-instances \"x\": not a whole number", &cli_verb_tenant_add, "b",
              "--quota-instances", "x");
    PARSE_BAD("unknown option \"--no-users\"", &cli_verb_tenant_add, "b", "--no-users");

    PARSE_OK(&cli_verb_tenant_set, "lab-a", "--quota-memory", "none", "--quota-instances", "2",
             "--no-groups");
    assert_string_equal(rq.method, "PATCH");
    assert_string_equal(rq.path, "/v1/tenants/lab-a");
    assert_string_equal(body, "{\"groups\":[],\"quota\":{\"instances\":2,\"memory\":null}}");
    PARSE_OK(&cli_verb_tenant_set, "lab-a", "--user", "bob", "--quota-compute", "none");
    assert_string_equal(body, "{\"quota\":{\"compute\":null},\"users\":[\"bob\"]}");
    PARSE_BAD("nothing to change", &cli_verb_tenant_set, "lab-a");
    PARSE_BAD("--no-users with --user", &cli_verb_tenant_set, "lab-a", "--no-users", "--user",
              "x");
    PARSE_BAD("--no-users with --user", &cli_verb_tenant_set, "lab-a", "--user", "x",
              "--no-users");

    PARSE_OK(&cli_verb_tenant_list, "--json");
    assert_string_equal(rq.path, "/v1/tenants");
    PARSE_OK(&cli_verb_tenant_delete, "lab-a");
    assert_string_equal(rq.method, "DELETE");
    assert_string_equal(rq.path, "/v1/tenants/lab-a");
    PARSE_OK(&cli_verb_tenant_delete, "--force", "lab-a");
    assert_string_equal(rq.path, "/v1/tenants/lab-a?force=1");
    PARSE_BAD("missing tenant NAME", &cli_verb_tenant_delete, "--force");
    /* gpus set: a GPU by index or UUID; a time slice checked and written as core writes it;
     * "default" for the daemon's. */
    PARSE_OK(&cli_verb_gpus_set, "1", "--timeslice", "5ms");
    assert_string_equal(rq.method, "PATCH");
    assert_string_equal(rq.path, "/v1/gpus/1");
    assert_string_equal(body, "{\"timeslice\":\"5ms\"}");
    PARSE_OK(&cli_verb_gpus_set, "--timeslice=2500us", "0", "--mode", "whole", "--json");
    assert_string_equal(rq.path, "/v1/gpus/0");
    assert_string_equal(body, "{\"mode\":\"whole\",\"timeslice\":\"2.5ms\"}");
    assert_true(conn.json);
    PARSE_OK(&cli_verb_gpus_set, "gpu-AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee", "--timeslice",
             "default");
    assert_string_equal(rq.path, "/v1/gpus/GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
    assert_string_equal(body, "{\"timeslice\":null}");
    PARSE_BAD("--timeslice: time slice \"31ms\": out of range", &cli_verb_gpus_set, "0",
              "--timeslice", "31ms");
    PARSE_BAD("--timeslice: time slice \"fast\"", &cli_verb_gpus_set, "0", "--timeslice", "fast");
    PARSE_BAD("--timeslice: missing value", &cli_verb_gpus_set, "0", "--timeslice");
    PARSE_BAD("gpus set: nothing to change", &cli_verb_gpus_set, "0");
    PARSE_BAD("gpus set: missing GPU", &cli_verb_gpus_set, "--mode", "whole");
    PARSE_BAD("\"x1\" is not a GPU index or UUID", &cli_verb_gpus_set, "x1", "--mode", "whole");
    PARSE_BAD("\"-1\"", &cli_verb_gpus_set, "--mode", "whole", "-1");
    PARSE_BAD("unexpected argument \"2\"", &cli_verb_gpus_set, "1", "2", "--mode", "whole");
    PARSE_BAD("unknown option \"--speed\"", &cli_verb_gpus_set, "1", "--speed", "2");

    PARSE_OK(&cli_verb_tenant_token, "lab-a");
    assert_string_equal(rq.method, "POST");
    assert_string_equal(rq.path, "/v1/tenants/lab-a/token");
}

/* ------------------------------------------------------------------ rendering */

static void test_render_gpus(void **state)
{
    (void)state;
    assert_string_equal(
        render(&cli_verb_gpus, "gpus.json", NULL),
        "GPU  MODEL  NAME      UUID                                              MEMORY  COMPUTE"
        "  INSTANCES  MODE         TIMESLICE\n"
        "  0  T4     Tesla T4  GPU-11111111-2222-3333-4444-555555555555  4 GiB / 15 GiB      25%"
        "          1  sliced            10ms\n"
        "  1  T4     Tesla T4  GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee    0 B / 15 GiB       0%"
        "          0  passthrough      2.5ms\n");
    /* set: what changed, then the GPU as the daemon answers it. */
    const char *s = render(&cli_verb_gpus_set, "gpu.json", "0");
    contains(s, "Changed GPU 0.\n");
    contains(s, "INSTANCES  MODE    TIMESLICE\n");
    contains(s, "          1  sliced        5ms\n");
}

static void test_render_lists(void **state)
{
    (void)state;
    const char *p = render(&cli_verb_profiles, "profiles.json", NULL);
    contains(p, "NAME   MODEL  KIND        MEMORY  COMPUTE  POLICY       PRIORITY  MAX  ORIGIN\n");
    contains(p,
             "T4-1C  T4     timesliced   1 GiB    6.25%  guaranteed   normal     16  built-in\n");
    contains(p, "small  -      custom       2 GiB        -  best-effort  low         -  custom\n");

    assert_string_equal(
        render(&cli_verb_list, "instances.json", NULL),
        "ID            NAME   TENANT  GPU   MEMORY  COMPUTE  POLICY       PRIORITY  "
        "PROFILE  CREATED\n"
        "0123456789ab  train  lab-a     0    4 GiB      25%  guaranteed   normal    "
        "T4-4C    2025-01-02T03:04:05Z\n"
        "ba9876543210  -      lab-b     1  1.5 GiB        -  best-effort  low       "
        "-        2025-01-02T03:04:06Z\n");
    contains(render(&cli_verb_list, NULL, NULL), "No instances");

    const char *t = render(&cli_verb_tenant_list, "tenants.json", NULL);
    contains(t, "NAME   USERS       GROUPS         MEMORY     COMPUTE  INSTANCES\n");
    contains(t, "lab-a  alice,1001  lab     4 GiB / 8 GiB  25% / 100%      1 / 4\n");
    contains(t, "lab-b  -           -             0 B / -      0% / -      0 / -\n");
    contains(t, "used / quota");

    const char *e = render(&cli_verb_events, "events.json", NULL);
    contains(e, "SEQ  TIME                  ACTOR         ACTION           TARGET        DETAIL\n");
    contains(e, "  7  2025-01-02T03:04:05Z  admin         tenant.create    lab-a         -\n");
    contains(e, "instance.create  0123456789ab  {\"profile\":\"T4-4C\",\"gpu\":0}\n");
    contains(e, "Next: gpuvisor events --after 8\n");
    contains(render(&cli_verb_events, NULL, NULL), "No events.");
}

static void test_render_instance(void **state)
{
    (void)state;
    const char *s = render(&cli_verb_show, "instance.json", NULL);
    contains(s, "Instance 0123456789ab \"train\", tenant lab-a\n");
    contains(s, "  GPU:       0 (GPU-11111111-2222-3333-4444-555555555555)\n");
    contains(s, "  Memory:    1.5 GiB used of 4 GiB\n");
    contains(s, "  Compute:   25%; 23% of the GPU's time used over the last second\n");
    contains(s, "  Policy:    fixed, priority high\n");
    contains(s, "  GPU time:  12.3 s in all, 0.5 s waiting for a turn\n");
    contains(s, "  Refused:   2 allocations (slice full), 0 (GPU full)\n");
    contains(s, "  Join:      gpuvisor run --instance 0123456789ab -- CMD\n");
    contains(s, "   PID  USER    MEMORY  STATE\n");
    contains(s, "  4242  alice  1.5 GiB  alive\n");
    contains(s, "    77  1002       0 B  gone\n");

    const char *c = render(&cli_verb_create, "instance.json", NULL);
    contains(c, "Created instance 0123456789ab \"train\" for tenant lab-a on GPU 0 "
                "(GPU-11111111-2222-3333-4444-555555555555): 4 GiB, 25% (profile T4-4C); "
                "policy fixed, priority high.\n");
    contains(c, "Run a command in it with: gpuvisor run --instance 0123456789ab -- CMD\n");
    contains(render(&cli_verb_resize, "instance.json", "train"),
             "Instance train now has 4 GiB, 25%; policy fixed, priority high.\n");
    assert_string_equal(render(&cli_verb_delete, NULL, "train"), "Deleted instance train.\n");
    assert_string_equal(render(&cli_verb_tenant_delete, NULL, "lab-b"), "Deleted tenant lab-b.\n");

    /* The token on the last line, alone, and the warning that it is shown once. */
    const char *a = render(&cli_verb_tenant_add, "tenant_token.json", "lab-a");
    contains(a, "shown only this once");
    contains(a, "\ngvt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    contains(render(&cli_verb_tenant_token, "tenant_token.json", "lab-a"), "New token for tenant "
                                                                           "lab-a");
}

/* Whatever shape an answer has, a renderer prints something and never crashes: every verb gets
 * every document below (run under the sanitizers too). */
static void test_render_any_shape(void **state)
{
    (void)state;
    static const char *const docs[] = {
        "null",
        "[]",
        "{}",
        "{\"gpus\": 5, \"profiles\": \"x\", \"instances\": {}, \"tenants\": 1, \"events\": null}",
        "{\"gpus\": [1, \"x\", null, {}, []], \"profiles\": [1, {}], \"instances\": [[], 2],"
        " \"tenants\": [{}, 3], \"events\": [{}, \"e\"]}",
        "{\"id\": 5, \"name\": [], \"memory\": \"x\", \"compute\": -3, \"gpu\": 1e300,"
        " \"join\": 7, \"usage\": {\"members\": [1, {\"pid\": \"x\", \"alive\": 3}],"
        " \"gpu_time_recent\": -1e308, \"gpu_time_total_ns\": -5}}",
        "{\"memory\": -1, \"compute\": 1e300, \"usage\": [], \"token\": 5}",
        "{\"tenants\": [{\"users\": [1, null, \"\"], \"quota\": [], \"usage\": {\"memory\": 1.5}}]}",
        "{\"events\": [{\"seq\": \"1\", \"detail\": [[[[[]]]]]}], \"next\": {}}",
    };
    const struct cli_verb *const verbs[] = {
        &cli_verb_gpus,         &cli_verb_gpus_set,   &cli_verb_profiles,   &cli_verb_create,
        &cli_verb_list,
        &cli_verb_show,         &cli_verb_resize,     &cli_verb_delete,     &cli_verb_tenant_add,
        &cli_verb_tenant_list,  &cli_verb_tenant_set, &cli_verb_tenant_delete,
        &cli_verb_tenant_token, &cli_verb_events,
    };
    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        json_t *doc = json_loads(docs[d], JSON_DECODE_ANY, NULL);
        assert_non_null(doc);
        for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
            char *text = NULL;
            size_t len = 0;
            FILE *f = open_memstream(&text, &len);
            struct cli_request r = {.subject = "x"};
            verbs[v]->render(doc, &r, f);
            verbs[v]->render(NULL, &r, f);
            fclose(f);
            free(text);
        }
        json_decref(doc);
    }
}

/* ------------------------------------------------------------------ pieces */

static void test_table(void **state)
{
    (void)state;
    static const char *const head[] = {"A", "NUMBER", "LAST"};
    struct cli_table t;
    assert_int_equal(cli_table_init(&t, 3, head, "lrl"), 0);
    const char *r1[] = {"wide cell", "1", "x"}, *r2[] = {NULL, "12345678", NULL};
    assert_int_equal(cli_table_row(&t, r1), 0);
    assert_int_equal(cli_table_row(&t, r2), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(cli_table_row(&t, r1), 0);
    t.indent = "> ";
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cli_table_print(&t, f);
    fclose(f);
    assert_memory_equal(text,
                        "> A            NUMBER  LAST\n"
                        "> wide cell         1  x\n"
                        "> -          12345678  -\n",
                        strlen("> A            NUMBER  LAST\n> wide cell         1  x\n> -          "
                               "12345678  -\n"));
    free(text);
    cli_table_free(&t);
    assert_int_equal(cli_table_init(&t, 0, head, NULL), -EINVAL);
    assert_int_equal(cli_table_init(&t, CLI_TABLE_MAX_COLS + 1, head, NULL), -EINVAL);
}

static void test_fields(void **state)
{
    (void)state;
    json_t *o = json_pack("{sisfsisssnsfs[ss]}", "size", (json_int_t)1536 << 20, "share", 12.5,
                          "zero", 0, "str", "x", "null", "many", 250.0, "list", "alpha", "beta");
    char buf[64];
    assert_string_equal(cli_field_size(o, "size", buf, sizeof(buf)), "1.5 GiB");
    assert_string_equal(cli_field_size(o, "null", buf, sizeof(buf)), "-");
    assert_string_equal(cli_field_size(o, "str", buf, sizeof(buf)), "-");
    assert_string_equal(cli_field_share(o, "share", buf, sizeof(buf)), "12.5%");
    assert_string_equal(cli_field_share(o, "zero", buf, sizeof(buf)), "-");
    assert_string_equal(cli_field_percent(o, "zero", buf, sizeof(buf)), "0%");
    assert_string_equal(cli_field_share(o, "many", buf, sizeof(buf)), "250%");
    assert_string_equal(cli_field_share(o, "missing", buf, sizeof(buf)), "-");
    assert_string_equal(cli_field_str(o, "str"), "x");
    assert_string_equal(cli_field_str(o, "size"), "-");
    assert_string_equal(cli_field_int(o, "zero", buf, sizeof(buf)), "0");
    assert_string_equal(cli_field_list(o, "list", buf, sizeof(buf)), "alpha,beta");
    assert_string_equal(cli_field_list(o, "list", buf, 10), "alpha,...");
    assert_string_equal(cli_field_list(o, "null", buf, sizeof(buf)), "-");
    assert_string_equal(cli_field_json(json_object_get(o, "list"), buf, sizeof(buf)),
                        "[\"alpha\",\"beta\"]");
    assert_string_equal(cli_field_json(json_object_get(o, "list"), buf, 8), "[\"al...");
    assert_string_equal(cli_percent_text(23.0, buf, sizeof(buf)), "23%");
    assert_string_equal(cli_percent_text(-1, buf, sizeof(buf)), "-");
    json_decref(o);
}

static void test_target(void **state)
{
    (void)state;
    struct cli_target t;
    struct gv_error err = {0};
    struct cli_conn c = {0};
    char dir[] = "/tmp/gvcli-target.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sock[100], state_dir[200], tok[300];
    snprintf(sock, sizeof(sock), "%s/gpuvisord.sock", dir);
    snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
    snprintf(tok, sizeof(tok), "%s/admin.token", state_dir);
    unsetenv(CLI_ENV_URL);
    unsetenv(CLI_ENV_TOKEN);
    unsetenv(CLI_ENV_STATE);
    setenv("GPUVISOR_DAEMON", sock, 1);
    setenv("HOME", dir, 1);
    unsetenv("XDG_STATE_HOME");

    /* No socket: HTTP on the default port, guessed; the socket looked for is kept for messages. */
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_false(t.unix_socket);
    assert_true(t.guessed);
    assert_string_equal(t.url, CLI_DEFAULT_URL);
    assert_string_equal(t.socket, sock);

    /* The admin token file of --state, over HTTP only. */
    mkdir(state_dir, 0700);
    FILE *f = fopen(tok, "w");
    fputs("gvt_admin\n", f);
    fclose(f);
    c.state = state_dir;
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.token, "gvt_admin");
    assert_string_equal(t.token_from, tok);
    c.state = NULL;
    setenv(CLI_ENV_STATE, state_dir, 1);
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.token, "gvt_admin");
    setenv(CLI_ENV_TOKEN, "gvt_env", 1);
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.token, "gvt_env");
    c.token = "gvt_opt";
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.token, "gvt_opt");
    c.token = NULL;
    unsetenv(CLI_ENV_TOKEN);

    /* The socket exists: used, without the admin file's token (the daemon knows the user). */
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_true(t.unix_socket);
    assert_string_equal(t.socket, sock);
    assert_string_equal(t.token, "");
    c.token = "gvt_opt";
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.token, "gvt_opt");
    c.token = NULL;

    /* GPUVISOR_URL wins over the socket; --socket and --url over both. */
    setenv(CLI_ENV_URL, "http://10.0.0.1:7700/", 1);
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_false(t.unix_socket);
    assert_false(t.guessed);
    assert_string_equal(t.url, "http://10.0.0.1:7700");
    c.socket = "/elsewhere.sock";
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_true(t.unix_socket);
    assert_string_equal(t.socket, "/elsewhere.sock");
    c.url = "https://h";
    assert_int_equal(cli_target_resolve(&c, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "give one"));
    c.socket = NULL;
    assert_int_equal(cli_target_resolve(&c, &t, &err), 0);
    assert_string_equal(t.url, "https://h");
    c.url = "h:7700";
    assert_int_equal(cli_target_resolve(&c, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "--url \"h:7700\": not an http:// or https:// URL"));
    c.url = NULL;
    setenv(CLI_ENV_URL, "ftp://x", 1);
    assert_int_equal(cli_target_resolve(&c, &t, &err), -EINVAL);
    assert_non_null(strstr(err.msg, CLI_ENV_URL));
    unsetenv(CLI_ENV_URL);
    unsetenv(CLI_ENV_STATE);

    close(s);
    unlink(sock);
    unlink(tok);
    rmdir(state_dir);
    rmdir(dir);
}

static void test_unreachable(void **state)
{
    (void)state;
    /* Nothing listens: the message says where the CLI looked and how to start the daemon. */
    struct cli_target t = {.unix_socket = true};
    snprintf(t.socket, sizeof(t.socket), "/nonexistent/gpuvisord.sock");
    snprintf(t.url, sizeof(t.url), "http://localhost");
    struct cli_response r;
    struct gv_error err = {0};
    assert_int_equal(cli_call(&t, "GET", "/v1/gpus", NULL, 2000, &r, &err), -ECONNREFUSED);
    contains(err.msg, "cannot reach gpuvisord at the socket /nonexistent/gpuvisord.sock");
    contains(err.msg, "start it");
    t = (struct cli_target){.guessed = true};
    snprintf(t.socket, sizeof(t.socket), "/nonexistent/gpuvisord.sock");
    snprintf(t.url, sizeof(t.url), "http://127.0.0.1:1");
    assert_int_equal(cli_call(&t, "GET", "/v1/gpus", NULL, 2000, &r, &err), -ECONNREFUSED);
    contains(err.msg, "no socket at /nonexistent/gpuvisord.sock, and http://127.0.0.1:1");

    /* The daemon's own message, else the status. */
    r = (struct cli_response){.status = 409, .doc = json_pack("{ss}", "error", "no room")};
    char buf[64];
    assert_string_equal(cli_response_message(&r, buf, sizeof(buf)), "no room");
    json_decref(r.doc);
    r.doc = NULL;
    assert_string_equal(cli_response_message(&r, buf, sizeof(buf)), "gpuvisord answered HTTP 409");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_simple),  cmocka_unit_test(test_parse_create),
        cmocka_unit_test(test_parse_resize),  cmocka_unit_test(test_parse_tenant),
        cmocka_unit_test(test_render_gpus),   cmocka_unit_test(test_render_lists),
        cmocka_unit_test(test_render_instance), cmocka_unit_test(test_render_any_shape),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_fields),        cmocka_unit_test(test_target),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
