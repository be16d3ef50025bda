/* SPDX-License-Identifier: Apache-2.0 */
/* launch.c: finding the interposer, composing LD_PRELOAD, and the environment of a tenant process
 * (launch.h says why one library owns all of it).
 *
 * The environment is a private array of heap strings: callers build it, hand it to posix_spawn or
 * execve, and free it. Every change replaces all earlier entries of the name, because getenv and
 * the interposer read the first one and an inherited duplicate must never win. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/launch.h"

#ifndef GV_LIBDIR_REL
#define GV_LIBDIR_REL "../lib" /* from the binary's directory to the library directory */
#endif

/* ------------------------------------------------------------------ the interposer */

int gvl_self_dir(char *out, size_t len, struct gv_error *err)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n < 0)
        return gv_error_set(err, -errno, "cannot find the program's own path (/proc/self/exe: %s)",
                            strerror(errno));
    exe[n] = '\0';
    const char *dir = dirname(exe);
    if (strlen(dir) >= len)
        return gv_error_set(err, -ENAMETOOLONG, "the program's directory %s: path too long", dir);
    strcpy(out, dir);
    return 0;
}

int gvl_find_lib(const char *name, const char *bin_dir, char *out, size_t len, struct gv_error *err)
{
    char real[PATH_MAX];
    char dir[PATH_MAX];
    if (!bin_dir) {
        int rc = gvl_self_dir(dir, sizeof(dir), err);
        if (rc < 0)
            return rc;
        bin_dir = dir;
    }
    const char *rel[] = {GV_LIBDIR_REL, "../lib"};
    char tried[2][PATH_MAX];
    for (unsigned i = 0; i < 2; i++) {
        int n = snprintf(tried[i], sizeof(tried[i]), "%s/%s/%s", bin_dir, rel[i], name);
        if (n < 0 || (size_t)n >= sizeof(tried[i]))
            return gv_error_set(err, -ENAMETOOLONG, "directory %s: path too long", bin_dir);
        if (realpath(tried[i], real) && access(real, R_OK) == 0) {
            if (strlen(real) >= len)
                return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", real);
            strcpy(out, real);
            return 0;
        }
    }
    bool two = strcmp(tried[0], tried[1]) != 0;
    return gv_error_set(err, -ENOENT, "%s is not in %s%s%s", name, tried[0], two ? " nor in " : "",
                        two ? tried[1] : "");
}

int gvl_find_shim(const char *override, const char *bin_dir, char *out, size_t len,
                  struct gv_error *err)
{
    char real[PATH_MAX];
    if (override && *override) {
        if (!realpath(override, real) || access(real, R_OK) < 0)
            return gv_error_set(err, -ENOENT,
                                GVL_ENV_SHIM "=\"%s\": %s (point it at " GVL_SHIM_NAME
                                             ", or unset it to use the installed one)",
                                override, strerror(errno));
        if (strlen(real) >= len)
            return gv_error_set(err, -ENAMETOOLONG, "%s: path too long", real);
        strcpy(out, real);
        return 0;
    }
    int rc = gvl_find_lib(GVL_SHIM_NAME, bin_dir, out, len, err);
    if (rc == -ENOENT && err) {
        char where[sizeof(err->msg)];
        memcpy(where, err->msg, sizeof(where));
        gv_error_set(err, rc,
                     "the interposer %s; reinstall gpuvisor, or set " GVL_ENV_SHIM " to its path",
                     where);
    }
    return rc;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return true;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

int gvl_preload_compose(const char *old, const char *shim, char **out, struct gv_error *err)
{
    *out = NULL;
    if (!old)
        old = "";
    /* The result is never longer than every old entry plus the shim, each with a separator. */
    size_t cap = strlen(old) + strlen(shim) + 2;
    char *buf = strdup(old), *res = malloc(cap);
    if (!buf || !res) {
        free(buf);
        free(res);
        return gv_error_set(err, -ENOMEM, "out of memory composing " GVL_ENV_PRELOAD);
    }
    size_t at = 0;
    bool present = false;
    res[0] = '\0';
    char *save = NULL;
    for (char *e = strtok_r(buf, " :", &save); e; e = strtok_r(NULL, " :", &save)) {
        const char *slash = strrchr(e, '/');
        const char *base = slash ? slash + 1 : e;
        bool ours = same_file(e, shim);
        if (!ours && strcmp(base, GVL_SHIM_NAME) == 0)
            continue;
        if (ours) {
            if (present)
                continue;
            present = true;
        }
        at += (size_t)snprintf(res + at, cap - at, "%s%s", at ? ":" : "", e);
    }
    if (!present)
        snprintf(res + at, cap - at, "%s%s", at ? ":" : "", shim);
    free(buf);
    *out = res;
    return 0;
}

/* ------------------------------------------------------------------ the environment */

/* Does entry s set the variable name (of length n)? */
static bool is_var(const char *s, const char *name, size_t n)
{
    return strncmp(s, name, n) == 0 && s[n] == '=';
}

static int grow(struct gvl_env *e, size_t need)
{
    if (need + 1 <= e->cap)
        return 0;
    size_t cap = e->cap ? e->cap : 16;
    while (cap < need + 1)
        cap *= 2;
    char **v = realloc(e->var, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    e->var = v;
    e->cap = cap;
    return 0;
}

int gvl_env_init(struct gvl_env *e, char *const *base, struct gv_error *err)
{
    *e = (struct gvl_env){0};
    size_t n = 0;
    while (base && base[n])
        n++;
    if (grow(e, n) < 0)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (!(e->var[i] = strdup(base[i])))
            goto oom;
        e->n = i + 1;
    }
    e->var[e->n] = NULL;
    return 0;
oom:
    if (e->var)
        e->var[e->n] = NULL;
    gvl_env_free(e);
    return gv_error_set(err, -ENOMEM, "out of memory copying the environment");
}

void gvl_env_free(struct gvl_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->var[i]);
    free(e->var);
    *e = (struct gvl_env){0};
}

const char *gvl_env_get(const struct gvl_env *e, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < e->n; i++)
        if (is_var(e->var[i], name, n))
            return e->var[i] + n + 1;
    return NULL;
}

int gvl_env_set(struct gvl_env *e, const char *name, const char *value, struct gv_error *err)
{
    size_t n = strlen(name);
    if (n == 0 || strchr(name, '='))
        return gv_error_set(err, -EINVAL, "environment variable name \"%s\" is not valid", name);
    char *entry = NULL;
    if (value) {
        size_t len = n + strlen(value) + 2;
        if (!(entry = malloc(len)) || grow(e, e->n + 1) < 0) {
            free(entry);
            return gv_error_set(err, -ENOMEM, "out of memory setting %s", name);
        }
        snprintf(entry, len, "%s=%s", name, value);
    }
    /* The first entry of the name is replaced in place, so the order of the rest is kept; later
     * duplicates are dropped. */
    size_t w = 0;
    for (size_t r = 0; r < e->n; r++) {
        if (is_var(e->var[r], name, n)) {
            free(e->var[r]);
            if (entry) {
                e->var[w++] = entry;
                entry = NULL;
            }
            continue;
        }
        e->var[w++] = e->var[r];
    }
    if (entry)
        e->var[w++] = entry;
    e->n = w;
    if (e->var)
        e->var[e->n] = NULL;
    return 0;
}

int gvl_env_preload(struct gvl_env *e, const char *shim, struct gv_error *err)
{
    char *preload = NULL;
    int rc = gvl_preload_compose(gvl_env_get(e, GVL_ENV_PRELOAD), shim, &preload, err);
    if (rc < 0)
        return rc;
    rc = gvl_env_set(e, GVL_ENV_PRELOAD, preload, err);
    free(preload);
    return rc;
}

/* Set each name of vars[] to the value beside it (NULL: removed), stopping at the first error. */
static int set_all(struct gvl_env *e, const char *const (*vars)[2], size_t n, struct gv_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = gvl_env_set(e, vars[i][0], vars[i][1], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int gvl_env_slice(struct gvl_env *e, const char *shim, const struct gvl_slice *s,
                  struct gv_error *err)
{
    if (!s->instance || !*s->instance)
        return gv_error_set(err, -EINVAL, "a slice needs an instance name");
    const char *const vars[][2] = {
        {GVL_ENV_INSTANCE, s->instance}, {GVL_ENV_MEMORY, s->memory}, {GVL_ENV_COMPUTE, s->compute},
        {GVL_ENV_DAEMON, NULL},          {GVL_ENV_REGION_FD, NULL},
    };
    int rc = set_all(e, vars, sizeof(vars) / sizeof(vars[0]), err);
    if (rc == 0 && s->devices)
        rc = gvl_env_set(e, GVL_ENV_DEVICES, s->devices, err);
    if (rc == 0 && shim)
        rc = gvl_env_preload(e, shim, err);
    return rc;
}

int gvl_env_join(struct gvl_env *e, const char *shim, const struct gvl_join *j,
                 struct gv_error *err)
{
    if (!j->socket || !*j->socket)
        return gv_error_set(err, -EINVAL, "joining a daemon instance needs the daemon's socket");
    if (!j->instance || !*j->instance)
        return gv_error_set(err, -EINVAL, "joining a daemon instance needs its id");
    char fd[16];
    if (j->region_fd >= 0)
        snprintf(fd, sizeof(fd), "%d", j->region_fd);
    const char *const vars[][2] = {
        {GVL_ENV_DAEMON, j->socket},
        {GVL_ENV_INSTANCE, j->instance},
        {GVL_ENV_REGION_FD, j->region_fd >= 0 ? fd : NULL},
        {GVL_ENV_MEMORY, NULL},
        {GVL_ENV_COMPUTE, NULL},
    };
    int rc = set_all(e, vars, sizeof(vars) / sizeof(vars[0]), err);
    if (rc == 0 && j->devices)
        rc = gvl_env_set(e, GVL_ENV_DEVICES, j->devices, err);
    if (rc == 0 && shim)
        rc = gvl_env_preload(e, shim, err);
    return rc;
}

/* ------------------------------------------------------------------ descriptors, the daemon */

int gvl_fd_inherit(int fd, struct gv_error *err)
{
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
        return gv_error_set(err, -errno, "descriptor %d: %s", fd, strerror(errno));
    return 0;
}

const char *gvl_daemon_socket(void)
{
    const char *env = getenv(GVL_ENV_DAEMON);
    return env && *env ? env : GVL_DEFAULT_SOCKET;
}

bool gvl_socket_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}
