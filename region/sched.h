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
 * instruction leaves a holder word naming a dead process, which the next taker removes.
 *
 * With gpuvisord the processes of several users take turns, and a record every one of them could
 * write would let any of them take or keep another's turn. So there the record is the daemon's
 * (<run>/sched/GPU-<uuid>.sched, mode 0644): a process maps it read-only, reads the holder and the
 * line from it and sleeps on its sequence word as above, and asks the daemon, over a connection of
 * its own (region/daemon.h), to take, extend or release its turn and to stand it in line. The
 * daemon does the same compare-and-swaps on the record on behalf of the process that connected,
 * so a process can only ever take, keep or give up its own turn, and a holder whose connection
 * closes (its process died) loses the token at once. The daemon also keeps each instance's
 * GPU-time budget itself, and may refuse a take or a renewal (gvr_sched_extend returns false). The
 * same functions serve both modes: the interposer's policy does not tell them apart. */
#ifndef GVR_SCHED_H
#define GVR_SCHED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"
#include "core/uuid.h"

/* A turn on the GPU: what a holder takes the token for at a time (shim/timeshare.c), unless
 * GPUVISOR_TIMESLICE or gpuvisord's setting for the GPU says otherwise (core/timeslice.h). */
#define GVR_SCHED_SLICE_NS 10000000ULL

/* A live holder this far past its slice end loses the token. Long enough for a holder's drain of
 * the work it queued in its turn (about one slice's worth, shim/timeshare.c) to finish within it:
 * two slices. The record keeps the holder's own slice length, and the grace is twice that; this is
 * the grace of a default slice. */
#define GVR_SCHED_GRACE_NS (2 * GVR_SCHED_SLICE_NS)

/* In gpuvisord's mode a waiter stands in line for this long after each refused take: longer than
 * the wait between two takes, so that the line holds while it waits, and short enough that a
 * waiter that stops waiting leaves no false demand behind for long. */
#define GVR_SCHED_WANT_LEASE_NS 5000000ULL

/* How often a process whose connection to gpuvisord is gone tries to connect again while it wants
 * the token. */
#define GVR_SCHED_RECONNECT_NS 100000000ULL

/* Who takes turns: a process, named by its pid (in the pid namespace of whoever writes the record),
 * start time and pid namespace, and its tenure while it holds the token. */
struct gvr_sched_peer {
    pid_t pid;
    uint64_t start; /* /proc/<pid>/stat field 22 */
    uint64_t pidns; /* inode of its pid namespace */
    uint64_t mine;  /* the holder word while this process holds the token, else 0 */
    uint64_t seen;  /* the holder word the last take found */
};

/* One process's handle on one GPU's token. Fields are private. */
struct gvr_sched {
    void *map;
    int fd;
    struct gvr_sched_peer self; /* the process it is for (a forked child: gvr_sched_forked) */
    int claim;                  /* this user's claim on the GPU's time (a shared lock), or -1 */
    char claim_path[96];
    /* gpuvisord's mode (gvr_sched_open_daemon): the record is mapped read-only and changed by the
     * daemon on this process's requests, over a connection of its own. */
    bool daemon;
    bool refused;          /* the daemon refused this process's turns for good (why) */
    int conn;              /* the connection, -1 while there is none */
    pid_t wire_pid;        /* this process's pid as the daemon sees it */
    uint64_t next_connect; /* no attempt to connect again before this time */
    uint64_t hold_off;     /* the daemon said the instance's GPU time is spent until then */
    uint64_t want_until;   /* the daemon keeps this process in line until then */
    uint32_t pending;      /* a renewal or an idling was sent and its answer not read yet (its op) */
    bool renewal_refused;  /* the last renewal's answer was a refusal */
    _Atomic int io;        /* one request at a time on the connection (a plain flag: a
                            * handle may be copied before use, which a mutex may not) */
    uint8_t uuid[GV_UUID_LEN];
    char socket[108];
    char key[72];
    char why[192];
    uint64_t report; /* device time used, not yet reported to gpuvisord (gvr_sched_report) */
    /* gpuvisord's own handle (gvr_sched_serve): a read-only descriptor of the record, for peers */
    int reader;
};

/* Where each user claims the GPUs whose time its processes share (world-writable and sticky). */
#define GVR_CLAIM_DIR "/dev/shm"

/* Open (creating if needed) the token of the GPU with this UUID in gvr_dir(dir). Without gpuvisord
 * a GPU's time is shared by the processes of one Unix user at a time: the handle holds the user's
 * claim on the GPU, and opening fails with -EBUSY, and a message, while processes of another user
 * hold theirs. Opening also removes the claim files, of any GPU, that no process holds any more
 * (left by processes killed or ended with _exit; the directory being sticky, only the calling
 * user's own, or all as root). Returns 0, or a negative errno with a message. */
int gvr_sched_open(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                   struct gv_error *err);

/* Open the token of GPU uuid in gvr_dir(dir) only if a process with a compute limit made it, and
 * without a claim on the GPU's time: for a process without a compute limit, which takes turns only
 * while limited processes want the GPU (gvr_sched_demanded) and must not keep another user's out.
 * Returns 0, -ENOENT (no such token yet), or another negative errno with a message. */
int gvr_sched_open_existing(struct gvr_sched *s, const char *dir, const uint8_t uuid[GV_UUID_LEN],
                            struct gv_error *err);

/* Open the token of GPU uuid through gpuvisord at `socket`, for this process's turns as a member
 * of instance `instance` (an id, or a name within the caller's tenant). The functions below then
 * work as with gvr_sched_open: the holder and the waiters are read from the record, which the
 * handle maps read-only, and taking, extending, releasing and standing in line are requests to the
 * daemon, which acts only for the process that connected. When the daemon cannot be reached (now,
 * or later: it restarts), the handle holds nothing and tries again every GVR_SCHED_RECONNECT_NS
 * while its process wants the token. Returns 0 (connected or not), or the daemon's refusal
 * (-ENOENT: no such instance on that GPU for this user), with a message. */
int gvr_sched_open_daemon(struct gvr_sched *s, const char *socket, const char *instance,
                          const uint8_t uuid[GV_UUID_LEN], struct gv_error *err);
void gvr_sched_close(struct gvr_sched *s);

/* In a forked child: the handle now speaks for this process, which holds nothing (and a claim of
 * its own on the GPU's time, or a connection of its own to gpuvisord, made when first needed). */
void gvr_sched_forked(struct gvr_sched *s);

/* At the process's end: let go of its claim on the GPU's time, removing the user's claim file when
 * no other process of the user holds it. The token itself stays usable. */
void gvr_sched_unclaim(struct gvr_sched *s);

/* Remove the claim files in GVR_CLAIM_DIR that no process holds, as gvr_sched_open does: for a
 * program that starts processes which may leave theirs behind (a test killing its children). */
void gvr_sched_tidy(void);

/* Take the token for a slice ending at slice_end, as a contender with `key` (core/policy.h): a
 * take is left to a waiter with a lower key, which comes for it. A holder that made the token idle
 * (gvr_sched_idle) takes it back this way unless it was taken meanwhile. Without gpuvisord; with it
 * the daemon judges keys itself, and `key` is not used. A holder that is past its slice plus the grace
 * is taken over; with check_alive, a holder whose process is gone is too (costs
 * a read of /proc: waiters do it after each timed-out wait). Returns true when this process now
 * holds the token. */
bool gvr_sched_take(struct gvr_sched *s, uint64_t now, uint64_t slice_end, bool check_alive,
                    uint64_t key);

/* Still the holder? (false after the token was taken over, or the daemon's connection lost). */
bool gvr_sched_held(const struct gvr_sched *s);

/* The holder's slice now ends at slice_end (renewal). Returns false when it was not renewed: the
 * token was taken over, or gpuvisord refused (the instance's GPU time is spent, or another instance
 * waits for the GPU); the process must then give the token up. With gpuvisord the renewal is sent
 * and its answer read at the next call, so that the GPU, whose queue the holder has often just
 * drained, does not wait for a round trip every slice: a refusal is then learned one slice late
 * (the next renewal returns false), which the daemon charges to the holder as any holding time. */
bool gvr_sched_extend(struct gvr_sched *s, uint64_t slice_end);

/* This process's tenure (its holder word while it holds the token, else 0) and its start time;
 * and the holder word now (0 when free): a tenure is over once the holder word is another. */
uint64_t gvr_sched_tenure(const struct gvr_sched *s, uint64_t *start);
uint64_t gvr_sched_holder_word(const struct gvr_sched *s);

/* Give the token up (if still held) and wake the waiters. */
void gvr_sched_release(struct gvr_sched *s);

/* Wait until the token changes hands or timeout_ns passes, stamped as wanting the token with `key`
 * (until the timeout, plus a margin). Returns false on timeout. */
bool gvr_sched_wait(struct gvr_sched *s, uint64_t now, uint64_t timeout_ns, uint64_t key);

/* Does another process with a key below `key` want the token now (a fresh want stamp)? UINT64_MAX:
 * does anybody? */
bool gvr_sched_wanted(const struct gvr_sched *s, uint64_t now, uint64_t key);

/* The holder has no work on the GPU: anyone may take the token at once. With `wake` the waiters are
 * woken; without, they find it idle at their next look (the holder, whose next launch is often
 * near, keeps its turn until then unless it takes the token back). The holder takes it back with
 * gvr_sched_take, which wakes the waiters instead when one goes first. Returns false when it did
 * not hold it. */
bool gvr_sched_idle(struct gvr_sched *s, bool wake);

/* Device time the holder's work used, to report to gpuvisord with the next renewal, release or
 * idling (it charges that, at most the time the token was held). Without gpuvisord: kept, unused. */
void gvr_sched_report(struct gvr_sched *s, uint64_t used);

/* A word in the record that equals the holder word once a waiter of a higher priority or a better
 * class (core/policy.h) stands in line: the holder then ends its turn at its next launch. For the
 * interposer's launch path, which reads it without a call. NULL while the record is not mapped. */
const _Atomic uint64_t *gvr_sched_cut_word(const struct gvr_sched *s);

/* The GPU's virtual clock for the class of `key` (its priority and policy class: the virtual time
 * of the latest take or renewal of that class), and raising it to key's virtual time
 * (core/policy.h). gpuvisord keeps its records' clocks itself: a process's raise is then ignored. */
uint64_t gvr_sched_vclock(const struct gvr_sched *s, uint64_t key);
void gvr_sched_clock_to(struct gvr_sched *s, uint64_t key);

/* A process with a compute limit wants or holds the token until `until`; processes without one
 * take turns only while that is ahead (gvr_sched_demanded). As gvr_sched_clock_to with gpuvisord. */
void gvr_sched_demand(struct gvr_sched *s, uint64_t until);
bool gvr_sched_demanded(const struct gvr_sched *s, uint64_t now);

/* The holder's pid (0 when free), for tools and tests. */
pid_t gvr_sched_holder(const struct gvr_sched *s);

/* Has gpuvisord refused this process's turns for good (its instance was deleted, or it is no
 * longer allowed in)? The daemon's message in *why. Never true without a daemon. */
bool gvr_sched_refused(const struct gvr_sched *s, const char **why);

/* ---- gpuvisord's side. The daemon alone writes its GPUs' records, each in a file of its own
 * (mode 0644) in a directory of its own, on behalf of the processes that ask it: a peer is such a
 * process as the daemon sees it (its pid from SO_PEERCRED, its start time read by the daemon).
 * With one writer the record is always consistent, so a takeover needs no second look. */

/* Open (creating if needed) the record of GPU uuid in directory dirfd, owned by this process, and
 * reset it: a free token with nobody waiting, whatever a previous daemon left; waiters are woken.
 * Returns 0, or a negative errno value with a message. */
int gvr_sched_serve(struct gvr_sched *s, int dirfd, const uint8_t uuid[GV_UUID_LEN],
                    struct gv_error *err);

/* A read-only descriptor of a served record, to hand to a peer (the handle keeps it). */
int gvr_sched_reader(const struct gvr_sched *s);

/* The record file's name for GPU uuid in the daemon's directory (GV_UUID_TEXT + 7 bytes). */
void gvr_sched_file(const uint8_t uuid[GV_UUID_LEN], char out[GV_UUID_TEXT + 8]);

/* Take the token for peer p, as gvr_sched_take; *taken_from is the holder word taken over (0 when
 * the token was free or p held it already). */
bool gvr_sched_take_for(struct gvr_sched *s, struct gvr_sched_peer *p, uint64_t now,
                        uint64_t slice_end, bool check_alive, uint64_t key, uint64_t *taken_from);

/* p holds the token and has no work on the GPU (gvr_sched_idle). */
bool gvr_sched_idle_for(struct gvr_sched *s, struct gvr_sched_peer *p, bool wake);

/* Does peer p hold the token? */
bool gvr_sched_holds(const struct gvr_sched *s, const struct gvr_sched_peer *p);

/* Move the slice end of p's tenure (false when p does not hold the token). */
bool gvr_sched_extend_for(struct gvr_sched *s, struct gvr_sched_peer *p, uint64_t slice_end);

/* The slice end of the holder's tenure now. */
uint64_t gvr_sched_slice_end(const struct gvr_sched *s);

/* How long past its slice end the current holder keeps the token: twice its slice. */
uint64_t gvr_sched_grace(const struct gvr_sched *s);

/* Give p's tenure up, if it holds the token, and wake the waiters. Returns whether it held it. */
bool gvr_sched_release_for(struct gvr_sched *s, struct gvr_sched_peer *p);

/* Stand p in line until `until` with `key` (0: take it out of the line). */
void gvr_sched_want_for(struct gvr_sched *s, const struct gvr_sched_peer *p, uint64_t until,
                        uint64_t key);

#endif
