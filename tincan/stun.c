/* STUN/TURN messages (stun.h). */
#include "stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static uint16_t get16(const uint8_t *p)
{
  return (uint16_t)(p[0] << 8 | p[1]);
}
static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
  put16(p, (uint16_t)(v >> 16));
  put16(p + 2, (uint16_t)v);
}

/* HMAC-SHA1(key, a | b). */
static bool hmac_sha1(const uint8_t key[TC_STUN_KEY], const uint8_t *a, size_t an,
                      const uint8_t *b, size_t bn, uint8_t out[20])
{
  uint8_t mac[EVP_MAX_MD_SIZE];
  size_t outl = 0;
  EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
  OSSL_PARAM params[] = {
    OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
    OSSL_PARAM_construct_end(),
  };
  bool ok = ctx && EVP_MAC_init(ctx, key, TC_STUN_KEY, params) && EVP_MAC_update(ctx, a, an) &&
            (bn == 0 || EVP_MAC_update(ctx, b, bn)) &&
            EVP_MAC_final(ctx, mac, &outl, sizeof mac) && outl == 20;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(alg);
  if (ok)
    memcpy(out, mac, 20);
  return ok;
}

/* ---- parsing ---------------------------------------------------------------- */

/* XOR-*-ADDRESS: family, port ^ magic's top half, address ^ magic (| txid). */
static int xaddr(const uint8_t *v, size_t n, const uint8_t *hdr, struct sockaddr_storage *ss)
{
  uint8_t mask[16];
  put32(mask, TC_STUN_MAGIC);
  memcpy(mask + 4, hdr + 8, TC_STUN_TXID);
  memset(ss, 0, sizeof *ss);
  if (n < 4)
    return IPOP_EPARSE;
  uint16_t port = get16(v + 2) ^ (uint16_t)(TC_STUN_MAGIC >> 16);
  if (v[1] == 1 && n == 8) {
    struct sockaddr_in *s = (struct sockaddr_in *)ss;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    uint8_t a[4];
    for (int i = 0; i < 4; i++)
      a[i] = v[4 + i] ^ mask[i];
    memcpy(&s->sin_addr, a, 4);
    return 0;
  }
  if (v[1] == 2 && n == 20) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    for (int i = 0; i < 16; i++)
      s->sin6_addr.s6_addr[i] = v[4 + i] ^ mask[i];
    return 0;
  }
  return IPOP_EPARSE;
}

/* Realm and nonce are echoed back: printable ASCII only, else refused. */
static int text_exact(const uint8_t *v, size_t n, char out[TC_STUN_TEXT])
{
  if (n >= TC_STUN_TEXT)
    return IPOP_EPARSE;
  for (size_t i = 0; i < n; i++)
    if (v[i] < 0x20 || v[i] > 0x7e)
      return IPOP_EPARSE;
  memcpy(out, v, n);
  out[n] = '\0';
  return 0;
}

/* A reason phrase is only shown: cut and with anything unprintable as '?'. */
static void text_shown(const uint8_t *v, size_t n, char out[TC_STUN_TEXT])
{
  if (n >= TC_STUN_TEXT)
    n = TC_STUN_TEXT - 1;
  for (size_t i = 0; i < n; i++)
    out[i] = v[i] >= 0x20 && v[i] <= 0x7e && v[i] != '"' && v[i] != '\\' ? (char)v[i] : '?';
  out[n] = '\0';
}

static int attribute(struct tc_stun_msg *m, const uint8_t *hdr, uint16_t type, const uint8_t *v,
                     size_t n)
{
  switch (type) {
  case TC_STUN_A_ERROR_CODE:
    if (n < 4 || m->error)
      return n < 4 ? IPOP_EPARSE : 0;
    if ((v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
      return IPOP_EPARSE;
    m->error = (v[2] & 7) * 100 + v[3];
    text_shown(v + 4, n - 4, m->reason);
    return 0;
  case TC_STUN_A_XOR_RELAYED:
    if (m->has_relayed)
      return 0;
    m->has_relayed = true;
    return xaddr(v, n, hdr, &m->relayed);
  case TC_STUN_A_XOR_MAPPED:
    if (m->has_mapped)
      return 0;
    m->has_mapped = true;
    return xaddr(v, n, hdr, &m->mapped);
  case TC_STUN_A_XOR_PEER:
    if (m->has_peer)
      return 0;
    m->has_peer = true;
    return xaddr(v, n, hdr, &m->peer);
  case TC_STUN_A_LIFETIME:
    if (n != 4)
      return IPOP_EPARSE;
    m->has_lifetime = true;
    m->lifetime = get32(v);
    return 0;
  case TC_STUN_A_REALM:
    return m->realm[0] ? 0 : text_exact(v, n, m->realm);
  case TC_STUN_A_NONCE:
    return m->nonce[0] ? 0 : text_exact(v, n, m->nonce);
  case TC_STUN_A_DATA:
    if (!m->data) {
      m->data = v;
      m->data_len = n;
    }
    return 0;
  default:
    return 0; /* comprehension-optional or not needed here */
  }
}

int tc_stun_parse(const uint8_t *p, size_t n, struct tc_stun_msg *m)
{
  memset(m, 0, sizeof *m);
  if (!tc_stun_is_stun(p, n) || get16(p + 2) != n - TC_STUN_HDR || (n & 3) ||
      get32(p + 4) != TC_STUN_MAGIC)
    return IPOP_EPARSE;
  uint16_t t = get16(p);
  m->cls = (uint16_t)(t & 0x110);
  m->method = (uint16_t)((t & 0xF) | ((t >> 1) & 0x70) | ((t >> 2) & 0xF80));
  memcpy(m->txid, p + 8, TC_STUN_TXID);
  for (size_t off = TC_STUN_HDR; off < n;) {
    if (n - off < 4)
      return IPOP_EPARSE;
    uint16_t type = get16(p + off), len = get16(p + off + 2);
    if (len > n - off - 4)
      return IPOP_EPARSE;
    if (type == TC_STUN_A_INTEGRITY) {
      if (len != 20)
        return IPOP_EPARSE;
      m->has_integrity = true;
      m->integrity_at = off;
      return 0; /* nothing after it counts (only FINGERPRINT may follow) */
    }
    int rc = attribute(m, p, type, p + off + 4, len);
    if (rc)
      return rc;
    off += 4 + (((size_t)len + 3) & ~(size_t)3);
  }
  return 0;
}

bool tc_stun_integrity_ok(const uint8_t *p, size_t n, const struct tc_stun_msg *m,
                          const uint8_t key[TC_STUN_KEY])
{
  if (!m->has_integrity || m->integrity_at + 24 > n || m->integrity_at > 65535)
    return false;
  /* Over the header (its length covering MESSAGE-INTEGRITY) and every
   * attribute before it. */
  uint8_t hdr[TC_STUN_HDR], mac[20];
  memcpy(hdr, p, TC_STUN_HDR);
  put16(hdr + 2, (uint16_t)(m->integrity_at + 24 - TC_STUN_HDR));
  return hmac_sha1(key, hdr, sizeof hdr, p + TC_STUN_HDR, m->integrity_at - TC_STUN_HDR, mac) &&
         CRYPTO_memcmp(mac, p + m->integrity_at + 4, 20) == 0;
}

void tc_stun_key(const char *user, const char *realm, const char *password,
                 uint8_t key[TC_STUN_KEY])
{
  EVP_MD_CTX *c = EVP_MD_CTX_new();
  unsigned len = 0;
  if (!c || !EVP_DigestInit_ex(c, EVP_md5(), NULL) ||
      !EVP_DigestUpdate(c, user, strlen(user)) || !EVP_DigestUpdate(c, ":", 1) ||
      !EVP_DigestUpdate(c, realm, strlen(realm)) || !EVP_DigestUpdate(c, ":", 1) ||
      !EVP_DigestUpdate(c, password, strlen(password)) || !EVP_DigestFinal_ex(c, key, &len))
    memset(key, 0, TC_STUN_KEY);
  EVP_MD_CTX_free(c);
}

/* ---- building ----------------------------------------------------------------- */

void tc_stun_begin(struct tc_stun_out *o, uint8_t *buf, size_t cap, uint16_t method,
                   uint16_t cls, const uint8_t txid[TC_STUN_TXID])
{
  o->buf = buf;
  o->cap = cap;
  o->len = TC_STUN_HDR;
  o->overflow = cap < TC_STUN_HDR;
  if (o->overflow)
    return;
  uint16_t t = (uint16_t)((method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2) |
                          cls);
  put16(buf, t);
  put16(buf + 2, 0);
  put32(buf + 4, TC_STUN_MAGIC);
  memcpy(buf + 8, txid, TC_STUN_TXID);
}

void tc_stun_add(struct tc_stun_out *o, uint16_t type, const void *v, size_t n)
{
  size_t padded = (n + 3) & ~(size_t)3;
  if (o->overflow || n > 65535 || o->cap - o->len < 4 + padded) {
    o->overflow = true;
    return;
  }
  put16(o->buf + o->len, type);
  put16(o->buf + o->len + 2, (uint16_t)n);
  if (n)
    memcpy(o->buf + o->len + 4, v, n);
  memset(o->buf + o->len + 4 + n, 0, padded - n);
  o->len += 4 + padded;
}

void tc_stun_add_u32(struct tc_stun_out *o, uint16_t type, uint32_t v)
{
  uint8_t b[4];
  put32(b, v);
  tc_stun_add(o, type, b, 4);
}

void tc_stun_add_xaddr(struct tc_stun_out *o, uint16_t type, const struct sockaddr *sa)
{
  uint8_t v[20], mask[16];
  put32(mask, TC_STUN_MAGIC);
  memcpy(mask + 4, o->buf + 8, TC_STUN_TXID);
  v[0] = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
    const uint8_t *a = (const uint8_t *)&s->sin_addr;
    v[1] = 1;
    put16(v + 2, ntohs(s->sin_port) ^ (uint16_t)(TC_STUN_MAGIC >> 16));
    for (int i = 0; i < 4; i++)
      v[4 + i] = a[i] ^ mask[i];
    tc_stun_add(o, type, v, 8);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
    v[1] = 2;
    put16(v + 2, ntohs(s->sin6_port) ^ (uint16_t)(TC_STUN_MAGIC >> 16));
    for (int i = 0; i < 16; i++)
      v[4 + i] = s->sin6_addr.s6_addr[i] ^ mask[i];
    tc_stun_add(o, type, v, 20);
  } else {
    o->overflow = true;
  }
}

int tc_stun_finish(struct tc_stun_out *o, const char *user, const char *realm,
                   const char *nonce, const uint8_t *key)
{
  if (key) {
    tc_stun_add(o, TC_STUN_A_USERNAME, user, strlen(user));
    tc_stun_add(o, TC_STUN_A_REALM, realm, strlen(realm));
    tc_stun_add(o, TC_STUN_A_NONCE, nonce, strlen(nonce));
    if (o->overflow || o->cap - o->len < 24)
      return IPOP_ETOOBIG;
    put16(o->buf + 2, (uint16_t)(o->len + 24 - TC_STUN_HDR));
    uint8_t mac[20];
    if (!hmac_sha1(key, o->buf, o->len, NULL, 0, mac))
      return IPOP_ECRYPTO;
    tc_stun_add(o, TC_STUN_A_INTEGRITY, mac, 20);
  }
  if (o->overflow)
    return IPOP_ETOOBIG;
  put16(o->buf + 2, (uint16_t)(o->len - TC_STUN_HDR));
  return (int)o->len;
}

const char *tc_stun_hint(int code)
{
  switch (code) {
  case 400: return " (bad request: e.g. the peer already has another channel)";
  case 401: return " (wrong username or password)";
  case 403: return " (the server's policy forbids this peer address)";
  case 437: return " (allocation mismatch: no allocation from this address, or an old one)";
  case 438: return " (stale nonce)";
  case 441: return " (wrong credentials for this allocation)";
  case 442: return " (transport not supported)";
  case 486: return " (allocation quota reached)";
  case 508: return " (server out of capacity)";
  default: return "";
  }
}

/* ---- ChannelData, addresses ---------------------------------------------------- */

int tc_chan_get(const uint8_t *p, size_t n, uint16_t *ch)
{
  if (n < TC_CHAN_HDR)
    return -1;
  *ch = get16(p);
  size_t len = get16(p + 2);
  if (*ch < TC_CHAN_MIN || *ch > TC_CHAN_MAX || len > n - TC_CHAN_HDR)
    return -1;
  return (int)len;
}

void tc_addr_text(const struct sockaddr *sa, char *out, size_t n)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
    snprintf(out, n, "%s:%u", ip, ntohs(s->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
    snprintf(out, n, "[%s]:%u", ip, ntohs(s->sin6_port));
  } else {
    snprintf(out, n, "-");
  }
}

bool tc_addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
  if (a->sa_family != b->sa_family)
    return false;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
           ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  if (a->sa_family == AF_INET6)
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
  return false;
}

bool tc_addr_eq(const struct sockaddr *a, const struct sockaddr *b)
{
  if (!tc_addr_same_ip(a, b))
    return false;
  if (a->sa_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_port == ((const struct sockaddr_in *)b)->sin_port;
  return ((const struct sockaddr_in6 *)a)->sin6_port ==
         ((const struct sockaddr_in6 *)b)->sin6_port;
}

socklen_t tc_addr_len(const struct sockaddr *sa)
{
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}
