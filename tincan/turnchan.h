/* The TURN client of a relayed path that tincan took over (path.h).
 *
 * libnice gathers the relayed candidate (its Allocate) and runs ICE over
 * it.  Once ICE is READY on a pair whose local end is our relayed
 * candidate (TURN over UDP), the path takes libnice's UDP socket that owns
 * the allocation (the allocation is bound to that socket's 5-tuple), and
 * from then on tincan speaks to the TURN server itself:
 *
 *   ChannelBind(channel, peer)  at once, then every TC_TURN_REFRESH_MS
 *                               (keeps the channel, 600 s, and the
 *                               permission, 300 s)
 *   Refresh(lifetime 600)       at once, then every TC_TURN_REFRESH_MS
 *   data out                    ChannelData once the channel is bound, a
 *                               Send indication before
 *   data in                     ChannelData on our channel, or a Data
 *                               indication from the peer's address
 *
 * Channel numbers: libnice bound the lowest free one (0x4000 up) to the
 * selected peer when it selected the pair; a peer bound to another number
 * makes the server answer 400, so the client tries 0x4000.. in turn and
 * keeps the first the server accepts (RFC 8656 12.1: re-binding the same
 * number to the same peer refreshes it).
 *
 * Everything arriving on the socket is checked (tc_turnchan_classify, pure):
 * only the server's address may speak, ChannelData must be on our channel
 * with a length that fits the datagram (at most 3 bytes of padding after
 * it) and a record-sized payload, STUN must parse; the rest is dropped and
 * counted.  Answers must carry the pending request's transaction id, and a
 * success must carry a MESSAGE-INTEGRITY that verifies. */
#ifndef IPOP_TINCAN_TURNCHAN_H
#define IPOP_TINCAN_TURNCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "messages.h"
#include "stun.h"

enum {
  TC_TURN_REFRESH_MS = 240000,      /* channel and allocation refreshed every 4 min */
  TC_TURN_LIFETIME_S = 600,         /* asked for at each Refresh */
  TC_TURN_RTO_MS = 500,             /* first retransmission; doubles */
  TC_TURN_TRIES = 6,                /* sends of one request (~31 s) */
  TC_TURN_CHANNELS = 8,             /* channel numbers tried from 0x4000 */
  TC_TURN_PAYLOAD_MAX = 1416,       /* largest datagram a link sends (path.h) */
  TC_TURN_REQ = 512,
};

/* What a datagram on the relayed path's socket is. */
enum tc_turn_verdict {
  TC_TURN_DATA,                     /* the peer's data: *data, *len */
  TC_TURN_STUN,                     /* a STUN message from the server (answers) */
  TC_TURN_FORGED,                   /* not from the TURN server's address */
  TC_TURN_BAD_CHANNEL,              /* ChannelData on a channel not ours */
  TC_TURN_BAD_LENGTH,               /* length beyond the datagram, empty, too much padding, oversized */
  TC_TURN_BAD_PEER,                 /* a Data indication from another peer address */
  TC_TURN_JUNK,                     /* neither ChannelData nor STUN */
};

/* Flags, one word. */
enum {
  TC_TURN_BOUND = 1 << 0,           /* channel bound: data goes as ChannelData */
  TC_TURN_AUTH = 1 << 1,            /* realm, nonce and key known */
  TC_TURN_RENONCED = 1 << 2,        /* a 438 taken for the pending request */
  TC_TURN_ERROR_NEW = 1 << 3,       /* error changed since tc_turnchan_tick last said */
};

struct tc_turnchan {
  unsigned flags;
  int fd;                           /* the path's (not owned) */
  struct sockaddr_storage server, peer;
  uint16_t channel;                 /* bound, or being tried */
  const struct ctl_turn_server *ts; /* the overlay's: user, password */
  char realm[TC_STUN_TEXT], nonce[TC_STUN_TEXT];
  uint8_t key[TC_STUN_KEY];
  uint16_t method;                  /* pending request, 0 if none */
  uint8_t txid[TC_STUN_TXID];
  uint8_t req[TC_TURN_REQ];
  size_t req_len;
  unsigned tries;
  uint64_t resend_ms, bind_ms, refresh_ms; /* when to resend / bind again / refresh again */
  uint64_t dropped[TC_TURN_JUNK + 1]; /* per verdict (DATA and STUN unused) */
  uint64_t binds, refreshes;        /* successes */
  char error[CTL_REASON_LEN];       /* the last refusal, "" if none */
};

/* Classify one datagram from `from` (pure).  TC_TURN_DATA sets data/len. */
enum tc_turn_verdict tc_turnchan_classify(const struct tc_turnchan *t, const uint8_t *d,
                                          size_t n, const struct sockaddr *from,
                                          const uint8_t **data, size_t *len);
/* Start on fd (the socket of the allocation) for peer; sends the first
 * ChannelBind.  IPOP_EINVAL if the server address does not parse. */
int tc_turnchan_start(struct tc_turnchan *t, int fd, const struct ctl_turn_server *ts,
                      const struct sockaddr *peer, uint64_t now);
/* One datagram read from the socket: the peer's data (returns true with
 * data/len), or handled / dropped and counted here. */
bool tc_turnchan_input(struct tc_turnchan *t, const uint8_t *d, size_t n,
                       const struct sockaddr *from, uint64_t now, const uint8_t **data,
                       size_t *len);
/* Retransmissions and refreshes; true if t->error changed since last time. */
bool tc_turnchan_tick(struct tc_turnchan *t, uint64_t now);
/* Before the channel is bound: the data as a Send indication in out (cap
 * bytes); its length, or 0. */
size_t tc_turnchan_send_ind(const struct tc_turnchan *t, const uint8_t *d, size_t n,
                            uint8_t *out, size_t cap);
uint64_t tc_turnchan_dropped(const struct tc_turnchan *t);
/* Free the allocation (a Refresh with lifetime 0, not waited for) and
 * forget the key. */
void tc_turnchan_stop(struct tc_turnchan *t);

#endif
