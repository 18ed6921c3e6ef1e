/* Neighbor Discovery that tincan answers itself (nd.h): the solicitation
 * checks of RFC 4861 7.1.1, one test per way a hostile or broken sender
 * could get them wrong (short, hop limit, code, checksum, option lengths,
 * target, destination group, duplicate address detection), and the
 * advertisement, checked field by field and by an independent checksum
 * (addrmap_ref.h), then parsed back as a receiver would (7.1.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "addrmap_ref.h"
#include "nd_ref.h"
#include "error.h"
#include "frame.h"
#include "nd.h"

static const uint8_t k_host_mac[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t k_member_mac[6] = { 2, 0x11, 0x22, 0x33, 0x44, 0x55 };
/* our TAP's address, and a member's (fd7a::/64, as addr6 derives them) */
static const uint8_t k_host[16] = { 0xfd, 0x7a, [8] = 0x12, [15] = 1 };
static const uint8_t k_member[16] = { 0xfd, 0x7a, [8] = 0x34, [13] = 0xab, [14] = 0xcd,
                                      [15] = 0xef };

static const uint8_t k_slla[8] = { 1, 1, 2, 0, 0, 0, 0, 1 };

/* The usual one: to the member's solicited-node group, with our MAC. */
static struct ns_spec usual(void)
{
  static uint8_t sn[16];
  nd_solicited_node(k_member, sn);
  return (struct ns_spec){ k_host, sn, k_member, 255, 0, k_host_mac, k_member_mac,
                           k_slla, sizeof k_slla, 0, false };
}

static int parse(const struct ns_spec *s, struct nd_ns *ns, uint8_t *f, size_t *n)
{
  struct frame_info fi;
  *n = ns_build(f, s);
  assert_int_equal(frame_parse(&fi, f, *n), 0);
  return nd_ns_parse(&fi, ns);
}

static int status_of(const struct ns_spec *s)
{
  uint8_t f[256];
  size_t n;
  struct nd_ns ns;
  return parse(s, &ns, f, &n);
}

static void solicited_node_group(void **state)
{
  (void)state;
  uint8_t sn[16];
  nd_solicited_node(k_member, sn);
  static const uint8_t want[16] = { 0xff, 0x02, [11] = 1, [12] = 0xff, [13] = 0xab,
                                    [14] = 0xcd, [15] = 0xef };
  assert_memory_equal(sn, want, 16);
}

static void valid_solicitations(void **state)
{
  (void)state;
  uint8_t f[256];
  size_t n;
  struct nd_ns ns;
  struct ns_spec s = usual();
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  assert_memory_equal(ns.target, k_member, 16);
  assert_memory_equal(ns.slla, k_host_mac, 6);
  assert_false(ns.dad);
  /* unicast (reachability), no option */
  s.dst = k_member;
  s.n_opts = 0;
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  assert_null(ns.slla);
  /* an unknown option is skipped */
  static const uint8_t other[16] = { 14, 1, [8] = 1, 1, 2, 0, 0, 0, 0, 1 };
  s = usual();
  s.opts = other;
  s.n_opts = sizeof other;
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  assert_memory_equal(ns.slla, k_host_mac, 6);
  /* duplicate address detection: from ::, to the group, no source option */
  static const uint8_t unspec[16];
  s = usual();
  s.src = unspec;
  s.n_opts = 0;
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  assert_true(ns.dad);
  /* not a solicitation: an advertisement, an IPv4 frame */
  s = usual();
  n = ns_build(f, &s);
  f[54] = 136;
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(nd_ns_parse(&fi, &ns), ND_NS_NONE);
  uint8_t v4[34] = { [12] = 8, [14] = 0x45, [17] = 20, [22] = 64, [23] = 1 };
  assert_int_equal(frame_parse(&fi, v4, sizeof v4), 0);
  assert_int_equal(nd_ns_parse(&fi, &ns), ND_NS_NONE);
}

/* Each way to get a solicitation wrong, as an attacker on the host (a raw
 * socket, a container bridged to the TAP) would send it. */
static void malformed_solicitations(void **state)
{
  (void)state;
  struct ns_spec s = usual();
  s.hops = 254; /* routed: not from the link */
  assert_int_equal(status_of(&s), ND_NS_BAD_HOP_LIMIT);
  s.hops = 64;
  assert_int_equal(status_of(&s), ND_NS_BAD_HOP_LIMIT);
  s = usual();
  s.code = 1;
  assert_int_equal(status_of(&s), ND_NS_BAD_CODE);
  s = usual();
  s.n_opts = 0;
  s.icmp_len = 20; /* the target cut short (the bytes are there: padding) */
  assert_int_equal(status_of(&s), ND_NS_SHORT);
  s = usual();
  s.bad_csum = true;
  assert_int_equal(status_of(&s), ND_NS_BAD_CSUM);
  /* options: length 0 (would loop forever), past the end, a source
   * address that is not 6 bytes, two of them, a lone byte */
  static const uint8_t zero_len[8] = { 1, 0 };
  static const uint8_t past_end[8] = { 1, 2 };
  static const uint8_t slla16[16] = { 1, 2, 2, 0, 0, 0, 0, 1 };
  static const uint8_t two_slla[16] = { 1, 1, 2, 0, 0, 0, 0, 1, 1, 1, 2, 0, 0, 0, 0, 9 };
  static const uint8_t lone[1] = { 1 };
  const struct { const uint8_t *o; size_t n; } bad[] = {
    { zero_len, sizeof zero_len }, { past_end, sizeof past_end }, { slla16, sizeof slla16 },
    { two_slla, sizeof two_slla }, { lone, sizeof lone },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    s = usual();
    s.opts = bad[i].o;
    s.n_opts = bad[i].n;
    assert_int_equal(status_of(&s), ND_NS_BAD_OPTION);
  }
  /* targets that are no neighbour's: multicast, ::, ::1 */
  static const uint8_t mc_target[16] = { 0xff, 0x02, [15] = 1 };
  static const uint8_t unspec[16];
  static const uint8_t loop[16] = { [15] = 1 };
  const uint8_t *targets[] = { mc_target, unspec, loop };
  for (size_t i = 0; i < 3; i++) {
    s = usual();
    s.target = targets[i];
    s.dst = k_member;
    assert_int_equal(status_of(&s), ND_NS_BAD_TARGET);
  }
  /* multicast to another group: all-nodes, or another target's group */
  static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
  uint8_t other_group[16];
  nd_solicited_node(k_host, other_group);
  s = usual();
  s.dst = all_nodes;
  assert_int_equal(status_of(&s), ND_NS_BAD_DST);
  s.dst = other_group;
  assert_int_equal(status_of(&s), ND_NS_BAD_DST);
  /* DAD to a unicast address, or with a source address option */
  s = usual();
  s.src = unspec;
  assert_int_equal(status_of(&s), ND_NS_BAD_DAD);
  s.n_opts = 0;
  s.dst = k_member;
  assert_int_equal(status_of(&s), ND_NS_BAD_DAD);
  /* an ICMPv6 length beyond the frame never parses */
  s = usual();
  uint8_t f[256];
  size_t n = ns_build(f, &s);
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n - 1), IPOP_EINVAL);
  /* every status has a name */
  for (int st = ND_NS_BAD_DAD; st <= ND_NS_OK; st++)
    assert_string_not_equal(nd_ns_status_name(st), "?");
}

/* The advertisement: to the soliciting host, from the member, flags S and
 * O, the target option with the member's MAC, a right checksum. */
static void advertisement(void **state)
{
  (void)state;
  uint8_t f[256], out[ND_NA_FRAME_LEN + 4];
  size_t n, len;
  struct nd_ns ns;
  struct ns_spec s = usual();
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(nd_na_build(&fi, ns.target, k_member_mac, out, sizeof out, &len), 0);
  assert_int_equal(len, ND_NA_FRAME_LEN);
  assert_memory_equal(out, k_host_mac, 6);
  assert_memory_equal(out + 6, k_member_mac, 6);
  assert_int_equal(frame_get16(out + 12), 0x86dd);
  const uint8_t *ip = out + 14, *na = ip + 40;
  assert_int_equal(ip[0], 0x60);
  assert_int_equal(frame_get16(ip + 4), 32);
  assert_int_equal(ip[6], 58);
  assert_int_equal(ip[7], 255);
  assert_memory_equal(ip + 8, k_member, 16);
  assert_memory_equal(ip + 24, k_host, 16);
  assert_int_equal(na[0], 136);
  assert_int_equal(na[1], 0);
  assert_int_equal(na[4], 0x60); /* solicited, override; not a router */
  assert_memory_equal(na + 8, k_member, 16);
  assert_int_equal(na[24], ND_OPT_TLLA);
  assert_int_equal(na[25], 1);
  assert_memory_equal(na + 26, k_member_mac, 6);
  assert_int_equal(ref_sum(na, 32, pseudo_sum(k_member, k_host, 32)), 0xffff);
  /* what a receiver checks (RFC 4861 7.1.2) */
  struct frame_info ri;
  assert_int_equal(frame_parse(&ri, out, len), 0);
  assert_int_equal(ri.ip6.nd_type, 136);
  assert_int_equal(ri.ip6.hop_limit, 255);
  assert_false(ri.ip6.dst_multicast);
  /* in the solicitation's own buffer: the same bytes */
  uint8_t copy[ND_NA_FRAME_LEN];
  memcpy(copy, out, sizeof copy);
  assert_int_equal(nd_na_build(&fi, ns.target, k_member_mac, f, sizeof f, &len), 0);
  assert_memory_equal(f, copy, sizeof copy);
  /* too small a buffer */
  assert_int_equal(parse(&s, &ns, f, &n), ND_NS_OK);
  assert_int_equal(frame_parse(&fi, f, n), 0);
  assert_int_equal(nd_na_build(&fi, ns.target, k_member_mac, out, ND_NA_FRAME_LEN - 1, &len),
                   IPOP_ETOOBIG);
  /* tagged: the answer carries the same tag */
  uint8_t t[260];
  memcpy(t, f, 12);
  t[12] = 0x81; t[13] = 0; t[14] = 0; t[15] = 7;
  memcpy(t + 16, f + 12, n - 12);
  assert_int_equal(frame_parse(&fi, t, n + 4), 0);
  assert_int_equal(nd_ns_parse(&fi, &ns), ND_NS_OK);
  assert_int_equal(nd_na_build(&fi, ns.target, k_member_mac, out, ND_NA_FRAME_LEN, &len),
                   IPOP_ETOOBIG);
  assert_int_equal(nd_na_build(&fi, ns.target, k_member_mac, out, sizeof out, &len), 0);
  assert_int_equal(len, ND_NA_FRAME_LEN + 4);
  assert_int_equal(frame_get16(out + 12), 0x8100);
  assert_int_equal(out[15], 7);
  assert_int_equal(frame_parse(&ri, out, len), 0);
  assert_int_equal(ri.ip6.nd_type, 136);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(solicited_node_group),
    cmocka_unit_test(valid_solicitations),
    cmocka_unit_test(malformed_solicitations),
    cmocka_unit_test(advertisement),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
