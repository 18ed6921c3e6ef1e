/* The link dataplane: frames sealed as records (record.h) once DTLS has
 * verified the peer, carried either by libnice (relayed pairs, and until ICE
 * is settled) or, for direct pairs (host/srflx/prflx), on the ICE-selected
 * UDP socket taken over from libnice and driven from the libuv loop with
 * recvmmsg/sendmmsg, UDP GRO/GSO.
 *
 * Inside a record, the first plaintext byte says what follows:
 *
 *   TC_DP_FRAME  an Ethernet frame, checksums complete
 *   TC_DP_FRAG   msg id (BE 32) | total (BE 32) | offset (BE 32) | chunk:
 *                one piece of [vnet header (10, wire form below) | frame],
 *                for frames too big for one datagram: TSO/GSO super-frames
 *                from the TAP (carried whole, so the far TAP takes them as
 *                one GSO packet) and frames above TC_SAFE_MTU
 *   TC_DP_PING   timestamp (BE 64, µs), answered by
 *   TC_DP_PONG   the same timestamp: keepalive and RTT
 *
 * vnet header on the wire: flags, gso_type (1 byte each), hdr_len, gso_size,
 * csum_start, csum_offset (BE 16 each): struct virtio_net_hdr in network
 * byte order.  Unknown kinds are ignored (newer peers). */
#ifndef IPOP_TINCAN_DATAPLANE_H
#define IPOP_TINCAN_DATAPLANE_H

#include <linux/virtio_net.h>

#include "tincan.h"

enum {
  TC_DP_FRAME = 1,
  TC_DP_FRAG = 2,
  TC_DP_PING = 3,
  TC_DP_PONG = 4,
  TC_DP_FRAG_HDR = 13,
  TC_DP_VNET = 10,
  TC_DP_BATCH = 64,               /* datagrams queued per link before a sendmmsg */
  TC_DP_REASM_SLOTS = 4,          /* split frames being reassembled per link */
  /* largest reassembled content: vnet header + a 64 KiB IP packet + L2 */
  TC_DP_SUPER_MAX = TC_DP_VNET + 65535 + 14 + 4,
};

/* Keys from the verified DTLS session (called once DTLS is up). */
int tc_dp_start(struct tc_link *l);
/* Move a direct link onto its own socket if ICE has settled; returns true
 * if the link now runs on l->fd.  Must not run inside a libnice callback
 * (it frees the agent): the link's timer calls it. */
bool tc_dp_try_takeover(struct tc_link *l);
/* Release sockets, buffers and keys (link teardown).  Returns the number
 * of libuv handles being closed whose close callback will run. */
int tc_dp_stop(struct tc_link *l, uv_close_cb cb);

/* One datagram from the link's path (libnice's recv callback). */
void tc_dp_input(struct tc_link *l, const uint8_t *p, size_t n);
/* Seal and send one frame.  vh: the TAP's offload header (NULL: a complete
 * frame).  p must have TC_DP_VNET writable bytes before it (headroom). */
int tc_dp_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p, size_t n);
void tc_dp_send_ping(struct tc_link *l, uint8_t kind, uint64_t stamp);
/* Send what is queued (end of a burst). */
void tc_dp_flush(struct tc_link *l);
/* Send one DTLS datagram on the link's path. */
void tc_dp_send_raw(struct tc_link *l, const uint8_t *p, size_t n);

/* vnet header checks for a peer-supplied super-frame header: 0 if the
 * kernel may be given it with a frame of len bytes. */
int tc_dp_vnet_check(const struct virtio_net_hdr *vh, size_t len);
/* Complete a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM) in software. */
int tc_dp_csum_complete(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len);

#endif
