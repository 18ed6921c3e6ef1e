/* Links (link.h): a path, a session and a dataplane, and their one state. */
#include "link.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

static struct ipop_ratelimit rl_drop = IPOP_RATELIMIT_INIT(5000, 5);

static void tick_cb(uv_timer_t *t);
static void link_closed(uv_handle_t *h);

static const struct ctl_msg_desc *msg(const char *name)
{
  return ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, name);
}

static void send_event(struct tc_link *l)
{
  struct tc_daemon *d = l->ov->d;
  LOG_INFO("tincan", "link %s/%s: %s%s%s", l->ov->cfg.overlay_id, l->peer_id,
           ctl_link_state_names[l->state], l->reason[0] ? ": " : "", l->reason);
  if (!d->has_controller || !d->ep)
    return;
  struct ctl_ev_link_state ev;
  memset(&ev, 0, sizeof ev);
  snprintf(ev.overlay_id, sizeof ev.overlay_id, "%s", l->ov->cfg.overlay_id);
  snprintf(ev.peer_id, sizeof ev.peer_id, "%s", l->peer_id);
  ev.state = (int)l->state;
  snprintf(ev.reason, sizeof ev.reason, "%s", l->reason);
  ctl_event_send(d->ep, (const struct sockaddr *)&d->controller, msg("link_state"), &ev);
}

static void set_state(struct tc_link *l, enum tc_link_state state, const char *reason)
{
  if (l->state == state || l->state == TC_LINK_DEAD)
    return;
  l->state = state;
  snprintf(l->reason, sizeof l->reason, "%s", reason ? reason : "");
  if (state == TC_LINK_UP)
    l->up_since_ms = ipop_now_ms();
  else if (state != TC_LINK_CONNECTING)
    l->up_since_ms = 0;
  send_event(l);
}

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the session's callbacks ---------------------------------------------- */

static void sess_send(void *arg, const uint8_t *p, size_t n)
{
  struct tc_link *l = arg;
  tc_path_send(l->tx, p, n);
}

static void sess_keyed(void *arg)
{
  struct tc_link *l = arg;
  l->dp.last_rx_ms = ipop_now_ms();
  tc_path_enlarge_buffers(&l->path);
  LOG_INFO("tincan", "link %s/%s: dtls up (%s), peer fingerprint verified, record keys derived",
           l->ov->cfg.overlay_id, l->peer_id, tc_session_cipher(&l->sess));
  set_state(l, TC_LINK_UP, "");
  /* Let the timer (outside libnice's dispatch) try the socket take-over
   * and send the first keepalive now. */
  uv_timer_start(&l->tick, tick_cb, 0, TC_TICK_MS);
}

static void sess_failed(void *arg, const char *reason)
{
  set_state(arg, TC_LINK_FAILED, reason);
}

static const struct tc_session_ops sess_ops = {
  .send = sess_send,
  .keyed = sess_keyed,
  .failed = sess_failed,
};

/* ---- the path's callbacks --------------------------------------------------- */

static void path_recv(void *arg, struct tc_path *path, const uint8_t *p, size_t n)
{
  struct tc_link *l = arg;
  if (l->state == TC_LINK_DEAD)
    return;
  if (l->sess.state == TC_SESSION_NONE) {
    /* A ClientHello may come before our own create_link; the peer
     * retransmits it. */
    l->dp.st.drops++;
    return;
  }
  uint64_t now = ipop_now_ms();
  /* Answers (pongs, rekey replies) go back by the path the request came
   * by: a pong then says that this path works both ways (paths.h). */
  uint64_t pongs = l->dp.pongs;
  l->dp.path = path;
  bool authentic = tc_dp_input(&l->dp, p, n, now);
  l->dp.path = l->tx;
  if (authentic && tc_path_rx_moved(path))
    tc_path_roam(path); /* the peer's address changed: follow it */
  if (l->dp.pongs != pongs)
    path->last_pong_ms = now;
  if (l->state == TC_LINK_DOWN && l->dp.last_rx_ms == now)
    set_state(l, TC_LINK_UP, "path recovered");
}

/* A burst from one link may have queued frames it forwards on others
 * (fwd.h): flush them all (an empty queue costs nothing). */
static void path_burst_end(void *arg)
{
  struct tc_link *l = arg;
  tc_link_flush(l);
  for (struct tc_link *o = l->ov->links; o; o = o->next)
    if (o != l)
      tc_link_flush(o);
}

/* A TC_DP_PATHS record (dataplane context's path_msg). */
void tc_link_paths_msg(void *owner, const uint8_t *m, size_t n)
{
  struct tc_link *l = owner;
  if (l->state != TC_LINK_DEAD)
    tc_paths_msg(l, m, n, ipop_now_ms());
}

static void answer_candidates(struct tc_link *l)
{
  struct ctl_request *req = l->pending;
  if (!req)
    return;
  l->pending = NULL;
  struct ctl_candidates *c = calloc(1, sizeof *c);
  if (!c) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  snprintf(c->overlay_id, sizeof c->overlay_id, "%s", l->ov->cfg.overlay_id);
  snprintf(c->peer_id, sizeof c->peer_id, "%s", l->peer_id);
  snprintf(c->node_id, sizeof c->node_id, "%s", l->ov->cfg.node_id);
  snprintf(c->fingerprint, sizeof c->fingerprint, "%s", l->ov->d->id.fpr_text);
  memcpy(c->mac, l->ov->cfg.mac, 6);
  c->has_mac = true;
  tc_path_local(&l->path, c);
  if (c->n_candidates == 0)
    ctl_reply_error(req, IPOP_ECONNREFUSED,
                    "no local candidates (no usable interface, STUN or TURN server)");
  else
    ctl_reply(req, c);
  OPENSSL_cleanse(c->pwd, sizeof c->pwd);
  free(c);
}

/* A path problem that does not change the link's state (the link may
 * still work without a relay): logged, sent as an event, kept for the
 * stats. */
static void note(struct tc_link *l, const char *why)
{
  LOG_WARN("tincan", "link %s/%s: %s", l->ov->cfg.overlay_id, l->peer_id, why);
  snprintf(l->note, sizeof l->note, "%s", why);
  char keep[CTL_REASON_LEN];
  memcpy(keep, l->reason, sizeof keep);
  snprintf(l->reason, sizeof l->reason, "%s", why);
  send_event(l);
  memcpy(l->reason, keep, sizeof keep);
}

static void probe_closed(uv_handle_t *h)
{
  struct tc_link *l = h->data;
  l->probe_closing--;
  if (l->state == TC_LINK_DEAD && --l->handles_closing == 0)
    free(l);
}

static void probe_done(void *arg, const char *result)
{
  struct tc_link *l = arg;
  char why[CTL_REASON_LEN];
  l->probing = false;
  l->probe_closing += tc_turnprobe_close(&l->probe, probe_closed, l);
  if (l->probe_ice) {
    snprintf(why, sizeof why, "%s; turn %s: %s", l->probe_what, l->path.turn_used, result);
    if (l->state == TC_LINK_CONNECTING || l->state == TC_LINK_NEW)
      set_state(l, TC_LINK_FAILED, why);
  } else {
    snprintf(why, sizeof why, "turn: no relayed candidate from %s: %s", l->path.turn_used,
             result);
    note(l, why);
  }
}

/* Ask the TURN server (turnprobe.h); false if there is none or the probe
 * cannot start. */
static bool probe_start(struct tc_link *l, bool ice)
{
  if (l->probing || l->probe_closing || !l->path.turn)
    return l->probing;
  struct sockaddr_storage peers[TC_PROBE_PEERS];
  unsigned n = ice ? tc_path_remote_addrs(&l->path, peers, TC_PROBE_PEERS) : 0;
  if (tc_turnprobe_start(&l->probe, l->ov->d->loop, l->path.turn, peers, n, probe_done, l))
    return false;
  l->probing = true;
  l->probe_ice = ice;
  return true;
}

/* ICE failed or timed out: log the candidates, ask the TURN server what
 * it thinks, then fail the link with both (or at once without TURN). */
static void path_failed(struct tc_link *l, const char *what)
{
  if (l->probing)
    return; /* already explaining */
  struct ctl_link_stat *s = calloc(1, sizeof *s);
  char loc[512] = "", rem[512] = "";
  if (s) {
    tc_path_candidates(&l->path, s);
    for (uint32_t i = 0; i < s->n_local_candidates; i++)
      snprintf(loc + strlen(loc), sizeof loc - strlen(loc), "%s%s", i ? ", " : "",
               s->local_candidates[i]);
    for (uint32_t i = 0; i < s->n_remote_candidates; i++)
      snprintf(rem + strlen(rem), sizeof rem - strlen(rem), "%s%s", i ? ", " : "",
               s->remote_candidates[i]);
    snprintf(l->probe_what, sizeof l->probe_what,
             "%s (no pair of %u local x %u remote candidates answered)", what,
             s->n_local_candidates, s->n_remote_candidates);
    free(s);
  } else {
    snprintf(l->probe_what, sizeof l->probe_what, "%s", what);
  }
  LOG_INFO("tincan", "link %s/%s: %s; local candidates: %s; remote candidates: %s",
           l->ov->cfg.overlay_id, l->peer_id, what, loc[0] ? loc : "none",
           rem[0] ? rem : "none");
  if (l->relay == CTL_RELAY_NEVER || !probe_start(l, true))
    set_state(l, TC_LINK_FAILED, l->probe_what);
}

static void path_gathered(void *arg, struct tc_path *path)
{
  struct tc_link *l = arg;
  if (l->state == TC_LINK_DEAD)
    return;
  if (tc_link_keyed(l)) {
    tc_paths_gathered(l, path); /* a path made in-band */
    return;
  }
  answer_candidates(l);
  char why[CTL_REASON_LEN];
  tc_path_turn_problem(&l->path, why, sizeof why);
  if (why[0] && !probe_start(l, false))
    note(l, why);
}

static void path_ice_state(void *arg, struct tc_path *path, NiceComponentState st)
{
  struct tc_link *l = arg;
  if (l->state == TC_LINK_DEAD)
    return;
  if (path != &l->path || (tc_link_keyed(l) && l->tx != &l->path)) {
    /* A path made in-band (or slot 0 while another carries the records). */
    if (st == NICE_COMPONENT_STATE_READY)
      uv_timer_start(&l->tick, tick_cb, 0, TC_TICK_MS); /* take-over, outside this callback */
    tc_paths_ice_state(l, path, st);
    return;
  }
  LOG_DEBUG("tincan", "link %s/%s: ice %s", l->ov->cfg.overlay_id, l->peer_id,
            nice_component_state_to_string(st));
  bool connected = st == NICE_COMPONENT_STATE_CONNECTED || st == NICE_COMPONENT_STATE_READY;
  if (connected && l->sess.state == TC_SESSION_HANDSHAKE) {
    /* ICE may have resolved a role conflict (both sides told "controlling"):
     * the DTLS client is whoever ended up controlling. */
    tc_session_set_role(&l->sess, tc_path_ice_controlling(&l->path));
    tc_session_start(&l->sess);
  } else if (st == NICE_COMPONENT_STATE_READY && tc_link_keyed(l)) {
    uv_timer_start(&l->tick, tick_cb, 0, TC_TICK_MS); /* take-over, outside this callback */
  } else if (st == NICE_COMPONENT_STATE_FAILED) {
    if (l->state == TC_LINK_CONNECTING || l->state == TC_LINK_NEW)
      path_failed(l, "ice failed");
    else if (l->state == TC_LINK_UP)
      set_state(l, TC_LINK_DOWN, "ice failed");
  }
  if (tc_link_keyed(l))
    tc_paths_ice_state(l, path, st);
}

static const struct tc_path_ops path_ops = {
  .recv = path_recv,
  .burst_end = path_burst_end,
  .gathered = path_gathered,
  .ice_state = path_ice_state,
};

/* ---- housekeeping timer -------------------------------------------------- */

/* A path's agent is READY (take it over), or CONNECTED for a while with
 * its pings answered: the peer's agent finished (it went READY and took its
 * socket over, so ours may never see the nomination complete), and the
 * path would otherwise stay on libnice, one datagram per call, for good. */
static bool settled(struct tc_path *p, uint64_t now, bool *connected)
{
  NiceComponentState st = tc_path_ice_state(p);
  *connected = false;
  if (st == NICE_COMPONENT_STATE_READY)
    return true;
  if (st != NICE_COMPONENT_STATE_CONNECTED) {
    p->connected_ms = 0;
    return false;
  }
  if (!p->connected_ms)
    p->connected_ms = now;
  tc_path_enlarge_buffers(p);
  *connected = now - p->connected_ms >= TC_SETTLE_MS && p->last_pong_ms &&
               now - p->last_pong_ms < TC_PATHS_ALIVE_MS;
  return *connected;
}

static void keyed_tick(struct tc_link *l, uint64_t now)
{
  for (unsigned i = 0; i < 2 && l->state == TC_LINK_UP; i++) {
    struct tc_path *p = tc_paths_slot(l, i);
    bool connected;
    if (p->mode != TC_PATH_ICE || !settled(p, now, &connected))
      continue;
    tc_path_enlarge_buffers(p);
    if (tc_path_takeover(p, connected))
      LOG_INFO("tincan", "link %s/%s: dataplane on the selected socket (%s -> %s, slot %u), "
               "ICE agent freed", l->ov->cfg.overlay_id, l->peer_id, p->local_addr,
               p->remote_addr, i);
  }
  for (unsigned i = 0; i < 2; i++) {
    struct tc_path *p = tc_paths_slot(l, i);
    if (tc_path_tick(p, now) && tc_path_turn_error(p)[0])
      note(l, tc_path_turn_error(p));
  }
  uint64_t us = now_us();
  if (now - l->last_ping_ms >= TC_KEEPALIVE_MS) {
    l->last_ping_ms = now;
    tc_dp_send_ping(&l->dp, us);
  }
  tc_paths_tick(l, now, us);
  if (l->state == TC_LINK_UP && now - l->dp.last_rx_ms > TC_DEAD_MS)
    set_state(l, TC_LINK_DOWN, "keepalive timeout (no authenticated traffic for 5 s)");
}

static void tick_cb(uv_timer_t *t)
{
  struct tc_link *l = t->data;
  uint64_t now = ipop_now_ms();
  if (l->state == TC_LINK_DEAD)
    return;
  if (l->pending && now - l->created_ms >= TC_GATHER_DEADLINE_MS)
    answer_candidates(l); /* what we have so far; srflx/relay may come later */
  uint8_t m[TC_REKEY_MSG_MAX];
  int n = tc_session_tick(&l->sess, now, m, sizeof m); /* may fail the link */
  if (n > 0)
    tc_dp_send_msg(&l->dp, m, (size_t)n);
  if (l->state == TC_LINK_CONNECTING && now - l->connect_start_ms > TC_CONNECT_DEADLINE_MS) {
    if (l->sess.dtls.state == TC_DTLS_HANDSHAKE)
      set_state(l, TC_LINK_FAILED, "dtls handshake timed out");
    else
      path_failed(l, "ice timed out");
  }
  if (tc_link_keyed(l))
    keyed_tick(l, now);
}

/* ---- creation ----------------------------------------------------------- */

static bool is_tap_name(void *ctx, const char *ifname)
{
  struct tc_daemon *d = ctx;
  for (struct tc_overlay *o = d->overlays; o; o = o->next)
    if (strcmp(o->cfg.tap_name, ifname) == 0)
      return true;
  return false;
}

int tc_link_create(struct tc_overlay *ov, const char *peer_id, int relay, struct tc_link **out,
                   char *why, size_t whylen)
{
  struct tc_daemon *d = ov->d;
  uint32_t slot = TC_MAX_LINKS_PER_OVERLAY;
  for (uint32_t i = 0; i < TC_MAX_LINKS_PER_OVERLAY && slot == TC_MAX_LINKS_PER_OVERLAY; i++)
    if (!ov->slot[i])
      slot = i;
  if (slot == TC_MAX_LINKS_PER_OVERLAY) {
    snprintf(why, whylen, "overlay %s has too many links", ov->cfg.overlay_id);
    return IPOP_EBUSY;
  }
  struct tc_link *l = calloc(1, sizeof *l);
  if (!l)
    return IPOP_ENOMEM;
  l->ov = ov;
  l->slot = slot;
  snprintf(l->peer_id, sizeof l->peer_id, "%s", peer_id);
  l->state = TC_LINK_NEW;
  l->relay = relay;
  l->created_ms = ipop_now_ms();
  struct tc_path_config pc = {
    .loop = d->loop, .gctx = d->gctx, .gloop = &d->gloop, .io = &d->dp->io,
    .controlling = strcmp(ov->cfg.node_id, peer_id) < 0,
    .stun = (const char(*)[CTL_HOSTPORT_LEN])ov->cfg.stun, .n_stun = ov->cfg.n_stun,
    .turn = ov->cfg.turn, .n_turn = relay == CTL_RELAY_NEVER ? 0 : ov->cfg.n_turn,
    .relay = relay, .aggressive = true,
    .skip_ifname = is_tap_name, .skip_ctx = d,
  };
  int rc = tc_path_init(&l->path, &pc, &path_ops, l, why, whylen);
  if (rc) {
    free(l);
    return rc;
  }
  l->alt.mode = TC_PATH_CLOSED;
  l->alt.fd = -1;
  l->tx = &l->path;
  l->pcfg = pc;
  l->pcfg.n_turn = ov->cfg.n_turn; /* paths made later choose their own policy */
  l->pops = &path_ops;
  l->handle_closed = link_closed;
  l->initiator = strcmp(ov->cfg.node_id, peer_id) < 0;
  tc_dp_init(&l->dp, d->dp, &l->sess, &l->path, l);
  uv_timer_init(d->loop, &l->tick);
  l->tick.data = l;
  uv_timer_start(&l->tick, tick_cb, TC_TICK_MS, TC_TICK_MS);
  l->next = ov->links;
  ov->links = l;
  ov->n_links++;
  ov->slot[l->slot] = l;
  *out = l;
  LOG_INFO("tincan", "link %s/%s: gathering (%s, stun %s, turn %s, relay %s)",
           ov->cfg.overlay_id, peer_id, l->path.controlling ? "controlling" : "controlled",
           l->path.stun_used[0] ? l->path.stun_used : "none",
           l->path.turn_used[0] ? l->path.turn_used : "none", ctl_relay_policy_names[relay]);
  return 0;
}

void tc_link_want_candidates(struct tc_link *l, struct ctl_request *req)
{
  if (l->path.flags & TC_PATH_GATHERED) {
    l->pending = req;
    answer_candidates(l);
    return;
  }
  if (l->pending) /* a newer request replaces an older one */
    ctl_reply_error(l->pending, IPOP_EBUSY, "superseded by a newer query_candidates");
  l->pending = req;
}

int tc_link_connect(struct tc_link *l, const struct ctl_create_link *r, char *why,
                    size_t whylen)
{
  struct tc_daemon *d = l->ov->d;
  uint8_t pin[TC_FPR_BYTES];
  if (tc_fpr_parse(r->peer_fingerprint, pin)) {
    snprintf(why, whylen, "peer_fingerprint: not a sha-256 fingerprint");
    return IPOP_EFIELD;
  }
  int rc = tc_path_connect(&l->path, r, why, whylen);
  if (rc)
    return rc;
  rc = tc_session_init(&l->sess, d->ssl_ctx, &d->id, l->path.controlling, pin,
                       d->rekey_interval_ms, &sess_ops, l);
  if (rc) {
    snprintf(why, whylen, "cannot create DTLS session");
    return rc;
  }
  l->flags = (r->has_peer_mac ? TC_LINK_HAS_PEER_MAC : 0u) | (r->bridge ? TC_LINK_BRIDGE : 0u);
  memcpy(l->peer_mac, r->peer_mac, 6);
  l->connect_start_ms = ipop_now_ms();
  set_state(l, TC_LINK_CONNECTING, "");
  /* ICE may already be connected (the peer's checks arrived first). */
  NiceComponentState st = tc_path_ice_state(&l->path);
  if (st == NICE_COMPONENT_STATE_CONNECTED || st == NICE_COMPONENT_STATE_READY)
    tc_session_start(&l->sess);
  return 0;
}

int tc_link_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p,
                       size_t n)
{
  /* No frame before the handshake completed and the pin was verified, nor
   * after the link failed. */
  if (!tc_link_keyed(l)) {
    l->dp.st.drops++;
    return IPOP_ESTATE;
  }
  int rc = tc_dp_send_frame(&l->dp, vh, p, n);
  if (rc && rc != IPOP_ESTATE)
    ipop_log_rl(&rl_drop, IPOP_LOG_WARN, "tincan", "link %s/%s: send failed, frame dropped",
                l->ov->cfg.overlay_id, l->peer_id);
  return rc;
}

int tc_link_send_routed(struct tc_link *l, const uint8_t *hdr, const uint8_t *p, size_t n)
{
  if (!tc_link_keyed(l)) {
    l->dp.st.drops++;
    return IPOP_ESTATE;
  }
  return tc_dp_send_routed(&l->dp, hdr, 1 + TC_DP_ROUTED_HDR, p, n);
}

void tc_link_flush(struct tc_link *l)
{
  tc_path_flush(&l->path);
  tc_path_flush(&l->alt);
}

void tc_link_stat(struct tc_link *l, struct ctl_link_stat *s)
{
  memset(s, 0, sizeof *s);
  snprintf(s->overlay_id, sizeof s->overlay_id, "%s", l->ov->cfg.overlay_id);
  snprintf(s->peer_id, sizeof s->peer_id, "%s", l->peer_id);
  s->state = l->state == TC_LINK_DEAD ? CTL_LINK_FAILED : (int)l->state;
  s->role = l->path.controlling ? CTL_ROLE_CONTROLLING : CTL_ROLE_CONTROLLED;
  tc_path_stat(l->tx, &s->pair_type, s->local_addr, s->remote_addr, sizeof s->local_addr);
  s->rtt_us = l->dp.rtt_us;
  s->tx_bytes = l->dp.st.tx_bytes;
  s->rx_bytes = l->dp.st.rx_bytes;
  s->tx_packets = l->dp.st.tx_packets;
  s->rx_packets = l->dp.st.rx_packets;
  s->drops = l->dp.st.drops + l->sess.bad_records + l->path.drops + l->alt.drops;
  s->up_ms = l->up_since_ms ? ipop_now_ms() - l->up_since_ms : 0;
  memcpy(s->peer_mac, l->peer_mac, 6);
  s->has_peer_mac = (l->flags & TC_LINK_HAS_PEER_MAC) != 0;
  s->bridge = (l->flags & TC_LINK_BRIDGE) != 0;
  s->spoofed = l->spoofed;
  s->rekeys = tc_session_rekeys(&l->sess);
  s->relay = l->relay;
  s->roams = l->path.roams + l->alt.roams;
  s->relay_channel = tc_path_turn_channel(l->tx);
  s->relay_dropped = tc_path_turn_dropped(&l->path) + tc_path_turn_dropped(&l->alt);
}

void tc_link_stat_paths(struct tc_link *l, struct ctl_link_stat *s)
{
  snprintf(s->reason, sizeof s->reason, "%s", l->reason[0] ? l->reason : l->note);
  tc_path_candidates(&l->path, s);
}

static void link_closed(uv_handle_t *h)
{
  struct tc_link *l = h->data;
  if (--l->handles_closing == 0)
    free(l);
}

void tc_link_destroy(struct tc_link *l)
{
  struct tc_overlay *ov = l->ov;
  for (struct tc_link **pl = &ov->links; *pl; pl = &(*pl)->next)
    if (*pl == l) {
      *pl = l->next;
      ov->n_links--;
      break;
    }
  l->state = TC_LINK_DEAD;
  if (l->slot < TC_MAX_LINKS_PER_OVERLAY && ov->slot[l->slot] == l) {
    ov->slot[l->slot] = NULL;
    if (ov->sw)
      switch_remove_link(ov->sw, l->slot);
    if (ov->am)
      addrmap_remove(ov->am, l->slot);
    tc_fwd_link_gone(&ov->fwd, l->slot);
  }
  if (l->pending) {
    ctl_reply_error(l->pending, IPOP_ENOENT, "link removed");
    l->pending = NULL;
  }
  tc_dp_free(&l->dp);
  tc_session_free(&l->sess);
  l->handles_closing = 1 + tc_paths_close(l, link_closed) + l->probe_closing;
  if (l->probing)
    l->handles_closing += tc_turnprobe_close(&l->probe, link_closed, l);
  l->probing = false;
  uv_timer_stop(&l->tick);
  uv_close((uv_handle_t *)&l->tick, link_closed);
}

struct tc_link *tc_link_find(struct tc_overlay *ov, const char *peer_id)
{
  for (struct tc_link *l = ov->links; l; l = l->next)
    if (strcmp(l->peer_id, peer_id) == 0)
      return l;
  return NULL;
}
