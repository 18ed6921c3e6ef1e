#include "backoff.h"

#include "secret.h"

uint32_t xmpp_rand_default(void *ctx)
{
  uint32_t v = 0;
  if (ipop_random_bytes(&v, sizeof(v)) != 0)
    v = 0x9e3779b9u;  /* jitter only; never security relevant */
  return v;
}

void xmpp_backoff_init(struct xmpp_backoff *b, uint32_t base_ms,
                       uint32_t max_ms, xmpp_rand_fn rnd, void *rnd_ctx)
{
  b->attempt = 0;
  b->base_ms = base_ms ? base_ms : 1;
  b->max_ms = max_ms < b->base_ms ? b->base_ms : max_ms;
  b->rnd = rnd ? rnd : xmpp_rand_default;
  b->rnd_ctx = rnd_ctx;
}

uint32_t xmpp_backoff_next(struct xmpp_backoff *b)
{
  uint64_t cap = b->base_ms;
  for (uint32_t i = 0; i < b->attempt && cap < b->max_ms; i++)
    cap *= 2;
  if (cap > b->max_ms)
    cap = b->max_ms;
  else if (b->attempt < 64)
    b->attempt++;
  uint64_t half = cap / 2;
  return (uint32_t)(cap - half + b->rnd(b->rnd_ctx) % (half + 1));
}

void xmpp_backoff_reset(struct xmpp_backoff *b)
{
  b->attempt = 0;
}
