/* spec.h: the interposer's limit variables, read from their text.
 *
 * Every limit the interposer takes is one environment variable whose value is one VALUE for every
 * GPU, or "KEY=VALUE,..." with KEY a GPU UUID ("GPU-..."), a CUDA ordinal of this process or "*":
 * GPUVISOR_MEMORY and GPUVISOR_CONTEXT_MEMORY (sizes), GPUVISOR_COMPUTE (basis points), and
 * HAMi-core's CUDA_DEVICE_MEMORY_LIMIT[_i] (a size) and CUDA_DEVICE_SM_LIMIT[_i] (a percentage),
 * whose key is in the variable's name. instance.c hands each value it reads to these functions;
 * they neither read the environment nor keep state nor allocate, so that every text a tenant's
 * environment can hold can be tried on them directly (tests/shim/unit, fuzz/shim_spec.c).
 *
 * A value turns into rules appended to the caller's array. Errors are values: a negative errno
 * status and a message that quotes the offending text, without the variable's name, which the
 * caller puts in front. */
#ifndef GVS_SPEC_H
#define GVS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* CUDA ordinals a key may name: 0 to GVS_SPEC_ORDINALS - 1. */
#define GVS_SPEC_ORDINALS 64

/* A keyed value ("KEY=VALUE,...") must be shorter than this; each item is read in a buffer of
 * this size. A value without '=' has no such limit. */
#define GVS_SPEC_MAX_TEXT 1024

/* What a VALUE is. */
enum gvs_unit {
    GVS_SIZE,    /* bytes, written as gv_size_parse reads them: "4GiB", "1536m", "1048576" */
    GVS_SHARE,   /* whole basis points of the GPU's time, 1 to GV_SHARE_FULL: "2500" is 25% */
    GVS_PERCENT, /* HAMi-core's whole percent, 0 to 100, where 0 and 100 mean no limit */
};

/* Which GPUs a rule is for. */
enum gvs_key {
    GVS_KEY_ALL,     /* "*", or a value without a key */
    GVS_KEY_ORDINAL, /* a CUDA ordinal of this process */
    GVS_KEY_UUID,    /* a GPU, wherever CUDA_VISIBLE_DEVICES puts it */
};

/* Invariants of a rule a parser made: ordinal is 0 to GVS_SPEC_ORDINALS - 1 for GVS_KEY_ORDINAL
 * and -1 otherwise; uuid is set for GVS_KEY_UUID only; value is bytes for GVS_SIZE (any 64-bit
 * number, 0 included) and basis points, 1 to GV_SHARE_FULL, for GVS_SHARE and GVS_PERCENT. */
struct gvs_rule {
    enum gvs_key key;
    int ordinal;
    uint8_t uuid[16];
    uint64_t value;
};

/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" -> 16 bytes: the first len bytes of s, which need not
 * be terminated. "GPU-" is optional and dashes may be anywhere; exactly 32 hex digits are. */
bool gvs_parse_uuid(const char *s, size_t len, uint8_t out[16]);

/* One variable's value: "VALUE", or "KEY=VALUE,..." (empty items are skipped), each VALUE a
 * `unit`. Appends its rules to rules[*n ...], of which there is room for cap in all, in the order
 * written, and advances *n; a GVS_PERCENT of 0 or 100 adds no rule. Returns 0, or a negative errno
 * status with a message in err, and then *n is as it was. */
int gvs_spec_parse(const char *text, enum gvs_unit unit, struct gvs_rule *rules, unsigned cap,
                   unsigned *n, struct gv_error *err);

/* One VALUE for the GPUs `key` names (its key, its ordinal, which for GVS_KEY_ORDINAL the caller
 * keeps within GVS_SPEC_ORDINALS, and its uuid; its value is ignored), as HAMi-core's
 * CUDA_DEVICE_MEMORY_LIMIT_1 is for ordinal 1: appends at most one rule, as gvs_spec_parse does. */
int gvs_spec_add(const char *text, enum gvs_unit unit, const struct gvs_rule *key,
                 struct gvs_rule *rules, unsigned cap, unsigned *n, struct gv_error *err);

#endif
