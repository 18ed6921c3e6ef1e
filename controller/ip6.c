/* Dual stack (ip6.h): an overlay's IPv6 subnet and our address in it. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "ip6.h"
#include "log.h"

int ctrl_ip6_init(struct ctrl_net *n, char *why, size_t whylen)
{
  struct ctrl *c = n->c;
  const struct ctrl_overlay_cfg *o = &c->cfg.ctrl.overlay;
  bool main_net = n->kind != CTRL_NET_MUC;
  char w[160] = "";
  int rc = main_net ? ctrl_overlay_subnet6(o, &n->net6, w, sizeof w) : addr6_ula(n->id, &n->net6);
  n->has_ip6 = false;
  if (rc == IPOP_ENOENT)
    return 0; /* Subnet6 "none": IPv4 only */
  if (rc == 0 && n->mtu < ADDR6_MIN_MTU) {
    /* The default subnet on a small MTU (a configured one is refused by
     * the config check): the kernel would refuse IPv6 on the TAP. */
    LOG_WARN("overlay", "%s: MTU %u is below IPv6's minimum of %d: IPv4 only", n->id, n->mtu,
             ADDR6_MIN_MTU);
    return 0;
  }
  if (rc) {
    snprintf(why, whylen, "IPv6 subnet: %s", w[0] ? w : ipop_strerror(rc));
    return rc;
  }
  n->has_ip6 = true;
  if (n->kind == CTRL_NET_SOCIAL)
    return 0; /* ctrl_ip6_embed once the IPv4 address is known */
  if (main_net && o->has_address6) {
    n->ip6 = o->address6;
    n->fixed_address6 = true;
    return 0;
  }
  rc = addr6_derive(&n->net6, c->node_id, n->addr6_attempt, &n->ip6);
  if (rc)
    snprintf(why, whylen, "cannot derive an IPv6 address: %s", ipop_strerror(rc));
  return rc;
}

bool ctrl_ip6_embed(const struct ctrl_net *n, struct in_addr a4, struct in6_addr *out)
{
  return n->has_ip6 && addr6_embed4(&n->net6, a4, out) == 0;
}

bool ctrl_ip6_rederive(struct ctrl_net *n)
{
  struct in6_addr a;
  if (!n->has_ip6 || n->fixed_address6 ||
      addr6_derive(&n->net6, n->c->node_id, n->addr6_attempt + 1, &a) != 0)
    return false;
  char old[INET6_ADDRSTRLEN], now[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &n->ip6, old, sizeof old);
  inet_ntop(AF_INET6, &a, now, sizeof now);
  LOG_WARN("group", "%s: yielding IPv6 address %s (larger node id): using %s", n->id, old, now);
  n->addr6_attempt++;
  n->ip6 = a;
  return true;
}

void ctrl_ip6_peer_claims(struct ctrl_link *l, const struct in6_addr *a)
{
  if (a && l->has_refused6 && memcmp(&l->refused6, a, sizeof *a) == 0)
    return;
  l->has_ip6 = a != NULL;
  if (a)
    l->ip6 = *a;
}

void ctrl_caps_text(const struct ctrl_net *n, char *buf, size_t len)
{
  char a4[INET_ADDRSTRLEN] = "", a6[INET6_ADDRSTRLEN] = "";
  if (!n) {
    snprintf(buf, len, "%s", "");
    return;
  }
  inet_ntop(AF_INET, &n->ip4, a4, sizeof a4);
  if (n->has_ip6)
    inet_ntop(AF_INET6, &n->ip6, a6, sizeof a6);
  snprintf(buf, len, "ip4=%s%s%s", a4, a6[0] ? " ip6=" : "", a6);
}
