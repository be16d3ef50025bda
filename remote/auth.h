/* SPDX-License-Identifier: Apache-2.0 */
/* auth.h: the handshake that opens a remoting session.
 *
 *   client: the 8 bytes "GVREMOTE", then HELLO {lowest version, highest version, 32-byte client
 *           nonce, the instance to join or ""}
 *   server: CHALLENGE {version, 32-byte server nonce}        or REFUSED {reason}
 *   client: PROOF {HMAC-SHA256(key, "gpuvisor-remote client" | server nonce | client nonce |
 *           instance)}
 *   server: WELCOME {HMAC-SHA256(key, "gpuvisor-remote server" | client nonce | server nonce),
 *           largest frame, session name}                     or REFUSED {reason}
 *
 * The key is the lowercase hex text of the token's SHA-256: what gpuvisord keeps of a tenant's
 * token, so that the daemon can check a proof made with a tenant's token without ever holding
 * the token. The token never crosses the wire. The server's nonce is fresh for every connection, so
 * a proof recorded from one session is worthless in another (a replayed handshake fails). The
 * client checks the server's proof too: a server that does not know the token cannot pose as one.
 * Handshake frames are at most GVA_MAX_FRAME bytes. */
#ifndef GVA_AUTH_H
#define GVA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/conn.h"

#define GVA_MAGIC     "GVREMOTE"
#define GVA_NONCE     32
#define GVA_MAC       32
#define GVA_MAX_FRAME 1024
#define GVA_MAX_TOKEN 512
#define GVA_MAX_WHO   128

/* The key of a token: the hex text of its SHA-256 (64 characters and a terminator). */
#define GVA_KEY 65
void gva_key(const void *token, size_t tlen, char key[GVA_KEY]);

/* What the client's proof covers: label, server nonce, client nonce, instance. Returns its length
 * (at most GVA_MSG). */
#define GVA_MSG 256
size_t gva_client_message(const uint8_t snonce[GVA_NONCE], const uint8_t cnonce[GVA_NONCE],
                          const char *who, uint8_t out[GVA_MSG]);
/* What the server's proof covers: label, client nonce, server nonce. */
size_t gva_server_message(const uint8_t cnonce[GVA_NONCE], const uint8_t snonce[GVA_NONCE],
                          uint8_t out[GVA_MSG]);
/* HMAC-SHA256 of msg under a key. */
void gva_mac(const char key[GVA_KEY], const uint8_t *msg, size_t n, uint8_t out[GVA_MAC]);

/* Fill buf with n random bytes (getrandom). Returns false when the system has none to give. */
bool gva_random(void *buf, size_t n);

/* The tokens a server accepts: read from a file, one per line (blank lines and lines starting
 * with # are skipped; surrounding white space is not part of a token). Only their keys are kept. */
struct gva_tokens {
    char **tok; /* keys (gva_key) */
    size_t count;
};
int gva_tokens_load(const char *path, struct gva_tokens *t, char *err, size_t errlen);
/* A client's token: the first one in a file of that form, as it is (out has max bytes). Returns 0
 * or -1 with a reason in err. */
int gva_token_read(const char *path, char *out, size_t max, char *err, size_t errlen);
void gva_tokens_free(struct gva_tokens *t);

/* Decoders of the handshake's frames (the fuzz target drives them). Each checks every field and
 * returns false with a reason in err when the frame is not what it must be. */
struct gva_hello {
    uint32_t vmin, vmax;
    uint8_t cnonce[GVA_NONCE];
    char who[GVA_MAX_WHO];
};
bool gva_hello_decode(const struct gvw_hdr *h, const void *body, struct gva_hello *out, char *err,
                      size_t errlen);
bool gva_proof_decode(const struct gvw_hdr *h, const void *body, uint8_t mac[GVA_MAC], char *err,
                      size_t errlen);

/* What a server learned from a handshake that succeeded. */
struct gva_session {
    size_t token;          /* which token of the set the client proved */
    char who[GVA_MAX_WHO]; /* the instance it asked to join, or "" */
};

/* Who checks a client's proof. Given the instance the client asked for (`who`, maybe ""), the
 * message its proof covers and the proof, and the message the server's proof must cover: return 0
 * with the server's proof in sproof when the proof is right, or -1 with the reason (for the log)
 * in err. */
typedef int (*gva_verify_fn)(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                             const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                             uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen);

/* A verifier over a token set (arg: the struct gva_tokens). Refuses a client that names an
 * instance: a token of the set admits a session of its own. */
int gva_verify_tokens(void *arg, const char *who, const uint8_t *cmsg, size_t cn,
                      const uint8_t proof[GVA_MAC], const uint8_t *smsg, size_t sn,
                      uint8_t sproof[GVA_MAC], size_t *token, char *err, size_t errlen);

/* The server's side on a fresh connection, within timeout_ms. Returns 0, or -1 with the reason in
 * err (a REFUSED frame was sent where the protocol allows). `name` is the session's name sent in
 * WELCOME; `max_frame` the largest frame the server takes. */
int gva_server(struct gvc *c, gva_verify_fn verify, void *arg, int timeout_ms, const char *name,
               uint32_t max_frame, struct gva_session *out, char *err, size_t errlen);

/* The client's side. Returns 0 with the server's largest frame and the session's name, or -1 with
 * the reason in err. */
int gva_client(struct gvc *c, const void *token, size_t tlen, const char *who, int timeout_ms,
               uint32_t *max_frame, char *name, size_t namelen, char *err, size_t errlen);

#endif
