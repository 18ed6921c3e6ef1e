/* The controller's XMPP client (RFC 6120/6121) on the caller's libuv loop.
 *
 * It logs in (STARTTLS or direct TLS, SASL SCRAM-SHA-256/SCRAM-SHA-1/PLAIN/
 * EXTERNAL), binds a resource "<ResourcePrefix><random>", reads the roster,
 * announces this node with <node xmlns="urn:ipop:node:1"/> in its presence,
 * and exchanges signaling messages (<signal xmlns="urn:ipop:signal:1"/>)
 * with the full JIDs of other IPOP nodes.  Connection loss (XEP-0199 ping,
 * socket error, stream error) leads to a reconnect with exponential backoff
 * and jitter; presence and roster are restored after every login.
 * Wire format and config keys: docs/signaling.md.
 *
 * The library reports; it decides nothing about people.  Roster items,
 * presences, signals, PEP items (pep.h), room occupants and the block list
 * (muc.h) reach the caller as the server stamped them, well-formed and
 * bounded; who is a friend, who may signal or link and which fingerprint a
 * node may present is the caller's decision (controller/registry.h).
 *
 * Inside, the files are layered: stanza, sasl, backoff, config and jid at
 * the bottom; core (state, extension table), transport, iq and session
 * above; the extensions (muc, muc_iq, block, pep) register stanza hooks in
 * the core's table; client.c, the public API, sits on top. */
#ifndef IPOP_XMPP_H
#define IPOP_XMPP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "jbind.h"

/* Limits and defaults, all in one place. */
enum {
  XMPP_JID_MAX = 3072,             /* RFC 7622: 3 parts of 1023 + separators */
  XMPP_NODE_ID_MAX = 128,          /* node id text in <node id=""/> */
  XMPP_CAPS_MAX = 256,             /* caps text in <node caps=""/> */
  XMPP_SIGNAL_TYPE_MAX = 64,       /* <signal type=""/> */
  XMPP_SIGNAL_ID_MAX = 128,        /* <signal id=""/> */
  XMPP_SIGNAL_PAYLOAD_MAX = 16384, /* bytes of JSON text in <signal/> */
  XMPP_STANZA_MAX_DEFAULT = 256 * 1024,
  XMPP_DEPTH_MAX_DEFAULT = 64,
  XMPP_ATTRS_MAX = 64,             /* attributes (and ns declarations) per element */
  /* Children of one element and text of one element: twice the longest
   * list we report (roster, members, block list: the excess is counted)
   * and four times the longest text we use (a signal payload).  A stanza
   * beyond one of these, or MaxDepth or XMPP_ATTRS_MAX, is skipped and
   * counted (stanzas_skipped); the stream stays. */
  XMPP_CHILDREN_MAX = 8192,
  XMPP_TEXT_MAX = 64 * 1024,
  XMPP_ROSTER_MAX = 4096,          /* roster items reported per full read */
  XMPP_ACCEPT_MAX = 64,            /* AcceptFrom entries */
  XMPP_BACKOFF_BASE_MS = 1000,
  XMPP_BACKOFF_MAX_MS = 300000,
};

#define XMPP_NS_NODE "urn:ipop:node:1"
#define XMPP_NS_SIGNAL "urn:ipop:signal:1"

enum xmpp_tls_mode { XMPP_TLS_STARTTLS = 0, XMPP_TLS_DIRECT = 1 };
enum xmpp_sub_policy {
  XMPP_SUB_IGNORE = 0,      /* friendships are made by people */
  XMPP_SUB_ACCEPT_LIST = 1, /* approve requests from AcceptFrom only */
  XMPP_SUB_ACCEPT_ALL = 2,
};

struct xmpp_tls_config {
  int mode;                  /* enum xmpp_tls_mode; "starttls" | "direct" */
  bool required;             /* refuse a server that offers no STARTTLS */
  char ca_file[256];         /* "" = system CAs */
  bool verify_peer;          /* false only by explicit config (warns) */
  char client_cert[256];     /* PEM, for SASL EXTERNAL */
  char client_key[256];
};

struct xmpp_config {
  char jid[XMPP_JID_MAX / 3];  /* bare JID "user@domain" (required) */
  char host[256];              /* "" = SRV lookup of the JID's domain */
  uint32_t port;               /* 0 = 5222 (starttls) / 5223 (direct) */
  char domain[256];            /* "" = the JID's domain; TLS name check uses it */
  char password_file[256];     /* mode 0600 file holding the password */
  char resource_prefix[64];
  struct xmpp_tls_config tls;
  char sasl[4][24];            /* allowed mechanisms in preference order */
  uint32_t nsasl;
  uint32_t ping_interval;      /* seconds */
  uint32_t connect_timeout;    /* seconds from TCP connect to online */
  int subscription_policy;     /* enum xmpp_sub_policy */
  char accept_from[XMPP_ACCEPT_MAX][256];
  uint32_t naccept_from;
  char roster_group[256];      /* read by the controller's registry: "" = every
                                  mutual contact may signal (not used here) */
  uint32_t max_stanza;         /* bytes */
  uint32_t max_depth;          /* element nesting inside a stanza */
};

/* Schema for the controller config's "Xmpp" section (PascalCase keys). */
extern const struct jb_schema xmpp_config_schema;

enum xmpp_state {
  XMPP_STATE_OFFLINE = 0,     /* stopped, or waiting for the next attempt */
  XMPP_STATE_CONNECTING,      /* resolving, TCP, TLS, SASL, bind, roster */
  XMPP_STATE_ONLINE,          /* presence sent, signaling possible */
  XMPP_STATE_AUTH_FAILED,     /* credentials rejected (or no usable SASL
                                 mechanism): no automatic retry until
                                 xmpp_client_start() is called again */
};
const char *xmpp_state_name(enum xmpp_state s);

enum xmpp_subscription { XMPP_SUB_NONE = 0, XMPP_SUB_TO, XMPP_SUB_FROM,
                         XMPP_SUB_BOTH, XMPP_SUB_REMOVE };
const char *xmpp_subscription_name(enum xmpp_subscription s);

struct xmpp_roster_item {
  const char *jid;             /* bare */
  enum xmpp_subscription subscription;
  const char *const *groups;   /* ngroups names */
  size_t ngroups;
};

struct xmpp_presence {
  const char *from;            /* full JID */
  bool available;
  const char *node_id;         /* NULL: not an IPOP node (or unavailable) */
  const char *caps;            /* NULL if absent */
};

struct xmpp_signal {
  const char *from;            /* full JID of the sender */
  const char *type;
  const char *id;
  const char *payload;         /* JSON text as received (not validated) */
  size_t payload_len;
};

struct xmpp_client;

/* Which request an on_result reports (muc.h, pep.h). */
enum xmpp_op {
  XMPP_OP_DISCOVER = 1,     /* MUC service discovery; text = service JID */
  XMPP_OP_CREATE,           /* room created and configured (or already ours) */
  XMPP_OP_JOIN,             /* join refused (success: on_muc_self JOINED) */
  XMPP_OP_AFFILIATION,      /* jid = whose affiliation was set */
  XMPP_OP_ROOM_INFO,        /* failure only (success: on_muc_room_info) */
  XMPP_OP_MEMBERS,          /* failure only (success: on_muc_members) */
  XMPP_OP_BLOCK,            /* jid = blocked JID (the push follows) */
  XMPP_OP_UNBLOCK,          /* jid = unblocked JID, NULL = everyone */
  XMPP_OP_BLOCKLIST,        /* failure to fetch the list after login */
  XMPP_OP_PUBLISH,          /* our PEP item (pep.h): text says how the
                               server took it, or why it refused */
};
const char *xmpp_op_name(enum xmpp_op op);

struct xmpp_result {
  enum xmpp_op op;
  const char *room;         /* bare room JID; NULL for DISCOVER and blocking */
  const char *jid;          /* see enum xmpp_op; NULL otherwise */
  int error;                /* 0 or IPOP_E* */
  const char *condition;    /* XMPP error condition ("forbidden",
                               "registration-required", "item-not-found",
                               "conflict", ...) or NULL */
  const char *text;         /* DISCOVER success: the service JID; PUBLISH:
                               how it went; on error a sentence naming the
                               room/JID */
};

/* muc.h, pep.h */
struct xmpp_blocklist_event;
struct xmpp_pep_event;
struct xmpp_muc_self;
struct xmpp_muc_occupant;
struct xmpp_muc_invite;
struct xmpp_muc_room_info;
struct xmpp_muc_members;

/* All pointers passed to callbacks are valid only during the call. */
struct xmpp_callbacks {
  /* reason: NULL, or text for OFFLINE/AUTH_FAILED ("authentication
   * failed: not-authorized", "ping timeout", ...).  Leaving ONLINE voids
   * every peer presence reported so far; after the next ONLINE the roster
   * and presences are reported afresh. */
  void (*on_state)(struct xmpp_client *c, enum xmpp_state state,
                   const char *reason, void *ctx);
  /* After a full roster read, with `full` true, once per item, then once
   * with item NULL; for pushes, once per changed item with `full` false. */
  void (*on_roster)(struct xmpp_client *c, const struct xmpp_roster_item *item,
                    bool full, void *ctx);
  /* Every presence from a full JID other than our own resource, whoever
   * sent it: the caller decides whom to believe. */
  void (*on_presence)(struct xmpp_client *c, const struct xmpp_presence *p,
                      void *ctx);
  /* Every well-formed signal from a full JID (from is stamped by the
   * server), whoever sent it. */
  void (*on_signal)(struct xmpp_client *c, const struct xmpp_signal *s,
                    void *ctx);

  /* ---- Groups, blocking (issue #7; muc.h) and PEP (issue #11; pep.h).
   * All optional: a zero-initialised struct keeps the behaviour above. */
  /* Outcome of a request of muc.h or pep.h (xmpp_muc_*, xmpp_block_*,
   * xmpp_pep_publish). */
  void (*on_result)(struct xmpp_client *c, const struct xmpp_result *r,
                    void *ctx);
  void (*on_blocklist)(struct xmpp_client *c,
                       const struct xmpp_blocklist_event *ev, void *ctx);
  /* Our own presence in a room: joined, refused, left or removed. */
  void (*on_muc_self)(struct xmpp_client *c, const struct xmpp_muc_self *ev,
                      void *ctx);
  /* Another occupant came, changed or went (only for rooms we are in or
   * joining, only from the room's own JID). */
  void (*on_muc_occupant)(struct xmpp_client *c,
                          const struct xmpp_muc_occupant *o, void *ctx);
  /* An invitation (mediated through a room, or direct XEP-0249).  Policy
   * (whom to accept) is the caller's. */
  void (*on_muc_invite)(struct xmpp_client *c,
                        const struct xmpp_muc_invite *inv, void *ctx);
  void (*on_muc_room_info)(struct xmpp_client *c,
                           const struct xmpp_muc_room_info *info, void *ctx);
  void (*on_muc_members)(struct xmpp_client *c,
                         const struct xmpp_muc_members *m, void *ctx);
  /* PEP items of an account: a notification, a retraction, the answer to
   * xmpp_pep_fetch(), or why that failed (pep.h). */
  void (*on_pep)(struct xmpp_client *c, const struct xmpp_pep_event *ev,
                 void *ctx);
};

struct xmpp_counters {
  uint64_t reconnects;         /* connection attempts after the first */
  uint64_t bad_signals;        /* malformed or oversized payloads */
  uint64_t signals_in, signals_out;
  uint64_t stream_errors;      /* received or sent */
  uint64_t ping_timeouts;
  /* issue #7 */
  uint64_t muc_dropped;        /* malformed/forged MUC stanzas, invitations
                                  and blocking pushes ignored */
  /* issue #11 */
  uint64_t pep_dropped;        /* malformed PEP events and items ignored */
  /* issue #16 */
  uint64_t stanzas_skipped;    /* stanzas beyond a limit inside one stanza
                                  (depth, attributes, children, text) */
};

/* Returns a random 32-bit value; replaceable for tests. */
typedef uint32_t (*xmpp_rand_fn)(void *ctx);

/* Create a client on loop.  cfg is copied.  node_id/caps go into the
 * presence element (caps may be NULL).  The password file is read here.
 * Returns 0 or IPOP_E*; *out is NULL on error, and why (if not NULL)
 * gets a sentence for the log. */
int xmpp_client_new(uv_loop_t *loop, const struct xmpp_config *cfg,
                    const char *node_id, const char *caps,
                    const struct xmpp_callbacks *cbs, void *ctx,
                    struct xmpp_client **out, char *why, size_t whylen);
/* Connect and stay connected (reconnects until stop). */
int xmpp_client_start(struct xmpp_client *c);
/* Send unavailable presence, close the stream, stop timers; no reconnect. */
void xmpp_client_stop(struct xmpp_client *c);
/* Stop, close all handles; memory is released once libuv has closed them
 * (run the loop).  c must not be used afterwards. */
void xmpp_client_free(struct xmpp_client *c);

/* Update caps and re-broadcast presence when online (to the rooms we are
 * in as well, and in our PEP item). */
int xmpp_client_set_caps(struct xmpp_client *c, const char *caps);
/* Send a signal to a full JID.  Returns 0, IPOP_ESTATE when not online,
 * IPOP_ETOOBIG / IPOP_EINVAL for bad arguments. */
int xmpp_client_send_signal(struct xmpp_client *c, const char *to,
                            const char *type, const char *id,
                            const char *payload, size_t len);

enum xmpp_state xmpp_client_state(const struct xmpp_client *c);
void xmpp_client_counters(const struct xmpp_client *c, struct xmpp_counters *out);
/* Our full JID once bound ("" before). */
const char *xmpp_client_jid(const struct xmpp_client *c);
/* For tests: replace the jitter random source. */
void xmpp_client_set_rand(struct xmpp_client *c, xmpp_rand_fn fn, void *ctx);

#endif
