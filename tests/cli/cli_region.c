/* SPDX-License-Identifier: Apache-2.0 */
/* cli_region.c: an instance member made with the region API alone, for the CLI tests that must not
 * depend on the interposer.
 *
 *   cli_region join               join the instance named by $GPUVISOR_INSTANCE (creating it), then
 *                                 leave and exit: what a short tenant of `gpuvisor run` leaves
 * behind cli_region hold NAME UUID LIMIT_MIB CHARGE_MIB [SHARE_BP] create instance NAME with that
 * limit (and compute share) on that GPU, join, charge, count two refusals by the slice and one by
 * the driver, print "ready" and wait until killed
 *
 * The region directory is $GPUVISOR_REGION_DIR, as for the CLI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/uuid.h"
#include "region/region.h"

int main(int argc, char **argv)
{
    struct gvr_region r = {0};
    struct gv_error err = {0};
    if (argc == 2 && strcmp(argv[1], "join") == 0) {
        const char *name = getenv("GPUVISOR_INSTANCE");
        if (!name || gvr_open(&r, NULL, name, GVR_CREATE, NULL, 0, &err) < 0 ||
            gvr_join(&r, &err) < 0) {
            fprintf(stderr, "cli_region: join: %s\n", err.msg);
            return 1;
        }
        gvr_close(&r);
        return 0;
    }
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "hold") == 0) {
        struct gvr_device_limit lim = {0};
        if (gv_uuid_parse(argv[3], strlen(argv[3]), 0, lim.uuid, &err) < 0) {
            fprintf(stderr, "cli_region: %s\n", err.msg);
            return 1;
        }
        lim.memory = strtoull(argv[4], NULL, 10) << 20;
        lim.share = argc == 7 ? (uint32_t)strtoul(argv[6], NULL, 10) : 0;
        if (gvr_open(&r, NULL, argv[2], GVR_CREATE, &lim, 1, &err) < 0 || gvr_join(&r, &err) < 0) {
            fprintf(stderr, "cli_region: hold: %s\n", err.msg);
            return 1;
        }
        int dev = gvr_device_find(&r, lim.uuid);
        if (dev < 0 || gvr_charge(&r, (unsigned)dev, strtoull(argv[5], NULL, 10) << 20) < 0) {
            fprintf(stderr, "cli_region: charge failed\n");
            return 1;
        }
        /* Two charges the slice refused and one the driver did, as the interposer counts them. */
        gvr_count_refusal(&r, (unsigned)dev, GVR_REFUSED_SLICE);
        gvr_count_refusal(&r, (unsigned)dev, GVR_REFUSED_SLICE);
        gvr_count_refusal(&r, (unsigned)dev, GVR_REFUSED_DRIVER);
        printf("ready\n");
        fflush(stdout);
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: cli_region join | hold NAME UUID LIMIT_MIB CHARGE_MIB [SHARE_BP]\n");
    return 2;
}
