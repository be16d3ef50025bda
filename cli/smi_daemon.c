/* SPDX-License-Identifier: Apache-2.0 */
/* smi_daemon.c: the instances gpuvisord made, in `gpuvisor smi`.
 *
 * Those instances live in the daemon's own region files, which smi cannot list (they are the
 * daemon's, handed to members as descriptors), so smi asks the daemon: the list, then each
 * instance with its live usage, as `gpuvisor show` prints it. The daemon shows a caller what it
 * may see (a tenant its own instances, root all). smi works without a daemon, so a daemon that does
 * not answer is skipped without a word; one that answers with an error gets one line. */
#include <stdio.h>

#include "cli/rest.h"

#define SMI_TIMEOUT_MS 3000L

static const char *where(const struct cli_target *t)
{
    return t->unix_socket ? t->socket : t->url;
}

void cli_smi_daemon(bool json, bool after_blank, FILE *out)
{
    struct cli_conn conn = {0};
    struct cli_target t;
    struct cli_response r = {0};
    struct gv_error err = {0};
    if (cli_target_resolve(&conn, &t, &err) < 0 ||
        cli_call(&t, "GET", "/v1/instances", NULL, SMI_TIMEOUT_MS, &r, &err) < 0) {
        if (json)
            fprintf(out, ",\n  \"daemon\": null");
        return;
    }
    json_t *detail = json_array();
    if (r.status >= 400 || !detail) {
        char msg[512];
        cli_response_message(&r, msg, sizeof(msg));
        if (json) {
            json_t *d = json_pack("{ssss}", "address", where(&t), "error", msg);
            char *text = d ? json_dumps(d, JSON_PRESERVE_ORDER) : NULL;
            fprintf(out, ",\n  \"daemon\": %s", text ? text : "null");
            free(text);
            json_decref(d);
        } else {
            fprintf(out, "%sgpuvisord at %s: its instances are not shown: %s\n",
                    after_blank ? "" : "\n", where(&t), msg);
        }
        json_decref(r.doc);
        json_decref(detail);
        return;
    }
    /* Each instance again, with its usage; one gone meanwhile is left out, one that cannot be read
     * is shown as the list had it. */
    size_t i;
    json_t *in;
    json_array_foreach(json_object_get(r.doc, "instances"), i, in)
    {
        struct cli_request rq = {0};
        struct cli_response one = {0};
        const char *id = json_string_value(json_object_get(in, "id"));
        if (id && cli_path(&rq, NULL, "/v1/instances/%s", id) == 0 &&
            cli_call(&t, "GET", rq.path, NULL, SMI_TIMEOUT_MS, &one, NULL) == 0 &&
            json_is_object(one.doc) && one.status == 200)
            json_array_append(detail, one.doc);
        else if (one.status != 404)
            json_array_append(detail, in);
        json_decref(one.doc);
    }
    if (json) {
        json_t *d = json_pack("{sssO}", "address", where(&t), "instances", detail);
        char *text = d ? json_dumps(d, JSON_PRESERVE_ORDER | JSON_INDENT(2)) : NULL;
        fprintf(out, ",\n  \"daemon\": %s", text ? text : "null");
        free(text);
        json_decref(d);
    } else if (json_array_size(detail) == 0) {
        fprintf(out, "%sgpuvisord (%s) has no instances you may see.\n", after_blank ? "" : "\n",
                where(&t));
    } else {
        fprintf(out, "%sInstances of gpuvisord (%s):\n\n", after_blank ? "" : "\n", where(&t));
        json_array_foreach(detail, i, in)
        {
            cli_instance_detail(in, "", out);
            fputc('\n', out);
        }
    }
    json_decref(detail);
    json_decref(r.doc);
}
