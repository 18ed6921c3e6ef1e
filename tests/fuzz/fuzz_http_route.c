/* fuzz_http_route: method, path and Host of an HTTP request (after
 * libmicrohttpd parsed it) into http_route(), and label values into the
 * Prometheus text writer: no crash, a known status, one line per sample. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_route.h"
#include "promtext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* three NUL-separated strings: method, path, host */
  char *buf = malloc(size + 3);
  if (!buf)
    return 0;
  memcpy(buf, data, size);
  buf[size] = buf[size + 1] = buf[size + 2] = '\0';
  const char *method = buf;
  const char *path = method + strlen(method) + 1;
  const char *host = path <= buf + size ? path + strlen(path) + 1 : buf + size + 2;
  if (host > buf + size + 2)
    host = buf + size + 2;
  struct http_answer a;
  http_route(method, path, host[0] ? host : NULL, size & 1, &a);
  if (a.status != 200 && a.status != 400 && a.status != 404 && a.status != 405 &&
      a.status != 421)
    abort();
  if (a.status == 200 && a.target == HTTP_T_ASSET && a.asset >= http_assets_count)
    abort();
  struct promtext p = { 0 };
  struct prom_label l = { .name = "peer_jid", .value = path };
  promtext_u64(&p, "ipop_link_up", &l, 1, 1);
  size_t len;
  char *s = promtext_take(&p, &len);
  if (s && (memchr(s, '\n', len) != s + len - 1))
    abort(); /* a value broke out of its line */
  free(s);
  free(buf);
  return 0;
}
