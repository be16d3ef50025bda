/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz.h: what the fuzz targets share.
 *
 * Each file in fuzz/ is one libFuzzer target for one parser: it defines LLVMFuzzerTestOneInput and
 * nothing else that a fuzzer needs. The same file, linked with replay.c instead of libFuzzer, is a
 * plain program that runs the seed corpus (or files given on its command line) once; that is how
 * `make check` keeps the targets building and their seeds passing with any compiler. A target finds
 * a bug by crashing: a sanitizer report, or fuzz_check() failing on a property the parser promises
 * (what gv_size_format prints parses back to the same size, an error message is a terminated
 * string ...). */
#ifndef GV_FUZZ_H
#define GV_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with the broken property; libFuzzer then saves the input as a crash. */
#define fuzz_check(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input as a string on the heap, exactly as long as it must be: a parser that reads past the
 * terminator then reads past the allocation, which AddressSanitizer reports. Stops at the first
 * NUL, as every C string the parsers get from argv or the environment does. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = malloc(n + 1);
    if (!s)
        abort();
    memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Split the input into up to `max` strings at newlines (each from fuzz_string). Returns how many;
 * free each with free(). Lets one input drive a parser several times in a row, as repeated options
 * do. */
static inline size_t fuzz_lines(const uint8_t *data, size_t size, char **out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        out[n++] = fuzz_string(data, len);
        if (!nl)
            break;
        size -= len + 1;
        data = nl + 1;
    }
    return n;
}

/* True if the message of a gv_error is a terminated string within its buffer. */
#define fuzz_msg_ok(err) (memchr((err).msg, 0, sizeof((err).msg)) != NULL)

#endif
