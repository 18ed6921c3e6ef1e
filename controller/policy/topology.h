/* topology: which links a GroupVPN node should have (docs/topology.md).
 *
 *   - members - 1 <= link_budget: full mesh.
 *   - else: ring_per_side nearest members on each side of a ring ordered by
 *     node id, plus Symphony-style long-distance links (harmonic distance,
 *     drawn with the injected RNG and kept while their peer stays a member),
 *     within the budget, half of what the ring leaves being reserved for
 *     links other members open to us;
 *   - plus on-demand links to members we exchange traffic with (tincan's
 *     unknown-destination events), trimmed once idle for ondemand_idle_ms;
 *   - plus inbound links other members asked for, while capacity lasts.
 *
 * Pure: the caller passes members, events, counters and now_ms in, and gets
 * the desired set and the add/remove diff against its current links out. */
#ifndef IPOP_POLICY_TOPOLOGY_H
#define IPOP_POLICY_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeid.h"
#include "policy.h"

enum topology_kind {
  TOPO_MESH,        /* full mesh (small group) */
  TOPO_RING,        /* ring neighbour (successor or predecessor) */
  TOPO_LONG,        /* long-distance (Symphony) */
  TOPO_ONDEMAND,    /* opened for traffic, trimmed when idle */
  TOPO_INBOUND,     /* another member asked for it; kept while it lasts */
};
extern const char *const topology_kind_names[];

struct topology_config {
  uint32_t link_budget;          /* structured links per node; 32 (>= 2) */
  uint32_t ring_per_side;        /* ring neighbours on each side; 2 */
  uint32_t long_links;           /* long-distance links; 0 = ceil(log2(N)) */
  uint32_t ondemand_max;         /* on-demand links at most; 8 */
  uint32_t ondemand_events;      /* unknown-destination events within */
  uint32_t ondemand_window_ms;   /*   this window open a link; 1 in 10000 */
  uint32_t activity_window_ms;   /* byte counters are judged per window; 30000 */
  uint64_t ondemand_idle_bytes;  /* a window with fewer bytes is idle; 1024 */
  uint32_t ondemand_idle_ms;     /* idle this long -> trimmed; 300000 */
  uint32_t inbound_max;          /* inbound links at most; 0 = budget */
  policy_rand_fn rnd;            /* long-distance draws */
  void *rnd_ctx;
};
void topology_config_defaults(struct topology_config *cfg);

struct topology_link {
  char peer_id[NODEID_BUF];
  enum topology_kind kind;
};

/* Output of topology_plan(); free with topology_plan_free(). */
struct topology_plan {
  struct topology_link *desired;  /* sorted by peer id */
  size_t n_desired;
  struct topology_link *add;      /* desired, not current: negotiate_connect() */
  size_t n_add;
  char (*remove)[NODEID_BUF];     /* current, not desired: negotiate_disconnect() */
  size_t n_remove;
};
void topology_plan_free(struct topology_plan *p);

struct topology;

/* own_id must be a valid node id; cfg is copied.  IPOP_EINVAL on bad config. */
int topology_create(struct topology **out, const struct topology_config *cfg,
                    const char *own_id);
void topology_free(struct topology *t);

/* Replace the member set (node ids of the group's nodes that are online;
 * our own id and duplicates are skipped).  Links to former members are
 * forgotten.  IPOP_EINVAL if an id is invalid (nothing changed then). */
int topology_set_members(struct topology *t, const char *const *ids, size_t n);
size_t topology_member_count(const struct topology *t); /* without us */
/* On-demand links held now (ours and inbound ones over the reserve). */
size_t topology_ondemand_count(const struct topology *t);

/* tincan reported traffic for peer (a member) with no link: after
 * ondemand_events such events within ondemand_window_ms the peer gets an
 * on-demand link (unless it already has a structured one).  Returns 1 when
 * this event made it desired, 0 otherwise, IPOP_ENOENT for non-members. */
int topology_on_unknown_dest(struct topology *t, const char *peer_id, uint64_t now_ms);

/* Cumulative byte counter (tx + rx) of the link to peer, from tincan's
 * stats; keeps on-demand and inbound links alive while traffic flows. */
int topology_on_link_bytes(struct topology *t, const char *peer_id, uint64_t bytes,
                           uint64_t now_ms);

/* A member asks us for a link (inbound link_request; ondemand is its
 * "ondemand" flag).  0: accept.  A peer of our structured set is always
 * accepted; otherwise a structured request takes a place of the inbound
 * reserve (kept until the peer cancels), an on-demand one a free on-demand
 * slot (trimmed when idle; remote requests never evict).
 * IPOP_EBUSY: the reserve is full (reject with over_budget); IPOP_ENOENT:
 * not a member. */
int topology_on_inbound(struct topology *t, const char *peer_id, bool ondemand,
                        uint64_t now_ms);

/* The link to peer is gone (cancelled or trimmed by the peer): drop its
 * on-demand/inbound record. */
void topology_on_link_gone(struct topology *t, const char *peer_id);

/* The peer refused our request (over_budget) or negotiation gave up: a
 * long-distance choice is redrawn elsewhere (the peer is excluded until the
 * member set changes); an on-demand record is dropped. */
void topology_on_rejected(struct topology *t, const char *peer_id);

/* Compute the desired set at now_ms and its diff against the caller's
 * current links (up or being set up).  Trims idle on-demand links. */
int topology_plan(struct topology *t, uint64_t now_ms, const char *const *current,
                  size_t n_current, struct topology_plan *plan);

/* Structured budget split for N nodes (us included): ring neighbours per
 * side and long-distance links.  Exposed for tests and docs. */
void topology_shape(const struct topology_config *cfg, size_t n_nodes, uint32_t *ring,
                    uint32_t *longl, bool *mesh);

#endif
