/* SPDX-License-Identifier: Apache-2.0 */
/* page.c: GET / and the page's other files.
 *
 * The page is static: every figure it shows comes from the API, under the token the browser
 * holds, so the files themselves are served to anyone, without a token, like /healthz. They are
 * compiled in (no file is read at run time, so no path a client sends can reach the file system)
 * and answered with a policy that lets the page run nothing but its own script (page.h). */
#include "daemon/page.h"

#include <string.h>

#include "daemon/api.h"

const struct gvd_page_file *gvd_page_find(const char *name)
{
    for (unsigned i = 0; i < gvd_page_nfiles; i++)
        if (strcmp(gvd_page_files[i].name, name) == 0)
            return &gvd_page_files[i];
    return NULL;
}

void gvd_api_page(struct gvd_req *q, struct gvd_resp *r)
{
    const struct gvd_page_file *f = gvd_page_find(q->path.param);
    if (!f)
        return gvd_reply_error(r, 404, "no such path: /%s", q->path.param);
    if (q->method != GVD_GET)
        return gvd_reply_error(r, 405, "%s is not allowed on /%s (allowed: GET)",
                               q->method == GVD_METHOD_OTHER ? "this method"
                                                             : gvd_method_name(q->method),
                               q->path.param);
    r->status = 200;
    r->page = f;
}
