/* SocialVPN (social.h): the address pool, tincan's address mappings and
 * the hosts file. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "ip6.h"
#include "log.h"
#include "social.h"
#include "tincan.h"

const char *ctrl_hosts_path(const struct ctrl *c, char *buf, size_t len)
{
  if (c->cfg.ctrl.hosts_file[0])
    snprintf(buf, len, "%s", c->cfg.ctrl.hosts_file);
  else
    snprintf(buf, len, "%s/hosts", c->cfg.ctrl.state_dir);
  return buf;
}

int ctrl_social_init(struct ctrl_net *n, const struct in_addr *addr, char *why, size_t whylen)
{
  struct ctrl *c = n->c;
  struct addrpool_config pc = { .net = n->net, .prefix = n->prefix,
                                .net6 = n->net6, .has_net6 = n->has_ip6 };
  if (addr)
    pc.local = *addr;
  snprintf(pc.path, sizeof pc.path, "%s/%s", c->cfg.ctrl.state_dir, ADDRPOOL_FILE);
  int rc = addrpool_open(&n->pool, &pc, why, whylen);
  if (rc)
    return rc;
  n->ip4 = addrpool_local(n->pool);
  /* Our IPv6 address carries our IPv4 one, as every friend's does. */
  n->has_ip6 = ctrl_ip6_embed(n, n->ip4, &n->ip6);
  char path[CTL_PATH_LEN], w[POLICY_WHY_LEN];
  if (addrpool_write_hosts(n->pool, ctrl_hosts_path(c, path, sizeof path), w, sizeof w) != 0)
    LOG_WARN("social", "hosts file: %s", w);
  return 0;
}

static void mapping_answer(int status, const void *result, const char *err, void *ctx)
{
  if (status)
    LOG_WARN("social", "set_address_mapping: %s", err ? err : ipop_strerror(status));
}

/* Before create_link: the friend's address in our subnet, the mapping in
 * tincan (sent first, so it is in place when the link comes up), the hosts
 * file. */
void ctrl_social_on_create_link(struct ctrl_net *n, const struct reg_node *p,
                                struct ctrl_link *l, struct in_addr peer_ip4,
                                const struct in6_addr *peer_ip6)
{
  struct ctrl *c = n->c;
  char name[CTRL_JID_LEN], w[POLICY_WHY_LEN];
  snprintf(name, sizeof name, "%s", p->owner->jid);
  for (uint32_t i = 0; i < c->cfg.ctrl.n_names; i++)
    if (strcmp(c->cfg.ctrl.names[i].jid, name) == 0) {
      snprintf(name, sizeof name, "%s", c->cfg.ctrl.names[i].name);
      break;
    }
  struct in_addr mapped;
  int rc = addrpool_assign(n->pool, p->id, name, &mapped, w, sizeof w);
  if (rc) {
    LOG_WARN("social", "no address for %s: %s", name, w);
    return;
  }
  l->mapped_ip4 = mapped;
  l->has_mapped = true;
  struct ctl_address_mapping m;
  memset(&m, 0, sizeof m);
  snprintf(m.overlay_id, sizeof m.overlay_id, "%s", n->id);
  snprintf(m.peer_id, sizeof m.peer_id, "%s", p->id);
  m.mapped_ip4 = mapped;
  m.peer_ip4 = peer_ip4;
  /* IPv6 when both sides have it: the friend at our subnet + its IPv4. */
  l->has_mapped6 = peer_ip6 && ctrl_ip6_embed(n, mapped, &l->mapped_ip6);
  if (l->has_mapped6) {
    m.mapped_ip6 = l->mapped_ip6;
    m.peer_ip6 = *peer_ip6;
    m.has_mapped_ip6 = m.has_peer_ip6 = true;
  }
  if (ctrl_tincan_send(c, "set_address_mapping", &m, 5000, mapping_answer, NULL) != 0)
    LOG_WARN("social", "set_address_mapping for %s not sent", name);
  char path[CTL_PATH_LEN], a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
  if (addrpool_write_hosts(n->pool, ctrl_hosts_path(c, path, sizeof path), w, sizeof w) != 0)
    LOG_WARN("social", "hosts file: %s", w);
  inet_ntop(AF_INET, &mapped, a, sizeof a);
  inet_ntop(AF_INET, &peer_ip4, b, sizeof b);
  char a6[INET6_ADDRSTRLEN] = "", b6[INET6_ADDRSTRLEN] = "";
  if (l->has_mapped6) {
    inet_ntop(AF_INET6, &l->mapped_ip6, a6, sizeof a6);
    inet_ntop(AF_INET6, peer_ip6, b6, sizeof b6);
  }
  LOG_INFO("social", "%s appears here as %s%s%s (its own address %s%s%s)", name, a,
           a6[0] ? " and " : "", a6, b, b6[0] ? " and " : "", b6);
}
