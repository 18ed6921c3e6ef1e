/* The controller's HTTP listener (Controller.Http.Listen): /metrics for
 * Prometheus, the overlay map page (/, /map.js, /map.css) and its data
 * (/api/map).  docs/metrics.md says what each serves. */
#ifndef IPOP_CTRL_HTTP_H
#define IPOP_CTRL_HTTP_H

#include <stddef.h>

#include "controller.h"

/* Start listening (nothing when Http.Listen is "").  0, or IPOP_E* with a
 * sentence in why (the address is taken, not ours...). */
int ctrl_http_start(struct ctrl *c, char *why, size_t whylen);
/* Stop: the HTTP thread is joined, the timer closed (c->http is NULL
 * afterwards; the rest is freed when the loop closes the timer). */
void ctrl_http_stop(struct ctrl *c);

#endif
