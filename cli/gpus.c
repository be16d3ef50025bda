/* SPDX-License-Identifier: Apache-2.0 */
/* gpus.c: `gpuvisor gpus`, the GPUs gpuvisord manages and how much of each is handed out, and
 * `gpuvisor gpus set`, which changes a GPU's mode or time slice (admin).
 *
 * The figures are the daemon's books (what its instances were given), not what the driver sees in
 * use: `gpuvisor smi` shows that. A time slice given to `set` is checked with core's reader before
 * it is sent, so that a typo is reported with the option's name. */
#include "cli/rest.h"
#include "core/timeslice.h"

/* ------------------------------------------------------------------ list */

static const char usage[] =
    "Usage: gpuvisor gpus [OPTIONS]\n"
    "       gpuvisor gpus set GPU [--mode MODE] [--timeslice TIME] [OPTIONS]\n"
    "\n"
    "List the GPUs gpuvisord manages: index, model, UUID, memory and compute handed out to\n"
    "instances, the number of instances, the mode (sliced: shared by instances; whole,\n"
    "passthrough, vgpu-parent: not sliced) and the time slice (the length of one turn on\n"
    "the GPU for the instances that share its time). `gpuvisor gpus set --help` describes\n"
    "set.\n";

static int parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err)
{
    rq->method = "GET";
    int rc = cli_parse_args(argc, argv, conn, NULL, 0, "", err);
    return rc < 0 ? rc : cli_path(rq, err, "/v1/gpus");
}

static void gpu_row(struct cli_table *t, const json_t *g)
{
    char idx[16], mem[64], comp[64], n[16];
    const char *row[] = {
        cli_field_int(g, "index", idx, sizeof(idx)),
        cli_field_str(g, "model"),
        cli_field_str(g, "name"),
        cli_field_str(g, "uuid"),
        cli_field_pair(json_object_get(g, "memory_allocated"), json_object_get(g, "memory_total"),
                       's', mem, sizeof(mem)),
        cli_field_percent(g, "compute_allocated", comp, sizeof(comp)),
        cli_field_int(g, "instances", n, sizeof(n)),
        cli_field_str(g, "mode"),
        cli_field_str(g, "timeslice"),
    };
    cli_table_row(t, row);
}

/* The GPUs of a list ({"gpus": [...]}), or the one GPU a PATCH answers. */
static void print_gpus(const json_t *doc, FILE *out)
{
    static const char *const head[] = {"GPU",     "MODEL",     "NAME", "UUID",     "MEMORY",
                                       "COMPUTE", "INSTANCES", "MODE", "TIMESLICE"};
    struct cli_table t;
    cli_table_init(&t, 9, head, "rlllrrrlr");
    size_t i;
    const json_t *g;
    if (json_is_object(doc) && json_object_get(doc, "uuid"))
        gpu_row(&t, doc);
    json_array_foreach(json_object_get(doc, "gpus"), i, g) gpu_row(&t, g);
    if (t.nrow == 0)
        fprintf(out, "gpuvisord manages no GPUs.\n");
    else
        cli_table_print(&t, out);
    cli_table_free(&t);
}

static void render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    print_gpus(doc, out);
}

const struct cli_verb cli_verb_gpus = {"gpus", usage, parse, render};

/* ------------------------------------------------------------------ set */

static const char set_usage[] =
    "Usage: gpuvisor gpus set GPU [--mode MODE] [--timeslice TIME] [OPTIONS]\n"
    "\n"
    "Change GPU (an index or a UUID, as gpuvisor gpus lists them) (admin). What is not given\n"
    "stays.\n"
    "\n"
    "Options:\n"
    "  --mode MODE            sliced (instances are placed on it), whole, passthrough or\n"
    "                         vgpu-parent; a GPU with instances stays sliced\n"
    "  --timeslice TIME       the length of one turn on the GPU for the instances that\n"
    "                         share its time, 1ms to 30ms (5ms, 2.5ms, 500us); default:\n"
    "                         gpuvisord's own (its --timeslice). A process that holds the\n"
    "                         GPU keeps its turn; the new length counts from its next one\n";

/* "default" for the daemon's own. */
static const char timeslice_default[] = "default";

static int set_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                     struct gv_error *err)
{
    const char *gpu = NULL;
    if (!(rq->body = json_object()))
        return gv_error_set(err, -ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v = NULL;
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m != 0) {
            rc = m < 0 ? m : 0;
        } else if ((m = cli_opt_get(argc, argv, &i, "--mode", &v, err)) != 0) {
            rc = m < 0 ? m : cli_body_string(rq->body, "mode", v, err);
        } else if ((m = cli_opt_get(argc, argv, &i, "--timeslice", &v, err)) != 0) {
            uint64_t ns;
            char text[GV_TIMESLICE_TEXT];
            if (m < 0)
                rc = m;
            else if (strcmp(v, timeslice_default) == 0)
                rc = json_object_set_new(rq->body, "timeslice", json_null()) < 0
                         ? gv_error_set(err, -ENOMEM, "out of memory")
                         : 0;
            else if ((rc = gv_timeslice_parse(v, &ns, err)) < 0)
                gv_error_prefix(err, rc, "--timeslice");
            else
                rc = cli_body_string(rq->body, "timeslice",
                                     gv_timeslice_format(ns, text, sizeof(text)), err);
        } else if ((argv[i][0] == '-' && argv[i][1]) || gpu) {
            rc = cli_bad_arg(argv, i, err);
        } else {
            gpu = argv[i];
        }
    }
    if (rc == 0 && !gpu)
        rc = gv_error_set(err, -EINVAL,
                          "%s: missing GPU (an index or a UUID; see gpuvisor %s "
                          "--help)",
                          argv[0], argv[0]);
    uint8_t raw[GV_UUID_LEN];
    char uuid[GV_UUID_TEXT];
    if (rc == 0 && cli_uuid_parse(gpu, raw)) {
        gpu = gv_uuid_format(raw, uuid);
    } else if (rc == 0) {
        char *end = NULL;
        long n = strtol(gpu, &end, 10);
        if (*end || n < 0 || n >= GV_MAX_GPUS || gpu[0] < '0' || gpu[0] > '9')
            rc = gv_error_set(err, -EINVAL,
                              "%s: \"%s\" is not a GPU index or UUID (GPU-...; see gpuvisor gpus)",
                              argv[0], gpu);
    }
    if (rc == 0 && json_object_size(rq->body) == 0)
        rc = gv_error_set(err, -EINVAL, "%s: nothing to change: give --mode or --timeslice",
                          argv[0]);
    rq->method = "PATCH";
    rq->subject = gpu;
    return rc < 0 ? rc : cli_path(rq, err, "/v1/gpus/%s", gpu);
}

static void set_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    fprintf(out, "Changed GPU %s.\n", rq->subject);
    if (json_is_object(doc) && json_object_get(doc, "uuid"))
        print_gpus(doc, out);
}

const struct cli_verb cli_verb_gpus_set = {"gpus set", set_usage, set_parse, set_render};

int cmd_gpus(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "set") == 0) {
        /* The verb sees its full name as argv[0], for its messages. */
        char *saved = argv[1];
        argv[1] = (char *)cli_verb_gpus_set.name;
        int rc = cli_verb_run(&cli_verb_gpus_set, argc - 1, argv + 1);
        argv[1] = saved;
        return rc;
    }
    return cli_verb_run(&cli_verb_gpus, argc, argv);
}
