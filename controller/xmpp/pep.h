/* Node identity over personal eventing (XEP-0163 PEP, issue #11).
 * Wire format: docs/signaling.md, "Identity (PEP)".
 *
 * Every IPOP node publishes one item on the PEP node "urn:ipop:node:1" of
 * its own account: item id = node id, payload
 *   <node xmlns="urn:ipop:node:1" id="NODE-ID" fingerprint="sha-256 AB:.."
 *         caps="ip4=..."/>
 * with access model "presence" (the account's contacts may read it).  Only
 * the account can publish there, so the list of an account's nodes and
 * their DTLS fingerprints is vouched for by its server.
 *
 * Publishing: xmpp_pep_publish() sets our item; it is (re)published now,
 * after every login and whenever the caps change.  The node is asked for
 * with publish-options (access model presence, XMPP_PEP_ITEMS_MAX items);
 * a server that refuses them (ejabberd 23.01 knows no max_items there) gets
 * the node configured instead.  Each outcome is reported through on_result
 * XMPP_OP_PUBLISH, whose text says which way the server took.
 *
 * Following: our presence carries entity capabilities (XEP-0115) whose
 * features include "urn:ipop:node:1+notify", and disco#info queries are
 * answered with them, so the server sends us our contacts' items as they
 * publish (and their last item when they come online).  xmpp_pep_fetch()
 * reads all items of one account explicitly.  Both arrive through on_pep,
 * from the account's bare JID as its server stamped it; every item has
 * been checked (id = payload id, lengths, no control characters), its
 * contents are for the caller to judge.  Events from anything but a bare
 * JID, items of other nodes and malformed items are dropped and counted
 * (xmpp_counters.pep_dropped). */
#ifndef IPOP_XMPP_PEP_H
#define IPOP_XMPP_PEP_H

#include <stdbool.h>
#include <stddef.h>

#include "xmpp.h"

#define XMPP_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define XMPP_NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define XMPP_NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define XMPP_NS_CAPS "http://jabber.org/protocol/caps"
#define XMPP_PEP_NODE XMPP_NS_NODE
/* XEP-0115 node: names this software in our caps. */
#define XMPP_CAPS_NODE "urn:ipop:controller"

enum {
  XMPP_PEP_ITEMS_MAX = 16,          /* items (nodes) per account */
  XMPP_FPR_MAX = 128,               /* bytes of a fingerprint attribute */
};

struct xmpp_pep_item {
  const char *node_id;              /* = the item id */
  const char *fingerprint;          /* as published ("sha-256 AB:..") */
  const char *caps;                 /* NULL if absent */
};

enum xmpp_pep_kind {
  XMPP_PEP_ITEMS = 1,               /* notification: items published (new or
                                       replaced) */
  XMPP_PEP_RETRACT,                 /* notification: items retracted */
  XMPP_PEP_LIST,                    /* the account's whole list: the answer to
                                       xmpp_pep_fetch(), or a purge (n = 0) */
  XMPP_PEP_ERROR,                   /* xmpp_pep_fetch() failed: condition */
};

struct xmpp_pep_event {
  enum xmpp_pep_kind kind;
  const char *from;                 /* bare JID of the account */
  const struct xmpp_pep_item *items; /* ITEMS, LIST */
  size_t n;
  const char *const *retracted;     /* RETRACT: node ids */
  size_t n_retracted;
  const char *condition;            /* ERROR: "forbidden", "not-authorized"
                                       (not a contact), "item-not-found" (no
                                       such node), "feature-not-implemented",
                                       "connection-lost", ... */
};

/* Our item: node id and caps are the client's (xmpp_client_new,
 * xmpp_client_set_caps), fingerprint is given here (1..XMPP_FPR_MAX bytes,
 * no control characters).  Published now when online, else at login.
 * IPOP_EINVAL / IPOP_ETOOBIG for a bad fingerprint. */
int xmpp_pep_publish(struct xmpp_client *c, const char *fingerprint);
/* Ask for every item of bare_jid's node: on_pep LIST or ERROR.
 * IPOP_EINVAL for a bad JID, IPOP_ESTATE when not online, IPOP_EBUSY when
 * too many requests are pending. */
int xmpp_pep_fetch(struct xmpp_client *c, const char *bare_jid);
/* The XEP-0115 verification string of our caps (base64 SHA-1). */
const char *xmpp_pep_caps_ver(const struct xmpp_client *c);

#endif
