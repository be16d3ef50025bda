/* SPDX-License-Identifier: Apache-2.0 */
/* nvml.c: the NVML queries a client's libnvidia-ml.so.1 forwards. */
#include "remote/server/srv.h"

static const struct srv_entry entries[] = {
    {0, NULL},
};

const struct srv_group srv_group_nvml = {entries, NULL};
