/* SPDX-License-Identifier: Apache-2.0 */
/* proc.h: whether a process recorded in shared memory is still the one that was recorded.
 *
 * Regions and GPU tokens record a process by pid and start time (field 22 of /proc/<pid>/stat), so
 * that a pid reused by a later process is not taken for the one recorded. A process is judged gone
 * only on proof: no such pid, a zombie, or a pid now used by a process that started at another
 * time. What cannot be read counts as alive: keeping a dead process's memory only refuses memory,
 * taking a live one's would let an instance pass its limit. */
#ifndef GVR_PROC_H
#define GVR_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* State letter (field 3) and start time (field 22) of `pid`. Returns 0 or a negative errno. */
int gvr_proc_stat(pid_t pid, char *state, uint64_t *start);

/* Is the process recorded as (pid, start) gone? start 0: judged by the pid alone. */
bool gvr_proc_gone(pid_t pid, uint64_t start);

/* The inode of this process's pid namespace (/proc/self/ns/pid), 0 if unknown. A pid recorded by a
 * process of another namespace means nothing here, so records carry it next to the pid. */
uint64_t gvr_proc_own_pidns(void);

#endif
