/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c: gpuvisord's life: start in an order where each step finds what it needs, and stop.
 *
 * Start: the state directory (locked, so that two daemons never share one), the database, the
 * host's passthrough and vGPU definitions applied (host.c: before the GPUs are read, as at boot a
 * GPU given to VMs is not NVML's, and before VMs start), the GPUs, the model from the database, the
 * admin token, then every instance's region re-attached (made again with its limits when the file
 * is gone, as after a reboot; region files without a row are retired) so that running members carry
 * on; only then the HTTP server, the local socket, the reaper, which reclaims the memory of dead
 * members of every instance twice a second, and the sampler, which keeps the last hour of every
 * GPU's and instance's figures (history.c). Nothing is served before the model is whole. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "daemon/gvd.h"
#include "daemon/http.h"
#include "daemon/local.h"
#include "daemon/localops.h"
#include "daemon/store.h"

#define REAP_PERIOD_NS (500ULL * 1000000ULL)
#define SAMPLE_LATE_NS (5ULL * 1000000ULL) /* after the second begins: a late wake-up's margin */

/* mkdir -p, the last component with mode (the parents 0755). */
static int make_dirs(const char *path, mode_t mode, struct gv_error *err)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return gv_error_set(err, -errno, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return gv_error_set(err, -errno, "mkdir %s: %s", buf, strerror(errno));
    struct stat st;
    if (lstat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
        return gv_error_set(err, -ENOTDIR, "%s: not a directory", buf);
    if (st.st_uid == geteuid() && (st.st_mode & 07777) != mode && chmod(buf, mode) < 0)
        return gv_error_set(err, -errno, "chmod %s: %s", buf, strerror(errno));
    return 0;
}

static int dirs(struct gvd *d, struct gv_error *err)
{
    int rc = make_dirs(d->cfg.state, 0700, err);
    if (rc)
        return rc;
    char sock[sizeof(d->cfg.socket)];
    snprintf(sock, sizeof(sock), "%s", d->cfg.socket);
    snprintf(d->run_dir, sizeof(d->run_dir), "%s", dirname(sock));
    snprintf(d->instances_dir, sizeof(d->instances_dir), "%.4000s/instances", d->run_dir);
    char sched[sizeof(d->run_dir) + 8];
    snprintf(sched, sizeof(sched), "%.4000s/sched", d->run_dir);
    if ((rc = make_dirs(d->run_dir, 0755, err)) || (rc = make_dirs(d->instances_dir, 0700, err)) ||
        (rc = make_dirs(sched, 0755, err)))
        return rc;
    d->instances_fd = open(d->instances_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (d->instances_fd < 0)
        return gv_error_set(err, -errno, "%s: %s", d->instances_dir, strerror(errno));
    return 0;
}

/* One daemon per state directory: an exclusive flock on it, held for the process's life. */
static int lock_state(struct gvd *d, struct gv_error *err)
{
    d->state_fd = open(d->cfg.state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->state_fd < 0)
        return gv_error_set(err, -errno, "%s: %s", d->cfg.state, strerror(errno));
    if (flock(d->state_fd, LOCK_EX | LOCK_NB) < 0)
        return gv_error_set(err, -EBUSY, "%s: another gpuvisord uses this state directory",
                            d->cfg.state);
    return 0;
}

/* Write a small file by a rename, so a reader sees all of it or none. */
static int write_file(const char *dir, const char *name, const char *text, struct gv_error *err)
{
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof(tmp), "%s/.%s.new", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(tmp, "we");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return gv_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    return 0;
}

static int orphan(const char *name, void *arg)
{
    struct gvd *d = arg;
    const struct gvd_instance *in = gvd_is_id(name) ? gvd_instance_find(d, name, NULL) : NULL;
    if (in && strcmp(in->id, name) == 0)
        return 0;
    struct gv_error err = {0};
    if (gvr_retire(d->instances_dir, name, &err) == 0)
        fprintf(stderr, "gpuvisord: region %s has no instance in the database: retired\n", name);
    return 0;
}

static int attach_all(struct gvd *d, struct gv_error *err)
{
    for (size_t i = 0; i < d->ninstances; i++) {
        struct gvd_instance *in = d->instances[i];
        struct gv_error e = {0};
        if (gvd_region_attach(d, in, &e) < 0)
            fprintf(stderr, "gpuvisord: instance %s: region not attached: %s\n", in->id, e.msg);
        if (gvd_instance_render(d, in) != 0)
            return gv_error_set(err, -ENOMEM, "out of memory");
    }
    return gvr_list(d->instances_dir, orphan, d, err) < 0 ? -EIO : 0;
}

/* The local socket: bound afresh (a stale file from a dead daemon is removed, a live daemon's is
 * refused), mode 0666 so that every user can connect, identity by SO_PEERCRED. */
static int local_socket(struct gvd *d, struct gv_error *err)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(d->cfg.socket) >= sizeof(a.sun_path))
        return gv_error_set(err, -ENAMETOOLONG, "--socket %s: longer than %zu characters",
                            d->cfg.socket, sizeof(a.sun_path) - 1);
    memcpy(a.sun_path, d->cfg.socket, strlen(d->cfg.socket) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return gv_error_set(err, -errno, "socket: %s", strerror(errno));
    struct stat st;
    if (lstat(d->cfg.socket, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            close(fd);
            return gv_error_set(err, -EEXIST, "--socket %s: exists and is not a socket",
                                d->cfg.socket);
        }
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            close(fd);
            return gv_error_set(err, -EADDRINUSE, "--socket %s: another gpuvisord is serving it",
                                d->cfg.socket);
        }
        unlink(d->cfg.socket);
        close(fd);
        if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
            return gv_error_set(err, -errno, "socket: %s", strerror(errno));
    }
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(d->cfg.socket, 0666) < 0 ||
        listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        return gv_error_set(err, -e, "--socket %s: %s", d->cfg.socket, strerror(e));
    }
    d->unix_fd = fd;
    return 0;
}

/* Sleep ns on the monotonic clock, or until gvd_stop says to stop. stop_lock held. */
static void nap(struct gvd *d, uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns += (uint64_t)ts.tv_nsec;
    ts.tv_sec += (time_t)(ns / GV_NS_PER_S);
    ts.tv_nsec = (long)(ns % GV_NS_PER_S);
    if (!atomic_load(&d->stopping))
        pthread_cond_timedwait(&d->stop_cond, &d->stop_lock, &ts);
}

static void *reaper(void *arg)
{
    struct gvd *d = arg;
    pthread_mutex_lock(&d->stop_lock);
    while (!atomic_load(&d->stopping)) {
        pthread_mutex_unlock(&d->stop_lock);
        gvd_reap(d);
        pthread_mutex_lock(&d->stop_lock);
        nap(d, REAP_PERIOD_NS);
    }
    pthread_mutex_unlock(&d->stop_lock);
    return NULL;
}

/* One sample a second, just after the wall clock's second begins, so that each sample is of a
 * second of its own (a sample is stamped with the wall clock's seconds). */
static void *sampler(void *arg)
{
    struct gvd *d = arg;
    pthread_mutex_lock(&d->stop_lock);
    while (!atomic_load(&d->stopping)) {
        pthread_mutex_unlock(&d->stop_lock);
        gvd_streams_tick(d, gvd_history_sample(d));
        pthread_mutex_lock(&d->stop_lock);
        uint64_t real = gv_clock_ns(CLOCK_REALTIME);
        nap(d, GV_NS_PER_S - real % GV_NS_PER_S + SAMPLE_LATE_NS);
    }
    pthread_mutex_unlock(&d->stop_lock);
    return NULL;
}

/* Enough descriptors for the connection limits of both servers and the regions. */
static void raise_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int gvd_start(struct gvd *d, const struct gvd_config *cfg, struct gv_error *err)
{
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    d->uid = geteuid();
    d->instances_fd = d->state_fd = d->unix_fd = -1;
    /* Writers first: a stream of GETs must never starve a create. No thread takes the read lock
     * twice, so preferring writers cannot deadlock. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&d->lock, &ra);
    pthread_mutex_init(&d->host_lock, NULL);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&d->listing_lock, NULL);
    pthread_mutex_init(&d->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    raise_files();

    int rc;
    char db[4200];
    snprintf(db, sizeof(db), "%s/gpuvisord.db", cfg->state);
    if ((rc = dirs(d, err)) || (rc = lock_state(d, err)) ||
        (rc = gvd_store_open(&d->store, db, err)) || (rc = gvd_host_start(d, err)) ||
        (rc = gvd_inventory_load(d, err)))
        return rc;
    pthread_rwlock_wrlock(&d->lock);
    gvd_host_refresh(d);
    rc = gvd_store_load(d->store, d, err);
    if (!rc)
        rc = gvd_admin_token(d, err);
    if (!rc)
        rc = attach_all(d, err);
    pthread_rwlock_unlock(&d->lock);
    if (rc || (rc = gvd_history_init(d, err)) != 0 || (rc = gvd_streams_init(d, err)) != 0)
        return rc;

    int port = 0;
    if ((rc = gvd_http_start(&d->http, d, &port, err)) != 0)
        return rc;
    bool v6 = strchr(cfg->listen_host, ':') != NULL;
    fprintf(stderr, "gpuvisord: listening on http://%s%s%s:%d\n", v6 ? "[" : "", cfg->listen_host,
            v6 ? "]" : "", port);

    if ((rc = local_socket(d, err)) != 0)
        return rc;
    struct gvd_local_ops ops;
    gvd_local_ops_fill(d, &ops);
    struct gvd_local *local;
    if ((rc = gvd_local_start(&local, d->unix_fd, d->run_dir, &ops, err)) != 0)
        return rc;
    /* Under the lock: a PATCH of a GPU's time slice, served already, passes it on through
     * d->local too. */
    pthread_rwlock_wrlock(&d->lock);
    d->local = local;
    for (unsigned i = 0; i < d->ngpus; i++)
        gvd_gpu_timeslice_apply(d, &d->gpus[i]);
    pthread_rwlock_unlock(&d->lock);
    /* The port file says the daemon is ready: written once both sockets serve. */
    char text[32];
    snprintf(text, sizeof(text), "%d\n", port);
    if ((rc = write_file(cfg->state, "port", text, err)) != 0)
        return rc;
    fprintf(stderr, "gpuvisord: local socket %s; %u GPU%s, %zu tenant%s, %zu instance%s\n",
            cfg->socket, d->ngpus, d->ngpus == 1 ? "" : "s", d->ntenants,
            d->ntenants == 1 ? "" : "s", d->ninstances, d->ninstances == 1 ? "" : "s");

    if ((rc = pthread_create(&d->reaper, NULL, reaper, d)) != 0)
        return gv_error_set(err, -rc, "pthread_create: %s", strerror(rc));
    d->reaper_started = true;
    if ((rc = pthread_create(&d->sampler, NULL, sampler, d)) != 0)
        return gv_error_set(err, -rc, "pthread_create: %s", strerror(rc));
    d->sampler_started = true;
    return 0;
}

void gvd_stop(struct gvd *d)
{
    pthread_mutex_lock(&d->stop_lock);
    atomic_store(&d->stopping, true);
    pthread_cond_broadcast(&d->stop_cond);
    pthread_mutex_unlock(&d->stop_lock);
    if (d->reaper_started)
        pthread_join(d->reaper, NULL);
    if (d->sampler_started)
        pthread_join(d->sampler, NULL);
    pthread_rwlock_wrlock(&d->lock); /* requests still served must not use it once stopped */
    struct gvd_local *local = d->local;
    d->local = NULL;
    pthread_rwlock_unlock(&d->lock);
    gvd_local_stop(local);
    gvd_http_stop(d->http);
    if (d->unix_fd >= 0) {
        close(d->unix_fd);
        unlink(d->cfg.socket);
    }
    while (d->ninstances)
        gvd_instance_remove(d, d->instances[d->ninstances - 1]); /* unmaps; files stay */
    while (d->ntenants)
        gvd_tenant_remove(d, d->tenants[d->ntenants - 1]);
    while (d->nprofiles)
        gvd_profile_remove(d, d->profiles[d->nprofiles - 1]);
    gvd_history_free(d);
    gvd_streams_free(d);
    free(d->instances);
    free(d->tenants);
    free(d->profiles);
    while (d->listings) {
        struct gvd_listing *next = gvd_listing_next(d->listings);
        gvd_listing_unref(d->listings);
        d->listings = next;
    }
    gvd_host_stop(d);
    gvd_store_close(d->store);
    if (d->instances_fd >= 0)
        close(d->instances_fd);
    if (d->state_fd >= 0)
        close(d->state_fd);
    pthread_rwlock_destroy(&d->lock);
    pthread_mutex_destroy(&d->host_lock);
    pthread_mutex_destroy(&d->listing_lock);
    pthread_mutex_destroy(&d->stop_lock);
    pthread_cond_destroy(&d->stop_cond);
}
