/* The router (route.h): frames between an overlay's TAP and its links. */
#include "route.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "fwd.h"
#include "nd.h"
#include "vnet.h"

static struct ipop_ratelimit rl_tap = IPOP_RATELIMIT_INIT(5000, 5);
static struct ipop_ratelimit rl_nd = IPOP_RATELIMIT_INIT(5000, 5);

/* The target of a Neighbor Solicitation (IPv6's ARP request), or NULL. */
static const uint8_t *ns_target(const struct frame_info *fi)
{
  return fi->l3 == FRAME_L3_IP6 && fi->ip6.nd_type == 135 && fi->ip6.payload_len >= 24
             ? fi->dst + fi->ip6.l4_off + 8
             : NULL;
}

/* Tell the controller about a frame no link is known to own: a unicast frame
 * to an unlearned MAC, or an ARP request or Neighbor Solicitation (the
 * target may be a member with no link yet: only the controller can open
 * one, or route to it: fwd.h).  Rate limited per (MAC, ARP target); a
 * solicitation's multicast MAC carries the low 24 bits of its target.
 * routed: a member's frame that the forwarding table carried (its bytes go
 * to the controller's heavy-pair threshold). */
static void unknown_destination(struct tc_overlay *ov, const struct frame_info *fi,
                                const struct tc_fwd_node *routed)
{
  struct tc_daemon *d = ov->d;
  uint64_t now = ipop_now_ms();
  uint32_t key_ip4 = fi->l3 == FRAME_L3_ARP ? fi->arp.tpa : 0;
  struct tc_unknown_slot *slot = NULL, *oldest = &ov->unknown[0];
  for (int i = 0; i < TC_UNKNOWN_DEST_SLOTS; i++) {
    if (memcmp(ov->unknown[i].mac, fi->dst, 6) == 0 && ov->unknown[i].ip4 == key_ip4) {
      slot = &ov->unknown[i];
      break;
    }
    if (ov->unknown[i].last_ms < oldest->last_ms)
      oldest = &ov->unknown[i];
  }
  if (slot && now - slot->last_ms < TC_UNKNOWN_DEST_MS)
    return;
  if (!slot) {
    slot = oldest;
    memcpy(slot->mac, fi->dst, 6);
    slot->ip4 = key_ip4;
  }
  slot->last_ms = now;
  if (!d->has_controller || !d->ep)
    return;
  struct ctl_ev_unknown_dest ev;
  memset(&ev, 0, sizeof ev);
  snprintf(ev.overlay_id, sizeof ev.overlay_id, "%s", ov->cfg.overlay_id);
  memcpy(ev.dst_mac, fi->dst, 6);
  memcpy(ev.src_mac, fi->src, 6);
  ev.ethertype = fi->ethertype;
  if (fi->l3 == FRAME_L3_IP4) {
    ev.dst_ip4.s_addr = fi->ip4.dst;
    ev.has_dst_ip4 = true;
  } else if (key_ip4) {
    ev.dst_ip4.s_addr = key_ip4;
    ev.has_dst_ip4 = true;
  }
  const uint8_t *t6 = ns_target(fi);
  if (t6) {
    memcpy(&ev.dst_ip6, t6, 16);
    ev.has_dst_ip6 = true;
  }
  ev.frame_len = (uint32_t)fi->len;
  if (routed) {
    ev.routed_bytes = routed->tx_bytes;
    ev.has_routed_bytes = true;
  }
  ctl_event_send(d->ep, (const struct sockaddr *)&d->controller,
                 ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count,
                              "unknown_destination"),
                 &ev);
}

/* Every TAP read and write carries a virtio-net header (IFF_VNET_HDR). */
static int tap_write(struct tc_overlay *ov, const struct virtio_net_hdr *vh, const uint8_t *p,
                     size_t n)
{
  static const struct virtio_net_hdr none;
  struct iovec iov[2] = {
    { (void *)(vh ? vh : &none), sizeof none },
    { (void *)p, n },
  };
  ssize_t w = writev(ov->tap_fd, iov, 2);
  return w == (ssize_t)(sizeof none + n) ? 0 : IPOP_EIO;
}

/* ---- TAP -> links ----------------------------------------------------------- */

/* Send one TAP frame on one link, through the link's address mapping.  A
 * super-frame (vh) cannot be rewritten by addrmap: offloads are switched
 * off on an overlay once it has a mapping, so only a few in flight at that
 * moment are dropped here. */
static void to_link(struct tc_overlay *ov, struct tc_link *l, const struct virtio_net_hdr *vh,
                    uint8_t *p, size_t n, const struct frame_info *fi)
{
  if ((vh && addrmap_find_link(ov->am, l->slot)) ||
      addrmap_egress(ov->am, l->slot, p, fi) == ADDRMAP_DROP) {
    l->dp.st.drops++;
    return;
  }
  tc_link_send_frame(l, vh, p, n);
}

/* Broadcast and multicast go to every link.  Unicast to a MAC the switch
 * does not know goes only to links that bridge a LAN (the one place an
 * unlearned MAC can be): every other link's peer has its one MAC bound, so
 * a full table or a made-up destination never sprays unicast everywhere. */
static void flood(struct tc_overlay *ov, const struct virtio_net_hdr *vh, uint8_t *p, size_t n,
                  const struct frame_info *fi, bool unknown_unicast)
{
  /* addrmap never rewrites a flooded frame (only IP to a mapped address,
   * which addrmap_route sent to its one link), so one buffer serves all. */
  for (struct tc_link *l = ov->links; l; l = l->next)
    if (tc_link_keyed(l) && (!unknown_unicast || (l->flags & TC_LINK_BRIDGE)))
      to_link(ov, l, vh, p, n, fi);
}

static void to_slot(struct tc_overlay *ov, uint32_t slot, const struct virtio_net_hdr *vh,
                    uint8_t *p, size_t n, const struct frame_info *fi)
{
  if (slot < TC_MAX_LINKS_PER_OVERLAY && ov->slot[slot])
    to_link(ov, ov->slot[slot], vh, p, n, fi);
  else
    ov->tap_drops++;
}

static bool link_usable(void *ctx, uint32_t slot)
{
  struct tc_overlay *ov = ctx;
  return slot < TC_MAX_LINKS_PER_OVERLAY && ov->slot[slot] && tc_link_keyed(ov->slot[slot]);
}

/* A unicast frame from the TAP to a member we have no link to: behind an
 * overlay header to the table's first usable next hop.  False if the MAC
 * is no member's (the switch's unknown-unicast rule applies). */
static bool to_member(struct tc_overlay *ov, const struct virtio_net_hdr *vh, uint8_t *p,
                      size_t n, const struct frame_info *fi)
{
  struct tc_fwd_node *node = tc_fwd_by_mac(&ov->fwd, fi->dst);
  if (!node)
    return false;
  uint32_t next = tc_fwd_next_hop(node, link_usable, ov);
  if (next == TC_FWD_NONE || (vh && vh->gso_type != VIRTIO_NET_HDR_GSO_NONE)) {
    ov->fwd.st.no_route++;
    ov->tap_drops++;
    return true;
  }
  uint8_t hdr[1 + TC_FWD_HDR];
  tc_fwd_header(&ov->fwd, node, hdr);
  if (tc_link_send_routed(ov->slot[next], hdr, p, n) == 0) {
    ov->fwd.st.routed_out++;
    node->tx_bytes += n;
  }
  unknown_destination(ov, fi, node); /* heavy pairs get a link (rate-limited) */
  return true;
}

/* GroupVPN: ARP requests and Neighbor Solicitations for a member's address
 * are answered from the forwarding table, so the kernel never waits on a
 * broadcast or multicast that would reach only direct neighbours.  A
 * malformed solicitation (nd.h) is dropped.  True if the frame was
 * handled here. */
static bool member_neighbour(struct tc_overlay *ov, const struct frame_info *fi)
{
  uint8_t reply[ADDRMAP_REPLY_MAX];
  size_t rlen;
  int rc;
  const uint8_t *mac = tc_fwd_arp_target(&ov->fwd, fi);
  if (mac) {
    rc = addrmap_build_arp_reply(fi, mac, reply, sizeof reply, &rlen);
  } else {
    const struct tc_fwd_node *node;
    int why;
    rc = tc_fwd_nd_target(&ov->fwd, fi, &node, &why);
    if (rc == 0)
      return false;
    if (rc < 0) {
      ipop_log_rl(&rl_nd, IPOP_LOG_DEBUG, "tincan",
                  "%s: a Neighbor Solicitation from the TAP dropped: %s", ov->cfg.tap_name,
                  nd_ns_status_name(why));
      return true;
    }
    rc = nd_na_build(fi, node->ip6.s6_addr, node->mac, reply, sizeof reply, &rlen);
  }
  if (rc == 0 && tap_write(ov, NULL, reply, rlen) == 0)
    ov->tap_tx++;
  return true;
}

static void from_tap(struct tc_overlay *ov, const struct virtio_net_hdr *vh, uint8_t *p,
                     size_t n, const struct frame_info *fi)
{
  uint8_t reply[ADDRMAP_REPLY_MAX];
  size_t rlen;
  uint32_t mapped;
  /* SocialVPN: ARP and Neighbor Discovery for a mapped address are
   * answered here. */
  if (addrmap_arp_reply(ov->am, fi, reply, sizeof reply, &rlen) == 1 ||
      addrmap_nd_reply(ov->am, fi, reply, sizeof reply, &rlen) == 1) {
    if (tap_write(ov, NULL, reply, rlen) == 0)
      ov->tap_tx++;
    return;
  }
  if (addrmap_route(ov->am, fi, &mapped) == 0) {
    to_slot(ov, mapped, vh, p, n, fi);
    return;
  }
  if (ov->fwd.n && member_neighbour(ov, fi))
    return;
  struct switch_decision dec;
  if (switch_decide(ov->sw, fi, ipop_now_ms(), &dec) != 0) {
    ov->bad_frames++;
    return;
  }
  /* A member with no link, or a link not (or no longer) keyed: a link
   * being set up, or one that cannot come up (two symmetric NATs). */
  bool no_link = dec.unknown_unicast ||
                 (dec.action == SWITCH_UNICAST && !link_usable(ov, dec.link));
  if (no_link && ov->fwd.n && to_member(ov, vh, p, n, fi))
    return;
  if (dec.unknown_unicast ||
      (fi->l3 == FRAME_L3_ARP && fi->arp.op == FRAME_ARP_REQUEST && fi->arp.tpa != fi->arp.spa) ||
      ns_target(fi))
    unknown_destination(ov, fi, NULL);
  switch (dec.action) {
  case SWITCH_UNICAST:
    to_slot(ov, dec.link, vh, p, n, fi);
    break;
  case SWITCH_FLOOD:
    flood(ov, vh, p, n, fi, dec.unknown_unicast);
    break;
  case SWITCH_DROP:
    ov->tap_drops++;
    break;
  }
}

/* ---- link -> TAP ------------------------------------------------------------ */

/* Is the frame's source the link's peer?  Its bound MAC; for a peer that
 * bridges a LAN, any MAC not ours nor bound to another link (learned on
 * the way); and on a SocialVPN-mapped link, IPv4 and IPv6 from its real
 * addresses only (addrmap_source_ok). */
static bool from_peer(struct tc_overlay *ov, struct tc_link *l, const struct frame_info *fi)
{
  if (l->flags & TC_LINK_BRIDGE) {
    if (switch_learn(ov->sw, fi->src, l->slot, ipop_now_ms()) < 0)
      return false;
  } else if (memcmp(fi->src, l->peer_mac, 6) != 0) {
    return false;
  }
  const struct addrmap_entry *m = addrmap_find_link(ov->am, l->slot);
  return !m || addrmap_source_ok(m, fi);
}

static void from_link(struct tc_overlay *ov, struct tc_link *l, const struct virtio_net_hdr *vh,
                      uint8_t *p, size_t n, const struct frame_info *fi)
{
  if (!from_peer(ov, l, fi)) {
    l->spoofed++;
    return;
  }
  /* A peer's offload header must be one our TAP itself would produce for
   * this frame (vnet.h); the kernel gets the exact header length.  A mapped
   * link takes complete frames only (addrmap rewrites checksums). */
  struct virtio_net_hdr vn;
  if (vh) {
    int hdrs = tc_vnet_check(vh, fi, p, n, ov->cfg.mtu);
    if (hdrs < 0 || addrmap_find_link(ov->am, l->slot)) {
      ov->bad_frames++;
      l->dp.st.drops++;
      return;
    }
    vn = *vh;
    vn.hdr_len = (uint16_t)hdrs;
    vh = &vn;
  }
  if (addrmap_ingress(ov->am, l->slot, p, fi) == ADDRMAP_DROP) {
    l->dp.st.drops++;
    return;
  }
  if (tap_write(ov, vh, p, n) != 0) {
    ov->tap_drops++;
    l->dp.st.drops++;
    return;
  }
  ov->tap_tx++;
}

void tc_route(struct tc_overlay *ov, struct tc_link *from, const struct virtio_net_hdr *vh,
              uint8_t *p, size_t n)
{
  struct frame_info fi;
  /* Super-frames may exceed the MTU (the TAP resegments them). */
  size_t max = vh ? FRAME_MAX_LEN : ov->cfg.mtu + 14u + 4u;
  if ((from && n > max) || frame_parse(&fi, p, n) != 0) {
    ov->bad_frames++;
    if (from)
      from->dp.st.drops++;
    return;
  }
  if (from)
    from_link(ov, from, vh, p, n, &fi);
  else
    from_tap(ov, vh, p, n, &fi);
}

/* A frame with an overlay header from link l: for us (to the TAP), or
 * carried on to the next hop the table names; fwd.h checks its origin. */
void tc_route_routed(struct tc_link *l, uint8_t *hdr, uint8_t *p, size_t n)
{
  struct tc_overlay *ov = l->ov;
  struct frame_info fi;
  if (n > ov->cfg.mtu + 14u + 4u || frame_parse(&fi, p, n) != 0) {
    ov->bad_frames++;
    l->dp.st.drops++;
    return;
  }
  uint8_t peer[TC_FWD_ID];
  struct tc_fwd_arrival a = { l->slot, tc_fwd_parse_id(l->peer_id, peer) == 0 ? peer : NULL };
  uint64_t spoof = ov->fwd.st.origin + ov->fwd.st.reverse_path;
  uint32_t next = TC_FWD_NONE;
  switch (tc_fwd_check(&ov->fwd, &a, hdr, &fi, ov->cfg.mac, link_usable, ov, &next)) {
  case TC_FWD_LOCAL:
    if (tap_write(ov, NULL, p, n) == 0)
      ov->tap_tx++;
    else
      ov->tap_drops++;
    return;
  case TC_FWD_FORWARD: {
    uint8_t out[1 + TC_FWD_HDR];
    out[0] = TC_DP_ROUTED;
    memcpy(out + 1, hdr, TC_FWD_HDR);
    tc_link_send_routed(ov->slot[next], out, p, n);
    return;
  }
  case TC_FWD_DROP:
    if (ov->fwd.st.origin + ov->fwd.st.reverse_path != spoof)
      l->spoofed++;
    else
      l->dp.st.drops++;
    return;
  }
}

void tc_route_routed_deliver(void *owner, uint8_t *hdr, uint8_t *frame, size_t n)
{
  tc_route_routed(owner, hdr, frame, n);
}

void tc_route_deliver(void *owner, const struct virtio_net_hdr *vh, uint8_t *frame, size_t n)
{
  struct tc_link *l = owner;
  tc_route(l->ov, l, vh, frame, n);
}

/* One TAP read: the kernel's virtio-net header, then the frame; with TSO on
 * a frame may be a 64 KiB super-frame.  The header's 10 bytes stay in front
 * of the frame as the headroom tc_link_send_frame needs. */
void tc_route_tap_readable(struct tc_overlay *ov)
{
  uint8_t *buf = ov->d->dp->tap;
  for (int i = 0; i < TC_TAP_BURST && !ov->dead; i++) {
    ssize_t n = read(ov->tap_fd, buf, TC_DP_TAP_BUF);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        ipop_log_rl(&rl_tap, IPOP_LOG_WARN, "tincan", "%s: read: %s", ov->cfg.tap_name,
                    strerror(errno));
      break;
    }
    if ((size_t)n <= TC_VNET_LEN) {
      ov->bad_frames++;
      continue;
    }
    ov->tap_rx++;
    struct virtio_net_hdr vh;
    memcpy(&vh, buf, sizeof vh);
    uint8_t *p = buf + TC_VNET_LEN;
    size_t len = (size_t)n - TC_VNET_LEN;
    if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
      tc_route(ov, NULL, &vh, p, len);
      continue;
    }
    /* A single frame with a partial checksum: finish it here, so that it
     * is complete for addrmap and for the peer. */
    if ((vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && tc_vnet_csum_complete(&vh, p, len) != 0) {
      ov->bad_frames++;
      continue;
    }
    tc_route(ov, NULL, NULL, p, len);
  }
  if (!ov->dead)
    for (struct tc_link *l = ov->links; l; l = l->next)
      tc_link_flush(l);
}
