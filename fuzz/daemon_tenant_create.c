/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_tenant_create.c (fuzz): POST /v1/tenants bodies (gvd_parse_tenant_create). Accepted: a
 * valid name, users and groups that are names or numeric ids (no duplicates), quotas in range. */
#include <string.h>

#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_tenant_create *t = malloc(sizeof(*t));
    struct gv_error err = {0};
    if (!t)
        abort();
    int rc = gvd_parse_tenant_create(body, size, t, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_name_ok(t->name, false);
        fuzz_members_ok(&t->users);
        fuzz_members_ok(&t->groups);
        fuzz_quota_ok(&t->quota);
        for (size_t i = 0; i < t->users.n; i++)
            for (size_t k = i + 1; k < t->users.n; k++)
                fuzz_check(strcmp(t->users.name[i], t->users.name[k]) != 0);
    }
    free(t);
    free(body);
    return 0;
}
