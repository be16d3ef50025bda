/* SPDX-License-Identifier: Apache-2.0 */
/* test_placement.c: each rule of placement (memory, time, per-profile cap, eligibility), the order
 * of both policies with their tie-breaks, the refusals' messages, bad arguments, and a long random
 * run of placements and removals (fixed seed) in which no GPU is ever overcommitted and a refusal
 * happens only when no GPU could have taken the request. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/placement.h"
#include "core/size.h"

#define PCT(x) ((uint32_t)((x) * (GV_SHARE_FULL / 100))) /* percent to basis points */

static struct gv_place_gpu gpu(uint64_t total, uint64_t used, uint32_t share_used)
{
    struct gv_place_gpu g = {0};
    g.memory_total = total;
    g.memory_used = used;
    g.share_used = share_used;
    g.eligible = true;
    return g;
}

/* gv_place refuses with -ENOSPC and a message that contains `needle`. */
static void refused(const struct gv_place_gpu *gpus, size_t n, uint64_t memory, uint32_t share,
                    enum gv_place_policy policy, const char *needle)
{
    struct gv_error err = {0};
    int rc = gv_place(gpus, n, memory, share, policy, &err);
    if (rc != -ENOSPC)
        fail_msg("gv_place = %d, want -ENOSPC (%s)", rc, err.msg);
    assert_int_equal(err.code, -ENOSPC);
    if (!strstr(err.msg, needle))
        fail_msg("message lacks \"%s\": %s", needle, err.msg);
}

static int placed(const struct gv_place_gpu *gpus, size_t n, uint64_t memory, uint32_t share,
                  enum gv_place_policy policy)
{
    struct gv_error err = {0};
    int rc = gv_place(gpus, n, memory, share, policy, &err);
    if (rc < 0)
        fail_msg("gv_place refused: %s", err.msg);
    return rc;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct gv_place_gpu g = gpu(16 * GV_GiB, 0, 0);
    struct gv_error err = {0};
    assert_int_equal(gv_place(&g, 1, 0, 0, GV_PLACE_BINPACK, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "0 bytes"));
    assert_int_equal(gv_place(&g, 1, GV_GiB, GV_SHARE_FULL + 1, GV_PLACE_BINPACK, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "100.01%"));
    assert_int_equal(gv_place(NULL, 1, GV_GiB, 0, GV_PLACE_BINPACK, &err), -EINVAL);
    assert_int_equal(gv_place(&g, 1, GV_GiB, 0, (enum gv_place_policy)7, &err), -EINVAL);
    assert_int_equal(gv_place_check(NULL, GV_GiB, 0, &err), -EINVAL);
    assert_int_equal(gv_place_check(&g, 0, 0, &err), -EINVAL);
    assert_int_equal(gv_place_check(&g, GV_GiB, GV_SHARE_FULL + 1, &err), -EINVAL);
    /* No error object: the status alone. */
    assert_int_equal(gv_place(&g, 1, 0, 0, GV_PLACE_BINPACK, NULL), -EINVAL);
    assert_int_equal(gv_place(&g, 1, 32 * GV_GiB, 0, GV_PLACE_BINPACK, NULL), -ENOSPC);
    /* A whole GPU's time is a valid share. */
    assert_int_equal(gv_place(&g, 1, GV_GiB, GV_SHARE_FULL, GV_PLACE_BINPACK, &err), 0);
}

static void test_memory_never_overcommitted(void **state)
{
    (void)state;
    struct gv_place_gpu g[2] = {gpu(16 * GV_GiB, 14 * GV_GiB, 0), gpu(16 * GV_GiB, 13 * GV_GiB, 0)};
    assert_int_equal(placed(g, 2, 3 * GV_GiB, 0, GV_PLACE_BINPACK), 1); /* exactly full */
    refused(g, 2, 3 * GV_GiB + 1, 0, GV_PLACE_BINPACK,
            "no GPU has room: GPU 1 has 3 GiB of memory left and 3221225473 B was asked");
    refused(g, 1, 4 * GV_GiB, 0, GV_PLACE_SPREAD,
            "no GPU has room: GPU 0 has 2 GiB of memory left and 4 GiB was asked");
}

static void test_time_never_overcommitted(void **state)
{
    (void)state;
    struct gv_place_gpu g = gpu(16 * GV_GiB, 0, PCT(75));
    assert_int_equal(placed(&g, 1, GV_GiB, PCT(25), GV_PLACE_BINPACK), 0);
    g.share_used = PCT(90);
    refused(&g, 1, GV_GiB, PCT(25), GV_PLACE_BINPACK,
            "no GPU has room: GPU 0 has 10% of its time left and 25% was asked");
    /* No compute limit: takes no time, fits even when all of it is promised. */
    g.share_used = GV_SHARE_FULL;
    assert_int_equal(placed(&g, 1, GV_GiB, 0, GV_PLACE_SPREAD), 0);
    refused(&g, 1, GV_GiB, 1, GV_PLACE_SPREAD, "0% of its time left and 0.01% was asked");
}

static void test_profile_cap(void **state)
{
    (void)state;
    struct gv_place_gpu g = gpu(16 * GV_GiB, 0, 0);
    g.profile_instances = 3;
    g.profile_max = 4;
    assert_int_equal(placed(&g, 1, 4 * GV_GiB, PCT(25), GV_PLACE_BINPACK), 0);
    g.profile_instances = 4;
    refused(&g, 1, 4 * GV_GiB, PCT(25), GV_PLACE_BINPACK,
            "no GPU has room: GPU 0 already holds 4 instances of this profile (its most)");
    g.profile_instances = 5; /* the cap was lowered under it */
    refused(&g, 1, GV_GiB, 0, GV_PLACE_BINPACK,
            "holds 5 instances of this profile (its most is 4)");
    g.profile_max = 0; /* no cap */
    g.profile_instances = 1000;
    assert_int_equal(placed(&g, 1, 4 * GV_GiB, PCT(25), GV_PLACE_BINPACK), 0);
}

static void test_eligibility(void **state)
{
    (void)state;
    struct gv_place_gpu g[3] = {gpu(80 * GV_GiB, 0, 0), gpu(16 * GV_GiB, 0, 0),
                                gpu(80 * GV_GiB, 0, 0)};
    g[0].eligible = false;
    g[1].eligible = false;
    assert_int_equal(placed(g, 3, GV_GiB, 0, GV_PLACE_BINPACK), 2);
    assert_int_equal(placed(g, 3, GV_GiB, 0, GV_PLACE_SPREAD), 2);
    g[2].eligible = false;
    refused(g, 3, GV_GiB, 0, GV_PLACE_BINPACK, "no GPU is eligible: none of the 3 GPUs");
    refused(g, 1, GV_GiB, 0, GV_PLACE_BINPACK, "none of the 1 GPU is");
    refused(g, 0, GV_GiB, 0, GV_PLACE_BINPACK, "no GPU is eligible: there is no GPU");
    refused(NULL, 0, GV_GiB, 0, GV_PLACE_SPREAD, "there is no GPU");
    /* An ineligible GPU is never named as the closest. */
    g[2].eligible = true;
    g[2].memory_used = 80 * GV_GiB;
    refused(g, 3, GV_GiB, 0, GV_PLACE_BINPACK, "GPU 2 has 0 B of memory left and 1 GiB was asked");
}

static void test_binpack_order(void **state)
{
    (void)state;
    struct gv_place_gpu g[4] = {
        gpu(80 * GV_GiB, 0, 0), gpu(16 * GV_GiB, 8 * GV_GiB, 0), /* 8 GiB left */
        gpu(40 * GV_GiB, 34 * GV_GiB, 0),                        /* 6 GiB left: the tightest fit */
        gpu(16 * GV_GiB, 14 * GV_GiB, 0),                        /* 2 GiB left: too small */
    };
    assert_int_equal(placed(g, 4, 4 * GV_GiB, 0, GV_PLACE_BINPACK), 2);
    /* Ties on memory: least time left, then lowest index. */
    struct gv_place_gpu t[3] = {gpu(16 * GV_GiB, 0, PCT(10)), gpu(16 * GV_GiB, 0, PCT(50)),
                                gpu(16 * GV_GiB, 0, PCT(50))};
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_BINPACK), 1);
    t[1].share_used = PCT(10);
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_BINPACK), 2);
    t[2].share_used = PCT(10);
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_BINPACK), 0);
}

static void test_spread_order(void **state)
{
    (void)state;
    struct gv_place_gpu g[3] = {gpu(16 * GV_GiB, 0, 0), gpu(80 * GV_GiB, 60 * GV_GiB, 0),
                                gpu(40 * GV_GiB, 10 * GV_GiB, 0)};
    assert_int_equal(placed(g, 3, 4 * GV_GiB, 0, GV_PLACE_SPREAD), 2); /* 30 GiB left */
    /* Ties on memory: most time left, then fewest instances, then lowest index. */
    struct gv_place_gpu t[3] = {gpu(16 * GV_GiB, 0, PCT(50)), gpu(16 * GV_GiB, 0, PCT(50)),
                                gpu(16 * GV_GiB, 0, PCT(10))};
    t[0].instances = 3;
    t[1].instances = 2;
    t[2].instances = 9;
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_SPREAD), 2);
    t[2].share_used = PCT(50);
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_SPREAD), 1);
    t[1].instances = 3;
    assert_int_equal(placed(t, 3, GV_GiB, PCT(25), GV_PLACE_SPREAD), 0);
    /* The two policies differ on the same table. */
    assert_int_equal(placed(g, 3, 4 * GV_GiB, 0, GV_PLACE_BINPACK), 0);
}

static void test_closest_named(void **state)
{
    (void)state;
    /* GPU 1 lacks 1 GiB, GPU 0 lacks 3 GiB. */
    struct gv_place_gpu g[3] = {gpu(16 * GV_GiB, 15 * GV_GiB, 0), gpu(16 * GV_GiB, 13 * GV_GiB, 0),
                                gpu(80 * GV_GiB, 0, 0)};
    g[2].eligible = false;
    refused(g, 3, 4 * GV_GiB, 0, GV_PLACE_BINPACK, "GPU 1 has 3 GiB of memory left");
    /* One rule broken is closer than two, however small the two shortfalls. */
    g[0] = gpu(16 * GV_GiB, 0, PCT(90));                        /* time only */
    g[1] = gpu(16 * GV_GiB, 12 * GV_GiB + GV_GiB / 4, PCT(76)); /* memory and time, by little */
    refused(g, 3, 4 * GV_GiB, PCT(25), GV_PLACE_SPREAD,
            "no GPU has room: GPU 0 has 10% of its time left and 25% was asked");
    g[0].share_used = PCT(100);
    g[0].memory_used = 16 * GV_GiB;
    refused(g, 3, 4 * GV_GiB, PCT(25), GV_PLACE_SPREAD,
            "GPU 1 has 3.75 GiB of memory left and 4 GiB was asked; it has 24% of its time left "
            "and 25% was asked");
}

static void test_overcommitted_table(void **state)
{
    (void)state;
    /* A GPU that already holds more than it has is read as having nothing left. */
    struct gv_place_gpu g = gpu(8 * GV_GiB, 9 * GV_GiB, PCT(100) + 500);
    refused(&g, 1, 1, 0, GV_PLACE_BINPACK, "has 0 B of memory left");
    g.memory_used = 0;
    refused(&g, 1, 1, 1, GV_PLACE_BINPACK, "has 0% of its time left");
    assert_int_equal(placed(&g, 1, 1, 0, GV_PLACE_BINPACK), 0);
    /* Sums near 2^64 do not wrap. */
    g = gpu(UINT64_MAX, UINT64_MAX - 10, 0);
    assert_int_equal(placed(&g, 1, 10, 0, GV_PLACE_BINPACK), 0);
    refused(&g, 1, 11, 0, GV_PLACE_BINPACK, "10 B of memory left and 11 B was asked");
    refused(&g, 1, UINT64_MAX, 0, GV_PLACE_BINPACK, "10 B of memory left");
}

static void test_check(void **state)
{
    (void)state;
    struct gv_error err = {0};
    struct gv_place_gpu g = gpu(16 * GV_GiB, 12 * GV_GiB, PCT(50));
    assert_int_equal(gv_place_check(&g, 4 * GV_GiB, PCT(50), &err), 0);
    assert_int_equal(gv_place_check(&g, 5 * GV_GiB, PCT(25), &err), -ENOSPC);
    assert_string_equal(err.msg, "the GPU has 4 GiB of memory left and 5 GiB was asked");
    assert_int_equal(gv_place_check(&g, 2 * GV_GiB, PCT(60), &err), -ENOSPC);
    assert_string_equal(err.msg, "the GPU has 50% of its time left and 60% was asked");
    g.profile_max = 1;
    g.profile_instances = 1;
    assert_int_equal(gv_place_check(&g, GV_GiB, 0, &err), -ENOSPC);
    assert_string_equal(err.msg, "the GPU already holds 1 instance of this profile (its most)");
    g.eligible = false;
    assert_int_equal(gv_place_check(&g, GV_GiB, 0, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "the GPU is not eligible"));
}

/* The property: GPUS GPUs of mixed sizes take and give back instances in a random order (fixed
 * seed). After every step no GPU holds more memory or time than it has nor more instances of the
 * profile than its cap; every placement lands on a GPU that fits and is the policy's best; every
 * refusal happens only when no GPU fits. */
enum { GPUS = 12, HELD = 256, STEPS = 200000, CAP = 3 };

struct instance {
    int gpu; /* -1: free slot */
    uint64_t memory;
    uint32_t share;
    bool profile;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    /* xorshift64*: a fixed sequence, so a failure replays. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static bool fits(const struct gv_place_gpu *g, uint64_t memory, uint32_t share, bool profile)
{
    return g->eligible && g->memory_used <= g->memory_total &&
           memory <= g->memory_total - g->memory_used && g->share_used + share <= GV_SHARE_FULL &&
           (!profile || !g->profile_max || g->profile_instances < g->profile_max);
}

static void test_never_overcommit_random(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {16 * GV_GiB, 24 * GV_GiB, 40 * GV_GiB, 80 * GV_GiB,
                                     141 * GV_GiB};
    struct gv_place_gpu g[GPUS];
    struct instance held[HELD];
    for (int i = 0; i < GPUS; i++) {
        g[i] = gpu(sizes[rnd() % 5], 0, 0);
        g[i].eligible = rnd() % 6 != 0;
    }
    for (int i = 0; i < HELD; i++)
        held[i].gpu = -1;
    unsigned placements = 0, refusals = 0;

    for (int step = 0; step < STEPS; step++) {
        struct instance *in = &held[rnd() % HELD];
        if (in->gpu >= 0) { /* remove */
            struct gv_place_gpu *h = &g[in->gpu];
            h->memory_used -= in->memory;
            h->share_used -= in->share;
            h->instances--;
            if (in->profile)
                h->profile_instances--;
            in->gpu = -1;
            continue;
        }
        bool profile = rnd() % 3 == 0;
        uint64_t memory = profile ? 4 * GV_GiB : (1 + rnd() % (24 * 4)) * (GV_GiB / 4);
        uint32_t share =
            profile ? PCT(25) : (rnd() % 3 ? (uint32_t)(rnd() % (GV_SHARE_FULL + 1)) : 0);
        enum gv_place_policy policy = rnd() % 2 ? GV_PLACE_BINPACK : GV_PLACE_SPREAD;
        for (int i = 0; i < GPUS; i++) { /* the profile asked is this one, or none */
            g[i].profile_max = profile ? CAP : 0;
        }
        struct gv_error err = {0};
        int rc = gv_place(g, GPUS, memory, share, policy, &err);
        if (rc < 0) {
            assert_int_equal(rc, -ENOSPC);
            assert_non_null(memchr(err.msg, 0, sizeof(err.msg)));
            for (int i = 0; i < GPUS; i++)
                assert_false(fits(&g[i], memory, share, profile));
            refusals++;
            continue;
        }
        assert_true(rc < GPUS);
        assert_true(fits(&g[rc], memory, share, profile));
        assert_int_equal(gv_place_check(&g[rc], memory, share, NULL), 0);
        /* No fitting GPU is strictly better under the policy's first key. */
        uint64_t left = g[rc].memory_total - g[rc].memory_used;
        for (int i = 0; i < GPUS; i++) {
            if (!fits(&g[i], memory, share, profile))
                continue;
            uint64_t l = g[i].memory_total - g[i].memory_used;
            assert_true(policy == GV_PLACE_BINPACK ? l >= left : l <= left);
        }
        struct gv_place_gpu *h = &g[rc];
        h->memory_used += memory;
        h->share_used += share;
        h->instances++;
        if (profile)
            h->profile_instances++;
        *in = (struct instance){rc, memory, share, profile};
        placements++;
        for (int i = 0; i < GPUS; i++) {
            assert_true(g[i].memory_used <= g[i].memory_total);
            assert_true(g[i].share_used <= GV_SHARE_FULL);
            assert_true(g[i].profile_instances <= CAP);
        }
    }
    /* Both outcomes were exercised, often. */
    assert_true(placements > STEPS / 8);
    assert_true(refusals > STEPS / 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_memory_never_overcommitted),
        cmocka_unit_test(test_time_never_overcommitted),
        cmocka_unit_test(test_profile_cap),
        cmocka_unit_test(test_eligibility),
        cmocka_unit_test(test_binpack_order),
        cmocka_unit_test(test_spread_order),
        cmocka_unit_test(test_closest_named),
        cmocka_unit_test(test_overcommitted_table),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_never_overcommit_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
