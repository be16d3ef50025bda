/* SPDX-License-Identifier: Apache-2.0 */
/* rest_module.c: libgpuvisor-cli.so, the daemon commands of `gpuvisor` (rest.h), linked whole
 * from their library with libcurl and jansson; `gpuvisor` opens it on demand (rest_load.c). */
#include "cli/rest.h"
