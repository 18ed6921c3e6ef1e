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

/* /dev/net/tun may be root-only (mode 0600).  Before dropping root, open
 * n spare, unattached fds; after the drop, tc_tap_open() first tries to open
 * the device itself and falls back to a spare one, which CAP_NET_ADMIN can
 * then attach to a new TAP.  Spares are used up: with a 0600 device, at most
 * n overlays can be created in the life of the process. */
int tc_tap_pool_fill(unsigned n);
unsigned tc_tap_pool_left(void);

/* Returns the fd (>= 0) or a negative IPOP_E* with a sentence in why. */
int tc_tap_open(const struct tc_tap_config *c, char *why, size_t whylen);
/* Checksum offload and TSO (IPv4/IPv6) on or off: with them on, reads give
 * 64 KiB TCP super-frames with a partial checksum, which the link carries
 * whole to the peer's TAP (dataplane.h). */
int tc_tap_set_offload(int fd, bool on);
void tc_tap_close(int fd);

#endif
