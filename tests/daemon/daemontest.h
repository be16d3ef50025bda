/* SPDX-License-Identifier: Apache-2.0 */
/* daemontest.h: what gpuvisord's tests share: a daemon of their own, HTTP requests to it, and
 * processes that join its instances.
 *
 * Each daemon runs with --sim T4,T4 on a simulated machine of its own, a mkdtemp directory for
 * its state and run directory (and as the roots of the host's sysfs and definitions, unless
 * --sysfs-root and --config-root say otherwise), and port 0 (the port is read from <state>/port). It dies with the
 * test (PR_SET_PDEATHSIG) and is killed, and its files removed, at exit whatever happened: a
 * failed CHECK exits the test, and the exit handler cleans up every daemon and member started. */
#ifndef GV_DAEMONTEST_H
#define GV_DAEMONTEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

struct dt {
    char dir[64];
    char extra[64]; /* another directory to remove at exit (dt_run_in), or "" */
    char state[128];
    char run[128];
    char sock[160];
    char log[128];
    char machine[80];
    pid_t pid;
    int port;
    char admin[64];
    const char *sim; /* --sim's value; "T4,T4" unless set, none when "" */
    void *curl;      /* one keep-alive connection for requests over TCP */
};

/* Make the directories (name: the test case, for the machine's name). */
void dt_init(struct dt *t, const char *name);

/* Put the run directory (socket and instance regions) in a new directory under base instead, as
 * a tmpfs like /run is in production (removed at exit too). */
void dt_run_in(struct dt *t, const char *base);

/* Start gpuvisord with --sim T4,T4 and the extra arguments (NULL-terminated), wait until it
 * serves (its port file), read the admin token. Returns 0, or -1 when it exited (its log says
 * why; dt_log returns it). */
int dt_start(struct dt *t, const char *const *extra);

/* The daemon's stderr so far (a static buffer). */
const char *dt_log(struct dt *t);

/* Send sig and wait for the daemon to end. */
void dt_kill(struct dt *t, int sig);

/* A request. token: NULL for none. body: NULL for none (then content_type is not sent either);
 * content_type: NULL for application/json. unix_socket: over the local socket instead of TCP.
 * Returns the status; *json gets the parsed body (or NULL), to json_decref. */
struct dt_req {
    const char *method, *path, *token, *body, *content_type;
    bool unix_socket;
    char **text; /* when not NULL: the body as text, to free */
    char *allow; /* when not NULL (64 bytes): the Allow header */
};
long dt_request(struct dt *t, const struct dt_req *r, json_t **json);

/* The common cases: as the admin (token NULL) or with a token, over TCP, JSON body or none. The
 * status must be `status`, else the test fails with the body. Returns the parsed body. */
json_t *dt_call(struct dt *t, long status, const char *token, const char *method, const char *path,
                const char *body);

/* The "error" of a refusal's body, or "". */
const char *dt_error(json_t *j);

/* Poll cond() every 10 ms until it holds or ms pass. */
bool dt_wait_for(bool (*cond)(void *arg), void *arg, int ms);

/* A process that joins an instance through the daemon's socket and charges memory on command. */
struct dt_member {
    pid_t pid;
    int cmd, reply;
};

/* Start one for instance key; it joins as uid/gid when they are not -1 (the test runs as root).
 * Returns the join's result (0 or a negative errno value). */
int dt_member_start(struct dt_member *m, const char *sock, const char *key, int uid, int gid);
/* Charge (bytes > 0) or uncharge (bytes < 0); returns gvr_charge's result. */
int dt_member_charge(struct dt_member *m, int64_t bytes);
void dt_member_stop(struct dt_member *m);

/* Run fn(arg) in a child as uid/gid (root only); returns the child's exit status. */
int dt_as_user(int uid, int gid, int (*fn)(void *arg), void *arg);

#endif
