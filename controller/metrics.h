/* metrics and the map's data, rendered from the controller's state on its
 * event loop (http.c hands the text to the HTTP thread). */
#ifndef IPOP_CTRL_METRICS_H
#define IPOP_CTRL_METRICS_H

#include <stddef.h>

#include "controller.h"

/* The Prometheus text of /metrics (docs/metrics.md lists the families).
 * tincan: its process numbers from query_process, NULL if unknown.
 * malloc'd; NULL when out of memory. */
char *ctrl_metrics_render(struct ctrl *c, const struct ctl_process_info *tincan, size_t *len);

/* The JSON of /api/map: this node and, for each overlay, the members it
 * knows and its own links.  malloc'd; NULL when out of memory. */
char *ctrl_map_render(struct ctrl *c, size_t *len);

/* The name the overlay map and the metrics give the kind of a net. */
const char *ctrl_net_kind_name(const struct ctrl_net *n);

#endif
