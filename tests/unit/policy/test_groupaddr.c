/* groupaddr: derivation (in range, stable, skips reserved), conflicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "groupaddr.h"

static struct in_addr a4(const char *s)
{
  struct in_addr a;
  inet_pton(AF_INET, s, &a);
  return a;
}

static void test_derive(void **state)
{
  struct groupaddr_subnet s = { a4("10.254.0.0"), 16, NULL, 0 };
  struct in_addr x, y;
  const char *id = "0123456789abcdef0123456789abcdef";
  assert_int_equal(groupaddr_derive(&s, id, 0, &x), 0);
  assert_int_equal(groupaddr_derive(&s, id, 0, &y), 0);
  assert_int_equal(x.s_addr, y.s_addr); /* stable */
  assert_true(groupaddr_usable(&s, x));
  assert_int_equal(groupaddr_derive(&s, id, 1, &y), 0);
  assert_int_not_equal(x.s_addr, y.s_addr); /* the next attempt moves */

  /* many ids: always a usable address, and they spread */
  unsigned seen_hi[256] = { 0 };
  for (unsigned i = 0; i < 2000; i++) {
    char nid[NODEID_BUF];
    snprintf(nid, sizeof nid, "%032x", i);
    assert_int_equal(groupaddr_derive(&s, nid, 0, &x), 0);
    assert_true(groupaddr_usable(&s, x));
    seen_hi[(ntohl(x.s_addr) >> 8) & 255]++;
  }
  unsigned used = 0;
  for (int i = 0; i < 256; i++)
    used += seen_hi[i] > 0;
  assert_true(used > 200);

  /* a /30 with one reserved host: only one address is left */
  struct in_addr res[] = { a4("192.168.5.1") };
  struct groupaddr_subnet t = { a4("192.168.5.0"), 30, res, 1 };
  for (unsigned i = 0; i < 20; i++) {
    char nid[NODEID_BUF];
    snprintf(nid, sizeof nid, "%032x", i);
    assert_int_equal(groupaddr_derive(&t, nid, i, &x), 0);
    assert_int_equal(x.s_addr, a4("192.168.5.2").s_addr);
  }
  struct in_addr res2[] = { a4("192.168.5.1"), a4("192.168.5.2") };
  t.reserved = res2;
  t.n_reserved = 2;
  assert_int_equal(groupaddr_derive(&t, id, 0, &x), IPOP_EBUSY);

  /* errors */
  assert_int_equal(groupaddr_derive(&s, "nope", 0, &x), IPOP_EINVAL);
  s.prefix = 31;
  assert_int_equal(groupaddr_derive(&s, id, 0, &x), IPOP_EINVAL);
  s.prefix = 16;
  s.net = a4("10.254.0.1");
  assert_int_equal(groupaddr_subnet_check(&s), IPOP_EINVAL);
  assert_false(groupaddr_usable(&s, a4("10.254.0.2")));
  s.net = a4("10.254.0.0");
  s.n_reserved = 1;
  assert_int_equal(groupaddr_subnet_check(&s), IPOP_EINVAL);
  s.n_reserved = 0;
  assert_false(groupaddr_usable(&s, a4("10.254.0.0")));
  assert_false(groupaddr_usable(&s, a4("10.254.255.255")));
  assert_false(groupaddr_usable(&s, a4("10.253.0.1")));
  assert_true(groupaddr_usable(&s, a4("10.254.0.1")));
}

#define N1 "11111111111111111111111111111111"
#define N2 "22222222222222222222222222222222"
#define N3 "33333333333333333333333333333333"
#define N4 "44444444444444444444444444444444"

static void test_conflicts(void **state)
{
  struct groupaddr_claim c[] = {
    { N3, a4("10.0.0.5"), IN6ADDR_ANY_INIT }, { N1, a4("10.0.0.9"), IN6ADDR_ANY_INIT }, { N2, a4("10.0.0.5"), IN6ADDR_ANY_INIT },
    { N4, a4("10.0.0.7"), IN6ADDR_ANY_INIT }, { N1, a4("10.0.0.5"), IN6ADDR_ANY_INIT }, /* N1 moved to .5 */
  };
  struct groupaddr_conflict out[4];
  int n = groupaddr_find_conflicts(c, 5, out, 4);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].addr.s_addr, a4("10.0.0.5").s_addr);
  assert_string_equal(out[0].node_a, N1);
  assert_string_equal(out[0].node_b, N2);
  assert_string_equal(out[1].node_a, N1);
  assert_string_equal(out[1].node_b, N3);
  /* the larger id yields; both sides agree */
  assert_false(groupaddr_conflict_loser(&out[0], N1));
  assert_true(groupaddr_conflict_loser(&out[0], N2));
  assert_false(groupaddr_conflict_loser(&out[0], N4));
  /* more conflicts than room: the total is still returned */
  assert_int_equal(groupaddr_find_conflicts(c, 5, out, 1), 2);
  assert_int_equal(groupaddr_find_conflicts(c, 5, NULL, 0), 2);
  /* none */
  assert_int_equal(groupaddr_find_conflicts(c, 2, out, 4), 0);
  assert_int_equal(groupaddr_find_conflicts(NULL, 0, out, 4), 0);
  /* invalid id */
  struct groupaddr_claim bad[] = { { "zz", a4("10.0.0.1"), IN6ADDR_ANY_INIT } };
  assert_int_equal(groupaddr_find_conflicts(bad, 1, out, 4), IPOP_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_derive),
    cmocka_unit_test(test_conflicts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
