#include "session.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#include "error.h"
#include "log.h"

static void fail(struct tc_session *s, const char *reason)
{
  if (s->state == TC_SESSION_FAILED)
    return;
  if (s->state == TC_SESSION_KEYED)
    s->rekeys_before = s->rekey.rekeys;
  s->state = TC_SESSION_FAILED;
  tc_rekey_free(&s->rekey);
  tc_rec_free(&s->rec);
  s->ops->failed(s->arg, reason);
}

static void dtls_send(void *arg, const uint8_t *p, size_t n)
{
  struct tc_session *s = arg;
  s->ops->send(s->arg, p, n);
}

/* Application data inside DTLS is not used: frames travel as records. */
static void dtls_recv(void *arg, const uint8_t *p, size_t n)
{
  struct tc_session *s = arg;
  (void)p; (void)n;
  s->bad_records++;
}

/* The handshake completed and the pin matched (dtls.c checked it twice):
 * epoch 0 from the exporter, the peer's key for rekey signatures. */
static void dtls_up(void *arg)
{
  struct tc_session *s = arg;
  uint8_t chain0[TC_REKEY_CHAIN];
  SSL *ssl = s->dtls.ssl;
  X509 *peer = SSL_get0_peer_certificate(ssl);
  EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;
  if (!pk || SSL_export_keying_material(ssl, chain0, sizeof chain0, TC_SESSION_EXPORTER_LABEL,
                                        strlen(TC_SESSION_EXPORTER_LABEL), NULL, 0, 0) != 1) {
    ERR_clear_error();
    fail(s, "cannot derive dataplane keys from the dtls session");
    return;
  }
  int rc = tc_rekey_start(&s->rekey, &s->rec, s->dtls.client, chain0, s->id->key, pk,
                          s->id->fpr, s->dtls.pin, s->rekey_interval_ms, ipop_now_ms());
  OPENSSL_cleanse(chain0, sizeof chain0);
  if (rc) {
    fail(s, "cannot derive dataplane keys from the dtls session");
    return;
  }
  s->state = TC_SESSION_KEYED;
  s->ops->keyed(s->arg);
}

static void dtls_failed(void *arg, const char *reason)
{
  fail(arg, reason);
}

static const struct tc_dtls_ops dtls_ops = {
  .send = dtls_send,
  .recv = dtls_recv,
  .established = dtls_up,
  .failed = dtls_failed,
};

int tc_session_init(struct tc_session *s, SSL_CTX *ctx, const struct tc_identity *id,
                    bool client, const uint8_t pin[TC_FPR_BYTES], uint64_t rekey_interval_ms,
                    const struct tc_session_ops *ops, void *arg)
{
  memset(s, 0, sizeof *s);
  s->id = id;
  s->rekey_interval_ms = rekey_interval_ms;
  s->ops = ops;
  s->arg = arg;
  int rc = tc_dtls_init(&s->dtls, ctx, client, pin, &dtls_ops, s);
  if (rc == 0)
    s->state = TC_SESSION_HANDSHAKE;
  return rc;
}

void tc_session_free(struct tc_session *s)
{
  if (s->state == TC_SESSION_NONE)
    return;
  tc_rekey_free(&s->rekey);
  tc_rec_free(&s->rec);
  tc_dtls_free(&s->dtls);
  s->state = TC_SESSION_NONE;
}

void tc_session_set_role(struct tc_session *s, bool client)
{
  tc_dtls_set_role(&s->dtls, client);
}

void tc_session_start(struct tc_session *s)
{
  if (s->state == TC_SESSION_HANDSHAKE && s->dtls.client && s->dtls.state == TC_DTLS_IDLE)
    tc_dtls_start(&s->dtls);
}

void tc_session_dtls_input(struct tc_session *s, const uint8_t *p, size_t n)
{
  if (s->state == TC_SESSION_HANDSHAKE || s->state == TC_SESSION_KEYED)
    tc_dtls_input(&s->dtls, p, n);
}

int tc_session_tick(struct tc_session *s, uint64_t now, uint8_t *out, size_t cap)
{
  if (s->state == TC_SESSION_HANDSHAKE && s->dtls.state == TC_DTLS_HANDSHAKE &&
      tc_dtls_next_timeout_ms(&s->dtls) == 0)
    tc_dtls_timeout(&s->dtls);
  if (s->state != TC_SESSION_KEYED)
    return 0;
  int r = tc_rekey_tick(&s->rekey, &s->rec, now, out, cap);
  if (r == IPOP_ETIMEDOUT) {
    char why[96];
    snprintf(why, sizeof why, "rekey: no new keys for %llu s (the peer does not answer)",
             (unsigned long long)(now - s->rekey.since_ms) / 1000);
    fail(s, why);
  } else if (r < 0) {
    LOG_WARN("tincan", "rekey: cannot start a key exchange: %s", ipop_strerror(r));
    r = 0;
  }
  return r;
}

int tc_session_open(struct tc_session *s, uint8_t *out, size_t cap, const uint8_t *rec,
                    size_t n, uint64_t now)
{
  uint8_t epoch = 0;
  int r = tc_rec_open(&s->rec, out, cap, rec, n, &epoch);
  if (r < 0) {
    s->bad_records++;
    return r;
  }
  /* The peer has keys, so its handshake is over and it will never need a
   * DTLS retransmission from us: drop the DTLS session, and with it the
   * master secret from which epoch 0 could be recomputed. */
  if (s->dtls.ssl)
    tc_dtls_free(&s->dtls);
  if (tc_rekey_awaits(&s->rekey, epoch)) {
    tc_rekey_confirm(&s->rekey, &s->rec, now);
    LOG_DEBUG("tincan", "rekey: epoch %llu confirmed by the peer",
              (unsigned long long)s->rekey.epoch);
  }
  return r;
}

int tc_session_rekey_input(struct tc_session *s, const uint8_t *p, size_t n, uint64_t now,
                           uint8_t *out, size_t cap)
{
  if (s->state != TC_SESSION_KEYED)
    return IPOP_ESTATE;
  return tc_rekey_input(&s->rekey, &s->rec, p, n, now, out, cap);
}

const char *tc_session_cipher(const struct tc_session *s)
{
  return tc_dtls_cipher(&s->dtls);
}
