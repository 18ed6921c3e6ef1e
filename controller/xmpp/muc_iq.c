/* XMPP client, groups: requests and their answers.  The table of iqs we
 * wait for (answers are matched by id AND sender, so nobody else can answer
 * for the room or the server), MUC service discovery (XEP-0030), room
 * information, owner actions (muc#admin affiliations, mediated
 * invitations), and the validation helpers muc.c and block.c share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "muc_internal.h"

#define M "xmpp"

/* ------------------------------------------------------------ helpers */

struct conn *xmpp__online(struct xmpp_client *c)
{
  struct conn *k = c->conn;
  return k && !k->dead && k->phase == P_ONLINE ? k : NULL;
}

static bool jid_chars_ok(const char *jid)
{
  if (!jid || !*jid || strlen(jid) >= XMPP_JID_MAX)
    return false;
  for (const unsigned char *p = (const unsigned char *)jid; *p; p++)
    if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '\'' || *p == '<' ||
        *p == '>' || *p == '&')
      return false;
  return true;
}

bool xmpp__jid_ok(const char *jid)
{
  if (!jid_chars_ok(jid))
    return false;
  const char *slash = strchr(jid, '/');
  size_t barelen = slash ? (size_t)(slash - jid) : strlen(jid);
  const char *at = memchr(jid, '@', barelen);
  if (barelen == 0 || (at && (at == jid || at + 1 == jid + barelen)))
    return false;
  if (at && memchr(at + 1, '@', (size_t)(jid + barelen - at - 1)))
    return false;
  return !slash || slash[1];
}

bool xmpp__jid_is_bare(const char *jid)
{
  return xmpp__jid_ok(jid) && strchr(jid, '@') && !strchr(jid, '/');
}

bool xmpp__jid_is_full(const char *jid)
{
  const char *slash = jid ? strchr(jid, '/') : NULL;
  return xmpp__jid_ok(jid) && slash && memchr(jid, '@', (size_t)(slash - jid));
}

bool xmpp__text_ok(const char *s, size_t max)
{
  if (!s)
    return true;
  size_t n = strlen(s);
  if (n > max)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if ((ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') || ch == 0x7f)
      return false;
  }
  return true;
}

void xmpp__muc_drop(struct xmpp_client *c, const char *what, const char *from)
{
  c->counters.muc_dropped++;
  ipop_log_rl(&c->rl_muc, IPOP_LOG_WARN, M, "ignored %s from %s", what,
              from && strlen(from) < 300 ? from : "(none or too long)");
}

void xmpp__report(struct xmpp_client *c, enum xmpp_op op, const char *room,
                  const char *jid, int err, const char *cond, const char *text)
{
  if (err && text)
    LOG_WARN(M, "%s failed: %s", xmpp_op_name(op), text);
  else if (err)
    LOG_WARN(M, "%s%s%s failed: %s%s%s", xmpp_op_name(op), room ? " " : "",
             room ? room : "", ipop_strerror(err), cond ? ": " : "",
             cond ? cond : "");
  if (!c->cbs.on_result)
    return;
  struct xmpp_result r = { .op = op, .room = room, .jid = jid, .error = err,
                           .condition = cond, .text = text };
  c->cbs.on_result(c, &r, c->ctx);
}

const char *xmpp__stanza_error(const struct xmpp_stanza *st, char *text,
                               size_t textlen)
{
  const struct xmpp_stanza *e = xmpp_stanza_child(st, "error", NULL);
  const char *cond = "undefined-condition";
  if (text && textlen)
    text[0] = '\0';
  for (const struct xmpp_stanza *x = e ? e->children : NULL; x; x = x->next) {
    if (strcmp(x->ns, NS_STANZAS) != 0)
      continue;
    if (strcmp(x->name, "text") == 0) {
      if (text && x->text && xmpp__text_ok(x->text, 512))
        snprintf(text, textlen, "%s", x->text);
    } else if (strlen(x->name) < 64) {
      cond = x->name;
    }
  }
  return cond;
}

const char *xmpp__form_value(const struct xmpp_stanza *x, const char *var,
                             size_t *len)
{
  for (const struct xmpp_stanza *f = x ? x->children : NULL; f; f = f->next) {
    const char *v = xmpp_stanza_attr(f, "var");
    if (strcmp(f->name, "field") != 0 || !v || strcmp(v, var) != 0)
      continue;
    const struct xmpp_stanza *val = xmpp_stanza_child(f, "value", NULL);
    if (len)
      *len = val ? val->text_len : 0;
    return val ? (val->text ? val->text : "") : NULL;
  }
  return NULL;
}

/* --------------------------------------------------------- pending iqs */

static void pending_free(struct iq_pending *p)
{
  free(p->to);
  free(p->room);
  free(p->jid);
}

static char *dup_or_null(const char *s, bool *oom)
{
  if (!s)
    return NULL;
  char *d = strdup(s);
  if (!d)
    *oom = true;
  return d;
}

int xmpp__iq_send(struct xmpp_client *c, enum iq_kind kind, const char *type,
                  const char *to, const char *room, const char *jid, int aff,
                  const char *payload)
{
  struct conn *k = xmpp__online(c);
  if (!k)
    return IPOP_ESTATE;
  if (c->npending >= IQ_PENDING_MAX)
    return IPOP_EBUSY;
  struct iq_pending *n = realloc(c->pending, (c->npending + 1) * sizeof(*n));
  if (!n)
    return IPOP_ENOMEM;
  c->pending = n;
  struct iq_pending *p = &n[c->npending];
  memset(p, 0, sizeof(*p));
  bool oom = false;
  p->kind = kind;
  p->aff = aff;
  p->to = dup_or_null(to, &oom);
  p->room = dup_or_null(room, &oom);
  p->jid = dup_or_null(jid, &oom);
  snprintf(p->id, sizeof(p->id), "ipop%u", ++c->iq_seq);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_printf(&b, "<iq type='%s' id='%s'", type, p->id);
  if (to) {
    sbuf_adds(&b, " to='");
    sbuf_escs(&b, to);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, ">");
  sbuf_adds(&b, payload);
  sbuf_adds(&b, "</iq>");
  if (oom || b.oom) {
    pending_free(p);
    sbuf_free(&b);
    return IPOP_ENOMEM;
  }
  c->npending++;
  xmpp__send_sbuf(k, &b);
  return 0;
}

/* Is from an acceptable sender of the answer to p?  An iq to our own
 * account is answered without 'from' or from our bare JID (or domain, as
 * some servers do); anything else by the entity we asked. */
static bool reply_from_ok(struct xmpp_client *c, const struct iq_pending *p,
                          const char *from)
{
  if (p->to)
    return from && strcasecmp(from, p->to) == 0;
  if (!from)
    return true;
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  return strcasecmp(from, own) == 0 || strcasecmp(from, c->domain) == 0 ||
         strcasecmp(from, c->full_jid) == 0;
}

static void discovery_next(struct xmpp_client *c);
static void iq_answer(struct xmpp_client *c, struct iq_pending *p,
                      const struct xmpp_stanza *iq, bool ok);

bool xmpp__iq_reply(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *id = xmpp_stanza_attr(iq, "id");
  const char *type = xmpp_stanza_attr(iq, "type");
  for (size_t i = 0; id && i < c->npending; i++) {
    if (strcmp(c->pending[i].id, id) != 0)
      continue;
    if (!reply_from_ok(c, &c->pending[i], xmpp_stanza_attr(iq, "from"))) {
      xmpp__muc_drop(c, "iq answer from the wrong entity",
                     xmpp_stanza_attr(iq, "from"));
      return true;
    }
    struct iq_pending p = c->pending[i];
    memmove(&c->pending[i], &c->pending[i + 1],
            (c->npending - i - 1) * sizeof(*c->pending));
    c->npending--;
    iq_answer(c, &p, iq, strcmp(type, "result") == 0);
    pending_free(&p);
    return true;
  }
  return false;
}

/* Fail every request still waiting (the connection is gone). */
static void pending_fail_all(struct xmpp_client *c)
{
  while (c->npending) {
    struct iq_pending p = c->pending[0];
    memmove(&c->pending[0], &c->pending[1],
            (c->npending - 1) * sizeof(*c->pending));
    c->npending--;
    enum xmpp_op op = 0;
    switch (p.kind) {
    case IQ_ROOM_INFO: op = XMPP_OP_ROOM_INFO; break;
    case IQ_AFFIL: op = XMPP_OP_AFFILIATION; break;
    case IQ_MEMBERS: op = XMPP_OP_MEMBERS; break;
    case IQ_BLOCK: op = XMPP_OP_BLOCK; break;
    case IQ_UNBLOCK: op = XMPP_OP_UNBLOCK; break;
    default: break;  /* discovery, config, blocklist: handled elsewhere */
    }
    if (op)
      xmpp__report(c, op, p.room, p.jid, IPOP_EIO, NULL,
                   "connection to the server lost before the answer");
    pending_free(&p);
  }
  free(c->pending);
  c->pending = NULL;
}

/* ----------------------------------------------------------- discovery */

static void disco_clear(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->ndisco; i++)
    free(c->disco_items[i]);
  free(c->disco_items);
  c->disco_items = NULL;
  c->ndisco = c->disco_next = 0;
}

static void discovery_end(struct xmpp_client *c, int err, const char *text)
{
  disco_clear(c);
  c->disco_running = false;
  if (!err)
    LOG_INFO(M, "MUC service: %s", c->muc_service);
  xmpp__report(c, XMPP_OP_DISCOVER, NULL, NULL, err, NULL,
               err ? text : c->muc_service);
}

static void discovery_next(struct xmpp_client *c)
{
  while (c->disco_next < c->ndisco) {
    const char *to = c->disco_items[c->disco_next++];
    if (xmpp__iq_send(c, IQ_DISCO_INFO, "get", to, NULL, NULL, 0,
                      "<query xmlns='" NS_DISCO_INFO "'/>") == 0)
      return;
  }
  char text[400];
  snprintf(text, sizeof(text), "no multi-user chat service found on %s "
           "(set Groups.Service)", c->domain);
  discovery_end(c, IPOP_ENOTSUP, text);
}

static void disco_items_answer(struct xmpp_client *c,
                               const struct xmpp_stanza *iq, bool ok)
{
  const struct xmpp_stanza *q = ok ? xmpp_stanza_child(iq, "query",
                                                       NS_DISCO_ITEMS) : NULL;
  disco_clear(c);
  size_t n = 0;
  for (const struct xmpp_stanza *it = q ? q->children : NULL; it; it = it->next)
    if (strcmp(it->name, "item") == 0 && xmpp__jid_ok(xmpp_stanza_attr(it, "jid")))
      n++;
  if (n > DISCO_ITEMS_MAX)
    n = DISCO_ITEMS_MAX;
  c->disco_items = n ? calloc(n, sizeof(char *)) : NULL;
  for (const struct xmpp_stanza *it = q ? q->children : NULL;
       it && c->disco_items && c->ndisco < n; it = it->next) {
    const char *jid = xmpp_stanza_attr(it, "jid");
    if (strcmp(it->name, "item") != 0 || !xmpp__jid_ok(jid))
      continue;
    char *d = strdup(jid);
    if (d)
      c->disco_items[c->ndisco++] = d;
  }
  discovery_next(c);
}

static void disco_info_answer(struct xmpp_client *c, const struct iq_pending *p,
                              const struct xmpp_stanza *iq, bool ok)
{
  const struct xmpp_stanza *q = ok ? xmpp_stanza_child(iq, "query",
                                                       NS_DISCO_INFO) : NULL;
  for (const struct xmpp_stanza *id = q ? q->children : NULL; id; id = id->next) {
    const char *cat = xmpp_stanza_attr(id, "category");
    const char *type = xmpp_stanza_attr(id, "type");
    if (strcmp(id->name, "identity") == 0 && cat && type &&
        strcmp(cat, "conference") == 0 && strcmp(type, "text") == 0 &&
        strlen(p->to) < sizeof(c->muc_service)) {
      snprintf(c->muc_service, sizeof(c->muc_service), "%s", p->to);
      discovery_end(c, 0, NULL);
      return;
    }
  }
  discovery_next(c);
}

int xmpp_muc_set_service(struct xmpp_client *c, const char *service)
{
  if (!service || !*service) {
    c->muc_service[0] = '\0';
    c->muc_service_set = false;
    return 0;
  }
  if (!xmpp__jid_ok(service) || strchr(service, '/') ||
      strlen(service) >= sizeof(c->muc_service))
    return IPOP_EINVAL;
  snprintf(c->muc_service, sizeof(c->muc_service), "%s", service);
  c->muc_service_set = true;
  return 0;
}

const char *xmpp_muc_service(const struct xmpp_client *c)
{
  return c->muc_service;
}

int xmpp_muc_discover(struct xmpp_client *c)
{
  if (!xmpp__online(c))
    return IPOP_ESTATE;
  if (c->disco_running)
    return 0;  /* the running discovery reports */
  if (c->muc_service[0]) {
    xmpp__report(c, XMPP_OP_DISCOVER, NULL, NULL, 0, NULL, c->muc_service);
    return 0;
  }
  int r = xmpp__iq_send(c, IQ_DISCO_ITEMS, "get", c->domain, NULL, NULL, 0,
                        "<query xmlns='" NS_DISCO_ITEMS "'/>");
  if (r == 0)
    c->disco_running = true;
  return r;
}

/* ----------------------------------------------------------- room info */

static bool has_feature(const struct xmpp_stanza *q, const char *var)
{
  for (const struct xmpp_stanza *f = q->children; f; f = f->next) {
    const char *v = xmpp_stanza_attr(f, "var");
    if (strcmp(f->name, "feature") == 0 && v && strcmp(v, var) == 0)
      return true;
  }
  return false;
}

static void room_info_answer(struct xmpp_client *c, const struct iq_pending *p,
                             const struct xmpp_stanza *iq, bool ok)
{
  char text[600];
  if (!ok) {
    const char *cond = xmpp__stanza_error(iq, text, sizeof(text));
    char t2[1200];
    snprintf(t2, sizeof(t2), "cannot read the settings of room %s: %s%s%s",
             p->room, cond, text[0] ? ": " : "", text);
    xmpp__report(c, XMPP_OP_ROOM_INFO, p->room, NULL, IPOP_EPERM, cond, t2);
    return;
  }
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query", NS_DISCO_INFO);
  if (!q) {
    xmpp__muc_drop(c, "room information without a query", p->room);
    xmpp__report(c, XMPP_OP_ROOM_INFO, p->room, NULL, IPOP_EPARSE, NULL,
                 "room information without disco#info query");
    return;
  }
  struct xmpp_muc_room_info info = {
    .room = p->room, .name = "", .description = "",
    .members_only = has_feature(q, "muc_membersonly"),
    .persistent = has_feature(q, "muc_persistent"),
    .non_anonymous = has_feature(q, "muc_nonanonymous"),
    .hidden = has_feature(q, "muc_hidden"),
    .password_protected = has_feature(q, "muc_passwordprotected"),
  };
  const struct xmpp_stanza *id = xmpp_stanza_child(q, "identity", NULL);
  const char *nm = id ? xmpp_stanza_attr(id, "name") : NULL;
  if (nm && xmpp__text_ok(nm, XMPP_MUC_NAME_MAX))
    info.name = nm;
  for (const struct xmpp_stanza *x = q->children; x; x = x->next) {
    if (strcmp(x->name, "x") != 0 || strcmp(x->ns, NS_XDATA) != 0)
      continue;
    const char *ft = xmpp__form_value(x, "FORM_TYPE", NULL);
    if (!ft || strcmp(ft, "http://jabber.org/protocol/muc#roominfo") != 0)
      continue;
    size_t len = 0;
    const char *d = xmpp__form_value(x, "muc#roominfo_description", &len);
    if (d && (len > XMPP_MUC_DESC_MAX || !xmpp__text_ok(d, XMPP_MUC_DESC_MAX))) {
      xmpp__muc_drop(c, "oversized or binary room description", p->room);
      xmpp__report(c, XMPP_OP_ROOM_INFO, p->room, NULL, IPOP_ETOOBIG, NULL,
                   "room description too long or not text");
      return;
    }
    if (d)
      info.description = d;
  }
  if (c->cbs.on_muc_room_info)
    c->cbs.on_muc_room_info(c, &info, c->ctx);
}

static int room_arg(struct xmpp_client *c, const char *room)
{
  if (!xmpp__jid_is_bare(room))
    return IPOP_EINVAL;
  return xmpp__online(c) ? 0 : IPOP_ESTATE;
}

int xmpp_muc_room_info(struct xmpp_client *c, const char *room)
{
  int r = room_arg(c, room);
  return r ? r : xmpp__iq_send(c, IQ_ROOM_INFO, "get", room, room, NULL, 0,
                               "<query xmlns='" NS_DISCO_INFO "'/>");
}

/* ------------------------------------------------------- owner actions */

static enum xmpp_muc_affiliation aff_parse(const char *s)
{
  static const char *const n[] = { "none", "outcast", "member", "admin",
                                   "owner" };
  for (int i = 0; s && i < 5; i++)
    if (strcmp(s, n[i]) == 0)
      return (enum xmpp_muc_affiliation)i;
  return XMPP_AFF_NONE;
}

int xmpp_muc_set_affiliation(struct xmpp_client *c, const char *room,
                             const char *jid, enum xmpp_muc_affiliation aff,
                             const char *reason)
{
  int r = room_arg(c, room);
  if (r)
    return r;
  if (!xmpp__jid_ok(jid) || strchr(jid, '/') || (unsigned)aff > XMPP_AFF_OWNER)
    return IPOP_EINVAL;
  if (!xmpp__text_ok(reason, XMPP_MUC_REASON_MAX))
    return IPOP_ETOOBIG;
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<query xmlns='" XMPP_NS_MUC_ADMIN "'><item affiliation='");
  sbuf_adds(&b, xmpp_muc_affiliation_name(aff));
  sbuf_adds(&b, "' jid='");
  sbuf_escs(&b, jid);
  sbuf_adds(&b, "'>");
  if (reason && *reason) {
    sbuf_adds(&b, "<reason>");
    sbuf_escs(&b, reason);
    sbuf_adds(&b, "</reason>");
  }
  sbuf_adds(&b, "</item></query>");
  r = b.oom ? IPOP_ENOMEM
            : xmpp__iq_send(c, IQ_AFFIL, "set", room, room, jid, (int)aff, b.data);
  sbuf_free(&b);
  return r;
}

int xmpp_muc_get_affiliations(struct xmpp_client *c, const char *room,
                              enum xmpp_muc_affiliation aff)
{
  int r = room_arg(c, room);
  if (r)
    return r;
  if (aff == XMPP_AFF_NONE || (unsigned)aff > XMPP_AFF_OWNER)
    return IPOP_EINVAL;
  char q[200];
  snprintf(q, sizeof(q), "<query xmlns='" XMPP_NS_MUC_ADMIN "'><item "
           "affiliation='%s'/></query>", xmpp_muc_affiliation_name(aff));
  return xmpp__iq_send(c, IQ_MEMBERS, "get", room, room, NULL, (int)aff, q);
}

static void members_answer(struct xmpp_client *c, const struct iq_pending *p,
                           const struct xmpp_stanza *iq)
{
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query",
                                                  XMPP_NS_MUC_ADMIN);
  size_t n = 0;
  for (const struct xmpp_stanza *it = q ? q->children : NULL; it; it = it->next)
    n++;
  if (n > XMPP_MUC_MEMBERS_MAX)
    n = XMPP_MUC_MEMBERS_MAX;
  const char **jids = calloc(n ? n : 1, sizeof(char *));
  if (!jids) {
    xmpp__report(c, XMPP_OP_MEMBERS, p->room, NULL, IPOP_ENOMEM, NULL, NULL);
    return;
  }
  struct xmpp_muc_members m = { .room = p->room,
                                .affiliation = (enum xmpp_muc_affiliation)p->aff,
                                .jids = jids };
  for (const struct xmpp_stanza *it = q ? q->children : NULL; it && m.n < n;
       it = it->next) {
    const char *jid = xmpp_stanza_attr(it, "jid");
    if (strcmp(it->name, "item") != 0 || !xmpp__jid_ok(jid) ||
        aff_parse(xmpp_stanza_attr(it, "affiliation")) != m.affiliation) {
      xmpp__muc_drop(c, "bad item in an affiliation list", p->room);
      continue;
    }
    jids[m.n++] = jid;
  }
  if (c->cbs.on_muc_members)
    c->cbs.on_muc_members(c, &m, c->ctx);
  free(jids);
}

void xmpp__node_seen(struct xmpp_client *c, const char *full, bool node)
{
  for (size_t i = 0; i < c->nnodes; i++) {
    if (strcasecmp(c->nodes[i], full) != 0)
      continue;
    if (!node) {
      free(c->nodes[i]);
      c->nodes[i] = c->nodes[--c->nnodes];
    }
    return;
  }
  if (!node || c->nnodes >= XMPP_ROSTER_MAX)
    return;
  char **n = realloc(c->nodes, (c->nnodes + 1) * sizeof(*n));
  if (!n)
    return;
  c->nodes = n;
  if ((n[c->nnodes] = strdup(full)))
    c->nnodes++;
}

static void nodes_clear(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nnodes; i++)
    free(c->nodes[i]);
  free(c->nodes);
  c->nodes = NULL;
  c->nnodes = 0;
}

/* Mediated (through the room) or direct (XEP-0249, from us) invitation. */
static void invite_one(struct conn *k, const char *room, const char *to,
                       const char *reason, bool direct)
{
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<message to='");
  sbuf_escs(&b, direct ? to : room);
  if (direct) {
    sbuf_adds(&b, "'><x xmlns='" NS_CONFERENCE "' jid='");
    sbuf_escs(&b, room);
    sbuf_adds(&b, "'");
    if (reason && *reason) {
      sbuf_adds(&b, " reason='");
      sbuf_escs(&b, reason);
      sbuf_adds(&b, "'");
    }
    sbuf_adds(&b, "/></message>");
    xmpp__send_sbuf(k, &b);
    return;
  }
  sbuf_adds(&b, "'><x xmlns='" XMPP_NS_MUC_USER "'><invite to='");
  sbuf_escs(&b, to);
  sbuf_adds(&b, "'>");
  if (reason && *reason) {
    sbuf_adds(&b, "<reason>");
    sbuf_escs(&b, reason);
    sbuf_adds(&b, "</reason>");
  }
  sbuf_adds(&b, "</invite></x></message>");
  xmpp__send_sbuf(k, &b);
}

/* A node never gets messages sent to a bare JID (its priority is -1), so
 * a bare JID is invited twice over: a direct invitation to each of its
 * IPOP nodes we see online, and a mediated one (through the room) to the
 * bare JID for the person's chat clients.  Direct, because a mediated
 * invitation to a full JID makes some servers (ejabberd) grant that full
 * JID its own membership, which revoking the bare JID's would not undo. */
int xmpp_muc_invite(struct xmpp_client *c, const char *room, const char *jid,
                    const char *reason)
{
  int r = room_arg(c, room);
  if (r)
    return r;
  if (!xmpp__jid_ok(jid) || !strchr(jid, '@'))
    return IPOP_EINVAL;
  if (!xmpp__text_ok(reason, XMPP_MUC_REASON_MAX))
    return IPOP_ETOOBIG;
  struct conn *k = xmpp__online(c);
  size_t sent = 0;
  if (strchr(jid, '/')) {
    invite_one(k, room, jid, reason, true);
    sent++;
  } else {
    for (size_t i = 0; i < c->nnodes; i++)
      if (xmpp__jid_bare_eq(c->nodes[i], jid)) {
        invite_one(k, room, c->nodes[i], reason, true);
        sent++;
      }
    invite_one(k, room, jid, reason, false);
  }
  LOG_INFO(M, "invited %s to %s (%zu node%s directly)", jid, room, sent,
           sent == 1 ? "" : "s");
  return 0;
}

/* ------------------------------------------------------------ dispatch */

static void iq_answer(struct xmpp_client *c, struct iq_pending *p,
                      const struct xmpp_stanza *iq, bool ok)
{
  char text[600], t2[1400];
  const char *cond;
  struct muc_room *r;
  switch (p->kind) {
  case IQ_DISCO_ITEMS:
    if (!ok) {
      cond = xmpp__stanza_error(iq, text, sizeof(text));
      snprintf(t2, sizeof(t2), "service discovery on %s failed: %s",
               c->domain, cond);
      discovery_end(c, IPOP_ENOTSUP, t2);
      return;
    }
    disco_items_answer(c, iq, ok);
    return;
  case IQ_DISCO_INFO:
    disco_info_answer(c, p, iq, ok);
    return;
  case IQ_CFG_GET:
  case IQ_CFG_SET:
    r = xmpp__room_find(c, p->room);
    if (!r || r->st != R_CONFIGURING)
      return;  /* left meanwhile */
    if (p->kind == IQ_CFG_GET)
      xmpp__room_cfg_form(c, r, iq, ok);
    else
      xmpp__room_cfg_done(c, r, iq, ok);
    return;
  case IQ_ROOM_INFO:
    room_info_answer(c, p, iq, ok);
    return;
  case IQ_AFFIL:
    if (ok) {
      LOG_INFO(M, "%s: %s is now %s", p->room, p->jid,
               xmpp_muc_affiliation_name((enum xmpp_muc_affiliation)p->aff));
      xmpp__report(c, XMPP_OP_AFFILIATION, p->room, p->jid, 0, NULL, NULL);
      return;
    }
    cond = xmpp__stanza_error(iq, text, sizeof(text));
    snprintf(t2, sizeof(t2), "cannot make %s %s of room %s: %s%s%s", p->jid,
             xmpp_muc_affiliation_name((enum xmpp_muc_affiliation)p->aff),
             p->room, cond, text[0] ? ": " : "", text);
    xmpp__report(c, XMPP_OP_AFFILIATION, p->room, p->jid,
                 strcmp(cond, "forbidden") == 0 || strcmp(cond, "not-allowed") == 0
                     ? IPOP_EPERM : IPOP_EIO, cond, t2);
    return;
  case IQ_MEMBERS:
    if (ok) {
      members_answer(c, p, iq);
      return;
    }
    cond = xmpp__stanza_error(iq, text, sizeof(text));
    snprintf(t2, sizeof(t2), "cannot list the %ss of room %s: %s",
             xmpp_muc_affiliation_name((enum xmpp_muc_affiliation)p->aff),
             p->room, cond);
    xmpp__report(c, XMPP_OP_MEMBERS, p->room, NULL, IPOP_EPERM, cond, t2);
    return;
  case IQ_BLOCKLIST:
  case IQ_BLOCK:
  case IQ_UNBLOCK:
    xmpp__block_result(c, p, iq, ok);
    return;
  }
}

/* ------------------------------------------------------------ lifetime */

void xmpp__muc_offline(struct xmpp_client *c)
{
  bool disco = c->disco_running;
  c->disco_running = false;
  disco_clear(c);
  if (!c->muc_service_set)
    c->muc_service[0] = '\0';  /* discovered again next session */
  pending_fail_all(c);
  nodes_clear(c);
  if (disco)
    xmpp__report(c, XMPP_OP_DISCOVER, NULL, NULL, IPOP_EIO, NULL,
                 "connection to the server lost during discovery");
  /* First every room waits for the next login (no callbacks), then the
   * ones being created or left are reported one by one: a callback may
   * add or remove rooms meanwhile. */
  for (size_t i = 0; i < c->nrooms; i++)
    if (!c->rooms[i]->create && c->rooms[i]->st != R_LEAVING)
      c->rooms[i]->st = R_WAIT;
  /* (a room being created keeps its state until reported below) */
  for (;;) {
    struct muc_room *r = NULL;
    for (size_t i = 0; i < c->nrooms && !r; i++)
      if ((c->rooms[i]->create && c->rooms[i]->st != R_WAIT) ||
          c->rooms[i]->st == R_LEAVING)
        r = c->rooms[i];  /* R_WAIT + create: asked for while offline */
    if (!r)
      break;
    if (r->create) {
      char text[1200];
      snprintf(text, sizeof(text), "connection to the server lost while "
               "creating room %s", r->jid);
      xmpp__room_create_failed(c, r, IPOP_EIO, NULL, text);
    } else {
      xmpp__room_gone(c, r, XMPP_MUC_SELF_LEFT, XMPP_MUC_LEFT, NULL, NULL);
    }
  }
}

void xmpp__muc_free(struct xmpp_client *c)
{
  disco_clear(c);
  nodes_clear(c);
  while (c->npending) {
    pending_free(&c->pending[--c->npending]);
  }
  free(c->pending);
  c->pending = NULL;
  while (c->nrooms)
    xmpp__room_forget(c, c->rooms[c->nrooms - 1]);
  xmpp__block_clear(c);
}
