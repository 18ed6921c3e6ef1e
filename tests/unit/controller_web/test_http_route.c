/* http_route: known paths, GET/HEAD only, 404 for the rest, and the Host
 * check of a loopback listener (a DNS rebinding page names its own host). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "http_route.h"

static int status(const char *m, const char *path, const char *host, bool lo)
{
  struct http_answer a;
  http_route(m, path, host, lo, &a);
  if (a.status != 200)
    assert_non_null(a.why);
  return a.status;
}

static void test_paths(void **state)
{
  struct http_answer a;
  http_route("GET", "/metrics", "127.0.0.1:9587", true, &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.target, HTTP_T_METRICS);
  http_route("HEAD", "/api/map", NULL, true, &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.target, HTTP_T_MAP_JSON);
  http_route("GET", "/", "localhost", true, &a);
  assert_int_equal(a.status, 200);
  assert_int_equal(a.target, HTTP_T_ASSET);
  assert_string_equal(http_assets[a.asset].path, "/");
  assert_non_null(strstr((const char *)http_assets[a.asset].data, "/map.js"));
  http_route("GET", "/map.js", "localhost", true, &a);
  assert_int_equal(a.status, 200);
  assert_string_equal(http_assets[a.asset].content_type, "text/javascript; charset=utf-8");
  assert_int_equal(status("GET", "/map.css", "[::1]:9587", true), 200);
  assert_int_equal(http_assets_count, 3);
}

static void test_refused(void **state)
{
  assert_int_equal(status("GET", "/nope", NULL, true), 404);
  assert_int_equal(status("GET", "/metrics/", NULL, true), 404);
  assert_int_equal(status("GET", "/../etc/passwd", NULL, true), 404);
  assert_int_equal(status("GET", "/index.html", NULL, true), 404);
  assert_int_equal(status("GET", "", NULL, true), 400);
  assert_int_equal(status("GET", "*", NULL, true), 400);
  assert_int_equal(status(NULL, "/metrics", NULL, true), 400);
  assert_int_equal(status("POST", "/metrics", NULL, true), 405);
  assert_int_equal(status("PUT", "/", NULL, true), 405);
  assert_int_equal(status("DELETE", "/api/map", NULL, true), 405);
  assert_int_equal(status("get", "/metrics", NULL, true), 405); /* methods are case-sensitive */
  assert_int_equal(status("OPTIONS", "/metrics", NULL, true), 405);
}

static void test_host(void **state)
{
  assert_true(http_host_is_loopback("127.0.0.1"));
  assert_true(http_host_is_loopback("127.8.9.1:80"));
  assert_true(http_host_is_loopback("LocalHost:9587"));
  assert_true(http_host_is_loopback("[::1]:9587"));
  assert_true(http_host_is_loopback("[::1]"));
  assert_false(http_host_is_loopback("evil.example"));
  assert_false(http_host_is_loopback("localhost.evil.example"));
  assert_false(http_host_is_loopback("127.0.0.1.evil.example"));
  assert_false(http_host_is_loopback("[::1]x"));
  assert_false(http_host_is_loopback("[::1"));
  assert_false(http_host_is_loopback("198.18.0.1:9587"));
  assert_false(http_host_is_loopback(""));
  char big[600];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_false(http_host_is_loopback(big));
  /* loopback listener: foreign names refused; others: any Host */
  assert_int_equal(status("GET", "/metrics", "evil.example:9587", true), 421);
  assert_int_equal(status("GET", "/metrics", "evil.example:9587", false), 200);
  assert_int_equal(status("GET", "/metrics", NULL, true), 200); /* HTTP/1.0: no Host */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_paths),
    cmocka_unit_test(test_refused),
    cmocka_unit_test(test_host),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
