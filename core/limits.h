/* SPDX-License-Identifier: Apache-2.0 */
/* limits.h: the limit strings, the text in which one part hands an instance's limits to another.
 *
 * `gpuvisor run` writes them into GPUVISOR_MEMORY, GPUVISOR_COMPUTE and GPUVISOR_CONTEXT_MEMORY;
 * the interposer reads those, and HAMi-core's CUDA_DEVICE_MEMORY_LIMIT[_i] and
 * CUDA_DEVICE_SM_LIMIT[_i], in a tenant's process. This is their one reader and their one writer,
 * so that what one part writes the other reads the same way. A limit string is
 *
 *   VALUE                   one value for every GPU
 *   KEY=VALUE,KEY=VALUE...  a value per GPU; empty items are skipped
 *
 * with KEY "*" (every GPU without a rule of its own), a CUDA ordinal of the reading process (0 to
 * GV_MAX_GPUS - 1, digits only), or a GPU UUID in any form core/uuid.h reads. What a VALUE is
 * depends on the variable (enum gv_limit_unit). A keyed string is shorter than GV_LIMITS_TEXT_MAX;
 * the writer never writes a longer one, and the reader refuses it.
 *
 * These functions neither read the environment nor keep state nor allocate, so that every text a
 * tenant's environment can hold can be tried on them directly (tests/core/test_limits.c,
 * fuzz/limits.c). Errors are values: a negative errno status and a message that quotes the
 * offending text, without the variable's name, which the caller puts in front. */
#ifndef GV_LIMITS_H
#define GV_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/uuid.h"

/* GPUs one machine holds, and so the CUDA ordinals and NVML indices one process sees: 0 to
 * GV_MAX_GPUS - 1. */
#define GV_MAX_GPUS 64

/* A limit string with keys is shorter than this (the reader reads each item in a buffer of this
 * size on its stack). It holds a UUID-keyed value of the largest size for each of 16 GPUs, which
 * is more than one instance region holds (GV_LEDGER_DEVICES). A string without '=' is one number
 * and has no such limit. */
#define GV_LIMITS_TEXT_MAX 1024

/* What a VALUE is. */
enum gv_limit_unit {
    GV_LIMIT_SIZE,    /* bytes, as gv_size_parse reads them: "4GiB", "1536m", "1048576" */
    GV_LIMIT_SHARE,   /* whole basis points of the GPU's time, 1 to GV_SHARE_FULL: "2500" is 25% */
    GV_LIMIT_PERCENT, /* HAMi-core's whole percent, 0 to 100, where 0 and 100 mean no limit */
};

/* Which GPUs a rule is for. */
enum gv_limit_key {
    GV_LIMIT_ALL,     /* "*", or a value without a key */
    GV_LIMIT_ORDINAL, /* a CUDA ordinal of the reading process */
    GV_LIMIT_UUID,    /* a GPU, wherever CUDA_VISIBLE_DEVICES puts it */
};

/* One rule of a limit string. Invariants of a rule the reader made: ordinal is 0 to GV_MAX_GPUS - 1
 * for GV_LIMIT_ORDINAL and -1 otherwise; uuid is set for GV_LIMIT_UUID only (zero otherwise); value
 * is bytes for GV_LIMIT_SIZE (any 64-bit number, 0 included) and basis points, 1 to GV_SHARE_FULL,
 * for GV_LIMIT_SHARE and GV_LIMIT_PERCENT. */
struct gv_limit {
    enum gv_limit_key key;
    int ordinal;
    uint8_t uuid[GV_UUID_LEN];
    uint64_t value;
};

/* Read one variable's value: "VALUE" or "KEY=VALUE,...", each VALUE a `unit`. Appends its rules to
 * rules[*n ...], of which there is room for cap in all, in the order written, and advances *n; a
 * GV_LIMIT_PERCENT of 0 or 100 adds no rule. Returns 0, or -EINVAL, -ERANGE (an ordinal past
 * GV_MAX_GPUS), -E2BIG (a keyed text of GV_LIMITS_TEXT_MAX characters or more) or -ENOSPC (more
 * rules than cap) with a message in err, and then *n is as it was. */
int gv_limits_parse(const char *text, enum gv_limit_unit unit, struct gv_limit *rules, unsigned cap,
                    unsigned *n, struct gv_error *err);

/* Read one VALUE for the GPUs `key` names (its key, its ordinal, which for GV_LIMIT_ORDINAL the
 * caller keeps below GV_MAX_GPUS, and its uuid; its value is ignored), as HAMi-core's
 * CUDA_DEVICE_MEMORY_LIMIT_1 is for ordinal 1: appends at most one rule, as gv_limits_parse does.
 */
int gv_limits_add(const char *text, enum gv_limit_unit unit, const struct gv_limit *key,
                  struct gv_limit *rules, unsigned cap, unsigned *n, struct gv_error *err);

/* Write n rules of a `unit` as a limit string into out (len bytes): "VALUE" when the one rule is
 * for every GPU, else "KEY=VALUE,..." in the order given, with each UUID as gv_uuid_format writes
 * it and each value a plain decimal number. What it writes, gv_limits_parse reads back into the
 * same rules. Returns 0, or -EINVAL (no rules, a rule the reader would refuse: an ordinal out of
 * range, a share outside 1 to GV_SHARE_FULL, a bad key; GV_LIMIT_PERCENT, which gpuvisor reads but
 * never writes) or -E2BIG (the text would not fit in len, or would reach GV_LIMITS_TEXT_MAX), with
 * a message; out is then "". */
int gv_limits_format(const struct gv_limit *rules, unsigned n, enum gv_limit_unit unit, char *out,
                     size_t len, struct gv_error *err);

/* What a limit string means for one GPU: the rule of rules[0, n) for CUDA ordinal `ordinal` (-1:
 * unknown) with `uuid`. The first rule with its UUID, else the last with its ordinal, else the last
 * "*"; NULL when none applies. */
const struct gv_limit *gv_limits_find(const struct gv_limit *rules, unsigned n, int ordinal,
                                      const uint8_t uuid[GV_UUID_LEN]);

#endif
