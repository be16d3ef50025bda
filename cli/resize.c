/* SPDX-License-Identifier: Apache-2.0 */
/* resize.c: `gpuvisor resize ID`, new limits, compute policy or priority for a running instance.
 *
 * The daemon checks that the GPU has room and that the instance does not already use more memory
 * than the new limit, then writes the limits into the instance's region, where running processes
 * meet them at their next allocation (a policy or priority at their next turn on the GPU). */
#include <string.h>

#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor resize ID [--memory SIZE] [--compute PCT|none] [--compute-policy POLICY]\n"
    "                       [--priority PRIORITY] [OPTIONS]\n"
    "\n"
    "Change the limits of instance ID while it runs. A memory limit below what it uses now is\n"
    "refused with the figures; the processes in it meet the new limits at their next allocation,\n"
    "a new compute policy or priority at their next turn on the GPU.\n"
    "\n"
    "Options:\n"
    "  --memory SIZE        the new memory limit: 4GiB, 512MiB ...\n"
    "  --compute PCT|none   the new share of the GPU's time, or none for no compute limit\n"
    "  --compute-policy POLICY\n"
    "                       fixed, guaranteed or best-effort (see gpuvisor create --help)\n"
    "  --priority PRIORITY  high, normal or low\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *id = NULL, *memory = NULL, *compute = NULL, *policy = NULL, *priority = NULL;
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m == 0)
            m = cli_opt_get(argc, argv, &i, "--memory", &memory, err);
        if (m == 0)
            m = cli_opt_get(argc, argv, &i, "--compute", &compute, err);
        if (m == 0)
            m = cli_opt_get(argc, argv, &i, "--compute-policy", &policy, err);
        if (m == 0)
            m = cli_opt_get(argc, argv, &i, "--priority", &priority, err);
        if (m < 0)
            return m;
        if (m > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1]) || id)
            return cli_bad_arg(argv, i, err);
        id = argv[i];
    }
    if (!id)
        return gv_error_set(err, -EINVAL, "resize: missing instance ID (see gpuvisor resize --help)");
    if (!memory && !compute && !policy && !priority)
        return gv_error_set(err, -EINVAL,
                            "resize: give --memory SIZE, --compute PCT, --compute-policy POLICY "
                            "or --priority PRIORITY");
    rq->method = "PATCH";
    rq->subject = id;
    if (!(rq->body = json_object()))
        return gv_error_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    if (memory)
        rc = cli_body_size(rq->body, "memory", "--memory", memory, false, err);
    /* No compute limit is a share of 0 to the daemon. */
    if (rc == 0 && compute && strcmp(compute, "none") == 0)
        rc = json_object_set_new(rq->body, "compute", json_integer(0)) < 0
                 ? gv_error_set(err, -ENOMEM, "out of memory")
                 : 0;
    else if (rc == 0 && compute)
        rc = cli_body_share(rq->body, "compute", "--compute", compute, false, err);
    if (rc == 0 && policy)
        rc = cli_body_policy(rq->body, "policy", "--compute-policy", policy, err);
    if (rc == 0 && priority)
        rc = cli_body_priority(rq->body, "priority", "--priority", priority, err);
    if (rc == 0)
        rc = cli_path(rq, err, "/v1/instances/%s", id);
    return rc;
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    char mem[32], comp[32];
    const json_t *share = json_object_get(doc, "compute");
    fprintf(out, "Instance %s now has %s, %s", rq->subject,
            cli_field_size(doc, "memory", mem, sizeof(mem)),
            json_is_number(share) && json_number_value(share) > 0
                ? cli_field_share(doc, "compute", comp, sizeof(comp))
                : "no compute limit");
    if (json_is_string(json_object_get(doc, "policy")))
        fprintf(out, "; policy %s, priority %s", cli_field_str(doc, "policy"),
                cli_field_str(doc, "priority"));
    fprintf(out, ".\n");
}

const struct cli_verb cli_verb_resize = {"resize", usage, parse, render};

int cmd_resize(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_resize, argc, argv);
}
