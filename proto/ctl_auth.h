/* Datagram authentication for the control socket.
 *
 * Wire layout (all integers big-endian), CTL_AUTH_HDR_LEN = 64 bytes:
 *   0  magic "IPC1"        4
 *   4  flags (0)           4
 *   8  sender id           8   random per process
 *  16  counter             8   per sender, strictly increasing
 *  24  timestamp ms        8   sender's wall clock
 *  32  HMAC-SHA-256       32   over bytes 0..31 and the payload
 *  64  payload (JSON)
 *
 * The receiver drops a datagram whose MAC fails, whose timestamp is more
 * than CTL_AUTH_WINDOW_MS away from its own clock, or whose (sender id,
 * counter) it has already accepted (64-entry sliding bitmap per sender, as in
 * IPsec/WireGuard).  Senders are kept in a small LRU table; a sender evicted
 * from it can only be replayed inside the timestamp window.
 *
 * A refused request is answered with a 24-byte unauthenticated NAK ("IPN1",
 * reason, sender id, counter) so that a client with the wrong key gets a clear
 * error instead of a timeout; it is smaller than any request, so it cannot
 * amplify, and it is rate limited. */
#ifndef IPOP_PROTO_CTL_AUTH_H
#define IPOP_PROTO_CTL_AUTH_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define CTL_AUTH_HDR_LEN 64
#define CTL_NAK_LEN 24
#define CTL_MAX_DGRAM 65507
#define CTL_MAX_PAYLOAD (CTL_MAX_DGRAM - CTL_AUTH_HDR_LEN)
#define CTL_AUTH_WINDOW_MS 30000
#define CTL_AUTH_SENDERS 64

enum ctl_nak_reason { CTL_NAK_AUTH = 1, CTL_NAK_REPLAY = 2 };

struct ctl_auth_stats {
  uint64_t accepted, bad_length, bad_magic, bad_mac, stale, replayed;
};

struct ctl_auth_sender {
  uint64_t id;
  uint64_t top;        /* highest counter accepted */
  uint64_t bitmap;     /* bit i: counter top-i accepted */
  uint64_t last_use;   /* use sequence number, for LRU; 0 = free slot */
};

struct ctl_auth {
  uint8_t key[IPOP_SECRET_LEN];
  uint64_t sender_id;
  uint64_t counter;
  struct ctl_auth_sender senders[CTL_AUTH_SENDERS];
  struct ctl_auth_stats stats;
  uint64_t use_seq;           /* orders senders by last use */
  EVP_MAC_CTX *mac;           /* HMAC-SHA-256, fetched once */
  uint64_t (*clock_ms)(void); /* wall clock; replaceable for tests */
};

int ctl_auth_init(struct ctl_auth *a, const uint8_t key[IPOP_SECRET_LEN]);
/* Erase the key and free what init allocated. */
void ctl_auth_wipe(struct ctl_auth *a);

/* Write header + payload into out.  Returns 0 or IPOP_ETOOBIG. On success
 * *sender and *counter (may be NULL) identify the datagram for NAK matching. */
int ctl_auth_seal(struct ctl_auth *a, const void *payload, size_t len, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t *counter);

/* Verify dgram.  Returns 0 with *payload and *plen set, or IPOP_EAUTH (length,
 * magic or MAC) / IPOP_EREPLAY (stale or replayed); stats are updated. */
int ctl_auth_open(struct ctl_auth *a, const uint8_t *dgram, size_t len,
                  const uint8_t **payload, size_t *plen);

/* Build the NAK answering a refused datagram (needs its first 24 bytes).
 * Returns its length, or 0 if dgram is too short to identify. */
size_t ctl_auth_nak(const uint8_t *dgram, size_t len, enum ctl_nak_reason why,
                    uint8_t out[CTL_NAK_LEN]);
/* If dgram is a NAK for one of our datagrams, return 1 and its counter and
 * reason; else 0. */
int ctl_auth_is_nak(const struct ctl_auth *a, const uint8_t *dgram, size_t len,
                    uint64_t *counter, enum ctl_nak_reason *why);

#endif
