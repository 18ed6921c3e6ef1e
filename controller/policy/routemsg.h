/* routemsg: the distance vector one GroupVPN controller sends another over
 * a kept link (routing.h), as the JSON payload of an XMPP
 * <signal type="routes"/> (docs/signaling-negotiation.md "Routes").
 *
 *   {"v":1,"from":ID,"to":ID,"overlay_id":"...","forwarding":true,
 *    "sync":true,"routes":[{"id":ID,"hops":0},{"id":ID,"hops":2},...]}
 *
 * sync (optional, default false): the sender's first vector since the link
 * changed; the recipient answers with its own, even if unchanged (one of
 * the two may have been dropped while the other side did not see the link
 * up yet).
 *
 * Decoded strictly (unknown keys, duplicates, bad ids or hop counts are
 * errors that name the field), bounded (ROUTEMSG_MAX entries, the signal
 * payload limit, nesting depth).  The sender's own entry comes first with
 * 0 hops, every other entry has 1..ROUTING_INF-1. */
#ifndef IPOP_POLICY_ROUTEMSG_H
#define IPOP_POLICY_ROUTEMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbind.h"
#include "messages.h"
#include "nodeid.h"
#include "routing.h"

enum {
  ROUTEMSG_VERSION = 1,
  ROUTEMSG_MAX = 256,           /* entries per message (fits SIGMSG_MAX_PAYLOAD) */
};

#define ROUTEMSG_TYPE "routes"

struct routemsg {
  uint32_t v;
  char from[NODEID_BUF];
  char to[NODEID_BUF];
  char overlay_id[CTL_ID_LEN];
  bool forwarding;
  bool sync;                    /* first vector on a new link: send yours */
  struct routing_adv routes[ROUTEMSG_MAX];
  uint32_t n_routes;
};

/* 0, or an IPOP_E* code with err naming the field. */
int routemsg_decode(const char *payload, size_t len, struct routemsg *out, struct jb_error *err);
/* *json is malloc'ed (free it).  Entries past ROUTEMSG_MAX are left out
 * (the caller sends the nearest first). */
int routemsg_encode(const struct routemsg *m, char **json, struct jb_error *err);

#endif
