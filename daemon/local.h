/* SPDX-License-Identifier: Apache-2.0 */
/* local.h: gpuvisord's local socket, the server side of region/daemon.h.
 *
 * One thread serves every connection of the daemon's unix socket: it accepts, tells the binary
 * protocol from HTTP by the first bytes (handing HTTP connections to the REST server untouched),
 * lets processes join instances, and grants each GPU's token (region/sched.h) to one process at
 * a time. Who a connection is comes from the kernel (SO_PEERCRED), never from what it says; which
 * instances that user may join, and their shares, come from the daemon core through the ops, so
 * this part knows nothing of the database or of HTTP. It keeps each instance's GPU-time budget per
 * GPU in its own memory (core/budget.h): the budget in a region file is the tenant's to write, the
 * one here is not.
 *
 * What one tenant can do to another here is bounded: connections are capped per user and in all
 * (one over the cap is told so, -EUSERS, and closed), a connection that does not say what it is
 * within GVD_LOCAL_FIRST_NS is closed, requests are served one per connection per turn of the
 * loop, a reply the peer does not read closes its connection (the thread never blocks on a peer),
 * and a token holder loses the token when its connection closes, when its process is gone, or
 * when it is past its slice by the grace. */
#ifndef GVD_LOCAL_H
#define GVD_LOCAL_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/policy.h"
#include "core/uuid.h"

#define GVD_LOCAL_MAX_CONNS   1024 /* binary and not-yet-known connections at once */
#define GVD_LOCAL_MAX_PER_UID 256  /* of them, from one Unix user */
#define GVD_LOCAL_FIRST_NS    (3ULL * 1000000000ULL) /* to send the first request (or HTTP) */
#define GVD_LOCAL_SHARE_NS    (250ULL * 1000000ULL)  /* an instance's share is asked again after */

struct gvd_local_ops {
    void *ctx;
    /* May the process with credentials *cred join instance `key` (an id, or a name within a
     * tenant the uid belongs to)? On success: an O_RDWR|O_CLOEXEC descriptor of its region file
     * in *fd (the caller closes it after sending), its id in id_out (NUL-terminated, <= 12 chars),
     * its GPU's UUID, and its share in basis points as the daemon knows it (authoritative: a
     * tenant can write its own region file; 0 = no compute limit). -ENOENT for unknown or not
     * allowed (the same message either way), message in err. Called from the local thread. */
    int (*join)(void *ctx, const char *key, const struct ucred *cred, int *fd, char id_out[16],
                uint8_t uuid[16], uint32_t *share, struct gv_error *err);
    /* The instance's share on that GPU now (after a resize), or -ENOENT once deleted. */
    int (*share)(void *ctx, const char *id, const uint8_t uuid[16], uint32_t *share);
    /* The instance's compute policy and priority on that GPU now (core/policy.h; after a change),
     * or -ENOENT once deleted. As authoritative as its share: the region says the same, but a
     * tenant can write its own region file. */
    int (*policy)(void *ctx, const char *id, const uint8_t uuid[16], enum gv_policy *policy,
                  enum gv_priority *priority);
    /* An accepted connection on the socket whose first bytes are not the binary magic: hand it
     * to the HTTP server (MHD_add_connection); the callee owns fd from then on. NULL: such a
     * connection is closed. */
    int (*http)(void *ctx, int fd);
};

struct gvd_local;

/* Serve the listening unix socket listen_fd (the caller's; made non-blocking here, never closed
 * here) in a thread of its own, with the GPU token records in <run_dir>/sched (a directory of this
 * process's user, not writable by others). Records left there by an earlier daemon are reset at
 * once (free tokens, waiters woken), so that processes waiting on them come back to ask. Raises
 * the soft limit of open files to what the connections need when the hard limit allows. Returns 0
 * with the server in *out, or a negative errno value with a message. */
int gvd_local_start(struct gvd_local **out, int listen_fd, const char *run_dir,
                    const struct gvd_local_ops *ops, struct gv_error *err);

/* The length of a turn on GPU uuid from now on (ns; core/timeslice.h's range, which the caller
 * checked): a take or a renewal is granted a slice ending at most this long after it. A holder
 * keeps the slice it was granted; the new length counts from its next take or renewal. A GPU never
 * set has GV_TIMESLICE_DEFAULT_NS. Safe from any thread, while the server runs; NULL l is a no-op
 * (no local socket). */
void gvd_local_set_timeslice(struct gvd_local *l, const uint8_t uuid[16], uint64_t ns);

/* Stop the thread and close every connection (their tokens are released). NULL is a no-op. */
void gvd_local_stop(struct gvd_local *l);

#endif
