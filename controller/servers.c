/* STUN and TURN servers of create_overlay (servers.h). */
#include "servers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "resolve.h"

_Static_assert(RESOLVE_MAX_ENTRIES >= CTL_MAX_STUN + CTL_MAX_TURN,
               "every STUN and TURN entry fits one request");

/* One resolver per process (there is one struct ctrl): its cache outlives
 * the overlays, so re-creating one after a tincan restart needs no DNS. */
static struct resolver *the_resolver;

struct fill {
  struct ctrl *c;
  struct ctl_create_overlay *co;
  ctrl_servers_cb cb;
  void *ctx;
};

static void log_skip(const char *overlay_id, const char *what, const char *entry,
                     const char *why)
{
  static struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(60000, 20);
  ipop_log_rl(&rl, IPOP_LOG_WARN, "tincan", "overlay %s: %s %s skipped: %s", overlay_id, what,
              entry, why);
}

static void resolved(int status, const struct resolve_result *res, void *arg)
{
  struct fill *f = arg;
  struct ctrl *c = f->c;
  struct ctl_create_overlay *co = f->co;
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  co->n_stun = co->n_turn = 0;
  if (status) {
    f->cb(IPOP_ESTATE, co, f->ctx);
    free(f);
    return;
  }
  size_t k = 0;
  for (uint32_t i = 0; i < o->n_stun; i++, k++) {
    if (res->e[k].status) {
      log_skip(co->overlay_id, "STUN server", o->stun[i], res->e[k].why);
      continue;
    }
    if (res->e[k].from_dns)
      LOG_DEBUG("tincan", "overlay %s: STUN server %s is %s", co->overlay_id, o->stun[i],
                res->e[k].addr);
    snprintf(co->stun[co->n_stun++], sizeof co->stun[0], "%s", res->e[k].addr);
  }
  for (uint32_t i = 0; i < c->n_turn; i++, k++) {
    if (res->e[k].status) {
      log_skip(co->overlay_id, "TURN server", c->turn[i].address, res->e[k].why);
      continue;
    }
    if (res->e[k].from_dns)
      LOG_DEBUG("tincan", "overlay %s: TURN server %s is %s", co->overlay_id,
                c->turn[i].address, res->e[k].addr);
    struct ctl_turn_server *t = &co->turn[co->n_turn++];
    *t = c->turn[i];
    snprintf(t->address, sizeof t->address, "%s", res->e[k].addr);
  }
  if (o->n_stun + c->n_turn > 0 && co->n_stun + co->n_turn == 0) {
    static struct ipop_ratelimit rl = IPOP_RATELIMIT_INIT(60000, 5);
    ipop_log_rl(&rl, IPOP_LOG_WARN, "tincan", "overlay %s: no STUN or TURN server left: "
                "creating it with host candidates only (links across NATs may fail)",
                co->overlay_id);
  }
  f->cb(0, co, f->ctx);
  free(f);
}

int ctrl_servers_fill(struct ctrl *c, struct ctl_create_overlay *co, ctrl_servers_cb cb,
                      void *ctx)
{
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  if (c->stopping)
    return IPOP_ESTATE;
  if (!the_resolver) {
    int rc = resolver_new(c->loop, RESOLVE_TTL_MS, &the_resolver);
    if (rc)
      return rc;
  }
  const char *entries[RESOLVE_MAX_ENTRIES];
  size_t n = 0;
  for (uint32_t i = 0; i < o->n_stun && n < RESOLVE_MAX_ENTRIES; i++)
    entries[n++] = o->stun[i];
  for (uint32_t i = 0; i < c->n_turn && n < RESOLVE_MAX_ENTRIES; i++)
    entries[n++] = c->turn[i].address;
  struct fill *f = calloc(1, sizeof *f);
  if (!f)
    return IPOP_ENOMEM;
  *f = (struct fill){ .c = c, .co = co, .cb = cb, .ctx = ctx };
  int rc = resolver_resolve(the_resolver, entries, n, resolved, f);
  if (rc)
    free(f);
  return rc;
}

void ctrl_servers_stop(struct ctrl *c)
{
  (void)c;
  resolver_close(the_resolver);
  the_resolver = NULL;
}
