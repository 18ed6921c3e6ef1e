#include "addrmap.h"

#include <string.h>

#include "error.h"
#include "nd.h"

enum { IP4_SRC = 12, IP4_DST = 16, IP4_CSUM = 10, TCP_CSUM = 16, UDP_CSUM = 6, ICMP_CSUM = 2 };
enum { IP6_SRC = 8, IP6_DST = 24 };

static bool ip6_addr_ok(const uint8_t *a)
{
  static const uint8_t zero[16], v4mapped[12] = { [10] = 0xff, [11] = 0xff };
  if (a[0] == 0xff || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
    return false;                     /* multicast, link-local */
  if (memcmp(a, zero, 15) == 0 && a[15] <= 1)
    return false;                     /* ::, ::1 */
  return memcmp(a, v4mapped, 12) != 0;
}

static bool ip4_addr_ok(uint32_t be)
{
  uint8_t b[4];
  memcpy(b, &be, 4);
  return be != 0 && b[0] < 224;     /* not 0.0.0.0, multicast, class E, bcast */
}

void addrmap_mac_for(uint32_t mapped_ip4, uint8_t mac[FRAME_ETH_ALEN])
{
  mac[0] = ADDRMAP_MAC_PREFIX0;
  mac[1] = ADDRMAP_MAC_PREFIX1;
  memcpy(mac + 2, &mapped_ip4, 4);
}

int addrmap_init(struct addrmap *m, const uint8_t local_mac[FRAME_ETH_ALEN])
{
  if (!m || !local_mac)
    return IPOP_EINVAL;
  memset(m, 0, sizeof(*m));
  memcpy(m->local_mac, local_mac, FRAME_ETH_ALEN);
  return 0;
}

static struct addrmap_entry *entry_by_link(const struct addrmap *m, uint32_t link)
{
  for (uint32_t i = 0; i < m->n; i++)
    if (m->entries[i].link == link)
      return (struct addrmap_entry *)&m->entries[i];
  return NULL;
}

const struct addrmap_entry *addrmap_find_link(const struct addrmap *m, uint32_t link)
{
  return m ? entry_by_link(m, link) : NULL;
}

int addrmap_set(struct addrmap *m, uint32_t link, uint32_t mapped_ip4, uint32_t peer_ip4)
{
  if (!m || !ip4_addr_ok(mapped_ip4) || !ip4_addr_ok(peer_ip4))
    return IPOP_EINVAL;
  for (uint32_t i = 0; i < m->n; i++)
    if (m->entries[i].mapped_ip4 == mapped_ip4 && m->entries[i].link != link)
      return IPOP_EEXIST;
  struct addrmap_entry *e = entry_by_link(m, link);
  if (!e) {
    if (m->n >= ADDRMAP_MAX_ENTRIES)
      return IPOP_ENOMEM;
    e = &m->entries[m->n++];
  }
  e->link = link;
  e->mapped_ip4 = mapped_ip4;
  e->peer_ip4 = peer_ip4;
  addrmap_mac_for(mapped_ip4, e->mapped_mac);
  return 0;
}

int addrmap_set6(struct addrmap *m, uint32_t link, const uint8_t *mapped_ip6,
                 const uint8_t *peer_ip6)
{
  struct addrmap_entry *e = m ? entry_by_link(m, link) : NULL;
  if (!e)
    return IPOP_ENOENT;
  if (!mapped_ip6 && !peer_ip6) {
    e->has_ip6 = false;
    memset(e->mapped_ip6, 0, 16);
    memset(e->peer_ip6, 0, 16);
    return 0;
  }
  if (!mapped_ip6 || !peer_ip6 || !ip6_addr_ok(mapped_ip6) || !ip6_addr_ok(peer_ip6))
    return IPOP_EINVAL;
  for (uint32_t i = 0; i < m->n; i++)
    if (m->entries[i].has_ip6 && m->entries[i].link != link &&
        memcmp(m->entries[i].mapped_ip6, mapped_ip6, 16) == 0)
      return IPOP_EEXIST;
  memcpy(e->mapped_ip6, mapped_ip6, 16);
  memcpy(e->peer_ip6, peer_ip6, 16);
  e->has_ip6 = true;
  return 0;
}

int addrmap_remove(struct addrmap *m, uint32_t link)
{
  struct addrmap_entry *e = m ? entry_by_link(m, link) : NULL;
  if (!e)
    return IPOP_ENOENT;
  *e = m->entries[--m->n];
  memset(&m->entries[m->n], 0, sizeof(m->entries[m->n]));
  return 0;
}

int addrmap_route(const struct addrmap *m, const struct frame_info *fi, uint32_t *link)
{
  if (!m || !fi || (fi->l3 != FRAME_L3_IP4 && fi->l3 != FRAME_L3_IP6))
    return IPOP_ENOENT;
  for (uint32_t i = 0; i < m->n; i++) {
    const struct addrmap_entry *e = &m->entries[i];
    if (fi->l3 == FRAME_L3_IP4 ? e->mapped_ip4 == fi->ip4.dst
                               : e->has_ip6 && memcmp(e->mapped_ip6, fi->ip6.dst, 16) == 0) {
      *link = e->link;
      return 0;
    }
  }
  return IPOP_ENOENT;
}

bool addrmap_source_ok(const struct addrmap_entry *e, const struct frame_info *fi)
{
  if (fi->l3 == FRAME_L3_IP4)
    return fi->ip4.src == e->peer_ip4;
  if (fi->l3 != FRAME_L3_IP6)
    return true;
  const uint8_t *s = fi->ip6.src;
  static const uint8_t zero[16];
  if ((s[0] == 0xfe && (s[1] & 0xc0) == 0x80) || memcmp(s, zero, 16) == 0)
    return true;
  return e->has_ip6 && memcmp(s, e->peer_ip6, 16) == 0;
}

/* Replace the address at ip + field (IP4_SRC or IP4_DST) of the IPv4 header
 * at ip, of which avail bytes are present (avail >= its IHL, checked by the
 * caller), and fix the header checksum and, in a first fragment, the TCP or
 * UDP checksum when the checksum field lies within avail. */
static void ip4_rewrite(uint8_t *ip, size_t avail, unsigned field, uint32_t to)
{
  uint32_t from;
  memcpy(&from, ip + field, 4);
  if (from == to)
    return;
  memcpy(ip + field, &to, 4);
  frame_put16(ip + IP4_CSUM, frame_csum_update32(frame_get16(ip + IP4_CSUM), from, to));

  if (frame_get16(ip + 6) & 0x1fff)  /* later fragment: no L4 header */
    return;
  size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
  uint8_t *l4 = ip + hlen;
  size_t l4_avail = avail - hlen;
  if (ip[9] == FRAME_IPPROTO_TCP && l4_avail >= TCP_CSUM + 2) {
    frame_put16(l4 + TCP_CSUM, frame_csum_update32(frame_get16(l4 + TCP_CSUM), from, to));
  } else if (ip[9] == FRAME_IPPROTO_UDP && l4_avail >= UDP_CSUM + 2) {
    uint16_t c = frame_get16(l4 + UDP_CSUM);
    if (c == 0)                      /* no checksum: stays none */
      return;
    c = frame_csum_update32(c, from, to);
    frame_put16(l4 + UDP_CSUM, c ? c : 0xffff);
  }
}

static bool icmp_is_error(uint8_t type)
{
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/* In an ICMP error (icmp, len bytes present), translate the quoted datagram's
 * `field` address from -> to and fix the ICMP checksum over the bytes that
 * changed.  Returns true if something was rewritten. */
static bool icmp_quote_rewrite(uint8_t *icmp, size_t len, unsigned field, uint32_t from, uint32_t to)
{
  if (len < 8 + FRAME_IP4_MIN_HLEN || !icmp_is_error(icmp[0]))
    return false;
  uint8_t *q = icmp + 8;
  size_t qlen = len - 8;
  size_t hlen = (size_t)(q[0] & 0x0f) * 4;
  if ((q[0] >> 4) != 4 || hlen < FRAME_IP4_MIN_HLEN || hlen > qlen)
    return false;
  uint32_t cur;
  memcpy(&cur, q + field, 4);
  if (cur != from || from == to)
    return false;
  /* Everything ip4_rewrite may touch: the quoted header and up to the TCP
   * checksum behind it.  It starts at an even offset of the ICMP message. */
  size_t region = qlen < hlen + TCP_CSUM + 2 ? qlen : hlen + TCP_CSUM + 2;
  uint16_t before = frame_csum_fold(frame_csum_partial(q, region, 0));
  ip4_rewrite(q, qlen, field, to);
  uint16_t after = frame_csum_fold(frame_csum_partial(q, region, 0));
  frame_put16(icmp + ICMP_CSUM, frame_csum_update16(frame_get16(icmp + ICMP_CSUM), before, after));
  return true;
}

/* The L4 header whose checksum ip4_rewrite fixes must be complete. */
static bool l4_complete(const struct frame_ip4 *ip)
{
  if (ip->frag_off)
    return true;
  if (ip->proto == FRAME_IPPROTO_TCP)
    return ip->l4_len >= 20;
  if (ip->proto == FRAME_IPPROTO_UDP)
    return ip->l4_len >= 8;
  return true;
}

/* ---- IPv6 ------------------------------------------------------------------ */

static uint16_t sum16(const uint8_t *a)
{
  return frame_csum_fold(frame_csum_partial(a, 16, 0));
}

static void csum_fix(uint8_t *field, uint16_t before, uint16_t after)
{
  frame_put16(field, frame_csum_update16(frame_get16(field), before, after));
}

/* The upper-layer protocol behind the IPv6 header at ip (avail bytes) and
 * its offset, past hop-by-hop, destination options and fragment headers;
 * *first is false for a later fragment.  False if the chain is cut short
 * or holds a routing header. */
static bool ip6_upper(const uint8_t *ip, size_t avail, uint8_t *proto, size_t *off, bool *first)
{
  uint8_t nh = ip[6];
  size_t o = FRAME_IP6_HLEN;
  *first = true;
  for (int i = 0; i < 8 && (nh == 0 || nh == 60 || nh == 44 || nh == 43); i++) {
    if (nh == 43 || o + 8 > avail)
      return false;
    uint8_t next = ip[o];
    if (nh == 44) {
      *first = *first && (frame_get16(ip + o + 2) & 0xfff8) == 0;
      o += 8;
    } else {
      o += ((size_t)ip[o + 1] + 1) * 8;
    }
    nh = next;
  }
  if (o > avail || nh == 0 || nh == 60 || nh == 44 || nh == 43)
    return false;
  *proto = nh;
  *off = o;
  return true;
}

/* Where the upper-layer checksum of the packet at ip lies (offset from ip),
 * 0 if it has none that covers the addresses; -1 if the packet cannot be
 * translated (chain cut short, routing header, upper header incomplete). */
static long ip6_csum_at(const uint8_t *ip, size_t avail, uint8_t *proto)
{
  size_t off;
  bool first;
  if (!ip6_upper(ip, avail, proto, &off, &first))
    return -1;
  if (!first)
    return 0;
  size_t need = *proto == FRAME_IPPROTO_TCP    ? 20
                : *proto == FRAME_IPPROTO_UDP  ? 8
                : *proto == FRAME_IPPROTO_ICMP6 ? 4
                                               : 0;
  if (avail - off < need)
    return -1;
  return need == 0                         ? 0
         : *proto == FRAME_IPPROTO_TCP     ? (long)(off + TCP_CSUM)
         : *proto == FRAME_IPPROTO_UDP     ? (long)(off + UDP_CSUM)
                                           : (long)(off + ICMP_CSUM);
}

/* Replace the address at ip + field and fix the checksum at ip + csum_at
 * (0: none).  A UDP checksum of 0 is not valid over IPv6: 0xffff stands
 * for it. */
static void ip6_rewrite(uint8_t *ip, unsigned field, const uint8_t *to, long csum_at, bool udp)
{
  uint16_t before = sum16(ip + field);
  memcpy(ip + field, to, 16);
  if (csum_at <= 0)
    return;
  csum_fix(ip + csum_at, before, sum16(ip + field));
  if (udp && frame_get16(ip + csum_at) == 0)
    frame_put16(ip + csum_at, 0xffff);
}

/* An ICMPv6 error (icmp, len bytes) quoting a packet: translate its
 * `field` address from -> to and fix the ICMPv6 checksum. */
static bool icmp6_quote_rewrite(uint8_t *icmp, size_t len, unsigned field, const uint8_t *from,
                                const uint8_t *to)
{
  if (icmp[0] < 1 || icmp[0] > 4 || len < 8 + FRAME_IP6_HLEN || (icmp[8] >> 4) != 6 ||
      memcmp(icmp + 8 + field, from, 16) != 0)
    return false;
  uint16_t before = sum16(icmp + 8 + field);
  memcpy(icmp + 8 + field, to, 16);
  csum_fix(icmp + ICMP_CSUM, before, sum16(icmp + 8 + field));
  return true;
}

static int translate6(struct addrmap *m, const struct addrmap_entry *e, uint8_t *buf,
                      const struct frame_info *fi, bool egress)
{
  const struct frame_ip6 *ip6 = &fi->ip6;
  if (ip6->nd_type) {
    m->stats.dropped_nd++;
    return ADDRMAP_DROP;
  }
  const uint8_t *from = egress ? e->mapped_ip6 : e->peer_ip6;
  const uint8_t *to = egress ? e->peer_ip6 : e->mapped_ip6;
  if (!e->has_ip6 || memcmp(egress ? ip6->dst : ip6->src, from, 16) != 0) {
    m->stats.dropped_unmapped++;
    return ADDRMAP_DROP;
  }
  uint8_t *ip = buf + fi->l3_off;
  size_t avail = FRAME_IP6_HLEN + (size_t)ip6->payload_len;
  uint8_t proto = 0;
  long csum_at = ip6_csum_at(ip, avail, &proto);
  if (csum_at < 0) {
    m->stats.dropped_malformed++;
    return ADDRMAP_DROP;
  }
  ip6_rewrite(ip, egress ? IP6_DST : IP6_SRC, to, csum_at, proto == FRAME_IPPROTO_UDP);
  /* An ICMPv6 error right behind the header (the common case). */
  if (proto == FRAME_IPPROTO_ICMP6 && ip[6] == FRAME_IPPROTO_ICMP6 &&
      icmp6_quote_rewrite(ip + FRAME_IP6_HLEN, ip6->payload_len, egress ? IP6_SRC : IP6_DST,
                          from, to))
    m->stats.icmp_quotes_rewritten++;
  return ADDRMAP_REWRITTEN;
}

/* Shared by both directions.  egress: outer destination mapped -> peer,
 * quoted source mapped -> peer.  ingress: outer source peer -> mapped,
 * quoted destination peer -> mapped. */
static int translate(struct addrmap *m, const struct addrmap_entry *e, uint8_t *buf,
                     const struct frame_info *fi, bool egress)
{
  if (fi->ethertype == FRAME_ETHERTYPE_ARP) {
    m->stats.dropped_arp++;
    return ADDRMAP_DROP;
  }
  if (fi->l3 == FRAME_L3_IP6) {
    int v = translate6(m, e, buf, fi, egress);
    if (v == ADDRMAP_REWRITTEN)
      goto rewritten;
    return v;
  }
  if (fi->l3 != FRAME_L3_IP4)
    return ADDRMAP_PASS;

  const struct frame_ip4 *ip4 = &fi->ip4;
  uint32_t from = egress ? e->mapped_ip4 : e->peer_ip4;
  uint32_t to = egress ? e->peer_ip4 : e->mapped_ip4;
  if ((egress ? ip4->dst : ip4->src) != from) {
    m->stats.dropped_unmapped++;
    return ADDRMAP_DROP;
  }
  if (!l4_complete(ip4)) {
    m->stats.dropped_malformed++;
    return ADDRMAP_DROP;
  }

  uint8_t *ip = buf + fi->l3_off;
  ip4_rewrite(ip, ip4->tot_len, egress ? IP4_DST : IP4_SRC, to);
  if (ip4->proto == FRAME_IPPROTO_ICMP && ip4->frag_off == 0 &&
      icmp_quote_rewrite(buf + ip4->l4_off, ip4->l4_len, egress ? IP4_SRC : IP4_DST, from, to))
    m->stats.icmp_quotes_rewritten++;

rewritten:
  if (egress) {
    m->stats.egress_rewritten++;
  } else {
    memcpy(buf + FRAME_ETH_ALEN, e->mapped_mac, FRAME_ETH_ALEN);
    if (!(buf[0] & 1))
      memcpy(buf, m->local_mac, FRAME_ETH_ALEN);
    m->stats.ingress_rewritten++;
  }
  return ADDRMAP_REWRITTEN;
}

int addrmap_egress(struct addrmap *m, uint32_t link, uint8_t *buf, const struct frame_info *fi)
{
  if (!m || !buf || !fi || fi->dst != buf)
    return IPOP_EINVAL;
  const struct addrmap_entry *e = entry_by_link(m, link);
  return e ? translate(m, e, buf, fi, true) : ADDRMAP_PASS;
}

int addrmap_ingress(struct addrmap *m, uint32_t link, uint8_t *buf, const struct frame_info *fi)
{
  if (!m || !buf || !fi || fi->dst != buf)
    return IPOP_EINVAL;
  const struct addrmap_entry *e = entry_by_link(m, link);
  return e ? translate(m, e, buf, fi, false) : ADDRMAP_PASS;
}

int addrmap_arp_reply(struct addrmap *m, const struct frame_info *fi,
                      uint8_t *out, size_t cap, size_t *out_len)
{
  if (!m || !fi || !out || !out_len)
    return IPOP_EINVAL;
  *out_len = 0;
  if (fi->l3 != FRAME_L3_ARP || fi->arp.op != FRAME_ARP_REQUEST || fi->arp.spa == fi->arp.tpa)
    return 0;
  const struct addrmap_entry *e = NULL;
  for (uint32_t i = 0; i < m->n && !e; i++)
    if (m->entries[i].mapped_ip4 == fi->arp.tpa)
      e = &m->entries[i];
  if (!e)
    return 0;
  int rc = addrmap_build_arp_reply(fi, e->mapped_mac, out, cap, out_len);
  if (rc)
    return rc;
  m->stats.arp_replies++;
  return 1;
}

int addrmap_build_arp_reply(const struct frame_info *fi, const uint8_t mac[6], uint8_t *out,
                            size_t cap, size_t *out_len)
{
  size_t need = ADDRMAP_ARP_REPLY_LEN + (fi->has_vlan ? FRAME_VLAN_HLEN : 0);
  if (cap < need)
    return IPOP_ETOOBIG;

  /* Copy what we need first: out may be the request's own buffer. */
  uint8_t req_src[FRAME_ETH_ALEN], req_sha[FRAME_ETH_ALEN], ans[FRAME_ETH_ALEN];
  memcpy(req_src, fi->src, FRAME_ETH_ALEN);
  memcpy(req_sha, fi->arp.sha, FRAME_ETH_ALEN);
  memcpy(ans, mac, FRAME_ETH_ALEN);
  uint32_t spa = fi->arp.spa, tpa = fi->arp.tpa;

  uint8_t *p = frame_put_eth(out, req_src, ans, fi, FRAME_ETHERTYPE_ARP);
  frame_put16(p, 1);                 /* Ethernet */
  frame_put16(p + 2, FRAME_ETHERTYPE_IP4);
  p[4] = 6;
  p[5] = 4;
  frame_put16(p + 6, FRAME_ARP_REPLY);
  memcpy(p + 8, ans, FRAME_ETH_ALEN);
  memcpy(p + 14, &tpa, 4);
  memcpy(p + 18, req_sha, FRAME_ETH_ALEN);
  memcpy(p + 24, &spa, 4);
  *out_len = need;
  return 0;
}

int addrmap_nd_reply(struct addrmap *m, const struct frame_info *fi, uint8_t *out, size_t cap,
                     size_t *out_len)
{
  if (!m || !fi || !out || !out_len)
    return IPOP_EINVAL;
  *out_len = 0;
  struct nd_ns ns;
  if (nd_ns_parse(fi, &ns) != ND_NS_OK || ns.dad)
    return 0;
  const struct addrmap_entry *e = NULL;
  for (uint32_t i = 0; i < m->n && !e; i++)
    if (m->entries[i].has_ip6 && memcmp(m->entries[i].mapped_ip6, ns.target, 16) == 0)
      e = &m->entries[i];
  if (!e)
    return 0;
  int rc = nd_na_build(fi, e->mapped_ip6, e->mapped_mac, out, cap, out_len);
  if (rc)
    return rc;
  m->stats.nd_replies++;
  return 1;
}
