/* negotiate: the link negotiation state machine, one record per peer node,
 * for one overlay.  docs/signaling-negotiation.md describes the protocol.
 *
 * Pure: the caller feeds events in (negotiate_connect, _on_signal,
 * _on_candidates, _on_link_state, _tick, ...) with the current monotonic
 * time, and executes the actions that come out, in order:
 *
 *   NEG_ACT_SEND            send signal {type, payload} to the peer's full JID
 *   NEG_ACT_QUERY_CANDIDATES ask tincan query_candidates{overlay, peer};
 *                           answer with negotiate_on_candidates(), or
 *                           negotiate_on_tincan_error() if it fails
 *   NEG_ACT_CREATE_LINK     tincan create_link with .create (on failure:
 *                           negotiate_on_tincan_error()); .peer_mac and
 *                           .peer_ip4 are the peer's TAP MAC and address
 *                           (address mapping / hosts file in SocialVPN)
 *   NEG_ACT_REMOVE_LINK     tincan remove_link{overlay, peer} (ignore ENOENT)
 *   NEG_ACT_LINK_UP         informational: the link to the peer is up
 *   NEG_ACT_REJECTED        informational: the peer refused our request
 *                           (.reason); over_budget -> topology_on_rejected()
 *   NEG_ACT_GIVE_UP         informational: stopped trying (.err, .why)
 *
 * Per peer:  IDLE -connect-> QUERYING -candidates-> REQUESTING -accept->
 * CONNECTING -up-> UP.  A request from the peer: IDLE -> ANSWERING
 * -candidates-> CONNECTING (response sent).  Failures go to BACKOFF while
 * the link is wanted, else IDLE; after max_attempts failures, GIVEN_UP.
 * Simultaneous requests: the request of the node with the smaller id wins;
 * the other node drops its own and answers (both sides decide alike). */
#ifndef IPOP_POLICY_NEGOTIATE_H
#define IPOP_POLICY_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jbind.h"
#include "messages.h"
#include "policy.h"
#include "sigmsg.h"

/* Longest wait before asking again a peer that answered "busy". */
enum { NEG_BUSY_RETRY_MAX_MS = 3000 };

enum neg_state {
  NEG_IDLE,        /* no link, none being set up */
  NEG_QUERYING,    /* we initiate: waiting for our own candidates from tincan */
  NEG_REQUESTING,  /* link_request sent, waiting for link_response */
  NEG_ANSWERING,   /* peer initiated: waiting for our candidates to answer */
  NEG_CONNECTING,  /* create_link done, waiting for the link to come up */
  NEG_UP,
  NEG_BACKOFF,     /* attempt failed; retry at retry_at_ms */
  NEG_GIVEN_UP,    /* max_attempts reached; negotiate_connect() starts over */
};
extern const char *const neg_state_names[];

enum neg_action_type {
  NEG_ACT_SEND,
  NEG_ACT_QUERY_CANDIDATES,
  NEG_ACT_CREATE_LINK,
  NEG_ACT_REMOVE_LINK,
  NEG_ACT_LINK_UP,
  NEG_ACT_GIVE_UP,
  NEG_ACT_REJECTED,
};
extern const char *const neg_action_names[];

struct neg_action {
  enum neg_action_type type;
  char peer_id[NODEID_BUF];
  /* SEND */
  const char *msg_type;          /* static string, the <signal type=""/> */
  char *payload;                 /* JSON text, freed by negotiate_actions_clear() */
  char request_id[SIGMSG_REQ_ID_LEN];
  /* CREATE_LINK */
  struct ctl_create_link *create; /* heap, freed by negotiate_actions_clear() */
  uint8_t peer_mac[6];
  struct in_addr peer_ip4;
  struct in6_addr peer_ip6;      /* the peer's IPv6 address, if it sent one */
  bool has_peer_ip6;
  /* REJECTED */
  int reason;                    /* enum sigmsg_reason */
  /* GIVE_UP */
  int err;                       /* IPOP_E* */
  char why[128];
};

/* Growable list the caller owns; every call appends to it. */
struct neg_actions {
  struct neg_action *v;
  size_t n, cap;
};
void negotiate_actions_clear(struct neg_actions *a); /* free contents, keep array */
void negotiate_actions_free(struct neg_actions *a);

/* Answer to an inbound request: 0 to accept, or a reject reason
 * (enum sigmsg_reason) + 1.  ondemand: the requester wants the link for
 * traffic (topology_on_inbound's argument).  NULL accepts everyone. */
typedef int (*neg_accept_fn)(void *ctx, const char *peer_id, bool ondemand);

/* May the peer present this DTLS fingerprint (the link.fingerprint of its
 * request, or of its accepting response to ours)?  0, or a reason
 * (enum sigmsg_reason) + 1, or NEG_VERIFY_HOLD.  NEG_VERIFY_HOLD: not
 * known yet (its published identity is being read): the message is left
 * untouched and negotiate_on_signal returns NEG_HELD; the caller hands it
 * in again later.  SIGMSG_R_BUSY + 1: a request is answered busy, our own
 * attempt retries within NEG_BUSY_RETRY_MAX_MS.  Anything else refuses: a
 * request gets that reject, our attempt is cancelled and fails.  Called
 * before anything else happens to the peer's record, so a refused or held
 * message never touches an existing link.  NULL accepts every
 * fingerprint. */
enum { NEG_VERIFY_HOLD = -1, NEG_HELD = 1 };
typedef int (*neg_verify_fn)(void *ctx, const char *peer_id, const char *fingerprint);

struct negotiate_config {
  char node_id[NODEID_BUF];
  char overlay_id[CTL_ID_LEN];
  uint8_t mac[6];                /* our TAP MAC and address, sent to peers */
  struct in_addr ip4;
  struct in6_addr ip6;           /* ... and IPv6 address (has_ip6) */
  bool has_ip6;
  uint32_t timeout_ms;           /* per step (candidates, response, link up); 60000 */
  uint32_t backoff_base_ms;      /* first retry delay; 2000 */
  uint32_t backoff_max_ms;       /* cap; 300000 */
  uint32_t jitter_pct;           /* +0..jitter_pct % added to each delay; 25 */
  uint32_t max_attempts;         /* failures in a row before GIVE_UP (0: never); 8 */
  uint32_t down_grace_ms;        /* a link "down" this long before it counts as failed:
                                    tincan recovers paths itself (fallback to the
                                    relay, roaming, a healed cut); 0: at once */
  uint32_t bad_limit;            /* bad messages from one peer before it is ignored; 8 */
  uint32_t ignore_ms;            /* how long it is ignored; 600000 */
  uint32_t max_peers;            /* peer records; 4096 */
  uint32_t min_request_gap_ms;   /* a peer's new requests closer than this are
                                    dropped and counted bad (they would churn
                                    tincan's ICE agents); 1000 */
  policy_rand_fn rnd;            /* request ids and jitter */
  void *rnd_ctx;
  neg_accept_fn accept;
  void *accept_ctx;             /* also verify's */
  neg_verify_fn verify;
};

/* Fill the defaults above (ids, MAC, address and rnd are left empty). */
void negotiate_config_defaults(struct negotiate_config *cfg);

struct negotiate;

/* Validates cfg (node id, overlay id, rnd).  *out NULL on error. */
int negotiate_create(struct negotiate **out, const struct negotiate_config *cfg);
void negotiate_free(struct negotiate *n);

/* Our TAP MAC / address changed (e.g. after tincan re-created the overlay). */
void negotiate_set_local(struct negotiate *n, const uint8_t mac[6], struct in_addr ip4);
/* Our IPv6 address changed (NULL: none). */
void negotiate_set_local6(struct negotiate *n, const struct in6_addr *ip6);

/* We want a link to peer (topology add; ondemand true for an on-demand
 * link, which tells the peer to count it against its on-demand slots).
 * Starts at once unless it is already up or being set up; a GIVEN_UP peer
 * starts over.  IPOP_EINVAL for a bad id or our own, IPOP_EBUSY when
 * max_peers is reached. */
int negotiate_connect(struct negotiate *n, const char *peer_id, bool ondemand,
                      uint64_t now_ms, struct neg_actions *out);

/* We no longer want the link (topology remove, peer offline, blocked):
 * cancels a running attempt (link_cancel to the peer if it knows of it),
 * removes the link, forgets the peer.  send_cancel false when the peer is
 * unreachable anyway (offline). */
int negotiate_disconnect(struct negotiate *n, const char *peer_id, bool send_cancel,
                         int reason, uint64_t now_ms, struct neg_actions *out);

/* A signal from XMPP.  sender_node_id: the node id the sender's full JID
 * announced (and the caller's registry accepted as its own); the payload's
 * "from" must match it.  NULL (the sender has no node id of its own) is
 * refused with IPOP_EPERM.  Returns 0 if the message was used or
 * harmlessly ignored (stale, duplicate, addressed to another node),
 * NEG_HELD if verify held it (nothing done: hand it in again later); a
 * negative IPOP_E* if it was rejected (err says why, with the field); the
 * sender is then counted and, past bad_limit, ignored for ignore_ms
 * (IPOP_EPERM while ignored). */
int negotiate_on_signal(struct negotiate *n, const char *sender_node_id, const char *type,
                        const char *payload, size_t len, uint64_t now_ms,
                        struct neg_actions *out, struct jb_error *err);

/* tincan answered query_candidates for peer. */
int negotiate_on_candidates(struct negotiate *n, const struct ctl_candidates *c,
                            uint64_t now_ms, struct neg_actions *out);
/* query_candidates or create_link failed (error from tincan). */
int negotiate_on_tincan_error(struct negotiate *n, const char *peer_id, int err,
                              uint64_t now_ms, struct neg_actions *out);

/* tincan link_state event (enum ctl_link_state). */
int negotiate_on_link_state(struct negotiate *n, const char *peer_id, int state,
                            uint64_t now_ms, struct neg_actions *out);

/* tincan restarted: every link is gone.  Wanted peers start over now. */
void negotiate_reset(struct negotiate *n, uint64_t now_ms, struct neg_actions *out);

/* Timeouts and retries due at now_ms. */
void negotiate_tick(struct negotiate *n, uint64_t now_ms, struct neg_actions *out);

/* Earliest time negotiate_tick() has work (UINT64_MAX: none). */
uint64_t negotiate_next_deadline(const struct negotiate *n);

struct neg_peer_info {
  enum neg_state state;
  bool wanted;
  bool initiator;               /* the current attempt is ours */
  uint32_t attempts;            /* failures in a row */
  uint64_t deadline_ms;         /* timeout or retry time, 0 if none */
  uint64_t bad_msgs;            /* rejected messages from this peer, total */
  bool ignored;
  char request_id[SIGMSG_REQ_ID_LEN];
};
/* IPOP_ENOENT if the peer has no record. */
int negotiate_peer_info(const struct negotiate *n, const char *peer_id, uint64_t now_ms,
                        struct neg_peer_info *info);

/* The peers this machine is busy with: wanted (any state, given up
 * included) or with an attempt or link in progress.  This is the "current"
 * set for topology_plan().  Fills up to max ids; returns the total. */
size_t negotiate_current(const struct negotiate *n, char (*ids)[NODEID_BUF], size_t max);

struct neg_counters {
  uint64_t bad_msgs;            /* rejected: malformed, hostile, wrong sender */
  uint64_t ignored_msgs;        /* dropped because the sender is ignored */
  uint64_t stale_msgs;          /* unknown request id, wrong state */
  uint64_t misdirected_msgs;    /* "to" is another node */
  uint64_t glare;               /* simultaneous requests resolved */
  uint64_t rate_limited;        /* new requests inside min_request_gap_ms */
  uint64_t timeouts;
  uint64_t links_up;
  uint64_t fpr_refused;         /* requests/responses whose fingerprint verify refused */
  uint64_t started;             /* attempts of ours begun (link requests) */
  uint64_t failed;              /* attempts (ours or the peer's) ended without a link */
  uint64_t refused_by_peer;     /* our requests the peer rejected */
  uint64_t refused_by_us;       /* requests we rejected */
};
void negotiate_counters(const struct negotiate *n, struct neg_counters *c);

/* Backoff delay before retry number `attempt` (1-based), jitter from r32:
 * min(max, base << (attempt-1)) plus up to jitter_pct percent. */
uint64_t negotiate_backoff_ms(const struct negotiate_config *cfg, uint32_t attempt,
                              uint32_t r32);

#endif
