/* SocialVPN address mapping: per-link IPv4 translation so that two users
 * whose subnets collide still reach each other.
 *
 * ---- The model -----------------------------------------------------------
 * Every user keeps their own subnet and TAP address; each user's controller
 * picks, from its OWN subnet, a free address at which each friend appears
 * locally.  Example: Alice and Bob both use 172.31.0.0/24 and both have
 * 172.31.0.1 on their TAP.
 *
 *   Alice's controller:  set_address_mapping(peer_id = bob,
 *                          mapped_ip4 = 172.31.0.2,  (Bob, as Alice sees him)
 *                          peer_ip4   = 172.31.0.1)  (Bob's real TAP address)
 *   Bob's controller:    set_address_mapping(peer_id = alice,
 *                          mapped_ip4 = 172.31.0.3,  (Alice, as Bob sees her)
 *                          peer_ip4   = 172.31.0.1)  (Alice's real TAP address)
 *
 * Each side translates only the REMOTE end, in its own address space; on the
 * link, packets carry both users' real addresses:
 *
 *   Alice's host      --> 172.31.0.1 -> 172.31.0.2 (mapped Bob)
 *   Alice egress      : dst mapped_ip4 -> peer_ip4   (.2 -> .1)
 *   on the link       :   172.31.0.1 -> 172.31.0.1   (real -> real)
 *   Bob ingress       : src peer_ip4 -> mapped_ip4   (.1 -> .3)
 *   Bob's host        <-- 172.31.0.3 -> 172.31.0.1   (mapped Alice -> Bob)
 *
 * and the reply the same way round.  So the mapping entry needs exactly the
 * two fields that set_address_mapping carries: no node has to know the
 * address the peer uses for it (the peer's own tincan applies that on its
 * ingress), and no "local address" needs configuring.  What each controller
 * must do: learn the friend's real TAP address (peer_ip4) over its
 * signalling channel, pick a free mapped_ip4 in its own TAP subnet (not its
 * own TAP address, unique per overlay), and send set_address_mapping for
 * that link.  Both sides must configure a mapping for the link: with only
 * one side mapped, the unmapped side receives real, colliding addresses.
 *
 * ---- What tincan does on a mapped link ------------------------------------
 *   TAP -> link (addrmap_egress):
 *     IPv4 to mapped_ip4: destination rewritten to peer_ip4; IPv4 to any
 *       other address (other hosts, broadcast, multicast): dropped, as these
 *       are meaningless in the peer's colliding subnet;
 *     ARP: dropped (ARP for mapped addresses is answered locally, see
 *       addrmap_arp_reply; ARP for real addresses would collide);
 *     IPv6 to mapped_ip6: destination rewritten to peer_ip6; any other
 *       IPv6 (link-local, multicast, Neighbor Discovery, or the link has
 *       no IPv6 mapping): dropped;
 *     everything else (other ethertypes): passed unchanged.
 *   link -> TAP (addrmap_ingress):
 *     IPv4 from peer_ip4 (IPv6 from peer_ip6): source rewritten to
 *       mapped_ip4 (mapped_ip6), Ethernet source set to the derived MAC of
 *       mapped_ip4 and Ethernet destination (if unicast) to the local TAP
 *       MAC; IPv4 or IPv6 from another source, and Neighbor Discovery:
 *       dropped;
 *     ARP: dropped; everything else passed unchanged.
 *   IPv6 checksums: TCP, UDP and ICMPv6 checksums cover the addresses
 *   (pseudo-header) and are updated incrementally, behind hop-by-hop,
 *   destination options and fragment headers (a later fragment has no
 *   upper-layer header); a packet with a routing header is dropped (its
 *   pseudo-header names the final destination, not the one in the header).
 *   ICMPv6 errors (types 1-4) quote the offending packet: its source
 *   (egress) or destination (ingress) is translated the opposite way and
 *   the ICMPv6 checksum updated; the quoted upper-layer checksum is not.
 *   Checksums: the IPv4 header checksum, and for the first fragment the TCP
 *   and UDP checksums (pseudo-header), are updated incrementally (RFC 1624);
 *   a UDP checksum of 0 (none) stays 0, and a computed 0 is sent as 0xffff.
 *   ICMP checksums do not cover addresses, but ICMP errors (destination
 *   unreachable, source quench, redirect, time exceeded, parameter problem)
 *   quote the offending datagram: its header is translated the opposite way
 *   (egress: quoted source mapped_ip4 -> peer_ip4; ingress: quoted
 *   destination peer_ip4 -> mapped_ip4), with the quoted header checksum,
 *   the quoted UDP/TCP checksum if it lies inside the quote, and the ICMP
 *   checksum updated.  Not translated: addresses inside IP options (record
 *   route, source route), inside a redirect's gateway field, and inside
 *   application payloads (FTP, SIP).
 *
 * ---- ARP -----------------------------------------------------------------
 * The local host resolves a mapped address with ARP; tincan answers locally
 * with a MAC derived from the mapped address: 02:49:a.b.c.d (locally
 * administered, unicast, 'I' for IPOP, then mapped_ip4).  It is known before
 * any frame has crossed the link, stays stable across link restarts (the
 * host's neighbour cache stays valid), and cannot collide between two
 * mappings of one overlay.  Frames the host sends to it are found by their
 * IPv4 destination (addrmap_route), and frames from the peer carry it as
 * their source after addrmap_ingress, so the switch learns it too.
 *
 * ---- Neighbor Discovery ---------------------------------------------------
 * The local host resolves a mapped IPv6 address with a Neighbor
 * Solicitation (multicast, or unicast to check reachability); tincan
 * answers with a Neighbor Advertisement (solicited, override) whose target
 * link-layer address is the same derived MAC as for the link's IPv4
 * mapping (addrmap_nd_reply).  Duplicate address detection (source ::) is
 * not answered.  ND never crosses a mapped link: the peer's host resolves
 * its own mapped addresses through its own tincan.
 *
 * ---- Per-frame use --------------------------------------------------------
 *   From the TAP (after frame_parse):
 *     if addrmap_arp_reply() or addrmap_nd_reply() returns 1: write the
 *       reply to the TAP, done;
 *     if addrmap_route() finds a link: that link only;
 *     else switch_decide();
 *     for each chosen link: addrmap_egress(); send unless ADDRMAP_DROP.
 *     Egress rewrites only IP to the link's mapped address, and such a frame
 *     was already routed to that one link by addrmap_route(), so a flooded
 *     frame is never rewritten: one buffer serves every link of a flood.
 *   From a link (after frame_parse): addrmap_ingress(); unless ADDRMAP_DROP,
 *   switch_learn(fi.src) (fi.src points into the rewritten frame) and write
 *   the frame to the TAP.
 * After a rewrite the addresses in the frame_info are stale (its pointers
 * still show the new MACs); parse again if they are needed.
 *
 * Checksum offload: the TCP/UDP update assumes a complete checksum in the
 * frame.  A TAP opened with IFF_VNET_HDR may hand over frames flagged
 * VIRTIO_NET_HDR_F_NEEDS_CSUM whose checksum field holds only the
 * uncomplemented pseudo-header sum; on a mapped link, complete such a
 * checksum before addrmap_egress (or update it as ~frame_csum_update32(~c,
 * old, new)), and do not offload checksums of translated ingress frames.
 *
 * No allocation, no I/O; one struct addrmap per overlay, caller-allocated. */
#ifndef IPOP_TINCAN_ADDRMAP_H
#define IPOP_TINCAN_ADDRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "nd.h"

enum {
  /* Lookups are linear scans; plenty for a friend list. */
  ADDRMAP_MAX_ENTRIES = 256,
  ADDRMAP_ARP_REPLY_LEN = FRAME_ETH_HLEN + FRAME_ARP_IP4_LEN,   /* 42 (+4 if tagged) */
  ADDRMAP_ND_REPLY_LEN = ND_NA_FRAME_LEN, /* 86 (+4 if tagged) */
  ADDRMAP_REPLY_MAX = ADDRMAP_ND_REPLY_LEN + FRAME_VLAN_HLEN, /* either reply, tagged */
  ADDRMAP_MAC_PREFIX0 = 0x02,
  ADDRMAP_MAC_PREFIX1 = 0x49,
};

struct addrmap_entry {
  uint32_t link;
  uint32_t mapped_ip4;             /* network byte order */
  uint32_t peer_ip4;               /* network byte order */
  uint8_t mapped_mac[FRAME_ETH_ALEN];
  bool has_ip6;                    /* mapped_ip6 and peer_ip6 are set */
  uint8_t mapped_ip6[16];
  uint8_t peer_ip6[16];
};

struct addrmap_stats {
  uint64_t egress_rewritten, ingress_rewritten;
  uint64_t icmp_quotes_rewritten;
  uint64_t dropped_unmapped;       /* IP not to/from the mapped address */
  uint64_t dropped_arp;
  uint64_t dropped_nd;             /* Neighbor Discovery on a mapped link */
  uint64_t dropped_malformed;      /* L4 header cut short, routing header */
  uint64_t arp_replies, nd_replies;
};

struct addrmap {
  uint8_t local_mac[FRAME_ETH_ALEN];  /* the overlay's TAP MAC */
  uint32_t n;
  struct addrmap_entry entries[ADDRMAP_MAX_ENTRIES];
  struct addrmap_stats stats;
};

enum addrmap_verdict {
  ADDRMAP_PASS = 0,                /* unchanged (link not mapped, or not IPv4) */
  ADDRMAP_REWRITTEN = 1,           /* frame rewritten in place; send it */
  ADDRMAP_DROP = 2,
};

/* local_mac: the overlay's TAP MAC (destination of translated ingress
 * frames).  Returns 0 or IPOP_EINVAL. */
int addrmap_init(struct addrmap *m, const uint8_t local_mac[FRAME_ETH_ALEN]);

/* Map link (set_address_mapping).  Replaces the link's previous mapping.
 * Addresses in network byte order.  Returns 0, IPOP_EINVAL (0.0.0.0,
 * 255.255.255.255, multicast or class E address), IPOP_EEXIST (mapped_ip4
 * already used by another link) or IPOP_ENOMEM (table full). */
int addrmap_set(struct addrmap *m, uint32_t link, uint32_t mapped_ip4, uint32_t peer_ip4);
/* The link's IPv6 mapping, after addrmap_set (16-byte addresses; both
 * NULL removes it).  Returns 0, IPOP_ENOENT (no IPv4 mapping for the
 * link), IPOP_EINVAL (not a unicast address: ::, loopback, multicast,
 * link-local, IPv4-mapped; or only one given) or IPOP_EEXIST (mapped_ip6
 * used by another link). */
int addrmap_set6(struct addrmap *m, uint32_t link, const uint8_t *mapped_ip6,
                 const uint8_t *peer_ip6);
/* Returns 0 or IPOP_ENOENT. */
int addrmap_remove(struct addrmap *m, uint32_t link);
const struct addrmap_entry *addrmap_find_link(const struct addrmap *m, uint32_t link);
void addrmap_mac_for(uint32_t mapped_ip4, uint8_t mac[FRAME_ETH_ALEN]);

/* A frame received on e's link may carry this IP source: IPv4 from
 * peer_ip4; IPv6 from peer_ip6, or from a link-local or unspecified
 * address (not a claim; addrmap_ingress drops those frames).  Anything
 * else is a spoofed source. */
bool addrmap_source_ok(const struct addrmap_entry *e, const struct frame_info *fi);

/* For a frame from the TAP: 0 and *link if it is IP to a mapped address,
 * else IPOP_ENOENT (use the switch). */
int addrmap_route(const struct addrmap *m, const struct frame_info *fi, uint32_t *link);

/* Translate, in place, a frame from the TAP about to be sent on link (egress)
 * or a frame received on link (ingress); fi is frame_parse()'s result for
 * buf.  Returns an addrmap_verdict, or IPOP_EINVAL for bad arguments. */
int addrmap_egress(struct addrmap *m, uint32_t link, uint8_t *buf, const struct frame_info *fi);
int addrmap_ingress(struct addrmap *m, uint32_t link, uint8_t *buf, const struct frame_info *fi);

/* If fi is an ARP request from the TAP for a mapped address, build the reply
 * (for the TAP) in out and return 1 with *out_len set; return 0 if it is
 * not one; IPOP_ETOOBIG if cap < ADDRMAP_ARP_REPLY_LEN (+4 when the
 * request carries a VLAN tag, which the reply repeats).  Announcements
 * (sender address == target address) are not answered. */
int addrmap_arp_reply(struct addrmap *m, const struct frame_info *fi,
                      uint8_t *out, size_t cap, size_t *out_len);
/* The reply to the ARP request fi saying its target is at mac (also used
 * for GroupVPN members, fwd.h).  0, or IPOP_ETOOBIG as above. */
int addrmap_build_arp_reply(const struct frame_info *fi, const uint8_t mac[6], uint8_t *out,
                            size_t cap, size_t *out_len);

/* If fi is a Neighbor Solicitation from the TAP for a mapped IPv6
 * address, build the Neighbor Advertisement (for the TAP) in out and
 * return 1; 0 if it is not one; IPOP_ETOOBIG if cap < ADDRMAP_ND_REPLY_LEN
 * (+4 when tagged).  The solicitation must pass nd_ns_parse (RFC 4861
 * 7.1.1: hop limit 255, code 0, checksum, options); one from :: (duplicate
 * address detection) is not answered. */
int addrmap_nd_reply(struct addrmap *m, const struct frame_info *fi, uint8_t *out, size_t cap,
                     size_t *out_len);

#endif
