/* The STUN and TURN servers of create_overlay: Controller.Overlay's
 * entries with host names resolved (resolve.h) just before each overlay
 * is created, since ipop-tincan takes numeric addresses only. */
#ifndef IPOP_CONTROLLER_SERVERS_H
#define IPOP_CONTROLLER_SERVERS_H

#include "controller.h"

/* status 0: co's stun and turn lists are filled in (TURN passwords
 * included: wipe them after sending).  Otherwise (shutdown) they are
 * empty and the overlay must not be created.  co and ctx are the
 * caller's to free in both cases. */
typedef void (*ctrl_servers_cb)(int status, struct ctl_create_overlay *co, void *ctx);

/* Fill co->stun/turn from the configuration and c->turn.  An entry whose
 * name does not resolve is skipped with a warning naming it.  cb may run
 * before this returns (nothing to resolve, or every name cached).
 * Returns 0, or an IPOP_E* code (cb then is not called). */
int ctrl_servers_fill(struct ctrl *c, struct ctl_create_overlay *co, ctrl_servers_cb cb,
                      void *ctx);

/* Shutdown: lookups in flight are cancelled (their cb gets a non-zero
 * status). */
void ctrl_servers_stop(struct ctrl *c);

#endif
