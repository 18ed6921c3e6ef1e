/* Stream parser: identical stanzas however the input is split; malformed,
 * oversized, too deep, too wide and DTD/entity-laden input rejected with
 * the RFC 6120 stream error condition (leaks are caught by the ASan build). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "stanza.h"

#define HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
            "from='xmpp.test' version='1.0' xml:lang='en'>"

struct collect {
  struct sbuf out;     /* serialized stanzas, one per line */
  int opens, closes, stanzas;
  int stop_after;      /* return 1 from this stanza on (0: never) */
};

static int c_open(void *ctx, const struct xmpp_stanza *root)
{
  struct collect *c = ctx;
  c->opens++;
  sbuf_printf(&c->out, "OPEN id=%s\n", xmpp_stanza_attr(root, "id"));
  return 0;
}

static int c_stanza(void *ctx, struct xmpp_stanza *st)
{
  struct collect *c = ctx;
  c->stanzas++;
  xmpp_stanza_serialize(st, &c->out, XMPP_NS_CLIENT);
  sbuf_adds(&c->out, "\n");
  return c->stop_after && c->stanzas >= c->stop_after;
}

static void c_close(void *ctx)
{
  struct collect *c = ctx;
  c->closes++;
  sbuf_adds(&c->out, "CLOSE\n");
}

static const struct xmpp_parser_cbs cbs = { c_open, c_stanza, c_close };

static const char stream[] =
    HDR
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
    "<required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
    "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>\n  "
    "<message from='bob@xmpp.test/r1' to='alice@xmpp.test/r2' type='headline'>"
    "<signal xmlns='urn:ipop:signal:1' type='offer' id='7'>"
    "{&quot;a&quot;:&quot;&lt;&amp;&gt;&apos;&#x263A;&#9731;&quot;}</signal>"
    "<body>caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80<![CDATA[<raw&>]]></body></message>"
    "<presence from='bob@xmpp.test/r1'><priority>-1</priority>"
    "<node xmlns='urn:ipop:node:1' id='n-1' caps='a b'/></presence>"
    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
    "<a:x xmlns:a='urn:other' a:k='v' xml:lang='de'><a:y><z xmlns=''/></a:y></a:x>"
    "</stream:stream>";

static char *parse_all(const char *data, size_t len, size_t split1,
                       size_t split2)
{
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  assert_non_null(p);
  size_t cuts[4] = { 0, split1, split2, len };
  int r = 0;
  for (int i = 0; i < 3 && r == 0; i++)
    if (cuts[i + 1] > cuts[i])
      r = xmpp_parser_feed(p, data + cuts[i], cuts[i + 1] - cuts[i]);
  assert_int_equal(r, 1);  /* stopped by </stream:stream> */
  assert_int_equal(c.opens, 1);
  assert_int_equal(c.closes, 1);
  xmpp_parser_free(p);
  return c.out.data;
}

static void test_split_everywhere(void **state)
{
  size_t n = strlen(stream);
  char *ref = parse_all(stream, n, n, n);
  /* Spot-check the reference itself. */
  assert_non_null(strstr(ref, "OPEN id=s1\n"));
  assert_non_null(strstr(ref, "<signal xmlns='urn:ipop:signal:1' type='offer' "
                              "id='7'>{&quot;a&quot;:&quot;&lt;&amp;&gt;&apos;"
                              "\xe2\x98\xba\xe2\x98\x83&quot;}</signal>"));
  assert_non_null(strstr(ref, "&lt;raw&amp;&gt;"));
  assert_non_null(strstr(ref, "<node xmlns='urn:ipop:node:1' id='n-1' caps='a b'/>"));
  assert_non_null(strstr(ref, "<x xmlns='urn:other' a:k='v' xml:lang='de'><y><z xmlns=''/></y></x>"));
  assert_non_null(strstr(ref, "CLOSE\n"));
  for (size_t i = 0; i <= n; i++) {
    char *got = parse_all(stream, n, i, n);
    if (strcmp(got, ref) != 0)
      fail_msg("split at %zu differs:\n%s\nvs\n%s", i, got, ref);
    free(got);
  }
  /* Three pieces, a sample of pairs, and byte by byte. */
  for (size_t i = 0; i <= n; i += 7)
    for (size_t j = i; j <= n; j += 13) {
      char *got = parse_all(stream, n, i, j);
      assert_string_equal(got, ref);
      free(got);
    }
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  int r = 0;
  for (size_t i = 0; i < n && r == 0; i++)
    r = xmpp_parser_feed(p, stream + i, 1);
  assert_int_equal(r, 1);
  assert_string_equal(c.out.data, ref);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
  free(ref);
}

/* Feed HDR + body in one piece (and again byte by byte when small);
 * expect the stream error condition cond. */
static void expect_error(const char *body, size_t len, const char *cond,
                         size_t max_stanza, unsigned depth)
{
  for (int bytewise = 0; bytewise < 2; bytewise++) {
    if (bytewise && len > 4096)
      break;
    struct collect c = { 0 };
    sbuf_init(&c.out);
    struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, max_stanza, depth);
    int r = xmpp_parser_feed(p, HDR, strlen(HDR));
    if (r != 0)
      fail_msg("header rejected (%s) before body %.40s", xmpp_parser_error(p), body);
    if (bytewise) {
      for (size_t i = 0; i < len && r == 0; i++)
        r = xmpp_parser_feed(p, body + i, 1);
    } else {
      r = xmpp_parser_feed(p, body, len);
    }
    if (r != IPOP_EPARSE || strcmp(xmpp_parser_error(p), cond) != 0)
      fail_msg("body %.40s (bytewise %d): got %d %s, want %s", body, bytewise,
               r, r ? xmpp_parser_error(p) : "", cond);
    /* Further input is refused, without crashing. */
    assert_int_equal(xmpp_parser_feed(p, "<a/>", 4), IPOP_EPARSE);
    xmpp_parser_free(p);
    sbuf_free(&c.out);
  }
}

static void expect_error_s(const char *body, const char *cond)
{
  expect_error(body, strlen(body), cond, 256 * 1024, 64);
}

static void test_malformed(void **state)
{
  expect_error_s("<message><body></message>", "not-well-formed");
  expect_error_s("<message a='1' a='2'/>", "not-well-formed");
  expect_error_s("<message to='x></message>  <x/>", "not-well-formed");
  expect_error_s("<p:message/>", "not-well-formed");  /* unbound prefix */
  expect_error_s("<message>\xff\xfe</message>", "not-well-formed");
  expect_error_s("<message>&a b;</message>", "not-well-formed");
  expect_error_s("<message></message2>", "not-well-formed");
  expect_error_s("</stream:stream2>", "not-well-formed");
}

static void test_restricted(void **state)
{
  expect_error_s("<message><!-- hi --></message>", "restricted-xml");
  expect_error_s("<message><?pi data?></message>", "restricted-xml");
  expect_error_s("<message>&foo;</message>", "restricted-xml");
  expect_error_s("<message a='&foo;'/>", "restricted-xml");
  /* DTD before the root: the classic billion-laughs shape. */
  const char *dtd =
      "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
      "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>]>"
      "<stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
      "<message>&lol2;</message>";
  const char *ext =
      "<?xml version='1.0'?><!DOCTYPE x SYSTEM 'file:///etc/passwd'>"
      "<stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";
  const char *docs[] = { dtd, ext };
  for (int i = 0; i < 2; i++) {
    struct collect c = { 0 };
    sbuf_init(&c.out);
    struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
    assert_int_equal(xmpp_parser_feed(p, docs[i], strlen(docs[i])), IPOP_EPARSE);
    assert_string_equal(xmpp_parser_error(p), "restricted-xml");
    assert_int_equal(c.stanzas, 0);
    xmpp_parser_free(p);
    sbuf_free(&c.out);
  }
}

static void test_limits(void **state)
{
  /* Oversized text: 300 KiB body. */
  size_t big = 300 * 1024;
  char *buf = malloc(big + 64);
  strcpy(buf, "<message><body>");
  memset(buf + strlen(buf), 'a', big);
  strcpy(buf + 15 + big, "</body></message>");
  expect_error(buf, strlen(buf), "policy-violation", 256 * 1024, 64);
  /* Oversized start tag that never ends (libxml2 buffers it). */
  strcpy(buf, "<message a='");
  memset(buf + 12, 'b', big);
  buf[12 + big] = '\0';
  expect_error(buf, strlen(buf), "policy-violation", 256 * 1024, 64);
  free(buf);

  /* Depth: 64 levels pass, 65 do not. */
  char deep[2048] = "", tail[2048] = "";
  for (int i = 0; i < 64; i++) {
    strcat(deep, "<a>");
    strcat(tail, "</a>");
  }
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  assert_int_equal(xmpp_parser_feed(p, HDR, strlen(HDR)), 0);
  assert_int_equal(xmpp_parser_feed(p, deep, strlen(deep)), 0);
  assert_int_equal(xmpp_parser_feed(p, tail, strlen(tail)), 0);
  assert_int_equal(c.stanzas, 1);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
  strcat(deep, "<a>");
  expect_error_s(deep, "policy-violation");
  /* A configured smaller depth. */
  expect_error("<a><b><c><d><e/></d></c></b></a>", 32, "policy-violation",
               1024, 4);

  /* Attributes: 64 pass, 65 do not. */
  char attrs[4096] = "<message";
  for (int i = 0; i < 64; i++)
    sprintf(attrs + strlen(attrs), " a%d='x'", i);
  char ok[4200];
  sprintf(ok, "%s/>", attrs);
  memset(&c, 0, sizeof(c));
  sbuf_init(&c.out);
  p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  assert_int_equal(xmpp_parser_feed(p, HDR, strlen(HDR)), 0);
  assert_int_equal(xmpp_parser_feed(p, ok, strlen(ok)), 0);
  assert_int_equal(c.stanzas, 1);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
  strcat(attrs, " a64='x'/>");
  expect_error_s(attrs, "policy-violation");
}

static void test_root(void **state)
{
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 1024, 8);
  const char *bad = "<stream xmlns='jabber:client'>";
  assert_int_equal(xmpp_parser_feed(p, bad, strlen(bad)), IPOP_EPARSE);
  assert_string_equal(xmpp_parser_error(p), "invalid-namespace");
  xmpp_parser_free(p);
  sbuf_free(&c.out);

  /* A callback asking to stop (STARTTLS <proceed/>) stops the feed. */
  memset(&c, 0, sizeof(c));
  sbuf_init(&c.out);
  c.stop_after = 1;
  p = xmpp_parser_new(&cbs, &c, 1024, 8);
  const char *two = HDR "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                        "<message/>";
  assert_int_equal(xmpp_parser_feed(p, two, strlen(two)), 1);
  assert_int_equal(c.stanzas, 1);
  assert_int_equal(xmpp_parser_feed(p, "<x/>", 4), 1);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
}

static uint32_t xorshift(uint32_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

/* Deterministic mutation run: random byte edits of the sample stream, fed
 * in two random pieces.  Whatever the outcome, no crash, no leak, no
 * out-of-bounds access (the ASan build checks), and an error always names
 * one of the documented conditions. */
static void test_mutations(void **state)
{
  static const char specials[] = "<>&'\"/=:;!?[]-x\xc3\xff";
  uint32_t seed = 0x1f2e3d4cu;
  size_t n = strlen(stream);
  char *buf = malloc(n + 64);
  int errors = 0;
  for (int iter = 0; iter < 4000; iter++) {
    memcpy(buf, stream, n);
    size_t len = n;
    int muts = 1 + (int)(xorshift(&seed) % 4);
    for (int m = 0; m < muts; m++) {
      size_t pos = xorshift(&seed) % len;
      switch (xorshift(&seed) % 4) {
      case 0: buf[pos] = (char)(xorshift(&seed) & 0xff); break;
      case 1: buf[pos] = specials[xorshift(&seed) % (sizeof(specials) - 1)]; break;
      case 2:
        memmove(buf + pos, buf + pos + 1, len - pos - 1);
        len--;
        break;
      default:
        if (len < n + 60) {
          memmove(buf + pos + 1, buf + pos, len - pos);
          buf[pos] = specials[xorshift(&seed) % (sizeof(specials) - 1)];
          len++;
        }
      }
    }
    struct collect c = { 0 };
    sbuf_init(&c.out);
    struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 4096, 8);
    size_t cut = xorshift(&seed) % (len + 1);
    int r = xmpp_parser_feed(p, buf, cut);
    if (r == 0)
      r = xmpp_parser_feed(p, buf + cut, len - cut);
    if (r < 0) {
      const char *e = xmpp_parser_error(p);
      assert_true(strcmp(e, "not-well-formed") == 0 ||
                  strcmp(e, "restricted-xml") == 0 ||
                  strcmp(e, "policy-violation") == 0 ||
                  strcmp(e, "invalid-namespace") == 0);
      errors++;
    }
    xmpp_parser_free(p);
    sbuf_free(&c.out);
  }
  assert_true(errors > 100);  /* the mutations do hit the error paths */
  free(buf);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_split_everywhere),
    cmocka_unit_test(test_malformed),
    cmocka_unit_test(test_restricted),
    cmocka_unit_test(test_limits),
    cmocka_unit_test(test_root),
    cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
