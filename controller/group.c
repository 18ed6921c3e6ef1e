/* GroupVPN: address conflicts in the group's one subnet.  Every member
 * announces its address in presence (caps "ip4=A.B.C.D"); when two nodes
 * claim one address, both log it and show it in status, and the one with
 * the larger node id yields: a derived address is derived again with the
 * next attempt (the overlay is re-created with it), a configured one is a
 * configuration error that stays until an administrator fixes it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "log.h"

static void removed_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  c->overlay_pending = false; /* the heartbeat creates it again, with the new address */
}

static void readdress(struct ctrl *c)
{
  struct groupaddr_subnet gs = { .net = c->net, .prefix = c->prefix };
  struct in_addr a;
  if (groupaddr_derive(&gs, c->node_id, c->addr_attempt + 1, &a) != 0)
    return;
  c->addr_attempt++;
  char old[INET_ADDRSTRLEN], now[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &c->ip4, old, sizeof old);
  inet_ntop(AF_INET, &a, now, sizeof now);
  LOG_WARN("group", "yielding address %s (larger node id): re-creating the overlay with %s", old,
           now);
  c->ip4 = a;
  char caps[64];
  snprintf(caps, sizeof caps, "ip4=%s", now);
  if (c->xmpp)
    xmpp_client_set_caps(c->xmpp, caps);
  if (c->overlay_ready) {
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", c->cfg.ctrl.overlay.id);
    c->overlay_ready = false;
    if (ctrl_tincan_send(c, "remove_overlay", &ref, 5000, removed_answer, c) == 0)
      c->overlay_pending = true;
  }
}

void ctrl_group_check_conflicts(struct ctrl *c)
{
  if (c->cfg.ctrl.mode != CTRL_MODE_GROUP)
    return;
  size_t n = 0;
  struct groupaddr_claim *claims = calloc(c->n_peers + 1, sizeof *claims);
  if (!claims)
    return;
  snprintf(claims[n].node_id, sizeof claims[n].node_id, "%s", c->node_id);
  claims[n++].addr = c->ip4;
  for (size_t i = 0; i < c->n_peers; i++)
    if (c->peers[i].member && c->peers[i].has_ip4) {
      snprintf(claims[n].node_id, sizeof claims[n].node_id, "%s", c->peers[i].node_id);
      claims[n++].addr = c->peers[i].ip4;
    }
  struct groupaddr_conflict conf[8];
  int k = groupaddr_find_conflicts(claims, n, conf, 8);
  free(claims);
  char text[sizeof c->conflict] = "";
  bool lose = false;
  for (int i = 0; i < k && i < 8; i++) {
    const char *other = strcmp(conf[i].node_a, c->node_id) == 0   ? conf[i].node_b
                        : strcmp(conf[i].node_b, c->node_id) == 0 ? conf[i].node_a
                                                                  : NULL;
    if (!other)
      continue;
    struct ctrl_peer *p = ctrl_peer_by_id(c, other);
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &conf[i].addr, a, sizeof a);
    snprintf(text, sizeof text, "%s also claimed by %s (%.8s)", a, p ? p->jid : "?", other);
    lose = lose || groupaddr_conflict_loser(&conf[i], c->node_id);
  }
  if (strcmp(text, c->conflict) != 0) {
    if (text[0])
      LOG_WARN("group", "address conflict: %s; the larger node id yields%s", text,
               lose && c->cfg.ctrl.overlay.has_address
                   ? " - ours is configured (Controller.Overlay.Address): fix the configuration"
                   : "");
    else
      LOG_INFO("group", "address conflict resolved");
    snprintf(c->conflict, sizeof c->conflict, "%s", text);
  }
  if (lose && !c->cfg.ctrl.overlay.has_address)
    readdress(c);
}
