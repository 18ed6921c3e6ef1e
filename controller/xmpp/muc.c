/* XMPP client, groups: the rooms we are in (XEP-0045), an extension.
 * Joining, creating and configuring a room, leaving it, the room presence
 * of us and of the other occupants, and invitations.  Room presence is
 * believed only from the JID of a room we are in or joining; everything in
 * it is checked before a callback sees it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "muc_internal.h"

#define M "xmpp"

static int parse_enum(const char *s, const char *const *names, int n)
{
  for (int i = 0; s && i < n; i++)
    if (strcmp(s, names[i]) == 0)
      return i;
  return 0;
}

static enum xmpp_muc_affiliation aff_of(const char *s)
{
  static const char *const n[] = { "none", "outcast", "member", "admin",
                                   "owner" };
  return (enum xmpp_muc_affiliation)parse_enum(s, n, 5);
}

static enum xmpp_muc_role role_of(const char *s)
{
  static const char *const n[] = { "none", "visitor", "participant",
                                   "moderator" };
  return (enum xmpp_muc_role)parse_enum(s, n, 4);
}

/* --------------------------------------------------------- room table */

static struct muc_room *room_find(struct xmpp_client *c, const char *jid)
{
  for (size_t i = 0; jid && i < c->nrooms; i++)
    if (xmpp__jid_bare_eq(c->rooms[i]->jid, jid))
      return c->rooms[i];
  return NULL;
}

static void room_forget(struct xmpp_client *c, struct muc_room *r)
{
  for (size_t i = 0; i < c->nrooms; i++) {
    if (c->rooms[i] != r)
      continue;
    memmove(&c->rooms[i], &c->rooms[i + 1],
            (c->nrooms - i - 1) * sizeof(c->rooms[0]));
    c->nrooms--;
    break;
  }
  free(r->name);
  free(r->desc);
  free(r);
}

/* Forget r and report on_muc_self with state (LEFT/FAILED). */
static void room_gone(struct xmpp_client *c, struct muc_room *r,
                      enum xmpp_muc_self_state state,
                      enum xmpp_muc_reason reason, const char *cond,
                      const char *text)
{
  char jid[sizeof(r->jid)], nick[sizeof(r->nick)];
  snprintf(jid, sizeof(jid), "%s", r->jid);
  snprintf(nick, sizeof(nick), "%s", r->nick);
  struct xmpp_muc_self ev = { .room = jid, .nick = nick, .state = state,
                              .affiliation = r->aff, .reason = reason,
                              .condition = cond, .text = text };
  room_forget(c, r);
  if (state == XMPP_MUC_SELF_LEFT)
    LOG_INFO(M, "left room %s (%s)", jid, xmpp_muc_reason_name(reason));
  if (c->cbs.on_muc_self)
    c->cbs.on_muc_self(c, &ev, c->ctx);
}

static void send_room_presence_x(struct xmpp_client *c, struct muc_room *r,
                                 bool available, bool join);

static void send_room_presence(struct xmpp_client *c, struct muc_room *r,
                               bool available)
{
  send_room_presence_x(c, r, available, true);
}

/* Our caps changed: tell the rooms we are in (a presence update carries
 * no <x xmlns=muc/>, which would be a new join). */
static void muc_caps_changed(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nrooms; i++)
    if (c->rooms[i]->st == R_JOINED)
      send_room_presence_x(c, c->rooms[i], true, false);
}

static void send_room_presence_x(struct xmpp_client *c, struct muc_room *r,
                                 bool available, bool join)
{
  struct conn *k = xmpp__online(c);
  if (!k)
    return;
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<presence to='");
  sbuf_escs(&b, r->jid);
  sbuf_adds(&b, "/");
  sbuf_escs(&b, r->nick);
  if (!available) {
    sbuf_adds(&b, "' type='unavailable'/>");
    xmpp__send_sbuf(k, &b);
    return;
  }
  /* No history: the room is for finding peers, not for chat. */
  sbuf_adds(&b, join ? "'><x xmlns='" XMPP_NS_MUC "'><history maxstanzas='0'/>"
                       "</x><node xmlns='" XMPP_NS_NODE "' id='"
                     : "'><node xmlns='" XMPP_NS_NODE "' id='");
  sbuf_escs(&b, c->node_id);
  sbuf_adds(&b, "'");
  if (c->caps[0]) {
    sbuf_adds(&b, " caps='");
    sbuf_escs(&b, c->caps);
    sbuf_adds(&b, "'");
  }
  sbuf_adds(&b, "/></presence>");
  xmpp__send_sbuf(k, &b);
}

static void send_join(struct xmpp_client *c, struct muc_room *r)
{
  if (!xmpp__online(c))
    return;
  r->st = R_JOINING;
  LOG_INFO(M, "%s room %s as %s", r->create ? "creating" : "joining", r->jid,
           r->nick);
  send_room_presence(c, r, true);
}

/* Destroy a room we own (one we created by mistake or could not
 * configure); the answer is not needed. */
static void send_destroy(struct xmpp_client *c, const char *room,
                         const char *why)
{
  struct conn *k = xmpp__online(c);
  if (!k)
    return;
  struct sbuf b;
  sbuf_init(&b);
  sbuf_printf(&b, "<iq type='set' id='ipopd%u' to='", ++c->iq_seq);
  sbuf_escs(&b, room);
  sbuf_adds(&b, "'><query xmlns='" XMPP_NS_MUC_OWNER "'><destroy><reason>");
  sbuf_escs(&b, why);
  sbuf_adds(&b, "</reason></destroy></query></iq>");
  xmpp__send_sbuf(k, &b);
}

/* Report failure of room creation (CREATE result), leave and forget. */
static void room_create_failed(struct xmpp_client *c, struct muc_room *r,
                               int err, const char *cond, const char *text)
{
  char jid[sizeof(r->jid)];
  snprintf(jid, sizeof(jid), "%s", r->jid);
  if (r->st == R_CONFIGURING)
    send_destroy(c, jid, "configuration failed");
  else if (r->st == R_JOINED || r->st == R_JOINING)
    send_room_presence(c, r, false);
  room_forget(c, r);
  xmpp__report(c, XMPP_OP_CREATE, jid, NULL, err, cond, text);
}

int xmpp_muc_default_nick(const struct xmpp_client *c, char *buf, size_t len)
{
  int n = snprintf(buf, len, "%s-%.8s", c->local, c->node_id);
  return n < 0 || (size_t)n >= len || (size_t)n > XMPP_MUC_NICK_MAX
             ? IPOP_ETOOBIG : 0;
}

static int room_add(struct xmpp_client *c, const char *room, const char *nick,
                    struct muc_room **out)
{
  if (!xmpp__jid_is_bare(room) || strlen(room) >= sizeof((*out)->jid))
    return IPOP_EINVAL;
  if (nick && (!*nick || !xmpp__text_ok(nick, XMPP_MUC_NICK_MAX) ||
               strpbrk(nick, "\t\r\n")))
    return IPOP_EINVAL;
  if (c->nrooms >= XMPP_MUC_ROOMS_MAX)
    return IPOP_EBUSY;
  struct muc_room *r = calloc(1, sizeof(*r));
  if (!r)
    return IPOP_ENOMEM;
  snprintf(r->jid, sizeof(r->jid), "%s", room);
  if (nick)
    snprintf(r->nick, sizeof(r->nick), "%s", nick);
  else if (xmpp_muc_default_nick(c, r->nick, sizeof(r->nick)) != 0) {
    free(r);
    return IPOP_ETOOBIG;
  }
  c->rooms[c->nrooms++] = r;
  *out = r;
  return 0;
}

int xmpp_muc_join(struct xmpp_client *c, const char *room, const char *nick)
{
  if (!xmpp__jid_is_bare(room))
    return IPOP_EINVAL;
  struct muc_room *r = room_find(c, room);
  if (r) {
    if (r->st == R_LEAVING)
      send_join(c, r);  /* changed our mind: available again */
    return 0;
  }
  int e = room_add(c, room, nick, &r);
  if (e)
    return e;
  send_join(c, r);
  return 0;
}

int xmpp_muc_create(struct xmpp_client *c, const char *room, const char *nick,
                    const char *name, const char *description)
{
  if (!xmpp__jid_is_bare(room))
    return IPOP_EINVAL;
  if (!xmpp__text_ok(name, XMPP_MUC_NAME_MAX) ||
      !xmpp__text_ok(description, XMPP_MUC_DESC_MAX))
    return IPOP_ETOOBIG;
  struct muc_room *r = room_find(c, room);
  if (r && r->st == R_JOINED && !r->create) {
    if (r->aff == XMPP_AFF_OWNER) {
      xmpp__report(c, XMPP_OP_CREATE, r->jid, NULL, 0, NULL, NULL);
      return 0;
    }
    char text[1200];
    snprintf(text, sizeof(text), "room %s already exists and is owned by "
             "someone else (we are %s)", r->jid,
             xmpp_muc_affiliation_name(r->aff));
    xmpp__report(c, XMPP_OP_CREATE, r->jid, NULL, IPOP_EEXIST, NULL, text);
    return 0;
  }
  if (r && r->create)
    return 0;  /* already being created */
  bool fresh = !r;
  if (fresh) {
    int e = room_add(c, room, nick, &r);
    if (e)
      return e;
  }
  free(r->name);
  free(r->desc);
  r->name = strdup(name ? name : "");
  r->desc = strdup(description ? description : "");
  if (!r->name || !r->desc) {
    if (fresh)
      room_forget(c, r);
    return IPOP_ENOMEM;
  }
  r->create = true;
  if (fresh || r->st == R_LEAVING)
    send_join(c, r);
  return 0;
}

int xmpp_muc_leave(struct xmpp_client *c, const char *room)
{
  struct muc_room *r = room ? room_find(c, room) : NULL;
  if (!r)
    return IPOP_ENOENT;
  if (r->create) {
    char text[1200];
    snprintf(text, sizeof(text), "creation of room %s cancelled (left)",
             r->jid);
    xmpp__report(c, XMPP_OP_CREATE, r->jid, NULL, IPOP_ESTATE, NULL, text);
    r->create = false;
  }
  if (!xmpp__online(c) || r->st == R_WAIT) {
    room_gone(c, r, XMPP_MUC_SELF_LEFT, XMPP_MUC_LEFT, NULL, NULL);
    return 0;
  }
  if (r->st != R_LEAVING)
    send_room_presence(c, r, false);
  r->st = R_LEAVING;
  return 0;
}

bool xmpp_muc_joined(const struct xmpp_client *c, const char *room)
{
  struct muc_room *r = room_find((struct xmpp_client *)c, room);
  return r && r->st == R_JOINED;
}

/* ------------------------------------------------- room configuration */

struct cfg_value {
  const char *var;
  const char *value;          /* NULL: name or description */
  bool required;
};

/* What a group room must be (XEP-0045 10.2 / 15.5.3 field names, which
 * ejabberd and Prosody both use). */
static const struct cfg_value cfg_values[] = {
  { "muc#roomconfig_persistentroom", "1", true },
  { "muc#roomconfig_membersonly", "1", true },
  { "muc#roomconfig_whois", "anyone", true },
  { "muc#roomconfig_publicroom", "0", false },
  { "muc#roomconfig_passwordprotectedroom", "0", false },
  { "muc#roomconfig_roomsecret", "", false },
  { "muc#roomconfig_allowinvites", "0", false },
  /* ejabberd remembers the roles of a moderated room's past occupants and
   * lets a removed member (affiliation none) back in with the old role. */
  { "muc#roomconfig_moderatedroom", "0", false },
  { "muc#roomconfig_roomname", NULL, false },
  { "muc#roomconfig_roomdesc", NULL, false },
};

static void cfg_answer(struct xmpp_client *c, const struct iq_pending *p,
                       const struct xmpp_stanza *iq, bool ok);

static void room_cfg_form(struct xmpp_client *c, struct muc_room *r,
                          const struct xmpp_stanza *iq, bool ok)
{
  char text[600], t2[1400];
  if (!ok) {
    const char *cond = xmpp__stanza_error(iq, text, sizeof(text));
    snprintf(t2, sizeof(t2), "the server does not let us configure new room "
             "%s: %s", r->jid, cond);
    room_create_failed(c, r, IPOP_EPERM, cond, t2);
    return;
  }
  const struct xmpp_stanza *q = xmpp_stanza_child(iq, "query",
                                                  XMPP_NS_MUC_OWNER);
  const struct xmpp_stanza *x = xmpp_stanza_child(q, "x", NS_XDATA);
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<query xmlns='" XMPP_NS_MUC_OWNER "'><x xmlns='" NS_XDATA
                "' type='submit'><field var='FORM_TYPE'><value>"
                "http://jabber.org/protocol/muc#roomconfig</value></field>");
  const char *missing = NULL;
  for (size_t i = 0; i < sizeof(cfg_values) / sizeof(cfg_values[0]); i++) {
    const struct cfg_value *v = &cfg_values[i];
    bool offered = false;
    for (const struct xmpp_stanza *f = x ? x->children : NULL; f && !offered;
         f = f->next) {
      const char *var = xmpp_stanza_attr(f, "var");
      offered = strcmp(f->name, "field") == 0 && var && strcmp(var, v->var) == 0;
    }
    if (!offered) {
      if (v->required && !missing)
        missing = v->var;
      continue;
    }
    const char *val = v->value ? v->value
                      : strcmp(v->var, "muc#roomconfig_roomname") == 0 ? r->name
                                                                      : r->desc;
    sbuf_adds(&b, "<field var='");
    sbuf_adds(&b, v->var);
    sbuf_adds(&b, "'><value>");
    sbuf_escs(&b, val ? val : "");
    sbuf_adds(&b, "</value></field>");
  }
  sbuf_adds(&b, "</x></query>");
  int e = b.oom ? IPOP_ENOMEM : 0;
  if (missing) {
    snprintf(t2, sizeof(t2), "the MUC service cannot make room %s what a "
             "group needs: its form has no %s", r->jid, missing);
    e = IPOP_ENOTSUP;
  } else if (!e) {
    e = xmpp__iq_send(c, cfg_answer, IQ_CFG_SET, "set", r->jid, r->jid, NULL, 0, b.data);
    snprintf(t2, sizeof(t2), "cannot send the configuration of room %s",
             r->jid);
  }
  sbuf_free(&b);
  if (e)
    room_create_failed(c, r, e, NULL, t2);
}

static void report_joined(struct xmpp_client *c, struct muc_room *r,
                          bool created)
{
  LOG_INFO(M, "%s room %s as %s (%s)", created ? "created" : "in", r->jid,
           r->nick, xmpp_muc_affiliation_name(r->aff));
  struct xmpp_muc_self ev = { .room = r->jid, .nick = r->nick,
                              .state = XMPP_MUC_SELF_JOINED,
                              .created = created, .affiliation = r->aff,
                              .role = r->role };
  if (c->cbs.on_muc_self)
    c->cbs.on_muc_self(c, &ev, c->ctx);
}

static void room_cfg_done(struct xmpp_client *c, struct muc_room *r,
                          const struct xmpp_stanza *iq, bool ok)
{
  if (!ok) {
    char text[600], t2[1400];
    const char *cond = xmpp__stanza_error(iq, text, sizeof(text));
    snprintf(t2, sizeof(t2), "the server refused the configuration of room "
             "%s: %s%s%s", r->jid, cond, text[0] ? ": " : "", text);
    room_create_failed(c, r, IPOP_EPERM, cond, t2);
    return;
  }
  r->st = R_JOINED;
  r->create = false;
  char jid[sizeof(r->jid)];
  snprintf(jid, sizeof(jid), "%s", r->jid);
  xmpp__report(c, XMPP_OP_CREATE, jid, NULL, 0, NULL, NULL);
  r = room_find(c, jid);  /* the callback may have left it */
  if (r && r->st == R_JOINED)
    report_joined(c, r, true);
}

/* The owner form of a room being created, and our submission of it. */
static void cfg_answer(struct xmpp_client *c, const struct iq_pending *p,
                       const struct xmpp_stanza *iq, bool ok)
{
  struct muc_room *r = iq ? room_find(c, p->room) : NULL;
  if (!r || r->st != R_CONFIGURING)
    return;  /* left meanwhile, or connection lost (muc_offline reports) */
  if (p->kind == IQ_CFG_GET)
    room_cfg_form(c, r, iq, ok);
  else
    room_cfg_done(c, r, iq, ok);
}

/* ----------------------------------------------------------- presence */

struct muc_x {
  bool has[8];                /* status 110, 201, 210, 301, 307, 321, 322, 332 */
  const char *aff, *role, *jid, *reason;
  bool destroy;
};

static const int status_codes[8] = { 110, 201, 210, 301, 307, 321, 322, 332 };
enum { S110, S201, S210, S301, S307, S321, S322, S332 };

/* Parse a muc#user <x/>; false if it is malformed (hostile). */
static bool parse_x(const struct xmpp_stanza *x, struct muc_x *o)
{
  memset(o, 0, sizeof(*o));
  int items = 0;
  for (const struct xmpp_stanza *ch = x->children; ch; ch = ch->next) {
    if (strcmp(ch->name, "status") == 0) {
      const char *code = xmpp_stanza_attr(ch, "code");
      for (int i = 0; code && i < 8; i++)
        if (atoi(code) == status_codes[i] && strlen(code) == 3)
          o->has[i] = true;
    } else if (strcmp(ch->name, "item") == 0) {
      if (items++)
        return false;  /* one item per presence */
      o->aff = xmpp_stanza_attr(ch, "affiliation");
      o->role = xmpp_stanza_attr(ch, "role");
      o->jid = xmpp_stanza_attr(ch, "jid");
      if (o->jid && !xmpp__jid_ok(o->jid))
        return false;
      const struct xmpp_stanza *re = xmpp_stanza_child(ch, "reason", NULL);
      if (re && re->text && xmpp__text_ok(re->text, XMPP_MUC_REASON_MAX))
        o->reason = re->text;
    } else if (strcmp(ch->name, "destroy") == 0) {
      o->destroy = true;
      const struct xmpp_stanza *re = xmpp_stanza_child(ch, "reason", NULL);
      if (re && re->text && xmpp__text_ok(re->text, XMPP_MUC_REASON_MAX))
        o->reason = re->text;
    }
  }
  return true;
}

static enum xmpp_muc_reason removal_reason(const struct muc_x *x)
{
  if (x->destroy) return XMPP_MUC_DESTROYED;
  if (x->has[S301]) return XMPP_MUC_BANNED;
  if (x->has[S307]) return XMPP_MUC_KICKED;
  if (x->has[S321]) return XMPP_MUC_AFFILIATION;
  if (x->has[S322]) return XMPP_MUC_MEMBERS_ONLY;
  if (x->has[S332]) return XMPP_MUC_SHUTDOWN;
  return XMPP_MUC_LEFT;
}

static int join_error_code(const char *cond)
{
  if (strcmp(cond, "registration-required") == 0 ||
      strcmp(cond, "forbidden") == 0 || strcmp(cond, "not-allowed") == 0 ||
      strcmp(cond, "not-authorized") == 0)
    return IPOP_EPERM;
  if (strcmp(cond, "conflict") == 0)
    return IPOP_EEXIST;
  if (strcmp(cond, "item-not-found") == 0 ||
      strcmp(cond, "remote-server-not-found") == 0)
    return IPOP_ENOENT;
  if (strcmp(cond, "service-unavailable") == 0)
    return IPOP_EBUSY;
  return IPOP_EIO;
}

static const char *join_error_meaning(const char *cond)
{
  if (strcmp(cond, "registration-required") == 0)
    return "we are not a member";
  if (strcmp(cond, "forbidden") == 0)
    return "we are banned";
  if (strcmp(cond, "conflict") == 0)
    return "our nick is taken";
  if (strcmp(cond, "item-not-found") == 0)
    return "no such room";
  if (strcmp(cond, "not-allowed") == 0)
    return "room creation not allowed";
  if (strcmp(cond, "service-unavailable") == 0)
    return "room full or service unavailable";
  return "refused";
}

static void room_error(struct xmpp_client *c, struct muc_room *r,
                       const struct xmpp_stanza *st)
{
  char text[600], t2[1400];
  const char *cond = xmpp__stanza_error(st, text, sizeof(text));
  if (r->st == R_JOINED || r->st == R_CONFIGURING) {
    LOG_WARN(M, "error from room %s: %s", r->jid, cond);
    return;
  }
  if (r->st == R_LEAVING) {
    room_gone(c, r, XMPP_MUC_SELF_LEFT, XMPP_MUC_LEFT, NULL, NULL);
    return;
  }
  int err = join_error_code(cond);
  if (r->create) {
    snprintf(t2, sizeof(t2), "cannot create room %s: %s (%s)%s%s", r->jid,
             strcmp(cond, "registration-required") == 0
                 ? "it exists and belongs to someone else"
                 : join_error_meaning(cond), cond, text[0] ? ": " : "", text);
    if (err == IPOP_EPERM && strcmp(cond, "registration-required") == 0)
      err = IPOP_EEXIST;
    r->st = R_WAIT;  /* nothing to leave */
    room_create_failed(c, r, err, cond, t2);
    return;
  }
  snprintf(t2, sizeof(t2), "cannot join room %s: %s (%s)%s%s", r->jid,
           join_error_meaning(cond), cond, text[0] ? ": " : "", text);
  char jid[sizeof(r->jid)];
  snprintf(jid, sizeof(jid), "%s", r->jid);
  room_gone(c, r, XMPP_MUC_SELF_FAILED, XMPP_MUC_LEFT, cond, t2);
  xmpp__report(c, XMPP_OP_JOIN, jid, NULL, err, cond, t2);
}

static void self_presence(struct xmpp_client *c, struct muc_room *r,
                          const char *nick, bool available,
                          const struct muc_x *x)
{
  char text[1400];
  if (!available) {
    enum xmpp_muc_reason why = removal_reason(x);
    if (r->st == R_LEAVING || why == XMPP_MUC_LEFT) {
      room_gone(c, r, XMPP_MUC_SELF_LEFT, XMPP_MUC_LEFT, NULL, NULL);
      return;
    }
    if (r->create) {
      snprintf(text, sizeof(text), "removed from room %s while creating it "
               "(%s)", r->jid, xmpp_muc_reason_name(why));
      r->st = R_WAIT;
      room_create_failed(c, r, IPOP_EPERM, NULL, text);
      return;
    }
    LOG_WARN(M, "removed from room %s: %s%s%s", r->jid,
             xmpp_muc_reason_name(why), x->reason ? ": " : "",
             x->reason ? x->reason : "");
    room_gone(c, r, XMPP_MUC_SELF_LEFT, why, NULL, x->reason);
    return;
  }
  if (r->st == R_LEAVING || r->st == R_WAIT || r->st == R_CONFIGURING)
    return;
  enum xmpp_muc_affiliation aff = aff_of(x->aff);
  enum xmpp_muc_role role = role_of(x->role);
  if (x->has[S210] && strlen(nick) < sizeof(r->nick))
    snprintf(r->nick, sizeof(r->nick), "%s", nick);  /* server's choice */
  if (r->st == R_JOINED) {
    if (aff != r->aff || role != r->role) {
      r->aff = aff;
      r->role = role;
      report_joined(c, r, false);
    }
    return;
  }
  r->aff = aff;
  r->role = role;
  if (x->has[S201] && r->create) {
    r->st = R_CONFIGURING;
    int e = xmpp__iq_send(c, cfg_answer, IQ_CFG_GET, "get", r->jid, r->jid, NULL, 0,
                          "<query xmlns='" XMPP_NS_MUC_OWNER "'/>");
    if (e) {
      snprintf(text, sizeof(text), "cannot ask for the configuration form "
               "of room %s", r->jid);
      room_create_failed(c, r, e, NULL, text);
    }
    return;
  }
  if (x->has[S201]) {
    /* We joined a room that did not exist: the server made a new (locked,
     * unconfigured) one for us.  Nobody wants that room. */
    snprintf(text, sizeof(text), "cannot join room %s: no such room", r->jid);
    char jid[sizeof(r->jid)];
    snprintf(jid, sizeof(jid), "%s", r->jid);
    send_destroy(c, jid, "joined by mistake");
    room_gone(c, r, XMPP_MUC_SELF_FAILED, XMPP_MUC_LEFT,
                    "item-not-found", text);
    xmpp__report(c, XMPP_OP_JOIN, jid, NULL, IPOP_ENOENT, "item-not-found",
                 text);
    return;
  }
  if (r->create) {
    if (aff != XMPP_AFF_OWNER) {
      snprintf(text, sizeof(text), "room %s already exists and is owned by "
               "someone else (we are %s)", r->jid,
               xmpp_muc_affiliation_name(aff));
      r->st = R_JOINED;
      room_create_failed(c, r, IPOP_EEXIST, NULL, text);
      return;
    }
    r->st = R_JOINED;
    r->create = false;
    char jid[sizeof(r->jid)];
    snprintf(jid, sizeof(jid), "%s", r->jid);
    xmpp__report(c, XMPP_OP_CREATE, jid, NULL, 0, NULL, NULL);
    r = room_find(c, jid);
    if (!r || r->st != R_JOINED)
      return;
  }
  r->st = R_JOINED;
  report_joined(c, r, false);
}

static bool muc_presence(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const char *from = xmpp_stanza_attr(st, "from");
  const struct xmpp_stanza *x = xmpp_stanza_child(st, "x", XMPP_NS_MUC_USER);
  struct muc_room *r = from ? room_find(c, from) : NULL;
  if (!r) {
    if (x)
      xmpp__drop(c, &c->counters.muc_dropped, "room presence from a room we are not in", from);
    return x != NULL;
  }
  const char *type = xmpp_stanza_attr(st, "type");
  if (type && strcmp(type, "error") == 0) {
    room_error(c, r, st);
    return true;
  }
  if (type && strcmp(type, "unavailable") != 0)
    return true;  /* probe, subscription: not from a room */
  const char *slash = strchr(from, '/');
  const char *nick = slash ? slash + 1 : NULL;
  if (!nick || !*nick)
    return true;  /* the room itself */
  struct muc_x mx;
  if (!x || !xmpp__text_ok(nick, XMPP_MUC_NICK_MAX) || !parse_x(x, &mx)) {
    xmpp__drop(c, &c->counters.muc_dropped, "malformed room presence", from);
    return true;
  }
  bool available = !type;
  if (mx.has[S110] || strcmp(nick, r->nick) == 0) {
    self_presence(c, r, nick, available, &mx);
    return true;
  }
  if (r->st != R_JOINING && r->st != R_JOINED && r->st != R_CONFIGURING)
    return true;
  char room[sizeof(r->jid)];
  snprintf(room, sizeof(room), "%s", r->jid);
  struct xmpp_muc_occupant o = {
    .room = room, .nick = nick, .jid = mx.jid,
    .affiliation = aff_of(mx.aff), .role = role_of(mx.role),
    .available = available,
    .reason = available ? XMPP_MUC_LEFT : removal_reason(&mx),
  };
  const struct xmpp_stanza *node = xmpp_stanza_child(st, "node", XMPP_NS_NODE);
  if (node && available) {
    const char *id = xmpp_stanza_attr(node, "id");
    const char *caps = xmpp_stanza_attr(node, "caps");
    if (xmpp__attr_ok(id, XMPP_NODE_ID_MAX) &&
        xmpp__text_ok(id, XMPP_NODE_ID_MAX)) {
      o.node_id = id;
      o.caps = xmpp__attr_ok(caps, XMPP_CAPS_MAX) ? caps : NULL;
    } else {
      xmpp__drop(c, &c->counters.muc_dropped, "bad node element in room presence", from);
    }
  }
  if (c->cbs.on_muc_occupant)
    c->cbs.on_muc_occupant(c, &o, c->ctx);
  return true;
}

/* ---------------------------------------------------------- invitations */

/* The domain part of a JID: *len bytes from the returned pointer. */
static const char *jid_domain(const char *jid, size_t *len)
{
  const char *at = strchr(jid, '@');
  const char *d = at ? at + 1 : jid;
  *len = strcspn(d, "/");
  return d;
}

static bool domain_is(const char *jid, const char *domain)
{
  size_t n;
  const char *d = jid_domain(jid, &n);
  return strlen(domain) == n && strncasecmp(d, domain, n) == 0;
}

/* May this room speak for this inviter?  A room on our own MUC service
 * may (our server runs it); so may a room whose domain is the inviter's
 * domain or one below it (lab@conference.one.test for alice@one.test:
 * her server runs that service and authenticates her).  The room's
 * domain itself is authenticated by server-to-server TLS.  Any other
 * room could name anyone as the inviter. */
static bool room_vouches_for(const struct xmpp_client *c, const char *room,
                             const char *inviter)
{
  if (c->muc_service[0] && domain_is(room, c->muc_service))
    return true;
  size_t nr, ni;
  const char *dr = jid_domain(room, &nr), *di = jid_domain(inviter, &ni);
  if (nr == ni)
    return strncasecmp(dr, di, ni) == 0;
  return nr > ni + 1 && dr[nr - ni - 1] == '.' &&
         strncasecmp(dr + nr - ni, di, ni) == 0;
}

static bool muc_message(struct conn *k, const struct xmpp_stanza *st)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *xu = xmpp_stanza_child(st, "x", XMPP_NS_MUC_USER);
  const struct xmpp_stanza *xc = xmpp_stanza_child(st, "x", NS_CONFERENCE);
  if (!xu && !xc)
    return false;
  const char *from = xmpp_stanza_attr(st, "from");
  const char *type = xmpp_stanza_attr(st, "type");
  if (type && strcmp(type, "error") == 0) {
    if (from && xmpp__text_ok(from, 300))
      LOG_WARN(M, "room %s refused our message (invitation?): %s", from,
               xmpp__stanza_error(st, NULL, 0));
    return true;
  }
  const struct xmpp_stanza *inv = xu ? xmpp_stanza_child(xu, "invite", NULL)
                                     : NULL;
  char inviter[XMPP_JID_MAX];
  struct xmpp_muc_invite ev = { .reason = "" };
  if (inv) {
    /* Mediated: only a room (bare JID, stamped by the server) that may
     * speak for the inviter (room_vouches_for) names the inviter. */
    const char *by = xmpp_stanza_attr(inv, "from");
    const struct xmpp_stanza *re = xmpp_stanza_child(inv, "reason", NULL);
    if (!xmpp__jid_is_bare(from) || !xmpp__jid_ok(by) ||
        !room_vouches_for(c, from, by) ||
        (re && re->text && !xmpp__text_ok(re->text, XMPP_MUC_REASON_MAX))) {
      xmpp__drop(c, &c->counters.muc_dropped, "invitation", from);
      return true;
    }
    xmpp__jid_bare(by, inviter, sizeof(inviter));
    ev.room = from;
    ev.reason = re && re->text ? re->text : "";
  } else if (xc) {
    const char *room = xmpp_stanza_attr(xc, "jid");
    const char *reason = xmpp_stanza_attr(xc, "reason");
    if (!xmpp__jid_ok(from) || !xmpp__jid_is_bare(room) ||
        !xmpp__text_ok(reason, XMPP_MUC_REASON_MAX)) {
      xmpp__drop(c, &c->counters.muc_dropped, "direct invitation", from);
      return true;
    }
    xmpp__jid_bare(from, inviter, sizeof(inviter));
    ev.room = room;
    ev.reason = reason ? reason : "";
    ev.direct = true;
  } else {
    return true;  /* room status messages, declines: nothing for us */
  }
  if (!inviter[0] || !strchr(inviter, '@')) {
    xmpp__drop(c, &c->counters.muc_dropped, "invitation without an inviter", from);
    return true;
  }
  ev.from = inviter;
  LOG_INFO(M, "invitation to room %s from %s", ev.room, ev.from);
  if (c->cbs.on_muc_invite)
    c->cbs.on_muc_invite(c, &ev, c->ctx);
  return true;
}

/* ------------------------------------------------------------ lifetime */

static void muc_online(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nrooms && xmpp__online(c); i++)
    if (c->rooms[i]->st == R_WAIT)
      send_join(c, c->rooms[i]);
}

/* Leaving ONLINE: discovery ends, rooms wait for the next login, rooms
 * being created or left are reported. */
static void muc_offline(struct xmpp_client *c)
{
  if (!c->muc_service_set)
    c->muc_service[0] = '\0';  /* discovered again next session */
  if (xmpp__muc_disco_reset(c))
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
      room_create_failed(c, r, IPOP_EIO, NULL, text);
    } else {
      room_gone(c, r, XMPP_MUC_SELF_LEFT, XMPP_MUC_LEFT, NULL, NULL);
    }
  }
}

static void muc_free(struct xmpp_client *c)
{
  xmpp__muc_disco_reset(c);
  while (c->nrooms)
    room_forget(c, c->rooms[c->nrooms - 1]);
}

const struct xmpp_ext xmpp__muc_ext = {
  .name = "muc", .presence = muc_presence, .message = muc_message,
  .online = muc_online, .offline = muc_offline,
  .caps_changed = muc_caps_changed, .free = muc_free,
};
