/* SPDX-License-Identifier: Apache-2.0 */
/* spec.c: per-GPU option values ("--memory 4GiB", "--memory 0=4GiB,GPU-...=2GiB") and GPU lists
 * ("--devices 1,0"), turned into the environment the interposer and CUDA read.
 *
 * Users name GPUs the way `gpuvisor smi` and nvidia-smi show them: by NVML index (PCI order) or by
 * UUID. The interposer must not see indices: a CUDA ordinal inside the command is another numbering
 * (CUDA_VISIBLE_DEVICES reorders and hides GPUs), so every key is resolved here to the GPU's UUID,
 * which means the same card in every process. Parsing (cli_spec_add) and resolving (cli_spec_env)
 * are separate steps so that syntax errors are reported before NVML is loaded, and so that NVML is
 * loaded only when a key needs it. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/limits.h"
#include "core/size.h"
#include "core/uuid.h"

#define INDEX_MAX 9999 /* far beyond any machine; keeps the parse free of overflow */

int cli_parse_memory(const char *text, uint64_t *value, struct gv_error *err)
{
    int rc = gv_size_parse(text, value, err);
    if (rc < 0)
        return rc;
    if (*value == 0)
        return gv_error_set(err, -EINVAL,
                            "size \"%s\": a limit must be more than 0 bytes (leave the option out "
                            "for no limit)",
                            text);
    return 0;
}

int cli_parse_share(const char *text, uint64_t *value, struct gv_error *err)
{
    uint32_t share;
    int rc = gv_share_parse(text, &share, err);
    if (rc < 0)
        return rc;
    *value = share;
    return 0;
}

/* A decimal GPU index: digits only, no sign, no spaces. */
static bool parse_index(const char *text, unsigned *index)
{
    if (!*text || strlen(text) > 4)
        return false;
    for (const char *p = text; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    unsigned long v = strtoul(text, NULL, 10);
    if (v > INDEX_MAX)
        return false;
    *index = (unsigned)v;
    return true;
}

static bool same_key(const struct cli_spec *s, unsigned a, unsigned b)
{
    if (s->item[a].kind != s->item[b].kind)
        return false;
    switch (s->item[a].kind) {
    case CLI_KEY_ALL:
        return true;
    case CLI_KEY_INDEX:
        return s->item[a].index == s->item[b].index;
    case CLI_KEY_UUID:
        return memcmp(s->item[a].uuid, s->item[b].uuid, GV_UUID_LEN) == 0;
    }
    return false;
}

static int add_item(struct cli_spec *s, char *item, const char *text, struct gv_error *err)
{
    char *eq = strchr(item, '=');
    if (!eq)
        return gv_error_set(err, -EINVAL,
                            "%s \"%s\": \"%s\" is not KEY=VALUE (write one value for every GPU, "
                            "or KEY=VALUE for each, not both)",
                            s->option, text, item);
    *eq = '\0';
    const char *key = item, *val = eq + 1;
    if (s->n >= CLI_SPEC_MAX)
        return gv_error_set(err, -EINVAL, "%s \"%s\": too many entries (at most %d)", s->option,
                            text, CLI_SPEC_MAX);
    unsigned k = s->n;
    memset(&s->item[k], 0, sizeof(s->item[k]));
    if (strcmp(key, "*") == 0)
        s->item[k].kind = CLI_KEY_ALL;
    else if (parse_index(key, &s->item[k].index))
        s->item[k].kind = CLI_KEY_INDEX;
    else if (cli_uuid_parse(key, s->item[k].uuid))
        s->item[k].kind = CLI_KEY_UUID;
    else
        return gv_error_set(err, -EINVAL,
                            "%s \"%s\": key \"%s\" is not a GPU index, a GPU UUID (GPU-...) or "
                            "\"*\" (see gpuvisor smi)",
                            s->option, text, key);
    snprintf(s->item[k].key, sizeof(s->item[k].key), "%s", key);
    int rc = s->parse(val, &s->item[k].value, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s \"%s\"", s->option, text);
    for (unsigned j = 0; j < k; j++)
        if (same_key(s, j, k))
            return gv_error_set(err, -EINVAL, "%s \"%s\": GPU \"%s\" is given twice", s->option,
                                text, key);
    s->n++;
    return 0;
}

int cli_spec_add(struct cli_spec *s, const char *text, struct gv_error *err)
{
    if (!*text)
        return gv_error_set(err, -EINVAL,
                            "%s: empty value (write VALUE for every GPU, or KEY=VALUE,... with "
                            "KEY a GPU index or UUID)",
                            s->option);
    bool keyed = strchr(text, '=') != NULL;
    if (s->given && (s->plain || !keyed))
        return gv_error_set(err, -EINVAL,
                            "%s \"%s\": %s already given; write one value for every GPU, or "
                            "KEY=VALUE items for each (\"*\" for the rest), not both",
                            s->option, text, s->option);
    s->given = true;
    if (!keyed) {
        int rc = s->parse(text, &s->plain_value, err);
        if (rc < 0)
            return gv_error_prefix(err, rc, "%s", s->option);
        s->plain = true;
        return 0;
    }
    /* An option's text is held to the length of the limit string it becomes. */
    char buf[GV_LIMITS_TEXT_MAX];
    if (strlen(text) >= sizeof(buf))
        return gv_error_set(err, -EINVAL, "%s: value too long (%zu characters, at most %zu)",
                            s->option, strlen(text), sizeof(buf) - 1);
    strcpy(buf, text);
    /* Split by hand rather than with strtok_r, which would skip an empty item silently. */
    char *item = buf;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (!*item)
            return gv_error_set(err, -EINVAL, "%s \"%s\": empty entry", s->option, text);
        int rc = add_item(s, item, text, err);
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        item = comma + 1;
    }
    return 0;
}

bool cli_spec_keyed(const struct cli_spec *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->item[i].kind != CLI_KEY_ALL)
            return true;
    return false;
}

/* snprintf onto the end of out; -ENAMETOOLONG when it does not fit. */
__attribute__((format(printf, 4, 5))) static int append(char *out, size_t len, size_t *at,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + *at, len - *at, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *at)
        return -ENAMETOOLONG;
    *at += (size_t)n;
    return 0;
}

/* The GPU a key names, checked against NVML; NULL with a message when there is none. When NVML is
 * not available a UUID key is taken on trust and *gpu stays NULL with 0 returned. */
static int resolve(const char *option, const char *key, enum cli_key kind, unsigned index,
                   const uint8_t uuid[GV_UUID_LEN], const struct cli_gpus *g,
                   const struct cli_gpu **gpu, struct gv_error *err)
{
    *gpu = NULL;
    if (kind == CLI_KEY_INDEX) {
        if (!g->available)
            return gv_error_set(err, -EINVAL,
                                "%s: GPU index %s needs NVML to find the GPU's UUID, and %s; name "
                                "GPUs by UUID (GPU-...) instead",
                                option, key, g->why);
        if (index >= g->count)
            return gv_error_set(err, -EINVAL,
                                "%s: GPU index %u is out of range (this machine has %u GPU%s; see "
                                "gpuvisor smi)",
                                option, index, g->count, g->count == 1 ? "" : "s");
        if (!g->gpu[index].raw_ok)
            return gv_error_set(err, -EIO, "%s: GPU %u: NVML gave no usable UUID", option, index);
        *gpu = &g->gpu[index];
        return 0;
    }
    if (!g->available)
        return 0;
    *gpu = cli_gpu_by_uuid(g, uuid);
    if (!*gpu)
        return gv_error_set(err, -EINVAL, "%s: GPU %s is not on this machine (see gpuvisor smi)",
                            option, key);
    return 0;
}

int cli_spec_env(const struct cli_spec *s, const struct cli_gpus *g, char *out, size_t len,
                 struct gv_error *err)
{
    /* The unit of the values is the option's: shares in basis points, or sizes in bytes. */
    enum gv_limit_unit unit = s->parse == cli_parse_share ? GV_LIMIT_SHARE : GV_LIMIT_SIZE;
    struct gv_limit rules[CLI_SPEC_MAX];
    unsigned n = 0;
    if (len)
        out[0] = '\0';
    if (s->plain)
        rules[n++] = (struct gv_limit){.key = GV_LIMIT_ALL, .ordinal = -1, .value = s->plain_value};
    const char *seen_key[CLI_SPEC_MAX];
    for (unsigned i = 0; i < s->n && !s->plain; i++) {
        struct gv_limit *r = &rules[n];
        *r = (struct gv_limit){.key = GV_LIMIT_ALL, .ordinal = -1, .value = s->item[i].value};
        if (s->item[i].kind != CLI_KEY_ALL) {
            const struct cli_gpu *gpu;
            int rc = resolve(s->option, s->item[i].key, s->item[i].kind, s->item[i].index,
                             s->item[i].uuid, g, &gpu, err);
            if (rc < 0)
                return rc;
            r->key = GV_LIMIT_UUID;
            memcpy(r->uuid, gpu ? gpu->raw : s->item[i].uuid, GV_UUID_LEN);
            /* An index and the UUID of the same GPU are two spellings of one key. */
            for (unsigned j = 0; j < n; j++)
                if (rules[j].key == GV_LIMIT_UUID &&
                    memcmp(rules[j].uuid, r->uuid, GV_UUID_LEN) == 0)
                    return gv_error_set(err, -EINVAL,
                                        "%s: \"%s\" and \"%s\" are the same GPU; give it once",
                                        s->option, seen_key[j], s->item[i].key);
        }
        seen_key[n++] = s->item[i].key;
    }
    int rc = gv_limits_format(rules, n, unit, out, len, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s", s->option);
    return 0;
}

int cli_devices_env(const char *list, const struct cli_gpus *g, char *out, size_t len,
                    struct gv_error *err)
{
    char buf[1024];
    size_t at = 0;
    out[0] = '\0';
    if (!*list)
        return gv_error_set(
            err, -EINVAL, "--devices: empty list (write GPU indices or UUIDs, e.g. --devices 0,1)");
    if (strlen(list) >= sizeof(buf))
        return gv_error_set(err, -EINVAL, "--devices: list too long");
    strcpy(buf, list);
    uint8_t seen[CLI_MAX_GPUS][GV_UUID_LEN];
    const char *seen_key[CLI_MAX_GPUS];
    unsigned nseen = 0;
    char *entry = buf;
    for (;;) {
        char *comma = strchr(entry, ',');
        if (comma)
            *comma = '\0';
        unsigned index = 0;
        uint8_t raw[GV_UUID_LEN];
        enum cli_key kind;
        if (!*entry)
            return gv_error_set(err, -EINVAL, "--devices \"%s\": empty entry", list);
        if (parse_index(entry, &index))
            kind = CLI_KEY_INDEX;
        else if (cli_uuid_parse(entry, raw))
            kind = CLI_KEY_UUID;
        else
            return gv_error_set(err, -EINVAL,
                                "--devices \"%s\": \"%s\" is not a GPU index or UUID (GPU-...; "
                                "see gpuvisor smi)",
                                list, entry);
        const struct cli_gpu *gpu = NULL;
        if (g->available) {
            int rc = resolve("--devices", entry, kind, index, raw, g, &gpu, err);
            if (rc < 0)
                return rc;
            memcpy(raw, gpu->raw, GV_UUID_LEN);
        } else if (kind == CLI_KEY_INDEX) {
            /* Without NVML an index cannot be checked or translated; CUDA reads indices itself. */
            memset(raw, 0, sizeof(raw));
            raw[0] = (uint8_t)(index >> 8);
            raw[1] = (uint8_t)index;
            raw[15] = 0xff; /* not a UUID any GPU has: a private key for the duplicate check */
        }
        if (nseen >= CLI_MAX_GPUS)
            return gv_error_set(err, -EINVAL, "--devices \"%s\": too many GPUs (at most %d)", list,
                                CLI_MAX_GPUS);
        for (unsigned j = 0; j < nseen; j++) {
            if (memcmp(seen[j], raw, GV_UUID_LEN) != 0)
                continue;
            if (strcmp(seen_key[j], entry) == 0)
                return gv_error_set(err, -EINVAL, "--devices \"%s\": GPU \"%s\" is given twice",
                                    list, entry);
            return gv_error_set(err, -EINVAL,
                                "--devices \"%s\": \"%s\" and \"%s\" are the same GPU; give it "
                                "once",
                                list, seen_key[j], entry);
        }
        memcpy(seen[nseen], raw, GV_UUID_LEN);
        seen_key[nseen++] = entry;
        if (append(out, len, &at, "%s%s", at ? "," : "", gpu ? gpu->uuid : entry) < 0)
            return gv_error_set(err, -ENAMETOOLONG, "--devices: list too long");
        if (!comma)
            break;
        entry = comma + 1;
    }
    return 0;
}
