/* SPDX-License-Identifier: Apache-2.0 */
/* host_state.c (fuzz): the host definitions as JSON (host/state.c), which gpuvisor reads from its
 * state file, gpuvisord from its database, and both from whoever edited the file by hand; and the
 * PCI addresses and UUIDs those definitions name (host/pci.c).
 *
 * The input is read as a JSON document, and, as text, as an address and as a UUID. Properties:
 *   - a state that is read writes back to JSON that reads again to the same records;
 *   - a refusal is -EINVAL with a terminated message and leaves no records;
 *   - an address that is read is the canonical 12 characters (lowercase hex, domain first) and
 *     reads back to itself; a UUID that is read is 36 lowercase characters that read back. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "host/host.h"

static void check_state(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!j)
        return;
    struct gvh_state s;
    struct gv_error err = {0};
    int rc = gvh_state_from_json(j, &s, &err);
    json_decref(j);
    if (rc) {
        fuzz_check(rc == -EINVAL && memchr(err.msg, 0, sizeof(err.msg)) && err.msg[0]);
        fuzz_check(s.npt == 0 && s.nvgpus == 0 && !s.pt && !s.vgpus);
        return;
    }
    json_t *back = gvh_state_json(&s);
    fuzz_check(back != NULL);
    struct gvh_state t;
    fuzz_check(gvh_state_from_json(back, &t, NULL) == 0);
    json_decref(back);
    fuzz_check(t.npt == s.npt && t.nvgpus == s.nvgpus);
    for (size_t i = 0; i < s.npt; i++) {
        fuzz_check(strcmp(t.pt[i].gpu, s.pt[i].gpu) == 0 && t.pt[i].nfn == s.pt[i].nfn);
        for (size_t k = 0; k < s.pt[i].nfn; k++)
            fuzz_check(strcmp(t.pt[i].fn[k].bdf, s.pt[i].fn[k].bdf) == 0 &&
                       strcmp(t.pt[i].fn[k].driver, s.pt[i].fn[k].driver) == 0);
    }
    for (size_t i = 0; i < s.nvgpus; i++)
        fuzz_check(strcmp(t.vgpus[i].id, s.vgpus[i].id) == 0 &&
                   strcmp(t.vgpus[i].type, s.vgpus[i].type) == 0 &&
                   t.vgpus[i].sriov == s.vgpus[i].sriov &&
                   t.vgpus[i].start_auto == s.vgpus[i].start_auto);
    gvh_state_free(&s);
    gvh_state_free(&t);
}

static void check_ids(const uint8_t *data, size_t size)
{
    char text[64];
    if (size >= sizeof(text))
        return;
    memcpy(text, data, size);
    text[size] = 0;
    char bdf[GVH_BDF_LEN], again[GVH_BDF_LEN];
    struct gv_error err = {0};
    if (gvh_bdf_parse(text, bdf, &err) == 0) {
        fuzz_check(strlen(bdf) == 12 && bdf[4] == ':' && bdf[7] == ':' && bdf[10] == '.');
        for (const char *p = bdf; *p; p++)
            fuzz_check(!isupper((unsigned char)*p));
        fuzz_check(gvh_bdf_parse(bdf, again, NULL) == 0 && strcmp(bdf, again) == 0);
    } else {
        fuzz_check(err.code == -EINVAL && memchr(err.msg, 0, sizeof(err.msg)) && err.msg[0]);
    }
    char id[GVH_ID_LEN], id2[GVH_ID_LEN];
    if (gvh_uuid_parse(text, id, NULL) == 0) {
        fuzz_check(strlen(id) == 36);
        for (const char *p = id; *p; p++)
            fuzz_check(!isupper((unsigned char)*p));
        fuzz_check(gvh_uuid_parse(id, id2, NULL) == 0 && strcmp(id, id2) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_state(data, size);
    check_ids(data, size);
    return 0;
}
