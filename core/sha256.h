/* SPDX-License-Identifier: Apache-2.0 */
/* sha256.h: SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), hex text and a constant-time compare.
 *
 * The daemon stores API tokens as their SHA-256 in hex, never the tokens themselves, and compares
 * a presented token's digest with the stored one in constant time, so that neither the database
 * nor the time a refusal takes gives a token away. A digest is 32 bytes; its text is 64 lowercase
 * hex characters. Pure functions: no allocation, no I/O, no state between calls. */
#ifndef GV_SHA256_H
#define GV_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GV_SHA256_LEN 32 /* bytes of a digest */
#define GV_SHA256_HEX 65 /* its hex text and the terminator */

/* out = SHA-256 of data[0..len). data may be NULL when len is 0. */
void gv_sha256(const void *data, size_t len, uint8_t out[32]);

/* out = HMAC-SHA256 of data[0..len) under key[0..klen) (a key longer than the 64-byte block is
 * hashed first, as RFC 2104 says). */
void gv_hmac_sha256(const void *key, size_t klen, const void *data, size_t len, uint8_t out[32]);

/* Write in[0..n) as 2n lowercase hex characters and a terminator into out (2n+1 bytes). */
void gv_hex(const uint8_t *in, size_t n, char *out);

/* True if a[0..n) equals b[0..n). Reads every byte whatever it finds, so the time taken does not
 * depend on where the first difference is. */
bool gv_equal_ct(const void *a, const void *b, size_t n);

#endif
