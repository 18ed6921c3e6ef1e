/* routing: distance vector over the kept links.  Small cases (a line, a
 * member with forwarding off, poisoned reverse, hostile vectors), then a
 * simulation of 1,000 members: the links are what topology plans with the
 * default budget (each node's own ring and long-distance links, accepted
 * or refused by the far end's inbound reserve), vectors go round until
 * nothing changes.  Checked: convergence, every pair reachable, mean hops
 * below log2(N)^2 / k (Symphony's bound, k long links per node), no degree
 * over budget, no loop (every hop on the first-choice path is one hop
 * closer), the reverse-path check tincan applies passes at every hop of
 * every sampled path, a member with forwarding off carries nothing; then
 * 10 % of the members leave at once and the rest converge again on the
 * links that stayed, with the same checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "policy_test.h"
#include "routemsg.h"
#include "routing.h"
#include "topology.h"

static void id_of(int i, char out[NODEID_BUF])
{
  snprintf(out, NODEID_BUF, "%08x%024x", (unsigned)((unsigned)i * 2654435761u) ^ 0x5a5a5a5au,
           (unsigned)i);
}

/* ---- a small world: nodes, symmetric links, synchronous rounds ---------- */

struct sim {
  int n;
  char (*ids)[NODEID_BUF];
  const char **idp;
  struct routing **r;
  bool *gone;
  bool *nofwd;
  bool *dirty;                  /* got a vector since its last compute */
  int *deg;
  int **adj;                    /* neighbour lists */
  int *order;                   /* indices sorted by id */
};

static const struct sim *sort_sim;

static int cmp_idx(const void *a, const void *b)
{
  return strcmp(sort_sim->ids[*(const int *)a], sort_sim->ids[*(const int *)b]);
}

static void sim_init(struct sim *s, int n)
{
  memset(s, 0, sizeof *s);
  s->n = n;
  s->ids = calloc((size_t)n, sizeof *s->ids);
  s->idp = calloc((size_t)n, sizeof *s->idp);
  s->r = calloc((size_t)n, sizeof *s->r);
  s->gone = calloc((size_t)n, sizeof *s->gone);
  s->nofwd = calloc((size_t)n, sizeof *s->nofwd);
  s->dirty = calloc((size_t)n, sizeof *s->dirty);
  s->deg = calloc((size_t)n, sizeof *s->deg);
  s->adj = calloc((size_t)n, sizeof *s->adj);
  for (int i = 0; i < n; i++) {
    id_of(i, s->ids[i]);
    s->idp[i] = s->ids[i];
    s->adj[i] = calloc(64, sizeof **s->adj);
  }
  s->order = calloc((size_t)n, sizeof *s->order);
  for (int i = 0; i < n; i++)
    s->order[i] = i;
  sort_sim = s;
  qsort(s->order, (size_t)n, sizeof *s->order, cmp_idx);
  for (int i = 0; i < n; i++) {
    assert_int_equal(routing_create(&s->r[i], s->ids[i]), 0);
    assert_int_equal(routing_set_members(s->r[i], s->idp, (size_t)n), 0);
  }
}

static void sim_fini(struct sim *s)
{
  for (int i = 0; i < s->n; i++) {
    routing_free(s->r[i]);
    free(s->adj[i]);
  }
  free(s->ids), free(s->idp), free(s->r), free(s->gone), free(s->nofwd), free(s->deg);
  free(s->dirty);
  free(s->adj);
  free(s->order);
}

static bool linked(const struct sim *s, int a, int b)
{
  for (int k = 0; k < s->deg[a]; k++)
    if (s->adj[a][k] == b)
      return true;
  return false;
}

static void sim_link(struct sim *s, int a, int b)
{
  if (linked(s, a, b))
    return;
  assert_true(s->deg[a] < 64 && s->deg[b] < 64);
  s->adj[a][s->deg[a]++] = b;
  s->adj[b][s->deg[b]++] = a;
  assert_int_equal(routing_link_up(s->r[a], s->ids[b]), 0);
  assert_int_equal(routing_link_up(s->r[b], s->ids[a]), 0);
}

static void sim_unlink_all(struct sim *s, int a)
{
  for (int k = 0; k < s->deg[a]; k++) {
    int b = s->adj[a][k];
    routing_link_down(s->r[b], s->ids[a]);
    for (int q = 0; q < s->deg[b]; q++)
      if (s->adj[b][q] == a) {
        s->adj[b][q] = s->adj[b][--s->deg[b]];
        break;
      }
  }
  s->deg[a] = 0;
}

/* One round: every node that got a vector (or every node, on the first
 * round) recomputes; a node whose advertisement changed sends its vector
 * to each neighbour.  Returns how many nodes sent. */
static int sim_round(struct sim *s, bool all)
{
  bool *send = calloc((size_t)s->n, sizeof *send);
  int senders = 0;
  for (int i = 0; i < s->n; i++)
    if (!s->gone[i] && (all || s->dirty[i])) {
      int c = routing_compute(s->r[i]);
      assert_true(c >= 0);
      send[i] = all || c == 1;
      senders += send[i];
      s->dirty[i] = false;
    }
  for (int i = 0; i < s->n; i++) {
    if (!send[i])
      continue;
    for (int k = 0; k < s->deg[i]; k++) {
      int j = s->adj[i][k];
      struct routing_adv *v;
      int nv = routing_vector_for(s->r[i], s->ids[j], &v);
      assert_true(nv >= 1);
      assert_int_equal(routing_on_vector(s->r[j], s->ids[i], !s->nofwd[i], v, (size_t)nv), 0);
      s->dirty[j] = true;
      free(v);
    }
  }
  free(send);
  return senders;
}

static int sim_converge(struct sim *s)
{
  int rounds = 1;
  sim_round(s, true);
  while (sim_round(s, false) > 0) {
    rounds++;
    assert_true(rounds < 3 * ROUTING_INF);
  }
  return rounds;
}

static int index_of(const struct sim *s, const char *id)
{
  size_t lo = 0, hi = (size_t)s->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(s->ids[s->order[mid]], id);
    if (c == 0)
      return s->order[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* Follow first choices from a to b: the hop count, or -1 for a loop or a
 * dead end.  Every hop must be one closer; every hop must pass the
 * reverse-path check for a (the previous node is a or in a's via set). */
static int walk(const struct sim *s, int a, int b, int *rpf_fail)
{
  int at = a, prev = -1, hops = 0;
  uint8_t last = ROUTING_INF + 1;
  while (at != b) {
    long m = routing_member_index(s->r[at], s->ids[b]);
    if (m < 0)
      return -1;
    struct routing_route rt;
    routing_route(s->r[at], (size_t)m, &rt);
    if (rt.hops >= ROUTING_INF || rt.n_via == 0 || rt.hops >= last)
      return -1;
    last = rt.hops;
    if (prev >= 0 && prev != a) {
      long ms = routing_member_index(s->r[at], s->ids[a]);
      struct routing_route back;
      routing_route(s->r[at], (size_t)ms, &back);
      bool ok = false;
      for (uint32_t k = 0; k < back.n_via; k++)
        ok = ok || strcmp(back.via[k], s->ids[prev]) == 0;
      *rpf_fail += !ok;
    }
    if (at != a && s->nofwd[at])
      return -1; /* carried by a member that refused */
    prev = at;
    at = index_of(s, rt.via[0]);
    if (at < 0 || ++hops > ROUTING_INF)
      return -1;
  }
  return hops;
}

/* ---- small cases ----------------------------------------------------------- */

static void line_and_refuser(void **state)
{
  (void)state;
  struct sim s;
  sim_init(&s, 5);
  /* 0 - 1 - 2 - 3, and 4 hanging off 1 and 3 with forwarding off */
  sim_link(&s, 0, 1);
  sim_link(&s, 1, 2);
  sim_link(&s, 2, 3);
  sim_link(&s, 4, 1);
  sim_link(&s, 4, 3);
  s.nofwd[4] = true;
  routing_set_forwarding(s.r[4], false);
  int rounds = sim_converge(&s);
  assert_true(rounds <= 5);
  int rpf = 0;
  assert_int_equal(walk(&s, 0, 3, &rpf), 3); /* not 0-1-4-3 */
  assert_int_equal(walk(&s, 0, 4, &rpf), 2);
  assert_int_equal(walk(&s, 4, 2, &rpf), 2);
  assert_int_equal(rpf, 0);
  /* 4 advertises only itself */
  struct routing_adv *v;
  assert_int_equal(routing_vector_for(s.r[4], s.ids[1], &v), 1);
  assert_string_equal(v[0].id, s.ids[4]);
  assert_int_equal(v[0].hops, 0);
  free(v);
  /* poisoned reverse: 1 reaches 0 directly, so it tells 2 about 0 but
   * 0 nothing about itself-through-0 */
  int nv = routing_vector_for(s.r[2], s.ids[1], &v);
  for (int i = 0; i < nv; i++)
    assert_string_not_equal(v[i].id, s.ids[0]); /* 2 reaches 0 through 1 */
  free(v);
  /* the 2-3 link breaks: 3 is reached through 4?  No, 4 refuses: 3 is cut
   * off from 0, 1, 2, and says so within the hop limit */
  routing_link_down(s.r[2], s.ids[3]);
  routing_link_down(s.r[3], s.ids[2]);
  s.adj[2][--s.deg[2]] = 0;
  for (int q = 0; q < s.deg[3]; q++)
    if (s.adj[3][q] == 2)
      s.adj[3][q] = s.adj[3][--s.deg[3]];
  sim_converge(&s);
  assert_int_equal(walk(&s, 0, 3, &rpf), -1);
  /* now 4 forwards: 0-1-4-3 */
  s.nofwd[4] = false;
  routing_set_forwarding(s.r[4], true);
  sim_round(&s, true);
  sim_converge(&s);
  assert_int_equal(walk(&s, 0, 3, &rpf), 3);
  assert_int_equal(rpf, 0);
  sim_fini(&s);
}

static void hostile_vectors(void **state)
{
  (void)state;
  struct sim s;
  sim_init(&s, 3);
  sim_link(&s, 0, 1);
  struct routing_adv v[3];
  memset(v, 0, sizeof v);
  snprintf(v[0].id, NODEID_BUF, "%s", s.ids[1]);
  snprintf(v[1].id, NODEID_BUF, "%s", s.ids[2]);
  v[1].hops = 1;
  /* from a non-neighbour */
  assert_int_equal(routing_on_vector(s.r[0], s.ids[2], true, v, 2), IPOP_ENOENT);
  /* hop count at the limit, someone else at 0 hops, a bad id, a duplicate */
  v[1].hops = ROUTING_INF;
  assert_int_equal(routing_on_vector(s.r[0], s.ids[1], true, v, 2), IPOP_EINVAL);
  v[1].hops = 0;
  assert_int_equal(routing_on_vector(s.r[0], s.ids[1], true, v, 2), IPOP_EINVAL);
  v[1].hops = 1;
  v[1].id[0] = 'X';
  assert_int_equal(routing_on_vector(s.r[0], s.ids[1], true, v, 2), IPOP_EINVAL);
  snprintf(v[1].id, NODEID_BUF, "%s", s.ids[2]);
  v[2] = v[1];
  assert_int_equal(routing_on_vector(s.r[0], s.ids[1], true, v, 3), IPOP_EINVAL);
  /* none of that changed anything: 2 is unreachable */
  routing_compute(s.r[0]);
  struct routing_route rt;
  routing_route(s.r[0], (size_t)routing_member_index(s.r[0], s.ids[2]), &rt);
  assert_int_equal(rt.hops, ROUTING_INF);
  /* a non-member and our own id are skipped, not errors */
  snprintf(v[2].id, NODEID_BUF, "ffffffffffffffffffffffffffffffff");
  assert_int_equal(routing_on_vector(s.r[0], s.ids[1], true, v, 3), 0);
  routing_compute(s.r[0]);
  routing_route(s.r[0], (size_t)routing_member_index(s.r[0], s.ids[2]), &rt);
  assert_int_equal(rt.hops, 2);
  assert_int_equal(routing_link_up(s.r[0], "ffffffffffffffffffffffffffffffff"), IPOP_ENOENT);
  sim_fini(&s);
}

/* ---- the routes signal ------------------------------------------------------ */

static int decode(const char *json, struct jb_error *err)
{
  static struct routemsg m;
  memset(err, 0, sizeof *err);
  return routemsg_decode(json, strlen(json), &m, err);
}

static void routes_signal(void **state)
{
  (void)state;
  static struct routemsg m, back;
  memset(&m, 0, sizeof m);
  char a[NODEID_BUF], b[NODEID_BUF], c[NODEID_BUF];
  id_of(1, a), id_of(2, b), id_of(3, c);
  snprintf(m.from, sizeof m.from, "%s", a);
  snprintf(m.to, sizeof m.to, "%s", b);
  snprintf(m.overlay_id, sizeof m.overlay_id, "lab");
  m.forwarding = true;
  snprintf(m.routes[0].id, NODEID_BUF, "%s", a);
  snprintf(m.routes[1].id, NODEID_BUF, "%s", c);
  m.routes[1].hops = 3;
  m.n_routes = 2;
  char *json;
  struct jb_error err = { 0 };
  assert_int_equal(routemsg_encode(&m, &json, &err), 0);
  assert_int_equal(routemsg_decode(json, strlen(json), &back, &err), 0);
  assert_int_equal(back.n_routes, 2);
  assert_int_equal(back.routes[1].hops, 3);
  assert_true(back.forwarding);
  free(json);

  char buf[1024];
#define HEAD "{\"v\":1,\"from\":\"%s\",\"to\":\"%s\",\"overlay_id\":\"lab\",\"forwarding\":true,"
  /* malformed, truncated, not an object */
  assert_int_equal(decode("{\"v\":1,", &err), IPOP_EPARSE);
  assert_int_equal(decode("[]", &err), IPOP_EFIELD);
  assert_int_equal(decode("", &err), IPOP_EPARSE);
  /* an unknown key, a wrong version */
  snprintf(buf, sizeof buf, HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0}],\"x\":1}", a, b, a);
  assert_int_equal(decode(buf, &err), IPOP_EUNKNOWN);
  snprintf(buf, sizeof buf,
           "{\"v\":2,\"from\":\"%s\",\"to\":\"%s\",\"overlay_id\":\"lab\",\"forwarding\":true,"
           "\"routes\":[{\"id\":\"%s\",\"hops\":0}]}", a, b, a);
  assert_int_not_equal(decode(buf, &err), 0);
  /* the sender not first, or claiming 0 hops for another node */
  snprintf(buf, sizeof buf, HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":1}]}", a, b, c);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
  assert_non_null(strstr(err.msg, "routes[0]"));
  snprintf(buf, sizeof buf,
           HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0},{\"id\":\"%s\",\"hops\":0}]}", a, b, a, c);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
  assert_non_null(strstr(err.msg, "routes[1]"));
  /* hop count 16 (unreachable is left out, never sent), a bad id, a
   * duplicate, to = from */
  snprintf(buf, sizeof buf,
           HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0},{\"id\":\"%s\",\"hops\":16}]}", a, b, a, c);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
  snprintf(buf, sizeof buf,
           HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0},{\"id\":\"NOTHEX\",\"hops\":2}]}", a, b, a);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
  snprintf(buf, sizeof buf,
           HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0},{\"id\":\"%s\",\"hops\":2},"
           "{\"id\":\"%s\",\"hops\":3}]}", a, b, a, c, c);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
  assert_non_null(strstr(err.msg, "twice"));
  snprintf(buf, sizeof buf, HEAD "\"routes\":[{\"id\":\"%s\",\"hops\":0}]}", a, a, a);
  assert_int_equal(decode(buf, &err), IPOP_EFIELD);
#undef HEAD
  /* oversized: more entries than ROUTEMSG_MAX, more bytes than a signal,
   * nested too deep */
  size_t cap = 64 * 1024;
  char *big = malloc(cap);
  size_t n = (size_t)snprintf(big, cap, "{\"v\":1,\"from\":\"%s\",\"to\":\"%s\",\"overlay_id\":\"lab\","
                              "\"forwarding\":true,\"routes\":[{\"id\":\"%s\",\"hops\":0}", a, b, a);
  for (int i = 0; i < ROUTEMSG_MAX; i++) {
    char x[NODEID_BUF];
    id_of(100 + i, x);
    n += (size_t)snprintf(big + n, cap - n, ",{\"id\":\"%s\",\"hops\":1}", x);
  }
  snprintf(big + n, cap - n, "]}");
  assert_int_equal(decode(big, &err), IPOP_ETOOBIG);
  memset(big, '[', 100);
  big[100] = '\0';
  assert_int_equal(decode(big, &err), IPOP_ETOOBIG);
  free(big);
  /* encoding more than ROUTEMSG_MAX keeps the first ROUTEMSG_MAX */
  for (uint32_t i = 1; i < ROUTEMSG_MAX; i++) {
    id_of(1000 + (int)i, m.routes[i].id);
    m.routes[i].hops = 2;
  }
  m.n_routes = ROUTEMSG_MAX + 5;
  assert_int_equal(routemsg_encode(&m, &json, &err), 0);
  assert_int_equal(routemsg_decode(json, strlen(json), &back, &err), 0);
  assert_int_equal(back.n_routes, ROUTEMSG_MAX);
  free(json);
}

/* ---- 1,000 members ---------------------------------------------------------- */

enum { SIM_N = 1000, SIM_SAMPLE = 5000 };

/* The links topology plans, with the far end's consent (inbound reserve);
 * refused requests are redrawn (topology_on_rejected) for a few rounds. */
static void plan_links(struct sim *s, struct topology **t, uint32_t budget)
{
  for (int round = 0; round < 8; round++) {
    int refused = 0;
    for (int i = 0; i < s->n; i++) {
      if (s->gone[i])
        continue;
      struct topology_plan p;
      assert_int_equal(topology_plan(t[i], 0, NULL, 0, &p), 0);
      for (size_t k = 0; k < p.n_desired; k++) {
        int j = index_of(s, p.desired[k].peer_id);
        assert_true(j >= 0 && !s->gone[j]);
        if (linked(s, i, j))
          continue;
        /* ring links are wanted by both ends; others need consent */
        if (topology_on_inbound(t[j], s->ids[i], false, 0) == 0)
          sim_link(s, i, j);
        else {
          topology_on_rejected(t[i], s->ids[j]);
          refused++;
        }
      }
      topology_plan_free(&p);
    }
    if (!refused)
      break;
  }
  for (int i = 0; i < s->n; i++)
    assert_true((uint32_t)s->deg[i] <= budget);
}

static void check_paths(struct sim *s, struct pt_rng *rng, double *mean, int *max, int *rpf)
{
  long sum = 0, cnt = 0;
  *max = 0;
  *rpf = 0;
  for (int q = 0; q < SIM_SAMPLE; q++) {
    int a = (int)(policy_rand_u32(pt_rand, rng) % (uint32_t)s->n);
    int b = (int)(policy_rand_u32(pt_rand, rng) % (uint32_t)s->n);
    if (a == b || s->gone[a] || s->gone[b])
      continue;
    int h = walk(s, a, b, rpf);
    assert_true(h > 0); /* reachable, loop-free, never through a refuser */
    sum += h;
    cnt++;
    if (h > *max)
      *max = h;
  }
  *mean = (double)sum / (double)cnt;
}

static void thousand_members(void **state)
{
  (void)state;
  struct sim s;
  sim_init(&s, SIM_N);
  struct topology **t = calloc(SIM_N, sizeof *t);
  struct pt_rng *rng = calloc(SIM_N, sizeof *rng);
  struct topology_config cfg;
  topology_config_defaults(&cfg);
  uint32_t ring, longl;
  bool mesh;
  topology_shape(&cfg, SIM_N, &ring, &longl, &mesh);
  for (int i = 0; i < SIM_N; i++) {
    rng[i].seed = 7000 + (uint64_t)i;
    cfg.rnd = pt_rand;
    cfg.rnd_ctx = &rng[i];
    assert_int_equal(topology_create(&t[i], &cfg, s.ids[i]), 0);
    assert_int_equal(topology_set_members(t[i], s.idp, SIM_N), 0);
  }
  plan_links(&s, t, cfg.link_budget);
  /* 5 % refuse to forward */
  for (int i = 0; i < SIM_N; i += 20) {
    s.nofwd[i] = true;
    routing_set_forwarding(s.r[i], false);
  }
  int rounds = sim_converge(&s);
  struct pt_rng walk_rng = { 99, 0 };
  double mean;
  int max, rpf;
  check_paths(&s, &walk_rng, &mean, &max, &rpf);
  double bound = log2(SIM_N) * log2(SIM_N) / longl;
  int dmin = 1 << 30, dmax = 0;
  for (int i = 0; i < SIM_N; i++) {
    dmin = s.deg[i] < dmin ? s.deg[i] : dmin;
    dmax = s.deg[i] > dmax ? s.deg[i] : dmax;
  }
  printf("sim: %d members, budget %u (ring %u/side, %u long): degree %d..%d, converged in %d "
         "rounds; %d sampled pairs: mean %.2f hops, max %d (log2(N)^2/k = %.1f); "
         "reverse-path misses %d\n",
         SIM_N, cfg.link_budget, ring, longl, dmin, dmax, rounds, SIM_SAMPLE, mean, max, bound,
         rpf);
  assert_true(rounds <= ROUTING_INF);
  assert_true(mean <= bound);
  assert_int_equal(rpf, 0);

  /* 10 % leave at once: their neighbours lose the links, everybody gets
   * the new member set, topology repairs the ring, vectors go round. */
  for (int i = 3; i < SIM_N; i += 10) {
    s.gone[i] = true;
    sim_unlink_all(&s, i);
  }
  const char **left = calloc(SIM_N, sizeof *left);
  size_t nl = 0;
  for (int i = 0; i < SIM_N; i++)
    if (!s.gone[i])
      left[nl++] = s.ids[i];
  for (int i = 0; i < SIM_N; i++)
    if (!s.gone[i]) {
      assert_int_equal(topology_set_members(t[i], left, nl), 0);
      assert_int_equal(routing_set_members(s.r[i], left, nl), 0);
    }
  /* Without new links (before topology repairs the ring): the routes go
   * around the holes. */
  int rounds2 = sim_converge(&s);
  check_paths(&s, &walk_rng, &mean, &max, &rpf);
  int dmax2 = 0;
  for (int i = 0; i < SIM_N; i++)
    dmax2 = s.deg[i] > dmax2 ? s.deg[i] : dmax2;
  printf("sim: %zu left after 10 %% left at once: converged again in %d rounds on the links "
         "that stayed (degree <= %d); %d sampled pairs all reachable: mean %.2f hops, max %d, "
         "reverse-path misses %d\n",
         nl, rounds2, dmax2, SIM_SAMPLE, mean, max, rpf);
  assert_true(rounds2 <= ROUTING_INF);
  assert_true(mean <= bound);
  assert_int_equal(rpf, 0);
  for (int i = 0; i < SIM_N; i++)
    topology_free(t[i]);
  free(t), free(rng), free(left);
  sim_fini(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(line_and_refuser),
    cmocka_unit_test(hostile_vectors),
    cmocka_unit_test(routes_signal),
    cmocka_unit_test(thousand_members),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
