/* Requests from ipopctl: echo, status, peers, links, counters (groups and
 * blocking: groups_admin.c; known, trust, untrust: identity.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "error.h"
#include "groups.h"
#include "identity.h"
#include "links.h"
#include "log.h"
#include "net.h"
#include "tincan.h"

static void handle_echo(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                        void *ctx)
{
  ctl_reply(req, body);
}

static void handle_status(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                          void *ctx)
{
  struct ctrl *c = ctx;
  struct ctl_status *st = calloc(1, sizeof *st);
  if (!st) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  st->tincan = c->tincan_state;
  snprintf(st->version, sizeof st->version, "%s", IPOP_VERSION);
  st->uptime_s = (ipop_now_ms() - c->started_ms) / 1000;
  snprintf(st->tincan_endpoint, sizeof st->tincan_endpoint, "%s", c->cfg.control.tincan);
  struct ctrl_net *mn = ctrl_main_net(c);
  if (mn) {
    snprintf(st->mode, sizeof st->mode, "%s", ctrl_mode_names[c->cfg.ctrl.mode]);
    snprintf(st->overlay_id, sizeof st->overlay_id, "%s", mn->id);
    st->ip4 = mn->ip4;
    st->ip4_prefix = mn->prefix;
    st->has_ip4 = true;
    st->ip6 = mn->ip6;
    st->ip6_prefix = mn->net6.prefix;
    st->has_ip6 = mn->has_ip6;
    st->overlay_ready = mn->ready;
    snprintf(st->conflict, sizeof st->conflict, "%s", mn->conflict);
    snprintf(st->fingerprint, sizeof st->fingerprint, "%s", mn->fingerprint);
    for (size_t i = 0; i < mn->n_links; i++) {
      st->peers += mn->links[i]->member;
      st->links_up += mn->links[i]->link_state == CTL_LINK_UP;
    }
  }
  snprintf(st->trust, sizeof st->trust, "%s", reg_trust_names[c->cfg.ctrl.trust]);
  snprintf(st->xmpp, sizeof st->xmpp, "%s",
           c->xmpp ? xmpp_state_name(c->xmpp_state) : "disabled");
  if (c->xmpp)
    snprintf(st->jid, sizeof st->jid, "%s", xmpp_client_jid(c->xmpp));
  snprintf(st->node_id, sizeof st->node_id, "%s", c->node_id);
  ctl_reply(req, st);
  free(st);
}

/* The configured overlay's peers (groups: the `groups` request). */
static void reply_peers(struct ctrl *c, struct ctl_request *req)
{
  struct ctrl_net *mn = ctrl_main_net(c);
  struct ctl_peers *out = calloc(1, sizeof *out);
  if (!out) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  uint64_t now = ipop_now_ms();
  for (size_t i = 0; mn && i < mn->n_links; i++) {
    const struct ctrl_link *l = mn->links[i];
    const struct reg_node *p = registry_node(c->reg, l->peer);
    if (!p || (!l->member && l->link_state < 0))
      continue;
    out->total++;
    if (out->n_peers >= CTL_MAX_PEERS_REPORTED)
      continue;
    struct ctl_peer_entry *e = &out->peers[out->n_peers++];
    snprintf(e->jid, sizeof e->jid, "%s", p->jid[0] ? p->jid : p->owner->jid);
    snprintf(e->node_id, sizeof e->node_id, "%s", p->id);
    e->online = reg_node_online(p);
    e->member = l->member;
    struct neg_peer_info info;
    snprintf(e->negotiation, sizeof e->negotiation, "%s",
             mn->neg && negotiate_peer_info(mn->neg, p->id, now, &info) == 0
                 ? neg_state_names[info.state]
                 : "none");
    if (l->link_state >= 0) {
      e->link_state = l->link_state;
      e->has_link_state = true;
    }
    e->ip4 = l->ip4;
    e->has_ip4 = l->has_ip4;
    e->mapped_ip4 = l->mapped_ip4;
    e->has_mapped_ip4 = l->has_mapped;
    e->ip6 = l->ip6;
    e->has_ip6 = l->has_ip6;
    e->mapped_ip6 = l->mapped_ip6;
    e->has_mapped_ip6 = l->has_mapped6;
    e->pair_type = l->pair_type;
    e->rtt_us = l->rtt_us;
    e->tx_bytes = l->tx_bytes;
    e->rx_bytes = l->rx_bytes;
  }
  ctl_reply(req, out);
  free(out);
}

/* links: ask tincan for fresh link stats and pass them on (the answer to
 * ipopctl waits for tincan's). */
struct links_call {
  struct ctrl *c;
  struct ctl_request *req;
  bool peers;                   /* answer with the peer table (peers), not the links */
};

static void links_answer(int status, const void *result, const char *err, void *ctx)
{
  struct links_call *lc = ctx;
  if (lc->peers) {
    /* Fresh pair types, RTTs and byte counts if tincan answers; the last
     * stats event's otherwise. */
    if (status == 0)
      ctrl_on_stats(lc->c, result);
    reply_peers(lc->c, lc->req);
  } else if (status == 0) {
    ctrl_on_stats(lc->c, result);
    ctl_reply(lc->req, result);
  } else {
    ctl_reply_error(lc->req, status, "ipop-tincan: %s", err ? err : ipop_strerror(status));
  }
  free(lc);
}

static void query_links(struct ctrl *c, struct ctl_request *req, bool peers)
{
  struct ctrl_net *mn = ctrl_main_net(c);
  if (!mn && peers) {
    reply_peers(c, req);
    return;
  }
  if (!mn) {
    ctl_reply_error(req, IPOP_ESTATE, "no overlay configured (Controller.Overlay)");
    return;
  }
  struct links_call *lc = calloc(1, sizeof *lc);
  struct ctl_link_stats_query q = { .has_overlay_id = true };
  snprintf(q.overlay_id, sizeof q.overlay_id, "%s", mn->id);
  if (!lc) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  lc->c = c;
  lc->req = req;
  lc->peers = peers;
  int rc = ctrl_tincan_send(c, "query_link_stats", &q, 2000, links_answer, lc);
  if (rc) {
    free(lc);
    if (peers)
      reply_peers(c, req);
    else
      ctl_reply_error(req, rc, "cannot ask ipop-tincan: %s", ipop_strerror(rc));
  }
}

static void handle_links(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  query_links(ctx, req, false);
}

static void handle_peers(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  query_links(ctx, req, true);
}

static void handle_counters(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                            void *ctx)
{
  struct ctrl *c = ctx;
  struct ctl_controller_stats s = { 0 };
  if (c->xmpp) {
    struct xmpp_counters x;
    xmpp_client_counters(c->xmpp, &x);
    s.xmpp_reconnects = x.reconnects;
    s.signals_in = x.signals_in;
    s.signals_out = x.signals_out;
    s.signals_bad = x.bad_signals;
    s.xmpp_stanzas_skipped = x.stanzas_skipped;
  }
  if (c->reg) {
    /* Not allowed by roster or room, or from a blocked JID. */
    struct reg_counters r;
    registry_counters(c->reg, &r);
    s.signals_dropped = r.signals_blocked + r.signals_stranger;
    s.signals_unbound = r.signals_unbound;
    s.identity_conflicts = r.conflicts;
    s.fingerprints_refused = r.fpr_refused;
    s.fingerprints_pinned = r.fpr_pinned;
  }
  s.addr_claims_refused = c->addr_claims_refused;
  for (size_t i = 0; i < c->n_nets; i++) {
    struct neg_counters n;
    negotiate_counters(c->nets[i]->neg, &n);
    s.neg_bad += n.bad_msgs;
    s.neg_ignored += n.ignored_msgs;
    s.neg_stale += n.stale_msgs;
    s.neg_glare += n.glare;
    s.neg_timeouts += n.timeouts;
    s.neg_links_up += n.links_up;
  }
  s.links_created = c->links_created;
  s.tincan_errors = c->tincan_errors;
  s.unknown_dest_events = c->unknown_dest_events;
  const struct ctl_endpoint_stats *es = ctl_endpoint_stats(ep);
  s.ctl_requests_in = es->requests_in;
  s.ctl_auth_rejected = es->auth.bad_length + es->auth.bad_magic + es->auth.bad_mac +
                        es->auth.stale + es->auth.replayed;
  ctl_reply(req, &s);
}

const struct ctl_handler ctrl_admin_handlers[] = {
  { "echo", handle_echo },   { "status", handle_status },     { "peers", handle_peers },
  { "links", handle_links }, { "counters", handle_counters },
  { "groups", ctrl_handle_groups },
  { "group_create", ctrl_handle_group_create },
  { "group_invite", ctrl_handle_group_invite },
  { "group_join", ctrl_handle_group_join },
  { "group_leave", ctrl_handle_group_leave },
  { "group_remove", ctrl_handle_group_remove },
  { "block", ctrl_handle_block },
  { "unblock", ctrl_handle_unblock },
  { "blocklist", ctrl_handle_blocklist },
  { "known", ctrl_handle_known },
  { "trust", ctrl_handle_trust },
  { "untrust", ctrl_handle_untrust },
};
const unsigned ctrl_admin_handlers_count =
    sizeof ctrl_admin_handlers / sizeof ctrl_admin_handlers[0];
