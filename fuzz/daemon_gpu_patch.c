/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_gpu_patch.c (fuzz): PATCH /v1/gpus/{index} bodies (gvd_parse_gpu_patch). Accepted: a
 * known mode, whose name reads back as the same mode. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_gpu_patch p;
    struct gv_error err = {0};
    int rc = gvd_parse_gpu_patch(body, size, &p, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        enum gvd_gpu_mode again;
        fuzz_check(gvd_mode_parse(gvd_mode_name(p.mode), &again, NULL) == 0 && again == p.mode);
    }
    free(body);
    return 0;
}
