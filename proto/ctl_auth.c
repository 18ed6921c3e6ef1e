#include "bytes.h"
#include "ctl_auth.h"
#include "error.h"
#include "log.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

static const uint8_t auth_magic[4] = { 'I', 'P', 'C', '1' };
static const uint8_t nak_magic[4] = { 'I', 'P', 'N', '1' };

/* HMAC-SHA-256 over the first 32 header bytes and the payload. */
static int auth_mac(struct ctl_auth *a, const uint8_t *hdr, const uint8_t *payload,
                    size_t len, uint8_t mac[32])
{
  size_t outl = 0;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
    OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(a->mac, a->key, IPOP_SECRET_LEN, params) == 1 &&
      EVP_MAC_update(a->mac, hdr, 32) == 1 && EVP_MAC_update(a->mac, payload, len) == 1 &&
      EVP_MAC_final(a->mac, mac, &outl, 32) == 1 && outl == 32)
    return 0;
  return IPOP_ECRYPTO;
}

int ctl_auth_init(struct ctl_auth *a, const uint8_t key[IPOP_SECRET_LEN])
{
  memset(a, 0, sizeof *a);
  memcpy(a->key, key, IPOP_SECRET_LEN);
  a->clock_ms = ipop_wallclock_ms;
  EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
  a->mac = alg ? EVP_MAC_CTX_new(alg) : NULL;
  EVP_MAC_free(alg); /* the context keeps its own reference */
  if (!a->mac || ipop_random_bytes(&a->sender_id, sizeof a->sender_id) != 0) {
    ctl_auth_wipe(a);
    return IPOP_ECRYPTO;
  }
  return 0;
}

void ctl_auth_wipe(struct ctl_auth *a)
{
  OPENSSL_cleanse(a->key, sizeof a->key);
  EVP_MAC_CTX_free(a->mac);
  a->mac = NULL;
}

int ctl_auth_seal(struct ctl_auth *a, const void *payload, size_t len, uint8_t *out,
                  size_t cap, size_t *outlen, uint64_t *counter)
{
  if (len > CTL_MAX_PAYLOAD || cap < CTL_AUTH_HDR_LEN + len)
    return IPOP_ETOOBIG;
  memcpy(out, auth_magic, 4);
  memset(out + 4, 0, 4);
  ipop_put_be64(out + 8, a->sender_id);
  ipop_put_be64(out + 16, ++a->counter);
  ipop_put_be64(out + 24, a->clock_ms());
  memcpy(out + CTL_AUTH_HDR_LEN, payload, len);
  int rc = auth_mac(a, out, out + CTL_AUTH_HDR_LEN, len, out + 32);
  if (rc)
    return rc;
  *outlen = CTL_AUTH_HDR_LEN + len;
  if (counter)
    *counter = a->counter;
  return 0;
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

int ctl_auth_open(struct ctl_auth *a, const uint8_t *dgram, size_t len,
                  const uint8_t **payload, size_t *plen)
{
  uint8_t mac[32];
  if (len < CTL_AUTH_HDR_LEN || len > CTL_MAX_DGRAM) {
    a->stats.bad_length++;
    return IPOP_EAUTH;
  }
  if (memcmp(dgram, auth_magic, 4) != 0) {
    a->stats.bad_magic++;
    return IPOP_EAUTH;
  }
  if (auth_mac(a, dgram, dgram + CTL_AUTH_HDR_LEN, len - CTL_AUTH_HDR_LEN, mac) != 0 ||
      CRYPTO_memcmp(mac, dgram + 32, 32) != 0) {
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
  *plen = len - CTL_AUTH_HDR_LEN;
  return 0;
}

size_t ctl_auth_nak(const uint8_t *dgram, size_t len, enum ctl_nak_reason why,
                    uint8_t out[CTL_NAK_LEN])
{
  if (len < 24 || memcmp(dgram, auth_magic, 4) != 0)
    return 0;
  memcpy(out, nak_magic, 4);
  out[4] = (uint8_t)why;
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
  *why = dgram[4] == CTL_NAK_REPLAY ? CTL_NAK_REPLAY : CTL_NAK_AUTH;
  return 1;
}
