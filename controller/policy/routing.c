/* Distance-vector routing over the kept links (routing.h).
 *
 * State is per member index (members sorted by id): a neighbour's vector
 * is one hop count per member, our routes one hop count and up to
 * ROUTING_VIA neighbour indices per member.  About 10 bytes per member
 * and neighbour, so a 1,000-member simulation fits in a test. */
#include "routing.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grow.h"

enum { ROUTING_MAX_NEIGHBOURS = 256, NB_NONE = UINT16_MAX };

struct neighbour {
  char id[NODEID_BUF];          /* first: find_sorted() */
  long member;                  /* its member index */
  bool forwarding;
  uint8_t *hops;                /* per member; ROUTING_INF: not offered */
};

struct routing {
  char self[NODEID_BUF];
  bool forwarding;
  char (*members)[NODEID_BUF];  /* sorted */
  size_t n_members;
  struct neighbour *nb;         /* sorted by id */
  size_t n_nb, cap_nb;
  uint8_t *hops;                /* per member: our distance */
  uint16_t (*via)[ROUTING_VIA]; /* per member: neighbour indices, NB_NONE-padded */
};

int routing_create(struct routing **out, const char *own_id)
{
  if (!nodeid_valid(own_id))
    return IPOP_EINVAL;
  struct routing *r = calloc(1, sizeof *r);
  if (!r)
    return IPOP_ENOMEM;
  memcpy(r->self, own_id, NODEID_BUF);
  r->forwarding = true;
  *out = r;
  return 0;
}

void routing_free(struct routing *r)
{
  if (!r)
    return;
  for (size_t i = 0; i < r->n_nb; i++)
    free(r->nb[i].hops);
  free(r->nb);
  free(r->members);
  free(r->hops);
  free(r->via);
  free(r);
}

void routing_set_forwarding(struct routing *r, bool on)
{
  r->forwarding = on;
}

bool routing_forwarding(const struct routing *r)
{
  return r->forwarding;
}

/* Two id arrays of NODEID_BUF bytes compared whole: for node ids (32
 * characters and the NUL) the same order as strcmp, and quicker on the
 * vectors' hot path.  Only for arrays, never for a caller's string. */
static int idcmp(const char *a, const char *b)
{
  return memcmp(a, b, NODEID_BUF);
}

/* Binary search for id in n sorted elements of size stride that begin with
 * an id (member ids, neighbours).  Index or -1. */
static long find_sorted(const void *base, size_t n, size_t stride, const char *id)
{
  const char *b = base;
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = strcmp(b + mid * stride, id);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static long find_id(const char (*ids)[NODEID_BUF], size_t n, const char *id)
{
  return find_sorted(ids, n, NODEID_BUF, id);
}

long routing_member_index(const struct routing *r, const char *id)
{
  return find_id(r->members, r->n_members, id);
}

static long nb_index(const struct routing *r, const char *id)
{
  return find_sorted(r->nb, r->n_nb, sizeof *r->nb, id);
}

static int cmp_id(const void *a, const void *b)
{
  return strcmp(a, b);
}

/* A vector indexed by the new member list, from one indexed by the old. */
static uint8_t *remap(const uint8_t *old, const char (*om)[NODEID_BUF], size_t on,
                      const char (*nm)[NODEID_BUF], size_t nn)
{
  uint8_t *v = malloc(nn ? nn : 1);
  if (!v)
    return NULL;
  memset(v, ROUTING_INF, nn);
  for (size_t i = 0, k = 0; old && i < nn && k < on;) { /* both sorted */
    int c = strcmp(om[k], nm[i]);
    if (c == 0)
      v[i++] = old[k++];
    else if (c < 0)
      k++;
    else
      i++;
  }
  return v;
}

int routing_set_members(struct routing *r, const char *const *ids, size_t n)
{
  char (*m)[NODEID_BUF] = calloc(n ? n : 1, sizeof *m);
  if (!m)
    return IPOP_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!nodeid_valid(ids[i])) {
      free(m);
      return IPOP_EINVAL;
    }
    if (strcmp(ids[i], r->self) != 0)
      memcpy(m[k++], ids[i], NODEID_BUF);
  }
  qsort(m, k, sizeof *m, cmp_id);
  size_t u = 0;
  for (size_t i = 0; i < k; i++)
    if (!u || strcmp(m[i], m[u - 1]) != 0)
      memmove(m[u++], m[i], NODEID_BUF);
  uint8_t *hops = malloc(u ? u : 1);
  uint16_t(*via)[ROUTING_VIA] = calloc(u ? u : 1, sizeof *via);
  if (!hops || !via) {
    free(m), free(hops), free(via);
    return IPOP_ENOMEM;
  }
  for (size_t i = 0; i < r->n_nb; i++) {
    uint8_t *v = remap(r->nb[i].hops, (const char(*)[NODEID_BUF])r->members, r->n_members,
                       (const char(*)[NODEID_BUF])m, u);
    if (!v) {
      free(m), free(hops), free(via);
      return IPOP_ENOMEM;
    }
    free(r->nb[i].hops);
    r->nb[i].hops = v;
    r->nb[i].member = find_id((const char(*)[NODEID_BUF])m, u, r->nb[i].id);
  }
  free(r->members), free(r->hops), free(r->via);
  r->members = m;
  r->n_members = u;
  r->hops = hops;
  r->via = via;
  memset(r->hops, ROUTING_INF, u);
  for (size_t i = 0; i < u; i++)
    for (int k2 = 0; k2 < ROUTING_VIA; k2++)
      r->via[i][k2] = NB_NONE;
  /* Former members are no neighbours any more. */
  for (size_t i = r->n_nb; i-- > 0;)
    if (r->nb[i].member < 0)
      routing_link_down(r, r->nb[i].id);
  return 0;
}

size_t routing_member_count(const struct routing *r)
{
  return r->n_members;
}

int routing_link_up(struct routing *r, const char *peer)
{
  long m = routing_member_index(r, peer);
  if (m < 0)
    return IPOP_ENOENT;
  if (nb_index(r, peer) >= 0)
    return 0;
  if (r->n_nb >= ROUTING_MAX_NEIGHBOURS)
    return IPOP_EBUSY;
  uint8_t *hops = malloc(r->n_members ? r->n_members : 1);
  if (!hops || ipop_grow(&r->nb, &r->cap_nb, r->n_nb, sizeof *r->nb, 16)) {
    free(hops);
    return IPOP_ENOMEM;
  }
  memset(hops, ROUTING_INF, r->n_members);
  size_t at = 0;
  while (at < r->n_nb && strcmp(r->nb[at].id, peer) < 0)
    at++;
  memmove(&r->nb[at + 1], &r->nb[at], (r->n_nb - at) * sizeof *r->nb);
  memset(&r->nb[at], 0, sizeof r->nb[at]);
  memcpy(r->nb[at].id, peer, NODEID_BUF);
  r->nb[at].member = m;
  r->nb[at].hops = hops;
  r->n_nb++;
  return 0;
}

void routing_link_down(struct routing *r, const char *peer)
{
  long at = nb_index(r, peer);
  if (at < 0)
    return;
  free(r->nb[at].hops);
  memmove(&r->nb[at], &r->nb[at + 1], (r->n_nb - (size_t)at - 1) * sizeof *r->nb);
  r->n_nb--;
}

int routing_on_vector(struct routing *r, const char *peer, bool forwarding,
                      const struct routing_adv *v, size_t n)
{
  long at = nb_index(r, peer);
  if (at < 0)
    return IPOP_ENOENT;
  uint8_t *hops = malloc(r->n_members ? r->n_members : 1);
  if (!hops)
    return IPOP_ENOMEM;
  memset(hops, ROUTING_INF, r->n_members);
  uint8_t *seen = calloc(r->n_members ? r->n_members : 1, 1);
  if (!seen) {
    free(hops);
    return IPOP_ENOMEM;
  }
  unsigned self_seen = 0;
  size_t cur = 0;
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    /* Vectors come sorted (after the sender's own entry): a merge walk
     * along the members, a binary search for an entry out of order. */
    long m = -1;
    int c = cur < r->n_members ? idcmp(r->members[cur], v[i].id) : 1;
    while (c < 0 && ++cur < r->n_members)
      c = idcmp(r->members[cur], v[i].id);
    if (c == 0)
      m = (long)cur;
    else if (c > 0 && cur > 0)
      m = routing_member_index(r, v[i].id); /* out of order: search */
    bool is_peer = m >= 0 && m == r->nb[at].member;
    if (m >= 0) {
      cur = (size_t)m + 1;
      if (seen[m]++)
        rc = IPOP_EINVAL; /* listed twice */
    } else if (!nodeid_valid(v[i].id)) { /* a member's id is valid already */
      rc = IPOP_EINVAL;
    } else if (strcmp(v[i].id, r->self) == 0 && self_seen++) {
      rc = IPOP_EINVAL;
    }
    if (v[i].hops >= ROUTING_INF || (v[i].hops == 0) != is_peer)
      rc = IPOP_EINVAL;
    else if (m >= 0)
      hops[m] = v[i].hops;
  }
  if (rc) {
    free(hops), free(seen);
    return rc;
  }
  free(seen);
  free(r->nb[at].hops);
  r->nb[at].hops = hops;
  r->nb[at].forwarding = forwarding;
  return 0;
}

/* Per member, the best hop count over the neighbours and the neighbours
 * (indices, ascending) that offer it: a neighbour offers itself at 1 hop
 * and, if it forwards, what it reaches at one hop more.  Neighbours outer,
 * members inner: each neighbour's vector is read in order. */
int routing_compute(struct routing *r)
{
  size_t n = r->n_members;
  uint8_t *best = malloc(n ? n : 1);
  uint16_t(*via)[ROUTING_VIA] = malloc((n ? n : 1) * sizeof *via);
  if (!best || !via) {
    free(best), free(via);
    return IPOP_ENOMEM;
  }
  memset(best, ROUTING_INF, n);
  for (size_t m = 0; m < n; m++)
    for (int i = 0; i < ROUTING_VIA; i++)
      via[m][i] = NB_NONE;
  for (size_t k = 0; k < r->n_nb; k++) {
    const struct neighbour *nb = &r->nb[k];
    for (size_t m = 0; m < n; m++) {
      uint8_t h = nb->member == (long)m ? 1
                  : nb->forwarding && nb->hops[m] && nb->hops[m] + 1 < ROUTING_INF
                      ? (uint8_t)(nb->hops[m] + 1)
                      : ROUTING_INF;
      if (h >= ROUTING_INF || h > best[m])
        continue;
      /* Next hops: the neighbours one hop closer than us (equal cost), in
       * id order; they never route back through us, so no loop forms. */
      if (h < best[m]) {
        best[m] = h;
        for (int i = 1; i < ROUTING_VIA; i++)
          via[m][i] = NB_NONE;
        via[m][0] = (uint16_t)k;
        continue;
      }
      for (int i = 0; i < ROUTING_VIA; i++)
        if (via[m][i] == NB_NONE) {
          via[m][i] = (uint16_t)k;
          break;
        }
    }
  }
  bool changed = memcmp(best, r->hops, n) != 0 || memcmp(via, r->via, n * sizeof *via) != 0;
  free(r->hops), free(r->via);
  r->hops = best;
  r->via = via;
  return changed ? 1 : 0;
}

void routing_route(const struct routing *r, size_t i, struct routing_route *out)
{
  memset(out, 0, sizeof *out);
  if (i >= r->n_members)
    return;
  out->id = r->members[i];
  out->hops = r->hops[i];
  for (int k = 0; k < ROUTING_VIA && r->via[i][k] < r->n_nb; k++)
    out->via[out->n_via++] = r->nb[r->via[i][k]].id;
}

int routing_vector_for(const struct routing *r, const char *peer, struct routing_adv **out)
{
  struct routing_adv *v = malloc((r->n_members + 1) * sizeof *v);
  if (!v)
    return IPOP_ENOMEM;
  long pk = nb_index(r, peer), pm = routing_member_index(r, peer);
  size_t n = 0;
  memcpy(v[n].id, r->self, NODEID_BUF);
  v[n++].hops = 0;
  for (size_t m = 0; r->forwarding && m < r->n_members; m++) {
    if (r->hops[m] >= ROUTING_INF || (long)m == pm)
      continue;
    bool poisoned = false; /* via is ascending, NB_NONE last */
    for (int k = 0; k < ROUTING_VIA && pk >= 0 && r->via[m][k] <= (uint16_t)pk && !poisoned; k++)
      poisoned = r->via[m][k] == (uint16_t)pk;
    if (poisoned)
      continue;
    memcpy(v[n].id, r->members[m], NODEID_BUF);
    v[n++].hops = r->hops[m];
  }
  *out = v;
  return (int)n;
}

size_t routing_neighbour_count(const struct routing *r)
{
  return r->n_nb;
}

const char *routing_neighbour_at(const struct routing *r, size_t i)
{
  return i < r->n_nb ? r->nb[i].id : NULL;
}
