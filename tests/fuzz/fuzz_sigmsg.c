/* libFuzzer target for the signaling payloads (controller/policy/sigmsg.c):
 * JSON from any contact, carried in <signal type=""/>.  Byte 0 picks the
 * type (the three message types, or an unknown one); the rest is the
 * payload.  A payload that decodes must encode again, and what it encodes
 * to must decode to the same message and encode to the same text (no
 * field is lost or changed on the way).  An error must name a field or
 * say what is wrong.  Nothing may crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sigmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char *const types[] = { "link_request", "link_response",
                                       "link_cancel", "link_bogus" };
  if (size < 1)
    return 0;
  const char *type = types[data[0] & 3];
  struct sigmsg m;
  struct jb_error err;
  memset(&err, 0, sizeof(err));
  int r = sigmsg_decode(type, (const char *)data + 1, size - 1, &m, &err);
  if (r != 0) {
    if (!err.msg[0] && !err.path[0])
      abort();
    return 0;
  }
  const char *t1 = NULL, *t2 = NULL;
  char *j1 = NULL, *j2 = NULL;
  if (sigmsg_encode(&m, &t1, &j1, &err) != 0 || strcmp(t1, type) != 0)
    abort();
  struct sigmsg m2;
  if (sigmsg_decode(t1, j1, strlen(j1), &m2, &err) != 0 ||
      sigmsg_encode(&m2, &t2, &j2, &err) != 0 || strcmp(j1, j2) != 0)
    abort();
  free(j1);
  free(j2);
  return 0;
}
