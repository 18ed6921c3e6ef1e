/* Our node's identity (identity.h): the registry and known_nodes at start,
 * our item on PEP, and the known/trust/untrust requests of ipopctl. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "identity.h"
#include "links.h"
#include "log.h"
#include "pep.h"

/* Another session of our account (or our server) replaced our item: put
 * ours back, at most this often. */
enum { REPUBLISH_MIN_MS = 10000 };

static void fetch(void *ctx, const char *bare_jid)
{
  struct ctrl *c = ctx;
  int rc = c->xmpp ? xmpp_pep_fetch(c->xmpp, bare_jid) : IPOP_ESTATE;
  if (rc)
    registry_pep_failed(c->reg, bare_jid, rc == IPOP_ESTATE ? "connection-lost" : "not-sent",
                        ipop_now_ms());
}

int ctrl_identity_init(struct ctrl *c, char *why, size_t whylen)
{
  const struct ctrl_section *s = &c->cfg.ctrl;
  struct registry_config rc = {
    .trust_mode = s->trust,
    .hooks = { .fetch = fetch, .node_gone = ctrl_node_gone, .node_busy = ctrl_node_busy,
               .ctx = c },
  };
  snprintf(rc.own_jid, sizeof rc.own_jid, "%s", s->xmpp.jid);
  snprintf(rc.own_node, sizeof rc.own_node, "%s", c->node_id);
  snprintf(rc.roster_group, sizeof rc.roster_group, "%s", s->xmpp.roster_group);
  char path[CTL_PATH_LEN + 32], w[POLICY_WHY_LEN * 2];
  snprintf(path, sizeof path, "%s/%s", s->state_dir, TRUST_FILE);
  int err = trust_open(&rc.trust, s->trust == REG_TRUST_OPEN ? NULL : path, w, sizeof w);
  if (err) {
    snprintf(why, whylen, "Controller.StateDir: %s", w);
    return err;
  }
  if ((err = registry_create(&c->reg, &rc)) != 0) {
    trust_free(rc.trust);
    snprintf(why, whylen, "registry: %s", ipop_strerror(err));
    return err;
  }
  if (s->trust == REG_TRUST_OPEN)
    LOG_WARN("identity", "Controller.Trust is \"open\": fingerprints are neither pinned nor "
                         "checked against what accounts publish; whoever controls a peer's "
                         "account or its XMPP server can sit in the middle of a new link");
  else
    LOG_INFO("identity", "trust %s: %zu node%s pinned in %s", reg_trust_names[s->trust],
             trust_pinned_count(rc.trust), trust_pinned_count(rc.trust) == 1 ? "" : "s", path);
  return 0;
}

/* Our fingerprint: tincan's, from any ready overlay (one identity per
 * tincan). */
static const char *own_fpr(struct ctrl *c)
{
  for (size_t i = 0; i < c->n_nets; i++)
    if (c->nets[i]->ready && c->nets[i]->fingerprint[0])
      return c->nets[i]->fingerprint;
  return NULL;
}

void ctrl_identity_publish(struct ctrl *c)
{
  const char *fpr = own_fpr(c);
  if (!c->xmpp || !fpr)
    return;
  int rc = xmpp_pep_publish(c->xmpp, fpr);
  if (rc)
    LOG_WARN("identity", "cannot publish our fingerprint %s: %s", fpr, ipop_strerror(rc));
}

void ctrl_identity_check_own(struct ctrl *c)
{
  const char *fpr = own_fpr(c);
  const char *pub = c->reg ? registry_published(c->reg, c->cfg.ctrl.xmpp.jid, c->node_id) : NULL;
  if (!fpr || !pub || trust_fpr_equal(fpr, pub))
    return;
  uint64_t now = ipop_now_ms();
  LOG_WARN("identity", "our PEP item (node %.8s) was replaced with fingerprint %s - by another "
           "session of %s or by its server; %s", c->node_id, pub, c->cfg.ctrl.xmpp.jid,
           now - c->pep_republished_ms >= REPUBLISH_MIN_MS ? "publishing ours again"
                                                           : "not again so soon");
  if (now - c->pep_republished_ms < REPUBLISH_MIN_MS)
    return;
  c->pep_republished_ms = now;
  ctrl_identity_publish(c);
}

void ctrl_identity_published(struct ctrl *c, const struct xmpp_result *r)
{
  if (!r->error) {
    if (c->pep_failures || !c->pep_republished_ms)
      LOG_INFO("identity", "our node %.8s is on PEP (%s): %s", c->node_id,
               c->cfg.ctrl.xmpp.jid, r->text ? r->text : "published");
    c->pep_failures = 0;
    c->pep_retry_ms = 0;
    c->pep_republished_ms = c->pep_republished_ms ? c->pep_republished_ms : 1;
    return;
  }
  /* A server may fail a publish for a while (ejabberd aborts concurrent
   * node creations): again after 1, 2, 4, ... 60 s (checked every
   * second, from the heartbeat). */
  uint64_t delay = 1000ull << (c->pep_failures < 6 ? c->pep_failures : 6);
  if (delay > 60000)
    delay = 60000;
  c->pep_failures++;
  c->pep_retry_ms = ipop_now_ms() + delay;
  LOG_WARN("identity", "cannot publish our node on PEP (%s): %s; again in %llu s (contacts "
           "meanwhile take our fingerprint on first use)",
           r->condition ? r->condition : ipop_strerror(r->error), r->text ? r->text : "",
           (unsigned long long)delay / 1000);
}

void ctrl_identity_tick(struct ctrl *c, uint64_t now)
{
  if (c->pep_retry_ms && now >= c->pep_retry_ms) {
    c->pep_retry_ms = 0;
    ctrl_identity_publish(c);
  }
}

/* ---- ipopctl known, trust, untrust --------------------------------------------- */

void ctrl_handle_known(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx)
{
  struct ctrl *c = ctx;
  struct ctl_known *out = calloc(1, sizeof *out);
  if (!out || !c->reg) {
    free(out);
    ctl_reply_error(req, c->reg ? IPOP_ENOMEM : IPOP_ESTATE,
                    c->reg ? "out of memory" : "no XMPP configured (Controller.Xmpp)");
    return;
  }
  snprintf(out->trust, sizeof out->trust, "%s", reg_trust_names[c->cfg.ctrl.trust]);
  struct trust *t = registry_trust_store(c->reg);
  for (size_t i = 0; t && i < trust_count(t); i++) {
    const struct trust_pin *p = trust_at(t, i);
    out->total++;
    if (out->n_nodes >= CTL_MAX_KNOWN)
      continue;
    struct ctl_known_node *e = &out->nodes[out->n_nodes++];
    snprintf(e->jid, sizeof e->jid, "%s", p->jid);
    snprintf(e->node_id, sizeof e->node_id, "%s", p->node_id);
    if ((e->has_fingerprint = p->fpr[0] != '\0'))
      snprintf(e->fingerprint, sizeof e->fingerprint, "%s", p->fpr);
    if ((e->has_pending = p->pending[0] != '\0'))
      snprintf(e->pending, sizeof e->pending, "%s", p->pending);
    const char *pub = registry_published(c->reg, p->jid, p->node_id);
    if ((e->has_published = pub != NULL))
      snprintf(e->published, sizeof e->published, "%s", pub);
    e->first_seen = p->first_s;
    e->last_seen = p->pending_s > p->last_s ? p->pending_s : p->last_s;
    const struct reg_node *n = registry_node(c->reg, p->node_id);
    e->online = n && reg_node_online(n) && strcasecmp(n->owner->jid, p->jid) == 0;
  }
  ctl_reply(req, out);
  free(out);
}

static void trust_request(struct ctl_request *req, struct ctrl *c, const struct ctl_trust *b,
                          bool trust)
{
  char why[POLICY_WHY_LEN * 2] = "";
  if (!c->reg) {
    ctl_reply_error(req, IPOP_ESTATE, "no XMPP configured (Controller.Xmpp)");
    return;
  }
  int rc = trust ? registry_trust(c->reg, b->jid, b->node_id,
                                  b->has_fingerprint ? b->fingerprint : NULL, why, sizeof why)
                 : registry_untrust(c->reg, b->jid, b->node_id, why, sizeof why);
  if (rc) {
    ctl_reply_error(req, rc, "%s", why);
    return;
  }
  const struct reg_node *n = registry_node(c->reg, b->node_id);
  if (trust && n) {
    ctrl_restart_stale(c, n); /* attempts refused so far start over now */
  } else if (!trust) {
    /* The pin is gone: the node's links go too (under tofu its next
     * negotiation pins again; `block` refuses a person). */
    ctrl_cancel_links_of(c, b->jid, b->node_id);
  }
  ctrl_membership_changed(c);
  struct ctl_empty e = { 0 };
  ctl_reply(req, &e);
}

void ctrl_handle_trust(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx)
{
  trust_request(req, ctx, body, true);
}

void ctrl_handle_untrust(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  trust_request(req, ctx, body, false);
}
