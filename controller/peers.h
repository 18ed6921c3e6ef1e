/* XMPP to the registry: the client's callbacks (state, roster, presence,
 * signals, block list, PEP items) and starting the client. */
#ifndef IPOP_CONTROLLER_PEERS_H
#define IPOP_CONTROLLER_PEERS_H

#include "controller.h"

int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen);
/* Signals that negotiation held (NEG_HELD: the sender's published identity
 * is being read) wait here, in arrival order per sender and overlay, and
 * are handed in again when PEP items arrive and every second (from the
 * heartbeat); the registry stops waiting after REG_PEP_WAIT_MS. */
void ctrl_peers_replay(struct ctrl *c);
void ctrl_peers_free(struct ctrl *c);

#endif
