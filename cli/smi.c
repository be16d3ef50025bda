/* SPDX-License-Identifier: Apache-2.0 */
/* smi.c: `gpuvisor smi`, nvidia-smi for slices.
 *
 * It needs no daemon: the GPUs come from NVML (when there is one) and the instances from their
 * region files, which every member process keeps current. Regions are opened read-write when the
 * user may, so that dead members are reclaimed before the figures are read (what is shown is what
 * a new charge would see), and read-only otherwise. A region names GPUs by UUID; they are shown
 * with the NVML index the same UUID has, which is how `gpuvisor run --memory` and nvidia-smi number
 * them. The same figures print as text for people or as JSON for programs (--json), written by hand
 * because `run` and `smi` build without a JSON library. When the CLI is built with its REST client,
 * the instances gpuvisord made follow (smi_daemon.c), whose region files are the daemon's. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/size.h"
#include "launch/launch.h"

#define MiB (1024ULL * 1024ULL)

static void usage(FILE *f)
{
    fputs("Usage: gpuvisor smi [--json]\n"
          "\n"
          "Show each GPU (from NVML) and each gpuvisor instance: memory used and limit per GPU,\n"
          "compute share and the GPU time used of it over the last second, and member processes.\n"
          "Works without a daemon, from the instance regions in $GPUVISOR_REGION_DIR "
          "(default\n" GVR_DEFAULT_DIR
          "-UID: this user's instances only). Sizes are in MiB; usage is rounded up, totals\n"
          "and limits down. A member's memory includes its CUDA context's (\"ctx\"), which\n"
          "counts against the instance's limit. \"refused\" counts the member's allocations\n"
          "refused because its slice was full, and apart those the GPU refused because the card\n"
          "itself was full.\n"
          "NVML is libnvidia-ml.so.1, or $GPUVISOR_NVML.\n"
          "\n"
          "When gpuvisord runs, the instances it made that you may see follow, each with its id\n"
          "and tenant, as `gpuvisor show` prints them (the daemon is found as other commands find\n"
          "it: $GPUVISOR_URL, else its socket at $GPUVISOR_DAEMON or " GVL_DEFAULT_SOCKET ";\n"
          "see gpuvisor list --help). Without a daemon they are left out without a word.\n"
          "\n"
          "Options:\n"
          "  --json      print the same as JSON (sizes in bytes)\n"
          "  -h, --help  show this help\n",
          f);
}

/* One instance as read for display. */
struct inst {
    char name[GVR_NAME_MAX + 1];
    int error;     /* negative errno when the region could not be read */
    char msg[256]; /* its message */
    bool readonly; /* opened read-only: dead members were not reclaimed */
    struct gvr_snapshot snap;
};

struct names {
    char (*name)[GVR_NAME_MAX + 1];
    unsigned n, cap;
};

static int collect(const char *name, void *arg)
{
    struct names *l = arg;
    if (l->n == l->cap) {
        unsigned cap = l->cap ? 2 * l->cap : 16;
        void *p = realloc(l->name, cap * sizeof(*l->name));
        if (!p)
            return -ENOMEM;
        l->name = p;
        l->cap = cap;
    }
    snprintf(l->name[l->n++], sizeof(*l->name), "%s", name);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* A private instance ("run-<pid>" or "run-<pid>-<n>") belongs to the `gpuvisor run` with that pid.
 * Once that process is gone the instance is garbage, unless a process its command left behind
 * still uses it, which gvr_remove checks. */
static bool remove_if_orphan(const char *name)
{
    int pid = 0, end = 0;
    if (sscanf(name, "run-%d%n", &pid, &end) != 1 || pid <= 0)
        return false;
    if (name[end] != '\0' && name[end] != '-')
        return false;
    if (kill(pid, 0) == 0 || errno != ESRCH)
        return false;
    struct gv_error ignored = {0};
    return gvr_remove(NULL, name, &ignored) == 0;
}

/* Open, reclaim (when writable) and snapshot one instance. Returns false when it vanished meanwhile
 * (an orphan removed here, or removed by its owner). */
static bool read_instance(const char *name, struct inst *in)
{
    struct gvr_region r = {0};
    struct gv_error err = {0};
    memset(in, 0, sizeof(*in));
    snprintf(in->name, sizeof(in->name), "%s", name);
    int rc = gvr_open(&r, NULL, name, 0, NULL, 0, &err);
    if (rc == -EACCES || rc == -EPERM || rc == -EROFS) {
        err = (struct gv_error){0};
        rc = gvr_open(&r, NULL, name, GVR_READONLY, NULL, 0, &err);
        in->readonly = true;
    }
    if (rc == -ENOENT)
        return false;
    if (rc < 0) {
        in->error = rc;
        snprintf(in->msg, sizeof(in->msg), "%s", err.msg[0] ? err.msg : strerror(-rc));
        return true;
    }
    if (!in->readonly)
        gvr_reclaim(&r, &err);
    gvr_snapshot(&r, &in->snap);
    gvr_close(&r);
    return in->readonly || in->snap.nmember > 0 || !remove_if_orphan(name);
}

/* ------------------------------------------------------------------ text */

static unsigned long long mib_up(uint64_t b)
{
    return (unsigned long long)((b + MiB - 1) / MiB);
}

static unsigned long long mib_down(uint64_t b)
{
    return (unsigned long long)(b / MiB);
}

/* A member's memory on a GPU: its allocations and its context, which the instance's ledger counts
 * alike, so that the members' figures add up to the instance's. */
static uint64_t member_used(const struct gvr_snapshot *s, unsigned m, unsigned d)
{
    return s->member[m].bytes[d] + s->member[m].context[d];
}

static const char *state_name(enum gvr_liveness l)
{
    return l == GVR_ALIVE ? "alive" : l == GVR_DEAD ? "dead" : "unknown";
}

/* "3" when NVML knows the GPU, "-" otherwise. */
static const char *index_text(const struct cli_gpus *g, const uint8_t uuid[GVR_UUID_LEN], char *buf,
                              size_t len)
{
    const struct cli_gpu *gpu = cli_gpu_by_uuid(g, uuid);
    if (gpu)
        snprintf(buf, len, "%u", gpu->index);
    else
        snprintf(buf, len, "-");
    return buf;
}

static void text_gpus(const struct cli_gpus *g)
{
    if (!g->available) {
        printf("%s: GPUs are not listed; instances follow.\n\n", g->why);
        return;
    }
    if (g->count == 0) {
        printf("NVML reports no GPUs.\n\n");
        return;
    }
    printf("GPU  %-24s %-40s  %s\n", "Name", "UUID", "Memory used / total");
    for (unsigned i = 0; i < g->count; i++) {
        const struct cli_gpu *gpu = &g->gpu[i];
        char mem[64];
        if (gpu->memory_ok)
            snprintf(mem, sizeof(mem), "%llu MiB / %llu MiB", mib_up(gpu->used),
                     mib_down(gpu->total));
        else
            snprintf(mem, sizeof(mem), "unknown");
        printf("%3u  %-24s %-40s  %s\n", gpu->index, gpu->name, gpu->uuid[0] ? gpu->uuid : "-",
               mem);
    }
    printf("\n");
}

static void text_instance(const struct cli_gpus *g, const struct inst *in)
{
    if (in->error) {
        printf("Instance \"%s\": cannot be read: %s\n\n", in->name, in->msg);
        return;
    }
    const struct gvr_snapshot *s = &in->snap;
    char when[64] = "";
    time_t t = (time_t)(s->created_ns / 1000000000LL);
    struct tm tm;
    if (s->created_ns > 0 && localtime_r(&t, &tm))
        strftime(when, sizeof(when), ", created %Y-%m-%d %H:%M:%S", &tm);
    printf("Instance \"%s\"%s, %u process%s%s\n", in->name, when, s->nmember,
           s->nmember == 1 ? "" : "es", in->readonly ? " (read-only view)" : "");
    if (s->ndev == 0)
        printf("  no GPU used yet\n");
    else
        printf("  GPU  %-40s  %-26s %-8s %s\n", "UUID", "Memory used / limit", "Compute",
               "GPU time, last 1 s");
    for (unsigned d = 0; d < s->ndev; d++) {
        char idx[16], uuid[GV_UUID_TEXT], mem[64], share[16] = "-", used[32] = "-";
        if (s->dev[d].limit)
            snprintf(mem, sizeof(mem), "%llu MiB / %llu MiB", mib_up(s->dev[d].used),
                     mib_down(s->dev[d].limit));
        else
            snprintf(mem, sizeof(mem), "%llu MiB / unlimited", mib_up(s->dev[d].used));
        /* The time charged over the last second, as a share of that second: what the instance
         * used of its share (the budget counts it in 100 ms steps). */
        if (s->dev[d].share) {
            gv_share_format(s->dev[d].share, share, sizeof(share));
            snprintf(used, sizeof(used), "%.1f%%", (double)s->dev[d].busy_recent_ns / 1e7);
        }
        printf("  %3s  %-40s  %-26s %-8s %s\n", index_text(g, s->dev[d].uuid, idx, sizeof(idx)),
               gv_uuid_format(s->dev[d].uuid, uuid), mem, share, used);
    }
    if (s->nmember)
        printf("  %-8s %-7s %s\n", "PID", "State", "Memory");
    for (unsigned m = 0; m < s->nmember; m++) {
        printf("  %-8d %-7s", (int)s->member[m].pid, state_name(s->member[m].alive));
        for (unsigned d = 0; d < s->ndev; d++) {
            char idx[16];
            printf("%s GPU %s: %llu MiB", d ? "," : "",
                   index_text(g, s->dev[d].uuid, idx, sizeof(idx)), mib_up(member_used(s, m, d)));
            /* Context memory is in the figure; saying how much tells a tenant why a slice fills
             * before its allocations do. */
            if (s->member[m].context[d])
                printf(" (ctx %llu MiB)", mib_up(s->member[m].context[d]));
            /* Refused charges, by whom: "my slice is full" is not "the card is full". */
            if (s->member[m].refused[d] || s->member[m].driver_oom[d])
                printf(" (refused: %llu slice full, %llu GPU full)",
                       (unsigned long long)s->member[m].refused[d],
                       (unsigned long long)s->member[m].driver_oom[d]);
        }
        printf("%s\n", s->ndev ? "" : " -");
    }
    printf("\n");
}

/* ------------------------------------------------------------------ JSON */

/* A JSON string: quotes, backslashes and control characters escaped; valid UTF-8 passed through,
 * anything else replaced with U+FFFD so that the document always parses. */
static void json_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    while (*p) {
        unsigned c = *p;
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
            p++;
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            putchar((int)c);
            p++;
        } else {
            unsigned len = c >= 0xf0 && c < 0xf5   ? 4
                           : c >= 0xe0             ? 3
                           : c >= 0xc2 && c < 0xe0 ? 2
                                                   : 0;
            bool ok = len > 0;
            for (unsigned k = 1; ok && k < len; k++)
                ok = (p[k] & 0xc0) == 0x80;
            if (ok) {
                fwrite(p, 1, len, stdout);
                p += len;
            } else {
                fputs("\\ufffd", stdout);
                p++;
            }
        }
    }
    putchar('"');
}

static void json_index(const struct cli_gpus *g, const uint8_t uuid[GVR_UUID_LEN])
{
    const struct cli_gpu *gpu = cli_gpu_by_uuid(g, uuid);
    if (gpu)
        printf("%u", gpu->index);
    else
        printf("null");
}

static void json_gpus(const struct cli_gpus *g)
{
    printf("  \"nvml\": {\"available\": %s", g->available ? "true" : "false");
    if (!g->available) {
        printf(", \"error\": ");
        json_text(g->why);
    }
    printf("},\n  \"gpus\": [");
    for (unsigned i = 0; i < g->count; i++) {
        const struct cli_gpu *gpu = &g->gpu[i];
        printf("%s\n    {\"index\": %u, \"name\": ", i ? "," : "", gpu->index);
        json_text(gpu->name);
        printf(", \"uuid\": ");
        json_text(gpu->uuid);
        if (gpu->memory_ok)
            printf(", \"memory_total_bytes\": %llu, \"memory_used_bytes\": %llu}",
                   (unsigned long long)gpu->total, (unsigned long long)gpu->used);
        else
            printf(", \"memory_total_bytes\": null, \"memory_used_bytes\": null}");
    }
    printf("%s],\n", g->count ? "\n  " : "");
}

static void json_instance(const struct cli_gpus *g, const struct inst *in)
{
    printf("    {\"name\": ");
    json_text(in->name);
    if (in->error) {
        printf(", \"error\": ");
        json_text(in->msg);
        printf("}");
        return;
    }
    const struct gvr_snapshot *s = &in->snap;
    printf(", \"created_ns\": %lld, \"readonly\": %s,\n     \"gpus\": [", (long long)s->created_ns,
           in->readonly ? "true" : "false");
    for (unsigned d = 0; d < s->ndev; d++) {
        char uuid[GV_UUID_TEXT];
        printf("%s\n       {\"index\": ", d ? "," : "");
        json_index(g, s->dev[d].uuid);
        printf(", \"uuid\": ");
        json_text(gv_uuid_format(s->dev[d].uuid, uuid));
        printf(", \"memory_used_bytes\": %llu, \"memory_limit_bytes\": ",
               (unsigned long long)s->dev[d].used);
        if (s->dev[d].limit)
            printf("%llu", (unsigned long long)s->dev[d].limit);
        else
            printf("null");
        printf(", \"compute_share_percent\": ");
        if (s->dev[d].share)
            printf("%u.%02u", s->dev[d].share / 100, s->dev[d].share % 100);
        else
            printf("null");
        printf(", \"compute_used_last_second_ns\": %llu, \"compute_used_total_ns\": %llu}",
               (unsigned long long)s->dev[d].busy_recent_ns,
               (unsigned long long)s->dev[d].busy_total_ns);
    }
    printf("%s],\n     \"processes\": [", s->ndev ? "\n     " : "");
    for (unsigned m = 0; m < s->nmember; m++) {
        printf("%s\n       {\"pid\": %d, \"state\": \"%s\", \"alive\": %s, \"memory\": [",
               m ? "," : "", (int)s->member[m].pid, state_name(s->member[m].alive),
               s->member[m].alive == GVR_ALIVE ? "true" : "false");
        for (unsigned d = 0; d < s->ndev; d++) {
            char uuid[GV_UUID_TEXT];
            printf("%s{\"index\": ", d ? ", " : "");
            json_index(g, s->dev[d].uuid);
            printf(", \"uuid\": ");
            json_text(gv_uuid_format(s->dev[d].uuid, uuid));
            printf(", \"used_bytes\": %llu, \"context_bytes\": %llu, \"refused_slice_full\": "
                   "%llu, \"refused_gpu_full\": %llu}",
                   (unsigned long long)member_used(s, m, d),
                   (unsigned long long)s->member[m].context[d],
                   (unsigned long long)s->member[m].refused[d],
                   (unsigned long long)s->member[m].driver_oom[d]);
        }
        printf("]}");
    }
    printf("%s]}", s->nmember ? "\n     " : "");
}

/* ------------------------------------------------------------------ the subcommand */

int cmd_smi(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
            continue;
        }
        fprintf(stderr, "gpuvisor: smi: %s \"%s\" (see gpuvisor smi --help)\n",
                argv[i][0] == '-' ? "unknown option" : "unexpected argument", argv[i]);
        return CLI_EXIT_USAGE;
    }

    static struct cli_gpus gpus;
    cli_gpus_load(&gpus, true);

    struct names names = {0};
    struct gv_error err = {0};
    int rc = gvr_list(NULL, collect, &names, &err);
    if (rc < 0) {
        fprintf(stderr, "gpuvisor: smi: %s\n",
                rc == -ENOMEM ? "out of memory listing instances" : err.msg);
        free(names.name);
        return CLI_EXIT_INTERNAL;
    }
    if (names.n)
        qsort(names.name, names.n, sizeof(*names.name), by_name);

    struct inst *in = malloc(sizeof(*in));
    if (!in) {
        fprintf(stderr, "gpuvisor: smi: out of memory\n");
        free(names.name);
        return CLI_EXIT_INTERNAL;
    }
    if (json) {
        printf("{\n");
        json_gpus(&gpus);
        printf("  \"region_dir\": ");
        json_text(gvr_dir(NULL));
        printf(",\n  \"instances\": [");
    } else {
        text_gpus(&gpus);
    }
    unsigned shown = 0;
    for (unsigned i = 0; i < names.n; i++) {
        if (!read_instance(names.name[i], in))
            continue;
        if (json) {
            printf("%s\n", shown ? "," : "");
            json_instance(&gpus, in);
        } else {
            text_instance(&gpus, in);
        }
        shown++;
    }
    if (json)
        printf("%s]", shown ? "\n  " : "");
    else if (!shown)
        printf("No instances in %s.\n", gvr_dir(NULL));
#ifdef GV_CLI_REST
    fflush(stdout);
    cli_rest_smi(json, shown > 0, stdout);
#endif
    if (json)
        printf("\n}\n");
    free(in);
    free(names.name);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_INTERNAL;
}
