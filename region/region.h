/* SPDX-License-Identifier: Apache-2.0 */
/* region.h: the shared-memory record of one vGPU instance.
 *
 * One file per instance, <dir>/<name>, with dir = /dev/shm/gpuvisor-<uid> (the effective uid)
 * unless GPUVISOR_REGION_DIR or the caller says otherwise. Without a daemon the directory and its
 * files are one user's: the directory is 0700 and the files 0600, and a process opens them for
 * writing only when the directory and the file are its own user's (sharing a GPU among users is
 * gpuvisord's job). Every file's space is reserved before it is mapped, so a full file system
 * refuses an open with a message instead of killing a process with SIGBUS. Every process of the
 * instance maps it (through the interposer), and so do the CLI and the daemon. It holds the
 * instance's limits per GPU, keyed by GPU UUID because CUDA ordinals and NVML indices differ
 * between processes; the usage per GPU (a core ledger); and one slot per member process with what
 * that process has charged, so that a dead process's memory can be given back.
 *
 * Hot paths (charge, uncharge, join, leave) are lock-free. Reclaiming dead members and adding a GPU
 * take a robust, process-shared mutex inside the region; a process killed while holding it costs
 * the next holder a repair pass, never a hang. Over-limit is impossible even under races: a charge
 * reserves in the ledger before the caller asks the driver, and the caller uncharges if the driver
 * fails.
 *
 * Nothing here allocates on the heap except gvr_list (opendir). A struct gvr_region is caller-owned
 * storage for one process's view of one region; one handle is at most one member. Every function
 * returns 0 (or a count) on success and a negative errno value on failure, with a message in the
 * optional gv_error. */
#ifndef GVR_REGION_H
#define GVR_REGION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/budget.h"
#include "core/policy.h"
#include "core/error.h"
#include "core/ledger.h"
#include "core/uuid.h"

#define GVR_DEFAULT_DIR "/dev/shm/gpuvisor" /* followed by "-<uid>": one directory per user */
#define GVR_DIR_ENV     "GPUVISOR_REGION_DIR"
#define GVR_NAME_MAX    64 /* instance names: [A-Za-z0-9_.-], 1..64 characters, not "." or ".." */
#define GVR_UUID_LEN    GV_UUID_LEN /* a GPU UUID as its 16 raw bytes */
#define GVR_MAX_DEVICES GV_LEDGER_DEVICES
#define GVR_MAX_MEMBERS 128
#define GVR_LAYOUT      4 /* the layout version this code reads and writes (4: retirement, waits) */

/* One process's mapping of one region. Fields are private: use the functions. */
struct gvr_region {
    void *map;      /* the shared layout */
    size_t size;    /* bytes mapped */
    int fd;         /* kept open: its link count tells when the file was removed */
    bool readonly;  /* mapped read-only: snapshot only */
    int slot;       /* member slot of this handle, -1 when not a member */
    pid_t pid;      /* getpid() at open, or when the slot was taken */
    uint64_t start; /* that process's start time (/proc/<pid>/stat field 22), 0 if unknown */
    uint64_t pidns; /* inode of our pid namespace, 0 if unknown */
    char name[GVR_NAME_MAX + 1];
};

/* What a creator asks for, per GPU. memory is in bytes (0 = unlimited); share in basis points of
 * the GPU's time (GV_SHARE_FULL = 100%, 0 = no compute limit), kept for the GPU-time budget. */
struct gvr_device_limit {
    uint8_t uuid[GVR_UUID_LEN];
    uint64_t memory;
    uint32_t share;
    uint8_t policy;   /* enum gv_policy (0: guaranteed) */
    uint8_t priority; /* enum gv_priority (0: normal) */
};

/* gvr_open flags */
#define GVR_CREATE 0x1 /* create the region if it does not exist */
#define GVR_READONLY                                                                               \
    0x2 /* map read-only (tools without write access): snapshot and readers only                   \
         */

/* gvr_open result bits (a non-negative return) */
#define GVR_CREATED 0x1 /* this call initialized the region */
#define GVR_LIMITS_DIFFER                                                                          \
    0x2 /* an existing region's limits differ from those asked; they were kept,                    \
         * and err->msg (code 0) names the first GPU that differs */

/* The directory regions live in: dir if not NULL, else $GPUVISOR_REGION_DIR if set and not empty,
 * else GVR_DEFAULT_DIR-<euid>. The default is written in a buffer of the calling thread, valid
 * until its next call. */
const char *gvr_dir(const char *dir);

/* Open the region directory d (as gvr_dir gives it) for this process, creating it (mode 0700)
 * when create is set and it is missing. For writing (write set) it must be a directory owned by
 * this process's effective user, not writable by others (the default directory is made 0700
 * again if it is); for reading any directory will do. A symbolic link is refused either way.
 * Returns the directory's file descriptor (close-on-exec), or a negative errno value with a
 * message: -ENOENT (missing), -ELOOP (a symbolic link), -EPERM (another user's, or writable by
 * others), or the file system's. */
int gvr_dir_open(const char *d, bool create, bool write, struct gv_error *err);

/* Reserve the first size bytes of the file behind fd on the file system, extending it if it is
 * shorter, so that touching any page of a mapping of it can never fail for lack of space. what and
 * path name the file in the message. Returns 0 or a negative errno value (-ENOSPC: the file
 * system is full, and the message says what to do). */
int gvr_file_reserve(int fd, uint64_t size, const char *what, const char *path,
                     struct gv_error *err);

/* 0 if the file behind fd belongs to this process's effective user, else -EPERM with a message
 * (what and path name the file) that says sharing among users needs gpuvisord. */
int gvr_file_owned(int fd, const char *what, const char *path, struct gv_error *err);

/* 0 if name is a valid instance name, else -EINVAL with a message naming it and the rule. */
int gvr_name_check(const char *name, struct gv_error *err);

/* Open (and with GVR_CREATE, create) the region of instance `name` in gvr_dir(dir). Many processes
 * may call this at once for the same name: exactly one initializes, the others wait for it
 * (briefly) and attach. On creation the region gets the `n` limits given; on attach, each limit
 * given is compared with the region's by UUID: a GPU the region lacks is added, a GPU it has keeps
 * its limit (GVR_LIMITS_DIFFER tells the caller). Returns GVR_CREATED | GVR_LIMITS_DIFFER bits (>=
 * 0) or: -EINVAL (bad name or arguments), -ENOENT (missing, without GVR_CREATE), -EPROTO (not a
 * region, or another layout version: the message says which), -ENOSPC (more than GVR_MAX_DEVICES
 * GPUs, or no room for the file on its file system), -EPERM (the directory or the file belongs to
 * another user: see gvr_dir_open), -ETIMEDOUT (another process holds the file's initialization
 * lock for seconds), or an errno from the file system. The handle is not a member until gvr_join.
 */
int gvr_open(struct gvr_region *r, const char *dir, const char *name, unsigned flags,
             const struct gvr_device_limit *limits, unsigned n, struct gv_error *err);

/* Map the region behind descriptor fd, which gpuvisord handed over (region/daemon.h): the same
 * checks of what the file holds as gvr_open (a region, of this layout version and size), and no
 * check of who owns it, since the daemon vouched for this process when it sent the descriptor. The
 * handle keeps a duplicate of fd (close-on-exec); the caller's fd stays the caller's. With
 * GVR_READONLY the region is mapped read-only; else fd must be open for writing. The handle's name
 * is the instance's as the region records it (the daemon names regions by instance id). The handle
 * is not a member until gvr_join. Returns 0, or -EINVAL (GVR_CREATE), -EBADF, -EPROTO (not a region
 * of this version), -EROFS (fd is read-only), or an errno from the system, with a message. */
int gvr_open_fd(struct gvr_region *r, int fd, unsigned flags, struct gv_error *err);

/* Leave (if a member) and unmap. The file stays: see gvr_remove. Safe on a zeroed or closed handle.
 */
void gvr_close(struct gvr_region *r);

/* --- GPUs of the instance, by UUID. Indices are stable for the region's life and are the `dev`
 * arguments below; each process maps its CUDA ordinals to them once. */

/* Index of the GPU with this UUID, or -ENOENT. Lock-free. */
int gvr_device_find(const struct gvr_region *r, const uint8_t uuid[GVR_UUID_LEN]);

/* Index of the GPU with this UUID, adding it with the given limits if the region lacks it.
 * *differs (if not NULL) is set when the GPU existed with other limits (they are kept).
 * Returns the index or -ENOSPC, -EROFS. */
int gvr_device_add(struct gvr_region *r, const struct gvr_device_limit *lim, bool *differs,
                   struct gv_error *err);

unsigned gvr_device_count(const struct gvr_region *r);

/* Change device dev's limits (memory bytes, 0 = unlimited; share basis points). Memory already
 * charged above a lowered limit stays charged; new charges fail until usage falls under it.
 * Returns 0, -EINVAL, -EROFS. */
int gvr_device_set(struct gvr_region *r, unsigned dev, uint64_t memory, uint32_t share);

/* Copy device dev's UUID and limits into *out. Returns 0 or -EINVAL. */
int gvr_device_get(const struct gvr_region *r, unsigned dev, struct gvr_device_limit *out);

/* Memory of the whole instance on dev (all members together): bytes charged, limit (0 = unlimited),
 * and what a charge could still get (see gv_ledger_available). Lock-free; 0 for a bad dev. */
uint64_t gvr_used(const struct gvr_region *r, unsigned dev);
uint64_t gvr_limit(const struct gvr_region *r, unsigned dev);
uint64_t gvr_available(const struct gvr_region *r, unsigned dev);

/* How the instance's share on dev is kept, and its priority there (core/policy.h). Set: 0,
 * -EROFS or -EINVAL. A value the reader does not know reads as the default. Lock-free. */
int gvr_policy_set(struct gvr_region *r, unsigned dev, enum gv_policy policy,
                   enum gv_priority priority);
void gvr_policy(const struct gvr_region *r, unsigned dev, enum gv_policy *policy,
                enum gv_priority *priority);

/* The instance's compute share on dev (basis points; 0 = no compute limit). Lock-free. */
uint32_t gvr_share(const struct gvr_region *r, unsigned dev);

/* The GPU-time budget of the instance on dev, shared by all its members (core/budget.h): the
 * interposer charges it with the time its processes hold the GPU. NULL for a bad dev or a
 * read-only handle (tools read the figures through gvr_snapshot). */
struct gv_budget *gvr_budget(const struct gvr_region *r, unsigned dev);

/* --- Membership. */

/* Take a member slot for this process. Lock-free: a compare-and-swap on a free slot and three
 * stores (the process's start time was read by gvr_open). After fork() the child must
 * gvr_join_after_fork before charging, or it would charge its parent's slot. Returns 0, -EALREADY
 * (already a member), -ENOSPC (all GVR_MAX_MEMBERS slots hold live processes), -ESTALE (the region
 * is being removed: close and open again), -EROFS. */
int gvr_join(struct gvr_region *r, struct gv_error *err);

/* gvr_join_flags flag: first give back the slots this same process (same pid and start time) holds,
 * from before an exec(): the driver freed that memory, but the pid and start time live on. Meant
 * for the interposer, whose process has one member. Without it, several handles of one process are
 * separate members (tools, tests). */
#define GVR_JOIN_REPLACE 0x1

/* gvr_join with flags; gvr_join(r, err) is gvr_join_flags(r, 0, err). */
int gvr_join_flags(struct gvr_region *r, unsigned flags, struct gv_error *err);

/* In a child after fork(): forget the parent's slot (without touching it) and join anew. */
int gvr_join_after_fork(struct gvr_region *r, struct gv_error *err);

/* Give back everything this member charged, context memory included, and free its slot.
 * Lock-free. Other threads must not charge through this handle meanwhile. Returns 0, or -EINVAL
 * when not a member (or in a forked child through its parent's membership, left alone). */
int gvr_leave(struct gvr_region *r);

/* --- The hot path, lock-free: a few atomic operations, no system call. */

/* Charge bytes on dev to this member: reserve them in the instance's ledger (refused if the
 * instance would pass its limit), then count them as the member's. Call before the driver
 * allocates; uncharge if the driver fails. Returns 0, -ENOMEM (over the instance's limit: a caller
 * may gvr_reclaim and try once more), -EOVERFLOW, -EINVAL (bad dev), -EPERM (not a member),
 * -ESHUTDOWN (the instance was retired: gvr_retire). */
int gvr_charge(struct gvr_region *r, unsigned dev, uint64_t bytes);

/* Give back bytes this member charged on dev. Returns 0, -ERANGE (more than the member holds there:
 * nothing changes), -EINVAL, -EPERM. */
int gvr_uncharge(struct gvr_region *r, unsigned dev, uint64_t bytes);

/* Bytes this member holds on dev (0 when not a member or bad dev). Context memory is not in it. */
uint64_t gvr_member_used(const struct gvr_region *r, unsigned dev);

/* --- Context memory: what the driver keeps on a GPU for a process's contexts, outside any
 * allocation. It is counted against the instance's limit like an allocation, but apart from the
 * member's allocations (so a free can never return it), and given back only with the member:
 * gvr_leave, or the reclaim of a dead member. */

/* Count bytes more of context memory on dev for this member: reserve them in the instance's ledger
 * (refused if the instance would pass its limit), then add them to the member's context counter.
 * Lock-free, like gvr_charge. Returns 0, -ENOMEM (over the limit: a caller may gvr_reclaim and try
 * once more), -EOVERFLOW, -EINVAL (bad dev), -EPERM (not a member). */
int gvr_charge_context(struct gvr_region *r, unsigned dev, uint64_t bytes);

/* Context memory counted for this member on dev (0 when not a member or bad dev). */
uint64_t gvr_member_context(const struct gvr_region *r, unsigned dev);

/* --- Refusals: how often a member was refused memory, so that a tenant can tell "my slice is
 * full" from "the card is full". Counted per member and device, kept until the member leaves. */

enum gvr_refusal {
    GVR_REFUSED_SLICE = 0,  /* the instance's limit refused a charge */
    GVR_REFUSED_DRIVER = 1, /* the charge fit, and the driver was out of memory */
};

/* Count one refusal of kind `why` on dev for this member. Lock-free. Returns 0, -EINVAL, -EPERM.
 */
int gvr_count_refusal(struct gvr_region *r, unsigned dev, enum gvr_refusal why);

/* This member's count of refusals of kind `why` on dev (0 when not a member or bad dev). */
uint64_t gvr_member_refusals(const struct gvr_region *r, unsigned dev, enum gvr_refusal why);

/* --- Reclaim. */

/* Find members whose process is gone (no such pid, a zombie, or a pid now used by a process that
 * started later), give their bytes back to the ledger and free their slots; then, if a process died
 * in the middle of a charge or while holding the mutex, make the ledger agree with the members'
 * counters again. Cost: one kill(pid, 0) and one read of /proc/<pid>/stat per member; cheap enough
 * to call on every failed charge. Members in another pid namespace are left alone (their pids mean
 * nothing here). Returns the number of members reclaimed, or -EROFS, -ENOTRECOVERABLE. */
int gvr_reclaim(struct gvr_region *r, struct gv_error *err);

/* gvr_reclaim, by at most one caller per period_ns among all processes of the instance: the first
 * caller after the period has passed does it, others return 0 at the cost of one clock read. For a
 * timer in every member (period 200-500 ms keeps "a dead member's memory is back within 1 s"). */
int gvr_reclaim_if_due(struct gvr_region *r, uint64_t period_ns, struct gv_error *err);

/* --- Tools: listing, snapshots, removal. */

enum gvr_liveness { GVR_ALIVE = 0, GVR_DEAD = 1, GVR_UNKNOWN = 2 /* another pid namespace */ };

struct gvr_snapshot {
    char name[GVR_NAME_MAX + 1];
    int64_t created_ns; /* CLOCK_REALTIME */
    unsigned ndev;
    struct {
        uint8_t uuid[GVR_UUID_LEN];
        uint64_t limit;          /* bytes, 0 = unlimited */
        uint64_t used;           /* bytes charged by all members */
        uint32_t share;          /* basis points, 0 = no compute limit */
        enum gv_policy policy;
        enum gv_priority priority;
        uint64_t busy_recent_ns; /* GPU time charged over the last second (in 100 ms steps) */
        uint64_t busy_total_ns;  /* GPU time charged since the instance was made */
        uint64_t waited_total_ns; /* time members' launches waited for the GPU (gvr_count_wait) */
    } dev[GVR_MAX_DEVICES];
    bool retired; /* gvr_retire was called: members' charges are refused */
    unsigned nmember;
    struct {
        pid_t pid;
        uint64_t start; /* clock ticks after boot, /proc/<pid>/stat field 22 (0 while joining) */
        enum gvr_liveness alive;
        uint64_t bytes[GVR_MAX_DEVICES];      /* charged by this member, per region device index */
        uint64_t context[GVR_MAX_DEVICES];    /* its context memory there (gvr_charge_context) */
        uint64_t refused[GVR_MAX_DEVICES];    /* charges its slice refused there */
        uint64_t driver_oom[GVR_MAX_DEVICES]; /* charges the driver refused, out of memory */
    } member[GVR_MAX_MEMBERS];
};

/* Read the region into *s without locks (each counter is read atomically; the whole is not one
 * instant). Works on a read-only handle. Returns 0. */
int gvr_snapshot(const struct gvr_region *r, struct gvr_snapshot *s);

/* Call fn(name, arg) for each region file in gvr_dir(dir), in directory order; a non-zero return
 * from fn stops the walk and is returned. Files with invalid names are skipped. A missing directory
 * lists nothing. Returns 0, fn's value, or a negative errno. */
int gvr_list(const char *dir, int (*fn)(const char *name, void *arg), void *arg,
             struct gv_error *err);

/* Remove instance `name`'s file if it has no live members (dead ones are reclaimed first). A
 * process that opens the instance at the same moment either joins before (then -EBUSY here) or
 * finds the removal and retries on a fresh file. Returns 0, -EBUSY (live members), -ENOENT,
 * -EPROTO. */
int gvr_remove(const char *dir, const char *name, struct gv_error *err);

/* Retire instance `name`: mark its region so that every later charge (allocations and context
 * memory) by any member fails with -ESHUTDOWN, then remove its file whatever its members. For the
 * daemon's DELETE: members that still run are told by their next charge (the interposer says the
 * instance was deleted) and give their memory back when they end. Returns 0, -ENOENT, -EPROTO, or
 * an errno from the file system. */
int gvr_retire(const char *dir, const char *name, struct gv_error *err);

/* Was the region retired (gvr_retire)? Lock-free. */
bool gvr_retired(const struct gvr_region *r);

/* Add ns to the time the instance's launches waited for the GPU on dev (for tools). Lock-free; a
 * no-op on a read-only handle or a bad dev. */
void gvr_count_wait(struct gvr_region *r, unsigned dev, uint64_t ns);

/* For tests of robustness only: lock the region's mutex and return holding it, so that a test child
 * can die while it holds the lock. Returns 0 or -EROFS. */
int gvr_testhook_lock(struct gvr_region *r);

#endif
