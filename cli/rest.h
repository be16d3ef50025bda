/* SPDX-License-Identifier: Apache-2.0 */
/* rest.h: the subcommands that talk to gpuvisord over its REST API (docs/cli.md, docs/api.md).
 *
 * Every such subcommand is one request: its file parses the arguments into a method, a path and a
 * JSON body (a struct cli_request), and renders the daemon's answer as a readable table or text.
 * verb.c runs the rest the same way for all: --help, the options every one of them takes (where
 * the daemon is and who is asking: struct cli_conn), the request (client.c, libcurl), the daemon's
 * {"error": ...} messages and the exit statuses, and --json, which prints the daemon's JSON as it
 * came. Parsing and rendering take no connection, so the unit tests drive them with fixtures.
 *
 * Where the daemon is: --url or --socket, else $GPUVISOR_URL, else the local socket
 * ($GPUVISOR_DAEMON or /run/gpuvisor/gpuvisord.sock) when it exists, else http://127.0.0.1:7700.
 * Who asks: --token, else $GPUVISOR_TOKEN; over HTTP, else the admin token file when this user can
 * read it. Over the local socket no token is needed: the daemon takes the caller's Unix user. */
#ifndef GV_CLI_REST_H
#define GV_CLI_REST_H

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define CLI_EXIT_REFUSED 1 /* the daemon answered with an error, printed as its message */
/* The daemon could not be reached, or its answer not read: CLI_EXIT_INTERNAL (125). */

#define CLI_DEFAULT_URL   "http://127.0.0.1:7700"
#define CLI_DEFAULT_STATE "/var/lib/gpuvisor" /* the daemon's state directory as root */
#define CLI_ADMIN_TOKEN   "admin.token"       /* in the state directory */
#define CLI_ENV_URL       "GPUVISOR_URL"
#define CLI_ENV_TOKEN     "GPUVISOR_TOKEN"
#define CLI_ENV_STATE     "GPUVISOR_STATE_DIR"

/* --- client.c: where the daemon is and who is asking */

/* What the options say (NULL: not given). */
struct cli_conn {
    const char *url;    /* --url */
    const char *socket; /* --socket */
    const char *token;  /* --token */
    const char *state;  /* --state */
    bool json;          /* --json */
};

/* The help text of the options above, for each subcommand's --help. */
extern const char cli_conn_help[];

/* Read one of the options above at argv[*i]: 1 (taken), 0 (another argument) or -EINVAL. */
int cli_conn_opt(int argc, char **argv, int *i, struct cli_conn *c, struct gv_error *err);

/* The address and the credentials a request uses. */
struct cli_target {
    bool unix_socket;      /* over the local socket (then url is "http://localhost") */
    bool guessed;          /* nothing named the daemon: the defaults were used */
    char socket[108];      /* sizeof(sockaddr_un.sun_path) */
    char url[1024];        /* the base URL, without a trailing '/' */
    char token[512];       /* "" for none */
    char token_from[PATH_MAX + 16]; /* where it came from, for messages */
};

/* Resolve c and the environment into t (the rules in this file's header). Returns 0 or -EINVAL
 * (--url with --socket, a URL that is not http(s), a path too long) with a message. */
int cli_target_resolve(const struct cli_conn *c, struct cli_target *t, struct gv_error *err);

/* A response: the HTTP status and the body parsed (NULL when empty). */
struct cli_response {
    long status;
    json_t *doc;
};

/* Send method path (which starts with "/", query included) with body (NULL for none), waiting at
 * most timeout_ms in all. Returns 0 with any HTTP status in *r (free r->doc with json_decref), or:
 * -ECONNREFUSED when the daemon could not be reached (the message says where it looked and how to
 * start it), -EPROTO (an answer that is not JSON), -ENOMEM. */
int cli_call(const struct cli_target *t, const char *method, const char *path, const json_t *body,
             long timeout_ms, struct cli_response *r, struct gv_error *err);

/* The daemon's message of an error response: its "error" field, else "HTTP <status>". */
const char *cli_response_message(const struct cli_response *r, char *buf, size_t len);

/* --- verb.c: one request per subcommand */

struct cli_request {
    const char *method;
    char path[1024];
    json_t *body;        /* owned; NULL for none */
    const char *subject; /* what the request is about (an id, a name), for messages */
};

struct cli_verb {
    const char *name;  /* "create", "tenant add": as the user types it after "gpuvisor" */
    const char *usage; /* the --help text before the common options */
    /* Fill rq from argv (argv[0] is the name), taking the common options into conn. Returns 0 or
     * a negative errno value with a message (a usage error). */
    int (*parse)(int argc, char **argv, struct cli_conn *conn, struct cli_request *rq,
                 struct gv_error *err);
    /* Print the answer (doc: the body, NULL when empty) for people. */
    void (*render)(const json_t *doc, const struct cli_request *rq, FILE *out);
};

/* Run v: --help, parse, resolve, request, render or --json. Returns the exit status. */
int cli_verb_run(const struct cli_verb *v, int argc, char **argv);

/* Parse argv into rq without running: for tests. conn is zeroed first. */
int cli_verb_parse(const struct cli_verb *v, int argc, char **argv, struct cli_conn *conn,
                   struct cli_request *rq, struct gv_error *err);

/* Fill rq->path with fmt, where each %s argument is percent-encoded as one path segment or query
 * value. Returns 0 or -ENAMETOOLONG. */
int cli_path(struct cli_request *rq, struct gv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For a verb whose arguments are the connection options and exactly npos words (an id, a name):
 * those words in pos. what names them for the message when they are missing. */
int cli_parse_args(int argc, char **argv, struct cli_conn *conn, const char **pos, int npos,
                   const char *what, struct gv_error *err);

/* The message for an argument a parser does not know: an unknown option or an extra argument. */
int cli_bad_arg(char **argv, int i, struct gv_error *err);

/* Argument values for request bodies, checked here so that a typo is caught before it is sent.
 * A size becomes integer bytes; a share the text "25%" (exact, whatever a float would make of
 * it); "none", where allowed, becomes JSON null (a limit removed). */
int cli_body_size(json_t *body, const char *key, const char *option, const char *text,
                  bool none_ok, struct gv_error *err);
int cli_body_share(json_t *body, const char *key, const char *option, const char *text,
                   bool none_ok, struct gv_error *err);
int cli_body_count(json_t *body, const char *key, const char *option, const char *text,
                   bool none_ok, struct gv_error *err);
/* A GPU: an index (a number) or a UUID (a string). */
int cli_body_gpu(json_t *body, const char *key, const char *text, struct gv_error *err);
int cli_body_string(json_t *body, const char *key, const char *text, struct gv_error *err);
/* A compute policy or a priority (core/policy.h), sent by its name as core writes it; the message
 * names the option. */
int cli_body_policy(json_t *body, const char *key, const char *option, const char *text,
                    struct gv_error *err);
int cli_body_priority(json_t *body, const char *key, const char *option, const char *text,
                      struct gv_error *err);
/* Append text to the array body[key], creating it. */
int cli_body_append(json_t *body, const char *key, const char *text, struct gv_error *err);

/* --- fields.c: JSON values as table cells. Each returns buf, "-" for null or missing. */

const char *cli_field_str(const json_t *obj, const char *key);
const char *cli_field_size(const json_t *obj, const char *key, char *buf, size_t len);
const char *cli_field_share(const json_t *obj, const char *key, char *buf, size_t len);
/* A share used, where 0 is "0%" (cli_field_share shows a limit: 0 is none, "-"). */
const char *cli_field_percent(const json_t *obj, const char *key, char *buf, size_t len);
const char *cli_field_int(const json_t *obj, const char *key, char *buf, size_t len);
const char *cli_field_list(const json_t *obj, const char *key, char *buf, size_t len);
/* A size or count "used / quota" ("4 GiB / 8 GiB", "4 GiB / -" without a quota). */
const char *cli_field_pair(const json_t *used, const json_t *limit, char kind, char *buf,
                           size_t len);
/* A percentage (0 and above) as core prints shares: "25%", "12.5%"; "-" for nonsense. */
const char *cli_percent_text(double pct, char *buf, size_t len);
/* A JSON value as one compact line. */
const char *cli_field_json(const json_t *v, char *buf, size_t len);

/* --- list.c: instances as table rows, for every verb that shows instances */

#define CLI_INSTANCE_COLS 10
extern const char *const cli_instance_head[CLI_INSTANCE_COLS];
extern const char cli_instance_align[];
void cli_instance_row(struct cli_table *t, const json_t *in);

/* --- show.c: one instance in full, with its live usage and members (for show and smi) */

void cli_instance_detail(const json_t *in, const char *indent, FILE *out);

/* --- the subcommands' verbs, for the tests */

extern const struct cli_verb cli_verb_gpus, cli_verb_gpus_set, cli_verb_profiles, cli_verb_create,
    cli_verb_list, cli_verb_show, cli_verb_resize, cli_verb_delete, cli_verb_tenant_add,
    cli_verb_tenant_list, cli_verb_tenant_set, cli_verb_tenant_delete, cli_verb_tenant_token,
    cli_verb_events;

int cmd_gpus(int argc, char **argv);
int cmd_profiles(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_tenant(int argc, char **argv);
int cmd_events(int argc, char **argv);

/* --- smi_daemon.c: the daemon's instances in `gpuvisor smi` */

/* Print the instances the daemon shows this user, with their live usage, after smi's own
 * (after_blank: those ended with a blank line); JSON as the value of a "daemon" member when json
 * is set. Quiet when no daemon answers. */
void cli_smi_daemon(bool json, bool after_blank, FILE *out);

#endif
