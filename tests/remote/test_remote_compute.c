/* SPDX-License-Identifier: Apache-2.0 */
/* test_remote_compute.c: a session's share of GPU time is the server's to keep.
 *
 * The client is the raw one of remotetest.h: it sends whatever launches it likes, as fast as it
 * likes, with no interposer of its own. The server's session charges the GPU time through the
 * interposer it runs under, so a session of a server started with --compute 30 (fixed) gets 30% of
 * the GPU however hard it pushes, while one of a server without a limit gets nearly all of it.
 * Each measures the simulated GPU's busy share as the kernels' time over the wall time, with
 * 2 ms kernels and a synchronize after every fourth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "remotetest.h"

#define KERNEL_NS 2000000ull
#define WINDOW_MS 1500

static const char image[] = "gvsim-module\n";

/* Launch spin_ns kernels for WINDOW_MS through a session of s; the share of the wall time the
 * kernels took. */
static double busy_share(struct rt_server *s)
{
    struct rt_client c = {0};
    char err[256];
    assert_int_equal(rt_connect(&c, s, s->token, err, sizeof(err)), 0);
    assert_int_equal(rt_setup(&c), 0);
    assert_int_equal(rt_send(&c, GVW_OP_MODULE_LOAD, 0, "q", (uint64_t)sizeof(image)), 0);
    assert_int_equal(rt_send_raw(&c, image, sizeof(image)), 0);
    assert_int_equal(rt_reply(&c, GVW_OP_MODULE_LOAD), 0);
    uint64_t mod = c.reply.v[1];
    assert_int_equal(rt_call(&c, GVW_OP_MODULE_GET_FUNCTION, "qs", mod, "spin_ns"), 0);
    uint64_t f = c.reply.v[1];

    uint64_t ns = KERNEL_NS, kernels = 0;
    uint64_t t0 = rt_now_ms(), t1 = t0;
    while (t1 - t0 < WINDOW_MS) {
        for (int k = 0; k < 4; k++) {
            assert_int_equal(rt_send(&c, GVW_OP_LAUNCH, GVW_F_NOREPLY, "qiiiiiiiqibb", f, 1u, 1u,
                                     1u, 1u, 1u, 1u, 0u, (uint64_t)0, 0u, &ns, sizeof(ns), "",
                                     (size_t)0),
                             0);
            kernels++;
        }
        assert_int_equal(rt_call(&c, GVW_OP_CTX_SYNCHRONIZE, ""), 0);
        t1 = rt_now_ms();
    }
    rt_close(&c);
    double share = (double)(kernels * KERNEL_NS) / 1e6 / (double)(t1 - t0);
    fprintf(stderr, "%llu kernels of %llu ms in %llu ms: %.1f%% busy\n",
            (unsigned long long)kernels, (unsigned long long)(KERNEL_NS / 1000000),
            (unsigned long long)(t1 - t0), 100 * share);
    return share;
}

static void fixed_share_holds(void **state)
{
    (void)state;
    struct rt_server s;
    struct rt_opts o = {.compute = "30", .policy = "fixed"};
    assert_int_equal(rt_start(&s, &o), 0);
    double share = busy_share(&s);
    rt_stop(&s);
    assert_true(share > 0.25 && share < 0.36);
}

static void no_limit_gets_the_gpu(void **state)
{
    (void)state;
    struct rt_server s;
    struct rt_opts o = {0};
    assert_int_equal(rt_start(&s, &o), 0);
    double share = busy_share(&s);
    rt_stop(&s);
    assert_true(share > 0.6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_share_holds),
        cmocka_unit_test(no_limit_gets_the_gpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
