/* Who is who: accounts, their nodes, rooms, the block list, published and
 * pinned fingerprints, and every rule about them (registry.h). */
#include "registry.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr6.h"
#include "error.h"
#include "grow.h"
#include "hash.h"
#include "log.h"
#include "registry_internal.h"
#include "sigmsg.h"

const char *const reg_trust_names[] = { "tofu", "pinned", "open", NULL };

/* ---- JIDs and hashing ------------------------------------------------------- */

static size_t bare_len(const char *jid)
{
  return strcspn(jid, "/");
}

bool reg__same_bare(const char *a, const char *b)
{
  size_t na = bare_len(a), nb = bare_len(b);
  return na == nb && strncasecmp(a, b, na) == 0;
}

/* Same full JID: bare part case-insensitive, resource exact. */
static bool same_full(const char *a, const char *b)
{
  size_t na = bare_len(a);
  return reg__same_bare(a, b) && strcmp(a + na, b + bare_len(b)) == 0;
}

/* FNV-1a; the bare part folded to lower case. */
static uint32_t hash_jid(const char *jid, bool full)
{
  uint32_t h = IPOP_FNV1A_INIT;
  size_t nb = bare_len(jid);
  for (size_t i = 0; jid[i] && (full || i < nb); i++)
    h = ipop_fnv1a_add(h, (uint8_t)(i < nb ? tolower((unsigned char)jid[i]) : jid[i]));
  return h;
}

/* ---- contacts ----------------------------------------------------------------- */

struct reg_contact *registry_contact(const struct registry *r, const char *jid)
{
  for (struct reg_contact *c = r->cbucket[hash_jid(jid, false) % C_BUCKETS]; c; c = c->hnext)
    if (reg__same_bare(c->jid, jid))
      return c;
  return NULL;
}

static struct reg_contact *contact_get(struct registry *r, const char *jid)
{
  struct reg_contact *c = registry_contact(r, jid);
  size_t n = bare_len(jid);
  if (c || n == 0 || n >= REG_JID_LEN || r->n_contacts >= REG_MAX_CONTACTS)
    return c;
  c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  memcpy(c->jid, jid, n);
  struct reg_contact **b = &r->cbucket[hash_jid(jid, false) % C_BUCKETS];
  c->hnext = *b;
  *b = c;
  c->next = r->contacts;
  if (c->next)
    c->next->prev = c;
  r->contacts = c;
  r->n_contacts++;
  return c;
}

bool reg__relevant(const struct reg_contact *c)
{
  return (c->flags & REG_C_OWN) ||
         ((c->flags & REG_C_ROSTER) && c->subscription == XMPP_SUB_BOTH_) || c->n_occ;
}

/* Mark c for a deferred read of its items (registry_expire), or unmark it. */
static void set_refetch(struct registry *r, struct reg_contact *c, bool on)
{
  if (!(c->flags & REG_C_REFETCH) == !on)
    return;
  c->flags ^= REG_C_REFETCH;
  if (on)
    r->n_refetch++;
  else
    r->n_refetch--;
}

static void contact_maybe_free(struct registry *r, struct reg_contact *c)
{
  if ((c->flags & (REG_C_ROSTER | REG_C_OWN)) || c->n_nodes || c->n_occ)
    return;
  for (struct reg_contact **p = &r->cbucket[hash_jid(c->jid, false) % C_BUCKETS]; *p;
       p = &(*p)->hnext)
    if (*p == c) {
      *p = c->hnext;
      break;
    }
  if (c->prev)
    c->prev->next = c->next;
  else
    r->contacts = c->next;
  if (c->next)
    c->next->prev = c->prev;
  r->n_contacts--;
  set_refetch(r, c, false);
  free(c->items);
  free(c);
}

size_t registry_contact_count(const struct registry *r)
{
  return r->n_contacts;
}

bool registry_is_mutual(const struct registry *r, const char *jid)
{
  const struct reg_contact *c = registry_contact(r, jid);
  return c && ((c->flags & REG_C_OWN) ||
               ((c->flags & REG_C_ROSTER) && c->subscription == XMPP_SUB_BOTH_));
}

/* ---- nodes -------------------------------------------------------------------- */

struct reg_node *registry_node(const struct registry *r, const char *node_id)
{
  for (struct reg_node *n = r->by_id[ipop_fnv1a(node_id) % N_BUCKETS]; n; n = n->hnext_id)
    if (strcmp(n->id, node_id) == 0)
      return n;
  return NULL;
}

struct reg_node *registry_node_by_jid(const struct registry *r, const char *full_jid)
{
  for (struct reg_node *n = r->by_jid[hash_jid(full_jid, true) % N_BUCKETS]; n;
       n = n->hnext_jid)
    if (n->jid[0] && same_full(n->jid, full_jid))
      return n;
  return NULL;
}

size_t registry_node_count(const struct registry *r)
{
  return r->n_nodes;
}

struct reg_node *registry_node_at(const struct registry *r, size_t i)
{
  return i < r->n_nodes ? r->nodes[i] : NULL;
}

static void unhash_jid(struct registry *r, struct reg_node *n)
{
  if (!n->jid[0])
    return;
  for (struct reg_node **p = &r->by_jid[hash_jid(n->jid, true) % N_BUCKETS]; *p;
       p = &(*p)->hnext_jid)
    if (*p == n) {
      *p = n->hnext_jid;
      break;
    }
  n->jid[0] = '\0';
}

static void set_jid(struct registry *r, struct reg_node *n, const char *full_jid)
{
  unhash_jid(r, n);
  snprintf(n->jid, sizeof n->jid, "%s", full_jid);
  struct reg_node **b = &r->by_jid[hash_jid(n->jid, true) % N_BUCKETS];
  n->hnext_jid = *b;
  *b = n;
}

/* Keep online_ms/offline_ms right across a change of flags or rooms. */
static void set_online(struct reg_node *n, bool was, uint64_t now)
{
  bool is = reg_node_online(n);
  if (was && !is)
    n->offline_ms = now;
  else if (!was && is)
    n->online_ms = now;
}

void reg__node_free(struct registry *r, struct reg_node *n)
{
  if (r->cfg.hooks.node_gone)
    r->cfg.hooks.node_gone(r->cfg.hooks.ctx, n);
  for (int i = 0; i < REG_MAX_ROOMS; i++)
    for (size_t k = 0; k < r->rooms[i].n; k++)
      if (r->rooms[i].occ[k].node == n)
        r->rooms[i].occ[k].node = NULL;
  unhash_jid(r, n);
  for (struct reg_node **p = &r->by_id[ipop_fnv1a(n->id) % N_BUCKETS]; *p; p = &(*p)->hnext_id)
    if (*p == n) {
      *p = n->hnext_id;
      break;
    }
  r->nodes[n->idx] = r->nodes[--r->n_nodes];
  r->nodes[n->idx]->idx = n->idx;
  struct reg_contact *c = n->owner;
  c->n_nodes--;
  free(n);
  contact_maybe_free(r, c);
}

/* A new node record for c; beyond c's share, its node offline longest
 * goes (a contact changing node ids cannot grow the table). */
static struct reg_node *node_new(struct registry *r, struct reg_contact *c, const char *id)
{
  if (c->n_nodes >= REG_MAX_NODES_PER_JID) {
    struct reg_node *old = NULL;
    for (size_t i = 0; i < r->n_nodes; i++) {
      struct reg_node *m = r->nodes[i];
      if (m->owner == c && !reg_node_online(m) && (!old || m->offline_ms < old->offline_ms))
        old = m;
    }
    if (!old) {
      r->ctr.nodes_refused++;
      return NULL;
    }
    r->ctr.nodes_evicted++;
    reg__node_free(r, old);
  }
  if (r->n_nodes >= REG_MAX_NODES) {
    r->ctr.nodes_refused++;
    ipop_log_rl(&r->rl_claim, IPOP_LOG_WARN, M, "node table full (%d): %s's node %.8s ignored",
                REG_MAX_NODES, c->jid, id);
    return NULL;
  }
  struct reg_node *n = calloc(1, sizeof *n);
  if (!n)
    return NULL;
  snprintf(n->id, sizeof n->id, "%s", id);
  n->owner = c;
  c->n_nodes++;
  n->idx = r->n_nodes;
  r->nodes[r->n_nodes++] = n;
  struct reg_node **b = &r->by_id[ipop_fnv1a(id) % N_BUCKETS];
  n->hnext_id = *b;
  *b = n;
  return n;
}

/* The account a node id belongs to, or NULL: the one that announced it
 * (its node record), or the one it is pinned to. */
const char *reg__owner_of(const struct registry *r, const char *id)
{
  const struct reg_node *n = registry_node(r, id);
  if (n)
    return n->owner->jid;
  const struct trust_pin *p = r->cfg.trust_mode != REG_TRUST_OPEN && r->cfg.trust
                                  ? trust_find_node(r->cfg.trust, id)
                                  : NULL;
  return p ? p->jid : NULL;
}

/* The JID no longer speaks for the node it did (it announced another id,
 * or none). */
static void unbind(struct registry *r, const char *full_jid, uint64_t now)
{
  struct reg_node *m = registry_node_by_jid(r, full_jid);
  if (!m)
    return;
  bool was = reg_node_online(m);
  unhash_jid(r, m);
  m->flags &= ~(REG_N_PRESENCE | REG_N_UNCONFIRMED);
  m->rooms = 0;
  set_online(m, was, now);
}

/* Bits of the rooms where n's JID is a present occupant. */
static void update_rooms(struct registry *r, struct reg_node *n, uint64_t now)
{
  bool was = reg_node_online(n);
  n->rooms = 0;
  for (int i = 0; i < REG_MAX_ROOMS && n->jid[0]; i++)
    for (size_t k = 0; r->rooms[i].used && k < r->rooms[i].n; k++) {
      const struct reg_occ *o = &r->rooms[i].occ[k];
      if (o->node == n && !o->stale_ms && same_full(o->jid, n->jid))
        n->rooms |= 1u << i;
    }
  set_online(n, was, now);
}

bool reg__is_ours(const struct registry *r, const char *jid)
{
  return reg__same_bare(jid, r->cfg.own_jid);
}

/* full_jid (of account c) announced node id `id`: the node it now speaks
 * for, or NULL when the claim is refused. */
static struct reg_node *claim(struct registry *r, struct reg_contact *c, const char *full_jid,
                              const char *id, uint64_t now, bool *fresh)
{
  if (!nodeid_valid(id)) {
    ipop_log_rl(&r->rl_claim, IPOP_LOG_WARN, M, "%s announces a malformed node id", full_jid);
    return NULL;
  }
  if (strcmp(id, r->cfg.own_node) == 0) {
    if (!reg__is_ours(r, full_jid))
      r->ctr.conflicts++;
    ipop_log_rl(&r->rl_claim, IPOP_LOG_WARN, M, "%s announces our own node id %.8s: %s",
                full_jid, id,
                reg__is_ours(r, full_jid) ? "two controllers share one StateDir?" : "refused");
    return NULL;
  }
  const char *owner = reg__owner_of(r, id);
  if (owner && !reg__same_bare(owner, c->jid)) {
    r->ctr.conflicts++;
    ipop_log_rl(&r->rl_claim, IPOP_LOG_WARN, M,
                "conflict: %s announces node id %.8s, which is %s's (%s): refused", full_jid,
                id, owner, registry_node(r, id) ? "announced by it first" : "pinned in known_nodes");
    return NULL;
  }
  struct reg_node *n = registry_node(r, id);
  if (!n && !(n = node_new(r, c, id)))
    return NULL;
  struct reg_node *m = registry_node_by_jid(r, full_jid);
  if (m && m != n)
    unbind(r, full_jid, now);
  *fresh = !n->jid[0] || !same_full(n->jid, full_jid);
  if (*fresh && n->jid[0] && (n->flags & REG_N_PRESENCE)) {
    LOG_DEBUG(M, "node %.8s: %s speaks for it now, not %s", id, full_jid, n->jid);
    snprintf(n->prev, sizeof n->prev, "%s", n->jid);
  }
  if (same_full(n->prev, full_jid))
    n->prev[0] = '\0';
  if (*fresh)
    set_jid(r, n, full_jid);
  return n;
}

/* An account's items are read (fetch) when one of its nodes shows up
 * without an item of its own, or it claims another's node id (its PEP node
 * may claim it too, and a notification can be missed); at most once per
 * REG_PEP_REFETCH_MS: a later want is kept for registry_expire. */
void reg__want_items(struct registry *r, struct reg_contact *c, uint64_t now)
{
  if (!r->cfg.hooks.fetch || r->cfg.trust_mode == REG_TRUST_OPEN)
    return;
  bool soon = c->pep_ms && now - c->pep_ms < REG_PEP_REFETCH_MS;
  set_refetch(r, c, soon);
  if (soon)
    return;
  c->pep = REG_PEP_FETCHING;
  c->pep_ms = now;
  r->cfg.hooks.fetch(r->cfg.hooks.ctx, c->jid);
}

const struct reg_item *reg__item_of(const struct reg_contact *c, const char *id)
{
  for (size_t i = 0; i < c->n_items; i++)
    if (strcmp(c->items[i].node_id, id) == 0)
      return &c->items[i];
  return NULL;
}

const char *registry_published(const struct registry *r, const char *bare_jid,
                               const char *node_id)
{
  const struct reg_contact *c = registry_contact(r, bare_jid);
  const struct reg_item *it = c ? reg__item_of(c, node_id) : NULL;
  return it ? it->fpr : NULL;
}

/* The address of `key` in caps text "ip4=A.B.C.D ip6=X ...": words
 * separated by single spaces, unknown keys skipped.  False if absent or not
 * an address of family af. */
static bool caps_value(const char *caps, const char *key, int af, void *out)
{
  size_t kl = strlen(key);
  for (const char *w = caps; w && *w; w = strchr(w, ' ') ? strchr(w, ' ') + 1 : NULL) {
    size_t wl = strcspn(w, " ");
    char v[INET6_ADDRSTRLEN];
    if (wl > kl + 1 && wl - kl - 1 < sizeof v && strncmp(w, key, kl) == 0 && w[kl] == '=') {
      memcpy(v, w + kl + 1, wl - kl - 1);
      v[wl - kl - 1] = '\0';
      return inet_pton(af, v, out) == 1;
    }
  }
  return false;
}

struct reg_node *registry_presence(struct registry *r, const char *full_jid,
                                   const char *node_id, const char *caps, bool available,
                                   uint64_t now, bool *fresh)
{
  *fresh = false;
  if (!full_jid || strlen(full_jid) >= REG_JID_LEN || !strchr(full_jid, '/'))
    return NULL;
  if (!available || !node_id) {
    struct reg_node *m = registry_node_by_jid(r, full_jid);
    for (size_t i = 0; !m && !available && i < r->n_nodes; i++)
      if (same_full(r->nodes[i]->prev, full_jid))
        r->nodes[i]->prev[0] = '\0'; /* the older resource left too */
    if (m && m->prev[0] && !available) {
      /* The newer of two resources announcing the node left: the older
       * one, still online, speaks for it again. */
      LOG_DEBUG(M, "node %.8s: %s left, %s speaks for it again", m->id, full_jid, m->prev);
      char prev[REG_JID_LEN];
      snprintf(prev, sizeof prev, "%s", m->prev);
      m->prev[0] = '\0';
      set_jid(r, m, prev);
    } else if (m && available) {
      unbind(r, full_jid, now); /* that resource is no IPOP node (any more) */
    } else if (m) {
      bool was = reg_node_online(m);
      m->flags &= ~(REG_N_PRESENCE | REG_N_UNCONFIRMED);
      set_online(m, was, now);
    }
    return NULL;
  }
  struct reg_contact *c = reg__is_ours(r, full_jid) ? r->own : registry_contact(r, full_jid);
  if (!c || !reg__relevant(c))
    return NULL; /* strangers claim nothing */
  struct reg_node *n = claim(r, c, full_jid, node_id, now, fresh);
  if (!n) {
    unbind(r, full_jid, now);
    if (c != r->own)
      reg__want_items(r, c, now); /* does its PEP node claim it too? */
    return NULL;
  }
  bool was = reg_node_online(n);
  /* fresh: under a new JID (claim), or its presence is back (a node may
   * stay online through a room meanwhile, but what waited for its
   * presence starts over now). */
  *fresh = *fresh || !(n->flags & REG_N_PRESENCE);
  n->flags |= REG_N_PRESENCE;
  n->flags &= ~REG_N_UNCONFIRMED;
  set_online(n, was, now);
  struct in_addr a;
  struct in6_addr a6;
  if (caps_value(caps, "ip4", AF_INET, &a)) {
    n->caps_ip4 = a;
    n->flags |= REG_N_CAPS_IP4;
  }
  /* A unicast IPv6 address, or none (an address the node no longer
   * announces is forgotten). */
  n->flags &= ~REG_N_CAPS_IP6;
  if (caps_value(caps, "ip6", AF_INET6, &a6) && addr6_unicast(&a6)) {
    n->caps_ip6 = a6;
    n->flags |= REG_N_CAPS_IP6;
  }
  if (!reg__item_of(c, n->id) && (c->pep == REG_PEP_UNKNOWN || (c->pep == REG_PEP_READ && *fresh)))
    reg__want_items(r, c, now);
  return n;
}

/* ---- rooms --------------------------------------------------------------------- */

int registry_room_find(const struct registry *r, const char *room_jid)
{
  for (int i = 0; i < REG_MAX_ROOMS; i++)
    if (r->rooms[i].used && strcasecmp(r->rooms[i].jid, room_jid) == 0)
      return i;
  return -1;
}

int registry_room_add(struct registry *r, const char *room_jid)
{
  int i = registry_room_find(r, room_jid);
  if (i >= 0)
    return i;
  if (strlen(room_jid) >= REG_JID_LEN)
    return IPOP_EINVAL;
  for (i = 0; i < REG_MAX_ROOMS; i++)
    if (!r->rooms[i].used) {
      snprintf(r->rooms[i].jid, sizeof r->rooms[i].jid, "%s", room_jid);
      r->rooms[i].used = true;
      return i;
    }
  return IPOP_EBUSY;
}

static void occ_remove(struct registry *r, struct reg_room *room, size_t k, uint64_t now)
{
  struct reg_occ o = room->occ[k];
  room->occ[k] = room->occ[--room->n];
  o.ct->n_occ--;
  if (o.node)
    update_rooms(r, o.node, now);
  contact_maybe_free(r, o.ct);
}

void registry_room_remove(struct registry *r, int room)
{
  if (room < 0 || room >= REG_MAX_ROOMS || !r->rooms[room].used)
    return;
  struct reg_room *rm = &r->rooms[room];
  rm->used = false; /* first: update_rooms() then counts it out */
  while (rm->n)
    occ_remove(r, rm, rm->n - 1, ipop_now_ms());
  free(rm->occ);
  memset(rm, 0, sizeof *rm);
}

void registry_room_rejoined(struct registry *r, int room, uint64_t now)
{
  if (room < 0 || room >= REG_MAX_ROOMS || !r->rooms[room].used)
    return;
  struct reg_room *rm = &r->rooms[room];
  for (size_t k = 0; k < rm->n; k++)
    if (!rm->occ[k].seen && !rm->occ[k].stale_ms) {
      rm->occ[k].stale_ms = now;
      if (rm->occ[k].node)
        update_rooms(r, rm->occ[k].node, now);
    }
}

struct reg_node *registry_occupant(struct registry *r, int room, const char *full_jid,
                                   const char *node_id, bool available, uint64_t now,
                                   bool *fresh)
{
  *fresh = false;
  if (room < 0 || room >= REG_MAX_ROOMS || !r->rooms[room].used || !full_jid ||
      strlen(full_jid) >= REG_JID_LEN || !strchr(full_jid, '/'))
    return NULL;
  struct reg_room *rm = &r->rooms[room];
  size_t k = 0;
  while (k < rm->n && !same_full(rm->occ[k].jid, full_jid))
    k++;
  if (!available) {
    if (k < rm->n)
      occ_remove(r, rm, k, now);
    return NULL;
  }
  if (k == rm->n) {
    if (rm->n >= REG_MAX_OCCUPANTS)
      return NULL;
    struct reg_contact *c = reg__is_ours(r, full_jid) ? r->own : contact_get(r, full_jid);
    if (!c)
      return NULL;
    if (ipop_grow(&rm->occ, &rm->cap, rm->n, sizeof *rm->occ, 8)) {
      contact_maybe_free(r, c);
      return NULL;
    }
    memset(&rm->occ[k], 0, sizeof rm->occ[k]);
    snprintf(rm->occ[k].jid, sizeof rm->occ[k].jid, "%s", full_jid);
    rm->occ[k].ct = c;
    c->n_occ++;
    rm->n++;
  }
  struct reg_occ *o = &rm->occ[k];
  o->seen = true;
  o->stale_ms = 0;
  struct reg_node *old = o->node;
  struct reg_node *n = node_id ? claim(r, o->ct, full_jid, node_id, now, fresh) : NULL;
  if (!n)
    unbind(r, full_jid, now);
  if (!n && node_id && o->ct != r->own)
    reg__want_items(r, o->ct, now); /* does its PEP node claim it too? */
  o->node = n;
  if (old && old != n)
    update_rooms(r, old, now);
  if (n) {
    uint32_t before = n->rooms;
    update_rooms(r, n, now);
    *fresh = *fresh || ((n->rooms & ~before) != 0);
    if (!reg__item_of(o->ct, n->id) && o->ct->pep == REG_PEP_UNKNOWN)
      reg__want_items(r, o->ct, now);
  }
  return n;
}

size_t registry_room_count(const struct registry *r, int room)
{
  return room >= 0 && room < REG_MAX_ROOMS ? r->rooms[room].n : 0;
}

bool registry_room_at(const struct registry *r, int room, size_t i, const char **jid,
                      const struct reg_node **node, bool *present)
{
  if (room < 0 || room >= REG_MAX_ROOMS || i >= r->rooms[room].n)
    return false;
  const struct reg_occ *o = &r->rooms[room].occ[i];
  *jid = o->jid;
  *node = o->node;
  *present = !o->stale_ms;
  return true;
}

/* ---- session and roster ----------------------------------------------------- */

void registry_offline(struct registry *r, uint64_t now)
{
  (void)now;
  for (size_t i = 0; i < r->n_nodes; i++)
    if (r->nodes[i]->flags & REG_N_PRESENCE)
      r->nodes[i]->flags |= REG_N_UNCONFIRMED;
  for (int i = 0; i < REG_MAX_ROOMS; i++)
    for (size_t k = 0; k < r->rooms[i].n; k++)
      r->rooms[i].occ[k].seen = false;
  for (struct reg_contact *c = r->contacts; c; c = c->next) {
    set_refetch(r, c, false); /* what is wanted then comes with the presences */
    if (c->pep == REG_PEP_FETCHING) {
      c->pep = REG_PEP_UNKNOWN;
      c->pep_ms = 0;
    }
  }
  r->login_ms = 0;
}

void registry_online(struct registry *r, uint64_t now)
{
  r->login_ms = now ? now : 1;
}

void registry_roster_begin(struct registry *r)
{
  for (struct reg_contact *c = r->contacts; c; c = c->next)
    c->flags &= ~REG_C_SEEN;
}

void registry_roster_item(struct registry *r, const char *bare_jid, int subscription,
                          const char *const *groups, size_t ngroups)
{
  if (!bare_jid || strchr(bare_jid, '/') || strlen(bare_jid) >= REG_JID_LEN ||
      reg__is_ours(r, bare_jid))
    return;
  struct reg_contact *c = subscription == 4 /* remove */ ? registry_contact(r, bare_jid)
                                                         : contact_get(r, bare_jid);
  if (!c)
    return;
  if (subscription == 4) {
    c->flags &= ~(REG_C_ROSTER | REG_C_IN_GROUP | REG_C_SEEN);
    contact_maybe_free(r, c);
    return;
  }
  c->flags |= REG_C_ROSTER | REG_C_SEEN;
  c->flags &= ~REG_C_IN_GROUP;
  c->subscription = subscription;
  for (size_t i = 0; i < ngroups && r->cfg.roster_group[0]; i++)
    if (strcmp(groups[i], r->cfg.roster_group) == 0)
      c->flags |= REG_C_IN_GROUP;
}

void registry_roster_end(struct registry *r)
{
  for (struct reg_contact *c = r->contacts, *next; c; c = next) {
    next = c->next;
    if ((c->flags & REG_C_ROSTER) && !(c->flags & REG_C_SEEN)) {
      c->flags &= ~(REG_C_ROSTER | REG_C_IN_GROUP);
      contact_maybe_free(r, c);
    }
  }
}

/* ---- PEP ------------------------------------------------------------------------- */

void registry_pep_items(struct registry *r, const char *bare_jid, const char *const *ids,
                        const char *const *fprs, size_t n, bool full, uint64_t now)
{
  struct reg_contact *c = reg__is_ours(r, bare_jid) ? r->own : registry_contact(r, bare_jid);
  if (!c || !reg__relevant(c))
    return;
  if (!c->items && !(c->items = calloc(REG_MAX_NODES_PER_JID, sizeof *c->items)))
    return;
  if (full) {
    c->pep = REG_PEP_READ;
    c->pep_cond[0] = '\0';
    c->pep_ms = c->pep_ms ? c->pep_ms : now;
    c->n_items = 0;
  }
  for (size_t i = 0; i < n; i++) {
    if (!nodeid_valid(ids[i]) || !sigmsg_fingerprint_valid(fprs[i])) {
      ipop_log_rl(&r->rl_pep, IPOP_LOG_WARN, M, "%s publishes a malformed node item: ignored",
                  c->jid);
      continue;
    }
    const char *owner = strcmp(ids[i], r->cfg.own_node) == 0 ? r->cfg.own_jid
                                                             : reg__owner_of(r, ids[i]);
    if (owner && !reg__same_bare(owner, c->jid)) {
      r->ctr.conflicts++;
      ipop_log_rl(&r->rl_claim, IPOP_LOG_WARN, M,
                  "conflict: %s publishes node id %.8s, which is %s's: refused", c->jid,
                  ids[i], owner);
      continue;
    }
    struct reg_item *it = (struct reg_item *)reg__item_of(c, ids[i]);
    if (!it) {
      if (c->n_items == REG_MAX_NODES_PER_JID)
        memmove(&c->items[0], &c->items[1], --c->n_items * sizeof c->items[0]);
      it = &c->items[c->n_items++];
      snprintf(it->node_id, sizeof it->node_id, "%s", ids[i]);
    }
    snprintf(it->fpr, sizeof it->fpr, "%s", fprs[i]);
  }
}

void registry_pep_retract(struct registry *r, const char *bare_jid, const char *const *ids,
                          size_t n)
{
  struct reg_contact *c = reg__is_ours(r, bare_jid) ? r->own : registry_contact(r, bare_jid);
  for (size_t i = 0; c && i < n; i++) {
    const struct reg_item *it = reg__item_of(c, ids[i]);
    if (it) {
      size_t k = (size_t)(it - c->items);
      memmove(&c->items[k], &c->items[k + 1], (c->n_items - k - 1) * sizeof c->items[0]);
      c->n_items--;
    }
  }
}

void registry_pep_failed(struct registry *r, const char *bare_jid, const char *condition,
                         uint64_t now)
{
  struct reg_contact *c = reg__is_ours(r, bare_jid) ? r->own : registry_contact(r, bare_jid);
  if (!c)
    return;
  if (condition && strcmp(condition, "item-not-found") == 0) {
    /* No PEP node yet: read, nothing published (not "unreadable", which
     * would take the next fingerprint on first use without waiting). */
    c->pep = REG_PEP_READ;
    c->pep_cond[0] = '\0';
    c->n_items = 0;
    return;
  }
  bool lost = condition && strcmp(condition, "connection-lost") == 0;
  c->pep = lost ? REG_PEP_UNKNOWN : REG_PEP_UNREADABLE;
  c->pep_ms = lost ? 0 : now;
  snprintf(c->pep_cond, sizeof c->pep_cond, "%s", condition ? condition : "?");
}

/* ---- lifecycle ------------------------------------------------------------------- */

size_t registry_expire(struct registry *r, uint64_t now)
{
  size_t changed = 0;
  for (struct reg_contact *c = r->contacts; c && r->n_refetch; c = c->next)
    if ((c->flags & REG_C_REFETCH) && now - c->pep_ms >= REG_PEP_REFETCH_MS) {
      if (reg__relevant(c))
        reg__want_items(r, c, now);
      else
        set_refetch(r, c, false);
    }
  /* After a login: presences not reported again are gone (links keep
   * their grace from now). */
  if (r->login_ms && now - r->login_ms >= REG_SETTLE_MS) {
    r->login_ms = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
      struct reg_node *n = r->nodes[i];
      if (!(n->flags & REG_N_UNCONFIRMED))
        continue;
      bool was = reg_node_online(n);
      n->flags &= ~(REG_N_PRESENCE | REG_N_UNCONFIRMED);
      set_online(n, was, now);
      changed++;
    }
  }
  for (int i = 0; i < REG_MAX_ROOMS; i++)
    for (size_t k = r->rooms[i].n; k-- > 0;)
      if (r->rooms[i].occ[k].stale_ms && now - r->rooms[i].occ[k].stale_ms >= REG_GRACE_MS) {
        occ_remove(r, &r->rooms[i], k, now);
        changed++;
      }
  for (size_t i = r->n_nodes; i-- > 0;) {
    struct reg_node *n = r->nodes[i];
    bool gone = !reg__relevant(n->owner) ||
                (!reg_node_online(n) && now - n->offline_ms >= REG_GRACE_MS &&
                 !(r->cfg.hooks.node_busy && r->cfg.hooks.node_busy(r->cfg.hooks.ctx, n)));
    if (gone) {
      reg__node_free(r, n);
      changed++;
    }
  }
  return changed;
}

int registry_create(struct registry **out, const struct registry_config *cfg)
{
  *out = NULL;
  if (!strchr(cfg->own_jid, '@') || strchr(cfg->own_jid, '/') || !nodeid_valid(cfg->own_node) ||
      (unsigned)cfg->trust_mode > REG_TRUST_OPEN)
    return IPOP_EINVAL;
  struct registry *r = calloc(1, sizeof *r);
  if (!r || !(r->nodes = calloc(REG_MAX_NODES, sizeof *r->nodes)) ||
      !(r->blocked = calloc(REG_MAX_BLOCKED, sizeof *r->blocked))) {
    if (r)
      free(r->nodes);
    free(r);
    return IPOP_ENOMEM;
  }
  r->cfg = *cfg;
  struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(10000, 20);
  r->rl_claim = r->rl_fpr = r->rl_pep = rl;
  if (!(r->own = contact_get(r, cfg->own_jid))) {
    registry_free(r);
    return IPOP_ENOMEM;
  }
  r->own->flags |= REG_C_OWN;
  *out = r;
  return 0;
}

void registry_free(struct registry *r)
{
  if (!r)
    return;
  r->cfg.hooks = (struct reg_hooks){ 0 };
  while (r->n_nodes)
    reg__node_free(r, r->nodes[r->n_nodes - 1]);
  for (int i = 0; i < REG_MAX_ROOMS; i++)
    registry_room_remove(r, i);
  for (struct reg_contact *c = r->contacts, *next; c; c = next) {
    next = c->next;
    free(c->items);
    free(c);
  }
  while (r->n_blocked)
    free(r->blocked[--r->n_blocked]);
  trust_free(r->cfg.trust);
  free(r->blocked);
  free(r->nodes);
  free(r);
}

const struct registry_config *registry_config(const struct registry *r)
{
  return &r->cfg;
}

struct trust *registry_trust_store(struct registry *r)
{
  return r->cfg.trust;
}

void registry_counters(const struct registry *r, struct reg_counters *out)
{
  *out = r->ctr;
}
