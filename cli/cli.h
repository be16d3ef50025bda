/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h: what the subcommands of the `gpuvisor` command share.
 *
 * The CLI is a table of subcommands (main.c) with one file each (run.c, smi.c, and those that talk
 * to gpuvisord, declared in rest.h); they share small seams declared here: option reading (opts.c),
 * aligned tables (table.c), telling GPU UUIDs from indices (core/uuid.h),
 * the GPUs NVML reports, loaded with dlopen at run time so that the CLI builds and runs where no
 * driver is installed (nvml_load.c), and per-GPU option values such as "--memory 0=4GiB,1=2GiB"
 * resolved to GPU UUIDs (spec.c). Everything that can fail returns a negative errno value and fills
 * a gv_error; only the subcommands print. */
#ifndef GV_CLI_H
#define GV_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/limits.h"
#include "core/nvml.h"
#include "core/uuid.h"
#include "region/region.h"

/* Exit statuses of the CLI itself; a command started by `gpuvisor run` passes its own through. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_USAGE 2 /* a bad option or argument */
#define CLI_EXIT_INTERNAL                                                                          \
    125                     /* gpuvisor could not do its part (as env(1) and timeout(1) use 125) */
#define CLI_EXIT_NOEXEC 127 /* the command could not be started */

int cmd_run(int argc, char **argv);

/* --- rest_load.c: the daemon commands, in a module loaded on demand. Runs the module's function
 * `symbol` ("cmd_list") with the arguments; CLI_EXIT_INTERNAL with a message when the module is
 * missing. cli_rest_smi adds the daemon's instances to smi's output, and does nothing without the
 * module. */
int cli_rest_run(const char *symbol, int argc, char **argv);
void cli_rest_smi(bool json, bool after_blank, FILE *out);
int cmd_smi(int argc, char **argv);

/* --- opts.c */

/* Read option `name` ("--memory") at argv[*i], written "--memory VALUE" or "--memory=VALUE".
 * Returns 1 and sets *value (advancing *i past a separate value), 0 if argv[*i] is another
 * option, or -1 after printing a message when the value is missing. */
int cli_opt_value(int argc, char **argv, int *i, const char *name, const char **value);

/* The same, with the message in err instead of on stderr: returns 1, 0, or -EINVAL. argv[0] is the
 * subcommand's name, for the message ("tenant add" may be passed as one word). */
int cli_opt_get(int argc, char **argv, int *i, const char *name, const char **value,
                struct gv_error *err);

/* True if argv[*i] is "-h" or "--help". */
bool cli_is_help(const char *arg);

/* --- table.c: aligned text tables */

#define CLI_TABLE_MAX_COLS 16

/* Rows of ncol cells under a header. Invariant: cell holds nrow * ncol strings, row by row. */
struct cli_table {
    unsigned ncol;
    const char *const *head; /* the column titles, not copied */
    const char *align;  /* one letter a column, 'r' for right-aligned (numbers); NULL: all left */
    const char *indent; /* printed before every line; NULL for none */
    char **cell;
    size_t nrow, cap;
};

/* Start a table. Returns 0, or -EINVAL for no columns or more than CLI_TABLE_MAX_COLS. */
int cli_table_init(struct cli_table *t, unsigned ncol, const char *const *head, const char *align);

/* Add a row of ncol cells (copied; NULL shows as "-"). Returns 0 or -ENOMEM. */
int cli_table_row(struct cli_table *t, const char *const *cells);

/* Print the header and the rows, each column as wide as its widest cell, two spaces apart. */
void cli_table_print(const struct cli_table *t, FILE *out);

void cli_table_free(struct cli_table *t);

/* --- GPU UUIDs, read and written by core/uuid.h. In an option a UUID carries its prefix ("GPU-" or
 * "MIG-", in any case): that tells it from a GPU index at a glance, and CUDA_VISIBLE_DEVICES, which
 * `--devices` may pass a UUID on to as written, needs it. */

/* True if text is a GPU UUID with its prefix; fills raw when it is. */
static inline bool cli_uuid_parse(const char *text, uint8_t raw[GV_UUID_LEN])
{
    return gv_uuid_parse(text, strlen(text), GV_UUID_PREFIXED, raw, NULL) == 0;
}

/* --- nvml_load.c */

#define CLI_MAX_GPUS GV_MAX_GPUS

struct cli_gpu {
    unsigned index; /* NVML index: PCI order, as nvidia-smi numbers GPUs */
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    char uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE]; /* as NVML writes it */
    uint8_t raw[GV_UUID_LEN];
    bool raw_ok;    /* uuid parsed into raw */
    bool memory_ok; /* total and used were read */
    uint64_t total, used;
};

/* The GPUs of this machine as NVML sees them. available is false when libnvidia-ml.so.1 is missing
 * or its initialization fails; why then says which, for a message. */
struct cli_gpus {
    bool available;
    char why[256];
    unsigned count;
    struct cli_gpu gpu[CLI_MAX_GPUS];
};

/* Load libnvidia-ml.so.1 (or $GPUVISOR_NVML), read every GPU (index, name, UUID and, when memory is
 * true, memory), then shut NVML down. Never fails: a machine without NVML gives available = false.
 */
void cli_gpus_load(struct cli_gpus *g, bool memory);

/* The GPU with this UUID, or NULL. */
const struct cli_gpu *cli_gpu_by_uuid(const struct cli_gpus *g, const uint8_t raw[GV_UUID_LEN]);

/* --- spec.c: per-GPU option values */

enum cli_key { CLI_KEY_ALL, CLI_KEY_INDEX, CLI_KEY_UUID };

#define CLI_SPEC_MAX GV_MAX_GPUS /* entries of one option: one per GPU */

/* One option's value: either plain (one value for every GPU) or a list of KEY=VALUE items. Items
 * keep the user's keys until cli_spec_env resolves them. Invariant: plain implies n == 0. */
struct cli_spec {
    const char *option; /* "--memory", for messages */
    int (*parse)(const char *text, uint64_t *value, struct gv_error *err);
    bool given;
    bool plain;
    uint64_t plain_value;
    unsigned n;
    struct {
        enum cli_key kind;
        unsigned index;
        uint8_t uuid[GV_UUID_LEN];
        uint64_t value;
        char key[GV_UUID_TEXT + 8]; /* as written, for messages */
    } item[CLI_SPEC_MAX];
};

/* Value parsers for cli_spec.parse: a memory size (more than 0 bytes) and a compute share (basis
 * points). */
int cli_parse_memory(const char *text, uint64_t *value, struct gv_error *err);
int cli_parse_share(const char *text, uint64_t *value, struct gv_error *err);

/* Add one occurrence of the option: "VALUE" or "KEY=VALUE,...". The message names the option and
 * the text. Returns 0 or -EINVAL / -ERANGE. */
int cli_spec_add(struct cli_spec *s, const char *text, struct gv_error *err);

/* True if resolving the spec needs NVML (it has an index or UUID key). */
bool cli_spec_keyed(const struct cli_spec *s);

/* Write the environment form of the spec into out: the limit string (core/limits.h) "VALUE", or
 * "KEY=VALUE,..." with every key a GPU UUID or "*", values in bytes or basis points. Indices are
 * resolved through g; UUIDs are checked against g when NVML is available. Returns 0, or -EINVAL (an
 * index without NVML, an index out of range, an unknown UUID, a GPU given twice) or -E2BIG (longer
 * than the interposer reads, GV_LIMITS_TEXT_MAX, or than len). */
int cli_spec_env(const struct cli_spec *s, const struct cli_gpus *g, char *out, size_t len,
                 struct gv_error *err);

/* --devices LIST: comma-separated indices or UUIDs -> CUDA_VISIBLE_DEVICES (UUIDs when NVML is
 * available, the list as given otherwise). Returns 0 or -EINVAL / -ENAMETOOLONG. */
int cli_devices_env(const char *list, const struct cli_gpus *g, char *out, size_t len,
                    struct gv_error *err);

#endif
