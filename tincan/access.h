/* Who may command ipop-tincan, and where its events go.
 *
 * Every holder of the control key can authenticate, so the key alone does
 * not tell the controller from a second local client (ipopctl, or anyone
 * who got the key).  As in OpenSSH's monitor, each request has a permission
 * class (the column in tc_handlers[]) that is checked against the sender
 * and this state before the request is decoded:
 *
 *   TC_PERM_ANY         any key holder: echo, queries, subscribe,
 *                       configure_logging (its file is checked on its own)
 *   TC_PERM_CONTROLLER  changes (overlays, links, mappings) and register:
 *                       the configured Control.Controller endpoint always,
 *                       the registered endpoint, or any key holder while
 *                       none is registered (manual use with ipopctl)
 *
 * A registration holds while its endpoint keeps talking: any request from
 * it renews it (the controller's heartbeat does every 5 s); after
 * TC_REGISTER_LEASE_MS of silence it lapses and events go back to
 * Control.Controller.  Events also go, as copies, to the monitors of
 * `subscribe` (ipopctl listen), which can watch but not redirect them. */
#ifndef IPOP_TINCAN_ACCESS_H
#define IPOP_TINCAN_ACCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "ctl.h"

enum tc_perm { TC_PERM_ANY = 0, TC_PERM_CONTROLLER };

#define TC_REGISTER_LEASE_MS 20000

struct tc_access {
  struct sockaddr_storage configured; /* Control.Controller */
  bool registered;                    /* a register request was accepted */
  uint64_t seen_ms;                   /* last request from the registered endpoint */
};

/* The class of a request; -1 if the table does not list it. */
int tc_access_class(const char *name);
/* The ctl_permit_cb of tincan's endpoint (ctx = the tc_daemon). */
int tc_access_permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                     char *why, size_t whylen, void *ctx);

/* Handlers of register and subscribe. */
void tc_h_register(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                   void *ctx);
void tc_h_subscribe(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                    void *ctx);

#endif
