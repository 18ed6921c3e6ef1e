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
 *     everything else (IPv6, other ethertypes): passed unchanged.
 *   link -> TAP (addrmap_ingress):
 *     IPv4 from peer_ip4: source rewritten to mapped_ip4, Ethernet source
 *       set to the derived MAC of mapped_ip4 and Ethernet destination (if
 *       unicast) to the local TAP MAC; IPv4 from another source: dropped;
 *     ARP: dropped; everything else passed unchanged.
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
 * ---- Per-frame use --------------------------------------------------------
 *   From the TAP (after frame_parse):
 *     if addrmap_arp_reply() returns 1: write the reply to the TAP, done;
 *     if addrmap_route() finds a link: that link only;
 *     else switch_decide();
 *     for each chosen link: addrmap_egress(); send unless ADDRMAP_DROP.
 *     Egress rewrites only IPv4 to the link's mapped_ip4, and such a frame
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

enum {
  /* Lookups are linear scans; plenty for a friend list. */
  ADDRMAP_MAX_ENTRIES = 256,
  ADDRMAP_ARP_REPLY_LEN = FRAME_ETH_HLEN + FRAME_ARP_IP4_LEN,   /* 42 (+4 if tagged) */
  ADDRMAP_MAC_PREFIX0 = 0x02,
  ADDRMAP_MAC_PREFIX1 = 0x49,
};

struct addrmap_entry {
  uint32_t link;
  uint32_t mapped_ip4;             /* network byte order */
  uint32_t peer_ip4;               /* network byte order */
  uint8_t mapped_mac[FRAME_ETH_ALEN];
};

struct addrmap_stats {
  uint64_t egress_rewritten, ingress_rewritten;
  uint64_t icmp_quotes_rewritten;
  uint64_t dropped_unmapped;       /* IPv4 not to/from the mapped address */
  uint64_t dropped_arp;
  uint64_t dropped_malformed;      /* L4 header cut short */
  uint64_t arp_replies;
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
/* Returns 0 or IPOP_ENOENT. */
int addrmap_remove(struct addrmap *m, uint32_t link);
const struct addrmap_entry *addrmap_find_link(const struct addrmap *m, uint32_t link);
void addrmap_mac_for(uint32_t mapped_ip4, uint8_t mac[FRAME_ETH_ALEN]);

/* For a frame from the TAP: 0 and *link if it is IPv4 to a mapped address,
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

#endif
