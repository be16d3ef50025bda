/* SPDX-License-Identifier: Apache-2.0 */
/* test_region.c: the instance region from one process's side: names, creation and attachment,
 * layout version checks, limits keyed by UUID, charges and member counters, snapshot, listing and
 * removal, and the simple deaths (a member that exits holding memory, a zombie, a process killed
 * while it holds the region's mutex). The races between many processes are in test_region_procs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/size.h"
#include "region/region.h"
#include "tests/region/regiontest.h"

static void open_ok(struct gvr_region *r, const char *name, unsigned flags,
                    const struct gvr_device_limit *lim, unsigned n, int want)
{
    struct gv_error err = {0};
    int rc = gvr_open(r, rt_dir, name, flags, lim, n, &err);
    if (rc != want)
        fail_msg("gvr_open(%s) = %d, want %d: %s", name, rc, want, err.msg);
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"a", "job-1", "A.b_c-9",
                          "0123456789012345678901234567890123456789012345678901234567890123"};
    const char *bad[] = {
        "",    ".", "..",  "a/b",
        "a b", "é", "x\n", "01234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
        assert_int_equal(gvr_name_check(good[i], NULL), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        struct gv_error err = {0};
        assert_int_equal(gvr_name_check(bad[i], &err), -EINVAL);
        assert_non_null(strstr(err.msg, "A-Z a-z 0-9 _ . -"));
    }
    assert_int_equal(gvr_name_check(NULL, NULL), -EINVAL);
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&r, rt_dir, "../escape", GVR_CREATE, NULL, 0, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "../escape"));
}

static void test_dir(void **state)
{
    (void)state;
    assert_string_equal(gvr_dir("/x"), "/x");
    unsetenv(GVR_DIR_ENV);
    char def[64];
    snprintf(def, sizeof(def), "%s-%u", GVR_DEFAULT_DIR, (unsigned)geteuid());
    assert_string_equal(gvr_dir(NULL), def); /* one directory per user */
    setenv(GVR_DIR_ENV, rt_dir, 1);
    assert_string_equal(gvr_dir(NULL), rt_dir);
    assert_string_equal(gvr_dir(""), rt_dir);
    /* Opening with dir NULL uses the variable. */
    struct gvr_region r;
    open_ok(&r, "env", GVR_CREATE, NULL, 0, GVR_CREATED);
    gvr_close(&r);
    char p[128];
    snprintf(p, sizeof(p), "%s/env", rt_dir);
    assert_int_equal(access(p, F_OK), 0);
    unsetenv(GVR_DIR_ENV);
}

static void test_create_attach(void **state)
{
    (void)state;
    struct gvr_region a, b, c;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&a, rt_dir, "inst", 0, NULL, 0, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "inst"));
    struct gvr_device_limit lim[2] = {rt_gpu(1, 4 * GV_GiB, 2500), rt_gpu(2, 8 * GV_GiB, 0)};
    open_ok(&a, "inst", GVR_CREATE, lim, 2, GVR_CREATED);
    open_ok(&b, "inst", GVR_CREATE, lim, 2, 0);    /* same limits: attached, nothing differs */
    open_ok(&c, "inst", GVR_READONLY, NULL, 0, 0); /* a tool */
    assert_int_equal(gvr_device_count(&c), 2);
    struct gvr_snapshot *s = malloc(sizeof(*s));
    gvr_snapshot(&c, s);
    assert_string_equal(s->name, "inst");
    assert_true(s->created_ns > 0);
    /* Duplicate UUIDs and too many GPUs are refused before anything is made. */
    struct gvr_device_limit dup[2] = {rt_gpu(3, 1, 0), rt_gpu(3, 2, 0)};
    assert_int_equal(gvr_open(&c, rt_dir, "dup", GVR_CREATE, dup, 2, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "listed twice"));
    assert_int_equal(gvr_open(&c, rt_dir, "many", GVR_CREATE, dup, GVR_MAX_DEVICES + 1, &err),
                     -ENOSPC);
    assert_int_equal(gvr_open(&c, rt_dir, "ro", GVR_CREATE | GVR_READONLY, NULL, 0, &err), -EINVAL);
    free(s);
    gvr_close(&a);
    gvr_close(&b);
    gvr_close(&c);
    gvr_close(&c); /* twice is harmless */
}

static void test_limits_by_uuid(void **state)
{
    (void)state;
    struct gvr_region a, b;
    struct gv_error err = {0};
    struct gvr_device_limit lim[2] = {rt_gpu(1, 4 * GV_GiB, 2500), rt_gpu(2, 8 * GV_GiB, 5000)};
    open_ok(&a, "lim", GVR_CREATE, lim, 2, GVR_CREATED);
    /* Another process lists its GPUs in another order (other CUDA_VISIBLE_DEVICES): same entries.
     */
    struct gvr_device_limit swapped[2] = {lim[1], lim[0]};
    open_ok(&b, "lim", GVR_CREATE, swapped, 2, 0);
    assert_int_equal(gvr_device_find(&b, lim[0].uuid), 0);
    assert_int_equal(gvr_device_find(&b, lim[1].uuid), 1);
    gvr_close(&b);
    /* Other limits: the region's win, and the caller is told which GPU and both values. */
    struct gvr_device_limit other[2] = {rt_gpu(2, 2 * GV_GiB, 5000), rt_gpu(5, GV_GiB, 1000)};
    int rc = gvr_open(&b, rt_dir, "lim", GVR_CREATE, other, 2, &err);
    assert_int_equal(rc, GVR_LIMITS_DIFFER);
    assert_int_equal(err.code, 0);
    assert_non_null(strstr(err.msg, "8 GiB"));
    assert_non_null(strstr(err.msg, "2 GiB"));
    assert_non_null(strstr(err.msg, "kept"));
    assert_int_equal(gvr_limit(&b, 1), 8 * GV_GiB);
    /* A GPU the region lacked was added with the limits asked. */
    assert_int_equal(gvr_device_count(&b), 3);
    int i = gvr_device_find(&b, other[1].uuid);
    assert_int_equal(i, 2);
    struct gvr_device_limit got;
    assert_int_equal(gvr_device_get(&a, 2, &got), 0);
    assert_memory_equal(got.uuid, other[1].uuid, GVR_UUID_LEN);
    assert_int_equal(got.memory, GV_GiB);
    assert_int_equal(got.share, 1000);
    assert_int_equal(gvr_device_get(&a, 3, &got), -EINVAL);
    struct gvr_device_limit missing = rt_gpu(9, 0, 0);
    assert_int_equal(gvr_device_find(&a, missing.uuid), -ENOENT);
    /* Add is idempotent; set changes a limit for everyone. */
    bool differs = true;
    assert_int_equal(gvr_device_add(&a, &other[1], &differs, NULL), 2);
    assert_false(differs);
    assert_int_equal(gvr_device_set(&a, 2, 3 * GV_GiB, 2000), 0);
    assert_int_equal(gvr_limit(&b, 2), 3 * GV_GiB);
    assert_int_equal(gvr_device_set(&a, 7, 1, 1), -EINVAL);
    /* Fill the table. */
    for (uint8_t k = 10; gvr_device_count(&a) < GVR_MAX_DEVICES; k++) {
        struct gvr_device_limit l = rt_gpu(k, 0, 0);
        assert_true(gvr_device_add(&a, &l, NULL, NULL) >= 0);
    }
    struct gvr_device_limit l = rt_gpu(100, 0, 0);
    assert_int_equal(gvr_device_add(&a, &l, NULL, &err), -ENOSPC);
    gvr_close(&a);
    gvr_close(&b);
}

/* A file of another layout version, or of something else, is refused with a message that says so.
 */
static void test_version_mismatch(void **state)
{
    (void)state;
    struct gvr_region r;
    struct gv_error err = {0};
    open_ok(&r, "old", GVR_CREATE, NULL, 0, GVR_CREATED);
    gvr_close(&r);
    char p[128];
    snprintf(p, sizeof(p), "%s/old", rt_dir);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    uint32_t v = GVR_LAYOUT + 1;
    assert_int_equal(pwrite(fd, &v, sizeof(v), 8), sizeof(v)); /* the layout field */
    close(fd);
    assert_int_equal(gvr_open(&r, rt_dir, "old", GVR_CREATE, NULL, 0, &err), -EPROTO);
    char want[64];
    snprintf(want, sizeof(want), "layout version %u", GVR_LAYOUT + 1);
    assert_non_null(strstr(err.msg, want));
    snprintf(want, sizeof(want), "uses version %u", GVR_LAYOUT);
    assert_non_null(strstr(err.msg, want));

    snprintf(p, sizeof(p), "%s/junk", rt_dir);
    fd = open(p, O_RDWR | O_CREAT, 0644);
    assert_int_equal(write(fd, "this is not a region at all, no", 32), 32);
    close(fd);
    assert_int_equal(gvr_open(&r, rt_dir, "junk", 0, NULL, 0, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "not a gpuvisor instance region"));
}

/* A file created but never initialized (its creator died before publishing the magic) is taken
 * over by the next opener. */
static void test_half_made(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof(p), "%s/half", rt_dir);
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1000, 0);
    open_ok(&r, "half", GVR_CREATE, &lim, 1, GVR_CREATED);
    assert_int_equal(gvr_limit(&r, 0), 1000);
    gvr_close(&r);
}

static void test_charge(void **state)
{
    (void)state;
    struct gvr_region a, b;
    struct gvr_device_limit lim[2] = {rt_gpu(1, 1000, 0), rt_gpu(2, 0, 0)};
    open_ok(&a, "chg", GVR_CREATE, lim, 2, GVR_CREATED);
    open_ok(&b, "chg", 0, NULL, 0, 0);
    assert_int_equal(gvr_charge(&a, 0, 1), -EPERM); /* not a member yet */
    assert_int_equal(gvr_join(&a, NULL), 0);
    assert_int_equal(gvr_join(&a, NULL), -EALREADY);
    assert_int_equal(gvr_join(&b, NULL), 0); /* a second member (same process, another handle) */

    assert_int_equal(gvr_charge(&a, 0, 600), 0);
    assert_int_equal(gvr_charge(&b, 0, 300), 0);
    assert_int_equal(gvr_charge(&b, 0, 101), -ENOMEM); /* 1001 > 1000 */
    assert_int_equal(gvr_charge(&b, 0, 100), 0);
    assert_int_equal(gvr_used(&a, 0), 1000);
    assert_int_equal(gvr_available(&a, 0), 0);
    assert_int_equal(gvr_member_used(&a, 0), 600);
    assert_int_equal(gvr_member_used(&b, 0), 400);
    /* A member cannot give back more than it holds, even if the instance holds more. */
    assert_int_equal(gvr_uncharge(&b, 0, 401), -ERANGE);
    assert_int_equal(gvr_used(&a, 0), 1000);
    assert_int_equal(gvr_uncharge(&b, 0, 400), 0);
    assert_int_equal(gvr_member_used(&b, 0), 0);
    assert_int_equal(gvr_used(&a, 0), 600);
    /* Unlimited device; bad devices. */
    assert_int_equal(gvr_charge(&a, 1, 1ULL << 50), 0);
    assert_int_equal(gvr_limit(&a, 1), 0);
    assert_int_equal(gvr_charge(&a, 2, 1), -EINVAL);
    assert_int_equal(gvr_uncharge(&a, 2, 1), -EINVAL);
    assert_int_equal(gvr_used(&a, 2), 0);
    assert_int_equal(gvr_member_used(&a, GVR_MAX_DEVICES), 0);
    /* Leaving gives everything back. */
    assert_int_equal(gvr_leave(&a), 0);
    assert_int_equal(gvr_leave(&a), -EINVAL);
    assert_int_equal(gvr_used(&b, 0), 0);
    assert_int_equal(gvr_used(&b, 1), 0);
    assert_int_equal(gvr_charge(&a, 0, 1), -EPERM);
    /* A lowered limit keeps what is charged and refuses more. */
    assert_int_equal(gvr_charge(&b, 0, 800), 0);
    assert_int_equal(gvr_device_set(&b, 0, 500, 0), 0);
    assert_int_equal(gvr_charge(&b, 0, 1), -ENOMEM);
    assert_int_equal(gvr_uncharge(&b, 0, 800), 0);
    assert_int_equal(gvr_charge(&b, 0, 500), 0);
    gvr_close(&b); /* closing a member leaves */
    gvr_close(&a);
    open_ok(&a, "chg", GVR_READONLY, NULL, 0, 0);
    assert_int_equal(gvr_used(&a, 0), 0);
    assert_int_equal(gvr_join(&a, NULL), -EROFS);
    assert_int_equal(gvr_reclaim(&a, NULL), -EROFS);
    gvr_close(&a);
}

static void test_dead_members(void **state)
{
    (void)state;
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1000, 0);
    open_ok(&r, "dead", GVR_CREATE, &lim, 1, GVR_CREATED);
    assert_int_equal(gvr_join(&r, NULL), 0);
    assert_int_equal(gvr_charge(&r, 0, 100), 0);

    /* A member killed and reaped. */
    pid_t c1 = rt_member_child("dead", 0, 300, false);
    assert_true(c1 > 0);
    assert_int_equal(gvr_used(&r, 0), 400);
    assert_int_equal(gvr_reclaim(&r, NULL), 0); /* alive: nothing to do */
    kill(c1, SIGKILL);
    waitpid(c1, NULL, 0);
    assert_int_equal(gvr_reclaim(&r, NULL), 1);
    assert_int_equal(gvr_used(&r, 0), 100);

    /* A member killed but not reaped yet (a zombie) is dead too. */
    pid_t c2 = rt_member_child("dead", 0, 500, false);
    assert_true(c2 > 0);
    kill(c2, SIGKILL);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)c2, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(gvr_charge(&r, 0, 500), -ENOMEM);
    assert_int_equal(gvr_reclaim(&r, NULL), 1); /* what a failed charge does */
    assert_int_equal(gvr_charge(&r, 0, 500), 0);
    waitpid(c2, NULL, 0);

    /* A member killed while holding the mutex: the next locker carries on. */
    pid_t c3 = rt_member_child("dead", 0, 200, true);
    assert_true(c3 > 0);
    kill(c3, SIGKILL);
    waitpid(c3, NULL, 0);
    assert_int_equal(gvr_used(&r, 0), 800);
    assert_int_equal(gvr_reclaim(&r, NULL), 1);
    assert_int_equal(gvr_used(&r, 0), 600);
    struct gvr_device_limit more = rt_gpu(2, 0, 0);
    assert_int_equal(gvr_device_add(&r, &more, NULL, NULL), 1);
    assert_int_equal(gvr_reclaim(&r, NULL), 0);
    assert_int_equal(gvr_uncharge(&r, 0, 600), 0);
    assert_int_equal(gvr_used(&r, 0), 0);
    gvr_close(&r);
}

/* After fork the child is another process: it joins its own slot, and closing the inherited handle
 * without rejoining leaves the parent's slot alone. */
static void test_fork(void **state)
{
    (void)state;
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1000, 0);
    open_ok(&r, "fork", GVR_CREATE, &lim, 1, GVR_CREATED);
    assert_int_equal(gvr_join(&r, NULL), 0);
    assert_int_equal(gvr_charge(&r, 0, 100), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct gvr_region mine = r;
        int bad = gvr_join_after_fork(&mine, NULL) != 0 || gvr_member_used(&mine, 0) != 0 ||
                  gvr_charge(&mine, 0, 50) != 0 || gvr_used(&mine, 0) != 150;
        gvr_close(&mine); /* leaves the child's slot */
        gvr_close(&r);    /* the inherited handle: must not leave the parent's slot */
        _exit(bad);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_int_equal(gvr_member_used(&r, 0), 100);
    assert_int_equal(gvr_used(&r, 0), 100);
    assert_int_equal(gvr_reclaim(&r, NULL), 0);
    struct gvr_snapshot *s = malloc(sizeof(*s));
    gvr_snapshot(&r, s);
    assert_int_equal(s->nmember, 1);
    assert_int_equal(s->member[0].pid, getpid());
    free(s);
    gvr_close(&r);
}

/* After exec() a process keeps its pid and start time, but the driver has freed its memory. Two
 * handles of one process stand for the images before and after: GVR_JOIN_REPLACE gives the old
 * slot back. */
static void test_join_replace(void **state)
{
    (void)state;
    struct gvr_region before, after;
    struct gvr_device_limit lim = rt_gpu(1, 1000, 0);
    open_ok(&before, "exec", GVR_CREATE, &lim, 1, GVR_CREATED);
    assert_int_equal(gvr_join_flags(&before, GVR_JOIN_REPLACE, NULL), 0);
    assert_int_equal(gvr_charge(&before, 0, 700), 0);
    open_ok(&after, "exec", 0, NULL, 0, 0);
    assert_int_equal(gvr_join_flags(&after, GVR_JOIN_REPLACE, NULL), 0);
    assert_int_equal(gvr_used(&after, 0), 0);
    assert_int_equal(gvr_charge(&after, 0, 1000), 0);
    struct gvr_snapshot *s = malloc(sizeof(*s));
    gvr_snapshot(&after, s);
    assert_int_equal(s->nmember, 1);
    free(s);
    before.slot = -1; /* that image is gone */
    gvr_close(&before);
    gvr_close(&after);
}

struct names {
    int n;
    char seen[8][GVR_NAME_MAX + 1];
};

static int collect(const char *name, void *arg)
{
    struct names *ns = arg;
    if (ns->n < 8)
        snprintf(ns->seen[ns->n++], GVR_NAME_MAX + 1, "%s", name);
    return 0;
}

static int stop_at_first(const char *name, void *arg)
{
    (void)name;
    (void)arg;
    return 7;
}

static void test_snapshot_list_remove(void **state)
{
    (void)state;
    struct gvr_region a, b;
    struct gvr_device_limit lim[2] = {rt_gpu(1, 4 * GV_GiB, 2500), rt_gpu(2, 0, 0)};
    open_ok(&a, "alpha", GVR_CREATE, lim, 2, GVR_CREATED);
    open_ok(&b, "beta", GVR_CREATE, lim, 1, GVR_CREATED);
    assert_int_equal(gvr_join(&a, NULL), 0);
    assert_int_equal(gvr_charge(&a, 0, GV_GiB), 0);
    assert_int_equal(gvr_charge(&a, 1, 5 * GV_GiB), 0);
    pid_t child = rt_member_child("alpha", 0, GV_GiB / 2, false);
    assert_true(child > 0);
    char p[128];
    snprintf(p, sizeof(p), "%s/.not-a-region", rt_dir);
    close(open(p, O_CREAT | O_WRONLY, 0644));

    struct names ns = {0};
    assert_int_equal(gvr_list(rt_dir, collect, &ns, NULL), 0);
    assert_int_equal(ns.n, 2);
    assert_true((!strcmp(ns.seen[0], "alpha") && !strcmp(ns.seen[1], "beta")) ||
                (!strcmp(ns.seen[0], "beta") && !strcmp(ns.seen[1], "alpha")));
    assert_int_equal(gvr_list(rt_dir, stop_at_first, NULL, NULL), 7);
    assert_int_equal(gvr_list("/nonexistent/gpuvisor", collect, &ns, NULL), 0);
    unlink(p);

    struct gvr_region t;
    open_ok(&t, "alpha", GVR_READONLY, NULL, 0, 0);
    struct gvr_snapshot *s = malloc(sizeof(*s));
    assert_int_equal(gvr_snapshot(&t, s), 0);
    assert_string_equal(s->name, "alpha");
    assert_int_equal(s->ndev, 2);
    assert_memory_equal(s->dev[0].uuid, lim[0].uuid, GVR_UUID_LEN);
    assert_int_equal(s->dev[0].limit, 4 * GV_GiB);
    assert_int_equal(s->dev[0].used, GV_GiB + GV_GiB / 2);
    assert_int_equal(s->dev[0].share, 2500);
    assert_int_equal(s->dev[1].used, 5 * GV_GiB);
    assert_int_equal(s->nmember, 2);
    for (unsigned m = 0; m < s->nmember; m++) {
        assert_int_equal(s->member[m].alive, GVR_ALIVE);
        assert_true(s->member[m].start > 0);
        if (s->member[m].pid == getpid()) {
            assert_int_equal(s->member[m].bytes[0], GV_GiB);
            assert_int_equal(s->member[m].bytes[1], 5 * GV_GiB);
        } else {
            assert_int_equal(s->member[m].pid, child);
            assert_int_equal(s->member[m].bytes[0], GV_GiB / 2);
        }
    }
    /* A dead member shows as dead until reclaimed. */
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    gvr_snapshot(&t, s);
    int dead = 0;
    for (unsigned m = 0; m < s->nmember; m++)
        dead += s->member[m].alive == GVR_DEAD;
    assert_int_equal(dead, 1);

    /* Removal: refused with a live member, done after it leaves (the dead one is reclaimed). */
    struct gv_error err = {0};
    assert_int_equal(gvr_remove(rt_dir, "alpha", &err), -EBUSY);
    assert_non_null(strstr(err.msg, "1 live member"));
    assert_int_equal(gvr_leave(&a), 0);
    assert_int_equal(gvr_remove(rt_dir, "alpha", &err), 0);
    assert_int_equal(gvr_remove(rt_dir, "alpha", &err), -ENOENT);
    /* A handle still mapping the removed file cannot join it; a new open makes a fresh one. */
    assert_int_equal(gvr_join(&a, &err), -ESTALE);
    gvr_close(&a);
    open_ok(&a, "alpha", GVR_CREATE, NULL, 0, GVR_CREATED);
    assert_int_equal(gvr_remove(rt_dir, "beta", NULL), 0);
    free(s);
    gvr_close(&a);
    gvr_close(&b);
    gvr_close(&t);
}

/* Found by fuzz/region.c: the GPU count in the file was trusted, so a damaged count sent every
 * reader of the GPUs (the interposer at start, smi's snapshot, a reclaim) past the arrays. A count
 * past GVR_MAX_DEVICES reads as GVR_MAX_DEVICES. */
static void test_damaged_count(void **state)
{
    (void)state;
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1000, 0), more = rt_gpu(2, 0, 0);
    open_ok(&r, "damaged", GVR_CREATE, &lim, 1, GVR_CREATED);
    char p[128];
    snprintf(p, sizeof(p), "%s/damaged", rt_dir);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    /* The layout is private; the count is the first thing that adding a GPU changes. */
    static uint8_t before[1 << 17], after[1 << 17];
    ssize_t n = pread(fd, before, sizeof(before), 0);
    assert_true(n > 0 && n < (ssize_t)sizeof(before));
    assert_int_equal(gvr_device_add(&r, &more, NULL, NULL), 1);
    assert_int_equal(pread(fd, after, sizeof(after), 0), n);
    size_t at = 0;
    while (at < (size_t)n && before[at] == after[at])
        at++;
    at &= ~(size_t)3;
    uint32_t count, bad = UINT32_MAX;
    memcpy(&count, after + at, sizeof(count));
    assert_int_equal(count, 2);
    assert_int_equal(pwrite(fd, &bad, sizeof(bad), (off_t)at), sizeof(bad));
    close(fd);

    assert_int_equal(gvr_device_count(&r), GVR_MAX_DEVICES);
    for (unsigned d = 0; d < gvr_device_count(&r); d++) {
        struct gvr_device_limit l;
        assert_int_equal(gvr_device_get(&r, d, &l), 0);
        gvr_share(&r, d);
        gvr_used(&r, d);
    }
    struct gvr_device_limit other = rt_gpu(3, 0, 0);
    assert_int_equal(gvr_device_find(&r, other.uuid), -ENOENT);
    assert_int_equal(gvr_device_add(&r, &other, NULL, NULL), -ENOSPC);
    assert_int_equal(gvr_join(&r, NULL), 0);
    assert_int_equal(gvr_charge(&r, GVR_MAX_DEVICES, 1), -EINVAL);
    assert_int_equal(gvr_reclaim(&r, NULL), 0);
    static struct gvr_snapshot s;
    assert_int_equal(gvr_snapshot(&r, &s), 0);
    assert_int_equal(s.ndev, GVR_MAX_DEVICES);
    gvr_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_names, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_dir, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_create_attach, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_limits_by_uuid, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_version_mismatch, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_half_made, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_charge, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_dead_members, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_fork, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_join_replace, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_list_remove, rt_setup, rt_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_count, rt_setup, rt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
