/* SPDX-License-Identifier: Apache-2.0 */
/* tls_openssl.c: TLS for the remoting protocol with OpenSSL (conn.h, tls.h). The build picks this
 * file when OpenSSL is found, and tls.c otherwise.
 *
 * TLS 1.2 or newer only. The server presents its certificate chain and key; it asks nothing of the
 * client, since the token handshake (auth.c) is what admits one. The client checks the server's
 * certificate against GPUVISOR_REMOTE_CA (or the system's CAs) and against the host name it
 * dialled (or the IP address), and sends that name as SNI; an insecure client checks nothing.
 *
 * The socket stays blocking after the handshake, as conn.c expects. The handshake itself runs
 * with the socket non-blocking, polling with a deadline, so a peer that connects and then says
 * nothing cannot hold a session process (or a client) for ever.
 *
 * OpenSSL writes to the socket with write(), which raises SIGPIPE when the peer has gone. The
 * client runs inside someone else's program, whose SIGPIPE disposition is not ours to change: every
 * call that may write holds SIGPIPE blocked on the calling thread and takes back the one it caused
 * (the usual way to get send()'s MSG_NOSIGNAL through a library that does not offer it). */
#include "remote/tls.h"

#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

/* How long a client waits for the server's side of the handshake. */
#define CONNECT_TIMEOUT_MS 30000

struct gvc_tls {
    SSL_CTX *ctx;
    bool server;
};

bool gvc_tls_available(void)
{
    return true;
}

/* The reason of OpenSSL's most recent error (the queue is emptied), or `fallback`. */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, len, "%s", fallback);
    } else {
        const char *r = ERR_reason_error_string(e);
        if (r)
            snprintf(buf, len, "%s", r);
        else
            ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

/* ---- SIGPIPE held off around OpenSSL's writes ---- */

struct pipe_guard {
    sigset_t old;
    bool was_pending;
};

static void guard_on(struct pipe_guard *g)
{
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe, &g->old);
}

/* `broke`: the guarded call may have raised SIGPIPE (it failed with EPIPE). */
static void guard_off(struct pipe_guard *g, bool broke)
{
    if (broke && !g->was_pending) {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        struct timespec zero = {0, 0};
        int saved = errno;
        while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR)
            ;
        errno = saved;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- contexts ---- */

struct gvc_tls *gvc_tls_new(bool server, const struct gvc_tls_opts *o, char *err, size_t errlen)
{
    char why[256];
    struct gvc_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->server = server;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) {
        snprintf(err, errlen, "cannot make a TLS context: %s",
                 ssl_reason(why, sizeof(why), "unknown error"));
        goto fail;
    }
    if (!SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION)) {
        snprintf(err, errlen, "cannot require TLS 1.2: %s",
                 ssl_reason(why, sizeof(why), "unknown error"));
        goto fail;
    }
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
    /* A client makes one connection per process and never resumes a session: no tickets. */
    if (server && !SSL_CTX_set_num_tickets(t->ctx, 0)) {
        snprintf(err, errlen, "cannot turn off session tickets: %s",
                 ssl_reason(why, sizeof(why), "unknown error"));
        goto fail;
    }
    SSL_CTX_set_mode(t->ctx, SSL_MODE_AUTO_RETRY | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (server && (!o->cert || !o->key)) {
        snprintf(err, errlen, "a TLS server needs a certificate and its key");
        goto fail;
    }
    if ((o->cert != NULL) != (o->key != NULL)) {
        snprintf(err, errlen, "a certificate goes with its key");
        goto fail;
    }
    if (o->cert) {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1) {
            snprintf(err, errlen, "certificate %s: %s", o->cert,
                     ssl_reason(why, sizeof(why), "cannot be read"));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
            snprintf(err, errlen, "key %s: %s", o->key,
                     ssl_reason(why, sizeof(why), "cannot be read"));
            goto fail;
        }
        if (SSL_CTX_check_private_key(t->ctx) != 1) {
            snprintf(err, errlen, "key %s does not belong to certificate %s: %s", o->key, o->cert,
                     ssl_reason(why, sizeof(why), "mismatch"));
            goto fail;
        }
    }
    if (!server) {
        if (o->insecure) {
            SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
        } else {
            SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
            if (o->ca && *o->ca) {
                if (SSL_CTX_load_verify_locations(t->ctx, o->ca, NULL) != 1) {
                    snprintf(err, errlen, "CA file %s: %s", o->ca,
                             ssl_reason(why, sizeof(why), "cannot be read"));
                    goto fail;
                }
            } else if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
                snprintf(err, errlen, "the system's CA certificates: %s",
                         ssl_reason(why, sizeof(why), "cannot be loaded"));
                goto fail;
            }
        }
    }
    return t;
fail:
    gvc_tls_free(t);
    return NULL;
}

void gvc_tls_free(struct gvc_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

/* ---- handshakes ---- */

/* Run the handshake on a non-blocking socket until done, failed, or timeout_ms passed. */
static int handshake(SSL *ssl, int fd, const char *host, int timeout_ms, char *err, size_t errlen)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        snprintf(err, errlen, "TLS handshake: %s", strerror(errno));
        return -1;
    }
    uint64_t deadline = gv_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    int rc = -1;
    for (;;) {
        struct pipe_guard g;
        ERR_clear_error();
        errno = 0;
        guard_on(&g);
        int r = SSL_do_handshake(ssl);
        int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
        guard_off(&g, e == SSL_ERROR_SYSCALL && errno == EPIPE);
        if (r == 1) {
            rc = 0;
            break;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            uint64_t now = gv_now_ns();
            if (now >= deadline) {
                snprintf(err, errlen, "TLS handshake: no answer within %d ms", timeout_ms);
                break;
            }
            struct pollfd p = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            uint64_t left_ms = (deadline - now + 999999ull) / 1000000ull;
            if (poll(&p, 1, left_ms > INT_MAX ? INT_MAX : (int)left_ms) < 0 && errno != EINTR) {
                snprintf(err, errlen, "TLS handshake: %s", strerror(errno));
                break;
            }
            continue;
        }
        if (e == SSL_ERROR_SYSCALL && errno == EINTR)
            continue;
        char why[256];
        long v = SSL_get_verify_result(ssl);
        if (!SSL_is_server(ssl) && SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE && v != X509_V_OK)
            snprintf(err, errlen,
                     "the certificate of %s is refused: %s (GPUVISOR_REMOTE_CA names the CA file "
                     "that signed it; the certificate must name the host dialled)",
                     host, X509_verify_cert_error_string(v));
        else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
            snprintf(err, errlen, "TLS handshake: %s",
                     errno ? strerror(errno) : "the peer closed the connection");
        else
            snprintf(err, errlen, "TLS handshake: %s",
                     ssl_reason(why, sizeof(why), "protocol error"));
        break;
    }
    ERR_clear_error();
    if (fcntl(fd, F_SETFL, flags) != 0 && rc == 0) {
        snprintf(err, errlen, "TLS handshake: %s", strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Whether `host` is an IPv4 or IPv6 address rather than a name. */
static bool is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int gvc_tls_connect(struct gvc *c, struct gvc_tls *t, const char *host, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(t->ctx);
    char why[256];
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
        snprintf(err, errlen, "TLS: %s", ssl_reason(why, sizeof(why), "out of memory"));
        SSL_free(ssl);
        return -1;
    }
    bool ip = is_ip(host);
    /* SNI carries names only (RFC 6066). */
    if (!ip && SSL_set_tlsext_host_name(ssl, host) != 1) {
        snprintf(err, errlen, "TLS: server name %s: %s", host,
                 ssl_reason(why, sizeof(why), "refused"));
        SSL_free(ssl);
        return -1;
    }
    if (SSL_get_verify_mode(ssl) != SSL_VERIFY_NONE) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
                    : SSL_set1_host(ssl, host);
        if (ok != 1) {
            snprintf(err, errlen, "TLS: cannot check the certificate against %s: %s", host,
                     ssl_reason(why, sizeof(why), "refused"));
            SSL_free(ssl);
            return -1;
        }
    }
    SSL_set_connect_state(ssl);
    if (handshake(ssl, c->fd, host, CONNECT_TIMEOUT_MS, err, errlen) != 0) {
        SSL_free(ssl);
        return -1;
    }
    c->ssl = ssl;
    return 0;
}

int gvc_tls_accept(struct gvc *c, struct gvc_tls *t, int timeout_ms, char *err, size_t errlen)
{
    SSL *ssl = SSL_new(t->ctx);
    char why[256];
    if (!ssl || SSL_set_fd(ssl, c->fd) != 1) {
        snprintf(err, errlen, "TLS: %s", ssl_reason(why, sizeof(why), "out of memory"));
        SSL_free(ssl);
        return -1;
    }
    SSL_set_accept_state(ssl);
    if (handshake(ssl, c->fd, "the client", timeout_ms > 0 ? timeout_ms : CONNECT_TIMEOUT_MS, err,
                  errlen) != 0) {
        SSL_free(ssl);
        return -1;
    }
    c->ssl = ssl;
    return 0;
}

/* ---- data ---- */

/* Wait on a blocking socket for what OpenSSL asked for (it rarely asks: a TLS 1.3 key update or
 * ticket may need a read during a write, or the reverse). 0, or -1 with errno. */
static int wait_for(struct gvc *c, int e)
{
    struct pollfd p = {.fd = c->fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
    for (;;) {
        int r = poll(&p, 1, -1);
        if (r > 0 || (r < 0 && errno != EINTR))
            return r > 0 ? 0 : -1;
    }
}

/* Turn a failed SSL_read/SSL_write into errno. Returns 1 to try again, or -1. */
static int failed(struct gvc *c, int e)
{
    switch (e) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        /* On a blocking socket, WANT_WRITE with EAGAIN is a send that stalled past SO_SNDTIMEO
         * (gvc_tune): it fails, as it would without TLS. Otherwise OpenSSL needs the other
         * direction first (a key update or ticket): wait and try again. */
        if (e == SSL_ERROR_WANT_WRITE && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (wait_for(c, e) == 0)
            return 1;
        break;
    case SSL_ERROR_SYSCALL:
        if (errno == EINTR)
            return 1;
        if (errno == 0 && ERR_peek_last_error() == 0)
            errno = ECONNRESET; /* the peer went without a TLS goodbye */
        break;
    default:
        errno = EPROTO;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
        /* OpenSSL 3's way of saying the peer went without a TLS goodbye. */
        if (ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
            errno = ECONNRESET;
#endif
        break;
    }
    /* The connection is dead: closing it must not try to say goodbye on it. */
    int saved = errno;
    ERR_clear_error();
    SSL_set_quiet_shutdown(c->ssl, 1);
    errno = saved;
    return -1;
}

ssize_t gvc_tls_read(struct gvc *c, void *p, size_t n)
{
    SSL *ssl = c->ssl;
    int len = n > INT_MAX ? INT_MAX : (int)n;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        struct pipe_guard g;
        guard_on(&g); /* a read may write (a key update's answer) */
        int r = SSL_read(ssl, p, len);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
        guard_off(&g, e == SSL_ERROR_SYSCALL && errno == EPIPE);
        if (r > 0)
            return r;
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0; /* the peer's close_notify: a clean end */
        if (failed(c, e) < 0)
            return -1;
    }
}

ssize_t gvc_tls_write(struct gvc *c, const void *p, size_t n)
{
    SSL *ssl = c->ssl;
    int len = n > INT_MAX ? INT_MAX : (int)n;
    for (;;) {
        ERR_clear_error();
        errno = 0;
        struct pipe_guard g;
        guard_on(&g);
        int r = SSL_write(ssl, p, len);
        int e = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
        guard_off(&g, e == SSL_ERROR_SYSCALL && errno == EPIPE);
        if (r > 0)
            return r;
        if (e == SSL_ERROR_ZERO_RETURN) {
            errno = EPIPE;
            return -1;
        }
        if (failed(c, e) < 0)
            return -1;
    }
}

int gvc_tls_pending(struct gvc *c)
{
    return SSL_pending(c->ssl) > 0;
}

void gvc_tls_end(struct gvc *c)
{
    SSL *ssl = c->ssl;
    c->ssl = NULL;
    /* Send our close_notify and do not wait for the peer's: the socket closes next. A connection
     * that already failed has nothing to say. */
    if (!SSL_get_quiet_shutdown(ssl) && !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) &&
        SSL_is_init_finished(ssl)) {
        struct pipe_guard g;
        guard_on(&g);
        errno = 0;
        int r = SSL_shutdown(ssl);
        guard_off(&g, r < 0 && errno == EPIPE);
    }
    ERR_clear_error();
    SSL_free(ssl);
}
