/* SPDX-License-Identifier: Apache-2.0 */
/* policy.c: the names of the compute policies and priorities, and the turn key (policy.h). */
#include "core/policy.h"

#include <errno.h>
#include <strings.h>

#include "core/size.h"

static const char *const policies[] = {
    [GV_POLICY_GUARANTEED] = "guaranteed",
    [GV_POLICY_FIXED] = "fixed",
    [GV_POLICY_BEST_EFFORT] = "best-effort",
};

static const char *const priorities[] = {
    [GV_PRIORITY_NORMAL] = "normal",
    [GV_PRIORITY_HIGH] = "high",
    [GV_PRIORITY_LOW] = "low",
};

/* The order priorities rank in: high first. */
static const unsigned rank[] = {
    [GV_PRIORITY_HIGH] = 0,
    [GV_PRIORITY_NORMAL] = 1,
    [GV_PRIORITY_LOW] = 2,
};

int gv_policy_parse(const char *text, enum gv_policy *out, struct gv_error *err)
{
    for (unsigned i = 0; text && i < sizeof(policies) / sizeof(policies[0]); i++)
        if (!strcasecmp(text, policies[i])) {
            *out = (enum gv_policy)i;
            return 0;
        }
    return gv_error_set(err, -EINVAL, "compute policy \"%.32s\": not one of " GV_POLICY_NAMES,
                        text ? text : "");
}

int gv_priority_parse(const char *text, enum gv_priority *out, struct gv_error *err)
{
    for (unsigned i = 0; text && i < sizeof(priorities) / sizeof(priorities[0]); i++)
        if (!strcasecmp(text, priorities[i])) {
            *out = (enum gv_priority)i;
            return 0;
        }
    return gv_error_set(err, -EINVAL, "priority \"%.32s\": not one of " GV_PRIORITY_NAMES,
                        text ? text : "");
}

const char *gv_policy_name(enum gv_policy p)
{
    return (unsigned)p < sizeof(policies) / sizeof(policies[0]) ? policies[p] : "?";
}

const char *gv_priority_name(enum gv_priority p)
{
    return (unsigned)p < sizeof(priorities) / sizeof(priorities[0]) ? priorities[p] : "?";
}

uint64_t gv_vtime_of(uint64_t device_ns, uint32_t share)
{
    uint32_t w = share == 0 || share > GV_SHARE_FULL ? GV_SHARE_FULL
                 : share < GV_SHARE_FULL / 100   ? GV_SHARE_FULL / 100
                                                 : share;
    unsigned __int128 v = (unsigned __int128)device_ns * GV_SHARE_FULL / w;
    return v > GV_KEY_VTIME_MAX ? GV_KEY_VTIME_MAX : (uint64_t)v;
}

uint64_t gv_sched_key(enum gv_priority prio, enum gv_policy policy, uint64_t vtime)
{
    uint64_t r = (unsigned)prio < 3 ? rank[prio] : rank[GV_PRIORITY_NORMAL];
    uint64_t be = policy == GV_POLICY_BEST_EFFORT ? 1 : 0;
    return r << 62 | be << 61 | (vtime > GV_KEY_VTIME_MAX ? GV_KEY_VTIME_MAX : vtime);
}

enum gv_priority gv_key_priority(uint64_t key)
{
    unsigned r = (unsigned)(key >> 62);
    return r == 0 ? GV_PRIORITY_HIGH : r == 1 ? GV_PRIORITY_NORMAL : GV_PRIORITY_LOW;
}
