/* SPDX-License-Identifier: Apache-2.0 */
/* launch.h: what starting a tenant process takes, for every part that starts one.
 *
 * A tenant process is an ordinary program with the interposer (libgpuvisor.so) in LD_PRELOAD and a
 * few variables that tell the interposer which instance it belongs to. Three parts start such
 * processes: `gpuvisor run`, the daemon (which tells a client how to join an instance) and a
 * workload manager's plugin. They must agree to the letter: the same library found the same way,
 * the same preload rules, the same variables set and the same stale ones cleared. So this library
 * owns all of it, and the parts only say which kind of instance they mean.
 *
 * Two kinds: a standalone slice, whose limits travel in the environment and whose region file is
 * the user's own (GPUVISOR_INSTANCE, GPUVISOR_MEMORY, GPUVISOR_COMPUTE), and an instance made by
 * gpuvisord, whose limits live only in the daemon's region file (GPUVISOR_DAEMON,
 * GPUVISOR_INSTANCE and, when the caller already holds the file, GPUVISOR_REGION_FD). Setting one
 * kind clears the other's variables, so a run started inside another never inherits a limit or a
 * daemon it did not ask for.
 *
 * The environment is built as a separate envp array (struct gvl_env) for posix_spawn or execve;
 * the caller's environ is never touched, so this works in a multithreaded daemon and in a plugin
 * running inside someone else's process. Nothing here prints; errors come back as gv_error. It
 * links only core, region (the daemon's local protocol, for joining) and libc. */
#ifndef GVL_LAUNCH_H
#define GVL_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/uuid.h"
#include "region/region.h"

#define GVL_SHIM_NAME      "libgpuvisor.so"
#define GVL_DEFAULT_SOCKET "/run/gpuvisor/gpuvisord.sock" /* gpuvisord's local socket */

/* The variables, named once. */
#define GVL_ENV_PRELOAD   "LD_PRELOAD"
#define GVL_ENV_SHIM      "GPUVISOR_SHIM" /* the interposer to use instead of the installed one */
#define GVL_ENV_INSTANCE  "GPUVISOR_INSTANCE" /* instance name (standalone) or id (daemon) */
#define GVL_ENV_MEMORY    "GPUVISOR_MEMORY"   /* standalone: memory limit string (core/limits.h) */
#define GVL_ENV_COMPUTE   "GPUVISOR_COMPUTE"  /* standalone: compute share limit string */
#define GVL_ENV_DEVICES   "CUDA_VISIBLE_DEVICES" /* the GPUs the command sees */
#define GVL_ENV_DAEMON    "GPUVISOR_DAEMON"      /* daemon: its local socket */
#define GVL_ENV_REGION_FD "GPUVISOR_REGION_FD"   /* daemon: an inherited descriptor of the region */

/* --- the interposer */

/* The directory of the running program (from /proc/self/exe, symbolic links resolved) in out. */
int gvl_self_dir(char *out, size_t len, struct gv_error *err);

/* The absolute path of gpuvisor's library `name` (a file name) in out (at least PATH_MAX bytes),
 * looked for from bin_dir (NULL: the running program's directory) in the installed layout (bin/ and
 * the configured libdir, which may be lib64 or a multiarch directory), then in the build tree's
 * (build/bin and build/lib). Returns 0, or -ENOENT with a message naming where it looked. */
int gvl_find_lib(const char *name, const char *bin_dir, char *out, size_t len,
                 struct gv_error *err);

/* The interposer's absolute path in out (at least PATH_MAX bytes). override, when not NULL or
 * empty, is what GPUVISOR_SHIM says and is used as given (it must be readable). Otherwise the
 * library is looked for from bin_dir (NULL: the running program's directory) in the installed
 * layout (bin/ and the configured libdir, which may be lib64 or a multiarch directory), then in the
 * build tree's (build/bin and build/lib). The path is absolute because the command may change
 * directory before it loads it. Returns 0, or -ENOENT with a message naming where it looked. */
int gvl_find_shim(const char *override, const char *bin_dir, char *out, size_t len,
                  struct gv_error *err);

/* LD_PRELOAD with the interposer shim added, in a new string (*out, freed by the caller). old (may
 * be NULL) keeps its entries in their order and first, so libraries the user preloads keep their
 * precedence; shim is appended once, unless it is already there (then it stays where it is).
 * Another copy of libgpuvisor.so (an installed one inherited by a build-tree run, say) is dropped:
 * two interposers in one process would charge every allocation twice. Entries are separated by ':'
 * (ld.so also takes spaces). Returns 0 or -ENOMEM. */
int gvl_preload_compose(const char *old, const char *shim, char **out, struct gv_error *err);

/* --- an environment under construction */

/* A NULL-terminated array of "NAME=value" strings, each owned by the array. Invariant: var[n] is
 * NULL and every name appears at most once among the entries this library set. */
struct gvl_env {
    char **var;
    size_t n, cap;
};

/* A copy of base (an envp, such as environ; NULL for an empty environment). Returns 0 or -ENOMEM.
 */
int gvl_env_init(struct gvl_env *e, char *const *base, struct gv_error *err);

/* Free every string and the array; the struct is left empty (safe to free twice). */
void gvl_env_free(struct gvl_env *e);

/* The value of name, or NULL. */
const char *gvl_env_get(const struct gvl_env *e, const char *name);

/* Set name to value, replacing every earlier entry of that name; value NULL removes it. Returns 0,
 * -EINVAL (a name that is empty or has '='), -ENOMEM. */
int gvl_env_set(struct gvl_env *e, const char *name, const char *value, struct gv_error *err);

/* The array for posix_spawn or execve; valid until the next change. */
static inline char *const *gvl_env_envp(const struct gvl_env *e)
{
    return e->var;
}

/* Put the interposer at path shim into LD_PRELOAD (gvl_preload_compose over the current value). */
int gvl_env_preload(struct gvl_env *e, const char *shim, struct gv_error *err);

/* --- the two kinds of instance */

/* A standalone slice. memory and compute are limit strings (core/limits.h), NULL for none: then an
 * inherited value is removed, since it would otherwise set a limit nobody asked for. devices, when
 * not NULL, becomes CUDA_VISIBLE_DEVICES; NULL leaves it as it is. */
struct gvl_slice {
    const char *instance; /* the instance name (region/region.h: gvr_name_check) */
    const char *memory;
    const char *compute;
    const char *devices;
};

/* An instance of gpuvisord. region_fd is a descriptor of its region file the process inherits
 * (gvl_fd_inherit), or -1: the interposer then asks the daemon for one itself. devices is the
 * instance's GPU, as a UUID, which becomes CUDA_VISIBLE_DEVICES (NULL leaves it alone). */
struct gvl_join {
    const char *socket;   /* the daemon's local socket */
    const char *instance; /* its id (or its name within the caller's tenant) */
    int region_fd;
    const char *devices;
};

/* Set e for a process of the slice s; shim, when not NULL, is added to LD_PRELOAD. The daemon's
 * variables are removed. Returns 0, -EINVAL (no instance), -ENOMEM. */
int gvl_env_slice(struct gvl_env *e, const char *shim, const struct gvl_slice *s,
                  struct gv_error *err);

/* Set e for a process joining the daemon instance j; shim as for gvl_env_slice. The standalone
 * limits are removed (in daemon mode limits come only from the region). Returns 0, -EINVAL (no
 * socket or instance), -ENOMEM. */
int gvl_env_join(struct gvl_env *e, const char *shim, const struct gvl_join *j,
                 struct gv_error *err);

/* --- joining an instance of gpuvisord (join.c) */

/* What joining gave. */
struct gvl_member {
    int fd;                    /* the region file, open read-write and inherited across exec */
    char id[GVR_NAME_MAX + 1]; /* the instance's id (the key may have been its name) */
    char uuid[GV_UUID_TEXT];   /* its GPU ("GPU-..."), for CUDA_VISIBLE_DEVICES */
    uint32_t share;            /* its compute share, basis points (0: no limit) */
};

/* Ask gpuvisord at socket to let this process into instance key (an id, or a name within the
 * caller's tenant); the daemon decides by this process's Unix user. Fills m for gvl_env_join
 * (the caller closes m->fd when it no longer needs it). Returns 0, or gvr_daemon_join's errors:
 * -ENOENT (no such instance for this user, or no daemon at socket: the message says which),
 * -ECONNREFUSED (no daemon), -EINVAL (not an id or a name), -EPROTO; with a message. */
int gvl_daemon_join(const char *socket, const char *key, struct gvl_member *m,
                    struct gv_error *err);

/* --- descriptors and the daemon's address */

/* Let fd survive exec (clear FD_CLOEXEC), for GPUVISOR_REGION_FD. Returns 0 or -errno. */
int gvl_fd_inherit(int fd, struct gv_error *err);

/* The daemon's local socket as a tenant finds it: $GPUVISOR_DAEMON when set and not empty, else
 * GVL_DEFAULT_SOCKET. */
const char *gvl_daemon_socket(void);

/* True if path names a Unix socket that exists (whether a daemon listens on it or not). */
bool gvl_socket_exists(const char *path);

#endif
