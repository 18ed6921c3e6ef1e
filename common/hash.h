/* FNV-1a (32 bit), for hash tables keyed by ids and JIDs. */
#ifndef IPOP_HASH_H
#define IPOP_HASH_H

#include <stdint.h>

#define IPOP_FNV1A_INIT 2166136261u

static inline uint32_t ipop_fnv1a_add(uint32_t h, uint8_t byte)
{
  return (h ^ byte) * 16777619u;
}

static inline uint32_t ipop_fnv1a(const char *s)
{
  uint32_t h = IPOP_FNV1A_INIT;
  for (; *s; s++)
    h = ipop_fnv1a_add(h, (uint8_t)*s);
  return h;
}

#endif
