/* SPDX-License-Identifier: Apache-2.0 */
/* http.h: the REST API's HTTP servers (http.c): one on --listen, one for the local socket's HTTP
 * connections. */
#ifndef GVD_HTTP_H
#define GVD_HTTP_H

#include "core/error.h"
#include "daemon/gvd.h"

/* Listen on d->cfg.listen_host:listen_port (the port bound in *port) and start serving. */
int gvd_http_start(struct gvd_http **out, struct gvd *d, int *port, struct gv_error *err);

/* Serve an accepted local-socket connection that speaks HTTP; h owns fd from then on. */
int gvd_http_add(struct gvd_http *h, int fd);

/* Stop both servers, closing their connections. NULL is a no-op. */
void gvd_http_stop(struct gvd_http *h);

#endif
