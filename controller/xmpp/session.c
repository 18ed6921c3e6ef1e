/* XMPP client: the stream once bytes have arrived.  Stream open, close and
 * errors, features, SASL exchange (mechanisms in sasl.c), bind and session,
 * iq/presence/message handlers, stanza routing (the extensions see each
 * stanza first), and presence sending.  Nothing here decides whom to
 * believe: presence and signals are reported as the server stamped them. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"
#include "log.h"
#include "secret.h"

#define M "xmpp"

static int on_stanza(void *ctx, struct xmpp_stanza *st);
static int on_stream_open(void *ctx, const struct xmpp_stanza *root);
static void on_stream_close(void *ctx);
static int on_skipped(void *ctx, struct xmpp_stanza *shell, const char *why);

/* ------------------------------------------------------------- sending */

const struct xmpp_parser_cbs xmpp__parser_cbs = {
  .stream_open = on_stream_open,
  .stanza = on_stanza,
  .stream_close = on_stream_close,
  .skipped = on_skipped,
};

void xmpp__send_presence(struct conn *k)
{
  struct xmpp_client *c = k->c;
  struct sbuf b;
  sbuf_init(&b);
  /* Negative priority: messages to the bare JID never land on a node. */
  sbuf_adds(&b, "<presence><priority>-1</priority><node xmlns='"
                XMPP_NS_NODE "' id='");
  sbuf_escs(&b, c->node_id);
  sbuf_adds(&b, "'");
  if (c->caps[0]) {
    sbuf_adds(&b, " caps='");
    sbuf_escs(&b, c->caps);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, "/>");
  xmpp__ext_presence_children(c, &b);
  sbuf_adds(&b, "</presence>");
  xmpp__send_sbuf(k, &b);
}

/* ----------------------------------------------------- stanza handling */

static int on_stream_open(void *ctx, const struct xmpp_stanza *root)
{
  struct conn *k = ctx;
  const char *ver = xmpp_stanza_attr(root, "version");
  if (!ver || strncmp(ver, "1.", 2) != 0) {
    xmpp__send_stream_error(k, "unsupported-version");
    return xmpp__close_after(k, "server does not speak XMPP 1.0",
                             IPOP_EVERSION);
  }
  return 0;
}

static void on_stream_close(void *ctx)
{
  struct conn *k = ctx;
  xmpp__close_after(k, "server closed the stream", IPOP_EIO);
}

static void handle_stream_error(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *cond = xmpp_stanza_child_ns(st, NS_STREAMS);
  const char *name = cond ? cond->name : "undefined-condition";
  c->counters.stream_errors++;
  if (cond && strcmp(name, "text") == 0)
    name = "undefined-condition";
  LOG_WARN(M, "stream error from server: %s", name);
  if (strcmp(name, "see-other-host") == 0 && cond->text &&
      cond->text_len < sizeof(c->redirect_host)) {
    /* "host", "host:port", "[v6]:port" */
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", cond->text);
    char *host = buf, *port = NULL;
    if (buf[0] == '[') {
      char *e = strchr(buf, ']');
      if (e) {
        *e = '\0';
        host = buf + 1;
        if (e[1] == ':')
          port = e + 2;
      }
    } else {
      char *colon = strchr(buf, ':');
      if (colon && !strchr(colon + 1, ':')) {
        *colon = '\0';
        port = colon + 1;
      }
    }
    if (c->redirects < MAX_REDIRECTS && *host) {
      snprintf(c->redirect_host, sizeof(c->redirect_host), "%s", host);
      c->redirect_port = port ? (uint16_t)atoi(port) : 0;
      c->redirects++;
      LOG_INFO(M, "redirected to %s", c->redirect_host);
    }
  }
  char reason[128];
  snprintf(reason, sizeof(reason), "stream error: %s", name);
  xmpp__send_str(k, "</stream:stream>");
  xmpp__close_after(k, reason, IPOP_EIO);
}

static bool mech_offered(const struct xmpp_stanza *mechs, const char *m)
{
  for (const struct xmpp_stanza *x = mechs ? mechs->children : NULL; x;
       x = x->next)
    if (strcmp(x->name, "mechanism") == 0 && x->text && strcmp(x->text, m) == 0)
      return true;
  return false;
}

static int start_sasl(struct conn *k, const struct xmpp_stanza *mechs)
{
  struct xmpp_client *c = k->c;
  static const char *const defaults[] = { "SCRAM-SHA-256", "SCRAM-SHA-1",
                                          "PLAIN" };
  const char *chosen = NULL;
  size_t n = c->cfg.nsasl ? c->cfg.nsasl : 3;
  for (size_t i = 0; i < n && !chosen; i++) {
    const char *m = c->cfg.nsasl ? c->cfg.sasl[i] : defaults[i];
    if (!mech_offered(mechs, m))
      continue;
    if (strcmp(m, "PLAIN") == 0 && !k->secure)
      continue;  /* never send a password in the clear */
    if (strcmp(m, "EXTERNAL") == 0 && (!k->secure || !c->cfg.tls.client_cert[0]))
      continue;
    if (strcmp(m, "PLAIN") != 0 && strcmp(m, "EXTERNAL") != 0 &&
        strncmp(m, "SCRAM-", 6) != 0)
      continue;
    if (strcmp(m, "EXTERNAL") != 0 && !c->password)
      continue;
    chosen = m;
  }
  if (!chosen) {
    k->auth_failed = true;
    return xmpp__close_after(k, "no usable SASL mechanism offered", IPOP_EAUTH);
  }
  snprintf(k->mech, sizeof(k->mech), "%s", chosen);
  struct sbuf raw, b;
  sbuf_init(&raw);
  sbuf_init(&b);
  int r = 0;
  if (strncmp(chosen, "SCRAM-", 6) == 0) {
    r = xmpp_scram_init(&k->scram, chosen, c->local, NULL);
    if (r == 0) {
      k->scram_active = true;
      r = xmpp_scram_client_first(&k->scram, &raw);
    }
  } else if (strcmp(chosen, "PLAIN") == 0) {
    sbuf_add(&raw, "", 1);
    sbuf_adds(&raw, c->local);
    sbuf_add(&raw, "", 1);
    sbuf_adds(&raw, c->password);
  } else {
    sbuf_adds(&raw, "=");  /* EXTERNAL, empty authzid: sent as "=" below */
  }
  if (r == 0) {
    sbuf_printf(&b, "<auth xmlns='" NS_SASL "' mechanism='%s'>", chosen);
    if (strcmp(chosen, "EXTERNAL") == 0)
      sbuf_adds(&b, "=");
    else
      xmpp_b64_encode(raw.data, raw.len, &b);
    sbuf_adds(&b, "</auth>");
    xmpp__send_secret_sbuf(k, &b);
    k->phase = P_SASL;
  }
  if (raw.data)
    OPENSSL_cleanse(raw.data, raw.cap);
  sbuf_free(&raw);
  sbuf_free(&b);
  return r ? xmpp__close_after(k, "SASL setup failed", r) : 0;
}

static int handle_features(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  if (!k->secure) {
    const struct xmpp_stanza *tls = xmpp_stanza_child(st, "starttls", NS_TLS);
    if (tls && c->cfg.tls.mode == XMPP_TLS_STARTTLS) {
      xmpp__send_str(k, "<starttls xmlns='" NS_TLS "'/>");
      k->phase = P_STARTTLS;
      return 0;
    }
    if (c->cfg.tls.required)
      return xmpp__close_after(k,
                               "server offers no STARTTLS (Tls.Required is on)",
                               IPOP_EPERM);
    LOG_WARN(M, "continuing WITHOUT TLS (Tls.Required is off)");
  }
  if (!k->authenticated)
    return start_sasl(k, xmpp_stanza_child(st, "mechanisms", NS_SASL));
  if (!xmpp_stanza_child(st, "bind", NS_BIND))
    return xmpp__close_after(k, "server offers no resource binding",
                             IPOP_ENOTSUP);
  const struct xmpp_stanza *sess = xmpp_stanza_child(st, "session", NS_SESSION);
  k->session_needed = sess && !xmpp_stanza_child(sess, "optional", NULL);
  uint8_t rnd[6];
  char hex[13];
  if (ipop_random_bytes(rnd, sizeof(rnd)) != 0)
    return xmpp__close_after(k, "no randomness", IPOP_ECRYPTO);
  ipop_hex_encode(rnd, sizeof(rnd), hex);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<iq type='set' id='bind1'><bind xmlns='" NS_BIND
                "'><resource>");
  sbuf_escs(&b, c->cfg.resource_prefix);
  sbuf_adds(&b, hex);
  sbuf_adds(&b, "</resource></bind></iq>");
  xmpp__send_sbuf(k, &b);
  k->phase = P_BIND;
  return 0;
}

static int handle_sasl(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  if (strcmp(st->ns, NS_SASL) != 0)
    return xmpp__close_after(k, "unexpected stanza during SASL", IPOP_EIO);
  uint8_t *data = NULL;
  size_t dlen = 0;
  if (strcmp(st->name, "failure") == 0) {
    const struct xmpp_stanza *cond = st->children;
    while (cond && strcmp(cond->name, "text") == 0)
      cond = cond->next;
    const char *name = cond ? cond->name : "not-authorized";
    char reason[128];
    snprintf(reason, sizeof(reason), "authentication failed: %s", name);
    /* A server-side hiccup or an aborted exchange is retried with backoff;
     * everything else means our credentials or setup are wrong. */
    k->auth_failed = strcmp(name, "temporary-auth-failure") != 0 &&
                     strcmp(name, "aborted") != 0;
    return xmpp__close_after(k, reason, IPOP_EAUTH);
  }
  if (st->text_len &&
      xmpp_b64_decode(st->text, st->text_len, &data, &dlen) != 0)
    return xmpp__close_after(k, "bad base64 from server in SASL", IPOP_EIO);
  int r = 0;
  if (strcmp(st->name, "challenge") == 0) {
    if (!k->scram_active || k->scram.step != 1) {
      r = xmpp__close_after(k, "unexpected SASL challenge", IPOP_EIO);
      goto out;
    }
    struct sbuf raw, b;
    sbuf_init(&raw);
    sbuf_init(&b);
    int e = xmpp_scram_client_final(&k->scram, c->password, (char *)data,
                                    dlen, &raw);
    if (e == 0) {
      sbuf_adds(&b, "<response xmlns='" NS_SASL "'>");
      xmpp_b64_encode(raw.data, raw.len, &b);
      sbuf_adds(&b, "</response>");
      xmpp__send_secret_sbuf(k, &b);
    }
    sbuf_free(&raw);
    sbuf_free(&b);
    if (e) {
      k->auth_failed = true;
      r = xmpp__close_after(k, "server's SCRAM challenge is invalid",
                            IPOP_EAUTH);
    }
  } else if (strcmp(st->name, "success") == 0) {
    if (k->scram_active &&
        (dlen == 0 || xmpp_scram_verify(&k->scram, (char *)data, dlen) != 0)) {
      /* The server could not prove that it knows our password. */
      k->auth_failed = true;
      r = xmpp__close_after(k, "server's SCRAM signature is wrong", IPOP_EAUTH);
      goto out;
    }
    k->authenticated = true;
    LOG_INFO(M, "authenticated as %s@%s with %s", c->local, c->domain,
             k->mech);
    k->action = ACT_RESTART;
    r = 1;
  } else {
    r = xmpp__close_after(k, "unexpected SASL element", IPOP_EIO);
  }
out:
  free(data);
  return r;
}

static void request_roster(struct conn *k)
{
  xmpp__send_str(k, "<iq type='get' id='roster1'><query xmlns='" NS_ROSTER
                    "'/></iq>");
  k->phase = P_ROSTER;
}

void xmpp__go_online(struct conn *k)
{
  struct xmpp_client *c = k->c;
  k->phase = P_ONLINE;
  xmpp__send_presence(k);
  xmpp_backoff_reset(&c->backoff);
  c->redirects = 0;
  c->nfailed = 0;  /* the next attempt goes by priority again */
  if (!k->capture) {
    uint64_t t = (uint64_t)c->cfg.ping_interval * 1000 / 2;
    uv_timer_start(&c->ping_timer, xmpp__ping_cb, t, t);
  }
  LOG_INFO(M, "online as %s", c->full_jid);
  xmpp__set_state(c, XMPP_STATE_ONLINE, NULL);
  /* k may be gone if the callback stopped the client; c is not. */
  xmpp__ext_online(c);
}

static void handle_roster_result(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_ROSTER);
  size_t n = 0;
  for (const struct xmpp_stanza *it = q ? q->children : NULL;
       it && n < XMPP_ROSTER_MAX && !k->dead; it = it->next)
    if (strcmp(it->name, "item") == 0) {
      xmpp__roster_item(c, it, true);
      n++;
    }
  if (c->cbs.on_roster && !k->dead)
    c->cbs.on_roster(c, NULL, true, c->ctx);
}

static int handle_roster_push(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *from = xmpp_stanza_attr(iq, "from");
  char own[XMPP_JID_MAX];
  xmpp__own_bare(c, own, sizeof(own));
  if (from && !(xmpp__jid_bare_eq(from, own) && !strchr(from, '/'))) {
    /* RFC 6121 2.1.6: a push from anyone else is forged. */
    xmpp__send_iq_error(k, iq, "cancel", "service-unavailable");
    return 0;
  }
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_ROSTER);
  const struct xmpp_stanza *it = q ? xmpp_stanza_child(q, "item", NULL) : NULL;
  if (it)
    xmpp__roster_item(c, it, false);  /* exactly one item per push */
  if (!k->dead)
    xmpp__send_iq_result(k, iq);
  return 0;
}

static int handle_iq(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *type = xmpp_stanza_attr(iq, "type");
  const char *id = xmpp_stanza_attr(iq, "id");
  if (!type || !id)
    return 0;
  if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0) {
    bool ok = strcmp(type, "result") == 0;
    if (k->phase == P_BIND && strcmp(id, "bind1") == 0) {
      const struct xmpp_stanza *b = xmpp_stanza_child(iq, "bind", NS_BIND);
      const struct xmpp_stanza *j = xmpp_stanza_child(b, "jid", NULL);
      if (!ok || !j || !j->text || j->text_len >= sizeof(c->full_jid))
        return xmpp__close_after(k, "resource binding failed", IPOP_EIO);
      memcpy(c->full_jid, j->text, j->text_len + 1);
      if (k->session_needed) {
        xmpp__send_str(k, "<iq type='set' id='sess1'><session xmlns='"
                          NS_SESSION "'/></iq>");
        k->phase = P_SESSION;
      } else {
        request_roster(k);
      }
    } else if (k->phase == P_SESSION && strcmp(id, "sess1") == 0) {
      if (!ok)
        return xmpp__close_after(k, "session establishment failed", IPOP_EIO);
      request_roster(k);
    } else if (k->phase == P_ROSTER && strcmp(id, "roster1") == 0) {
      if (ok)
        handle_roster_result(k, iq);
      else
        LOG_WARN(M, "roster retrieval failed; continuing with an empty roster");
      xmpp__go_online(k);
    } else if (k->ping_outstanding && strcmp(id, k->ping_id) == 0) {
      k->ping_outstanding = false;  /* an error reply also proves liveness */
    } else if (k->phase == P_ONLINE) {
      xmpp__iq_reply(k, iq);  /* the extensions' requests */
    }
    return 0;
  }
  if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
    return 0;
  const struct xmpp_stanza *payload = iq->children;
  if (!payload) {
    xmpp__send_iq_error(k, iq, "modify", "bad-request");
    return 0;
  }
  if (strcmp(type, "get") == 0 && strcmp(payload->name, "ping") == 0 &&
      strcmp(payload->ns, NS_PING) == 0) {
    xmpp__send_iq_result(k, iq);
    return 0;
  }
  if (k->phase == P_ONLINE && xmpp__ext_iq(k, iq))
    return 0;  /* blocking pushes, disco#info */
  if (strcmp(type, "set") == 0 && strcmp(payload->name, "query") == 0 &&
      strcmp(payload->ns, NS_ROSTER) == 0 && k->phase == P_ONLINE)
    return handle_roster_push(k, iq);
  xmpp__send_iq_error(k, iq, "cancel", "service-unavailable");
  return 0;
}

/* SubscriptionPolicy: approve a request (and ask for the reverse
 * subscription, which the server ignores if we have it already). */
static void handle_subscribe(struct conn *k, const char *from)
{
  struct xmpp_client *c = k->c;
  char bare[XMPP_JID_MAX];
  xmpp__jid_bare(from, bare, sizeof(bare));
  bool accept = c->cfg.subscription_policy == XMPP_SUB_ACCEPT_ALL;
  if (c->cfg.subscription_policy == XMPP_SUB_ACCEPT_LIST)
    for (uint32_t i = 0; i < c->cfg.naccept_from && !accept; i++)
      accept = xmpp__jid_bare_eq(c->cfg.accept_from[i], bare);
  if (!accept || !xmpp__jid_is_bare(bare)) {
    LOG_INFO(M, "ignoring subscription request from %s (policy)",
             xmpp__jid_ok(bare) ? bare : "(bad JID)");
    return;
  }
  LOG_INFO(M, "accepting subscription request from %s", bare);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<presence type='subscribed' to='");
  sbuf_escs(&b, bare);
  sbuf_adds(&b, "'/><presence type='subscribe' to='");
  sbuf_escs(&b, bare);
  sbuf_adds(&b, "'/>");
  xmpp__send_sbuf(k, &b);
}

static int handle_presence(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const char *from = xmpp_stanza_attr(st, "from");
  const char *type = xmpp_stanza_attr(st, "type");
  if (!from || strlen(from) >= XMPP_JID_MAX)
    return 0;
  if (xmpp__ext_presence(k, st))
    return 0;  /* a room's presence (or a forged one) */
  if (type && strcmp(type, "subscribe") == 0) {
    handle_subscribe(k, from);
    return 0;
  }
  if (type && strcmp(type, "unavailable") != 0)
    return 0;  /* probe, error, subscribed, unsubscribe(d) */
  if (!xmpp__jid_is_full(from) || strcmp(from, c->full_jid) == 0)
    return 0;  /* our own echo, bare-JID or malformed presence */
  struct xmpp_presence p = { .from = from, .available = !type };
  const struct xmpp_stanza *node = xmpp_stanza_child(st, "node", XMPP_NS_NODE);
  if (node && p.available) {
    const char *id = xmpp_stanza_attr(node, "id");
    const char *caps = xmpp_stanza_attr(node, "caps");
    if (xmpp__attr_ok(id, XMPP_NODE_ID_MAX) && xmpp__text_ok(id, XMPP_NODE_ID_MAX)) {
      p.node_id = id;
      p.caps = xmpp__attr_ok(caps, XMPP_CAPS_MAX) && xmpp__text_ok(caps, XMPP_CAPS_MAX)
                   ? caps
                   : NULL;
    }
  }
  if (c->cbs.on_presence)
    c->cbs.on_presence(c, &p, c->ctx);
  return 0;
}

static int handle_message(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const char *type = xmpp_stanza_attr(st, "type");
  if (xmpp__ext_message(k, st))
    return 0;  /* invitations, PEP events */
  if (type && strcmp(type, "error") == 0)
    return 0;
  const struct xmpp_stanza *sig = xmpp_stanza_child(st, "signal",
                                                    XMPP_NS_SIGNAL);
  if (!sig)
    return 0;  /* chat and other messages are not ours */
  const char *from = xmpp_stanza_attr(st, "from");
  const char *stype = xmpp_stanza_attr(sig, "type");
  const char *sid = xmpp_stanza_attr(sig, "id");
  if (!from || !xmpp__jid_is_full(from) ||
      !xmpp__attr_ok(stype, XMPP_SIGNAL_TYPE_MAX) ||
      (sid && strlen(sid) > XMPP_SIGNAL_ID_MAX) ||
      sig->text_len > XMPP_SIGNAL_PAYLOAD_MAX || sig->children) {
    c->counters.bad_signals++;
    ipop_log_rl(&c->rl_drop, IPOP_LOG_WARN, M,
                "dropped malformed signal from %s",
                from && strlen(from) < 300 ? from : "(none or too long)");
    return 0;
  }
  c->counters.signals_in++;
  struct xmpp_signal s = {
    .from = from, .type = stype, .id = sid ? sid : "",
    .payload = sig->text ? sig->text : "", .payload_len = sig->text_len,
  };
  if (c->cbs.on_signal)
    c->cbs.on_signal(c, &s, c->ctx);
  return 0;
}

static int route_stanza(struct conn *k, struct xmpp_stanza *st);

static int on_stanza(void *ctx, struct xmpp_stanza *st)
{
  struct conn *k = ctx;
  if (k->dead)
    return 1;
  int r = route_stanza(k, st);
  /* A user callback may have stopped the client: parse nothing more. */
  return r || k->action != ACT_NONE;
}

static int route_stanza(struct conn *k, struct xmpp_stanza *st)
{
  if (strcmp(st->ns, XMPP_NS_STREAM) == 0) {
    if (strcmp(st->name, "error") == 0) {
      handle_stream_error(k, st);
      return 1;
    }
    if (strcmp(st->name, "features") == 0 && k->phase == P_FEATURES)
      return handle_features(k, st);
    LOG_DEBUG(M, "ignoring stream element %s", st->name);
    return 0;
  }
  switch (k->phase) {
  case P_STARTTLS:
    if (strcmp(st->ns, NS_TLS) == 0 && strcmp(st->name, "proceed") == 0) {
      k->action = ACT_STARTTLS;
      return 1;
    }
    return xmpp__close_after(k, "server refused STARTTLS", IPOP_EIO);
  case P_SASL:
    return handle_sasl(k, st);
  case P_BIND:
  case P_SESSION:
  case P_ROSTER:
  case P_ONLINE:
    break;
  default:
    return xmpp__close_after(k, "unexpected stanza before stream features",
                             IPOP_EIO);
  }
  if (strcmp(st->ns, XMPP_NS_CLIENT) != 0)
    return 0;
  if (strcmp(st->name, "iq") == 0)
    return handle_iq(k, st);
  if (k->phase != P_ONLINE)
    return 0;
  if (strcmp(st->name, "presence") == 0)
    return handle_presence(k, st);
  if (strcmp(st->name, "message") == 0)
    return handle_message(k, st);
  return 0;
}


/* A stanza beyond a limit inside it (stanza.h) costs only itself: it is
 * counted and logged with its sender, the stream stays.  A request gets a
 * policy-violation error; an answer to one of ours is taken as an error
 * answer, so that nothing waits for it (the roster, a PEP read...). */
static int on_skipped(void *ctx, struct xmpp_stanza *shell, const char *why)
{
  struct conn *k = ctx;
  struct xmpp_client *c = k->c;
  if (k->dead)
    return 1;
  const char *from = xmpp_stanza_attr(shell, "from");
  c->counters.stanzas_skipped++;
  ipop_log_rl(&c->rl_skip, IPOP_LOG_WARN, M,
              "skipped a <%s/> from %s: %s (the stream stays)", shell->name,
              !from ? "the server" : xmpp__jid_ok(from) ? from : "(bad JID)",
              why);
  const char *type = xmpp_stanza_attr(shell, "type");
  if (strcmp(shell->ns, XMPP_NS_CLIENT) != 0 ||
      strcmp(shell->name, "iq") != 0 || !type || !xmpp_stanza_attr(shell, "id"))
    return 0;
  if (strcmp(type, "get") == 0 || strcmp(type, "set") == 0) {
    xmpp__send_iq_error(k, shell, "modify", "policy-violation");
    return k->action != ACT_NONE;
  }
  if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)
    return 0;
  struct xmpp_stanza *err = xmpp_stanza_new("error", XMPP_NS_CLIENT);
  struct xmpp_stanza *cond = xmpp_stanza_new("policy-violation", NS_STANZAS);
  if (!err || !cond || xmpp_stanza_set_attr(err, "type", "modify") != 0 ||
      xmpp_stanza_set_attr(shell, "type", "error") != 0) {
    xmpp_stanza_free(err);
    xmpp_stanza_free(cond);
    return 0;
  }
  xmpp_stanza_add_child(err, cond);
  xmpp_stanza_add_child(shell, err);
  return on_stanza(ctx, shell);
}
