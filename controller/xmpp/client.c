/* XMPP client: lifecycle and the public API of xmpp.h, the top of the
 * library.  Creating (password file, TLS context, the extensions),
 * starting, stopping and freeing a client, state names, sending signals,
 * counters, and the unit-test seams of xmpp_internal.h. */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client_internal.h"
#include "error.h"
#include "xmpp_internal.h"

/* --------------------------------------------------------------- state */

const char *xmpp_state_name(enum xmpp_state s)
{
  switch (s) {
  case XMPP_STATE_OFFLINE: return "offline";
  case XMPP_STATE_CONNECTING: return "connecting";
  case XMPP_STATE_ONLINE: return "online";
  case XMPP_STATE_AUTH_FAILED: return "auth_failed";
  }
  return "?";
}

/* ------------------------------------------------------------- API */

static int read_password(const char *path, char **out, char *why, size_t wl)
{
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    snprintf(why, wl, "cannot open PasswordFile %s: %s", path, strerror(errno));
    return IPOP_ENOENT;
  }
  struct stat st;
  int r = IPOP_ESYS;
  char buf[1025];
  ssize_t n = 0;
  if (fstat(fd, &st) != 0)
    goto out;
  if (st.st_mode & 077) {
    snprintf(why, wl, "PasswordFile %s is readable by group or others "
             "(mode %03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
    r = IPOP_EPERM;
    goto out;
  }
  n = read(fd, buf, sizeof(buf) - 1);
  if (n < 0)
    goto out;
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  if (n == 0 || (size_t)n >= sizeof(buf) - 1 || memchr(buf, '\0', (size_t)n)) {
    snprintf(why, wl, "PasswordFile %s is empty or too long", path);
    r = IPOP_EFIELD;
    goto out;
  }
  *out = strdup(buf);
  r = *out ? 0 : IPOP_ENOMEM;
out:
  OPENSSL_cleanse(buf, sizeof(buf));
  close(fd);
  return r;
}

static int make_ssl_ctx(struct xmpp_client *c, char *why, size_t wl)
{
  const struct xmpp_tls_config *t = &c->cfg.tls;
  c->ssl_ctx = SSL_CTX_new(TLS_client_method());
  if (!c->ssl_ctx)
    return IPOP_ENOMEM;
  SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
  if (t->verify_peer) {
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    int ok = t->ca_file[0]
                 ? SSL_CTX_load_verify_locations(c->ssl_ctx, t->ca_file, NULL)
                 : SSL_CTX_set_default_verify_paths(c->ssl_ctx);
    if (ok != 1) {
      snprintf(why, wl, "cannot load CA file %s",
               t->ca_file[0] ? t->ca_file : "(system default)");
      return IPOP_ECRYPTO;
    }
  } else {
    SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
  }
  if (t->client_cert[0]) {
    if (SSL_CTX_use_certificate_chain_file(c->ssl_ctx, t->client_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ssl_ctx, t->client_key[0] ?
                                    t->client_key : t->client_cert,
                                    SSL_FILETYPE_PEM) != 1) {
      snprintf(why, wl, "cannot load client certificate %s", t->client_cert);
      return IPOP_ECRYPTO;
    }
  }
  ERR_clear_error();
  return 0;
}

static int client_new(uv_loop_t *loop, const struct xmpp_config *cfg,
                      const char *node_id, const char *caps, bool need_pw,
                      const struct xmpp_callbacks *cbs, void *ctx,
                      SSL_CTX *shared_ctx, struct xmpp_client **out, char *why,
                      size_t wl)
{
  *out = NULL;
  char dummy[8];
  if (!why) {
    why = dummy;
    wl = sizeof(dummy);
  }
  why[0] = '\0';
  if (!node_id || !*node_id || strlen(node_id) > XMPP_NODE_ID_MAX ||
      (caps && strlen(caps) > XMPP_CAPS_MAX)) {
    snprintf(why, wl, "node id or caps missing or too long");
    return IPOP_EINVAL;
  }
  const char *at = strchr(cfg->jid, '@');
  if (!at || at == cfg->jid || !at[1] || strchr(cfg->jid, '/') ||
      (size_t)(at - cfg->jid) >= sizeof(((struct xmpp_client *)0)->local) ||
      strlen(at + 1) >= sizeof(((struct xmpp_client *)0)->domain)) {
    snprintf(why, wl, "Jid must be a bare JID user@domain");
    return IPOP_EFIELD;
  }
  struct xmpp_client *c = calloc(1, sizeof(*c));
  if (!c)
    return IPOP_ENOMEM;
  int r;
  c->loop = loop;
  c->cfg = *cfg;
  if (!c->cfg.max_stanza)
    c->cfg.max_stanza = XMPP_STANZA_MAX_DEFAULT;
  if (!c->cfg.max_depth)
    c->cfg.max_depth = XMPP_DEPTH_MAX_DEFAULT;
  if (!c->cfg.ping_interval)
    c->cfg.ping_interval = 60;
  if (!c->cfg.connect_timeout)
    c->cfg.connect_timeout = 30;
  snprintf(c->node_id, sizeof(c->node_id), "%s", node_id);
  snprintf(c->caps, sizeof(c->caps), "%s", caps ? caps : "");
  if (cbs)
    c->cbs = *cbs;
  c->ctx = ctx;
  memcpy(c->local, cfg->jid, (size_t)(at - cfg->jid));
  snprintf(c->domain, sizeof(c->domain), "%s", at + 1);
  snprintf(c->tls_name, sizeof(c->tls_name), "%s",
           cfg->domain[0] ? cfg->domain : c->domain);
  struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(10000, 5);
  c->rl_drop = rl;
  c->rl_skip = rl;
  c->rl_muc = rl;
  xmpp_backoff_init(&c->backoff, XMPP_BACKOFF_BASE_MS, XMPP_BACKOFF_MAX_MS,
                    NULL, NULL);
  if (need_pw) {
    bool ext_only = cfg->nsasl == 1 && strcmp(cfg->sasl[0], "EXTERNAL") == 0;
    if (cfg->password_file[0]) {
      r = read_password(cfg->password_file, &c->password, why, wl);
      if (r)
        goto fail_pw;
    } else if (!ext_only) {
      snprintf(why, wl, "PasswordFile is required unless Sasl is [\"EXTERNAL\"]");
      r = IPOP_EMISSING;
      goto fail_pw;
    }
  }
  if (shared_ctx && SSL_CTX_up_ref(shared_ctx) == 1)
    c->ssl_ctx = shared_ctx;
  else if ((r = make_ssl_ctx(c, why, wl)) != 0)
    goto fail_ssl;
  uv_timer_init(loop, &c->retry_timer);
  uv_timer_init(loop, &c->ping_timer);
  c->retry_timer.data = c;
  c->ping_timer.data = c;
  c->timers_open = 2;
  c->stream_cbs = &xmpp__parser_cbs;
  /* The pending-request table first: on a connection loss its requests
   * fail before the extensions reset their own state. */
  xmpp__ext_add(c, &xmpp__iq_ext);
  xmpp__ext_add(c, &xmpp__muc_ext);
  xmpp__ext_add(c, &xmpp__block_ext);
  xmpp__ext_add(c, &xmpp__pep_ext);
  xmpp__pep_init(c);
  *out = c;
  return 0;
fail_ssl:
  SSL_CTX_free(c->ssl_ctx);
  if (c->password) {
    OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
  }
fail_pw:
  free(c);
  return r;
}

int xmpp_client_new(uv_loop_t *loop, const struct xmpp_config *cfg,
                    const char *node_id, const char *caps,
                    const struct xmpp_callbacks *cbs, void *ctx,
                    struct xmpp_client **out, char *why, size_t whylen)
{
  return client_new(loop, cfg, node_id, caps, true, cbs, ctx, NULL, out, why, whylen);
}

int xmpp__client_new_nopw(uv_loop_t *loop, const struct xmpp_config *cfg,
                          const char *node_id, const struct xmpp_callbacks *cbs,
                          void *ctx, struct xmpp_client **out)
{
  return client_new(loop, cfg, node_id, NULL, false, cbs, ctx, NULL, out, NULL, 0);
}

int xmpp__client_new_shared(uv_loop_t *loop, const struct xmpp_config *cfg,
                            const char *node_id, const struct xmpp_callbacks *cbs,
                            void *ctx, SSL_CTX *ssl_ctx, struct xmpp_client **out)
{
  return client_new(loop, cfg, node_id, NULL, false, cbs, ctx, ssl_ctx, out, NULL, 0);
}

SSL_CTX *xmpp__client_ssl_ctx(struct xmpp_client *c)
{
  return c->ssl_ctx;
}

int xmpp_client_start(struct xmpp_client *c)
{
  if (c->freeing)
    return IPOP_ESTATE;
  if (c->started)
    return 0;
  c->started = true;
  xmpp_backoff_reset(&c->backoff);
  if (!c->conn)
    xmpp__attempt_start(c);
  return 0;
}

void xmpp_client_stop(struct xmpp_client *c)
{
  c->started = false;
  uv_timer_stop(&c->retry_timer);
  uv_timer_stop(&c->ping_timer);
  struct conn *k = c->conn;
  if (k && !k->dead) {
    if (k->phase == P_ONLINE)
      xmpp__send_str(k, "<presence type='unavailable'/>");
    if (k->parser && k->phase >= P_FEATURES)
      xmpp__send_str(k, "</stream:stream>");
    if (k->ssl && k->secure) {
      SSL_shutdown(k->ssl);  /* close_notify; we do not wait for the reply */
      xmpp__tls_flush(k);
      ERR_clear_error();
    }
    if (k->in_feed) {
      xmpp__close_after(k, "stopped", 0);
      return;
    }
    xmpp__conn_close(k, "stopped", 0);
  }
  if (c->state != XMPP_STATE_AUTH_FAILED)
    xmpp__set_state(c, XMPP_STATE_OFFLINE, NULL);
}

static void timer_closed(uv_handle_t *h)
{
  struct xmpp_client *c = h->data;
  c->timers_open--;
  xmpp__client_maybe_free(c);
}

void xmpp_client_free(struct xmpp_client *c)
{
  if (!c || c->freeing)
    return;
  c->cbs = (struct xmpp_callbacks){ 0 };  /* no callbacks after free */
  xmpp_client_stop(c);
  c->freeing = true;
  if (c->conn) {
    struct conn *k = c->conn;
    if (!k->in_feed)
      xmpp__conn_close(k, "freed", 0);
  }
  uv_close((uv_handle_t *)&c->retry_timer, timer_closed);
  uv_close((uv_handle_t *)&c->ping_timer, timer_closed);
}

int xmpp_client_set_caps(struct xmpp_client *c, const char *caps)
{
  if (caps && strlen(caps) > XMPP_CAPS_MAX)
    return IPOP_ETOOBIG;
  snprintf(c->caps, sizeof(c->caps), "%s", caps ? caps : "");
  if (xmpp__online(c)) {
    xmpp__send_presence(c->conn);
    xmpp__ext_caps_changed(c);  /* rooms, our PEP item */
  }
  return 0;
}

int xmpp_client_send_signal(struct xmpp_client *c, const char *to,
                            const char *type, const char *id,
                            const char *payload, size_t len)
{
  if (!to || !strchr(to, '/') || strlen(to) >= XMPP_JID_MAX ||
      !xmpp__attr_ok(type, XMPP_SIGNAL_TYPE_MAX) ||
      (id && strlen(id) > XMPP_SIGNAL_ID_MAX) || (!payload && len))
    return IPOP_EINVAL;
  if (len > XMPP_SIGNAL_PAYLOAD_MAX)
    return IPOP_ETOOBIG;
  struct conn *k = c->conn;
  if (!k || k->dead || k->phase != P_ONLINE)
    return IPOP_ESTATE;
  struct sbuf b;
  sbuf_init(&b);
  /* headline: never stored offline nor redirected to another resource;
   * the hints keep archives and carbons out of it. */
  sbuf_adds(&b, "<message type='headline' to='");
  sbuf_escs(&b, to);
  sbuf_adds(&b, "'><signal xmlns='" XMPP_NS_SIGNAL "' type='");
  sbuf_escs(&b, type);
  sbuf_adds(&b, "'");
  if (id) {
    sbuf_adds(&b, " id='");
    sbuf_escs(&b, id);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, ">");
  if (len)
    sbuf_esc(&b, payload, len);
  sbuf_adds(&b, "</signal><no-store xmlns='urn:xmpp:hints'/>"
                "<no-copy xmlns='urn:xmpp:hints'/>"
                "<private xmlns='urn:xmpp:carbons:2'/></message>");
  if (b.oom) {
    sbuf_free(&b);
    return IPOP_ENOMEM;
  }
  xmpp__send_sbuf(k, &b);
  c->counters.signals_out++;
  return 0;
}

enum xmpp_state xmpp_client_state(const struct xmpp_client *c)
{
  return c->state;
}

void xmpp_client_counters(const struct xmpp_client *c, struct xmpp_counters *out)
{
  *out = c->counters;
}

const char *xmpp_client_jid(const struct xmpp_client *c)
{
  return c->full_jid;
}

void xmpp_client_set_rand(struct xmpp_client *c, xmpp_rand_fn fn, void *ctx)
{
  xmpp_backoff_init(&c->backoff, XMPP_BACKOFF_BASE_MS, XMPP_BACKOFF_MAX_MS,
                    fn, ctx);
}

/* ------------------------------------------------------------ tests */

int xmpp__client_test_attach(struct xmpp_client *c, struct sbuf *capture,
                             const char *full_jid)
{
  struct conn *k = xmpp__conn_new(c);
  if (!k)
    return IPOP_ENOMEM;
  k->capture = capture;
  k->secure = true;
  k->authenticated = true;
  k->parser = xmpp_parser_new(c->stream_cbs, k, c->cfg.max_stanza,
                              c->cfg.max_depth);
  if (!k->parser) {
    free(k);
    c->conns_alive--;
    return IPOP_ENOMEM;
  }
  c->conn = k;
  c->started = true;
  if (!full_jid) {
    k->phase = P_FEATURES;  /* authenticated, waiting for the features */
    return 0;
  }
  snprintf(c->full_jid, sizeof(c->full_jid), "%s", full_jid);
  xmpp__go_online(k);
  return 0;
}

int xmpp__client_send_raw(struct xmpp_client *c, const char *data, size_t len)
{
  struct conn *k = c->conn;
  if (!k || k->dead || k->phase != P_ONLINE)
    return IPOP_ESTATE;
  xmpp__send_data(k, data, len);
  return 0;
}

const char *xmpp__client_redirect(struct xmpp_client *c)
{
  static char buf[300];
  if (!c->redirect_host[0])
    return "";
  snprintf(buf, sizeof(buf), "%s %u", c->redirect_host, c->redirect_port);
  return buf;
}

int xmpp__client_test_feed(struct xmpp_client *c, const char *data,
                           size_t len)
{
  struct conn *k = c->conn;
  if (!k)
    return IPOP_ESTATE;
  c->last_close_code = 0;
  xmpp__feed(k, data, len);  /* k may be freed when the feed closed it */
  return c->last_close_code;
}
