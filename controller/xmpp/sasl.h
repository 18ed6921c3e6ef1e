/* SASL client pieces: SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677)
 * without channel binding, and base64 helpers. */
#ifndef IPOP_XMPP_SASL_H
#define IPOP_XMPP_SASL_H

#include <stddef.h>
#include <stdint.h>

#include "stanza.h"

enum { XMPP_SCRAM_ITER_MAX = 200000 };  /* PBKDF2 runs on the loop thread */

struct xmpp_scram {
  const void *md;               /* const EVP_MD * */
  size_t hlen;
  char cnonce[64];
  char *client_first_bare;      /* "n=user,r=cnonce" */
  uint8_t server_sig[64];
  int step;                     /* 0 init, 1 first sent, 2 final sent */
};

/* mech: "SCRAM-SHA-1" or "SCRAM-SHA-256"; cnonce NULL = random.  Returns 0,
 * IPOP_ENOTSUP for another mechanism, IPOP_ENOMEM. */
int xmpp_scram_init(struct xmpp_scram *s, const char *mech, const char *user,
                    const char *cnonce);
void xmpp_scram_clear(struct xmpp_scram *s);
/* client-first-message ("n,,n=user,r=nonce"), raw (not base64). */
int xmpp_scram_client_first(struct xmpp_scram *s, struct sbuf *out);
/* From the raw server-first-message, the raw client-final-message.
 * IPOP_EAUTH if the server's message is malformed or its nonce does not
 * extend ours; IPOP_ETOOBIG if the iteration count is out of range. */
int xmpp_scram_client_final(struct xmpp_scram *s, const char *password,
                            const char *server_first, size_t len,
                            struct sbuf *out);
/* Checks the raw server-final-message ("v=..."): 0 or IPOP_EAUTH. */
int xmpp_scram_verify(struct xmpp_scram *s, const char *server_final,
                      size_t len);

void xmpp_b64_encode(const void *in, size_t len, struct sbuf *out);
/* Returns 0 or IPOP_EINVAL; *out is malloc'ed and NUL-terminated. */
int xmpp_b64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen);

#endif
