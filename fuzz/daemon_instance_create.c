/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_instance_create.c (fuzz): POST /v1/instances bodies (gvd_parse_instance_create).
 * Accepted: a profile or memory (not both kinds), names valid and never shaped like an id, a
 * share of at most 100%, a GPU index below GV_MAX_GPUS, a policy and a priority among their
 * names. */
#include "core/limits.h"
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_instance_create c;
    struct gv_error err = {0};
    int rc = gvd_parse_instance_create(body, size, &c, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_check(c.profile[0] ? !c.has_memory && !c.has_compute : c.has_memory);
        fuzz_check(!c.has_memory || c.memory > 0);
        fuzz_check(c.share <= 10000);
        fuzz_check(!c.has_gpu || c.gpu_by_uuid || c.gpu_index < GV_MAX_GPUS);
        fuzz_name_ok(c.profile, true);
        fuzz_name_ok(c.name, true);
        fuzz_name_ok(c.tenant, true);
        fuzz_check(!c.name[0] || !gvd_is_id(c.name));
        fuzz_check((unsigned)c.policy <= GV_POLICY_BEST_EFFORT);
        fuzz_check((unsigned)c.priority <= GV_PRIORITY_LOW);
    }
    free(body);
    return 0;
}
