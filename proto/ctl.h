/* The control socket: authenticated JSON datagrams over loopback UDP.
 *
 * One ctl_endpoint per process.  It answers incoming requests through a
 * table of handlers, sends requests of its own and matches their responses,
 * and delivers events.  Every datagram is encrypted and authenticated
 * (AES-256-GCM, see ctl_auth.h); unauthenticated ones are dropped and
 * counted before any JSON is parsed, and each request is checked against
 * its handler's permission (ctl_permit_cb) before its body is decoded. */
#ifndef IPOP_PROTO_CTL_H
#define IPOP_PROTO_CTL_H

#include <jansson.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "ctl_auth.h"
#include "messages.h"

#define CTL_PROTOCOL_VERSION 1
#define CTL_DEFAULT_TINCAN_PORT 5800
#define CTL_DEFAULT_CONTROLLER_PORT 5801
#define CTL_MAX_JSON_DEPTH 16
#define CTL_DEFAULT_TIMEOUT_MS 5000

struct ctl_endpoint;
struct ctl_request; /* an incoming request waiting for its answer */

/* Incoming request, body already validated against the message's schema
 * and decoded into its struct.  The handler must call ctl_reply() or
 * ctl_reply_error() exactly once, now or later (the request stays valid
 * until then; at most CTL_MAX_PENDING_IN requests can be outstanding). */
typedef void (*ctl_request_cb)(struct ctl_endpoint *ep, struct ctl_request *req,
                               const void *body, void *ctx);

/* Incoming event, decoded like a request body. */
typedef void (*ctl_event_cb)(struct ctl_endpoint *ep, const struct sockaddr *from,
                             const struct ctl_msg_desc *msg, const void *body, void *ctx);

/* Answer to a request we sent.  status 0: result is the decoded struct
 * (typed API) or the JSON object (raw API).  status < 0: IPOP_ETIMEDOUT,
 * IPOP_EAUTH (the peer refused our key), or the error code the peer sent,
 * with its message in err_msg. */
typedef void (*ctl_response_cb)(int status, const void *result, const char *err_msg,
                                void *ctx);

struct ctl_handler {
  const char *name;
  ctl_request_cb cb;
};

/* Who may send what (OpenSSH's monitor is the model): before a request's
 * body is even decoded, and for every incoming event, the daemon's permit
 * callback decides from the message name, the sender and the daemon's
 * state.  Return 0 to allow, or an IPOP_E* code (usually IPOP_EPERM) with
 * a sentence in why: a refused request is answered with that error, a
 * refused event dropped; both are counted (stats.refused) and logged. */
typedef int (*ctl_permit_cb)(struct ctl_endpoint *ep, const struct sockaddr *from,
                             const char *name, char *why, size_t whylen, void *ctx);

struct ctl_endpoint_config {
  const char *bind_addr;        /* "127.0.0.1" or "::1" */
  uint16_t port;                /* 0: ephemeral (clients) */
  const uint8_t *key;           /* IPOP_SECRET_LEN bytes */
  /* Messages this endpoint accepts (requests and events). */
  const struct ctl_msg_desc *messages;
  unsigned n_messages;
  const struct ctl_handler *handlers;
  unsigned n_handlers;
  ctl_event_cb on_event;        /* may be NULL: events are then dropped */
  ctl_permit_cb permit;         /* may be NULL: every key holder may send anything */
  void *ctx;                    /* passed to handlers, on_event and permit */
};

struct ctl_endpoint_stats {
  struct ctl_auth_stats auth;   /* rejected datagrams by reason */
  uint64_t requests_in, responses_out, requests_out, responses_in, events_in,
      events_out, bad_messages, timeouts;
  uint64_t refused;             /* requests and events the permit callback refused */
};

/* Event monitors: read-only listeners (ipopctl listen) that get a copy of
 * every event this endpoint sends, whoever the event is addressed to, for
 * lease_ms after their last subscription.  At most CTL_MAX_MONITORS. */
#define CTL_MAX_MONITORS 4
#define CTL_MONITOR_LEASE_MS 30000

int ctl_endpoint_open(uv_loop_t *loop, const struct ctl_endpoint_config *cfg,
                      struct ctl_endpoint **out);
/* Stops receiving, fails pending outgoing requests with IPOP_ECONNREFUSED and
 * frees the endpoint once libuv has closed its handles. */
void ctl_endpoint_close(struct ctl_endpoint *ep);
const struct ctl_endpoint_stats *ctl_endpoint_stats(const struct ctl_endpoint *ep);
/* The bound local address (useful with port 0). */
int ctl_endpoint_sockname(const struct ctl_endpoint *ep, struct sockaddr_storage *ss);

/* Typed request: body encoded with msg->body, answer decoded with
 * msg->result and passed to cb as a pointer to that struct. */
int ctl_request_send(struct ctl_endpoint *ep, const struct sockaddr *to,
                     const struct ctl_msg_desc *msg, const void *body,
                     uint32_t timeout_ms, ctl_response_cb cb, void *ctx);
/* Raw request (ipopctl): body is any JSON object (reference stolen), the
 * answer's result is passed to cb as a json_t * (borrowed). */
int ctl_request_send_json(struct ctl_endpoint *ep, const struct sockaddr *to,
                          const char *name, json_t *body, uint32_t timeout_ms,
                          ctl_response_cb cb, void *ctx);

int ctl_reply(struct ctl_request *req, const void *result);
int ctl_reply_error(struct ctl_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const struct sockaddr *ctl_request_peer(const struct ctl_request *req);
const char *ctl_request_name(const struct ctl_request *req);

/* Send an event to `to`, and a copy to every live monitor. */
int ctl_event_send(struct ctl_endpoint *ep, const struct sockaddr *to,
                   const struct ctl_msg_desc *msg, const void *body);
/* Add or renew a monitor.  Returns 1 if it is new, 0 if renewed, IPOP_EBUSY
 * if all CTL_MAX_MONITORS slots hold live monitors. */
int ctl_monitor_add(struct ctl_endpoint *ep, const struct sockaddr *who, uint32_t lease_ms);

/* Same family, address and port. */
bool ctl_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* "127.0.0.1:5801" or "[::1]:5801". */
void ctl_sockaddr_text(const struct sockaddr *sa, char *buf, size_t n);

/* "127.0.0.1:5800", "[::1]:5800" or "localhost:5800" -> sockaddr (loopback
 * only unless allow_any).  Returns 0 or IPOP_EINVAL. */
int ctl_parse_endpoint(const char *text, struct sockaddr_storage *ss, int allow_any);

#endif
