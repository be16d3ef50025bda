/* SPDX-License-Identifier: Apache-2.0 */
/* conn.c: addresses, sockets and buffered reads for the remoting protocol (conn.h). The TLS parts
 * are in tls.c. */
#include "remote/conn.h"
#include "remote/tls.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int gvc_parse(const char *text, struct gvc_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (!text || !*text) {
        snprintf(err, errlen, "no address given (unix:PATH, tcp:HOST:PORT or tls:HOST:PORT)");
        return -1;
    }
    const char *rest;
    if (strncmp(text, "unix:", 5) == 0) {
        rest = text + 5;
        if (!*rest || strlen(rest) >= sizeof(a->path)) {
            snprintf(err, errlen, "'%s': a unix socket path of 1 to %zu bytes is needed", text,
                     sizeof(a->path) - 1);
            return -1;
        }
        a->kind = GVC_UNIX;
        strcpy(a->path, rest);
        return 0;
    }
    if (strncmp(text, "tcp:", 4) == 0) {
        a->kind = GVC_TCP;
        rest = text + 4;
    } else if (strncmp(text, "tls:", 4) == 0) {
        a->kind = GVC_TLS;
        rest = text + 4;
    } else {
        snprintf(err, errlen, "'%s': an address is unix:PATH, tcp:HOST:PORT or tls:HOST:PORT",
                 text);
        return -1;
    }
    const char *colon;
    size_t hostlen;
    const char *host = rest;
    if (*rest == '[') {
        const char *close = strchr(rest, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "'%s': a bracketed IPv6 host is [ADDR]:PORT", text);
            return -1;
        }
        host = rest + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(rest, ':');
        if (!colon) {
            snprintf(err, errlen, "'%s': no port (HOST:PORT)", text);
            return -1;
        }
        hostlen = (size_t)(colon - rest);
    }
    const char *port = colon + 1;
    size_t plen = strlen(port);
    char *end;
    errno = 0;
    unsigned long pv = strtoul(port, &end, 10);
    if (hostlen == 0 || hostlen >= sizeof(a->host) || plen == 0 || plen >= sizeof(a->port) ||
        *end || errno || pv > 65535 || port[0] == '-' || port[0] == '+') {
        snprintf(err, errlen, "'%s': a host and a port from 0 to 65535 are needed", text);
        return -1;
    }
    memcpy(a->host, host, hostlen);
    a->host[hostlen] = '\0';
    memcpy(a->port, port, plen + 1);
    return 0;
}

/* Socket buffers of a few MiB let a bulk copy move in large pieces, with fewer wake-ups of
 * either side (the kernel caps them at its own maximum). */
#define SOCKET_BUFFER (4 << 20)

static struct gvc *wrap(int fd)
{
    int size = SOCKET_BUFFER;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    struct gvc *c = malloc(sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->ssl = NULL;
    c->rpos = c->rlen = 0;
    return c;
}

struct gvc *gvc_connect(const struct gvc_addr *a, struct gvc_tls *tls, char *err, size_t errlen)
{
    int fd = -1;
    if (a->kind == GVC_UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, a->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            snprintf(err, errlen, "unix:%s: %s", a->path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return NULL;
        }
    } else {
        if (a->kind == GVC_TLS && !tls) {
            snprintf(err, errlen, "tls:%s:%s: no TLS settings", a->host, a->port);
            return NULL;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res, *ai;
        int rc = getaddrinfo(a->host, a->port, &hints, &res);
        if (rc != 0) {
            snprintf(err, errlen, "%s:%s: %s", a->host, a->port, gai_strerror(rc));
            return NULL;
        }
        int saved = 0;
        for (ai = res; ai; ai = ai->ai_next) {
            fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) {
                saved = errno;
                continue;
            }
            if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
            saved = errno;
            close(fd);
            fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
            snprintf(err, errlen, "%s:%s: %s", a->host, a->port, strerror(saved));
            return NULL;
        }
    }
    struct gvc *c = wrap(fd);
    if (!c) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (a->kind != GVC_UNIX) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (a->kind == GVC_TLS && gvc_tls_connect(c, tls, a->host, err, errlen) != 0) {
        gvc_close(c);
        return NULL;
    }
    return c;
}

int gvc_listen(const struct gvc_addr *a, char *err, size_t errlen)
{
    int fd;
    if (a->kind == GVC_UNIX) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, a->path);
        struct stat st;
        if (lstat(a->path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(a->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 64) != 0) {
            snprintf(err, errlen, "unix:%s: %s", a->path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        chmod(a->path, 0666);
        return fd;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res, *ai;
    int rc = getaddrinfo(a->host, a->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s:%s: %s", a->host, a->port, gai_strerror(rc));
        return -1;
    }
    int saved = 0;
    fd = -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "%s:%s: %s", a->host, a->port, strerror(saved));
    return fd;
}

struct gvc *gvc_accept(int fd, struct gvc_tls *tls, int timeout_ms, char *err, size_t errlen)
{
    struct gvc *c = wrap(fd);
    if (!c) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (tls && gvc_tls_accept(c, tls, timeout_ms, err, errlen) != 0) {
        gvc_close(c);
        return NULL;
    }
    return c;
}

void gvc_close(struct gvc *c)
{
    if (!c)
        return;
    if (c->ssl)
        gvc_tls_end(c);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static ssize_t raw_read(struct gvc *c, void *p, size_t n)
{
    if (c->ssl)
        return gvc_tls_read(c, p, n);
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

static ssize_t raw_write(struct gvc *c, const void *p, size_t n)
{
    if (c->ssl)
        return gvc_tls_write(c, p, n);
    for (;;) {
        ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        return r;
    }
}

int gvc_read(struct gvc *c, void *p, size_t n)
{
    uint8_t *o = p;
    while (n) {
        if (c->rpos < c->rlen) {
            size_t k = c->rlen - c->rpos;
            if (k > n)
                k = n;
            memcpy(o, c->rbuf + c->rpos, k);
            c->rpos += k;
            o += k;
            n -= k;
            continue;
        }
        ssize_t r;
        if (n >= sizeof(c->rbuf)) {
            /* Bulk: straight into the caller's memory. */
            r = raw_read(c, o, n);
            if (r > 0) {
                o += r;
                n -= (size_t)r;
            }
        } else {
            r = raw_read(c, c->rbuf, sizeof(c->rbuf));
            if (r > 0) {
                c->rpos = 0;
                c->rlen = (size_t)r;
            }
        }
        if (r == 0) {
            errno = 0;
            return -1;
        }
        if (r < 0)
            return -1;
    }
    return 0;
}

int gvc_write(struct gvc *c, const void *p, size_t n)
{
    const uint8_t *s = p;
    while (n) {
        ssize_t r = raw_write(c, s, n);
        if (r <= 0)
            return -1;
        s += r;
        n -= (size_t)r;
    }
    return 0;
}

int gvc_writev(struct gvc *c, struct iovec *iov, int iovcnt)
{
    if (c->ssl) {
        for (int i = 0; i < iovcnt; i++)
            if (gvc_write(c, iov[i].iov_base, iov[i].iov_len) != 0)
                return -1;
        return 0;
    }
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        size_t done = (size_t)r;
        while (iovcnt > 0 && done >= iov->iov_len) {
            done -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= done;
        }
    }
    return 0;
}

int gvc_wait(struct gvc *c, int timeout_ms)
{
    if (c->rpos < c->rlen || (c->ssl && gvc_tls_pending(c)))
        return 1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -1 : r > 0;
    }
}

int gvc_wait_spin(struct gvc *c, uint64_t spin_ns, int timeout_ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int r = gvc_wait(c, 0);
        if (r != 0)
            return r;
        clock_gettime(CLOCK_MONOTONIC, &t);
        uint64_t ns = (uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000ull + (uint64_t)t.tv_nsec -
                      (uint64_t)t0.tv_nsec;
        if (ns >= spin_ns)
            break;
    }
    return gvc_wait(c, timeout_ms);
}

int gvc_read_frame(struct gvc *c, struct gvw_hdr *h, struct gvw_buf *body, size_t max)
{
    uint8_t hb[GVW_HDR];
    if (gvc_read(c, hb, sizeof(hb)) != 0)
        return -1;
    gvw_hdr_get(hb, h);
    gvw_buf_reset(body);
    if (h->len > max)
        return -2;
    if (h->len > body->cap) {
        uint8_t *p = realloc(body->p, h->len);
        if (!p)
            return -2;
        body->p = p;
        body->cap = h->len;
    }
    if (h->len && gvc_read(c, body->p, h->len) != 0)
        return -1;
    body->len = h->len;
    return 0;
}

void gvc_tune(struct gvc *c, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0) {
        unsigned timeout = (unsigned)ms;
        setsockopt(c->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof(timeout));
        setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        int idle = ms / 1000 > 0 ? ms / 1000 : 1, cnt = 3;
        setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
        setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    }
}
