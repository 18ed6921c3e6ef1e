/* XMPP client: connection, TLS, SASL, session, roster, presence, signals.
 *
 * Lifetime: struct xmpp_client owns two timers and at most one struct conn
 * (one connection attempt).  A conn owns the TCP handle, the TLS state and
 * the stream parser.  Closing a conn marks it dead, frees TLS and parser,
 * and uv_close()s its handles; the struct itself is freed when the last
 * close callback (and a pending resolver work item) has run.  Stanza
 * handlers never free the parser they are called from: they set
 * conn->action and return non-zero, and the reader acts after the feed. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "error.h"
#include "log.h"
#include "sasl.h"
#include "secret.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"

#define M "xmpp"
#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"

enum { MAX_ADDRS = 16, MAX_REDIRECTS = 3, READ_CHUNK = 16384 };

enum phase {
  P_RESOLVE, P_TCP, P_TLS, P_FEATURES, P_STARTTLS, P_SASL, P_BIND,
  P_SESSION, P_ROSTER, P_ONLINE,
};

enum action { ACT_NONE, ACT_STARTTLS, ACT_RESTART, ACT_CLOSE };

struct roster_entry {
  char *jid;
  enum xmpp_subscription sub;
  char **groups;
  size_t ngroups;
};

struct conn;

struct tcp_handle {
  uv_tcp_t tcp;
  uv_connect_t req;
  uv_shutdown_t sreq;
  struct conn *conn;
};

struct conn {
  struct xmpp_client *c;
  enum phase phase;
  bool dead;
  bool work_pending;
  unsigned handles;           /* tcp handles not yet closed */
  uv_work_t work;
  char host[256];             /* what we resolve and connect to */
  uint16_t port;
  bool srv;                   /* host is a domain to look up via SRV */
  struct sockaddr_storage addrs[MAX_ADDRS];
  size_t naddrs, next_addr;
  int resolve_err;
  struct tcp_handle *th;      /* current TCP handle */
  SSL *ssl;
  BIO *rbio, *wbio;
  bool secure;                /* TLS handshake done */
  bool authenticated;
  bool session_needed;
  struct xmpp_parser *parser;
  int in_feed;
  enum action action;
  char reason[128];           /* why the conn is being closed */
  int fail_code;
  bool auth_failed;
  struct xmpp_scram scram;
  bool scram_active;
  char mech[24];              /* SASL mechanism in use */
  struct sbuf *capture;       /* tests: output goes here, no socket */
  unsigned ping_seq;
  bool ping_outstanding;
  char ping_id[32];
};

struct xmpp_client {
  uv_loop_t *loop;
  struct xmpp_config cfg;
  char *password;
  char node_id[XMPP_NODE_ID_MAX + 1];
  char caps[XMPP_CAPS_MAX + 1];
  struct xmpp_callbacks cbs;
  void *ctx;
  enum xmpp_state state;
  SSL_CTX *ssl_ctx;
  char local[1024];           /* JID localpart */
  char domain[256];           /* JID domain */
  char tls_name[256];         /* name checked in the server certificate */
  char full_jid[XMPP_JID_MAX];
  struct conn *conn;
  uv_timer_t retry_timer, ping_timer;
  unsigned timers_open;
  unsigned conns_alive;       /* conn structs not yet freed */
  bool started, freeing;
  bool attempted;             /* a first attempt happened */
  struct xmpp_backoff backoff;
  char redirect_host[256];
  uint16_t redirect_port;
  unsigned redirects;
  struct roster_entry *roster;
  size_t nroster;
  struct xmpp_counters counters;
  struct ipop_ratelimit rl_drop;
  int last_close_code;
};

static void conn_close(struct conn *k, const char *reason, int code);
static void ping_cb(uv_timer_t *t);
static void attempt_start(struct xmpp_client *c);
static int on_stanza(void *ctx, struct xmpp_stanza *st);
static int on_stream_open(void *ctx, const struct xmpp_stanza *root);
static void on_stream_close(void *ctx);

/* ------------------------------------------------------------ helpers */

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

const char *xmpp_subscription_name(enum xmpp_subscription s)
{
  static const char *const n[] = { "none", "to", "from", "both", "remove" };
  return (unsigned)s < 5 ? n[s] : "none";
}

static enum xmpp_subscription sub_parse(const char *s)
{
  if (!s)
    return XMPP_SUB_NONE;
  if (strcmp(s, "to") == 0) return XMPP_SUB_TO;
  if (strcmp(s, "from") == 0) return XMPP_SUB_FROM;
  if (strcmp(s, "both") == 0) return XMPP_SUB_BOTH;
  if (strcmp(s, "remove") == 0) return XMPP_SUB_REMOVE;
  return XMPP_SUB_NONE;
}

/* Bare part of a JID into out ("" if it does not fit). */
static void jid_bare(const char *jid, char *out, size_t outlen)
{
  size_t n = strcspn(jid, "/");
  if (n >= outlen)
    n = 0;
  memcpy(out, jid, n);
  out[n] = '\0';
}

static bool jid_bare_eq(const char *a, const char *b)
{
  size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
  return na == nb && strncasecmp(a, b, na) == 0;
}

static void set_state(struct xmpp_client *c, enum xmpp_state s,
                      const char *reason)
{
  if (c->state == s && s != XMPP_STATE_OFFLINE)
    return;
  if (c->state == s && s == XMPP_STATE_OFFLINE && !reason)
    return;
  c->state = s;
  if (c->cbs.on_state)
    c->cbs.on_state(c, s, reason, c->ctx);
}

/* --------------------------------------------------------- roster store */

static void entry_free(struct roster_entry *e)
{
  free(e->jid);
  for (size_t i = 0; i < e->ngroups; i++)
    free(e->groups[i]);
  free(e->groups);
  memset(e, 0, sizeof(*e));
}

static void roster_clear(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nroster; i++)
    entry_free(&c->roster[i]);
  free(c->roster);
  c->roster = NULL;
  c->nroster = 0;
}

static struct roster_entry *roster_find(struct xmpp_client *c, const char *jid)
{
  for (size_t i = 0; i < c->nroster; i++)
    if (jid_bare_eq(c->roster[i].jid, jid))
      return &c->roster[i];
  return NULL;
}

static void roster_remove(struct xmpp_client *c, struct roster_entry *e)
{
  entry_free(e);
  size_t i = (size_t)(e - c->roster);
  memmove(&c->roster[i], &c->roster[i + 1],
          (c->nroster - i - 1) * sizeof(*c->roster));
  c->nroster--;
}

/* Update from one <item/>; returns the entry (NULL if removed/invalid). */
static struct roster_entry *roster_apply(struct xmpp_client *c,
                                         const struct xmpp_stanza *item,
                                         enum xmpp_subscription *sub)
{
  const char *jid = xmpp_stanza_attr(item, "jid");
  *sub = sub_parse(xmpp_stanza_attr(item, "subscription"));
  if (!jid || !*jid || strlen(jid) >= XMPP_JID_MAX || strchr(jid, '/'))
    return NULL;
  struct roster_entry *e = roster_find(c, jid);
  if (*sub == XMPP_SUB_REMOVE) {
    if (e)
      roster_remove(c, e);
    return NULL;
  }
  if (!e) {
    if (c->nroster >= XMPP_ROSTER_MAX)
      return NULL;
    struct roster_entry *n = realloc(c->roster, (c->nroster + 1) * sizeof(*n));
    if (!n)
      return NULL;
    c->roster = n;
    e = &c->roster[c->nroster];
    memset(e, 0, sizeof(*e));
    e->jid = strdup(jid);
    if (!e->jid)
      return NULL;
    c->nroster++;
  }
  for (size_t i = 0; i < e->ngroups; i++)
    free(e->groups[i]);
  free(e->groups);
  e->groups = NULL;
  e->ngroups = 0;
  e->sub = *sub;
  size_t ng = 0;
  for (const struct xmpp_stanza *g = item->children; g; g = g->next)
    if (strcmp(g->name, "group") == 0)
      ng++;
  if (ng > 64)
    ng = 64;
  if (ng) {
    e->groups = calloc(ng, sizeof(char *));
    for (const struct xmpp_stanza *g = item->children; e->groups && g &&
         e->ngroups < ng; g = g->next)
      if (strcmp(g->name, "group") == 0) {
        char *s = strdup(g->text ? g->text : "");
        if (s)
          e->groups[e->ngroups++] = s;
      }
  }
  return e;
}

static void roster_report(struct xmpp_client *c, const char *jid,
                          const struct roster_entry *e,
                          enum xmpp_subscription sub, bool full)
{
  if (!c->cbs.on_roster)
    return;
  struct xmpp_roster_item it = { .jid = jid, .subscription = sub };
  if (e) {
    it.groups = (const char *const *)e->groups;
    it.ngroups = e->ngroups;
  }
  c->cbs.on_roster(c, &it, full, c->ctx);
}

/* May this bare JID signal us / be reported as a peer? */
static bool sender_allowed(struct xmpp_client *c, const char *from)
{
  if (!from || !strchr(from, '@'))
    return false;
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  if (jid_bare_eq(from, own))
    return true;  /* another node of the same user */
  const struct roster_entry *e = roster_find(c, from);
  if (!e || e->sub != XMPP_SUB_BOTH)
    return false;
  if (!c->cfg.roster_group[0])
    return true;
  for (size_t i = 0; i < e->ngroups; i++)
    if (strcmp(e->groups[i], c->cfg.roster_group) == 0)
      return true;
  return false;
}

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

static void tls_flush(struct conn *k)
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
    tls_flush(k);
  } else {
    raw_write(k, data, len);
  }
}

static void send_data(struct conn *k, const char *data, size_t len)
{
  send_data2(k, data, len, false);
}

static void send_sbuf(struct conn *k, struct sbuf *b)
{
  if (!b->oom)
    send_data(k, b->data, b->len);
  sbuf_free(b);
}

static void send_secret_sbuf(struct conn *k, struct sbuf *b)
{
  if (!b->oom)
    send_data2(k, b->data, b->len, true);
  if (b->data)
    OPENSSL_cleanse(b->data, b->cap);
  sbuf_free(b);
}

static void send_str(struct conn *k, const char *s)
{
  send_data(k, s, strlen(s));
}

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
  send_sbuf(k, &b);
}

static const struct xmpp_parser_cbs parser_cbs = {
  .stream_open = on_stream_open,
  .stanza = on_stanza,
  .stream_close = on_stream_close,
};

static int stream_restart(struct conn *k)
{
  xmpp_parser_free(k->parser);
  k->parser = xmpp_parser_new(&parser_cbs, k, k->c->cfg.max_stanza,
                              k->c->cfg.max_depth);
  if (!k->parser)
    return IPOP_ENOMEM;
  k->phase = P_FEATURES;
  send_stream_header(k);
  return 0;
}

static void send_presence(struct conn *k)
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
  sbuf_adds(&b, "/></presence>");
  send_sbuf(k, &b);
}

static void send_stream_error(struct conn *k, const char *cond)
{
  char buf[256];
  snprintf(buf, sizeof(buf), "<stream:error><%s xmlns='" NS_STREAMS
           "'/></stream:error></stream:stream>", cond);
  send_str(k, buf);
}

/* Reply to an iq we do not handle (RFC 6120 8.4). */
static void send_iq_error(struct conn *k, const struct xmpp_stanza *iq,
                          const char *type, const char *cond)
{
  const char *id = xmpp_stanza_attr(iq, "id");
  const char *from = xmpp_stanza_attr(iq, "from");
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<iq type='error' id='");
  sbuf_escs(&b, id ? id : "");
  sbuf_adds(&b, "'");
  if (from) {
    sbuf_adds(&b, " to='");
    sbuf_escs(&b, from);
    sbuf_adds(&b, "'");
  }
  sbuf_printf(&b, "><error type='%s'><%s xmlns='" NS_STANZAS
              "'/></error></iq>", type, cond);
  send_sbuf(k, &b);
}

static void send_iq_result(struct conn *k, const struct xmpp_stanza *iq)
{
  const char *id = xmpp_stanza_attr(iq, "id");
  const char *from = xmpp_stanza_attr(iq, "from");
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<iq type='result' id='");
  sbuf_escs(&b, id ? id : "");
  sbuf_adds(&b, "'");
  if (from) {
    sbuf_adds(&b, " to='");
    sbuf_escs(&b, from);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, "/>");
  send_sbuf(k, &b);
}

/* ----------------------------------------------------- stanza handling */

/* Stop parsing and close the connection after the current feed. */
static int close_after(struct conn *k, const char *reason, int code)
{
  if (k->action != ACT_CLOSE) {
    k->action = ACT_CLOSE;
    snprintf(k->reason, sizeof(k->reason), "%s", reason);
    k->fail_code = code;
  }
  return 1;
}

static int on_stream_open(void *ctx, const struct xmpp_stanza *root)
{
  struct conn *k = ctx;
  const char *ver = xmpp_stanza_attr(root, "version");
  if (!ver || strncmp(ver, "1.", 2) != 0) {
    send_stream_error(k, "unsupported-version");
    return close_after(k, "server does not speak XMPP 1.0", IPOP_EVERSION);
  }
  return 0;
}

static void on_stream_close(void *ctx)
{
  struct conn *k = ctx;
  close_after(k, "server closed the stream", IPOP_EIO);
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
  send_str(k, "</stream:stream>");
  close_after(k, reason, IPOP_EIO);
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
    return close_after(k, "no usable SASL mechanism offered", IPOP_EAUTH);
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
    send_secret_sbuf(k, &b);
    k->phase = P_SASL;
  }
  if (raw.data)
    OPENSSL_cleanse(raw.data, raw.cap);
  sbuf_free(&raw);
  sbuf_free(&b);
  return r ? close_after(k, "SASL setup failed", r) : 0;
}

static int handle_features(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  if (!k->secure) {
    const struct xmpp_stanza *tls = xmpp_stanza_child(st, "starttls", NS_TLS);
    if (tls && c->cfg.tls.mode == XMPP_TLS_STARTTLS) {
      send_str(k, "<starttls xmlns='" NS_TLS "'/>");
      k->phase = P_STARTTLS;
      return 0;
    }
    if (c->cfg.tls.required)
      return close_after(k, "server offers no STARTTLS (Tls.Required is on)",
                         IPOP_EPERM);
    LOG_WARN(M, "continuing WITHOUT TLS (Tls.Required is off)");
  }
  if (!k->authenticated)
    return start_sasl(k, xmpp_stanza_child(st, "mechanisms", NS_SASL));
  if (!xmpp_stanza_child(st, "bind", NS_BIND))
    return close_after(k, "server offers no resource binding", IPOP_ENOTSUP);
  const struct xmpp_stanza *sess = xmpp_stanza_child(st, "session", NS_SESSION);
  k->session_needed = sess && !xmpp_stanza_child(sess, "optional", NULL);
  uint8_t rnd[6];
  char hex[13];
  if (ipop_random_bytes(rnd, sizeof(rnd)) != 0)
    return close_after(k, "no randomness", IPOP_ECRYPTO);
  ipop_hex_encode(rnd, sizeof(rnd), hex);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<iq type='set' id='bind1'><bind xmlns='" NS_BIND
                "'><resource>");
  sbuf_escs(&b, c->cfg.resource_prefix);
  sbuf_adds(&b, hex);
  sbuf_adds(&b, "</resource></bind></iq>");
  send_sbuf(k, &b);
  k->phase = P_BIND;
  return 0;
}

static int handle_sasl(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  if (strcmp(st->ns, NS_SASL) != 0)
    return close_after(k, "unexpected stanza during SASL", IPOP_EIO);
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
    return close_after(k, reason, IPOP_EAUTH);
  }
  if (st->text_len &&
      xmpp_b64_decode(st->text, st->text_len, &data, &dlen) != 0)
    return close_after(k, "bad base64 from server in SASL", IPOP_EIO);
  int r = 0;
  if (strcmp(st->name, "challenge") == 0) {
    if (!k->scram_active || k->scram.step != 1) {
      r = close_after(k, "unexpected SASL challenge", IPOP_EIO);
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
      send_secret_sbuf(k, &b);
    }
    sbuf_free(&raw);
    sbuf_free(&b);
    if (e) {
      k->auth_failed = true;
      r = close_after(k, "server's SCRAM challenge is invalid", IPOP_EAUTH);
    }
  } else if (strcmp(st->name, "success") == 0) {
    if (k->scram_active &&
        (dlen == 0 || xmpp_scram_verify(&k->scram, (char *)data, dlen) != 0)) {
      /* The server could not prove that it knows our password. */
      k->auth_failed = true;
      r = close_after(k, "server's SCRAM signature is wrong", IPOP_EAUTH);
      goto out;
    }
    k->authenticated = true;
    LOG_INFO(M, "authenticated as %s@%s with %s", c->local, c->domain,
             k->mech);
    k->action = ACT_RESTART;
    r = 1;
  } else {
    r = close_after(k, "unexpected SASL element", IPOP_EIO);
  }
out:
  free(data);
  return r;
}

static void request_roster(struct conn *k)
{
  send_str(k, "<iq type='get' id='roster1'><query xmlns='" NS_ROSTER
              "'/></iq>");
  k->phase = P_ROSTER;
}

static void go_online(struct conn *k)
{
  struct xmpp_client *c = k->c;
  k->phase = P_ONLINE;
  send_presence(k);
  xmpp_backoff_reset(&c->backoff);
  c->redirects = 0;
  if (!k->capture) {
    uint64_t t = (uint64_t)c->cfg.ping_interval * 1000 / 2;
    uv_timer_start(&c->ping_timer, ping_cb, t, t);
  }
  LOG_INFO(M, "online as %s", c->full_jid);
  set_state(c, XMPP_STATE_ONLINE, NULL);
}

static void handle_roster_result(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_ROSTER);
  roster_clear(c);
  for (const struct xmpp_stanza *it = q ? q->children : NULL; it; it = it->next)
    if (strcmp(it->name, "item") == 0) {
      enum xmpp_subscription sub;
      roster_apply(c, it, &sub);
    }
  for (size_t i = 0; i < c->nroster; i++)
    roster_report(c, c->roster[i].jid, &c->roster[i], c->roster[i].sub, true);
  if (c->cbs.on_roster)
    c->cbs.on_roster(c, NULL, true, c->ctx);
}

static int handle_roster_push(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *from = xmpp_stanza_attr(iq, "from");
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  if (from && !(jid_bare_eq(from, own) && !strchr(from, '/'))) {
    /* RFC 6121 2.1.6: a push from anyone else is forged. */
    send_iq_error(k, iq, "cancel", "service-unavailable");
    return 0;
  }
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_ROSTER);
  for (const struct xmpp_stanza *it = q ? q->children : NULL; it;
       it = it->next) {
    if (strcmp(it->name, "item") != 0)
      continue;
    enum xmpp_subscription sub;
    const char *jid = xmpp_stanza_attr(it, "jid");
    struct roster_entry *e = roster_apply(c, it, &sub);
    if (jid && (e || sub == XMPP_SUB_REMOVE))
      roster_report(c, jid, e, sub, false);
    break;  /* exactly one item per push */
  }
  send_iq_result(k, iq);
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
        return close_after(k, "resource binding failed", IPOP_EIO);
      memcpy(c->full_jid, j->text, j->text_len + 1);
      if (k->session_needed) {
        send_str(k, "<iq type='set' id='sess1'><session xmlns='" NS_SESSION
                    "'/></iq>");
        k->phase = P_SESSION;
      } else {
        request_roster(k);
      }
    } else if (k->phase == P_SESSION && strcmp(id, "sess1") == 0) {
      if (!ok)
        return close_after(k, "session establishment failed", IPOP_EIO);
      request_roster(k);
    } else if (k->phase == P_ROSTER && strcmp(id, "roster1") == 0) {
      if (ok)
        handle_roster_result(k, iq);
      else
        LOG_WARN(M, "roster retrieval failed; continuing with an empty roster");
      go_online(k);
    } else if (k->ping_outstanding && strcmp(id, k->ping_id) == 0) {
      k->ping_outstanding = false;  /* an error reply also proves liveness */
    }
    return 0;
  }
  if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
    return 0;
  const struct xmpp_stanza *payload = iq->children;
  if (!payload) {
    send_iq_error(k, iq, "modify", "bad-request");
    return 0;
  }
  if (strcmp(type, "get") == 0 && strcmp(payload->name, "ping") == 0 &&
      strcmp(payload->ns, NS_PING) == 0) {
    send_iq_result(k, iq);
    return 0;
  }
  if (strcmp(type, "set") == 0 && strcmp(payload->name, "query") == 0 &&
      strcmp(payload->ns, NS_ROSTER) == 0 && k->phase == P_ONLINE)
    return handle_roster_push(k, iq);
  send_iq_error(k, iq, "cancel", "service-unavailable");
  return 0;
}

static bool attr_ok(const char *v, size_t max)
{
  return v && *v && strlen(v) <= max;
}

static void handle_subscribe(struct conn *k, const char *from)
{
  struct xmpp_client *c = k->c;
  char bare[XMPP_JID_MAX];
  jid_bare(from, bare, sizeof(bare));
  bool accept = c->cfg.subscription_policy == XMPP_SUB_ACCEPT_ALL;
  if (c->cfg.subscription_policy == XMPP_SUB_ACCEPT_LIST)
    for (uint32_t i = 0; i < c->cfg.naccept_from && !accept; i++)
      accept = jid_bare_eq(c->cfg.accept_from[i], bare);
  if (!accept || !bare[0]) {
    LOG_INFO(M, "ignoring subscription request from %s (policy)", bare);
    return;
  }
  LOG_INFO(M, "accepting subscription request from %s", bare);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<presence type='subscribed' to='");
  sbuf_escs(&b, bare);
  sbuf_adds(&b, "'/>");
  const struct roster_entry *e = roster_find(c, bare);
  if (!e || (e->sub != XMPP_SUB_TO && e->sub != XMPP_SUB_BOTH)) {
    sbuf_adds(&b, "<presence type='subscribe' to='");
    sbuf_escs(&b, bare);
    sbuf_adds(&b, "'/>");
  }
  send_sbuf(k, &b);
}

static int handle_presence(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const char *from = xmpp_stanza_attr(st, "from");
  const char *type = xmpp_stanza_attr(st, "type");
  if (!from || strlen(from) >= XMPP_JID_MAX)
    return 0;
  if (type && strcmp(type, "subscribe") == 0) {
    handle_subscribe(k, from);
    return 0;
  }
  if (type && strcmp(type, "unavailable") != 0)
    return 0;  /* probe, error, subscribed, unsubscribe(d) */
  if (!strchr(from, '/') || strcmp(from, c->full_jid) == 0)
    return 0;  /* our own echo, or bare-JID presence */
  if (!sender_allowed(c, from))
    return 0;
  struct xmpp_presence p = { .from = from, .available = !type };
  const struct xmpp_stanza *node = xmpp_stanza_child(st, "node", XMPP_NS_NODE);
  if (node && p.available) {
    const char *id = xmpp_stanza_attr(node, "id");
    const char *caps = xmpp_stanza_attr(node, "caps");
    if (attr_ok(id, XMPP_NODE_ID_MAX)) {
      p.node_id = id;
      p.caps = attr_ok(caps, XMPP_CAPS_MAX) ? caps : NULL;
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
  if (type && strcmp(type, "error") == 0)
    return 0;
  const struct xmpp_stanza *sig = xmpp_stanza_child(st, "signal",
                                                    XMPP_NS_SIGNAL);
  if (!sig)
    return 0;  /* chat and other messages are not ours */
  const char *from = xmpp_stanza_attr(st, "from");
  if (!from || !strchr(from, '/') || strlen(from) >= XMPP_JID_MAX ||
      !sender_allowed(c, from)) {
    c->counters.dropped_signals++;
    ipop_log_rl(&c->rl_drop, IPOP_LOG_WARN, M,
                "dropped signal from %s: not a mutual roster contact%s",
                from ? from : "(none)",
                c->cfg.roster_group[0] ? " in the roster group" : "");
    return 0;
  }
  const char *stype = xmpp_stanza_attr(sig, "type");
  const char *sid = xmpp_stanza_attr(sig, "id");
  if (!attr_ok(stype, XMPP_SIGNAL_TYPE_MAX) ||
      (sid && strlen(sid) > XMPP_SIGNAL_ID_MAX) ||
      sig->text_len > XMPP_SIGNAL_PAYLOAD_MAX || sig->children) {
    c->counters.bad_signals++;
    ipop_log_rl(&c->rl_drop, IPOP_LOG_WARN, M,
                "dropped malformed signal from %s", from);
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
    return close_after(k, "server refused STARTTLS", IPOP_EIO);
  case P_SASL:
    return handle_sasl(k, st);
  case P_BIND:
  case P_SESSION:
  case P_ROSTER:
  case P_ONLINE:
    break;
  default:
    return close_after(k, "unexpected stanza before stream features", IPOP_EIO);
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
  tls_flush(k);
  return 0;
}

/* Feed plaintext to the parser and carry out what the handlers asked. */
static void feed(struct conn *k, const char *data, size_t len);

static void tls_progress(struct conn *k)
{
  struct xmpp_client *c = k->c;
  if (!k->secure) {
    int r = SSL_do_handshake(k->ssl);
    tls_flush(k);
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
      conn_close(k, reason, IPOP_ECRYPTO);
      return;
    }
    k->secure = true;
    LOG_INFO(M, "TLS %s established with %s (%s)", SSL_get_version(k->ssl),
             c->tls_name, c->cfg.tls.verify_peer ? "verified" : "NOT verified");
    if (stream_restart(k) != 0) {
      conn_close(k, "out of memory", IPOP_ENOMEM);
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
      tls_flush(k);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      if (e == SSL_ERROR_ZERO_RETURN)
        conn_close(k, "server closed TLS", IPOP_EIO);
      else
        conn_close(k, "TLS error", IPOP_ECRYPTO);
      ERR_clear_error();
      return;
    }
    feed(k, buf, (size_t)n);
  }
}

static void feed(struct conn *k, const char *data, size_t len)
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
    send_stream_error(k, cond);
    conn_close(k, reason, IPOP_EPARSE);
    return;
  }
  enum action a = k->action;
  k->action = ACT_NONE;
  switch (a) {
  case ACT_NONE:
    break;
  case ACT_CLOSE:
    conn_close(k, k->reason, k->fail_code);
    break;
  case ACT_STARTTLS:
    xmpp_parser_free(k->parser);
    k->parser = NULL;
    if (tls_start(k) != 0)
      conn_close(k, "TLS setup failed", IPOP_ECRYPTO);
    break;
  case ACT_RESTART:
    if (k->scram_active) {
      xmpp_scram_clear(&k->scram);
      k->scram_active = false;
    }
    if (stream_restart(k) != 0)
      conn_close(k, "out of memory", IPOP_ENOMEM);
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
    conn_close(k, nread == UV_EOF ? "connection closed by server"
                                  : uv_strerror((int)nread), IPOP_EIO);
    return;
  }
  if (nread == 0)
    return;
  if (k->ssl) {
    BIO_write(k->rbio, buf->base, (int)nread);
    tls_progress(k);
  } else {
    feed(k, buf->base, (size_t)nread);
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

static void connect_cb(uv_connect_t *req, int status)
{
  struct tcp_handle *th = req->data;
  struct conn *k = th->conn;
  if (k->dead || k->th != th)
    return;
  if (status != 0) {
    LOG_DEBUG(M, "connect failed: %s", uv_strerror(status));
    k->resolve_err = status;
    k->th = NULL;
    uv_close((uv_handle_t *)&th->tcp, tcp_closed);
    try_next_addr(k);
    return;
  }
  uv_tcp_nodelay(&th->tcp, 1);
  uv_read_start((uv_stream_t *)&th->tcp, alloc_cb, read_cb);
  if (k->c->cfg.tls.mode == XMPP_TLS_DIRECT) {
    if (tls_start(k) != 0)
      conn_close(k, "TLS setup failed", IPOP_ECRYPTO);
    return;
  }
  if (stream_restart(k) != 0)
    conn_close(k, "out of memory", IPOP_ENOMEM);
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
      return;
    }
    k->th = NULL;
    k->resolve_err = r;
    uv_close((uv_handle_t *)&th->tcp, tcp_closed);
  }
  char reason[160];
  snprintf(reason, sizeof(reason), "cannot connect to %s: %s", k->host,
           k->resolve_err ? uv_strerror(k->resolve_err) : "no address");
  conn_close(k, reason, IPOP_ECONNREFUSED);
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

struct srv { uint16_t prio, weight, port; char target[256]; };

static int srv_cmp(const void *a, const void *b)
{
  const struct srv *x = a, *y = b;
  if (x->prio != y->prio)
    return x->prio - y->prio;
  return y->weight - x->weight;
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
    ns_msg msg;
    struct srv srvs[8];
    size_t ns = 0;
    if (n > 0 && ns_initparse(ans, n, &msg) == 0) {
      int cnt = ns_msg_count(msg, ns_s_an);
      for (int i = 0; i < cnt && ns < 8; i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv
            || ns_rr_rdlen(rr) < 7)
          continue;
        const unsigned char *rd = ns_rr_rdata(rr);
        struct srv *s = &srvs[ns];
        s->prio = ns_get16(rd);
        s->weight = ns_get16(rd + 2);
        s->port = ns_get16(rd + 4);
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, s->target,
                      sizeof(s->target)) < 0)
          continue;
        ns++;
      }
    }
    if (ns == 1 && strcmp(srvs[0].target, ".") == 0) {
      k->resolve_err = UV_EAI_NONAME;  /* service explicitly not offered */
      return;
    }
    if (ns > 0) {
      qsort(srvs, ns, sizeof(srvs[0]), srv_cmp);
      for (size_t i = 0; i < ns; i++)
        add_addrs(k, srvs[i].target, srvs[i].port);
      return;
    }
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
    conn_close(k, reason, IPOP_ECONNREFUSED);
    return;
  }
  try_next_addr(k);
}

/* ------------------------------------------------ attempts and timers */

static void client_maybe_free(struct xmpp_client *c);

static void conn_maybe_free(struct conn *k)
{
  if (!k->dead || k->handles || k->work_pending)
    return;
  struct xmpp_client *c = k->c;
  free(k);
  c->conns_alive--;
  client_maybe_free(c);
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
    attempt_start(c);
}

/* Close k; unless the client is stopping, schedule the next attempt. */
static void conn_close(struct conn *k, const char *reason, int code)
{
  struct xmpp_client *c = k->c;
  if (k->dead)
    return;
  if (k->in_feed) {
    /* Inside a parser callback: finish the feed first. */
    close_after(k, reason, code);
    return;
  }
  bool auth = k->auth_failed;
  bool capture = k->capture != NULL;
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
    set_state(c, XMPP_STATE_OFFLINE, reason);
    return;
  }
  if (auth) {
    /* Reported once; retrying a wrong password only locks accounts. */
    LOG_ERROR(M, "%s@%s: %s; not retrying until restarted", c->local,
              c->domain, reason);
    c->started = false;
    set_state(c, XMPP_STATE_AUTH_FAILED, reason);
    return;
  }
  uint32_t delay = c->redirect_host[0] && c->redirects ? 0
                   : xmpp_backoff_next(&c->backoff);
  LOG_WARN(M, "disconnected (%s); reconnecting in %u ms", reason, delay);
  set_state(c, XMPP_STATE_OFFLINE, reason);
  if (c->started && !c->freeing && !capture)
    uv_timer_start(&c->retry_timer, retry_cb, delay, 0);
}

static void ping_cb(uv_timer_t *t)
{
  struct xmpp_client *c = t->data;
  struct conn *k = c->conn;
  if (!k || k->dead)
    return;
  if (k->phase != P_ONLINE) {
    conn_close(k, "timed out before coming online", IPOP_ETIMEDOUT);
    return;
  }
  if (k->ping_outstanding) {
    c->counters.ping_timeouts++;
    conn_close(k, "ping timeout", IPOP_ETIMEDOUT);
    return;
  }
  snprintf(k->ping_id, sizeof(k->ping_id), "ping%u", ++k->ping_seq);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_printf(&b, "<iq type='get' id='%s' to='", k->ping_id);
  sbuf_escs(&b, c->domain);
  sbuf_adds(&b, "'><ping xmlns='" NS_PING "'/></iq>");
  send_sbuf(k, &b);
  k->ping_outstanding = true;
}

static struct conn *conn_new(struct xmpp_client *c)
{
  struct conn *k = calloc(1, sizeof(*k));
  if (!k)
    return NULL;
  k->c = c;
  k->work.data = k;
  c->conns_alive++;
  return k;
}

static void attempt_start(struct xmpp_client *c)
{
  if (c->attempted)
    c->counters.reconnects++;
  c->attempted = true;
  struct conn *k = conn_new(c);
  if (!k) {
    uv_timer_start(&c->retry_timer, retry_cb, xmpp_backoff_next(&c->backoff), 0);
    return;
  }
  c->conn = k;
  c->full_jid[0] = '\0';
  set_state(c, XMPP_STATE_CONNECTING, NULL);
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
  uv_timer_start(&c->ping_timer, ping_cb,
                 (uint64_t)c->cfg.connect_timeout * 1000, 0);
  k->work_pending = true;
  if (uv_queue_work(c->loop, &k->work, resolve_work, resolve_done) != 0) {
    k->work_pending = false;
    conn_close(k, "cannot queue DNS lookup", IPOP_ESYS);
  }
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
                      struct xmpp_client **out, char *why, size_t wl)
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
  r = make_ssl_ctx(c, why, wl);
  if (r)
    goto fail_ssl;
  uv_timer_init(loop, &c->retry_timer);
  uv_timer_init(loop, &c->ping_timer);
  c->retry_timer.data = c;
  c->ping_timer.data = c;
  c->timers_open = 2;
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
  return client_new(loop, cfg, node_id, caps, true, cbs, ctx, out, why, whylen);
}

int xmpp__client_new_nopw(uv_loop_t *loop, const struct xmpp_config *cfg,
                          const char *node_id, const struct xmpp_callbacks *cbs,
                          void *ctx, struct xmpp_client **out)
{
  return client_new(loop, cfg, node_id, NULL, false, cbs, ctx, out, NULL, 0);
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
    attempt_start(c);
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
      send_str(k, "<presence type='unavailable'/>");
    if (k->parser && k->phase >= P_FEATURES)
      send_str(k, "</stream:stream>");
    if (k->ssl && k->secure) {
      SSL_shutdown(k->ssl);  /* close_notify; we do not wait for the reply */
      tls_flush(k);
      ERR_clear_error();
    }
    if (k->in_feed) {
      close_after(k, "stopped", 0);
      return;
    }
    conn_close(k, "stopped", 0);
  }
  if (c->state != XMPP_STATE_AUTH_FAILED)
    set_state(c, XMPP_STATE_OFFLINE, NULL);
}

static void timer_closed(uv_handle_t *h)
{
  struct xmpp_client *c = h->data;
  c->timers_open--;
  client_maybe_free(c);
}

static void client_maybe_free(struct xmpp_client *c)
{
  if (!c->freeing || c->timers_open || c->conns_alive)
    return;
  roster_clear(c);
  SSL_CTX_free(c->ssl_ctx);
  if (c->password) {
    OPENSSL_cleanse(c->password, strlen(c->password));
    free(c->password);
  }
  free(c);
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
      conn_close(k, "freed", 0);
  }
  uv_close((uv_handle_t *)&c->retry_timer, timer_closed);
  uv_close((uv_handle_t *)&c->ping_timer, timer_closed);
}

int xmpp_client_set_caps(struct xmpp_client *c, const char *caps)
{
  if (caps && strlen(caps) > XMPP_CAPS_MAX)
    return IPOP_ETOOBIG;
  snprintf(c->caps, sizeof(c->caps), "%s", caps ? caps : "");
  if (c->conn && c->conn->phase == P_ONLINE && !c->conn->dead)
    send_presence(c->conn);
  return 0;
}

int xmpp_client_send_signal(struct xmpp_client *c, const char *to,
                            const char *type, const char *id,
                            const char *payload, size_t len)
{
  if (!to || !strchr(to, '/') || strlen(to) >= XMPP_JID_MAX ||
      !attr_ok(type, XMPP_SIGNAL_TYPE_MAX) ||
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
  send_sbuf(k, &b);
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
  struct conn *k = conn_new(c);
  if (!k)
    return IPOP_ENOMEM;
  k->capture = capture;
  k->secure = true;
  k->authenticated = true;
  k->parser = xmpp_parser_new(&parser_cbs, k, c->cfg.max_stanza,
                              c->cfg.max_depth);
  if (!k->parser) {
    free(k);
    c->conns_alive--;
    return IPOP_ENOMEM;
  }
  snprintf(c->full_jid, sizeof(c->full_jid), "%s", full_jid);
  c->conn = k;
  c->started = true;
  go_online(k);
  return 0;
}

int xmpp__client_send_raw(struct xmpp_client *c, const char *data, size_t len)
{
  struct conn *k = c->conn;
  if (!k || k->dead || k->phase != P_ONLINE)
    return IPOP_ESTATE;
  send_data(k, data, len);
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
  feed(k, data, len);  /* k may be freed when the feed closed it */
  return c->last_close_code;
}
