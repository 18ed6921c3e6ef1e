/* The dataplane record: a lean AEAD envelope for frames once DTLS has
 * authenticated the peer (the DTLS-SRTP pattern, RFC 5764: the handshake
 * authenticates, the RFC 5705 exporter gives packet keys, each packet is
 * sealed on its own).
 *
 * Wire format (one UDP datagram, or one libnice message on a relayed pair):
 *
 *   0      1                 9                        n-16      n
 *   +------+-----------------+------------------------+----------+
 *   | 0xF1 | counter (BE 64) | ciphertext             | tag (16) |
 *   +------+-----------------+------------------------+----------+
 *
 * AES-128-GCM; AAD = the first 9 bytes; nonce = iv XOR (0^4 || counter).
 * The type byte 0xF1 lies outside every range RFC 7983 assigns (STUN 0-3,
 * DTLS 20-63, TURN channels 64-79, RTP 128-191), so a link socket carries
 * STUN, DTLS and records side by side.  Keys and ivs per direction come from
 * SSL_export_keying_material(label TC_REC_LABEL, no context), 56 bytes:
 * client key | server key | client iv | server iv.  The receiver keeps a
 * sliding window of TC_REC_WINDOW counters (as IPsec and WireGuard do):
 * duplicates and counters older than the window are refused; the window only
 * moves after a record authenticated. */
#ifndef IPOP_TINCAN_RECORD_H
#define IPOP_TINCAN_RECORD_H

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TC_REC_LABEL "EXPORTER-ipop-dataplane"

enum {
  TC_REC_TYPE = 0xF1,
  TC_REC_HDR = 9,
  TC_REC_TAG = 16,
  TC_REC_OVERHEAD = TC_REC_HDR + TC_REC_TAG,
  TC_REC_KEY = 16,
  TC_REC_IV = 12,
  TC_REC_WINDOW = 2048,             /* replay window, bits (multiple of 64) */
  TC_REC_MAX = 65535,               /* largest record we seal or open */
};

/* Counters at or beyond this are never sent nor accepted: a link would need
 * new keys (2^60 records is far beyond any link's lifetime). */
#define TC_REC_COUNTER_LIMIT (UINT64_C(1) << 60)

struct tc_rec_window {
  uint64_t top;                     /* highest accepted counter + 1; 0: none */
  uint64_t bits[TC_REC_WINDOW / 64];
};

struct tc_rec {
  EVP_CIPHER_CTX *tx, *rx;
  uint8_t tx_iv[TC_REC_IV], rx_iv[TC_REC_IV];
  uint64_t tx_counter;
  struct tc_rec_window win;
  uint64_t auth_failed, replayed, malformed;
};

/* Keys given directly (tests); both contexts are set up once and reused. */
int tc_rec_init(struct tc_rec *r, const uint8_t tx_key[TC_REC_KEY],
                const uint8_t tx_iv[TC_REC_IV], const uint8_t rx_key[TC_REC_KEY],
                const uint8_t rx_iv[TC_REC_IV]);
/* Keys from a completed, verified DTLS session; client = our DTLS role. */
int tc_rec_init_from_ssl(struct tc_rec *r, SSL *ssl, bool client);
void tc_rec_free(struct tc_rec *r);
static inline bool tc_rec_ready(const struct tc_rec *r) { return r->tx != NULL; }

/* Seal a || b (either may be empty) into out; returns the record length
 * (an + bn + TC_REC_OVERHEAD) or a negative IPOP_E* code. */
int tc_rec_seal(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *a, size_t an,
                const uint8_t *b, size_t bn);
/* Open one record into out (outcap >= n - TC_REC_OVERHEAD); returns the
 * plaintext length, or IPOP_EPARSE (not a record / truncated / oversized),
 * IPOP_EREPLAY (duplicate or too old), IPOP_EAUTH (forged, tampered, wrong
 * key).  Each failure is counted in r; nothing else changes. */
int tc_rec_open(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *rec, size_t n);

static inline bool tc_rec_is_record(const uint8_t *p, size_t n)
{
  return n >= TC_REC_OVERHEAD && p[0] == TC_REC_TYPE;
}

/* The replay window on its own (unit-tested directly): check says whether
 * a counter would be fresh, update records it (after authentication). */
bool tc_rec_window_check(const struct tc_rec_window *w, uint64_t counter);
void tc_rec_window_update(struct tc_rec_window *w, uint64_t counter);

#endif
