/* Learning L2 switch of one overlay: which link owns which MAC.
 *
 * Model: the local TAP is one port, the overlay's links are the others.
 * Frames from a link always go to the TAP (tincan never relays between
 * links), so the table only has to answer "which link for this destination"
 * for frames read from the TAP.  Links are named by a caller-chosen integer
 * (an index into the daemon's own link array); the switch never touches
 * them.
 *
 * The table is a fixed-size struct (about 120 KiB) allocated by the caller,
 * once per overlay: no allocation after switch_init().  Time is passed in by
 * the caller (milliseconds, monotonic, e.g. ipop_now_ms()).
 *
 *   - Binding: switch_bind() pins a link's peer MAC to it (the controller
 *     says which MAC each peer has).  A bound entry never ages, is never
 *     evicted, and never moves: a frame claiming it on another link is
 *     refused (IPOP_EPERM), so one peer cannot steer another's traffic.
 *   - Learning: switch_learn() with the source MAC of frames received on a
 *     link that bridges a LAN (peers that do not bridge need no learning:
 *     their one MAC is bound).  Broadcast, multicast, all-zero and the
 *     overlay's own MAC are never learned.  A learned MAC seen on another
 *     link moves (and is counted).
 *   - Aging: an entry not refreshed for age_ms is stale: lookups ignore and
 *     drop it; switch_expire() sweeps from the oldest end (call it from a
 *     timer, e.g. once per second; cost proportional to what it removes).
 *   - Capacity: when full, learning a new MAC evicts the least recently
 *     refreshed learned entry (bound entries stay).
 *   - Hash: open addressing, linear probing at load <= 1/2, keyed by a
 *     caller-supplied random seed so that a peer cannot aim source MACs at
 *     one probe chain.  Deletion shifts entries back (no tombstones). */
#ifndef IPOP_TINCAN_SWITCH_H
#define IPOP_TINCAN_SWITCH_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"

enum {
  SWITCH_MAX_ENTRIES = 4096,
  SWITCH_SLOTS = 2 * SWITCH_MAX_ENTRIES,      /* power of two */
  SWITCH_NONE = 0xffff,
  SWITCH_DEFAULT_AGE_MS = 300 * 1000,         /* like a bridge's ageing_time */
  SWITCH_REPORT_SLOTS = 256,                  /* unknown-destination report cache */
  SWITCH_DEFAULT_REPORT_MS = 10 * 1000,       /* one report per destination per 10 s */
};

struct switch_node {
  uint8_t mac[FRAME_ETH_ALEN];
  uint16_t home;                   /* hash slot this MAC probes from */
  uint16_t prev, next;             /* age list (oldest first), bound list or free list */
  bool bound;                      /* switch_bind(): never ages, moves or is evicted */
  uint32_t link;
  uint64_t seen_ms;
};

/* When an unknown destination was last reported (direct-mapped cache: two
 * destinations sharing a slot just get reported more often). */
struct switch_report {
  uint8_t mac[FRAME_ETH_ALEN];
  bool used;
  uint64_t at_ms;
};

struct switch_stats {
  uint64_t learned;                /* new entries */
  uint64_t moved;                  /* MAC seen on a different link */
  uint64_t rejected;               /* source MAC not learnable */
  uint64_t spoofed;                /* source MAC bound to another link */
  uint64_t evicted;                /* oldest entry dropped because full */
  uint64_t expired;                /* aged out */
  uint64_t removed;                /* by switch_remove_link() */
  uint64_t unicast;                /* decisions: one link */
  uint64_t flooded;                /* decisions: all links */
  uint64_t unknown_unicast;        /* unicast destination not in the table */
  uint64_t unknown_reported;       /* ... of which flagged for an event */
  uint64_t dropped;                /* decisions: drop */
};

struct switch_table {
  uint16_t slots[SWITCH_SLOTS];    /* node index or SWITCH_NONE */
  struct switch_node nodes[SWITCH_MAX_ENTRIES];
  uint16_t oldest, newest;         /* age list ends (learned entries) */
  uint16_t bound;                  /* bound entries (a list through next) */
  uint16_t free_list;
  uint32_t count, capacity;
  uint64_t age_ms;
  uint64_t seed;
  uint8_t local_mac[FRAME_ETH_ALEN];
  bool has_local_mac;
  bool flood_unknown;              /* default true: flood unknown unicast */
  uint64_t report_ms;              /* default SWITCH_DEFAULT_REPORT_MS */
  struct switch_report reports[SWITCH_REPORT_SLOTS];
  struct switch_stats stats;
};

/* capacity: 1..SWITCH_MAX_ENTRIES, 0 for SWITCH_MAX_ENTRIES.  age_ms: 0 for
 * SWITCH_DEFAULT_AGE_MS.  seed: random, e.g. from RAND_bytes().
 * local_mac: the overlay's TAP MAC, or NULL.  Returns 0 or IPOP_EINVAL. */
int switch_init(struct switch_table *t, uint32_t capacity, uint64_t age_ms,
                uint64_t seed, const uint8_t *local_mac);

enum switch_learn_result {
  SWITCH_LEARN_REFRESHED = 0,      /* known MAC, same link */
  SWITCH_LEARN_NEW = 1,
  SWITCH_LEARN_MOVED = 2,          /* known MAC, now on this link */
};
/* Learn src (a frame's source MAC) as reachable over link.  Returns a
 * switch_learn_result, or IPOP_EINVAL for a MAC that must not be learned
 * (broadcast, multicast, zero), IPOP_EPERM for the overlay's own MAC or a
 * MAC bound to another link (a peer claiming it: the daemon drops that
 * frame), IPOP_ENOMEM if the table holds only bound entries. */
int switch_learn(struct switch_table *t, const uint8_t src[FRAME_ETH_ALEN],
                 uint32_t link, uint64_t now_ms);

/* Bind mac to link for good (until switch_remove_link): replaces a learned
 * entry.  Returns 0, IPOP_EEXIST (bound to another link), IPOP_EPERM (the
 * overlay's own MAC), IPOP_EINVAL (not a unicast MAC), IPOP_ENOMEM (full of
 * bound entries). */
int switch_bind(struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN], uint32_t link);

/* Link owning mac: 0 and *link, or IPOP_ENOENT (unknown or stale). */
int switch_lookup(struct switch_table *t, const uint8_t mac[FRAME_ETH_ALEN],
                  uint64_t now_ms, uint32_t *link);

enum switch_action {
  SWITCH_DROP,
  SWITCH_UNICAST,                  /* send to decision.link only */
  SWITCH_FLOOD,                    /* send to every link of the overlay */
};

struct switch_decision {
  enum switch_action action;
  uint32_t link;                   /* SWITCH_UNICAST only */
  bool unknown_unicast;            /* destination not in the table */
  bool report;                     /* unknown_unicast, and not reported for
                                      this destination within report_ms:
                                      raise an unknown_destination event */
};

/* Where a frame read from the TAP goes.  Broadcast and multicast flood;
 * known unicast goes to its link; unknown unicast floods (or drops if
 * flood_unknown is false) with unknown_unicast set, and report set at most
 * once per report_ms per destination (the event stays per-destination rate
 * limited; the daemon should still cap events overall, e.g. with an
 * ipop_ratelimit, as a host can make up destinations); frames to the zero
 * MAC or to the overlay's own MAC are dropped.  Returns 0 or IPOP_EINVAL. */
int switch_decide(struct switch_table *t, const struct frame_info *fi,
                  uint64_t now_ms, struct switch_decision *out);

/* Forget every MAC learned on or bound to link (the link went away).
 * Returns how many. */
uint32_t switch_remove_link(struct switch_table *t, uint32_t link);

/* Drop entries older than age_ms.  Returns how many. */
uint32_t switch_expire(struct switch_table *t, uint64_t now_ms);

#endif
