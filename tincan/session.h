/* A link's session: the DTLS 1.2 handshake that authenticates the peer by
 * its pinned certificate fingerprint, then the record keys (record.h) and
 * their epochs (rekey.h).  It knows nothing of the path the datagrams take
 * (path.h) nor of what the records carry (dataplane.h): DTLS datagrams go
 * out through ops->send, records are sealed and opened for the caller, and
 * rekey messages come out in the caller's buffer to be sealed and sent.
 *
 *   NONE --init--> HANDSHAKE --pin verified, keys exported--> KEYED
 *                      \--------- mismatch, alert, timeout ----> FAILED
 *
 * Frames are sealed only in KEYED: keys exist only once the handshake
 * completed and the peer's certificate matched the pin.  The DTLS session
 * itself is freed (its master secret wiped) at the first record that
 * opens: the peer has keys, so it needs no handshake retransmission. */
#ifndef IPOP_TINCAN_SESSION_H
#define IPOP_TINCAN_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "dtls.h"
#include "identity.h"
#include "record.h"
#include "rekey.h"

/* SSL_export_keying_material label for the chaining secret of epoch 0. */
#define TC_SESSION_EXPORTER_LABEL "EXPORTER-ipop-dataplane-v2"

enum tc_session_state {
  TC_SESSION_NONE,        /* no create_link yet */
  TC_SESSION_HANDSHAKE,   /* DTLS in progress (or waiting for ICE) */
  TC_SESSION_KEYED,       /* peer verified, record keys ready */
  TC_SESSION_FAILED,      /* handshake failed or DTLS closed */
};

struct tc_session_ops {
  void (*send)(void *arg, const uint8_t *p, size_t n);   /* one DTLS datagram */
  void (*keyed)(void *arg);                              /* frames may flow */
  void (*failed)(void *arg, const char *reason);
};

struct tc_session {
  enum tc_session_state state;
  struct tc_dtls dtls;
  struct tc_rec rec;
  struct tc_rekey rekey;
  const struct tc_identity *id;
  uint64_t rekey_interval_ms;
  uint64_t bad_records;           /* failed authentication, replay, unknown epoch */
  uint64_t rekeys_before;         /* rotations of a session that failed since */
  const struct tc_session_ops *ops;
  void *arg;
};

/* HANDSHAKE, as DTLS client (ICE controlling) or server; pin: the peer's
 * certificate SHA-256. */
int tc_session_init(struct tc_session *s, SSL_CTX *ctx, const struct tc_identity *id,
                    bool client, const uint8_t pin[TC_FPR_BYTES], uint64_t rekey_interval_ms,
                    const struct tc_session_ops *ops, void *arg);
/* Wipe keys and secrets, free DTLS; back to NONE. */
void tc_session_free(struct tc_session *s);
/* Before the handshake started: follow ICE's final role. */
void tc_session_set_role(struct tc_session *s, bool client);
/* The client sends its ClientHello; a server waits. */
void tc_session_start(struct tc_session *s);
/* A DTLS datagram (handshake, retransmissions, alerts). */
void tc_session_dtls_input(struct tc_session *s, const uint8_t *p, size_t n);
/* DTLS retransmission timer, rekey timers; may fail the session.  Returns
 * the length of a rekey message written to out (seal and send it), 0, or
 * IPOP_ETIMEDOUT (keys overdue: the session failed). */
int tc_session_tick(struct tc_session *s, uint64_t now_ms, uint8_t *out, size_t cap);

static inline bool tc_session_keyed(const struct tc_session *s)
{
  return s->state == TC_SESSION_KEYED;
}
static inline int tc_session_seal(struct tc_session *s, uint8_t *out, size_t cap,
                                  const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
  return tc_rec_seal(&s->rec, out, cap, a, an, b, bn);
}
/* Open one record; also finishes a key switch when the peer's first record
 * of a new epoch arrives.  Returns the plaintext length or a negative
 * code (counted in bad_records). */
int tc_session_open(struct tc_session *s, uint8_t *out, size_t cap, const uint8_t *rec,
                    size_t n, uint64_t now_ms);
/* A rekey message from an opened record: the answer (to seal and send) in
 * out, its length, 0, or a negative code (dropped, counted). */
int tc_session_rekey_input(struct tc_session *s, const uint8_t *p, size_t n, uint64_t now_ms,
                           uint8_t *out, size_t cap);
/* Key rotations completed. */
static inline uint64_t tc_session_rekeys(const struct tc_session *s)
{
  return s->state == TC_SESSION_KEYED ? s->rekey.rekeys : s->rekeys_before;
}
/* The negotiated DTLS cipher suite ("" before the handshake). */
const char *tc_session_cipher(const struct tc_session *s);

#endif
