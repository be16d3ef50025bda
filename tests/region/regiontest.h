/* SPDX-License-Identifier: Apache-2.0 */
/* regiontest.h: what the instance region tests share: a private region directory per test, made
 * before it and emptied and removed after it (so that tests run in parallel and leave nothing in
 * /tmp), and GPU limits with made-up UUIDs. */
#ifndef GV_REGIONTEST_H
#define GV_REGIONTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "region/region.h"

/* The current test's region directory, made by rt_setup. */
extern char rt_dir[64];

/* cmocka setup and teardown: make rt_dir; remove every region in it, then it. */
int rt_setup(void **state);
int rt_teardown(void **state);

/* A GPU whose UUID is `id` followed by fixed bytes, so that ids tell GPUs apart. */
struct gvr_device_limit rt_gpu(uint8_t id, uint64_t memory, uint32_t share);

/* A child process that joins instance `name` in rt_dir, charges `context` bytes of context memory
 * and `bytes` of allocations on device 0, takes the region's mutex if `hold_lock`, tells the
 * parent, and waits to be killed. Returns its pid once it has done all that, or -1. */
pid_t rt_member_child(const char *name, uint64_t context, uint64_t bytes, bool hold_lock);

#endif
