#include "frame.h"

#include <string.h>

#include "error.h"

static uint32_t get32_be(const uint8_t *p)
{
  uint32_t v;
  memcpy(&v, p, 4);                 /* stays in network byte order */
  return v;
}

enum frame_cast frame_mac_cast(const uint8_t mac[FRAME_ETH_ALEN])
{
  static const uint8_t bcast[FRAME_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  if (!(mac[0] & 1))
    return FRAME_UNICAST;
  return memcmp(mac, bcast, FRAME_ETH_ALEN) == 0 ? FRAME_BROADCAST : FRAME_MULTICAST;
}

bool frame_mac_is_zero(const uint8_t mac[FRAME_ETH_ALEN])
{
  return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

bool frame_mac_is_learnable(const uint8_t mac[FRAME_ETH_ALEN])
{
  return !(mac[0] & 1) && !frame_mac_is_zero(mac);
}

static int parse_ip4(struct frame_info *fi, const uint8_t *buf)
{
  const uint8_t *p = buf + fi->l3_off;
  size_t n = fi->l3_len;
  struct frame_ip4 *ip = &fi->ip4;

  if (n < FRAME_IP4_MIN_HLEN || (p[0] >> 4) != 4)
    return IPOP_EINVAL;
  ip->hlen = (uint8_t)((p[0] & 0x0f) * 4);
  if (ip->hlen < FRAME_IP4_MIN_HLEN || ip->hlen > n)
    return IPOP_EINVAL;
  ip->tot_len = frame_get16(p + 2);
  if (ip->tot_len < ip->hlen || ip->tot_len > n)
    return IPOP_EINVAL;
  ip->tos = p[1];
  ip->id = frame_get16(p + 4);
  uint16_t fo = frame_get16(p + 6);
  ip->df = fo & 0x4000;
  ip->mf = fo & 0x2000;
  ip->frag_off = fo & 0x1fff;
  /* A fragment reaching past the largest datagram ("ping of death"). */
  if ((uint32_t)ip->frag_off * 8 + (ip->tot_len - ip->hlen) > 65535)
    return IPOP_EINVAL;
  ip->ttl = p[8];
  ip->proto = p[9];
  ip->src = get32_be(p + 12);
  ip->dst = get32_be(p + 16);
  ip->l4_off = fi->l3_off + ip->hlen;
  ip->l4_len = (size_t)ip->tot_len - ip->hlen;
  fi->l3 = FRAME_L3_IP4;
  return 0;
}

static int parse_arp(struct frame_info *fi, const uint8_t *buf)
{
  const uint8_t *p = buf + fi->l3_off;
  size_t n = fi->l3_len;

  if (n < 8)
    return IPOP_EINVAL;
  uint16_t htype = frame_get16(p), ptype = frame_get16(p + 2);
  uint8_t hlen = p[4], plen = p[5];
  uint16_t op = frame_get16(p + 6);
  if (n < 8 + 2 * ((size_t)hlen + plen))
    return IPOP_EINVAL;
  if (htype != 1 || ptype != FRAME_ETHERTYPE_IP4 || hlen != 6 || plen != 4 ||
      (op != FRAME_ARP_REQUEST && op != FRAME_ARP_REPLY)) {
    fi->l3 = FRAME_L3_OTHER;        /* some other ARP: plain L2 */
    return 0;
  }
  fi->arp.op = op;
  fi->arp.sha = p + 8;
  fi->arp.spa = get32_be(p + 14);
  fi->arp.tha = p + 18;
  fi->arp.tpa = get32_be(p + 24);
  fi->l3 = FRAME_L3_ARP;
  return 0;
}

static int parse_ip6(struct frame_info *fi, const uint8_t *buf)
{
  const uint8_t *p = buf + fi->l3_off;
  size_t n = fi->l3_len;
  struct frame_ip6 *ip = &fi->ip6;

  if (n < FRAME_IP6_HLEN || (p[0] >> 4) != 6)
    return IPOP_EINVAL;
  ip->payload_len = frame_get16(p + 4);
  if ((size_t)FRAME_IP6_HLEN + ip->payload_len > n)
    return IPOP_EINVAL;
  ip->next_hdr = p[6];
  ip->hop_limit = p[7];
  ip->src = p + 8;
  ip->dst = p + 24;
  ip->dst_multicast = ip->dst[0] == 0xff;
  ip->l4_off = fi->l3_off + FRAME_IP6_HLEN;
  if (ip->next_hdr == FRAME_IPPROTO_ICMP6) {
    if (ip->payload_len < 4)        /* type, code, checksum */
      return IPOP_EINVAL;
    uint8_t type = buf[ip->l4_off];
    if (type >= 133 && type <= 137)
      ip->nd_type = type;
  }
  fi->l3 = FRAME_L3_IP6;
  return 0;
}

int frame_parse(struct frame_info *fi, const uint8_t *buf, size_t len)
{
  int r;

  if (!fi)
    return IPOP_EINVAL;
  memset(fi, 0, sizeof(*fi));
  if (!buf)
    return IPOP_EINVAL;
  if (len > FRAME_MAX_LEN)
    return IPOP_ETOOBIG;
  if (len < FRAME_ETH_HLEN)
    return IPOP_EINVAL;

  size_t off = FRAME_ETH_HLEN;
  uint16_t et = frame_get16(buf + 12);
  if (et == FRAME_ETHERTYPE_VLAN || et == FRAME_ETHERTYPE_QINQ) {
    if (len < FRAME_ETH_HLEN + FRAME_VLAN_HLEN)
      return IPOP_EINVAL;
    fi->has_vlan = true;
    fi->vlan_tci = frame_get16(buf + 14);
    et = frame_get16(buf + 16);
    off += FRAME_VLAN_HLEN;
  }
  fi->dst = buf;
  fi->src = buf + FRAME_ETH_ALEN;
  fi->len = len;
  fi->ethertype = et;
  fi->cast = frame_mac_cast(buf);
  fi->l3_off = off;
  fi->l3_len = len - off;
  fi->l3 = FRAME_L3_OTHER;

  switch (et) {
  case FRAME_ETHERTYPE_IP4: r = parse_ip4(fi, buf); break;
  case FRAME_ETHERTYPE_ARP: r = parse_arp(fi, buf); break;
  case FRAME_ETHERTYPE_IP6: r = parse_ip6(fi, buf); break;
  default: r = 0; break;             /* other ethertypes, nested tags, 802.3 */
  }
  if (r < 0)
    memset(fi, 0, sizeof(*fi));
  return r;
}

uint8_t *frame_put_eth(uint8_t *out, const uint8_t dst[FRAME_ETH_ALEN],
                       const uint8_t src[FRAME_ETH_ALEN], const struct frame_info *fi,
                       uint16_t ethertype)
{
  uint16_t tpid = fi->has_vlan ? frame_get16(fi->dst + 12) : 0;
  uint8_t d[FRAME_ETH_ALEN], s[FRAME_ETH_ALEN];
  memcpy(d, dst, FRAME_ETH_ALEN);
  memcpy(s, src, FRAME_ETH_ALEN);
  memcpy(out, d, FRAME_ETH_ALEN);
  memcpy(out + FRAME_ETH_ALEN, s, FRAME_ETH_ALEN);
  uint8_t *p = out + 2 * FRAME_ETH_ALEN;
  if (fi->has_vlan) {
    frame_put16(p, tpid);
    frame_put16(p + 2, fi->vlan_tci);
    p += FRAME_VLAN_HLEN;
  }
  frame_put16(p, ethertype);
  return p + 2;
}

/* ---- checksums --------------------------------------------------------- */

uint32_t frame_csum_partial(const void *data, size_t len, uint32_t sum)
{
  const uint8_t *p = data;
  uint64_t acc = sum;

  while (len >= 2) {
    acc += (uint32_t)p[0] << 8 | p[1];
    p += 2;
    len -= 2;
  }
  if (len)
    acc += (uint32_t)p[0] << 8;
  while (acc >> 32)                 /* keep the end-around carries */
    acc = (acc & 0xffffffffu) + (acc >> 32);
  return (uint32_t)acc;
}

uint16_t frame_csum_fold(uint32_t sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

uint16_t frame_csum_finish(uint32_t sum)
{
  return (uint16_t)~frame_csum_fold(sum);
}

uint16_t frame_csum(const void *data, size_t len)
{
  return frame_csum_finish(frame_csum_partial(data, len, 0));
}

uint16_t frame_csum_update16(uint16_t csum, uint16_t old_word, uint16_t new_word)
{
  uint32_t sum = (uint16_t)~csum;
  sum += (uint16_t)~old_word;
  sum += new_word;
  return (uint16_t)~frame_csum_fold(sum);
}

uint16_t frame_csum_update32(uint16_t csum, uint32_t old_be, uint32_t new_be)
{
  uint8_t o[4], n[4];
  memcpy(o, &old_be, 4);
  memcpy(n, &new_be, 4);
  uint32_t sum = (uint16_t)~csum;
  sum += (uint16_t)~frame_get16(o);
  sum += (uint16_t)~frame_get16(o + 2);
  sum += frame_get16(n);
  sum += frame_get16(n + 2);
  return (uint16_t)~frame_csum_fold(sum);
}

bool frame_ip4_hdr_csum_ok(const struct frame_info *fi, const uint8_t *buf)
{
  if (fi->l3 != FRAME_L3_IP4)
    return false;
  return frame_csum_fold(frame_csum_partial(buf + fi->l3_off, fi->ip4.hlen, 0)) == 0xffff;
}

void frame_ip4_hdr_csum_set(const struct frame_info *fi, uint8_t *buf)
{
  if (fi->l3 != FRAME_L3_IP4)
    return;
  uint8_t *ip = buf + fi->l3_off;
  frame_put16(ip + 10, 0);
  frame_put16(ip + 10, frame_csum(ip, fi->ip4.hlen));
}

int frame_ip4_l4_csum_verify(const struct frame_info *fi, const uint8_t *buf)
{
  const struct frame_ip4 *ip = &fi->ip4;
  uint32_t sum = 0;

  if (fi->l3 != FRAME_L3_IP4 || ip->mf || ip->frag_off)
    return -1;
  if (ip->proto == FRAME_IPPROTO_TCP || ip->proto == FRAME_IPPROTO_UDP) {
    uint8_t pseudo[12];
    memcpy(pseudo, &ip->src, 4);
    memcpy(pseudo + 4, &ip->dst, 4);
    pseudo[8] = 0;
    pseudo[9] = ip->proto;
    frame_put16(pseudo + 10, (uint16_t)ip->l4_len);
    sum = frame_csum_partial(pseudo, sizeof(pseudo), 0);
  } else if (ip->proto != FRAME_IPPROTO_ICMP) {
    return -1;
  }
  return frame_csum_finish(frame_csum_partial(buf + ip->l4_off, ip->l4_len, sum));
}
