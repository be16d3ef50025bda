/* SPDX-License-Identifier: Apache-2.0 */
/* daemon_path.c (fuzz): request lines' method and path (gvd_method_parse, gvd_path_parse). The
 * first line is the method, the second the path. Accepted: a route that takes the method, and its
 * parameter a valid name (or GPU index or UUID; for the host's routes a PCI address or an mdev
 * UUID in canonical form); 405 names a route; every refusal has a message. */
#include <errno.h>
#include <string.h>

#include "fuzz/daemon_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *lines[2] = {NULL, NULL};
    size_t n = fuzz_lines(data, size, lines, 2);
    const char *method = lines[0], *path = n > 1 ? lines[1] : "";
    enum gvd_method m = gvd_method_parse(method);
    fuzz_check(m <= GVD_METHOD_OTHER);
    struct gvd_path p;
    struct gv_error err = {0};
    int rc = gvd_path_parse(path, m, &p, &err);
    if (rc == 0 || rc == -EOPNOTSUPP) {
        fuzz_check(p.route < GVD_R_COUNT);
        fuzz_check(gvd_route_pattern(p.route)[0] == '/');
        fuzz_check(memchr(p.param, 0, sizeof(p.param)) != NULL);
        char canon[GVH_ID_LEN];
        if (rc == 0 && p.param[0] && p.route >= GVD_R_HOST_GPUS)
            fuzz_check((gvh_bdf_parse(p.param, canon, NULL) == 0 ||
                        gvh_uuid_parse(p.param, canon, NULL) == 0) &&
                       strcmp(canon, p.param) == 0);
        else if (rc == 0 && p.param[0] && p.route != GVD_R_GPU)
            fuzz_check(gvd_name_check(p.param, "param", NULL) == 0);
    }
    if (rc)
        fuzz_refusal(rc, &err);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    return 0;
}
