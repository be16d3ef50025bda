/* SPDX-License-Identifier: Apache-2.0 */
/* regiontest.c: the set-up the instance region tests share (see regiontest.h). */
#include "tests/region/regiontest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

char rt_dir[64];

int rt_setup(void **state)
{
    (void)state;
    snprintf(rt_dir, sizeof(rt_dir), "/tmp/gvr-test-XXXXXX");
    return mkdtemp(rt_dir) ? 0 : -1;
}

static int remove_one(const char *name, void *arg)
{
    (void)arg;
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", rt_dir, name);
    unlink(path);
    return 0;
}

int rt_teardown(void **state)
{
    (void)state;
    gvr_list(rt_dir, remove_one, NULL, NULL);
    return rmdir(rt_dir);
}

struct gvr_device_limit rt_gpu(uint8_t id, uint64_t memory, uint32_t share)
{
    struct gvr_device_limit l = {.memory = memory, .share = share};
    l.uuid[0] = id;
    for (int i = 1; i < GVR_UUID_LEN; i++)
        l.uuid[i] = (uint8_t)(0xa0 + i);
    return l;
}

pid_t rt_member_child(const char *name, uint64_t context, uint64_t bytes, bool hold_lock)
{
    int p[2];
    if (pipe(p))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(p[0]);
        struct gvr_region r;
        int ok = gvr_open(&r, rt_dir, name, 0, NULL, 0, NULL) >= 0 && gvr_join(&r, NULL) == 0 &&
                 (!context || gvr_charge_context(&r, 0, context) == 0) &&
                 gvr_charge(&r, 0, bytes) == 0 && (!hold_lock || gvr_testhook_lock(&r) == 0);
        char c = ok ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    ssize_t n = read(p[0], &c, 1);
    close(p[0]);
    if (n != 1 || c != 'y') {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}
