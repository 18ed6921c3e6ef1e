/* What muc.c (rooms) and muc_iq.c (requests, discovery, owner actions)
 * share.  Not for the controller: the API is muc.h.  muc.c is the
 * extension (struct xmpp_ext); muc_iq.c sits below it. */
#ifndef IPOP_XMPP_MUC_INTERNAL_H
#define IPOP_XMPP_MUC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "client_internal.h"
#include "muc.h"

#define NS_CONFERENCE "jabber:x:conference"

enum {
  DISCO_ITEMS_MAX = 32,       /* service candidates asked in turn */
};

enum room_state {
  R_WAIT = 0,                 /* remembered; joined once online */
  R_JOINING,                  /* join presence sent */
  R_CONFIGURING,              /* new room (201): owner form being filled */
  R_JOINED,
  R_LEAVING,                  /* unavailable presence sent */
};

struct muc_room {
  char jid[XMPP_JID_MAX / 3]; /* bare room JID as the caller gave it */
  char nick[XMPP_MUC_NICK_MAX + 1];
  enum room_state st;
  bool create;                /* xmpp_muc_create: result not reported yet */
  char *name, *desc;          /* for the configuration form (create) */
  enum xmpp_muc_affiliation aff;
  enum xmpp_muc_role role;
};

/* Our requests (struct iq_pending.kind). */
enum iq_kind {
  IQ_DISCO_ITEMS, IQ_DISCO_INFO, IQ_CFG_GET, IQ_CFG_SET, IQ_ROOM_INFO,
  IQ_AFFIL, IQ_MEMBERS,
};

/* ---- muc_iq.c (muc.c calls it; never the other way) */
/* Drop discovery state (connection lost, client freed); true if a
 * discovery was running. */
bool xmpp__muc_disco_reset(struct xmpp_client *c);

#endif
