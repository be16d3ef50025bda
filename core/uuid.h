/* SPDX-License-Identifier: Apache-2.0 */
/* uuid.h: GPU UUIDs, the one name of a GPU that means the same card in every process.
 *
 * Inside gpuvisor a UUID is its 16 bytes (what cuDeviceGetUuid gives); comparisons are made on the
 * bytes, never on the text. The text exists only at the edges, and this is its one reader and its
 * one writer. The reader takes every form a user, NVML or CUDA_VISIBLE_DEVICES hands over:
 *
 *   GPU-12345678-9abc-def0-1234-56789abcdef0   as NVML and nvidia-smi print it
 *   MIG-12345678-9abc-def0-1234-56789abcdef0   a MIG instance, as NVML prints it since R470
 *   12345678-9abc-def0-1234-56789abcdef0       no prefix
 *   GPU-123456789abcdef0123456789abcdef0       no dashes (with or without a prefix)
 *
 * The prefix and the hex digits are read in any case ("gpu-", "Mig-", "ABCDEF"). Dashes are
 * ignored wherever they are, as they carry nothing: the 32 hex digits alone name the GPU, and
 * there must be exactly 32. Refused: fewer or more digits, a prefix twice ("GPU-GPU-..."), any
 * character but hex digits and dashes after the prefix (spaces included), the old MIG form
 * "MIG-GPU-<uuid>/<gi>/<ci>" (it names an instance by position, not by 16 bytes). The prefix is not
 * kept: a MIG instance's 16 bytes are its own, distinct from its GPU's. */
#ifndef GV_UUID_H
#define GV_UUID_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define GV_UUID_LEN  16 /* bytes */
#define GV_UUID_TEXT 41 /* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" and its terminator */

/* gv_uuid_parse flags */
#define GV_UUID_PREFIXED 0x1 /* the prefix "GPU-" or "MIG-" is required */

/* Read the first len bytes of text (which need not be terminated there: a key cut out of a list)
 * as a UUID in one of the forms above into uuid. Returns 0, or -EINVAL with a message that quotes
 * the text and says what is wrong; uuid is written only on success. */
int gv_uuid_parse(const char *text, size_t len, unsigned flags, uint8_t uuid[GV_UUID_LEN],
                  struct gv_error *err);

/* Write the UUID as NVML prints a GPU's: "GPU-" and lower-case hex digits in groups 8-4-4-4-12,
 * GV_UUID_TEXT bytes with the terminator. Returns out. */
char *gv_uuid_format(const uint8_t uuid[GV_UUID_LEN], char out[GV_UUID_TEXT]);

#endif
