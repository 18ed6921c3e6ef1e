/* A link's paths over time: a link has up to two paths (path.h), slot 0
 * (the one the controller set up with query_candidates/create_link) and
 * slot 1, and records leave by one of them (tx); records arrive by both
 * and open with the same session, so changing paths needs no new DTLS
 * handshake and drops nothing that was not already lost.
 *
 * The link's initiator (the node whose id sorts first) sets up the other
 * slot in-band, with records of kind TC_DP_PATHS carrying an ICE offer and
 * answer (our ufrag, password and candidates), so that no controller or
 * XMPP round trip is needed:
 *   - upgrade: while records leave by a relayed pair (relay "auto"), try a
 *     direct-only path (no TURN) in the other slot every few seconds; once
 *     it is taken over (its own socket), it becomes tx;
 *   - standby: while records leave by a direct path and a TURN server is
 *     configured (relay "auto"), keep a relay-only path READY in the other
 *     slot;
 *   - fallback: when no ping sent by tx was answered for TC_PATHS_SILENT_MS
 *     (tx is pinged every tick once a pong is TC_PATHS_SUSPECT_MS overdue)
 *     while the other path answers, tx moves there (and back to a direct
 *     path when it answers again: a healed path cut).
 * Each side pings its non-tx path every second too, and a pong goes back
 * by the path its ping came by: a path whose pings were answered lately
 * works both ways (a one-way block is seen), and a standby is known to
 * work before it is needed.
 *
 *   in-band message: TC_DP_PATHS | op (1) | slot (1) | relay (1) | gen (BE 32)
 *                    | "ufrag\npwd\ncandidate\ncandidate..." (OFFER, ANSWER)
 *
 * Offers come only from the initiator; an offer for the slot the answerer
 * sends by is taken only if its other path works (it moves tx first); an
 * offer against the answerer's own relay policy for the link is ignored.
 * Everything in a message is checked as create_link's fields are; a bad
 * one is dropped and counted. */
#ifndef IPOP_TINCAN_PATHS_H
#define IPOP_TINCAN_PATHS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "path.h"

enum {
  TC_PATHS_OFFER = 1,
  TC_PATHS_ANSWER = 2,
  TC_PATHS_HDR = 8,
  TC_PATHS_SUSPECT_MS = 1200,       /* no pong on tx this long: ping it every tick */
  TC_PATHS_SILENT_MS = 2500,        /* no pong on tx this long (~6 pings): fall back */
  TC_PATHS_ALIVE_MS = 2500,         /* a pong by a path within this: it works */
  TC_PATHS_SETUP_MS = 20000,        /* an in-band setup must be READY by then */
  TC_PATHS_RETRY_MS = 5000,         /* first retry after a failed setup */
  TC_PATHS_RETRY_MAX_MS = 10000,
  TC_PATHS_RESEND_MS = 1000,        /* offer retransmission */
  TC_PATHS_GRACE_MS = 5000,         /* a new path has this long to deliver */
  TC_PATHS_OFFER_GAP_MS = 1000,     /* answerer: at most one new offer taken per */
  TC_PATHS_TEXT = 1200,             /* credentials and candidates of a message */
};

/* Flags, one word. */
enum {
  TC_PATHS_SETUP = 1 << 0,          /* a path in slot `slot` is being set up */
  TC_PATHS_SENT = 1 << 1,           /* (initiator) offer sent */
  TC_PATHS_ANSWERED = 1 << 2,       /* (initiator) answer applied */
};

struct tc_link;

struct tc_paths {
  unsigned flags;
  uint8_t slot;                     /* slot being set up */
  uint8_t want;                     /* its relay policy (never: direct, always: relay) */
  uint32_t gen;                     /* generation of the last offer (sent or taken) */
  uint64_t setup_ms, resend_ms, next_try_ms, probe_ms, ready_ms, suspect_ms;
  uint32_t retry_ms;
  uint8_t msg[TC_PATHS_HDR + TC_PATHS_TEXT]; /* our last offer/answer, for resending */
  size_t msg_len;
  int closing[2];                   /* slot handles whose close is pending */
  uint64_t switches, bad_msgs;
};

/* The path in slot i (0 or 1). */
struct tc_path *tc_paths_slot(struct tc_link *l, unsigned i);
/* Every 250 ms while the link is keyed: health, switches, in-band setup. */
void tc_paths_tick(struct tc_link *l, uint64_t now, uint64_t now_us);
/* The text of an offer or answer ("ufrag\npwd\ncandidate..."; r zeroed by
 * the caller) as create_link fields; false if any is bad (the same checks
 * as create_link's: ICE characters and lengths, 1..CTL_MAX_CANDS lines
 * that start "candidate:"; the candidates themselves are libnice's to
 * parse).  Pure; fuzz_paths_msg. */
bool tc_paths_parse(const uint8_t *text, size_t n, struct ctl_create_link *r);
/* A TC_DP_PATHS message (the plaintext of an authenticated record). */
void tc_paths_msg(struct tc_link *l, const uint8_t *m, size_t n, uint64_t now);
/* The path in slot 1, or a re-made slot 0, finished gathering / changed
 * ICE state. */
void tc_paths_gathered(struct tc_link *l, struct tc_path *p);
void tc_paths_ice_state(struct tc_link *l, struct tc_path *p, NiceComponentState st);
/* Which slot p is. */
unsigned tc_paths_index(struct tc_link *l, const struct tc_path *p);
/* Close both slots (link destroy); returns how many libuv handles are
 * closing or still pending from earlier closes (cb runs for each). */
int tc_paths_close(struct tc_link *l, uv_close_cb cb);

#endif
