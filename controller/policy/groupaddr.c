#include "groupaddr.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

int groupaddr_subnet_check(const struct groupaddr_subnet *s)
{
  if (s->prefix < GROUPADDR_PREFIX_MIN || s->prefix > GROUPADDR_PREFIX_MAX)
    return IPOP_EINVAL;
  uint32_t mask = ~0u << (32 - s->prefix);
  if (ntohl(s->net.s_addr) & ~mask)
    return IPOP_EINVAL;
  if (s->n_reserved && !s->reserved)
    return IPOP_EINVAL;
  return 0;
}

bool groupaddr_usable(const struct groupaddr_subnet *s, struct in_addr a)
{
  if (groupaddr_subnet_check(s))
    return false;
  uint32_t mask = ~0u << (32 - s->prefix), net = ntohl(s->net.s_addr), x = ntohl(a.s_addr);
  if ((x & mask) != net || x == net || x == (net | ~mask))
    return false;
  for (size_t i = 0; i < s->n_reserved; i++)
    if (s->reserved[i].s_addr == a.s_addr)
      return false;
  return true;
}

int groupaddr_derive(const struct groupaddr_subnet *s, const char *node_id, uint32_t attempt,
                     struct in_addr *out)
{
  if (groupaddr_subnet_check(s) || !nodeid_valid(node_id))
    return IPOP_EINVAL;
  char text[80];
  int len = snprintf(text, sizeof text, "ipop-groupaddr:%s:%u", node_id, attempt);
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)text, (size_t)len, md);
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = v << 8 | md[i];
  uint32_t hosts = (1u << (32 - s->prefix)) - 2; /* without network and broadcast */
  uint32_t net = ntohl(s->net.s_addr);
  uint32_t off = (uint32_t)(v % hosts);
  for (uint32_t i = 0; i < hosts; i++) {
    struct in_addr a = { htonl(net + 1 + (off + i) % hosts) };
    if (groupaddr_usable(s, a)) {
      *out = a;
      return 0;
    }
  }
  return IPOP_EBUSY;
}

int groupaddr_mac(const char *overlay_id, const char *node_id, uint8_t mac[6])
{
  if (!nodeid_valid(node_id))
    return IPOP_EINVAL;
  char text[160];
  int len = snprintf(text, sizeof text, "ipop-groupmac:%s:%s", overlay_id, node_id);
  if (len < 0 || (size_t)len >= sizeof text)
    return IPOP_EINVAL;
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256((const uint8_t *)text, (size_t)len, md);
  mac[0] = 0x02; /* locally administered, unicast */
  memcpy(mac + 1, md, 5);
  return 0;
}

static int cmp_claim(const void *a, const void *b)
{
  const struct groupaddr_claim *x = a, *y = b;
  uint32_t ax = ntohl(x->addr.s_addr), ay = ntohl(y->addr.s_addr);
  if (ax != ay)
    return ax < ay ? -1 : 1;
  int c6 = memcmp(&x->addr6, &y->addr6, sizeof x->addr6);
  if (c6)
    return c6;
  return strcmp(x->node_id, y->node_id);
}

int groupaddr_find_conflicts(const struct groupaddr_claim *claims, size_t n,
                             struct groupaddr_conflict *out, size_t max)
{
  if (n == 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!nodeid_valid(claims[i].node_id))
      return IPOP_EINVAL;
  struct groupaddr_claim *v = malloc(n * sizeof *v);
  if (!v)
    return IPOP_ENOMEM;
  /* Last claim per node id wins. */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    bool later = false;
    for (size_t j = i + 1; j < n && !later; j++)
      later = strcmp(claims[i].node_id, claims[j].node_id) == 0;
    if (!later)
      v[k++] = claims[i];
  }
  qsort(v, k, sizeof *v, cmp_claim);
  size_t found = 0;
  for (size_t i = 0; i < k;) {
    size_t j = i + 1;
    while (j < k && v[j].addr.s_addr == v[i].addr.s_addr &&
           memcmp(&v[j].addr6, &v[i].addr6, sizeof v[i].addr6) == 0) {
      if (found < max) {
        out[found].addr = v[i].addr;
        out[found].addr6 = v[i].addr6;
        memcpy(out[found].node_a, v[i].node_id, NODEID_BUF);
        memcpy(out[found].node_b, v[j].node_id, NODEID_BUF);
      }
      found++;
      j++;
    }
    i = j;
  }
  free(v);
  return found > INT32_MAX ? INT32_MAX : (int)found;
}

bool groupaddr_conflict_loser(const struct groupaddr_conflict *c, const char *node_id)
{
  return strcmp(node_id, c->node_a) == 0 ? false : strcmp(node_id, c->node_b) == 0;
}
