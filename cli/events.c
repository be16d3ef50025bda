/* SPDX-License-Identifier: Apache-2.0 */
/* events.c: `gpuvisor events`, gpuvisord's audit log: every change, who made it and when.
 *
 * The log is paged by sequence number: --after takes the "next" of the page before, so that a
 * script can follow the log without seeing an event twice. A tenant sees only its own events. */
#include <stdlib.h>

#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor events [--after SEQ] [--limit N] [OPTIONS]\n"
    "\n"
    "Show gpuvisord's audit log: every change (instances, tenants, profiles, GPUs), who made it\n"
    "(admin, tenant:NAME or uid:N) and when. A tenant sees its own events only.\n"
    "\n"
    "Options:\n"
    "  --after SEQ   only events after sequence number SEQ (the next page: the number shown\n"
    "                after the table)\n"
    "  --limit N     at most N events\n";

static int number(const char *option, const char *text, struct gv_error *err)
{
    char *end = NULL;
    if (text[0] < '0' || text[0] > '9' || (strtoull(text, &end, 10), *end))
        return gv_error_set(err, -EINVAL, "%s \"%s\": not a whole number", option, text);
    return 0;
}

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *after = NULL, *limit = NULL;
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m == 0 && (m = cli_opt_get(argc, argv, &i, "--after", &after, err)) > 0)
            m = number("--after", after, err) < 0 ? -EINVAL : 1;
        if (m == 0 && (m = cli_opt_get(argc, argv, &i, "--limit", &limit, err)) > 0)
            m = number("--limit", limit, err) < 0 ? -EINVAL : 1;
        if (m < 0)
            return m;
        if (m == 0)
            return cli_bad_arg(argv, i, err);
    }
    rq->method = "GET";
    if (after && limit)
        return cli_path(rq, err, "/v1/events?after=%s&limit=%s", after, limit);
    if (after)
        return cli_path(rq, err, "/v1/events?after=%s", after);
    if (limit)
        return cli_path(rq, err, "/v1/events?limit=%s", limit);
    return cli_path(rq, err, "/v1/events");
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    static const char *const head[] = {"SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "DETAIL"};
    struct cli_table t;
    cli_table_init(&t, 6, head, "rlllll");
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(doc, "events"), i, e)
    {
        char seq[32], detail[120]; /* a longer detail is cut: --json has it all */
        const char *row[] = {
            cli_field_int(e, "seq", seq, sizeof(seq)),
            cli_field_str(e, "time"),
            cli_field_str(e, "actor"),
            cli_field_str(e, "action"),
            cli_field_str(e, "target"),
            cli_field_json(json_object_get(e, "detail"), detail, sizeof(detail)),
        };
        cli_table_row(&t, row);
    }
    if (t.nrow == 0) {
        fprintf(out, "No events.\n");
    } else {
        char next[32];
        cli_table_print(&t, out);
        fprintf(out, "Next: gpuvisor events --after %s\n",
                cli_field_int(doc, "next", next, sizeof(next)));
    }
    cli_table_free(&t);
}

const struct cli_verb cli_verb_events = {"events", usage, parse, render};

int cmd_events(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_events, argc, argv);
}
