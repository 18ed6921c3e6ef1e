/* Stanza routing through a client with a fake connection (no socket), the
 * config schema, and the reconnect backoff schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "error.h"
#include "log.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"

#define HDR "<stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
            "from='xmpp.test' version='1.0'>"
#define ME "alice@xmpp.test/ipop-1"

struct events {
  struct sbuf log;          /* one line per callback */
  int states, rosters, presences, signals;
  enum xmpp_state last_state;
  char last_reason[128];
};

static void ev_state(struct xmpp_client *c, enum xmpp_state s,
                     const char *reason, void *ctx)
{
  struct events *e = ctx;
  e->states++;
  e->last_state = s;
  snprintf(e->last_reason, sizeof(e->last_reason), "%s", reason ? reason : "");
  sbuf_printf(&e->log, "state %s %s\n", xmpp_state_name(s), reason ? reason : "");
}

static void ev_roster(struct xmpp_client *c, const struct xmpp_roster_item *it,
                      bool full, void *ctx)
{
  struct events *e = ctx;
  e->rosters++;
  if (!it) {
    sbuf_printf(&e->log, "roster done\n");
    return;
  }
  sbuf_printf(&e->log, "roster %s %s %zu%s%s\n", it->jid,
              xmpp_subscription_name(it->subscription), it->ngroups,
              it->ngroups ? " " : "", it->ngroups ? it->groups[0] : "");
}

static void ev_presence(struct xmpp_client *c, const struct xmpp_presence *p,
                        void *ctx)
{
  struct events *e = ctx;
  e->presences++;
  sbuf_printf(&e->log, "presence %s %s %s %s\n", p->from,
              p->available ? "available" : "unavailable",
              p->node_id ? p->node_id : "-", p->caps ? p->caps : "-");
}

static void ev_signal(struct xmpp_client *c, const struct xmpp_signal *s,
                      void *ctx)
{
  struct events *e = ctx;
  e->signals++;
  sbuf_printf(&e->log, "signal %s %s %s %.*s\n", s->from, s->type, s->id,
              (int)s->payload_len, s->payload);
}

static const struct xmpp_callbacks cbs = {
  .on_state = ev_state, .on_roster = ev_roster, .on_presence = ev_presence,
  .on_signal = ev_signal,
};

struct fixture {
  uv_loop_t loop;
  struct xmpp_config cfg;
  struct xmpp_client *c;
  struct sbuf out;
  struct events ev;
};

static void fx_setup(struct fixture *f, const char *roster_group, int policy)
{
  memset(f, 0, sizeof(*f));
  assert_int_equal(uv_loop_init(&f->loop), 0);
  jb_defaults(&xmpp_config_schema, &f->cfg);
  strcpy(f->cfg.jid, "alice@xmpp.test");
  snprintf(f->cfg.roster_group, sizeof(f->cfg.roster_group), "%s", roster_group);
  f->cfg.subscription_policy = policy;
  strcpy(f->cfg.accept_from[0], "carol@xmpp.test");
  f->cfg.naccept_from = 1;
  sbuf_init(&f->out);
  sbuf_init(&f->ev.log);
  assert_int_equal(xmpp__client_new_nopw(&f->loop, &f->cfg, "node-a", &cbs,
                                         &f->ev, &f->c), 0);
  assert_int_equal(xmpp__client_test_attach(f->c, &f->out, ME), 0);
  assert_int_equal(f->ev.last_state, XMPP_STATE_ONLINE);
  /* attach sent our presence, with our entity capabilities */
  assert_non_null(strstr(f->out.data, "<presence><priority>-1</priority>"
                         "<node xmlns='urn:ipop:node:1' id='node-a'/><c xmlns="
                         "'http://jabber.org/protocol/caps' hash='sha-1' node="
                         "'urn:ipop:controller' ver='"));
  sbuf_reset(&f->out);
  assert_int_equal(xmpp__client_test_feed(f->c, HDR, strlen(HDR)), 0);
}

static void fx_teardown(struct fixture *f)
{
  xmpp_client_free(f->c);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  sbuf_free(&f->out);
  sbuf_free(&f->ev.log);
}

static int feed(struct fixture *f, const char *s)
{
  sbuf_reset(&f->out);
  sbuf_reset(&f->ev.log);
  return xmpp__client_test_feed(f->c, s, strlen(s));
}

static const char *push_bob =
    "<iq type='set' id='push1'><query xmlns='jabber:iq:roster'>"
    "<item jid='bob@xmpp.test' subscription='both' name='Bob'>"
    "<group>ipop</group></item></query></iq>";

static void test_roster_push(void **state)
{
  struct fixture f;
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, push_bob), 0);
  assert_string_equal(f.ev.log.data, "roster bob@xmpp.test both 1 ipop\n");
  assert_string_equal(f.out.data, "<iq type='result' id='push1'/>");
  /* Forged push from another entity: refused, roster unchanged. */
  assert_int_equal(feed(&f, "<iq type='set' id='x' from='eve@xmpp.test/r'>"
                            "<query xmlns='jabber:iq:roster'><item "
                            "jid='eve@xmpp.test' subscription='both'/>"
                            "</query></iq>"), 0);
  assert_null(f.ev.log.data && f.ev.log.len ? f.ev.log.data : NULL);
  assert_non_null(strstr(f.out.data, "type='error'"));
  assert_non_null(strstr(f.out.data, "service-unavailable"));
  /* Push from our own bare JID is fine; removal is reported. */
  assert_int_equal(feed(&f, "<iq type='set' id='p2' from='alice@xmpp.test'>"
                            "<query xmlns='jabber:iq:roster'><item "
                            "jid='bob@xmpp.test' subscription='remove'/>"
                            "</query></iq>"), 0);
  assert_string_equal(f.ev.log.data, "roster bob@xmpp.test remove 0\n");
  fx_teardown(&f);
}

static void test_presence_and_signals(void **state)
{
  struct fixture f;
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, push_bob), 0);
  /* Presence from a mutual contact, with and without our element. */
  assert_int_equal(feed(&f, "<presence from='bob@xmpp.test/ipop-2'><priority>-1"
                            "</priority><node xmlns='urn:ipop:node:1' id='node-b'"
                            " caps='tcp udp'/></presence>"
                            "<presence from='bob@xmpp.test/phone'/>"
                            "<presence from='bob@xmpp.test/phone' type='unavailable'/>"), 0);
  assert_string_equal(f.ev.log.data,
                      "presence bob@xmpp.test/ipop-2 available node-b tcp udp\n"
                      "presence bob@xmpp.test/phone available - -\n"
                      "presence bob@xmpp.test/phone unavailable - -\n");
  /* Strangers are reported too (the controller decides whom to believe);
   * our own echo, bare-JID and malformed JIDs are not; a node id with a
   * control character is no node id. */
  assert_int_equal(feed(&f, "<presence from='eve@xmpp.test/x'><node xmlns="
                            "'urn:ipop:node:1' id='evil'/></presence>"
                            "<presence from='" ME "'/>"
                            "<presence from='eve@xmpp.test'/>"
                            "<presence from='eve@@xmpp.test/x'/>"
                            "<presence from='eve@xmpp.test/y'><node xmlns="
                            "'urn:ipop:node:1' id='a&#x7f;b'/></presence>"), 0);
  assert_string_equal(f.ev.log.data,
                      "presence eve@xmpp.test/x available evil -\n"
                      "presence eve@xmpp.test/y available - -\n");
  /* Signals: from bob and from eve delivered (eve's is the controller's to
   * refuse); chat messages ignored; signals from a bare JID and oversized
   * payloads counted as bad. */
  assert_int_equal(feed(&f, "<message from='bob@xmpp.test/ipop-2' type='headline'>"
                            "<signal xmlns='urn:ipop:signal:1' type='offer' id='9'>"
                            "{&quot;k&quot;:1}</signal></message>"), 0);
  assert_string_equal(f.ev.log.data,
                      "signal bob@xmpp.test/ipop-2 offer 9 {\"k\":1}\n");
  assert_int_equal(feed(&f, "<message from='eve@xmpp.test/x'><signal xmlns="
                            "'urn:ipop:signal:1' type='offer'>{}</signal></message>"
                            "<message from='bob@xmpp.test/phone' type='chat'>"
                            "<body>hi</body></message>"
                            "<message from='bob@xmpp.test'><signal xmlns="
                            "'urn:ipop:signal:1' type='offer'>{}</signal></message>"), 0);
  assert_string_equal(f.ev.log.data, "signal eve@xmpp.test/x offer  {}\n");
  struct sbuf big;
  sbuf_init(&big);
  sbuf_adds(&big, "<message from='bob@xmpp.test/ipop-2'><signal xmlns="
                  "'urn:ipop:signal:1' type='offer'>");
  for (int i = 0; i < XMPP_SIGNAL_PAYLOAD_MAX + 1; i++)
    sbuf_adds(&big, "x");
  sbuf_adds(&big, "</signal></message>");
  assert_int_equal(feed(&f, big.data), 0);
  sbuf_free(&big);
  assert_int_equal(f.ev.log.len, 0);
  struct xmpp_counters k;
  xmpp_client_counters(f.c, &k);
  assert_int_equal(k.bad_signals, 2);
  assert_int_equal(k.signals_in, 2);
  /* Another node of our own account may signal. */
  assert_int_equal(feed(&f, "<message from='alice@xmpp.test/ipop-9'><signal "
                            "xmlns='urn:ipop:signal:1' type='ping'/></message>"), 0);
  assert_string_equal(f.ev.log.data, "signal alice@xmpp.test/ipop-9 ping  \n");

  /* Sending: escaped, addressed to the full JID, with hints. */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_client_send_signal(f.c, "bob@xmpp.test/ipop-2", "answer",
                                           "i'd", "{\"a\":\"<&>\"}", 11), 0);
  assert_string_equal(f.out.data,
      "<message type='headline' to='bob@xmpp.test/ipop-2'><signal xmlns="
      "'urn:ipop:signal:1' type='answer' id='i&apos;d'>{&quot;a&quot;:&quot;"
      "&lt;&amp;&gt;&quot;}</signal><no-store xmlns='urn:xmpp:hints'/>"
      "<no-copy xmlns='urn:xmpp:hints'/><private xmlns='urn:xmpp:carbons:2'/>"
      "</message>");
  assert_int_equal(xmpp_client_send_signal(f.c, "bob@xmpp.test", "a", NULL, "", 0),
                   IPOP_EINVAL);
  assert_int_equal(xmpp_client_send_signal(f.c, "bob@xmpp.test/r", "a", NULL,
                                           "x", XMPP_SIGNAL_PAYLOAD_MAX + 1),
                   IPOP_ETOOBIG);
  fx_teardown(&f);
}

/* The library keeps no roster: a full read and pushes are reported item
 * by item with their groups, bad items are skipped. */
static void test_roster_items(void **state)
{
  struct fixture f;
  fx_setup(&f, "vpn", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "<iq type='set' id='p3'><query xmlns='jabber:iq:roster'>"
                            "<item jid='carol@xmpp.test' subscription='both'>"
                            "<group>vpn</group><group>x</group></item></query></iq>"
                            "<iq type='set' id='p4'><query xmlns='jabber:iq:roster'>"
                            "<item jid='dave@xmpp.test/r' subscription='to'/>"
                            "</query></iq>"
                            "<iq type='set' id='p5'><query xmlns='jabber:iq:roster'>"
                            "<item jid='erin@xmpp.test' subscription='bogus'/>"
                            "</query></iq>"), 0);
  assert_string_equal(f.ev.log.data, "roster carol@xmpp.test both 2 vpn\n"
                                     "roster erin@xmpp.test none 0\n");
  assert_string_equal(f.out.data, "<iq type='result' id='p3'/><iq type='result' id='p4'/>"
                                  "<iq type='result' id='p5'/>");
  /* Signals are not filtered by roster groups here either. */
  assert_int_equal(feed(&f, "<message from='bob@xmpp.test/ipop-2'><signal xmlns="
                            "'urn:ipop:signal:1' type='offer'>{}</signal></message>"), 0);
  assert_string_equal(f.ev.log.data, "signal bob@xmpp.test/ipop-2 offer  {}\n");
  fx_teardown(&f);
}

static void test_iq_and_subscriptions(void **state)
{
  struct fixture f;
  fx_setup(&f, "", XMPP_SUB_ACCEPT_LIST);
  assert_int_equal(feed(&f, "<iq type='get' id='ping1' from='xmpp.test'>"
                            "<ping xmlns='urn:xmpp:ping'/></iq>"), 0);
  assert_string_equal(f.out.data, "<iq type='result' id='ping1' to='xmpp.test'/>");
  assert_int_equal(feed(&f, "<iq type='get' id='v1' from='bob@xmpp.test/x'>"
                            "<query xmlns='jabber:iq:version'/></iq>"), 0);
  assert_string_equal(f.out.data,
      "<iq type='error' id='v1' to='bob@xmpp.test/x'><error type='cancel'>"
      "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
      "</error></iq>");
  /* Subscription requests: only carol is on the accept list. */
  assert_int_equal(feed(&f, "<presence from='eve@xmpp.test' type='subscribe'/>"), 0);
  assert_int_equal(f.out.len, 0);
  assert_int_equal(feed(&f, "<presence from='carol@xmpp.test' type='subscribe'/>"), 0);
  assert_string_equal(f.out.data,
      "<presence type='subscribed' to='carol@xmpp.test'/>"
      "<presence type='subscribe' to='carol@xmpp.test'/>");
  fx_teardown(&f);

  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "<presence from='carol@xmpp.test' type='subscribe'/>"), 0);
  assert_int_equal(f.out.len, 0);
  fx_teardown(&f);

  fx_setup(&f, "", XMPP_SUB_ACCEPT_ALL);
  assert_int_equal(feed(&f, "<presence from='eve@xmpp.test/r' type='subscribe'/>"), 0);
  assert_non_null(strstr(f.out.data, "type='subscribed' to='eve@xmpp.test'"));
  fx_teardown(&f);
}

/* One hostile stanza costs only itself: beyond a limit inside it, it is
 * skipped and counted, the sender named in the log; presence already
 * reported is not withdrawn, the stream goes on; a request among them is
 * answered with policy-violation, an answer to ours taken as an error. */
static void test_hostile_stanza(void **state)
{
  struct fixture f;
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, push_bob), 0);
  assert_int_equal(feed(&f, "<presence from='bob@xmpp.test/ipop-2'><node xmlns="
                            "'urn:ipop:node:1' id='node-b'/></presence>"), 0);
  struct sbuf h;
  sbuf_init(&h);
  /* 2,000 deep, 10,000 attributes, 9,000 children, 100 KB of text. */
  sbuf_adds(&h, "<message from='bob@xmpp.test/ipop-2' type='headline'>");
  for (int i = 0; i < 2000; i++)
    sbuf_adds(&h, "<x>");
  for (int i = 0; i < 2000; i++)
    sbuf_adds(&h, "</x>");
  sbuf_adds(&h, "</message><presence from='bob@xmpp.test/ipop-2' type='unavailable'");
  for (int i = 0; i < 10000; i++)
    sbuf_printf(&h, " a%d='v'", i);
  sbuf_adds(&h, "/><message from='bob@xmpp.test/ipop-2'><x>");
  for (int i = 0; i < 9000; i++)
    sbuf_adds(&h, "<i/>");
  sbuf_adds(&h, "</x></message><message from='bob@xmpp.test/ipop-2'><body>");
  for (int i = 0; i < 100000; i++)
    sbuf_adds(&h, "b");
  sbuf_adds(&h, "</body></message>");
  /* A request: answered with an error, not left waiting. */
  sbuf_adds(&h, "<iq type='get' id='q1' from='bob@xmpp.test/ipop-2'><query xmlns='urn:x'>");
  for (int i = 0; i < 100; i++)
    sbuf_adds(&h, "<a>");
  for (int i = 0; i < 100; i++)
    sbuf_adds(&h, "</a>");
  sbuf_adds(&h, "</query></iq>");
  sbuf_adds(&h, "<message from='bob@xmpp.test/ipop-2' type='headline'>"
                "<signal xmlns='urn:ipop:signal:1' type='offer' id='9'>{}"
                "</signal></message>");
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  assert_string_equal(f.ev.log.data, "signal bob@xmpp.test/ipop-2 offer 9 {}\n");
  assert_string_equal(f.out.data, "<iq type='error' id='q1' to='bob@xmpp.test/ipop-2'>"
                      "<error type='modify'><policy-violation xmlns='urn:ietf:"
                      "params:xml:ns:xmpp-stanzas'/></error></iq>");
  assert_int_equal(f.ev.last_state, XMPP_STATE_ONLINE);
  assert_string_equal(xmpp_client_jid(f.c), ME);
  struct xmpp_counters k;
  xmpp_client_counters(f.c, &k);
  assert_int_equal(k.stanzas_skipped, 5);
  assert_int_equal(k.reconnects, 0);
  assert_int_equal(k.stream_errors, 0);
  fx_teardown(&f);
}

/* Login after authentication: features, bind, roster.  A roster answer
 * beyond a limit inside it is skipped and taken as an error answer: the
 * client goes online with an empty roster instead of waiting. */
static void test_login_skipped_roster(void **state)
{
  struct fixture f;
  memset(&f, 0, sizeof(f));
  assert_int_equal(uv_loop_init(&f.loop), 0);
  jb_defaults(&xmpp_config_schema, &f.cfg);
  strcpy(f.cfg.jid, "alice@xmpp.test");
  sbuf_init(&f.out);
  sbuf_init(&f.ev.log);
  assert_int_equal(xmpp__client_new_nopw(&f.loop, &f.cfg, "node-a", &cbs, &f.ev, &f.c), 0);
  assert_int_equal(xmpp__client_test_attach(f.c, &f.out, NULL), 0);
  assert_int_equal(xmpp__client_test_feed(f.c, HDR, strlen(HDR)), 0);
  assert_int_equal(feed(&f, "<stream:features><bind xmlns='urn:ietf:params:xml:ns:"
                            "xmpp-bind'/></stream:features>"), 0);
  assert_non_null(strstr(f.out.data, "<iq type='set' id='bind1'>"));
  assert_int_equal(feed(&f, "<iq type='result' id='bind1'><bind xmlns='urn:ietf:"
                            "params:xml:ns:xmpp-bind'><jid>" ME "</jid></bind></iq>"), 0);
  assert_non_null(strstr(f.out.data, "<iq type='get' id='roster1'>"));
  struct sbuf r;
  sbuf_init(&r);
  sbuf_adds(&r, "<iq type='result' id='roster1'><query xmlns='jabber:iq:roster'>"
                "<item jid='bob@xmpp.test' subscription='both'><group>");
  for (int i = 0; i < 70; i++)
    sbuf_adds(&r, "<x>");
  for (int i = 0; i < 70; i++)
    sbuf_adds(&r, "</x>");
  sbuf_adds(&r, "</group></item></query></iq>");
  assert_int_equal(feed(&f, r.data), 0);
  sbuf_free(&r);
  assert_int_equal(f.ev.last_state, XMPP_STATE_ONLINE);
  assert_null(strstr(f.ev.log.data, "roster bob"));
  assert_string_equal(xmpp_client_jid(f.c), ME);
  struct xmpp_counters k;
  xmpp_client_counters(f.c, &k);
  assert_int_equal(k.stanzas_skipped, 1);
  fx_teardown(&f);
}

static void test_stream_errors(void **state)
{
  struct fixture f;
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "<stream:error><conflict xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:"
                            "ns:xmpp-streams'>Replaced</text></stream:error>"),
                   IPOP_EIO);
  assert_int_equal(f.ev.last_state, XMPP_STATE_OFFLINE);
  assert_string_equal(f.ev.last_reason, "stream error: conflict");
  assert_string_equal(f.out.data, "</stream:stream>");
  struct xmpp_counters k;
  xmpp_client_counters(f.c, &k);
  assert_int_equal(k.stream_errors, 1);
  fx_teardown(&f);

  /* Bad XML from the server: we answer with the stream error. */
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "<message><!-- x --></message>"), IPOP_EPARSE);
  assert_string_equal(f.out.data,
      "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
      "</stream:error></stream:stream>");
  assert_string_equal(f.ev.last_reason, "bad XML from server: restricted-xml");
  fx_teardown(&f);

  /* A stanza over MaxStanzaSize (skipped parts count too) is the stream's. */
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  struct sbuf deep;
  sbuf_init(&deep);
  sbuf_adds(&deep, "<message from='bob@xmpp.test/ipop-2'>");
  for (int i = 0; i < 100000; i++)
    sbuf_adds(&deep, "<x>");
  assert_int_equal(feed(&f, deep.data), IPOP_EPARSE);
  assert_non_null(strstr(f.out.data, "<policy-violation "));
  sbuf_free(&deep);
  fx_teardown(&f);

  /* see-other-host: reconnect target taken from the element text. */
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "<stream:error><see-other-host xmlns='urn:ietf:"
                            "params:xml:ns:xmpp-streams'>[2001:db8::1]:5333"
                            "</see-other-host></stream:error>"), IPOP_EIO);
  assert_string_equal(f.ev.last_reason, "stream error: see-other-host");
  assert_string_equal(xmpp__client_redirect(f.c), "2001:db8::1 5333");
  fx_teardown(&f);

  /* The server closing the stream. */
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, "</stream:stream>"), IPOP_EIO);
  assert_string_equal(f.ev.last_reason, "server closed the stream");
  fx_teardown(&f);
}

/* Callbacks may stop or free the client. */
static void stop_on_signal(struct xmpp_client *c, const struct xmpp_signal *s,
                           void *ctx)
{
  xmpp_client_stop(c);
}

static void test_stop_from_callback(void **state)
{
  struct fixture f;
  /* free() with a connection up */
  fx_setup(&f, "", XMPP_SUB_IGNORE);
  assert_int_equal(feed(&f, push_bob), 0);
  xmpp_client_free(f.c);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f.loop), 0);
  sbuf_free(&f.out);
  sbuf_free(&f.ev.log);

  /* stop() inside on_signal */
  memset(&f, 0, sizeof(f));
  assert_int_equal(uv_loop_init(&f.loop), 0);
  jb_defaults(&xmpp_config_schema, &f.cfg);
  strcpy(f.cfg.jid, "alice@xmpp.test");
  sbuf_init(&f.out);
  struct xmpp_callbacks c2 = { .on_signal = stop_on_signal };
  assert_int_equal(xmpp__client_new_nopw(&f.loop, &f.cfg, "n", &c2, NULL, &f.c), 0);
  assert_int_equal(xmpp__client_test_attach(f.c, &f.out, ME), 0);
  assert_int_equal(xmpp__client_test_feed(f.c, HDR, strlen(HDR)), 0);
  const char *m = "<message from='alice@xmpp.test/o'><signal xmlns="
                  "'urn:ipop:signal:1' type='a'/></message>"
                  "<message from='alice@xmpp.test/o'><signal xmlns="
                  "'urn:ipop:signal:1' type='b'/></message>";
  xmpp__client_test_feed(f.c, m, strlen(m));
  assert_int_equal(xmpp_client_state(f.c), XMPP_STATE_OFFLINE);
  struct xmpp_counters k;
  xmpp_client_counters(f.c, &k);
  assert_int_equal(k.signals_in, 1);  /* the second one was not processed */
  xmpp_client_free(f.c);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f.loop), 0);
  sbuf_free(&f.out);
}

static uint32_t fixed_rand(void *ctx)
{
  return *(uint32_t *)ctx;
}

static void test_backoff(void **state)
{
  struct xmpp_backoff b;
  uint32_t v = 0;
  /* Lowest jitter: half of each cap. */
  xmpp_backoff_init(&b, 1000, 300000, fixed_rand, &v);
  const uint32_t low[] = { 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000,
                           128000, 150000, 150000, 150000 };
  for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++)
    assert_int_equal(xmpp_backoff_next(&b), low[i]);
  /* Highest jitter: the cap itself (1 s doubling to 5 min). */
  v = 0xffffffffu;
  xmpp_backoff_init(&b, 1000, 300000, fixed_rand, &v);
  uint32_t cap = 1000;
  for (int i = 0; i < 40; i++) {
    uint32_t d = xmpp_backoff_next(&b);
    uint32_t half = cap / 2;
    uint32_t want = cap - half + v % (half + 1);
    assert_int_equal(d, want);
    assert_true(d <= 300000 && d >= cap / 2);
    cap = cap * 2 > 300000 ? 300000 : cap * 2;
  }
  v = 1000;  /* v % (half+1) for the first step: 1000 % 501 = 499 */
  xmpp_backoff_reset(&b);
  assert_int_equal(xmpp_backoff_next(&b), 999);
  /* Reset after a successful login starts over at 1 s. */
  xmpp_backoff_reset(&b);
  v = 0;
  assert_int_equal(xmpp_backoff_next(&b), 500);
  /* Default random source stays within bounds. */
  xmpp_backoff_init(&b, 1000, 300000, NULL, NULL);
  for (int i = 0; i < 30; i++) {
    uint32_t d = xmpp_backoff_next(&b);
    assert_true(d >= 500 && d <= 300000);
  }
}

static void test_config_schema(void **state)
{
  json_error_t je;
  json_t *o = json_loads("{\"Jid\":\"a@b.c\",\"Tls\":{\"Mode\":\"direct\","
                         "\"VerifyPeer\":false},\"Sasl\":[\"SCRAM-SHA-256\"],"
                         "\"SubscriptionPolicy\":\"accept-list\","
                         "\"AcceptFrom\":[\"x@b.c\"],\"PingInterval\":5}", 0, &je);
  assert_non_null(o);
  struct xmpp_config cfg;
  struct jb_error err;
  assert_int_equal(jb_decode(&xmpp_config_schema, o, &cfg, "Xmpp", &err), 0);
  assert_string_equal(cfg.jid, "a@b.c");
  assert_int_equal(cfg.tls.mode, XMPP_TLS_DIRECT);
  assert_false(cfg.tls.verify_peer);
  assert_true(cfg.tls.required);
  assert_int_equal(cfg.nsasl, 1);
  assert_int_equal(cfg.subscription_policy, XMPP_SUB_ACCEPT_LIST);
  assert_int_equal(cfg.ping_interval, 5);
  assert_int_equal(cfg.max_stanza, XMPP_STANZA_MAX_DEFAULT);
  assert_string_equal(cfg.resource_prefix, "ipop-");
  json_decref(o);
  /* Defaults of an absent Tls object: verification on. */
  o = json_loads("{\"Jid\":\"a@b.c\"}", 0, &je);
  assert_int_equal(jb_decode(&xmpp_config_schema, o, &cfg, "Xmpp", &err), 0);
  assert_true(cfg.tls.verify_peer);
  assert_int_equal(cfg.ping_interval, 60);
  assert_int_equal(cfg.subscription_policy, XMPP_SUB_IGNORE);
  json_decref(o);
  /* No inline secrets: an unknown "Password" key is an error. */
  o = json_loads("{\"Jid\":\"a@b.c\",\"Password\":\"x\"}", 0, &je);
  assert_int_equal(jb_decode(&xmpp_config_schema, o, &cfg, "Xmpp", &err),
                   IPOP_EUNKNOWN);
  json_decref(o);
  /* Bad password files are refused with a reason. */
  uv_loop_t loop;
  uv_loop_init(&loop);
  jb_defaults(&xmpp_config_schema, &cfg);
  strcpy(cfg.jid, "a@b.c");
  char path[] = "/tmp/ipop-xmpp-pw-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "secret\n", 7), 7);
  close(fd);
  chmod(path, 0644);
  strcpy(cfg.password_file, path);
  struct xmpp_client *c = NULL;
  char why[256];
  assert_int_equal(xmpp_client_new(&loop, &cfg, "n", NULL, &cbs, NULL, &c, why,
                                   sizeof(why)), IPOP_EPERM);
  assert_null(c);
  assert_non_null(strstr(why, "chmod 600"));
  chmod(path, 0600);
  assert_int_equal(xmpp_client_new(&loop, &cfg, "n", NULL, &cbs, NULL, &c, why,
                                   sizeof(why)), 0);
  xmpp_client_free(c);
  unlink(path);
  strcpy(cfg.jid, "no-at-sign");
  assert_int_equal(xmpp_client_new(&loop, &cfg, "n", NULL, &cbs, NULL, &c, why,
                                   sizeof(why)), IPOP_EFIELD);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  ipop_log_init("test_xmpp_client", IPOP_LOG_ERROR);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_roster_push),
    cmocka_unit_test(test_presence_and_signals),
    cmocka_unit_test(test_roster_items),
    cmocka_unit_test(test_iq_and_subscriptions),
    cmocka_unit_test(test_stream_errors),
    cmocka_unit_test(test_hostile_stanza),
    cmocka_unit_test(test_login_skipped_roster),
    cmocka_unit_test(test_stop_from_callback),
    cmocka_unit_test(test_backoff),
    cmocka_unit_test(test_config_schema),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
