/* Frames between an overlay's TAP and its links. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "link.h"

static struct ipop_ratelimit rl_tap = IPOP_RATELIMIT_INIT(5000, 5);

/* Tell the controller about a frame no link is known to own: a unicast frame
 * to an unlearned MAC, or an ARP request (the target may be a member with no
 * link yet: tincan does not relay, so only the controller can open one).
 * Rate limited per (MAC, ARP target). */
static void unknown_destination(struct tc_overlay *ov, const struct frame_info *fi)
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
  ev.frame_len = (uint32_t)fi->len;
  ctl_event_send(d->ep, (const struct sockaddr *)&d->controller,
                 ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count,
                              "unknown_destination"),
                 &ev);
}

/* Send one TAP frame on one link, through the link's address mapping. */
static void to_link(struct tc_overlay *ov, struct tc_link *l, uint8_t *p, size_t n,
                    const struct frame_info *fi)
{
  if (addrmap_egress(ov->am, l->slot, p, fi) == ADDRMAP_DROP) {
    l->drops++;
    return;
  }
  tc_link_send_frame(l, p, n);
}

static void flood(struct tc_overlay *ov, uint8_t *p, size_t n, const struct frame_info *fi)
{
  /* addrmap never rewrites a flooded frame (only IPv4 to a mapped address,
   * which addrmap_route sent to its one link), so one buffer serves all. */
  for (struct tc_link *l = ov->links; l; l = l->next)
    if (l->dtls_ready && l->dtls.state == TC_DTLS_UP)
      to_link(ov, l, p, n, fi);
}

static void from_tap(struct tc_overlay *ov, uint8_t *p, size_t n)
{
  struct frame_info fi;
  struct switch_decision dec;
  uint8_t reply[ADDRMAP_ARP_REPLY_LEN + 4];
  size_t rlen;
  uint32_t mapped;
  if (frame_parse(&fi, p, n) != 0) {
    ov->bad_frames++;
    return;
  }
  /* SocialVPN: ARP for a mapped address is answered here. */
  if (addrmap_arp_reply(ov->am, &fi, reply, sizeof reply, &rlen) == 1) {
    if (write(ov->tap_fd, reply, rlen) == (ssize_t)rlen)
      ov->tap_tx++;
    return;
  }
  if (addrmap_route(ov->am, &fi, &mapped) == 0) {
    if (mapped < TC_MAX_LINKS_PER_OVERLAY && ov->slot[mapped])
      to_link(ov, ov->slot[mapped], p, n, &fi);
    else
      ov->tap_drops++;
    return;
  }
  if (switch_decide(ov->sw, &fi, ipop_now_ms(), &dec) != 0) {
    ov->bad_frames++;
    return;
  }
  if (dec.unknown_unicast ||
      (fi.l3 == FRAME_L3_ARP && fi.arp.op == FRAME_ARP_REQUEST && fi.arp.tpa != fi.arp.spa))
    unknown_destination(ov, &fi);
  switch (dec.action) {
  case SWITCH_UNICAST:
    if (dec.link < TC_MAX_LINKS_PER_OVERLAY && ov->slot[dec.link])
      to_link(ov, ov->slot[dec.link], p, n, &fi);
    else
      ov->tap_drops++;
    break;
  case SWITCH_FLOOD:
    flood(ov, p, n, &fi);
    break;
  case SWITCH_DROP:
    ov->tap_drops++;
    break;
  }
}

void tc_forward_tap_readable(struct tc_overlay *ov)
{
  uint8_t buf[TC_FRAME_BUF];
  for (int i = 0; i < TC_TAP_BURST && !ov->dead; i++) {
    ssize_t n = read(ov->tap_fd, buf, sizeof buf);
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR)
        ipop_log_rl(&rl_tap, IPOP_LOG_WARN, "tincan", "%s: read: %s", ov->cfg.tap_name,
                    strerror(errno));
      return;
    }
    ov->tap_rx++;
    from_tap(ov, buf, (size_t)n);
  }
}

void tc_forward_from_link(struct tc_link *l, uint8_t *frame, size_t n)
{
  struct tc_overlay *ov = l->ov;
  struct frame_info fi;
  if (n > ov->cfg.mtu + 14u + 4u || frame_parse(&fi, frame, n) != 0) {
    ov->bad_frames++;
    l->drops++;
    return;
  }
  if (addrmap_ingress(ov->am, l->slot, frame, &fi) == ADDRMAP_DROP) {
    l->drops++;
    return;
  }
  /* Learn where the sender lives (fi.src points into the possibly rewritten
   * frame); a peer claiming our own MAC is dropped. */
  if (switch_learn(ov->sw, fi.src, l->slot, ipop_now_ms()) == IPOP_EPERM) {
    l->drops++;
    return;
  }
  ssize_t w = write(ov->tap_fd, frame, n);
  if (w != (ssize_t)n) {
    ov->tap_drops++;
    l->drops++;
    return;
  }
  ov->tap_tx++;
}
