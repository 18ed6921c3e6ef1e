/* Links on one overlay: who may be linked (membership), topology planning,
 * executing negotiation actions (signals out, requests to tincan) and
 * tincan's link events.  Every function works on one ctrl_net. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "log.h"

/* ---- negotiation actions -------------------------------------------------- */

/* A request to tincan about one link.  The answer finds its net again by
 * overlay id and epoch: an answer for an overlay that has been removed or
 * re-created since is void (negotiate_reset() already started over). */
struct treq {
  struct ctrl *c;
  char overlay[CTL_ID_LEN];
  uint64_t epoch;
  char peer[NODEID_BUF];
};

static struct treq *treq_new(struct ctrl_net *n, const char *peer)
{
  struct treq *r = calloc(1, sizeof *r);
  if (r) {
    r->c = n->c;
    r->epoch = n->epoch;
    snprintf(r->overlay, sizeof r->overlay, "%s", n->id);
    snprintf(r->peer, sizeof r->peer, "%s", peer);
  }
  return r;
}

static struct ctrl_net *treq_net(const struct treq *r)
{
  if (r->c->stopping)
    return NULL;
  struct ctrl_net *n = ctrl_net_by_id(r->c, r->overlay);
  return n && n->neg && n->ready && r->epoch == n->epoch ? n : NULL;
}

static void candidates_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  struct ctrl_net *n = treq_net(r);
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
  struct ctrl_net *n = treq_net(r);
  if (n) {
    struct ctrl_peer *p = ctrl_peer_by_id(n->c, r->peer);
    struct ctrl_link *l = p ? ctrl_link_of(n, p) : NULL;
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
  if (status && status != IPOP_ENOENT && !r->c->stopping)
    LOG_DEBUG("tincan", "remove_link %s for %.8s: %s", r->overlay, r->peer,
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

static void act_send(struct ctrl_net *n, const struct neg_action *a)
{
  struct ctrl *c = n->c;
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  if (!p || !p->jid[0] || !c->xmpp) {
    LOG_DEBUG("signal", "%s for %.8s: no JID known", a->msg_type, a->peer_id);
    return;
  }
  if (ctrl_blocked(c, p->jid)) {
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
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  uint64_t now = ipop_now_ms();
  if (!p)
    return;
  struct ctrl_link *l = ctrl_link_of(n, p);
  l->link_state = CTL_LINK_UP;
  l->up_ms = now;
  /* Setup time from the moment both controllers were online (the later of
   * our start and the peer's presence). */
  uint64_t from = p->online_ms > c->started_ms ? p->online_ms : c->started_ms;
  LOG_INFO("link", "link to %s (%.8s) on %s is up, %llu ms after both nodes were online",
           p->jid, p->node_id, n->id, (unsigned long long)(now - from));
}

static void link_ref(struct ctrl_net *n, const char *peer, struct ctl_link_ref *ref)
{
  snprintf(ref->overlay_id, sizeof ref->overlay_id, "%s", n->id);
  snprintf(ref->peer_id, sizeof ref->peer_id, "%s", peer);
}

static void execute(struct ctrl_net *n, struct neg_action *a)
{
  struct ctrl *c = n->c;
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  struct ctrl_link *l = p ? ctrl_link_of(n, p) : NULL;
  bool group = ctrl_net_is_group(n);
  struct ctl_link_ref ref;
  switch (a->type) {
  case NEG_ACT_SEND:
    act_send(n, a);
    break;
  case NEG_ACT_QUERY_CANDIDATES:
    link_ref(n, a->peer_id, &ref);
    send_peer_request(n, "query_candidates", a->peer_id, &ref, 15000, candidates_answer);
    break;
  case NEG_ACT_CREATE_LINK:
    if (l) {
      memcpy(l->mac, a->peer_mac, 6);
      l->ip4 = a->peer_ip4;
      l->has_ip4 = true;
      l->link_state = CTL_LINK_CONNECTING;
      if (!group)
        ctrl_social_on_create_link(n, p, a->peer_ip4);
    }
    c->links_created++;
    send_peer_request(n, "create_link", a->peer_id, a->create, 15000, create_link_answer);
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
  case NEG_ACT_GIVE_UP:
    LOG_WARN("link", "gave up linking to %.8s on %s: %s", a->peer_id, n->id, a->why);
    if (n->topo)
      topology_on_rejected(n->topo, a->peer_id);
    break;
  case NEG_ACT_REJECTED:
    LOG_INFO("link", "%.8s refused our link request on %s: %s", a->peer_id, n->id,
             sigmsg_reason_names[a->reason]);
    if (n->topo && a->reason == SIGMSG_R_OVER_BUDGET)
      topology_on_rejected(n->topo, a->peer_id);
    break;
  }
}

void ctrl_neg_timer_cb(uv_timer_t *t)
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
  while (n->acts.n) {
    struct neg_actions batch = n->acts;
    memset(&n->acts, 0, sizeof n->acts);
    for (size_t i = 0; i < batch.n; i++)
      execute(n, &batch.v[i]);
    negotiate_actions_free(&batch);
  }
  if (n->c->stopping || !n->neg || n->dead)
    return;
  uint64_t dl = negotiate_next_deadline(n->neg), now = ipop_now_ms();
  if (dl == UINT64_MAX)
    uv_timer_stop(&n->neg_timer);
  else
    uv_timer_start(&n->neg_timer, ctrl_neg_timer_cb, dl > now ? dl - now + 1 : 1, 0);
}

/* ---- membership and planning -------------------------------------------- */

static bool peer_allowed(struct ctrl_net *n, const struct ctrl_peer *p, uint64_t now)
{
  struct ctrl *c = n->c;
  const struct ctrl_link *l = ctrl_link_of(n, p);
  if (!p->jid[0] || ctrl_blocked(c, p->jid))
    return false;
  if (!p->online &&
      !(l->member && l->link_state == CTL_LINK_UP && now - p->offline_ms < CTRL_OFFLINE_GRACE_MS))
    return false;
  if (n->kind == CTRL_NET_MUC)
    return ctrl_group_allows(n, p);
  /* Another node of our own account (the user's laptop and desktop). */
  if (ctrl_same_bare(p->jid, c->cfg.ctrl.xmpp.jid))
    return true;
  const struct ctrl_contact *ct = ctrl_contact_find(c, p->jid);
  if (!ct || ct->subscription != XMPP_SUB_BOTH)
    return false;
  return n->kind == CTRL_NET_SOCIAL || ct->in_group;
}

void ctrl_plan(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  if (!n->neg || !n->ready || c->stopping || n->dead)
    return;
  uint64_t now = ipop_now_ms();
  if (!ctrl_net_is_group(n)) {
    for (size_t i = 0; i < c->n_peers; i++)
      if (n->links[i].member) {
        struct neg_peer_info info;
        if (negotiate_peer_info(n->neg, c->peers[i].node_id, now, &info) != 0 || !info.wanted)
          negotiate_connect(n->neg, c->peers[i].node_id, false, now, &n->acts);
      }
    ctrl_run_actions(n);
    return;
  }
  static char cur[CTRL_MAX_PEERS][NODEID_BUF];
  const char *ptr[CTRL_MAX_PEERS];
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

void ctrl_net_membership(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  if (n->dead)
    return;
  uint64_t now = ipop_now_ms();
  const char *ids[CTRL_MAX_PEERS];
  size_t k = 0;
  bool changed = false;
  for (size_t i = 0; i < c->n_peers; i++) {
    struct ctrl_peer *p = &c->peers[i];
    struct ctrl_link *l = &n->links[i];
    bool m = peer_allowed(n, p, now);
    changed = changed || m != l->member;
    if (l->member && !m) {
      const char *why = !p->online                 ? "offline"
                        : ctrl_blocked(c, p->jid)  ? "blocked"
                        : n->kind == CTRL_NET_MUC ? "left the room"
                                                   : "roster";
      LOG_INFO("peer", "%s (%.8s) is no longer a peer on %s (%s)", p->jid, p->node_id, n->id,
               why);
      if (n->neg)
        negotiate_disconnect(n->neg, p->node_id, p->online && !ctrl_blocked(c, p->jid),
                             SIGMSG_R_NOT_WANTED, now, &n->acts);
      if (n->topo)
        topology_on_link_gone(n->topo, p->node_id);
    } else if (!l->member && m) {
      LOG_INFO("peer", "%s (%.8s) is a peer on %s", p->jid, p->node_id, n->id);
    }
    l->member = m;
    if (m)
      ids[k++] = p->node_id;
  }
  /* Only on a real change: a new member set also clears the topology's
   * exclusions (peers that refused us), which must last until then. */
  if (n->topo && changed)
    topology_set_members(n->topo, ids, k);
  ctrl_run_actions(n);
  ctrl_group_check_conflicts(n);
  ctrl_plan(n);
}

/* Is the (full) JID that bare JID, or on that domain? */
static bool jid_is_or_on(const char *jid, const char *bare_or_domain)
{
  if (strchr(bare_or_domain, '@'))
    return ctrl_same_bare(jid, bare_or_domain);
  const char *at = strchr(jid, '@');
  return at && ctrl_same_bare(at + 1, bare_or_domain);
}

/* Before blocking a JID or a domain: cancel its links while our signals
 * still reach it (the server drops them once the block holds), so that its
 * node drops its side at once instead of when consent checks fail. */
void ctrl_cancel_links_of(struct ctrl *c, const char *bare_jid)
{
  uint64_t now = ipop_now_ms();
  for (size_t k = 0; k < c->n_nets; k++) {
    struct ctrl_net *n = c->nets[k];
    for (size_t i = 0; n->neg && i < c->n_peers; i++) {
      struct ctrl_peer *p = &c->peers[i];
      if (!p->jid[0] || !jid_is_or_on(p->jid, bare_jid) || !n->links[i].member)
        continue;
      LOG_INFO("block", "%s (%.8s): cancelling its link on %s", p->jid, p->node_id, n->id);
      negotiate_disconnect(n->neg, p->node_id, p->online, SIGMSG_R_NOT_WANTED, now, &n->acts);
      if (n->topo)
        topology_on_link_gone(n->topo, p->node_id);
    }
    ctrl_run_actions(n);
  }
}

void ctrl_membership_changed(struct ctrl *c)
{
  /* A net may go away meanwhile (conflict → re-create does not remove,
   * but be safe about the table changing): iterate over a copy. */
  struct ctrl_net *nets[CTRL_MAX_NETS];
  size_t k = c->n_nets;
  memcpy(nets, c->nets, k * sizeof nets[0]);
  for (size_t i = 0; i < k; i++)
    if (ctrl_net_by_id(c, nets[i]->id) == nets[i])
      ctrl_net_membership(nets[i]);
}

void ctrl_overlay_ready(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  if (!n->neg)
    return;
  uint64_t now = ipop_now_ms();
  negotiate_set_local(n->neg, n->mac, n->ip4);
  negotiate_reset(n->neg, now, &n->acts);
  for (size_t i = 0; i < c->n_peers; i++)
    n->links[i].link_state = -1;
  ctrl_run_actions(n);
  ctrl_net_membership(n);
}

/* The peer's node came (back) online under a new full JID: an attempt
 * that is waiting out a backoff, or whose request went to the old JID, or
 * that gave up, starts over at once instead of waiting for its timers. */
void ctrl_restart_stale(struct ctrl *c, struct ctrl_peer *p)
{
  uint64_t now = ipop_now_ms();
  for (size_t i = 0; i < c->n_nets; i++) {
    struct ctrl_net *n = c->nets[i];
    struct neg_peer_info info;
    if (!n->neg || !n->ready || negotiate_peer_info(n->neg, p->node_id, now, &info) != 0 ||
        !info.wanted)
      continue;
    if (info.state != NEG_BACKOFF && info.state != NEG_REQUESTING && info.state != NEG_GIVEN_UP)
      continue;
    LOG_DEBUG("peer", "%s is back: restarting negotiation on %s (was %s)", p->jid, n->id,
              neg_state_names[info.state]);
    negotiate_disconnect(n->neg, p->node_id, false, SIGMSG_R_NOT_WANTED, now, &n->acts);
    negotiate_connect(n->neg, p->node_id, false, now, &n->acts);
    ctrl_run_actions(n);
  }
}

int ctrl_accept_inbound(void *ctx, const char *peer_id, bool ondemand)
{
  struct ctrl_net *n = ctx;
  struct ctrl_peer *p = ctrl_peer_by_id(n->c, peer_id);
  if (!p || !ctrl_link_of(n, p)->member)
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

/* ---- tincan events -------------------------------------------------------- */

void ctrl_on_link_state(struct ctrl_net *n, const struct ctl_ev_link_state *ev)
{
  struct ctrl_peer *p = ctrl_peer_by_id(n->c, ev->peer_id);
  struct ctrl_link *l = p ? ctrl_link_of(n, p) : NULL;
  if (l)
    l->link_state = ev->state;
  if (ev->state == CTL_LINK_DOWN || ev->state == CTL_LINK_FAILED)
    LOG_INFO("link", "link to %.8s on %s is %s: %s", ev->peer_id, n->id,
             ctl_link_state_names[ev->state], ev->reason);
  if (!n->neg)
    return;
  negotiate_on_link_state(n->neg, ev->peer_id, ev->state, ipop_now_ms(), &n->acts);
  ctrl_run_actions(n);
  if (p && !p->online && l->member)
    ctrl_net_membership(n); /* an offline peer's link went down: let it go */
}

void ctrl_on_unknown_dest(struct ctrl_net *n, const struct ctl_ev_unknown_dest *ev)
{
  struct ctrl *c = n->c;
  c->unknown_dest_events++;
  if (!n->topo)
    return;
  struct ctrl_peer *hit = NULL;
  for (size_t i = 0; i < c->n_peers && !hit; i++) {
    const struct ctrl_link *l = &n->links[i];
    if (!l->member)
      continue;
    if ((ev->has_dst_ip4 && l->has_ip4 && l->ip4.s_addr == ev->dst_ip4.s_addr) ||
        memcmp(l->mac, ev->dst_mac, 6) == 0)
      hit = &c->peers[i];
  }
  if (hit && topology_on_unknown_dest(n->topo, hit->node_id, ipop_now_ms()) == 1) {
    LOG_INFO("topology", "traffic for %s (%.8s) on %s: opening an on-demand link", hit->jid,
             hit->node_id, n->id);
    ctrl_plan(n);
  }
}

void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st)
{
  uint64_t now = ipop_now_ms();
  for (uint32_t i = 0; i < st->n_links; i++) {
    const struct ctl_link_stat *ls = &st->links[i];
    struct ctrl_net *n = ctrl_net_by_id(c, ls->overlay_id);
    if (!n)
      continue;
    struct ctrl_peer *p = ctrl_peer_by_id(c, ls->peer_id);
    if (p) {
      struct ctrl_link *l = ctrl_link_of(n, p);
      l->pair_type = ls->pair_type;
      l->rtt_us = ls->rtt_us;
      l->tx_bytes = ls->tx_bytes;
      l->rx_bytes = ls->rx_bytes;
    }
    if (n->topo)
      topology_on_link_bytes(n->topo, ls->peer_id, ls->tx_bytes + ls->rx_bytes, now);
  }
}
