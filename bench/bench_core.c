/* SPDX-License-Identifier: Apache-2.0 */
/* bench_core.c: cost of the core's parsers, which run at every `gpuvisor run` and in the daemon's
 * request path. Prints the median of repeated timed batches, in ns per call. */
#include <stdint.h>
#include <stdio.h>

#include "bench.h"
#include "core/catalogue.h"
#include "core/size.h"

enum { BATCHES = 31, PER_BATCH = 20000 };
static volatile uint64_t sink;

static double median_ns(void (*fn)(void))
{
    double t[BATCHES];
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t0 = bench_now_ns();
        for (int i = 0; i < PER_BATCH; i++)
            fn();
        t[b] = (double)(bench_now_ns() - t0) / PER_BATCH;
    }
    return bench_median(t, BATCHES);
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

int main(void)
{
    printf("core parsers (median of %d batches of %d)\n", BATCHES, PER_BATCH);
    printf("  %-28s %8.1f ns\n", "gv_size_parse(\"1.5GiB\")", median_ns(parse_size));
    printf("  %-28s %8.1f ns\n", "gv_share_parse(\"12.5%\")", median_ns(parse_share));
    printf("  %-28s %8.1f ns\n", "gv_profile_find(H200-1g...)", median_ns(find_profile));
    return 0;
}
