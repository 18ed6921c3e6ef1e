/* Datagram protection for the control socket: every payload is encrypted
 * and authenticated (AES-256-GCM), so secrets in messages (TURN and ICE
 * passwords) never cross loopback in clear.
 *
 * Wire layout (all integers big-endian), CTL_AUTH_HDR_LEN = 32 bytes:
 *   0  magic "IPC2"        4
 *   4  flags (0)           4
 *   8  sender id           8   random per process (and per 2^32 datagrams)
 *  16  counter             8   per sender, strictly increasing
 *  24  timestamp ms        8   sender's wall clock
 *  32  ciphertext          n   the JSON payload, encrypted
 *  32+n tag               16   GCM tag over header (AAD) and ciphertext
 *
 * Key: HKDF-SHA-256 of the 32-byte key file, info "ipop control v2
 * AES-256-GCM" (the raw key is used for nothing else).  Nonce: sender id
 * (8 bytes) || low 32 bits of the counter: unique per datagram as long as
 * no two processes pick the same random 64-bit id, since a sender takes a
 * new id before its counter passes 2^32.
 *
 * The receiver drops a datagram whose tag fails, whose timestamp is more
 * than CTL_AUTH_WINDOW_MS away from its own clock, or whose (sender id,
 * counter) it has already accepted (64-entry sliding bitmap per sender, as in
 * IPsec/WireGuard).  Senders are kept in a small LRU table; a sender evicted
 * from it can only be replayed inside the timestamp window.
 *
 * A refused request is answered with a 24-byte unauthenticated NAK ("IPN1",
 * reason, sender id, counter) so that a client with the wrong key gets a clear
 * error instead of a timeout; it is smaller than any request, so it cannot
 * amplify, and it is rate limited.  A datagram of protocol 1 ("IPC1", HMAC
 * only) gets reason 3. */
#ifndef IPOP_PROTO_CTL_AUTH_H
#define IPOP_PROTO_CTL_AUTH_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define CTL_AUTH_HDR_LEN 32
#define CTL_AUTH_TAG_LEN 16
#define CTL_AUTH_OVERHEAD (CTL_AUTH_HDR_LEN + CTL_AUTH_TAG_LEN)
#define CTL_NAK_LEN 24
#define CTL_MAX_DGRAM 65507
#define CTL_MAX_PAYLOAD (CTL_MAX_DGRAM - CTL_AUTH_OVERHEAD)
#define CTL_AUTH_WINDOW_MS 30000
#define CTL_AUTH_SENDERS 64

enum ctl_nak_reason { CTL_NAK_AUTH = 1, CTL_NAK_REPLAY = 2, CTL_NAK_VERSION = 3 };

struct ctl_auth_stats {
  uint64_t accepted, bad_length, bad_magic, bad_mac, stale, replayed;
};
/* (bad_mac counts datagrams whose GCM tag failed: wrong key or tampered.) */

struct ctl_auth_sender {
  uint64_t id;
  uint64_t top;        /* highest counter accepted */
  uint64_t bitmap;     /* bit i: counter top-i accepted */
  uint64_t last_use;   /* use sequence number, for LRU; 0 = free slot */
};

struct ctl_auth {
  uint64_t sender_id;
  uint64_t counter;
  struct ctl_auth_sender senders[CTL_AUTH_SENDERS];
  struct ctl_auth_stats stats;
  uint64_t use_seq;           /* orders senders by last use */
  EVP_CIPHER_CTX *enc, *dec;  /* AES-256-GCM, keyed once at init */
  uint64_t (*clock_ms)(void); /* wall clock; replaceable for tests */
};

/* Derive the AEAD key from the key file's bytes and pick a sender id. */
int ctl_auth_init(struct ctl_auth *a, const uint8_t key[IPOP_SECRET_LEN]);
/* Erase the keys and free what init allocated. */
void ctl_auth_wipe(struct ctl_auth *a);

/* Write header, encrypted payload and tag into out.  Returns 0,
 * IPOP_ETOOBIG or IPOP_ECRYPTO.  On success *counter (may be NULL)
 * identifies the datagram for NAK matching. */
int ctl_auth_seal(struct ctl_auth *a, const void *payload, size_t len, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t *counter);

/* Verify and decrypt dgram in place.  Returns 0 with *payload (inside
 * dgram, after the header) and *plen set, or IPOP_EAUTH (length, magic or
 * tag; the payload bytes are then garbage) / IPOP_EREPLAY (stale or
 * replayed); stats are updated.  The header (first 32 bytes) is never
 * changed, so a NAK can still be built from it. */
int ctl_auth_open(struct ctl_auth *a, uint8_t *dgram, size_t len, const uint8_t **payload,
                  size_t *plen);

/* Build the NAK answering a refused datagram (needs its first 24 bytes).
 * Returns its length, or 0 if dgram is too short to identify. */
size_t ctl_auth_nak(const uint8_t *dgram, size_t len, enum ctl_nak_reason why,
                    uint8_t out[CTL_NAK_LEN]);
/* If dgram is a NAK for one of our datagrams, return 1 and its counter and
 * reason; else 0. */
int ctl_auth_is_nak(const struct ctl_auth *a, const uint8_t *dgram, size_t len,
                    uint64_t *counter, enum ctl_nak_reason *why);

#endif
