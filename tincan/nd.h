/* IPv6 Neighbor Discovery that tincan answers itself: a Neighbor
 * Solicitation from our TAP is checked as RFC 4861 7.1.1 says a receiver
 * must (nd_ns_parse), and answered with a Neighbor Advertisement built
 * here (nd_na_build).  Two users: SocialVPN's mapped addresses (addrmap.h)
 * and GroupVPN's members (fwd.h); each owns the table that says whose the
 * target is, this module only the packet format.
 *
 * Pure functions: no I/O, no allocation, no state. */
#ifndef IPOP_TINCAN_ND_H
#define IPOP_TINCAN_ND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"

enum {
  ND_NS = 135,
  ND_NA = 136,
  ND_NS_LEN = 24,                  /* type .. target, before the options */
  ND_OPT_SLLA = 1,                 /* source link-layer address */
  ND_OPT_TLLA = 2,                 /* target link-layer address */
  ND_NA_LEN = 32,                  /* advertisement + target link-layer option */
  ND_NA_FRAME_LEN = FRAME_ETH_HLEN + FRAME_IP6_HLEN + ND_NA_LEN, /* 86 (+4 tagged) */
};

/* What nd_ns_parse found.  The negative ones are malformed solicitations,
 * which a receiver must drop (the reason is for counters and tests). */
enum nd_ns_status {
  ND_NS_OK = 1,                    /* a valid solicitation: *ns filled */
  ND_NS_NONE = 0,                  /* not a Neighbor Solicitation */
  ND_NS_BAD_HOP_LIMIT = -1,        /* IP hop limit != 255: not from the link */
  ND_NS_BAD_CODE = -2,             /* ICMPv6 code != 0 */
  ND_NS_SHORT = -3,                /* ICMPv6 length < 24 */
  ND_NS_BAD_CSUM = -4,             /* ICMPv6 checksum */
  ND_NS_BAD_TARGET = -5,           /* target multicast, ::, or loopback */
  ND_NS_BAD_OPTION = -6,           /* an option of length 0 or past the end,
                                      or a source link-layer option that is
                                      not one Ethernet address */
  ND_NS_BAD_DST = -7,              /* multicast, but not the target's
                                      solicited-node group */
  ND_NS_BAD_DAD = -8,              /* from :: to a unicast address, or with a
                                      source link-layer option */
};

struct nd_ns {
  const uint8_t *target;           /* 16 bytes, into the frame */
  const uint8_t *slla;             /* 6 bytes into the frame, or NULL */
  bool dad;                        /* from :: (duplicate address detection) */
};

/* Check fi (frame_parse's result for a frame whose buffer is fi->dst) as a
 * Neighbor Solicitation: only one whose ICMPv6 header follows the IPv6
 * header directly (frame_info's nd_type).  Returns an nd_ns_status. */
int nd_ns_parse(const struct frame_info *fi, struct nd_ns *ns);

/* A short name for a status, for logs ("hop limit", "checksum", ...). */
const char *nd_ns_status_name(int status);

/* The Neighbor Advertisement answering the solicitation fi (valid, not
 * DAD): from target at mac, to the solicitation's source (its MAC and
 * address, with its VLAN tag if any), flags solicited and override, a
 * target link-layer address option with mac, the ICMPv6 checksum set.
 * out may be the solicitation's own buffer.  0 and *out_len, or
 * IPOP_ETOOBIG if cap < ND_NA_FRAME_LEN (+4 when tagged). */
int nd_na_build(const struct frame_info *fi, const uint8_t target[16], const uint8_t mac[6],
                uint8_t *out, size_t cap, size_t *out_len);

/* The solicited-node multicast group of a (ff02::1:ffXX:XXXX), into out. */
void nd_solicited_node(const uint8_t a[16], uint8_t out[16]);

#endif
