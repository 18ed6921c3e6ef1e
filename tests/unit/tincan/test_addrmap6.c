/* addrmap, IPv6: two SocialVPN users who both use fd00:a::1 reach each other
 * at mapped addresses (Alice sees Bob at fd00:a::2, Bob sees Alice at
 * fd00:a::3).  Packets are built by hand, carried through Alice's egress and
 * Bob's ingress, and their checksums verified by a full recomputation with
 * a reference implementation.  Also: Neighbor Discovery answered locally,
 * ND and spoofed sources dropped at the link, extension headers, and the
 * checks of addrmap_set6. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "addrmap.h"
#include "addrmap_ref.h"
#include "error.h"

static const uint8_t MAC_ALICE[6] = { 0x02, 0xa1, 0x1c, 0xe0, 0x00, 0x01 };
static const uint8_t MAC_BOB[6] = { 0x02, 0xb0, 0xb0, 0x00, 0x00, 0x01 };
enum { A_TO_B = 7, B_TO_A = 3 };

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  uint8_t x[4] = { a, b, c, d };
  uint32_t v;
  memcpy(&v, x, 4);
  return v;
}

static struct in6_addr A6(const char *s)
{
  struct in6_addr a;
  inet_pton(AF_INET6, s, &a);
  return a;
}

static uint8_t REAL[16], BOB_AT_ALICE[16], ALICE_AT_BOB[16], OTHER[16], LL[16];

struct world {
  struct addrmap alice, bob;
};

static int setup(void **state)
{
  memcpy(REAL, A6("fd00:a::1").s6_addr, 16);
  memcpy(BOB_AT_ALICE, A6("fd00:a::2").s6_addr, 16);
  memcpy(ALICE_AT_BOB, A6("fd00:a::3").s6_addr, 16);
  memcpy(OTHER, A6("fd00:a::99").s6_addr, 16);
  memcpy(LL, A6("fe80::1").s6_addr, 16);
  struct world *w = calloc(1, sizeof(*w));
  if (!w || addrmap_init(&w->alice, MAC_ALICE) || addrmap_init(&w->bob, MAC_BOB) ||
      addrmap_set(&w->alice, A_TO_B, ip4(172, 31, 0, 2), ip4(172, 31, 0, 1)) ||
      addrmap_set(&w->bob, B_TO_A, ip4(172, 31, 0, 3), ip4(172, 31, 0, 1)) ||
      addrmap_set6(&w->alice, A_TO_B, BOB_AT_ALICE, REAL) ||
      addrmap_set6(&w->bob, B_TO_A, ALICE_AT_BOB, REAL)) {
    free(w);
    return -1;
  }
  *state = w;
  return 0;
}

/* ---- reference checksum and builder ---- */

static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint8_t proto, size_t len)
{
  uint8_t ph[40] = { 0 };
  memcpy(ph, src, 16);
  memcpy(ph + 16, dst, 16);
  ph[34] = (uint8_t)(len >> 8);
  ph[35] = (uint8_t)len;
  ph[39] = proto;
  return ref_sum(ph, 40, 0);
}

static size_t csum_off(uint8_t proto)
{
  return proto == 6 ? 16 : proto == 17 ? 6 : 2;
}

/* Offset of the upper layer behind the IPv6 header at h (ext headers as
 * this test builds them: 8 bytes each). */
static size_t upper(const uint8_t *h, uint8_t *proto)
{
  size_t o = 40;
  uint8_t nh = h[6];
  while (nh == 0 || nh == 60 || nh == 44 || nh == 43) {
    nh = h[o];
    o += 8;
  }
  *proto = nh;
  return o;
}

/* Ethernet + IPv6 (+ ext, 8 bytes each with the given next-header types)
 * + upper-layer payload with a correct checksum. */
static size_t build6(uint8_t *f, const uint8_t *dmac, const uint8_t *smac, const uint8_t *src,
                     const uint8_t *dst, uint8_t proto, const uint8_t *pl, size_t plen,
                     const uint8_t *ext, size_t n_ext)
{
  memcpy(f, dmac, 6);
  memcpy(f + 6, smac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  uint8_t *h = f + 14;
  memset(h, 0, 40);
  h[0] = 0x60;
  size_t paylen = 8 * n_ext + plen;
  h[4] = (uint8_t)(paylen >> 8);
  h[5] = (uint8_t)paylen;
  h[6] = n_ext ? ext[0] : proto;
  h[7] = 64;
  memcpy(h + 8, src, 16);
  memcpy(h + 24, dst, 16);
  uint8_t *p = h + 40;
  for (size_t i = 0; i < n_ext; i++, p += 8) {
    memset(p, 0, 8);
    p[0] = i + 1 < n_ext ? ext[i + 1] : proto;
    if (ext[i] == 0 || ext[i] == 60) {
      p[2] = 1;                           /* PadN, 4 bytes of padding */
      p[3] = 4;
    }
  }
  memcpy(p, pl, plen);
  size_t o = csum_off(proto);
  if (proto == 6 || proto == 17 || proto == 58) {
    p[o] = p[o + 1] = 0;
    uint16_t c = (uint16_t)~ref_sum(p, plen, pseudo6(src, dst, proto, plen));
    if (proto == 17 && c == 0)
      c = 0xffff;
    p[o] = (uint8_t)(c >> 8);
    p[o + 1] = (uint8_t)c;
  }
  return 14 + 40 + paylen;
}

static void assert_csum_ok(const uint8_t *f, size_t n)
{
  const uint8_t *h = f + 14;
  uint8_t proto;
  size_t o = upper(h, &proto);
  size_t len = n - 14 - o;
  if (proto == 6 || proto == 17 || proto == 58)
    assert_int_equal(ref_sum(h + o, len, pseudo6(h + 8, h + 24, proto, len)), 0xffff);
}

static void payload(uint8_t *p, size_t len, uint8_t proto, unsigned seed)
{
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(i * 7 + seed);
  if (proto == 6)
    p[12] = 0x50;
  if (proto == 17) {
    p[4] = (uint8_t)(len >> 8);
    p[5] = (uint8_t)len;
  }
  if (proto == 58) {
    p[0] = 128;                           /* echo request */
    p[1] = 0;
  }
}

/* Alice's host -> Alice's egress -> Bob's ingress -> Bob's host. */
static void carry(struct world *w, uint8_t *f, size_t n, int want_out, int want_in)
{
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_egress(&w->alice, A_TO_B, f, &fi), want_out);
  if (want_out == ADDRMAP_DROP)
    return;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_ingress(&w->bob, B_TO_A, f, &fi), want_in);
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
  struct world *w = *state;
  static const uint8_t protos[] = { 6, 17, 58 };
  uint8_t f[1600], pl[1400];
  for (size_t k = 0; k < 3; k++) {
    payload(pl, 100, protos[k], 3);
    size_t n = build6(f, w->alice.local_mac, MAC_ALICE, REAL, BOB_AT_ALICE, protos[k], pl, 100,
                      NULL, 0);
    struct frame_info fi;
    assert_int_equal(frame_parse(&fi, f, n), 0);
    uint32_t link = 0;
    assert_int_equal(addrmap_route(&w->alice, &fi, &link), 0);
    assert_int_equal(link, A_TO_B);
    carry(w, f, n, ADDRMAP_REWRITTEN, ADDRMAP_REWRITTEN);
    assert_memory_equal(f + 14 + 8, ALICE_AT_BOB, 16);   /* Bob sees Alice at ::3 */
    assert_memory_equal(f + 14 + 24, REAL, 16);          /* ... talking to himself */
    assert_csum_ok(f, n);
    uint8_t mac[6];
    addrmap_mac_for(ip4(172, 31, 0, 3), mac);
    assert_memory_equal(f + 6, mac, 6);                  /* the IPv4 mapping's MAC */
    assert_memory_equal(f, MAC_BOB, 6);
  }
  assert_int_equal(w->alice.stats.egress_rewritten, 3);
  assert_int_equal(w->bob.stats.ingress_rewritten, 3);
}

static void test_ext_headers(void **state)
{
  struct world *w = *state;
  uint8_t f[1600], pl[200];
  /* hop-by-hop + destination options + an atomic fragment: checksum found */
  static const uint8_t ext[] = { 0, 60, 44 };
  payload(pl, 64, 6, 9);
  size_t n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 6, pl, 64, ext, 3);
  carry(w, f, n, ADDRMAP_REWRITTEN, ADDRMAP_REWRITTEN);
  assert_csum_ok(f, n);
  /* a later fragment: addresses only */
  static const uint8_t frag[] = { 44 };
  payload(pl, 64, 17, 1);
  n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 17, pl, 64, frag, 1);
  f[14 + 40 + 3] = 0x08;                  /* offset 1 */
  uint8_t before[8];
  memcpy(before, f + 14 + 48, 8);
  carry(w, f, n, ADDRMAP_REWRITTEN, ADDRMAP_REWRITTEN);
  assert_memory_equal(f + 14 + 48, before, 8);          /* payload untouched */
  /* a routing header: dropped */
  static const uint8_t rh[] = { 43 };
  n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 6, pl, 64, rh, 1);
  carry(w, f, n, ADDRMAP_DROP, 0);
  /* a TCP header cut short: dropped */
  n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 6, pl, 12, NULL, 0);
  carry(w, f, n, ADDRMAP_DROP, 0);
  /* an extension header running past the packet: dropped */
  n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 6, pl, 20, ext, 1);
  f[14 + 41] = 200;                       /* hdr ext len: 1608 bytes */
  carry(w, f, n, ADDRMAP_DROP, 0);
  assert_int_equal(w->alice.stats.dropped_malformed, 3);
}

static void test_icmp6_error(void **state)
{
  struct world *w = *state;
  /* Alice's host reports "port unreachable" for a UDP datagram Bob sent
   * it (as Alice sees it: from ::2 to ::1). */
  uint8_t f[1600], inner[1600], pl[200];
  payload(pl, 20, 17, 5);
  size_t in = build6(inner, MAC_ALICE, MAC_BOB, BOB_AT_ALICE, REAL, 17, pl, 20, NULL, 0);
  uint8_t err[8 + 40 + 20] = { 1, 4 };
  memcpy(err + 8, inner + 14, in - 14);
  size_t n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 58, err, sizeof err, NULL, 0);
  carry(w, f, n, ADDRMAP_REWRITTEN, ADDRMAP_REWRITTEN);
  assert_csum_ok(f, n);
  /* Bob reads a quote of his own datagram: from his real address. */
  assert_memory_equal(f + 14 + 40 + 8 + 8, REAL, 16);
  assert_int_equal(w->alice.stats.icmp_quotes_rewritten, 1);
}

static void test_spoof_and_nd_dropped(void **state)
{
  struct world *w = *state;
  uint8_t f[1600], pl[200];
  struct frame_info fi;
  /* Bob claims another address as his source: not his, dropped. */
  payload(pl, 40, 58, 2);
  size_t n = build6(f, MAC_ALICE, MAC_BOB, OTHER, REAL, 58, pl, 40, NULL, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  const struct addrmap_entry *e = addrmap_find_link(&w->alice, A_TO_B);
  assert_false(addrmap_source_ok(e, &fi));
  assert_int_equal(addrmap_ingress(&w->alice, A_TO_B, f, &fi), ADDRMAP_DROP);
  /* ... claiming the address Alice gave him is not his real one either */
  n = build6(f, MAC_ALICE, MAC_BOB, BOB_AT_ALICE, REAL, 58, pl, 40, NULL, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_false(addrmap_source_ok(e, &fi));
  /* his real one is */
  n = build6(f, MAC_ALICE, MAC_BOB, REAL, REAL, 58, pl, 40, NULL, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_true(addrmap_source_ok(e, &fi));
  /* link-local: no claim, but not carried either */
  n = build6(f, MAC_ALICE, MAC_BOB, LL, REAL, 58, pl, 40, NULL, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_true(addrmap_source_ok(e, &fi));
  assert_int_equal(addrmap_ingress(&w->alice, A_TO_B, f, &fi), ADDRMAP_DROP);
  /* Egress to an address that is not the mapped one: dropped. */
  n = build6(f, MAC_BOB, MAC_ALICE, REAL, OTHER, 58, pl, 40, NULL, 0);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_egress(&w->alice, A_TO_B, f, &fi), ADDRMAP_DROP);
  assert_int_equal(w->alice.stats.dropped_unmapped, 3);
  /* Neighbor Discovery (an advertisement from Bob's side): dropped. */
  uint8_t na[32] = { 136, 0, 0, 0, 0x60 };
  memcpy(na + 8, REAL, 16);
  n = build6(f, MAC_ALICE, MAC_BOB, REAL, REAL, 58, na, sizeof na, NULL, 0);
  f[14 + 7] = 255;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_ingress(&w->alice, A_TO_B, f, &fi), ADDRMAP_DROP);
  assert_int_equal(w->alice.stats.dropped_nd, 1);
  /* nothing was carried */
  assert_int_equal(w->alice.stats.ingress_rewritten, 0);
}

/* A Neighbor Solicitation from Alice's host for fd00:a::2, sent from src. */
static size_t ns_frame(uint8_t *f, const uint8_t *src, const uint8_t *target, uint8_t hops)
{
  uint8_t ns[32] = { 135, 0 };
  memcpy(ns + 8, target, 16);
  ns[24] = 1;                             /* source link-layer address option */
  ns[25] = 1;
  memcpy(ns + 26, MAC_ALICE, 6);
  uint8_t sn[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff };
  memcpy(sn + 13, target + 13, 3);
  static const uint8_t mc[6] = { 0x33, 0x33, 0xff, 0, 0, 2 };
  size_t n = build6(f, mc, MAC_ALICE, src, sn, 58, ns, sizeof ns, NULL, 0);
  f[14 + 7] = hops;
  return n;
}

static void test_nd_reply(void **state)
{
  struct world *w = *state;
  uint8_t f[200], out[ADDRMAP_REPLY_MAX];
  size_t len;
  struct frame_info fi;
  size_t n = ns_frame(f, REAL, BOB_AT_ALICE, 255);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 1);
  assert_int_equal(len, ADDRMAP_ND_REPLY_LEN);
  uint8_t mac[6];
  addrmap_mac_for(ip4(172, 31, 0, 2), mac);
  assert_memory_equal(out, MAC_ALICE, 6);
  assert_memory_equal(out + 6, mac, 6);
  struct frame_info ri;
  assert_int_equal(frame_parse(&ri, out, len), 0);
  assert_int_equal(ri.l3, FRAME_L3_IP6);
  assert_int_equal(ri.ip6.nd_type, 136);
  assert_int_equal(ri.ip6.hop_limit, 255);
  assert_memory_equal(ri.ip6.src, BOB_AT_ALICE, 16);
  assert_memory_equal(ri.ip6.dst, REAL, 16);
  const uint8_t *na = out + 54;
  assert_int_equal(na[4], 0x60);                       /* solicited, override */
  assert_memory_equal(na + 8, BOB_AT_ALICE, 16);
  assert_int_equal(na[24], 2);
  assert_memory_equal(na + 26, mac, 6);
  assert_csum_ok(out, len);
  assert_int_equal(w->alice.stats.nd_replies, 1);
  /* the reply may be built in the request's own buffer */
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, f, sizeof f, &len), 1);
  assert_memory_equal(f, out, len);

  /* Not answered: hop limit below 255 (not from the link), DAD (from ::),
   * another target, code != 0; too small a buffer is an error. */
  static const uint8_t unspec[16];
  n = ns_frame(f, REAL, BOB_AT_ALICE, 64);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 0);
  n = ns_frame(f, unspec, BOB_AT_ALICE, 255);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 0);
  n = ns_frame(f, REAL, OTHER, 255);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 0);
  n = ns_frame(f, REAL, BOB_AT_ALICE, 255);
  f[14 + 41] = 1;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 0);
  n = ns_frame(f, REAL, BOB_AT_ALICE, 255);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, ADDRMAP_ND_REPLY_LEN - 1, &len),
                   IPOP_ETOOBIG);
  /* ... nor ARP-style: an IPv4 frame is no solicitation */
  assert_int_equal(addrmap_nd_reply(&w->bob, &fi, out, sizeof out, &len), 0);
  assert_int_equal(w->alice.stats.nd_replies, 2);

  /* VLAN-tagged: the reply repeats the tag. */
  uint8_t t[220];
  n = ns_frame(f, REAL, BOB_AT_ALICE, 255);
  memcpy(t, f, 12);
  t[12] = 0x81; t[13] = 0x00; t[14] = 0x00; t[15] = 0x05;
  memcpy(t + 16, f + 12, n - 12);
  assert_int_equal(frame_parse(&fi, t, n + 4), 0);
  assert_int_equal(addrmap_nd_reply(&w->alice, &fi, out, sizeof out, &len), 1);
  assert_int_equal(len, ADDRMAP_ND_REPLY_LEN + 4);
  assert_int_equal(out[15], 5);
}

static void test_set6(void **state)
{
  struct world *w = *state;
  uint8_t mc[16] = { 0xff, 0x02, [15] = 1 }, v4m[16] = { [10] = 0xff, [11] = 0xff, [15] = 1 };
  uint8_t zero[16] = { 0 }, lo[16] = { [15] = 1 };
  assert_int_equal(addrmap_set6(&w->alice, 99, BOB_AT_ALICE, REAL), IPOP_ENOENT);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, mc, REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, BOB_AT_ALICE, LL), IPOP_EINVAL);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, v4m, REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, zero, REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, lo, REAL), IPOP_EINVAL);
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, BOB_AT_ALICE, NULL), IPOP_EINVAL);
  /* a second friend may not take Bob's mapped address */
  assert_int_equal(addrmap_set(&w->alice, 8, ip4(172, 31, 0, 9), ip4(10, 0, 0, 1)), 0);
  assert_int_equal(addrmap_set6(&w->alice, 8, BOB_AT_ALICE, OTHER), IPOP_EEXIST);
  assert_int_equal(addrmap_set6(&w->alice, 8, OTHER, REAL), 0);
  /* the refused calls left Bob's mapping as it was */
  const struct addrmap_entry *e = addrmap_find_link(&w->alice, A_TO_B);
  assert_true(e->has_ip6);
  assert_memory_equal(e->mapped_ip6, BOB_AT_ALICE, 16);
  /* removing IPv6: the link carries no IPv6 any more */
  assert_int_equal(addrmap_set6(&w->alice, A_TO_B, NULL, NULL), 0);
  assert_false(e->has_ip6);
  uint8_t f[400], pl[64];
  payload(pl, 40, 58, 1);
  size_t n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, 58, pl, 40, NULL, 0);
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  uint32_t link;
  assert_int_equal(addrmap_route(&w->alice, &fi, &link), IPOP_ENOENT);
  assert_int_equal(addrmap_egress(&w->alice, A_TO_B, f, &fi), ADDRMAP_DROP);
}

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
  rnd_state = rnd_state * 1103515245u + 12345u;
  return rnd_state >> 8;
}

static void test_random_packets(void **state)
{
  struct world *w = *state;
  static const uint8_t protos[] = { 6, 17, 58, 59 };
  uint8_t f[1600], pl[1400];
  for (int iter = 0; iter < 3000; iter++) {
    uint8_t proto = protos[rnd() % 4];
    size_t plen = 20 + (size_t)(rnd() % 1200);
    for (size_t i = 0; i < plen; i++)
      pl[i] = (uint8_t)rnd();
    payload(pl, rnd() % 2 ? 0 : 0, proto, 0);
    if (proto == 17) {
      pl[4] = (uint8_t)(plen >> 8);
      pl[5] = (uint8_t)plen;
    }
    if (proto == 58)
      pl[0] = (uint8_t)(128 + rnd() % 2); /* echo request / reply, not ND */
    uint8_t ext[2] = { 0, 60 };
    size_t n_ext = rnd() % 3;
    size_t n = build6(f, MAC_BOB, MAC_ALICE, REAL, BOB_AT_ALICE, proto, pl, plen, ext, n_ext);
    carry(w, f, n, ADDRMAP_REWRITTEN, ADDRMAP_REWRITTEN);
    assert_csum_ok(f, n);
    assert_memory_equal(f + 14 + 8, ALICE_AT_BOB, 16);
  }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_round_trip),
    T(test_ext_headers),
    T(test_icmp6_error),
    T(test_spoof_and_nd_dropped),
    T(test_nd_reply),
    T(test_set6),
    T(test_random_packets),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
