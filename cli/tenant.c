/* SPDX-License-Identifier: Apache-2.0 */
/* tenant.c: `gpuvisor tenant add|list|set|delete|token`, the groups that share the server.
 *
 * A tenant is a set of Unix users and groups (whose processes may join its instances), optional
 * quotas over all its instances, and a token for the REST API, shown once when it is made. Only
 * the admin manages tenants; a tenant may list itself. `add` and `set` share one option reader, so
 * the same option means the same thing in both. */
#include <string.h>

#include "cli/rest.h"

/* ------------------------------------------------------------------ add and set */

#define OPTIONS_HELP                                                                               \
    "  --user USER            a Unix user (name or uid) whose processes may join the\n"              \
    "                         tenant's instances; repeat for more\n"                                 \
    "  --group GROUP          a Unix group (name or gid) likewise; repeat for more\n"                \
    "  --quota-memory SIZE    the most memory all its instances may have together\n"                 \
    "  --quota-compute PCT    the most compute all its instances may have together, in\n"            \
    "                         percent of one GPU (200 = two whole GPUs)\n"                           \
    "  --quota-instances N    the most instances it may have\n"

/* The options of add and set into body. set: PATCH semantics (--user replaces the list, "none"
 * removes a quota, --no-users / --no-groups empty a list). */
static int tenant_options(int argc, char **argv, bool set, struct cli_conn *conn,
                          const char **name, json_t *body, struct gv_error *err)
{
    json_t *quota = json_object();
    if (!quota)
        return gv_error_set(err, -ENOMEM, "out of memory");
    bool no_users = false, no_groups = false;
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *v = NULL;
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m != 0)
            rc = m < 0 ? m : 0;
        else if ((m = cli_opt_get(argc, argv, &i, "--user", &v, err)) != 0)
            rc = m < 0 ? m : cli_body_append(body, "users", v, err);
        else if ((m = cli_opt_get(argc, argv, &i, "--group", &v, err)) != 0)
            rc = m < 0 ? m : cli_body_append(body, "groups", v, err);
        else if ((m = cli_opt_get(argc, argv, &i, "--quota-memory", &v, err)) != 0)
            rc = m < 0 ? m : cli_body_size(quota, "memory", "--quota-memory", v, set, err);
        else if ((m = cli_opt_get(argc, argv, &i, "--quota-compute", &v, err)) != 0)
            rc = m < 0 ? m : cli_body_share(quota, "compute", "--quota-compute", v, set, err);
        else if ((m = cli_opt_get(argc, argv, &i, "--quota-instances", &v, err)) != 0)
            rc = m < 0 ? m : cli_body_count(quota, "instances", "--quota-instances", v, set, err);
        else if (set && strcmp(argv[i], "--no-users") == 0)
            no_users = true;
        else if (set && strcmp(argv[i], "--no-groups") == 0)
            no_groups = true;
        else if ((argv[i][0] == '-' && argv[i][1]) || *name)
            rc = cli_bad_arg(argv, i, err);
        else
            *name = argv[i];
    }
    if (rc == 0 && ((no_users && json_object_get(body, "users")) ||
                    (no_groups && json_object_get(body, "groups"))))
        rc = gv_error_set(err, -EINVAL, "%s: --no-%s with --%s: give one", argv[0],
                          no_users ? "users" : "groups", no_users ? "user" : "group");
    if (rc == 0 && no_users && json_object_set_new(body, "users", json_array()) < 0)
        rc = gv_error_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && no_groups && json_object_set_new(body, "groups", json_array()) < 0)
        rc = gv_error_set(err, -ENOMEM, "out of memory");
    if (rc == 0 && !*name)
        rc = gv_error_set(err, -EINVAL, "%s: missing tenant NAME (see gpuvisor %s --help)",
                          argv[0], argv[0]);
    if (rc == 0 && json_object_size(quota) > 0 && json_object_set(body, "quota", quota) < 0)
        rc = gv_error_set(err, -ENOMEM, "out of memory");
    json_decref(quota);
    return rc;
}

/* A token, printed so that a script can take the last line. */
static void print_token(const json_t *doc, const char *what, FILE *out)
{
    const char *name = cli_field_str(doc, "name");
    fprintf(out, "%s tenant %s. Its token is shown only this once: keep it now (gpuvisor tenant "
                 "token %s makes a new one).\n",
            what, name, name);
    fprintf(out, "%s\n", cli_field_str(doc, "token"));
}

static const char add_usage[] =
    "Usage: gpuvisor tenant add NAME [--user USER]... [--group GROUP]...\n"
    "                           [--quota-memory SIZE] [--quota-compute PCT]\n"
    "                           [--quota-instances N] [OPTIONS]\n"
    "\n"
    "Create tenant NAME (admin). Its token for the REST API is printed once, on the last line.\n"
    "Processes of its users and groups may join its instances (gpuvisor run --instance) and,\n"
    "over the local socket, manage them without a token.\n"
    "\n"
    "Options:\n" OPTIONS_HELP;

static int add_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                     struct gv_error *err)
{
    const char *name = NULL;
    if (!(rq->body = json_object()))
        return gv_error_set(err, -ENOMEM, "out of memory");
    int rc = tenant_options(argc, argv, false, conn, &name, rq->body, err);
    if (rc == 0)
        rc = cli_body_string(rq->body, "name", name, err);
    rq->method = "POST";
    rq->subject = name;
    return rc < 0 ? rc : cli_path(rq, err, "/v1/tenants");
}

static void add_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    print_token(doc, "Created", out);
}

const struct cli_verb cli_verb_tenant_add = {"tenant add", add_usage, add_parse, add_render};

static const char set_usage[] =
    "Usage: gpuvisor tenant set NAME [--user USER]... [--no-users] [--group GROUP]...\n"
    "                           [--no-groups] [--quota-memory SIZE|none]\n"
    "                           [--quota-compute PCT|none] [--quota-instances N|none] [OPTIONS]\n"
    "\n"
    "Change tenant NAME (admin). --user and --group replace the lists; --no-users and\n"
    "--no-groups empty them; a quota of none removes it. What is not given stays.\n"
    "\n"
    "Options:\n" OPTIONS_HELP "  --no-users             no users\n"
    "  --no-groups            no groups\n"
    "  (a quota of none: no quota)\n";

static int set_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                     struct gv_error *err)
{
    const char *name = NULL;
    if (!(rq->body = json_object()))
        return gv_error_set(err, -ENOMEM, "out of memory");
    int rc = tenant_options(argc, argv, true, conn, &name, rq->body, err);
    if (rc == 0 && json_object_size(rq->body) == 0)
        rc = gv_error_set(err, -EINVAL,
                          "tenant set: nothing to change (see gpuvisor tenant set --help)");
    rq->method = "PATCH";
    rq->subject = name;
    return rc < 0 ? rc : cli_path(rq, err, "/v1/tenants/%s", name);
}

/* ------------------------------------------------------------------ list */

static void tenant_rows(struct cli_table *t, const json_t *tn)
{
    char users[256], groups[256], mem[64], comp[64], n[32];
    const json_t *q = json_object_get(tn, "quota"), *u = json_object_get(tn, "usage");
    const char *row[] = {
        cli_field_str(tn, "name"),
        cli_field_list(tn, "users", users, sizeof(users)),
        cli_field_list(tn, "groups", groups, sizeof(groups)),
        cli_field_pair(json_object_get(u, "memory"), json_object_get(q, "memory"), 's', mem,
                       sizeof(mem)),
        cli_field_pair(json_object_get(u, "compute"), json_object_get(q, "compute"), '%', comp,
                       sizeof(comp)),
        cli_field_pair(json_object_get(u, "instances"), json_object_get(q, "instances"), 'n', n,
                       sizeof(n)),
    };
    cli_table_row(t, row);
}

static void print_tenants(const json_t *list, FILE *out)
{
    static const char *const head[] = {"NAME",   "USERS",   "GROUPS",
                                       "MEMORY", "COMPUTE", "INSTANCES"};
    struct cli_table t;
    cli_table_init(&t, 6, head, "lllrrr");
    size_t i;
    const json_t *tn;
    if (json_is_object(list))
        tenant_rows(&t, list);
    json_array_foreach(list, i, tn) tenant_rows(&t, tn);
    if (t.nrow == 0) {
        fprintf(out, "No tenants (the admin adds them with gpuvisor tenant add).\n");
    } else {
        cli_table_print(&t, out);
        fprintf(out, "(MEMORY, COMPUTE and INSTANCES: used / quota; - is no quota)\n");
    }
    cli_table_free(&t);
}

static void set_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    fprintf(out, "Changed tenant %s.\n", rq->subject);
    if (json_is_object(doc) && json_object_get(doc, "name"))
        print_tenants(doc, out);
}

const struct cli_verb cli_verb_tenant_set = {"tenant set", set_usage, set_parse, set_render};

static const char list_usage[] =
    "Usage: gpuvisor tenant list [OPTIONS]\n"
    "\n"
    "List the tenants (the admin sees all, a tenant itself): users and groups, and the memory,\n"
    "compute and instances they use against their quotas.\n";

static int list_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                      struct gv_error *err)
{
    rq->method = "GET";
    int rc = cli_parse_args(argc, argv, conn, NULL, 0, "", err);
    return rc < 0 ? rc : cli_path(rq, err, "/v1/tenants");
}

static void list_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)rq;
    print_tenants(json_object_get(doc, "tenants"), out);
}

const struct cli_verb cli_verb_tenant_list = {"tenant list", list_usage, list_parse, list_render};

/* ------------------------------------------------------------------ delete, token */

static const char delete_usage[] =
    "Usage: gpuvisor tenant delete NAME [--force] [OPTIONS]\n"
    "\n"
    "Delete tenant NAME (admin). Refused while it has instances, unless --force, which deletes\n"
    "them too.\n";

static int delete_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                        struct gv_error *err)
{
    const char *name = NULL;
    bool force = false;
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m < 0)
            return m;
        if (m > 0)
            continue;
        if (strcmp(argv[i], "--force") == 0)
            force = true;
        else if ((argv[i][0] == '-' && argv[i][1]) || name)
            return cli_bad_arg(argv, i, err);
        else
            name = argv[i];
    }
    if (!name)
        return gv_error_set(err, -EINVAL,
                            "tenant delete: missing tenant NAME (see gpuvisor tenant delete --help)");
    rq->method = "DELETE";
    rq->subject = name;
    return force ? cli_path(rq, err, "/v1/tenants/%s?force=1", name)
                 : cli_path(rq, err, "/v1/tenants/%s", name);
}

static void delete_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    (void)doc;
    fprintf(out, "Deleted tenant %s.\n", rq->subject);
}

const struct cli_verb cli_verb_tenant_delete = {"tenant delete", delete_usage, delete_parse,
                                                delete_render};

static const char token_usage[] =
    "Usage: gpuvisor tenant token NAME [OPTIONS]\n"
    "\n"
    "Make a new token for tenant NAME (admin); the old one stops working. It is printed once,\n"
    "on the last line.\n";

static int token_parse(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                       struct gv_error *err)
{
    const char *name = NULL;
    int rc = cli_parse_args(argc, argv, conn, &name, 1, "tenant NAME", err);
    if (rc < 0)
        return rc;
    rq->method = "POST";
    rq->subject = name;
    return cli_path(rq, err, "/v1/tenants/%s/token", name);
}

static void token_render(const json_t *doc, const struct cli_request *rq, FILE *out)
{
    /* The answer may hold the token alone; the name is the one asked for. */
    json_t *named = json_deep_copy(doc);
    if (named && !json_object_get(named, "name"))
        json_object_set_new(named, "name", json_string(rq->subject));
    print_token(named ? named : doc, "New token for", out);
    json_decref(named);
}

const struct cli_verb cli_verb_tenant_token = {"tenant token", token_usage, token_parse,
                                               token_render};

/* ------------------------------------------------------------------ the subcommand */

static const struct cli_verb *const verbs[] = {&cli_verb_tenant_add, &cli_verb_tenant_list,
                                               &cli_verb_tenant_set, &cli_verb_tenant_delete,
                                               &cli_verb_tenant_token};

static void usage(FILE *f)
{
    fputs("Usage: gpuvisor tenant (add|list|set|delete|token) ...\n"
          "\n"
          "Manage the tenants of gpuvisord: the groups sharing the server, each with its Unix\n"
          "users and groups, quotas and token.\n"
          "\n"
          "  add NAME ...     create a tenant (prints its token once)\n"
          "  list             list tenants, with their use against their quotas\n"
          "  set NAME ...     change users, groups or quotas\n"
          "  delete NAME      delete a tenant (--force: with its instances)\n"
          "  token NAME       make a new token for a tenant\n"
          "\n"
          "`gpuvisor tenant COMMAND --help` describes each.\n",
          f);
}

int cmd_tenant(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    for (size_t k = 0; k < sizeof(verbs) / sizeof(verbs[0]); k++) {
        if (strcmp(argv[1], verbs[k]->name + strlen("tenant ")) != 0)
            continue;
        /* The verb sees its full name as argv[0], for its messages. */
        char *name = (char *)verbs[k]->name;
        char *saved = argv[1];
        argv[1] = name;
        int rc = cli_verb_run(verbs[k], argc - 1, argv + 1);
        argv[1] = saved;
        return rc;
    }
    fprintf(stderr, "gpuvisor: tenant: unknown command \"%s\" (see gpuvisor tenant --help)\n",
            argv[1]);
    return CLI_EXIT_USAGE;
}
