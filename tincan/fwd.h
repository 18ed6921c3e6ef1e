/* Forwarding between links (GroupVPN): the overlay's forwarding table, set
 * by the controller (set_routes), and the checks a frame with an overlay
 * header passes before it is delivered or carried on (docs/topology.md
 * "Forwarding", docs/security.md).
 *
 * A frame to a member we have no link to goes, inside a record of kind
 * TC_DP_ROUTED (dataplane.h), with an overlay header in front of it:
 *
 *   hop limit (1) | source node id (16) | destination node id (16) | frame
 *
 * The origin sets the hop limit to TC_FWD_HOPS; each forwarder takes one
 * off.  A forwarder never chooses where a frame goes: the table names the
 * next hops for each destination, and the frame goes to the first of them
 * whose link is keyed.  Every frame with a header is checked against its
 * origin: its source node id must be in the table, its source MAC must be
 * that node's, and the link it came in on must be the node's own or one
 * the table lists as a link its frames may arrive on (reverse path).
 *
 * The controller decides the routes; this module checks what it is given
 * (the entries, the links they name, the MACs they claim) and nothing else.
 * Link slots are the overlay's (tincan.h); tc_fwd_link_gone() forgets a
 * slot that is freed. */
#ifndef IPOP_TINCAN_FWD_H
#define IPOP_TINCAN_FWD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "messages.h"

enum {
  TC_FWD_ID = 16,               /* node id, binary */
  TC_FWD_HDR = 1 + 2 * TC_FWD_ID, /* hop limit, source, destination */
  TC_FWD_HOPS = 16,             /* hop limit set by the origin; more is refused */
  TC_FWD_MAX_NODES = 1024,      /* members in one overlay's table */
  TC_FWD_NONE = UINT32_MAX,     /* no slot */
};

struct tc_fwd_node {
  uint8_t id[TC_FWD_ID];
  uint8_t mac[6];
  uint32_t ip4;                 /* network order; 0: none */
  struct in6_addr ip6;
  bool has_ip6;
  uint8_t n_via, n_from;
  uint32_t via[CTL_ROUTE_VIA];  /* link slots, best first */
  uint32_t from[CTL_ROUTE_FROM];
  uint64_t tx_bytes;            /* our frames sent to it through the table */
};

struct tc_fwd_stats {
  uint64_t routed_out, routed_in, routed_in_hops, forwarded;
  uint64_t hop_limit, bad_header, origin, reverse_path, no_route, loop, refused;
  uint64_t arp_answered;
  uint64_t nd_answered;         /* Neighbor Solicitations for members answered */
  uint64_t nd_bad;              /* malformed solicitations from our TAP, dropped */
  uint64_t nd_unknown;          /* valid ones for an address no member has */
};

struct tc_fwd {
  bool forwarding;
  uint8_t self[TC_FWD_ID];      /* our node id */
  struct tc_fwd_node *nodes;    /* sorted by id */
  uint32_t *by_mac;             /* indices into nodes, sorted by MAC */
  uint32_t n;
  struct tc_fwd_stats st;
};

/* What to do with a frame that came in with an overlay header. */
enum tc_fwd_verdict {
  TC_FWD_LOCAL,                 /* for us: to the TAP */
  TC_FWD_FORWARD,               /* to *slot, hop limit already taken off */
  TC_FWD_DROP,                  /* counted in st */
};

/* The arrival link as the checks see it. */
struct tc_fwd_arrival {
  uint32_t slot;
  const uint8_t *peer_id;       /* the link peer's node id (16), or NULL if not a node id */
};

/* Parse a 32-character lowercase hex node id.  0 or IPOP_EINVAL. */
int tc_fwd_parse_id(const char *hex, uint8_t out[TC_FWD_ID]);

/* Which slots are keyed links: the table asks the overlay (tincan.h). */
typedef bool (*tc_fwd_usable_fn)(void *ctx, uint32_t slot);
/* The link of a peer id: its slot, or TC_FWD_NONE.  mac: its bound MAC
 * (NULL if none). */
typedef uint32_t (*tc_fwd_link_fn)(void *ctx, const char *peer_id, const uint8_t **mac);

/* The overlay's own addresses, which no entry may claim. */
struct tc_fwd_own {
  const uint8_t *mac;           /* 6 bytes */
  uint32_t ip4;                 /* network order; 0: none */
  const struct in6_addr *ip6;   /* NULL: none */
};

/* Build the table set_routes asks for into *f (replace: from scratch, else
 * on top of the current entries).  Checks every entry; on error (why names
 * the field) *f is unchanged. */
int tc_fwd_install(struct tc_fwd *f, const struct ctl_set_routes *r, const char *self_id,
                   const struct tc_fwd_own *own, tc_fwd_link_fn link_of, void *ctx, char *why,
                   size_t whylen);
void tc_fwd_free(struct tc_fwd *f);
/* A link slot is gone: no route names it any more. */
void tc_fwd_link_gone(struct tc_fwd *f, uint32_t slot);

struct tc_fwd_node *tc_fwd_by_mac(const struct tc_fwd *f, const uint8_t mac[6]);
const struct tc_fwd_node *tc_fwd_by_id(const struct tc_fwd *f, const uint8_t id[TC_FWD_ID]);
/* The first usable next hop toward node, or TC_FWD_NONE. */
uint32_t tc_fwd_next_hop(const struct tc_fwd_node *node, tc_fwd_usable_fn usable, void *ctx);
/* Write the header of a frame of ours to node into hdr (the record kind
 * first, then TC_FWD_HDR bytes). */
void tc_fwd_header(const struct tc_fwd *f, const struct tc_fwd_node *node,
                   uint8_t hdr[1 + TC_FWD_HDR]);
/* Check a frame that arrived with header hdr (TC_FWD_HDR bytes, the hop
 * limit is taken off in place when it is forwarded) on link a, and decide.
 * own_mac: the overlay's. */
enum tc_fwd_verdict tc_fwd_check(struct tc_fwd *f, const struct tc_fwd_arrival *a,
                                 uint8_t *hdr, const struct frame_info *fi,
                                 const uint8_t own_mac[6], tc_fwd_usable_fn usable,
                                 void *ctx, uint32_t *slot);
/* An ARP request from our TAP for a member's address: the member's MAC,
 * or NULL. */
const uint8_t *tc_fwd_arp_target(struct tc_fwd *f, const struct frame_info *fi);
/* A Neighbor Solicitation from our TAP (nd.h checks it): 1 and *node if
 * its target is a member's IPv6 address (answer it: nd_na_build); 0 if fi
 * is no solicitation, duplicate address detection, or for an address no
 * member has (nd_unknown: it goes on as before); IPOP_EINVAL if it is
 * malformed (nd_bad: drop it; *reason is nd_ns_parse's status). */
int tc_fwd_nd_target(struct tc_fwd *f, const struct frame_info *fi,
                     const struct tc_fwd_node **node, int *reason);

#endif
