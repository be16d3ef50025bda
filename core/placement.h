/* SPDX-License-Identifier: Apache-2.0 */
/* placement.h: which GPU takes a new instance.
 *
 * The daemon describes each GPU as it stands (memory and time already promised to instances) and
 * asks for room for one more instance of `memory` bytes and `share` basis points of the GPU's
 * time. The one promise, whatever the policy: a GPU is chosen only if, with the new instance,
 * neither its memory nor its time is overcommitted (memory_used + memory <= memory_total and
 * share_used + share <= GV_SHARE_FULL), it holds fewer than profile_max instances of the profile
 * asked (when there is such a cap), and it is eligible. A share of 0 means no compute limit: the
 * instance takes no time from the others' shares and always fits in time.
 *
 * Pure logic: no I/O, no allocation, no state; the caller holds its own lock around the decision
 * and the bookkeeping that follows it. A table that is already overcommitted (a GPU whose memory
 * shrank under its instances) is read as having nothing left, never as wrapping around. */
#ifndef GV_PLACEMENT_H
#define GV_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

struct gv_place_gpu {
    uint64_t memory_total, memory_used; /* bytes; used = promised to instances */
    uint32_t share_used;                /* basis points promised to instances */
    uint32_t instances;                 /* instances on it, of any profile */
    uint32_t profile_instances;         /* of the profile asked */
    uint32_t profile_max;               /* 0 = no per-GPU cap */
    bool eligible;                      /* mode sliced, model matches */
};

enum gv_place_policy {
    /* Fill GPUs one after another: the fitting GPU with the least memory left after placement
     * (ties: least time left, then lowest index), which keeps whole GPUs free for large asks. */
    GV_PLACE_BINPACK,
    /* Share the load: the fitting GPU with the most memory left (ties: most time left, fewest
     * instances, then lowest index). */
    GV_PLACE_SPREAD,
};

/* Index of the GPU (0..n-1) for a request of memory bytes and share basis points. -ENOSPC when
 * none fits, with a message that says why: "no GPU is eligible ..." when none is, else the GPU that
 * came closest and what it lacks, in the units a person reads ("no GPU has room: GPU 1 has 2 GiB
 * of memory left and 4 GiB was asked"). -EINVAL for a request of 0 bytes, a share over 100%, an
 * unknown policy or a NULL table with n > 0. */
int gv_place(const struct gv_place_gpu *gpus, size_t n, uint64_t memory, uint32_t share,
             enum gv_place_policy policy, struct gv_error *err);

/* Whether one given GPU takes the request, under the same rules: an explicit "gpu" in a request,
 * or a resize (pass the GPU with the instance's own memory and share taken out). 0, -ENOSPC with a
 * message about "the GPU" (the caller, which knows its index, adds it in front), or -EINVAL as
 * gv_place. */
int gv_place_check(const struct gv_place_gpu *g, uint64_t memory, uint32_t share,
                   struct gv_error *err);

#endif
