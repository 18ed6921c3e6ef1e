/* XMPP client: blocking (XEP-0191), an extension.  The block list is
 * asked for after every login, the server's pushes and the answers to our
 * block/unblock requests are reported as they come.  The library keeps no
 * list: the caller owns it and applies it (controller/registry.c).  Pushes
 * are believed only from our own account, like roster pushes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client_internal.h"
#include "error.h"
#include "log.h"

#define M "xmpp"

enum { IQ_BLOCKLIST, IQ_BLOCK, IQ_UNBLOCK };

/* Report the <item/>s of el (full: the whole list); bad items and those
 * beyond XMPP_BLOCKLIST_MAX are dropped and counted. */
static void report_items(struct xmpp_client *c, const struct xmpp_stanza *el,
                         bool blocked, bool full)
{
  size_t n = 0;
  for (const struct xmpp_stanza *it = el ? el->children : NULL; it; it = it->next)
    n++;
  if (n > XMPP_BLOCKLIST_MAX)
    n = XMPP_BLOCKLIST_MAX;
  const char **jids = calloc(n ? n : 1, sizeof(char *));
  if (!jids)
    return;
  size_t m = 0;
  for (const struct xmpp_stanza *it = el ? el->children : NULL; it; it = it->next) {
    const char *jid = xmpp_stanza_attr(it, "jid");
    if (strcmp(it->name, "item") != 0 || !xmpp__jid_ok(jid)) {
      xmpp__drop(c, &c->counters.muc_dropped, "bad blocklist item", jid);
      continue;
    }
    if (m == n) {
      xmpp__drop(c, &c->counters.muc_dropped, "blocklist item beyond the limit", jid);
      continue;
    }
    jids[m++] = jid;
  }
  if (full)
    LOG_INFO(M, "blocklist: %zu JID%s", m, m == 1 ? "" : "s");
  for (size_t i = 0; i < m && !full; i++)
    LOG_INFO(M, "blocklist: %s %s", blocked ? "blocked" : "unblocked", jids[i]);
  struct xmpp_blocklist_event ev = { .jids = jids, .n = m, .blocked = blocked,
                                     .full = full };
  if ((m || full) && c->cbs.on_blocklist)
    c->cbs.on_blocklist(c, &ev, c->ctx);
  free(jids);
}

/* Our own change was accepted: report it as a push would. */
static void report_one(struct xmpp_client *c, const char *jid, bool blocked)
{
  const char *jids[1] = { jid };
  struct xmpp_blocklist_event ev = { .jids = jids, .n = jid ? 1 : 0,
                                     .blocked = blocked, .full = !jid };
  if (c->cbs.on_blocklist)
    c->cbs.on_blocklist(c, &ev, c->ctx);
}

static void block_answer(struct xmpp_client *c, const struct iq_pending *p,
                         const struct xmpp_stanza *iq, bool ok)
{
  char text[600], t2[1400];
  if (p->kind == IQ_BLOCKLIST) {
    if (!iq)
      return;  /* asked again at the next login */
    const struct xmpp_stanza *bl = ok ? xmpp_stanza_child(iq, "blocklist",
                                                          XMPP_NS_BLOCKING)
                                      : NULL;
    if (bl) {
      report_items(c, bl, true, true);
      return;
    }
    const char *cond = ok ? NULL : xmpp__stanza_error(iq, text, sizeof(text));
    if (ok)
      xmpp__drop(c, &c->counters.muc_dropped, "blocklist answer without a list", NULL);
    snprintf(t2, sizeof(t2), "the server does not support blocking "
             "(XEP-0191): %s", cond ? cond : "no blocklist in the answer");
    xmpp__report(c, XMPP_OP_BLOCKLIST, NULL, NULL, IPOP_ENOTSUP, cond, t2);
    return;
  }
  enum xmpp_op op = p->kind == IQ_BLOCK ? XMPP_OP_BLOCK : XMPP_OP_UNBLOCK;
  if (!iq) {
    xmpp__report(c, op, NULL, p->jid, IPOP_EIO, NULL,
                 "connection to the server lost before the answer");
    return;
  }
  if (ok) {
    /* Servers push the change to every resource, us included; report it
     * here as well so a server that does not push us still works. */
    report_one(c, p->jid, op == XMPP_OP_BLOCK);
    xmpp__report(c, op, NULL, p->jid, 0, NULL, NULL);
    return;
  }
  const char *cond = xmpp__stanza_error(iq, text, sizeof(text));
  snprintf(t2, sizeof(t2), "cannot %s %s: %s%s%s", xmpp_op_name(op),
           p->jid ? p->jid : "everyone", cond, text[0] ? ": " : "", text);
  xmpp__report(c, op, NULL, p->jid,
               strcmp(cond, "feature-not-implemented") == 0 ||
               strcmp(cond, "service-unavailable") == 0 ? IPOP_ENOTSUP
                                                        : IPOP_EIO,
               cond, t2);
}

static void block_online(struct xmpp_client *c)
{
  if (xmpp__iq_send(c, block_answer, IQ_BLOCKLIST, "get", NULL, NULL, NULL, 0,
                    "<blocklist xmlns='" XMPP_NS_BLOCKING "'/>") != 0)
    LOG_WARN(M, "cannot ask for the blocklist");
}

static int block_send(struct xmpp_client *c, const char *jid, bool block)
{
  if (jid && !xmpp__jid_ok(jid))
    return IPOP_EINVAL;
  if (!jid && block)
    return IPOP_EINVAL;
  if (!xmpp__online(c))
    return IPOP_ESTATE;
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, block ? "<block" : "<unblock");
  sbuf_adds(&b, " xmlns='" XMPP_NS_BLOCKING "'");
  if (jid) {
    sbuf_adds(&b, "><item jid='");
    sbuf_escs(&b, jid);
    sbuf_adds(&b, block ? "'/></block>" : "'/></unblock>");
  } else {
    sbuf_adds(&b, "/>");
  }
  int r = b.oom ? IPOP_ENOMEM
                : xmpp__iq_send(c, block_answer, block ? IQ_BLOCK : IQ_UNBLOCK,
                                "set", NULL, NULL, jid, 0, b.data);
  sbuf_free(&b);
  return r;
}

int xmpp_block_add(struct xmpp_client *c, const char *jid)
{
  return block_send(c, jid, true);
}

int xmpp_block_remove(struct xmpp_client *c, const char *jid)
{
  return block_send(c, jid, false);
}

static bool block_push(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *el = iq->children;
  const char *type = xmpp_stanza_attr(iq, "type");
  if (!el || !type || strcmp(type, "set") != 0 ||
      strcmp(el->ns, XMPP_NS_BLOCKING) != 0 ||
      (strcmp(el->name, "block") != 0 && strcmp(el->name, "unblock") != 0))
    return false;
  const char *from = xmpp_stanza_attr(iq, "from");
  char own[XMPP_JID_MAX];
  xmpp__own_bare(c, own, sizeof(own));
  if (from && strcasecmp(from, own) != 0) {
    xmpp__drop(c, &c->counters.muc_dropped, "forged blocklist push", from);
    xmpp__send_iq_error(k, iq, "cancel", "service-unavailable");
    return true;
  }
  bool block = strcmp(el->name, "block") == 0;
  if (!block && !el->children) {
    LOG_INFO(M, "blocklist: everyone unblocked");
    report_one(c, NULL, false);
  } else {
    report_items(c, el, block, false);
  }
  if (!k->dead)
    xmpp__send_iq_result(k, iq);
  return true;
}

const struct xmpp_ext xmpp__block_ext = {
  .name = "blocking", .iq = block_push, .online = block_online,
};
