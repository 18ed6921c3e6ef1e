/* registry: who is who.  The one owner of peer identity in the controller
 * (docs/controller.md, "Identity"; docs/security.md).
 *
 * The XMPP library reports what the server says: roster items, presences,
 * room occupants, PEP items, the block list.  The registry keeps them and
 * decides, in one place:
 *
 *  - who a node is: a node id belongs to the bare JID (the account, as the
 *    server stamped it) that announced it first - in presence, in a room,
 *    in its PEP items or in a pin of known_nodes.  Another account's claim
 *    of the same id is a conflict: refused, logged naming both JIDs and
 *    counted.  The first owner keeps the id while it is known (online, in
 *    its offline grace, published or pinned).  Only mutual contacts, our
 *    own account and occupants of the rooms we are in can claim ids.
 *  - who may signal: a full JID whose own announced (and accepted) node id
 *    it speaks for, not blocked.  A JID with no node id gets no link.
 *  - who may be linked on an overlay (scope): roster GroupVPN = a mutual
 *    contact in the roster group (or our own account); SocialVPN = a mutual
 *    contact; a group over a room = an occupant of that room.  Blocked
 *    JIDs never; offline nodes only while an up link is in its grace.
 *  - which DTLS fingerprint a node may present: the one pinned in
 *    known_nodes (Controller.Trust "tofu"/"pinned"), else the one its
 *    account published over PEP, else (tofu) the first one used, which is
 *    then pinned.  "open" checks nothing (the old behaviour).
 *
 * Entries have a lifecycle: a node is freed when its account is no longer
 * a contact or occupant, or when it stayed offline past the grace period;
 * every table is bounded (limits below), so no contact can grow the
 * controller's memory by changing node ids.
 *
 * No sockets or timers: time comes in as now_ms, and what must happen
 * outside (fetch an account's PEP items, forget a node's links) goes out
 * through the hooks.  Its only I/O is known_nodes (trust.h) and the log,
 * where every refusal names the JIDs.  Unit tests:
 * tests/unit/controller/test_registry.c. */
#ifndef IPOP_CONTROLLER_REGISTRY_H
#define IPOP_CONTROLLER_REGISTRY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "nodeid.h"
#include "trust.h"

enum {
  REG_JID_LEN = 512,                /* JIDs we keep (longer ones are ignored) */
  REG_MAX_CONTACTS = 8192,          /* bare JIDs: roster + room occupants */
  REG_MAX_NODES = 1024,             /* peer nodes */
  REG_MAX_NODES_PER_JID = 16,       /* nodes of one account (= PEP items) */
  REG_MAX_ROOMS = 16,               /* rooms we are in (one overlay each) */
  REG_MAX_OCCUPANTS = 256,          /* per room */
  REG_MAX_BLOCKED = 4096,           /* block list items */
  REG_GRACE_MS = 120000,            /* an offline node's up link stays this long */
  REG_PEP_WAIT_MS = 10000,          /* an unanswered read of an account's items
                                       holds its nodes' first links at most this long */
  REG_PEP_REFETCH_MS = 1000,        /* between fetches of one account's items */
  REG_SETTLE_MS = 10000,            /* after a login, presences not reported
                                       again by then are gone */
};

enum reg_trust_mode { REG_TRUST_TOFU, REG_TRUST_PINNED, REG_TRUST_OPEN };
extern const char *const reg_trust_names[]; /* "tofu", "pinned", "open" */

enum reg_scope_kind { REG_SCOPE_ROSTER, REG_SCOPE_SOCIAL, REG_SCOPE_ROOM };

/* Where a link would be: the configured overlay (roster group or social)
 * or the overlay of one room (registry_room_add's index). */
struct reg_scope {
  int kind;                         /* enum reg_scope_kind */
  int room;
};

/* What the registry knows of an account's PEP items. */
enum reg_pep { REG_PEP_UNKNOWN, REG_PEP_FETCHING, REG_PEP_READ, REG_PEP_UNREADABLE };

struct reg_item {                   /* one published item */
  char node_id[NODEID_BUF];
  char fpr[CTL_FPR_LEN];
};

/* An account: roster contact, room occupant, or our own. */
struct reg_contact {
  char jid[REG_JID_LEN];            /* bare */
  int subscription;                 /* enum xmpp_subscription (roster) */
  uint32_t flags;                   /* REG_C_* */
  int pep;                          /* enum reg_pep */
  char pep_cond[32];                /* why unreadable */
  uint64_t pep_ms;                  /* last fetch asked */
  struct reg_item *items;           /* published, at most REG_MAX_NODES_PER_JID */
  size_t n_items;
  unsigned n_nodes;                 /* node records owned */
  unsigned n_occ;                   /* room occupancies */
  struct reg_contact *hnext;        /* (hash chain) */
  struct reg_contact *prev, *next;  /* (list of all contacts) */
};
#define REG_C_ROSTER 0x1u           /* on our roster */
#define REG_C_IN_GROUP 0x2u         /* in the roster group */
#define REG_C_SEEN 0x4u             /* listed by the running full roster read */
#define REG_C_OWN 0x8u              /* our own account */
#define REG_C_REFETCH 0x10u         /* read its items again once REG_PEP_REFETCH_MS
                                       have passed since the last read */

/* A peer node: a node id announced by a full JID of its account. */
struct reg_node {
  char id[NODEID_BUF];
  char jid[REG_JID_LEN];            /* full JID speaking for it, "" if none */
  char prev[REG_JID_LEN];           /* the one it had before another resource of
                                       its account took it over, while that is
                                       still online: it speaks again if the
                                       newer one leaves */
  struct reg_contact *owner;
  uint32_t flags;                   /* REG_N_* */
  uint32_t rooms;                   /* bit r: a present occupant of room r */
  struct in_addr caps_ip4;          /* roster GroupVPN: address from caps */
  struct in6_addr caps_ip6;         /* ... and the IPv6 one ("ip6=") */
  uint64_t online_ms;               /* when it came (back) */
  uint64_t offline_ms;              /* when it went */
  size_t idx;                       /* (position in the node table) */
  struct reg_node *hnext_id, *hnext_jid;
};
#define REG_N_PRESENCE 0x1u         /* presence available */
#define REG_N_CAPS_IP4 0x2u         /* caps_ip4 is set */
#define REG_N_UNCONFIRMED 0x4u      /* presence from before a reconnect */
#define REG_N_CAPS_IP6 0x8u         /* caps_ip6 is set */

/* Online: presence or an occupancy of a room we are in. */
static inline bool reg_node_online(const struct reg_node *n)
{
  return (n->flags & REG_N_PRESENCE) || n->rooms;
}

/* Hooks to the rest of the controller (all optional). */
struct reg_hooks {
  /* Ask for an account's PEP items (xmpp_pep_fetch); answer with
   * registry_pep_items() or registry_pep_failed(). */
  void (*fetch)(void *ctx, const char *bare_jid);
  /* A node record goes away: forget everything keyed by its id. */
  void (*node_gone)(void *ctx, const struct reg_node *n);
  /* Does anything (a link, a negotiation) still use the node? */
  bool (*node_busy)(void *ctx, const struct reg_node *n);
  void *ctx;
};

struct registry_config {
  char own_jid[REG_JID_LEN];        /* our bare JID */
  char own_node[NODEID_BUF];
  char roster_group[256];           /* REG_SCOPE_ROSTER: members' group */
  int trust_mode;                   /* enum reg_trust_mode */
  struct trust *trust;              /* pins; owned by the registry afterwards */
  struct reg_hooks hooks;
};

struct reg_counters {
  uint64_t conflicts;               /* node ids claimed by a second account */
  uint64_t fpr_refused;             /* fingerprints refused (pin, PEP, pinned mode) */
  uint64_t fpr_pinned;              /* pinned on first use */
  uint64_t signals_unbound;         /* signals from a JID without a node id of its own */
  uint64_t signals_blocked;         /* signals from a blocked JID */
  uint64_t signals_stranger;        /* from JIDs that are no contact or occupant */
  uint64_t nodes_evicted;           /* freed early to stay within the limits */
  uint64_t nodes_refused;           /* not created: table full */
};

struct registry;

int registry_create(struct registry **out, const struct registry_config *cfg);
void registry_free(struct registry *r);
const struct registry_config *registry_config(const struct registry *r);
struct trust *registry_trust_store(struct registry *r);
void registry_counters(const struct registry *r, struct reg_counters *out);

/* ---- what XMPP reports ---------------------------------------------------- */

/* The XMPP session ended: what presence said stays until the next login
 * (links keep working); fetches in flight are forgotten. */
void registry_offline(struct registry *r, uint64_t now_ms);
/* Logged in (again): presences not reported again within REG_SETTLE_MS
 * are gone (registry_expire). */
void registry_online(struct registry *r, uint64_t now_ms);
/* Roster: a full read (begin, items, end drops the unlisted) or pushes. */
void registry_roster_begin(struct registry *r);
void registry_roster_item(struct registry *r, const char *bare_jid, int subscription,
                          const char *const *groups, size_t ngroups);
void registry_roster_end(struct registry *r);
/* Block list (XEP-0191 items: full JID, bare JID or domain); full: the
 * items replace the list. */
void registry_blocklist(struct registry *r, const char *const *jids, size_t n, bool blocked,
                        bool full);
bool registry_blocked(const struct registry *r, const char *jid);
size_t registry_blocked_count(const struct registry *r);
const char *registry_blocked_at(const struct registry *r, size_t i);

/* Presence of a full JID: with node_id (may be NULL) and caps (may be
 * NULL).  Returns the node the JID now speaks for, or NULL (no node id,
 * refused, not a contact).  *fresh: the node came online or under a new
 * JID (restart negotiations that waited). */
struct reg_node *registry_presence(struct registry *r, const char *full_jid,
                                   const char *node_id, const char *caps, bool available,
                                   uint64_t now_ms, bool *fresh);

/* Rooms we are in (one per group overlay); the index is a reg_scope's. */
int registry_room_add(struct registry *r, const char *room_jid);
void registry_room_remove(struct registry *r, int room);
int registry_room_find(const struct registry *r, const char *room_jid);
/* We (re)joined: occupants not reported again by then are stale and go
 * after the grace period. */
void registry_room_rejoined(struct registry *r, int room, uint64_t now_ms);
/* An occupant (real full JID) came, changed or left; node_id may be NULL
 * (a chat client).  Like registry_presence. */
struct reg_node *registry_occupant(struct registry *r, int room, const char *full_jid,
                                   const char *node_id, bool available, uint64_t now_ms,
                                   bool *fresh);
/* Occupants of a room, for listings: full JID, node (or NULL), present. */
size_t registry_room_count(const struct registry *r, int room);
bool registry_room_at(const struct registry *r, int room, size_t i, const char **jid,
                      const struct reg_node **node, bool *present);

/* PEP items of an account.  full: the whole list (a fetch answer),
 * replacing what was known; else new or changed items.  Items whose node
 * id belongs to another account are refused (conflicts). */
void registry_pep_items(struct registry *r, const char *bare_jid, const char *const *ids,
                        const char *const *fprs, size_t n, bool full, uint64_t now_ms);
void registry_pep_retract(struct registry *r, const char *bare_jid, const char *const *ids,
                          size_t n);
void registry_pep_failed(struct registry *r, const char *bare_jid, const char *condition,
                         uint64_t now_ms);
/* The fingerprint bare_jid published for node_id, or NULL. */
const char *registry_published(const struct registry *r, const char *bare_jid,
                               const char *node_id);

/* ---- decisions -------------------------------------------------------------- */

/* Our own account, or a roster contact with subscription both. */
bool registry_is_mutual(const struct registry *r, const char *jid);

enum reg_sig { REG_SIG_OK, REG_SIG_BLOCKED, REG_SIG_STRANGER, REG_SIG_UNBOUND };
/* May full_jid signal us, and for which node?  Counts refusals. */
int registry_signal_sender(struct registry *r, const char *full_jid, struct reg_node **node);

/* May node n be linked in scope?  link_up: it has an up link there (an
 * offline node keeps it for the grace period).  *why (may be NULL) gets a
 * static word for logs when not. */
bool registry_may_link(const struct registry *r, const struct reg_node *n,
                       const struct reg_scope *scope, bool link_up, uint64_t now_ms,
                       const char **why);

enum reg_fpr { REG_FPR_OK, REG_FPR_WAIT, REG_FPR_REFUSED };
/* May node n present fingerprint fpr in a negotiation?  OK (tofu: pinned
 * now if it was not), WAIT (its account's PEP items are being read: ask
 * again within seconds), or REFUSED (why names the JID and both
 * fingerprints; the fingerprint is kept as pending for `ipopctl trust`). */
int registry_check_fpr(struct registry *r, const struct reg_node *n, const char *fpr,
                       uint64_t now_ms, char *why, size_t whylen);

/* ---- trust (ipopctl known/trust/untrust) ------------------------------------ */

/* Pin fpr (NULL: the pending fingerprint, else the published one) for
 * (bare_jid, node_id) and save known_nodes.  IPOP_ENOENT if there is
 * nothing to pin, IPOP_EINVAL for bad arguments; why says which. */
int registry_trust(struct registry *r, const char *bare_jid, const char *node_id,
                   const char *fpr, char *why, size_t whylen);
/* Forget the pin (and a pending fingerprint) and save. */
int registry_untrust(struct registry *r, const char *bare_jid, const char *node_id,
                     char *why, size_t whylen);

/* ---- lookups and lifecycle ------------------------------------------------ */

struct reg_node *registry_node(const struct registry *r, const char *node_id);
struct reg_node *registry_node_by_jid(const struct registry *r, const char *full_jid);
struct reg_contact *registry_contact(const struct registry *r, const char *jid);
size_t registry_node_count(const struct registry *r);
struct reg_node *registry_node_at(const struct registry *r, size_t i);
size_t registry_contact_count(const struct registry *r);

/* Free nodes whose account is no contact or occupant any more, nodes
 * offline past the grace period (unless busy), stale occupants, and
 * contacts that hold nothing; end the settling after a login.  Returns
 * how many things changed (0: nothing to re-evaluate). */
size_t registry_expire(struct registry *r, uint64_t now_ms);

#endif
