#include "addr6.h"

#include <arpa/inet.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "nodeid.h"

bool addr6_unicast(const struct in6_addr *a)
{
  return !IN6_IS_ADDR_UNSPECIFIED(a) && !IN6_IS_ADDR_LOOPBACK(a) && !IN6_IS_ADDR_MULTICAST(a) &&
         !IN6_IS_ADDR_LINKLOCAL(a) && !IN6_IS_ADDR_V4MAPPED(a);
}

/* Byte i of the host mask of a /prefix: the bits a host part may use. */
static uint8_t host_mask(uint32_t prefix, int i)
{
  int bits = (int)prefix - 8 * i; /* network bits left in this byte */
  return bits >= 8 ? 0 : bits <= 0 ? 0xff : (uint8_t)(0xff >> bits);
}

static bool subnet_ok(const struct addr6_subnet *s)
{
  if (s->prefix < ADDR6_PREFIX_MIN || s->prefix > ADDR6_PREFIX_MAX || !addr6_unicast(&s->net))
    return false;
  for (int i = 0; i < 16; i++)
    if (s->net.s6_addr[i] & host_mask(s->prefix, i))
      return false;
  return true;
}

int addr6_parse_subnet(const char *text, struct addr6_subnet *out, char *why, size_t whylen)
{
  char buf[ADDR6_TEXT_LEN];
  const char *slash = text ? strchr(text, '/') : NULL;
  if (!slash || (size_t)(slash - text) >= sizeof buf) {
    snprintf(why, whylen, "expected \"ADDRESS/PREFIX\" (e.g. \"fd00:1:2::/64\")");
    return IPOP_EINVAL;
  }
  memcpy(buf, text, (size_t)(slash - text));
  buf[slash - text] = '\0';
  char *end = NULL;
  unsigned long p = strtoul(slash + 1, &end, 10);
  if (inet_pton(AF_INET6, buf, &out->net) != 1 || slash[1] < '0' || slash[1] > '9' || *end) {
    snprintf(why, whylen, "expected \"ADDRESS/PREFIX\" (e.g. \"fd00:1:2::/64\")");
    return IPOP_EINVAL;
  }
  if (p < ADDR6_PREFIX_MIN || p > ADDR6_PREFIX_MAX) {
    snprintf(why, whylen, "prefix /%lu out of range (/%d../%d)", p, ADDR6_PREFIX_MIN,
             ADDR6_PREFIX_MAX);
    return IPOP_EINVAL;
  }
  out->prefix = (uint32_t)p;
  if (!addr6_unicast(&out->net)) {
    snprintf(why, whylen, "not a unicast prefix (multicast, link-local, loopback, "
                          "IPv4-mapped and :: are refused; a ULA fd00::/8 is usual)");
    return IPOP_EINVAL;
  }
  if (!subnet_ok(out)) {
    snprintf(why, whylen, "host bits set (the address must end where the prefix ends)");
    return IPOP_EINVAL;
  }
  return 0;
}

const char *addr6_subnet_text(const struct addr6_subnet *s, char *buf, size_t len)
{
  char a[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &s->net, a, sizeof a);
  snprintf(buf, len, "%s/%u", a, s->prefix);
  return buf;
}

int addr6_ula(const char *overlay_id, struct addr6_subnet *out)
{
  if (!overlay_id || !overlay_id[0])
    return IPOP_EINVAL;
  char text[128];
  int len = snprintf(text, sizeof text, "ipop-ula:%s", overlay_id);
  if (len < 0 || (size_t)len >= sizeof text)
    return IPOP_EINVAL;
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)text, (size_t)len, md);
  memset(out, 0, sizeof *out);
  out->net.s6_addr[0] = 0xfd;
  memcpy(out->net.s6_addr + 1, md, 5); /* global id: 40 bits; subnet id 0 */
  out->prefix = ADDR6_ULA_PREFIX;
  return 0;
}

/* Host part all zeros or all ones? */
static bool host_extreme(const struct addr6_subnet *s, const struct in6_addr *a, bool ones)
{
  for (int i = 0; i < 16; i++) {
    uint8_t m = host_mask(s->prefix, i);
    if ((a->s6_addr[i] & m) != (ones ? m : 0))
      return false;
  }
  return true;
}

bool addr6_usable(const struct addr6_subnet *s, const struct in6_addr *a)
{
  if (!subnet_ok(s))
    return false;
  for (int i = 0; i < 16; i++)
    if ((a->s6_addr[i] & ~host_mask(s->prefix, i) & 0xff) != s->net.s6_addr[i])
      return false;
  return !host_extreme(s, a, false) && !host_extreme(s, a, true);
}

int addr6_derive(const struct addr6_subnet *s, const char *node_id, uint32_t attempt,
                 struct in6_addr *out)
{
  if (!subnet_ok(s) || !nodeid_valid(node_id))
    return IPOP_EINVAL;
  /* With 8 or more host bits at most 2 of 256 values are unusable, so
   * this ends after a few rounds (1000 is far beyond any real need). */
  for (uint32_t i = 0; i < 1000; i++) {
    char text[96];
    int len = snprintf(text, sizeof text, "ipop-groupaddr6:%s:%u:%u", node_id, attempt, i);
    uint8_t md[SHA256_DIGEST_LENGTH];
    SHA256((const uint8_t *)text, (size_t)len, md);
    struct in6_addr a = s->net;
    for (int b = 0; b < 16; b++)
      a.s6_addr[b] |= md[b] & host_mask(s->prefix, b);
    if (addr6_usable(s, &a)) {
      *out = a;
      return 0;
    }
  }
  return IPOP_EBUSY;
}

bool addr6_derived_from(const struct addr6_subnet *s, const char *node_id, uint32_t max_attempt,
                        const struct in6_addr *a)
{
  struct in6_addr d;
  for (uint32_t i = 0; i <= max_attempt; i++)
    if (addr6_derive(s, node_id, i, &d) == 0 && memcmp(&d, a, sizeof d) == 0)
      return true;
  return false;
}

int addr6_embed4(const struct addr6_subnet *s, struct in_addr a4, struct in6_addr *out)
{
  if (!subnet_ok(s) || s->prefix > ADDR6_SOCIAL_PREFIX_MAX)
    return IPOP_EINVAL;
  *out = s->net;
  memcpy(out->s6_addr + 12, &a4.s_addr, 4);
  return 0;
}
