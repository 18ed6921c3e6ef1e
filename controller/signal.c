/* XMPP ⇄ negotiation glue: the roster and peer tables fed by the XMPP
 * client, membership (who may be linked), topology planning, and the
 * execution of negotiation actions (signals out, requests to tincan). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "log.h"

static struct ipop_ratelimit rl_bad_signal = IPOP_RATELIMIT_INIT(10000, 5);
static struct ipop_ratelimit rl_presence = IPOP_RATELIMIT_INIT(10000, 5);

/* ---- tables -------------------------------------------------------------- */

static size_t bare_len(const char *jid)
{
  const char *slash = strchr(jid, '/');
  return slash ? (size_t)(slash - jid) : strlen(jid);
}

struct ctrl_contact *ctrl_contact_find(struct ctrl *c, const char *bare_jid)
{
  size_t n = bare_len(bare_jid);
  for (size_t i = 0; i < c->n_roster; i++)
    if (strlen(c->roster[i].jid) == n && strncmp(c->roster[i].jid, bare_jid, n) == 0)
      return &c->roster[i];
  return NULL;
}

struct ctrl_peer *ctrl_peer_by_id(struct ctrl *c, const char *node_id)
{
  for (size_t i = 0; i < c->n_peers; i++)
    if (strcmp(c->peers[i].node_id, node_id) == 0)
      return &c->peers[i];
  return NULL;
}

struct ctrl_peer *ctrl_peer_by_jid(struct ctrl *c, const char *full_jid)
{
  for (size_t i = 0; i < c->n_peers; i++)
    if (strcmp(c->peers[i].jid, full_jid) == 0)
      return &c->peers[i];
  return NULL;
}

static struct ctrl_peer *peer_add(struct ctrl *c, const char *node_id)
{
  if (c->n_peers >= CTRL_MAX_PEERS)
    return NULL;
  struct ctrl_peer *p = &c->peers[c->n_peers++];
  memset(p, 0, sizeof *p);
  snprintf(p->node_id, sizeof p->node_id, "%s", node_id);
  p->link_state = -1;
  return p;
}

/* ---- negotiation actions -------------------------------------------------- */

struct treq {
  struct ctrl *c;
  uint64_t epoch;
  char peer[NODEID_BUF];
};

static struct treq *treq_new(struct ctrl *c, const char *peer)
{
  struct treq *r = calloc(1, sizeof *r);
  if (r) {
    r->c = c;
    r->epoch = c->overlay_epoch;
    snprintf(r->peer, sizeof r->peer, "%s", peer);
  }
  return r;
}

/* An answer for an overlay that has been re-created since is void:
 * negotiate_reset() already started over. */
static bool treq_current(const struct treq *r)
{
  return !r->c->stopping && r->c->neg && r->c->overlay_ready && r->epoch == r->c->overlay_epoch;
}

static void candidates_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  struct ctrl *c = r->c;
  if (treq_current(r)) {
    uint64_t now = ipop_now_ms();
    if (status == 0) {
      negotiate_on_candidates(c->neg, result, now, &c->acts);
    } else {
      c->tincan_errors++;
      LOG_WARN("tincan", "query_candidates for %.8s: %s", r->peer,
               err ? err : ipop_strerror(status));
      negotiate_on_tincan_error(c->neg, r->peer, status, now, &c->acts);
    }
    ctrl_run_actions(c);
  }
  free(r);
}

static void create_link_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  struct ctrl *c = r->c;
  if (treq_current(r)) {
    struct ctrl_peer *p = ctrl_peer_by_id(c, r->peer);
    if (status == 0) {
      const struct ctl_link_stat *st = result;
      if (p && p->link_state != CTL_LINK_UP)
        p->link_state = st->state;
    } else {
      c->tincan_errors++;
      LOG_WARN("tincan", "create_link for %.8s: %s", r->peer, err ? err : ipop_strerror(status));
      negotiate_on_tincan_error(c->neg, r->peer, status, ipop_now_ms(), &c->acts);
      ctrl_run_actions(c);
    }
  }
  free(r);
}

static void ignore_answer(int status, const void *result, const char *err, void *ctx)
{
  struct treq *r = ctx;
  if (status && status != IPOP_ENOENT && !r->c->stopping)
    LOG_DEBUG("tincan", "remove_link for %.8s: %s", r->peer, err ? err : ipop_strerror(status));
  free(r);
}

static void send_peer_request(struct ctrl *c, const char *name, const char *peer,
                              const void *body, uint32_t timeout_ms, ctl_response_cb cb)
{
  struct treq *r = treq_new(c, peer);
  int rc = r ? ctrl_tincan_send(c, name, body, timeout_ms, cb, r) : IPOP_ENOMEM;
  if (rc) {
    free(r);
    c->tincan_errors++;
    if (cb != ignore_answer)
      negotiate_on_tincan_error(c->neg, peer, rc, ipop_now_ms(), &c->acts);
  }
}

static void act_send(struct ctrl *c, const struct neg_action *a)
{
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  if (!p || !p->jid[0] || !c->xmpp) {
    LOG_DEBUG("signal", "%s for %.8s: no JID known", a->msg_type, a->peer_id);
    return;
  }
  int rc = xmpp_client_send_signal(c->xmpp, p->jid, a->msg_type, a->request_id, a->payload,
                                   strlen(a->payload));
  if (rc)
    LOG_DEBUG("signal", "%s to %s: %s", a->msg_type, p->jid, ipop_strerror(rc));
  else
    LOG_DEBUG("signal", "%s %s to %s", a->msg_type, a->request_id, p->jid);
}

static void act_link_up(struct ctrl *c, const struct neg_action *a)
{
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  uint64_t now = ipop_now_ms();
  if (!p)
    return;
  p->link_state = CTL_LINK_UP;
  p->up_ms = now;
  /* Setup time from the moment both controllers were online (the later of
   * our overlay and the peer's presence). */
  uint64_t from = p->online_ms > c->started_ms ? p->online_ms : c->started_ms;
  LOG_INFO("link", "link to %s (%.8s) is up, %llu ms after both nodes were online", p->jid,
           p->node_id, (unsigned long long)(now - from));
}

static void execute(struct ctrl *c, struct neg_action *a)
{
  struct ctrl_peer *p = ctrl_peer_by_id(c, a->peer_id);
  bool group = c->cfg.ctrl.mode == CTRL_MODE_GROUP;
  switch (a->type) {
  case NEG_ACT_SEND:
    act_send(c, a);
    break;
  case NEG_ACT_QUERY_CANDIDATES: {
    struct ctl_link_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", c->cfg.ctrl.overlay.id);
    snprintf(ref.peer_id, sizeof ref.peer_id, "%s", a->peer_id);
    send_peer_request(c, "query_candidates", a->peer_id, &ref, 15000, candidates_answer);
    break;
  }
  case NEG_ACT_CREATE_LINK:
    if (p) {
      memcpy(p->mac, a->peer_mac, 6);
      p->ip4 = a->peer_ip4;
      p->has_ip4 = true;
      p->link_state = CTL_LINK_CONNECTING;
      if (!group)
        ctrl_social_on_create_link(c, p, a->peer_ip4);
    }
    c->links_created++;
    send_peer_request(c, "create_link", a->peer_id, a->create, 15000, create_link_answer);
    break;
  case NEG_ACT_REMOVE_LINK: {
    struct ctl_link_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", c->cfg.ctrl.overlay.id);
    snprintf(ref.peer_id, sizeof ref.peer_id, "%s", a->peer_id);
    send_peer_request(c, "remove_link", a->peer_id, &ref, 5000, ignore_answer);
    if (p)
      p->link_state = -1;
    if (group)
      topology_on_link_gone(c->topo, a->peer_id);
    break;
  }
  case NEG_ACT_LINK_UP:
    act_link_up(c, a);
    break;
  case NEG_ACT_GIVE_UP:
    LOG_WARN("link", "gave up linking to %.8s: %s", a->peer_id, a->why);
    if (group)
      topology_on_rejected(c->topo, a->peer_id);
    break;
  case NEG_ACT_REJECTED:
    LOG_INFO("link", "%.8s refused our link request: %s", a->peer_id,
             sigmsg_reason_names[a->reason]);
    if (group && a->reason == SIGMSG_R_OVER_BUDGET)
      topology_on_rejected(c->topo, a->peer_id);
    break;
  }
}

static void neg_timer_cb(uv_timer_t *t)
{
  struct ctrl *c = t->data;
  if (!c->neg || c->stopping)
    return;
  negotiate_tick(c->neg, ipop_now_ms(), &c->acts);
  ctrl_run_actions(c);
}

void ctrl_run_actions(struct ctrl *c)
{
  /* Executing an action may append new ones (a request that fails at once
   * feeds negotiate_on_tincan_error): take the list, then loop. */
  while (c->acts.n) {
    struct neg_actions batch = c->acts;
    memset(&c->acts, 0, sizeof c->acts);
    for (size_t i = 0; i < batch.n; i++)
      execute(c, &batch.v[i]);
    negotiate_actions_free(&batch);
  }
  if (c->stopping || !c->neg)
    return;
  uint64_t dl = negotiate_next_deadline(c->neg), now = ipop_now_ms();
  if (dl == UINT64_MAX)
    uv_timer_stop(&c->neg_timer);
  else
    uv_timer_start(&c->neg_timer, neg_timer_cb, dl > now ? dl - now + 1 : 1, 0);
}

/* ---- membership and planning -------------------------------------------- */

static bool peer_allowed(struct ctrl *c, const struct ctrl_peer *p, uint64_t now)
{
  if (!p->jid[0])
    return false;
  if (!p->online &&
      !(p->member && p->link_state == CTL_LINK_UP && now - p->offline_ms < CTRL_OFFLINE_GRACE_MS))
    return false;
  /* Another node of our own account (the user's laptop and desktop). */
  const char *own = c->cfg.ctrl.xmpp.jid;
  size_t bl = bare_len(p->jid);
  if (strlen(own) == bl && strncmp(own, p->jid, bl) == 0)
    return true;
  const struct ctrl_contact *ct = ctrl_contact_find(c, p->jid);
  if (!ct || ct->subscription != XMPP_SUB_BOTH)
    return false;
  return c->cfg.ctrl.mode == CTRL_MODE_SOCIAL || ct->in_group;
}

void ctrl_plan(struct ctrl *c)
{
  if (!c->neg || !c->overlay_ready || c->stopping)
    return;
  uint64_t now = ipop_now_ms();
  if (c->cfg.ctrl.mode == CTRL_MODE_SOCIAL) {
    for (size_t i = 0; i < c->n_peers; i++)
      if (c->peers[i].member) {
        struct neg_peer_info info;
        if (negotiate_peer_info(c->neg, c->peers[i].node_id, now, &info) != 0 || !info.wanted)
          negotiate_connect(c->neg, c->peers[i].node_id, false, now, &c->acts);
      }
    ctrl_run_actions(c);
    return;
  }
  static char cur[CTRL_MAX_PEERS][NODEID_BUF];
  const char *ptr[CTRL_MAX_PEERS];
  size_t n = negotiate_current(c->neg, cur, CTRL_MAX_PEERS);
  if (n > CTRL_MAX_PEERS)
    n = CTRL_MAX_PEERS;
  for (size_t i = 0; i < n; i++)
    ptr[i] = cur[i];
  struct topology_plan plan;
  if (topology_plan(c->topo, now, ptr, n, &plan) != 0)
    return;
  for (size_t i = 0; i < plan.n_add; i++)
    negotiate_connect(c->neg, plan.add[i].peer_id, plan.add[i].kind == TOPO_ONDEMAND, now,
                      &c->acts);
  for (size_t i = 0; i < plan.n_remove; i++) {
    negotiate_disconnect(c->neg, plan.remove[i], true, SIGMSG_R_NOT_WANTED, now, &c->acts);
    topology_on_link_gone(c->topo, plan.remove[i]);
  }
  if (plan.n_add || plan.n_remove)
    LOG_DEBUG("topology", "plan: %zu desired, %zu to add, %zu to remove", plan.n_desired,
              plan.n_add, plan.n_remove);
  topology_plan_free(&plan);
  ctrl_run_actions(c);
}

/* Membership also expires (offline grace), so the timer re-checks it;
 * ctrl_membership_changed() plans. */
void ctrl_plan_timer_cb(uv_timer_t *t)
{
  ctrl_membership_changed(t->data);
}

void ctrl_membership_changed(struct ctrl *c)
{
  uint64_t now = ipop_now_ms();
  const char *ids[CTRL_MAX_PEERS];
  size_t n = 0;
  bool changed = false;
  for (size_t i = 0; i < c->n_peers; i++) {
    struct ctrl_peer *p = &c->peers[i];
    bool m = peer_allowed(c, p, now);
    changed = changed || m != p->member;
    if (p->member && !m) {
      LOG_INFO("peer", "%s (%.8s) is no longer a peer (%s)", p->jid, p->node_id,
               p->online ? "roster" : "offline");
      if (c->neg)
        negotiate_disconnect(c->neg, p->node_id, p->online, SIGMSG_R_NOT_WANTED, now, &c->acts);
      if (c->topo)
        topology_on_link_gone(c->topo, p->node_id);
    } else if (!p->member && m) {
      LOG_INFO("peer", "%s (%.8s) is a peer", p->jid, p->node_id);
    }
    p->member = m;
    if (m)
      ids[n++] = p->node_id;
  }
  /* Only on a real change: a new member set also clears the topology's
   * exclusions (peers that refused us), which must last until then. */
  if (c->topo && changed)
    topology_set_members(c->topo, ids, n);
  ctrl_run_actions(c);
  ctrl_group_check_conflicts(c);
  ctrl_plan(c);
}

void ctrl_overlay_ready(struct ctrl *c)
{
  if (!c->neg)
    return;
  uint64_t now = ipop_now_ms();
  negotiate_set_local(c->neg, c->mac, c->ip4);
  negotiate_reset(c->neg, now, &c->acts);
  for (size_t i = 0; i < c->n_peers; i++)
    c->peers[i].link_state = -1;
  ctrl_run_actions(c);
  ctrl_membership_changed(c);
}

/* ---- tincan events -------------------------------------------------------- */

void ctrl_on_link_state(struct ctrl *c, const struct ctl_ev_link_state *ev)
{
  struct ctrl_peer *p = ctrl_peer_by_id(c, ev->peer_id);
  if (p)
    p->link_state = ev->state;
  if (ev->state == CTL_LINK_DOWN || ev->state == CTL_LINK_FAILED)
    LOG_INFO("link", "link to %.8s is %s: %s", ev->peer_id, ctl_link_state_names[ev->state],
             ev->reason);
  if (!c->neg)
    return;
  negotiate_on_link_state(c->neg, ev->peer_id, ev->state, ipop_now_ms(), &c->acts);
  ctrl_run_actions(c);
  if (p && !p->online && p->member)
    ctrl_membership_changed(c); /* an offline peer's link went down: let it go */
}

void ctrl_on_unknown_dest(struct ctrl *c, const struct ctl_ev_unknown_dest *ev)
{
  c->unknown_dest_events++;
  if (!c->topo)
    return;
  struct ctrl_peer *hit = NULL;
  for (size_t i = 0; i < c->n_peers && !hit; i++) {
    struct ctrl_peer *p = &c->peers[i];
    if (!p->member)
      continue;
    if ((ev->has_dst_ip4 && p->has_ip4 && p->ip4.s_addr == ev->dst_ip4.s_addr) ||
        memcmp(p->mac, ev->dst_mac, 6) == 0)
      hit = p;
  }
  if (hit && topology_on_unknown_dest(c->topo, hit->node_id, ipop_now_ms()) == 1) {
    LOG_INFO("topology", "traffic for %s (%.8s): opening an on-demand link", hit->jid,
             hit->node_id);
    ctrl_plan(c);
  }
}

void ctrl_on_stats(struct ctrl *c, const struct ctl_link_stats *st)
{
  uint64_t now = ipop_now_ms();
  for (uint32_t i = 0; i < st->n_links; i++) {
    const struct ctl_link_stat *l = &st->links[i];
    if (strcmp(l->overlay_id, c->cfg.ctrl.overlay.id) != 0)
      continue;
    struct ctrl_peer *p = ctrl_peer_by_id(c, l->peer_id);
    if (p) {
      p->pair_type = l->pair_type;
      p->rtt_us = l->rtt_us;
      p->tx_bytes = l->tx_bytes;
      p->rx_bytes = l->rx_bytes;
    }
    if (c->topo)
      topology_on_link_bytes(c->topo, l->peer_id, l->tx_bytes + l->rx_bytes, now);
  }
}

/* ---- XMPP callbacks -------------------------------------------------------- */

static void on_state(struct xmpp_client *x, enum xmpp_state state, const char *reason, void *ctx)
{
  struct ctrl *c = ctx;
  if ((int)state == c->xmpp_state)
    return;
  c->xmpp_state = state;
  if (state == XMPP_STATE_ONLINE)
    LOG_DEBUG("peer", "XMPP online: waiting for roster and presences");
  else if (state == XMPP_STATE_OFFLINE || state == XMPP_STATE_AUTH_FAILED)
    LOG_WARN("xmpp", "%s%s%s (existing links stay up)", xmpp_state_name(state),
             reason ? ": " : "", reason ? reason : "");
  /* Presences are void while offline, but links keep carrying traffic;
   * the next login reports every peer afresh. */
}

static void on_roster(struct xmpp_client *x, const struct xmpp_roster_item *it, bool full,
                      void *ctx)
{
  struct ctrl *c = ctx;
  if (full && it && !c->roster_full_read) {
    c->roster_full_read = true;
    for (size_t i = 0; i < c->n_roster; i++)
      c->roster[i].seen = false;
  }
  if (!it) { /* end of a full read: drop what it did not list */
    size_t k = 0;
    for (size_t i = 0; i < c->n_roster; i++)
      if (c->roster[i].seen)
        c->roster[k++] = c->roster[i];
    c->n_roster = k;
    c->roster_full_read = false;
    ctrl_membership_changed(c);
    return;
  }
  if (strlen(it->jid) >= CTRL_JID_LEN)
    return;
  struct ctrl_contact *ct = ctrl_contact_find(c, it->jid);
  if (it->subscription == XMPP_SUB_REMOVE) {
    if (ct)
      *ct = c->roster[--c->n_roster];
  } else {
    if (!ct) {
      if (c->n_roster >= CTRL_MAX_ROSTER)
        return;
      ct = &c->roster[c->n_roster++];
      memset(ct, 0, sizeof *ct);
      snprintf(ct->jid, sizeof ct->jid, "%s", it->jid);
    }
    ct->subscription = it->subscription;
    ct->in_group = false;
    for (size_t i = 0; i < it->ngroups; i++)
      if (c->cfg.ctrl.group[0] && strcmp(it->groups[i], c->cfg.ctrl.group) == 0)
        ct->in_group = true;
    ct->seen = true;
  }
  if (!full)
    ctrl_membership_changed(c);
}

/* The peer's node came (back) online under a new full JID: an attempt
 * that is waiting out a backoff, or whose request went to the old JID, or
 * that gave up, starts over at once instead of waiting for its timers. */
static void restart_stale(struct ctrl *c, struct ctrl_peer *p)
{
  struct neg_peer_info info;
  uint64_t now = ipop_now_ms();
  if (!c->neg || !c->overlay_ready || negotiate_peer_info(c->neg, p->node_id, now, &info) != 0 ||
      !info.wanted)
    return;
  if (info.state != NEG_BACKOFF && info.state != NEG_REQUESTING && info.state != NEG_GIVEN_UP)
    return;
  LOG_DEBUG("peer", "%s is back: restarting negotiation (was %s)", p->jid,
            neg_state_names[info.state]);
  negotiate_disconnect(c->neg, p->node_id, false, SIGMSG_R_NOT_WANTED, now, &c->acts);
  negotiate_connect(c->neg, p->node_id, false, now, &c->acts);
  ctrl_run_actions(c);
}

static void on_presence(struct xmpp_client *x, const struct xmpp_presence *pr, void *ctx)
{
  struct ctrl *c = ctx;
  if (strlen(pr->from) >= CTRL_JID_LEN)
    return;
  struct ctrl_peer *p;
  if (pr->available && pr->node_id) {
    if (!nodeid_valid(pr->node_id)) {
      ipop_log_rl(&rl_presence, IPOP_LOG_WARN, "peer", "%s announces a malformed node id",
                  pr->from);
      return;
    }
    if (strcmp(pr->node_id, c->node_id) == 0)
      return;
    p = ctrl_peer_by_id(c, pr->node_id);
    if (!p && !(p = peer_add(c, pr->node_id))) {
      ipop_log_rl(&rl_presence, IPOP_LOG_WARN, "peer", "peer table full: %s ignored", pr->from);
      return;
    }
    /* The JID now speaks for this node id only (a node that restarted with
     * a new state directory announces a new id from the same JID). */
    for (size_t i = 0; i < c->n_peers; i++)
      if (&c->peers[i] != p && strcmp(c->peers[i].jid, pr->from) == 0) {
        c->peers[i].jid[0] = '\0';
        c->peers[i].online = false;
        c->peers[i].offline_ms = ipop_now_ms();
      }
    bool fresh = !p->online || strcmp(p->jid, pr->from) != 0;
    if (fresh)
      p->online_ms = ipop_now_ms();
    snprintf(p->jid, sizeof p->jid, "%s", pr->from);
    p->online = true;
    if (fresh)
      restart_stale(c, p);
    /* GroupVPN members announce their address in caps ("ip4=A.B.C.D"),
     * which maps unknown-destination events to members before any link. */
    struct in_addr a;
    if (c->cfg.ctrl.mode == CTRL_MODE_GROUP && pr->caps && strncmp(pr->caps, "ip4=", 4) == 0 &&
        inet_pton(AF_INET, pr->caps + 4, &a) == 1) {
      p->ip4 = a;
      p->has_ip4 = true;
    }
  } else {
    p = ctrl_peer_by_jid(c, pr->from);
    if (!p || !p->online)
      return;
    p->online = false;
    p->offline_ms = ipop_now_ms();
    if (p->link_state == CTL_LINK_UP)
      LOG_INFO("peer", "%s went offline; its link stays while it is up (grace %u s)", p->jid,
               CTRL_OFFLINE_GRACE_MS / 1000);
  }
  ctrl_membership_changed(c);
}

static void on_signal(struct xmpp_client *x, const struct xmpp_signal *s, void *ctx)
{
  struct ctrl *c = ctx;
  if (!c->neg)
    return;
  struct ctrl_peer *p = ctrl_peer_by_jid(c, s->from);
  struct jb_error err = { 0 };
  int rc = negotiate_on_signal(c->neg, p && p->online ? p->node_id : NULL, s->type, s->payload,
                               s->payload_len, ipop_now_ms(), &c->acts, &err);
  if (rc < 0) {
    c->bad_signals++;
    ipop_log_rl(&rl_bad_signal, IPOP_LOG_WARN, "signal", "%s from %s refused: %s", s->type,
                s->from, err.msg[0] ? err.msg : ipop_strerror(rc));
  }
  ctrl_run_actions(c);
}

/* ---- start ------------------------------------------------------------------ */

static int accept_inbound(void *ctx, const char *peer_id, bool ondemand)
{
  struct ctrl *c = ctx;
  struct ctrl_peer *p = ctrl_peer_by_id(c, peer_id);
  if (!p || !p->member)
    return SIGMSG_R_NOT_ALLOWED + 1;
  if (!c->overlay_ready)
    return SIGMSG_R_BUSY + 1;
  if (c->cfg.ctrl.mode == CTRL_MODE_SOCIAL)
    return 0;
  int rc = topology_on_inbound(c->topo, peer_id, ondemand, ipop_now_ms());
  if (rc == IPOP_EBUSY)
    return SIGMSG_R_OVER_BUDGET + 1;
  return rc == 0 ? 0 : SIGMSG_R_NOT_ALLOWED + 1;
}

int ctrl_policy_init(struct ctrl *c, char *why, size_t whylen)
{
  const struct ctrl_section *s = &c->cfg.ctrl;
  ctrl_parse_subnet(s->overlay.subnet, &c->net, &c->prefix);
  c->peers = calloc(CTRL_MAX_PEERS, sizeof *c->peers);
  c->roster = calloc(CTRL_MAX_ROSTER, sizeof *c->roster);
  if (!c->peers || !c->roster)
    return IPOP_ENOMEM;
  int rc;
  if (s->mode == CTRL_MODE_GROUP) {
    if (s->overlay.has_address) {
      c->ip4 = s->overlay.address;
    } else {
      struct groupaddr_subnet gs = { .net = c->net, .prefix = c->prefix };
      rc = groupaddr_derive(&gs, c->node_id, c->addr_attempt, &c->ip4);
      if (rc) {
        snprintf(why, whylen, "Controller.Overlay.Subnet: cannot derive an address: %s",
                 ipop_strerror(rc));
        return rc;
      }
    }
    struct topology_config tc;
    topology_config_defaults(&tc);
    tc.link_budget = s->link_budget;
    tc.ondemand_idle_ms = s->ondemand_idle * 1000;
    tc.rnd = policy_rand_os;
    rc = topology_create(&c->topo, &tc, c->node_id);
    if (rc) {
      snprintf(why, whylen, "topology: %s", ipop_strerror(rc));
      return rc;
    }
  } else {
    rc = ctrl_social_init(c, why, whylen);
    if (rc)
      return rc;
  }
  struct negotiate_config nc;
  negotiate_config_defaults(&nc);
  snprintf(nc.node_id, sizeof nc.node_id, "%s", c->node_id);
  snprintf(nc.overlay_id, sizeof nc.overlay_id, "%s", s->overlay.id);
  nc.ip4 = c->ip4;
  nc.timeout_ms = s->link_setup_timeout * 1000;
  nc.rnd = policy_rand_os;
  nc.accept = accept_inbound;
  nc.accept_ctx = c;
  rc = negotiate_create(&c->neg, &nc);
  if (rc) {
    snprintf(why, whylen, "negotiation: %s", ipop_strerror(rc));
    return rc;
  }
  uv_timer_init(c->loop, &c->neg_timer);
  c->neg_timer.data = c;
  uv_timer_init(c->loop, &c->plan_timer);
  c->plan_timer.data = c;
  uint64_t pi = (uint64_t)s->plan_interval * 1000;
  uv_timer_start(&c->plan_timer, ctrl_plan_timer_cb, pi, pi);
  return 0;
}

int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen)
{
  static const struct xmpp_callbacks cbs = {
    .on_state = on_state, .on_roster = on_roster, .on_presence = on_presence,
    .on_signal = on_signal,
  };
  char caps[64];
  snprintf(caps, sizeof caps, "ip4=%s", inet_ntoa(c->ip4));
  int rc = xmpp_client_new(c->loop, &c->cfg.ctrl.xmpp, c->node_id, caps, &cbs, c, &c->xmpp, why,
                           whylen);
  if (rc)
    return rc;
  return xmpp_client_start(c->xmpp);
}
