/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.c: SHA-256 as FIPS 180-4 section 6.2 defines it, and HMAC over it as RFC 2104 does.
 *
 * A small streaming state (init, update, final) serves both: HMAC hashes the padded key and the
 * message as one stream without copying the message. Written for clarity over speed: the daemon
 * hashes a token of a few dozen bytes per request. */
#include "core/sha256.h"

#include <string.h>

enum { BLOCK = 64 }; /* bytes per SHA-256 block, also HMAC's B */

struct sha256 {
    uint32_t h[8];
    uint8_t buf[BLOCK];
    size_t fill;    /* bytes waiting in buf, < BLOCK */
    uint64_t total; /* message bytes so far; the padding holds it in bits (mod 2^64) */
};

/* FIPS 180-4 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first 64
 * primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 5.3.3: the first 32 bits of the fractional parts of the square roots of the first 8
 * primes. */
static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* FIPS 180-4 6.2.2: one 512-bit block into the hash value. */
static void compress(uint32_t h[8], const uint8_t block[BLOCK])
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = s1 + w[t - 7] + s0 + w[t - 16];
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + S1 + ch + K[t] + w[t];
        uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = S0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

static void sha_init(struct sha256 *s)
{
    memcpy(s->h, H0, sizeof(H0));
    s->fill = 0;
    s->total = 0;
}

static void sha_update(struct sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    if (s->fill) {
        size_t take = BLOCK - s->fill < len ? BLOCK - s->fill : len;
        memcpy(s->buf + s->fill, p, take);
        s->fill += take;
        p += take;
        len -= take;
        if (s->fill < BLOCK)
            return;
        compress(s->h, s->buf);
        s->fill = 0;
    }
    for (; len >= BLOCK; p += BLOCK, len -= BLOCK)
        compress(s->h, p);
    if (len) {
        memcpy(s->buf, p, len);
        s->fill = len;
    }
}

/* FIPS 180-4 5.1.1: a 1 bit, zeros up to 56 bytes into a block, the length in bits (64 bits,
 * big-endian). */
static void sha_final(struct sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    s->buf[s->fill++] = 0x80;
    if (s->fill > BLOCK - 8) {
        memset(s->buf + s->fill, 0, BLOCK - s->fill);
        compress(s->h, s->buf);
        s->fill = 0;
    }
    memset(s->buf + s->fill, 0, BLOCK - 8 - s->fill);
    store_be32(s->buf + BLOCK - 8, (uint32_t)(bits >> 32));
    store_be32(s->buf + BLOCK - 4, (uint32_t)bits);
    compress(s->h, s->buf);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, s->h[i]);
}

void gv_sha256(const void *data, size_t len, uint8_t out[32])
{
    struct sha256 s;
    sha_init(&s);
    if (len)
        sha_update(&s, data, len);
    sha_final(&s, out);
}

/* RFC 2104: H(K ^ opad || H(K ^ ipad || text)), K zero-padded to the block (hashed first if
 * longer than it). */
void gv_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[32])
{
    uint8_t k[BLOCK] = {0}, pad[BLOCK], inner[GV_SHA256_LEN];
    if (klen > BLOCK)
        gv_sha256(key, klen, k);
    else if (klen)
        memcpy(k, key, klen);

    struct sha256 s;
    for (int i = 0; i < BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x36);
    sha_init(&s);
    sha_update(&s, pad, BLOCK);
    if (len)
        sha_update(&s, data, len);
    sha_final(&s, inner);

    for (int i = 0; i < BLOCK; i++)
        pad[i] = (uint8_t)(k[i] ^ 0x5c);
    sha_init(&s);
    sha_update(&s, pad, BLOCK);
    sha_update(&s, inner, sizeof(inner));
    sha_final(&s, out);
}

void gv_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

bool gv_equal_ct(const void *a, const void *b, size_t n)
{
    /* volatile: the compiler may not stop at the first difference. */
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}
