#include "record.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#include "bytes.h"
#include "error.h"

enum { WORDS = TC_REC_WINDOW / 64 };

bool tc_rec_window_check(const struct tc_rec_window *w, uint64_t counter)
{
  if (counter >= TC_REC_COUNTER_LIMIT)
    return false;
  uint64_t c = counter + 1; /* so that counter 0 is distinct from "none" */
  if (c > w->top)
    return true;
  /* The newest word may be partly unused, so the usable span is the window
   * minus one word (as in WireGuard's implementation). */
  if (w->top - c >= TC_REC_WINDOW - 64)
    return false;
  return !(w->bits[(c >> 6) % WORDS] & (UINT64_C(1) << (c & 63)));
}

void tc_rec_window_update(struct tc_rec_window *w, uint64_t counter)
{
  uint64_t c = counter + 1;
  if (c > w->top) {
    /* Clear the words the window slides over (at most all of them). */
    uint64_t cur = w->top >> 6, idx = c >> 6, diff = idx - cur;
    if (diff > WORDS)
      diff = WORDS;
    for (uint64_t i = 1; i <= diff; i++)
      w->bits[(cur + i) % WORDS] = 0;
    w->top = c;
  }
  w->bits[(c >> 6) % WORDS] |= UINT64_C(1) << (c & 63);
}

static EVP_CIPHER_CTX *ctx_new(const uint8_t key[TC_REC_KEY], bool enc)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (!c)
    return NULL;
  int ok = enc ? EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL)
               : EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL);
  if (ok != 1) {
    EVP_CIPHER_CTX_free(c);
    return NULL;
  }
  return c;
}

int tc_rec_init(struct tc_rec *r, const uint8_t tx_key[TC_REC_KEY],
                const uint8_t tx_iv[TC_REC_IV], const uint8_t rx_key[TC_REC_KEY],
                const uint8_t rx_iv[TC_REC_IV])
{
  memset(r, 0, sizeof *r);
  r->tx = ctx_new(tx_key, true);
  r->rx = ctx_new(rx_key, false);
  if (!r->tx || !r->rx) {
    tc_rec_free(r);
    return IPOP_ECRYPTO;
  }
  memcpy(r->tx_iv, tx_iv, TC_REC_IV);
  memcpy(r->rx_iv, rx_iv, TC_REC_IV);
  return 0;
}

int tc_rec_init_from_ssl(struct tc_rec *r, SSL *ssl, bool client)
{
  uint8_t km[2 * TC_REC_KEY + 2 * TC_REC_IV];
  if (!ssl || SSL_export_keying_material(ssl, km, sizeof km, TC_REC_LABEL,
                                         strlen(TC_REC_LABEL), NULL, 0, 0) != 1) {
    ERR_clear_error();
    memset(r, 0, sizeof *r);
    return IPOP_ECRYPTO;
  }
  const uint8_t *ck = km, *sk = km + TC_REC_KEY, *civ = km + 2 * TC_REC_KEY,
                *siv = civ + TC_REC_IV;
  int rc = client ? tc_rec_init(r, ck, civ, sk, siv) : tc_rec_init(r, sk, siv, ck, civ);
  OPENSSL_cleanse(km, sizeof km);
  return rc;
}

void tc_rec_free(struct tc_rec *r)
{
  EVP_CIPHER_CTX_free(r->tx);
  EVP_CIPHER_CTX_free(r->rx);
  OPENSSL_cleanse(r, sizeof *r);
}

static void nonce(uint8_t out[TC_REC_IV], const uint8_t iv[TC_REC_IV], uint64_t counter)
{
  memcpy(out, iv, TC_REC_IV);
  for (int i = 0; i < 8; i++)
    out[4 + i] ^= (uint8_t)(counter >> (56 - 8 * i));
}

int tc_rec_seal(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *a, size_t an,
                const uint8_t *b, size_t bn)
{
  size_t total = an + bn + TC_REC_OVERHEAD;
  if (!r->tx)
    return IPOP_ESTATE;
  if (total > TC_REC_MAX || total > outcap)
    return IPOP_ETOOBIG;
  if (r->tx_counter >= TC_REC_COUNTER_LIMIT)
    return IPOP_ESTATE;
  uint64_t ctr = r->tx_counter++;
  uint8_t iv[TC_REC_IV];
  int len = 0;
  out[0] = TC_REC_TYPE;
  ipop_put_be64(out + 1, ctr);
  nonce(iv, r->tx_iv, ctr);
  uint8_t *ct = out + TC_REC_HDR;
  if (EVP_EncryptInit_ex(r->tx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(r->tx, NULL, &len, out, TC_REC_HDR) != 1 ||
      (an && EVP_EncryptUpdate(r->tx, ct, &len, a, (int)an) != 1) ||
      (bn && EVP_EncryptUpdate(r->tx, ct + an, &len, b, (int)bn) != 1) ||
      EVP_EncryptFinal_ex(r->tx, ct + an + bn, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(r->tx, EVP_CTRL_GCM_GET_TAG, TC_REC_TAG, ct + an + bn) != 1) {
    ERR_clear_error();
    return IPOP_ECRYPTO;
  }
  return (int)total;
}

int tc_rec_open(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *rec, size_t n)
{
  if (!r->rx)
    return IPOP_ESTATE;
  if (!tc_rec_is_record(rec, n) || n > TC_REC_MAX || n - TC_REC_OVERHEAD > outcap) {
    r->malformed++;
    return IPOP_EPARSE;
  }
  uint64_t ctr = ipop_get_be64(rec + 1);
  if (!tc_rec_window_check(&r->win, ctr)) {
    r->replayed++;
    return IPOP_EREPLAY;
  }
  size_t pn = n - TC_REC_OVERHEAD;
  uint8_t iv[TC_REC_IV], tag[TC_REC_TAG];
  int len = 0;
  memcpy(tag, rec + n - TC_REC_TAG, TC_REC_TAG);
  nonce(iv, r->rx_iv, ctr);
  if (EVP_DecryptInit_ex(r->rx, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate(r->rx, NULL, &len, rec, TC_REC_HDR) != 1 ||
      (pn && EVP_DecryptUpdate(r->rx, out, &len, rec + TC_REC_HDR, (int)pn) != 1) ||
      EVP_CIPHER_CTX_ctrl(r->rx, EVP_CTRL_GCM_SET_TAG, TC_REC_TAG, tag) != 1 ||
      EVP_DecryptFinal_ex(r->rx, out + pn, &len) != 1) {
    ERR_clear_error();
    /* Never hand out plaintext that did not authenticate. */
    OPENSSL_cleanse(out, pn);
    r->auth_failed++;
    return IPOP_EAUTH;
  }
  tc_rec_window_update(&r->win, ctr);
  return (int)pn;
}
