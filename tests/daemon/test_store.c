/* SPDX-License-Identifier: Apache-2.0 */
/* test_store.c: gpuvisord's database: the schema is made and versioned, a newer schema is
 * refused, what one transaction writes is all there after a reopen or none of it after a
 * rollback, ids are never issued twice, and events page by sequence number; the host's
 * definitions come back as written, and a database of the first schema gains their table; a GPU's
 * mode and time slice come back as written, and a database of the second schema keeps its GPUs'
 * modes, with no time slice of their own; instances' and profiles' compute policies and priorities
 * come back as written, and those of a database of the third schema get the defaults. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "daemon/store.h"

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/gvd-store.XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/gpuvisord.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    if (system(cmd) != 0)
        return -1;
    free(f);
    return 0;
}

static struct gvd_store *open_ok(const char *path)
{
    struct gvd_store *s = NULL;
    struct gv_error err = {0};
    if (gvd_store_open(&s, path, &err) != 0)
        fail_msg("open %s: %s", path, err.msg);
    return s;
}

static void free_model(struct gvd *d)
{
    while (d->ninstances)
        gvd_instance_remove(d, d->instances[d->ninstances - 1]);
    while (d->ntenants)
        gvd_tenant_remove(d, d->tenants[d->ntenants - 1]);
    while (d->nprofiles)
        gvd_profile_remove(d, d->profiles[d->nprofiles - 1]);
    free(d->instances);
    free(d->tenants);
    free(d->profiles);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};

    struct gvd_tenant t = {.name = "lab-a", .token_hash = "ab", .created = 5};
    t.users.n = 2;
    strcpy(t.users.name[0], "alice");
    strcpy(t.users.name[1], "1001");
    t.groups.n = 1;
    strcpy(t.groups.name[0], "lab");
    t.quota.has_memory = true;
    t.quota.memory = 8ULL << 30;
    struct gvd_instance in = {.id = "0123456789ab",
                              .tenant = "lab-a",
                              .memory = 1 << 30,
                              .share = 2500,
                              .created_ns = 7,
                              .profile = "T4-4C",
                              .policy = GV_POLICY_FIXED,
                              .priority = GV_PRIORITY_LOW};
    in.uuid[0] = 0x2f;
    struct gvd_instance in2 = {
        .id = "0123456789ac", .tenant = "lab-a", .memory = 1 << 30, .created_ns = 8};
    struct gvd_profile p = {.name = "small",
                            .memory = 2ULL << 30,
                            .share = 2500,
                            .created = 9,
                            .policy = GV_POLICY_BEST_EFFORT,
                            .priority = GV_PRIORITY_HIGH};

    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_tenant_put(s, &t, true, &err), 0);
    assert_int_equal(gvd_store_id_claim(s, in.id, &err), 0);
    assert_int_equal(gvd_store_instance_put(s, &in, true, &err), 0);
    assert_int_equal(gvd_store_id_claim(s, in2.id, &err), 0);
    assert_int_equal(gvd_store_instance_put(s, &in2, true, &err), 0);
    assert_int_equal(gvd_store_profile_put(s, &p, &err), 0);
    assert_int_equal(gvd_store_setting_put(s, GVD_SETTING_ADMIN, "feed", &err), 0);
    int64_t seq = 0;
    assert_int_equal(
        gvd_store_event(s, 1, "admin", "lab-a", "tenant.create", "lab-a", "{}", &seq, &err), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    /* An update writes the policy and priority too. */
    in2.policy = GV_POLICY_BEST_EFFORT;
    in2.priority = GV_PRIORITY_HIGH;
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_instance_put(s, &in2, false, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);

    /* A rolled-back transaction leaves nothing behind. */
    struct gvd_tenant t2 = {.name = "lab-b", .token_hash = "cd"};
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_tenant_put(s, &t2, true, &err), 0);
    gvd_store_rollback(s);

    /* An id is issued once, even after its instance is gone. */
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_instance_delete(s, in.id, &err), 0);
    assert_int_equal(gvd_store_id_claim(s, in.id, &err), -EEXIST);
    gvd_store_rollback(s);
    gvd_store_close(s);

    s = open_ok(f->path);
    static struct gvd d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(gvd_store_load(s, &d, &err), 0);
    assert_int_equal(d.ntenants, 1);
    assert_string_equal(d.tenants[0]->name, "lab-a");
    assert_int_equal(d.tenants[0]->users.n, 2);
    assert_string_equal(d.tenants[0]->users.name[1], "1001");
    assert_string_equal(d.tenants[0]->groups.name[0], "lab");
    assert_true(d.tenants[0]->quota.has_memory);
    assert_false(d.tenants[0]->quota.has_compute);
    assert_int_equal(d.tenants[0]->quota.memory, 8ULL << 30);
    assert_int_equal(d.ninstances, 2);
    assert_string_equal(d.instances[0]->id, "0123456789ab");
    assert_int_equal(d.instances[0]->policy, GV_POLICY_FIXED);
    assert_int_equal(d.instances[0]->priority, GV_PRIORITY_LOW);
    assert_int_equal(d.instances[1]->policy, GV_POLICY_BEST_EFFORT);
    assert_int_equal(d.instances[1]->priority, GV_PRIORITY_HIGH);
    assert_string_equal(d.instances[0]->profile, "T4-4C");
    assert_string_equal(d.instances[0]->name, "");
    assert_int_equal(d.instances[0]->share, 2500);
    assert_int_equal(d.instances[0]->uuid[0], 0x2f);
    assert_int_equal(d.instances[0]->gpu, -1); /* no such GPU in this (empty) inventory */
    assert_int_equal(d.nprofiles, 1);
    assert_int_equal(d.profiles[0]->policy, GV_POLICY_BEST_EFFORT);
    assert_int_equal(d.profiles[0]->priority, GV_PRIORITY_HIGH);
    assert_string_equal(d.admin_hash, "feed");
    free_model(&d);
    gvd_store_close(s);
}

struct seen {
    int n;
    int64_t seqs[16];
};

static void collect(const struct gvd_event *e, void *arg)
{
    struct seen *s = arg;
    s->seqs[s->n++] = e->seq;
}

static void test_events_paged(void **state)
{
    struct fixture *f = *state;
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};
    assert_int_equal(gvd_store_begin(s, &err), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(
            gvd_store_event(s, i, "admin", i % 2 ? "a" : "b", "x", "t", NULL, NULL, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    struct seen all = {0}, page = {0}, mine = {0};
    assert_int_equal(gvd_store_events(s, NULL, 0, 100, collect, &all, &err), 0);
    assert_int_equal(all.n, 7);
    assert_int_equal(gvd_store_events(s, NULL, 3, 2, collect, &page, &err), 0);
    assert_int_equal(page.n, 2);
    assert_int_equal(page.seqs[0], 4);
    assert_int_equal(page.seqs[1], 5);
    assert_int_equal(gvd_store_events(s, "a", 0, 100, collect, &mine, &err), 0);
    assert_int_equal(mine.n, 3);
    gvd_store_close(s);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    gvd_store_close(open_ok(f->path));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE schema_version SET version = 99", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct gvd_store *s = NULL;
    struct gv_error err = {0};
    assert_int_not_equal(gvd_store_open(&s, f->path, &err), 0);
    assert_null(s);
    assert_non_null(strstr(err.msg, "newer"));
}

static void test_not_a_database(void **state)
{
    struct fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("this is not a database, but it is long enough to look like a header...........", fp);
    fclose(fp);
    struct gvd_store *s = NULL;
    struct gv_error err = {0};
    assert_int_not_equal(gvd_store_open(&s, f->path, &err), 0);
    assert_non_null(strstr(err.msg, f->path));
}

static struct gvh_passthrough sample_pt(void)
{
    struct gvh_passthrough p = {.gpu = "0000:41:00.0", .iommu_group = 7, .nfn = 2};
    snprintf(p.fn[0].bdf, sizeof(p.fn[0].bdf), "0000:41:00.0");
    snprintf(p.fn[0].driver, sizeof(p.fn[0].driver), "nvidia");
    snprintf(p.fn[1].bdf, sizeof(p.fn[1].bdf), "0000:41:00.1");
    snprintf(p.fn[1].driver, sizeof(p.fn[1].driver), "snd_hda_intel");
    return p;
}

static struct gvh_vgpu sample_vgpu(void)
{
    struct gvh_vgpu v = {.id = "c2177883-f1bb-47f0-914d-32a22e3a8804",
                         .parent = "0000:42:00.0",
                         .type = "nvidia-222",
                         .type_name = "GRID T4-1Q",
                         .start_auto = true};
    return v;
}

static void test_host_definitions(void **state)
{
    struct fixture *f = *state;
    struct gvd_store *s = open_ok(f->path);
    assert_int_equal(gvd_store_version(), 4);
    struct gv_error err = {0};
    struct gvh_passthrough p = sample_pt();
    struct gvh_vgpu v = sample_vgpu();
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_host_passthrough(s, &p, &err), 0);
    assert_int_equal(gvd_store_host_vgpu(s, &v, &err), 0);
    assert_int_equal(gvd_store_host_passthrough(s, &p, &err), 0); /* again: replaces */
    assert_int_equal(gvd_store_commit(s, &err), 0);
    /* A rolled-back delete leaves the row. */
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_host_delete(s, v.id, &err), 0);
    gvd_store_rollback(s);
    gvd_store_close(s);

    s = open_ok(f->path);
    struct gvh_state st = {0};
    assert_int_equal(gvd_store_host_load(s, &st, &err), 0);
    assert_int_equal(st.npt, 1);
    assert_int_equal(st.nvgpus, 1);
    assert_string_equal(st.pt[0].gpu, p.gpu);
    assert_int_equal(st.pt[0].nfn, 2);
    assert_string_equal(st.pt[0].fn[1].driver, "snd_hda_intel");
    assert_string_equal(st.vgpus[0].id, v.id);
    assert_string_equal(st.vgpus[0].type, "nvidia-222");
    gvh_state_free(&st);

    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_host_delete(s, p.gpu, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    struct gvh_state st2 = {0};
    assert_int_equal(gvd_store_host_load(s, &st2, &err), 0);
    assert_int_equal(st2.npt, 0);
    assert_int_equal(st2.nvgpus, 1);
    gvh_state_free(&st2);
    gvd_store_close(s);
}

/* Undo schema version 4: the compute policies and priorities. */
#define DROP_POLICY                                                                                \
    "ALTER TABLE instances DROP COLUMN policy; ALTER TABLE instances DROP COLUMN priority; "       \
    "ALTER TABLE profiles DROP COLUMN policy; ALTER TABLE profiles DROP COLUMN priority; "

/* A database of schema version 1 (before the host's table) is migrated, and keeps its rows. */
static void test_migrate_from_1(void **state)
{
    struct fixture *f = *state;
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_setting_put(s, "k", "v", &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    gvd_store_close(s);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "DROP TABLE host; ALTER TABLE gpus DROP COLUMN timeslice; " DROP_POLICY
                     "UPDATE schema_version SET version = 1",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    s = open_ok(f->path);
    struct gvh_passthrough p = sample_pt();
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_host_passthrough(s, &p, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    gvd_store_close(s);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT version FROM schema_version), (SELECT "
                                        "value FROM settings WHERE key = 'k')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), gvd_store_version());
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "v");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* GPUs: what the store knows of those in the inventory (d->gpus), after a reopen. */
static void load_gpus(const char *path, struct gvd *d)
{
    struct gvd_store *s = open_ok(path);
    struct gv_error err = {0};
    memset(d, 0, sizeof(*d));
    d->ngpus = 2;
    d->gpus[0].uuid[0] = 0x11;
    d->gpus[1].uuid[0] = 0x22;
    assert_int_equal(gvd_store_load(s, d, &err), 0);
    free_model(d);
    gvd_store_close(s);
}

static void test_gpus(void **state)
{
    struct fixture *f = *state;
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};
    const char *u0 = "GPU-11000000-0000-0000-0000-000000000000";
    const char *u1 = "GPU-22000000-0000-0000-0000-000000000000";
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_gpu_put(s, u0, "whole", 0, &err), 0);
    assert_int_equal(gvd_store_gpu_put(s, u1, "sliced", 2500000, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    gvd_store_close(s);
    static struct gvd d;
    load_gpus(f->path, &d);
    assert_int_equal(d.gpus[0].mode, GVD_MODE_WHOLE);
    assert_int_equal(d.gpus[0].timeslice, 0);
    assert_int_equal(d.gpus[1].mode, GVD_MODE_SLICED);
    assert_int_equal(d.gpus[1].timeslice, 2500000);

    /* Put again: both replaced; a rolled-back put leaves the row as it was. */
    s = open_ok(f->path);
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_gpu_put(s, u0, "sliced", 30000000, &err), 0);
    assert_int_equal(gvd_store_gpu_put(s, u1, "sliced", 0, &err), 0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(gvd_store_gpu_put(s, u0, "whole", 1000000, &err), 0);
    gvd_store_rollback(s);
    gvd_store_close(s);
    load_gpus(f->path, &d);
    assert_int_equal(d.gpus[0].mode, GVD_MODE_SLICED);
    assert_int_equal(d.gpus[0].timeslice, 30000000);
    assert_int_equal(d.gpus[1].timeslice, 0);

    /* A time slice outside the range (a database edited by hand) is ignored, not used. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "UPDATE gpus SET timeslice = 5", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    load_gpus(f->path, &d);
    assert_int_equal(d.gpus[0].mode, GVD_MODE_SLICED);
    assert_int_equal(d.gpus[0].timeslice, 0);
}

/* A database of schema version 2 (GPUs without time slices) is migrated, and keeps its modes. */
static void test_migrate_from_2(void **state)
{
    struct fixture *f = *state;
    gvd_store_close(open_ok(f->path));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE gpus DROP COLUMN timeslice; " DROP_POLICY
                                  "INSERT INTO gpus(uuid, mode) VALUES("
                                  "'GPU-22000000-0000-0000-0000-000000000000', 'whole'); "
                                  "UPDATE schema_version SET version = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    static struct gvd d;
    load_gpus(f->path, &d);
    assert_int_equal(d.gpus[1].mode, GVD_MODE_WHOLE);
    assert_int_equal(d.gpus[1].timeslice, 0);
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};
    assert_int_equal(gvd_store_begin(s, &err), 0);
    assert_int_equal(
        gvd_store_gpu_put(s, "GPU-22000000-0000-0000-0000-000000000000", "whole", 7000000, &err),
        0);
    assert_int_equal(gvd_store_commit(s, &err), 0);
    gvd_store_close(s);
    load_gpus(f->path, &d);
    assert_int_equal(d.gpus[1].timeslice, 7000000);
}

/* A database of schema version 3 (before compute policies) is migrated: its instances and profiles
 * keep their rows and get the defaults, guaranteed and normal. */
static void test_migrate_from_3(void **state)
{
    struct fixture *f = *state;
    gvd_store_close(open_ok(f->path));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     DROP_POLICY
                     "INSERT INTO tenants(name, token_hash, created) VALUES('t', 'h', 1);"
                     "INSERT INTO instance_ids(id) VALUES('0123456789ab');"
                     "INSERT INTO instances(id, tenant, gpu_uuid, memory, share, created)"
                     " VALUES('0123456789ab', 't', "
                     "'GPU-22000000-0000-0000-0000-000000000000', 1024, 2500, 3);"
                     "INSERT INTO profiles(name, memory, share, created)"
                     " VALUES('small', 1024, 2500, 4);"
                     "UPDATE schema_version SET version = 3",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct gvd_store *s = open_ok(f->path);
    struct gv_error err = {0};
    static struct gvd d;
    memset(&d, 0, sizeof(d));
    assert_int_equal(gvd_store_load(s, &d, &err), 0);
    assert_int_equal(d.ninstances, 1);
    assert_int_equal(d.instances[0]->share, 2500);
    assert_int_equal(d.instances[0]->policy, GV_POLICY_GUARANTEED);
    assert_int_equal(d.instances[0]->priority, GV_PRIORITY_NORMAL);
    assert_int_equal(d.nprofiles, 1);
    assert_int_equal(d.profiles[0]->policy, GV_POLICY_GUARANTEED);
    assert_int_equal(d.profiles[0]->priority, GV_PRIORITY_NORMAL);
    free_model(&d);
    /* A name the schema does not know is refused by the database itself. */
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE instances SET policy = 'greedy'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    gvd_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_paged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_definitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
