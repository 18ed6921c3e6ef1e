/* A link to one peer on one overlay: a path (ICE agent, then possibly the
 * selected socket; path.h), a session on it (DTLS, then record keys and
 * their epochs; session.h), and the dataplane that turns frames into
 * records and back (dataplane.h).  The link owns the three, their one
 * state, the housekeeping timer (keepalive, rekey, deadlines) and the
 * events the controller sees.
 *
 *   NEW --create_link--> CONNECTING --keys--> UP <--keepalive--> DOWN
 *                              \------------------\--------------> FAILED
 *   any --remove_link--> DEAD (handles closing, then freed)
 *
 * Frames: tc_link_send_frame() out; frames in go from the dataplane to the
 * daemon's router through the dataplane context's deliver callback. */
#ifndef IPOP_TINCAN_LINK_H
#define IPOP_TINCAN_LINK_H

#include <linux/virtio_net.h>

#include "dataplane.h"
#include "path.h"
#include "paths.h"
#include "session.h"
#include "tincan.h"
#include "turnprobe.h"

/* The link's one state.  The first five are what the control protocol
 * reports (enum ctl_link_state, same values). */
enum tc_link_state {
  TC_LINK_NEW = CTL_LINK_NEW,               /* gathering; no create_link yet */
  TC_LINK_CONNECTING = CTL_LINK_CONNECTING, /* ICE checks, then the DTLS handshake */
  TC_LINK_UP = CTL_LINK_UP,                 /* keyed, authenticated records arrive */
  TC_LINK_DOWN = CTL_LINK_DOWN,             /* keyed, but nothing for TC_DEAD_MS */
  TC_LINK_FAILED = CTL_LINK_FAILED,         /* ICE or DTLS failed, or keys overdue */
  TC_LINK_DEAD,                             /* removed; freed once handles closed */
};

/* Link flags (create_link). */
enum {
  TC_LINK_HAS_PEER_MAC = 1 << 0,  /* peer_mac is bound to this link */
  TC_LINK_BRIDGE = 1 << 1,        /* the peer bridges a LAN: any source MAC not bound elsewhere */
};

struct tc_link {
  struct tc_overlay *ov;
  struct tc_link *next;
  char peer_id[CTL_ID_LEN];
  uint32_t slot;                  /* index in ov->slot[], the switch's link id */
  enum tc_link_state state;
  char reason[CTL_REASON_LEN];
  uint8_t peer_mac[6];            /* source MAC of the peer's frames */
  unsigned flags;
  uint64_t spoofed;               /* frames refused: source not the peer's (route.c) */
  struct tc_path path;            /* slot 0: set up by the controller */
  struct tc_path alt;             /* slot 1: set up in-band (paths.h) */
  struct tc_path *tx;             /* the path records leave by: path or alt */
  struct tc_paths pm;             /* which path, and the in-band setup (paths.h) */
  struct tc_path_config pcfg;     /* for paths made later */
  const struct tc_path_ops *pops;
  uv_close_cb handle_closed;      /* counts handles closing once the link is dead */
  bool initiator;                 /* our node id sorts first: we offer new paths */
  struct tc_session sess;
  struct tc_dp dp;
  struct ctl_request *pending;    /* query_candidates waiting for gathering */
  int relay;                      /* enum ctl_relay_policy */
  char note[CTL_REASON_LEN];      /* the last path problem (TURN), for the stats */
  struct tc_turnprobe probe;      /* asks the TURN server why (turnprobe.h) */
  bool probing;                   /* probe running: its handles are live */
  bool probe_ice;                 /* ... for an ICE failure (else: gathering) */
  char probe_what[CTL_REASON_LEN]; /* ICE failure being explained */
  int probe_closing;              /* probe handles whose close is pending */
  uv_timer_t tick;
  int handles_closing;            /* libuv handles whose close is pending */
  uint64_t created_ms, connect_start_ms, up_since_ms, last_ping_ms;
};

/* Create a link and start gathering; it is added to ov->links.  relay:
 * enum ctl_relay_policy for its path. */
int tc_link_create(struct tc_overlay *ov, const char *peer_id, int relay, struct tc_link **out,
                   char *why, size_t whylen);
/* Answer req with the candidate set once gathering is done (or at once). */
void tc_link_want_candidates(struct tc_link *l, struct ctl_request *req);
/* Apply the peer's credentials, candidates and pin; ICE checks and DTLS start. */
int tc_link_connect(struct tc_link *l, const struct ctl_create_link *r, char *why,
                    size_t whylen);
/* One frame from the TAP (vh: its offload header, NULL for a complete
 * frame); p needs TC_VNET_LEN bytes of writable headroom.  Sent only UP. */
int tc_link_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p,
                       size_t n);
static inline bool tc_link_keyed(const struct tc_link *l)
{
  return l->state == TC_LINK_UP || l->state == TC_LINK_DOWN;
}
/* A TC_DP_PATHS record for the link `owner` (the dataplane context's
 * path_msg). */
void tc_link_paths_msg(void *owner, const uint8_t *m, size_t n);
/* A frame of ours or one we carry, behind its overlay header (hdr: record
 * kind and header, fwd.h); complete frames only.  Sent only UP or DOWN. */
int tc_link_send_routed(struct tc_link *l, const uint8_t *hdr, const uint8_t *p, size_t n);
/* Send what the link queued during a burst. */
void tc_link_flush(struct tc_link *l);
void tc_link_stat(struct tc_link *l, struct ctl_link_stat *s);
/* The path part of the stats: why the link is not up, the candidates. */
void tc_link_stat_paths(struct tc_link *l, struct ctl_link_stat *s);
void tc_link_destroy(struct tc_link *l);
struct tc_link *tc_link_find(struct tc_overlay *ov, const char *peer_id);

#endif
