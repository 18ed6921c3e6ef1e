#include "record.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

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

/* EVP_CIPHER_CTX_free cleanses the expanded key before freeing it. */
static void keys_wipe(struct tc_rec_keys *k)
{
  EVP_CIPHER_CTX_free(k->ctx);
  OPENSSL_cleanse(k, sizeof *k);
}

static int keys_set(struct tc_rec_keys *k, uint8_t epoch, const uint8_t key[TC_REC_KEY],
                    const uint8_t iv[TC_REC_IV], bool enc)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  int ok = c && (enc ? EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL)
                     : EVP_DecryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL));
  if (ok != 1) {
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    return IPOP_ECRYPTO;
  }
  keys_wipe(k);
  k->ctx = c;
  k->epoch = epoch;
  memcpy(k->iv, iv, TC_REC_IV);
  return 0;
}

int tc_rec_init(struct tc_rec *r, const uint8_t tx_key[TC_REC_KEY],
                const uint8_t tx_iv[TC_REC_IV], const uint8_t rx_key[TC_REC_KEY],
                const uint8_t rx_iv[TC_REC_IV])
{
  memset(r, 0, sizeof *r);
  int rc = tc_rec_set_tx(r, 0, tx_key, tx_iv);
  if (rc == 0)
    rc = tc_rec_add_rx(r, 0, rx_key, rx_iv);
  if (rc)
    tc_rec_free(r);
  return rc;
}

int tc_rec_set_tx(struct tc_rec *r, uint8_t epoch, const uint8_t key[TC_REC_KEY],
                  const uint8_t iv[TC_REC_IV])
{
  int rc = keys_set(&r->tx, epoch, key, iv, true);
  if (rc == 0)
    r->tx_counter = 0;
  return rc;
}

static struct tc_rec_rx *rx_find(struct tc_rec *r, uint8_t epoch)
{
  for (int i = 0; i < TC_REC_RX_SLOTS; i++)
    if (r->rx[i].k.ctx && r->rx[i].k.epoch == epoch)
      return &r->rx[i];
  return NULL;
}

int tc_rec_add_rx(struct tc_rec *r, uint8_t epoch, const uint8_t key[TC_REC_KEY],
                  const uint8_t iv[TC_REC_IV])
{
  struct tc_rec_rx *s = rx_find(r, epoch);
  for (int i = 0; !s && i < TC_REC_RX_SLOTS; i++)
    if (!r->rx[i].k.ctx)
      s = &r->rx[i];
  if (!s)
    return IPOP_EBUSY;
  int rc = keys_set(&s->k, epoch, key, iv, false);
  if (rc == 0)
    memset(&s->win, 0, sizeof s->win);
  return rc;
}

void tc_rec_drop_rx(struct tc_rec *r, uint8_t epoch)
{
  struct tc_rec_rx *s = rx_find(r, epoch);
  if (s) {
    keys_wipe(&s->k);
    memset(&s->win, 0, sizeof s->win);
  }
}

bool tc_rec_has_rx(const struct tc_rec *r, uint8_t epoch)
{
  return rx_find((struct tc_rec *)r, epoch) != NULL;
}

void tc_rec_free(struct tc_rec *r)
{
  keys_wipe(&r->tx);
  for (int i = 0; i < TC_REC_RX_SLOTS; i++)
    keys_wipe(&r->rx[i].k);
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
  if (!r->tx.ctx || r->tx_counter >= TC_REC_COUNTER_LIMIT)
    return IPOP_ESTATE;
  if (total > TC_REC_MAX || total > outcap)
    return IPOP_ETOOBIG;
  uint64_t ctr = r->tx_counter++;
  uint8_t iv[TC_REC_IV];
  int len = 0;
  out[0] = TC_REC_TYPE;
  out[1] = r->tx.epoch;
  for (int i = 0; i < 7; i++)
    out[2 + i] = (uint8_t)(ctr >> (48 - 8 * i));
  nonce(iv, r->tx.iv, ctr);
  EVP_CIPHER_CTX *c = r->tx.ctx;
  uint8_t *ct = out + TC_REC_HDR;
  if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(c, NULL, &len, out, TC_REC_HDR) != 1 ||
      (an && EVP_EncryptUpdate(c, ct, &len, a, (int)an) != 1) ||
      (bn && EVP_EncryptUpdate(c, ct + an, &len, b, (int)bn) != 1) ||
      EVP_EncryptFinal_ex(c, ct + an + bn, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TC_REC_TAG, ct + an + bn) != 1) {
    ERR_clear_error();
    return IPOP_ECRYPTO;
  }
  return (int)total;
}

int tc_rec_open(struct tc_rec *r, uint8_t *out, size_t outcap, const uint8_t *rec, size_t n,
                uint8_t *epoch)
{
  if (!tc_rec_is_record(rec, n) || n > TC_REC_MAX || n - TC_REC_OVERHEAD > outcap) {
    r->malformed++;
    return IPOP_EPARSE;
  }
  struct tc_rec_rx *s = rx_find(r, rec[1]);
  if (!s) {
    r->no_keys++;
    return IPOP_ENOENT;
  }
  uint64_t ctr = 0;
  for (int i = 2; i < TC_REC_HDR; i++)
    ctr = ctr << 8 | rec[i];
  if (!tc_rec_window_check(&s->win, ctr)) {
    r->replayed++;
    return IPOP_EREPLAY;
  }
  size_t pn = n - TC_REC_OVERHEAD;
  uint8_t iv[TC_REC_IV], tag[TC_REC_TAG];
  int len = 0;
  memcpy(tag, rec + n - TC_REC_TAG, TC_REC_TAG);
  nonce(iv, s->k.iv, ctr);
  EVP_CIPHER_CTX *c = s->k.ctx;
  if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, iv) != 1 ||
      EVP_DecryptUpdate(c, NULL, &len, rec, TC_REC_HDR) != 1 ||
      (pn && EVP_DecryptUpdate(c, out, &len, rec + TC_REC_HDR, (int)pn) != 1) ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TC_REC_TAG, tag) != 1 ||
      EVP_DecryptFinal_ex(c, out + pn, &len) != 1) {
    ERR_clear_error();
    /* Never hand out plaintext that did not authenticate. */
    OPENSSL_cleanse(out, pn);
    r->auth_failed++;
    return IPOP_EAUTH;
  }
  tc_rec_window_update(&s->win, ctr);
  *epoch = rec[1];
  return (int)pn;
}
