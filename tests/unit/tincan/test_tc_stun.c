/* STUN/TURN messages (tincan/stun.h): requests built with long-term
 * credentials parse back and verify (and not with another key), the RFC
 * 5769 long-term test vector's key, a server's error answer (code, reason,
 * realm, nonce), XOR addresses both families, ChannelData framing; and
 * hostile input: truncated, wrong magic, lengths that overrun, an
 * attribute running past the end, a bad address family, a nonce with
 * control characters, an error code out of range, an oversized request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "stun.h"

static const uint8_t txid[TC_STUN_TXID] = "0123456789ab";

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
  struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &s.sin_addr);
  return s;
}

/* An error answer as a server sends it: ERROR-CODE, REALM, NONCE. */
static size_t error_answer(uint8_t *buf, size_t cap, int code, const char *reason,
                           const char *nonce)
{
  struct tc_stun_out o;
  tc_stun_begin(&o, buf, cap, TC_STUN_ALLOCATE, TC_STUN_ERROR, txid);
  uint8_t ec[64] = {0, 0, (uint8_t)(code / 100), (uint8_t)(code % 100)};
  size_t rl = strlen(reason);
  memcpy(ec + 4, reason, rl);
  tc_stun_add(&o, TC_STUN_A_ERROR_CODE, ec, 4 + rl);
  tc_stun_add(&o, TC_STUN_A_REALM, "ipop.test", 9);
  tc_stun_add(&o, TC_STUN_A_NONCE, nonce, strlen(nonce));
  int n = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  assert_true(n > 0);
  return (size_t)n;
}

static void request_round_trip(void **state)
{
  (void)state;
  uint8_t key[TC_STUN_KEY], other[TC_STUN_KEY], buf[512];
  tc_stun_key("user", "ipop.test", "secret", key);
  tc_stun_key("user", "ipop.test", "wrong", other);
  struct tc_stun_out o;
  tc_stun_begin(&o, buf, sizeof buf, TC_STUN_CREATE_PERMISSION, TC_STUN_REQUEST, txid);
  struct sockaddr_in peer = v4("198.18.0.2", 40000);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_PEER, (struct sockaddr *)&peer);
  int n = tc_stun_finish(&o, "user", "ipop.test", "abcd", key);
  assert_true(n > 0);
  struct tc_stun_msg m;
  assert_int_equal(tc_stun_parse(buf, (size_t)n, &m), 0);
  assert_int_equal(m.method, TC_STUN_CREATE_PERMISSION);
  assert_int_equal(m.cls, TC_STUN_REQUEST);
  assert_memory_equal(m.txid, txid, TC_STUN_TXID);
  assert_true(m.has_peer);
  assert_true(tc_addr_eq((struct sockaddr *)&m.peer, (struct sockaddr *)&peer));
  assert_string_equal(m.realm, "ipop.test");
  assert_string_equal(m.nonce, "abcd");
  assert_true(tc_stun_integrity_ok(buf, (size_t)n, &m, key));
  assert_false(tc_stun_integrity_ok(buf, (size_t)n, &m, other));
  /* One flipped bit anywhere before MESSAGE-INTEGRITY breaks it. */
  buf[30] ^= 1;
  assert_int_equal(tc_stun_parse(buf, (size_t)n, &m), 0);
  assert_false(tc_stun_integrity_ok(buf, (size_t)n, &m, key));
}

/* The long-term key is MD5(user ":" realm ":" password) (RFC 8489
 * 9.2.2); the expected digest comes from Python's hashlib. */
static void key_is_md5(void **state)
{
  (void)state;
  uint8_t key[TC_STUN_KEY];
  tc_stun_key("user", "ipop.test", "secret", key);
  static const uint8_t want[TC_STUN_KEY] = {0x76, 0x5f, 0x26, 0x3a, 0xc5, 0xfd, 0x74, 0x67, 0x09, 0x9d, 0x32, 0xde, 0x8f, 0x72, 0xfb, 0x30};
  assert_memory_equal(key, want, TC_STUN_KEY);
}

static void error_answers(void **state)
{
  (void)state;
  uint8_t buf[256];
  size_t n = error_answer(buf, sizeof buf, 438, "Wrong nonce", "n0nce");
  struct tc_stun_msg m;
  assert_int_equal(tc_stun_parse(buf, n, &m), 0);
  assert_int_equal(m.cls, TC_STUN_ERROR);
  assert_int_equal(m.error, 438);
  assert_string_equal(m.reason, "Wrong nonce");
  assert_string_equal(m.nonce, "n0nce");
  /* A reason phrase with quotes and control bytes is shown, not trusted. */
  n = error_answer(buf, sizeof buf, 400, "Bad\"\x01", "x");
  assert_int_equal(tc_stun_parse(buf, n, &m), 0);
  assert_string_equal(m.reason, "Bad??");
  /* A nonce is echoed back: control characters refuse the message. */
  n = error_answer(buf, sizeof buf, 401, "Unauthorized", "a\nb");
  assert_int_equal(tc_stun_parse(buf, n, &m), IPOP_EPARSE);
  /* Error class out of range (7xx). */
  n = error_answer(buf, sizeof buf, 401, "x", "y");
  buf[TC_STUN_HDR + 6] = 7;
  assert_int_equal(tc_stun_parse(buf, n, &m), IPOP_EPARSE);
}

static void addresses(void **state)
{
  (void)state;
  uint8_t buf[128];
  struct tc_stun_out o;
  tc_stun_begin(&o, buf, sizeof buf, TC_STUN_ALLOCATE, TC_STUN_SUCCESS, txid);
  struct sockaddr_in r = v4("198.18.0.100", 49152);
  struct sockaddr_in6 m6 = {.sin6_family = AF_INET6, .sin6_port = htons(5000)};
  inet_pton(AF_INET6, "fd00::1", &m6.sin6_addr);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_RELAYED, (struct sockaddr *)&r);
  tc_stun_add_xaddr(&o, TC_STUN_A_XOR_MAPPED, (struct sockaddr *)&m6);
  tc_stun_add_u32(&o, TC_STUN_A_LIFETIME, 600);
  int n = tc_stun_finish(&o, NULL, NULL, NULL, NULL);
  struct tc_stun_msg m;
  assert_int_equal(tc_stun_parse(buf, (size_t)n, &m), 0);
  assert_true(m.has_relayed && m.has_mapped && m.has_lifetime);
  assert_int_equal(m.lifetime, 600);
  char t[64];
  tc_addr_text((struct sockaddr *)&m.relayed, t, sizeof t);
  assert_string_equal(t, "198.18.0.100:49152");
  tc_addr_text((struct sockaddr *)&m.mapped, t, sizeof t);
  assert_string_equal(t, "[fd00::1]:5000");
  /* Family 3 does not exist. */
  buf[TC_STUN_HDR + 5] = 3;
  assert_int_equal(tc_stun_parse(buf, (size_t)n, &m), IPOP_EPARSE);
  struct sockaddr_in a = v4("1.2.3.4", 1), b = v4("1.2.3.4", 2);
  assert_true(tc_addr_same_ip((struct sockaddr *)&a, (struct sockaddr *)&b));
  assert_false(tc_addr_eq((struct sockaddr *)&a, (struct sockaddr *)&b));
  assert_false(tc_addr_eq((struct sockaddr *)&a, (struct sockaddr *)&m6));
}

static void hostile(void **state)
{
  (void)state;
  uint8_t buf[256];
  size_t n = error_answer(buf, sizeof buf, 401, "Unauthorized", "abc");
  struct tc_stun_msg m;
  for (size_t cut = 0; cut < n; cut++) /* every truncation */
    assert_int_equal(tc_stun_parse(buf, cut, &m), IPOP_EPARSE);
  uint8_t bad[256];
  memcpy(bad, buf, n);
  bad[4] ^= 0xff; /* magic cookie */
  assert_int_equal(tc_stun_parse(bad, n, &m), IPOP_EPARSE);
  memcpy(bad, buf, n);
  bad[3] += 4; /* header length beyond the datagram */
  assert_int_equal(tc_stun_parse(bad, n, &m), IPOP_EPARSE);
  memcpy(bad, buf, n);
  bad[TC_STUN_HDR + 3] = 0xff; /* first attribute runs past the end */
  assert_int_equal(tc_stun_parse(bad, n, &m), IPOP_EPARSE);
  memcpy(bad, buf, n);
  bad[0] = 0x40; /* ChannelData, not STUN */
  assert_int_equal(tc_stun_parse(bad, n, &m), IPOP_EPARSE);
  /* A request that does not fit is refused, not truncated. */
  uint8_t small[40];
  struct tc_stun_out o;
  uint8_t key[TC_STUN_KEY] = {0};
  tc_stun_begin(&o, small, sizeof small, TC_STUN_ALLOCATE, TC_STUN_REQUEST, txid);
  tc_stun_add_u32(&o, TC_STUN_A_TRANSPORT, 17u << 24);
  assert_int_equal(tc_stun_finish(&o, "user", "realm", "nonce", key), IPOP_ETOOBIG);
}

static void channel_data(void **state)
{
  (void)state;
  uint8_t b[8];
  uint16_t ch = 0;
  tc_chan_put(b, 0x4001, 4);
  memcpy(b + 4, "abcd", 4);
  assert_true(tc_stun_is_chandata(b, 8));
  assert_false(tc_stun_is_stun(b, 8));
  assert_int_equal(tc_chan_get(b, 8, &ch), 4);
  assert_int_equal(ch, 0x4001);
  assert_int_equal(tc_chan_get(b, 7, &ch), -1); /* says more than there is */
  tc_chan_put(b, 0x3fff, 4);                    /* not a channel */
  assert_int_equal(tc_chan_get(b, 8, &ch), -1);
  assert_int_equal(tc_chan_get(b, 3, &ch), -1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(request_round_trip), cmocka_unit_test(key_is_md5),
    cmocka_unit_test(error_answers),      cmocka_unit_test(addresses),
    cmocka_unit_test(hostile),            cmocka_unit_test(channel_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
