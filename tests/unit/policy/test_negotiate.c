/* negotiate: two state machines talking to each other in-process through a
 * message queue, with a fake tincan answering candidate queries.  Happy
 * path, timeouts and the retry schedule, simultaneous requests, rejects,
 * link failures, restarts, hostile peers. */
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

#define ID_A "1111111111111111aaaaaaaaaaaaaaaa" /* the smaller id */
#define ID_B "2222222222222222bbbbbbbbbbbbbbbb"
#define ID_C "3333333333333333cccccccccccccccc"

struct node {
  const char *name;
  char id[NODEID_BUF];
  struct negotiate *neg;
  struct pt_rng rng;
  uint8_t const_byte;
  bool hold_queries;          /* do not answer query_candidates yet */
  char held_query[NODEID_BUF];
  /* what the node's caller was asked to do */
  unsigned n_send, n_query, n_create, n_remove, n_up, n_giveup, n_rejected;
  int last_reject_reason;
  unsigned sent[3];           /* per sigmsg type */
  struct ctl_create_link last_create;
  uint8_t last_peer_mac[6];
  struct in_addr last_peer_ip4;
  int last_giveup_err;
  char last_giveup_why[128];
  char last_sent_payload[16384];
  char last_sent_type[32];
};

struct qmsg {
  struct node *to;
  const char *from_id;
  const char *type;
  char *payload;
};

static struct qmsg queue[256];
static size_t q_head, q_tail;
static struct qmsg held[16];  /* messages verify held (NEG_HELD), in order */
static size_t n_held;
static bool drop_all;
static uint64_t now;

static void run(struct node *self, struct neg_actions *a);

static struct node *nodes[3];

static struct node *find_node(const char *id)
{
  for (int i = 0; i < 3; i++)
    if (nodes[i] && strcmp(nodes[i]->id, id) == 0)
      return nodes[i];
  return NULL;
}

static void fake_candidates(struct node *self, const char *peer, struct ctl_candidates *c)
{
  memset(c, 0, sizeof *c);
  snprintf(c->overlay_id, sizeof c->overlay_id, "lab");
  snprintf(c->peer_id, sizeof c->peer_id, "%s", peer);
  snprintf(c->node_id, sizeof c->node_id, "%s", self->id);
  char *p = c->fingerprint + sprintf(c->fingerprint, "sha-256 ");
  for (int i = 0; i < 32; i++)
    p += sprintf(p, "%c%c%s", self->id[20], self->id[20], i < 31 ? ":" : "");
  snprintf(c->ufrag, sizeof c->ufrag, "uf%.6s", self->id + 16);
  snprintf(c->pwd, sizeof c->pwd, "pw%.26s", self->id + 6);
  snprintf(c->candidates[0], sizeof c->candidates[0],
           "candidate:1 1 udp 2130706431 192.0.2.%c 4000%c typ host", self->id[0],
           self->id[0]);
  c->n_candidates = 1;
}

static void answer_query(struct node *self, const char *peer)
{
  struct ctl_candidates c;
  fake_candidates(self, peer, &c);
  struct neg_actions a = { 0 };
  negotiate_on_candidates(self->neg, &c, now, &a);
  run(self, &a);
  negotiate_actions_free(&a);
}

static void run(struct node *self, struct neg_actions *a)
{
  for (size_t i = 0; i < a->n; i++) {
    struct neg_action *x = &a->v[i];
    switch (x->type) {
    case NEG_ACT_SEND: {
      self->n_send++;
      for (int t = 0; t < 3; t++)
        if (strcmp(x->msg_type, sigmsg_type_names[t]) == 0)
          self->sent[t]++;
      snprintf(self->last_sent_payload, sizeof self->last_sent_payload, "%s", x->payload);
      snprintf(self->last_sent_type, sizeof self->last_sent_type, "%s", x->msg_type);
      struct node *to = find_node(x->peer_id);
      if (!drop_all && to) {
        assert_true(q_tail < 256);
        queue[q_tail++] = (struct qmsg){ to, self->id, x->msg_type, strdup(x->payload) };
      }
      break;
    }
    case NEG_ACT_QUERY_CANDIDATES:
      self->n_query++;
      if (self->hold_queries)
        snprintf(self->held_query, sizeof self->held_query, "%s", x->peer_id);
      else
        answer_query(self, x->peer_id);
      break;
    case NEG_ACT_CREATE_LINK:
      self->n_create++;
      self->last_create = *x->create;
      memcpy(self->last_peer_mac, x->peer_mac, 6);
      self->last_peer_ip4 = x->peer_ip4;
      break;
    case NEG_ACT_REMOVE_LINK:
      self->n_remove++;
      break;
    case NEG_ACT_LINK_UP:
      self->n_up++;
      break;
    case NEG_ACT_REJECTED:
      self->n_rejected++;
      self->last_reject_reason = x->reason;
      break;
    case NEG_ACT_GIVE_UP:
      self->n_giveup++;
      self->last_giveup_err = x->err;
      snprintf(self->last_giveup_why, sizeof self->last_giveup_why, "%s", x->why);
      break;
    }
  }
}

/* Deliver queued messages (and whatever they cause) until quiet. */
static void pump(void)
{
  while (q_head < q_tail) {
    struct qmsg m = queue[q_head++];
    struct neg_actions a = { 0 };
    struct jb_error err;
    int rc = negotiate_on_signal(m.to->neg, m.from_id, m.type, m.payload,
                                 strlen(m.payload), now, &a, &err);
    if (rc == NEG_HELD) {
      assert_int_equal(a.n, 0); /* held: nothing done */
      assert_true(n_held < sizeof held / sizeof held[0]);
      held[n_held++] = m;
      negotiate_actions_free(&a);
      continue;
    }
    if (rc)
      fail_msg("%s rejected %s: %s", m.to->name, m.type, err.msg);
    run(m.to, &a);
    negotiate_actions_free(&a);
    free(m.payload);
  }
  q_head = q_tail = 0;
}

/* Hand the held messages in again (as the controller does once the
 * sender's published identity has been read). */
static void release_held(void)
{
  for (size_t i = 0; i < n_held; i++)
    queue[q_tail++] = held[i];
  n_held = 0;
  pump();
}

static void drop_queue(void)
{
  while (q_head < q_tail)
    free(queue[q_head++].payload);
  q_head = q_tail = 0;
}

static void node_init(struct node *n, const char *name, const char *id, int slot,
                      void (*tweak)(struct negotiate_config *))
{
  memset(n, 0, sizeof *n);
  n->name = name;
  snprintf(n->id, sizeof n->id, "%s", id);
  n->rng.seed = (uint64_t)slot + 7;
  struct negotiate_config cfg;
  negotiate_config_defaults(&cfg);
  snprintf(cfg.node_id, sizeof cfg.node_id, "%s", id);
  snprintf(cfg.overlay_id, sizeof cfg.overlay_id, "lab");
  uint8_t mac[6] = { 0x02, 0, 0, 0, 0, (uint8_t)(slot + 1) };
  memcpy(cfg.mac, mac, 6);
  cfg.ip4.s_addr = htonl(0x0afe0001u + (uint32_t)slot);
  cfg.rnd = pt_rand;
  cfg.rnd_ctx = &n->rng;
  if (tweak)
    tweak(&cfg);
  assert_int_equal(negotiate_create(&n->neg, &cfg), 0);
  nodes[slot] = n;
}

static void node_fini(struct node *n)
{
  negotiate_free(n->neg);
  for (int i = 0; i < 3; i++)
    if (nodes[i] == n)
      nodes[i] = NULL;
}

static void do_connect(struct node *n, const char *peer)
{
  struct neg_actions a = { 0 };
  assert_int_equal(negotiate_connect(n->neg, peer, false, now, &a), 0);
  run(n, &a);
  negotiate_actions_free(&a);
}

static void do_tick(struct node *n)
{
  struct neg_actions a = { 0 };
  negotiate_tick(n->neg, now, &a);
  run(n, &a);
  negotiate_actions_free(&a);
}

static void do_link_state(struct node *n, const char *peer, int state)
{
  struct neg_actions a = { 0 };
  negotiate_on_link_state(n->neg, peer, state, now, &a);
  run(n, &a);
  negotiate_actions_free(&a);
}

static enum neg_state state_of(struct node *n, const char *peer)
{
  struct neg_peer_info info;
  if (negotiate_peer_info(n->neg, peer, now, &info))
    return (enum neg_state)-1;
  return info.state;
}

static int setup(void **state)
{
  now = 1000;
  drop_all = false;
  q_head = q_tail = 0;
  return 0;
}

static int teardown(void **state)
{
  drop_queue();
  return 0;
}

/* The link parameters each side handed to tincan are the other side's. */
static void assert_linked(struct node *x, struct node *y)
{
  struct ctl_candidates cy;
  fake_candidates(y, x->id, &cy);
  assert_string_equal(x->last_create.peer_id, y->id);
  assert_string_equal(x->last_create.overlay_id, "lab");
  assert_string_equal(x->last_create.peer_fingerprint, cy.fingerprint);
  assert_string_equal(x->last_create.peer_ufrag, cy.ufrag);
  assert_string_equal(x->last_create.peer_pwd, cy.pwd);
  assert_int_equal(x->last_create.n_peer_candidates, 1);
  assert_string_equal(x->last_create.peer_candidates[0], cy.candidates[0]);
  assert_int_equal(x->last_create.role, CTL_ROLE_AUTO);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_happy_path(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);

  do_connect(&a, ID_B);
  assert_int_equal(a.n_query, 1);
  assert_int_equal(a.sent[SIGMSG_LINK_REQUEST], 1);
  assert_int_equal(state_of(&a, ID_B), NEG_REQUESTING);
  pump();
  assert_int_equal(b.n_query, 1);
  assert_int_equal(b.n_create, 1);
  assert_int_equal(b.sent[SIGMSG_LINK_RESPONSE], 1);
  assert_int_equal(a.n_create, 1);
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  assert_int_equal(state_of(&b, ID_A), NEG_CONNECTING);
  assert_linked(&a, &b);
  assert_linked(&b, &a);
  assert_int_equal(a.last_peer_mac[5], 2); /* B's MAC and address */
  assert_int_equal(ntohl(a.last_peer_ip4.s_addr), 0x0afe0002u);
  assert_int_equal(ntohl(b.last_peer_ip4.s_addr), 0x0afe0001u);

  /* both request ids agree */
  struct neg_peer_info ia, ib;
  negotiate_peer_info(a.neg, ID_B, now, &ia);
  negotiate_peer_info(b.neg, ID_A, now, &ib);
  assert_string_equal(ia.request_id, ib.request_id);
  assert_true(ia.initiator);
  assert_false(ib.initiator);
  assert_true(ia.wanted);
  assert_false(ib.wanted);

  now += 3000;
  do_link_state(&a, ID_B, CTL_LINK_UP);
  do_link_state(&b, ID_A, CTL_LINK_UP);
  assert_int_equal(a.n_up, 1);
  assert_int_equal(b.n_up, 1);
  assert_int_equal(state_of(&a, ID_B), NEG_UP);
  assert_int_equal(negotiate_next_deadline(a.neg), UINT64_MAX);
  /* connecting again while up does nothing */
  do_connect(&a, ID_B);
  assert_int_equal(a.n_query, 1);
  /* a second UP is out of state */
  struct neg_actions x = { 0 };
  assert_int_equal(negotiate_on_link_state(a.neg, ID_B, CTL_LINK_UP, now, &x), IPOP_ESTATE);
  assert_int_equal(negotiate_on_link_state(a.neg, ID_C, CTL_LINK_UP, now, &x), IPOP_ENOENT);
  assert_int_equal(negotiate_on_link_state(a.neg, ID_B, CTL_LINK_CONNECTING, now, &x), 0);
  assert_int_equal(x.n, 0);
  negotiate_actions_free(&x);

  char cur[4][NODEID_BUF];
  assert_int_equal(negotiate_current(a.neg, cur, 4), 1);
  assert_string_equal(cur[0], ID_B);
  assert_int_equal(negotiate_current(b.neg, cur, 4), 1); /* B has the link, unwanted */
  assert_string_equal(cur[0], ID_A);
  assert_int_equal(negotiate_current(b.neg, NULL, 0), 1);

  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.links_up, 1);
  assert_int_equal(c.bad_msgs, 0);
  /* the metrics' started/failed/refused (docs/metrics.md) */
  assert_int_equal(c.started, 1);
  assert_int_equal(c.failed, 0);
  assert_int_equal(c.refused_by_peer + c.refused_by_us, 0);
  negotiate_counters(b.neg, &c);
  assert_int_equal(c.started, 0); /* B answered, began nothing */
  node_fini(&a);
  node_fini(&b);
}

static void three_attempts(struct negotiate_config *cfg)
{
  cfg->max_attempts = 3;
  cfg->rnd = pt_rand_const; /* jitter 0: exact schedule */
  cfg->rnd_ctx = NULL;
}

static void test_timeout_retry_schedule(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, three_attempts);
  node_init(&b, "B", ID_B, 1, NULL);
  drop_all = true; /* B never hears anything */

  uint64_t t0 = now;
  do_connect(&a, ID_B);
  assert_int_equal(negotiate_next_deadline(a.neg), t0 + 60000);
  now = t0 + 59999;
  do_tick(&a);
  assert_int_equal(state_of(&a, ID_B), NEG_REQUESTING);

  /* attempt 1 times out at 60 s: cancel, remove, back off 2 s */
  now = t0 + 60000;
  do_tick(&a);
  assert_int_equal(a.sent[SIGMSG_LINK_CANCEL], 1);
  assert_int_equal(a.n_remove, 1);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  assert_int_equal(negotiate_next_deadline(a.neg), now + 2000);
  now += 2000;
  do_tick(&a);
  assert_int_equal(a.n_query, 2);
  assert_int_equal(a.sent[SIGMSG_LINK_REQUEST], 2);

  /* attempt 2 times out: back off 4 s */
  now += 60000;
  do_tick(&a);
  assert_int_equal(negotiate_next_deadline(a.neg), now + 4000);
  struct neg_peer_info info;
  negotiate_peer_info(a.neg, ID_B, now, &info);
  assert_int_equal(info.attempts, 2);
  now += 4000;
  do_tick(&a);
  assert_int_equal(a.n_query, 3);

  /* attempt 3 times out: give up */
  now += 60000;
  do_tick(&a);
  assert_int_equal(a.n_giveup, 1);
  assert_int_equal(a.last_giveup_err, IPOP_ETIMEDOUT);
  assert_non_null(strstr(a.last_giveup_why, "no response"));
  assert_int_equal(state_of(&a, ID_B), NEG_GIVEN_UP);
  assert_int_equal(negotiate_next_deadline(a.neg), UINT64_MAX);
  assert_int_equal(negotiate_current(a.neg, NULL, 0), 1); /* still wanted */
  assert_int_equal(a.n_remove, 3);
  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.timeouts, 3);

  /* a later connect starts over */
  drop_all = false;
  do_connect(&a, ID_B);
  assert_int_equal(a.n_query, 4);
  pump();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  node_fini(&a);
  node_fini(&b);
}

static void test_backoff_formula(void **state)
{
  struct negotiate_config cfg;
  negotiate_config_defaults(&cfg);
  assert_int_equal(negotiate_backoff_ms(&cfg, 1, 0), 2000);
  assert_int_equal(negotiate_backoff_ms(&cfg, 2, 0), 4000);
  assert_int_equal(negotiate_backoff_ms(&cfg, 8, 0), 256000);
  assert_int_equal(negotiate_backoff_ms(&cfg, 9, 0), 300000);
  assert_int_equal(negotiate_backoff_ms(&cfg, 1000, 0), 300000);
  /* jitter: up to +25 % */
  assert_int_equal(negotiate_backoff_ms(&cfg, 1, 500), 2500);
  assert_int_equal(negotiate_backoff_ms(&cfg, 1, 501), 2000);
  struct pt_rng r = { .seed = 99 };
  for (uint32_t att = 1; att < 12; att++) {
    uint64_t base = negotiate_backoff_ms(&cfg, att, 0);
    for (int i = 0; i < 50; i++) {
      uint64_t d = negotiate_backoff_ms(&cfg, att, policy_rand_u32(pt_rand, &r));
      assert_true(d >= base && d <= base + base / 4);
    }
  }
  cfg.jitter_pct = 0;
  assert_int_equal(negotiate_backoff_ms(&cfg, 3, 12345), 8000);
}

/* Both sides request at once; requests cross.  order: which is delivered first. */
static void glare(const char *id_x, const char *id_y, bool x_first, bool hold_x)
{
  struct node x, y;
  node_init(&x, "X", id_x, 0, NULL);
  node_init(&y, "Y", id_y, 1, NULL);
  x.hold_queries = hold_x;
  do_connect(&x, id_y);
  do_connect(&y, id_x);
  if (!x_first) { /* deliver Y's request first */
    struct qmsg tmp = queue[0];
    if (q_tail == 2) {
      queue[0] = queue[1];
      queue[1] = tmp;
    }
  }
  pump();
  if (hold_x) {
    /* X was still waiting for its candidates when Y's request came */
    x.hold_queries = false;
    answer_query(&x, id_y);
    pump();
  }
  struct node *win = strcmp(id_x, id_y) < 0 ? &x : &y, *lose = win == &x ? &y : &x;
  assert_int_equal(x.n_create, 1);
  assert_int_equal(y.n_create, 1);
  assert_linked(&x, &y);
  assert_linked(&y, &x);
  assert_int_equal(state_of(&x, id_y), NEG_CONNECTING);
  assert_int_equal(state_of(&y, id_x), NEG_CONNECTING);
  struct neg_peer_info iw, il;
  negotiate_peer_info(win->neg, lose->id, now, &iw);
  negotiate_peer_info(lose->neg, win->id, now, &il);
  assert_string_equal(iw.request_id, il.request_id); /* the winner's request */
  assert_true(iw.initiator);
  assert_false(il.initiator);
  assert_true(il.wanted); /* the loser still wants the link, and has it */
  /* the winner sends its request again when the loser's reaches it (the
   * loser answers the copy too) */
  assert_int_equal(win->sent[SIGMSG_LINK_REQUEST], hold_x ? 1 : 2);
  assert_int_equal(lose->sent[SIGMSG_LINK_RESPONSE], hold_x ? 1 : 2);
  assert_int_equal(win->sent[SIGMSG_LINK_RESPONSE], 0);
  assert_int_equal(x.n_remove + y.n_remove, 0);
  struct neg_counters cw, cl;
  negotiate_counters(win->neg, &cw);
  negotiate_counters(lose->neg, &cl);
  assert_int_equal(cw.glare + cl.glare, hold_x && win == &y ? 1 : 2);
  assert_int_equal(cw.bad_msgs + cl.bad_msgs, 0);

  /* and the link comes up on both */
  do_link_state(&x, id_y, CTL_LINK_UP);
  do_link_state(&y, id_x, CTL_LINK_UP);
  assert_int_equal(state_of(&x, id_y), NEG_UP);
  assert_int_equal(state_of(&y, id_x), NEG_UP);
  node_fini(&x);
  node_fini(&y);
}

static void test_glare(void **state)
{
  glare(ID_A, ID_B, true, false);
  glare(ID_A, ID_B, false, false);
  glare(ID_B, ID_A, true, false);
  glare(ID_B, ID_A, false, false);
  /* one side still querying tincan when the other's request arrives */
  glare(ID_A, ID_B, true, true);
  glare(ID_B, ID_A, true, true);
}

static int reject_all(void *ctx, const char *peer, bool ondemand)
{
  (void)peer;
  (void)ondemand;
  return *(int *)ctx;
}

static int reject_reason;
static void b_rejects(struct negotiate_config *cfg)
{
  cfg->accept = reject_all;
  cfg->accept_ctx = &reject_reason;
}

static void test_reject(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, b_rejects);
  reject_reason = SIGMSG_R_OVER_BUDGET + 1;
  do_connect(&a, ID_B);
  pump();
  assert_int_equal(b.n_query, 0);
  assert_int_equal(b.n_create, 0);
  assert_int_equal(a.n_create, 0);
  assert_non_null(strstr(b.last_sent_payload, "over_budget"));
  assert_int_equal(a.n_rejected, 1);
  assert_int_equal(a.last_reject_reason, SIGMSG_R_OVER_BUDGET);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  assert_int_equal(a.n_remove, 1); /* the ICE agent of the query */
  assert_int_equal(state_of(&b, ID_A), (enum neg_state)-1); /* B keeps no record */
  assert_int_equal(negotiate_current(b.neg, NULL, 0), 0);
  struct neg_counters ca, cb;
  negotiate_counters(a.neg, &ca);
  negotiate_counters(b.neg, &cb);
  assert_int_equal(ca.started, 1);
  assert_int_equal(ca.failed, 1);
  assert_int_equal(ca.refused_by_peer, 1);
  assert_int_equal(cb.refused_by_us, 1);

  /* B changes its mind; A's retry succeeds */
  reject_reason = 0;
  now = negotiate_next_deadline(a.neg);
  do_tick(&a);
  pump();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  do_link_state(&a, ID_B, CTL_LINK_UP);
  struct neg_peer_info info;
  negotiate_peer_info(a.neg, ID_B, now, &info);
  assert_int_equal(info.attempts, 0);
  negotiate_counters(a.neg, &ca);
  assert_int_equal(ca.started, 2);
  assert_int_equal(ca.failed, 1);
  node_fini(&a);
  node_fini(&b);
}

static void up_pair(struct node *a, struct node *b)
{
  do_connect(a, b->id);
  pump();
  do_link_state(a, b->id, CTL_LINK_UP);
  do_link_state(b, a->id, CTL_LINK_UP);
  assert_int_equal(state_of(a, b->id), NEG_UP);
  assert_int_equal(state_of(b, a->id), NEG_UP);
}

static void grace_10s(struct negotiate_config *c)
{
  c->down_grace_ms = 10000;
}

/* With down_grace_ms, a link that goes down and comes back up within the
 * grace (tincan recovered its path) is left alone; one that stays down is
 * negotiated anew when the grace ends. */
static void test_link_down_grace(void **state)
{
  (void)state;
  struct node a, b;
  node_init(&a, "A", ID_A, 0, grace_10s);
  node_init(&b, "B", ID_B, 1, grace_10s);
  up_pair(&a, &b);
  now += 1000;
  do_link_state(&a, ID_B, CTL_LINK_DOWN);
  assert_int_equal(a.n_remove, 0);
  assert_int_equal(a.sent[SIGMSG_LINK_CANCEL], 0);
  assert_int_equal(state_of(&a, ID_B), NEG_UP);
  now += 5000;
  do_tick(&a);
  do_link_state(&a, ID_B, CTL_LINK_UP); /* recovered */
  assert_int_equal(state_of(&a, ID_B), NEG_UP);
  now += 20000;
  do_tick(&a);
  assert_int_equal(a.n_remove, 0);
  /* Down for good: the grace ends, then as without one. */
  do_link_state(&a, ID_B, CTL_LINK_DOWN);
  now += 9000;
  do_tick(&a);
  assert_int_equal(a.n_remove, 0);
  now += 1001;
  do_tick(&a);
  assert_int_equal(a.n_remove, 1);
  assert_int_equal(a.sent[SIGMSG_LINK_CANCEL], 1);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  pump();
  assert_int_equal(b.n_remove, 1);
  node_fini(&a);
  node_fini(&b);
}

static void test_link_down_renegotiates(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  up_pair(&a, &b);

  /* A's link drops: A cancels, removes, backs off; B removes and rests */
  now += 1000;
  do_link_state(&a, ID_B, CTL_LINK_DOWN);
  assert_int_equal(a.n_remove, 1);
  assert_int_equal(a.sent[SIGMSG_LINK_CANCEL], 1);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  pump();
  assert_int_equal(b.n_remove, 1);
  assert_int_equal(state_of(&b, ID_A), NEG_IDLE);
  /* B's own down event, after the fact, is out of state */
  struct neg_actions x = { 0 };
  assert_int_equal(negotiate_on_link_state(b.neg, ID_A, CTL_LINK_DOWN, now, &x), IPOP_ESTATE);
  negotiate_actions_free(&x);

  uint64_t when = negotiate_next_deadline(a.neg);
  assert_true(when >= now + 2000 && when <= now + 2500);
  now = when;
  do_tick(&a);
  pump();
  assert_int_equal(a.n_create, 2);
  assert_int_equal(b.n_create, 2);
  assert_linked(&a, &b);
  node_fini(&a);
  node_fini(&b);
}

static void test_connecting_timeout_and_responder(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  do_connect(&a, ID_B);
  pump();
  /* the link never comes up: both time out; A retries, B (not wanting) rests */
  now += 60000;
  do_tick(&b);
  assert_int_equal(state_of(&b, ID_A), NEG_IDLE);
  assert_int_equal(b.n_remove, 1);
  assert_int_equal(b.sent[SIGMSG_LINK_CANCEL], 1);
  pump(); /* A hears the cancel */
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  assert_int_equal(a.n_remove, 1);
  do_tick(&a); /* A's own timeout is moot now */
  assert_int_equal(a.n_remove, 1);
  node_fini(&a);
  node_fini(&b);
}

static void test_duplicate_and_restart(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  do_connect(&a, ID_B);
  /* the server delivers A's request twice */
  assert_int_equal(q_tail, 1);
  queue[1] = (struct qmsg){ queue[0].to, queue[0].from_id, queue[0].type,
                            strdup(queue[0].payload) };
  q_tail = 2;
  pump();
  assert_int_equal(b.n_query, 1);
  assert_int_equal(b.n_create, 1);
  assert_int_equal(b.sent[SIGMSG_LINK_RESPONSE], 2); /* the same answer, re-sent */
  assert_int_equal(a.n_create, 1);                   /* the second is stale for A */
  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.stale_msgs, 1);
  do_link_state(&a, ID_B, CTL_LINK_UP);
  do_link_state(&b, ID_A, CTL_LINK_UP);

  /* A's controller restarts (fresh state machine) and asks again: B drops
   * the old link and answers the new request */
  node_fini(&a);
  now += 5000;
  node_init(&a, "A", ID_A, 0, NULL);
  a.rng.seed = 12345; /* a new process draws new request ids */
  do_connect(&a, ID_B);
  pump();
  assert_int_equal(b.n_remove, 1);
  assert_int_equal(b.n_create, 2);
  assert_int_equal(state_of(&b, ID_A), NEG_CONNECTING);
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  node_fini(&a);
  node_fini(&b);
}

static void test_tincan_restart_and_errors(void **state)
{
  struct node a, b, c;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  node_init(&c, "C", ID_C, 2, NULL);
  up_pair(&a, &b);
  up_pair(&c, &a); /* C wanted A; A only answered */

  /* A's tincan restarts (the heartbeat notices after a few seconds): A
   * re-requests B (wanted) but not C; no removes */
  now += 5000;
  struct neg_actions x = { 0 };
  negotiate_reset(a.neg, now, &x);
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(a.n_remove, 0);
  assert_int_equal(state_of(&a, ID_B), NEG_REQUESTING);
  assert_int_equal(state_of(&a, ID_C), NEG_IDLE);
  pump();
  assert_int_equal(b.n_remove, 1); /* B drops its stale link, answers */
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);

  /* tincan fails create_link on A: cancel to B, backoff */
  negotiate_on_tincan_error(a.neg, ID_B, IPOP_ESYS, now, &x);
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  pump();
  assert_int_equal(state_of(&b, ID_A), NEG_IDLE);
  assert_int_equal(negotiate_on_tincan_error(a.neg, ID_B, IPOP_ESYS, now, &x), IPOP_ESTATE);
  assert_int_equal(negotiate_on_tincan_error(a.neg, "nope", IPOP_ESYS, now, &x), IPOP_ENOENT);

  /* late candidates for an attempt that is over */
  struct ctl_candidates cc;
  fake_candidates(&a, ID_B, &cc);
  assert_int_equal(negotiate_on_candidates(a.neg, &cc, now, &x), IPOP_ESTATE);
  snprintf(cc.overlay_id, sizeof cc.overlay_id, "other");
  assert_int_equal(negotiate_on_candidates(a.neg, &cc, now, &x), IPOP_ENOENT);
  /* tincan hands us garbage candidates: the attempt fails, nothing sent */
  now = negotiate_next_deadline(a.neg);
  a.hold_queries = true;
  do_tick(&a);
  fake_candidates(&a, ID_B, &cc);
  snprintf(cc.ufrag, sizeof cc.ufrag, "a b");
  unsigned sent = a.n_send;
  assert_int_equal(negotiate_on_candidates(a.neg, &cc, now, &x), IPOP_EFIELD);
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(a.n_send, sent);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);

  /* C's link to A died with A's tincan; C re-negotiates */
  a.hold_queries = false;
  do_link_state(&c, ID_A, CTL_LINK_DOWN);
  pump();
  now = negotiate_next_deadline(c.neg);
  do_tick(&c);
  pump();
  do_link_state(&c, ID_A, CTL_LINK_UP);
  do_link_state(&a, ID_C, CTL_LINK_UP);
  assert_int_equal(state_of(&a, ID_C), NEG_UP);
  assert_int_equal(state_of(&c, ID_A), NEG_UP);

  /* disconnect: cancel + remove, record forgotten */
  negotiate_disconnect(a.neg, ID_C, true, SIGMSG_R_NOT_WANTED, now, &x);
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(state_of(&a, ID_C), (enum neg_state)-1);
  pump();
  assert_int_equal(state_of(&c, ID_A), NEG_BACKOFF); /* C still wants A */
  assert_int_equal(negotiate_disconnect(a.neg, ID_C, true, 0, now, &x), IPOP_ENOENT);
  /* offline peer: no cancel */
  unsigned cancels = a.sent[SIGMSG_LINK_CANCEL];
  negotiate_disconnect(a.neg, ID_B, false, SIGMSG_R_NOT_WANTED, now, &x);
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(a.sent[SIGMSG_LINK_CANCEL], cancels);
  node_fini(&a);
  node_fini(&b);
  node_fini(&c);
}

static void test_hostile_peer(void **state)
{
  struct node a;
  node_init(&a, "A", ID_A, 0, NULL);
  struct neg_actions x = { 0 };
  struct jb_error err;
  const char *junk = "{\"v\":1,\"request_id\":\"zz\"}";
  /* bad_limit (8) bad messages, then ignored */
  for (int i = 0; i < 8; i++) {
    int rc = negotiate_on_signal(a.neg, ID_B, "link_request", junk, strlen(junk), now, &x, &err);
    assert_true(rc < 0);
    assert_string_equal(err.path, "request_id");
  }
  assert_int_equal(x.n, 0);
  struct neg_peer_info info;
  assert_int_equal(negotiate_peer_info(a.neg, ID_B, now, &info), 0);
  assert_int_equal(info.bad_msgs, 8);
  assert_true(info.ignored);
  assert_int_equal(negotiate_on_signal(a.neg, ID_B, "link_request", junk, strlen(junk), now,
                                       &x, &err), IPOP_EPERM);
  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.bad_msgs, 8);
  assert_int_equal(c.ignored_msgs, 1);
  /* after ignore_ms it is heard again */
  now += 600000;
  assert_int_equal(negotiate_on_signal(a.neg, ID_B, "link_request", junk, strlen(junk), now,
                                       &x, &err), IPOP_EFIELD);

  /* unknown type, oversized, binary junk, from unknown sender (NULL) */
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, "link_hijack", "{}", 2, now, &x, &err),
                   IPOP_ENOCMD);
  char *big = malloc(70000);
  memset(big, '[', 70000);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, "link_request", big, 70000, now, &x, &err),
                   IPOP_ETOOBIG);
  free(big);
  /* a sender without a node id of its own is refused before parsing */
  assert_int_equal(negotiate_on_signal(a.neg, NULL, "link_request", "\xff\xfe", 2, now, &x,
                                       &err), IPOP_EPERM);
  assert_non_null(strstr(err.msg, "no node id"));
  assert_int_equal(negotiate_on_signal(a.neg, "not-a-node-id", "link_cancel", "{", 1, now, &x,
                                       &err), IPOP_EPARSE);
  assert_int_equal(x.n, 0);
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.bad_msgs, 13);

  /* a valid message whose "from" is not the sender's node id */
  struct node b;
  node_init(&b, "B", ID_B, 1, NULL);
  do_connect(&b, ID_A);
  assert_int_equal(q_tail, 1);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, queue[0].type, queue[0].payload,
                                       strlen(queue[0].payload), now, &x, &err), IPOP_EPERM);
  assert_string_equal(err.path, "from");
  assert_int_equal(x.n, 0);
  drop_queue();

  /* addressed to another node (fan-out to all resources): ignored quietly */
  struct node c2;
  node_init(&c2, "C", ID_C, 2, NULL);
  do_connect(&b, ID_C);
  assert_int_equal(q_tail, 1);
  assert_int_equal(negotiate_on_signal(a.neg, ID_B, queue[0].type, queue[0].payload,
                                       strlen(queue[0].payload), now, &x, &err), 0);
  assert_int_equal(x.n, 0);
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.misdirected_msgs, 1);
  drop_queue();

  /* a response nobody asked for is stale, not bad */
  struct sigmsg m = { .type = SIGMSG_LINK_CANCEL };
  m.u.cancel.h.v = 1;
  snprintf(m.u.cancel.h.request_id, sizeof m.u.cancel.h.request_id, "abcdefgh");
  snprintf(m.u.cancel.h.from, sizeof m.u.cancel.h.from, ID_C);
  snprintf(m.u.cancel.h.to, sizeof m.u.cancel.h.to, ID_A);
  snprintf(m.u.cancel.h.overlay_id, sizeof m.u.cancel.h.overlay_id, "lab");
  const char *type;
  char *json;
  assert_int_equal(sigmsg_encode(&m, &type, &json, NULL), 0);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, type, json, strlen(json), now, &x, &err), 0);
  free(json);
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.stale_msgs, 1);
  assert_int_equal(c.bad_msgs, 14);

  /* a request for another overlay gets a wrong_overlay reject */
  snprintf(m.u.cancel.h.overlay_id, sizeof m.u.cancel.h.overlay_id, "other");
  m.type = SIGMSG_LINK_REQUEST;
  struct ctl_candidates cc;
  fake_candidates(&c2, ID_A, &cc);
  memset(&m.u.req.link, 0, sizeof m.u.req.link);
  snprintf(m.u.req.link.fingerprint, sizeof m.u.req.link.fingerprint, "%s", cc.fingerprint);
  m.u.req.link.mac[0] = 2;
  m.u.req.link.ip4.s_addr = htonl(0x0afe0009);
  snprintf(m.u.req.link.ufrag, sizeof m.u.req.link.ufrag, "%s", cc.ufrag);
  snprintf(m.u.req.link.pwd, sizeof m.u.req.link.pwd, "%s", cc.pwd);
  snprintf(m.u.req.link.candidates[0], CTL_CAND_LEN, "%s", cc.candidates[0]);
  m.u.req.link.n_candidates = 1;
  assert_int_equal(sigmsg_encode(&m, &type, &json, &err), 0);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, type, json, strlen(json), now, &x, &err), 0);
  free(json);
  assert_int_equal(x.n, 1);
  assert_int_equal(x.v[0].type, NEG_ACT_SEND);
  assert_non_null(strstr(x.v[0].payload, "wrong_overlay"));
  /* in the overlay it asked for, where the requester waits for it */
  assert_non_null(strstr(x.v[0].payload, "\"overlay_id\":\"other\""));
  negotiate_actions_free(&x);
  node_fini(&a);
  node_fini(&b);
  node_fini(&c2);
}

/* Random corruption of valid messages: never a crash, never an action from
 * a rejected message, and the machine keeps working afterwards. */
static void test_mutated_payloads(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  do_connect(&b, ID_A);
  assert_int_equal(q_tail, 1);
  char *orig = strdup(queue[0].payload);
  drop_queue();
  size_t len = strlen(orig);
  struct pt_rng r = { .seed = 4242 };
  char *buf = malloc(len + 64);
  int accepted = 0;
  for (int i = 0; i < 3000; i++) {
    memcpy(buf, orig, len + 1);
    size_t n = len;
    uint8_t op[4];
    pt_rand(&r, op, sizeof op);
    size_t at = (size_t)(op[1] | op[2] << 8) % len;
    switch (op[0] % 4) {
    case 0: buf[at] = (char)op[3]; break;                     /* flip a byte */
    case 1: n = at; break;                                    /* truncate */
    case 2: memmove(buf + at, buf + at + 1, len - at); n--; break; /* delete */
    case 3: memmove(buf + at + 1, buf + at, len - at + 1); buf[at] = (char)op[3]; n++; break;
    }
    struct neg_actions x = { 0 };
    struct jb_error err;
    /* now moves past the ignore period each round, so nothing is hidden */
    char sender[NODEID_BUF];
    snprintf(sender, sizeof sender, "%s", ID_B);
    int rc = negotiate_on_signal(a.neg, (op[0] & 16) ? NULL : sender, "link_request", buf, n,
                                 now, &x, &err);
    if (rc < 0)
      assert_int_equal(x.n, 0);
    else
      accepted++;
    run(&a, &x);
    negotiate_actions_free(&x);
    drop_queue();
    now += 600001; /* past any ignore period */
  }
  free(buf);
  free(orig);
  /* still sane: a clean negotiation works */
  struct neg_actions x = { 0 };
  negotiate_disconnect(a.neg, ID_B, false, 0, now, &x);
  negotiate_actions_free(&x);
  node_fini(&b);
  node_init(&b, "B", ID_B, 1, NULL);
  b.rng.seed = 777;
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(state_of(&b, ID_A), NEG_CONNECTING);
  node_fini(&a);
  node_fini(&b);
}

static void test_more_edges(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  struct neg_actions x = { 0 };
  struct jb_error err;

  /* B's own tincan hands it unusable candidates while answering: B refuses
   * with busy instead of sending garbage, A backs off */
  b.hold_queries = true;
  do_connect(&a, ID_B);
  pump();
  assert_int_equal(state_of(&b, ID_A), NEG_ANSWERING);
  struct ctl_candidates cc;
  fake_candidates(&b, ID_A, &cc);
  snprintf(cc.fingerprint, sizeof cc.fingerprint, "sha-1 AB");
  assert_int_equal(negotiate_on_candidates(b.neg, &cc, now, &x), IPOP_EFIELD);
  run(&b, &x);
  negotiate_actions_free(&x);
  assert_int_equal(b.n_remove, 1);
  assert_int_equal(state_of(&b, ID_A), NEG_IDLE);
  assert_int_equal(b.n_create, 0);
  pump();
  assert_int_equal(a.n_rejected, 1);
  assert_int_equal(a.last_reject_reason, SIGMSG_R_BUSY);
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);
  /* busy is temporary: however often it comes, the retry stays within
   * NEG_BUSY_RETRY_MAX_MS and A never gives up on it */
  for (int i = 0; i < 12; i++) {
    struct neg_peer_info info;
    assert_int_equal(negotiate_peer_info(a.neg, ID_B, now, &info), 0);
    assert_int_equal(info.state, NEG_BACKOFF);
    assert_true(info.deadline_ms <= now + NEG_BUSY_RETRY_MAX_MS);
    now = info.deadline_ms;
    negotiate_tick(a.neg, now, &x);
    run(&a, &x);
    negotiate_actions_free(&x);
    pump();
    assert_int_equal(state_of(&b, ID_A), NEG_ANSWERING);
    fake_candidates(&b, ID_A, &cc);
    snprintf(cc.fingerprint, sizeof cc.fingerprint, "sha-1 AB");
    assert_int_equal(negotiate_on_candidates(b.neg, &cc, now, &x), IPOP_EFIELD);
    run(&b, &x);
    negotiate_actions_free(&x);
    pump();
    assert_int_equal(a.last_reject_reason, SIGMSG_R_BUSY);
  }
  assert_int_equal(state_of(&a, ID_B), NEG_BACKOFF);

  /* a cancel from a node we have no record of, and a response for another
   * overlay, are stale */
  struct node c;
  node_init(&c, "C", ID_C, 2, NULL);
  struct sigmsg m = { .type = SIGMSG_LINK_CANCEL };
  m.u.cancel.h.v = 1;
  snprintf(m.u.cancel.h.request_id, sizeof m.u.cancel.h.request_id, "abcdefgh");
  snprintf(m.u.cancel.h.from, sizeof m.u.cancel.h.from, ID_C);
  snprintf(m.u.cancel.h.to, sizeof m.u.cancel.h.to, ID_A);
  snprintf(m.u.cancel.h.overlay_id, sizeof m.u.cancel.h.overlay_id, "other");
  const char *type;
  char *json;
  assert_int_equal(sigmsg_encode(&m, &type, &json, NULL), 0);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, type, json, strlen(json), now, &x, NULL), 0);
  free(json);
  snprintf(m.u.cancel.h.overlay_id, sizeof m.u.cancel.h.overlay_id, "lab");
  assert_int_equal(sigmsg_encode(&m, &type, &json, NULL), 0);
  assert_int_equal(negotiate_on_signal(a.neg, ID_C, type, json, strlen(json), now, &x, NULL), 0);
  free(json);
  assert_int_equal(x.n, 0);
  struct neg_counters ctr;
  negotiate_counters(a.neg, &ctr);
  assert_int_equal(ctr.stale_msgs, 2);

  /* an ignored sender is recognised by "from" when the caller has no
   * presence node id for it */
  const char *junk = "{}";
  for (int i = 0; i < 8; i++)
    negotiate_on_signal(a.neg, ID_C, "link_request", junk, 2, now, &x, &err);
  do_connect(&c, ID_A);
  assert_int_equal(q_tail, 1);
  assert_int_equal(negotiate_on_signal(a.neg, NULL, queue[0].type, queue[0].payload,
                                       strlen(queue[0].payload), now, &x, &err), IPOP_EPERM);
  assert_int_equal(x.n, 0);
  drop_queue();
  node_fini(&a);
  node_fini(&b);
  node_fini(&c);
}

/* A peer flooding valid requests with new ids is rate-limited (each would
 * make us drop and re-create an ICE agent), then ignored. */
static void test_request_flood(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  unsigned taken = 0;
  for (int i = 0; i < 20; i++) {
    struct neg_actions x = { 0 };
    negotiate_disconnect(b.neg, ID_A, false, 0, now, &x); /* B forgets: new request id */
    negotiate_actions_free(&x);
    do_connect(&b, ID_A);
    assert_int_equal(q_tail, 1);
    struct jb_error err;
    int rc = negotiate_on_signal(a.neg, ID_B, queue[0].type, queue[0].payload,
                                 strlen(queue[0].payload), now, &x, &err);
    taken += rc == 0;
    if (i > 0 && i <= 8)
      assert_int_equal(rc, IPOP_EBUSY);
    if (i > 8)
      assert_int_equal(rc, IPOP_EPERM);
    run(&a, &x);
    negotiate_actions_free(&x);
    drop_queue();
    now += 100;
  }
  assert_int_equal(taken, 1);
  assert_int_equal(a.n_query, 1);
  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.rate_limited, 8);
  assert_int_equal(c.bad_msgs, 8);
  node_fini(&a);
  node_fini(&b);
}

/* Glare when the winner's request was lost (a server dropped it): the
 * loser's request makes the winner send its own again, and the loser
 * answers that; before, both waited for LinkSetupTimeout. */
static void test_glare_lost_request(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  drop_all = true;
  do_connect(&a, ID_B); /* A (the winner) asks; lost */
  drop_all = false;
  assert_int_equal(state_of(&a, ID_B), NEG_REQUESTING);
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(a.n_create, 1);
  assert_int_equal(b.n_create, 1);
  assert_linked(&a, &b);
  assert_linked(&b, &a);
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  assert_int_equal(state_of(&b, ID_A), NEG_CONNECTING);
  node_fini(&a);
  node_fini(&b);
}

/* A request too soon after the last one is answered busy (and counted),
 * not dropped: the requester tries again within NEG_BUSY_RETRY_MAX_MS.
 * Dropped, it once left both sides waiting for LinkSetupTimeout: the
 * requester for its answer, and, as the winner of the glare with the
 * peer's own request, the peer for an answer to that. */
static void test_request_too_soon_busy(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, NULL);
  node_init(&b, "B", ID_B, 1, NULL);
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(a.n_create, 1);
  /* B starts over at once (it cancelled, e.g. blocked and unblocked A) */
  struct neg_actions x = { 0 };
  negotiate_disconnect(b.neg, ID_A, false, 0, now, &x);
  negotiate_actions_free(&x);
  drop_queue();
  now += 100;
  do_connect(&b, ID_A);
  assert_int_equal(q_tail, 1);
  struct jb_error err;
  assert_int_equal(negotiate_on_signal(a.neg, ID_B, queue[0].type, queue[0].payload,
                                       strlen(queue[0].payload), now, &x, &err),
                   IPOP_EBUSY);
  free(queue[0].payload);
  q_head = 1;
  run(&a, &x);
  negotiate_actions_free(&x);
  assert_int_equal(q_tail, 2);
  assert_non_null(strstr(queue[1].payload, "\"busy\""));
  pump();
  assert_int_equal(b.last_reject_reason, SIGMSG_R_BUSY);
  struct neg_peer_info info;
  assert_int_equal(negotiate_peer_info(b.neg, ID_A, now, &info), 0);
  assert_int_equal(info.state, NEG_BACKOFF);
  assert_true(info.deadline_ms <= now + NEG_BUSY_RETRY_MAX_MS);
  /* its retry is taken */
  now = info.deadline_ms;
  do_tick(&b);
  pump();
  assert_int_equal(a.n_create, 2);
  assert_int_equal(b.n_create, 2);
  node_fini(&a);
  node_fini(&b);
}

static void two_peers_max(struct negotiate_config *cfg)
{
  cfg->max_peers = 1;
}

static void test_limits_and_config(void **state)
{
  struct node a, b, c;
  node_init(&a, "A", ID_A, 0, two_peers_max);
  node_init(&b, "B", ID_B, 1, NULL);
  node_init(&c, "C", ID_C, 2, NULL);
  do_connect(&a, ID_B);
  struct neg_actions x = { 0 };
  assert_int_equal(negotiate_connect(a.neg, ID_C, false, now, &x), IPOP_EBUSY);
  assert_int_equal(negotiate_connect(a.neg, ID_A, false, now, &x), IPOP_EINVAL);
  assert_int_equal(negotiate_connect(a.neg, "xyz", false, now, &x), IPOP_EINVAL);
  drop_queue();
  /* an inbound request over the peer limit: busy reject */
  do_connect(&c, ID_A);
  pump();
  assert_non_null(strstr(a.last_sent_payload, "busy"));
  assert_int_equal(state_of(&c, ID_A), NEG_BACKOFF);
  negotiate_actions_free(&x);

  /* configuration checks */
  struct negotiate_config cfg;
  struct negotiate *n;
  negotiate_config_defaults(&cfg);
  assert_int_equal(negotiate_create(&n, &cfg), IPOP_EINVAL); /* no ids, no rnd */
  snprintf(cfg.node_id, sizeof cfg.node_id, ID_A);
  snprintf(cfg.overlay_id, sizeof cfg.overlay_id, "lab");
  assert_int_equal(negotiate_create(&n, &cfg), IPOP_EINVAL);
  cfg.rnd = pt_rand;
  cfg.backoff_max_ms = 1;
  assert_int_equal(negotiate_create(&n, &cfg), IPOP_EINVAL);
  assert_null(n);
  cfg.backoff_max_ms = 300000;
  snprintf(cfg.overlay_id, sizeof cfg.overlay_id, "a b");
  assert_int_equal(negotiate_create(&n, &cfg), IPOP_EINVAL);
  snprintf(cfg.overlay_id, sizeof cfg.overlay_id, "lab");
  assert_int_equal(negotiate_create(&n, &cfg), 0);
  uint8_t mac[6] = { 2, 1, 1, 1, 1, 1 };
  struct in_addr ip = { htonl(0x0a000001) };
  negotiate_set_local(n, mac, ip);
  negotiate_free(n);
  negotiate_free(NULL);
  node_fini(&a);
  node_fini(&b);
  node_fini(&c);
}

/* The verify hook (the registry's fingerprint rules): a refused request
 * never touches the link that is up; "busy" means come back within
 * NEG_BUSY_RETRY_MAX_MS; a refused accepting response cancels our own
 * attempt instead of creating a link. */
static int verify_answer;            /* reason + 1, or 0 */
static unsigned verify_calls;
static char verify_fpr[CTL_FPR_LEN];

static int test_verify(void *ctx, const char *peer_id, const char *fpr)
{
  verify_calls++;
  snprintf(verify_fpr, sizeof verify_fpr, "%s", fpr);
  return verify_answer;
}

static void with_verify(struct negotiate_config *cfg)
{
  cfg->verify = test_verify;
}

static void test_fingerprint_verify(void **state)
{
  struct node a, b;
  node_init(&a, "A", ID_A, 0, with_verify);
  node_init(&b, "B", ID_B, 1, NULL);
  verify_answer = 0;
  do_connect(&b, ID_A); /* B asks, A verifies B's fingerprint and accepts */
  pump();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  assert_true(verify_calls >= 1);
  struct ctl_candidates cb;
  fake_candidates(&b, ID_A, &cb);
  assert_string_equal(verify_fpr, cb.fingerprint);
  do_link_state(&a, ID_B, CTL_LINK_UP);
  assert_int_equal(state_of(&a, ID_B), NEG_UP);
  /* B (or someone speaking as B) asks again with a fingerprint A refuses:
   * rejected, and A's up link stays as it is. */
  unsigned removes = a.n_remove, creates = a.n_create, queries = a.n_query;
  verify_answer = SIGMSG_R_NOT_ALLOWED + 1;
  now += 5000;
  struct neg_actions x = { 0 };
  negotiate_disconnect(b.neg, ID_A, false, 0, now, &x);
  negotiate_actions_free(&x);
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(state_of(&a, ID_B), NEG_UP);
  assert_int_equal(a.n_remove, removes);
  assert_int_equal(a.n_create, creates);
  assert_int_equal(a.n_query, queries);
  assert_int_equal(b.last_reject_reason, SIGMSG_R_NOT_ALLOWED);
  struct neg_counters c;
  negotiate_counters(a.neg, &c);
  assert_int_equal(c.fpr_refused, 1);
  /* "busy" while the published identity is read: B comes back soon */
  node_fini(&a);
  node_fini(&b);
  node_init(&a, "A", ID_A, 0, with_verify);
  node_init(&b, "B", ID_B, 1, NULL);
  verify_answer = SIGMSG_R_BUSY + 1;
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(b.last_reject_reason, SIGMSG_R_BUSY);
  struct neg_peer_info info;
  assert_int_equal(negotiate_peer_info(b.neg, ID_A, now, &info), 0);
  assert_int_equal(info.state, NEG_BACKOFF);
  assert_true(info.deadline_ms - now <= NEG_BUSY_RETRY_MAX_MS);
  verify_answer = 0;
  now = info.deadline_ms;
  do_tick(&b);
  pump();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  node_fini(&a);
  node_fini(&b);
  /* A asks, B accepts, A refuses B's fingerprint: A cancels and fails the
   * attempt (no link created); busy retries soon. */
  node_init(&a, "A", ID_A, 0, with_verify);
  node_init(&b, "B", ID_B, 1, NULL);
  verify_answer = SIGMSG_R_NOT_ALLOWED + 1;
  do_connect(&a, ID_B);
  pump();
  assert_int_equal(a.n_create, 0);
  assert_int_equal(negotiate_peer_info(a.neg, ID_B, now, &info), 0);
  assert_int_equal(info.state, NEG_BACKOFF);
  assert_int_equal(state_of(&b, ID_A), NEG_IDLE); /* B got our cancel */
  assert_int_equal(b.n_remove, 1);
  verify_answer = SIGMSG_R_BUSY + 1;
  now = info.deadline_ms;
  do_tick(&a);
  pump();
  assert_int_equal(negotiate_peer_info(a.neg, ID_B, now, &info), 0);
  assert_int_equal(info.state, NEG_BACKOFF);
  assert_true(info.deadline_ms - now <= NEG_BUSY_RETRY_MAX_MS);
  assert_int_equal(a.n_create, 0);
  node_fini(&a);
  node_fini(&b);
  /* "hold": neither a request nor an accepting response is touched while
   * the identity is read; handed in again, each goes on as if it had just
   * come: no attempt ends, no half-made link is removed. */
  node_init(&a, "A", ID_A, 0, with_verify);
  node_init(&b, "B", ID_B, 1, with_verify);
  verify_answer = NEG_VERIFY_HOLD;
  do_connect(&b, ID_A);
  pump();
  assert_int_equal(n_held, 1); /* B's request, at A */
  assert_int_equal(a.n_query + a.n_create + a.n_send, 0);
  assert_int_equal(state_of(&b, ID_A), NEG_REQUESTING);
  verify_answer = 0;
  release_held();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  assert_int_equal(state_of(&b, ID_A), NEG_CONNECTING);
  assert_int_equal(a.n_remove + b.n_remove, 0);
  node_fini(&a);
  node_fini(&b);
  node_init(&a, "A", ID_A, 0, with_verify);
  node_init(&b, "B", ID_B, 1, NULL);
  verify_answer = 0;
  do_connect(&a, ID_B); /* A asks; B accepts; A holds B's answer */
  verify_answer = NEG_VERIFY_HOLD;
  pump();
  assert_int_equal(n_held, 1);
  assert_int_equal(state_of(&a, ID_B), NEG_REQUESTING);
  assert_int_equal(a.n_create + a.n_remove + b.n_remove, 0);
  verify_answer = 0;
  release_held();
  assert_int_equal(state_of(&a, ID_B), NEG_CONNECTING);
  assert_int_equal(a.n_create, 1);
  assert_int_equal(a.n_remove + b.n_remove, 0);
  node_fini(&a);
  node_fini(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_happy_path, setup, teardown),
    cmocka_unit_test_setup_teardown(test_timeout_retry_schedule, setup, teardown),
    cmocka_unit_test_setup_teardown(test_backoff_formula, setup, teardown),
    cmocka_unit_test_setup_teardown(test_glare, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
    cmocka_unit_test_setup_teardown(test_link_down_renegotiates, setup, teardown),
    cmocka_unit_test_setup_teardown(test_link_down_grace, setup, teardown),
    cmocka_unit_test_setup_teardown(test_connecting_timeout_and_responder, setup, teardown),
    cmocka_unit_test_setup_teardown(test_duplicate_and_restart, setup, teardown),
    cmocka_unit_test_setup_teardown(test_tincan_restart_and_errors, setup, teardown),
    cmocka_unit_test_setup_teardown(test_hostile_peer, setup, teardown),
    cmocka_unit_test_setup_teardown(test_limits_and_config, setup, teardown),
    cmocka_unit_test_setup_teardown(test_mutated_payloads, setup, teardown),
    cmocka_unit_test_setup_teardown(test_more_edges, setup, teardown),
    cmocka_unit_test_setup_teardown(test_request_flood, setup, teardown),
    cmocka_unit_test_setup_teardown(test_request_too_soon_busy, setup, teardown),
    cmocka_unit_test_setup_teardown(test_glare_lost_request, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fingerprint_verify, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
