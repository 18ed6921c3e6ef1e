#include "topology.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grow.h"

const char *const topology_kind_names[] = { "mesh", "ring", "long", "ondemand", "inbound",
                                            NULL };

typedef char id_t_[NODEID_BUF];

/* Traffic and request state of one member. */
struct track {
  char id[NODEID_BUF];
  bool ondemand;            /* on-demand link (ours, or inbound over the reserve) */
  bool inbound;             /* inbound link within the structured reserve */
  bool excluded;            /* refused a long-distance link */
  uint32_t events;          /* unknown-destination events in the window */
  uint64_t events_start;
  uint64_t last_active;     /* last window with traffic (or when opened) */
  bool has_sample;
  uint64_t win_start, win_bytes;
};

struct topology {
  struct topology_config cfg;
  char own[NODEID_BUF];
  id_t_ *members;           /* sorted, without us */
  size_t n_members;
  struct track *tracks;
  size_t n_tracks, cap_tracks;
  id_t_ *longs;             /* current long-distance choices */
  size_t n_longs;
  /* Structured set of the current member list, rebuilt by structure(). */
  struct topology_link *st;
  size_t n_st;
};

void topology_config_defaults(struct topology_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  cfg->link_budget = 32;
  cfg->ring_per_side = 2;
  cfg->long_links = 0;
  cfg->ondemand_max = 8;
  cfg->ondemand_events = 1;
  cfg->ondemand_window_ms = 10000;
  cfg->activity_window_ms = 30000;
  cfg->ondemand_idle_bytes = 1024;
  cfg->ondemand_idle_ms = 300000;
  cfg->inbound_max = 0;
}

void topology_plan_free(struct topology_plan *p)
{
  free(p->desired);
  free(p->add);
  free(p->remove);
  memset(p, 0, sizeof *p);
}

static int cmp_id(const void *a, const void *b)
{
  return strcmp(a, b);
}

static int cmp_link(const void *a, const void *b)
{
  return strcmp(((const struct topology_link *)a)->peer_id,
                ((const struct topology_link *)b)->peer_id);
}

int topology_create(struct topology **out, const struct topology_config *cfg,
                    const char *own_id)
{
  *out = NULL;
  if (!nodeid_valid(own_id) || cfg->link_budget < 2 || cfg->ring_per_side < 1 ||
      !cfg->rnd || cfg->ondemand_events < 1 || cfg->ondemand_window_ms == 0 ||
      cfg->activity_window_ms == 0 || cfg->ondemand_idle_ms == 0)
    return IPOP_EINVAL;
  struct topology *t = calloc(1, sizeof *t);
  if (!t)
    return IPOP_ENOMEM;
  t->cfg = *cfg;
  memcpy(t->own, own_id, NODEID_BUF);
  *out = t;
  return 0;
}

void topology_free(struct topology *t)
{
  if (!t)
    return;
  free(t->members);
  free(t->tracks);
  free(t->longs);
  free(t->st);
  free(t);
}

size_t topology_member_count(const struct topology *t)
{
  return t->n_members;
}

static bool is_member(const struct topology *t, const char *id)
{
  return t->n_members &&
         bsearch(id, t->members, t->n_members, sizeof *t->members, cmp_id) != NULL;
}

static struct track *find_track(const struct topology *t, const char *id)
{
  for (size_t i = 0; i < t->n_tracks; i++)
    if (strcmp(t->tracks[i].id, id) == 0)
      return &t->tracks[i];
  return NULL;
}

static struct track *get_track(struct topology *t, const char *id)
{
  struct track *k = find_track(t, id);
  if (k)
    return k;
  if (ipop_grow(&t->tracks, &t->cap_tracks, t->n_tracks, sizeof *t->tracks, 16))
    return NULL;
  k = &t->tracks[t->n_tracks++];
  memset(k, 0, sizeof *k);
  memcpy(k->id, id, NODEID_BUF);
  return k;
}

/* A track with nothing left in it is dropped (swap with the last). */
static void tidy_track(struct topology *t, struct track *k)
{
  if (k->ondemand || k->inbound || k->excluded || k->events)
    return;
  *k = t->tracks[--t->n_tracks];
}

int topology_set_members(struct topology *t, const char *const *ids, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!nodeid_valid(ids[i]))
      return IPOP_EINVAL;
  id_t_ *m = malloc((n ? n : 1) * sizeof *m);
  if (!m)
    return IPOP_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strcmp(ids[i], t->own) != 0)
      memcpy(m[k++], ids[i], NODEID_BUF);
  qsort(m, k, sizeof *m, cmp_id);
  size_t u = 0;
  for (size_t i = 0; i < k; i++)
    if (u == 0 || strcmp(m[u - 1], m[i]) != 0)
      memmove(m[u++], m[i], NODEID_BUF);
  free(t->members);
  t->members = m;
  t->n_members = u;

  /* Forget whatever belonged to former members; exclusions start over. */
  for (size_t i = 0; i < t->n_tracks;) {
    struct track *tr = &t->tracks[i];
    tr->excluded = false;
    if (!is_member(t, tr->id)) {
      tr->ondemand = tr->inbound = false;
      tr->events = 0;
    }
    size_t before = t->n_tracks;
    tidy_track(t, tr);
    if (t->n_tracks == before)
      i++;
  }
  size_t kl = 0;
  for (size_t i = 0; i < t->n_longs; i++)
    if (is_member(t, t->longs[i]))
      memmove(t->longs[kl++], t->longs[i], NODEID_BUF);
  t->n_longs = kl;
  return 0;
}

void topology_shape(const struct topology_config *cfg, size_t n_nodes, uint32_t *ring,
                    uint32_t *longl, bool *mesh)
{
  *ring = *longl = 0;
  *mesh = n_nodes <= (size_t)cfg->link_budget + 1;
  if (*mesh)
    return;
  uint32_t r = cfg->ring_per_side;
  if (r > cfg->link_budget / 2)
    r = cfg->link_budget / 2;
  if (r < 1)
    r = 1;
  uint32_t l = cfg->long_links;
  if (l == 0)
    l = (uint32_t)ceil(log2((double)n_nodes));
  uint32_t room = (cfg->link_budget - 2 * r) / 2; /* the other half: inbound */
  if (l > room)
    l = room;
  if (n_nodes - 1 - 2 * r < l)
    l = (uint32_t)(n_nodes - 1 - 2 * r);
  *ring = r;
  *longl = l;
}

static uint32_t inbound_cap(const struct topology *t, uint32_t ring, uint32_t longl)
{
  if (t->cfg.inbound_max)
    return t->cfg.inbound_max;
  return t->cfg.link_budget - 2 * ring - longl;
}

static int st_add(struct topology *t, size_t cap, const char *id, enum topology_kind kind)
{
  for (size_t i = 0; i < t->n_st; i++)
    if (strcmp(t->st[i].peer_id, id) == 0)
      return 0;
  if (t->n_st >= cap)
    return IPOP_EINTERNAL;
  memcpy(t->st[t->n_st].peer_id, id, NODEID_BUF);
  t->st[t->n_st].kind = kind;
  t->n_st++;
  return 0;
}

static bool in_st(const struct topology *t, const char *id)
{
  for (size_t i = 0; i < t->n_st; i++)
    if (strcmp(t->st[i].peer_id, id) == 0)
      return true;
  return false;
}

/* Rebuild t->st: mesh, or ring + long-distance. */
static int structure(struct topology *t, uint32_t *ring_out, uint32_t *long_out)
{
  size_t n = t->n_members + 1;
  uint32_t r, l;
  bool mesh;
  topology_shape(&t->cfg, n, &r, &l, &mesh);
  if (ring_out)
    *ring_out = r;
  if (long_out)
    *long_out = l;
  size_t cap = mesh ? t->n_members : 2 * (size_t)r + l;
  struct topology_link *st = realloc(t->st, (cap ? cap : 1) * sizeof *st);
  if (!st)
    return IPOP_ENOMEM;
  t->st = st;
  t->n_st = 0;
  if (mesh) {
    for (size_t i = 0; i < t->n_members; i++)
      st_add(t, cap, t->members[i], TOPO_MESH);
    t->n_longs = 0;
    return 0;
  }

  /* Our position on the ring: the number of members with a smaller id. */
  size_t pos = 0;
  while (pos < t->n_members && strcmp(t->members[pos], t->own) < 0)
    pos++;
  /* Ring index j (0..n-1, us at pos) -> member index. */
#define MEMBER_AT(j) t->members[(j) < pos ? (j) : (j) - 1]
  for (uint32_t d = 1; d <= r; d++) {
    size_t succ = (pos + d) % n, pred = (pos + n - d) % n;
    st_add(t, cap, MEMBER_AT(succ), TOPO_RING);
    st_add(t, cap, MEMBER_AT(pred), TOPO_RING);
  }

  /* Keep long-distance choices that are still valid, then top up. */
  size_t kl = 0;
  for (size_t i = 0; i < t->n_longs && kl < l; i++) {
    struct track *k = find_track(t, t->longs[i]);
    if (in_st(t, t->longs[i]) || (k && k->excluded))
      continue;
    memmove(t->longs[kl++], t->longs[i], NODEID_BUF);
  }
  t->n_longs = kl;
  id_t_ *lv = realloc(t->longs, (l ? l : 1) * sizeof *lv);
  if (!lv)
    return IPOP_ENOMEM;
  t->longs = lv;
  for (size_t i = 0; i < t->n_longs; i++)
    st_add(t, cap, t->longs[i], TOPO_LONG);
  /* Symphony: distance d = n^(u-1) * n, harmonic on [1, n); ring distances
   * are already covered, so draws landing there are pushed just outside. */
  for (int tries = 0; t->n_longs < l && tries < 16 * (int)l; tries++) {
    double u = policy_rand_u32(t->cfg.rnd, t->cfg.rnd_ctx) / 4294967296.0;
    size_t d = (size_t)floor(exp(log((double)n) * (u - 1.0)) * (double)n);
    if (d < r + 1)
      d = r + 1;
    if (d > n - 1 - r)
      d = n - 1 - r;
    const char *id = MEMBER_AT((pos + d) % n);
    struct track *k = find_track(t, id);
    if (in_st(t, id) || (k && k->excluded))
      continue;
    memcpy(t->longs[t->n_longs++], id, NODEID_BUF);
    st_add(t, cap, id, TOPO_LONG);
  }
#undef MEMBER_AT
  return 0;
}

static size_t count_flag(const struct topology *t, bool ondemand)
{
  size_t c = 0;
  for (size_t i = 0; i < t->n_tracks; i++)
    c += ondemand ? t->tracks[i].ondemand : t->tracks[i].inbound;
  return c;
}

size_t topology_ondemand_count(const struct topology *t)
{
  return count_flag(t, true);
}

/* Take an on-demand slot for k, evicting the on-demand link idle the
 * longest when all are taken (traffic wins).  False if there are no slots. */
static bool take_ondemand_slot(struct topology *t, struct track *k, uint64_t now_ms)
{
  if (t->cfg.ondemand_max == 0)
    return false;
  if (count_flag(t, true) >= t->cfg.ondemand_max) {
    struct track *lru = NULL;
    for (size_t i = 0; i < t->n_tracks; i++)
      if (t->tracks[i].ondemand && (!lru || t->tracks[i].last_active < lru->last_active))
        lru = &t->tracks[i];
    if (lru)
      lru->ondemand = false; /* its track is tidied by the next plan */
  }
  k->ondemand = true;
  k->last_active = now_ms;
  k->has_sample = false;
  return true;
}

int topology_on_unknown_dest(struct topology *t, const char *peer_id, uint64_t now_ms)
{
  if (!nodeid_valid(peer_id) || !is_member(t, peer_id))
    return IPOP_ENOENT;
  int rc = structure(t, NULL, NULL);
  if (rc)
    return rc;
  struct track *k = find_track(t, peer_id);
  if (in_st(t, peer_id) || (k && (k->ondemand || k->inbound)))
    return 0;
  k = get_track(t, peer_id);
  if (!k)
    return IPOP_ENOMEM;
  if (!k->events || now_ms - k->events_start >= t->cfg.ondemand_window_ms) {
    k->events = 0;
    k->events_start = now_ms;
  }
  if (++k->events < t->cfg.ondemand_events)
    return 0;
  k->events = 0;
  return take_ondemand_slot(t, k, now_ms) ? 1 : 0;
}

int topology_on_link_bytes(struct topology *t, const char *peer_id, uint64_t bytes,
                           uint64_t now_ms)
{
  struct track *k = nodeid_valid(peer_id) ? find_track(t, peer_id) : NULL;
  if (!k)
    return IPOP_ENOENT;
  if (!k->has_sample) {
    k->has_sample = true;
    k->win_start = now_ms;
    k->win_bytes = bytes;
    return 0;
  }
  if (now_ms - k->win_start < t->cfg.activity_window_ms)
    return 0;
  /* A counter that went backwards was reset (link re-created). */
  uint64_t delta = bytes >= k->win_bytes ? bytes - k->win_bytes : bytes;
  if (delta >= t->cfg.ondemand_idle_bytes)
    k->last_active = now_ms;
  k->win_start = now_ms;
  k->win_bytes = bytes;
  return 0;
}

int topology_on_inbound(struct topology *t, const char *peer_id, bool ondemand,
                        uint64_t now_ms)
{
  if (!nodeid_valid(peer_id) || !is_member(t, peer_id))
    return IPOP_ENOENT;
  uint32_t r, l;
  int rc = structure(t, &r, &l);
  if (rc)
    return rc;
  struct track *k = find_track(t, peer_id);
  if (in_st(t, peer_id) || (k && (k->ondemand || k->inbound)))
    return 0;
  if (!ondemand && count_flag(t, false) >= inbound_cap(t, r, l))
    return IPOP_EBUSY;
  /* Unlike our own traffic, a remote request never evicts: a peer must not
   * be able to churn our on-demand links. */
  if (ondemand && count_flag(t, true) >= t->cfg.ondemand_max)
    return IPOP_EBUSY;
  k = get_track(t, peer_id);
  if (!k)
    return IPOP_ENOMEM;
  if (ondemand) {
    take_ondemand_slot(t, k, now_ms);
  } else {
    k->inbound = true;
    k->last_active = now_ms;
    k->has_sample = false;
  }
  return 0;
}

void topology_on_link_gone(struct topology *t, const char *peer_id)
{
  struct track *k = nodeid_valid(peer_id) ? find_track(t, peer_id) : NULL;
  if (!k)
    return;
  k->ondemand = k->inbound = false;
  k->has_sample = false;
  tidy_track(t, k);
}

void topology_on_rejected(struct topology *t, const char *peer_id)
{
  if (!nodeid_valid(peer_id))
    return;
  for (size_t i = 0; i < t->n_longs; i++) {
    if (strcmp(t->longs[i], peer_id) == 0) {
      struct track *k = get_track(t, peer_id);
      if (k)
        k->excluded = true;
      memmove(t->longs[i], t->longs[t->n_longs - 1], NODEID_BUF);
      t->n_longs--;
      break;
    }
  }
  topology_on_link_gone(t, peer_id);
}

int topology_plan(struct topology *t, uint64_t now_ms, const char *const *current,
                  size_t n_current, struct topology_plan *plan)
{
  memset(plan, 0, sizeof *plan);
  for (size_t j = 0; j < n_current; j++)
    if (!nodeid_valid(current[j]))
      return IPOP_EINVAL;
  int rc = structure(t, NULL, NULL);
  if (rc)
    return rc;

  /* Trim idle on-demand links; drop flags made redundant by structure. */
  for (size_t i = 0; i < t->n_tracks;) {
    struct track *k = &t->tracks[i];
    if (in_st(t, k->id))
      k->ondemand = k->inbound = false;
    if (k->ondemand && now_ms - k->last_active >= t->cfg.ondemand_idle_ms)
      k->ondemand = false;
    size_t before = t->n_tracks;
    tidy_track(t, k);
    if (t->n_tracks == before)
      i++;
  }

  size_t cap = t->n_st + t->n_tracks;
  plan->desired = malloc((cap ? cap : 1) * sizeof *plan->desired);
  plan->add = malloc((cap ? cap : 1) * sizeof *plan->add);
  plan->remove = malloc((n_current ? n_current : 1) * sizeof *plan->remove);
  if (!plan->desired || !plan->add || !plan->remove) {
    topology_plan_free(plan);
    return IPOP_ENOMEM;
  }
  memcpy(plan->desired, t->st, t->n_st * sizeof *t->st);
  plan->n_desired = t->n_st;
  for (size_t i = 0; i < t->n_tracks; i++) {
    const struct track *k = &t->tracks[i];
    if (!k->ondemand && !k->inbound)
      continue;
    struct topology_link *d = &plan->desired[plan->n_desired++];
    memcpy(d->peer_id, k->id, NODEID_BUF);
    d->kind = k->ondemand ? TOPO_ONDEMAND : TOPO_INBOUND;
  }
  qsort(plan->desired, plan->n_desired, sizeof *plan->desired, cmp_link);

  for (size_t i = 0; i < plan->n_desired; i++) {
    bool have = false;
    for (size_t j = 0; j < n_current && !have; j++)
      have = strcmp(current[j], plan->desired[i].peer_id) == 0;
    if (!have)
      plan->add[plan->n_add++] = plan->desired[i];
  }
  for (size_t j = 0; j < n_current; j++) {
    struct topology_link key = { .kind = TOPO_MESH };
    memcpy(key.peer_id, current[j], NODEID_BUF);
    bool dup = false;
    for (size_t i = 0; i < plan->n_remove && !dup; i++)
      dup = strcmp(plan->remove[i], key.peer_id) == 0;
    if (dup || bsearch(&key, plan->desired, plan->n_desired, sizeof key, cmp_link))
      continue;
    memcpy(plan->remove[plan->n_remove++], key.peer_id, NODEID_BUF);
  }
  return 0;
}
