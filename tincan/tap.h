/* TAP devices: create (IFF_TAP | IFF_NO_PI, non-blocking), configure MAC,
 * MTU, IPv4 and IPv6 addresses and bring up, all by ioctl.  The device is
 * not persistent: closing the fd removes it. */
#ifndef IPOP_TINCAN_TAP_H
#define IPOP_TINCAN_TAP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct tc_tap_config {
  const char *name;
  const uint8_t *mac;            /* 6 bytes */
  uint32_t mtu;
  const struct in_addr *ip4;     /* NULL: none */
  uint32_t ip4_prefix;
  const struct in6_addr *ip6;    /* NULL: none */
  uint32_t ip6_prefix;
};

/* Returns the fd (>= 0) or a negative IPOP_E* with a sentence in why. */
int tc_tap_open(const struct tc_tap_config *c, char *why, size_t whylen);
void tc_tap_close(int fd);

#endif
