/* The registry's decisions: the block list and who it blocks, who may
 * signal, who may be linked where, which fingerprint a node may present
 * (pins, PEP, trust on first use), and the sysadmin's trust/untrust
 * (registry.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "log.h"
#include "registry_internal.h"
#include "sigmsg.h"

/* ---- the block list (XEP-0191) -------------------------------------------------- */

static long blocked_index(const struct registry *r, const char *item)
{
  for (size_t i = 0; i < r->n_blocked; i++)
    if (strcasecmp(r->blocked[i], item) == 0)
      return (long)i;
  return -1;
}

void registry_blocklist(struct registry *r, const char *const *jids, size_t n, bool blocked,
                        bool full)
{
  if (full) {
    while (r->n_blocked)
      free(r->blocked[--r->n_blocked]);
  }
  for (size_t i = 0; i < n; i++) {
    long k = blocked_index(r, jids[i]);
    if (!blocked && k >= 0) {
      free(r->blocked[k]);
      r->blocked[k] = r->blocked[--r->n_blocked];
    } else if (blocked && k < 0 && r->n_blocked < REG_MAX_BLOCKED &&
               strlen(jids[i]) < REG_JID_LEN) {
      char *d = strdup(jids[i]);
      if (d)
        r->blocked[r->n_blocked++] = d;
    }
  }
}

/* XEP-0191 3.3 / XEP-0016 matching: an item with a resource blocks that
 * full JID, a bare item every resource of it, a domain item everything
 * from that domain. */
static bool item_blocks(const char *item, const char *jid)
{
  if (strchr(item, '/'))
    return strcasecmp(item, jid) == 0;
  size_t jb = strcspn(jid, "/");
  if (strchr(item, '@'))
    return strlen(item) == jb && strncasecmp(item, jid, jb) == 0;
  const char *at = memchr(jid, '@', jb);
  const char *dom = at ? at + 1 : jid;
  size_t dl = jb - (size_t)(dom - jid);
  return strlen(item) == dl && strncasecmp(item, dom, dl) == 0;
}

bool registry_blocked(const struct registry *r, const char *jid)
{
  for (size_t i = 0; jid && i < r->n_blocked; i++)
    if (item_blocks(r->blocked[i], jid))
      return true;
  return false;
}

size_t registry_blocked_count(const struct registry *r)
{
  return r->n_blocked;
}

const char *registry_blocked_at(const struct registry *r, size_t i)
{
  return i < r->n_blocked ? r->blocked[i] : NULL;
}

/* ---- who may ------------------------------------------------------------------ */

int registry_signal_sender(struct registry *r, const char *full_jid, struct reg_node **node)
{
  *node = NULL;
  if (registry_blocked(r, full_jid)) {
    r->ctr.signals_blocked++;
    return REG_SIG_BLOCKED;
  }
  struct reg_node *n = registry_node_by_jid(r, full_jid);
  const struct reg_contact *c = n ? n->owner : registry_contact(r, full_jid);
  if (!c || !reg__relevant(c)) {
    r->ctr.signals_stranger++;
    return REG_SIG_STRANGER;
  }
  if (!n) {
    r->ctr.signals_unbound++;
    return REG_SIG_UNBOUND;
  }
  *node = n;
  return REG_SIG_OK;
}

/* The occupant of room i speaking for n (its current JID), or NULL. */
static const struct reg_occ *occupant(const struct registry *r, int i, const struct reg_node *n)
{
  const struct reg_room *rm = i >= 0 && i < REG_MAX_ROOMS ? &r->rooms[i] : NULL;
  for (size_t k = 0; rm && rm->used && k < rm->n; k++)
    if (rm->occ[k].node == n && n->jid[0] && strcmp(rm->occ[k].jid, n->jid) == 0)
      return &rm->occ[k];
  return NULL;
}

bool registry_may_link(const struct registry *r, const struct reg_node *n,
                       const struct reg_scope *scope, bool link_up, uint64_t now,
                       const char **why)
{
  const char *w = NULL;
  if (!n->jid[0])
    w = "gone";
  else if (registry_blocked(r, n->jid))
    w = "blocked";
  else if (scope->kind == REG_SCOPE_ROOM) {
    /* An occupant not back in the room after our rejoin keeps an up link
     * for the grace period, like an offline roster peer. */
    const struct reg_occ *o = occupant(r, scope->room, n);
    if (!o)
      w = "left the room";
    else if (o->stale_ms && !(link_up && now - o->stale_ms < REG_GRACE_MS))
      w = "not back in the room";
  } else if (!reg_node_online(n) && !(link_up && now - n->offline_ms < REG_GRACE_MS)) {
    w = "offline";
  } else if (!(n->owner->flags & REG_C_OWN)) {
    /* Another node of our own account (the user's laptop and desktop) is
     * always a peer; anyone else must be a mutual contact, and in roster
     * GroupVPN in the roster group. */
    if (!registry_is_mutual(r, n->owner->jid))
      w = "roster";
    else if (scope->kind == REG_SCOPE_ROSTER && !(n->owner->flags & REG_C_IN_GROUP))
      w = "not in the roster group";
  }
  if (why)
    *why = w;
  return w == NULL;
}

/* Refuse fpr for n: counted, remembered as pending, explained. */
static int refuse(struct registry *r, const struct reg_node *n, const char *fpr, char *why,
                  size_t whylen)
{
  r->ctr.fpr_refused++;
  if (r->cfg.trust)
    trust_set_pending(r->cfg.trust, n->owner->jid, n->id, fpr, ipop_wallclock_ms() / 1000);
  ipop_log_rl(&r->rl_fpr, IPOP_LOG_WARN, M, "%s (node %.8s): %s", n->jid[0] ? n->jid : n->owner->jid,
              n->id, why);
  return REG_FPR_REFUSED;
}

static int pin(struct registry *r, const struct reg_node *n, const char *fpr, const char *how)
{
  char w[POLICY_WHY_LEN];
  if (!r->cfg.trust || trust_pin(r->cfg.trust, n->owner->jid, n->id, fpr,
                                 ipop_wallclock_ms() / 1000) != 0)
    return REG_FPR_OK;
  r->ctr.fpr_pinned++;
  LOG_INFO(M, "%s (node %.8s): fingerprint %s pinned on first use (%s)", n->jid, n->id, fpr,
           how);
  if (trust_save(r->cfg.trust, w, sizeof w) != 0)
    LOG_WARN(M, "cannot save known_nodes: %s", w);
  return REG_FPR_OK;
}

int registry_check_fpr(struct registry *r, const struct reg_node *n, const char *fpr,
                       uint64_t now, char *why, size_t whylen)
{
  why[0] = '\0';
  if (r->cfg.trust_mode == REG_TRUST_OPEN)
    return REG_FPR_OK;
  struct reg_contact *c = n->owner;
  const struct trust_pin *p = r->cfg.trust ? trust_find(r->cfg.trust, c->jid, n->id) : NULL;
  const struct reg_item *it = reg__item_of(c, n->id);
  if (p && p->fpr[0]) {
    if (trust_fpr_equal(p->fpr, fpr)) {
      trust_touch(r->cfg.trust, c->jid, n->id, ipop_wallclock_ms() / 1000);
      if (it && !trust_fpr_equal(it->fpr, fpr))
        ipop_log_rl(&r->rl_fpr, IPOP_LOG_WARN, M,
                    "%s (node %.8s) uses its pinned fingerprint, but its account published "
                    "%s: someone else (another session of %s, or its server) published it",
                    n->jid, n->id, it->fpr, c->jid);
      return REG_FPR_OK;
    }
    snprintf(why, whylen, "presents fingerprint %s, not the one pinned in known_nodes (%s): "
             "refused; if its identity changed, `ipopctl trust %s %s` accepts it",
             fpr, p->fpr, c->jid, n->id);
    return refuse(r, n, fpr, why, whylen);
  }
  if (r->cfg.trust_mode == REG_TRUST_PINNED) {
    snprintf(why, whylen, "fingerprint %s is not in known_nodes (Controller.Trust is pinned): "
             "refused; `ipopctl trust %s %s` accepts it", fpr, c->jid, n->id);
    return refuse(r, n, fpr, why, whylen);
  }
  if (it) {
    if (trust_fpr_equal(it->fpr, fpr))
      return pin(r, n, fpr, "as its account published it");
    snprintf(why, whylen, "presents fingerprint %s, but its account published %s: refused",
             fpr, it->fpr);
    return refuse(r, n, fpr, why, whylen);
  }
  /* Nothing published for it that we know of: wait while the account's
   * items are being read (one round trip; asked now if they never were),
   * then take the signalled fingerprint on first use.  Waiting longer for
   * an item that may still come would buy nothing the signal does not
   * already say (both come from the same account, stamped by its server)
   * and costs half-made links (a "busy" answer ends the attempt). */
  if (c->pep == REG_PEP_UNKNOWN)
    reg__want_items(r, c, now);
  if (c->pep == REG_PEP_FETCHING && now - c->pep_ms < REG_PEP_WAIT_MS)
    return REG_FPR_WAIT;
  char how[96];
  snprintf(how, sizeof how, "its account published no item for it%s%s%s",
           c->pep == REG_PEP_UNREADABLE ? ": PEP unreadable, " : "",
           c->pep == REG_PEP_UNREADABLE ? c->pep_cond : "", "");
  return pin(r, n, fpr, how);
}

int registry_trust(struct registry *r, const char *bare_jid, const char *node_id,
                   const char *fpr, char *why, size_t whylen)
{
  struct trust *t = r->cfg.trust;
  if (!t) {
    snprintf(why, whylen, "no known_nodes (Controller.Trust is open)");
    return IPOP_ESTATE;
  }
  if (!bare_jid || strchr(bare_jid, '/') || !strchr(bare_jid, '@')) {
    snprintf(why, whylen, "jid: \"%s\" is not a bare JID (user@domain)", bare_jid ? bare_jid : "");
    return IPOP_EINVAL;
  }
  if (!nodeid_valid(node_id)) {
    snprintf(why, whylen, "node_id: \"%s\" is not a node id (32 hex digits)", node_id);
    return IPOP_EINVAL;
  }
  const struct trust_pin *p = trust_find(t, bare_jid, node_id);
  const char *pub = registry_published(r, bare_jid, node_id);
  char use[CTL_FPR_LEN];
  if (fpr && *fpr)
    snprintf(use, sizeof use, "%s", fpr);
  else if (p && p->pending[0])
    snprintf(use, sizeof use, "%s", p->pending);
  else if (pub)
    snprintf(use, sizeof use, "%s", pub);
  else {
    snprintf(why, whylen, "nothing to trust for %s %s: no refused or published fingerprint; "
             "give the fingerprint", bare_jid, node_id);
    return IPOP_ENOENT;
  }
  if (!sigmsg_fingerprint_valid(use)) {
    snprintf(why, whylen, "fingerprint: \"%s\" is not \"sha-256 \" and 32 hex bytes", use);
    return IPOP_EINVAL;
  }
  const struct trust_pin *other = trust_find_node(t, node_id);
  if (other && !reg__same_bare(other->jid, bare_jid)) {
    snprintf(why, whylen, "node %s is pinned to %s: `ipopctl untrust %s %s` first", node_id,
             other->jid, other->jid, node_id);
    return IPOP_EEXIST;
  }
  int rc = trust_pin(t, bare_jid, node_id, use, ipop_wallclock_ms() / 1000);
  if (rc) {
    snprintf(why, whylen, "cannot pin: %s", ipop_strerror(rc));
    return rc;
  }
  if ((rc = trust_save(t, why, whylen)) != 0)
    return rc;
  LOG_INFO(M, "%s node %.8s: fingerprint %s trusted by the administrator", bare_jid, node_id,
           use);
  return 0;
}

int registry_untrust(struct registry *r, const char *bare_jid, const char *node_id, char *why,
                     size_t whylen)
{
  struct trust *t = r->cfg.trust;
  if (!t) {
    snprintf(why, whylen, "no known_nodes (Controller.Trust is open)");
    return IPOP_ESTATE;
  }
  if (!bare_jid || !node_id || trust_remove(t, bare_jid, node_id) != 0) {
    snprintf(why, whylen, "%s %s is not in known_nodes (`ipopctl known`)", bare_jid ? bare_jid : "",
             node_id ? node_id : "");
    return IPOP_ENOENT;
  }
  int rc = trust_save(t, why, whylen);
  if (!rc)
    LOG_INFO(M, "%s node %.8s: pin removed by the administrator", bare_jid, node_id);
  return rc;
}
