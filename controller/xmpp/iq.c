/* XMPP client: the requests we wait for.  Each pending iq carries the
 * function that takes its answer; an answer is matched by id AND sender,
 * so nobody else can answer for the server, a room or a contact.  Also the
 * replies to requests we get, results for the caller (on_result), and the
 * error and form helpers the extensions share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"
#include "error.h"
#include "log.h"

#define M "xmpp"

const char *xmpp_op_name(enum xmpp_op op)
{
  static const char *const n[] = { "?", "discover", "create", "join",
                                   "affiliation", "room_info", "members",
                                   "block", "unblock", "blocklist", "publish" };
  return (unsigned)op < sizeof(n) / sizeof(n[0]) ? n[op] : "?";
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
  const struct xmpp_stanza *e = st ? xmpp_stanza_child(st, "error", NULL) : NULL;
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

/* ------------------------------------------------- replies to requests */

void xmpp__iq_reply_open(struct sbuf *b, const struct xmpp_stanza *iq,
                         const char *type)
{
  const char *id = xmpp_stanza_attr(iq, "id");
  const char *from = xmpp_stanza_attr(iq, "from");
  sbuf_init(b);
  sbuf_printf(b, "<iq type='%s' id='", type);
  sbuf_escs(b, id ? id : "");
  sbuf_adds(b, "'");
  if (from) {
    sbuf_adds(b, " to='");
    sbuf_escs(b, from);
    sbuf_adds(b, "'");
  }
}

/* Reply to an iq we do not handle (RFC 6120 8.4). */
void xmpp__send_iq_error(struct conn *k, const struct xmpp_stanza *iq,
                         const char *type, const char *cond)
{
  struct sbuf b;
  xmpp__iq_reply_open(&b, iq, "error");
  sbuf_printf(&b, "><error type='%s'><%s xmlns='" NS_STANZAS
              "'/></error></iq>", type, cond);
  xmpp__send_sbuf(k, &b);
}

void xmpp__send_iq_result(struct conn *k, const struct xmpp_stanza *iq)
{
  struct sbuf b;
  xmpp__iq_reply_open(&b, iq, "result");
  sbuf_adds(&b, "/>");
  xmpp__send_sbuf(k, &b);
}

/* ------------------------------------------------------- pending iqs */

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

int xmpp__iq_send(struct xmpp_client *c, xmpp_iq_answer_fn answer, int kind,
                  const char *type, const char *to, const char *room,
                  const char *jid, int aff, const char *payload)
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
  p->answer = answer;
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
  xmpp__own_bare(c, own, sizeof(own));
  return strcasecmp(from, own) == 0 || strcasecmp(from, c->domain) == 0 ||
         strcasecmp(from, c->full_jid) == 0;
}

bool xmpp__iq_reply(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const char *id = xmpp_stanza_attr(iq, "id");
  const char *type = xmpp_stanza_attr(iq, "type");
  for (size_t i = 0; id && i < c->npending; i++) {
    if (strcmp(c->pending[i].id, id) != 0)
      continue;
    if (!reply_from_ok(c, &c->pending[i], xmpp_stanza_attr(iq, "from"))) {
      xmpp__drop(c, &c->counters.muc_dropped, "iq answer from the wrong entity",
                 xmpp_stanza_attr(iq, "from"));
      return true;
    }
    struct iq_pending p = c->pending[i];
    memmove(&c->pending[i], &c->pending[i + 1],
            (c->npending - i - 1) * sizeof(*c->pending));
    c->npending--;
    p.answer(c, &p, iq, type && strcmp(type, "result") == 0);
    pending_free(&p);
    return true;
  }
  return false;
}

/* The connection is gone: every request still waiting fails (in order). */
static void iq_offline(struct xmpp_client *c)
{
  while (c->npending) {
    struct iq_pending p = c->pending[0];
    memmove(&c->pending[0], &c->pending[1],
            (c->npending - 1) * sizeof(*c->pending));
    c->npending--;
    p.answer(c, &p, NULL, false);
    pending_free(&p);
  }
  free(c->pending);
  c->pending = NULL;
}

static void iq_free(struct xmpp_client *c)
{
  while (c->npending)
    pending_free(&c->pending[--c->npending]);
  free(c->pending);
  c->pending = NULL;
}

const struct xmpp_ext xmpp__iq_ext = {
  .name = "iq", .offline = iq_offline, .free = iq_free,
};
