/* GroupVPN: address conflicts in the group's one subnet.  Every member
 * announces its addresses in presence (caps "ip4=A.B.C.D ip6=X"), and
 * each family is checked on its own; when two nodes
 * claim one address, both log it and show it in status, and the one with
 * the larger node id yields: a derived address is derived again with the
 * next attempt (the overlay is re-created with it), a configured one is a
 * configuration error that stays until an administrator fixes it.  Groups
 * over XMPP rooms work the same way in their own subnets. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "group.h"
#include "ip6.h"
#include "log.h"
#include "net.h"

static void readdress(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  struct groupaddr_subnet gs = { .net = n->net, .prefix = n->prefix };
  struct in_addr a;
  if (groupaddr_derive(&gs, c->node_id, n->addr_attempt + 1, &a) != 0)
    return;
  n->addr_attempt++;
  char old[INET_ADDRSTRLEN], now[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &n->ip4, old, sizeof old);
  inet_ntop(AF_INET, &a, now, sizeof now);
  LOG_WARN("group", "%s: yielding address %s (larger node id): re-creating the overlay with %s",
           n->id, old, now);
  n->ip4 = a;
  ctrl_update_caps(c);
  if (n->ready)
    ctrl_net_recreate(n);
}

/* In an IPv6 conflict, is one address derived from its claimant's node id
 * and the other claimant's not?  Then it is the first one's (addr6.h), and
 * the other (0: node_a, 1: node_b) claims someone else's address; -1 if
 * the ordinary rule applies (the larger id yields). */
static int claim_of_other(const struct ctrl_net *n, const struct groupaddr_conflict *cf)
{
  const char *me = n->c->node_id;
  uint32_t ma = strcmp(cf->node_a, me) == 0 ? n->addr6_attempt : CTRL_ADDR6_ATTEMPTS;
  uint32_t mb = strcmp(cf->node_b, me) == 0 ? n->addr6_attempt : CTRL_ADDR6_ATTEMPTS;
  bool a = addr6_derived_from(&n->net6, cf->node_a, ma, &cf->addr6);
  bool b = addr6_derived_from(&n->net6, cf->node_b, mb, &cf->addr6);
  return a == b ? -1 : a ? 1 : 0;
}

/* A peer's claim of another node's IPv6 address: forgotten, counted and
 * logged once (ctrl_ip6_peer_claims ignores it while it stays the same). */
static void refuse(struct ctrl_net *n, const char *node_id, const struct in6_addr *a)
{
  struct ctrl_link *l = ctrl_link_find(n, node_id);
  if (!l)
    return;
  l->has_ip6 = false;
  if (l->has_refused6 && memcmp(&l->refused6, a, sizeof *a) == 0)
    return;
  l->refused6 = *a;
  l->has_refused6 = true;
  n->c->addr_claims_refused++;
  const struct reg_node *p = registry_node(n->c->reg, node_id);
  char t[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a, t, sizeof t);
  LOG_WARN("group", "%s: %s (%.8s) claims %s, an address derived from another member's node "
           "id: refused", n->id, p ? p->jid : "?", node_id, t);
}

/* One family's conflicts involving us: their text (the last one) into
 * text, and whether we yield in one of them.  The claims are ours and the
 * members' (roster groups: the addresses in their presence caps; rooms:
 * the one in their room presence or, failing that, the one learnt from
 * negotiation). */
static bool conflicts_of(struct ctrl_net *n, bool v6, char *text, size_t len)
{
  struct ctrl *c = n->c;
  size_t k = 0;
  struct groupaddr_claim *claims = calloc(n->n_links + 1, sizeof *claims);
  if (!claims)
    return false;
  snprintf(claims[k].node_id, sizeof claims[k].node_id, "%s", c->node_id);
  if (v6)
    claims[k++].addr6 = n->ip6;
  else
    claims[k++].addr = n->ip4;
  for (size_t i = 0; i < n->n_links; i++) {
    const struct ctrl_link *l = n->links[i];
    if (!l->member || !(v6 ? l->has_ip6 : l->has_ip4))
      continue;
    snprintf(claims[k].node_id, sizeof claims[k].node_id, "%s", l->peer);
    if (v6)
      claims[k++].addr6 = l->ip6;
    else
      claims[k++].addr = l->ip4;
  }
  struct groupaddr_conflict conf[8];
  int nc = groupaddr_find_conflicts(claims, k, conf, 8);
  free(claims);
  bool lose = false;
  for (int i = 0; i < nc && i < 8; i++) {
    int thief = v6 ? claim_of_other(n, &conf[i]) : -1;
    const char *t = thief < 0 ? NULL : thief ? conf[i].node_b : conf[i].node_a;
    if (t && strcmp(t, c->node_id) != 0) {
      refuse(n, t, &conf[i].addr6); /* whoever it claims it from, and whatever the ids */
      continue;
    }
    if (t)
      lose = true; /* ours is configured (Address6) on another node's address */
    const char *other = strcmp(conf[i].node_a, c->node_id) == 0   ? conf[i].node_b
                        : strcmp(conf[i].node_b, c->node_id) == 0 ? conf[i].node_a
                                                                  : NULL;
    if (!other)
      continue;
    const struct reg_node *p = registry_node(c->reg, other);
    char a[INET6_ADDRSTRLEN];
    if (v6)
      inet_ntop(AF_INET6, &conf[i].addr6, a, sizeof a);
    else
      inet_ntop(AF_INET, &conf[i].addr, a, sizeof a);
    snprintf(text, len, "%s also claimed by %s (%.8s)", a, p ? p->jid : "?", other);
    lose = lose || groupaddr_conflict_loser(&conf[i], c->node_id);
  }
  return lose;
}

void ctrl_group_check_conflicts(struct ctrl_net *n)
{
  if (!ctrl_net_is_group(n))
    return;
  char t4[sizeof n->conflict] = "", t6[sizeof n->conflict] = "";
  bool lose4 = conflicts_of(n, false, t4, sizeof t4);
  bool lose6 = n->has_ip6 && conflicts_of(n, true, t6, sizeof t6);
  char text[sizeof n->conflict];
  snprintf(text, sizeof text, "%s%s%s", t4, t4[0] && t6[0] ? "; " : "", t6);
  bool fixed = (lose4 && n->fixed_address) || (lose6 && n->fixed_address6);
  if (strcmp(text, n->conflict) != 0) {
    if (text[0])
      LOG_WARN("group", "%s: address conflict: %s; the larger node id yields%s", n->id, text,
               fixed ? " - ours is configured (Controller.Overlay.Address or Address6): fix "
                       "the configuration"
                     : "");
    else
      LOG_INFO("group", "%s: address conflict resolved", n->id);
    snprintf(n->conflict, sizeof n->conflict, "%s", text);
  }
  if (lose4 && !n->fixed_address)
    readdress(n);
  else if (lose6 && ctrl_ip6_rederive(n)) {
    ctrl_update_caps(n->c);
    if (n->ready)
      ctrl_net_recreate(n);
  }
}
