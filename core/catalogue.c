/* SPDX-License-Identifier: Apache-2.0 */
/* catalogue.c: the built-in GPU models and their profiles.
 *
 * Figures are public vendor data (NVIDIA's datasheets and vGPU and MIG user guides). A model entry
 * is a board, as NVIDIA's vGPU profile names use the board as prefix ("A100D-8C" is an A100 80GB
 * PCIe); boards of one chip and memory size share one profile table. Time-sliced profiles get a
 * share of 1/max-instances (the fixed-share scheduler's rule); MIG-like ones the fraction of the
 * seven compute slices. */
#include "core/catalogue.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/size.h"

#define GB       GV_GiB
#define SHARE(n) ((uint32_t)(GV_SHARE_FULL / (n)))
#define TS(name, gib, max)                                                                         \
    {                                                                                              \
        name, GV_PROFILE_TIMESLICED, (gib)*GB, SHARE(max), max, 0                                  \
    }
#define MIG(name, gib, max, g)                                                                     \
    {                                                                                              \
        name, GV_PROFILE_MIG, (gib)*GB, (uint32_t)(GV_SHARE_FULL * (g) / 7), max, g                \
    }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct gv_profile t4_profiles[] = {
    TS("1Q", 1, 16), TS("1B", 1, 16), TS("1A", 1, 16),  TS("2Q", 2, 8),   TS("2B", 2, 8),
    TS("2A", 2, 8),  TS("4Q", 4, 4),  TS("4A", 4, 4),   TS("4C", 4, 4),   TS("8Q", 8, 2),
    TS("8A", 8, 2),  TS("8C", 8, 2),  TS("16Q", 16, 1), TS("16A", 16, 1), TS("16C", 16, 1),
};

static const struct gv_profile a100_40_profiles[] = {
    TS("4C", 4, 10),          TS("5C", 5, 8),           TS("8C", 8, 5),
    TS("10C", 10, 4),         TS("20C", 20, 2),         TS("40C", 40, 1),
    MIG("1g.5gb", 5, 7, 1),   MIG("1g.10gb", 10, 4, 1), MIG("2g.10gb", 10, 3, 2),
    MIG("3g.20gb", 20, 2, 3), MIG("4g.20gb", 20, 1, 4), MIG("7g.40gb", 40, 1, 7),
};

static const struct gv_profile a100_80_profiles[] = {
    TS("4C", 4, 20),  TS("8C", 8, 10),  TS("10C", 10, 8), TS("16C", 16, 5),
    TS("20C", 20, 4), TS("40C", 40, 2), TS("80C", 80, 1),
};

static const struct gv_profile h100_profiles[] = {
    TS("4C", 4, 20),          TS("5C", 5, 16),          TS("8C", 8, 10),
    TS("10C", 10, 8),         TS("16C", 16, 5),         TS("20C", 20, 4),
    TS("40C", 40, 2),         TS("80C", 80, 1),         MIG("1g.10gb", 10, 7, 1),
    MIG("1g.20gb", 20, 4, 1), MIG("2g.20gb", 20, 3, 2), MIG("3g.40gb", 40, 2, 3),
    MIG("4g.40gb", 40, 1, 4), MIG("7g.80gb", 80, 1, 7),
};

static const struct gv_profile h200_profiles[] = {
    TS("4C", 4, 32),          TS("7C", 7, 20),          TS("8C", 8, 16),
    TS("14C", 14, 10),        TS("17C", 17, 8),         TS("28C", 28, 5),
    TS("35C", 35, 4),         TS("70C", 70, 2),         TS("141C", 141, 1),
    MIG("1g.18gb", 18, 7, 1), MIG("1g.35gb", 35, 4, 1), MIG("2g.35gb", 35, 3, 2),
    MIG("3g.71gb", 71, 2, 3), MIG("4g.71gb", 71, 1, 4), MIG("7g.141gb", 141, 1, 7),
};

#define PROFILES(p) p, N(p)

/* name, product, aliases, memory, SMs, cc, PCI id, bandwidth, clock, mem clock, bus, L2, thr/SM */
static const struct gv_model models[] = {
    {"T4", "Tesla T4", "Tesla T4,T4-16GB", 16 * GB, 40, 7, 5, 0x1EB8, 320000000000ULL, 1590000,
     5001000, 256, 4u << 20, 1024, PROFILES(t4_profiles)},
    {"A100", "NVIDIA A100-PCIE-40GB", "A100-40GB,A100-PCIE-40GB", 40 * GB, 108, 8, 0, 0x20F1,
     1555000000000ULL, 1410000, 1215000, 5120, 40u << 20, 2048, PROFILES(a100_40_profiles)},
    {"A100X", "NVIDIA A100-SXM4-40GB", "A100-SXM4-40GB", 40 * GB, 108, 8, 0, 0x20B0,
     1555000000000ULL, 1410000, 1215000, 5120, 40u << 20, 2048, PROFILES(a100_40_profiles)},
    {"A100D", "NVIDIA A100 80GB PCIe", "A100-80GB,A100-80GB-PCIE", 80 * GB, 108, 8, 0, 0x20B5,
     1935000000000ULL, 1410000, 1512000, 5120, 40u << 20, 2048, PROFILES(a100_80_profiles)},
    {"A100DX", "NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", 80 * GB, 108, 8, 0, 0x20B2,
     2039000000000ULL, 1410000, 1593000, 5120, 40u << 20, 2048, PROFILES(a100_80_profiles)},
    {"H100", "NVIDIA H100 PCIe", "H100-80GB,H100-PCIE", 80 * GB, 114, 9, 0, 0x2331,
     2000000000000ULL, 1755000, 1593000, 5120, 50u << 20, 2048, PROFILES(h100_profiles)},
    {"H100XM", "NVIDIA H100 80GB HBM3", "H100-SXM,H100-SXM5", 80 * GB, 132, 9, 0, 0x2330,
     3350000000000ULL, 1980000, 2619000, 5120, 50u << 20, 2048, PROFILES(h100_profiles)},
    {"H200", "NVIDIA H200 NVL", "H200-141GB,H200-NVL", 141 * GB, 132, 9, 0, 0x233B,
     4800000000000ULL, 1785000, 3201000, 6144, 60u << 20, 2048, PROFILES(h200_profiles)},
    {"H200X", "NVIDIA H200", "H200-SXM,H200-SXM5", 141 * GB, 132, 9, 0, 0x2335, 4800000000000ULL,
     1980000, 3201000, 6144, 60u << 20, 2048, PROFILES(h200_profiles)},
};

size_t gv_model_count(void)
{
    return N(models);
}

const struct gv_model *gv_model_at(size_t i)
{
    return i < N(models) ? &models[i] : NULL;
}

/* Does the comma-separated list contain `name` (case-insensitive, `len` bytes)? */
static int list_has(const char *list, const char *name, size_t len)
{
    while (list && *list) {
        const char *end = strchr(list, ',');
        size_t l = end ? (size_t)(end - list) : strlen(list);
        if (l == len && strncasecmp(list, name, len) == 0)
            return 1;
        list = end ? end + 1 : NULL;
    }
    return 0;
}

static const struct gv_model *model_match(const char *name, size_t len)
{
    for (size_t i = 0; i < N(models); i++) {
        const struct gv_model *m = &models[i];
        if ((strlen(m->name) == len && strncasecmp(m->name, name, len) == 0) ||
            (strlen(m->product) == len && strncasecmp(m->product, name, len) == 0) ||
            list_has(m->aliases, name, len))
            return m;
    }
    return NULL;
}

/* Edit distance, case-insensitive, for "did you mean". Names are short; longer ones are cut. */
static unsigned distance(const char *a, const char *b)
{
    enum { MAX = 40 };
    size_t la = strnlen(a, MAX), lb = strnlen(b, MAX);
    unsigned row[MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned up = row[j];
            unsigned cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            unsigned best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* How near `cand` is to `name`: the edit distance, but 1 when one contains the other. Candidates
 * up to NEAR_MAX are suggested, nearest first. Names whose lengths differ by more than NEAR_MAX
 * cannot be that near, so their distance is not computed: a long unknown name costs little. */
#define NEAR_MAX 2u
static unsigned nearness(const char *name, const char *cand)
{
    if ((*name && strcasestr(cand, name)) || (*cand && strcasestr(name, cand)))
        return strcasecmp(name, cand) == 0 ? 0 : 1;
    size_t ln = strlen(name), lc = strlen(cand);
    if ((ln > lc ? ln - lc : lc - ln) > NEAR_MAX)
        return NEAR_MAX + 1;
    return distance(name, cand);
}

/* The nearest candidates seen so far, nearest first and in catalogue order among equals. */
struct nearest {
    unsigned n;
    struct {
        unsigned d;
        const char *prefix, *item;
    } at[6];
};

static void nearest_add(struct nearest *nb, unsigned d, const char *prefix, const char *item)
{
    if (d > NEAR_MAX)
        return;
    unsigned cap = sizeof(nb->at) / sizeof(nb->at[0]), i = nb->n < cap ? nb->n : cap;
    while (i > 0 && nb->at[i - 1].d > d)
        i--;
    if (i >= cap)
        return;
    unsigned last = nb->n < cap ? nb->n : cap - 1;
    memmove(&nb->at[i + 1], &nb->at[i], (last - i) * sizeof(nb->at[0]));
    nb->at[i].d = d;
    nb->at[i].prefix = prefix;
    nb->at[i].item = item;
    if (nb->n < cap)
        nb->n++;
}

/* "A, B-C, ..." into buf; returns how many. */
static unsigned nearest_list(const struct nearest *nb, char *buf, size_t len)
{
    buf[0] = '\0';
    for (unsigned i = 0; i < nb->n; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s%s%s", i ? ", " : "", nb->at[i].prefix,
                 nb->at[i].prefix[0] ? "-" : "", nb->at[i].item);
    }
    return nb->n;
}

const struct gv_model *gv_model_find(const char *name, struct gv_error *err)
{
    if (!name || !*name) {
        gv_error_set(err, -EINVAL, "empty GPU model name (known: T4, A100, A100D, H100, H200 ...)");
        return NULL;
    }
    const struct gv_model *m = model_match(name, strlen(name));
    if (m)
        return m;
    struct nearest nb = {0};
    for (size_t i = 0; i < N(models); i++)
        nearest_add(&nb, nearness(name, models[i].name), "", models[i].name);
    char near_list[160];
    unsigned n = nearest_list(&nb, near_list, sizeof(near_list));
    if (n)
        gv_error_set(err, -ENOENT, "unknown GPU model \"%s\" (near: %s)", name, near_list);
    else
        gv_error_set(err, -ENOENT,
                     "unknown GPU model \"%s\" (known: T4, A100, A100X, A100D, A100DX, H100, "
                     "H100XM, H200, H200X)",
                     name);
    return NULL;
}

static const struct gv_profile *profile_in(const struct gv_model *m, const char *name)
{
    for (size_t i = 0; i < m->nprofiles; i++)
        if (strcasecmp(m->profiles[i].name, name) == 0)
            return &m->profiles[i];
    return NULL;
}

int gv_profile_find(const char *name, const struct gv_model *model,
                    const struct gv_profile **profile, const struct gv_model **model_out,
                    struct gv_error *err)
{
    if (!name || !*name)
        return gv_error_set(err, -EINVAL, "empty profile name (write e.g. T4-4C or H200-1g.18gb)");
    const struct gv_model *m = model;
    const char *pname = name;
    const struct gv_profile *p = NULL;
    if (m)
        p = profile_in(m, name);
    if (!p) {
        /* "BOARD-PROFILE": the board is everything before the last '-' that names a model, so
         * that aliases with dashes ("A100-80GB-8C") work too. */
        for (const char *dash = strrchr(name, '-'); dash && dash > name;) {
            const struct gv_model *bm = model_match(name, (size_t)(dash - name));
            if (bm && (!model || bm == model)) {
                m = bm;
                pname = dash + 1;
                p = profile_in(bm, pname);
                break;
            }
            const char *prev = dash - 1;
            while (prev > name && *prev != '-')
                prev--;
            dash = prev > name ? prev : NULL;
        }
    }
    if (p) {
        *profile = p;
        if (model_out)
            *model_out = m;
        return 0;
    }
    struct nearest nb = {0};
    for (size_t i = 0; i < N(models); i++) {
        const struct gv_model *cm = &models[i];
        if (m && cm != m)
            continue;
        for (size_t j = 0; j < cm->nprofiles; j++) {
            char full[64];
            snprintf(full, sizeof(full), "%s-%s", cm->name, cm->profiles[j].name);
            unsigned dp = nearness(pname, cm->profiles[j].name), df = nearness(name, full);
            nearest_add(&nb, dp < df ? dp : df, cm->name, cm->profiles[j].name);
        }
    }
    char near_list[200];
    unsigned n = nearest_list(&nb, near_list, sizeof(near_list));
    if (!m)
        return gv_error_set(err, -ENOENT,
                            "unknown profile \"%s\"%s%s (write BOARD-PROFILE, e.g. T4-4C)", name,
                            n ? "; near: " : "", near_list);
    return gv_error_set(err, -ENOENT, "unknown profile \"%s\" on %s%s%s", name, m->name,
                        n ? "; near: " : "", near_list);
}

int gv_profile_custom(uint64_t memory, uint32_t share, const struct gv_model *model,
                      struct gv_profile *out, struct gv_error *err)
{
    char buf[32];
    if (memory == 0)
        return gv_error_set(err, -EINVAL, "custom profile: memory must be more than 0 bytes");
    if (share == 0 || share > GV_SHARE_FULL)
        return gv_error_set(
            err, -EINVAL, "custom profile: compute share must be more than 0%% and at most 100%%");
    if (model && memory > model->memory)
        return gv_error_set(err, -ERANGE, "custom profile: memory %s is more than a %s has (%s)",
                            gv_size_format(memory, buf, sizeof(buf)), model->name,
                            gv_size_format(model->memory, (char[32]){0}, 32));
    *out = (struct gv_profile){"custom", GV_PROFILE_CUSTOM, memory, share, 0, 0};
    return 0;
}
