/* regiontest.h: what the instance region tests share: a private region directory per test, made
 * before it and emptied and removed after it (so that tests run in parallel and leave nothing in
 * /tmp), and GPU limits with made-up UUIDs. */
#ifndef GV_REGIONTEST_H
#define GV_REGIONTEST_H

#include <stdint.h>

#include "region/region.h"

/* The current test's region directory, made by rt_setup. */
extern char rt_dir[64];

/* cmocka setup and teardown: make rt_dir; remove every region in it, then it. */
int rt_setup(void **state);
int rt_teardown(void **state);

/* A GPU whose UUID is `id` followed by fixed bytes, so that ids tell GPUs apart. */
struct gvr_device_limit rt_gpu(uint8_t id, uint64_t memory, uint32_t share);

#endif
