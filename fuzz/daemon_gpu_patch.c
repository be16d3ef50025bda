/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_gpu_patch.c (fuzz): PATCH /v1/gpus/{index} bodies (gvd_parse_gpu_patch). Accepted:
 * something to change; a known mode, whose name reads back as the same mode; a time slice within
 * 1 ms to 30 ms, whose text reads back as the same time slice (or null). */
#include "core/timeslice.h"
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
        fuzz_check(p.has_mode || p.timeslice.set);
        if (p.has_mode) {
            enum gvd_gpu_mode again;
            fuzz_check(gvd_mode_parse(gvd_mode_name(p.mode), &again, NULL) == 0 && again == p.mode);
        }
        if (p.timeslice.set && !p.timeslice.null) {
            char text[GV_TIMESLICE_TEXT];
            uint64_t again = 0;
            fuzz_check(p.timeslice.value >= GV_TIMESLICE_MIN_NS &&
                       p.timeslice.value <= GV_TIMESLICE_MAX_NS);
            gv_timeslice_format(p.timeslice.value, text, sizeof(text));
            fuzz_check(gv_timeslice_parse(text, &again, NULL) == 0 && again == p.timeslice.value);
        }
    }
    free(body);
    return 0;
}
