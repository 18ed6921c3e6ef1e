/* metrics.h: the map's data (/api/map) as JSON.  A node shows only what it
 * knows: for each of its overlays, itself, the members it knows of and its
 * own links to them (docs/metrics.md, "Overlay map").  Strings from peers
 * (JIDs) go out as JSON strings; the page puts them into text nodes only. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"
#include "log.h"
#include "metrics.h"

static json_t *addr(struct in_addr a)
{
  char s[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, s, sizeof s);
  return json_string(s);
}

/* SocialVPN: the name Controller.Names gives a friend ("" if none). */
static const char *name_of(const struct ctrl *c, const char *bare)
{
  for (uint32_t i = 0; i < c->cfg.ctrl.n_names; i++)
    if (strcasecmp(c->cfg.ctrl.names[i].jid, bare) == 0)
      return c->cfg.ctrl.names[i].name;
  return "";
}

static json_t *link_json(const struct ctrl_link *l)
{
  if (l->link_state < 0)
    return json_null();
  int pt = l->pair_type >= 0 && l->pair_type <= CTL_PAIR_RELAY ? l->pair_type : 0;
  int st = l->link_state <= CTL_LINK_FAILED ? l->link_state : CTL_LINK_FAILED;
  return json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:s}", "state", ctl_link_state_names[st],
                   "pair_type", ctl_pair_type_names[pt], "rtt_ms", l->rtt_us / 1000.0,
                   "tx_bytes", (json_int_t)l->tx_bytes, "rx_bytes", (json_int_t)l->rx_bytes,
                   "bytes_per_s", (json_int_t)l->bytes_per_s, "remote_addr", l->remote_addr);
}

static json_t *node_json(struct ctrl *c, const struct ctrl_net *n, const struct ctrl_link *l)
{
  const struct reg_node *r = c->reg ? registry_node(c->reg, l->peer) : NULL;
  const char *bare = r ? r->owner->jid : "";
  json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "id", l->peer, "jid", bare,
                        "full_jid", r ? r->jid : "", "name", name_of(c, bare), "online",
                        r && reg_node_online(r), "member", l->member, "link", link_json(l));
  if (o && n->kind == CTRL_NET_SOCIAL && l->has_mapped)
    json_object_set_new(o, "address", addr(l->mapped_ip4));
  else if (o && l->has_ip4)
    json_object_set_new(o, "address", addr(l->ip4));
  return o;
}

static json_t *net_json(struct ctrl *c, const struct ctrl_net *n)
{
  char subnet[INET_ADDRSTRLEN + 4], a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &n->net, a, sizeof a);
  snprintf(subnet, sizeof subnet, "%s/%u", a, n->prefix);
  json_t *nodes = json_array();
  for (size_t i = 0; nodes && i < n->n_links; i++) {
    const struct ctrl_link *l = n->links[i];
    if (l->member || l->link_state >= 0)
      json_array_append_new(nodes, node_json(c, n, l));
  }
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:o}", "id", n->id, "kind",
                   ctrl_net_kind_name(n), "group", n->grp ? n->grp->name : "", "tap",
                   n->tap_name, "subnet", subnet, "address", addr(n->ip4), "ready", n->ready,
                   "nodes", nodes ? nodes : json_array());
}

char *ctrl_map_render(struct ctrl *c, size_t *len)
{
  const char *jid = c->xmpp ? xmpp_client_jid(c->xmpp) : "";
  json_t *nets = json_array();
  for (size_t i = 0; nets && i < c->n_nets; i++)
    json_array_append_new(nets, net_json(c, c->nets[i]));
  json_t *root = json_pack("{s:{s:s, s:s, s:s, s:s}, s:I, s:o}", "self", "id", c->node_id,
                           "jid", jid, "xmpp", c->xmpp ? xmpp_state_name(c->xmpp_state) : "off",
                           "version", IPOP_VERSION, "t_ms", (json_int_t)ipop_now_ms(),
                           "overlays", nets ? nets : json_array());
  if (!root)
    return NULL;
  char *s = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(root);
  if (s)
    *len = strlen(s);
  return s;
}
