/* procstat: /proc/PID/stat parsing (a command name with spaces and ')'),
 * and this process's own numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "error.h"
#include "procstat.h"

static void test_parse(void **state)
{
  /* pid (comm) state ppid ... utime=14 stime=15 ... starttime=22 vsize=23 rss=24 */
  const char *text = "42 (a) b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 "
                     "5000 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0";
  struct ipop_procstat ps = { 0 };
  assert_int_equal(ipop_procstat_parse_stat(text, 100, 4096, 1000000, &ps), 0);
  assert_int_equal(ps.cpu_ms, 4000);
  assert_int_equal(ps.start_time_s, 1000050);
  assert_int_equal(ps.vsize_bytes, 123456789);
  assert_int_equal(ps.rss_bytes, 300 * 4096);
  assert_int_equal(ipop_procstat_parse_stat("42 (x) S 1 2 3", 100, 4096, 0, &ps), IPOP_EINVAL);
  assert_int_equal(ipop_procstat_parse_stat("no parenthesis", 100, 4096, 0, &ps), IPOP_EINVAL);
  assert_int_equal(ipop_procstat_parse_stat(text, 0, 4096, 0, &ps), IPOP_EINVAL);
}

static void test_self(void **state)
{
  struct ipop_procstat ps;
  assert_int_equal(ipop_procstat_self(&ps), 0);
  assert_int_equal(ps.pid, (uint32_t)getpid());
  assert_true(ps.rss_bytes > 0);
  assert_true(ps.max_fds > 0);
  uint32_t before = ps.open_fds;
  int fd = open("/dev/null", O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(ipop_procstat_self(&ps), 0);
  assert_int_equal(ps.open_fds, before + 1);
  close(fd);
  assert_true(ps.start_time_s > 1600000000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse),
    cmocka_unit_test(test_self),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
