#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "error.h"
#include "tunopen.h"

#define WHY(...) do { snprintf(why, whylen, __VA_ARGS__); } while (0)

static int set_ip4(int s, const char *name, const struct in_addr *a, uint32_t prefix)
{
  struct ifreq ifr;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  sin->sin_family = AF_INET;
  sin->sin_addr = *a;
  if (ioctl(s, SIOCSIFADDR, &ifr) != 0)
    return -1;
  sin->sin_addr.s_addr = prefix ? htonl(~0u << (32 - prefix)) : 0;
  return ioctl(s, SIOCSIFNETMASK, &ifr);
}

static int set_ip6(const char *name, unsigned ifindex, const struct in6_addr *a,
                   uint32_t prefix)
{
  int s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0)
    return -1;
  struct in6_ifreq r;
  memset(&r, 0, sizeof r);
  r.ifr6_addr = *a;
  r.ifr6_prefixlen = prefix;
  r.ifr6_ifindex = (int)ifindex;
  int rc = ioctl(s, SIOCSIFADDR, &r);
  int e = errno;
  close(s);
  errno = e;
  (void)name;
  return rc;
}

/* A new descriptor of /dev/net/tun: our own open where the device lets
 * Tincan.User open it (mode 0666, the usual default), else from the root
 * opener forked before the privilege drop (tunopen.h). */
static int tun_fd(char *why, size_t whylen)
{
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0)
    return fd;
  int e = errno;
  if ((e == EACCES || e == EPERM) && tc_tunopen_pid() > 0)
    return tc_tunopen_get(why, whylen);
  WHY("open /dev/net/tun: %s%s", strerror(e),
      e == EACCES ? " (tincan was not started as root, so it has no root opener: give "
                    "Tincan.User access to the device, or start tincan as root)" : "");
  return IPOP_ESYS;
}

int tc_tap_open(const struct tc_tap_config *c, char *why, size_t whylen)
{
  int s = -1, fd = tun_fd(why, whylen);
  if (fd < 0)
    return fd;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c->name);
  /* Every read/write carries a virtio-net header, so that offloads can be
   * switched on (tc_tap_set_offload) without changing the framing.
   * IFF_TUN_EXCL: create a new device or fail; never attach to one that
   * exists (a persistent TAP of another user, or anyone's interface). */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_TUN_EXCL;
  if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    if (e == EBUSY)
      WHY("tap_name: a network device named %s exists already; tincan uses only TAP "
          "devices it creates itself (remove it, or choose another tap_name)", c->name);
    else
      WHY("tap_name: cannot create TAP %s: %s", c->name, strerror(e));
    close(fd);
    /* Not IPOP_EEXIST: that means "this overlay exists" to the controller. */
    return e == EBUSY ? IPOP_EFIELD : e == EPERM ? IPOP_EPERM : IPOP_ESYS;
  }
  s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    WHY("socket: %s", strerror(errno));
    goto fail;
  }
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c->name);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, c->mac, 6);
  if (ioctl(s, SIOCSIFHWADDR, &ifr) != 0) {
    WHY("mac: cannot set on %s: %s", c->name, strerror(errno));
    goto fail;
  }
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c->name);
  ifr.ifr_mtu = (int)c->mtu;
  if (ioctl(s, SIOCSIFMTU, &ifr) != 0) {
    WHY("mtu: cannot set %u on %s: %s", c->mtu, c->name, strerror(errno));
    goto fail;
  }
  if (c->ip4 && set_ip4(s, c->name, c->ip4, c->ip4_prefix) != 0) {
    WHY("ip4: cannot set on %s: %s", c->name, strerror(errno));
    goto fail;
  }
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c->name);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) {
    WHY("cannot read flags of %s: %s", c->name, strerror(errno));
    goto fail;
  }
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
    WHY("cannot bring %s up: %s", c->name, strerror(errno));
    goto fail;
  }
  /* IPv6 addresses need the interface up (and IPv6 enabled on it). */
  if (c->ip6) {
    unsigned idx = if_nametoindex(c->name);
    if (!idx || set_ip6(c->name, idx, c->ip6, c->ip6_prefix) != 0) {
      WHY("ip6: cannot set on %s: %s", c->name, strerror(errno));
      goto fail;
    }
  }
  close(s);
  return fd;
fail:
  if (s >= 0)
    close(s);
  close(fd);
  return IPOP_ESYS;
}

int tc_tap_set_offload(int fd, bool on)
{
  unsigned long f = on ? TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN : 0;
  return ioctl(fd, TUNSETOFFLOAD, f) == 0 ? 0 : IPOP_ESYS;
}

void tc_tap_close(int fd)
{
  if (fd >= 0)
    close(fd);
}
