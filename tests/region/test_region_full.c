/* SPDX-License-Identifier: Apache-2.0 */
/* test_region_full.c: a full file system refuses an instance region or a GPU token with a message,
 * never with SIGBUS (a container's 64 MiB /dev/shm filled by data loaders is common).
 *
 * Each test mounts a small tmpfs of its own (which needs root: without it the tests are skipped,
 * saying so), fills it, and opens regions and tokens there in a child process, so that a SIGBUS
 * is a failed test and the mount is always unmounted afterwards. A file whose space is partly
 * missing (made by a process that could not fill it) is made by punching holes in a good one. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "region/sched.h"
#include "tests/region/regiontest.h"

static char mnt[96];
static bool mounted;

static int full_setup(void **state)
{
    if (rt_setup(state) < 0)
        return -1;
    snprintf(mnt, sizeof(mnt), "%s/tmpfs", rt_dir);
    if (mkdir(mnt, 0700) < 0)
        return -1;
    /* mode=0700: a region directory must not be writable by other users. */
    mounted = mount("gvr-test", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0700") == 0;
    if (!mounted)
        fprintf(stderr,
                "skip: cannot mount a tmpfs at %s (%s): run as root to test a full "
                "file system\n",
                mnt, strerror(errno));
    return 0;
}

static int full_teardown(void **state)
{
    if (mounted && umount2(mnt, MNT_DETACH) < 0)
        fprintf(stderr, "umount %s: %s\n", mnt, strerror(errno));
    mounted = false;
    rmdir(mnt);
    return rt_teardown(state);
}

/* Fill the mount: write a file until the file system says it is full. */
static void fill(void)
{
    char path[128], block[4096];
    memset(block, 0x5a, sizeof(block));
    snprintf(path, sizeof(path), "%s/fill", mnt);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    assert_true(fd >= 0);
    while (write(fd, block, sizeof(block)) > 0)
        ;
    assert_int_equal(errno, ENOSPC);
    close(fd);
}

/* Run fn in a child; the child's exit status, or 100 + the signal that killed it. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Die of a SIGBUS, as a tenant would: cmocka's handler would go on with the tests. */
        signal(SIGBUS, SIG_DFL);
        _exit(fn());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static bool says_full(const struct gv_error *err)
{
    return strstr(err->msg, "full") != NULL;
}

/* A new region on a full file system: -ENOSPC, with a message. */
static int create_full(void)
{
    struct gvr_region r;
    struct gv_error err = {0};
    struct gvr_device_limit lim = rt_gpu(1, 1 << 30, 0);
    int rc = gvr_open(&r, mnt, "big", GVR_CREATE, &lim, 1, &err);
    if (rc >= 0)
        return 1;
    return rc == -ENOSPC && says_full(&err) ? 0 : 2;
}

static void test_create_on_full(void **state)
{
    (void)state;
    if (!mounted)
        skip();
    fill();
    assert_int_equal(in_child(create_full), 0);
}

/* A new GPU token on a full file system: -ENOSPC, with a message. */
static int token_full(void)
{
    struct gvr_sched s;
    struct gv_error err = {0};
    uint8_t uuid[16] = {7};
    int rc = gvr_sched_open(&s, mnt, uuid, &err);
    if (rc >= 0)
        return 1;
    return rc == -ENOSPC && says_full(&err) ? 0 : 2;
}

static void test_token_on_full(void **state)
{
    (void)state;
    if (!mounted)
        skip();
    fill();
    assert_int_equal(in_child(token_full), 0);
}

/* A region made before the file system filled up is whole: joining and charging work. */
static int join_and_charge(void)
{
    struct gvr_region r;
    if (gvr_open(&r, mnt, "early", 0, NULL, 0, NULL) < 0 || gvr_join(&r, NULL) < 0 ||
        gvr_charge(&r, 0, 1 << 20) < 0)
        return 1;
    gvr_close(&r);
    return 0;
}

static void test_made_before_full(void **state)
{
    (void)state;
    if (!mounted)
        skip();
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1 << 30, 0);
    assert_true(gvr_open(&r, mnt, "early", GVR_CREATE, &lim, 1, NULL) >= 0);
    gvr_close(&r);
    fill();
    assert_int_equal(in_child(join_and_charge), 0);
}

/* Join a region with holes on a full file system: refused, with a message. */
static int join_holes(void)
{
    struct gvr_region r;
    struct gv_error err = {0};
    int rc = gvr_open(&r, mnt, "holes", 0, NULL, 0, &err);
    if (rc >= 0) {
        /* Touch every member slot, as joiners with other pids would. */
        for (int i = 0; i < GVR_MAX_MEMBERS; i++) {
            if (gvr_join(&r, NULL) < 0 || gvr_charge(&r, 0, 1) < 0)
                return 3;
            gvr_leave(&r);
        }
        return 1;
    }
    return rc == -ENOSPC && says_full(&err) ? 0 : 2;
}

/* A token with holes on a full file system: refused, with a message. */
static int token_holes(void)
{
    struct gvr_sched s;
    struct gv_error err = {0};
    uint8_t uuid[16] = {9};
    int rc = gvr_sched_open(&s, mnt, uuid, &err);
    if (rc >= 0)
        return 1;
    return rc == -ENOSPC && says_full(&err) ? 0 : 2;
}

/* Punch the pages of a file from `from` on out of the file system, keeping its size: what a maker
 * that extended the file but could not fill it leaves behind. */
static void punch(const char *name, off_t from)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", mnt, name);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    if (size > from)
        assert_int_equal(
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, from, size - from), 0);
    close(fd);
}

static void test_holes_on_full(void **state)
{
    (void)state;
    if (!mounted)
        skip();
    struct gvr_region r;
    struct gvr_device_limit lim = rt_gpu(1, 1 << 30, 0);
    assert_true(gvr_open(&r, mnt, "holes", GVR_CREATE, &lim, 1, NULL) >= 0);
    gvr_close(&r);
    punch("holes", 4096);
    /* A token file that was extended and never written: all hole. */
    uint8_t uuid[16] = {9};
    char token[GV_UUID_TEXT + 128], u[GV_UUID_TEXT];
    snprintf(token, sizeof(token), "%s/.%s.sched", mnt, gv_uuid_format(uuid, u));
    int fd = open(token, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    close(fd);
    fill();
    assert_int_equal(in_child(join_holes), 0);
    assert_int_equal(in_child(token_holes), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_on_full, full_setup, full_teardown),
        cmocka_unit_test_setup_teardown(test_token_on_full, full_setup, full_teardown),
        cmocka_unit_test_setup_teardown(test_made_before_full, full_setup, full_teardown),
        cmocka_unit_test_setup_teardown(test_holes_on_full, full_setup, full_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
