/* SPDX-License-Identifier: Apache-2.0 */
/* nvml_text.h: what nvmlErrorString says of each return code, for the two NVML libraries gpuvisor
 * builds (the simulator's and the remoting client's). */
#ifndef GV_NVML_TEXT_H
#define GV_NVML_TEXT_H

#include "core/nvml.h"

/* The text of r; "Unknown error" for a code NVML does not define. */
const char *gv_nvml_error_text(nvmlReturn_t r);

#endif
