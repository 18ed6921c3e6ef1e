/* Links and forwarding (internal to tincan). */
#ifndef IPOP_TINCAN_LINK_H
#define IPOP_TINCAN_LINK_H

#include <linux/virtio_net.h>

#include "tincan.h"

/* Create a link and start gathering; it is added to ov->links. */
int tc_link_create(struct tc_overlay *ov, const char *peer_id, struct tc_link **out,
                   char *why, size_t whylen);
/* Answer req with the candidate set once gathering is done (or at once). */
void tc_link_want_candidates(struct tc_link *l, struct ctl_request *req);
/* Apply the peer's credentials, candidates and pin; ICE checks and DTLS start. */
int tc_link_connect(struct tc_link *l, const struct ctl_create_link *r, char *why,
                    size_t whylen);
/* One frame from the TAP (vh: its offload header, NULL for a complete
 * frame); p needs TC_DP_VNET bytes of writable headroom (dataplane.h). */
int tc_link_send_frame(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *p,
                       size_t n);
/* An authenticated record arrived: liveness, and "up" again after "down". */
void tc_link_alive(struct tc_link *l);
/* Remember the selected pair for the stats, then free the ICE agent. */
void tc_link_cache_pair(struct tc_link *l);
void tc_link_release_agent(struct tc_link *l);
void tc_link_stat(const struct tc_link *l, struct ctl_link_stat *s);
void tc_link_destroy(struct tc_link *l);
struct tc_link *tc_link_find(struct tc_overlay *ov, const char *peer_id);
void tc_link_event(struct tc_link *l);

/* forward.c */
/* vh: the peer's offload header for a super-frame, NULL for a complete frame. */
void tc_forward_from_link(struct tc_link *l, const struct virtio_net_hdr *vh, uint8_t *frame,
                          size_t n);
/* Send what the links queued during a burst. */
void tc_forward_flush(struct tc_overlay *ov);
void tc_forward_tap_readable(struct tc_overlay *ov);

#endif
