/* SPDX-License-Identifier: Apache-2.0 */
/* auth.c: who is asking: bearer tokens, and Unix identities on the local socket.
 *
 * A token is "gvt_" and the base64url text of 32 bytes from getrandom: 256 bits no one guesses.
 * Only its SHA-256 is kept (database and memory), and a presented token is hashed and compared
 * with every stored hash in constant time, so neither a copy of the database nor the time a
 * refusal takes gives a token away. The admin's token is made on first start and written to
 * <state>/admin.token, mode 0600: whoever can read the daemon's state directory is its admin
 * anyway. If that file is gone at a start, a new admin token replaces the old one.
 *
 * On the local socket the kernel says who the peer is (SO_PEERCRED); a tenant lists the Unix users
 * and groups that belong to it, by name or number, and names are resolved at each check (the
 * system's user database may change while the daemon runs). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/gvd.h"
#include "daemon/store.h"

#define ADMIN_TOKEN_FILE "admin.token"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int gvd_token_new(char token[GVD_TOKEN_LEN + 1], char hash[GV_SHA256_HEX], struct gv_error *err)
{
    uint8_t raw[33] = {0}; /* 32 random bytes and one zero, so the encoder reads whole triples */
    size_t got = 0;
    while (got < 32) {
        ssize_t n = getrandom(raw + got, 32 - got, 0);
        if (n < 0 && errno != EINTR)
            return gv_error_set(err, -errno, "getrandom: %s", strerror(errno));
        if (n > 0)
            got += (size_t)n;
    }
    char *o = token;
    memcpy(o, GVD_TOKEN_PREFIX, strlen(GVD_TOKEN_PREFIX));
    o += strlen(GVD_TOKEN_PREFIX);
    /* 32 bytes: ten whole triples (40 characters), then two bytes (3 characters), no padding. */
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | (uint32_t)raw[i + 2];
        *o++ = b64url[(v >> 18) & 63];
        *o++ = b64url[(v >> 12) & 63];
        *o++ = b64url[(v >> 6) & 63];
        if (i + 3 < 33)
            *o++ = b64url[v & 63];
    }
    *o = '\0';
    gvd_token_hash(token, hash);
    return 0;
}

void gvd_token_hash(const char *token, char hash[GV_SHA256_HEX])
{
    uint8_t digest[GV_SHA256_LEN];
    gv_sha256(token, strlen(token), digest);
    gv_hex(digest, sizeof(digest), hash);
}

static bool token_form(const char *t)
{
    size_t n = strlen(t);
    if (n != GVD_TOKEN_LEN || strncmp(t, GVD_TOKEN_PREFIX, strlen(GVD_TOKEN_PREFIX)) != 0)
        return false;
    for (size_t i = strlen(GVD_TOKEN_PREFIX); i < n; i++)
        if (!strchr(b64url, t[i]))
            return false;
    return true;
}

int gvd_auth_token(struct gvd *d, const char *token, struct gvd_caller *who)
{
    if (!token_form(token))
        return -EACCES;
    char hash[GV_SHA256_HEX];
    gvd_token_hash(token, hash);
    memset(who, 0, sizeof(*who));
    /* Every hash is compared, whatever matches, so the time taken says nothing of which. */
    bool admin = d->admin_hash[0] && gv_equal_ct(hash, d->admin_hash, GV_SHA256_HEX - 1);
    const struct gvd_tenant *t = NULL;
    for (size_t i = 0; i < d->ntenants; i++)
        if (gv_equal_ct(hash, d->tenants[i]->token_hash, GV_SHA256_HEX - 1))
            t = d->tenants[i];
    if (admin) {
        who->role = GVD_ROLE_ADMIN;
        snprintf(who->actor, sizeof(who->actor), "admin");
        return 0;
    }
    if (t) {
        who->role = GVD_ROLE_TENANT;
        who->tenant = t;
        snprintf(who->actor, sizeof(who->actor), "tenant:%s", t->name);
        return 0;
    }
    return -EACCES;
}

/* --- Unix identities. */

struct peer {
    uid_t uid;
    char name[256]; /* "" when the user database does not know the uid */
    gid_t gids[256];
    int ngids;
};

static void peer_resolve(uid_t uid, gid_t gid, struct peer *p)
{
    memset(p, 0, sizeof(*p));
    p->uid = uid;
    p->gids[0] = gid;
    p->ngids = 1;
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return;
    snprintf(p->name, sizeof(p->name), "%s", pw.pw_name);
    int n = (int)(sizeof(p->gids) / sizeof(p->gids[0])) - 1;
    if (getgrouplist(pw.pw_name, pw.pw_gid, p->gids + 1, &n) < 0)
        n = 0; /* more than fit: the primary group still counts */
    p->ngids = 1 + n;
}

/* A numeric entry is an id; another is a name. *id gets what it names; false if nothing. */
static bool entry_id(const char *entry, bool group, unsigned *id)
{
    char *end;
    unsigned long v = strtoul(entry, &end, 10);
    if (*entry && !*end) {
        *id = (unsigned)v;
        return true;
    }
    char buf[4096];
    if (group) {
        struct group gr, *res = NULL;
        if (getgrnam_r(entry, &gr, buf, sizeof(buf), &res) != 0 || !res)
            return false;
        *id = gr.gr_gid;
    } else {
        struct passwd pw, *res = NULL;
        if (getpwnam_r(entry, &pw, buf, sizeof(buf), &res) != 0 || !res)
            return false;
        *id = pw.pw_uid;
    }
    return true;
}

static bool member(const struct gvd_tenant *t, const struct peer *p)
{
    for (size_t i = 0; i < t->users.n; i++) {
        unsigned id;
        if ((p->name[0] && strcmp(t->users.name[i], p->name) == 0) ||
            (entry_id(t->users.name[i], false, &id) && id == p->uid))
            return true;
    }
    for (size_t i = 0; i < t->groups.n; i++) {
        unsigned id;
        if (!entry_id(t->groups.name[i], true, &id))
            continue;
        for (int k = 0; k < p->ngids; k++)
            if (p->gids[k] == id)
                return true;
    }
    return false;
}

bool gvd_tenant_has(const struct gvd_tenant *t, uid_t uid, gid_t gid)
{
    struct peer p;
    peer_resolve(uid, gid, &p);
    return member(t, &p);
}

int gvd_auth_peer(struct gvd *d, const struct ucred *cred, struct gvd_caller *who,
                  struct gv_error *err)
{
    memset(who, 0, sizeof(*who));
    if (cred->uid == 0 || cred->uid == d->uid) {
        who->role = GVD_ROLE_ADMIN;
        snprintf(who->actor, sizeof(who->actor), "uid:%u", (unsigned)cred->uid);
        return 0;
    }
    struct peer p;
    peer_resolve(cred->uid, cred->gid, &p);
    const struct gvd_tenant *found = NULL;
    char list[512] = "";
    size_t nfound = 0;
    for (size_t i = 0; i < d->ntenants; i++) {
        if (!member(d->tenants[i], &p))
            continue;
        found = d->tenants[i];
        size_t len = strlen(list);
        snprintf(list + len, sizeof(list) - len, "%s%s", nfound ? ", " : "", found->name);
        nfound++;
    }
    char user[300];
    if (p.name[0])
        snprintf(user, sizeof(user), "%s", p.name);
    else
        snprintf(user, sizeof(user), "uid %u", (unsigned)cred->uid);
    if (nfound == 0)
        return gv_error_set(err, -EACCES,
                            "user %s belongs to no tenant: pass a token (Authorization: Bearer)",
                            user);
    if (nfound > 1)
        return gv_error_set(err, -EACCES, "user %s belongs to tenants %s: pass a token", user,
                            list);
    who->role = GVD_ROLE_TENANT;
    who->tenant = found;
    snprintf(who->actor, sizeof(who->actor), "uid:%u", (unsigned)cred->uid);
    return 0;
}

/* --- The admin token. */

static bool read_token(int dirfd, char token[GVD_TOKEN_LEN + 1])
{
    int fd = openat(dirfd, ADMIN_TOKEN_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    char buf[128];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!token_form(buf))
        return false;
    memcpy(token, buf, GVD_TOKEN_LEN + 1);
    return true;
}

/* Write the token to the file by a rename, so that a reader never sees half of it. */
static int write_token(int dirfd, const char *state, const char *token, struct gv_error *err)
{
    static const char tmp[] = ADMIN_TOKEN_FILE ".new";
    unlinkat(dirfd, tmp, 0);
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return gv_error_set(err, -errno, "%s/%s: %s", state, tmp, strerror(errno));
    char line[GVD_TOKEN_LEN + 2];
    int len = snprintf(line, sizeof(line), "%s\n", token);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    if (!ok || renameat(dirfd, tmp, dirfd, ADMIN_TOKEN_FILE) < 0) {
        e = ok ? errno : e;
        unlinkat(dirfd, tmp, 0);
        return gv_error_set(err, -e, "%s/%s: %s", state, ADMIN_TOKEN_FILE, strerror(e));
    }
    return 0;
}

int gvd_admin_token(struct gvd *d, struct gv_error *err)
{
    int dirfd = open(d->cfg.state, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return gv_error_set(err, -errno, "state directory %s: %s", d->cfg.state, strerror(errno));
    char token[GVD_TOKEN_LEN + 1], hash[GV_SHA256_HEX];
    int rc = 0;
    if (read_token(dirfd, token)) {
        gvd_token_hash(token, hash);
        if (d->admin_hash[0] && strcmp(hash, d->admin_hash) == 0)
            goto out; /* the file and the database agree */
    }
    if ((rc = gvd_token_new(token, hash, err)) || (rc = write_token(dirfd, d->cfg.state, token, err)))
        goto out;
    if ((rc = gvd_store_begin(d->store, err)))
        goto out;
    if ((rc = gvd_store_setting_put(d->store, GVD_SETTING_ADMIN, hash, err))) {
        gvd_store_rollback(d->store);
        goto out;
    }
    if ((rc = gvd_store_commit(d->store, err)))
        goto out;
    fprintf(stderr, "gpuvisord: %s admin token written to %s/%s\n",
            d->admin_hash[0] ? "a new" : "the", d->cfg.state, ADMIN_TOKEN_FILE);
    snprintf(d->admin_hash, sizeof(d->admin_hash), "%s", hash);
out:
    close(dirfd);
    explicit_bzero(token, sizeof(token));
    return rc;
}
