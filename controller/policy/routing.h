/* routing: which link carries a frame to a GroupVPN member we have no
 * link to (docs/topology.md "Forwarding").
 *
 * Distance vector over the links we keep (ring, long-distance, on-demand,
 * inbound): each node tells each neighbour its hop count to every member it
 * can reach, and takes, per destination, the neighbours that are one hop
 * closer than itself as next hops (all of them, best first: tincan uses the
 * first whose link is up, so a lost link is routed around at once, without
 * a controller round trip).  The same set is the reverse-path set: on a
 * shortest path from S, a frame from S arrives from a neighbour one hop
 * closer to S than we are, so a member may claim S's frames only if it is
 * such a neighbour.  Split horizon with poisoned reverse and a hop limit of
 * ROUTING_INF bound count-to-infinity.  A member with forwarding off
 * advertises only itself: nobody routes through it.
 *
 * Pure: the caller feeds link changes and neighbours' vectors in, and
 * gets the routes (for set_routes) and the vectors to send out. */
#ifndef IPOP_POLICY_ROUTING_H
#define IPOP_POLICY_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodeid.h"

enum {
  ROUTING_INF = 16,             /* hops: unreachable (= tincan's hop limit) */
  ROUTING_VIA = 8,              /* equal-cost next hops kept per destination */
};

/* One entry of a vector: "I reach id in hops". */
struct routing_adv {
  char id[NODEID_BUF];
  uint8_t hops;
};

/* A route, as routing_route() fills it in: pointers into r, valid until
 * the next call that changes r. */
struct routing_route {
  const char *id;
  uint8_t hops;                 /* 1: a neighbour; ROUTING_INF: unreachable */
  const char *via[ROUTING_VIA]; /* next hops, best first (also the */
  uint32_t n_via;               /*   reverse-path set) */
};

struct routing;

/* own_id: a valid node id. */
int routing_create(struct routing **out, const char *own_id);
void routing_free(struct routing *r);
/* Do we carry other members' frames (advertise routes through us)? */
void routing_set_forwarding(struct routing *r, bool on);
bool routing_forwarding(const struct routing *r);

/* The group's members (our own id and duplicates skipped): the only
 * destinations.  Neighbours that are no longer members are dropped.
 * IPOP_EINVAL for a bad id (nothing changes then). */
int routing_set_members(struct routing *r, const char *const *ids, size_t n);
size_t routing_member_count(const struct routing *r);

/* The link to peer is up (it is a neighbour) or gone.  IPOP_ENOENT for a
 * non-member. */
int routing_link_up(struct routing *r, const char *peer);
void routing_link_down(struct routing *r, const char *peer);

/* peer's vector (replaces the previous one; ids that are no members are
 * skipped).  forwarding: it carries others' frames (else only its own
 * entry counts).  IPOP_ENOENT if peer is no neighbour, IPOP_EINVAL for a
 * bad id or hop count, or an id listed twice (nothing changes then). */
int routing_on_vector(struct routing *r, const char *peer, bool forwarding,
                      const struct routing_adv *v, size_t n);

/* Recompute the routes.  Returns 1 if what we advertise changed (send our
 * vector to every neighbour), 0 if not, IPOP_ENOMEM. */
int routing_compute(struct routing *r);
/* Route i (0 .. routing_member_count - 1, sorted by id), as the last
 * routing_compute() left it (call it after every change). */
void routing_route(const struct routing *r, size_t i, struct routing_route *out);
/* Index of member id, or -1. */
long routing_member_index(const struct routing *r, const char *id);

/* The vector for neighbour peer: ourselves at 0 hops, then (forwarding on)
 * every member we reach, a route through peer poisoned (left out).  *out
 * is malloc'ed (free it); returns the count or a negative error. */
int routing_vector_for(const struct routing *r, const char *peer, struct routing_adv **out);

/* Neighbours (for sending vectors). */
size_t routing_neighbour_count(const struct routing *r);
const char *routing_neighbour_at(const struct routing *r, size_t i);

#endif
