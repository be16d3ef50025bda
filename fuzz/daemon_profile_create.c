/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_profile_create.c (fuzz): POST /v1/profiles bodies (gvd_parse_profile_create).
 * Accepted: a valid name, memory over zero, a share of at most 100%, a policy and a priority among
 * their names. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_profile_create p;
    struct gv_error err = {0};
    int rc = gvd_parse_profile_create(body, size, &p, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_name_ok(p.name, false);
        fuzz_check(p.memory > 0);
        fuzz_check(p.share <= 10000);
        fuzz_check((unsigned)p.policy <= GV_POLICY_BEST_EFFORT);
        fuzz_check((unsigned)p.priority <= GV_PRIORITY_LOW);
    }
    free(body);
    return 0;
}
