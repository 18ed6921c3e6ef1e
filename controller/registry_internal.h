/* What registry.c (the tables and what XMPP reports) and registry_rules.c
 * (the decisions and pins) share.  Not for the rest of the controller. */
#ifndef IPOP_CONTROLLER_REGISTRY_INTERNAL_H
#define IPOP_CONTROLLER_REGISTRY_INTERNAL_H

#include "log.h"
#include "registry.h"

#define M "identity"

enum { C_BUCKETS = 4096, N_BUCKETS = 4096, XMPP_SUB_BOTH_ = 3 /* enum xmpp_subscription */ };

struct reg_occ {
  char jid[REG_JID_LEN];            /* real full JID */
  struct reg_contact *ct;
  struct reg_node *node;            /* NULL: no (accepted) node id */
  uint64_t stale_ms;                /* not back after our rejoin since then */
  bool seen;                        /* reported in this session */
};

struct reg_room {
  char jid[REG_JID_LEN];
  bool used;
  struct reg_occ *occ;
  size_t n, cap;
};

struct registry {
  struct registry_config cfg;
  struct reg_contact *own;
  struct reg_contact *cbucket[C_BUCKETS];
  struct reg_contact *contacts;     /* all of them, to walk without the buckets */
  size_t n_contacts;
  struct reg_node **nodes;          /* REG_MAX_NODES */
  size_t n_nodes;
  struct reg_node *by_id[N_BUCKETS], *by_jid[N_BUCKETS];
  struct reg_room rooms[REG_MAX_ROOMS];
  char **blocked;
  size_t n_blocked;
  uint64_t login_ms;                /* presences are settling since then */
  size_t n_refetch;                 /* contacts with REG_C_REFETCH */
  struct reg_counters ctr;
  struct ipop_ratelimit rl_claim, rl_fpr, rl_pep;
};

/* registry.c */
bool reg__same_bare(const char *a, const char *b);
bool reg__is_ours(const struct registry *r, const char *jid);
/* Our own account, a mutual contact, or an occupant of one of our rooms. */
bool reg__relevant(const struct reg_contact *c);
const struct reg_item *reg__item_of(const struct reg_contact *c, const char *id);
const char *reg__owner_of(const struct registry *r, const char *id);
/* Ask for c's PEP items: now, or once REG_PEP_REFETCH_MS have passed since
 * the last request (registry_expire asks then). */
void reg__want_items(struct registry *r, struct reg_contact *c, uint64_t now);
void reg__node_free(struct registry *r, struct reg_node *n);

#endif
