#include "policy.h"

#include <stdio.h>

#include "error.h"
#include "secret.h"

int policy_rand_os(void *ctx, void *buf, size_t len)
{
  (void)ctx;
  return ipop_random_bytes(buf, len);
}

uint32_t policy_rand_u32(policy_rand_fn fn, void *ctx)
{
  uint32_t v = 0;
  if (fn(ctx, &v, sizeof v))
    return 0;
  return v;
}
