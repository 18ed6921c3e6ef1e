/* A link's path: how its datagrams reach the peer.  It starts as a libnice
 * ICE agent (one stream, one component; full ICE, our random ufrag/pwd,
 * host candidates on real interfaces only, one STUN and one TURN server
 * picked per link).  Once the link is up on a direct pair (host, srflx,
 * prflx) and ICE has settled (READY), the selected UDP socket is taken over
 * from libnice: dup'ed, watched with a uv_poll, read with recvmmsg + UDP
 * GRO and written with sendmmsg + UDP GSO to the peer's address, and the
 * agent is freed.
 *
 * A relayed pair (our end is the relayed candidate of a TURN-over-UDP
 * allocation) is taken over the same way: the socket libnice made the
 * allocation from (its relayed candidate's base) is dup'ed, libnice's own
 * descriptor is pointed at a dead socket so that freeing the agent cannot
 * delete the allocation, and tincan's TURN client (turnchan.h) binds a
 * channel and keeps channel and allocation refreshed.  Datagrams then go
 * to the TURN server as ChannelData (4 bytes in the headroom of each queue
 * row, so GSO still sees equal segments) and come back the same way,
 * checked by the client.  TURN over TCP/TLS stays on libnice.
 *
 * Roaming: the socket is not connect()ed, so datagrams from a new source
 * address reach us (the peer's NAT rebound, or it moved).  The path only
 * notes such a source (tc_path_rx_moved); the link adopts it with
 * tc_path_roam once the datagram opened as a record of the session (the
 * AEAD and the replay window vouch for it), as WireGuard does.
 *
 *   ICE ----(tc_path_takeover: direct pair, READY)----> SOCKET
 *    \--------------------- tc_path_close -----------------> CLOSED
 *
 * The path moves bytes only: what it receives goes to ops->recv, one
 * datagram at a time; what to send comes from the caller (the session for
 * DTLS, the dataplane for records), either at once (tc_path_send) or
 * queued in the path's batch (tc_path_tx_slot/commit) until
 * tc_path_flush. */
#ifndef IPOP_TINCAN_PATH_H
#define IPOP_TINCAN_PATH_H

#include <nice/agent.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "gloop.h"
#include "messages.h"

enum {
  /* Largest datagram a link sends: fits a 1500-byte path over IPv6
   * (40 + 8) and through a TURN relay (36), with 0 to spare. */
  TC_PATH_DGRAM_MAX = 1416,
  TC_PATH_HEADROOM = 4,             /* room for a ChannelData header */
  TC_PATH_BATCH = 64,               /* datagrams queued before a sendmmsg */
  TC_PATH_RX_MSGS = 16,             /* recvmmsg buffers per call */
  TC_PATH_RX_BUF = 65536,           /* each: up to 64 KiB of GRO'd datagrams */
  TC_PATH_SOCKET_BUFFER = 4 << 20,  /* SO_RCVBUF/SO_SNDBUF of a link socket */
};

enum tc_path_mode {
  TC_PATH_ICE,                      /* libnice agent */
  TC_PATH_SOCKET,                   /* taken-over socket, agent freed */
  TC_PATH_CLOSED,
};

/* State flags, one word. */
enum {
  TC_PATH_GATHERED = 1 << 0,        /* candidate gathering done */
  TC_PATH_REMOTE = 1 << 1,          /* peer credentials and candidates set */
  TC_PATH_NO_GSO = 1 << 2,          /* the kernel refused UDP_SEGMENT once */
  TC_PATH_POLLING = 1 << 3,         /* poll handle initialised (close it) */
  TC_PATH_KEEP_ICE = 1 << 4,        /* a relayed pair that cannot be taken over */
  TC_PATH_BUFFERED = 1 << 5,        /* the selected socket got its big buffers */
};

/* Receive buffers shared by every taken-over socket of the daemon (part of
 * the dataplane context, dataplane.h). */
struct tc_path_io {
  uint8_t rx[TC_PATH_RX_MSGS][TC_PATH_RX_BUF];
  struct sockaddr_storage rx_name[TC_PATH_RX_MSGS];
  uint8_t rx_ctrl[TC_PATH_RX_MSGS][CMSG_SPACE(sizeof(int))];
  uint8_t tx_ctrl[TC_PATH_BATCH][CMSG_SPACE(sizeof(uint16_t))];
};

/* path: which of the owner's paths calls (a link may have two, paths.h). */
struct tc_path;
struct tc_path_ops {
  void (*recv)(void *arg, struct tc_path *path, const uint8_t *p, size_t n); /* one datagram */
  void (*burst_end)(void *arg);                         /* after a socket read burst */
  void (*gathered)(void *arg, struct tc_path *path);    /* candidates complete */
  void (*ice_state)(void *arg, struct tc_path *path, NiceComponentState st);
};

/* What a path needs from its overlay and daemon. */
struct tc_path_config {
  uv_loop_t *loop;
  GMainContext *gctx;
  struct tc_gloop *gloop;
  struct tc_path_io *io;
  bool controlling;                 /* ICE role (the DTLS client) */
  const char (*stun)[CTL_HOSTPORT_LEN];
  uint32_t n_stun;
  const struct ctl_turn_server *turn;
  uint32_t n_turn;
  int relay;                        /* enum ctl_relay_policy */
  /* ICE nomination: aggressive (the link's first path) or regular (the
   * in-band paths of paths.c).  docs/tincan.md, ICE. */
  bool aggressive;
  /* Interfaces never used for host candidates (our TAPs). */
  bool (*skip_ifname)(void *ctx, const char *ifname);
  void *skip_ctx;
};

struct tc_path_txq;
struct tc_turnchan;

struct tc_path {
  enum tc_path_mode mode;
  unsigned flags;
  bool controlling;
  int relay;                        /* enum ctl_relay_policy */
  NiceAgent *agent;
  guint stream;
  gulong sig_gather, sig_state;
  int fd;                           /* SOCKET mode */
  uv_poll_t poll;
  struct tc_path_txq *txq;
  struct tc_turnchan *tchan;        /* SOCKET mode on a relayed pair, else NULL */
  struct tc_path_io *io;
  struct tc_gloop *gloop;
  GMainContext *gctx;
  uv_loop_t *loop;
  int pair_type;                    /* enum ctl_pair_type, kept at take-over */
  struct sockaddr_storage peer;     /* SOCKET mode: where datagrams go */
  const struct sockaddr_storage *rx_from; /* source of the datagram being delivered, if not peer */
  uint64_t roams;                   /* times the peer's address changed */
  uint64_t last_pong_ms;            /* the owner's: last answer to a ping sent by this path */
  uint64_t connected_ms;            /* the owner's: when it first saw the agent CONNECTED */
  char local_addr[CTL_HOSTPORT_LEN], remote_addr[CTL_HOSTPORT_LEN];
  char stun_used[CTL_HOSTPORT_LEN], turn_used[CTL_HOSTPORT_LEN];
  const struct ctl_turn_server *turn; /* the one picked (the overlay's), NULL if none */
  uint64_t drops;                   /* datagrams the kernel or libnice refused */
  const struct tc_path_ops *ops;
  void *arg;
};

/* Create the ICE agent and start gathering.  why: a sentence on failure. */
int tc_path_init(struct tc_path *p, const struct tc_path_config *cfg,
                 const struct tc_path_ops *ops, void *arg, char *why, size_t whylen);
/* Our ufrag, pwd and candidates (the other fields of c are the caller's). */
void tc_path_local(struct tc_path *p, struct ctl_candidates *c);
/* TURN configured but no relayed candidate: the reason, else "" . */
void tc_path_turn_problem(struct tc_path *p, char *why, size_t whylen);
/* The peer's credentials and candidates (create_link); role: enum
 * ctl_ice_role.  Errors name the field. */
int tc_path_connect(struct tc_path *p, const struct ctl_create_link *r, char *why,
                    size_t whylen);
NiceComponentState tc_path_ice_state(struct tc_path *p);
/* ICE's final role (it may have resolved a conflict). */
bool tc_path_ice_controlling(struct tc_path *p);
/* Give the selected socket a few MiB of buffers (direct pairs). */
void tc_path_enlarge_buffers(struct tc_path *p);
/* Move the selected pair onto its own socket once ICE is READY (or, with
 * connected, once it is CONNECTED: the caller knows the peer no longer
 * needs our agent); true if the path is (now) in SOCKET mode.  Never from
 * inside a libnice callback (it frees the agent). */
bool tc_path_takeover(struct tc_path *p, bool connected);

/* TURN retransmissions and refreshes of a taken-over relayed path (every
 * tick); true if its TURN client has a new error (tc_path_turn_error). */
bool tc_path_tick(struct tc_path *p, uint64_t now);
const char *tc_path_turn_error(const struct tc_path *p);
/* The channel a taken-over relayed path sends on (0 if none), and the
 * datagrams its TURN client dropped (not from the server, wrong channel,
 * bad length, another peer, junk). */
unsigned tc_path_turn_channel(const struct tc_path *p);
uint64_t tc_path_turn_dropped(const struct tc_path *p);

/* Send one datagram now. */
void tc_path_send(struct tc_path *p, const uint8_t *d, size_t n);
/* Queue: a buffer of TC_PATH_DGRAM_MAX bytes for the next datagram (NULL if
 * the path does not batch: seal elsewhere and tc_path_send), then commit
 * its length. */
uint8_t *tc_path_tx_slot(struct tc_path *p);
void tc_path_tx_commit(struct tc_path *p, size_t n);
/* Send what is queued. */
void tc_path_flush(struct tc_path *p);

/* Inside ops->recv: did the datagram come from another address than the
 * peer's?  Then, once it authenticated, tc_path_roam sends there from now
 * on (SOCKET mode). */
static inline bool tc_path_rx_moved(const struct tc_path *p)
{
  return p->rx_from != NULL;
}
void tc_path_roam(struct tc_path *p);

/* Our and the peer's candidates, "type address" (ICE mode only). */
void tc_path_candidates(struct tc_path *p, struct ctl_link_stat *s);
/* The peer's candidate addresses (ICE mode): how many, at most max. */
unsigned tc_path_remote_addrs(struct tc_path *p, struct sockaddr_storage *out, unsigned max);

/* Pair type and addresses for the stats. */
void tc_path_stat(struct tc_path *p, int *pair_type, char *local, char *remote, size_t len);
/* Free the agent, close the socket; returns how many libuv handles are
 * closing (cb runs for each). */
int tc_path_close(struct tc_path *p, uv_close_cb cb, void *handle_data);

#endif
