/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_instance_patch.c (fuzz): PATCH /v1/instances/{id} bodies (gvd_parse_instance_patch).
 * Accepted: at least one of memory (over zero), compute (at most 100%), policy and priority (each
 * one of its names). */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_instance_patch p;
    struct gv_error err = {0};
    int rc = gvd_parse_instance_patch(body, size, &p, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_check(p.has_memory || p.has_compute || p.has_policy || p.has_priority);
        fuzz_check(!p.has_policy || (unsigned)p.policy <= GV_POLICY_BEST_EFFORT);
        fuzz_check(!p.has_priority || (unsigned)p.priority <= GV_PRIORITY_LOW);
        fuzz_check(!p.has_memory || p.memory > 0);
        fuzz_check(p.share <= 10000);
    }
    free(body);
    return 0;
}
