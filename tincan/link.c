/* Links: one libnice agent (full ICE, one component) carrying one DTLS 1.2
 * session carrying Ethernet frames. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "dataplane.h"
#include "error.h"
#include "link.h"
#include "secret.h"
#include "validate.h"

static struct ipop_ratelimit rl_drop = IPOP_RATELIMIT_INIT(5000, 5);

static void tick_cb(uv_timer_t *t);

static const struct ctl_msg_desc *msg(const char *name)
{
  return ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, name);
}

void tc_link_event(struct tc_link *l)
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
  ev.state = l->state;
  snprintf(ev.reason, sizeof ev.reason, "%s", l->reason);
  ctl_event_send(d->ep, (const struct sockaddr *)&d->controller, msg("link_state"), &ev);
}

static void set_state(struct tc_link *l, int state, const char *reason)
{
  if (l->state == state)
    return;
  l->state = state;
  snprintf(l->reason, sizeof l->reason, "%s", reason ? reason : "");
  if (state == CTL_LINK_UP)
    l->up_since_ms = ipop_now_ms();
  else if (state != CTL_LINK_CONNECTING)
    l->up_since_ms = 0;
  tc_link_event(l);
}

/* ---- DTLS plumbing ------------------------------------------------------ */

static void dtls_send(void *arg, const uint8_t *p, size_t n)
{
  tc_dp_send_raw(arg, p, n);
}

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Application data inside DTLS is not used: frames and keepalives travel
 * as records (dataplane.h) under keys exported from the handshake. */
static void dtls_recv(void *arg, const uint8_t *p, size_t n)
{
  struct tc_link *l = arg;
  (void)p; (void)n;
  l->drops++;
}

void tc_link_alive(struct tc_link *l)
{
  l->last_rx_ms = ipop_now_ms();
  if (l->state == CTL_LINK_DOWN)
    set_state(l, CTL_LINK_UP, "path recovered");
}

/* A bursty sender overruns the default socket buffer (~200 KiB) whenever
 * this process is not scheduled for a moment; give the link's selected
 * socket a few MiB (SO_RCVBUFFORCE needs CAP_NET_ADMIN, which we keep). */
static void enlarge_buffers(struct tc_link *l)
{
  GSocket *gs = l->agent ? nice_agent_get_selected_socket(l->agent, l->stream, 1) : NULL;
  if (!gs)
    return; /* relayed pair: libnice's TURN socket */
  int fd = g_socket_get_fd(gs), size = TC_SOCKET_BUFFER;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  g_object_unref(gs);
}

static void dtls_established(void *arg)
{
  struct tc_link *l = arg;
  l->last_rx_ms = ipop_now_ms();
  enlarge_buffers(l);
  int rc = tc_dp_start(l);
  if (rc) {
    set_state(l, CTL_LINK_FAILED, "cannot derive dataplane keys from the dtls session");
    return;
  }
  LOG_INFO("tincan", "link %s/%s: dtls up (%s), peer fingerprint verified, record keys exported",
           l->ov->cfg.overlay_id, l->peer_id, tc_dtls_cipher(&l->dtls));
  set_state(l, CTL_LINK_UP, "");
  /* Let the timer (outside libnice's dispatch) try the socket take-over
   * and send the first keepalive now. */
  uv_timer_start(&l->tick, tick_cb, 0, TC_TICK_MS);
}

static void dtls_failed(void *arg, const char *reason)
{
  struct tc_link *l = arg;
  set_state(l, CTL_LINK_FAILED, reason);
}

static const struct tc_dtls_ops dtls_ops = {
  .send = dtls_send,
  .recv = dtls_recv,
  .established = dtls_established,
  .failed = dtls_failed,
};

/* ---- libnice callbacks (run from the GLib dispatch inside the uv loop) -- */

static void nice_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
                      gpointer data)
{
  struct tc_link *l = data;
  (void)agent; (void)stream; (void)comp;
  if (l->dead)
    return;
  if (!l->dtls_ready) {
    /* A ClientHello may come before our own create_link; the peer
     * retransmits it. */
    l->drops++;
    return;
  }
  tc_dp_input(l, (const uint8_t *)buf, len);
}

static void fill_candidates(struct tc_link *l, struct ctl_candidates *c)
{
  memset(c, 0, sizeof *c);
  snprintf(c->overlay_id, sizeof c->overlay_id, "%s", l->ov->cfg.overlay_id);
  snprintf(c->peer_id, sizeof c->peer_id, "%s", l->peer_id);
  snprintf(c->node_id, sizeof c->node_id, "%s", l->ov->cfg.node_id);
  snprintf(c->fingerprint, sizeof c->fingerprint, "%s", l->ov->d->id.fpr_text);
  gchar *ufrag = NULL, *pwd = NULL;
  if (nice_agent_get_local_credentials(l->agent, l->stream, &ufrag, &pwd)) {
    snprintf(c->ufrag, sizeof c->ufrag, "%s", ufrag);
    snprintf(c->pwd, sizeof c->pwd, "%s", pwd);
  }
  g_free(ufrag);
  g_free(pwd);
  GSList *cands = nice_agent_get_local_candidates(l->agent, l->stream, 1);
  for (GSList *i = cands; i; i = i->next) {
    gchar *sdp = nice_agent_generate_local_candidate_sdp(l->agent, i->data);
    if (sdp && c->n_candidates < CTL_MAX_CANDS) {
      const char *v = strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp;
      if (strlen(v) < CTL_CAND_LEN)
        snprintf(c->candidates[c->n_candidates++], CTL_CAND_LEN, "%s", v);
    }
    g_free(sdp);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
}

static void answer_candidates(struct tc_link *l)
{
  struct ctl_request *req = l->pending;
  if (!req)
    return;
  l->pending = NULL;
  struct ctl_candidates *c = malloc(sizeof *c);
  if (!c) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  fill_candidates(l, c);
  if (c->n_candidates == 0)
    ctl_reply_error(req, IPOP_ECONNREFUSED,
                    "no local candidates (no usable interface, STUN or TURN server)");
  else
    ctl_reply(req, c);
  free(c);
}

static void check_turn(struct tc_link *l)
{
  if (!l->turn_used[0])
    return;
  bool relay = false;
  GSList *cands = nice_agent_get_local_candidates(l->agent, l->stream, 1);
  for (GSList *i = cands; i; i = i->next)
    if (((NiceCandidate *)i->data)->type == NICE_CANDIDATE_TYPE_RELAYED)
      relay = true;
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  if (!relay) {
    char why[CTL_REASON_LEN];
    snprintf(why, sizeof why,
             "turn: no relayed candidate from %s (wrong username/password, or server unreachable)",
             l->turn_used);
    LOG_WARN("tincan", "link %s/%s: %s", l->ov->cfg.overlay_id, l->peer_id, why);
    /* The link may still work without a relay: report, keep the state. */
    snprintf(l->reason, sizeof l->reason, "%s", why);
    tc_link_event(l);
    l->reason[0] = '\0';
  }
}

static void nice_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
  struct tc_link *l = data;
  (void)agent; (void)stream;
  if (l->dead || l->gathered)
    return;
  l->gathered = true;
  answer_candidates(l);
  check_turn(l);
}

static void nice_state(NiceAgent *agent, guint stream, guint comp, guint state,
                       gpointer data)
{
  struct tc_link *l = data;
  (void)agent; (void)stream; (void)comp;
  if (l->dead)
    return;
  LOG_DEBUG("tincan", "link %s/%s: ice %s", l->ov->cfg.overlay_id, l->peer_id,
            nice_component_state_to_string(state));
  if ((state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) &&
      l->dtls_ready && l->dtls.state == TC_DTLS_IDLE) {
    /* ICE may have resolved a role conflict (both sides told "controlling"):
     * the DTLS client is whoever ended up controlling. */
    gboolean controlling = FALSE;
    g_object_get(l->agent, "controlling-mode", &controlling, NULL);
    if ((bool)controlling != l->controlling) {
      l->controlling = controlling;
      tc_dtls_set_role(&l->dtls, l->controlling);
    }
    if (l->dtls.client)
      tc_dtls_start(&l->dtls);
  } else if (state == NICE_COMPONENT_STATE_READY && l->rec_ready) {
    uv_timer_start(&l->tick, tick_cb, 0, TC_TICK_MS); /* take-over, outside this callback */
  } else if (state == NICE_COMPONENT_STATE_FAILED) {
    if (l->state == CTL_LINK_CONNECTING || l->state == CTL_LINK_NEW)
      set_state(l, CTL_LINK_FAILED, "ice failed");
    else if (l->state == CTL_LINK_UP)
      set_state(l, CTL_LINK_DOWN, "ice failed");
  }
}

/* ---- housekeeping timer -------------------------------------------------- */

static void tick_cb(uv_timer_t *t)
{
  struct tc_link *l = t->data;
  uint64_t now = ipop_now_ms();
  if (l->dead)
    return;
  if (l->pending && now - l->created_ms >= TC_GATHER_DEADLINE_MS)
    answer_candidates(l); /* what we have so far; srflx/relay may come later */
  if (l->dtls_ready) {
    if (l->dtls.state == TC_DTLS_HANDSHAKE) {
      long ms = tc_dtls_next_timeout_ms(&l->dtls);
      if (ms == 0)
        tc_dtls_timeout(&l->dtls);
    }
    if (l->state == CTL_LINK_CONNECTING && now - l->connect_start_ms > TC_CONNECT_DEADLINE_MS)
      set_state(l, CTL_LINK_FAILED,
                l->dtls.state == TC_DTLS_HANDSHAKE ? "dtls handshake timed out"
                                                   : "ice timed out");
    if (l->rec_ready) {
      if (l->fd < 0 && l->agent && l->state == CTL_LINK_UP)
        tc_dp_try_takeover(l);
      if (now - l->last_ping_ms >= TC_KEEPALIVE_MS) {
        l->last_ping_ms = now;
        tc_dp_send_ping(l, TC_DP_PING, now_us());
      }
      if (l->state == CTL_LINK_UP && now - l->last_rx_ms > TC_DEAD_MS)
        set_state(l, CTL_LINK_DOWN, "keepalive timeout (no authenticated traffic for 5 s)");
    }
  }
}

/* ---- creation ----------------------------------------------------------- */

static bool is_tap_name(struct tc_daemon *d, const char *ifname)
{
  for (struct tc_overlay *o = d->overlays; o; o = o->next)
    if (strcmp(o->cfg.tap_name, ifname) == 0)
      return true;
  return false;
}

/* Host candidates only on real interfaces: never on loopback or on one of
 * our own TAPs (a link must not run over the overlay it carries). */
static int add_local_addresses(struct tc_link *l)
{
  struct ifaddrs *ifa = NULL;
  int added = 0;
  if (getifaddrs(&ifa) != 0)
    return 0;
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    if (is_tap_name(l->ov->d, i->ifa_name))
      continue;
    int fam = i->ifa_addr->sa_family;
    if (fam != AF_INET && fam != AF_INET6)
      continue;
    if (fam == AF_INET6 &&
        IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
      continue;
    NiceAddress a;
    nice_address_init(&a);
    nice_address_set_from_sockaddr(&a, i->ifa_addr);
    nice_address_set_port(&a, 0);
    if (nice_agent_add_local_address(l->agent, &a))
      added++;
  }
  freeifaddrs(ifa);
  return added;
}

static void random_ice_string(char *out, size_t len)
{
  static const char set[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint8_t r[128];
  ipop_random_bytes(r, len);
  for (size_t i = 0; i < len; i++)
    out[i] = set[r[i] & 63];
  out[len] = '\0';
}

static unsigned pick(unsigned n)
{
  uint32_t r = 0;
  ipop_random_bytes(&r, sizeof r);
  return r % n;
}

int tc_link_create(struct tc_overlay *ov, const char *peer_id, struct tc_link **out,
                   char *why, size_t whylen)
{
  struct tc_daemon *d = ov->d;
  struct tc_link *l = calloc(1, sizeof *l);
  if (!l)
    return IPOP_ENOMEM;
  l->ov = ov;
  l->slot = TC_MAX_LINKS_PER_OVERLAY;
  for (uint32_t i = 0; i < TC_MAX_LINKS_PER_OVERLAY; i++)
    if (!ov->slot[i]) {
      l->slot = i;
      break;
    }
  if (l->slot == TC_MAX_LINKS_PER_OVERLAY) {
    free(l);
    snprintf(why, whylen, "overlay %s has too many links", ov->cfg.overlay_id);
    return IPOP_EBUSY;
  }
  snprintf(l->peer_id, sizeof l->peer_id, "%s", peer_id);
  l->state = CTL_LINK_NEW;
  l->created_ms = ipop_now_ms();
  l->controlling = strcmp(ov->cfg.node_id, peer_id) < 0;
  l->fd = -1;

  l->agent = nice_agent_new_full(d->gctx, NICE_COMPATIBILITY_RFC5245,
                                 NICE_AGENT_OPTION_REGULAR_NOMINATION);
  if (!l->agent) {
    free(l);
    snprintf(why, whylen, "cannot create ICE agent");
    return IPOP_EINTERNAL;
  }
  /* STUN timing also paces connectivity checks: give each check ~15 s of
   * retransmissions, so that a pair through a TURN relay survives until
   * both sides have created their permissions.  A slow STUN server cannot
   * delay query_candidates beyond TC_GATHER_DEADLINE_MS.
   * UPnP stays off: tincan does not ask the user's router to open ports
   * (candidates come from STUN/TURN), and libnice's UPnP client would send
   * SSDP multicast on every gathering and keep allocations we never use. */
  g_object_set(l->agent, "ice-tcp", FALSE, "upnp", FALSE, "controlling-mode", l->controlling,
               "stun-initial-timeout", 500, "stun-max-retransmissions", 5, NULL);
  if (ov->cfg.n_stun) {
    struct sockaddr_storage ss;
    const char *s = ov->cfg.stun[pick(ov->cfg.n_stun)];
    char host[INET6_ADDRSTRLEN];
    if (tc_parse_hostport(s, &ss) == 0) {
      uint16_t port;
      if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      }
      g_object_set(l->agent, "stun-server", host, "stun-server-port", (guint)port, NULL);
      snprintf(l->stun_used, sizeof l->stun_used, "%s", s);
    }
  }
  /* With no address added libnice would use every interface, TAPs
   * included: refuse instead. */
  if (add_local_addresses(l) == 0) {
    g_object_unref(l->agent);
    free(l);
    snprintf(why, whylen, "no usable network interface (other than loopback and our TAPs)");
    return IPOP_ECONNREFUSED;
  }
  l->stream = nice_agent_add_stream(l->agent, 1);
  if (!l->stream) {
    g_object_unref(l->agent);
    free(l);
    snprintf(why, whylen, "cannot add ICE stream");
    return IPOP_EINTERNAL;
  }
  char ufrag[9], pwd[25];
  random_ice_string(ufrag, 8);
  random_ice_string(pwd, 24);
  nice_agent_set_local_credentials(l->agent, l->stream, ufrag, pwd);
  OPENSSL_cleanse(pwd, sizeof pwd);
  if (ov->cfg.n_turn) {
    const struct ctl_turn_server *t = &ov->cfg.turn[pick(ov->cfg.n_turn)];
    struct sockaddr_storage ss;
    char host[INET6_ADDRSTRLEN];
    uint16_t port = 0;
    if (tc_parse_hostport(t->address, &ss) == 0) {
      if (ss.ss_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
      } else {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
      }
      NiceRelayType rt = t->transport == CTL_TURN_TCP   ? NICE_RELAY_TYPE_TURN_TCP
                         : t->transport == CTL_TURN_TLS ? NICE_RELAY_TYPE_TURN_TLS
                                                        : NICE_RELAY_TYPE_TURN_UDP;
      if (nice_agent_set_relay_info(l->agent, l->stream, 1, host, port, t->user,
                                    t->password, rt))
        snprintf(l->turn_used, sizeof l->turn_used, "%s (%s)", t->address,
                 ctl_turn_transport_names[t->transport]);
    }
  }
  l->sig_gather = g_signal_connect(l->agent, "candidate-gathering-done",
                                   G_CALLBACK(nice_gathering_done), l);
  l->sig_state = g_signal_connect(l->agent, "component-state-changed",
                                  G_CALLBACK(nice_state), l);
  nice_agent_attach_recv(l->agent, l->stream, 1, d->gctx, nice_recv, l);
  uv_timer_init(d->loop, &l->tick);
  l->tick.data = l;
  if (!nice_agent_gather_candidates(l->agent, l->stream)) {
    snprintf(why, whylen, "candidate gathering failed to start");
    tc_link_destroy(l);
    return IPOP_EINTERNAL;
  }
  uv_timer_start(&l->tick, tick_cb, TC_TICK_MS, TC_TICK_MS);
  l->next = ov->links;
  ov->links = l;
  ov->n_links++;
  ov->slot[l->slot] = l;
  *out = l;
  LOG_INFO("tincan", "link %s/%s: gathering (%s, stun %s, turn %s)", ov->cfg.overlay_id,
           peer_id, l->controlling ? "controlling" : "controlled",
           l->stun_used[0] ? l->stun_used : "none", l->turn_used[0] ? l->turn_used : "none");
  return 0;
}

void tc_link_want_candidates(struct tc_link *l, struct ctl_request *req)
{
  if (l->gathered) {
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
  uint8_t pin[TC_FPR_BYTES];
  if (tc_fpr_parse(r->peer_fingerprint, pin)) {
    snprintf(why, whylen, "peer_fingerprint: not a sha-256 fingerprint");
    return IPOP_EFIELD;
  }
  GSList *rc = NULL;
  for (uint32_t i = 0; i < r->n_peer_candidates; i++) {
    char line[CTL_CAND_LEN + 3];
    const char *c = r->peer_candidates[i];
    snprintf(line, sizeof line, "%s%s", strncmp(c, "a=", 2) ? "a=" : "", c);
    NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp(l->agent, l->stream, line);
    if (!nc || nc->component_id != 1) {
      snprintf(why, whylen, "peer_candidates[%u]: %s", i,
               nc ? "component must be 1" : "not a valid ICE candidate");
      if (nc)
        nice_candidate_free(nc);
      g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
      return IPOP_EFIELD;
    }
    rc = g_slist_append(rc, nc);
  }
  if (r->role != CTL_ROLE_AUTO) {
    l->controlling = r->role == CTL_ROLE_CONTROLLING;
    g_object_set(l->agent, "controlling-mode", l->controlling, NULL);
  }
  if (!nice_agent_set_remote_credentials(l->agent, l->stream, r->peer_ufrag, r->peer_pwd)) {
    g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
    snprintf(why, whylen, "peer_ufrag/peer_pwd: refused by the ICE agent");
    return IPOP_EFIELD;
  }
  int rcn = tc_dtls_init(&l->dtls, l->ov->d->ssl_ctx, l->controlling, pin, &dtls_ops, l);
  if (rcn) {
    g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
    snprintf(why, whylen, "cannot create DTLS session");
    return rcn;
  }
  l->dtls_ready = true;
  l->remote_set = true;
  l->connect_start_ms = ipop_now_ms();
  int added = nice_agent_set_remote_candidates(l->agent, l->stream, 1, rc);
  g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
  if (added < 0) {
    snprintf(why, whylen, "peer_candidates: refused by the ICE agent");
    return IPOP_EFIELD;
  }
  set_state(l, CTL_LINK_CONNECTING, "");
  /* ICE may already be connected (the peer's checks arrived first). */
  NiceComponentState st = nice_agent_get_component_state(l->agent, l->stream, 1);
  if ((st == NICE_COMPONENT_STATE_CONNECTED || st == NICE_COMPONENT_STATE_READY) &&
      l->dtls.client)
    tc_dtls_start(&l->dtls);
  return 0;
}

int tc_link_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p,
                       size_t n)
{
  /* No frame before the handshake completed and the pin was verified
   * (tc_dp_send_frame refuses until the record keys exist). */
  int rc = tc_dp_send_frame(l, vh, p, n);
  if (rc && rc != IPOP_ESTATE)
    ipop_log_rl(&rl_drop, IPOP_LOG_WARN, "tincan", "link %s/%s: send failed, frame dropped",
                l->ov->cfg.overlay_id, l->peer_id);
  return rc;
}

static int cand_type(NiceCandidateType t)
{
  switch (t) {
  case NICE_CANDIDATE_TYPE_HOST: return CTL_PAIR_HOST;
  case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE: return CTL_PAIR_SRFLX;
  case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE: return CTL_PAIR_PRFLX;
  case NICE_CANDIDATE_TYPE_RELAYED: return CTL_PAIR_RELAY;
  }
  return CTL_PAIR_NONE;
}

static void addr_text(const NiceAddress *a, char *out, size_t n)
{
  char ip[NICE_ADDRESS_STRING_LEN];
  nice_address_to_string(a, ip);
  if (nice_address_ip_version(a) == 6)
    snprintf(out, n, "[%s]:%u", ip, nice_address_get_port(a));
  else
    snprintf(out, n, "%s:%u", ip, nice_address_get_port(a));
}

void tc_link_stat(const struct tc_link *l, struct ctl_link_stat *s)
{
  memset(s, 0, sizeof *s);
  snprintf(s->overlay_id, sizeof s->overlay_id, "%s", l->ov->cfg.overlay_id);
  snprintf(s->peer_id, sizeof s->peer_id, "%s", l->peer_id);
  s->state = l->state;
  s->role = l->controlling ? CTL_ROLE_CONTROLLING : CTL_ROLE_CONTROLLED;
  NiceCandidate *lc = NULL, *rc = NULL;
  if (l->agent && nice_agent_get_selected_pair(l->agent, l->stream, 1, &lc, &rc)) {
    int lt = cand_type(lc->type), rt = cand_type(rc->type);
    /* The pair's type is its least direct end. */
    s->pair_type = lt > rt ? lt : rt;
    addr_text(&lc->addr, s->local_addr, sizeof s->local_addr);
    addr_text(&rc->addr, s->remote_addr, sizeof s->remote_addr);
  } else if (l->fd >= 0) { /* taken over: the agent is gone */
    s->pair_type = l->pair_type;
    snprintf(s->local_addr, sizeof s->local_addr, "%s", l->local_addr);
    snprintf(s->remote_addr, sizeof s->remote_addr, "%s", l->remote_addr);
  }
  s->rtt_us = l->rtt_us;
  s->tx_bytes = l->tx_bytes;
  s->rx_bytes = l->rx_bytes;
  s->tx_packets = l->tx_packets;
  s->rx_packets = l->rx_packets;
  s->drops = l->drops + l->bad_records;
  s->up_ms = l->up_since_ms ? ipop_now_ms() - l->up_since_ms : 0;
}

static void link_closed(uv_handle_t *h)
{
  struct tc_link *l = h->data;
  if (--l->handles_closing == 0)
    free(l);
}

void tc_link_cache_pair(struct tc_link *l)
{
  struct ctl_link_stat s;
  tc_link_stat(l, &s);
  l->pair_type = s.pair_type;
  snprintf(l->local_addr, sizeof l->local_addr, "%s", s.local_addr);
  snprintf(l->remote_addr, sizeof l->remote_addr, "%s", s.remote_addr);
}

/* Free the ICE agent (its sockets close; a taken-over dup stays open). */
void tc_link_release_agent(struct tc_link *l)
{
  if (!l->agent)
    return;
  struct tc_daemon *d = l->ov->d;
  nice_agent_attach_recv(l->agent, l->stream, 1, d->gctx, NULL, NULL);
  g_signal_handler_disconnect(l->agent, l->sig_gather);
  g_signal_handler_disconnect(l->agent, l->sig_state);
  /* Its sockets are about to close: forget their fds first (gloop.h). */
  tc_gloop_reset(&d->gloop);
  nice_agent_remove_stream(l->agent, l->stream);
  g_object_unref(l->agent);
  l->agent = NULL;
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
  l->dead = true;
  if (l->slot < TC_MAX_LINKS_PER_OVERLAY && ov->slot[l->slot] == l) {
    ov->slot[l->slot] = NULL;
    if (ov->sw)
      switch_remove_link(ov->sw, l->slot);
    if (ov->am)
      addrmap_remove(ov->am, l->slot);
  }
  if (l->pending) {
    ctl_reply_error(l->pending, IPOP_ENOENT, "link removed");
    l->pending = NULL;
  }
  l->handles_closing = 1 + tc_dp_stop(l, link_closed);
  if (l->dtls_ready)
    tc_dtls_free(&l->dtls);
  l->dtls_ready = false;
  tc_link_release_agent(l);
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
