/* SPDX-License-Identifier: Apache-2.0 */
/* control.c: keepalive, goodbye, and the error left by calls sent without a reply. */
#include "remote/server/srv.h"

static int h_ping(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                  struct gvw_buf *out)
{
    (void)s, (void)h, (void)a, (void)out;
    return CUDA_SUCCESS;
}

static int h_pending(struct srv *s, const struct gvw_hdr *h, const struct gvw_args *a,
                     struct gvw_buf *out)
{
    (void)h, (void)a, (void)out;
    return srv_take_pending(s);
}

static const struct srv_entry entries[] = {
    {GVW_OP_PING, h_ping},
    {GVW_OP_GOODBYE, h_ping},
    {GVW_OP_ERROR_PENDING, h_pending},
    {0, NULL},
};

const struct srv_group srv_group_control = {entries, NULL};
