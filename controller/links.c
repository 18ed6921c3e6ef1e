/* The executor (links.h): who may be linked on each overlay (the
 * registry's answer), topology planning, carrying out negotiation actions
 * (signals out, requests to tincan) and tincan's link events. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "group.h"
#include "ip6.h"
#include "groupaddr.h"
#include "links.h"
#include "log.h"
#include "net.h"
#include "routes.h"
#include "social.h"
#include "tincan.h"

/* ---- negotiation actions -------------------------------------------------- */

/* A request to tincan about one link.  Its answer finds the net again
 * through the ref (same net object, same creation in tincan): an answer
 * for an overlay removed or re-created since is void (negotiate_reset()
 * already started over). */
struct treq {
  struct ctrl_net_ref net;
  char peer[NODEID_BUF];
};

static struct treq *treq_new(struct ctrl_net *n, const char *peer)
{
  struct treq *r = calloc(1, sizeof *r);
  if (r) {
    ctrl_net_ref(&r->net, n);
    snprintf(r->peer, sizeof r->peer, "%s", peer);
  }
  return r;
}

static void candidates_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  struct ctrl_net *n = ctrl_net_alive(&r->net, CTRL_NET_READY);
  if (n) {
    uint64_t now = ipop_now_ms();
    if (status == 0) {
      negotiate_on_candidates(n->neg, result, now, &n->acts);
    } else {
      n->c->tincan_errors++;
      LOG_WARN("tincan", "query_candidates %s for %.8s: %s", n->id, r->peer,
               err ? err : ipop_strerror(status));
      negotiate_on_tincan_error(n->neg, r->peer, status, now, &n->acts);
    }
    ctrl_run_actions(n);
  }
  free(r);
}

static void create_link_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  struct ctrl_net *n = ctrl_net_alive(&r->net, CTRL_NET_READY);
  if (n) {
    struct ctrl_link *l = ctrl_link_find(n, r->peer);
    if (status == 0) {
      const struct ctl_link_stat *st = result;
      if (l && l->link_state != CTL_LINK_UP)
        l->link_state = st->state;
    } else {
      n->c->tincan_errors++;
      LOG_WARN("tincan", "create_link %s for %.8s: %s", n->id, r->peer,
               err ? err : ipop_strerror(status));
      negotiate_on_tincan_error(n->neg, r->peer, status, ipop_now_ms(), &n->acts);
      ctrl_run_actions(n);
    }
  }
  free(r);
}

static void ignore_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  if (status && status != IPOP_ENOENT && !r->net.c->stopping)
    LOG_DEBUG("tincan", "remove_link %s for %.8s: %s", r->net.id, r->peer,
              err ? err : ipop_strerror(status));
  free(r);
}

static void send_peer_request(struct ctrl_net *n, const char *name, const char *peer,
                              const void *body, uint32_t timeout_ms, ctl_response_cb cb)
{
  struct treq *r = treq_new(n, peer);
  int rc = r ? ctrl_tincan_send(n->c, name, body, timeout_ms, cb, r) : IPOP_ENOMEM;
  if (rc) {
    free(r);
    n->c->tincan_errors++;
    if (cb != ignore_answer)
      negotiate_on_tincan_error(n->neg, peer, rc, ipop_now_ms(), &n->acts);
  }
}

/* Signals go to the full JID that speaks for the node, never to a blocked
 * one (the registry decides both). */
static void act_send(struct ctrl_net *n, const struct neg_action *a)
{
  struct ctrl *c = n->c;
  const struct reg_node *p = registry_node(c->reg, a->peer_id);
  if (!p || !p->jid[0] || !c->xmpp) {
    LOG_DEBUG("signal", "%s for %.8s: no JID known", a->msg_type, a->peer_id);
    return;
  }
  if (registry_blocked(c->reg, p->jid)) {
    LOG_DEBUG("signal", "%s to %s: blocked, not sent", a->msg_type, p->jid);
    return;
  }
  int rc = xmpp_client_send_signal(c->xmpp, p->jid, a->msg_type, a->request_id, a->payload,
                                   strlen(a->payload));
  if (rc)
    LOG_DEBUG("signal", "%s to %s: %s", a->msg_type, p->jid, ipop_strerror(rc));
  else
    LOG_DEBUG("signal", "%s %s to %s (%s)", a->msg_type, a->request_id, p->jid, n->id);
}

static void act_link_up(struct ctrl_net *n, const struct neg_action *a)
{
  struct ctrl *c = n->c;
  const struct reg_node *p = registry_node(c->reg, a->peer_id);
  struct ctrl_link *l = ctrl_link_find(n, a->peer_id);
  uint64_t now = ipop_now_ms();
  if (!p || !l)
    return;
  l->link_state = CTL_LINK_UP;
  l->up_ms = now;
  /* Setup time from the moment both controllers were online (the later of
   * our start and the peer's presence). */
  uint64_t from = p->online_ms > c->started_ms ? p->online_ms : c->started_ms;
  LOG_INFO("link", "link to %s (%.8s) on %s is up, %llu ms after both nodes were online",
           p->jid, p->id, n->id, (unsigned long long)(now - from));
}

static void link_ref(struct ctrl_net *n, const char *peer, struct ctl_link_ref *ref)
{
  snprintf(ref->overlay_id, sizeof ref->overlay_id, "%s", n->id);
  snprintf(ref->peer_id, sizeof ref->peer_id, "%s", peer);
}

static void act_create_link(struct ctrl_net *n, const struct neg_action *a)
{
  struct ctrl_link *l = ctrl_link_get(n, a->peer_id);
  const struct reg_node *p = registry_node(n->c->reg, a->peer_id);
  if (l) {
    memcpy(l->mac, a->peer_mac, 6);
    l->ip4 = a->peer_ip4;
    l->has_ip4 = true;
    ctrl_ip6_peer_claims(l, a->has_peer_ip6 ? &a->peer_ip6 : NULL);
    l->link_state = CTL_LINK_CONNECTING;
    if (!ctrl_net_is_group(n) && p)
      ctrl_social_on_create_link(n, p, l, a->peer_ip4, a->has_peer_ip6 ? &a->peer_ip6 : NULL);
  }
  LOG_DEBUG("link", "create_link %s for %s (%.8s), fingerprint %s", n->id, p ? p->jid : "?",
            a->peer_id, a->create->peer_fingerprint);
  n->c->links_created++;
  send_peer_request(n, "create_link", a->peer_id, a->create, 15000, create_link_answer);
}

static void execute(struct ctrl_net *n, struct neg_action *a)
{
  struct ctrl_link *l = ctrl_link_find(n, a->peer_id);
  struct ctl_link_ref ref;
  switch (a->type) {
  case NEG_ACT_SEND:
    act_send(n, a);
    break;
  case NEG_ACT_QUERY_CANDIDATES: {
    struct ctl_query_candidates q;
    memset(&q, 0, sizeof q);
    link_ref(n, a->peer_id, &ref);
    memcpy(q.overlay_id, ref.overlay_id, sizeof q.overlay_id);
    memcpy(q.peer_id, ref.peer_id, sizeof q.peer_id);
    q.relay = ctrl_net_relay_policy(n, a->peer_id);
    send_peer_request(n, "query_candidates", a->peer_id, &q, 15000, candidates_answer);
    break;
  }
  case NEG_ACT_CREATE_LINK:
    act_create_link(n, a);
    break;
  case NEG_ACT_REMOVE_LINK:
    link_ref(n, a->peer_id, &ref);
    send_peer_request(n, "remove_link", a->peer_id, &ref, 5000, ignore_answer);
    if (l)
      l->link_state = -1;
    if (n->topo)
      topology_on_link_gone(n->topo, a->peer_id);
    break;
  case NEG_ACT_LINK_UP:
    act_link_up(n, a);
    break;
  case NEG_ACT_GIVE_UP: {
    /* "... last: link failed" says little: add tincan's reason (ICE, the
     * candidates, the TURN server's error; docs/troubleshooting.md). */
    size_t wl = strlen(a->why);
    bool tincan = (wl >= 11 && strcmp(a->why + wl - 11, "link failed") == 0) ||
                  (wl >= 14 && strcmp(a->why + wl - 14, "link went down") == 0);
    bool why = tincan && l && l->reason[0];
    LOG_WARN("link", "gave up linking to %.8s on %s: %s%s%s", a->peer_id, n->id, a->why,
             why ? ": " : "", why ? l->reason : "");
    if (n->topo)
      topology_on_rejected(n->topo, a->peer_id);
    break;
  }
  case NEG_ACT_REJECTED:
    LOG_INFO("link", "%.8s refused our link request on %s: %s", a->peer_id, n->id,
             sigmsg_reason_names[a->reason]);
    if (n->topo && a->reason == SIGMSG_R_OVER_BUDGET)
      topology_on_rejected(n->topo, a->peer_id);
    break;
  }
}

static void neg_timer_cb(uv_timer_t *t)
{
  struct ctrl_net *n = t->data;
  if (!n->neg || n->c->stopping || n->dead)
    return;
  negotiate_tick(n->neg, ipop_now_ms(), &n->acts);
  ctrl_run_actions(n);
}

void ctrl_run_actions(struct ctrl_net *n)
{
  /* Executing an action may append new ones (a request that fails at once
   * feeds negotiate_on_tincan_error): take the list, then loop. */
  bool acted = n->acts.n > 0;
  while (n->acts.n) {
    struct neg_actions batch = n->acts;
    memset(&n->acts, 0, sizeof n->acts);
    for (size_t i = 0; i < batch.n; i++)
      execute(n, &batch.v[i]);
    negotiate_actions_free(&batch);
  }
  if (acted && n->rt)
    ctrl_routes_kick(n->c); /* links came up or went */
  if (n->c->stopping || !n->neg || n->dead)
    return;
  uint64_t dl = negotiate_next_deadline(n->neg), now = ipop_now_ms();
  if (dl == UINT64_MAX)
    uv_timer_stop(&n->neg_timer);
  else
    uv_timer_start(&n->neg_timer, neg_timer_cb, dl > now ? dl - now + 1 : 1, 0);
}

/* ---- membership and planning -------------------------------------------- */

void ctrl_plan(struct ctrl_net *n)
{
  if (!n->neg || !n->ready || n->c->stopping || n->dead)
    return;
  uint64_t now = ipop_now_ms();
  if (!ctrl_net_is_group(n)) {
    for (size_t i = 0; i < n->n_links; i++)
      if (n->links[i]->member) {
        struct neg_peer_info info;
        if (negotiate_peer_info(n->neg, n->links[i]->peer, now, &info) != 0 || !info.wanted)
          negotiate_connect(n->neg, n->links[i]->peer, false, now, &n->acts);
      }
    ctrl_run_actions(n);
    return;
  }
  static char cur[CTRL_MAX_PEERS][NODEID_BUF];
  static const char *ptr[CTRL_MAX_PEERS];
  size_t k = negotiate_current(n->neg, cur, CTRL_MAX_PEERS);
  if (k > CTRL_MAX_PEERS)
    k = CTRL_MAX_PEERS;
  for (size_t i = 0; i < k; i++)
    ptr[i] = cur[i];
  struct topology_plan plan;
  if (topology_plan(n->topo, now, ptr, k, &plan) != 0)
    return;
  for (size_t i = 0; i < plan.n_add; i++)
    negotiate_connect(n->neg, plan.add[i].peer_id, plan.add[i].kind == TOPO_ONDEMAND, now,
                      &n->acts);
  for (size_t i = 0; i < plan.n_remove; i++) {
    negotiate_disconnect(n->neg, plan.remove[i], true, SIGMSG_R_NOT_WANTED, now, &n->acts);
    topology_on_link_gone(n->topo, plan.remove[i]);
  }
  if (plan.n_add || plan.n_remove)
    LOG_DEBUG("topology", "%s plan: %zu desired, %zu to add, %zu to remove", n->id,
              plan.n_desired, plan.n_add, plan.n_remove);
  topology_plan_free(&plan);
  ctrl_run_actions(n);
}

/* Membership also expires (offline grace), so the timer re-checks it;
 * ctrl_membership_changed() plans. */
void ctrl_plan_timer_cb(uv_timer_t *t)
{
  ctrl_membership_changed(t->data);
}

/* The peer stops being a member: tell its node (if it can still hear us)
 * and forget the link. */
static void drop_member(struct ctrl_net *n, const struct reg_node *p, bool tell, uint64_t now)
{
  if (n->neg)
    negotiate_disconnect(n->neg, p->id, tell, SIGMSG_R_NOT_WANTED, now, &n->acts);
  if (n->topo)
    topology_on_link_gone(n->topo, p->id);
}

void ctrl_net_membership(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  if (n->dead)
    return;
  uint64_t now = ipop_now_ms();
  struct reg_scope scope = ctrl_net_scope(n);
  static const char *ids[CTRL_MAX_PEERS];
  size_t k = 0;
  bool changed = false;
  for (size_t i = 0; i < registry_node_count(c->reg); i++) {
    const struct reg_node *p = registry_node_at(c->reg, i);
    struct ctrl_link *l = ctrl_link_find(n, p->id);
    const char *why = NULL;
    bool m = registry_may_link(c->reg, p, &scope, l && l->link_state == CTL_LINK_UP, now, &why);
    if (!l && !m)
      continue;
    if (!l && !(l = ctrl_link_get(n, p->id)))
      continue;
    changed = changed || m != l->member;
    if (l->member && !m) {
      LOG_INFO("peer", "%s (%.8s) is no longer a peer on %s (%s)", p->jid[0] ? p->jid : p->owner->jid,
               p->id, n->id, why);
      drop_member(n, p, reg_node_online(p) && !registry_blocked(c->reg, p->jid), now);
    } else if (!l->member && m) {
      LOG_INFO("peer", "%s (%.8s) is a peer on %s", p->jid, p->id, n->id);
    }
    l->member = m;
    if (m && n->kind == CTRL_NET_ROSTER && (p->flags & REG_N_CAPS_IP4)) {
      /* Roster GroupVPN members announce their address in caps
       * ("ip4=A.B.C.D"): unknown-destination events map to members
       * before any link exists, and address conflicts show early. */
      l->ip4 = p->caps_ip4;
      l->has_ip4 = true;
    }
    if (m && n->kind == CTRL_NET_ROSTER)
      ctrl_ip6_peer_claims(l, (p->flags & REG_N_CAPS_IP6) ? &p->caps_ip6 : NULL);
    if (m && k < CTRL_MAX_PEERS)
      ids[k++] = p->id;
  }
  /* Only on a real change: a new member set also clears the topology's
   * exclusions (peers that refused us), which must last until then. */
  if (n->topo && changed)
    topology_set_members(n->topo, ids, k);
  ctrl_run_actions(n);
  ctrl_group_check_conflicts(n);
  ctrl_plan(n);
  ctrl_routes_kick(c);
}

/* Is the bare JID that bare JID, or on that domain? */
static bool bare_is_or_on(const char *bare, const char *bare_or_domain)
{
  if (strchr(bare_or_domain, '@'))
    return strcasecmp(bare, bare_or_domain) == 0;
  const char *at = strchr(bare, '@');
  return at && strcasecmp(at + 1, bare_or_domain) == 0;
}

void ctrl_cancel_links_of(struct ctrl *c, const char *bare_jid, const char *node_id)
{
  uint64_t now = ipop_now_ms();
  for (size_t k = 0; k < c->n_nets; k++) {
    struct ctrl_net *n = c->nets[k];
    for (size_t i = 0; n->neg && i < n->n_links; i++) {
      struct ctrl_link *l = n->links[i];
      const struct reg_node *p = registry_node(c->reg, l->peer);
      if (!p || !l->member || (node_id && strcmp(p->id, node_id) != 0) ||
          (bare_jid && !bare_is_or_on(p->owner->jid, bare_jid)))
        continue;
      LOG_INFO("peer", "%s (%.8s): cancelling its link on %s", p->jid, p->id, n->id);
      drop_member(n, p, reg_node_online(p), now);
    }
    ctrl_run_actions(n);
  }
}

void ctrl_membership_changed(struct ctrl *c)
{
  /* A net may go away meanwhile: iterate over a copy. */
  struct ctrl_net *nets[CTRL_MAX_NETS];
  size_t k = c->n_nets;
  memcpy(nets, c->nets, k * sizeof nets[0]);
  for (size_t i = 0; i < k; i++)
    if (ctrl_net_by_id(c, nets[i]->id) == nets[i])
      ctrl_net_membership(nets[i]);
  if (c->reg && !c->stopping)
    registry_expire(c->reg, ipop_now_ms());
}

void ctrl_overlay_ready(struct ctrl_net *n)
{
  if (!n->neg)
    return;
  uint64_t now = ipop_now_ms();
  negotiate_set_local(n->neg, n->mac, n->ip4);
  negotiate_set_local6(n->neg, n->has_ip6 ? &n->ip6 : NULL);
  negotiate_reset(n->neg, now, &n->acts);
  for (size_t i = 0; i < n->n_links; i++)
    n->links[i]->link_state = -1;
  ctrl_run_actions(n);
  ctrl_net_membership(n);
}

/* The node came (back) online under a new full JID, or was trusted: an
 * attempt that is waiting out a backoff, or whose request went to the old
 * JID, or that gave up, starts over at once instead of waiting for its
 * timers. */
void ctrl_restart_stale(struct ctrl *c, const struct reg_node *p)
{
  uint64_t now = ipop_now_ms();
  for (size_t i = 0; i < c->n_nets; i++) {
    struct ctrl_net *n = c->nets[i];
    struct neg_peer_info info;
    if (!n->neg || !n->ready || negotiate_peer_info(n->neg, p->id, now, &info) != 0 ||
        !info.wanted)
      continue;
    if (info.state != NEG_BACKOFF && info.state != NEG_REQUESTING && info.state != NEG_GIVEN_UP)
      continue;
    /* A request just sent is not stale (and a new one within a second
     * would be refused by the peer's rate limit). */
    uint64_t timeout = (uint64_t)c->cfg.ctrl.link_setup_timeout * 1000;
    if (info.state == NEG_REQUESTING && info.deadline_ms > now &&
        now + timeout - info.deadline_ms < NEG_BUSY_RETRY_MAX_MS)
      continue;
    LOG_DEBUG("peer", "%s: restarting negotiation on %s (was %s)", p->jid, n->id,
              neg_state_names[info.state]);
    negotiate_disconnect(n->neg, p->id, false, SIGMSG_R_NOT_WANTED, now, &n->acts);
    negotiate_connect(n->neg, p->id, false, now, &n->acts);
    ctrl_run_actions(n);
  }
}

void ctrl_net_remove(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  uint64_t now = ipop_now_ms();
  /* Tell the peers first (link_cancel), so they drop their side now
   * rather than when consent checks fail. */
  if (n->neg && n->ready && !c->stopping)
    for (size_t i = 0; i < n->n_links; i++) {
      const struct ctrl_link *l = n->links[i];
      const struct reg_node *p = registry_node(c->reg, l->peer);
      if (l->member || l->link_state >= 0)
        negotiate_disconnect(n->neg, l->peer, p && reg_node_online(p), SIGMSG_R_NOT_WANTED, now,
                             &n->acts);
    }
  ctrl_run_actions(n);
  ctrl_net_destroy(n);
}

/* ---- the registry's hooks ---------------------------------------------------- */

void ctrl_node_gone(void *ctx, const struct reg_node *p)
{
  struct ctrl *c = ctx;
  uint64_t now = ipop_now_ms();
  for (size_t i = 0; i < c->n_nets; i++) {
    struct ctrl_net *n = c->nets[i];
    if (!ctrl_link_find(n, p->id))
      continue;
    drop_member(n, p, reg_node_online(p) && !c->stopping, now);
    ctrl_run_actions(n);
    ctrl_link_drop(n, p->id);
  }
}

bool ctrl_node_busy(void *ctx, const struct reg_node *p)
{
  struct ctrl *c = ctx;
  for (size_t i = 0; i < c->n_nets; i++) {
    const struct ctrl_link *l = ctrl_link_find(c->nets[i], p->id);
    if (l && l->link_state >= 0)
      return true;
  }
  return false;
}

/* ---- tincan events -------------------------------------------------------- */

void ctrl_on_link_state(struct ctrl_net *n, const struct ctl_ev_link_state *ev)
{
  struct ctrl_link *l = ctrl_link_find(n, ev->peer_id);
  const struct reg_node *p = registry_node(n->c->reg, ev->peer_id);
  if (l) {
    l->link_state = ev->state;
    l->rt_sent_sum = 0; /* a new link (or none): it gets our next vector, */
    l->rt_sync = true;  /* and sends its own back */
  }
  if (ev->state == CTL_LINK_DOWN || ev->state == CTL_LINK_FAILED) {
    LOG_INFO("link", "link to %.8s on %s is %s: %s", ev->peer_id, n->id,
             ctl_link_state_names[ev->state], ev->reason);
    if (l)
      snprintf(l->reason, sizeof l->reason, "%s", ev->reason);
  }
  if (!n->neg)
    return;
  negotiate_on_link_state(n->neg, ev->peer_id, ev->state, ipop_now_ms(), &n->acts);
  ctrl_run_actions(n);
  ctrl_routes_kick(n->c);
  if (p && !reg_node_online(p) && l && l->member)
    ctrl_net_membership(n); /* an offline peer's link went down: let it go */
}

/* A member we reach through others (tincan forwards): a direct link only
 * once Controller.HeavyPairBytes went to it within HeavyPairWindow
 * (docs/topology.md "Heavy pairs"). */
static bool heavy(struct ctrl_net *n, struct ctrl_link *l, uint64_t routed)
{
  const struct ctrl_section *s = &n->c->cfg.ctrl;
  uint64_t now = ipop_now_ms();
  if (!l)
    return false;
  if (routed < l->heavy_base || now - l->heavy_ms > (uint64_t)s->heavy_pair_window * 1000) {
    l->heavy_base = routed;
    l->heavy_ms = now;
  }
  if (routed - l->heavy_base < s->heavy_pair_bytes)
    return false;
  l->heavy_base = routed;
  l->heavy_ms = now;
  return true;
}

void ctrl_on_unknown_dest(struct ctrl_net *n, const struct ctl_ev_unknown_dest *ev)
{
  struct ctrl *c = n->c;
  c->unknown_dest_events++;
  if (!n->topo)
    return;
  const struct ctrl_link *hit = NULL;
  for (size_t i = 0; i < n->n_links && !hit; i++) {
    const struct ctrl_link *l = n->links[i];
    if (!l->member)
      continue;
    uint8_t derived[6];
    if ((ev->has_dst_ip4 && l->has_ip4 && l->ip4.s_addr == ev->dst_ip4.s_addr) ||
        (ev->has_dst_ip6 && l->has_ip6 && memcmp(&l->ip6, &ev->dst_ip6, 16) == 0) ||
        memcmp(l->mac, ev->dst_mac, 6) == 0 ||
        (ev->has_routed_bytes && groupaddr_mac(n->id, l->peer, derived) == 0 &&
         memcmp(derived, ev->dst_mac, 6) == 0))
      hit = l;
  }
  if (hit && ev->has_routed_bytes && !heavy(n, ctrl_link_find(n, hit->peer), ev->routed_bytes))
    return; /* forwarded, and light: no link needed */
  if (hit && topology_on_unknown_dest(n->topo, hit->peer, ipop_now_ms()) == 1) {
    const struct reg_node *p = registry_node(c->reg, hit->peer);
    LOG_INFO("topology", "%s for %s (%.8s) on %s: opening an on-demand link",
             ev->has_routed_bytes ? "heavy forwarded traffic" : "traffic", p ? p->jid : "?",
             hit->peer, n->id);
    ctrl_plan(n);
  }
}

void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st)
{
  uint64_t now = ipop_now_ms();
  for (uint32_t i = 0; i < st->n_links; i++) {
    const struct ctl_link_stat *ls = &st->links[i];
    struct ctrl_net_ref ref = { .c = c };
    snprintf(ref.id, sizeof ref.id, "%s", ls->overlay_id);
    struct ctrl_net *n = ctrl_net_alive(&ref, 0);
    if (!n)
      continue;
    struct ctrl_link *l = ctrl_link_find(n, ls->peer_id);
    if (l) {
      l->pair_type = ls->pair_type;
      l->rtt_us = ls->rtt_us;
      l->tx_bytes = ls->tx_bytes;
      l->rx_bytes = ls->rx_bytes;
      l->tx_packets = ls->tx_packets;
      l->rx_packets = ls->rx_packets;
      l->drops = ls->drops;
      l->spoofed = ls->spoofed;
      l->rekeys = ls->rekeys;
      snprintf(l->remote_addr, sizeof l->remote_addr, "%s", ls->remote_addr);
      /* Throughput for the map, over at least a second (ipopctl's
       * queries come in between the periodic stats). */
      uint64_t total = ls->tx_bytes + ls->rx_bytes;
      if (total < l->rate_bytes || !l->rate_ms) {
        l->rate_ms = now;
        l->rate_bytes = total;
        l->bytes_per_s = 0;
      } else if (now - l->rate_ms >= 1000) {
        l->bytes_per_s = (total - l->rate_bytes) * 1000 / (now - l->rate_ms);
        l->rate_ms = now;
        l->rate_bytes = total;
      }
    }
    if (n->topo)
      topology_on_link_bytes(n->topo, ls->peer_id, ls->tx_bytes + ls->rx_bytes, now);
  }
}
