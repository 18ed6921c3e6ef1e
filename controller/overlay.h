/* The overlays' life in tincan: the heartbeat that notices a dead or
 * restarted dataplane, (re)creating overlays, and tincan's events routed
 * to the overlay they name. */
#ifndef IPOP_CONTROLLER_OVERLAY_H
#define IPOP_CONTROLLER_OVERLAY_H

#include "controller.h"

void ctrl_heartbeat_cb(uv_timer_t *t);
/* The control socket's permission check: any key holder may send requests
 * (ipopctl is the admin's tool), events only ipop-tincan (Control.Tincan). */
int ctrl_permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                char *why, size_t whylen, void *ctx);
void ctrl_on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                   const struct ctl_msg_desc *m, const void *body, void *ctx);

#endif
