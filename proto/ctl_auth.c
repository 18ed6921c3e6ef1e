#include "bytes.h"
#include "ctl_auth.h"
#include "error.h"
#include "log.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <string.h>

static const uint8_t auth_magic[4] = { 'I', 'P', 'C', '2' };
static const uint8_t v1_magic[4] = { 'I', 'P', 'C', '1' };
static const uint8_t nak_magic[4] = { 'I', 'P', 'N', '1' };
static const char aead_label[] = "ipop control v2 AES-256-GCM";

/* The AEAD key: HKDF-SHA-256 (RFC 5869) of the key file's 32 bytes, no salt
 * (the input is already uniformly random), with a label of its own. */
static int derive_key(const uint8_t ikm[IPOP_SECRET_LEN], uint8_t out[32])
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  EVP_KDF_free(kdf);
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, IPOP_SECRET_LEN),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)aead_label,
                                      sizeof aead_label - 1),
    OSSL_PARAM_construct_end(),
  };
  int ok = ctx && EVP_KDF_derive(ctx, out, 32, params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok ? 0 : IPOP_ECRYPTO;
}

static EVP_CIPHER_CTX *gcm_new(const uint8_t key[32], int enc)
{
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL, enc) == 1)
    return c;
  EVP_CIPHER_CTX_free(c);
  return NULL;
}

/* 96-bit nonce: sender id || low 32 bits of the counter (both from hdr). */
static void make_nonce(const uint8_t *hdr, uint8_t iv[12])
{
  memcpy(iv, hdr + 8, 8);
  memcpy(iv + 8, hdr + 20, 4);
}

int ctl_auth_init(struct ctl_auth *a, const uint8_t key[IPOP_SECRET_LEN])
{
  uint8_t k[32];
  memset(a, 0, sizeof *a);
  a->clock_ms = ipop_wallclock_ms;
  int rc = derive_key(key, k);
  if (rc == 0) {
    a->enc = gcm_new(k, 1);
    a->dec = gcm_new(k, 0);
  }
  OPENSSL_cleanse(k, sizeof k);
  if (!a->enc || !a->dec || ipop_random_bytes(&a->sender_id, sizeof a->sender_id) != 0) {
    ctl_auth_wipe(a);
    return IPOP_ECRYPTO;
  }
  return 0;
}

void ctl_auth_wipe(struct ctl_auth *a)
{
  EVP_CIPHER_CTX_free(a->enc); /* cleanses the key schedule */
  EVP_CIPHER_CTX_free(a->dec);
  a->enc = a->dec = NULL;
}

int ctl_auth_seal(struct ctl_auth *a, const void *payload, size_t len, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t *counter)
{
  if (len > CTL_MAX_PAYLOAD || cap < CTL_AUTH_OVERHEAD + len)
    return IPOP_ETOOBIG;
  /* The nonce holds 32 bits of the counter: a new sender id before they
   * would repeat (receivers see a new sender, nothing else changes). */
  if (a->counter >= UINT32_MAX) {
    if (ipop_random_bytes(&a->sender_id, sizeof a->sender_id) != 0)
      return IPOP_ECRYPTO;
    a->counter = 0;
  }
  uint8_t iv[12];
  int n = 0, fin = 0;
  memcpy(out, auth_magic, 4);
  memset(out + 4, 0, 4);
  ipop_put_be64(out + 8, a->sender_id);
  ipop_put_be64(out + 16, ++a->counter);
  ipop_put_be64(out + 24, a->clock_ms());
  make_nonce(out, iv);
  uint8_t *ct = out + CTL_AUTH_HDR_LEN;
  if (EVP_CipherInit_ex(a->enc, NULL, NULL, NULL, iv, 1) != 1 ||
      EVP_CipherUpdate(a->enc, NULL, &n, out, CTL_AUTH_HDR_LEN) != 1 ||
      (len && EVP_CipherUpdate(a->enc, ct, &n, payload, (int)len) != 1) ||
      EVP_CipherFinal_ex(a->enc, ct + (len ? n : 0), &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_GCM_GET_TAG, CTL_AUTH_TAG_LEN, ct + len) != 1)
    return IPOP_ECRYPTO;
  *outlen = CTL_AUTH_OVERHEAD + len;
  if (counter)
    *counter = a->counter;
  return 0;
}

/* Check the tag and decrypt the payload in place; 0 or IPOP_EAUTH. */
static int aead_open(struct ctl_auth *a, uint8_t *dgram, size_t len)
{
  uint8_t iv[12];
  size_t clen = len - CTL_AUTH_OVERHEAD;
  uint8_t *ct = dgram + CTL_AUTH_HDR_LEN;
  int n = 0, fin = 0;
  make_nonce(dgram, iv);
  if (EVP_CipherInit_ex(a->dec, NULL, NULL, NULL, iv, 0) == 1 &&
      EVP_CipherUpdate(a->dec, NULL, &n, dgram, CTL_AUTH_HDR_LEN) == 1 &&
      (clen == 0 || EVP_CipherUpdate(a->dec, ct, &n, ct, (int)clen) == 1) &&
      EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_GCM_SET_TAG, CTL_AUTH_TAG_LEN, ct + clen) == 1 &&
      EVP_CipherFinal_ex(a->dec, ct + (clen ? (size_t)n : 0), &fin) == 1)
    return 0;
  return IPOP_EAUTH;
}

static struct ctl_auth_sender *sender_slot(struct ctl_auth *a, uint64_t id)
{
  struct ctl_auth_sender *lru = &a->senders[0];
  for (int i = 0; i < CTL_AUTH_SENDERS; i++) {
    struct ctl_auth_sender *s = &a->senders[i];
    if (s->last_use && s->id == id)
      return s;
    if (s->last_use < lru->last_use)
      lru = s;
  }
  memset(lru, 0, sizeof *lru);
  lru->id = id;
  return lru;
}

/* Sliding-window replay check (RFC 6479 style, 64 counters wide). */
static bool replay_check_and_update(struct ctl_auth_sender *s, uint64_t ctr)
{
  if (ctr == 0)
    return false;
  if (s->top == 0 || ctr > s->top) {
    uint64_t shift = s->top ? ctr - s->top : 64;
    s->bitmap = shift >= 64 ? 0 : s->bitmap << shift;
    s->bitmap |= 1;
    s->top = ctr;
    return true;
  }
  uint64_t back = s->top - ctr;
  if (back >= 64 || (s->bitmap & (1ull << back)))
    return false;
  s->bitmap |= 1ull << back;
  return true;
}

int ctl_auth_open(struct ctl_auth *a, uint8_t *dgram, size_t len, const uint8_t **payload,
                  size_t *plen)
{
  if (len < CTL_AUTH_OVERHEAD || len > CTL_MAX_DGRAM) {
    a->stats.bad_length++;
    return IPOP_EAUTH;
  }
  if (memcmp(dgram, auth_magic, 4) != 0) {
    a->stats.bad_magic++;
    return IPOP_EAUTH;
  }
  if (aead_open(a, dgram, len) != 0) {
    a->stats.bad_mac++;
    return IPOP_EAUTH;
  }
  uint64_t sender = ipop_get_be64(dgram + 8), ctr = ipop_get_be64(dgram + 16);
  uint64_t ts = ipop_get_be64(dgram + 24), now = a->clock_ms();
  if ((ts > now ? ts - now : now - ts) > CTL_AUTH_WINDOW_MS) {
    a->stats.stale++;
    return IPOP_EREPLAY;
  }
  struct ctl_auth_sender *s = sender_slot(a, sender);
  if (!replay_check_and_update(s, ctr)) {
    a->stats.replayed++;
    return IPOP_EREPLAY;
  }
  s->last_use = ++a->use_seq; /* a counter, not a clock: no ties */
  a->stats.accepted++;
  *payload = dgram + CTL_AUTH_HDR_LEN;
  *plen = len - CTL_AUTH_OVERHEAD;
  return 0;
}

size_t ctl_auth_nak(const uint8_t *dgram, size_t len, enum ctl_nak_reason why,
                    uint8_t out[CTL_NAK_LEN])
{
  if (len < 24 || (memcmp(dgram, auth_magic, 4) != 0 && memcmp(dgram, v1_magic, 4) != 0))
    return 0;
  memcpy(out, nak_magic, 4);
  out[4] = (uint8_t)(memcmp(dgram, v1_magic, 4) == 0 ? CTL_NAK_VERSION : why);
  memset(out + 5, 0, 3);
  memcpy(out + 8, dgram + 8, 16); /* sender id and counter */
  return CTL_NAK_LEN;
}

int ctl_auth_is_nak(const struct ctl_auth *a, const uint8_t *dgram, size_t len,
                    uint64_t *counter, enum ctl_nak_reason *why)
{
  if (len != CTL_NAK_LEN || memcmp(dgram, nak_magic, 4) != 0 ||
      ipop_get_be64(dgram + 8) != a->sender_id)
    return 0;
  *counter = ipop_get_be64(dgram + 16);
  *why = dgram[4] == CTL_NAK_REPLAY || dgram[4] == CTL_NAK_VERSION ? dgram[4] : CTL_NAK_AUTH;
  return 1;
}
