/* http_route: what the controller's HTTP listener answers to a request,
 * decided from its method, path and Host header alone.  Pure, so that the
 * unit tests and fuzz_http_route can drive it with hostile input; http.c
 * only carries out the answer. */
#ifndef IPOP_HTTP_ROUTE_H
#define IPOP_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

enum http_target {
  HTTP_T_METRICS,               /* /metrics: Prometheus text */
  HTTP_T_MAP_JSON,              /* /api/map: the map's data */
  HTTP_T_ASSET,                 /* /, /map.js, /map.css (asset index) */
};

struct http_answer {
  int status;                   /* 200, or the 4xx to send */
  enum http_target target;      /* (200 only) */
  size_t asset;                 /* HTTP_T_ASSET: index into http_assets[] */
  const char *why;              /* 4xx: one line for the body */
};

/* A file served from the binary (web_assets.c, generated at build time
 * from controller/web/). */
struct http_asset {
  const char *path;             /* "/", "/map.js" */
  const char *content_type;
  const unsigned char *data;
  size_t len;
};
extern const struct http_asset http_assets[];
extern const size_t http_assets_count;

/* method and path as the client sent them (path without the query);
 * host: the Host header or NULL.  loopback_only: the listener is on a
 * loopback address, so only a Host naming loopback is accepted (a DNS
 * rebinding page in the user's browser must not read the node's data). */
void http_route(const char *method, const char *path, const char *host, bool loopback_only,
                struct http_answer *out);

/* Is host ("name", "name:port", "[v6]:port") a loopback name or address? */
bool http_host_is_loopback(const char *host);

#endif
