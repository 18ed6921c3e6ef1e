/* addr6: subnet parsing (bad input named), the per-overlay ULA, GroupVPN
 * derivation from node ids (stable, in the subnet, never the all-zeros or
 * all-ones host), SocialVPN embedding, and IPv6 conflicts through
 * groupaddr's claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr6.h"
#include "error.h"
#include "groupaddr.h"

static struct in6_addr a6(const char *s)
{
  struct in6_addr a;
  assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
  return a;
}

static void test_parse(void **state)
{
  (void)state;
  struct addr6_subnet s;
  char why[160];
  assert_int_equal(addr6_parse_subnet("fd00:1:2::/64", &s, why, sizeof why), 0);
  assert_int_equal(s.prefix, 64);
  struct in6_addr want = a6("fd00:1:2::");
  assert_memory_equal(&s.net, &want, 16);
  char t[ADDR6_TEXT_LEN];
  assert_string_equal(addr6_subnet_text(&s, t, sizeof t), "fd00:1:2::/64");
  assert_int_equal(addr6_parse_subnet("2001:db8:1::/48", &s, why, sizeof why), 0);
  assert_int_equal(addr6_parse_subnet("fd00::100/120", &s, why, sizeof why), 0);

  static const struct { const char *text, *why; } bad[] = {
    { "fd00::", "ADDRESS/PREFIX" },          /* no prefix */
    { "fd00::/", "ADDRESS/PREFIX" },
    { "fd00::/64x", "ADDRESS/PREFIX" },
    { "fd00::/-1", "ADDRESS/PREFIX" },
    { "10.0.0.0/64", "ADDRESS/PREFIX" },
    { "fd00:::1/64", "ADDRESS/PREFIX" },
    { "fd00::/47", "out of range" },
    { "fd00::/121", "out of range" },
    { "fd00::/99999999999999999999", "out of range" },
    { "fd00::1/64", "host bits" },
    { "ff02::/64", "unicast" },
    { "fe80::/64", "unicast" },
    { "::/64", "unicast" },
    { "::ffff:0:0/96", "unicast" },
    { "", "ADDRESS/PREFIX" },
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = '\0';
    assert_int_equal(addr6_parse_subnet(bad[i].text, &s, why, sizeof why), IPOP_EINVAL);
    if (!strstr(why, bad[i].why))
      fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].text, why, bad[i].why);
  }
  /* oversized text */
  char big[300];
  memset(big, 'f', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  big[200] = '/';
  assert_int_equal(addr6_parse_subnet(big, &s, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(addr6_parse_subnet(NULL, &s, why, sizeof why), IPOP_EINVAL);
}

static void test_ula(void **state)
{
  (void)state;
  struct addr6_subnet x, y, z;
  assert_int_equal(addr6_ula("lab", &x), 0);
  assert_int_equal(addr6_ula("lab", &y), 0);
  assert_int_equal(addr6_ula("lab2", &z), 0);
  assert_memory_equal(&x, &y, sizeof x);             /* every node derives the same */
  assert_memory_not_equal(&x.net, &z.net, 16);       /* another overlay, another one */
  assert_int_equal(x.prefix, 64);
  assert_int_equal(x.net.s6_addr[0], 0xfd);          /* RFC 4193, L = 1 */
  for (int i = 6; i < 16; i++)
    assert_int_equal(x.net.s6_addr[i], 0);           /* subnet id 0, host bits 0 */
  assert_int_equal(addr6_ula("", &x), IPOP_EINVAL);
  assert_int_equal(addr6_ula(NULL, &x), IPOP_EINVAL);
}

static void test_derive(void **state)
{
  (void)state;
  struct addr6_subnet s;
  assert_int_equal(addr6_ula("lab", &s), 0);
  const char *id = "0123456789abcdef0123456789abcdef";
  struct in6_addr x, y;
  assert_int_equal(addr6_derive(&s, id, 0, &x), 0);
  assert_int_equal(addr6_derive(&s, id, 0, &y), 0);
  assert_memory_equal(&x, &y, 16);                   /* stable */
  assert_true(addr6_usable(&s, &x));
  assert_memory_equal(&x, &s.net, 8);                /* in the /64 */
  assert_int_equal(addr6_derive(&s, id, 1, &y), 0);
  assert_memory_not_equal(&x, &y, 16);               /* the next attempt moves */
  assert_int_equal(addr6_derive(&s, "nothex", 0, &x), IPOP_EINVAL);
  struct addr6_subnet bad = s;
  bad.prefix = 130;
  assert_int_equal(addr6_derive(&bad, id, 0, &x), IPOP_EINVAL);

  /* Whose is an address?  The node's it derives from, for its attempts. */
  assert_int_equal(addr6_derive(&s, id, 3, &x), 0);
  assert_true(addr6_derived_from(&s, id, 3, &x));
  assert_false(addr6_derived_from(&s, id, 2, &x));
  assert_false(addr6_derived_from(&s, "fedcba9876543210fedcba9876543210", 15, &x));
  assert_false(addr6_derived_from(&s, "not-an-id", 15, &x));

  /* A /120 (256 addresses): many ids, never ::0 or ::ff of the subnet. */
  char why[128];
  assert_int_equal(addr6_parse_subnet("fd00:5::100/120", &s, why, sizeof why), 0);
  unsigned seen[256] = { 0 };
  for (unsigned i = 0; i < 3000; i++) {
    char nid[NODEID_BUF];
    snprintf(nid, sizeof nid, "%032x", i);
    assert_int_equal(addr6_derive(&s, nid, 0, &x), 0);
    assert_true(addr6_usable(&s, &x));
    assert_int_equal(x.s6_addr[14], 1);
    seen[x.s6_addr[15]]++;
  }
  assert_int_equal(seen[0], 0);
  assert_int_equal(seen[255], 0);
  unsigned used = 0;
  for (int i = 0; i < 256; i++)
    used += seen[i] > 0;
  assert_true(used > 240);

  /* usable: outside the subnet, or its extremes, is not */
  struct in6_addr o = a6("fd00:6::101"), z = a6("fd00:5::100"), f = a6("fd00:5::1ff");
  assert_false(addr6_usable(&s, &o));
  assert_false(addr6_usable(&s, &z));
  assert_false(addr6_usable(&s, &f));
}

static void test_embed4(void **state)
{
  (void)state;
  struct addr6_subnet s;
  char why[128], t[INET6_ADDRSTRLEN];
  assert_int_equal(addr6_parse_subnet("fd00:9::/64", &s, why, sizeof why), 0);
  struct in_addr v4;
  inet_pton(AF_INET, "10.254.0.7", &v4);
  struct in6_addr x;
  assert_int_equal(addr6_embed4(&s, v4, &x), 0);
  inet_ntop(AF_INET6, &x, t, sizeof t);
  assert_string_equal(t, "fd00:9::afe:7");
  assert_int_equal(addr6_parse_subnet("fd00:9::/97", &s, why, sizeof why), 0);
  assert_int_equal(addr6_embed4(&s, v4, &x), IPOP_EINVAL); /* no room for 32 bits */
}

/* groupaddr's conflict finder takes IPv6 claims too. */
static void test_conflicts6(void **state)
{
  (void)state;
  struct groupaddr_claim c[3];
  memset(c, 0, sizeof c);
  snprintf(c[0].node_id, NODEID_BUF, "%032x", 1);
  snprintf(c[1].node_id, NODEID_BUF, "%032x", 2);
  snprintf(c[2].node_id, NODEID_BUF, "%032x", 3);
  c[0].addr6 = a6("fd00::1");
  c[1].addr6 = a6("fd00::2");
  c[2].addr6 = a6("fd00::1");
  struct groupaddr_conflict out[4];
  assert_int_equal(groupaddr_find_conflicts(c, 3, out, 4), 1);
  assert_memory_equal(&out[0].addr6, &c[0].addr6, 16);
  assert_string_equal(out[0].node_a, c[0].node_id);
  assert_string_equal(out[0].node_b, c[2].node_id);
  assert_true(groupaddr_conflict_loser(&out[0], c[2].node_id));
  c[2].addr6 = a6("fd00::3");
  assert_int_equal(groupaddr_find_conflicts(c, 3, out, 4), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse),
    cmocka_unit_test(test_ula),
    cmocka_unit_test(test_derive),
    cmocka_unit_test(test_embed4),
    cmocka_unit_test(test_conflicts6),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
