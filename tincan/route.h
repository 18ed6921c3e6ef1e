/* The router of an overlay: every frame passes tc_route(), whichever way it
 * goes (tinc's route() is the model).  From the TAP (from == NULL): parsed,
 * SocialVPN ARP answered locally, mapped IPv4 sent to its link, else the
 * learning switch picks one link, every link (broadcast, multicast) or
 * none.  From a link: parsed, its offload header checked, translated if
 * the link is mapped, learned, and written to the TAP.  tincan never
 * relays between links. */
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
/* Read a burst of frames from the TAP, route each, flush the links. */
void tc_route_tap_readable(struct tc_overlay *ov);

#endif
