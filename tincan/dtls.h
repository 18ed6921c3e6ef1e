/* DTLS 1.2 over an arbitrary datagram path (ICE), with memory BIOs.
 *
 * The caller moves datagrams: tc_dtls_input() for each one received, and the
 * send callback for each one to transmit.  The peer certificate must hash to
 * the pinned SHA-256 fingerprint; a mismatch aborts the handshake and calls
 * failed("fingerprint mismatch").  Application data is accepted for writing
 * only after the handshake has completed and the pin was checked. */
#ifndef IPOP_TINCAN_DTLS_H
#define IPOP_TINCAN_DTLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

/* Largest datagram we produce during the handshake (flights are fragmented
 * to fit); application records are one frame each. */
#define TC_DTLS_HANDSHAKE_MTU 1200
/* Record overhead for the AEAD suites we allow: 13 header + 8 explicit nonce
 * + 16 tag (ChaCha20 has no explicit nonce, so this is the maximum). */
#define TC_DTLS_OVERHEAD 37
#define TC_DTLS_MAX_DGRAM 9216

struct tc_dtls_ops {
  void (*send)(void *arg, const uint8_t *p, size_t n);
  void (*recv)(void *arg, const uint8_t *p, size_t n);   /* decrypted record */
  void (*established)(void *arg);                       /* pin verified */
  void (*failed)(void *arg, const char *reason);        /* handshake/alert */
};

enum tc_dtls_state { TC_DTLS_IDLE, TC_DTLS_HANDSHAKE, TC_DTLS_UP, TC_DTLS_FAILED, TC_DTLS_CLOSED };

struct tc_dtls {
  SSL *ssl;
  BIO *rbio, *wbio;
  bool client;
  enum tc_dtls_state state;
  uint8_t pin[TC_FPR_BYTES];
  bool pin_mismatch;
  char reason[128];
  const struct tc_dtls_ops *ops;
  void *arg;
  uint64_t bad_records;
};

/* One context per process: our certificate, DTLS 1.2 only, AEAD suites only,
 * peer certificate required.  NULL on failure. */
SSL_CTX *tc_dtls_ctx_new(const struct tc_identity *id);

int tc_dtls_init(struct tc_dtls *d, SSL_CTX *ctx, bool client,
                 const uint8_t pin[TC_FPR_BYTES], const struct tc_dtls_ops *ops, void *arg);
void tc_dtls_free(struct tc_dtls *d);
/* Change client/server before the handshake started (no effect after). */
void tc_dtls_set_role(struct tc_dtls *d, bool client);
/* Begin the handshake (client sends its ClientHello; server waits). */
int tc_dtls_start(struct tc_dtls *d);
/* One received datagram. */
void tc_dtls_input(struct tc_dtls *d, const uint8_t *p, size_t n);
/* Encrypt and send one record; IPOP_ESTATE unless established. */
int tc_dtls_write(struct tc_dtls *d, const uint8_t *p, size_t n);
/* Retransmission timer: ms until tc_dtls_timeout() must run, -1 for none. */
long tc_dtls_next_timeout_ms(struct tc_dtls *d);
void tc_dtls_timeout(struct tc_dtls *d);
/* The negotiated cipher suite name ("" before the handshake). */
const char *tc_dtls_cipher(const struct tc_dtls *d);
/* RFC 7983 demultiplexing: is this datagram a DTLS record (first byte 20..63)? */
static inline bool tc_dtls_is_record(const uint8_t *p, size_t n)
{
  return n >= 13 && p[0] >= 20 && p[0] <= 63;
}

#endif
