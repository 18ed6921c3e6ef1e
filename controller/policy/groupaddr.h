/* groupaddr (GroupVPN): every member's address in the group's one subnet.
 *
 * A node uses the address from its config, or derives one from its node id:
 * SHA-256("ipop-groupaddr:" node_id ":" attempt) taken modulo the host
 * range, skipping the network and broadcast addresses and any reserved
 * address (linear probe upwards).  attempt 0 is the normal case; a node that
 * lost a conflict re-derives with attempt 1, 2, ...
 *
 * Conflict detection: the caller collects the (node id, address) claims it
 * knows (its own and those peers announced) and asks which addresses are
 * claimed by more than one node, so every side involved can be told. */
#ifndef IPOP_POLICY_GROUPADDR_H
#define IPOP_POLICY_GROUPADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeid.h"

enum { GROUPADDR_PREFIX_MIN = 8, GROUPADDR_PREFIX_MAX = 30 };

struct groupaddr_subnet {
  struct in_addr net;               /* host bits zero */
  uint32_t prefix;                  /* 8..30 */
  const struct in_addr *reserved;   /* never derived (e.g. a gateway); may be NULL */
  size_t n_reserved;
};

/* IPOP_EINVAL if the prefix is out of range or host bits are set. */
int groupaddr_subnet_check(const struct groupaddr_subnet *s);

/* True if a is a host address of s (not network, broadcast or reserved). */
bool groupaddr_usable(const struct groupaddr_subnet *s, struct in_addr a);

/* Derive node_id's address.  IPOP_EINVAL for a bad id or subnet,
 * IPOP_EBUSY if every host address is reserved. */
int groupaddr_derive(const struct groupaddr_subnet *s, const char *node_id, uint32_t attempt,
                     struct in_addr *out);

/* A claim is of one family: addr (IPv4, addr6 left ::) or addr6 (IPv6,
 * addr left 0.0.0.0); claims conflict when both fields are equal. */
struct groupaddr_claim {
  char node_id[NODEID_BUF];
  struct in_addr addr;
  struct in6_addr addr6;
};

/* One address claimed by two nodes.  With k claimants, k-1 conflicts are
 * reported, each pairing the smallest node id (node_a) with another (node_b). */
struct groupaddr_conflict {
  struct in_addr addr;
  struct in6_addr addr6;
  char node_a[NODEID_BUF];
  char node_b[NODEID_BUF];
};

/* Fill out[0..max) with conflicts, ordered by address then node_b; returns
 * the total number found (may exceed max) or IPOP_E*.  A node id claiming two
 * addresses keeps its last claim (an announcement replaces the previous). */
/* The TAP MAC of node_id on a GroupVPN overlay: 02 and the first 5 bytes
 * of SHA-256("ipop-groupmac:" overlay_id ":" node_id).  Every member
 * computes every other's, so a forwarding table names members it has no
 * link to (docs/topology.md "Forwarding").  IPOP_EINVAL for a bad id. */
int groupaddr_mac(const char *overlay_id, const char *node_id, uint8_t mac[6]);

int groupaddr_find_conflicts(const struct groupaddr_claim *claims, size_t n,
                             struct groupaddr_conflict *out, size_t max);

/* The rule both sides apply: in a conflict the node with the larger id
 * yields (re-derives with the next attempt, or reports a configuration
 * error if its address is configured). */
bool groupaddr_conflict_loser(const struct groupaddr_conflict *c, const char *node_id);

#endif
