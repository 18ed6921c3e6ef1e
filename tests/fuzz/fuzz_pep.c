/* libFuzzer target for the PEP identity items once parsed (controller/
 * registry.c, registry_rules.c): what contacts publish, retract and
 * announce, as the XMPP library reports it, in any order and mixed with
 * presences, roster pushes, block lists, signals, fingerprint checks,
 * reconnects and time passing.  (The XML of PEP events and answers is
 * fuzzed by fuzz_xmpp_stanza.)  The input is a program of one-byte
 * operations over a few accounts, resources, node ids and fingerprints,
 * sometimes with raw strings from the input.  After each operation:
 *  - every node is found under its id, and the full JID speaking for it
 *    belongs to its owner's account;
 *  - a published fingerprint for (account, node id) is one that account
 *    itself published for that id: no account's items bind another's;
 *  - the tables stay within their limits.
 * Nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const accounts[] = { "alice@xmpp.test", "bob@xmpp.test",
                                        "mallory@xmpp.test", "carol@xmpp.test",
                                        "eve@xmpp.test" };
static const char *const ids[] = {
  "a0000000000000000000000000000000", "b0000000000000000000000000000000",
  "b2000000000000000000000000000000", "c0000000000000000000000000000000",
  "e0000000000000000000000000000000", "not a node id",
};
static const char *const fprs[] = {
  "sha-256 AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA:AA",
  "sha-256 BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB:BB",
  "sha-256 EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE:EE",
  "md5 00",
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

struct prog {
  const uint8_t *p, *end;
  char raw[4][48];   /* raw strings taken from the input */
  unsigned nraw;
};

static unsigned byte(struct prog *g)
{
  return g->p < g->end ? *g->p++ : 0;
}

/* A string from the input: up to 40 bytes, to the next 0 byte. */
static const char *raw(struct prog *g)
{
  char *s = g->raw[g->nraw++ % 4];
  size_t n = 0;
  while (g->p < g->end && n < 40 && *g->p)
    s[n++] = (char)*g->p++;
  if (g->p < g->end)
    g->p++;
  s[n] = '\0';
  return s;
}

static const char *pick(struct prog *g, const char *const *set, size_t n)
{
  unsigned b = byte(g);
  return b == 255 ? raw(g) : set[b % n];
}

/* Every (account, id, fingerprint) the input published. */
struct pub {
  char jid[48], id[48], fpr[128];
};
static struct pub pubs[4096];
static size_t npubs;

static void remember(const char *jid, const char *id, const char *fpr)
{
  if (npubs < N(pubs)) {
    snprintf(pubs[npubs].jid, sizeof pubs[0].jid, "%s", jid);
    snprintf(pubs[npubs].id, sizeof pubs[0].id, "%s", id);
    snprintf(pubs[npubs].fpr, sizeof pubs[0].fpr, "%s", fpr);
    npubs++;
  }
}

static bool was_published(const char *jid, const char *id, const char *fpr)
{
  for (size_t i = 0; i < npubs; i++)
    if (strcasecmp(pubs[i].jid, jid) == 0 && strcmp(pubs[i].id, id) == 0 &&
        strcmp(pubs[i].fpr, fpr) == 0)
      return true;
  return npubs == N(pubs);  /* no longer tracked */
}

static void check(struct registry *r)
{
  size_t n = registry_node_count(r);
  if (n > REG_MAX_NODES)
    abort();
  for (size_t i = 0; i < n; i++) {
    struct reg_node *node = registry_node_at(r, i);
    if (!node || registry_node(r, node->id) != node || !node->owner)
      abort();
    const char *own = node->owner->jid;
    size_t len = strlen(own);
    if (node->jid[0] &&
        (strncasecmp(node->jid, own, len) != 0 || node->jid[len] != '/'))
      abort();
    if (node->owner->n_items > REG_MAX_NODES_PER_JID)
      abort();
  }
  /* Every item an account holds (a superset of what registry_published
   * answers for the nodes' ids), found with one look-up per account
   * rather than one per account and node. */
  for (size_t a = 0; a < N(accounts); a++) {
    const struct reg_contact *c = registry_contact(r, accounts[a]);
    for (size_t i = 0; c && i < c->n_items; i++)
      if (!was_published(accounts[a], c->items[i].node_id, c->items[i].fpr))
        abort();
  }
  if (registry_contact_count(r) > REG_MAX_CONTACTS)
    abort();
}

static void h_fetch(void *ctx, const char *jid) {}
static void h_gone(void *ctx, const struct reg_node *n) {}
static bool h_busy(void *ctx, const struct reg_node *n)
{
  return (n->id[1] & 1) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int once;
  if (!once) {
    ipop_log_init("fuzz_pep", IPOP_LOG_ERROR);
    once = 1;
  }
  if (size < 1)
    return 0;
  npubs = 0;
  struct registry_config cfg = {
    .trust_mode = data[0] % 3,
    .hooks = { .fetch = h_fetch, .node_gone = h_gone, .node_busy = h_busy },
  };
  snprintf(cfg.own_jid, sizeof cfg.own_jid, "%s", accounts[0]);
  snprintf(cfg.own_node, sizeof cfg.own_node, "%s", ids[0]);
  snprintf(cfg.roster_group, sizeof cfg.roster_group, "lab");
  char why[256];
  struct registry *r = NULL;
  if (trust_open(&cfg.trust, NULL, why, sizeof why) != 0 ||
      registry_create(&r, &cfg) != 0)
    abort();
  const char *g[] = { "lab" };
  registry_roster_begin(r);
  registry_roster_item(r, accounts[1], 3, g, 1);
  registry_roster_item(r, accounts[2], 3, g, 1);
  registry_roster_item(r, accounts[3], 3, NULL, 0);
  registry_roster_end(r);
  registry_online(r, 0);

  struct prog gp = { .p = data + 1, .end = data + size }, *pg = &gp;
  uint64_t now = 1000;
  char full[96];
  while (pg->p < pg->end) {
    unsigned op = byte(pg) % 11;
    const char *acct = pick(pg, accounts, N(accounts));
    switch (op) {
    case 0: {  /* presence of a resource, with or without a node id */
      unsigned b = byte(pg);
      snprintf(full, sizeof full, "%s/r%u", acct, b & 3);
      const char *id = b & 4 ? NULL : pick(pg, ids, N(ids));
      bool fresh;
      registry_presence(r, full, id, NULL, !(b & 8), now, &fresh);
      break;
    }
    case 1: {  /* PEP items: a notification or a whole list */
      unsigned b = byte(pg), n = b % 5;
      const char *pi[4], *pf[4];
      for (unsigned i = 0; i < n && i < 4; i++) {
        pi[i] = pick(pg, ids, N(ids));
        pf[i] = pick(pg, fprs, N(fprs));
        remember(acct, pi[i], pf[i]);
      }
      registry_pep_items(r, acct, pi, pf, n < 4 ? n : 4, b & 8, now);
      break;
    }
    case 2: {  /* retractions */
      const char *pi[2] = { pick(pg, ids, N(ids)), pick(pg, ids, N(ids)) };
      registry_pep_retract(r, acct, pi, 1 + byte(pg) % 2);
      break;
    }
    case 3:
      registry_pep_failed(r, acct, byte(pg) & 1 ? "forbidden" : "item-not-found", now);
      break;
    case 4: {  /* a signal from a resource */
      snprintf(full, sizeof full, "%s/r%u", acct, byte(pg) & 3);
      struct reg_node *node;
      registry_signal_sender(r, full, &node);
      break;
    }
    case 5: {  /* a fingerprint presented in a negotiation */
      struct reg_node *node = registry_node(r, pick(pg, ids, N(ids)));
      const char *f = pick(pg, fprs, N(fprs));
      if (node)
        registry_check_fpr(r, node, f, now, why, sizeof why);
      break;
    }
    case 6:  /* time passes */
      now += (uint64_t)byte(pg) * 1000;
      registry_expire(r, now);
      break;
    case 7: {  /* a roster push */
      unsigned b = byte(pg);
      registry_roster_item(r, acct, b % 5, b & 8 ? g : NULL, b & 8 ? 1 : 0);
      break;
    }
    case 8:  /* the XMPP session drops and comes back */
      registry_offline(r, now);
      registry_online(r, now);
      break;
    case 9: {  /* block or unblock an account */
      const char *j[1] = { acct };
      registry_blocklist(r, j, 1, byte(pg) & 1, false);
      break;
    }
    default: {  /* pin or unpin by hand */
      const char *id = pick(pg, ids, N(ids));
      if (byte(pg) & 1)
        registry_trust(r, acct, id, NULL, why, sizeof why);
      else
        registry_untrust(r, acct, id, why, sizeof why);
      break;
    }
    }
    check(r);
  }
  registry_free(r);
  return 0;
}
