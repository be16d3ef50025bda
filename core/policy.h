/* SPDX-License-Identifier: Apache-2.0 */
/* policy.h: how an instance's share of a GPU's time is kept, and its rank among the instances
 * that take turns on the GPU.
 *
 * Three policies, as a vGPU host's schedulers offer them:
 *   - fixed: exactly the share, alone on the GPU or not (a token bucket, core/budget.h);
 *   - guaranteed (the default): at least the share whenever the instance has work; time the others
 *     leave goes to the instances that want it, in proportion to their shares;
 *   - best-effort: only what fixed and guaranteed instances leave, shared by share.
 * And three priorities: a waiting instance of a higher priority takes the GPU at the holder's next
 * turn boundary; within a priority the policies above hold.
 *
 * Who takes the GPU next is decided by one number per contender, its key: the lowest key wins.
 * Priority first, then class (fixed and guaranteed before best-effort), then virtual time: the
 * device time the instance was charged divided by its share, so that the instance that is most
 * behind its share goes first and busy instances get the GPU in proportion to their shares
 * (weighted fair queueing). The interposer, gpuvisord and the tools use these functions as the one
 * definition of the names, the environment variables and the key. */
#ifndef GV_POLICY_H
#define GV_POLICY_H

#include <stdint.h>

#include "core/error.h"

/* The zero values are the defaults: a region or record that says nothing is guaranteed, normal. */
enum gv_policy { GV_POLICY_GUARANTEED = 0, GV_POLICY_FIXED = 1, GV_POLICY_BEST_EFFORT = 2 };
enum gv_priority { GV_PRIORITY_NORMAL = 0, GV_PRIORITY_HIGH = 1, GV_PRIORITY_LOW = 2 };

#define GV_POLICY_ENV   "GPUVISOR_COMPUTE_POLICY" /* what the interposer reads */
#define GV_PRIORITY_ENV "GPUVISOR_PRIORITY"
#define GV_POLICY_NAMES "fixed, guaranteed or best-effort"
#define GV_PRIORITY_NAMES "high, normal or low"

/* Parse a name ("fixed", "guaranteed", "best-effort"; "high", "normal", "low"; any case). Return 0,
 * or -EINVAL with a message that quotes the text and lists the names. */
int gv_policy_parse(const char *text, enum gv_policy *out, struct gv_error *err);
int gv_priority_parse(const char *text, enum gv_priority *out, struct gv_error *err);

/* The names gv_*_parse read; "?" for a value out of range. */
const char *gv_policy_name(enum gv_policy p);
const char *gv_priority_name(enum gv_priority p);

/* Virtual time: device time divided by the weight (the share, basis points; 0 counts as a whole
 * GPU, and shares below 1% as 1%, so that virtual time grows at most 100 times faster than device
 * time). A whole GPU's instance advances by its device time. */
uint64_t gv_vtime_of(uint64_t device_ns, uint32_t share);

/* The key of a contender (lower goes first): priority in bits 62-63, best-effort in bit 61, virtual
 * time (saturated) below. */
#define GV_KEY_VTIME_MAX ((1ULL << 61) - 1)
uint64_t gv_sched_key(enum gv_priority prio, enum gv_policy policy, uint64_t vtime);

/* The rank a key says (GV_PRIORITY_HIGH ranks first). For tools and tests. */
enum gv_priority gv_key_priority(uint64_t key);

#endif
