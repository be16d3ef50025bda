/* SPDX-License-Identifier: Apache-2.0 */
/* test_memory_dl.c: test_memory.c's assertions, with every driver call reached the CUDA runtime's
 * way (dlopen + dlsym + cuGetProcAddress with versions and per-thread-stream flags). */
#include "via_procaddr.h"

#include "test_memory.c"
