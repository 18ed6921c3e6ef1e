#include "addrmap.h"

#include <string.h>

#include "error.h"

enum { IP4_SRC = 12, IP4_DST = 16, IP4_CSUM = 10, TCP_CSUM = 16, UDP_CSUM = 6, ICMP_CSUM = 2 };

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
  if (!m || !fi || fi->l3 != FRAME_L3_IP4)
    return IPOP_ENOENT;
  for (uint32_t i = 0; i < m->n; i++) {
    if (m->entries[i].mapped_ip4 == fi->ip4.dst) {
      *link = m->entries[i].link;
      return 0;
    }
  }
  return IPOP_ENOENT;
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
  size_t need = ADDRMAP_ARP_REPLY_LEN + (fi->has_vlan ? FRAME_VLAN_HLEN : 0);
  if (cap < need)
    return IPOP_ETOOBIG;

  /* Copy what we need first: out may be the request's own buffer. */
  uint8_t req_src[FRAME_ETH_ALEN], req_sha[FRAME_ETH_ALEN];
  memcpy(req_src, fi->src, FRAME_ETH_ALEN);
  memcpy(req_sha, fi->arp.sha, FRAME_ETH_ALEN);
  uint16_t tpid = frame_get16(fi->dst + 12);
  uint32_t spa = fi->arp.spa, tpa = fi->arp.tpa;

  uint8_t *p = out;
  memcpy(p, req_src, FRAME_ETH_ALEN);
  memcpy(p + 6, e->mapped_mac, FRAME_ETH_ALEN);
  p += 12;
  if (fi->has_vlan) {
    frame_put16(p, tpid);
    frame_put16(p + 2, fi->vlan_tci);
    p += FRAME_VLAN_HLEN;
  }
  frame_put16(p, FRAME_ETHERTYPE_ARP);
  p += 2;
  frame_put16(p, 1);                 /* Ethernet */
  frame_put16(p + 2, FRAME_ETHERTYPE_IP4);
  p[4] = 6;
  p[5] = 4;
  frame_put16(p + 6, FRAME_ARP_REPLY);
  memcpy(p + 8, e->mapped_mac, FRAME_ETH_ALEN);
  memcpy(p + 14, &tpa, 4);
  memcpy(p + 18, req_sha, FRAME_ETH_ALEN);
  memcpy(p + 24, &spa, 4);
  *out_len = need;
  m->stats.arp_replies++;
  return 1;
}
