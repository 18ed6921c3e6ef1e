/* XMPP client: node identity over PEP (XEP-0163), an extension (pep.h).
 * Our item and the way we publish it, our entity capabilities (XEP-0115)
 * with "urn:ipop:node:1+notify" and the disco#info answer behind them, our
 * contacts' items as notifications or explicit fetches.  Every item is
 * checked before a callback sees it; what an item means is the caller's
 * decision. */
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"
#include "log.h"
#include "sasl.h"

#define M "xmpp"

/* What we are, for disco#info and the caps hash: one identity and the
 * features in byte order (XEP-0115 5.1 sorts them). */
#define IDENTITY_CATEGORY "client"
#define IDENTITY_TYPE "bot"
#define IDENTITY_NAME "ipop"
static const char *const features[] = {
  XMPP_NS_CAPS,
  NS_DISCO_INFO,
  XMPP_PEP_NODE "+notify",
  NS_PING,
};

enum pep_step { PEP_IDLE, PEP_OPTS, PEP_CONFIGURE, PEP_PLAIN, PEP_RECONFIGURE };
enum { IQ_PUBLISH, IQ_FETCH };

static void pep_answer(struct xmpp_client *c, const struct iq_pending *p,
                       const struct xmpp_stanza *iq, bool ok);

/* ------------------------------------------------------------------ caps */

void xmpp__pep_init(struct xmpp_client *c)
{
  struct sbuf s, b;
  sbuf_init(&s);
  sbuf_init(&b);
  sbuf_adds(&s, IDENTITY_CATEGORY "/" IDENTITY_TYPE "//" IDENTITY_NAME "<");
  for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
    sbuf_adds(&s, features[i]);
    sbuf_adds(&s, "<");
  }
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)(s.data ? s.data : ""), s.len, md);
  xmpp_b64_encode(md, sizeof(md), &b);
  snprintf(c->pep.ver, sizeof(c->pep.ver), "%s", b.oom || !b.data ? "" : b.data);
  sbuf_free(&s);
  sbuf_free(&b);
}

const char *xmpp_pep_caps_ver(const struct xmpp_client *c)
{
  return c->pep.ver;
}

static void pep_presence_children(struct xmpp_client *c, struct sbuf *b)
{
  sbuf_adds(b, "<c xmlns='" XMPP_NS_CAPS "' hash='sha-1' node='" XMPP_CAPS_NODE
               "' ver='");
  sbuf_escs(b, c->pep.ver);
  sbuf_adds(b, "'/>");
}

/* disco#info from anyone (the server asks it to learn our +notify): our
 * identity and features, for no node or for our caps node#ver. */
static bool pep_iq(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *type = xmpp_stanza_attr(iq, "type");
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_DISCO_INFO);
  if (!q || !type || strcmp(type, "get") != 0)
    return false;
  const char *node = xmpp_stanza_attr(q, "node");
  char ours[sizeof(XMPP_CAPS_NODE) + sizeof(c->pep.ver) + 1];
  snprintf(ours, sizeof(ours), "%s#%s", XMPP_CAPS_NODE, c->pep.ver);
  if (node && strcmp(node, ours) != 0) {
    xmpp__send_iq_error(k, iq, "cancel", "item-not-found");
    return true;
  }
  struct sbuf b;
  xmpp__iq_reply_open(&b, iq, "result");
  sbuf_adds(&b, "><query xmlns='" NS_DISCO_INFO "'");
  if (node) {
    sbuf_adds(&b, " node='");
    sbuf_escs(&b, ours);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, "><identity category='" IDENTITY_CATEGORY "' type='" IDENTITY_TYPE
                "' name='" IDENTITY_NAME "'/>");
  for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
    sbuf_printf(&b, "<feature var='%s'/>", features[i]);
  sbuf_adds(&b, "</query></iq>");
  xmpp__send_sbuf(k, &b);
  return true;
}

/* ------------------------------------------------------------- parsing */

/* One <item/> of our node: id = payload id, bounded text.  false if it is
 * malformed (counted by the caller). */
static bool parse_item(const struct xmpp_stanza *it, struct xmpp_pep_item *out)
{
  const char *id = xmpp_stanza_attr(it, "id");
  const struct xmpp_stanza *n = xmpp_stanza_child(it, "node", XMPP_NS_NODE);
  if (!n || !xmpp__attr_ok(id, XMPP_NODE_ID_MAX) || !xmpp__text_ok(id, XMPP_NODE_ID_MAX))
    return false;
  const char *nid = xmpp_stanza_attr(n, "id");
  const char *fpr = xmpp_stanza_attr(n, "fingerprint");
  const char *caps = xmpp_stanza_attr(n, "caps");
  if (!nid || strcmp(nid, id) != 0 || !xmpp__attr_ok(fpr, XMPP_FPR_MAX) ||
      !xmpp__text_ok(fpr, XMPP_FPR_MAX) ||
      (caps && (!xmpp__attr_ok(caps, XMPP_CAPS_MAX) || !xmpp__text_ok(caps, XMPP_CAPS_MAX))))
    return false;
  out->node_id = id;
  out->fingerprint = fpr;
  out->caps = caps;
  return true;
}

/* The items and retractions in el (an <items/> of our node). */
static void report_items(struct xmpp_client *c, const char *from,
                         const struct xmpp_stanza *el, enum xmpp_pep_kind kind)
{
  struct xmpp_pep_item items[XMPP_PEP_ITEMS_MAX];
  const char *retracted[XMPP_PEP_ITEMS_MAX];
  size_t n = 0, nr = 0;
  for (const struct xmpp_stanza *it = el ? el->children : NULL; it; it = it->next) {
    if (strcmp(it->name, "retract") == 0 && kind == XMPP_PEP_ITEMS) {
      const char *id = xmpp_stanza_attr(it, "id");
      if (!xmpp__attr_ok(id, XMPP_NODE_ID_MAX) || !xmpp__text_ok(id, XMPP_NODE_ID_MAX) ||
          nr == XMPP_PEP_ITEMS_MAX)
        xmpp__drop(c, &c->counters.pep_dropped, "bad or surplus PEP retraction", from);
      else
        retracted[nr++] = id;
      continue;
    }
    if (strcmp(it->name, "item") != 0)
      continue;
    if (n == XMPP_PEP_ITEMS_MAX || !parse_item(it, &items[n]))
      xmpp__drop(c, &c->counters.pep_dropped, "malformed or surplus PEP item", from);
    else
      n++;
  }
  if (!c->cbs.on_pep)
    return;
  if (n || kind == XMPP_PEP_LIST) {
    struct xmpp_pep_event ev = { .kind = kind, .from = from, .items = items, .n = n };
    c->cbs.on_pep(c, &ev, c->ctx);
  }
  if (nr && xmpp__online(c)) {
    struct xmpp_pep_event ev = { .kind = XMPP_PEP_RETRACT, .from = from,
                                 .retracted = retracted, .n_retracted = nr };
    c->cbs.on_pep(c, &ev, c->ctx);
  }
}

/* A pubsub notification.  Only an account's PEP service (its bare JID,
 * stamped by the server) speaks for its items; other nodes are not ours. */
static bool pep_message(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *ev = xmpp_stanza_child(st, "event", XMPP_NS_PUBSUB_EVENT);
  if (!ev)
    return false;
  const char *type = xmpp_stanza_attr(st, "type");
  if (type && strcmp(type, "error") == 0)
    return true;
  const char *from = xmpp_stanza_attr(st, "from");
  if (!xmpp__jid_is_bare(from)) {
    xmpp__drop(c, &c->counters.pep_dropped, "PEP event not from an account", from);
    return true;
  }
  for (const struct xmpp_stanza *el = ev->children; el && xmpp__online(c); el = el->next) {
    const char *node = xmpp_stanza_attr(el, "node");
    if (!node || strcmp(node, XMPP_PEP_NODE) != 0)
      continue;  /* another PEP node: not ours to follow */
    if (strcmp(el->name, "items") == 0)
      report_items(c, from, el, XMPP_PEP_ITEMS);
    else if (strcmp(el->name, "purge") == 0 || strcmp(el->name, "delete") == 0)
      report_items(c, from, NULL, XMPP_PEP_LIST);  /* no items left */
  }
  return true;
}

/* ------------------------------------------------------------- fetching */

int xmpp_pep_fetch(struct xmpp_client *c, const char *bare_jid)
{
  if (!xmpp__jid_is_bare(bare_jid))
    return IPOP_EINVAL;
  return xmpp__iq_send(c, pep_answer, IQ_FETCH, "get", bare_jid, NULL, NULL, 0,
                       "<pubsub xmlns='" XMPP_NS_PUBSUB "'><items node='" XMPP_PEP_NODE
                       "'/></pubsub>");
}

static void fetch_answer(struct xmpp_client *c, const struct iq_pending *p,
                         const struct xmpp_stanza *iq, bool ok)
{
  char text[600];
  const char *cond = !iq ? "connection-lost" : ok ? NULL : xmpp__stanza_error(iq, text, sizeof(text));
  const struct xmpp_stanza *ps = ok ? xmpp_stanza_child(iq, "pubsub", XMPP_NS_PUBSUB) : NULL;
  const struct xmpp_stanza *items = ps ? xmpp_stanza_child(ps, "items", NULL) : NULL;
  const char *node = items ? xmpp_stanza_attr(items, "node") : NULL;
  if (ok && (!node || strcmp(node, XMPP_PEP_NODE) != 0)) {
    xmpp__drop(c, &c->counters.pep_dropped, "PEP answer without our items", p->to);
    cond = "bad-answer";
  }
  if (cond) {
    struct xmpp_pep_event ev = { .kind = XMPP_PEP_ERROR, .from = p->to, .condition = cond };
    if (c->cbs.on_pep)
      c->cbs.on_pep(c, &ev, c->ctx);
    return;
  }
  report_items(c, p->to, items, XMPP_PEP_LIST);
}

/* ----------------------------------------------------------- publishing */

static void append_form(struct sbuf *b, const char *form_type)
{
  sbuf_printf(b, "<x xmlns='" NS_XDATA "' type='submit'><field var='FORM_TYPE' "
                 "type='hidden'><value>%s</value></field><field var='pubsub#access_model'>"
                 "<value>presence</value></field><field var='pubsub#max_items'><value>%d"
                 "</value></field></x>",
              form_type, XMPP_PEP_ITEMS_MAX);
}

static int send_publish(struct xmpp_client *c, bool options)
{
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<pubsub xmlns='" XMPP_NS_PUBSUB "'><publish node='" XMPP_PEP_NODE
                "'><item id='");
  sbuf_escs(&b, c->node_id);
  sbuf_adds(&b, "'><node xmlns='" XMPP_NS_NODE "' id='");
  sbuf_escs(&b, c->node_id);
  sbuf_adds(&b, "' fingerprint='");
  sbuf_escs(&b, c->pep.fpr);
  sbuf_adds(&b, "'");
  if (c->caps[0]) {
    sbuf_adds(&b, " caps='");
    sbuf_escs(&b, c->caps);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, "/></item></publish>");
  if (options) {
    sbuf_adds(&b, "<publish-options>");
    append_form(&b, XMPP_NS_PUBSUB "#publish-options");
    sbuf_adds(&b, "</publish-options>");
  }
  sbuf_adds(&b, "</pubsub>");
  int r = b.oom ? IPOP_ENOMEM
                : xmpp__iq_send(c, pep_answer, IQ_PUBLISH, "set", NULL, NULL, NULL, 0, b.data);
  sbuf_free(&b);
  return r;
}

static int send_configure(struct xmpp_client *c)
{
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<pubsub xmlns='" XMPP_NS_PUBSUB_OWNER "'><configure node='" XMPP_PEP_NODE
                "'>");
  append_form(&b, XMPP_NS_PUBSUB "#node_config");
  sbuf_adds(&b, "</configure></pubsub>");
  int r = b.oom ? IPOP_ENOMEM
                : xmpp__iq_send(c, pep_answer, IQ_PUBLISH, "set", NULL, NULL, NULL, 0, b.data);
  sbuf_free(&b);
  return r;
}

__attribute__((format(printf, 2, 3))) static void how_add(struct xmpp_client *c,
                                                          const char *fmt, ...)
{
  size_t n = strlen(c->pep.how);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->pep.how + n, sizeof(c->pep.how) - n, fmt, ap);
  va_end(ap);
}

static void pep_run(struct xmpp_client *c);

/* The publishing run ended (err 0: our item is up). */
static void run_done(struct xmpp_client *c, int err, const char *cond)
{
  c->pep.step = PEP_IDLE;
  xmpp__report(c, XMPP_OP_PUBLISH, NULL, NULL, err, cond, c->pep.how);
  if (c->pep.again && xmpp__online(c)) {
    c->pep.again = false;
    pep_run(c);
  }
}

/* Step to next; a request that cannot even be sent ends the run. */
static void step(struct xmpp_client *c, enum pep_step next)
{
  c->pep.step = next;
  int r = next == PEP_OPTS    ? send_publish(c, true)
          : next == PEP_PLAIN ? send_publish(c, false)
                              : send_configure(c);
  if (r) {
    how_add(c, "; cannot send the next request: %s", ipop_strerror(r));
    run_done(c, r, NULL);
  }
}

/* publish-options first (Prosody 0.12 takes them); a server that refuses
 * them (ejabberd 23.01 does not know max_items there) gets the node
 * configured, then the item published plainly, and the configuration
 * again if the node did not exist before that publish. */
static void publish_answer(struct xmpp_client *c, const struct xmpp_stanza *iq, bool ok)
{
  char text[600] = "";
  const char *cond = ok ? NULL : xmpp__stanza_error(iq, text, sizeof(text));
  switch ((enum pep_step)c->pep.step) {
  case PEP_OPTS:
    if (ok) {
      how_add(c, "published with publish-options (access presence, at most %d items)",
              XMPP_PEP_ITEMS_MAX);
      run_done(c, 0, NULL);
      return;
    }
    c->pep.no_options = true;
    how_add(c, "publish-options refused (%s%s%s); ", cond, text[0] ? ": " : "", text);
    step(c, PEP_CONFIGURE);
    return;
  case PEP_CONFIGURE:
    c->pep.cfg_missing = !ok && strcmp(cond, "item-not-found") == 0;
    if (ok)
      how_add(c, "node configured (access presence, at most %d items); ", XMPP_PEP_ITEMS_MAX);
    else if (!c->pep.cfg_missing)
      how_add(c, "configuring the node refused (%s); ", cond);
    step(c, PEP_PLAIN);
    return;
  case PEP_PLAIN:
    if (!ok) {
      how_add(c, "publish refused: %s%s%s", cond, text[0] ? ": " : "", text);
      run_done(c, IPOP_EPERM, cond);
      return;
    }
    how_add(c, "published");
    if (c->pep.cfg_missing) {
      step(c, PEP_RECONFIGURE);
      return;
    }
    run_done(c, 0, NULL);
    return;
  case PEP_RECONFIGURE:
    if (ok)
      how_add(c, "; new node configured (access presence, at most %d items)",
              XMPP_PEP_ITEMS_MAX);
    else
      how_add(c, "; configuring the new node refused (%s)", cond);
    run_done(c, 0, NULL);
    return;
  case PEP_IDLE:
    return;
  }
}

static void pep_answer(struct xmpp_client *c, const struct iq_pending *p,
                       const struct xmpp_stanza *iq, bool ok)
{
  if (p->kind == IQ_FETCH) {
    fetch_answer(c, p, iq, ok);
    return;
  }
  if (!iq) {
    c->pep.step = PEP_IDLE;  /* published again at the next login */
    return;
  }
  publish_answer(c, iq, ok);
}

static void pep_run(struct xmpp_client *c)
{
  if (!c->pep.fpr[0] || !xmpp__online(c))
    return;
  if (c->pep.step != PEP_IDLE) {
    c->pep.again = true;
    return;
  }
  c->pep.how[0] = '\0';
  c->pep.cfg_missing = false;
  step(c, c->pep.no_options ? PEP_CONFIGURE : PEP_OPTS);
}

int xmpp_pep_publish(struct xmpp_client *c, const char *fingerprint)
{
  if (!fingerprint || !*fingerprint || !xmpp__text_ok(fingerprint, XMPP_FPR_MAX) ||
      strpbrk(fingerprint, "\t\r\n"))
    return fingerprint && strlen(fingerprint) > XMPP_FPR_MAX ? IPOP_ETOOBIG : IPOP_EINVAL;
  snprintf(c->pep.fpr, sizeof(c->pep.fpr), "%s", fingerprint);
  pep_run(c);
  return 0;
}

static void pep_offline(struct xmpp_client *c)
{
  c->pep.step = PEP_IDLE;
  c->pep.again = false;
}

const struct xmpp_ext xmpp__pep_ext = {
  .name = "pep", .iq = pep_iq, .message = pep_message,
  .presence_children = pep_presence_children, .online = pep_run,
  .offline = pep_offline, .caps_changed = pep_run,
};
