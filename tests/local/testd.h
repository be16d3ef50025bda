/* SPDX-License-Identifier: Apache-2.0 */
/* testd.h: a small stand-in for gpuvisord, for the tests of the local socket and the benchmarks.
 *
 * It does what the daemon core does around daemon/local.c and nothing more: a run directory laid
 * out as the daemon's (a socket of mode 0666, instances/ 0700 with one region file per instance,
 * sched/ 0755), a table of instances, and ops that let a process join an instance when its Unix
 * user is the instance's (or root). The server runs in a forked child, so that a test can kill it
 * with SIGKILL, as an administrator might kill gpuvisord, and start another on the same directory.
 * The table lives in shared memory: the test changes an instance (a resize, a deletion) and the
 * server's ops see it at once, as the daemon core's would after a PATCH or a DELETE. */
#ifndef GV_TESTD_H
#define GV_TESTD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/policy.h"

#define TD_MAX 16

struct td_instance {
    char id[16];
    char name[72];
    uid_t uid; /* the one user but root and the server's own who may join */
    uint8_t uuid[16];
    uint64_t memory;
    _Atomic uint32_t share;
    _Atomic int policy; /* enum gv_policy: fixed unless td_set_policy says otherwise */
    _Atomic int priority;
    _Atomic bool deleted;
};

struct td_shared {
    _Atomic unsigned n;
    struct td_instance inst[TD_MAX];
    _Atomic unsigned http; /* connections handed to "HTTP" */
    /* The time slice the server gives the GPU timeslice_uuid (gvd_local_set_timeslice), as the
     * daemon core does on a PATCH; 0: the server's default. Write the UUID first. */
    uint8_t timeslice_uuid[16];
    _Atomic uint64_t timeslice_ns;
};

struct td {
    char dir[64];        /* the test's directory (mkdtemp), traversable by every user */
    char run[96];        /* the run directory */
    char sock[100];      /* the socket (it must fit a sockaddr_un) */
    char instances[128]; /* run/instances */
    char sched[128];     /* run/sched */
    pid_t pid;           /* the server, 0 when none runs */
    struct td_shared *sh;
};

/* Make the directories and the shared table; no server yet. Returns 0 or -1. */
int td_init(struct td *t);

/* Add an instance (its region file too) with id `id`, name `name` ("" for none), for user uid, on
 * GPU uuid with memory bytes and share basis points. Returns its index, or -1. */
int td_add(struct td *t, const char *id, const char *name, uid_t uid, const uint8_t uuid[16],
           uint64_t memory, uint32_t share);

/* Start a server on the run directory; returns once it accepts connections. Returns 0 or -1. */
int td_start(struct td *t);

/* Serve the run directory from this process instead, as the daemon core does: the socket made
 * (a stale one replaced) and gvd_local started on it. Returns 0 with the server in *l and the
 * listening socket in *fd (the caller stops the one and closes the other), or -1. */
struct gvd_local;
int td_serve_here(struct td *t, struct gvd_local **l, int *fd);

/* Kill the server with SIGKILL and reap it. */
void td_kill(struct td *t);

/* Resize instance i (its region and what the ops answer), as a PATCH would. */
int td_resize(struct td *t, int i, uint64_t memory, uint32_t share);

/* Instance i's compute policy and priority (the test daemon's instances are fixed and normal until
 * this is called), in the daemon's books and its region. Returns 0 or -1. */
int td_set_policy(struct td *t, int i, enum gv_policy policy, enum gv_priority priority);

/* Delete instance i: the ops forget it and its region is retired, as a DELETE would. */
int td_delete(struct td *t, int i);

/* Kill the server and remove everything. */
void td_fini(struct td *t);

#endif
