/* controller/pwfile.c: TURN password files are read only when they are
 * regular files of mode 0600 (or stricter) owned by the user we run as;
 * the errors name the file and the fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "pwfile.h"

struct fx {
  char dir[64];
  char path[128];
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/ipop-test-pwfile-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  snprintf(fx->path, sizeof fx->path, "%s/turn.pw", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  char p[160];
  unlink(fx->path);
  snprintf(p, sizeof p, "%s/link", fx->dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/sub", fx->dir);
  rmdir(p);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static void write_file(const char *path, const void *text, size_t len, mode_t mode)
{
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  close(fd);
  assert_int_equal(chmod(path, mode), 0);
}

static void test_good(void **state)
{
  struct fx *fx = *state;
  char pw[256], why[256] = "";
  write_file(fx->path, "s3cret\n", 7, 0600);
  assert_int_equal(pwfile_read(fx->path, pw, sizeof pw, why, sizeof why), 0);
  assert_string_equal(pw, "s3cret");
  write_file(fx->path, "s3cret\r\nsecond line\n", 20, 0400);
  assert_int_equal(pwfile_read(fx->path, pw, sizeof pw, why, sizeof why), 0);
  assert_string_equal(pw, "s3cret");
  write_file(fx->path, "no newline", 10, 0600);
  assert_int_equal(pwfile_read(fx->path, pw, sizeof pw, why, sizeof why), 0);
  assert_string_equal(pw, "no newline");
}

static void refused(const char *path, int code, const char *detail)
{
  char pw[256] = "x", why[512] = "";
  assert_int_equal(pwfile_read(path, pw, sizeof pw, why, sizeof why), code);
  assert_string_equal(pw, "");
  if (!strstr(why, detail))
    print_error("why \"%s\" lacks \"%s\"\n", why, detail);
  assert_non_null(strstr(why, detail));
  assert_non_null(strstr(why, path));
}

static void test_mode(void **state)
{
  struct fx *fx = *state;
  write_file(fx->path, "s3cret\n", 7, 0644);
  refused(fx->path, IPOP_EPERM, "readable by group or others (mode 644); chmod 600 it");
  write_file(fx->path, "s3cret\n", 7, 0640);
  refused(fx->path, IPOP_EPERM, "(mode 640); chmod 600 it");
  write_file(fx->path, "s3cret\n", 7, 0604);
  refused(fx->path, IPOP_EPERM, "chmod 600 it");
  write_file(fx->path, "s3cret\n", 7, 0620); /* writable by the group */
  refused(fx->path, IPOP_EPERM, "chmod 600 it");
}

/* Owned by someone else: only root can make such a file here. */
static void test_owner(void **state)
{
  struct fx *fx = *state;
  if (geteuid() != 0) {
    print_message("not root: owner check not exercised\n");
    skip();
  }
  write_file(fx->path, "s3cret\n", 7, 0600);
  assert_int_equal(chown(fx->path, 65534, 65534), 0);
  refused(fx->path, IPOP_EPERM, "owned by uid 65534, not by the user the controller runs as "
                                "(uid 0); chown it");
}

static void test_not_a_file(void **state)
{
  struct fx *fx = *state;
  char link[160], sub[160];
  write_file(fx->path, "s3cret\n", 7, 0600);
  snprintf(link, sizeof link, "%s/link", fx->dir);
  assert_int_equal(symlink(fx->path, link), 0);
  refused(link, IPOP_EPERM, "is a symbolic link"); /* O_NOFOLLOW */
  snprintf(sub, sizeof sub, "%s/sub", fx->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  refused(sub, IPOP_EPERM, "is not a regular file");
  char missing[160];
  snprintf(missing, sizeof missing, "%s/missing", fx->dir);
  refused(missing, IPOP_ENOENT, "No such file");
}

static void test_content(void **state)
{
  struct fx *fx = *state;
  write_file(fx->path, "", 0, 0600);
  refused(fx->path, IPOP_EFIELD, "empty or too long");
  write_file(fx->path, "\n", 1, 0600);
  refused(fx->path, IPOP_EFIELD, "empty or too long");
  write_file(fx->path, "ab\0cd\n", 6, 0600);
  refused(fx->path, IPOP_EFIELD, "NUL byte");
  char big[2000];
  memset(big, 'p', sizeof big);
  write_file(fx->path, big, sizeof big, 0600);
  refused(fx->path, IPOP_EFIELD, "empty or too long");
  write_file(fx->path, big, 300, 0600); /* longer than the 256-byte buffer */
  refused(fx->path, IPOP_EFIELD, "at most 255 bytes");
  /* exactly 255 fits */
  write_file(fx->path, big, 255, 0600);
  char pw[256], why[256];
  assert_int_equal(pwfile_read(fx->path, pw, sizeof pw, why, sizeof why), 0);
  assert_int_equal(strlen(pw), 255);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_good, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mode, setup, teardown),
    cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
    cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
    cmocka_unit_test_setup_teardown(test_content, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
