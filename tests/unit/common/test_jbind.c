/* jbind: every field type decodes, re-encodes and round-trips; defaults and
 * presence flags; every error path gives the documented text with its key
 * path; secret values never appear in messages; jb_check_depth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "jbind.h"

/* ---- a test schema covering every type ---------------------------------- */

static const char *const color_names[] = { "red", "green", "blue", NULL };

struct t_inner {
  char user[16];
  uint32_t port;
};

struct t_turn {
  char address[32];
  char password[24];
};

struct t_overlay {
  char name[16];
  struct t_turn turn[3];
  uint32_t n_turn;
};

struct t_all {
  char name[8];
  uint32_t count;
  uint64_t big;
  bool flag;
  int color;
  uint8_t mac[6];
  bool has_mac;
  struct in_addr ip4;
  bool has_ip4;
  struct in6_addr ip6;
  bool has_ip6;
  struct t_inner inner;
  char tags[3][8];
  uint32_t n_tags;
  struct t_overlay overlays[2];
  uint32_t n_overlays;
  char secret[16];
  bool has_secret;
};

#define T struct t_inner
static const struct jb_field inner_f[] = {
  JB_F_STR(T, user, "User", 0, 1, "guest"),
  JB_F_U32(T, port, "Port", 0, 1, 65535, 3478),
};
static const struct jb_schema inner_s = JB_SCHEMA("inner", T, inner_f);
#undef T

#define T struct t_turn
static const struct jb_field turn_f[] = {
  JB_F_STR(T, address, "Address", JB_REQUIRED, 1, NULL),
  JB_F_STR(T, password, "Password", JB_REQUIRED | JB_SECRET, 4, NULL),
};
static const struct jb_schema turn_s = JB_SCHEMA("turn server", T, turn_f);
#undef T

#define T struct t_overlay
static const struct jb_field overlay_f[] = {
  JB_F_STR(T, name, "Name", JB_REQUIRED, 1, NULL),
  JB_F_OBJ_ARR(T, turn, n_turn, "Turn", 0, &turn_s),
};
static const struct jb_schema overlay_s = JB_SCHEMA("overlay", T, overlay_f);
#undef T

#define T struct t_all
static const struct jb_field all_f[] = {
  JB_F_STR(T, name, "Name", JB_REQUIRED, 2, NULL),
  JB_F_U32(T, count, "Count", 0, 10, 1000, 42),
  JB_F_U64(T, big, "Big", 0, 5, INT64_MAX, 7),
  JB_F_BOOL(T, flag, "Flag", 0, 1),
  JB_F_ENUM(T, color, "Color", 0, color_names, "green"),
  JB_F_MAC(T, mac, "Mac", 0, JB_PRESENCE(T, has_mac)),
  JB_F_IP4(T, ip4, "Ip4", 0, JB_PRESENCE(T, has_ip4)),
  JB_F_IP6(T, ip6, "Ip6", 0, JB_PRESENCE(T, has_ip6)),
  JB_F_OBJ(T, inner, "Inner", 0, &inner_s),
  JB_F_STR_ARR(T, tags, n_tags, "Tags", 0, 1),
  JB_F_OBJ_ARR(T, overlays, n_overlays, "Overlays", 0, &overlay_s),
  JB_F_STR(T, secret, "Secret", JB_SECRET, 4, NULL, JB_PRESENCE(T, has_secret)),
};
static const struct jb_schema all_s = JB_SCHEMA("test config", T, all_f);
#undef T

static const char full_json[] =
    "{\"Name\":\"node1\",\"Count\":1000,\"Big\":9223372036854775807,\"Flag\":false,"
    "\"Color\":\"blue\",\"Mac\":\"02:00:5E:10:00:ff\",\"Ip4\":\"10.254.0.1\","
    "\"Ip6\":\"fd00:0:0::1\",\"Inner\":{\"User\":\"alice\",\"Port\":65535},"
    "\"Tags\":[\"a\",\"bb\",\"ccccccc\"],"
    "\"Overlays\":[{\"Name\":\"ov1\",\"Turn\":[{\"Address\":\"t1:3478\",\"Password\":\"pw11\"},"
    "{\"Address\":\"t2:3478\",\"Password\":\"pw22\"}]},{\"Name\":\"ov2\"}],"
    "\"Secret\":\"s3cr3t!\"}";

/* Parse text and decode it; the JSON is freed before returning. */
static int decode_text(const struct jb_schema *s, const char *text, void *out,
                       const char *prefix, struct jb_error *err)
{
  json_error_t jerr;
  json_t *j = json_loads(text, JSON_ALLOW_NUL, &jerr);
  if (!j)
    fail_msg("test JSON does not parse: %s: %s", text, jerr.text);
  int rc = jb_decode(s, j, out, prefix, err);
  json_decref(j);
  return rc;
}

static void expect_error(const char *text, int code, const char *path, const char *msg)
{
  struct t_all v;
  struct jb_error err;
  int rc = decode_text(&all_s, text, &v, NULL, &err);
  if (rc != code || err.code != code || strcmp(err.path, path) != 0 ||
      strcmp(err.msg, msg) != 0)
    fail_msg("input %s\n  got  rc=%d code=%d path \"%s\" msg \"%s\"\n  want rc=%d path "
             "\"%s\" msg \"%s\"",
             text, rc, err.code, err.path, err.msg, code, path, msg);
}

/* True if s is valid UTF-8 (jansson refuses to build strings that are not,
 * and error messages travel in JSON). */
static bool utf8_ok(const char *s)
{
  json_t *j = json_string(s);
  json_decref(j);
  return j != NULL;
}

/* ---- decoding and round trips ------------------------------------------- */

static void test_decode_every_type(void **state)
{
  struct t_all v;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, full_json, &v, NULL, &err), 0);
  assert_int_equal(err.code, 0);
  assert_string_equal(v.name, "node1");
  assert_int_equal(v.count, 1000);
  assert_true(v.big == (uint64_t)INT64_MAX);
  assert_false(v.flag);
  assert_int_equal(v.color, 2);
  const uint8_t mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x00, 0xff };
  assert_memory_equal(v.mac, mac, 6);
  assert_true(v.has_mac);
  assert_true(v.has_ip4);
  assert_int_equal(ntohl(v.ip4.s_addr), 0x0afe0001);
  assert_true(v.has_ip6);
  struct in6_addr want6;
  inet_pton(AF_INET6, "fd00::1", &want6);
  assert_memory_equal(&v.ip6, &want6, sizeof want6);
  assert_string_equal(v.inner.user, "alice");
  assert_int_equal(v.inner.port, 65535);
  assert_int_equal(v.n_tags, 3);
  assert_string_equal(v.tags[0], "a");
  assert_string_equal(v.tags[1], "bb");
  assert_string_equal(v.tags[2], "ccccccc");
  assert_int_equal(v.n_overlays, 2);
  assert_string_equal(v.overlays[0].name, "ov1");
  assert_int_equal(v.overlays[0].n_turn, 2);
  assert_string_equal(v.overlays[0].turn[1].address, "t2:3478");
  assert_string_equal(v.overlays[0].turn[1].password, "pw22");
  assert_string_equal(v.overlays[1].name, "ov2");
  assert_int_equal(v.overlays[1].n_turn, 0);
  assert_true(v.has_secret);
  assert_string_equal(v.secret, "s3cr3t!");
}

static void test_encode_and_round_trip(void **state)
{
  struct t_all v, w;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, full_json, &v, NULL, &err), 0);
  json_t *j = jb_encode(&all_s, &v);
  assert_non_null(j);
  /* Canonical text forms on the way out. */
  assert_string_equal(json_string_value(json_object_get(j, "Mac")), "02:00:5e:10:00:ff");
  assert_string_equal(json_string_value(json_object_get(j, "Ip4")), "10.254.0.1");
  assert_string_equal(json_string_value(json_object_get(j, "Ip6")), "fd00::1");
  assert_string_equal(json_string_value(json_object_get(j, "Color")), "blue");
  assert_true(json_is_false(json_object_get(j, "Flag")));
  assert_int_equal(json_integer_value(json_object_get(j, "Big")), INT64_MAX);
  assert_int_equal(json_array_size(json_object_get(j, "Tags")), 3);
  json_t *ovs = json_object_get(j, "Overlays");
  assert_int_equal(json_array_size(ovs), 2);
  /* An empty array is still emitted (count 0). */
  assert_int_equal(json_array_size(json_object_get(json_array_get(ovs, 1), "Turn")), 0);
  assert_int_equal(jb_decode(&all_s, j, &w, NULL, &err), 0);
  json_decref(j);
  assert_memory_equal(&v, &w, sizeof v);
}

static void test_defaults_applied(void **state)
{
  struct t_all v, d;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\"}", &v, NULL, &err), 0);
  assert_string_equal(v.name, "ab");
  assert_int_equal(v.count, 42);
  assert_true(v.big == 7);
  assert_true(v.flag);
  assert_int_equal(v.color, 1); /* "green" */
  assert_false(v.has_mac);
  assert_false(v.has_ip4);
  assert_false(v.has_ip6);
  assert_false(v.has_secret);
  assert_string_equal(v.inner.user, "guest"); /* defaults inside an absent object */
  assert_int_equal(v.inner.port, 3478);
  assert_int_equal(v.n_tags, 0);
  assert_int_equal(v.n_overlays, 0);
  /* Defaults inside a present but partial object. */
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\",\"Inner\":{\"User\":\"bob\"}}", &v,
                               NULL, &err),
                   0);
  assert_string_equal(v.inner.user, "bob");
  assert_int_equal(v.inner.port, 3478);
  /* jb_defaults gives the same values as decoding {}-plus-required. */
  memset(&d, 0, sizeof d);
  jb_defaults(&all_s, &d);
  assert_int_equal(d.count, 42);
  assert_true(d.flag);
  assert_int_equal(d.color, 1);
  assert_string_equal(d.inner.user, "guest");
  assert_int_equal(d.inner.port, 3478);
}

static void test_presence_flags(void **state)
{
  struct t_all v, w;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\",\"Ip6\":\"::\"}", &v, NULL, &err), 0);
  assert_true(v.has_ip6); /* present even though the value is all zeros */
  assert_false(v.has_ip4);
  assert_false(v.has_mac);
  json_t *j = jb_encode(&all_s, &v);
  assert_non_null(j);
  assert_null(json_object_get(j, "Ip4")); /* absent stays absent */
  assert_null(json_object_get(j, "Mac"));
  assert_null(json_object_get(j, "Secret"));
  assert_string_equal(json_string_value(json_object_get(j, "Ip6")), "::");
  /* Fields without a presence flag are always emitted. */
  assert_non_null(json_object_get(j, "Count"));
  assert_non_null(json_object_get(j, "Inner"));
  assert_int_equal(jb_decode(&all_s, j, &w, NULL, &err), 0);
  json_decref(j);
  assert_memory_equal(&v, &w, sizeof v);
}

static void test_enum_every_name_round_trips(void **state)
{
  for (int i = 0; color_names[i]; i++) {
    char text[64];
    struct t_all v;
    struct jb_error err;
    snprintf(text, sizeof text, "{\"Name\":\"ab\",\"Color\":\"%s\"}", color_names[i]);
    assert_int_equal(decode_text(&all_s, text, &v, NULL, &err), 0);
    assert_int_equal(v.color, i);
    json_t *j = jb_encode(&all_s, &v);
    assert_string_equal(json_string_value(json_object_get(j, "Color")), color_names[i]);
    json_decref(j);
  }
}

static void test_number_bounds_accepted(void **state)
{
  struct t_all v;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\",\"Count\":10,\"Big\":5}", &v, NULL, &err),
                   0);
  assert_int_equal(v.count, 10);
  assert_true(v.big == 5);
}

static void test_string_length_bounds_accepted(void **state)
{
  struct t_all v;
  struct jb_error err;
  /* char[8]: 7 bytes fit, 2 is the minimum; UTF-8 counts bytes. */
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"1234567\"}", &v, NULL, &err), 0);
  assert_string_equal(v.name, "1234567");
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"\\u00e9\"}", &v, NULL, &err), 0);
  assert_string_equal(v.name, "\xc3\xa9");
}

static void test_prefix_in_paths(void **state)
{
  struct t_all v;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, "{\"Name\":5}", &v, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.path, "body.Name");
  assert_string_equal(err.msg, "body.Name: expected string, found 5");
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\",\"x\":1}", &v, "body", &err),
                   IPOP_EUNKNOWN);
  assert_string_equal(err.path, "body.x");
  assert_int_equal(jb_decode(&all_s, NULL, &v, "body", &err), IPOP_EMISSING);
  assert_string_equal(err.path, "body");
}

/* ---- error paths ------------------------------------------------------- */

static void test_wrong_types(void **state)
{
  expect_error("{\"Name\":5}", IPOP_EFIELD, "Name", "Name: expected string, found 5");
  expect_error("{\"Name\":null}", IPOP_EFIELD, "Name", "Name: expected string, found null");
  expect_error("{\"Name\":1.5}", IPOP_EFIELD, "Name", "Name: expected string, found number");
  expect_error("{\"Name\":{}}", IPOP_EFIELD, "Name", "Name: expected string, found object");
  expect_error("{\"Name\":\"ab\",\"Count\":\"12\"}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found \"12\"");
  expect_error("{\"Name\":\"ab\",\"Count\":12.0}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found number");
  expect_error("{\"Name\":\"ab\",\"Big\":true}", IPOP_EFIELD, "Big",
               "Big: expected integer in 5..9223372036854775807, found boolean");
  expect_error("{\"Name\":\"ab\",\"Flag\":1}", IPOP_EFIELD, "Flag",
               "Flag: expected true or false, found 1");
  expect_error("{\"Name\":\"ab\",\"Flag\":\"true\"}", IPOP_EFIELD, "Flag",
               "Flag: expected true or false, found \"true\"");
  expect_error("{\"Name\":\"ab\",\"Color\":\"purple\"}", IPOP_EFIELD, "Color",
               "Color: expected one of \"red\", \"green\", \"blue\", found \"purple\"");
  expect_error("{\"Name\":\"ab\",\"Color\":1}", IPOP_EFIELD, "Color",
               "Color: expected one of \"red\", \"green\", \"blue\", found 1");
  expect_error("{\"Name\":\"ab\",\"Color\":\"RED\"}", IPOP_EFIELD, "Color",
               "Color: expected one of \"red\", \"green\", \"blue\", found \"RED\"");
  expect_error("{\"Name\":\"ab\",\"Inner\":[]}", IPOP_EFIELD, "Inner",
               "Inner: expected object, found array");
  expect_error("{\"Name\":\"ab\",\"Tags\":\"a\"}", IPOP_EFIELD, "Tags",
               "Tags: expected array, found \"a\"");
  expect_error("{\"Name\":\"ab\",\"Tags\":[\"a\",7]}", IPOP_EFIELD, "Tags[1]",
               "Tags[1]: expected string, found 7");
  expect_error("{\"Name\":\"ab\",\"Overlays\":{}}", IPOP_EFIELD, "Overlays",
               "Overlays: expected array, found object");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[\"x\"]}", IPOP_EFIELD, "Overlays[0]",
               "Overlays[0]: expected object, found string");
  expect_error("[1]", IPOP_EFIELD, "", "expected object, found array");
}

static void test_bad_addresses(void **state)
{
  static const char *const bad_macs[] = {
    "02:00:5e:10:00",    "02:00:5e:10:00:1",   "02:00:5e:10:00:011", "02-00-5e-10-00-01",
    "+2:00:5e:10:00:01", " 2:00:5e:10:00:01",  "0g:00:5e:10:00:01",  "02:00:5e:10:00:01 ",
    "",                  "02:00:5e:10:00:0x",
  };
  for (size_t i = 0; i < sizeof bad_macs / sizeof bad_macs[0]; i++) {
    char text[128], msg[160];
    snprintf(text, sizeof text, "{\"Name\":\"ab\",\"Mac\":\"%s\"}", bad_macs[i]);
    snprintf(msg, sizeof msg,
             "Mac: expected a MAC address like \"02:00:5e:10:00:01\", found \"%s\"", bad_macs[i]);
    expect_error(text, IPOP_EFIELD, "Mac", msg);
  }
  expect_error("{\"Name\":\"ab\",\"Mac\":12}", IPOP_EFIELD, "Mac",
               "Mac: expected a MAC address like \"02:00:5e:10:00:01\", found 12");
  expect_error("{\"Name\":\"ab\",\"Mac\":\"02:00:5e:10\\u0000:00:01\"}", IPOP_EFIELD, "Mac",
               "Mac: expected a MAC address like \"02:00:5e:10:00:01\", found \"02:00:5e:10\"");

  static const char *const bad_ip4[] = { "10.0.0", "10.0.0.256", "10.0.0.1/24", "fd00::1",
                                         " 10.0.0.1", "" };
  for (size_t i = 0; i < sizeof bad_ip4 / sizeof bad_ip4[0]; i++) {
    char text[128], msg[160];
    snprintf(text, sizeof text, "{\"Name\":\"ab\",\"Ip4\":\"%s\"}", bad_ip4[i]);
    snprintf(msg, sizeof msg, "Ip4: expected an IPv4 address like \"10.254.0.1\", found \"%s\"",
             bad_ip4[i]);
    expect_error(text, IPOP_EFIELD, "Ip4", msg);
  }
  static const char *const bad_ip6[] = { "fd00:::1", "10.0.0.1", "fd00::1/64", "g::1", "" };
  for (size_t i = 0; i < sizeof bad_ip6 / sizeof bad_ip6[0]; i++) {
    char text[128], msg[160];
    snprintf(text, sizeof text, "{\"Name\":\"ab\",\"Ip6\":\"%s\"}", bad_ip6[i]);
    snprintf(msg, sizeof msg, "Ip6: expected an IPv6 address like \"fd00::1\", found \"%s\"",
             bad_ip6[i]);
    expect_error(text, IPOP_EFIELD, "Ip6", msg);
  }
  expect_error("{\"Name\":\"ab\",\"Ip6\":[]}", IPOP_EFIELD, "Ip6",
               "Ip6: expected an IPv6 address like \"fd00::1\", found array");
}

static void test_out_of_range(void **state)
{
  expect_error("{\"Name\":\"ab\",\"Count\":9}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found 9");
  expect_error("{\"Name\":\"ab\",\"Count\":1001}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found 1001");
  expect_error("{\"Name\":\"ab\",\"Count\":-1}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found -1");
  expect_error("{\"Name\":\"ab\",\"Count\":4294967306}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found 4294967306");
  expect_error("{\"Name\":\"ab\",\"Big\":4}", IPOP_EFIELD, "Big",
               "Big: expected integer in 5..9223372036854775807, found 4");
  expect_error("{\"Name\":\"ab\",\"Big\":-9223372036854775808}", IPOP_EFIELD, "Big",
               "Big: expected integer in 5..9223372036854775807, found -9223372036854775808");
  expect_error("{\"Name\":\"ab\",\"Inner\":{\"Port\":0}}", IPOP_EFIELD, "Inner.Port",
               "Inner.Port: expected integer in 1..65535, found 0");
}

static void test_string_length_errors(void **state)
{
  expect_error("{\"Name\":\"12345678\"}", IPOP_EFIELD, "Name",
               "Name: string too long (8 bytes, at most 7)");
  expect_error("{\"Name\":\"\\u00e9\\u00e9\\u00e9\\u00e9\"}", IPOP_EFIELD, "Name",
               "Name: string too long (8 bytes, at most 7)");
  expect_error("{\"Name\":\"a\"}", IPOP_EFIELD, "Name",
               "Name: string too short (1 bytes, at least 2)");
  expect_error("{\"Name\":\"\"}", IPOP_EFIELD, "Name",
               "Name: string too short (0 bytes, at least 2)");
  expect_error("{\"Name\":\"ab\",\"Tags\":[\"\"]}", IPOP_EFIELD, "Tags[0]",
               "Tags[0]: string too short (0 bytes, at least 1)");
  expect_error("{\"Name\":\"ab\",\"Tags\":[\"a\",\"12345678\"]}", IPOP_EFIELD, "Tags[1]",
               "Tags[1]: string too long (8 bytes, at most 7)");
}

static void test_control_chars_and_nul(void **state)
{
  static const char *const bad[] = { "a\\u0000b", "a\\nb", "\\tab", "ab\\u001f", "a\\u007fb",
                                     "\\u0000\\u0000" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[64];
    snprintf(text, sizeof text, "{\"Name\":\"%s\"}", bad[i]);
    expect_error(text, IPOP_EFIELD, "Name", "Name: string contains control characters or NUL");
  }
  expect_error("{\"Name\":\"ab\",\"Tags\":[\"x\\u0000\"]}", IPOP_EFIELD, "Tags[0]",
               "Tags[0]: string contains control characters or NUL");
  /* An enum name with a NUL appended is not that name. */
  expect_error("{\"Name\":\"ab\",\"Color\":\"red\\u0000\"}", IPOP_EFIELD, "Color",
               "Color: expected one of \"red\", \"green\", \"blue\", found \"red\"");
}

static void test_unknown_keys(void **state)
{
  /* A typo of a required key is reported as unknown, not as missing. */
  expect_error("{\"Nmae\":\"ab\"}", IPOP_EUNKNOWN, "Nmae",
               "Nmae: unknown key (not part of test config)");
  expect_error("{\"Name\":\"ab\",\"count\":12}", IPOP_EUNKNOWN, "count",
               "count: unknown key (not part of test config)");
  expect_error("{\"Name\":\"ab\",\"Inner\":{\"Prot\":1}}", IPOP_EUNKNOWN, "Inner.Prot",
               "Inner.Prot: unknown key (not part of inner)");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
               "\"Password\":\"pwpw\",\"Pasword\":\"x\"}]}]}",
               IPOP_EUNKNOWN, "Overlays[0].Turn[0].Pasword",
               "Overlays[0].Turn[0].Pasword: unknown key (not part of turn server)");
  /* Long keys are cut, control characters in them are not echoed. */
  expect_error("{\"Name\":\"ab\",\"0123456789012345678901234567890123456789ABCDEF\":1}",
               IPOP_EUNKNOWN, "0123456789012345678901234567890123456789...",
               "0123456789012345678901234567890123456789...: unknown key (not part of test config)");
  expect_error("{\"Name\":\"ab\",\"a\\nb\\tc\":1}", IPOP_EUNKNOWN, "a?b?c",
               "a?b?c: unknown key (not part of test config)");
}

/* A key cut at 40 bytes must not end in half a UTF-8 sequence: the message
 * goes into a JSON error answer, and jansson refuses invalid UTF-8. */
static void test_unknown_key_cut_keeps_utf8(void **state)
{
  struct t_all v;
  struct jb_error err;
  char text[160];
  /* 39 ASCII bytes, then a 2-byte and a 3-byte character. */
  snprintf(text, sizeof text,
           "{\"Name\":\"ab\",\"012345678901234567890123456789012345678\\u00e9\\u20ac\":1}");
  assert_int_equal(decode_text(&all_s, text, &v, NULL, &err), IPOP_EUNKNOWN);
  assert_true(utf8_ok(err.path));
  assert_true(utf8_ok(err.msg));
  snprintf(text, sizeof text,
           "{\"Name\":\"ab\",\"01234567890123456789012345678901234567\\u20ac\\u20ac\":1}");
  assert_int_equal(decode_text(&all_s, text, &v, NULL, &err), IPOP_EUNKNOWN);
  assert_true(utf8_ok(err.path));
  assert_true(utf8_ok(err.msg));
}

static void test_missing_required(void **state)
{
  expect_error("{}", IPOP_EMISSING, "Name", "Name: required key is missing");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\"},{}]}", IPOP_EMISSING,
               "Overlays[1].Name", "Overlays[1].Name: required key is missing");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\"}]}]}",
               IPOP_EMISSING, "Overlays[0].Turn[0].Password",
               "Overlays[0].Turn[0].Password: required key is missing");
  struct t_all v;
  struct jb_error err;
  assert_int_equal(jb_decode(&all_s, NULL, &v, NULL, &err), IPOP_EMISSING);
  assert_string_equal(err.msg, "missing object");
}

static void test_array_too_long(void **state)
{
  expect_error("{\"Name\":\"ab\",\"Tags\":[\"a\",\"b\",\"c\",\"d\"]}", IPOP_ETOOBIG, "Tags",
               "Tags: too many elements (4, at most 3)");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"a\",\"Turn\":[]},{\"Name\":\"b\","
               "\"Turn\":[{},{},{},{}]}]}",
               IPOP_ETOOBIG, "Overlays[1].Turn", "Overlays[1].Turn: too many elements (4, at most 3)");
  /* Exactly at capacity is fine. */
  struct t_all v;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\",\"Tags\":[\"a\",\"b\",\"c\"]}", &v,
                               NULL, &err),
                   0);
  assert_int_equal(v.n_tags, 3);
}

static void test_nested_path(void **state)
{
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
               "\"Password\":\"pwpw\"},{\"Address\":\"b\",\"Password\":31337}]}]}",
               IPOP_EFIELD, "Overlays[0].Turn[1].Password",
               "Overlays[0].Turn[1].Password: expected string, found integer");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\"},{\"Name\":\"p\",\"Turn\":[{"
               "\"Address\":\"\",\"Password\":\"pwpw\"}]}]}",
               IPOP_EFIELD, "Overlays[1].Turn[0].Address",
               "Overlays[1].Turn[0].Address: string too short (0 bytes, at least 1)");
}

static void test_secret_never_quoted(void **state)
{
  static const char *const cases[] = {
    /* wrong type, too short, too long, control character, wrong array type */
    "{\"Name\":\"ab\",\"Secret\":31337}",
    "{\"Name\":\"ab\",\"Secret\":\"313\"}",
    "{\"Name\":\"ab\",\"Secret\":\"31337-31337-31337\"}",
    "{\"Name\":\"ab\",\"Secret\":\"31337\\n\"}",
    "{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
    "\"Password\":31337}]}]}",
    "{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
    "\"Password\":\"313\"}]}]}",
    "{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
    "\"Password\":\"31337\\u0000\"}]}]}",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct t_all v;
    struct jb_error err;
    assert_int_equal(decode_text(&all_s, cases[i], &v, NULL, &err), IPOP_EFIELD);
    if (strstr(err.msg, "313"))
      fail_msg("secret leaked in \"%s\"", err.msg);
  }
  expect_error("{\"Name\":\"ab\",\"Secret\":31337}", IPOP_EFIELD, "Secret",
               "Secret: expected string, found integer");
  expect_error("{\"Name\":\"ab\",\"Overlays\":[{\"Name\":\"o\",\"Turn\":[{\"Address\":\"a\","
               "\"Password\":true}]}]}",
               IPOP_EFIELD, "Overlays[0].Turn[0].Password",
               "Overlays[0].Turn[0].Password: expected string, found boolean");
  /* The same mistake on a non-secret field quotes the value. */
  expect_error("{\"Name\":\"ab\",\"Tags\":[31337]}", IPOP_EFIELD, "Tags[0]",
               "Tags[0]: expected string, found 31337");
  expect_error("{\"Name\":\"ab\",\"Count\":\"31337\"}", IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found \"31337\"");
}

static void test_long_string_values_not_quoted(void **state)
{
  char text[256], big[60];
  memset(big, 'x', 50);
  big[50] = '\0';
  snprintf(text, sizeof text, "{\"Name\":\"ab\",\"Count\":\"%s\"}", big);
  expect_error(text, IPOP_EFIELD, "Count",
               "Count: expected integer in 10..1000, found string of 50 bytes");
}

static void test_err_may_be_null(void **state)
{
  struct t_all v;
  assert_int_equal(decode_text(&all_s, "{\"Name\":5}", &v, NULL, NULL), IPOP_EFIELD);
  assert_int_equal(decode_text(&all_s, "{}", &v, NULL, NULL), IPOP_EMISSING);
  assert_int_equal(decode_text(&all_s, "{\"x\":1}", &v, NULL, NULL), IPOP_EUNKNOWN);
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\"}", &v, NULL, NULL), 0);
}

static void test_json_type_names(void **state)
{
  json_t *vals[] = { json_object(), json_array(), json_string("x"), json_integer(1),
                     json_real(1.5), json_true(), json_false(), json_null() };
  const char *names[] = { "object", "array", "string", "integer", "number", "boolean",
                          "boolean", "null" };
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    assert_string_equal(jb_json_type_name(vals[i]), names[i]);
    json_decref(vals[i]);
  }
}

static void test_check_depth(void **state)
{
  assert_int_equal(jb_check_depth("", 0, 0), 0);
  assert_int_equal(jb_check_depth("1", 1, 0), 0);
  assert_int_equal(jb_check_depth("{}", 2, 0), IPOP_ETOOBIG);
  assert_int_equal(jb_check_depth("{}", 2, 1), 0);
  assert_int_equal(jb_check_depth("[[[]]]", 6, 3), 0);
  assert_int_equal(jb_check_depth("[[[[]]]]", 8, 3), IPOP_ETOOBIG);
  assert_int_equal(jb_check_depth("{\"a\":[{\"b\":[]}]}", 16, 4), 0);
  assert_int_equal(jb_check_depth("{\"a\":[{\"b\":[]}]}", 16, 3), IPOP_ETOOBIG);
  /* Siblings do not add up. */
  assert_int_equal(jb_check_depth("[[],[],[],[]]", 13, 2), 0);
  /* Brackets inside strings do not count, escaped quotes do not end them. */
  const char *s = "[\"[[[[{{{{\"]";
  assert_int_equal(jb_check_depth(s, strlen(s), 1), 0);
  s = "[\"\\\"[[[[\"]";
  assert_int_equal(jb_check_depth(s, strlen(s), 1), 0);
  s = "[\"\\\\\",[[]]]";
  assert_int_equal(jb_check_depth(s, strlen(s), 2), IPOP_ETOOBIG);
  /* Stray closers do not hide a deep opener later. */
  s = "]]]]][[[";
  assert_int_equal(jb_check_depth(s, strlen(s), 2), IPOP_ETOOBIG);
  /* len bounds the scan. */
  assert_int_equal(jb_check_depth("[[[[", 2, 2), 0);
  /* 10,000 nested brackets. */
  size_t n = 10000;
  char *deep = malloc(n);
  memset(deep, '[', n);
  assert_int_equal(jb_check_depth(deep, n, 32), IPOP_ETOOBIG);
  assert_int_equal(jb_check_depth(deep, n, 10000), 0);
  free(deep);
}

/* A decoded struct never keeps values from a previous use of the buffer. */
static void test_decode_resets_output(void **state)
{
  struct t_all v;
  struct jb_error err;
  assert_int_equal(decode_text(&all_s, full_json, &v, NULL, &err), 0);
  assert_int_equal(decode_text(&all_s, "{\"Name\":\"ab\"}", &v, NULL, &err), 0);
  assert_int_equal(v.n_tags, 0);
  assert_string_equal(v.tags[0], "");
  assert_false(v.has_secret);
  assert_string_equal(v.secret, "");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_decode_every_type),
    cmocka_unit_test(test_encode_and_round_trip),
    cmocka_unit_test(test_defaults_applied),
    cmocka_unit_test(test_presence_flags),
    cmocka_unit_test(test_enum_every_name_round_trips),
    cmocka_unit_test(test_number_bounds_accepted),
    cmocka_unit_test(test_string_length_bounds_accepted),
    cmocka_unit_test(test_prefix_in_paths),
    cmocka_unit_test(test_wrong_types),
    cmocka_unit_test(test_bad_addresses),
    cmocka_unit_test(test_out_of_range),
    cmocka_unit_test(test_string_length_errors),
    cmocka_unit_test(test_control_chars_and_nul),
    cmocka_unit_test(test_unknown_keys),
    cmocka_unit_test(test_unknown_key_cut_keeps_utf8),
    cmocka_unit_test(test_missing_required),
    cmocka_unit_test(test_array_too_long),
    cmocka_unit_test(test_nested_path),
    cmocka_unit_test(test_secret_never_quoted),
    cmocka_unit_test(test_long_string_values_not_quoted),
    cmocka_unit_test(test_err_may_be_null),
    cmocka_unit_test(test_json_type_names),
    cmocka_unit_test(test_check_depth),
    cmocka_unit_test(test_decode_resets_output),
  };
  return cmocka_run_group_tests_name("jbind", tests, NULL, NULL);
}
