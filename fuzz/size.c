/* SPDX-License-Identifier: Apache-2.0 */
/* size.c (fuzz): the parsers of sizes and compute shares, gv_size_parse and gv_share_parse.
 *
 * Both run on every --memory and --compute a user types and on every GPUVISOR_MEMORY and
 * CUDA_DEVICE_MEMORY_LIMIT an interposed process reads, so any text must give a value or an error
 * with a message, never a crash. Beyond that, the properties checked:
 *   - an accepted share is within (0, 100%];
 *   - whatever a parser accepts, its printer prints back as text that parses to the same value, and
 *     whatever value the input's first bytes make, gv_size_format and gv_share_format print text
 *     that parses back to it: what `gpuvisor smi` shows can always be pasted into an option. */
#include <string.h>

#include "core/size.h"
#include "fuzz/fuzz.h"

static void size_round_trip(uint64_t bytes)
{
    char buf[64];
    struct gv_error err = {0};
    uint64_t again = 0;
    gv_size_format(bytes, buf, sizeof(buf));
    if (gv_size_parse(buf, &again, &err) != 0) {
        fprintf(stderr, "size %llu printed as \"%s\" does not parse: %s\n",
                (unsigned long long)bytes, buf, err.msg);
        abort();
    }
    fuzz_check(again == bytes);
}

static void share_round_trip(uint32_t share)
{
    char buf[32];
    struct gv_error err = {0};
    uint32_t again = 0;
    gv_share_format(share, buf, sizeof(buf));
    if (gv_share_parse(buf, &again, &err) != 0) {
        fprintf(stderr, "share %u printed as \"%s\" does not parse: %s\n", share, buf, err.msg);
        abort();
    }
    fuzz_check(again == share);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    struct gv_error err = {0};

    uint64_t bytes = 0;
    if (gv_size_parse(text, &bytes, &err) == 0)
        size_round_trip(bytes);
    else
        fuzz_check(err.code < 0 && fuzz_msg_ok(err));

    uint32_t share = 0;
    memset(&err, 0, sizeof(err));
    if (gv_share_parse(text, &share, &err) == 0) {
        fuzz_check(share > 0 && share <= GV_SHARE_FULL);
        share_round_trip(share);
    } else {
        fuzz_check(err.code < 0 && fuzz_msg_ok(err));
    }
    free(text);

    /* The raw bytes as a value: the printers' side of the round trip. */
    if (size >= sizeof(uint64_t)) {
        uint64_t v;
        memcpy(&v, data, sizeof(v));
        size_round_trip(v);
        share_round_trip((uint32_t)(v % GV_SHARE_FULL) + 1);
    }
    return 0;
}
