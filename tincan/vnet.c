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

/* Offset and length of the TCP header a super-frame of this GSO type must
 * carry; false if the packet is not that. */
static bool tcp_header(const struct frame_info *fi, const uint8_t *frame, size_t len,
                       uint8_t gso, size_t *l4, size_t *thl)
{
  if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && fi->l3 == FRAME_L3_IP4 && fi->ip4.frag_off == 0 &&
      !fi->ip4.mf && fi->ip4.proto == FRAME_IPPROTO_TCP)
    *l4 = fi->ip4.l4_off;
  else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && fi->l3 == FRAME_L3_IP6 &&
           fi->ip6.next_hdr == FRAME_IPPROTO_TCP)
    *l4 = fi->ip6.l4_off;
  else
    return false;
  if (*l4 + 20 > len)
    return false;
  *thl = (size_t)(frame[*l4 + 12] >> 4) * 4;
  return *thl >= 20 && *l4 + *thl <= len;
}

int tc_vnet_check(const struct virtio_net_hdr *vh, const struct frame_info *fi,
                  const uint8_t *frame, size_t len, uint32_t mtu)
{
  uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
  size_t l4, thl;
  if (vh->flags != VIRTIO_NET_HDR_F_NEEDS_CSUM || !tcp_header(fi, frame, len, gso, &l4, &thl))
    return IPOP_EINVAL;
  size_t hdrs = l4 + thl, l3l4 = hdrs - fi->l3_off;
  if (vh->csum_start != l4 || vh->csum_offset != 16)
    return IPOP_EINVAL;
  if (vh->hdr_len < hdrs || vh->hdr_len > len)
    return IPOP_EINVAL;
  if (vh->gso_size < TC_GSO_MIN_SIZE || mtu < l3l4 || vh->gso_size > mtu - l3l4)
    return IPOP_EINVAL;
  size_t payload = len - hdrs;
  if (payload == 0 || (payload + vh->gso_size - 1) / vh->gso_size > TC_GSO_MAX_SEGS)
    return IPOP_EINVAL;
  return (int)hdrs;
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
