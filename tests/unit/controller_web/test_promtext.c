/* promtext: families, samples, and label values a peer chose (a JID with
 * quotes, backslashes, newlines or markup) that must stay one label value
 * and never start a new line or sample. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "promtext.h"

static char *take(struct promtext *p)
{
  size_t len = 0;
  char *s = promtext_take(p, &len);
  assert_non_null(s);
  assert_int_equal(len, strlen(s));
  return s;
}

static void test_family_and_samples(void **state)
{
  struct promtext p = { 0 };
  promtext_family(&p, "ipop_link_up", "gauge", "1 if up\nsecond line \\ slash");
  struct prom_label l[] = { { "overlay", "ov1" }, { "peer", "abc" } };
  promtext_u64(&p, "ipop_link_up", l, 2, 1);
  promtext_u64(&p, "ipop_x_total", NULL, 0, UINT64_MAX);
  promtext_double(&p, "ipop_link_rtt_seconds", l, 1, 0.0125);
  char *s = take(&p);
  assert_string_equal(s, "# HELP ipop_link_up 1 if up\\nsecond line \\\\ slash\n"
                         "# TYPE ipop_link_up gauge\n"
                         "ipop_link_up{overlay=\"ov1\",peer=\"abc\"} 1\n"
                         "ipop_x_total 18446744073709551615\n"
                         "ipop_link_rtt_seconds{overlay=\"ov1\"} 0.0125\n");
  free(s);
}

/* A hostile JID: the value stays inside its quotes, on its line. */
static void test_hostile_label(void **state)
{
  struct promtext p = { 0 };
  const char *jid = "evil\"} 1\nipop_link_up{peer=\"x\\\"<script>alert(1)</script>@x";
  struct prom_label l[] = { { "peer_jid", jid } };
  promtext_u64(&p, "ipop_link_up", l, 1, 0);
  char *s = take(&p);
  assert_string_equal(s, "ipop_link_up{peer_jid=\"evil\\\"} 1\\nipop_link_up{peer=\\\"x"
                         "\\\\\\\"<script>alert(1)</script>@x\"} 0\n");
  assert_int_equal(strchr(s, '\n') - s, (long)strlen(s) - 1); /* one line */
  free(s);
}

static void test_null_value_and_growth(void **state)
{
  struct promtext p = { 0 };
  struct prom_label l[] = { { "a", NULL } };
  for (int i = 0; i < 10000; i++)
    promtext_u64(&p, "m", l, 1, (uint64_t)i);
  char *s = take(&p);
  assert_true(strncmp(s, "m{a=\"\"} 0\n", 10) == 0);
  assert_non_null(strstr(s, "m{a=\"\"} 9999\n"));
  free(s);
  /* An empty writer takes as NULL; free is idempotent. */
  size_t len;
  assert_null(promtext_take(&p, &len));
  promtext_free(&p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_family_and_samples),
    cmocka_unit_test(test_hostile_label),
    cmocka_unit_test(test_null_value_and_growth),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
