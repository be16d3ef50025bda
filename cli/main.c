/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: the `gpuvisor` command: a table of subcommands and a loop over it.
 *
 * Each subcommand lives in its own file, parses its own arguments and prints its own --help; adding
 * one is one file and one row below. Subcommands get argv starting at their own name, so their
 * messages can say "see gpuvisor <name> --help". The subcommands that talk to gpuvisord (rest.h)
 * are in the table when the CLI was built with libcurl and jansson, and run from a module loaded on
 * demand (rest_load.c); `run` and `smi` always are. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef GV_VERSION
#define GV_VERSION "unknown"
#endif

/* A row runs fn, or, for the daemon commands, the function named `symbol` in the module that
 * rest_load.c loads. */
static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *symbol;
    const char *description;
} subcommands[] = {
    {"run", cmd_run, NULL, "run a command in a GPU slice (memory and compute limits)"},
    {"smi", cmd_smi, NULL, "show GPUs and the instances using them, like nvidia-smi for slices"},
#ifdef GV_CLI_REST
    {"gpus", NULL, "cmd_gpus",
     "list the GPUs gpuvisord manages and what is handed out; set a GPU's mode or time slice"},
    {"profiles", NULL, "cmd_profiles", "list the profiles instances can be created with"},
    {"create", NULL, "cmd_create", "create an instance (a profile, or memory and compute)"},
    {"list", NULL, "cmd_list", "list instances"},
    {"show", NULL, "cmd_show", "show an instance, its usage and its processes"},
    {"resize", NULL, "cmd_resize", "change a running instance's limits"},
    {"delete", NULL, "cmd_delete", "delete an instance"},
    {"tenant", NULL, "cmd_tenant", "manage tenants: add, list, set, delete, token"},
    {"events", NULL, "cmd_events", "show gpuvisord's audit log"},
#endif
#ifdef GV_CLI_HOST
    {"host", NULL, "cmd_host", "give GPUs to VMs: passthrough, vendor vGPUs, libvirt XML"},
#endif
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: gpuvisor <command> [ARGS...]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        fprintf(f, "  %-9s %s\n", subcommands[i].name, subcommands[i].description);
    fprintf(f, "  %-9s %s\n", "help", "show this help");
    fprintf(f, "\nOptions: --help, --version. "
               "`gpuvisor <command> --help` describes a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || cli_is_help(cmd)) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("gpuvisor %s\n", GV_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
        if (strcmp(cmd, subcommands[i].name) == 0)
            return subcommands[i].fn ? subcommands[i].fn(argc - 1, argv + 1)
                                     : cli_rest_run(subcommands[i].symbol, argc - 1, argv + 1);
    fprintf(stderr, "gpuvisor: unknown command \"%s\" (see gpuvisor help)\n", cmd);
    return CLI_EXIT_USAGE;
}
