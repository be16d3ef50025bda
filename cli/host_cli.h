/* SPDX-License-Identifier: Apache-2.0 */
/* host_cli.h: what the files of `gpuvisor host` share (host.c, host_local.c, host_daemon.c,
 * host_show.c).
 *
 * One command set, two ways to carry it out: locally, through the host library (host/host.h) and
 * the standalone state file, or through gpuvisord's /v1/host routes when a daemon owns the host's
 * definitions. host.c reads the arguments into a struct host_args and picks the way; each way
 * answers with the same JSON document (the library's gvh_*_json forms, which are also the API's),
 * so that one set of renderers (host_show.c) prints both and --json prints the same thing whichever
 * way ran. */
#ifndef GV_CLI_HOST_CLI_H
#define GV_CLI_HOST_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/rest.h"
#include "host/host.h"

enum host_cmd {
    HOST_LIST,
    HOST_PASSTHROUGH,
    HOST_RELEASE,
    HOST_TYPES,
    HOST_CREATE,
    HOST_REMOVE,
    HOST_XML,
    HOST_APPLY,
};

/* The command line, checked: addresses and UUIDs are in their canonical form. */
struct host_args {
    enum host_cmd cmd;
    const char *name;        /* the subcommand as typed: "passthrough" */
    char bdf[GVH_BDF_LEN];   /* passthrough, release, types, create */
    char id[GVH_ID_LEN];     /* remove, xml: a UUID or a PCI address */
    const char *type;        /* create */
    char uuid[GVH_ID_LEN];   /* create --uuid; "" when not given */
    const char *sysfs_root;  /* --sysfs-root; NULL: the environment, else "/" */
    const char *config_root; /* --config-root; likewise */
    bool dry_run;
    bool local;           /* --local, or implied by --sysfs-root / --config-root */
    struct cli_conn conn; /* --socket, --url, --token, --state, --json */
};

/* `gpuvisor host ...` (host.c), run from the daemon commands' module like the others. */
int cmd_host(int argc, char **argv);

/* Whether a command changes the host (and so takes --dry-run). */
bool host_cmd_changes(enum host_cmd c);

/* --- host_local.c and host_daemon.c: carry out a, and leave the answer in *doc (NULL when there
 * is nothing to show, as after a local dry run, whose plan the library prints itself). Return an
 * exit status (cli.h, rest.h) with the message in err when it is not CLI_EXIT_OK; a partial answer
 * may still be in *doc (apply's report). */
int host_local(const struct host_args *a, json_t **doc, struct gv_error *err);
int host_daemon(const struct host_args *a, json_t **doc, struct gv_error *err);

/* --- host_show.c: the answers for people. */
void host_show(const struct host_args *a, const json_t *doc, FILE *out);

#endif
