/* SPDX-License-Identifier: Apache-2.0 */
/* gpuvisor-sim-host: builds a fake sysfs tree and plays the kernel in it, for tests of the host
 * library, `gpuvisor host` and gpuvisord that run real processes against GPUVISOR_SYSFS_ROOT.
 *
 * `kernel ROOT` watches (inotify, IN_CLOSE_WRITE) every folder of ROOT/sys that holds a writable
 * file, reacts to each write in the order the events come, and watches the folders a reaction
 * created (new mdevs, new VFs). It prints "ready" once the watches are set, so that a script can
 * wait for it, and ends on SIGTERM or SIGINT. */
#include "sim/host/hostsim.h"
#include "sim/host/simfs.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: gpuvisor-sim-host build ROOT SCENARIO | build ROOT --spec FILE\n"
    "       gpuvisor-sim-host scenario NAME     print a scenario's spec\n"
    "       gpuvisor-sim-host kernel ROOT       play the kernel (inotify) until SIGTERM\n"
    "       gpuvisor-sim-host writes ROOT       print the writes made so far\n";

static int cmd_build(int argc, char **argv)
{
    char *text = NULL;
    const char *spec;
    if (argc == 5 && strcmp(argv[3], "--spec") == 0) {
        FILE *f = fopen(argv[4], "r");
        size_t cap = 0;
        if (!f || getdelim(&text, &cap, '\0', f) < 0) {
            fprintf(stderr, "gpuvisor-sim-host: cannot read %s: %s\n", argv[4], strerror(errno));
            if (f)
                fclose(f);
            free(text);
            return 1;
        }
        fclose(f);
        spec = text;
    } else if (argc == 4) {
        spec = gvsim_host_scenario(argv[3]);
        if (!spec) {
            fprintf(stderr, "gpuvisor-sim-host: no scenario \"%s\" (known:", argv[3]);
            for (size_t i = 0; gvsim_host_scenarios[i]; i++)
                fprintf(stderr, " %s", gvsim_host_scenarios[i]);
            fprintf(stderr, ")\n");
            return 1;
        }
    } else {
        fputs(usage, stderr);
        return 2;
    }
    struct gv_error err = {0};
    int rc = gvsim_host_build(argv[2], spec, &err);
    free(text);
    if (rc < 0) {
        fprintf(stderr, "gpuvisor-sim-host: %s\n", err.msg);
        return 1;
    }
    return 0;
}

/* --- The inotify kernel */

struct watches {
    int fd;
    const char *root;
    char **rel; /* rel[wd]: the folder, relative to the root; NULL when not watched */
    size_t n;
};

static int watch(struct watches *w, const char *root, const char *rel)
{
    char path[PATH_MAX];
    sim_fmt(path, sizeof(path), "%s/%s", root, rel);
    int wd = inotify_add_watch(w->fd, path, IN_CLOSE_WRITE | IN_ONLYDIR);
    if (wd < 0)
        return errno == ENOENT ? 0 : -errno;
    if ((size_t)wd >= w->n) {
        size_t n = (size_t)wd * 2 + 16;
        char **r = realloc(w->rel, n * sizeof(*r));
        if (!r)
            return -ENOMEM;
        memset(r + w->n, 0, (n - w->n) * sizeof(*r));
        w->rel = r;
        w->n = n;
    }
    if (!w->rel[wd] && !(w->rel[wd] = strdup(rel)))
        return -ENOMEM;
    return 0;
}

static void watch_new(void *arg, const char *reldir)
{
    struct watches *w = arg;
    int rc = watch(w, w->root, reldir);
    if (rc < 0)
        fprintf(stderr, "gpuvisor-sim-host: watching %s: %s\n", reldir, strerror(-rc));
}

/* Watch rel and every real folder below it that holds a writable file. */
static int scan(struct watches *w, const char *root, const char *rel)
{
    char path[PATH_MAX], sub[PATH_MAX];
    sim_fmt(path, sizeof(path), "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    bool writable = false;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        struct stat st;
        sim_fmt(sub, sizeof(sub), "%s/%s", rel, e->d_name);
        sim_fmt(path, sizeof(path), "%s/%s", root, sub);
        if (lstat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            rc = scan(w, root, sub);
        else if (S_ISREG(st.st_mode) && (st.st_mode & S_IWUSR))
            writable = true;
    }
    closedir(d);
    return rc == 0 && writable ? watch(w, root, rel) : rc;
}

/* React to the events queued now, in order. Returns how many were read (0: none left). */
static int drain(struct watches *w, const char *root)
{
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n = read(w->fd, buf, sizeof(buf));
    if (n <= 0)
        return 0;
    for (char *at = buf; at < buf + n;) {
        struct inotify_event *ev = (struct inotify_event *)(void *)at;
        at += sizeof(*ev) + ev->len;
        if ((size_t)ev->wd >= w->n || !w->rel[ev->wd])
            continue;
        if (ev->mask & IN_IGNORED) {
            free(w->rel[ev->wd]);
            w->rel[ev->wd] = NULL;
            continue;
        }
        if (!(ev->mask & IN_CLOSE_WRITE) || ev->len == 0)
            continue;
        char rel[PATH_MAX];
        sim_fmt(rel, sizeof(rel), "%s/%s", w->rel[ev->wd], ev->name);
        int rc = gvsim_host_event(root, rel);
        if (rc < 0)
            fprintf(stderr, "gpuvisor-sim-host: %s: %s\n", rel, strerror(-rc));
        /* New folders were watched as they were made (watch_new); the scan only catches what
         * someone else made. */
        scan(w, root, "sys");
    }
    return (int)n;
}

static int cmd_kernel(const char *root)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    struct watches w = {.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), .root = root};
    if (sfd < 0 || w.fd < 0) {
        fprintf(stderr, "gpuvisor-sim-host: inotify: %s\n", strerror(errno));
        return 1;
    }
    char sys[PATH_MAX];
    struct stat st;
    sim_fmt(sys, sizeof(sys), "%s/sys/bus/pci", root);
    if (stat(sys, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "gpuvisor-sim-host: %s is not a tree built by `gpuvisor-sim-host build`\n",
                root);
        return 1;
    }
    int rc = scan(&w, root, "sys");
    if (rc < 0) {
        fprintf(stderr, "gpuvisor-sim-host: watching %s/sys: %s\n", root, strerror(-rc));
        return 1;
    }
    gvsim_host_on_writable_dir(watch_new, &w);
    printf("ready\n");
    fflush(stdout);
    /* A write made just before SIGTERM still takes: the queue is drained before the end. */
    for (bool stop = false; !stop;) {
        struct pollfd p[2] = {{.fd = w.fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        stop = p[1].revents != 0;
        while (drain(&w, root) > 0)
            ;
    }
    for (size_t i = 0; i < w.n; i++)
        free(w.rel[i]);
    free(w.rel);
    close(w.fd);
    close(sfd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "build") == 0)
        return cmd_build(argc, argv);
    if (argc == 3 && strcmp(argv[1], "scenario") == 0) {
        const char *spec = gvsim_host_scenario(argv[2]);
        if (!spec) {
            fprintf(stderr, "gpuvisor-sim-host: no scenario \"%s\"\n", argv[2]);
            return 1;
        }
        fputs(spec, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "kernel") == 0)
        return cmd_kernel(argv[2]);
    if (argc == 3 && strcmp(argv[1], "writes") == 0) {
        static char log[1 << 20];
        int n = gvsim_host_writes(argv[2], log, sizeof(log));
        if (n < 0) {
            fprintf(stderr, "gpuvisor-sim-host: %s/.sim/writes.log: %s\n", argv[2], strerror(-n));
            return 1;
        }
        fputs(log, stdout);
        return 0;
    }
    fputs(usage, stderr);
    return 2;
}
