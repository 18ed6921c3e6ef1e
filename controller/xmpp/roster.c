/* XMPP client: roster items (RFC 6121 2) as the server sends them, and
 * subscription names.  The library keeps no roster: each item of a full
 * read or a push is reported and forgotten; whose friend is whom is the
 * caller's to remember (controller/registry.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

enum { ROSTER_GROUPS_MAX = 64 };  /* group names reported per item */

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

void xmpp__roster_item(struct xmpp_client *c, const struct xmpp_stanza *item,
                       bool full)
{
  const char *jid = xmpp_stanza_attr(item, "jid");
  if (!xmpp__jid_ok(jid) || strchr(jid, '/') || !c->cbs.on_roster)
    return;
  const char *groups[ROSTER_GROUPS_MAX];
  size_t ng = 0;
  for (const struct xmpp_stanza *g = item->children; g && ng < ROSTER_GROUPS_MAX;
       g = g->next)
    if (strcmp(g->name, "group") == 0 && xmpp__text_ok(g->text, 1023))
      groups[ng++] = g->text ? g->text : "";
  struct xmpp_roster_item it = {
    .jid = jid, .subscription = sub_parse(xmpp_stanza_attr(item, "subscription")),
    .groups = groups, .ngroups = ng,
  };
  c->cbs.on_roster(c, &it, full, c->ctx);
}
