/* addr6: an overlay's IPv6 addresses (dual stack).
 *
 * Every overlay has an IPv6 subnet next to its IPv4 one: configured
 * (Controller.Overlay.Subnet6) or, by default, a unique local prefix
 * (RFC 4193) derived from the overlay id, so that every node of one
 * overlay derives the same one without being told:
 *
 *   fd | first 40 bits of SHA-256("ipop-ula:" overlay_id) | subnet 0000 ::/64
 *
 * GroupVPN: each member's address is the subnet plus host bits from
 * SHA-256("ipop-groupaddr6:" node_id ":" attempt ":" i) (i counts past a
 * host part that is all zeros or all ones); conflicts are found and settled
 * as for IPv4 (groupaddr.h: the larger node id re-derives with the next
 * attempt).
 *
 * SocialVPN: a friend's local IPv6 address is our subnet with the friend's
 * local IPv4 address (addrpool.h) in its last 32 bits, and our own address
 * the subnet with our IPv4 address: the IPv4 assignment, persisted by the
 * pool, is the one state; the IPv6 address follows it.  Such a subnet must
 * leave 32 host bits (prefix at most /96). */
#ifndef IPOP_POLICY_ADDR6_H
#define IPOP_POLICY_ADDR6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  ADDR6_PREFIX_MIN = 48,           /* at most 80 host bits */
  ADDR6_PREFIX_MAX = 120,          /* at least 8 host bits */
  ADDR6_SOCIAL_PREFIX_MAX = 96,    /* an IPv4 address fits in the host bits */
  ADDR6_ULA_PREFIX = 64,
  ADDR6_TEXT_LEN = 64,             /* "address/prefix" as text, with NUL */
  ADDR6_MIN_MTU = 1280,            /* IPv6's minimum link MTU (RFC 8200): below
                                      it Linux disables IPv6 on the device */
};

struct addr6_subnet {
  struct in6_addr net;             /* host bits zero */
  uint32_t prefix;                 /* ADDR6_PREFIX_MIN..ADDR6_PREFIX_MAX */
};

/* A unicast address an overlay may use: not ::, ::1, multicast, link-local
 * (fe80::/10) or IPv4-mapped (::ffff:0:0/96). */
bool addr6_unicast(const struct in6_addr *a);

/* Parse "ADDRESS/PREFIX".  IPOP_EINVAL with why filled: bad syntax, prefix
 * out of ADDR6_PREFIX_MIN..ADDR6_PREFIX_MAX, host bits set, or not a
 * unicast prefix. */
int addr6_parse_subnet(const char *text, struct addr6_subnet *out, char *why, size_t whylen);
/* "ADDRESS/PREFIX" into buf (ADDR6_TEXT_LEN). */
const char *addr6_subnet_text(const struct addr6_subnet *s, char *buf, size_t len);

/* The default subnet of overlay_id (above).  IPOP_EINVAL for an empty id. */
int addr6_ula(const char *overlay_id, struct addr6_subnet *out);

/* True if a lies in s and its host part is neither all zeros (the subnet
 * router anycast address) nor all ones. */
bool addr6_usable(const struct addr6_subnet *s, const struct in6_addr *a);

/* GroupVPN: node_id's address in s for this attempt.  IPOP_EINVAL for a
 * bad node id or subnet. */
int addr6_derive(const struct addr6_subnet *s, const char *node_id, uint32_t attempt,
                 struct in6_addr *out);

/* True if a is node_id's address in s for one of the attempts 0..max_attempt:
 * an address derived from a node id belongs to that node. */
bool addr6_derived_from(const struct addr6_subnet *s, const char *node_id, uint32_t max_attempt,
                        const struct in6_addr *a);

/* SocialVPN: s with a4 in the last 32 bits.  IPOP_EINVAL if s leaves fewer
 * than 32 host bits. */
int addr6_embed4(const struct addr6_subnet *s, struct in_addr a4, struct in6_addr *out);

#endif
