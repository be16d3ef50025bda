/* SPDX-License-Identifier: Apache-2.0 */
/* opts.c: reading options the same way in every subcommand.
 *
 * The subcommands parse their own arguments by hand rather than with getopt_long: getopt prints
 * its own messages, in its own words, and permutes arguments, while `gpuvisor run` must stop at the
 * first word of the command so that the command's own options are never taken for ours. Both
 * "--name VALUE" and "--name=VALUE" are accepted. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int cli_opt_get(int argc, char **argv, int *i, const char *name, const char **value,
                struct gv_error *err)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return gv_error_set(err, -EINVAL, "%s: missing value (see gpuvisor %s --help)", name,
                            argv[0]);
    *i += 1;
    *value = argv[*i];
    return 1;
}

int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    struct gv_error err = {0};
    int m = cli_opt_get(argc, argv, i, name, value, &err);
    if (m < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return -1;
    }
    return m;
}

bool cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
