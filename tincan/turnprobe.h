/* A TURN probe: when a link's ICE run failed, or gathering brought no
 * relayed candidate, ask the link's TURN server ourselves what is wrong.
 * libnice keeps the server's answers to itself; the probe repeats what its
 * TURN client did, over its own UDP socket (connect()ed to the server, so
 * only the server's datagrams arrive), and says in one sentence how far it
 * got and the server's error code where it refused:
 *
 *   Allocate (no credentials) -> 401 with realm and nonce
 *   Allocate (long-term credentials)   -> relayed address, or e.g. 401, 486
 *   CreatePermission, one per peer address -> ok, or e.g. 403, 400
 *   Refresh with lifetime 0 (frees the allocation; not waited for)
 *
 * A stale nonce (438) is taken once per request.  Each request is sent up
 * to 3 times (500 ms, 1 s, 1 s); a server that never answers is named
 * unreachable.  Over UDP only, whatever the overlay's TURN transport (the
 * sentence says so).  Answers must carry our transaction id, and
 * MESSAGE-INTEGRITY where present must verify. */
#ifndef IPOP_TINCAN_TURNPROBE_H
#define IPOP_TINCAN_TURNPROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "messages.h"
#include "stun.h"

enum {
  TC_PROBE_PEERS = 4,               /* peer addresses asked a permission for */
  TC_PROBE_TRIES = 3,
};

enum tc_probe_step { TC_PROBE_ALLOC, TC_PROBE_PERM, TC_PROBE_DONE };

/* Flags, one word. */
enum {
  TC_PROBE_AUTH = 1 << 0,           /* realm, nonce and key known */
  TC_PROBE_RENONCED = 1 << 1,       /* 438 taken for the current request */
  TC_PROBE_POLLING = 1 << 2,        /* poll handle initialised */
  TC_PROBE_TIMING = 1 << 3,         /* timer initialised */
  TC_PROBE_ALLOCATED = 1 << 4,      /* free the allocation at the end */
};

/* result: one sentence, e.g. "allocation refused: 401 Unauthorized (wrong
 * username or password)", or "allocation ok (198.18.0.100:49152);
 * permission for 198.19.2.10 refused: 403 Forbidden (...)". */
typedef void (*tc_probe_done_fn)(void *arg, const char *result);

struct tc_turnprobe {
  enum tc_probe_step step;
  unsigned flags;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  char server_text[CTL_HOSTPORT_LEN];
  char user[CTL_USER_LEN];
  char password[CTL_PASSWORD_LEN];  /* until the key is derived; wiped */
  char realm[TC_STUN_TEXT], nonce[TC_STUN_TEXT];
  uint8_t key[TC_STUN_KEY];
  struct sockaddr_storage peers[TC_PROBE_PEERS];
  unsigned n_peers, peer;           /* peer: the permission being asked */
  uint8_t txid[TC_STUN_TXID];
  uint8_t req[512];
  size_t req_len;
  unsigned tries;
  char result[CTL_REASON_LEN];
  size_t result_len;
  tc_probe_done_fn done;
  void *arg;
};

/* Start probing server ts for permissions to peers (n of them; more than
 * TC_PROBE_PEERS are ignored).  0, or an error (no socket) with nothing to
 * close. */
int tc_turnprobe_start(struct tc_turnprobe *t, uv_loop_t *loop, const struct ctl_turn_server *ts,
                       const struct sockaddr_storage *peers, unsigned n, tc_probe_done_fn done,
                       void *arg);
/* Stop (done is not called); returns how many libuv handles are closing
 * (cb runs for each, with handle->data = handle_data). */
int tc_turnprobe_close(struct tc_turnprobe *t, uv_close_cb cb, void *handle_data);

#endif
