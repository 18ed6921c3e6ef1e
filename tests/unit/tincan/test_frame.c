/* frame: parsing under truncated, oversized and garbage input (every frame
 * sits in a heap buffer of exactly its length, so ASan sees any overread),
 * classification, and checksums against an independent reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"
#include "frame.h"

static const uint8_t MAC_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a };
static const uint8_t MAC_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0b };
static const uint8_t MAC_BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Reference checksum, written the slow obvious way (RFC 1071 4.1). */
static uint16_t ref_csum(const uint8_t *p, size_t n, uint32_t pre)
{
  uint64_t sum = pre;
  for (size_t i = 0; i < n; i += 2)
    sum += (uint32_t)(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static uint32_t ip(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  uint8_t x[4] = { a, b, c, d };
  uint32_t v;
  memcpy(&v, x, 4);
  return v;
}

static size_t eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  f[12] = (uint8_t)(type >> 8);
  f[13] = (uint8_t)type;
  return 14;
}

/* IPv4/UDP frame with payload_len bytes of payload, checksums by ref_csum. */
static size_t build_udp(uint8_t *f, uint32_t src, uint32_t dst, size_t payload_len)
{
  size_t o = eth(f, MAC_B, MAC_A, 0x0800);
  uint8_t *h = f + o;
  size_t tot = 20 + 8 + payload_len;
  memset(h, 0, 20);
  h[0] = 0x45;
  h[2] = (uint8_t)(tot >> 8);
  h[3] = (uint8_t)tot;
  h[4] = 0x12;
  h[6] = 0x40;
  h[8] = 64;
  h[9] = 17;
  memcpy(h + 12, &src, 4);
  memcpy(h + 16, &dst, 4);
  uint16_t c = ref_csum(h, 20, 0);
  h[10] = (uint8_t)(c >> 8);
  h[11] = (uint8_t)c;
  uint8_t *u = h + 20;
  u[0] = 0x30; u[1] = 0x39; u[2] = 0x00; u[3] = 0x35;
  u[4] = (uint8_t)((8 + payload_len) >> 8);
  u[5] = (uint8_t)(8 + payload_len);
  u[6] = u[7] = 0;
  for (size_t i = 0; i < payload_len; i++)
    u[8 + i] = (uint8_t)(i * 7 + 3);
  uint8_t ph[12];
  memcpy(ph, &src, 4);
  memcpy(ph + 4, &dst, 4);
  ph[8] = 0;
  ph[9] = 17;
  ph[10] = u[4];
  ph[11] = u[5];
  uint32_t pre = 0;
  for (int i = 0; i < 12; i += 2)
    pre += (uint32_t)(ph[i] << 8 | ph[i + 1]);
  c = ref_csum(u, 8 + payload_len, pre);
  u[6] = (uint8_t)(c >> 8);
  u[7] = (uint8_t)c;
  return o + tot;
}

/* Parse a copy in a heap buffer of exactly len bytes. */
static int parse_exact(const uint8_t *src, size_t len, struct frame_info *fi, uint8_t **keep)
{
  uint8_t *b = malloc(len ? len : 1);
  assert_non_null(b);
  memcpy(b, src, len);
  int r = frame_parse(fi, b, len);
  if (keep)
    *keep = b;
  else
    free(b);
  return r;
}

static void test_short_and_null(void **state)
{
  struct frame_info fi;
  uint8_t f[64] = { 0 };
  (void)state;
  assert_int_equal(frame_parse(NULL, f, 64), IPOP_EINVAL);
  assert_int_equal(frame_parse(&fi, NULL, 64), IPOP_EINVAL);
  eth(f, MAC_B, MAC_A, 0x88b5);
  for (size_t n = 0; n < 14; n++)
    assert_int_equal(parse_exact(f, n, &fi, NULL), IPOP_EINVAL);
  assert_int_equal(parse_exact(f, 14, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
  assert_int_equal(fi.ethertype, 0x88b5);
  assert_int_equal(fi.l3_off, 14);
  assert_int_equal(fi.l3_len, 0);
}

static void test_oversized(void **state)
{
  struct frame_info fi;
  (void)state;
  uint8_t *f = calloc(1, FRAME_MAX_LEN + 1);
  assert_non_null(f);
  eth(f, MAC_B, MAC_A, 0x88b5);
  assert_int_equal(frame_parse(&fi, f, FRAME_MAX_LEN + 1), IPOP_ETOOBIG);
  assert_null(fi.dst);
  assert_int_equal(frame_parse(&fi, f, FRAME_MAX_LEN), 0);
  /* A maximal IPv4 datagram in a maximal tagged frame. */
  eth(f, MAC_B, MAC_A, 0x8100);
  f[14] = 0; f[15] = 5; f[16] = 0x08; f[17] = 0x00;
  uint8_t *h = f + 18;
  h[0] = 0x45; h[2] = 0xff; h[3] = 0xff; h[9] = 253;
  assert_int_equal(frame_parse(&fi, f, FRAME_MAX_LEN), 0);
  assert_int_equal(fi.l3, FRAME_L3_IP4);
  assert_int_equal(fi.ip4.tot_len, 65535);
  assert_int_equal(fi.ip4.l4_off + fi.ip4.l4_len, FRAME_MAX_LEN);
  free(f);
}

static void test_cast(void **state)
{
  static const uint8_t mc4[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
  static const uint8_t mc6[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x01 };
  static const uint8_t zero[6] = { 0 };
  uint8_t f[14];
  struct frame_info fi;
  (void)state;
  eth(f, MAC_B, MAC_A, 0x88b5);
  assert_int_equal(frame_parse(&fi, f, 14), 0);
  assert_int_equal(fi.cast, FRAME_UNICAST);
  assert_memory_equal(fi.dst, MAC_B, 6);
  assert_memory_equal(fi.src, MAC_A, 6);
  eth(f, MAC_BCAST, MAC_A, 0x88b5);
  assert_int_equal(frame_parse(&fi, f, 14), 0);
  assert_int_equal(fi.cast, FRAME_BROADCAST);
  eth(f, mc4, MAC_A, 0x88b5);
  assert_int_equal(frame_parse(&fi, f, 14), 0);
  assert_int_equal(fi.cast, FRAME_MULTICAST);
  assert_int_equal(frame_mac_cast(mc6), FRAME_MULTICAST);
  assert_true(frame_mac_is_zero(zero));
  assert_false(frame_mac_is_learnable(zero));
  assert_false(frame_mac_is_learnable(mc6));
  assert_false(frame_mac_is_learnable(MAC_BCAST));
  assert_true(frame_mac_is_learnable(MAC_A));
  /* An 802.3 length field is not an ethertype we parse. */
  eth(f, MAC_B, MAC_A, 0x0040);
  assert_int_equal(frame_parse(&fi, f, 14), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
}

static void test_vlan(void **state)
{
  uint8_t f[128], t[132];
  struct frame_info fi;
  (void)state;
  size_t n = build_udp(f, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 10);
  memcpy(t, f, 12);
  t[12] = 0x81; t[13] = 0x00; t[14] = 0x20; t[15] = 0x07;
  memcpy(t + 16, f + 12, n - 12);
  assert_int_equal(parse_exact(t, n + 4, &fi, NULL), 0);
  assert_true(fi.has_vlan);
  assert_int_equal(fi.vlan_tci, 0x2007);
  assert_int_equal(fi.ethertype, 0x0800);
  assert_int_equal(fi.l3, FRAME_L3_IP4);
  assert_int_equal(fi.l3_off, 18);
  assert_int_equal(fi.ip4.dst, ip(10, 0, 0, 2));
  for (size_t k = 14; k < 18; k++)
    assert_int_equal(parse_exact(t, k, &fi, NULL), IPOP_EINVAL);
  /* Tag with nothing behind it: ethertype only. */
  assert_int_equal(parse_exact(t, 18, &fi, NULL), IPOP_EINVAL);  /* IPv4 needs 20 */
  t[16] = 0x88; t[17] = 0xb5;
  assert_int_equal(parse_exact(t, 18, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
  /* A nested tag is not parsed further. */
  t[16] = 0x81; t[17] = 0x00;
  assert_int_equal(parse_exact(t, n + 4, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
}

static void test_ip4_fields_and_truncation(void **state)
{
  uint8_t f[256];
  struct frame_info fi;
  (void)state;
  size_t n = build_udp(f, ip(172, 31, 0, 1), ip(172, 31, 0, 2), 33);
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_IP4);
  assert_int_equal(fi.ip4.hlen, 20);
  assert_int_equal(fi.ip4.tot_len, 20 + 8 + 33);
  assert_int_equal(fi.ip4.proto, 17);
  assert_int_equal(fi.ip4.ttl, 64);
  assert_true(fi.ip4.df);
  assert_false(fi.ip4.mf);
  assert_int_equal(fi.ip4.frag_off, 0);
  assert_int_equal(fi.ip4.src, ip(172, 31, 0, 1));
  assert_int_equal(fi.ip4.dst, ip(172, 31, 0, 2));
  assert_int_equal(fi.ip4.l4_off, 34);
  assert_int_equal(fi.ip4.l4_len, 41);
  assert_true(frame_ip4_hdr_csum_ok(&fi, f));
  assert_int_equal(frame_ip4_l4_csum_verify(&fi, f), 0);
  /* Every truncation is refused. */
  for (size_t k = 14; k < n; k++)
    assert_int_equal(parse_exact(f, k, &fi, NULL), IPOP_EINVAL);
  /* Ethernet padding behind the datagram is fine. */
  memset(f + n, 0, 20);
  assert_int_equal(parse_exact(f, n + 20, &fi, NULL), 0);
  assert_int_equal(fi.ip4.l4_len, 41);
  assert_int_equal(fi.l3_len, n + 20 - 14);
}

static void test_ip4_malformed(void **state)
{
  uint8_t f[256], g[256];
  struct frame_info fi;
  (void)state;
  size_t n = build_udp(f, ip(10, 0, 0, 1), ip(10, 0, 0, 2), 40);
  uint8_t *h = g + 14;

  memcpy(g, f, n); h[0] = 0x65;                       /* version 6 in an IPv4 frame */
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[0] = 0x44;                       /* IHL 4 */
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[0] = 0x4f;                       /* IHL 15 = 60 bytes: fits */
  assert_int_equal(parse_exact(g, n, &fi, NULL), 0);
  assert_int_equal(fi.ip4.hlen, 60);
  memcpy(g, f, n); h[0] = 0x4f;                       /* ... but not in 59 */
  assert_int_equal(parse_exact(g, 14 + 59, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[2] = 0; h[3] = 19;               /* total length < header */
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[2] = 0; h[3] = (uint8_t)(n - 14 + 1);  /* beyond the frame */
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[2] = 0xff; h[3] = 0xff;
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[6] = 0x1f; h[7] = 0xff;          /* offset 65528 + 48 > 65535 */
  assert_int_equal(parse_exact(g, n, &fi, NULL), IPOP_EINVAL);
  memcpy(g, f, n); h[6] = 0x3f; h[7] = 0xf0;          /* MF, offset 65408 + 48: ok */
  assert_int_equal(parse_exact(g, n, &fi, NULL), 0);
  assert_true(fi.ip4.mf);
  assert_int_equal(fi.ip4.frag_off, 0x1ff0);
  assert_int_equal(frame_ip4_l4_csum_verify(&fi, g), -1);
  /* A wrong header checksum parses (the kernel checks it) but is seen. */
  memcpy(g, f, n); h[10] ^= 0x40;
  assert_int_equal(parse_exact(g, n, &fi, NULL), 0);
  assert_false(frame_ip4_hdr_csum_ok(&fi, g));
  frame_ip4_hdr_csum_set(&fi, g);
  assert_true(frame_ip4_hdr_csum_ok(&fi, g));
  assert_memory_equal(g, f, n);
}

static size_t build_arp(uint8_t *f, uint16_t op, uint32_t spa, uint32_t tpa)
{
  size_t o = eth(f, MAC_BCAST, MAC_A, 0x0806);
  uint8_t *a = f + o;
  a[0] = 0; a[1] = 1; a[2] = 0x08; a[3] = 0; a[4] = 6; a[5] = 4;
  a[6] = 0; a[7] = (uint8_t)op;
  memcpy(a + 8, MAC_A, 6);
  memcpy(a + 14, &spa, 4);
  memset(a + 18, 0, 6);
  memcpy(a + 24, &tpa, 4);
  return o + 28;
}

static void test_arp(void **state)
{
  uint8_t f[64];
  struct frame_info fi;
  uint8_t *keep;
  (void)state;
  size_t n = build_arp(f, 1, ip(172, 31, 0, 1), ip(172, 31, 0, 2));
  assert_int_equal(n, 42);
  assert_int_equal(parse_exact(f, n, &fi, &keep), 0);
  assert_int_equal(fi.l3, FRAME_L3_ARP);
  assert_int_equal(fi.cast, FRAME_BROADCAST);
  assert_int_equal(fi.arp.op, FRAME_ARP_REQUEST);
  assert_int_equal(fi.arp.spa, ip(172, 31, 0, 1));
  assert_int_equal(fi.arp.tpa, ip(172, 31, 0, 2));
  assert_memory_equal(fi.arp.sha, MAC_A, 6);
  assert_ptr_equal(fi.arp.sha, keep + 22);
  free(keep);
  for (size_t k = 14; k < n; k++)
    assert_int_equal(parse_exact(f, k, &fi, NULL), IPOP_EINVAL);
  /* Other ARP flavours are plain L2 (but still length-checked). */
  f[14 + 7] = 3;                                      /* op 3 (RARP request) */
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
  f[14 + 7] = 1;
  f[14 + 4] = 16;                                     /* hlen 16: 8 + 2*20 = 48 > 28 */
  assert_int_equal(parse_exact(f, n, &fi, NULL), IPOP_EINVAL);
  f[14 + 4] = 2;                                      /* hlen 2: fits, but not Ethernet */
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_OTHER);
}

static size_t build_ip6(uint8_t *f, const uint8_t *dst_mac, uint8_t next, const uint8_t *payload, size_t plen,
                        bool mcast)
{
  size_t o = eth(f, dst_mac, MAC_A, 0x86dd);
  uint8_t *h = f + o;
  memset(h, 0, 40);
  h[0] = 0x60;
  h[4] = (uint8_t)(plen >> 8);
  h[5] = (uint8_t)plen;
  h[6] = next;
  h[7] = 255;
  h[8] = 0xfe; h[9] = 0x80; h[23] = 1;
  if (mcast) {
    h[24] = 0xff; h[25] = 0x02; h[35] = 1; h[36] = 0xff; h[39] = 2;
  } else {
    h[24] = 0xfe; h[25] = 0x80; h[39] = 2;
  }
  memcpy(h + 40, payload, plen);
  return o + 40 + plen;
}

static void test_ip6(void **state)
{
  static const uint8_t mc[6] = { 0x33, 0x33, 0xff, 0x00, 0x00, 0x02 };
  uint8_t ns[24] = { 135, 0, 0, 0 };
  uint8_t f[128];
  struct frame_info fi;
  (void)state;
  size_t n = build_ip6(f, mc, 58, ns, sizeof(ns), true);
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_int_equal(fi.l3, FRAME_L3_IP6);
  assert_int_equal(fi.cast, FRAME_MULTICAST);
  assert_true(fi.ip6.dst_multicast);
  assert_int_equal(fi.ip6.nd_type, 135);
  assert_int_equal(fi.ip6.payload_len, 24);
  assert_int_equal(fi.ip6.hop_limit, 255);
  for (size_t k = 14; k < n; k++)
    assert_int_equal(parse_exact(f, k, &fi, NULL), IPOP_EINVAL);
  /* Echo request, unicast: not ND. */
  ns[0] = 128;
  n = build_ip6(f, MAC_B, 58, ns, 8, false);
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_false(fi.ip6.dst_multicast);
  assert_int_equal(fi.ip6.nd_type, 0);
  /* ICMPv6 shorter than its 4-byte header. */
  n = build_ip6(f, MAC_B, 58, ns, 3, false);
  assert_int_equal(parse_exact(f, n, &fi, NULL), IPOP_EINVAL);
  /* UDP: no ND look-up, empty payload allowed. */
  n = build_ip6(f, MAC_B, 17, ns, 0, false);
  assert_int_equal(parse_exact(f, n, &fi, NULL), 0);
  assert_int_equal(fi.ip6.l4_off, 54);
  f[14] = 0x40;                                       /* version 4 */
  assert_int_equal(parse_exact(f, n, &fi, NULL), IPOP_EINVAL);
}

/* xorshift: deterministic garbage. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_garbage(void **state)
{
  static const uint16_t types[] = { 0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8, 0x1234 };
  struct frame_info fi;
  uint8_t *keep;
  unsigned ok = 0, bad = 0;
  (void)state;
  for (int iter = 0; iter < 200000; iter++) {
    size_t len = (size_t)(rnd() % 120);
    uint8_t src[128];
    for (size_t i = 0; i < sizeof(src); i++)
      src[i] = (uint8_t)rnd();
    /* Make it interesting: plausible ethertypes and version nibbles. */
    uint16_t t = types[rnd() % 6];
    src[12] = (uint8_t)(t >> 8);
    src[13] = (uint8_t)t;
    if (t == 0x8100 || t == 0x88a8) {
      t = types[rnd() % 3];
      src[16] = (uint8_t)(t >> 8);
      src[17] = (uint8_t)t;
    }
    size_t l3 = (src[12] == 0x81 || src[12] == 0x88) && src[13] != 0xdd ? 18 : 14;
    if (rnd() & 1)
      src[l3] = (uint8_t)((t == 0x86dd ? 0x60 : 0x45) | (src[l3] & (rnd() & 1 ? 0x0f : 0)));
    if (rnd() & 1) {          /* plausible lengths */
      src[l3 + 2] = 0;
      src[l3 + 3] = (uint8_t)(len > l3 ? len - l3 - (rnd() % 3) : 0);
      src[l3 + 4] = 0;
      src[l3 + 5] = (uint8_t)(len > l3 + 40 ? len - l3 - 40 : 0);
      src[l3 + 6] = (uint8_t)(rnd() & 1 ? 0 : src[l3 + 6]);
    }
    int r = parse_exact(src, len, &fi, &keep);
    if (r == 0) {
      ok++;
      assert_int_equal(fi.l3_off + fi.l3_len, len);
      if (fi.l3 == FRAME_L3_IP4) {
        assert_true(fi.ip4.l4_off + fi.ip4.l4_len <= len);
        frame_ip4_hdr_csum_ok(&fi, keep);
        frame_ip4_l4_csum_verify(&fi, keep);
      }
      if (fi.l3 == FRAME_L3_IP6)
        assert_true(fi.ip6.l4_off + fi.ip6.payload_len <= len);
    } else {
      bad++;
      assert_true(r == IPOP_EINVAL);
    }
    free(keep);
  }
  assert_true(ok > 1000);
  assert_true(bad > 1000);
}

/* ---- checksums ---- */

static void test_csum_vectors(void **state)
{
  /* RFC 1071 section 3 example: sum ddf2, checksum 220d. */
  static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
  /* An IPv4 header with known checksum b861. */
  uint8_t h[] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                  0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };
  (void)state;
  assert_int_equal(frame_csum_fold(frame_csum_partial(rfc, sizeof(rfc), 0)), 0xddf2);
  assert_int_equal(frame_csum(rfc, sizeof(rfc)), 0x220d);
  assert_int_equal(frame_csum(h, sizeof(h)), 0xb861);
  frame_put16(h + 10, 0xb861);
  assert_int_equal(frame_csum(h, sizeof(h)), 0);
  assert_int_equal(frame_get16(h + 10), 0xb861);
  /* Chaining: even pieces then an odd tail equals the whole. */
  uint8_t d[301];
  for (size_t i = 0; i < sizeof(d); i++)
    d[i] = (uint8_t)(i * 31 + 7);
  uint32_t s = frame_csum_partial(d, 100, 0);
  s = frame_csum_partial(d + 100, 200, s);
  s = frame_csum_partial(d + 300, 1, s);
  assert_int_equal(frame_csum_finish(s), ref_csum(d, sizeof(d), 0));
  assert_int_equal(frame_csum(d, sizeof(d)), ref_csum(d, sizeof(d), 0));
  /* Long all-ones data does not overflow the accumulator. */
  uint8_t *big = malloc(65536);
  assert_non_null(big);
  memset(big, 0xff, 65536);
  assert_int_equal(frame_csum(big, 65536), ref_csum(big, 65536, 0));
  free(big);
}

static bool csum_equiv(uint16_t a, uint16_t b)
{
  return a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0);
}

static void test_csum_incremental(void **state)
{
  uint8_t h[60];
  (void)state;
  for (int iter = 0; iter < 20000; iter++) {
    for (size_t i = 0; i < sizeof(h); i++)
      h[i] = (uint8_t)rnd();
    if (iter % 7 == 0)
      memset(h, iter % 2 ? 0xff : 0x00, sizeof(h));   /* edge sums */
    h[0] = 0x45;      /* never all zero: no real header is (RFC 1624 sec. 3) */
    frame_put16(h + 10, 0);
    frame_put16(h + 10, ref_csum(h, sizeof(h), 0));
    /* change a 32-bit field at an even offset */
    size_t off = 12 + 2 * (rnd() % 20);
    uint32_t from, to = (uint32_t)rnd();
    if (iter % 11 == 0)
      to = 0;
    memcpy(&from, h + off, 4);
    memcpy(h + off, &to, 4);
    uint16_t inc = frame_csum_update32(frame_get16(h + 10), from, to);
    frame_put16(h + 10, 0);
    uint16_t full = ref_csum(h, sizeof(h), 0);
    assert_true(csum_equiv(inc, full));
    frame_put16(h + 10, inc);
    assert_int_equal(frame_csum_fold(frame_csum_partial(h, sizeof(h), 0)), 0xffff);
    /* and a 16-bit word */
    size_t w = 12 + 2 * (rnd() % 22);
    uint16_t ow = frame_get16(h + w), nw = (uint16_t)rnd();
    frame_put16(h + w, nw);
    inc = frame_csum_update16(frame_get16(h + 10), ow, nw);
    frame_put16(h + 10, inc);
    assert_int_equal(frame_csum_fold(frame_csum_partial(h, sizeof(h), 0)), 0xffff);
  }
}

static void test_l4_verify(void **state)
{
  uint8_t f[256];
  struct frame_info fi;
  (void)state;
  for (size_t pl = 0; pl < 40; pl++) {                  /* odd and even lengths */
    size_t n = build_udp(f, ip(192, 168, 7, 1), ip(10, 9, 8, 7), pl);
    assert_int_equal(frame_parse(&fi, f, n), 0);
    assert_int_equal(frame_ip4_l4_csum_verify(&fi, f), 0);
    f[n - 1] ^= 1;
    if (pl)
      assert_int_not_equal(frame_ip4_l4_csum_verify(&fi, f), 0);
  }
  /* Not TCP/UDP/ICMP. */
  size_t n = build_udp(f, ip(1, 2, 3, 4), ip(5, 6, 7, 8), 4);
  f[14 + 9] = 47;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(frame_ip4_l4_csum_verify(&fi, f), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_short_and_null),
    cmocka_unit_test(test_oversized),
    cmocka_unit_test(test_cast),
    cmocka_unit_test(test_vlan),
    cmocka_unit_test(test_ip4_fields_and_truncation),
    cmocka_unit_test(test_ip4_malformed),
    cmocka_unit_test(test_arp),
    cmocka_unit_test(test_ip6),
    cmocka_unit_test(test_garbage),
    cmocka_unit_test(test_csum_vectors),
    cmocka_unit_test(test_csum_incremental),
    cmocka_unit_test(test_l4_verify),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
