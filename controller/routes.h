/* GroupVPN forwarding (docs/topology.md "Forwarding"): the distance vector
 * of each group overlay (policy/routing.h) fed with the links that are up
 * and the vectors neighbours send in "routes" signals; our vector goes to
 * each neighbour when it changes (at most every ROUTES_SEND_MS, and only
 * to a neighbour whose vector is not the one it got last) and again every
 * ROUTES_RESEND_EVERY refreshes; the routes go
 * to tincan as set_routes (member MACs and addresses, next hops,
 * reverse-path sets).  A group small enough for a full mesh routes only
 * around its gaps: the members missing a link, and the neighbours that
 * hear from them.  One timer for all overlays coalesces bursts.  n->rt
 * itself is made and freed with the overlay (net.c). */
#ifndef IPOP_CONTROLLER_ROUTES_H
#define IPOP_CONTROLLER_ROUTES_H

#include "controller.h"

enum {
  ROUTES_SOON_MS = 100,         /* after a change */
  ROUTES_SEND_MS = 2000,        /* vectors go out at most this often per overlay */
  ROUTES_REFRESH_MS = 30000,    /* table checked, changed vectors sent */
  ROUTES_RESEND_EVERY = 4,      /* ... and every 4th refresh all of them */
  /* A full mesh routes around a member it has had no link up to for
   * ROUTES_GAP_MS (a pair that cannot link: two symmetric NATs and no
   * TURN), and a member that got a neighbour's vector within
   * ROUTES_HELP_MS carries frames for it (> the 2 minutes between full
   * resends). */
  ROUTES_GAP_MS = 10000,
  ROUTES_HELP_MS = 150000,
};

/* Something changed (a link, the member set): recompute soon. */
void ctrl_routes_kick(struct ctrl *c);
void ctrl_routes_timer_cb(uv_timer_t *t);
/* A "routes" signal from node peer_id (the registry vouched for its JID). */
void ctrl_routes_on_signal(struct ctrl_net *n, const char *peer_id, const char *payload,
                           size_t len);

#endif
