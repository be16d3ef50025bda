/* SPDX-License-Identifier: Apache-2.0 */
/* gpus.c: `gpuvisor gpus`, the GPUs gpuvisord manages and how much of each is handed out.
 *
 * The figures are the daemon's books (what its instances were given), not what the driver sees in
 * use: `gpuvisor smi` shows that. */
#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor gpus [OPTIONS]\n"
    "\n"
    "List the GPUs gpuvisord manages: index, model, UUID, memory and compute handed out to\n"
    "instances, the number of instances, and the mode (sliced: shared by instances; whole,\n"
    "passthrough, vgpu-parent: not sliced).\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    rq->method = "GET";
    int rc = cli_parse_args(argc, argv, conn, NULL, 0, "", err);
    return rc < 0 ? rc : cli_path(rq, err, "/v1/gpus");
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    static const char *const head[] = {"GPU", "MODEL",     "NAME", "UUID",
                                       "MEMORY", "COMPUTE", "INSTANCES", "MODE"};
    struct cli_table t;
    cli_table_init(&t, 8, head, "rlllrrrl");
    size_t i;
    const json_t *g;
    json_array_foreach(json_object_get(doc, "gpus"), i, g)
    {
        char idx[16], mem[64], comp[64], n[16];
        const char *row[] = {
            cli_field_int(g, "index", idx, sizeof(idx)),
            cli_field_str(g, "model"),
            cli_field_str(g, "name"),
            cli_field_str(g, "uuid"),
            cli_field_pair(json_object_get(g, "memory_allocated"),
                           json_object_get(g, "memory_total"), 's', mem, sizeof(mem)),
            cli_field_percent(g, "compute_allocated", comp, sizeof(comp)),
            cli_field_int(g, "instances", n, sizeof(n)),
            cli_field_str(g, "mode"),
        };
        cli_table_row(&t, row);
    }
    if (t.nrow == 0)
        fprintf(out, "gpuvisord manages no GPUs.\n");
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

const struct cli_verb cli_verb_gpus = {"gpus", usage, parse, render};

int cmd_gpus(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_gpus, argc, argv);
}
