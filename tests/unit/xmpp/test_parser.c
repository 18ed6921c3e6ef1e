/* Stream parser: identical stanzas however the input is split; malformed,
 * oversized and DTD/entity-laden input rejected with the RFC 6120 stream
 * error condition; a stanza too deep, too wide or with too much text
 * skipped alone (leaks are caught by the ASan build). */
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
#include "xmpp.h"

#define HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
            "xmlns:stream='http://etherx.jabber.org/streams' id='s1' " \
            "from='xmpp.test' version='1.0' xml:lang='en'>"

struct collect {
  struct sbuf out;     /* serialized stanzas, one per line */
  int opens, closes, stanzas, skipped;
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

static int c_skipped(void *ctx, struct xmpp_stanza *shell, const char *why)
{
  struct collect *c = ctx;
  c->skipped++;
  sbuf_adds(&c->out, "SKIP ");
  xmpp_stanza_serialize(shell, &c->out, XMPP_NS_CLIENT);
  sbuf_printf(&c->out, " %s\n", why);
  return 0;
}

static const struct xmpp_parser_cbs cbs = { c_open, c_stanza, c_close,
                                            c_skipped };

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
}

/* Feed HDR + body + "<iq id='after'/>" in one piece and again in pieces
 * of 7 bytes; expect no error, want in the transcript (a SKIP line), and
 * the stanza after it delivered. */
static void expect_skip(const char *body, size_t len, const char *want,
                        size_t max_stanza, unsigned depth)
{
  char *ref = NULL;
  for (size_t piece = 0; piece <= 7; piece += 7) {
    struct collect c = { 0 };
    sbuf_init(&c.out);
    struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, max_stanza, depth);
    assert_int_equal(xmpp_parser_feed(p, HDR, strlen(HDR)), 0);
    int r = 0;
    if (piece)
      for (size_t i = 0; i < len && r == 0; i += piece)
        r = xmpp_parser_feed(p, body + i, len - i < piece ? len - i : piece);
    else
      r = xmpp_parser_feed(p, body, len);
    if (r == 0)
      r = xmpp_parser_feed(p, "<iq id='after'/>", 16);
    if (r != 0)
      fail_msg("body %.60s: got %d %s, want a skip", body, r,
               xmpp_parser_error(p));
    assert_int_equal(c.skipped, 1);
    if (!strstr(c.out.data, want))
      fail_msg("body %.60s: %s lacks %s", body, c.out.data, want);
    assert_non_null(strstr(c.out.data, "<iq id='after'/>\n"));
    if (ref)
      assert_string_equal(c.out.data, ref);  /* however it was split */
    else
      ref = strdup(c.out.data);
    xmpp_parser_free(p);
    sbuf_free(&c.out);
  }
  free(ref);
}

/* Feed HDR + head + tail: exactly one stanza, delivered, none skipped. */
static void expect_pass(const char *head, size_t len, const char *tail,
                        size_t max_stanza)
{
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, max_stanza, 64);
  assert_int_equal(xmpp_parser_feed(p, HDR, strlen(HDR)), 0);
  assert_int_equal(xmpp_parser_feed(p, head, len), 0);
  assert_int_equal(xmpp_parser_feed(p, tail, strlen(tail)), 0);
  assert_int_equal(c.stanzas, 1);
  assert_int_equal(c.skipped, 0);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
}

/* Nest levels of <a>; inner text inside the innermost. */
static char *nested(const char *top, int levels, const char *inner)
{
  struct sbuf b;
  sbuf_init(&b);
  sbuf_adds(&b, top);
  for (int i = 0; i < levels; i++)
    sbuf_adds(&b, "<a>");
  sbuf_adds(&b, inner);
  for (int i = 0; i < levels; i++)
    sbuf_adds(&b, "</a>");
  sbuf_adds(&b, "</message>");
  return b.data;
}

static void test_skip(void **state)
{
  /* Depth: 64 levels pass (the stanza and 63 inside), 65 are skipped;
   * 2,000 and 10,000 too: libxml2 2.9 reads them to the end (its limit of
   * 256 levels does not stop the SAX push parser; this fails if a libxml2
   * ever does). */
  char *d = nested("<message from='bob@xmpp.test/r1' id='m1' x='y'>", 63, "t");
  expect_pass(d, strlen(d), "", 256 * 1024);
  free(d);
  const int deep[] = { 64, 2000, 10000 };
  for (int i = 0; i < 3; i++) {
    d = nested("<message from='bob@xmpp.test/r1' id='m1' x='y'>", deep[i], "t");
    expect_skip(d, strlen(d), "SKIP <message from='bob@xmpp.test/r1' id='m1'/> "
                "nesting of <a/> over the limit of 64\n", 256 * 1024, 64);
    free(d);
  }
  /* A configured smaller depth. */
  expect_skip("<a><b><c><d><e/></d></c></b></a>", 32,
              "SKIP <a/> nesting of <e/> over the limit of 4", 1024, 4);

  /* Attributes: 64 pass, 65 and 10,000 (128 KB) are skipped, on the
   * stanza itself (only its routing attributes kept) or inside it. */
  struct sbuf a;
  sbuf_init(&a);
  sbuf_adds(&a, "<message type='chat' from='eve@xmpp.test/x'");
  for (int i = 0; i < 62; i++)
    sbuf_printf(&a, " a%d='x'", i);
  sbuf_adds(&a, "/>");
  expect_pass(a.data, a.len, "", 256 * 1024);
  a.len -= 2;
  sbuf_adds(&a, " a62='x'/>");
  expect_skip(a.data, a.len, "SKIP <message type='chat' from='eve@xmpp.test/x'/> "
              "attributes of <message/> over the limit of 64\n", 256 * 1024, 64);
  a.len -= 2;
  for (int i = 63; i < 10000; i++)
    sbuf_printf(&a, " a%d='x'", i);
  sbuf_adds(&a, "/>");
  assert_true(a.len > 90000);
  expect_skip(a.data, a.len, "attributes of <message/> over", 256 * 1024, 64);
  sbuf_reset(&a);
  sbuf_adds(&a, "<iq type='set' id='q'><query xmlns='urn:x'><item");
  for (int i = 0; i < 10000; i++)
    sbuf_printf(&a, " a%d='x'", i);
  sbuf_adds(&a, "/></query></iq>");
  expect_skip(a.data, a.len, "SKIP <iq type='set' id='q'/> attributes of <item/> "
              "over the limit of 64\n", 256 * 1024, 64);
  sbuf_free(&a);
  /* The stream root with too many attributes is the stream's fault. */
  sbuf_init(&a);
  sbuf_adds(&a, "<stream:stream xmlns='jabber:client' xmlns:stream='"
                XMPP_NS_STREAM "'");
  for (int i = 0; i < 65; i++)
    sbuf_printf(&a, " a%d='x'", i);
  sbuf_adds(&a, ">");
  struct collect c = { 0 };
  sbuf_init(&c.out);
  struct xmpp_parser *p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  assert_int_equal(xmpp_parser_feed(p, a.data, a.len), IPOP_EPARSE);
  assert_string_equal(xmpp_parser_error(p), "policy-violation");
  xmpp_parser_free(p);
  sbuf_free(&c.out);
  sbuf_free(&a);

  /* Children: XMPP_CHILDREN_MAX pass, one more is skipped. */
  sbuf_init(&a);
  sbuf_adds(&a, "<iq type='result' id='r' from='xmpp.test'><query xmlns='urn:x'>");
  for (int i = 0; i < XMPP_CHILDREN_MAX; i++)
    sbuf_adds(&a, "<i/>");
  expect_pass(a.data, a.len, "</query></iq>", 1024 * 1024);
  sbuf_adds(&a, "<i/></query></iq>");
  expect_skip(a.data, a.len, "SKIP <iq type='result' id='r' from='xmpp.test'/> "
              "children of <query/> over the limit of 8192\n", 1024 * 1024, 64);
  sbuf_free(&a);

  /* A tree that would hold more than max_stanza bytes of memory (small
   * elements cost more in memory than on the wire): skipped too. */
  sbuf_init(&a);
  sbuf_adds(&a, "<iq type='result' id='r'><query xmlns='urn:x'>");
  for (int i = 0; i < 5000; i++)
    sbuf_adds(&a, "<i/>");
  sbuf_adds(&a, "</query></iq>");
  expect_skip(a.data, a.len, "SKIP <iq type='result' id='r'/> memory of <iq/> "
              "over the limit of 262144\n", 256 * 1024, 64);
  sbuf_free(&a);

  /* Text: XMPP_TEXT_MAX bytes in one element pass (even split in CDATA
   * and entities), one more is skipped. */
  sbuf_init(&a);
  sbuf_adds(&a, "<message from='eve@xmpp.test/x'><body>&amp;<![CDATA[x]]>");
  for (int i = 2; i < XMPP_TEXT_MAX; i++)
    sbuf_adds(&a, "b");
  expect_pass(a.data, a.len, "</body></message>", 256 * 1024);
  sbuf_adds(&a, "b</body></message>");
  expect_skip(a.data, a.len, "SKIP <message from='eve@xmpp.test/x'/> text of "
              "<body/> over the limit of 65536\n", 256 * 1024, 64);
  sbuf_free(&a);

  /* Skipped bytes still count: a stanza over max_stanza breaks the
   * stream, skipped or not; so does a start tag that never ends. */
  sbuf_init(&a);
  sbuf_adds(&a, "<message><body>");
  for (int i = 0; i < 300 * 1024; i++)
    sbuf_adds(&a, "b");
  sbuf_adds(&a, "</body></message>");
  expect_error(a.data, a.len, "policy-violation", 256 * 1024, 64);
  sbuf_free(&a);
  d = nested("<message>", 100000, "");
  expect_error(d, strlen(d), "policy-violation", 256 * 1024, 64);
  free(d);

  /* Two hostile stanzas in a row, then a good one: each costs itself. */
  d = nested("<message from='a@x/1'>", 100, "");
  sbuf_init(&a);
  sbuf_adds(&a, d);
  sbuf_adds(&a, d);
  memset(&c, 0, sizeof(c));
  sbuf_init(&c.out);
  p = xmpp_parser_new(&cbs, &c, 256 * 1024, 64);
  assert_int_equal(xmpp_parser_feed(p, HDR, strlen(HDR)), 0);
  assert_int_equal(xmpp_parser_feed(p, a.data, a.len), 0);
  assert_int_equal(xmpp_parser_feed(p, "<presence/>", 11), 0);
  assert_int_equal(c.skipped, 2);
  assert_int_equal(c.stanzas, 1);
  xmpp_parser_free(p);
  sbuf_free(&c.out);
  sbuf_free(&a);
  free(d);
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
    cmocka_unit_test(test_skip),
    cmocka_unit_test(test_root),
    cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
