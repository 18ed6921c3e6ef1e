/* Groups over XMPP rooms (XEP-0045) and blocking (XEP-0191).
 *
 * A group is a members-only room whose description carries the group's
 * settings ({"ipop":1,"subnet":"10.253.7.0/24"}).  Each group we are in
 * has its own overlay (ctrl_net of kind CTRL_NET_MUC, TAP
 * Groups.TapPrefix + index); the room's occupants that announce an IPOP
 * node id, seen with their real full JIDs, are that overlay's members
 * (GroupVPN topology and negotiation as for roster groups).  The
 * occupants are the registry's (one room of it per group): it decides who
 * is a member and which node id each may speak for.  Signals go to the
 * real full JIDs, never through the room.  The groups we are in are
 * remembered in StateDir/groups.json and rejoined at start; the XMPP
 * library rejoins them after a reconnect. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "error.h"
#include "statefile.h"
#include "hash.h"
#include "groups.h"
#include "links.h"
#include "log.h"
#include "net.h"

/* ---- lookups and validation ----------------------------------------------- */

struct ctrl_group *grp_by_name(struct ctrl *c, const char *name)
{
  for (size_t i = 0; c->groups && i < c->groups->n; i++)
    if (strcmp(c->groups->g[i]->name, name) == 0)
      return c->groups->g[i];
  return NULL;
}

struct ctrl_group *grp_by_room(struct ctrl *c, const char *room)
{
  for (size_t i = 0; c->groups && i < c->groups->n; i++)
    if (strcasecmp(c->groups->g[i]->room, room) == 0)
      return c->groups->g[i];
  return NULL;
}

bool grp_name_valid(const char *name)
{
  size_t n = strlen(name);
  if (n < 1 || n > CTL_GROUP_NAME_LEN - 1 || !(islower((unsigned char)name[0]) ||
                                                isdigit((unsigned char)name[0])))
    return false;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
        !strchr("._-", name[i]))
      return false;
  return true;
}

/* Lower-case in (n bytes, n < outlen) into out; false on a blank, a
 * control character or markup. */
static bool jid_text_lower(const char *in, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)in[i] <= ' ' || in[i] == 0x7f || strchr("\"&'<>", in[i]))
      return false;
    out[i] = (char)tolower((unsigned char)in[i]);
  }
  out[n] = '\0';
  return true;
}

bool grp_bare_jid(const char *in, char *out, size_t outlen)
{
  const char *at = strchr(in, '@');
  size_t n = strlen(in);
  if (!at || at == in || !at[1] || strchr(in, '/') || strchr(at + 1, '@') || n >= outlen ||
      n >= CTRL_JID_LEN)
    return false;
  return jid_text_lower(in, n, out);
}

bool grp_block_item(const char *in, char *out, size_t outlen)
{
  if (strchr(in, '@'))
    return grp_bare_jid(in, out, outlen);
  /* A domain has a dot: a lone word ("carol") is a JID missing its domain
   * far more often than a one-label domain. */
  size_t n = strlen(in);
  if (n == 0 || n >= outlen || n >= CTRL_JID_LEN || strchr(in, '/') || !strchr(in, '.') ||
      in[0] == '.' || in[n - 1] == '.')
    return false;
  return jid_text_lower(in, n, out);
}

bool grp_room_name(const char *room, char *name, size_t len)
{
  const char *at = strchr(room, '@');
  if (!at || (size_t)(at - room) >= len)
    return false;
  snprintf(name, len, "%.*s", (int)(at - room), room);
  return grp_name_valid(name);
}

static uint32_t fnv1a(const char *s)
{
  uint32_t h = IPOP_FNV1A_INIT;
  for (; *s; s++)
    h = ipop_fnv1a_add(h, (uint8_t)tolower((unsigned char)*s));
  return h;
}

static bool overlaps(struct in_addr a, uint32_t pa, struct in_addr b, uint32_t pb)
{
  uint32_t p = pa < pb ? pa : pb;
  uint32_t mask = p == 0 ? 0 : htonl(~0u << (32 - p));
  return (a.s_addr & mask) == (b.s_addr & mask);
}

int grp_check_subnet(struct ctrl *c, const struct ctrl_group *self, const char *subnet,
                     char *why, size_t whylen)
{
  struct in_addr net;
  uint32_t prefix;
  if (ctrl_parse_subnet(subnet, &net, &prefix) != 0 || prefix < 16 || prefix > 29) {
    snprintf(why, whylen, "subnet \"%s\" is not ADDRESS/PREFIX with prefix 16..29 and host "
                          "bits zero", subnet);
    return IPOP_EFIELD;
  }
  for (size_t i = 0; i < c->n_nets; i++) {
    const struct ctrl_net *n = c->nets[i];
    if (self && n == self->net)
      continue;
    if (overlaps(net, prefix, n->net, n->prefix)) {
      char a[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &n->net, a, sizeof a);
      snprintf(why, whylen, "subnet %s overlaps overlay %s (%s/%u)", subnet, n->id, a,
               n->prefix);
      return IPOP_EEXIST;
    }
  }
  return 0;
}

/* The first /24 of GRP_POOL, from a hash of the room on, that overlaps
 * none of our overlays (members may differ, but the subnet is the
 * creator's choice, stored in the room).  "" if the pool is full. */
void grp_pick_subnet(struct ctrl *c, const char *room, char *out, size_t len)
{
  struct in_addr pool;
  inet_pton(AF_INET, GRP_POOL, &pool);
  uint32_t start = fnv1a(room) % 256;
  out[0] = '\0';
  for (uint32_t k = 0; k < 256; k++) {
    uint32_t third = (start + k) % 256;
    struct in_addr a = { .s_addr = htonl(ntohl(pool.s_addr) | third << 8) };
    char text[CTL_SUBNET_LEN], w[128], ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, ip, sizeof ip);
    snprintf(text, sizeof text, "%s/24", ip);
    if (grp_check_subnet(c, NULL, text, w, sizeof w) == 0) {
      snprintf(out, len, "%s", text);
      return;
    }
  }
}

/* ---- records ----------------------------------------------------------------- */

static int free_tap_index(struct ctrl *c)
{
  for (int i = 0; i < CTRL_MAX_NETS; i++) {
    bool used = false;
    for (size_t k = 0; k < c->groups->n; k++)
      used = used || c->groups->g[k]->tap_index == i;
    if (!used)
      return i;
  }
  return -1;
}

struct ctrl_group *grp_new(struct ctrl *c, const char *name, const char *room_jid, int role,
                           char *why, size_t whylen)
{
  struct ctrl_groups *gs = c->groups;
  /* One overlay each, next to the configured one, within tincan's limit. */
  if (gs->n >= CTRL_MAX_NETS - 1 || c->n_nets >= CTRL_MAX_NETS) {
    snprintf(why, whylen, "too many groups (at most %d)", CTRL_MAX_NETS - 1);
    return NULL;
  }
  struct ctrl_group *g = calloc(1, sizeof *g);
  int room = g ? registry_room_add(c->reg, room_jid) : IPOP_ENOMEM;
  if (room < 0) {
    free(g);
    snprintf(why, whylen, "%s", room == IPOP_ENOMEM ? "out of memory" : "too many rooms");
    return NULL;
  }
  g->room_idx = room;
  g->c = c;
  snprintf(g->name, sizeof g->name, "%s", name);
  snprintf(g->room, sizeof g->room, "%s", room_jid);
  g->role = role;
  g->state = CTL_GROUP_JOINING;
  g->tap_index = free_tap_index(c);
  gs->g[gs->n++] = g;
  return g;
}

/* The group's overlay: id from the room (every member computes the same,
 * signals carry it), TAP from our own free index. */
static int grp_make_net(struct ctrl_group *g, char *why, size_t whylen)
{
  struct ctrl *c = g->c;
  const struct ctrl_groups_cfg *gc = &c->cfg.ctrl.groups;
  char id[CTL_ID_LEN], tap[CTL_IFNAME_LEN];
  snprintf(id, sizeof id, "grp-%s-%08x", g->name, fnv1a(g->room));
  snprintf(tap, sizeof tap, "%s%d", gc->tap_prefix, g->tap_index);
  g->net = ctrl_net_new(c, CTRL_NET_MUC, id, tap, gc->mtu, g->subnet, NULL, why, whylen);
  if (!g->net)
    return IPOP_EINVAL;
  g->net->grp = g;
  g->net->room = g->room_idx;
  return 0;
}

void grp_forget(struct ctrl_group *g, bool leave_room)
{
  struct ctrl *c = g->c;
  struct ctrl_groups *gs = c->groups;
  if (leave_room && c->xmpp)
    xmpp_muc_leave(c->xmpp, g->room);
  if (g->net)
    ctrl_net_remove(g->net);
  g->net = NULL;
  g->state = g->state == CTL_GROUP_REMOVED ? CTL_GROUP_REMOVED : CTL_GROUP_LEFT;
  grp_settle(g);
  size_t k = 0;
  for (size_t i = 0; i < gs->n; i++)
    if (gs->g[i] != g)
      gs->g[k++] = gs->g[i];
  gs->n = k;
  registry_room_remove(c->reg, g->room_idx);
  free(g);
}

int grp_start_join(struct ctrl_group *g)
{
  struct ctrl *c = g->c;
  if (!c->xmpp)
    return IPOP_ESTATE;
  g->state = CTL_GROUP_JOINING;
  return xmpp_muc_join(c->xmpp, g->room, NULL);
}

void grp_fill(const struct ctrl_group *g, struct ctl_group *out)
{
  struct ctrl *c = g->c;
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "%s", g->name);
  snprintf(out->room, sizeof out->room, "%s", g->room);
  snprintf(out->subnet, sizeof out->subnet, "%s", g->subnet);
  out->role = g->role;
  out->state = g->state;
  if (g->error[0]) {
    snprintf(out->error, sizeof out->error, "%s", g->error);
    out->has_error = true;
  }
  if (g->net) {
    snprintf(out->overlay_id, sizeof out->overlay_id, "%s", g->net->id);
    snprintf(out->tap_name, sizeof out->tap_name, "%s", g->net->tap_name);
    out->address = g->net->ip4;
    out->has_address = true;
    out->address6 = g->net->ip6;
    out->has_address6 = g->net->has_ip6;
  }
  for (size_t i = 0; out->n_members < CTL_MAX_GROUP_MEMBERS; i++) {
    const char *jid;
    const struct reg_node *p;
    bool present;
    if (!registry_room_at(c->reg, g->room_idx, i, &jid, &p, &present))
      break;
    struct ctl_group_member *m = &out->members[out->n_members++];
    snprintf(m->jid, sizeof m->jid, "%.*s", (int)strcspn(jid, "/"), jid);
    m->online = present;
    if (p) {
      snprintf(m->node_id, sizeof m->node_id, "%s", p->id);
      m->has_node_id = true;
    }
    const struct ctrl_link *l = p && g->net ? ctrl_link_find(g->net, p->id) : NULL;
    if (l && l->link_state >= 0) {
      m->link_state = l->link_state;
      m->has_link_state = true;
    }
    if (l && l->has_ip4) {
      m->address = l->ip4;
      m->has_address = true;
    }
    if (l && l->has_ip6) {
      m->address6 = l->ip6;
      m->has_address6 = true;
    }
  }
}

/* ---- groups.json ------------------------------------------------------------ */

void grp_save(struct ctrl *c)
{
  json_t *arr = json_array();
  for (size_t i = 0; i < c->groups->n; i++) {
    const struct ctrl_group *g = c->groups->g[i];
    /* Joined, or still rejoining after a start (its overlay exists). */
    if ((g->state == CTL_GROUP_JOINED || (g->state == CTL_GROUP_JOINING && g->net)) &&
        g->subnet[0])
      json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "name", g->name, "room",
                                           g->room, "subnet", g->subnet, "role",
                                           ctl_group_role_names[g->role]));
  }
  json_t *root = json_pack("{s:i, s:o}", "version", 1, "groups", arr);
  char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
  json_decref(root);
  char path[CTL_PATH_LEN + 32], w[POLICY_WHY_LEN];
  snprintf(path, sizeof path, "%s/%s", c->cfg.ctrl.state_dir, GRP_FILE);
  if (!text || ipop_state_write(path, text, strlen(text), 0600, w, sizeof w) != 0)
    LOG_WARN("group", "cannot save %s: %s", path, text ? w : "out of memory");
  free(text);
}

/* ipop_state_parse_fn: groups.json (or its .bak) must be a {"groups": [...]}
 * object; the entries are taken by grp_load. */
static int grp_parse(void *ctx, const char *path, char *text, size_t len, mode_t mode,
                     char *why, size_t whylen)
{
  json_t **out = ctx;
  (void)mode;
  json_error_t je;
  json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  if (!root) {
    ipop_why(why, whylen, "%s: malformed JSON at line %d: %s", path, je.line, je.text);
    return IPOP_EPARSE;
  }
  if (!json_is_array(json_object_get(root, "groups"))) {
    ipop_why(why, whylen, "%s: no \"groups\" array", path);
    json_decref(root);
    return IPOP_EFIELD;
  }
  *out = root;
  return 0;
}

/* Groups remembered from the last run: records and overlays at once (the
 * links come back as soon as the rooms are rejoined).  A damaged file with
 * no good last copy is moved aside (groups.json.bad) so that the next save
 * neither loses it nor keeps it as the last copy. */
static void grp_load(struct ctrl *c)
{
  char path[CTL_PATH_LEN + 32], w[POLICY_WHY_LEN * 2], w2[POLICY_WHY_LEN];
  snprintf(path, sizeof path, "%s/%s", c->cfg.ctrl.state_dir, GRP_FILE);
  json_t *root = NULL;
  int rc = ipop_state_load(path, GRP_FILE_MAX, grp_parse, &root, w, sizeof w);
  if (rc == IPOP_ENOENT)
    return;
  if (rc) {
    LOG_ERROR("group", "%s; no groups rejoined%s", w,
              ipop_state_set_aside(path, w2, sizeof w2) == 0 ? " (the file is kept as "
                                                               "groups.json.bad)" : "");
    return;
  }
  json_t *arr = json_object_get(root, "groups");
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e) {
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *room = json_string_value(json_object_get(e, "room"));
    const char *subnet = json_string_value(json_object_get(e, "subnet"));
    const char *role = json_string_value(json_object_get(e, "role"));
    char rn[CTL_GROUP_NAME_LEN], bare[CTRL_JID_LEN];
    if (!name || !room || !subnet || !grp_name_valid(name) || !grp_bare_jid(room, bare, sizeof bare) ||
        !grp_room_name(bare, rn, sizeof rn) || grp_by_room(c, bare) ||
        strlen(subnet) >= CTL_SUBNET_LEN || grp_check_subnet(c, NULL, subnet, w, sizeof w)) {
      LOG_WARN("group", "%s: entry %zu is not valid; skipped", path, i);
      continue;
    }
    struct ctrl_group *g = grp_new(c, name, bare,
                                   role && strcmp(role, "owner") == 0 ? CTL_GROUP_OWNER
                                                                      : CTL_GROUP_MEMBER,
                                   w, sizeof w);
    if (!g)
      break;
    snprintf(g->subnet, sizeof g->subnet, "%s", subnet);
    if (grp_make_net(g, w, sizeof w) != 0)
      LOG_WARN("group", "group %s: %s", name, w);
    LOG_INFO("group", "group %s (%s): rejoining", name, bare);
  }
  json_decref(root);
}

/* ---- pending ipopctl requests ------------------------------------------------ */

struct grp_pending *grp_wait(struct ctrl *c, struct ctl_request *req, int kind, int op,
                             const char *room, const char *jid)
{
  for (size_t i = 0; i < GRP_MAX_PENDING; i++) {
    struct grp_pending *p = &c->groups->pend[i];
    if (p->req)
      continue;
    memset(p, 0, sizeof *p);
    p->kind = kind;
    p->req = req;
    p->op = op;
    snprintf(p->room, sizeof p->room, "%s", room ? room : "");
    snprintf(p->jid, sizeof p->jid, "%s", jid ? jid : "");
    p->deadline_ms = ipop_now_ms() + GRP_REPLY_MS;
    return p;
  }
  return NULL;
}

static void reply_group(struct ctl_request *req, const struct ctrl_group *g)
{
  struct ctl_group *out = malloc(sizeof *out);
  if (!out) {
    ctl_reply_error(req, IPOP_ENOMEM, "out of memory");
    return;
  }
  grp_fill(g, out);
  ctl_reply(req, out);
  free(out);
}

/* The group reached a state worth answering (joined, failed, gone):
 * answer the group_create/group_join requests waiting for it. */
void grp_settle(struct ctrl_group *g)
{
  bool done = g->state != CTL_GROUP_JOINING && g->state != CTL_GROUP_CREATING;
  if (!done || !g->c->groups)
    return;
  for (size_t i = 0; i < GRP_MAX_PENDING; i++) {
    struct grp_pending *p = &g->c->groups->pend[i];
    if (!p->req || p->kind != GRP_WAIT_GROUP || strcasecmp(p->room, g->room) != 0)
      continue;
    if (g->state == CTL_GROUP_JOINED)
      reply_group(p->req, g);
    else
      ctl_reply_error(p->req, g->state == CTL_GROUP_ERROR ? IPOP_EPERM : IPOP_ESTATE,
                      "group %s: %s", g->name,
                      g->error[0] ? g->error : ctl_group_state_names[g->state]);
    p->req = NULL;
  }
}

/* Occupants not back after our rejoin go after the grace period (the
 * registry's expiry), and requests waiting too long get their answer. */
static void tick(uv_timer_t *t)
{
  struct ctrl *c = t->data;
  uint64_t now = ipop_now_ms();
  if (registry_expire(c->reg, now))
    ctrl_membership_changed(c);
  for (size_t i = 0; i < GRP_MAX_PENDING; i++) {
    struct grp_pending *p = &c->groups->pend[i];
    if (!p->req || now < p->deadline_ms)
      continue;
    struct ctrl_group *g = p->kind == GRP_WAIT_GROUP ? grp_by_room(c, p->room) : NULL;
    if (g) /* still joining: say so; `groups` shows how it ends */
      reply_group(p->req, g);
    else
      ctl_reply_error(p->req, IPOP_ETIMEDOUT, "no answer from the XMPP server yet%s%s",
                      p->room[0] ? " about " : "", p->room);
    p->req = NULL;
  }
}

/* ---- XMPP events ----------------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static void set_error(struct ctrl_group *g,
                                                             const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->error, sizeof g->error, fmt, ap);
  va_end(ap);
  g->state = CTL_GROUP_ERROR;
  LOG_WARN("group", "group %s (%s): %s", g->name, g->room, g->error);
}

static const char *condition_text(const char *cond)
{
  if (!cond)
    return "refused";
  if (strcmp(cond, "registration-required") == 0)
    return "not a member of the room (ask its owner for an invitation)";
  if (strcmp(cond, "forbidden") == 0)
    return "banned from the room";
  if (strcmp(cond, "item-not-found") == 0)
    return "no such room";
  if (strcmp(cond, "conflict") == 0)
    return "our nick is in use in the room";
  return cond;
}

/* Both sides of a group know its subnet now: make (or re-make) the
 * overlay; the group is joined. */
static void grp_set_subnet(struct ctrl_group *g, const char *room_subnet)
{
  char w[POLICY_WHY_LEN], subnet[CTL_SUBNET_LEN];
  snprintf(subnet, sizeof subnet, "%s", room_subnet); /* may be g->subnet itself */
  if (g->net && strcmp(g->subnet, subnet) == 0) {
    g->state = CTL_GROUP_JOINED;
  } else {
    if (g->net) {
      LOG_WARN("group", "group %s: the room says subnet %s (we had %s): new overlay", g->name,
               subnet, g->subnet);
      ctrl_net_remove(g->net);
      g->net = NULL;
    }
    if (grp_check_subnet(g->c, g, subnet, w, sizeof w) != 0) {
      set_error(g, "%s", w);
    } else {
      snprintf(g->subnet, sizeof g->subnet, "%s", subnet);
      if (grp_make_net(g, w, sizeof w) != 0)
        set_error(g, "%s", w);
      else
        g->state = CTL_GROUP_JOINED;
    }
  }
  if (g->state == CTL_GROUP_JOINED) {
    g->error[0] = '\0';
    LOG_INFO("group", "group %s (%s): joined, subnet %s, overlay %s on %s", g->name, g->room,
             g->subnet, g->net->id, g->net->tap_name);
    grp_save(g->c);
    ctrl_net_membership(g->net);
  } else if (g->c->xmpp) {
    xmpp_muc_leave(g->c->xmpp, g->room);
  }
  grp_settle(g);
}

static void on_room_info(struct xmpp_client *x, const struct xmpp_muc_room_info *info,
                         void *ctx)
{
  struct ctrl_group *g = grp_by_room(ctx, info->room);
  if (!g || g->state != CTL_GROUP_JOINING)
    return;
  json_t *j = json_loads(info->description, JSON_REJECT_DUPLICATES, NULL);
  const char *subnet = j ? json_string_value(json_object_get(j, "subnet")) : NULL;
  if (j && json_integer_value(json_object_get(j, "ipop")) == 1 && subnet &&
      strlen(subnet) < CTL_SUBNET_LEN) {
    grp_set_subnet(g, subnet);
  } else {
    set_error(g, "the room is no IPOP group (its description is not {\"ipop\":1,"
                 "\"subnet\":...})");
    if (g->c->xmpp)
      xmpp_muc_leave(g->c->xmpp, g->room);
    grp_settle(g);
  }
  json_decref(j);
}

static void on_self(struct xmpp_client *x, const struct xmpp_muc_self *ev, void *ctx)
{
  struct ctrl *c = ctx;
  struct ctrl_group *g = grp_by_room(c, ev->room);
  if (!g)
    return;
  switch (ev->state) {
  case XMPP_MUC_SELF_JOINED:
    if (ev->affiliation == XMPP_AFF_OWNER || ev->affiliation == XMPP_AFF_ADMIN)
      g->role = CTL_GROUP_OWNER;
    else
      g->role = CTL_GROUP_MEMBER;
    /* Occupants the room did not report again by now are stale (they
     * may just not have reconnected yet): they keep an up link for the
     * grace period, an explicit leave ends it at once. */
    registry_room_rejoined(c->reg, g->room_idx, ipop_now_ms());
    if (g->state == CTL_GROUP_JOINED) { /* rejoined after a reconnect */
      if (g->net)
        ctrl_net_membership(g->net);
      break;
    }
    if (g->creating && ev->created) {
      grp_set_subnet(g, g->subnet); /* ours, just written to the room */
    } else if (xmpp_muc_room_info(c->xmpp, g->room) != 0) {
      set_error(g, "cannot read the room's settings");
      grp_settle(g);
    }
    break;
  case XMPP_MUC_SELF_FAILED:
    set_error(g, "%s", condition_text(ev->condition));
    if (g->net) {
      ctrl_net_remove(g->net);
      g->net = NULL;
    }
    /* Refused for good (no longer a member, banned, room gone): not to be
     * rejoined at the next start.  Other failures may pass. */
    if (ev->condition && (strcmp(ev->condition, "registration-required") == 0 ||
                          strcmp(ev->condition, "forbidden") == 0 ||
                          strcmp(ev->condition, "item-not-found") == 0))
      grp_save(c);
    grp_settle(g);
    break;
  case XMPP_MUC_SELF_LEFT:
    if (ev->reason == XMPP_MUC_LEFT || ev->reason == XMPP_MUC_SHUTDOWN)
      break; /* our own leave (record gone already), or the library rejoins */
    LOG_WARN("group", "group %s (%s): we were removed (%s)%s%s", g->name, g->room,
             xmpp_muc_reason_name(ev->reason), ev->text ? ": " : "", ev->text ? ev->text : "");
    snprintf(g->error, sizeof g->error, "removed from the room (%s)",
             xmpp_muc_reason_name(ev->reason));
    g->state = CTL_GROUP_REMOVED;
    registry_room_remove(c->reg, g->room_idx);
    g->room_idx = registry_room_add(c->reg, g->room);
    if (g->net) {
      ctrl_net_remove(g->net);
      g->net = NULL;
    }
    grp_save(c);
    grp_settle(g);
    break;
  }
}

static void on_occupant(struct xmpp_client *x, const struct xmpp_muc_occupant *o, void *ctx)
{
  struct ctrl *c = ctx;
  struct ctrl_group *g = grp_by_room(c, o->room);
  if (!g || !o->jid || strcmp(o->jid, xmpp_client_jid(x)) == 0)
    return;
  bool fresh = false;
  const struct reg_node *p = registry_occupant(c->reg, g->room_idx, o->jid, o->node_id,
                                               o->available, ipop_now_ms(), &fresh);
  if (!o->available)
    LOG_INFO("group", "group %s: %s left the room (%s)", g->name, o->jid,
             xmpp_muc_reason_name(o->reason));
  if (fresh)
    ctrl_restart_stale(c, p);
  if (g->net)
    ctrl_net_membership(g->net);
}

/* Should we follow an invitation?  Groups.AcceptInvites: from mutual
 * roster contacts ("friends"), from AcceptFrom ("list"), or never. */
static bool accept_invite(struct ctrl *c, const char *from)
{
  const struct ctrl_groups_cfg *gc = &c->cfg.ctrl.groups;
  if (gc->accept_invites == CTRL_INVITES_FRIENDS)
    return registry_is_mutual(c->reg, from);
  if (gc->accept_invites == CTRL_INVITES_LIST)
    for (uint32_t i = 0; i < gc->n_accept_from; i++)
      if (strcasecmp(from, gc->accept_from[i]) == 0)
        return true;
  return false;
}

static void on_invite(struct xmpp_client *x, const struct xmpp_muc_invite *inv, void *ctx)
{
  struct ctrl *c = ctx;
  struct ctrl_groups *gs = c->groups;
  char room[CTRL_JID_LEN], name[CTL_GROUP_NAME_LEN], w[POLICY_WHY_LEN];
  struct ctrl_group *g;
  if (!grp_bare_jid(inv->room, room, sizeof room) || !grp_room_name(room, name, sizeof name)) {
    LOG_INFO("group", "invitation from %s to %s ignored: not a group name", inv->from,
             inv->room);
    return;
  }
  if (registry_blocked(c->reg, inv->from)) {
    LOG_INFO("group", "invitation from %s to %s dropped: blocked", inv->from, room);
    return;
  }
  g = grp_by_room(c, room);
  if (g && g->state != CTL_GROUP_REMOVED && g->state != CTL_GROUP_ERROR)
    return; /* in it already */
  if (accept_invite(c, inv->from)) {
    if (g)
      grp_forget(g, false);
    if (grp_by_name(c, name)) {
      LOG_WARN("group", "invitation from %s to %s: we have another group named %s", inv->from,
               room, name);
    } else if ((g = grp_new(c, name, room, CTL_GROUP_MEMBER, w, sizeof w)) != NULL) {
      LOG_INFO("group", "invitation from %s to %s accepted (Groups.AcceptInvites)", inv->from,
               room);
      grp_start_join(g);
      return;
    } else {
      LOG_WARN("group", "invitation from %s to %s: %s", inv->from, room, w);
    }
  }
  size_t i = 0;
  while (i < gs->n_inv && strcasecmp(gs->inv[i].room, room) != 0)
    i++;
  if (i == gs->n_inv) {
    if (gs->n_inv == CTL_MAX_INVITATIONS)
      memmove(&gs->inv[0], &gs->inv[1], --gs->n_inv * sizeof gs->inv[0]);
    i = gs->n_inv++;
  }
  snprintf(gs->inv[i].room, sizeof gs->inv[i].room, "%s", room);
  snprintf(gs->inv[i].from, sizeof gs->inv[i].from, "%.*s", (int)strcspn(inv->from, "/"),
           inv->from);
  snprintf(gs->inv[i].reason, sizeof gs->inv[i].reason, "%s", inv->reason ? inv->reason : "");
  LOG_INFO("group", "invitation from %s to %s kept: `ipopctl group join %s` accepts it",
           inv->from, room, name);
}

/* Invite a user: through the room for its chat clients, and directly to
 * each of its IPOP nodes we know (their priority is -1: a message to the
 * bare JID never reaches them). */
static int invite(struct ctrl *c, const char *room, const char *bare_jid)
{
  int rc = xmpp_muc_invite(c->xmpp, room, bare_jid, NULL);
  for (size_t i = 0; rc == 0 && i < registry_node_count(c->reg); i++) {
    const struct reg_node *p = registry_node_at(c->reg, i);
    if (p->jid[0] && reg_node_online(p) && strcasecmp(p->owner->jid, bare_jid) == 0)
      rc = xmpp_muc_invite(c->xmpp, room, p->jid, NULL);
  }
  return rc;
}

void ctrl_groups_on_result(struct ctrl *c, const struct xmpp_result *r)
{
  struct xmpp_client *x = c->xmpp;
  if (r->op == XMPP_OP_CREATE && r->error) {
    struct ctrl_group *g = r->room ? grp_by_room(c, r->room) : NULL;
    if (g) {
      set_error(g, "%s", r->text ? r->text : condition_text(r->condition));
      grp_settle(g);
    }
    return;
  }
  if (r->op == XMPP_OP_ROOM_INFO && r->error) {
    struct ctrl_group *g = r->room ? grp_by_room(c, r->room) : NULL;
    if (g && g->state == CTL_GROUP_JOINING) {
      set_error(g, "cannot read the room's settings: %s", r->text ? r->text : "?");
      xmpp_muc_leave(x, g->room);
      grp_settle(g);
    }
    return;
  }
  if (r->op == XMPP_OP_BLOCK || r->op == XMPP_OP_UNBLOCK)
    ctrl_membership_changed(c);
  if (r->op == XMPP_OP_BLOCKLIST && r->error)
    LOG_WARN("block", "%s", r->text ? r->text : "no block list");
  for (size_t i = 0; i < GRP_MAX_PENDING; i++) {
    struct grp_pending *p = &c->groups->pend[i];
    if (!p->req || p->kind == GRP_WAIT_GROUP || p->op != (int)r->op ||
        strcasecmp(p->room, r->room ? r->room : "") != 0 ||
        strcasecmp(p->jid, r->jid ? r->jid : "") != 0)
      continue;
    struct ctl_empty e = { 0 };
    if (r->error)
      ctl_reply_error(p->req, r->error, "%s", r->text ? r->text : ipop_strerror(r->error));
    else if (p->kind == GRP_WAIT_INVITE && invite(c, p->room, p->jid) != 0)
      ctl_reply_error(p->req, IPOP_ESTATE, "membership granted, but the invitation to %s "
                      "was not sent", p->jid);
    else
      ctl_reply(p->req, &e);
    p->req = NULL;
    break;
  }
}

void ctrl_groups_callbacks(struct xmpp_callbacks *cbs)
{
  cbs->on_muc_self = on_self;
  cbs->on_muc_occupant = on_occupant;
  cbs->on_muc_invite = on_invite;
  cbs->on_muc_room_info = on_room_info;
}

/* XMPP is online (again): discover the MUC service unless configured.
 * Occupants are reported afresh by the rejoins; the registry keeps the old
 * ones (links stay up) until our rejoin tells who is still there. */
void ctrl_groups_on_online(struct ctrl *c)
{
  if (!c->groups || !c->xmpp)
    return;
  if (!c->cfg.ctrl.groups.service[0])
    xmpp_muc_discover(c->xmpp);
}

/* ---- start and stop ---------------------------------------------------------------- */

int ctrl_groups_init(struct ctrl *c, char *why, size_t whylen)
{
  c->groups = calloc(1, sizeof *c->groups);
  if (!c->groups) {
    snprintf(why, whylen, "out of memory");
    return IPOP_ENOMEM;
  }
  uv_timer_init(c->loop, &c->groups->timer);
  c->groups->timer.data = c;
  uv_timer_start(&c->groups->timer, tick, GRP_TICK_MS, GRP_TICK_MS);
  grp_load(c);
  return 0;
}

void ctrl_groups_start(struct ctrl *c)
{
  if (!c->groups || !c->xmpp)
    return;
  if (c->cfg.ctrl.groups.service[0])
    xmpp_muc_set_service(c->xmpp, c->cfg.ctrl.groups.service);
  for (size_t i = 0; i < c->groups->n; i++)
    grp_start_join(c->groups->g[i]);
}

void ctrl_groups_stop(struct ctrl *c)
{
  if (!c->groups)
    return;
  for (size_t i = 0; i < GRP_MAX_PENDING; i++)
    if (c->groups->pend[i].req) {
      ctl_reply_error(c->groups->pend[i].req, IPOP_ESTATE, "the controller is stopping");
      c->groups->pend[i].req = NULL;
    }
  if (!uv_is_closing((uv_handle_t *)&c->groups->timer))
    uv_close((uv_handle_t *)&c->groups->timer, NULL);
}

void ctrl_groups_free(struct ctrl *c)
{
  if (!c->groups)
    return;
  for (size_t i = 0; i < c->groups->n; i++)
    free(c->groups->g[i]);
  free(c->groups);
  c->groups = NULL;
}
