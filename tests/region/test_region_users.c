/* SPDX-License-Identifier: Apache-2.0 */
/* test_region_users.c: without a daemon, instance regions and GPU tokens are one user's. The
 * default directory is per user; a directory is made 0700 and its files 0600; a process of another
 * user can neither open, join or take first an instance of this user nor write its GPU token; a
 * directory or file of another user, or a directory every user may write in, is refused with a
 * message that names gpuvisord. The time of a GPU is shared by one user's processes at a time: a
 * token is refused, with a message, while another user's processes hold theirs on the same GPU. A
 * claim left behind by a killed process is removed by the next open.
 *
 * The other user is `nobody` (uid 65534): a child that drops to it after fork. That needs root;
 * without it the tests are skipped, saying so. The test directory is made traversable (0711) so
 * that only the region directory's own mode keeps the other user out. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "region/sched.h"
#include "tests/region/regiontest.h"

#define NOBODY 65534

static char dir[96]; /* the region directory, inside rt_dir */
static const uint8_t token_uuid[16] = {0x42};

static int users_setup(void **state)
{
    if (rt_setup(state) < 0 || chmod(rt_dir, 0711) < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s/regions", rt_dir);
    return 0;
}

static pid_t kids[2]; /* children that wait to be killed, killed here if a check failed first */

static int users_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        if (kids[i] > 0) {
            kill(kids[i], SIGKILL);
            waitpid(kids[i], NULL, 0);
            kids[i] = 0;
        }
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", rt_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void need_root(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "skip: needs root, to run a child as another user (nobody)\n");
        skip();
    }
}

/* Run fn as nobody in a child; its exit status, or 100 + the signal that killed it. */
static int as_nobody(int (*fn)(void))
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGBUS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        if (setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
            _exit(90);
        _exit(fn());
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void make_instance(const char *name)
{
    struct gvr_region r;
    struct gv_error err = {0};
    struct gvr_device_limit lim = rt_gpu(1, 1 << 30, 2500);
    if (gvr_open(&r, dir, name, GVR_CREATE, &lim, 1, &err) < 0)
        fail_msg("%s", err.msg);
    gvr_close(&r);
}

static void test_default_dir(void **state)
{
    (void)state;
    unsetenv(GVR_DIR_ENV);
    char want[64];
    snprintf(want, sizeof(want), "/dev/shm/gpuvisor-%u", (unsigned)geteuid());
    assert_string_equal(gvr_dir(NULL), want);
}

static int nobody_default_dir(void)
{
    return strcmp(gvr_dir(NULL), "/dev/shm/gpuvisor-65534") == 0 ? 0 : 1;
}

static void test_default_dir_other_user(void **state)
{
    (void)state;
    need_root();
    unsetenv(GVR_DIR_ENV);
    assert_int_equal(as_nobody(nobody_default_dir), 0);
}

/* Modes: the directory 0700, an instance file and a token file 0600. */
static void test_modes(void **state)
{
    (void)state;
    make_instance("mine");
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open(&s, dir, token_uuid, NULL), 0);
    gvr_sched_close(&s);
    struct stat st;
    char path[192], u[GV_UUID_TEXT];
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(path, sizeof(path), "%s/mine", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    snprintf(path, sizeof(path), "%s/.%s.sched", dir, gv_uuid_format(token_uuid, u));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

/* Child (nobody): 0 when every way into the first user's instance and token is shut. */
static int nobody_intrudes(void)
{
    struct gvr_region r;
    if (gvr_open(&r, dir, "mine", 0, NULL, 0, NULL) >= 0)
        return 1; /* opened it for writing */
    if (gvr_open(&r, dir, "mine", GVR_READONLY, NULL, 0, NULL) >= 0)
        return 2; /* could read it */
    if (gvr_open(&r, dir, "squat", GVR_CREATE, NULL, 0, NULL) >= 0)
        return 3; /* took a name first */
    struct gvr_sched s;
    if (gvr_sched_open(&s, dir, token_uuid, NULL) >= 0)
        return 4; /* opened the GPU token */
    char path[192], u[GV_UUID_TEXT];
    snprintf(path, sizeof(path), "%s/.%s.sched", dir, gv_uuid_format(token_uuid, u));
    int fd = open(path, O_RDWR);
    if (fd >= 0)
        return 5; /* could write the token's file */
    snprintf(path, sizeof(path), "%s/squat2", dir);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd >= 0)
        return 6; /* could put a file in the directory */
    return 0;
}

static void test_other_user_shut_out(void **state)
{
    (void)state;
    need_root();
    make_instance("mine");
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open(&s, dir, token_uuid, NULL), 0);
    gvr_sched_close(&s);
    assert_int_equal(as_nobody(nobody_intrudes), 0);
}

/* Child (nobody): make dir as a directory every user may write in, as /tmp is. */
static int nobody_makes_shared_dir(void)
{
    if (mkdir(dir, 01777) < 0 || chmod(dir, 01777) < 0)
        return 1;
    return 0;
}

static bool says_daemon(const struct gv_error *err)
{
    return strstr(err->msg, "gpuvisord") != NULL;
}

/* A directory made by another user, mode 1777: refused for writing, with the reason. */
static void test_other_users_dir(void **state)
{
    (void)state;
    need_root();
    assert_int_equal(chmod(rt_dir, 0777), 0); /* so that nobody can make its directory here */
    assert_int_equal(as_nobody(nobody_makes_shared_dir), 0);
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&r, dir, "x", GVR_CREATE, NULL, 0, &err), -EPERM);
    assert_non_null(strstr(err.msg, "uid 65534"));
    assert_true(says_daemon(&err));
    struct gvr_sched s;
    struct gv_error err2 = {0};
    assert_int_equal(gvr_sched_open(&s, dir, token_uuid, &err2), -EPERM);
    assert_true(says_daemon(&err2));
}

/* This user's own directory, writable by every user (the old shared default): refused. */
static void test_world_writable_dir(void **state)
{
    (void)state;
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chmod(dir, 01777), 0);
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&r, dir, "x", GVR_CREATE, NULL, 0, &err), -EPERM);
    assert_non_null(strstr(err.msg, "writable by every user"));
    assert_true(says_daemon(&err));
}

/* An instance file of another user in this user's directory (a name taken first): not joined;
 * it can still be read (by root, for gpuvisor smi). */
static void test_other_users_file(void **state)
{
    (void)state;
    need_root();
    make_instance("taken");
    char path[192];
    snprintf(path, sizeof(path), "%s/taken", dir);
    assert_int_equal(chown(path, NOBODY, NOBODY), 0);
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&r, dir, "taken", GVR_CREATE, NULL, 0, &err), -EPERM);
    assert_non_null(strstr(err.msg, "uid 65534"));
    assert_true(says_daemon(&err));
    assert_true(gvr_open(&r, dir, "taken", GVR_READONLY, NULL, 0, NULL) >= 0);
    gvr_close(&r);
}

/* A symbolic link where the directory should be: refused. */
static void test_symlink_dir(void **state)
{
    (void)state;
    char target[128];
    snprintf(target, sizeof(target), "%s/target", rt_dir);
    assert_int_equal(mkdir(target, 0700), 0);
    assert_int_equal(symlink(target, dir), 0);
    struct gvr_region r;
    struct gv_error err = {0};
    assert_int_equal(gvr_open(&r, dir, "x", GVR_CREATE, NULL, 0, &err), -ELOOP);
    assert_non_null(strstr(err.msg, "symbolic link"));
}

/* A GPU of its own for each run, so that runs beside each other never meet in GVR_CLAIM_DIR. */
static uint8_t gpu_uuid[16];

/* Child (nobody): opens the GPU's token in a directory of its own; 0 when the result is `want`
 * (and, for -EBUSY, the message names the user and gpuvisord), else 1; 2 when set-up failed. */
static int nobody_token(int want)
{
    char own[] = "/tmp/gvr-nobody.XXXXXX", sub[64], cmd[96];
    if (!mkdtemp(own))
        return 2;
    snprintf(sub, sizeof(sub), "%s/regions", own);
    struct gvr_sched s;
    struct gv_error err = {0};
    int rc = gvr_sched_open(&s, sub, gpu_uuid, &err);
    if (rc == 0)
        gvr_sched_close(&s);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", own);
    if (system(cmd) != 0)
        return 2;
    if (rc == -EBUSY)
        return want == -EBUSY && strstr(err.msg, "user 0") && strstr(err.msg, "gpuvisord") ? 0 : 1;
    return rc == want ? 0 : 1;
}

static int nobody_refused(void)
{
    return nobody_token(-EBUSY);
}

static int nobody_allowed(void)
{
    return nobody_token(0);
}

/* While this user's processes hold a GPU's token, another user's are refused theirs, with a
 * message; once they are gone (however they ended), the other user gets it. */
static void test_other_users_gpu(void **state)
{
    (void)state;
    need_root();
    uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    memcpy(gpu_uuid, &seed, sizeof(seed));
    gpu_uuid[15] = 0x77;
    struct gvr_sched s, again;
    assert_int_equal(gvr_sched_open(&s, dir, gpu_uuid, NULL), 0);
    assert_int_equal(as_nobody(nobody_refused), 0);
    /* The same user's second handle, as another of its processes would open it. */
    assert_int_equal(gvr_sched_open(&again, dir, gpu_uuid, NULL), 0);
    gvr_sched_close(&again);
    gvr_sched_close(&s);
    assert_int_equal(as_nobody(nobody_allowed), 0);
    /* nobody's claim ended with its process: it stands in no one's way. */
    assert_int_equal(gvr_sched_open(&s, dir, gpu_uuid, NULL), 0);
    gvr_sched_close(&s);
    char path[192], u[GV_UUID_TEXT];
    gv_uuid_format(gpu_uuid, u);
    snprintf(path, sizeof(path), GVR_CLAIM_DIR "/gpuvisor-gpu-%s.0", u);
    unlink(path);
    snprintf(path, sizeof(path), GVR_CLAIM_DIR "/gpuvisor-gpu-%s.%d", u, NOBODY);
    unlink(path);
}

/* A process killed while it holds its claim on a GPU's time leaves the claim file behind; the next
 * open, of another GPU, finds nobody holding it and removes it, while a claim still held stays. */
static void test_stale_claim_removed(void **state)
{
    (void)state;
    uint8_t dead[16], alive[16], other[16];
    uint64_t seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    memcpy(dead, &seed, sizeof(seed));
    memcpy(alive, dead, 16);
    memcpy(other, dead, 16);
    dead[15] = 0x51;
    alive[15] = 0x52;
    other[15] = 0x53;
    char dead_path[192], alive_path[192], u[GV_UUID_TEXT];
    snprintf(dead_path, sizeof(dead_path), GVR_CLAIM_DIR "/gpuvisor-gpu-%s.%u",
             gv_uuid_format(dead, u), (unsigned)geteuid());
    snprintf(alive_path, sizeof(alive_path), GVR_CLAIM_DIR "/gpuvisor-gpu-%s.%u",
             gv_uuid_format(alive, u), (unsigned)geteuid());
    const uint8_t *gpus[2] = {dead, alive};
    for (int i = 0; i < 2; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        kids[i] = fork();
        assert_true(kids[i] >= 0);
        if (kids[i] == 0) {
            struct gvr_sched s;
            if (gvr_sched_open(&s, dir, gpus[i], NULL) < 0 || write(p[1], "y", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        char c = 0;
        close(p[1]);
        assert_int_equal(read(p[0], &c, 1), 1);
        close(p[0]);
    }
    kill(kids[0], SIGKILL);
    assert_int_equal(waitpid(kids[0], NULL, 0), kids[0]);
    kids[0] = 0;
    assert_int_equal(access(dead_path, F_OK), 0); /* nobody removed it: the process was killed */
    struct gvr_sched s;
    assert_int_equal(gvr_sched_open(&s, dir, other, NULL), 0);
    assert_int_equal(access(dead_path, F_OK), -1);
    assert_int_equal(access(alive_path, F_OK), 0);
    gvr_sched_close(&s);
    kill(kids[1], SIGKILL);
    assert_int_equal(waitpid(kids[1], NULL, 0), kids[1]);
    kids[1] = 0;
    gvr_sched_tidy();
    assert_int_equal(access(alive_path, F_OK), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_dir),
        cmocka_unit_test(test_default_dir_other_user),
        cmocka_unit_test_setup_teardown(test_modes, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_other_user_shut_out, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_other_users_dir, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_world_writable_dir, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_other_users_file, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_symlink_dir, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_other_users_gpu, users_setup, users_teardown),
        cmocka_unit_test_setup_teardown(test_stale_claim_removed, users_setup, users_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
