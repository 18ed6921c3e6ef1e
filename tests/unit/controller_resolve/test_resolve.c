/* controller/resolve.c: the syntax of STUN/TURN entries (good, bad and
 * hostile), numeric entries without DNS, "localhost" through /etc/hosts,
 * a name under .invalid failing with the resolver's text, the cache, and
 * closing the resolver with lookups in flight (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "resolve.h"

/* ------------------------------------------------------------ syntax */

static void good(const char *entry, const char *host, uint16_t port, bool numeric)
{
  char h[RESOLVE_HOST_MAX + 2], why[RESOLVE_WHY_LEN] = "";
  uint16_t p;
  bool num;
  int rc = resolve_split(entry, h, &p, &num, why, sizeof why);
  if (rc)
    print_error("%s: %s\n", entry, why);
  assert_int_equal(rc, 0);
  assert_string_equal(h, host);
  assert_int_equal(p, port);
  assert_int_equal(num, numeric);
}

/* Refused, with a why that starts with the expected form, contains
 * detail, and does not echo the entry. */
static void bad(const char *entry, const char *detail)
{
  char why[RESOLVE_WHY_LEN] = "";
  assert_int_equal(resolve_check(entry, why, sizeof why), IPOP_EFIELD);
  if (!strstr(why, detail))
    print_error("%s: why \"%s\" lacks \"%s\"\n", entry, why, detail);
  assert_non_null(strstr(why, detail));
  assert_true(strncmp(why, "expected \"host:port\" or \"[ip6]:port\": ", 38) == 0);
  if (strlen(entry) > 6)
    assert_null(strstr(why, entry));
}

static void test_syntax_good(void **state)
{
  (void)state;
  good("turn.example.org:3478", "turn.example.org", 3478, false);
  good("localhost:1", "localhost", 1, false);
  good("stun_1.example-net.org.:65535", "stun_1.example-net.org.", 65535, false);
  good("198.18.0.100:3478", "198.18.0.100", 3478, true);
  good("[2001:db8::1]:5349", "2001:db8::1", 5349, true);
  good("[::ffff:198.18.0.1]:3478", "::ffff:198.18.0.1", 3478, true);
  good("h:00080", "h", 80, false);
  /* longest name: 253 characters in labels of 63 */
  char name[300], entry[320];
  memset(name, 'a', 253);
  name[253] = '\0';
  for (int i = 63; i < 253; i += 64)
    name[i] = '.';
  snprintf(entry, sizeof entry, "%s:3478", name);
  good(entry, name, 3478, false);
}

static void test_syntax_bad(void **state)
{
  (void)state;
  bad("", "empty");
  bad("turn.example.org", "no \":port\"");
  bad("host:", "no port after");
  bad("host:0", "port 0 is not in 1..65535");
  bad("host:65536", "port 65536 is not in 1..65535");
  bad("host:123456", "more than 5 digits");
  bad("host:-1", "not a decimal number");
  bad("host:+1", "not a decimal number");
  bad("host: 1", "not a decimal number");
  bad("host:34x", "not a decimal number");
  bad(":3478", "no host");
  bad("[::1:3478", "'[' without ']'");
  bad("[::1]3478", "no \":port\" after ']'");
  bad("[::1]", "no \":port\" after ']'");
  bad("[]:3478", "not an IPv6 address");
  bad("[turn.example.org]:3478", "not an IPv6 address");
  bad("[198.18.0.1]:3478", "not an IPv6 address");
  bad("::1:3478", "IPv6 address needs brackets");
  bad("2001:db8::1:3478", "IPv6 address needs brackets");
  bad("a..b:3478", "empty label");
  bad(".a:3478", "empty label");
  bad("a b:3478", "0x20");
  bad("tab\there:3478", "0x09");
  bad("bell\a:3478", "0x07");
  bad("caf\xc3\xa9.example:3478", "0xc3");
  bad("evil;rm -rf:3478", "';'");
  bad("a/b:3478", "'/'");
  bad("user@host:3478", "'@'");
}

static void test_syntax_hostile(void **state)
{
  (void)state;
  /* 300-character host */
  char entry[400];
  memset(entry, 'a', 300);
  snprintf(entry + 300, sizeof entry - 300, ":3478");
  bad(entry, "longer than 253");
  /* 254 characters in short labels */
  for (int i = 0; i < 254; i++)
    entry[i] = i % 2 ? '.' : 'a';
  entry[253] = 'a';
  snprintf(entry + 254, sizeof entry - 254, ":3478");
  bad(entry, "longer than 253");
  /* a 64-character label */
  memset(entry, 'b', 64);
  snprintf(entry + 64, sizeof entry - 64, ".org:3478");
  bad(entry, "longer than 63");
  /* embedded NUL: C sees "a", which has no port */
  static const char nul[] = "a\0b:3478";
  bad(nul, "no \":port\"");
  static const char nul6[] = "[::1\0]:3478";
  bad(nul6, "'[' without ']'");
  /* a bracketed part longer than any IPv6 address */
  memset(entry, '1', 300);
  entry[0] = '[';
  snprintf(entry + 300, sizeof entry - 300, "]:3478");
  bad(entry, "not an IPv6 address");
  /* why may be NULL or tiny */
  assert_int_equal(resolve_check("x", NULL, 0), IPOP_EFIELD);
  char tiny[4];
  assert_int_equal(resolve_check("x", tiny, sizeof tiny), IPOP_EFIELD);
  assert_int_equal(strlen(tiny), 3);
}

/* ------------------------------------------------------------ resolving */

struct got {
  int calls;
  int status;
  struct resolve_result res;
  struct resolver *close_in_cb;
};

static void got_cb(int status, const struct resolve_result *res, void *ctx)
{
  struct got *g = ctx;
  g->calls++;
  g->status = status;
  if (res)
    g->res = *res;
  if (g->close_in_cb) {
    resolver_close(g->close_in_cb);
    g->close_in_cb = NULL;
  }
}

static void test_numeric_without_dns(void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct resolver *r;
  assert_int_equal(resolver_new(&loop, RESOLVE_TTL_MS, &r), 0);
  const char *e[] = { "198.18.0.100:3478", "[2001:db8::1]:5349", "host:0" };
  struct got g = { 0 };
  assert_int_equal(resolver_resolve(r, e, 3, got_cb, &g), 0);
  /* answered before returning: nothing to look up */
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.status, 0);
  assert_int_equal(g.res.n, 3);
  assert_int_equal(g.res.e[0].status, 0);
  assert_string_equal(g.res.e[0].addr, "198.18.0.100:3478");
  assert_false(g.res.e[0].from_dns);
  assert_string_equal(g.res.e[1].addr, "[2001:db8::1]:5349");
  assert_int_equal(g.res.e[2].status, IPOP_EFIELD);
  assert_non_null(strstr(g.res.e[2].why, "port 0"));
  assert_int_equal(resolver_cached(r), 0);
  /* too many entries, no callback */
  const char *many[RESOLVE_MAX_ENTRIES + 1];
  for (size_t i = 0; i <= RESOLVE_MAX_ENTRIES; i++)
    many[i] = "198.18.0.1:1";
  assert_int_equal(resolver_resolve(r, many, RESOLVE_MAX_ENTRIES + 1, got_cb, &g), IPOP_EINVAL);
  assert_int_equal(g.calls, 1);
  /* empty list: answered at once */
  assert_int_equal(resolver_resolve(r, e, 0, got_cb, &g), 0);
  assert_int_equal(g.calls, 2);
  assert_int_equal(g.res.n, 0);
  resolver_close(r); /* nothing pending: freed now */
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* localhost comes from /etc/hosts (no network); .invalid never resolves
 * (RFC 6761); the second request is answered from the cache. */
static void test_localhost_invalid_and_cache(void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct resolver *r;
  assert_int_equal(resolver_new(&loop, RESOLVE_TTL_MS, &r), 0);
  const char *e[] = { "localhost:3478", "198.18.0.1:3478", "no-such-host.invalid:3478",
                      "[::1:3478" };
  struct got g = { 0 };
  assert_int_equal(resolver_resolve(r, e, 4, got_cb, &g), 0);
  assert_int_equal(g.calls, 0); /* names: from the loop */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.calls, 1);
  assert_int_equal(g.status, 0);
  assert_int_equal(g.res.e[0].status, 0);
  assert_true(g.res.e[0].from_dns);
  /* the first IPv4 address (hosts files list ::1 for localhost too) */
  assert_string_equal(g.res.e[0].addr, "127.0.0.1:3478");
  assert_string_equal(g.res.e[1].addr, "198.18.0.1:3478");
  assert_true(g.res.e[2].status < 0 && g.res.e[2].status != IPOP_EFIELD);
  assert_true(g.res.e[2].why[0] != '\0');
  print_message("no-such-host.invalid: %s\n", g.res.e[2].why);
  assert_string_equal(g.res.e[2].addr, "");
  assert_int_equal(g.res.e[3].status, IPOP_EFIELD);
  assert_int_equal(resolver_cached(r), 1); /* failures are not cached */

  /* again: localhost from the cache, before returning */
  const char *again[] = { "localhost:3478" };
  assert_int_equal(resolver_resolve(r, again, 1, got_cb, &g), 0);
  assert_int_equal(g.calls, 2);
  assert_string_equal(g.res.e[0].addr, "127.0.0.1:3478");
  assert_true(g.res.e[0].from_dns);
  /* another port is another entry */
  const char *other[] = { "localhost:5349" };
  assert_int_equal(resolver_resolve(r, other, 1, got_cb, &g), 0);
  assert_int_equal(g.calls, 2);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g.calls, 3);
  assert_string_equal(g.res.e[0].addr, "127.0.0.1:5349");
  assert_int_equal(resolver_cached(r), 2);
  resolver_close(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ttl 0: every request asks again. */
static void test_no_cache(void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct resolver *r;
  assert_int_equal(resolver_new(&loop, 0, &r), 0);
  const char *e[] = { "localhost:3478" };
  struct got g = { 0 };
  for (int i = 1; i <= 2; i++) {
    assert_int_equal(resolver_resolve(r, e, 1, got_cb, &g), 0);
    assert_int_equal(g.calls, i - 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(g.calls, i);
    assert_string_equal(g.res.e[0].addr, "127.0.0.1:3478");
  }
  assert_int_equal(resolver_cached(r), 0);
  resolver_close(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Closing with lookups in flight: every callback comes exactly once, with
 * UV_ECANCELED, and the resolver frees itself after the last lookup
 * (ASan/LSan would see a use after free or a leak). */
static void test_close_cancels(void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct resolver *r;
  assert_int_equal(resolver_new(&loop, RESOLVE_TTL_MS, &r), 0);
  enum { N = 6 };
  struct got g[N] = { 0 };
  const char *e[] = { "localhost:3478", "no-such-host.invalid:3478", "198.18.0.1:1",
                      "localhost:1" };
  for (int i = 0; i < N; i++)
    assert_int_equal(resolver_resolve(r, e, 4, got_cb, &g[i]), 0);
  resolver_close(r);
  for (int i = 0; i < N; i++)
    assert_int_equal(g[i].calls, 0); /* from the loop, not from close */
  uv_run(&loop, UV_RUN_DEFAULT);
  for (int i = 0; i < N; i++) {
    assert_int_equal(g[i].calls, 1);
    assert_int_equal(g[i].status, UV_ECANCELED);
  }
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* Closing from inside a callback, with another request still in flight,
 * and a request after close is refused. */
static void test_close_in_callback(void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  struct resolver *r;
  assert_int_equal(resolver_new(&loop, RESOLVE_TTL_MS, &r), 0);
  const char *num[] = { "198.18.0.1:1" };
  struct got g0 = { .close_in_cb = NULL };
  /* synchronous callback that closes: resolver freed after it returns */
  struct resolver *r2;
  assert_int_equal(resolver_new(&loop, RESOLVE_TTL_MS, &r2), 0);
  g0.close_in_cb = r2;
  assert_int_equal(resolver_resolve(r2, num, 1, got_cb, &g0), 0);
  assert_int_equal(g0.calls, 1);

  const char *e[] = { "localhost:3478" };
  struct got g1 = { .close_in_cb = r }, g2 = { 0 };
  assert_int_equal(resolver_resolve(r, e, 1, got_cb, &g1), 0);
  assert_int_equal(resolver_resolve(r, e, 1, got_cb, &g2), 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g1.calls, 1);
  assert_int_equal(g2.calls, 1);
  /* whichever came first closed the resolver; the other was cancelled or
   * had its answer dropped */
  assert_true((g1.status == 0 && g2.status == UV_ECANCELED) ||
              (g2.status == 0 && g1.status == UV_ECANCELED) ||
              (g1.status == 0 && g2.status == 0));
  resolver_close(NULL);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  /* A resolver that does not answer must not stall the .invalid case. */
  setenv("RES_OPTIONS", "timeout:2 attempts:1", 1);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_syntax_good),
    cmocka_unit_test(test_syntax_bad),
    cmocka_unit_test(test_syntax_hostile),
    cmocka_unit_test(test_numeric_without_dns),
    cmocka_unit_test(test_localhost_invalid_and_cache),
    cmocka_unit_test(test_no_cache),
    cmocka_unit_test(test_close_cancels),
    cmocka_unit_test(test_close_in_callback),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
