/* SPDX-License-Identifier: Apache-2.0 */
/* create.c: `gpuvisor create`, a new instance placed by gpuvisord.
 *
 * An instance is a profile (a shape the GPU's catalogue defines, or the admin's) or a memory size
 * with an optional compute share; the daemon picks the GPU unless one is named, and refuses what
 * does not fit with the reason. Sizes, shares, policies and priorities are checked here with core's
 * parsers, so a typo is reported against the option before anything is sent. */
#include "cli/rest.h"

static const char usage[] =
    "Usage: gpuvisor create (--profile NAME | --memory SIZE [--compute PCT]) [--gpu GPU]\n"
    "                       [--compute-policy POLICY] [--priority PRIORITY]\n"
    "                       [--name NAME] [--tenant TENANT] [OPTIONS]\n"
    "\n"
    "Create an instance: a slice of one GPU with a memory limit and a share of its time. The\n"
    "daemon places it on a GPU with room (or on --gpu), and refuses, saying why, when none has.\n"
    "Run a command in it with: gpuvisor run --instance ID -- CMD\n"
    "\n"
    "Options:\n"
    "  --profile NAME   a profile (see gpuvisor profiles), e.g. T4-4C\n"
    "  --memory SIZE    the memory limit: 4GiB, 512MiB, 16GB ...\n"
    "  --compute PCT    the share of the GPU's time: 25, 12.5% ... (default: no limit)\n"
    "  --compute-policy POLICY\n"
    "                   how the share is kept: fixed (exactly the share, even alone on the\n"
    "                   GPU), guaranteed (at least the share; time others leave goes to those\n"
    "                   that want it) or best-effort (only what the others leave). Default: the\n"
    "                   profile's, else guaranteed\n"
    "  --priority PRIORITY\n"
    "                   high, normal or low: a waiting instance of a higher priority gets the\n"
    "                   GPU at the next turn. Default: the profile's, else normal\n"
    "  --gpu GPU        this GPU, by index or UUID (see gpuvisor gpus)\n"
    "  --name NAME      a name, unique within the tenant, usable wherever the id is\n"
    "  --tenant TENANT  the tenant it belongs to (admin only: it must be given then; a tenant\n"
    "                   creates its own)\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    const char *profile = NULL, *memory = NULL, *compute = NULL, *gpu = NULL, *name = NULL,
               *tenant = NULL, *policy = NULL, *priority = NULL;
    struct {
        const char *option;
        const char **value;
    } opts[] = {{"--profile", &profile},
                {"--memory", &memory},
                {"--compute", &compute},
                {"--gpu", &gpu},
                {"--name", &name},
                {"--tenant", &tenant},
                {"--compute-policy", &policy},
                {"--priority", &priority}};
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        for (size_t k = 0; m == 0 && k < sizeof(opts) / sizeof(opts[0]); k++) {
            const char *v = NULL;
            m = cli_opt_get(argc, argv, &i, opts[k].option, &v, err);
            if (m > 0 && *opts[k].value)
                return gv_error_set(err, -EINVAL, "%s \"%s\": already given as \"%s\"",
                                    opts[k].option, v, *opts[k].value);
            if (m > 0)
                *opts[k].value = v;
        }
        if (m < 0)
            return m;
        if (m == 0)
            return cli_bad_arg(argv, i, err);
    }
    if (profile && (memory || compute))
        return gv_error_set(err, -EINVAL,
                            "create: --profile fixes the memory and compute; give either a "
                            "profile or --memory (and --compute), not both");
    if (!profile && !memory)
        return gv_error_set(err, -EINVAL,
                            "create: give --profile NAME (see gpuvisor profiles) or --memory SIZE");
    rq->method = "POST";
    rq->body = json_object();
    if (!rq->body)
        return gv_error_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    if (profile)
        rc = cli_body_string(rq->body, "profile", profile, err);
    if (rc == 0 && memory)
        rc = cli_body_size(rq->body, "memory", "--memory", memory, false, err);
    if (rc == 0 && compute)
        rc = cli_body_share(rq->body, "compute", "--compute", compute, false, err);
    if (rc == 0 && gpu)
        rc = cli_body_gpu(rq->body, "gpu", gpu, err);
    if (rc == 0 && policy)
        rc = cli_body_policy(rq->body, "policy", "--compute-policy", policy, err);
    if (rc == 0 && priority)
        rc = cli_body_priority(rq->body, "priority", "--priority", priority, err);
    if (rc == 0 && name)
        rc = cli_body_string(rq->body, "name", name, err);
    if (rc == 0 && tenant)
        rc = cli_body_string(rq->body, "tenant", tenant, err);
    if (rc == 0)
        rc = cli_path(rq, err, "/v1/instances");
    return rc;
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    char gpu[16], mem[32], comp[32];
    const char *name = cli_field_str(doc, "name"), *profile = cli_field_str(doc, "profile");
    const json_t *share = json_object_get(doc, "compute");
    fprintf(out, "Created instance %s", cli_field_str(doc, "id"));
    if (name[0] != '-')
        fprintf(out, " \"%s\"", name);
    fprintf(out, " for tenant %s on GPU %s (%s): %s, %s", cli_field_str(doc, "tenant"),
            cli_field_int(doc, "gpu", gpu, sizeof(gpu)), cli_field_str(doc, "uuid"),
            cli_field_size(doc, "memory", mem, sizeof(mem)),
            json_is_number(share) && json_number_value(share) > 0
                ? cli_field_share(doc, "compute", comp, sizeof(comp))
                : "no compute limit");
    if (profile[0] != '-')
        fprintf(out, " (profile %s)", profile);
    if (json_is_string(json_object_get(doc, "policy")))
        fprintf(out, "; policy %s, priority %s", cli_field_str(doc, "policy"),
                cli_field_str(doc, "priority"));
    fprintf(out, ".\n");
    const json_t *join = json_object_get(json_object_get(doc, "join"), "command");
    if (json_is_string(join))
        fprintf(out, "Run a command in it with: %s\n", json_string_value(join));
}

const struct cli_verb cli_verb_create = {"create", usage, parse, render};

int cmd_create(int argc, char **argv)
{
    return cli_verb_run(&cli_verb_create, argc, argv);
}
