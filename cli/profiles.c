/* SPDX-License-Identifier: Apache-2.0 */
/* profiles.c: `gpuvisor profiles`, the shapes an instance can be created in.
 *
 * The built-in profiles are those of core's catalogue for the models gpuvisord has, then the
 * admin's custom ones; `gpuvisor create --profile NAME` takes any of them. */
#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor profiles [OPTIONS]\n"
    "\n"
    "List the profiles instances can be created with (gpuvisor create --profile NAME): the\n"
    "built-in ones of the GPU models gpuvisord manages, then custom ones. MAX is how many\n"
    "instances of the profile one GPU holds; POLICY and PRIORITY are what its instances get\n"
    "unless gpuvisor create says otherwise.\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    rq->method = "GET";
    int rc = cli_parse_args(argc, argv, conn, NULL, 0, "", err);
    return rc < 0 ? rc : cli_path(rq, err, "/v1/profiles");
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    static const char *const head[] = {"NAME",   "MODEL",    "KIND", "MEMORY", "COMPUTE",
                                       "POLICY", "PRIORITY", "MAX",  "ORIGIN"};
    struct cli_table t;
    cli_table_init(&t, 9, head, "lllrrllrl");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(doc, "profiles"), i, p)
    {
        char mem[32], comp[32], max[16];
        const json_t *max_v = json_object_get(p, "max_instances");
        const char *row[] = {
            cli_field_str(p, "name"),
            cli_field_str(p, "model"),
            cli_field_str(p, "kind"),
            cli_field_size(p, "memory", mem, sizeof(mem)),
            cli_field_share(p, "compute", comp, sizeof(comp)),
            cli_field_str(p, "policy"),
            cli_field_str(p, "priority"),
            json_is_integer(max_v) && json_integer_value(max_v) > 0
                ? cli_field_int(p, "max_instances", max, sizeof(max))
                : "-",
            json_is_true(json_object_get(p, "builtin")) ? "built-in" : "custom",
        };
        cli_table_row(&t, row);
    }
    if (t.nrow == 0)
        fprintf(out, "No profiles: gpuvisord manages no GPU with built-in profiles, and none was "
                     "added.\n");
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

const struct cli_verb cli_verb_profiles = {"profiles", usage, parse, render};

int cmd_profiles(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_profiles, argc, argv);
}
