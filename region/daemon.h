/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.h: the local protocol between gpuvisord and the processes of its instances.
 *
 * With gpuvisord, the files that matter to more than one tenant are the daemon's: each instance's
 * region (in <run>/instances, which no tenant can open by path) and each GPU's token record (in
 * <run>/sched, which tenants may read and not write). A tenant process gets at them over the
 * daemon's unix socket, whose peer credentials (SO_PEERCRED) say which process and user is
 * speaking, whatever the process says about itself:
 *   - JOIN: "let me into instance KEY" (an id, or a name within the caller's tenant). The daemon
 *     checks the caller's Unix user against the instance's tenant and hands over an open
 *     descriptor of the region file (SCM_RIGHTS); the connection then ends. gvr_open_fd maps it.
 *   - HELLO, then TAKE / EXTEND / RELEASE / WANT: a connection that speaks for the connecting
 *     process's turns on one GPU of one instance (region/sched.h, gvr_sched_open_daemon). Its
 *     instance and GPU are fixed at the HELLO, which is checked as a JOIN is; the daemon answers
 *     with a read-only descriptor of the GPU's token record, which the process maps to watch the
 *     token, and then changes the record only on that process's behalf.
 *
 * The socket also serves HTTP: a binary client's first bytes are GVR_DAEMON_MAGIC, and a
 * connection that starts otherwise is the REST API's. After the magic every message is one fixed
 * size, request and reply alike, in the host's byte order (both ends are on one machine): a
 * request is exactly sizeof(struct gvr_dreq) bytes and is answered by exactly one struct gvr_drep,
 * in order. A request with any field out of place (gvr_dreq_check) ends the connection. A
 * connection the daemon will not serve at all (too many from the user, or in all) is answered at
 * once, before any request, with one reply of op GVR_DOP_NONE that says why (-EUSERS), and closed;
 * the client functions return that refusal as their error, whichever of them meets it.
 *
 * This file owns the format: the daemon's side (daemon/local.c) and the clients read and write it
 * only through these declarations. */
#ifndef GVR_DAEMON_H
#define GVR_DAEMON_H

#include <stdint.h>

#include "core/error.h"
#include "core/uuid.h"

#define GVR_DAEMON_MAGIC     "GVD1" /* a binary client's first bytes on the socket */
#define GVR_DAEMON_MAGIC_LEN 4
#define GVR_DAEMON_KEY_LEN   72 /* the key field: an instance id or name and its terminator */
#define GVR_DAEMON_MSG_LEN   192
#define GVR_DAEMON_ID_LEN    16 /* the id field: an instance id (12 characters) and its terminator */

/* How long a client waits for a reply before it takes the daemon for gone. */
#define GVR_DAEMON_CALL_NS (2ULL * 1000000000ULL)

enum gvr_dop {
    /* No request: the daemon refuses the connection (reply only). */
    GVR_DOP_NONE = 0,
    /* key. Reply: id, uuid (the instance's GPU), share, and the region's descriptor. */
    GVR_DOP_JOIN = 1,
    /* key, uuid. Reply: id, share, word = this process's pid as the daemon sees it, and the GPU
     * token record's descriptor (read-only). */
    GVR_DOP_HELLO = 2,
    /* until: the slice end asked (CLOCK_MONOTONIC ns; the daemon grants at most one slice from
     * its own now); want: when the token is busy, stand in line until then (0: do not); flags:
     * GVR_DFLAG_CHECK. Reply 0 with word = the tenure and until = the slice end granted; -EBUSY
     * (held by another); -EAGAIN with until = ns to wait (the instance's GPU time is spent);
     * -ESHUTDOWN (the instance was deleted). */
    GVR_DOP_TAKE = 3,
    /* until. Reply 0 with until granted; -EPERM (not the holder: taken over); -EAGAIN (spent);
     * -EBUSY (another instance waits for the GPU); -ESHUTDOWN. */
    GVR_DOP_EXTEND = 4,
    /* Give the token up if held. Reply 0. */
    GVR_DOP_RELEASE = 5,
    /* want: stand in line until then (0: leave the line). Reply 0; -EAGAIN with until = ns to
     * wait when the instance's GPU time is spent (it waits for that, not in line). */
    GVR_DOP_WANT = 6,
    /* The holder has no work on the GPU: anyone may take the token at once; a TAKE gets it back
     * while nobody did. flags: GVR_DFLAG_QUIET. Reply 0; -EPERM (not the holder). */
    GVR_DOP_IDLE = 7,
};

#define GVR_DFLAG_CHECK 0x1 /* TAKE: judge whether a live-looking holder's process is gone */
#define GVR_DFLAG_QUIET 0x2 /* IDLE: do not wake the waiters (they find it at their next look) */

/* A request. Fields an operation does not use must be zero; key is NUL-terminated and zero after
 * its terminator. */
struct gvr_dreq {
    uint32_t op;
    uint32_t flags;
    uint64_t until;
    union {
        uint64_t want; /* TAKE, WANT */
        uint64_t used; /* EXTEND, RELEASE, IDLE: device time used since the last report, ns */
    };
    uint8_t uuid[GV_UUID_LEN];
    char key[GVR_DAEMON_KEY_LEN];
};

/* A reply. status is 0 or a negative errno value, with a message in msg. */
struct gvr_drep {
    int32_t status;
    uint32_t op; /* the request's */
    uint64_t word;
    uint64_t until;
    uint32_t share; /* basis points, 0 = no compute limit */
    uint32_t reserved;
    char id[GVR_DAEMON_ID_LEN];
    uint8_t uuid[GV_UUID_LEN];
    char msg[GVR_DAEMON_MSG_LEN];
};

_Static_assert(sizeof(struct gvr_dreq) == 112, "the request's size is part of the protocol");
_Static_assert(sizeof(struct gvr_drep) == 256, "the reply's size is part of the protocol");

/* For the daemon: 0 if every field of q is in place for its operation (a known op, known flags,
 * a valid instance key where one is used and zeros after it, zeros where nothing is used), else
 * -EPROTO with a message that names the field. */
int gvr_dreq_check(const struct gvr_dreq *q, struct gv_error *err);

/* Connect to the daemon's socket at path and say the magic. Returns the connection (close-on-exec,
 * non-blocking), or -ENOENT / -ECONNREFUSED (no daemon there), -EAGAIN (its queue is full), -EUSERS
 * (the daemon refused the connection: too many), or another negative errno value, with a
 * message. A connection the daemon refuses may also be returned, its refusal then met at the first
 * call. */
int gvr_daemon_connect(const char *path, struct gv_error *err);

/* The two halves of gvr_daemon_call, for a client that sends a request and reads its reply later
 * (replies come in the order of the requests): send q, waiting at most timeout_ns for room; read
 * one reply. Return as gvr_daemon_call. */
int gvr_daemon_send(int c, const struct gvr_dreq *q, uint64_t timeout_ns, struct gv_error *err);
int gvr_daemon_recv(int c, struct gvr_drep *p, int *fd, uint64_t timeout_ns, struct gv_error *err);

/* Send q on connection c and read its reply into *p, waiting at most timeout_ns. A descriptor
 * that came with the reply is stored in *fd (close-on-exec) when fd is not NULL, else closed; *fd
 * is -1 when none came. Returns 0 when a reply came (its status says what the daemon answered),
 * or a negative errno value when the connection failed (-EPIPE: closed by the daemon; -ETIMEDOUT;
 * -EUSERS: the daemon refused the connection, too many), with a message. */
int gvr_daemon_call(int c, const struct gvr_dreq *q, struct gvr_drep *p, int *fd,
                    uint64_t timeout_ns, struct gv_error *err);

/* Join instance `instance` (an id, or a name within the caller's tenant) through the daemon at
 * `socket`: the region file's descriptor (read-write, close-on-exec) in *region_fd, to map with
 * gvr_open_fd. Returns 0, -ENOENT (no such instance for this user, or no daemon at socket: the
 * message says which), -ECONNREFUSED (no daemon), -EPROTO, or another negative errno value. */
int gvr_daemon_join(const char *socket, const char *instance, int *region_fd, struct gv_error *err);

#endif
