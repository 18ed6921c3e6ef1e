/* Shared by the addrmap tests: an independent reference for the Internet
 * checksum (RFC 1071), so translated packets are checked by a full
 * recomputation rather than by the code under test, and the usual
 * fixture's teardown. */
#ifndef IPOP_TEST_ADDRMAP_REF_H
#define IPOP_TEST_ADDRMAP_REF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* One's complement sum of p[0..n) as big-endian words, starting from pre. */
static inline uint16_t ref_sum(const uint8_t *p, size_t n, uint32_t pre)
{
  uint64_t sum = pre;
  for (size_t i = 0; i < n; i += 2)
    sum += (uint32_t)(p[i] << 8) | (i + 1 < n ? p[i + 1] : 0);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)sum;
}

static inline int teardown(void **state)
{
  free(*state);
  return 0;
}

#endif
