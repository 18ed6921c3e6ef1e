/* XMPP to the registry (peers.h): what the client reports goes into the
 * registry, which decides; then the overlays follow (links.h).  Signals go
 * to the overlay their payload names, from a sender the registry vouches
 * for, as the node it speaks for. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "groups.h"
#include "identity.h"
#include "ip6.h"
#include "links.h"
#include "log.h"
#include "net.h"
#include "pep.h"
#include "peers.h"
#include "routemsg.h"
#include "routes.h"

static struct ipop_ratelimit rl_bad_signal = IPOP_RATELIMIT_INIT(10000, 5);
static struct ipop_ratelimit rl_refused = IPOP_RATELIMIT_INIT(10000, 20);

static void on_state(struct xmpp_client *x, enum xmpp_state state, const char *reason, void *ctx)
{
  struct ctrl *c = ctx;
  if ((int)state == c->xmpp_state)
    return;
  bool was_online = c->xmpp_state == XMPP_STATE_ONLINE;
  c->xmpp_state = state;
  if (state == XMPP_STATE_ONLINE) {
    LOG_DEBUG("peer", "XMPP online: waiting for roster and presences");
    registry_online(c->reg, ipop_now_ms());
    ctrl_groups_on_online(c);
  } else if (state == XMPP_STATE_OFFLINE || state == XMPP_STATE_AUTH_FAILED) {
    LOG_WARN("xmpp", "%s%s%s (existing links stay up)", xmpp_state_name(state),
             reason ? ": " : "", reason ? reason : "");
  }
  /* What presence said stays until the next login has had its say:
   * links keep carrying traffic meanwhile. */
  if (was_online)
    registry_offline(c->reg, ipop_now_ms());
}

static void on_roster(struct xmpp_client *x, const struct xmpp_roster_item *it, bool full,
                      void *ctx)
{
  struct ctrl *c = ctx;
  if (full && it && !c->roster_full_read) {
    c->roster_full_read = true;
    registry_roster_begin(c->reg);
  }
  if (!it) { /* end of a full read: drop what it did not list */
    registry_roster_end(c->reg);
    c->roster_full_read = false;
    ctrl_membership_changed(c);
    return;
  }
  registry_roster_item(c->reg, it->jid, it->subscription, it->groups, it->ngroups);
  if (!full)
    ctrl_membership_changed(c);
}

static void on_presence(struct xmpp_client *x, const struct xmpp_presence *pr, void *ctx)
{
  struct ctrl *c = ctx;
  bool fresh = false;
  const struct reg_node *p = registry_presence(c->reg, pr->from, pr->node_id, pr->caps,
                                               pr->available, ipop_now_ms(), &fresh);
  struct ctrl_net *mn = ctrl_main_net(c);
  const struct reg_node *q = p ? p : registry_node_by_jid(c->reg, pr->from);
  if (!pr->available && q && mn) {
    const struct ctrl_link *l = ctrl_link_find(mn, q->id);
    if (l && l->link_state == CTL_LINK_UP)
      LOG_INFO("peer", "%s went offline; its link stays while it is up (grace %u s)", q->jid,
               CTRL_OFFLINE_GRACE_MS / 1000);
  }
  if (fresh)
    ctrl_restart_stale(c, p);
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

/* ---- signals --------------------------------------------------------------------- */

enum { HELD_MAX = 64, HELD_MAX_MS = 30000 };

struct ctrl_held {
  char from[XMPP_JID_MAX];
  char type[32];
  char net[CTL_ID_LEN];
  char *payload;
  size_t len;
  uint64_t since_ms;
};

static bool held_for(const struct ctrl *c, const char *from, const char *net)
{
  for (size_t i = 0; i < c->n_held; i++)
    if (strcmp(c->held[i].from, from) == 0 && strcmp(c->held[i].net, net) == 0)
      return true;
  return false;
}

static void held_drop(struct ctrl *c, size_t i)
{
  free(c->held[i].payload);
  memmove(&c->held[i], &c->held[i + 1], (c->n_held - i - 1) * sizeof c->held[0]);
  c->n_held--;
}

/* Keep s for later, after whatever is held from its sender there. */
static void hold(struct ctrl *c, const struct ctrl_net *n, const struct xmpp_signal *s,
                 uint64_t since)
{
  if (!c->held && !(c->held = calloc(HELD_MAX, sizeof *c->held)))
    return;
  char *p = c->n_held < HELD_MAX && strlen(s->from) < XMPP_JID_MAX && strlen(s->type) < 32
                ? malloc(s->payload_len + 1)
                : NULL;
  if (!p) {
    ipop_log_rl(&rl_refused, IPOP_LOG_WARN, "signal",
                "%s from %s dropped: %u signals wait for published identities", s->type,
                s->from, HELD_MAX);
    return;
  }
  memcpy(p, s->payload, s->payload_len);
  p[s->payload_len] = '\0';
  struct ctrl_held *h = &c->held[c->n_held++];
  snprintf(h->from, sizeof h->from, "%s", s->from);
  snprintf(h->type, sizeof h->type, "%s", s->type);
  snprintf(h->net, sizeof h->net, "%s", n->id);
  h->payload = p;
  h->len = s->payload_len;
  h->since_ms = since;
}

/* Hand s to negotiation: false if it was held (again). */
static bool deliver(struct ctrl *c, struct ctrl_net *n, const struct xmpp_signal *s)
{
  struct reg_node *p = NULL;
  switch (registry_signal_sender(c->reg, s->from, &p)) {
  case REG_SIG_BLOCKED:
    ipop_log_rl(&rl_refused, IPOP_LOG_INFO, "signal", "%s from %s dropped: blocked", s->type,
                s->from);
    return true;
  case REG_SIG_STRANGER:
    ipop_log_rl(&rl_refused, IPOP_LOG_WARN, "signal",
                "%s from %s dropped: not a mutual contact, our account or a member of our "
                "groups", s->type, s->from);
    return true;
  case REG_SIG_UNBOUND:
    ipop_log_rl(&rl_refused, IPOP_LOG_WARN, "signal",
                "%s from %s refused: it announced no node id of its own", s->type, s->from);
    return true;
  default:
    break;
  }
  if (strcmp(s->type, ROUTEMSG_TYPE) == 0) {
    ctrl_routes_on_signal(n, p->id, s->payload, s->payload_len);
    return true;
  }
  struct jb_error err = { 0 };
  int rc = negotiate_on_signal(n->neg, p->id, s->type, s->payload, s->payload_len,
                               ipop_now_ms(), &n->acts, &err);
  if (rc == NEG_HELD) {
    LOG_DEBUG("identity", "%s from %s (%.8s) on %s held: its published identity is being read",
              s->type, s->from, p->id, n->id);
    return false;
  }
  if (rc < 0) {
    c->bad_signals++;
    ipop_log_rl(&rl_bad_signal, IPOP_LOG_WARN, "signal", "%s from %s refused: %s", s->type,
                s->from, err.msg[0] ? err.msg : ipop_strerror(rc));
  }
  ctrl_run_actions(n);
  return true;
}

static void on_signal(struct xmpp_client *x, const struct xmpp_signal *s, void *ctx)
{
  struct ctrl *c = ctx;
  struct ctrl_net *n = signal_net(c, s);
  if (!n || !n->neg)
    return;
  /* After a held one from the same sender, in order. */
  if (held_for(c, s->from, n->id) || !deliver(c, n, s))
    hold(c, n, s, ipop_now_ms());
}

void ctrl_peers_replay(struct ctrl *c)
{
  uint64_t now = ipop_now_ms();
  for (size_t i = 0; i < c->n_held;) {
    struct ctrl_held *h = &c->held[i];
    struct ctrl_net *n = ctrl_net_by_id(c, h->net);
    bool blocked = false; /* an earlier one from this sender is still held */
    for (size_t k = 0; k < i && !blocked; k++)
      blocked = strcmp(c->held[k].from, h->from) == 0 && strcmp(c->held[k].net, h->net) == 0;
    if (!n || !n->neg || now - h->since_ms >= HELD_MAX_MS) {
      held_drop(c, i);
      continue;
    }
    struct xmpp_signal s = { .from = h->from, .type = h->type, .payload = h->payload,
                             .payload_len = h->len };
    if (!blocked && deliver(c, n, &s)) {
      held_drop(c, i);
      continue;
    }
    i++;
  }
}

void ctrl_peers_free(struct ctrl *c)
{
  while (c->n_held)
    held_drop(c, c->n_held - 1);
  free(c->held);
  c->held = NULL;
}

static void on_blocklist(struct xmpp_client *x, const struct xmpp_blocklist_event *ev,
                         void *ctx)
{
  struct ctrl *c = ctx;
  registry_blocklist(c->reg, ev->jids, ev->n, ev->blocked, ev->full);
  for (size_t i = 0; i < ev->n; i++)
    LOG_INFO("block", "%s %s", ev->jids[i], ev->blocked ? "blocked" : "unblocked");
  ctrl_membership_changed(c);
}

static void on_pep(struct xmpp_client *x, const struct xmpp_pep_event *ev, void *ctx)
{
  struct ctrl *c = ctx;
  uint64_t now = ipop_now_ms();
  const char *ids[XMPP_PEP_ITEMS_MAX], *fprs[XMPP_PEP_ITEMS_MAX];
  size_t n = ev->n < XMPP_PEP_ITEMS_MAX ? ev->n : XMPP_PEP_ITEMS_MAX;
  for (size_t i = 0; i < n; i++) {
    ids[i] = ev->items[i].node_id;
    fprs[i] = ev->items[i].fingerprint;
  }
  switch (ev->kind) {
  case XMPP_PEP_ITEMS:
  case XMPP_PEP_LIST:
    registry_pep_items(c->reg, ev->from, ids, fprs, n, ev->kind == XMPP_PEP_LIST, now);
    LOG_DEBUG("identity", "%s: %zu PEP item%s%s", ev->from, n, n == 1 ? "" : "s",
              ev->kind == XMPP_PEP_LIST ? " (all)" : "");
    break;
  case XMPP_PEP_RETRACT:
    registry_pep_retract(c->reg, ev->from, ev->retracted, ev->n_retracted);
    break;
  case XMPP_PEP_ERROR:
    registry_pep_failed(c->reg, ev->from, ev->condition, now);
    if (ev->condition && strcmp(ev->condition, "item-not-found") == 0)
      LOG_DEBUG("identity", "%s has published no PEP item yet", ev->from);
    else
      LOG_DEBUG("identity", "cannot read %s's PEP items: %s", ev->from,
                ev->condition ? ev->condition : "?");
    break;
  }
  ctrl_identity_check_own(c);
  ctrl_membership_changed(c);
  ctrl_peers_replay(c); /* what waited for these items */
}

static void on_result(struct xmpp_client *x, const struct xmpp_result *r, void *ctx)
{
  struct ctrl *c = ctx;
  if (r->op == XMPP_OP_PUBLISH)
    ctrl_identity_published(c, r);
  else
    ctrl_groups_on_result(c, r);
}

int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen)
{
  static struct xmpp_callbacks cbs = {
    .on_state = on_state, .on_roster = on_roster, .on_presence = on_presence,
    .on_signal = on_signal, .on_blocklist = on_blocklist, .on_pep = on_pep,
    .on_result = on_result,
  };
  ctrl_groups_callbacks(&cbs);
  struct ctrl_net *mn = ctrl_main_net(c);
  char caps[128];
  ctrl_caps_text(mn, caps, sizeof caps);
  int rc = xmpp_client_new(c->loop, &c->cfg.ctrl.xmpp, c->node_id, caps, &cbs, c, &c->xmpp, why,
                           whylen);
  if (rc)
    return rc;
  ctrl_groups_start(c);
  ctrl_identity_publish(c);
  return xmpp_client_start(c->xmpp);
}
