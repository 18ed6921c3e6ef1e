/* tincan's permission table (access.c): every request tincan serves has a
 * class (a missing one is refused), and the classes against the
 * registration state: any key holder while no controller is registered;
 * once one is, only it (and, for register, the configured endpoint) may
 * change the dataplane, until its lease lapses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "access.h"
#include "error.h"
#include "tincan.h"

/* ipop_now_ms() is wrapped (-Wl,--wrap) so the lease is under the test's
 * control. */
uint64_t __real_ipop_now_ms(void);
uint64_t __wrap_ipop_now_ms(void);
static uint64_t fake_now = 1000000;
uint64_t __wrap_ipop_now_ms(void) { return fake_now; }

static struct sockaddr_storage addr(const char *text)
{
  struct sockaddr_storage ss;
  assert_int_equal(ctl_parse_endpoint(text, &ss, 0), 0);
  return ss;
}

static int permit(struct tc_daemon *d, const char *from, const char *name)
{
  char why[256] = "";
  struct sockaddr_storage ss = addr(from);
  return tc_access_permit(NULL, (struct sockaddr *)&ss, name, why, sizeof why, d);
}

static void test_every_handler_has_a_class(void **state)
{
  (void)state;
  for (unsigned i = 0; i < tc_handlers_count; i++)
    if (tc_access_class(tc_handlers[i].name) < 0)
      fail_msg("request %s has no permission class", tc_handlers[i].name);
  struct tc_daemon d;
  memset(&d, 0, sizeof d);
  assert_int_equal(permit(&d, "127.0.0.1:4000", "no_such_request"), IPOP_EPERM);
}

static void test_registration(void **state)
{
  (void)state;
  struct tc_daemon d;
  memset(&d, 0, sizeof d);
  d.controller = d.access.configured = addr("127.0.0.1:5801");
  d.has_controller = true;
  /* nobody registered: anyone with the key may do anything */
  assert_int_equal(permit(&d, "127.0.0.1:40000", "create_overlay"), 0);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "register"), 0);
  /* the controller registers */
  d.access.registered = true;
  d.access.seen_ms = fake_now;
  assert_int_equal(permit(&d, "127.0.0.1:5801", "create_link"), 0);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "create_link"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "query_candidates"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "remove_overlay"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "set_address_mapping"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "register"), IPOP_EPERM);
  /* a different address family or port is a different endpoint */
  assert_int_equal(permit(&d, "[::1]:5801", "create_link"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:5802", "create_link"), IPOP_EPERM);
  /* queries and subscribe stay open */
  static const char *const open_to_all[] = { "echo", "query_overlay_info", "query_link_stats",
                                             "subscribe", "configure_logging" };
  for (size_t i = 0; i < sizeof open_to_all / sizeof open_to_all[0]; i++)
    assert_int_equal(permit(&d, "127.0.0.1:40000", open_to_all[i]), 0);
  /* the lease: renewed by any request from the controller ... */
  fake_now += TC_REGISTER_LEASE_MS - 1;
  assert_int_equal(permit(&d, "127.0.0.1:5801", "echo"), 0);
  fake_now += TC_REGISTER_LEASE_MS - 1;
  assert_int_equal(permit(&d, "127.0.0.1:40000", "create_link"), IPOP_EPERM);
  /* ... and lapsed after TC_REGISTER_LEASE_MS of silence */
  fake_now += 1;
  assert_int_equal(permit(&d, "127.0.0.1:40000", "create_link"), 0);
  assert_int_equal(permit(&d, "127.0.0.1:40000", "register"), 0);
  assert_false(d.access.registered);
}

/* A second client registered first (or after the controller went
 * silent): the configured endpoint is the controller by configuration and
 * may always act, and a lapsed registrant's events go back to it. */
static void test_configured_controller_takes_over(void **state)
{
  (void)state;
  struct tc_daemon d;
  memset(&d, 0, sizeof d);
  d.access.configured = addr("127.0.0.1:5801");
  d.controller = addr("127.0.0.1:40000");
  d.has_controller = true;
  d.access.registered = true;
  d.access.seen_ms = fake_now;
  assert_int_equal(permit(&d, "127.0.0.1:5801", "create_overlay"), 0);
  assert_int_equal(permit(&d, "127.0.0.1:5801", "register"), 0);
  assert_int_equal(permit(&d, "127.0.0.1:40001", "register"), IPOP_EPERM);
  assert_int_equal(permit(&d, "127.0.0.1:40001", "remove_link"), IPOP_EPERM);
  /* the registrant goes silent: events return to Control.Controller */
  fake_now += TC_REGISTER_LEASE_MS;
  assert_int_equal(permit(&d, "127.0.0.1:5801", "echo"), 0);
  assert_false(d.access.registered);
  struct sockaddr_storage cfg = addr("127.0.0.1:5801");
  assert_true(ctl_sockaddr_equal((struct sockaddr *)&d.controller, (struct sockaddr *)&cfg));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_every_handler_has_a_class),
    cmocka_unit_test(test_registration),
    cmocka_unit_test(test_configured_controller_takes_over),
  };
  return cmocka_run_group_tests_name("tc_access", tests, NULL, NULL);
}
