/* SPDX-License-Identifier: Apache-2.0 */
/* testd.c: the stand-in gpuvisord of testd.h. */
#include "testd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/local.h"
#include "region/region.h"

static struct td_instance *find(struct td *t, const char *key, const struct ucred *cred)
{
    unsigned n = atomic_load(&t->sh->n);
    for (unsigned i = 0; i < n && i < TD_MAX; i++) {
        struct td_instance *in = &t->sh->inst[i];
        /* Root and the daemon's own user may join any instance, as gpuvisord's admin may. */
        if (atomic_load(&in->deleted) ||
            (cred && cred->uid != 0 && cred->uid != geteuid() && cred->uid != in->uid))
            continue;
        if (!strcmp(key, in->id) || (in->name[0] && !strcmp(key, in->name)))
            return in;
    }
    return NULL;
}

static int op_join(void *ctx, const char *key, const struct ucred *cred, int *fd, char id_out[16],
                   uint8_t uuid[16], uint32_t *share, struct gv_error *err)
{
    struct td *t = ctx;
    struct td_instance *in = find(t, key, cred);
    if (!in)
        return gv_error_set(err, -ENOENT, "no instance %s for uid %u", key, (unsigned)cred->uid);
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", t->instances, in->id);
    *fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0)
        return gv_error_set(err, -errno, "open %s: %s", path, strerror(errno));
    snprintf(id_out, 16, "%s", in->id);
    memcpy(uuid, in->uuid, 16);
    *share = atomic_load(&in->share);
    return 0;
}

static int op_share(void *ctx, const char *id, const uint8_t uuid[16], uint32_t *share)
{
    struct td *t = ctx;
    struct td_instance *in = find(t, id, NULL);
    if (!in || memcmp(in->uuid, uuid, 16) != 0)
        return -ENOENT;
    *share = atomic_load(&in->share);
    return 0;
}

static int op_policy(void *ctx, const char *id, const uint8_t uuid[16], enum gv_policy *policy,
                     enum gv_priority *priority)
{
    struct td *t = ctx;
    struct td_instance *in = find(t, id, NULL);
    if (!in || memcmp(in->uuid, uuid, 16) != 0)
        return -ENOENT;
    *policy = (enum gv_policy)atomic_load(&in->policy);
    *priority = (enum gv_priority)atomic_load(&in->priority);
    return 0;
}

static int op_http(void *ctx, int fd)
{
    struct td *t = ctx;
    atomic_fetch_add(&t->sh->http, 1);
    static const char answer[] = "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhttp\n";
    ssize_t n = send(fd, answer, sizeof(answer) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    return n == (ssize_t)sizeof(answer) - 1 ? 0 : -EIO;
}

int td_init(struct td *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/gvlocal.XXXXXX");
    if (!mkdtemp(t->dir) || chmod(t->dir, 0711) < 0)
        return -1;
    snprintf(t->run, sizeof(t->run), "%s/run", t->dir);
    snprintf(t->sock, sizeof(t->sock), "%.60s/gpuvisord.sock", t->run);
    snprintf(t->instances, sizeof(t->instances), "%s/instances", t->run);
    snprintf(t->sched, sizeof(t->sched), "%s/sched", t->run);
    if (mkdir(t->run, 0755) < 0 || mkdir(t->instances, 0700) < 0 || mkdir(t->sched, 0755) < 0 ||
        chmod(t->run, 0755) < 0 || chmod(t->sched, 0755) < 0)
        return -1;
    t->sh = mmap(NULL, sizeof(*t->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t->sh == MAP_FAILED) {
        t->sh = NULL;
        return -1;
    }
    return 0;
}

int td_add(struct td *t, const char *id, const char *name, uid_t uid, const uint8_t uuid[16],
           uint64_t memory, uint32_t share)
{
    unsigned i = atomic_load(&t->sh->n);
    if (i >= TD_MAX)
        return -1;
    struct td_instance *in = &t->sh->inst[i];
    snprintf(in->id, sizeof(in->id), "%s", id);
    snprintf(in->name, sizeof(in->name), "%s", name);
    in->uid = uid;
    memcpy(in->uuid, uuid, 16);
    in->memory = memory;
    atomic_store(&in->share, share);
    atomic_store(&in->policy, GV_POLICY_FIXED);
    atomic_store(&in->priority, GV_PRIORITY_NORMAL);
    struct gvr_device_limit lim = {.memory = memory, .share = share, .policy = GV_POLICY_FIXED};
    memcpy(lim.uuid, uuid, 16);
    struct gvr_region r;
    struct gv_error err = {0};
    if (gvr_open(&r, t->instances, id, GVR_CREATE, &lim, 1, &err) < 0) {
        fprintf(stderr, "testd: %s\n", err.msg);
        return -1;
    }
    gvr_close(&r);
    atomic_store(&t->sh->n, i + 1);
    return (int)i;
}

int td_serve_here(struct td *t, struct gvd_local **l, int *fd)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", t->sock);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(t->sock);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || chmod(t->sock, 0666) < 0 ||
        listen(s, 128) < 0) {
        perror("testd: socket");
        if (s >= 0)
            close(s);
        return -1;
    }
    struct gvd_local_ops ops = {.ctx = t, .join = op_join, .share = op_share, .policy = op_policy,
                              .http = op_http};
    struct gv_error err = {0};
    if (gvd_local_start(l, s, t->run, &ops, &err) < 0) {
        fprintf(stderr, "testd: %s\n", err.msg);
        close(s);
        return -1;
    }
    *fd = s;
    return 0;
}

static void serve(struct td *t, int ready)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct gvd_local *l;
    int s;
    if (td_serve_here(t, &l, &s) < 0)
        _exit(2);
    if (write(ready, "y", 1) != 1)
        _exit(2);
    close(ready);
    uint64_t applied = 0;
    for (;;) {
        uint64_t ns = atomic_load(&t->sh->timeslice_ns);
        if (ns != applied) {
            gvd_local_set_timeslice(l, t->sh->timeslice_uuid, ns);
            applied = ns;
        }
        usleep(2000);
    }
}

int td_start(struct td *t)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        serve(t, p[1]);
    }
    close(p[1]);
    char c = 0;
    if (pid < 0 || read(p[0], &c, 1) != 1 || c != 'y') {
        close(p[0]);
        if (pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    close(p[0]);
    t->pid = pid;
    return 0;
}

void td_kill(struct td *t)
{
    if (t->pid > 0) {
        kill(t->pid, SIGKILL);
        waitpid(t->pid, NULL, 0);
    }
    t->pid = 0;
}

int td_resize(struct td *t, int i, uint64_t memory, uint32_t share)
{
    struct td_instance *in = &t->sh->inst[i];
    struct gvr_region r;
    if (gvr_open(&r, t->instances, in->id, 0, NULL, 0, NULL) < 0)
        return -1;
    int dev = gvr_device_find(&r, in->uuid);
    int rc = dev < 0 ? -1 : gvr_device_set(&r, (unsigned)dev, memory, share);
    gvr_close(&r);
    in->memory = memory;
    atomic_store(&in->share, share);
    return rc;
}

int td_set_policy(struct td *t, int i, enum gv_policy policy, enum gv_priority priority)
{
    struct td_instance *in = &t->sh->inst[i];
    struct gvr_region r;
    if (gvr_open(&r, t->instances, in->id, 0, NULL, 0, NULL) < 0)
        return -1;
    int dev = gvr_device_find(&r, in->uuid);
    int rc = dev < 0 ? -1 : gvr_policy_set(&r, (unsigned)dev, policy, priority);
    gvr_close(&r);
    atomic_store(&in->policy, (int)policy);
    atomic_store(&in->priority, (int)priority);
    return rc;
}

int td_delete(struct td *t, int i)
{
    struct td_instance *in = &t->sh->inst[i];
    atomic_store(&in->deleted, true);
    return gvr_retire(t->instances, in->id, NULL);
}

void td_fini(struct td *t)
{
    td_kill(t);
    if (t->dir[0] && strncmp(t->dir, "/tmp/gvlocal.", 13) == 0) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "testd: cannot remove %s\n", t->dir);
    }
    if (t->sh)
        munmap(t->sh, sizeof(*t->sh));
    t->sh = NULL;
    t->dir[0] = 0;
}
