/* SPDX-License-Identifier: Apache-2.0 */
/* verb.c: how a subcommand that is one request to gpuvisord runs, written once for all of them.
 *
 * A verb's file only parses and renders (rest.h); here are the steps between, in the same order
 * for every verb, so that --help, the connection options, the exit statuses and the way a daemon's
 * refusal reads are the same everywhere. The helpers below build request bodies from option text,
 * checking sizes and shares with core's parsers so that a typo is reported with the option's name
 * before anything is sent. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/rest.h"
#include "core/policy.h"
#include "core/size.h"

#define REQUEST_TIMEOUT_MS 30000L

static void usage(const struct cli_verb *v, FILE *f)
{
    fputs(v->usage, f);
    fputs("\n", f);
    fputs(cli_conn_help, f);
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (cli_is_help(argv[i]))
            return true;
    return false;
}

int cli_verb_parse(const struct cli_verb *v, int argc, char **argv, struct cli_conn *conn,
                   struct cli_request *rq, struct gv_error *err)
{
    memset(conn, 0, sizeof(*conn));
    memset(rq, 0, sizeof(*rq));
    int rc = v->parse(argc, argv, conn, rq, err);
    if (rc < 0) {
        json_decref(rq->body);
        rq->body = NULL;
    }
    return rc;
}

int cli_verb_run(const struct cli_verb *v, int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        usage(v, stdout);
        return CLI_EXIT_OK;
    }
    struct cli_conn conn;
    struct cli_request rq;
    struct cli_target t;
    struct cli_response r = {0};
    struct gv_error err = {0};
    if (cli_verb_parse(v, argc, argv, &conn, &rq, &err) < 0 ||
        cli_target_resolve(&conn, &t, &err) < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        json_decref(rq.body);
        return CLI_EXIT_USAGE;
    }
    int rc = cli_call(&t, rq.method, rq.path, rq.body, REQUEST_TIMEOUT_MS, &r, &err);
    json_decref(rq.body);
    rq.body = NULL;
    if (rc < 0) {
        fprintf(stderr, "gpuvisor: %s\n", err.msg);
        return CLI_EXIT_INTERNAL;
    }
    int status = CLI_EXIT_OK;
    if (r.status >= 400) {
        char msg[1024];
        fprintf(stderr, "gpuvisor: %s\n", cli_response_message(&r, msg, sizeof(msg)));
        /* Over HTTP a missing token is the likely cause; say how to give one. */
        if (r.status == 401 && !t.token[0] && !t.unix_socket)
            fprintf(stderr,
                    "gpuvisor: no token was sent: pass --token, set " CLI_ENV_TOKEN
                    ", or run as a user who can read the admin token (--state DIR)\n");
        status = CLI_EXIT_REFUSED;
    } else if (conn.json) {
        if (r.doc) {
            json_dumpf(r.doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            fputc('\n', stdout);
        }
    } else {
        v->render(r.doc, &rq, stdout);
    }
    json_decref(r.doc);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "gpuvisor: writing the output failed\n");
        return CLI_EXIT_INTERNAL;
    }
    return status;
}

/* ------------------------------------------------------------------ paths, arguments */

/* Percent-encode s as one path segment or query value (RFC 3986: unreserved characters stay). */
static int encode(const char *s, char *out, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t at = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (at + (plain ? 1 : 3) >= len)
            return -ENAMETOOLONG;
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    out[at] = '\0';
    return 0;
}

int cli_path(struct cli_request *rq, struct gv_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t at = 0;
    int rc = 0;
    for (const char *f = fmt; *f && rc == 0; f++) {
        char piece[sizeof(rq->path)];
        if (f[0] == '%' && f[1] == 's') {
            rc = encode(va_arg(ap, const char *), piece, sizeof(piece));
            f++;
        } else {
            piece[0] = *f;
            piece[1] = '\0';
        }
        size_t n = strlen(piece);
        if (rc == 0 && at + n >= sizeof(rq->path))
            rc = -ENAMETOOLONG;
        if (rc == 0) {
            memcpy(rq->path + at, piece, n + 1);
            at += n;
        }
    }
    va_end(ap);
    if (rc < 0)
        return gv_error_set(err, rc, "%s: an argument is too long", rq->subject ? rq->subject : fmt);
    return 0;
}

int cli_bad_arg(char **argv, int i, struct gv_error *err)
{
    const char *arg = argv[i];
    return gv_error_set(err, -EINVAL, "%s: %s \"%s\" (see gpuvisor %s --help)", argv[0],
                        arg[0] == '-' && arg[1] ? "unknown option" : "unexpected argument", arg,
                        argv[0]);
}

/* ------------------------------------------------------------------ bodies */

static int put(json_t *body, const char *key, json_t *value, struct gv_error *err)
{
    if (!value || json_object_set_new(body, key, value) < 0)
        return gv_error_set(err, -ENOMEM, "out of memory building the request");
    return 0;
}

static bool is_none(const char *text)
{
    return strcmp(text, "none") == 0;
}

int cli_body_size(json_t *body, const char *key, const char *option, const char *text,
                  bool none_ok, struct gv_error *err)
{
    if (none_ok && is_none(text))
        return put(body, key, json_null(), err);
    uint64_t bytes;
    int rc = cli_parse_memory(text, &bytes, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s", option);
    if (bytes > (uint64_t)INT64_MAX)
        return gv_error_set(err, -ERANGE, "%s \"%s\": too large", option, text);
    return put(body, key, json_integer((json_int_t)bytes), err);
}

int cli_body_share(json_t *body, const char *key, const char *option, const char *text,
                   bool none_ok, struct gv_error *err)
{
    if (none_ok && is_none(text))
        return put(body, key, json_null(), err);
    uint32_t share;
    int rc = gv_share_parse(text, &share, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s", option);
    char buf[32];
    return put(body, key, json_string(gv_share_format(share, buf, sizeof(buf))), err);
}

int cli_body_count(json_t *body, const char *key, const char *option, const char *text,
                   bool none_ok, struct gv_error *err)
{
    if (none_ok && is_none(text))
        return put(body, key, json_null(), err);
    char *end = NULL;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (!*text || *end || errno || n < 0 || text[0] == '-' || text[0] == '+' || text[0] == ' ')
        return gv_error_set(err, -EINVAL, "%s \"%s\": not a whole number%s", option, text,
                            none_ok ? " (or none)" : "");
    return put(body, key, json_integer(n), err);
}

int cli_body_gpu(json_t *body, const char *key, const char *text, struct gv_error *err)
{
    uint8_t raw[GV_UUID_LEN];
    if (cli_uuid_parse(text, raw)) {
        char uuid[GV_UUID_TEXT];
        return put(body, key, json_string(gv_uuid_format(raw, uuid)), err);
    }
    char *end = NULL;
    errno = 0;
    long n = strtol(text, &end, 10);
    if (!*text || *end || errno || n < 0 || n >= GV_MAX_GPUS || text[0] < '0' || text[0] > '9')
        return gv_error_set(err, -EINVAL,
                            "--gpu \"%s\": not a GPU index or UUID (GPU-...; see gpuvisor gpus)",
                            text);
    return put(body, key, json_integer(n), err);
}

int cli_body_string(json_t *body, const char *key, const char *text, struct gv_error *err)
{
    json_t *s = json_string(text);
    if (!s)
        return gv_error_set(err, -EINVAL, "\"%s\": not valid UTF-8", text);
    return put(body, key, s, err);
}

int cli_body_policy(json_t *body, const char *key, const char *option, const char *text,
                    struct gv_error *err)
{
    enum gv_policy p;
    int rc = gv_policy_parse(text, &p, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s", option);
    return put(body, key, json_string(gv_policy_name(p)), err);
}

int cli_body_priority(json_t *body, const char *key, const char *option, const char *text,
                      struct gv_error *err)
{
    enum gv_priority p;
    int rc = gv_priority_parse(text, &p, err);
    if (rc < 0)
        return gv_error_prefix(err, rc, "%s", option);
    return put(body, key, json_string(gv_priority_name(p)), err);
}

int cli_body_append(json_t *body, const char *key, const char *text, struct gv_error *err)
{
    json_t *a = json_object_get(body, key);
    if (!a) {
        int rc = put(body, key, json_array(), err);
        if (rc < 0)
            return rc;
        a = json_object_get(body, key);
    }
    json_t *s = json_string(text);
    if (!s)
        return gv_error_set(err, -EINVAL, "\"%s\": not valid UTF-8", text);
    if (json_array_append_new(a, s) < 0)
        return gv_error_set(err, -ENOMEM, "out of memory building the request");
    return 0;
}

int cli_parse_args(int argc, char **argv, struct cli_conn *conn, const char **pos, int npos,
                   const char *what, struct gv_error *err)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        int m = cli_conn_opt(argc, argv, &i, conn, err);
        if (m < 0)
            return m;
        if (m > 0)
            continue;
        if ((argv[i][0] == '-' && argv[i][1]) || n == npos)
            return cli_bad_arg(argv, i, err);
        pos[n++] = argv[i];
    }
    if (n < npos)
        return gv_error_set(err, -EINVAL, "%s: missing %s (see gpuvisor %s --help)", argv[0], what,
                            argv[0]);
    return 0;
}
