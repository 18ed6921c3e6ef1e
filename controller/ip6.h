/* Dual stack: an overlay's IPv6 subnet and our address in it (addr6.h),
 * and the caps text that announces both of our addresses. */
#ifndef IPOP_CONTROLLER_IP6_H
#define IPOP_CONTROLLER_IP6_H

#include "controller.h"

/* n's IPv6 subnet (the configured overlay: Subnet6 or the ULA of its id,
 * none for "none"; a group over a room: the ULA of its id) and, in a
 * group, our address in it (Address6, or derived from our node id).  A
 * SocialVPN net's own address follows its IPv4 one (ctrl_ip6_embed).
 * Call before the net's address policy.  IPOP_E* with why. */
int ctrl_ip6_init(struct ctrl_net *n, char *why, size_t whylen);

/* SocialVPN: a4 in n's IPv6 subnet (false if n has no IPv6). */
bool ctrl_ip6_embed(const struct ctrl_net *n, struct in_addr a4, struct in6_addr *out);

/* GroupVPN: derive our IPv6 address again with the next attempt (we lost a
 * conflict).  False if it is configured or cannot be derived. */
bool ctrl_ip6_rederive(struct ctrl_net *n);

/* The peer of l announces a (caps or link parameters; NULL: nothing):
 * l's IPv6 address unless that claim was refused (group.c). */
void ctrl_ip6_peer_claims(struct ctrl_link *l, const struct in6_addr *a);

/* "ip4=A.B.C.D ip6=X" (ip6 only with IPv6) for the configured overlay n,
 * "" without one. */
void ctrl_caps_text(const struct ctrl_net *n, char *buf, size_t len);

#endif
