/* SPDX-License-Identifier: Apache-2.0 */
/* client.c: the one seam between the CLI and gpuvisord's REST API.
 *
 * Finding the daemon and the credentials follows the rules in rest.h; the request itself is one
 * libcurl easy handle per call (a CLI makes one or a few). Over the local socket curl speaks HTTP
 * through CURLOPT_UNIX_SOCKET_PATH, with "localhost" as a placeholder host, and sends no token
 * unless one was given: the daemon reads the caller's Unix user from the socket (SO_PEERCRED). Over
 * HTTP a token is needed; the admin token file is read when this user may (the daemon's own user,
 * or root). Whatever fails before an HTTP answer arrives is "the daemon cannot be reached", said
 * with where the CLI looked and how to start it. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/rest.h"
#include "launch/launch.h"

const char cli_conn_help[] =
    "Connection (every command that talks to gpuvisord):\n"
    "  --socket PATH   gpuvisord's local socket (default $GPUVISOR_DAEMON, else\n"
    "                  " GVL_DEFAULT_SOCKET "); no token needed: it knows your Unix user\n"
    "  --url URL       gpuvisord over HTTP (default $" CLI_ENV_URL "; used when the socket\n"
    "                  is missing: " CLI_DEFAULT_URL ")\n"
    "  --token TOKEN   a tenant's or the admin's token (default $" CLI_ENV_TOKEN "; over HTTP,\n"
    "                  else the admin token in the state directory when readable)\n"
    "  --state DIR     gpuvisord's state directory, for its admin token (default\n"
    "                  $" CLI_ENV_STATE ", else " CLI_DEFAULT_STATE ")\n"
    "  --json          print the daemon's JSON instead of a table\n"
    "  -h, --help      show this help\n"
    "\n"
    "Exit status: 0; 1 if gpuvisord refused (its message is printed); 2 for a bad option;\n"
    "125 if gpuvisord could not be reached.\n";

int cli_conn_opt(int argc, char **argv, int *i, struct cli_conn *c, struct gv_error *err)
{
    const struct {
        const char *name;
        const char **value;
    } opts[] = {{"--url", &c->url}, {"--socket", &c->socket}, {"--token", &c->token},
                {"--state", &c->state}};
    if (strcmp(argv[*i], "--json") == 0) {
        c->json = true;
        return 1;
    }
    for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++) {
        const char *v = NULL;
        int m = cli_opt_get(argc, argv, i, opts[k].name, &v, err);
        if (m == 0)
            continue;
        if (m < 0)
            return m;
        if (!*v)
            return gv_error_set(err, -EINVAL, "%s: empty value (see gpuvisor %s --help)",
                                opts[k].name, argv[0]);
        *opts[k].value = v;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ where, who */

/* The first line of a token file, without its newline, if this user may read it. */
static bool read_token(const char *path, char *out, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, out, len - 1);
    close(fd);
    if (n <= 0)
        return false;
    out[n] = '\0';
    out[strcspn(out, "\r\n \t")] = '\0';
    return out[0] != '\0';
}

/* The admin token file of the daemon whose state directory is named, or the default ones: root's
 * daemon, then this user's own (as the daemon places its state when not run as root). */
static void admin_token(const struct cli_conn *c, struct cli_target *t)
{
    const char *dir = c->state ? c->state : getenv(CLI_ENV_STATE);
    char path[PATH_MAX];
    if (dir && *dir) {
        snprintf(path, sizeof(path), "%s/" CLI_ADMIN_TOKEN, dir);
        if (read_token(path, t->token, sizeof(t->token)))
            snprintf(t->token_from, sizeof(t->token_from), "%s", path);
        return;
    }
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char own[PATH_MAX] = "";
    if (xdg && *xdg)
        snprintf(own, sizeof(own), "%s/gpuvisor/" CLI_ADMIN_TOKEN, xdg);
    else if (home && *home)
        snprintf(own, sizeof(own), "%s/.local/state/gpuvisor/" CLI_ADMIN_TOKEN, home);
    const char *paths[] = {CLI_DEFAULT_STATE "/" CLI_ADMIN_TOKEN, own};
    for (size_t k = 0; k < 2; k++)
        if (paths[k][0] && read_token(paths[k], t->token, sizeof(t->token))) {
            snprintf(t->token_from, sizeof(t->token_from), "%s", paths[k]);
            return;
        }
}

static int set_url(struct cli_target *t, const char *url, const char *from, struct gv_error *err)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return gv_error_set(err, -EINVAL, "%s \"%s\": not an http:// or https:// URL", from, url);
    if (strlen(url) >= sizeof(t->url))
        return gv_error_set(err, -EINVAL, "%s: URL too long", from);
    snprintf(t->url, sizeof(t->url), "%s", url);
    size_t n = strlen(t->url);
    while (n > 0 && t->url[n - 1] == '/')
        t->url[--n] = '\0';
    return 0;
}

static int set_socket(struct cli_target *t, const char *path, struct gv_error *err)
{
    if (strlen(path) >= sizeof(t->socket))
        return gv_error_set(err, -EINVAL, "socket path \"%s\" is too long (at most %zu characters)",
                            path, sizeof(t->socket) - 1);
    snprintf(t->socket, sizeof(t->socket), "%s", path);
    snprintf(t->url, sizeof(t->url), "http://localhost");
    t->unix_socket = true;
    return 0;
}

int cli_target_resolve(const struct cli_conn *c, struct cli_target *t, struct gv_error *err)
{
    memset(t, 0, sizeof(*t));
    if (c->url && c->socket)
        return gv_error_set(err, -EINVAL, "--url and --socket: give one of them");
    const char *env_url = getenv(CLI_ENV_URL);
    int rc;
    if (c->url)
        rc = set_url(t, c->url, "--url", err);
    else if (c->socket)
        rc = set_socket(t, c->socket, err);
    else if (env_url && *env_url)
        rc = set_url(t, env_url, CLI_ENV_URL, err);
    else {
        t->guessed = true;
        const char *sock = gvl_daemon_socket();
        rc = gvl_socket_exists(sock) ? set_socket(t, sock, err)
                                     : set_url(t, CLI_DEFAULT_URL, "default", err);
        if (!t->unix_socket)
            snprintf(t->socket, sizeof(t->socket), "%s", sock); /* for the message */
    }
    if (rc < 0)
        return rc;

    const char *env_token = getenv(CLI_ENV_TOKEN);
    if (c->token) {
        snprintf(t->token, sizeof(t->token), "%s", c->token);
        snprintf(t->token_from, sizeof(t->token_from), "--token");
    } else if (env_token && *env_token) {
        snprintf(t->token, sizeof(t->token), "%s", env_token);
        snprintf(t->token_from, sizeof(t->token_from), CLI_ENV_TOKEN);
    } else if (!t->unix_socket) {
        admin_token(c, t);
    }
    return 0;
}

/* ------------------------------------------------------------------ the request */

struct buffer {
    char *data;
    size_t len, cap;
    bool overflow;
};

/* Larger answers are not the daemon's: it pages its lists. */
#define RESPONSE_MAX (64u << 20)

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct buffer *b = arg;
    size_t n = size * nmemb;
    if (b->len + n + 1 > RESPONSE_MAX) {
        b->overflow = true;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p)
            return 0;
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int unreachable(const struct cli_target *t, const char *why, struct gv_error *err)
{
    if (t->unix_socket)
        return gv_error_set(err, -ECONNREFUSED,
                            "cannot reach gpuvisord at the socket %s: %s (is it running? start it "
                            "with gpuvisord, or systemctl start gpuvisord)",
                            t->socket, why);
    if (t->guessed)
        return gv_error_set(err, -ECONNREFUSED,
                            "gpuvisord is not running here: no socket at %s, and %s: %s. Start "
                            "it (gpuvisord, or systemctl start gpuvisord), or say where it is with "
                            "--socket PATH or --url URL",
                            t->socket, t->url, why);
    return gv_error_set(err, -ECONNREFUSED,
                        "cannot reach gpuvisord at %s: %s (is it running, and listening there? "
                        "see gpuvisord --listen)",
                        t->url, why);
}

int cli_call(const struct cli_target *t, const char *method, const char *path, const json_t *body,
             long timeout_ms, struct cli_response *r, struct gv_error *err)
{
    r->status = 0;
    r->doc = NULL;
    pthread_once(&curl_once, curl_init);
    CURL *curl = curl_easy_init();
    char *url = NULL, *payload = NULL;
    struct curl_slist *headers = NULL;
    struct buffer b = {0};
    char auth[sizeof(t->token) + 32];
    int rc = -ENOMEM;
    size_t ulen = strlen(t->url) + strlen(path) + 1;
    if (!curl || !(url = malloc(ulen))) {
        gv_error_set(err, rc, "out of memory starting a request");
        goto out;
    }
    snprintf(url, ulen, "%s%s", t->url, path);
    if (body && !(payload = json_dumps(body, JSON_COMPACT))) {
        gv_error_set(err, rc, "out of memory writing the request");
        goto out;
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    if (payload)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (t->token[0]) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", t->token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    if (t->unix_socket)
        curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, t->socket);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_NOPROXY, "*"); /* the daemon is local or named exactly */
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "gpuvisor");
    if (payload)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    CURLcode cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        if (b.overflow)
            rc = gv_error_set(err, -EPROTO, "gpuvisord's answer to %s %s is over %u MiB", method,
                              path, RESPONSE_MAX >> 20);
        else if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
            rc = gv_error_set(err, -ENOMEM, "out of memory reading gpuvisord's answer");
        else
            rc = unreachable(t, curl_easy_strerror(cc), err);
        goto out;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
    rc = 0;
    if (b.len) {
        json_error_t je;
        r->doc = json_loadb(b.data, b.len, 0, &je);
        /* An error answer that is not JSON still has a status to report; a success must parse. */
        if (!r->doc && r->status < 400)
            rc = gv_error_set(err, -EPROTO, "gpuvisord's answer to %s %s is not JSON: %s",
                              method, path, je.text);
    }
out:
    free(b.data);
    free(payload);
    free(url);
    curl_slist_free_all(headers);
    if (curl)
        curl_easy_cleanup(curl);
    return rc;
}

const char *cli_response_message(const struct cli_response *r, char *buf, size_t len)
{
    json_t *e = r->doc ? json_object_get(r->doc, "error") : NULL;
    if (json_is_string(e))
        snprintf(buf, len, "%s", json_string_value(e));
    else
        snprintf(buf, len, "gpuvisord answered HTTP %ld", r->status);
    return buf;
}
