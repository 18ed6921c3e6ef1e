/* Requests to ipop-tincan over the control socket, and the TURN passwords
 * that go into create_overlay (read once at start). */
#ifndef IPOP_CONTROLLER_TINCAN_H
#define IPOP_CONTROLLER_TINCAN_H

#include "controller.h"

/* Send request name (a message of ctl_tincan_messages) to tincan; the
 * answer goes to cb(ctx).  0 or IPOP_E* (then cb is not called). */
int ctrl_tincan_send(struct ctrl *c, const char *name, const void *body, uint32_t timeout_ms,
                     ctl_response_cb cb, void *ctx);
/* Controller.Overlay.Turn[].PasswordFile: 0600 files owned by us. */
int ctrl_load_turn_passwords(struct ctrl *c, char *why, size_t whylen);

#endif
