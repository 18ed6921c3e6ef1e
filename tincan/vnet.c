#include "vnet.h"

#include <string.h>

#include "error.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

void tc_vnet_put(uint8_t w[TC_VNET_LEN], const struct virtio_net_hdr *vh)
{
  if (!vh) {
    memset(w, 0, TC_VNET_LEN);
    return;
  }
  w[0] = vh->flags;
  w[1] = vh->gso_type;
  put16(w + 2, vh->hdr_len);
  put16(w + 4, vh->gso_size);
  put16(w + 6, vh->csum_start);
  put16(w + 8, vh->csum_offset);
}

void tc_vnet_get(struct virtio_net_hdr *vh, const uint8_t w[TC_VNET_LEN])
{
  vh->flags = w[0];
  vh->gso_type = w[1];
  vh->hdr_len = get16(w + 2);
  vh->gso_size = get16(w + 4);
  vh->csum_start = get16(w + 6);
  vh->csum_offset = get16(w + 8);
}

/* The header alone: known flags, a GSO type we produce, lengths inside the
 * frame. */
static int header_ok(const struct virtio_net_hdr *vh, size_t len)
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

/* The header must describe the frame it came with: the checksum starts at
 * the TCP/UDP header of a parsed IPv4/IPv6 packet and points at its
 * checksum field, and a TSO header goes with TCP of the right IP version.
 * The kernel checks headers too; this keeps what reaches it to the shapes
 * a TAP itself produces. */
static bool matches(const struct frame_info *fi, const struct virtio_net_hdr *vh)
{
  uint8_t g = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  size_t l4;
  uint8_t proto;
  if (fi->l3 == FRAME_L3_IP4 && fi->ip4.frag_off == 0 && !fi->ip4.mf) {
    l4 = fi->ip4.l4_off;
    proto = fi->ip4.proto;
    if (g == VIRTIO_NET_HDR_GSO_TCPV6)
      return false;
  } else if (fi->l3 == FRAME_L3_IP6) {
    l4 = fi->ip6.l4_off;
    proto = fi->ip6.next_hdr;
    if (g == VIRTIO_NET_HDR_GSO_TCPV4)
      return false;
  } else {
    return false;
  }
  if (g != VIRTIO_NET_HDR_GSO_NONE && proto != FRAME_IPPROTO_TCP)
    return false;
  if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
    return vh->csum_start == l4 &&
           ((proto == FRAME_IPPROTO_TCP && vh->csum_offset == 16) ||
            (proto == FRAME_IPPROTO_UDP && vh->csum_offset == 6));
  return true;
}

int tc_vnet_check(const struct virtio_net_hdr *vh, const struct frame_info *fi, size_t len,
                  uint32_t mtu)
{
  (void)mtu;
  if (header_ok(vh, len) != 0 || !matches(fi, vh))
    return IPOP_EINVAL;
  return 0;
}

int tc_vnet_csum_complete(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len)
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
