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
 * on_muc_room_info, on_muc_members and on_blocklist.
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
 * API history: first version 2026-11-23 (issue #7).  Issue #11: the
 * library keeps no block list and no list of IPOP nodes any more (it
 * reports; the controller's registry decides): xmpp_block_has() and
 * xmpp_block_list() are gone, invitations from blocked JIDs are reported
 * like any other, and xmpp_muc_invite() sends to the JID it is given. */
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
  XMPP_BLOCKLIST_MAX = 4096,        /* blocked JIDs reported per event */
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
 * A bare jid gets a mediated invitation (XEP-0045 7.8.2, through the room)
 * for the person's chat clients; a full jid a direct one (XEP-0249, from
 * us).  IPOP nodes announce priority -1, so a message to a bare JID never
 * reaches one: invite each of the account's node JIDs as well (the
 * controller knows them). */
int xmpp_muc_invite(struct xmpp_client *c, const char *room, const char *jid,
                    const char *reason);
/* Owner/admin: the list of jids with affiliation aff (member, admin,
 * owner, outcast): on_muc_members, or on_result XMPP_OP_MEMBERS. */
int xmpp_muc_get_affiliations(struct xmpp_client *c, const char *room,
                              enum xmpp_muc_affiliation aff);

/* ----------------------------------------------------------- blocking */

/* The blocklist is fetched after every login (on_blocklist with full =
 * true; if the server does not support XEP-0191, on_result
 * XMPP_OP_BLOCKLIST with IPOP_ENOTSUP); pushes are reported as they come,
 * and a successful block/unblock of ours is reported at once as well (a
 * server that does not push it to us still works).  The library keeps no
 * list: the caller owns it and applies it (XEP-0191 item rules: an item
 * with a resource blocks that full JID, a bare one the whole account, a
 * domain one the whole domain). */
int xmpp_block_add(struct xmpp_client *c, const char *jid);
/* jid NULL: unblock everyone. */
int xmpp_block_remove(struct xmpp_client *c, const char *jid);

#endif
