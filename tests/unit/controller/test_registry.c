/* controller/registry.c, registry_rules.c: who is who.  Conflicts over
 * node ids (presence, rooms, PEP, pins), who may signal and link, the
 * fingerprint rules (pins, PEP, trust on first use, pinned, open), the
 * lifecycle of entries, and bounded memory under 100,000 node-id changes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "registry.h"

#define ME "alice@xmpp.test"
#define MY_NODE "a0000000000000000000000000000000"
#define NB "b0000000000000000000000000000000"
#define NB2 "b2000000000000000000000000000000"
#define NC "c0000000000000000000000000000000"
#define NM "e0000000000000000000000000000000"
#define FA "sha-256 AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA"
#define FB "sha-256 BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB"
#define FX "sha-256 EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE"
#define SUB_BOTH 3
#define SUB_TO 1
#define SUB_REMOVE 4

struct fx {
  struct registry *r;
  int fetches, gone, busy_answer;
  char last_fetch[64], last_gone[40];
};

static void h_fetch(void *ctx, const char *jid)
{
  struct fx *f = ctx;
  f->fetches++;
  snprintf(f->last_fetch, sizeof f->last_fetch, "%s", jid);
}

static void h_gone(void *ctx, const struct reg_node *n)
{
  struct fx *f = ctx;
  f->gone++;
  snprintf(f->last_gone, sizeof f->last_gone, "%s", n->id);
}

static bool h_busy(void *ctx, const struct reg_node *n)
{
  return ((struct fx *)ctx)->busy_answer;
}

static void fx_init(struct fx *f, int mode, const char *group)
{
  memset(f, 0, sizeof *f);
  struct registry_config cfg = {
    .trust_mode = mode,
    .hooks = { .fetch = h_fetch, .node_gone = h_gone, .node_busy = h_busy, .ctx = f },
  };
  snprintf(cfg.own_jid, sizeof cfg.own_jid, ME);
  snprintf(cfg.own_node, sizeof cfg.own_node, MY_NODE);
  snprintf(cfg.roster_group, sizeof cfg.roster_group, "%s", group);
  char why[64];
  assert_int_equal(trust_open(&cfg.trust, NULL, why, sizeof why), 0);
  assert_int_equal(registry_create(&f->r, &cfg), 0);
  const char *g[] = { "lab" };
  registry_roster_begin(f->r);
  registry_roster_item(f->r, "bob@xmpp.test", SUB_BOTH, g, 1);
  registry_roster_item(f->r, "mallory@xmpp.test", SUB_BOTH, g, 1);
  registry_roster_item(f->r, "carol@xmpp.test", SUB_BOTH, NULL, 0);
  registry_roster_item(f->r, "dave@xmpp.test", SUB_TO, g, 1);
  registry_roster_end(f->r);
}

static struct reg_node *presence(struct fx *f, const char *jid, const char *id, uint64_t now)
{
  bool fresh;
  return registry_presence(f->r, jid, id, NULL, true, now, &fresh);
}

static uint64_t conflicts(struct fx *f)
{
  struct reg_counters c;
  registry_counters(f->r, &c);
  return c.conflicts;
}

/* A node id belongs to the account that announced it first; another
 * account's claim (presence, room, PEP) is refused and counted. */
static void test_conflicts(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "");
  uint64_t t = 1000;
  struct reg_node *b = presence(&f, "bob@xmpp.test/r1", NB, t);
  assert_non_null(b);
  assert_string_equal(b->owner->jid, "bob@xmpp.test");
  /* (a) mallory announces bob's node id in its own presence */
  assert_null(presence(&f, "mallory@xmpp.test/x", NB, t));
  assert_int_equal(conflicts(&f), 1);
  assert_string_equal(registry_node(f.r, NB)->jid, "bob@xmpp.test/r1");
  /* ... and cannot signal as anything: it speaks for no node */
  struct reg_node *n;
  assert_int_equal(registry_signal_sender(f.r, "mallory@xmpp.test/x", &n), REG_SIG_UNBOUND);
  assert_int_equal(registry_signal_sender(f.r, "bob@xmpp.test/r1", &n), REG_SIG_OK);
  assert_ptr_equal(n, b);
  /* (b) a resource that announced nothing: unbound */
  assert_int_equal(registry_signal_sender(f.r, "mallory@xmpp.test/bare", &n), REG_SIG_UNBOUND);
  /* (c) a resource with its own node id speaks for that one only */
  struct reg_node *m = presence(&f, "mallory@xmpp.test/own", NM, t);
  assert_non_null(m);
  assert_int_equal(registry_signal_sender(f.r, "mallory@xmpp.test/own", &n), REG_SIG_OK);
  assert_ptr_equal(n, m);
  /* (d) mallory publishes bob's node id in its own PEP node: refused */
  const char *ids[] = { NB, NM }, *fprs[] = { FB, FX };
  registry_pep_items(f.r, "mallory@xmpp.test", ids, fprs, 2, true, t);
  assert_int_equal(conflicts(&f), 2);
  assert_null(registry_published(f.r, "mallory@xmpp.test", NB));
  assert_string_equal(registry_published(f.r, "mallory@xmpp.test", NM), FX);
  /* Our own node id, announced by someone else: refused. */
  assert_null(presence(&f, "mallory@xmpp.test/y", MY_NODE, t));
  assert_int_equal(conflicts(&f), 3);
  /* Another resource of bob's account takes the node over (a restart);
   * the old resource no longer speaks for it. */
  bool fresh;
  assert_ptr_equal(registry_presence(f.r, "bob@xmpp.test/r2", NB, NULL, true, t, &fresh), b);
  assert_true(fresh);
  assert_int_equal(registry_signal_sender(f.r, "bob@xmpp.test/r1", &n), REG_SIG_UNBOUND);
  /* When the newer resource leaves, the older one (still online) speaks
   * for the node again; when that one leaves too, the node is offline. */
  registry_presence(f.r, "bob@xmpp.test/r2", NULL, NULL, false, t + 1, &fresh);
  assert_string_equal(b->jid, "bob@xmpp.test/r1");
  assert_true(reg_node_online(b));
  assert_int_equal(registry_signal_sender(f.r, "bob@xmpp.test/r1", &n), REG_SIG_OK);
  registry_presence(f.r, "bob@xmpp.test/r1", NULL, NULL, false, t + 2, &fresh);
  assert_false(reg_node_online(b));
  assert_ptr_equal(registry_presence(f.r, "bob@xmpp.test/r2", NB, NULL, true, t + 3, &fresh), b);
  assert_true(fresh);
  /* Strangers and half-friends claim nothing and may not signal. */
  assert_null(presence(&f, "eve@xmpp.test/x", NC, t));
  assert_null(presence(&f, "dave@xmpp.test/x", NC, t));
  assert_int_equal(registry_signal_sender(f.r, "eve@xmpp.test/x", &n), REG_SIG_STRANGER);
  /* A pin binds a node id to its account even while it is offline. */
  assert_int_equal(trust_pin(registry_trust_store(f.r), "carol@xmpp.test", NC, FA, 1), 0);
  assert_null(presence(&f, "mallory@xmpp.test/z", NC, t));
  assert_int_equal(conflicts(&f), 4);
  assert_non_null(presence(&f, "carol@xmpp.test/n", NC, t));
  /* Malformed node ids and JIDs are not claims. */
  assert_null(presence(&f, "bob@xmpp.test/q", "not-a-node-id", t));
  assert_null(presence(&f, "bob@xmpp.test", NB2, t));
  registry_free(f.r);
}

/* Which fingerprint a node may present. */
static void test_fingerprints(void **state)
{
  struct fx f;
  char why[512];
  fx_init(&f, REG_TRUST_TOFU, "");
  uint64_t t = 1000;
  struct reg_node *b = presence(&f, "bob@xmpp.test/r1", NB, t);
  /* Its account's items are asked for when the node shows up. */
  assert_int_equal(f.fetches, 1);
  assert_string_equal(f.last_fetch, "bob@xmpp.test");
  /* Until they come: wait (the request is answered busy). */
  assert_int_equal(registry_check_fpr(f.r, b, FB, t + 100, why, sizeof why), REG_FPR_WAIT);
  const char *ids[] = { NB }, *fprs[] = { FB };
  registry_pep_items(f.r, "bob@xmpp.test", ids, fprs, 1, true, t + 200);
  /* Another fingerprint than the published one: refused, pending. */
  assert_int_equal(registry_check_fpr(f.r, b, FX, t + 300, why, sizeof why), REG_FPR_REFUSED);
  assert_non_null(strstr(why, "published"));
  const struct trust_pin *p = trust_find(registry_trust_store(f.r), "bob@xmpp.test", NB);
  assert_non_null(p);
  assert_string_equal(p->pending, FX);
  assert_string_equal(p->fpr, "");
  /* The published one: accepted and pinned (first use). */
  assert_int_equal(registry_check_fpr(f.r, b, FB, t + 400, why, sizeof why), REG_FPR_OK);
  assert_string_equal(trust_find(registry_trust_store(f.r), "bob@xmpp.test", NB)->fpr, FB);
  /* A new identity (new published item too, as after a new identity
   * file, or a lying server): the pin wins. */
  const char *fprs2[] = { FX };
  registry_pep_items(f.r, "bob@xmpp.test", ids, fprs2, 1, false, t + 500);
  assert_int_equal(registry_check_fpr(f.r, b, FX, t + 600, why, sizeof why), REG_FPR_REFUSED);
  assert_non_null(strstr(why, "ipopctl trust bob@xmpp.test " NB));
  /* The administrator trusts the pending fingerprint: it is the pin now. */
  assert_int_equal(registry_trust(f.r, "bob@xmpp.test", NB, NULL, why, sizeof why), 0);
  assert_int_equal(registry_check_fpr(f.r, b, FX, t + 700, why, sizeof why), REG_FPR_OK);
  assert_int_equal(registry_check_fpr(f.r, b, FB, t + 700, why, sizeof why), REG_FPR_REFUSED);
  /* trust: bad arguments, nothing to trust, a node pinned elsewhere */
  assert_int_equal(registry_trust(f.r, "bob", NB, NULL, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(registry_trust(f.r, "bob@xmpp.test", "x", NULL, why, sizeof why), IPOP_EINVAL);
  assert_int_equal(registry_trust(f.r, "carol@xmpp.test", NC, NULL, why, sizeof why), IPOP_ENOENT);
  assert_int_equal(registry_trust(f.r, "carol@xmpp.test", NB, FA, why, sizeof why), IPOP_EEXIST);
  assert_int_equal(registry_trust(f.r, "carol@xmpp.test", NC, "md5 1", why, sizeof why),
                   IPOP_EINVAL);
  /* untrust: the pin goes; under tofu the next use pins again */
  assert_int_equal(registry_untrust(f.r, "bob@xmpp.test", NB, why, sizeof why), 0);
  assert_int_equal(registry_untrust(f.r, "bob@xmpp.test", NB, why, sizeof why), IPOP_ENOENT);
  assert_int_equal(registry_check_fpr(f.r, b, FX, t + 800, why, sizeof why), REG_FPR_OK);

  /* An account whose PEP we cannot read (a room member who is no
   * contact): its signalled fingerprint is pinned on first use. */
  struct reg_node *c = presence(&f, "carol@xmpp.test/n", NC, t);
  registry_pep_failed(f.r, "carol@xmpp.test", "forbidden", t);
  assert_int_equal(registry_check_fpr(f.r, c, FA, t + 10, why, sizeof why), REG_FPR_OK);
  assert_int_equal(registry_check_fpr(f.r, c, FB, t + 20, why, sizeof why), REG_FPR_REFUSED);
  /* While an account's items are being read: wait (bounded); read, without
   * an item for this node: first use at once. */
  struct reg_node *m = presence(&f, "mallory@xmpp.test/m", NM, t);
  assert_int_equal(registry_check_fpr(f.r, m, FX, t + 10, why, sizeof why), REG_FPR_WAIT);
  registry_pep_items(f.r, "mallory@xmpp.test", NULL, NULL, 0, true, t + 20);
  assert_int_equal(registry_check_fpr(f.r, m, FX, t + 30, why, sizeof why), REG_FPR_OK);
  /* a read never answered holds the node at most REG_PEP_WAIT_MS */
  struct reg_node *d = presence(&f, "carol@xmpp.test/m2", NB2, t);
  registry_pep_failed(f.r, "carol@xmpp.test", "connection-lost", t);
  assert_int_equal(registry_check_fpr(f.r, d, FX, t + 40, why, sizeof why), REG_FPR_WAIT);
  assert_int_equal(registry_check_fpr(f.r, d, FX, t + 40 + REG_PEP_WAIT_MS, why, sizeof why),
                   REG_FPR_OK);
  registry_free(f.r);

  /* pinned: only fingerprints already in known_nodes */
  fx_init(&f, REG_TRUST_PINNED, "");
  b = presence(&f, "bob@xmpp.test/r1", NB, t);
  registry_pep_items(f.r, "bob@xmpp.test", ids, fprs, 1, true, t);
  assert_int_equal(registry_check_fpr(f.r, b, FB, t, why, sizeof why), REG_FPR_REFUSED);
  assert_non_null(strstr(why, "pinned"));
  assert_int_equal(registry_trust(f.r, "bob@xmpp.test", NB, NULL, why, sizeof why), 0);
  assert_int_equal(registry_check_fpr(f.r, b, FB, t, why, sizeof why), REG_FPR_OK);
  registry_free(f.r);

  /* open: anything goes, nothing is pinned, nothing fetched */
  fx_init(&f, REG_TRUST_OPEN, "");
  b = presence(&f, "bob@xmpp.test/r1", NB, t);
  assert_int_equal(f.fetches, 0);
  assert_int_equal(registry_check_fpr(f.r, b, FX, t, why, sizeof why), REG_FPR_OK);
  assert_int_equal(trust_count(registry_trust_store(f.r)), 0);
  registry_free(f.r);
}

/* When an account's items are read: a missed notification must not leave
 * a node (or a claim) unknown.  A read asked too soon is kept, not dropped;
 * "item-not-found" is an empty node, not an unreadable one. */
static void test_pep_reads(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "");
  uint64_t t = 1000;
  struct reg_node *b = presence(&f, "bob@xmpp.test/r1", NB, t);
  /* mallory's node shows up: its items are read; it has published none */
  struct reg_node *m = presence(&f, "mallory@xmpp.test/c", NM, t);
  assert_non_null(m);
  assert_int_equal(f.fetches, 2);
  registry_pep_failed(f.r, "mallory@xmpp.test", "item-not-found", t + 50);
  /* ... read: nothing published, not unreadable */
  assert_int_equal(registry_contact(f.r, "mallory@xmpp.test")->pep, REG_PEP_READ);
  /* mallory/d announces bob's node id and publishes it; the notification
   * never comes.  The refused claim makes alice read mallory's items, but
   * the last read was just now: the read comes once REG_PEP_REFETCH_MS
   * have passed since. */
  const uint64_t R = REG_PEP_REFETCH_MS;
  assert_null(presence(&f, "mallory@xmpp.test/d", NB, t + R / 2));
  assert_int_equal(f.fetches, 2);
  assert_int_equal(registry_expire(f.r, t + R * 3 / 4), 0);
  assert_int_equal(f.fetches, 2);
  registry_expire(f.r, t + R);
  assert_int_equal(f.fetches, 3);
  assert_string_equal(f.last_fetch, "mallory@xmpp.test");
  registry_expire(f.r, t + 3 * R); /* asked once, not again */
  assert_int_equal(f.fetches, 3);
  const char *ids[] = { NB }, *fprs[] = { FB };
  uint64_t c0 = conflicts(&f);
  registry_pep_items(f.r, "mallory@xmpp.test", ids, fprs, 1, true, t + R + 50);
  assert_int_equal(conflicts(&f), c0 + 1);
  assert_null(registry_published(f.r, "mallory@xmpp.test", NB));
  assert_string_equal(registry_node(f.r, NB)->owner->jid, "bob@xmpp.test");
  /* A kept read is dropped when the account is no friend any more, and
   * when we go offline (the next login brings the presences again). */
  assert_null(presence(&f, "mallory@xmpp.test/e", NB, t + R + R / 2));
  registry_roster_item(f.r, "mallory@xmpp.test", SUB_REMOVE, NULL, 0);
  registry_expire(f.r, t + 10 * R);
  assert_int_equal(f.fetches, 3);
  assert_null(presence(&f, "bob@xmpp.test/x", MY_NODE, t + 11 * R)); /* read at once */
  assert_int_equal(f.fetches, 4);
  assert_null(presence(&f, "bob@xmpp.test/y", MY_NODE, t + 11 * R + R / 2)); /* kept */
  registry_offline(f.r, t + 11 * R + R / 2);
  registry_expire(f.r, t + 20 * R);
  assert_int_equal(f.fetches, 4);
  (void)b;
  registry_free(f.r);
}

/* Who may be linked where: the one place of the mutual-contact, roster
 * group, room and blocking rules. */
static void test_membership(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "lab");
  uint64_t t = 1000;
  const char *why;
  struct reg_scope roster = { REG_SCOPE_ROSTER, 0 }, social = { REG_SCOPE_SOCIAL, 0 };
  struct reg_node *b = presence(&f, "bob@xmpp.test/r1", NB, t);
  struct reg_node *c = presence(&f, "carol@xmpp.test/n", NC, t);
  struct reg_node *o = presence(&f, "alice@xmpp.test/laptop", NB2, t);
  assert_true(registry_may_link(f.r, b, &roster, false, t, &why));
  assert_false(registry_may_link(f.r, c, &roster, false, t, &why));
  assert_string_equal(why, "not in the roster group");
  assert_true(registry_may_link(f.r, c, &social, false, t, &why));
  assert_true(registry_may_link(f.r, o, &roster, false, t, &why)); /* our own other node */
  assert_true(registry_is_mutual(f.r, "Carol@xmpp.test/x"));
  assert_false(registry_is_mutual(f.r, "dave@xmpp.test"));
  /* Blocking: bare, full and domain items. */
  const char *bl[] = { "bob@xmpp.test" };
  registry_blocklist(f.r, bl, 1, true, false);
  assert_false(registry_may_link(f.r, b, &social, true, t, &why));
  assert_string_equal(why, "blocked");
  struct reg_node *n;
  assert_int_equal(registry_signal_sender(f.r, "bob@xmpp.test/r1", &n), REG_SIG_BLOCKED);
  registry_blocklist(f.r, bl, 1, false, false);
  assert_true(registry_may_link(f.r, b, &social, false, t, &why));
  const char *dom[] = { "xmpp.test" }, *full[] = { "carol@xmpp.test/n" };
  registry_blocklist(f.r, dom, 1, true, true);
  assert_true(registry_blocked(f.r, "anyone@xmpp.test/r"));
  assert_false(registry_blocked(f.r, "anyone@notxmpp.test/r"));
  registry_blocklist(f.r, full, 1, true, true); /* full: replaces the list */
  assert_false(registry_blocked(f.r, "anyone@xmpp.test/r"));
  assert_true(registry_blocked(f.r, "carol@xmpp.test/n"));
  assert_false(registry_blocked(f.r, "carol@xmpp.test/m"));
  assert_int_equal(registry_blocked_count(f.r), 1);
  registry_blocklist(f.r, NULL, 0, false, true);
  /* Offline: an up link keeps the grace period. */
  bool fresh;
  registry_presence(f.r, "bob@xmpp.test/r1", NULL, NULL, false, t + 10, &fresh);
  assert_false(registry_may_link(f.r, b, &roster, false, t + 20, &why));
  assert_string_equal(why, "offline");
  assert_true(registry_may_link(f.r, b, &roster, true, t + REG_GRACE_MS, &why));
  assert_false(registry_may_link(f.r, b, &roster, true, t + 10 + REG_GRACE_MS, &why));
  /* Rooms: occupants are members, whoever they are; a stale occupant
   * (not back after our rejoin) keeps an up link for the grace period. */
  int room = registry_room_add(f.r, "lab@conference.xmpp.test");
  assert_true(room >= 0);
  struct reg_scope rs = { REG_SCOPE_ROOM, room };
  struct reg_node *e = registry_occupant(f.r, room, "erin@xmpp.test/n", NM, true, t, &fresh);
  assert_non_null(e);
  assert_true(registry_may_link(f.r, e, &rs, false, t, &why));
  assert_false(registry_may_link(f.r, e, &social, false, t, &why)); /* no contact */
  assert_int_equal(registry_signal_sender(f.r, "erin@xmpp.test/n", &n), REG_SIG_OK);
  /* the room's occupant cannot take a contact's id */
  assert_null(registry_occupant(f.r, room, "erin@xmpp.test/m", NC, true, t, &fresh));
  registry_offline(f.r, t + 100);
  registry_online(f.r, t + 200);
  registry_room_rejoined(f.r, room, t + 300);
  assert_false(registry_may_link(f.r, e, &rs, false, t + 400, &why));
  assert_string_equal(why, "not back in the room");
  assert_true(registry_may_link(f.r, e, &rs, true, t + 400, &why));
  assert_non_null(registry_occupant(f.r, room, "erin@xmpp.test/n", NM, true, t + 500, &fresh));
  assert_true(registry_may_link(f.r, e, &rs, false, t + 500, &why));
  registry_occupant(f.r, room, "erin@xmpp.test/n", NULL, false, t + 600, &fresh);
  assert_false(registry_may_link(f.r, e, &rs, true, t + 600, &why));
  assert_string_equal(why, "left the room");
  registry_free(f.r);
}

/* Entries go when their account is no contact any more, when they stayed
 * offline past the grace period (unless busy), and after a login that
 * did not report them again. */
static void test_lifecycle(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "");
  uint64_t t = 1000;
  bool fresh;
  presence(&f, "bob@xmpp.test/r1", NB, t);
  presence(&f, "carol@xmpp.test/n", NC, t);
  assert_int_equal(registry_node_count(f.r), 2);
  /* carol leaves the roster: her node goes at the next expiry */
  registry_roster_item(f.r, "carol@xmpp.test", SUB_REMOVE, NULL, 0);
  registry_expire(f.r, t + 1);
  assert_int_equal(registry_node_count(f.r), 1);
  assert_int_equal(f.gone, 1);
  assert_string_equal(f.last_gone, NC);
  assert_null(registry_contact(f.r, "carol@xmpp.test"));
  /* a full roster read that does not list bob drops him too */
  registry_roster_begin(f.r);
  registry_roster_item(f.r, "mallory@xmpp.test", SUB_BOTH, NULL, 0);
  registry_roster_end(f.r);
  registry_expire(f.r, t + 2);
  assert_int_equal(registry_node_count(f.r), 0);
  /* offline past the grace period; a busy node stays */
  struct reg_node *m = presence(&f, "mallory@xmpp.test/m", NM, t);
  registry_presence(f.r, "mallory@xmpp.test/m", NULL, NULL, false, t + 10, &fresh);
  f.busy_answer = 1;
  assert_int_equal(registry_expire(f.r, t + 10 + REG_GRACE_MS), 0);
  assert_ptr_equal(registry_node(f.r, NM), m);
  f.busy_answer = 0;
  assert_int_equal(registry_expire(f.r, t + 10 + REG_GRACE_MS), 1);
  assert_null(registry_node(f.r, NM));
  /* A node id is free again once its owner's record is gone (no pin). */
  registry_roster_item(f.r, "bob@xmpp.test", SUB_BOTH, NULL, 0);
  assert_non_null(presence(&f, "bob@xmpp.test/r", NM, t + 200000));
  /* After a reconnect, a node whose presence does not come again goes
   * offline once the presences have settled. */
  registry_offline(f.r, t + 300000);
  registry_online(f.r, t + 300001);
  struct reg_node *b = registry_node(f.r, NM);
  assert_true(reg_node_online(b));
  registry_expire(f.r, t + 300001 + REG_SETTLE_MS);
  assert_false(reg_node_online(b));
  registry_free(f.r);
}

static size_t heap_in_use(void)
{
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks;
}

/* A contact that changes node id 100,000 times (from one resource, and
 * from ever new resources), strangers, a room flooded with occupants and
 * an oversized block list: every table stays within its bound and the
 * heap does not grow. */
static void test_bounded_memory(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "");
  char id[40], jid[80];
  uint64_t t = 1000;
  bool fresh;
  /* warm up: the tables reach their working size */
  for (unsigned i = 0; i < 100; i++) {
    snprintf(id, sizeof id, "%032x", i + 1);
    presence(&f, "mallory@xmpp.test/x", id, t);
  }
  size_t before = heap_in_use();
  for (unsigned i = 0; i < 100000; i++) {
    snprintf(id, sizeof id, "%032x", 0x100000 + i);
    assert_non_null(presence(&f, "mallory@xmpp.test/x", id, t + i));
  }
  for (unsigned i = 0; i < 20000; i++) {
    snprintf(id, sizeof id, "%032x", 0x200000 + i);
    snprintf(jid, sizeof jid, "mallory@xmpp.test/r%u", i);
    registry_presence(f.r, jid, id, NULL, true, t + i, &fresh);
    snprintf(jid, sizeof jid, "eve%u@xmpp.test/r", i); /* strangers */
    registry_presence(f.r, jid, id, NULL, true, t + i, &fresh);
  }
  assert_true(registry_node_count(f.r) <= REG_MAX_NODES_PER_JID);
  assert_int_equal(registry_contact_count(f.r), 5); /* us, bob, mallory, carol, dave */
  struct reg_counters c;
  registry_counters(f.r, &c);
  /* replaced (offline ones) or refused (16 online at once) */
  assert_true(c.nodes_evicted + c.nodes_refused >= 120000 - REG_MAX_NODES_PER_JID);
  size_t after = heap_in_use();
  printf("# 120,000 node-id changes: %zu nodes, %zu contacts, heap in use %zu -> %zu bytes\n",
         registry_node_count(f.r), registry_contact_count(f.r), before, after);
  if (before) /* mallinfo2 counts nothing under a sanitizer's allocator */
    assert_true(after < before + 64 * 1024);
  /* A room: at most REG_MAX_OCCUPANTS occupants, and as many contacts. */
  int room = registry_room_add(f.r, "lab@conference.xmpp.test");
  for (unsigned i = 0; i < 5000; i++) {
    snprintf(id, sizeof id, "%032x", 0x300000 + i);
    snprintf(jid, sizeof jid, "o%u@xmpp.test/n", i);
    registry_occupant(f.r, room, jid, id, true, t, &fresh);
  }
  assert_int_equal(registry_room_count(f.r, room), REG_MAX_OCCUPANTS);
  assert_true(registry_node_count(f.r) <= REG_MAX_NODES_PER_JID + REG_MAX_OCCUPANTS);
  registry_room_remove(f.r, room);
  registry_expire(f.r, t + 1);
  assert_int_equal(registry_contact_count(f.r), 5);
  /* The block list: at most REG_MAX_BLOCKED. */
  static char names[REG_MAX_BLOCKED + 10][32];
  const char *list[REG_MAX_BLOCKED + 10];
  for (unsigned i = 0; i < REG_MAX_BLOCKED + 10; i++) {
    snprintf(names[i], sizeof names[i], "u%u@x", i);
    list[i] = names[i];
  }
  registry_blocklist(f.r, list, REG_MAX_BLOCKED + 10, true, true);
  assert_int_equal(registry_blocked_count(f.r), REG_MAX_BLOCKED);
  /* The whole node table: REG_MAX_NODES at most, new ones refused. */
  registry_free(f.r);
  fx_init(&f, REG_TRUST_TOFU, "");
  for (unsigned i = 0; i < REG_MAX_ROOMS; i++) {
    snprintf(jid, sizeof jid, "room%u@conference.xmpp.test", i);
    int k = registry_room_add(f.r, jid);
    for (unsigned j = 0; k >= 0 && j < REG_MAX_OCCUPANTS; j++) {
      snprintf(id, sizeof id, "%016x%016x", i + 1, j);
      snprintf(jid, sizeof jid, "m%u-%u@xmpp.test/n", i, j);
      registry_occupant(f.r, k, jid, id, true, t, &fresh);
    }
  }
  registry_counters(f.r, &c);
  assert_int_equal(registry_node_count(f.r), REG_MAX_NODES);
  assert_true(c.nodes_refused > 0);
  assert_int_equal(registry_room_add(f.r, "one-more@conference.xmpp.test"), IPOP_EBUSY);
  registry_free(f.r);
}

/* Presence caps "ip4=A ip6=B": both addresses, word by word; a bad,
 * non-unicast or missing IPv6 address leaves none (an address no longer
 * announced is forgotten). */
static void test_caps(void **state)
{
  struct fx f;
  fx_init(&f, REG_TRUST_TOFU, "");
  bool fresh;
  uint64_t t = 1000;
  struct reg_node *b =
      registry_presence(f.r, "bob@xmpp.test/r1", NB, "ip4=10.254.0.5 ip6=fd00:1::5", true, t, &fresh);
  assert_non_null(b);
  char a[INET6_ADDRSTRLEN];
  assert_true(b->flags & REG_N_CAPS_IP4);
  assert_true(b->flags & REG_N_CAPS_IP6);
  assert_string_equal(inet_ntop(AF_INET, &b->caps_ip4, a, sizeof a), "10.254.0.5");
  assert_string_equal(inet_ntop(AF_INET6, &b->caps_ip6, a, sizeof a), "fd00:1::5");
  static const char *const no6[] = {
    "ip4=10.254.0.5",                       /* no longer announced */
    "ip4=10.254.0.5 ip6=fe80::1",           /* link-local */
    "ip4=10.254.0.5 ip6=ff02::1",           /* multicast */
    "ip4=10.254.0.5 ip6=",                  /* empty */
    "ip4=10.254.0.5 ip6=fd00::1x",          /* malformed */
    "ip4=10.254.0.5 xip6=fd00::1",          /* another key */
    "ip4=10.254.0.5 ip6=fd00:0000:0000:0000:0000:0000:0000:0000:0001", /* too long */
    "ip4=10.254.0.5  ip6",                  /* no value */
    "",
  };
  for (size_t i = 0; i < sizeof no6 / sizeof no6[0]; i++) {
    registry_presence(f.r, "bob@xmpp.test/r1", NB, "ip4=1.2.3.4 ip6=fd00:1::5", true, t, &fresh);
    assert_true(b->flags & REG_N_CAPS_IP6);
    registry_presence(f.r, "bob@xmpp.test/r1", NB, no6[i], true, t, &fresh);
    if (b->flags & REG_N_CAPS_IP6)
      fail_msg("caps \"%s\" left an IPv6 address", no6[i]);
  }
  /* unknown words are skipped; order does not matter */
  registry_presence(f.r, "bob@xmpp.test/r1", NB, "v=2 ip6=fd00:1::7 ip4=10.254.0.9", true, t, &fresh);
  assert_true(b->flags & REG_N_CAPS_IP6);
  assert_string_equal(inet_ntop(AF_INET6, &b->caps_ip6, a, sizeof a), "fd00:1::7");
  assert_string_equal(inet_ntop(AF_INET, &b->caps_ip4, a, sizeof a), "10.254.0.9");
  registry_free(f.r);
}

int main(void)
{
  ipop_log_init("test_registry", IPOP_LOG_ERROR);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_conflicts),
    cmocka_unit_test(test_caps),
    cmocka_unit_test(test_fingerprints),
    cmocka_unit_test(test_pep_reads),
    cmocka_unit_test(test_membership),
    cmocka_unit_test(test_lifecycle),
    cmocka_unit_test(test_bounded_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
