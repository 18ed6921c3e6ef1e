/* DNS SRV answers (controller/xmpp/srv.c): records in priority order,
 * "." as "not offered", and hostile answers (truncated, wrong types,
 * targets reaching outside their record, compression loops, more records
 * than asked for) read safely. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "srv.h"

struct msg {
  unsigned char b[1024];
  size_t n;
};

static void put(struct msg *m, const void *p, size_t n)
{
  assert_true(m->n + n <= sizeof(m->b));
  memcpy(m->b + m->n, p, n);
  m->n += n;
}

static void put16(struct msg *m, unsigned v)
{
  unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
  put(m, b, 2);
}

/* Header with ancount answers and the question _xmpp-client._tcp.xmpp.test
 * (its "xmpp.test" starts at offset 30, for compression pointers). */
static void head(struct msg *m, unsigned ancount)
{
  static const unsigned char q[] = "\x0c_xmpp-client\x04_tcp\x04xmpp\x04test";
  m->n = 0;
  put16(m, 0x1234);
  put16(m, 0x8180);
  put16(m, 1);
  put16(m, ancount);
  put16(m, 0);
  put16(m, 0);
  put(m, q, sizeof(q));  /* with its final 0 */
  put16(m, 33);
  put16(m, 1);
}

/* One answer record of type type whose rdata is prio weight port target
 * (target: wire-format name bytes, tlen of them); rdlen as given (0: the
 * real length). */
static void rr(struct msg *m, unsigned type, unsigned prio, unsigned weight,
               unsigned port, const char *target, size_t tlen, unsigned rdlen)
{
  put(m, "\xc0\x0c", 2);
  put16(m, type);
  put16(m, 1);
  put16(m, 0);
  put16(m, 300);
  put16(m, rdlen ? rdlen : 6 + (unsigned)tlen);
  put16(m, prio);
  put16(m, weight);
  put16(m, port);
  put(m, target, tlen);
}

#define T(s) s, sizeof(s) - 1

static void test_order(void **state)
{
  struct msg m;
  head(&m, 4);
  rr(&m, 33, 10, 5, 5222, T("\x01" "a\xc0\x1e"), 0);
  rr(&m, 33, 10, 50, 5223, T("\x01" "b\xc0\x1e"), 0);
  rr(&m, 1, 0, 0, 0, T("\x01" "x\0"), 0);               /* an A record: not SRV */
  rr(&m, 33, 5, 0, 5224, T("\x01" "c\x07" "example\0"), 0);
  struct xmpp_srv s[8];
  assert_int_equal(xmpp_srv_parse(m.b, (int)m.n, s, 8), 3);
  assert_string_equal(s[0].target, "c.example");
  assert_int_equal(s[0].port, 5224);
  assert_string_equal(s[1].target, "b.xmpp.test");  /* same priority, heavier first */
  assert_string_equal(s[2].target, "a.xmpp.test");
  /* At most as many as asked for. */
  assert_int_equal(xmpp_srv_parse(m.b, (int)m.n, s, 1), 1);
  assert_string_equal(s[0].target, "a.xmpp.test");
}

static void test_not_offered(void **state)
{
  struct msg m;
  head(&m, 1);
  rr(&m, 33, 0, 0, 0, T("\0"), 0);
  struct xmpp_srv s[8];
  assert_int_equal(xmpp_srv_parse(m.b, (int)m.n, s, 8), -1);
}

static void test_hostile(void **state)
{
  struct xmpp_srv s[8];
  struct msg m;
  /* Truncated anywhere: never more than what is there, never a crash. */
  head(&m, 2);
  rr(&m, 33, 1, 1, 1, T("\x01" "a\0"), 0);
  rr(&m, 33, 2, 1, 1, T("\x01" "b\0"), 0);
  for (size_t n = 0; n < m.n; n++)
    assert_true(xmpp_srv_parse(m.b, (int)n, s, 8) <= 1);
  assert_int_equal(xmpp_srv_parse(m.b, 0, s, 8), 0);
  assert_int_equal(xmpp_srv_parse(m.b, -5, s, 8), 0);
  /* rdata too short for a target; a target running past its record into
   * the next one; a compression loop; a pointer past the end. */
  head(&m, 5);
  rr(&m, 33, 1, 1, 1, T(""), 6);
  rr(&m, 33, 1, 1, 1, T("\x05" "ab"), 9);
  rr(&m, 33, 1, 1, 1, T("\x01" "z\0"), 0);
  size_t loop = m.n + 12 + 6;   /* where the next target starts */
  unsigned char ptr[2] = { (unsigned char)(0xc0 | (loop >> 8)), (unsigned char)loop };
  rr(&m, 33, 1, 1, 1, (const char *)ptr, 2, 0);
  rr(&m, 33, 1, 1, 1, T("\xc3\xff"), 0);
  assert_int_equal(xmpp_srv_parse(m.b, (int)m.n, s, 8), 1);
  assert_string_equal(s[0].target, "z");
  /* More answers claimed than present. */
  head(&m, 200);
  rr(&m, 33, 1, 1, 1, T("\x01" "a\0"), 0);
  assert_true(xmpp_srv_parse(m.b, (int)m.n, s, 8) <= 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_order),
    cmocka_unit_test(test_not_offered),
    cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
