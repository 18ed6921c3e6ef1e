/* Overlays (struct ctrl_net) and their links, keyed by node id.  The
 * configured overlay is c->nets[0] (roster group or social); every group
 * over an XMPP room adds one (kind muc).  A net owns all of its state. */
#ifndef IPOP_CONTROLLER_NET_H
#define IPOP_CONTROLLER_NET_H

#include "controller.h"

/* A new overlay with its policy (negotiation; topology or address pool)
 * and its address: fixed if addr, else derived from our node id (GroupVPN)
 * or the pool (SocialVPN).  tincan creates it at the next heartbeat.
 * NULL with why on failure. */
struct ctrl_net *ctrl_net_new(struct ctrl *c, int kind, const char *id, const char *tap_name,
                              uint32_t mtu, const char *subnet, const struct in_addr *addr,
                              char *why, size_t whylen);
/* Take n out of the table, remove its overlay from tincan and free it once
 * its timer is closed.  Its links must have been cancelled (links.c's
 * ctrl_net_remove does that first). */
void ctrl_net_destroy(struct ctrl_net *n);
/* At exit, after the loop ended. */
void ctrl_net_free_all(struct ctrl *c);
struct ctrl_net *ctrl_net_by_id(struct ctrl *c, const char *id);
/* The configured overlay (Controller.Overlay) or NULL. */
struct ctrl_net *ctrl_main_net(struct ctrl *c);
bool ctrl_net_is_group(const struct ctrl_net *n);
/* The relay policy (enum ctl_relay_policy) of a link to peer_id: the
 * peer's Controller.Overlay.PeerRelay entry (by its bare JID), else
 * Controller.Overlay.Relay. */
int ctrl_net_relay_policy(const struct ctrl_net *n, const char *peer_id);
/* The registry's scope of an overlay. */
struct reg_scope ctrl_net_scope(const struct ctrl_net *n);

/* How a request or an answer finds its overlay again: the one idiom for
 * "is this overlay still alive".  ctrl_net_ref() records n's id, object
 * serial and tincan epoch; ctrl_net_alive() returns the net if it is still
 * in the table and the same object (serial), and with CTRL_NET_READY also
 * created in tincan and not re-created since (epoch).  A ref with only c
 * and id set (serial and epoch 0) matches whatever net has that id: for
 * tincan's events, which carry only the overlay id. */
struct ctrl_net_ref {
  struct ctrl *c;
  char id[CTL_ID_LEN];
  uint64_t serial, epoch;
};
enum { CTRL_NET_READY = 1 };
void ctrl_net_ref(struct ctrl_net_ref *ref, const struct ctrl_net *n);
struct ctrl_net *ctrl_net_alive(const struct ctrl_net_ref *ref, unsigned flags);

/* Links of n, by node id: find, find or create (NULL when CTRL_MAX_PEERS
 * are kept), forget. */
struct ctrl_link *ctrl_link_find(const struct ctrl_net *n, const char *node_id);
struct ctrl_link *ctrl_link_get(struct ctrl_net *n, const char *node_id);
void ctrl_link_drop(struct ctrl_net *n, const char *node_id);

/* Remove n's overlay from tincan and then re-create it (new address). */
void ctrl_net_recreate(struct ctrl_net *n);
/* Our presence caps ("ip4=..." of the configured overlay's address). */
void ctrl_update_caps(struct ctrl *c);

#endif
