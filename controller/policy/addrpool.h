/* addrpool (SocialVPN): the local virtual IPv4 address of each friend node.
 *
 * Every user sees friends at addresses of their own subnet (say
 * 172.31.0.0/24, the local TAP at .1): each friend node gets the first free
 * host address, keeps it across restarts (StateDir/addrpool.json, replaced
 * atomically on every change) and loses it only by addrpool_release().  The
 * controller tells tincan with set_address_mapping{peer, mapped_ip4 =
 * this address, peer_ip4 = the address the friend announced}.
 *
 * addrpool_write_hosts() writes a hosts(5) file (address, then the friend's
 * JID or configured name) for a resolver such as dnsmasq --addn-hosts. */
#ifndef IPOP_POLICY_ADDRPOOL_H
#define IPOP_POLICY_ADDRPOOL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "addr6.h"
#include "nodeid.h"
#include "policy.h"

enum {
  ADDRPOOL_NAME_LEN = 256,       /* friend name (JID or configured), bytes */
  ADDRPOOL_PREFIX_MIN = 16,      /* at most 65534 addresses */
  ADDRPOOL_PREFIX_MAX = 30,
  ADDRPOOL_FILE_MAX = 16 << 20,  /* state file size limit */
};

#define ADDRPOOL_FILE "addrpool.json"

struct addrpool_config {
  struct in_addr net;            /* subnet; host bits must be zero */
  uint32_t prefix;               /* 16..30 */
  struct in_addr local;          /* our own address; 0.0.0.0 = first host */
  char path[4096];               /* state file; "" = not persisted */
  struct addr6_subnet net6;      /* dual stack: each address also as IPv6 */
  bool has_net6;                 /* (addr6_embed4) in the hosts file */
};

struct addrpool_entry {
  char node_id[NODEID_BUF];
  char name[ADDRPOOL_NAME_LEN];  /* "" if none */
  struct in_addr addr;
};

struct addrpool;

/* Check cfg and load the state file if it exists.  A state file that is
 * malformed, holds addresses outside the subnet (or the network, broadcast
 * or local address), duplicates, or was written for another subnet is an
 * error naming the entry: IPOP_EPARSE / IPOP_EFIELD / IPOP_ESTATE. */
int addrpool_open(struct addrpool **out, const struct addrpool_config *cfg, char *why,
                  size_t whylen);
void addrpool_free(struct addrpool *p);

/* Our own address (cfg.local or the first host). */
struct in_addr addrpool_local(const struct addrpool *p);

/* The address of node_id: its existing one, else the lowest free one,
 * persisted before returning.  name (may be NULL) updates the entry's name
 * (persisted if it changed).  IPOP_EBUSY when the subnet is exhausted,
 * IPOP_EINVAL for a bad node id or a name with characters hosts(5) cannot
 * hold (whitespace, control characters, '#'). */
int addrpool_assign(struct addrpool *p, const char *node_id, const char *name,
                    struct in_addr *out, char *why, size_t whylen);

/* IPOP_ENOENT if node_id has no address. */
int addrpool_lookup(const struct addrpool *p, const char *node_id, struct in_addr *out);

/* Give the address back (friend removed for good).  IPOP_ENOENT if none. */
int addrpool_release(struct addrpool *p, const char *node_id, char *why, size_t whylen);

size_t addrpool_count(const struct addrpool *p);
/* Entries sorted by address; valid until the next change. */
const struct addrpool_entry *addrpool_entries(const struct addrpool *p, size_t *n);
/* Addresses the subnet offers to friends (without network, broadcast, local). */
size_t addrpool_capacity(const struct addrpool *p);

/* Render the hosts file text: a comment line, then "address<TAB>name" for
 * every entry (the node id stands in for a missing name), and with net6
 * a second line with its IPv6 address.  Heap string. */
int addrpool_hosts_text(const struct addrpool *p, char **text);
/* Write it to path atomically (mode 0644). */
int addrpool_write_hosts(const struct addrpool *p, const char *path, char *why,
                         size_t whylen);

#endif
