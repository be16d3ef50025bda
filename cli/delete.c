/* SPDX-License-Identifier: Apache-2.0 */
/* delete.c: `gpuvisor delete ID`, an instance removed.
 *
 * Its place on the GPU is free at once; processes still in it are told at their next allocation,
 * which fails from then on. */
#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor delete ID [OPTIONS]\n"
    "\n"
    "Delete instance ID (its id, or its name within your tenant). Its room on the GPU is free at\n"
    "once; processes still running in it are refused from their next allocation on.\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *id = NULL;
    int rc = cli_parse_args(argc, argv, conn, &id, 1, "instance ID", err);
    if (rc < 0)
        return rc;
    rq->method = "DELETE";
    rq->subject = id;
    return cli_path(rq, err, "/v1/instances/%s", id);
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)doc;
    fprintf(out, "Deleted instance %s.\n", rq->subject);
}

const struct cli_verb cli_verb_delete = {"delete", usage, parse, render};

int cmd_delete(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_delete, argc, argv);
}
