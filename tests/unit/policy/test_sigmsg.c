/* sigmsg: round trips of all three messages; every malformed, oversized or
 * hostile payload is rejected with the offending field named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sigmsg.h"

#define ID_A "0123456789abcdef0123456789abcdef"
#define ID_B "fedcba9876543210fedcba9876543210"
#define FPR                                                                            \
  "sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:" \
  "CD:EF:01:23:45:67:89"
#define CAND "candidate:1 1 udp 2130706431 192.0.2.1 40000 typ host"

static void fill_link(struct sigmsg_link *l)
{
  snprintf(l->fingerprint, sizeof l->fingerprint, "%s", FPR);
  uint8_t mac[6] = { 0x02, 0, 0x5e, 0x10, 0, 1 };
  memcpy(l->mac, mac, 6);
  inet_pton(AF_INET, "10.254.0.2", &l->ip4);
  snprintf(l->ufrag, sizeof l->ufrag, "uFrg");
  snprintf(l->pwd, sizeof l->pwd, "abcdefghijklmnopqrstuv+/");
  snprintf(l->candidates[0], sizeof l->candidates[0], "%s", CAND);
  snprintf(l->candidates[1], sizeof l->candidates[1],
           "candidate:2 1 udp 1694498815 198.51.100.7 3478 typ srflx raddr 192.0.2.1 rport 40000");
  l->n_candidates = 2;
}

static void fill_head(struct sigmsg_head *h)
{
  h->v = 1;
  snprintf(h->request_id, sizeof h->request_id, "00112233aabbccdd");
  snprintf(h->from, sizeof h->from, ID_A);
  snprintf(h->to, sizeof h->to, ID_B);
  snprintf(h->overlay_id, sizeof h->overlay_id, "lab");
}

static struct sigmsg *request(void)
{
  static struct sigmsg m;
  memset(&m, 0, sizeof m);
  m.type = SIGMSG_LINK_REQUEST;
  fill_head(&m.u.head);
  fill_link(&m.u.req.link);
  return &m;
}

/* Encode the valid request, apply edit to its JSON, decode again. */
static int decode_edited(void (*edit)(json_t *root, void *arg), void *arg,
                         struct jb_error *err)
{
  const char *type;
  char *text;
  assert_int_equal(sigmsg_encode(request(), &type, &text, NULL), 0);
  json_t *root = json_loads(text, 0, NULL);
  free(text);
  edit(root, arg);
  text = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  struct sigmsg out;
  int rc = sigmsg_decode(type, text, strlen(text), &out, err);
  free(text);
  return rc;
}

static void test_roundtrip(void **state)
{
  const char *type;
  char *text;
  struct sigmsg out;
  struct jb_error err;

  assert_int_equal(sigmsg_encode(request(), &type, &text, &err), 0);
  assert_string_equal(type, "link_request");
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_int_equal(out.type, SIGMSG_LINK_REQUEST);
  assert_memory_equal(&out.u.req, &request()->u.req, sizeof out.u.req);
  free(text);

  struct sigmsg acc = { .type = SIGMSG_LINK_RESPONSE };
  fill_head(&acc.u.head);
  acc.u.resp.result = SIGMSG_ACCEPT;
  acc.u.resp.has_link = true;
  fill_link(&acc.u.resp.link);
  assert_int_equal(sigmsg_encode(&acc, &type, &text, &err), 0);
  assert_string_equal(type, "link_response");
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_int_equal(out.u.resp.result, SIGMSG_ACCEPT);
  assert_true(out.u.resp.has_link);
  assert_string_equal(out.u.resp.link.candidates[1], acc.u.resp.link.candidates[1]);
  assert_false(out.u.resp.link.has_ip6); /* IPv4 only: no "ip6" member */
  assert_null(strstr(text, "\"ip6\""));
  free(text);

  /* dual stack: link.ip6 goes along */
  inet_pton(AF_INET6, "fd00:1::5", &acc.u.resp.link.ip6);
  acc.u.resp.link.has_ip6 = true;
  assert_int_equal(sigmsg_encode(&acc, &type, &text, &err), 0);
  assert_non_null(strstr(text, "\"ip6\":\"fd00:1::5\""));
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_true(out.u.resp.link.has_ip6);
  assert_memory_equal(&out.u.resp.link.ip6, &acc.u.resp.link.ip6, 16);
  free(text);

  struct sigmsg rej = { .type = SIGMSG_LINK_RESPONSE };
  fill_head(&rej.u.head);
  rej.u.resp.result = SIGMSG_REJECT;
  rej.u.resp.reason = SIGMSG_R_OVER_BUDGET;
  rej.u.resp.has_reason = true;
  assert_int_equal(sigmsg_encode(&rej, &type, &text, &err), 0);
  assert_non_null(strstr(text, "\"over_budget\""));
  assert_null(strstr(text, "\"link\""));
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_int_equal(out.u.resp.result, SIGMSG_REJECT);
  assert_int_equal(out.u.resp.reason, SIGMSG_R_OVER_BUDGET);
  free(text);

  struct sigmsg can = { .type = SIGMSG_LINK_CANCEL };
  fill_head(&can.u.head);
  can.u.cancel.reason = SIGMSG_R_TIMEOUT;
  snprintf(can.u.cancel.text, sizeof can.u.cancel.text, "no response");
  can.u.cancel.has_text = true;
  assert_int_equal(sigmsg_encode(&can, &type, &text, &err), 0);
  assert_string_equal(type, "link_cancel");
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_int_equal(out.u.cancel.reason, SIGMSG_R_TIMEOUT);
  assert_string_equal(out.u.cancel.text, "no response");
  free(text);

  /* the on-demand hint appears only when set */
  struct sigmsg *od = request();
  od->u.req.ondemand = od->u.req.has_ondemand = true;
  assert_int_equal(sigmsg_encode(od, &type, &text, &err), 0);
  assert_non_null(strstr(text, "\"ondemand\":true"));
  assert_int_equal(sigmsg_decode(type, text, strlen(text), &out, &err), 0);
  assert_true(out.u.req.ondemand);
  free(text);

  /* the wire text of a request, documented in docs/signaling-negotiation.md */
  assert_int_equal(sigmsg_encode(request(), &type, &text, &err), 0);
  assert_null(strstr(text, "ondemand"));
  assert_non_null(strstr(text, "\"from\":\"" ID_A "\""));
  assert_non_null(strstr(text, "\"mac\":\"02:00:5e:10:00:01\""));
  assert_non_null(strstr(text, "\"ip4\":\"10.254.0.2\""));
  free(text);
}

/* ---- field edits ----------------------------------------------------------- */

struct edit {
  const char *obj;   /* NULL: root, else "link" */
  const char *key;
  json_t *val;       /* NULL: delete the key */
  const char *path;  /* expected error path */
  int code;
};

static void apply(json_t *root, void *arg)
{
  struct edit *e = arg;
  json_t *o = e->obj ? json_object_get(root, e->obj) : root;
  if (e->val)
    json_object_set_new(o, e->key, e->val);
  else
    json_object_del(o, e->key);
}

static json_t *cands(int n, const char *c)
{
  json_t *a = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(a, json_string(c));
  return a;
}

static char *repeat(char ch, size_t n)
{
  static char buf[4096];
  memset(buf, ch, n);
  buf[n] = '\0';
  return buf;
}

static void test_bad_fields(void **state)
{
  char longcand[400];
  snprintf(longcand, sizeof longcand, "%s %s", CAND, repeat('x', 300));
  struct edit edits[] = {
    { NULL, "v", json_integer(2), "v", IPOP_EVERSION },
    { NULL, "v", json_string("1"), "v", IPOP_EFIELD },
    { NULL, "request_id", json_string("short"), "request_id", IPOP_EFIELD },
    { NULL, "request_id", json_string("abc-def-ghi"), "request_id", IPOP_EFIELD },
    { NULL, "request_id", json_string(repeat('a', 33)), "request_id", IPOP_EFIELD },
    { NULL, "request_id", NULL, "request_id", IPOP_EMISSING },
    { NULL, "from", json_string("alice@example.com"), "from", IPOP_EFIELD },
    { NULL, "from", json_string(ID_B), "to", IPOP_EFIELD }, /* from == to */
    { NULL, "from", json_string("0123456789ABCDEF0123456789abcdef"), "from", IPOP_EFIELD },
    { NULL, "to", json_integer(5), "to", IPOP_EFIELD },
    { NULL, "overlay_id", json_string("a b"), "overlay_id", IPOP_EFIELD },
    { NULL, "overlay_id", json_string(repeat('o', 65)), "overlay_id", IPOP_EFIELD },
    { NULL, "extra", json_true(), "extra", IPOP_EUNKNOWN },
    { NULL, "ondemand", json_string("yes"), "ondemand", IPOP_EFIELD },
    { NULL, "link", json_string("x"), "link", IPOP_EFIELD },
    { NULL, "link", NULL, "link", IPOP_EMISSING },
    { "link", "fingerprint", json_string("sha-1 AB:CD"), "link.fingerprint", IPOP_EFIELD },
    { "link", "fingerprint", json_string("sha-256 " FPR), "link.fingerprint", IPOP_EFIELD },
    { "link", "fingerprint", json_string(repeat('A', 200)), "link.fingerprint", IPOP_EFIELD },
    { "link", "mac", json_string("01:00:5e:00:00:01"), "link.mac", IPOP_EFIELD },
    { "link", "mac", json_string("00:00:00:00:00:00"), "link.mac", IPOP_EFIELD },
    { "link", "mac", json_string("02:00:5e:10:00"), "link.mac", IPOP_EFIELD },
    { "link", "ip4", json_string("255.255.255.255"), "link.ip4", IPOP_EFIELD },
    { "link", "ip4", json_string("224.0.0.1"), "link.ip4", IPOP_EFIELD },
    { "link", "ip4", json_string("10.0.0.300"), "link.ip4", IPOP_EFIELD },
    { "link", "ip6", json_string("fe80::1"), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_string("ff02::1"), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_string("::"), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_string("::ffff:10.0.0.1"), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_string("fd00::g"), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_string(repeat('f', 300)), "link.ip6", IPOP_EFIELD },
    { "link", "ip6", json_integer(6), "link.ip6", IPOP_EFIELD },
    { "link", "ufrag", json_string("abc"), "link.ufrag", IPOP_EFIELD },
    { "link", "ufrag", json_string("ab;cd"), "link.ufrag", IPOP_EFIELD },
    { "link", "pwd", json_string("tooshort"), "link.pwd", IPOP_EFIELD },
    { "link", "pwd", json_string(repeat('p', 129)), "link.pwd", IPOP_EFIELD },
    { "link", "candidates", json_array(), "link.candidates", IPOP_EFIELD },
    { "link", "candidates", cands(33, CAND), "link.candidates", IPOP_ETOOBIG },
    { "link", "candidates", cands(1, longcand), "link.candidates[0]", IPOP_EFIELD },
    { "link", "candidates", cands(1, "a=candidate:1 1 udp 1 1.2.3.4 1 typ host"),
      "link.candidates[0]", IPOP_EFIELD },
    { "link", "candidates", cands(1, "candidate:1 1 udp"), "link.candidates[0]",
      IPOP_EFIELD },
    { "link", "candidates", cands(1, "candidate:1 1 udp 1 1.2.3.4 1 typ h\xc3\xa9"),
      "link.candidates[0]", IPOP_EFIELD },
    { "link", "candidates", cands(1, "candidate:1 1 udp 1 1.2.3.4 1 typ host\r\nx"),
      "link.candidates[0]", IPOP_EFIELD },
    { "link", "evil", json_object(), "link.evil", IPOP_EUNKNOWN },
  };
  for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
    struct jb_error err = { 0 };
    int rc = decode_edited(apply, &edits[i], &err);
    if (rc != edits[i].code || strcmp(err.path, edits[i].path) != 0)
      fail_msg("edit %zu (%s): rc %d path '%s' msg '%s'", i, edits[i].key, rc, err.path,
               err.msg);
    assert_non_null(strstr(err.msg, edits[i].path));
  }
}

static void test_response_rules(void **state)
{
  static const struct {
    const char *json;
    const char *path;
    int code;
  } cases[] = {
    /* accept without link */
    { "{\"v\":1,\"request_id\":\"00112233aabbccdd\",\"from\":\"" ID_A "\",\"to\":\"" ID_B
      "\",\"overlay_id\":\"lab\",\"result\":\"accept\"}", "link", IPOP_EMISSING },
    /* reject without reason */
    { "{\"v\":1,\"request_id\":\"00112233aabbccdd\",\"from\":\"" ID_A "\",\"to\":\"" ID_B
      "\",\"overlay_id\":\"lab\",\"result\":\"reject\"}", "reason", IPOP_EMISSING },
    /* unknown result, unknown reason */
    { "{\"v\":1,\"request_id\":\"00112233aabbccdd\",\"from\":\"" ID_A "\",\"to\":\"" ID_B
      "\",\"overlay_id\":\"lab\",\"result\":\"maybe\"}", "result", IPOP_EFIELD },
    { "{\"v\":1,\"request_id\":\"00112233aabbccdd\",\"from\":\"" ID_A "\",\"to\":\"" ID_B
      "\",\"overlay_id\":\"lab\",\"result\":\"reject\",\"reason\":\"because\"}", "reason",
      IPOP_EFIELD },
    /* accept carrying a reason */
    { "{\"v\":1,\"request_id\":\"00112233aabbccdd\",\"from\":\"" ID_A "\",\"to\":\"" ID_B
      "\",\"overlay_id\":\"lab\",\"result\":\"accept\",\"reason\":\"busy\",\"link\":{}}",
      "link.fingerprint", IPOP_EMISSING },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct sigmsg out;
    struct jb_error err = { 0 };
    int rc = sigmsg_decode("link_response", cases[i].json, strlen(cases[i].json), &out, &err);
    if (rc != cases[i].code || strcmp(err.path, cases[i].path) != 0)
      fail_msg("case %zu: rc %d path '%s' msg '%s'", i, rc, err.path, err.msg);
  }
  /* semantic rule checked on our own messages too */
  struct sigmsg rej = { .type = SIGMSG_LINK_RESPONSE };
  fill_head(&rej.u.head);
  rej.u.resp.result = SIGMSG_REJECT;
  rej.u.resp.has_reason = true;
  rej.u.resp.has_link = true;
  fill_link(&rej.u.resp.link);
  const char *type;
  char *text;
  struct jb_error err;
  assert_int_equal(sigmsg_encode(&rej, &type, &text, &err), IPOP_EFIELD);
  assert_string_equal(err.path, "link");
  assert_null(text);
  rej.u.resp.has_link = false;
  rej.u.resp.result = SIGMSG_ACCEPT;
  rej.u.resp.has_reason = true;
  fill_link(&rej.u.resp.link);
  rej.u.resp.has_link = true;
  assert_int_equal(sigmsg_encode(&rej, &type, &text, &err), IPOP_EFIELD);
  assert_string_equal(err.path, "reason");
}

static void test_hostile_payloads(void **state)
{
  struct sigmsg out;
  struct jb_error err;
  /* unknown type, empty payload */
  assert_int_equal(sigmsg_decode("link_hijack", "{}", 2, &out, &err), IPOP_ENOCMD);
  assert_int_equal(sigmsg_decode(NULL, "{}", 2, &out, &err), IPOP_ENOCMD);
  assert_int_equal(sigmsg_decode("link_request", "", 0, &out, &err), IPOP_EPARSE);
  assert_int_equal(sigmsg_decode("link_request", NULL, 5, &out, &err), IPOP_EPARSE);
  /* oversized */
  size_t big = SIGMSG_MAX_PAYLOAD + 1;
  char *buf = malloc(big + 1);
  memset(buf, ' ', big);
  buf[0] = '{';
  buf[big - 1] = '}';
  buf[big] = '\0';
  assert_int_equal(sigmsg_decode("link_request", buf, big, &out, &err), IPOP_ETOOBIG);
  free(buf);
  /* deep nesting */
  char deep[256] = "";
  for (int i = 0; i < 40; i++)
    strcat(deep, "[");
  for (int i = 0; i < 40; i++)
    strcat(deep, "]");
  assert_int_equal(sigmsg_decode("link_request", deep, strlen(deep), &out, &err),
                   IPOP_ETOOBIG);
  /* not JSON, not an object, truncated, embedded NUL, duplicate keys */
  static const char *const junk[] = { "hello", "[1,2]", "{\"v\":1", "\"str\"", "null",
                                      "{\"v\":1,\"v\":1}" };
  for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
    int rc = sigmsg_decode("link_request", junk[i], strlen(junk[i]), &out, &err);
    assert_true(rc == IPOP_EPARSE || rc == IPOP_EFIELD);
  }
  static const char nul[] = "{\"v\":1}\0{\"x\":2}";
  assert_int_equal(sigmsg_decode("link_request", nul, sizeof nul - 1, &out, &err),
                   IPOP_EPARSE);
  static const char strnul[] = "{\"v\":1,\"request_id\":\"abc\\u0000defghij\"}";
  int rc = sigmsg_decode("link_request", strnul, sizeof strnul - 1, &out, &err);
  assert_true(rc == IPOP_EPARSE || rc == IPOP_EFIELD);
  /* huge integer */
  static const char huge[] = "{\"v\":99999999999999999999999}";
  rc = sigmsg_decode("link_request", huge, sizeof huge - 1, &out, &err);
  assert_true(rc < 0);
}

static void test_format_checks(void **state)
{
  assert_true(sigmsg_fingerprint_valid(FPR));
  assert_true(sigmsg_fingerprint_valid(
      "sha-256 ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:"
      "cd:ef:01:23:45:67:89"));
  assert_false(sigmsg_fingerprint_valid(FPR ":00"));
  assert_false(sigmsg_fingerprint_valid("SHA-256 AB"));
  assert_true(sigmsg_request_id_valid("abcdEFGH1234"));
  assert_false(sigmsg_request_id_valid("abcdEFG"));
  assert_true(sigmsg_ice_valid("ab+/", 4, 64));
  assert_false(sigmsg_ice_valid("ab =", 4, 64));
  assert_true(sigmsg_candidate_valid(CAND));
  assert_false(sigmsg_candidate_valid("candidate:1 1 udp 1 1.2.3.4 1 host x"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_roundtrip),
    cmocka_unit_test(test_bad_fields),
    cmocka_unit_test(test_response_rules),
    cmocka_unit_test(test_hostile_payloads),
    cmocka_unit_test(test_format_checks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
