/* SPDX-License-Identifier: Apache-2.0 */
/* host_daemon.c: `gpuvisor host` through gpuvisord's /v1/host routes (docs/api.md).
 *
 * Where gpuvisord runs it owns the host's definitions and places its slices around the GPUs given
 * to VMs, so a change made behind its back would leave its books wrong; the commands therefore go
 * to it, one request each, and its answers are the same JSON forms the local commands build. A
 * dry run is the same request with ?dry_run=1: the daemon answers with the writes it would make. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/host_cli.h"

/* Passthrough waits for each function to bind, apply for every definition: more than a query. */
#define HOST_TIMEOUT_MS 120000L

static int request(const struct host_args *a, struct cli_request *rq, struct gv_error *err)
{
    int rc = 0;
    const char *q = a->dry_run ? "?dry_run=1" : "";
    switch (a->cmd) {
    case HOST_LIST:
        rq->method = "GET";
        rc = cli_path(rq, err, "/v1/host/gpus");
        break;
    case HOST_TYPES:
        rq->method = "GET";
        rq->subject = a->bdf;
        rc = cli_path(rq, err, "/v1/host/gpus/%s/types", a->bdf);
        break;
    case HOST_PASSTHROUGH:
        rq->method = "POST";
        rq->subject = a->bdf;
        rq->body = json_object();
        rc = rq->body ? cli_body_string(rq->body, "pci", a->bdf, err)
                      : gv_error_set(err, -ENOMEM, "out of memory");
        if (rc == 0)
            rc = cli_path(rq, err, "/v1/host/passthrough");
        break;
    case HOST_RELEASE:
        rq->method = "DELETE";
        rq->subject = a->bdf;
        rc = cli_path(rq, err, "/v1/host/passthrough/%s", a->bdf);
        break;
    case HOST_CREATE:
        rq->method = "POST";
        rq->subject = a->bdf;
        rq->body = json_object();
        rc = rq->body ? cli_body_string(rq->body, "parent", a->bdf, err)
                      : gv_error_set(err, -ENOMEM, "out of memory");
        if (rc == 0)
            rc = cli_body_string(rq->body, "type", a->type, err);
        if (rc == 0 && a->uuid[0])
            rc = cli_body_string(rq->body, "uuid", a->uuid, err);
        if (rc == 0)
            rc = cli_path(rq, err, "/v1/host/vgpus");
        break;
    case HOST_REMOVE:
        rq->method = "DELETE";
        rq->subject = a->id;
        rc = cli_path(rq, err, "/v1/host/vgpus/%s", a->id);
        break;
    case HOST_XML:
        rq->method = "GET";
        rq->subject = a->id;
        rc = cli_path(rq, err, "/v1/host/xml/%s", a->id);
        break;
    case HOST_APPLY:
        rq->method = "POST";
        rc = cli_path(rq, err, "/v1/host/apply");
        break;
    }
    size_t n = strlen(rq->path);
    if (rc == 0 && *q) {
        if (n + strlen(q) >= sizeof(rq->path))
            return gv_error_set(err, -ENAMETOOLONG, "host %s: an argument is too long", a->name);
        memcpy(rq->path + n, q, strlen(q) + 1);
    }
    return rc;
}

int host_daemon(const struct host_args *a, json_t **doc, struct gv_error *err)
{
    *doc = NULL;
    struct cli_request rq;
    struct cli_target t;
    memset(&rq, 0, sizeof(rq));
    if (request(a, &rq, err) < 0 || cli_target_resolve(&a->conn, &t, err) < 0) {
        json_decref(rq.body);
        return CLI_EXIT_USAGE;
    }
    struct cli_response r = {0};
    int rc = cli_call(&t, rq.method, rq.path, rq.body, HOST_TIMEOUT_MS, &r, err);
    json_decref(rq.body);
    if (rc < 0)
        return CLI_EXIT_INTERNAL;
    if (r.status >= 400) {
        char msg[sizeof(err->msg)];
        cli_response_message(&r, msg, sizeof(msg));
        gv_error_set(err, -EPERM, "%s", msg);
        /* apply answers its report with the failure: the records that did hold are in it. */
        if (a->cmd == HOST_APPLY && json_object_get(r.doc, "report"))
            *doc = r.doc;
        else
            json_decref(r.doc);
        if (r.status == 401 && !t.token[0] && !t.unix_socket)
            gv_error_set(err, -EPERM,
                         "%s; no token was sent: pass --token, set " CLI_ENV_TOKEN
                         ", or run as a user who can read the admin token (--state DIR)",
                         msg);
        /* 400 is bad input, a usage error as it is when the command runs here. */
        return r.status == 400 ? CLI_EXIT_USAGE : CLI_EXIT_REFUSED;
    }
    *doc = r.doc;
    json_t *failed = json_object_get(r.doc, "failed");
    if (a->cmd == HOST_APPLY && json_integer_value(failed) > 0) {
        gv_error_set(err, -EIO, "apply: %lld definitions failed (see above)",
                     (long long)json_integer_value(failed));
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_OK;
}
