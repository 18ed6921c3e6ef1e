/* addrpool: first free address, stable across reloads, explicit release,
 * exhaustion, corrupt state files, the hosts file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addrpool.h"
#include "error.h"
#include "policy_test.h"

static char dir[64], path[128];

static int setup(void **state)
{
  pt_tmpdir(dir);
  snprintf(path, sizeof path, "%s/" ADDRPOOL_FILE, dir);
  return 0;
}

static int teardown(void **state)
{
  pt_rmtree(dir);
  return 0;
}

static void id(int i, char out[NODEID_BUF])
{
  snprintf(out, NODEID_BUF, "%032x", (unsigned)i + 1);
}

static struct addrpool_config cfg24(void)
{
  struct addrpool_config c = { 0 };
  inet_pton(AF_INET, "172.31.0.0", &c.net);
  c.prefix = 24;
  snprintf(c.path, sizeof c.path, "%s", path);
  return c;
}

static const char *ip(struct in_addr a)
{
  static char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, buf, sizeof buf);
}

static void test_assign_reload_release(void **state)
{
  struct addrpool_config c = cfg24();
  struct addrpool *p;
  char why[POLICY_WHY_LEN];
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  assert_string_equal(ip(addrpool_local(p)), "172.31.0.1");
  assert_int_equal(addrpool_capacity(p), 253);

  char a[NODEID_BUF], b[NODEID_BUF], d[NODEID_BUF];
  id(0, a);
  id(1, b);
  id(2, d);
  struct in_addr x;
  assert_int_equal(addrpool_assign(p, a, "bob@example.com", &x, why, sizeof why), 0);
  assert_string_equal(ip(x), "172.31.0.2");
  assert_int_equal(addrpool_assign(p, b, NULL, &x, why, sizeof why), 0);
  assert_string_equal(ip(x), "172.31.0.3");
  assert_int_equal(addrpool_assign(p, a, NULL, &x, why, sizeof why), 0); /* same again */
  assert_string_equal(ip(x), "172.31.0.2");
  assert_int_equal(addrpool_count(p), 2);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0644);
  addrpool_free(p);

  /* restart: same addresses, names kept */
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  assert_int_equal(addrpool_lookup(p, a, &x), 0);
  assert_string_equal(ip(x), "172.31.0.2");
  assert_int_equal(addrpool_lookup(p, b, &x), 0);
  assert_string_equal(ip(x), "172.31.0.3");
  assert_int_equal(addrpool_lookup(p, d, &x), IPOP_ENOENT);
  assert_int_equal(addrpool_lookup(p, "junk", &x), IPOP_ENOENT);
  size_t n;
  const struct addrpool_entry *e = addrpool_entries(p, &n);
  assert_int_equal(n, 2);
  assert_string_equal(e[0].name, "bob@example.com");
  assert_string_equal(e[1].name, "");

  /* release frees .2; the next friend gets the lowest free address */
  assert_int_equal(addrpool_release(p, a, why, sizeof why), 0);
  assert_int_equal(addrpool_release(p, a, why, sizeof why), IPOP_ENOENT);
  assert_int_equal(addrpool_assign(p, d, "carol", &x, why, sizeof why), 0);
  assert_string_equal(ip(x), "172.31.0.2");
  /* a name change is persisted */
  assert_int_equal(addrpool_assign(p, b, "dave", &x, why, sizeof why), 0);
  addrpool_free(p);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  e = addrpool_entries(p, &n);
  assert_int_equal(n, 2);
  assert_string_equal(e[0].name, "carol");
  assert_string_equal(e[1].name, "dave");
  assert_string_equal(ip(e[1].addr), "172.31.0.3");

  /* bad arguments */
  assert_int_equal(addrpool_assign(p, "x", NULL, &x, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(addrpool_assign(p, a, "two words", &x, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(addrpool_assign(p, a, "x#y", &x, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(addrpool_assign(p, a, "", &x, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(addrpool_assign(p, a, "tab\there", &x, why, sizeof why), IPOP_EINVAL);
  addrpool_free(p);
}

static void test_local_and_exhaustion(void **state)
{
  struct addrpool_config c = cfg24();
  c.prefix = 29; /* .0 net, .7 broadcast: 6 hosts, 5 for friends */
  inet_pton(AF_INET, "172.31.0.3", &c.local);
  struct addrpool *p;
  char why[POLICY_WHY_LEN];
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  assert_int_equal(addrpool_capacity(p), 5);
  static const char *const want[] = { "172.31.0.1", "172.31.0.2", "172.31.0.4",
                                      "172.31.0.5", "172.31.0.6" };
  struct in_addr x;
  char nid[NODEID_BUF];
  for (int i = 0; i < 5; i++) {
    id(i, nid);
    assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), 0);
    assert_string_equal(ip(x), want[i]);
  }
  id(5, nid);
  assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), IPOP_EBUSY);
  assert_non_null(strstr(why, "exhausted"));
  assert_non_null(strstr(why, "172.31.0.0/29"));
  /* releasing one in the middle makes room exactly there */
  id(2, nid);
  assert_int_equal(addrpool_release(p, nid, why, sizeof why), 0);
  id(5, nid);
  assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), 0);
  assert_string_equal(ip(x), "172.31.0.4");
  addrpool_free(p);
}

static void test_bad_config(void **state)
{
  struct addrpool_config c = cfg24();
  struct addrpool *p;
  char why[POLICY_WHY_LEN];
  c.prefix = 31;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EINVAL);
  c.prefix = 8;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EINVAL);
  c.prefix = 24;
  inet_pton(AF_INET, "172.31.0.5", &c.net);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EINVAL);
  assert_non_null(strstr(why, "host bits"));
  c = cfg24();
  inet_pton(AF_INET, "172.31.0.255", &c.local);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EINVAL);
  inet_pton(AF_INET, "10.0.0.1", &c.local);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EINVAL);
  assert_null(p);
  /* not persisted at all */
  c = cfg24();
  c.path[0] = '\0';
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  struct in_addr x;
  char nid[NODEID_BUF];
  id(0, nid);
  assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), 0);
  addrpool_free(p);
  /* unwritable state file: the assignment is rolled back */
  c = cfg24();
  snprintf(c.path, sizeof c.path, "%s/missing-dir/pool.json", dir);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), IPOP_ESYS);
  assert_int_equal(addrpool_count(p), 0);
  addrpool_free(p);
  addrpool_free(NULL);
}

static void test_corrupt_state(void **state)
{
  static const struct {
    const char *text;
    int code;
    const char *needle;
  } cases[] = {
    { "{", IPOP_EPARSE, "malformed JSON" },
    { "[]", IPOP_EFIELD, "expected an object" },
    { "{\"version\":2,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":[]}",
      IPOP_EVERSION, "version" },
    { "{\"version\":1,\"subnet\":\"10.0.0.0/24\",\"local\":\"10.0.0.1\",\"peers\":[]}",
      IPOP_ESTATE, "written for subnet 10.0.0.0/24" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":{}}",
      IPOP_EFIELD, "peers" },
    { "{\"version\":1,\"subnet\":24,\"local\":\"172.31.0.1\",\"peers\":[]}",
      IPOP_EFIELD, "expected strings" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\"}",
      IPOP_EFIELD, "peers: expected an array" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":[],"
      "\"x\":1}", IPOP_EUNKNOWN, "x: unknown key" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.1.2\"}]}",
      IPOP_EFIELD, "peers[0].addr: 172.31.1.2" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.1\"}]}",
      IPOP_EFIELD, "peers[0].addr" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.255\"}]}",
      IPOP_EFIELD, "peers[0].addr" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"BAD\",\"addr\":\"172.31.0.2\"}]}", IPOP_EFIELD, "peers[0].node_id" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.2\"},"
      "{\"node_id\":\"00000000000000000000000000000002\",\"addr\":\"172.31.0.2\"}]}",
      IPOP_EFIELD, "peers[1]: duplicate of peers[0]" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.2\"},"
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.3\"}]}",
      IPOP_EFIELD, "peers[1]: duplicate" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\"}]}", IPOP_EMISSING,
      "peers[0].addr" },
    { "{\"version\":1,\"subnet\":\"172.31.0.0/24\",\"local\":\"172.31.0.1\",\"peers\":["
      "{\"node_id\":\"00000000000000000000000000000001\",\"addr\":\"172.31.0.2\","
      "\"name\":\"a b\"}]}", IPOP_EFIELD, "peers[0].name" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    pt_write(path, cases[i].text);
    struct addrpool_config c = cfg24();
    struct addrpool *p = (struct addrpool *)1;
    char why[POLICY_WHY_LEN] = "";
    int rc = addrpool_open(&p, &c, why, sizeof why);
    if (rc != cases[i].code || !strstr(why, cases[i].needle) || !strstr(why, path))
      fail_msg("case %zu: rc %d why '%s'", i, rc, why);
    assert_null(p);
  }
  /* too big */
  FILE *f = fopen(path, "w");
  assert_int_equal(ftruncate(fileno(f), ADDRPOOL_FILE_MAX + 1), 0);
  fclose(f);
  struct addrpool_config c = cfg24();
  struct addrpool *p;
  char why[POLICY_WHY_LEN];
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_ETOOBIG);
}

/* The state file cannot be written: every change is rolled back, so memory
 * and disk never disagree. */
static void test_save_failure_rollback(void **state)
{
  char sub[128], why[POLICY_WHY_LEN], a[NODEID_BUF], b[NODEID_BUF];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  struct addrpool_config c = cfg24();
  snprintf(c.path, sizeof c.path, "%s/pool.json", sub);
  struct addrpool *p;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  struct in_addr x;
  id(0, a);
  id(1, b);
  assert_int_equal(addrpool_assign(p, a, "alice", &x, why, sizeof why), 0);
  assert_int_equal(addrpool_assign(p, b, "bob", &x, why, sizeof why), 0);
  pt_rmtree(sub); /* the state directory vanishes */
  assert_int_equal(addrpool_assign(p, a, "alicia", &x, why, sizeof why), IPOP_ESYS);
  assert_int_equal(addrpool_release(p, a, why, sizeof why), IPOP_ESYS);
  size_t n;
  const struct addrpool_entry *e = addrpool_entries(p, &n);
  assert_int_equal(n, 2);
  assert_string_equal(e[0].name, "alice");
  assert_string_equal(e[0].node_id, a);
  assert_string_equal(ip(e[0].addr), "172.31.0.2");
  assert_string_equal(e[1].name, "bob");
  addrpool_free(p);
}

static void test_hosts_file(void **state)
{
  struct addrpool_config c = cfg24();
  struct addrpool *p;
  char why[POLICY_WHY_LEN], nid[NODEID_BUF];
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  struct in_addr x;
  id(0, nid);
  assert_int_equal(addrpool_assign(p, nid, "bob@example.com", &x, why, sizeof why), 0);
  id(1, nid);
  assert_int_equal(addrpool_assign(p, nid, NULL, &x, why, sizeof why), 0);
  char hosts[128];
  snprintf(hosts, sizeof hosts, "%s/hosts", dir);
  assert_int_equal(addrpool_write_hosts(p, hosts, why, sizeof why), 0);
  char *text = pt_slurp(hosts);
  assert_string_equal(text, "# Written by ipop-controller (SocialVPN); replaced on every "
                            "change.\n"
                            "172.31.0.2\tbob@example.com\n"
                            "172.31.0.3\t00000000000000000000000000000002\n");
  free(text);
  char bad[128];
  snprintf(bad, sizeof bad, "%s/nope/hosts", dir);
  assert_int_equal(addrpool_write_hosts(p, bad, why, sizeof why), IPOP_ESYS);
  assert_non_null(strstr(why, "nope"));
  addrpool_free(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_assign_reload_release, setup, teardown),
    cmocka_unit_test_setup_teardown(test_local_and_exhaustion, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
    cmocka_unit_test_setup_teardown(test_save_failure_rollback, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hosts_file, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
