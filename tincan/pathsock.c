/* The socket of ICE's selected pair, for tc_path_takeover (pathsock.h). */
#include "pathsock.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stun.h"

/* libnice keeps the UDP socket a relayed candidate was allocated from to
 * itself (nice_agent_get_selected_socket answers NULL for relayed pairs),
 * but the candidate's base address is that socket's bound address: find
 * the descriptor among ours.  -1 if none. */
static int find_base_fd(const struct sockaddr *base)
{
  DIR *d = opendir("/proc/self/fd");
  if (!d)
    return -1;
  int found = -1, self = dirfd(d);
  struct dirent *e;
  while (found < 0 && (e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    int type = 0;
    socklen_t tl = sizeof type;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (*end || end == e->d_name || fd < 0 || fd == self)
      continue;
    if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM &&
        getsockname((int)fd, (struct sockaddr *)&ss, &sl) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
        tc_addr_eq((const struct sockaddr *)&ss, base))
      found = (int)fd;
  }
  closedir(d);
  return found;
}

/* The dup of the selected pair's socket (direct: libnice's selected
 * socket; relayed over UDP TURN: the allocation's socket, and *base its
 * descriptor in libnice), non-blocking, with the peer's address in
 * p->peer; -1 if ICE has not settled or the pair cannot be taken over.
 * Not connect()ed: the peer may roam (path.h). */
int tc_path_selected_socket(struct tc_path *p, int *base, bool connected)
{
  *base = -1;
  /* Only once ICE has settled on both sides (READY: nominated), so that
   * the peer's agent needs nothing more from ours; or CONNECTED when the
   * caller says the peer has moved on (tc_path_takeover). */
  NiceComponentState st = nice_agent_get_component_state(p->agent, p->stream, 1);
  if (st != NICE_COMPONENT_STATE_READY && !(connected && st == NICE_COMPONENT_STATE_CONNECTED))
    return -1;
  NiceCandidate *lc = NULL, *rc = NULL;
  if (!nice_agent_get_selected_pair(p->agent, p->stream, 1, &lc, &rc))
    return -1;
  struct sockaddr_storage peer;
  memset(&peer, 0, sizeof peer);
  nice_address_copy_to_sockaddr(&rc->addr, (struct sockaddr *)&peer);
  int fd = -1;
  if (lc->type == NICE_CANDIDATE_TYPE_RELAYED) {
    if (!p->turn || p->turn->transport != CTL_TURN_UDP || (p->flags & TC_PATH_KEEP_ICE))
      return -1; /* TURN over TCP/TLS: stays on libnice */
    struct sockaddr_storage b;
    memset(&b, 0, sizeof b);
    nice_address_copy_to_sockaddr(&lc->base_addr, (struct sockaddr *)&b);
    *base = find_base_fd((const struct sockaddr *)&b);
    if (*base < 0) {
      p->flags |= TC_PATH_KEEP_ICE;
      LOG_WARN("tincan", "relayed path: the TURN socket was not found; staying on libnice");
      return -1;
    }
    fd = fcntl(*base, F_DUPFD_CLOEXEC, 0);
  } else {
    GSocket *gs = nice_agent_get_selected_socket(p->agent, p->stream, 1);
    if (!gs)
      return -1;
    fd = fcntl(g_socket_get_fd(gs), F_DUPFD_CLOEXEC, 0);
    g_object_unref(gs);
  }
  if (fd < 0)
    return -1;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
    close(fd);
    return -1;
  }
  p->peer = peer;
  return fd;
}
