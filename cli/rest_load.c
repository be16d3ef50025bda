/* SPDX-License-Identifier: Apache-2.0 */
/* rest_load.c: the commands that talk to gpuvisord, loaded when one of them runs.
 *
 * Those commands (rest.h) need libcurl and jansson, and libcurl brings some thirty libraries with
 * it (TLS, Kerberos, LDAP ...) whose loading costs milliseconds. `gpuvisor run` is on the start-up
 * path of every tenant and needs none of them, so the daemon commands are built into a module of
 * their own, libgpuvisor-cli.so beside the interposer, and this file opens it with dlopen only when
 * the user asks for one of them (or for the daemon's part of `smi`). */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>

#include "cli/cli.h"
#include "launch/launch.h"

#define REST_MODULE "libgpuvisor-cli.so"

static void *module(bool quiet)
{
    static void *handle;
    if (handle)
        return handle;
    char path[PATH_MAX];
    struct gv_error err = {0};
    if (gvl_find_lib(REST_MODULE, NULL, path, sizeof(path), &err) < 0) {
        if (!quiet)
            fprintf(stderr, "gpuvisor: the commands for gpuvisord: %s; reinstall gpuvisor\n",
                    err.msg);
        return NULL;
    }
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle && !quiet)
        fprintf(stderr, "gpuvisor: %s\n", dlerror());
    return handle;
}

int cli_rest_run(const char *symbol, int argc, char **argv)
{
    void *h = module(false);
    if (!h)
        return CLI_EXIT_INTERNAL;
    int (*fn)(int, char **);
    *(void **)&fn = dlsym(h, symbol);
    if (!fn) {
        fprintf(stderr, "gpuvisor: %s: %s\n", REST_MODULE, dlerror());
        return CLI_EXIT_INTERNAL;
    }
    return fn(argc, argv);
}

void cli_rest_smi(bool json, bool after_blank, FILE *out)
{
    void *h = module(true);
    if (!h)
        return;
    void (*fn)(bool, bool, FILE *);
    *(void **)&fn = dlsym(h, "cli_smi_daemon");
    if (fn)
        fn(json, after_blank, out);
}
