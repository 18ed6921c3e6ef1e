/* Identity file and fingerprints: created 0600 on first start, reloaded with
 * the same fingerprint, refused when readable by others or corrupt;
 * RFC 8122 fingerprint text round-trips and malformed ones are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "identity.h"

static char dir[64], path[128];

static int setup(void **state)
{
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/ipop-test-ident-XXXXXX");
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof path, "%s/id.pem", dir);
  return 0;
}

static int teardown(void **state)
{
  (void)state;
  unlink(path);
  rmdir(dir);
  return 0;
}

static void create_then_reload(void **state)
{
  (void)state;
  struct tc_identity a, b;
  char why[256] = "";
  assert_int_equal(tc_identity_load(&a, path, 0, (uid_t)-1, (gid_t)-1, why, sizeof why),
                   IPOP_ENOENT);
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(EVP_PKEY_get_base_id(a.key), EVP_PKEY_EC);
  assert_int_equal(strlen(a.fpr_text), TC_FPR_TEXT_LEN - 1);
  assert_memory_equal(a.fpr_text, "sha-256 ", 8);
  assert_int_equal(tc_identity_load(&b, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why), 0);
  assert_string_equal(a.fpr_text, b.fpr_text);
  tc_identity_free(&a);
  tc_identity_free(&b);
}

static void refuses_readable_file(void **state)
{
  (void)state;
  struct tc_identity a;
  char why[256] = "";
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why), 0);
  tc_identity_free(&a);
  chmod(path, 0644);
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why),
                   IPOP_EPERM);
  assert_non_null(strstr(why, "group or others"));
}

static void refuses_corrupt_file(void **state)
{
  (void)state;
  FILE *f = fopen(path, "w");
  fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", f);
  fclose(f);
  chmod(path, 0600);
  struct tc_identity a;
  char why[256] = "";
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why),
                   IPOP_ECRYPTO);
  assert_null(a.key);
}

static void fingerprint_text(void **state)
{
  (void)state;
  uint8_t f[TC_FPR_BYTES], g[TC_FPR_BYTES];
  char text[TC_FPR_TEXT_LEN];
  for (int i = 0; i < TC_FPR_BYTES; i++)
    f[i] = (uint8_t)(i * 37 + 11);
  tc_fpr_format(f, text);
  assert_int_equal(tc_fpr_parse(text, g), 0);
  assert_memory_equal(f, g, TC_FPR_BYTES);
  /* Case-insensitive hash name and hex digits. */
  char lower[TC_FPR_TEXT_LEN];
  for (size_t i = 0; i < sizeof lower; i++)
    lower[i] = (char)(text[i] >= 'A' && text[i] <= 'F' ? text[i] + 32 : text[i]);
  memcpy(lower, "SHA-256", 7);
  assert_int_equal(tc_fpr_parse(lower, g), 0);
  assert_memory_equal(f, g, TC_FPR_BYTES);

  char bad[TC_FPR_TEXT_LEN + 8];
  assert_int_equal(tc_fpr_parse("", g), IPOP_EINVAL);
  assert_int_equal(tc_fpr_parse("sha-1 AB:CD", g), IPOP_EINVAL);
  snprintf(bad, sizeof bad, "%s", text);
  bad[strlen(bad) - 1] = '\0'; /* one digit short */
  assert_int_equal(tc_fpr_parse(bad, g), IPOP_EINVAL);
  snprintf(bad, sizeof bad, "%s:00", text); /* one byte too many */
  assert_int_equal(tc_fpr_parse(bad, g), IPOP_EINVAL);
  snprintf(bad, sizeof bad, "%s", text);
  bad[10] = '-'; /* wrong separator */
  assert_int_equal(tc_fpr_parse(bad, g), IPOP_EINVAL);
  snprintf(bad, sizeof bad, "%s", text);
  bad[8] = 'G'; /* not hex */
  assert_int_equal(tc_fpr_parse(bad, g), IPOP_EINVAL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(create_then_reload, setup, teardown),
    cmocka_unit_test_setup_teardown(refuses_readable_file, setup, teardown),
    cmocka_unit_test_setup_teardown(refuses_corrupt_file, setup, teardown),
    cmocka_unit_test(fingerprint_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
