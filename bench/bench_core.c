/* SPDX-License-Identifier: Apache-2.0 */
/* bench_core.c: cost of the core's parsers, which run at every `gpuvisor run` and in the daemon's
 * request path, and of a placement decision over a large inventory, which the daemon makes under
 * its lock for every new instance. Prints the median of repeated timed batches, in ns per call. */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "core/catalogue.h"
#include "core/placement.h"
#include "core/size.h"

enum { BATCHES = 31, PER_BATCH = 20000 };
static volatile uint64_t sink;

static double median_ns_of(void (*fn)(void), int per_batch)
{
    double t[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < per_batch; i++)
            fn();
        t[b] = (double)(bench_now_ns() - t0) / per_batch;
    }
    return bench_median(t, BATCHES);
}

static double median_ns(void (*fn)(void))
{
    return median_ns_of(fn, PER_BATCH);
}

static void parse_size(void)
{
    uint64_t v;
    gv_size_parse("1.5GiB", &v, NULL);
    sink += v;
}

static void parse_share(void)
{
    uint32_t v;
    gv_share_parse("12.5%", &v, NULL);
    sink += v;
}

static void find_profile(void)
{
    const struct gv_profile *p;
    gv_profile_find("h200-1g.18gb", NULL, &p, NULL, NULL);
    sink += p->memory;
}

/* A placement decision over PLACE_GPUS GPUs in realistic mixed use: four models, memory and time
 * promised in whole instances, some GPUs full, some not sliced, some at their profile's cap. The
 * request (4 GiB, 25%) fits on many of them, so every GPU is compared, not only checked. */
enum { PLACE_GPUS = 10000, PLACE_PER_BATCH = 200 };
#define PLACE_TARGET_NS 1e6 /* a decision must take well under 1 ms */
static struct gv_place_gpu place_table[PLACE_GPUS];

static void place_table_fill(void)
{
    static const uint64_t models[] = {16 * GV_GiB, 40 * GV_GiB, 80 * GV_GiB, 141 * GV_GiB};
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < PLACE_GPUS; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        struct gv_place_gpu *g = &place_table[i];
        g->memory_total = models[x % 4];
        g->instances = (uint32_t)((x >> 8) % 8);
        g->memory_used = g->instances * (g->memory_total / 8);
        g->share_used = g->instances * (GV_SHARE_FULL / 8);
        g->profile_instances = (g->instances + 1) / 2; /* at the cap on the fullest */
        g->profile_max = 4;
        g->eligible = (x >> 16) % 10 != 0;
    }
}

static enum gv_place_policy place_policy;

static void place(void)
{
    sink += (uint64_t)gv_place(place_table, PLACE_GPUS, 4 * GV_GiB, GV_SHARE_FULL / 4, place_policy,
                               NULL);
}

int main(void)
{
    printf("core parsers (median of %d batches of %d)\n", BATCHES, PER_BATCH);
    printf("  %-28s %8.1f ns\n", "gv_size_parse(\"1.5GiB\")", median_ns(parse_size));
    printf("  %-28s %8.1f ns\n", "gv_share_parse(\"12.5%\")", median_ns(parse_share));
    printf("  %-28s %8.1f ns\n", "gv_profile_find(H200-1g...)", median_ns(find_profile));

    place_table_fill();
    printf("placement over %d GPUs (median of %d batches of %d; target 1 ms)\n", PLACE_GPUS,
           BATCHES, PLACE_PER_BATCH);
    static const struct {
        const char *name;
        enum gv_place_policy policy;
    } policies[] = {{"gv_place binpack", GV_PLACE_BINPACK}, {"gv_place spread", GV_PLACE_SPREAD}};
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        place_policy = policies[i].policy;
        double ns = median_ns_of(place, PLACE_PER_BATCH);
        printf("  %-28s %8.1f ns per decision (%.4f of the target)\n", policies[i].name, ns,
               ns / PLACE_TARGET_NS);
    }
    return 0;
}
