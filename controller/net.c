/* Overlays (net.h).  The configured overlay (Controller.Overlay: a roster
 * group or SocialVPN) is c->nets[0]; every group over an XMPP room adds
 * one more, each its own TAP device, subnet, negotiation, topology and
 * links.  A net owns all of its state; the peer nodes are the registry's,
 * and a net knows them by node id only. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "hash.h"
#include "ip6.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "social.h"
#include "tincan.h"

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

int ctrl_net_relay_policy(const struct ctrl_net *n, const char *peer_id)
{
  const struct ctrl_overlay_cfg *o = &n->c->cfg.ctrl.overlay;
  const struct reg_node *p = registry_node(n->c->reg, peer_id);
  for (uint32_t i = 0; p && i < o->n_peer_relay; i++)
    if (strcasecmp(o->peer_relay[i].jid, p->jid) == 0)
      return o->peer_relay[i].relay;
  return o->relay;
}

struct reg_scope ctrl_net_scope(const struct ctrl_net *n)
{
  struct reg_scope s = { .kind = n->kind == CTRL_NET_SOCIAL ? REG_SCOPE_SOCIAL
                                 : n->kind == CTRL_NET_MUC  ? REG_SCOPE_ROOM
                                                            : REG_SCOPE_ROSTER,
                         .room = n->room };
  return s;
}

void ctrl_net_ref(struct ctrl_net_ref *ref, const struct ctrl_net *n)
{
  memset(ref, 0, sizeof *ref);
  ref->c = n->c;
  snprintf(ref->id, sizeof ref->id, "%s", n->id);
  ref->serial = n->serial;
  ref->epoch = n->epoch;
}

struct ctrl_net *ctrl_net_alive(const struct ctrl_net_ref *ref, unsigned flags)
{
  if (ref->c->stopping)
    return NULL;
  struct ctrl_net *n = ctrl_net_by_id(ref->c, ref->id);
  if (!n || n->dead || (ref->serial && n->serial != ref->serial))
    return NULL;
  if ((flags & CTRL_NET_READY) && (!n->ready || !n->neg || (ref->epoch && n->epoch != ref->epoch)))
    return NULL;
  return n;
}

/* ---- links, by node id ------------------------------------------------------- */

static size_t bucket_of(const char *node_id)
{
  return ipop_fnv1a(node_id) % CTRL_LINK_BUCKETS;
}

struct ctrl_link *ctrl_link_find(const struct ctrl_net *n, const char *node_id)
{
  for (struct ctrl_link *l = n->lbucket[bucket_of(node_id)]; l; l = l->hnext)
    if (strcmp(l->peer, node_id) == 0)
      return l;
  return NULL;
}

struct ctrl_link *ctrl_link_get(struct ctrl_net *n, const char *node_id)
{
  struct ctrl_link *l = ctrl_link_find(n, node_id);
  if (l || n->n_links >= CTRL_MAX_PEERS || !nodeid_valid(node_id))
    return l;
  if (!(l = calloc(1, sizeof *l)))
    return NULL;
  snprintf(l->peer, sizeof l->peer, "%s", node_id);
  l->link_state = -1;
  size_t b = bucket_of(node_id);
  l->hnext = n->lbucket[b];
  n->lbucket[b] = l;
  l->idx = n->n_links;
  n->links[n->n_links++] = l;
  return l;
}

void ctrl_link_drop(struct ctrl_net *n, const char *node_id)
{
  for (struct ctrl_link **p = &n->lbucket[bucket_of(node_id)]; *p; p = &(*p)->hnext) {
    struct ctrl_link *l = *p;
    if (strcmp(l->peer, node_id) != 0)
      continue;
    *p = l->hnext;
    n->links[l->idx] = n->links[--n->n_links];
    n->links[l->idx]->idx = l->idx;
    free(l);
    return;
  }
}

/* ---- negotiation's questions to the overlay ------------------------------------- */

/* A request from peer_id: a member of this overlay, with room in the
 * topology's budget. */
static int accept_inbound(void *ctx, const char *peer_id, bool ondemand)
{
  struct ctrl_net *n = ctx;
  const struct ctrl_link *l = ctrl_link_find(n, peer_id);
  if (!l || !l->member)
    return SIGMSG_R_NOT_ALLOWED + 1;
  if (!n->ready)
    return SIGMSG_R_BUSY + 1;
  if (!ctrl_net_is_group(n))
    return 0;
  int rc = topology_on_inbound(n->topo, peer_id, ondemand, ipop_now_ms());
  if (rc == IPOP_EBUSY)
    return SIGMSG_R_OVER_BUDGET + 1;
  return rc == 0 ? 0 : SIGMSG_R_NOT_ALLOWED + 1;
}

/* The fingerprint peer_id presents: the registry's verdict (pins, PEP). */
static int verify_fpr(void *ctx, const char *peer_id, const char *fpr)
{
  struct ctrl_net *n = ctx;
  struct reg_node *node = registry_node(n->c->reg, peer_id);
  char why[POLICY_WHY_LEN * 2];
  if (!node)
    return SIGMSG_R_NOT_ALLOWED + 1;
  switch (registry_check_fpr(n->c->reg, node, fpr, ipop_now_ms(), why, sizeof why)) {
  case REG_FPR_OK:
    return 0;
  case REG_FPR_WAIT:
    return NEG_VERIFY_HOLD; /* handed in again (peers.h) */
  default:
    return SIGMSG_R_NOT_ALLOWED + 1;
  }
}

/* ---- lifetime ---------------------------------------------------------------------- */

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
  if (rc) {
    snprintf(why, whylen, "topology: %s", ipop_strerror(rc));
    return rc;
  }
  rc = routing_create(&n->rt, c->node_id);
  if (rc) {
    snprintf(why, whylen, "routing: %s", ipop_strerror(rc));
    return rc;
  }
  int fwd = n->kind == CTRL_NET_MUC ? s->groups.forwarding : s->overlay.forwarding;
  routing_set_forwarding(n->rt, fwd == CTRL_ON);
  return 0;
}

static void net_free(struct ctrl_net *n)
{
  if (n->neg)
    negotiate_free(n->neg);
  if (n->topo)
    topology_free(n->topo);
  routing_free(n->rt);
  if (n->pool)
    addrpool_free(n->pool);
  negotiate_actions_free(&n->acts);
  for (size_t i = 0; n->links && i < n->n_links; i++)
    free(n->links[i]);
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
  n->room = -1;
  snprintf(n->id, sizeof n->id, "%s", id);
  snprintf(n->tap_name, sizeof n->tap_name, "%s", tap_name);
  n->mtu = mtu;
  int rc = ctrl_parse_subnet(subnet, &n->net, &n->prefix);
  if (rc) {
    snprintf(why, whylen, "bad subnet %s", subnet);
    goto fail;
  }
  rc = ctrl_ip6_init(n, why, whylen);
  if (rc)
    goto fail;
  rc = kind == CTRL_NET_SOCIAL ? ctrl_social_init(n, addr, why, whylen)
                               : group_policy(n, addr, why, whylen);
  if (rc)
    goto fail;
  struct negotiate_config nc;
  negotiate_config_defaults(&nc);
  snprintf(nc.node_id, sizeof nc.node_id, "%s", c->node_id);
  snprintf(nc.overlay_id, sizeof nc.overlay_id, "%s", id);
  nc.ip4 = n->ip4;
  nc.ip6 = n->ip6;
  nc.has_ip6 = n->has_ip6;
  nc.timeout_ms = c->cfg.ctrl.link_setup_timeout * 1000;
  nc.down_grace_ms = CTRL_DOWN_GRACE_MS;
  nc.rnd = policy_rand_os;
  nc.accept = accept_inbound;
  nc.verify = verify_fpr;
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

void ctrl_net_destroy(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
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

/* ---- re-creating an overlay ------------------------------------------------------ */

static void recreate_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl_net_ref *ref = ctx;
  struct ctrl_net *n = ctrl_net_alive(ref, 0);
  if (n)
    n->pending = false; /* the heartbeat creates it again */
  if (status && status != IPOP_ENOENT)
    LOG_WARN("tincan", "remove_overlay %s: %s", ref->id, err ? err : ipop_strerror(status));
  free(ref);
}

void ctrl_net_recreate(struct ctrl_net *n)
{
  struct ctl_overlay_ref body;
  snprintf(body.overlay_id, sizeof body.overlay_id, "%s", n->id);
  struct ctrl_net_ref *ref = malloc(sizeof *ref);
  n->ready = false;
  if (ref)
    ctrl_net_ref(ref, n);
  if (ref && ctrl_tincan_send(n->c, "remove_overlay", &body, 5000, recreate_answer, ref) == 0)
    n->pending = true;
  else
    free(ref);
}

void ctrl_update_caps(struct ctrl *c)
{
  char caps[128];
  ctrl_caps_text(ctrl_main_net(c), caps, sizeof caps);
  if (c->xmpp)
    xmpp_client_set_caps(c->xmpp, caps);
}
