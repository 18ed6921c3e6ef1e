/* Forwarding between links (fwd.h): set_routes is checked entry by entry,
 * all or nothing; a frame with an overlay header is delivered, carried to
 * the next hop the table names, or dropped and counted, as an attacker
 * among the members would try it: a source node id that is not the
 * sender's, a source the table does not expect over that link, hop limit
 * 255, a loop back over the link it came in on, a destination the table
 * does not name.  The last test sends such records through the real
 * receive path (tc_peer: sealed records, the router, a socketpair TAP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "fwd.h"
#include "nd.h"
#include "nd_ref.h"
#include "route.h"
#include "tc_peer.h"

/* Node ids: us 01..., three members A, B, C (02, 03, 04).  Links: slot 0
 * to A, slot 1 to B; C has no link (reached through A). */
static const char *const k_self = "01000000000000000000000000000000";
static const char *const k_a = "02000000000000000000000000000000";
static const char *const k_b = "03000000000000000000000000000000";
static const char *const k_c = "04000000000000000000000000000000";
static const uint8_t k_own_mac[6] = { 2, 0, 0, 0, 0, 1 };
/* IPv6: us fd7a::1, members fd7a::2 .. fd7a::4 */
static const struct in6_addr k_own_ip6 = { { { 0xfd, 0x7a, [15] = 1 } } };
static const uint8_t mac_a[6] = { 2, 0, 0, 0, 0, 0xa }, mac_b[6] = { 2, 0, 0, 0, 0, 0xb },
                     mac_c[6] = { 2, 0, 0, 0, 0, 0xc };

struct fake_links {
  bool keyed[2];
};

static uint32_t link_of(void *ctx, const char *peer_id, const uint8_t **mac)
{
  (void)ctx;
  if (strcmp(peer_id, k_a) == 0) {
    if (mac)
      *mac = mac_a;
    return 0;
  }
  if (strcmp(peer_id, k_b) == 0) {
    if (mac)
      *mac = mac_b;
    return 1;
  }
  return TC_FWD_NONE;
}

static bool usable(void *ctx, uint32_t slot)
{
  struct fake_links *fl = ctx;
  return slot < 2 && fl->keyed[slot];
}

static void route(struct ctl_route *r, const char *id, const uint8_t mac[6], const char *ip4,
                  const char *via0, const char *via1, const char *from0)
{
  memset(r, 0, sizeof *r);
  snprintf(r->node_id, sizeof r->node_id, "%s", id);
  memcpy(r->mac, mac, 6);
  if (ip4) {
    inet_pton(AF_INET, ip4, &r->ip4);
    r->has_ip4 = true;
  }
  if (via0)
    snprintf(r->via[r->n_via++], CTL_ID_LEN, "%s", via0);
  if (via1)
    snprintf(r->via[r->n_via++], CTL_ID_LEN, "%s", via1);
  if (from0)
    snprintf(r->from[r->n_from++], CTL_ID_LEN, "%s", from0);
}

/* A: direct; B: direct, else through A; C: through A, then B; C's frames
 * come over A only. */
static void table(struct ctl_set_routes *r)
{
  memset(r, 0, sizeof *r);
  snprintf(r->overlay_id, sizeof r->overlay_id, "ov");
  r->forwarding = true;
  r->replace = true;
  route(&r->routes[0], k_a, mac_a, "10.254.0.2", k_a, NULL, NULL);
  route(&r->routes[1], k_b, mac_b, "10.254.0.3", k_b, k_a, NULL);
  route(&r->routes[2], k_c, mac_c, "10.254.0.4", k_a, k_b, k_a);
  r->n_routes = 3;
  for (int i = 0; i < 3; i++) {
    r->routes[i].ip6 = k_own_ip6;
    r->routes[i].ip6.s6_addr[15] = (uint8_t)(2 + i);
    r->routes[i].has_ip6 = true;
  }
}

static int install(struct tc_fwd *f, const struct ctl_set_routes *r, char *why)
{
  struct tc_fwd_own own = { k_own_mac, htonl(0x0afe0001), &k_own_ip6 };
  return tc_fwd_install(f, r, k_self, &own, link_of, NULL, why, 256);
}

/* Every bad entry is refused with a message naming it; the table stays. */
static void install_checks(void **state)
{
  (void)state;
  struct tc_fwd f;
  memset(&f, 0, sizeof f);
  static struct ctl_set_routes r;
  char why[256];
  table(&r);
  assert_int_equal(install(&f, &r, why), 0);
  assert_int_equal(f.n, 3);
  uint8_t id[TC_FWD_ID];
  assert_int_equal(tc_fwd_parse_id(k_c, id), 0);
  assert_non_null(tc_fwd_by_id(&f, id));
  assert_ptr_equal(tc_fwd_by_mac(&f, mac_c), tc_fwd_by_id(&f, id));

  table(&r);
  snprintf(r.routes[1].node_id, CTL_ID_LEN, "03000000000000000000000000000ABC");
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[1].node_id"));
  table(&r);
  snprintf(r.routes[2].node_id, CTL_ID_LEN, "%s", k_self);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "own id"));
  table(&r);
  snprintf(r.routes[2].node_id, CTL_ID_LEN, "%s", k_a);
  memcpy(r.routes[2].mac, mac_a, 6);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "listed twice"));
  table(&r);
  memcpy(r.routes[2].mac, k_own_mac, 6);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[2].mac"));
  table(&r);
  r.routes[2].mac[0] = 1; /* multicast */
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  /* a member claiming the MAC bound to another member's link */
  table(&r);
  memcpy(r.routes[2].mac, mac_b, 6);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "another node's"));
  /* B's own link is bound to mac_b: the table cannot move B elsewhere */
  table(&r);
  memcpy(r.routes[1].mac, mac_c, 6);
  memcpy(r.routes[2].mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 0xd }, 6);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "bound to another MAC"));
  /* a next hop that is no link of ours, or one named twice */
  table(&r);
  snprintf(r.routes[2].via[1], CTL_ID_LEN, "%s", k_c);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[2].via[1]: no link"));
  table(&r);
  snprintf(r.routes[2].via[1], CTL_ID_LEN, "%s", k_a);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "listed twice"));
  table(&r);
  snprintf(r.routes[2].from[0], CTL_ID_LEN, "nobody");
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[2].from[0]"));
  /* IPv6: our own, a multicast one, another member's */
  table(&r);
  r.routes[1].ip6 = k_own_ip6;
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[1].ip6"));
  table(&r);
  r.routes[1].ip6.s6_addr[0] = 0xff;
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "routes[1].ip6"));
  table(&r);
  r.routes[2].ip6 = r.routes[0].ip6;
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "address"));
  /* addresses: our own, a broadcast, another member's */
  table(&r);
  inet_pton(AF_INET, "10.254.0.1", &r.routes[0].ip4);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  table(&r);
  inet_pton(AF_INET, "255.255.255.255", &r.routes[0].ip4);
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  table(&r);
  r.routes[2].ip4 = r.routes[1].ip4;
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  assert_non_null(strstr(why, "address"));
  /* an overlay whose own id is not a node id cannot forward */
  table(&r);
  struct tc_fwd_own own = { k_own_mac, 0, NULL };
  assert_int_equal(tc_fwd_install(&f, &r, "alice", &own, link_of, NULL, why, 256), IPOP_EFIELD);
  assert_non_null(strstr(why, "node_id"));
  /* all of that left the first table alone */
  assert_int_equal(f.n, 3);
  assert_true(f.forwarding);
  /* replace = false adds; a duplicate across messages is refused too */
  table(&r);
  r.replace = false;
  r.n_routes = 1;
  assert_int_equal(install(&f, &r, why), IPOP_EFIELD);
  route(&r.routes[0], "05000000000000000000000000000000", (const uint8_t[]){ 2, 0, 0, 0, 0, 0xe },
        NULL, k_b, NULL, NULL);
  assert_int_equal(install(&f, &r, why), 0);
  assert_int_equal(f.n, 4);
  /* a freed link is no next hop any more */
  tc_fwd_link_gone(&f, 0);
  assert_int_equal(tc_fwd_by_mac(&f, mac_c)->n_via, 1);
  assert_int_equal(tc_fwd_by_mac(&f, mac_c)->n_from, 0);
  tc_fwd_free(&f);
}

/* Ethernet + IPv4 (20, no payload) from src to dst MAC. */
static size_t frame(uint8_t *b, const uint8_t dst[6], const uint8_t src[6])
{
  memset(b, 0, 34);
  memcpy(b, dst, 6);
  memcpy(b + 6, src, 6);
  b[12] = 0x08;
  b[14] = 0x45;
  b[17] = 20;
  b[22] = 64;
  return 34;
}

static void hdr(uint8_t h[TC_FWD_HDR], uint8_t hops, const char *src, const char *dst)
{
  h[0] = hops;
  tc_fwd_parse_id(src, h + 1);
  tc_fwd_parse_id(dst, h + 1 + TC_FWD_ID);
}

static enum tc_fwd_verdict check(struct tc_fwd *f, struct fake_links *fl, uint32_t slot,
                                 const char *peer, uint8_t *h, const uint8_t dst[6],
                                 const uint8_t src[6], uint32_t *next)
{
  uint8_t b[64], pid[TC_FWD_ID];
  size_t n = frame(b, dst, src);
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, b, n), 0);
  tc_fwd_parse_id(peer, pid);
  struct tc_fwd_arrival a = { slot, pid };
  *next = TC_FWD_NONE;
  return tc_fwd_check(f, &a, h, &fi, k_own_mac, usable, fl, next);
}

static void hostile_headers(void **state)
{
  (void)state;
  struct tc_fwd f;
  memset(&f, 0, sizeof f);
  static struct ctl_set_routes r;
  char why[256];
  table(&r);
  assert_int_equal(install(&f, &r, why), 0);
  struct fake_links fl = { { true, true } };
  uint8_t h[TC_FWD_HDR];
  uint32_t next;

  /* honest: C -> B over A is carried to B with one hop less */
  hdr(h, TC_FWD_HOPS, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_FORWARD);
  assert_int_equal(next, 1);
  assert_int_equal(h[0], TC_FWD_HOPS - 1);
  assert_int_equal(f.st.forwarded, 1);
  /* honest: C -> us over A, 3 hops */
  hdr(h, TC_FWD_HOPS - 2, k_c, k_self);
  assert_int_equal(check(&f, &fl, 0, k_a, h, k_own_mac, mac_c, &next), TC_FWD_LOCAL);
  assert_int_equal(f.st.routed_in, 1);
  assert_int_equal(f.st.routed_in_hops, 3);
  /* B's own frame with a header over B's link (first hop) */
  hdr(h, TC_FWD_HOPS, k_b, k_self);
  assert_int_equal(check(&f, &fl, 1, k_b, h, k_own_mac, mac_b, &next), TC_FWD_LOCAL);

  /* B claims to be C (C's id, C's MAC): C is expected over A only */
  hdr(h, TC_FWD_HOPS, k_c, k_self);
  assert_int_equal(check(&f, &fl, 1, k_b, h, k_own_mac, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.reverse_path, 1);
  /* B claims to be A, A's id with B's own MAC: wrong source */
  hdr(h, TC_FWD_HOPS, k_a, k_self);
  assert_int_equal(check(&f, &fl, 1, k_b, h, k_own_mac, mac_b, &next), TC_FWD_DROP);
  assert_int_equal(f.st.origin, 1);
  /* a source that is no member */
  hdr(h, TC_FWD_HOPS, "0f000000000000000000000000000000", k_self);
  assert_int_equal(check(&f, &fl, 1, k_b, h, k_own_mac, (const uint8_t[]){ 2, 0, 0, 0, 0, 0xf },
                         &next),
                   TC_FWD_DROP);
  assert_int_equal(f.st.origin, 2);
  /* hop limit 255, and 0 */
  hdr(h, 255, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_DROP);
  hdr(h, 0, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.bad_header, 2);
  /* our own id as source, or source = destination */
  hdr(h, TC_FWD_HOPS, k_self, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, k_own_mac, &next), TC_FWD_DROP);
  hdr(h, TC_FWD_HOPS, k_c, k_c);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_c, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.bad_header, 4);
  /* for us, but to another MAC */
  hdr(h, TC_FWD_HOPS, k_c, k_self);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.bad_header, 5);
  /* the last hop's worth of hop limit is not carried on */
  hdr(h, 1, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.hop_limit, 1);
  /* a loop attempt: A sends B's frame for C back to us; C's route is A */
  hdr(h, TC_FWD_HOPS, k_b, k_c);
  f.nodes[1].from[f.nodes[1].n_from++] = 0; /* B's frames may come over A */
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_c, mac_b, &next), TC_FWD_DROP);
  assert_int_equal(f.st.loop, 1);
  /* ... and with A down, C goes to B: the table's second choice, never
   * the sender's */
  fl.keyed[0] = false;
  hdr(h, TC_FWD_HOPS, k_a, k_c);
  f.nodes[0].from[f.nodes[0].n_from++] = 1;
  assert_int_equal(check(&f, &fl, 1, k_b, h, mac_c, mac_a, &next), TC_FWD_DROP);
  assert_int_equal(f.st.loop, 2);
  fl.keyed[0] = true;
  /* a destination the table does not name, or with another MAC */
  hdr(h, TC_FWD_HOPS, k_c, "0e000000000000000000000000000000");
  assert_int_equal(check(&f, &fl, 0, k_a, h, (const uint8_t[]){ 2, 0, 0, 0, 0, 0xe }, mac_c,
                         &next),
                   TC_FWD_DROP);
  hdr(h, TC_FWD_HOPS, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_a, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.no_route, 2);
  /* forwarding off: frames for us still arrive, others' are refused */
  f.forwarding = false;
  hdr(h, TC_FWD_HOPS, k_c, k_b);
  assert_int_equal(check(&f, &fl, 0, k_a, h, mac_b, mac_c, &next), TC_FWD_DROP);
  assert_int_equal(f.st.refused, 1);
  hdr(h, TC_FWD_HOPS, k_c, k_self);
  assert_int_equal(check(&f, &fl, 0, k_a, h, k_own_mac, mac_c, &next), TC_FWD_LOCAL);
  assert_int_equal(f.st.forwarded, 1);
  tc_fwd_free(&f);
}

/* ARP for a member's address is answered from the table; our own, an
 * announcement, or a stranger's address is not. */
static void arp_members(void **state)
{
  (void)state;
  struct tc_fwd f;
  memset(&f, 0, sizeof f);
  static struct ctl_set_routes r;
  char why[256];
  table(&r);
  assert_int_equal(install(&f, &r, why), 0);
  uint8_t b[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
                    0, 1, 0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 254, 0, 1,
                    0, 0, 0, 0, 0, 0, 10, 254, 0, 4 };
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, b, sizeof b), 0);
  assert_memory_equal(tc_fwd_arp_target(&f, &fi), mac_c, 6);
  b[41] = 9;
  assert_int_equal(frame_parse(&fi, b, sizeof b), 0);
  assert_null(tc_fwd_arp_target(&f, &fi));
  b[41] = 1;
  assert_int_equal(frame_parse(&fi, b, sizeof b), 0);
  assert_null(tc_fwd_arp_target(&f, &fi));
  assert_int_equal(f.st.arp_answered, 1);
  tc_fwd_free(&f);
}

/* A solicitation from our host (fd7a::1, our MAC) for target; hops and
 * bad_csum spoil it. */
static size_t ns_for(uint8_t *f, const uint8_t target[16], const uint8_t *dmac, bool multicast,
                     uint8_t hops)
{
  static const uint8_t slla[8] = { 1, 1, 2, 0, 0, 0, 0, 1 };
  uint8_t sn[16];
  nd_solicited_node(target, sn);
  struct ns_spec s = { k_own_ip6.s6_addr, multicast ? sn : target, target, hops, 0,
                       k_own_mac, dmac, slla, sizeof slla, 0, false };
  return ns_build(f, &s);
}

/* Neighbor Solicitations for a member's IPv6 address are answered from the
 * table, multicast or unicast; a stranger's address or DAD goes on as
 * before (counted); a malformed one is refused (counted). */
static void nd_members(void **state)
{
  (void)state;
  struct tc_fwd f;
  memset(&f, 0, sizeof f);
  static struct ctl_set_routes r;
  char why[256];
  table(&r);
  assert_int_equal(install(&f, &r, why), 0);
  uint8_t b[256];
  struct frame_info fi;
  const struct tc_fwd_node *node;
  int reason;
  struct in6_addr t = k_own_ip6;
  t.s6_addr[15] = 4; /* C */
  assert_int_equal(frame_parse(&fi, b, ns_for(b, t.s6_addr, NULL, true, 255)), 0);
  assert_int_equal(tc_fwd_nd_target(&f, &fi, &node, &reason), 1);
  assert_memory_equal(node->mac, mac_c, 6);
  assert_int_equal(frame_parse(&fi, b, ns_for(b, t.s6_addr, mac_c, false, 255)), 0);
  assert_int_equal(tc_fwd_nd_target(&f, &fi, &node, &reason), 1);
  assert_int_equal(f.st.nd_answered, 2);
  t.s6_addr[15] = 9; /* nobody's */
  assert_int_equal(frame_parse(&fi, b, ns_for(b, t.s6_addr, NULL, true, 255)), 0);
  assert_int_equal(tc_fwd_nd_target(&f, &fi, &node, &reason), 0);
  assert_null(node);
  assert_int_equal(f.st.nd_unknown, 1);
  t.s6_addr[15] = 2; /* A, but hop limit 64: forged from off the link */
  assert_int_equal(frame_parse(&fi, b, ns_for(b, t.s6_addr, NULL, true, 64)), 0);
  assert_int_equal(tc_fwd_nd_target(&f, &fi, &node, &reason), IPOP_EINVAL);
  assert_int_equal(reason, ND_NS_BAD_HOP_LIMIT);
  assert_int_equal(f.st.nd_bad, 1);
  assert_int_equal(f.st.nd_answered, 2);
  /* ARP is no solicitation */
  uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
                      0, 1, 0x08, 0, 6, 4, 0, 1 };
  assert_int_equal(frame_parse(&fi, arp, sizeof arp), 0);
  assert_int_equal(tc_fwd_nd_target(&f, &fi, &node, &reason), 0);
  tc_fwd_free(&f);
}

/* ---- through the real receive path ---------------------------------------- */

static uint32_t peer_link_of(void *ctx, const char *peer_id, const uint8_t **mac)
{
  struct tc_peer *t = ctx;
  if (strcmp(peer_id, t->link.peer_id) != 0)
    return TC_FWD_NONE;
  if (mac)
    *mac = t->link.peer_mac;
  return 0;
}

static int peer_setup(void **state)
{
  static struct tc_peer t;
  if (tc_peer_init(&t, 1280, false) != 0)
    return -1;
  snprintf(t.ov.cfg.node_id, sizeof t.ov.cfg.node_id, "%s", k_self);
  snprintf(t.link.peer_id, sizeof t.link.peer_id, "%s", k_a);
  *state = &t;
  return 0;
}

static int peer_teardown(void **state)
{
  struct tc_peer *t = *state;
  tc_fwd_free(&t->ov.fwd);
  tc_peer_free(t);
  return 0;
}

/* A record [ROUTED | header | frame] from the peer (A, MAC 02:..:02). */
static void feed_routed(struct tc_peer *t, uint8_t hops, const char *src, const char *dst,
                        const uint8_t dmac[6], const uint8_t smac[6])
{
  uint8_t p[1 + TC_FWD_HDR + 64];
  p[0] = TC_DP_ROUTED;
  hdr(p + 1, hops, src, dst);
  size_t n = frame(p + 1 + TC_FWD_HDR, dmac, smac);
  tc_peer_feed(t, p, 1 + TC_FWD_HDR + n);
}

static const uint8_t peer_mac[6] = { 2, 0, 0, 0, 0, 2 };

/* The peer's table: A (the link's peer, MAC 02:..:02) direct, C behind A
 * at fd7a::4. */
static void peer_table(struct tc_peer *t)
{
  static struct ctl_set_routes r;
  char why[256];
  memset(&r, 0, sizeof r);
  r.forwarding = true;
  r.replace = true;
  route(&r.routes[0], k_a, peer_mac, NULL, k_a, NULL, NULL);
  route(&r.routes[1], k_c, mac_c, NULL, k_a, NULL, k_a);
  r.routes[1].ip6 = k_own_ip6;
  r.routes[1].ip6.s6_addr[15] = 4;
  r.routes[1].has_ip6 = true;
  r.n_routes = 2;
  struct tc_fwd_own own = { k_own_mac, 0, &k_own_ip6 };
  assert_int_equal(tc_fwd_install(&t->ov.fwd, &r, k_self, &own, peer_link_of, t, why, sizeof why),
                   0);
}

static void peer_routed(void **state)
{
  struct tc_peer *t = *state;
  peer_table(t);
  uint8_t buf[2048];
  /* C's frame to us through A reaches the TAP as it was sent */
  feed_routed(t, TC_FWD_HOPS - 1, k_c, k_self, k_own_mac, mac_c);
  size_t n = tc_peer_tap_read(t, buf, sizeof buf);
  assert_int_equal(n, 10 + 34);
  assert_memory_equal(buf + 10 + 6, mac_c, 6);
  assert_int_equal(t->ov.fwd.st.routed_in_hops, 2);
  /* forged: a stranger's id, C's id with A's MAC, hop limit 255: none
   * reaches the TAP, each counted; the origin ones as spoofed on the link */
  feed_routed(t, TC_FWD_HOPS, "0f000000000000000000000000000000", k_self, k_own_mac,
              (const uint8_t[]){ 2, 0, 0, 0, 0, 0xf });
  feed_routed(t, TC_FWD_HOPS, k_c, k_self, k_own_mac, peer_mac);
  feed_routed(t, 255, k_c, k_self, k_own_mac, mac_c);
  assert_int_equal(tc_peer_tap_read(t, buf, sizeof buf), 0);
  assert_int_equal(t->ov.fwd.st.origin, 2);
  assert_int_equal(t->ov.fwd.st.bad_header, 1);
  assert_int_equal(t->link.spoofed, 2);
  /* truncated: a header without a frame */
  uint8_t p[1 + TC_FWD_HDR + 4] = { TC_DP_ROUTED };
  tc_peer_feed(t, p, sizeof p);
  assert_int_equal(tc_peer_tap_read(t, buf, sizeof buf), 0);
  /* a frame for C back over A, its only route: a loop, dropped */
  feed_routed(t, TC_FWD_HOPS, k_a, k_c, mac_c, peer_mac);
  assert_int_equal(t->ov.fwd.st.loop, 1);
}

/* From the TAP through tc_route: a solicitation for a member is answered
 * on the TAP and goes to no link; one for a stranger goes to the link as
 * before; a malformed one goes nowhere. */
static void peer_nd(void **state)
{
  struct tc_peer *t = *state;
  peer_table(t);
  struct in6_addr c6 = k_own_ip6;
  c6.s6_addr[15] = 4;
  uint8_t in[TC_VNET_LEN + 256], buf[2048];
  uint8_t *f = in + TC_VNET_LEN;
  const struct tc_dp_stats *ls = &t->link.dp.st;
  uint64_t sent = ls->tx_packets + ls->drops;
  tc_route(&t->ov, NULL, NULL, f, ns_for(f, c6.s6_addr, NULL, true, 255));
  size_t n = tc_peer_tap_read(t, buf, sizeof buf);
  assert_int_equal(n, TC_VNET_LEN + ND_NA_FRAME_LEN);
  struct frame_info fi;
  assert_int_equal(frame_parse(&fi, buf + TC_VNET_LEN, n - TC_VNET_LEN), 0);
  assert_int_equal(fi.ip6.nd_type, ND_NA);
  assert_memory_equal(fi.src, mac_c, 6);
  assert_memory_equal(fi.dst, k_own_mac, 6);
  assert_int_equal(ls->tx_packets + ls->drops, sent); /* not flooded */
  assert_int_equal(t->ov.fwd.st.nd_answered, 1);
  /* a stranger's address: to the link (one hop), as before */
  struct in6_addr other = k_own_ip6;
  other.s6_addr[15] = 9;
  tc_route(&t->ov, NULL, NULL, f, ns_for(f, other.s6_addr, NULL, true, 255));
  assert_int_equal(tc_peer_tap_read(t, buf, sizeof buf), 0);
  assert_true(ls->tx_packets + ls->drops > sent);
  sent = ls->tx_packets + ls->drops;
  /* forged (hop limit 1): neither answered nor flooded */
  tc_route(&t->ov, NULL, NULL, f, ns_for(f, c6.s6_addr, NULL, true, 1));
  assert_int_equal(tc_peer_tap_read(t, buf, sizeof buf), 0);
  assert_int_equal(ls->tx_packets + ls->drops, sent);
  assert_int_equal(t->ov.fwd.st.nd_bad, 1);
  assert_int_equal(t->ov.fwd.st.nd_unknown, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(install_checks),
    cmocka_unit_test(hostile_headers),
    cmocka_unit_test(arp_members),
    cmocka_unit_test(nd_members),
    cmocka_unit_test_setup_teardown(peer_routed, peer_setup, peer_teardown),
    cmocka_unit_test_setup_teardown(peer_nd, peer_setup, peer_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
