/* SPDX-License-Identifier: Apache-2.0 */
/* config.c: gpuvisord's command line.
 *
 * Defaults first, then the options, each checked here so that a mistake is reported before
 * anything starts: --listen HOST:PORT (an IPv6 host in brackets), --socket PATH, --state DIR,
 * --sim MODELS, --placement binpack|spread, --threads N, --timeslice T (the turn on a GPU that has
 * no time slice of its own), and the roots the host library works under for passthrough and vGPUs,
 * --sysfs-root DIR and --config-root DIR. The state directory
 * defaults to /var/lib/gpuvisor for root and to $XDG_STATE_HOME/gpuvisor (~/.local/state/gpuvisor)
 * for others, so that a user can try the daemon without privileges. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/timeslice.h"
#include "daemon/gvd.h"
#include "launch/launch.h" /* the default socket: tenants look for it there too */

#ifndef GV_VERSION
#define GV_VERSION "unknown"
#endif

#define DEFAULT_LISTEN "127.0.0.1:7700"
#define THREADS_MAX    64

static void usage(FILE *f)
{
    char lo[GV_TIMESLICE_TEXT], hi[GV_TIMESLICE_TEXT], def[GV_TIMESLICE_TEXT];
    gv_timeslice_format(GV_TIMESLICE_MIN_NS, lo, sizeof(lo));
    gv_timeslice_format(GV_TIMESLICE_MAX_NS, hi, sizeof(hi));
    gv_timeslice_format(GV_TIMESLICE_DEFAULT_NS, def, sizeof(def));
    fprintf(f,
            "Usage: gpuvisord [OPTIONS]\n"
            "\n"
            "The gpuvisor daemon: GPU inventory, tenants, vGPU instances and their placement,\n"
            "served as a REST API (see docs/daemon.md).\n"
            "\n"
            "  --listen HOST:PORT   HTTP address (default " DEFAULT_LISTEN "; port 0: any free\n"
            "                       port, written to STATE/port)\n"
            "  --socket PATH        the local socket; its directory is the run directory\n"
            "                       (default " GVL_DEFAULT_SOCKET ")\n"
            "  --state DIR          database and admin token (default /var/lib/gpuvisor as root,\n"
            "                       else $XDG_STATE_HOME/gpuvisor)\n"
            "  --sim MODELS         use the GPU simulator with these models (e.g. T4,T4)\n"
            "  --placement POLICY   binpack (default) or spread\n"
            "  --threads N          HTTP worker threads (default: the CPUs, 2 to 8)\n"
            "  --timeslice T        the length of a turn on a GPU whose time instances share,\n"
            "                       for GPUs without their own (%s to %s; default %s)\n"
            "  --sysfs-root DIR     where sysfs, /dev and /proc/driver are, for passthrough\n"
            "                       and vGPUs (default $" GVH_ENV_SYSFS_ROOT ", else /)\n"
            "  --config-root DIR    where mdevctl's definitions and the host state file are\n"
            "                       (default $" GVH_ENV_CONFIG_ROOT ", else /)\n"
            "  --help, --version\n",
            lo, hi, def);
}

static int split_listen(const char *s, struct gvd_config *cfg, struct gv_error *err)
{
    const char *colon;
    const char *host = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return gv_error_set(err, -EINVAL, "--listen \"%s\": write [IPV6]:PORT", s);
        host = s + 1;
        hlen = (size_t)(end - host);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return gv_error_set(err, -EINVAL, "--listen \"%s\": write HOST:PORT", s);
        hlen = (size_t)(colon - s);
    }
    const char *port = colon + 1;
    char *end;
    long p = strtol(port, &end, 10);
    if (!*port || *end || p < 0 || p > 65535)
        return gv_error_set(err, -EINVAL, "--listen \"%s\": the port must be 0 to 65535", s);
    if (hlen >= sizeof(cfg->listen_host))
        return gv_error_set(err, -EINVAL, "--listen \"%s\": host too long", s);
    memcpy(cfg->listen_host, host, hlen);
    cfg->listen_host[hlen] = '\0';
    snprintf(cfg->listen_port, sizeof(cfg->listen_port), "%ld", p);
    return 0;
}

static int copy(char *dst, size_t n, const char *opt, const char *v, struct gv_error *err)
{
    if (!*v || strlen(v) >= n)
        return gv_error_set(err, -EINVAL, "%s: give a value of 1 to %zu characters", opt, n - 1);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static void default_state(struct gvd_config *cfg)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (geteuid() == 0)
        snprintf(cfg->state, sizeof(cfg->state), "/var/lib/gpuvisor");
    else if (xdg && xdg[0] == '/')
        snprintf(cfg->state, sizeof(cfg->state), "%.4000s/gpuvisor", xdg);
    else
        snprintf(cfg->state, sizeof(cfg->state), "%.4000s/.local/state/gpuvisor",
                 home && *home ? home : "/tmp");
}

int gvd_config_parse(int argc, char **argv, struct gvd_config *cfg, struct gv_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    split_listen(DEFAULT_LISTEN, cfg, NULL);
    snprintf(cfg->socket, sizeof(cfg->socket), "%s", GVL_DEFAULT_SOCKET);
    default_state(cfg);
    cfg->placement = GV_PLACE_BINPACK;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->threads = cpus < 2 ? 2 : cpus > 8 ? 8 : (unsigned)cpus;
    cfg->timeslice = GV_TIMESLICE_DEFAULT_NS;

    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"socket", required_argument, NULL, 's'},
        {"state", required_argument, NULL, 'S'},
        {"sim", required_argument, NULL, 'm'},
        {"placement", required_argument, NULL, 'p'},
        {"threads", required_argument, NULL, 't'},
        {"timeslice", required_argument, NULL, 'T'},
        {"sysfs-root", required_argument, NULL, 'R'},
        {"config-root", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c, rc = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            rc = split_listen(optarg, cfg, err);
            break;
        case 's':
            rc = copy(cfg->socket, sizeof(cfg->socket), "--socket", optarg, err);
            if (!rc && optarg[0] != '/')
                rc = gv_error_set(err, -EINVAL, "--socket %s: give an absolute path", optarg);
            break;
        case 'S':
            rc = copy(cfg->state, sizeof(cfg->state), "--state", optarg, err);
            break;
        case 'm':
            rc = copy(cfg->sim, sizeof(cfg->sim), "--sim", optarg, err);
            break;
        case 'p':
            if (strcmp(optarg, "binpack") == 0)
                cfg->placement = GV_PLACE_BINPACK;
            else if (strcmp(optarg, "spread") == 0)
                cfg->placement = GV_PLACE_SPREAD;
            else
                rc =
                    gv_error_set(err, -EINVAL, "--placement \"%s\": use binpack or spread", optarg);
            break;
        case 't': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (!*optarg || *end || n < 1 || n > THREADS_MAX)
                rc = gv_error_set(err, -EINVAL, "--threads \"%s\": give 1 to %d", optarg,
                                  THREADS_MAX);
            else
                cfg->threads = (unsigned)n;
            break;
        }
        case 'T':
            if ((rc = gv_timeslice_parse(optarg, &cfg->timeslice, err)) != 0)
                gv_error_prefix(err, rc, "--timeslice");
            break;
        case 'R':
            rc = copy(cfg->sysfs_root, sizeof(cfg->sysfs_root), "--sysfs-root", optarg, err);
            break;
        case 'C':
            rc = copy(cfg->config_root, sizeof(cfg->config_root), "--config-root", optarg, err);
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf("gpuvisord %s\n", GV_VERSION);
            return 1;
        case ':':
            rc = gv_error_set(err, -EINVAL, "%s needs a value (see gpuvisord --help)",
                              argv[optind - 1]);
            break;
        default:
            rc = gv_error_set(err, -EINVAL, "unknown option \"%s\" (see gpuvisord --help)",
                              argv[optind - 1]);
        }
    }
    if (!rc && optind < argc)
        rc = gv_error_set(err, -EINVAL, "unexpected argument \"%s\" (see gpuvisord --help)",
                          argv[optind]);
    return rc;
}
