#include "access.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "tincan.h"

/* A registration lapses after TC_REGISTER_LEASE_MS without a request from
 * its endpoint; events then go back to Control.Controller. */
static void lapse_check(struct tc_daemon *d, uint64_t now)
{
  if (!d->access.registered || now - d->access.seen_ms < TC_REGISTER_LEASE_MS)
    return;
  char was[64], back[64];
  ctl_sockaddr_text((struct sockaddr *)&d->controller, was, sizeof was);
  ctl_sockaddr_text((struct sockaddr *)&d->access.configured, back, sizeof back);
  LOG_INFO("tincan", "registration of %s lapsed (%d s without a request); events go to "
           "Control.Controller %s", was, TC_REGISTER_LEASE_MS / 1000, back);
  d->access.registered = false;
  d->controller = d->access.configured;
}

/* Every request tincan serves, with who may send it (access.h). */
static const struct {
  const char *name;
  enum tc_perm perm;
} perms[] = {
  { "echo", TC_PERM_ANY },
  { "register", TC_PERM_CONTROLLER },
  { "subscribe", TC_PERM_ANY },
  { "configure_logging", TC_PERM_ANY },
  { "create_overlay", TC_PERM_CONTROLLER },
  { "remove_overlay", TC_PERM_CONTROLLER },
  { "query_overlay_info", TC_PERM_ANY },
  { "query_candidates", TC_PERM_CONTROLLER },
  { "create_link", TC_PERM_CONTROLLER },
  { "remove_link", TC_PERM_CONTROLLER },
  { "query_link_stats", TC_PERM_ANY },
  { "set_address_mapping", TC_PERM_CONTROLLER },
  { "remove_address_mapping", TC_PERM_CONTROLLER },
  { "query_process", TC_PERM_ANY },
  { "set_routes", TC_PERM_CONTROLLER },
};

int tc_access_class(const char *name)
{
  for (size_t i = 0; i < sizeof perms / sizeof perms[0]; i++)
    if (strcmp(perms[i].name, name) == 0)
      return (int)perms[i].perm;
  return -1;
}

int tc_access_permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                     char *why, size_t whylen, void *ctx)
{
  struct tc_daemon *d = ctx;
  int perm = tc_access_class(name);
  if (perm < 0) { /* fail closed */
    snprintf(why, whylen, "%s: permission denied: not in tincan's permission table", name);
    return IPOP_EPERM;
  }
  const struct sockaddr *reg = (const struct sockaddr *)&d->controller;
  uint64_t now = ipop_now_ms();
  (void)ep;
  lapse_check(d, now);
  bool from_registered = d->access.registered && ctl_sockaddr_equal(from, reg);
  if (from_registered)
    d->access.seen_ms = now;
  /* The configured endpoint is the controller by configuration: it may
   * always act as one (and take the events back with register). */
  if (perm == TC_PERM_ANY || !d->access.registered || from_registered ||
      ctl_sockaddr_equal(from, (const struct sockaddr *)&d->access.configured))
    return 0;
  char where[64];
  ctl_sockaddr_text(reg, where, sizeof where);
  snprintf(why, whylen, "%s: permission denied: the controller registered at %s sends it; "
           "other key holders may only query and subscribe while it is registered", name,
           where);
  return IPOP_EPERM;
}

void tc_h_register(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                   void *ctx)
{
  const struct ctl_register *r = body;
  struct tc_daemon *d = ctx;
  struct sockaddr_storage ss;
  (void)ep;
  if (r->has_address) {
    if (ctl_parse_endpoint(r->address, &ss, 0) != 0) {
      ctl_reply_error(req, IPOP_EFIELD, "address: expected a loopback \"ip:port\"");
      return;
    }
  } else {
    const struct sockaddr *peer = ctl_request_peer(req);
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, peer, peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                   : sizeof(struct sockaddr_in));
  }
  bool moved = !d->access.registered ||
               !ctl_sockaddr_equal((struct sockaddr *)&ss, (struct sockaddr *)&d->controller);
  d->controller = ss;
  d->has_controller = true;
  d->access.registered = true;
  d->access.seen_ms = ipop_now_ms();
  struct ctl_ack ack;
  char where[64];
  memset(&ack, 0, sizeof ack);
  ctl_sockaddr_text((struct sockaddr *)&ss, where, sizeof where);
  snprintf(ack.message, sizeof ack.message, "events go to %s", where);
  if (moved)
    LOG_INFO("tincan", "controller registered (%s)", ack.message);
  ctl_reply(req, &ack);
}

void tc_h_subscribe(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                    void *ctx)
{
  const struct sockaddr *who = ctl_request_peer(req);
  char where[64];
  (void)body; (void)ctx;
  ctl_sockaddr_text(who, where, sizeof where);
  int rc = ctl_monitor_add(ep, who, CTL_MONITOR_LEASE_MS);
  if (rc < 0) {
    ctl_reply_error(req, rc, "%d monitors subscribed already; try again in %d s",
                    CTL_MAX_MONITORS, CTL_MONITOR_LEASE_MS / 1000);
    return;
  }
  if (rc == 1)
    LOG_INFO("tincan", "monitor %s subscribed to events", where);
  struct ctl_ack ack;
  memset(&ack, 0, sizeof ack);
  snprintf(ack.message, sizeof ack.message, "copies of events go to %s for %d s", where,
           CTL_MONITOR_LEASE_MS / 1000);
  ctl_reply(req, &ack);
}
