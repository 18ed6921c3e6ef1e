/* ipop-tincan: the daemon's state and its control handlers.
 *
 * Ownership: one struct tc_daemon owns a list of overlays and the dataplane
 * context; each overlay owns its TAP device, its learning switch, its
 * address mappings and a list of links (link.h: path, session, dataplane).
 * Everything runs on one libuv loop; libnice's GMainContext is driven from
 * that loop (gloop.h), so no locks are needed.
 *
 * Teardown (libuv style): an object is first made dead (unlinked, its
 * agent and DTLS freed at once), then its libuv handles are closed and the
 * memory is freed when the last close callback has run. */
#ifndef IPOP_TINCAN_TINCAN_H
#define IPOP_TINCAN_TINCAN_H

#include <glib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "access.h"
#include "ctl.h"
#include "gloop.h"
#include "identity.h"
#include "log.h"
#include "messages.h"
#include "addrmap.h"
#include "fwd.h"
#include "path.h"
#include "record.h"
#include "switch.h"

enum {
  TC_MAX_OVERLAYS = 16,
  TC_MAX_LINKS_PER_OVERLAY = CTL_MAX_LINKS_REPORTED,
  TC_TAP_BURST = 32,                /* frames read per TAP wakeup */
  TC_TICK_MS = 250,                 /* per-link housekeeping timer */
  TC_SETTLE_MS = 2000,              /* a CONNECTED path answering pings this long is taken over */
  TC_KEEPALIVE_MS = 1000,           /* in-band ping interval on a link */
  TC_DEAD_MS = 5000,                /* no authenticated record: link down */
  TC_GATHER_DEADLINE_MS = 3000,     /* answer query_candidates by then */
  TC_CONNECT_DEADLINE_MS = 30000,   /* ICE + DTLS must be done by then */
  TC_STATS_INTERVAL_MS = 30000,     /* periodic "stats" event */
  TC_UNKNOWN_DEST_SLOTS = 16,       /* unknown_destination rate limit table */
  TC_UNKNOWN_DEST_MS = 1000,        /* at most one event per dst per second */
  /* TAP MTU whose full frames go in one datagram: TC_PATH_DGRAM_MAX (1416)
   * - 25 (record) - 1 (kind) - 14 (Ethernet).  Larger frames (and TSO
   * super-frames) are split into several records, never IP-fragmented. */
  TC_SAFE_MTU = TC_PATH_DGRAM_MAX - TC_REC_OVERHEAD - 1 - 14,
};

struct tc_daemon;
struct tc_overlay;
struct tc_link;
struct tc_dp_ctx;

struct tc_unknown_slot {
  uint8_t mac[6];
  uint32_t ip4;       /* ARP target (network order), 0 for unicast frames */
  uint64_t last_ms;
};

struct tc_overlay {
  struct tc_daemon *d;
  struct tc_overlay *next;
  struct ctl_create_overlay cfg;  /* as requested (mac filled in) */
  int tap_fd;
  bool tap_offload;               /* IFF_VNET_HDR with TSO/checksum offload on */
  uv_poll_t tap_poll;
  struct tc_link *links;
  unsigned n_links;
  struct tc_link *slot[TC_MAX_LINKS_PER_OVERLAY];
  struct switch_table *sw;        /* learning table, ~140 KiB */
  struct addrmap *am;             /* SocialVPN per-link IPv4 mapping */
  struct tc_fwd fwd;              /* GroupVPN forwarding table (set_routes) */
  bool dead;
  uint64_t tap_rx, tap_tx, tap_drops, bad_frames;
  struct tc_unknown_slot unknown[TC_UNKNOWN_DEST_SLOTS];
};

struct tc_daemon {
  uv_loop_t *loop;
  GMainContext *gctx;
  struct tc_gloop gloop;
  struct ctl_endpoint *ep;
  struct tc_identity id;
  SSL_CTX *ssl_ctx;
  struct tc_dp_ctx *dp;           /* the dataplane's buffers (dataplane.h) */
  uint64_t rekey_interval_ms;     /* Tincan.RekeyInterval; 0: the default */
  struct tc_overlay *overlays;
  unsigned n_overlays;
  struct sockaddr_storage controller; /* where events go (access.c decides) */
  bool has_controller;
  struct tc_access access;        /* who may send what (access.h) */
  char log_file[256];             /* Tincan.Log.File as configured */
  uv_timer_t stats_timer;
  uv_timer_t expire_timer;        /* switch aging, once per second */
  bool stopping;
};

/* The handler table for ctl_endpoint_open (ctx = the tc_daemon). */
extern const struct ctl_handler tc_handlers[];
extern const unsigned tc_handlers_count;

/* Set up the loop-side state (GLib glue, DTLS context from d->id, timers);
 * d->loop and d->id must be set.  The control endpoint is opened by the
 * caller with tc_handlers and stored in d->ep. */
int tc_daemon_init(struct tc_daemon *d);
/* Remove every overlay (TAPs vanish), close the endpoint and all handles. */
void tc_daemon_shutdown(struct tc_daemon *d);

#endif
