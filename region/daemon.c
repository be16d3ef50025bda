/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c: the client's side of the local protocol of daemon.h, and the one check of a request.
 *
 * A client connection is non-blocking and every wait on it is bounded: a daemon that is stopped,
 * or dead with its socket file left behind, costs a caller at most its timeout, never a hang. A
 * reply may come in pieces; the descriptor it carries comes with its first byte, and any further
 * descriptor (a daemon never sends two) is closed rather than leaked. */
#include "region/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/clock.h"
#include "region/region.h"

/* ---- the check */

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* The key: a valid instance id or name, terminated, and zero after its terminator. */
static int check_key(const struct gvr_dreq *q, struct gv_error *err)
{
    const char *end = memchr(q->key, 0, sizeof(q->key));
    if (!end)
        return gv_error_set(err, -EPROTO, "request: the instance key is not terminated");
    size_t len = (size_t)(end - q->key);
    if (!all_zero(end, sizeof(q->key) - len))
        return gv_error_set(err, -EPROTO, "request: bytes after the instance key's terminator");
    struct gv_error e2 = {0};
    if (gvr_name_check(q->key, &e2) < 0)
        return gv_error_set(err, -EPROTO, "request: %s", e2.msg);
    return 0;
}

int gvr_dreq_check(const struct gvr_dreq *q, struct gv_error *err)
{
    /* Which fields each operation uses; all others must be zero. */
    bool key = false, uuid = false, until = false, want = false;
    uint32_t flags = 0;
    switch (q->op) {
    case GVR_DOP_JOIN:
        key = true;
        break;
    case GVR_DOP_HELLO:
        key = uuid = true;
        break;
    case GVR_DOP_TAKE:
        until = want = true;
        flags = GVR_DFLAG_CHECK;
        break;
    case GVR_DOP_EXTEND:
        until = want = true; /* want: the device time used */
        break;
    case GVR_DOP_RELEASE:
        want = true; /* the device time used */
        break;
    case GVR_DOP_IDLE:
        want = true;
        flags = GVR_DFLAG_QUIET;
        break;
    case GVR_DOP_WANT:
        want = true;
        break;
    default:
        return gv_error_set(err, -EPROTO, "request: unknown operation %u", (unsigned)q->op);
    }
    if (q->flags & ~flags)
        return gv_error_set(err, -EPROTO, "request: unknown flags 0x%x for operation %u",
                            (unsigned)(q->flags & ~flags), (unsigned)q->op);
    if (!until && q->until)
        return gv_error_set(err, -EPROTO, "request: field until is not used by operation %u",
                            (unsigned)q->op);
    if (!want && q->want)
        return gv_error_set(err, -EPROTO, "request: field want is not used by operation %u",
                            (unsigned)q->op);
    if (!uuid && !all_zero(q->uuid, sizeof(q->uuid)))
        return gv_error_set(err, -EPROTO, "request: field uuid is not used by operation %u",
                            (unsigned)q->op);
    if (key)
        return check_key(q, err);
    if (!all_zero(q->key, sizeof(q->key)))
        return gv_error_set(err, -EPROTO, "request: field key is not used by operation %u",
                            (unsigned)q->op);
    return 0;
}

/* ---- the client */

/* Wait until c is ready for `events` or the deadline passes. Returns 0, -ETIMEDOUT, or -errno. */
static int wait_for(int c, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = gv_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        uint64_t left_ms = (deadline - now + 999999) / 1000000;
        struct pollfd p = {.fd = c, .events = events};
        int n = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

/* Connection c broke with errno e while sending: a daemon that refused it said why before it
 * closed it, and that is still there to read. Returns the refusal's status with its message, or 0
 * when there is none. */
static int refusal(int c, int e, struct gv_error *err)
{
    struct gvr_drep p;
    if (e != EPIPE && e != ECONNRESET)
        return 0;
    if (recv(c, &p, sizeof(p), MSG_DONTWAIT) != (ssize_t)sizeof(p) || p.op != GVR_DOP_NONE ||
        p.status >= 0)
        return 0;
    p.msg[sizeof(p.msg) - 1] = 0;
    return gv_error_set(err, p.status, "%s", p.msg[0] ? p.msg : strerror(-p.status));
}

int gvr_daemon_connect(const char *path, struct gv_error *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!path || !*path || strlen(path) >= sizeof(a.sun_path))
        return gv_error_set(err, -EINVAL, "gpuvisord socket \"%.120s\": not a socket path",
                            path ? path : "");
    memcpy(a.sun_path, path, strlen(path) + 1);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c < 0)
        return gv_error_set(err, -errno, "socket: %s", strerror(errno));
    /* A unix socket connects at once or not at all (-EAGAIN when the daemon's queue is full):
     * non-blocking, a stopped daemon cannot hold the caller here. */
    if (connect(c, (struct sockaddr *)&a, sizeof(a)) < 0) {
        int e = errno;
        close(c);
        if (e == ENOENT || e == ECONNREFUSED)
            return gv_error_set(err, -e, "no gpuvisord at %s (%s): is it running?", path,
                                strerror(e));
        return gv_error_set(err, -e, "connect to gpuvisord at %s: %s", path, strerror(e));
    }
    ssize_t n = send(c, GVR_DAEMON_MAGIC, GVR_DAEMON_MAGIC_LEN, MSG_NOSIGNAL);
    if (n != GVR_DAEMON_MAGIC_LEN) {
        int e = n < 0 ? errno : EAGAIN;
        int rc = refusal(c, e, err);
        close(c);
        return rc < 0 ? rc : gv_error_set(err, -e, "gpuvisord at %s: %s", path, strerror(e));
    }
    return c;
}

/* Keep the first descriptor a message carried in *fd (if fd), close any other. */
static void take_fds(struct msghdr *m, int *fd)
{
    for (struct cmsghdr *h = CMSG_FIRSTHDR(m); h; h = CMSG_NXTHDR(m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int got;
            memcpy(&got, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (fd && *fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
}

/* A failure of the connection as a value with a message. */
static int failed(int rc, uint64_t timeout_ns, struct gv_error *err)
{
    if (rc == -EPIPE || rc == -ECONNRESET)
        return gv_error_set(err, -EPIPE, "gpuvisord closed the connection");
    if (rc == -ETIMEDOUT)
        return gv_error_set(err, rc, "gpuvisord did not answer within %llu ms",
                            (unsigned long long)(timeout_ns / 1000000));
    return gv_error_set(err, rc, "talking to gpuvisord: %s", strerror(-rc));
}

int gvr_daemon_send(int c, const struct gvr_dreq *q, uint64_t timeout_ns, struct gv_error *err)
{
    uint64_t deadline = gv_now_ns() + timeout_ns;
    const char *out = (const char *)q;
    size_t sent = 0;
    while (sent < sizeof(*q)) {
        ssize_t n = send(c, out + sent, sizeof(*q) - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        int rc = n < 0 && errno != EAGAIN ? -errno : wait_for(c, POLLOUT, deadline);
        if (rc < 0) {
            int said = refusal(c, -rc, err);
            return said < 0 ? said : failed(rc, timeout_ns, err);
        }
    }
    return 0;
}

int gvr_daemon_recv(int c, struct gvr_drep *p, int *fd, uint64_t timeout_ns, struct gv_error *err)
{
    uint64_t deadline = gv_now_ns() + timeout_ns;
    if (fd)
        *fd = -1;
    size_t got = 0;
    int rc = 0;
    while (got < sizeof(*p)) {
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct iovec v = {.iov_base = (char *)p + got, .iov_len = sizeof(*p) - got};
        struct msghdr m = {
            .msg_iov = &v, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl)};
        ssize_t n = recvmsg(c, &m, MSG_CMSG_CLOEXEC);
        if (n > 0) {
            take_fds(&m, fd);
            got += (size_t)n;
            continue;
        }
        if (n == 0) {
            rc = -EPIPE;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN) {
            rc = -errno;
            break;
        }
        if ((rc = wait_for(c, POLLIN, deadline)) < 0)
            break;
    }
    if (rc < 0) {
        if (fd && *fd >= 0) {
            close(*fd);
            *fd = -1;
        }
        return failed(rc, timeout_ns, err);
    }
    p->msg[sizeof(p->msg) - 1] = 0;
    p->id[sizeof(p->id) - 1] = 0;
    if (p->op == GVR_DOP_NONE) {
        /* Not an answer: the daemon refused the connection before any request. */
        if (fd && *fd >= 0) {
            close(*fd);
            *fd = -1;
        }
        int status = p->status < 0 ? p->status : -EPROTO;
        return gv_error_set(err, status, "%s", p->msg[0] ? p->msg : strerror(-status));
    }
    return 0;
}

int gvr_daemon_call(int c, const struct gvr_dreq *q, struct gvr_drep *p, int *fd,
                    uint64_t timeout_ns, struct gv_error *err)
{
    if (fd)
        *fd = -1;
    int rc = gvr_daemon_send(c, q, timeout_ns, err);
    return rc < 0 ? rc : gvr_daemon_recv(c, p, fd, timeout_ns, err);
}

int gvr_daemon_join(const char *socket, const char *instance, int *region_fd, struct gv_error *err)
{
    *region_fd = -1;
    struct gvr_dreq q = {.op = GVR_DOP_JOIN};
    if (!instance || gvr_name_check(instance, NULL) < 0 || strlen(instance) >= sizeof(q.key))
        return gv_error_set(err, -EINVAL,
                            "instance \"%.80s\" is not an instance id or name: use 1 to %d of "
                            "A-Z a-z 0-9 _ . -",
                            instance ? instance : "", GVR_NAME_MAX);
    memcpy(q.key, instance, strlen(instance));
    int c = gvr_daemon_connect(socket, err);
    if (c < 0)
        return c;
    struct gvr_drep p;
    int fd = -1;
    int rc = gvr_daemon_call(c, &q, &p, &fd, GVR_DAEMON_CALL_NS, err);
    close(c);
    if (rc < 0)
        return rc;
    if (p.status < 0) {
        if (fd >= 0)
            close(fd);
        int code = p.status == -ENOENT || p.status == -EPERM ? -ENOENT : p.status;
        return gv_error_set(err, code, "%s", p.msg[0] ? p.msg : strerror(-p.status));
    }
    if (fd < 0)
        return gv_error_set(err, -EPROTO,
                            "gpuvisord let this process join instance %s but sent "
                            "no region",
                            instance);
    *region_fd = fd;
    return 0;
}
