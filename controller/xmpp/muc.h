/* Multi-user chat rooms (XEP-0045) and blocking (XEP-0191) for user-made
 * groups (issue #7).  Wire format: docs/signaling.md, "Groups".
 *
 * A group is a persistent, members-only, non-anonymous, unlisted room on
 * the server's MUC service.  The library joins rooms with our
 * <node xmlns="urn:ipop:node:1" id=.../> in the room presence, reports the
 * room's occupants with their REAL full JIDs (muc#user <item jid=.../>),
 * and carries out the owner's actions (configure, grant/revoke membership,
 * invite).  Signaling between members still goes to full JIDs (xmpp.h).
 *
 * Results and events come through the callbacks appended to struct
 * xmpp_callbacks (xmpp.h): on_result (one per request below, keyed by
 * op + room (+ jid)), on_muc_self, on_muc_occupant, on_muc_invite,
 * on_muc_room_info, on_muc_members, on_blocklist, and signal_allowed.
 * Every pointer passed to a callback is valid only during the call, and
 * every string in it has been validated (length, JID shape) by the library.
 *
 * Rooms: a room is remembered from xmpp_muc_create()/xmpp_muc_join() until
 * xmpp_muc_leave() or our removal (kick, ban, membership revoked, room
 * destroyed, join refused).  Both may be called while not online (e.g. at
 * start, rejoining saved groups): the join is sent once online.  After a
 * reconnect the library rejoins every remembered room by itself and
 * reports on_muc_self again.  Leaving ONLINE voids every occupant reported
 * so far (like presences in xmpp.h).
 *
 * Nick: "<our JID localpart>-<first 8 characters of our node id>" unless the
 * caller gives one (xmpp_muc_default_nick); unique per node, stable across
 * restarts, readable by people in a chat client.
 *
 * Functions return 0 when the request was sent (or queued), or IPOP_E*:
 * IPOP_EINVAL for a malformed JID/nick/argument, IPOP_ETOOBIG for an
 * oversized text, IPOP_ESTATE when online is needed and we are not (or the
 * room is not joined where that is needed), IPOP_ENOMEM, IPOP_EBUSY when
 * XMPP_MUC_ROOMS_MAX rooms are remembered, IPOP_ENOTSUP when the service
 * is unknown or the server lacks the feature.
 *
 * API history: first version 2026-11-23 (issue #7). */
#ifndef IPOP_XMPP_MUC_H
#define IPOP_XMPP_MUC_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp.h"

#define XMPP_NS_MUC "http://jabber.org/protocol/muc"
#define XMPP_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define XMPP_NS_MUC_OWNER "http://jabber.org/protocol/muc#owner"
#define XMPP_NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"
#define XMPP_NS_BLOCKING "urn:xmpp:blocking"

enum {
  XMPP_MUC_ROOMS_MAX = 64,          /* rooms remembered at once */
  XMPP_MUC_NICK_MAX = 128,          /* bytes of a room nick */
  XMPP_MUC_DESC_MAX = 4096,         /* bytes of a room description */
  XMPP_MUC_NAME_MAX = 256,          /* bytes of a room name */
  XMPP_MUC_REASON_MAX = 1024,       /* bytes of an invitation/removal reason */
  XMPP_MUC_MEMBERS_MAX = 4096,      /* affiliations reported per list */
  XMPP_BLOCKLIST_MAX = 4096,        /* blocked JIDs kept */
};

enum xmpp_muc_affiliation {
  XMPP_AFF_NONE = 0, XMPP_AFF_OUTCAST, XMPP_AFF_MEMBER, XMPP_AFF_ADMIN,
  XMPP_AFF_OWNER,
};
enum xmpp_muc_role {
  XMPP_ROLE_NONE = 0, XMPP_ROLE_VISITOR, XMPP_ROLE_PARTICIPANT,
  XMPP_ROLE_MODERATOR,
};
/* "none", "outcast", "member", "admin", "owner" / "none", "visitor", ... */
const char *xmpp_muc_affiliation_name(enum xmpp_muc_affiliation a);
const char *xmpp_muc_role_name(enum xmpp_muc_role r);

/* Which request an on_result reports. */
enum xmpp_op {
  XMPP_OP_DISCOVER = 1,     /* MUC service discovery; text = service JID */
  XMPP_OP_CREATE,           /* room created and configured (or already ours) */
  XMPP_OP_JOIN,             /* join refused (success: on_muc_self JOINED) */
  XMPP_OP_AFFILIATION,      /* jid = whose affiliation was set */
  XMPP_OP_ROOM_INFO,        /* failure only (success: on_muc_room_info) */
  XMPP_OP_MEMBERS,          /* failure only (success: on_muc_members) */
  XMPP_OP_BLOCK,            /* jid = blocked JID (the push follows) */
  XMPP_OP_UNBLOCK,          /* jid = unblocked JID, NULL = everyone */
  XMPP_OP_BLOCKLIST,        /* failure to fetch the list after login */
};
const char *xmpp_op_name(enum xmpp_op op);

struct xmpp_result {
  enum xmpp_op op;
  const char *room;         /* bare room JID; NULL for DISCOVER and blocking */
  const char *jid;          /* see enum xmpp_op; NULL otherwise */
  int error;                /* 0 or IPOP_E* */
  const char *condition;    /* XMPP error condition ("forbidden",
                               "registration-required", "item-not-found",
                               "conflict", ...) or NULL */
  const char *text;         /* DISCOVER success: the service JID; on error
                               a sentence naming the room/JID */
};

/* Why we (or an occupant) left a room. */
enum xmpp_muc_reason {
  XMPP_MUC_LEFT = 0,        /* ordinary unavailable presence */
  XMPP_MUC_AFFILIATION,     /* 321: membership revoked */
  XMPP_MUC_BANNED,          /* 301 */
  XMPP_MUC_KICKED,          /* 307 */
  XMPP_MUC_MEMBERS_ONLY,    /* 322: room became members-only */
  XMPP_MUC_SHUTDOWN,        /* 332: service shutting down */
  XMPP_MUC_DESTROYED,       /* <destroy/> */
};
const char *xmpp_muc_reason_name(enum xmpp_muc_reason r);

enum xmpp_muc_self_state {
  XMPP_MUC_SELF_JOINED = 1, /* we are in the room (after create: configured) */
  XMPP_MUC_SELF_FAILED,     /* join refused: condition says why
                               ("registration-required" = not a member,
                               "forbidden" = banned, "conflict" = nick in
                               use, "item-not-found" = no such room) */
  XMPP_MUC_SELF_LEFT,       /* after xmpp_muc_leave(), or removed: reason */
};

struct xmpp_muc_self {
  const char *room;         /* bare room JID */
  const char *nick;
  enum xmpp_muc_self_state state;
  bool created;             /* JOINED: we created it just now (status 201) */
  enum xmpp_muc_affiliation affiliation;
  enum xmpp_muc_role role;
  enum xmpp_muc_reason reason;  /* LEFT */
  const char *condition;    /* FAILED: XMPP error condition */
  const char *text;         /* FAILED/LEFT: server text or reason, or NULL */
};

struct xmpp_muc_occupant {
  const char *room;         /* bare room JID */
  const char *nick;
  const char *jid;          /* real full JID (muc#user item jid); NULL when
                               the room does not tell it */
  enum xmpp_muc_affiliation affiliation;
  enum xmpp_muc_role role;
  bool available;           /* false: the occupant left (see reason) */
  enum xmpp_muc_reason reason;
  const char *node_id;      /* from <node xmlns="urn:ipop:node:1"/>, or NULL */
  const char *caps;         /* NULL if absent */
};

struct xmpp_muc_invite {
  const char *room;         /* bare room JID */
  const char *from;         /* inviter's bare JID */
  const char *reason;       /* "" if none */
  bool direct;              /* XEP-0249 direct invitation (else mediated) */
};

struct xmpp_muc_room_info {
  const char *room;
  const char *name;         /* muc#roomconfig_roomname / identity name, "" */
  const char *description;  /* muc#roominfo_description, "" if none */
  bool members_only, persistent, non_anonymous, hidden, password_protected;
};

struct xmpp_muc_members {
  const char *room;
  enum xmpp_muc_affiliation affiliation;  /* which list */
  const char *const *jids;  /* bare JIDs */
  size_t n;
};

/* Blocklist change.  full: the whole list follows (after login: every
 * blocked JID; unblock-all push: n == 0, blocked == false) and replaces
 * what was known; otherwise the jids were added (blocked) or removed. */
struct xmpp_blocklist_event {
  const char *const *jids;
  size_t n;
  bool blocked;
  bool full;
};

/* ---------------------------------------------------------------- MUC */

/* Use this MUC service (e.g. "conference.example.org") instead of
 * discovering one; "" or NULL goes back to discovery. */
int xmpp_muc_set_service(struct xmpp_client *c, const char *service);
/* The service in use: configured, or discovered this session; "" if none
 * known yet. */
const char *xmpp_muc_service(const struct xmpp_client *c);
/* disco#items on our server's domain, disco#info on each item, first with
 * identity conference/text wins (cached per session).  Result: on_result
 * XMPP_OP_DISCOVER, text = service (also when already known/configured).
 * IPOP_ESTATE if not online. */
int xmpp_muc_discover(struct xmpp_client *c);

/* Fill buf with our default nick (see above).  Returns 0 or IPOP_ETOOBIG. */
int xmpp_muc_default_nick(const struct xmpp_client *c, char *buf, size_t len);

/* Create room (bare JID "name@service") owned by us: join; if the server
 * says it is new (201), configure it persistent, members-only,
 * whois=anyone, not public, no password, with name and description
 * (description may be NULL = "").  An existing room we own is success
 * (its configuration is left as it is); an existing room owned by someone
 * else, or one we may not enter, is an error naming the room (and we leave
 * it).  nick NULL = default.  Result: on_result XMPP_OP_CREATE, and on
 * success on_muc_self JOINED (created tells which case). */
int xmpp_muc_create(struct xmpp_client *c, const char *room, const char *nick,
                    const char *name, const char *description);
/* Join a room (nick NULL = default).  Success: on_muc_self JOINED; refusal:
 * on_muc_self FAILED and on_result XMPP_OP_JOIN with the condition.
 * Joining a room already joined (or being joined) is a no-op returning 0. */
int xmpp_muc_join(struct xmpp_client *c, const char *room, const char *nick);
/* Send unavailable presence and forget the room (on_muc_self LEFT follows
 * once the server confirms, or at once when not online).  IPOP_ENOENT if
 * the room is not remembered. */
int xmpp_muc_leave(struct xmpp_client *c, const char *room);
/* Is the room remembered, and are we in it right now? */
bool xmpp_muc_joined(const struct xmpp_client *c, const char *room);

/* disco#info on the room: on_muc_room_info, or on_result XMPP_OP_ROOM_INFO
 * on failure.  Members can read it in a members-only room. */
int xmpp_muc_room_info(struct xmpp_client *c, const char *room);
/* Owner (or admin): set jid's (bare) affiliation: XMPP_AFF_MEMBER grants
 * membership, XMPP_AFF_NONE revokes it (the occupant is removed with 321),
 * XMPP_AFF_OUTCAST bans.  reason may be NULL.  on_result
 * XMPP_OP_AFFILIATION. */
int xmpp_muc_set_affiliation(struct xmpp_client *c, const char *room,
                             const char *jid, enum xmpp_muc_affiliation aff,
                             const char *reason);
/* Invite jid to the room; reason may be NULL.  No result (servers do not
 * answer success); grant membership first (xmpp_muc_set_affiliation).
 * Our nodes announce priority -1, so a message to a bare JID never
 * reaches an IPOP node: for a bare jid, a direct invitation (XEP-0249,
 * from us) goes to every full JID of that account from which we have a
 * presence with an IPOP node (a mutual contact's nodes), and a mediated
 * one (XEP-0045 7.8.2, through the room) to the bare JID for the person's
 * chat clients.  A full jid gets a direct invitation only.  An invitee
 * whose node we do not see can still join by hand. */
int xmpp_muc_invite(struct xmpp_client *c, const char *room, const char *jid,
                    const char *reason);
/* Owner/admin: the list of jids with affiliation aff (member, admin,
 * owner, outcast): on_muc_members, or on_result XMPP_OP_MEMBERS. */
int xmpp_muc_get_affiliations(struct xmpp_client *c, const char *room,
                              enum xmpp_muc_affiliation aff);

/* ----------------------------------------------------------- blocking */

/* The blocklist is fetched after every login (on_blocklist with full =
 * true; if the server does not support XEP-0191, on_result
 * XMPP_OP_BLOCKLIST with IPOP_ENOTSUP) and kept up to date from pushes.
 * Signals from a blocked JID (bare, full, or domain item) are dropped
 * before on_signal and counted in xmpp_counters.blocked_signals, whatever
 * signal_allowed says. */
int xmpp_block_add(struct xmpp_client *c, const char *jid);
/* jid NULL: unblock everyone. */
int xmpp_block_remove(struct xmpp_client *c, const char *jid);
/* Does the current list block this JID (full or bare)? */
bool xmpp_block_has(const struct xmpp_client *c, const char *jid);
/* The current list (items as the server sent them); *n gets the count.
 * Valid until the next callback or call into the library. */
const char *const *xmpp_block_list(const struct xmpp_client *c, size_t *n);

#endif
