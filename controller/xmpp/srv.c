#include "srv.h"

#include <arpa/nameser.h>
#include <resolv.h>
#include <stdlib.h>
#include <string.h>

static int srv_cmp(const void *a, const void *b)
{
  const struct xmpp_srv *x = a, *y = b;
  if (x->prio != y->prio)
    return x->prio - y->prio;
  return y->weight - x->weight;
}

int xmpp_srv_parse(const unsigned char *ans, int len, struct xmpp_srv *out,
                   size_t max)
{
  ns_msg msg;
  size_t n = 0;
  if (len <= 0 || ns_initparse(ans, len, &msg) != 0)
    return 0;
  int cnt = ns_msg_count(msg, ns_s_an);
  for (int i = 0; i < cnt && n < max; i++) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv ||
        ns_rr_rdlen(rr) < 7)
      continue;
    const unsigned char *rd = ns_rr_rdata(rr);
    struct xmpp_srv *s = &out[n];
    s->prio = ns_get16(rd);
    s->weight = ns_get16(rd + 2);
    s->port = ns_get16(rd + 4);
    /* The target must lie inside the record's own data. */
    if (dn_expand(ns_msg_base(msg), rd + ns_rr_rdlen(rr), rd + 6, s->target,
                  sizeof(s->target)) < 0)
      continue;
    n++;
  }
  /* glibc expands the root name to "" (others to "."). */
  if (n == 1 && (!out[0].target[0] || strcmp(out[0].target, ".") == 0))
    return -1;
  qsort(out, n, sizeof(out[0]), srv_cmp);
  return (int)n;
}
