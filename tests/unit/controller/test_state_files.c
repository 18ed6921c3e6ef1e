/* State files that survive (common/statefile.c through the controller's
 * real writers and readers: known_nodes (trust.c), addrpool.json
 * (addrpool.c), node_id (nodeid.c)).
 *
 *   - kill -9 at random points of a writer that rewrites the file in a
 *     loop (a forked child: the same code as the daemon), 500 times per
 *     kind (1,000 in all; at most DEADLINE_S seconds per kind on a loaded
 *     machine, and at least MIN_ROUNDS): afterwards the file is the old or
 *     the new generation, never a mix, and loads without falling back to
 *     the last copy;
 *   - a damaged file falls back to PATH.bak with the damage kept as
 *     PATH.bad; damaged without a good copy is an error naming the file;
 *   - ENOSPC from a tiny tmpfs in this process's own mount namespace (root
 *     only, skipped otherwise): the write fails naming the file and the old
 *     file stays, whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../policy/policy_test.h"
#include "addrpool.h"
#include "error.h"
#include "log.h"
#include "nodeid.h"
#include "trust.h"

#define ROUNDS 500
#define MIN_ROUNDS 100
#define DEADLINE_S 50
static struct pt_rng rng;
#define PINS 64
#define FA "sha-256 AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA"

struct fx {
  char dir[64];
  char path[128];
};

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  pt_tmpdir(fx->dir);
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

static bool exists(const char *path)
{
  struct stat st;
  return lstat(path, &st) == 0;
}

static bool sibling_exists(const char *path, const char *suffix)
{
  char p[256];
  snprintf(p, sizeof p, "%s%s", path, suffix);
  return exists(p);
}

/* Files in dir whose name contains ".tmp": left by a write. */
static int leftovers(const char *dir)
{
  char cmd[160];
  snprintf(cmd, sizeof cmd, "ls -a %s | grep -c '\\.tmp' >/dev/null", dir);
  return system(cmd) == 0;
}

static void node(int i, char out[NODEID_BUF])
{
  snprintf(out, NODEID_BUF, "%032x", (unsigned)i + 1);
}

static void jid(int i, char out[64])
{
  snprintf(out, 64, "user%d@example.org", i);
}

/* ---- kill -9 during writes ------------------------------------------------ */

/* A writer that never stops: each generation rewrites the whole file and
 * then reports the generation on fd (so the parent knows the last one that
 * completed). */
typedef void (*writer_fn)(const char *path, int fd);
/* The generation the file holds, checked whole; -1 if it does not load. */
typedef long (*check_fn)(const char *path);

static void trust_writer(const char *path, int fd)
{
  struct trust *t;
  char why[512], j[64], n[NODEID_BUF];
  if (trust_open(&t, path, why, sizeof why))
    _exit(2);
  for (uint64_t gen = trust_at(t, 0)->last_s + 1;; gen++) {
    for (int i = 0; i < PINS; i++) {
      jid(i, j);
      node(i, n);
      trust_touch(t, j, n, gen);
    }
    if (trust_save(t, why, sizeof why))
      _exit(3);
    if (write(fd, &gen, sizeof gen) != sizeof gen)
      _exit(4);
  }
}

/* Every pin carries the generation as its last-seen time. */
static long trust_check(const char *path)
{
  struct trust *t;
  char why[512];
  if (trust_open(&t, path, why, sizeof why)) {
    print_error("%s\n", why);
    return -1;
  }
  long gen = trust_count(t) == PINS ? (long)trust_at(t, 0)->last_s : -1;
  for (size_t i = 0; i < trust_count(t); i++)
    if ((long)trust_at(t, i)->last_s != gen)
      gen = -1; /* a mix of two generations */
  trust_free(t);
  return gen;
}

static struct addrpool_config pool_cfg(const char *path)
{
  struct addrpool_config c = { 0 };
  inet_pton(AF_INET, "172.31.0.0", &c.net);
  c.prefix = 16;
  snprintf(c.path, sizeof c.path, "%s", path);
  return c;
}

/* The highest peer index in the pool (peers are numbered by generation). */
static long pool_top(const struct addrpool *p)
{
  size_t n;
  const struct addrpool_entry *e = addrpool_entries(p, &n);
  long top = 0;
  for (size_t i = 0; i < n; i++) {
    long v = strtol(e[i].node_id + 16, NULL, 16) - 1;
    if (v > top)
      top = v;
  }
  return top;
}

/* Generation g: peer g gets an address, peer g-32 gives its own back. */
static void pool_writer(const char *path, int fd)
{
  struct addrpool_config c = pool_cfg(path);
  struct addrpool *p;
  char why[512], n[NODEID_BUF];
  struct in_addr a;
  if (addrpool_open(&p, &c, why, sizeof why))
    _exit(2);
  for (uint64_t gen = (uint64_t)pool_top(p) + 1;; gen++) {
    node((int)gen, n);
    if (addrpool_assign(p, n, NULL, &a, why, sizeof why))
      _exit(3);
    node((int)gen - 32, n);
    if (gen > 32 && addrpool_release(p, n, why, sizeof why))
      _exit(3);
    if (write(fd, &gen, sizeof gen) != sizeof gen)
      _exit(4);
  }
}

static long pool_check(const char *path)
{
  struct addrpool_config c = pool_cfg(path);
  struct addrpool *p;
  char why[512];
  if (addrpool_open(&p, &c, why, sizeof why)) {
    print_error("%s\n", why);
    return -1;
  }
  long top = pool_top(p);
  addrpool_free(p);
  return top;
}

/* ROUNDS times (or until DEADLINE_S): start the writer, kill -9 it after a
 * random 0-4 ms; then the file must hold the last generation the writer
 * reported or the one after (renamed into place, killed before it could
 * report), load without falling back to PATH.bak, and leave no temporary
 * file behind. */
static void kill_loop(const char *dir, const char *path, writer_fn writer, check_fn check)
{
  unsigned seed = (unsigned)time(NULL);
  long last = check(path), torn_free = 0, mid = 0;
  uint64_t total = 0;
  assert_true(last >= 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int r = 0; r < ROUNDS; r++) {
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (t1.tv_sec - t0.tv_sec >= DEADLINE_S) {
      print_message("deadline: %d rounds in %d s\n", r, DEADLINE_S);
      assert_true(r >= MIN_ROUNDS);
      break;
    }
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      writer(path, fds[1]);
      _exit(0);
    }
    close(fds[1]);
    usleep((useconds_t)(rand_r(&seed) % 4000));
    kill(pid, SIGKILL);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st)); /* killed while writing, not failed */
    uint64_t g, done = (uint64_t)last;
    while (read(fds[0], &g, sizeof g) == sizeof g) {
      done = g;
      total++;
    }
    close(fds[0]);
    long now = check(path);
    if (now != (long)done && now != (long)done + 1)
      fail_msg("round %d: the file holds generation %ld; the writer had finished %llu", r,
               now, (unsigned long long)done);
    mid += now == (long)done + 1;
    assert_false(sibling_exists(path, ".bad")); /* no fall-back was needed */
    assert_false(leftovers(dir));               /* check() removed them */
    last = now;
    torn_free++;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  print_message("%ld kills, %llu generations written, %ld killed between rename and "
                "report, %.1f s\n", torn_free, (unsigned long long)total, mid,
                (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
}

static void test_kill9_known_nodes(void **state)
{
  struct fx *fx = *state;
  snprintf(fx->path, sizeof fx->path, "%s/known_nodes", fx->dir);
  struct trust *t;
  char why[512], j[64], n[NODEID_BUF];
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), 0);
  for (int i = 0; i < PINS; i++) {
    jid(i, j);
    node(i, n);
    assert_int_equal(trust_pin(t, j, n, FA, 1), 0);
  }
  assert_int_equal(trust_save(t, why, sizeof why), 0);
  trust_free(t);
  kill_loop(fx->dir, fx->path, trust_writer, trust_check);
}

static void test_kill9_addrpool(void **state)
{
  struct fx *fx = *state;
  snprintf(fx->path, sizeof fx->path, "%s/" ADDRPOOL_FILE, fx->dir);
  struct addrpool_config c = pool_cfg(fx->path);
  struct addrpool *p;
  char why[512], n[NODEID_BUF];
  struct in_addr a;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  node(1, n);
  assert_int_equal(addrpool_assign(p, n, NULL, &a, why, sizeof why), 0);
  addrpool_free(p);
  kill_loop(fx->dir, fx->path, pool_writer, pool_check);
}

/* ---- damage ----------------------------------------------------------------- */

static void cut(const char *path, long keep)
{
  assert_int_equal(truncate(path, keep), 0);
}

static long size_of(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Two generations of known_nodes (PINS-1, then PINS pins): PATH.bak holds
 * the first. */
static void two_generations(const char *path)
{
  struct trust *t;
  char why[512], j[64], n[NODEID_BUF];
  assert_int_equal(trust_open(&t, path, why, sizeof why), 0);
  for (int i = 0; i < PINS; i++) {
    jid(i, j);
    node(i, n);
    assert_int_equal(trust_pin(t, j, n, FA, 1), 0);
    if (i >= PINS - 2)
      assert_int_equal(trust_save(t, why, sizeof why), 0);
  }
  trust_free(t);
}

static size_t pins_in(const char *path, char *why, size_t whylen, int *rc)
{
  struct trust *t;
  *rc = trust_open(&t, path, why, whylen);
  if (*rc)
    return 0;
  size_t n = trust_pinned_count(t);
  trust_free(t);
  return n;
}

static void test_damaged_known_nodes(void **state)
{
  struct fx *fx = *state;
  char why[1024], bad[160];
  int rc;
  snprintf(fx->path, sizeof fx->path, "%s/known_nodes", fx->dir);
  snprintf(bad, sizeof bad, "%s.bad", fx->path);
  two_generations(fx->path);
  assert_true(sibling_exists(fx->path, ".bak"));

  /* Cut in the middle of a line: the last copy is used (one pin fewer:
   * the previous generation), the damage kept as known_nodes.bad, and
   * known_nodes is whole again. */
  long full = size_of(fx->path);
  cut(fx->path, full / 2);
  assert_int_equal(pins_in(fx->path, why, sizeof why, &rc), PINS - 1);
  assert_int_equal(rc, 0);
  assert_int_equal(size_of(bad), full / 2);
  assert_int_equal(pins_in(fx->path, why, sizeof why, &rc), PINS - 1);
  assert_false(sibling_exists(fx->path, ".tmp"));

  /* Cut at a line boundary (the end line lost) is detected too. */
  two_generations(fx->path);
  unlink(bad);
  char *text = pt_slurp(fx->path);
  char *endl = strstr(text, "# end: ");
  assert_non_null(endl);
  cut(fx->path, endl - text);
  free(text);
  assert_int_equal(pins_in(fx->path, why, sizeof why, &rc), PINS - 1);
  assert_int_equal(rc, 0);
  assert_true(exists(bad));

  /* Both copies damaged: an error naming the file; nothing is loaded. */
  char bak[160];
  snprintf(bak, sizeof bak, "%s.bak", fx->path);
  pt_write(fx->path, "# ipop-controller known_nodes v2: pinned\nnot a pin\n");
  chmod(fx->path, 0600);
  pt_write(bak, "garbage\n");
  chmod(bak, 0600);
  pins_in(fx->path, why, sizeof why, &rc);
  assert_int_equal(rc, IPOP_EPARSE);
  assert_non_null(strstr(why, fx->path));
  assert_non_null(strstr(why, "line 2"));
  assert_non_null(strstr(why, "last copy"));

  /* A file others may write is refused, not replaced by its last copy. */
  unlink(fx->path);
  unlink(bak);
  two_generations(fx->path);
  chmod(fx->path, 0666);
  pins_in(fx->path, why, sizeof why, &rc);
  assert_int_equal(rc, IPOP_EPERM);
  assert_non_null(strstr(why, "chmod 600"));

  /* A file of the older format (no "v2" header) needs no end line. */
  unlink(bak);
  pt_write(fx->path, "# ipop-controller: pinned DTLS fingerprints of friend nodes\n"
                     "bob@example.org 0123456789abcdef0123456789abcdef " FA " 1 2\n");
  chmod(fx->path, 0600);
  assert_int_equal(pins_in(fx->path, why, sizeof why, &rc), 1);
  assert_int_equal(rc, 0);
}

static void test_damaged_addrpool(void **state)
{
  struct fx *fx = *state;
  snprintf(fx->path, sizeof fx->path, "%s/" ADDRPOOL_FILE, fx->dir);
  struct addrpool_config c = pool_cfg(fx->path);
  struct addrpool *p;
  char why[1024], n[NODEID_BUF];
  struct in_addr a;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  for (int i = 1; i <= 3; i++) {
    node(i, n);
    assert_int_equal(addrpool_assign(p, n, NULL, &a, why, sizeof why), 0);
  }
  addrpool_free(p);
  cut(fx->path, size_of(fx->path) - 10);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  assert_int_equal(addrpool_count(p), 2); /* the previous generation */
  addrpool_free(p);
  assert_true(sibling_exists(fx->path, ".bad"));

  /* No good copy: the error names the file. */
  pt_write(fx->path, "{\"version\": 1, ");
  char bak[160];
  snprintf(bak, sizeof bak, "%s.bak", fx->path);
  unlink(bak);
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), IPOP_EPARSE);
  assert_non_null(strstr(why, fx->path));
  assert_non_null(strstr(why, "malformed JSON"));
}

static void test_damaged_node_id(void **state)
{
  struct fx *fx = *state;
  char id[NODEID_BUF], again[NODEID_BUF], why[512];
  bool created;
  snprintf(fx->path, sizeof fx->path, "%s/" NODEID_FILE, fx->dir);
  assert_int_equal(nodeid_load_or_create(fx->dir, pt_rand, &rng, id, &created, why,
                                         sizeof why), 0);
  assert_true(created);
  assert_true(sibling_exists(fx->path, ".bak"));
  /* Damaged: the same id from node_id.bak, not a new one. */
  pt_write(fx->path, "0123");
  assert_int_equal(nodeid_load_or_create(fx->dir, pt_rand, &rng, again, &created,
                                         why, sizeof why), 0);
  assert_false(created);
  assert_string_equal(id, again);
  /* Missing (a crash while it was being restored): the same id again. */
  unlink(fx->path);
  assert_int_equal(nodeid_load(fx->dir, again, why, sizeof why), 0);
  assert_string_equal(id, again);
  /* Both damaged: an error naming the file, no new id made up. */
  char bak[160];
  snprintf(bak, sizeof bak, "%s.bak", fx->path);
  pt_write(fx->path, "zz");
  unlink(bak);
  pt_write(bak, "zz");
  assert_int_equal(nodeid_load_or_create(fx->dir, pt_rand, &rng, again, &created,
                                         why, sizeof why), IPOP_EPARSE);
  assert_non_null(strstr(why, fx->path));
}

/* ---- a full disk -------------------------------------------------------------- */

/* A 64 KiB tmpfs at dir/full in a mount namespace of this process only
 * (nothing else sees it; it goes when the process exits). */
static bool tiny_tmpfs(const char *dir, char out[160])
{
  snprintf(out, 160, "%s/full", dir);
  mkdir(out, 0700);
  return unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
         mount("tmpfs", out, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") == 0;
}

/* Fill the file system: a filler file up to ENOSPC. */
static void fill(const char *dir)
{
  char p[200], block[1024];
  memset(block, 'x', sizeof block);
  snprintf(p, sizeof p, "%s/filler", dir);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(fd >= 0);
  while (write(fd, block, sizeof block) > 0)
    ;
  assert_int_equal(errno, ENOSPC);
  close(fd);
}

static void test_full_disk(void **state)
{
  struct fx *fx = *state;
  char d[160], why[1024], j[64], n[NODEID_BUF], id[NODEID_BUF];
  if (geteuid() != 0 || !tiny_tmpfs(fx->dir, d)) {
    print_message("skipped: needs root (a tmpfs in a mount namespace)\n");
    skip();
  }
  /* known_nodes with a few pins, then the disk fills up. */
  snprintf(fx->path, sizeof fx->path, "%s/known_nodes", d);
  struct trust *t;
  assert_int_equal(trust_open(&t, fx->path, why, sizeof why), 0);
  for (int i = 0; i < 8; i++) {
    jid(i, j);
    node(i, n);
    assert_int_equal(trust_pin(t, j, n, FA, 1), 0);
  }
  assert_int_equal(trust_save(t, why, sizeof why), 0);
  char *before = pt_slurp(fx->path);
  struct addrpool_config c = pool_cfg("");
  snprintf(c.path, sizeof c.path, "%s/" ADDRPOOL_FILE, d);
  struct addrpool *p;
  struct in_addr a;
  assert_int_equal(addrpool_open(&p, &c, why, sizeof why), 0);
  node(1, n);
  assert_int_equal(addrpool_assign(p, n, NULL, &a, why, sizeof why), 0);
  char *pool_before = pt_slurp(c.path);
  fill(d);

  /* The write fails, naming the file and the cause; the file is as it was
   * and still loads; no temporary file is left. */
  for (int i = 8; i < 200; i++) {
    jid(i, j);
    node(i, n);
    assert_int_equal(trust_pin(t, j, n, FA, 2), 0);
  }
  assert_int_equal(trust_save(t, why, sizeof why), IPOP_ESYS);
  assert_non_null(strstr(why, fx->path));
  assert_non_null(strstr(why, "No space left on device"));
  char *after = pt_slurp(fx->path);
  assert_string_equal(before, after);
  free(after);
  trust_free(t);
  int rc;
  assert_int_equal(pins_in(fx->path, why, sizeof why, &rc), 8);
  assert_false(leftovers(d));

  /* The address pool refuses the assignment (and keeps it out of memory). */
  for (int i = 2; i < 400 && rc == 0; i++) {
    node(i, n);
    rc = addrpool_assign(p, n, NULL, &a, why, sizeof why);
  }
  assert_int_equal(rc, IPOP_ESYS);
  assert_non_null(strstr(why, c.path));
  assert_non_null(strstr(why, "No space left on device"));
  after = pt_slurp(c.path);
  assert_string_equal(pool_before, after);
  free(after);
  assert_false(addrpool_lookup(p, n, &a) == 0);
  addrpool_free(p);

  /* A node id cannot be created: an error naming the file. */
  bool created;
  rc = nodeid_load_or_create(d, pt_rand, &rng, id, &created, why, sizeof why);
  assert_int_equal(rc, IPOP_ESYS);
  assert_non_null(strstr(why, NODEID_FILE));
  assert_non_null(strstr(why, "No space left on device"));
  assert_false(leftovers(d));

  /* Space again: writes succeed. */
  char filler[200];
  snprintf(filler, sizeof filler, "%s/filler", d);
  unlink(filler);
  assert_int_equal(nodeid_load_or_create(d, pt_rand, &rng, id, &created, why,
                                         sizeof why), 0);
  free(before);
  free(pool_before);
  umount(d);
}

int main(void)
{
  ipop_log_set_level(IPOP_LOG_WARN); /* not every removed temporary file */
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_kill9_known_nodes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_kill9_addrpool, setup, teardown),
    cmocka_unit_test_setup_teardown(test_damaged_known_nodes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_damaged_addrpool, setup, teardown),
    cmocka_unit_test_setup_teardown(test_damaged_node_id, setup, teardown),
    cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
