/* SPDX-License-Identifier: Apache-2.0 */
/* test_catalogue.c: the built-in models and profiles, look-up in every accepted form, near-match
 * messages, and custom profiles. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/catalogue.h"
#include "core/size.h"

static const struct gv_model *model(const char *name)
{
    struct gv_error err = {0};
    const struct gv_model *m = gv_model_find(name, &err);
    if (!m)
        fail_msg("gv_model_find(\"%s\"): %s", name, err.msg);
    return m;
}

static void test_models(void **state)
{
    (void)state;
    const struct gv_model *t4 = model("T4");
    assert_string_equal(t4->name, "T4");
    assert_int_equal(t4->memory, 16 * GV_GiB);
    assert_int_equal(t4->sms, 40);
    assert_int_equal(t4->cc_major, 7);
    assert_int_equal(t4->cc_minor, 5);
    assert_int_equal(t4->pci_device_id, 0x1EB8);
    assert_ptr_equal(model("t4"), t4);
    assert_ptr_equal(model("Tesla T4"), t4);

    const struct gv_model *h200 = model("h200");
    assert_int_equal(h200->memory, 141 * GV_GiB);
    assert_int_equal(h200->sms, 132);
    assert_int_equal(h200->cc_major, 9);
    assert_ptr_equal(model("H200-NVL"), h200);
    assert_int_equal(model("H200X")->memory, 141 * GV_GiB);

    assert_int_equal(model("A100-40GB")->memory, 40 * GV_GiB);
    assert_int_equal(model("A100-80GB")->memory, 80 * GV_GiB);
    assert_int_equal(model("A100-80GB")->sms, 108);
    assert_int_equal(model("H100")->sms, 114);
    assert_int_equal(model("H100-SXM")->sms, 132);
    assert_int_equal(model("H100-80GB")->memory, 80 * GV_GiB);

    /* Every model has profiles, each no bigger than the board, and the counts fit. */
    for (size_t i = 0; i < gv_model_count(); i++) {
        const struct gv_model *m = gv_model_at(i);
        assert_non_null(m);
        assert_true(m->nprofiles > 0);
        assert_true(m->mem_bandwidth > 0);
        for (size_t j = 0; j < m->nprofiles; j++) {
            const struct gv_profile *p = &m->profiles[j];
            assert_true(p->memory <= m->memory);
            assert_true(p->max_instances >= 1);
            assert_true(p->share > 0 && p->share <= GV_SHARE_FULL);
            if (p->kind == GV_PROFILE_TIMESLICED)
                assert_true(p->memory * p->max_instances <= m->memory);
        }
    }
    assert_null(gv_model_at(gv_model_count()));
}

static void test_model_unknown(void **state)
{
    (void)state;
    struct gv_error err = {0};
    assert_null(gv_model_find("T5", &err));
    assert_int_equal(err.code, -ENOENT);
    assert_non_null(strstr(err.msg, "\"T5\""));
    assert_non_null(strstr(err.msg, "T4"));
    assert_null(gv_model_find("H2000", &err));
    assert_non_null(strstr(err.msg, "H200"));
    assert_null(gv_model_find("", &err));
    assert_null(gv_model_find(NULL, &err));
    assert_null(gv_model_find("zzzzzzzz", &err));
    assert_non_null(strstr(err.msg, "known"));
}

static const struct gv_profile *profile(const char *name, const struct gv_model *on,
                                        const struct gv_model **m)
{
    struct gv_error err = {0};
    const struct gv_profile *p = NULL;
    if (gv_profile_find(name, on, &p, m, &err))
        fail_msg("gv_profile_find(\"%s\"): %s", name, err.msg);
    return p;
}

static void test_profiles(void **state)
{
    (void)state;
    const struct gv_model *m = NULL, *t4 = model("T4");
    const struct gv_profile *p = profile("T4-4C", NULL, &m);
    assert_ptr_equal(m, t4);
    assert_string_equal(p->name, "4C");
    assert_int_equal(p->memory, 4 * GV_GiB);
    assert_int_equal(p->share, 2500);
    assert_int_equal(p->max_instances, 4);
    assert_int_equal(p->kind, GV_PROFILE_TIMESLICED);
    assert_ptr_equal(profile("t4-4c", NULL, NULL), p);
    assert_ptr_equal(profile("4C", t4, NULL), p);
    assert_ptr_equal(profile("4c", t4, NULL), p);
    assert_ptr_equal(profile("T4-4C", t4, NULL), p);

    p = profile("T4-1Q", NULL, NULL);
    assert_int_equal(p->memory, GV_GiB);
    assert_int_equal(p->max_instances, 16);
    assert_int_equal(p->share, 625);

    p = profile("H200-1g.18gb", NULL, &m);
    assert_ptr_equal(m, model("H200"));
    assert_int_equal(p->kind, GV_PROFILE_MIG);
    assert_int_equal(p->memory, 18 * GV_GiB);
    assert_int_equal(p->max_instances, 7);
    assert_int_equal(p->share, 1428);
    assert_int_equal(p->slices, 1);
    assert_int_equal(profile("h200-3G.71GB", NULL, NULL)->share, 4285);
    assert_int_equal(profile("H200X-141C", NULL, NULL)->share, GV_SHARE_FULL);

    /* Board prefixes pick the board: A100D is the 80 GB PCIe card. */
    profile("A100D-8C", NULL, &m);
    assert_int_equal(m->memory, 80 * GV_GiB);
    assert_int_equal(profile("A100D-8C", NULL, NULL)->max_instances, 10);
    assert_int_equal(profile("A100-8C", NULL, NULL)->max_instances, 5);
    /* Aliases with dashes work as prefixes. */
    profile("A100-80GB-16C", NULL, &m);
    assert_ptr_equal(m, model("A100D"));
    assert_int_equal(profile("H100-1g.10gb", NULL, NULL)->max_instances, 7);
    assert_int_equal(profile("A100-7g.40gb", NULL, NULL)->slices, 7);
}

static void profile_bad(const char *name, const struct gv_model *on, const char *needle)
{
    struct gv_error err = {0};
    const struct gv_profile *p = (const struct gv_profile *)&err;
    int rc = gv_profile_find(name, on, &p, NULL, &err);
    if (rc >= 0)
        fail_msg("gv_profile_find(\"%s\") succeeded", name ? name : "(null)");
    assert_ptr_equal(p, (const struct gv_profile *)&err);
    if (needle && !strstr(err.msg, needle))
        fail_msg("message for \"%s\" lacks \"%s\": %s", name, needle, err.msg);
}

static void test_profile_unknown(void **state)
{
    (void)state;
    profile_bad(NULL, NULL, "empty");
    profile_bad("", NULL, "empty");
    profile_bad("T4-3C", NULL, "T4-4C");
    profile_bad("T4-3C", NULL, "unknown profile \"T4-3C\"");
    profile_bad("4C", NULL, "BOARD-PROFILE");
    profile_bad("3C", model("T4"), "on T4");
    profile_bad("H200-1g.19gb", NULL, "H200-1g.18gb");
    profile_bad("T5-4C", NULL, "T4-4C");
    /* A profile of another board is not found on this one. */
    profile_bad("1g.18gb", model("T4"), NULL);
    profile_bad("H200-4C", model("T4"), NULL);
}

static void test_custom(void **state)
{
    (void)state;
    struct gv_profile p;
    struct gv_error err = {0};
    assert_int_equal(gv_profile_custom(2 * GV_GiB, 2500, NULL, &p, &err), 0);
    assert_int_equal(p.kind, GV_PROFILE_CUSTOM);
    assert_int_equal(p.memory, 2 * GV_GiB);
    assert_int_equal(p.share, 2500);
    assert_int_equal(gv_profile_custom(16 * GV_GiB, GV_SHARE_FULL, model("T4"), &p, &err), 0);
    assert_int_equal(gv_profile_custom(0, 2500, NULL, &p, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "memory"));
    assert_int_equal(gv_profile_custom(GV_GiB, 0, NULL, &p, &err), -EINVAL);
    assert_int_equal(gv_profile_custom(GV_GiB, GV_SHARE_FULL + 1, NULL, &p, &err), -EINVAL);
    assert_int_equal(gv_profile_custom(17 * GV_GiB, 2500, model("T4"), &p, &err), -ERANGE);
    assert_non_null(strstr(err.msg, "17 GiB"));
    assert_non_null(strstr(err.msg, "16 GiB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models),   cmocka_unit_test(test_model_unknown),
        cmocka_unit_test(test_profiles), cmocka_unit_test(test_profile_unknown),
        cmocka_unit_test(test_custom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
