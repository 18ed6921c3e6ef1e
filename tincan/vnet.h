/* virtio-net headers (IFF_VNET_HDR): the TAP hands one over with every
 * frame it gives us and takes one with every frame we write.  Here: how a
 * header travels inside a FRAG record, completing a partial checksum, and
 * which headers from a peer may reach our TAP.
 *
 * On the wire (dataplane.h): flags, gso_type (1 byte each), hdr_len,
 * gso_size, csum_start, csum_offset (BE 16 each): struct virtio_net_hdr in
 * network byte order, 10 bytes.  All zero: a complete frame, no offload. */
#ifndef IPOP_TINCAN_VNET_H
#define IPOP_TINCAN_VNET_H

#include <linux/virtio_net.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

enum {
  TC_VNET_LEN = 10,
  /* Bounds on a peer's TSO super-frame (tc_vnet_check): segments of at
   * least TC_GSO_MIN_SIZE payload bytes (any flow whose MSS respects the
   * IPv4 minimum MTU of 576 has more, even after 40 bytes of TCP options),
   * at most TC_GSO_MAX_SEGS of them (a 64 KiB IP packet cut at the floor;
   * checked too, in case frames ever get longer).
   * So a peer cannot make our kernel emit more packets than it could by
   * sending 256-byte frames itself. */
  TC_GSO_MIN_SIZE = 256,
  TC_GSO_MAX_SEGS = 256,
};

/* vh NULL: the all-zero header. */
void tc_vnet_put(uint8_t w[TC_VNET_LEN], const struct virtio_net_hdr *vh);
void tc_vnet_get(struct virtio_net_hdr *vh, const uint8_t w[TC_VNET_LEN]);
static inline bool tc_vnet_none(const struct virtio_net_hdr *vh)
{
  return !vh->flags && vh->gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

/* A peer's header for the frame (parsed into fi, len bytes) on an overlay
 * of this MTU.  Peers send a header only with a TCP super-frame (our
 * sender completes every other checksum), so it must be what our own TAP
 * produces for one: flags exactly NEEDS_CSUM; GSO TCPv4 (unfragmented
 * IPv4) or TCPv6 (TCP right after the IPv6 header), ECN allowed; the
 * checksum at the TCP checksum field; headers <= hdr_len <= len;
 * TC_GSO_MIN_SIZE <= gso_size <= mtu - IP and TCP headers; 1 to
 * TC_GSO_MAX_SEGS segments.  Returns the length of the headers (Ethernet
 * to TCP options: what hdr_len should say) or IPOP_EINVAL. */
int tc_vnet_check(const struct virtio_net_hdr *vh, const struct frame_info *fi,
                  const uint8_t *frame, size_t len, uint32_t mtu);
/* Complete a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) in software. */
int tc_vnet_csum_complete(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len);

#endif
