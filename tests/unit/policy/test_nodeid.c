/* nodeid: validation, first-start creation, reload, corrupt files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "fileio.h"
#include "nodeid.h"
#include "policy_test.h"

static void test_valid(void **state)
{
  assert_true(nodeid_valid("0123456789abcdef0123456789abcdef"));
  assert_false(nodeid_valid("0123456789ABCDEF0123456789abcdef"));
  assert_false(nodeid_valid("0123456789abcdef0123456789abcde"));
  assert_false(nodeid_valid("0123456789abcdef0123456789abcdef0"));
  assert_false(nodeid_valid("0123456789abcdef0123456789abcdeg"));
  assert_false(nodeid_valid(""));
  assert_false(nodeid_valid(NULL));
  assert_false(nodeid_valid("../../etc/passwd"));
}

static void test_create_then_reload(void **state)
{
  char dir[64];
  pt_tmpdir(dir);
  struct pt_rng rng = { .seed = 1 };
  char id[NODEID_BUF], id2[NODEID_BUF], why[POLICY_WHY_LEN];
  bool created = false;
  assert_int_equal(nodeid_load(dir, id, why, sizeof why), IPOP_ENOENT);
  assert_int_equal(nodeid_load_or_create(dir, pt_rand, &rng, id, &created, why, sizeof why), 0);
  assert_true(created);
  assert_true(nodeid_valid(id));

  char path[128];
  snprintf(path, sizeof path, "%s/node_id", dir);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  char *text = pt_slurp(path);
  assert_int_equal(strlen(text), 33);
  assert_int_equal(text[32], '\n');
  free(text);

  /* Second start: the same id, nothing created, no randomness needed. */
  assert_int_equal(nodeid_load_or_create(dir, pt_rand_fail, NULL, id2, &created, why,
                                         sizeof why), 0);
  assert_false(created);
  assert_string_equal(id, id2);
  assert_int_equal(nodeid_load(dir, id2, why, sizeof why), 0);
  assert_string_equal(id, id2);
  pt_rmtree(dir);
}

static void test_corrupt(void **state)
{
  static const char *const bad[] = {
    "", "\n", "0123456789abcdef0123456789abcde\n", "0123456789ABCDEF0123456789ABCDEF\n",
    "0123456789abcdef0123456789abcdef\n\n", "0123456789abcdef0123456789abcdef extra",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char dir[64], path[128], id[NODEID_BUF], why[POLICY_WHY_LEN] = "";
    pt_tmpdir(dir);
    snprintf(path, sizeof path, "%s/node_id", dir);
    pt_write(path, bad[i]);
    struct pt_rng rng = { .seed = 2 };
    bool created = true;
    assert_int_equal(nodeid_load_or_create(dir, pt_rand, &rng, id, &created, why, sizeof why),
                     IPOP_EPARSE);
    assert_false(created);
    assert_non_null(strstr(why, "node_id"));
    /* never silently replaced */
    char *text = pt_slurp(path);
    assert_string_equal(text, bad[i]);
    free(text);
    pt_rmtree(dir);
  }
  /* a file without a newline is fine */
  char dir[64], path[128], id[NODEID_BUF];
  pt_tmpdir(dir);
  snprintf(path, sizeof path, "%s/node_id", dir);
  pt_write(path, "00112233445566778899aabbccddeeff");
  assert_int_equal(nodeid_load(dir, id, NULL, 0), 0);
  assert_string_equal(id, "00112233445566778899aabbccddeeff");
  pt_rmtree(dir);
}

static void test_errors(void **state)
{
  char id[NODEID_BUF], why[POLICY_WHY_LEN];
  /* no randomness: error, nothing written */
  char dir[64];
  pt_tmpdir(dir);
  assert_int_equal(nodeid_load_or_create(dir, pt_rand_fail, NULL, id, NULL, why, sizeof why),
                   IPOP_ECRYPTO);
  assert_non_null(strstr(why, "random"));
  assert_int_equal(nodeid_load(dir, id, NULL, 0), IPOP_ENOENT);
  pt_rmtree(dir);
  /* missing or unwritable state directory */
  struct pt_rng rng = { .seed = 3 };
  assert_int_equal(nodeid_load_or_create("/nonexistent/ipop", pt_rand, &rng, id, NULL, why,
                                         sizeof why), IPOP_ESYS);
  assert_int_equal(nodeid_load("", id, why, sizeof why), IPOP_EINVAL);
  /* node_id is a directory */
  pt_tmpdir(dir);
  char path[128];
  snprintf(path, sizeof path, "%s/node_id", dir);
  assert_int_equal(mkdir(path, 0755), 0);
  assert_int_equal(nodeid_load(dir, id, why, sizeof why), IPOP_ESYS);
  pt_rmtree(dir);
}

static int count_entries(const char *dir)
{
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_atomic_files(void **state)
{
  char dir[64], path[128], why[POLICY_WHY_LEN];
  pt_tmpdir(dir);
  snprintf(path, sizeof path, "%s/f", dir);
  assert_int_equal(ipop_file_create_atomic(path, "one", 3, 0600, why, sizeof why), 0);
  /* never replaces: the loser of a first-start race reads the winner's id */
  assert_int_equal(ipop_file_create_atomic(path, "two", 3, 0600, why, sizeof why),
                   IPOP_EEXIST);
  char *text = pt_slurp(path);
  assert_string_equal(text, "one");
  free(text);
  assert_int_equal(ipop_file_write_atomic(path, "three", 5, 0644, why, sizeof why), 0);
  text = pt_slurp(path);
  assert_string_equal(text, "three");
  free(text);
  assert_int_equal(count_entries(dir), 1); /* no temporary files left behind */
  /* reading: limits */
  char *buf;
  size_t len;
  assert_int_equal(ipop_file_read(path, 4, &buf, &len, NULL, why, sizeof why), IPOP_ETOOBIG);
  assert_null(buf);
  mode_t mode = 0;
  assert_int_equal(ipop_file_read(path, 5, &buf, &len, &mode, why, sizeof why), 0);
  assert_int_equal(len, 5);
  assert_int_equal(mode, 0644);
  free(buf);
  assert_int_equal(ipop_file_read(dir, 5, &buf, &len, NULL, why, sizeof why), IPOP_ESYS);
  assert_non_null(strstr(why, "not a regular file"));
  /* a symlink is not followed */
  char link_path[160];
  snprintf(link_path, sizeof link_path, "%s/l", dir);
  assert_int_equal(symlink(path, link_path), 0);
  assert_int_equal(ipop_file_read(link_path, 64, &buf, &len, NULL, why, sizeof why), IPOP_ESYS);
  pt_rmtree(dir);
  /* the OS source of randomness works */
  uint8_t r[16] = { 0 }, zero[16] = { 0 };
  assert_int_equal(policy_rand_os(NULL, r, sizeof r), 0);
  assert_memory_not_equal(r, zero, sizeof r);
  assert_int_equal(policy_rand_u32(pt_rand_fail, NULL), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_valid),
    cmocka_unit_test(test_create_then_reload),
    cmocka_unit_test(test_corrupt),
    cmocka_unit_test(test_errors),
    cmocka_unit_test(test_atomic_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
