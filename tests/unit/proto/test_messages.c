/* Control messages: every body and result schema of both message tables
 * round-trips a fully populated struct (jb_encode -> jb_decode -> memcmp),
 * and every required field, when missing or of the wrong type, is reported
 * with its path under "body". */
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
#include "messages.h"

#define FPTR(base, off) ((void *)((char *)(base) + (off)))

/* Fill a string buffer with a valid value: as long as it can be (at least
 * the schema's minimum), from an id-safe alphabet that varies with seed. */
static void fill_str(char *dst, size_t size, size_t min, unsigned seed, size_t cap)
{
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  size_t len = size - 1;
  if (cap && len > cap)
    len = cap < min ? min : cap;
  for (size_t i = 0; i < len; i++)
    dst[i] = alpha[(seed * 7 + i) % (sizeof alpha - 1)];
  dst[len] = '\0';
}

/* Populate every field of a struct described by s, every optional field
 * present, arrays at capacity.  str_cap limits string lengths inside arrays
 * of objects so that the largest messages stay within one datagram
 * (0: unlimited). */
static void fill(const struct jb_schema *s, void *out, unsigned seed, size_t str_cap)
{
  for (size_t i = 0; i < s->nfields; i++) {
    const struct jb_field *f = &s->fields[i];
    void *dst = FPTR(out, f->off);
    unsigned fs = seed * 31 + (unsigned)i;
    switch (f->type) {
    case JB_STR:
      fill_str(dst, f->size, f->min, fs, str_cap);
      break;
    case JB_U32:
      *(uint32_t *)dst = (uint32_t)(f->max - fs % (f->max - f->min + 1));
      break;
    case JB_U64:
      *(uint64_t *)dst = f->max - fs % (f->max - f->min + 1);
      break;
    case JB_BOOL:
      *(bool *)dst = (f->def_num == 0); /* the non-default value */
      break;
    case JB_ENUM: {
      int n = 0;
      while (f->names[n])
        n++;
      *(int *)dst = (int)((fs + 1) % (unsigned)n);
      break;
    }
    case JB_MAC:
      for (int b = 0; b < 6; b++)
        ((uint8_t *)dst)[b] = (uint8_t)(fs * 13 + (unsigned)b * 41 + 2);
      break;
    case JB_IP4:
      ((struct in_addr *)dst)->s_addr = htonl(0x0a000001u + fs);
      break;
    case JB_IP6:
      for (int b = 0; b < 16; b++)
        ((uint8_t *)dst)[b] = (uint8_t)(0xfd + fs * 3 + (unsigned)b * 17);
      break;
    case JB_OBJ:
      fill(f->sub, dst, fs, str_cap);
      break;
    case JB_STR_ARR:
      for (uint32_t k = 0; k < f->max_count; k++)
        fill_str((char *)dst + k * f->size, f->size, f->min, fs + k, str_cap);
      *(uint32_t *)FPTR(out, f->count_off) = f->max_count;
      break;
    case JB_OBJ_ARR:
      for (uint32_t k = 0; k < f->max_count; k++)
        fill(f->sub, (char *)dst + k * f->size, fs + k, str_cap ? str_cap : 24);
      *(uint32_t *)FPTR(out, f->count_off) = f->max_count;
      break;
    default: /* types that carry nothing (foreign objects) */
      break;
    }
    if (f->has_off)
      *(bool *)FPTR(out, f->has_off - 1) = true;
  }
}

static void round_trip(const char *what, const struct jb_schema *s)
{
  void *in = calloc(1, s->struct_size), *out = calloc(1, s->struct_size);
  struct jb_error err;
  fill(s, in, 1, 0);
  json_t *j = jb_encode(s, in);
  if (!j)
    fail_msg("%s (%s): jb_encode failed", what, s->name);
  char *text = json_dumps(j, JSON_COMPACT);
  assert_non_null(text);
  int rc = jb_decode(s, j, out, "body", &err);
  if (rc)
    fail_msg("%s (%s): decode of own encoding failed: %s", what, s->name, err.msg);
  if (memcmp(in, out, s->struct_size) != 0)
    fail_msg("%s (%s): round trip differs; JSON %.300s", what, s->name, text);
  /* And through text, as on the wire. */
  json_t *j2 = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
  assert_non_null(j2);
  memset(out, 0xa5, s->struct_size);
  assert_int_equal(jb_decode(s, j2, out, "body", &err), 0);
  assert_memory_equal(in, out, s->struct_size);
  json_decref(j2);
  free(text);
  json_decref(j);
  free(in);
  free(out);
}

static void round_trip_table(const struct ctl_msg_desc *t, unsigned n)
{
  assert_true(n > 0);
  for (unsigned i = 0; i < n; i++) {
    assert_non_null(t[i].body);
    round_trip(t[i].name, t[i].body);
    if (t[i].kind == CTL_KIND_REQUEST) {
      assert_non_null(t[i].result);
      round_trip(t[i].name, t[i].result);
    } else {
      assert_int_equal(t[i].kind, CTL_KIND_EVENT);
      assert_null(t[i].result);
    }
  }
}

static void test_round_trip_tincan_messages(void **state)
{
  round_trip_table(ctl_tincan_messages, ctl_tincan_messages_count);
}

static void test_round_trip_controller_messages(void **state)
{
  round_trip_table(ctl_controller_messages, ctl_controller_messages_count);
}

/* Every required field: absent -> missing_field naming body.<field>; a value
 * of the wrong JSON type -> bad_field naming it.  Optional fields of the
 * wrong type are refused too. */
static void field_errors(const char *what, const struct jb_schema *s)
{
  void *in = calloc(1, s->struct_size), *out = calloc(1, s->struct_size);
  struct jb_error err;
  fill(s, in, 2, 0);
  for (size_t i = 0; i < s->nfields; i++) {
    const struct jb_field *f = &s->fields[i];
    char want_path[200];
    snprintf(want_path, sizeof want_path, "body.%s", f->name);
    json_t *j = jb_encode(s, in);
    assert_non_null(j);
    if (!json_object_get(j, f->name)) { /* a field that is never encoded */
      json_decref(j);
      continue;
    }
    if (f->flags & JB_REQUIRED) {
      json_object_del(j, f->name);
      int rc = jb_decode(s, j, out, "body", &err);
      if (rc != IPOP_EMISSING || strcmp(err.path, want_path) != 0)
        fail_msg("%s: without %s got %d \"%s\"", what, f->name, rc, err.msg);
      char want_msg[300];
      snprintf(want_msg, sizeof want_msg, "%s: required key is missing", want_path);
      assert_string_equal(err.msg, want_msg);
      assert_string_equal(ipop_err_name(rc), "missing_field");
    }
    /* a JSON type no field accepts in that place */
    json_t *bad = (f->type == JB_STR || f->type == JB_ENUM || f->type == JB_MAC ||
                   f->type == JB_IP4 || f->type == JB_IP6)
                      ? json_integer(3)
                      : json_string("3");
    json_object_set_new(j, f->name, bad);
    int rc = jb_decode(s, j, out, "body", &err);
    if (rc != IPOP_EFIELD || strcmp(err.path, want_path) != 0)
      fail_msg("%s: wrong-typed %s got %d \"%s\"", what, f->name, rc, err.msg);
    assert_string_equal(ipop_err_name(rc), "bad_field");
    if (f->flags & JB_SECRET)
      assert_null(strstr(err.msg, "found 3"));
    json_decref(j);
  }
  /* an unknown key */
  json_t *j = jb_encode(s, in);
  json_object_set_new(j, "no_such_field", json_true());
  assert_int_equal(jb_decode(s, j, out, "body", &err), IPOP_EUNKNOWN);
  assert_string_equal(err.path, "body.no_such_field");
  json_decref(j);
  free(in);
  free(out);
}

static void test_field_errors_every_message(void **state)
{
  const struct {
    const struct ctl_msg_desc *t;
    unsigned n;
  } tables[] = { { ctl_tincan_messages, ctl_tincan_messages_count },
                 { ctl_controller_messages, ctl_controller_messages_count } };
  for (size_t k = 0; k < 2; k++)
    for (unsigned i = 0; i < tables[k].n; i++) {
      field_errors(tables[k].t[i].name, tables[k].t[i].body);
      if (tables[k].t[i].result)
        field_errors(tables[k].t[i].name, tables[k].t[i].result);
    }
}

/* The documented names and shapes for a hand-built create_overlay. */
static void test_create_overlay_wire_form(void **state)
{
  struct ctl_create_overlay co, back;
  memset(&co, 0, sizeof co);
  strcpy(co.overlay_id, "ov1");
  strcpy(co.node_id, "node-a");
  strcpy(co.tap_name, "ipop0");
  const uint8_t mac[6] = { 0x02, 0, 0x5e, 0x10, 0, 1 };
  memcpy(co.mac, mac, 6);
  co.has_mac = true;
  co.mtu = 1400;
  inet_pton(AF_INET, "10.254.0.1", &co.ip4);
  co.ip4_prefix = 16;
  co.has_ip4 = true;
  inet_pton(AF_INET6, "fd50::1", &co.ip6);
  co.ip6_prefix = 64;
  co.has_ip6 = true;
  strcpy(co.stun[0], "stun.example.org:3478");
  co.n_stun = 1;
  strcpy(co.turn[0].address, "turn.example.org:3478");
  strcpy(co.turn[0].user, "u");
  strcpy(co.turn[0].password, "p");
  co.turn[0].transport = CTL_TURN_TLS;
  co.n_turn = 1;
  json_t *j = jb_encode(&ctl_create_overlay_schema, &co);
  char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(text,
                      "{\"ip4\":\"10.254.0.1\",\"ip4_prefix\":16,\"ip6\":\"fd50::1\","
                      "\"ip6_prefix\":64,\"mac\":\"02:00:5e:10:00:01\",\"mtu\":1400,"
                      "\"node_id\":\"node-a\",\"overlay_id\":\"ov1\","
                      "\"stun\":[\"stun.example.org:3478\"],\"tap_name\":\"ipop0\","
                      "\"turn\":[{\"address\":\"turn.example.org:3478\",\"password\":\"p\","
                      "\"transport\":\"tls\",\"user\":\"u\"}]}");
  struct jb_error err;
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &back, "body", &err), 0);
  assert_memory_equal(&co, &back, sizeof co);
  free(text);
  json_decref(j);
}

static void test_create_overlay_defaults_and_limits(void **state)
{
  struct ctl_create_overlay co;
  struct jb_error err;
  json_t *j = json_pack("{s:s, s:s, s:s}", "overlay_id", "o", "node_id", "n", "tap_name", "t");
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), 0);
  assert_int_equal(co.mtu, 1280);
  assert_int_equal(co.ip4_prefix, 24);
  assert_int_equal(co.ip6_prefix, 64);
  assert_false(co.has_mac);
  assert_false(co.has_ip4);
  assert_false(co.has_ip6);
  assert_int_equal(co.n_stun, 0);
  assert_int_equal(co.n_turn, 0);
  /* mtu range, tap name length (IFNAMSIZ), TURN list capacity, secret password */
  json_object_set_new(j, "mtu", json_integer(575));
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "body.mtu: expected integer in 576..9000, found 575");
  json_object_set_new(j, "mtu", json_integer(9000));
  json_object_set_new(j, "tap_name", json_string("0123456789abcdef"));
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "body.tap_name: string too long (16 bytes, at most 15)");
  json_object_set_new(j, "tap_name", json_string("0123456789abcde"));
  json_t *turns = json_array();
  for (int i = 0; i <= CTL_MAX_TURN; i++)
    json_array_append_new(turns, json_pack("{s:s,s:s,s:s}", "address", "a", "user", "u",
                                           "password", "p"));
  json_object_set_new(j, "turn", turns);
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), IPOP_ETOOBIG);
  assert_string_equal(err.msg, "body.turn: too many elements (9, at most 8)");
  json_array_remove(turns, 0);
  json_object_set_new(json_array_get(turns, 3), "password", json_integer(1234));
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "body.turn[3].password: expected string, found integer");
  json_object_set_new(json_array_get(turns, 3), "password", json_string("pw"));
  json_object_set_new(json_array_get(turns, 5), "transport", json_string("sctp"));
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg,
                      "body.turn[5].transport: expected one of \"udp\", \"tcp\", \"tls\", found \"sctp\"");
  json_object_del(json_array_get(turns, 5), "transport");
  assert_int_equal(jb_decode(&ctl_create_overlay_schema, j, &co, "body", &err), 0);
  assert_int_equal(co.n_turn, CTL_MAX_TURN);
  assert_int_equal(co.turn[5].transport, CTL_TURN_UDP);
  assert_string_equal(co.turn[3].password, "pw");
  json_decref(j);
}

static void test_create_link_candidates(void **state)
{
  struct ctl_create_link cl;
  struct jb_error err;
  json_t *cands = json_array();
  json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "overlay_id", "o", "peer_id", "p",
                        "peer_fingerprint", "sha-256 AB:CD", "peer_ufrag", "abcd",
                        "peer_pwd", "0123456789012345678901", "peer_candidates", cands);
  assert_int_equal(jb_decode(&ctl_create_link_schema, j, &cl, "body", &err), 0);
  assert_int_equal(cl.role, CTL_ROLE_AUTO);
  assert_int_equal(cl.n_peer_candidates, 0);
  json_object_set_new(j, "peer_ufrag", json_string("abc"));
  assert_int_equal(jb_decode(&ctl_create_link_schema, j, &cl, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg, "body.peer_ufrag: string too short (3 bytes, at least 4)");
  json_object_set_new(j, "peer_ufrag", json_string("abcd"));
  json_object_set_new(j, "peer_pwd", json_string("short-secret"));
  assert_int_equal(jb_decode(&ctl_create_link_schema, j, &cl, "body", &err), IPOP_EFIELD);
  assert_null(strstr(err.msg, "short-secret"));
  json_object_set_new(j, "peer_pwd", json_string("0123456789012345678901"));
  for (int i = 0; i <= CTL_MAX_CANDS; i++)
    json_array_append_new(cands, json_string("1 1 UDP 2130706431 10.0.0.1 5000 typ host"));
  assert_int_equal(jb_decode(&ctl_create_link_schema, j, &cl, "body", &err), IPOP_ETOOBIG);
  assert_string_equal(err.path, "body.peer_candidates");
  json_array_set_new(cands, 2, json_string("a\nb"));
  json_array_remove(cands, 0);
  assert_int_equal(jb_decode(&ctl_create_link_schema, j, &cl, "body", &err), IPOP_EFIELD);
  assert_string_equal(err.msg,
                      "body.peer_candidates[1]: string contains control characters or NUL");
  json_decref(j);
}

static void test_msg_find(void **state)
{
  for (unsigned i = 0; i < ctl_tincan_messages_count; i++) {
    const struct ctl_msg_desc *m =
        ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, ctl_tincan_messages[i].name);
    assert_ptr_equal(m, &ctl_tincan_messages[i]);
    /* names are unique and wire-safe */
    for (unsigned k = i + 1; k < ctl_tincan_messages_count; k++)
      assert_string_not_equal(ctl_tincan_messages[i].name, ctl_tincan_messages[k].name);
    assert_int_equal(strspn(m->name, "abcdefghijklmnopqrstuvwxyz0123456789_"), strlen(m->name));
  }
  assert_null(ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, "Echo"));
  assert_null(ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, ""));
  assert_null(ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, "echo "));
  /* every message the issue names is in the tincan table */
  static const char *const named[] = { "echo", "create_overlay", "remove_overlay",
                                       "query_candidates", "create_link", "remove_link",
                                       "query_link_stats", "query_overlay_info",
                                       "set_address_mapping", "configure_logging",
                                       "link_state", "unknown_destination", "stats" };
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    assert_non_null(ctl_msg_find(ctl_tincan_messages, ctl_tincan_messages_count, named[i]));
}

static void test_id_valid(void **state)
{
  char max[CTL_ID_LEN + 1];
  memset(max, 'a', CTL_ID_LEN - 1);
  max[CTL_ID_LEN - 1] = '\0';
  assert_true(ctl_id_valid("a"));
  assert_true(ctl_id_valid("Node_1.example-x"));
  assert_true(ctl_id_valid(max));
  max[CTL_ID_LEN - 1] = 'a';
  max[CTL_ID_LEN] = '\0';
  assert_false(ctl_id_valid(max));
  assert_false(ctl_id_valid(""));
  assert_false(ctl_id_valid("a b"));
  assert_false(ctl_id_valid("a/b"));
  assert_false(ctl_id_valid("\xc3\xa9"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_round_trip_tincan_messages),
    cmocka_unit_test(test_round_trip_controller_messages),
    cmocka_unit_test(test_field_errors_every_message),
    cmocka_unit_test(test_create_overlay_wire_form),
    cmocka_unit_test(test_create_overlay_defaults_and_limits),
    cmocka_unit_test(test_create_link_candidates),
    cmocka_unit_test(test_msg_find),
    cmocka_unit_test(test_id_valid),
  };
  return cmocka_run_group_tests_name("messages", tests, NULL, NULL);
}
