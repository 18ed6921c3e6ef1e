/* Overlays.  The configured overlay (Controller.Overlay: a roster group or
 * SocialVPN) is c->nets[0]; every group over an XMPP room adds one more,
 * each its own TAP device, subnet, negotiation and topology.  A net owns
 * all of its state; peers are shared and indexed the same in every net's
 * links[] table. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "log.h"

struct ctrl_net *ctrl_net_by_id(struct ctrl *c, const char *id)
{
  for (size_t i = 0; i < c->n_nets; i++)
    if (strcmp(c->nets[i]->id, id) == 0)
      return c->nets[i];
  return NULL;
}

struct ctrl_net *ctrl_main_net(struct ctrl *c)
{
  return c->n_nets && c->nets[0]->kind != CTRL_NET_MUC ? c->nets[0] : NULL;
}

bool ctrl_net_is_group(const struct ctrl_net *n)
{
  return n->kind != CTRL_NET_SOCIAL;
}

static int group_policy(struct ctrl_net *n, const struct in_addr *addr, char *why, size_t whylen)
{
  struct ctrl *c = n->c;
  const struct ctrl_section *s = &c->cfg.ctrl;
  int rc;
  if (addr) {
    n->ip4 = *addr;
    n->fixed_address = true;
  } else {
    struct groupaddr_subnet gs = { .net = n->net, .prefix = n->prefix };
    rc = groupaddr_derive(&gs, c->node_id, n->addr_attempt, &n->ip4);
    if (rc) {
      snprintf(why, whylen, "cannot derive an address in the subnet: %s", ipop_strerror(rc));
      return rc;
    }
  }
  struct topology_config tc;
  topology_config_defaults(&tc);
  tc.link_budget = s->link_budget;
  tc.ondemand_idle_ms = s->ondemand_idle * 1000;
  tc.rnd = policy_rand_os;
  rc = topology_create(&n->topo, &tc, c->node_id);
  if (rc)
    snprintf(why, whylen, "topology: %s", ipop_strerror(rc));
  return rc;
}

static void net_free(struct ctrl_net *n)
{
  if (n->neg)
    negotiate_free(n->neg);
  if (n->topo)
    topology_free(n->topo);
  if (n->pool)
    addrpool_free(n->pool);
  negotiate_actions_free(&n->acts);
  free(n->links);
  free(n);
}

static void timer_closed(uv_handle_t *h)
{
  net_free(h->data);
}

struct ctrl_net *ctrl_net_new(struct ctrl *c, int kind, const char *id, const char *tap_name,
                              uint32_t mtu, const char *subnet, const struct in_addr *addr,
                              char *why, size_t whylen)
{
  if (c->n_nets >= CTRL_MAX_NETS) {
    snprintf(why, whylen, "too many overlays (at most %d per node)", CTRL_MAX_NETS);
    return NULL;
  }
  if (ctrl_net_by_id(c, id)) {
    snprintf(why, whylen, "overlay %s exists already", id);
    return NULL;
  }
  struct ctrl_net *n = calloc(1, sizeof *n);
  if (!n || !(n->links = calloc(CTRL_MAX_PEERS, sizeof *n->links))) {
    free(n);
    snprintf(why, whylen, "out of memory");
    return NULL;
  }
  n->c = c;
  n->serial = ++c->next_epoch;
  n->kind = kind;
  snprintf(n->id, sizeof n->id, "%s", id);
  snprintf(n->tap_name, sizeof n->tap_name, "%s", tap_name);
  n->mtu = mtu;
  for (size_t i = 0; i < CTRL_MAX_PEERS; i++)
    n->links[i].link_state = -1;
  int rc = ctrl_parse_subnet(subnet, &n->net, &n->prefix);
  if (rc) {
    snprintf(why, whylen, "bad subnet %s", subnet);
    goto fail;
  }
  rc = kind == CTRL_NET_SOCIAL ? ctrl_social_init(n, addr, why, whylen)
                               : group_policy(n, addr, why, whylen);
  if (rc)
    goto fail;
  struct negotiate_config nc;
  negotiate_config_defaults(&nc);
  snprintf(nc.node_id, sizeof nc.node_id, "%s", c->node_id);
  snprintf(nc.overlay_id, sizeof nc.overlay_id, "%s", id);
  nc.ip4 = n->ip4;
  nc.timeout_ms = c->cfg.ctrl.link_setup_timeout * 1000;
  nc.rnd = policy_rand_os;
  nc.accept = ctrl_accept_inbound;
  nc.accept_ctx = n;
  rc = negotiate_create(&n->neg, &nc);
  if (rc) {
    snprintf(why, whylen, "negotiation: %s", ipop_strerror(rc));
    goto fail;
  }
  uv_timer_init(c->loop, &n->neg_timer);
  n->neg_timer.data = n;
  c->nets[c->n_nets++] = n;
  return n;
fail:
  net_free(n);
  return NULL;
}

static void removed_answer(int status, const void *result, const char *err, void *ctx)
{
  char *id = ctx;
  if (status && status != IPOP_ENOENT && status != IPOP_ECONNREFUSED)
    LOG_WARN("tincan", "remove_overlay %s: %s", id, err ? err : ipop_strerror(status));
  free(id);
}

void ctrl_net_remove(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  uint64_t now = ipop_now_ms();
  /* Tell the peers first (link_cancel), so they drop their side now
   * rather than when consent checks fail. */
  if (n->neg && n->ready && !c->stopping)
    for (size_t i = 0; i < c->n_peers; i++)
      if (n->links[i].member || n->links[i].link_state >= 0)
        negotiate_disconnect(n->neg, c->peers[i].node_id, c->peers[i].online,
                             SIGMSG_R_NOT_WANTED, now, &n->acts);
  ctrl_run_actions(n);
  n->dead = true;
  size_t k = 0;
  for (size_t i = 0; i < c->n_nets; i++)
    if (c->nets[i] != n)
      c->nets[k++] = c->nets[i];
  c->n_nets = k;
  if (n->ready || n->pending) {
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", n->id);
    char *id = strdup(n->id);
    if (id && ctrl_tincan_send(c, "remove_overlay", &ref, 5000, removed_answer, id) != 0)
      free(id);
  }
  LOG_INFO("overlay", "overlay %s (TAP %s) removed", n->id, n->tap_name);
  uv_timer_stop(&n->neg_timer);
  uv_close((uv_handle_t *)&n->neg_timer, timer_closed);
}

void ctrl_net_free_all(struct ctrl *c)
{
  for (size_t i = 0; i < c->n_nets; i++)
    net_free(c->nets[i]); /* the loop has ended: timers are closed */
  c->n_nets = 0;
}
