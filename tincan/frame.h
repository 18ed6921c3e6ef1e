/* Bounds-checked parsing of the Ethernet frames tincan moves between its TAP
 * device and its links, and the Internet checksum helpers the SocialVPN
 * address mapping needs.
 *
 * Pure functions: no I/O, no allocation, no global state.  frame_parse()
 * checks every length it relies on before reading the bytes behind it and
 * fills a struct frame_info whose pointers point into the caller's buffer;
 * the buffer must outlive the frame_info (and an in-place rewrite of the
 * buffer shows through those pointers).
 *
 * Byte order: multi-byte header fields are converted to host order, except
 * IPv4 addresses, which stay in network order (the s_addr of a struct
 * in_addr) so they compare directly against the control protocol's
 * addresses.  Checksums are host-order 16-bit values: read and write them
 * with frame_get16()/frame_put16(). */
#ifndef IPOP_TINCAN_FRAME_H
#define IPOP_TINCAN_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  FRAME_ETH_ALEN = 6,
  FRAME_ETH_HLEN = 14,             /* dst, src, ethertype */
  FRAME_VLAN_HLEN = 4,             /* one 802.1Q / 802.1ad tag */
  FRAME_IP4_MIN_HLEN = 20,
  FRAME_IP6_HLEN = 40,
  FRAME_ARP_IP4_LEN = 28,          /* ARP for IPv4 over Ethernet */
  /* Largest frame accepted: a 65535-byte IPv4 datagram plus Ethernet and
   * one VLAN tag (TAP offloads can hand over such super-frames).  The
   * daemon enforces its own, smaller, MTU on top of this. */
  FRAME_MAX_LEN = 65535 + FRAME_ETH_HLEN + FRAME_VLAN_HLEN,
};

enum {
  FRAME_ETHERTYPE_IP4 = 0x0800,
  FRAME_ETHERTYPE_ARP = 0x0806,
  FRAME_ETHERTYPE_VLAN = 0x8100,   /* 802.1Q */
  FRAME_ETHERTYPE_QINQ = 0x88a8,   /* 802.1ad, treated like 802.1Q */
  FRAME_ETHERTYPE_IP6 = 0x86dd,
};

enum { FRAME_IPPROTO_ICMP = 1, FRAME_IPPROTO_TCP = 6, FRAME_IPPROTO_UDP = 17, FRAME_IPPROTO_ICMP6 = 58 };
enum { FRAME_ARP_REQUEST = 1, FRAME_ARP_REPLY = 2 };

enum frame_cast {
  FRAME_UNICAST,
  FRAME_BROADCAST,                 /* ff:ff:ff:ff:ff:ff */
  FRAME_MULTICAST,                 /* group bit set, not broadcast */
};

enum frame_l3 {
  FRAME_L3_OTHER,                  /* not parsed (forwarded as plain L2) */
  FRAME_L3_IP4,
  FRAME_L3_ARP,                    /* only ARP for IPv4 over Ethernet */
  FRAME_L3_IP6,
};

struct frame_ip4 {
  uint8_t hlen;                    /* header bytes (IHL * 4), 20..60 */
  uint8_t tos, ttl, proto;
  uint16_t tot_len;                /* header + payload; <= bytes present */
  uint16_t id;
  uint16_t frag_off;               /* in 8-byte units */
  bool df, mf;
  uint32_t src, dst;               /* network byte order */
  size_t l4_off;                   /* frame offset of the payload */
  size_t l4_len;                   /* payload bytes (tot_len - hlen) */
};

struct frame_arp {
  uint16_t op;                     /* FRAME_ARP_REQUEST or FRAME_ARP_REPLY */
  const uint8_t *sha, *tha;        /* 6 bytes each, into the frame */
  uint32_t spa, tpa;               /* network byte order */
};

struct frame_ip6 {
  uint8_t next_hdr, hop_limit;
  uint16_t payload_len;            /* <= bytes present after the header */
  const uint8_t *src, *dst;        /* 16 bytes each, into the frame */
  bool dst_multicast;              /* ff00::/8 */
  uint8_t nd_type;                 /* 133..137 if the payload is directly an
                                      ICMPv6 Neighbor Discovery message, else 0 */
  size_t l4_off;
};

struct frame_info {
  const uint8_t *dst, *src;        /* 6 bytes each, into the frame */
  size_t len;                      /* whole frame */
  uint16_t ethertype;              /* after the VLAN tag, if any */
  bool has_vlan;
  uint16_t vlan_tci;
  enum frame_cast cast;            /* from the destination MAC */
  enum frame_l3 l3;
  size_t l3_off;                   /* offset of the L3 header */
  size_t l3_len;                   /* bytes from l3_off to the end of the frame
                                      (may exceed the datagram: padding) */
  union {                          /* valid member chosen by l3 */
    struct frame_ip4 ip4;
    struct frame_arp arp;
    struct frame_ip6 ip6;
  };
};

/* Parse the frame buf[0..len).  Returns 0 and fills *fi, or
 *   IPOP_ETOOBIG  len > FRAME_MAX_LEN,
 *   IPOP_EINVAL   shorter than its headers say, or a malformed IPv4, IPv6 or
 *                 ARP header (wrong version, IHL < 5, total length beyond
 *                 the frame or below the header, fragment past 65535, ...).
 * Frames of other ethertypes, 802.3 length-field frames and ARP for other
 * protocols parse as FRAME_L3_OTHER.  On error *fi is zeroed.  The daemon
 * drops and counts frames that fail. */
int frame_parse(struct frame_info *fi, const uint8_t *buf, size_t len);

enum frame_cast frame_mac_cast(const uint8_t mac[FRAME_ETH_ALEN]);
bool frame_mac_is_zero(const uint8_t mac[FRAME_ETH_ALEN]);
/* Unicast and not 00:00:00:00:00:00: a MAC a switch may learn. */
bool frame_mac_is_learnable(const uint8_t mac[FRAME_ETH_ALEN]);

/* True if the IPv4 header checksum of a parsed FRAME_L3_IP4 frame is valid. */
bool frame_ip4_hdr_csum_ok(const struct frame_info *fi, const uint8_t *buf);
/* Recompute and store the IPv4 header checksum of a parsed frame. */
void frame_ip4_hdr_csum_set(const struct frame_info *fi, uint8_t *buf);
/* Verify the TCP/UDP/ICMP checksum of an unfragmented IPv4 frame
 * (pseudo-header included for TCP and UDP): returns 0 if the stored
 * checksum is right, another value 1..0xffff if not (a UDP checksum of 0,
 * "none", is not special-cased), and -1 if the frame is not unfragmented
 * IPv4 TCP/UDP/ICMP.  For tests, fuzzing and debugging; the data path does
 * not verify checksums (the receiving kernel does). */
int frame_ip4_l4_csum_verify(const struct frame_info *fi, const uint8_t *buf);

/* ---- Internet checksum (RFC 1071) and incremental update (RFC 1624) ----
 * frame_csum_partial() adds data as big-endian 16-bit words to sum and
 * returns the new (unfolded) sum; only the last piece of a chained sum may
 * have an odd length.  frame_csum_finish() folds and complements. */
uint32_t frame_csum_partial(const void *data, size_t len, uint32_t sum);
uint16_t frame_csum_fold(uint32_t sum);         /* 16-bit one's complement sum */
uint16_t frame_csum_finish(uint32_t sum);       /* ~fold(sum) */
uint16_t frame_csum(const void *data, size_t len);

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').  csum is the stored checksum,
 * old/new the 16-bit one's complement sums of the bytes that changed (for a
 * single word, the word itself).  The changed bytes must start at an even
 * offset from the start of the checksummed data. */
uint16_t frame_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word);
/* Same for a 32-bit field such as an IPv4 address (network byte order). */
uint16_t frame_csum_update32(uint16_t csum, uint32_t old_be, uint32_t new_be);

/* The Ethernet header of a frame answering fi (an ARP reply, a Neighbor
 * Advertisement) from src to dst, with fi's VLAN tag (and tag type) if it
 * has one; returns where the payload goes.  out may be fi's own buffer. */
uint8_t *frame_put_eth(uint8_t *out, const uint8_t dst[FRAME_ETH_ALEN],
                       const uint8_t src[FRAME_ETH_ALEN], const struct frame_info *fi,
                       uint16_t ethertype);

static inline uint16_t frame_get16(const uint8_t *p)
{
  return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline void frame_put16(uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

#endif
