/* SPDX-License-Identifier: Apache-2.0 */
/* test_sha256.c: SHA-256 against the FIPS 180-4 examples and NIST's long message, the padding at
 * every block boundary, HMAC-SHA256 against RFC 4231 cases 1-7, hex text and the constant-time
 * compare. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/sha256.h"

static void expect_sha(const void *data, size_t len, const char *want)
{
    uint8_t d[GV_SHA256_LEN];
    char hex[GV_SHA256_HEX];
    gv_sha256(data, len, d);
    gv_hex(d, sizeof(d), hex);
    assert_string_equal(hex, want);
}

/* Compare the first `want`'s length of hex digits (RFC 4231 case 5 checks 128 bits only). */
static void expect_hmac(const void *key, size_t klen, const void *data, size_t len,
                        const char *want)
{
    uint8_t d[GV_SHA256_LEN];
    char hex[GV_SHA256_HEX];
    gv_hmac_sha256(key, klen, data, len, d);
    gv_hex(d, sizeof(d), hex);
    hex[strlen(want)] = '\0';
    assert_string_equal(hex, want);
}

static void test_sha_short(void **state)
{
    (void)state;
    expect_sha(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_sha_two_blocks(void **state)
{
    (void)state;
    static const char m448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    static const char m896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                               "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    assert_int_equal(strlen(m448) * 8, 448);
    assert_int_equal(strlen(m896) * 8, 896);
    expect_sha(m448, strlen(m448),
               "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect_sha(m896, strlen(m896),
               "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_sha_million_a(void **state)
{
    (void)state;
    enum { N = 1000000 };
    char *m = malloc(N);
    assert_non_null(m);
    memset(m, 'a', N);
    expect_sha(m, N, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

/* The length and the 1 bit just fit in the last block, just do not, or start a new one. */
static void test_sha_padding_edges(void **state)
{
    (void)state;
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char m[128];
    memset(m, 'a', sizeof(m));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_sha(m, cases[i].n, cases[i].hex);
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t k[131], d[50];

    memset(k, 0x0b, 20); /* case 1 */
    expect_hmac(k, 20, "Hi There", 8,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    static const char q2[] = "what do ya want for nothing?"; /* case 2 */
    expect_hmac("Jefe", 4, q2, strlen(q2),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(k, 0xaa, 20); /* case 3 */
    memset(d, 0xdd, 50);
    expect_hmac(k, 20, d, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    for (int i = 0; i < 25; i++) /* case 4 */
        k[i] = (uint8_t)(i + 1);
    memset(d, 0xcd, 50);
    expect_hmac(k, 25, d, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

    memset(k, 0x0c, 20); /* case 5: the RFC gives the first 128 bits */
    expect_hmac(k, 20, "Test With Truncation", 20, "a3b6167473100ee06e0c796c2955552b");

    memset(k, 0xaa, 131); /* case 6: a key longer than the block */
    static const char q6[] = "Test Using Larger Than Block-Size Key - Hash Key First";
    expect_hmac(k, 131, q6, strlen(q6),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

    static const char q7[] = "This is a test using a larger than block-size key and a larger "
                             "than block-size data. The key needs to be hashed before being "
                             "used by the HMAC algorithm."; /* case 7 */
    expect_hmac(k, 131, q7, strlen(q7),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_hmac_empty(void **state)
{
    (void)state;
    expect_hmac(NULL, 0, NULL, 0,
                "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    char k[64];
    memset(k, 'k', sizeof(k)); /* exactly one block: used as is, not hashed */
    expect_hmac(k, sizeof(k), "", 0,
                "83026a325aaee70e36cfe607536aa1054104ad1077c36134810d4ccded1ccd3b");
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(in) + 1];
    memset(out, 'x', sizeof(out));
    gv_hex(in, sizeof(in), out);
    assert_string_equal(out, "00017f80abff");
    char empty[1] = {'x'};
    gv_hex(in, 0, empty);
    assert_int_equal(empty[0], '\0');
}

static void test_equal_ct(void **state)
{
    (void)state;
    uint8_t a[32], b[32];
    memset(a, 0x5a, sizeof(a));
    memcpy(b, a, sizeof(b));
    assert_true(gv_equal_ct(a, b, sizeof(a)));
    assert_true(gv_equal_ct(a, b, 0));
    for (size_t i = 0; i < sizeof(b); i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_false(gv_equal_ct(a, b, sizeof(a)));
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_true(gv_equal_ct(a, b, sizeof(a)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha_short),     cmocka_unit_test(test_sha_two_blocks),
        cmocka_unit_test(test_sha_million_a), cmocka_unit_test(test_sha_padding_edges),
        cmocka_unit_test(test_hmac_rfc4231),  cmocka_unit_test(test_hmac_empty),
        cmocka_unit_test(test_hex),           cmocka_unit_test(test_equal_ct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
