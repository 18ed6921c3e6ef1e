#include "rekey.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <string.h>

#include "bytes.h"
#include "error.h"

static const char k_sig_label[] = "ipop rekey v1";
static const char k_keys_info[] = "ipop keys v1";
static const char k_chain_info[] = "ipop chain v1";

enum { KEYS_LEN = 2 * TC_REC_KEY + 2 * TC_REC_IV };

/* ---- primitives ----------------------------------------------------------- */

/* HKDF-SHA256 (RFC 5869) with an empty salt: extract-and-expand, or expand
 * only (ikm then being the pseudorandom key). */
static int hkdf(bool extract, const uint8_t *ikm, size_t il, const uint8_t *info, size_t inl,
                uint8_t *out, size_t ol)
{
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *c = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
  int mode = extract ? EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  OSSL_PARAM p[] = {
    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
    OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, il),
    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, inl),
    OSSL_PARAM_construct_end(),
  };
  int ok = c && EVP_KDF_derive(c, out, ol, p) == 1;
  EVP_KDF_CTX_free(c);
  EVP_KDF_free(kdf);
  if (!ok) {
    ERR_clear_error();
    return IPOP_ECRYPTO;
  }
  return 0;
}

/* An epoch's four keys from its chaining secret, into rec: tx always, rx
 * when rx is set (dropping a third set first: at most two live). */
static int install(struct tc_rekey *k, struct tc_rec *rec, const uint8_t chain[TC_REKEY_CHAIN],
                   uint64_t epoch, bool tx, bool rx)
{
  uint8_t km[KEYS_LEN];
  int rc = hkdf(false, chain, TC_REKEY_CHAIN, (const uint8_t *)k_keys_info,
                sizeof k_keys_info - 1, km, sizeof km);
  const uint8_t *ck = km, *sk = km + TC_REC_KEY, *civ = km + 2 * TC_REC_KEY,
                *siv = civ + TC_REC_IV;
  uint8_t e = (uint8_t)epoch;
  if (rc == 0 && tx)
    rc = k->client ? tc_rec_set_tx(rec, e, ck, civ) : tc_rec_set_tx(rec, e, sk, siv);
  if (rc == 0 && rx) {
    if (!tc_rec_has_rx(rec, e) && k->old_rx) {
      tc_rec_drop_rx(rec, k->old_epoch);
      k->old_rx = false;
    }
    rc = k->client ? tc_rec_add_rx(rec, e, sk, siv) : tc_rec_add_rx(rec, e, ck, civ);
  }
  OPENSSL_cleanse(km, sizeof km);
  return rc;
}

static EVP_PKEY *eph_new(uint8_t pub[TC_REKEY_PUB])
{
  EVP_PKEY *p = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
  size_t len = TC_REKEY_PUB;
  if (!p || EVP_PKEY_get_raw_public_key(p, pub, &len) != 1 || len != TC_REKEY_PUB) {
    EVP_PKEY_free(p);
    ERR_clear_error();
    return NULL;
  }
  return p;
}

/* X25519 shared secret; fails on a low-order peer point (all-zero result). */
static int dh(EVP_PKEY *eph, const uint8_t peer_pub[TC_REKEY_PUB], uint8_t z[32])
{
  EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, TC_REKEY_PUB);
  EVP_PKEY_CTX *c = peer ? EVP_PKEY_CTX_new(eph, NULL) : NULL;
  size_t len = 32;
  int ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
           EVP_PKEY_derive(c, z, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(c);
  EVP_PKEY_free(peer);
  if (!ok) {
    ERR_clear_error();
    OPENSSL_cleanse(z, 32);
    return IPOP_ECRYPTO;
  }
  return 0;
}

/* C_{e+1} = HKDF(ikm = C_e || Z, info): both secrets go in as the input
 * key material, which OpenSSL wipes when the KDF is freed (a salt would be
 * freed as it is: HKDF treats salts as public). */
static int next_chain(const struct tc_rekey *k, uint64_t epoch, const uint8_t z[32],
                      const uint8_t pub_i[TC_REKEY_PUB], const uint8_t pub_r[TC_REKEY_PUB],
                      uint8_t out[TC_REKEY_CHAIN])
{
  uint8_t info[sizeof k_chain_info - 1 + 8 + 2 * TC_REKEY_PUB], *p = info;
  memcpy(p, k_chain_info, sizeof k_chain_info - 1);
  p += sizeof k_chain_info - 1;
  ipop_put_be64(p, epoch);
  memcpy(p + 8, pub_i, TC_REKEY_PUB);
  memcpy(p + 8 + TC_REKEY_PUB, pub_r, TC_REKEY_PUB);
  uint8_t ikm[TC_REKEY_CHAIN + 32];
  memcpy(ikm, k->chain, TC_REKEY_CHAIN);
  memcpy(ikm + TC_REKEY_CHAIN, z, 32);
  int rc = hkdf(true, ikm, sizeof ikm, info, sizeof info, out, TC_REKEY_CHAIN);
  OPENSSL_cleanse(ikm, sizeof ikm);
  return rc;
}

/* What a signature covers (see rekey.h); returns its length. */
static size_t tbs(uint8_t *out, uint8_t type, const uint8_t *signer_fpr,
                  const uint8_t *verifier_fpr, uint64_t epoch, const uint8_t *pub_i,
                  const uint8_t *pub_r)
{
  uint8_t *p = out;
  memcpy(p, k_sig_label, sizeof k_sig_label - 1);
  p += sizeof k_sig_label - 1;
  *p++ = type;
  memcpy(p, signer_fpr, TC_REKEY_FPR);
  memcpy(p + TC_REKEY_FPR, verifier_fpr, TC_REKEY_FPR);
  p += 2 * TC_REKEY_FPR;
  ipop_put_be64(p, epoch);
  p += 8;
  memcpy(p, pub_i, TC_REKEY_PUB);
  p += TC_REKEY_PUB;
  if (pub_r) {
    memcpy(p, pub_r, TC_REKEY_PUB);
    p += TC_REKEY_PUB;
  }
  return (size_t)(p - out);
}

enum { TBS_MAX = sizeof k_sig_label - 1 + 1 + 2 * TC_REKEY_FPR + 8 + 2 * TC_REKEY_PUB };

static int sign(const struct tc_rekey *k, uint8_t type, uint64_t epoch, const uint8_t *pub_i,
                const uint8_t *pub_r, uint8_t *sig, size_t *siglen)
{
  uint8_t m[TBS_MAX];
  size_t mn = tbs(m, type, k->self_fpr, k->peer_fpr, epoch, pub_i, pub_r);
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  *siglen = TC_REKEY_SIG_MAX;
  int ok = c && EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k->self_key) == 1 &&
           EVP_DigestSign(c, sig, siglen, m, mn) == 1;
  EVP_MD_CTX_free(c);
  if (!ok) {
    ERR_clear_error();
    return IPOP_ECRYPTO;
  }
  return 0;
}

static bool verify(const struct tc_rekey *k, uint8_t type, uint64_t epoch, const uint8_t *pub_i,
                   const uint8_t *pub_r, const uint8_t *sig, size_t siglen)
{
  uint8_t m[TBS_MAX];
  size_t mn = tbs(m, type, k->peer_fpr, k->self_fpr, epoch, pub_i, pub_r);
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  bool ok = c && EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, k->peer_key) == 1 &&
            EVP_DigestVerify(c, sig, siglen, m, mn) == 1;
  EVP_MD_CTX_free(c);
  ERR_clear_error();
  return ok;
}

/* ---- messages ------------------------------------------------------------- */

/* Parsed INIT or RESP; pointers into the message. */
struct msg {
  uint8_t type;
  uint64_t epoch;
  const uint8_t *pub_i, *pub_r;
  const uint8_t *sig;
  size_t siglen;
};

/* Exact lengths only: type | epoch | pubs | siglen | sig, nothing after. */
static int parse(const uint8_t *p, size_t n, struct msg *m)
{
  memset(m, 0, sizeof *m);
  if (n < 9)
    return IPOP_EPARSE;
  m->type = p[0];
  m->epoch = ipop_get_be64(p + 1);
  if (m->type == TC_REKEY_DONE)
    return n == 9 ? 0 : IPOP_EPARSE;
  size_t npub = m->type == TC_REKEY_INIT ? 1 : m->type == TC_REKEY_RESP ? 2 : 0;
  size_t off = 9 + npub * TC_REKEY_PUB;
  if (!npub || n < off + 1)
    return IPOP_EPARSE;
  m->pub_i = p + 9;
  m->pub_r = npub == 2 ? p + 9 + TC_REKEY_PUB : NULL;
  m->siglen = p[off];
  m->sig = p + off + 1;
  if (m->siglen == 0 || m->siglen > TC_REKEY_SIG_MAX || n != off + 1 + m->siglen)
    return IPOP_EPARSE;
  return 0;
}

/* Build and sign INIT (pub_r NULL) or RESP into k->msg. */
static int build(struct tc_rekey *k, uint8_t type, uint64_t epoch, const uint8_t *pub_i,
                 const uint8_t *pub_r)
{
  uint8_t *p = k->msg;
  p[0] = type;
  ipop_put_be64(p + 1, epoch);
  size_t off = 9;
  memcpy(p + off, pub_i, TC_REKEY_PUB);
  off += TC_REKEY_PUB;
  if (pub_r) {
    memcpy(p + off, pub_r, TC_REKEY_PUB);
    off += TC_REKEY_PUB;
  }
  size_t siglen = 0;
  int rc = sign(k, type, epoch, pub_i, pub_r, p + off + 1, &siglen);
  if (rc)
    return rc;
  p[off] = (uint8_t)siglen;
  k->msg_len = off + 1 + siglen;
  return 0;
}

static int emit(struct tc_rekey *k, uint8_t *out, size_t cap, uint64_t now)
{
  if (k->msg_len > cap)
    return IPOP_ETOOBIG;
  memcpy(out, k->msg, k->msg_len);
  k->sent_ms = now;
  return (int)k->msg_len;
}

static void drop_exchange(struct tc_rekey *k)
{
  EVP_PKEY_free(k->eph);
  k->eph = NULL;
  OPENSSL_cleanse(k->next_chain, sizeof k->next_chain);
  OPENSSL_cleanse(k->pub_i, sizeof k->pub_i);
  k->msg_len = 0;
  k->state = TC_REKEY_IDLE;
}

/* The new epoch is now the sending one. */
static void advance(struct tc_rekey *k, const uint8_t chain[TC_REKEY_CHAIN], uint64_t now)
{
  memcpy(k->chain, chain, TC_REKEY_CHAIN);
  k->epoch++;
  k->since_ms = now;
  k->rekeys++;
}

/* ---- the exchange ---------------------------------------------------------- */

int tc_rekey_start(struct tc_rekey *k, struct tc_rec *rec, bool client,
                   const uint8_t chain0[TC_REKEY_CHAIN], EVP_PKEY *self_key, EVP_PKEY *peer_key,
                   const uint8_t self_fpr[TC_REKEY_FPR], const uint8_t peer_fpr[TC_REKEY_FPR],
                   uint64_t interval_ms, uint64_t now_ms)
{
  memset(k, 0, sizeof *k);
  if (!self_key || !peer_key || EVP_PKEY_up_ref(peer_key) != 1)
    return IPOP_EINVAL;
  k->client = client;
  k->self_key = self_key;
  k->peer_key = peer_key;
  memcpy(k->self_fpr, self_fpr, TC_REKEY_FPR);
  memcpy(k->peer_fpr, peer_fpr, TC_REKEY_FPR);
  k->interval_ms = interval_ms;
  memcpy(k->chain, chain0, TC_REKEY_CHAIN);
  k->since_ms = now_ms;
  memset(rec, 0, sizeof *rec);
  int rc = install(k, rec, k->chain, 0, true, true);
  if (rc) {
    tc_rec_free(rec);
    tc_rekey_free(k);
  }
  return rc;
}

void tc_rekey_free(struct tc_rekey *k)
{
  EVP_PKEY_free(k->eph);
  EVP_PKEY_free(k->peer_key);
  OPENSSL_cleanse(k, sizeof *k);
}

static int initiate(struct tc_rekey *k, uint64_t now, uint8_t *out, size_t cap)
{
  k->eph = eph_new(k->pub_i);
  if (!k->eph || build(k, TC_REKEY_INIT, k->epoch + 1, k->pub_i, NULL) != 0) {
    drop_exchange(k);
    return IPOP_ECRYPTO;
  }
  k->state = TC_REKEY_INITIATED;
  return emit(k, out, cap, now);
}

int tc_rekey_tick(struct tc_rekey *k, struct tc_rec *rec, uint64_t now, uint8_t *out,
                  size_t cap)
{
  if (k->old_rx && now >= k->old_until_ms) {
    tc_rec_drop_rx(rec, k->old_epoch);
    k->old_rx = false;
  }
  uint64_t age = now > k->since_ms ? now - k->since_ms : 0;
  if (age > TC_REKEY_REJECT_FACTOR * k->interval_ms)
    return IPOP_ETIMEDOUT;
  if (k->state == TC_REKEY_INITIATED && now - k->sent_ms >= TC_REKEY_RETRY_MS)
    return emit(k, out, cap, now);
  if (k->state == TC_REKEY_IDLE &&
      (age >= k->interval_ms || rec->tx_counter >= TC_REKEY_AFTER_RECORDS))
    return initiate(k, now, out, cap);
  return 0;
}

/* INIT for epoch+1 from the peer: answer it (as the responder). */
static int respond(struct tc_rekey *k, struct tc_rec *rec, const struct msg *m, uint64_t now,
                   uint8_t *out, size_t cap)
{
  if (k->state == TC_REKEY_RESPONDED && memcmp(m->pub_i, k->pub_i, TC_REKEY_PUB) == 0)
    return emit(k, out, cap, now); /* our RESP was lost: the same again */
  if (!verify(k, TC_REKEY_INIT, m->epoch, m->pub_i, NULL, m->sig, m->siglen))
    return IPOP_EAUTH;
  if (k->state == TC_REKEY_INITIATED)
    k->collisions++; /* we are the server: the client's exchange wins */
  drop_exchange(k);
  uint8_t pub_r[TC_REKEY_PUB], z[32];
  EVP_PKEY *eph = eph_new(pub_r);
  int rc = eph ? dh(eph, m->pub_i, z) : IPOP_ECRYPTO;
  EVP_PKEY_free(eph); /* the private half is needed no more */
  if (rc == 0)
    rc = next_chain(k, m->epoch, z, m->pub_i, pub_r, k->next_chain);
  OPENSSL_cleanse(z, sizeof z);
  if (rc == 0)
    rc = install(k, rec, k->next_chain, m->epoch, false, true);
  if (rc == 0)
    rc = build(k, TC_REKEY_RESP, m->epoch, m->pub_i, pub_r);
  if (rc) {
    tc_rec_drop_rx(rec, (uint8_t)m->epoch);
    drop_exchange(k);
    return rc;
  }
  memcpy(k->pub_i, m->pub_i, TC_REKEY_PUB);
  k->state = TC_REKEY_RESPONDED;
  return emit(k, out, cap, now);
}

/* RESP to our INIT: switch to the new epoch (as the initiator). */
static int finish(struct tc_rekey *k, struct tc_rec *rec, const struct msg *m, uint64_t now,
                  uint8_t *out, size_t cap)
{
  if (memcmp(m->pub_i, k->pub_i, TC_REKEY_PUB) != 0 ||
      !verify(k, TC_REKEY_RESP, m->epoch, m->pub_i, m->pub_r, m->sig, m->siglen))
    return IPOP_EAUTH;
  uint8_t z[32], chain[TC_REKEY_CHAIN];
  int rc = dh(k->eph, m->pub_r, z);
  if (rc == 0)
    rc = next_chain(k, m->epoch, z, k->pub_i, m->pub_r, chain);
  OPENSSL_cleanse(z, sizeof z);
  if (rc == 0)
    rc = install(k, rec, chain, m->epoch, true, true);
  if (rc) {
    OPENSSL_cleanse(chain, sizeof chain);
    return rc; /* keep waiting: a later RESP (or a retry) may work */
  }
  advance(k, chain, now);
  OPENSSL_cleanse(chain, sizeof chain);
  drop_exchange(k);
  k->state = TC_REKEY_SWITCHED;
  /* The previous epoch stays receivable until the peer sends on the new
   * one (tc_rekey_confirm).  DONE, sealed under the new keys, lets the
   * responder switch without waiting for traffic. */
  if (cap < 9)
    return IPOP_ETOOBIG;
  out[0] = TC_REKEY_DONE;
  ipop_put_be64(out + 1, k->epoch);
  return 9;
}

int tc_rekey_input(struct tc_rekey *k, struct tc_rec *rec, const uint8_t *p, size_t n,
                   uint64_t now, uint8_t *out, size_t cap)
{
  struct msg m;
  int rc = parse(p, n, &m);
  if (rc == 0) {
    if (m.type == TC_REKEY_DONE)
      return 0; /* its record already confirmed the epoch, if it was new */
    rc = IPOP_EREPLAY; /* for another epoch: stale (a resend that crossed) */
    if (m.epoch == k->epoch + 1 && m.type == TC_REKEY_INIT) {
      if (k->state == TC_REKEY_INITIATED && k->client) {
        k->collisions++; /* ours wins; the server answers it */
        return 0;
      }
      if (k->state != TC_REKEY_SWITCHED)
        rc = respond(k, rec, &m, now, out, cap);
    } else if (m.epoch == k->epoch + 1 && k->state == TC_REKEY_INITIATED) {
      rc = finish(k, rec, &m, now, out, cap);
    }
  }
  if (rc < 0 && rc != IPOP_EREPLAY)
    k->bad_msgs++;
  return rc;
}

int tc_rekey_confirm(struct tc_rekey *k, struct tc_rec *rec, uint64_t now)
{
  if (k->state == TC_REKEY_RESPONDED) {
    int rc = install(k, rec, k->next_chain, k->epoch + 1, true, false);
    if (rc)
      return rc;
    advance(k, k->next_chain, now);
  } else if (k->state != TC_REKEY_SWITCHED) {
    return 0;
  }
  drop_exchange(k);
  k->old_rx = true;
  k->old_epoch = (uint8_t)(k->epoch - 1);
  k->old_until_ms = now + TC_REKEY_GRACE_MS;
  return 0;
}
