/* SPDX-License-Identifier: Apache-2.0 */
/* test_launch.c: the launch library (launch/launch.h) on its own: LD_PRELOAD composition, the
 * envp array, the variables of a standalone slice and of a daemon instance, finding the interposer
 * from a program's directory, and the descriptor a joined process inherits. Every test builds its
 * environments from literal arrays, never from this process's own, and its files in a temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "launch/launch.h"

static char *compose(const char *old, const char *shim)
{
    static char out[4096];
    char *s = NULL;
    struct gv_error err = {0};
    assert_int_equal(gvl_preload_compose(old, shim, &s, &err), 0);
    snprintf(out, sizeof(out), "%s", s);
    free(s);
    return out;
}

static void test_preload(void **state)
{
    (void)state;
    /* Paths that do not exist: compared as text. */
    const char *shim = "/opt/gv/lib/libgpuvisor.so";
    assert_string_equal(compose(NULL, shim), shim);
    assert_string_equal(compose("", shim), shim);
    assert_string_equal(compose("/a.so", shim), "/a.so:/opt/gv/lib/libgpuvisor.so");
    assert_string_equal(compose("/a.so /b.so", shim), "/a.so:/b.so:/opt/gv/lib/libgpuvisor.so");
    assert_string_equal(compose("::/a.so: :", shim), "/a.so:/opt/gv/lib/libgpuvisor.so");
    /* Already there: kept once, where it was. */
    assert_string_equal(compose(shim, shim), shim);
    assert_string_equal(compose("/opt/gv/lib/libgpuvisor.so:/a.so:/opt/gv/lib/libgpuvisor.so", shim),
                        "/opt/gv/lib/libgpuvisor.so:/a.so");
    /* Another copy of the interposer is dropped, bare names included. */
    assert_string_equal(compose("/usr/lib/libgpuvisor.so:/a.so", shim),
                        "/a.so:/opt/gv/lib/libgpuvisor.so");
    assert_string_equal(compose("libgpuvisor.so", shim), shim);
    /* A library whose name merely contains ours stays. */
    assert_string_equal(compose("/x/libgpuvisor.so.1:/x/mylibgpuvisor.so", shim),
                        "/x/libgpuvisor.so.1:/x/mylibgpuvisor.so:/opt/gv/lib/libgpuvisor.so");
}

static void test_preload_same_file(void **state)
{
    (void)state;
    /* The same file under two paths (a symbolic link) is the same interposer. */
    char dir[] = "/tmp/gvl-test.XXXXXX", lib[PATH_MAX], link[PATH_MAX], old[2 * PATH_MAX];
    assert_non_null(mkdtemp(dir));
    snprintf(lib, sizeof(lib), "%s/libgpuvisor.so", dir);
    snprintf(link, sizeof(link), "%s/alias.so", dir);
    int fd = open(lib, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlink(lib, link), 0);
    snprintf(old, sizeof(old), "%s:/a.so", link);
    char want[2 * PATH_MAX];
    snprintf(want, sizeof(want), "%s:/a.so", link);
    assert_string_equal(compose(old, lib), want);
    unlink(link);
    unlink(lib);
    rmdir(dir);
}

static void test_env_basics(void **state)
{
    (void)state;
    char *base[] = {"A=1", "B=2", "A=3", "NOEQUALS", "C=", NULL};
    struct gvl_env e;
    struct gv_error err = {0};
    assert_int_equal(gvl_env_init(&e, base, &err), 0);
    assert_int_equal(e.n, 5);
    assert_string_equal(gvl_env_get(&e, "A"), "1");
    assert_string_equal(gvl_env_get(&e, "C"), "");
    assert_null(gvl_env_get(&e, "D"));
    assert_null(gvl_env_get(&e, "NOEQUALS"));
    /* Replacing a name drops its duplicates and keeps the order of the rest. */
    assert_int_equal(gvl_env_set(&e, "A", "x", &err), 0);
    char *const *v = gvl_env_envp(&e);
    assert_string_equal(v[0], "A=x");
    assert_string_equal(v[1], "B=2");
    assert_string_equal(v[2], "NOEQUALS");
    assert_string_equal(v[3], "C=");
    assert_null(v[4]);
    assert_int_equal(gvl_env_set(&e, "D", "new=value", &err), 0);
    assert_string_equal(gvl_env_envp(&e)[4], "D=new=value");
    assert_int_equal(gvl_env_set(&e, "B", NULL, &err), 0);
    assert_null(gvl_env_get(&e, "B"));
    assert_int_equal(e.n, 4);
    assert_null(gvl_env_envp(&e)[4]);
    /* Removing what is absent is no change. */
    assert_int_equal(gvl_env_set(&e, "ZZ", NULL, &err), 0);
    assert_int_equal(e.n, 4);
    assert_int_equal(gvl_env_set(&e, "", "1", &err), -EINVAL);
    assert_int_equal(gvl_env_set(&e, "A=B", "1", &err), -EINVAL);
    assert_non_null(strstr(err.msg, "A=B"));
    gvl_env_free(&e);
    gvl_env_free(&e);
    /* An empty environment grows from nothing. */
    assert_int_equal(gvl_env_init(&e, NULL, &err), 0);
    assert_int_equal(e.n, 0);
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof(name), "V%d", i);
        assert_int_equal(gvl_env_set(&e, name, name, &err), 0);
    }
    assert_int_equal(e.n, 100);
    assert_string_equal(gvl_env_get(&e, "V99"), "V99");
    assert_null(gvl_env_envp(&e)[100]);
    gvl_env_free(&e);
}

static void test_env_slice(void **state)
{
    (void)state;
    char *base[] = {"PATH=/bin",
                    "GPUVISOR_MEMORY=1",
                    "GPUVISOR_COMPUTE=2",
                    "GPUVISOR_DAEMON=/run/x.sock",
                    "GPUVISOR_REGION_FD=7",
                    "GPUVISOR_INSTANCE=old",
                    "LD_PRELOAD=/a.so",
                    "CUDA_VISIBLE_DEVICES=1",
                    NULL};
    struct gvl_env e;
    struct gv_error err = {0};
    assert_int_equal(gvl_env_init(&e, base, &err), 0);
    struct gvl_slice s = {.instance = "team-a", .memory = "4294967296"};
    assert_int_equal(gvl_env_slice(&e, "/lib/libgpuvisor.so", &s, &err), 0);
    assert_string_equal(gvl_env_get(&e, GVL_ENV_INSTANCE), "team-a");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_MEMORY), "4294967296");
    assert_null(gvl_env_get(&e, GVL_ENV_COMPUTE));
    assert_null(gvl_env_get(&e, GVL_ENV_DAEMON));
    assert_null(gvl_env_get(&e, GVL_ENV_REGION_FD));
    assert_string_equal(gvl_env_get(&e, GVL_ENV_PRELOAD), "/a.so:/lib/libgpuvisor.so");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_DEVICES), "1"); /* left alone */
    assert_string_equal(gvl_env_get(&e, "PATH"), "/bin");
    s = (struct gvl_slice){.instance = "b", .compute = "2500", .devices = "GPU-x"};
    assert_int_equal(gvl_env_slice(&e, NULL, &s, &err), 0);
    assert_null(gvl_env_get(&e, GVL_ENV_MEMORY));
    assert_string_equal(gvl_env_get(&e, GVL_ENV_COMPUTE), "2500");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_DEVICES), "GPU-x");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_PRELOAD), "/a.so:/lib/libgpuvisor.so");
    s = (struct gvl_slice){0};
    assert_int_equal(gvl_env_slice(&e, NULL, &s, &err), -EINVAL);
    gvl_env_free(&e);
}

static void test_env_join(void **state)
{
    (void)state;
    char *base[] = {"GPUVISOR_MEMORY=1", "GPUVISOR_COMPUTE=2", "GPUVISOR_REGION_FD=9",
                    "CUDA_VISIBLE_DEVICES=0,1", "HOME=/root", NULL};
    struct gvl_env e;
    struct gv_error err = {0};
    assert_int_equal(gvl_env_init(&e, base, &err), 0);
    struct gvl_join j = {.socket = "/run/gpuvisor/gpuvisord.sock",
                         .instance = "0123456789ab",
                         .region_fd = 5,
                         .devices = "GPU-11111111-2222-3333-4444-555555555555"};
    assert_int_equal(gvl_env_join(&e, "/lib/libgpuvisor.so", &j, &err), 0);
    assert_string_equal(gvl_env_get(&e, GVL_ENV_DAEMON), "/run/gpuvisor/gpuvisord.sock");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_INSTANCE), "0123456789ab");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_REGION_FD), "5");
    assert_string_equal(gvl_env_get(&e, GVL_ENV_DEVICES),
                        "GPU-11111111-2222-3333-4444-555555555555");
    assert_null(gvl_env_get(&e, GVL_ENV_MEMORY));
    assert_null(gvl_env_get(&e, GVL_ENV_COMPUTE));
    assert_string_equal(gvl_env_get(&e, GVL_ENV_PRELOAD), "/lib/libgpuvisor.so");
    assert_string_equal(gvl_env_get(&e, "HOME"), "/root");
    /* Without a descriptor an inherited one is dropped: it belongs to another instance. */
    j.region_fd = -1;
    assert_int_equal(gvl_env_join(&e, NULL, &j, &err), 0);
    assert_null(gvl_env_get(&e, GVL_ENV_REGION_FD));
    gvl_env_free(&e);

    /* What the daemon tells a client: exactly the three variables, from an empty environment. */
    assert_int_equal(gvl_env_init(&e, NULL, &err), 0);
    j.devices = "GPU-x";
    assert_int_equal(gvl_env_join(&e, NULL, &j, &err), 0);
    assert_int_equal(e.n, 3);
    gvl_env_free(&e);

    assert_int_equal(gvl_env_init(&e, NULL, &err), 0);
    j.socket = NULL;
    assert_int_equal(gvl_env_join(&e, NULL, &j, &err), -EINVAL);
    j.socket = "/s";
    j.instance = "";
    assert_int_equal(gvl_env_join(&e, NULL, &j, &err), -EINVAL);
    gvl_env_free(&e);
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    close(fd);
}

static void test_find_shim(void **state)
{
    (void)state;
    char dir[] = "/tmp/gvl-shim.XXXXXX", p[PATH_MAX], bin[PATH_MAX], out[PATH_MAX];
    struct gv_error err = {0};
    assert_non_null(mkdtemp(dir));
    snprintf(bin, sizeof(bin), "%s/bin", dir);
    assert_int_equal(mkdir(bin, 0755), 0);
    /* Nothing there: the message names where it looked and the way out. */
    assert_int_equal(gvl_find_shim(NULL, bin, out, sizeof(out), &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/bin/../lib/libgpuvisor.so"));
    assert_non_null(strstr(err.msg, "GPUVISOR_SHIM"));
    snprintf(p, sizeof(p), "%s/lib", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/lib/libgpuvisor.so", dir);
    touch(p);
    assert_int_equal(gvl_find_shim("", bin, out, sizeof(out), &err), 0);
    assert_string_equal(out, p); /* absolute, without "bin/.." */
    /* The override wins, and must exist. */
    char other[PATH_MAX];
    snprintf(other, sizeof(other), "%s/other.so", dir);
    touch(other);
    assert_int_equal(gvl_find_shim(other, bin, out, sizeof(out), &err), 0);
    assert_string_equal(out, other);
    assert_int_equal(gvl_find_shim("/nonexistent/x.so", bin, out, sizeof(out), &err), -ENOENT);
    assert_non_null(strstr(err.msg, "GPUVISOR_SHIM=\"/nonexistent/x.so\""));
    /* Too small a buffer is an error, not a cut path. */
    assert_int_equal(gvl_find_shim(NULL, bin, out, 8, &err), -ENAMETOOLONG);
    unlink(other);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lib", dir);
    rmdir(p);
    rmdir(bin);
    rmdir(dir);
    /* The running program's own directory. */
    assert_int_equal(gvl_self_dir(out, sizeof(out), &err), 0);
    assert_true(out[0] == '/');
}

static void test_fd_and_socket(void **state)
{
    (void)state;
    struct gv_error err = {0};
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(gvl_fd_inherit(fd, &err), 0);
    assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
    close(fd);
    assert_int_equal(gvl_fd_inherit(fd, &err), -EBADF);

    char dir[] = "/tmp/gvl-sock.XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/s.sock", dir);
    assert_false(gvl_socket_exists(a.sun_path));
    assert_false(gvl_socket_exists(dir));
    assert_false(gvl_socket_exists(NULL));
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_true(gvl_socket_exists(a.sun_path));
    close(s);
    unlink(a.sun_path);
    rmdir(dir);

    setenv(GVL_ENV_DAEMON, "/tmp/x.sock", 1);
    assert_string_equal(gvl_daemon_socket(), "/tmp/x.sock");
    setenv(GVL_ENV_DAEMON, "", 1);
    assert_string_equal(gvl_daemon_socket(), GVL_DEFAULT_SOCKET);
    unsetenv(GVL_ENV_DAEMON);
    assert_string_equal(gvl_daemon_socket(), GVL_DEFAULT_SOCKET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preload),   cmocka_unit_test(test_preload_same_file),
        cmocka_unit_test(test_env_basics), cmocka_unit_test(test_env_slice),
        cmocka_unit_test(test_env_join),  cmocka_unit_test(test_find_shim),
        cmocka_unit_test(test_fd_and_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
