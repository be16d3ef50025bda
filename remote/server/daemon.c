/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.c: admitting a client into an instance of gpuvisord.
 *
 * A client that names an instance proves a tenant's token (or the admin's); gpuvisord keeps what
 * checks it, so the proof goes to gpuvisord's POST /v1/remote/verify over its local socket, where
 * this server, running as root or as the daemon's user, is the admin by its Unix identity. The
 * answer names the instance's id and carries the proof owed to the client. The session then joins
 * the instance as a member (GPUVISOR_DAEMON and GPUVISOR_INSTANCE for the interposer), so it is
 * charged to the instance and shows in the daemon's API and metrics like a local member. */
#include "remote/server/remoted.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* The daemon's answer is short; a longer one is not the daemon's. */
#define ANSWER_MAX 8192

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The text of string field `name` in a flat JSON object whose strings have no escapes. */
static bool field(const char *json, const char *name, char *out, size_t max)
{
    char key[64];
    snprintf(key, sizeof(key), "\"%s\"", name);
    const char *p = strstr(json, key);
    if (!p)
        return false;
    p += strlen(key);
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p++ != ':')
        return false;
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    if (*p++ != '"')
        return false;
    const char *end = strchr(p, '"');
    if (!end || (size_t)(end - p) >= max || memchr(p, '\\', (size_t)(end - p)))
        return false;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
    return true;
}

static int unhex(const char *t, uint8_t *out, size_t n)
{
    if (strlen(t) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(t + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

int remoted_verify_daemon(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                          const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                          uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen)
{
    struct remoted_daemon *dm = arg;
    *token = 0;
    if (!who[0]) {
        snprintf(err, errlen, "the client named no instance, and this server has no token file");
        return -1;
    }
    char body[1200], ch[2 * GVA_MSG + 1], sh[2 * GVA_MSG + 1], ph[2 * GVA_MAC + 1];
    hex(cmsg, cn, ch);
    hex(smsg, sn, sh);
    hex(proof, GVA_MAC, ph);
    int blen = snprintf(body, sizeof(body),
                        "{\"instance\":\"%s\",\"client_message\":\"%s\",\"server_message\":\"%s\","
                        "\"proof\":\"%s\"}",
                        who, ch, sh, ph);
    char req[1600];
    int rlen = snprintf(req, sizeof(req),
                        "POST /v1/remote/verify HTTP/1.1\r\nHost: localhost\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n%s",
                        blen, body);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(dm->socket) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "gpuvisord's socket path is too long");
        return -1;
    }
    strcpy(sa.sun_path, dm->socket);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot reach gpuvisord at %s: %s", dm->socket, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char ans[ANSWER_MAX + 1];
    size_t got = 0;
    bool sent = send(fd, req, (size_t)rlen, MSG_NOSIGNAL) == rlen;
    while (sent && got < ANSWER_MAX) {
        ssize_t k = recv(fd, ans + got, ANSWER_MAX - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    ans[got] = '\0';
    int status = 0;
    if (!sent || sscanf(ans, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "gpuvisord at %s gave no answer", dm->socket);
        return -1;
    }
    const char *json = strstr(ans, "\r\n\r\n");
    json = json ? json + 4 : "";
    if (status != 200) {
        char why[200] = "";
        field(json, "error", why, sizeof(why));
        snprintf(err, errlen, "gpuvisord refused: %d %s", status, why);
        return -1;
    }
    char sp[2 * GVA_MAC + 1];
    if (!field(json, "instance", dm->instance, sizeof(dm->instance)) ||
        !field(json, "tenant", dm->tenant, sizeof(dm->tenant)) ||
        !field(json, "uuid", dm->uuid, sizeof(dm->uuid)) ||
        !field(json, "server_proof", sp, sizeof(sp)) || unhex(sp, sproof, GVA_MAC) != 0) {
        snprintf(err, errlen, "gpuvisord's answer is not what was asked");
        return -1;
    }
    return 0;
}
