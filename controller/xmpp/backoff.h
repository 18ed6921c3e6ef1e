/* Reconnect schedule: exponential backoff with jitter.  Attempt n waits a
 * random time in [cap/2, cap] with cap = min(base * 2^n, max), so the first
 * retry comes after 0.5-1 s and later ones never exceed 5 minutes. */
#ifndef IPOP_XMPP_BACKOFF_H
#define IPOP_XMPP_BACKOFF_H

#include <stdint.h>

#include "xmpp.h"

struct xmpp_backoff {
  uint32_t attempt;
  uint32_t base_ms, max_ms;
  xmpp_rand_fn rnd;
  void *rnd_ctx;
};

void xmpp_backoff_init(struct xmpp_backoff *b, uint32_t base_ms,
                       uint32_t max_ms, xmpp_rand_fn rnd, void *rnd_ctx);
/* Delay before the next attempt, in ms; advances the schedule. */
uint32_t xmpp_backoff_next(struct xmpp_backoff *b);
void xmpp_backoff_reset(struct xmpp_backoff *b);
/* Default random source (OpenSSL). */
uint32_t xmpp_rand_default(void *ctx);

#endif
