/* Helpers shared by the policy tests: a deterministic RNG, temp dirs, files. */
#ifndef IPOP_POLICY_TEST_H
#define IPOP_POLICY_TEST_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

/* xorshift64*: deterministic, seedable. */
struct pt_rng {
  uint64_t seed;
  unsigned calls;
};

static inline int pt_rand(void *ctx, void *buf, size_t len)
{
  struct pt_rng *r = ctx;
  uint8_t *b = buf;
  r->calls++;
  for (size_t i = 0; i < len; i++) {
    uint64_t x = r->seed ? r->seed : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->seed = x;
    b[i] = (uint8_t)((x * 0x2545f4914f6cdd1dull) >> 56);
  }
  return 0;
}

static inline int pt_rand_fail(void *ctx, void *buf, size_t len)
{
  (void)ctx;
  (void)buf;
  (void)len;
  return IPOP_ECRYPTO;
}

/* Always the same bytes: for exact schedules. */
static inline int pt_rand_const(void *ctx, void *buf, size_t len)
{
  memset(buf, ctx ? *(uint8_t *)ctx : 0, len);
  return 0;
}

static inline void pt_tmpdir(char dir[64])
{
  snprintf(dir, 64, "/tmp/ipop-policy-XXXXXX");
  if (!mkdtemp(dir))
    abort();
}

static inline int pt__rm(const char *p, const struct stat *s, int f, struct FTW *w)
{
  (void)s;
  (void)f;
  (void)w;
  return remove(p);
}

static inline void pt_rmtree(const char *dir)
{
  nftw(dir, pt__rm, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void pt_write(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f)
    abort();
  fputs(text, f);
  fclose(f);
}

/* Whole file as a heap string (NULL if it cannot be read). */
static inline char *pt_slurp(const char *path)
{
  FILE *f = fopen(path, "r");
  if (!f)
    return NULL;
  size_t cap = 1 << 20, n;
  char *buf = malloc(cap + 1);
  n = fread(buf, 1, cap, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

#endif
