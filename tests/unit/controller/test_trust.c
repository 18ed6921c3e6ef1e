/* controller/trust.c: StateDir/known_nodes.  Pins round-trip through the
 * file (0600, atomic), malformed, tampered and oversized files are errors
 * naming the line, and the table stays bounded. */
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

#include "../policy/policy_test.h"
#include "error.h"
#include "trust.h"

#define FA "sha-256 AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA"
#define FB "sha-256 BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB"
#define N1 "0123456789abcdef0123456789abcdef"
#define N2 "fedcba9876543210fedcba9876543210"

struct fx {
  char dir[64];
  char path[128];
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  pt_tmpdir(fx->dir);
  snprintf(fx->path, sizeof fx->path, "%s/known_nodes", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  pt_rmtree(fx->dir);
  free(fx);
  return 0;
}

static void put(const char *path, const char *text, mode_t mode)
{
  pt_write(path, text);
  chmod(path, mode);
}

static void test_round_trip(void **state)
{
  struct fx *fx = *state;
  struct trust *t;
  char why[512];
  /* No file yet: an empty store. */
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), 0);
  assert_int_equal(trust_count(t), 0);
  /* The JID is kept in lower case, the bare part only; the fingerprint is
   * compared without regard to case. */
  assert_int_equal(trust_pin(t, "Bob@Example.ORG/phone", N1, FA, 100), 0);
  assert_int_equal(trust_pin(t, "carol@example.org", N2, FB, 200), 0);
  const struct trust_pin *p = trust_find(t, "bob@example.org", N1);
  assert_non_null(p);
  assert_string_equal(p->jid, "bob@example.org");
  assert_true(trust_fpr_equal(p->fpr, "sha-256 aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa:aa"));
  assert_null(trust_find(t, "bob@example.org", N2));
  assert_ptr_equal(trust_find_node(t, N2), trust_find(t, "carol@example.org", N2));
  /* A refused fingerprint is pending, not pinned; it does not survive a
   * restart (the peer presents it again). */
  trust_set_pending(t, "bob@example.org", N1, FB, 300);
  assert_string_equal(trust_find(t, "bob@example.org", N1)->pending, FB);
  trust_set_pending(t, "dave@example.org", N1, FB, 300); /* pending-only entry */
  assert_int_equal(trust_count(t), 3);
  assert_int_equal(trust_pinned_count(t), 2);
  trust_touch(t, "carol@example.org", N2, 400);
  assert_int_equal(trust_save(t, why, sizeof why), 0);
  trust_free(t);
  struct stat st;
  assert_int_equal(stat(fx->path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), 0);
  assert_int_equal(trust_count(t), 2);
  p = trust_find(t, "carol@example.org", N2);
  assert_non_null(p);
  assert_int_equal(p->first_s, 200);
  assert_int_equal(p->last_s, 400);
  assert_string_equal(trust_find(t, "bob@example.org", N1)->pending, "");
  /* Re-pinning replaces; removing forgets. */
  assert_int_equal(trust_pin(t, "bob@example.org", N1, FB, 500), 0);
  assert_string_equal(trust_find(t, "bob@example.org", N1)->fpr, FB);
  assert_int_equal(trust_find(t, "bob@example.org", N1)->first_s, 100);
  assert_int_equal(trust_remove(t, "bob@example.org", N1), 0);
  assert_int_equal(trust_remove(t, "bob@example.org", N1), IPOP_ENOENT);
  /* Bad arguments. */
  assert_int_equal(trust_pin(t, "no-at-sign", N1, FA, 1), IPOP_EINVAL);
  assert_int_equal(trust_pin(t, "a b@c", N1, FA, 1), IPOP_EINVAL);
  assert_int_equal(trust_pin(t, "a@b", "xyz", FA, 1), IPOP_EINVAL);
  assert_int_equal(trust_pin(t, "a@b", N1, "md5 00", 1), IPOP_EINVAL);
  trust_free(t);
}

/* Every malformed line is an error naming the file and the line: pins are
 * never dropped silently. */
static void test_hostile_files(void **state)
{
  struct fx *fx = *state;
  struct trust *t = NULL;
  char why[512];
  static const char *const bad[] = {
    "bob@example.org " N1 " " FA " 1\n",                  /* a field missing */
    "bob@example.org " N1 " " FA " 1 2 3\n",              /* one too many */
    "Bob@example.org " N1 " " FA " 1 2\n",                /* not lower case */
    "bob " N1 " " FA " 1 2\n",                            /* not a JID */
    "bob@example.org/r " N1 " " FA " 1 2\n",              /* a resource */
    "bob@example.org 0123 " FA " 1 2\n",                  /* short node id */
    "bob@example.org " N1 " sha-1 AA:BB 1 2\n",           /* wrong fingerprint */
    "bob@example.org " N1 " " FA " -1 2\n",               /* negative time */
    "bob@example.org " N1 " " FA " 1 99999999999999999999999\n", /* overflow */
    "bob@example.org " N1 " " FA " 1 2x\n",               /* trailing junk */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[1024];
    snprintf(text, sizeof text, "# comment\n\n  # indented comment\n%s", bad[i]);
    put(fx->path, text, 0600);
    assert_int_equal(trust_open(&t, fx->path, why, sizeof why), IPOP_EPARSE);
    assert_null(t);
    assert_non_null(strstr(why, "line 4"));
    assert_non_null(strstr(why, fx->path));
  }
  /* The same pin twice. */
  put(fx->path, "bob@example.org " N1 " " FA " 1 2\nbob@example.org " N1 " " FB " 1 2\n", 0600);
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), IPOP_EPARSE);
  assert_non_null(strstr(why, "line 2"));
  /* NUL bytes. */
  FILE *f = fopen(fx->path, "w");
  fwrite("bob@example.org\0x", 1, 17, f);
  fclose(f);
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), IPOP_EPARSE);
  /* Writable by others: someone could have planted pins. */
  put(fx->path, "bob@example.org " N1 " " FA " 1 2\n", 0666);
  chmod(fx->path, 0666);
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), IPOP_EPERM);
  assert_non_null(strstr(why, "chmod 600"));
  chmod(fx->path, 0644); /* readable is fine: fingerprints are public */
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), 0);
  trust_free(t);
  /* Oversized, and a symlink: refused (with no last copy to fall back to:
   * the good load above kept one, test_state_files covers the fall-back). */
  char bak[160];
  snprintf(bak, sizeof bak, "%s.bak", fx->path);
  unlink(bak);
  f = fopen(fx->path, "w");
  for (size_t i = 0; i < TRUST_FILE_MAX / 64 + 2; i++)
    fputs("# xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", f);
  fclose(f);
  chmod(fx->path, 0600);
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), IPOP_ETOOBIG);
  char link[160];
  snprintf(link, sizeof link, "%s/link", fx->dir);
  put(fx->path, "", 0600);
  assert_int_equal(symlink(fx->path, link), 0);
  assert_int_equal(trust_open(&t, link, why, sizeof why), IPOP_ESYS);
}

/* At most TRUST_MAX pins: the one seen longest ago goes; pending entries
 * have their own, smaller limit. */
static void test_bounded(void **state)
{
  struct trust *t;
  char why[64], jid[64], id[33];
  assert_int_equal(trust_open(&t, NULL, why, sizeof why), 0);
  for (unsigned i = 0; i < TRUST_MAX + 100; i++) {
    snprintf(jid, sizeof jid, "u%u@example.org", i);
    snprintf(id, sizeof id, "%032x", i);
    /* u5 is seen last of all: it stays although it is old */
    assert_int_equal(trust_pin(t, jid, id, FA, i == 5 ? 1000000 : i), 0);
  }
  assert_int_equal(trust_pinned_count(t), TRUST_MAX);
  assert_non_null(trust_find(t, "u5@example.org", "00000000000000000000000000000005"));
  assert_null(trust_find(t, "u4@example.org", "00000000000000000000000000000004"));
  assert_non_null(trust_find(t, "u4150@example.org", "00000000000000000000000000001036"));
  for (unsigned i = 0; i < TRUST_PENDING_MAX * 3; i++) {
    snprintf(jid, sizeof jid, "p%u@example.org", i);
    trust_set_pending(t, jid, "0123456789abcdef0123456789abcdef", FB, i);
  }
  assert_int_equal(trust_count(t) - trust_pinned_count(t), TRUST_PENDING_MAX);
  trust_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hostile_files, setup, teardown),
    cmocka_unit_test(test_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
