/* The client over a real loopback socket against a scripted server:
 * bad XML -> our stream error, close, reconnect after the backoff delay;
 * see-other-host -> immediate reconnect to the named host:port; SASL
 * temporary-auth-failure -> retried after the next backoff step; a server
 * offering PLAIN without TLS -> refused, reported once, no retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"

#define HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s' " \
            "from='xmpp.test' version='1.0'>"

struct peer {
  uv_tcp_t tcp;
  struct server *srv;
  int index;
  struct sbuf in;
  bool answered;
  bool features_sent;
};

struct server {
  uv_loop_t loop;
  uv_tcp_t listener;
  uv_timer_t guard;
  int port;
  int accepted;
  uint64_t accept_ms[8], close_ms[8];
  struct sbuf received[8];
  struct peer *peers[8];
  struct xmpp_client *c;
  int auth_failed, connecting;
  char reason[160];
};

static void peer_closed(uv_handle_t *h)
{
  struct peer *p = h->data;
  sbuf_free(&p->in);
  free(p);
}

static void on_write(uv_write_t *w, int status)
{
  free(w);
}

static void say(struct peer *p, const char *s)
{
  uv_write_t *w = malloc(sizeof(*w));
  uv_buf_t b = uv_buf_init((char *)s, (unsigned)strlen(s));
  assert_int_equal(uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, on_write), 0);
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b)
{
  static char buf[65536];
  *b = uv_buf_init(buf, sizeof(buf));
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
  struct peer *p = s->data;
  struct server *srv = p->srv;
  if (n < 0) {
    srv->close_ms[p->index] = uv_now(&srv->loop);
    sbuf_add(&srv->received[p->index], p->in.data ? p->in.data : "", p->in.len);
    uv_close((uv_handle_t *)&p->tcp, peer_closed);
    return;
  }
  sbuf_add(&p->in, b->base, (size_t)n);
  if (p->answered || !strstr(p->in.data, "<stream:stream"))
    return;
  if (p->features_sent && !strstr(p->in.data, "</auth>"))
    return;
  p->answered = true;
  static char buf[512];
  switch (p->index) {
  case 0:  /* DTD with an entity: must be refused as restricted-xml */
    say(p, "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]>"
           "<stream:stream xmlns='jabber:client' xmlns:stream="
           "'http://etherx.jabber.org/streams' version='1.0'>");
    break;
  case 1:  /* redirect to ourselves */
    snprintf(buf, sizeof(buf), HDR "<stream:error><see-other-host xmlns="
             "'urn:ietf:params:xml:ns:xmpp-streams'>127.0.0.1:%d"
             "</see-other-host></stream:error></stream:stream>", srv->port);
    say(p, buf);
    break;
  case 2:  /* SCRAM offered, then a temporary failure: retried */
    if (!p->features_sent) {
      p->features_sent = true;
      p->answered = false;  /* answer again once <auth> is in */
      say(p, HDR "<stream:features><mechanisms xmlns='urn:ietf:params:xml:"
             "ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism></mechanisms>"
             "</stream:features>");
      return;
    }
    say(p, "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
           "<temporary-auth-failure/></failure>");
    break;
  default:  /* no STARTTLS, only PLAIN: the client must not send it */
    say(p, HDR "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:"
           "xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms>"
           "</stream:features>");
    break;
  }
}

static void on_conn(uv_stream_t *l, int status)
{
  struct server *srv = l->data;
  assert_int_equal(status, 0);
  struct peer *p = calloc(1, sizeof(*p));
  p->srv = srv;
  p->index = srv->accepted < 7 ? srv->accepted : 7;
  srv->peers[p->index] = p;
  srv->accept_ms[p->index] = uv_now(&srv->loop);
  srv->accepted++;
  sbuf_init(&p->in);
  uv_tcp_init(&srv->loop, &p->tcp);
  p->tcp.data = p;
  assert_int_equal(uv_accept(l, (uv_stream_t *)&p->tcp), 0);
  uv_read_start((uv_stream_t *)&p->tcp, alloc_cb, read_cb);
}

static void finish(struct server *srv)
{
  uv_timer_stop(&srv->guard);
  xmpp_client_free(srv->c);
  srv->c = NULL;
  uv_close((uv_handle_t *)&srv->listener, NULL);
  uv_close((uv_handle_t *)&srv->guard, NULL);
  for (int i = 0; i < 8; i++)
    if (srv->peers[i] && !uv_is_closing((uv_handle_t *)&srv->peers[i]->tcp) &&
        srv->close_ms[i] == 0)
      uv_close((uv_handle_t *)&srv->peers[i]->tcp, peer_closed);
}

static void guard_cb(uv_timer_t *t);

static void on_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason, void *ctx)
{
  struct server *srv = ctx;
  if (s == XMPP_STATE_CONNECTING)
    srv->connecting++;
  if (s == XMPP_STATE_AUTH_FAILED) {
    srv->auth_failed++;
    snprintf(srv->reason, sizeof(srv->reason), "%s", reason ? reason : "");
    /* Give a (wrong) retry the chance to show up before stopping. */
    uv_timer_start(&srv->guard, guard_cb, 1500, 0);
  }
}

static void guard_cb(uv_timer_t *t)
{
  struct server *srv = t->data;
  finish(srv);
}

static uint32_t zero_rand(void *ctx)
{
  return 0;
}

static void test_reconnects(void **state)
{
  static struct server srv;
  memset(&srv, 0, sizeof(srv));
  for (int i = 0; i < 8; i++)
    sbuf_init(&srv.received[i]);
  assert_int_equal(uv_loop_init(&srv.loop), 0);
  uv_tcp_init(&srv.loop, &srv.listener);
  srv.listener.data = &srv;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  assert_int_equal(uv_tcp_bind(&srv.listener, (struct sockaddr *)&sa, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&srv.listener, 8, on_conn), 0);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_tcp_getsockname(&srv.listener, (struct sockaddr *)&ss, &len);
  srv.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_timer_init(&srv.loop, &srv.guard);
  srv.guard.data = &srv;
  uv_timer_start(&srv.guard, guard_cb, 15000, 0);

  struct xmpp_config cfg;
  jb_defaults(&xmpp_config_schema, &cfg);
  strcpy(cfg.jid, "alice@xmpp.test");
  strcpy(cfg.host, "127.0.0.1");
  cfg.port = (uint32_t)srv.port;
  cfg.tls.required = false;  /* lets the scripted server skip TLS */
  struct xmpp_callbacks cbs = { .on_state = on_state };
  char pw[] = "/tmp/ipop-xmpp-pw-XXXXXX";
  int fd = mkstemp(pw);  /* mode 0600 */
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "pencil\n", 7), 7);
  close(fd);
  strcpy(cfg.password_file, pw);
  char why[256];
  assert_int_equal(xmpp_client_new(&srv.loop, &cfg, "n1", NULL, &cbs, &srv,
                                   &srv.c, why, sizeof(why)), 0);
  unlink(pw);
  xmpp_client_set_rand(srv.c, zero_rand, NULL);  /* backoff: exactly cap/2 */
  assert_int_equal(xmpp_client_start(srv.c), 0);
  uv_run(&srv.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&srv.loop), 0);

  assert_int_equal(srv.accepted, 4);
  /* 1: we answered the DTD with restricted-xml and closed. */
  assert_non_null(strstr(srv.received[0].data,
                         "<stream:error><restricted-xml xmlns='urn:ietf:params:"
                         "xml:ns:xmpp-streams'/></stream:error></stream:stream>"));
  /* ... and came back after the first backoff step (500 ms). */
  uint64_t gap = srv.accept_ms[1] - srv.close_ms[0];
  assert_true(gap >= 450 && gap < 3000);
  /* 2: see-other-host is followed at once. */
  assert_non_null(strstr(srv.received[1].data, "</stream:stream>"));
  assert_true(srv.accept_ms[2] - srv.close_ms[1] < 400);
  /* 3: SCRAM attempted (Tls.Required is off), temporary-auth-failure is
   * retried after the second backoff step (1 s with this jitter). */
  assert_non_null(strstr(srv.received[2].data,
                         "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                         "mechanism='SCRAM-SHA-1'>"));
  gap = srv.accept_ms[3] - srv.close_ms[2];
  assert_true(gap >= 950 && gap < 4000);
  /* 4: PLAIN without TLS is never sent; no usable mechanism = auth
   * failure, reported once, no further attempt. */
  assert_null(strstr(srv.received[3].data, "<auth"));
  assert_int_equal(srv.auth_failed, 1);
  assert_string_equal(srv.reason, "no usable SASL mechanism offered");
  assert_int_equal(srv.connecting, 4);
  for (int i = 0; i < 8; i++)
    sbuf_free(&srv.received[i]);
}

int main(void)
{
  ipop_log_init("test_xmpp_reconnect", IPOP_LOG_ERROR);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reconnects),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
