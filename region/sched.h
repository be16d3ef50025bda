/* SPDX-License-Identifier: Apache-2.0 */
/* sched.h: the GPU token, one shared record per physical GPU.
 *
 * Instances with a compute share take turns on a GPU: one process at a time holds the GPU's token
 * and only the holder's kernels are let through to the driver; the holder's instance pays for the
 * time it holds the token (core/budget.h). This file is the token itself, shared by every limited
 * process of the user whatever its instance: <dir>/.GPU-<uuid>.sched, dir as for regions (one
 * user's: processes of several users take turns only through gpuvisord; the leading dot keeps it
 * out of instance listings). The policy (when to take, keep, give up the
 * token, what to charge) is the interposer's (shim/timeshare.c); this is only the mechanism:
 *
 *   - take: a compare-and-swap of the holder word from free to this process; a holder whose
 *     process is dead (pid gone, a zombie, or a pid reused by a later process) is removed at once,
 *     and so is a live holder that is past its slice by GVR_SCHED_GRACE_NS, whatever it does:
 *     silent, or waiting in a synchronize that does not finish (work queued behind a blocked host
 *     function, a wait for an event that never comes), it must not keep the GPU from the others;
 *   - wait: a futex on a sequence word that every release bumps, with a timeout, so waiters see a
 *     release at once and a dead holder within one timeout; a waiter leaves a "want" stamp that
 *     tells the holder someone waits (stamps expire by themselves, so a waiter that dies leaves no
 *     false demand behind);
 *   - release: clear the holder word, bump the sequence, wake the waiters.
 *
 * An all-zero record is a free token with nobody waiting, so the file needs no initialization
 * beyond its size: creators race harmlessly. Nothing here takes a lock; a process killed at any
 * instruction leaves a holder word naming a dead process, which the next taker removes. */
#ifndef GVR_SCHED_H
#define GVR_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/uuid.h"

/* A turn on the GPU: what a holder takes the token for at a time (shim/timeshare.c). */
#define GVR_SCHED_SLICE_NS 10000000ULL

/* A live holder this far past its slice end loses the token. Long enough for a holder's drain of
 * the work it queued in its turn (about one slice's worth, shim/timeshare.c) to finish within it:
 * two slices. */
#define GVR_SCHED_GRACE_NS (2 * GVR_SCHED_SLICE_NS)

/* One process's handle on one GPU's token. Fields are private. */
struct gvr_sched {
    void *map;
    int fd;
    pid_t pid;      /* the process the handle is for (a forked child must gvr_sched_forked) */
    uint64_t start; /* its start time, /proc/<pid>/stat field 22 */
    uint64_t pidns; /* inode of its pid namespace */
    uint64_t mine;  /* the holder word while this process holds the token, else 0 */
    uint64_t seen;  /* the holder word the last gvr_sched_take found */
    int claim;      /* this user's claim on the GPU's time (a shared lock), or -1 */
    char claim_path[96];
};

/* Where each user claims the GPUs whose time its processes share (world-writable and sticky). */
#define GVR_CLAIM_DIR "/dev/shm"

/* Open (creating if needed) the token of the GPU with this UUID in gvr_dir(dir). Without gpuvisord
 * a GPU's time is shared by the processes of one Unix user at a time: the handle holds the user's
 * claim on the GPU, and opening fails with -EBUSY, and a message, while processes of another user
 * hold theirs. Returns 0, or a negative errno with a message. */
int gvr_sched_open(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                   struct gv_error *err);
void gvr_sched_close(struct gvr_sched *s);

/* In a forked child: the handle now speaks for this process, which holds nothing (and a claim of
 * its own on the GPU's time). */
void gvr_sched_forked(struct gvr_sched *s);

/* At the process's end: let go of its claim on the GPU's time, removing the user's claim file when
 * no other process of the user holds it. The token itself stays usable. */
void gvr_sched_unclaim(struct gvr_sched *s);

/* Take the token for a slice ending at slice_end. A holder that is past its slice plus the grace
 * is taken over; with check_alive, a holder whose process is gone is too (costs
 * a read of /proc: waiters do it after each timed-out wait). Returns true when this process now
 * holds the token. */
bool gvr_sched_take(struct gvr_sched *s, uint64_t now, uint64_t slice_end, bool check_alive);

/* Still the holder? (false after the token was taken over). */
bool gvr_sched_held(const struct gvr_sched *s);

/* The holder's slice now ends at slice_end (renewal). */
void gvr_sched_extend(struct gvr_sched *s, uint64_t slice_end);

/* This process's tenure (its holder word while it holds the token, else 0) and its start time;
 * and the holder word now (0 when free): a tenure is over once the holder word is another. */
uint64_t gvr_sched_tenure(const struct gvr_sched *s, uint64_t *start);
uint64_t gvr_sched_holder_word(const struct gvr_sched *s);

/* Give the token up (if still held) and wake the waiters. */
void gvr_sched_release(struct gvr_sched *s);

/* Wait until the token changes hands or timeout_ns passes, stamped as wanting the token (until
 * the timeout, plus a margin). Returns false on timeout. */
bool gvr_sched_wait(struct gvr_sched *s, uint64_t now, uint64_t timeout_ns);

/* Does another process want the token now (a fresh want stamp)? */
bool gvr_sched_wanted(const struct gvr_sched *s, uint64_t now);

/* The holder's pid (0 when free), for tools and tests. */
pid_t gvr_sched_holder(const struct gvr_sched *s);

#endif
