/* SPDX-License-Identifier: Apache-2.0 */
/* remoted.h: the listening side of gpuvisor-remoted (main.c, daemon.c). */
#ifndef GVS_REMOTED_H
#define GVS_REMOTED_H

#include <stddef.h>
#include <stdint.h>

#include "remote/auth.h"

/* gpuvisord, for clients that join its instances. */
struct remoted_daemon {
    const char *socket; /* its local socket */
    char instance[32];  /* after a verification: the instance's id */
    char tenant[128];   /* and its tenant */
    char uuid[48];      /* and its GPU */
};

/* A verifier (auth.h) asking gpuvisord (arg: struct remoted_daemon). */
int remoted_verify_daemon(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                          const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                          uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen);

#endif
