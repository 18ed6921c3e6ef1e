/* topology: mesh below the budget; ring + long-distance above it, with the
 * union of every member's links connected and degrees bounded; on-demand
 * links opened by traffic and trimmed when idle; inbound capacity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_test.h"
#include "topology.h"

#define MAXN 64

static char ids[MAXN][NODEID_BUF];
static const char *idp[MAXN];

/* n ids in a deliberately unsorted order. */
static void make_ids(int n)
{
  for (int i = 0; i < n; i++) {
    snprintf(ids[i], NODEID_BUF, "%08x%024x", (unsigned)((i * 2654435761u) ^ 0x5a5a5a5au),
             (unsigned)i);
    idp[i] = ids[i];
  }
}

static int index_of(int n, const char *id)
{
  for (int i = 0; i < n; i++)
    if (strcmp(ids[i], id) == 0)
      return i;
  return -1;
}

struct world {
  int n;
  struct topology *t[MAXN];
  struct pt_rng rng[MAXN];
  bool adj[MAXN][MAXN];
};

static void world_init(struct world *w, int n, uint32_t budget, void (*tweak)(struct topology_config *))
{
  memset(w, 0, sizeof *w);
  w->n = n;
  make_ids(n);
  for (int i = 0; i < n; i++) {
    struct topology_config cfg;
    topology_config_defaults(&cfg);
    cfg.link_budget = budget;
    w->rng[i].seed = 1000 + (uint64_t)i;
    cfg.rnd = pt_rand;
    cfg.rnd_ctx = &w->rng[i];
    if (tweak)
      tweak(&cfg);
    assert_int_equal(topology_create(&w->t[i], &cfg, ids[i]), 0);
    assert_int_equal(topology_set_members(w->t[i], idp, (size_t)n), 0); /* own id included */
    assert_int_equal(topology_member_count(w->t[i]), (size_t)n - 1);
  }
}

static void world_fini(struct world *w)
{
  for (int i = 0; i < w->n; i++)
    topology_free(w->t[i]);
}

/* Every node plans; an edge i->j exists if j also wants it or accepts it
 * as inbound.  Returns the number of refused requests. */
static int world_links(struct world *w, uint64_t now, size_t *max_out)
{
  int refused = 0;
  memset(w->adj, 0, sizeof w->adj);
  *max_out = 0;
  for (int i = 0; i < w->n; i++) {
    struct topology_plan p;
    assert_int_equal(topology_plan(w->t[i], now, NULL, 0, &p), 0);
    if (p.n_desired > *max_out)
      *max_out = p.n_desired;
    assert_int_equal(p.n_add, p.n_desired);
    for (size_t k = 0; k < p.n_desired; k++) {
      int j = index_of(w->n, p.desired[k].peer_id);
      assert_true(j >= 0 && j != i);
      if (k > 0) /* sorted, no duplicates */
        assert_true(strcmp(p.desired[k - 1].peer_id, p.desired[k].peer_id) < 0);
      w->adj[i][j] = true;
    }
    topology_plan_free(&p);
  }
  /* one-sided wishes need the other side's consent */
  for (int i = 0; i < w->n; i++)
    for (int j = 0; j < w->n; j++)
      if (w->adj[i][j] && !w->adj[j][i]) {
        if (topology_on_inbound(w->t[j], ids[i], false, now) == 0)
          w->adj[j][i] = true;
        else {
          w->adj[i][j] = false;
          refused++;
        }
      }
  return refused;
}

static bool connected(const struct world *w)
{
  bool seen[MAXN] = { true };
  int stack[MAXN], top = 0, count = 1;
  stack[top++] = 0;
  while (top) {
    int i = stack[--top];
    for (int j = 0; j < w->n; j++)
      if (w->adj[i][j] && !seen[j]) {
        seen[j] = true;
        count++;
        stack[top++] = j;
      }
  }
  return count == w->n;
}

static size_t degree(const struct world *w, int i)
{
  size_t d = 0;
  for (int j = 0; j < w->n; j++)
    d += w->adj[i][j];
  return d;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_shape(void **state)
{
  struct topology_config cfg;
  topology_config_defaults(&cfg);
  uint32_t r, l;
  bool mesh;
  topology_shape(&cfg, 33, &r, &l, &mesh);
  assert_true(mesh);
  topology_shape(&cfg, 34, &r, &l, &mesh);
  assert_false(mesh);
  assert_int_equal(r, 2);
  assert_int_equal(l, 6); /* ceil(log2 34) */
  topology_shape(&cfg, 100000, &r, &l, &mesh);
  assert_int_equal(l, 14); /* capped at half of what the ring leaves */
  cfg.link_budget = 2;
  topology_shape(&cfg, 6, &r, &l, &mesh);
  assert_false(mesh);
  assert_int_equal(r, 1);
  assert_int_equal(l, 0);
  cfg.link_budget = 5;
  cfg.long_links = 9;
  topology_shape(&cfg, 7, &r, &l, &mesh);
  assert_int_equal(r, 2);
  assert_int_equal(l, 0); /* (5-4)/2 */
}

static void test_full_mesh(void **state)
{
  struct world w;
  world_init(&w, 5, 32, NULL);
  struct topology_plan p;
  const char *cur[] = { ids[1], ids[2], "0000000000000000000000000000dead" };
  assert_int_equal(topology_plan(w.t[0], 0, cur, 3, &p), 0);
  assert_int_equal(p.n_desired, 4);
  for (size_t k = 0; k < p.n_desired; k++)
    assert_int_equal(p.desired[k].kind, TOPO_MESH);
  assert_int_equal(p.n_add, 2);
  assert_int_equal(p.n_remove, 1);
  assert_string_equal(p.remove[0], "0000000000000000000000000000dead");
  topology_plan_free(&p);
  const char *bad[] = { "nope" };
  assert_int_equal(topology_plan(w.t[0], 0, bad, 1, &p), IPOP_EINVAL);
  size_t maxd;
  assert_int_equal(world_links(&w, 0, &maxd), 0);
  assert_true(connected(&w));
  for (int i = 0; i < w.n; i++)
    assert_int_equal(degree(&w, i), 4);
  world_fini(&w);
}

static void test_budget2_six_members(void **state)
{
  struct world w;
  world_init(&w, 6, 2, NULL);
  size_t maxd;
  assert_int_equal(world_links(&w, 0, &maxd), 0);
  assert_int_equal(maxd, 2);
  assert_true(connected(&w));
  for (int i = 0; i < w.n; i++) {
    assert_int_equal(degree(&w, i), 2);
    for (int j = 0; j < w.n; j++) /* ring links are wanted by both ends */
      assert_int_equal(w.adj[i][j], w.adj[j][i]);
  }
  /* every kind is ring */
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[3], 0, NULL, 0, &p), 0);
  assert_int_equal(p.desired[0].kind, TOPO_RING);
  assert_int_equal(p.desired[1].kind, TOPO_RING);
  topology_plan_free(&p);
  world_fini(&w);
}

static void test_large_group(void **state)
{
  for (uint32_t budget = 3; budget <= 12; budget += 3) {
    struct world w;
    world_init(&w, 48, budget, NULL);
    size_t maxd;
    world_links(&w, 0, &maxd);
    assert_true(maxd <= budget);
    assert_true(connected(&w));
    struct topology_config cfg;
    topology_config_defaults(&cfg);
    for (int i = 0; i < w.n; i++)
      assert_true(degree(&w, i) <= budget + cfg.ondemand_max);
    /* stable: planning again changes nothing (no churn of long links) */
    struct topology_plan p1, p2;
    assert_int_equal(topology_plan(w.t[7], 0, NULL, 0, &p1), 0);
    const char *cur[MAXN];
    for (size_t k = 0; k < p1.n_desired; k++)
      cur[k] = p1.desired[k].peer_id;
    assert_int_equal(topology_plan(w.t[7], 1000, cur, p1.n_desired, &p2), 0);
    assert_int_equal(p2.n_add, 0);
    assert_int_equal(p2.n_remove, 0);
    topology_plan_free(&p1);
    topology_plan_free(&p2);
    world_fini(&w);
  }
}

static void test_deterministic(void **state)
{
  struct world w1, w2;
  world_init(&w1, 40, 8, NULL);
  struct topology_plan p1;
  assert_int_equal(topology_plan(w1.t[5], 0, NULL, 0, &p1), 0);
  world_fini(&w1);
  world_init(&w2, 40, 8, NULL);
  struct topology_plan p2;
  assert_int_equal(topology_plan(w2.t[5], 0, NULL, 0, &p2), 0);
  assert_int_equal(p1.n_desired, p2.n_desired);
  assert_memory_equal(p1.desired, p2.desired, p1.n_desired * sizeof *p1.desired);
  size_t nlong = 0;
  for (size_t k = 0; k < p1.n_desired; k++)
    nlong += p1.desired[k].kind == TOPO_LONG;
  assert_int_equal(nlong, 2); /* ceil(log2 40) = 6, capped at (8 - 4) / 2 */
  topology_plan_free(&p1);
  topology_plan_free(&p2);
  world_fini(&w2);
}

static void test_rejected_long_redrawn(void **state)
{
  struct world w;
  world_init(&w, 40, 8, NULL);
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  char victim[NODEID_BUF] = "";
  for (size_t k = 0; k < p.n_desired; k++)
    if (p.desired[k].kind == TOPO_LONG)
      memcpy(victim, p.desired[k].peer_id, NODEID_BUF);
  assert_true(victim[0]);
  topology_plan_free(&p);
  topology_on_rejected(w.t[0], victim);
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  size_t nlong = 0;
  for (size_t k = 0; k < p.n_desired; k++) {
    assert_string_not_equal(p.desired[k].peer_id, victim);
    nlong += p.desired[k].kind == TOPO_LONG;
  }
  assert_int_equal(nlong, 2);
  topology_plan_free(&p);
  /* a new member set lifts the exclusion */
  assert_int_equal(topology_set_members(w.t[0], idp, 40), 0);
  topology_on_rejected(w.t[0], "bad id");
  world_fini(&w);
}

static void slow_ondemand(struct topology_config *cfg)
{
  cfg->ondemand_events = 3;
  cfg->ondemand_window_ms = 10000;
  cfg->ondemand_max = 2;
}

static bool has(const struct topology_plan *p, const char *id, enum topology_kind kind)
{
  for (size_t k = 0; k < p->n_desired; k++)
    if (strcmp(p->desired[k].peer_id, id) == 0)
      return p->desired[k].kind == kind;
  return false;
}

static void test_ondemand(void **state)
{
  struct world w;
  world_init(&w, 6, 2, NULL);
  /* find a member that is not a ring neighbour of node 0 */
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  int far = -1;
  for (int i = 1; i < 6 && far < 0; i++) {
    bool near = false;
    for (size_t k = 0; k < p.n_desired; k++)
      near |= strcmp(p.desired[k].peer_id, ids[i]) == 0;
    if (!near)
      far = i;
  }
  /* unknown destination for a ring neighbour: nothing new */
  assert_int_equal(topology_on_unknown_dest(w.t[0], p.desired[0].peer_id, 0), 0);
  topology_plan_free(&p);
  assert_true(far > 0);
  assert_int_equal(topology_on_unknown_dest(w.t[0], "0000000000000000000000000000beef", 0),
                   IPOP_ENOENT);

  uint64_t t = 5000;
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far], t), 1);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far], t), 0); /* already */
  assert_int_equal(topology_plan(w.t[0], t, NULL, 0, &p), 0);
  assert_int_equal(p.n_desired, 3);
  assert_true(has(&p, ids[far], TOPO_ONDEMAND));
  assert_int_equal(p.n_add, 3);
  topology_plan_free(&p);
  /* the far side accepts it over its (zero) inbound reserve, as on-demand */
  assert_int_equal(topology_on_inbound(w.t[far], ids[0], true, t), 0);
  assert_int_equal(topology_plan(w.t[far], t, NULL, 0, &p), 0);
  assert_true(has(&p, ids[0], TOPO_ONDEMAND));
  topology_plan_free(&p);

  /* traffic keeps it: 30 s windows with >= 1024 bytes */
  const char *cur[] = { ids[far] };
  assert_int_equal(topology_on_link_bytes(w.t[0], ids[far], 100, t), 0);
  for (int k = 1; k <= 20; k++) {
    t += 30000;
    assert_int_equal(topology_on_link_bytes(w.t[0], ids[far], 100 + (uint64_t)k * 5000, t), 0);
  }
  assert_int_equal(topology_plan(w.t[0], t, cur, 1, &p), 0);
  assert_true(has(&p, ids[far], TOPO_ONDEMAND));
  assert_int_equal(p.n_remove, 0);
  topology_plan_free(&p);
  /* then only a trickle: trimmed 300 s after the last busy window */
  uint64_t last_busy = t, bytes = 100 + 20 * 5000;
  for (int k = 1; k <= 9; k++) {
    t += 30000;
    bytes += 100;
    topology_on_link_bytes(w.t[0], ids[far], bytes, t);
    assert_int_equal(topology_plan(w.t[0], t, cur, 1, &p), 0);
    assert_int_equal(p.n_remove, 0);
    topology_plan_free(&p);
  }
  t = last_busy + 300000;
  assert_int_equal(topology_plan(w.t[0], t, cur, 1, &p), 0);
  assert_int_equal(p.n_remove, 1);
  assert_string_equal(p.remove[0], ids[far]);
  assert_false(has(&p, ids[far], TOPO_ONDEMAND));
  topology_plan_free(&p);
  assert_int_equal(topology_on_link_bytes(w.t[0], ids[far], 1, t), IPOP_ENOENT);

  /* a counter reset (link re-created) counts as traffic from zero */
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far], t), 1);
  topology_on_link_bytes(w.t[0], ids[far], 1000000, t);
  topology_on_link_bytes(w.t[0], ids[far], 5000, t + 30000);
  assert_int_equal(topology_plan(w.t[0], t + 320000, cur, 1, &p), 0);
  assert_true(has(&p, ids[far], TOPO_ONDEMAND)); /* active at t+30000 */
  topology_plan_free(&p);
  /* link gone: record dropped */
  topology_on_link_gone(w.t[0], ids[far]);
  assert_int_equal(topology_plan(w.t[0], t, NULL, 0, &p), 0);
  assert_int_equal(p.n_desired, 2);
  topology_plan_free(&p);
  world_fini(&w);
}

static void test_ondemand_threshold_and_max(void **state)
{
  struct world w;
  world_init(&w, 12, 2, slow_ondemand);
  /* members 2 or more ring steps away from node 0 */
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  int far[9], nf = 0;
  for (int i = 1; i < 12; i++)
    if (!has(&p, ids[i], TOPO_RING))
      far[nf++] = i;
  topology_plan_free(&p);
  assert_int_equal(nf, 9);

  /* 3 events within 10 s are needed; a gap resets the count */
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far[0]], 0), 0);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far[0]], 1000), 0);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far[0]], 20000), 0);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far[0]], 21000), 0);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far[0]], 22000), 1);
  for (int k = 0; k < 3; k++)
    topology_on_unknown_dest(w.t[0], ids[far[1]], 23000);
  /* max 2: a third evicts the least recently active */
  for (int k = 0; k < 3; k++)
    topology_on_unknown_dest(w.t[0], ids[far[2]], 24000);
  assert_int_equal(topology_plan(w.t[0], 24000, NULL, 0, &p), 0);
  assert_false(has(&p, ids[far[0]], TOPO_ONDEMAND));
  assert_true(has(&p, ids[far[1]], TOPO_ONDEMAND));
  assert_true(has(&p, ids[far[2]], TOPO_ONDEMAND));
  assert_int_equal(p.n_desired, 4);
  topology_plan_free(&p);

  /* inbound: reserve is 0 with budget 2, on-demand slots are full: busy,
   * and a remote request never evicts */
  assert_int_equal(topology_on_inbound(w.t[0], ids[far[3]], true, 25000), IPOP_EBUSY);
  assert_int_equal(topology_on_inbound(w.t[0], ids[far[3]], false, 25000), IPOP_EBUSY);
  assert_int_equal(topology_on_inbound(w.t[0], ids[far[1]], false, 25000), 0); /* ours */
  assert_int_equal(topology_on_inbound(w.t[0], "0000000000000000000000000000beef", true, 0),
                   IPOP_ENOENT);

  /* a member leaving drops its on-demand link */
  const char *fewer[12];
  int nm = 0;
  for (int i = 0; i < 12; i++)
    if (i != far[1])
      fewer[nm++] = ids[i];
  assert_int_equal(topology_set_members(w.t[0], fewer, (size_t)nm), 0);
  const char *cur[] = { ids[far[1]], ids[far[2]] };
  assert_int_equal(topology_plan(w.t[0], 25000, cur, 2, &p), 0);
  assert_int_equal(p.n_remove, 1);
  assert_string_equal(p.remove[0], ids[far[1]]);
  topology_plan_free(&p);
  world_fini(&w);
}

/* A member that gets an on-demand link and later becomes a ring neighbour
 * (members left) keeps one link, now structured, never trimmed as idle. */
static void test_ondemand_becomes_ring(void **state)
{
  struct world w;
  world_init(&w, 6, 2, NULL);
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  int far = -1;
  for (int i = 1; i < 6 && far < 0; i++)
    if (!has(&p, ids[i], TOPO_RING))
      far = i;
  topology_plan_free(&p);
  assert_int_equal(topology_on_unknown_dest(w.t[0], ids[far], 0), 1);
  const char *two[] = { ids[0], ids[far] };
  assert_int_equal(topology_set_members(w.t[0], two, 2), 0);
  assert_int_equal(topology_plan(w.t[0], 10000000, NULL, 0, &p), 0);
  assert_int_equal(p.n_desired, 1);
  assert_int_equal(p.desired[0].kind, TOPO_MESH);
  topology_plan_free(&p);
  world_fini(&w);
}

static void test_inbound_reserve(void **state)
{
  struct world w;
  world_init(&w, 40, 8, NULL); /* ring 4 + long 2: reserve 2; 8 on-demand slots */
  struct topology_plan p;
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  int structured = 0, ondemand = 0, inbound = 0, ond = 0;
  for (int i = 1; i < 40; i++) {
    bool mine = false;
    for (size_t k = 0; k < p.n_desired; k++)
      mine |= strcmp(p.desired[k].peer_id, ids[i]) == 0;
    if (mine) {
      assert_int_equal(topology_on_inbound(w.t[0], ids[i], false, 0), 0);
      continue;
    }
    /* alternate structured and on-demand requests */
    if (i % 2)
      structured += topology_on_inbound(w.t[0], ids[i], false, 0) == 0;
    else
      ondemand += topology_on_inbound(w.t[0], ids[i], true, 0) == 0;
  }
  topology_plan_free(&p);
  assert_int_equal(structured, 2);
  assert_int_equal(ondemand, 8);
  assert_int_equal(topology_plan(w.t[0], 0, NULL, 0, &p), 0);
  for (size_t k = 0; k < p.n_desired; k++) {
    inbound += p.desired[k].kind == TOPO_INBOUND;
    ond += p.desired[k].kind == TOPO_ONDEMAND;
  }
  topology_plan_free(&p);
  assert_int_equal(inbound, 2);
  assert_int_equal(ond, 8);
  /* idle on-demand links are trimmed; inbound links within the reserve stay
   * until the peer cancels */
  assert_int_equal(topology_plan(w.t[0], 400000, NULL, 0, &p), 0);
  inbound = ond = 0;
  for (size_t k = 0; k < p.n_desired; k++) {
    inbound += p.desired[k].kind == TOPO_INBOUND;
    ond += p.desired[k].kind == TOPO_ONDEMAND;
  }
  topology_plan_free(&p);
  assert_int_equal(inbound, 2);
  assert_int_equal(ond, 0);
  world_fini(&w);
}

static void test_config_and_members(void **state)
{
  struct topology_config cfg;
  struct topology *t;
  topology_config_defaults(&cfg);
  const char *own = "0123456789abcdef0123456789abcdef";
  assert_int_equal(topology_create(&t, &cfg, own), IPOP_EINVAL); /* no rnd */
  cfg.rnd = pt_rand_const;
  assert_int_equal(topology_create(&t, &cfg, "bad"), IPOP_EINVAL);
  cfg.link_budget = 1;
  assert_int_equal(topology_create(&t, &cfg, own), IPOP_EINVAL);
  cfg.link_budget = 32;
  assert_int_equal(topology_create(&t, &cfg, own), 0);
  /* alone: nothing desired */
  struct topology_plan p;
  assert_int_equal(topology_plan(t, 0, NULL, 0, &p), 0);
  assert_int_equal(p.n_desired, 0);
  topology_plan_free(&p);
  /* duplicates and our own id are skipped; an invalid id changes nothing */
  const char *m[] = { own, "1111111111111111aaaaaaaaaaaaaaaa",
                      "1111111111111111aaaaaaaaaaaaaaaa" };
  assert_int_equal(topology_set_members(t, m, 3), 0);
  assert_int_equal(topology_member_count(t), 1);
  const char *bad[] = { "2222222222222222bbbbbbbbbbbbbbbb", "x" };
  assert_int_equal(topology_set_members(t, bad, 2), IPOP_EINVAL);
  assert_int_equal(topology_member_count(t), 1);
  assert_int_equal(topology_set_members(t, NULL, 0), 0);
  assert_int_equal(topology_member_count(t), 0);
  topology_on_link_gone(t, "nope");
  topology_free(t);
  topology_free(NULL);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shape),
    cmocka_unit_test(test_full_mesh),
    cmocka_unit_test(test_budget2_six_members),
    cmocka_unit_test(test_large_group),
    cmocka_unit_test(test_deterministic),
    cmocka_unit_test(test_rejected_long_redrawn),
    cmocka_unit_test(test_ondemand),
    cmocka_unit_test(test_ondemand_threshold_and_max),
    cmocka_unit_test(test_ondemand_becomes_ring),
    cmocka_unit_test(test_inbound_reserve),
    cmocka_unit_test(test_config_and_members),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
