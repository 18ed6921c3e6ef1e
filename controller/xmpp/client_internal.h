/* What the pieces of the XMPP client share: struct xmpp_client, struct conn
 * and the xmpp__ functions that cross files (client.c, roster.c, session.c,
 * transport.c).  Not for the controller; the test seams are xmpp_internal.h.
 *
 * Lifetime: struct xmpp_client owns two timers and at most one struct conn
 * (one connection attempt).  A conn owns the TCP handle, the TLS state and
 * the stream parser.  Closing a conn marks it dead, frees TLS and parser,
 * and uv_close()s its handles; the struct itself is freed when the last
 * close callback (and a pending resolver work item) has run.  Stanza
 * handlers never free the parser they are called from: they set
 * conn->action and return non-zero, and the reader acts after the feed. */
#ifndef IPOP_XMPP_CLIENT_INTERNAL_H
#define IPOP_XMPP_CLIENT_INTERNAL_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "backoff.h"
#include "log.h"
#include "sasl.h"
#include "stanza.h"
#include "muc.h"
#include "xmpp.h"

#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"

/* ADDR_CONNECT_MS: the TCP handshake with one address of several (SRV
 * targets, A records) gets this long before the next one is tried: the
 * SYN and its first two retransmissions (after 1 and 3 s).  A target that
 * is down without a word (no RST, no ICMP) costs no more than that. */
enum { MAX_ADDRS = 16, MAX_REDIRECTS = 3, READ_CHUNK = 16384,
       ADDR_CONNECT_MS = 4000 };

enum phase {
  P_RESOLVE, P_TCP, P_TLS, P_FEATURES, P_STARTTLS, P_SASL, P_BIND,
  P_SESSION, P_ROSTER, P_ONLINE,
};

enum action { ACT_NONE, ACT_STARTTLS, ACT_RESTART, ACT_CLOSE };

struct roster_entry {
  char *jid;
  enum xmpp_subscription sub;
  char **groups;
  size_t ngroups;
};

struct tcp_handle;            /* transport.c */

struct conn {
  struct xmpp_client *c;
  enum phase phase;
  bool dead;
  bool work_pending;
  unsigned handles;           /* tcp handles not yet closed */
  uv_work_t work;
  char host[256];             /* what we resolve and connect to */
  uint16_t port;
  bool srv;                   /* host is a domain to look up via SRV */
  struct sockaddr_storage addrs[MAX_ADDRS];
  size_t naddrs, next_addr;
  int resolve_err;
  uint64_t deadline;          /* loop time by which we must be online */
  struct tcp_handle *th;      /* current TCP handle */
  bool tcp_up;                /* connected to addrs[next_addr - 1] */
  SSL *ssl;
  BIO *rbio, *wbio;
  bool secure;                /* TLS handshake done */
  bool authenticated;
  bool session_needed;
  struct xmpp_parser *parser;
  int in_feed;
  enum action action;
  char reason[128];           /* why the conn is being closed */
  int fail_code;
  bool auth_failed;
  struct xmpp_scram scram;
  bool scram_active;
  char mech[24];              /* SASL mechanism in use */
  struct sbuf *capture;       /* tests: output goes here, no socket */
  unsigned ping_seq;
  bool ping_outstanding;
  char ping_id[32];
};

struct xmpp_client {
  uv_loop_t *loop;
  struct xmpp_config cfg;
  char *password;
  char node_id[XMPP_NODE_ID_MAX + 1];
  char caps[XMPP_CAPS_MAX + 1];
  struct xmpp_callbacks cbs;
  void *ctx;
  enum xmpp_state state;
  SSL_CTX *ssl_ctx;
  char local[1024];           /* JID localpart */
  char domain[256];           /* JID domain */
  char tls_name[256];         /* name checked in the server certificate */
  char full_jid[XMPP_JID_MAX];
  struct conn *conn;
  uv_timer_t retry_timer, ping_timer;
  unsigned timers_open;
  unsigned conns_alive;       /* conn structs not yet freed */
  bool started, freeing;
  bool attempted;             /* a first attempt happened */
  struct xmpp_backoff backoff;
  char redirect_host[256];
  uint16_t redirect_port;
  unsigned redirects;
  /* Addresses that failed since the last login (refused, silent, or
   * connected but never online): the next attempt tries them last. */
  struct sockaddr_storage failed[MAX_ADDRS];
  size_t nfailed;
  struct roster_entry *roster;
  size_t nroster;
  struct xmpp_counters counters;
  struct ipop_ratelimit rl_drop;
  int last_close_code;
  /* Groups and blocking (muc.c, muc_iq.c, block.c; muc_internal.h) */
  char muc_service[1024];     /* configured or discovered; "" = unknown */
  bool muc_service_set;       /* configured: not forgotten on reconnect */
  struct muc_room *rooms[XMPP_MUC_ROOMS_MAX];
  size_t nrooms;
  struct iq_pending *pending; /* requests awaiting their answer */
  size_t npending;
  unsigned iq_seq;
  char **disco_items;         /* MUC discovery: candidates left to ask */
  size_t ndisco, disco_next;
  bool disco_running;
  char **blocklist;
  size_t nblock;
  char **nodes;               /* full JIDs of IPOP nodes seen online (for
                                 invitations: a node never gets messages
                                 sent to a bare JID, its priority is -1) */
  size_t nnodes;
  struct ipop_ratelimit rl_muc;
};

/* ---- client.c */
void xmpp__set_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason);
/* Frees c once it is being freed and its timers and conns are gone. */
void xmpp__client_maybe_free(struct xmpp_client *c);

/* ---- muc.c, muc_iq.c, block.c (groups and blocking) */
struct muc_room;
struct iq_pending;
/* After login: fetch the blocklist, rejoin remembered rooms. */
void xmpp__muc_online(struct xmpp_client *c);
/* Leaving ONLINE: rooms wait for the next login, requests fail. */
void xmpp__muc_offline(struct xmpp_client *c);
void xmpp__muc_free(struct xmpp_client *c);
/* Stanza hooks; true = the stanza was ours (handled or dropped). */
bool xmpp__muc_presence(struct conn *k, const struct xmpp_stanza *st);
bool xmpp__muc_message(struct conn *k, const struct xmpp_stanza *st);
bool xmpp__iq_reply(struct conn *k, const struct xmpp_stanza *iq);
bool xmpp__block_push(struct conn *k, const struct xmpp_stanza *iq);
/* Re-send our room presence (caps changed). */
void xmpp__muc_refresh(struct xmpp_client *c);
/* Presence of a contact's full JID: with an IPOP node or not. */
void xmpp__node_seen(struct xmpp_client *c, const char *full, bool node);

/* ---- roster.c */
/* Bare part of a JID into out ("" if it does not fit). */
void xmpp__jid_bare(const char *jid, char *out, size_t outlen);
bool xmpp__jid_bare_eq(const char *a, const char *b);
void xmpp__roster_clear(struct xmpp_client *c);
struct roster_entry *xmpp__roster_find(struct xmpp_client *c,
                                       const char *jid);
/* Update from one <item/>; returns the entry (NULL if removed/invalid). */
struct roster_entry *xmpp__roster_apply(struct xmpp_client *c,
                                        const struct xmpp_stanza *item,
                                        enum xmpp_subscription *sub);
void xmpp__roster_report(struct xmpp_client *c, const char *jid,
                         const struct roster_entry *e,
                         enum xmpp_subscription sub, bool full);
/* A mutual roster contact (subscription both) or our own account, whatever
 * its roster groups: whose nodes we remember for direct invitations. */
bool xmpp__is_mutual(struct xmpp_client *c, const char *from);
/* May this bare JID signal us / be reported as a peer? */
bool xmpp__sender_allowed(struct xmpp_client *c, const char *from);

/* ---- session.c */
extern const struct xmpp_parser_cbs xmpp__parser_cbs;  /* ctx: struct conn */
/* New parser, stream header sent, phase P_FEATURES; 0 or IPOP_ENOMEM. */
int xmpp__stream_restart(struct conn *k);
void xmpp__send_presence(struct conn *k);
/* Sends <stream:error> with condition cond and closes the stream. */
void xmpp__send_stream_error(struct conn *k, const char *cond);
/* Stop parsing and close the connection after the current feed. */
int xmpp__close_after(struct conn *k, const char *reason, int code);
void xmpp__go_online(struct conn *k);
/* v present, non-empty and at most max bytes. */
bool xmpp__attr_ok(const char *v, size_t max);

/* ---- transport.c */
void xmpp__send_data(struct conn *k, const char *data, size_t len);
/* Send b (unless it ran out of memory) and free it. */
void xmpp__send_sbuf(struct conn *k, struct sbuf *b);
/* The same for SASL data: never traced, wiped before it is freed. */
void xmpp__send_secret_sbuf(struct conn *k, struct sbuf *b);
void xmpp__send_str(struct conn *k, const char *s);
/* Move pending TLS records to the socket. */
void xmpp__tls_flush(struct conn *k);
/* Feed plaintext to the parser and carry out what the handlers asked. */
void xmpp__feed(struct conn *k, const char *data, size_t len);
/* Close k; unless the client is stopping, schedule the next attempt. */
void xmpp__conn_close(struct conn *k, const char *reason, int code);
struct conn *xmpp__conn_new(struct xmpp_client *c);
/* Resolve, connect and log in: one connection attempt. */
void xmpp__attempt_start(struct xmpp_client *c);
/* ping_timer: connect timeout before online, XEP-0199 pings after. */
void xmpp__ping_cb(uv_timer_t *t);

#endif
