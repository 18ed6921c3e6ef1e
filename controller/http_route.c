/* http_route.h: methods, paths and the Host check. */
#include "http_route.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool http_host_is_loopback(const char *host)
{
  char h[256];
  size_t n = strlen(host);
  if (n == 0 || n >= sizeof h)
    return false;
  memcpy(h, host, n + 1);
  char *end;
  if (h[0] == '[') {
    end = strchr(h, ']');
    if (!end || (end[1] && end[1] != ':'))
      return false;
    *end = '\0';
    struct in6_addr a6;
    return inet_pton(AF_INET6, h + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
  }
  if ((end = strchr(h, ':')))
    *end = '\0';
  if (strcasecmp(h, "localhost") == 0)
    return true;
  struct in_addr a4;
  return inet_pton(AF_INET, h, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

static void refuse(struct http_answer *out, int status, const char *why)
{
  out->status = status;
  out->why = why;
}

void http_route(const char *method, const char *path, const char *host, bool loopback_only,
                struct http_answer *out)
{
  memset(out, 0, sizeof *out);
  if (!method || !path || path[0] != '/')
    return refuse(out, 400, "bad request target");
  if (loopback_only && host && !http_host_is_loopback(host))
    return refuse(out, 421, "this listener answers to a loopback Host only "
                            "(Controller.Http.Listen is a loopback address)");
  bool known = false;
  if (strcmp(path, "/metrics") == 0) {
    known = true;
    out->target = HTTP_T_METRICS;
  } else if (strcmp(path, "/api/map") == 0) {
    known = true;
    out->target = HTTP_T_MAP_JSON;
  } else {
    for (size_t i = 0; i < http_assets_count; i++)
      if (strcmp(path, http_assets[i].path) == 0) {
        known = true;
        out->target = HTTP_T_ASSET;
        out->asset = i;
      }
  }
  if (!known)
    return refuse(out, 404, "not found");
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
    return refuse(out, 405, "only GET and HEAD");
  out->status = 200;
}
