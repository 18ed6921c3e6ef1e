/* XMPP ⇄ controller glue: the roster and peer tables fed by the XMPP
 * client, presences, and signals routed to the overlay they name. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

bool ctrl_same_bare(const char *jid, const char *bare)
{
  size_t n = bare_len(jid);
  return bare_len(bare) == n && strncmp(jid, bare, n) == 0;
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
  for (size_t i = 0; i < c->n_nets; i++) {
    struct ctrl_link *l = ctrl_link_of(c->nets[i], p);
    memset(l, 0, sizeof *l);
    l->link_state = -1;
  }
  return p;
}

/* ---- XMPP callbacks -------------------------------------------------------- */

static void on_state(struct xmpp_client *x, enum xmpp_state state, const char *reason, void *ctx)
{
  struct ctrl *c = ctx;
  if ((int)state == c->xmpp_state)
    return;
  c->xmpp_state = state;
  if (state == XMPP_STATE_ONLINE) {
    LOG_DEBUG("peer", "XMPP online: waiting for roster and presences");
    ctrl_groups_on_online(c);
  }
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

/* A full JID announced an IPOP node id (in presence, or as a room
 * occupant): the peer table's entry for that node, created if new.  The
 * JID now speaks for this node id only (a node that restarted with a new
 * state directory announces a new id from the same JID). */
struct ctrl_peer *ctrl_peer_seen(struct ctrl *c, const char *full_jid, const char *node_id)
{
  if (strlen(full_jid) >= CTRL_JID_LEN || strcmp(node_id, c->node_id) == 0)
    return NULL;
  if (!nodeid_valid(node_id)) {
    ipop_log_rl(&rl_presence, IPOP_LOG_WARN, "peer", "%s announces a malformed node id",
                full_jid);
    return NULL;
  }
  struct ctrl_peer *p = ctrl_peer_by_id(c, node_id);
  if (!p && !(p = peer_add(c, node_id))) {
    ipop_log_rl(&rl_presence, IPOP_LOG_WARN, "peer", "peer table full: %s ignored", full_jid);
    return NULL;
  }
  for (size_t i = 0; i < c->n_peers; i++)
    if (&c->peers[i] != p && strcmp(c->peers[i].jid, full_jid) == 0) {
      c->peers[i].jid[0] = '\0';
      c->peers[i].online = false;
      c->peers[i].offline_ms = ipop_now_ms();
    }
  bool fresh = !p->online || strcmp(p->jid, full_jid) != 0;
  if (fresh)
    p->online_ms = ipop_now_ms();
  snprintf(p->jid, sizeof p->jid, "%s", full_jid);
  p->online = true;
  if (fresh)
    ctrl_restart_stale(c, p);
  return p;
}

static void on_presence(struct xmpp_client *x, const struct xmpp_presence *pr, void *ctx)
{
  struct ctrl *c = ctx;
  if (strlen(pr->from) >= CTRL_JID_LEN)
    return;
  struct ctrl_peer *p;
  if (pr->available && pr->node_id) {
    p = ctrl_peer_seen(c, pr->from, pr->node_id);
    if (!p)
      return;
    /* GroupVPN members announce their address in caps ("ip4=A.B.C.D"),
     * which maps unknown-destination events to members before any link. */
    struct in_addr a;
    struct ctrl_net *mn = ctrl_main_net(c);
    if (mn && mn->kind == CTRL_NET_ROSTER && pr->caps && strncmp(pr->caps, "ip4=", 4) == 0 &&
        inet_pton(AF_INET, pr->caps + 4, &a) == 1) {
      p->caps_ip4 = a;
      p->has_caps_ip4 = true;
      ctrl_link_of(mn, p)->ip4 = a;
      ctrl_link_of(mn, p)->has_ip4 = true;
    }
  } else {
    p = ctrl_peer_by_jid(c, pr->from);
    if (!p || !p->online)
      return;
    p->online = false;
    p->offline_ms = ipop_now_ms();
    struct ctrl_net *mn = ctrl_main_net(c);
    if (mn && ctrl_link_of(mn, p)->link_state == CTL_LINK_UP)
      LOG_INFO("peer", "%s went offline; its link stays while it is up (grace %u s)", p->jid,
               CTRL_OFFLINE_GRACE_MS / 1000);
  }
  ctrl_membership_changed(c);
}

/* The overlay a signal is for: its "overlay_id" (the payload is checked
 * in full by that overlay's negotiation).  Unknown or missing: the
 * configured overlay, whose negotiation answers wrong_overlay or counts
 * the message as bad. */
static struct ctrl_net *signal_net(struct ctrl *c, const struct xmpp_signal *s)
{
  struct ctrl_net *n = NULL;
  json_t *j = json_loadb(s->payload, s->payload_len, JSON_REJECT_DUPLICATES, NULL);
  const char *id = j ? json_string_value(json_object_get(j, "overlay_id")) : NULL;
  if (id)
    n = ctrl_net_by_id(c, id);
  json_decref(j);
  if (!n)
    n = ctrl_main_net(c);
  if (!n && c->n_nets)
    n = c->nets[0];
  return n;
}

static void on_signal(struct xmpp_client *x, const struct xmpp_signal *s, void *ctx)
{
  struct ctrl *c = ctx;
  if (ctrl_blocked(c, s->from)) {
    c->blocked_signals++; /* the library drops them first; this is a second line */
    return;
  }
  struct ctrl_net *n = signal_net(c, s);
  if (!n || !n->neg)
    return;
  struct ctrl_peer *p = ctrl_peer_by_jid(c, s->from);
  struct jb_error err = { 0 };
  int rc = negotiate_on_signal(n->neg, p && p->online ? p->node_id : NULL, s->type, s->payload,
                               s->payload_len, ipop_now_ms(), &n->acts, &err);
  if (rc < 0) {
    c->bad_signals++;
    ipop_log_rl(&rl_bad_signal, IPOP_LOG_WARN, "signal", "%s from %s refused: %s", s->type,
                s->from, err.msg[0] ? err.msg : ipop_strerror(rc));
  }
  ctrl_run_actions(n);
}

/* ---- start ------------------------------------------------------------------ */

void ctrl_update_caps(struct ctrl *c)
{
  struct ctrl_net *mn = ctrl_main_net(c);
  char caps[64] = "";
  if (mn)
    snprintf(caps, sizeof caps, "ip4=%s", inet_ntoa(mn->ip4));
  if (c->xmpp)
    xmpp_client_set_caps(c->xmpp, caps);
}

int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen)
{
  static struct xmpp_callbacks cbs = {
    .on_state = on_state, .on_roster = on_roster, .on_presence = on_presence,
    .on_signal = on_signal,
  };
  ctrl_groups_callbacks(&cbs);
  struct ctrl_net *mn = ctrl_main_net(c);
  char caps[64] = "";
  if (mn)
    snprintf(caps, sizeof caps, "ip4=%s", inet_ntoa(mn->ip4));
  int rc = xmpp_client_new(c->loop, &c->cfg.ctrl.xmpp, c->node_id, caps, &cbs, c, &c->xmpp, why,
                           whylen);
  if (rc)
    return rc;
  ctrl_groups_start(c);
  return xmpp_client_start(c->xmpp);
}
