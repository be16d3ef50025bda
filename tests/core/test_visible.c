/* SPDX-License-Identifier: Apache-2.0 */
/* test_visible.c: CUDA_VISIBLE_DEVICES as the driver reads it (core/visible.c): indices, UUID
 * prefixes in any case, blanks, and the list ending at the first entry that names nothing,
 * repeats a GPU or is ambiguous. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/visible.h"

static const char *uuids[] = {
    "GPU-3f2a0000-1111-2222-3333-444444444444",
    "GPU-3f2b0000-1111-2222-3333-444444444444",
    "GPU-9c000000-1111-2222-3333-444444444444",
    "GPU-9c100000-1111-2222-3333-444444444444",
};
#define N 4u

static int asked;

static bool text_of(unsigned index, char *buf, size_t len, void *arg)
{
    (void)arg;
    asked++;
    return index < N && snprintf(buf, len, "%s", uuids[index]) < (int)len;
}

/* The visible list as "a,b,c" for one assertion. */
static const char *parse(const char *list)
{
    static char out[64];
    int idx[8];
    unsigned n = gv_visible_parse(list, N, text_of, NULL, idx, 8);
    size_t at = 0;
    out[0] = '\0';
    for (unsigned i = 0; i < n; i++)
        at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%d", i ? "," : "", idx[i]);
    return out;
}

static void test_indices(void **state)
{
    (void)state;
    asked = 0;
    assert_string_equal(parse("2,0"), "2,0");
    assert_string_equal(parse(" 1 ,\t3"), "1,3");
    assert_string_equal(parse(""), "");
    assert_int_equal(asked, 0); /* indices alone never ask for a UUID */
}

static void test_uuid_prefixes(void **state)
{
    (void)state;
    assert_string_equal(parse("gpu-3F2B,GPU-9c1"), "1,3");
    assert_string_equal(parse("GPU-9c000000-1111-2222-3333-444444444444,0"), "2,0");
}

static void test_list_ends(void **state)
{
    (void)state;
    assert_string_equal(parse("1,7,2"), "1");     /* no GPU 7: the rest is hidden */
    assert_string_equal(parse("0,2,0,3"), "0,2"); /* a repeat ends it */
    assert_string_equal(parse("3,GPU-3f2"), "3"); /* an ambiguous prefix names nothing */
    assert_string_equal(parse("1,,2"), "1");      /* an empty entry too */
    assert_string_equal(parse("-1,0"), "");
    assert_string_equal(parse("99999999999,0"), "");
}

static void test_cap(void **state)
{
    (void)state;
    int idx[2] = {-1, -1};
    assert_int_equal(gv_visible_parse("3,2,1,0", N, text_of, NULL, idx, 2), 2);
    assert_int_equal(idx[0], 3);
    assert_int_equal(idx[1], 2);
    assert_int_equal(gv_visible_parse("GPU-3f2a", N, NULL, NULL, idx, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indices),
        cmocka_unit_test(test_uuid_prefixes),
        cmocka_unit_test(test_list_ends),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
