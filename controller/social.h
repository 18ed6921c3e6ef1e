/* SocialVPN: every friend node appears at an address of our own subnet
 * (addrpool, stable across restarts); tincan maps it to the address the
 * friend uses on its own TAP; a hosts file names the friends. */
#ifndef IPOP_CONTROLLER_SOCIAL_H
#define IPOP_CONTROLLER_SOCIAL_H

#include "controller.h"

int ctrl_social_init(struct ctrl_net *n, const struct in_addr *addr, char *why, size_t whylen);
/* Before create_link: the friend's address in our subnet, the mapping in
 * tincan, the hosts file.  node is the peer node (registry); peer_ip6 the
 * IPv6 address it announced (NULL: none, the link carries no IPv6). */
void ctrl_social_on_create_link(struct ctrl_net *n, const struct reg_node *node,
                                struct ctrl_link *l, struct in_addr peer_ip4,
                                const struct in6_addr *peer_ip6);
const char *ctrl_hosts_path(const struct ctrl *c, char *buf, size_t len);

#endif
