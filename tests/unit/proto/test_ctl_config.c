/* The "Control" config section: defaults, and endpoints that are not
 * loopback or not HOST:PORT are refused with the key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>

#include "config.h"
#include "ctl_config.h"
#include "error.h"

static int parse(const char *text, struct ctl_config *c, struct jb_error *err)
{
  return ipop_config_parse("control.json", text, strlen(text), &ctl_config_schema, c, err);
}

static void test_defaults(void **state)
{
  struct ctl_config c;
  struct jb_error err;
  assert_int_equal(parse("{}", &c, &err), 0);
  assert_string_equal(c.tincan, "127.0.0.1:5800");
  assert_string_equal(c.controller, "127.0.0.1:5801");
  assert_string_equal(c.key_file, CTL_DEFAULT_KEY_FILE);
  struct sockaddr_storage t, k;
  assert_int_equal(ctl_config_resolve(&c, &t, &k, &err), 0);
  assert_int_equal(ntohs(((struct sockaddr_in *)&t)->sin_port), 5800);
  assert_int_equal(ntohs(((struct sockaddr_in *)&k)->sin_port), 5801);
}

static void test_ipv6_and_localhost(void **state)
{
  struct ctl_config c;
  struct jb_error err;
  assert_int_equal(parse("{\"Tincan\":\"[::1]:6800\",\"Controller\":\"localhost:6801\"}", &c, &err),
                   0);
  struct sockaddr_storage t, k;
  assert_int_equal(ctl_config_resolve(&c, &t, &k, &err), 0);
  assert_int_equal(t.ss_family, AF_INET6);
  assert_int_equal(k.ss_family, AF_INET);
}

static void test_resolve_errors(void **state)
{
  static const struct {
    const char *json, *path, *msg;
  } cases[] = {
    { "{\"Tincan\":\"10.0.0.1:5800\"}", "Control.Tincan",
      "Control.Tincan: the control socket must be on loopback (127.0.0.0/8 or ::1), found "
      "\"10.0.0.1:5800\"" },
    { "{\"Controller\":\"[fd00::1]:5801\"}", "Control.Controller",
      "Control.Controller: the control socket must be on loopback (127.0.0.0/8 or ::1), found "
      "\"[fd00::1]:5801\"" },
    { "{\"Tincan\":\"127.0.0.1\"}", "Control.Tincan",
      "Control.Tincan: expected HOST:PORT or [IPV6]:PORT, found \"127.0.0.1\"" },
    { "{\"Controller\":\"127.0.0.1:99999\"}", "Control.Controller",
      "Control.Controller: expected HOST:PORT or [IPV6]:PORT, found \"127.0.0.1:99999\"" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct ctl_config c;
    struct jb_error err;
    struct sockaddr_storage t, k;
    assert_int_equal(parse(cases[i].json, &c, &err), 0);
    assert_int_equal(ctl_config_resolve(&c, &t, &k, &err), IPOP_EFIELD);
    assert_int_equal(err.code, IPOP_EFIELD);
    assert_string_equal(err.path, cases[i].path);
    assert_string_equal(err.msg, cases[i].msg);
  }
}

static void test_schema_errors(void **state)
{
  struct ctl_config c;
  struct jb_error err;
  assert_int_equal(parse("{\"Tincan\":5800}", &c, &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "control.json: Tincan: expected string, found 5800");
  assert_int_equal(parse("{\"KeyFile\":\"\"}", &c, &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "control.json: KeyFile: string too short (0 bytes, at least 1)");
  assert_int_equal(parse("{\"Keyfile\":\"/k\"}", &c, &err), IPOP_EUNKNOWN);
  assert_string_equal(err.msg, "control.json: Keyfile: unknown key (not part of Control)");
}

static void test_log_section(void **state)
{
  struct ipop_log_config lc;
  struct jb_error err;
  const char *text = "{\"Level\":\"debug\",\"File\":\"/tmp/x.log\"}";
  assert_int_equal(ipop_config_parse("c.json", text, strlen(text), &ipop_log_config_schema, &lc,
                                     &err),
                   0);
  assert_int_equal(lc.level, 3);
  assert_string_equal(lc.file, "/tmp/x.log");
  text = "{}";
  assert_int_equal(ipop_config_parse("c.json", text, strlen(text), &ipop_log_config_schema, &lc,
                                     &err),
                   0);
  assert_int_equal(lc.level, 2); /* info */
  assert_string_equal(lc.file, "");
  text = "{\"Level\":\"verbose\"}";
  assert_int_equal(ipop_config_parse("c.json", text, strlen(text), &ipop_log_config_schema, &lc,
                                     &err),
                   IPOP_EFIELD);
  assert_string_equal(err.msg, "c.json: Level: expected one of \"error\", \"warn\", \"info\", "
                               "\"debug\", \"trace\", found \"verbose\"");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_ipv6_and_localhost),
    cmocka_unit_test(test_resolve_errors),
    cmocka_unit_test(test_schema_errors),
    cmocka_unit_test(test_log_section),
  };
  return cmocka_run_group_tests_name("ctl_config", tests, NULL, NULL);
}
