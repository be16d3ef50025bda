/* SPDX-License-Identifier: Apache-2.0 */
/* visible.h: what a CUDA_VISIBLE_DEVICES list names, read as the driver reads it.
 *
 * Each comma-separated entry is a machine index (NVML's, the PCI order) or a prefix of a GPU's UUID
 * text ("GPU-3f2a", in any case); blanks around an entry are ignored. Ordinal i of the process is
 * the i-th entry, and the list ends at the first entry that names no GPU, names one already listed,
 * or is an ambiguous UUID prefix: the GPUs after it are hidden. The simulated driver and the
 * interposer's NVML side both number GPUs by this one reading. */
#ifndef GV_VISIBLE_H
#define GV_VISIBLE_H

#include <stdbool.h>
#include <stddef.h>

/* Fills buf (len bytes) with the UUID text of machine GPU `index`; false when it cannot be had. */
typedef bool (*gv_uuid_text_fn)(unsigned index, char *buf, size_t len, void *arg);

/* The machine indices that the list names, in ordinal order, into out (at most cap). n is the
 * number of GPUs on the machine; uuid_text is asked only for entries that are UUID prefixes.
 * Returns how many GPUs are visible. */
unsigned gv_visible_parse(const char *list, unsigned n, gv_uuid_text_fn uuid_text, void *arg,
                          int *out, unsigned cap);

#endif
