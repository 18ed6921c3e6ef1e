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

enum { TC_VNET_LEN = 10 };

/* vh NULL: the all-zero header. */
void tc_vnet_put(uint8_t w[TC_VNET_LEN], const struct virtio_net_hdr *vh);
void tc_vnet_get(struct virtio_net_hdr *vh, const uint8_t w[TC_VNET_LEN]);
static inline bool tc_vnet_none(const struct virtio_net_hdr *vh)
{
  return !vh->flags && vh->gso_type == VIRTIO_NET_HDR_GSO_NONE;
}

/* A peer's header for the frame fi (parsed, len bytes) on an overlay of
 * this MTU: 0 if our TAP may be given it, else IPOP_EINVAL. */
int tc_vnet_check(const struct virtio_net_hdr *vh, const struct frame_info *fi, size_t len,
                  uint32_t mtu);
/* Complete a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) in software. */
int tc_vnet_csum_complete(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len);

#endif
