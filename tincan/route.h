/* The router of an overlay: every frame passes tc_route(), whichever way it
 * goes (tinc's route() is the model).  From the TAP (from == NULL): parsed,
 * SocialVPN ARP answered locally, mapped IPv4 sent to its link, else the
 * learning switch picks one link, every link (broadcast, multicast) or
 * none.  From a link: parsed, its offload header checked, translated if
 * the link is mapped, learned, and written to the TAP.  GroupVPN (fwd.h):
 * ARP for members answered from the forwarding table, unicast to a member
 * with no link sent behind an overlay header to the table's next hop, and
 * frames with an overlay header checked and delivered or carried on. */
#ifndef IPOP_TINCAN_ROUTE_H
#define IPOP_TINCAN_ROUTE_H

#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"

/* vh: the frame's offload header, NULL for a complete frame.  From the
 * TAP, p needs TC_VNET_LEN bytes of writable headroom (the TAP buffer has
 * them). */
void tc_route(struct tc_overlay *ov, struct tc_link *from, const struct virtio_net_hdr *vh,
              uint8_t *p, size_t n);
/* The dataplane context's deliver callback (owner: the link). */
void tc_route_deliver(void *owner, const struct virtio_net_hdr *vh, uint8_t *frame, size_t n);
/* A frame with an overlay header (fwd.h) from link l; and the dataplane
 * context's deliver_routed callback (owner: the link). */
void tc_route_routed(struct tc_link *l, uint8_t *hdr, uint8_t *p, size_t n);
void tc_route_routed_deliver(void *owner, uint8_t *hdr, uint8_t *frame, size_t n);
/* Read a burst of frames from the TAP, route each, flush the links. */
void tc_route_tap_readable(struct tc_overlay *ov);

#endif
