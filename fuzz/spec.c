/* SPDX-License-Identifier: Apache-2.0 */
/* spec.c (fuzz): the option parsers of `gpuvisor run`: per-GPU values (--memory, --compute:
 * cli_spec_add, then cli_spec_env), GPU lists (--devices: cli_devices_env), GPU UUIDs as users
 * write them (cli_uuid_parse) and option reading (cli_opt_value).
 *
 * The input's first byte chooses the option (--memory or --compute), the machine (three GPUs
 * through a made-up NVML, the third without a usable UUID, or no NVML at all) and the size of the
 * buffer the environment value is written into; each following line is one occurrence of the
 * option, as a user repeating it would give. Properties: every value that is accepted comes out as
 * an environment value the interposer can read (a decimal number, or KEY=NUMBER items whose keys
 * are "*" or GPU UUIDs, never indices), and written within the buffer; every refusal has a
 * message; a UUID that parses prints back as the same 16 bytes. */
#include <ctype.h>
#include <string.h>

#include "cli/cli.h"
#include "fuzz/fuzz.h"

#define MAX_LINES 16

static const char *const uuids[] = {
    "GPU-11111111-2222-3333-4444-555555555555",
    "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
    "GPU-not-a-uuid",
};

static void machine(struct cli_gpus *g, bool available)
{
    memset(g, 0, sizeof(*g));
    if (!available) {
        strcpy(g->why, "NVML is not available (fuzz)");
        return;
    }
    g->available = true;
    g->count = 3;
    for (unsigned i = 0; i < g->count; i++) {
        g->gpu[i].index = i;
        strcpy(g->gpu[i].uuid, uuids[i]);
        g->gpu[i].raw_ok = cli_uuid_parse(uuids[i], g->gpu[i].raw);
    }
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* The interposer's grammar for GPUVISOR_MEMORY and GPUVISOR_COMPUTE as the CLI promises to write
 * it: "NUMBER", or "KEY=NUMBER,..." with KEY "*" or a GPU UUID. */
static void check_env(const char *out, size_t len)
{
    size_t n = strnlen(out, len);
    fuzz_check(n < len);
    if (all_digits(out, n))
        return;
    for (const char *item = out;;) {
        const char *comma = strchr(item, ',');
        size_t ilen = comma ? (size_t)(comma - item) : strlen(item);
        const char *eq = memchr(item, '=', ilen);
        fuzz_check(eq != NULL);
        char key[64];
        size_t klen = (size_t)(eq - item);
        fuzz_check(klen < sizeof(key));
        memcpy(key, item, klen);
        key[klen] = '\0';
        uint8_t raw[GVR_UUID_LEN];
        fuzz_check(strcmp(key, "*") == 0 || cli_uuid_parse(key, raw));
        fuzz_check(all_digits(eq + 1, ilen - klen - 1));
        if (!comma)
            break;
        item = comma + 1;
    }
}

/* What --devices gives CUDA_VISIBLE_DEVICES: indices (without NVML) or UUIDs, comma-separated. */
static void check_devices(const char *out, size_t len)
{
    fuzz_check(strnlen(out, len) < len);
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", out);
    char *save = NULL;
    for (char *e = strtok_r(copy, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        uint8_t raw[GVR_UUID_LEN];
        fuzz_check(all_digits(e, strlen(e)) || cli_uuid_parse(e, raw));
    }
}

static void uuid_round_trip(const char *text)
{
    uint8_t raw[GVR_UUID_LEN], again[GVR_UUID_LEN];
    char buf[GV_UUID_TEXT];
    if (!cli_uuid_parse(text, raw))
        return;
    gv_uuid_format(raw, buf);
    fuzz_check(strlen(buf) == GV_UUID_TEXT - 1);
    fuzz_check(cli_uuid_parse(buf, again));
    fuzz_check(memcmp(raw, again, GVR_UUID_LEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t how = data[0];
    bool memory = how & 1;
    struct cli_gpus g;
    machine(&g, how & 2);
    size_t len = 1 + (size_t)(how >> 2) * 64; /* 1 to 4033 bytes */
    char *out = malloc(len);
    char *lines[MAX_LINES];
    size_t n = fuzz_lines(data + 1, size - 1, lines, MAX_LINES);

    struct cli_spec s;
    memset(&s, 0, sizeof(s));
    s.option = memory ? "--memory" : "--compute";
    s.parse = memory ? cli_parse_memory : cli_parse_share;
    struct gv_error err = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cli_spec_add(&s, lines[i], &err);
    if (rc == 0) {
        fuzz_check(!s.plain || s.n == 0);
        fuzz_check(s.n <= CLI_SPEC_MAX);
        rc = cli_spec_env(&s, &g, out, len, &err);
        if (rc == 0)
            check_env(out, len);
    }
    if (rc < 0)
        fuzz_check(err.code < 0 && fuzz_msg_ok(err));

    for (size_t i = 0; i < n; i++) {
        memset(&err, 0, sizeof(err));
        if (cli_devices_env(lines[i], &g, out, len, &err) == 0)
            check_devices(out, len);
        else
            fuzz_check(err.code < 0 && fuzz_msg_ok(err));
        uuid_round_trip(lines[i]);
        cli_is_help(lines[i]);
    }

    /* The lines as a command line: read every option the way cmd_run does. A last "--memory"
     * without its value is left out: that branch only prints a message, and would print it on
     * most runs. */
    int argc = (int)n;
    if (argc > 1 && strcmp(lines[argc - 1], "--memory") == 0)
        argc--;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int r = cli_opt_value(argc, lines, &i, "--memory", &value);
        fuzz_check(r >= -1 && r <= 1);
        if (r == 1)
            fuzz_check(value != NULL && i < argc);
        if (r < 0)
            break;
    }

    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(out);
    return 0;
}
