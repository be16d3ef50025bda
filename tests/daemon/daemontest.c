/* SPDX-License-Identifier: Apache-2.0 */
/* daemontest.c: the daemon, requests and members of daemontest.h. */
#include "daemontest.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "region/daemon.h"
#include "region/region.h"

#define MAX_DAEMONS 8
#define MAX_MEMBERS 16

static struct dt *daemons[MAX_DAEMONS];
static struct dt_member *members[MAX_MEMBERS];
static pid_t main_pid; /* only the test's own process cleans up, never a child that exits */

static void cleanup(void)
{
    if (getpid() != main_pid)
        return;
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (members[i] && members[i]->pid > 0) {
            kill(members[i]->pid, SIGKILL);
            waitpid(members[i]->pid, NULL, 0);
        }
    for (int i = 0; i < MAX_DAEMONS; i++) {
        struct dt *t = daemons[i];
        if (!t)
            continue;
        if (t->pid > 0) {
            kill(t->pid, SIGKILL);
            waitpid(t->pid, NULL, 0);
        }
        if (t->curl)
            curl_easy_cleanup(t->curl);
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", t->dir, t->extra);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", t->dir);
        char shm[128];
        snprintf(shm, sizeof(shm), "/dev/shm/gvsim.%s", t->machine);
        unlink(shm);
    }
}

void dt_init(struct dt *t, const char *name)
{
    static bool once;
    if (!once) {
        once = true;
        main_pid = getpid();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        atexit(cleanup);
    }
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/gvd-test.XXXXXX");
    CHECK(mkdtemp(t->dir), "mkdtemp: %s", strerror(errno));
    /* Other users (the tests that switch uid) must reach the socket inside. */
    CHECK(chmod(t->dir, 0711) == 0, "chmod: %s", strerror(errno));
    snprintf(t->state, sizeof(t->state), "%s/state", t->dir);
    snprintf(t->run, sizeof(t->run), "%s/run", t->dir);
    snprintf(t->sock, sizeof(t->sock), "%s/gpuvisord.sock", t->run);
    snprintf(t->log, sizeof(t->log), "%s/log", t->dir);
    snprintf(t->machine, sizeof(t->machine), "dtest-%s-%d", name, (int)getpid());
    for (int i = 0; i < MAX_DAEMONS; i++)
        if (!daemons[i]) {
            daemons[i] = t;
            return;
        }
    CHECK(false, "too many daemons");
}

void dt_run_in(struct dt *t, const char *base)
{
    snprintf(t->extra, sizeof(t->extra), "%.40s/gvd-run.XXXXXX", base);
    CHECK(mkdtemp(t->extra), "mkdtemp %s: %s", t->extra, strerror(errno));
    CHECK(chmod(t->extra, 0711) == 0, "chmod: %s", strerror(errno));
    snprintf(t->run, sizeof(t->run), "%s/run", t->extra);
    snprintf(t->sock, sizeof(t->sock), "%s/gpuvisord.sock", t->run);
}

const char *dt_log(struct dt *t)
{
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(t->log, "r");
    if (f) {
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool dt_wait_for(bool (*cond)(void *arg), void *arg, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (now_ms() > end)
            return false;
        usleep(10000);
    }
}

static bool read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return n > 0;
}

int dt_start(struct dt *t, const char *const *extra)
{
    const char *bin = getenv("GV_DAEMON");
    CHECK(bin && *bin, "GV_DAEMON is not set");
    char port_file[160];
    snprintf(port_file, sizeof(port_file), "%s/port", t->state);
    unlink(port_file);
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int fd = open(t->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        setenv("GPUVISOR_SIM_MACHINE", t->machine, 1);
        /* The host's definitions and PCI tree: the test's own (an empty tree unless --sysfs-root
         * names one), never the machine's mdevctl files or sysfs. */
        setenv("GPUVISOR_SYSFS_ROOT", t->dir, 1);
        setenv("GPUVISOR_CONFIG_ROOT", t->dir, 1);
        const char *sim = t->sim ? t->sim : "T4,T4";
        const char *argv[32] = {bin,        "--listen", "127.0.0.1:0", "--state", t->state,
                                "--socket", t->sock,    "--threads",   "2",       "--sim",
                                sim};
        int n = sim[0] ? 11 : 9;
        for (int i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    t->pid = pid;
    uint64_t end = now_ms() + 30000;
    char buf[32];
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            t->pid = 0;
            return -1;
        }
        if (read_small(port_file, buf, sizeof(buf)) && atoi(buf) > 0)
            break;
        CHECK(now_ms() < end, "gpuvisord did not start within 30 s: %s", dt_log(t));
        usleep(10000);
    }
    t->port = atoi(buf);
    char token_file[160];
    snprintf(token_file, sizeof(token_file), "%s/admin.token", t->state);
    CHECK(read_small(token_file, t->admin, sizeof(t->admin)), "no admin token");
    if (t->curl)
        curl_easy_cleanup(t->curl);
    t->curl = curl_easy_init();
    return 0;
}

void dt_kill(struct dt *t, int sig)
{
    if (t->pid <= 0)
        return;
    kill(t->pid, sig);
    waitpid(t->pid, NULL, 0);
    t->pid = 0;
}

/* --- Requests. */

struct buf {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    size_t add = size * n;
    char *d = realloc(b->data, b->len + add + 1);
    if (!d)
        return 0;
    memcpy(d + b->len, ptr, add);
    b->data = d;
    b->len += add;
    d[b->len] = '\0';
    return add;
}

long dt_request(struct dt *t, const struct dt_req *r, json_t **json)
{
    CURL *c = r->unix_socket ? curl_easy_init() : t->curl;
    CHECK(c, "curl_easy_init");
    if (!r->unix_socket)
        curl_easy_reset(c);
    char url[512];
    if (r->unix_socket) {
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, t->sock);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        snprintf(url, sizeof(url), "http://localhost%s", r->path);
    } else {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->port, r->path);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *h = NULL;
    char line[256];
    if (r->token) {
        snprintf(line, sizeof(line), "Authorization: Bearer %s", r->token);
        h = curl_slist_append(h, line);
    }
    if (r->body) {
        snprintf(line, sizeof(line), "Content-Type: %s",
                 r->content_type ? r->content_type : "application/json");
        h = curl_slist_append(h, line);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    }
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    struct buf b = {0}, hb = {0};
    if (r->allow) {
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &hb);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (r->unix_socket)
        curl_easy_cleanup(c);
    CHECK(rc == CURLE_OK, "%s %s: %s", r->method, r->path, curl_easy_strerror(rc));
    if (json)
        *json = b.data ? json_loads(b.data, 0, NULL) : NULL;
    if (getenv("DT_VERBOSE"))
        fprintf(stderr, "%s %s -> %ld %s\n", r->method, r->path, status, b.data ? b.data : "");
    if (r->allow) {
        r->allow[0] = '\0';
        const char *a = hb.data ? strcasestr(hb.data, "\nAllow: ") : NULL;
        if (a)
            snprintf(r->allow, 64, "%.*s", (int)strcspn(a + 8, "\r\n"), a + 8);
        free(hb.data);
    }
    if (r->text)
        *r->text = b.data ? b.data : strdup("");
    else
        free(b.data);
    return status;
}

json_t *dt_call(struct dt *t, long status, const char *token, const char *method, const char *path,
                const char *body)
{
    struct dt_req r = {
        .method = method, .path = path, .token = token ? token : t->admin, .body = body};
    json_t *j = NULL;
    long got = dt_request(t, &r, &j);
    if (got != status) {
        char *text = j ? json_dumps(j, 0) : NULL;
        fprintf(stderr, "FAIL: %s %s%s%s -> %ld, want %ld: %s\n", method, path, body ? " " : "",
                body ? body : "", got, status, text ? text : "(no JSON body)");
        exit(1);
    }
    return j;
}

const char *dt_error(json_t *j)
{
    const char *s = json_string_value(json_object_get(j, "error"));
    return s ? s : "";
}

/* --- Members. */

static void member_main(int cmd, int reply, const char *sock, const char *key)
{
    struct gv_error err = {0};
    int fd = -1;
    int rc = gvr_daemon_join(sock, key, &fd, &err);
    struct gvr_region r;
    if (!rc)
        rc = gvr_open_fd(&r, fd, 0, &err);
    if (!rc)
        rc = gvr_join(&r, &err);
    if (rc)
        fprintf(stderr, "member: %s\n", err.msg);
    if (write(reply, &rc, sizeof(rc)) != sizeof(rc) || rc)
        _exit(0);
    int64_t bytes;
    while (read(cmd, &bytes, sizeof(bytes)) == sizeof(bytes)) {
        rc =
            bytes >= 0 ? gvr_charge(&r, 0, (uint64_t)bytes) : gvr_uncharge(&r, 0, (uint64_t)-bytes);
        if (write(reply, &rc, sizeof(rc)) != sizeof(rc))
            break;
    }
    _exit(0);
}

int dt_member_start(struct dt_member *m, const char *sock, const char *key, int uid, int gid)
{
    int a[2], b[2];
    CHECK(pipe(a) == 0 && pipe(b) == 0, "pipe");
    pid_t parent = getpid();
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        close(a[1]);
        close(b[0]);
        if (gid >= 0 &&
            (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0))
            _exit(1);
        if (uid >= 0 && setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
            _exit(1);
        member_main(a[0], b[1], sock, key);
    }
    close(a[0]);
    close(b[1]);
    m->pid = pid;
    m->cmd = a[1];
    m->reply = b[0];
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (!members[i]) {
            members[i] = m;
            break;
        }
    int rc = -EIO;
    if (read(m->reply, &rc, sizeof(rc)) != sizeof(rc))
        rc = -EIO;
    if (rc)
        dt_member_stop(m);
    return rc;
}

int dt_member_charge(struct dt_member *m, int64_t bytes)
{
    int rc = -EIO;
    CHECK(write(m->cmd, &bytes, sizeof(bytes)) == sizeof(bytes), "member: write");
    CHECK(read(m->reply, &rc, sizeof(rc)) == sizeof(rc), "member: read");
    return rc;
}

void dt_member_stop(struct dt_member *m)
{
    if (m->pid <= 0)
        return;
    close(m->cmd);
    close(m->reply);
    kill(m->pid, SIGKILL);
    waitpid(m->pid, NULL, 0);
    m->pid = 0;
    for (int i = 0; i < MAX_MEMBERS; i++)
        if (members[i] == m)
            members[i] = NULL;
}

int dt_as_user(int uid, int gid, int (*fn)(void *arg), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (setgroups(0, NULL) < 0 || setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0 ||
            setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
            _exit(99);
        _exit(fn(arg));
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}
