/* Secret key files: created 0600 with 64 hex digits, reloaded unchanged,
 * refused when readable by others, malformed or missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "secret.h"

struct fx {
  char dir[64];
  char path[128];
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/ipop-test-secret-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  snprintf(fx->path, sizeof fx->path, "%s/ctl.key", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  char other[160];
  unlink(fx->path);
  snprintf(other, sizeof other, "%s/link", fx->dir);
  unlink(other);
  snprintf(other, sizeof other, "%s/sub", fx->dir);
  rmdir(other);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

static void write_key_file(const char *path, const char *text, mode_t mode)
{
  unlink(path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  assert_int_equal(fchmod(fd, mode), 0);
  close(fd);
}

static const char hex64[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_create_on_first_load(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN], again[IPOP_SECRET_LEN];
  char why[256] = "";
  /* a restrictive umask or a permissive one: the mode is 0600 either way */
  mode_t old = umask(0);
  int rc = ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, key, why, sizeof why);
  umask(old);
  assert_int_equal(rc, 0);
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 07777, 0600);
  /* 64 lower-case hex digits and a newline */
  char text[128];
  FILE *f = fopen(fx->path, "r");
  assert_non_null(f);
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  assert_int_equal(n, 65);
  assert_int_equal(text[64], '\n');
  assert_int_equal(strspn(text, "0123456789abcdef"), 64);
  /* the file holds the key that was returned */
  char hex[2 * IPOP_SECRET_LEN + 1];
  ipop_hex_encode(key, IPOP_SECRET_LEN, hex);
  assert_memory_equal(hex, text, 64);
  /* reload gives the same key, with or without create */
  assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, again, why, sizeof why), 0);
  assert_memory_equal(key, again, sizeof key);
  assert_int_equal(ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, again, why, sizeof why), 0);
  assert_memory_equal(key, again, sizeof key);
}

static void test_two_keys_differ(void **state)
{
  struct fx *fx = *state;
  uint8_t a[IPOP_SECRET_LEN], b[IPOP_SECRET_LEN];
  assert_int_equal(ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, a, NULL, 0), 0);
  unlink(fx->path);
  assert_int_equal(ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, b, NULL, 0), 0);
  assert_memory_not_equal(a, b, sizeof a);
}

static void test_load_existing(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN];
  write_key_file(fx->path, hex64, 0600);
  assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, key, NULL, 0), 0);
  assert_int_equal(key[0], 0x00);
  assert_int_equal(key[1], 0x11);
  assert_int_equal(key[15], 0xff);
  assert_int_equal(key[31], 0xff);
  /* trailing newline / CRLF / spaces and upper case are fine; 0400 too */
  char text[128];
  snprintf(text, sizeof text, "%s\r\n", hex64);
  for (char *p = text; *p; p++)
    if (*p >= 'a' && *p <= 'f')
      *p = (char)(*p - 'a' + 'A');
  write_key_file(fx->path, text, 0400);
  uint8_t key2[IPOP_SECRET_LEN];
  assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, key2, NULL, 0), 0);
  assert_memory_equal(key, key2, sizeof key);
}

static void test_refused_when_readable_by_others(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN];
  static const mode_t modes[] = { 0640, 0604, 0644, 0660, 0606, 0610, 0601, 0666 };
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    char why[256] = "", want[256];
    write_key_file(fx->path, hex64, modes[i]);
    assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why),
                     IPOP_EPERM);
    snprintf(want, sizeof want,
             "key file %s must be a regular file with mode 0600 (found %04o)", fx->path,
             (unsigned)modes[i]);
    assert_string_equal(why, want);
    /* create does not overwrite an existing file */
    assert_int_equal(ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, key, NULL, 0),
                     IPOP_EPERM);
  }
}

static void test_refused_when_not_regular(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN];
  char sub[160], link[160];
  snprintf(sub, sizeof sub, "%s/sub", fx->dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_not_equal(ipop_secret_load(sub, 0, (uid_t)-1, (gid_t)-1, key, NULL, 0), 0);
  /* a symlink is not followed, even to a good key file */
  write_key_file(fx->path, hex64, 0600);
  snprintf(link, sizeof link, "%s/link", fx->dir);
  assert_int_equal(symlink(fx->path, link), 0);
  assert_int_not_equal(ipop_secret_load(link, 0, (uid_t)-1, (gid_t)-1, key, NULL, 0), 0);
  assert_int_not_equal(ipop_secret_load(link, 1, (uid_t)-1, (gid_t)-1, key, NULL, 0), 0);
}

static void test_wrong_content(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN];
  char too_long[80];
  snprintf(too_long, sizeof too_long, "%s00", hex64);
  char bad_digit[80];
  snprintf(bad_digit, sizeof bad_digit, "%s", hex64);
  bad_digit[10] = 'g';
  char inner_space[80];
  snprintf(inner_space, sizeof inner_space, "%s", hex64);
  inner_space[32] = ' ';
  const char *const bad[] = { "", "\n", "0011", too_long, bad_digit, inner_space,
                              "not a key at all\n" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char why[256] = "", want[256];
    write_key_file(fx->path, bad[i], 0600);
    assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why),
                     IPOP_EFIELD);
    snprintf(want, sizeof want, "key file %s must hold 64 hex digits", fx->path);
    assert_string_equal(why, want);
    /* create never replaces a bad file */
    assert_int_equal(ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, key, NULL, 0),
                     IPOP_EFIELD);
  }
}

static void test_missing_without_create(void **state)
{
  struct fx *fx = *state;
  uint8_t key[IPOP_SECRET_LEN];
  char why[256] = "";
  assert_int_equal(ipop_secret_load(fx->path, 0, (uid_t)-1, (gid_t)-1, key, why, sizeof why),
                   IPOP_ENOENT);
  assert_non_null(strstr(why, fx->path));
  assert_int_equal(access(fx->path, F_OK), -1); /* and nothing was created */
  /* create in a directory that does not exist */
  char nodir[160];
  snprintf(nodir, sizeof nodir, "%s/nope/ctl.key", fx->dir);
  assert_int_not_equal(ipop_secret_load(nodir, 1, (uid_t)-1, (gid_t)-1, key, NULL, 0), 0);
}

/* Both daemons start at once and find no key file: every process must end
 * up with the same complete key (none may read a half-written file), and
 * no temporary file is left behind.  Repeated to make the race likely. */
static void test_concurrent_create(void **state)
{
  struct fx *fx = *state;
  enum { ROUNDS = 20, PROCS = 6 };
  for (int round = 0; round < ROUNDS; round++) {
    int fds[PROCS][2];
    pid_t pids[PROCS];
    for (int i = 0; i < PROCS; i++) {
      assert_int_equal(pipe(fds[i]), 0);
      pids[i] = fork();
      assert_true(pids[i] >= 0);
      if (pids[i] == 0) {
        uint8_t k[IPOP_SECRET_LEN];
        char why[256];
        int rc = ipop_secret_load(fx->path, 1, (uid_t)-1, (gid_t)-1, k, why, sizeof why);
        if (rc != 0 || write(fds[i][1], k, sizeof k) != (ssize_t)sizeof k)
          _exit(1);
        _exit(0);
      }
      close(fds[i][1]);
    }
    uint8_t first[IPOP_SECRET_LEN], k[IPOP_SECRET_LEN];
    for (int i = 0; i < PROCS; i++) {
      int status;
      assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
      assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      assert_int_equal(read(fds[i][0], i ? k : first, sizeof k), (ssize_t)sizeof k);
      close(fds[i][0]);
      if (i)
        assert_memory_equal(k, first, sizeof k);
    }
    int entries = 0;
    DIR *d = opendir(fx->dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
      entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 1); /* only the key, no temporary files */
    unlink(fx->path);
  }
}

static void test_hex_helpers(void **state)
{
  uint8_t in[4] = { 0x00, 0xab, 0x7f, 0xff }, out[4];
  char hex[9];
  ipop_hex_encode(in, 4, hex);
  assert_string_equal(hex, "00ab7fff");
  assert_int_equal(ipop_hex_decode(hex, out, 4), 0);
  assert_memory_equal(in, out, 4);
  assert_int_equal(ipop_hex_decode("00AB7FFF", out, 4), 0);
  assert_memory_equal(in, out, 4);
  assert_int_equal(ipop_hex_decode("00ab7ff", out, 4), IPOP_EINVAL);
  assert_int_equal(ipop_hex_decode("00ab7fff0", out, 4), IPOP_EINVAL);
  assert_int_equal(ipop_hex_decode("00ab7f-f", out, 4), IPOP_EINVAL);
  assert_int_equal(ipop_hex_decode("", out, 0), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_create_on_first_load, setup, teardown),
    cmocka_unit_test_setup_teardown(test_two_keys_differ, setup, teardown),
    cmocka_unit_test_setup_teardown(test_load_existing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refused_when_readable_by_others, setup, teardown),
    cmocka_unit_test_setup_teardown(test_refused_when_not_regular, setup, teardown),
    cmocka_unit_test_setup_teardown(test_wrong_content, setup, teardown),
    cmocka_unit_test_setup_teardown(test_missing_without_create, setup, teardown),
    cmocka_unit_test_setup_teardown(test_concurrent_create, setup, teardown),
    cmocka_unit_test(test_hex_helpers),
  };
  return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
