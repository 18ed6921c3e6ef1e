/* libFuzzer target for DNS SRV answers (controller/xmpp/srv.c): the bytes
 * a resolver hands back for _xmpp-client._tcp.DOMAIN, which an attacker
 * on the path (or the domain's owner) chooses.  The records found must
 * be at most as many as asked for, with terminated targets, in priority
 * order.  Nothing may crash or read outside the answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 65535)
    return 0;
  /* An exact copy, so that ASan sees a read past its end. */
  unsigned char *ans = malloc(size ? size : 1);
  if (!ans)
    return 0;
  memcpy(ans, data, size);
  struct xmpp_srv srvs[8];
  int n = xmpp_srv_parse(ans, (int)size, srvs, 8);
  if (n < -1 || n > 8)
    abort();
  for (int i = 0; i < n; i++) {
    if (memchr(srvs[i].target, '\0', sizeof(srvs[i].target)) == NULL)
      abort();
    if (i && (srvs[i].prio < srvs[i - 1].prio ||
              (srvs[i].prio == srvs[i - 1].prio &&
               srvs[i].weight > srvs[i - 1].weight)))
      abort();
  }
  free(ans);
  return 0;
}
