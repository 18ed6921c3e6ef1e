/* The TURN client of a taken-over relayed path (turnchan.h). */
#include "turnchan.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "secret.h"
#include "validate.h"

enum tc_turn_verdict tc_turnchan_classify(const struct tc_turnchan *t, const uint8_t *d,
                                          size_t n, const struct sockaddr *from,
                                          const uint8_t **data, size_t *len)
{
  if (!from || !tc_addr_eq(from, (const struct sockaddr *)&t->server))
    return TC_TURN_FORGED;
  if (n >= 1 && d[0] >= 0x40 && d[0] <= 0x4F) {
    if (n < TC_CHAN_HDR)
      return TC_TURN_BAD_LENGTH;
    uint16_t ch = (uint16_t)(d[0] << 8 | d[1]);
    size_t dl = (size_t)(d[2] << 8 | d[3]);
    if (!(t->flags & TC_TURN_BOUND) || ch != t->channel)
      return TC_TURN_BAD_CHANNEL;
    /* Over UDP the data may be followed by up to 3 bytes of padding. */
    if (dl == 0 || dl > TC_TURN_PAYLOAD_MAX || dl > n - TC_CHAN_HDR ||
        n - TC_CHAN_HDR - dl > 3)
      return TC_TURN_BAD_LENGTH;
    *data = d + TC_CHAN_HDR;
    *len = dl;
    return TC_TURN_DATA;
  }
  struct tc_stun_msg m;
  if (!tc_stun_is_stun(d, n) || tc_stun_parse(d, n, &m) != 0)
    return TC_TURN_JUNK;
  if (m.method == TC_STUN_DATA && m.cls == TC_STUN_INDICATION) {
    if (!m.has_peer || !tc_addr_eq((const struct sockaddr *)&m.peer,
                                   (const struct sockaddr *)&t->peer))
      return TC_TURN_BAD_PEER;
    if (!m.data || m.data_len == 0 || m.data_len > TC_TURN_PAYLOAD_MAX)
      return TC_TURN_BAD_LENGTH;
    *data = m.data;
    *len = m.data_len;
    return TC_TURN_DATA;
  }
  return TC_TURN_STUN;
}

static void set_error(struct tc_turnchan *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct tc_turnchan *t, const char *fmt, ...)
{
  char was[sizeof t->error];
  memcpy(was, t->error, sizeof was);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(t->error, sizeof t->error, fmt, ap);
  va_end(ap);
  if (strcmp(was, t->error) != 0)
    t->flags |= TC_TURN_ERROR_NEW;
}

static void send_req(struct tc_turnchan *t)
{
  (void)sendto(t->fd, t->req, t->req_len, MSG_DONTWAIT, (const struct sockaddr *)&t->server,
               tc_addr_len((const struct sockaddr *)&t->server));
}

/* Build request `method` with a fresh transaction id (credentials once
 * the server gave its realm and nonce) and send it. */
static void request(struct tc_turnchan *t, uint16_t method, uint64_t now)
{
  struct tc_stun_out o;
  ipop_random_bytes(t->txid, sizeof t->txid);
  tc_stun_begin(&o, t->req, sizeof t->req, method, TC_STUN_REQUEST, t->txid);
  if (method == TC_STUN_CHANNEL_BIND) {
    tc_stun_add_u32(&o, TC_STUN_A_CHANNEL, (uint32_t)t->channel << 16);
    tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (const struct sockaddr *)&t->peer);
  } else {
    tc_stun_add_u32(&o, TC_STUN_A_LIFETIME, TC_TURN_LIFETIME_S);
  }
  bool auth = t->flags & TC_TURN_AUTH;
  int n = tc_stun_finish(&o, t->ts->user, t->realm, t->nonce, auth ? t->key : NULL);
  if (n < 0) {
    set_error(t, "turn: cannot build a request (%s)", ipop_strerror(n));
    t->method = 0;
    return;
  }
  t->req_len = (size_t)n;
  t->method = method;
  t->tries = 1;
  t->resend_ms = now + TC_TURN_RTO_MS;
  send_req(t);
}

int tc_turnchan_start(struct tc_turnchan *t, int fd, const struct ctl_turn_server *ts,
                      const struct sockaddr *peer, uint64_t now)
{
  memset(t, 0, sizeof *t);
  if (tc_parse_hostport(ts->address, &t->server) != 0)
    return IPOP_EINVAL;
  t->fd = fd;
  t->ts = ts;
  memcpy(&t->peer, peer, tc_addr_len(peer));
  t->channel = TC_CHAN_MIN;
  t->refresh_ms = now; /* after the bind */
  request(t, TC_STUN_CHANNEL_BIND, now);
  return 0;
}

static const char *method_name(uint16_t m)
{
  return m == TC_STUN_CHANNEL_BIND ? "channel bind" : "refresh";
}

/* The challenge (401 before we had credentials) or a stale nonce (438,
 * once per request): take realm and nonce, send the request again. */
static bool challenge(struct tc_turnchan *t, const struct tc_stun_msg *m, uint64_t now)
{
  if (m->cls != TC_STUN_ERROR || !m->realm[0] || !m->nonce[0])
    return false;
  if (!(m->error == 438 && !(t->flags & TC_TURN_RENONCED)) &&
      !(m->error == 401 && !(t->flags & TC_TURN_AUTH)))
    return false;
  if (!(t->flags & TC_TURN_AUTH) || strcmp(t->realm, m->realm) != 0) {
    snprintf(t->realm, sizeof t->realm, "%s", m->realm);
    tc_stun_key(t->ts->user, t->realm, t->ts->password, t->key);
  }
  snprintf(t->nonce, sizeof t->nonce, "%s", m->nonce);
  if (m->error == 438)
    t->flags |= TC_TURN_RENONCED;
  t->flags |= TC_TURN_AUTH;
  request(t, t->method, now);
  return true;
}

static void answer(struct tc_turnchan *t, const uint8_t *p, size_t n, uint64_t now)
{
  struct tc_stun_msg m;
  if (!t->method || tc_stun_parse(p, n, &m) != 0 || m.method != t->method ||
      memcmp(m.txid, t->txid, sizeof t->txid) != 0 ||
      (m.cls != TC_STUN_SUCCESS && m.cls != TC_STUN_ERROR))
    return; /* not an answer to our pending request */
  if (m.has_integrity && (!(t->flags & TC_TURN_AUTH) || !tc_stun_integrity_ok(p, n, &m, t->key)))
    return;
  if (m.cls == TC_STUN_SUCCESS && !m.has_integrity)
    return; /* only the server, who knows the key, can say yes */
  if (challenge(t, &m, now))
    return;
  uint16_t method = t->method;
  t->method = 0;
  t->flags &= ~(unsigned)TC_TURN_RENONCED;
  char peer[CTL_HOSTPORT_LEN];
  tc_addr_text((const struct sockaddr *)&t->peer, peer, sizeof peer);
  if (m.cls == TC_STUN_SUCCESS) {
    if (method == TC_STUN_CHANNEL_BIND) {
      if (!(t->flags & TC_TURN_BOUND))
        LOG_INFO("tincan", "turn %s: channel 0x%04x bound to %s", t->ts->address, t->channel,
                 peer);
      t->flags |= TC_TURN_BOUND;
      t->bind_ms = now + TC_TURN_REFRESH_MS;
      t->binds++;
    } else {
      t->refresh_ms = now + TC_TURN_REFRESH_MS;
      t->refreshes++;
    }
    return;
  }
  if (method == TC_STUN_CHANNEL_BIND && m.error == 400 && !(t->flags & TC_TURN_BOUND) &&
      t->channel < TC_CHAN_MIN + TC_TURN_CHANNELS - 1) {
    t->channel++; /* the peer has another number (libnice's), or this one another peer */
    request(t, TC_STUN_CHANNEL_BIND, now);
    return;
  }
  set_error(t, "turn %s: %s for %s refused: %d %s%s", t->ts->address, method_name(method), peer,
            m.error, m.reason, tc_stun_hint(m.error));
  /* Try again at the next period; the link's keepalive judges the path. */
  if (method == TC_STUN_CHANNEL_BIND)
    t->bind_ms = now + TC_TURN_REFRESH_MS / 8;
  else
    t->refresh_ms = now + TC_TURN_REFRESH_MS / 8;
}

bool tc_turnchan_input(struct tc_turnchan *t, const uint8_t *d, size_t n,
                       const struct sockaddr *from, uint64_t now, const uint8_t **data,
                       size_t *len)
{
  enum tc_turn_verdict v = tc_turnchan_classify(t, d, n, from, data, len);
  if (v == TC_TURN_DATA)
    return true;
  if (v == TC_TURN_STUN)
    answer(t, d, n, now);
  else
    t->dropped[v]++;
  return false;
}

bool tc_turnchan_tick(struct tc_turnchan *t, uint64_t now)
{
  if (t->method && now >= t->resend_ms) {
    if (t->tries >= TC_TURN_TRIES) {
      set_error(t, "turn %s: no answer to %s (server unreachable)", t->ts->address,
                method_name(t->method));
      if (t->method == TC_STUN_CHANNEL_BIND)
        t->bind_ms = now + TC_TURN_REFRESH_MS / 8;
      else
        t->refresh_ms = now + TC_TURN_REFRESH_MS / 8;
      t->method = 0;
    } else {
      t->resend_ms = now + ((uint64_t)TC_TURN_RTO_MS << t->tries);
      t->tries++;
      send_req(t);
    }
  }
  if (!t->method && now >= t->bind_ms)
    request(t, TC_STUN_CHANNEL_BIND, now);
  else if (!t->method && now >= t->refresh_ms)
    request(t, TC_STUN_REFRESH, now);
  bool changed = t->flags & TC_TURN_ERROR_NEW;
  t->flags &= ~(unsigned)TC_TURN_ERROR_NEW;
  return changed;
}

size_t tc_turnchan_send_ind(const struct tc_turnchan *t, const uint8_t *d, size_t n,
                            uint8_t *out, size_t cap)
{
  struct tc_stun_out o;
  uint8_t txid[TC_STUN_TXID];
  ipop_random_bytes(txid, sizeof txid);
  tc_stun_begin(&o, out, cap, TC_STUN_SEND, TC_STUN_INDICATION, txid);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (const struct sockaddr *)&t->peer);
  tc_stun_add(&o, TC_STUN_A_DATA, d, n);
  int r = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  return r > 0 ? (size_t)r : 0;
}

uint64_t tc_turnchan_dropped(const struct tc_turnchan *t)
{
  uint64_t s = 0;
  for (unsigned i = 0; i <= TC_TURN_JUNK; i++)
    s += t->dropped[i];
  return s;
}

void tc_turnchan_stop(struct tc_turnchan *t)
{
  if (t->flags & TC_TURN_AUTH) {
    /* Free the allocation (Refresh, lifetime 0), as libnice would have;
     * not waited for: the allocation ends in 10 min anyway. */
    struct tc_stun_out o;
    ipop_random_bytes(t->txid, sizeof t->txid);
    tc_stun_begin(&o, t->req, sizeof t->req, TC_STUN_REFRESH, TC_STUN_REQUEST, t->txid);
    tc_stun_add_u32(&o, TC_STUN_A_LIFETIME, 0);
    int n = tc_stun_finish(&o, t->ts->user, t->realm, t->nonce, t->key);
    if (n > 0) {
      t->req_len = (size_t)n;
      send_req(t);
    }
  }
  OPENSSL_cleanse(t->key, sizeof t->key);
  t->method = 0;
}
