/* metrics.h: /metrics in the Prometheus text format.  Peer-supplied
 * strings (JIDs) only ever appear as escaped label values (promtext.c). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "procstat.h"
#include "promtext.h"

const char *ctrl_net_kind_name(const struct ctrl_net *n)
{
  return n->kind == CTRL_NET_SOCIAL ? "social" : n->kind == CTRL_NET_MUC ? "room" : "group";
}

#define L(n, v) { .name = (n), .value = (v) }
#define NL(a) (sizeof(a) / sizeof((a)[0]))

/* ---- per link --------------------------------------------------------- */

struct link_family {
  const char *name, *type, *help;
};

enum {
  LF_UP, LF_STATE, LF_PAIR, LF_RTT, LF_TXB, LF_RXB, LF_TXP, LF_RXP, LF_DROPS, LF_SPOOF, LF_REKEYS, LF_N
};
static const struct link_family link_families[LF_N] = {
  [LF_UP] = { "ipop_link_up", "gauge", "1 if the link is up (DTLS keyed), 0 while it is being "
                                       "set up, down or failed" },
  [LF_STATE] = { "ipop_link_state", "gauge",
                 "1 for the link's state in ipop-tincan (new, connecting, up, down, failed)" },
  [LF_PAIR] = { "ipop_link_pair_type", "gauge",
                "1 for the ICE candidate pair type the link uses (host, srflx, prflx, relay; "
                "none before a pair is selected)" },
  [LF_RTT] = { "ipop_link_rtt_seconds", "gauge", "Round-trip time of the selected pair" },
  [LF_TXB] = { "ipop_link_sent_bytes_total", "counter", "Bytes sent on the link" },
  [LF_RXB] = { "ipop_link_received_bytes_total", "counter", "Bytes received on the link" },
  [LF_TXP] = { "ipop_link_sent_packets_total", "counter", "Packets sent on the link" },
  [LF_RXP] = { "ipop_link_received_packets_total", "counter", "Packets received on the link" },
  [LF_DROPS] = { "ipop_link_dropped_packets_total", "counter",
                 "Frames and records the link dropped (before keying, malformed inner "
                 "records and fragments, frames missing a piece)" },
  [LF_SPOOF] = { "ipop_link_spoofed_frames_total", "counter",
                 "Frames from the peer dropped: source MAC or address not the peer's" },
  [LF_REKEYS] = { "ipop_link_rekeys_total", "counter", "Key rotations completed on the link" },
};

static const char *peer_jid(struct ctrl *c, const char *node_id)
{
  const struct reg_node *p = c->reg ? registry_node(c->reg, node_id) : NULL;
  return p ? p->owner->jid : "";
}

static void link_sample(struct promtext *p, struct ctrl *c, int f, const struct ctrl_net *n,
                        const struct ctrl_link *l)
{
  struct prom_label lab[4] = { L("overlay", n->id), L("peer", l->peer),
                               L("peer_jid", peer_jid(c, l->peer)), L("type", NULL) };
  const char *name = link_families[f].name;
  switch (f) {
  case LF_UP: promtext_u64(p, name, lab, 3, l->link_state == CTL_LINK_UP); break;
  case LF_STATE:
    lab[3].name = "state";
    lab[3].value = ctl_link_state_names[l->link_state];
    promtext_u64(p, name, lab, 4, 1);
    break;
  case LF_PAIR:
    lab[3].value = ctl_pair_type_names[l->pair_type];
    promtext_u64(p, name, lab, 4, 1);
    break;
  case LF_RTT: promtext_double(p, name, lab, 3, l->rtt_us / 1e6); break;
  case LF_TXB: promtext_u64(p, name, lab, 3, l->tx_bytes); break;
  case LF_RXB: promtext_u64(p, name, lab, 3, l->rx_bytes); break;
  case LF_TXP: promtext_u64(p, name, lab, 3, l->tx_packets); break;
  case LF_RXP: promtext_u64(p, name, lab, 3, l->rx_packets); break;
  case LF_DROPS: promtext_u64(p, name, lab, 3, l->drops); break;
  case LF_SPOOF: promtext_u64(p, name, lab, 3, l->spoofed); break;
  case LF_REKEYS: promtext_u64(p, name, lab, 3, l->rekeys); break;
  }
}

/* Every link tincan holds (or is setting up) on every overlay; a member
 * without a link has no series here (ipop_overlay_members_online counts
 * it). */
static void links(struct promtext *p, struct ctrl *c)
{
  for (int f = 0; f < LF_N; f++) {
    promtext_family(p, link_families[f].name, link_families[f].type, link_families[f].help);
    for (size_t i = 0; i < c->n_nets; i++) {
      const struct ctrl_net *n = c->nets[i];
      for (size_t k = 0; k < n->n_links; k++)
        if (n->links[k]->link_state >= 0 && n->links[k]->link_state <= CTL_LINK_FAILED &&
            n->links[k]->pair_type >= 0 && n->links[k]->pair_type <= CTL_PAIR_RELAY)
          link_sample(p, c, f, n, n->links[k]);
    }
  }
}

/* ---- per overlay ------------------------------------------------------ */

static void overlays(struct promtext *p, struct ctrl *c)
{
  promtext_family(p, "ipop_overlay_info", "gauge",
                  "1 per overlay: its kind (group, social, room) and TAP device");
  for (size_t i = 0; i < c->n_nets; i++) {
    const struct ctrl_net *n = c->nets[i];
    struct prom_label lab[] = { L("overlay", n->id), L("kind", ctrl_net_kind_name(n)),
                                L("tap", n->tap_name) };
    promtext_u64(p, "ipop_overlay_info", lab, NL(lab), 1);
  }
  promtext_family(p, "ipop_overlay_ready", "gauge",
                  "1 once the overlay exists in the running ipop-tincan");
  for (size_t i = 0; i < c->n_nets; i++) {
    struct prom_label lab[] = { L("overlay", c->nets[i]->id) };
    promtext_u64(p, "ipop_overlay_ready", lab, 1, c->nets[i]->ready);
  }
  promtext_family(p, "ipop_overlay_members_online", "gauge",
                  "Other members of the overlay that are online now");
  for (size_t i = 0; i < c->n_nets; i++) {
    const struct ctrl_net *n = c->nets[i];
    uint64_t online = 0;
    for (size_t k = 0; k < n->n_links; k++) {
      const struct reg_node *r = c->reg ? registry_node(c->reg, n->links[k]->peer) : NULL;
      online += n->links[k]->member && r && reg_node_online(r);
    }
    struct prom_label lab[] = { L("overlay", n->id) };
    promtext_u64(p, "ipop_overlay_members_online", lab, 1, online);
  }
  promtext_family(p, "ipop_overlay_links", "gauge", "Links up, by ICE candidate pair type");
  for (size_t i = 0; i < c->n_nets; i++) {
    const struct ctrl_net *n = c->nets[i];
    uint64_t by[CTL_PAIR_RELAY + 1] = { 0 };
    for (size_t k = 0; k < n->n_links; k++) {
      const struct ctrl_link *l = n->links[k];
      if (l->link_state == CTL_LINK_UP && l->pair_type >= 0 && l->pair_type <= CTL_PAIR_RELAY)
        by[l->pair_type]++;
    }
    for (int t = CTL_PAIR_HOST; t <= CTL_PAIR_RELAY; t++) {
      struct prom_label lab[] = { L("overlay", n->id), L("type", ctl_pair_type_names[t]) };
      promtext_u64(p, "ipop_overlay_links", lab, NL(lab), by[t]);
    }
  }
  promtext_family(p, "ipop_overlay_ondemand_links", "gauge",
                  "On-demand links held (GroupVPN: opened for traffic, trimmed when idle)");
  for (size_t i = 0; i < c->n_nets; i++) {
    struct prom_label lab[] = { L("overlay", c->nets[i]->id) };
    promtext_u64(p, "ipop_overlay_ondemand_links", lab, 1,
                 c->nets[i]->topo ? topology_ondemand_count(c->nets[i]->topo) : 0);
  }
  static const struct {
    const char *name, *help;
  } neg[] = {
    { "ipop_overlay_negotiations_started_total", "Link negotiations this node began" },
    { "ipop_overlay_negotiations_failed_total",
      "Link negotiations (ours or a peer's) that ended without a link" },
    { "ipop_overlay_negotiations_refused_total",
      "Link requests refused: by=\"peer\" ours refused, by=\"us\" a peer's we refused" },
  };
  for (size_t f = 0; f < NL(neg); f++) {
    promtext_family(p, neg[f].name, "counter", neg[f].help);
    for (size_t i = 0; i < c->n_nets; i++) {
      struct neg_counters nc = { 0 };
      if (c->nets[i]->neg)
        negotiate_counters(c->nets[i]->neg, &nc);
      struct prom_label lab[] = { L("overlay", c->nets[i]->id), L("by", "peer") };
      if (f == 0)
        promtext_u64(p, neg[f].name, lab, 1, nc.started);
      else if (f == 1)
        promtext_u64(p, neg[f].name, lab, 1, nc.failed);
      else {
        promtext_u64(p, neg[f].name, lab, 2, nc.refused_by_peer);
        lab[1].value = "us";
        promtext_u64(p, neg[f].name, lab, 2, nc.refused_by_us);
      }
    }
  }
}

/* ---- XMPP, the node, both processes ------------------------------------ */

static void xmpp(struct promtext *p, struct ctrl *c)
{
  static const char *const states[] = { "offline", "connecting", "online", "auth_failed" };
  promtext_family(p, "ipop_xmpp_state", "gauge",
                  "1 for the XMPP session's current state (offline, connecting, online, "
                  "auth_failed); no series when XMPP is not configured");
  for (int s = 0; c->xmpp && s < 4; s++) {
    struct prom_label lab[] = { L("state", states[s]) };
    promtext_u64(p, "ipop_xmpp_state", lab, 1, c->xmpp_state == s);
  }
  struct xmpp_counters x = { 0 };
  struct reg_counters r = { 0 };
  if (c->xmpp)
    xmpp_client_counters(c->xmpp, &x);
  if (c->reg)
    registry_counters(c->reg, &r);
  promtext_family(p, "ipop_xmpp_reconnects_total", "counter",
                  "XMPP connection attempts after the first");
  promtext_u64(p, "ipop_xmpp_reconnects_total", NULL, 0, x.reconnects);
  promtext_family(p, "ipop_xmpp_signals_total", "counter", "Signals (link negotiation "
                  "messages) received (direction=in) and sent (out)");
  struct prom_label d[] = { L("direction", "in") };
  promtext_u64(p, "ipop_xmpp_signals_total", d, 1, x.signals_in);
  d[0].value = "out";
  promtext_u64(p, "ipop_xmpp_signals_total", d, 1, x.signals_out);
  const struct {
    const char *reason;
    uint64_t v;
  } refused[] = {
    { "malformed_signal", x.bad_signals }, { "stream_error", x.stream_errors },
    { "bad_muc", x.muc_dropped },          { "bad_pep", x.pep_dropped },
    { "blocked", r.signals_blocked },      { "stranger", r.signals_stranger },
    { "unbound", r.signals_unbound },      { "fingerprint", r.fpr_refused },
  };
  promtext_family(p, "ipop_xmpp_stanzas_refused_total", "counter",
                  "Stanzas and signals refused, by reason (malformed_signal, stream_error, "
                  "bad_muc, bad_pep, blocked sender, stranger: no contact or occupant, "
                  "unbound: sender without a node id, fingerprint: not the pinned one)");
  for (size_t i = 0; i < NL(refused); i++) {
    struct prom_label lab[] = { L("reason", refused[i].reason) };
    promtext_u64(p, "ipop_xmpp_stanzas_refused_total", lab, 1, refused[i].v);
  }
  promtext_family(p, "ipop_identity_conflicts_total", "counter",
                  "Node ids claimed by a second account");
  promtext_u64(p, "ipop_identity_conflicts_total", NULL, 0, r.conflicts);
}

/* process_* as the Prometheus client libraries name them, one series per
 * daemon (label daemon="controller" or "tincan"); tincan's come from its
 * query_process answer (a privileged process's /proc/PID/fd is not ours
 * to read). */
static void processes(struct promtext *p, const struct ctl_process_info *tincan)
{
  struct ipop_procstat ps[2] = { { 0 } };
  ipop_procstat_self(&ps[0]);
  if (tincan) {
    ps[1] = (struct ipop_procstat){
      .cpu_ms = tincan->cpu_ms, .rss_bytes = tincan->rss_bytes,
      .vsize_bytes = tincan->vsize_bytes, .open_fds = tincan->open_fds,
      .max_fds = tincan->max_fds, .start_time_s = tincan->start_time_s,
    };
  }
  static const char *const fam[6][3] = {
    { "process_cpu_seconds_total", "counter", "User and system CPU time spent" },
    { "process_resident_memory_bytes", "gauge", "Resident memory size" },
    { "process_virtual_memory_bytes", "gauge", "Virtual memory size" },
    { "process_open_fds", "gauge", "Open file descriptors" },
    { "process_max_fds", "gauge", "Maximum number of open file descriptors" },
    { "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch" },
  };
  for (int f = 0; f < 6; f++) {
    promtext_family(p, fam[f][0], fam[f][1], fam[f][2]);
    for (int d = 0; d < (tincan ? 2 : 1); d++) {
      const struct ipop_procstat *s = &ps[d];
      struct prom_label lab[] = { L("daemon", d ? "tincan" : "controller") };
      uint64_t v[6] = { 0, s->rss_bytes, s->vsize_bytes, s->open_fds, s->max_fds,
                        s->start_time_s };
      if (f == 0)
        promtext_double(p, fam[f][0], lab, 1, s->cpu_ms / 1000.0);
      else
        promtext_u64(p, fam[f][0], lab, 1, v[f]);
    }
  }
}

static void node(struct promtext *p, struct ctrl *c)
{
  promtext_family(p, "ipop_build_info", "gauge", "1, labelled with the ipop version");
  struct prom_label v[] = { L("version", IPOP_VERSION) };
  promtext_u64(p, "ipop_build_info", v, 1, 1);
  promtext_family(p, "ipop_node_info", "gauge", "1, labelled with this node's id and JID");
  struct prom_label n[] = { L("node", c->node_id),
                            L("jid", c->xmpp ? xmpp_client_jid(c->xmpp) : "") };
  promtext_u64(p, "ipop_node_info", n, 2, 1);
  promtext_family(p, "ipop_tincan_up", "gauge",
                  "1 while ipop-tincan answers the controller's heartbeat");
  promtext_u64(p, "ipop_tincan_up", NULL, 0, c->tincan_state == CTL_DAEMON_UP);
  promtext_family(p, "ipop_tincan_errors_total", "counter",
                  "Requests to ipop-tincan that failed");
  promtext_u64(p, "ipop_tincan_errors_total", NULL, 0, c->tincan_errors);
}

char *ctrl_metrics_render(struct ctrl *c, const struct ctl_process_info *tincan, size_t *len)
{
  struct promtext p = { 0 };
  node(&p, c);
  xmpp(&p, c);
  overlays(&p, c);
  links(&p, c);
  processes(&p, tincan);
  return promtext_take(&p, len);
}
