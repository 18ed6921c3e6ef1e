/* The overlays' life in tincan (overlay.h): the heartbeat that notices a
 * dead or restarted dataplane, (re)creating overlays, and tincan's events
 * routed to the overlay they name. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "identity.h"
#include "links.h"
#include "log.h"
#include "groupaddr.h"
#include "net.h"
#include "overlay.h"
#include "peers.h"
#include "servers.h"
#include "tincan.h"

static void set_tincan_state(struct ctrl *c, int now, int status, const char *err)
{
  if (now != c->tincan_state) {
    if (now == CTL_DAEMON_UP)
      LOG_INFO("tincan", "ipop-tincan at %s is up", c->cfg.control.tincan);
    else
      LOG_WARN("tincan", "ipop-tincan at %s is %s: %s", c->cfg.control.tincan,
               ctl_peer_state_names[now], err ? err : ipop_strerror(status));
  }
  c->tincan_state = now;
}

static int state_for(int status)
{
  return status == IPOP_ETIMEDOUT || status == IPOP_ECONNREFUSED ? CTL_DAEMON_UNREACHABLE
         : status == IPOP_EAUTH                                  ? CTL_DAEMON_REFUSED
                                                                 : CTL_DAEMON_UP;
}

static void register_answer(int status, const void *result, const char *err, void *ctx)
{
  if (status)
    LOG_WARN("tincan", "register: %s", err ? err : ipop_strerror(status));
}

static void create_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl_net_ref *r = ctx;
  struct ctrl *c = r->c;
  struct ctrl_net *n = ctrl_net_alive(r, 0);
  free(r);
  if (!n)
    return;
  n->pending = false;
  if (!c->ep || c->stopping)
    return;
  if (status == IPOP_EEXIST) {
    /* Left over from an earlier controller: its links are unknown to us,
     * so start from a clean overlay. */
    LOG_INFO("tincan", "overlay %s exists already: re-creating it", n->id);
    ctrl_net_recreate(n);
    return;
  }
  if (status) {
    static struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(60000, 3);
    set_tincan_state(c, state_for(status), status, err);
    ipop_log_rl(&rl, IPOP_LOG_ERROR, "tincan", "create_overlay %s: %s", n->id,
                err ? err : ipop_strerror(status));
    return;
  }
  const struct ctl_overlay_info *oi = result;
  set_tincan_state(c, CTL_DAEMON_UP, 0, NULL);
  memcpy(n->mac, oi->mac, 6);
  snprintf(n->fingerprint, sizeof n->fingerprint, "%s", oi->fingerprint);
  n->ready = true;
  n->epoch = ++c->next_epoch;
  char a[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN + 8] = "";
  inet_ntop(AF_INET, &n->ip4, a, sizeof a);
  if (n->has_ip6) {
    char t[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &n->ip6, t, sizeof t);
    snprintf(a6, sizeof a6, " and %s/%u", t, n->net6.prefix);
  }
  LOG_INFO("tincan", "overlay %s created: TAP %s, %s/%u%s, MAC %02x:%02x:%02x:%02x:%02x:%02x",
           oi->overlay_id, oi->tap_name, a, n->prefix, a6, oi->mac[0], oi->mac[1], oi->mac[2],
           oi->mac[3], oi->mac[4], oi->mac[5]);
  /* Events to us even if an ipopctl listen registered itself meanwhile. */
  struct ctl_register reg = { .has_address = false };
  ctrl_tincan_send(c, "register", &reg, 5000, register_answer, NULL);
  ctrl_overlay_ready(n);
  ctrl_identity_publish(c);
}

/* The servers are resolved (servers.h): send create_overlay, unless the
 * net went away or the controller is stopping meanwhile. */
static void send_create(int status, struct ctl_create_overlay *co, void *ctx)
{
  struct ctrl_net_ref *r = ctx;
  struct ctrl_net *n = ctrl_net_alive(r, 0);
  if (n)
    n->pending = false;
  if (n && status == 0 && !n->c->stopping &&
      ctrl_tincan_send(n->c, "create_overlay", co, 10000, create_answer, r) == 0) {
    n->pending = true;
    r = NULL;
  }
  free(r);
  memset(co->turn, 0, sizeof co->turn);
  free(co);
}

static void create_overlay(struct ctrl_net *n)
{
  struct ctrl *c = n->c;
  struct ctl_create_overlay *co = calloc(1, sizeof *co);
  struct ctrl_net_ref *r = malloc(sizeof *r);
  if (r)
    ctrl_net_ref(r, n);
  if (!co || !r) {
    free(co);
    free(r);
    return;
  }
  snprintf(co->overlay_id, sizeof co->overlay_id, "%s", n->id);
  snprintf(co->node_id, sizeof co->node_id, "%s", c->node_id);
  snprintf(co->tap_name, sizeof co->tap_name, "%s", n->tap_name);
  co->mtu = n->mtu;
  co->ip4 = n->ip4;
  co->ip4_prefix = n->prefix;
  co->has_ip4 = true;
  co->ip6_prefix = 64; /* encoded even without an address; must be in range */
  if (n->has_ip6) {
    co->ip6 = n->ip6;
    co->ip6_prefix = n->net6.prefix;
    co->has_ip6 = true;
  }
  /* GroupVPN: a MAC every member can compute (forwarding tables name
   * members we have no link to; docs/topology.md "Forwarding"). */
  co->has_mac = ctrl_net_is_group(n) && groupaddr_mac(n->id, c->node_id, co->mac) == 0;
  /* Every overlay uses the configured STUN and TURN servers, host names
   * resolved first (servers.c); pending meanwhile. */
  n->pending = true;
  if (ctrl_servers_fill(c, co, send_create, r) != 0) {
    n->pending = false;
    free(r);
    free(co);
  }
}

static struct ctrl_net *first_ready(struct ctrl *c)
{
  for (size_t i = 0; i < c->n_nets; i++)
    if (c->nets[i]->ready)
      return c->nets[i];
  return NULL;
}

static void heartbeat_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl_net_ref *r = ctx;
  struct ctrl *c = r->c;
  bool was_probe = r->id[0] != '\0';
  struct ctrl_net *probed = was_probe ? ctrl_net_alive(r, 0) : NULL;
  free(r);
  c->echo_in_flight = false;
  if (!c->ep || c->stopping)
    return;
  if (status == IPOP_ENOENT && was_probe) {
    if (probed && probed->ready) {
      /* tincan answers but our overlay is gone: it was restarted (or
       * someone removed the overlay).  Every link of every overlay is
       * gone with it; those that still exist answer EEXIST and are made
       * afresh. */
      LOG_WARN("tincan", "overlay %s is gone from ipop-tincan (restarted?): re-creating it%s",
               probed->id, c->n_nets > 1 ? " and the other overlays" : "");
      for (size_t i = 0; i < c->n_nets; i++)
        if (!c->nets[i]->pending)
          c->nets[i]->ready = false;
    }
    status = 0;
  }
  set_tincan_state(c, state_for(status), status, err);
  if (c->tincan_state != CTL_DAEMON_UP)
    return;
  for (size_t i = 0; i < c->n_nets; i++)
    if (!c->nets[i]->ready && !c->nets[i]->pending)
      create_overlay(c->nets[i]);
}

static bool all_settled(struct ctrl *c)
{
  for (size_t i = 0; i < c->n_nets; i++)
    if (!c->nets[i]->ready)
      return false;
  return true;
}

/* Every second: while tincan is up, every 5 s a query_overlay_info on one
 * of our overlays (or an echo when there is none), which notices a
 * restarted tincan by the missing overlay even if the restart was quicker
 * than the period; overlays not yet created are created after it. */
void ctrl_heartbeat_cb(uv_timer_t *t)
{
  struct ctrl *c = t->data;
  uint64_t now = ipop_now_ms();
  ctrl_identity_tick(c, now);
  if (c->n_held)
    ctrl_peers_replay(c);
  if (c->echo_in_flight || c->ep == NULL ||
      (c->tincan_state == CTL_DAEMON_UP && now - c->last_echo_ms < CTRL_HEARTBEAT_MS &&
       all_settled(c)))
    return;
  c->last_echo_ms = now;
  struct ctrl_net *n = first_ready(c);
  struct ctrl_net_ref *r = calloc(1, sizeof *r);
  if (!r)
    return;
  if (n)
    ctrl_net_ref(r, n);
  r->c = c;
  int rc;
  if (n) {
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", n->id);
    rc = ctrl_tincan_send(c, "query_overlay_info", &ref, CTRL_HEARTBEAT_FAST_MS * 2,
                          heartbeat_answer, r);
  } else {
    struct ctl_echo e = { .message = "heartbeat" };
    rc = ctrl_tincan_send(c, "echo", &e, CTRL_HEARTBEAT_FAST_MS - 100, heartbeat_answer, r);
  }
  if (rc == 0)
    c->echo_in_flight = true;
  else
    free(r);
}

int ctrl_permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                char *why, size_t whylen, void *ctx)
{
  struct ctrl *c = ctx;
  const struct ctl_msg_desc *m =
      ctl_msg_find(ctl_controller_messages, ctl_controller_messages_count, name);
  (void)ep;
  if (!m || m->kind != CTL_KIND_EVENT ||
      ctl_sockaddr_equal(from, (const struct sockaddr *)&c->tincan_addr))
    return 0;
  snprintf(why, whylen, "event %s: permission denied: events come from ipop-tincan at %s "
           "only", name, c->cfg.control.tincan);
  return IPOP_EPERM;
}

void ctrl_on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                   const struct ctl_msg_desc *m, const void *body, void *ctx)
{
  struct ctrl *c = ctx;
  if (c->stopping)
    return;
  struct ctrl_net_ref ref = { .c = c };
  if (strcmp(m->name, "link_state") == 0) {
    const struct ctl_ev_link_state *ev = body;
    snprintf(ref.id, sizeof ref.id, "%s", ev->overlay_id);
    struct ctrl_net *n = ctrl_net_alive(&ref, CTRL_NET_READY);
    if (n)
      ctrl_on_link_state(n, ev);
  } else if (strcmp(m->name, "unknown_destination") == 0) {
    const struct ctl_ev_unknown_dest *ev = body;
    snprintf(ref.id, sizeof ref.id, "%s", ev->overlay_id);
    struct ctrl_net *n = ctrl_net_alive(&ref, CTRL_NET_READY);
    if (n)
      ctrl_on_unknown_dest(n, ev);
  } else if (strcmp(m->name, "stats") == 0) {
    ctrl_on_stats(c, body);
  } else {
    LOG_DEBUG("tincan", "event %s ignored", m->name);
  }
}
