/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_host_passthrough.c (fuzz): POST /v1/host/passthrough bodies (gvd_parse_host_passthrough).
 * Accepted: a PCI address in canonical form, which reads back as itself. */
#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_body(data, size);
    struct gvd_host_passthrough_req p;
    struct gv_error err = {0};
    int rc = gvd_parse_host_passthrough(body, size, &p, &err);
    if (rc) {
        fuzz_refusal(rc, &err);
    } else {
        char again[GVH_BDF_LEN];
        fuzz_check(memchr(p.pci, 0, sizeof(p.pci)) != NULL);
        fuzz_check(gvh_bdf_parse(p.pci, again, NULL) == 0 && strcmp(again, p.pci) == 0);
    }
    free(body);
    return 0;
}
