/* XMPP to the registry: the client's callbacks (state, roster, presence,
 * signals, block list, PEP items) and starting the client. */
#ifndef IPOP_CONTROLLER_PEERS_H
#define IPOP_CONTROLLER_PEERS_H

#include "controller.h"

int ctrl_xmpp_start(struct ctrl *c, char *why, size_t whylen);

#endif
