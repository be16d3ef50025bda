/* spec.h: the interposer's names for the limit strings and GPU UUIDs that core/ reads for every
 * part (core/limits.h, core/uuid.h).
 *
 * Every limit the interposer takes is one environment variable holding a limit string:
 * GPUVISOR_MEMORY and GPUVISOR_CONTEXT_MEMORY (sizes), GPUVISOR_COMPUTE (basis points), and
 * HAMi-core's CUDA_DEVICE_MEMORY_LIMIT[_i] (a size) and CUDA_DEVICE_SM_LIMIT[_i] (a percentage),
 * whose key is in the variable's name. instance.c hands each value it reads to core's reader. The
 * names below are core's under the interposer's prefix, nothing more: there is no second reader. */
#ifndef GVS_SPEC_H
#define GVS_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/uuid.h"

#define GVS_SPEC_ORDINALS GV_MAX_GPUS
#define GVS_SPEC_MAX_TEXT GV_LIMITS_TEXT_MAX

#define gvs_unit    gv_limit_unit
#define GVS_SIZE    GV_LIMIT_SIZE
#define GVS_SHARE   GV_LIMIT_SHARE
#define GVS_PERCENT GV_LIMIT_PERCENT

#define gvs_key         gv_limit_key
#define GVS_KEY_ALL     GV_LIMIT_ALL
#define GVS_KEY_ORDINAL GV_LIMIT_ORDINAL
#define GVS_KEY_UUID    GV_LIMIT_UUID

#define gvs_rule       gv_limit
#define gvs_spec_parse gv_limits_parse
#define gvs_spec_add   gv_limits_add

/* A UUID in the first len bytes of s, in any form core/uuid.h reads (NVML's text included). */
static inline bool gvs_parse_uuid(const char *s, size_t len, uint8_t out[GV_UUID_LEN])
{
    return gv_uuid_parse(s, len, 0, out, NULL) == 0;
}

#endif
