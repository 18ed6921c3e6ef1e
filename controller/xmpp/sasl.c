#include "sasl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "secret.h"

void xmpp_b64_encode(const void *in, size_t len, struct sbuf *out)
{
  size_t n = 4 * ((len + 2) / 3);
  char *tmp = malloc(n + 1);
  if (!tmp) {
    out->oom = true;
    return;
  }
  EVP_EncodeBlock((unsigned char *)tmp, in, (int)len);
  sbuf_add(out, tmp, n);
  free(tmp);
}

int xmpp_b64_decode(const char *in, size_t len, uint8_t **out, size_t *outlen)
{
  *out = NULL;
  *outlen = 0;
  if (len % 4 != 0 || len > (1u << 24))
    return IPOP_EINVAL;
  size_t pad = 0;
  if (len >= 1 && in[len - 1] == '=')
    pad++;
  if (len >= 2 && in[len - 2] == '=')
    pad++;
  uint8_t *buf = malloc(len / 4 * 3 + 1);
  if (!buf)
    return IPOP_ENOMEM;
  int n = len ? EVP_DecodeBlock(buf, (const unsigned char *)in, (int)len) : 0;
  if (n < 0 || (size_t)n < pad) {
    free(buf);
    return IPOP_EINVAL;
  }
  *outlen = (size_t)n - pad;
  buf[*outlen] = 0;
  *out = buf;
  return 0;
}

int xmpp_scram_init(struct xmpp_scram *s, const char *mech, const char *user,
                    const char *cnonce)
{
  memset(s, 0, sizeof(*s));
  if (strcmp(mech, "SCRAM-SHA-1") == 0)
    s->md = EVP_sha1();
  else if (strcmp(mech, "SCRAM-SHA-256") == 0)
    s->md = EVP_sha256();
  else
    return IPOP_ENOTSUP;
  s->hlen = (size_t)EVP_MD_get_size(s->md);
  if (cnonce) {
    if (strlen(cnonce) >= sizeof(s->cnonce) || strchr(cnonce, ','))
      return IPOP_EINVAL;
    strcpy(s->cnonce, cnonce);
  } else {
    uint8_t rnd[18];
    if (ipop_random_bytes(rnd, sizeof(rnd)) != 0)
      return IPOP_ECRYPTO;
    EVP_EncodeBlock((unsigned char *)s->cnonce, rnd, sizeof(rnd));
  }
  /* saslname: '=' and ',' are escaped (RFC 5802 section 5.1). */
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "n=");
  for (const char *p = user; *p; p++) {
    if (*p == '=')
      sbuf_adds(&b, "=3D");
    else if (*p == ',')
      sbuf_adds(&b, "=2C");
    else
      sbuf_add(&b, p, 1);
  }
  sbuf_printf(&b, ",r=%s", s->cnonce);
  if (b.oom) {
    sbuf_free(&b);
    return IPOP_ENOMEM;
  }
  s->client_first_bare = b.data;
  return 0;
}

void xmpp_scram_clear(struct xmpp_scram *s)
{
  free(s->client_first_bare);
  OPENSSL_cleanse(s, sizeof(*s));
}

int xmpp_scram_client_first(struct xmpp_scram *s, struct sbuf *out)
{
  if (s->step != 0)
    return IPOP_ESTATE;
  sbuf_printf(out, "n,,%s", s->client_first_bare);
  s->step = 1;
  return out->oom ? IPOP_ENOMEM : 0;
}

/* Value of attribute `key` in "k=v,k=v"; NULL if absent. */
static const char *attr(const char *msg, size_t len, char key, size_t *vlen)
{
  const char *p = msg, *end = msg + len;
  while (p < end) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *e = comma ? comma : end;
    if (e - p >= 2 && p[0] == key && p[1] == '=') {
      *vlen = (size_t)(e - p - 2);
      return p + 2;
    }
    p = comma ? comma + 1 : end;
  }
  return NULL;
}

static int hmac(const struct xmpp_scram *s, const uint8_t *key, size_t klen,
                const void *data, size_t dlen, uint8_t *out)
{
  unsigned int olen = 0;
  return HMAC(s->md, key, (int)klen, data, dlen, out, &olen) ? 0 : IPOP_ECRYPTO;
}

int xmpp_scram_client_final(struct xmpp_scram *s, const char *password,
                            const char *server_first, size_t len,
                            struct sbuf *out)
{
  int r = IPOP_EAUTH;
  uint8_t *salt = NULL;
  size_t salt_len = 0;
  uint8_t salted[64], ckey[64], stored[64], csig[64], skey[64], proof[64];
  struct sbuf am, cf;
  sbuf_init(&am);
  sbuf_init(&cf);

  if (s->step != 1 || memchr(server_first, '\0', len))
    goto out;
  /* A mandatory extension we do not know ends the exchange. */
  if (len >= 2 && server_first[0] == 'm' && server_first[1] == '=')
    goto out;
  size_t nlen = 0, slen = 0, ilen = 0;
  const char *nonce = attr(server_first, len, 'r', &nlen);
  const char *salt64 = attr(server_first, len, 's', &slen);
  const char *iter = attr(server_first, len, 'i', &ilen);
  size_t cnlen = strlen(s->cnonce);
  if (!nonce || !salt64 || !iter || nlen <= cnlen ||
      memcmp(nonce, s->cnonce, cnlen) != 0)
    goto out;
  if (ilen == 0 || ilen > 9)
    goto out;
  unsigned long iters = 0;
  for (size_t i = 0; i < ilen; i++) {
    if (iter[i] < '0' || iter[i] > '9')
      goto out;
    iters = iters * 10 + (unsigned long)(iter[i] - '0');
  }
  if (iters == 0 || iters > XMPP_SCRAM_ITER_MAX) {
    r = IPOP_ETOOBIG;
    goto out;
  }
  if (xmpp_b64_decode(salt64, slen, &salt, &salt_len) != 0 || salt_len == 0)
    goto out;

  r = IPOP_ECRYPTO;
  if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len,
                        (int)iters, s->md, (int)s->hlen, salted) != 1)
    goto out;
  if (hmac(s, salted, s->hlen, "Client Key", 10, ckey) != 0 ||
      hmac(s, salted, s->hlen, "Server Key", 10, skey) != 0)
    goto out;
  unsigned int dl = 0;
  if (EVP_Digest(ckey, s->hlen, stored, &dl, s->md, NULL) != 1)
    goto out;

  /* client-final-message-without-proof: c=biws is base64("n,,"). */
  sbuf_adds(&cf, "c=biws,r=");
  sbuf_add(&cf, nonce, nlen);
  sbuf_adds(&am, s->client_first_bare);
  sbuf_adds(&am, ",");
  sbuf_add(&am, server_first, len);
  sbuf_adds(&am, ",");
  sbuf_add(&am, cf.data, cf.len);
  r = IPOP_ENOMEM;
  if (am.oom || cf.oom)
    goto out;
  r = IPOP_ECRYPTO;
  if (hmac(s, stored, s->hlen, am.data, am.len, csig) != 0 ||
      hmac(s, skey, s->hlen, am.data, am.len, s->server_sig) != 0)
    goto out;
  for (size_t i = 0; i < s->hlen; i++)
    proof[i] = ckey[i] ^ csig[i];
  sbuf_add(out, cf.data, cf.len);
  sbuf_adds(out, ",p=");
  xmpp_b64_encode(proof, s->hlen, out);
  r = out->oom ? IPOP_ENOMEM : 0;
  s->step = 2;
out:
  OPENSSL_cleanse(salted, sizeof(salted));
  OPENSSL_cleanse(ckey, sizeof(ckey));
  OPENSSL_cleanse(skey, sizeof(skey));
  OPENSSL_cleanse(stored, sizeof(stored));
  free(salt);
  sbuf_free(&am);
  sbuf_free(&cf);
  return r;
}

int xmpp_scram_verify(struct xmpp_scram *s, const char *server_final,
                      size_t len)
{
  if (s->step != 2)
    return IPOP_ESTATE;
  size_t vlen;
  const char *v = attr(server_final, len, 'v', &vlen);
  uint8_t *sig = NULL;
  size_t siglen = 0;
  if (!v || xmpp_b64_decode(v, vlen, &sig, &siglen) != 0)
    return IPOP_EAUTH;
  int ok = siglen == s->hlen && CRYPTO_memcmp(sig, s->server_sig, siglen) == 0;
  free(sig);
  return ok ? 0 : IPOP_EAUTH;
}
