/* The JSON envelope: valid requests, responses, events and errors; every
 * malformed envelope is refused with a precise error, and whatever was
 * parsed before the failure (txid, kind, name) stays available. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "envelope.h"
#include "error.h"

static int parse(const char *text, struct ctl_envelope *env, struct jb_error *err)
{
  return ctl_envelope_parse((const uint8_t *)text, strlen(text), env, err);
}

/* Parse text, expect failure with code/path/msg, free. */
static void expect_fail(const char *text, int code, const char *path, const char *msg)
{
  struct ctl_envelope env;
  struct jb_error err;
  int rc = parse(text, &env, &err);
  if (rc != code || err.code != code || strcmp(err.path, path) != 0 ||
      (msg && strcmp(err.msg, msg) != 0))
    fail_msg("input %s\n  got  rc=%d path \"%s\" msg \"%s\"\n  want rc=%d path \"%s\" msg \"%s\"",
             text, rc, err.path, err.msg, code, path, msg ? msg : "(any)");
  ctl_envelope_free(&env);
}

static void test_request(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":1,\"txid\":7,\"kind\":\"request\",\"name\":\"echo\","
                         "\"body\":{\"message\":\"hi\"}}",
                         &env, &err),
                   0);
  assert_int_equal(err.code, 0);
  assert_int_equal(env.version, 1);
  assert_true(env.has_txid);
  assert_int_equal(env.txid, 7);
  assert_int_equal(env.kind, CTL_KIND_REQUEST);
  assert_string_equal(env.name, "echo");
  assert_non_null(env.body);
  assert_string_equal(json_string_value(json_object_get(env.body, "message")), "hi");
  assert_int_equal(env.err_code, 0);
  ctl_envelope_free(&env);
  assert_null(env.root);
  ctl_envelope_free(&env); /* twice is harmless */
  /* body may be absent (no arguments) */
  assert_int_equal(parse("{\"version\":1,\"txid\":0,\"kind\":\"request\",\"name\":\"status\"}",
                         &env, &err),
                   0);
  assert_null(env.body);
  assert_int_equal(env.txid, 0);
  ctl_envelope_free(&env);
}

static void test_response_and_event(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":1,\"txid\":9007199254740992,\"kind\":\"response\","
                         "\"name\":\"echo\",\"result\":{\"message\":\"hi\"}}",
                         &env, &err),
                   0);
  assert_int_equal(env.kind, CTL_KIND_RESPONSE);
  assert_true(env.txid == CTL_TXID_MAX);
  assert_true(json_is_object(env.body));
  ctl_envelope_free(&env);
  assert_int_equal(parse("{\"version\":1,\"txid\":3,\"kind\":\"event\",\"name\":\"link_state\","
                         "\"body\":{}}",
                         &env, &err),
                   0);
  assert_int_equal(env.kind, CTL_KIND_EVENT);
  assert_string_equal(env.name, "link_state");
  ctl_envelope_free(&env);
}

static void test_error_response(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"create_link\","
                         "\"error\":{\"code\":\"bad_field\",\"message\":\"body.mtu: no\"}}",
                         &env, &err),
                   0);
  assert_int_equal(env.err_code, IPOP_EFIELD);
  assert_string_equal(env.err_message, "body.mtu: no");
  assert_null(env.body);
  ctl_envelope_free(&env);
  /* message optional; unknown codes map to internal */
  assert_int_equal(parse("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\","
                         "\"error\":{\"code\":\"timeout\"}}",
                         &env, &err),
                   0);
  assert_int_equal(env.err_code, IPOP_ETIMEDOUT);
  assert_string_equal(env.err_message, "timed out");
  ctl_envelope_free(&env);
  assert_int_equal(parse("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\","
                         "\"error\":{\"code\":\"from_the_future\",\"message\":\"m\"}}",
                         &env, &err),
                   0);
  assert_int_equal(env.err_code, IPOP_EINTERNAL);
  ctl_envelope_free(&env);
  const char *want = "error: expected {\"code\": string, \"message\": string}";
  expect_fail("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\",\"error\":\"bad\"}",
              IPOP_EFIELD, "error", want);
  expect_fail("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\",\"error\":{}}",
              IPOP_EFIELD, "error", want);
  expect_fail("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\","
              "\"error\":{\"code\":5}}",
              IPOP_EFIELD, "error", want);
  expect_fail("{\"version\":1,\"txid\":4,\"kind\":\"response\",\"name\":\"x\","
              "\"error\":{\"code\":\"io\",\"message\":[]}}",
              IPOP_EFIELD, "error", want);
}

static void test_build_and_parse_back(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  size_t len;
  for (int kind = CTL_KIND_REQUEST; kind <= CTL_KIND_EVENT; kind++) {
    char *text = ctl_envelope_build(kind, 42, "echo", json_pack("{s:s}", "message", "m"), 0,
                                    NULL, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
    assert_int_equal(ctl_envelope_parse((const uint8_t *)text, len, &env, &err), 0);
    assert_int_equal(env.kind, kind);
    assert_int_equal(env.txid, 42);
    assert_string_equal(env.name, "echo");
    assert_string_equal(json_string_value(json_object_get(env.body, "message")), "m");
    ctl_envelope_free(&env);
    free(text);
  }
  /* payload NULL on a request: an empty body */
  char *text = ctl_envelope_build(CTL_KIND_REQUEST, 1, "status", NULL, 0, NULL, &len);
  assert_non_null(text);
  assert_int_equal(ctl_envelope_parse((const uint8_t *)text, len, &env, &err), 0);
  assert_int_equal(json_object_size(env.body), 0);
  ctl_envelope_free(&env);
  free(text);
  /* error responses carry the wire name and message */
  text = ctl_envelope_build(CTL_KIND_RESPONSE, 5, "create_link", NULL, IPOP_EMISSING,
                            "body.peer_id: required key is missing", &len);
  assert_non_null(text);
  assert_non_null(strstr(text, "\"code\":\"missing_field\""));
  assert_int_equal(ctl_envelope_parse((const uint8_t *)text, len, &env, &err), 0);
  assert_int_equal(env.err_code, IPOP_EMISSING);
  assert_string_equal(env.err_message, "body.peer_id: required key is missing");
  ctl_envelope_free(&env);
  free(text);
  /* default message */
  text = ctl_envelope_build(CTL_KIND_RESPONSE, 5, "x", NULL, IPOP_EAUTH, NULL, &len);
  assert_non_null(strstr(text, "\"message\":\"authentication failed\""));
  free(text);
  /* too large for one datagram: NULL, payload freed */
  json_t *big = json_object();
  char *s = malloc(CTL_MAX_PAYLOAD + 1);
  memset(s, 'x', CTL_MAX_PAYLOAD);
  s[CTL_MAX_PAYLOAD] = '\0';
  json_object_set_new(big, "message", json_string(s));
  free(s);
  assert_null(ctl_envelope_build(CTL_KIND_REQUEST, 1, "echo", big, 0, NULL, &len));
}

static void test_version_mismatch(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":2,\"txid\":11,\"kind\":\"request\",\"name\":\"echo\","
                         "\"body\":{}}",
                         &env, &err),
                   IPOP_EVERSION);
  assert_string_equal(err.path, "version");
  assert_string_equal(err.msg, "version: protocol version 2 is not supported (this side speaks 1)");
  assert_string_equal(ipop_err_name(err.code), "version_mismatch");
  /* still addressable */
  assert_true(env.has_txid);
  assert_int_equal(env.txid, 11);
  assert_int_equal(env.kind, CTL_KIND_REQUEST);
  assert_string_equal(env.name, "echo");
  ctl_envelope_free(&env);
  expect_fail("{\"version\":0,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EVERSION,
              "version", "version: protocol version 0 is not supported (this side speaks 1)");
}

static void test_version_missing_or_wrong_type(void **state)
{
  expect_fail("{\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EMISSING, "version",
              "version: required key is missing");
  expect_fail("{\"version\":\"1\",\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EFIELD,
              "version", "version: expected integer");
  expect_fail("{\"version\":1.0,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EFIELD,
              "version", NULL);
  expect_fail("{\"version\":-1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EFIELD,
              "version", NULL);
  expect_fail("{\"version\":4294967297,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}",
              IPOP_EFIELD, "version", NULL);
}

static void test_txid_errors(void **state)
{
  expect_fail("{\"version\":1,\"kind\":\"request\",\"name\":\"echo\"}", IPOP_EMISSING, "txid",
              "txid: required key is missing");
  const char *bad[] = { "\"7\"", "-1", "1.5", "9007199254740993", "null", "[]" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[160];
    snprintf(text, sizeof text, "{\"version\":1,\"txid\":%s,\"kind\":\"request\",\"name\":\"echo\"}",
             bad[i]);
    expect_fail(text, IPOP_EFIELD, "txid", "txid: expected integer in 0..2^53");
  }
}

static void test_kind_errors(void **state)
{
  const char *want = "kind: expected \"request\", \"response\" or \"event\"";
  expect_fail("{\"version\":1,\"txid\":1,\"name\":\"echo\"}", IPOP_EMISSING, "kind", want);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"req\",\"name\":\"echo\"}", IPOP_EFIELD, "kind",
              want);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":0,\"name\":\"echo\"}", IPOP_EFIELD, "kind", want);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"Request\",\"name\":\"echo\"}", IPOP_EFIELD,
              "kind", want);
  /* txid survives a bad kind */
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":1,\"txid\":77,\"kind\":\"nope\",\"name\":\"echo\"}", &env,
                         &err),
                   IPOP_EFIELD);
  assert_true(env.has_txid);
  assert_int_equal(env.txid, 77);
  assert_int_equal(env.kind, -1);
  ctl_envelope_free(&env);
}

static void test_name_errors(void **state)
{
  const char *want = "name: expected a command name of 1..63 characters [a-z0-9_]";
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\"}", IPOP_EMISSING, "name", want);
  const char *bad[] = { "\"\"", "\"Echo\"", "\"echo!\"", "\"a b\"", "5", "\"\\u00e9\"",
                        "\"0123456789012345678901234567890123456789012345678901234567890123\"" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[200];
    snprintf(text, sizeof text, "{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":%s}",
             bad[i]);
    expect_fail(text, IPOP_EFIELD, "name", want);
  }
  /* 63 characters is the longest name */
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":"
                         "\"012345678901234567890123456789012345678901234567890123456789012\"}",
                         &env, &err),
                   0);
  assert_int_equal(strlen(env.name), 63);
  ctl_envelope_free(&env);
}

static void test_unknown_envelope_keys(void **state)
{
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\",\"bdy\":{}}",
              IPOP_EUNKNOWN, "", "unknown envelope key \"bdy\"");
  /* the txid is known, so the error can be answered */
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{\"zzz\":1,\"version\":1,\"txid\":21,\"kind\":\"request\",\"name\":\"echo\"}",
                         &env, &err),
                   IPOP_EUNKNOWN);
  assert_true(env.has_txid);
  assert_int_equal(env.txid, 21);
  assert_int_equal(env.kind, CTL_KIND_REQUEST);
  assert_string_equal(env.name, "echo");
  ctl_envelope_free(&env);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\",\"result\":{}}",
              IPOP_EUNKNOWN, "", "a request carries \"body\", not \"result\"/\"error\"");
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"event\",\"name\":\"x\",\"error\":{}}",
              IPOP_EUNKNOWN, "", NULL);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"response\",\"name\":\"x\",\"body\":{}}",
              IPOP_EUNKNOWN, "body", "body: a response carries \"result\" or \"error\"");
}

/* A long unknown key is cut, but never inside a UTF-8 character: the
 * message is sent back in a JSON error answer. */
static void test_unknown_key_message_is_utf8(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  const char *text = "{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\","
                     "\"012345678901234567890123456789012345678\\u00e9\\u00e9\":1}";
  assert_int_equal(parse(text, &env, &err), IPOP_EUNKNOWN);
  json_t *s = json_string(err.msg);
  assert_non_null(s);
  json_decref(s);
  ctl_envelope_free(&env);
}

/* Found by fuzz_ctl_message: jansson quotes the token near a syntax error
 * and may cut it inside a UTF-8 character.  The message is answered in JSON
 * (txid 0), so it must stay valid UTF-8. */
static void test_parse_error_message_is_utf8(void **state)
{
  static const char *const inputs[] = {
    "\"e\\\\\\\xc4\x96\\g\\\\",
    "{\"version\":1,\"txid\":\"\\\xc3\xa9\"}",
    "[\xe2\x82\xac\xe2\x82\xac\xe2",
  };
  for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    struct ctl_envelope env;
    struct jb_error err;
    assert_int_equal(parse(inputs[i], &env, &err), IPOP_EPARSE);
    json_t *s = json_string(err.msg);
    if (!s)
      fail_msg("input %zu: message is not UTF-8: %s", i, err.msg);
    json_decref(s);
    ctl_envelope_free(&env);
  }
}

static void test_body_not_object(void **state)
{
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\",\"body\":[]}",
              IPOP_EFIELD, "body", "body: expected object, found array");
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"event\",\"name\":\"x\",\"body\":\"s\"}",
              IPOP_EFIELD, "body", "body: expected object, found string");
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\",\"body\":null}",
              IPOP_EFIELD, "body", "body: expected object, found null");
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"response\",\"name\":\"echo\",\"result\":1}",
              IPOP_EFIELD, "result", "result: expected object, found integer");
}

static void test_response_result_and_error(void **state)
{
  const char *want = "a response carries exactly one of \"result\" and \"error\"";
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"response\",\"name\":\"echo\",\"result\":{},"
              "\"error\":{\"code\":\"io\",\"message\":\"m\"}}",
              IPOP_EMISSING, "", want);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"response\",\"name\":\"echo\"}", IPOP_EMISSING,
              "", want);
}

static void test_not_an_object(void **state)
{
  expect_fail("[]", IPOP_EFIELD, "", "expected a JSON object, found array");
  expect_fail("\"s\"", IPOP_EPARSE, "", NULL);
  expect_fail("1", IPOP_EPARSE, "", NULL);
}

static void test_oversized(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  size_t n = CTL_MAX_PAYLOAD + 1;
  uint8_t *buf = malloc(n);
  memset(buf, ' ', n);
  buf[0] = '{';
  buf[n - 1] = '}';
  assert_int_equal(ctl_envelope_parse(buf, n, &env, &err), IPOP_ETOOBIG);
  char want[100];
  snprintf(want, sizeof want, "message of %zu bytes exceeds %d", n, CTL_MAX_PAYLOAD);
  assert_string_equal(err.msg, want);
  ctl_envelope_free(&env);
  /* at the limit it goes on to the parser */
  assert_int_equal(ctl_envelope_parse(buf, n - 1, &env, &err), IPOP_EPARSE);
  ctl_envelope_free(&env);
  free(buf);
}

static void test_deep_nesting(void **state)
{
  struct ctl_envelope env;
  struct jb_error err;
  size_t n = 10000;
  uint8_t *buf = malloc(n);
  memset(buf, '[', n);
  assert_int_equal(ctl_envelope_parse(buf, n, &env, &err), IPOP_ETOOBIG);
  assert_string_equal(err.msg, "JSON nested deeper than 16 levels");
  ctl_envelope_free(&env);
  /* deep inside a body */
  char text[512];
  int p = snprintf(text, sizeof text,
                   "{\"version\":1,\"txid\":5,\"kind\":\"request\",\"name\":\"echo\",\"body\":{\"a\":");
  for (int i = 0; i < CTL_MAX_JSON_DEPTH - 1; i++)
    text[p++] = '[';
  for (int i = 0; i < CTL_MAX_JSON_DEPTH - 1; i++)
    text[p++] = ']';
  p += snprintf(text + p, sizeof text - (size_t)p, "}}");
  /* depth 2 + 15 = 17 > 16 */
  assert_int_equal(ctl_envelope_parse((uint8_t *)text, (size_t)p, &env, &err), IPOP_ETOOBIG);
  ctl_envelope_free(&env);
  free(buf);
}

static void test_non_utf8_and_nul(void **state)
{
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\","
              "\"body\":{\"message\":\"\xff\"}}",
              IPOP_EPARSE, "", NULL);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\","
              "\"body\":{\"message\":\"\xed\xa0\x80\"}}", /* UTF-16 surrogate */
              IPOP_EPARSE, "", NULL);
  expect_fail("{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\","
              "\"body\":{\"message\":\"a\\u0000b\"}}",
              IPOP_EPARSE, "", NULL);
  /* raw NUL */
  struct ctl_envelope env;
  struct jb_error err;
  const char raw[] = "{\"version\":1,\"txid\":1,\"kind\":\"request\",\"name\":\"echo\"}\0";
  assert_int_equal(ctl_envelope_parse((const uint8_t *)raw, sizeof raw - 1, &env, &err),
                   IPOP_EPARSE);
  ctl_envelope_free(&env);
}

static void test_malformed_and_truncated(void **state)
{
  expect_fail("", IPOP_EPARSE, "", NULL);
  expect_fail("{\"version\":1,\"version\":1}", IPOP_EPARSE, "", NULL);
  expect_fail("{\"version\":1} x", IPOP_EPARSE, "", NULL);
  struct ctl_envelope env;
  struct jb_error err;
  assert_int_equal(parse("{", &env, &err), IPOP_EPARSE);
  assert_true(strncmp(err.msg, "malformed JSON at line 1 column ", 32) == 0);
  ctl_envelope_free(&env);
  /* every proper prefix of a valid message is refused without harm */
  const char *good = "{\"version\":1,\"txid\":12,\"kind\":\"request\",\"name\":\"echo\","
                     "\"body\":{\"message\":\"h\\u00e9llo\"}}";
  size_t n = strlen(good);
  for (size_t len = 0; len < n; len++) {
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
    memcpy(copy, good, len);
    int rc = ctl_envelope_parse(copy, len, &env, &err);
    if (rc != IPOP_EPARSE)
      fail_msg("prefix of %zu bytes: rc %d (%s)", len, rc, err.msg);
    ctl_envelope_free(&env);
    free(copy);
  }
  uint8_t *copy = malloc(n);
  memcpy(copy, good, n);
  assert_int_equal(ctl_envelope_parse(copy, n, &env, &err), 0);
  ctl_envelope_free(&env);
  free(copy);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_request),
    cmocka_unit_test(test_response_and_event),
    cmocka_unit_test(test_error_response),
    cmocka_unit_test(test_build_and_parse_back),
    cmocka_unit_test(test_version_mismatch),
    cmocka_unit_test(test_version_missing_or_wrong_type),
    cmocka_unit_test(test_txid_errors),
    cmocka_unit_test(test_kind_errors),
    cmocka_unit_test(test_name_errors),
    cmocka_unit_test(test_unknown_envelope_keys),
    cmocka_unit_test(test_unknown_key_message_is_utf8),
    cmocka_unit_test(test_parse_error_message_is_utf8),
    cmocka_unit_test(test_body_not_object),
    cmocka_unit_test(test_response_result_and_error),
    cmocka_unit_test(test_not_an_object),
    cmocka_unit_test(test_oversized),
    cmocka_unit_test(test_deep_nesting),
    cmocka_unit_test(test_non_utf8_and_nul),
    cmocka_unit_test(test_malformed_and_truncated),
  };
  return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
