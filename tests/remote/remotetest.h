/* SPDX-License-Identifier: Apache-2.0 */
/* remotetest.h: a gpuvisor-remoted of the test's own, and a raw client to talk to it.
 *
 * The security claims of remoting are about a client that does not play by the rules: a modified
 * client library that sends whatever frames it likes. So the tests do not use the client library:
 * they connect, run the handshake with gva_client (or by hand, to break it) and then send frames
 * built here from ops.def's field letters, well-formed or not, and read the replies.
 *
 * rt_start makes a temporary directory (mkdtemp) with a token file, the server's log (its stderr)
 * and a region directory, starts the server on a unix socket there or on a free 127.0.0.1 port,
 * on a simulated machine of its own, and waits (with a deadline) until it listens. rt_stop stops
 * it and removes everything, whatever state the test left; the server dies with the test process
 * even if the test crashes (PR_SET_PDEATHSIG). */
#ifndef REMOTETEST_H
#define REMOTETEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "remote/auth.h"
#include "remote/conn.h"
#include "remote/wire.h"

struct rt_opts {
    const char *memory;    /* --memory, or NULL */
    const char *compute;   /* --compute, or NULL */
    const char *policy;    /* --compute-policy, or NULL */
    const char *keepalive; /* --keepalive seconds, or NULL */
    const char *max_frame; /* --max-frame bytes, or NULL */
    bool tcp;              /* a free 127.0.0.1 port rather than a unix socket */
    const char *gpus;      /* GPUVISOR_SIM_GPUS of the machine; NULL: T4 */
};

struct rt_server {
    char dir[64];   /* the temporary directory */
    char addr[160]; /* unix:DIR/sock or tcp:127.0.0.1:PORT */
    char token[72];
    char log[128];    /* the server's stderr */
    char machine[64]; /* GPUVISOR_SIM_MACHINE of the server's sessions */
    pid_t pid;
};

/* Start a server. Returns 0, or -1 after cleaning up what it made (with a line on stderr). */
int rt_start(struct rt_server *s, const struct rt_opts *o);
/* Stop the server (SIGTERM, then SIGKILL past a deadline) and remove its directory and machine. */
void rt_stop(struct rt_server *s);
/* Whether the server process still runs. */
bool rt_alive(const struct rt_server *s);

/* Lines of the server's log that contain every one of the (up to two) needles; b may be NULL. */
int rt_log_count(const struct rt_server *s, const char *a, const char *b);
/* Wait until at least `count` such lines are there. */
bool rt_log_wait(const struct rt_server *s, const char *a, const char *b, int count,
                 int timeout_ms);
/* Copy the log to stderr (for a failing test). */
void rt_log_dump(const struct rt_server *s);

/* A raw client: one connection, frames built by hand. */
struct rt_client {
    struct gvc *c;
    uint32_t max_frame;
    char name[GVA_MAX_WHO]; /* the session's name, from WELCOME */
    uint64_t ctx;           /* sent in every header */
    struct gvw_buf out, in;
    struct gvw_args reply; /* the fields of the last reply, the result first */
};

/* Connect without a handshake. NULL on failure. */
struct gvc *rt_dial(const struct rt_server *s);
/* Connect and run the handshake with `token`. Returns 0, or -1 with the reason in err. */
int rt_connect(struct rt_client *c, const struct rt_server *s, const char *token, char *err,
               size_t errlen);
void rt_close(struct rt_client *c);

/* Send one frame whose body is built from `fields` (ops.def's letters) and the values after it:
 * i an unsigned, q a uint64_t, b a pointer and a size_t, s a string. Returns 0 or -1. */
int rt_send(struct rt_client *c, unsigned op, unsigned flags, const char *fields, ...);
/* Send raw bytes. Returns 0 or -1. */
int rt_send_raw(struct rt_client *c, const void *p, size_t n);
/* Read the reply to `op`: its result (CUresult), and its fields in c->reply (v[1]... after the
 * result). Returns -1 when the connection ended or the reply is not one. */
long rt_reply(struct rt_client *c, unsigned op);
/* rt_send (flags 0) and rt_reply. */
long rt_call(struct rt_client *c, unsigned op, const char *fields, ...);
/* Whether the server ended the connection (end of stream or a reset) within timeout_ms. Reads
 * and drops whatever comes before. */
bool rt_ended(struct rt_client *c, int timeout_ms);

/* cuInit and a context of its own on device 0 (CTX_CREATE), used in every later header. Returns
 * the first failure's result, or 0. */
long rt_setup(struct rt_client *c);
/* Copies with their bulk: COPY_HTOD (then the bytes) and COPY_DTOH (then the bytes on success). */
long rt_htod(struct rt_client *c, uint64_t dst, const void *p, size_t n);
long rt_dtoh(struct rt_client *c, uint64_t src, void *p, size_t n);
/* A well-behaved round: allocate n bytes, copy a pattern in, read it back, compare, free. */
bool rt_round(struct rt_client *c, size_t n);

/* Called every few milliseconds while the harness waits (for a log line, an end of connection):
 * a test sets it to keep its other sessions talking through a long wait. NULL: nothing. */
extern void (*rt_idle)(void);

/* The monotonic clock in milliseconds. */
uint64_t rt_now_ms(void);

#endif
