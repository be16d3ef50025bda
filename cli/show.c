/* SPDX-License-Identifier: Apache-2.0 */
/* show.c: `gpuvisor show ID`, one instance in full: its limits, where it runs, what it uses now
 * (read by the daemon from the instance's region) and its member processes.
 *
 * The detail is written once here and used by `gpuvisor smi` for the daemon's instances too. */
#include <stdio.h>

#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor show ID [OPTIONS]\n"
    "\n"
    "Show instance ID (its id, or its name within your tenant): GPU, profile, limits, compute\n"
    "policy and priority, memory used, the share of the GPU's time used over the last second,\n"
    "refused allocations, the processes that joined it, and how to join it.\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *id = NULL;
    int rc = cli_parse_args(argc, argv, conn, &id, 1, "instance ID", err);
    if (rc < 0)
        return rc;
    rq->method = "GET";
    rq->subject = id;
    return cli_path(rq, err, "/v1/instances/%s", id);
}

static const char *seconds(const json_t *ns, char *buf, size_t len)
{
    if (!json_is_integer(ns))
        return snprintf(buf, len, "-"), buf;
    snprintf(buf, len, "%.1f s", (double)json_integer_value(ns) / 1e9);
    return buf;
}

void cli_instance_detail(const json_t *in, const char *indent, FILE *out)
{
    const json_t *usage_v = json_object_get(in, "usage");
    char a[64], b[64], c[64];
    const char *name = cli_field_str(in, "name");
    fprintf(out, "%sInstance %s", indent, cli_field_str(in, "id"));
    if (name[0] != '-')
        fprintf(out, " \"%s\"", name);
    fprintf(out, ", tenant %s\n", cli_field_str(in, "tenant"));
    fprintf(out, "%s  GPU:       %s (%s)\n", indent, cli_field_int(in, "gpu", a, sizeof(a)),
            cli_field_str(in, "uuid"));
    fprintf(out, "%s  Profile:   %s\n", indent, cli_field_str(in, "profile"));
    if (usage_v)
        fprintf(out, "%s  Memory:    %s used of %s\n", indent,
                cli_field_size(usage_v, "memory_used", a, sizeof(a)),
                cli_field_size(in, "memory", b, sizeof(b)));
    else
        fprintf(out, "%s  Memory:    %s\n", indent, cli_field_size(in, "memory", a, sizeof(a)));
    const json_t *share = json_object_get(in, "compute");
    bool limited = json_is_number(share) && json_number_value(share) > 0;
    fprintf(out, "%s  Compute:   %s", indent,
            limited ? cli_field_share(in, "compute", a, sizeof(a)) : "no limit");
    const json_t *recent = json_object_get(usage_v, "gpu_time_recent");
    if (json_is_number(recent))
        fprintf(out, "; %s of the GPU's time used over the last second",
                cli_percent_text(json_number_value(recent) * 100.0, b, sizeof(b)));
    fputc('\n', out);
    if (json_is_string(json_object_get(in, "policy")))
        fprintf(out, "%s  Policy:    %s, priority %s\n", indent, cli_field_str(in, "policy"),
                cli_field_str(in, "priority"));
    if (usage_v) {
        fprintf(out, "%s  GPU time:  %s in all, %s waiting for a turn\n", indent,
                seconds(json_object_get(usage_v, "gpu_time_total_ns"), a, sizeof(a)),
                seconds(json_object_get(usage_v, "wait_total_ns"), b, sizeof(b)));
        const json_t *refused = json_object_get(usage_v, "refused");
        fprintf(out, "%s  Refused:   %s allocation%s (slice full), %s (GPU full)\n", indent,
                cli_field_int(usage_v, "refused", a, sizeof(a)),
                json_is_integer(refused) && json_integer_value(refused) == 1 ? "" : "s",
                cli_field_int(usage_v, "driver_oom", b, sizeof(b)));
    }
    fprintf(out, "%s  Created:   %s\n", indent, cli_field_str(in, "created"));
    const json_t *join = json_object_get(json_object_get(in, "join"), "command");
    if (json_is_string(join))
        fprintf(out, "%s  Join:      %s\n", indent, json_string_value(join));

    const json_t *members = json_object_get(usage_v, "members");
    if (!json_is_array(members))
        return;
    if (json_array_size(members) == 0) {
        fprintf(out, "%s  No processes have joined it.\n", indent);
        return;
    }
    static const char *const head[] = {"PID", "USER", "MEMORY", "STATE"};
    struct cli_table t;
    cli_table_init(&t, 4, head, "rlrl");
    size_t i;
    const json_t *m;
    json_array_foreach(members, i, m)
    {
        const json_t *alive = json_object_get(m, "alive");
        const char *user = cli_field_str(m, "user");
        const char *row[] = {
            cli_field_int(m, "pid", a, sizeof(a)),
            user[0] != '-' ? user : cli_field_int(m, "uid", c, sizeof(c)),
            cli_field_size(m, "memory", b, sizeof(b)),
            json_is_boolean(alive) ? (json_is_true(alive) ? "alive" : "gone") : "-",
        };
        cli_table_row(&t, row);
    }
    char pad[32];
    snprintf(pad, sizeof(pad), "%s  ", indent);
    t.indent = pad; /* under the lines above */
    fputc('\n', out);
    cli_table_print(&t, out);
    cli_table_free(&t);
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    cli_instance_detail(doc, "", out);
}

const struct cli_verb cli_verb_show = {"show", usage, parse, render};

int cmd_show(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_show, argc, argv);
}
