/* The dataplane record: a lean AEAD envelope for frames once DTLS has
 * authenticated the peer (the DTLS-SRTP pattern, RFC 5764: the handshake
 * authenticates, the RFC 5705 exporter seeds packet keys, each packet is
 * sealed on its own).
 *
 * Wire format (one UDP datagram, or one libnice message on a relayed pair):
 *
 *   0      1       2                 9                   n-16      n
 *   +------+-------+-----------------+-------------------+----------+
 *   | 0xF1 | epoch | counter (BE 56) | ciphertext        | tag (16) |
 *   +------+-------+-----------------+-------------------+----------+
 *
 * AES-128-GCM; AAD = the first 9 bytes; nonce = iv XOR (0^4 || 0 ||
 * counter).  epoch is the low byte of the key epoch (rekey.h): each epoch
 * has its own keys and ivs and its counters start at 0, so (key, nonce)
 * pairs never repeat.  The type byte 0xF1 lies outside every range RFC 7983
 * assigns (STUN 0-3, DTLS 20-63, TURN channels 64-79, RTP 128-191), so a
 * link socket carries STUN, DTLS and records side by side.
 *
 * Keys: one set for sending (the current epoch) and up to two for
 * receiving (the current epoch and, while keys change, the previous or the
 * next one), found by the epoch byte.  Each receiving set keeps a sliding
 * window of TC_REC_WINDOW counters (as IPsec and WireGuard do): duplicates
 * and counters older than the window are refused; the window only moves
 * after a record authenticated.  Which keys exist is decided by the rekey
 * module; this one only seals and opens. */
#ifndef IPOP_TINCAN_RECORD_H
#define IPOP_TINCAN_RECORD_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  TC_REC_TYPE = 0xF1,
  TC_REC_HDR = 9,
  TC_REC_TAG = 16,
  TC_REC_OVERHEAD = TC_REC_HDR + TC_REC_TAG,
  TC_REC_KEY = 16,
  TC_REC_IV = 12,
  TC_REC_WINDOW = 2048,             /* replay window, bits (multiple of 64) */
  TC_REC_MAX = 65535,               /* largest record we seal or open */
  TC_REC_RX_SLOTS = 2,              /* receiving key sets alive at once */
};

/* One epoch never seals nor accepts this many records: keys must change
 * first (rekey.h starts well before, at TC_REKEY_AFTER_RECORDS). */
#define TC_REC_COUNTER_LIMIT (UINT64_C(1) << 32)

struct tc_rec_window {
  uint64_t top;                     /* highest accepted counter + 1; 0: none */
  uint64_t bits[TC_REC_WINDOW / 64];
};

/* One direction's keys of one epoch; ctx == NULL: unused. */
struct tc_rec_keys {
  EVP_CIPHER_CTX *ctx;
  uint8_t iv[TC_REC_IV];
  uint8_t epoch;
};

struct tc_rec_rx {
  struct tc_rec_keys k;
  struct tc_rec_window win;
};

struct tc_rec {
  struct tc_rec_keys tx;
  uint64_t tx_counter;
  struct tc_rec_rx rx[TC_REC_RX_SLOTS];
  uint64_t auth_failed, replayed, malformed, no_keys;
};

/* Keys of epoch 0 given directly (tests); contexts are set up once. */
int tc_rec_init(struct tc_rec *r, const uint8_t tx_key[TC_REC_KEY],
                const uint8_t tx_iv[TC_REC_IV], const uint8_t rx_key[TC_REC_KEY],
                const uint8_t rx_iv[TC_REC_IV]);
/* Sending keys for epoch (replacing the old ones, which are wiped); the
 * counter starts again at 0. */
int tc_rec_set_tx(struct tc_rec *r, uint8_t epoch, const uint8_t key[TC_REC_KEY],
                  const uint8_t iv[TC_REC_IV]);
/* Receiving keys for epoch: replaces a set of the same epoch, else takes a
 * free slot, else IPOP_EBUSY (drop one first). */
int tc_rec_add_rx(struct tc_rec *r, uint8_t epoch, const uint8_t key[TC_REC_KEY],
                  const uint8_t iv[TC_REC_IV]);
/* Wipe and forget the receiving keys of epoch (no-op if none). */
void tc_rec_drop_rx(struct tc_rec *r, uint8_t epoch);
bool tc_rec_has_rx(const struct tc_rec *r, uint8_t epoch);
/* Wipe everything (the struct may be reused after tc_rec_init). */
void tc_rec_free(struct tc_rec *r);
static inline bool tc_rec_ready(const struct tc_rec *r) { return r->tx.ctx != NULL; }

/* Seal a || b (either may be empty) into out; returns the record length
 * (an + bn + TC_REC_OVERHEAD) or a negative IPOP_E* code (IPOP_ESTATE: no
 * keys, or this epoch's counters are used up). */
int tc_rec_seal(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *a, size_t an,
                const uint8_t *b, size_t bn);
/* Open one record into out (outcap >= n - TC_REC_OVERHEAD); returns the
 * plaintext length and *epoch (the key epoch it was sealed in), or
 * IPOP_EPARSE (not a record / truncated / oversized), IPOP_ENOENT (no keys
 * for its epoch), IPOP_EREPLAY (duplicate or too old), IPOP_EAUTH (forged,
 * tampered, wrong key).  Each failure is counted in r; nothing else
 * changes. */
int tc_rec_open(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *rec, size_t n,
                uint8_t *epoch);

static inline bool tc_rec_is_record(const uint8_t *p, size_t n)
{
  return n >= TC_REC_OVERHEAD && p[0] == TC_REC_TYPE;
}

/* The replay window on its own (unit-tested directly): check says whether
 * a counter would be fresh, update records it (after authentication). */
bool tc_rec_window_check(const struct tc_rec_window *w, uint64_t counter);
void tc_rec_window_update(struct tc_rec_window *w, uint64_t counter);

#endif
