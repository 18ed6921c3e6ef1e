/* Talking to ipop-tincan: typed requests, the heartbeat that notices a
 * dead or restarted dataplane, (re)creating the overlay, and tincan's
 * events. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "log.h"
#include "pwfile.h"
#include "servers.h"

int ctrl_tincan_send(struct ctrl *c, const char *name, const void *body, uint32_t timeout_ms,
                     ctl_response_cb cb, void *ctx)
{
  if (!c->ep)
    return IPOP_ESTATE;
  const struct ctl_msg_desc *m = ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count,
                                              name);
  if (!m)
    return IPOP_EINTERNAL;
  return ctl_request_send(c->ep, (struct sockaddr *)&c->tincan_addr, m, body, timeout_ms, cb,
                          ctx);
}

/* TURN passwords live in their own 0600 files (never in config.json).  They
 * are read once at start, since the controller may not reach them later. */
int ctrl_load_turn_passwords(struct ctrl *c, char *why, size_t whylen)
{
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  c->n_turn = 0;
  for (uint32_t i = 0; i < o->n_turn; i++) {
    char w[POLICY_WHY_LEN];
    struct ctl_turn_server *t = &c->turn[c->n_turn];
    /* mode 0600 or stricter, owned by us (pwfile.h) */
    int rc = pwfile_read(o->turn[i].password_file, t->password, sizeof t->password, w, sizeof w);
    if (rc) {
      snprintf(why, whylen, "Controller.Overlay.Turn[%u].PasswordFile: %s", i, w);
      return rc;
    }
    c->n_turn++;
    snprintf(t->address, sizeof t->address, "%s", o->turn[i].address);
    snprintf(t->user, sizeof t->user, "%s", o->turn[i].user);
    t->transport = o->turn[i].transport;
  }
  return 0;
}

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

/* Answers to create/remove_overlay name their net by id and serial (the
 * net may be gone, or replaced by a new one of the same id, by then). */
struct nref {
  struct ctrl *c;
  char id[CTL_ID_LEN];
  struct ctrl_net *net;
  uint64_t serial;
};

static struct nref *nref_new(struct ctrl_net *n)
{
  struct nref *r = calloc(1, sizeof *r);
  if (r) {
    r->c = n->c;
    r->net = n;
    r->serial = n->serial;
    snprintf(r->id, sizeof r->id, "%s", n->id);
  }
  return r;
}

/* The net, if it is still one of ours (pointer compared against the table,
 * never dereferenced before that). */
static struct ctrl_net *nref_net(struct nref *r)
{
  for (size_t i = 0; i < r->c->n_nets; i++)
    if (r->c->nets[i] == r->net && r->net->serial == r->serial)
      return r->net;
  return NULL;
}

static void create_overlay(struct ctrl_net *n);

static void remove_answer(int status, const void *result, const char *err, void *ctx)
{
  struct nref *r = ctx;
  struct ctrl_net *n = nref_net(r);
  if (n)
    n->pending = false; /* the heartbeat creates it again */
  if (status && status != IPOP_ENOENT)
    LOG_WARN("tincan", "remove_overlay %s: %s", r->id, err ? err : ipop_strerror(status));
  free(r);
}

static void send_remove(struct ctrl_net *n)
{
  struct ctl_overlay_ref ref;
  snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", n->id);
  struct nref *r = nref_new(n);
  n->ready = false;
  if (r && ctrl_tincan_send(n->c, "remove_overlay", &ref, 5000, remove_answer, r) == 0)
    n->pending = true;
  else
    free(r);
}

void ctrl_net_recreate(struct ctrl_net *n)
{
  if (n->ready)
    send_remove(n);
}

static void create_answer(int status, const void *result, const char *err, void *ctx)
{
  struct nref *r = ctx;
  struct ctrl *c = r->c;
  struct ctrl_net *n = nref_net(r);
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
    send_remove(n);
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
  char a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &n->ip4, a, sizeof a);
  LOG_INFO("tincan", "overlay %s created: TAP %s, %s/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x",
           oi->overlay_id, oi->tap_name, a, n->prefix, oi->mac[0], oi->mac[1], oi->mac[2],
           oi->mac[3], oi->mac[4], oi->mac[5]);
  /* Events to us even if an ipopctl listen registered itself meanwhile. */
  struct ctl_register reg = { .has_address = false };
  ctrl_tincan_send(c, "register", &reg, 5000, register_answer, NULL);
  ctrl_overlay_ready(n);
}

/* The servers are resolved (servers.h): send create_overlay, unless the
 * net went away or the controller is stopping meanwhile. */
static void send_create(int status, struct ctl_create_overlay *co, void *ctx)
{
  struct nref *r = ctx;
  struct ctrl_net *n = nref_net(r);
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
  struct nref *r = nref_new(n);
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
  struct nref *r = ctx;
  struct ctrl *c = r->c;
  struct ctrl_net *probed = r->net ? nref_net(r) : NULL;
  bool was_probe = r->net != NULL;
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
  if (c->echo_in_flight || c->ep == NULL ||
      (c->tincan_state == CTL_DAEMON_UP && now - c->last_echo_ms < CTRL_HEARTBEAT_MS &&
       all_settled(c)))
    return;
  c->last_echo_ms = now;
  struct ctrl_net *n = first_ready(c);
  struct nref *r = n ? nref_new(n) : calloc(1, sizeof *r);
  if (!r)
    return;
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
  if (strcmp(m->name, "link_state") == 0) {
    const struct ctl_ev_link_state *ev = body;
    struct ctrl_net *n = ctrl_net_by_id(c, ev->overlay_id);
    if (n && n->ready)
      ctrl_on_link_state(n, ev);
  } else if (strcmp(m->name, "unknown_destination") == 0) {
    const struct ctl_ev_unknown_dest *ev = body;
    struct ctrl_net *n = ctrl_net_by_id(c, ev->overlay_id);
    if (n && n->ready)
      ctrl_on_unknown_dest(n, ev);
  } else if (strcmp(m->name, "stats") == 0) {
    ctrl_on_stats(c, body);
  } else {
    LOG_DEBUG("tincan", "event %s ignored", m->name);
  }
}
