/* SPDX-License-Identifier: Apache-2.0 */
/* run.c: `gpuvisor run`, which starts a command inside a GPU slice.
 *
 * The slice itself is enforced by the interposer, inside the command's processes; this file only
 * turns the options into what the interposer reads (the contract is written at the top of
 * shim/instance.c): the limits with every GPU named by UUID, and the GPUs for --devices. The
 * launch library (launch/launch.h) finds libgpuvisor.so and writes the environment, as it does for
 * every part that starts a tenant. Children inherit the environment, so everything the command
 * starts joins the same instance. With gpuvisord the instance is the daemon's: it checks the
 * caller's Unix user and hands over the instance's region as a descriptor, which the command
 * inherits. Then it waits, as a transparent wrapper: signals sent to it reach the command, and its
 * exit status is the command's. A private instance (no --instance) is removed afterwards, so runs
 * leave nothing behind in the region directory.
 *
 * With --remote the command's GPU is another machine's: no interposer is preloaded here, the
 * remoting client's libcuda.so.1 and libnvidia-ml.so.1 come first on LD_LIBRARY_PATH instead, and
 * the server (gpuvisor-remoted) runs each session under its own interposer, with the slice it was
 * started with. So the slice options have nothing to act on and are refused. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/limits.h"
#include "core/policy.h"
#include "core/size.h"
#include "core/timeslice.h"
#include "launch/launch.h"

extern char **environ;

/* Signals a wrapper passes on. A caller that stops `gpuvisor run` means to stop the command. */
static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static volatile sig_atomic_t child_pid;

static void usage(FILE *f)
{
    fputs(
        "Usage: gpuvisor run [OPTIONS] [--] CMD [ARGS...]\n"
        "\n"
        "Run CMD in a GPU slice: the interposer (libgpuvisor.so) is added to LD_PRELOAD and the\n"
        "slice is named in the environment. CMD and every process it starts share the slice.\n"
        "The slice is either standalone (its limits given here, kept in a file of your own) or an\n"
        "instance of gpuvisord (made with gpuvisor create; the daemon keeps its limits).\n"
        "\n"
        "Options:\n"
        "  --memory SIZE          device memory limit on every GPU: 4GiB, 512MiB, 16GB, 2g ...\n"
        "  --memory KEY=SIZE,...  a limit per GPU; KEY is a GPU index as `gpuvisor smi` and\n"
        "                         nvidia-smi number them, a GPU UUID (GPU-...), or * for the\n"
        "                         GPUs not named\n"
        "  --compute PCT          share of each GPU's time: 25, 12.5% ... (takes effect with\n"
        "                         GPU-time limits)\n"
        "  --compute KEY=PCT,...  a share per GPU, keys as for --memory\n"
        "  --compute-policy P     how the share is kept (sets GPUVISOR_COMPUTE_POLICY): fixed\n"
        "                         (exactly the share, even alone on the GPU), guaranteed (the\n"
        "                         default: at least the share, and time the others leave) or\n"
        "                         best-effort (only what the others leave)\n"
        "  --priority Q           high, normal (the default) or low (sets GPUVISOR_PRIORITY): a\n"
        "                         waiting slice of a higher priority gets the GPU at the next\n"
        "                         turn. For a gpuvisord instance both are the instance's: set\n"
        "                         them with gpuvisor create or gpuvisor resize\n"
        "  --timeslice T          the length of a turn on a GPU shared by time, 1ms to 30ms\n"
        "                         (default 10ms; sets GPUVISOR_TIMESLICE): shorter turns wait\n"
        "                         less for the GPU, longer ones lose less to hand-overs. With\n"
        "                         gpuvisord, a turn is at most the GPU's own setting\n"
        "  --instance NAME        run in the shared instance NAME: every process started with the\n"
        "                         same NAME shares one slice (letters, digits, '_', '.', '-'; 1 "
        "to\n"
        "                         64). Without it the run gets a private instance, removed when\n"
        "                         CMD ends. The first process of an instance to use a GPU sets\n"
        "                         its limit there. With gpuvisord (below), NAME is the id of one\n"
        "                         of its instances, or its name within your tenant.\n"
        "  --devices LIST         the GPUs CMD sees, by index or UUID, comma-separated (sets\n"
        "                         CUDA_VISIBLE_DEVICES); --memory keys still name GPUs as smi "
        "does\n"
        "  --daemon[=SOCKET]      join the gpuvisord instance --instance names, through the\n"
        "                         daemon's socket (default $GPUVISOR_DAEMON, else\n"
        "                         " GVL_DEFAULT_SOCKET ")\n"
        "  --no-daemon            a standalone instance, even where gpuvisord runs\n"
        "  --remote ADDR          run CMD's CUDA and NVML calls on the GPUs of the\n"
        "                         gpuvisor-remoted at ADDR (unix:PATH, tcp:HOST:PORT or\n"
        "                         tls:HOST:PORT): the remoting client's libraries come\n"
        "                         first on LD_LIBRARY_PATH, no interposer is preloaded,\n"
        "                         and the server sets the slice (the options above are\n"
        "                         refused, but --instance: an instance of the server's\n"
        "                         gpuvisord to join, with its tenant's token)\n"
        "  --remote-token-file F  the token that admits CMD to the server (sets\n"
        "                         GPUVISOR_REMOTE_TOKEN_FILE); without it one of\n"
        "                         GPUVISOR_REMOTE_TOKEN, GPUVISOR_REMOTE_TOKEN_FILE is needed\n"
        "  -h, --help             show this help\n"
        "\n"
        "Standalone or gpuvisord: --instance joins an instance of gpuvisord when --daemon is\n"
        "given, or when the daemon's socket exists and none of --memory, --compute, --devices\n"
        "and --no-daemon is given; otherwise the instance is standalone. gpuvisord lets you in\n"
        "only if your Unix user belongs to the instance's tenant; it sets the instance's GPU as\n"
        "CUDA_VISIBLE_DEVICES, and its limits hold whatever the environment says. A refusal is\n"
        "printed with the daemon's reason, and the exit status is 125.\n"
        "\n"
        "Exit status: CMD's; 128+N if CMD was killed by signal N; 2 for a bad option; 125 if\n"
        "gpuvisor could not prepare the run; 127 if CMD could not be started.\n"
        "\n"
        "Environment: GPUVISOR_SHIM (the interposer to use instead of the installed one),\n"
        "GPUVISOR_REGION_DIR (where instances live; default " GVR_DEFAULT_DIR
        "-UID, this user's),\n"
        "GPUVISOR_NVML (the NVML library to load instead of libnvidia-ml.so.1),\n"
        "GPUVISOR_DAEMON (gpuvisord's socket); with --remote, GPUVISOR_REMOTE_CA and\n"
        "GPUVISOR_REMOTE_INSECURE reach the client as they are (docs/remote.md).\n",
        f);
}

/* ------------------------------------------------------------------ the instance */

/* A private instance name for this run. A region left with our name by an earlier run whose
 * gpuvisor had the same pid is removed first (it has no live members, or gvr_remove refuses), so a
 * stale region's limits never apply to this run. */
static int private_name(char *out, size_t len, struct gv_error *err)
{
    for (unsigned n = 0; n < 100; n++) {
        if (n == 0)
            snprintf(out, len, "run-%d", (int)getpid());
        else
            snprintf(out, len, "run-%d-%u", (int)getpid(), n);
        /* One stat in the common case, where no earlier run left the name behind. */
        char path[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", gvr_dir(NULL), out) < sizeof(path) &&
            lstat(path, &st) < 0 && errno == ENOENT)
            return 0;
        struct gv_error ignored = {0};
        int rc = gvr_remove(NULL, out, &ignored);
        if (rc == 0 || rc == -ENOENT)
            return 0;
    }
    return gv_error_set(err, -EEXIST, "no free private instance name in %s", gvr_dir(NULL));
}

/* The limit a GPUVISOR_MEMORY value gives the GPU with this UUID (0 when it gives none). */
static uint64_t limit_in(const char *env, const uint8_t uuid[GVR_UUID_LEN])
{
    struct gv_limit rules[CLI_SPEC_MAX + 1];
    unsigned n = 0;
    if (gv_limits_parse(env, GV_LIMIT_SIZE, rules, CLI_SPEC_MAX + 1, &n, NULL) < 0)
        return 0;
    const struct gv_limit *r = gv_limits_find(rules, n, -1, uuid);
    return r ? r->value : 0;
}

/* A shared instance keeps the limits it was given first (region.h: gvr_open). Say so when this
 * run asks for others, since the command would otherwise see a slice it did not ask for. */
static void warn_kept_limits(const char *name, const char *memory)
{
    struct gvr_region r = {0};
    struct gv_error err = {0};
    if (gvr_open(&r, NULL, name, GVR_READONLY, NULL, 0, &err) < 0)
        return;
    for (unsigned d = 0; d < gvr_device_count(&r); d++) {
        struct gvr_device_limit lim;
        if (gvr_device_get(&r, d, &lim) < 0)
            continue;
        uint64_t want = limit_in(memory, lim.uuid);
        if (!want || want == lim.memory)
            continue;
        char have_s[32], want_s[32], uuid[GV_UUID_TEXT];
        if (lim.memory)
            gv_size_format(lim.memory, have_s, sizeof(have_s));
        else
            snprintf(have_s, sizeof(have_s), "no limit");
        fprintf(stderr,
                "gpuvisor: instance \"%s\" already has %s%s on %s; it keeps it, not the %s asked "
                "(an instance keeps the limits it was created with)\n",
                name, lim.memory ? "a limit of " : "", have_s, gv_uuid_format(lim.uuid, uuid),
                gv_size_format(want, want_s, sizeof(want_s)));
    }
    gvr_close(&r);
}

/* ------------------------------------------------------------------ the command */

static void forward(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    /* A signal the kernel sent (Ctrl-C, a hang-up) went to the terminal's whole foreground process
     * group, the command included; passing on a second copy would look like two key presses to
     * programs that count them. Signals from other processes (kill, a supervisor) reach only us. */
    if (si && si->si_code == SI_KERNEL)
        return;
    pid_t pid = (pid_t)child_pid;
    int saved_errno = errno; /* the interrupted code may be about to read it */
    if (pid > 0)
        kill(pid, sig);
    errno = saved_errno;
}

static int report_exec_error(const char *cmd, int e)
{
    const char *hint = e == ENOENT    ? " (check the name and PATH)"
                       : e == EACCES  ? " (is it an executable file?)"
                       : e == ENOEXEC ? " (not a program this system can run)"
                                      : "";
    fprintf(stderr, "gpuvisor: cannot run \"%s\": %s%s\n", cmd, strerror(e), hint);
    return CLI_EXIT_NOEXEC;
}

/* Start argv and wait for it. Returns its exit status the way a shell reports it.
 *
 * posix_spawnp, not fork + exec: it shares the parent's memory until the exec (a vfork), so
 * gpuvisor neither copies its page tables nor takes copy-on-write faults afterwards, and it reports
 * an exec failure itself, so no pipe is needed to learn of one. */
static int spawn_and_wait(char **argv, char *const *envp)
{
    sigset_t block, old;
    sigemptyset(&block);
    for (unsigned i = 0; i < NFORWARDED; i++)
        sigaddset(&block, forwarded[i]);
    /* Blocked from before the spawn until the pid is known, so that no signal is lost in between.
     * A signal gpuvisor was started with ignored (nohup) stays ignored, here and in the command;
     * those it handles go back to their defaults in the command at its exec. */
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa = {0}, saved[NFORWARDED];
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (unsigned i = 0; i < NFORWARDED; i++) {
        sigaction(forwarded[i], NULL, &saved[i]);
        if (saved[i].sa_handler != SIG_IGN)
            sigaction(forwarded[i], &sa, NULL);
    }

    posix_spawnattr_t attr;
    pid_t pid = -1;
    int e = posix_spawnattr_init(&attr);
    if (e == 0) {
        /* The command gets the signal mask gpuvisor was started with. */
        posix_spawnattr_setsigmask(&attr, &old);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
        e = posix_spawnp(&pid, argv[0], NULL, &attr, argv, envp);
        posix_spawnattr_destroy(&attr);
    }
    if (e == 0)
        child_pid = pid;
    sigprocmask(SIG_SETMASK, &old, NULL);

    int status = 0;
    while (e == 0 && waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "gpuvisor: waiting for \"%s\": %s\n", argv[0], strerror(errno));
            return CLI_EXIT_INTERNAL;
        }
    }
    child_pid = 0;
    for (unsigned i = 0; i < NFORWARDED; i++)
        sigaction(forwarded[i], &saved[i], NULL);
    if (e)
        return report_exec_error(argv[0], e);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return CLI_EXIT_INTERNAL;
}

/* ------------------------------------------------------------------ an instance of gpuvisord */

/* Join instance key through the daemon at socket and run cmd in it. guessed: the daemon was not
 * asked for by name, only found; a refusal then says how to get a standalone instance instead. */
static int run_joined(const char *socket, const char *key, bool guessed, const char *timeslice,
                      char **cmd)
{
    struct gv_error err = {0};
    /* The command may change directory before its interposer reads the path. */
    char sock[PATH_MAX];
    if (!realpath(socket, sock))
        snprintf(sock, sizeof(sock), "%s", socket);
    char shim[PATH_MAX];
    if (gvl_find_shim(getenv(GVL_ENV_SHIM), NULL, shim, sizeof(shim), &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }
    struct gvl_member m;
    if (gvl_daemon_join(sock, key, &m, &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        if (guessed)
            fprintf(stderr,
                    "gpuvisor: (gpuvisord's socket is at %s, so --instance names one of "
                    "its instances; for a standalone instance of your own add "
                    "--no-daemon)\n",
                    sock);
        return CLI_EXIT_INTERNAL;
    }
    struct gvl_env env;
    const struct gvl_join join = {
        .socket = sock, .instance = m.id, .region_fd = m.fd, .devices = m.uuid};
    if (gvl_env_init(&env, environ, &err) < 0 || gvl_env_join(&env, shim, &join, &err) < 0 ||
        (timeslice && gvl_env_set(&env, GV_TIMESLICE_ENV, timeslice, &err) < 0)) {
        gvl_env_free(&env);
        close(m.fd);
        fprintf(stderr, "gpuvisor: cannot set the environment: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }
    int status = spawn_and_wait(cmd, gvl_env_envp(&env));
    gvl_env_free(&env);
    close(m.fd);
    return status;
}

/* ------------------------------------------------------------------ a remote GPU */

/* The variables the remoting client reads (remote/client/rc.h). */
#define ENV_REMOTE            "GPUVISOR_REMOTE"
#define ENV_REMOTE_TOKEN      "GPUVISOR_REMOTE_TOKEN"
#define ENV_REMOTE_TOKEN_FILE "GPUVISOR_REMOTE_TOKEN_FILE"
#define ENV_REMOTE_INSTANCE   "GPUVISOR_REMOTE_INSTANCE"
#define ENV_LIBRARY_PATH      "LD_LIBRARY_PATH"
/* The client's driver library: installed in LIBDIR/gpuvisor/remote, built in build/lib/remote. */
#define REMOTE_LIB           "libcuda.so.1"
#define REMOTE_DIR_INSTALLED "gpuvisor/remote/"
#define REMOTE_DIR_BUILD     "remote/"

/* An address for --remote, checked as far as `gpuvisor run` can without the remoting library,
 * which it does not link so that it starts without TLS's libraries: the transport, a socket path
 * that fits, and a numeric port. The client checks the rest (the host) when it connects. */
static int remote_addr_check(const char *a, struct gv_error *err)
{
    const char *what = "an address is unix:PATH, tcp:HOST:PORT or tls:HOST:PORT";
    if (strncmp(a, "unix:", 5) == 0) {
        size_t n = strlen(a + 5);
        if (n == 0 || n >= sizeof(((struct sockaddr_un *)0)->sun_path))
            return gv_error_set(err, -EINVAL,
                                "--remote \"%s\": a unix socket path of 1 to %zu bytes is needed",
                                a, sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return 0;
    }
    if (strncmp(a, "tcp:", 4) != 0 && strncmp(a, "tls:", 4) != 0)
        return gv_error_set(err, -EINVAL, "--remote \"%s\": %s", a, what);
    const char *host = a + 4, *colon = strrchr(host, ':');
    const char *port = colon ? colon + 1 : "";
    size_t digits = strspn(port, "0123456789");
    if (!colon || colon == host || digits == 0 || digits > 5 || port[digits] != '\0' ||
        strtoul(port, NULL, 10) > 65535)
        return gv_error_set(err, -EINVAL,
                            "--remote \"%s\": a host and a port (0 to 65535) are needed: %s", a,
                            what);
    return 0;
}

/* LD_PRELOAD without any copy of the interposer, in a new string (NULL when nothing is left): a run
 * inside a run must not wrap the client's driver, which would charge a local slice for a remote
 * GPU. */
static int preload_without_shim(const char *old, char **out, struct gv_error *err)
{
    *out = NULL;
    if (!old || !*old)
        return 0;
    char *buf = strdup(old), *res = calloc(1, strlen(old) + 1);
    if (!buf || !res) {
        free(buf);
        free(res);
        return gv_error_set(err, -ENOMEM, "out of memory");
    }
    size_t at = 0;
    char *save = NULL;
    for (char *e = strtok_r(buf, " :", &save); e; e = strtok_r(NULL, " :", &save)) {
        const char *slash = strrchr(e, '/');
        if (strcmp(slash ? slash + 1 : e, GVL_SHIM_NAME) == 0)
            continue;
        at += (size_t)sprintf(res + at, "%s%s", at ? ":" : "", e);
    }
    free(buf);
    if (at)
        *out = res;
    else
        free(res);
    return 0;
}

/* The directory of the client's libraries: next to an installed gpuvisor, or in the build tree. */
static int remote_lib_dir(char *out, size_t len, struct gv_error *err)
{
    int rc = gvl_find_lib(REMOTE_DIR_INSTALLED REMOTE_LIB, NULL, out, len, err);
    if (rc == -ENOENT)
        rc = gvl_find_lib(REMOTE_DIR_BUILD REMOTE_LIB, NULL, out, len, NULL);
    if (rc < 0) {
        if (rc == -ENOENT && err) {
            char where[sizeof(err->msg)];
            memcpy(where, err->msg, sizeof(where));
            gv_error_set(err, rc,
                         "the remoting client %s; reinstall gpuvisor (it goes in the library "
                         "directory's " REMOTE_DIR_INSTALLED ")",
                         where);
        }
        return rc;
    }
    *strrchr(out, '/') = '\0';
    return 0;
}

/* Run cmd with its CUDA and NVML calls sent to the server at addr. token_file (may be NULL) is the
 * --remote-token-file given; instance (may be NULL) the --instance of the server's gpuvisord to
 * join. */
static int run_remote(const char *addr, const char *token_file, const char *instance, char **cmd)
{
    struct gv_error err = {0};
    char dir[PATH_MAX], token[PATH_MAX];
    if (token_file && !realpath(token_file, token)) {
        fprintf(stderr, "gpuvisor: --remote-token-file \"%s\": %s\n", token_file, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    if (token_file && access(token, R_OK) < 0) {
        fprintf(stderr, "gpuvisor: --remote-token-file \"%s\": cannot read it: %s\n", token_file,
                strerror(errno));
        return CLI_EXIT_USAGE;
    }
    const char *t = getenv(ENV_REMOTE_TOKEN), *tf = getenv(ENV_REMOTE_TOKEN_FILE);
    if (!token_file && !(t && *t) && !(tf && *tf)) {
        fprintf(stderr, "gpuvisor: --remote needs a token: give --remote-token-file FILE, or "
                        "set " ENV_REMOTE_TOKEN " or " ENV_REMOTE_TOKEN_FILE "\n");
        return CLI_EXIT_USAGE;
    }
    if (remote_lib_dir(dir, sizeof(dir), &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }

    struct gvl_env env;
    char *preload = NULL, *libpath = NULL;
    int rc = gvl_env_init(&env, environ, &err);
    if (rc == 0)
        rc = preload_without_shim(gvl_env_get(&env, GVL_ENV_PRELOAD), &preload, &err);
    if (rc == 0) {
        /* The client's directory first, so that its libcuda.so.1 is the one the command loads; an
         * earlier copy of the same directory is dropped with the rest unchanged. */
        const char *old = gvl_env_get(&env, ENV_LIBRARY_PATH);
        size_t cap = strlen(dir) + (old ? strlen(old) : 0) + 2;
        char *rest = old ? strdup(old) : NULL;
        libpath = malloc(cap);
        if (!libpath || (old && !rest)) {
            rc = gv_error_set(&err, -ENOMEM, "out of memory");
        } else {
            size_t at = (size_t)snprintf(libpath, cap, "%s", dir);
            char *save = NULL;
            for (char *e = rest ? strtok_r(rest, ":", &save) : NULL; e;
                 e = strtok_r(NULL, ":", &save))
                if (strcmp(e, dir) != 0)
                    at += (size_t)snprintf(libpath + at, cap - at, ":%s", e);
        }
        free(rest);
    }
    /* A slice of this machine's would mean nothing to the command: its GPU is the server's. */
    static const char *const local[] = {GVL_ENV_INSTANCE, GVL_ENV_MEMORY,    GVL_ENV_COMPUTE,
                                        GVL_ENV_DAEMON,   GVL_ENV_REGION_FD, GV_POLICY_ENV,
                                        GV_PRIORITY_ENV,  GV_TIMESLICE_ENV};
    for (size_t k = 0; rc == 0 && k < sizeof(local) / sizeof(local[0]); k++)
        rc = gvl_env_set(&env, local[k], NULL, &err);
    if (rc == 0)
        rc = gvl_env_set(&env, GVL_ENV_PRELOAD, preload, &err);
    if (rc == 0)
        rc = gvl_env_set(&env, ENV_LIBRARY_PATH, libpath, &err);
    if (rc == 0)
        rc = gvl_env_set(&env, ENV_REMOTE, addr, &err);
    if (rc == 0 && instance)
        rc = gvl_env_set(&env, ENV_REMOTE_INSTANCE, instance, &err);
    /* The file given wins over an inherited token (which the client would read first). */
    if (rc == 0 && token_file)
        rc = gvl_env_set(&env, ENV_REMOTE_TOKEN_FILE, token, &err);
    if (rc == 0 && token_file)
        rc = gvl_env_set(&env, ENV_REMOTE_TOKEN, NULL, &err);
    free(preload);
    free(libpath);
    if (rc < 0) {
        gvl_env_free(&env);
        fprintf(stderr, "gpuvisor: cannot set the environment: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }
    int status = spawn_and_wait(cmd, gvl_env_envp(&env));
    gvl_env_free(&env);
    return status;
}

/* ------------------------------------------------------------------ the subcommand */

static int usage_error(const struct gv_error *err)
{
    fprintf(stderr, "gpuvisor: %s\n", err->msg);
    return CLI_EXIT_USAGE;
}

int cmd_run(int argc, char **argv)
{
    static struct cli_spec memory = {.option = "--memory", .parse = cli_parse_memory};
    static struct cli_spec compute = {.option = "--compute", .parse = cli_parse_share};
    const char *instance = NULL, *devices = NULL, *daemon = NULL;
    const char *remote = NULL, *remote_token = NULL;
    char timeslice_text[GV_TIMESLICE_TEXT];
    const char *timeslice = NULL;
    const char *policy = NULL, *priority = NULL; /* as core names them, once checked */
    bool no_daemon = false;
    struct gv_error err = {0};
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i], *v = NULL;
        int m;
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (cli_is_help(arg)) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if ((m = cli_opt_value(argc, argv, &i, "--memory", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_spec_add(&memory, v, &err) < 0)
                return usage_error(&err);
        } else if ((m = cli_opt_value(argc, argv, &i, "--compute", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (cli_spec_add(&compute, v, &err) < 0)
                return usage_error(&err);
        } else if ((m = cli_opt_value(argc, argv, &i, "--timeslice", &v)) != 0) {
            uint64_t ns;
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (gv_timeslice_parse(v, &ns, &err) < 0) {
                fprintf(stderr, "gpuvisor: --timeslice: %s\n", err.msg);
                return CLI_EXIT_USAGE;
            }
            timeslice = gv_timeslice_format(ns, timeslice_text, sizeof(timeslice_text));
        } else if ((m = cli_opt_value(argc, argv, &i, "--compute-policy", &v)) != 0) {
            enum gv_policy p;
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (gv_policy_parse(v, &p, &err) < 0) {
                fprintf(stderr, "gpuvisor: --compute-policy: %s\n", err.msg);
                return CLI_EXIT_USAGE;
            }
            policy = gv_policy_name(p);
        } else if ((m = cli_opt_value(argc, argv, &i, "--priority", &v)) != 0) {
            enum gv_priority p;
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (gv_priority_parse(v, &p, &err) < 0) {
                fprintf(stderr, "gpuvisor: --priority: %s\n", err.msg);
                return CLI_EXIT_USAGE;
            }
            priority = gv_priority_name(p);
        } else if ((m = cli_opt_value(argc, argv, &i, "--instance", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (instance) {
                fprintf(stderr, "gpuvisor: --instance \"%s\": already given as \"%s\"\n", v,
                        instance);
                return CLI_EXIT_USAGE;
            }
            if (gvr_name_check(v, &err) < 0) {
                fprintf(stderr, "gpuvisor: --instance: %s\n", err.msg);
                return CLI_EXIT_USAGE;
            }
            instance = v;
        } else if ((m = cli_opt_value(argc, argv, &i, "--devices", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (devices) {
                fprintf(stderr, "gpuvisor: --devices \"%s\": already given as \"%s\"\n", v,
                        devices);
                return CLI_EXIT_USAGE;
            }
            devices = v;
        } else if (strcmp(arg, "--daemon") == 0 || strncmp(arg, "--daemon=", 9) == 0) {
            daemon = arg[8] == '=' ? arg + 9 : gvl_daemon_socket();
            if (!*daemon) {
                fprintf(stderr, "gpuvisor: --daemon=: empty socket path\n");
                return CLI_EXIT_USAGE;
            }
        } else if (strcmp(arg, "--no-daemon") == 0) {
            no_daemon = true;
        } else if ((m = cli_opt_value(argc, argv, &i, "--remote", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (remote) {
                fprintf(stderr, "gpuvisor: --remote \"%s\": already given as \"%s\"\n", v, remote);
                return CLI_EXIT_USAGE;
            }
            if (remote_addr_check(v, &err) < 0)
                return usage_error(&err);
            remote = v;
        } else if ((m = cli_opt_value(argc, argv, &i, "--remote-token-file", &v)) != 0) {
            if (m < 0)
                return CLI_EXIT_USAGE;
            if (remote_token || !*v) {
                fprintf(stderr, "gpuvisor: --remote-token-file \"%s\": %s\n", v,
                        *v ? "already given" : "empty file name");
                return CLI_EXIT_USAGE;
            }
            remote_token = v;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "gpuvisor: run: unknown option \"%s\" (see gpuvisor run --help)\n",
                    arg);
            return CLI_EXIT_USAGE;
        } else {
            break; /* the command: its own options are not ours */
        }
    }
    if (i >= argc) {
        fprintf(stderr, "gpuvisor: run: missing command (usage: gpuvisor run [OPTIONS] -- CMD "
                        "[ARGS...])\n");
        return CLI_EXIT_USAGE;
    }
    char **cmd = argv + i;

    if (remote_token && !remote) {
        fprintf(stderr, "gpuvisor: --remote-token-file goes with --remote ADDR\n");
        return CLI_EXIT_USAGE;
    }
    if (remote) {
        /* The first slice option given, named in the refusal. */
        const char *slice_option = memory.given    ? "--memory"
                                   : compute.given ? "--compute"
                                   : policy        ? "--compute-policy"
                                   : priority      ? "--priority"
                                   : timeslice     ? "--timeslice"
                                   : devices       ? "--devices"
                                   : daemon        ? "--daemon"
                                   : no_daemon     ? "--no-daemon"
                                                   : NULL;
        if (slice_option) {
            fprintf(stderr,
                    "gpuvisor: %s: with --remote the server sets the slice (gpuvisor-remoted "
                    "--memory, --compute and --compute-policy, or the instance of its gpuvisord "
                    "that --instance names): leave %s out\n",
                    slice_option, slice_option);
            return CLI_EXIT_USAGE;
        }
        return run_remote(remote, remote_token, instance, cmd);
    }

    bool limits = memory.given || compute.given || devices;
    /* A gpuvisord instance's policy and priority are the daemon's, like its limits: run only joins
     * instances, so it has nothing to set them on. Said before anything is joined. */
    const char *sched_option = policy ? "--compute-policy" : priority ? "--priority" : NULL;
    bool joins =
        daemon || (instance && !limits && !no_daemon && gvl_socket_exists(gvl_daemon_socket()));
    if (joins && sched_option && instance && !no_daemon) {
        fprintf(stderr,
                "gpuvisor: %s: instance \"%s\" is gpuvisord's, and its compute policy and "
                "priority are the daemon's: change them with gpuvisor resize %s "
                "--compute-policy P --priority Q (or add --no-daemon for a standalone "
                "instance)\n",
                sched_option, instance, instance);
        return CLI_EXIT_USAGE;
    }
    if (daemon) {
        const char *why = no_daemon   ? "--no-daemon asks for the opposite"
                          : !instance ? "name the instance with --instance ID"
                          : limits    ? "a gpuvisord instance has its limits and GPU already (see "
                                        "gpuvisor show; gpuvisor resize changes them): leave out "
                                        "--memory, --compute and --devices"
                                      : NULL;
        if (why) {
            fprintf(stderr, "gpuvisor: --daemon: %s\n", why);
            return CLI_EXIT_USAGE;
        }
        return run_joined(daemon, instance, false, timeslice, cmd);
    }
    if (instance && !limits && !no_daemon && gvl_socket_exists(gvl_daemon_socket()))
        return run_joined(gvl_daemon_socket(), instance, true, timeslice, cmd);

    /* NVML only when a GPU is named: a plain limit needs no driver at all. */
    static struct cli_gpus gpus;
    if (devices || cli_spec_keyed(&memory) || cli_spec_keyed(&compute))
        cli_gpus_load(&gpus, false);
    else
        snprintf(gpus.why, sizeof(gpus.why), "NVML was not needed");

    static char memory_env[GV_LIMITS_TEXT_MAX], compute_env[GV_LIMITS_TEXT_MAX], devices_env[8192];
    if (memory.given && cli_spec_env(&memory, &gpus, memory_env, sizeof(memory_env), &err) < 0)
        return err.code == -EIO ? (fprintf(stderr, "gpuvisor: %s\n", err.msg), CLI_EXIT_INTERNAL)
                                : usage_error(&err);
    if (compute.given && cli_spec_env(&compute, &gpus, compute_env, sizeof(compute_env), &err) < 0)
        return err.code == -EIO ? (fprintf(stderr, "gpuvisor: %s\n", err.msg), CLI_EXIT_INTERNAL)
                                : usage_error(&err);
    if (devices && cli_devices_env(devices, &gpus, devices_env, sizeof(devices_env), &err) < 0)
        return err.code == -EIO ? (fprintf(stderr, "gpuvisor: %s\n", err.msg), CLI_EXIT_INTERNAL)
                                : usage_error(&err);

    char shim[PATH_MAX];
    if (gvl_find_shim(getenv(GVL_ENV_SHIM), NULL, shim, sizeof(shim), &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }

    char name[GVR_NAME_MAX + 1];
    bool private = instance == NULL;
    if (private) {
        if (private_name(name, sizeof(name), &err) < 0) {
            fprintf(stderr, "gpuvisor: %s\n", err.msg);
            return CLI_EXIT_INTERNAL;
        }
    } else {
        snprintf(name, sizeof(name), "%s", instance);
        if (memory.given)
            warn_kept_limits(name, memory_env);
    }

    /* Limits not asked for are cleared: an inherited GPUVISOR_MEMORY (a run inside a run) must not
     * leak into a new instance. */
    struct gvl_env env;
    const struct gvl_slice slice = {
        .instance = name,
        .memory = memory.given ? memory_env : NULL,
        .compute = compute.given ? compute_env : NULL,
        .devices = devices ? devices_env : NULL,
    };
    /* Like the limits, a policy or priority not asked for is cleared rather than inherited. */
    if (gvl_env_init(&env, environ, &err) < 0 || gvl_env_slice(&env, shim, &slice, &err) < 0 ||
        (timeslice && gvl_env_set(&env, GV_TIMESLICE_ENV, timeslice, &err) < 0) ||
        gvl_env_set(&env, GV_POLICY_ENV, policy, &err) < 0 ||
        gvl_env_set(&env, GV_PRIORITY_ENV, priority, &err) < 0) {
        gvl_env_free(&env);
        fprintf(stderr, "gpuvisor: cannot set the environment: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }

    int status = spawn_and_wait(cmd, gvl_env_envp(&env));
    gvl_env_free(&env);

    if (private) {
        /* Refused (-EBUSY) while a process the command left running still uses the instance: its
         * slice must outlive us then; `gpuvisor smi` removes it once that process is gone. */
        struct gv_error ignored = {0};
        gvr_remove(NULL, name, &ignored);
    }
    return status;
}
