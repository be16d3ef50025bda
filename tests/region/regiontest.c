/* regiontest.c: the set-up the instance region tests share (see regiontest.h). */
#include "tests/region/regiontest.h"

#include <stdio.h>
#include <stdlib.h>
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
