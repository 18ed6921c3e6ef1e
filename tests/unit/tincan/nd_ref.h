/* Shared by the Neighbor Discovery tests (test_nd.c, test_tc_fwd.c): a
 * Neighbor Solicitation built as spec says, its ICMPv6 checksum from the
 * independent reference in addrmap_ref.h. */
#ifndef IPOP_TEST_ND_REF_H
#define IPOP_TEST_ND_REF_H

#include <stdbool.h>
#include <string.h>

#include "addrmap_ref.h"

struct ns_spec {
  const uint8_t *src, *dst, *target;
  uint8_t hops, code;
  const uint8_t *smac, *dmac; /* Ethernet source; destination if unicast */
  const uint8_t *opts;     /* options behind the target */
  size_t n_opts;
  size_t icmp_len;         /* 0: 24 + n_opts */
  bool bad_csum;
};

static inline uint16_t pseudo_sum(const uint8_t *src, const uint8_t *dst, size_t len)
{
  uint8_t ph[40] = { 0 };
  memcpy(ph, src, 16);
  memcpy(ph + 16, dst, 16);
  ph[34] = (uint8_t)(len >> 8);
  ph[35] = (uint8_t)len;
  ph[39] = 58;
  return ref_sum(ph, 40, 0);
}

/* A solicitation from our host's kernel as spec says; the frame's length. */
static inline size_t ns_build(uint8_t *f, const struct ns_spec *s)
{
  uint8_t mc[6] = { 0x33, 0x33, s->dst[12], s->dst[13], s->dst[14], s->dst[15] };
  memcpy(f, s->dst[0] == 0xff ? mc : s->dmac, 6);
  memcpy(f + 6, s->smac, 6);
  f[12] = 0x86;
  f[13] = 0xdd;
  uint8_t *ip = f + 14;
  size_t len = s->icmp_len ? s->icmp_len : 24 + s->n_opts;
  memset(ip, 0, 40 + 24 + s->n_opts);
  ip[0] = 0x60;
  ip[4] = (uint8_t)(len >> 8);
  ip[5] = (uint8_t)len;
  ip[6] = 58;
  ip[7] = s->hops;
  memcpy(ip + 8, s->src, 16);
  memcpy(ip + 24, s->dst, 16);
  uint8_t *m = ip + 40;
  m[0] = 135;
  m[1] = s->code;
  memcpy(m + 8, s->target, 16);
  memcpy(m + 24, s->opts, s->n_opts);
  uint16_t c = (uint16_t)~ref_sum(m, len, pseudo_sum(s->src, s->dst, len));
  if (s->bad_csum)
    c ^= 0x0100;
  m[2] = (uint8_t)(c >> 8);
  m[3] = (uint8_t)c;
  return 14 + 40 + (24 + s->n_opts > len ? 24 + s->n_opts : len);
}

#endif
