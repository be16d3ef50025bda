/* SPDX-License-Identifier: Apache-2.0 */
/* localops.h: the daemon core's answers to the local socket (localops.c). */
#ifndef GVD_LOCALOPS_H
#define GVD_LOCALOPS_H

#include "daemon/gvd.h"
#include "daemon/local.h"

/* The ops gvd_local_start is given: join, share and http, over d. */
void gvd_local_ops_fill(struct gvd *d, struct gvd_local_ops *ops);

#endif
