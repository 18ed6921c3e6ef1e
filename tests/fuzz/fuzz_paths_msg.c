/* libFuzzer harness for the in-band path messages (record kind 8,
 * tincan/paths.h): the text of an offer or answer a peer sends inside an
 * authenticated record ("ufrag\npwd\ncandidate\n..."), parsed by
 * tc_paths_parse, and each candidate line it accepts then given to
 * libnice's SDP candidate parser exactly as tc_path_connect does.
 *
 * Besides memory errors it checks what the parser promises: on success
 * ufrag (4..) and pwd (22..) are terminated ICE characters, 1..CTL_MAX_CANDS
 * candidates, each terminated, starting "candidate:", without a newline;
 * on failure nothing outside r was touched (r stays within its bounds). */
#include <nice/agent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "validate.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static NiceAgent *agent;
static guint stream;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!agent) {
    agent = nice_agent_new(g_main_context_new(), NICE_COMPATIBILITY_RFC5245);
    stream = nice_agent_add_stream(agent, 1);
    CHECK(agent && stream);
  }
  static struct ctl_create_link r;
  memset(&r, 0, sizeof r);
  if (!tc_paths_parse(data, size, &r))
    return 0;
  size_t ul = strnlen(r.peer_ufrag, sizeof r.peer_ufrag);
  size_t pl = strnlen(r.peer_pwd, sizeof r.peer_pwd);
  CHECK(ul >= 4 && ul < sizeof r.peer_ufrag && pl >= 22 && pl < sizeof r.peer_pwd);
  CHECK(tc_valid_ice_chars(r.peer_ufrag) == 0 && tc_valid_ice_chars(r.peer_pwd) == 0);
  CHECK(r.n_peer_candidates >= 1 && r.n_peer_candidates <= CTL_MAX_CANDS);
  for (uint32_t i = 0; i < r.n_peer_candidates; i++) {
    const char *c = r.peer_candidates[i];
    size_t n = strnlen(c, CTL_CAND_LEN);
    CHECK(n < CTL_CAND_LEN && strncmp(c, "candidate:", 10) == 0 && !memchr(c, '\n', n));
    char line[CTL_CAND_LEN + 3];
    snprintf(line, sizeof line, "a=%s", c);
    NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp(agent, stream, line);
    if (nc)
      nice_candidate_free(nc);
  }
  return 0;
}
