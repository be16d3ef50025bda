/* SPDX-License-Identifier: Apache-2.0 */
/* host.c: `gpuvisor host ...`, whole GPUs for VMs (VFIO passthrough) and vendor vGPUs (mdev,
 * NVIDIA SR-IOV), and the libvirt XML that hands them to a guest (docs/vms.md).
 *
 * This file reads the arguments and decides who does the work. Where gpuvisord runs, it owns the
 * host's definitions (its database, applied at its start) and places its slices knowing which GPUs
 * are gone to VMs, so the commands go to it (host_daemon.c); where it does not, they call the host
 * library here and keep the definitions in the standalone state file that `host apply` replays at
 * boot (host_local.c). Everything the user typed is checked before either runs, so that a
 * malformed address or UUID is a usage error with nothing written, whichever way would have run. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/host_cli.h"
#include "launch/launch.h"

static const char usage[] =
    "Usage: gpuvisor host COMMAND [ARGS] [OPTIONS]\n"
    "\n"
    "Give GPUs to virtual machines: whole (VFIO passthrough), or as vendor vGPUs (mdev, NVIDIA\n"
    "SR-IOV), and write the libvirt XML that attaches them (see docs/vms.md).\n"
    "\n"
    "Commands:\n"
    "  list                     the GPUs: address, ids, model, driver, IOMMU group and its other\n"
    "                           members, mode, vGPU capability\n"
    "  passthrough BDF          bind the GPU and the other functions of its IOMMU group to\n"
    "                           vfio-pci, recording the drivers they had\n"
    "  release BDF              give them back to the drivers they had\n"
    "  types BDF                the vGPU types the GPU offers: id, name, frame buffer, available\n"
    "  create BDF TYPE          create a vGPU of TYPE (its id, or its name) on the GPU; prints\n"
    "                           the vGPU's id (an mdev UUID, or the SR-IOV VF's address)\n"
    "  remove ID                remove a vGPU\n"
    "  xml ID                   the libvirt <hostdev> element(s) for a passed-through GPU's\n"
    "                           address, a VF's address or an mdev UUID\n"
    "  apply                    make the host match the definitions again (after a reboot:\n"
    "                           bindings, VFs and vGPUs do not survive one)\n"
    "\n"
    "BDF is a PCI address: 0000:41:00.0, or 41:00.0 for domain 0.\n"
    "\n"
    "Options:\n"
    "  --uuid UUID              create: the mdev's UUID (default: a new random one)\n"
    "  --dry-run                passthrough, release, create, remove, apply: print the sysfs\n"
    "                           writes the command would make, and make none\n"
    "  --local                  do it here, through sysfs, even if gpuvisord runs; the\n"
    "                           definitions are kept in CONFIG_ROOT/var/lib/gpuvisor/host.json\n"
    "  --sysfs-root DIR         the root sysfs, /dev and /proc/driver are read under (default\n"
    "                           $" GVH_ENV_SYSFS_ROOT ", else /); implies --local\n"
    "  --config-root DIR        the root of etc/mdevctl.d and var/lib/gpuvisor (default\n"
    "                           $" GVH_ENV_CONFIG_ROOT ", else /); implies --local\n"
    "\n"
    "The commands go to gpuvisord when --socket or --url names it, when $" CLI_ENV_URL " or\n"
    "$" GVL_ENV_DAEMON " is set, or when its socket exists; otherwise, or with --local, they run\n"
    "here and need root.\n"
    "\n";

static const struct {
    const char *name;
    enum host_cmd cmd;
    int npos;         /* positional arguments after the name */
    const char *what; /* what they are, for the message when they are missing */
} commands[] = {
    {"list", HOST_LIST, 0, ""},
    {"passthrough", HOST_PASSTHROUGH, 1, "the GPU's PCI address (BDF)"},
    {"release", HOST_RELEASE, 1, "the GPU's PCI address (BDF)"},
    {"types", HOST_TYPES, 1, "the GPU's PCI address (BDF)"},
    {"create", HOST_CREATE, 2, "the GPU's PCI address (BDF) and the vGPU TYPE"},
    {"remove", HOST_REMOVE, 1, "the vGPU's ID (a UUID or a VF's PCI address)"},
    {"xml", HOST_XML, 1, "an ID (a GPU's or VF's PCI address, or an mdev UUID)"},
    {"apply", HOST_APPLY, 0, ""},
};

bool host_cmd_changes(enum host_cmd c)
{
    return c == HOST_PASSTHROUGH || c == HOST_RELEASE || c == HOST_CREATE || c == HOST_REMOVE ||
           c == HOST_APPLY;
}

/* A usage error of the command name: "host create: ... (see gpuvisor host --help)". */
static int bad(struct gv_error *err, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(struct gv_error *err, const char *name, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return gv_error_set(err, -EINVAL, "host %s: %s (see gpuvisor host --help)", name, what);
}

/* An address, canonical, or a usage error naming the command. */
static int take_bdf(const char *name, const char *text, char out[GVH_BDF_LEN], struct gv_error *err)
{
    int rc = gvh_bdf_parse(text, out, err);
    return rc < 0 ? gv_error_prefix(err, rc, "host %s", name) : 0;
}

/* remove and xml take a UUID or an address: whichever it parses as, canonical. */
static int take_id(const char *name, const char *text, char out[GVH_ID_LEN], struct gv_error *err)
{
    char bdf[GVH_BDF_LEN];
    if (gvh_uuid_parse(text, out, NULL) == 0)
        return 0;
    if (gvh_bdf_parse(text, bdf, NULL) == 0) {
        snprintf(out, GVH_ID_LEN, "%s", bdf);
        return 0;
    }
    return bad(err, name,
               "ID \"%s\" is neither a UUID (8-4-4-4-12 hex digits) nor a PCI address "
               "(0000:41:00.0)",
               text);
}

/* argv[0] is "host", argv[1] the command. */
static int parse(int argc, char **argv, struct host_args *a, struct gv_error *err)
{
    memset(a, 0, sizeof(*a));
    size_t k = 0, ncmd = sizeof(commands) / sizeof(commands[0]);
    while (k < ncmd && strcmp(argv[1], commands[k].name) != 0)
        k++;
    if (k == ncmd)
        return gv_error_set(err, -EINVAL, "host: unknown command \"%s\" (see gpuvisor host --help)",
                            argv[1]);
    a->cmd = commands[k].cmd;
    a->name = commands[k].name;

    const char *pos[2] = {NULL, NULL}, *uuid = NULL;
    int npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int m = cli_conn_opt(argc, argv, &i, &a->conn, err);
        if (m < 0)
            return m;
        if (m > 0)
            continue;
        if ((m = cli_opt_get(argc, argv, &i, "--sysfs-root", &v, err)) != 0) {
            if (m < 0)
                return m;
            a->sysfs_root = v;
        } else if ((m = cli_opt_get(argc, argv, &i, "--config-root", &v, err)) != 0) {
            if (m < 0)
                return m;
            a->config_root = v;
        } else if ((m = cli_opt_get(argc, argv, &i, "--uuid", &v, err)) != 0) {
            if (m < 0)
                return m;
            uuid = v;
        } else if (strcmp(argv[i], "--dry-run") == 0) {
            a->dry_run = true;
        } else if (strcmp(argv[i], "--local") == 0) {
            a->local = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return bad(err, a->name, "unknown option \"%s\"", argv[i]);
        } else if (npos == commands[k].npos) {
            return bad(err, a->name, "unexpected argument \"%s\"", argv[i]);
        } else {
            pos[npos++] = argv[i];
        }
    }
    if (npos < commands[k].npos)
        return bad(err, a->name, "missing %s", commands[k].what);
    if ((a->sysfs_root && !*a->sysfs_root) || (a->config_root && !*a->config_root))
        return bad(err, a->name, "%s: empty value",
                   a->sysfs_root && !*a->sysfs_root ? "--sysfs-root" : "--config-root");
    if (uuid && a->cmd != HOST_CREATE)
        return bad(err, a->name, "%s takes no --uuid (only create does)", a->name);
    if (a->dry_run && !host_cmd_changes(a->cmd))
        return bad(err, a->name,
                   "%s changes nothing: --dry-run is for passthrough, release, "
                   "create, remove and apply",
                   a->name);

    /* Where it runs: the roots are the local library's, the connection gpuvisord's. */
    if (a->sysfs_root || a->config_root)
        a->local = true;
    if (a->local && (a->conn.url || a->conn.socket || a->conn.token || a->conn.state))
        return bad(err, a->name, "%s",
                   "--local (or --sysfs-root, --config-root) runs here, without gpuvisord: it "
                   "takes no --socket, --url, --token or --state");

    int rc = 0;
    switch (a->cmd) {
    case HOST_PASSTHROUGH:
    case HOST_RELEASE:
    case HOST_TYPES:
        rc = take_bdf(a->name, pos[0], a->bdf, err);
        break;
    case HOST_CREATE:
        rc = take_bdf(a->name, pos[0], a->bdf, err);
        a->type = pos[1];
        if (rc == 0 && !*a->type)
            rc = bad(err, a->name, "%s", "empty TYPE (see gpuvisor host types BDF)");
        if (rc == 0 && uuid && (rc = gvh_uuid_parse(uuid, a->uuid, err)) < 0)
            gv_error_prefix(err, rc, "host create --uuid");
        break;
    case HOST_REMOVE:
    case HOST_XML:
        rc = take_id(a->name, pos[0], a->id, err);
        break;
    case HOST_LIST:
    case HOST_APPLY:
        break;
    }
    return rc;
}

/* Whether gpuvisord does the work: see the usage above. */
static bool use_daemon(const struct host_args *a)
{
    if (a->local)
        return false;
    if (a->conn.url || a->conn.socket)
        return true;
    const char *url = getenv(CLI_ENV_URL), *sock = getenv(GVL_ENV_DAEMON);
    if ((url && *url) || (sock && *sock))
        return true;
    return gvl_socket_exists(gvl_daemon_socket());
}

int cmd_host(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i]) || (i == 1 && strcmp(argv[i], "help") == 0)) {
            fputs(usage, stdout);
            fputs(cli_conn_help, stdout);
            return CLI_EXIT_OK;
        }
    struct host_args a;
    struct gv_error err = {0};
    if (parse(argc, argv, &a, &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return CLI_EXIT_USAGE;
    }
    json_t *doc = NULL;
    int status = use_daemon(&a) ? host_daemon(&a, &doc, &err) : host_local(&a, &doc, &err);
    if (doc) {
        if (a.conn.json) {
            json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        } else {
            host_show(&a, doc, stdout);
        }
    }
    json_decref(doc);
    if (status != CLI_EXIT_OK)
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gpuvisor: writing the output failed\n");
        return CLI_EXIT_INTERNAL;
    }
    return status;
}
