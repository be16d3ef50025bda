/* SPDX-License-Identifier: Apache-2.0 */
/* cli_testd.c: the local socket of gpuvisord, for the tests of `gpuvisor run --instance`, before
 * and beside the real daemon: the stand-in of tests/local (testd.h) with one instance, run until
 * SIGTERM, then removed.
 *
 *   cli_testd ID NAME UID GPU-UUID MEMORY SHARE
 *
 * makes instance ID (NAME, "" for none) that user UID (and root) may join, on that GPU with MEMORY
 * (a size) and SHARE (basis points), prints "socket PATH" and "ready", and serves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/size.h"
#include "core/uuid.h"
#include "testd.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    uint8_t uuid[GV_UUID_LEN];
    uint64_t memory = 0;
    if (argc != 7 || gv_uuid_parse(argv[4], strlen(argv[4]), GV_UUID_PREFIXED, uuid, NULL) < 0 ||
        gv_size_parse(argv[5], &memory, NULL) < 0) {
        fprintf(stderr, "usage: cli_testd ID NAME UID GPU-UUID MEMORY SHARE\n");
        return 2;
    }
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct td t;
    if (td_init(&t) < 0 ||
        td_add(&t, argv[1], argv[2], (uid_t)atol(argv[3]), uuid, memory,
               (uint32_t)atol(argv[6])) < 0 ||
        td_start(&t) < 0) {
        fprintf(stderr, "cli_testd: cannot start the stand-in daemon\n");
        td_fini(&t);
        return 1;
    }
    printf("socket %s\nready\n", t.sock);
    fflush(stdout);
    while (!stop)
        sigsuspend(&old);
    td_fini(&t);
    return 0;
}
