/* SPDX-License-Identifier: Apache-2.0 */
/* remote.c: POST /v1/remote/verify, how gpuvisor-remoted admits a client into an instance.
 *
 * A remote client proves it holds a token by an HMAC-SHA256 over the handshake's nonces, keyed by
 * the token's SHA-256 in hex (remote/auth.h). That key is exactly what this daemon keeps of each
 * token, so the check happens here and no token or key ever leaves the daemon: the server sends
 * the messages and the proof, and gets back which instance the client may join and the proof it
 * owes the client in return. Only the admin may ask (the server runs as root on the local socket,
 * or holds the admin's token). A tenant's proof admits it to its own instances; the admin's to any.
 * A proof that matches no token, and an instance the prover may not see, get the same 403. */
#include <string.h>

#include "core/sha256.h"
#include "core/uuid.h"
#include "daemon/api.h"
#include "daemon/gvd.h"
#include "daemon/request.h"

static void mac(const char *key, const uint8_t *msg, size_t n, uint8_t out[32])
{
    gv_hmac_sha256(key, strlen(key), msg, n, out);
}

void gvd_api_remote_verify(struct gvd_req *q, struct gvd_resp *r)
{
    struct gvd *d = q->d;
    struct gv_error err = {0};
    struct gvd_remote_verify v;
    int rc = gvd_parse_remote_verify(q->body, q->body_len, &v, &err);
    if (rc)
        return gvd_reply_err(r, rc, &err);
    uint8_t want[32];
    const struct gvd_tenant *who = NULL;
    bool admin = false;
    /* Every key is tried, whatever matched, so the time taken says nothing about which. */
    if (d->admin_hash[0]) {
        mac(d->admin_hash, v.client_message, v.client_len, want);
        admin = gv_equal_ct(want, v.proof, sizeof(want));
    }
    for (size_t i = 0; i < d->ntenants; i++) {
        mac(d->tenants[i]->token_hash, v.client_message, v.client_len, want);
        if (gv_equal_ct(want, v.proof, sizeof(want)) && !who)
            who = d->tenants[i];
    }
    struct gvd_instance *in = NULL;
    const char *key = NULL;
    if (admin) {
        in = gvd_instance_find(d, v.instance, NULL);
        key = d->admin_hash;
    } else if (who) {
        in = gvd_instance_find(d, v.instance, who->name);
        key = who->token_hash;
    }
    if (!in)
        return gvd_reply_error(r, 403, "authentication failed");
    uint8_t sproof[32];
    char hex[65];
    mac(key, v.server_message, v.server_len, sproof);
    gv_hex(sproof, sizeof(sproof), hex);
    char uuid[GV_UUID_TEXT];
    gv_uuid_format(in->uuid, uuid);
    gvd_reply_json(r, 200,
                   json_pack("{ssssssss}", "instance", in->id, "tenant", in->tenant, "uuid", uuid,
                             "server_proof", hex));
}
