/* Identity file and fingerprints: created 0600 on first start, reloaded with
 * the same fingerprint, refused when readable by others, corrupt or
 * truncated (with an error naming the file, which is left as it was);
 * kill -9 at random points of its creation, 1,000 times (bounded in time):
 * afterwards there is no file or a whole one, and the next start removes
 * the temporary file a killed creation left; RFC 8122 fingerprint text
 * round-trips and malformed ones are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "identity.h"
#include "log.h"

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

/* Names in dir starting with "id.pem.tmp." (creations a kill interrupted). */
static int count_temps(void)
{
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    n += strncmp(e->d_name, "id.pem.tmp.", 11) == 0;
  if (d)
    closedir(d);
  return n;
}

static int teardown(void **state)
{
  (void)state;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.')
      unlinkat(dirfd(d), e->d_name, 0);
  if (d)
    closedir(d);
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
  assert_non_null(strstr(why, path));
}

static char *slurp(const char *p, size_t *n)
{
  FILE *f = fopen(p, "r");
  assert_non_null(f);
  char *buf = calloc(1, 8192);
  *n = fread(buf, 1, 8191, f);
  fclose(f);
  return buf;
}

/* A whole identity cut short (a disk that lost the tail), at several
 * points: refused with an error naming the file, and never replaced by a
 * new identity (that would silently change the node's fingerprint). */
static void refuses_truncated_file(void **state)
{
  (void)state;
  struct tc_identity a;
  char why[256] = "";
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why), 0);
  tc_identity_free(&a);
  size_t whole;
  char *orig = slurp(path, &whole);
  /* (Without only its final newline, a PEM file is still whole.) */
  const size_t cuts[] = { 0, 1, 40, whole / 3, whole / 2, whole - 30, whole - 2 };
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    assert_int_equal(truncate(path, (off_t)cuts[i]), 0);
    why[0] = '\0';
    int rc = tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why);
    if (rc != IPOP_ECRYPTO)
      fail_msg("cut at %zu of %zu: rc %d (%s)", cuts[i], whole, rc, why);
    assert_null(a.key);
    assert_non_null(strstr(why, path));
    size_t n;
    char *now = slurp(path, &n);
    assert_int_equal(n, cuts[i]); /* left as it was for inspection */
    assert_memory_equal(now, orig, n);
    free(now);
    FILE *f = fopen(path, "w"); /* whole again for the next cut */
    fwrite(orig, 1, whole, f);
    fclose(f);
  }
  free(orig);
}

static uint64_t now_us(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Start a child that creates the identity as tincan does at first start. */
static pid_t spawn_creator(void)
{
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    struct tc_identity a;
    char why[256];
    _exit(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why) == 0 ? 0 : 1);
  }
  return pid;
}

#define KILL_ROUNDS 1000
#define KILL_MIN_ROUNDS 100
#define KILL_DEADLINE_US (40u * 1000000u)

/* kill -9 during the creation of the identity file, KILL_ROUNDS times (at
 * most KILL_DEADLINE_US on a loaded machine, at least KILL_MIN_ROUNDS):
 * the file is absent or whole, and the temporary files of killed
 * creations do not pile up (each start removes the last one's). */
static void kill9_during_create(void **state)
{
  (void)state;
  /* How long a creation takes here: the kills land across it. */
  uint64_t t0 = now_us();
  int st;
  pid_t pid = spawn_creator();
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  uint64_t span = now_us() - t0;
  unsigned seed = (unsigned)t0;
  int rounds = 0, absent = 0, whole = 0, max_temps = 0;
  uint64_t start = now_us();
  for (; rounds < KILL_ROUNDS; rounds++) {
    if (rounds >= KILL_MIN_ROUNDS && now_us() - start > KILL_DEADLINE_US)
      break;
    unlink(path); /* the temporary files of earlier rounds stay */
    pid = spawn_creator();
    usleep((useconds_t)(rand_r(&seed) % (span + span / 4 + 1))); /* mostly mid-creation */
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    struct stat sb;
    if (lstat(path, &sb) != 0) {
      absent++;
    } else {
      struct tc_identity a;
      char why[256] = "";
      assert_int_equal(sb.st_mode & 0777, 0600);
      if (tc_identity_load(&a, path, 0, (uid_t)-1, (gid_t)-1, why, sizeof why) != 0)
        fail_msg("round %d: %s", rounds, why);
      tc_identity_free(&a);
      whole++;
    }
    /* The load above or the creator's start removed older leftovers: at
     * most the one of this round's kill is left. */
    int t = count_temps();
    if (t > max_temps)
      max_temps = t;
    assert_true(t <= 1);
  }
  print_message("%d kills (creation takes ~%llu us): %d left no file, %d a whole one; "
                "at most %d temporary file at a time\n",
                rounds, (unsigned long long)span, absent, whole, max_temps);
  assert_true(rounds >= KILL_MIN_ROUNDS);
  /* The next start cleans up and works. */
  struct tc_identity a;
  char why[256] = "";
  assert_int_equal(tc_identity_load(&a, path, 1, (uid_t)-1, (gid_t)-1, why, sizeof why), 0);
  tc_identity_free(&a);
  assert_int_equal(count_temps(), 0);
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
  ipop_log_init("test_tc_identity", IPOP_LOG_WARN); /* not 1,000 "removed" lines */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(create_then_reload, setup, teardown),
    cmocka_unit_test_setup_teardown(refuses_readable_file, setup, teardown),
    cmocka_unit_test_setup_teardown(refuses_corrupt_file, setup, teardown),
    cmocka_unit_test_setup_teardown(refuses_truncated_file, setup, teardown),
    cmocka_unit_test_setup_teardown(kill9_during_create, setup, teardown),
    cmocka_unit_test(fingerprint_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
