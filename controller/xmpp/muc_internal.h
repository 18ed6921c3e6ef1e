/* What muc.c (rooms), muc_iq.c (requests, discovery, owner actions) and
 * block.c (XEP-0191) share.  Not for the controller: the API is muc.h. */
#ifndef IPOP_XMPP_MUC_INTERNAL_H
#define IPOP_XMPP_MUC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "client_internal.h"
#include "muc.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_XDATA "jabber:x:data"
#define NS_CONFERENCE "jabber:x:conference"

enum {
  IQ_PENDING_MAX = 256,       /* requests awaiting an answer */
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

enum iq_kind {
  IQ_DISCO_ITEMS, IQ_DISCO_INFO, IQ_CFG_GET, IQ_CFG_SET, IQ_ROOM_INFO,
  IQ_AFFIL, IQ_MEMBERS, IQ_BLOCKLIST, IQ_BLOCK, IQ_UNBLOCK,
};

struct iq_pending {
  char id[24];
  enum iq_kind kind;
  char *to;                   /* NULL: our own account (blocking) */
  char *room;                 /* room JID, or NULL */
  char *jid;                  /* target JID, or NULL */
  int aff;
};

/* ---- muc_iq.c */
/* The online connection, or NULL. */
struct conn *xmpp__online(struct xmpp_client *c);
/* JID checks: 1..XMPP_JID_MAX-1 bytes, no whitespace or control
 * characters, no quotes/angles; bare: "local@domain" (no resource); full:
 * has a resource; any: either, or a domain. */
bool xmpp__jid_is_bare(const char *jid);
bool xmpp__jid_is_full(const char *jid);
bool xmpp__jid_ok(const char *jid);
/* Text for our use: at most max bytes and no control characters except
 * tab/newline (NULL is fine). */
bool xmpp__text_ok(const char *s, size_t max);
/* Send <iq type to id>payload</iq> and remember it; payload is the inner
 * XML.  to NULL: to our own account.  0, IPOP_EBUSY, IPOP_ENOMEM. */
int xmpp__iq_send(struct xmpp_client *c, enum iq_kind kind, const char *type,
                  const char *to, const char *room, const char *jid, int aff,
                  const char *payload);
/* Report a result through on_result. */
void xmpp__report(struct xmpp_client *c, enum xmpp_op op, const char *room,
                  const char *jid, int err, const char *cond,
                  const char *text);
/* Condition of a type='error' stanza ("undefined-condition" if none) and
 * its <text/> (or "") into text. */
const char *xmpp__stanza_error(const struct xmpp_stanza *st, char *text,
                               size_t textlen);
/* Count and log (rate limited) a MUC/blocking stanza we refuse. */
void xmpp__muc_drop(struct xmpp_client *c, const char *what,
                    const char *from);
/* Value of field var in a jabber:x:data form, or NULL. */
const char *xmpp__form_value(const struct xmpp_stanza *x, const char *var,
                             size_t *len);

/* ---- muc.c */
struct muc_room *xmpp__room_find(struct xmpp_client *c, const char *jid);
/* Forget a room (free it). */
void xmpp__room_forget(struct xmpp_client *c, struct muc_room *r);
/* Configuration form answers of a room being created. */
void xmpp__room_cfg_form(struct xmpp_client *c, struct muc_room *r,
                         const struct xmpp_stanza *iq, bool ok);
void xmpp__room_cfg_done(struct xmpp_client *c, struct muc_room *r,
                         const struct xmpp_stanza *iq, bool ok);
/* Forget r and report on_muc_self with state (LEFT/FAILED). */
void xmpp__room_gone(struct xmpp_client *c, struct muc_room *r,
                     enum xmpp_muc_self_state state,
                     enum xmpp_muc_reason reason, const char *cond,
                     const char *text);
/* Report failure of room creation (CREATE result), leave and forget. */
void xmpp__room_create_failed(struct xmpp_client *c, struct muc_room *r,
                              int err, const char *cond, const char *text);

/* ---- block.c */
void xmpp__block_result(struct xmpp_client *c, const struct iq_pending *p,
                        const struct xmpp_stanza *iq, bool ok);
void xmpp__block_clear(struct xmpp_client *c);
void xmpp__block_fetch(struct xmpp_client *c);

/* ---- session.c */
void xmpp__send_iq_error(struct conn *k, const struct xmpp_stanza *iq,
                         const char *type, const char *cond);
void xmpp__send_iq_result(struct conn *k, const struct xmpp_stanza *iq);

#endif
