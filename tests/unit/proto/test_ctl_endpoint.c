/* The control endpoint on a real libuv loop over 127.0.0.1 with ephemeral
 * ports: a server with handlers, a client, and a raw "probe" socket for
 * hostile datagrams.  No fixed sleeps: the loop runs until the awaited
 * callback fires, with a uv timer as a deadline that fails the test.  Every
 * test closes its endpoints and asserts uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_auth.h"
#include "envelope.h"
#include "error.h"
#include "log.h"
#include "messages.h"

static const uint8_t key_a[IPOP_SECRET_LEN] = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
                                                0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0,
                                                0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8,
                                                0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xc0 };
static uint8_t key_b[IPOP_SECRET_LEN];

struct answer {
  bool done;
  int calls;
  int status;
  char err_msg[512];
  struct ctl_echo echo;  /* typed echo result */
  char raw[1024];        /* raw result, serialized */
  uint64_t at_ms;        /* uv_now when it came */
};

struct fx {
  uv_loop_t loop;
  uv_timer_t deadline;
  bool expired;
  struct ctl_endpoint *server, *client;
  struct sockaddr_storage server_addr, client_addr;
  /* held requests (handlers that answer later) */
  struct ctl_request *held;
  int handled;
  /* remove_overlay: every request held until the test answers it */
  struct ctl_request *held_many[300];
  int n_held_many;
  /* events seen by the client */
  int events;
  struct ctl_ev_link_state ev;
  char ev_name[CTL_NAME_LEN];
  /* the probe socket */
  uv_udp_t probe;
  bool probe_open;
  int probe_got;
  uint8_t probe_buf[CTL_MAX_DGRAM];
  size_t probe_len;
  /* permissions: what the permit callbacks refuse */
  bool refuse_create;           /* server: create_overlay */
  bool refuse_events;           /* client: every event */
  int permit_calls;
};

/* ---- handlers ---------------------------------------------------------- */

static void on_echo(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                    void *ctx)
{
  struct fx *fx = ctx;
  fx->handled++;
  assert_string_equal(ctl_request_name(req), "echo");
  assert_int_equal(ctl_reply(req, body), 0);
}

static void on_create_overlay(struct ctl_endpoint *ep, struct ctl_request *req,
                              const void *body, void *ctx)
{
  struct fx *fx = ctx;
  fx->handled++;
  ctl_reply_error(req, IPOP_ENOTSUP, "not in this test");
}

/* remove_link: keep the request and answer later. */
static void on_hold(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                    void *ctx)
{
  struct fx *fx = ctx;
  fx->handled++;
  assert_null(fx->held);
  fx->held = req;
}

static void on_hold_many(struct ctl_endpoint *ep, struct ctl_request *req, const void *body,
                         void *ctx)
{
  struct fx *fx = ctx;
  fx->handled++;
  assert_true(fx->n_held_many < 300);
  fx->held_many[fx->n_held_many++] = req;
}

/* The test's permission table: create_overlay (server) and events (client)
 * can be refused. */
static int permit(struct ctl_endpoint *ep, const struct sockaddr *from, const char *name,
                  char *why, size_t whylen, void *ctx)
{
  struct fx *fx = ctx;
  fx->permit_calls++;
  if ((fx->refuse_create && strcmp(name, "create_overlay") == 0) ||
      (fx->refuse_events && strcmp(name, "link_state") == 0)) {
    snprintf(why, whylen, "%s: permission denied in this test", name);
    return IPOP_EPERM;
  }
  return 0;
}

static const struct ctl_handler server_handlers[] = {
  { "echo", on_echo },
  { "create_overlay", on_create_overlay },
  { "remove_link", on_hold },
  { "remove_overlay", on_hold_many },
};

static void on_event(struct ctl_endpoint *ep, const struct sockaddr *from,
                     const struct ctl_msg_desc *msg, const void *body, void *ctx)
{
  struct fx *fx = ctx;
  fx->events++;
  snprintf(fx->ev_name, sizeof fx->ev_name, "%s", msg->name);
  if (strcmp(msg->name, "link_state") == 0)
    memcpy(&fx->ev, body, sizeof fx->ev);
}

/* ---- response callbacks -------------------------------------------------- */

static struct fx *g_fx; /* for uv_now in callbacks */

static void record(struct answer *a, int status, const char *err_msg)
{
  a->calls++;
  a->done = true;
  a->status = status;
  a->at_ms = uv_now(&g_fx->loop);
  snprintf(a->err_msg, sizeof a->err_msg, "%s", err_msg ? err_msg : "");
}

static void on_typed_echo(int status, const void *result, const char *err_msg, void *ctx)
{
  struct answer *a = ctx;
  record(a, status, err_msg);
  if (status == 0)
    memcpy(&a->echo, result, sizeof a->echo);
}

static void on_raw(int status, const void *result, const char *err_msg, void *ctx)
{
  struct answer *a = ctx;
  record(a, status, err_msg);
  if (status == 0) {
    char *s = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);
    snprintf(a->raw, sizeof a->raw, "%s", s);
    free(s);
  }
}

/* ---- loop helpers --------------------------------------------------------- */

static void on_deadline(uv_timer_t *t)
{
  struct fx *fx = t->data;
  fx->expired = true;
}

/* Run the loop until *flag is set; fail the test after timeout_ms. */
static void run_until(struct fx *fx, const bool *flag, uint64_t timeout_ms)
{
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, timeout_ms, 0);
  while (!*flag && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  if (!*flag)
    fail_msg("no callback within %llu ms", (unsigned long long)timeout_ms);
}

static struct ctl_endpoint *open_ep(struct fx *fx, const uint8_t *key, bool server,
                                    struct sockaddr_storage *addr)
{
  struct ctl_endpoint_config cfg = {
    .bind_addr = "127.0.0.1",
    .port = 0,
    .key = key,
    .messages = server ? ctl_tincan_messages : ctl_controller_messages,
    .n_messages = server ? ctl_tincan_messages_count : ctl_controller_messages_count,
    .handlers = server ? server_handlers : NULL,
    .n_handlers = server ? sizeof server_handlers / sizeof server_handlers[0] : 0,
    .on_event = server ? NULL : on_event,
    .permit = permit,
    .ctx = fx,
  };
  struct ctl_endpoint *ep = NULL;
  assert_int_equal(ctl_endpoint_open(&fx->loop, &cfg, &ep), 0);
  assert_non_null(ep);
  assert_int_equal(ctl_endpoint_sockname(ep, addr), 0);
  assert_int_equal(addr->ss_family, AF_INET);
  assert_int_not_equal(((struct sockaddr_in *)addr)->sin_port, 0);
  return ep;
}

static int setup(void **state)
{
  struct fx *fx = calloc(1, sizeof *fx);
  g_fx = fx;
  ipop_log_init("test_ctl_endpoint", IPOP_LOG_ERROR);
  memcpy(key_b, key_a, sizeof key_b);
  key_b[0] ^= 0x80;
  if (uv_loop_init(&fx->loop))
    return -1;
  uv_timer_init(&fx->loop, &fx->deadline);
  fx->deadline.data = fx;
  fx->server = open_ep(fx, key_a, true, &fx->server_addr);
  fx->client = open_ep(fx, key_a, false, &fx->client_addr);
  *state = fx;
  return 0;
}

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct fx *fx = h->data;
  *buf = uv_buf_init((char *)fx->probe_buf, sizeof fx->probe_buf);
}

static void probe_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                       const struct sockaddr *from, unsigned flags)
{
  struct fx *fx = u->data;
  if (nread <= 0 || !from)
    return;
  fx->probe_got++;
  fx->probe_len = (size_t)nread;
}

static void probe_open(struct fx *fx)
{
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_udp_init(&fx->loop, &fx->probe), 0);
  fx->probe.data = fx;
  fx->probe_open = true;
  assert_int_equal(uv_udp_bind(&fx->probe, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_udp_recv_start(&fx->probe, probe_alloc, probe_recv), 0);
}

static void probe_send(struct fx *fx, const struct sockaddr *to, const void *data, size_t len)
{
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  assert_int_equal(uv_udp_try_send(&fx->probe, &b, 1, to), (int)len);
}

static int teardown(void **state)
{
  struct fx *fx = *state;
  if (fx->held)
    ctl_reply_error(fx->held, IPOP_EINTERNAL, "test over");
  for (int i = 0; i < fx->n_held_many; i++)
    ctl_reply_error(fx->held_many[i], IPOP_EINTERNAL, "test over");
  ctl_endpoint_close(fx->server);
  ctl_endpoint_close(fx->client);
  if (fx->probe_open)
    uv_close((uv_handle_t *)&fx->probe, NULL);
  uv_close((uv_handle_t *)&fx->deadline, NULL);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&fx->loop);
  free(fx);
  assert_int_equal(rc, 0);
  return 0;
}

static const struct ctl_msg_desc *msg(const char *name)
{
  const struct ctl_msg_desc *m = ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, name);
  assert_non_null(m);
  return m;
}

#define SERVER ((const struct sockaddr *)&fx->server_addr)
#define CLIENT ((const struct sockaddr *)&fx->client_addr)

/* ---- tests ------------------------------------------------------------- */

static void test_typed_echo(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "hello, tincan \xc3\xa9" };
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("echo"), &e, 2000, on_typed_echo, &a),
                   0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.echo.message, e.message);
  assert_int_equal(a.calls, 1);
  assert_int_equal(fx->handled, 1);
  const struct ctl_endpoint_stats *ss = ctl_endpoint_stats(fx->server);
  assert_int_equal(ss->requests_in, 1);
  assert_int_equal(ss->responses_out, 1);
  assert_int_equal(ss->auth.accepted, 1);
  const struct ctl_endpoint_stats *cs = ctl_endpoint_stats(fx->client);
  assert_int_equal(cs->requests_out, 1);
  assert_int_equal(cs->responses_in, 1);
  assert_int_equal(cs->timeouts, 0);
  /* a request that is not a request is refused locally */
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("link_state"), &e, 0, on_typed_echo,
                                    &a),
                   IPOP_EINVAL);
}

static void test_many_echoes_in_flight(void **state)
{
  struct fx *fx = *state;
  enum { N = 50 };
  struct answer a[N];
  struct ctl_echo e[N];
  memset(a, 0, sizeof a);
  for (int i = 0; i < N; i++) {
    snprintf(e[i].message, sizeof e[i].message, "message %d", i);
    assert_int_equal(
        ctl_request_send(fx->client, SERVER, msg("echo"), &e[i], 2000, on_typed_echo, &a[i]), 0);
  }
  run_until(fx, &a[N - 1].done, 3000);
  for (int i = 0; i < N; i++) {
    run_until(fx, &a[i].done, 3000);
    assert_int_equal(a[i].status, 0);
    assert_int_equal(a[i].calls, 1);
    assert_string_equal(a[i].echo.message, e[i].message); /* matched by txid */
  }
}

static void test_raw_json_request(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 };
  json_t *body = json_pack("{s:s}", "message", "raw hello");
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "echo", body, 2000, on_raw, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.raw, "{\"message\":\"raw hello\"}");
  /* local argument checks; the body is consumed either way */
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "echo", json_array(), 0, on_raw, &a),
                   IPOP_EINVAL);
  assert_int_equal(ctl_request_send_json(fx->client, SERVER,
                                         "a_name_that_is_far_too_long_for_the_envelope_"
                                         "0123456789012345678",
                                         json_object(), 0, on_raw, &a),
                   IPOP_EINVAL);
}

static void test_unknown_command(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 }, b = { 0 };
  assert_int_equal(
      ctl_request_send_json(fx->client, SERVER, "no_such_cmd", json_object(), 2000, on_raw, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_ENOCMD);
  assert_string_equal(a.err_msg, "unknown command \"no_such_cmd\"");
  /* in the table but without a handler here */
  assert_int_equal(
      ctl_request_send_json(fx->client, SERVER, "create_link", json_object(), 2000, on_raw, &b), 0);
  run_until(fx, &b.done, 3000);
  assert_int_equal(b.status, IPOP_ENOTSUP);
  assert_string_equal(b.err_msg, "command \"create_link\" is not served by this daemon");
  assert_int_equal(fx->handled, 0);
}

static void test_body_field_errors(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
  json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "overlay_id", "o", "node_id", "n", "tap_name",
                           "ipop0", "mtu", "big");
  assert_int_equal(
      ctl_request_send_json(fx->client, SERVER, "create_overlay", body, 2000, on_raw, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_EFIELD);
  assert_string_equal(a.err_msg, "body.mtu: expected integer in 576..9000, found \"big\"");

  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "echo", json_object(), 2000, on_raw, &b),
                   0);
  run_until(fx, &b.done, 3000);
  assert_int_equal(b.status, IPOP_EMISSING);
  assert_string_equal(b.err_msg, "body.message: required key is missing");

  body = json_pack("{s:s, s:i}", "message", "m", "extra", 1);
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "echo", body, 2000, on_raw, &c), 0);
  run_until(fx, &c.done, 3000);
  assert_int_equal(c.status, IPOP_EUNKNOWN);
  assert_string_equal(c.err_msg, "body.extra: unknown key (not part of echo)");

  /* the secret TURN password is never echoed back */
  body = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}", "overlay_id", "o", "node_id", "n",
                   "tap_name", "ipop0", "turn", "address", "t:3478", "user", "u", "password",
                   "hunter2\n");
  assert_int_equal(
      ctl_request_send_json(fx->client, SERVER, "create_overlay", body, 2000, on_raw, &d), 0);
  run_until(fx, &d.done, 3000);
  assert_int_equal(d.status, IPOP_EFIELD);
  assert_string_equal(d.err_msg, "body.turn[0].password: string contains control characters or NUL");
  assert_int_equal(fx->handled, 0);
  assert_int_equal(ctl_endpoint_stats(fx->server)->bad_messages, 4);
}

static void test_handler_error_reply(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 };
  json_t *body = json_pack("{s:s, s:s, s:s}", "overlay_id", "o", "node_id", "n", "tap_name", "t");
  assert_int_equal(
      ctl_request_send_json(fx->client, SERVER, "create_overlay", body, 2000, on_raw, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_ENOTSUP);
  assert_string_equal(a.err_msg, "not in this test");
}

static void test_deferred_reply(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 };
  json_t *body = json_pack("{s:s, s:s}", "overlay_id", "o", "peer_id", "p");
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "remove_link", body, 2000, on_raw, &a),
                   0);
  /* the handler keeps the request */
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (!fx->held && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  assert_non_null(fx->held);
  assert_false(a.done);
  struct ctl_ack ack = { .message = "removed later" };
  struct ctl_request *req = fx->held;
  fx->held = NULL;
  assert_int_equal(ctl_reply(req, &ack), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.raw, "{\"message\":\"removed later\"}");
}

static void test_request_held_across_close(void **state)
{
  struct fx *fx = *state;
  struct answer a = { 0 };
  json_t *body = json_pack("{s:s, s:s}", "overlay_id", "o", "peer_id", "p");
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "remove_link", body, 5000, on_raw, &a),
                   0);
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (!fx->held && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  assert_non_null(fx->held);
  /* the server goes away with the request still held by its handler */
  ctl_endpoint_close(fx->server);
  fx->server = NULL;
  struct ctl_request *req = fx->held;
  fx->held = NULL;
  assert_int_equal(ctl_reply(req, &(struct ctl_ack){ .message = "late" }), IPOP_ESTATE);
  /* the client's pending request is failed when the client closes */
  ctl_endpoint_close(fx->client);
  fx->client = NULL;
  assert_true(a.done);
  assert_int_equal(a.status, IPOP_ECONNREFUSED);
}

/* At most 256 requests can wait for their handler's answer; the next one is
 * refused as busy, and all of them are answered once the handler replies. */
static void test_too_many_requests_in_progress(void **state)
{
  struct fx *fx = *state;
  enum { MAX_IN = 256, BATCH = 32 };
  struct answer *a = calloc(MAX_IN + 1, sizeof *a);
  int sent = 0;
  while (sent < MAX_IN) {
    for (int k = 0; k < BATCH; k++, sent++)
      assert_int_equal(ctl_request_send_json(fx->client, SERVER, "remove_overlay",
                                             json_pack("{s:s}", "overlay_id", "o"), 10000, on_raw,
                                             &a[sent]),
                       0);
    /* let the server take this batch before sending more (socket buffer) */
    fx->expired = false;
    uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
    while (fx->n_held_many < sent && !fx->expired)
      uv_run(&fx->loop, UV_RUN_ONCE);
    uv_timer_stop(&fx->deadline);
    assert_int_equal(fx->n_held_many, sent);
  }
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "remove_overlay",
                                         json_pack("{s:s}", "overlay_id", "o"), 10000, on_raw,
                                         &a[MAX_IN]),
                   0);
  run_until(fx, &a[MAX_IN].done, 3000);
  assert_int_equal(a[MAX_IN].status, IPOP_EBUSY);
  assert_string_equal(a[MAX_IN].err_msg, "too many requests in progress");
  assert_int_equal(fx->n_held_many, MAX_IN);
  /* answer them all, newest first, a batch at a time (client socket buffer) */
  for (int i = MAX_IN - 1; i >= 0; i -= BATCH) {
    for (int k = i; k > i - BATCH; k--)
      assert_int_equal(ctl_reply(fx->held_many[k], &(struct ctl_ack){ .message = "ok" }), 0);
    fx->n_held_many = i - BATCH + 1;
    for (int k = i; k > i - BATCH; k--) {
      run_until(fx, &a[k].done, 3000);
      assert_int_equal(a[k].status, 0);
      assert_string_equal(a[k].raw, "{\"message\":\"ok\"}");
    }
  }
  assert_int_equal(fx->n_held_many, 0);
  /* and there is room again */
  struct answer b = { 0 };
  struct ctl_echo e = { .message = "room" };
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("echo"), &e, 2000, on_typed_echo, &b), 0);
  run_until(fx, &b.done, 3000);
  assert_int_equal(b.status, 0);
  free(a);
}

static void test_wrong_key_gets_nak(void **state)
{
  struct fx *fx = *state;
  struct sockaddr_storage addr;
  struct ctl_endpoint *bad = open_ep(fx, key_b, false, &addr);
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "let me in" };
  /* long timeout, short deadline: the answer must come from the NAK */
  assert_int_equal(ctl_request_send(bad, SERVER, msg("echo"), &e, 10000, on_typed_echo, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_EAUTH);
  assert_non_null(strstr(a.err_msg, "authentication failed"));
  assert_int_equal(a.calls, 1);
  assert_int_equal(fx->handled, 0);
  const struct ctl_endpoint_stats *ss = ctl_endpoint_stats(fx->server);
  assert_int_equal(ss->auth.bad_mac, 1);
  assert_int_equal(ss->auth.accepted, 0);
  assert_int_equal(ss->requests_in, 0);
  assert_int_equal(ctl_endpoint_stats(bad)->timeouts, 0);
  ctl_endpoint_close(bad);
}

static void test_timeout(void **state)
{
  struct fx *fx = *state;
  /* a bound port that never answers */
  probe_open(fx);
  struct sockaddr_storage silent;
  int len = sizeof silent;
  assert_int_equal(uv_udp_getsockname(&fx->probe, (struct sockaddr *)&silent, &len), 0);
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "anyone?" };
  uv_update_time(&fx->loop);
  uint64_t t0 = uv_now(&fx->loop);
  assert_int_equal(ctl_request_send(fx->client, (const struct sockaddr *)&silent, msg("echo"), &e,
                                    300, on_typed_echo, &a),
                   0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_ETIMEDOUT);
  assert_int_equal(a.calls, 1);
  assert_true(a.at_ms - t0 >= 300);
  assert_true(a.at_ms - t0 < 300 + 1000); /* within a tick or so of the deadline */
  assert_int_equal(ctl_endpoint_stats(fx->client)->timeouts, 1);
  assert_int_equal(fx->probe_got, 1); /* it did arrive, it just was not answered */
}

/* Two requests time out at different moments; the first timeout's callback
 * closes the endpoint.  The other request must be failed exactly once and
 * nothing may be touched after it was freed. */
static struct ctl_endpoint **g_close_me;
static void on_timeout_close(int status, const void *result, const char *err_msg, void *ctx)
{
  struct answer *a = ctx;
  record(a, status, err_msg);
  if (g_close_me && *g_close_me) {
    ctl_endpoint_close(*g_close_me);
    *g_close_me = NULL;
  }
}

static void test_close_from_timeout_callback(void **state)
{
  struct fx *fx = *state;
  probe_open(fx);
  struct sockaddr_storage silent;
  int len = sizeof silent;
  assert_int_equal(uv_udp_getsockname(&fx->probe, (struct sockaddr *)&silent, &len), 0);
  struct answer shortr = { 0 }, longr = { 0 };
  struct ctl_echo e = { .message = "x" };
  g_close_me = &fx->client;
  assert_int_equal(ctl_request_send(fx->client, (const struct sockaddr *)&silent, msg("echo"), &e,
                                    200, on_timeout_close, &shortr),
                   0);
  assert_int_equal(ctl_request_send(fx->client, (const struct sockaddr *)&silent, msg("echo"), &e,
                                    60000, on_timeout_close, &longr),
                   0);
  run_until(fx, &shortr.done, 3000);
  g_close_me = NULL;
  assert_int_equal(shortr.status, IPOP_ETIMEDOUT);
  assert_int_equal(shortr.calls, 1);
  assert_true(longr.done);
  assert_int_equal(longr.status, IPOP_ECONNREFUSED);
  assert_int_equal(longr.calls, 1);
  assert_null(fx->client);
}

static void test_hostile_datagrams(void **state)
{
  struct fx *fx = *state;
  probe_open(fx);
  struct ctl_auth forger;
  assert_int_equal(ctl_auth_init(&forger, key_a), 0);
  uint8_t *d = calloc(1, CTL_MAX_DGRAM);
  size_t n;

  /* 1. short garbage (below the header) */
  probe_send(fx, SERVER, "hello", 5);
  /* 2. garbage without our magic */
  memset(d, 0x5a, 200);
  probe_send(fx, SERVER, d, 200);
  /* 3. our magic, junk MAC */
  memcpy(d, "IPC2", 4);
  probe_send(fx, SERVER, d, 200);
  /* 4. the largest possible datagram, junk MAC */
  memset(d, 'A', CTL_MAX_DGRAM);
  memcpy(d, "IPC2", 4);
  probe_send(fx, SERVER, d, CTL_MAX_DGRAM);
  /* 5. a good datagram cut short */
  const char echo[] = "{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\","
                      "\"body\":{\"message\":\"m\"}}";
  assert_int_equal(ctl_auth_seal(&forger, echo, sizeof echo - 1, d, CTL_MAX_DGRAM, &n, NULL), 0);
  probe_send(fx, SERVER, d, n - 1);
  /* 6. authenticated but not JSON, not UTF-8, too deep, truncated JSON,
   *    and not an envelope: dropped without an answer (no txid to answer) */
  const char *bad_payloads[] = { "not json", "{\"version\":1,\"txid\":\"\xff\"}", NULL,
                                 "{\"version\":1,\"txid\":2,\"kind\":\"requ", "[1,2,3]" };
  char deep[10001];
  memset(deep, '[', 10000);
  deep[10000] = '\0';
  bad_payloads[2] = deep;
  for (size_t i = 0; i < sizeof bad_payloads / sizeof bad_payloads[0]; i++) {
    assert_int_equal(ctl_auth_seal(&forger, bad_payloads[i], strlen(bad_payloads[i]), d,
                                   CTL_MAX_DGRAM, &n, NULL),
                     0);
    probe_send(fx, SERVER, d, n);
  }
  /* 7. a replay of an accepted datagram */
  assert_int_equal(ctl_auth_seal(&forger, "[]", 2, d, CTL_MAX_DGRAM, &n, NULL), 0);
  probe_send(fx, SERVER, d, n);
  probe_send(fx, SERVER, d, n);

  /* The server still answers the next good echo, and all of the above was
   * processed before it (one socket, FIFO). */
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "still alive" };
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("echo"), &e, 2000, on_typed_echo, &a),
                   0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.echo.message, "still alive");

  const struct ctl_endpoint_stats *ss = ctl_endpoint_stats(fx->server);
  assert_int_equal(ss->auth.bad_length, 1);
  assert_int_equal(ss->auth.bad_magic, 1);
  assert_int_equal(ss->auth.bad_mac, 3);
  assert_int_equal(ss->auth.replayed, 1);
  assert_int_equal(ss->auth.accepted, 5 + 1 + 1); /* bad payloads, "[]", echo */
  assert_int_equal(ss->bad_messages, 6);
  assert_int_equal(ss->requests_in, 1);
  ctl_auth_wipe(&forger);
  free(d);
}

/* Authenticated envelopes with a txid are answered with an error addressed
 * by that txid; read the answer on the probe socket. */
static void probe_expect_error(struct fx *fx, struct ctl_auth *forger, const char *payload,
                               uint64_t txid, int code, const char *msg_text)
{
  uint8_t d[4096];
  size_t n;
  assert_int_equal(ctl_auth_seal(forger, payload, strlen(payload), d, sizeof d, &n, NULL), 0);
  int before = fx->probe_got;
  probe_send(fx, SERVER, d, n);
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (fx->probe_got == before && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  if (fx->probe_got == before)
    fail_msg("no answer to %s", payload);
  const uint8_t *pl;
  size_t plen;
  assert_int_equal(ctl_auth_open(forger, fx->probe_buf, fx->probe_len, &pl, &plen), 0);
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(ctl_envelope_parse(pl, plen, &env, &err), 0);
  assert_int_equal(env.kind, CTL_KIND_RESPONSE);
  assert_int_equal(env.txid, txid);
  /* a trailing '*' in msg_text matches any rest */
  size_t cmp = strlen(msg_text);
  bool prefix = cmp > 0 && msg_text[cmp - 1] == '*';
  if (env.err_code != code || (prefix ? strncmp(env.err_message, msg_text, cmp - 1)
                                      : strcmp(env.err_message, msg_text)) != 0)
    fail_msg("answer to %s: %d \"%s\", want %d \"%s\"", payload, env.err_code, env.err_message,
             code, msg_text);
  ctl_envelope_free(&env);
}

static void test_bad_envelopes_answered(void **state)
{
  struct fx *fx = *state;
  probe_open(fx);
  struct ctl_auth forger;
  assert_int_equal(ctl_auth_init(&forger, key_a), 0);
  probe_expect_error(fx, &forger,
                     "{\"version\":2,\"txid\":31,\"kind\":\"request\",\"name\":\"echo\",\"body\":{}}",
                     31, IPOP_EVERSION,
                     "version: protocol version 2 is not supported (this side speaks 1)");
  probe_expect_error(fx, &forger, "{\"version\":1,\"txid\":32,\"kind\":\"request\",\"name\":\"echo\","
                                  "\"body\":[]}",
                     32, IPOP_EFIELD, "body: expected object, found array");
  probe_expect_error(fx, &forger, "{\"version\":1,\"txid\":33,\"kind\":\"request\",\"name\":\"Echo\"}",
                     33, IPOP_EFIELD, "name: expected a command name of 1..63 characters [a-z0-9_]");
  /* unreadable JSON: answered with txid 0 */
  probe_expect_error(fx, &forger, "{\"version\":1,\"txid\":", 0, IPOP_EPARSE,
                     "malformed JSON at line 1 column *");
  /* jansson's text near the error cut inside a UTF-8 character */
  probe_expect_error(fx, &forger, "\"e\\\\\\\xc4\x96\\g\\\\", 0, IPOP_EPARSE,
                     "malformed JSON at line 1 column *");
  probe_expect_error(fx, &forger, "{\"version\":1,\"txid\":40,\"kind\":\"request\",\"name\":\"\xff\"}", 0,
                     IPOP_EPARSE, "malformed JSON at line 1 column *");
  probe_expect_error(fx, &forger, "{\"txid\":34,\"kind\":\"request\",\"name\":\"echo\"}", 34,
                     IPOP_EMISSING, "version: required key is missing");
  probe_expect_error(fx, &forger, "{\"version\":1,\"txid\":35,\"kind\":\"request\",\"name\":\"echo\","
                                  "\"body\":{\"message\":5}}",
                     35, IPOP_EFIELD, "body.message: expected string, found 5");
  /* a long unknown key cut inside a UTF-8 character must still be answered */
  probe_expect_error(fx, &forger,
                     "{\"version\":1,\"txid\":36,\"kind\":\"request\",\"name\":\"echo\","
                     "\"012345678901234567890123456789012345678\xc3\xa9\":1}",
                     36, IPOP_EUNKNOWN,
                     "unknown envelope key \"012345678901234567890123456789012345678\"");
  probe_expect_error(fx, &forger,
                     "{\"version\":1,\"txid\":37,\"kind\":\"request\",\"name\":\"echo\","
                     "\"body\":{\"message\":\"m\",\"012345678901234567890123456789012345678\xc3\xa9\":1}}",
                     37, IPOP_EUNKNOWN,
                     "body.012345678901234567890123456789012345678...: unknown key (not part of echo)");
  /* an oversized string field inside a full-size datagram */
  {
    size_t big = CTL_MAX_PAYLOAD - 200;
    char *p = malloc(big + 200);
    int k = snprintf(p, 200, "{\"version\":1,\"txid\":38,\"kind\":\"request\",\"name\":\"echo\","
                             "\"body\":{\"message\":\"");
    memset(p + k, 'x', big);
    strcpy(p + k + big, "\"}}");
    uint8_t *d = malloc(CTL_MAX_DGRAM);
    size_t n;
    assert_int_equal(ctl_auth_seal(&forger, p, strlen(p), d, CTL_MAX_DGRAM, &n, NULL), 0);
    int before = fx->probe_got;
    probe_send(fx, SERVER, d, n);
    fx->expired = false;
    uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
    while (fx->probe_got == before && !fx->expired)
      uv_run(&fx->loop, UV_RUN_ONCE);
    uv_timer_stop(&fx->deadline);
    assert_int_equal(fx->probe_got, before + 1);
    const uint8_t *pl;
    size_t plen;
    struct ctl_envelope env;
    struct jb_error err;
    assert_int_equal(ctl_auth_open(&forger, fx->probe_buf, fx->probe_len, &pl, &plen), 0);
    assert_int_equal(ctl_envelope_parse(pl, plen, &env, &err), 0);
    assert_int_equal(env.err_code, IPOP_EFIELD);
    char want[100];
    snprintf(want, sizeof want, "body.message: string too long (%zu bytes, at most %d)", big,
             CTL_ECHO_LEN - 1);
    assert_string_equal(env.err_message, want);
    ctl_envelope_free(&env);
    free(d);
    free(p);
  }
  ctl_auth_wipe(&forger);
}

/* A captured request replayed to the server is executed once; the replay
 * is dropped, counted and NAKed as a replay. */
static void test_replayed_request(void **state)
{
  struct fx *fx = *state;
  probe_open(fx);
  struct sockaddr_storage paddr;
  int len = sizeof paddr;
  assert_int_equal(uv_udp_getsockname(&fx->probe, (struct sockaddr *)&paddr, &len), 0);
  /* capture a real request from the client */
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "capture me" };
  assert_int_equal(ctl_request_send(fx->client, (struct sockaddr *)&paddr, msg("echo"), &e, 5000,
                                    on_typed_echo, &a),
                   0);
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (fx->probe_got < 1 && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  assert_int_equal(fx->probe_got, 1);
  size_t n = fx->probe_len;
  uint8_t *captured = malloc(n);
  memcpy(captured, fx->probe_buf, n);
  /* deliver it to the server twice */
  for (int round = 0; round < 2; round++) {
    int before = fx->probe_got;
    probe_send(fx, SERVER, captured, n);
    fx->expired = false;
    uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
    while (fx->probe_got == before && !fx->expired)
      uv_run(&fx->loop, UV_RUN_ONCE);
    uv_timer_stop(&fx->deadline);
    assert_int_equal(fx->probe_got, before + 1);
    if (round == 0) {
      assert_true(fx->probe_len > CTL_NAK_LEN); /* the echo answer */
    } else {
      assert_int_equal(fx->probe_len, CTL_NAK_LEN); /* a NAK, reason replay */
      assert_memory_equal(fx->probe_buf, "IPN1", 4);
      assert_int_equal(fx->probe_buf[4], CTL_NAK_REPLAY);
      assert_memory_equal(fx->probe_buf + 8, captured + 8, 16); /* sender and counter */
    }
  }
  const struct ctl_endpoint_stats *ss = ctl_endpoint_stats(fx->server);
  assert_int_equal(fx->handled, 1);
  assert_int_equal(ss->requests_in, 1);
  assert_int_equal(ss->auth.replayed, 1);
  free(captured);
  /* the captured request never got its answer: fail it before a goes away */
  ctl_endpoint_close(fx->client);
  fx->client = NULL;
  assert_true(a.done);
  assert_int_equal(a.status, IPOP_ECONNREFUSED);
}

/* The probe plays a daemon that could not read our txid: its error comes
 * back with txid 0 and is taken by the only outstanding request to it. */
static void probe_answer_txid0(struct fx *fx, struct ctl_auth *forger)
{
  const char *ans = "{\"version\":1,\"txid\":0,\"kind\":\"response\",\"name\":\"unknown\","
                    "\"error\":{\"code\":\"bad_json\",\"message\":\"malformed JSON\"}}";
  uint8_t d[512];
  size_t n;
  assert_int_equal(ctl_auth_seal(forger, ans, strlen(ans), d, sizeof d, &n, NULL), 0);
  probe_send(fx, CLIENT, d, n);
}

static void test_txid0_error_to_single_request(void **state)
{
  struct fx *fx = *state;
  probe_open(fx);
  struct ctl_auth forger;
  assert_int_equal(ctl_auth_init(&forger, key_a), 0);
  struct sockaddr_storage paddr;
  int len = sizeof paddr;
  assert_int_equal(uv_udp_getsockname(&fx->probe, (struct sockaddr *)&paddr, &len), 0);
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "m" };
  assert_int_equal(ctl_request_send(fx->client, (struct sockaddr *)&paddr, msg("echo"), &e, 5000,
                                    on_typed_echo, &a),
                   0);
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (fx->probe_got < 1 && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  assert_int_equal(fx->probe_got, 1);
  probe_answer_txid0(fx, &forger);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_EPARSE);
  assert_string_equal(a.err_msg, "malformed JSON");

  /* with two outstanding requests it is nobody's: both time out */
  struct answer b = { 0 }, c = { 0 };
  assert_int_equal(ctl_request_send(fx->client, (struct sockaddr *)&paddr, msg("echo"), &e, 300,
                                    on_typed_echo, &b),
                   0);
  assert_int_equal(ctl_request_send(fx->client, (struct sockaddr *)&paddr, msg("echo"), &e, 300,
                                    on_typed_echo, &c),
                   0);
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (fx->probe_got < 3 && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
  assert_int_equal(fx->probe_got, 3);
  probe_answer_txid0(fx, &forger);
  run_until(fx, &b.done, 3000);
  run_until(fx, &c.done, 3000);
  assert_int_equal(b.status, IPOP_ETIMEDOUT);
  assert_int_equal(c.status, IPOP_ETIMEDOUT);
  /* it did arrive, and was counted as a response nobody waited for */
  assert_int_equal(ctl_endpoint_stats(fx->client)->responses_in, 2);
  assert_int_equal(ctl_endpoint_stats(fx->client)->bad_messages, 1);
  ctl_auth_wipe(&forger);
}

/* Run the loop until fx->events reaches n or 3 s have passed. */
static void run_until_events(struct fx *fx, int n)
{
  fx->expired = false;
  uv_timer_start(&fx->deadline, on_deadline, 3000, 0);
  while (fx->events < n && !fx->expired)
    uv_run(&fx->loop, UV_RUN_ONCE);
  uv_timer_stop(&fx->deadline);
}

static void test_event_delivery(void **state)
{
  struct fx *fx = *state;
  struct ctl_ev_link_state ev = { .overlay_id = "ov1", .peer_id = "peer7",
                                  .state = CTL_LINK_FAILED, .reason = "fingerprint mismatch" };
  const struct ctl_msg_desc *m = msg("link_state");
  assert_int_equal(ctl_event_send(fx->server, CLIENT, m, &ev), 0);
  /* a stats event too */
  struct ctl_link_stats *st = calloc(1, sizeof *st);
  st->n_links = 1;
  strcpy(st->links[0].overlay_id, "ov1");
  strcpy(st->links[0].peer_id, "peer7");
  st->links[0].state = CTL_LINK_UP;
  st->links[0].rx_bytes = 12345;
  assert_int_equal(ctl_event_send(fx->server, CLIENT, msg("stats"), st), 0);
  free(st);
  run_until_events(fx, 2);
  assert_int_equal(fx->events, 2);
  assert_string_equal(fx->ev_name, "stats");
  assert_memory_equal(&fx->ev, &ev, sizeof ev);
  assert_int_equal(ctl_endpoint_stats(fx->client)->events_in, 2);
  assert_int_equal(ctl_endpoint_stats(fx->server)->events_out, 2);
  /* requests are not events */
  assert_int_equal(ctl_event_send(fx->server, CLIENT, msg("echo"), &ev), IPOP_EINVAL);
}

/* A refused request is answered "permission" with the callback's sentence
 * and never reaches its handler, before its body is decoded (an invalid
 * body gets the same answer); a refused event is dropped and counted. */
static void test_permission(void **state)
{
  struct fx *fx = *state;
  fx->refuse_create = true;
  struct answer a = { 0 };
  json_t *body = json_pack("{s:i}", "overlay_id", 5); /* also an invalid body */
  assert_int_equal(ctl_request_send_json(fx->client, SERVER, "create_overlay", body, 2000,
                                         on_raw, &a), 0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, IPOP_EPERM);
  assert_string_equal(a.err_msg, "create_overlay: permission denied in this test");
  assert_int_equal(fx->handled, 0);
  assert_int_equal(ctl_endpoint_stats(fx->server)->refused, 1);
  /* other requests pass */
  struct answer b = { 0 };
  struct ctl_echo e = { .message = "ok" };
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("echo"), &e, 2000, on_typed_echo,
                                    &b), 0);
  run_until(fx, &b.done, 3000);
  assert_int_equal(b.status, 0);
  /* events: refused, then (FIFO on the client's socket) an answer that
   * proves the event was processed first */
  fx->refuse_events = true;
  struct ctl_ev_link_state ev = { .overlay_id = "ov1", .peer_id = "p", .state = CTL_LINK_UP };
  assert_int_equal(ctl_event_send(fx->server, CLIENT, msg("link_state"), &ev), 0);
  struct answer c = { 0 };
  assert_int_equal(ctl_request_send(fx->client, SERVER, msg("echo"), &e, 2000, on_typed_echo,
                                    &c), 0);
  run_until(fx, &c.done, 3000);
  assert_int_equal(fx->events, 0);
  assert_int_equal(ctl_endpoint_stats(fx->client)->refused, 1);
}

/* Monitors get a copy of every event, whoever it is addressed to; the
 * table is bounded, renewal keeps a slot, an expired lease frees it. */
static void test_monitors(void **state)
{
  struct fx *fx = *state;
  struct sockaddr_storage mon_addr;
  struct ctl_endpoint *mon = open_ep(fx, key_a, false, &mon_addr);
  const struct sockaddr *MON = (const struct sockaddr *)&mon_addr;
  assert_int_equal(ctl_monitor_add(fx->server, MON, 60000), 1);
  assert_int_equal(ctl_monitor_add(fx->server, MON, 60000), 0); /* renewed */
  struct ctl_ev_link_state ev = { .overlay_id = "ov1", .peer_id = "p", .state = CTL_LINK_UP };
  assert_int_equal(ctl_event_send(fx->server, CLIENT, msg("link_state"), &ev), 0);
  run_until_events(fx, 2);
  assert_int_equal(fx->events, 2); /* the client's and the monitor's copy */
  assert_int_equal(ctl_endpoint_stats(mon)->events_in, 1);
  /* the monitor addressed directly gets one copy, not two */
  assert_int_equal(ctl_event_send(fx->server, MON, msg("link_state"), &ev), 0);
  run_until_events(fx, 3);
  /* full table */
  struct sockaddr_in other;
  uv_ip4_addr("127.0.0.1", 1, &other);
  for (int i = 1; i < CTL_MAX_MONITORS; i++) {
    other.sin_port = htons((uint16_t)(1000 + i));
    assert_int_equal(ctl_monitor_add(fx->server, (struct sockaddr *)&other, 60000), 1);
  }
  other.sin_port = htons(2000);
  assert_int_equal(ctl_monitor_add(fx->server, (struct sockaddr *)&other, 60000), IPOP_EBUSY);
  /* a lapsed lease frees its slot */
  other.sin_port = htons(1001);
  assert_int_equal(ctl_monitor_add(fx->server, (struct sockaddr *)&other, 0), 0);
  other.sin_port = htons(2000);
  assert_int_equal(ctl_monitor_add(fx->server, (struct sockaddr *)&other, 60000), 1);
  ctl_endpoint_close(mon);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(ctl_endpoint_stats(fx->client)->events_in, 1);
}

static void test_parse_endpoint(void **state)
{
  struct sockaddr_storage ss;
  assert_int_equal(ctl_parse_endpoint("127.0.0.1:5800", &ss, 0), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5800);
  assert_int_equal(ctl_parse_endpoint("[::1]:5801", &ss, 0), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(ctl_parse_endpoint("localhost:1", &ss, 0), 0);
  assert_int_equal(ctl_parse_endpoint("127.1.2.3:65535", &ss, 0), 0);
  assert_int_equal(ctl_parse_endpoint("10.0.0.1:5800", &ss, 0), IPOP_EPERM);
  assert_int_equal(ctl_parse_endpoint("10.0.0.1:5800", &ss, 1), 0);
  assert_int_equal(ctl_parse_endpoint("[fd00::1]:5800", &ss, 0), IPOP_EPERM);
  const char *bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
                        "127.0.0.1:58x", "::1:5800", "[::1]5800", "[::1", "host:5800",
                        "127.0.0.1:-1", NULL };
  for (int i = 0; i < 11; i++)
    assert_int_equal(ctl_parse_endpoint(bad[i], &ss, 0), IPOP_EINVAL);
  assert_int_equal(ctl_parse_endpoint(NULL, &ss, 0), IPOP_EINVAL);
}

static void test_ipv6_loopback(void **state)
{
  struct fx *fx = *state;
  struct ctl_endpoint_config cfg = {
    .bind_addr = "::1", .key = key_a,
    .messages = ctl_tincan_messages, .n_messages = ctl_tincan_messages_count,
    .handlers = server_handlers, .n_handlers = 1, .ctx = fx,
  };
  struct ctl_endpoint *s6 = NULL, *c6 = NULL;
  int rc = ctl_endpoint_open(&fx->loop, &cfg, &s6);
  if (rc != 0)
    skip(); /* no IPv6 loopback in this environment */
  cfg.handlers = NULL;
  cfg.n_handlers = 0;
  assert_int_equal(ctl_endpoint_open(&fx->loop, &cfg, &c6), 0);
  struct sockaddr_storage a6;
  assert_int_equal(ctl_endpoint_sockname(s6, &a6), 0);
  assert_int_equal(a6.ss_family, AF_INET6);
  struct answer a = { 0 };
  struct ctl_echo e = { .message = "v6" };
  assert_int_equal(ctl_request_send(c6, (struct sockaddr *)&a6, msg("echo"), &e, 2000,
                                    on_typed_echo, &a),
                   0);
  run_until(fx, &a.done, 3000);
  assert_int_equal(a.status, 0);
  assert_string_equal(a.echo.message, "v6");
  ctl_endpoint_close(s6);
  ctl_endpoint_close(c6);
}

static void test_refuses_non_loopback_bind(void **state)
{
  struct fx *fx = *state;
  struct ctl_endpoint_config cfg = { .bind_addr = "0.0.0.0", .key = key_a,
                                     .messages = ctl_tincan_messages,
                                     .n_messages = ctl_tincan_messages_count };
  struct ctl_endpoint *ep = (struct ctl_endpoint *)1;
  assert_int_equal(ctl_endpoint_open(&fx->loop, &cfg, &ep), IPOP_EPERM);
  assert_null(ep);
  /* a port in use */
  cfg.bind_addr = "127.0.0.1";
  cfg.port = ntohs(((struct sockaddr_in *)&fx->server_addr)->sin_port);
  assert_int_equal(ctl_endpoint_open(&fx->loop, &cfg, &ep), IPOP_EBUSY);
  assert_null(ep);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
  const struct CMUnitTest tests[] = {
    T(test_typed_echo),
    T(test_many_echoes_in_flight),
    T(test_raw_json_request),
    T(test_unknown_command),
    T(test_body_field_errors),
    T(test_handler_error_reply),
    T(test_deferred_reply),
    T(test_request_held_across_close),
    T(test_too_many_requests_in_progress),
    T(test_wrong_key_gets_nak),
    T(test_timeout),
    T(test_close_from_timeout_callback),
    T(test_hostile_datagrams),
    T(test_bad_envelopes_answered),
    T(test_replayed_request),
    T(test_txid0_error_to_single_request),
    T(test_event_delivery),
    T(test_permission),
    T(test_monitors),
    T(test_parse_endpoint),
    T(test_ipv6_loopback),
    T(test_refuses_non_loopback_bind),
  };
  return cmocka_run_group_tests_name("ctl_endpoint", tests, NULL, NULL);
}
