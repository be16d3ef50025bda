/* SPDX-License-Identifier: Apache-2.0 */
/* gpuvisor-remoted: serves the CUDA driver API to GPU-less machines (srv.h says how).
 *
 *   gpuvisor-remoted --listen unix:PATH|tcp:HOST:PORT|tls:HOST:PORT [--cert F --key F]
 *                    [--token-file FILE] [--daemon SOCKET] [--memory SIZE] [--compute PCT]
 *                    [--compute-policy P] [--keepalive SECONDS] [--max-frame BYTES]
 *                    [--max-sessions N] [--shim PATH]
 *
 * The listening process accepts connections and forks one session process for each; it never
 * loads the driver itself. SIGTERM and SIGINT stop it: sessions end with it.
 *
 * A client that names no instance proves a token of --token-file and gets a slice of its own
 * (--memory, --compute). A client that names an instance of gpuvisord (--daemon) proves that
 * instance's tenant's token, which gpuvisord checks, and its session joins the instance. */
#include "remote/auth.h"
#include "remote/server/remoted.h"
#include "remote/server/srv.h"

#include "core/error.h"
#include "core/policy.h"
#include "core/size.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int srv_serve(struct srv *s, const char *shim);

struct opts {
    const char *listen, *cert, *key, *tokens, *daemon, *memory, *compute, *policy, *shim;
    int keepalive_ms;
    uint32_t max_frame;
    int max_sessions;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: gpuvisor-remoted --listen ADDR --token-file FILE [options]\n"
        "  --listen ADDR          unix:PATH, tcp:HOST:PORT or tls:HOST:PORT\n"
        "  --cert FILE --key FILE the server's certificate chain and key (tls: only)\n"
        "  --token-file FILE      the tokens clients may prove, one per line\n"
        "  --daemon SOCKET        gpuvisord's local socket: clients may join its instances\n"
        "  --memory SIZE          each session's device memory on each GPU (\"4GiB\")\n"
        "  --compute PCT          each session's share of each GPU's time (\"25%%\")\n"
        "  --compute-policy P     fixed, guaranteed (the default) or best-effort\n"
        "  --keepalive SECONDS    end a session whose client is silent this long (5)\n"
        "  --max-frame BYTES      the largest frame a client may send (1048576)\n"
        "  --max-sessions N       sessions at once (64)\n"
        "  --shim PATH            the interposer (libgpuvisor.so next to this program's lib/)\n");
}

/* The interposer next to this program: BIN/../lib/libgpuvisor.so. */
static char *default_shim(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *out;
    if (asprintf(&out, "%s/../lib/libgpuvisor.so", exe) < 0)
        return NULL;
    if (access(out, R_OK) != 0) {
        free(out);
        if (asprintf(&out, "%s/../%s/gpuvisor/libgpuvisor.so", exe, "lib") < 0)
            return NULL;
    }
    return out;
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"listen", required_argument, 0, 'l'},
                                       {"cert", required_argument, 0, 'c'},
                                       {"key", required_argument, 0, 'k'},
                                       {"token-file", required_argument, 0, 't'},
                                       {"daemon", required_argument, 0, 'd'},
                                       {"memory", required_argument, 0, 'm'},
                                       {"compute", required_argument, 0, 'p'},
                                       {"compute-policy", required_argument, 0, 'P'},
                                       {"keepalive", required_argument, 0, 'a'},
                                       {"max-frame", required_argument, 0, 'f'},
                                       {"max-sessions", required_argument, 0, 's'},
                                       {"shim", required_argument, 0, 'S'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    memset(o, 0, sizeof(*o));
    o->keepalive_ms = 5000;
    o->max_frame = GVW_MAX_FRAME_DEFAULT;
    o->max_sessions = 64;
    int c;
    char *end;
    long v;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'l':
            o->listen = optarg;
            break;
        case 'c':
            o->cert = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 't':
            o->tokens = optarg;
            break;
        case 'd':
            o->daemon = optarg;
            break;
        case 'm':
            o->memory = optarg;
            break;
        case 'p':
            o->compute = optarg;
            break;
        case 'P':
            o->policy = optarg;
            break;
        case 'S':
            o->shim = optarg;
            break;
        case 'a': {
            errno = 0;
            double d = strtod(optarg, &end);
            if (errno || *end || end == optarg || !(d > 0) || d > 3600) {
                fprintf(stderr, "gpuvisor-remoted: --keepalive '%s': seconds from 0.1 to 3600\n",
                        optarg);
                return -1;
            }
            o->keepalive_ms = (int)(d * 1000);
            if (o->keepalive_ms < 100)
                o->keepalive_ms = 100;
            break;
        }
        case 'f':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 4096 || v > (1L << 30)) {
                fprintf(stderr, "gpuvisor-remoted: --max-frame '%s': bytes from 4096 to %ld\n",
                        optarg, 1L << 30);
                return -1;
            }
            o->max_frame = (uint32_t)v;
            break;
        case 's':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 65536) {
                fprintf(stderr, "gpuvisor-remoted: --max-sessions '%s': 1 to 65536\n", optarg);
                return -1;
            }
            o->max_sessions = (int)v;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "gpuvisor-remoted: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->listen || (!o->tokens && !o->daemon)) {
        fprintf(stderr, "gpuvisor-remoted: --listen, and --token-file or --daemon, are needed\n");
        usage(stderr);
        return -1;
    }
    struct gv_error err = {0};
    uint64_t bytes;
    uint32_t share;
    enum gv_policy pol;
    if (o->memory && gv_size_parse(o->memory, &bytes, &err) != 0) {
        fprintf(stderr, "gpuvisor-remoted: --memory: %s\n", err.msg);
        return -1;
    }
    if (o->compute && gv_share_parse(o->compute, &share, &err) != 0) {
        fprintf(stderr, "gpuvisor-remoted: --compute: %s\n", err.msg);
        return -1;
    }
    if (o->policy && gv_policy_parse(o->policy, &pol, &err) != 0) {
        fprintf(stderr, "gpuvisor-remoted: --compute-policy: %s\n", err.msg);
        return -1;
    }
    return 0;
}

struct verifiers {
    const struct gva_tokens *tokens; /* NULL without --token-file */
    struct remoted_daemon daemon;    /* .socket NULL without --daemon */
    bool joined;
};

/* A client naming an instance goes to gpuvisord; one naming none to the token file. */
static int verify(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                  const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                  uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen)
{
    struct verifiers *v = arg;
    if (who[0] && v->daemon.socket) {
        int rc = remoted_verify_daemon(&v->daemon, who, cmsg, cn, proof, smsg, sn, sproof, token,
                                       err, errlen);
        v->joined = rc == 0;
        return rc;
    }
    if (!v->tokens) {
        snprintf(err, errlen, "the client named no instance, and this server has no token file");
        return -1;
    }
    return gva_verify_tokens((void *)v->tokens, who, cmsg, cn, proof, smsg, sn, sproof, token, err,
                             errlen);
}

/* The session process: handshake, limits, serve. Never returns. */
static void session(int fd, const struct opts *o, struct gvc_tls *tls,
                    const struct gva_tokens *tokens, unsigned long seq, const char *shim)
{
    struct srv s = {0};
    snprintf(s.name, sizeof(s.name), "remote-%ld-%lu", (long)getppid(), seq);
    s.keepalive_ms = o->keepalive_ms;
    s.max_frame = o->max_frame;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    char err[256];
    s.conn = gvc_accept(fd, tls, o->keepalive_ms, err, sizeof(err));
    if (!s.conn) {
        srv_log(&s, "refused: %s", err);
        _exit(2);
    }
    gvc_tune(s.conn, o->keepalive_ms);
    /* A client on a unix socket is a process of this host: the session takes its pid as its
     * command name, so that ps shows whom a session serves and NVML's process lists can show the
     * client in place of its session (nvml.c). */
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    char comm[16];
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid > 0) {
        snprintf(comm, sizeof(comm), "gvr:%d", (int)cred.pid);
        prctl(PR_SET_NAME, comm);
    }
    /* The keepalive bounds every read, not only the wait for a frame to start: a client that
     * stops halfway through a frame or its bulk would otherwise hold the session for ever. */
    struct timeval rcv = {o->keepalive_ms / 1000, (o->keepalive_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof(rcv));
    struct gva_session who;
    struct verifiers v = {.tokens = tokens, .daemon = {.socket = o->daemon}};
    if (gva_server(s.conn, verify, &v, o->keepalive_ms, s.name, o->max_frame, &who, err,
                   sizeof(err)) != 0) {
        srv_log(&s, "refused: %s", err);
        gvc_close(s.conn);
        _exit(2);
    }
    if (v.joined) {
        s.gpus_fixed = true;
        /* A member of the daemon's instance, under the instance's own limits. */
        setenv("GPUVISOR_DAEMON", o->daemon, 1);
        setenv("GPUVISOR_INSTANCE", v.daemon.instance, 1);
        setenv("CUDA_VISIBLE_DEVICES", v.daemon.uuid, 1); /* the instance's GPU alone */
        unsetenv("GPUVISOR_MEMORY");
        unsetenv("GPUVISOR_COMPUTE");
        unsetenv(GV_POLICY_ENV);
        unsetenv(GV_PRIORITY_ENV);
        srv_log(&s, "started in instance %s of tenant %s", v.daemon.instance, v.daemon.tenant);
        _exit(srv_serve(&s, shim));
    }
    /* The session's slice: its own instance, with the server's limits. A daemon socket or region
     * inherited from whoever started the server must not make the interposer join gpuvisord. */
    unsetenv("GPUVISOR_DAEMON");
    unsetenv("GPUVISOR_REGION_FD");
    setenv("GPUVISOR_INSTANCE", s.name, 1);
    if (o->memory)
        setenv("GPUVISOR_MEMORY", o->memory, 1);
    else
        unsetenv("GPUVISOR_MEMORY");
    if (o->compute) {
        /* The interposer reads a share in basis points (10000: all of the GPU). */
        uint32_t share = 0;
        struct gv_error e = {0};
        char bp[16];
        gv_share_parse(o->compute, &share, &e); /* checked at start */
        snprintf(bp, sizeof(bp), "%u", share);
        setenv("GPUVISOR_COMPUTE", bp, 1);
    } else {
        unsetenv("GPUVISOR_COMPUTE");
    }
    if (o->policy)
        setenv(GV_POLICY_ENV, o->policy, 1);
    srv_log(&s, "started (memory %s, compute %s)", o->memory ? o->memory : "unlimited",
            o->compute ? o->compute : "unlimited");
    int status = srv_serve(&s, shim);
    gvc_close(s.conn);
    _exit(status);
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse(argc, argv, &o) != 0)
        return 2;
    char err[256];
    struct gvc_addr addr;
    if (gvc_parse(o.listen, &addr, err, sizeof(err)) != 0) {
        fprintf(stderr, "gpuvisor-remoted: --listen: %s\n", err);
        return 2;
    }
    struct gvc_tls *tls = NULL;
    if (addr.kind == GVC_TLS) {
        if (!o.cert || !o.key) {
            fprintf(stderr, "gpuvisor-remoted: a tls: address needs --cert and --key\n");
            return 2;
        }
        struct gvc_tls_opts to = {.cert = o.cert, .key = o.key};
        tls = gvc_tls_new(true, &to, err, sizeof(err));
        if (!tls) {
            fprintf(stderr, "gpuvisor-remoted: %s\n", err);
            return 2;
        }
    } else if (o.cert || o.key) {
        fprintf(stderr, "gpuvisor-remoted: --cert and --key go with a tls: address\n");
        return 2;
    }
    struct gva_tokens tokens = {0};
    if (o.tokens && gva_tokens_load(o.tokens, &tokens, err, sizeof(err)) != 0) {
        fprintf(stderr, "gpuvisor-remoted: %s\n", err);
        return 2;
    }
    char *shim = o.shim ? strdup(o.shim) : default_shim();
    if (!shim || access(shim, R_OK) != 0) {
        fprintf(stderr,
                "gpuvisor-remoted: cannot find the interposer (libgpuvisor.so%s%s); name "
                "it with --shim\n",
                shim ? " at " : "", shim ? shim : "");
        return 2;
    }
    int lfd = gvc_listen(&addr, err, sizeof(err));
    if (lfd < 0) {
        fprintf(stderr, "gpuvisor-remoted: cannot listen on %s\n", err);
        return 2;
    }
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The address as bound: a port 0 (any free port) is named. */
    char bound[300];
    snprintf(bound, sizeof(bound), "%s", o.listen);
    if (addr.kind != GVC_UNIX) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        unsigned port = 0;
        if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
            port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                  : ((struct sockaddr_in *)&ss)->sin_port);
        bool v6 = strchr(addr.host, ':') != NULL;
        snprintf(bound, sizeof(bound), "%s:%s%s%s:%u", addr.kind == GVC_TLS ? "tls" : "tcp",
                 v6 ? "[" : "", addr.host, v6 ? "]" : "", port);
    }
    fprintf(stderr, "gpuvisor-remoted: listening on %s\n", bound);
    fflush(stderr);

    unsigned long seq = 0;
    int live = 0;
    while (!stop) {
        pid_t dead;
        int st;
        while ((dead = waitpid(-1, &st, WNOHANG)) > 0) {
            live--;
            /* A session that crashed says nothing itself: say it here. */
            if (WIFSIGNALED(st))
                fprintf(stderr, "gpuvisor-remoted: session process %d ended by signal %d (%s)\n",
                        (int)dead, WTERMSIG(st), strsignal(WTERMSIG(st)));
        }
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r <= 0)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (live >= o.max_sessions) {
            fprintf(stderr, "gpuvisor-remoted: refused a connection: %d sessions already\n", live);
            close(fd);
            continue;
        }
        seq++;
        pid_t pid = fork();
        if (pid == 0) {
            close(lfd);
            session(fd, &o, tls, o.tokens ? &tokens : NULL, seq, shim);
        }
        close(fd);
        if (pid > 0)
            live++;
        else
            fprintf(stderr, "gpuvisor-remoted: cannot fork a session: %s\n", strerror(errno));
    }
    close(lfd);
    if (addr.kind == GVC_UNIX)
        unlink(addr.path);
    /* Sessions end with this process (PR_SET_PDEATHSIG). */
    gva_tokens_free(&tokens);
    gvc_tls_free(tls);
    free(shim);
    fprintf(stderr, "gpuvisor-remoted: stopped\n");
    return 0;
}
