/* SPDX-License-Identifier: Apache-2.0 */
/* placement.c (fuzz): gv_place and gv_place_check on any table of GPUs and any requests.
 *
 * The daemon trusts the placement's answer to keep every GPU within its memory and time, so the
 * promise is checked here on tables no test would write: sizes near 2^64, GPUs already
 * overcommitted, shares past 100%, caps already passed. The input, little-endian:
 *   1 byte            the number of GPUs (mod 65)
 *   23 bytes per GPU  memory_total u64, memory_used u64, share_used u16, instances u16,
 *                     profile_instances u8, profile_max u8, eligible u8 (low bit)
 *   11 bytes per ask  memory u64, share u16, policy u8 (low bit: spread)
 * (bytes past the end read as 0). Each ask that is placed is added to its GPU, so later asks meet
 * a fuller table. The properties:
 *   - a placement lands on an eligible GPU that, with the instance added, holds no more memory
 *     than it has, no more than 100% of its time (unless the instance takes none: a share of 0)
 *     and no more instances of the profile than its cap; gv_place_check agrees it fits;
 *   - a refusal is -ENOSPC only when no GPU fits, -EINVAL only for a bad request, always with a
 *     terminated message; gv_place_check refuses each GPU in turn then. */
#include <errno.h>
#include <stdbool.h>

#include "core/placement.h"
#include "core/size.h"
#include "fuzz/fuzz.h"

enum { MAX_GPUS = 64, MAX_ASKS = 256 };

struct reader {
    const uint8_t *p;
    size_t left;
};

static uint64_t take(struct reader *r, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        uint64_t b = 0;
        if (r->left) {
            b = *r->p++;
            r->left--;
        }
        v |= b << (8 * i);
    }
    return v;
}

/* The rules, restated from placement.h independently of placement.c. */
static bool fits(const struct gv_place_gpu *g, uint64_t memory, uint32_t share)
{
    return g->eligible && g->memory_used <= g->memory_total &&
           memory <= g->memory_total - g->memory_used &&
           (share == 0 ||
            (g->share_used <= GV_SHARE_FULL && share <= GV_SHARE_FULL - g->share_used)) &&
           (!g->profile_max || g->profile_instances < g->profile_max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = {data, size};
    struct gv_place_gpu gpus[MAX_GPUS];
    size_t n = take(&r, 1) % (MAX_GPUS + 1);
    for (size_t i = 0; i < n; i++) {
        struct gv_place_gpu *g = &gpus[i];
        g->memory_total = take(&r, 8);
        g->memory_used = take(&r, 8);
        g->share_used = (uint32_t)take(&r, 2);
        g->instances = (uint32_t)take(&r, 2);
        g->profile_instances = (uint32_t)take(&r, 1);
        g->profile_max = (uint32_t)take(&r, 1);
        g->eligible = take(&r, 1) & 1;
    }

    for (int ask = 0; ask < MAX_ASKS && r.left; ask++) {
        uint64_t memory = take(&r, 8);
        uint32_t share = (uint32_t)take(&r, 2);
        enum gv_place_policy policy = take(&r, 1) & 1 ? GV_PLACE_SPREAD : GV_PLACE_BINPACK;
        struct gv_error err = {0};
        int rc = gv_place(gpus, n, memory, share, policy, &err);
        if (rc < 0) {
            fuzz_check(err.code == rc && fuzz_msg_ok(err));
            if (rc == -EINVAL) {
                fuzz_check(memory == 0 || share > GV_SHARE_FULL);
                continue;
            }
            fuzz_check(rc == -ENOSPC);
            for (size_t i = 0; i < n; i++) {
                fuzz_check(!fits(&gpus[i], memory, share));
                fuzz_check(gv_place_check(&gpus[i], memory, share, NULL) == -ENOSPC);
            }
            continue;
        }
        fuzz_check((size_t)rc < n);
        struct gv_place_gpu *g = &gpus[rc];
        fuzz_check(fits(g, memory, share));
        fuzz_check(gv_place_check(g, memory, share, NULL) == 0);
        g->memory_used += memory;
        g->share_used += share;
        g->instances++;
        g->profile_instances++;
        /* The invariant itself, on the table as the daemon would now hold it. */
        fuzz_check(g->memory_used <= g->memory_total);
        fuzz_check(share == 0 || g->share_used <= GV_SHARE_FULL);
        fuzz_check(!g->profile_max || g->profile_instances <= g->profile_max);
    }
    return 0;
}
