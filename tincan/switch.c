#include "switch.h"

#include <string.h>

#include "error.h"

#define SLOT_MASK (SWITCH_SLOTS - 1)

static uint16_t mac_hash(const struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN])
{
  uint64_t x = 0;
  for (int i = 0; i < FRAME_ETH_ALEN; i++)
    x = x << 8 | mac[i];
  /* splitmix64 finalizer over the seeded key */
  x ^= t->seed;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return (uint16_t)(x & SLOT_MASK);
}

static bool stale(const struct switch_table *t, const struct switch_node *n, uint64_t now_ms)
{
  return now_ms > n->seen_ms && now_ms - n->seen_ms > t->age_ms;
}

/* ---- age list: doubly linked through node indices, oldest first ---- */

static void age_unlink(struct switch_table *t, uint16_t i)
{
  struct switch_node *n = &t->nodes[i];
  if (n->prev != SWITCH_NONE)
    t->nodes[n->prev].next = n->next;
  else
    t->oldest = n->next;
  if (n->next != SWITCH_NONE)
    t->nodes[n->next].prev = n->prev;
  else
    t->newest = n->prev;
  n->prev = n->next = SWITCH_NONE;
}

static void age_append(struct switch_table *t, uint16_t i)
{
  struct switch_node *n = &t->nodes[i];
  n->prev = t->newest;
  n->next = SWITCH_NONE;
  if (t->newest != SWITCH_NONE)
    t->nodes[t->newest].next = i;
  else
    t->oldest = i;
  t->newest = i;
}

/* ---- bound list: doubly linked, unordered ---- */

static void bound_unlink(struct switch_table *t, uint16_t i)
{
  struct switch_node *n = &t->nodes[i];
  if (n->prev != SWITCH_NONE)
    t->nodes[n->prev].next = n->next;
  else
    t->bound = n->next;
  if (n->next != SWITCH_NONE)
    t->nodes[n->next].prev = n->prev;
  n->prev = n->next = SWITCH_NONE;
}

static void bound_push(struct switch_table *t, uint16_t i)
{
  struct switch_node *n = &t->nodes[i];
  n->prev = SWITCH_NONE;
  n->next = t->bound;
  if (t->bound != SWITCH_NONE)
    t->nodes[t->bound].prev = i;
  t->bound = i;
}

/* ---- hash slots ---- */

/* Slot holding mac, or -1. */
static int slot_find(const struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN])
{
  uint32_t s = mac_hash(t, mac);
  for (uint32_t probes = 0; probes < SWITCH_SLOTS; probes++, s = (s + 1) & SLOT_MASK) {
    uint16_t i = t->slots[s];
    if (i == SWITCH_NONE)
      return -1;
    if (memcmp(t->nodes[i].mac, mac, FRAME_ETH_ALEN) == 0)
      return (int)s;
  }
  return -1;
}

/* Empty slot s, shifting later members of its probe run back so that every
 * entry stays reachable from its home slot (Knuth's algorithm R). */
static void slot_clear(struct switch_table *t, uint32_t s)
{
  uint32_t j = s;
  for (;;) {
    t->slots[s] = SWITCH_NONE;
    for (;;) {
      j = (j + 1) & SLOT_MASK;
      if (t->slots[j] == SWITCH_NONE)
        return;
      uint32_t k = t->nodes[t->slots[j]].home;
      /* the entry at j may move to s unless its home lies in (s, j] */
      bool stays = s <= j ? (s < k && k <= j) : (s < k || k <= j);
      if (!stays)
        break;
    }
    t->slots[s] = t->slots[j];
    s = j;
  }
}

static void node_delete(struct switch_table *t, uint32_t s)
{
  uint16_t i = t->slots[s];
  slot_clear(t, s);
  if (t->nodes[i].bound)
    bound_unlink(t, i);
  else
    age_unlink(t, i);
  t->nodes[i].bound = false;
  t->nodes[i].next = t->free_list;
  t->free_list = i;
  t->count--;
}

static void node_delete_index(struct switch_table *t, uint16_t i)
{
  int s = slot_find(t, t->nodes[i].mac);
  if (s >= 0)
    node_delete(t, (uint32_t)s);
}

int switch_init(struct switch_table *t, uint32_t capacity, uint64_t age_ms,
                uint64_t seed, const uint8_t *local_mac)
{
  if (!t || capacity > SWITCH_MAX_ENTRIES)
    return IPOP_EINVAL;
  memset(t, 0, sizeof(*t));
  for (uint32_t s = 0; s < SWITCH_SLOTS; s++)
    t->slots[s] = SWITCH_NONE;
  for (uint32_t i = 0; i < SWITCH_MAX_ENTRIES; i++) {
    t->nodes[i].prev = SWITCH_NONE;
    t->nodes[i].next = (uint16_t)(i + 1 < SWITCH_MAX_ENTRIES ? i + 1 : SWITCH_NONE);
  }
  t->free_list = 0;
  t->oldest = t->newest = SWITCH_NONE;
  t->bound = SWITCH_NONE;
  t->capacity = capacity ? capacity : SWITCH_MAX_ENTRIES;
  t->age_ms = age_ms ? age_ms : SWITCH_DEFAULT_AGE_MS;
  t->seed = seed;
  t->flood_unknown = true;
  t->report_ms = SWITCH_DEFAULT_REPORT_MS;
  if (local_mac) {
    memcpy(t->local_mac, local_mac, FRAME_ETH_ALEN);
    t->has_local_mac = true;
  }
  return 0;
}

/* Make room for one entry: evict the least recently refreshed learned
 * entry if the table is full.  IPOP_ENOMEM if it holds only bound ones. */
static int make_room(struct switch_table *t, uint64_t now_ms)
{
  if (t->count < t->capacity)
    return 0;
  uint16_t victim = t->oldest;
  if (victim == SWITCH_NONE)
    return IPOP_ENOMEM;
  if (stale(t, &t->nodes[victim], now_ms))
    t->stats.expired++;
  else
    t->stats.evicted++;
  node_delete_index(t, victim);
  return 0;
}

/* A new entry for mac (not in the table; room made). */
static uint16_t node_add(struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN],
                         uint32_t link, uint64_t now_ms, bool bound)
{
  uint16_t i = t->free_list;
  struct switch_node *n = &t->nodes[i];
  t->free_list = n->next;
  memcpy(n->mac, mac, FRAME_ETH_ALEN);
  n->link = link;
  n->seen_ms = now_ms;
  n->bound = bound;
  n->home = mac_hash(t, mac);
  uint32_t slot = n->home;
  while (t->slots[slot] != SWITCH_NONE)   /* load <= 1/2: always ends */
    slot = (slot + 1) & SLOT_MASK;
  t->slots[slot] = i;
  if (bound)
    bound_push(t, i);
  else
    age_append(t, i);
  t->count++;
  return i;
}

int switch_learn(struct switch_table *t, const uint8_t src[FRAME_ETH_ALEN],
                 uint32_t link, uint64_t now_ms)
{
  if (!frame_mac_is_learnable(src)) {
    t->stats.rejected++;
    return IPOP_EINVAL;
  }
  if (t->has_local_mac && memcmp(src, t->local_mac, FRAME_ETH_ALEN) == 0) {
    t->stats.rejected++;
    return IPOP_EPERM;
  }

  int s = slot_find(t, src);
  if (s >= 0) {
    uint16_t i = t->slots[s];
    struct switch_node *n = &t->nodes[i];
    if (n->bound) {
      if (n->link == link)
        return SWITCH_LEARN_REFRESHED;
      t->stats.spoofed++;
      return IPOP_EPERM;
    }
    int r = SWITCH_LEARN_REFRESHED;
    if (n->link != link) {
      n->link = link;
      t->stats.moved++;
      r = SWITCH_LEARN_MOVED;
    }
    n->seen_ms = now_ms;
    if (t->newest != i) {
      age_unlink(t, i);
      age_append(t, i);
    }
    return r;
  }
  if (make_room(t, now_ms) != 0)
    return IPOP_ENOMEM;
  node_add(t, src, link, now_ms, false);
  t->stats.learned++;
  return SWITCH_LEARN_NEW;
}

int switch_bind(struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN], uint32_t link)
{
  if (!frame_mac_is_learnable(mac))
    return IPOP_EINVAL;
  if (t->has_local_mac && memcmp(mac, t->local_mac, FRAME_ETH_ALEN) == 0)
    return IPOP_EPERM;
  int s = slot_find(t, mac);
  if (s >= 0) {
    uint16_t i = t->slots[s];
    struct switch_node *n = &t->nodes[i];
    if (n->bound)
      return n->link == link ? 0 : IPOP_EEXIST;
    age_unlink(t, i); /* learned (behind a bridge) until now */
    n->bound = true;
    n->link = link;
    bound_push(t, i);
    return 0;
  }
  if (make_room(t, 0) != 0)
    return IPOP_ENOMEM;
  node_add(t, mac, link, 0, true);
  return 0;
}

int switch_lookup(struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN],
                  uint64_t now_ms, uint32_t *link)
{
  int s = slot_find(t, mac);
  if (s < 0)
    return IPOP_ENOENT;
  const struct switch_node *n = &t->nodes[t->slots[s]];
  if (!n->bound && stale(t, n, now_ms)) {
    node_delete(t, (uint32_t)s);
    t->stats.expired++;
    return IPOP_ENOENT;
  }
  *link = n->link;
  return 0;
}

int switch_decide(struct switch_table *t, const struct frame_info *fi,
                  uint64_t now_ms, struct switch_decision *out)
{
  if (!t || !fi || !fi->dst || !out)
    return IPOP_EINVAL;
  memset(out, 0, sizeof(*out));

  if (fi->cast != FRAME_UNICAST) {
    out->action = SWITCH_FLOOD;
    t->stats.flooded++;
    return 0;
  }
  if (frame_mac_is_zero(fi->dst) ||
      (t->has_local_mac && memcmp(fi->dst, t->local_mac, FRAME_ETH_ALEN) == 0)) {
    out->action = SWITCH_DROP;
    t->stats.dropped++;
    return 0;
  }
  if (switch_lookup(t, fi->dst, now_ms, &out->link) == 0) {
    out->action = SWITCH_UNICAST;
    t->stats.unicast++;
    return 0;
  }
  out->unknown_unicast = true;
  t->stats.unknown_unicast++;
  struct switch_report *rep = &t->reports[mac_hash(t, fi->dst) % SWITCH_REPORT_SLOTS];
  if (!rep->used || memcmp(rep->mac, fi->dst, FRAME_ETH_ALEN) != 0 ||
      now_ms < rep->at_ms || now_ms - rep->at_ms >= t->report_ms) {
    memcpy(rep->mac, fi->dst, FRAME_ETH_ALEN);
    rep->used = true;
    rep->at_ms = now_ms;
    out->report = true;
    t->stats.unknown_reported++;
  }
  if (t->flood_unknown) {
    out->action = SWITCH_FLOOD;
    t->stats.flooded++;
  } else {
    out->action = SWITCH_DROP;
    t->stats.dropped++;
  }
  return 0;
}

static uint32_t remove_from(struct switch_table *t, uint16_t i, uint32_t link)
{
  uint32_t removed = 0;
  while (i != SWITCH_NONE) {
    uint16_t next = t->nodes[i].next;
    if (t->nodes[i].link == link) {
      node_delete_index(t, i);
      removed++;
    }
    i = next;
  }
  return removed;
}

uint32_t switch_remove_link(struct switch_table *t, uint32_t link)
{
  uint32_t removed = remove_from(t, t->oldest, link) + remove_from(t, t->bound, link);
  t->stats.removed += removed;
  return removed;
}

uint32_t switch_expire(struct switch_table *t, uint64_t now_ms)
{
  uint32_t n = 0;
  while (t->oldest != SWITCH_NONE && stale(t, &t->nodes[t->oldest], now_ms)) {
    node_delete_index(t, t->oldest);
    n++;
  }
  t->stats.expired += n;
  return n;
}
