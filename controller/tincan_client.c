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
    char *text = NULL;
    size_t len = 0;
    char w[POLICY_WHY_LEN];
    int rc = policy_file_read(o->turn[i].password_file, CTL_PASSWORD_LEN, &text, &len, w,
                              sizeof w);
    if (rc) {
      snprintf(why, whylen, "Controller.Overlay.Turn[%u].PasswordFile: %s", i, w);
      return rc;
    }
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
      text[--len] = '\0';
    if (len == 0 || len >= CTL_PASSWORD_LEN) {
      free(text);
      snprintf(why, whylen, "Controller.Overlay.Turn[%u].PasswordFile: %s: empty or too long",
               i, o->turn[i].password_file);
      return IPOP_EFIELD;
    }
    struct ctl_turn_server *t = &c->turn[c->n_turn++];
    snprintf(t->address, sizeof t->address, "%s", o->turn[i].address);
    snprintf(t->user, sizeof t->user, "%s", o->turn[i].user);
    memcpy(t->password, text, len + 1);
    t->transport = o->turn[i].transport;
    memset(text, 0, len);
    free(text);
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

static void remove_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  c->overlay_pending = false;
  if (status && status != IPOP_ENOENT)
    LOG_WARN("tincan", "remove_overlay %s: %s", c->cfg.ctrl.overlay.id,
             err ? err : ipop_strerror(status));
}

static void create_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  c->overlay_pending = false;
  if (!c->ep || c->stopping)
    return;
  if (status == IPOP_EEXIST) {
    /* Left over from an earlier controller: its links are unknown to us,
     * so start from a clean overlay. */
    LOG_INFO("tincan", "overlay %s exists already: re-creating it", c->cfg.ctrl.overlay.id);
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", c->cfg.ctrl.overlay.id);
    if (ctrl_tincan_send(c, "remove_overlay", &ref, 5000, remove_answer, c) == 0)
      c->overlay_pending = true;
    return;
  }
  if (status) {
    static struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(60000, 3);
    set_tincan_state(c, state_for(status), status, err);
    ipop_log_rl(&rl, IPOP_LOG_ERROR, "tincan", "create_overlay %s: %s", c->cfg.ctrl.overlay.id,
                err ? err : ipop_strerror(status));
    return;
  }
  const struct ctl_overlay_info *oi = result;
  set_tincan_state(c, CTL_DAEMON_UP, 0, NULL);
  memcpy(c->mac, oi->mac, 6);
  snprintf(c->fingerprint, sizeof c->fingerprint, "%s", oi->fingerprint);
  c->overlay_ready = true;
  c->overlay_epoch++;
  char a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &c->ip4, a, sizeof a);
  LOG_INFO("tincan", "overlay %s created: TAP %s, %s/%u, MAC %02x:%02x:%02x:%02x:%02x:%02x",
           oi->overlay_id, oi->tap_name, a, c->prefix, oi->mac[0], oi->mac[1], oi->mac[2],
           oi->mac[3], oi->mac[4], oi->mac[5]);
  /* Events to us even if an ipopctl listen registered itself meanwhile. */
  struct ctl_register reg = { .has_address = false };
  ctrl_tincan_send(c, "register", &reg, 5000, register_answer, NULL);
  ctrl_overlay_ready(c);
}

static void create_overlay(struct ctrl *c)
{
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  struct ctl_create_overlay *co = calloc(1, sizeof *co);
  if (!co)
    return;
  snprintf(co->overlay_id, sizeof co->overlay_id, "%s", o->id);
  snprintf(co->node_id, sizeof co->node_id, "%s", c->node_id);
  snprintf(co->tap_name, sizeof co->tap_name, "%s", o->tap_name);
  co->mtu = o->mtu;
  co->ip4 = c->ip4;
  co->ip4_prefix = c->prefix;
  co->has_ip4 = true;
  co->ip6_prefix = 64; /* encoded even without an address; must be in range */
  for (uint32_t i = 0; i < o->n_stun; i++)
    snprintf(co->stun[i], sizeof co->stun[i], "%s", o->stun[i]);
  co->n_stun = o->n_stun;
  memcpy(co->turn, c->turn, sizeof c->turn);
  co->n_turn = c->n_turn;
  if (ctrl_tincan_send(c, "create_overlay", co, 10000, create_answer, c) == 0)
    c->overlay_pending = true;
  memset(co->turn, 0, sizeof co->turn);
  free(co);
}

static void heartbeat_answer(int status, const void *result, const char *err, void *ctx)
{
  struct ctrl *c = ctx;
  c->echo_in_flight = false;
  if (!c->ep || c->stopping)
    return;
  if (status == IPOP_ENOENT && c->overlay_ready) {
    /* tincan answers but our overlay is gone: it was restarted (or someone
     * removed the overlay).  Every link is gone with it. */
    LOG_WARN("tincan", "overlay %s is gone from ipop-tincan (restarted?): re-creating it",
             c->cfg.ctrl.overlay.id);
    c->overlay_ready = false;
    set_tincan_state(c, CTL_DAEMON_UP, 0, NULL);
    create_overlay(c);
    return;
  }
  set_tincan_state(c, state_for(status), status, err);
  if (c->tincan_state == CTL_DAEMON_UP && c->cfg.ctrl.has_overlay && !c->overlay_ready &&
      !c->overlay_pending)
    create_overlay(c);
}

/* Every second: while tincan is up, every 5 s a query_overlay_info (or an
 * echo when there is no overlay), which notices a restarted tincan by the
 * missing overlay even if the restart was quicker than the period. */
void ctrl_heartbeat_cb(uv_timer_t *t)
{
  struct ctrl *c = t->data;
  uint64_t now = ipop_now_ms();
  if (c->echo_in_flight || c->ep == NULL || c->overlay_pending ||
      (c->tincan_state == CTL_DAEMON_UP && now - c->last_echo_ms < CTRL_HEARTBEAT_MS &&
       (c->overlay_ready || !c->cfg.ctrl.has_overlay)))
    return;
  c->last_echo_ms = now;
  int rc;
  if (c->overlay_ready) {
    struct ctl_overlay_ref ref;
    snprintf(ref.overlay_id, sizeof ref.overlay_id, "%s", c->cfg.ctrl.overlay.id);
    rc = ctrl_tincan_send(c, "query_overlay_info", &ref, CTRL_HEARTBEAT_FAST_MS * 2,
                          heartbeat_answer, c);
  } else {
    struct ctl_echo e = { .message = "heartbeat" };
    rc = ctrl_tincan_send(c, "echo", &e, CTRL_HEARTBEAT_FAST_MS - 100, heartbeat_answer, c);
  }
  if (rc == 0)
    c->echo_in_flight = true;
}

void ctrl_on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                   const struct ctl_msg_desc *m, const void *body, void *ctx)
{
  struct ctrl *c = ctx;
  if (c->stopping || !c->overlay_ready)
    return;
  if (strcmp(m->name, "link_state") == 0) {
    const struct ctl_ev_link_state *ev = body;
    if (strcmp(ev->overlay_id, c->cfg.ctrl.overlay.id) == 0)
      ctrl_on_link_state(c, ev);
  } else if (strcmp(m->name, "unknown_destination") == 0) {
    const struct ctl_ev_unknown_dest *ev = body;
    if (strcmp(ev->overlay_id, c->cfg.ctrl.overlay.id) == 0)
      ctrl_on_unknown_dest(c, ev);
  } else if (strcmp(m->name, "stats") == 0) {
    ctrl_on_stats(c, body);
  } else {
    LOG_DEBUG("tincan", "event %s ignored", m->name);
  }
}
