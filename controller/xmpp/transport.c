/* XMPP client: the transport under the stream.  TCP connect with SRV/A
 * resolution on the threadpool, TLS through memory BIOs, the read, feed and
 * write paths, the stream's framing (header, restart, stream errors), the
 * ping timer, connection teardown and the retry timer.  What the stanzas
 * mean is session.c's business: the parser calls it through
 * c->stream_cbs. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"
#include "log.h"
#include "srv.h"

#define M "xmpp"

struct tcp_handle {
  uv_tcp_t tcp;
  uv_connect_t req;
  uv_shutdown_t sreq;
  struct conn *conn;
};

/* ------------------------------------------------------------- output */

struct wreq {
  uv_write_t req;
  size_t len;
  char data[];
};

static void on_written(uv_write_t *req, int status)
{
  free(req->data);
}

static void raw_write(struct conn *k, const char *data, size_t len)
{
  if (k->capture) {
    sbuf_add(k->capture, data, len);
    return;
  }
  if (k->dead || !k->th || len == 0)
    return;
  struct wreq *w = malloc(sizeof(*w) + len);
  if (!w)
    return;
  memcpy(w->data, data, len);
  w->len = len;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&k->th->tcp, &b, 1, on_written) != 0)
    free(w);
}

void xmpp__tls_flush(struct conn *k)
{
  char buf[READ_CHUNK];
  int n;
  while (k->wbio && (n = BIO_read(k->wbio, buf, sizeof(buf))) > 0)
    raw_write(k, buf, (size_t)n);
}

/* secret: never traced (SASL PLAIN carries the password). */
static void send_data2(struct conn *k, const char *data, size_t len,
                       bool secret)
{
  if (k->dead)
    return;
  if (secret)
    LOG_TRACE(M, "send: (%zu bytes of SASL data, not shown)", len);
  else
    LOG_TRACE(M, "send: %.*s", (int)(len > 2000 ? 2000 : len), data);
  if (k->ssl && k->secure) {
    if (len && SSL_write(k->ssl, data, (int)len) <= 0)
      LOG_WARN(M, "TLS write failed");
    xmpp__tls_flush(k);
  } else {
    raw_write(k, data, len);
  }
}

void xmpp__send_data(struct conn *k, const char *data, size_t len)
{
  send_data2(k, data, len, false);
}

void xmpp__send_sbuf(struct conn *k, struct sbuf *b)
{
  if (!b->oom)
    xmpp__send_data(k, b->data, b->len);
  sbuf_free(b);
}

void xmpp__send_secret_sbuf(struct conn *k, struct sbuf *b)
{
  if (!b->oom)
    send_data2(k, b->data, b->len, true);
  if (b->data)
    OPENSSL_cleanse(b->data, b->cap);
  sbuf_free(b);
}

void xmpp__send_str(struct conn *k, const char *s)
{
  xmpp__send_data(k, s, strlen(s));
}

/* ------------------------------------------------------------ stream */

static void send_stream_header(struct conn *k)
{
  struct xmpp_client *c = k->c;
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<?xml version='1.0'?><stream:stream to='");
  sbuf_escs(&b, c->domain);
  sbuf_adds(&b, "'");
  if (k->secure) {
    sbuf_adds(&b, " from='");
    sbuf_escs(&b, c->local);
    sbuf_adds(&b, "@");
    sbuf_escs(&b, c->domain);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, " version='1.0' xml:lang='en' xmlns='jabber:client'"
                " xmlns:stream='http://etherx.jabber.org/streams'>");
  xmpp__send_sbuf(k, &b);
}

int xmpp__stream_restart(struct conn *k)
{
  xmpp_parser_free(k->parser);
  k->parser = xmpp_parser_new(k->c->stream_cbs, k, k->c->cfg.max_stanza,
                              k->c->cfg.max_depth);
  if (!k->parser)
    return IPOP_ENOMEM;
  k->phase = P_FEATURES;
  send_stream_header(k);
  return 0;
}

void xmpp__send_stream_error(struct conn *k, const char *cond)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "<stream:error><%s xmlns='" NS_STREAMS
           "'/></stream:error></stream:stream>", cond);
  xmpp__send_str(k, buf);
}

int xmpp__close_after(struct conn *k, const char *reason, int code)
{
  if (k->action != ACT_CLOSE) {
    k->action = ACT_CLOSE;
    snprintf(k->reason, sizeof(k->reason), "%s", reason);
    k->fail_code = code;
  }
  return 1;
}

/* --------------------------------------------------------------- TLS */

static int tls_start(struct conn *k)
{
  struct xmpp_client *c = k->c;
  k->ssl = SSL_new(c->ssl_ctx);
  k->rbio = BIO_new(BIO_s_mem());
  k->wbio = BIO_new(BIO_s_mem());
  if (!k->ssl || !k->rbio || !k->wbio) {
    BIO_free(k->rbio);
    BIO_free(k->wbio);
    k->rbio = k->wbio = NULL;
    return IPOP_ENOMEM;
  }
  SSL_set_bio(k->ssl, k->rbio, k->wbio);  /* ssl owns the BIOs now */
  SSL_set_connect_state(k->ssl);
  SSL_set_tlsext_host_name(k->ssl, c->tls_name);
  if (c->cfg.tls.verify_peer) {
    SSL_set_hostflags(k->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(k->ssl, c->tls_name) != 1)
      return IPOP_ECRYPTO;
  }
  if (c->cfg.tls.mode == XMPP_TLS_DIRECT) {
    static const unsigned char alpn[] = "\x0bxmpp-client";
    SSL_set_alpn_protos(k->ssl, alpn, sizeof(alpn) - 1);
  }
  k->phase = P_TLS;
  int r = SSL_do_handshake(k->ssl);
  (void)r;
  xmpp__tls_flush(k);
  return 0;
}

static void tls_progress(struct conn *k)
{
  struct xmpp_client *c = k->c;
  if (!k->secure) {
    int r = SSL_do_handshake(k->ssl);
    xmpp__tls_flush(k);
    if (r != 1) {
      int e = SSL_get_error(k->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      long v = SSL_get_verify_result(k->ssl);
      char reason[200];
      if (v != X509_V_OK)
        snprintf(reason, sizeof(reason), "TLS certificate of %s rejected: %s",
                 c->tls_name, X509_verify_cert_error_string(v));
      else
        snprintf(reason, sizeof(reason), "TLS handshake failed: %s",
                 ERR_reason_error_string(ERR_peek_last_error()) ?
                 ERR_reason_error_string(ERR_peek_last_error()) : "?");
      ERR_clear_error();
      xmpp__conn_close(k, reason, IPOP_ECRYPTO);
      return;
    }
    k->secure = true;
    LOG_INFO(M, "TLS %s established with %s (%s)", SSL_get_version(k->ssl),
             c->tls_name, c->cfg.tls.verify_peer ? "verified" : "NOT verified");
    if (xmpp__stream_restart(k) != 0) {
      xmpp__conn_close(k, "out of memory", IPOP_ENOMEM);
      return;
    }
  }
  char buf[READ_CHUNK];
  for (;;) {
    if (k->dead || !k->ssl)
      return;
    int n = SSL_read(k->ssl, buf, sizeof(buf));
    if (n <= 0) {
      int e = SSL_get_error(k->ssl, n);
      xmpp__tls_flush(k);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      if (e == SSL_ERROR_ZERO_RETURN)
        xmpp__conn_close(k, "server closed TLS", IPOP_EIO);
      else
        xmpp__conn_close(k, "TLS error", IPOP_ECRYPTO);
      ERR_clear_error();
      return;
    }
    xmpp__feed(k, buf, (size_t)n);
  }
}

/* Feed plaintext to the parser and carry out what the handlers asked. */
void xmpp__feed(struct conn *k, const char *data, size_t len)
{
  struct xmpp_client *c = k->c;
  if (k->dead || !k->parser)
    return;
  LOG_TRACE(M, "recv: %.*s", (int)(len > 2000 ? 2000 : len), data);
  k->in_feed++;
  int r = xmpp_parser_feed(k->parser, data, len);
  k->in_feed--;
  if (k->dead) {
    xmpp_parser_free(k->parser);
    k->parser = NULL;
    return;
  }
  if (r < 0) {
    const char *cond = xmpp_parser_error(k->parser);
    char reason[128];
    snprintf(reason, sizeof(reason), "bad XML from server: %s", cond);
    c->counters.stream_errors++;
    xmpp__send_stream_error(k, cond);
    xmpp__conn_close(k, reason, IPOP_EPARSE);
    return;
  }
  enum action a = k->action;
  k->action = ACT_NONE;
  switch (a) {
  case ACT_NONE:
    break;
  case ACT_CLOSE:
    xmpp__conn_close(k, k->reason, k->fail_code);
    break;
  case ACT_STARTTLS:
    xmpp_parser_free(k->parser);
    k->parser = NULL;
    if (tls_start(k) != 0)
      xmpp__conn_close(k, "TLS setup failed", IPOP_ECRYPTO);
    break;
  case ACT_RESTART:
    if (k->scram_active) {
      xmpp_scram_clear(&k->scram);
      k->scram_active = false;
    }
    if (xmpp__stream_restart(k) != 0)
      xmpp__conn_close(k, "out of memory", IPOP_ENOMEM);
    break;
  }
}

/* ------------------------------------------------------- TCP and DNS */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  static char slab[READ_CHUNK];  /* consumed synchronously in read_cb */
  *buf = uv_buf_init(slab, sizeof(slab));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
  struct tcp_handle *th = s->data;
  struct conn *k = th->conn;
  if (!k || k->dead || k->th != th)
    return;
  if (nread < 0) {
    xmpp__conn_close(k, nread == UV_EOF ? "connection closed by server"
                                  : uv_strerror((int)nread), IPOP_EIO);
    return;
  }
  if (nread == 0)
    return;
  if (k->ssl) {
    BIO_write(k->rbio, buf->base, (int)nread);
    tls_progress(k);
  } else {
    xmpp__feed(k, buf->base, (size_t)nread);
  }
}

static void conn_maybe_free(struct conn *k);

static void tcp_closed(uv_handle_t *h)
{
  struct tcp_handle *th = h->data;
  struct conn *k = th->conn;
  free(th);
  k->handles--;
  conn_maybe_free(k);
}

static void try_next_addr(struct conn *k);

/* ping_timer until online: the attempt's deadline (ConnectTimeout), or
 * sooner while a TCP handshake is under way and other addresses are left
 * (ADDR_CONNECT_MS each). */
static void arm_connect_timer(struct conn *k, bool handshake)
{
  struct xmpp_client *c = k->c;
  uint64_t now = uv_now(c->loop);
  uint64_t left = k->deadline > now ? k->deadline - now : 0;
  if (handshake && k->next_addr < k->naddrs && left > ADDR_CONNECT_MS)
    left = ADDR_CONNECT_MS;
  uv_timer_start(&c->ping_timer, xmpp__ping_cb, left, 0);
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
  char ip[INET6_ADDRSTRLEN] = "?";
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
    snprintf(out, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    return;
  }
  const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
  inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
  snprintf(out, len, "%s:%u", ip, ntohs(a->sin_port));
}

static bool same_addr(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
  if (a->ss_family != b->ss_family)
    return false;
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
  }
  const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
  return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static bool addr_has_failed(const struct xmpp_client *c,
                            const struct sockaddr_storage *a)
{
  for (size_t i = 0; i < c->nfailed; i++)
    if (same_addr(&c->failed[i], a))
      return true;
  return false;
}

static void addr_failed(struct xmpp_client *c, const struct sockaddr_storage *a)
{
  if (!addr_has_failed(c, a) && c->nfailed < MAX_ADDRS)
    c->failed[c->nfailed++] = *a;
}

/* Addresses that failed since the last login go after the others (each
 * group in priority order): a server that takes TCP connections but never
 * gets us online (hung, overloaded, broken TLS) would otherwise hold every
 * attempt until ConnectTimeout, for ever. */
static void order_addrs(struct conn *k)
{
  struct xmpp_client *c = k->c;
  struct sockaddr_storage tmp[MAX_ADDRS];
  size_t n = 0, late = 0;
  if (!c->nfailed)
    return;
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < k->naddrs; i++)
      if (addr_has_failed(c, &k->addrs[i]) == (pass == 1)) {
        tmp[n++] = k->addrs[i];
        late += pass;
      }
  memcpy(k->addrs, tmp, n * sizeof(tmp[0]));
  if (late && late < n)
    LOG_DEBUG(M, "%zu of %zu addresses failed since the last login: tried last",
              late, n);
}

/* Give up on the address being tried (failed, or silent too long) and go
 * on with the next one. */
static void next_addr_after(struct conn *k, int err)
{
  struct tcp_handle *th = k->th;
  char a[INET6_ADDRSTRLEN + 8];
  addr_failed(k->c, &k->addrs[k->next_addr - 1]);
  addr_text(&k->addrs[k->next_addr - 1], a, sizeof(a));
  if (err == UV_ETIMEDOUT)
    LOG_DEBUG(M, "connect failed: %s: no answer within %u ms", a,
              (unsigned)ADDR_CONNECT_MS);
  else
    LOG_DEBUG(M, "connect failed: %s: %s", a, uv_strerror(err));
  k->resolve_err = err;
  k->th = NULL;
  uv_close((uv_handle_t *)&th->tcp, tcp_closed);
  try_next_addr(k);
}

static void connect_cb(uv_connect_t *req, int status)
{
  struct tcp_handle *th = req->data;
  struct conn *k = th->conn;
  if (k->dead || k->th != th)
    return;
  if (status != 0) {
    next_addr_after(k, status);
    return;
  }
  char a[INET6_ADDRSTRLEN + 8];
  addr_text(&k->addrs[k->next_addr - 1], a, sizeof(a));
  LOG_DEBUG(M, "connected to %s", a);
  k->tcp_up = true;
  arm_connect_timer(k, false);  /* the rest of ConnectTimeout: TLS, login */
  uv_tcp_nodelay(&th->tcp, 1);
  uv_read_start((uv_stream_t *)&th->tcp, alloc_cb, read_cb);
  if (k->c->cfg.tls.mode == XMPP_TLS_DIRECT) {
    if (tls_start(k) != 0)
      xmpp__conn_close(k, "TLS setup failed", IPOP_ECRYPTO);
    return;
  }
  if (xmpp__stream_restart(k) != 0)
    xmpp__conn_close(k, "out of memory", IPOP_ENOMEM);
}

static void try_next_addr(struct conn *k)
{
  while (k->next_addr < k->naddrs) {
    struct sockaddr *sa = (struct sockaddr *)&k->addrs[k->next_addr++];
    struct tcp_handle *th = calloc(1, sizeof(*th));
    if (!th)
      break;
    th->conn = k;
    if (uv_tcp_init(k->c->loop, &th->tcp) != 0) {
      free(th);
      break;
    }
    th->tcp.data = th;
    th->req.data = th;
    k->handles++;
    k->th = th;
    int r = uv_tcp_connect(&th->req, &th->tcp, sa, connect_cb);
    if (r == 0) {
      k->phase = P_TCP;
      arm_connect_timer(k, true);
      return;
    }
    k->th = NULL;
    k->resolve_err = r;
    uv_close((uv_handle_t *)&th->tcp, tcp_closed);
  }
  char reason[160];
  snprintf(reason, sizeof(reason), "cannot connect to %s: %s", k->host,
           k->resolve_err ? uv_strerror(k->resolve_err) : "no address");
  xmpp__conn_close(k, reason, IPOP_ECONNREFUSED);
}

static void add_addrs(struct conn *k, const char *host, uint16_t port)
{
  struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                            .ai_flags = AI_ADDRCONFIG };
  struct addrinfo *res = NULL;
  char ps[8];
  snprintf(ps, sizeof(ps), "%u", port);
  int r = getaddrinfo(host, ps, &hints, &res);
  if (r != 0) {
    k->resolve_err = UV_EAI_NONAME;
    return;
  }
  for (struct addrinfo *a = res; a && k->naddrs < MAX_ADDRS; a = a->ai_next)
    if (a->ai_addrlen <= sizeof(k->addrs[0]))
      memcpy(&k->addrs[k->naddrs++], a->ai_addr, a->ai_addrlen);
  freeaddrinfo(res);
}

/* Runs on the libuv threadpool: touches only k's resolver fields. */
static void resolve_work(uv_work_t *w)
{
  struct conn *k = w->data;
  if (k->srv) {
    unsigned char ans[4096];
    char q[300];
    snprintf(q, sizeof(q), "%s._tcp.%s",
             k->c->cfg.tls.mode == XMPP_TLS_DIRECT ? "_xmpps-client"
                                                   : "_xmpp-client", k->host);
    struct __res_state rs;
    memset(&rs, 0, sizeof(rs));
    int n = -1;
    if (res_ninit(&rs) == 0) {
      n = res_nquery(&rs, q, ns_c_in, ns_t_srv, ans, sizeof(ans));
      res_nclose(&rs);
    }
    struct xmpp_srv srvs[8];
    int ns = n > 0 ? xmpp_srv_parse(ans, n, srvs, 8) : 0;
    if (ns < 0) {
      k->resolve_err = UV_EAI_NONAME;  /* service explicitly not offered */
      return;
    }
    for (int i = 0; i < ns; i++)
      add_addrs(k, srvs[i].target, srvs[i].port);
    if (ns > 0)
      return;
    /* No SRV records: fall back to the domain itself (RFC 6120 3.2.2). */
  }
  add_addrs(k, k->host, k->port);
}

static void resolve_done(uv_work_t *w, int status)
{
  struct conn *k = w->data;
  k->work_pending = false;
  if (k->dead) {
    conn_maybe_free(k);
    return;
  }
  if (k->naddrs == 0) {
    char reason[300];
    snprintf(reason, sizeof(reason), "cannot resolve %s", k->host);
    xmpp__conn_close(k, reason, IPOP_ECONNREFUSED);
    return;
  }
  order_addrs(k);
  try_next_addr(k);
}

/* ------------------------------------------------ attempts and timers */

static void conn_maybe_free(struct conn *k)
{
  if (!k->dead || k->handles || k->work_pending)
    return;
  struct xmpp_client *c = k->c;
  free(k);
  c->conns_alive--;
  xmpp__client_maybe_free(c);
}

static void conn_teardown(struct conn *k)
{
  k->dead = true;
  if (k->scram_active) {
    xmpp_scram_clear(&k->scram);
    k->scram_active = false;
  }
  if (k->ssl) {
    SSL_free(k->ssl);
    k->ssl = NULL;
    k->rbio = k->wbio = NULL;
  }
  if (k->in_feed == 0) {
    xmpp_parser_free(k->parser);
    k->parser = NULL;
  }
  if (k->th) {
    uv_read_stop((uv_stream_t *)&k->th->tcp);
    uv_close((uv_handle_t *)&k->th->tcp, tcp_closed);
    k->th = NULL;
  }
}

static void retry_cb(uv_timer_t *t)
{
  struct xmpp_client *c = t->data;
  if (c->started && !c->conn)
    xmpp__attempt_start(c);
}

/* Close k; unless the client is stopping, schedule the next attempt. */
void xmpp__conn_close(struct conn *k, const char *reason, int code)
{
  struct xmpp_client *c = k->c;
  if (k->dead)
    return;
  if (k->in_feed) {
    /* Inside a parser callback: finish the feed first. */
    xmpp__close_after(k, reason, code);
    return;
  }
  bool auth = k->auth_failed;
  bool capture = k->capture != NULL;
  if (k->tcp_up && k->phase != P_ONLINE)
    addr_failed(c, &k->addrs[k->next_addr - 1]);  /* reached, never online */
  char why[sizeof(k->reason)];
  snprintf(why, sizeof(why), "%s", reason);  /* reason may point into k */
  reason = why;
  c->last_close_code = code ? code : IPOP_EIO;
  conn_teardown(k);
  if (c->conn == k)
    c->conn = NULL;
  uv_timer_stop(&c->ping_timer);
  conn_maybe_free(k);  /* k may be gone from here on */
  if (!c->started || c->freeing) {
    xmpp__set_state(c, XMPP_STATE_OFFLINE, reason);
    return;
  }
  if (auth) {
    /* Reported once; retrying a wrong password only locks accounts. */
    LOG_ERROR(M, "%s@%s: %s; not retrying until restarted", c->local,
              c->domain, reason);
    c->started = false;
    xmpp__set_state(c, XMPP_STATE_AUTH_FAILED, reason);
    return;
  }
  uint32_t delay = c->redirect_host[0] && c->redirects ? 0
                   : xmpp_backoff_next(&c->backoff);
  LOG_WARN(M, "disconnected (%s); reconnecting in %u ms", reason, delay);
  xmpp__set_state(c, XMPP_STATE_OFFLINE, reason);
  if (c->started && !c->freeing && !capture)
    uv_timer_start(&c->retry_timer, retry_cb, delay, 0);
}

void xmpp__ping_cb(uv_timer_t *t)
{
  struct xmpp_client *c = t->data;
  struct conn *k = c->conn;
  if (!k || k->dead)
    return;
  if (k->phase == P_TCP && k->th && k->next_addr < k->naddrs &&
      uv_now(c->loop) < k->deadline) {
    next_addr_after(k, UV_ETIMEDOUT);
    return;
  }
  if (k->phase != P_ONLINE) {
    xmpp__conn_close(k, "timed out before coming online", IPOP_ETIMEDOUT);
    return;
  }
  if (k->ping_outstanding) {
    c->counters.ping_timeouts++;
    xmpp__conn_close(k, "ping timeout", IPOP_ETIMEDOUT);
    return;
  }
  snprintf(k->ping_id, sizeof(k->ping_id), "ping%u", ++k->ping_seq);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_printf(&b, "<iq type='get' id='%s' to='", k->ping_id);
  sbuf_escs(&b, c->domain);
  sbuf_adds(&b, "'><ping xmlns='" NS_PING "'/></iq>");
  xmpp__send_sbuf(k, &b);
  k->ping_outstanding = true;
}

struct conn *xmpp__conn_new(struct xmpp_client *c)
{
  struct conn *k = calloc(1, sizeof(*k));
  if (!k)
    return NULL;
  k->c = c;
  k->work.data = k;
  c->conns_alive++;
  return k;
}

void xmpp__attempt_start(struct xmpp_client *c)
{
  if (c->attempted)
    c->counters.reconnects++;
  c->attempted = true;
  struct conn *k = xmpp__conn_new(c);
  if (!k) {
    uv_timer_start(&c->retry_timer, retry_cb, xmpp_backoff_next(&c->backoff), 0);
    return;
  }
  c->conn = k;
  c->full_jid[0] = '\0';
  xmpp__set_state(c, XMPP_STATE_CONNECTING, NULL);
  if (!c->cfg.tls.verify_peer)
    LOG_WARN(M, "TLS certificate verification is DISABLED (Tls.VerifyPeer "
                "is false): the server and the network can read everything");
  uint16_t defport = c->cfg.tls.mode == XMPP_TLS_DIRECT ? 5223 : 5222;
  if (c->redirect_host[0]) {
    snprintf(k->host, sizeof(k->host), "%s", c->redirect_host);
    k->port = c->redirect_port ? c->redirect_port : defport;
    c->redirect_host[0] = '\0';
  } else if (c->cfg.host[0]) {
    snprintf(k->host, sizeof(k->host), "%s", c->cfg.host);
    k->port = c->cfg.port ? (uint16_t)c->cfg.port : defport;
  } else {
    snprintf(k->host, sizeof(k->host), "%s", c->domain);
    k->port = c->cfg.port ? (uint16_t)c->cfg.port : defport;
    k->srv = c->cfg.port == 0;
  }
  LOG_INFO(M, "connecting to %s%s port %u as %s@%s", k->srv ? "SRV of " : "",
           k->host, k->port, c->local, c->domain);
  k->phase = P_RESOLVE;
  k->deadline = uv_now(c->loop) + (uint64_t)c->cfg.connect_timeout * 1000;
  arm_connect_timer(k, false);
  k->work_pending = true;
  if (uv_queue_work(c->loop, &k->work, resolve_work, resolve_done) != 0) {
    k->work_pending = false;
    xmpp__conn_close(k, "cannot queue DNS lookup", IPOP_ESYS);
  }
}

