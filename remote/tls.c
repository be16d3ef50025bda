/* SPDX-License-Identifier: Apache-2.0 */
/* tls.c: TLS for the remoting protocol. This build has no OpenSSL: every TLS request is refused
 * with a message saying so. */
#include "remote/tls.h"

#include <errno.h>
#include <stdio.h>

bool gvc_tls_available(void)
{
    return false;
}

struct gvc_tls *gvc_tls_new(bool server, const struct gvc_tls_opts *o, char *err, size_t errlen)
{
    (void)server;
    (void)o;
    snprintf(err, errlen,
             "this build of gpuvisor has no TLS (OpenSSL was not found at build time)");
    return NULL;
}

void gvc_tls_free(struct gvc_tls *t)
{
    (void)t;
}

int gvc_tls_connect(struct gvc *c, struct gvc_tls *t, const char *host, char *err, size_t errlen)
{
    (void)c;
    (void)t;
    (void)host;
    snprintf(err, errlen, "no TLS in this build");
    return -1;
}

int gvc_tls_accept(struct gvc *c, struct gvc_tls *t, int timeout_ms, char *err, size_t errlen)
{
    (void)c;
    (void)t;
    (void)timeout_ms;
    snprintf(err, errlen, "no TLS in this build");
    return -1;
}

ssize_t gvc_tls_read(struct gvc *c, void *p, size_t n)
{
    (void)c;
    (void)p;
    (void)n;
    errno = EPROTO;
    return -1;
}

ssize_t gvc_tls_write(struct gvc *c, const void *p, size_t n)
{
    (void)c;
    (void)p;
    (void)n;
    errno = EPROTO;
    return -1;
}

int gvc_tls_pending(struct gvc *c)
{
    (void)c;
    return 0;
}

void gvc_tls_end(struct gvc *c)
{
    (void)c;
}
