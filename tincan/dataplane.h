/* A link's dataplane: Ethernet frames to records and back, on top of the
 * link's session (keys, session.h) and path (datagrams, path.h).
 *
 * Inside a record, the first plaintext byte says what follows:
 *
 *   TC_DP_FRAME  an Ethernet frame, checksums complete
 *   TC_DP_FRAG   msg id (BE 32) | total (BE 32) | offset (BE 32) | chunk:
 *                one piece of [vnet header (10, vnet.h) | frame], for
 *                frames too big for one datagram: TSO/GSO super-frames from
 *                the TAP (carried whole, so the far TAP takes them as one
 *                GSO packet) and frames above TC_SAFE_MTU
 *   TC_DP_PING   timestamp (BE 64, µs), answered by
 *   TC_DP_PONG   the same timestamp: keepalive and RTT
 *   5, 6, 7      rekey INIT, RESP, DONE (rekey.h), for the session
 *   TC_DP_PATHS  an in-band path offer or answer (paths.h), for the link
 *   TC_DP_ROUTED overlay header (fwd.h) + an Ethernet frame, checksums
 *                complete: a frame between two members, carried by us
 *
 * Unknown kinds are ignored (newer peers).  Frames that come out go to the
 * context's deliver callback (the router); nothing here looks inside them
 * beyond the FRAG header.
 *
 * The dataplane context (one per daemon) holds every scratch buffer the
 * frame path needs, so that nothing is per-process static. */
#ifndef IPOP_TINCAN_DATAPLANE_H
#define IPOP_TINCAN_DATAPLANE_H

#include <linux/virtio_net.h>

#include "path.h"
#include "rekey.h"
#include "session.h"
#include "vnet.h"

enum {
  TC_DP_FRAME = 1,
  TC_DP_FRAG = 2,
  TC_DP_PING = 3,
  TC_DP_PONG = 4,
  TC_DP_PATHS = 8,
  TC_DP_ROUTED = 9,
  TC_DP_ROUTED_HDR = 33,          /* hop limit, source and destination ids (fwd.h) */
  TC_DP_FRAG_HDR = 13,
  TC_DP_REASM_SLOTS = 4,          /* split frames being reassembled per link */
  /* largest reassembled content: vnet header + a 64 KiB IP packet + L2 */
  TC_DP_SUPER_MAX = TC_VNET_LEN + 65535 + 14 + 4,
  /* A TAP read: vnet header, then up to a 64 KiB super-frame. */
  TC_DP_TAP_BUF = TC_VNET_LEN + 65536 + 64,
};

typedef void (*tc_dp_deliver_fn)(void *owner, const struct virtio_net_hdr *vh, uint8_t *frame,
                                 size_t n);

/* The daemon's dataplane context: buffers and the frame sink. */
struct tc_dp_ctx {
  struct tc_path_io io;                     /* recvmmsg/sendmmsg buffers */
  uint8_t plain[TC_PATH_DGRAM_MAX];         /* an opened record */
  uint8_t seal[TC_PATH_DGRAM_MAX];          /* a record for a non-batching path */
  uint8_t tap[TC_DP_TAP_BUF];               /* a TAP read (router) */
  tc_dp_deliver_fn deliver;                 /* frames from links */
  void (*path_msg)(void *owner, const uint8_t *m, size_t n); /* TC_DP_PATHS, NULL: ignored */
  /* frames with an overlay header (fwd.h): hdr = hop limit, source, destination */
  void (*deliver_routed)(void *owner, uint8_t *hdr, uint8_t *frame, size_t n);
};

struct tc_dp_stats {
  uint64_t tx_bytes, rx_bytes, tx_packets, rx_packets;  /* frames */
  uint64_t drops;                 /* frames or records lost or refused */
};

struct tc_dp_reasm;

/* One link's dataplane state. */
struct tc_dp {
  struct tc_dp_ctx *ctx;
  struct tc_session *sess;
  struct tc_path *path;
  void *owner;                    /* the link, for ctx->deliver */
  struct tc_dp_reasm *reasm;      /* split frames (allocated on first use) */
  uint32_t frag_id;
  uint32_t rtt_us;
  uint64_t last_rx_ms;            /* last authenticated record */
  uint64_t pongs;                 /* answers to our pings */
  struct tc_dp_stats st;
};

void tc_dp_init(struct tc_dp *dp, struct tc_dp_ctx *ctx, struct tc_session *sess,
                struct tc_path *path, void *owner);
void tc_dp_free(struct tc_dp *dp);

/* Seal and send one frame.  vh: the TAP's offload header (NULL: a complete
 * frame).  p must have TC_VNET_LEN writable bytes before it (headroom).
 * IPOP_ESTATE while the session has no keys. */
int tc_dp_send_frame(struct tc_dp *dp, const struct virtio_net_hdr *vh, uint8_t *p, size_t n);
/* Seal and send one complete frame behind an overlay header (hdr: the
 * record kind TC_DP_ROUTED, then the header; fwd.h).  IPOP_ETOOBIG if
 * the two do not fit in one datagram. */
int tc_dp_send_routed(struct tc_dp *dp, const uint8_t *hdr, size_t hn, const uint8_t *p,
                      size_t n);
/* Seal and send one control message (kind byte first) now. */
void tc_dp_send_msg(struct tc_dp *dp, const uint8_t *m, size_t n);
void tc_dp_send_ping(struct tc_dp *dp, uint64_t now_us);
/* One datagram from the path: a record (opened, dispatched by kind), a
 * DTLS datagram (to the session), STUN (ignored), or garbage (counted).
 * True if it was a record that authenticated (and was no replay): the
 * path may then trust the datagram's source address (roaming, path.h). */
bool tc_dp_input(struct tc_dp *dp, const uint8_t *p, size_t n, uint64_t now_ms);
/* The plaintext of an authenticated record, dispatched by its kind byte
 * (also the fuzzing entry point of the post-authentication path). */
void tc_dp_inner(struct tc_dp *dp, uint8_t *p, size_t n, uint64_t now_ms);

#endif
