/* Where ipopctl sends and the open control endpoint: the global options,
 * config.json's Control section, the key, one UDP endpoint on a libuv
 * loop.  main.c sends one request through it; steps.c several (wait,
 * connect). */
#ifndef IPOPCTL_SESSION_H
#define IPOPCTL_SESSION_H

#include <stdbool.h>
#include <sys/socket.h>
#include <uv.h>

#include "ctl.h"
#include "ctl_config.h"

#define DEFAULT_CONFIG "/etc/ipop/config.json"

struct opts {
  const char *key_file;
  const char *key_from;         /* "-k", "$IPOP_CONTROL_KEY", "Control.KeyFile in X" */
  const char *server;
  const char *config;
  bool config_explicit;
  bool tincan;
  bool json;
  unsigned timeout_ms;
};

struct session {
  struct opts *o;
  bool tincan_target;
  const char *daemon;           /* "ipop-tincan" / "ipop-controller" */
  const char *server;           /* endpoint text */
  struct sockaddr_storage to;
  unsigned port;
  struct ctl_config cfg;        /* the Control section (or the defaults) */
  uv_loop_t loop;
  struct ctl_endpoint *ep;
};

/* Picks the daemon's endpoint and key (flags, environment, config file),
 * opens a local endpoint on s->loop.  on_event may be NULL.  Returns 0, or
 * an EXIT_* code after printing why. */
int session_open(struct session *s, struct opts *o, bool tincan, ctl_event_cb on_event,
                 void *ctx);
/* Closes the endpoint (if still open) and the loop. */
void session_close(struct session *s);

/* Whether anything in this network namespace has UDP port `port` bound:
 * 1 yes, 0 no, -1 cannot tell. */
int udp_port_bound(unsigned port);
/* "nothing listens on ..." (bound_checked) or "... did not answer within
 * N s", naming the config key of the endpoint. */
void session_not_answering(const struct session *s, bool bound_checked, unsigned waited_ms);

/* The daemon refused our key (IPOP_EAUTH) or took the request for a
 * replay (IPOP_EREPLAY): what to check. */
void session_report_refused(const struct session *s, int status, const char *err_msg);

#endif
