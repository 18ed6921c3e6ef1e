/* libFuzzer harness for tincan's packet path: frame_parse, the switch, the
 * SocialVPN rewriting (egress, ingress, ARP and ND replies), and the
 * Neighbor Solicitation checks and advertisements that answer ND for
 * SocialVPN's mapped addresses and GroupVPN's members (nd.h), on whatever
 * parses.
 *
 * Input: one control byte, then the frame.  Control bits:
 *   0..1  link (0..3 are mapped, see below)
 *   2     direction: 0 egress (from the TAP), 1 ingress (from a link)
 *   3     force the mapped address into the frame (and fix the header
 *         checksum), so that rewriting paths are reached without the
 *         fuzzer having to guess addresses.
 *   4     make an ICMPv6 frame a Neighbor Solicitation: type 135, hop limit
 *         255 and the checksum fixed (its code, target, options and
 *         addresses stay the fuzzer's), so that the option walk and the
 *         advertisement are reached without guessing checksums.
 * The frame sits in a heap buffer of exactly its size (ASan sees overreads).
 * Besides memory errors it checks: parse invariants, rewriting never changes
 * the frame's length or parse result, and a checksum valid before a rewrite
 * is valid after it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "frame.h"
#include "nd.h"
#include "switch.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

struct harness {
  struct switch_table sw;
  struct addrmap am;
  uint64_t now;
};

static struct harness *h;                 /* the harness's own state, made once */

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  uint8_t x[4] = { a, b, c, d };
  uint32_t v;
  memcpy(&v, x, 4);
  return v;
}

static void harness_init(void)
{
  static const uint8_t local[6] = { 0x02, 0, 0, 0, 0, 1 };
  h = calloc(1, sizeof(*h));
  CHECK(h);
  CHECK(switch_init(&h->sw, 64, 1000, 0x5eed, local) == 0);
  CHECK(addrmap_init(&h->am, local) == 0);
  /* Colliding subnets: every peer really is 172.31.0.1. */
  for (uint8_t l = 0; l < 4; l++) {
    CHECK(addrmap_set(&h->am, l, ip4(172, 31, 0, (uint8_t)(2 + l)), ip4(172, 31, 0, 1)) == 0);
    /* ... and fd00:a::1 over IPv6 (links 0..2; link 3 has no IPv6) */
    uint8_t m6[16] = { 0xfd, 0, 0, 0x0a, [15] = (uint8_t)(2 + l) };
    uint8_t p6[16] = { 0xfd, 0, 0, 0x0a, [15] = 1 };
    if (l < 3)
      CHECK(addrmap_set6(&h->am, l, m6, p6) == 0);
  }
}

static void check_parse(const struct frame_info *fi, size_t len)
{
  CHECK(fi->len == len);
  CHECK(fi->l3_off + fi->l3_len == len);
  if (fi->l3 == FRAME_L3_IP4) {
    CHECK(fi->ip4.hlen >= 20 && fi->ip4.hlen <= fi->ip4.tot_len);
    CHECK(fi->ip4.l4_off + fi->ip4.l4_len <= len);
  } else if (fi->l3 == FRAME_L3_IP6) {
    CHECK(fi->ip6.l4_off + fi->ip6.payload_len <= len);
  } else if (fi->l3 == FRAME_L3_ARP) {
    CHECK(fi->l3_len >= FRAME_ARP_IP4_LEN);
  }
}

/* Type 135, hop limit 255, the ICMPv6 checksum right. */
static void make_ns(const struct frame_info *fi, uint8_t *buf)
{
  uint8_t *ip = buf + fi->l3_off, *m = buf + fi->ip6.l4_off;
  size_t len = fi->ip6.payload_len;
  ip[7] = 255;
  m[0] = ND_NS;
  m[2] = m[3] = 0;
  uint8_t tail[8] = { 0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, FRAME_IPPROTO_ICMP6 };
  uint32_t sum = frame_csum_partial(ip + 8, 32, 0);
  sum = frame_csum_partial(tail, sizeof tail, sum);
  frame_put16(m + 2, frame_csum_finish(frame_csum_partial(m, len, sum)));
}

/* A solicitation that passes nd_ns_parse is answered as tincan answers it;
 * the advertisement must parse as a valid one, to the solicitor, with a
 * right checksum. */
static void check_nd(const struct frame_info *fi)
{
  static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
  struct nd_ns ns;
  int st = nd_ns_parse(fi, &ns);
  CHECK(st >= ND_NS_BAD_DAD && st <= ND_NS_OK);
  CHECK(nd_ns_status_name(st)[0] != '?');
  if (st != ND_NS_OK) {
    CHECK(ns.target == NULL);
    return;
  }
  CHECK(fi->ip6.hop_limit == 255 && ns.target[0] != 0xff);
  if (ns.dad)
    return;
  uint8_t out[ND_NA_FRAME_LEN + FRAME_VLAN_HLEN];
  size_t n;
  CHECK(nd_na_build(fi, ns.target, mac, out, sizeof out, &n) == 0);
  struct frame_info na;
  CHECK(frame_parse(&na, out, n) == 0 && na.l3 == FRAME_L3_IP6 && na.ip6.nd_type == ND_NA);
  CHECK(na.ip6.hop_limit == 255 && memcmp(na.ip6.src, ns.target, 16) == 0);
  CHECK(memcmp(na.ip6.dst, fi->ip6.src, 16) == 0 && memcmp(na.dst, fi->src, 6) == 0);
  CHECK(na.has_vlan == fi->has_vlan);
  const uint8_t *m = out + na.ip6.l4_off;
  uint8_t tail[8] = { 0, 0, 0, ND_NA_LEN, 0, 0, 0, FRAME_IPPROTO_ICMP6 };
  uint32_t sum = frame_csum_partial(out + na.l3_off + 8, 32, 0);
  sum = frame_csum_partial(tail, sizeof tail, sum);
  CHECK(frame_csum_fold(frame_csum_partial(m, ND_NA_LEN, sum)) == 0xffff);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct frame_info fi, after;
  struct switch_decision d;
  uint8_t reply[ADDRMAP_REPLY_MAX];
  size_t reply_len;

  if (!h)
    harness_init();
  if (size < 1)
    return 0;
  uint8_t ctl = data[0];
  uint32_t link = ctl & 3;
  bool ingress = ctl & 4;
  size_t len = size - 1;
  uint8_t *buf = malloc(len ? len : 1);
  CHECK(buf);
  memcpy(buf, data + 1, len);
  h->now += 7;

  if (frame_parse(&fi, buf, len) != 0)
    goto out;
  check_parse(&fi, len);

  if ((ctl & 8) && fi.l3 == FRAME_L3_IP6) {
    /* steer IPv6 onto the mapped addresses, as for IPv4 below */
    const struct addrmap_entry *e = addrmap_find_link(&h->am, link);
    if (e->has_ip6)
      memcpy(buf + fi.l3_off + (ingress ? 8 : 24), ingress ? e->peer_ip6 : e->mapped_ip6, 16);
    CHECK(frame_parse(&fi, buf, len) == 0);
  }
  if ((ctl & 8) && fi.l3 == FRAME_L3_IP4) {
    const struct addrmap_entry *e = addrmap_find_link(&h->am, link);
    uint8_t *ip = buf + fi.l3_off;
    if (ingress)
      memcpy(ip + 12, &e->peer_ip4, 4);
    else
      memcpy(ip + 16, &e->mapped_ip4, 4);
    frame_ip4_hdr_csum_set(&fi, buf);
    CHECK(frame_parse(&fi, buf, len) == 0);
  }

  if ((ctl & 16) && fi.l3 == FRAME_L3_IP6 && fi.ip6.next_hdr == FRAME_IPPROTO_ICMP6) {
    make_ns(&fi, buf);
    CHECK(frame_parse(&fi, buf, len) == 0 && fi.ip6.nd_type == ND_NS);
  }
  if (!ingress)
    check_nd(&fi);

  bool hdr_ok = frame_ip4_hdr_csum_ok(&fi, buf);
  int l4_before = frame_ip4_l4_csum_verify(&fi, buf);
  int verdict;
  if (ingress) {
    verdict = addrmap_ingress(&h->am, link, buf, &fi);
    if (verdict != ADDRMAP_DROP)
      switch_learn(&h->sw, fi.src, link, h->now);
  } else {
    uint32_t l;
    if (addrmap_arp_reply(&h->am, &fi, reply, sizeof(reply), &reply_len) == 1) {
      CHECK(frame_parse(&after, reply, reply_len) == 0 && after.l3 == FRAME_L3_ARP);
      goto out;
    }
    if (addrmap_nd_reply(&h->am, &fi, reply, sizeof(reply), &reply_len) == 1) {
      CHECK(frame_parse(&after, reply, reply_len) == 0 && after.l3 == FRAME_L3_IP6 &&
            after.ip6.nd_type == 136);
      goto out;
    }
    if (addrmap_route(&h->am, &fi, &l) == 0)
      CHECK(l < 4);
    CHECK(switch_decide(&h->sw, &fi, h->now, &d) == 0);
    verdict = addrmap_egress(&h->am, link, buf, &fi);
  }
  CHECK(verdict == ADDRMAP_PASS || verdict == ADDRMAP_REWRITTEN || verdict == ADDRMAP_DROP);

  if (verdict == ADDRMAP_REWRITTEN) {
    CHECK(frame_parse(&after, buf, len) == 0);
    if (after.l3 == FRAME_L3_IP6) {
      CHECK(after.ip6.payload_len == fi.ip6.payload_len);
      goto out;
    }
    CHECK(after.l3 == FRAME_L3_IP4 && after.ip4.tot_len == fi.ip4.tot_len);
    if (hdr_ok)
      CHECK(frame_ip4_hdr_csum_ok(&after, buf));
    if (l4_before == 0) {
      int l4_after = frame_ip4_l4_csum_verify(&after, buf);
      const uint8_t *l4 = buf + after.ip4.l4_off;
      bool udp_none = after.ip4.proto == FRAME_IPPROTO_UDP && l4[6] == 0 && l4[7] == 0;
      CHECK(l4_after == 0 || udp_none);
    }
  }
  if (h->now % 1024 == 0)
    switch_expire(&h->sw, h->now);
  if (h->now % 4096 == 0)
    switch_remove_link(&h->sw, link);
out:
  free(buf);
  return 0;
}
