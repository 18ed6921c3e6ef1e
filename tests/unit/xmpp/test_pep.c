/* Node identity over PEP (pep.c) through a client with a fake connection:
 * the caps we announce and the disco#info behind them (checked against
 * XEP-0115's hash, recomputed here from the answer), how we publish
 * (publish-options, or configure), and what we make of events and fetch
 * answers, including forged, malformed and oversized ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "pep.h"
#include "stanza.h"
#include "xmpp.h"
#include "xmpp_internal.h"
#include "fake_session.h"

#define NODE "a0000000000000000000000000000000"
#define FPR "sha-256 AA:BB:CC"
#define EV "<message from='%s' type='headline'><event xmlns='http://jabber.org/" \
           "protocol/pubsub#event'>%s</event></message>"

static void ev_result(struct xmpp_client *c, const struct xmpp_result *r, void *ctx)
{
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "result %s %s %s: %s\n", xmpp_op_name(r->op),
              r->error ? ipop_err_name(r->error) : "ok", r->condition ? r->condition : "-",
              r->text ? r->text : "");
}

static void ev_pep(struct xmpp_client *c, const struct xmpp_pep_event *ev, void *ctx)
{
  static const char *const kinds[] = { "?", "items", "retract", "list", "error" };
  struct fixture *f = ctx;
  sbuf_printf(&f->log, "pep %s %s", kinds[ev->kind], ev->from);
  for (size_t i = 0; i < ev->n; i++)
    sbuf_printf(&f->log, " %s=%s%s%s", ev->items[i].node_id, ev->items[i].fingerprint,
                ev->items[i].caps ? "/" : "", ev->items[i].caps ? ev->items[i].caps : "");
  for (size_t i = 0; i < ev->n_retracted; i++)
    sbuf_printf(&f->log, " -%s", ev->retracted[i]);
  if (ev->condition)
    sbuf_printf(&f->log, " (%s)", ev->condition);
  sbuf_adds(&f->log, "\n");
}

static const struct xmpp_callbacks cbs = { .on_result = ev_result, .on_pep = ev_pep };

static void fx_setup(struct fixture *f, const char *caps)
{
  fs_init(f);
  f->cfg.tls.verify_peer = false;
  fs_start(f, NODE, &cbs);
  if (caps)
    assert_int_equal(xmpp_client_set_caps(f->c, caps), 0);
  attach(f);
  /* ipop1 is the blocklist asked at login: answered to keep ids simple */
  assert_int_equal(feed(f, "<iq type='result' id='ipop1'><blocklist xmlns="
                           "'urn:xmpp:blocking'/></iq>"), 0);
}

static uint64_t pep_dropped(struct fixture *f)
{
  struct xmpp_counters k;
  xmpp_client_counters(f->c, &k);
  return k.pep_dropped;
}

/* The verification string of XEP-0115 5.1, recomputed from a disco#info
 * answer: "category/type//name<" then each feature and "<", sorted. */
static void ver_of(const char *answer, char *ver, size_t len)
{
  char s[2048] = "client/bot//ipop<", *feats[16];
  size_t n = 0;
  for (const char *p = strstr(answer, "<feature var='"); p && n < 16;
       p = strstr(p + 1, "<feature var='")) {
    const char *v = p + strlen("<feature var='");
    feats[n++] = strndup(v, strcspn(v, "'"));
  }
  for (size_t i = 0; i < n; i++) /* sort */
    for (size_t k = i + 1; k < n; k++)
      if (strcmp(feats[k], feats[i]) < 0) {
        char *t = feats[i];
        feats[i] = feats[k];
        feats[k] = t;
      }
  for (size_t i = 0; i < n; i++) {
    strcat(s, feats[i]);
    strcat(s, "<");
    free(feats[i]);
  }
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)s, strlen(s), md);
  unsigned char b64[64];
  EVP_EncodeBlock(b64, md, sizeof md);
  snprintf(ver, len, "%s", (char *)b64);
}

static void test_caps_and_disco(void **state)
{
  struct fixture f;
  fx_setup(&f, NULL);
  const char *ver = xmpp_pep_caps_ver(f.c);
  assert_true(strlen(ver) == 28);
  /* disco#info without a node, from anyone: identity and features */
  assert_int_equal(feed(&f, "<iq type='get' id='d1' from='xmpp.test'><query xmlns="
                            "'http://jabber.org/protocol/disco#info'/></iq>"), 0);
  assert_non_null(strstr(out(&f), "<iq type='result' id='d1' to='xmpp.test'><query xmlns="
                                  "'http://jabber.org/protocol/disco#info'><identity "
                                  "category='client' type='bot' name='ipop'/>"));
  assert_non_null(strstr(out(&f), "<feature var='urn:ipop:node:1+notify'/>"));
  char want[64];
  ver_of(out(&f), want, sizeof want);
  assert_string_equal(ver, want); /* what a server verifies */
  /* with our caps node#ver: the same, echoing the node */
  char q[512];
  snprintf(q, sizeof q, "<iq type='get' id='d2' from='bob@xmpp.test/x'><query xmlns="
           "'http://jabber.org/protocol/disco#info' node='urn:ipop:controller#%s'/></iq>", ver);
  assert_int_equal(feed(&f, q), 0);
  assert_non_null(strstr(out(&f), " node='urn:ipop:controller#"));
  assert_non_null(strstr(out(&f), "urn:ipop:node:1+notify"));
  /* another node: item-not-found */
  assert_int_equal(feed(&f, "<iq type='get' id='d3' from='bob@xmpp.test/x'><query xmlns="
                            "'http://jabber.org/protocol/disco#info' node='x#y'/></iq>"), 0);
  assert_non_null(strstr(out(&f), "type='error' id='d3'"));
  assert_non_null(strstr(out(&f), "item-not-found"));
  fx_teardown(&f);
}

/* publish-options first; a server that refuses them gets the node
 * configured and the item published plainly (ejabberd 23.01); a node that
 * did not exist yet is configured after that publish. */
static void test_publish(void **state)
{
  struct fixture f;
  fx_setup(&f, "ip4=10.254.0.1");
  /* nothing before a fingerprint is known */
  assert_int_equal(feed(&f, ""), 0);
  assert_null(strstr(out(&f), "pubsub"));
  assert_int_equal(xmpp_pep_publish(f.c, "bad\nfpr"), IPOP_EINVAL);
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_pep_publish(f.c, FPR), 0);
  assert_string_equal(out(&f),
      "<iq type='set' id='ipop2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish "
      "node='urn:ipop:node:1'><item id='" NODE "'><node xmlns='urn:ipop:node:1' id='" NODE
      "' fingerprint='" FPR "' caps='ip4=10.254.0.1'/></item></publish><publish-options><x "
      "xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>"
      "http://jabber.org/protocol/pubsub#publish-options</value></field><field var="
      "'pubsub#access_model'><value>presence</value></field><field var='pubsub#max_items'>"
      "<value>16</value></field></x></publish-options></pubsub></iq>");
  /* asked again meanwhile: one more run once this one ends */
  assert_int_equal(xmpp_pep_publish(f.c, FPR), 0);
  assert_int_equal(feed(&f, "<iq type='error' id='ipop2'><error type='wait'><resource-"
                            "constraint xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Unknown field</text>"
                            "</error></iq>"), 0);
  assert_non_null(strstr(out(&f), "<iq type='set' id='ipop3'><pubsub xmlns='http://jabber.org"
                                  "/protocol/pubsub#owner'><configure node='urn:ipop:node:1'>"));
  assert_non_null(strstr(out(&f), "pubsub#node_config"));
  assert_int_equal(feed(&f, "<iq type='error' id='ipop3'><error type='cancel'><item-not-"
                            "found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"),
                   0);
  assert_non_null(strstr(out(&f), "id='ipop4'><pubsub xmlns='http://jabber.org/protocol/"
                                  "pubsub'><publish"));
  assert_null(strstr(out(&f), "publish-options"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop4'/>"), 0);
  assert_non_null(strstr(out(&f), "id='ipop5'><pubsub xmlns='http://jabber.org/protocol/"
                                  "pubsub#owner'><configure"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop5'/>"), 0);
  assert_string_equal(logs(&f), "result publish ok -: publish-options refused (resource-"
                      "constraint: Unknown field); published; new node configured (access "
                      "presence, at most 16 items)\n");
  /* the second run starts now, without publish-options (refused before) */
  assert_non_null(strstr(out(&f), "id='ipop6'><pubsub xmlns='http://jabber.org/protocol/"
                                  "pubsub#owner'><configure"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop6'/>"), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop7'/>"), 0);
  assert_string_equal(logs(&f), "result publish ok -: node configured (access presence, at "
                      "most 16 items); published\n");
  /* new caps: published again (and presence sent) */
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_client_set_caps(f.c, "ip4=10.254.0.9"), 0);
  assert_non_null(strstr(out(&f), "<node xmlns='urn:ipop:node:1' id='" NODE "' caps='ip4="
                                  "10.254.0.9'/><c xmlns='http://jabber.org/protocol/caps'"));
  assert_non_null(strstr(out(&f), "<configure node='urn:ipop:node:1'>"));
  assert_int_equal(feed(&f, "<iq type='result' id='ipop8'/>"), 0);
  assert_non_null(strstr(out(&f), "caps='ip4=10.254.0.9'/></item>"));
  /* a refused publish is reported as an error */
  assert_int_equal(feed(&f, "<iq type='error' id='ipop9'><error type='auth'><forbidden "
                            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"), 0);
  assert_string_equal(logs(&f), "result publish permission forbidden: node configured (access "
                      "presence, at most 16 items); publish refused: forbidden\n");
  fx_teardown(&f);

  /* A server that takes the options: one request. */
  fx_setup(&f, NULL);
  assert_int_equal(xmpp_pep_publish(f.c, FPR), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop2'/>"), 0);
  assert_string_equal(logs(&f), "result publish ok -: published with publish-options (access "
                      "presence, at most 16 items)\n");
  assert_string_equal(out(&f), "");
  /* after a reconnect: published again at login */
  assert_int_equal(feed(&f, "</stream:stream>"), IPOP_EIO);
  sbuf_reset(&f.out);
  assert_int_equal(xmpp__client_test_attach(f.c, &f.out, FS_ME), 0);
  assert_non_null(strstr(out(&f), "<publish node='urn:ipop:node:1'>"));
  fx_teardown(&f);
}

static void test_events(void **state)
{
  struct fixture f;
  fx_setup(&f, NULL);
  char ev[4096];
  /* a notification from an account (its bare JID, stamped by its server) */
  snprintf(ev, sizeof ev, EV, "bob@xmpp.test",
           "<items node='urn:ipop:node:1'><item id='b1'><node xmlns='urn:ipop:node:1' id='b1' "
           "fingerprint='F1' caps='c'/></item><retract id='b0'/></items>");
  assert_int_equal(feed(&f, ev), 0);
  assert_string_equal(logs(&f), "pep items bob@xmpp.test b1=F1/c\npep retract bob@xmpp.test -b0\n");
  /* purge: no items left */
  snprintf(ev, sizeof ev, EV, "bob@xmpp.test", "<purge node='urn:ipop:node:1'/>");
  assert_int_equal(feed(&f, ev), 0);
  assert_string_equal(logs(&f), "pep list bob@xmpp.test\n");
  /* other PEP nodes are not ours: ignored, not counted */
  snprintf(ev, sizeof ev, EV, "bob@xmpp.test",
           "<items node='urn:xmpp:avatar:metadata'><item id='x'/></items>");
  uint64_t d0 = pep_dropped(&f);
  assert_int_equal(feed(&f, ev), 0);
  assert_string_equal(logs(&f), "");
  assert_int_equal(pep_dropped(&f), d0);
  /* forged: from a full JID (a user sending it directly) or a domain */
  snprintf(ev, sizeof ev, EV, "mallory@xmpp.test/x",
           "<items node='urn:ipop:node:1'><item id='b1'><node xmlns='urn:ipop:node:1' id='b1' "
           "fingerprint='EVIL'/></item></items>");
  assert_int_equal(feed(&f, ev), 0);
  snprintf(ev, sizeof ev, EV, "xmpp.test",
           "<items node='urn:ipop:node:1'><item id='b1'><node xmlns='urn:ipop:node:1' id='b1' "
           "fingerprint='EVIL'/></item></items>");
  assert_int_equal(feed(&f, ev), 0);
  assert_string_equal(logs(&f), "");
  assert_int_equal(pep_dropped(&f), d0 + 2);
  /* malformed items: id and payload disagree, no fingerprint, no payload,
   * control characters, an oversized fingerprint; the good one passes */
  char big[200];
  memset(big, 'A', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  char items[2048];
  snprintf(items, sizeof items,
           "<items node='urn:ipop:node:1'>"
           "<item id='b1'><node xmlns='urn:ipop:node:1' id='b2' fingerprint='F'/></item>"
           "<item id='b1'><node xmlns='urn:ipop:node:1' id='b1'/></item>"
           "<item id='b1'/>"
           "<item id='b&#x7f;'><node xmlns='urn:ipop:node:1' id='b&#x7f;' fingerprint='F'/></item>"
           "<item id='b1'><node xmlns='urn:ipop:node:1' id='b1' fingerprint='%s'/></item>"
           "<item id='ok'><node xmlns='urn:ipop:node:1' id='ok' fingerprint='F'/></item>"
           "</items>", big);
  snprintf(ev, sizeof ev, EV, "bob@xmpp.test", items);
  assert_int_equal(feed(&f, ev), 0);
  assert_string_equal(logs(&f), "pep items bob@xmpp.test ok=F\n");
  assert_int_equal(pep_dropped(&f), d0 + 7);
  /* more than XMPP_PEP_ITEMS_MAX items: the first ones, the rest counted */
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, "<message from='bob@xmpp.test'><event xmlns='http://jabber.org/protocol/"
                "pubsub#event'><items node='urn:ipop:node:1'>");
  for (int i = 0; i < XMPP_PEP_ITEMS_MAX + 3; i++)
    sbuf_printf(&b, "<item id='n%d'><node xmlns='urn:ipop:node:1' id='n%d' fingerprint='F'/>"
                "</item>", i, i);
  sbuf_adds(&b, "</items></event></message>");
  assert_int_equal(feed(&f, b.data), 0);
  sbuf_free(&b);
  assert_non_null(strstr(logs(&f), " n15=F\n"));
  assert_null(strstr(logs(&f), " n16=F"));
  assert_int_equal(pep_dropped(&f), d0 + 10);
  /* an error message with an event: ignored */
  assert_int_equal(feed(&f, "<message from='bob@xmpp.test' type='error'><event xmlns="
                            "'http://jabber.org/protocol/pubsub#event'/></message>"), 0);
  assert_string_equal(logs(&f), "");
  fx_teardown(&f);
}

static void test_fetch(void **state)
{
  struct fixture f;
  fx_setup(&f, NULL);
  assert_int_equal(xmpp_pep_fetch(f.c, "bob@xmpp.test/r"), IPOP_EINVAL);
  assert_int_equal(xmpp_pep_fetch(f.c, "x'y@z"), IPOP_EINVAL);
  sbuf_reset(&f.out);
  assert_int_equal(xmpp_pep_fetch(f.c, "bob@xmpp.test"), 0);
  assert_string_equal(out(&f), "<iq type='get' id='ipop2' to='bob@xmpp.test'><pubsub xmlns="
                      "'http://jabber.org/protocol/pubsub'><items node='urn:ipop:node:1'/>"
                      "</pubsub></iq>");
  /* an answer from someone else is not believed */
  assert_int_equal(feed(&f, "<iq type='result' id='ipop2' from='mallory@xmpp.test'><pubsub "
                            "xmlns='http://jabber.org/protocol/pubsub'><items node='urn:ipop:"
                            "node:1'><item id='b1'><node xmlns='urn:ipop:node:1' id='b1' "
                            "fingerprint='EVIL'/></item></items></pubsub></iq>"), 0);
  assert_string_equal(logs(&f), "");
  assert_int_equal(feed(&f, "<iq type='result' id='ipop2' from='bob@xmpp.test'><pubsub "
                            "xmlns='http://jabber.org/protocol/pubsub'><items node='urn:ipop:"
                            "node:1'><item id='b1'><node xmlns='urn:ipop:node:1' id='b1' "
                            "fingerprint='F1'/></item><item id='b2'><node xmlns='urn:ipop:"
                            "node:1' id='b2' fingerprint='F2'/></item></items></pubsub></iq>"),
                   0);
  assert_string_equal(logs(&f), "pep list bob@xmpp.test b1=F1 b2=F2\n");
  /* an empty node, a refusal, an answer about another node */
  assert_int_equal(xmpp_pep_fetch(f.c, "carol@xmpp.test"), 0);
  assert_int_equal(xmpp_pep_fetch(f.c, "dave@xmpp.test"), 0);
  assert_int_equal(xmpp_pep_fetch(f.c, "erin@xmpp.test"), 0);
  assert_int_equal(feed(&f, "<iq type='result' id='ipop3' from='carol@xmpp.test'><pubsub "
                            "xmlns='http://jabber.org/protocol/pubsub'><items node='urn:ipop:"
                            "node:1'/></pubsub></iq>"
                            "<iq type='error' id='ipop4' from='dave@xmpp.test'><error type="
                            "'auth'><forbidden xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                            "</error></iq>"
                            "<iq type='result' id='ipop5' from='erin@xmpp.test'><pubsub "
                            "xmlns='http://jabber.org/protocol/pubsub'><items node='x'/>"
                            "</pubsub></iq>"), 0);
  assert_string_equal(logs(&f), "pep list carol@xmpp.test\npep error dave@xmpp.test (forbidden)\n"
                      "pep error erin@xmpp.test (bad-answer)\n");
  /* an answer beyond a limit inside one stanza (here 100 deep) is
   * skipped: the fetch ends as refused, the stream stays */
  assert_int_equal(xmpp_pep_fetch(f.c, "bob@xmpp.test"), 0);
  struct sbuf h;
  sbuf_init(&h);
  sbuf_adds(&h, "<iq type='result' id='ipop6' from='bob@xmpp.test'><pubsub xmlns="
                "'http://jabber.org/protocol/pubsub'>");
  for (int i = 0; i < 100; i++)
    sbuf_adds(&h, "<x>");
  for (int i = 0; i < 100; i++)
    sbuf_adds(&h, "</x>");
  sbuf_adds(&h, "</pubsub></iq>");
  assert_int_equal(feed(&f, h.data), 0);
  sbuf_free(&h);
  assert_string_equal(logs(&f), "pep error bob@xmpp.test (policy-violation)\n");
  /* the connection goes while a fetch waits */
  assert_int_equal(xmpp_pep_fetch(f.c, "bob@xmpp.test"), 0);
  assert_int_equal(feed(&f, "</stream:stream>"), IPOP_EIO);
  assert_string_equal(logs(&f), "pep error bob@xmpp.test (connection-lost)\n");
  assert_int_equal(xmpp_pep_fetch(f.c, "bob@xmpp.test"), IPOP_ESTATE);
  fx_teardown(&f);
}

int main(void)
{
  ipop_log_init("test_xmpp_pep", IPOP_LOG_ERROR);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_caps_and_disco),
    cmocka_unit_test(test_publish),
    cmocka_unit_test(test_events),
    cmocka_unit_test(test_fetch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
