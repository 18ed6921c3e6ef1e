/* libFuzzer target for the routes signal a neighbour's controller sends
 * (policy/routemsg.h): what decodes must re-encode and decode to the same
 * message, and must be accepted or refused by the distance vector without
 * harm; the error of what does not decode names a field or the JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "routemsg.h"
#include "routing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct routemsg m, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct jb_error err = { 0 };
  if (routemsg_decode((const char *)data, size, &m, &err) != 0) {
    if (!err.msg[0])
      abort();
    return 0;
  }
  char *json = NULL;
  if (routemsg_encode(&m, &json, &err) != 0)
    abort();
  if (routemsg_decode(json, strlen(json), &again, &err) != 0 || again.n_routes != m.n_routes ||
      memcmp(again.routes, m.routes, m.n_routes * sizeof m.routes[0]) != 0)
    abort();
  free(json);
  /* the receiver: the sender is a member and a neighbour */
  struct routing *r;
  const char *members[2] = { m.from, m.n_routes > 1 ? m.routes[1].id : m.from };
  if (routing_create(&r, m.to) != 0)
    abort();
  if (routing_set_members(r, members, 2) == 0 && routing_link_up(r, m.from) == 0) {
    routing_on_vector(r, m.from, m.forwarding, m.routes, m.n_routes);
    if (routing_compute(r) < 0)
      abort();
  }
  routing_free(r);
  return 0;
}
