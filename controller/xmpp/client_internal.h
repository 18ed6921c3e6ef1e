/* What the pieces of the XMPP client share: struct xmpp_client, struct conn,
 * the extension table and the xmpp__ functions that cross files.  Not for
 * the controller; the test seams are xmpp_internal.h.
 *
 * Layers (a file calls only into the files of the layers below it; calls
 * upwards go through function pointers: the parser callbacks, the
 * extension table, the answer function of each pending iq):
 *   stanza.c sasl.c backoff.c config.c jid.c   helpers
 *   core.c        state changes, the extension table, freeing the client
 *   transport.c   TCP, TLS, the stream framing, reconnects
 *   iq.c          requests we wait for, answers, errors, results
 *   roster.c session.c   login, roster, presence and signal routing
 *   muc.c muc_iq.c block.c pep.c   extensions (stanza hooks)
 *   client.c      the public API of xmpp.h; registers the extensions
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
#include "muc.h"
#include "pep.h"
#include "sasl.h"
#include "stanza.h"
#include "xmpp.h"

#define NS_TLS "urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION "urn:ietf:params:xml:ns:xmpp-session"
#define NS_STREAMS "urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_ROSTER "jabber:iq:roster"
#define NS_PING "urn:xmpp:ping"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_XDATA "jabber:x:data"

/* ADDR_CONNECT_MS: the TCP handshake with one address of several (SRV
 * targets, A records) gets this long before the next one is tried: the
 * SYN and its first two retransmissions (after 1 and 3 s).  A target that
 * is down without a word (no RST, no ICMP) costs no more than that. */
enum {
  MAX_ADDRS = 16, MAX_REDIRECTS = 3, READ_CHUNK = 16384,
  ADDR_CONNECT_MS = 4000,
  XMPP_EXT_MAX = 8,           /* extensions registered */
  IQ_PENDING_MAX = 256,       /* requests awaiting an answer */
};

enum phase {
  P_RESOLVE, P_TCP, P_TLS, P_FEATURES, P_STARTTLS, P_SASL, P_BIND,
  P_SESSION, P_ROSTER, P_ONLINE,
};

enum action { ACT_NONE, ACT_STARTTLS, ACT_RESTART, ACT_CLOSE };

struct tcp_handle;            /* transport.c */
struct conn;
struct iq_pending;

/* An extension: stanza hooks and lifetime hooks, all optional.  The core
 * calls them in registration order; a stanza hook returns true when the
 * stanza was the extension's (handled or dropped), and the next hooks and
 * the core's own handling are skipped. */
struct xmpp_ext {
  const char *name;
  bool (*presence)(struct conn *k, const struct xmpp_stanza *st);
  bool (*message)(struct conn *k, const struct xmpp_stanza *st);
  bool (*iq)(struct conn *k, const struct xmpp_stanza *iq);   /* get, set */
  /* Children of our presence (after <node/>). */
  void (*presence_children)(struct xmpp_client *c, struct sbuf *b);
  void (*online)(struct xmpp_client *c);       /* after login */
  void (*offline)(struct xmpp_client *c);      /* leaving ONLINE */
  void (*caps_changed)(struct xmpp_client *c); /* our caps text changed */
  void (*free)(struct xmpp_client *c);
};

/* The answer to a request of ours (iq NULL: the connection was lost
 * before it came; ok: type result). */
typedef void (*xmpp_iq_answer_fn)(struct xmpp_client *c, const struct iq_pending *p,
                                  const struct xmpp_stanza *iq, bool ok);

struct iq_pending {
  char id[24];
  xmpp_iq_answer_fn answer;
  int kind;                   /* the extension's own tag */
  char *to;                   /* NULL: our own account */
  char *room;                 /* room JID, or NULL */
  char *jid;                  /* target JID, or NULL */
  int aff;
};

/* Our PEP item and the state of publishing it (pep.c). */
struct pep_state {
  char fpr[XMPP_FPR_MAX + 1]; /* "" until xmpp_pep_publish() */
  char ver[32];               /* XEP-0115 verification string */
  int step;                   /* enum pep_step in pep.c */
  bool again;                 /* publish again when the current run ends */
  bool no_options;            /* this server refused publish-options */
  bool cfg_missing;           /* configure said item-not-found (no node yet) */
  char how[256];              /* what the server did, for on_result */
};

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
  const struct xmpp_parser_cbs *stream_cbs;   /* session.c's, set by client.c */
  const struct xmpp_ext *ext[XMPP_EXT_MAX];
  size_t next;
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
  struct xmpp_counters counters;
  struct ipop_ratelimit rl_drop;
  struct ipop_ratelimit rl_skip;  /* skipped stanzas (session.c) */
  int last_close_code;
  struct iq_pending *pending; /* requests awaiting their answer (iq.c) */
  size_t npending;
  unsigned iq_seq;
  struct ipop_ratelimit rl_muc;
  /* Groups (muc.c, muc_iq.c; muc_internal.h) */
  char muc_service[1024];     /* configured or discovered; "" = unknown */
  bool muc_service_set;       /* configured: not forgotten on reconnect */
  struct muc_room *rooms[XMPP_MUC_ROOMS_MAX];
  size_t nrooms;
  char **disco_items;         /* MUC discovery: candidates left to ask */
  size_t ndisco, disco_next;
  bool disco_running;
  struct pep_state pep;       /* pep.c */
};

/* ---- jid.c: syntax helpers */
/* Bare part of a JID into out ("" if it does not fit). */
void xmpp__jid_bare(const char *jid, char *out, size_t outlen);
/* Same bare JID (case-insensitive; resources ignored)? */
bool xmpp__jid_bare_eq(const char *a, const char *b);
/* JID checks: 1..XMPP_JID_MAX-1 bytes, no whitespace or control
 * characters, no quotes/angles; bare: "local@domain" (no resource); full:
 * has a resource; any: either, or a domain. */
bool xmpp__jid_ok(const char *jid);
bool xmpp__jid_is_bare(const char *jid);
bool xmpp__jid_is_full(const char *jid);
/* Text for our use: at most max bytes and no control characters except
 * tab/newline (NULL is fine). */
bool xmpp__text_ok(const char *s, size_t max);
/* v present, non-empty and at most max bytes. */
bool xmpp__attr_ok(const char *v, size_t max);

/* ---- core.c */
void xmpp__set_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason);
/* Frees c once it is being freed and its timers and conns are gone. */
void xmpp__client_maybe_free(struct xmpp_client *c);
/* Register an extension (client.c, at creation). */
void xmpp__ext_add(struct xmpp_client *c, const struct xmpp_ext *e);
/* Dispatch a stanza to the extensions; true = one of them took it. */
bool xmpp__ext_presence(struct conn *k, const struct xmpp_stanza *st);
bool xmpp__ext_message(struct conn *k, const struct xmpp_stanza *st);
bool xmpp__ext_iq(struct conn *k, const struct xmpp_stanza *iq);
void xmpp__ext_presence_children(struct xmpp_client *c, struct sbuf *b);
void xmpp__ext_online(struct xmpp_client *c);
void xmpp__ext_caps_changed(struct xmpp_client *c);
/* The online connection, or NULL. */
struct conn *xmpp__online(struct xmpp_client *c);
/* Count and log (rate limited) a stanza we refuse. */
void xmpp__drop(struct xmpp_client *c, uint64_t *counter, const char *what,
                const char *from);
/* Our own bare JID into out. */
void xmpp__own_bare(const struct xmpp_client *c, char *out, size_t len);

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
/* New parser, stream header sent, phase P_FEATURES; 0 or IPOP_ENOMEM. */
int xmpp__stream_restart(struct conn *k);
/* Sends <stream:error> with condition cond and closes the stream. */
void xmpp__send_stream_error(struct conn *k, const char *cond);
/* Stop parsing and close the connection after the current feed. */
int xmpp__close_after(struct conn *k, const char *reason, int code);
/* Close k; unless the client is stopping, schedule the next attempt. */
void xmpp__conn_close(struct conn *k, const char *reason, int code);
struct conn *xmpp__conn_new(struct xmpp_client *c);
/* Resolve, connect and log in: one connection attempt. */
void xmpp__attempt_start(struct xmpp_client *c);
/* ping_timer: connect timeout before online, XEP-0199 pings after. */
void xmpp__ping_cb(uv_timer_t *t);

/* ---- iq.c */
/* Send <iq type to id>payload</iq> and remember it; payload is the inner
 * XML.  to NULL: to our own account.  The answer (or the loss of the
 * connection) goes to answer.  0, IPOP_ESTATE, IPOP_EBUSY, IPOP_ENOMEM. */
int xmpp__iq_send(struct xmpp_client *c, xmpp_iq_answer_fn answer, int kind,
                  const char *type, const char *to, const char *room,
                  const char *jid, int aff, const char *payload);
/* An iq result/error: ours (answered and true) or not (false). */
bool xmpp__iq_reply(struct conn *k, const struct xmpp_stanza *iq);
/* Replies to a get/set iq. */
void xmpp__send_iq_error(struct conn *k, const struct xmpp_stanza *iq,
                         const char *type, const char *cond);
void xmpp__send_iq_result(struct conn *k, const struct xmpp_stanza *iq);
/* "<iq type='TYPE' id='ID' to='FROM'" answering iq; the caller adds the
 * rest. */
void xmpp__iq_reply_open(struct sbuf *b, const struct xmpp_stanza *iq,
                         const char *type);
/* Report a result through on_result (and log failures). */
void xmpp__report(struct xmpp_client *c, enum xmpp_op op, const char *room,
                  const char *jid, int err, const char *cond,
                  const char *text);
/* Condition of a type='error' stanza ("undefined-condition" if none) and
 * its <text/> (or "") into text. */
const char *xmpp__stanza_error(const struct xmpp_stanza *st, char *text,
                               size_t textlen);
/* Value of field var in a jabber:x:data form, or NULL. */
const char *xmpp__form_value(const struct xmpp_stanza *x, const char *var,
                             size_t *len);
/* The pending-request table as an extension (fails requests on loss). */
extern const struct xmpp_ext xmpp__iq_ext;

/* ---- roster.c */
/* Report one <item/> of a roster result or push. */
void xmpp__roster_item(struct xmpp_client *c, const struct xmpp_stanza *item,
                       bool full);

/* ---- session.c */
extern const struct xmpp_parser_cbs xmpp__parser_cbs;  /* ctx: struct conn */
void xmpp__send_presence(struct conn *k);
void xmpp__go_online(struct conn *k);

/* ---- extensions: registered by client.c */
extern const struct xmpp_ext xmpp__muc_ext, xmpp__block_ext, xmpp__pep_ext;
/* Initialise the PEP state (caps hash). */
void xmpp__pep_init(struct xmpp_client *c);

#endif
