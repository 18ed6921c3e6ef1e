/* The policy modules wired together the way docs/topology.md and
 * docs/signaling-negotiation.md tell the controller to: six GroupVPN nodes
 * with a link budget of 2, an in-process XMPP (ordered queue) and a fake
 * tincan (links come up when both ends created them).  The ring comes up;
 * traffic between every non-adjacent pair opens on-demand links so that all
 * pairs reach each other; idle on-demand links are trimmed on both sides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "negotiate.h"
#include "policy_test.h"
#include "topology.h"

#define MAXN 24
static int N = 6;
static uint32_t budget = 2;

struct simnode {
  int idx;
  char id[NODEID_BUF];
  struct negotiate *neg;
  struct topology *topo;
  struct pt_rng rng;
  bool created[MAXN];   /* tincan has a link to node j */
  bool up[MAXN];        /* ... and it is up */
};

static struct simnode sn[MAXN];
static uint64_t now;

struct msg {
  int from, to;
  const char *type;
  char *payload;
};
static struct msg q[4096];
static size_t qh, qt;

static unsigned rejected_over_budget;

static int idx_of(const char *id)
{
  for (int i = 0; i < N; i++)
    if (strcmp(sn[i].id, id) == 0)
      return i;
  return -1;
}

static int accept_cb(void *ctx, const char *peer, bool ondemand)
{
  struct simnode *s = ctx;
  int rc = topology_on_inbound(s->topo, peer, ondemand, now);
  if (rc == IPOP_ENOENT)
    return SIGMSG_R_NOT_ALLOWED + 1;
  if (rc)
    return SIGMSG_R_OVER_BUDGET + 1;
  return 0;
}

static void execute(struct simnode *s, struct neg_actions *a);

static void link_down(struct simnode *s, int j)
{
  struct neg_actions a = { 0 };
  negotiate_on_link_state(s->neg, sn[j].id, CTL_LINK_DOWN, now, &a);
  execute(s, &a);
  negotiate_actions_free(&a);
}

static void execute(struct simnode *s, struct neg_actions *a)
{
  for (size_t k = 0; k < a->n; k++) {
    struct neg_action *x = &a->v[k];
    int j = idx_of(x->peer_id);
    assert_true(j >= 0);
    switch (x->type) {
    case NEG_ACT_SEND:
      assert_true(qt < 4096);
      q[qt++] = (struct msg){ s->idx, j, x->msg_type, strdup(x->payload) };
      break;
    case NEG_ACT_QUERY_CANDIDATES: {
      struct ctl_candidates c = { 0 };
      snprintf(c.overlay_id, sizeof c.overlay_id, "grp");
      snprintf(c.peer_id, sizeof c.peer_id, "%s", x->peer_id);
      snprintf(c.node_id, sizeof c.node_id, "%s", s->id);
      char *p = c.fingerprint + sprintf(c.fingerprint, "sha-256 ");
      for (int i = 0; i < 32; i++)
        p += sprintf(p, "%02X%s", s->idx, i < 31 ? ":" : "");
      snprintf(c.ufrag, sizeof c.ufrag, "ufrag%d", s->idx);
      snprintf(c.pwd, sizeof c.pwd, "passwordpasswordpassword%d", s->idx);
      snprintf(c.candidates[0], CTL_CAND_LEN, "candidate:1 1 udp 1 192.0.2.%d 4000 typ host",
               s->idx + 1);
      c.n_candidates = 1;
      struct neg_actions b = { 0 };
      assert_int_equal(negotiate_on_candidates(s->neg, &c, now, &b), 0);
      execute(s, &b);
      negotiate_actions_free(&b);
      break;
    }
    case NEG_ACT_CREATE_LINK: {
      char want[CTL_FPR_LEN];
      char *p = want + sprintf(want, "sha-256 ");
      for (int i = 0; i < 32; i++)
        p += sprintf(p, "%02X%s", j, i < 31 ? ":" : "");
      assert_string_equal(x->create->peer_fingerprint, want);
      s->created[j] = true;
      break;
    }
    case NEG_ACT_REMOVE_LINK:
      s->created[j] = false;
      topology_on_link_gone(s->topo, x->peer_id);
      if (s->up[j]) {
        s->up[j] = false;
        if (sn[j].up[s->idx]) { /* the far end loses consent */
          sn[j].up[s->idx] = false;
          link_down(&sn[j], s->idx);
        }
      }
      break;
    case NEG_ACT_REJECTED:
      if (x->reason == SIGMSG_R_OVER_BUDGET) {
        rejected_over_budget++;
        topology_on_rejected(s->topo, x->peer_id);
      }
      break;
    case NEG_ACT_GIVE_UP:
      topology_on_rejected(s->topo, x->peer_id);
      break;
    case NEG_ACT_LINK_UP:
      break;
    }
  }
}

static void plan(struct simnode *s)
{
  char cur[64][NODEID_BUF];
  const char *curp[64];
  size_t n = negotiate_current(s->neg, cur, 64);
  assert_true(n <= 64);
  for (size_t k = 0; k < n; k++)
    curp[k] = cur[k];
  struct topology_plan p;
  assert_int_equal(topology_plan(s->topo, now, curp, n, &p), 0);
  struct neg_actions a = { 0 };
  for (size_t k = 0; k < p.n_add; k++)
    assert_int_equal(negotiate_connect(s->neg, p.add[k].peer_id,
                                       p.add[k].kind == TOPO_ONDEMAND, now, &a), 0);
  for (size_t k = 0; k < p.n_remove; k++) {
    negotiate_disconnect(s->neg, p.remove[k], true, SIGMSG_R_NOT_WANTED, now, &a);
    topology_on_link_gone(s->topo, p.remove[k]);
  }
  topology_plan_free(&p);
  execute(s, &a);
  negotiate_actions_free(&a);
}

/* Deliver messages, bring up links both ends created, tick, plan; until
 * nothing moves. */
static void settle(void)
{
  for (int round = 0; round < 2000; round++) {
    bool moved = false;
    while (qh < qt) {
      struct msg m = q[qh++];
      struct neg_actions a = { 0 };
      struct jb_error err;
      int rc = negotiate_on_signal(sn[m.to].neg, sn[m.from].id, m.type, m.payload,
                                   strlen(m.payload), now, &a, &err);
      if (rc)
        fail_msg("node %d rejected %s from %d: %s", m.to, m.type, m.from, err.msg);
      execute(&sn[m.to], &a);
      negotiate_actions_free(&a);
      free(m.payload);
      moved = true;
    }
    qh = qt = 0;
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++)
        if (sn[i].created[j] && sn[j].created[i] && !sn[i].up[j]) {
          struct neg_peer_info info;
          negotiate_peer_info(sn[i].neg, sn[j].id, now, &info);
          if (info.state != NEG_CONNECTING)
            continue;
          sn[i].up[j] = true;
          struct neg_actions a = { 0 };
          assert_int_equal(negotiate_on_link_state(sn[i].neg, sn[j].id, CTL_LINK_UP, now, &a), 0);
          execute(&sn[i], &a);
          negotiate_actions_free(&a);
          moved = true;
        }
    for (int i = 0; i < N; i++) {
      struct neg_actions a = { 0 };
      negotiate_tick(sn[i].neg, now, &a);
      moved |= a.n > 0;
      execute(&sn[i], &a);
      negotiate_actions_free(&a);
      plan(&sn[i]);
    }
    if (!moved && qh == qt)
      return;
    now += 100;
  }
  fail_msg("did not settle");
}

static bool both_up(int i, int j)
{
  return sn[i].up[j] && sn[j].up[i];
}

static int setup_n(int n, uint32_t b)
{
  N = n;
  budget = b;
  rejected_over_budget = 0;
  now = 10000;
  qh = qt = 0;
  const char *ids[MAXN];
  for (int i = 0; i < N; i++) {
    struct simnode *s = &sn[i];
    memset(s, 0, sizeof *s);
    s->idx = i;
    snprintf(s->id, sizeof s->id, "%02x%030x", (unsigned)((i * 97) % 256), (unsigned)i);
    s->rng.seed = 31 + (uint64_t)i;
    ids[i] = s->id;
  }
  for (int i = 0; i < N; i++) {
    struct simnode *s = &sn[i];
    struct topology_config tc;
    topology_config_defaults(&tc);
    tc.link_budget = budget;
    tc.rnd = pt_rand;
    tc.rnd_ctx = &s->rng;
    assert_int_equal(topology_create(&s->topo, &tc, s->id), 0);
    assert_int_equal(topology_set_members(s->topo, ids, N), 0);
    struct negotiate_config nc;
    negotiate_config_defaults(&nc);
    snprintf(nc.node_id, sizeof nc.node_id, "%s", s->id);
    snprintf(nc.overlay_id, sizeof nc.overlay_id, "grp");
    nc.mac[0] = 2;
    nc.mac[5] = (uint8_t)(i + 1);
    nc.ip4.s_addr = htonl(0x0afe0001u + (uint32_t)i);
    nc.rnd = pt_rand;
    nc.rnd_ctx = &s->rng;
    nc.accept = accept_cb;
    nc.accept_ctx = s;
    assert_int_equal(negotiate_create(&s->neg, &nc), 0);
  }
  return 0;
}

static int setup(void **state)
{
  return setup_n(6, 2);
}

static int setup_big(void **state)
{
  return setup_n(20, 6);
}

static int teardown(void **state)
{
  while (qh < qt)
    free(q[qh++].payload);
  for (int i = 0; i < N; i++) {
    negotiate_free(sn[i].neg);
    topology_free(sn[i].topo);
  }
  return 0;
}

static int degree(int i)
{
  int d = 0;
  for (int j = 0; j < N; j++)
    d += sn[i].up[j];
  return d;
}

static void test_budget2_all_pairs(void **state)
{
  /* 1. the ring: every node up with exactly its two neighbours */
  plan(&sn[0]);
  settle();
  for (int i = 0; i < N; i++)
    assert_int_equal(degree(i), 2);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      assert_int_equal(sn[i].up[j], sn[j].up[i]);

  /* 2. traffic between every pair that has no link opens one */
  int opened = 0;
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++)
      if (!both_up(i, j)) {
        assert_int_equal(topology_on_unknown_dest(sn[i].topo, sn[j].id, now), 1);
        plan(&sn[i]);
        settle();
        assert_true(both_up(i, j));
        opened++;
      }
  assert_int_equal(opened, N * (N - 1) / 2 - N);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      if (i != j)
        assert_true(both_up(i, j)); /* everyone reaches everyone directly */

  /* 3. the on-demand links carry nothing for 5 minutes: trimmed on both
   * sides, the ring stays */
  now += 300000;
  settle();
  for (int i = 0; i < N; i++) {
    assert_int_equal(degree(i), 2);
    for (int j = 0; j < N; j++)
      assert_int_equal(sn[i].up[j], sn[j].up[i]);
  }
  struct neg_counters c;
  for (int i = 0; i < N; i++) {
    negotiate_counters(sn[i].neg, &c);
    assert_int_equal(c.bad_msgs, 0);
  }
}

/* Both ends see traffic for each other at the same moment: both plan an
 * on-demand link, the requests cross, one link results. */
static void test_ondemand_glare(void **state)
{
  plan(&sn[0]);
  settle();
  int i = 0, j = -1;
  for (int k = 1; k < N && j < 0; k++)
    if (!both_up(0, k))
      j = k;
  struct neg_counters ci, cj;
  negotiate_counters(sn[i].neg, &ci);
  negotiate_counters(sn[j].neg, &cj);
  uint64_t glare0 = ci.glare + cj.glare;
  assert_int_equal(topology_on_unknown_dest(sn[i].topo, sn[j].id, now), 1);
  assert_int_equal(topology_on_unknown_dest(sn[j].topo, sn[i].id, now), 1);
  plan(&sn[i]);
  plan(&sn[j]);
  settle();
  assert_true(both_up(i, j));
  negotiate_counters(sn[i].neg, &ci);
  negotiate_counters(sn[j].neg, &cj);
  assert_int_equal(ci.glare + cj.glare - glare0, 2);
  assert_int_equal(ci.links_up + cj.links_up, 2 * 2 + 2); /* ring links + this one */
}

/* 20 nodes, budget 6: ring (2 per side) + 1 long-distance link each, with
 * inbound reserve 1; some long-distance requests are refused (over_budget)
 * and redrawn.  Everything settles, degrees stay within the budget, the
 * graph is connected. */
static void test_bigger_group(void **state)
{
  plan(&sn[0]);
  settle();
  bool seen[MAXN] = { true };
  int stack[MAXN], top = 0, count = 1;
  stack[top++] = 0;
  while (top) {
    int i = stack[--top];
    for (int j = 0; j < N; j++)
      if (sn[i].up[j] && !seen[j]) {
        seen[j] = true;
        count++;
        stack[top++] = j;
      }
  }
  assert_int_equal(count, N);
  assert_true(rejected_over_budget > 0); /* some long-distance links were redrawn */
  for (int i = 0; i < N; i++) {
    assert_true(degree(i) >= 4);
    assert_true(degree(i) <= (int)budget);
    for (int j = 0; j < N; j++)
      assert_int_equal(sn[i].up[j], sn[j].up[i]);
  }
  /* and it stays put: an hour later nothing has changed */
  bool before[MAXN][MAXN];
  for (int i = 0; i < N; i++)
    memcpy(before[i], sn[i].up, sizeof before[i]);
  now += 3600000;
  settle();
  for (int i = 0; i < N; i++)
    assert_memory_equal(before[i], sn[i].up, sizeof before[i]);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_budget2_all_pairs, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ondemand_glare, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bigger_group, setup_big, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
