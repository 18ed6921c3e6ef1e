/* GroupVPN forwarding: routing state to neighbours and to tincan (routes.h). */
#include "routes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr6.h"
#include "error.h"
#include "groupaddr.h"
#include "hash.h"
#include "log.h"
#include "net.h"
#include "registry.h"
#include "routemsg.h"
#include "tincan.h"
#include "xmpp.h"

static struct ipop_ratelimit rl_bad = IPOP_RATELIMIT_INIT(10000, 5);
static struct ipop_ratelimit rl_tincan = IPOP_RATELIMIT_INIT(10000, 3);

/* A change detector over what we send: two FNV-1a streams. */
struct sum {
  uint32_t a, b;
};

static void sum_add(struct sum *s, const void *p, size_t n)
{
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++) {
    s->a = ipop_fnv1a_add(s->a, b[i]);
    s->b = ipop_fnv1a_add(s->b, (uint8_t)(b[i] ^ 0x5a));
  }
}

static uint64_t sum_value(const struct sum *s)
{
  return (uint64_t)s->a << 32 | s->b;
}

void ctrl_routes_kick(struct ctrl *c)
{
  if (c->routes_soon || c->stopping || !c->routes_timer.data)
    return;
  c->routes_soon = true;
  c->routes_refresh_armed = false;
  uv_timer_start(&c->routes_timer, ctrl_routes_timer_cb, ROUTES_SOON_MS, 0);
}

/* Members and neighbours (members whose link is up) into the routing
 * state, and since when each member has had no link up; returns a sum of
 * the neighbour set. */
static uint64_t sync_links(struct ctrl_net *n, uint64_t now)
{
  const char **ids = calloc(n->n_links ? n->n_links : 1, sizeof *ids);
  size_t k = 0;
  if (!ids)
    return 0;
  for (size_t i = 0; i < n->n_links; i++)
    if (n->links[i]->member)
      ids[k++] = n->links[i]->peer;
  routing_set_members(n->rt, ids, k);
  free(ids);
  for (size_t i = routing_neighbour_count(n->rt); i-- > 0;) {
    const char *id = routing_neighbour_at(n->rt, i);
    const struct ctrl_link *l = ctrl_link_find(n, id);
    if (!l || !l->member || l->link_state != CTL_LINK_UP)
      routing_link_down(n->rt, id);
  }
  struct sum s = { IPOP_FNV1A_INIT, IPOP_FNV1A_INIT ^ 0x9e3779b9u };
  for (size_t i = 0; i < n->n_links; i++) {
    struct ctrl_link *l = n->links[i];
    bool up = l->member && l->link_state == CTL_LINK_UP;
    l->gap_ms = !l->member || up ? 0 : l->gap_ms ? l->gap_ms : now;
    if (up && routing_link_up(n->rt, l->peer) == 0)
      sum_add(&s, l->peer, strlen(l->peer));
  }
  return sum_value(&s);
}

/* How a group routes (docs/topology.md "Gaps in a full mesh"). */
enum route_mode {
  ROUTE_NONE,                   /* a full mesh with every link up: no vectors, no table */
  ROUTE_ALL,                    /* above the budget, or a gap of ours */
  ROUTE_HELP,                   /* a full mesh whose neighbours route around a gap */
};

/* A full mesh routes only around a member that has had no link up for
 * ROUTES_GAP_MS (a younger gap is a link still being set up: it sets
 * rt_gap_young, so that the timer looks again soon), and helps the
 * neighbours that sent a vector within ROUTES_HELP_MS. */
static enum route_mode route_mode(struct ctrl_net *n, bool mesh, uint64_t now)
{
  bool gap = false, help = false;
  n->rt_gap_young = false;
  if (!mesh)
    return ROUTE_ALL;
  for (size_t i = 0; i < n->n_links; i++) {
    const struct ctrl_link *l = n->links[i];
    if (l->gap_ms && now - l->gap_ms >= ROUTES_GAP_MS)
      gap = true;
    else if (l->gap_ms)
      n->rt_gap_young = true;
    help = help || (l->rt_rx_ms && now - l->rt_rx_ms < ROUTES_HELP_MS &&
                    l->link_state == CTL_LINK_UP);
  }
  return gap ? ROUTE_ALL : help ? ROUTE_HELP : ROUTE_NONE;
}

/* Our vector to each neighbour, over XMPP to the JID that speaks for it:
 * unless it got the same one last (all: every neighbour).  only_heard:
 * only to neighbours that sent one within ROUTES_HELP_MS. */
static void send_vectors(struct ctrl_net *n, bool all, bool only_heard, uint64_t now)
{
  struct ctrl *c = n->c;
  struct routemsg *m = malloc(sizeof *m);
  if (!m || !c->xmpp) {
    free(m);
    return;
  }
  for (size_t i = 0; i < routing_neighbour_count(n->rt); i++) {
    const char *peer = routing_neighbour_at(n->rt, i);
    const struct reg_node *p = registry_node(c->reg, peer);
    if (!p || !p->jid[0] || registry_blocked(c->reg, p->jid))
      continue;
    const struct ctrl_link *h = only_heard ? ctrl_link_find(n, peer) : NULL;
    if (only_heard && (!h || !h->rt_rx_ms || now - h->rt_rx_ms >= ROUTES_HELP_MS))
      continue;
    struct routing_adv *v;
    int nv = routing_vector_for(n->rt, peer, &v);
    if (nv < 0)
      continue;
    memset(m, 0, sizeof *m);
    snprintf(m->from, sizeof m->from, "%s", c->node_id);
    snprintf(m->to, sizeof m->to, "%s", peer);
    snprintf(m->overlay_id, sizeof m->overlay_id, "%s", n->id);
    m->forwarding = routing_forwarding(n->rt);
    m->n_routes = (uint32_t)nv > ROUTEMSG_MAX ? ROUTEMSG_MAX : (uint32_t)nv;
    memcpy(m->routes, v, m->n_routes * sizeof *v);
    free(v);
    char *json = NULL;
    struct jb_error err = { 0 };
    struct ctrl_link *l = ctrl_link_find(n, peer);
    m->sync = l && l->rt_sync;
    if (routemsg_encode(m, &json, &err) == 0 && l) {
      struct sum s = { IPOP_FNV1A_INIT, IPOP_FNV1A_INIT ^ 0x9e3779b9u };
      sum_add(&s, json, strlen(json));
      if (all || sum_value(&s) != l->rt_sent_sum) {
        int rc = xmpp_client_send_signal(c->xmpp, p->jid, ROUTEMSG_TYPE, "routes", json,
                                         strlen(json));
        l->rt_sent_sum = rc ? 0 : sum_value(&s);
        l->rt_sync = l->rt_sync && rc;
        if (rc)
          LOG_DEBUG("routes", "to %s: %s", p->jid, ipop_strerror(rc));
      }
    }
    free(json);
  }
  free(m);
}

/* A member's MAC (the one its link is bound to, else derived) and
 * addresses (announced, else derived). */
static void member_entry(const struct ctrl_net *n, const char *id, struct ctl_route *e)
{
  static const uint8_t zero[6];
  const struct ctrl_link *l = ctrl_link_find(n, id);
  snprintf(e->node_id, sizeof e->node_id, "%s", id);
  if (l && memcmp(l->mac, zero, 6) != 0)
    memcpy(e->mac, l->mac, 6);
  else
    groupaddr_mac(n->id, id, e->mac);
  struct groupaddr_subnet gs = { .net = n->net, .prefix = n->prefix };
  if (l && l->has_ip4) {
    e->ip4 = l->ip4;
    e->has_ip4 = true;
  } else {
    e->has_ip4 = groupaddr_derive(&gs, id, 0, &e->ip4) == 0;
  }
  if (e->has_ip4 && e->ip4.s_addr == n->ip4.s_addr)
    e->has_ip4 = false; /* an address conflict: group.c reports it */
  /* IPv6 the same way (tincan answers Neighbor Solicitations with it); a
   * claim group.c refused is not in l->ip6, so the owner keeps its own. */
  if (n->has_ip6) {
    if (l && l->has_ip6) {
      e->ip6 = l->ip6;
      e->has_ip6 = true;
    } else {
      e->has_ip6 = addr6_derive(&n->net6, id, 0, &e->ip6) == 0;
    }
    if (e->has_ip6 && memcmp(&e->ip6, &n->ip6, sizeof e->ip6) == 0)
      e->has_ip6 = false;
  }
}

/* tincan's links are the truth: a link we took for up that tincan no
 * longer has (a state event overtaken by its removal) is not a next hop. */
static void links_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl_net_ref *ref = ctx;
  struct ctrl_net *n = ctrl_net_alive(ref, 0);
  const struct ctl_link_stats *st = result;
  (void)err;
  free(ref);
  if (status || !n)
    return;
  for (size_t i = 0; i < n->n_links; i++) {
    struct ctrl_link *l = n->links[i];
    bool up = false;
    for (uint32_t k = 0; k < st->n_links && !up; k++)
      up = strcmp(st->links[k].peer_id, l->peer) == 0 && st->links[k].state == CTL_LINK_UP;
    if (l->link_state == CTL_LINK_UP && !up) {
      LOG_INFO("routes", "link to %.8s on %s is not up in tincan: no next hop", l->peer, n->id);
      l->link_state = -1;
    }
  }
  ctrl_routes_kick(n->c);
}

static void table_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl_net_ref *ref = ctx;
  struct ctrl_net *n = ctrl_net_alive(ref, 0);
  (void)result;
  if (!status || !n) {
    free(ref);
    return;
  }
  n->rt_sum = 0; /* sent again at the next change or refresh */
  ipop_log_rl(&rl_tincan, IPOP_LOG_WARN, "routes", "set_routes %s: %s", n->id,
              err ? err : ipop_strerror(status));
  struct ctl_link_stats_query q = { .has_overlay_id = true };
  snprintf(q.overlay_id, sizeof q.overlay_id, "%s", n->id);
  if (ctrl_tincan_send(n->c, "query_link_stats", &q, 5000, links_answer, ref) != 0)
    free(ref);
}

/* For drop_shared: entries ordered by one family's address, then node id. */
static bool by_ip6;
static int cmp_addr(const void *a, const void *b)
{
  const struct ctl_route *x = *(const struct ctl_route *const *)a;
  const struct ctl_route *y = *(const struct ctl_route *const *)b;
  int c = by_ip6 ? memcmp(&x->ip6, &y->ip6, sizeof x->ip6)
                 : memcmp(&x->ip4, &y->ip4, sizeof x->ip4);
  return c ? c : strcmp(x->node_id, y->node_id);
}

/* tincan refuses a table in which two members share an address, so one
 * member claiming another's (a conflict being settled, or a hostile
 * claim group.c did not refuse) must not cost the whole overlay its
 * table: of those sharing one, only the smallest node id keeps it (the
 * conflict rule: the larger yields), and ARP or ND for it is answered
 * for that one. */
static void drop_shared(struct ctl_route *all, size_t nm, bool v6)
{
  struct ctl_route **p = malloc((nm ? nm : 1) * sizeof *p);
  size_t k = 0;
  if (!p)
    return;
  for (size_t i = 0; i < nm; i++)
    if (v6 ? all[i].has_ip6 : all[i].has_ip4)
      p[k++] = &all[i];
  by_ip6 = v6;
  qsort(p, k, sizeof *p, cmp_addr);
  for (size_t i = 1; i < k; i++) {
    bool same = v6 ? memcmp(&p[i]->ip6, &p[i - 1]->ip6, sizeof p[i]->ip6) == 0
                   : p[i]->ip4.s_addr == p[i - 1]->ip4.s_addr;
    if (same && v6)
      p[i]->has_ip6 = false;
    else if (same)
      p[i]->has_ip4 = false;
    if (same)
      p[i] = p[i - 1]; /* a third one compares with the keeper */
  }
  free(p);
}

/* The table to tincan, in messages of CTL_MAX_ROUTES, when it changed.
 * A group whose every member has a link up needs none (and keeps its TAP
 * offloads): an empty table then, unless neighbours route through us
 * (ROUTE_HELP). */
static void push_table(struct ctrl_net *n, enum route_mode mode, bool refresh)
{
  size_t nm = routing_member_count(n->rt), direct = 0;
  struct ctl_route *all = calloc(nm ? nm : 1, sizeof *all);
  if (!all)
    return;
  for (size_t i = 0; i < nm; i++) {
    struct routing_route rt;
    routing_route(n->rt, i, &rt);
    direct += rt.hops == 1;
    struct ctl_route *e = &all[i];
    member_entry(n, rt.id, e);
    for (uint32_t k = 0; k < rt.n_via && rt.hops < ROUTING_INF; k++) {
      if (k < CTL_ROUTE_VIA)
        snprintf(e->via[e->n_via++], CTL_ID_LEN, "%s", rt.via[k]);
      if (k < CTL_ROUTE_FROM)
        snprintf(e->from[e->n_from++], CTL_ID_LEN, "%s", rt.via[k]);
    }
  }
  drop_shared(all, nm, false);
  drop_shared(all, nm, true);
  bool want = mode == ROUTE_HELP || (mode == ROUTE_ALL && direct < nm);
  struct sum s = { IPOP_FNV1A_INIT, IPOP_FNV1A_INIT ^ 0x9e3779b9u };
  bool fwd = routing_forwarding(n->rt);
  sum_add(&s, &fwd, sizeof fwd);
  if (want)
    sum_add(&s, all, nm * sizeof *all);
  if ((!want && !n->rt_installed) || (sum_value(&s) == n->rt_sum && !refresh)) {
    free(all);
    return;
  }
  struct ctl_set_routes *m = calloc(1, sizeof *m);
  size_t i = 0;
  bool ok = m != NULL;
  for (bool first = true; ok && (first || i < nm); first = false) {
    memset(m, 0, sizeof *m);
    snprintf(m->overlay_id, sizeof m->overlay_id, "%s", n->id);
    m->forwarding = fwd;
    m->replace = first;
    for (; want && i < nm && m->n_routes < CTL_MAX_ROUTES; i++)
      m->routes[m->n_routes++] = all[i];
    struct ctrl_net_ref *ref = malloc(sizeof *ref);
    if (ref)
      ctrl_net_ref(ref, n);
    ok = ref && ctrl_tincan_send(n->c, "set_routes", m, 5000, table_answer, ref) == 0;
    if (!ok)
      free(ref);
    if (!want)
      break;
  }
  n->rt_sum = ok ? sum_value(&s) : 0;
  n->rt_installed = ok ? want : n->rt_installed;
  free(m);
  free(all);
}

/* A group small enough for a full mesh (members <= LinkBudget) neither
 * sends vectors nor installs a table while every pair has its own link;
 * around a gap it routes (route_mode).
 * Vectors wait for ROUTES_SEND_MS since the last ones (a burst of link
 * changes costs the XMPP server one vector per neighbour, not one per
 * change); the table goes to tincan at once. */
static void service(struct ctrl_net *n, bool refresh, bool resend)
{
  uint64_t now = ipop_now_ms(), nb = sync_links(n, now);
  bool mesh = routing_member_count(n->rt) <= n->c->cfg.ctrl.link_budget;
  enum route_mode mode = route_mode(n, mesh, now);
  int changed = routing_compute(n->rt);
  if (mode != ROUTE_NONE &&
      (changed == 1 || nb != n->rt_nb_sum || refresh || n->rt_pending)) {
    if (now - n->rt_sent_ms >= ROUTES_SEND_MS || resend) {
      send_vectors(n, resend, mode == ROUTE_HELP, now);
      n->rt_sent_ms = now;
      n->rt_pending = false;
    } else {
      n->rt_pending = true;
    }
  }
  n->rt_nb_sum = mode == ROUTE_NONE ? 0 : nb;
  push_table(n, mode, refresh);
}

void ctrl_routes_timer_cb(uv_timer_t *t)
{
  struct ctrl *c = t->data;
  bool refresh = c->routes_refresh_armed, pending = false;
  bool resend = refresh && ++c->routes_refreshes % ROUTES_RESEND_EVERY == 0;
  c->routes_soon = c->routes_refresh_armed = false;
  for (size_t i = 0; i < c->n_nets; i++)
    if (c->nets[i]->rt && c->nets[i]->ready) {
      service(c->nets[i], refresh, resend);
      pending = pending || c->nets[i]->rt_pending || c->nets[i]->rt_gap_young;
    }
  if (c->stopping)
    return;
  /* Vectors held back go at ROUTES_SEND_MS; a change before then still
   * reaches tincan within ROUTES_SOON_MS (ctrl_routes_kick re-arms). */
  c->routes_refresh_armed = !pending;
  uv_timer_start(t, ctrl_routes_timer_cb, pending ? ROUTES_SEND_MS : ROUTES_REFRESH_MS, 0);
}

void ctrl_routes_on_signal(struct ctrl_net *n, const char *peer_id, const char *payload,
                           size_t len)
{
  if (!n->rt)
    return;
  struct routemsg *m = malloc(sizeof *m);
  if (!m)
    return;
  struct jb_error err = { 0 };
  int rc = routemsg_decode(payload, len, m, &err);
  if (rc == 0 && (strcmp(m->from, peer_id) != 0 || strcmp(m->to, n->c->node_id) != 0 ||
                  strcmp(m->overlay_id, n->id) != 0))
    rc = jb_error_set(&err, IPOP_EFIELD, "from", "not the sender, not us or not this overlay");
  struct ctrl_link *l = rc == 0 ? ctrl_link_find(n, peer_id) : NULL;
  if (l && m->sync) {
    l->rt_sent_sum = 0; /* it asks for ours: answer, even if unchanged */
    ctrl_routes_kick(n->c);
  }
  if (rc == 0)
    rc = routing_on_vector(n->rt, peer_id, m->forwarding, m->routes, m->n_routes);
  if (rc == 0 && l)
    l->rt_rx_ms = ipop_now_ms();
  if (rc == 0)
    ctrl_routes_kick(n->c);
  else if (rc == IPOP_ENOENT)
    LOG_DEBUG("routes", "from %.8s on %s: no link up to it (yet)", peer_id, n->id);
  else {
    n->rt_bad++;
    ipop_log_rl(&rl_bad, IPOP_LOG_WARN, "routes", "from %.8s on %s refused: %s", peer_id, n->id,
                err.msg[0] ? err.msg : ipop_strerror(rc));
  }
  free(m);
}
