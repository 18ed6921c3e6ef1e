/* XMPP client: blocking (XEP-0191).  The blocklist is read after every
 * login and followed through the server's pushes; it decides which
 * signals are dropped before the controller sees them (session.c) and
 * which invitations are ignored (muc.c).  Pushes are believed only from
 * our own account, like roster pushes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "muc_internal.h"

#define M "xmpp"

void xmpp__block_clear(struct xmpp_client *c)
{
  for (size_t i = 0; i < c->nblock; i++)
    free(c->blocklist[i]);
  free(c->blocklist);
  c->blocklist = NULL;
  c->nblock = 0;
}

/* Index of item (exact, case-insensitive) or -1. */
static long block_index(const struct xmpp_client *c, const char *item)
{
  for (size_t i = 0; i < c->nblock; i++)
    if (strcasecmp(c->blocklist[i], item) == 0)
      return (long)i;
  return -1;
}

/* XEP-0191 3.3 / XEP-0016 matching: an item with a resource blocks that
 * full JID, a bare item every resource of it, a domain item everything
 * from that domain. */
static bool item_matches(const char *item, const char *jid)
{
  const char *islash = strchr(item, '/');
  if (islash)
    return strcasecmp(item, jid) == 0;
  size_t jb = strcspn(jid, "/");
  if (strchr(item, '@'))
    return strlen(item) == jb && strncasecmp(item, jid, jb) == 0;
  const char *at = memchr(jid, '@', jb);
  const char *dom = at ? at + 1 : jid;
  size_t dl = jb - (size_t)(dom - jid);
  return strlen(item) == dl && strncasecmp(item, dom, dl) == 0;
}

bool xmpp_block_has(const struct xmpp_client *c, const char *jid)
{
  for (size_t i = 0; jid && i < c->nblock; i++)
    if (item_matches(c->blocklist[i], jid))
      return true;
  return false;
}

const char *const *xmpp_block_list(const struct xmpp_client *c, size_t *n)
{
  *n = c->nblock;
  return (const char *const *)c->blocklist;
}

static bool block_add_item(struct xmpp_client *c, const char *jid)
{
  if (block_index(c, jid) >= 0)
    return true;
  if (c->nblock >= XMPP_BLOCKLIST_MAX)
    return false;
  char **n = realloc(c->blocklist, (c->nblock + 1) * sizeof(*n));
  if (!n)
    return false;
  c->blocklist = n;
  if (!(n[c->nblock] = strdup(jid)))
    return false;
  c->nblock++;
  return true;
}

static void block_remove_item(struct xmpp_client *c, const char *jid)
{
  long i = block_index(c, jid);
  if (i < 0)
    return;
  free(c->blocklist[i]);
  memmove(&c->blocklist[i], &c->blocklist[i + 1],
          (c->nblock - (size_t)i - 1) * sizeof(char *));
  c->nblock--;
}

/* Apply the <item/>s of el (block: add, else remove) and report them;
 * full: el is the whole list. */
static void apply_items(struct xmpp_client *c, const struct xmpp_stanza *el,
                        bool blocked, bool full)
{
  size_t n = 0;
  for (const struct xmpp_stanza *it = el->children; it; it = it->next)
    n++;
  const char **jids = calloc(n ? n : 1, sizeof(char *));
  if (!jids)
    return;
  if (full)
    xmpp__block_clear(c);
  size_t m = 0;
  for (const struct xmpp_stanza *it = el->children; it; it = it->next) {
    const char *jid = xmpp_stanza_attr(it, "jid");
    if (strcmp(it->name, "item") != 0 || !xmpp__jid_ok(jid)) {
      xmpp__muc_drop(c, "bad blocklist item", jid);
      continue;
    }
    if (blocked && !block_add_item(c, jid)) {
      xmpp__muc_drop(c, "blocklist item beyond the limit", jid);
      continue;
    }
    if (!blocked)
      block_remove_item(c, jid);
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

void xmpp__block_fetch(struct xmpp_client *c)
{
  if (xmpp__iq_send(c, IQ_BLOCKLIST, "get", NULL, NULL, NULL, 0,
                    "<blocklist xmlns='" XMPP_NS_BLOCKING "'/>") != 0)
    LOG_WARN(M, "cannot ask for the blocklist");
}

void xmpp__block_result(struct xmpp_client *c, const struct iq_pending *p,
                        const struct xmpp_stanza *iq, bool ok)
{
  char text[600], t2[1400];
  const char *cond = ok ? NULL : xmpp__stanza_error(iq, text, sizeof(text));
  if (p->kind == IQ_BLOCKLIST) {
    const struct xmpp_stanza *bl = ok ? xmpp_stanza_child(iq, "blocklist",
                                                          XMPP_NS_BLOCKING)
                                      : NULL;
    if (bl) {
      apply_items(c, bl, true, true);
      return;
    }
    if (ok)
      xmpp__muc_drop(c, "blocklist answer without a list", NULL);
    snprintf(t2, sizeof(t2), "the server does not support blocking "
             "(XEP-0191): %s", cond ? cond : "no blocklist in the answer");
    xmpp__block_clear(c);
    xmpp__report(c, XMPP_OP_BLOCKLIST, NULL, NULL, IPOP_ENOTSUP, cond, t2);
    return;
  }
  enum xmpp_op op = p->kind == IQ_BLOCK ? XMPP_OP_BLOCK : XMPP_OP_UNBLOCK;
  if (ok) {
    /* Servers push the change to every resource, us included; apply it
     * here as well so a server that does not push us still works. */
    if (p->jid && op == XMPP_OP_BLOCK)
      block_add_item(c, p->jid);
    else if (p->jid)
      block_remove_item(c, p->jid);
    else
      xmpp__block_clear(c);
    xmpp__report(c, op, NULL, p->jid, 0, NULL, NULL);
    return;
  }
  snprintf(t2, sizeof(t2), "cannot %s %s: %s%s%s", xmpp_op_name(op),
           p->jid ? p->jid : "everyone", cond, text[0] ? ": " : "", text);
  xmpp__report(c, op, NULL, p->jid,
               strcmp(cond, "feature-not-implemented") == 0 ||
               strcmp(cond, "service-unavailable") == 0 ? IPOP_ENOTSUP
                                                        : IPOP_EIO,
               cond, t2);
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
                : xmpp__iq_send(c, block ? IQ_BLOCK : IQ_UNBLOCK, "set", NULL,
                                NULL, jid, 0, b.data);
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

bool xmpp__block_push(struct conn *k, const struct xmpp_stanza *iq)
{
  struct xmpp_client *c = k->c;
  const struct xmpp_stanza *el = iq->children;
  if (!el || strcmp(el->ns, XMPP_NS_BLOCKING) != 0 ||
      (strcmp(el->name, "block") != 0 && strcmp(el->name, "unblock") != 0))
    return false;
  const char *from = xmpp_stanza_attr(iq, "from");
  char own[XMPP_JID_MAX];
  snprintf(own, sizeof(own), "%s@%s", c->local, c->domain);
  if (from && strcasecmp(from, own) != 0) {
    xmpp__muc_drop(c, "forged blocklist push", from);
    xmpp__send_iq_error(k, iq, "cancel", "service-unavailable");
    return true;
  }
  bool block = strcmp(el->name, "block") == 0;
  if (!block && !el->children) {
    LOG_INFO(M, "blocklist: everyone unblocked");
    xmpp__block_clear(c);
    struct xmpp_blocklist_event ev = { .full = true };
    if (c->cbs.on_blocklist)
      c->cbs.on_blocklist(c, &ev, c->ctx);
  } else {
    apply_items(c, el, block, false);
  }
  if (!k->dead)
    xmpp__send_iq_result(k, iq);
  return true;
}
