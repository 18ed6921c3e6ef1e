/* The ipopctl requests for groups over XMPP rooms and for blocking
 * (docs/groups.md).  Each checks its input first and names the bad field;
 * those that need the XMPP server's word answer when it comes (or after
 * GRP_REPLY_MS with the state so far). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "groups.h"
#include "links.h"
#include "log.h"

static const char name_rule[] = "1-32 characters of a-z 0-9 . _ -, starting with a letter or "
                                "digit";

/* Groups need XMPP online for everything but listing. */
static bool need_xmpp(struct ctrl *c, struct ctl_request *req)
{
  if (!c->groups || !c->xmpp) {
    ctl_reply_error(req, IPOP_ESTATE, "groups need Controller.Xmpp and Controller.Overlay");
    return false;
  }
  if (xmpp_client_state(c->xmpp) != XMPP_STATE_ONLINE) {
    ctl_reply_error(req, IPOP_ESTATE, "XMPP is %s; try again when online",
                    xmpp_state_name(xmpp_client_state(c->xmpp)));
    return false;
  }
  return true;
}

static bool check_name(struct ctl_request *req, const char *name)
{
  if (grp_name_valid(name))
    return true;
  ctl_reply_error(req, IPOP_EFIELD, "name: \"%s\" is not a group name (%s)", name, name_rule);
  return false;
}

static struct ctrl_group *known_group(struct ctrl *c, struct ctl_request *req, const char *name)
{
  if (!check_name(req, name))
    return NULL;
  struct ctrl_group *g = grp_by_name(c, name);
  if (!g)
    ctl_reply_error(req, IPOP_ENOENT, "name: no group %s here (`ipopctl group list`)", name);
  return g;
}

static bool wait_or_fail(struct ctrl *c, struct ctl_request *req, int kind, int op,
                         const char *room, const char *jid)
{
  if (grp_wait(c, req, kind, op, room, jid))
    return true;
  ctl_reply_error(req, IPOP_EBUSY, "too many group requests in progress");
  return false;
}

void ctrl_handle_groups(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                        void *ctx)
{
  struct ctrl *c = ctx;
  struct ctl_groups *out = calloc(1, sizeof *out);
  if (!out) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  for (size_t i = 0; c->groups && i < c->groups->n && out->n_groups < CTL_MAX_GROUPS; i++)
    grp_fill(c->groups->g[i], &out->groups[out->n_groups++]);
  for (size_t i = 0; c->groups && i < c->groups->n_inv; i++)
    out->invitations[out->n_invitations++] = c->groups->inv[i];
  ctl_reply(req, out);
  free(out);
}

void ctrl_handle_group_create(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx)
{
  struct ctrl *c = ctx;
  const struct ctl_group_create *in = body;
  char room[CTRL_JID_LEN], subnet[CTL_SUBNET_LEN], w[POLICY_WHY_LEN];
  if (!check_name(req, in->name))
    return;
  if (in->has_subnet && grp_check_subnet(c, NULL, in->subnet, w, sizeof w) != 0) {
    ctl_reply_error(req, IPOP_EFIELD, "subnet: %s", w);
    return;
  }
  if (!need_xmpp(c, req))
    return;
  const char *service = xmpp_muc_service(c->xmpp);
  if (!service[0]) {
    ctl_reply_error(req, IPOP_ESTATE, "no multi-user chat service known (yet): set "
                    "Controller.Groups.Service, or wait for discovery");
    return;
  }
  struct ctrl_group *g = grp_by_name(c, in->name);
  if (g && (g->state == CTL_GROUP_ERROR || g->state == CTL_GROUP_REMOVED)) {
    grp_forget(g, false);
    g = NULL;
  }
  if (g) {
    ctl_reply_error(req, IPOP_EEXIST, "name: we are in a group %s already (%s)", in->name,
                    g->room);
    return;
  }
  snprintf(room, sizeof room, "%s@%s", in->name, service);
  if (in->has_subnet) {
    snprintf(subnet, sizeof subnet, "%s", in->subnet);
  } else {
    grp_pick_subnet(c, room, subnet, sizeof subnet);
    if (!subnet[0]) {
      ctl_reply_error(req, IPOP_EBUSY, "subnet: no free /24 in %s/%d; give one", GRP_POOL,
                      GRP_POOL_PREFIX);
      return;
    }
  }
  if (!(g = grp_new(c, in->name, room, CTL_GROUP_OWNER, w, sizeof w))) {
    ctl_reply_error(req, IPOP_EBUSY, "%s", w);
    return;
  }
  g->state = CTL_GROUP_CREATING;
  g->creating = true;
  snprintf(g->subnet, sizeof g->subnet, "%s", subnet);
  char desc[128];
  snprintf(desc, sizeof desc, "{\"ipop\":1,\"subnet\":\"%s\"}", subnet);
  int rc = xmpp_muc_create(c->xmpp, room, NULL, in->name, desc);
  if (rc) {
    ctl_reply_error(req, rc, "cannot create room %s: %s", room, ipop_strerror(rc));
    grp_forget(g, false);
    return;
  }
  LOG_INFO("group", "creating group %s: room %s, subnet %s", in->name, room, subnet);
  if (!wait_or_fail(c, req, GRP_WAIT_GROUP, 0, room, NULL))
    return;
}

void ctrl_handle_group_join(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                            void *ctx)
{
  struct ctrl *c = ctx;
  const struct ctl_group_join *in = body;
  char room[CTRL_JID_LEN] = "", name[CTL_GROUP_NAME_LEN], w[POLICY_WHY_LEN];
  if (!in->has_name && !in->has_room) {
    ctl_reply_error(req, IPOP_EMISSING, "name or room: one of them is needed");
    return;
  }
  if (in->has_name && !check_name(req, in->name))
    return;
  if (in->has_room && (!grp_bare_jid(in->room, room, sizeof room) ||
                       !grp_room_name(room, name, sizeof name))) {
    ctl_reply_error(req, IPOP_EFIELD, "room: \"%s\" is not a room JID NAME@SERVICE with a "
                    "group name (%s)", in->room, name_rule);
    return;
  }
  if (!need_xmpp(c, req))
    return;
  if (in->has_room && in->has_name && strcmp(name, in->name) != 0) {
    ctl_reply_error(req, IPOP_EFIELD, "name: %s is not the room's name (%s)", in->name, name);
    return;
  }
  if (!in->has_room) {
    snprintf(name, sizeof name, "%s", in->name);
    /* A pending invitation to a room of that name, else name@service. */
    for (size_t i = 0; i < c->groups->n_inv && !room[0]; i++) {
      char rn[CTL_GROUP_NAME_LEN];
      if (grp_room_name(c->groups->inv[i].room, rn, sizeof rn) && strcmp(rn, name) == 0)
        snprintf(room, sizeof room, "%s", c->groups->inv[i].room);
    }
    if (!room[0]) {
      const char *service = xmpp_muc_service(c->xmpp);
      if (!service[0]) {
        ctl_reply_error(req, IPOP_ESTATE, "no multi-user chat service known (yet): give "
                        "the room, or set Controller.Groups.Service");
        return;
      }
      snprintf(room, sizeof room, "%s@%s", name, service);
    }
  }
  struct ctrl_group *g = grp_by_room(c, room);
  if (g && (g->state == CTL_GROUP_ERROR || g->state == CTL_GROUP_REMOVED)) {
    grp_forget(g, false);
    g = NULL;
  }
  if (g) {
    if (g->state == CTL_GROUP_JOINED) {
      struct ctl_group *out = malloc(sizeof *out);
      if (out) {
        grp_fill(g, out);
        ctl_reply(req, out);
      } else {
        ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
      }
      free(out);
    } else {
      wait_or_fail(c, req, GRP_WAIT_GROUP, 0, room, NULL);
    }
    return;
  }
  if (grp_by_name(c, name)) {
    ctl_reply_error(req, IPOP_EEXIST, "name: we are in another group named %s", name);
    return;
  }
  if (!(g = grp_new(c, name, room, CTL_GROUP_MEMBER, w, sizeof w))) {
    ctl_reply_error(req, IPOP_EBUSY, "%s", w);
    return;
  }
  int rc = grp_start_join(g);
  if (rc) {
    ctl_reply_error(req, rc, "cannot join room %s: %s", room, ipop_strerror(rc));
    grp_forget(g, false);
    return;
  }
  /* The invitation is used. */
  struct ctrl_groups *gs = c->groups;
  size_t k = 0;
  for (size_t i = 0; i < gs->n_inv; i++)
    if (strcasecmp(gs->inv[i].room, room) != 0)
      gs->inv[k++] = gs->inv[i];
  gs->n_inv = k;
  LOG_INFO("group", "joining group %s (%s)", name, room);
  wait_or_fail(c, req, GRP_WAIT_GROUP, 0, room, NULL);
}

void ctrl_handle_group_leave(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                             void *ctx)
{
  struct ctrl *c = ctx;
  const struct ctl_group_ref *in = body;
  if (!c->groups) {
    ctl_reply_error(req, IPOP_ESTATE, "groups need Controller.Xmpp and Controller.Overlay");
    return;
  }
  struct ctrl_group *g = known_group(c, req, in->name);
  if (!g)
    return;
  LOG_INFO("group", "leaving group %s (%s)", g->name, g->room);
  grp_forget(g, true);
  grp_save(c);
  struct ctl_empty e = { 0 };
  ctl_reply(req, &e);
}

/* group_invite and group_remove: the owner sets the JID's affiliation
 * (member, or none: the server removes the occupant with status 321). */
static void member_change(struct ctrl *c, struct ctl_request *req,
                          const struct ctl_group_member_ref *in, bool grant)
{
  char jid[CTRL_JID_LEN];
  if (!c->groups) {
    ctl_reply_error(req, IPOP_ESTATE, "groups need Controller.Xmpp and Controller.Overlay");
    return;
  }
  struct ctrl_group *g = known_group(c, req, in->name);
  if (!g)
    return;
  if (!grp_bare_jid(in->jid, jid, sizeof jid)) {
    ctl_reply_error(req, IPOP_EFIELD, "jid: \"%s\" is not a bare JID (user@domain)", in->jid);
    return;
  }
  if (g->role != CTL_GROUP_OWNER) {
    ctl_reply_error(req, IPOP_EPERM, "name: we do not own group %s (only its owner can %s "
                    "members)", g->name, grant ? "invite" : "remove");
    return;
  }
  if (strcasecmp(jid, c->cfg.ctrl.xmpp.jid) == 0) {
    ctl_reply_error(req, IPOP_EFIELD, "jid: %s is our own JID", jid);
    return;
  }
  if (g->state != CTL_GROUP_JOINED) {
    ctl_reply_error(req, IPOP_ESTATE, "group %s is %s, not joined", g->name,
                    ctl_group_state_names[g->state]);
    return;
  }
  if (!need_xmpp(c, req))
    return;
  int rc = xmpp_muc_set_affiliation(c->xmpp, g->room, jid,
                                    grant ? XMPP_AFF_MEMBER : XMPP_AFF_NONE,
                                    grant ? NULL : "removed from the group");
  if (rc) {
    ctl_reply_error(req, rc, "cannot change %s's membership: %s", jid, ipop_strerror(rc));
    return;
  }
  LOG_INFO("group", "group %s: %s %s", g->name, grant ? "inviting" : "removing", jid);
  wait_or_fail(c, req, grant ? GRP_WAIT_INVITE : GRP_WAIT_RESULT, XMPP_OP_AFFILIATION, g->room,
               jid);
}

void ctrl_handle_group_invite(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx)
{
  member_change(ctx, req, body, true);
}

void ctrl_handle_group_remove(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx)
{
  member_change(ctx, req, body, false);
}

static void block_change(struct ctrl *c, struct ctl_request *req, const struct ctl_jid *in,
                         bool block)
{
  char jid[CTRL_JID_LEN];
  if (!grp_block_item(in->jid, jid, sizeof jid)) {
    ctl_reply_error(req, IPOP_EFIELD, "jid: \"%s\" is neither a bare JID (user@domain) nor a "
                    "domain", in->jid);
    return;
  }
  if (!need_xmpp(c, req))
    return;
  if (block)
    ctrl_cancel_links_of(c, jid, NULL);
  int rc = block ? xmpp_block_add(c->xmpp, jid) : xmpp_block_remove(c->xmpp, jid);
  if (rc) {
    ctl_reply_error(req, rc, "cannot %s %s: %s", block ? "block" : "unblock", jid,
                    ipop_strerror(rc));
    return;
  }
  LOG_INFO("block", "%s %s", block ? "blocking" : "unblocking", jid);
  wait_or_fail(c, req, GRP_WAIT_RESULT, block ? XMPP_OP_BLOCK : XMPP_OP_UNBLOCK, NULL, jid);
}

void ctrl_handle_block(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                       void *ctx)
{
  block_change(ctx, req, body, true);
}

void ctrl_handle_unblock(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  block_change(ctx, req, body, false);
}

void ctrl_handle_blocklist(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                           void *ctx)
{
  struct ctrl *c = ctx;
  struct ctl_jid_list *out = calloc(1, sizeof *out);
  if (!out) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  size_t n = c->reg ? registry_blocked_count(c->reg) : 0;
  for (size_t i = 0; i < n && out->n_jids < CTL_MAX_BLOCKED; i++) {
    const char *jid = registry_blocked_at(c->reg, i);
    if (strlen(jid) < CTL_JID_LEN)
      snprintf(out->jids[out->n_jids++], CTL_JID_LEN, "%s", jid);
  }
  ctl_reply(req, out);
  free(out);
}
