#include "dtls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#include "error.h"
#include "log.h"

/* AEAD only: no CBC, no SHA-1 MACs.  Our own key is ECDSA, so only ECDSA
 * suites can be negotiated. */
static const char k_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384";

static int ex_index = -1;

static int verify_cb(int ok, X509_STORE_CTX *store)
{
  (void)ok;
  /* Self-signed certificates: chain validation is meaningless here, the pin
   * is what authenticates.  Check the leaf against the pin right away, so a
   * wrong peer is refused during the handshake (it gets an alert). */
  if (X509_STORE_CTX_get_error_depth(store) != 0)
    return 1;
  SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
  struct tc_dtls *d = ssl ? SSL_get_ex_data(ssl, ex_index) : NULL;
  X509 *cert = X509_STORE_CTX_get_current_cert(store);
  uint8_t fpr[TC_FPR_BYTES];
  if (!d || !cert || tc_cert_fingerprint(cert, fpr) != 0)
    return 0;
  if (CRYPTO_memcmp(fpr, d->pin, TC_FPR_BYTES) != 0) {
    d->pin_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

/* The write side is a tiny BIO that hands every BIO_write to the send
 * callback as one datagram: OpenSSL writes each DTLS record (or each
 * handshake fragment, sized to the MTU we set) with its own BIO_write, so
 * datagram boundaries are kept, which a memory BIO would lose. */
static BIO_METHOD *wmethod;

static int wbio_write(BIO *b, const char *buf, int len)
{
  struct tc_dtls *d = BIO_get_data(b);
  if (d && len > 0)
    d->ops->send(d->arg, (const uint8_t *)buf, (size_t)len);
  return len;
}

static long wbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
  (void)b; (void)num; (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1;
  case BIO_CTRL_DGRAM_QUERY_MTU:
  case BIO_CTRL_WPENDING:
  case BIO_CTRL_PENDING:
  default:
    return 0;
  }
}

static int wbio_create(BIO *b)
{
  BIO_set_init(b, 1);
  return 1;
}


SSL_CTX *tc_dtls_ctx_new(const struct tc_identity *id)
{
  if (ex_index < 0)
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
  if (!wmethod) {
    wmethod = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ipop-dgram");
    if (!wmethod || !BIO_meth_set_write(wmethod, wbio_write) ||
        !BIO_meth_set_ctrl(wmethod, wbio_ctrl) || !BIO_meth_set_create(wmethod, wbio_create))
      return NULL;
  }
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  if (!ctx)
    return NULL;
  if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, k_ciphers) != 1 ||
      SSL_CTX_use_certificate(ctx, id->cert) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, id->key) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET |
                               SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_read_ahead(ctx, 1);
  return ctx;
}

int tc_dtls_init(struct tc_dtls *d, SSL_CTX *ctx, bool client,
                 const uint8_t pin[TC_FPR_BYTES], const struct tc_dtls_ops *ops, void *arg)
{
  memset(d, 0, sizeof *d);
  d->client = client;
  d->ops = ops;
  d->arg = arg;
  memcpy(d->pin, pin, TC_FPR_BYTES);
  d->ssl = SSL_new(ctx);
  d->rbio = BIO_new(BIO_s_mem());
  d->wbio = wmethod ? BIO_new(wmethod) : NULL;
  if (!d->ssl || !d->rbio || !d->wbio) {
    SSL_free(d->ssl);
    BIO_free(d->rbio);
    BIO_free(d->wbio);
    memset(d, 0, sizeof *d);
    return IPOP_ENOMEM;
  }
  /* An empty memory BIO must report "retry", not EOF. */
  BIO_set_mem_eof_return(d->rbio, -1);
  BIO_set_data(d->wbio, d);
  SSL_set_bio(d->ssl, d->rbio, d->wbio);
  SSL_set_ex_data(d->ssl, ex_index, d);
  SSL_set_mtu(d->ssl, TC_DTLS_HANDSHAKE_MTU);
  DTLS_set_link_mtu(d->ssl, TC_DTLS_HANDSHAKE_MTU);
  if (client)
    SSL_set_connect_state(d->ssl);
  else
    SSL_set_accept_state(d->ssl);
  return 0;
}

void tc_dtls_free(struct tc_dtls *d)
{
  if (d->ssl)
    SSL_free(d->ssl); /* frees both BIOs */
  OPENSSL_cleanse(d->pin, sizeof d->pin);
  memset(d, 0, sizeof *d);
}

static void fail(struct tc_dtls *d, const char *reason)
{
  if (d->state == TC_DTLS_FAILED || d->state == TC_DTLS_CLOSED)
    return;
  d->state = TC_DTLS_FAILED;
  snprintf(d->reason, sizeof d->reason, "%s", reason);
  ERR_clear_error();
  d->ops->failed(d->arg, d->reason);
}

static void handshake_step(struct tc_dtls *d)
{
  int r = SSL_do_handshake(d->ssl);
  if (r == 1) {
    /* Belt and braces: the verify callback already checked the pin. */
    X509 *peer = SSL_get0_peer_certificate(d->ssl);
    uint8_t fpr[TC_FPR_BYTES];
    if (!peer || tc_cert_fingerprint(peer, fpr) != 0 ||
        CRYPTO_memcmp(fpr, d->pin, TC_FPR_BYTES) != 0) {
      fail(d, "fingerprint mismatch");
      return;
    }
    d->state = TC_DTLS_UP;
    d->ops->established(d->arg);
    return;
  }
  int e = SSL_get_error(d->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return;
  if (d->pin_mismatch) {
    fail(d, "fingerprint mismatch");
    return;
  }
  char reason[128];
  unsigned long err = ERR_peek_error();
  if (err)
    snprintf(reason, sizeof reason, "dtls handshake: %s", ERR_reason_error_string(err));
  else
    snprintf(reason, sizeof reason, "dtls handshake failed");
  fail(d, reason);
}

void tc_dtls_set_role(struct tc_dtls *d, bool client)
{
  if (d->state != TC_DTLS_IDLE || !d->ssl)
    return;
  d->client = client;
  if (client)
    SSL_set_connect_state(d->ssl);
  else
    SSL_set_accept_state(d->ssl);
}

int tc_dtls_start(struct tc_dtls *d)
{
  if (d->state != TC_DTLS_IDLE)
    return IPOP_ESTATE;
  d->state = TC_DTLS_HANDSHAKE;
  if (d->client)
    handshake_step(d);
  return 0;
}

void tc_dtls_input(struct tc_dtls *d, const uint8_t *p, size_t n)
{
  if (!d->ssl || d->state == TC_DTLS_FAILED || d->state == TC_DTLS_CLOSED)
    return;
  if (!tc_dtls_is_record(p, n)) {
    d->bad_records++;
    return;
  }
  if (d->state == TC_DTLS_IDLE) {
    if (d->client) { /* a server never speaks first */
      d->bad_records++;
      return;
    }
    d->state = TC_DTLS_HANDSHAKE;
  }
  if (BIO_write(d->rbio, p, (int)n) != (int)n)
    return;
  if (d->state == TC_DTLS_HANDSHAKE) {
    handshake_step(d);
    if (d->state != TC_DTLS_UP)
      return;
  }
  uint8_t buf[TC_DTLS_MAX_DGRAM];
  for (;;) {
    int r = SSL_read(d->ssl, buf, sizeof buf);
    if (r > 0) {
      d->ops->recv(d->arg, buf, (size_t)r);
      if (d->state != TC_DTLS_UP) /* the callback may have torn us down */
        return;
      continue;
    }
    int e = SSL_get_error(d->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
      break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      d->state = TC_DTLS_CLOSED;
      snprintf(d->reason, sizeof d->reason, "peer closed dtls");
      d->ops->failed(d->arg, d->reason);
      return;
    }
    /* Records that fail authentication are dropped silently by DTLS; what
     * is left here is fatal (an alert). */
    fail(d, "dtls alert or protocol error");
    return;
  }
  /* Drain anything unread (garbage after a valid record). */
  (void)BIO_reset(d->rbio);
}

int tc_dtls_write(struct tc_dtls *d, const uint8_t *p, size_t n)
{
  if (d->state != TC_DTLS_UP)
    return IPOP_ESTATE;
  int r = SSL_write(d->ssl, p, (int)n);
  if (r <= 0) {
    ERR_clear_error();
    return IPOP_EIO;
  }
  return 0;
}

long tc_dtls_next_timeout_ms(struct tc_dtls *d)
{
  struct timeval tv;
  if (d->state != TC_DTLS_HANDSHAKE || DTLSv1_get_timeout(d->ssl, &tv) != 1)
    return -1;
  return tv.tv_sec * 1000L + tv.tv_usec / 1000;
}

void tc_dtls_timeout(struct tc_dtls *d)
{
  if (d->state != TC_DTLS_HANDSHAKE)
    return;
  int r = DTLSv1_handle_timeout(d->ssl);
  if (r < 0)
    fail(d, "dtls handshake timed out");
}

const char *tc_dtls_cipher(const struct tc_dtls *d)
{
  return d->ssl && d->state == TC_DTLS_UP ? SSL_get_cipher_name(d->ssl) : "";
}
