/* XMPP client, groups: requests about rooms and their answers.  MUC
 * service discovery (XEP-0030), room information, owner actions (muc#admin
 * affiliations, member lists) and invitations.  Below muc.c: it never
 * calls into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "muc_internal.h"

#define M "xmpp"

const char *xmpp_muc_affiliation_name(enum xmpp_muc_affiliation a)
{
  static const char *const n[] = { "none", "outcast", "member", "admin",
                                   "owner" };
  return (unsigned)a < 5 ? n[a] : "none";
}

const char *xmpp_muc_role_name(enum xmpp_muc_role r)
{
  static const char *const n[] = { "none", "visitor", "participant",
                                   "moderator" };
  return (unsigned)r < 4 ? n[r] : "none";
}

const char *xmpp_muc_reason_name(enum xmpp_muc_reason r)
{
  static const char *const n[] = { "left", "affiliation", "banned", "kicked",
                                   "members_only", "shutdown", "destroyed" };
  return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "left";
}

/* ----------------------------------------------------------- discovery */

static void muc_iq_answer(struct xmpp_client *c, const struct iq_pending *p,
                          const struct xmpp_stanza *iq, bool ok);

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
    if (xmpp__iq_send(c, muc_iq_answer, IQ_DISCO_INFO, "get", to, NULL, NULL, 0,
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
  int r = xmpp__iq_send(c, muc_iq_answer, IQ_DISCO_ITEMS, "get", c->domain, NULL, NULL, 0,
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
    xmpp__drop(c, &c->counters.muc_dropped, "room information without a query", p->room);
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
      xmpp__drop(c, &c->counters.muc_dropped, "oversized or binary room description",
                 p->room);
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
  return r ? r : xmpp__iq_send(c, muc_iq_answer, IQ_ROOM_INFO, "get", room, room, NULL, 0,
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
            : xmpp__iq_send(c, muc_iq_answer, IQ_AFFIL, "set", room, room, jid, (int)aff,
                            b.data);
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
  return xmpp__iq_send(c, muc_iq_answer, IQ_MEMBERS, "get", room, room, NULL, (int)aff, q);
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
      xmpp__drop(c, &c->counters.muc_dropped, "bad item in an affiliation list", p->room);
      continue;
    }
    jids[m.n++] = jid;
  }
  if (c->cbs.on_muc_members)
    c->cbs.on_muc_members(c, &m, c->ctx);
  free(jids);
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

/* A bare JID gets a mediated invitation, a full JID a direct one (not a
 * mediated one: ejabberd then grants that full JID a membership of its
 * own, which revoking the bare JID's would not undo). */
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
  bool direct = strchr(jid, '/') != NULL;
  invite_one(xmpp__online(c), room, jid, reason, direct);
  LOG_INFO(M, "invited %s to %s (%s)", jid, room, direct ? "direct" : "through the room");
  return 0;
}

/* ------------------------------------------------------------ dispatch */

/* Every answer to the requests above.  iq NULL: the connection was lost;
 * discovery reports that itself (xmpp__muc_disco_reset). */
static void muc_iq_answer(struct xmpp_client *c, const struct iq_pending *p,
                          const struct xmpp_stanza *iq, bool ok)
{
  char text[600], t2[1400];
  const char *cond;
  if (!iq) {
    enum xmpp_op op = p->kind == IQ_ROOM_INFO ? XMPP_OP_ROOM_INFO
                      : p->kind == IQ_AFFIL   ? XMPP_OP_AFFILIATION
                      : p->kind == IQ_MEMBERS ? XMPP_OP_MEMBERS
                                              : 0;
    if (op)
      xmpp__report(c, op, p->room, p->jid, IPOP_EIO, NULL,
                   "connection to the server lost before the answer");
    return;
  }
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
  }
}

/* ------------------------------------------------------------ lifetime */

bool xmpp__muc_disco_reset(struct xmpp_client *c)
{
  bool running = c->disco_running;
  c->disco_running = false;
  disco_clear(c);
  return running;
}
