/* SPDX-License-Identifier: Apache-2.0 */
/* list.c: `gpuvisor list`, the instances this caller may see.
 *
 * A tenant sees its own; the admin sees all, and may narrow the list to one tenant. Live usage is
 * not in the list (the daemon would have to read every region): `gpuvisor show ID` has it. */
#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor list [--tenant NAME] [OPTIONS]\n"
    "\n"
    "List the instances of gpuvisord you may see: a tenant's own, or all for the admin.\n"
    "\n"
    "Options:\n"
    "  --tenant NAME   only this tenant's instances (admin)\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *tenant = NULL;
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m == 0)
            m = cli_opt_get(argc, argv, &i, "--tenant", &tenant, err);
        if (m < 0)
            return m;
        if (m == 0)
            return cli_bad_arg(argv, i, err);
    }
    rq->method = "GET";
    return tenant ? cli_path(rq, err, "/v1/instances?tenant=%s", tenant)
                  : cli_path(rq, err, "/v1/instances");
}

void cli_instance_row(struct cli_table *t, const json_t *in)
{
    char gpu[16], mem[32], comp[32];
    const char *row[] = {
        cli_field_str(in, "id"),
        cli_field_str(in, "name"),
        cli_field_str(in, "tenant"),
        cli_field_int(in, "gpu", gpu, sizeof(gpu)),
        cli_field_size(in, "memory", mem, sizeof(mem)),
        cli_field_share(in, "compute", comp, sizeof(comp)),
        cli_field_str(in, "policy"),
        cli_field_str(in, "priority"),
        cli_field_str(in, "profile"),
        cli_field_str(in, "created"),
    };
    cli_table_row(t, row);
}

const char *const cli_instance_head[CLI_INSTANCE_COLS] = {
    "ID", "NAME", "TENANT", "GPU", "MEMORY", "COMPUTE", "POLICY", "PRIORITY", "PROFILE", "CREATED"};
const char cli_instance_align[] = "lllrrrllll";

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    struct cli_table t;
    cli_table_init(&t, CLI_INSTANCE_COLS, cli_instance_head, cli_instance_align);
    size_t i;
    const json_t *in;
    json_array_foreach(json_object_get(doc, "instances"), i, in) cli_instance_row(&t, in);
    if (t.nrow == 0)
        fprintf(out, "No instances (create one with gpuvisor create).\n");
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

const struct cli_verb cli_verb_list = {"list", usage, parse, render};

int cmd_list(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_list, argc, argv);
}
