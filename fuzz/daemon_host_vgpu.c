/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_host_vgpu.c (fuzz): POST /v1/host/vgpus bodies (gvd_parse_host_vgpu), and POST
 * /v1/host/apply's (gvd_parse_host_apply, which takes no fields). Accepted: a canonical parent
 * address, a type that is not empty and never names a path (no '/', not "." or ".."), and a UUID
 * that is empty or canonical. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_host_vgpu_req v;
    struct gv_error err = {0};
    int rc = gvd_parse_host_vgpu(body, size, &v, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        char again[GVH_ID_LEN];
        fuzz_check(memchr(v.parent, 0, sizeof(v.parent)) && memchr(v.type, 0, sizeof(v.type)) &&
                   memchr(v.uuid, 0, sizeof(v.uuid)));
        fuzz_check(gvh_bdf_parse(v.parent, again, NULL) == 0 && strcmp(again, v.parent) == 0);
        fuzz_check(v.type[0] && !strchr(v.type, '/') && strcmp(v.type, ".") != 0 &&
                   strcmp(v.type, "..") != 0);
        fuzz_check(!v.uuid[0] ||
                   (gvh_uuid_parse(v.uuid, again, NULL) == 0 && strcmp(again, v.uuid) == 0));
    }
    struct gv_error aerr = {0};
    if ((rc = gvd_parse_host_apply(body, size, &aerr)) != 0)
        fuzz_refusal(rc, &aerr);
    free(body);
    return 0;
}
