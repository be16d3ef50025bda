/* SPDX-License-Identifier: Apache-2.0 */
/* uuid.c (fuzz): GPU UUIDs as text (core/uuid.c), which the CLI reads from options, the interposer
 * from limit strings and NVML, and the region tools from their arguments.
 *
 * The input is read as a UUID with and without GV_UUID_PREFIXED, over exactly its length (so that
 * AddressSanitizer sees a read past it). Properties:
 *   - the reader agrees with a plain restatement of uuid.h's rule: an optional "GPU-" or "MIG-" in
 *     any case, then only hex digits and dashes, exactly 32 digits, giving the same 16 bytes;
 *   - with GV_UUID_PREFIXED it accepts exactly what it accepts without, less the texts without
 *     the prefix;
 *   - a refusal has a terminated message and leaves the caller's bytes alone;
 *   - what gv_uuid_format writes for the bytes is NVML's form and reads back to them. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "core/uuid.h"
#include "fuzz/fuzz.h"

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 0x20);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* uuid.h's rule, written out again. */
static bool expect(const char *s, size_t len, bool *prefixed, uint8_t out[GV_UUID_LEN])
{
    *prefixed = len >= 4 && (strncasecmp(s, "GPU-", 4) == 0 || strncasecmp(s, "MIG-", 4) == 0);
    size_t i = *prefixed ? 4 : 0, n = 0;
    memset(out, 0, GV_UUID_LEN);
    for (; i < len; i++) {
        if (s[i] == '-')
            continue;
        int v = hex(s[i]);
        if (v < 0 || n >= 2 * GV_UUID_LEN)
            return false;
        out[n / 2] = (uint8_t)(out[n / 2] | (n % 2 ? v : v << 4));
        n++;
    }
    return n == 2 * GV_UUID_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Exactly size bytes on the heap, no terminator: the reader must stop at len. */
    char *text = malloc(size ? size : 1);
    if (!text)
        abort();
    memcpy(text, data, size);

    uint8_t want[GV_UUID_LEN];
    bool prefixed;
    bool ok = expect(text, size, &prefixed, want);

    uint8_t got[GV_UUID_LEN], strict[GV_UUID_LEN];
    memset(got, 0x5a, sizeof(got));
    memset(strict, 0x5a, sizeof(strict));
    struct gv_error err = {0}, serr = {0};
    int rc = gv_uuid_parse(text, size, 0, got, &err);
    int src = gv_uuid_parse(text, size, GV_UUID_PREFIXED, strict, &serr);

    fuzz_check((rc == 0) == ok);
    fuzz_check((src == 0) == (ok && prefixed));
    if (rc == 0) {
        fuzz_check(memcmp(got, want, GV_UUID_LEN) == 0);
        char out[GV_UUID_TEXT];
        uint8_t back[GV_UUID_LEN];
        gv_uuid_format(got, out);
        fuzz_check(strlen(out) == GV_UUID_TEXT - 1 && strncmp(out, "GPU-", 4) == 0);
        for (size_t i = 4; i < GV_UUID_TEXT - 1; i++)
            fuzz_check(
                (i == 12 || i == 17 || i == 22 || i == 27)
                    ? out[i] == '-'
                    : ((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'f')));
        fuzz_check(gv_uuid_parse(out, strlen(out), GV_UUID_PREFIXED, back, NULL) == 0);
        fuzz_check(memcmp(back, got, GV_UUID_LEN) == 0);
    } else {
        fuzz_check(rc == -EINVAL && err.code == rc && fuzz_msg_ok(err) && err.msg[0]);
        for (size_t i = 0; i < GV_UUID_LEN; i++)
            fuzz_check(got[i] == 0x5a);
    }
    if (src == 0)
        fuzz_check(memcmp(strict, want, GV_UUID_LEN) == 0);
    else
        fuzz_check(src == -EINVAL && fuzz_msg_ok(serr) && serr.msg[0]);
    free(text);
    return 0;
}
