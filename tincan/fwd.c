/* The forwarding table and its checks (fwd.h). */
#include "fwd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane.h"
#include "error.h"
#include "nd.h"
#include "secret.h"

int tc_fwd_parse_id(const char *hex, uint8_t out[TC_FWD_ID])
{
  if (strlen(hex) != 2 * TC_FWD_ID)
    return IPOP_EINVAL;
  for (size_t i = 0; i < TC_FWD_ID; i++) {
    unsigned v = 0;
    for (size_t k = 0; k < 2; k++) {
      char c = hex[2 * i + k];
      if (c >= '0' && c <= '9')
        v = v * 16 + (unsigned)(c - '0');
      else if (c >= 'a' && c <= 'f')
        v = v * 16 + (unsigned)(c - 'a' + 10);
      else
        return IPOP_EINVAL;
    }
    out[i] = (uint8_t)v;
  }
  return 0;
}

_Static_assert((int)TC_FWD_HDR == (int)TC_DP_ROUTED_HDR, "one overlay header");

static int cmp_node(const void *a, const void *b)
{
  return memcmp(((const struct tc_fwd_node *)a)->id, ((const struct tc_fwd_node *)b)->id,
                TC_FWD_ID);
}

static const struct tc_fwd_node *sort_base; /* for cmp_mac only, during one qsort */

static int cmp_mac(const void *a, const void *b)
{
  return memcmp(sort_base[*(const uint32_t *)a].mac, sort_base[*(const uint32_t *)b].mac, 6);
}

/* Resolve a route's link names to slots: each must be a link of this
 * overlay, named once. */
static int slots_of(const char (*names)[CTL_ID_LEN], uint32_t n, uint32_t *out,
                    tc_fwd_link_fn link_of, void *ctx, const char *field, uint32_t idx,
                    char *why, size_t whylen)
{
  for (uint32_t i = 0; i < n; i++) {
    out[i] = link_of(ctx, names[i], NULL);
    if (out[i] == TC_FWD_NONE) {
      snprintf(why, whylen, "routes[%u].%s[%u]: no link to \"%s\" on this overlay", idx, field,
               i, names[i]);
      return IPOP_EFIELD;
    }
    for (uint32_t k = 0; k < i; k++)
      if (out[k] == out[i]) {
        snprintf(why, whylen, "routes[%u].%s[%u]: \"%s\" listed twice", idx, field, i,
                 names[i]);
        return IPOP_EFIELD;
      }
  }
  return 0;
}

/* One entry of set_routes, checked against the overlay and its links. */
static int entry_of(const struct ctl_route *r, uint32_t idx, const uint8_t self[TC_FWD_ID],
                    const struct tc_fwd_own *own, tc_fwd_link_fn link_of, void *ctx,
                    struct tc_fwd_node *e, char *why, size_t whylen)
{
  memset(e, 0, sizeof *e);
  if (tc_fwd_parse_id(r->node_id, e->id) != 0) {
    snprintf(why, whylen, "routes[%u].node_id: expected 32 lowercase hex characters", idx);
    return IPOP_EFIELD;
  }
  if (memcmp(e->id, self, TC_FWD_ID) == 0) {
    snprintf(why, whylen, "routes[%u].node_id: is this node's own id", idx);
    return IPOP_EFIELD;
  }
  if (!frame_mac_is_learnable(r->mac) || memcmp(r->mac, own->mac, 6) == 0) {
    snprintf(why, whylen, "routes[%u].mac: must be unicast, non-zero and not this overlay's",
             idx);
    return IPOP_EFIELD;
  }
  memcpy(e->mac, r->mac, 6);
  /* The MAC bound to a link belongs to that link's peer, and only to it. */
  const uint8_t *bound = NULL;
  if (link_of(ctx, r->node_id, &bound) != TC_FWD_NONE && bound && memcmp(bound, r->mac, 6)) {
    snprintf(why, whylen, "routes[%u].mac: the link to %s is bound to another MAC", idx,
             r->node_id);
    return IPOP_EFIELD;
  }
  if (r->has_ip4) {
    uint8_t first = (uint8_t)(ntohl(r->ip4.s_addr) >> 24);
    if (r->ip4.s_addr == 0 || r->ip4.s_addr == INADDR_BROADCAST || first >= 224 ||
        first == 127 || r->ip4.s_addr == own->ip4) {
      snprintf(why, whylen, "routes[%u].ip4: must be unicast and not this overlay's", idx);
      return IPOP_EFIELD;
    }
    e->ip4 = r->ip4.s_addr;
  }
  if (r->has_ip6) {
    if (r->ip6.s6_addr[0] == 0xff || IN6_IS_ADDR_UNSPECIFIED(&r->ip6) ||
        IN6_IS_ADDR_LOOPBACK(&r->ip6) ||
        (own->ip6 && memcmp(&r->ip6, own->ip6, sizeof r->ip6) == 0)) {
      snprintf(why, whylen, "routes[%u].ip6: must be unicast and not this overlay's", idx);
      return IPOP_EFIELD;
    }
    e->ip6 = r->ip6;
    e->has_ip6 = true;
  }
  int rc = slots_of(r->via, r->n_via, e->via, link_of, ctx, "via", idx, why, whylen);
  if (rc == 0)
    rc = slots_of(r->from, r->n_from, e->from, link_of, ctx, "from", idx, why, whylen);
  e->n_via = (uint8_t)r->n_via;
  e->n_from = (uint8_t)r->n_from;
  return rc;
}

/* No two entries share an id, a MAC, a MAC bound to another link, or an
 * address (sorted by id; by_mac sorted). */
static int check_unique(const struct tc_fwd_node *nodes, const uint32_t *by_mac, uint32_t n,
                        char *why, size_t whylen)
{
  char hex[2 * TC_FWD_ID + 1];
  for (uint32_t i = 0; i < n; i++) {
    ipop_hex_encode(nodes[i].id, TC_FWD_ID, hex);
    if (i && memcmp(nodes[i].id, nodes[i - 1].id, TC_FWD_ID) == 0) {
      snprintf(why, whylen, "routes: node %s listed twice", hex);
      return IPOP_EFIELD;
    }
    const struct tc_fwd_node *m = &nodes[by_mac[i]];
    if (i && memcmp(m->mac, nodes[by_mac[i - 1]].mac, 6) == 0) {
      ipop_hex_encode(m->id, TC_FWD_ID, hex);
      snprintf(why, whylen, "routes: node %s: its MAC is another node's too", hex);
      return IPOP_EFIELD;
    }
    for (uint32_t k = i + 1; k < n; k++)
      if ((nodes[i].ip4 && nodes[i].ip4 == nodes[k].ip4) ||
          (nodes[i].has_ip6 && nodes[k].has_ip6 &&
           memcmp(&nodes[i].ip6, &nodes[k].ip6, sizeof nodes[i].ip6) == 0)) {
        snprintf(why, whylen, "routes: node %s: its address is another node's too", hex);
        return IPOP_EFIELD;
      }
  }
  return 0;
}

int tc_fwd_install(struct tc_fwd *f, const struct ctl_set_routes *r, const char *self_id,
                   const struct tc_fwd_own *own, tc_fwd_link_fn link_of, void *ctx, char *why,
                   size_t whylen)
{
  uint8_t self[TC_FWD_ID];
  if (tc_fwd_parse_id(self_id, self) != 0) {
    snprintf(why, whylen, "overlay_id: its node_id \"%s\" is not 32 lowercase hex characters; "
             "forwarding needs node ids", self_id);
    return IPOP_EFIELD;
  }
  uint32_t keep = r->replace ? 0 : f->n;
  uint32_t n = keep + r->n_routes;
  if (n > TC_FWD_MAX_NODES) {
    snprintf(why, whylen, "routes: %u nodes, at most %d per overlay", n, TC_FWD_MAX_NODES);
    return IPOP_ETOOBIG;
  }
  struct tc_fwd_node *nodes = calloc(n ? n : 1, sizeof *nodes);
  uint32_t *by_mac = calloc(n ? n : 1, sizeof *by_mac);
  if (!nodes || !by_mac) {
    free(nodes);
    free(by_mac);
    snprintf(why, whylen, "out of memory");
    return IPOP_ENOMEM;
  }
  if (keep)
    memcpy(nodes, f->nodes, keep * sizeof *nodes);
  int rc = 0;
  for (uint32_t i = 0; i < r->n_routes && rc == 0; i++)
    rc = entry_of(&r->routes[i], i, self, own, link_of, ctx, &nodes[keep + i], why, whylen);
  if (rc == 0) {
    qsort(nodes, n, sizeof *nodes, cmp_node);
    for (uint32_t i = 0; i < n; i++)
      by_mac[i] = i;
    sort_base = nodes;
    qsort(by_mac, n, sizeof *by_mac, cmp_mac);
    sort_base = NULL;
    rc = check_unique(nodes, by_mac, n, why, whylen);
  }
  if (rc) {
    free(nodes);
    free(by_mac);
    return rc;
  }
  free(f->nodes);
  free(f->by_mac);
  f->nodes = nodes;
  f->by_mac = by_mac;
  f->n = n;
  f->forwarding = r->forwarding;
  memcpy(f->self, self, TC_FWD_ID);
  return 0;
}

void tc_fwd_free(struct tc_fwd *f)
{
  free(f->nodes);
  free(f->by_mac);
  memset(f, 0, sizeof *f);
}

static uint8_t drop_slot(uint32_t *s, uint8_t n, uint32_t slot)
{
  uint8_t k = 0;
  for (uint8_t i = 0; i < n; i++)
    if (s[i] != slot)
      s[k++] = s[i];
  return k;
}

void tc_fwd_link_gone(struct tc_fwd *f, uint32_t slot)
{
  for (uint32_t i = 0; i < f->n; i++) {
    f->nodes[i].n_via = drop_slot(f->nodes[i].via, f->nodes[i].n_via, slot);
    f->nodes[i].n_from = drop_slot(f->nodes[i].from, f->nodes[i].n_from, slot);
  }
}

const struct tc_fwd_node *tc_fwd_by_id(const struct tc_fwd *f, const uint8_t id[TC_FWD_ID])
{
  size_t lo = 0, hi = f->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    int c = memcmp(f->nodes[mid].id, id, TC_FWD_ID);
    if (c == 0)
      return &f->nodes[mid];
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

struct tc_fwd_node *tc_fwd_by_mac(const struct tc_fwd *f, const uint8_t mac[6])
{
  size_t lo = 0, hi = f->n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    struct tc_fwd_node *e = &f->nodes[f->by_mac[mid]];
    int c = memcmp(e->mac, mac, 6);
    if (c == 0)
      return e;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

uint32_t tc_fwd_next_hop(const struct tc_fwd_node *node, tc_fwd_usable_fn usable, void *ctx)
{
  for (uint8_t i = 0; i < node->n_via; i++)
    if (usable(ctx, node->via[i]))
      return node->via[i];
  return TC_FWD_NONE;
}

void tc_fwd_header(const struct tc_fwd *f, const struct tc_fwd_node *node,
                   uint8_t hdr[1 + TC_FWD_HDR])
{
  hdr[0] = TC_DP_ROUTED;
  hdr[1] = TC_FWD_HOPS;
  memcpy(hdr + 2, f->self, TC_FWD_ID);
  memcpy(hdr + 2 + TC_FWD_ID, node->id, TC_FWD_ID);
}

/* The source: a node of the table, sending from its own MAC, over its own
 * link or one its frames are expected on. */
static bool origin_ok(struct tc_fwd *f, const struct tc_fwd_arrival *a, const uint8_t *src,
                      const struct frame_info *fi)
{
  const struct tc_fwd_node *s = tc_fwd_by_id(f, src);
  if (!s || memcmp(s->mac, fi->src, 6) != 0) {
    f->st.origin++;
    return false;
  }
  if (a->peer_id && memcmp(a->peer_id, src, TC_FWD_ID) == 0)
    return true;
  for (uint8_t i = 0; i < s->n_from; i++)
    if (s->from[i] == a->slot)
      return true;
  f->st.reverse_path++;
  return false;
}

enum tc_fwd_verdict tc_fwd_check(struct tc_fwd *f, const struct tc_fwd_arrival *a,
                                 uint8_t *hdr, const struct frame_info *fi,
                                 const uint8_t own_mac[6], tc_fwd_usable_fn usable,
                                 void *ctx, uint32_t *slot)
{
  const uint8_t *src = hdr + 1, *dst = hdr + 1 + TC_FWD_ID;
  if (hdr[0] == 0 || hdr[0] > TC_FWD_HOPS || memcmp(src, dst, TC_FWD_ID) == 0 ||
      memcmp(src, f->self, TC_FWD_ID) == 0) {
    f->st.bad_header++;
    return TC_FWD_DROP;
  }
  if (!origin_ok(f, a, src, fi))
    return TC_FWD_DROP;
  if (memcmp(dst, f->self, TC_FWD_ID) == 0) {
    if (memcmp(fi->dst, own_mac, 6) != 0) {
      f->st.bad_header++;
      return TC_FWD_DROP;
    }
    f->st.routed_in++;
    f->st.routed_in_hops += (uint64_t)(TC_FWD_HOPS - hdr[0] + 1);
    return TC_FWD_LOCAL;
  }
  if (!f->forwarding) {
    f->st.refused++;
    return TC_FWD_DROP;
  }
  if (hdr[0] <= 1) {
    f->st.hop_limit++;
    return TC_FWD_DROP;
  }
  const struct tc_fwd_node *d = tc_fwd_by_id(f, dst);
  if (!d || memcmp(d->mac, fi->dst, 6) != 0) {
    f->st.no_route++;
    return TC_FWD_DROP;
  }
  uint32_t next = tc_fwd_next_hop(d, usable, ctx);
  if (next == TC_FWD_NONE) {
    f->st.no_route++;
    return TC_FWD_DROP;
  }
  if (next == a->slot) {
    f->st.loop++;
    return TC_FWD_DROP;
  }
  hdr[0]--;
  f->st.forwarded++;
  *slot = next;
  return TC_FWD_FORWARD;
}

const uint8_t *tc_fwd_arp_target(struct tc_fwd *f, const struct frame_info *fi)
{
  if (fi->l3 != FRAME_L3_ARP || fi->arp.op != FRAME_ARP_REQUEST || fi->arp.tpa == fi->arp.spa ||
      fi->arp.tpa == 0)
    return NULL;
  for (uint32_t i = 0; i < f->n; i++)
    if (f->nodes[i].ip4 == fi->arp.tpa) {
      f->st.arp_answered++;
      return f->nodes[i].mac;
    }
  return NULL;
}

int tc_fwd_nd_target(struct tc_fwd *f, const struct frame_info *fi,
                     const struct tc_fwd_node **node, int *reason)
{
  struct nd_ns ns;
  *node = NULL;
  *reason = nd_ns_parse(fi, &ns);
  if (*reason == ND_NS_NONE)
    return 0;
  if (*reason != ND_NS_OK) {
    f->st.nd_bad++;
    return IPOP_EINVAL;
  }
  if (ns.dad)
    return 0;
  for (uint32_t i = 0; i < f->n; i++)
    if (f->nodes[i].has_ip6 && memcmp(&f->nodes[i].ip6, ns.target, 16) == 0) {
      f->st.nd_answered++;
      *node = &f->nodes[i];
      return 1;
    }
  f->st.nd_unknown++;
  return 0;
}
