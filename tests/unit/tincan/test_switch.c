/* switch: learning, moves, aging, eviction, link removal and the forwarding
 * decision, plus a randomized comparison against a naive model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "error.h"
#include "switch.h"

static const uint8_t LOCAL[6] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
static const uint8_t ZERO[6] = { 0 };

static void mac_of(uint32_t id, uint8_t mac[6])
{
  mac[0] = 0x02;
  mac[1] = 0x10;
  mac[2] = (uint8_t)(id >> 24);
  mac[3] = (uint8_t)(id >> 16);
  mac[4] = (uint8_t)(id >> 8);
  mac[5] = (uint8_t)id;
}

static int setup(void **state)
{
  struct switch_table *t = malloc(sizeof(*t));
  if (!t || switch_init(t, 0, 1000, 0x1234567890abcdefull, LOCAL) != 0)
    return -1;
  *state = t;
  return 0;
}

static int teardown(void **state)
{
  free(*state);
  return 0;
}

/* Decision for a frame from the TAP to dst. */
static struct switch_decision decide(struct switch_table *t, const uint8_t *dst, uint64_t now)
{
  uint8_t f[14] = { 0 };
  struct frame_info fi;
  struct switch_decision d;
  memcpy(f, dst, 6);
  memcpy(f + 6, LOCAL, 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  assert_int_equal(frame_parse(&fi, f, sizeof(f)), 0);
  assert_int_equal(switch_decide(t, &fi, now, &d), 0);
  return d;
}

static void test_init(void **state)
{
  struct switch_table *t = *state;
  assert_int_equal(switch_init(t, SWITCH_MAX_ENTRIES + 1, 0, 0, NULL), IPOP_EINVAL);
  assert_int_equal(switch_init(NULL, 0, 0, 0, NULL), IPOP_EINVAL);
  assert_int_equal(switch_init(t, 0, 0, 0, NULL), 0);
  assert_int_equal(t->capacity, SWITCH_MAX_ENTRIES);
  assert_int_equal(t->age_ms, SWITCH_DEFAULT_AGE_MS);
  assert_false(t->has_local_mac);
  assert_true(t->flood_unknown);
  assert_int_equal(t->count, 0);
}

static void test_learn_and_decide(void **state)
{
  struct switch_table *t = *state;
  uint8_t a[6], b[6], c[6];
  uint32_t link = 0;
  mac_of(1, a);
  mac_of(2, b);
  mac_of(3, c);
  assert_int_equal(switch_learn(t, a, 10, 0), SWITCH_LEARN_NEW);
  assert_int_equal(switch_learn(t, b, 20, 0), SWITCH_LEARN_NEW);
  assert_int_equal(switch_learn(t, a, 10, 5), SWITCH_LEARN_REFRESHED);
  assert_int_equal(t->count, 2);
  assert_int_equal(t->stats.learned, 2);
  assert_int_equal(switch_lookup(t, a, 5, &link), 0);
  assert_int_equal(link, 10);

  struct switch_decision d = decide(t, a, 10);
  assert_int_equal(d.action, SWITCH_UNICAST);
  assert_int_equal(d.link, 10);
  assert_false(d.unknown_unicast);
  d = decide(t, b, 10);
  assert_int_equal(d.action, SWITCH_UNICAST);
  assert_int_equal(d.link, 20);

  d = decide(t, c, 10);                   /* unknown unicast: flood + report */
  assert_int_equal(d.action, SWITCH_FLOOD);
  assert_true(d.unknown_unicast);
  t->flood_unknown = false;
  d = decide(t, c, 10);
  assert_int_equal(d.action, SWITCH_DROP);
  assert_true(d.unknown_unicast);
  t->flood_unknown = true;

  d = decide(t, BCAST, 10);
  assert_int_equal(d.action, SWITCH_FLOOD);
  assert_false(d.unknown_unicast);
  d = decide(t, MCAST, 10);
  assert_int_equal(d.action, SWITCH_FLOOD);
  assert_false(d.unknown_unicast);
  d = decide(t, ZERO, 10);
  assert_int_equal(d.action, SWITCH_DROP);
  d = decide(t, LOCAL, 10);                /* to ourselves: never out */
  assert_int_equal(d.action, SWITCH_DROP);

  assert_int_equal(t->stats.unicast, 2);
  assert_int_equal(t->stats.unknown_unicast, 2);
  assert_int_equal(t->stats.flooded, 3);
  assert_int_equal(t->stats.dropped, 3);
  assert_int_equal(switch_decide(t, NULL, 0, &d), IPOP_EINVAL);
}

/* unknown_destination events: once per destination per report_ms. */
static void test_unknown_report(void **state)
{
  struct switch_table *t = *state;
  uint8_t a[6], b[6];
  mac_of(41, a);
  mac_of(42, b);
  t->report_ms = 1000;
  struct switch_decision d = decide(t, a, 0);
  assert_true(d.unknown_unicast);
  assert_true(d.report);
  d = decide(t, a, 500);
  assert_true(d.unknown_unicast);
  assert_false(d.report);
  d = decide(t, b, 500);                  /* another destination: its own report */
  assert_true(d.report);
  d = decide(t, a, 999);
  assert_false(d.report);
  d = decide(t, a, 1000);
  assert_true(d.report);
  /* Known destinations are never reported. */
  switch_learn(t, a, 1, 1001);
  d = decide(t, a, 1500);
  assert_false(d.unknown_unicast);
  assert_false(d.report);
  assert_int_equal(t->stats.unknown_unicast, 5);
  assert_int_equal(t->stats.unknown_reported, 3);
  /* Broadcast is not "unknown". */
  d = decide(t, BCAST, 5000);
  assert_false(d.report);
}

static void test_never_learn(void **state)
{
  struct switch_table *t = *state;
  uint8_t grp[6] = { 0x01, 0x00, 0x5e, 0x01, 0x02, 0x03 };
  assert_int_equal(switch_learn(t, BCAST, 1, 0), IPOP_EINVAL);
  assert_int_equal(switch_learn(t, MCAST, 1, 0), IPOP_EINVAL);
  assert_int_equal(switch_learn(t, grp, 1, 0), IPOP_EINVAL);
  assert_int_equal(switch_learn(t, ZERO, 1, 0), IPOP_EINVAL);
  assert_int_equal(switch_learn(t, LOCAL, 1, 0), IPOP_EPERM);
  assert_int_equal(t->count, 0);
  assert_int_equal(t->stats.rejected, 5);
  assert_int_equal(t->stats.learned, 0);
  /* So a broadcast destination still floods. */
  assert_int_equal(decide(t, BCAST, 0).action, SWITCH_FLOOD);
}

static void test_move(void **state)
{
  struct switch_table *t = *state;
  uint8_t a[6];
  uint32_t link;
  mac_of(7, a);
  assert_int_equal(switch_learn(t, a, 1, 0), SWITCH_LEARN_NEW);
  assert_int_equal(switch_learn(t, a, 2, 1), SWITCH_LEARN_MOVED);
  assert_int_equal(switch_learn(t, a, 2, 2), SWITCH_LEARN_REFRESHED);
  assert_int_equal(switch_learn(t, a, 1, 3), SWITCH_LEARN_MOVED);
  assert_int_equal(t->stats.moved, 2);
  assert_int_equal(t->count, 1);
  assert_int_equal(switch_lookup(t, a, 3, &link), 0);
  assert_int_equal(link, 1);
  struct switch_decision d = decide(t, a, 3);
  assert_int_equal(d.action, SWITCH_UNICAST);
  assert_int_equal(d.link, 1);
}

static void test_aging(void **state)
{
  struct switch_table *t = *state;       /* age_ms = 1000 */
  uint8_t m[10][6];
  uint32_t link;
  for (uint32_t i = 0; i < 10; i++) {
    mac_of(100 + i, m[i]);
    assert_int_equal(switch_learn(t, m[i], i, i), SWITCH_LEARN_NEW);
  }
  assert_int_equal(switch_lookup(t, m[0], 1000, &link), 0);     /* exactly age: fresh */
  assert_int_equal(switch_lookup(t, m[0], 1001, &link), IPOP_ENOENT);
  assert_int_equal(t->stats.expired, 1);
  assert_int_equal(t->count, 9);
  struct switch_decision d = decide(t, m[0], 1001);
  assert_int_equal(d.action, SWITCH_FLOOD);
  assert_true(d.unknown_unicast);

  /* A refresh keeps an entry alive and moves it to the young end. */
  assert_int_equal(switch_learn(t, m[1], 1, 900), SWITCH_LEARN_REFRESHED);
  assert_int_equal(switch_expire(t, 1006), 4);                   /* m[2..5] */
  assert_int_equal(t->count, 5);
  assert_int_equal(switch_lookup(t, m[1], 1006, &link), 0);
  assert_int_equal(switch_lookup(t, m[6], 1006, &link), 0);
  assert_int_equal(switch_lookup(t, m[5], 1006, &link), IPOP_ENOENT);
  assert_int_equal(switch_expire(t, 1006), 0);
  assert_int_equal(switch_expire(t, 5000), 5);
  assert_int_equal(t->count, 0);
  assert_int_equal(t->stats.expired, 10);
  /* The table is usable again after emptying. */
  assert_int_equal(switch_learn(t, m[3], 3, 6000), SWITCH_LEARN_NEW);
  assert_int_equal(switch_lookup(t, m[3], 6000, &link), 0);
  assert_int_equal(link, 3);
}

static void test_evict_small(void **state)
{
  struct switch_table *t = *state;
  uint8_t m[5][6];
  uint32_t link;
  assert_int_equal(switch_init(t, 4, 100000, 42, NULL), 0);
  for (uint32_t i = 0; i < 5; i++)
    mac_of(200 + i, m[i]);
  for (uint32_t i = 0; i < 4; i++)
    assert_int_equal(switch_learn(t, m[i], 1, i), SWITCH_LEARN_NEW);
  assert_int_equal(switch_learn(t, m[0], 1, 10), SWITCH_LEARN_REFRESHED);
  assert_int_equal(switch_learn(t, m[4], 2, 11), SWITCH_LEARN_NEW);  /* evicts m[1] */
  assert_int_equal(t->count, 4);
  assert_int_equal(t->stats.evicted, 1);
  assert_int_equal(switch_lookup(t, m[1], 11, &link), IPOP_ENOENT);
  assert_int_equal(switch_lookup(t, m[0], 11, &link), 0);
  assert_int_equal(switch_lookup(t, m[4], 11, &link), 0);
  assert_int_equal(link, 2);
}

static void test_full_table(void **state)
{
  struct switch_table *t = *state;
  uint8_t mac[6];
  uint32_t link;
  assert_int_equal(switch_init(t, 0, 1u << 30, 99, NULL), 0);
  for (uint32_t i = 0; i < SWITCH_MAX_ENTRIES; i++) {
    mac_of(i, mac);
    assert_int_equal(switch_learn(t, mac, i % 7, i), SWITCH_LEARN_NEW);
  }
  assert_int_equal(t->count, SWITCH_MAX_ENTRIES);
  for (uint32_t i = 0; i < SWITCH_MAX_ENTRIES; i++) {
    mac_of(i, mac);
    assert_int_equal(switch_lookup(t, mac, SWITCH_MAX_ENTRIES, &link), 0);
    assert_int_equal(link, i % 7);
  }
  /* One more: the oldest (id 0) goes. */
  mac_of(SWITCH_MAX_ENTRIES, mac);
  assert_int_equal(switch_learn(t, mac, 3, SWITCH_MAX_ENTRIES), SWITCH_LEARN_NEW);
  assert_int_equal(t->count, SWITCH_MAX_ENTRIES);
  assert_int_equal(t->stats.evicted, 1);
  mac_of(0, mac);
  assert_int_equal(switch_lookup(t, mac, SWITCH_MAX_ENTRIES, &link), IPOP_ENOENT);
  for (uint32_t i = 1; i <= SWITCH_MAX_ENTRIES; i++) {
    mac_of(i, mac);
    assert_int_equal(switch_lookup(t, mac, SWITCH_MAX_ENTRIES, &link), 0);
  }
}

static void test_remove_link(void **state)
{
  struct switch_table *t = *state;
  uint8_t mac[6];
  uint32_t link;
  for (uint32_t i = 0; i < 150; i++) {
    mac_of(i, mac);
    switch_learn(t, mac, i < 100 ? 1 : 2, 0);
  }
  assert_int_equal(switch_remove_link(t, 1), 100);
  assert_int_equal(switch_remove_link(t, 1), 0);
  assert_int_equal(switch_remove_link(t, 9), 0);
  assert_int_equal(t->count, 50);
  assert_int_equal(t->stats.removed, 100);
  for (uint32_t i = 0; i < 150; i++) {
    mac_of(i, mac);
    int r = switch_lookup(t, mac, 0, &link);
    if (i < 100) {
      assert_int_equal(r, IPOP_ENOENT);
      assert_int_equal(decide(t, mac, 0).action, SWITCH_FLOOD);
    } else {
      assert_int_equal(r, 0);
      assert_int_equal(link, 2);
    }
  }
}

/* ---- randomized comparison with a naive model ---- */

struct model_ent {
  bool present;
  uint32_t link;
  uint64_t seen, stamp;
};

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Time advances by 1 ms every `tick` operations on average; entries live
 * age ms.  Mostly learning and lookups, rarely link removal and sweeps. */
/* Bound MACs (a link's peer): never moved by another link's frames, never
 * aged, never evicted by a flood of learned MACs, gone with their link. */
static void test_bound(void **state)
{
  struct switch_table *t = *state;
  uint8_t bob[6], mallory[6], m[6];
  uint32_t link = 99;
  mac_of(1, bob);
  mac_of(2, mallory);
  assert_int_equal(switch_bind(t, bob, 1), 0);
  assert_int_equal(switch_bind(t, bob, 1), 0);                 /* again: fine */
  assert_int_equal(switch_bind(t, bob, 2), IPOP_EEXIST);       /* another link */
  assert_int_equal(switch_bind(t, LOCAL, 2), IPOP_EPERM);
  assert_int_equal(switch_bind(t, BCAST, 2), IPOP_EINVAL);
  assert_int_equal(switch_bind(t, ZERO, 2), IPOP_EINVAL);
  assert_int_equal(switch_bind(t, mallory, 2), 0);
  /* mallory's link claims bob's MAC: refused and counted, bob stays */
  assert_int_equal(switch_learn(t, bob, 2, 10), IPOP_EPERM);
  assert_int_equal(t->stats.spoofed, 1);
  assert_int_equal(switch_learn(t, bob, 1, 10), SWITCH_LEARN_REFRESHED);
  assert_int_equal(switch_lookup(t, bob, 10, &link), 0);
  assert_int_equal(link, 1);
  /* never ages */
  assert_int_equal(switch_expire(t, 1000000), 0);
  assert_int_equal(switch_lookup(t, bob, 1000000, &link), 0);
  /* a full table of learned MACs (a bridge's LAN) evicts learned ones only */
  for (uint32_t i = 0; i < 2 * SWITCH_MAX_ENTRIES; i++) {
    mac_of(1000 + i, m);
    assert_true(switch_learn(t, m, 3, 2000000) >= 0);
  }
  assert_int_equal(t->count, SWITCH_MAX_ENTRIES);
  assert_true(t->stats.evicted > 0);
  assert_int_equal(switch_lookup(t, bob, 3000000, &link), 0);
  assert_int_equal(link, 1);
  assert_int_equal(switch_lookup(t, mallory, 3000000, &link), 0);
  assert_int_equal(link, 2);
  struct switch_decision d = decide(t, bob, 3000000);
  assert_int_equal(d.action, SWITCH_UNICAST);
  assert_int_equal(d.link, 1);
  /* binding a learned MAC makes it the link's for good */
  mac_of(1000 + 2 * SWITCH_MAX_ENTRIES - 1, m);
  assert_int_equal(switch_bind(t, m, 4), 0);
  assert_int_equal(switch_learn(t, m, 3, 3000001), IPOP_EPERM);
  /* the link goes: its bound MAC with it */
  assert_int_equal(switch_remove_link(t, 1), 1);
  assert_int_equal(switch_lookup(t, bob, 3000000, &link), IPOP_ENOENT);
  assert_int_equal(switch_bind(t, bob, 2), 0);                 /* free again */
}

/* A table holding only bound entries refuses to learn rather than evict one. */
static void test_bound_full(void **state)
{
  struct switch_table *t = *state;
  uint8_t m[6];
  assert_int_equal(switch_init(t, 4, 1000, 1, LOCAL), 0);
  for (uint32_t i = 0; i < 4; i++) {
    mac_of(i, m);
    assert_int_equal(switch_bind(t, m, i), 0);
  }
  mac_of(9, m);
  assert_int_equal(switch_bind(t, m, 9), IPOP_ENOMEM);
  assert_int_equal(switch_learn(t, m, 9, 1), IPOP_ENOMEM);
  assert_int_equal(t->count, 4);
}

static void run_model(struct switch_table *t, uint32_t cap, uint32_t pool, uint32_t ops, uint32_t tick,
                      uint64_t age)
{
  struct model_ent *me = calloc(pool, sizeof(*me));
  uint32_t count = 0;
  uint64_t now = 0, stamp = 0;
  uint8_t mac[6];
  uint32_t link;
  assert_non_null(me);
  assert_int_equal(switch_init(t, cap, age, rnd(), NULL), 0);

  for (uint32_t op = 0; op < ops; op++) {
    now += rnd() % tick == 0;
    if (rnd() % 5000 == 0)
      now += age / 2;                     /* a quiet spell: things age out */
    uint32_t id = (uint32_t)(rnd() % pool);
    uint32_t l = (uint32_t)(rnd() % 5);
    mac_of(id, mac);
    unsigned what = (unsigned)(rnd() % 20000);
    if (what < 13000) {
      int want;
      if (me[id].present) {
        want = me[id].link == l ? SWITCH_LEARN_REFRESHED : SWITCH_LEARN_MOVED;
      } else {
        want = SWITCH_LEARN_NEW;
        if (count == cap) {
          uint32_t v = UINT32_MAX;
          for (uint32_t i = 0; i < pool; i++)
            if (me[i].present && (v == UINT32_MAX || me[i].stamp < me[v].stamp))
              v = i;
          me[v].present = false;
          count--;
        }
        count++;
      }
      me[id] = (struct model_ent){ true, l, now, ++stamp };
      assert_int_equal(switch_learn(t, mac, l, now), want);
    } else if (what < 19979) {
      int r = switch_lookup(t, mac, now, &link);
      bool fresh = me[id].present && !(now > me[id].seen && now - me[id].seen > age);
      if (me[id].present && !fresh) {
        me[id].present = false;
        count--;
      }
      if (fresh) {
        assert_int_equal(r, 0);
        assert_int_equal(link, me[id].link);
      } else {
        assert_int_equal(r, IPOP_ENOENT);
      }
    } else if (what < 19980) {
      uint32_t n = 0;
      for (uint32_t i = 0; i < pool; i++)
        if (me[i].present && me[i].link == l) {
          me[i].present = false;
          n++;
        }
      count -= n;
      assert_int_equal(switch_remove_link(t, l), n);
    } else {
      uint32_t n = 0;
      for (uint32_t i = 0; i < pool; i++)
        if (me[i].present && now > me[i].seen && now - me[i].seen > age) {
          me[i].present = false;
          n++;
        }
      count -= n;
      assert_int_equal(switch_expire(t, now), n);
    }
    assert_int_equal(t->count, count);
  }
  /* Final full sweep: every model entry is found, nothing else is. */
  for (uint32_t i = 0; i < pool; i++) {
    mac_of(i, mac);
    bool fresh = me[i].present && !(now > me[i].seen && now - me[i].seen > age);
    assert_int_equal(switch_lookup(t, mac, now, &link) == 0, fresh);
  }
  /* The run exercised every path. */
  assert_true(t->stats.evicted > 0);
  assert_true(t->stats.expired > 0);
  assert_true(t->stats.moved > 0);
  assert_true(t->stats.removed > 0);
  free(me);
}

static void test_model_small(void **state)
{
  run_model(*state, 16, 100, 100000, 1, 50);
}

static void test_model_full(void **state)
{
  run_model(*state, SWITCH_MAX_ENTRIES, 6000, 60000, 8, 2000);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_init, setup, teardown),
    cmocka_unit_test_setup_teardown(test_learn_and_decide, setup, teardown),
    cmocka_unit_test_setup_teardown(test_unknown_report, setup, teardown),
    cmocka_unit_test_setup_teardown(test_never_learn, setup, teardown),
    cmocka_unit_test_setup_teardown(test_move, setup, teardown),
    cmocka_unit_test_setup_teardown(test_aging, setup, teardown),
    cmocka_unit_test_setup_teardown(test_evict_small, setup, teardown),
    cmocka_unit_test_setup_teardown(test_full_table, setup, teardown),
    cmocka_unit_test_setup_teardown(test_remove_link, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bound_full, setup, teardown),
    cmocka_unit_test_setup_teardown(test_model_small, setup, teardown),
    cmocka_unit_test_setup_teardown(test_model_full, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
