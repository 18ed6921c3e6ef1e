/* addrmap: two SocialVPN users whose subnets collide (both 172.31.0.0/24,
 * both at 172.31.0.1) reach each other through mapped addresses.  Every
 * packet is built by hand, passed through Alice's egress and Bob's ingress
 * (or back), and its checksums are verified by a full recomputation with an
 * independent reference implementation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addrmap.h"
#include "addrmap_ref.h"
#include "error.h"
#include "switch.h"

static const uint8_t MAC_ALICE[6] = { 0x02, 0xa1, 0x1c, 0xe0, 0x00, 0x01 };
static const uint8_t MAC_BOB[6] = { 0x02, 0xb0, 0xb0, 0x00, 0x00, 0x01 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
enum { ALICE_LINK_TO_BOB = 7, BOB_LINK_TO_ALICE = 3 };

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  uint8_t x[4] = { a, b, c, d };
  uint32_t v;
  memcpy(&v, x, 4);
  return v;
}

#define REAL ip(172, 31, 0, 1)           /* both users' TAP address */
#define BOB_AT_ALICE ip(172, 31, 0, 2)   /* Alice's mapped address for Bob */
#define ALICE_AT_BOB ip(172, 31, 0, 3)   /* Bob's mapped address for Alice */

struct world {
  struct addrmap alice, bob;
};

static int setup(void **state)
{
  struct world *w = calloc(1, sizeof(*w));
  if (!w)
    return -1;
  if (addrmap_init(&w->alice, MAC_ALICE) || addrmap_init(&w->bob, MAC_BOB) ||
      addrmap_set(&w->alice, ALICE_LINK_TO_BOB, BOB_AT_ALICE, REAL) ||
      addrmap_set(&w->bob, BOB_LINK_TO_ALICE, ALICE_AT_BOB, REAL))
    return -1;
  *state = w;
  return 0;
}

/* ---- reference checksums and packet builders ---- */

static uint32_t pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
  uint8_t ph[12];
  memcpy(ph, &src, 4);
  memcpy(ph + 4, &dst, 4);
  ph[8] = 0;
  ph[9] = proto;
  ph[10] = (uint8_t)(len >> 8);
  ph[11] = (uint8_t)len;
  return ref_sum(ph, 12, 0);
}

static size_t l4_csum_off(uint8_t proto)
{
  return proto == 6 ? 16 : proto == 17 ? 6 : 2;
}

/* Store correct checksums in a whole (unfragmented) L4 segment. */
static void ref_fix_l4(uint8_t *l4, size_t len, uint8_t proto, uint32_t src, uint32_t dst)
{
  size_t o = l4_csum_off(proto);
  l4[o] = l4[o + 1] = 0;
  uint16_t c = (uint16_t)~ref_sum(l4, len, proto == 1 ? 0 : pseudo(src, dst, proto, len));
  if (proto == 17 && c == 0)
    c = 0xffff;
  l4[o] = (uint8_t)(c >> 8);
  l4[o + 1] = (uint8_t)c;
}

/* Ethernet + IPv4 (hlen bytes of header, options zero-filled) + payload.
 * frag: the flags/offset word.  Checksums of the header always, of the
 * payload when it is a whole TCP/UDP/ICMP segment. */
static size_t build(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src, uint32_t dst,
                    uint8_t proto, const uint8_t *payload, size_t plen, size_t hlen, uint16_t frag)
{
  memcpy(f, dmac, 6);
  memcpy(f + 6, smac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t *h = f + 14;
  size_t tot = hlen + plen;
  memset(h, 0, hlen);
  h[0] = (uint8_t)(0x40 | hlen / 4);
  h[2] = (uint8_t)(tot >> 8);
  h[3] = (uint8_t)tot;
  h[4] = 0xbe;
  h[5] = 0xef;
  h[6] = (uint8_t)(frag >> 8);
  h[7] = (uint8_t)frag;
  h[8] = 64;
  h[9] = proto;
  memcpy(h + 12, &src, 4);
  memcpy(h + 16, &dst, 4);
  if (hlen > 20)
    h[20] = 1;                            /* NOP options */
  memcpy(h + hlen, payload, plen);
  if (frag == 0 || frag == 0x4000)
    if (proto == 6 || proto == 17 || proto == 1)
      ref_fix_l4(h + hlen, plen, proto, src, dst);
  uint16_t c = (uint16_t)~ref_sum(h, hlen, 0);
  h[10] = (uint8_t)(c >> 8);
  h[11] = (uint8_t)c;
  return 14 + tot;
}

static void tcp_payload(uint8_t *p, size_t len)
{
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(i * 13 + 1);
  p[12] = 0x50;                           /* data offset 5 */
  p[13] = 0x02;                           /* SYN */
}

static void udp_payload(uint8_t *p, size_t len)
{
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(i * 29 + 5);
  p[4] = (uint8_t)(len >> 8);
  p[5] = (uint8_t)len;
}

static uint32_t get_ip(const uint8_t *f, size_t off)
{
  uint32_t v;
  memcpy(&v, f + 14 + off, 4);
  return v;
}

/* Full verification: header checksum, and the L4 checksum if whole. */
static void assert_checksums_ok(const uint8_t *f, size_t n)
{
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(fi.l3, FRAME_L3_IP4);
  const uint8_t *h = f + fi.l3_off;
  assert_int_equal(ref_sum(h, fi.ip4.hlen, 0), 0xffff);
  if (fi.ip4.mf || fi.ip4.frag_off)
    return;
  const uint8_t *l4 = f + fi.ip4.l4_off;
  size_t len = fi.ip4.l4_len;
  if (fi.ip4.proto == 17 && l4[6] == 0 && l4[7] == 0)
    return;                               /* no UDP checksum */
  if (fi.ip4.proto == 6 || fi.ip4.proto == 17)
    assert_int_equal(ref_sum(l4, len, pseudo(fi.ip4.src, fi.ip4.dst, fi.ip4.proto, len)), 0xffff);
  else if (fi.ip4.proto == 1)
    assert_int_equal(ref_sum(l4, len, 0), 0xffff);
}

/* Send from Alice's host to Bob's host (or back): route + egress on the
 * sender's tincan, ingress on the receiver's.  Returns the final verdicts. */
static void carry(struct addrmap *from, uint32_t from_link, struct addrmap *to, uint32_t to_link,
                  uint8_t *f, size_t n, int want_egress, int want_ingress)
{
  struct frame_info fi;
  uint32_t link = 0;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  if (want_egress == ADDRMAP_REWRITTEN) {
    assert_int_equal(addrmap_route(from, &fi, &link), 0);
    assert_int_equal(link, from_link);
  }
  assert_int_equal(addrmap_egress(from, from_link, f, &fi), want_egress);
  if (want_egress == ADDRMAP_DROP)
    return;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_ingress(to, to_link, f, &fi), want_ingress);
}

/* ---- tests ---- */

static void test_tcp_round_trip(void **state)
{
  struct world *w = *state;
  uint8_t seg[40], f[256], mac[6];
  tcp_payload(seg, sizeof(seg));

  /* Alice -> Bob (at 172.31.0.2, Alice's view). */
  addrmap_mac_for(BOB_AT_ALICE, mac);
  size_t n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 6, seg, sizeof(seg), 20, 0x4000);
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_int_equal(get_ip(f, 12), ALICE_AT_BOB);  /* Bob sees Alice at .3 */
  assert_int_equal(get_ip(f, 16), REAL);          /* ... talking to himself */
  addrmap_mac_for(ALICE_AT_BOB, mac);
  assert_memory_equal(f + 6, mac, 6);
  assert_memory_equal(f, MAC_BOB, 6);
  assert_checksums_ok(f, n);
  assert_memory_equal(f + 34 + 18, seg + 18, sizeof(seg) - 18);   /* data untouched */

  /* Bob's answer to 172.31.0.3. */
  n = build(f, mac, MAC_BOB, REAL, ALICE_AT_BOB, 6, seg, sizeof(seg), 20, 0x4000);
  carry(&w->bob, BOB_LINK_TO_ALICE, &w->alice, ALICE_LINK_TO_BOB, f, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_int_equal(get_ip(f, 12), BOB_AT_ALICE);
  assert_int_equal(get_ip(f, 16), REAL);
  addrmap_mac_for(BOB_AT_ALICE, mac);
  assert_memory_equal(f + 6, mac, 6);
  assert_memory_equal(f, MAC_ALICE, 6);
  assert_checksums_ok(f, n);
  assert_int_equal(w->alice.stats.egress_rewritten, 1);
  assert_int_equal(w->alice.stats.ingress_rewritten, 1);
  assert_int_equal(w->bob.stats.egress_rewritten, 1);
  assert_int_equal(w->bob.stats.ingress_rewritten, 1);
}

static void test_udp(void **state)
{
  struct world *w = *state;
  uint8_t dg[31], f[256], mac[6];
  addrmap_mac_for(BOB_AT_ALICE, mac);
  udp_payload(dg, sizeof(dg));
  size_t n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg, sizeof(dg), 24, 0);
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_int_equal(get_ip(f, 12), ALICE_AT_BOB);
  assert_checksums_ok(f, n);

  /* Checksum 0 (none) stays 0. */
  n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg, sizeof(dg), 20, 0);
  f[34 + 6] = f[34 + 7] = 0;
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_int_equal(f[34 + 6] | f[34 + 7], 0);
  assert_checksums_ok(f, n);
}

/* A datagram whose checksum after translation computes to 0 must carry
 * 0xffff (RFC 768), never 0, which would mean "no checksum". */
static void test_udp_zero_result(void **state)
{
  struct world *w = *state;
  uint8_t dg[12], f[128], mac[6];
  struct frame_info fi;
  addrmap_mac_for(BOB_AT_ALICE, mac);
  udp_payload(dg, sizeof(dg));
  bool found = false;
  for (uint32_t x = 0; x < 65536 && !found; x++) {
    dg[8] = (uint8_t)(x >> 8);
    dg[9] = (uint8_t)x;
    /* the translated datagram: REAL -> REAL */
    dg[6] = dg[7] = 0;
    uint16_t s = ref_sum(dg, sizeof(dg), pseudo(REAL, REAL, 17, sizeof(dg)));
    if (s != 0xffff)
      continue;
    found = true;
    size_t n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg, sizeof(dg), 20, 0);
    assert_int_not_equal(f[34 + 6] | f[34 + 7], 0);
    assert_int_equal(frame_parse(&fi, f, n), 0);
    assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_REWRITTEN);
    assert_int_equal(f[34 + 6], 0xff);
    assert_int_equal(f[34 + 7], 0xff);
    assert_checksums_ok(f, n);
  }
  assert_true(found);
}

static void test_icmp_echo(void **state)
{
  struct world *w = *state;
  uint8_t echo[64] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1 }, f[256], mac[6];
  for (size_t i = 8; i < sizeof(echo); i++)
    echo[i] = (uint8_t)i;
  addrmap_mac_for(BOB_AT_ALICE, mac);
  size_t n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 1, echo, sizeof(echo), 20, 0);
  uint8_t before[64];
  memcpy(before, f + 34, sizeof(before));
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_memory_equal(f + 34, before, sizeof(before));    /* ICMP untouched */
  assert_int_equal(get_ip(f, 12), ALICE_AT_BOB);
  assert_checksums_ok(f, n);
  assert_int_equal(w->bob.stats.icmp_quotes_rewritten, 0);
}

/* Bob's host refuses a datagram from Alice with an ICMP error quoting it;
 * after both tincans, Alice must find her own datagram, byte for byte, in
 * the quote.  Once with a UDP quote, once with a whole TCP segment. */
static void icmp_error_case(struct world *w, uint8_t proto, size_t quote_extra)
{
  uint8_t seg[40], orig[128], f[512], g[256], err[300], mac_b[6], mac_a[6];
  struct frame_info fi;
  addrmap_mac_for(BOB_AT_ALICE, mac_b);
  addrmap_mac_for(ALICE_AT_BOB, mac_a);
  if (proto == 6)
    tcp_payload(seg, sizeof(seg));
  else
    udp_payload(seg, sizeof(seg));

  /* What Alice's host sends, and what Bob's host receives. */
  size_t n = build(orig, mac_b, MAC_ALICE, REAL, BOB_AT_ALICE, proto, seg, sizeof(seg), 20, 0);
  memcpy(g, orig, n);
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, g, n, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_int_equal(get_ip(g, 12), ALICE_AT_BOB);

  /* Bob's host: port unreachable, quoting header + 8 (+ quote_extra). */
  size_t qlen = 20 + 8 + quote_extra;
  memset(err, 0, sizeof(err));
  err[0] = 3;
  err[1] = 3;
  memcpy(err + 8, g + 14, qlen);
  size_t m = build(f, mac_a, MAC_BOB, REAL, ALICE_AT_BOB, 1, err, 8 + qlen, 20, 0);
  carry(&w->bob, BOB_LINK_TO_ALICE, &w->alice, ALICE_LINK_TO_BOB, f, m, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_checksums_ok(f, m);              /* outer header and whole ICMP message */
  assert_int_equal(get_ip(f, 12), BOB_AT_ALICE);
  assert_int_equal(get_ip(f, 16), REAL);
  assert_memory_equal(f + 34 + 8, orig + 14, qlen);       /* Alice's own datagram */
  assert_int_equal(w->alice.stats.icmp_quotes_rewritten, 1);
  assert_int_equal(w->bob.stats.icmp_quotes_rewritten, 1);
  assert_int_equal(frame_parse(&fi, f, m), 0);
}

static void test_icmp_error_udp(void **state)
{
  icmp_error_case(*state, 17, 0);
}

static void test_icmp_error_tcp(void **state)
{
  icmp_error_case(*state, 6, 32);          /* whole 40-byte segment quoted */
}

static void test_icmp_error_tcp_short_quote(void **state)
{
  icmp_error_case(*state, 6, 0);           /* TCP checksum not in the quote */
}

static void test_drops_and_passes(void **state)
{
  struct world *w = *state;
  uint8_t dg[16], f[256], g[256], mac[6];
  struct frame_info fi;
  uint32_t link;
  addrmap_mac_for(BOB_AT_ALICE, mac);
  udp_payload(dg, sizeof(dg));

  /* Egress to a mapped link: only the mapped destination goes. */
  size_t n = build(f, mac, MAC_ALICE, REAL, ip(172, 31, 0, 5), 17, dg, sizeof(dg), 20, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_route(&w->alice, &fi, &link), IPOP_ENOENT);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_DROP);
  n = build(f, BCAST, MAC_ALICE, REAL, ip(172, 31, 0, 255), 17, dg, sizeof(dg), 20, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_DROP);
  assert_int_equal(w->alice.stats.dropped_unmapped, 2);
  /* ... but the same frame passes untouched on an unmapped link. */
  memcpy(g, f, n);
  assert_int_equal(addrmap_egress(&w->alice, 99, f, &fi), ADDRMAP_PASS);
  assert_int_equal(addrmap_ingress(&w->alice, 99, f, &fi), ADDRMAP_PASS);
  assert_memory_equal(f, g, n);

  /* Ingress from a mapped link: only from the peer's real address. */
  n = build(f, MAC_ALICE, MAC_BOB, ip(172, 31, 0, 9), REAL, 17, dg, sizeof(dg), 20, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_ingress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_DROP);

  /* ARP never crosses a mapped link. */
  uint8_t arp[42];
  memcpy(arp, BCAST, 6);
  memcpy(arp + 6, MAC_ALICE, 6);
  static const uint8_t hdr[10] = { 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };
  memcpy(arp + 12, hdr, 10);
  memcpy(arp + 22, MAC_ALICE, 6);
  uint32_t a = REAL, t = ip(172, 31, 0, 5);
  memcpy(arp + 28, &a, 4);
  memset(arp + 32, 0, 6);
  memcpy(arp + 38, &t, 4);
  assert_int_equal(frame_parse(&fi, arp, sizeof(arp)), 0);
  assert_int_equal(fi.l3, FRAME_L3_ARP);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, arp, &fi), ADDRMAP_DROP);
  assert_int_equal(addrmap_ingress(&w->alice, ALICE_LINK_TO_BOB, arp, &fi), ADDRMAP_DROP);
  assert_int_equal(addrmap_egress(&w->alice, 99, arp, &fi), ADDRMAP_PASS);
  assert_int_equal(w->alice.stats.dropped_arp, 2);

  /* IPv6 on a link without an IPv6 mapping is dropped (test_addrmap6.c
   * covers mapped IPv6); other ethertypes pass. */
  uint8_t v6[54] = { 0 };
  memcpy(v6, MAC_BOB, 6);
  memcpy(v6 + 6, MAC_ALICE, 6);
  v6[12] = 0x86;
  v6[13] = 0xdd;
  v6[14] = 0x60;
  v6[20] = 59;                            /* no next header */
  assert_int_equal(frame_parse(&fi, v6, sizeof(v6)), 0);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, v6, &fi), ADDRMAP_DROP);
  assert_int_equal(addrmap_ingress(&w->alice, ALICE_LINK_TO_BOB, v6, &fi), ADDRMAP_DROP);
  v6[12] = 0x88;                          /* some other ethertype */
  v6[13] = 0xb5;
  assert_int_equal(frame_parse(&fi, v6, sizeof(v6)), 0);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, v6, &fi), ADDRMAP_PASS);
  assert_int_equal(addrmap_ingress(&w->alice, ALICE_LINK_TO_BOB, v6, &fi), ADDRMAP_PASS);

  /* Truncated L4 headers in a first fragment. */
  n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 6, dg, 16, 20, 0x2000);  /* 16 < 20 */
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_DROP);
  n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg, 6, 20, 0);         /* 6 < 8 */
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_egress(&w->alice, ALICE_LINK_TO_BOB, f, &fi), ADDRMAP_DROP);
  assert_int_equal(w->alice.stats.dropped_malformed, 2);

  /* Bad arguments. */
  assert_int_equal(addrmap_egress(NULL, 1, f, &fi), IPOP_EINVAL);
  assert_int_equal(addrmap_ingress(&w->alice, 1, g, &fi), IPOP_EINVAL);  /* fi is not g's */
}

/* A fragmented UDP datagram: only the first fragment carries the checksum;
 * translated, the reassembled datagram must still verify. */
static void test_fragments(void **state)
{
  struct world *w = *state;
  uint8_t dg[100], f1[256], f2[256], whole[100], mac[6];
  addrmap_mac_for(BOB_AT_ALICE, mac);
  udp_payload(dg, sizeof(dg));
  ref_fix_l4(dg, sizeof(dg), 17, REAL, BOB_AT_ALICE);
  size_t n1 = build(f1, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg, 48, 20, 0x2000);
  size_t n2 = build(f2, mac, MAC_ALICE, REAL, BOB_AT_ALICE, 17, dg + 48, 52, 20, 6);
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f1, n1, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f2, n2, ADDRMAP_REWRITTEN,
        ADDRMAP_REWRITTEN);
  assert_checksums_ok(f1, n1);
  assert_checksums_ok(f2, n2);
  assert_memory_equal(f2 + 34, dg + 48, 52);            /* later fragment: payload untouched */
  memcpy(whole, f1 + 34, 48);
  memcpy(whole + 48, f2 + 34, 52);
  assert_int_equal(get_ip(f1, 12), ALICE_AT_BOB);
  assert_int_equal(get_ip(f2, 12), ALICE_AT_BOB);
  assert_int_equal(ref_sum(whole, sizeof(whole), pseudo(ALICE_AT_BOB, REAL, 17, sizeof(whole))),
                   0xffff);
}

static size_t arp_request(uint8_t *f, bool vlan, uint32_t spa, uint32_t tpa)
{
  size_t o = 12;
  memcpy(f, BCAST, 6);
  memcpy(f + 6, MAC_ALICE, 6);
  if (vlan) {
    f[12] = 0x81; f[13] = 0x00; f[14] = 0x00; f[15] = 0x2a;
    o = 16;
  }
  static const uint8_t hdr[10] = { 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1 };
  memcpy(f + o, hdr, 10);
  memcpy(f + o + 10, MAC_ALICE, 6);
  memcpy(f + o + 16, &spa, 4);
  memset(f + o + 20, 0, 6);
  memcpy(f + o + 26, &tpa, 4);
  return o + 30;
}

static void test_arp_reply(void **state)
{
  struct world *w = *state;
  uint8_t req[64], out[64], mac[6];
  struct frame_info fi, r;
  size_t len;
  addrmap_mac_for(BOB_AT_ALICE, mac);
  static const uint8_t want_mac[6] = { 0x02, 0x49, 172, 31, 0, 2 };
  assert_memory_equal(mac, want_mac, 6);

  size_t n = arp_request(req, false, REAL, BOB_AT_ALICE);
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, out, sizeof(out), &len), 1);
  assert_int_equal(len, ADDRMAP_ARP_REPLY_LEN);
  assert_int_equal(frame_parse(&r, out, len), 0);
  assert_int_equal(r.l3, FRAME_L3_ARP);
  assert_int_equal(r.cast, FRAME_UNICAST);
  assert_memory_equal(r.dst, MAC_ALICE, 6);
  assert_memory_equal(r.src, mac, 6);
  assert_int_equal(r.arp.op, FRAME_ARP_REPLY);
  assert_memory_equal(r.arp.sha, mac, 6);
  assert_int_equal(r.arp.spa, BOB_AT_ALICE);
  assert_memory_equal(r.arp.tha, MAC_ALICE, 6);
  assert_int_equal(r.arp.tpa, REAL);
  assert_int_equal(w->alice.stats.arp_replies, 1);

  /* Too small an output buffer. */
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, out, ADDRMAP_ARP_REPLY_LEN - 1, &len),
                   IPOP_ETOOBIG);
  /* Not a mapped address, or Bob's tincan asked about Alice's view. */
  n = arp_request(req, false, REAL, ip(172, 31, 0, 9));
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, out, sizeof(out), &len), 0);
  n = arp_request(req, false, REAL, BOB_AT_ALICE);
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->bob, &fi, out, sizeof(out), &len), 0);
  /* An announcement of the mapped address itself is not answered. */
  n = arp_request(req, false, BOB_AT_ALICE, BOB_AT_ALICE);
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, out, sizeof(out), &len), 0);
  /* A reply is not a request. */
  n = arp_request(req, false, REAL, BOB_AT_ALICE);
  req[21] = 2;
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, out, sizeof(out), &len), 0);

  /* A tagged request gets a tagged reply, built in the request's buffer. */
  n = arp_request(req, true, REAL, BOB_AT_ALICE);
  assert_int_equal(frame_parse(&fi, req, n), 0);
  assert_int_equal(addrmap_arp_reply(&w->alice, &fi, req, sizeof(req), &len), 1);
  assert_int_equal(len, ADDRMAP_ARP_REPLY_LEN + 4);
  assert_int_equal(frame_parse(&r, req, len), 0);
  assert_true(r.has_vlan);
  assert_int_equal(r.vlan_tci, 0x2a);
  assert_int_equal(r.l3, FRAME_L3_ARP);
  assert_int_equal(r.arp.op, FRAME_ARP_REPLY);
  assert_memory_equal(r.dst, MAC_ALICE, 6);
  assert_memory_equal(r.arp.tha, MAC_ALICE, 6);
  assert_int_equal(r.arp.spa, BOB_AT_ALICE);
  assert_int_equal(r.arp.tpa, REAL);
}

static void test_config(void **state)
{
  struct world *w = *state;
  struct addrmap *m = &w->alice;
  assert_int_equal(addrmap_set(m, 1, 0, REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set(m, 1, ip(255, 255, 255, 255), REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set(m, 1, ip(224, 0, 0, 1), REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set(m, 1, ip(10, 0, 0, 1), ip(240, 0, 0, 1)), IPOP_EINVAL);
  assert_int_equal(addrmap_set(m, 1, BOB_AT_ALICE, REAL), IPOP_EEXIST);
  /* Re-mapping a link replaces its entry. */
  assert_int_equal(addrmap_set(m, ALICE_LINK_TO_BOB, ip(172, 31, 0, 20), REAL), 0);
  assert_int_equal(m->n, 1);
  const struct addrmap_entry *e = addrmap_find_link(m, ALICE_LINK_TO_BOB);
  assert_non_null(e);
  assert_int_equal(e->mapped_ip4, ip(172, 31, 0, 20));
  assert_int_equal(e->mapped_mac[5], 20);
  assert_null(addrmap_find_link(m, 1));
  assert_int_equal(addrmap_remove(m, ALICE_LINK_TO_BOB), 0);
  assert_int_equal(addrmap_remove(m, ALICE_LINK_TO_BOB), IPOP_ENOENT);
  assert_int_equal(m->n, 0);
  for (uint32_t i = 0; i < ADDRMAP_MAX_ENTRIES; i++)
    assert_int_equal(addrmap_set(m, i, ip(10, 1, (uint8_t)(i >> 8), (uint8_t)(i + 1)), REAL), 0);
  assert_int_equal(addrmap_set(m, 9999, ip(10, 2, 0, 1), REAL), IPOP_ENOMEM);
  assert_int_equal(addrmap_remove(m, 17), 0);
  assert_null(addrmap_find_link(m, 17));
  assert_non_null(addrmap_find_link(m, ADDRMAP_MAX_ENTRIES - 1));
  assert_int_equal(addrmap_set(m, 9999, ip(10, 2, 0, 1), REAL), 0);
  assert_int_equal(addrmap_init(NULL, MAC_ALICE), IPOP_EINVAL);
}

/* ---- the whole per-frame sequence of addrmap.h, as the daemon runs it ---- */

struct node {
  struct addrmap map;
  struct switch_table sw;
  uint8_t tap[4][128];                    /* frames written to the TAP */
  size_t tap_len[4];
  int n_tap;
  uint8_t sent[4][128];                   /* frames sent on links */
  size_t sent_len[4];
  uint32_t sent_link[4];
  int n_sent;
};

static void to_tap(struct node *nd, const uint8_t *f, size_t n)
{
  assert_true(nd->n_tap < 4 && n <= 128);
  memcpy(nd->tap[nd->n_tap], f, n);
  nd->tap_len[nd->n_tap++] = n;
}

static void on_link(struct node *nd, uint32_t link, const uint8_t *f, size_t n)
{
  assert_true(nd->n_sent < 4 && n <= 128);
  memcpy(nd->sent[nd->n_sent], f, n);
  nd->sent_len[nd->n_sent] = n;
  nd->sent_link[nd->n_sent++] = link;
}

static void node_from_tap(struct node *nd, uint8_t *f, size_t n, const uint32_t *links, int n_links,
                          uint64_t now)
{
  struct frame_info fi;
  struct switch_decision d;
  uint8_t reply[64];
  size_t rlen;
  uint32_t link;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  if (addrmap_arp_reply(&nd->map, &fi, reply, sizeof(reply), &rlen) == 1) {
    to_tap(nd, reply, rlen);
    return;
  }
  if (addrmap_route(&nd->map, &fi, &link) == 0) {
    d.action = SWITCH_UNICAST;
    d.link = link;
  } else {
    assert_int_equal(switch_decide(&nd->sw, &fi, now, &d), 0);
  }
  if (d.action == SWITCH_UNICAST) {
    if (addrmap_egress(&nd->map, d.link, f, &fi) != ADDRMAP_DROP)
      on_link(nd, d.link, f, n);
  } else if (d.action == SWITCH_FLOOD) {
    for (int i = 0; i < n_links; i++) {
      int v = addrmap_egress(&nd->map, links[i], f, &fi);
      assert_int_not_equal(v, ADDRMAP_REWRITTEN);   /* one buffer serves a flood */
      if (v == ADDRMAP_PASS)
        on_link(nd, links[i], f, n);
    }
  }
}

static void node_from_link(struct node *nd, uint32_t link, uint8_t *f, size_t n, uint64_t now)
{
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  if (addrmap_ingress(&nd->map, link, f, &fi) == ADDRMAP_DROP)
    return;
  assert_true(switch_learn(&nd->sw, fi.src, link, now) >= 0);
  to_tap(nd, f, n);
}

static size_t echo_frame(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, uint32_t src,
                         uint32_t dst, uint8_t type)
{
  uint8_t echo[16] = { type, 0, 0, 0, 0x77, 0x77, 0, 1, 'p', 'i', 'n', 'g' };
  return build(f, dmac, smac, src, dst, 1, echo, sizeof(echo), 20, 0);
}

static void test_pipeline(void **state)
{
  enum { CAROL = 9 };
  const uint32_t alice_links[] = { ALICE_LINK_TO_BOB, CAROL };
  const uint32_t bob_links[] = { BOB_LINK_TO_ALICE };
  struct node *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
  uint8_t f[128], mac_b[6], mac_a[6];
  struct frame_info fi;
  uint32_t link;
  (void)state;
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(addrmap_init(&a->map, MAC_ALICE), 0);
  assert_int_equal(addrmap_init(&b->map, MAC_BOB), 0);
  assert_int_equal(addrmap_set(&a->map, ALICE_LINK_TO_BOB, BOB_AT_ALICE, REAL), 0);
  assert_int_equal(addrmap_set(&b->map, BOB_LINK_TO_ALICE, ALICE_AT_BOB, REAL), 0);
  assert_int_equal(switch_init(&a->sw, 0, 0, 1, MAC_ALICE), 0);
  assert_int_equal(switch_init(&b->sw, 0, 0, 2, MAC_BOB), 0);
  addrmap_mac_for(BOB_AT_ALICE, mac_b);
  addrmap_mac_for(ALICE_AT_BOB, mac_a);

  /* Alice's host resolves 172.31.0.2: answered locally, nothing sent. */
  size_t n = arp_request(f, false, REAL, BOB_AT_ALICE);
  node_from_tap(a, f, n, alice_links, 2, 10);
  assert_int_equal(a->n_tap, 1);
  assert_int_equal(a->n_sent, 0);
  assert_int_equal(frame_parse(&fi, a->tap[0], a->tap_len[0]), 0);
  assert_memory_equal(fi.arp.sha, mac_b, 6);

  /* ARP for an unmapped address floods to Carol only. */
  n = arp_request(f, false, REAL, ip(172, 31, 0, 50));
  node_from_tap(a, f, n, alice_links, 2, 10);
  assert_int_equal(a->n_sent, 1);
  assert_int_equal(a->sent_link[0], CAROL);

  /* Ping 172.31.0.2: to Bob's link only, arriving from 172.31.0.3. */
  n = echo_frame(f, mac_b, MAC_ALICE, REAL, BOB_AT_ALICE, 8);
  node_from_tap(a, f, n, alice_links, 2, 20);
  assert_int_equal(a->n_sent, 2);
  assert_int_equal(a->sent_link[1], ALICE_LINK_TO_BOB);
  node_from_link(b, BOB_LINK_TO_ALICE, a->sent[1], a->sent_len[1], 21);
  assert_int_equal(b->n_tap, 1);
  assert_int_equal(frame_parse(&fi, b->tap[0], b->tap_len[0]), 0);
  assert_int_equal(fi.ip4.src, ALICE_AT_BOB);
  assert_int_equal(fi.ip4.dst, REAL);
  assert_memory_equal(fi.src, mac_a, 6);
  assert_memory_equal(fi.dst, MAC_BOB, 6);
  assert_checksums_ok(b->tap[0], b->tap_len[0]);
  /* Bob's switch now knows Alice's mapped MAC is behind link 3. */
  assert_int_equal(switch_lookup(&b->sw, mac_a, 21, &link), 0);
  assert_int_equal(link, BOB_LINK_TO_ALICE);

  /* Bob's host resolves 172.31.0.3 and gets the same MAC it saw. */
  n = arp_request(f, false, REAL, ALICE_AT_BOB);
  memcpy(f + 6, MAC_BOB, 6);
  memcpy(f + 22, MAC_BOB, 6);
  node_from_tap(b, f, n, bob_links, 1, 22);
  assert_int_equal(b->n_tap, 2);
  assert_int_equal(frame_parse(&fi, b->tap[1], b->tap_len[1]), 0);
  assert_memory_equal(fi.arp.sha, mac_a, 6);
  assert_memory_equal(fi.dst, MAC_BOB, 6);

  /* The echo reply goes back the same way. */
  n = echo_frame(f, mac_a, MAC_BOB, REAL, ALICE_AT_BOB, 0);
  node_from_tap(b, f, n, bob_links, 1, 23);
  assert_int_equal(b->n_sent, 1);
  assert_int_equal(b->sent_link[0], BOB_LINK_TO_ALICE);
  node_from_link(a, ALICE_LINK_TO_BOB, b->sent[0], b->sent_len[0], 24);
  assert_int_equal(a->n_tap, 2);
  assert_int_equal(frame_parse(&fi, a->tap[1], a->tap_len[1]), 0);
  assert_int_equal(fi.ip4.src, BOB_AT_ALICE);
  assert_int_equal(fi.ip4.dst, REAL);
  assert_memory_equal(fi.src, mac_b, 6);
  assert_memory_equal(fi.dst, MAC_ALICE, 6);
  assert_checksums_ok(a->tap[1], a->tap_len[1]);
  free(a);
  free(b);
}

/* ---- randomized: valid packets of every kind keep valid checksums ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void test_random_packets(void **state)
{
  struct world *w = *state;
  static const uint8_t protos[] = { 6, 17, 1, 47 };
  uint8_t pl[600], f[700], mac[6];
  addrmap_mac_for(BOB_AT_ALICE, mac);
  for (int iter = 0; iter < 5000; iter++) {
    uint8_t proto = protos[rnd() % 4];
    size_t plen = 20 + (size_t)(rnd() % 500);
    for (size_t i = 0; i < plen; i++)
      pl[i] = (uint8_t)rnd();
    if (proto == 17)
      udp_payload(pl, plen);
    if (proto == 1 && rnd() % 2) {            /* an ICMP error quoting Bob's real self */
      pl[0] = 3;
      pl[8] = 0x45;
      uint32_t s = rnd() % 2 ? BOB_AT_ALICE : ip(1, 2, 3, 4);
      memcpy(pl + 8 + 12, &s, 4);
      pl[8 + 6] = 0;
      pl[8 + 7] = 0;
    }
    size_t hlen = 20 + 4 * (size_t)(rnd() % 11);
    size_t n = build(f, mac, MAC_ALICE, REAL, BOB_AT_ALICE, proto, pl, plen, hlen, 0);
    carry(&w->alice, ALICE_LINK_TO_BOB, &w->bob, BOB_LINK_TO_ALICE, f, n, ADDRMAP_REWRITTEN,
          ADDRMAP_REWRITTEN);
    assert_checksums_ok(f, n);
    assert_int_equal(get_ip(f, 12), ALICE_AT_BOB);
  }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_tcp_round_trip),
    T(test_udp),
    T(test_udp_zero_result),
    T(test_icmp_echo),
    T(test_icmp_error_udp),
    T(test_icmp_error_tcp),
    T(test_icmp_error_tcp_short_quote),
    T(test_drops_and_passes),
    T(test_fragments),
    T(test_arp_reply),
    T(test_config),
    T(test_pipeline),
    T(test_random_packets),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
