/* The link dataplane (see dataplane.h for the format). */
#include "dataplane.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bytes.h"
#include "error.h"
#include "frame.h"
#include "link.h"

/* common/bytes.h has the 64-bit forms only. */
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v)
{
  put_be16(p, (uint16_t)(v >> 16));
  put_be16(p + 2, (uint16_t)v);
}
static uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get_be32(const uint8_t *p) { return (uint32_t)get_be16(p) << 16 | get_be16(p + 2); }

static struct ipop_ratelimit rl_bad = IPOP_RATELIMIT_INIT(5000, 5);

struct tc_dp_txq {
  unsigned n;
  uint16_t len[TC_DP_BATCH];
  uint8_t buf[TC_DP_BATCH][TC_LINK_DGRAM_MAX];
};

struct tc_dp_slot {
  bool used;
  uint32_t id, total, got;
  uint64_t seq;                   /* age: the oldest slot is reused first */
  uint8_t *buf;                   /* TC_DP_SUPER_MAX bytes, zeroed once */
};

struct tc_dp_reasm {
  struct tc_dp_slot s[TC_DP_REASM_SLOTS];
  uint64_t seq;
};

/* Plaintext of one received record (records are at most one datagram). */
static uint8_t rx_plain[TC_LINK_DGRAM_MAX];
/* Where a record is sealed when it goes through libnice. */
static uint8_t tx_scratch[TC_LINK_DGRAM_MAX];

int tc_dp_start(struct tc_link *l)
{
  if (l->rec_ready)
    return 0;
  /* Keys only from a handshake whose peer certificate matched the pin. */
  if (!l->dtls_ready || l->dtls.state != TC_DTLS_UP)
    return IPOP_ESTATE;
  int rc = tc_rec_init_from_ssl(&l->rec, l->dtls.ssl, l->dtls.client);
  if (rc == 0)
    l->rec_ready = true;
  return rc;
}

/* ---- sending -------------------------------------------------------------- */

void tc_dp_send_raw(struct tc_link *l, const uint8_t *p, size_t n)
{
  if (l->dead)
    return;
  if (l->fd >= 0) {
    if (send(l->fd, p, n, MSG_DONTWAIT) < 0)
      l->drops++;
  } else if (l->agent) {
    if (nice_agent_send(l->agent, l->stream, 1, (guint)n, (const gchar *)p) < 0)
      l->drops++;
  }
}

/* UDP GSO (UDP_SEGMENT): a run of full-size datagrams (the pieces of a
 * super-frame) leaves as one send, cut into datagrams below UDP; at most
 * this many per send (their sum must stay below 64 KiB). */
enum { GSO_MAX_SEGS = 65000 / TC_LINK_DGRAM_MAX };

/* Build the messages for q: with gso, runs of full-size datagrams
 * (contiguous in q->buf, since each row is exactly TC_LINK_DGRAM_MAX long)
 * plus the one after them become one message; returns the count. */
static unsigned build_msgs(struct tc_dp_txq *q, bool gso, struct mmsghdr *m, struct iovec *iov,
                           unsigned *covers, uint8_t (*ctrl)[CMSG_SPACE(sizeof(uint16_t))])
{
  unsigned nm = 0;
  for (unsigned i = 0; i < q->n;) {
    unsigned j = i;
    size_t bytes = q->len[i];
    if (gso)
      while (j + 1 < q->n && q->len[j] == TC_LINK_DGRAM_MAX && j - i + 1 < GSO_MAX_SEGS)
        bytes += q->len[++j];
    memset(&m[nm], 0, sizeof m[nm]);
    iov[nm].iov_base = q->buf[i];
    iov[nm].iov_len = bytes;
    m[nm].msg_hdr.msg_iov = &iov[nm];
    m[nm].msg_hdr.msg_iovlen = 1;
    if (j > i) {
      struct cmsghdr *c = (struct cmsghdr *)ctrl[nm];
      m[nm].msg_hdr.msg_control = c;
      m[nm].msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = TC_LINK_DGRAM_MAX;
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    covers[nm++] = j - i + 1;
    i = j + 1;
  }
  return nm;
}

void tc_dp_flush(struct tc_link *l)
{
  struct tc_dp_txq *q = l->txq;
  if (!q || !q->n || l->fd < 0) {
    if (q)
      q->n = 0;
    return;
  }
  struct mmsghdr m[TC_DP_BATCH];
  struct iovec iov[TC_DP_BATCH];
  unsigned covers[TC_DP_BATCH];
  static uint8_t ctrl[TC_DP_BATCH][CMSG_SPACE(sizeof(uint16_t))];
  unsigned nm = build_msgs(q, !l->no_udp_gso, m, iov, covers, ctrl), done = 0;
  while (done < nm) {
    int r = sendmmsg(l->fd, m + done, nm - done, MSG_DONTWAIT);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0 && !l->no_udp_gso && m[done].msg_hdr.msg_control &&
        (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EMSGSIZE)) {
      /* No UDP GSO here (old kernel, or a device that cannot): go on with
       * one datagram per message. */
      LOG_INFO("tincan", "link %s/%s: UDP GSO unavailable (%s), sending datagrams singly",
               l->ov->cfg.overlay_id, l->peer_id, strerror(errno));
      l->no_udp_gso = true;
      unsigned skip = 0;
      for (unsigned i = 0; i < done; i++)
        skip += covers[i];
      memmove(q->buf, q->buf[skip], (size_t)(q->n - skip) * sizeof q->buf[0]);
      memmove(q->len, q->len + skip, (size_t)(q->n - skip) * sizeof q->len[0]);
      q->n -= skip;
      nm = build_msgs(q, false, m, iov, covers, ctrl);
      done = 0;
      continue;
    }
    if (r <= 0) {
      /* Full socket buffer or an ICMP error from the peer: the rest is
       * lost like any datagram; TCP above recovers. */
      for (unsigned i = done; i < nm; i++)
        l->drops += covers[i];
      break;
    }
    done += (unsigned)r;
  }
  q->n = 0;
}

/* Seal a || b as one record and queue it (own socket) or send it (libnice). */
static int seal_out(struct tc_link *l, const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
  uint8_t *out = tx_scratch;
  if (l->fd >= 0) {
    if (l->txq->n == TC_DP_BATCH)
      tc_dp_flush(l);
    out = l->txq->buf[l->txq->n];
  }
  int n = tc_rec_seal(&l->rec, out, TC_LINK_DGRAM_MAX, a, an, b, bn);
  if (n < 0) {
    l->drops++;
    return n;
  }
  if (l->fd >= 0)
    l->txq->len[l->txq->n++] = (uint16_t)n;
  else if (!l->agent || nice_agent_send(l->agent, l->stream, 1, (guint)n, (const gchar *)out) < 0)
    l->drops++;
  return 0;
}

static void vnet_put(uint8_t *w, const struct virtio_net_hdr *vh)
{
  if (!vh) {
    memset(w, 0, TC_DP_VNET);
    return;
  }
  w[0] = vh->flags;
  w[1] = vh->gso_type;
  put_be16(w + 2, vh->hdr_len);
  put_be16(w + 4, vh->gso_size);
  put_be16(w + 6, vh->csum_start);
  put_be16(w + 8, vh->csum_offset);
}

static void vnet_get(struct virtio_net_hdr *vh, const uint8_t *w)
{
  vh->flags = w[0];
  vh->gso_type = w[1];
  vh->hdr_len = get_be16(w + 2);
  vh->gso_size = get_be16(w + 4);
  vh->csum_start = get_be16(w + 6);
  vh->csum_offset = get_be16(w + 8);
}

int tc_dp_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p, size_t n)
{
  /* No frame before the handshake completed and the pin was verified: the
   * keys exist only from then on. */
  if (l->dead || !l->rec_ready) {
    l->drops++;
    return IPOP_ESTATE;
  }
  bool gso = vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE;
  l->tx_packets++;
  l->tx_bytes += n;
  if (!gso && 1 + n + TC_REC_OVERHEAD <= TC_LINK_DGRAM_MAX) {
    const uint8_t kind = TC_DP_FRAME;
    return seal_out(l, &kind, 1, p, n);
  }
  /* Split: [vnet | frame] in chunks, the vnet header written into the
   * headroom before the frame so that the content is contiguous. */
  uint8_t *c = p - TC_DP_VNET;
  vnet_put(c, gso ? vh : NULL);
  size_t total = TC_DP_VNET + n;
  const size_t chunk = TC_LINK_DGRAM_MAX - TC_REC_OVERHEAD - TC_DP_FRAG_HDR;
  uint32_t id = ++l->frag_id;
  for (size_t off = 0; off < total; off += chunk) {
    uint8_t h[TC_DP_FRAG_HDR];
    h[0] = TC_DP_FRAG;
    put_be32(h + 1, id);
    put_be32(h + 5, (uint32_t)total);
    put_be32(h + 9, (uint32_t)off);
    size_t len = total - off < chunk ? total - off : chunk;
    int rc = seal_out(l, h, sizeof h, c + off, len);
    if (rc)
      return rc;
  }
  return 0;
}

void tc_dp_send_ping(struct tc_link *l, uint8_t kind, uint64_t stamp)
{
  if (l->dead || !l->rec_ready)
    return;
  uint8_t m[9];
  m[0] = kind;
  ipop_put_be64(m + 1, stamp);
  seal_out(l, m, sizeof m, NULL, 0);
  tc_dp_flush(l);
}

/* ---- receiving ------------------------------------------------------------ */

int tc_dp_vnet_check(const struct virtio_net_hdr *vh, size_t len)
{
  uint8_t g = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  if (vh->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
    return IPOP_EINVAL;
  if (g != VIRTIO_NET_HDR_GSO_NONE && g != VIRTIO_NET_HDR_GSO_TCPV4 &&
      g != VIRTIO_NET_HDR_GSO_TCPV6)
    return IPOP_EINVAL;
  if (g != VIRTIO_NET_HDR_GSO_NONE &&
      (vh->gso_size == 0 || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)))
    return IPOP_EINVAL;
  if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
      (size_t)vh->csum_start + vh->csum_offset + 2 > len)
    return IPOP_EINVAL;
  if (vh->hdr_len > len)
    return IPOP_EINVAL;
  return 0;
}

int tc_dp_csum_complete(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len)
{
  size_t s = vh->csum_start, o = s + vh->csum_offset;
  if (s >= len || o + 2 > len)
    return IPOP_EINVAL;
  /* The field holds the pseudo-header sum; summing from csum_start over it
   * gives the final checksum (0 is sent as 0xffff: the same value in one's
   * complement, and the only valid form for UDP). */
  uint16_t c = frame_csum_finish(frame_csum_partial(frame + s, len - s, 0));
  if (c == 0)
    c = 0xffff;
  frame[o] = (uint8_t)(c >> 8);
  frame[o + 1] = (uint8_t)c;
  return 0;
}

static void deliver(struct tc_link *l, uint8_t *content, size_t total)
{
  struct virtio_net_hdr vh;
  vnet_get(&vh, content);
  size_t n = total - TC_DP_VNET;
  bool off = vh.flags || vh.gso_type != VIRTIO_NET_HDR_GSO_NONE;
  if (off && tc_dp_vnet_check(&vh, n) != 0) {
    l->drops++;
    return;
  }
  l->rx_packets++;
  l->rx_bytes += n;
  tc_forward_from_link(l, off ? &vh : NULL, content + TC_DP_VNET, n);
}

static void frag_in(struct tc_link *l, const uint8_t *p, size_t n)
{
  if (n <= TC_DP_FRAG_HDR) {
    l->drops++;
    return;
  }
  uint32_t id = get_be32(p + 1), total = get_be32(p + 5), off = get_be32(p + 9);
  const uint8_t *chunk = p + TC_DP_FRAG_HDR;
  size_t cl = n - TC_DP_FRAG_HDR;
  if (total < TC_DP_VNET + 14 || total > TC_DP_SUPER_MAX || off >= total || cl > total - off) {
    l->drops++;
    return;
  }
  if (!l->reasm && !(l->reasm = calloc(1, sizeof *l->reasm))) {
    l->drops++;
    return;
  }
  struct tc_dp_reasm *r = l->reasm;
  struct tc_dp_slot *s = NULL, *victim = &r->s[0];
  for (int i = 0; i < TC_DP_REASM_SLOTS; i++) {
    struct tc_dp_slot *t = &r->s[i];
    if (t->used && t->id == id) {
      s = t;
      break;
    }
    if (!t->used ? victim->used : (victim->used && t->seq < victim->seq))
      victim = t;
  }
  if (!s) {
    s = victim;
    if (s->used)
      l->drops++; /* an older frame never completed (a piece was lost) */
    if (!s->buf && !(s->buf = calloc(1, TC_DP_SUPER_MAX))) {
      l->drops++;
      return;
    }
    s->used = true;
    s->id = id;
    s->total = total;
    s->got = 0;
    s->seq = ++r->seq;
  }
  if (s->total != total) {
    l->drops++;
    return;
  }
  /* Each record is unique (replay window), so pieces add up exactly for
   * an honest peer; a dishonest one only garbles its own frame. */
  memcpy(s->buf + off, chunk, cl);
  s->got += (uint32_t)cl;
  if (s->got >= s->total) {
    s->used = false;
    deliver(l, s->buf, s->total);
  }
}

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void inner(struct tc_link *l, uint8_t *p, size_t n)
{
  if (n == 0)
    return;
  switch (p[0]) {
  case TC_DP_FRAME:
    if (n < 1 + 14) {
      l->drops++;
      return;
    }
    l->rx_packets++;
    l->rx_bytes += n - 1;
    tc_forward_from_link(l, NULL, p + 1, n - 1);
    return;
  case TC_DP_FRAG:
    frag_in(l, p, n);
    return;
  case TC_DP_PING:
    if (n == 9)
      tc_dp_send_ping(l, TC_DP_PONG, ipop_get_be64(p + 1));
    return;
  case TC_DP_PONG:
    if (n == 9) {
      uint64_t sent = ipop_get_be64(p + 1), now = now_us();
      if (sent <= now && now - sent < 60u * 1000000u)
        l->rtt_us = (uint32_t)(now - sent);
    }
    return;
  default:
    return; /* from a newer peer */
  }
}

void tc_dp_input(struct tc_link *l, const uint8_t *p, size_t n)
{
  if (l->dead)
    return;
  if (tc_rec_is_record(p, n)) {
    if (!l->rec_ready) { /* the peer finished the handshake first */
      l->drops++;
      return;
    }
    int r = tc_rec_open(&l->rec, rx_plain, sizeof rx_plain, p, n);
    if (r < 0) {
      l->bad_records++;
      ipop_log_rl(&rl_bad, IPOP_LOG_DEBUG, "tincan", "link %s/%s: record dropped: %s",
                  l->ov->cfg.overlay_id, l->peer_id, ipop_strerror(r));
      return;
    }
    tc_link_alive(l);
    inner(l, rx_plain, (size_t)r);
    return;
  }
  if (tc_dtls_is_record(p, n)) {
    /* Handshake retransmissions and alerts (authenticated by DTLS). */
    if (l->dtls_ready)
      tc_dtls_input(&l->dtls, p, n);
    else
      l->drops++;
    return;
  }
  if (n >= 20 && p[0] < 4)
    return; /* STUN from the peer's ICE agent (keepalives) */
  l->drops++;
}

/* ---- the taken-over socket ----------------------------------------------- */

/* Receive buffers: with UDP_GRO on the socket the kernel may hand over up
 * to 64 KiB of equal-size datagrams at once (a cmsg gives their size). */
enum { RX_MSGS = 16, RX_BUF = 65536 };

static void rx_one(struct tc_link *l, const uint8_t *p, size_t n, const struct msghdr *mh)
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
  for (size_t off = 0; off < n && !l->dead; off += seg)
    tc_dp_input(l, p + off, n - off < seg ? n - off : seg);
}

static void fd_cb(uv_poll_t *h, int status, int events)
{
  struct tc_link *l = h->data;
  static uint8_t bufs[RX_MSGS][RX_BUF];
  static uint8_t ctrl[RX_MSGS][CMSG_SPACE(sizeof(int))];
  struct mmsghdr m[RX_MSGS];
  struct iovec iov[RX_MSGS];
  (void)events;
  if (status < 0 || l->dead)
    return;
  for (int round = 0; round < 16 && !l->dead && l->fd >= 0; round++) {
    memset(m, 0, sizeof m);
    for (int i = 0; i < RX_MSGS; i++) {
      iov[i].iov_base = bufs[i];
      iov[i].iov_len = sizeof bufs[i];
      m[i].msg_hdr.msg_iov = &iov[i];
      m[i].msg_hdr.msg_iovlen = 1;
      m[i].msg_hdr.msg_control = ctrl[i];
      m[i].msg_hdr.msg_controllen = sizeof ctrl[i];
    }
    int r = recvmmsg(l->fd, m, RX_MSGS, MSG_DONTWAIT, NULL);
    if (r <= 0)
      break; /* EAGAIN, or an ICMP error reported on the connected socket */
    for (int i = 0; i < r && !l->dead; i++) {
      if (m[i].msg_hdr.msg_flags & MSG_TRUNC) {
        l->drops++;
        continue;
      }
      rx_one(l, bufs[i], m[i].msg_len, &m[i].msg_hdr);
    }
    if (r < RX_MSGS)
      break;
  }
  if (!l->dead)
    tc_dp_flush(l);
}

bool tc_dp_try_takeover(struct tc_link *l)
{
  if (l->fd >= 0)
    return true;
  if (l->dead || !l->agent || !l->rec_ready || l->state != CTL_LINK_UP)
    return false;
  /* Only once ICE has settled on both sides (READY: nominated), so that
   * the peer's agent needs nothing more from ours. */
  if (nice_agent_get_component_state(l->agent, l->stream, 1) != NICE_COMPONENT_STATE_READY)
    return false;
  GSocket *gs = nice_agent_get_selected_socket(l->agent, l->stream, 1);
  if (!gs)
    return false; /* relayed: stays on libnice (TURN encapsulation) */
  NiceCandidate *lc = NULL, *rc = NULL;
  struct sockaddr_storage peer;
  memset(&peer, 0, sizeof peer);
  int fd = -1;
  if (nice_agent_get_selected_pair(l->agent, l->stream, 1, &lc, &rc)) {
    nice_address_copy_to_sockaddr(&rc->addr, (struct sockaddr *)&peer);
    fd = fcntl(g_socket_get_fd(gs), F_DUPFD_CLOEXEC, 0);
  }
  g_object_unref(gs);
  if (fd < 0)
    return false;
  socklen_t plen = peer.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                              : sizeof(struct sockaddr_in);
  struct tc_dp_txq *q = malloc(sizeof *q);
  /* connect: the kernel now drops datagrams from anyone but the peer. */
  if (!q || connect(fd, (struct sockaddr *)&peer, plen) != 0 ||
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    free(q);
    close(fd);
    return false;
  }
  q->n = 0;
  /* Coalesced receive where the kernel can (Linux 5.0+); harmless if not. */
  int one = 1;
  (void)setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
  tc_link_cache_pair(l);
  tc_link_release_agent(l);
  l->txq = q;
  l->fd = fd;
  if (uv_poll_init(l->ov->d->loop, &l->fd_poll, fd) == 0) {
    l->fd_poll_init = true;
    l->fd_poll.data = l;
    uv_poll_start(&l->fd_poll, UV_READABLE, fd_cb);
  } else {
    /* Nothing reads the socket now: the keepalive will take the link down
     * and the controller re-creates it. */
    LOG_WARN("tincan", "link %s/%s: cannot watch the link socket", l->ov->cfg.overlay_id,
             l->peer_id);
  }
  LOG_INFO("tincan", "link %s/%s: dataplane on the selected socket (%s -> %s), ICE agent freed",
           l->ov->cfg.overlay_id, l->peer_id, l->local_addr, l->remote_addr);
  return true;
}

int tc_dp_stop(struct tc_link *l, uv_close_cb cb)
{
  int closing = 0;
  if (l->fd_poll_init) {
    uv_poll_stop(&l->fd_poll);
    uv_close((uv_handle_t *)&l->fd_poll, cb);
    l->fd_poll_init = false;
    closing++;
  }
  if (l->fd >= 0)
    close(l->fd);
  l->fd = -1;
  free(l->txq);
  l->txq = NULL;
  if (l->reasm) {
    for (int i = 0; i < TC_DP_REASM_SLOTS; i++)
      free(l->reasm->s[i].buf);
    free(l->reasm);
    l->reasm = NULL;
  }
  if (l->rec_ready)
    tc_rec_free(&l->rec);
  l->rec_ready = false;
  return closing;
}
