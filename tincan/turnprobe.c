/* The TURN probe (turnprobe.h). */
#include "turnprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "secret.h"
#include "validate.h"

static const unsigned retry_ms[TC_PROBE_TRIES] = {500, 1000, 1000};

static void say(struct tc_turnprobe *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void say(struct tc_turnprobe *t, const char *fmt, ...)
{
  if (t->result_len >= sizeof t->result - 1)
    return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(t->result + t->result_len, sizeof t->result - t->result_len, fmt, ap);
  va_end(ap);
  if (n > 0)
    t->result_len += (size_t)n;
  if (t->result_len >= sizeof t->result)
    t->result_len = sizeof t->result - 1;
}

static void finish(struct tc_turnprobe *t)
{
  if (t->step == TC_PROBE_DONE)
    return;
  if (t->flags & TC_PROBE_ALLOCATED) {
    /* Free the allocation: Refresh with lifetime 0, not waited for. */
    struct tc_stun_out o;
    uint8_t buf[256];
    ipop_random_bytes(t->txid, sizeof t->txid);
    tc_stun_begin(&o, buf, sizeof buf, TC_STUN_REFRESH, TC_STUN_REQUEST, t->txid);
    tc_stun_add_u32(&o, TC_STUN_A_LIFETIME, 0);
    int n = tc_stun_finish(&o, t->user, t->realm, t->nonce, t->key);
    if (n > 0)
      (void)send(t->fd, buf, (size_t)n, MSG_DONTWAIT);
  }
  t->step = TC_PROBE_DONE;
  uv_timer_stop(&t->timer);
  uv_poll_stop(&t->poll);
  OPENSSL_cleanse(t->key, sizeof t->key);
  OPENSSL_cleanse(t->password, sizeof t->password);
  t->done(t->arg, t->result);
}

static void timer_cb(uv_timer_t *h);

/* Build the current step's request with a fresh transaction id and send it. */
static void request(struct tc_turnprobe *t)
{
  struct tc_stun_out o;
  ipop_random_bytes(t->txid, sizeof t->txid);
  bool alloc = t->step == TC_PROBE_ALLOC;
  tc_stun_begin(&o, t->req, sizeof t->req, alloc ? TC_STUN_ALLOCATE : TC_STUN_CREATE_PERMISSION,
                TC_STUN_REQUEST, t->txid);
  if (alloc)
    tc_stun_add_u32(&o, TC_STUN_A_TRANSPORT, 17u << 24); /* UDP */
  else
    tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (const struct sockaddr *)&t->peers[t->peer]);
  bool auth = t->flags & TC_PROBE_AUTH;
  int n = tc_stun_finish(&o, t->user, t->realm, t->nonce, auth ? t->key : NULL);
  if (n < 0) {
    say(t, "cannot build a request (%s)", ipop_strerror(n));
    finish(t);
    return;
  }
  t->req_len = (size_t)n;
  t->tries = 0;
  (void)send(t->fd, t->req, t->req_len, MSG_DONTWAIT);
  uv_timer_start(&t->timer, timer_cb, retry_ms[0], 0);
}

static void timer_cb(uv_timer_t *h)
{
  struct tc_turnprobe *t = h->data;
  if (++t->tries < TC_PROBE_TRIES) {
    (void)send(t->fd, t->req, t->req_len, MSG_DONTWAIT);
    uv_timer_start(&t->timer, timer_cb, retry_ms[t->tries], 0);
    return;
  }
  if (t->step == TC_PROBE_ALLOC)
    say(t, "no answer to Allocate (server unreachable over UDP, or not a TURN server)");
  else
    say(t, "; no answer to CreatePermission");
  finish(t);
}

/* The next permission, or the end. */
static void next_peer(struct tc_turnprobe *t)
{
  t->flags &= ~(unsigned)TC_PROBE_RENONCED;
  if (t->step == TC_PROBE_ALLOC) {
    t->step = TC_PROBE_PERM;
    t->peer = 0;
  } else {
    t->peer++;
  }
  if (t->peer >= t->n_peers) {
    finish(t);
    return;
  }
  request(t);
}

static void on_answer(struct tc_turnprobe *t, const uint8_t *p, size_t n)
{
  struct tc_stun_msg m;
  if (tc_stun_parse(p, n, &m) != 0 || memcmp(m.txid, t->txid, sizeof t->txid) != 0 ||
      (m.cls != TC_STUN_SUCCESS && m.cls != TC_STUN_ERROR))
    return; /* not ours: ignore */
  if ((t->flags & TC_PROBE_AUTH) && m.has_integrity && !tc_stun_integrity_ok(p, n, &m, t->key))
    return;
  if (m.cls == TC_STUN_ERROR && (m.error == 401 || m.error == 438) && m.realm[0] &&
      m.nonce[0] && !(t->flags & TC_PROBE_RENONCED) &&
      (m.error == 438 || !(t->flags & TC_PROBE_AUTH))) {
    /* The challenge (or a stale nonce): once per request. */
    if (!(t->flags & TC_PROBE_AUTH) || strcmp(t->realm, m.realm) != 0) {
      snprintf(t->realm, sizeof t->realm, "%s", m.realm);
      tc_stun_key(t->user, t->realm, t->password, t->key);
    }
    snprintf(t->nonce, sizeof t->nonce, "%s", m.nonce);
    if (t->flags & TC_PROBE_AUTH)
      t->flags |= TC_PROBE_RENONCED;
    t->flags |= TC_PROBE_AUTH;
    request(t);
    return;
  }
  char addr[CTL_HOSTPORT_LEN];
  if (t->step == TC_PROBE_ALLOC) {
    if (m.cls == TC_STUN_ERROR) {
      say(t, "allocation refused: %d %s%s", m.error, m.reason, tc_stun_hint(m.error));
      finish(t);
      return;
    }
    t->flags |= TC_PROBE_ALLOCATED;
    if (m.has_relayed)
      tc_addr_text((const struct sockaddr *)&m.relayed, addr, sizeof addr);
    say(t, "allocation ok (%s)", m.has_relayed ? addr : "no relayed address");
    next_peer(t);
    return;
  }
  tc_addr_text((const struct sockaddr *)&t->peers[t->peer], addr, sizeof addr);
  char *colon = strrchr(addr, ':'); /* permissions are per IP address */
  if (colon)
    *colon = '\0';
  if (m.cls == TC_STUN_ERROR)
    say(t, "; permission for %s refused: %d %s%s", addr, m.error, m.reason, tc_stun_hint(m.error));
  else
    say(t, "; permission for %s ok", addr);
  next_peer(t);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
  struct tc_turnprobe *t = h->data;
  uint8_t buf[1500];
  (void)events;
  if (status < 0)
    return;
  for (int i = 0; i < 8 && t->step != TC_PROBE_DONE; i++) {
    ssize_t n = recv(t->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)) {
      say(t, "server unreachable (%s)", strerror(errno));
      finish(t);
      return;
    }
    if (n <= 0)
      return;
    on_answer(t, buf, (size_t)n);
  }
}

int tc_turnprobe_start(struct tc_turnprobe *t, uv_loop_t *loop, const struct ctl_turn_server *ts,
                       const struct sockaddr_storage *peers, unsigned n, tc_probe_done_fn done,
                       void *arg)
{
  struct sockaddr_storage server;
  memset(t, 0, sizeof *t);
  t->fd = -1;
  if (tc_parse_hostport(ts->address, &server) != 0)
    return IPOP_EINVAL;
  snprintf(t->server_text, sizeof t->server_text, "%s", ts->address);
  snprintf(t->user, sizeof t->user, "%s", ts->user);
  snprintf(t->password, sizeof t->password, "%s", ts->password);
  for (unsigned i = 0; i < n && t->n_peers < TC_PROBE_PEERS; i++) {
    bool dup = false; /* one permission per IP */
    for (unsigned j = 0; j < t->n_peers; j++)
      dup |= tc_addr_same_ip((const struct sockaddr *)&peers[i],
                             (const struct sockaddr *)&t->peers[j]);
    if (!dup && peers[i].ss_family == server.ss_family)
      t->peers[t->n_peers++] = peers[i];
  }
  t->done = done;
  t->arg = arg;
  t->fd = socket(server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (t->fd < 0 ||
      connect(t->fd, (const struct sockaddr *)&server, tc_addr_len((struct sockaddr *)&server))) {
    if (t->fd >= 0)
      close(t->fd);
    t->fd = -1;
    OPENSSL_cleanse(t->password, sizeof t->password);
    return IPOP_ESYS;
  }
  if (ts->transport != CTL_TURN_UDP)
    say(t, "(probed over UDP) ");
  uv_poll_init(loop, &t->poll, t->fd);
  uv_timer_init(loop, &t->timer);
  t->poll.data = t->timer.data = t;
  t->flags |= TC_PROBE_POLLING | TC_PROBE_TIMING;
  uv_poll_start(&t->poll, UV_READABLE, poll_cb);
  t->step = TC_PROBE_ALLOC;
  request(t);
  return 0;
}

int tc_turnprobe_close(struct tc_turnprobe *t, uv_close_cb cb, void *handle_data)
{
  int closing = 0;
  OPENSSL_cleanse(t->key, sizeof t->key);
  OPENSSL_cleanse(t->password, sizeof t->password);
  if (t->flags & TC_PROBE_POLLING) {
    uv_poll_stop(&t->poll);
    t->poll.data = handle_data;
    uv_close((uv_handle_t *)&t->poll, cb);
    closing++;
  }
  if (t->flags & TC_PROBE_TIMING) {
    uv_timer_stop(&t->timer);
    t->timer.data = handle_data;
    uv_close((uv_handle_t *)&t->timer, cb);
    closing++;
  }
  t->flags &= ~(unsigned)(TC_PROBE_POLLING | TC_PROBE_TIMING);
  if (t->fd >= 0)
    close(t->fd);
  t->fd = -1;
  t->step = TC_PROBE_DONE;
  return closing;
}
