/* A hostile member's dataplane for test_controller_forwarding.sh: the real
 * ipop-tincan (main.c and the library), linked with
 * -Wl,--wrap=tc_link_send_routed so that the frames it sends behind an
 * overlay header can be forged the way a member who controls its own
 * tincan would forge them.  What to forge is read, per frame, from the
 * file named by IPOP_FORGE_FILE (one line; absent or empty: honest):
 *
 *   hops N        hop limit N instead of TC_FWD_HOPS
 *   src ID        another member's node id as the source, and its MAC as
 *                 the frame's source MAC (from our own table)
 *   mac ID        our own id, but that member's MAC as the source MAC
 *   to ID         sent over the link to ID, not the table's next hop
 *
 * Test tool only: never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fwd.h"
#include "link.h"

int __real_tc_link_send_routed(struct tc_link *l, const uint8_t *hdr, const uint8_t *p, size_t n);
int __wrap_tc_link_send_routed(struct tc_link *l, const uint8_t *hdr, const uint8_t *p, size_t n);

int __wrap_tc_link_send_routed(struct tc_link *l, const uint8_t *hdr, const uint8_t *p, size_t n)
{
  const char *path = getenv("IPOP_FORGE_FILE");
  char line[128] = "", what[16] = "", arg[80] = "";
  FILE *f = path ? fopen(path, "r") : NULL;
  if (f) {
    if (!fgets(line, sizeof line, f))
      line[0] = '\0';
    fclose(f);
  }
  if (sscanf(line, "%15s %79s", what, arg) != 2 || n < 14 || n > 2048)
    return __real_tc_link_send_routed(l, hdr, p, n);
  uint8_t h[1 + TC_FWD_HDR], frame[2048];
  memcpy(h, hdr, sizeof h);
  memcpy(frame, p, n);
  uint8_t id[TC_FWD_ID];
  const struct tc_fwd_node *node = NULL;
  if (strcmp(what, "hops") == 0) {
    h[1] = (uint8_t)atoi(arg);
  } else if (tc_fwd_parse_id(arg, id) == 0 && (node = tc_fwd_by_id(&l->ov->fwd, id))) {
    if (strcmp(what, "src") == 0) {
      memcpy(h + 2, id, TC_FWD_ID);
      memcpy(frame + 6, node->mac, 6);
    } else if (strcmp(what, "mac") == 0) {
      memcpy(frame + 6, node->mac, 6);
    } else if (strcmp(what, "to") == 0) {
      struct tc_link *to = tc_link_find(l->ov, arg);
      if (to)
        l = to;
    }
  }
  fprintf(stderr, "forger: %s %.12s on a frame of %zu bytes\n", what, arg, n);
  return __real_tc_link_send_routed(l, h, frame, n);
}
