/* SPDX-License-Identifier: Apache-2.0 */
/* tls.h: the TLS half of a connection (tls.c), used by conn.c only. */
#ifndef GVC_TLS_H
#define GVC_TLS_H

#include <stddef.h>
#include <sys/types.h>

#include "remote/conn.h"

/* Client side: TLS handshake on c->fd, verifying the certificate against `host` unless the
 * context is insecure. Returns 0 or -1 with a reason in err. */
int gvc_tls_connect(struct gvc *c, struct gvc_tls *t, const char *host, char *err, size_t errlen);
/* Server side, waiting at most timeout_ms. */
int gvc_tls_accept(struct gvc *c, struct gvc_tls *t, int timeout_ms, char *err, size_t errlen);
ssize_t gvc_tls_read(struct gvc *c, void *p, size_t n);
ssize_t gvc_tls_write(struct gvc *c, const void *p, size_t n);
int gvc_tls_pending(struct gvc *c);
void gvc_tls_end(struct gvc *c);

#endif
