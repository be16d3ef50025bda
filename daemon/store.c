/* SPDX-License-Identifier: Apache-2.0 */
/* store.c: gpuvisord's state in SQLite (see store.h).
 *
 * The schema is a list of migrations applied in order; schema_version holds how many have run. A
 * migration and the bump of the version are one transaction, so a crash in the middle leaves the
 * old schema, and a database from a newer gpuvisord (a version past the list) is refused rather
 * than written with the wrong idea of its tables. Every statement the daemon runs more than once is
 * prepared at open into the table `stmts`, named by an enum, and reset after each use. */
#include "daemon/store.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeslice.h"

/* Each entry brings the schema from version i to i + 1. Append only: never edit a released one. */
static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE tenants(name TEXT PRIMARY KEY, token_hash TEXT NOT NULL,"
    "  quota_memory INTEGER, quota_compute INTEGER, quota_instances INTEGER,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE tenant_users(tenant TEXT NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK(kind IN ('user', 'group')), position INTEGER NOT NULL,"
    "  name TEXT NOT NULL, PRIMARY KEY(tenant, kind, name));"
    "CREATE TABLE instance_ids(id TEXT PRIMARY KEY) WITHOUT ROWID;"
    /* Without rowid: the id is the key, with no second index to write on every create. created
     * is CLOCK_REALTIME nanoseconds, which also orders instances as they were made. */
    "CREATE TABLE instances(id TEXT PRIMARY KEY REFERENCES instance_ids(id), name TEXT,"
    "  tenant TEXT NOT NULL REFERENCES tenants(name), gpu_uuid TEXT NOT NULL, profile TEXT,"
    "  memory INTEGER NOT NULL CHECK(memory > 0), share INTEGER NOT NULL CHECK(share >= 0),"
    "  created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX instances_by_name ON instances(tenant, name) WHERE name IS NOT NULL;"
    "CREATE TABLE profiles(name TEXT PRIMARY KEY, memory INTEGER NOT NULL, share INTEGER NOT NULL,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE gpus(uuid TEXT PRIMARY KEY, mode TEXT NOT NULL"
    "  CHECK(mode IN ('sliced', 'whole', 'passthrough', 'vgpu-parent')));"
    /* Events are never deleted, so a plain rowid never repeats: no AUTOINCREMENT bookkeeping. */
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, time INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, tenant TEXT, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT);"
    "CREATE INDEX events_by_tenant ON events(tenant, seq);",
    /* 2: the host's definitions, re-applied at every start: GPUs given to VMs (id: the GPU's
     * address) and vendor vGPUs (id: the mdev UUID or the VF's address). The definition is the
     * host library's JSON of the record, the one format of its state file and the API. */
    "CREATE TABLE host(id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK(kind IN ('passthrough', 'vgpu')), definition TEXT NOT NULL);",
    /* 3: each GPU's time slice, in nanoseconds; NULL: the daemon's (--timeslice). */
    "ALTER TABLE gpus ADD COLUMN timeslice INTEGER;",
    /* 4: each instance's and custom profile's compute policy and priority, by the names the API
     * uses (core/policy.h), so that a `sqlite3` shell reads them; rows from before get the
     * defaults. */
    "ALTER TABLE instances ADD COLUMN policy TEXT NOT NULL DEFAULT 'guaranteed'"
    "  CHECK(policy IN ('fixed', 'guaranteed', 'best-effort'));"
    "ALTER TABLE instances ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'"
    "  CHECK(priority IN ('high', 'normal', 'low'));"
    "ALTER TABLE profiles ADD COLUMN policy TEXT NOT NULL DEFAULT 'guaranteed'"
    "  CHECK(policy IN ('fixed', 'guaranteed', 'best-effort'));"
    "ALTER TABLE profiles ADD COLUMN priority TEXT NOT NULL DEFAULT 'normal'"
    "  CHECK(priority IN ('high', 'normal', 'low'));",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

enum stmt {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_SETTING_PUT,
    S_TENANT_INSERT,
    S_TENANT_UPDATE,
    S_TENANT_DELETE,
    S_MEMBERS_CLEAR,
    S_MEMBER_INSERT,
    S_ID_CLAIM,
    S_INSTANCE_INSERT,
    S_INSTANCE_UPDATE,
    S_INSTANCE_DELETE,
    S_PROFILE_PUT,
    S_PROFILE_DELETE,
    S_GPU_PUT,
    S_HOST_PUT,
    S_HOST_DELETE,
    S_EVENT_INSERT,
    S_EVENTS_ALL,
    S_EVENTS_TENANT,
    S_EVENTS_LAST,
    S_COUNT
};

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SETTING_PUT] = "INSERT INTO settings(key, value) VALUES(?1, ?2) "
                      "ON CONFLICT(key) DO UPDATE SET value = ?2",
    [S_TENANT_INSERT] = "INSERT INTO tenants(name, token_hash, quota_memory, quota_compute, "
                        "quota_instances, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_TENANT_UPDATE] = "UPDATE tenants SET token_hash = ?2, quota_memory = ?3, "
                        "quota_compute = ?4, quota_instances = ?5 WHERE name = ?1",
    [S_TENANT_DELETE] = "DELETE FROM tenants WHERE name = ?1",
    [S_MEMBERS_CLEAR] = "DELETE FROM tenant_users WHERE tenant = ?1",
    [S_MEMBER_INSERT] = "INSERT INTO tenant_users(tenant, kind, position, name) "
                        "VALUES(?1, ?2, ?3, ?4)",
    [S_ID_CLAIM] = "INSERT INTO instance_ids(id) VALUES(?1)",
    [S_INSTANCE_INSERT] = "INSERT INTO instances(id, name, tenant, gpu_uuid, profile, memory, "
                          "share, created, policy, priority) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [S_INSTANCE_UPDATE] = "UPDATE instances SET memory = ?2, share = ?3, profile = ?4, "
                          "policy = ?5, priority = ?6 WHERE id = ?1",
    [S_INSTANCE_DELETE] = "DELETE FROM instances WHERE id = ?1",
    [S_PROFILE_PUT] = "INSERT INTO profiles(name, memory, share, created, policy, priority) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_PROFILE_DELETE] = "DELETE FROM profiles WHERE name = ?1",
    [S_GPU_PUT] = "INSERT INTO gpus(uuid, mode, timeslice) VALUES(?1, ?2, ?3) "
                  "ON CONFLICT(uuid) DO UPDATE SET mode = ?2, timeslice = ?3",
    [S_HOST_PUT] = "INSERT INTO host(id, kind, definition) VALUES(?1, ?2, ?3) "
                   "ON CONFLICT(id) DO UPDATE SET kind = ?2, definition = ?3",
    [S_HOST_DELETE] = "DELETE FROM host WHERE id = ?1",
    [S_EVENT_INSERT] = "INSERT INTO events(time, actor, tenant, action, target, detail) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [S_EVENTS_ALL] = "SELECT seq, time, actor, tenant, action, target, detail FROM events "
                     "WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [S_EVENTS_TENANT] = "SELECT seq, time, actor, tenant, action, target, detail FROM events "
                        "WHERE tenant = ?3 AND seq > ?1 ORDER BY seq LIMIT ?2",
    [S_EVENTS_LAST] = "SELECT coalesce(max(seq), 0) FROM events",
};

struct gvd_store {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
    pthread_mutex_t mu;
};

static int fail(struct gvd_store *s, struct gv_error *err, const char *what)
{
    return gv_error_set(err, -EIO, "database: %s: %s", what, sqlite3_errmsg(s->db));
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

/* Run one prepared statement that returns no rows, then reset it. */
static int run(struct gvd_store *s, enum stmt k, struct gv_error *err)
{
    int rc = sqlite3_step(s->st[k]);
    int ext = sqlite3_extended_errcode(s->db);
    sqlite3_reset(s->st[k]);
    sqlite3_clear_bindings(s->st[k]);
    if (rc == SQLITE_DONE || rc == SQLITE_ROW)
        return 0;
    if (ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE)
        return gv_error_set(err, -EEXIST, "database: already there");
    return fail(s, err, sql[k]);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* A name of core/policy.c's (static text). */
static void bind_name(sqlite3_stmt *st, int i, const char *name)
{
    sqlite3_bind_text(st, i, name, -1, SQLITE_STATIC);
}

/* A policy or priority as the database holds it; the default, said once, for one it does not know
 * (the CHECK constraint keeps such a value out, unless the file was edited by hand). */
static enum gv_policy col_policy(sqlite3_stmt *st, int i, const char *what, const char *name)
{
    enum gv_policy p = GV_POLICY_GUARANTEED;
    if (gv_policy_parse(col_text(st, i), &p, NULL) != 0)
        fprintf(stderr, "gpuvisord: %s %s: policy \"%s\" in the database is unknown (%s used)\n",
                what, name, col_text(st, i), gv_policy_name(p));
    return p;
}

static enum gv_priority col_priority(sqlite3_stmt *st, int i, const char *what, const char *name)
{
    enum gv_priority p = GV_PRIORITY_NORMAL;
    if (gv_priority_parse(col_text(st, i), &p, NULL) != 0)
        fprintf(stderr, "gpuvisord: %s %s: priority \"%s\" in the database is unknown (%s used)\n",
                what, name, col_text(st, i), gv_priority_name(p));
    return p;
}

static void bind_opt(sqlite3_stmt *st, int i, bool has, uint64_t v)
{
    if (has)
        sqlite3_bind_int64(st, i, (sqlite3_int64)v);
    else
        sqlite3_bind_null(st, i);
}

static int exec(struct gvd_store *s, const char *text, struct gv_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, text, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    gv_error_set(err, -EIO, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
    sqlite3_free(msg);
    return -EIO;
}

static int schema_version(struct gvd_store *s, int *v, struct gv_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT version FROM schema_version", -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "read schema_version");
    *v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_finalize(st);
    return 0;
}

static int migrate(struct gvd_store *s, struct gv_error *err)
{
    if (exec(s, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)", err))
        return -EIO;
    int v = 0;
    if (schema_version(s, &v, err))
        return -EIO;
    if (v > NMIGRATIONS)
        return gv_error_set(err, -EPROTO,
                            "database: schema version %d is newer than this gpuvisord knows (%d): "
                            "run the gpuvisord that wrote it, or restore a backup",
                            v, NMIGRATIONS);
    for (; v < NMIGRATIONS; v++) {
        char bump[96];
        snprintf(bump, sizeof(bump),
                 "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d);", v + 1);
        if (exec(s, "BEGIN IMMEDIATE", err))
            return -EIO;
        if (exec(s, migrations[v], err) || exec(s, bump, err)) {
            exec(s, "ROLLBACK", NULL);
            return gv_error_prefix(err, -EIO, "migration to schema version %d", v + 1);
        }
        if (exec(s, "COMMIT", err))
            return -EIO;
    }
    return 0;
}

int gvd_store_version(void)
{
    return NMIGRATIONS;
}

int gvd_store_open(struct gvd_store **out, const char *path, struct gv_error *err)
{
    struct gvd_store *s = calloc(1, sizeof(*s));
    if (!s)
        return gv_error_set(err, -ENOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        gv_error_set(err, -EIO, "database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "cannot open");
        gvd_store_close(s);
        return -EIO;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL: readers (a sqlite3 shell, a backup) never block the daemon's writes. NORMAL: a commit
     * does not wait for fsync; the WAL is synced at checkpoints, which keeps a crash of the daemon
     * harmless and makes changes cheap enough for a thousand creates a second. */
    if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
             err) ||
        migrate(s, err)) {
        gv_error_prefix(err, -EIO, "%s", path);
        gvd_store_close(s);
        return -EIO;
    }
    for (int i = 0; i < S_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) !=
            SQLITE_OK) {
            fail(s, err, sql[i]);
            gvd_store_close(s);
            return -EIO;
        }
    *out = s;
    return 0;
}

void gvd_store_close(struct gvd_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int gvd_store_begin(struct gvd_store *s, struct gv_error *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = run(s, S_BEGIN, err);
    if (rc)
        pthread_mutex_unlock(&s->mu);
    return rc;
}

int gvd_store_commit(struct gvd_store *s, struct gv_error *err)
{
    int rc = run(s, S_COMMIT, err);
    if (rc) {
        /* A failed COMMIT may leave the transaction open: end it, so the next one can begin. */
        if (!sqlite3_get_autocommit(s->db))
            run(s, S_ROLLBACK, NULL);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void gvd_store_rollback(struct gvd_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        run(s, S_ROLLBACK, NULL);
    pthread_mutex_unlock(&s->mu);
}

int gvd_store_setting_put(struct gvd_store *s, const char *key, const char *value,
                          struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_SETTING_PUT], 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->st[S_SETTING_PUT], 2, value, -1, SQLITE_TRANSIENT);
    return run(s, S_SETTING_PUT, err);
}

static int members_put(struct gvd_store *s, const char *tenant, const char *kind,
                       const struct gvd_members_req *m, struct gv_error *err)
{
    for (size_t i = 0; i < m->n; i++) {
        sqlite3_stmt *st = s->st[S_MEMBER_INSERT];
        sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)i);
        sqlite3_bind_text(st, 4, m->name[i], -1, SQLITE_TRANSIENT);
        int rc = run(s, S_MEMBER_INSERT, err);
        if (rc)
            return rc;
    }
    return 0;
}

int gvd_store_tenant_put(struct gvd_store *s, const struct gvd_tenant *t, bool create,
                         struct gv_error *err)
{
    enum stmt k = create ? S_TENANT_INSERT : S_TENANT_UPDATE;
    sqlite3_stmt *st = s->st[k];
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t->token_hash, -1, SQLITE_TRANSIENT);
    bind_opt(st, 3, t->quota.has_memory, t->quota.memory);
    bind_opt(st, 4, t->quota.has_compute, t->quota.compute);
    bind_opt(st, 5, t->quota.has_instances, t->quota.instances);
    if (create)
        sqlite3_bind_int64(st, 6, t->created);
    int rc = run(s, k, err);
    if (rc)
        return rc;
    sqlite3_bind_text(s->st[S_MEMBERS_CLEAR], 1, t->name, -1, SQLITE_TRANSIENT);
    if ((rc = run(s, S_MEMBERS_CLEAR, err)) ||
        (rc = members_put(s, t->name, "user", &t->users, err)))
        return rc;
    return members_put(s, t->name, "group", &t->groups, err);
}

int gvd_store_tenant_delete(struct gvd_store *s, const char *name, struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_TENANT_DELETE], 1, name, -1, SQLITE_TRANSIENT);
    return run(s, S_TENANT_DELETE, err);
}

int gvd_store_id_claim(struct gvd_store *s, const char *id, struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_ID_CLAIM], 1, id, -1, SQLITE_TRANSIENT);
    return run(s, S_ID_CLAIM, err);
}

int gvd_store_instance_put(struct gvd_store *s, const struct gvd_instance *inst, bool create,
                           struct gv_error *err)
{
    if (!create) {
        sqlite3_stmt *st = s->st[S_INSTANCE_UPDATE];
        sqlite3_bind_text(st, 1, inst->id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)inst->memory);
        sqlite3_bind_int64(st, 3, inst->share);
        bind_text(st, 4, inst->profile);
        bind_name(st, 5, gv_policy_name(inst->policy));
        bind_name(st, 6, gv_priority_name(inst->priority));
        return run(s, S_INSTANCE_UPDATE, err);
    }
    char uuid[GV_UUID_TEXT];
    gv_uuid_format(inst->uuid, uuid);
    sqlite3_stmt *st = s->st[S_INSTANCE_INSERT];
    sqlite3_bind_text(st, 1, inst->id, -1, SQLITE_TRANSIENT);
    bind_text(st, 2, inst->name);
    sqlite3_bind_text(st, 3, inst->tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, uuid, -1, SQLITE_TRANSIENT);
    bind_text(st, 5, inst->profile);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)inst->memory);
    sqlite3_bind_int64(st, 7, inst->share);
    sqlite3_bind_int64(st, 8, inst->created_ns);
    bind_name(st, 9, gv_policy_name(inst->policy));
    bind_name(st, 10, gv_priority_name(inst->priority));
    return run(s, S_INSTANCE_INSERT, err);
}

int gvd_store_instance_delete(struct gvd_store *s, const char *id, struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_INSTANCE_DELETE], 1, id, -1, SQLITE_TRANSIENT);
    return run(s, S_INSTANCE_DELETE, err);
}

int gvd_store_profile_put(struct gvd_store *s, const struct gvd_profile *p, struct gv_error *err)
{
    sqlite3_stmt *st = s->st[S_PROFILE_PUT];
    sqlite3_bind_text(st, 1, p->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)p->memory);
    sqlite3_bind_int64(st, 3, p->share);
    sqlite3_bind_int64(st, 4, p->created);
    bind_name(st, 5, gv_policy_name(p->policy));
    bind_name(st, 6, gv_priority_name(p->priority));
    return run(s, S_PROFILE_PUT, err);
}

int gvd_store_profile_delete(struct gvd_store *s, const char *name, struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_PROFILE_DELETE], 1, name, -1, SQLITE_TRANSIENT);
    return run(s, S_PROFILE_DELETE, err);
}

int gvd_store_gpu_put(struct gvd_store *s, const char *uuid, const char *mode, uint64_t timeslice,
                      struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_GPU_PUT], 1, uuid, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s->st[S_GPU_PUT], 2, mode, -1, SQLITE_TRANSIENT);
    bind_opt(s->st[S_GPU_PUT], 3, timeslice != 0, timeslice);
    return run(s, S_GPU_PUT, err);
}

/* The record as the host library writes it, under its kind. */
static int host_put(struct gvd_store *s, const char *id, const char *kind, json_t *j,
                    struct gv_error *err)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text)
        return gv_error_set(err, -ENOMEM, "out of memory");
    sqlite3_stmt *st = s->st[S_HOST_PUT];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    free(text);
    return run(s, S_HOST_PUT, err);
}

int gvd_store_host_passthrough(struct gvd_store *s, const struct gvh_passthrough *p,
                               struct gv_error *err)
{
    return host_put(s, p->gpu, "passthrough", gvh_passthrough_json(p), err);
}

int gvd_store_host_vgpu(struct gvd_store *s, const struct gvh_vgpu *v, struct gv_error *err)
{
    return host_put(s, v->id, "vgpu", gvh_vgpu_json(v), err);
}

int gvd_store_host_delete(struct gvd_store *s, const char *id, struct gv_error *err)
{
    sqlite3_bind_text(s->st[S_HOST_DELETE], 1, id, -1, SQLITE_TRANSIENT);
    return run(s, S_HOST_DELETE, err);
}

int gvd_store_host_load(struct gvd_store *s, struct gvh_state *out, struct gv_error *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT id, kind, definition FROM host ORDER BY rowid", -1, &st,
                           NULL) != SQLITE_OK) {
        rc = fail(s, err, "read host");
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    int step;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = col_text(st, 0), *kind = col_text(st, 1);
        json_error_t je;
        json_t *j = json_loads(col_text(st, 2), 0, &je);
        struct gv_error e = {0};
        int bad;
        if (!j) {
            bad = gv_error_set(&e, -EINVAL, "%s", je.text);
        } else if (strcmp(kind, "passthrough") == 0) {
            struct gvh_passthrough p;
            if (!(bad = gvh_passthrough_from_json(j, &p, &e)))
                rc = gvh_state_put_passthrough(out, &p);
        } else {
            struct gvh_vgpu v;
            if (!(bad = gvh_vgpu_from_json(j, &v, &e)))
                rc = gvh_state_put_vgpu(out, &v);
        }
        json_decref(j);
        /* One bad row is reported and skipped: the others still hold the host together. */
        if (bad)
            fprintf(stderr, "gpuvisord: host definition %s in the database: %s (ignored)\n", id,
                    e.msg);
    }
    if (rc)
        gv_error_set(err, rc, "out of memory");
    else if (step != SQLITE_DONE)
        rc = fail(s, err, "read host");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gvd_store_event(struct gvd_store *s, int64_t time, const char *actor, const char *tenant,
                    const char *action, const char *target, const char *detail, int64_t *seq,
                    struct gv_error *err)
{
    sqlite3_stmt *st = s->st[S_EVENT_INSERT];
    sqlite3_bind_int64(st, 1, time);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_TRANSIENT);
    bind_text(st, 3, tenant);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, target, -1, SQLITE_TRANSIENT);
    bind_text(st, 6, detail);
    int rc = run(s, S_EVENT_INSERT, err);
    if (!rc && seq)
        *seq = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int gvd_store_events(struct gvd_store *s, const char *tenant, int64_t after, unsigned limit,
                     void (*fn)(const struct gvd_event *e, void *arg), void *arg,
                     struct gv_error *err)
{
    pthread_mutex_lock(&s->mu);
    enum stmt k = tenant ? S_EVENTS_TENANT : S_EVENTS_ALL;
    sqlite3_stmt *st = s->st[k];
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int(st, 2, (int)limit);
    if (tenant)
        sqlite3_bind_text(st, 3, tenant, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gvd_event e = {
            .seq = sqlite3_column_int64(st, 0),
            .time = sqlite3_column_int64(st, 1),
            .actor = col_text(st, 2),
            .tenant = col_text(st, 3),
            .action = col_text(st, 4),
            .target = col_text(st, 5),
            .detail = sqlite3_column_type(st, 6) == SQLITE_NULL ? NULL : col_text(st, 6),
        };
        fn(&e, arg);
    }
    int out = rc == SQLITE_DONE ? 0 : fail(s, err, "read events");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&s->mu);
    return out;
}

/* --- Loading the model at start. */

static int load_tenants(struct gvd_store *s, struct gvd *d, struct gv_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT name, token_hash, quota_memory, quota_compute, "
                           "quota_instances, created FROM tenants ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "read tenants");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gvd_tenant *t = calloc(1, sizeof(*t));
        if (!t)
            break;
        snprintf(t->name, sizeof(t->name), "%s", col_text(st, 0));
        snprintf(t->token_hash, sizeof(t->token_hash), "%s", col_text(st, 1));
        t->quota.has_memory = sqlite3_column_type(st, 2) != SQLITE_NULL;
        t->quota.memory = (uint64_t)sqlite3_column_int64(st, 2);
        t->quota.has_compute = sqlite3_column_type(st, 3) != SQLITE_NULL;
        t->quota.compute = (uint32_t)sqlite3_column_int64(st, 3);
        t->quota.has_instances = sqlite3_column_type(st, 4) != SQLITE_NULL;
        t->quota.instances = (uint32_t)sqlite3_column_int64(st, 4);
        t->created = sqlite3_column_int64(st, 5);
        if (gvd_tenant_add(d, t) < 0) {
            free(t);
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return gv_error_set(err, -EIO, "database: read tenants: %s",
                            rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(s->db));

    if (sqlite3_prepare_v2(s->db,
                           "SELECT tenant, kind, name FROM tenant_users ORDER BY tenant, kind, "
                           "position",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "read tenant_users");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gvd_tenant *t = gvd_tenant_find(d, col_text(st, 0));
        if (!t)
            continue;
        struct gvd_members_req *m = strcmp(col_text(st, 1), "group") == 0 ? &t->groups : &t->users;
        if (m->n < GVD_MEMBERS_MAX)
            snprintf(m->name[m->n++], sizeof(m->name[0]), "%s", col_text(st, 2));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : fail(s, err, "read tenant_users");
}

static int load_instances(struct gvd_store *s, struct gvd *d, struct gv_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, name, tenant, gpu_uuid, profile, memory, share, created, "
                           "policy, priority FROM instances ORDER BY created, id",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "read instances");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gvd_instance *in = calloc(1, sizeof(*in));
        if (!in)
            break;
        snprintf(in->id, sizeof(in->id), "%s", col_text(st, 0));
        snprintf(in->name, sizeof(in->name), "%s", col_text(st, 1));
        snprintf(in->tenant, sizeof(in->tenant), "%s", col_text(st, 2));
        const char *uuid = col_text(st, 3);
        if (gv_uuid_parse(uuid, strlen(uuid), 0, in->uuid, NULL) != 0)
            fprintf(stderr, "gpuvisord: instance %s: bad GPU UUID \"%s\" in the database\n", in->id,
                    uuid);
        snprintf(in->profile, sizeof(in->profile), "%s", col_text(st, 4));
        in->memory = (uint64_t)sqlite3_column_int64(st, 5);
        in->share = (uint32_t)sqlite3_column_int64(st, 6);
        in->created_ns = sqlite3_column_int64(st, 7);
        in->policy = col_policy(st, 8, "instance", in->id);
        in->priority = col_priority(st, 9, "instance", in->id);
        if (gvd_instance_add(d, in) < 0) {
            free(in);
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return gv_error_set(err, -EIO, "database: read instances: %s",
                            rc == SQLITE_ROW ? "out of memory" : sqlite3_errmsg(s->db));
    return 0;
}

static int load_rest(struct gvd_store *s, struct gvd *d, struct gv_error *err)
{
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT name, memory, share, created, policy, priority FROM profiles "
                           "ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return fail(s, err, "read profiles");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct gvd_profile *p = calloc(1, sizeof(*p));
        if (!p)
            break;
        snprintf(p->name, sizeof(p->name), "%s", col_text(st, 0));
        p->memory = (uint64_t)sqlite3_column_int64(st, 1);
        p->share = (uint32_t)sqlite3_column_int64(st, 2);
        p->created = sqlite3_column_int64(st, 3);
        p->policy = col_policy(st, 4, "profile", p->name);
        p->priority = col_priority(st, 5, "profile", p->name);
        if (gvd_profile_add(d, p) < 0) {
            free(p);
            break;
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, "read profiles");

    if (sqlite3_prepare_v2(s->db, "SELECT uuid, mode, timeslice FROM gpus", -1, &st, NULL) !=
        SQLITE_OK)
        return fail(s, err, "read gpus");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *text = col_text(st, 0);
        uint8_t uuid[GV_UUID_LEN];
        enum gvd_gpu_mode mode;
        if (gv_uuid_parse(text, strlen(text), 0, uuid, NULL) != 0 ||
            gvd_mode_parse(col_text(st, 1), &mode, NULL) != 0)
            continue;
        struct gvd_gpu *g = gvd_gpu_by_uuid(d, uuid);
        if (!g)
            continue;
        g->mode = mode;
        g->timeslice = 0;
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            sqlite3_int64 ns = sqlite3_column_int64(st, 2);
            if (ns >= (sqlite3_int64)GV_TIMESLICE_MIN_NS &&
                ns <= (sqlite3_int64)GV_TIMESLICE_MAX_NS)
                g->timeslice = (uint64_t)ns;
            else
                fprintf(stderr,
                        "gpuvisord: GPU %s: time slice of %lld ns in the database is outside "
                        "%llu to %llu ns (ignored: the daemon's is used)\n",
                        text, (long long)ns, (unsigned long long)GV_TIMESLICE_MIN_NS,
                        (unsigned long long)GV_TIMESLICE_MAX_NS);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return fail(s, err, "read gpus");

    if (sqlite3_prepare_v2(s->db, "SELECT value FROM settings WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return fail(s, err, "read settings");
    sqlite3_bind_text(st, 1, GVD_SETTING_ADMIN, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(d->admin_hash, sizeof(d->admin_hash), "%s", col_text(st, 0));
    sqlite3_finalize(st);
    return 0;
}

int gvd_store_load(struct gvd_store *s, struct gvd *d, struct gv_error *err)
{
    pthread_mutex_lock(&s->mu);
    int rc = load_tenants(s, d, err);
    if (!rc)
        rc = load_instances(s, d, err);
    if (!rc)
        rc = load_rest(s, d, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int gvd_store_events_last(struct gvd_store *s, int64_t *seq, struct gv_error *err)
{
    pthread_mutex_lock(&s->mu);
    sqlite3_stmt *st = s->st[S_EVENTS_LAST];
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    int out = rc == SQLITE_ROW ? 0 : fail(s, err, "read events");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->mu);
    return out;
}
