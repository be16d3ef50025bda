/* SPDX-License-Identifier: Apache-2.0 */
/* conn.h: the transports of the remoting protocol: unix sockets, TCP and TLS over TCP.
 *
 * Addresses are written `unix:PATH`, `tcp:HOST:PORT` or `tls:HOST:PORT` (an IPv6 host in
 * brackets: `tcp:[::1]:7070`). A connection reads through a buffer of its own, so that small
 * frames cost one system call, and reads bulk data straight into the caller's memory when the
 * buffer is empty. TLS is OpenSSL's, with the peer's certificate verified by default; a build
 * without OpenSSL refuses `tls:` addresses with a message saying so. */
#ifndef GVC_CONN_H
#define GVC_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "remote/wire.h"

enum gvc_kind { GVC_UNIX, GVC_TCP, GVC_TLS };

struct gvc_addr {
    enum gvc_kind kind;
    char path[108]; /* unix */
    char host[256]; /* tcp, tls: without brackets */
    char port[8];
};

/* Parse an address. Returns 0, or -1 with a reason in err. */
int gvc_parse(const char *text, struct gvc_addr *a, char *err, size_t errlen);

/* TLS settings (tls.c). */
struct gvc_tls_opts {
    const char *cert; /* PEM certificate chain: the server's own; a client's, optional */
    const char *key;  /* its private key */
    const char *ca;   /* PEM file of trusted CAs; NULL: the system's */
    bool insecure;    /* a client that does not verify the server (GPUVISOR_REMOTE_INSECURE=1) */
};

struct gvc_tls; /* an SSL_CTX */

/* Whether this build has TLS. */
bool gvc_tls_available(void);
/* Make a server or client TLS context. NULL with a reason in err. */
struct gvc_tls *gvc_tls_new(bool server, const struct gvc_tls_opts *o, char *err, size_t errlen);
void gvc_tls_free(struct gvc_tls *t);

struct gvc {
    int fd;
    void *ssl; /* SSL * once TLS is up */
    size_t rpos, rlen;
    uint8_t rbuf[64 * 1024];
};

/* Connect to `a` (TLS: `tls` says how, and the host name is checked against the certificate).
 * NULL with a reason in err. */
struct gvc *gvc_connect(const struct gvc_addr *a, struct gvc_tls *tls, char *err, size_t errlen);

/* A listening socket for `a` (unix: an existing socket file is replaced; mode 0666, since the
 * handshake is what admits a client). Returns the fd, or -1 with a reason in err. */
int gvc_listen(const struct gvc_addr *a, char *err, size_t errlen);

/* Wrap an accepted socket; with `tls`, run the server side of the TLS handshake, waiting at most
 * timeout_ms. NULL with a reason in err (the fd is closed). */
struct gvc *gvc_accept(int fd, struct gvc_tls *tls, int timeout_ms, char *err, size_t errlen);

/* Close and free. */
void gvc_close(struct gvc *c);

/* Read exactly n bytes. Returns 0, or -1 on end of stream or an error (errno says which; 0 at a
 * clean end of stream). */
int gvc_read(struct gvc *c, void *p, size_t n);

/* Write exactly n bytes / every buffer of iov. Returns 0 or -1. */
int gvc_write(struct gvc *c, const void *p, size_t n);
int gvc_writev(struct gvc *c, struct iovec *iov, int iovcnt);

/* Whether bytes are ready to read without blocking (buffered, TLS-pending, or on the socket within
 * timeout_ms; -1 waits for ever). Returns 1, 0 on timeout, -1 on error. */
int gvc_wait(struct gvc *c, int timeout_ms);

/* Whether bytes are ready within spin_ns, looking without sleeping (a sleep and its wake-up cost
 * more than a whole round trip on an idle machine); then as gvc_wait for the rest of timeout_ms.
 * Returns as gvc_wait. */
int gvc_wait_spin(struct gvc *c, uint64_t spin_ns, int timeout_ms);
/* How long each side of the protocol looks for the other's next frame before it sleeps. */
#define GVC_SPIN_NS (50u * 1000u)

/* Read one frame: its header, and its body into `body` (reset first). A body longer than `max`
 * is not read: returns -2 (the caller closes the session). Returns 0, or -1 as gvc_read. */
int gvc_read_frame(struct gvc *c, struct gvw_hdr *h, struct gvw_buf *body, size_t max);

/* Make a connected socket fail a write that stalls for more than ms, and (TCP) give up on a peer
 * that stops acknowledging; set TCP_NODELAY on TCP. */
void gvc_tune(struct gvc *c, int ms);

#endif
