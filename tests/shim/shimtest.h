/* SPDX-License-Identifier: Apache-2.0 */
/* shimtest.h: set-up shared by the interposer tests.
 *
 * A test process is preloaded with libgpuvisor.so by CTest; the interposer reads its configuration
 * at the first driver call, so a test sets the instance up first: a private simulated machine, a
 * private region directory, an instance name and limits. Forked children inherit all of it and are
 * members of the same instance. The region can then be read directly to check the books. */
#ifndef SHIMTEST_H
#define SHIMTEST_H

#include <stdint.h>

#include "region/region.h"
#include "simtest.h"

/* A private machine with `gpus`, a private region directory, instance `name`, and GPUVISOR_MEMORY
 * = memory (NULL: none); context memory is measured (GPUVISOR_CONTEXT_MEMORY unset). Call before
 * the first driver call. */
void shim_setup(const char *gpus, const char *name, const char *memory);

/* Bytes the instance uses / its limit on the GPU with this CUDA ordinal (as this process sees it),
 * read from the region. */
uint64_t shim_used(int ordinal);
uint64_t shim_limit(int ordinal);

/* "GPU-xxxxxxxx-..." -> 16 bytes. Returns 0 or -1. */
int shim_parse_uuid(const char *text, uint8_t out[16]);

/* The region directory and instance name of this test. */
const char *shim_dir(void);
const char *shim_name(void);

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)

#endif
