/* wait and connect: several requests on one endpoint under one deadline.
 * A wait polls one request until commands_wait.c judges the answer good;
 * connect walks tincan through what a controller does for one link
 * (overlay, candidates, the peer's set, create_link) and then waits for
 * the link like `wait link`.  One request is in flight at a time; a poll
 * timer paces the next one and a deadline timer ends the whole command. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "steps.h"

#define POLL_MS 200
#define DEFAULT_DEADLINE_S 30

enum phase {
  P_WAIT,           /* wait: the polled request */
  P_OVERLAY,        /* connect: does the overlay exist (and with our node id)? */
  P_CREATE_OVERLAY,
  P_LINK,           /* is there a link to the peer already? */
  P_REMOVE_STALE,   /* one from an earlier attempt that did not come up */
  P_CANDIDATES,     /* ours, to --out */
  P_REMOTE,         /* the peer's, from --remote (no request: a file) */
  P_CREATE_LINK,
  P_UP,             /* poll the link until it is up */
};

struct steps {
  struct session s;
  const struct cli_command *cmd;
  struct cli_parsed *p;
  const json_t *local;
  bool tincan;
  enum phase phase;
  const char *wire;             /* the request last sent */
  uv_timer_t poll, deadline;
  uint64_t t0;
  unsigned deadline_s;
  bool answered;                /* the daemon answered at least once */
  bool unbound;                 /* the last check found its port unbound */
  bool done;
  int exit_code;
  uint64_t timeouts_before;     /* endpoint's timeout count before the request */
  char state[320];              /* what was seen last, for the deadline message */
  json_t *remote;               /* connect: the peer's candidate set */
};

static const char *lstr(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

static double elapsed_s(struct steps *st)
{
  return (uv_now(&st->s.loop) - st->t0) / 1000.0;
}

static void finish(struct steps *st, int code)
{
  if (st->done)
    return;
  st->done = true;
  st->exit_code = code;
  uv_timer_stop(&st->poll);
  uv_timer_stop(&st->deadline);
  if (st->s.ep)
    ctl_endpoint_close(st->s.ep); /* pending requests call back with done set */
  st->s.ep = NULL;
}

static void progress(struct steps *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void progress(struct steps *st, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "ipopctl: %s: ", st->cmd->name);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* The daemon answered with an error that ends the command (exit 1). */
static void daemon_error(struct steps *st, int status, const char *msg)
{
  const char *wire = st->wire;
  char hint[96];
  out_field_hint(st->cmd, msg, hint, sizeof hint);
  fprintf(stderr, "ipopctl: %s: %s answered %s to %s: %s%s\n", st->cmd->name, st->s.daemon,
          ipop_err_name(status), wire, msg ? msg : ipop_strerror(status), hint);
  if (st->s.o->json) {
    json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", ipop_err_name(status), "message",
                          msg ? msg : "");
    out_json(stdout, e);
    json_decref(e);
  }
  finish(st, EXIT_REMOTE);
}

static void on_poll(uv_timer_t *t);
static void next(struct steps *st, enum phase ph, uint64_t delay_ms)
{
  st->phase = ph;
  uv_timer_start(&st->poll, on_poll, delay_ms, 0);
}

static void on_reply(int status, const void *result, const char *err_msg, void *ctx);

/* Sends one request of the current phase (body reference stolen). */
static void send_req(struct steps *st, const char *wire, json_t *body)
{
  if (udp_port_bound(st->s.port) == 0) {
    json_decref(body);
    st->unbound = true;
    snprintf(st->state, sizeof st->state, "%s is not running (nothing listens on %s)",
             st->s.daemon, st->s.server);
    next(st, st->phase, POLL_MS);
    return;
  }
  st->unbound = false;
  st->wire = wire;
  uint64_t left_ms = (uint64_t)st->deadline_s * 1000 - (uv_now(&st->s.loop) - st->t0);
  uint64_t timeout = st->s.o->timeout_ms < left_ms ? st->s.o->timeout_ms : left_ms;
  st->timeouts_before = ctl_endpoint_stats(st->s.ep)->timeouts;
  int rc = ctl_request_send_json(st->s.ep, (struct sockaddr *)&st->s.to, wire, body,
                                 (uint32_t)(timeout < 50 ? 50 : timeout), on_reply, st);
  if (rc) {
    fprintf(stderr, "ipopctl: %s: cannot send \"%s\": %s\n", st->cmd->name, wire,
            ipop_strerror(rc));
    finish(st, EXIT_LOCAL);
  }
}

static json_t *link_ref(struct steps *st)
{
  return json_pack("{s:s, s:s}", "overlay_id", lstr(st->p->body, "overlay_id"), "peer_id",
                   lstr(st->local, "peer"));
}

/* --out: our candidate set, written whole (a peer polling for it never
 * reads half a file) and 0600 (it carries the ICE password). */
static int write_out(struct steps *st, const json_t *set)
{
  const char *path = lstr(st->local, "out");
  if (strcmp(path, "-") == 0) {
    out_json(stdout, set);
    fflush(stdout);
    return 0;
  }
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!f) {
    fprintf(stderr, "ipopctl: %s: --out %s: %s\n", st->cmd->name, tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
    return EXIT_LOCAL;
  }
  out_json(f, set);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "ipopctl: %s: --out %s: %s\n", st->cmd->name, path, strerror(errno));
    unlink(tmp);
    return EXIT_LOCAL;
  }
  return 0;
}

/* --remote: 1 the peer's set is in st->remote, 0 not there (yet), or an
 * EXIT_* code when it is there but wrong. */
static int read_remote(struct steps *st)
{
  const char *path = lstr(st->local, "remote");
  json_error_t je;
  json_t *set = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
  if (!set) {
    if (access(path, F_OK) != 0)
      snprintf(st->state, sizeof st->state, "no --remote %s yet (the peer's --out)", path);
    else /* perhaps still being copied: try again */
      snprintf(st->state, sizeof st->state, "--remote %s: %s (line %d)", path, je.text,
               je.line);
    return 0;
  }
  char err[512];
  int rc = connect_check_set(set, st->p->body, st->local, err, sizeof err);
  if (rc) {
    fprintf(stderr, "ipopctl: %s: %s\n", st->cmd->name, err);
    json_decref(set);
    return rc;
  }
  st->remote = set;
  return 1;
}

/* The link to --peer in a query_link_stats answer (NULL: none). */
static const json_t *peer_link(struct steps *st, const json_t *result)
{
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(result, "links"), i, l)
    if (lstr(l, "peer_id") && strcmp(lstr(l, "peer_id"), lstr(st->local, "peer")) == 0)
      return l;
  return NULL;
}

static void link_is_up(struct steps *st, const json_t *l, const char *how)
{
  bool to_stdout = strcmp(lstr(st->local, "out"), "-") != 0;
  if (st->s.o->json) {
    out_json(stdout, l);
  } else {
    FILE *f = to_stdout ? stdout : stderr;
    fprintf(f, "link %s/%s is %s", lstr(l, "overlay_id"), lstr(l, "peer_id"), how);
    if (lstr(l, "pair_type") && strcmp(lstr(l, "pair_type"), "none") != 0)
      fprintf(f, ": %s pair, rtt %.1f ms", lstr(l, "pair_type"),
              json_integer_value(json_object_get(l, "rtt_us")) / 1000.0);
    fprintf(f, " (after %.1f s)\n", elapsed_s(st));
  }
  finish(st, EXIT_OK);
}

static void on_poll(uv_timer_t *t)
{
  struct steps *st = t->data;
  json_t *body = NULL;
  const char *wire;
  switch (st->phase) {
  case P_WAIT:
    wire = wait_request(st->cmd, st->local, st->tincan, &body);
    send_req(st, wire, body);
    return;
  case P_OVERLAY:
    send_req(st, "query_overlay_info",
             json_pack("{s:s}", "overlay_id", lstr(st->p->body, "overlay_id")));
    return;
  case P_CREATE_OVERLAY:
    send_req(st, "create_overlay", json_deep_copy(st->p->body));
    return;
  case P_LINK:
  case P_UP:
    send_req(st, "query_link_stats", link_ref(st));
    return;
  case P_REMOVE_STALE:
    send_req(st, "remove_link", link_ref(st));
    return;
  case P_CANDIDATES:
    send_req(st, "query_candidates", link_ref(st));
    return;
  case P_REMOTE: {
    int rc = read_remote(st);
    if (rc == 0)
      next(st, P_REMOTE, POLL_MS);
    else if (rc == 1)
      next(st, P_CREATE_LINK, 0);
    else
      finish(st, rc);
    return;
  }
  case P_CREATE_LINK:
    body = link_ref(st);
    cli_link_body_from_set(body, st->remote);
    send_req(st, "create_link", body);
    return;
  }
}

/* Errors that a wait outlives: the object is not there yet, the daemon is
 * busy or cannot reach the other daemon for now. */
static bool transient(int status)
{
  return status == IPOP_ENOENT || status == IPOP_ESTATE || status == IPOP_ETIMEDOUT ||
         status == IPOP_ECONNREFUSED || status == IPOP_EBUSY;
}

static void wait_answer(struct steps *st, int status, const json_t *result, const char *msg)
{
  if (status) {
    if (!transient(status)) {
      daemon_error(st, status, msg);
      return;
    }
    snprintf(st->state, sizeof st->state, "%s answered %s: %s", st->s.daemon,
             ipop_err_name(status), msg ? msg : ipop_strerror(status));
    next(st, P_WAIT, POLL_MS);
    return;
  }
  const json_t *match;
  if (wait_judge(st->cmd, st->local, st->tincan, result, &match, st->state,
                 sizeof st->state) == WAIT_NOT_YET) {
    next(st, P_WAIT, POLL_MS);
    return;
  }
  if (st->s.o->json)
    out_json(stdout, match);
  else
    wait_describe(stdout, st->cmd, st->local, st->tincan, match, elapsed_s(st));
  finish(st, EXIT_OK);
}

static void connect_answer(struct steps *st, int status, const json_t *result, const char *msg)
{
  const char *ov = lstr(st->p->body, "overlay_id"), *node = lstr(st->p->body, "node_id");
  const char *peer = lstr(st->local, "peer");
  const json_t *l;
  if (status && !(status == IPOP_ENOENT && (st->phase == P_OVERLAY || st->phase == P_LINK ||
                                            st->phase == P_REMOVE_STALE))) {
    daemon_error(st, status, msg);
    return;
  }
  switch (st->phase) {
  case P_OVERLAY:
    if (status && !lstr(st->p->body, "tap_name")) {
      fprintf(stderr, "ipopctl: %s: ipop-tincan has no overlay \"%s\": give --tap NAME (and "
              "--ip4 ADDR/PREFIX) to create it\n", st->cmd->name, ov);
      finish(st, EXIT_REMOTE);
    } else if (status) {
      next(st, P_CREATE_OVERLAY, 0);
    } else if (strcmp(lstr(result, "node_id") ? lstr(result, "node_id") : "", node) != 0) {
      fprintf(stderr, "ipopctl: %s: overlay \"%s\" exists with node id \"%s\", not --node %s\n",
              st->cmd->name, ov, lstr(result, "node_id") ? lstr(result, "node_id") : "?", node);
      finish(st, EXIT_REMOTE);
    } else {
      next(st, P_LINK, 0);
    }
    return;
  case P_CREATE_OVERLAY:
    progress(st, "created overlay %s (TAP %s)", ov, lstr(result, "tap_name"));
    next(st, P_LINK, 0);
    return;
  case P_LINK:
    l = status ? NULL : peer_link(st, result);
    if (l && lstr(l, "state") && strcmp(lstr(l, "state"), "up") == 0) {
      link_is_up(st, l, "up already");
    } else if (l && lstr(l, "state") && strcmp(lstr(l, "state"), "new") != 0) {
      progress(st, "replacing the link to %s left %s by an earlier attempt", peer,
               lstr(l, "state"));
      next(st, P_REMOVE_STALE, 0);
    } else {
      next(st, P_CANDIDATES, 0);
    }
    return;
  case P_REMOVE_STALE:
    next(st, P_CANDIDATES, 0);
    return;
  case P_CANDIDATES: {
    int rc = write_out(st, result);
    if (rc) {
      finish(st, rc);
      return;
    }
    if (strcmp(lstr(st->local, "out"), "-") != 0)
      progress(st, "wrote our candidate set for %s to %s: it is %s's --remote", peer,
               lstr(st->local, "out"), peer);
    snprintf(st->state, sizeof st->state, "no --remote %s yet", lstr(st->local, "remote"));
    next(st, P_REMOTE, 0);
    return;
  }
  case P_CREATE_LINK:
    progress(st, "link to %s created from %s; waiting for it to come up", peer,
             lstr(st->local, "remote"));
    next(st, P_UP, POLL_MS);
    return;
  case P_UP:
    l = peer_link(st, result);
    if (l && strcmp(lstr(l, "state") ? lstr(l, "state") : "", "up") == 0) {
      link_is_up(st, l, "up");
    } else if (l && strcmp(lstr(l, "state") ? lstr(l, "state") : "", "failed") == 0) {
      fprintf(stderr, "ipopctl: %s: the link to %s failed (no ICE pair worked, or DTLS did "
              "not accept the peer): was %s written by %s's connect of this attempt? Remove "
              "both files and run connect again on both sides\n", st->cmd->name, peer,
              lstr(st->local, "remote"), peer);
      finish(st, EXIT_REMOTE);
    } else {
      snprintf(st->state, sizeof st->state, "link %s/%s: %s", ov, peer,
               l && lstr(l, "state") ? lstr(l, "state") : "gone");
      next(st, P_UP, POLL_MS);
    }
    return;
  case P_WAIT:
  case P_REMOTE:
    return;
  }
}

static void on_reply(int status, const void *result, const char *err_msg, void *ctx)
{
  struct steps *st = ctx;
  if (st->done)
    return;
  if (status == IPOP_ETIMEDOUT && ctl_endpoint_stats(st->s.ep)->timeouts > st->timeouts_before) {
    snprintf(st->state, sizeof st->state, "%s at %s did not answer", st->s.daemon,
             st->s.server);
    next(st, st->phase, 0); /* silence: ask again (the deadline ends it) */
    return;
  }
  if (status == IPOP_EAUTH || status == IPOP_EREPLAY) {
    session_report_refused(&st->s, status, err_msg);
    finish(st, EXIT_REFUSED);
    return;
  }
  st->answered = true;
  if (st->phase == P_WAIT)
    wait_answer(st, status, result, err_msg);
  else
    connect_answer(st, status, result, err_msg);
}

static void on_deadline(uv_timer_t *t)
{
  struct steps *st = t->data;
  if (st->done)
    return;
  if (!st->answered) {
    session_not_answering(&st->s, st->unbound, st->deadline_s * 1000);
    finish(st, EXIT_NOANSWER);
    return;
  }
  fprintf(stderr, "ipopctl: %s: not done within the deadline of %u s (last: %s)\n",
          st->cmd->name, st->deadline_s, st->state[0] ? st->state : "nothing yet");
  finish(st, EXIT_DEADLINE);
}

int steps_run(struct opts *o, const struct cli_command *cmd, struct cli_parsed *p)
{
  struct steps st = { .cmd = cmd, .p = p, .local = p->local, .exit_code = EXIT_NOANSWER };
  st.tincan = cmd->daemon == CLI_TINCAN || (cmd->daemon == CLI_ANY && o->tincan);
  char err[512];
  if (cmd->daemon != CLI_TINCAN &&
      wait_check_target(cmd, p->local, st.tincan, err, sizeof err) != 0) {
    fprintf(stderr, "ipopctl: %s\n", err);
    return EXIT_USAGE;
  }
  json_t *dl = json_object_get(p->local, "deadline");
  st.deadline_s = dl ? (unsigned)json_integer_value(dl) : DEFAULT_DEADLINE_S;
  int rc = session_open(&st.s, o, st.tincan, NULL, NULL);
  if (rc)
    return rc;
  uv_timer_init(&st.s.loop, &st.poll);
  uv_timer_init(&st.s.loop, &st.deadline);
  st.poll.data = st.deadline.data = &st;
  uv_update_time(&st.s.loop);
  st.t0 = uv_now(&st.s.loop);
  uv_timer_start(&st.deadline, on_deadline, (uint64_t)st.deadline_s * 1000, 0);
  next(&st, cmd->wire || strcmp(cmd->name, "connect") != 0 ? P_WAIT : P_OVERLAY, 0);
  uv_run(&st.s.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&st.poll, NULL);
  uv_close((uv_handle_t *)&st.deadline, NULL);
  session_close(&st.s);
  json_decref(st.remote);
  return st.exit_code;
}
