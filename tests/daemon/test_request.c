/* SPDX-License-Identifier: Apache-2.0 */
/* test_request.c: gpuvisord's request parsers: each body's accepted forms, every kind of refusal
 * (malformed JSON, wrong types, numbers out of range, unknown and duplicate fields) with the field
 * named in the message, routes and their methods, and query parameters. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/size.h"
#include "daemon/request.h"

#define LEN(s) s, strlen(s)

/* A body is refused with code and a message containing needle. */
#define REFUSED(fn, out, body, code, needle)                                                       \
    do {                                                                                           \
        struct gv_error err_ = {0};                                                                \
        int rc_ = fn(LEN(body), out, &err_);                                                       \
        if (rc_ != (code))                                                                         \
            fail_msg("%s(%s) = %d, want %d (%s)", #fn, body, rc_, code, err_.msg);                 \
        if (!strstr(err_.msg, needle))                                                             \
            fail_msg("%s(%s): message lacks \"%s\": %s", #fn, body, needle, err_.msg);             \
    } while (0)

#define ACCEPTED(fn, out, body)                                                                    \
    do {                                                                                           \
        struct gv_error err_ = {0};                                                                \
        if (fn(LEN(body), out, &err_) != 0)                                                        \
            fail_msg("%s(%s) refused: %s", #fn, body, err_.msg);                                   \
    } while (0)

static void test_instance_create(void **state)
{
    (void)state;
    struct gvd_instance_create c;
    ACCEPTED(gvd_parse_instance_create, &c, "{\"profile\":\"T4-4C\"}");
    assert_string_equal(c.profile, "T4-4C");
    assert_false(c.has_memory);

    ACCEPTED(gvd_parse_instance_create, &c,
             "{\"memory\":\"4GiB\",\"compute\":12.5,\"gpu\":1,\"name\":\"a.b-c_d\","
             "\"tenant\":\"lab\"}");
    assert_int_equal(c.memory, 4 * GV_GiB);
    assert_int_equal(c.share, 1250);
    assert_true(c.has_gpu);
    assert_false(c.gpu_by_uuid);
    assert_int_equal(c.gpu_index, 1);
    assert_string_equal(c.name, "a.b-c_d");
    assert_string_equal(c.tenant, "lab");

    ACCEPTED(gvd_parse_instance_create, &c, "{\"memory\":1048576,\"compute\":\"25%\"}");
    assert_int_equal(c.memory, 1048576);
    assert_int_equal(c.share, 2500);
    ACCEPTED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":0}");
    assert_int_equal(c.share, 0);
    ACCEPTED(gvd_parse_instance_create, &c,
             "{\"memory\":1,\"gpu\":\"GPU-2fc008a7-bd1c-f414-022c-dd6227f73701\"}");
    assert_true(c.gpu_by_uuid);
    assert_int_equal(c.gpu_uuid[0], 0x2f);

    REFUSED(gvd_parse_instance_create, &c, "", -EINVAL, "empty body");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":", -EINVAL, "malformed JSON");
    REFUSED(gvd_parse_instance_create, &c, "[]", -EINVAL, "JSON object");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"memory\":2}", -EINVAL, "duplicate");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"colour\":1}", -EINVAL, "\"colour\"");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":true}", -EINVAL, "memory");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1.5}", -EINVAL, "memory");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":-5}", -ERANGE, "negative");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":0}", -ERANGE, "memory");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":123456789012345678901234567890}", -EINVAL,
            "malformed JSON");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":\"99999999TiB\"}", -ERANGE, "memory");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":100.5}", -ERANGE, "compute");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":1e300}", -ERANGE, "compute");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":-1}", -ERANGE, "compute");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":33.333}", -EINVAL,
            "two decimals");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"compute\":[25]}", -EINVAL, "compute");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"gpu\":64}", -ERANGE, "gpu");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"gpu\":\"GPU-x\"}", -EINVAL, "gpu");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"name\":\"a/b\"}", -EINVAL, "name");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"name\":\"..\"}", -EINVAL, "name");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"name\":\"abcdef012345\"}", -EINVAL,
            "instance id");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"name\":\"a\\u0000b\"}", -EINVAL,
            "malformed JSON");
    REFUSED(gvd_parse_instance_create, &c, "{\"profile\":\"T4-4C\",\"memory\":1}", -EINVAL,
            "not both");
    REFUSED(gvd_parse_instance_create, &c, "{\"compute\":5}", -EINVAL, "memory: missing");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"tenant\":7}", -EINVAL, "tenant");

    /* Compute policy and priority: absent says so (the profile's, or the defaults, apply). */
    ACCEPTED(gvd_parse_instance_create, &c, "{\"memory\":1}");
    assert_false(c.has_policy);
    assert_false(c.has_priority);
    ACCEPTED(gvd_parse_instance_create, &c,
             "{\"profile\":\"T4-4C\",\"policy\":\"Best-Effort\",\"priority\":\"high\"}");
    assert_true(c.has_policy && c.has_priority);
    assert_int_equal(c.policy, GV_POLICY_BEST_EFFORT);
    assert_int_equal(c.priority, GV_PRIORITY_HIGH);
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"policy\":\"greedy\"}", -EINVAL,
            "policy: compute policy \"greedy\": not one of fixed, guaranteed or best-effort");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"priority\":\"max\"}", -EINVAL,
            "priority: priority \"max\": not one of high, normal or low");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"policy\":2}", -EINVAL,
            "policy: expected a string (fixed, guaranteed or best-effort), got an integer");
    REFUSED(gvd_parse_instance_create, &c, "{\"memory\":1,\"priority\":null}", -EINVAL,
            "priority: expected a string (high, normal or low), got null");
}

static void test_instance_patch(void **state)
{
    (void)state;
    struct gvd_instance_patch p;
    ACCEPTED(gvd_parse_instance_patch, &p, "{\"memory\":\"2GiB\"}");
    assert_true(p.has_memory);
    assert_false(p.has_compute);
    assert_int_equal(p.memory, 2 * GV_GiB);
    ACCEPTED(gvd_parse_instance_patch, &p, "{\"compute\":\"0\"}");
    assert_true(p.has_compute);
    assert_int_equal(p.share, 0);
    REFUSED(gvd_parse_instance_patch, &p, "{}", -EINVAL, "nothing to change");
    REFUSED(gvd_parse_instance_patch, &p, "{\"profile\":\"x\"}", -EINVAL, "\"profile\"");
    REFUSED(gvd_parse_instance_patch, &p, "{\"memory\":null}", -EINVAL, "memory");

    ACCEPTED(gvd_parse_instance_patch, &p, "{\"priority\":\"low\"}");
    assert_false(p.has_memory || p.has_compute || p.has_policy);
    assert_true(p.has_priority);
    assert_int_equal(p.priority, GV_PRIORITY_LOW);
    ACCEPTED(gvd_parse_instance_patch, &p, "{\"policy\":\"fixed\",\"memory\":1}");
    assert_true(p.has_policy && p.has_memory);
    assert_int_equal(p.policy, GV_POLICY_FIXED);
    REFUSED(gvd_parse_instance_patch, &p, "{\"policy\":\"\"}", -EINVAL, "policy: ");
    REFUSED(gvd_parse_instance_patch, &p, "{\"priority\":[\"high\"]}", -EINVAL, "priority: ");
    REFUSED(gvd_parse_instance_patch, &p, "{}", -EINVAL, "memory, compute, policy or priority");
}

static void test_tenant(void **state)
{
    (void)state;
    struct gvd_tenant_create *c = malloc(sizeof(*c));
    struct gvd_tenant_patch *p = malloc(sizeof(*p));
    assert_non_null(c);
    assert_non_null(p);
    ACCEPTED(gvd_parse_tenant_create, c,
             "{\"name\":\"lab-a\",\"users\":[\"alice\",\"1001\"],\"groups\":[\"lab\"],"
             "\"quota\":{\"memory\":\"8GiB\",\"compute\":150,\"instances\":4}}");
    assert_string_equal(c->name, "lab-a");
    assert_int_equal(c->users.n, 2);
    assert_string_equal(c->users.name[1], "1001");
    assert_int_equal(c->groups.n, 1);
    assert_true(c->quota.memory.set && !c->quota.memory.null);
    assert_int_equal(c->quota.memory.value, 8 * GV_GiB);
    assert_int_equal(c->quota.compute.value, 15000);
    assert_int_equal(c->quota.instances.value, 4);
    ACCEPTED(gvd_parse_tenant_create, c, "{\"name\":\"b\",\"quota\":null}");
    assert_false(c->users.set);
    assert_false(c->quota.memory.set);
    REFUSED(gvd_parse_tenant_create, c, "{\"users\":[]}", -EINVAL, "name: missing");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"users\":\"alice\"}", -EINVAL, "users");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"users\":[1001]}", -EINVAL, "users[0]");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"users\":[\"a\",\"a\"]}", -EINVAL,
            "twice");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"groups\":[\"-x\"]}", -EINVAL,
            "groups[0]");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"quota\":{\"gpus\":1}}", -EINVAL,
            "\"gpus\"");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"quota\":{\"instances\":1.5}}", -EINVAL,
            "quota.instances");
    REFUSED(gvd_parse_tenant_create, c, "{\"name\":\"a\",\"quota\":{\"compute\":6401}}", -ERANGE,
            "quota.compute");

    ACCEPTED(gvd_parse_tenant_patch, p, "{\"quota\":{\"memory\":null,\"instances\":2}}");
    assert_true(p->quota.memory.set && p->quota.memory.null);
    assert_true(p->quota.instances.set && !p->quota.instances.null);
    assert_false(p->quota.compute.set);
    assert_false(p->users.set);
    ACCEPTED(gvd_parse_tenant_patch, p, "{\"users\":[]}");
    assert_true(p->users.set);
    assert_int_equal(p->users.n, 0);
    REFUSED(gvd_parse_tenant_patch, p, "{}", -EINVAL, "nothing to change");
    REFUSED(gvd_parse_tenant_patch, p, "{\"name\":\"x\"}", -EINVAL, "\"name\"");
    REFUSED(gvd_parse_tenant_patch, p, "{\"quota\":null}", -EINVAL, "quota");
    free(c);
    free(p);
}

static void test_profile_gpu(void **state)
{
    (void)state;
    struct gvd_profile_create p;
    ACCEPTED(gvd_parse_profile_create, &p,
             "{\"name\":\"small\",\"memory\":\"2GiB\",\"compute\":25}");
    assert_string_equal(p.name, "small");
    assert_int_equal(p.memory, 2 * GV_GiB);
    assert_int_equal(p.share, 2500);
    assert_int_equal(p.policy, GV_POLICY_GUARANTEED);
    assert_int_equal(p.priority, GV_PRIORITY_NORMAL);
    REFUSED(gvd_parse_profile_create, &p, "{\"name\":\"x\"}", -EINVAL, "memory: missing");
    REFUSED(gvd_parse_profile_create, &p, "{\"memory\":1}", -EINVAL, "name: missing");
    ACCEPTED(gvd_parse_profile_create, &p,
             "{\"name\":\"b\",\"memory\":1,\"policy\":\"fixed\",\"priority\":\"low\"}");
    assert_int_equal(p.policy, GV_POLICY_FIXED);
    assert_int_equal(p.priority, GV_PRIORITY_LOW);
    REFUSED(gvd_parse_profile_create, &p, "{\"name\":\"b\",\"memory\":1,\"policy\":\"x\"}", -EINVAL,
            "policy: compute policy \"x\"");
    REFUSED(gvd_parse_profile_create, &p, "{\"name\":\"b\",\"memory\":1,\"priority\":\"x\"}",
            -EINVAL, "priority: priority \"x\"");

    struct gvd_gpu_patch g;
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"mode\":\"passthrough\"}");
    assert_int_equal(g.mode, GVD_MODE_PASSTHROUGH);
    REFUSED(gvd_parse_gpu_patch, &g, "{\"mode\":\"shared\"}", -EINVAL, "mode");
    REFUSED(gvd_parse_gpu_patch, &g, "{}", -EINVAL, "nothing to change");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"mode\":\"whole\",\"speed\":1}", -EINVAL,
            "known: mode, timeslice");

    /* The time slice: text as core reads it, or null for the daemon's; the refusals quote the
     * value sent. */
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"5ms\"}");
    assert_false(g.has_mode);
    assert_true(g.timeslice.set && !g.timeslice.null);
    assert_int_equal(g.timeslice.value, 5000000);
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"2.5ms\",\"mode\":\"sliced\"}");
    assert_true(g.has_mode);
    assert_int_equal(g.mode, GVD_MODE_SLICED);
    assert_int_equal(g.timeslice.value, 2500000);
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"30ms\"}");
    assert_int_equal(g.timeslice.value, 30000000);
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"1000us\"}");
    assert_int_equal(g.timeslice.value, 1000000);
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"timeslice\":null}");
    assert_true(g.timeslice.set && g.timeslice.null);
    ACCEPTED(gvd_parse_gpu_patch, &g, "{\"mode\":\"whole\"}");
    assert_false(g.timeslice.set);
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"0.5ms\"}", -ERANGE, "\"0.5ms\"");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"31ms\"}", -ERANGE, "\"31ms\"");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"fast\"}", -EINVAL, "\"fast\"");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":5}", -EINVAL, "timeslice: 5 is an integer");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":[\"5ms\"]}", -EINVAL, "[\"5ms\"]");
    REFUSED(gvd_parse_gpu_patch, &g, "{\"timeslice\":\"1.0001ms\"}", -EINVAL, "microseconds");
    /* A bad time slice leaves a good mode beside it unapplied: nothing is half-set. */
    g.has_mode = false;
    REFUSED(gvd_parse_gpu_patch, &g, "{\"mode\":\"whole\",\"timeslice\":\"40ms\"}", -ERANGE,
            "timeslice");
    assert_false(g.has_mode);
}

static void test_paths(void **state)
{
    (void)state;
    struct gvd_path p;
    assert_int_equal(gvd_path_parse("/v1/instances", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_INSTANCES);
    assert_int_equal(gvd_path_parse("/v1/instances/abc", GVD_DELETE, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_INSTANCE);
    assert_string_equal(p.param, "abc");
    assert_int_equal(gvd_path_parse("/v1/tenants/lab/token", GVD_POST, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_TENANT_TOKEN);
    assert_string_equal(p.param, "lab");
    assert_int_equal(gvd_path_parse("/v1/gpus/3", GVD_PATCH, &p, NULL), 0);
    assert_int_equal(gvd_path_parse("/healthz", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HEALTHZ);
    assert_int_equal(gvd_path_parse("/v1/stream", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_STREAM);
    /* The page: "/" is its index; one lowercase segment is a file it may have (page.c says). */
    assert_int_equal(gvd_path_parse("/", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_PAGE);
    assert_string_equal(p.param, "index.html");
    assert_int_equal(gvd_path_parse("/app.js", GVD_POST, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_PAGE);
    assert_string_equal(p.param, "app.js");
    assert_int_equal(gvd_path_parse("/App.js", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/.env", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/a%2fb", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/app.js/", GVD_GET, &p, NULL), -ENOENT);

    struct gv_error err = {0};
    assert_int_equal(gvd_path_parse("/v1/gpus", GVD_DELETE, &p, &err), -EOPNOTSUPP);
    assert_int_equal(p.route, GVD_R_GPUS);
    assert_non_null(strstr(err.msg, "GET"));
    assert_int_equal(gvd_path_parse("/v1/instances/", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/v1/nothing", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/v1/instances/a/b", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("", GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_path_parse("/v1/instances/..", GVD_GET, &p, NULL), -EINVAL);
    assert_int_equal(gvd_path_parse("/v1/instances/a b", GVD_GET, &p, NULL), -EINVAL);
    assert_int_equal(gvd_path_parse("/v1/gpus/64", GVD_GET, &p, NULL), -EINVAL);
    assert_int_equal(gvd_path_parse("/v1/gpus/007", GVD_GET, &p, NULL), -EINVAL);
    char longpath[200];
    snprintf(longpath, sizeof(longpath), "/v1/instances/%0100d", 0);
    assert_int_equal(gvd_path_parse(longpath, GVD_GET, &p, NULL), -ENOENT);
    assert_int_equal(gvd_method_parse("PUT"), GVD_METHOD_OTHER);
    assert_int_equal(gvd_path_parse("/v1/instances", GVD_METHOD_OTHER, &p, NULL), -EOPNOTSUPP);
}

static void test_query(void **state)
{
    (void)state;
    struct gvd_query q;
    gvd_query_init(&q);
    assert_int_equal(q.limit, GVD_PAGE_DEFAULT);
    assert_int_equal(gvd_query_add(&q, "after", "42", NULL), 0);
    assert_true(q.has_after);
    assert_int_equal(q.after, 42);
    assert_int_equal(gvd_query_add(&q, "limit", "1000", NULL), 0);
    assert_int_equal(q.limit, 1000);
    assert_int_equal(gvd_query_add(&q, "tenant", "lab-a", NULL), 0);
    assert_int_equal(gvd_query_add(&q, "force", "1", NULL), 0);
    assert_true(q.force);
    assert_int_equal(gvd_query_add(&q, "force", "0", NULL), 0);
    assert_false(q.force);
    struct gv_error err = {0};
    assert_int_equal(gvd_query_add(&q, "limit", "1001", &err), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "limit", "0", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "after", "-1", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "after", "99999999999999999999", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "tenant", "a/b", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "sort", "x", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "sort"));
}

/* The host's routes take PCI addresses and mdev UUIDs, written out in their canonical form. */
static void test_host_paths(void **state)
{
    (void)state;
    struct gvd_path p;
    struct gv_error err = {0};
    assert_int_equal(gvd_path_parse("/v1/host/gpus", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_GPUS);
    assert_int_equal(gvd_path_parse("/v1/host/gpus/41:00.0/types", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_TYPES);
    assert_string_equal(p.param, "0000:41:00.0");
    assert_int_equal(gvd_path_parse("/v1/host/passthrough", GVD_POST, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_PASSTHROUGHS);
    assert_int_equal(gvd_path_parse("/v1/host/passthrough/0000:4A:00.0", GVD_DELETE, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_PASSTHROUGH);
    assert_string_equal(p.param, "0000:4a:00.0");
    assert_int_equal(
        gvd_path_parse("/v1/host/vgpus/C2177883-F1BB-47F0-914D-32A22E3A8804", GVD_DELETE, &p, NULL),
        0);
    assert_int_equal(p.route, GVD_R_HOST_VGPU);
    assert_string_equal(p.param, "c2177883-f1bb-47f0-914d-32a22e3a8804");
    assert_int_equal(gvd_path_parse("/v1/host/vgpus/0000:41:00.4", GVD_DELETE, &p, NULL), 0);
    assert_int_equal(gvd_path_parse("/v1/host/xml/0000:41:00.0", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_XML);
    assert_int_equal(gvd_path_parse("/v1/host/apply", GVD_POST, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_HOST_APPLY);

    assert_int_equal(gvd_path_parse("/v1/host/apply", GVD_GET, &p, NULL), -EOPNOTSUPP);
    assert_int_equal(gvd_path_parse("/v1/host/passthrough/zz:00.0", GVD_DELETE, &p, &err), -EINVAL);
    assert_int_equal(gvd_path_parse("/v1/host/gpus/c2177883-f1bb-47f0-914d-32a22e3a8804/types",
                                    GVD_GET, &p, NULL),
                     -EINVAL);
    assert_int_equal(gvd_path_parse("/v1/host/xml/..", GVD_GET, &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "UUID"));
    assert_int_equal(gvd_path_parse("/v1/host/gpus/41:00.0/types/x", GVD_GET, &p, NULL), -ENOENT);

    struct gvd_query q;
    gvd_query_init(&q);
    assert_int_equal(gvd_query_add(&q, "dry_run", "1", NULL), 0);
    assert_true(q.dry_run);
    assert_int_equal(gvd_query_add(&q, "dry_run", "maybe", &err), -EINVAL);
    assert_true(gvd_route_dry_run(GVD_R_HOST_PASSTHROUGHS, GVD_POST));
    assert_true(gvd_route_dry_run(GVD_R_HOST_VGPU, GVD_DELETE));
    assert_false(gvd_route_dry_run(GVD_R_HOST_VGPUS, GVD_GET));
    assert_false(gvd_route_dry_run(GVD_R_INSTANCES, GVD_POST));
    assert_non_null(strstr(err.msg, "dry_run"));

    /* The history routes, and since. */
    assert_int_equal(gvd_path_parse("/v1/instances/abc/history", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_INSTANCE_HISTORY);
    assert_string_equal(p.param, "abc");
    assert_int_equal(gvd_path_parse("/v1/gpus/1/history", GVD_GET, &p, NULL), 0);
    assert_int_equal(p.route, GVD_R_GPU_HISTORY);
    assert_string_equal(p.param, "1");
    assert_int_equal(gvd_path_parse("/v1/gpus/1/history", GVD_DELETE, &p, NULL), -EOPNOTSUPP);
    assert_string_equal(gvd_route_allow(GVD_R_GPU_HISTORY), "GET");
    assert_string_equal(gvd_route_pattern(GVD_R_INSTANCE_HISTORY), "/v1/instances/{id}/history");
    assert_int_equal(gvd_path_parse("/v1/gpus/x/history", GVD_GET, &p, NULL), -EINVAL);
    gvd_query_init(&q);
    assert_false(q.has_since);
    assert_int_equal(gvd_query_add(&q, "since", "1700000000", NULL), 0);
    assert_true(q.has_since);
    assert_int_equal(q.since, 1700000000);
    assert_int_equal(gvd_query_add(&q, "since", "-5", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "since=\"-5\""));
    assert_int_equal(gvd_query_add(&q, "since", "", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "since", NULL, NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "since", "99999999999999999999", NULL), -EINVAL);
    assert_int_equal(gvd_query_add(&q, "sinse", "1", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "since"));
}

static void test_host_bodies(void **state)
{
    (void)state;
    struct gvd_host_passthrough_req p;
    ACCEPTED(gvd_parse_host_passthrough, &p, "{\"pci\":\"41:00.0\"}");
    assert_string_equal(p.pci, "0000:41:00.0");
    REFUSED(gvd_parse_host_passthrough, &p, "{}", -EINVAL, "pci: missing");
    REFUSED(gvd_parse_host_passthrough, &p, "{\"pci\":\"41:00\"}", -EINVAL, "pci");
    REFUSED(gvd_parse_host_passthrough, &p, "{\"pci\":41}", -EINVAL, "pci: expected a string");
    REFUSED(gvd_parse_host_passthrough, &p, "{\"pci\":\"41:00.0\",\"x\":1}", -EINVAL, "\"x\"");
    REFUSED(gvd_parse_host_passthrough, &p, "{\"pci\":\"41:00.0\\u0000\"}", -EINVAL, "NUL");
    REFUSED(gvd_parse_host_passthrough, &p, "not json", -EINVAL, "malformed JSON");

    struct gvd_host_vgpu_req v;
    ACCEPTED(gvd_parse_host_vgpu, &v, "{\"parent\":\"0000:41:00.0\",\"type\":\"GRID T4-1Q\"}");
    assert_string_equal(v.parent, "0000:41:00.0");
    assert_string_equal(v.type, "GRID T4-1Q");
    assert_string_equal(v.uuid, "");
    ACCEPTED(gvd_parse_host_vgpu, &v,
             "{\"parent\":\"41:00.0\",\"type\":\"nvidia-222\","
             "\"uuid\":\"C2177883-F1BB-47F0-914D-32A22E3A8804\"}");
    assert_string_equal(v.uuid, "c2177883-f1bb-47f0-914d-32a22e3a8804");
    ACCEPTED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"1414\",\"uuid\":null}");
    assert_string_equal(v.uuid, "");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"type\":\"x\"}", -EINVAL, "parent: missing");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\"}", -EINVAL, "type: missing");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"../x\"}", -EINVAL, "type");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"..\"}", -EINVAL, "type");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"\"}", -EINVAL, "type");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"a\",\"uuid\":\"nope\"}",
            -EINVAL, "uuid");
    REFUSED(gvd_parse_host_vgpu, &v, "{\"parent\":\"41:00.0\",\"type\":\"a\",\"count\":2}", -EINVAL,
            "\"count\"");

    struct gv_error err = {0};
    assert_int_equal(gvd_parse_host_apply("", 0, &err), 0);
    assert_int_equal(gvd_parse_host_apply(LEN("{}"), &err), 0);
    assert_int_equal(gvd_parse_host_apply(LEN("{\"all\":true}"), &err), -EINVAL);
    assert_int_equal(gvd_parse_host_apply(LEN("[1]"), &err), -EINVAL);
}

static void test_remote_verify(void **state)
{
    (void)state;
    struct gvd_remote_verify v;
    struct gv_error err = {0};
    const char *proof = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
    char body[512];
    snprintf(body, sizeof(body),
             "{\"instance\":\"job1\",\"client_message\":\"0a0B\",\"server_message\":\"\","
             "\"proof\":\"%s\"}",
             proof);
    assert_int_equal(gvd_parse_remote_verify(body, strlen(body), &v, &err), 0);
    assert_string_equal(v.instance, "job1");
    assert_int_equal(v.client_len, 2);
    assert_int_equal(v.client_message[0], 0x0a);
    assert_int_equal(v.client_message[1], 0x0b);
    assert_int_equal(v.server_len, 0);
    assert_int_equal(v.proof[31], 0xff);

    REFUSED(gvd_parse_remote_verify, &v,
            "{\"instance\":\"a\",\"client_message\":\"0\",\"server_message\":\"\","
            "\"proof\":\"00\"}",
            -EINVAL, "even number");
    REFUSED(gvd_parse_remote_verify, &v,
            "{\"instance\":\"a\",\"client_message\":\"zz\",\"server_message\":\"\","
            "\"proof\":\"00\"}",
            -EINVAL, "not a hex digit");
    REFUSED(gvd_parse_remote_verify, &v,
            "{\"instance\":\"a\",\"client_message\":\"\",\"server_message\":\"\","
            "\"proof\":\"00\"}",
            -EINVAL, "64 hex digits");
    REFUSED(gvd_parse_remote_verify, &v, "{\"instance\":\"a\"}", -EINVAL, "all needed");
    REFUSED(gvd_parse_remote_verify, &v, "{\"instance\":7}", -EINVAL, "instance");
    REFUSED(gvd_parse_remote_verify, &v, "{\"who\":\"a\"}", -EINVAL, "unknown field");
    REFUSED(gvd_parse_remote_verify, &v, "[]", -EINVAL, "JSON object");
    /* A message longer than 256 bytes. */
    char longer[1200];
    int n = snprintf(longer, sizeof(longer), "{\"instance\":\"a\",\"client_message\":\"");
    for (int i = 0; i < 514; i++)
        longer[n++] = 'a';
    snprintf(longer + n, sizeof(longer) - (size_t)n, "\",\"server_message\":\"\",\"proof\":\"%s\"}",
             proof);
    assert_int_equal(gvd_parse_remote_verify(longer, strlen(longer), &v, &err), -EINVAL);
}

static void test_names(void **state)
{
    (void)state;
    assert_true(gvd_is_id("0123456789ab"));
    assert_false(gvd_is_id("0123456789AB"));
    assert_false(gvd_is_id("0123456789a"));
    assert_int_equal(gvd_principal_check("alice", "u", NULL), 0);
    assert_int_equal(gvd_principal_check("machine$", "u", NULL), 0);
    assert_int_equal(gvd_principal_check("0", "u", NULL), 0);
    assert_int_equal(gvd_principal_check("4294967294", "u", NULL), 0);
    assert_int_equal(gvd_principal_check("4294967295", "u", NULL), -ERANGE);
    assert_int_equal(gvd_principal_check("", "u", NULL), -EINVAL);
    assert_int_equal(gvd_principal_check("a$b", "u", NULL), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_create), cmocka_unit_test(test_instance_patch),
        cmocka_unit_test(test_tenant),          cmocka_unit_test(test_profile_gpu),
        cmocka_unit_test(test_paths),           cmocka_unit_test(test_query),
        cmocka_unit_test(test_names),           cmocka_unit_test(test_host_paths),
        cmocka_unit_test(test_host_bodies),     cmocka_unit_test(test_remote_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
