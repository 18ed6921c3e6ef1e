/* Neighbor Solicitations checked, Neighbor Advertisements built (nd.h). */
#include "nd.h"

#include <string.h>

#include "error.h"

enum { IP6_SRC = 8, IP6_DST = 24, ICMP_CSUM = 2 };

void nd_solicited_node(const uint8_t a[16], uint8_t out[16])
{
  static const uint8_t base[13] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
  memcpy(out, base, sizeof base);
  memcpy(out + 13, a + 13, 3);
}

/* The ICMPv6 checksum over the pseudo-header (source, destination,
 * upper-layer length, next header) and the message: 0xffff if right. */
static uint16_t icmp6_sum(const uint8_t *ip, const uint8_t *icmp, size_t len)
{
  uint8_t tail[8] = { 0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, FRAME_IPPROTO_ICMP6 };
  uint32_t sum = frame_csum_partial(ip + IP6_SRC, 32, 0);
  sum = frame_csum_partial(tail, sizeof tail, sum);
  return frame_csum_fold(frame_csum_partial(icmp, len, sum));
}

/* The options behind the target: each at least 8 bytes, inside the
 * message; a source link-layer address is one Ethernet address. */
static int ns_options(const uint8_t *opt, size_t len, struct nd_ns *ns)
{
  while (len > 0) {
    if (len < 2 || opt[1] == 0 || (size_t)opt[1] * 8 > len)
      return ND_NS_BAD_OPTION;
    size_t olen = (size_t)opt[1] * 8;
    if (opt[0] == ND_OPT_SLLA) {
      if (olen != 8 || ns->slla)
        return ND_NS_BAD_OPTION;
      ns->slla = opt + 2;
    }
    opt += olen;
    len -= olen;
  }
  return ND_NS_OK;
}

int nd_ns_parse(const struct frame_info *fi, struct nd_ns *ns)
{
  static const uint8_t zero[16];
  memset(ns, 0, sizeof *ns);
  if (fi->l3 != FRAME_L3_IP6 || fi->ip6.nd_type != ND_NS)
    return ND_NS_NONE;
  const uint8_t *ip = fi->dst + fi->l3_off, *m = fi->dst + fi->ip6.l4_off;
  size_t len = fi->ip6.payload_len;
  if (fi->ip6.hop_limit != 255)
    return ND_NS_BAD_HOP_LIMIT;
  if (len < ND_NS_LEN)
    return ND_NS_SHORT;
  if (m[1] != 0)
    return ND_NS_BAD_CODE;
  if (icmp6_sum(ip, m, len) != 0xffff)
    return ND_NS_BAD_CSUM;
  const uint8_t *t = m + 8;
  if (t[0] == 0xff || memcmp(t, zero, 16) == 0 || (memcmp(t, zero, 15) == 0 && t[15] == 1))
    return ND_NS_BAD_TARGET;
  int rc = ns_options(m + ND_NS_LEN, len - ND_NS_LEN, ns);
  if (rc != ND_NS_OK)
    return rc;
  uint8_t sn[16];
  nd_solicited_node(t, sn);
  if (fi->ip6.dst_multicast && memcmp(fi->ip6.dst, sn, 16) != 0)
    return ND_NS_BAD_DST;
  ns->dad = memcmp(fi->ip6.src, zero, 16) == 0;
  if (ns->dad && (!fi->ip6.dst_multicast || ns->slla))
    return ND_NS_BAD_DAD;
  ns->target = t;
  return ND_NS_OK;
}

const char *nd_ns_status_name(int status)
{
  switch (status) {
  case ND_NS_OK: return "ok";
  case ND_NS_NONE: return "not a solicitation";
  case ND_NS_BAD_HOP_LIMIT: return "hop limit not 255";
  case ND_NS_BAD_CODE: return "code not 0";
  case ND_NS_SHORT: return "shorter than 24 bytes";
  case ND_NS_BAD_CSUM: return "checksum";
  case ND_NS_BAD_TARGET: return "target not unicast";
  case ND_NS_BAD_OPTION: return "option length";
  case ND_NS_BAD_DST: return "not to the target's solicited-node group";
  case ND_NS_BAD_DAD: return "duplicate address detection to unicast or with an address";
  default: return "?";
  }
}

int nd_na_build(const struct frame_info *fi, const uint8_t target[16], const uint8_t mac[6],
                uint8_t *out, size_t cap, size_t *out_len)
{
  size_t need = ND_NA_FRAME_LEN + (fi->has_vlan ? FRAME_VLAN_HLEN : 0);
  if (cap < need)
    return IPOP_ETOOBIG;
  /* Copy what we need first: out may be the solicitation's own buffer. */
  uint8_t req_mac[FRAME_ETH_ALEN], req_ip6[16], t[16], ans[FRAME_ETH_ALEN];
  memcpy(req_mac, fi->src, FRAME_ETH_ALEN);
  memcpy(req_ip6, fi->ip6.src, 16);
  memcpy(t, target, 16);
  memcpy(ans, mac, FRAME_ETH_ALEN);
  uint8_t *ip = frame_put_eth(out, req_mac, ans, fi, FRAME_ETHERTYPE_IP6);
  memset(ip, 0, FRAME_IP6_HLEN + ND_NA_LEN);
  ip[0] = 0x60;
  frame_put16(ip + 4, ND_NA_LEN);
  ip[6] = FRAME_IPPROTO_ICMP6;
  ip[7] = 255;
  memcpy(ip + IP6_SRC, t, 16);
  memcpy(ip + IP6_DST, req_ip6, 16);
  uint8_t *na = ip + FRAME_IP6_HLEN;
  na[0] = ND_NA;
  na[4] = 0x60;                      /* solicited, override */
  memcpy(na + 8, t, 16);
  na[24] = ND_OPT_TLLA;
  na[25] = 1;                        /* 8 bytes */
  memcpy(na + 26, ans, FRAME_ETH_ALEN);
  frame_put16(na + ICMP_CSUM, (uint16_t)~icmp6_sum(ip, na, ND_NA_LEN));
  *out_len = need;
  return 0;
}
