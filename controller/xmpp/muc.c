/* XMPP client: multi-user chat rooms (XEP-0045) and blocking (XEP-0191).
 * STUB: the API of muc.h compiles; the implementation follows. */
#include <stdio.h>
#include <string.h>

#include "client_internal.h"
#include "error.h"
#include "muc.h"

const char *xmpp_muc_affiliation_name(enum xmpp_muc_affiliation a)
{
  static const char *const n[] = { "none", "outcast", "member", "admin",
                                   "owner" };
  return (unsigned)a < 5 ? n[a] : "none";
}

const char *xmpp_muc_role_name(enum xmpp_muc_role r)
{
  static const char *const n[] = { "none", "visitor", "participant",
                                   "moderator" };
  return (unsigned)r < 4 ? n[r] : "none";
}

const char *xmpp_op_name(enum xmpp_op op)
{
  static const char *const n[] = { "?", "discover", "create", "join",
                                   "affiliation", "room_info", "members",
                                   "block", "unblock", "blocklist" };
  return (unsigned)op < sizeof(n) / sizeof(n[0]) ? n[op] : "?";
}

const char *xmpp_muc_reason_name(enum xmpp_muc_reason r)
{
  static const char *const n[] = { "left", "affiliation", "banned", "kicked",
                                   "members_only", "shutdown", "destroyed" };
  return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "left";
}

int xmpp_muc_set_service(struct xmpp_client *c, const char *service)
{
  (void)c; (void)service;
  return IPOP_ENOTSUP;
}

const char *xmpp_muc_service(const struct xmpp_client *c)
{
  (void)c;
  return "";
}

int xmpp_muc_discover(struct xmpp_client *c)
{
  (void)c;
  return IPOP_ENOTSUP;
}

int xmpp_muc_default_nick(const struct xmpp_client *c, char *buf, size_t len)
{
  int n = snprintf(buf, len, "%s-%.8s", c->local, c->node_id);
  return n < 0 || (size_t)n >= len ? IPOP_ETOOBIG : 0;
}

int xmpp_muc_create(struct xmpp_client *c, const char *room, const char *nick,
                    const char *name, const char *description)
{
  (void)c; (void)room; (void)nick; (void)name; (void)description;
  return IPOP_ENOTSUP;
}

int xmpp_muc_join(struct xmpp_client *c, const char *room, const char *nick)
{
  (void)c; (void)room; (void)nick;
  return IPOP_ENOTSUP;
}

int xmpp_muc_leave(struct xmpp_client *c, const char *room)
{
  (void)c; (void)room;
  return IPOP_ENOTSUP;
}

bool xmpp_muc_joined(const struct xmpp_client *c, const char *room)
{
  (void)c; (void)room;
  return false;
}

int xmpp_muc_room_info(struct xmpp_client *c, const char *room)
{
  (void)c; (void)room;
  return IPOP_ENOTSUP;
}

int xmpp_muc_set_affiliation(struct xmpp_client *c, const char *room,
                             const char *jid, enum xmpp_muc_affiliation aff,
                             const char *reason)
{
  (void)c; (void)room; (void)jid; (void)aff; (void)reason;
  return IPOP_ENOTSUP;
}

int xmpp_muc_invite(struct xmpp_client *c, const char *room, const char *jid,
                    const char *reason)
{
  (void)c; (void)room; (void)jid; (void)reason;
  return IPOP_ENOTSUP;
}

int xmpp_muc_get_affiliations(struct xmpp_client *c, const char *room,
                              enum xmpp_muc_affiliation aff)
{
  (void)c; (void)room; (void)aff;
  return IPOP_ENOTSUP;
}

int xmpp_block_add(struct xmpp_client *c, const char *jid)
{
  (void)c; (void)jid;
  return IPOP_ENOTSUP;
}

int xmpp_block_remove(struct xmpp_client *c, const char *jid)
{
  (void)c; (void)jid;
  return IPOP_ENOTSUP;
}

bool xmpp_block_has(const struct xmpp_client *c, const char *jid)
{
  (void)c; (void)jid;
  return false;
}

const char *const *xmpp_block_list(const struct xmpp_client *c, size_t *n)
{
  (void)c;
  *n = 0;
  return NULL;
}
