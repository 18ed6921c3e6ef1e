/* GroupVPN: address conflicts in the group's one subnet.  Every member
 * announces its address in presence (caps "ip4=A.B.C.D"); when two nodes
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

/* The claims of one overlay: ours, and the members' (roster groups: the
 * address in their presence caps; rooms: the one in their room presence
 * or, failing that, the one learnt from negotiation). */
void ctrl_group_check_conflicts(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  if (!ctrl_net_is_group(n))
    return;
  size_t k = 0;
  struct groupaddr_claim *claims = calloc(n->n_links + 1, sizeof *claims);
  if (!claims)
    return;
  snprintf(claims[k].node_id, sizeof claims[k].node_id, "%s", c->node_id);
  claims[k++].addr = n->ip4;
  for (size_t i = 0; i < n->n_links; i++)
    if (n->links[i]->member && n->links[i]->has_ip4) {
      snprintf(claims[k].node_id, sizeof claims[k].node_id, "%s", n->links[i]->peer);
      claims[k++].addr = n->links[i]->ip4;
    }
  struct groupaddr_conflict conf[8];
  int nc = groupaddr_find_conflicts(claims, k, conf, 8);
  free(claims);
  char text[sizeof n->conflict] = "";
  bool lose = false;
  for (int i = 0; i < nc && i < 8; i++) {
    const char *other = strcmp(conf[i].node_a, c->node_id) == 0   ? conf[i].node_b
                        : strcmp(conf[i].node_b, c->node_id) == 0 ? conf[i].node_a
                                                                  : NULL;
    if (!other)
      continue;
    const struct reg_node *p = registry_node(c->reg, other);
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &conf[i].addr, a, sizeof a);
    snprintf(text, sizeof text, "%s also claimed by %s (%.8s)", a, p ? p->jid : "?", other);
    lose = lose || groupaddr_conflict_loser(&conf[i], c->node_id);
  }
  if (strcmp(text, n->conflict) != 0) {
    if (text[0])
      LOG_WARN("group", "%s: address conflict: %s; the larger node id yields%s", n->id, text,
               lose && n->fixed_address
                   ? " - ours is configured (Controller.Overlay.Address): fix the configuration"
                   : "");
    else
      LOG_INFO("group", "%s: address conflict resolved", n->id);
    snprintf(n->conflict, sizeof n->conflict, "%s", text);
  }
  if (lose && !n->fixed_address)
    readdress(n);
}
