/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_remote_verify.c (fuzz): POST /v1/remote/verify bodies (gvd_parse_remote_verify).
 * Accepted: an instance key that is a non-empty text, messages of at most GVD_REMOTE_MSG_MAX
 * bytes, and a proof of exactly 32 bytes. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_remote_verify v;
    struct gv_error err = {0};
    int rc = gvd_parse_remote_verify(body, size, &v, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        fuzz_check(memchr(v.instance, 0, sizeof(v.instance)) && v.instance[0]);
        fuzz_check(v.client_len <= GVD_REMOTE_MSG_MAX && v.server_len <= GVD_REMOTE_MSG_MAX);
    }
    free(body);
    return 0;
}
