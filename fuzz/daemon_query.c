/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_query.c (fuzz): query strings (gvd_query_add), one key=value pair per line, as the HTTP
 * server hands them over after decoding (a line without '=' is a key without a value). Accepted
 * values stay in range: limit 1 to GVD_PAGE_MAX, a valid tenant name, after within int64. */
#include <stdint.h>
#include <string.h>

#include "fuzz/daemon_fuzz.h"

#define MAX_PAIRS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[MAX_PAIRS];
    size_t n = fuzz_lines(data, size, lines, MAX_PAIRS);
    struct gvd_query q;
    gvd_query_init(&q);
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(lines[i], '=');
        if (eq)
            *eq = '\0';
        struct gv_error err = {0};
        int rc = gvd_query_add(&q, lines[i], eq ? eq + 1 : NULL, &err);
        if (rc)
            fuzz_refusal(rc, &err);
        fuzz_check(q.limit >= 1 && q.limit <= GVD_PAGE_MAX);
        fuzz_check(!q.has_after || q.after <= INT64_MAX);
        fuzz_name_ok(q.tenant, true);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    return 0;
}
