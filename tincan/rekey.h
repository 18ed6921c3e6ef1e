/* Key epochs of a link and their rotation with forward secrecy.
 *
 * Each epoch e has a 32-byte chaining secret C_e.  Its record keys are
 *
 *   HKDF-Expand(C_e, "ipop keys v1", 56) = client key | server key |
 *                                          client iv | server iv
 *
 * (the DTLS client, the ICE-controlling side, sends with the client half).
 * C_0 comes from the verified DTLS session (RFC 5705 exporter, label
 * "EXPORTER-ipop-dataplane-v2").  To move from e to e+1 the two ends run an
 * ephemeral X25519 exchange inside records sealed under epoch e, each
 * message signed with the node's identity key and checked against the
 * pinned certificate:
 *
 *   I -> R  INIT  5 | e+1 (BE 64) | X25519 pub_I (32) | siglen | sig_I
 *   R -> I  RESP  6 | e+1 (BE 64) | pub_I (32) | pub_R (32) | siglen | sig_R
 *   I -> R  DONE  7 | e+1 (BE 64)             (sealed under e+1)
 *
 *   sig = ECDSA-SHA256 over "ipop rekey v1" | type | signer's fingerprint |
 *         verifier's fingerprint | e+1 | pub_I [| pub_R]
 *   C_{e+1} = HKDF-SHA256(salt = "", ikm = C_e | X25519(priv, peer pub),
 *                         info = "ipop chain v1" | e+1 | pub_I | pub_R, 32)
 *
 * Ephemeral private keys, the shared secret and C_e are wiped as soon as
 * they are used, so keys of one epoch reveal neither an earlier epoch
 * (HKDF is one-way) nor a later one (that needs the X25519 secret).
 *
 * Switching without loss (WireGuard's order): the responder installs
 * receiving keys for e+1 before it answers and keeps sending under e until
 * a record of e+1 arrives (key confirmation); the initiator sends under
 * e+1 as soon as RESP checks out (DONE confirms at once, any later record
 * would too) and receives both until the responder's first e+1 record.
 * The previous epoch's receiving keys then live TC_REKEY_GRACE_MS more (for
 * reordered records) and are wiped.
 *
 * Triggers: the current epoch is interval_ms old (Tincan.RekeyInterval),
 * or TC_REKEY_AFTER_RECORDS records were sealed in it.  Either end may
 * start.
 * Lost messages: the initiator resends the same INIT every
 * TC_REKEY_RETRY_MS; a responder answers a repeated INIT with the same
 * RESP.  Simultaneous INITs: the DTLS client's wins (the server drops its
 * own and answers; the client ignores the server's), so both ends always
 * agree.  An epoch older than TC_REKEY_REJECT_FACTOR intervals is refused
 * (the link fails) rather than used on.
 *
 * Pure: no I/O; time comes in as ms; messages to send come out in a
 * caller's buffer, to be sealed as records under the current keys. */
#ifndef IPOP_TINCAN_REKEY_H
#define IPOP_TINCAN_REKEY_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum {
  TC_REKEY_INIT = 5,                /* message types (= dataplane kinds) */
  TC_REKEY_RESP = 6,
  TC_REKEY_DONE = 7,
  TC_REKEY_CHAIN = 32,
  TC_REKEY_PUB = 32,                /* X25519 public key */
  TC_REKEY_SIG_MAX = 72,            /* DER ECDSA P-256 signature */
  TC_REKEY_FPR = 32,
  TC_REKEY_MSG_MAX = 1 + 8 + 2 * TC_REKEY_PUB + 1 + TC_REKEY_SIG_MAX,
  TC_REKEY_RETRY_MS = 500,          /* INIT resent while unanswered */
  TC_REKEY_GRACE_MS = 1000,         /* previous epoch still received */
  TC_REKEY_REJECT_FACTOR = 3,       /* epochs older than 3 intervals: fail */
  TC_REKEY_DEFAULT_INTERVAL_S = 120,
};
/* Rekey well before the record layer's hard limit (TC_REC_COUNTER_LIMIT)
 * and within the usual AES-GCM margin of about 2^24.5 full records. */
#define TC_REKEY_AFTER_RECORDS (UINT64_C(1) << 24)

enum tc_rekey_state {
  TC_REKEY_IDLE,        /* both ends on epoch; may start the next */
  TC_REKEY_INITIATED,   /* INIT sent, waiting for RESP */
  TC_REKEY_RESPONDED,   /* RESP sent; sending on epoch until e+1 arrives */
  TC_REKEY_SWITCHED,    /* sending on the new epoch; waiting for the peer's */
};

struct tc_rekey {
  bool client;
  EVP_PKEY *self_key;               /* our identity key (borrowed) */
  EVP_PKEY *peer_key;               /* the pinned certificate's key (a reference) */
  uint8_t self_fpr[TC_REKEY_FPR], peer_fpr[TC_REKEY_FPR];
  uint64_t interval_ms;
  enum tc_rekey_state state;
  uint64_t epoch;                   /* current sending epoch */
  uint8_t chain[TC_REKEY_CHAIN];    /* C_epoch */
  uint64_t since_ms;                /* when epoch became current */
  EVP_PKEY *eph;                    /* initiator's ephemeral key, INITIATED only */
  uint8_t pub_i[TC_REKEY_PUB];      /* the exchange's INIT public key */
  uint8_t next_chain[TC_REKEY_CHAIN]; /* responder: C_{epoch+1}, RESPONDED only */
  uint8_t msg[TC_REKEY_MSG_MAX];    /* INIT or RESP, resent as needed */
  size_t msg_len;
  uint64_t sent_ms;
  bool old_rx;                      /* previous epoch still received ... */
  uint8_t old_epoch;
  uint64_t old_until_ms;            /* ... until then */
  uint64_t rekeys;                  /* epochs completed */
  uint64_t bad_msgs;                /* malformed, stale or forged messages */
  uint64_t collisions;              /* simultaneous INITs resolved */
};

/* Install epoch 0 from chain0 into rec (tx and rx).  self_key signs,
 * peer_key (a reference is taken) verifies; fingerprints are the two
 * certificates' SHA-256.  client: our DTLS role. */
int tc_rekey_start(struct tc_rekey *k, struct tc_rec *rec, bool client,
                   const uint8_t chain0[TC_REKEY_CHAIN], EVP_PKEY *self_key, EVP_PKEY *peer_key,
                   const uint8_t self_fpr[TC_REKEY_FPR], const uint8_t peer_fpr[TC_REKEY_FPR],
                   uint64_t interval_ms, uint64_t now_ms);
/* Wipe every secret, free the ephemeral key, drop the peer key reference. */
void tc_rekey_free(struct tc_rekey *k);

/* Housekeeping (call a few times a second): starts or resends an exchange
 * (returns the message length in out, to seal and send), retires the
 * previous epoch's receiving keys.  0: nothing to send.  IPOP_ETIMEDOUT:
 * the current epoch is overdue (older than TC_REKEY_REJECT_FACTOR
 * intervals); the caller must stop using the link. */
int tc_rekey_tick(struct tc_rekey *k, struct tc_rec *rec, uint64_t now_ms, uint8_t *out,
                  size_t cap);
/* A rekey message (first byte TC_REKEY_*) from an authenticated record.
 * Returns the length of the answer in out (to seal and send, under the
 * sending keys as they are after this call), 0, or a negative code for a
 * message that was dropped (malformed, stale, forged: counted). */
int tc_rekey_input(struct tc_rekey *k, struct tc_rec *rec, const uint8_t *msg, size_t n,
                   uint64_t now_ms, uint8_t *out, size_t cap);

/* Does a record opened under this epoch byte finish a switch?  (Cheap: the
 * hot path asks it for every record.) */
static inline bool tc_rekey_awaits(const struct tc_rekey *k, uint8_t epoch)
{
  return k->state >= TC_REKEY_RESPONDED && epoch == (uint8_t)(k->state == TC_REKEY_RESPONDED
                                                                  ? k->epoch + 1 : k->epoch);
}
/* The peer proved it has the new keys: finish the switch. */
int tc_rekey_confirm(struct tc_rekey *k, struct tc_rec *rec, uint64_t now_ms);

#endif
