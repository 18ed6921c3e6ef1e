/* TAP devices: create (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, non-blocking), configure MAC,
 * MTU, IPv4 and IPv6 addresses and bring up, all by ioctl.  The device is
 * always new (IFF_TUN_EXCL: an existing device of that name is refused,
 * never reused) and not persistent: closing the fd removes it. */
#ifndef IPOP_TINCAN_TAP_H
#define IPOP_TINCAN_TAP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdbool.h>
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

/* Returns the fd (>= 0) or a negative IPOP_E* with a sentence in why.  The
 * /dev/net/tun descriptor comes from tincan's own open, or from the root
 * opener (tunopen.h) where the device is root-only. */
int tc_tap_open(const struct tc_tap_config *c, char *why, size_t whylen);
/* Checksum offload and TSO (IPv4/IPv6) on or off: with them on, reads give
 * 64 KiB TCP super-frames with a partial checksum, which the link carries
 * whole to the peer's TAP (dataplane.h). */
int tc_tap_set_offload(int fd, bool on);
void tc_tap_close(int fd);

#endif
