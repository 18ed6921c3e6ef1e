/* Finding the socket of a path's selected ICE pair, so that tincan can take
 * it over from libnice (path.h, tc_path_takeover): libnice's selected
 * socket for a direct pair; for a relayed pair over UDP TURN, the socket
 * the allocation was made from, found among our descriptors by its bound
 * address. */
#ifndef IPOP_TINCAN_PATHSOCK_H
#define IPOP_TINCAN_PATHSOCK_H

#include <stdbool.h>

#include "path.h"

/* A non-blocking dup of the selected pair's socket, with the peer's
 * address in p->peer; *base is libnice's own descriptor of a relayed
 * pair's socket (else -1).  -1 if ICE has not settled (READY, or CONNECTED
 * when `connected`) or the pair cannot be taken over (TURN over TCP/TLS;
 * a TURN socket that was not found sets TC_PATH_KEEP_ICE). */
int tc_path_selected_socket(struct tc_path *p, int *base, bool connected);

#endif
