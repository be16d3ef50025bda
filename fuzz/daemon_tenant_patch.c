/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_tenant_patch.c (fuzz): PATCH /v1/tenants/{name} bodies (gvd_parse_tenant_patch).
 * Accepted: something to change, members and quotas as a create accepts them. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_tenant_patch *t = malloc(sizeof(*t));
    struct gv_error err = {0};
    if (!t)
        abort();
    int rc = gvd_parse_tenant_patch(body, size, t, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_check(t->users.set || t->groups.set || t->quota.memory.set ||
                   t->quota.compute.set || t->quota.instances.set);
        fuzz_members_ok(&t->users);
        fuzz_members_ok(&t->groups);
        fuzz_quota_ok(&t->quota);
    }
    free(t);
    free(body);
    return 0;
}
