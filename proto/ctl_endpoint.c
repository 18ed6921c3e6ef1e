#include "ctl.h"
#include "envelope.h"
#include "error.h"
#include "log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTL_MAX_PENDING_IN 256
#define CTL_MAX_PENDING_OUT 1024
#define CTL_TICK_MS 100
#define CTL_NAK_PER_SEC 20

/* A request we sent and whose answer we wait for. */
struct pending_out {
  struct pending_out *next;
  uint64_t txid;
  uint64_t auth_counter;          /* to match a NAK */
  struct sockaddr_storage to;
  const struct ctl_msg_desc *msg; /* NULL: raw JSON answer */
  ctl_response_cb cb;
  void *ctx;
  uint64_t deadline_ms;
};

struct ctl_request {
  struct ctl_request *next, *prev;
  struct ctl_endpoint *ep;        /* NULL once the endpoint closed */
  struct sockaddr_storage peer;
  uint64_t txid;
  const struct ctl_msg_desc *msg;
  char name[CTL_NAME_LEN];
};

/* A read-only event listener (ctl_monitor_add). */
struct monitor {
  struct sockaddr_storage addr;
  uint64_t until_ms;              /* 0: free slot */
};

struct ctl_endpoint {
  uv_udp_t udp;
  uv_timer_t timer;
  struct ctl_auth auth;
  struct ctl_endpoint_config cfg;
  struct ctl_endpoint_stats stats;
  struct pending_out *pending;
  unsigned n_pending;
  struct ctl_request *inflight;
  unsigned n_inflight;
  uint64_t next_txid;
  int open_handles;
  bool closing;
  uint64_t nak_window_ms;
  unsigned nak_count;
  struct ipop_ratelimit rl_auth, rl_bad, rl_perm;
  struct monitor monitors[CTL_MAX_MONITORS];
  uint8_t rxbuf[CTL_MAX_DGRAM + 1];
  uint8_t txbuf[CTL_MAX_DGRAM];
};

static socklen_t sa_len(const struct sockaddr *sa)
{
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

bool ctl_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
  if (a->sa_family != b->sa_family)
    return false;
  if (a->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port &&
         memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

void ctl_sockaddr_text(const struct sockaddr *sa, char *buf, size_t n)
{
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const void *)sa;
    inet_ntop(AF_INET, &s->sin_addr, host, sizeof host);
    port = ntohs(s->sin_port);
    snprintf(buf, n, "%s:%u", host, port);
  } else {
    const struct sockaddr_in6 *s = (const void *)sa;
    inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof host);
    port = ntohs(s->sin6_port);
    snprintf(buf, n, "[%s]:%u", host, port);
  }
}

/* Seal and send one JSON text.  Loopback UDP sends complete or fail at once,
 * so a synchronous try_send is enough; a full socket buffer drops the
 * datagram (counted by the caller through the return value). */
static int send_text(struct ctl_endpoint *ep, const struct sockaddr *to, const char *text,
                     size_t len, uint64_t *auth_counter)
{
  size_t dlen;
  int rc = ctl_auth_seal(&ep->auth, text, len, ep->txbuf, sizeof ep->txbuf, &dlen,
                         auth_counter);
  if (rc)
    return rc;
  uv_buf_t b = uv_buf_init((char *)ep->txbuf, (unsigned)dlen);
  int n = uv_udp_try_send(&ep->udp, &b, 1, to);
  if (n < 0) {
    char where[64];
    ctl_sockaddr_text(to, where, sizeof where);
    ipop_log_rl(&ep->rl_bad, IPOP_LOG_WARN, "ctl", "send to %s failed: %s", where,
                uv_strerror(n));
    return IPOP_ESYS;
  }
  return 0;
}

static int send_envelope(struct ctl_endpoint *ep, const struct sockaddr *to, int kind,
                         uint64_t txid, const char *name, json_t *payload, int err_code,
                         const char *err_msg, uint64_t *auth_counter)
{
  size_t len;
  char *text = ctl_envelope_build(kind, txid, name, payload, err_code, err_msg, &len);
  if (!text) {
    if (kind != CTL_KIND_RESPONSE || !payload)
      return IPOP_ETOOBIG;
    /* A result too large for one datagram still gets an answer. */
    text = ctl_envelope_build(kind, txid, name, NULL, IPOP_ETOOBIG,
                              "result does not fit in one datagram", &len);
    if (!text)
      return IPOP_ENOMEM;
  }
  int rc = send_text(ep, to, text, len, auth_counter);
  free(text);
  return rc;
}

/* ---- incoming requests -------------------------------------------------- */

static void request_unlink(struct ctl_request *req)
{
  struct ctl_endpoint *ep = req->ep;
  if (!ep)
    return;
  if (req->prev)
    req->prev->next = req->next;
  else
    ep->inflight = req->next;
  if (req->next)
    req->next->prev = req->prev;
  ep->n_inflight--;
}

const struct sockaddr *ctl_request_peer(const struct ctl_request *req)
{
  return (const struct sockaddr *)&req->peer;
}

const char *ctl_request_name(const struct ctl_request *req) { return req->name; }

int ctl_reply(struct ctl_request *req, const void *result)
{
  struct ctl_endpoint *ep = req->ep;
  int rc = IPOP_ESTATE;
  if (ep) {
    json_t *j = req->msg && req->msg->result ? jb_encode(req->msg->result, result)
                                             : json_object();
    rc = j ? send_envelope(ep, ctl_request_peer(req), CTL_KIND_RESPONSE, req->txid,
                           req->name, j, 0, NULL, NULL)
           : IPOP_ENOMEM;
    ep->stats.responses_out++;
  }
  request_unlink(req);
  free(req);
  return rc;
}

static int reply_error_to(struct ctl_endpoint *ep, const struct sockaddr *to, uint64_t txid,
                          const char *name, int code, const char *msg)
{
  ep->stats.responses_out++;
  return send_envelope(ep, to, CTL_KIND_RESPONSE, txid, name[0] ? name : "unknown", NULL,
                       code, msg, NULL);
}

int ctl_reply_error(struct ctl_request *req, int code, const char *fmt, ...)
{
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  int rc = req->ep ? reply_error_to(req->ep, ctl_request_peer(req), req->txid, req->name,
                                    code, msg)
                   : IPOP_ESTATE;
  request_unlink(req);
  free(req);
  return rc;
}

static const struct ctl_msg_desc *find_msg(struct ctl_endpoint *ep, const char *name,
                                           enum ctl_kind kind)
{
  const struct ctl_msg_desc *m = ctl_msg_find(ep->cfg.messages, ep->cfg.n_messages, name);
  return m && m->kind == kind ? m : NULL;
}

/* The daemon's permission check; a refusal is counted and logged. */
static int permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                  char *why, size_t whylen)
{
  if (!ep->cfg.permit)
    return 0;
  why[0] = 0;
  int rc = ep->cfg.permit(ep, from, name, why, whylen, ep->cfg.ctx);
  if (rc) {
    char where[64];
    ep->stats.refused++;
    ctl_sockaddr_text(from, where, sizeof where);
    ipop_log_rl(&ep->rl_perm, IPOP_LOG_WARN, "ctl", "refused %s from %s: %s", name, where, why);
  }
  return rc;
}

static void handle_request(struct ctl_endpoint *ep, const struct sockaddr *from,
                           struct ctl_envelope *env)
{
  ep->stats.requests_in++;
  const struct ctl_msg_desc *m = find_msg(ep, env->name, CTL_KIND_REQUEST);
  const struct ctl_handler *h = NULL;
  for (unsigned i = 0; m && i < ep->cfg.n_handlers; i++)
    if (strcmp(ep->cfg.handlers[i].name, m->name) == 0)
      h = &ep->cfg.handlers[i];
  if (!m || !h) {
    char msg[128];
    snprintf(msg, sizeof msg, m ? "command \"%s\" is not served by this daemon"
                                : "unknown command \"%s\"", env->name);
    reply_error_to(ep, from, env->txid, env->name, m ? IPOP_ENOTSUP : IPOP_ENOCMD, msg);
    return;
  }
  char why[256];
  int prc = permit(ep, from, m->name, why, sizeof why);
  if (prc) {
    reply_error_to(ep, from, env->txid, env->name, prc, why);
    return;
  }
  if (ep->n_inflight >= CTL_MAX_PENDING_IN) {
    reply_error_to(ep, from, env->txid, env->name, IPOP_EBUSY,
                   "too many requests in progress");
    return;
  }

  struct jb_error jerr;
  json_t *empty = NULL;
  void *body = calloc(1, m->body->struct_size);
  struct ctl_request *req = calloc(1, sizeof *req);
  if (!body || !req) {
    reply_error_to(ep, from, env->txid, env->name, IPOP_ENOMEM, "out of memory");
    goto out;
  }
  if (!env->body)
    env->body = empty = json_object();
  if (jb_decode(m->body, env->body, body, "body", &jerr) != 0) {
    ep->stats.bad_messages++;
    reply_error_to(ep, from, env->txid, env->name, jerr.code, jerr.msg);
    goto out;
  }
  req->ep = ep;
  memcpy(&req->peer, from, sa_len(from));
  req->txid = env->txid;
  req->msg = m;
  snprintf(req->name, sizeof req->name, "%s", m->name);
  req->next = ep->inflight;
  if (ep->inflight)
    ep->inflight->prev = req;
  ep->inflight = req;
  ep->n_inflight++;
  h->cb(ep, req, body, ep->cfg.ctx); /* the request now belongs to the handler */
  req = NULL;
out:
  free(req);
  free(body);
  json_decref(empty);
}

/* ---- outgoing requests -------------------------------------------------- */

static struct pending_out *pending_take(struct ctl_endpoint *ep, uint64_t txid,
                                        uint64_t auth_counter)
{
  for (struct pending_out **pp = &ep->pending; *pp; pp = &(*pp)->next) {
    struct pending_out *p = *pp;
    if ((txid && p->txid == txid) || (auth_counter && p->auth_counter == auth_counter)) {
      *pp = p->next;
      ep->n_pending--;
      return p;
    }
  }
  return NULL;
}

/* An error with txid 0 answers a request whose txid the peer could not read
 * (malformed JSON).  It belongs to us only if exactly one request to that
 * address is outstanding. */
static struct pending_out *pending_take_only_to(struct ctl_endpoint *ep,
                                                const struct sockaddr *from)
{
  struct pending_out *found = NULL;
  for (struct pending_out *p = ep->pending; p; p = p->next)
    if (ctl_sockaddr_equal((const struct sockaddr *)&p->to, from)) {
      if (found)
        return NULL;
      found = p;
    }
  return found ? pending_take(ep, found->txid, 0) : NULL;
}

static void handle_response(struct ctl_endpoint *ep, const struct sockaddr *from,
                            struct ctl_envelope *env)
{
  ep->stats.responses_in++;
  struct pending_out *p = env->txid == 0 && env->err_code
                              ? pending_take_only_to(ep, from)
                              : pending_take(ep, env->txid, 0);
  if (!p || !ctl_sockaddr_equal((const struct sockaddr *)&p->to, from)) {
    if (p) { /* answer from the wrong address: not ours, keep waiting */
      p->next = ep->pending;
      ep->pending = p;
      ep->n_pending++;
    }
    ep->stats.bad_messages++;
    ipop_log_rl(&ep->rl_bad, IPOP_LOG_DEBUG, "ctl", "unexpected response txid %llu",
                (unsigned long long)env->txid);
    return;
  }
  if (env->err_code) {
    p->cb(env->err_code, NULL, env->err_message, p->ctx);
  } else if (!p->msg) {
    p->cb(0, env->body, NULL, p->ctx);
  } else {
    struct jb_error jerr;
    void *res = calloc(1, p->msg->result->struct_size);
    if (!res)
      p->cb(IPOP_ENOMEM, NULL, "out of memory", p->ctx);
    else if (jb_decode(p->msg->result, env->body, res, "result", &jerr) != 0)
      p->cb(jerr.code, NULL, jerr.msg, p->ctx);
    else
      p->cb(0, res, NULL, p->ctx);
    free(res);
  }
  free(p);
}

static void timer_cb(uv_timer_t *t)
{
  struct ctl_endpoint *ep = t->data;
  uint64_t now = ipop_now_ms();
  for (struct pending_out **pp = &ep->pending; *pp;) {
    struct pending_out *p = *pp;
    if (p->deadline_ms > now) {
      pp = &p->next;
      continue;
    }
    *pp = p->next;
    ep->n_pending--;
    ep->stats.timeouts++;
    p->cb(IPOP_ETIMEDOUT, NULL, "no answer before the deadline", p->ctx);
    free(p);
    if (ep->closing) /* the callback closed us: pending (and pp) are gone */
      return;
  }
  if (!ep->pending)
    uv_timer_stop(&ep->timer);
}

static int request_send(struct ctl_endpoint *ep, const struct sockaddr *to, const char *name,
                        const struct ctl_msg_desc *msg, json_t *body, uint32_t timeout_ms,
                        ctl_response_cb cb, void *ctx)
{
  if (ep->closing || !body) {
    json_decref(body);
    return ep->closing ? IPOP_ESTATE : IPOP_ENOMEM;
  }
  if (ep->n_pending >= CTL_MAX_PENDING_OUT) {
    json_decref(body);
    return IPOP_EBUSY;
  }
  struct pending_out *p = calloc(1, sizeof *p);
  if (!p) {
    json_decref(body);
    return IPOP_ENOMEM;
  }
  p->txid = ++ep->next_txid;
  memcpy(&p->to, to, sa_len(to));
  p->msg = msg;
  p->cb = cb;
  p->ctx = ctx;
  p->deadline_ms = ipop_now_ms() + (timeout_ms ? timeout_ms : CTL_DEFAULT_TIMEOUT_MS);
  int rc = send_envelope(ep, to, CTL_KIND_REQUEST, p->txid, name, body, 0, NULL,
                         &p->auth_counter);
  if (rc) {
    free(p);
    return rc;
  }
  ep->stats.requests_out++;
  p->next = ep->pending;
  ep->pending = p;
  ep->n_pending++;
  if (!uv_is_active((uv_handle_t *)&ep->timer))
    uv_timer_start(&ep->timer, timer_cb, CTL_TICK_MS, CTL_TICK_MS);
  return 0;
}

int ctl_request_send(struct ctl_endpoint *ep, const struct sockaddr *to,
                     const struct ctl_msg_desc *msg, const void *body,
                     uint32_t timeout_ms, ctl_response_cb cb, void *ctx)
{
  if (!msg || msg->kind != CTL_KIND_REQUEST)
    return IPOP_EINVAL;
  return request_send(ep, to, msg->name, msg, jb_encode(msg->body, body), timeout_ms, cb,
                      ctx);
}

int ctl_request_send_json(struct ctl_endpoint *ep, const struct sockaddr *to,
                          const char *name, json_t *body, uint32_t timeout_ms,
                          ctl_response_cb cb, void *ctx)
{
  if (!body || !json_is_object(body) || strlen(name) >= CTL_NAME_LEN) {
    json_decref(body);
    return IPOP_EINVAL;
  }
  return request_send(ep, to, name, NULL, body, timeout_ms, cb, ctx);
}

int ctl_event_send(struct ctl_endpoint *ep, const struct sockaddr *to,
                   const struct ctl_msg_desc *msg, const void *body)
{
  if (!msg || msg->kind != CTL_KIND_EVENT)
    return IPOP_EINVAL;
  json_t *j = jb_encode(msg->body, body);
  if (!j)
    return IPOP_ENOMEM;
  size_t len;
  char *text = ctl_envelope_build(CTL_KIND_EVENT, ++ep->next_txid, msg->name, j, 0, NULL,
                                  &len);
  if (!text)
    return IPOP_ETOOBIG;
  ep->stats.events_out++;
  int rc = send_text(ep, to, text, len, NULL);
  uint64_t now = ipop_now_ms();
  for (unsigned i = 0; i < CTL_MAX_MONITORS; i++) {
    struct monitor *m = &ep->monitors[i];
    if (m->until_ms > now && !ctl_sockaddr_equal((const struct sockaddr *)&m->addr, to))
      send_text(ep, (const struct sockaddr *)&m->addr, text, len, NULL);
  }
  free(text);
  return rc;
}

int ctl_monitor_add(struct ctl_endpoint *ep, const struct sockaddr *who, uint32_t lease_ms)
{
  uint64_t now = ipop_now_ms();
  struct monitor *free_slot = NULL;
  for (unsigned i = 0; i < CTL_MAX_MONITORS; i++) {
    struct monitor *m = &ep->monitors[i];
    if (m->until_ms > now && ctl_sockaddr_equal((const struct sockaddr *)&m->addr, who)) {
      m->until_ms = now + lease_ms;
      return 0;
    }
    if (m->until_ms <= now && !free_slot)
      free_slot = m;
  }
  if (!free_slot)
    return IPOP_EBUSY;
  memset(free_slot, 0, sizeof *free_slot);
  memcpy(&free_slot->addr, who, sa_len(who));
  free_slot->until_ms = now + lease_ms;
  return 1;
}

/* ---- receive path ------------------------------------------------------- */

static void send_nak(struct ctl_endpoint *ep, const struct sockaddr *to,
                     const uint8_t *dgram, size_t len, enum ctl_nak_reason why)
{
  uint64_t now = ipop_now_ms();
  if (now - ep->nak_window_ms >= 1000) {
    ep->nak_window_ms = now;
    ep->nak_count = 0;
  }
  uint8_t nak[CTL_NAK_LEN];
  size_t n = ctl_auth_nak(dgram, len, why, nak);
  if (n == 0 || ep->nak_count++ >= CTL_NAK_PER_SEC)
    return;
  uv_buf_t b = uv_buf_init((char *)nak, (unsigned)n);
  uv_udp_try_send(&ep->udp, &b, 1, to);
}

static void handle_datagram(struct ctl_endpoint *ep, uint8_t *dgram, size_t len,
                            const struct sockaddr *from)
{
  char where[64];
  uint64_t nak_counter;
  enum ctl_nak_reason why;

  if (ctl_auth_is_nak(&ep->auth, dgram, len, &nak_counter, &why)) {
    struct pending_out *p = pending_take(ep, 0, nak_counter);
    if (p && ctl_sockaddr_equal((const struct sockaddr *)&p->to, from)) {
      p->cb(IPOP_EAUTH, NULL,
            why == CTL_NAK_REPLAY
                ? "the daemon refused the request as replayed or stale (check clocks)"
            : why == CTL_NAK_VERSION
                ? "the daemon refused the request: other control protocol version "
                  "(programs from different ipop versions?)"
                : "the daemon refused the request: authentication failed (wrong key file?)",
            p->ctx);
      free(p);
    } else if (p) {
      p->next = ep->pending;
      ep->pending = p;
      ep->n_pending++;
    }
    return;
  }

  const uint8_t *payload;
  size_t plen;
  int rc = ctl_auth_open(&ep->auth, dgram, len, &payload, &plen);
  if (rc) {
    ctl_sockaddr_text(from, where, sizeof where);
    ipop_log_rl(&ep->rl_auth, IPOP_LOG_WARN, "ctl",
                "dropped %zu-byte datagram from %s: %s (rejected so far: %llu bad tag, "
                "%llu malformed, %llu stale, %llu replayed)",
                len, where, rc == IPOP_EREPLAY ? "replayed or stale" : "not authenticated",
                (unsigned long long)ep->auth.stats.bad_mac,
                (unsigned long long)(ep->auth.stats.bad_length + ep->auth.stats.bad_magic),
                (unsigned long long)ep->auth.stats.stale,
                (unsigned long long)ep->auth.stats.replayed);
    send_nak(ep, from, dgram, len, rc == IPOP_EREPLAY ? CTL_NAK_REPLAY : CTL_NAK_AUTH);
    return;
  }

  struct ctl_envelope env;
  struct jb_error jerr;
  if (ctl_envelope_parse(payload, plen, &env, &jerr) != 0) {
    ep->stats.bad_messages++;
    ctl_sockaddr_text(from, where, sizeof where);
    ipop_log_rl(&ep->rl_bad, IPOP_LOG_WARN, "ctl", "bad message from %s: %s", where,
                jerr.msg);
    /* Answer requests (and messages whose kind we could not tell) so the
     * sender learns what was wrong; never answer responses or events. */
    if (env.kind == CTL_KIND_REQUEST || env.kind < 0)
      reply_error_to(ep, from, env.has_txid ? env.txid : 0, env.name, jerr.code, jerr.msg);
    ctl_envelope_free(&env);
    return;
  }

  switch (env.kind) {
  case CTL_KIND_REQUEST:
    handle_request(ep, from, &env);
    break;
  case CTL_KIND_RESPONSE:
    handle_response(ep, from, &env);
    break;
  case CTL_KIND_EVENT: {
    ep->stats.events_in++;
    const struct ctl_msg_desc *m = find_msg(ep, env.name, CTL_KIND_EVENT);
    void *body = m ? calloc(1, m->body->struct_size) : NULL;
    json_t *empty = env.body ? NULL : json_object();
    char refusal[256];
    if (!m || !ep->cfg.on_event || !body) {
      ep->stats.bad_messages++;
    } else if (permit(ep, from, m->name, refusal, sizeof refusal) != 0) {
      /* counted and logged by permit() */
    } else if (jb_decode(m->body, env.body ? env.body : empty, body, "body", &jerr) != 0) {
      ep->stats.bad_messages++;
      ipop_log_rl(&ep->rl_bad, IPOP_LOG_WARN, "ctl", "bad event %s: %s", env.name, jerr.msg);
    } else {
      ep->cfg.on_event(ep, from, m, body, ep->cfg.ctx);
    }
    free(body);
    json_decref(empty);
    break;
  }
  }
  ctl_envelope_free(&env);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct ctl_endpoint *ep = h->data;
  *buf = uv_buf_init((char *)ep->rxbuf, sizeof ep->rxbuf);
}

static void recv_cb(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                    const struct sockaddr *from, unsigned flags)
{
  struct ctl_endpoint *ep = u->data;
  if (nread <= 0 || !from || ep->closing)
    return;
  if (flags & UV_UDP_PARTIAL) {
    ep->auth.stats.bad_length++;
    return;
  }
  handle_datagram(ep, (uint8_t *)buf->base, (size_t)nread, from);
}

/* ---- lifecycle ---------------------------------------------------------- */

int ctl_parse_endpoint(const char *text, struct sockaddr_storage *ss, int allow_any)
{
  char host[128];
  const char *port;
  memset(ss, 0, sizeof *ss);
  if (!text || strlen(text) >= sizeof host)
    return IPOP_EINVAL;
  if (text[0] == '[') {
    const char *end = strchr(text, ']');
    if (!end || end[1] != ':')
      return IPOP_EINVAL;
    snprintf(host, sizeof host, "%.*s", (int)(end - text - 1), text + 1);
    port = end + 2;
  } else {
    const char *colon = strrchr(text, ':');
    if (!colon || strchr(text, ':') != colon)
      return IPOP_EINVAL;
    snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    port = colon + 1;
  }
  char *endp;
  unsigned long p = strtoul(port, &endp, 10);
  if (!*port || *endp || p == 0 || p > 65535)
    return IPOP_EINVAL;
  if (strcmp(host, "localhost") == 0)
    snprintf(host, sizeof host, "127.0.0.1");
  struct sockaddr_in *s4 = (void *)ss;
  struct sockaddr_in6 *s6 = (void *)ss;
  if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)p);
    if (!allow_any && (ntohl(s4->sin_addr.s_addr) >> 24) != 127)
      return IPOP_EPERM;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)p);
    if (!allow_any && !IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
      return IPOP_EPERM;
    return 0;
  }
  return IPOP_EINVAL;
}

int ctl_endpoint_open(uv_loop_t *loop, const struct ctl_endpoint_config *cfg,
                      struct ctl_endpoint **out)
{
  *out = NULL;
  struct sockaddr_storage ss;
  char text[160];
  const char *addr = cfg->bind_addr ? cfg->bind_addr : "127.0.0.1";
  snprintf(text, sizeof text, strchr(addr, ':') ? "[%s]:%u" : "%s:%u", addr,
           cfg->port ? cfg->port : 1);
  int rc = ctl_parse_endpoint(text, &ss, 0);
  if (rc)
    return rc;
  if (ss.ss_family == AF_INET)
    ((struct sockaddr_in *)&ss)->sin_port = htons(cfg->port);
  else
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->port);

  struct ctl_endpoint *ep = calloc(1, sizeof *ep);
  if (!ep)
    return IPOP_ENOMEM;
  ep->cfg = *cfg;
  ep->rl_auth = (struct ipop_ratelimit)IPOP_RATELIMIT_INIT(10000, 5);
  ep->rl_bad = (struct ipop_ratelimit)IPOP_RATELIMIT_INIT(10000, 5);
  ep->rl_perm = (struct ipop_ratelimit)IPOP_RATELIMIT_INIT(10000, 5);
  rc = ctl_auth_init(&ep->auth, cfg->key);
  if (rc)
    goto fail_auth;
  /* Random start: txids of a restarted process don't collide with old ones. */
  ipop_random_bytes(&ep->next_txid, sizeof ep->next_txid);
  ep->next_txid &= 0xffffffffu;

  rc = uv_udp_init(loop, &ep->udp);
  if (rc)
    goto fail_udp;
  ep->udp.data = ep;
  ep->open_handles++;
  uv_timer_init(loop, &ep->timer);
  ep->timer.data = ep;
  ep->open_handles++;
  rc = uv_udp_bind(&ep->udp, (const struct sockaddr *)&ss, 0);
  if (rc == 0)
    rc = uv_udp_recv_start(&ep->udp, alloc_cb, recv_cb);
  if (rc) {
    LOG_ERROR("ctl", "cannot listen on %s: %s", text, uv_strerror(rc));
    ctl_endpoint_close(ep);
    return rc == UV_EADDRINUSE ? IPOP_EBUSY : IPOP_ESYS;
  }
  *out = ep;
  return 0;

fail_udp:
  ctl_auth_wipe(&ep->auth);
fail_auth:
  free(ep);
  return rc < 0 ? rc : IPOP_ESYS;
}

static void close_cb(uv_handle_t *h)
{
  struct ctl_endpoint *ep = h->data;
  if (--ep->open_handles == 0) {
    ctl_auth_wipe(&ep->auth);
    free(ep);
  }
}

void ctl_endpoint_close(struct ctl_endpoint *ep)
{
  if (!ep || ep->closing)
    return;
  ep->closing = true;
  while (ep->pending) {
    struct pending_out *p = ep->pending;
    ep->pending = p->next;
    ep->n_pending--;
    p->cb(IPOP_ECONNREFUSED, NULL, "control endpoint closed", p->ctx);
    free(p);
  }
  /* Requests still held by handlers outlive us: detach them. */
  for (struct ctl_request *r = ep->inflight; r; r = r->next)
    r->ep = NULL;
  ep->inflight = NULL;
  ep->n_inflight = 0;
  uv_close((uv_handle_t *)&ep->udp, close_cb);
  uv_close((uv_handle_t *)&ep->timer, close_cb);
}

const struct ctl_endpoint_stats *ctl_endpoint_stats(const struct ctl_endpoint *ep)
{
  ((struct ctl_endpoint *)ep)->stats.auth = ep->auth.stats;
  return &ep->stats;
}

int ctl_endpoint_sockname(const struct ctl_endpoint *ep, struct sockaddr_storage *ss)
{
  int len = sizeof *ss;
  return uv_udp_getsockname(&ep->udp, (struct sockaddr *)ss, &len) == 0 ? 0 : IPOP_ESYS;
}
