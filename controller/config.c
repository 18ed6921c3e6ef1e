/* The Controller section of config.json (docs/configuration.md). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "error.h"
#include "resolve.h"

const char *const ctrl_mode_names[] = { "group", "social", NULL };
const char *const ctrl_accept_invites_names[] = { "friends", "list", "none", NULL };
const char *const ctrl_onoff_names[] = { "on", "off", NULL };

#define T struct ctrl_turn_cfg
static const struct jb_field turn_f[] = {
  JB_F_STR(T, address, "Address", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, user, "User", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, password_file, "PasswordFile", JB_REQUIRED, 1, NULL),
  JB_F_ENUM(T, transport, "Transport", 0, ctl_turn_transport_names, "udp"),
};
static const struct jb_schema turn_schema = JB_SCHEMA("Turn server", T, turn_f);
#undef T

#define T struct ctrl_peer_relay_cfg
static const struct jb_field peer_relay_f[] = {
  JB_F_STR(T, jid, "Jid", JB_REQUIRED, 3, NULL),
  JB_F_ENUM(T, relay, "Relay", JB_REQUIRED, ctl_relay_policy_names, NULL),
};
static const struct jb_schema peer_relay_schema = JB_SCHEMA("PeerRelay entry", T, peer_relay_f);
#undef T

#define T struct ctrl_overlay_cfg
static const struct jb_field overlay_f[] = {
  JB_F_STR(T, id, "Id", 0, 1, "ipop"),
  JB_F_STR(T, tap_name, "TapName", 0, 1, "ipop0"),
  JB_F_STR(T, subnet, "Subnet", 0, 9, "10.254.0.0/16"),
  JB_F_IP4(T, address, "Address", 0, JB_PRESENCE(T, has_address)),
  JB_F_STR(T, subnet6, "Subnet6", 0, 0, ""),
  JB_F_IP6(T, address6, "Address6", 0, JB_PRESENCE(T, has_address6)),
  JB_F_U32(T, mtu, "Mtu", 0, CTL_MTU_MIN, CTL_MTU_MAX, 1280),
  JB_F_STR_ARR(T, stun, n_stun, "Stun", 0, 3),
  JB_F_OBJ_ARR(T, turn, n_turn, "Turn", 0, &turn_schema),
  JB_F_ENUM(T, relay, "Relay", 0, ctl_relay_policy_names, "auto"),
  JB_F_OBJ_ARR(T, peer_relay, n_peer_relay, "PeerRelay", 0, &peer_relay_schema),
  JB_F_ENUM(T, forwarding, "Forwarding", 0, ctrl_onoff_names, "on"),
};
static const struct jb_schema overlay_schema = JB_SCHEMA("Overlay", T, overlay_f);
#undef T

#define T struct ctrl_name_cfg
static const struct jb_field name_f[] = {
  JB_F_STR(T, jid, "Jid", JB_REQUIRED, 3, NULL),
  JB_F_STR(T, name, "Name", JB_REQUIRED, 1, NULL),
};
static const struct jb_schema name_schema = JB_SCHEMA("Names entry", T, name_f);
#undef T

#define T struct ctrl_groups_cfg
static const struct jb_field groups_f[] = {
  JB_F_STR(T, service, "Service", 0, 0, ""),
  JB_F_ENUM(T, accept_invites, "AcceptInvites", 0, ctrl_accept_invites_names, "friends"),
  JB_F_STR_ARR(T, accept_from, n_accept_from, "AcceptFrom", 0, 3),
  JB_F_STR(T, tap_prefix, "TapPrefix", 0, 1, "ipopg"),
  JB_F_U32(T, mtu, "Mtu", 0, CTL_MTU_MIN, CTL_MTU_MAX, 1280),
  JB_F_ENUM(T, forwarding, "Forwarding", 0, ctrl_onoff_names, "on"),
};
static const struct jb_schema groups_schema = JB_SCHEMA("Groups", T, groups_f);
#undef T

#define T struct ctrl_http_cfg
static const struct jb_field http_f[] = {
  JB_F_STR(T, listen, "Listen", 0, 0, "127.0.0.1:9587"),
};
static const struct jb_schema http_schema = JB_SCHEMA("Http", T, http_f);
#undef T

#define T struct ctrl_section
static const struct jb_field section_f[] = {
  JB_F_STR(T, state_dir, "StateDir", 0, 1, "/var/lib/ipop-controller"),
  JB_F_BOOL(T, allow_root, "AllowRoot", 0, false),
  JB_F_OBJ(T, log, "Log", 0, &ipop_log_config_schema),
  JB_F_ENUM(T, mode, "Mode", 0, ctrl_mode_names, "group"),
  JB_F_OBJ(T, xmpp, "Xmpp", 0, &xmpp_config_schema, JB_PRESENCE(T, has_xmpp)),
  JB_F_OBJ(T, overlay, "Overlay", 0, &overlay_schema, JB_PRESENCE(T, has_overlay)),
  JB_F_STR(T, group, "Group", 0, 0, ""),
  JB_F_U32(T, link_budget, "LinkBudget", 0, 2, 4096, 32),
  JB_F_U32(T, link_setup_timeout, "LinkSetupTimeout", 0, 5, 3600, 60),
  JB_F_STR(T, hosts_file, "HostsFile", 0, 0, ""),
  JB_F_OBJ_ARR(T, names, n_names, "Names", 0, &name_schema),
  JB_F_U32(T, plan_interval, "PlanInterval", 0, 1, 3600, 30),
  JB_F_U32(T, ondemand_idle, "OnDemandIdle", 0, 10, 86400, 300),
  JB_F_U64(T, heavy_pair_bytes, "HeavyPairBytes", 0, 1, INT64_MAX, 1048576),
  JB_F_U32(T, heavy_pair_window, "HeavyPairWindow", 0, 1, 3600, 10),
  JB_F_OBJ(T, groups, "Groups", 0, &groups_schema, JB_PRESENCE(T, has_groups)),
  JB_F_ENUM(T, trust, "Trust", 0, reg_trust_names, "tofu"),
  JB_F_OBJ(T, http, "Http", 0, &http_schema),
};
static const struct jb_schema section_schema = JB_SCHEMA("Controller", T, section_f);
#undef T

#define T struct ctrl_config
static const struct jb_field config_f[] = {
  JB_F_OBJ(T, control, "Control", 0, &ctl_config_schema),
  JB_F_FOREIGN("Tincan"),
  JB_F_OBJ(T, ctrl, "Controller", 0, &section_schema),
};
static const struct jb_schema config_schema = JB_SCHEMA("config", T, config_f);
#undef T

int ctrl_parse_subnet(const char *text, struct in_addr *net, uint32_t *prefix)
{
  char buf[64];
  snprintf(buf, sizeof buf, "%s", text);
  char *slash = strchr(buf, '/');
  if (!slash)
    return IPOP_EINVAL;
  *slash = '\0';
  char *end;
  long len = strtol(slash + 1, &end, 10);
  if (*end || end == slash + 1 || len < 1 || len > 30)
    return IPOP_EINVAL;
  if (inet_pton(AF_INET, buf, net) != 1)
    return IPOP_EINVAL;
  uint32_t mask = len == 0 ? 0 : htonl(~0u << (32 - len));
  if (net->s_addr & ~mask)
    return IPOP_EINVAL;
  *prefix = (uint32_t)len;
  return 0;
}

int ctrl_parse_listen(const char *text, struct sockaddr_storage *out, char *why, size_t whylen)
{
  char host[CTL_HOSTPORT_LEN];
  snprintf(host, sizeof host, "%s", text);
  char *colon = strrchr(host, ':');
  char *end;
  long port = colon ? strtol(colon + 1, &end, 10) : 0;
  if (!colon || colon[1] == '\0' || *end || port < 1 || port > 65535) {
    ipop_why(why, whylen, "\"%s\" is not ADDRESS:PORT (port 1..65535)", text);
    return IPOP_EINVAL;
  }
  *colon = '\0';
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  size_t hl = strlen(host);
  if (strcmp(host, "localhost") == 0) {
    v4->sin_family = AF_INET;
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    v4->sin_port = htons((uint16_t)port);
  } else if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
    host[hl - 1] = '\0';
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
      goto bad;
  } else {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
      goto bad;
  }
  return 0;
bad:
  ipop_why(why, whylen, "\"%s\": the address must be an IPv4 address, [IPv6] or localhost "
           "(no host names: the listener must not depend on DNS)", text);
  return IPOP_EINVAL;
}

int ctrl_overlay_subnet6(const struct ctrl_overlay_cfg *o, struct addr6_subnet *out, char *why,
                         size_t whylen)
{
  if (strcmp(o->subnet6, "none") == 0)
    return IPOP_ENOENT;
  if (o->subnet6[0] == '\0')
    return addr6_ula(o->id, out);
  return addr6_parse_subnet(o->subnet6, out, why, whylen);
}

__attribute__((format(printf, 3, 4))) static int fail(struct jb_error *err, const char *path,
                                                      const char *fmt, ...)
{
  err->code = IPOP_EFIELD;
  snprintf(err->path, sizeof err->path, "%s", path);
  char m[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  snprintf(err->msg, sizeof err->msg, "%s: %s", path, m);
  return IPOP_EFIELD;
}

/* Checks jbind cannot express: cross-field rules and formats. */
static int check(struct ctrl_config *cfg, struct jb_error *err)
{
  struct ctrl_section *s = &cfg->ctrl;
  struct sockaddr_storage ss;
  char hw[160];
  if (s->http.listen[0] && ctrl_parse_listen(s->http.listen, &ss, hw, sizeof hw) != 0)
    return fail(err, "Controller.Http.Listen", "%s", hw);
  if (!s->has_overlay && !s->has_xmpp)
    return 0; /* the bare process shell: control socket and heartbeat only */
  if (!s->has_xmpp)
    return fail(err, "Controller.Xmpp", "%s", "required when Controller.Overlay is set");
  if (!s->has_overlay)
    return fail(err, "Controller.Overlay", "%s", "required when Controller.Xmpp is set");
  /* The resource goes into our full JID, which peers check strictly
   * (XML-special bytes are refused) and servers normalise (PRECIS): keep
   * it to printable ASCII that every server and every peer take as is. */
  const char *rp = s->xmpp.resource_prefix;
  bool rp_ok = strlen(rp) <= 32;
  for (const char *q = rp; rp_ok && *q; q++)
    rp_ok = *q > ' ' && *q < 0x7f && !strchr("<>\"'&/", *q);
  if (!rp_ok)
    return fail(err, "Controller.Xmpp.ResourcePrefix", "\"%s\" is not 0..32 printable ASCII "
                "characters without space or < > \" ' & / (the resource is part of our JID, "
                "which peers check)", rp);
  struct ctrl_overlay_cfg *o = &s->overlay;
  if (!ctl_id_valid(o->id))
    return fail(err, "Controller.Overlay.Id", "\"%s\" is not 1..64 of [A-Za-z0-9_.-]", o->id);
  struct in_addr net;
  uint32_t prefix;
  if (ctrl_parse_subnet(o->subnet, &net, &prefix) != 0)
    return fail(err, "Controller.Overlay.Subnet",
                "\"%s\" is not ADDRESS/PREFIX (prefix 1..30, host bits zero)", o->subnet);
  if (s->mode == CTRL_MODE_SOCIAL &&
      (prefix < ADDRPOOL_PREFIX_MIN || prefix > ADDRPOOL_PREFIX_MAX))
    return fail(err, "Controller.Overlay.Subnet", "\"%s\": SocialVPN needs a /16../30",
                o->subnet);
  if (s->mode == CTRL_MODE_GROUP && prefix < GROUPADDR_PREFIX_MIN)
    return fail(err, "Controller.Overlay.Subnet", "\"%s\": GroupVPN needs a /8../30", o->subnet);
  if (o->has_address) {
    struct groupaddr_subnet gs = { .net = net, .prefix = prefix };
    if (!groupaddr_usable(&gs, o->address))
      return fail(err, "Controller.Overlay.Address", "%s is not a host address of the subnet",
                  inet_ntoa(o->address));
  }
  struct addr6_subnet s6;
  char w6[160] = "";
  int rc6 = ctrl_overlay_subnet6(o, &s6, w6, sizeof w6);
  if (rc6 && rc6 != IPOP_ENOENT)
    return fail(err, "Controller.Overlay.Subnet6", "\"%s\": %s", o->subnet6, w6);
  if ((o->subnet6[0] || o->has_address6) && rc6 == 0 && o->mtu < ADDR6_MIN_MTU)
    return fail(err, "Controller.Overlay.Mtu", "%u is below IPv6's minimum of %d, but "
                "Subnet6 or Address6 is set: raise Mtu, or set Subnet6 to \"none\"", o->mtu,
                ADDR6_MIN_MTU);
  if (rc6 == 0 && s->mode == CTRL_MODE_SOCIAL && s6.prefix > ADDR6_SOCIAL_PREFIX_MAX)
    return fail(err, "Controller.Overlay.Subnet6", "\"%s\": SocialVPN needs a /%d../%d (a "
                "friend's address carries its IPv4 one in the last 32 bits)", o->subnet6,
                ADDR6_PREFIX_MIN, ADDR6_SOCIAL_PREFIX_MAX);
  if (o->has_address6) {
    char a[INET6_ADDRSTRLEN], t[ADDR6_TEXT_LEN];
    inet_ntop(AF_INET6, &o->address6, a, sizeof a);
    if (s->mode == CTRL_MODE_SOCIAL)
      return fail(err, "Controller.Overlay.Address6", "%s: GroupVPN only (SocialVPN uses "
                  "Subnet6 with Address in its last 32 bits)", a);
    if (rc6 == IPOP_ENOENT)
      return fail(err, "Controller.Overlay.Address6", "%s given, but Subnet6 is \"none\"", a);
    if (!addr6_usable(&s6, &o->address6))
      return fail(err, "Controller.Overlay.Address6", "%s is not a host address of %s%s", a,
                  addr6_subnet_text(&s6, t, sizeof t),
                  o->subnet6[0] ? "" : " (the default Subnet6, derived from Overlay.Id)");
  }
  /* STUN/TURN: host names are fine (resolve.c resolves them), bad syntax is not. */
  for (uint32_t i = 0; i < o->n_stun + o->n_turn; i++) {
    char path[64], w[RESOLVE_WHY_LEN];
    bool stun = i < o->n_stun;
    if (stun)
      snprintf(path, sizeof path, "Controller.Overlay.Stun[%u]", i);
    else
      snprintf(path, sizeof path, "Controller.Overlay.Turn[%u].Address", i - o->n_stun);
    if (resolve_check(stun ? o->stun[i] : o->turn[i - o->n_stun].address, w, sizeof w))
      return fail(err, path, "%s", w);
  }
  if (o->relay == CTL_RELAY_ALWAYS && o->n_turn == 0)
    return fail(err, "Controller.Overlay.Relay", "%s",
                "\"always\" needs a TURN server (Controller.Overlay.Turn)");
  for (uint32_t i = 0; i < o->n_peer_relay; i++) {
    char path[64];
    snprintf(path, sizeof path, "Controller.Overlay.PeerRelay[%u].Jid", i);
    if (strchr(o->peer_relay[i].jid, '/') || !strchr(o->peer_relay[i].jid, '@'))
      return fail(err, path, "\"%s\" is not a bare JID (user@domain)", o->peer_relay[i].jid);
    snprintf(path, sizeof path, "Controller.Overlay.PeerRelay[%u].Relay", i);
    if (o->peer_relay[i].relay == CTL_RELAY_ALWAYS && o->n_turn == 0)
      return fail(err, path, "%s", "\"always\" needs a TURN server (Controller.Overlay.Turn)");
  }
  for (uint32_t i = 0; i < s->n_names; i++) {
    const char *n = s->names[i].name;
    char path[64];
    snprintf(path, sizeof path, "Controller.Names[%u].Name", i);
    for (const char *q = n; *q; q++)
      if ((unsigned char)*q <= ' ' || *q == '#' || *q == 0x7f)
        return fail(err, path, "\"%s\" cannot stand in a hosts file (whitespace, control "
                               "characters or '#')", n);
    snprintf(path, sizeof path, "Controller.Names[%u].Jid", i);
    if (strchr(s->names[i].jid, '/') || !strchr(s->names[i].jid, '@'))
      return fail(err, path, "\"%s\" is not a bare JID (user@domain)", s->names[i].jid);
  }
  if (s->has_groups) {
    struct ctrl_groups_cfg *g = &s->groups;
    if (g->service[0] && (strchr(g->service, '@') || strchr(g->service, '/') ||
                          !strchr(g->service, '.')))
      return fail(err, "Controller.Groups.Service", "\"%s\" is not a service JID "
                  "(conference.example.org)", g->service);
    /* Index up to 2 digits (CTRL_MAX_NETS), within IFNAMSIZ-1. */
    if (strlen(g->tap_prefix) > CTL_IFNAME_LEN - 1 - 2)
      return fail(err, "Controller.Groups.TapPrefix", "\"%s\" is longer than %d characters",
                  g->tap_prefix, CTL_IFNAME_LEN - 1 - 2);
    for (const char *q = g->tap_prefix; *q; q++)
      if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') ||
            *q == '_' || *q == '-'))
        return fail(err, "Controller.Groups.TapPrefix", "\"%s\": only letters, digits, "
                    "'_' and '-'", g->tap_prefix);
    if (strncmp(g->tap_prefix, s->overlay.tap_name, strlen(g->tap_prefix)) == 0)
      return fail(err, "Controller.Groups.TapPrefix", "\"%s\" is a prefix of "
                  "Controller.Overlay.TapName (%s): the names would collide", g->tap_prefix,
                  s->overlay.tap_name);
    for (uint32_t i = 0; i < g->n_accept_from; i++)
      if (strchr(g->accept_from[i], '/') || !strchr(g->accept_from[i], '@')) {
        char path[64];
        snprintf(path, sizeof path, "Controller.Groups.AcceptFrom[%u]", i);
        return fail(err, path, "\"%s\" is not a bare JID (user@domain)", g->accept_from[i]);
      }
    if (g->accept_invites == CTRL_INVITES_LIST && g->n_accept_from == 0)
      return fail(err, "Controller.Groups.AcceptFrom", "%s",
                  "AcceptInvites \"list\" needs at least one JID");
  }
  if (s->mode == CTRL_MODE_GROUP && s->group[0] == '\0')
    return fail(err, "Controller.Group", "%s", "GroupVPN needs the roster group's name");
  if (s->mode == CTRL_MODE_GROUP && s->xmpp.roster_group[0] == '\0')
    snprintf(s->xmpp.roster_group, sizeof s->xmpp.roster_group, "%s", s->group);
  return 0;
}

int ctrl_config_load(const char *path, struct ctrl_config *cfg, struct jb_error *err)
{
  int rc = ipop_config_load(path, &config_schema, cfg, err);
  if (rc)
    return rc;
  rc = check(cfg, err);
  if (rc) {
    char m[sizeof err->msg];
    snprintf(m, sizeof m, "%s: %s", path, err->msg);
    snprintf(err->msg, sizeof err->msg, "%s", m);
  }
  return rc;
}
