/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: the client's libnvidia-ml.so.1. */
#include "remote/client/rc.h"
