/* A link's path (path.h): the ICE agent, then possibly its selected socket. */
#include "path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/udp.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "pathsock.h"
#include "secret.h"
#include "stun.h"
#include "turnchan.h"
#include "validate.h"

/* Row i: TC_PATH_HEADROOM bytes (a ChannelData header on a relayed path),
 * then datagram i, len[i] bytes. */
struct tc_path_txq {
  unsigned n;
  uint16_t len[TC_PATH_BATCH];
  uint8_t buf[TC_PATH_BATCH][TC_PATH_HEADROOM + TC_PATH_DGRAM_MAX];
};

/* ---- libnice callbacks (run from the GLib dispatch inside the uv loop) -- */

static void nice_recv(NiceAgent *agent, guint stream, guint comp, guint len, gchar *buf,
                      gpointer data)
{
  struct tc_path *p = data;
  (void)agent; (void)stream; (void)comp;
  p->ops->recv(p->arg, p, (const uint8_t *)buf, len);
}

static void nice_gathering_done(NiceAgent *agent, guint stream, gpointer data)
{
  struct tc_path *p = data;
  (void)agent; (void)stream;
  if (p->flags & TC_PATH_GATHERED)
    return;
  p->flags |= TC_PATH_GATHERED;
  p->ops->gathered(p->arg, p);
}

static void nice_state(NiceAgent *agent, guint stream, guint comp, guint state, gpointer data)
{
  struct tc_path *p = data;
  (void)agent; (void)stream; (void)comp;
  p->ops->ice_state(p->arg, p, (NiceComponentState)state);
}

/* ---- creation ----------------------------------------------------------- */

/* Host candidates only on real interfaces: never on loopback or on one of
 * our own TAPs (a link must not run over the overlay it carries). */
static int add_local_addresses(struct tc_path *p, const struct tc_path_config *cfg)
{
  struct ifaddrs *ifa = NULL;
  int added = 0;
  if (getifaddrs(&ifa) != 0)
    return 0;
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK))
      continue;
    if (cfg->skip_ifname && cfg->skip_ifname(cfg->skip_ctx, i->ifa_name))
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
    if (nice_agent_add_local_address(p->agent, &a))
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
  OPENSSL_cleanse(r, sizeof r);
}

static unsigned pick(unsigned n)
{
  uint32_t r = 0;
  ipop_random_bytes(&r, sizeof r);
  return r % n;
}

/* "ip:port" (validated by create_overlay) as libnice wants it. */
static bool host_port(const char *s, char host[INET6_ADDRSTRLEN], uint16_t *port)
{
  struct sockaddr_storage ss;
  if (tc_parse_hostport(s, &ss) != 0)
    return false;
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, INET6_ADDRSTRLEN);
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  } else {
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, INET6_ADDRSTRLEN);
    *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  }
  return true;
}

static void set_servers(struct tc_path *p, const struct tc_path_config *cfg)
{
  char host[INET6_ADDRSTRLEN];
  uint16_t port;
  if (cfg->n_stun) {
    const char *s = cfg->stun[pick(cfg->n_stun)];
    if (host_port(s, host, &port)) {
      g_object_set(p->agent, "stun-server", host, "stun-server-port", (guint)port, NULL);
      snprintf(p->stun_used, sizeof p->stun_used, "%s", s);
    }
  }
  if (cfg->n_turn) {
    const struct ctl_turn_server *t = &cfg->turn[pick(cfg->n_turn)];
    if (host_port(t->address, host, &port)) {
      NiceRelayType rt = t->transport == CTL_TURN_TCP   ? NICE_RELAY_TYPE_TURN_TCP
                         : t->transport == CTL_TURN_TLS ? NICE_RELAY_TYPE_TURN_TLS
                                                        : NICE_RELAY_TYPE_TURN_UDP;
      if (nice_agent_set_relay_info(p->agent, p->stream, 1, host, port, t->user, t->password,
                                    rt)) {
        p->turn = t;
        snprintf(p->turn_used, sizeof p->turn_used, "%s (%s)", t->address,
                 ctl_turn_transport_names[t->transport]);
      }
    }
  }
}

int tc_path_init(struct tc_path *p, const struct tc_path_config *cfg,
                 const struct tc_path_ops *ops, void *arg, char *why, size_t whylen)
{
  memset(p, 0, sizeof *p);
  p->mode = TC_PATH_CLOSED;
  p->fd = -1;
  p->io = cfg->io;
  p->gloop = cfg->gloop;
  p->gctx = cfg->gctx;
  p->loop = cfg->loop;
  p->controlling = cfg->controlling;
  p->relay = cfg->relay;
  p->ops = ops;
  p->arg = arg;
  /* Aggressive nomination (RFC 5245 8.1.1.2: the controlling side puts
   * USE-CANDIDATE in every check): a pair is nominated as soon as it
   * works.  Regular nomination waits for a second valid pair or for every
   * other check to end; a public host checking a peer behind a symmetric
   * NAT has one valid pair (to the peer's mapping, peer-reflexive) and a
   * check to the peer's private host address that fails only after the
   * full retransmission schedule (~15.5 s), while the controlled peer
   * declares failure 5 s after its own checks end (libnice's idle-timeout).
   * A better pair that works later is still selected (libnice keeps the
   * higher-priority checks running and moves the selection).  The in-band
   * paths of paths.c keep regular nomination (cfg->aggressive false): with
   * aggressive nomination test_tincan_paths' upgrade and fallback failed. */
  p->agent = nice_agent_new_full(cfg->gctx, NICE_COMPATIBILITY_RFC5245,
                                 cfg->aggressive ? 0 : NICE_AGENT_OPTION_REGULAR_NOMINATION);
  if (!p->agent) {
    snprintf(why, whylen, "cannot create ICE agent");
    return IPOP_EINTERNAL;
  }
  p->mode = TC_PATH_ICE;
  /* STUN timing also paces connectivity checks: give each check ~15 s of
   * retransmissions, so that a pair through a TURN relay survives until
   * both sides have created their permissions.  UPnP stays off: tincan
   * does not ask the user's router to open ports (candidates come from
   * STUN/TURN), and libnice's UPnP client would send SSDP multicast on
   * every gathering and keep allocations we never use. */
  g_object_set(p->agent, "ice-tcp", FALSE, "upnp", FALSE, "controlling-mode", p->controlling,
               "stun-initial-timeout", 500, "stun-max-retransmissions", 5, NULL);
  /* relay "always": libnice offers and checks relayed candidates only. */
  if (p->relay == CTL_RELAY_ALWAYS)
    g_object_set(p->agent, "force-relay", TRUE, NULL);
  /* With no address added libnice would use every interface, TAPs
   * included: refuse instead. */
  if (add_local_addresses(p, cfg) == 0) {
    snprintf(why, whylen, "no usable network interface (other than loopback and our TAPs)");
    tc_path_close(p, NULL, NULL);
    return IPOP_ECONNREFUSED;
  }
  p->stream = nice_agent_add_stream(p->agent, 1);
  if (!p->stream) {
    snprintf(why, whylen, "cannot add ICE stream");
    tc_path_close(p, NULL, NULL);
    return IPOP_EINTERNAL;
  }
  char ufrag[9], pwd[25];
  random_ice_string(ufrag, 8);
  random_ice_string(pwd, 24);
  nice_agent_set_local_credentials(p->agent, p->stream, ufrag, pwd);
  OPENSSL_cleanse(pwd, sizeof pwd);
  set_servers(p, cfg);
  p->sig_gather = g_signal_connect(p->agent, "candidate-gathering-done",
                                   G_CALLBACK(nice_gathering_done), p);
  p->sig_state = g_signal_connect(p->agent, "component-state-changed", G_CALLBACK(nice_state),
                                  p);
  nice_agent_attach_recv(p->agent, p->stream, 1, cfg->gctx, nice_recv, p);
  if (!nice_agent_gather_candidates(p->agent, p->stream)) {
    snprintf(why, whylen, "candidate gathering failed to start");
    tc_path_close(p, NULL, NULL);
    return IPOP_EINTERNAL;
  }
  return 0;
}

void tc_path_local(struct tc_path *p, struct ctl_candidates *c)
{
  if (p->mode != TC_PATH_ICE)
    return;
  gchar *ufrag = NULL, *pwd = NULL;
  if (nice_agent_get_local_credentials(p->agent, p->stream, &ufrag, &pwd)) {
    snprintf(c->ufrag, sizeof c->ufrag, "%s", ufrag);
    snprintf(c->pwd, sizeof c->pwd, "%s", pwd);
  }
  g_free(ufrag);
  if (pwd)
    OPENSSL_cleanse(pwd, strlen(pwd));
  g_free(pwd);
  GSList *cands = nice_agent_get_local_candidates(p->agent, p->stream, 1);
  for (GSList *i = cands; i; i = i->next) {
    gchar *sdp = nice_agent_generate_local_candidate_sdp(p->agent, i->data);
    if (sdp && c->n_candidates < CTL_MAX_CANDS) {
      const char *v = strncmp(sdp, "a=", 2) == 0 ? sdp + 2 : sdp;
      if (strlen(v) < CTL_CAND_LEN)
        snprintf(c->candidates[c->n_candidates++], CTL_CAND_LEN, "%s", v);
    }
    g_free(sdp);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
}

void tc_path_turn_problem(struct tc_path *p, char *why, size_t whylen)
{
  why[0] = '\0';
  if (!p->turn_used[0] || p->mode != TC_PATH_ICE)
    return;
  bool relay = false;
  GSList *cands = nice_agent_get_local_candidates(p->agent, p->stream, 1);
  for (GSList *i = cands; i; i = i->next)
    if (((NiceCandidate *)i->data)->type == NICE_CANDIDATE_TYPE_RELAYED)
      relay = true;
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  if (!relay)
    snprintf(why, whylen,
             "turn: no relayed candidate from %s (wrong username/password, or server unreachable)",
             p->turn_used);
}

int tc_path_connect(struct tc_path *p, const struct ctl_create_link *r, char *why,
                    size_t whylen)
{
  if (p->mode != TC_PATH_ICE)
    return IPOP_ESTATE;
  GSList *rc = NULL;
  for (uint32_t i = 0; i < r->n_peer_candidates; i++) {
    char line[CTL_CAND_LEN + 3];
    const char *c = r->peer_candidates[i];
    snprintf(line, sizeof line, "%s%s", strncmp(c, "a=", 2) ? "a=" : "", c);
    NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp(p->agent, p->stream, line);
    if (!nc || nc->component_id != 1) {
      snprintf(why, whylen, "peer_candidates[%u]: %s", i,
               nc ? "component must be 1" : "not a valid ICE candidate");
      if (nc)
        nice_candidate_free(nc);
      g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
      return IPOP_EFIELD;
    }
    if (p->relay == CTL_RELAY_NEVER && nc->type == NICE_CANDIDATE_TYPE_RELAYED) {
      nice_candidate_free(nc); /* relay "never": no pair through a relay */
      continue;
    }
    rc = g_slist_append(rc, nc);
  }
  if (r->role != CTL_ROLE_AUTO) {
    p->controlling = r->role == CTL_ROLE_CONTROLLING;
    g_object_set(p->agent, "controlling-mode", p->controlling, NULL);
  }
  if (!nice_agent_set_remote_credentials(p->agent, p->stream, r->peer_ufrag, r->peer_pwd)) {
    g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
    snprintf(why, whylen, "peer_ufrag/peer_pwd: refused by the ICE agent");
    return IPOP_EFIELD;
  }
  int added = nice_agent_set_remote_candidates(p->agent, p->stream, 1, rc);
  g_slist_free_full(rc, (GDestroyNotify)nice_candidate_free);
  if (added < 0) {
    snprintf(why, whylen, "peer_candidates: refused by the ICE agent");
    return IPOP_EFIELD;
  }
  p->flags |= TC_PATH_REMOTE;
  return 0;
}

NiceComponentState tc_path_ice_state(struct tc_path *p)
{
  if (p->mode == TC_PATH_SOCKET)
    return NICE_COMPONENT_STATE_READY;
  if (p->mode != TC_PATH_ICE)
    return NICE_COMPONENT_STATE_DISCONNECTED;
  return nice_agent_get_component_state(p->agent, p->stream, 1);
}

bool tc_path_ice_controlling(struct tc_path *p)
{
  if (p->mode == TC_PATH_ICE) {
    gboolean controlling = FALSE;
    g_object_get(p->agent, "controlling-mode", &controlling, NULL);
    p->controlling = controlling;
  }
  return p->controlling;
}

/* A bursty sender overruns the default socket buffer (~200 KiB) whenever
 * this process is not scheduled for a moment; give the link's selected
 * socket a few MiB (SO_RCVBUFFORCE needs CAP_NET_ADMIN, which we keep). */
void tc_path_enlarge_buffers(struct tc_path *p)
{
  GSocket *gs = p->mode == TC_PATH_ICE ? nice_agent_get_selected_socket(p->agent, p->stream, 1)
                                       : NULL;
  if (gs && (p->flags & TC_PATH_BUFFERED)) {
    g_object_unref(gs);
    return;
  }
  if (!gs)
    return; /* relayed pair: libnice's TURN socket */
  int fd = g_socket_get_fd(gs), size = TC_PATH_SOCKET_BUFFER;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  g_object_unref(gs);
  p->flags |= TC_PATH_BUFFERED;
}

/* ---- stats ---------------------------------------------------------------- */

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

void tc_path_stat(struct tc_path *p, int *pair_type, char *local, char *remote, size_t len)
{
  NiceCandidate *lc = NULL, *rc = NULL;
  if (p->mode == TC_PATH_ICE && nice_agent_get_selected_pair(p->agent, p->stream, 1, &lc, &rc)) {
    int lt = cand_type(lc->type), rt = cand_type(rc->type);
    *pair_type = lt > rt ? lt : rt; /* the pair's type is its least direct end */
    addr_text(&lc->addr, local, len);
    addr_text(&rc->addr, remote, len);
  } else if (p->mode == TC_PATH_SOCKET) {
    *pair_type = p->pair_type;
    snprintf(local, len, "%s", p->local_addr);
    snprintf(remote, len, "%s", p->remote_addr);
  } else {
    *pair_type = CTL_PAIR_NONE;
    local[0] = remote[0] = '\0';
  }
}

static const char *const cand_names[] = {"host", "srflx", "prflx", "relay"};

static void cand_list(GSList *cands, char (*out)[CTL_DIAG_LEN], uint32_t *n)
{
  for (GSList *i = cands; i && *n < CTL_MAX_DIAG_CANDS; i = i->next) {
    const NiceCandidate *c = i->data;
    char a[CTL_HOSTPORT_LEN];
    addr_text(&c->addr, a, sizeof a);
    snprintf(out[(*n)++], CTL_DIAG_LEN, "%s %s",
             c->type <= NICE_CANDIDATE_TYPE_RELAYED ? cand_names[c->type] : "?", a);
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
}

void tc_path_candidates(struct tc_path *p, struct ctl_link_stat *s)
{
  if (p->mode != TC_PATH_ICE)
    return;
  cand_list(nice_agent_get_local_candidates(p->agent, p->stream, 1), s->local_candidates,
            &s->n_local_candidates);
  cand_list(nice_agent_get_remote_candidates(p->agent, p->stream, 1), s->remote_candidates,
            &s->n_remote_candidates);
}

unsigned tc_path_remote_addrs(struct tc_path *p, struct sockaddr_storage *out, unsigned max)
{
  unsigned n = 0;
  if (p->mode != TC_PATH_ICE)
    return 0;
  GSList *cands = nice_agent_get_remote_candidates(p->agent, p->stream, 1);
  for (GSList *i = cands; i && n < max; i = i->next) {
    memset(&out[n], 0, sizeof out[n]);
    nice_address_copy_to_sockaddr(&((NiceCandidate *)i->data)->addr, (struct sockaddr *)&out[n]);
    n++;
  }
  g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
  return n;
}

/* ---- sending -------------------------------------------------------------- */

/* Where a taken-over path's datagrams go: the peer, or the TURN server. */
static const struct sockaddr *tx_dest(const struct tc_path *p)
{
  return (const struct sockaddr *)(p->tchan ? &p->tchan->server : &p->peer);
}

/* A relayed path before its channel is bound: a Send indication. */
static void send_ind(struct tc_path *p, const uint8_t *d, size_t n)
{
  uint8_t b[TC_PATH_DGRAM_MAX + 64];
  size_t len = tc_turnchan_send_ind(p->tchan, d, n, b, sizeof b);
  if (!len || sendto(p->fd, b, len, MSG_DONTWAIT, tx_dest(p), tc_addr_len(tx_dest(p))) < 0)
    p->drops++;
}

void tc_path_send(struct tc_path *p, const uint8_t *d, size_t n)
{
  if (p->mode == TC_PATH_SOCKET && p->tchan) {
    if (!(p->tchan->flags & TC_TURN_BOUND)) {
      send_ind(p, d, n);
      return;
    }
    uint8_t h[TC_CHAN_HDR];
    tc_chan_put(h, p->tchan->channel, n);
    struct iovec v[2] = {{h, sizeof h}, {(void *)d, n}};
    struct msghdr mh = {.msg_name = (void *)tx_dest(p), .msg_namelen = tc_addr_len(tx_dest(p)),
                        .msg_iov = v, .msg_iovlen = 2};
    if (sendmsg(p->fd, &mh, MSG_DONTWAIT) < 0)
      p->drops++;
  } else if (p->mode == TC_PATH_SOCKET) {
    const struct sockaddr *to = (const struct sockaddr *)&p->peer;
    if (sendto(p->fd, d, n, MSG_DONTWAIT, to, tc_addr_len(to)) < 0)
      p->drops++;
  } else if (p->mode == TC_PATH_ICE) {
    if (nice_agent_send(p->agent, p->stream, 1, (guint)n, (const gchar *)d) < 0)
      p->drops++;
  }
}

uint8_t *tc_path_tx_slot(struct tc_path *p)
{
  if (p->mode != TC_PATH_SOCKET)
    return NULL;
  if (p->txq->n == TC_PATH_BATCH)
    tc_path_flush(p);
  return p->txq->buf[p->txq->n] + TC_PATH_HEADROOM;
}

void tc_path_tx_commit(struct tc_path *p, size_t n)
{
  p->txq->len[p->txq->n++] = (uint16_t)n;
}

/* UDP GSO (UDP_SEGMENT): a run of full-size datagrams (the pieces of a
 * super-frame) leaves as one send, cut into datagrams below UDP; at most
 * this many per send (their sum must stay below 64 KiB). */
enum { GSO_MAX_SEGS = 65000 / (TC_PATH_HEADROOM + TC_PATH_DGRAM_MAX) };

/* Build the messages for q: with gso, runs of full-size datagrams plus the
 * one after them become one message (one iovec per datagram); a relayed
 * path's datagrams get their ChannelData header in the row's headroom
 * (prefix 4), a direct path's none (prefix 0); returns the count. */
static unsigned build_msgs(struct tc_path *p, bool gso, struct mmsghdr *m, struct iovec *iov,
                           unsigned *covers)
{
  struct tc_path_txq *q = p->txq;
  uint8_t(*ctrl)[CMSG_SPACE(sizeof(uint16_t))] = p->io->tx_ctrl;
  unsigned prefix = p->tchan ? TC_CHAN_HDR : 0, nm = 0;
  const struct sockaddr *to = tx_dest(p);
  for (unsigned i = 0; i < q->n;) {
    unsigned j = i;
    if (gso)
      while (j + 1 < q->n && q->len[j] == TC_PATH_DGRAM_MAX && j - i + 1 < GSO_MAX_SEGS)
        j++;
    for (unsigned k = i; k <= j; k++) {
      uint8_t *row = q->buf[k] + TC_PATH_HEADROOM - prefix;
      if (prefix)
        tc_chan_put(row, p->tchan->channel, q->len[k]);
      iov[k].iov_base = row;
      iov[k].iov_len = q->len[k] + prefix;
    }
    memset(&m[nm], 0, sizeof m[nm]);
    m[nm].msg_hdr.msg_iov = &iov[i];
    m[nm].msg_hdr.msg_iovlen = j - i + 1;
    m[nm].msg_hdr.msg_name = (void *)to;
    m[nm].msg_hdr.msg_namelen = tc_addr_len(to);
    if (j > i) {
      struct cmsghdr *c = (struct cmsghdr *)ctrl[nm];
      m[nm].msg_hdr.msg_control = c;
      m[nm].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)(TC_PATH_DGRAM_MAX + prefix);
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    covers[nm++] = j - i + 1;
    i = j + 1;
  }
  return nm;
}

/* The kernel refused GSO (old kernel, or a device that cannot): drop the
 * messages already sent from the queue and go on one datagram per message. */
static unsigned gso_off(struct tc_path *p, unsigned done, const unsigned *covers,
                        struct mmsghdr *m, struct iovec *iov, unsigned *cov2)
{
  struct tc_path_txq *q = p->txq;
  LOG_INFO("tincan", "path %s -> %s: UDP GSO unavailable (%s), sending datagrams singly",
           p->local_addr, p->remote_addr, strerror(errno));
  p->flags |= TC_PATH_NO_GSO;
  unsigned skip = 0;
  for (unsigned i = 0; i < done; i++)
    skip += covers[i];
  memmove(q->buf, q->buf[skip], (size_t)(q->n - skip) * sizeof q->buf[0]);
  memmove(q->len, q->len + skip, (size_t)(q->n - skip) * sizeof q->len[0]);
  q->n -= skip;
  return build_msgs(p, false, m, iov, cov2);
}

void tc_path_flush(struct tc_path *p)
{
  struct tc_path_txq *q = p->txq;
  if (!q || !q->n)
    return;
  if (p->tchan && !(p->tchan->flags & TC_TURN_BOUND)) {
    for (unsigned i = 0; i < q->n; i++)
      send_ind(p, q->buf[i] + TC_PATH_HEADROOM, q->len[i]);
    q->n = 0;
    return;
  }
  struct mmsghdr m[TC_PATH_BATCH];
  struct iovec iov[TC_PATH_BATCH];
  unsigned covers[TC_PATH_BATCH];
  unsigned nm = build_msgs(p, !(p->flags & TC_PATH_NO_GSO), m, iov, covers);
  unsigned done = 0;
  while (done < nm) {
    int r = sendmmsg(p->fd, m + done, nm - done, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && !(p->flags & TC_PATH_NO_GSO) && m[done].msg_hdr.msg_control &&
        (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EMSGSIZE)) {
      unsigned cov2[TC_PATH_BATCH];
      nm = gso_off(p, done, covers, m, iov, cov2);
      memcpy(covers, cov2, nm * sizeof covers[0]);
      done = 0;
      continue;
    }
    if (r <= 0) {
      /* Full socket buffer or an ICMP error from the peer: the rest is
       * lost like any datagram; TCP above recovers. */
      for (unsigned i = done; i < nm; i++)
        p->drops += covers[i];
      break;
    }
    done += (unsigned)r;
  }
  q->n = 0;
}

/* ---- the taken-over socket ----------------------------------------------- */

/* With UDP_GRO the kernel may hand over up to 64 KiB of equal-size
 * datagrams at once; a cmsg gives their size. */
/* One datagram; on a relayed path the TURN client unwraps it (or takes
 * it: an answer, or something it drops and counts). */
static void rx_dgram(struct tc_path *p, const uint8_t *d, size_t n, const struct sockaddr *from)
{
  if (p->tchan) {
    const uint8_t *data = NULL;
    size_t len = 0;
    if (tc_turnchan_input(p->tchan, d, n, from, ipop_now_ms(), &data, &len))
      p->ops->recv(p->arg, p, data, len);
    return;
  }
  p->ops->recv(p->arg, p, d, n);
}

static void rx_one(struct tc_path *p, const uint8_t *d, size_t n, const struct msghdr *mh)
{
  size_t seg = n;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c))
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      if (v > 0)
        seg = (size_t)v;
    }
  for (size_t off = 0; off < n && p->mode == TC_PATH_SOCKET; off += seg)
    rx_dgram(p, d + off, n - off < seg ? n - off : seg, mh->msg_name);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
  struct tc_path *p = h->data;
  struct tc_path_io *io = p->io;
  struct mmsghdr m[TC_PATH_RX_MSGS];
  struct iovec iov[TC_PATH_RX_MSGS];
  (void)events;
  if (status < 0)
    return;
  /* At most 16 rounds per wakeup, so that one busy link cannot starve the
   * loop. */
  for (int round = 0; round < 16 && p->mode == TC_PATH_SOCKET; round++) {
    memset(m, 0, sizeof m);
    for (int i = 0; i < TC_PATH_RX_MSGS; i++) {
      iov[i].iov_base = io->rx[i];
      iov[i].iov_len = sizeof io->rx[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_control = io->rx_ctrl[i];
      m[i].msg_hdr.msg_controllen = sizeof io->rx_ctrl[i];
      m[i].msg_hdr.msg_name = &io->rx_name[i];
      m[i].msg_hdr.msg_namelen = sizeof io->rx_name[i];
    }
    int r = recvmmsg(p->fd, m, TC_PATH_RX_MSGS, MSG_DONTWAIT, NULL);
    if (r <= 0)
      break; /* EAGAIN */
    for (int i = 0; i < r && p->mode == TC_PATH_SOCKET; i++) {
      if (m[i].msg_hdr.msg_flags & MSG_TRUNC) {
        p->drops++;
        continue;
      }
      const struct sockaddr *from = (const struct sockaddr *)&io->rx_name[i];
      /* A relayed path's source is the TURN server: no roaming there. */
      p->rx_from = p->tchan || tc_addr_eq(from, (const struct sockaddr *)&p->peer)
                       ? NULL
                       : &io->rx_name[i];
      rx_one(p, io->rx[i], m[i].msg_len, &m[i].msg_hdr);
      p->rx_from = NULL;
    }
    if (r < TC_PATH_RX_MSGS)
      break;
  }
  if (p->mode == TC_PATH_SOCKET)
    p->ops->burst_end(p->arg);
}

/* Free the ICE agent (its sockets close; a taken-over dup stays open).
 * neuter: libnice's descriptor of a taken-over TURN socket, or -1.  It is
 * pointed at an unbound AF_UNIX socket before the agent goes, so that what
 * libnice sends while freeing (a Refresh with lifetime 0, which would
 * delete the allocation we keep) fails instead of reaching the server. */
static void release_agent(struct tc_path *p, int neuter)
{
  if (!p->agent)
    return;
  if (p->sig_gather) {
    nice_agent_attach_recv(p->agent, p->stream, 1, p->gctx, NULL, NULL);
    g_signal_handler_disconnect(p->agent, p->sig_gather);
    g_signal_handler_disconnect(p->agent, p->sig_state);
  }
  /* Its sockets are about to close: forget their fds first (gloop.h). */
  tc_gloop_reset(p->gloop);
  if (neuter >= 0) {
    int dead = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (dead >= 0) {
      (void)dup2(dead, neuter);
      close(dead);
    }
  }
  if (p->stream)
    nice_agent_remove_stream(p->agent, p->stream);
  g_object_unref(p->agent);
  p->agent = NULL;
}

void tc_path_roam(struct tc_path *p)
{
  if (p->mode != TC_PATH_SOCKET || !p->rx_from)
    return;
  char was[CTL_HOSTPORT_LEN];
  snprintf(was, sizeof was, "%s", p->remote_addr);
  p->peer = *p->rx_from;
  p->rx_from = NULL;
  p->roams++;
  tc_addr_text((const struct sockaddr *)&p->peer, p->remote_addr, sizeof p->remote_addr);
  LOG_INFO("tincan", "path %s: the peer moved from %s to %s (authenticated record), following",
           p->local_addr, was, p->remote_addr);
}

bool tc_path_takeover(struct tc_path *p, bool connected)
{
  if (p->mode == TC_PATH_SOCKET)
    return true;
  if (p->mode != TC_PATH_ICE)
    return false;
  int base = -1, fd = tc_path_selected_socket(p, &base, connected);
  if (fd < 0)
    return false;
  struct tc_path_txq *q = malloc(sizeof *q);
  struct tc_turnchan *tch = base >= 0 ? calloc(1, sizeof *tch) : NULL;
  if (!q || (base >= 0 && (!tch || tc_turnchan_start(tch, fd, p->turn,
                                                     (const struct sockaddr *)&p->peer,
                                                     ipop_now_ms()) != 0))) {
    free(q);
    free(tch);
    close(fd);
    p->flags |= base >= 0 ? TC_PATH_KEEP_ICE : 0;
    return false;
  }
  q->n = 0;
  if (base >= 0) {
    int size = TC_PATH_SOCKET_BUFFER;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  /* Coalesced receive where the kernel can (Linux 5.0+); harmless if not. */
  int one = 1;
  (void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
  tc_path_stat(p, &p->pair_type, p->local_addr, p->remote_addr, sizeof p->local_addr);
  release_agent(p, base);
  p->txq = q;
  p->tchan = tch;
  p->fd = fd;
  p->mode = TC_PATH_SOCKET;
  if (uv_poll_init(p->loop, &p->poll, fd) == 0) {
    p->flags |= TC_PATH_POLLING;
    p->poll.data = p;
    uv_poll_start(&p->poll, UV_READABLE, poll_cb);
  } else {
    /* Nothing reads the socket now: the keepalive will take the link down
     * and the controller re-creates it. */
    LOG_WARN("tincan", "path %s -> %s: cannot watch the link socket", p->local_addr,
             p->remote_addr);
  }
  return true;
}

int tc_path_close(struct tc_path *p, uv_close_cb cb, void *handle_data)
{
  int closing = 0;
  if (p->flags & TC_PATH_POLLING) {
    uv_poll_stop(&p->poll);
    p->poll.data = handle_data;
    uv_close((uv_handle_t *)&p->poll, cb);
    p->flags &= ~(unsigned)TC_PATH_POLLING;
    closing++;
  }
  if (p->tchan)
    tc_turnchan_stop(p->tchan); /* sends on p->fd: before it closes */
  free(p->tchan);
  p->tchan = NULL;
  if (p->fd >= 0)
    close(p->fd);
  p->fd = -1;
  free(p->txq);
  p->txq = NULL;
  release_agent(p, -1);
  p->mode = TC_PATH_CLOSED;
  return closing;
}

bool tc_path_tick(struct tc_path *p, uint64_t now)
{
  return p->tchan && p->mode == TC_PATH_SOCKET && tc_turnchan_tick(p->tchan, now);
}

const char *tc_path_turn_error(const struct tc_path *p)
{
  return p->tchan ? p->tchan->error : "";
}

unsigned tc_path_turn_channel(const struct tc_path *p)
{
  return p->tchan && (p->tchan->flags & TC_TURN_BOUND) ? p->tchan->channel : 0;
}

uint64_t tc_path_turn_dropped(const struct tc_path *p)
{
  return p->tchan ? tc_turnchan_dropped(p->tchan) : 0;
}
