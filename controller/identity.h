/* Our node's identity: the registry at start (known_nodes), our item on
 * PEP (published once tincan told us our fingerprint, again when someone
 * else's item replaced it), the registry's fetch hook, and ipopctl's
 * known, trust and untrust requests. */
#ifndef IPOP_CONTROLLER_IDENTITY_H
#define IPOP_CONTROLLER_IDENTITY_H

#include "controller.h"

/* The registry with known_nodes (Controller.Trust) and its hooks. */
int ctrl_identity_init(struct ctrl *c, char *why, size_t whylen);
/* Publish our fingerprint (from a ready overlay) on PEP. */
void ctrl_identity_publish(struct ctrl *c);
/* A PEP event about our own account: is our item still ours? */
void ctrl_identity_check_own(struct ctrl *c);
/* How publishing went (on_result XMPP_OP_PUBLISH): logged; a failure is
 * retried with backoff from the heartbeat (ctrl_identity_tick). */
void ctrl_identity_published(struct ctrl *c, const struct xmpp_result *r);
void ctrl_identity_tick(struct ctrl *c, uint64_t now_ms);
void ctrl_handle_known(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx);
void ctrl_handle_trust(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx);
void ctrl_handle_untrust(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx);

#endif
