/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: gpuvisord's entry point: options, signals, start, wait, stop.
 *
 * Everything else is in the gvd library. SIGTERM and SIGINT are blocked in every thread and taken
 * here with sigwait, so a stop request never interrupts a worker in the middle of a transaction;
 * the daemon then stops serving and closes its regions, leaving files and database for the next
 * start. SIGPIPE is ignored: a client that goes away is an error on its connection, not a death. */
#include <signal.h>
#include <stdio.h>

#include "daemon/gvd.h"

int main(int argc, char **argv)
{
    struct gvd_config cfg;
    struct gv_error err = {0};
    int rc = gvd_config_parse(argc, argv, &cfg, &err);
    if (rc)
        return rc > 0 ? 0 : (fprintf(stderr, "gpuvisord: %s\n", err.msg), 2);

    signal(SIGPIPE, SIG_IGN);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    static struct gvd d;
    if (gvd_start(&d, &cfg, &err) != 0) {
        fprintf(stderr, "gpuvisord: %s\n", err.msg);
        gvd_stop(&d);
        return 1;
    }
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "gpuvisord: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gvd_stop(&d);
    return 0;
}
